/* smtp_txn — transactions (create, detach, emit) and the queue of commands
 * awaiting their replies. Part of the SMTP dissector (src/smtp_int.h). */
#include "smtp_int.h"

static void txn_free(struct txn_impl *t)
{
	struct smtp_txn *p = &t->pub;
	free(p->helo);
	free(p->mail_from);
	free(p->params.body);
	free(p->params.auth);
	free(p->params.ret);
	free(p->params.envid);
	for (size_t i = 0; i < p->n_rcpts; i++) {
		free(p->rcpts[i].addr);
		free(p->rcpts[i].notify);
		free(p->rcpts[i].orcpt);
		free(p->rcpts[i].reply_text);
		free(p->rcpts[i].delivery_text);
	}
	free(p->rcpts);
	free(p->last_reply);
	free(t->nested_from);
	if (p->headers && p->headers_free)
		p->headers_free(p->headers);
	for (size_t i = 0; i < p->n_findings; i++)
		free(p->findings[i].detail);
	free(p->findings);
	free(t);
}

/* Emit t (EV_TRANSACTION) and free it. Queue entries still pointing to it
 * are unlinked (their replies then only reach the session). */
void txn_emit(struct sess *s, struct txn_impl *t, uint64_t ts)
{
	for (size_t i = 0; i < s->n_open; i++) {
		if (s->open[i] == t) {
			memmove(&s->open[i], &s->open[i + 1], (s->n_open - i - 1) * sizeof s->open[0]);
			s->n_open--;
			break;
		}
	}
	if (t->npending) {
		for (size_t i = 0; i < s->qlen; i++) {
			struct pending *e = &s->q[(s->qhead + i) % s->qcap];
			if (e->txn == t)
				e->txn = NULL;
		}
		t->npending = 0;
	}
	if (s->cur == t)
		s->cur = NULL;
	if (t->pub.end == SMTP_TXN_OPEN)
		t->pub.end = SMTP_TXN_END_CLOSE;
	if (ts > t->pub.end_ts_us)
		t->pub.end_ts_us = ts;
	if (hooks(s) && hooks(s)->complete)
		hooks(s)->complete(hooks(s)->user, &t->pub);
	s->pub.n_txns++;
	emit_event(s, EV_TRANSACTION, ts, NULL, NULL, &t->pub);
	txn_free(t);
}

/* No more client commands attach to t; emitted now if no reply is awaited. */
void txn_detach(struct sess *s, struct txn_impl *t, enum smtp_txn_end end, uint64_t ts)
{
	if (!t)
		return;
	t->client_closed = true;
	if (t->pub.end == SMTP_TXN_OPEN)
		t->pub.end = end;
	if (s->cur == t)
		s->cur = NULL;
	if (t->npending == 0)
		txn_emit(s, t, ts);
}

/* The transaction client commands attach to, created on demand. */
/* The AUTH in effect for a new transaction: as smtp_session_auth(), but
 * only among the attempts made since the last STARTTLS (RFC 3207 §4.2: the
 * server discards what it knew of the client, authentication included). */
static const struct auth_attempt *txn_auth(const struct sess *s)
{
	const struct smtp_session *p = &s->pub;
	for (size_t i = p->n_auth; i > s->auth_base; i--)
		if (p->auth[i - 1].result == AUTH_RESULT_SUCCESS)
			return &p->auth[i - 1];
	return p->n_auth > s->auth_base ? &p->auth[p->n_auth - 1] : NULL;
}

struct txn_impl *txn_current(struct sess *s, uint64_t ts)
{
	if (s->cur)
		return s->cur;
	if (s->n_open >= SMTP_TXN_OPEN_MAX) {
		raise_anom(s, s->open[0], ANOM_SMTP_EXCESSIVE_OPEN_TXNS);
		txn_emit(s, s->open[0], ts);
	}
	struct txn_impl *t = xcalloc(1, sizeof *t);
	t->pub.session = &s->pub;
	t->pub.seq = ++s->txn_seq;
	t->pub.start_ts_us = t->pub.end_ts_us = ts;
	t->pub.helo = s->pub.helo ? xstrndup(s->pub.helo, strlen(s->pub.helo)) : NULL;
	t->pub.tls = s->pub.tls;
	t->pub.auth = txn_auth(s);
	if (t->pub.auth && !t->pub.tls && !t->pub.auth->tls)
		s->pub.auth[t->pub.auth - s->pub.auth].in_txn = true;
	s->open[s->n_open++] = t;
	s->cur = t;
	return t;
}

/* Queue a command awaiting its reply. When full, the oldest entry is
 * dropped (anomaly once per session) so memory stays bounded. */
struct pending *pend_push(struct sess *s, enum pend_kind kind, enum smtp_verb verb,
                                 struct txn_impl *t, uint64_t ts)
{
	if (s->qlen == SMTP_PENDING_MAX) {
		struct pending *old = &s->q[s->qhead];
		if (!s->pub.pending_dropped)
			raise_anom(s, NULL, ANOM_SMTP_EXCESSIVE_PENDING);
		s->pub.pending_dropped++;
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qlen--;
		if (old->txn && --old->txn->npending == 0 && old->txn->client_closed)
			txn_emit(s, old->txn, ts);
	}
	if (s->qlen == s->qcap) { /* grow (a session rarely has more than a few in flight) */
		size_t nc = s->qcap ? s->qcap * 2 : 8;
		if (nc > SMTP_PENDING_MAX)
			nc = SMTP_PENDING_MAX;
		struct pending *nq = xmalloc(nc * sizeof *nq);
		for (size_t i = 0; i < s->qlen; i++)
			nq[i] = s->q[(s->qhead + i) % s->qcap];
		free(s->q);
		s->q = nq;
		s->qcap = nc;
		s->qhead = 0;
	}
	struct pending *e = &s->q[(s->qhead + s->qlen) % s->qcap];
	memset(e, 0, sizeof *e);
	e->kind = kind;
	e->verb = verb;
	e->txn = t;
	e->rcpt_idx = SIZE_MAX;
	e->seq = ++s->cmd_seq;
	if (t)
		t->npending++;
	s->qlen++;
	return e;
}

/* At the greeting: lines with unknown verbs sent before it were not meant
 * for the SMTP server (an HTTP CONNECT or SOCKS preamble of a tunnel) and
 * will get no SMTP reply; drop them so the queue stays aligned. */
void pend_drop_preamble(struct sess *s, uint64_t ts)
{
	size_t w = 0;
	for (size_t i = 0; i < s->qlen; i++) {
		struct pending *e = &s->q[(s->qhead + i) % s->qcap];
		if (e->kind == PEND_CMD && e->verb == SMTP_VERB_UNKNOWN) {
			if (e->txn && --e->txn->npending == 0 && e->txn->client_closed)
				txn_emit(s, e->txn, ts);
			continue;
		}
		if (w != i)
			s->q[(s->qhead + w) % s->qcap] = *e;
		w++;
	}
	s->qlen = w;
}
