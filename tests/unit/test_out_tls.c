/* The TLS facts in the sinks (src/out_tls.c, src/out_json.c, src/out_text.c,
 * src/out_summary.c) from a hand-filled struct tls_info on an implicit-TLS
 * session: the JSON keys of docs/schema.md, escaping of handshake strings,
 * the transcript's TLS line and its decrypted-dialogue marks. */
#include <stdlib.h>

#include "harness.h"
#include "event.h"
#include "flow.h"
#include "out.h"
#include "out_summary.h"
#include "out_tls.h"
#include "smtp.h"
#include "tls.h"

static struct flow_info fi;
static struct tls_info ti;
static struct tls_cert ti_certs[TLS_CERTS_MAX]; /* ti.certs points here */

static void noop_data(void *u, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)u, (void)dir, (void)p, (void)n, (void)ts;
}

static void fill(void)
{
	memset(&ti, 0, sizeof ti);
	memset(ti_certs, 0, sizeof ti_certs);
	ti.certs = ti_certs;
	ti.client.seen = ti.server.seen = true;
	ti.version = 0x0304;
	ti.cipher = 0x1302;
	ti.group = 0x001d;
	strcpy(ti.client.sni, "mail.example.org\"\x01\x1b[2J");
	strcpy(ti.client.alpn, "smtp,h2");
	ti.client.versions[0] = 0x3a3a; /* GREASE: not shown */
	ti.client.versions[1] = 0x0304;
	ti.client.versions[2] = 0x0303;
	ti.client.n_versions = 3;
	ti.hello_retry = true;
	strcpy(ti.ja4, "t13d1516h2_8daaf6152771_b186095e22b6");
	strcpy(ti.ja4s, "t130200_1302_234ea6891581");
	ti.cert_seen = true;
	ti.n_certs = 1;
	ti.n_certs_total = 2;
	struct tls_cert *c = &ti.certs[0];
	strcpy(c->subject, "CN=mail.example.org,O=Example\\, Inc.");
	strcpy(c->issuer, "CN=Example CA");
	strcpy(c->san_dns[0], "mail.example.org");
	strcpy(c->san_dns[1], "*.example.org");
	c->n_san = 2;
	c->n_san_total = 3;
	c->not_before = 1767225600; /* 2026-01-01 */
	c->not_after = 1798761600;  /* 2027-01-01 */
	strcpy(c->serial, "0A1B");
	strcpy(c->key_type, "RSA");
	c->key_bits = 2048;
	strcpy(c->sig_alg, "sha256WithRSAEncryption");
	memset(c->sha256, 'a', 64);
	c->self_signed = true;
	ti.keys = TLS_KEYS_OK;
	ti.alert_seen = true;
	ti.alert_desc = 40;
	ti.records[0] = 7;
	ti.records[1] = 9;
}

/* An implicit-TLS session (port 465) with ti, decrypted dialogue or not. */
static char *run(struct sink *(*mk)(FILE *, const struct out_opts *), bool decrypted, struct sink **sum_out)
{
	char *out = NULL;
	size_t outn = 0;
	FILE *f = open_memstream(&out, &outn);
	struct event_bus bus = { { 0 }, 0, 0 };
	struct out_opts o = { 0 };
	if (mk)
		event_bus_add(&bus, mk(f, &o));
	struct sink *sum = sum_out ? out_summary_new(f, false, true) : NULL;
	if (sum)
		event_bus_add(&bus, sum);
	memset(&fi, 0, sizeof fi);
	fi.id = 5;
	fi.client.family = fi.server.family = 4;
	fi.server.port = 465;
	fi.syn_seen = true;
	struct smtp_config cfg = { false, NULL };
	uint64_t ts = 1780000000000000ull;
	struct smtp_session *s = smtp_session_new(&cfg, &bus, &fi, ts);
	struct smtp_tls_hook h = { noop_data, NULL, NULL, true };
	smtp_session_set_tls(s, &h);
	static const uint8_t ch[] = { 0x16, 0x03, 0x01, 0x00, 0x01, 0x01 };
	smtp_session_data(s, FLOW_C2S, ch, sizeof ch, ts += 1000);
	s->tls_info = &ti;
	if (decrypted) {
#define P(dir, str) smtp_session_tls_plaintext(s, dir, (const uint8_t *)(str), strlen(str), ts += 1000)
		P(FLOW_S2C, "220 mx.example.org ESMTP\r\n");
		P(FLOW_C2S, "EHLO c.example\r\n");
		P(FLOW_S2C, "250 mx.example.org\r\n");
		P(FLOW_C2S, "QUIT\r\n");
		P(FLOW_S2C, "221 bye\r\n");
	}
	smtp_session_close(s, ts += 1000);
	smtp_session_free(s);
	if (sum_out)
		*sum_out = sum;
	event_bus_close(&bus);
	fclose(f);
	return out;
}

static void test_json(void)
{
	fill();
	char *o = run(out_json_new, false, NULL);
	CHECK(strstr(o, ",\"tls\":true,\"tls_decrypted\":false,\"tls_bytes\":[6,0],\"tls_version\":\"TLS 1.3\","
	                "\"tls_cipher\":\"TLS_AES_256_GCM_SHA384\",\"tls_group\":\"x25519\","
	                "\"tls_sni\":\"mail.example.org\\\"\\u0001\\u001b[2J\","
	                "\"tls_client_alpn\":[\"smtp\",\"h2\"],\"tls_client_versions\":[\"TLS 1.3\",\"TLS 1.2\"],"
	                "\"tls_hello_retry\":true,\"ja4\":\"t13d1516h2_8daaf6152771_b186095e22b6\","
	                "\"ja4s\":\"t130200_1302_234ea6891581\",\"tls_chain_len\":2,\"tls_server_cert\":{"
	                "\"subject\":\"CN=mail.example.org,O=Example\\\\, Inc.\",\"issuer\":\"CN=Example CA\","
	                "\"san_dns\":[\"mail.example.org\",\"*.example.org\"],\"san_dns_total\":3,"
	                "\"not_before\":\"2026-01-01T00:00:00Z\",\"not_after\":\"2027-01-01T00:00:00Z\","
	                "\"serial\":\"0A1B\",\"key_type\":\"RSA\",\"key_bits\":2048,"
	                "\"sig_alg\":\"sha256WithRSAEncryption\",\"sha256\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	                "\"self_signed\":true},\"tls_keys\":\"ok\",\"tls_alert\":\"handshake_failure\","
	                "\"tls_records\":[7,9],\"capabilities\"") != NULL);
	if (!strstr(o, "\"tls_records\":[7,9]"))
		fputs(o, stderr);
	free(o);
	/* what is unknown is absent: no ServerHello, TLS 1.2, no SNI/ALPN/cert */
	memset(&ti, 0, sizeof ti);
	memset(ti_certs, 0, sizeof ti_certs);
	ti.certs = ti_certs;
	ti.client.seen = true;
	ti.version = 0;
	ti.group = 0x001d;
	o = run(out_json_new, false, NULL);
	CHECK(strstr(o, "\"tls_bytes\":[6,0],\"tls_keys\":\"none\",\"tls_records\":[0,0],\"capabilities\"") != NULL);
	CHECK(!strstr(o, "tls_version") && !strstr(o, "tls_cipher") && !strstr(o, "tls_group") &&
	      !strstr(o, "tls_server_cert") && !strstr(o, "ja4"));
	free(o);
	/* the group is a TLS 1.3 fact */
	fill();
	ti.version = 0x0303;
	o = run(out_json_new, false, NULL);
	CHECK(strstr(o, "\"tls_version\":\"TLS 1.2\"") && !strstr(o, "tls_group"));
	free(o);
}

static void test_text(void)
{
	fill();
	char *o = run(out_text_new, false, NULL);
	/* without plaintext: the TLS line before the end line, escaped for a terminal */
	const char *l = strstr(o, "-- TLS 1.3 TLS_AES_256_GCM_SHA384 x25519 (HelloRetryRequest) sni=mail.example.org\"");
	CHECK(l != NULL);
	CHECK(!strchr(o, '\x1b') && !strchr(o, '\x01'));
	CHECK(strstr(o, "ja4=t13d1516h2_8daaf6152771_b186095e22b6 ja4s=t130200_1302_234ea6891581 "
	                "cert=\"CN=mail.example.org,O=Example\\\\, Inc.\" (self-signed) alert=handshake_failure keys=ok\n") != NULL);
	const char *e = strstr(o, "== #5 end");
	CHECK(l && e && l < e);
	CHECK(!strstr(o, "C>>") && !strstr(o, "S<<"));
	free(o);
	/* decrypted: the line where the plaintext begins, then C>>/S<< lines, not again at the end */
	o = run(out_text_new, true, NULL);
	l = strstr(o, "-- TLS 1.3 ");
	const char *g = strstr(o, "S<< 220 mx.example.org ESMTP");
	CHECK(l && g && l < g);
	CHECK(strstr(o, "[decrypted from here") != NULL);
	CHECK(strstr(o, "C>> EHLO c.example") != NULL);
	CHECK(strstr(o, "tls=yes (decrypted)") != NULL);
	CHECK(l && !strstr(l + 1, "-- TLS 1.3 "));
	free(o);
}

static void test_summary(void)
{
	fill();
	struct sink *sum;
	char *o = run(NULL, true, &sum);
	CHECK(strstr(o, "TLS: 1 sessions, 1 decrypted, keys missing 0, failed 0, unsupported 0\n") != NULL);
	CHECK(strstr(o, "  TLS versions (1 distinct):\n         1  TLS 1.3\n") != NULL);
	CHECK(strstr(o, "         1  TLS_AES_256_GCM_SHA384\n") != NULL);
	free(o);
	ti.keys = TLS_KEYS_FAILED;
	o = run(NULL, false, &sum);
	CHECK(strstr(o, "TLS: 1 sessions, 0 decrypted, keys missing 0, failed 1, unsupported 0\n") != NULL);
	free(o);
}

static void test_helpers(void)
{
	char b[24];
	out_tls_time(b, 0);
	CHECK_STR(b, "1970-01-01T00:00:00Z");
	out_tls_time(b, -1);
	CHECK_STR(b, "1969-12-31T23:59:59Z");
	out_tls_time(b, INT64_MAX);
	CHECK_STR(b, "9999-12-31T23:59:59Z");
	out_tls_time(b, INT64_MIN);
	CHECK_STR(b, "0000-01-01T00:00:00Z");
	struct tls_cert c;
	char cn[64];
	memset(&c, 0, sizeof c);
	strcpy(c.subject, "CN=mx.example.org,O=Example");
	out_tls_cert_cn(&c, cn, sizeof cn);
	CHECK_STR(cn, "mx.example.org");
	strcpy(c.subject, "O=A\\,CN=fake,CN=real.example");
	out_tls_cert_cn(&c, cn, sizeof cn);
	CHECK_STR(cn, "real.example");
	strcpy(c.subject, "O=Example");
	out_tls_cert_cn(&c, cn, sizeof cn);
	CHECK_STR(cn, "");
	CHECK_STR(out_tls_keys_str(TLS_KEYS_MISSING), "missing");
	CHECK_STR(out_tls_keys_str(TLS_KEYS_UNSUPPORTED), "unsupported");
	CHECK_STR(out_tls_keys_str(TLS_KEYS_NONE), "none");
}

int main(void)
{
	test_json();
	test_text();
	test_summary();
	test_helpers();
	TEST_MAIN_END();
}
