#!/bin/sh
# The whole suite: every unit-test binary (build/tests/test_*) and every
# script tests/t_*.sh. A program that prints "N passed, N failed" contributes
# those counts; one that does not counts as one test, passed if it exits 0.
# Closes with one line "N passed, N failed" and exits non-zero on any failure.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
pass=0
fail=0
mkdir -p tests/out
for t in "$BUILD"/tests/test_* tests/t_*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t")
	log="tests/out/$name.log"
	case "$t" in
	*.sh) sh "$t" >"$log" 2>&1 ;;
	*) "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2/')
		f=$(echo "$line" | sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\3/')
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	else
		if [ "$rc" -eq 0 ]; then p=1; f=0; else p=0; f=1; fi
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name ($p passed, $f failed) — log: $log"
		grep -E '^(FAIL|not ok)' "$log" | head -n 20 | sed 's/^/    /'
	else
		echo "ok   $name ($p passed)"
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
