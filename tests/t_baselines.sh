#!/bin/sh
# Cross-check smtpscope's JSON records against the other tools' expected
# output stored beside the public captures (Zeek smtp.log, suricata-verify
# test.yaml, Arkime session JSON).  Corpus: ../shared/captures/public, or
# $SMTPSCOPE_PUBLIC_CAPTURES; binary: ./smtpscope or $SMTPSCOPE.
# Details, normalisation and the expected differences: tests/baselines.py
# and docs/baselines.md.
cd "$(dirname "$0")/.." || exit 1
BIN=${SMTPSCOPE:-./smtpscope}
if [ ! -x "$BIN" ]; then
	echo "FAIL $BIN not found or not executable: build it first (make)"
	echo "0 passed, 1 failed"
	exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "FAIL python3 not installed"
	echo "0 passed, 1 failed"
	exit 1
fi
exec python3 tests/baselines.py --smtpscope "$BIN" "$@"
