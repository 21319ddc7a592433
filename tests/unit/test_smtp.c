/* Unit tests of the SMTP dissector (src/smtp.c): byte strings in, events,
 * transactions and message bytes out. */
#include <malloc.h>
#include <time.h>

#include "harness.h"
#include "codec.h"
#include "test_smtp_capture.h"

static const char *GREET = "220 mx.example.net ESMTP\r\n";
static const char *EHLO_REPLY =
	"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
	"250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n"
	"250 STARTTLS\r\n";

/* A plain dialogue, fed in ordinary segments or one byte per segment. */
static void run_basic(int bytewise)
{
	struct smtp_session *s = sess_new(false);
	void (*c)(struct smtp_session *, const char *) = bytewise ? C1 : C;
	void (*v)(struct smtp_session *, const char *) = bytewise ? S1 : S;
	v(s, GREET);
	c(s, "EHLO client.example.org\r\n");
	v(s, EHLO_REPLY);
	c(s, "MAIL FROM:<a@b.example> SIZE=120 BODY=8BITMIME SMTPUTF8\r\n");
	v(s, "250 2.1.0 Ok\r\n");
	c(s, "RCPT TO:<c@d.example> NOTIFY=NEVER\r\n");
	v(s, "250 2.1.5 Ok\r\n");
	c(s, "RCPT TO:<nobody@d.example>\r\n");
	v(s, "550 5.1.1 <nobody@d.example>: Recipient address rejected\r\n");
	c(s, "DATA\r\n");
	v(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
	c(s, "Subject: hi\r\n\r\n..leading dot\r\nline2\r\n.\r\n");
	v(s, "250 2.0.0 Ok: queued as 1234\r\n");
	c(s, "QUIT\r\n");
	v(s, "221 2.0.0 Bye\r\n");
	end(s);

	CHECK(g_cap.n_txn == 1);
	struct cap_txn *t = &g_cap.txn[0];
	CHECK_STR(t->mail, "a@b.example");
	CHECK_STR(t->rcpt, "c@d.example");
	CHECK_STR(t->rejected, "nobody@d.example");
	CHECK(t->mail_reply == 250);
	CHECK(t->data_reply == 354);
	CHECK(t->final_reply == 250);
	CHECK(t->has_size && t->size == 120);
	CHECK_STR(t->params_body, "8BITMIME");
	CHECK(t->smtputf8);
	CHECK_STR(t->helo, "client.example.org");
	CHECK_STR(t->last_reply, "250 2.0.0 Ok: queued as 1234");
	const char *want = "Subject: hi\r\n\r\n.leading dot\r\nline2\r\n";
	CHECK_MEM(t->body.buf, t->body.len, want, strlen(want));
	CHECK(t->bytes == strlen(want));
	CHECK(t->lines == 4);
	CHECK(t->complete);
	CHECK(t->end == SMTP_TXN_END_MESSAGE);
	CHECK(t->begins == 1 && t->ends == 1);
	CHECK(!anom_any(&t->anoms));
	CHECK(g_cap.caps.flags & SMTP_CAP_PIPELINING);
	CHECK(g_cap.caps.flags & SMTP_CAP_CHUNKING);
	CHECK(g_cap.caps.flags & SMTP_CAP_STARTTLS);
	CHECK(g_cap.caps.flags & SMTP_CAP_ENHANCEDSTATUSCODES);
	CHECK(g_cap.caps.size == 10240000);
	CHECK_STR(g_cap.caps.auth, "PLAIN LOGIN CRAM-MD5");
	CHECK(g_cap.greeting_code == 220);
	CHECK(g_cap.n_commands == 6);
	CHECK(logged("R 250 MAIL ok\n"));
	CHECK(logged("R 550 RCPT rejected\n"));
	CHECK(logged("R 250 message ok\n"));
	CHECK(logged("R 221 QUIT ok\n"));
	CHECK(!anom_any(&g_cap.anoms));
}

/* MAIL, RCPT, DATA in one segment, replies in one; multi-line reply one line per segment. */
static void test_pipelined(void)
{
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250-mx\r\n");
	S(s, "250-PIPELINING\r\n");
	S(s, "250 8BITMIME\r\n");
	C(s, "MAIL FROM:<x@y.example>\r\nRCPT TO:<r1@z.example>\r\nRCPT TO:<r2@z.example>\r\nDATA\r\n");
	S(s, "250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n354 go\r\n");
	C(s, "body\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<r3@z.example>\r\nDATA\r\n");
	S(s, "250 queued\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	C(s, "second\r\n.\r\nQUIT\r\n");
	S(s, "250 queued 2\r\n221 bye\r\n");
	end(s);
	CHECK(g_cap.n_txn == 2);
	CHECK_STR(g_cap.txn[0].mail, "x@y.example");
	CHECK_STR(g_cap.txn[0].rcpt, "r1@z.example");
	CHECK_STR(g_cap.txn[0].rejected, "r2@z.example");
	CHECK(g_cap.txn[0].final_reply == 250);
	CHECK_MEM(g_cap.txn[0].body.buf, g_cap.txn[0].body.len, "body\r\n", 6);
	CHECK(g_cap.txn[1].has_mail);
	CHECK_STR(g_cap.txn[1].mail, ""); /* null sender */
	CHECK_STR(g_cap.txn[1].rcpt, "r3@z.example");
	CHECK_STR(g_cap.txn[1].last_reply, "250 queued 2");
	CHECK(g_cap.caps.flags & SMTP_CAP_PIPELINING);
	CHECK(logged("R 451 RCPT tempfail\n"));
}

/* A reply lost (glued to the greeting, suricata-verify detect-email-received):
 * the 354 still pairs with DATA and the message is read as a message. */
static void test_reply_resync_on_354(void)
{
	struct smtp_session *s = sess_new(false);
	C(s, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@z.example>\r\nDATA\r\n");
	S(s, "220 mx ESMTP 250-glued\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	C(s, "Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
	S(s, "250 queued\r\n221 bye\r\n");
	end(s);
	CHECK(g_cap.n_txn == 1);
	CHECK(g_cap.txn[0].data_reply == 354);
	CHECK(g_cap.txn[0].final_reply == 250);
	CHECK_MEM(g_cap.txn[0].body.buf, g_cap.txn[0].body.len, "Subject: hi\r\n\r\nbody\r\n", 21);
	CHECK(anom_count(ANOM_SMTP_REPLY_RESYNC) > 0);
}

/* The whole dialogue before the 220 (arkime smtp-moloch-bof.pcap). */
static void test_blind_pipelining(void)
{
	struct smtp_session *s = sess_new(false);
	C(s, "HELO ADCDTEST\r\nMAIL FROM:<ibmuser@zpdt.example.com>\r\nRCPT TO:<m@example.com>\r\n"
	     "DATA\r\nFrom: m@zpdt.example.com\r\nSubject: MIME test\r\n\r\nHi\r\n.\r\nQUIT\r\n");
	S(s, "220 localhost ESMTP Sendmail\r\n250 localhost Hello\r\n250 2.1.0 Sender ok\r\n"
	     "250 2.1.5 Recipient ok\r\n354 Enter mail\r\n");
	S(s, "250 2.0.0 Message accepted for delivery\r\n221 2.0.0 closing connection\r\n");
	end(s);
	CHECK(g_cap.n_txn == 1);
	struct cap_txn *t = &g_cap.txn[0];
	CHECK_STR(t->mail, "ibmuser@zpdt.example.com");
	CHECK_STR(t->rcpt, "m@example.com");
	CHECK(t->data_reply == 354);
	CHECK(t->final_reply == 250);
	CHECK_STR(t->helo, "ADCDTEST");
	const char *want = "From: m@zpdt.example.com\r\nSubject: MIME test\r\n\r\nHi\r\n";
	CHECK_MEM(t->body.buf, t->body.len, want, strlen(want));
	CHECK(has(&t->anoms, ANOM_SMTP_DATA_PIPELINED));
	CHECK(g_cap.greeting_code == 220);
	CHECK(logged("R 220 greeting\n"));
	CHECK(logged("R 221 QUIT ok\n"));
	CHECK(!has(&g_cap.anoms, ANOM_SMTP_UNEXPECTED_REPLY));
}

/* DATA rejected although the client pipelined a body: the body is commands. */
static void test_data_rejected_pipelined(void)
{
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250 mx\r\n");
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<bad@d.example>\r\nDATA\r\nSubject: x\r\n\r\nhello\r\n.\r\n");
	S(s, "250 ok\r\n550 no such user\r\n554 5.5.1 Error: no valid recipients\r\n");
	S(s, "500 unrecognized command\r\n500 unrecognized command\r\n500 unrecognized command\r\n"
	     "500 unrecognized command\r\n");
	C(s, "QUIT\r\n");
	S(s, "221 bye\r\n");
	end(s);
	CHECK(g_cap.n_txn == 1);
	struct cap_txn *t = &g_cap.txn[0];
	CHECK(t->data_reply == 554);
	CHECK(!t->started);
	CHECK(t->begins == 0);
	CHECK(t->bytes == 0);
	CHECK_STR(t->rejected, "bad@d.example");
	CHECK(has(&t->anoms, ANOM_SMTP_DATA_REJECTED));
	CHECK(g_cap.n_unknown == 4); /* "Subject: x", "", "hello", "." */
	CHECK(logged("R 221 QUIT ok\n"));
	CHECK(!has(&g_cap.anoms, ANOM_SMTP_UNEXPECTED_REPLY));
}

/* suricata-verify smtp-ehlo-reset-after-rejected-data and
 * smtp-rejected-ehlo-preserves-envelope. */
static void test_helo_reset(void)
{
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "helo client.example.com\r\n");
	S(s, "250 mx\r\n");
	C(s, "data\r\n");
	S(s, "503 5.5.1 Error: need RCPT command\r\n");
	C(s, "ehlo client.example.com\r\n");
	S(s, "250-mx\r\n250 CHUNKING\r\n");
	C(s, "mail from:<bob@example.com>\r\n");
	S(s, "250 2.1.0 Ok\r\n");
	C(s, "rcpt to:<alice@example.com>\r\n");
	S(s, "250 2.1.5 Ok\r\n");
	C(s, "data\r\n");
	S(s, "354 go\r\n");
	C(s, "From: bob@example.com\r\n\r\nhi\r\n.\r\n");
	S(s, "250 2.0.0 Ok: queued\r\n");
	end(s);
	CHECK(g_cap.n_txn == 2);
	CHECK(!g_cap.txn[0].has_mail);
	CHECK(g_cap.txn[0].data_reply == 503);
	CHECK(g_cap.txn[0].end == SMTP_TXN_END_HELO);
	CHECK_STR(g_cap.txn[0].helo, "client.example.com");
	CHECK_STR(g_cap.txn[1].mail, "bob@example.com");
	CHECK_STR(g_cap.txn[1].rcpt, "alice@example.com");
	CHECK(g_cap.txn[1].final_reply == 250);

	s = sess_new(false);
	S(s, GREET);
	C(s, "helo client.example.com\r\n");
	S(s, "250 mx\r\n");
	C(s, "mail from:<alice@example.com>\r\n");
	S(s, "250 2.1.0 Ok\r\n");
	C(s, "ehlo\r\n");
	S(s, "501 Syntax: EHLO hostname\r\n");
	C(s, "rcpt to:<bob@example.com>\r\n");
	S(s, "250 2.1.5 Ok\r\n");
	C(s, "data\r\n");
	S(s, "354 go\r\n");
	C(s, "Subject: x\r\n\r\nbody\r\n.\r\n");
	S(s, "250 2.0.0 Ok: queued\r\n");
	C(s, "QUIT\r\n");
	S(s, "221 Bye\r\n");
	end(s);
	CHECK(g_cap.n_txn == 1);
	CHECK_STR(g_cap.txn[0].mail, "alice@example.com");
	CHECK_STR(g_cap.txn[0].rcpt, "bob@example.com");
	CHECK(g_cap.txn[0].complete);
}

static void test_bdat(void)
{
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, EHLO_REPLY);
	/* two chunks, the second pipelined in the same segment as the first */
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 6\r\nSubj\r\n");
	C(s, "BDAT 8 LAST\r\n\r\nhello\n");
	S(s, "250 ok\r\n250 ok\r\n250 2.0.0 6 octets\r\n250 2.0.0 Ok: queued\r\n");
	/* next MAIL without RSET; BDAT 0 LAST must not swallow QUIT */
	C(s, "MAIL FROM:<e@f.example>\r\nRCPT TO:<g@h.example>\r\nBDAT 0 LAST\r\nNOOP\r\n");
	S(s, "250 ok\r\n250 ok\r\n250 2.0.0 Ok: queued 0\r\n250 noop\r\n");
	end(s);
	CHECK(g_cap.n_txn == 2);
	struct cap_txn *t = &g_cap.txn[0];
	CHECK(t->xfer == SMTP_XFER_BDAT);
	CHECK_MEM(t->body.buf, t->body.len, "Subj\r\n\r\nhello\n", 14);
	CHECK(t->bytes == 14);
	CHECK(t->final_reply == 250);
	CHECK(t->complete);
	CHECK_STR(t->last_reply, "250 2.0.0 Ok: queued");
	t = &g_cap.txn[1];
	CHECK_STR(t->mail, "e@f.example");
	CHECK_STR(t->rcpt, "g@h.example");
	CHECK(t->bytes == 0 && t->complete);
	CHECK(t->final_reply == 250);
	CHECK(logged("C NOOP\n"));
	CHECK(logged("R 250 NOOP ok\n"));
}

static void test_bdat_invalid(void)
{
	static const char *bad[] = { "BDAT -1", "BDAT 18446744073709551616", "BDAT 18446744073709551615",
	                             "BDAT", "BDAT 10 junk", "BDAT 5LAST", NULL };
	for (int i = 0; bad[i]; i++) {
		struct smtp_session *s = sess_new(false);
		S(s, GREET);
		C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
		C(s, bad[i]);
		C(s, "\r\nRSET\r\n");
		S(s, "250 ok\r\n250 ok\r\n521 5.5.4 Syntax: BDAT count [LAST]\r\n250 reset\r\n");
		end(s);
		CHECK(g_cap.n_txn == 1);
		CHECK(has(&g_cap.txn[0].anoms, ANOM_SMTP_INVALID_BDAT));
		CHECK(g_cap.txn[0].begins == 0);
		CHECK(g_cap.txn[0].end == SMTP_TXN_END_RSET);
		CHECK_STR(g_cap.txn[0].last_reply, "250 reset");
		CHECK(logged("C RSET\n")); /* parsed as a command, not swallowed */
	}
	/* a huge but valid size enters data mode and counts */
	struct smtp_session *s = sess_new(false);
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 2000000000 LAST\r\nabc");
	end(s);
	CHECK(g_cap.n_txn == 1);
	CHECK(has(&g_cap.txn[0].anoms, ANOM_SMTP_HUGE_BDAT));
	CHECK(has(&g_cap.txn[0].anoms, ANOM_SMTP_DATA_INCOMPLETE));
	CHECK(g_cap.txn[0].bytes == 3);
}

/* 334 dialogue helper: AUTH line, then alternate server/client lines. */
static void test_auth_login(void)
{
	/* standard prompts */
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "AUTH LOGIN\r\n");
	S(s, "334 VXNlcm5hbWU6\r\n");
	C(s, "dmFzaWE=\r\n");
	S(s, "334 UGFzc3dvcmQ6\r\n");
	C(s, "cHcx\r\n");
	S(s, "235 2.7.0 Authentication successful\r\n");
	C(s, "MAIL FROM:<vasia@example.com>\r\n");
	S(s, "250 ok\r\n");
	end(s);
	CHECK(g_cap.n_auth == 1);
	CHECK_STR(g_cap.auth_user[0], "vasia");
	CHECK_STR(g_cap.auth_secret[0], "pw1");
	CHECK(g_cap.auth_result[0] == AUTH_RESULT_SUCCESS);
	CHECK(logged("C AUTH LOGIN username: vasia\n"));
	CHECK(logged("C AUTH LOGIN password: ********\n")); /* masked without show_secrets */
	CHECK(!logged("pw1"));
	CHECK(logged("R 235 AUTH ok\n"));
	CHECK(g_cap.n_txn == 1);
	CHECK_STR(g_cap.txn[0].auth_user, "vasia");

	/* odd prompt text ("User Name\0") and show_secrets */
	s = sess_new(true);
	S(s, GREET);
	C(s, "auth login\r\n");
	S(s, "334 VXNlciBOYW1lAA==\r\n");
	C(s, "dmFzaWE=\r\n");
	S(s, "334 something else\r\n");
	C(s, "cHcx\r\n");
	S(s, "235 ok\r\n");
	end(s);
	CHECK_STR(g_cap.auth_user[0], "vasia");
	CHECK_STR(g_cap.auth_secret[0], "pw1");
	CHECK(logged("C AUTH LOGIN password: pw1\n"));

	/* username as initial response */
	s = sess_new(false);
	S(s, GREET);
	C(s, "AUTH LOGIN dmFzaWE=\r\n");
	S(s, "334 UGFzc3dvcmQ6\r\n");
	C(s, "cHcx\r\n");
	S(s, "535 5.7.8 Authentication failed\r\n");
	C(s, "AUTH LOGIN\r\n");
	S(s, "334 VXNlcm5hbWU6\r\n");
	C(s, "dmFzaWE=\r\n");
	S(s, "334 UGFzc3dvcmQ6\r\n");
	C(s, "cHcx\r\n");
	S(s, "235 ok\r\n");
	C(s, "QUIT\r\n");
	S(s, "221 bye\r\n");
	end(s);
	CHECK(g_cap.n_auth == 2);
	CHECK(g_cap.auth_result[0] == AUTH_RESULT_FAILURE);
	CHECK(g_cap.auth_result[1] == AUTH_RESULT_SUCCESS);
	CHECK_STR(g_cap.auth_user[0], "vasia");
	CHECK_STR(g_cap.auth_secret[0], "pw1");
	CHECK(logged("C AUTH LOGIN username: vasia\n"));
	CHECK(logged("R 535 AUTH rejected\n"));
	CHECK(logged("R 221 QUIT ok\n")); /* the 535 did not derail the session */
}

static void test_auth_plain_cram_oauth(void)
{
	/* PLAIN inline */
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n");
	S(s, "235 ok\r\n");
	end(s);
	CHECK_STR(g_cap.auth_user[0], "alice");
	CHECK_STR(g_cap.auth_secret[0], "s3cret");
	CHECK(g_cap.auth_result[0] == AUTH_RESULT_SUCCESS);
	CHECK(logged("C AUTH PLAIN credentials: alice\n"));
	/* PLAIN after an empty 334, with an authzid */
	s = sess_new(false);
	S(s, GREET);
	C(s, "AUTH PLAIN\r\n");
	S(s, "334 \r\n");
	C(s, "YWRtaW4AYm9iAGh1bnRlcjI=\r\n");
	S(s, "535 no\r\n");
	end(s);
	CHECK_STR(g_cap.auth_user[0], "bob");
	CHECK_STR(g_cap.auth_secret[0], "hunter2");
	CHECK(g_cap.auth_result[0] == AUTH_RESULT_FAILURE);
	/* CRAM-MD5 (RFC 2195 example) */
	s = sess_new(false);
	S(s, GREET);
	C(s, "AUTH CRAM-MD5\r\n");
	S(s, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n");
	C(s, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
	S(s, "235 ok\r\n");
	end(s);
	CHECK_STR(g_cap.auth_user[0], "tim");
	CHECK_STR(g_cap.auth_secret[0], "b913a602c7eda7a495b4e6e7334d3890");
	CHECK_STR(g_cap.auth_challenge[0], "<1896.697170952@postoffice.example.net>");
	CHECK(g_cap.auth_result[0] == AUTH_RESULT_SUCCESS);
	/* XOAUTH2 inline, with an error challenge and the empty answer */
	s = sess_new(false);
	S(s, GREET);
	C(s, "AUTH XOAUTH2 dXNlcj1ib2JAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEyOS5UT0tFTgEB\r\n");
	S(s, "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n");
	C(s, "\r\n");
	S(s, "535 5.7.8 bad token\r\n");
	C(s, "NOOP\r\n");
	S(s, "250 ok\r\n");
	end(s);
	CHECK_STR(g_cap.auth_user[0], "bob@example.com");
	CHECK_STR(g_cap.auth_secret[0], "Bearer ya29.TOKEN");
	CHECK(g_cap.auth_result[0] == AUTH_RESULT_FAILURE);
	CHECK(!logged("ya29"));
	CHECK(logged("R 250 NOOP ok\n"));
	/* OAUTHBEARER after 334 */
	s = sess_new(false);
	S(s, GREET);
	C(s, "AUTH OAUTHBEARER\r\n");
	S(s, "334 \r\n");
	C(s, "bixhPWNhcm9sQGV4YW1wbGUuY29tLAFob3N0PW14AXBvcnQ9NTg3AWF1dGg9QmVhcmVyIFRPSzIBAQ==\r\n");
	S(s, "235 ok\r\n");
	end(s);
	CHECK_STR(g_cap.auth_user[0], "carol@example.com");
	CHECK(g_cap.auth_result[0] == AUTH_RESULT_SUCCESS);
	/* cancel */
	s = sess_new(false);
	S(s, GREET);
	C(s, "AUTH LOGIN\r\n");
	S(s, "334 VXNlcm5hbWU6\r\n");
	C(s, "*\r\n");
	S(s, "501 5.7.0 cancelled\r\n");
	C(s, "QUIT\r\n");
	S(s, "221 bye\r\n");
	end(s);
	CHECK(g_cap.auth_result[0] == AUTH_RESULT_CANCELLED);
	CHECK(logged("C AUTH LOGIN cancel\n"));
	CHECK(logged("R 221 QUIT ok\n"));
	/* invalid base64: an anomaly, not a crash */
	s = sess_new(false);
	S(s, GREET);
	C(s, "AUTH LOGIN\r\n");
	S(s, "334 VXNlcm5hbWU6\r\n");
	C(s, "!!!not*base64\r\n");
	S(s, "501 bad\r\n");
	end(s);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_AUTH_BAD_BASE64));
}

/* NTLM: negotiate, challenge, authenticate with user/domain in UTF-16LE. */
static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }
static size_t utf16(uint8_t *dst, const char *s)
{
	size_t n = 0;
	for (; *s; s++) {
		dst[n++] = (uint8_t)*s;
		dst[n++] = 0;
	}
	return n;
}

static void test_auth_ntlm(void)
{
	uint8_t t1[40] = "NTLMSSP";
	put32(t1 + 8, 1);
	put32(t1 + 12, 0x00088207);
	uint8_t t3[256] = "NTLMSSP";
	put32(t3 + 8, 3);
	size_t off = 72;
	size_t dl = utf16(t3 + off, "ARKDOM1");
	put16(t3 + 28, (unsigned)dl); put16(t3 + 30, (unsigned)dl); put32(t3 + 32, (uint32_t)off);
	off += dl;
	size_t ul = utf16(t3 + off, "alice1");
	put16(t3 + 36, (unsigned)ul); put16(t3 + 38, (unsigned)ul); put32(t3 + 40, (uint32_t)off);
	off += ul;
	size_t wl = utf16(t3 + off, "HOST1");
	put16(t3 + 44, (unsigned)wl); put16(t3 + 46, (unsigned)wl); put32(t3 + 48, (uint32_t)off);
	off += wl;
	put32(t3 + 60, 0x00088205); /* UNICODE */
	struct sbuf b1 = SBUF_INIT, b3 = SBUF_INIT, line = SBUF_INIT;
	b64_encode(&b1, t1, sizeof t1);
	b64_encode(&b3, t3, off);

	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	sbuf_adds(&line, "AUTH NTLM ");
	sbuf_add(&line, b1.buf, b1.len);
	sbuf_adds(&line, "\r\n");
	C(s, line.buf);
	S(s, "334 TlRMTVNTUAACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n");
	sbuf_clear(&line);
	sbuf_add(&line, b3.buf, b3.len);
	sbuf_adds(&line, "\r\n");
	C(s, line.buf);
	S(s, "235 2.7.0 ok\r\n");
	end(s);
	CHECK_STR(g_cap.auth_user[0], "alice1");
	CHECK_STR(g_cap.auth_domain[0], "ARKDOM1");
	CHECK(g_cap.auth_result[0] == AUTH_RESULT_SUCCESS);
	CHECK(logged("C AUTH NTLM NTLM authenticate user: alice1\n"));
	sbuf_free(&b1);
	sbuf_free(&b3);
	sbuf_free(&line);
}

static void test_unknown_and_bare_lf(void)
{
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "helo x\nXYZZY plugh\nmail from:<a@b.example>\n");
	S(s, "250 hi\r\n502 5.5.2 Error: command not recognized\r\n250 ok\r\n");
	end(s);
	CHECK(logged("C unknown\n"));
	CHECK(logged("R 502 unknown rejected\n"));
	CHECK(logged("R 250 MAIL ok\n"));
	CHECK(g_cap.n_unknown == 1);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_UNKNOWN_COMMAND));
	CHECK(has(&g_cap.anoms, ANOM_SMTP_BARE_LF));
	CHECK(g_cap.n_txn == 1 && g_cap.txn[0].end == SMTP_TXN_END_CLOSE);
	CHECK_STR(g_cap.txn[0].mail, "a@b.example");
	/* "MAIL FROM: addr" with a space and no brackets (the seed tutorial) */
	s = sess_new(false);
	C(s, "MAIL FROM: joe@example.com\r\nRCPT TO: <ann@example.com>\r\n");
	end(s);
	CHECK_STR(g_cap.txn[0].mail, "joe@example.com");
	CHECK_STR(g_cap.txn[0].rcpt, "ann@example.com");
}

static void test_long_line(void)
{
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	size_t chunk = 64 * 1024;
	uint8_t *buf = malloc(chunk);
	memset(buf, 'A', chunk);
	memcpy(buf, "NOOP ", 5);
	struct mallinfo2 before = mallinfo2();
	for (size_t sent = 0; sent < 10u * 1024 * 1024; sent += chunk) {
		smtp_session_data(s, FLOW_C2S, buf, chunk, ++g_ts);
		memset(buf, 'A', 5);
	}
	struct mallinfo2 after = mallinfo2();
	CHECK(after.uordblks < before.uordblks + 256 * 1024); /* bounded memory */
	C(s, "\r\nQUIT\r\n");
	S(s, "250 ok\r\n221 bye\r\n");
	end(s);
	free(buf);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_LINE_TOO_LONG));
	CHECK(logged("C NOOP\n"));
	CHECK(logged("R 221 QUIT ok\n"));
	/* the same with no LF at all until the end */
	s = sess_new(false);
	buf = malloc(chunk);
	memset(buf, 'B', chunk);
	for (size_t sent = 0; sent < 10u * 1024 * 1024; sent += chunk)
		smtp_session_data(s, FLOW_C2S, buf, chunk, ++g_ts);
	end(s);
	free(buf);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_UNTERMINATED_LINE));
	CHECK(g_cap.n_commands == 1);
}

static void test_starttls(void)
{
	/* accepted, then a TLS record */
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, EHLO_REPLY);
	C(s, "STARTTLS\r\n");
	S(s, "220 2.0.0 Ready to start TLS\r\n");
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x00, 0x05, 'M', 'A', 'I', 'L', '\n' };
	smtp_session_data(s, FLOW_C2S, hello, sizeof hello, ++g_ts);
	static const uint8_t shello[] = { 0x16, 0x03, 0x03, 0x00, 0x02, '2', '5' };
	smtp_session_data(s, FLOW_S2C, shello, sizeof shello, ++g_ts);
	C(s, "MAIL FROM:<hidden@x>\r\n");
	end(s);
	CHECK(g_cap.tls);
	CHECK(!g_cap.tls_decrypted);
	CHECK(g_cap.tls_bytes[0] == sizeof hello + 22);
	CHECK(g_cap.tls_bytes[1] == sizeof shello);
	CHECK(g_cap.n_commands == 2);
	CHECK(g_cap.n_txn == 0);
	/* refused */
	s = sess_new(false);
	S(s, GREET);
	C(s, "STARTTLS\r\n");
	S(s, "454 4.7.0 TLS not available\r\n");
	C(s, "MAIL FROM:<a@b.example>\r\n");
	S(s, "250 ok\r\n");
	end(s);
	CHECK(!g_cap.tls);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_STARTTLS_REJECTED));
	CHECK(g_cap.n_txn == 1 && !g_cap.txn[0].tls);
	CHECK_STR(g_cap.txn[0].mail, "a@b.example");
	/* decrypted capture (arkime smtp-decrypted.pcap) */
	s = sess_new(false);
	S(s, GREET);
	C(s, "EHLO TRANSIT-MTA\r\n");
	S(s, "250-mx\r\n250 STARTTLS\r\n");
	C(s, "STARTTLS\r\n");
	S(s, "220 2.0.0 SMTP server ready\r\n");
	C(s, "EHLO TRANSIT-MTA\r\n");
	S(s, "250-mx\r\n250 AUTH NTLM LOGIN\r\n");
	C(s, "MAIL FROM:<papanoel@example.fr> SIZE=16530\r\nRCPT TO:<a@example.fr>\r\nDATA\r\n");
	S(s, "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input\r\n");
	C(s, "Subject: x\r\n\r\ny\r\n.\r\n");
	S(s, "250 2.6.0 queued\r\n");
	end(s);
	CHECK(g_cap.tls && g_cap.tls_decrypted);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_TLS_DECRYPTED));
	CHECK(g_cap.n_txn == 1);
	CHECK(g_cap.txn[0].tls);
	CHECK_STR(g_cap.txn[0].mail, "papanoel@example.fr");
	CHECK(g_cap.txn[0].final_reply == 250);
	CHECK_STR(g_cap.caps.auth, "NTLM LOGIN");
	/* command injection after STARTTLS (CVE-2011-0411 style) */
	s = sess_new(false);
	S(s, GREET);
	C(s, "STARTTLS\r\nRSET\r\n");
	S(s, "220 go ahead\r\n");
	smtp_session_data(s, FLOW_C2S, hello, sizeof hello, ++g_ts);
	end(s);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_STARTTLS_PIPELINED));
	CHECK(g_cap.tls);
	CHECK(g_cap.n_commands == 1);
}

static void test_invalid_replies(void)
{
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "NOOP\r\n");
	S(s, "999 what\r\n2x5 nope\r\n250 ok\r\n");
	S(s, "250-a\r\n251 b\r\n");
	end(s);
	CHECK(g_cap.invalid_replies == 2);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_INVALID_REPLY));
	CHECK(logged("R 250 NOOP ok\n")); /* invalid lines do not consume the NOOP */
	CHECK(has(&g_cap.anoms, ANOM_SMTP_REPLY_CODE_MISMATCH));
	CHECK(has(&g_cap.anoms, ANOM_SMTP_UNEXPECTED_REPLY));
}

static void test_smuggling(void)
{
	/* bare LF inside, message ended by LF.LF */
	struct smtp_session *s = sess_new(false);
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	S(s, "220 x\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	C(s, "Subject: a\r\n\r\nfirst\n.\nMAIL FROM:<evil@x.example>\r\n");
	S(s, "250 queued\r\n250 ok\r\n");
	end(s);
	CHECK(g_cap.n_txn == 2);
	CHECK(has(&g_cap.txn[0].anoms, ANOM_SMTP_BARE_LF_IN_DATA));
	CHECK(has(&g_cap.txn[0].anoms, ANOM_SMTP_NONSTANDARD_EOD));
	CHECK_MEM(g_cap.txn[0].body.buf, g_cap.txn[0].body.len, "Subject: a\r\n\r\nfirst\n", 20);
	CHECK_STR(g_cap.txn[1].mail, "evil@x.example");
	/* "\r\n.\r" + more and "\r.\r": not an end, but reported */
	s = sess_new(false);
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	S(s, "220 x\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	C(s, "x\r\n.\rMAIL FROM:<e@x>\r\ny\r.\rz\r\n.\r\n");
	S(s, "250 queued\r\n");
	end(s);
	CHECK(g_cap.n_txn == 1);
	CHECK(has(&g_cap.txn[0].anoms, ANOM_SMTP_EOD_LIKE_SEQUENCE));
	CHECK(has(&g_cap.txn[0].anoms, ANOM_SMTP_BARE_CR_IN_DATA));
	CHECK(!has(&g_cap.txn[0].anoms, ANOM_SMTP_NONSTANDARD_EOD));
	const char *want = "x\r\n\rMAIL FROM:<e@x>\r\ny\r.\rz\r\n";
	CHECK_MEM(g_cap.txn[0].body.buf, g_cap.txn[0].body.len, want, strlen(want));
	CHECK(g_cap.txn[0].final_reply == 250);
	/* the end split across segments: "\r\n." | "\r" | "\n" */
	s = sess_new(false);
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	S(s, "220 x\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	C(s, "abc\r\n.");
	C(s, "\r");
	C(s, "\nQUIT\r\n");
	S(s, "250 queued\r\n221 bye\r\n");
	end(s);
	CHECK_MEM(g_cap.txn[0].body.buf, g_cap.txn[0].body.len, "abc\r\n", 5);
	CHECK(!anom_any(&g_cap.txn[0].anoms));
	CHECK(logged("R 221 QUIT ok\n"));
}

/* The message-text scan (data_feed jumps from line end to line end, 16 or 32
 * bytes at a time) must not depend on where segments split the stream:
 * every split point of a message full of edge cases gives the same body,
 * line count, anomalies and anomaly counters as one segment. */
struct split_result {
	struct sbuf body;
	uint64_t bytes, lines;
	struct anom_set anoms;
	uint64_t eod_like, bare_cr, bare_lf;
	int n_txn, final_reply;
	char mail2[256];
};

static void split_run(const char *msg, size_t n, size_t cut1, size_t cut2, struct split_result *r)
{
	uint64_t e0 = anom_count(ANOM_SMTP_EOD_LIKE_SEQUENCE), c0 = anom_count(ANOM_SMTP_BARE_CR_IN_DATA),
	         l0 = anom_count(ANOM_SMTP_BARE_LF_IN_DATA);
	struct smtp_session *s = sess_new(false);
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	S(s, "220 x\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	size_t cuts[4] = { 0, cut1, cut2, n };
	for (int k = 0; k < 3; k++)
		if (cuts[k + 1] > cuts[k])
			smtp_session_data(s, FLOW_C2S, (const uint8_t *)msg + cuts[k], cuts[k + 1] - cuts[k], ++g_ts);
	S(s, "250 queued\r\n250 ok\r\n");
	end(s);
	memset(r, 0, sizeof *r);
	r->n_txn = g_cap.n_txn;
	if (g_cap.n_txn > 0) {
		sbuf_add(&r->body, g_cap.txn[0].body.buf ? g_cap.txn[0].body.buf : "", g_cap.txn[0].body.len);
		r->bytes = g_cap.txn[0].bytes;
		r->lines = g_cap.txn[0].lines;
		r->anoms = g_cap.txn[0].anoms;
		r->final_reply = g_cap.txn[0].final_reply;
	}
	if (g_cap.n_txn > 1)
		snprintf(r->mail2, sizeof r->mail2, "%s", g_cap.txn[1].mail);
	r->eod_like = anom_count(ANOM_SMTP_EOD_LIKE_SEQUENCE) - e0;
	r->bare_cr = anom_count(ANOM_SMTP_BARE_CR_IN_DATA) - c0;
	r->bare_lf = anom_count(ANOM_SMTP_BARE_LF_IN_DATA) - l0;
}

static bool split_same(const struct split_result *a, const struct split_result *b)
{
	return a->body.len == b->body.len && !memcmp(a->body.buf, b->body.buf, a->body.len) &&
	       a->bytes == b->bytes && a->lines == b->lines && !memcmp(&a->anoms, &b->anoms, sizeof a->anoms) &&
	       a->eod_like == b->eod_like && a->bare_cr == b->bare_cr && a->bare_lf == b->bare_lf &&
	       a->n_txn == b->n_txn && a->final_reply == b->final_reply && !strcmp(a->mail2, b->mail2);
}

static void test_data_split_points(void)
{
	static const char *const msgs[] = {
		/* long lines (several 16/32-byte blocks), dot-stuffing, a lone ".." */
		"Subject: split\r\n\r\nThe quick brown fox jumps over the lazy dog, twice over.\r\n"
		"..leading dot stuffed line that is also rather long for the scanner\r\n..\r\n"
		"x\r\n\r\n\r\n0123456789abcdef0123456789abcdef0123456789abcdef\r\n.\r\nMAIL FROM:<n@x.example>\r\n",
		/* bare CR, bare LF, CR.CR, ".\r" not followed by LF */
		"a\rb\nc\r\n.\rq\r\nline with a bare cr\r. in it and more text after it\r\n"
		"y\r.\rz\n.x\n\r\n.\r\n",
		/* ended by LF.LF */
		"first line\nsecond line, long enough to cross a block boundary easily\n.\nMAIL FROM:<e@x.example>\r\n",
	};
	for (size_t m = 0; m < sizeof msgs / sizeof msgs[0]; m++) {
		const char *msg = msgs[m];
		size_t n = strlen(msg);
		struct split_result whole, part;
		split_run(msg, n, n, n, &whole);
		CHECK(whole.n_txn >= 1);
		int bad = 0;
		for (size_t c1 = 0; c1 <= n; c1++) {
			for (size_t c2 = c1; c2 <= n; c2 += (c2 < c1 + 4 ? 1 : 7)) {
				split_run(msg, n, c1, c2, &part);
				if (!split_same(&whole, &part) && bad++ < 3)
					fprintf(stderr, "split mismatch: message %zu cut at %zu,%zu\n", m, c1, c2);
				sbuf_free(&part.body);
			}
		}
		CHECK(bad == 0);
		sbuf_free(&whole.body);
	}
}

static void test_bounds(void)
{
	/* 10,000 pipelined commands without replies */
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	struct sbuf b = SBUF_INIT;
	for (int i = 0; i < 10000; i++)
		sbuf_adds(&b, "NOOP\r\n");
	smtp_session_data(s, FLOW_C2S, (const uint8_t *)b.buf, b.len, ++g_ts);
	end(s);
	CHECK(g_cap.n_commands == 10000);
	CHECK(g_cap.pending_dropped == 10000 - SMTP_PENDING_MAX);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_EXCESSIVE_PENDING));
	sbuf_free(&b);
	/* 100,000 RCPT TO, replied */
	clock_t t0 = clock();
	s = sess_new(false);
	S(s, GREET);
	C(s, "MAIL FROM:<a@b.example>\r\n");
	S(s, "250 ok\r\n");
	struct sbuf rc = SBUF_INIT, rp = SBUF_INIT;
	for (int i = 0; i < 100000; i++) {
		sbuf_addf(&rc, "RCPT TO:<u%d@example.com>\r\n", i);
		sbuf_adds(&rp, "250 ok\r\n");
		if (rc.len > 60000) {
			smtp_session_data(s, FLOW_C2S, (const uint8_t *)rc.buf, rc.len, ++g_ts);
			smtp_session_data(s, FLOW_S2C, (const uint8_t *)rp.buf, rp.len, ++g_ts);
			sbuf_clear(&rc);
			sbuf_clear(&rp);
		}
	}
	smtp_session_data(s, FLOW_C2S, (const uint8_t *)rc.buf, rc.len, ++g_ts);
	smtp_session_data(s, FLOW_S2C, (const uint8_t *)rp.buf, rp.len, ++g_ts);
	end(s);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	CHECK(g_cap.n_txn == 1);
	CHECK(g_cap.txn[0].n_rcpt_total == 100000);
	CHECK(g_cap.txn[0].n_rcpts == SMTP_RCPT_MAX);
	CHECK(has(&g_cap.txn[0].anoms, ANOM_SMTP_TOO_MANY_RCPTS));
	CHECK(secs < 5.0);
	sbuf_free(&rc);
	sbuf_free(&rp);
}

static void test_gaps_and_aborts(void)
{
	/* a gap inside DATA goes to the message consumer; the end is still found */
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	S(s, "250 ok\r\n250 ok\r\n354 go\r\n");
	C(s, "Subject: x\r\n\r\npart");
	smtp_session_gap(s, FLOW_C2S, 1000, ++g_ts);
	C(s, "rest\r\n.\r\n");
	S(s, "250 queued\r\n");
	/* a gap in command mode: the partial line is dropped */
	C(s, "RSE");
	smtp_session_gap(s, FLOW_C2S, 10, ++g_ts);
	C(s, "T garbage\r\nMAIL FROM:<b@b.example>\r\n");
	S(s, "250 ok\r\n");
	C(s, "RSET\r\n");
	S(s, "250 reset\r\n");
	C(s, "MAIL FROM:<c@b.example>\r\nRCPT TO:<x@y.example>\r\n");
	end(s); /* closes with an open transaction */
	CHECK(g_cap.n_txn == 3);
	CHECK(g_cap.txn[0].gaps == 1 && g_cap.txn[0].gap_bytes == 1000);
	CHECK(g_cap.txn[0].final_reply == 250);
	CHECK(g_cap.txn[0].complete);
	CHECK_STR(g_cap.txn[1].mail, "b@b.example");
	CHECK(g_cap.txn[1].end == SMTP_TXN_END_RSET);
	CHECK_STR(g_cap.txn[2].mail, "c@b.example");
	CHECK(g_cap.txn[2].end == SMTP_TXN_END_CLOSE);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_CONTENT_GAP));
	CHECK(g_cap.n_unknown == 0);
	/* a gap inside a BDAT chunk is counted against the chunk */
	s = sess_new(false);
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 10 LAST\r\nab");
	smtp_session_gap(s, FLOW_C2S, 5, ++g_ts);
	C(s, "cde");
	C(s, "QUIT\r\n");
	end(s);
	CHECK(g_cap.txn[0].bytes == 5 && g_cap.txn[0].gap_bytes == 5);
	CHECK(g_cap.txn[0].complete);
	CHECK(logged("C QUIT\n"));
	/* client-only capture: DATA without any reply is still a message */
	s = sess_new(false);
	C(s, "HELO h\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nhello\r\n.\r\n"
	     "MAIL FROM:<e@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nagain\r\n.\r\nQUIT\r\n");
	end(s);
	CHECK(g_cap.n_txn == 2);
	CHECK_MEM(g_cap.txn[0].body.buf, g_cap.txn[0].body.len, "hello\r\n", 7);
	CHECK_MEM(g_cap.txn[1].body.buf, g_cap.txn[1].body.len, "again\r\n", 7);
	CHECK(g_cap.n_commands == 8);
}

/* A gap inside DATA, then what the next bytes are (b06, review items 1-2):
 * the row says whether the message ends at once, and with a bare-LF alarm. */
static void test_gap_in_data_table(void)
{
	static const struct {
		const char *after;   /* client bytes right after the gap */
		bool ends;           /* the message ends with these bytes */
		bool bare_lf;        /* smtp_bare_lf_in_data raised */
		const char *next;    /* logged afterwards */
	} rows[] = {
		{ ".\r\n", true, false, "C QUIT\n" },                  /* the terminator alone */
		{ ".\r\nQUIT\r\n", true, false, "C QUIT\n" },          /* terminator + a pipelined command */
		{ "\n.\r\n", true, false, "C QUIT\n" },                /* the CR was lost: no bare LF */
		{ "\nmore\r\n.\r\n", true, false, "C QUIT\n" },
		{ ".\r\nnot a command\r\n.\r\n", true, false, "C QUIT\n" }, /* a dot ending a lost line */
		{ ".hidden\r\n.\r\n", true, false, "C QUIT\n" },
		{ "tail\nx\r\n.\r\n", true, true, "C QUIT\n" },        /* a real bare LF later */
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct smtp_session *s = sess_new(false);
		S(s, GREET);
		C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
		S(s, "250 ok\r\n250 ok\r\n354 go\r\n");
		C(s, "Subject: x\r\n\r\nline\r\n");
		smtp_session_gap(s, FLOW_C2S, 100, ++g_ts);
		C(s, rows[i].after);
		S(s, "250 queued\r\n");
		if (!strstr(rows[i].after, "QUIT"))
			C(s, "QUIT\r\n");
		S(s, "221 bye\r\n");
		end(s);
		CHECK(g_cap.n_txn == 1);
		CHECK(g_cap.txn[0].final_reply == 250);
		CHECK(has(&g_cap.anoms, ANOM_SMTP_BARE_LF_IN_DATA) == rows[i].bare_lf);
		CHECK(!has(&g_cap.anoms, ANOM_SMTP_UNEXPECTED_REPLY));
		CHECK(logged(rows[i].next));
		CHECK(logged("R 221 QUIT ok\n"));
		if (!g_cap.n_txn || g_cap.txn[0].final_reply != 250)
			fprintf(stderr, "    row %zu\n", i);
	}
	/* the terminator itself lost: the server's reply ends the message */
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	S(s, "250 ok\r\n250 ok\r\n354 go\r\n");
	C(s, "Subject: x\r\n\r\nline\r\n");
	smtp_session_gap(s, FLOW_C2S, 100, ++g_ts);
	S(s, "250 queued\r\n");
	C(s, "QUIT\r\n");
	S(s, "221 bye\r\n");
	end(s);
	CHECK(g_cap.n_txn == 1 && g_cap.txn[0].final_reply == 250);
	CHECK(logged("R 221 QUIT ok\n"));
}

/* Picked up mid-stream inside a message body (b12); LMTP (b11); AUTH lines
 * merged (b13); MAIL after a rejected MAIL (b14). */
static void test_review_b11_to_b14(void)
{
	g_midstream = true;
	struct smtp_session *s = sess_new(false);
	C(s, "body line\r\nanother\r\n.\r\n");
	S(s, "250 queued\r\n");
	C(s, "MAIL FROM:<a@b.example>\r\n");
	S(s, "250 ok\r\n");
	C(s, "QUIT\r\n");
	S(s, "221 bye\r\n");
	end(s);
	CHECK(g_cap.n_unknown == 0);
	CHECK(logged("R 250 message ok\n"));
	CHECK(logged("R 250 MAIL ok\n"));
	CHECK(logged("R 221 QUIT ok\n"));
	/* with the handshake seen, the same lines are unknown commands */
	s = sess_new(false);
	C(s, "body line\r\n");
	end(s);
	CHECK(g_cap.n_unknown == 1);

	s = sess_new(false);
	S(s, GREET);
	C(s, "LHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@d.example>\r\nRCPT TO:<y@d.example>\r\n"
	     "RCPT TO:<z@d.example>\r\nDATA\r\n");
	S(s, "250 ok\r\n250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n");
	C(s, "hi\r\n.\r\nQUIT\r\n");
	S(s, "250 x ok\r\n452 z full\r\n221 bye\r\n");
	end(s);
	CHECK(!has(&g_cap.anoms, ANOM_SMTP_UNEXPECTED_REPLY));
	CHECK(logged("R 221 QUIT ok\n"));
	CHECK(g_cap.n_txn == 1 && g_cap.txn[0].final_reply == 452);

	s = sess_new(false);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250-mx\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN  XOAUTH2\r\n250 8BITMIME\r\n");
	end(s);
	CHECK_STR(g_cap.caps.auth, "PLAIN LOGIN XOAUTH2");

	s = sess_new(false);
	S(s, GREET);
	C(s, "MAIL FROM:<a@bad.example>\r\n");
	S(s, "550 no\r\n");
	C(s, "MAIL FROM:<a@good.example>\r\n");
	S(s, "250 ok\r\n");
	C(s, "MAIL FROM:<again@good.example>\r\n");
	S(s, "503 nested\r\n");
	end(s);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_NESTED_MAIL)); /* the third one is nested */
	CHECK(g_cap.n_txn == 2);
	s = sess_new(false);
	S(s, GREET);
	C(s, "MAIL FROM:<a@bad.example>\r\n");
	S(s, "550 no\r\n");
	C(s, "MAIL FROM:<a@good.example>\r\n");
	S(s, "250 ok\r\n");
	end(s);
	CHECK(!has(&g_cap.anoms, ANOM_SMTP_NESTED_MAIL));
}

/* What a reply can answer (review items 4 and 12): a lost reply does not
 * shift the later pairings; a reply that cannot answer AUTH leaves its
 * result unknown. */
static void test_reply_fit_table(void)
{
	/* the reply to MAIL lost: "550 5.1.1" answers RCPT, not MAIL */
	struct smtp_session *s = sess_new(false);
	S(s, GREET);
	C(s, "MAIL FROM:<a@b.example>\r\n");
	C(s, "RCPT TO:<nobody@d.example>\r\n");
	smtp_session_gap(s, FLOW_S2C, 20, ++g_ts);
	S(s, "550 5.1.1 no such user\r\n");
	C(s, "QUIT\r\n");
	S(s, "221 2.0.0 bye\r\n");
	end(s);
	CHECK(logged("R 550 RCPT rejected\n"));
	CHECK(logged("R 221 QUIT ok\n"));
	CHECK(g_cap.n_txn == 1 && g_cap.txn[0].mail_reply == 0);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_REPLY_RESYNC));
	/* a silent server after the AUTH password, then QUIT: the 221 is QUIT's */
	s = sess_new(false);
	S(s, GREET);
	C(s, "EHLO c\r\n");
	S(s, "250-mx\r\n250 AUTH LOGIN\r\n");
	C(s, "AUTH LOGIN\r\n");
	S(s, "334 VXNlcm5hbWU6\r\n");
	C(s, "dXNlcg==\r\n");
	S(s, "334 UGFzc3dvcmQ6\r\n");
	C(s, "cGFzcw==\r\n");
	C(s, "QUIT\r\n");
	S(s, "221 bye\r\n");
	end(s);
	CHECK(logged("R 221 QUIT ok\n"));
	CHECK(g_cap.n_auth == 1 && g_cap.auth_result[0] == AUTH_RESULT_UNKNOWN);
	/* a capability list cannot answer MAIL: the EHLO reply came late */
	s = sess_new(false);
	S(s, GREET);
	C(s, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
	smtp_session_gap(s, FLOW_S2C, 20, ++g_ts);
	S(s, "250 2.1.0 ok\r\n");
	end(s);
	CHECK(logged("R 250 MAIL ok\n"));
	/* replies that fit still pair in order (no resync) */
	s = sess_new(false);
	S(s, GREET);
	C(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
	S(s, "250 ok\r\n250 ok\r\n354 go\r\n");
	C(s, "x\r\n.\r\nQUIT\r\n");
	S(s, "250 queued\r\n221 bye\r\n");
	end(s);
	CHECK(!has(&g_cap.anoms, ANOM_SMTP_REPLY_RESYNC));
	CHECK(g_cap.n_txn == 1 && g_cap.txn[0].final_reply == 250);
}

int main(void)
{
	test_reply_resync_on_354();
	run_basic(0);
	run_basic(1);
	test_pipelined();
	test_blind_pipelining();
	test_data_rejected_pipelined();
	test_helo_reset();
	test_bdat();
	test_bdat_invalid();
	test_auth_login();
	test_auth_plain_cram_oauth();
	test_auth_ntlm();
	test_unknown_and_bare_lf();
	test_long_line();
	test_starttls();
	test_invalid_replies();
	test_smuggling();
	test_data_split_points();
	test_bounds();
	test_gaps_and_aborts();
	test_gap_in_data_table();
	test_review_b11_to_b14();
	test_reply_fit_table();
	cap_reset();
	TEST_MAIN_END();
}
