#!/bin/sh
# --any-port: SMTP found by content, nothing invented.
. "$(dirname "$0")/lib.sh"
PUBLIC="$PUBLIC" SMTPSCOPE="$SMTPSCOPE" exec python3 tests/anyport_check.py
