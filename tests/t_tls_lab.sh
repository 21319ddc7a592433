#!/bin/sh
# t_tls_lab.sh — the TLS lab captures (tests/tls/*.pcap, made by scripts/tls_lab.py
# with real servers and clients on loopback, each with its client's key log)
# against their expectations (tests/tls/*.expect.json, taken from tshark by
# tests/tls/make_expect.py, never from smtpscope), through tests/tls/check.py:
#   without keys:  version, cipher, SNI, JA4/JA4S, certificate right; nothing
#                  from inside TLS (no transaction, no AUTH, only the cleartext
#                  commands), tls_keys "none";
#   with keys:     every AUTH user, MAIL FROM, RCPT, From:, Subject and final
#                  reply right, tls_decrypted true, no cleartext_auth;
#   secrets inside a pcapng (Decryption Secrets Block): the same without --tls-keylog;
#   wrong key logs: tls_keys "failed"/"missing", tls_decrypt_failed where the
#                  secret is wrong, nothing from inside.
# Also: the committed expectations still agree with tshark (when tshark is there).
. "$(dirname "$0")/lib.sh"
export PYTHONDONTWRITEBYTECODE=1

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
[ -x "$SMTPSCOPE" ] || { fail "binary $SMTPSCOPE exists"; finish; exit 1; }
n=$(ls tests/tls/*.expect.json 2>/dev/null | wc -l)
check "lab: expectations present ($n)" [ "$n" -ge 13 ]

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

# the expectations are tshark's: re-derive one STARTTLS and one implicit-TLS
# expectation and compare (catches a hand-edited expect.json)
if command -v tshark >/dev/null 2>&1; then
	for name in py_starttls_tls12_aes128gcm py_implicit_tls13_chacha20; do
		mkdir -p "$TMP/re"
		cp tests/tls/$name.* tests/tls/*.keys "$TMP/re/" 2>/dev/null
		w=$("$PY" -c 'import json,sys; e=json.load(open(sys.argv[1])); print(" ".join("--wrong %s:%s:%s" % (x["keylog"], "|".join(x["tls_keys"]), "|".join(x["anomalies"])) for x in e["wrong_keys"]))' tests/tls/$name.expect.json)
		# shellcheck disable=SC2086
		"$PY" tests/tls/make_expect.py "$TMP/re" $name $w >/dev/null 2>"$TMP/re.err"
		check "lab: $name.expect.json is what tshark says" "$PY" -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
a.pop("made_by"); b.pop("made_by")
sys.exit(a != b)' tests/tls/$name.expect.json "$TMP/re/$name.expect.json"
	done
fi

for e in tests/tls/*.expect.json; do
	"$PY" tests/tls/check.py --smtpscope "$SMTPSCOPE" "$e" >"$TMP/check.out" 2>&1
	tally "$TMP/check.out"
done
finish
