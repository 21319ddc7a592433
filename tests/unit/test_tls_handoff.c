/* The TLS hand-off of the SMTP dissector (include/smtp.h, struct
 * smtp_tls_hook): which bytes go to the TLS layer, and how decrypted
 * application data comes back as SMTP. No TLS parser here: the hook records
 * what it is given, plaintext is fed by hand. */
#include "harness.h"
#include "test_smtp_capture.h"

#define GREET "220 mx.example ESMTP\r\n"

struct hook_rec {
	struct sbuf got[2];   /* bytes handed over per direction */
	uint64_t gaps[2];     /* gap bytes handed over */
	int calls[2];
};
static struct hook_rec g_h;

static void h_tls_data(void *u, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)ts;
	struct hook_rec *h = u;
	sbuf_add(&h->got[dir], p, n);
	h->calls[dir]++;
}
static void h_tls_gap(void *u, int dir, uint64_t len, uint64_t ts)
{
	(void)ts;
	struct hook_rec *h = u;
	h->gaps[dir] += len;
}

static struct smtp_session *tsess(bool implicit, uint16_t port)
{
	for (int d = 0; d < 2; d++)
		sbuf_free(&g_h.got[d]);
	memset(&g_h, 0, sizeof g_h);
	struct smtp_session *s = sess_new(false);
	g_flow.server.port = port;
	struct smtp_tls_hook hk = { h_tls_data, h_tls_gap, &g_h, implicit };
	smtp_session_set_tls(s, &hk);
	return s;
}

static void raw(struct smtp_session *s, int dir, const void *p, size_t n)
{
	smtp_session_data(s, dir, p, n, ++g_ts);
}
static void PC(struct smtp_session *s, const char *str)
{
	smtp_session_tls_plaintext(s, FLOW_C2S, (const uint8_t *)str, strlen(str), ++g_ts);
}
static void PS(struct smtp_session *s, const char *str)
{
	smtp_session_tls_plaintext(s, FLOW_S2C, (const uint8_t *)str, strlen(str), ++g_ts);
}

static const uint8_t CH[] = { 0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00 }; /* "ClientHello" */
static const uint8_t SH[] = { 0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00 };
static const uint8_t AD[] = { 0x17, 0x03, 0x03, 0x00, 0x03, 0xaa, 0xbb, 0xcc };       /* application data */

/* STARTTLS, the ClientHello held while awaiting the 220, more records
 * after, then the decrypted dialogue. */
static void test_starttls_handoff(void)
{
	struct smtp_session *s = tsess(false, 587);
	S(s, GREET);
	C(s, "EHLO c.example\r\n");
	S(s, "250-mx.example\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n");
	/* the ClientHello in the same write as STARTTLS: held, then TLS */
	uint8_t w[64];
	memcpy(w, "STARTTLS\r\n", 10);
	memcpy(w + 10, CH, sizeof CH);
	raw(s, FLOW_C2S, w, 10 + sizeof CH);
	CHECK(g_h.got[0].len == 0); /* nothing before the 220 */
	/* the 220 and the ServerHello in one segment */
	memcpy(w, "220 go ahead\r\n", 14);
	memcpy(w + 14, SH, sizeof SH);
	raw(s, FLOW_S2C, w, 14 + sizeof SH);
	CHECK_MEM(g_h.got[0].buf, g_h.got[0].len, CH, sizeof CH);
	CHECK_MEM(g_h.got[1].buf, g_h.got[1].len, SH, sizeof SH);
	CHECK(!has(&s->anoms, ANOM_SMTP_STARTTLS_PIPELINED));
	CHECK(s->starttls_injected == 0);
	raw(s, FLOW_C2S, AD, sizeof AD);
	raw(s, FLOW_S2C, AD, sizeof AD);
	CHECK(g_h.got[0].len == sizeof CH + sizeof AD);
	CHECK(g_h.got[1].len == sizeof SH + sizeof AD);
	CHECK(memcmp(g_h.got[0].buf + sizeof CH, AD, sizeof AD) == 0);
	CHECK(s->tls && !s->tls_decrypted && !s->tls_inner);
	/* the decrypted dialogue: EHLO again (RFC 3207 §4.2), AUTH, a message */
	PC(s, "EHLO c.example\r\n");
	CHECK(s->tls_inner && s->tls_decrypted);
	PS(s, "250-mx.example\r\n250 AUTH PLAIN LOGIN\r\n");
	PC(s, "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"); /* \0user\0secret */
	PS(s, "235 2.7.0 ok\r\n");
	PC(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	PS(s, "250 ok\r\n250 ok\r\n354 go\r\n");
	PC(s, "From: <a@b.example>\r\nSubject: hi\r\n\r\nbody\r\n.\r\n");
	PS(s, "250 queued\r\n");
	PC(s, "QUIT\r\n");
	PS(s, "221 bye\r\n");
	/* wire bytes keep going to the TLS layer, never to the parser */
	raw(s, FLOW_C2S, AD, sizeof AD);
	CHECK(g_h.got[0].len == sizeof CH + 2 * sizeof AD);
	CHECK(s->tls_bytes[0] == sizeof CH + 2 * sizeof AD);
	CHECK(s->tls_bytes[1] == sizeof SH + sizeof AD);
	CHECK(s->n_auth == 1 && s->auth[0].tls);
	CHECK(s->n_auth_clear == 0);
	CHECK(!has(&s->anoms, ANOM_SMTP_TLS_DECRYPTED));
	CHECK(s->caps.flags & SMTP_CAP_AUTH);
	CHECK(!(s->caps.flags & SMTP_CAP_STARTTLS)); /* the inner EHLO's */
	smtp_session_close(s, ++g_ts);
	CHECK(g_cap.n_txn == 1);
	CHECK(g_cap.txn[0].tls);
	CHECK_STR(g_cap.txn[0].mail, "a@b.example");
	CHECK_STR(g_cap.txn[0].rcpt, "c@d.example");
	CHECK(g_cap.txn[0].final_reply == 250);
	CHECK_STR(g_cap.txn[0].auth_user, "user");
	CHECK(logged("C TLS decrypted\n"));
	CHECK(logged("R 221"));
	smtp_session_free(s);
}

/* The ClientHello in a later segment than STARTTLS but before the 220
 * (held), and commands injected before it (CVE-2011-0411): the commands are
 * discarded, the record goes on. */
static void test_held_and_injected(void)
{
	struct smtp_session *s = tsess(false, 25);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250-mx\r\n250 STARTTLS\r\n");
	C(s, "STARTTLS\r\n");
	raw(s, FLOW_C2S, CH, 3); /* split record header */
	raw(s, FLOW_C2S, CH + 3, sizeof CH - 3);
	S(s, "220 ready\r\n");
	CHECK_MEM(g_h.got[0].buf, g_h.got[0].len, CH, sizeof CH);
	end(s);

	s = tsess(false, 25);
	S(s, GREET);
	uint8_t w[64];
	memcpy(w, "STARTTLS\r\nRSET\r\nMAIL FROM:<x@y>\r\n", 33);
	memcpy(w + 33, CH, sizeof CH);
	raw(s, FLOW_C2S, w, 33 + sizeof CH);
	S(s, "220 ready\r\n");
	CHECK(s->starttls_injected == 23);
	CHECK(has(&s->anoms, ANOM_SMTP_STARTTLS_PIPELINED));
	CHECK_MEM(g_h.got[0].buf, g_h.got[0].len, CH, sizeof CH);
	CHECK(s->n_commands == 1);
	end(s);
	CHECK(logged("C discarded\n"));

	/* commands only: all discarded, nothing to the TLS layer until a record */
	s = tsess(false, 25);
	S(s, GREET);
	C(s, "STARTTLS\r\nRSET\r\n");
	S(s, "220 go ahead\r\n");
	CHECK(s->starttls_injected == 6);
	CHECK(g_h.got[0].len == 0);
	raw(s, FLOW_C2S, CH, sizeof CH);
	CHECK_MEM(g_h.got[0].buf, g_h.got[0].len, CH, sizeof CH);
	end(s);
}

/* After the 220, bytes that are not TLS are counted, never handed over. */
static void test_no_handshake(void)
{
	struct smtp_session *s = tsess(false, 25);
	S(s, GREET);
	C(s, "STARTTLS\r\n");
	S(s, "220 go ahead\r\n");
	static const uint8_t junk[] = { 0x00, 0x01, 0x02, 0x03 };
	raw(s, FLOW_C2S, junk, sizeof junk);
	raw(s, FLOW_S2C, junk, sizeof junk);
	CHECK(has(&s->anoms, ANOM_SMTP_TLS_UNKNOWN_PROTOCOL));
	CHECK(g_h.got[0].len == 0 && g_h.got[1].len == 0);
	CHECK(s->tls_bytes[0] == sizeof junk && s->tls_bytes[1] == sizeof junk);
	end(s);
	/* a decrypted capture: plain SMTP after the 220 (the old detection) */
	s = tsess(false, 25);
	S(s, GREET);
	C(s, "STARTTLS\r\n");
	S(s, "220 go ahead\r\n");
	C(s, "EHLO c\r\n");
	CHECK(has(&s->anoms, ANOM_SMTP_TLS_DECRYPTED));
	CHECK(s->tls_decrypted && !s->tls_inner);
	CHECK(g_h.got[0].len == 0);
	end(s);
}

/* Implicit TLS (RFC 8314): from the first byte; the greeting comes inside. */
static void test_implicit(void)
{
	struct smtp_session *s = tsess(true, 465);
	raw(s, FLOW_C2S, CH, sizeof CH);
	raw(s, FLOW_S2C, SH, sizeof SH);
	CHECK(s->tls);
	CHECK(!has(&s->anoms, ANOM_SMTP_IMPLICIT_TLS)); /* expected on a TLS port */
	CHECK(!has(&s->anoms, ANOM_SMTP_TLS_PORT_CLEARTEXT));
	CHECK_MEM(g_h.got[0].buf, g_h.got[0].len, CH, sizeof CH);
	CHECK_MEM(g_h.got[1].buf, g_h.got[1].len, SH, sizeof SH);
	PS(s, "220 mx.example ESMTP\r\n");
	PC(s, "EHLO c\r\n");
	PS(s, "250 mx.example\r\n");
	PC(s, "MAIL FROM:<a@b.example>\r\n");
	PS(s, "250 ok\r\n");
	CHECK(s->greeting_code == 220);
	CHECK(s->n_commands == 2);
	/* a gap in the ciphertext goes to the TLS layer, the inner gap comes back */
	smtp_session_gap(s, FLOW_C2S, 100, ++g_ts);
	CHECK(g_h.gaps[0] == 100);
	CHECK(!has(&s->anoms, ANOM_SMTP_CONTENT_GAP));
	smtp_session_tls_gap(s, FLOW_C2S, 50, ++g_ts);
	CHECK(has(&s->anoms, ANOM_SMTP_CONTENT_GAP));
	CHECK(s->n_gaps == 1 && s->gap_bytes[0] == 100);
	end(s);
	CHECK(g_cap.n_txn == 1 && g_cap.txn[0].tls);

	/* the same on a port not given as TLS: the old anomaly stays */
	s = tsess(false, 25);
	raw(s, FLOW_C2S, CH, sizeof CH);
	CHECK(has(&s->anoms, ANOM_SMTP_IMPLICIT_TLS));
	CHECK_MEM(g_h.got[0].buf, g_h.got[0].len, CH, sizeof CH);
	end(s);

	/* cleartext on a TLS port: an anomaly, analysed as SMTP */
	s = tsess(true, 465);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250 mx\r\n");
	CHECK(has(&s->anoms, ANOM_SMTP_TLS_PORT_CLEARTEXT));
	CHECK(!s->tls && s->n_commands == 1 && s->greeting_code == 220);
	end(s);

	/* a decryption gap before any plaintext: nothing invented */
	s = tsess(true, 465);
	raw(s, FLOW_C2S, CH, sizeof CH);
	smtp_session_tls_gap(s, FLOW_S2C, 10, ++g_ts);
	CHECK(!s->tls_inner && !s->tls_decrypted && s->n_replies == 0);
	end(s);
}

/* starttls_stripped evidence: a masked capability, a refused STARTTLS
 * the client went on after. */
static void test_strip_evidence(void)
{
	struct smtp_session *s = tsess(false, 25);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250-mx\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n");
	CHECK(s->starttls_masked);
	CHECK(!(s->caps.flags & SMTP_CAP_STARTTLS));
	end(s);
	static const char *near[] = { "250-XXXXXXXXA\r\n", "250-AAAAAAAA\r\n", "250-XCLIENTX\r\n", "250-XXXXXXA\r\n" };
	for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
		s = tsess(false, 25);
		S(s, GREET);
		C(s, "EHLO c\r\n");
		S(s, "250-mx\r\n");
		S(s, near[i]);
		S(s, "250 8BITMIME\r\n");
		CHECK(!s->starttls_masked);
		end(s);
	}
	/* refused while advertised, then MAIL in clear */
	s = tsess(false, 25);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250-mx\r\n250 STARTTLS\r\n");
	C(s, "STARTTLS\r\n");
	S(s, "454 4.7.0 TLS not available\r\n");
	CHECK(s->starttls_refused == 454 && !s->starttls_refused_continued);
	C(s, "MAIL FROM:<a@b>\r\n");
	CHECK(s->starttls_refused_continued);
	end(s);
	/* near miss: refused, then QUIT */
	s = tsess(false, 25);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250-mx\r\n250 STARTTLS\r\n");
	C(s, "STARTTLS\r\n");
	S(s, "554 no\r\n");
	C(s, "QUIT\r\n");
	CHECK(s->starttls_refused == 554 && !s->starttls_refused_continued);
	end(s);
	/* near miss: not advertised (a client trying its luck) */
	s = tsess(false, 25);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250 mx\r\n");
	C(s, "STARTTLS\r\n");
	S(s, "502 unknown command\r\n");
	C(s, "MAIL FROM:<a@b>\r\n");
	CHECK(s->starttls_refused == 0 && !s->starttls_refused_continued);
	end(s);
}

/* Bytes split anywhere: the hook gets the same bytes. */
static void test_byte_at_a_time(void)
{
	struct smtp_session *s = tsess(false, 25);
	S1(s, GREET);
	C1(s, "EHLO c\r\n");
	S1(s, "250-mx\r\n250 STARTTLS\r\n");
	C1(s, "STARTTLS\r\n");
	for (size_t i = 0; i < sizeof CH; i++)
		raw(s, FLOW_C2S, CH + i, 1);
	S1(s, "220 ready\r\n");
	for (size_t i = 0; i < sizeof SH; i++)
		raw(s, FLOW_S2C, SH + i, 1);
	CHECK_MEM(g_h.got[0].buf, g_h.got[0].len, CH, sizeof CH);
	CHECK_MEM(g_h.got[1].buf, g_h.got[1].len, SH, sizeof SH);
	end(s);
}

int main(void)
{
	test_starttls_handoff();
	test_held_and_injected();
	test_no_handshake();
	test_implicit();
	test_strip_evidence();
	test_byte_at_a_time();
	cap_reset();
	for (int d = 0; d < 2; d++)
		sbuf_free(&g_h.got[d]);
	TEST_MAIN_END();
}
