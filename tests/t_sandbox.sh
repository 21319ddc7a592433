#!/bin/sh
# The process is confined once its inputs and outputs are open (src/sandbox.c,
# docs/security.md "Hardening and sandbox"), and the confinement changes no
# output: no_new_privs and seccomp on every thread of a running process,
# Landlock refusing writes and reads outside what the run needs (tried from
# inside through SMTPSCOPE_SANDBOX_PROBE), sockets, fork and exec refused, and
# the same bytes with and without --no-sandbox for every kind of output,
# including what is opened late: iconv modules for charsets first seen in the
# traffic, --dump-streams files, --extract files, mbox spill files.
. "$(dirname "$0")/lib.sh"

# What the kernel offers, asked independently of smtpscope.
ABI=$(python3 -c 'import ctypes; l=ctypes.CDLL(None, use_errno=True); print(l.syscall(444, None, 0, 1))' 2>/dev/null || echo -1)
SECCOMP=$(grep -c '^Seccomp:' /proc/self/status 2>/dev/null || echo 0)
echo "kernel: Landlock ABI $ABI, seccomp field in /proc: $SECCOMP"

# --- every thread is confined ------------------------------------------------
# A run that stays alive: the capture comes through a FIFO held open, so the
# worker thread (--threads 2) exists while /proc is read.
threads_status() { # ARGS...: prints "threads=N nnp=N seccomp=N" over all threads
	rm -f "$TMP/in"
	mkfifo "$TMP/in"
	"$SMTPSCOPE" -q --threads 2 --json "$@" -r "$TMP/in" >/dev/null 2>"$TMP/th.err" &
	pid=$!
	exec 3>"$TMP/in"
	cat captures/demo.pcap >&3
	sleep 1
	n=0 nnp=0 sc=0
	for s in /proc/$pid/task/*/status; do
		[ -r "$s" ] || continue
		n=$((n + 1))
		grep -q '^NoNewPrivs:[[:space:]]*1' "$s" && nnp=$((nnp + 1))
		grep -q '^Seccomp:[[:space:]]*2' "$s" && sc=$((sc + 1))
	done
	exec 3>&-
	wait "$pid"
	echo "threads=$n nnp=$nnp seccomp=$sc"
}
st=$(threads_status)
echo "sandboxed: $st"
n=$(echo "$st" | sed 's/threads=\([0-9]*\).*/\1/')
check "a run has its worker thread ($st)" [ "$n" -ge 2 ]
check "no_new_privs on every thread" sh -c "echo '$st' | grep -q 'nnp=$n '"
if [ "$SECCOMP" -ge 1 ] && [ "$(uname -m)" = x86_64 -o "$(uname -m)" = aarch64 ]; then
	check "seccomp filter (mode 2) on every thread" sh -c "echo '$st' | grep -q 'seccomp=$n\$'"
fi
st=$(threads_status --no-sandbox)
echo "--no-sandbox: $st"
check "--no-sandbox: neither" sh -c "echo '$st' | grep -q 'nnp=0 seccomp=0'"

# --- from inside: what is refused, what is allowed ----------------------------
mkdir -p "$TMP/out/mb" "$TMP/secret"
echo secret >"$TMP/secret/key"
probe() { # PROBES ARGS...: run with the probe list, stderr into $TMP/probe
	p=$1
	shift
	SMTPSCOPE_SANDBOX_PROBE=$p "$SMTPSCOPE" "$@" >"$TMP/probe.out" 2>"$TMP/probe"
	echo $? >"$TMP/probe.rc"
}
said() { grep -qF "smtpscope: sandbox probe: $1" "$TMP/probe"; }
probe "write=$TMP/planted,write=$TMP/out/ex/mine,read=$TMP/secret/key,read=/etc/passwd,write=$TMP/out/mb/new,tcp=9,fork,exec=/bin/true" \
	-r captures/demo.pcap --json="$TMP/out/j.json" --extract "$TMP/out/ex" --mbox "$TMP/out/mb/m.mbox" \
	--dump-streams "$TMP/out/dump"
cat "$TMP/probe"
if [ "$ABI" -ge 1 ]; then
	check "Landlock: a write outside the outputs is refused" said "write $TMP/planted: Permission denied"
	check "Landlock: nothing was planted" [ ! -e "$TMP/planted" ]
	check "Landlock: a write into --extract DIR is allowed" said "write $TMP/out/ex/mine: ok"
	check "Landlock: reading a file the run does not need is refused" said "read $TMP/secret/key: Permission denied"
	check "Landlock: /etc/passwd is not readable" said "read /etc/passwd: Permission denied"
	check "Landlock: no new file beside the mbox (spill files are O_TMPFILE)" said "write $TMP/out/mb/new: Permission denied"
else
	ok "Landlock: not in this kernel (ABI $ABI), nothing to check"
fi
if [ "$SECCOMP" -ge 1 ] && [ "$(uname -m)" = x86_64 -o "$(uname -m)" = aarch64 ]; then
	check "seccomp: no socket" said "socket AF_INET: Function not implemented"
	check "seccomp: no fork" said "fork -: Function not implemented"
	check "seccomp: no exec" said "exec /bin/true: Function not implemented"
	check "seccomp: the refused calls are named once each on stderr" \
		sh -c "[ \$(grep -c 'system call [0-9]* refused (ENOSYS); --no-sandbox lifts the sandbox' '$TMP/probe') -eq 3 ]"
else
	check "Landlock: no TCP connect" said "connect 9: Permission denied"
fi
check "the run went on to the end (status 0)" [ "$(cat "$TMP/probe.rc")" -eq 0 ]
probe "fork,fork" -q -r captures/demo.pcap
check "-q: a refused call is not reported" sh -c "! grep -q 'refused' '$TMP/probe'"

# --- nothing changes, whatever is opened late ----------------------------------
# Charsets whose iconv modules load on the first message that uses them,
# after the sandbox is in place.
python3 - "$TMP/charsets.pcap" <<'EOF'
import base64, os, sys
sys.path.insert(0, os.path.join("scripts"))
from pcapgen import Pcap, Tcp, LINKTYPE_ETHERNET, dot_stuff
subjects = [("koi8-r", "Привет из Москвы"), ("iso-2022-jp", "こんにちは世界"), ("gb2312", "你好世界"),
            ("windows-1252", "Café – 20 €"), ("iso-8859-7", "Καλημέρα")]
with Pcap(sys.argv[1], LINKTYPE_ETHERNET, seed=5) as pc:
    t = Tcp(pc, client=("192.0.2.10", 41000), server=("198.51.100.20", 25), t0=1700000000.0)
    t.handshake()
    t.server(b"220 mx.example ESMTP\r\n")
    t.client(b"EHLO client.example\r\n")
    t.server(b"250 mx.example\r\n")
    for cs, text in subjects:
        enc = base64.b64encode(text.encode(cs.replace("windows-", "cp"))).decode()
        t.client(b"MAIL FROM:<a@client.example>\r\n")
        t.server(b"250 ok\r\n")
        t.client(b"RCPT TO:<b@mx.example>\r\n")
        t.server(b"250 ok\r\n")
        t.client(b"DATA\r\n")
        t.server(b"354 go\r\n")
        msg = (f"From: =?{cs}?B?{enc}?= <a@client.example>\r\nTo: b@mx.example\r\n"
               f"Subject: =?{cs}?B?{enc}?=\r\n\r\nbody\r\n").encode()
        t.client(dot_stuff(msg) + b".\r\n")
        t.server(b"250 queued\r\n")
    t.client(b"QUIT\r\n")
    t.server(b"221 bye\r\n")
    t.close()
EOF
gzip -c captures/demo.pcap >"$TMP/demo.pcap.gz"
run_all() { # DIR [--no-sandbox]: every output kind into DIR
	d=$1
	shift
	mkdir -p "$d/mb"
	"$SMTPSCOPE" "$@" -r "$TMP/charsets.pcap" "$TMP/demo.pcap.gz" --json="$d/j.json" --events --show-body \
		--extract "$d/ex" --mbox "$d/mb/m.mbox" --max-memory 16M >"$d/stdout" 2>"$d/stderr"
	echo $? >"$d/rc"
	"$SMTPSCOPE" "$@" -r "$TMP/charsets.pcap" captures/demo.pcap --separate --flows --dump-streams "$d/dump" \
		>"$d/flows" 2>>"$d/stderr"
	echo $? >>"$d/rc"
	"$SMTPSCOPE" "$@" -r "$TMP/charsets.pcap" --show-body >"$d/text" 2>>"$d/stderr"
	echo $? >>"$d/rc"
}
run_all "$TMP/a"
run_all "$TMP/b" --no-sandbox
check "same exit statuses" cmp -s "$TMP/a/rc" "$TMP/b/rc"
check "exit statuses all 0" sh -c "[ \"\$(sort -u '$TMP/a/rc')\" = 0 ]"
check "nothing on stderr" [ ! -s "$TMP/a/stderr" ]
check "same outputs, byte for byte (JSON, extract, mbox, dumps, transcript)" diff -r "$TMP/a" "$TMP/b"
check "charsets decoded under the sandbox (KOI8-R, ISO-2022-JP, GB2312, CP1252, ISO-8859-7)" sh -c \
	"grep -q 'Привет из Москвы' '$TMP/a/j.json' && grep -q 'こんにちは世界' '$TMP/a/j.json' && grep -q '你好世界' '$TMP/a/j.json' && grep -q 'Café – 20 €' '$TMP/a/j.json' && grep -q 'Καλημέρα' '$TMP/a/j.json'"
check "--dump-streams DIR made under the sandbox" sh -c "ls '$TMP/a/dump' | grep -q 'f1.c2s' && [ -s '$TMP/a/dump/index.tsv' ]"

# A message too large to hold spills to an unlinked file beside the mbox.
if [ -x build/bench/gen ] || make -s build/bench/gen >/dev/null 2>&1; then
	build/bench/gen -o "$TMP/big.pcap" -n 1 -c 1 -m 20M --background 0 --loss-sessions 0 -s 4 >/dev/null 2>&1
	for m in a b; do
		mkdir -p "$TMP/big$m"
		[ $m = b ] && nos=--no-sandbox || nos=
		"$SMTPSCOPE" $nos -r "$TMP/big.pcap" --mbox "$TMP/big$m/m.mbox" --summary >/dev/null 2>"$TMP/big$m.err"
	done
	check "mbox spill: no extraction warning" [ ! -s "$TMP/biga.err" ]
	check "mbox spill: the mailbox as without the sandbox" cmp -s "$TMP/biga/m.mbox" "$TMP/bigb/m.mbox"
	check "mbox spill: nothing left beside it" [ "$(ls -A "$TMP/biga")" = m.mbox ]
	rm -f "$TMP/big.pcap"
fi

# --- live capture as root: confined after -Z ------------------------------------
if [ "$(id -u)" -eq 0 ] && ip link show lo >/dev/null 2>&1; then
	SMTPSCOPE_SANDBOX_PROBE=capwrite,dup "$SMTPSCOPE" -i lo --json port 1 >/dev/null 2>"$TMP/live.err" &
	pid=$!
	sleep 1
	cat "$TMP/live.err"
	if [ "$SECCOMP" -ge 1 ] && [ "$(uname -m)" = x86_64 -o "$(uname -m)" = aarch64 ]; then
		check "live: no frame written to the capture socket" grep -q 'probe: capwrite capture socket: Operation not permitted' "$TMP/live.err"
		check "live: no dup (another number for the socket)" grep -q 'probe: dup 2: Function not implemented' "$TMP/live.err"
	fi
	s=/proc/$pid/status
	check "live: runs as nobody" grep -Eq "^Uid:[[:space:]]+$(id -u nobody)[[:space:]]" "$s"
	check "live: no_new_privs" grep -q '^NoNewPrivs:[[:space:]]*1' "$s"
	[ "$SECCOMP" -ge 1 ] && check "live: seccomp" grep -q '^Seccomp:[[:space:]]*2' "$s"
	kill -INT "$pid"
	wait "$pid"
	rc=$?
	check "live: clean exit on SIGINT" [ "$rc" -eq 0 ]
fi

# --- degrading -----------------------------------------------------------------
SMTPSCOPE_SANDBOX_DEBUG=1 "$SMTPSCOPE" -r captures/demo.pcap --json >/dev/null 2>"$TMP/dbg"
if [ "$ABI" -ge 1 ]; then
	check "debug output names the Landlock ABI" grep -q "sandbox: Landlock ABI $ABI:" "$TMP/dbg"
fi
"$SMTPSCOPE" -r captures/demo.pcap --json >/dev/null 2>"$TMP/quiet"
check "without debug, the sandbox says nothing" [ ! -s "$TMP/quiet" ]
# A system without Landlock and seccomp: valgrind knows neither system call
# (it answers ENOSYS), so under it the run goes on unconfined, silently.
if command -v valgrind >/dev/null 2>&1; then
	"$SMTPSCOPE" -q -r captures/demo.pcap --json >"$TMP/vg.want"
	valgrind -q --error-exitcode=99 "$SMTPSCOPE" -q -r captures/demo.pcap --json >"$TMP/vg.out" 2>"$TMP/vg.err"
	check "without the kernel features (valgrind): same output, status 0" sh -c "[ $? -eq 0 ] && cmp -s '$TMP/vg.want' '$TMP/vg.out'"
	check "without the kernel features: nothing said" sh -c "! grep -v '^--' '$TMP/vg.err' | grep -q ."
	SMTPSCOPE_SANDBOX_DEBUG=1 valgrind -q "$SMTPSCOPE" -q -r captures/demo.pcap --json >/dev/null 2>"$TMP/vg.err"
	check "without the kernel features: the debug output says so" sh -c \
		"grep -q 'Landlock not available' '$TMP/vg.err' && grep -q 'seccomp not available' '$TMP/vg.err'"
fi
check "--help names --no-sandbox" sh -c "'$SMTPSCOPE' --help | grep -q -- --no-sandbox"
check "the man page names --no-sandbox" grep -q 'no\\\-sandbox' docs/smtpscope.1
finish
