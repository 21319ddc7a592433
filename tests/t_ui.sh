#!/bin/sh
# t_ui.sh — drive the ncurses UI inside tmux (a private tmux server, a
# 200x50 pane): the session table, the detail view, the filter, sorting, the
# findings view, help, pause/step, resize, quitting with a sane terminal,
# SIGINT, and a capture full of terminal escape sequences (captures/escape.pcap).
# Needs tmux (scripts/deps.sh installs it): without it the script fails.
. "$(dirname "$0")/lib.sh"

if ! command -v tmux >/dev/null 2>&1; then
	fail "tmux is installed (needed to drive the UI)"
	finish
	exit 1
fi
[ -x "$SMTPSCOPE" ] || { fail "binary $SMTPSCOPE exists"; finish; exit 1; }

SOCK="$TMP/tmux.sock"
tm() { tmux -S "$SOCK" "$@"; }
trap 'tm kill-server >/dev/null 2>&1; rm -rf "$TMP"' EXIT

# start CMD...: run CMD in a fresh 200x50 pane; after it exits, the pane shows
# its exit status and the terminal modes (stty -a), then idles.
# A "keep" session holds the private server up between tests.
tm -f /dev/null new-session -d -s keep -x 80 -y 10 "sleep 3600"
start() {
	tm kill-session -t ui >/dev/null 2>&1
	tm new-session -d -s ui -x 200 -y 50 \
		"env LANG=C.UTF-8 LC_ALL=C.UTF-8 sh -c '$* ; echo UI-EXIT=\$?; stty -a; sleep 600'"
	tm set-option -t ui remain-on-exit on >/dev/null 2>&1
}
. tests/tmux_lib.sh
norm() { sed -E 's/elapsed [0-9:]+/elapsed X/'; }

# ---- not a terminal --------------------------------------------------------
out=$("$SMTPSCOPE" --ui -r captures/demo.pcap 2>&1 </dev/null >"$TMP/o")
rc=$?
check "--ui without a terminal fails" [ "$rc" -ne 0 ]
check "--ui without a terminal says why" sh -c 'echo "$1" | grep -q -- "--ui needs a terminal on standard output"' _ "$out"

# ---- the demo capture: table ----------------------------------------------
start "$SMTPSCOPE --ui -r captures/demo.pcap"
check "demo: replay reaches the end" wait_for "[file: done]" 10
cap >"$TMP/table.txt"
for c in "time" "client" "server" "state" "HELO" "AUTH user" "MAIL FROM" "RCPT" "Subject" "last reply" "findings"; do
	check "table: column '$c'" grep -qF -- "$c" "$TMP/table.txt"
done
check "table: 5 sessions" [ "$(rows | wc -l)" -eq 5 ]
for ep in "91.198.212.5:3467" "198.51.100.25:41822" "[2001:db8:1::77]:52107" "10.20.30.40:39950" "198.51.100.99:45213"; do
	check "table: session $ep" grep -qF -- "$ep" "$TMP/table.txt"
done
row1=$(rows | grep -F "91.198.212.5:3467")
for f in "213.180.204.38:2025" closed "[91.198.212.5]" vasiapupkin "vasiapupkin@ya.ru" "billy@microsoft.com" "Hello Billy" "221 2.0.0" "2H 1M"; do
	check "table: session a shows $f" sh -c 'echo "$1" | grep -qF -- "$2"' _ "$row1" "$f"
done
check "table: header counts 5 sessions" has "sessions 0 open / 5 total"
check "table: header counts messages and AUTH" has "messages 6  AUTH 3 (2 ok, 1 failed)"
check "table: header counts findings" has "findings 4 high 4 medium 0 low 0 info"
check "table: header shows packets and drops" has "packets 141  bytes"
check "table: header shows the rate sparkline" sh -c 'cap() { tmux -S "$1" capture-pane -p -t ui; }; cap "$1" | grep -qE "rate [0-9]+ msg/min \[.*[▁▂▃▄▅▆▇█]"' _ "$SOCK"
check "table: session e (STARTTLS) is TLS/closed with 220 reply" sh -c 'echo "$1" | grep -qF "220 2.0.0 Ready"' _ "$(rows | grep -F 198.51.100.99)"

# ---- detail ----------------------------------------------------------------
keys g
keys Enter
check "detail: opens session #1" wait_for "Session #1  91.198.212.5:3467 -> 213.180.204.38:2025" 3
check "detail: decoded AUTH LOGIN user" has "[AUTH LOGIN username: vasiapupkin]"
check "detail: password masked" has "[AUTH LOGIN password: ********]"
check "detail: password not shown" hasnt "123456"
check "detail: labelled transcript" has "C> MAIL FROM: vasiapupkin@ya.ru  [MAIL]"
check "detail: replies labelled" has "S< 235 2.7.0 Authentication successful.  [AUTH ok]"
check "detail: message headers" has 'From: "Vasia Pupkin" <vasiapupkin@mail.ru>'
check "detail: from_mismatch with its explanation" has "[high] from_mismatch (transaction 1): MAIL FROM domain ya.ru and From: domain mail.ru"
keys End
check "detail: End scrolls to the end" has "(session closed)"
keys q
check "detail: q goes back to the table" wait_for "time▲" 3

# ---- filter ----------------------------------------------------------------
keys /
check "filter: prompt opens" has "Filter: "
tm send-keys -t ui -l "alice"
keys Enter
check "filter: only the matching session" [ "$(rows | wc -l)" -eq 1 ]
check "filter: it is session c" sh -c 'echo "$1" | grep -qF "[2001:db8:1::77]"' _ "$(rows)"
check "filter: shows filter text in the header" has "filter: alice"
keys Escape
check "filter: Esc clears it" [ "$(rows | wc -l)" -eq 5 ]
keys /
tm send-keys -t ui -l "vasia"
keys Enter
check "filter: 'vasia' keeps session a only" sh -c '[ "$(echo "$1" | wc -l)" -eq 1 ] && echo "$1" | grep -qF 91.198.212.5' _ "$(rows)"
keys Escape
tm send-keys -t ui -l "/from_mismatch"
keys Enter
check "filter: matches finding ids" sh -c '[ "$(echo "$1" | wc -l)" -eq 1 ] && echo "$1" | grep -qF 91.198.212.5' _ "$(rows)"
keys Escape

# ---- sort ------------------------------------------------------------------
keys s
check "sort: s moves to the client column" has "client▲"
check "sort: first row by client is 10.20.30.40" sh -c 'echo "$1" | head -1 | grep -qF 10.20.30.40:39950' _ "$(rows)"
keys S
check "sort: S reverses" has "client▼"
check "sort: reversed first row is [2001:db8:1::77]" sh -c 'echo "$1" | head -1 | grep -qF "[2001:db8:1::77]"' _ "$(rows)"
for i in 1 2 3 4 5 6 7 8 9 10; do tm send-keys -t ui s; done
sleep 0.3
check "sort: cycling comes back to time" has "time▼"
keys S

# ---- findings view -----------------------------------------------------------
keys f
check "findings: view opens" wait_for "explanation (newest first)" 3
check "findings: from_mismatch listed for session #1" sh -c 'tmux -S "$1" capture-pane -p -t ui | grep -E "high +from_mismatch +#1 +91\.198\.212\.5:3467" >/dev/null' _ "$SOCK"
check "findings: display_name_spoof listed for session #3" sh -c 'tmux -S "$1" capture-pane -p -t ui | grep -E "display_name_spoof +#3" >/dev/null' _ "$SOCK"
check "findings: 8 findings (the demo's STARTTLS session negotiates TLS 1.0: tls_old_version)" [ "$(cap | grep -cE '^[0-9]{2}:[0-9]{2}:[0-9]{2} (high|medium|low|info) ')" -eq 8 ]
# select the from_mismatch row and jump to its session
idx=$(cap | grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2} (high|medium|low|info) ' | grep -n from_mismatch | head -1 | cut -d: -f1)
keys Home
i=1
while [ "$i" -lt "${idx:-1}" ]; do tm send-keys -t ui Down; i=$((i + 1)); done
keys Enter
check "findings: Enter jumps to the finding's session" wait_for "Session #1  91.198.212.5:3467" 3
keys Escape
check "findings: Esc from that detail returns to the findings view" wait_for "explanation (newest first)" 3
keys q

# ---- help ------------------------------------------------------------------
keys '?'
check "help: opens" wait_for "smtpscope — keys" 3
for k in "PgUp, PgDn" "Home" "End" "Enter" "/" "s / S" "F " "p " "space" "n " "f " "q / Esc" "Up / k, Down / j"; do
	check "help: lists '$k'" has "$k"
done
keys q

# ---- display pause --------------------------------------------------------
keys p
check "pause: p shows DISPLAY PAUSED" has "DISPLAY PAUSED"
keys p
check "pause: p again resumes" hasnt "DISPLAY PAUSED"

# ---- resize ----------------------------------------------------------------
tm resize-window -t ui -x 120 -y 30
sleep 0.6
cap | norm >"$TMP/r1.txt"
keys C-l
sleep 0.4
cap | norm >"$TMP/r2.txt"
check "resize: pane is 30 lines" [ "$(wc -l <"$TMP/r1.txt")" -eq 30 ]
check "resize: header on the first line" sh -c 'head -1 "$1" | grep -q "^ smtpscope "' _ "$TMP/r1.txt"
check "resize: table titles on line 4" sh -c 'sed -n 4p "$1" | grep -q "^time"' _ "$TMP/r1.txt"
check "resize: footer on the last line" sh -c 'tail -1 "$1" | grep -qE "Enter detail|end of capture|display resumed"' _ "$TMP/r1.txt"
check "resize: 5 rows still listed" [ "$(grep -cE '^[0-9]{2}:[0-9]{2}:[0-9]{2} ' "$TMP/r1.txt")" -eq 5 ]
check "resize: screen equals a full redraw (no corruption)" cmp -s "$TMP/r1.txt" "$TMP/r2.txt"
tm resize-window -t ui -x 200 -y 50
sleep 0.6
cap | norm >"$TMP/r3.txt"
keys C-l
cap | norm >"$TMP/r4.txt"
check "resize back: screen equals a full redraw" cmp -s "$TMP/r3.txt" "$TMP/r4.txt"
check "resize back: every session again" [ "$(grep -cE '^[0-9]{2}:[0-9]{2}:[0-9]{2} ' "$TMP/r3.txt")" -eq 5 ]

# ---- quit ------------------------------------------------------------------
keys q
check "quit: q leaves with status 0" wait_for "UI-EXIT=0" 5
check "quit: terminal back in canonical mode" sh -c 'tmux -S "$1" capture-pane -p -t ui | grep -qE "(^| )icanon( |$)"' _ "$SOCK"
check "quit: echo back on" sh -c 'tmux -S "$1" capture-pane -p -t ui | grep -qE "(^| )echo( |$)"' _ "$SOCK"
check "quit: no table left on screen" hasnt "time▲"

# ---- realtime, input pause and step --------------------------------------
start "$SMTPSCOPE --ui --realtime -r captures/demo.pcap"
check "realtime: starts" wait_for "file: realtime" 5
sleep 1.5
check "realtime: paced (not finished after 1.5 s of a 40 s capture)" hasnt "[file: done]"
keys Space
check "input pause: space pauses" wait_for "INPUT PAUSED" 3
p1=$(cap | sed -n 's/^packets \([0-9]*\) .*/\1/p')
sleep 1
p2=$(cap | sed -n 's/^packets \([0-9]*\) .*/\1/p')
check "input pause: no packets read while paused ($p1 = $p2)" [ "$p1" = "$p2" ]
keys n
sleep 0.3
p3=$(cap | sed -n 's/^packets \([0-9]*\) .*/\1/p')
check "step: n reads packets up to the next event ($p2 < $p3)" [ "$p2" -lt "$p3" ]
keys N
sleep 0.3
check "step: N reads a batch (reaches the end of this small file)" wait_for "[file: done]" 3
keys q
check "realtime: quits cleanly" wait_for "UI-EXIT=0" 5

# ---- SIGINT ----------------------------------------------------------------
start "$SMTPSCOPE --ui --realtime -r captures/demo.pcap"
wait_for "file: realtime" 5
pid=$(pgrep -P "$(tm display-message -p -t ui '#{pane_pid}')" | head -1)
[ -n "$pid" ] && kill -INT "$pid"
check "SIGINT: the UI exits" wait_for "UI-EXIT=" 5
check "SIGINT: terminal restored" sh -c 'tmux -S "$1" capture-pane -p -t ui | grep -qE "(^| )icanon( |$)"' _ "$SOCK"

# ---- escape sequences in the capture --------------------------------------
[ -f captures/escape.pcap ] || python3 scripts/gen_escape.py
start "$SMTPSCOPE --ui -r captures/escape.pcap"
check "escape: replay done" wait_for "[file: done]" 10
check "escape: table intact (header on line 1)" sh -c 'tmux -S "$1" capture-pane -p -t ui | head -1 | grep -q "^ smtpscope "' _ "$SOCK"
check "escape: HELO escape shown as text" has 'evil\x1b]0;pwn'
check "escape: RLO not rendered (escaped as text)" has '\xe2\x80\xaeKCART'
check "escape: UTF-8 HELO shown as text" has "山田.example"
keys g
keys Enter
check "escape: detail opens" wait_for "Session #1" 3
check "escape: OSC title string shown escaped" has 'Subject: Invoice \x1b[2J\x1b[Hpaid \x1b]0;pwned\x07 \xc2\x9b2J done'
check "escape: NUL shown as \\x00" has 'mallory\x1b[2J\x1b[H\x00root'
check "escape: Cyrillic display name" has '"Иван Петров" <ivan@evil.example>'
check "escape: CJK display name" has '"山田太郎" <victim@example.com>'
check "escape: screen not cleared (header still on line 1)" sh -c 'tmux -S "$1" capture-pane -p -t ui | head -1 | grep -q "^ smtpscope "' _ "$SOCK"
title=$(tm display-message -p -t ui '#{pane_title}')
check "escape: terminal title not changed ($title)" [ "$title" != "pwned" ]
check "escape: no raw ESC/C1 on screen" sh -c '! tmux -S "$1" capture-pane -p -t ui | LC_ALL=C grep -q "$(printf "\033")"' _ "$SOCK"
keys q
keys j
keys Enter
check "escape: session 2 CJK From" wait_for '"王小明" <wang@example.org>' 3
check "escape: greeting escapes as text" has 'S< 220 mail\x1b]0;pwned\x07 ESMTP \x1b[31mred\x1b[0m'
keys q
keys q
check "escape: quits" wait_for "UI-EXIT=0" 5
title=$(tm display-message -p -t ui '#{pane_title}')
check "escape: title still not changed after exit" [ "$title" != "pwned" ]

finish
