#!/bin/sh
# Findings end to end on real captures (docs/findings.md has the rules).
. "$(dirname "$0")/lib.sh"

# findings FILE ARGS...: "id severity" per finding, one per line
findings() {
	f=$1
	shift
	"$SMTPSCOPE" -q --json -r "$f" "$@" | python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    if d["type"] == "transaction":
        for f in d["findings"]:
            print(f["id"], f["severity"], d.get("mail_from"), f["detail"])'
}

findings captures/demo.pcap >"$TMP/demo"
check "demo: the seed's spoof (vasiapupkin@ya.ru vs mail.ru) is from_mismatch, high" \
	grep -q '^from_mismatch high vasiapupkin@ya.ru .*ya.ru.*mail.ru' "$TMP/demo"
check "demo: display-name spoof in the submission session" grep -q '^display_name_spoof high alice@example.net' "$TMP/demo"
check "demo: Reply-To to another organisation" grep -q '^reply_to_mismatch medium alice@example.net' "$TMP/demo"
check "demo: credentials in clear" grep -q '^cleartext_auth high vasiapupkin@ya.ru' "$TMP/demo"
check "demo: aligned subdomain (bounce.example.org / example.org) is no finding" \
	sh -c "! grep -q '^from_mismatch [a-z]* newsletter@bounce.example.org' '$TMP/demo'"

# The DHL phishing sample: envelope uprootedx38@gateway2c.dhl.com, From: dgo.billing@dhl.com.
# Relaxed alignment (RFC 7489 §3.1.1, the default) counts the two as aligned (same
# Organizational Domain dhl.com); strict alignment does not.
dhl="$PUBLIC/suricata-verify/smtp-data-rejected/10.7.29.101_49898-178.63.41.150_25.pcap"
findings "$dhl" --strict-alignment >"$TMP/dhl-strict"
check "DHL phishing: from_mismatch under --strict-alignment" \
	grep -q '^from_mismatch low uprootedx38@gateway2c.dhl.com .*gateway2c.dhl.com.*dhl.com' "$TMP/dhl-strict"
findings "$dhl" >"$TMP/dhl"
check "DHL phishing: the bot's dynamic HELO is flagged" grep -q '^helo_suspicious low uprootedx38@gateway2c.dhl.com .*173-66-46-112' "$TMP/dhl"
check "DHL phishing: relaxed alignment holds by default (same Organizational Domain)" \
	sh -c "! grep -q '^from_mismatch' '$TMP/dhl'"

# A mailing list (vger.kernel.org envelope, gmail.com From: signed by gmail.com):
# reported with the DKIM context, not worded as certainty.
findings "$PUBLIC/zeek/smtp/smtp-bdat-pipeline-8bitmime.pcap" >"$TMP/list"
check "mailing list: from_mismatch is low, with DKIM context" \
	grep -q '^from_mismatch low .*DKIM-Signature with d=gmail.com aligns with From:, so this may be legitimate' "$TMP/list"
check "mailing list: never high" sh -c "! grep -q '^from_mismatch high' '$TMP/list'"
# A bounce (null sender) compared through HELO: medium, "may be legitimate".
findings "$PUBLIC/arkime/wireshark-bdat.pcap" --ports 1224 >"$TMP/bounce"
check "null sender: compared through HELO, medium, not certain" \
	grep -q '^from_mismatch medium  The null sender <> .*compared through HELO .*may be legitima' "$TMP/bounce"
finish
