#!/bin/sh
# Re-make the TLS vectors of tests/unit/test_tls_crypt.c (needs root for
# tcpdump on lo, openssl(1) 3.x). Each case: openssl s_server -rev on a
# loopback port, openssl s_client with -keylogfile sends known lines (and
# 'K', a KeyUpdate that asks the peer for one too, for TLS 1.3), tcpdump
# captures it. Writes NAME.pcap and NAME.keys here; the expected plaintext
# is what the test sends (see LINES below) and the server's reversal of it.
# ONLY="name ..." re-makes just those.
# The committed files were checked with
#   tshark -o tls.keylog_file:NAME.keys -r NAME.pcap -Y tls -T fields -e tls.app_data
set -e
cd "$(dirname "$0")"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" \
	-days 3650 -subj /CN=mx.test >/dev/null 2>&1
port=24600
one() { # NAME "server options" "client options" keyupdate(0/1)
	name=$1 sopt=$2 copt=$3 ku=$4
	port=$((port + 1))
	case " ${ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
	rm -f "$name.keys" "$name.pcap"
	tcpdump -i lo -s 0 -U -w "$name.pcap" "tcp port $port" >/dev/null 2>&1 &
	tp=$!
	sleep 1
	# shellcheck disable=SC2086
	openssl s_server -accept "127.0.0.1:$port" -cert "$T/cert.pem" -key "$T/key.pem" -rev -naccept 1 $sopt \
		>"$T/s.log" 2>&1 &
	sp=$!
	sleep 0.5
	{
		printf 'hello from the client: %s\n' "$name"; sleep 0.3
		if [ "$ku" = 1 ]; then printf 'K\n'; sleep 0.3; fi
		printf 'second line, after the key update if any\n'; sleep 0.3
		head -c 3000 /dev/zero | tr '\0' 'x'; printf '\n'; sleep 0.5
	} | openssl s_client -connect "127.0.0.1:$port" -keylogfile "$name.keys" $copt >"$T/c.log" 2>&1 || true
	sleep 0.5
	kill "$sp" 2>/dev/null || true
	wait "$sp" 2>/dev/null || true
	kill "$tp"; wait "$tp" 2>/dev/null || true
	echo "$name: $(wc -c <"$name.pcap") bytes, $(wc -l <"$name.keys") key lines"
}
one t12_aes128gcm  "" "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256" 0
one t12_aes256gcm  "" "-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384" 0
one t12_chacha     "" "-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305" 0
one t12_cbc_etm    "" "-tls1_2 -cipher ECDHE-RSA-AES128-SHA" 0
one t12_cbc_noetm  "" "-tls1_2 -cipher ECDHE-RSA-AES128-SHA -no_etm" 0
one t12_cbc256_sha384 "" "-tls1_2 -cipher ECDHE-RSA-AES256-SHA384 -no_etm" 0
one t12_cbc_sha256 "" "-tls1_2 -cipher AES128-SHA256" 0
one t10_cbc_noetm  "-cipher DEFAULT@SECLEVEL=0" "-tls1 -cipher ECDHE-RSA-AES256-SHA@SECLEVEL=0 -no_etm" 0
one t11_cbc_noetm  "-cipher DEFAULT@SECLEVEL=0" "-tls1_1 -cipher ECDHE-RSA-AES128-SHA@SECLEVEL=0 -no_etm" 0
one t10_cbc_etm    "-cipher DEFAULT@SECLEVEL=0" "-tls1 -cipher ECDHE-RSA-AES256-SHA@SECLEVEL=0" 0
one t13_aes256gcm  "" "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384" 1
one t13_chacha     "" "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256" 1
one t13_aes128gcm  "" "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256" 1
