#!/bin/sh
# Sanitizers over real and hostile input: builds `make asan` (clang,
# -fsanitize=address,undefined, build-asan/smtpscope-bin) and runs every
# capture of the public corpus (read in place: *.pcap, *.pcapng, *.cap, *.gz),
# captures/demo.pcap and tests/hostile/*.pcap.gz through it, in the default
# mode and with --any-port --json --events --show-body, with leak detection
# on. Fails on any sanitizer report or an exit status other than 0 or 2.
. tests/lib.sh
BIN=build-asan/smtpscope-bin
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if make --no-print-directory asan >"$TMP/build.log" 2>&1; then ok "make asan"; else
	fail "make asan"; tail -n 20 "$TMP/build.log"; finish; exit 1; fi

find "$PUBLIC" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.pcap.gz' \) 2>/dev/null | sort >"$TMP/list"
echo captures/demo.pcap >>"$TMP/list"
ls tests/hostile/*.pcap.gz >>"$TMP/list" 2>/dev/null
total=$(wc -l <"$TMP/list")
[ "$total" -gt 1 ] || fail "public corpus found at $PUBLIC"

# run_mode LABEL OPTIONS...: every capture once; one ok/FAIL line per mode,
# plus one FAIL line per capture with a report.
run_mode() {
	label=$1; shift
	bad=0 n=0
	while read -r cap; do
		n=$((n + 1))
		timeout 300 "$BIN" -q "$@" -r "$cap" >/dev/null 2>"$TMP/err"
		rc=$?
		if grep -qE 'ERROR: AddressSanitizer|runtime error|ERROR: LeakSanitizer' "$TMP/err" ||
		   { [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; }; then
			bad=$((bad + 1))
			fail "asan $label: $cap (exit $rc)"
			grep -E 'ERROR|runtime error|SUMMARY|#[0-5] ' "$TMP/err" | head -n 8 | sed 's/^/    /'
		fi
	done <"$TMP/list"
	[ "$bad" -eq 0 ] && ok "asan $label: $n captures clean"
}
run_mode default
run_mode "--any-port --json --events --show-body" --any-port --json --events --show-body
finish
