/* ui_model — counters and a bounded, escaped copy of recent sessions for the
 * live UI; contract in include/ui_model.h. No curses here: the model is a
 * plain sink, testable without a terminal. */
#include "ui_model.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "esc.h"
#include "flow.h"
#include "imf.h"
#include "msgwire.h"
#include "netaddr.h"
#include "out_imf.h"
#include "out_tls.h"
#include "sbuf.h"
#include "smtp.h"

#define HASH_SIZE 2048 /* buckets of the id -> session table (power of two) */

struct ui_model {
	struct sink base;                 /* first member (container-of) */
	bool show_secrets;
	struct ui_counters c;
	uint64_t gen;
	struct ui_session *oldest, *newest; /* age list */
	size_t nsess;
	struct ui_session *hash[HASH_SIZE];
	struct ui_finding ring[UI_MODEL_FINDINGS_MAX]; /* global findings */
	size_t ring_head;                 /* next slot to write */
	size_t ring_n;                    /* entries in use */
	uint64_t finding_seq;
	unsigned rate[UI_MODEL_RATE_BUCKETS]; /* messages per bucket (ring) */
	uint64_t rate_now;                /* bucket number (ts / bucket) of the newest bucket */
	bool rate_started;
	struct sbuf tmp;                  /* scratch */
};

const char *ui_sev_str(enum ui_sev s)
{
	static const char *const n[] = { "", "info", "low", "medium", "high" };
	return (unsigned)s < 5 ? n[s] : "";
}

static enum ui_sev sev_of(const char *s)
{
	if (!s)
		return UI_SEV_INFO;
	if (strcmp(s, "high") == 0)
		return UI_SEV_HIGH;
	if (strcmp(s, "medium") == 0)
		return UI_SEV_MEDIUM;
	if (strcmp(s, "low") == 0)
		return UI_SEV_LOW;
	return UI_SEV_INFO;
}

/* ---- strings ------------------------------------------------------------ */

/* Cut s (escaped, valid UTF-8) to at most max bytes at a character
 * boundary, appending "…" when cut. */
static void cap_utf8(struct sbuf *s, size_t max)
{
	if (s->len <= max)
		return;
	size_t k = max > 3 ? max - 3 : 0;
	while (k > 0 && ((uint8_t)s->buf[k] & 0xc0) == 0x80)
		k--;
	s->len = k;
	s->buf[k] = '\0';
	sbuf_adds(s, "\xe2\x80\xa6"); /* … */
}

/* A new escaped, capped copy of p[0..n). */
static char *esc_dup(struct ui_model *m, const void *p, size_t n, size_t max)
{
	sbuf_clear(&m->tmp);
	if (p && n)
		esc_tty(&m->tmp, p, n);
	cap_utf8(&m->tmp, max);
	return xstrndup(sbuf_str(&m->tmp), m->tmp.len);
}

static void set_field(struct ui_model *m, char **dst, const void *p, size_t n)
{
	free(*dst);
	*dst = esc_dup(m, p, n, UI_MODEL_FIELD_MAX);
}

/* ---- sessions ----------------------------------------------------------- */

static size_t hslot(uint64_t id)
{
	id ^= id >> 29;
	id *= 0x9e3779b97f4a7c15ull;
	return (size_t)(id >> 40) & (HASH_SIZE - 1);
}

static struct ui_session *find(const struct ui_model *m, uint64_t id)
{
	for (struct ui_session *s = m->hash[hslot(id)]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

static void sess_free(struct ui_session *s)
{
	free(s->helo);
	free(s->auth_user);
	free(s->auth_desc);
	free(s->mail_from);
	free(s->rcpt);
	free(s->subject);
	free(s->last_reply);
	free(s->tls_desc);
	for (size_t i = 0; i < s->nlines; i++)
		free(s->lines[i].text);
	free(s->lines);
	for (size_t i = 0; i < s->nfindings; i++)
		free(s->findings[i].detail);
	free(s->findings);
	free(s);
}

static void sess_unlink(struct ui_model *m, struct ui_session *s)
{
	struct ui_session **pp = &m->hash[hslot(s->id)];
	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	if (s->older)
		s->older->newer = s->newer;
	else
		m->oldest = s->newer;
	if (s->newer)
		s->newer->older = s->older;
	else
		m->newest = s->older;
	m->nsess--;
}

/* Respect UI_MODEL_SESS_MAX: drop the oldest closed session, else the oldest. */
static void sess_evict(struct ui_model *m)
{
	while (m->nsess >= UI_MODEL_SESS_MAX) {
		struct ui_session *v = m->oldest;
		for (struct ui_session *s = m->oldest; s; s = s->newer)
			if (s->closed) {
				v = s;
				break;
			}
		sess_unlink(m, v);
		sess_free(v);
		m->c.sessions_dropped++;
	}
}

static struct ui_session *sess_new(struct ui_model *m, const struct event *ev)
{
	sess_evict(m);
	struct ui_session *s = xcalloc(1, sizeof *s);
	s->id = ev->flow ? ev->flow->id : 0;
	s->start_ts_us = ev->sess ? ev->sess->start_ts_us : ev->ts_us;
	s->last_ts_us = ev->ts_us;
	s->state = "greeting";
	if (ev->flow) {
		endpoint_str(&ev->flow->client, s->client, sizeof s->client);
		endpoint_str(&ev->flow->server, s->server, sizeof s->server);
	}
	s->helo = xstrndup("", 0);
	s->auth_user = xstrndup("", 0);
	s->auth_desc = xstrndup("", 0);
	s->mail_from = xstrndup("", 0);
	s->rcpt = xstrndup("", 0);
	s->subject = xstrndup("", 0);
	s->last_reply = xstrndup("", 0);
	s->tls_desc = xstrndup("", 0);
	size_t h = hslot(s->id);
	s->hnext = m->hash[h];
	m->hash[h] = s;
	s->older = m->newest;
	if (m->newest)
		m->newest->newer = s;
	else
		m->oldest = s;
	m->newest = s;
	m->nsess++;
	return s;
}

/* Append a transcript line: text and label are already escaped. */
static void add_line(struct ui_session *s, enum ui_line_kind kind, uint64_t ts, int code, enum ui_sev sev,
                     struct sbuf *text, const char *label)
{
	if (s->nlines >= UI_MODEL_LINES_MAX) {
		s->lines_more++;
		return;
	}
	cap_utf8(text, UI_MODEL_TEXT_MAX);
	size_t tl = text->len, ll = label ? strlen(label) : 0;
	char *blk = xmalloc(tl + 1 + (label ? ll + 1 : 0));
	memcpy(blk, sbuf_str(text), tl);
	blk[tl] = '\0';
	if (label) {
		memcpy(blk + tl + 1, label, ll);
		blk[tl + 1 + ll] = '\0';
	}
	if (s->nlines == s->cap_lines) {
		s->cap_lines = s->cap_lines ? s->cap_lines * 2 : 32;
		if (s->cap_lines > UI_MODEL_LINES_MAX)
			s->cap_lines = UI_MODEL_LINES_MAX;
		s->lines = xrealloc(s->lines, s->cap_lines * sizeof *s->lines);
	}
	struct ui_line *l = &s->lines[s->nlines++];
	l->kind = (uint8_t)kind;
	l->sev = (uint8_t)sev;
	l->code = (uint16_t)(code > 0 && code < 1000 ? code : 0);
	l->ts_us = ts;
	l->text = blk;
	l->label = label ? blk + tl + 1 : NULL;
}

/* ---- rate --------------------------------------------------------------- */

static void rate_advance(struct ui_model *m, uint64_t ts_us)
{
	uint64_t b = ts_us / UI_MODEL_RATE_BUCKET_US;
	if (!m->rate_started) {
		m->rate_started = true;
		m->rate_now = b;
		return;
	}
	if (b <= m->rate_now)
		return;
	uint64_t steps = b - m->rate_now;
	if (steps > UI_MODEL_RATE_BUCKETS)
		steps = UI_MODEL_RATE_BUCKETS;
	for (uint64_t i = 1; i <= steps; i++)
		m->rate[(m->rate_now + i) % UI_MODEL_RATE_BUCKETS] = 0;
	m->rate_now = b;
}

static void rate_count(struct ui_model *m, uint64_t ts_us)
{
	rate_advance(m, ts_us);
	uint64_t b = ts_us / UI_MODEL_RATE_BUCKET_US;
	if (b + UI_MODEL_RATE_BUCKETS <= m->rate_now)
		return; /* too old for the window */
	if (b > m->rate_now)
		b = m->rate_now;
	m->rate[b % UI_MODEL_RATE_BUCKETS]++;
}

double ui_model_rate(const struct ui_model *m, unsigned out[UI_MODEL_RATE_BUCKETS])
{
	for (unsigned i = 0; i < UI_MODEL_RATE_BUCKETS; i++) {
		uint64_t b = m->rate_now + 1 + i; /* oldest .. newest */
		out[i] = m->rate_started ? m->rate[b % UI_MODEL_RATE_BUCKETS] : 0;
	}
	unsigned per_min = 60000000u / UI_MODEL_RATE_BUCKET_US, sum = 0;
	for (unsigned i = 0; i < per_min && i < UI_MODEL_RATE_BUCKETS; i++)
		sum += out[UI_MODEL_RATE_BUCKETS - 1 - i];
	return (double)sum;
}

void ui_model_tick(struct ui_model *m, uint64_t now_us)
{
	uint64_t before = m->rate_now;
	rate_advance(m, now_us);
	if (m->rate_now != before)
		m->gen++;
}

/* ---- events ------------------------------------------------------------- */

/* "<addr>" or "addr ..." after "FROM:" / "TO:": the path, for a live column
 * (the transaction record replaces it with the parser's value). */
static void path_of(const uint8_t *arg, size_t n, const uint8_t **p, size_t *pn)
{
	size_t i = 0;
	while (i < n && arg[i] != ':')
		i++;
	if (i < n)
		i++;
	while (i < n && arg[i] == ' ')
		i++;
	size_t j = i;
	if (j < n && arg[j] == '<') {
		i++;
		while (j < n && arg[j] != '>')
			j++;
	} else {
		while (j < n && arg[j] != ' ')
			j++;
	}
	*p = arg + i;
	*pn = j > i ? j - i : 0;
}

static void update_auth(struct ui_model *m, struct ui_session *s, const struct smtp_session *ss)
{
	const struct auth_attempt *a = ss ? smtp_session_auth(ss) : NULL;
	if (!a)
		return;
	if (a->has_user)
		set_field(m, &s->auth_user, a->user.buf, a->user.len);
	struct sbuf *t = &m->tmp;
	sbuf_clear(t);
	if (a->has_user)
		esc_tty(t, a->user.buf, a->user.len);
	else
		sbuf_adds(t, "?");
	if (a->mech == AUTH_MECH_NTLM && a->domain.len) {
		sbuf_adds(t, " domain ");
		esc_tty(t, a->domain.buf, a->domain.len);
	}
	sbuf_adds(t, " (");
	esc_tty(t, a->mech_name, strlen(a->mech_name));
	sbuf_adds(t, ", ");
	sbuf_adds(t, auth_result_str(a->result));
	if (a->has_secret && a->mech != AUTH_MECH_NTLM) {
		sbuf_adds(t, ", secret ");
		if (m->show_secrets)
			esc_tty(t, a->secret.buf, a->secret.len);
		else
			sbuf_adds(t, "********");
	}
	sbuf_addc(t, ')');
	if (ss->n_auth_total > 1)
		sbuf_addf(t, " [%" PRIu64 " attempts]", ss->n_auth_total);
	cap_utf8(t, UI_MODEL_FIELD_MAX);
	free(s->auth_desc);
	s->auth_desc = xstrndup(sbuf_str(t), t->len);
}

/* What the TLS layer saw so far (the handshake completes between events). */
static void update_tls(struct ui_model *m, struct ui_session *s, const struct smtp_session *ss)
{
	if (!ss || !ss->tls)
		return;
	s->tls = true;
	s->tls_decrypted = ss->tls_inner;
	if (!ss->tls_info)
		return;
	struct sbuf l = SBUF_INIT;
	out_tls_line(&l, ss->tls_info);
	set_field(m, &s->tls_desc, l.buf, l.len);
	sbuf_free(&l);
}

static void on_client(struct ui_model *m, struct ui_session *s, const struct event *ev)
{
	const struct smtp_line *l = ev->line;
	struct sbuf text = SBUF_INIT, lab = SBUF_INIT;
	switch (l->kind) {
	case SMTP_LINE_BODY:
		return;
	case SMTP_LINE_MESSAGE:
		sbuf_addf(&text, "(message: %" PRIu64 " bytes, %" PRIu64 " lines)", l->msg_bytes, l->msg_lines);
		break;
	case SMTP_LINE_DISCARDED:
		sbuf_addf(&text, "(%" PRIu64 " bytes sent before the STARTTLS reply, discarded)", l->msg_bytes);
		break;
	case SMTP_LINE_TLS:
		update_tls(m, s, ev->sess);
		sbuf_adds(&text, s->tls_decrypted ? "(TLS decrypted from here: ": "(TLS handshake: encrypted from here)");
		if (s->tls_decrypted) {
			sbuf_adds(&text, s->tls_desc);
			sbuf_addc(&text, ')');
		}
		s->state = "TLS";
		s->tls = true;
		break;
	case SMTP_LINE_COMMAND:
	case SMTP_LINE_AUTH:
		if (l->secret_off < l->n && !m->show_secrets) {
			esc_tty(&text, l->p, l->secret_off);
			sbuf_adds(&text, "********");
		} else {
			esc_tty(&text, l->p, l->n);
		}
		if (l->truncated)
			sbuf_adds(&text, "...(truncated)");
		break;
	}
	if (l->label) {
		esc_tty(&lab, l->label, strlen(l->label));
		if (l->value) {
			sbuf_adds(&lab, ": ");
			if (l->value_secret && !m->show_secrets)
				sbuf_adds(&lab, "********");
			else
				esc_tty(&lab, l->value, l->value_n);
		}
		cap_utf8(&lab, UI_MODEL_FIELD_MAX);
	}
	int kind = l->kind == SMTP_LINE_COMMAND || l->kind == SMTP_LINE_AUTH ? UI_LINE_CLIENT : UI_LINE_NOTE;
	add_line(s, kind, ev->ts_us, 0, UI_SEV_NONE, &text, l->label ? sbuf_str(&lab) : NULL);
	sbuf_free(&text);
	sbuf_free(&lab);

	if (l->kind != SMTP_LINE_COMMAND)
		return;
	const uint8_t *p;
	size_t pn;
	switch (l->verb) {
	case SMTP_VERB_HELO: case SMTP_VERB_EHLO: case SMTP_VERB_LHLO:
		set_field(m, &s->helo, l->arg, l->arg_n);
		if (!s->tls)
			s->state = l->verb == SMTP_VERB_HELO ? "HELO" : "EHLO";
		break;
	case SMTP_VERB_AUTH:
		s->state = "AUTH";
		m->c.auth_attempts++;
		break;
	case SMTP_VERB_MAIL:
		s->state = "MAIL";
		path_of(l->arg, l->arg_n, &p, &pn);
		set_field(m, &s->mail_from, p, pn);
		set_field(m, &s->rcpt, NULL, 0);
		set_field(m, &s->subject, NULL, 0);
		s->n_rcpt = 0;
		break;
	case SMTP_VERB_RCPT:
		if (s->n_rcpt++ == 0) {
			path_of(l->arg, l->arg_n, &p, &pn);
			set_field(m, &s->rcpt, p, pn);
		}
		break;
	case SMTP_VERB_DATA: case SMTP_VERB_BDAT:
		s->state = "DATA";
		break;
	case SMTP_VERB_STARTTLS:
		s->state = "TLS";
		break;
	default:
		break;
	}
}

static void on_reply(struct ui_model *m, struct ui_session *s, const struct event *ev)
{
	const struct smtp_reply *r = ev->reply;
	struct sbuf text = SBUF_INIT, lab = SBUF_INIT;
	for (size_t i = 0; i < r->n_lines; i++) {
		sbuf_clear(&text);
		esc_tty(&text, r->lines[i].p, r->lines[i].n);
		bool last = i + 1 == r->n_lines;
		if (last && r->n_lines_total > r->n_lines)
			sbuf_addf(&text, " (+%zu lines)", r->n_lines_total - r->n_lines);
		if (last && r->label) {
			sbuf_clear(&lab);
			esc_tty(&lab, r->label, strlen(r->label));
		}
		add_line(s, UI_LINE_SERVER, ev->ts_us, r->code, UI_SEV_NONE, &text,
		         last && r->label ? sbuf_str(&lab) : NULL);
	}
	if (r->n_lines)
		set_field(m, &s->last_reply, r->lines[0].p, r->lines[0].n);
	sbuf_free(&text);
	sbuf_free(&lab);
	if (r->answer == SMTP_ANSWER_AUTH || (r->answer == SMTP_ANSWER_COMMAND && r->answers == SMTP_VERB_AUTH)) {
		if (r->code >= 200 && r->code < 300)
			m->c.auth_ok++;
		else if (r->code >= 400)
			m->c.auth_failed++;
	}
	if (ev->sess && ev->sess->n_auth_total)
		update_auth(m, s, ev->sess);
	if (ev->sess && ev->sess->tls) {
		s->tls = true;
		s->state = "TLS";
		if (ev->sess->tls_inner && !s->tls_desc[0])
			update_tls(m, s, ev->sess);
	}
}

static const struct imf_headers *txn_headers(const struct smtp_txn *x)
{
	return msgwire_txn_headers(x); /* what msgwire attached to the transaction */
}

/* The findings of a transaction (txn its number) or of the session (txn 0):
 * counters, the session's lines, the global ring and the session's list. */
static void add_findings(struct ui_model *m, struct ui_session *s, const struct event *ev,
                         const struct smtp_finding *fs, size_t n, uint64_t txn)
{
	struct sbuf t = SBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		const struct smtp_finding *f = &fs[i];
		enum ui_sev sev = sev_of(f->severity);
		const char *fid = f->id ? f->id : "?";
		m->c.findings[sev]++;
		m->c.findings_total++;
		s->n_findings[sev]++;
		if (sev > s->worst)
			s->worst = sev;
		sbuf_clear(&t);
		sbuf_addf(&t, "   finding [%s] ", ui_sev_str(sev));
		esc_tty(&t, fid, strlen(fid));
		add_line(s, UI_LINE_TXN, ev->ts_us, 0, sev, &t, NULL);

		struct ui_finding uf = { 0 };
		uf.seq = ++m->finding_seq;
		uf.sess_id = s->id;
		uf.ts_us = ev->ts_us;
		uf.txn = txn; /* 0: a session-scoped finding */
		uf.sev = sev;
		uf.id = fid;
		memcpy(uf.client, s->client, sizeof uf.client);
		uf.detail = esc_dup(m, f->detail, f->detail ? strlen(f->detail) : 0, UI_MODEL_TEXT_MAX);
		/* global ring */
		struct ui_finding *slot = &m->ring[m->ring_head];
		if (m->ring_n == UI_MODEL_FINDINGS_MAX)
			free(slot->detail);
		else
			m->ring_n++;
		*slot = uf;
		m->ring_head = (m->ring_head + 1) % UI_MODEL_FINDINGS_MAX;
		/* per session */
		if (s->nfindings < UI_MODEL_SESS_FINDINGS_MAX) {
			s->findings = xrealloc(s->findings, (s->nfindings + 1) * sizeof *s->findings);
			uf.detail = xstrndup(slot->detail, strlen(slot->detail));
			s->findings[s->nfindings++] = uf;
		} else {
			s->findings_more++;
		}
	}
	sbuf_free(&t);
}

static void on_txn(struct ui_model *m, struct ui_session *s, const struct event *ev)
{
	const struct smtp_txn *x = ev->txn;
	bool msg = x->msg_started || x->msg_complete;
	m->c.transactions++;
	s->n_txns++;
	if (msg) {
		m->c.messages++;
		s->n_msgs++;
		rate_count(m, ev->ts_us);
	}
	if (x->has_mail)
		set_field(m, &s->mail_from, x->mail_from, x->mail_from_n);
	if (x->n_rcpts)
		set_field(m, &s->rcpt, x->rcpts[0].addr, x->rcpts[0].addr_n);
	s->n_rcpt = x->n_rcpt_total;
	if (x->last_reply)
		set_field(m, &s->last_reply, x->last_reply, strlen(x->last_reply));
	const struct imf_headers *h = txn_headers(x);
	if (h && h->subject)
		set_field(m, &s->subject, h->subject, strlen(h->subject));

	struct sbuf t = SBUF_INIT;
	sbuf_addf(&t, "-- transaction %" PRIu64 " (%s): from <", x->seq, smtp_txn_end_str(x->end));
	if (x->has_mail)
		esc_tty(&t, x->mail_from, x->mail_from_n);
	sbuf_adds(&t, "> to ");
	for (size_t i = 0; i < x->n_rcpts && i < 5; i++) {
		sbuf_adds(&t, i ? ", <" : "<");
		esc_tty(&t, x->rcpts[i].addr, x->rcpts[i].addr_n);
		sbuf_addc(&t, '>');
		if (x->rcpts[i].reply >= 400)
			sbuf_addf(&t, " (%d)", x->rcpts[i].reply);
	}
	if (x->n_rcpt_total > 5 || x->n_rcpt_total > x->n_rcpts)
		sbuf_addf(&t, " (+%" PRIu64 " more)", x->n_rcpt_total - (x->n_rcpts < 5 ? x->n_rcpts : 5));
	if (!x->n_rcpt_total)
		sbuf_adds(&t, "-");
	sbuf_addf(&t, "; %" PRIu64 " bytes", x->msg_bytes);
	add_line(s, UI_LINE_TXN, ev->ts_us, 0, UI_SEV_NONE, &t, NULL);
	if (h) {
		sbuf_clear(&t);
		out_imf_headers_text(&t, h, "   "); /* escaped there (esc_tty) */
		size_t i = 0;
		while (i < t.len) {
			char *nl = memchr(t.buf + i, '\n', t.len - i);
			size_t e = nl ? (size_t)(nl - t.buf) : t.len;
			struct sbuf one = SBUF_INIT;
			sbuf_add(&one, t.buf + i, e - i);
			add_line(s, UI_LINE_TXN, ev->ts_us, 0, UI_SEV_NONE, &one, NULL);
			sbuf_free(&one);
			i = e + 1;
		}
	}
	add_findings(m, s, ev, x->findings, x->n_findings, x->seq);
	sbuf_free(&t);
}

static void model_emit(struct sink *sk, const struct event *ev)
{
	struct ui_model *m = (struct ui_model *)sk;
	if (ev->type == EV_FLOW_END)
		return;
	m->c.events++;
	m->gen++;
	uint64_t id = ev->flow ? ev->flow->id : 0;
	struct ui_session *s = find(m, id);
	if (ev->type == EV_SESSION_BEGIN) {
		m->c.sessions_total++;
		m->c.sessions_open++;
		if (!s)
			s = sess_new(m, ev);
		return;
	}
	if (ev->type == EV_SESSION_END) {
		if (m->c.sessions_open)
			m->c.sessions_open--;
	}
	if (ev->type == EV_TRANSACTION && !s) {
		/* the session was dropped: keep the counters right anyway */
		const struct smtp_txn *x = ev->txn;
		m->c.transactions++;
		if (x->msg_started || x->msg_complete) {
			m->c.messages++;
			rate_count(m, ev->ts_us);
		}
		for (size_t i = 0; i < x->n_findings; i++) {
			m->c.findings[sev_of(x->findings[i].severity)]++;
			m->c.findings_total++;
		}
		return;
	}
	if (ev->type == EV_SESSION_END && !s && ev->sess) {
		for (size_t i = 0; i < ev->sess->n_findings; i++) {
			m->c.findings[sev_of(ev->sess->findings[i].severity)]++;
			m->c.findings_total++;
		}
		return;
	}
	if (!s) {
		if (ev->type == EV_CLIENT && ev->line->kind == SMTP_LINE_COMMAND && ev->line->verb == SMTP_VERB_AUTH)
			m->c.auth_attempts++;
		return;
	}
	s->last_ts_us = ev->ts_us;
	switch (ev->type) {
	case EV_CLIENT:
		on_client(m, s, ev);
		break;
	case EV_REPLY:
		on_reply(m, s, ev);
		break;
	case EV_TRANSACTION:
		on_txn(m, s, ev);
		break;
	case EV_SESSION_END:
		s->closed = true;
		s->state = "closed";
		s->end_ts_us = ev->ts_us;
		if (ev->sess) {
			update_auth(m, s, ev->sess);
			update_tls(m, s, ev->sess);
			add_findings(m, s, ev, ev->sess->findings, ev->sess->n_findings, 0);
		}
		break;
	default:
		break;
	}
}

static void model_close(struct sink *sk)
{
	struct ui_model *m = (struct ui_model *)sk;
	while (m->oldest) {
		struct ui_session *s = m->oldest;
		m->oldest = s->newer;
		sess_free(s);
	}
	for (size_t i = 0; i < m->ring_n; i++)
		free(m->ring[i].detail);
	sbuf_free(&m->tmp);
	free(m);
}

static const struct sink_ops model_ops = { model_emit, NULL, model_close };

struct ui_model *ui_model_new(bool show_secrets)
{
	struct ui_model *m = xcalloc(1, sizeof *m);
	m->base.ops = &model_ops;
	m->show_secrets = show_secrets;
	return m;
}

struct sink *ui_model_sink(struct ui_model *m)
{
	return &m->base;
}

const struct ui_counters *ui_model_counters(const struct ui_model *m)
{
	return &m->c;
}

uint64_t ui_model_gen(const struct ui_model *m)
{
	return m->gen;
}

size_t ui_model_nsessions(const struct ui_model *m)
{
	return m->nsess;
}

size_t ui_model_sessions(const struct ui_model *m, const struct ui_session **out, size_t max)
{
	size_t n = 0;
	for (const struct ui_session *s = m->oldest; s && n < max; s = s->newer)
		out[n++] = s;
	return n;
}

const struct ui_session *ui_model_find(const struct ui_model *m, uint64_t id)
{
	return find(m, id);
}

size_t ui_model_nfindings(const struct ui_model *m)
{
	return m->ring_n;
}

const struct ui_finding *ui_model_finding(const struct ui_model *m, size_t i)
{
	if (i >= m->ring_n)
		return NULL;
	size_t k = (m->ring_head + UI_MODEL_FINDINGS_MAX - 1 - i) % UI_MODEL_FINDINGS_MAX;
	return &m->ring[k];
}
