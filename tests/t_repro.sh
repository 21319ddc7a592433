#!/bin/sh
# The reviews' reproducers (../shared/repro/, ../shared/repro/more/) as
# regression tests, on the normal build and on the ASan+UBSan build
# (tests/repro/run.py says how a case is written).
. tests/lib.sh
if make --no-print-directory asan >"$TMP/build.log" 2>&1; then ok "make asan"; else
	fail "make asan"; tail -n 20 "$TMP/build.log"; finish; exit 1; fi
python3 tests/repro/run.py --bin ./smtpscope --bin build-asan/smtpscope-bin >"$TMP/out" 2>&1
rc=$?
cat "$TMP/out"
line=$(tail -n 1 "$TMP/out")
p=$(echo "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p')
f=$(echo "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p')
T_PASS=$((T_PASS + ${p:-0})); T_FAIL=$((T_FAIL + ${f:-1}))
[ "$rc" -eq 0 ] || [ "${f:-1}" -gt 0 ] || T_FAIL=$((T_FAIL + 1))
finish
