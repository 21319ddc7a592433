#!/bin/sh
# --extract DIR / --mbox FILE (docs/design.md, "Message extraction").
#  - the public corpus and captures/demo.pcap: every .eml has a sidecar,
#    parses as mail, and equals tshark's IMF export byte for byte, or differs
#    for a reason listed in tests/extract_check.py (rules and EXCEPTIONS);
#  - generated captures (tests/extract_check.py gen): names from the wire
#    ("../", "/" in Subject and filenames) never leave DIR; mboxrd quoting,
#    null sender, interleaved sessions; the mbox read back with Python's
#    mailbox (and mutt when installed);
#  - existing names are never overwritten (-2 rename), symlinks are not
#    followed, a symlinked mbox is refused, an impossible DIR is one error line;
#  - a capture gap shows in the sidecar and as NUL bytes in the file.
. "$(dirname "$0")/lib.sh"

if ! "$SMTPSCOPE" --help 2>&1 | grep -q -- "--extract"; then
	fail "$SMTPSCOPE has no --extract"
	finish
	exit 1
fi
PORTS=25,587,2025,2525,1224,8240
NAME='^[0-9]{8}T[0-9]{6}\.[0-9]{6}Z_[0-9]+_[0-9]+(-[0-9]+)?\.(eml|json)$'

# --- the corpus against tshark ------------------------------------------------
if command -v tshark >/dev/null 2>&1 && [ -d "$PUBLIC" ]; then
	python3 tests/extract_check.py corpus --smtpscope "$SMTPSCOPE" --root "$PUBLIC" >"$TMP/corpus.out" 2>&1
	rc=$?
	grep '^FAIL' "$TMP/corpus.out"
	line=$(tail -n 1 "$TMP/corpus.out")
	if [ $rc -eq 0 ]; then ok "corpus vs tshark IMF export: $line"; else fail "corpus vs tshark IMF export: $line"; fi
else
	fail "tshark or the public corpus missing (make deps installs tshark)"
fi

# --- generated captures -------------------------------------------------------
python3 tests/extract_check.py gen "$TMP" || fail "generate test captures"
mkdir -p "$TMP/box"
"$SMTPSCOPE" -q -r "$TMP/hostile.pcap" -r "$TMP/gap.pcap" --extract "$TMP/box/out" --mbox "$TMP/box/m.mbox" \
	>/dev/null 2>"$TMP/err"
check "extract + mbox run exits 0" test $? -eq 0
check "no warning on stderr" test ! -s "$TMP/err"
check "DIR created with mode 0755" test "$(stat -c %a "$TMP/box/out")" = 755
check "3 messages, 3 sidecars" test "$(ls "$TMP/box/out" | wc -l)" -eq 6
check "only our names in DIR" sh -c "ls '$TMP/box/out' | grep -Evq '$NAME' && exit 1 || exit 0"
check "nothing written beside DIR and the mbox" test "$(ls "$TMP/box" | tr '\n' ' ')" = "m.mbox out "
check "no wire name anywhere (pwned, evil, passwd, cron.d)" \
	sh -c "! find '$TMP' /tmp/pwned /etc/cron.d/evil 2>/dev/null | grep -Eq 'pwned|evil|passwd|cron\\.d/evil'"
check "no subdirectory in DIR" test "$(find "$TMP/box/out" -mindepth 1 -type d | wc -l)" -eq 0
python3 tests/extract_check.py mbox "$TMP/box/m.mbox" "$TMP/box/out" >"$TMP/mbox.out" 2>&1
rc=$?
grep '^FAIL' "$TMP/mbox.out"
if [ $rc -eq 0 ]; then ok "mbox read back with mailbox.mbox: $(tail -n 1 "$TMP/mbox.out")"; else fail "mbox: $(tail -n 1 "$TMP/mbox.out")"; fi
check "mboxrd: '>From quoted once' became '>>From quoted once'" grep -qx '>>From quoted once' "$TMP/box/m.mbox"
check "mboxrd: a body 'From ' line is quoted" grep -qx '>From the desk of Mallory' "$TMP/box/m.mbox"
check "mbox has LF line ends only" sh -c "! grep -q \"\$(printf '\r')\" '$TMP/box/m.mbox'"
check "null sender is MAILER-DAEMON" grep -q '^From MAILER-DAEMON Mon Feb  2 10:47:28 2009$' "$TMP/box/m.mbox"
if command -v mutt >/dev/null 2>&1; then
	n=$(TERM=dumb mutt -n -F /dev/null -R -f "$TMP/box/m.mbox" -e 'push <exit>' </dev/null 2>&1 | grep -c . || true)
	check "mutt opens the mbox" test "$n" -ge 0
fi
# append: a second run adds, never truncates
"$SMTPSCOPE" -q -r "$TMP/gap.pcap" --mbox "$TMP/box/m.mbox" >/dev/null 2>&1
check "mbox is appended to (4 From_ lines)" test "$(grep -c '^From ' "$TMP/box/m.mbox")" -eq 4

# --- never overwrite, never follow a symlink ----------------------------------
first=$(cd "$TMP/box/out" && ls *_1_1.eml | head -n 1)
base=${first%.eml}
mkdir "$TMP/ow" "$TMP/outside"
printf 'precious' >"$TMP/ow/$base.eml"
other=$(cd "$TMP/box/out" && ls *_2_1.eml | head -n 1)
ln -sf "$TMP/outside/target" "$TMP/ow/$other"
printf 'keep' >"$TMP/outside/existing"
other3=$(cd "$TMP/box/out" && ls *_3_1.json | head -n 1)
ln -s "$TMP/outside/existing" "$TMP/ow/$other3"
"$SMTPSCOPE" -q -r "$TMP/hostile.pcap" -r "$TMP/gap.pcap" --extract "$TMP/ow" >/dev/null 2>&1
check "existing .eml untouched" test "$(cat "$TMP/ow/$base.eml")" = precious
check "the message went to $base-2.eml" cmp -s "$TMP/ow/$base-2.eml" "$TMP/box/out/$base.eml"
check "its sidecar names the -2 file" grep -q "\"eml\":\"$base-2.eml\"" "$TMP/ow/$base-2.json"
check "symlinked .eml name not followed (target not created)" test ! -e "$TMP/outside/target"
check "symlinked .json name not followed (target unchanged)" test "$(cat "$TMP/outside/existing")" = keep
check "symlink clash renamed too" test -s "$TMP/ow/${other%.eml}-2.eml"
check "sidecar clash renamed the pair" test -s "$TMP/ow/${other3%.json}-2.json"
check "nothing in the outside directory but ours" test "$(ls "$TMP/outside")" = existing

# --- refusals and errors: one line, exit 1 ------------------------------------
ln -s "$TMP/outside/mbox-target" "$TMP/link.mbox"
"$SMTPSCOPE" -q -r "$TMP/gap.pcap" --mbox "$TMP/link.mbox" >/dev/null 2>"$TMP/err"
rc=$?
check "symlinked --mbox refused (exit 1)" test $rc -eq 1
check "  with one line naming the reason" sh -c "test \$(wc -l <'$TMP/err') -eq 1 && grep -q 'symbolic link' '$TMP/err'"
check "  target not created" test ! -e "$TMP/outside/mbox-target"
"$SMTPSCOPE" -q -r "$TMP/gap.pcap" --extract "$TMP/box/m.mbox/sub" >/dev/null 2>"$TMP/err"
rc=$?
check "--extract under a file: exit 1, one line" sh -c "test $rc -eq 1 && test \$(wc -l <'$TMP/err') -eq 1 && grep -q 'cannot create directory' '$TMP/err'"
"$SMTPSCOPE" -q -r "$TMP/gap.pcap" --extract "$TMP/box/m.mbox" >/dev/null 2>"$TMP/err"
rc=$?
check "--extract on a file: exit 1, one line" sh -c "test $rc -eq 1 && test \$(wc -l <'$TMP/err') -eq 1 && grep -q 'not a directory' '$TMP/err'"

# --- gaps ---------------------------------------------------------------------
g=$(grep -l '"mail_from":"a@example.org"' "$TMP/box/out"/*.json | head -n 1)
check "gap capture: sidecar lists the gap" grep -q '"gaps":\[{"offset":600,"length":200}\]' "$g"
check "gap capture: the gap is 200 NUL bytes at offset 600" \
	sh -c "test \"\$(dd if='${g%.json}.eml' bs=1 skip=600 count=200 2>/dev/null | tr -d '\\000' | wc -c)\" -eq 0 && \
	       test \"\$(dd if='${g%.json}.eml' bs=1 skip=599 count=1 2>/dev/null | tr -d '\\000' | wc -c)\" -eq 1 && \
	       test \"\$(dd if='${g%.json}.eml' bs=1 skip=800 count=1 2>/dev/null | tr -d '\\000' | wc -c)\" -eq 1"
check "gap capture: mbox marks it" grep -q '^X-Smtpscope-Gap: offset=600 length=200$' "$TMP/box/m.mbox"
if [ -f "$PUBLIC/zeek/smtp/smtp-bdat-gap.pcap" ]; then
	"$SMTPSCOPE" -q -r "$PUBLIC/zeek/smtp/smtp-bdat-gap.pcap" --ports $PORTS --extract "$TMP/zg" >/dev/null 2>&1
	check "zeek smtp-bdat-gap.pcap: gap in the sidecar" grep -q '"gaps":\[{"offset":100,"length":100}\]' "$TMP"/zg/*.json
fi

finish
