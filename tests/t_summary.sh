#!/bin/sh
# Exit statuses for scripts and the summary's counts on captures whose numbers are known.
. "$(dirname "$0")/lib.sh"

status() { "$SMTPSCOPE" "$@" >/dev/null 2>&1; echo $?; }
check "clean run exits 0" [ "$(status -r captures/demo.pcap)" -eq 0 ]
check "--fail-on high with a high finding exits 3" [ "$(status -r captures/demo.pcap --fail-on high)" -eq 3 ]
clean="$PUBLIC/chrissanders-packets/mail_sender_client_1.pcapng"
check "--fail-on high without one exits 0" [ "$(status -r "$clean" --fail-on high)" -eq 0 ]
check "--fail-on medium with a medium finding exits 3" [ "$(status -r "$clean" --fail-on medium)" -eq 3 ]
check "--fail-on takes precedence over a damaged input" \
	[ "$(status -r "$PUBLIC/suricata-verify/smtp-to-comma/10.7.29.101_49898-178.63.41.150_25.pcap" --fail-on info)" -eq 3 ]
check "--fail-on rejects an unknown severity" [ "$(status -r captures/demo.pcap --fail-on severe)" -eq 1 ]

# The demo capture's numbers are known (captures/README.md).
"$SMTPSCOPE" -r captures/demo.pcap --summary --json >"$TMP/sum.json"
python3 - "$TMP/sum.json" <<'PY' >"$TMP/py.out"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
s = [r for r in recs if r["type"] == "summary"]
ok = lambda name, cond: print(("ok   " if cond else "FAIL ") + name)
ok("one summary record, last", len(s) == 1 and recs[-1]["type"] == "summary")
s = s[0]
ok("sessions 5", s["sessions"] == 5)
ok("transactions 6, messages 6", s["transactions"] == 6 and s["messages"] == 6)
ok("packets 141", s["packets"] == 141)
ok("clients 5, servers 4", s["clients"] == 5 and s["servers"] == 4)
auth = {(a["mechanism"], a["username"]): (a["success"], a["failure"]) for a in s["auth"]}
ok("AUTH LOGIN vasiapupkin succeeded once", auth.get(("LOGIN", "vasiapupkin")) == (1, 0))
ok("AUTH PLAIN alice failed once, LOGIN alice succeeded once",
   auth.get(("PLAIN", "alice@example.net")) == (0, 1) and auth.get(("LOGIN", "alice@example.net")) == (1, 0))
ok("from_mismatch counted as high", s["findings_by_id"].get("from_mismatch", {}).get("high") == 1)
ok("display_name_spoof counted", sum(s["findings_by_id"].get("display_name_spoof", {}).values()) == 1)
ok("recipient domain example.com 6", any(d["value"] == "example.com" and d["count"] == 6 for d in s["top_recipient_domains"]))
ok("retransmission anomaly counted", s["anomalies"].get("tcp_retransmission") == 1)
PY
cat "$TMP/py.out"
T_PASS=$((T_PASS + $(grep -c '^ok' "$TMP/py.out")))
T_FAIL=$((T_FAIL + $(grep -c '^FAIL' "$TMP/py.out")))
"$SMTPSCOPE" -r captures/demo.pcap >"$TMP/text"
check "text run ends with the summary" sh -c "grep -q '^== summary' '$TMP/text' && tail -n 1 '$TMP/text' | grep -q '^anomalies:'"
# Offline, the transcript reads session by session: each "#N" block is contiguous.
check "offline transcript groups each session's lines" sh -c "grep -o '^#[0-9]*' '$TMP/text' | uniq | sort | uniq -d | wc -l | grep -qx 0"
finish
