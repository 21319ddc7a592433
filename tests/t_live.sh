#!/bin/sh
# t_live.sh — live capture on the loopback interface with a real SMTP server
# (aiosmtpd, tests/live_server.py) and a real client (swaks):
#   1. smtpscope -i lo --no-ui --json=FILE: the sessions swaks made (known
#      client ports) are the sessions reported, with AUTH and findings right;
#      SIGINT stops it cleanly, the JSON is complete and drop counters printed.
#   2. the same with the UI in a tmux pane: table, detail, findings view, quit.
# Needs root (capture on lo), swaks, Debian's python3-aiosmtpd (/usr/bin/python3)
# and tmux; a missing one is a failure, not a skip (scripts/deps.sh installs them).
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
need_ok=1
[ "$(id -u)" -eq 0 ] || { fail "running as root (live capture on lo)"; need_ok=0; }
command -v swaks >/dev/null 2>&1 || { fail "swaks is installed"; need_ok=0; }
"$PY" -c 'import aiosmtpd' 2>/dev/null || { fail "python3-aiosmtpd is installed ($PY)"; need_ok=0; }
command -v tmux >/dev/null 2>&1 || { fail "tmux is installed"; need_ok=0; }
[ -x "$SMTPSCOPE" ] || { fail "binary $SMTPSCOPE exists"; need_ok=0; }
if [ "$need_ok" -eq 0 ]; then
	finish
	exit 1
fi

# A free port pair range: PORT for the server, PORT+1.. for the client sides.
port_free() { ! "$PY" -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null && return 1 || return 0; }
PORT=$((21000 + $$ % 4000 * 10))
while ! port_free "$PORT" || ! port_free $((PORT + 1)) || ! port_free $((PORT + 2)) || ! port_free $((PORT + 3)); do
	PORT=$((PORT + 10))
done

SRV_PID=
SCOPE_PID=
SOCK="$TMP/tmux.sock"
tm() { tmux -S "$SOCK" "$@"; }
cleanup() {
	[ -n "$SCOPE_PID" ] && kill "$SCOPE_PID" 2>/dev/null
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
	tm kill-server >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

"$PY" tests/live_server.py "$PORT" vasiapupkin 123456 >"$TMP/srv.out" 2>"$TMP/srv.err" &
SRV_PID=$!
n=50
while [ "$n" -gt 0 ] && ! grep -q ready "$TMP/srv.out"; do sleep 0.1; n=$((n - 1)); done
check "server: aiosmtpd listens on 127.0.0.1:$PORT" grep -q ready "$TMP/srv.out"

# The three client sessions, each from a known local port.
clients() {
	base=$1
	tag=$2
	swaks --server "127.0.0.1:$PORT" --local-interface 127.0.0.1 --local-port $((base + 1)) \
		--from alice@example.org --to bob@example.com --helo client.example.org \
		--header "Subject: live plain $tag" >"$TMP/swaks1.$tag" 2>&1
	r1=$?
	swaks --server "127.0.0.1:$PORT" --local-interface 127.0.0.1 --local-port $((base + 2)) \
		--auth LOGIN --auth-user vasiapupkin --auth-password 123456 --helo client.example.org \
		--from vasiapupkin@ya.ru --to billy@microsoft.com \
		--header "From: Vasia Pupkin <vasiapupkin@mail.ru>" --header "Subject: live spoof $tag" >"$TMP/swaks2.$tag" 2>&1
	r2=$?
	swaks --server "127.0.0.1:$PORT" --local-interface 127.0.0.1 --local-port $((base + 3)) \
		--auth LOGIN --auth-user vasiapupkin --auth-password wrong --helo client.example.org \
		--from vasiapupkin@ya.ru --to billy@microsoft.com >"$TMP/swaks3.$tag" 2>&1
	r3=$?
	check "swaks ($tag): plain mail accepted" [ "$r1" -eq 0 ]
	check "swaks ($tag): AUTH LOGIN mail accepted" [ "$r2" -eq 0 ]
	check "swaks ($tag): wrong password refused (535)" grep -q "535" "$TMP/swaks3.$tag"
}

# check_json FILE TAG BASE: the JSON Lines output agrees with what swaks did.
check_json() {
	"$PY" - "$1" "$2" "$3" "$PORT" <<'EOF'
import json, sys
path, tag, base, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
recs = [json.loads(l) for l in open(path, encoding="utf-8", errors="surrogateescape") if l.strip()]
sess = [r for r in recs if r.get("type") == "session"]
txns = [r for r in recs if r.get("type") == "transaction"]
want = {"127.0.0.1:%d" % (base + i) for i in (1, 2, 3)}
res = []
def ok(name, cond):
    res.append(cond)
    print(("ok   " if cond else "FAIL ") + "json (%s): %s" % (tag, name))
clients = {s["client"] for s in sess}
ok("exactly the 3 sessions swaks made (%s)" % sorted(clients), clients == want and len(sess) == 3)
ok("every session to 127.0.0.1:%d" % port, all(s["server"] == "127.0.0.1:%d" % port for s in sess))
by = {s["client"]: s for s in sess}
tb = {t["client"]: t for t in txns}
p, a, f = ("127.0.0.1:%d" % (base + i) for i in (1, 2, 3))
ok("plain session: no AUTH", by.get(p, {}).get("auth") == [])
ok("plain session: one transaction alice@example.org -> bob@example.com",
   tb.get(p, {}).get("mail_from") == "alice@example.org" and tb.get(p, {}).get("rcpt_to") == ["bob@example.com"])
ok("plain session: Subject", (tb.get(p, {}).get("headers") or {}).get("subject") == "live plain " + tag)
ok("plain session: no from_mismatch", "from_mismatch" not in [x["id"] for x in tb.get(p, {}).get("findings", [])])
au = by.get(a, {}).get("auth") or [{}]
ok("AUTH session: LOGIN vasiapupkin success 235",
   au[-1].get("mechanism") == "LOGIN" and au[-1].get("username") == "vasiapupkin" and au[-1].get("result") == "success" and au[-1].get("reply") == 235)
ta = tb.get(a, {})
ok("AUTH session: transaction vasiapupkin@ya.ru -> billy@microsoft.com, 250",
   ta.get("mail_from") == "vasiapupkin@ya.ru" and ta.get("rcpt_to") == ["billy@microsoft.com"] and ta.get("final_reply") == 250)
ids = [x["id"] for x in ta.get("findings", [])]
ok("AUTH session: from_mismatch found (%s)" % ids, "from_mismatch" in ids)
ok("AUTH session: cleartext_auth found", "cleartext_auth" in ids)
ok("AUTH session: Subject", (ta.get("headers") or {}).get("subject") == "live spoof " + tag)
fa = by.get(f, {}).get("auth") or [{}]
ok("failed AUTH: LOGIN vasiapupkin failure 535",
   fa[-1].get("username") == "vasiapupkin" and fa[-1].get("result") == "failure" and fa[-1].get("reply") == 535)
ok("failed AUTH: no transaction with a message", not any(t["client"] == f and t.get("xfer") not in (None, "none") for t in txns))
ok("password not in the output", "123456" not in open(path, encoding="utf-8", errors="replace").read())
ok("every session ended cleanly (quit)", all(s.get("quit") for s in sess))
sys.exit(0 if all(res) else 1)
EOF
}

# count the ok/FAIL lines a helper printed into our totals
tally() {
	while IFS= read -r line; do
		echo "$line"
		case "$line" in
		ok*) T_PASS=$((T_PASS + 1)) ;;
		FAIL*) T_FAIL=$((T_FAIL + 1)) ;;
		esac
	done <"$1"
}

# smtpscope drops root for nobody after opening the interface (-Z): its
# outputs go to a directory that user can write.
chmod 755 "$TMP"
OUT="$TMP/out"
mkdir -p "$OUT" && chmod 1777 "$OUT"

# ---- 1. --no-ui --json ------------------------------------------------------
"$SMTPSCOPE" -i lo --no-ui --json="$OUT/live.json" --ports "$PORT" >"$TMP/scope.out" 2>"$TMP/scope.err" &
SCOPE_PID=$!
sleep 1.5
check "capture: smtpscope is running on lo" kill -0 "$SCOPE_PID"
clients "$PORT" nui
sleep 1
kill -INT "$SCOPE_PID"
wait "$SCOPE_PID"
rc=$?
SCOPE_PID=
check "capture: SIGINT stops it with status 0 (got $rc)" [ "$rc" -eq 0 ]
check "capture: drop counters printed at exit" grep -qE "packets received, [0-9]+ dropped by the kernel, [0-9]+ dropped by the interface" "$TMP/scope.err"
check "capture: JSON output flushed (ends with a newline)" sh -c '[ -s "$1" ] && [ "$(tail -c1 "$1" | od -An -c | tr -d " ")" = "\\n" ]' _ "$OUT/live.json"
check_json "$OUT/live.json" nui "$PORT" >"$TMP/j1" 2>&1
tally "$TMP/j1"

# ---- 2. the UI in tmux --------------------------------------------------------
UB=$((PORT + 4))
while ! port_free $((UB + 1)) || ! port_free $((UB + 2)) || ! port_free $((UB + 3)); do UB=$((UB + 10)); done
. tests/tmux_lib.sh
tm -f /dev/null new-session -d -s ui -x 200 -y 50 \
	"env LANG=C.UTF-8 LC_ALL=C.UTF-8 sh -c '$SMTPSCOPE -i lo --ports $PORT --json=$OUT/live_ui.json; echo UI-EXIT=\$?; stty -a; sleep 600'"
check "ui: opens by itself with -i on a terminal" wait_for "[live]" 5
sleep 1
clients "$UB" ui
check "ui: the 3 sessions appear" wait_for "127.0.0.1:$((UB + 3))" 5
sleep 0.5
check "ui: exactly 3 rows" [ "$(rows | wc -l)" -eq 3 ]
for i in 1 2 3; do
	check "ui: row for client port $((UB + i))" sh -c 'echo "$1" | grep -qF "127.0.0.1:$2"' _ "$(rows)" $((UB + i))
done
r2=$(rows | grep -F "127.0.0.1:$((UB + 2))")
check "ui: AUTH row shows user, MAIL FROM, RCPT, Subject" sh -c 'echo "$1" | grep -F vasiapupkin | grep -F "vasiapupkin@ya.ru" | grep -F "billy@microsoft.com" | grep -qF "live spoof ui"' _ "$r2"
check "ui: AUTH row shows a high finding" sh -c 'echo "$1" | grep -qE "[0-9]H"' _ "$r2"
check "ui: header counts 3 sessions" has "/ 3 total"
check "ui: header counts AUTH attempts" has "AUTH 2 (1 ok, 1 failed)"
check "ui: header shows drops" sh -c 'tmux -S "$1" capture-pane -p -t ui | grep -qE "drops [0-9]+"' _ "$SOCK"
# open the AUTH session
idx=$(rows | grep -n "127.0.0.1:$((UB + 2))" | cut -d: -f1)
keys g
i=1
while [ "$i" -lt "${idx:-1}" ]; do tm send-keys -t ui j; i=$((i + 1)); done
keys Enter
check "ui detail: the AUTH session" wait_for "Session #" 3
check "ui detail: decoded AUTH LOGIN user" has "[AUTH LOGIN username: vasiapupkin]"
check "ui detail: password masked" has "[AUTH LOGIN password: ********]"
check "ui detail: from_mismatch explained" has "[high] from_mismatch"
keys q
keys f
check "ui findings: from_mismatch for the AUTH session's client" sh -c 'tmux -S "$1" capture-pane -p -t ui | grep -E "from_mismatch +#[0-9]+ +127\.0\.0\.1:$2" >/dev/null' _ "$SOCK" $((UB + 2))
keys q
keys q
check "ui: q quits with status 0" wait_for "UI-EXIT=0" 5
check "ui: drop counters printed at exit" wait_for "dropped by the kernel" 2
check "ui: terminal sane after quit" sh -c 'tmux -S "$1" capture-pane -p -t ui | grep -qE "(^| )icanon( |$)"' _ "$SOCK"
check_json "$OUT/live_ui.json" ui "$UB" >"$TMP/j2" 2>&1
tally "$TMP/j2"

finish
