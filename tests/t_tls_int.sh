#!/bin/sh
# The TLS wiring end to end (docs/design.md "TLS", docs/findings.md "TLS and
# STARTTLS"): the STARTTLS session findings and their near misses on generated
# captures, the TLS ports, --tls-keylog errors, decrypted sessions that must
# not count as cleartext, one thread vs two, and the UI's TLS line.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" tests/tlsint/gen.py "$TMP" || fail "generate captures"

# sfind FILE ARGS...: "id severity" of the session's findings, one a line
sfind() {
	f=$1
	shift
	"$SMTPSCOPE" -q --json -r "$f" "$@" | "$PY" -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    if d["type"] in ("session", "transaction"):
        for f in d["findings"]:
            print(d["type"], f["id"], f["severity"])
    if d["type"] == "session":
        for a in d["anomalies"]:
            print("anomaly", a)
        print("transactions", d["transactions"], "tls", d["tls"])'
}
has() { grep -q "$1" "$2"; }
hasnt() { ! grep -q "$1" "$2"; }

sfind "$TMP/masked.pcap" >"$TMP/o"
check "masked STARTTLS (250-XXXXXXXA): starttls_stripped high" has '^session starttls_stripped high' "$TMP/o"
sfind "$TMP/masked_near.pcap" >"$TMP/o"
check "near miss 250-XFORWARD: no starttls_stripped" hasnt 'starttls_stripped' "$TMP/o"
sfind "$TMP/refused.pcap" >"$TMP/o"
check "STARTTLS refused (454), MAIL in clear: starttls_stripped medium" has '^session starttls_stripped medium' "$TMP/o"
check "... and the transaction's starttls_not_used" has '^transaction starttls_not_used medium' "$TMP/o"
sfind "$TMP/refused_quit.pcap" >"$TMP/o"
check "near miss: refused then QUIT: no starttls_stripped" hasnt 'starttls_stripped' "$TMP/o"
sfind "$TMP/nohs_plain.pcap" >"$TMP/o"
check "220 then plain SMTP: starttls_no_handshake" has '^session starttls_no_handshake medium' "$TMP/o"
sfind "$TMP/nohs_junk.pcap" >"$TMP/o"
check "220 then neither TLS nor SMTP: starttls_no_handshake" has '^session starttls_no_handshake medium' "$TMP/o"
sfind "$TMP/inject.pcap" >"$TMP/o"
check "commands after STARTTLS in the same write: starttls_injection high" has '^session starttls_injection high' "$TMP/o"
check "... the session went TLS all the same" has '^transactions 0 tls True' "$TMP/o"
sfind "$TMP/inject_near.pcap" >"$TMP/o"
check "near miss: the ClientHello behind STARTTLS is no injection" hasnt 'starttls_injection' "$TMP/o"
check "... nor a no-handshake" hasnt 'starttls_no_handshake' "$TMP/o"
check "... nor smtp_starttls_pipelined" hasnt 'smtp_starttls_pipelined' "$TMP/o"

# ports
sfind "$TMP/p465_clear.pcap" >"$TMP/o"
check "465 is watched by default" has '^transactions 1 tls False' "$TMP/o"
check "cleartext on 465: smtp_tls_port_cleartext" has '^anomaly smtp_tls_port_cleartext' "$TMP/o"
sfind "$TMP/p465_clear.pcap" --ports 25 >"$TMP/o"
check "--ports 25 alone leaves 465 out" hasnt 'transactions' "$TMP/o"
sfind "$TMP/p2465_tls.pcap" --tls-ports 2465 >"$TMP/o"
check "--tls-ports 2465: watched, TLS from the first byte" has '^transactions 0 tls True' "$TMP/o"
check "... without smtp_implicit_tls (expected there)" hasnt 'smtp_implicit_tls' "$TMP/o"
sfind "$TMP/p2465_tls.pcap" --ports 2465 >"$TMP/o"
check "the same as an ordinary port: smtp_implicit_tls" has '^anomaly smtp_implicit_tls' "$TMP/o"
sfind "$TMP/p2465_clear.pcap" --tls-ports 2465 >"$TMP/o"
check "--tls-ports 2465 in clear: anomaly, analysed as SMTP" sh -c \
	"grep -q '^anomaly smtp_tls_port_cleartext' '$TMP/o' && grep -q '^transactions 1' '$TMP/o'"

# --tls-keylog errors
"$SMTPSCOPE" -q -r "$TMP/masked.pcap" --tls-keylog "$TMP/nonexistent.keys" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "missing key log: exit 1" [ "$rc" -eq 1 ]
check "missing key log: one line naming it" sh -c \
	"[ \$(wc -l <'$TMP/err') -eq 1 ] && grep -q 'nonexistent.keys' '$TMP/err' && [ ! -s '$TMP/out' ]"

# decrypted: AUTH inside TLS is not cleartext, STARTTLS was used
L=tests/tls
if [ -f $L/py_starttls_tls12_aes128gcm.pcap ]; then
	sfind $L/py_starttls_tls12_aes128gcm.pcap --tls-keylog $L/py_starttls_tls12_aes128gcm.keys >"$TMP/o"
	check "decrypted STARTTLS session: its transaction is there" has '^transactions 1 tls True' "$TMP/o"
	check "... and no cleartext_auth / starttls_not_used" sh -c \
		"! grep -q 'cleartext_auth\|starttls_not_used\|smtp_tls_decrypted\|starttls_no_handshake' '$TMP/o'"
	sfind $L/py_implicit_tls12_expired_ecdsa.pcap >"$TMP/o"
	check "lab: expired certificate at capture time" has '^session tls_cert_expired medium' "$TMP/o"
	check "lab: self-signed" has '^session tls_cert_self_signed low' "$TMP/o"
	check "lab: SNI wrong.lab.test not in the certificate" has '^session tls_sni_mismatch medium' "$TMP/o"
	sfind $L/py_starttls_tls12_aes128gcm.pcap >"$TMP/o"
	check "lab near miss: a valid CA-signed certificate for the SNI: no certificate finding" sh -c \
		"! grep -q 'tls_cert\|tls_sni' '$TMP/o'"
	# one thread or two: the same records
	for f in $L/*.pcap; do
		k=${f%.pcap}.keys
		"$SMTPSCOPE" -q --json --threads 1 -r "$f" --tls-keylog "$k" >"$TMP/t1"
		"$SMTPSCOPE" -q --json --threads 2 -r "$f" --tls-keylog "$k" >"$TMP/t2"
		cmp -s "$TMP/t1" "$TMP/t2" || { fail "threads 1 and 2 differ on $f"; continue; }
	done
	ok "lab captures with keys: --threads 1 and 2 give the same JSON"
	# the transcript: the TLS line, then the decrypted dialogue marked
	"$SMTPSCOPE" -q --no-color -r $L/curl_starttls_tls13.pcap --tls-keylog $L/curl_starttls_tls13.keys >"$TMP/txt"
	check "transcript: the TLS line" grep -q -- '-- TLS 1.3 TLS_AES_256_GCM_SHA384 x25519 sni=mail.lab.test ja4=' "$TMP/txt"
	check "transcript: decrypted lines marked C>> / S<<" sh -c \
		"grep -q 'C>> MAIL FROM:<bounce-curl-starttls-tls13@sender.lab.test>' '$TMP/txt' && grep -q 'S<< 221' '$TMP/txt'"
	check "transcript: the session end says decrypted" grep -q 'tls=yes (decrypted)' "$TMP/txt"
	# the UI's session detail
	if command -v tmux >/dev/null 2>&1; then
		sock="tlsint$$"
		tmux -L "$sock" new-session -d -s ui -x 200 -y 50 \
			"$SMTPSCOPE --ui -r $L/py_implicit_tls12_expired_ecdsa.pcap --tls-keylog $L/py_implicit_tls12_expired_ecdsa.keys; sleep 20"
		sleep 2
		tmux -L "$sock" send-keys -t ui Enter
		sleep 1
		tmux -L "$sock" capture-pane -t ui -p >"$TMP/ui"
		tmux -L "$sock" kill-server 2>/dev/null
		check "UI detail: TLS decrypted" grep -q 'TLS: yes (decrypted)' "$TMP/ui"
		check "UI detail: the TLS facts" grep -q 'TLS: TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 sni=wrong.lab.test' "$TMP/ui"
	fi
fi
# docs: every anomaly of the TLS layer and of the SMTP dissector, every TLS finding
for n in $(sed -n 's/^ANOM([A-Z0-9_]*, "\([a-z0-9_]*\)".*/\1/p' src/anom_tls.def src/anom_smtp.def); do
	grep -q "\`$n\`" docs/schema.md || fail "docs/schema.md documents anomaly $n"
done
ok "docs/schema.md names every anomaly of src/anom_tls.def and src/anom_smtp.def"
for id in tls_old_version tls_weak_cipher tls_cert_expired tls_cert_not_yet_valid tls_cert_self_signed \
	tls_sni_mismatch starttls_stripped starttls_no_handshake starttls_injection; do
	grep -q "$id" docs/findings.md || fail "docs/findings.md documents $id"
	grep -q "\"$id\"" src/verdict.c || fail "src/verdict.c raises $id"
done
ok "docs/findings.md documents every TLS finding"
finish
