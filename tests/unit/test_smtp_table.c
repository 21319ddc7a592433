/* Unit tests of the SMTP dissector, table-driven (issue 12):
 *   - capture loss: for each of several dialogues, each segment in turn is
 *     lost (smtp_session_gap for its bytes in its direction, the others fed
 *     as they are) and the run must give no high finding the lossless run
 *     does not give, every later command line still a command, and every
 *     message the lost segment is not part of still found, complete, with
 *     its size;
 *   - a bare SIZE in the EHLO reply is "no limit advertised", not 0;
 *   - the text of an EHLO reply is its first line, not its last.
 * The messages go through msgwire (headers and verdicts) as in a real run. */
#include "harness.h"
#include "msgwire.h"
#include "test_smtp_capture.h"

/* ------------------------------------------------------------------ */
/* What the extra sink records                                        */

#define MAX_CMDS 64
#define MAX_HIGH 16

static struct {
	char cmds[MAX_CMDS][128];     /* client lines labelled commands (known verb) */
	int n_cmds;
	const char *high[MAX_HIGH];   /* ids of high findings (transaction or session) */
	int n_high;
	char ehlo_text[128];          /* text of the last reply answering EHLO/LHLO */
} g_x;

static void x_high(const struct smtp_finding *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].severity, "high") == 0 && g_x.n_high < MAX_HIGH)
			g_x.high[g_x.n_high++] = f[i].id;
}

static void x_emit(struct sink *sk, const struct event *ev)
{
	(void)sk;
	switch (ev->type) {
	case EV_CLIENT:
		if (ev->line->kind == SMTP_LINE_COMMAND && ev->line->verb != SMTP_VERB_UNKNOWN &&
		    g_x.n_cmds < MAX_CMDS)
			cap_copy(g_x.cmds[g_x.n_cmds++], sizeof g_x.cmds[0], (const char *)ev->line->p,
			         ev->line->n);
		break;
	case EV_REPLY:
		if (ev->reply->answers == SMTP_VERB_EHLO || ev->reply->answers == SMTP_VERB_LHLO)
			cap_copy(g_x.ehlo_text, sizeof g_x.ehlo_text, (const char *)ev->reply->text,
			         ev->reply->text_n);
		break;
	case EV_TRANSACTION:
		x_high(ev->txn->findings, ev->txn->n_findings);
		break;
	case EV_SESSION_END:
		x_high(ev->sess->findings, ev->sess->n_findings);
		break;
	default:
		break;
	}
}

static void x_nop(struct sink *s) { (void)s; }
static const struct sink_ops x_ops = { x_emit, x_nop, x_nop };
static struct sink x_sink = { &x_ops, 0 };

static struct msgwire *g_mw;

/* A new session whose messages go through msgwire; events to both sinks. */
static struct smtp_session *sess_mw(void)
{
	struct smtp_session *s = sess_new(false); /* resets g_cap, sets up g_bus and g_flow */
	smtp_session_free(s);                     /* (no events reach a sink before data) */
	cap_reset();
	memset(&g_x, 0, sizeof g_x);
	g_bus.n = 0;
	event_bus_add(&g_bus, &cap_sink);
	event_bus_add(&g_bus, &x_sink);
	struct smtp_config cfg = { false, msgwire_hooks(g_mw) };
	return smtp_session_new(&cfg, &g_bus, &g_flow, ++g_ts);
}

/* line was seen as a command (its secret masked: "AUTH PLAIN ********") */
static bool cmd_seen(const char *line)
{
	for (int i = 0; i < g_x.n_cmds; i++) {
		const char *g = g_x.cmds[i], *mask = strstr(g, "********");
		if (strcmp(g, line) == 0 || (mask && strncmp(g, line, (size_t)(mask - g)) == 0))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* The dialogues                                                      */

/* A segment: who sends it and what it is. 'C' command lines (each one a
 * command with a known verb), 'A' AUTH response lines, 'D' message content
 * (DATA text or BDAT chunk), 'S' server replies. msg: the message (1, 2) the
 * segment belongs to, from its MAIL to the reply ending it; 0 none. */
struct seg {
	char kind;
	int msg;
	const char *bytes;
};

struct dialogue {
	const char *name;
	struct seg segs[24];
	const char *from[2];          /* MAIL FROM of messages 1, 2 (NULL: none) */
};

#define GREETING { 'S', 0, "220 mx.example.net ESMTP\r\n" }
#define MSG1_TEXT "From: <alice@example.org>\r\nTo: <bob@example.net>\r\nSubject: one\r\n\r\nhello\r\n"
#define MSG2_TEXT "From: <carol@example.org>\r\nTo: <bob@example.net>\r\nSubject: two\r\n\r\nagain\r\n"

static const struct dialogue dialogues[] = {
	{ "plain mail", {
		GREETING,
		{ 'C', 0, "EHLO client.example.org\r\n" },
		{ 'S', 0, "250-mx.example.net\r\n250-SIZE 1000000\r\n250 8BITMIME\r\n" },
		{ 'C', 1, "MAIL FROM:<alice@example.org>\r\n" },
		{ 'S', 1, "250 2.1.0 Ok\r\n" },
		{ 'C', 1, "RCPT TO:<bob@example.net>\r\n" },
		{ 'S', 1, "250 2.1.5 Ok\r\n" },
		{ 'C', 1, "DATA\r\n" },
		{ 'S', 1, "354 End data with <CR><LF>.<CR><LF>\r\n" },
		{ 'D', 1, MSG1_TEXT ".\r\n" },
		{ 'S', 1, "250 2.0.0 Ok: queued as 1\r\n" },
		{ 'C', 0, "QUIT\r\n" },
		{ 'S', 0, "221 2.0.0 Bye\r\n" },
	  }, { "alice@example.org", NULL } },
	{ "PIPELINING", {
		GREETING,
		{ 'C', 0, "EHLO client.example.org\r\n" },
		{ 'S', 0, "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n" },
		{ 'C', 1, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n" },
		{ 'S', 1, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n" },
		{ 'D', 1, MSG1_TEXT ".\r\n" },
		{ 'S', 1, "250 2.0.0 Ok: queued as 1\r\n" },
		{ 'C', 2, "MAIL FROM:<carol@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n" },
		{ 'S', 2, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n" },
		{ 'D', 2, MSG2_TEXT ".\r\n" },
		{ 'S', 2, "250 2.0.0 Ok: queued as 2\r\n" },
		{ 'C', 0, "QUIT\r\n" },
		{ 'S', 0, "221 2.0.0 Bye\r\n" },
	  }, { "alice@example.org", "carol@example.org" } },
	{ "AUTH LOGIN", {
		GREETING,
		{ 'C', 0, "EHLO client.example.org\r\n" },
		{ 'S', 0, "250-mx.example.net\r\n250-AUTH LOGIN PLAIN\r\n250 8BITMIME\r\n" },
		{ 'C', 0, "AUTH LOGIN\r\n" },
		{ 'S', 0, "334 VXNlcm5hbWU6\r\n" },
		{ 'A', 0, "YWxpY2U=\r\n" },
		{ 'S', 0, "334 UGFzc3dvcmQ6\r\n" },
		{ 'A', 0, "c2VjcmV0\r\n" },
		{ 'S', 0, "235 2.7.0 Authentication successful\r\n" },
		{ 'C', 1, "MAIL FROM:<alice@example.org>\r\n" },
		{ 'S', 1, "250 2.1.0 Ok\r\n" },
		{ 'C', 1, "RCPT TO:<bob@example.net>\r\n" },
		{ 'S', 1, "250 2.1.5 Ok\r\n" },
		{ 'C', 1, "DATA\r\n" },
		{ 'S', 1, "354 go ahead\r\n" },
		{ 'D', 1, MSG1_TEXT ".\r\n" },
		{ 'S', 1, "250 2.0.0 Ok: queued as 1\r\n" },
		{ 'C', 0, "QUIT\r\n" },
		{ 'S', 0, "221 2.0.0 Bye\r\n" },
	  }, { "alice@example.org", NULL } },
	{ "AUTH PLAIN", {
		GREETING,
		{ 'C', 0, "EHLO client.example.org\r\n" },
		{ 'S', 0, "250-mx.example.net\r\n250 AUTH PLAIN LOGIN\r\n" },
		{ 'C', 0, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n" },
		{ 'S', 0, "235 2.7.0 Authentication successful\r\n" },
		{ 'C', 1, "MAIL FROM:<alice@example.org>\r\n" },
		{ 'S', 1, "250 2.1.0 Ok\r\n" },
		{ 'C', 1, "RCPT TO:<bob@example.net>\r\n" },
		{ 'S', 1, "250 2.1.5 Ok\r\n" },
		{ 'C', 1, "DATA\r\n" },
		{ 'S', 1, "354 go ahead\r\n" },
		{ 'D', 1, MSG1_TEXT ".\r\n" },
		{ 'S', 1, "250 2.0.0 Ok: queued as 1\r\n" },
		{ 'C', 0, "QUIT\r\n" },
		{ 'S', 0, "221 2.0.0 Bye\r\n" },
	  }, { "alice@example.org", NULL } },
	{ "BDAT", {
		GREETING,
		{ 'C', 0, "EHLO client.example.org\r\n" },
		{ 'S', 0, "250-mx.example.net\r\n250-CHUNKING\r\n250 PIPELINING\r\n" },
		{ 'C', 1, "MAIL FROM:<alice@example.org>\r\n" },
		{ 'S', 1, "250 2.1.0 Ok\r\n" },
		{ 'C', 1, "RCPT TO:<bob@example.net>\r\n" },
		{ 'S', 1, "250 2.1.5 Ok\r\n" },
		{ 'C', 1, "BDAT 64\r\n" },
		{ 'D', 1, "From: <alice@example.org>\r\nTo: <bob@example.net>\r\nSubject: one\r\n" },
		{ 'S', 1, "250 2.0.0 64 octets\r\n" },
		{ 'C', 1, "BDAT 7 LAST\r\n" },
		{ 'D', 1, "\r\nhello" },
		{ 'S', 1, "250 2.0.0 Ok: queued as 1\r\n" },
		{ 'C', 2, "MAIL FROM:<carol@example.org>\r\n" },
		{ 'S', 2, "250 2.1.0 Ok\r\n" },
		{ 'C', 2, "RCPT TO:<bob@example.net>\r\n" },
		{ 'S', 2, "250 2.1.5 Ok\r\n" },
		{ 'C', 2, "DATA\r\n" },
		{ 'S', 2, "354 go ahead\r\n" },
		{ 'D', 2, MSG2_TEXT ".\r\n" },
		{ 'S', 2, "250 2.0.0 Ok: queued as 2\r\n" },
		{ 'C', 0, "QUIT\r\n" },
		{ 'S', 0, "221 2.0.0 Bye\r\n" },
	  }, { "alice@example.org", "carol@example.org" } },
	{ "STARTTLS refused", {
		GREETING,
		{ 'C', 0, "EHLO client.example.org\r\n" },
		{ 'S', 0, "250-mx.example.net\r\n250-STARTTLS\r\n250 8BITMIME\r\n" },
		{ 'C', 0, "STARTTLS\r\n" },
		{ 'S', 0, "454 4.7.0 TLS not available due to local problem\r\n" },
		{ 'C', 1, "MAIL FROM:<alice@example.org>\r\n" },
		{ 'S', 1, "250 2.1.0 Ok\r\n" },
		{ 'C', 1, "RCPT TO:<bob@example.net>\r\n" },
		{ 'S', 1, "250 2.1.5 Ok\r\n" },
		{ 'C', 1, "DATA\r\n" },
		{ 'S', 1, "354 go ahead\r\n" },
		{ 'D', 1, MSG1_TEXT ".\r\n" },
		{ 'S', 1, "250 2.0.0 Ok: queued as 1\r\n" },
		{ 'C', 0, "QUIT\r\n" },
		{ 'S', 0, "221 2.0.0 Bye\r\n" },
	  }, { "alice@example.org", NULL } },
	{ "two messages", {
		GREETING,
		{ 'C', 0, "EHLO client.example.org\r\n" },
		{ 'S', 0, "250-mx.example.net\r\n250 8BITMIME\r\n" },
		{ 'C', 1, "MAIL FROM:<alice@example.org>\r\n" },
		{ 'S', 1, "250 2.1.0 Ok\r\n" },
		{ 'C', 1, "RCPT TO:<bob@example.net>\r\n" },
		{ 'S', 1, "250 2.1.5 Ok\r\n" },
		{ 'C', 1, "DATA\r\n" },
		{ 'S', 1, "354 go ahead\r\n" },
		{ 'D', 1, MSG1_TEXT ".\r\n" },
		{ 'S', 1, "250 2.0.0 Ok: queued as 1\r\n" },
		{ 'C', 2, "MAIL FROM:<carol@example.org>\r\n" },
		{ 'S', 2, "250 2.1.0 Ok\r\n" },
		{ 'C', 2, "RCPT TO:<bob@example.net>\r\n" },
		{ 'S', 2, "250 2.1.5 Ok\r\n" },
		{ 'C', 2, "DATA\r\n" },
		{ 'S', 2, "354 go ahead\r\n" },
		{ 'D', 2, MSG2_TEXT ".\r\n" },
		{ 'S', 2, "250 2.0.0 Ok: queued as 2\r\n" },
		{ 'C', 0, "QUIT\r\n" },
		{ 'S', 0, "221 2.0.0 Bye\r\n" },
	  }, { "alice@example.org", "carol@example.org" } },
};

static size_t n_segs(const struct dialogue *d)
{
	size_t n = 0;
	while (n < sizeof d->segs / sizeof d->segs[0] && d->segs[n].bytes)
		n++;
	return n;
}

/* Run d with segment `drop` lost (SIZE_MAX: none). */
static void run(const struct dialogue *d, size_t drop)
{
	struct smtp_session *s = sess_mw();
	for (size_t i = 0; i < n_segs(d); i++) {
		const struct seg *g = &d->segs[i];
		int dir = g->kind == 'S' ? FLOW_S2C : FLOW_C2S;
		size_t n = strlen(g->bytes);
		if (i == drop)
			smtp_session_gap(s, dir, n, ++g_ts);
		else
			smtp_session_data(s, dir, (const uint8_t *)g->bytes, n, ++g_ts);
	}
	end(s);
}

static const struct cap_txn *txn_from(const char *from)
{
	for (int i = 0; i < g_cap.n_txn; i++)
		if (g_cap.txn[i].has_mail && strcmp(g_cap.txn[i].mail, from) == 0)
			return &g_cap.txn[i];
	return NULL;
}

static void test_segment_loss(void)
{
	for (size_t k = 0; k < sizeof dialogues / sizeof dialogues[0]; k++) {
		const struct dialogue *d = &dialogues[k];
		/* the lossless run: what each message is, which high findings */
		run(d, SIZE_MAX);
		const char *base_high[MAX_HIGH];
		int n_base_high = g_x.n_high;
		memcpy(base_high, g_x.high, sizeof base_high);
		uint64_t size[2] = { 0, 0 };
		for (int m = 0; m < 2; m++) {
			if (!d->from[m])
				continue;
			const struct cap_txn *t = txn_from(d->from[m]);
			CHECK(t && t->complete && t->bytes > 0);
			if (t)
				size[m] = t->bytes;
		}
		for (size_t i = 0; i < n_segs(d); i++) {
			char ctx[160];
			snprintf(ctx, sizeof ctx, "%s, segment %zu (%.20s) lost", d->name, i, d->segs[i].bytes);
			int fails = t_fail;
			run(d, i);
			/* no high finding the traffic does not hold */
			for (int h = 0; h < g_x.n_high; h++) {
				bool known = false;
				for (int b = 0; b < n_base_high; b++)
					known |= strcmp(base_high[b], g_x.high[h]) == 0;
				CHECK(known);
				if (!known)
					fprintf(stderr, "  new high finding %s\n", g_x.high[h]);
			}
			/* every later command line is still a command */
			for (size_t j = i + 1; j < n_segs(d); j++) {
				if (d->segs[j].kind != 'C')
					continue;
				for (const char *p = d->segs[j].bytes; *p;) {
					const char *e = strstr(p, "\r\n");
					char line[128];
					cap_copy(line, sizeof line, p, (size_t)(e - p));
					CHECK(cmd_seen(line));
					if (!cmd_seen(line))
						fprintf(stderr, "  not a command: %s\n", line);
					p = e + 2;
				}
			}
			/* every message the lost segment is not part of is found whole */
			for (int m = 0; m < 2; m++) {
				if (!d->from[m] || d->segs[i].msg == m + 1)
					continue;
				const struct cap_txn *t = txn_from(d->from[m]);
				CHECK(t && t->complete && t->bytes == size[m]);
				if (!(t && t->complete && t->bytes == size[m]))
					fprintf(stderr, "  message %d (%s) not found whole\n", m + 1, d->from[m]);
			}
			if (t_fail != fails)
				fprintf(stderr, "  in: %s\n", ctx);
		}
	}
}

/* ------------------------------------------------------------------ */
/* EHLO reply: SIZE without a limit, the text of the reply            */

static void ehlo(const char *reply)
{
	struct smtp_session *s = sess_mw();
	S(s, "220 mx.example.net ESMTP\r\n");
	C(s, "EHLO client.example.org\r\n");
	S(s, reply);
	C(s, "QUIT\r\n");
	S(s, "221 bye\r\n");
	end(s);
}

static void test_ehlo_size_and_text(void)
{
	struct smtp_session *s;
	/* RFC 1870 §3: a bare SIZE states no limit; SIZE 0 is no fixed maximum */
	ehlo("250-mx.example.net Hello\r\n250-PIPELINING\r\n250-SIZE\r\n250 HELP\r\n");
	CHECK(g_cap.caps.flags & SMTP_CAP_SIZE);
	CHECK(g_cap.caps.size_unlimited);
	CHECK(g_cap.caps.size == 0);
	/* the text is the first line (the server's name), not the last keyword */
	CHECK_STR(g_x.ehlo_text, "mx.example.net Hello");
	ehlo("250-mx.example.net\r\n250 SIZE 0\r\n");
	CHECK(g_cap.caps.size_unlimited && g_cap.caps.size == 0);
	ehlo("250-mx.example.net\r\n250-SIZE 35882577\r\n250 8BITMIME\r\n");
	CHECK(!g_cap.caps.size_unlimited);
	CHECK(g_cap.caps.size == 35882577);
	ehlo("250-mx.example.net\r\n250 8BITMIME\r\n"); /* no SIZE at all */
	CHECK(!(g_cap.caps.flags & SMTP_CAP_SIZE) && !g_cap.caps.size_unlimited);
	/* the same one byte per segment */
	s = sess_mw();
	S1(s, "220 mx.example.net ESMTP\r\n");
	C1(s, "EHLO client.example.org\r\n");
	S1(s, "250-mx.example.net Hello\r\n250-SIZE\r\n250 HELP\r\n");
	end(s);
	CHECK(g_cap.caps.size_unlimited);
	CHECK_STR(g_x.ehlo_text, "mx.example.net Hello");
	/* a one-line reply: its only line */
	ehlo("250 mx.example.net at your service\r\n");
	CHECK_STR(g_x.ehlo_text, "mx.example.net at your service");
	/* other multi-line replies keep the last line's text */
	s = sess_mw();
	S(s, "220 mx.example.net ESMTP\r\n");
	C(s, "MAIL FROM:<a@example.org>\r\n");
	S(s, "550-5.7.1 first line\r\n550 5.7.1 last line\r\n");
	end(s);
	CHECK(logged("R 550 MAIL rejected\n"));
}

/* The AUTH LOGIN password lost: the 235 ends the exchange (success), the
 * re-alignment is said, MAIL is a command again. */
static void test_auth_response_lost(void)
{
	struct smtp_session *s = sess_mw();
	S(s, "220 mx.example.net ESMTP\r\n");
	C(s, "EHLO c\r\n");
	S(s, "250-mx.example.net\r\n250 AUTH LOGIN\r\n");
	C(s, "AUTH LOGIN\r\n");
	S(s, "334 VXNlcm5hbWU6\r\n");
	C(s, "YWxpY2U=\r\n");
	S(s, "334 UGFzc3dvcmQ6\r\n");
	smtp_session_gap(s, FLOW_C2S, 10, ++g_ts);
	S(s, "235 2.7.0 ok\r\n");
	C(s, "MAIL FROM:<alice@example.org>\r\n");
	S(s, "250 ok\r\n");
	end(s);
	CHECK(logged("R 235 AUTH ok (response lost)\n"));
	CHECK(logged("R 250 MAIL ok\n"));
	CHECK(has(&g_cap.anoms, ANOM_SMTP_REPLY_RESYNC));
	CHECK(g_cap.n_auth == 1 && g_cap.auth_result[0] == AUTH_RESULT_SUCCESS);
	/* without loss, an unexpected reply inside AUTH stays unexpected */
	s = sess_mw();
	S(s, "220 mx.example.net ESMTP\r\n");
	C(s, "AUTH LOGIN\r\n");
	S(s, "334 VXNlcm5hbWU6\r\n");
	S(s, "535 no\r\n");
	end(s);
	CHECK(has(&g_cap.anoms, ANOM_SMTP_UNEXPECTED_REPLY));
	CHECK(!has(&g_cap.anoms, ANOM_SMTP_REPLY_RESYNC));
}

int main(void)
{
	g_mw = msgwire_new(false);
	test_ehlo_size_and_text();
	test_auth_response_lost();
	test_segment_loss();
	cap_reset();
	msgwire_free(g_mw);
	TEST_MAIN_END();
}
