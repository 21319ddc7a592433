/* out_text — the human transcript; format in docs/schema.md ("Text").
 *
 *   == #3 10.0.0.1:51234 -> 10.0.0.2:25  2024-12-05T08:52:31.123456Z
 *   #3 +0.001 S< 220 mx.example ESMTP  [greeting]
 *   #3 +0.010 C> MAIL FROM:<a@b.example> SIZE=120  [MAIL]
 *   #3 +0.011 S< 250 2.1.0 Ok  [MAIL ok]
 *
 * Each line carries the session id because sessions interleave. Wire bytes
 * go through esc_tty only; labels are constants or escaped too. Output is
 * built in one buffer and written with fwrite when it is large. */
#include "out.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "auth.h"
#include "esc.h"
#include "flow.h"
#include "netaddr.h"
#include "out_tls.h"
#include "smtp.h"

#define OUT_TEXT_FLUSH_AT (256 * 1024) /* bytes buffered before an fwrite */

/* ANSI SGR sequences (constants: never built from input). */
#define C_RESET  "\033[0m"
#define C_BOLD   "\033[1m"
#define C_DIM    "\033[2m"
#define C_RED    "\033[31m"
#define C_GREEN  "\033[32m"
#define C_YELLOW "\033[33m"
#define C_CYAN   "\033[36m"
#define C_MAGENTA "\033[35m"

/* Grouping (out_opts.group, offline runs): each session's lines are held
 * until it ends, so a report reads session by session. Bounded: past
 * OUT_TEXT_HELD_MAX bytes held in all, every held session is written out as
 * it stands and goes on streaming. */
#define OUT_TEXT_HELD_MAX  (4u << 20)
#define OUT_TEXT_HELD_BUCKETS 4096

struct held {
	uint64_t id;          /* flow id of the session */
	struct sbuf b;        /* its lines so far */
	struct held *next;    /* bucket chain */
	struct held *qnext;   /* the order sessions began in */
	bool done;            /* ended; waits for the sessions that began before it */
};

struct out_text {
	struct sink base;     /* first member (container-of) */
	FILE *f;              /* borrowed */
	struct out_opts o;    /* copy */
	struct sbuf buf;      /* pending output */
	struct held **held;   /* OUT_TEXT_HELD_BUCKETS chains (grouping only) */
	struct held *qhead, *qtail; /* held sessions in the order they began */
	size_t held_bytes;    /* bytes held in all sessions */
};

static void color(struct out_text *t, const char *c)
{
	if (t->o.color)
		sbuf_adds(&t->buf, c);
}

static void text_push(struct out_text *t)
{
	if (t->buf.len >= OUT_TEXT_FLUSH_AT) {
		fwrite(t->buf.buf, 1, t->buf.len, t->f);
		sbuf_clear(&t->buf);
	}
}

/* "#id +12.345 " */
static void prefix(struct out_text *t, const struct event *ev, bool with_time)
{
	uint64_t id = ev->flow ? ev->flow->id : 0;
	uint64_t start = ev->sess ? ev->sess->start_ts_us : ev->ts_us;
	uint64_t d = ev->ts_us > start ? ev->ts_us - start : 0;
	if (with_time)
		sbuf_addf(&t->buf, "#%" PRIu64 " +%" PRIu64 ".%03u ", id, d / 1000000,
		          (unsigned)(d % 1000000 / 1000));
	else
		sbuf_addf(&t->buf, "#%" PRIu64 "    ", id);
}

static void label(struct out_text *t, const char *l, const char *v, size_t vn, bool v_secret)
{
	color(t, C_DIM);
	sbuf_add(&t->buf, "  [", 3);
	esc_tty(&t->buf, l, strlen(l));
	if (v) {
		sbuf_add(&t->buf, ": ", 2);
		if (v_secret && !t->o.show_secrets)
			sbuf_add(&t->buf, "********", 8);
		else
			esc_tty(&t->buf, v, vn);
	}
	sbuf_addc(&t->buf, ']');
	color(t, C_RESET);
}

static const char *reply_color(int code)
{
	switch (code / 100) {
	case 2: return C_GREEN;
	case 3: return C_CYAN;
	case 4: return C_YELLOW;
	case 5: return C_RED;
	}
	return C_MAGENTA;
}

static void anoms_list(struct out_text *t, const struct anom_set *a, const struct anom_set *a2)
{
	bool first = true;
	for (int i = 0; i < ANOM__COUNT; i++) {
		if (!anom_has(a, (enum anom_id)i) && !(a2 && anom_has(a2, (enum anom_id)i)))
			continue;
		sbuf_adds(&t->buf, first ? "" : ", ");
		sbuf_adds(&t->buf, anom_name((enum anom_id)i));
		first = false;
	}
}

static void session_begin(struct out_text *t, const struct event *ev)
{
	char c[ENDPOINT_STRLEN], s[ENDPOINT_STRLEN];
	color(t, C_BOLD);
	sbuf_addf(&t->buf, "== #%" PRIu64 " %s -> %s  ", ev->flow ? ev->flow->id : 0,
	          ev->flow ? endpoint_str(&ev->flow->client, c, sizeof c) : "?",
	          ev->flow ? endpoint_str(&ev->flow->server, s, sizeof s) : "?");
	out_ts_iso(&t->buf, ev->ts_us);
	color(t, C_RESET);
	sbuf_addc(&t->buf, '\n');
}

static void auth_summary(struct out_text *t, const struct auth_attempt *a)
{
	if (!a) {
		sbuf_adds(&t->buf, "none");
		return;
	}
	if (a->has_user)
		esc_tty(&t->buf, a->user.buf ? a->user.buf : "", a->user.len);
	else
		sbuf_adds(&t->buf, "?");
	if (a->mech == AUTH_MECH_NTLM && a->domain.len) {
		sbuf_adds(&t->buf, " domain ");
		esc_tty(&t->buf, a->domain.buf, a->domain.len);
	}
	sbuf_adds(&t->buf, " (");
	esc_tty(&t->buf, a->mech_name, strlen(a->mech_name));
	sbuf_adds(&t->buf, ", ");
	sbuf_adds(&t->buf, auth_result_str(a->result));
	if (a->has_secret && a->mech != AUTH_MECH_NTLM) {
		sbuf_adds(&t->buf, ", secret ");
		if (t->o.show_secrets)
			esc_tty(&t->buf, a->secret.buf ? a->secret.buf : "", a->secret.len);
		else
			sbuf_adds(&t->buf, "********");
	}
	sbuf_addc(&t->buf, ')');
}

/* One "finding [severity] id: detail" line each (wire text escaped). */
static void findings_lines(struct out_text *t, const struct event *ev, const struct smtp_finding *fs,
                           size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct smtp_finding *f = &fs[i];
		prefix(t, ev, false);
		color(t, C_RED);
		sbuf_adds(&t->buf, "   finding [");
		esc_tty(&t->buf, f->severity ? f->severity : "?", f->severity ? strlen(f->severity) : 1);
		sbuf_adds(&t->buf, "] ");
		esc_tty(&t->buf, f->id ? f->id : "?", f->id ? strlen(f->id) : 1);
		if (f->detail) {
			sbuf_adds(&t->buf, ": ");
			esc_tty(&t->buf, f->detail, strlen(f->detail));
		}
		color(t, C_RESET);
		sbuf_addc(&t->buf, '\n');
	}
}

/* Decrypted from TLS: "C>>" / "S<<" instead of "C>" / "S<". */
static bool inner(const struct event *ev) { return ev->sess && ev->sess->tls_inner; }

/* "#3 -- TLS 1.3 TLS_AES_256_GCM_SHA384 x25519 sni=... ja4=... cert="CN=..."" */
static void tls_facts(struct out_text *t, const struct event *ev, bool with_time, const char *tail)
{
	const struct tls_info *ti = ev->sess ? ev->sess->tls_info : NULL;
	if (!ti)
		return;
	struct sbuf l = SBUF_INIT;
	out_tls_line(&l, ti);
	prefix(t, ev, with_time);
	color(t, C_CYAN);
	sbuf_adds(&t->buf, "-- ");
	esc_tty(&t->buf, l.buf, l.len);
	if (tail)
		sbuf_adds(&t->buf, tail);
	color(t, C_RESET);
	sbuf_addc(&t->buf, '\n');
	sbuf_free(&l);
}

static void session_end(struct out_text *t, const struct event *ev)
{
	const struct smtp_session *s = ev->sess;
	uint64_t d = ev->ts_us > s->start_ts_us ? ev->ts_us - s->start_ts_us : 0;
	if (s->tls && !s->tls_inner) /* what the handshake showed (decrypted: printed where it began) */
		tls_facts(t, ev, false, NULL);
	color(t, C_BOLD);
	sbuf_addf(&t->buf, "== #%" PRIu64 " end +%" PRIu64 ".%03us  tls=%s", ev->flow ? ev->flow->id : 0,
	          d / 1000000, (unsigned)(d % 1000000 / 1000),
	          s->tls ? (s->tls_decrypted ? "yes (decrypted)" : "yes") : "no");
	sbuf_adds(&t->buf, "  auth=");
	auth_summary(t, smtp_session_auth(s));
	if (s->n_auth_total > 1)
		sbuf_addf(&t->buf, " [%" PRIu64 " attempts]", s->n_auth_total);
	sbuf_addf(&t->buf, "  commands=%" PRIu64 " transactions=%" PRIu64, s->n_commands, s->n_txns);
	if (s->tls_bytes[0] || s->tls_bytes[1])
		sbuf_addf(&t->buf, " tls_bytes=%" PRIu64 "/%" PRIu64, s->tls_bytes[0], s->tls_bytes[1]);
	if (s->n_gaps)
		sbuf_addf(&t->buf, " gaps=%" PRIu64, s->n_gaps);
	color(t, C_RESET);
	sbuf_addc(&t->buf, '\n');
	if (anom_any(&s->anoms) || (ev->flow && anom_any(&ev->flow->anoms))) {
		prefix(t, ev, false);
		color(t, C_MAGENTA);
		sbuf_adds(&t->buf, "anomalies: ");
		anoms_list(t, &s->anoms, ev->flow ? &ev->flow->anoms : NULL);
		color(t, C_RESET);
		sbuf_addc(&t->buf, '\n');
	}
	findings_lines(t, ev, s->findings, s->n_findings);
}

static void body_lines(struct out_text *t, const struct event *ev, const struct smtp_line *l)
{
	const uint8_t *p = l->p;
	size_t n = l->n, i = 0;
	bool bol = l->bol;
	while (i < n) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);
		size_t e = lf ? (size_t)(lf - p) : n;
		size_t k = e;
		if (k > i && p[k - 1] == '\r')
			k--;
		prefix(t, ev, false);
		sbuf_add(&t->buf, bol ? "C| " : "C+ ", 3);
		esc_tty(&t->buf, p + i, k - i);
		sbuf_addc(&t->buf, '\n');
		bol = lf != NULL;
		i = lf ? e + 1 : n;
	}
}

static void client_line(struct out_text *t, const struct event *ev)
{
	const struct smtp_line *l = ev->line;
	switch (l->kind) {
	case SMTP_LINE_BODY:
		if (t->o.show_body)
			body_lines(t, ev, l);
		return;
	case SMTP_LINE_MESSAGE:
		prefix(t, ev, true);
		sbuf_addf(&t->buf, "%s (message: %" PRIu64 " bytes, %" PRIu64 " lines)", inner(ev) ? "C>>" : "C>", l->msg_bytes,
		          l->msg_lines);
		label(t, l->label, NULL, 0, false);
		break;
	case SMTP_LINE_DISCARDED:
		prefix(t, ev, true);
		sbuf_addf(&t->buf, "C> (%" PRIu64 " bytes sent before the STARTTLS reply, discarded)",
		          l->msg_bytes);
		label(t, l->label, NULL, 0, false);
		break;
	case SMTP_LINE_TLS:
		if (inner(ev)) { /* the first decrypted byte (label "TLS decrypted") */
			tls_facts(t, ev, true, "  [decrypted from here: C>> and S<< lines]");
			return;
		}
		prefix(t, ev, true);
		sbuf_adds(&t->buf, "C> (TLS handshake: encrypted from here)");
		label(t, l->label, NULL, 0, false);
		break;
	case SMTP_LINE_COMMAND:
	case SMTP_LINE_AUTH:
		prefix(t, ev, true);
		if (inner(ev)) /* inline appends of known lengths: this runs per line */
			sbuf_add(&t->buf, "C>> ", 4);
		else
			sbuf_add(&t->buf, "C> ", 3);
		if (l->secret_off < l->n && !t->o.show_secrets) {
			esc_tty(&t->buf, l->p, l->secret_off);
			sbuf_add(&t->buf, "********", 8);
		} else {
			esc_tty(&t->buf, l->p, l->n);
		}
		if (l->truncated)
			sbuf_adds(&t->buf, "...(truncated)");
		label(t, l->label, l->value, l->value_n, l->value_secret);
		break;
	}
	sbuf_addc(&t->buf, '\n');
}

static void reply_lines(struct out_text *t, const struct event *ev)
{
	const struct smtp_reply *r = ev->reply;
	for (size_t i = 0; i < r->n_lines; i++) {
		prefix(t, ev, i == 0);
		color(t, reply_color(r->code));
		if (inner(ev))
			sbuf_add(&t->buf, "S<< ", 4);
		else
			sbuf_add(&t->buf, "S< ", 3);
		esc_tty(&t->buf, r->lines[i].p, r->lines[i].n);
		color(t, C_RESET);
		if (i + 1 == r->n_lines) {
			if (r->n_lines_total > r->n_lines)
				sbuf_addf(&t->buf, " (+%zu lines)", r->n_lines_total - r->n_lines);
			label(t, r->label, NULL, 0, false);
		}
		sbuf_addc(&t->buf, '\n');
	}
}

static void rcpt_list(struct out_text *t, const struct smtp_txn *x, bool rejected)
{
	bool first = true;
	for (size_t i = 0; i < x->n_rcpts; i++) {
		if ((x->rcpts[i].reply >= 400) != rejected)
			continue;
		sbuf_adds(&t->buf, first ? "<" : ", <");
		esc_tty(&t->buf, x->rcpts[i].addr, x->rcpts[i].addr_n);
		sbuf_addc(&t->buf, '>');
		first = false;
	}
	if (first)
		sbuf_adds(&t->buf, "-");
}

static void transaction(struct out_text *t, const struct event *ev)
{
	const struct smtp_txn *x = ev->txn;
	if (t->o.findings_only && x->n_findings == 0)
		return;
	prefix(t, ev, true);
	color(t, C_BOLD);
	sbuf_addf(&t->buf, "-- transaction %" PRIu64 " (%s)", x->seq, smtp_txn_end_str(x->end));
	color(t, C_RESET);
	sbuf_addc(&t->buf, '\n');
	prefix(t, ev, false);
	sbuf_adds(&t->buf, "   from: ");
	if (x->has_mail) {
		sbuf_addc(&t->buf, '<');
		esc_tty(&t->buf, x->mail_from, x->mail_from_n);
		sbuf_addc(&t->buf, '>');
		if (x->mail_reply)
			sbuf_addf(&t->buf, " (%d)", x->mail_reply);
	} else {
		sbuf_adds(&t->buf, "-");
	}
	sbuf_adds(&t->buf, "  to: ");
	rcpt_list(t, x, false);
	if (x->n_rcpt_rejected) {
		sbuf_adds(&t->buf, "  rejected: ");
		rcpt_list(t, x, true);
	}
	if (x->n_rcpt_total > x->n_rcpts)
		sbuf_addf(&t->buf, "  (+%" PRIu64 " more)", x->n_rcpt_total - x->n_rcpts);
	sbuf_addc(&t->buf, '\n');
	prefix(t, ev, false);
	sbuf_addf(&t->buf, "   message: %" PRIu64 " bytes, %" PRIu64 " lines, %s", x->msg_bytes,
	          x->msg_lines,
	          x->xfer == SMTP_XFER_DATA ? "DATA" : x->xfer == SMTP_XFER_BDAT ? "BDAT" : "none");
	if (x->data_reply)
		sbuf_addf(&t->buf, " %d", x->data_reply);
	sbuf_adds(&t->buf, x->msg_complete ? "" : (x->msg_started ? " (incomplete)" : ""));
	if (x->last_reply) {
		sbuf_adds(&t->buf, "  last reply: ");
		esc_tty(&t->buf, x->last_reply, strlen(x->last_reply));
	}
	sbuf_addc(&t->buf, '\n');
	prefix(t, ev, false);
	sbuf_adds(&t->buf, "   helo: ");
	if (x->helo)
		esc_tty(&t->buf, x->helo, strlen(x->helo));
	else
		sbuf_adds(&t->buf, "-");
	sbuf_adds(&t->buf, x->tls ? "  tls: yes  auth: " : "  tls: no  auth: ");
	auth_summary(t, x->auth);
	sbuf_addc(&t->buf, '\n');
	if (anom_any(&x->anoms)) {
		prefix(t, ev, false);
		color(t, C_MAGENTA);
		sbuf_adds(&t->buf, "   anomalies: ");
		anoms_list(t, &x->anoms, NULL);
		color(t, C_RESET);
		sbuf_addc(&t->buf, '\n');
	}
	if (x->headers && t->o.write_headers_text) {
		/* the same "#N" prefix as every other line, so grep '^#N ' keeps them */
		char ind[48];
		snprintf(ind, sizeof ind, "#%" PRIu64 "       ", ev->flow ? ev->flow->id : (uint64_t)0);
		t->o.write_headers_text(&t->buf, x->headers, ind);
	}
	findings_lines(t, ev, x->findings, x->n_findings);
}

static void text_format(struct out_text *t, const struct event *ev);

static struct held **held_slot(struct out_text *t, uint64_t id)
{
	struct held **pp = &t->held[id % OUT_TEXT_HELD_BUCKETS];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

/* Write out every held session as it stands, in the order they began (the
 * cap was reached, or the end of the run). Finished ones are gone for good;
 * the others stay held, with their buffers given back, for what follows —
 * so a session that never ends cannot make every later one pile up. */
static void held_spill(struct out_text *t)
{
	struct held **qp = &t->qhead, *prev = NULL;
	while (*qp) {
		struct held *h = *qp;
		sbuf_add(&t->buf, h->b.buf ? h->b.buf : "", h->b.len);
		sbuf_free(&h->b);
		text_push(t);
		if (h->done) {
			*qp = h->qnext;
			*held_slot(t, h->id) = h->next;
			free(h);
		} else {
			prev = h;
			qp = &h->qnext;
		}
	}
	t->qtail = prev;
	t->held_bytes = 0;
}

static void text_emit(struct sink *sk, const struct event *ev)
{
	struct out_text *t = (struct out_text *)sk;
	if (!t->held || !ev->flow || ev->type == EV_FLOW_END) {
		text_format(t, ev);
		return;
	}
	struct held **pp = held_slot(t, ev->flow->id);
	if (!*pp) {
		*pp = xcalloc(1, sizeof **pp);
		(*pp)->id = ev->flow->id;
		if (t->qtail)
			t->qtail->qnext = *pp;
		else
			t->qhead = *pp;
		t->qtail = *pp;
	}
	struct held *h = *pp;
	/* format into the session's own buffer */
	struct sbuf main_buf = t->buf;
	t->buf = h->b;
	size_t before = t->buf.len;
	text_format(t, ev);
	if (t->buf.len >= before)
		t->held_bytes += t->buf.len - before;
	h->b = t->buf;
	t->buf = main_buf;
	if (ev->type == EV_SESSION_END) {
		/* sessions come out in the order they began: write every finished
		 * one at the head of that order */
		h->done = true;
		while (t->qhead && t->qhead->done) {
			struct held *d = t->qhead;
			t->qhead = d->qnext;
			if (!t->qhead)
				t->qtail = NULL;
			sbuf_add(&t->buf, d->b.buf ? d->b.buf : "", d->b.len);
			t->held_bytes -= d->b.len < t->held_bytes ? d->b.len : t->held_bytes;
			*held_slot(t, d->id) = d->next;
			sbuf_free(&d->b);
			free(d);
			text_push(t);
		}
	}
	if (t->held_bytes > OUT_TEXT_HELD_MAX)
		held_spill(t);
}

static void text_format(struct out_text *t, const struct event *ev)
{
	switch (ev->type) {
	case EV_SESSION_BEGIN:
		if (!t->o.findings_only)
			session_begin(t, ev);
		break;
	case EV_CLIENT:
		if (!t->o.findings_only)
			client_line(t, ev);
		break;
	case EV_REPLY:
		if (!t->o.findings_only)
			reply_lines(t, ev);
		break;
	case EV_TRANSACTION:
		transaction(t, ev);
		break;
	case EV_SESSION_END:
		if (!t->o.findings_only || ev->sess->n_findings)
			session_end(t, ev);
		break;
	case EV_FLOW_END:
		break;
	}
	text_push(t);
}

static void text_flush(struct sink *sk)
{
	struct out_text *t = (struct out_text *)sk;
	if (t->buf.len) {
		fwrite(t->buf.buf, 1, t->buf.len, t->f);
		sbuf_clear(&t->buf);
	}
	fflush(t->f);
}

static void text_close(struct sink *sk)
{
	struct out_text *t = (struct out_text *)sk;
	if (t->held) {
		held_spill(t);
		for (size_t i = 0; i < OUT_TEXT_HELD_BUCKETS; i++)
			while (t->held[i]) {
				struct held *h = t->held[i];
				t->held[i] = h->next;
				sbuf_free(&h->b);
				free(h);
			}
		free(t->held);
	}
	text_flush(sk);
	sbuf_free(&t->buf);
	free(t);
}

static const struct sink_ops text_ops = { text_emit, text_flush, text_close };

struct sink *out_text_new(FILE *f, const struct out_opts *o)
{
	struct out_text *t = xcalloc(1, sizeof *t);
	t->base.ops = &text_ops;
	t->f = f;
	if (o)
		t->o = *o;
	sbuf_reserve(&t->buf, OUT_TEXT_FLUSH_AT + 4096);
	if (t->o.group)
		t->held = xcalloc(OUT_TEXT_HELD_BUCKETS, sizeof *t->held);
	return &t->base;
}
