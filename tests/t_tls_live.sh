#!/bin/sh
# t_tls_live.sh — TLS sessions made here and now, checked like the lab captures:
# one STARTTLS session (TLS 1.2, AES-128-GCM) and one implicit-TLS session
# (TLS 1.3, ChaCha20-Poly1305) between a real server (aiosmtpd with Python ssl)
# and a real client (Python smtplib with keylog_filename) on loopback
# (scripts/tls_lab.py record), captured by tcpdump on lo; the expectations are
# taken from tshark with the key logs (tests/tls/make_expect.py) and checked by
# tests/tls/check.py:
#   1. smtpscope -r on the tcpdump capture: without keys, with --tls-keylog,
#      with a flipped key log;
#   2. smtpscope -i lo --tls-keylog running while the sessions happen: the key
#      logs are empty when it starts and grow during the sessions.
# Needs root (capture on lo), tcpdump, tshark, openssl and Debian's
# python3-aiosmtpd (/usr/bin/python3); a missing one is a failure, not a skip
# (scripts/deps.sh installs them; CI runs as root).
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1

PY=/usr/bin/python3
need_ok=1
[ "$(id -u)" -eq 0 ] || { fail "running as root (capture on lo)"; need_ok=0; }
for c in tcpdump tshark openssl; do
	command -v $c >/dev/null 2>&1 || { fail "$c is installed"; need_ok=0; }
done
"$PY" -c 'import aiosmtpd' 2>/dev/null || { fail "python3-aiosmtpd is installed ($PY)"; need_ok=0; }
[ -x "$SMTPSCOPE" ] || { fail "binary $SMTPSCOPE exists"; need_ok=0; }
if [ "$need_ok" -eq 0 ]; then
	finish
	exit 1
fi

tally() {
	while IFS= read -r line; do
		echo "$line"
		case "$line" in
		ok*) T_PASS=$((T_PASS + 1)) ;;
		FAIL*) T_FAIL=$((T_FAIL + 1)) ;;
		esac
	done <"$1"
}

# The default ports (587 STARTTLS, 465 implicit TLS) when they are free, so the
# defaults are what is tested; else two free high ports, named to smtpscope.
port_free() { "$PY" -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
if port_free 587 && port_free 465; then
	P1=587
	P2=465
	EXTRA=""
else
	P1=$((23000 + $$ % 3000 * 2))
	while ! port_free "$P1" || ! port_free $((P1 + 1)); do P1=$((P1 + 2)); done
	P2=$((P1 + 1))
	EXTRA="--ports $P1,$P2 --tls-ports $P2"
fi
S1=py_starttls_tls12_aes128gcm
S2=py_implicit_tls13_chacha20

SCOPE_PID=
cleanup() {
	[ -n "$SCOPE_PID" ] && kill "$SCOPE_PID" 2>/dev/null || :
	rm -rf "$TMP"
}
trap cleanup EXIT

# smtpscope drops root for nobody after opening the interface: its outputs go
# to a directory that user can write, the key logs are readable.
chmod 755 "$TMP"
OUT="$TMP/out"
LAB="$TMP/lab"
mkdir -p "$OUT" "$LAB" && chmod 1777 "$OUT"
: >"$LAB/$S1.keys"
: >"$LAB/$S2.keys"
chmod 644 "$LAB/$S1.keys" "$LAB/$S2.keys"

# ---- the live smtpscope, started before the sessions ------------------------
# shellcheck disable=SC2086
"$SMTPSCOPE" -i lo --no-ui --json="$OUT/live.json" $EXTRA \
	--tls-keylog "$LAB/$S1.keys" --tls-keylog "$LAB/$S2.keys" >"$TMP/scope.out" 2>"$TMP/scope.err" &
SCOPE_PID=$!
sleep 1.5
check "live: smtpscope -i lo --tls-keylog is running" sh -c 'kill -0 "$1" 2>/dev/null' _ "$SCOPE_PID"

# ---- the sessions, each captured by tcpdump -----------------------------------
LAB_PORT=$P1 "$PY" scripts/tls_lab.py record "$LAB" $S1 >"$TMP/rec1.out" 2>&1
check "record: STARTTLS session on 127.0.0.1:$P1 (aiosmtpd + smtplib, TLS 1.2)" [ -s "$LAB/$S1.pcap" ]
LAB_PORT=$P2 "$PY" scripts/tls_lab.py record "$LAB" $S2 >"$TMP/rec2.out" 2>&1
check "record: implicit-TLS session on 127.0.0.1:$P2 (TLS 1.3)" [ -s "$LAB/$S2.pcap" ]
cat "$TMP/rec1.out" "$TMP/rec2.out"
"$PY" -c 'import sys; sys.path.insert(0, "scripts"); import tls_lab; tls_lab.flip_keys(sys.argv[1], sys.argv[2])' \
	"$LAB/$S1.keys" "$LAB/$S1.flipped.keys"

sleep 1
if [ -n "$SCOPE_PID" ] && kill -0 "$SCOPE_PID" 2>/dev/null; then
	kill -INT "$SCOPE_PID"
	wait "$SCOPE_PID"
	rc=$?
else
	rc=255
fi
SCOPE_PID=
check "live: SIGINT stops it with status 0 (got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed -n 1,5p "$TMP/scope.err"

# ---- expectations from tshark --------------------------------------------------
"$PY" tests/tls/make_expect.py "$LAB" $S1 --wrong "$S1.flipped.keys:failed:tls_decrypt_failed" >"$TMP/exp1" 2>&1
check "tshark: expectations for $S1" [ -s "$LAB/$S1.expect.json" ]
"$PY" tests/tls/make_expect.py "$LAB" $S2 >"$TMP/exp2" 2>&1
check "tshark: expectations for $S2" [ -s "$LAB/$S2.expect.json" ]
cat "$TMP/exp1" "$TMP/exp2"

# ---- 1. smtpscope -r on the capture ------------------------------------------
for s in $S1 $S2; do
	[ -s "$LAB/$s.expect.json" ] || continue
	"$PY" tests/tls/check.py --smtpscope "$SMTPSCOPE" --args "$EXTRA" "$LAB/$s.expect.json" >"$TMP/c.out" 2>&1
	tally "$TMP/c.out"
done

# ---- 2. the live run --------------------------------------------------------------
for s in $S1 $S2; do
	[ -s "$LAB/$s.expect.json" ] || continue
	"$PY" tests/tls/check.py --live "$OUT/live.json" "$LAB/$s.expect.json" >"$TMP/c.out" 2>&1
	tally "$TMP/c.out"
done
finish
