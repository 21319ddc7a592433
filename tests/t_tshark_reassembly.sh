#!/bin/sh
# Cross-check smtpscope's TCP reassembly (--dump-streams) against tshark's
# "Follow TCP Stream" on every capture of the public corpus
# (../shared/captures/public, or $SMTPSCOPE_PUBLIC_CAPTURES), read in place.
# Binary: ./smtpscope or $SMTPSCOPE. Fails when tshark or the corpus is
# missing. Details and the exception list: tests/tshark_reassembly.py.
cd "$(dirname "$0")/.." || exit 1
if ! command -v python3 >/dev/null 2>&1; then
	echo "FAIL python3 not installed"
	echo "0 passed, 1 failed"
	exit 1
fi
exec python3 tests/tshark_reassembly.py "$@"
