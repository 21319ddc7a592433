#!/bin/sh
# Ground truth at benchmark scale: bench/gen writes a 64 MiB SMTP-heavy capture
# (about 1,500 sessions, 200 at a time, IPv6, VLAN, pipelining, BDAT, AUTH,
# spoofs, capture loss, reordering, retransmissions, background flows) with a
# fixed seed; smtpscope --json analyses it and bench/check_truth.py compares
# every session, message, AUTH user and spoof with what the generator wrote.
# Then the checker is shown to fail on a deliberately altered output.
# About 5 s on the 2-core reference machine; BENCH_TRUTH_SIZE overrides 64M.
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-build}
GEN=$BUILD/bench/gen
SIZE=${BENCH_TRUTH_SIZE:-64M}
CHECK="python3 bench/check_truth.py"

if make --no-print-directory BUILD="$BUILD" "$GEN" >"$TMP/make.log" 2>&1; then
	ok "bench/gen builds"
else
	fail "bench/gen builds: $(tail -n 3 "$TMP/make.log")"
	finish
	exit 1
fi

# Deterministic for a seed: two runs, same bytes; another seed, other bytes.
"$GEN" -o "$TMP/a.pcap" -n 60 -c 20 -s 7 2>/dev/null
"$GEN" -o "$TMP/b.pcap" -n 60 -c 20 -s 7 2>/dev/null
"$GEN" -o "$TMP/c.pcap" -n 60 -c 20 -s 8 2>/dev/null
check "gen is deterministic for a seed" sh -c "cmp -s '$TMP/a.pcap' '$TMP/b.pcap' && cmp -s '$TMP/a.pcap.truth.jsonl' '$TMP/b.pcap.truth.jsonl'"
check "gen: another seed, another capture" sh -c "! cmp -s '$TMP/a.pcap' '$TMP/c.pcap'"
rm -f "$TMP"/[abc].pcap*

CAP=$TMP/bench.pcap
TRUTH=$CAP.truth.jsonl
if "$GEN" -o "$CAP" -S "$SIZE" -s 42 2>"$TMP/gen.err"; then
	ok "gen writes a $SIZE capture ($(cat "$TMP/gen.err" | sed 's/^gen: [^:]*: //'))"
else
	fail "gen writes a $SIZE capture: $(cat "$TMP/gen.err")"
	finish
	exit 1
fi

"$SMTPSCOPE" -q -r "$CAP" --json >"$TMP/out.jsonl" 2>"$TMP/err"
rc=$?
check "smtpscope --json on the capture exits 0 (status $rc)" [ "$rc" -eq 0 ]

# The checker's own ok/FAIL lines count as this test's checks.
$CHECK "$TRUTH" "$TMP/out.jsonl" >"$TMP/check.out" 2>&1
crc=$?
grep -E '^(ok|FAIL|info|note|     )' "$TMP/check.out"
p=$(grep -c '^ok ' "$TMP/check.out")
f=$(grep -c '^FAIL ' "$TMP/check.out")
T_PASS=$((T_PASS + p))
T_FAIL=$((T_FAIL + f))
if [ "$crc" -ne 0 ] && [ "$f" -eq 0 ]; then
	fail "check_truth exit status $crc: $(tail -n 3 "$TMP/check.out")"
fi

# The checker must be able to fail: alter a correct-looking output in four
# ways (a message dropped, an AUTH user changed, a spoof finding invented on an
# aligned message, records invented for a background HTTP/TCP flow) and expect
# a FAIL line for each.
python3 - "$TRUTH" "$TMP/out.jsonl" "$TMP/bad.jsonl" <<'EOF'
import json, sys
truth = [json.loads(l) for l in open(sys.argv[1])]
out = [json.loads(l) for l in open(sys.argv[2])]
clean = {(t["client"], t["server"]): t for t in truth
         if t.get("type") == "session" and t["kind"] == "smtp" and not t["lossy"]}
bg = next(t for t in truth if t.get("type") == "session" and t["kind"] != "smtp")
done = set()
res = []
for r in out:
    key = (r.get("client"), r.get("server"))
    if r.get("type") == "transaction" and key in clean:
        t = clean[key]
        if "drop" not in done:
            done.add("drop")
            continue
        if "auth" not in done and isinstance(r.get("auth"), dict):
            done.add("auth")
            r["auth"]["username"] = "someone.else@example.com"
        elif "spoof" not in done and t["messages"] and not t["messages"][0]["spoofed"] \
                and len(t["messages"]) == 1:
            done.add("spoof")
            r["findings"] = (r.get("findings") or []) + [
                {"id": "from_mismatch", "severity": "medium", "detail": "altered"}]
    res.append(r)
res.append({"type": "session", "session": 999999, "client": bg["client"], "server": bg["server"]})
res.append({"type": "transaction", "session": 999999, "txn": 1, "client": bg["client"],
            "server": bg["server"], "mail_from": "x@example.com"})
assert done == {"drop", "auth", "spoof"}, done
with open(sys.argv[3], "w") as f:
    for r in res:
        f.write(json.dumps(r) + "\n")
EOF
$CHECK "$TRUTH" "$TMP/bad.jsonl" >"$TMP/bad.out" 2>&1
brc=$?
check "checker fails on an altered output (status $brc)" [ "$brc" -eq 1 ]
for want in "messages found" "AUTH user" "no false spoof" "nothing invented"; do
	check "checker names the altered '$want'" grep -q "^FAIL $want" "$TMP/bad.out"
done

# Memory stays flat however many sessions go by: 20,000 short sessions (one of
# them never ends, which once made every later session's text stay queued)
# through the text transcript, the JSON output and the summary, each under
# 40 MiB peak RSS (83 MiB for the text transcript before the fix).
rm -f "$TMP"/*.pcap "$TMP"/*.jsonl
make --no-print-directory BUILD="$BUILD" "$BUILD/bench/rss" >/dev/null 2>&1
"$GEN" -o "$TMP/many.pcap" -n 20000 -c 200 -m 256 -s 9 2>/dev/null
for mode in "" "--json" "--summary"; do
	"$BUILD/bench/rss" "$SMTPSCOPE" -q $mode -r "$TMP/many.pcap" 2>"$TMP/rss" >/dev/null
	kib=$(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' "$TMP/rss")
	check "20,000 sessions ${mode:-(text)}: peak RSS ${kib:-?} KiB < 40 MiB" [ "${kib:-999999}" -lt 40960 ]
done
finish
