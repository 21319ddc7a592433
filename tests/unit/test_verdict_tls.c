/* The TLS and STARTTLS session findings (src/verdict.c verdict_session_run,
 * docs/findings.md "TLS and STARTTLS"): each fires, and its near miss does not. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "verdict.h"

static struct finding g_f[VERDICT_MAX_FINDINGS];
static size_t g_n;

static void run(const struct verdict_session_input *in)
{
	for (size_t i = 0; i < g_n; i++)
		finding_free(&g_f[i]);
	g_n = verdict_session_run(in, g_f, VERDICT_MAX_FINDINGS);
}

/* severity of id, or NULL */
static const char *sev(const char *id)
{
	for (size_t i = 0; i < g_n; i++)
		if (strcmp(g_f[i].id, id) == 0)
			return g_f[i].severity;
	return NULL;
}
static const char *detail(const char *id)
{
	for (size_t i = 0; i < g_n; i++)
		if (strcmp(g_f[i].id, id) == 0)
			return g_f[i].detail ? g_f[i].detail : "";
	return "";
}

#define T2026 1780000000LL /* 2026-05-28 */

static const char *const g_dns[] = { "mail.example.org", "*.mx.example.org" };

/* A sound TLS 1.2 session to a correctly named, CA-signed, valid certificate. */
static struct verdict_tls good(void)
{
	struct verdict_tls t = {
		.version = 0x0303, .version_name = "TLS 1.2",
		.cipher = 0xc02f, .cipher_name = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		.sni = "mail.example.org", .cert_seen = true, .cert_subject = "CN=mail.example.org",
		.cert_cn = "mail.example.org", .cert_dns = g_dns, .n_cert_dns = 2,
		.not_before = T2026 - 86400 * 30, .not_after = T2026 + 86400 * 60, .capture_time = T2026,
	};
	return t;
}

static void test_clean(void)
{
	struct verdict_tls t = good();
	struct verdict_session_input in = { .tls = true, .hs = &t };
	run(&in);
	CHECK(g_n == 0);
	/* TLS 1.3 too */
	t.version = 0x0304;
	t.version_name = "TLS 1.3";
	run(&in);
	CHECK(g_n == 0);
	/* no TLS at all: none of the TLS rules */
	struct verdict_session_input none = { 0 };
	run(&none);
	CHECK(g_n == 0);
}

static void test_old_version(void)
{
	struct verdict_tls t = good();
	struct verdict_session_input in = { .tls = true, .hs = &t };
	t.version = 0x0301, t.version_name = "TLS 1.0";
	run(&in);
	CHECK_STR(sev("tls_old_version"), "medium");
	CHECK(strstr(detail("tls_old_version"), "TLS 1.0") != NULL);
	t.version = 0x0302, t.version_name = "TLS 1.1";
	run(&in);
	CHECK_STR(sev("tls_old_version"), "medium");
	t.version = 0x0300, t.version_name = "SSL 3.0";
	run(&in);
	CHECK_STR(sev("tls_old_version"), "high");
	/* near miss: TLS 1.2; and an unknown version (no ServerHello) */
	t.version = 0x0303;
	run(&in);
	CHECK(!sev("tls_old_version"));
	t.version = 0;
	run(&in);
	CHECK(!sev("tls_old_version"));
}

static void test_weak_cipher(void)
{
	struct verdict_tls t = good();
	struct verdict_session_input in = { .tls = true, .hs = &t };
	t.cipher = 0x000a, t.cipher_name = "TLS_RSA_WITH_3DES_EDE_CBC_SHA", t.cipher_weak = true;
	run(&in);
	CHECK_STR(sev("tls_weak_cipher"), "medium");
	CHECK(strstr(detail("tls_weak_cipher"), "3DES_EDE") != NULL);
	t.cipher = 0x0002, t.cipher_name = "TLS_RSA_WITH_NULL_SHA";
	run(&in);
	CHECK_STR(sev("tls_weak_cipher"), "high");
	t.cipher = 0x0034, t.cipher_name = "TLS_DH_anon_WITH_AES_128_CBC_SHA";
	run(&in);
	CHECK_STR(sev("tls_weak_cipher"), "high");
	/* near miss: a CBC suite of TLS 1.2 that is not weak */
	t.cipher = 0x002f, t.cipher_name = "TLS_RSA_WITH_AES_128_CBC_SHA", t.cipher_weak = false;
	run(&in);
	CHECK(!sev("tls_weak_cipher"));
}

static void test_cert_time(void)
{
	struct verdict_tls t = good();
	struct verdict_session_input in = { .tls = true, .hs = &t };
	t.not_after = T2026 - 1;
	run(&in);
	CHECK_STR(sev("tls_cert_expired"), "medium");
	CHECK(!sev("tls_cert_not_yet_valid"));
	/* near miss: notAfter is inclusive (RFC 5280 4.1.2.5) */
	t.not_after = T2026;
	run(&in);
	CHECK(!sev("tls_cert_expired"));
	t = good();
	t.not_before = T2026 + 1;
	run(&in);
	CHECK_STR(sev("tls_cert_not_yet_valid"), "medium");
	t.not_before = T2026;
	run(&in);
	CHECK(!sev("tls_cert_not_yet_valid"));
	/* the capture time decides, not the clock: a certificate long expired
	 * today is fine in a capture from when it was valid */
	t = good();
	t.not_before = 1262304000; /* 2010 */
	t.not_after = 1293840000;  /* 2011 */
	t.capture_time = 1280000000; /* 2010-07 */
	run(&in);
	CHECK(!sev("tls_cert_expired") && !sev("tls_cert_not_yet_valid"));
	/* unknown validity (0): nothing */
	t = good();
	t.not_before = t.not_after = 0;
	run(&in);
	CHECK(!sev("tls_cert_expired") && !sev("tls_cert_not_yet_valid"));
}

static void test_self_signed(void)
{
	struct verdict_tls t = good();
	struct verdict_session_input in = { .tls = true, .hs = &t };
	t.self_signed = true;
	run(&in);
	CHECK_STR(sev("tls_cert_self_signed"), "low");
	t.self_signed = false; /* near miss: signed by a CA */
	run(&in);
	CHECK(!sev("tls_cert_self_signed"));
}

static void test_sni(void)
{
	struct verdict_tls t = good();
	struct verdict_session_input in = { .tls = true, .hs = &t };
	t.sni = "smtp.example.org";
	run(&in);
	CHECK_STR(sev("tls_sni_mismatch"), "medium");
	CHECK(strstr(detail("tls_sni_mismatch"), "smtp.example.org") != NULL);
	/* near misses: the wildcard covers one label; case and a trailing dot */
	t.sni = "a.mx.example.org";
	run(&in);
	CHECK(!sev("tls_sni_mismatch"));
	t.sni = "MAIL.Example.ORG.";
	run(&in);
	CHECK(!sev("tls_sni_mismatch"));
	/* ... but not two labels, nor the bare parent */
	t.sni = "a.b.mx.example.org";
	run(&in);
	CHECK(sev("tls_sni_mismatch"));
	t.sni = "mx.example.org";
	run(&in);
	CHECK(sev("tls_sni_mismatch"));
	/* no SNI: nothing to compare */
	t.sni = NULL;
	run(&in);
	CHECK(!sev("tls_sni_mismatch"));
	/* the CN counts only without DNS names (RFC 6125 6.4.4) */
	t = good();
	t.n_cert_dns = 0;
	t.sni = "mail.example.org";
	run(&in);
	CHECK(!sev("tls_sni_mismatch"));
	t.sni = "other.example.org";
	run(&in);
	CHECK(sev("tls_sni_mismatch"));
	t = good();
	t.cert_cn = "smtp.example.org"; /* a CN beside the SANs is ignored */
	t.sni = "smtp.example.org";
	run(&in);
	CHECK(sev("tls_sni_mismatch"));
	/* no certificate (TLS 1.3 without keys): nothing */
	t = good();
	t.cert_seen = false;
	t.sni = "other.example.org";
	run(&in);
	CHECK(!sev("tls_sni_mismatch"));
}

static void test_name_match(void)
{
	CHECK(verdict_tls_name_match("mail.example.org", "mail.example.org"));
	CHECK(verdict_tls_name_match("a.example.org", "*.example.org"));
	CHECK(verdict_tls_name_match("A.EXAMPLE.org", "*.example.ORG"));
	CHECK(!verdict_tls_name_match("a.b.example.org", "*.example.org"));
	CHECK(!verdict_tls_name_match("example.org", "*.example.org"));
	CHECK(!verdict_tls_name_match(".example.org", "*.example.org"));
	CHECK(!verdict_tls_name_match("a.com", "*.com"));           /* too broad */
	CHECK(!verdict_tls_name_match("foo.example.org", "f*.example.org")); /* partial */
	CHECK(!verdict_tls_name_match("a.example.org", "*.*.org"));
	CHECK(!verdict_tls_name_match("mail.example.org", "mail.example.or"));
	CHECK(!verdict_tls_name_match("mail.example.org", ""));
	CHECK(!verdict_tls_name_match("", "*.example.org"));
	CHECK(!verdict_tls_name_match(NULL, "a"));
	CHECK(!verdict_tls_name_match("a", NULL));
}

static void test_starttls(void)
{
	/* masked capability, cleartext */
	struct verdict_session_input in = { .starttls_masked = true };
	run(&in);
	CHECK_STR(sev("starttls_stripped"), "high");
	in.tls = true; /* near miss: the session turned TLS all the same */
	run(&in);
	CHECK(!sev("starttls_stripped"));
	/* refused while advertised, client went on */
	struct verdict_session_input r = { .starttls_refused = 454, .starttls_refused_continued = true };
	run(&r);
	CHECK_STR(sev("starttls_stripped"), "medium");
	CHECK(strstr(detail("starttls_stripped"), "454") != NULL);
	r.starttls_refused_continued = false; /* near miss: the client gave up (QUIT) */
	run(&r);
	CHECK(!sev("starttls_stripped"));
	/* no handshake after the 220 */
	struct verdict_session_input h = { .tls = true, .starttls_no_handshake = "neither TLS nor SMTP" };
	run(&h);
	CHECK_STR(sev("starttls_no_handshake"), "medium");
	h.starttls_no_handshake = NULL;
	run(&h);
	CHECK(!sev("starttls_no_handshake"));
	/* injection */
	struct verdict_session_input j = { .tls = true, .starttls_injected = 6 };
	run(&j);
	CHECK_STR(sev("starttls_injection"), "high");
	CHECK(strstr(detail("starttls_injection"), "6 bytes") != NULL);
	j.starttls_injected = 0;
	run(&j);
	CHECK(!sev("starttls_injection"));
}

int main(void)
{
	test_clean();
	test_old_version();
	test_weak_cipher();
	test_cert_time();
	test_self_signed();
	test_sni();
	test_name_match();
	test_starttls();
	run(&(struct verdict_session_input){ 0 });
	TEST_MAIN_END();
}
