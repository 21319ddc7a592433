#!/bin/sh
# Hostile traffic (docs/security.md): every capture of tests/hostile/ (made by
# scripts/gen_hostile.py, committed gzip'd), a SYN flood of 1,000,000 flows and
# 1,000,000 SYNs crafted to collide in the flow table's old unkeyed hash, both
# generated here into a temporary directory, is analysed to completion
# (timeout HOSTILE_TIMEOUT, default 120 s) with
#  - exit status 0 or 2, peak RSS under HOSTILE_MAX_KIB (default 256 MiB),
#    measured with build/bench/rss (getrusage of the child);
#  - the expected anomaly names in the JSON, the normal session of the capture
#    (AUTH user, MAIL FROM, RCPT TO) reported correctly (tests/hostile/check.py);
#  - for escapes_nul, no raw control byte in the JSON or the text transcript.
# The colliding SYNs must take at most 3 times as long as the plain flood
# (+ 2 s): with a chain per bucket of all 65,536 flows the table holds, they
# used to take minutes. Prints the peak RSS of each capture. Also checks that
# the committed captures are exactly what the generator writes.
. tests/lib.sh
TIMEOUT=${HOSTILE_TIMEOUT:-120}
MAXKIB=${HOSTILE_MAX_KIB:-262144}
H=tests/hostile
RSS=build/bench/rss
[ -x "$RSS" ] || make --no-print-directory build/bench/rss >/dev/null 2>&1
check "rss wrapper builds" test -x "$RSS"

# The committed captures are what the generator writes (deterministic).
if python3 scripts/gen_hostile.py "$TMP/gen" >/dev/null 2>"$TMP/gen.err"; then
	same=1
	for f in "$TMP"/gen/*; do cmp -s "$f" "$H/$(basename "$f")" || { same=0; echo "  differs: $(basename "$f")"; }; done
	if [ "$same" = 1 ]; then ok "tests/hostile matches scripts/gen_hostile.py"; else fail "tests/hostile matches scripts/gen_hostile.py (rerun it)"; fi
else
	fail "gen_hostile.py runs"; cat "$TMP/gen.err"
fi
for fl in syn_flood syn_collide; do
	if python3 scripts/gen_hostile.py --$(echo $fl | tr _ -) "$TMP" >"$TMP/$fl.expect" 2>"$TMP/gen.err"; then
		ok "$fl capture generated ($(du -k "$TMP/$fl.pcap.gz" | cut -f1) KiB gzip'd)"
	else
		fail "$fl capture generated"; cat "$TMP/gen.err"
	fi
done

run_one() { # name capture expect [extra smtpscope options]
	n=$1 cap=$2 exp=$3
	shift 3
	timeout "$TIMEOUT" "$RSS" -o "$TMP/$n.rss" -O "$TMP/$n.json" -- \
		"$SMTPSCOPE" -q --json "$@" -r "$cap" 2>"$TMP/$n.err"
	rc=$?
	st=$(sed -n 's/.*status=\([0-9]*\).*/\1/p' "$TMP/$n.rss" 2>/dev/null)
	kib=$(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' "$TMP/$n.rss" 2>/dev/null)
	wall=$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' "$TMP/$n.rss" 2>/dev/null)
	if [ "$rc" -ne 0 ] || [ -z "$st" ]; then
		fail "$n: analysed within ${TIMEOUT}s (timeout/rss exit $rc)"; return
	fi
	if [ "$st" -eq 0 ] || [ "$st" -eq 2 ]; then ok "$n: exit $st in ${wall}s"; else
		fail "$n: exit status $st"; head -n 5 "$TMP/$n.err"; fi
	if [ "$kib" -lt "$MAXKIB" ]; then ok "$n: peak RSS $((kib / 1024)) MiB ($kib KiB) < $((MAXKIB / 1024)) MiB"; else
		fail "$n: peak RSS $kib KiB >= $MAXKIB KiB"; fi
	echo "peak_rss $n $kib KiB" >>"$TMP/peaks"
}

for cap in "$H"/*.pcap.gz; do
	[ -e "$cap" ] || continue
	n=$(basename "$cap" .pcap.gz)
	# captures of the TLS layer ("needs": "tls_layer") run once smtpscope has it
	needs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], {}).get("needs", ""))' "$H/expect.json" "$n")
	if [ "$needs" = tls_layer ] && ! "$SMTPSCOPE" --help 2>&1 | grep -q -- --tls-keylog; then
		echo "skip $n: needs the TLS layer in the analyzer (no --tls-keylog yet)"
		continue
	fi
	# shellcheck disable=SC2046
	run_one "$n" "$cap" "$H/expect.json" $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1])).get(sys.argv[2], {}).get("args", [])))' "$H/expect.json" "$n")
	extra=""
	if [ "$n" = escapes_nul ]; then
		"$SMTPSCOPE" -q --show-body --show-secrets --events --color=never -r "$cap" >"$TMP/$n.txt" 2>/dev/null
		extra="$TMP/$n.txt"
		# extraction: wire bytes never reach a path; files stay inside the directory
		"$SMTPSCOPE" -q --extract "$TMP/x" -r "$cap" >/dev/null 2>&1
		nx=$(find "$TMP/x" -mindepth 1 | wc -l)
		nbad=$(find "$TMP/x" -mindepth 1 | grep -cvE "^$TMP/x/[0-9]{8}T[0-9]{6}\.[0-9]{6}Z_[0-9]+_[0-9]+(-[0-9]+)?\.(eml|json)\$")
		if [ "$nx" -eq 4 ] && [ "$nbad" -eq 0 ]; then ok "$n: --extract writes 4 safely named files"; else
			fail "$n: --extract names"; find "$TMP/x" | head; fi
	fi
	if python3 "$H/check.py" "$n" "$H/expect.json" "$TMP/$n.json" $extra >"$TMP/$n.check" 2>&1; then
		ok "$n: anomalies named, normal session reported"
	else
		fail "$n: output check"; sed 's/^/    /' "$TMP/$n.check"
	fi
done

# The SYN floods: once for the records, once more for the run's totals.
for fl in syn_flood syn_collide; do
	[ -s "$TMP/$fl.pcap.gz" ] || continue
	run_one $fl "$TMP/$fl.pcap.gz" "$TMP/$fl.expect"
	"$SMTPSCOPE" -q --json --summary -r "$TMP/$fl.pcap.gz" 2>/dev/null | grep '"type":"summary"' >>"$TMP/$fl.json"
	if python3 "$H/check.py" $fl "$TMP/$fl.expect" "$TMP/$fl.json" >"$TMP/$fl.check" 2>&1; then
		ok "$fl: 1,000,000 flows counted, the 3 real sessions reported"
	else
		fail "$fl: output check"; sed 's/^/    /' "$TMP/$fl.check"
	fi
done
w1=$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' "$TMP/syn_flood.rss" 2>/dev/null)
w2=$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' "$TMP/syn_collide.rss" 2>/dev/null)
if [ -n "$w1" ] && [ -n "$w2" ] && awk -v a="$w1" -v b="$w2" 'BEGIN { exit !(b <= 3 * a + 2) }'; then
	ok "syn_collide: ${w2}s, not slower than the plain flood (${w1}s) beyond 3x + 2 s"
else
	fail "syn_collide: ${w2:-?}s against the plain flood's ${w1:-?}s (hash flooding?)"
fi
[ -f "$TMP/peaks" ] && cat "$TMP/peaks"
finish
