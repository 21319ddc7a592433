#!/bin/sh
# Hostile traffic (docs/security.md): every capture of tests/hostile/ (made by
# scripts/gen_hostile.py, committed gzip'd) and a SYN flood of 1,000,000 flows
# generated here into a temporary directory is analysed to completion
# (timeout HOSTILE_TIMEOUT, default 120 s) with
#  - exit status 0 or 2, peak RSS under HOSTILE_MAX_KIB (default 256 MiB),
#    measured with build/bench/rss (getrusage of the child);
#  - the expected anomaly names in the JSON, the normal session of the capture
#    (AUTH user, MAIL FROM, RCPT TO) reported correctly (tests/hostile/check.py);
#  - for escapes_nul, no raw control byte in the JSON or the text transcript.
# Prints the peak RSS of each capture. Also checks that the committed captures
# are exactly what the generator writes.
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
if python3 scripts/gen_hostile.py --syn-flood "$TMP" >"$TMP/syn_flood.expect" 2>"$TMP/gen.err"; then
	ok "syn_flood capture generated ($(du -k "$TMP/syn_flood.pcap.gz" | cut -f1) KiB gzip'd)"
else
	fail "syn_flood capture generated"; cat "$TMP/gen.err"
fi

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
	run_one "$n" "$cap" "$H/expect.json"
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

# The SYN flood: once for the records, once more for the run's totals.
if [ -s "$TMP/syn_flood.pcap.gz" ]; then
	run_one syn_flood "$TMP/syn_flood.pcap.gz" "$TMP/syn_flood.expect"
	"$SMTPSCOPE" -q --json --summary -r "$TMP/syn_flood.pcap.gz" 2>/dev/null | grep '"type":"summary"' >>"$TMP/syn_flood.json"
	if python3 "$H/check.py" syn_flood "$TMP/syn_flood.expect" "$TMP/syn_flood.json" >"$TMP/syn.check" 2>&1; then
		ok "syn_flood: 1,000,000 flows counted, the 3 real sessions reported"
	else
		fail "syn_flood: output check"; sed 's/^/    /' "$TMP/syn.check"
	fi
fi
[ -f "$TMP/peaks" ] && cat "$TMP/peaks"
finish
