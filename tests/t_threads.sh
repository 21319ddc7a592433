#!/bin/sh
# The worker thread changes nothing but speed: every capture of the public
# corpus, the demo, the hostile captures and a generated 32 MiB capture give
# byte-identical output with --threads 1 and --threads 2 (JSON with events and
# --any-port, the text transcript, the summary, --flows, --extract). Then a
# ThreadSanitizer build (make tsan) runs the generated capture, a handful of
# corpus captures and a memory-capped run (flows shed while the worker holds
# their sessions) and must report no race.
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-build}
GEN=$BUILD/bench/gen

find "$PUBLIC" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.pcap.gz' \) 2>/dev/null | sort >"$TMP/list"
echo captures/demo.pcap >>"$TMP/list"
echo captures/escape.pcap >>"$TMP/list"
ls tests/hostile/*.pcap.gz >>"$TMP/list" 2>/dev/null
[ "$(wc -l <"$TMP/list")" -gt 100 ] || fail "public corpus found at $PUBLIC"

if make --no-print-directory BUILD="$BUILD" "$GEN" >"$TMP/make.log" 2>&1 &&
   "$GEN" -o "$TMP/gen.pcap" -S 32M -s 5 2>/dev/null; then
	ok "generated a 32 MiB capture"
	echo "$TMP/gen.pcap" >>"$TMP/list"
	# 4,000 sessions open at once: over a 16 MiB heap cap, flows are shed
	"$GEN" -o "$TMP/conc.pcap" -n 4000 -c 4000 -m 2K -s 3 2>/dev/null
else
	fail "bench/gen: $(tail -n 3 "$TMP/make.log")"
fi

# same LABEL OPTIONS...: every capture with both thread counts, outputs compared
same() {
	label=$1; shift
	bad=0 n=0
	while read -r cap; do
		n=$((n + 1))
		"$SMTPSCOPE" -q --threads 1 "$@" -r "$cap" >"$TMP/one" 2>/dev/null; r1=$?
		"$SMTPSCOPE" -q --threads 2 "$@" -r "$cap" >"$TMP/two" 2>/dev/null; r2=$?
		if [ "$r1" -ne "$r2" ] || ! cmp -s "$TMP/one" "$TMP/two"; then
			bad=$((bad + 1))
			fail "threads $label: $cap differs (exit $r1 vs $r2)"
			diff "$TMP/one" "$TMP/two" | head -n 6 | sed 's/^/    /'
		fi
	done <"$TMP/list"
	[ "$bad" -eq 0 ] && ok "threads 1 = threads 2, $label: $n captures"
}
same "--json --events --any-port" --json --events --any-port
same "text transcript" --color=never --show-body
same "--summary --json" --summary --json
same "--flows" --flows

# --extract: the same files with the same bytes
"$SMTPSCOPE" -q --threads 1 --extract "$TMP/x1" -r "$TMP/gen.pcap" >/dev/null 2>&1
"$SMTPSCOPE" -q --threads 2 --extract "$TMP/x2" -r "$TMP/gen.pcap" >/dev/null 2>&1
check "threads 1 = threads 2, --extract ($(ls "$TMP/x1" 2>/dev/null | wc -l) files)" \
	sh -c "[ \$(ls '$TMP/x1' | wc -l) -gt 100 ] && diff -r '$TMP/x1' '$TMP/x2' >/dev/null"
rm -rf "$TMP/x1" "$TMP/x2"

# --dump-streams and --mbox: the same files, the same bytes
for t in 1 2; do
	"$SMTPSCOPE" -q --threads $t --dump-streams "$TMP/d$t" --mbox "$TMP/m$t" -r "$TMP/gen.pcap" >/dev/null 2>&1
done
check "threads 1 = threads 2, --dump-streams ($(ls "$TMP/d1" 2>/dev/null | wc -l) files) and --mbox" \
	sh -c "[ \$(ls '$TMP/d1' | wc -l) -gt 100 ] && diff -r '$TMP/d1' '$TMP/d2' >/dev/null && [ -s '$TMP/m1' ] && cmp -s '$TMP/m1' '$TMP/m2'"
rm -rf "$TMP/d1" "$TMP/d2" "$TMP/m1" "$TMP/m2"

# several files: merged, --separate, and standard input
set -- $(grep -i smtp "$TMP/list" | grep -v '\.gz$' | head -n 6)
for t in 1 2; do
	"$SMTPSCOPE" -q --threads $t --json --events -r "$@" >"$TMP/merged$t" 2>/dev/null
	"$SMTPSCOPE" -q --threads $t --json --events --separate -r "$@" >"$TMP/sep$t" 2>/dev/null
	"$SMTPSCOPE" -q --threads $t --json --events -r - <"$1" >"$TMP/stdin$t" 2>/dev/null
done
check "threads 1 = threads 2, six files merged" cmp -s "$TMP/merged1" "$TMP/merged2"
check "threads 1 = threads 2, six files --separate" cmp -s "$TMP/sep1" "$TMP/sep2"
check "threads 1 = threads 2, standard input" sh -c "[ -s '$TMP/stdin1' ] && cmp -s '$TMP/stdin1' '$TMP/stdin2'"

# bad values are refused
check "--threads 3 is refused" sh -c "! '$SMTPSCOPE' --threads 3 -r captures/demo.pcap >/dev/null 2>&1"

# ThreadSanitizer
if make --no-print-directory tsan >"$TMP/tsan.log" 2>&1; then ok "make tsan"; else
	fail "make tsan"; tail -n 20 "$TMP/tsan.log"; finish; exit 1; fi
TSAN=build-tsan/smtpscope-bin
export TSAN_OPTIONS=halt_on_error=1:exitcode=66
tsan_run() {
	label=$1; shift
	"$TSAN" -q "$@" >/dev/null 2>"$TMP/terr"
	rc=$?
	if [ "$rc" -eq 66 ] || grep -q 'ThreadSanitizer' "$TMP/terr"; then
		fail "tsan $label"
		grep -E 'WARNING|#[0-4] ' "$TMP/terr" | head -n 12 | sed 's/^/    /'
	else
		ok "tsan $label (exit $rc)"
	fi
}
tsan_run "generated 32 MiB, --json --events" --threads 2 --json --events -r "$TMP/gen.pcap"
tsan_run "generated 32 MiB, text" --threads 2 -r "$TMP/gen.pcap"
"$SMTPSCOPE" --max-memory 16M --json -r "$TMP/conc.pcap" 2>"$TMP/merr" >/dev/null
check "4,000 concurrent sessions go over --max-memory 16M" grep -q 'memory reached --max-memory' "$TMP/merr"
tsan_run "4,000 concurrent sessions, --max-memory 16M (flows shed)" --threads 2 --max-memory 16M --json -r "$TMP/conc.pcap"
tsan_run "hostile captures, --any-port --json" --threads 2 --any-port --json -r tests/hostile/*.pcap.gz
tsan_run "demo --extract" --threads 2 --extract "$TMP/tx" -r captures/demo.pcap
for cap in $(grep -i smtp "$TMP/list" | head -n 8); do
	tsan_run "$(basename "$cap")" --threads 2 --any-port --json --events -r "$cap"
done
finish
