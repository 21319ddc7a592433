#!/bin/sh
# Command-line behaviour: clear one-line errors and documented exit statuses.
. "$(dirname "$0")/lib.sh"

# expect_err NAME WANT_STATUS PATTERN ARGS...: one line on stderr matching PATTERN
expect_err() {
	name=$1 want=$2 pat=$3
	shift 3
	"$SMTPSCOPE" "$@" >"$TMP/out" 2>"$TMP/err"
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
expect_err "unknown short option" 1 "unknown or incomplete option '-Z'" -Z
expect_err "missing option argument" 1 "unknown or incomplete option" -r
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

check "--help fits one screen" sh -c "[ \$('$SMTPSCOPE' --help | wc -l) -le 40 ]"
check "--version" sh -c "'$SMTPSCOPE' --version | grep -q '^smtpscope [0-9]'"
finish
