/* Unit tests of the AUTH decoder (src/auth.c). */
#include <stdlib.h>

#include "harness.h"
#include "auth.h"
#include "codec.h"

static unsigned resp(struct auth_attempt *a, const char *b64, bool initial, struct auth_note *nt)
{
	return auth_client_response(a, (const uint8_t *)b64, strlen(b64), initial, nt);
}

static void begin(struct auth_attempt *a, const char *mech)
{
	auth_attempt_begin(a, (const uint8_t *)mech, strlen(mech), 1);
}

static void test_mech_names(void)
{
	struct auth_attempt a;
	begin(&a, "login");
	CHECK(a.mech == AUTH_MECH_LOGIN);
	CHECK_STR(a.mech_name, "LOGIN");
	auth_attempt_free(&a);
	begin(&a, "X-WEIRD\x1b[31m");
	CHECK(a.mech == AUTH_MECH_OTHER);
	CHECK(strchr(a.mech_name, 0x1b) == NULL); /* sanitised */
	auth_attempt_free(&a);
	begin(&a, "SCRAM-SHA-256");
	CHECK(a.mech == AUTH_MECH_SCRAM);
	struct auth_note nt;
	struct sbuf b = SBUF_INIT;
	b64_encode(&b, "n,,n=user1,r=abc", 16);
	CHECK(auth_client_response(&a, (const uint8_t *)b.buf, b.len, true, &nt) == 0);
	CHECK_STR(sbuf_str(&a.user), "user1");
	sbuf_free(&b);
	auth_attempt_free(&a);
	CHECK_STR(auth_result_str(AUTH_RESULT_CANCELLED), "cancelled");
	CHECK_STR(auth_mech_str(AUTH_MECH_CRAM_MD5), "CRAM-MD5");
}

static void test_login(void)
{
	struct auth_attempt a;
	struct auth_note nt;
	begin(&a, "LOGIN");
	CHECK(auth_expects_response(&a));
	CHECK(resp(&a, "dmFzaWE=", false, &nt) == 0);
	CHECK_STR(nt.what, "username");
	CHECK(!nt.value_secret);
	CHECK_STR(sbuf_str(&a.user), "vasia");
	CHECK(resp(&a, "cHcx", false, &nt) == 0);
	CHECK_STR(nt.what, "password");
	CHECK(nt.value_secret && nt.line_secret);
	CHECK_STR(sbuf_str(&a.secret), "pw1");
	CHECK(!auth_expects_response(&a));
	CHECK(resp(&a, "eA==", false, &nt) & AUTH_ANOM_EXTRA);
	auth_server_result(&a, 235);
	CHECK(a.result == AUTH_RESULT_SUCCESS);
	auth_attempt_free(&a);
}

static void test_plain(void)
{
	struct auth_attempt a;
	struct auth_note nt;
	begin(&a, "PLAIN");
	CHECK(resp(&a, "=", true, &nt) == 0); /* empty initial response */
	CHECK(a.n_resp == 0);
	CHECK(resp(&a, "YWRtaW4AYm9iAGh1bnRlcjI=", false, &nt) == 0);
	CHECK_STR(sbuf_str(&a.authzid), "admin");
	CHECK_STR(sbuf_str(&a.user), "bob");
	CHECK_STR(sbuf_str(&a.secret), "hunter2");
	CHECK(nt.line_secret);
	auth_server_result(&a, 535);
	CHECK(a.result == AUTH_RESULT_FAILURE);
	auth_attempt_free(&a);
	/* no NUL separators: malformed */
	begin(&a, "PLAIN");
	CHECK(resp(&a, "Ym9i", true, &nt) & AUTH_ANOM_MALFORMED);
	CHECK(!a.has_user);
	auth_attempt_free(&a);
	/* bad base64 */
	begin(&a, "PLAIN");
	CHECK(resp(&a, "@@@@", true, &nt) & AUTH_ANOM_BAD_BASE64);
	CHECK(a.bad_base64);
	auth_attempt_free(&a);
	/* cancel */
	begin(&a, "PLAIN");
	CHECK(resp(&a, "*", false, &nt) == 0);
	auth_server_result(&a, 501);
	CHECK(a.result == AUTH_RESULT_CANCELLED);
	auth_attempt_free(&a);
}

static void test_cram_oauth(void)
{
	struct auth_attempt a;
	struct auth_note nt;
	begin(&a, "CRAM-MD5");
	auth_server_challenge(&a, (const uint8_t *)"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+", 52);
	CHECK_STR(sbuf_str(&a.challenge), "<1896.697170952@postoffice.example.net>");
	CHECK(resp(&a, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", false, &nt) == 0);
	CHECK_STR(sbuf_str(&a.user), "tim");
	CHECK_STR(sbuf_str(&a.secret), "b913a602c7eda7a495b4e6e7334d3890");
	auth_attempt_free(&a);
	begin(&a, "XOAUTH2");
	CHECK(resp(&a, "dXNlcj1ib2JAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEyOS5UT0tFTgEB", true, &nt) == 0);
	CHECK_STR(sbuf_str(&a.user), "bob@example.com");
	CHECK_STR(sbuf_str(&a.secret), "Bearer ya29.TOKEN");
	CHECK(nt.line_secret && !nt.value_secret);
	auth_attempt_free(&a);
	begin(&a, "OAUTHBEARER");
	CHECK(resp(&a, "bixhPWNhcm9sQGV4YW1wbGUuY29tLAFob3N0PW14AXBvcnQ9NTg3AWF1dGg9QmVhcmVyIFRPSzIBAQ==",
	           true, &nt) == 0);
	CHECK_STR(sbuf_str(&a.user), "carol@example.com");
	CHECK_STR(sbuf_str(&a.secret), "Bearer TOK2");
	auth_attempt_free(&a);
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }

static void test_ntlm(void)
{
	struct sbuf u = SBUF_INIT, d = SBUF_INIT, w = SBUF_INIT;
	uint8_t m[128];
	memset(m, 0, sizeof m);
	memcpy(m, "NTLMSSP", 8);
	put32(m + 8, 3);
	/* domain "D\u00e9" (UTF-16LE 44 00 e9 00) at 64, user with a surrogate pair at 68 */
	static const uint8_t dom[] = { 'D', 0, 0xe9, 0 };
	static const uint8_t usr[] = { 'u', 0, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8 }; /* u, U+1F600, lone */
	memcpy(m + 64, dom, sizeof dom);
	memcpy(m + 68, usr, sizeof usr);
	put16(m + 28, 4); put32(m + 32, 64);
	put16(m + 36, 8); put32(m + 40, 68);
	put16(m + 44, 0); put32(m + 48, 76);
	put32(m + 60, 1);
	CHECK(auth_ntlm_parse(m, 76, &u, &d, &w) == 3);
	CHECK_STR(sbuf_str(&d), "D\xc3\xa9");
	CHECK_STR(sbuf_str(&u), "u\xf0\x9f\x98\x80\xef\xbf\xbd");
	/* every truncation of the message is rejected or parsed, never read past */
	for (size_t n = 0; n < 76; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, m, n);
		int r = auth_ntlm_parse(copy, n, &u, &d, &w);
		CHECK(r == 0 || n >= 64);
		free(copy);
	}
	/* an offset pointing outside */
	put32(m + 40, 0xfffffff0u);
	CHECK(auth_ntlm_parse(m, 76, &u, &d, &w) == 0);
	put32(m + 40, 68);
	put16(m + 36, 0xffff);
	CHECK(auth_ntlm_parse(m, 76, &u, &d, &w) == 0);
	/* type 1 */
	put32(m + 8, 1);
	CHECK(auth_ntlm_parse(m, 16, &u, &d, &w) == 1);
	CHECK(auth_ntlm_parse((const uint8_t *)"garbage!", 8, &u, &d, &w) == 0);
	sbuf_free(&u);
	sbuf_free(&d);
	sbuf_free(&w);
}

/* Random bytes through every mechanism: no crash, no over-read (ASan). */
static void test_fuzz(void)
{
	static const char *mechs[] = { "LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER",
	                               "NTLM", "SCRAM-SHA-1", "GSSAPI" };
	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		struct auth_attempt a;
		begin(&a, mechs[round % 8]);
		for (int k = 0; k < 3; k++) {
			uint8_t raw[200];
			size_t n = (seed = seed * 1103515245 + 12345) % sizeof raw;
			for (size_t i = 0; i < n; i++)
				raw[i] = (uint8_t)((seed = seed * 1103515245 + 12345) >> 16);
			if (round % 8 == 5 && n >= 12)
				memcpy(raw, "NTLMSSP\0\3\0\0\0", 12);
			struct sbuf b = SBUF_INIT;
			b64_encode(&b, raw, n);
			struct auth_note nt;
			auth_client_response(&a, (const uint8_t *)(b.buf ? b.buf : ""), b.len, k == 0, &nt);
			auth_client_response(&a, raw, n, false, &nt);
			sbuf_free(&b);
		}
		CHECK(a.user.len <= AUTH_FIELD_MAX + 4);
		auth_attempt_free(&a);
	}
}

int main(void)
{
	test_mech_names();
	test_login();
	test_plain();
	test_cram_oauth();
	test_ntlm();
	test_fuzz();
	TEST_MAIN_END();
}
