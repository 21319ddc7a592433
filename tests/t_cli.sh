#!/bin/sh
# Command-line behaviour: clear one-line errors and documented exit statuses.
. "$(dirname "$0")/lib.sh"

# expect_err NAME WANT_STATUS PATTERN ARGS...: one line on stderr matching PATTERN
expect_err() {
	name=$1 want=$2 pat=$3
	shift 3
	timeout 60 "$SMTPSCOPE" "$@" >"$TMP/out" 2>"$TMP/err" # a wrong binary may capture for ever
	rc=$?
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$TMP/err"; then
		ok "$name"
	else
		fail "$name (status $rc, want $want; stderr: $(cat "$TMP/err"))"
	fi
}

expect_err "missing file" 1 "no-such.pcap: No such file" -r "$TMP/no-such.pcap"
expect_err "directory as file" 1 "is a directory" -r "$TMP"
printf 'this is not a capture\n' >"$TMP/junk.pcap"
expect_err "not a capture" 1 "junk.pcap" -r "$TMP/junk.pcap"
expect_err "bad BPF expression" 1 "bad filter expression" -r captures/demo.pcap "tcp port nonsense and ("
expect_err "unknown option" 1 "unknown or incomplete option '--frobnicate'" --frobnicate
expect_err "unknown short option" 1 "unknown or incomplete option '-x'" -x
expect_err "no input" 1 "nothing to read" --json
expect_err "bad port list" 1 "invalid port list" -r captures/demo.pcap --ports 25,99999
expect_err "bad color" 1 "--color wants" -r captures/demo.pcap --color=purple
expect_err "unknown interface" 1 "no-such-if0" -i no-such-if0
mkdir -p "$TMP/dump" && : >"$TMP/dump/index.tsv"
expect_err "dump dir not empty" 1 "already holds a dump" -r captures/demo.pcap --flows --dump-streams "$TMP/dump"

# The capture damaged after packet 18: flows read so far, one warning, status 2.
bad="$PUBLIC/suricata-verify/smtp-to-comma/10.7.29.101_49898-178.63.41.150_25.pcap"
"$SMTPSCOPE" --flows -r "$bad" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "damaged capture: status 2" [ "$rc" -eq 2 ]
check "damaged capture: one warning naming the problem" sh -c "[ \$(wc -l <'$TMP/err') -eq 1 ] && grep -q 'damaged after packet 18' '$TMP/err'"
check "damaged capture: the flow read so far is listed" grep -q '10.7.29.101:49898 .*178.63.41.150:25' "$TMP/out"

# A BPF expression after the options filters like tcpdump's.
"$SMTPSCOPE" --flows -r "$PUBLIC/arkime/smtp-decrypted.pcap" --ports 25,2525 'tcp port 2525' >"$TMP/f" 2>&1
check "BPF expression restricts flows" sh -c "grep -q ':2525 ' '$TMP/f' && ! grep -q ':25 ' '$TMP/f'"

D=captures/demo.pcap

# An option's argument: missing at the end, or an option in its place, is one
# line naming the option and what it wants (not "unknown option", not a file
# called --summary).
for o in "-r FILE" "--read FILE" "-i IFACE" "-Z USER" "--user USER" "--ports LIST" "--color WHEN" \
	"--extract DIR" "--mbox FILE" "--dump-streams DIR" "--fail-on SEVERITY" "--max-memory SIZE" "--threads N"; do
	set -- $o
	expect_err "$1 without its argument" 1 "^smtpscope: $1 needs an argument ($2)" $1
	expect_err "$1 followed by an option" 1 "^smtpscope: $1 needs an argument ($2), and '--summary' is an option" $1 --summary
done
expect_err "missing argument after other options" 1 "^smtpscope: -r needs an argument (FILE)" --summary -q -r
check "-r - is standard input, not an option" sh -c "'$SMTPSCOPE' -q --summary -r - <$D | grep -q '^sessions: 5 '"
check "an argument attached with = may start with '-'" sh -c "'$SMTPSCOPE' -q --max-memory=-1 -r $D 2>&1 | grep -q 'invalid size'"

# Options after the BPF expression are options (tcpdump on glibc); after "--"
# every word is the expression's.
"$SMTPSCOPE" -q -r "$D" tcp port 25 --summary --json >"$TMP/bpf25" 2>"$TMP/bpf.err"
check "options after the BPF expression: -r F tcp port 25 --summary --json" \
	sh -c "[ \$(wc -l <'$TMP/bpf25') -eq 1 ] && grep -q '\"type\":\"summary\".*\"sessions\":2' '$TMP/bpf25'"
"$SMTPSCOPE" -q -r "$D" tcp port 26 --summary --json >"$TMP/bpf26" 2>&1
check "... and the expression still filters (port 26: no session)" grep -q '"sessions":0' "$TMP/bpf26"
"$SMTPSCOPE" -q --summary --json -r "$D" 'tcp port 25' >"$TMP/bpf25b" 2>&1
check "... the same as with the options first" cmp -s "$TMP/bpf25" "$TMP/bpf25b"
check "options between the words of the expression" sh -c "'$SMTPSCOPE' -q -r $D tcp --summary port 25 | grep -q '^sessions: 2 '"
expect_err "'--' ends the options: later words are the expression's" 1 "bad filter expression 'tcp port 25 --summary'" \
	-r "$D" -- tcp port 25 --summary
expect_err "an unknown option after the expression" 1 "unknown or incomplete option '--frobnicate'" -r "$D" tcp --frobnicate

# Conflicting options: one line naming both as written, status 1.
expect_err "--json twice" 1 "^smtpscope: --json and --json=$TMP/j: --json may be given only once" -r "$D" --json --json="$TMP/j"
expect_err "--json twice, both bare" 1 "^smtpscope: --json and --json: --json may be given only once" -r "$D" --json --json
expect_err "--extract twice" 1 "^smtpscope: --extract $TMP/a and --extract=$TMP/b: --extract may be given only once" \
	-r "$D" --extract "$TMP/a" --extract="$TMP/b"
check "... and neither directory was made" sh -c "[ ! -e '$TMP/a' ] && [ ! -e '$TMP/b' ]"
for o in "-i lo" "-Z nobody" "--ports 25" "--color always" "--mbox $TMP/m1" "--dump-streams $TMP/d1" "--fail-on high" \
	"--max-memory 64M" "--threads 1"; do
	set -- $o
	expect_err "$1 twice" 1 "may be given only once" -r "$D" $o $o
done
expect_err "--summary --flows" 1 "^smtpscope: --summary and --flows: " -r "$D" --summary --flows
expect_err "--flows --summary (either order)" 1 "^smtpscope: --summary and --flows: " -r "$D" --flows --summary
expect_err "--realtime without --ui" 1 "^smtpscope: --realtime needs --ui" -r "$D" --realtime
expect_err "--realtime with --no-ui" 1 "^smtpscope: --realtime needs --ui" -r "$D" --no-ui --realtime
expect_err "-r and -i" 1 "^smtpscope: -r $D and -i lo: " -r "$D" -i lo
expect_err "--ui and --no-ui" 1 "^smtpscope: --ui and --no-ui: " -r "$D" --ui --no-ui
expect_err "--color and --no-color" 1 "^smtpscope: --color=never and --no-color: " -r "$D" --color=never --no-color
expect_err "--extract and --flows" 1 "^smtpscope: --extract $TMP/x and --flows: " -r "$D" --extract "$TMP/x" --flows
expect_err "--mbox and --flows" 1 "^smtpscope: --mbox $TMP/x and --flows: " -r "$D" --mbox "$TMP/x" --flows
expect_err "--ui and --flows" 1 "^smtpscope: --ui and --flows: " -r "$D" --ui --flows
expect_err "--fail-on and --flows" 1 "^smtpscope: --fail-on low and --flows: " -r "$D" --fail-on low --flows
expect_err "--separate and -i" 1 "^smtpscope: --separate and -i lo: " -i lo --separate
expect_err "--realtime and -i" 1 "^smtpscope: --realtime and -i lo: " -i lo --ui --realtime
expect_err "-Z and -r" 1 "^smtpscope: -Z nobody and -r $D: " -Z nobody -r "$D"
expect_err "--ui and --threads 2" 1 "^smtpscope: --ui and --threads 2: " -r "$D" --ui --threads 2
expect_err "an abbreviation is named in full" 1 "^smtpscope: --summary and --flows: " -r "$D" --summ --flo
# What may be repeated: -r (each adds files), and options without an
# argument (no value is lost); combinations that are not conflicts still run.
"$SMTPSCOPE" -q --summary -r "$D" -r "$D" >"$TMP/rr" 2>&1
check "-r twice reads both" grep -q '^packets: 282 ' "$TMP/rr"
check "a flag twice is accepted" sh -c "'$SMTPSCOPE' -q -q --summary --summary --events --events -r $D | grep -q '^sessions: 5 '"
check "--ui --threads 1, --flows --json, --summary --json --events run" sh -c \
	"'$SMTPSCOPE' -q --flows --json -r $D >/dev/null && '$SMTPSCOPE' -q --summary --json --events -r $D >/dev/null"
check "-h still answers first" sh -c "'$SMTPSCOPE' -h --summary --flows | grep -q '^usage:'"

# A gzip'd capture is known by its magic: on standard input (redirected or
# a pipe), and as a file whatever its name.
"$SMTPSCOPE" -q --json --events -r "$D" >"$TMP/plain.json" 2>/dev/null
gzip -c "$D" >"$TMP/demo.pcap.gz"
cp "$TMP/demo.pcap.gz" "$TMP/gz-named.pcap"
"$SMTPSCOPE" -q --json --events -r - <"$TMP/demo.pcap.gz" >"$TMP/stdin.json" 2>"$TMP/stdin.err"
check "gzip on standard input (redirected file)" sh -c "[ -s '$TMP/plain.json' ] && cmp -s '$TMP/plain.json' '$TMP/stdin.json'"
cat "$TMP/demo.pcap.gz" | "$SMTPSCOPE" -q --json --events -r - >"$TMP/pipe.json" 2>/dev/null
check "gzip on standard input (a pipe)" cmp -s "$TMP/plain.json" "$TMP/pipe.json"
cat "$D" | "$SMTPSCOPE" -q --json --events -r - >"$TMP/pipe-plain.json" 2>/dev/null
check "an uncompressed capture on a pipe still reads" cmp -s "$TMP/plain.json" "$TMP/pipe-plain.json"
"$SMTPSCOPE" -q --json --events -r "$TMP/gz-named.pcap" >"$TMP/named.json" 2>/dev/null
check "a gzip'd file named .pcap" cmp -s "$TMP/plain.json" "$TMP/named.json"
gzip -c "$TMP/junk.pcap" >"$TMP/junk.gz"
expect_err "gzip'd junk on standard input: one line" 1 "^smtpscope: -: unknown file format" -r - <"$TMP/junk.gz"

# The option table, the help and the man page agree: every long option of
# --help is in docs/smtpscope.1, and main() is the short driver it claims.
sed 's/\\-/-/g; s/\\f[BIR]//g' docs/smtpscope.1 >"$TMP/man.txt"
missing=
for o in $("$SMTPSCOPE" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -e "$o" "$TMP/man.txt" || missing="$missing $o"
done
check "the man page names every option of --help${missing:+ (lacks$missing)}" [ -z "$missing" ]
check "main() stays short (parse / open / run / finish)" sh -c "[ \$(awk '/^int main\\(/,/^}/' src/main.c | wc -l) -le 30 ]"

check "--help fits one screen" sh -c "[ \$('$SMTPSCOPE' --help | wc -l) -le 40 ]"
check "--version" sh -c "'$SMTPSCOPE' --version | grep -q '^smtpscope [0-9]'"
finish
