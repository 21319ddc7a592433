/* A capturing sink and message hooks for the SMTP unit tests: every event is
 * turned into one compact log line and the data the tests check is copied
 * (events are only valid during emit). */
#ifndef SMTPSCOPE_TEST_SMTP_CAPTURE_H
#define SMTPSCOPE_TEST_SMTP_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "auth.h"
#include "event.h"
#include "flow.h"
#include "sbuf.h"
#include "smtp.h"

#define CAP_TXNS 16

struct cap_txn {
	bool has_mail;
	char mail[256];
	char rcpt[1024];      /* accepted or unanswered, comma-separated */
	char rejected[1024];  /* comma-separated */
	uint64_t n_rcpt_total, n_rcpts;
	int mail_reply, data_reply, final_reply;
	uint64_t bytes, lines, gap_bytes;
	bool complete, started;
	enum smtp_txn_end end;
	enum smtp_xfer xfer;
	struct anom_set anoms;
	char helo[128];
	bool tls;
	char auth_user[128];
	enum auth_result auth_result;
	char last_reply[256];
	struct sbuf body;     /* bytes received by the msg hooks */
	int begins, ends, gaps;
	char params_body[32];
	uint64_t size;
	bool has_size, smtputf8;
};

struct cap {
	struct sbuf log;           /* one line per event */
	struct cap_txn txn[CAP_TXNS];
	int n_txn;
	struct cap_txn cur[CAP_TXNS + 1]; /* message hook state by txn seq, until emitted */
	bool ended;
	/* session snapshot at EV_SESSION_END */
	bool tls, tls_decrypted;
	uint64_t tls_bytes[2];
	uint64_t n_commands, n_unknown, n_replies, pending_dropped, n_auth_total;
	size_t n_auth;
	char auth_user[4][128];
	char auth_secret[4][128];
	char auth_domain[4][128];
	char auth_challenge[4][128];
	enum auth_result auth_result[4];
	struct anom_set anoms;
	struct smtp_caps caps;
	char helo[128];
	int greeting_code;
	int invalid_replies;
};

static struct cap g_cap;

static void cap_copy(char *dst, size_t cap, const char *src, size_t n)
{
	if (!src) {
		dst[0] = '\0';
		return;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void cap_emit(struct sink *sk, const struct event *ev)
{
	(void)sk;
	struct cap *c = &g_cap;
	switch (ev->type) {
	case EV_SESSION_BEGIN:
		sbuf_adds(&c->log, "B\n");
		break;
	case EV_CLIENT: {
		const struct smtp_line *l = ev->line;
		if (l->kind == SMTP_LINE_BODY)
			break;
		if (l->kind == SMTP_LINE_MESSAGE) {
			sbuf_addf(&c->log, "M %llu/%llu\n", (unsigned long long)l->msg_bytes,
			          (unsigned long long)l->msg_lines);
			break;
		}
		sbuf_adds(&c->log, "C ");
		sbuf_adds(&c->log, l->label);
		if (l->value) {
			sbuf_adds(&c->log, ": ");
			sbuf_add(&c->log, l->value, l->value_n);
		}
		sbuf_addc(&c->log, '\n');
		break;
	}
	case EV_REPLY:
		if (ev->reply->code == 0)
			c->invalid_replies++;
		sbuf_addf(&c->log, "R %d %s\n", ev->reply->code, ev->reply->label);
		break;
	case EV_TRANSACTION: {
		const struct smtp_txn *t = ev->txn;
		sbuf_addf(&c->log, "T %llu\n", (unsigned long long)t->seq);
		if (c->n_txn >= CAP_TXNS)
			break;
		struct cap_txn *x = &c->txn[c->n_txn++];
		x->has_mail = t->has_mail;
		cap_copy(x->mail, sizeof x->mail, t->mail_from, t->mail_from_n);
		for (size_t i = 0; i < t->n_rcpts; i++) {
			char *dst = t->rcpts[i].reply >= 400 ? x->rejected : x->rcpt;
			size_t cap = sizeof x->rcpt, len = strlen(dst);
			if (len && len + 1 < cap)
				strcat(dst, ",");
			len = strlen(dst);
			if (len + t->rcpts[i].addr_n + 1 < cap)
				strncat(dst, t->rcpts[i].addr, t->rcpts[i].addr_n);
		}
		x->n_rcpt_total = t->n_rcpt_total;
		x->n_rcpts = t->n_rcpts;
		x->mail_reply = t->mail_reply;
		x->data_reply = t->data_reply;
		x->final_reply = t->final_reply;
		x->bytes = t->msg_bytes;
		x->lines = t->msg_lines;
		x->gap_bytes = t->msg_gap_bytes;
		x->complete = t->msg_complete;
		x->started = t->msg_started;
		x->end = t->end;
		x->xfer = t->xfer;
		x->anoms = t->anoms;
		x->tls = t->tls;
		cap_copy(x->helo, sizeof x->helo, t->helo, t->helo ? strlen(t->helo) : 0);
		cap_copy(x->last_reply, sizeof x->last_reply, t->last_reply,
		         t->last_reply ? strlen(t->last_reply) : 0);
		if (t->auth) {
			cap_copy(x->auth_user, sizeof x->auth_user, t->auth->user.buf, t->auth->user.len);
			x->auth_result = t->auth->result;
		}
		cap_copy(x->params_body, sizeof x->params_body, t->params.body,
		         t->params.body ? strlen(t->params.body) : 0);
		x->has_size = t->params.has_size;
		x->size = t->params.size;
		x->smtputf8 = t->params.smtputf8;
		struct cap_txn *h = &c->cur[t->seq <= CAP_TXNS ? t->seq : 0];
		x->body = h->body; /* moves the buffer */
		x->begins = h->begins;
		x->ends = h->ends;
		x->gaps = h->gaps;
		memset(h, 0, sizeof *h);
		break;
	}
	case EV_SESSION_END: {
		const struct smtp_session *s = ev->sess;
		sbuf_adds(&c->log, "E\n");
		c->ended = true;
		c->tls = s->tls;
		c->tls_decrypted = s->tls_decrypted;
		c->tls_bytes[0] = s->tls_bytes[0];
		c->tls_bytes[1] = s->tls_bytes[1];
		c->n_commands = s->n_commands;
		c->n_unknown = s->n_unknown;
		c->n_replies = s->n_replies;
		c->pending_dropped = s->pending_dropped;
		c->n_auth = s->n_auth;
		c->n_auth_total = s->n_auth_total;
		for (size_t i = 0; i < s->n_auth && i < 4; i++) {
			const struct auth_attempt *a = &s->auth[i];
			cap_copy(c->auth_user[i], 128, a->user.buf, a->user.len);
			cap_copy(c->auth_secret[i], 128, a->secret.buf, a->secret.len);
			cap_copy(c->auth_domain[i], 128, a->domain.buf, a->domain.len);
			cap_copy(c->auth_challenge[i], 128, a->challenge.buf, a->challenge.len);
			c->auth_result[i] = a->result;
		}
		c->anoms = s->anoms;
		c->caps = s->caps;
		cap_copy(c->helo, sizeof c->helo, s->helo, s->helo ? strlen(s->helo) : 0);
		c->greeting_code = s->greeting_code;
		break;
	}
	case EV_FLOW_END:
		break;
	}
}

static void cap_flush(struct sink *s) { (void)s; }
static void cap_close(struct sink *s) { (void)s; }
static const struct sink_ops cap_ops = { cap_emit, cap_flush, cap_close };
static struct sink cap_sink = { &cap_ops, 0 };

static struct cap_txn *hcur(const struct smtp_txn *t)
{
	return &g_cap.cur[t->seq <= CAP_TXNS ? t->seq : 0];
}
static void h_begin(void *u, struct smtp_txn *t) { (void)u; hcur(t)->begins++; }
static void h_data(void *u, struct smtp_txn *t, const uint8_t *p, size_t n)
{
	(void)u;
	/* keep at most 1 MiB so the big tests stay cheap */
	if (hcur(t)->body.len < (1u << 20))
		sbuf_add(&hcur(t)->body, p, n);
}
static void h_gap(void *u, struct smtp_txn *t, uint64_t len) { (void)u; (void)len; hcur(t)->gaps++; }
static void h_end(void *u, struct smtp_txn *t) { (void)u; hcur(t)->ends++; }
static const struct smtp_msg_hooks cap_hooks = { .begin = h_begin, .data = h_data, .gap = h_gap, .end = h_end };

static struct event_bus g_bus;
static struct flow_info g_flow;

static void cap_reset(void)
{
	sbuf_free(&g_cap.log);
	for (int i = 0; i < g_cap.n_txn; i++)
		sbuf_free(&g_cap.txn[i].body);
	for (int i = 0; i <= CAP_TXNS; i++)
		sbuf_free(&g_cap.cur[i].body);
	memset(&g_cap, 0, sizeof g_cap);
}

/* A new session on a fresh capture. */
static bool g_midstream; /* the next sess_new(): no handshake seen */
static struct smtp_session *sess_new(bool show_secrets)
{
	cap_reset();
	g_bus.n = 0;
	event_bus_add(&g_bus, &cap_sink);
	memset(&g_flow, 0, sizeof g_flow);
	g_flow.id = 7;
	g_flow.client.family = 4;
	g_flow.client.addr[0] = 192; g_flow.client.addr[1] = 0; g_flow.client.addr[2] = 2; g_flow.client.addr[3] = 1;
	g_flow.client.port = 40000;
	g_flow.server.family = 4;
	g_flow.server.addr[0] = 198; g_flow.server.addr[1] = 51; g_flow.server.addr[2] = 100; g_flow.server.addr[3] = 25;
	g_flow.server.port = 25;
	g_flow.syn_seen = !g_midstream; /* the handshake was seen (unless g_midstream) */
	g_midstream = false;
	struct smtp_config cfg = { show_secrets, &cap_hooks };
	return smtp_session_new(&cfg, &g_bus, &g_flow, 1000000);
}

static uint64_t g_ts = 1000000;

/* Client (dir 0) or server (dir 1) bytes, as one segment. */
static void C(struct smtp_session *s, const char *str)
{
	smtp_session_data(s, FLOW_C2S, (const uint8_t *)str, strlen(str), ++g_ts);
}
static void S(struct smtp_session *s, const char *str)
{
	smtp_session_data(s, FLOW_S2C, (const uint8_t *)str, strlen(str), ++g_ts);
}
/* The same, one byte per segment. */
static void C1(struct smtp_session *s, const char *str)
{
	for (size_t i = 0; str[i]; i++)
		smtp_session_data(s, FLOW_C2S, (const uint8_t *)str + i, 1, ++g_ts);
}
static void S1(struct smtp_session *s, const char *str)
{
	for (size_t i = 0; str[i]; i++)
		smtp_session_data(s, FLOW_S2C, (const uint8_t *)str + i, 1, ++g_ts);
}
static void end(struct smtp_session *s)
{
	smtp_session_close(s, ++g_ts);
	smtp_session_free(s);
}

static bool has(const struct anom_set *a, enum anom_id id) { return anom_has(a, id) != 0; }
static bool logged(const char *needle) { return strstr(sbuf_str(&g_cap.log), needle) != NULL; }

#endif
