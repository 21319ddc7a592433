/* smtp — the SMTP dissector (RFC 5321 and extensions); contract in
 * include/smtp.h, output schema and the data-mode rule in docs/schema.md.
 *
 * The dissector's files (their shared structures in src/smtp_int.h):
 *   smtp.c        the session state machine: command table and handlers,
 *                 the client side (commands, AUTH lines, hold), the switch
 *                 to TLS, the public entry points
 *   smtp_txn.c    transactions and the pending-command queue
 *   smtp_line.c   line splitting and gap resynchronisation
 *   smtp_body.c   DATA / BDAT message content
 *   smtp_reply.c  reply parsing, pairing and effects
 *
 * Layout of this file:
 *   1. tables (verbs) and public names
 *   2. command handlers
 *   3. client side: dispatch, AUTH lines, hold
 *   4. the switch to TLS (STARTTLS, implicit TLS) and the feeds
 *   5. the public entry points
 */
#include "smtp_int.h"

#include <pthread.h>
#include <stdio.h>

static void client_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts);

/* ------------------------------------------------------------------ */
/* 1. tables and public names                                         */

const char *smtp_verb_str(enum smtp_verb v)
{
	return (unsigned)v < SMTP_VERB__COUNT && verb_ops[v].name ? verb_ops[v].name : "unknown";
}

const char *smtp_state_str(enum smtp_state st)
{
	switch (st) {
	case SMTP_ST_COMMAND: return "command";
	case SMTP_ST_WAIT_DATA: return "wait-data-reply";
	case SMTP_ST_WAIT_AUTH: return "wait-auth-reply";
	case SMTP_ST_WAIT_TLS: return "wait-starttls-reply";
	case SMTP_ST_AUTH: return "auth";
	case SMTP_ST_DATA: return "data";
	case SMTP_ST_BDAT: return "bdat";
	case SMTP_ST_TLS_PROBE: return "tls-probe";
	case SMTP_ST_TLS: return "tls";
	case SMTP_ST_CLOSED: return "closed";
	}
	return "?";
}

const char *smtp_txn_end_str(enum smtp_txn_end e)
{
	switch (e) {
	case SMTP_TXN_OPEN: return "open";
	case SMTP_TXN_END_MESSAGE: return "message";
	case SMTP_TXN_END_RSET: return "rset";
	case SMTP_TXN_END_HELO: return "helo";
	case SMTP_TXN_END_MAIL: return "mail";
	case SMTP_TXN_END_TLS: return "starttls";
	case SMTP_TXN_END_CLOSE: return "close";
	}
	return "?";
}

const struct auth_attempt *smtp_session_auth(const struct smtp_session *s)
{
	for (size_t i = s->n_auth; i > 0; i--)
		if (s->auth[i - 1].result == AUTH_RESULT_SUCCESS)
			return &s->auth[i - 1];
	return s->n_auth ? &s->auth[s->n_auth - 1] : NULL;
}

/* ------------------------------------------------------------------ */
/* 2. command handlers                                                */

static void cmd_emit(struct sess *s, struct cmd *c)
{
	if (c->emitted)
		return;
	c->emitted = true;
	emit_event(s, EV_CLIENT, c->ts, &c->line, NULL, NULL);
}

/* --- MAIL / RCPT (RFC 5321 §4.1.1.2-3, §4.1.2) ----------------------- */

/* Parse `kw` ("FROM:"/"TO:"), then a path with or without <>, tolerating
 * spaces around it (`MAIL FROM: <a>` as many clients send). Sets the address
 * (without <>) and the parameter text after it. False when the keyword is
 * missing or the <path> is unterminated. */
static bool path_parse(const uint8_t *p, size_t n, const char *kw, const uint8_t **addr,
                       size_t *an, const uint8_t **rest, size_t *rn)
{
	size_t i = skip_sp(p, n, 0);
	size_t k = strlen(kw);
	bool ok = true;
	if (n - i >= k && ascii_eq_ci(p + i, k, kw)) {
		i += k;
	} else if (n - i >= k - 1 && ascii_eq_ci(p + i, k - 1, "FROM") && k == 5) {
		i += 4; /* "MAIL FROM <a>" without the colon */
		ok = false;
	} else if (n - i >= k - 1 && ascii_eq_ci(p + i, k - 1, "TO") && k == 3) {
		i += 2;
		ok = false;
	} else {
		ok = false;
	}
	i = skip_sp(p, n, i);
	if (i < n && p[i] == '<') {
		size_t j = i + 1;
		bool quoted = false;
		while (j < n) {
			if (p[j] == '\\' && j + 1 < n) {
				j += 2;
				continue;
			}
			if (p[j] == '"')
				quoted = !quoted;
			else if (p[j] == '>' && !quoted)
				break;
			j++;
		}
		if (j >= n) { /* unterminated: take up to the first space */
			size_t e = i + 1;
			while (e < n && !is_sp(p[e]))
				e++;
			*addr = p + i + 1;
			*an = e - i - 1;
			*rest = p + e;
			*rn = n - e;
			return false;
		}
		*addr = p + i + 1;
		*an = j - i - 1;
		*rest = p + j + 1;
		*rn = n - j - 1;
		return ok;
	}
	size_t e = i;
	while (e < n && !is_sp(p[e]))
		e++;
	*addr = p + i;
	*an = e - i;
	*rest = p + e;
	*rn = n - e;
	return ok && e > i;
}

/* Iterate ESMTP parameters "KEY[=VALUE]" separated by spaces. */
struct param_it {
	const uint8_t *p;
	size_t n, i;
};

static bool param_next(struct param_it *it, const uint8_t **k, size_t *kn, const uint8_t **v,
                       size_t *vn)
{
	it->i = skip_sp(it->p, it->n, it->i);
	if (it->i >= it->n)
		return false;
	size_t s = it->i;
	while (it->i < it->n && !is_sp(it->p[it->i]))
		it->i++;
	const uint8_t *tok = it->p + s;
	size_t tn = it->i - s;
	const uint8_t *eq = memchr(tok, '=', tn);
	*k = tok;
	*kn = eq ? (size_t)(eq - tok) : tn;
	*v = eq ? eq + 1 : NULL;
	*vn = eq ? tn - *kn - 1 : 0;
	return true;
}

static void mail_params(struct sess *s, struct txn_impl *t, const uint8_t *p, size_t n)
{
	struct param_it it = { p, n, 0 };
	const uint8_t *k, *v;
	size_t kn, vn;
	struct smtp_mail_params *mp = &t->pub.params;
	while (param_next(&it, &k, &kn, &v, &vn)) {
		if (ascii_eq_ci(k, kn, "SIZE")) { /* RFC 1870 §6 */
			if (v && parse_u64(v, vn, UINT64_MAX, &mp->size))
				mp->has_size = true;
			else
				raise_anom(s, t, ANOM_SMTP_INVALID_PARAM);
		} else if (ascii_eq_ci(k, kn, "BODY") && v && !mp->body) { /* RFC 6152, RFC 3030 */
			mp->body = dup_cap(v, vn, SMTP_PARAM_MAX);
		} else if (ascii_eq_ci(k, kn, "SMTPUTF8")) { /* RFC 6531 §3.4 */
			mp->smtputf8 = true;
		} else if (ascii_eq_ci(k, kn, "AUTH") && v && !mp->auth) { /* RFC 4954 §5 */
			mp->auth = dup_cap(v, vn, SMTP_PARAM_MAX);
		} else if (ascii_eq_ci(k, kn, "RET") && v && !mp->ret) { /* RFC 3461 §4.3 */
			mp->ret = dup_cap(v, vn, SMTP_PARAM_MAX);
		} else if (ascii_eq_ci(k, kn, "ENVID") && v && !mp->envid) { /* RFC 3461 §4.4 */
			mp->envid = dup_cap(v, vn, SMTP_PARAM_MAX);
		} else if (ascii_eq_ci(k, kn, "REQUIRETLS")) { /* RFC 8689 */
			mp->requiretls = true;
		} else {
			mp->n_other++;
		}
	}
}

static void cmd_mail(struct sess *s, struct cmd *c)
{
	struct txn_impl *t = s->cur;
	if (t && t->pub.has_mail && t->pub.mail_reply / 100 == 2 && !t->pub.msg_started) {
		/* RFC 5321 §4.1.4: MAIL inside an open transaction. A server answers
		 * 503 and keeps the envelope, so the transaction goes on; if it
		 * accepts instead, the reply handler takes the new reverse-path. */
		raise_anom(s, t, ANOM_SMTP_NESTED_MAIL);
		const uint8_t *a, *rest;
		size_t an, rn;
		path_parse(c->line.arg, c->line.arg_n, "FROM:", &a, &an, &rest, &rn);
		free(t->nested_from);
		t->nested_from = dup_cap(a, an, SMTP_ADDR_MAX);
		struct pending *e = pend_push(s, PEND_CMD, SMTP_VERB_MAIL, t, c->ts);
		e->nested = true;
		return;
	}
	if (t && (t->pub.has_mail || t->pub.n_rcpt_total || t->pub.xfer != SMTP_XFER_NONE)) {
		/* After a 4xx/5xx to MAIL no transaction is open (RFC 5321 §3.3,
		 * §4.1.1.2): a new MAIL then is a retry, not a nested MAIL. */
		if (t->pub.has_mail && (t->pub.mail_reply == 0 || t->pub.mail_reply / 100 == 2))
			raise_anom(s, t, ANOM_SMTP_NESTED_MAIL);
		cmd_emit(s, c);
		txn_detach(s, t, SMTP_TXN_END_MAIL, c->ts);
	}
	t = txn_current(s, c->ts);
	const uint8_t *a, *rest;
	size_t an, rn;
	if (!path_parse(c->line.arg, c->line.arg_n, "FROM:", &a, &an, &rest, &rn))
		raise_anom(s, t, ANOM_SMTP_INVALID_ADDRESS);
	t->pub.has_mail = true;
	free(t->pub.mail_from);
	t->pub.mail_from = dup_cap(a, an, SMTP_ADDR_MAX);
	t->pub.mail_from_n = an > SMTP_ADDR_MAX ? SMTP_ADDR_MAX : an;
	t->pub.start_ts_us = c->ts;
	mail_params(s, t, rest, rn);
	pend_push(s, PEND_CMD, SMTP_VERB_MAIL, t, c->ts);
}

/* Its reply: the envelope's MAIL reply, or (nested MAIL) the new
 * reverse-path when a lenient server restarted the envelope. */
static void reply_mail(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts)
{
	struct txn_impl *t = e->txn;
	(void)s;
	(void)ts;
	if (t && e->nested) {
		if (r->code / 100 == 2 && t->nested_from) { /* a lenient server restarted the envelope */
			free(t->pub.mail_from);
			t->pub.mail_from_n = strlen(t->nested_from);
			t->pub.mail_from = t->nested_from;
			t->nested_from = NULL;
		}
	} else if (t) {
		t->pub.mail_reply = r->code;
	}
}

static void cmd_rcpt(struct sess *s, struct cmd *c)
{
	struct txn_impl *t = txn_current(s, c->ts);
	if (!t->pub.has_mail)
		raise_anom(s, t, ANOM_SMTP_COMMAND_OUT_OF_SEQUENCE);
	const uint8_t *a, *rest;
	size_t an, rn;
	if (!path_parse(c->line.arg, c->line.arg_n, "TO:", &a, &an, &rest, &rn))
		raise_anom(s, t, ANOM_SMTP_INVALID_ADDRESS);
	t->pub.n_rcpt_total++;
	size_t idx = SIZE_MAX;
	if (t->pub.n_rcpts < SMTP_RCPT_MAX) {
		if ((t->pub.n_rcpts & (t->pub.n_rcpts - 1)) == 0) { /* grow at powers of two */
			size_t cap = t->pub.n_rcpts ? t->pub.n_rcpts * 2 : 4;
			t->pub.rcpts = xrealloc(t->pub.rcpts, cap * sizeof *t->pub.rcpts);
		}
		idx = t->pub.n_rcpts++;
		struct smtp_rcpt *r = &t->pub.rcpts[idx];
		memset(r, 0, sizeof *r);
		r->addr = dup_cap(a, an, SMTP_ADDR_MAX);
		r->addr_n = an > SMTP_ADDR_MAX ? SMTP_ADDR_MAX : an;
		struct param_it it = { rest, rn, 0 };
		const uint8_t *k, *v;
		size_t kn, vn;
		while (param_next(&it, &k, &kn, &v, &vn)) {
			if (ascii_eq_ci(k, kn, "NOTIFY") && v && !r->notify) /* RFC 3461 §4.1 */
				r->notify = dup_cap(v, vn, SMTP_PARAM_MAX);
			else if (ascii_eq_ci(k, kn, "ORCPT") && v && !r->orcpt) /* RFC 3461 §4.2 */
				r->orcpt = dup_cap(v, vn, SMTP_PARAM_MAX);
		}
	} else if (!t->rcpt_cap_warned) {
		t->rcpt_cap_warned = true;
		raise_anom(s, t, ANOM_SMTP_TOO_MANY_RCPTS);
	}
	struct pending *e = pend_push(s, PEND_CMD, SMTP_VERB_RCPT, t, c->ts);
	e->rcpt_idx = idx;
}

static void reply_rcpt(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts)
{
	struct txn_impl *t = e->txn;
	int code = r->code;
	(void)s;
	(void)ts;
	if (!t)
		return;
	if (code / 100 == 2)
		t->pub.n_rcpt_accepted++;
	else
		t->pub.n_rcpt_rejected++;
	if (e->rcpt_idx < t->pub.n_rcpts) {
		struct smtp_rcpt *rc = &t->pub.rcpts[e->rcpt_idx];
		rc->reply = code;
		free(rc->reply_text);
		rc->reply_text = code >= 400 ? dup_cap(r->text, r->text_n, SMTP_PARAM_MAX) : NULL;
	}
}

/* --- BDAT, DATA, BURL ---------------------------------------------------- */

static void cmd_bdat(struct sess *s, struct cmd *c)
{
	const uint8_t *p = c->line.arg;
	size_t n = c->line.arg_n, i = 0, d;
	for (d = 0; d < n && p[d] >= '0' && p[d] <= '9'; d++)
		;
	uint64_t size = 0;
	bool last = false, ok = parse_u64(p, d, SMTP_BDAT_MAX, &size);
	i = skip_sp(p, n, d);
	if (ok && i > d && n - i >= 4 && ascii_eq_ci(p + i, 4, "LAST")) {
		last = true;
		i = skip_sp(p, n, i + 4);
	}
	if (i < n || c->raw->truncated)
		ok = false; /* "BDAT -1", "BDAT 18446744073709551616", "BDAT 10 junk" */
	struct txn_impl *t = txn_current(s, c->ts);
	t->pub.bdat_chunks++;
	cmd_emit(s, c);
	struct pending *e = pend_push(s, PEND_CMD, SMTP_VERB_BDAT, t, c->ts);
	if (!ok) {
		/* The server cannot know the chunk length either; it answers 5xx and
		 * reads what follows as commands. So do we. */
		e->bdat_invalid = true;
		raise_anom(s, t, ANOM_SMTP_INVALID_BDAT);
		return;
	}
	e->bdat_last = last;
	if (!t->pub.has_mail || t->pub.n_rcpt_total == 0)
		raise_anom(s, t, ANOM_SMTP_COMMAND_OUT_OF_SEQUENCE);
	if (size > SMTP_BDAT_HUGE)
		raise_anom(s, t, ANOM_SMTP_HUGE_BDAT);
	t->pub.xfer = SMTP_XFER_BDAT;
	msg_begin(s, t);
	s->bdat_left = size;
	s->bdat_last = last;
	if (size == 0) { /* "BDAT 0 LAST" ends the message at once (RFC 3030 §3) */
		if (last)
			msg_finish(s, true, false, c->ts);
		return;
	}
	if (t->pub.msg_bytes == 0)
		s->body_bol = true;
	enter_state(s, SMTP_ST_BDAT);
}

/* The reply to a BDAT (or BURL) chunk: the message's final reply when it
 * was the LAST one, the data reply then or at the first failure. */
static void reply_bdat(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts)
{
	struct txn_impl *t = e->txn;
	int code = r->code;
	(void)s;
	(void)ts;
	if (t) {
		if (e->bdat_last)
			t->pub.final_reply = code;
		if (e->bdat_last || (code >= 400 && !t->pub.data_reply))
			t->pub.data_reply = code;
	}
}

static void cmd_data(struct sess *s, struct cmd *c)
{
	struct txn_impl *t = txn_current(s, c->ts);
	if (!t->pub.has_mail || t->pub.n_rcpt_total == 0)
		raise_anom(s, t, ANOM_SMTP_COMMAND_OUT_OF_SEQUENCE);
	if (t->pub.xfer == SMTP_XFER_NONE)
		t->pub.xfer = SMTP_XFER_DATA;
	struct pending *e = pend_push(s, PEND_CMD, SMTP_VERB_DATA, t, c->ts);
	s->wait_seq = e->seq;
	s->forced = false;
	s->hold_warned = false;
	enter_state(s, SMTP_ST_WAIT_DATA);
}

/* 354 enters data mode for a client waiting on it; anything else leaves
 * the wait (or, the content already taken as a message, says so). */
static void reply_data(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts)
{
	struct txn_impl *t = e->txn;
	int code = r->code;
	if (t)
		t->pub.data_reply = code;
	bool waiting = s->pub.state == SMTP_ST_WAIT_DATA && s->wait_seq == e->seq;
	if (waiting) {
		s->forced = false;
		if (code == 354) {
			if (s->hold.len && !s->hold_warned) {
				s->hold_warned = true;
				raise_anom(s, t, ANOM_SMTP_DATA_PIPELINED);
			}
			data_start(s, ts);
		} else {
			raise_anom(s, t, ANOM_SMTP_DATA_REJECTED);
			enter_state(s, SMTP_ST_COMMAND);
		}
		hold_release(s);
	} else if (code != 354) {
		/* the content was already taken as a message */
		raise_anom(s, t, s->forced ? ANOM_SMTP_DATA_REJECTED_LATE : ANOM_SMTP_DATA_REJECTED);
	}
}

/* RFC 4468: BURL url [LAST] — content fetched by the server, none on the wire. */
static void cmd_burl(struct sess *s, struct cmd *c)
{
	struct txn_impl *t = txn_current(s, c->ts);
	const uint8_t *p = c->line.arg;
	size_t n = c->line.arg_n;
	while (n && is_sp(p[n - 1]))
		n--;
	bool last = n >= 4 && ascii_eq_ci(p + n - 4, 4, "LAST") && (n == 4 || is_sp(p[n - 5]));
	cmd_emit(s, c);
	struct pending *e = pend_push(s, PEND_CMD, SMTP_VERB_BURL, t, c->ts);
	e->bdat_last = last;
	t->pub.xfer = SMTP_XFER_BDAT;
	if (last)
		msg_finish(s, true, false, c->ts);
}

/* --- other commands ----------------------------------------------------- */

static void cmd_helo(struct sess *s, struct cmd *c)
{
	const uint8_t *a = c->line.arg;
	size_t an = c->line.arg_n;
	while (an && is_sp(a[an - 1]))
		an--;
	free(s->pub.helo);
	s->pub.helo = dup_cap(a, an, SMTP_PARAM_MAX);
	s->pub.helo_verb = c->line.verb;
	struct pending *e = pend_push(s, PEND_CMD, c->line.verb, s->cur, c->ts);
	e->reset_txn = s->cur ? s->cur->pub.seq : 0; /* RFC 5321 §4.1.4: accepted, it resets */
}

/* Accepted: the capabilities (EHLO, LHLO), and the reset of the
 * transaction that was current when it was sent. */
static void reply_helo(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts)
{
	if (r->code / 100 == 2) {
		if (e->verb != SMTP_VERB_HELO)
			caps_parse(s, r->lines, r->n_lines);
		if (e->reset_txn && s->cur && s->cur->pub.seq == e->reset_txn)
			txn_detach(s, s->cur, SMTP_TXN_END_HELO, ts);
	}
}

static void cmd_rset(struct sess *s, struct cmd *c)
{
	struct txn_impl *t = s->cur;
	cmd_emit(s, c);
	pend_push(s, PEND_CMD, SMTP_VERB_RSET, t, c->ts);
	txn_detach(s, t, SMTP_TXN_END_RSET, c->ts);
}

static void cmd_quit(struct sess *s, struct cmd *c)
{
	s->pub.quit = true;
	pend_push(s, PEND_CMD, SMTP_VERB_QUIT, s->cur, c->ts);
}

static void cmd_other(struct sess *s, struct cmd *c)
{
	if (c->line.verb == SMTP_VERB_UNKNOWN) {
		s->pub.n_unknown++;
		raise_anom(s, s->cur, ANOM_SMTP_UNKNOWN_COMMAND);
	}
	pend_push(s, PEND_CMD, c->line.verb, s->cur, c->ts);
}

/* --- AUTH (RFC 4954) --------------------------------------------------- */

/* Fill the line's label/value/secret fields from an auth note; masks the
 * wire text at the source unless show_secrets. */
static void auth_label(struct sess *s, struct smtp_line *ln, const struct auth_attempt *a,
                       const struct auth_note *nt, size_t secret_off)
{
	label_join(s->label, sizeof s->label, "AUTH", a->mech_name, nt->what);
	ln->label = s->label;
	ln->value = nt->value;
	ln->value_n = nt->value_n;
	ln->value_secret = nt->value_secret;
	if (nt->value_secret && !s->cfg.show_secrets && nt->value) {
		ln->value = "********";
		ln->value_n = 8;
	}
	if (nt->line_secret && secret_off < ln->n) {
		ln->secret_off = secret_off;
		if (!s->cfg.show_secrets) {
			sbuf_clear(&s->scratch);
			sbuf_add(&s->scratch, ln->p, secret_off);
			sbuf_add(&s->scratch, "********", 8);
			if (ln->arg) { /* keep arg pointing at the same place in the copy */
				size_t ao = (size_t)(ln->arg - ln->p);
				ln->arg = (const uint8_t *)s->scratch.buf + (ao < s->scratch.len ? ao : s->scratch.len);
				ln->arg_n = s->scratch.len - (size_t)(ln->arg - (const uint8_t *)s->scratch.buf);
			}
			ln->p = (const uint8_t *)s->scratch.buf;
			ln->n = s->scratch.len;
		}
	}
}

static void auth_anoms(struct sess *s, unsigned bits)
{
	if (bits & AUTH_ANOM_BAD_BASE64)
		raise_anom(s, s->cur, ANOM_SMTP_AUTH_BAD_BASE64);
	if (bits & (AUTH_ANOM_MALFORMED | AUTH_ANOM_EXTRA))
		raise_anom(s, s->cur, ANOM_SMTP_AUTH_MALFORMED);
}

/* auth_client_response(), counting the attempt in n_auth_clear when it
 * first carries credentials outside TLS. */
static unsigned auth_response(struct sess *s, struct auth_attempt *a, const uint8_t *p, size_t n,
                              bool initial, struct auth_note *nt)
{
	bool had = a->has_user || a->has_secret;
	unsigned bits = auth_client_response(a, p, n, initial, nt);
	if (!had && (a->has_user || a->has_secret) && !a->tls)
		s->pub.n_auth_clear++;
	return bits;
}

static void cmd_auth(struct sess *s, struct cmd *c)
{
	const uint8_t *p = c->line.arg;
	size_t n = c->line.arg_n, m = 0;
	while (m < n && !is_sp(p[m]))
		m++;
	struct auth_attempt *a;
	s->pub.n_auth_total++;
	if (s->pub.n_auth < SMTP_AUTH_MAX) {
		a = &s->pub.auth[s->pub.n_auth++];
	} else {
		raise_anom(s, NULL, ANOM_SMTP_AUTH_TOO_MANY);
		auth_attempt_free(&s->auth_spare);
		a = &s->auth_spare;
	}
	auth_attempt_begin(a, p, m, c->ts);
	a->tls = s->pub.tls;
	s->auth_cur = a;
	size_t ir = skip_sp(p, n, m);
	size_t ire = n;
	while (ire > ir && is_sp(p[ire - 1]))
		ire--;
	label_join(s->label, sizeof s->label, "AUTH", a->mech_name, NULL);
	c->line.label = s->label;
	if (ire > ir) { /* initial response (RFC 4954 §4) */
		struct auth_note nt;
		auth_anoms(s, auth_response(s, a, p + ir, ire - ir, true, &nt));
		auth_label(s, &c->line, a, &nt, (size_t)(p + ir - c->line.p));
	}
	struct pending *e = pend_push(s, PEND_CMD, SMTP_VERB_AUTH, NULL, c->ts);
	e->auth = a;
	s->wait_seq = e->seq;
	s->forced = false;
	enter_state(s, SMTP_ST_WAIT_AUTH);
}

/* The reply to AUTH or to an AUTH response line: 334 a challenge (the
 * client answers next), anything else the result. */
static void reply_auth(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts)
{
	struct auth_attempt *a = e->auth;
	int code = r->code;
	(void)ts;
	bool waiting = s->pub.state == SMTP_ST_WAIT_AUTH && s->wait_seq == e->seq;
	if (code == 334) {
		if (a)
			auth_server_challenge(a, r->text, r->text_n);
		if (waiting) {
			s->forced = false;
			enter_state(s, SMTP_ST_AUTH);
			hold_release(s);
		}
		return;
	}
	if (a)
		auth_server_result(a, code);
	if (s->auth_cur == a)
		s->auth_cur = NULL;
	if (waiting) {
		s->forced = false;
		enter_state(s, SMTP_ST_COMMAND);
		hold_release(s);
	}
}

/* --- the verb table ----------------------------------------------------- */

/* One row per verb (OpenSMTPD style, indexed by the verb): its name, the
 * command's handler, the handler of its reply (NULL: nothing beyond what
 * every reply does, smtp_reply.c's reply_effects) and what replies can
 * answer it (FIT_*, smtp_int.h; smtp_reply.c's reply_fits). */
static void cmd_starttls(struct sess *s, struct cmd *c);
static void reply_starttls(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts);

#define V(verb, name, cmd, reply, fit) [verb] = { name, sizeof name - 1, cmd, reply, fit }
const struct verb_ops verb_ops[SMTP_VERB__COUNT] = {
	[SMTP_VERB_UNKNOWN] = { NULL, 0, cmd_other, NULL, FIT_ANY },
	V(SMTP_VERB_HELO, "HELO", cmd_helo, reply_helo, FIT_CAPS),
	V(SMTP_VERB_EHLO, "EHLO", cmd_helo, reply_helo, FIT_CAPS),
	V(SMTP_VERB_LHLO, "LHLO", cmd_helo, reply_helo, FIT_CAPS),
	V(SMTP_VERB_MAIL, "MAIL", cmd_mail, reply_mail, FIT_ADDR | FIT_SENDER),
	V(SMTP_VERB_RCPT, "RCPT", cmd_rcpt, reply_rcpt, FIT_ADDR | FIT_RCPT),
	V(SMTP_VERB_DATA, "DATA", cmd_data, reply_data, FIT_OWN),
	V(SMTP_VERB_BDAT, "BDAT", cmd_bdat, reply_bdat, 0),
	V(SMTP_VERB_RSET, "RSET", cmd_rset, NULL, 0),
	V(SMTP_VERB_VRFY, "VRFY", cmd_other, NULL, FIT_ADDR),
	V(SMTP_VERB_EXPN, "EXPN", cmd_other, NULL, FIT_ADDR),
	V(SMTP_VERB_HELP, "HELP", cmd_other, NULL, FIT_CAPS),
	V(SMTP_VERB_NOOP, "NOOP", cmd_other, NULL, 0),
	V(SMTP_VERB_QUIT, "QUIT", cmd_quit, NULL, FIT_OWN),
	V(SMTP_VERB_STARTTLS, "STARTTLS", cmd_starttls, reply_starttls, FIT_OWN),
	V(SMTP_VERB_AUTH, "AUTH", cmd_auth, reply_auth, FIT_OWN),
	V(SMTP_VERB_ETRN, "ETRN", cmd_other, NULL, 0),
	V(SMTP_VERB_BURL, "BURL", cmd_burl, reply_bdat, 0),
	V(SMTP_VERB_XCLIENT, "XCLIENT", cmd_other, NULL, 0),
	V(SMTP_VERB_XFORWARD, "XFORWARD", cmd_other, NULL, 0),
};
#undef V

/* The verb named p[0..n) (ASCII case-insensitive), SMTP_VERB_UNKNOWN if none. */
static enum smtp_verb verb_find(const uint8_t *p, size_t n)
{
	for (unsigned v = 1; v < SMTP_VERB__COUNT; v++)
		if (ascii_eq_ci_n(p, n, verb_ops[v].name, verb_ops[v].len))
			return (enum smtp_verb)v;
	return SMTP_VERB_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* 3. client side: dispatch, AUTH lines, hold                         */

/* The verb (up to the first space) of line l, and the argument after it;
 * SMTP_VERB_UNKNOWN when the verb is not in the table. */
static enum smtp_verb cmd_lookup(const struct rawline *l, size_t *arg_off)
{
	size_t v = 0;
	while (v < l->n && !is_sp(l->p[v]))
		v++;
	*arg_off = skip_sp(l->p, l->n, v);
	return verb_find(l->p, v);
}

void client_command(struct sess *s, const struct rawline *l, uint64_t ts)
{
	line_anoms(s, l, false);
	if (s->in_reply && s->qlen && s->rcode) {
		/* RFC 2920 §3.1: EHLO/HELO end a command group, so a client sends
		 * its next command only after the whole reply: a multi-line reply
		 * still open now was never terminated ("250-" last). */
		enum smtp_verb fv = s->q[s->qhead].verb;
		if (s->q[s->qhead].kind == PEND_CMD &&
		    (fv == SMTP_VERB_EHLO || fv == SMTP_VERB_HELO || fv == SMTP_VERB_LHLO)) {
			raise_anom(s, NULL, ANOM_SMTP_REPLY_UNTERMINATED);
			reply_finish(s, ts);
		}
	}
	if (s->pub.quit && !s->quit_warned) {
		s->quit_warned = true;
		raise_anom(s, NULL, ANOM_SMTP_DATA_AFTER_QUIT);
	}
	size_t arg_off;
	enum smtp_verb verb = cmd_lookup(l, &arg_off);
	struct cmd c = {
		.raw = l, .ts = ts,
		.line = {
			.kind = SMTP_LINE_COMMAND, .verb = verb, .p = l->p, .n = l->n,
			.secret_off = l->n, .arg = l->p + arg_off, .arg_n = l->n - arg_off,
			.label = smtp_verb_str(verb), .truncated = l->truncated,
			.bare_lf = l->bare_lf, .ts_us = ts,
		},
	};
	if (s->mid_body) {
		if (verb != SMTP_VERB_UNKNOWN) {
			s->mid_body = false;
		} else {
			/* Picked up inside DATA: text, not commands, and a "." line is
			 * the end of a message whose start was not captured; its reply
			 * answers it (RFC 5321 §4.1.1.4), so the pairing stays aligned. */
			c.line.label = "mid-stream text";
			if (l->n == 1 && l->p[0] == '.') {
				c.line.label = "end of data (mid-stream)";
				pend_push(s, PEND_EOD, SMTP_VERB_DATA, NULL, ts);
				s->mid_body = false;
			}
			cmd_emit(s, &c);
			return;
		}
	}
	s->pub.n_commands++;
	if (s->pub.starttls_refused && !s->pub.tls && verb != SMTP_VERB_QUIT && verb != SMTP_VERB_STARTTLS &&
	    verb != SMTP_VERB_RSET && verb != SMTP_VERB_NOOP)
		s->pub.starttls_refused_continued = true;
	verb_ops[verb].on_cmd(s, &c);
	cmd_emit(s, &c);
}

/* A known verb at the start of the line (used only when replies are
 * missing, to tell an AUTH response from a command). */
static bool looks_like_command(const struct rawline *l)
{
	size_t arg_off;
	return cmd_lookup(l, &arg_off) != SMTP_VERB_UNKNOWN;
}

/* p starts with a known verb followed by SP, CR or LF (or the end of p):
 * after a gap, such bytes are taken as the start of a line, not skipped. */
bool starts_with_verb(const uint8_t *p, size_t n)
{
	size_t v = 0;
	while (v < n && v < 10 && p[v] != ' ' && p[v] != '\r' && p[v] != '\n')
		v++;
	if (v == n && n < 4)
		return false;
	return verb_find(p, v) != SMTP_VERB_UNKNOWN;
}

/* A client line in SMTP_ST_AUTH: the response to a 334. */
static void client_auth_line(struct sess *s, const struct rawline *l, uint64_t ts)
{
	struct auth_attempt *a = s->auth_cur;
	if (!a || (s->forced && looks_like_command(l))) {
		enter_state(s, SMTP_ST_COMMAND);
		client_command(s, l, ts);
		return;
	}
	line_anoms(s, l, false);
	struct smtp_line ln = {
		.kind = SMTP_LINE_AUTH, .p = l->p, .n = l->n, .secret_off = l->n,
		.truncated = l->truncated, .bare_lf = l->bare_lf, .ts_us = ts,
	};
	struct auth_note nt;
	auth_anoms(s, auth_response(s, a, l->p, l->n, false, &nt));
	auth_label(s, &ln, a, &nt, 0);
	emit_event(s, EV_CLIENT, ts, &ln, NULL, NULL);
	struct pending *e = pend_push(s, PEND_AUTH_RESP, SMTP_VERB_AUTH, NULL, ts);
	e->auth = a;
	s->wait_seq = e->seq;
	enter_state(s, SMTP_ST_WAIT_AUTH);
}

/* --- hold and forced decisions ------------------------------------------- */

/* Feed the held bytes back through the client parser (which may hold again). */
void hold_release(struct sess *s)
{
	if (!s->hold.len)
		return;
	struct sbuf h = s->hold;
	uint64_t ts = s->hold_ts;
	memset(&s->hold, 0, sizeof s->hold);
	client_feed(s, (const uint8_t *)h.buf, h.len, ts);
	sbuf_free(&h);
}

/* Leave a WAIT_* state without the server's reply (held bytes overflowed,
 * a gap, or the end of the session): DATA -> message; AUTH -> responses
 * while the mechanism expects them; STARTTLS -> decided by content. */
void client_force(struct sess *s, uint64_t ts)
{
	switch (s->pub.state) {
	case SMTP_ST_WAIT_DATA:
		s->forced = true;
		if (s->hold.len && !s->hold_warned) {
			s->hold_warned = true;
			raise_anom(s, s->cur, ANOM_SMTP_DATA_PIPELINED);
		}
		data_start(s, ts);
		break;
	case SMTP_ST_WAIT_AUTH:
		s->forced = true;
		enter_state(s, s->auth_cur && auth_expects_response(s->auth_cur) ? SMTP_ST_AUTH
		                                                                  : SMTP_ST_COMMAND);
		break;
	case SMTP_ST_WAIT_TLS:
		s->forced = true;
		enter_state(s, SMTP_ST_TLS_PROBE);
		break;
	default:
		return;
	}
	hold_release(s);
}

/* ------------------------------------------------------------------ */
/* 4. the switch to TLS and the feeds                                 */

static void cmd_starttls(struct sess *s, struct cmd *c)
{
	struct pending *e = pend_push(s, PEND_CMD, SMTP_VERB_STARTTLS, s->cur, c->ts);
	e->reset_txn = s->cur ? s->cur->pub.seq : 0; /* RFC 3207 §4.2 */
	s->wait_seq = e->seq;
	s->forced = false;
	enter_state(s, SMTP_ST_WAIT_TLS);
}

/* A TLS record header starts here (RFC 8446 §5.1: content types 20-24,
 * legacy version major 3). */
static bool tls_record_start(const uint8_t *p, size_t n)
{
	return n && p[0] >= 0x14 && p[0] <= 0x18 && (n < 2 || p[1] == 0x03);
}

/* Where a TLS record starts in the client bytes held awaiting the 220 to
 * STARTTLS: 0 (all of it), after the line end it follows, or h->len (none). */
static size_t hold_tls_start(const struct sbuf *h)
{
	const uint8_t *b = (const uint8_t *)h->buf;
	if (!h->len || tls_record_start(b, h->len))
		return 0;
	for (const uint8_t *q = b; (q = memchr(q, '\n', h->len - (size_t)(q - b))) != NULL; q++)
		if (q + 1 < b + h->len && q[1] == 0x16 && tls_record_start(q + 1, h->len - (size_t)(q + 1 - b)))
			return (size_t)(q + 1 - b);
	return h->len;
}

/* Wire bytes of a direction past the TLS point: counted, and handed to the
 * TLS layer when that direction began with a TLS record. */
static void tls_raw_out(struct sess *s, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	s->pub.tls_bytes[dir == FLOW_C2S ? 0 : 1] += n;
	if (s->tls_raw[dir] && s->tls_hook.data)
		s->tls_hook.data(s->tls_hook.user, dir, p, n, ts);
}

/* 220: TLS starts (RFC 3207 §4.2: the server forgets the client, AUTH
 * included); bytes the client sent before it are discarded, its next bytes
 * are probed (client_tls_probe), so are the server's (server_feed). */
static void reply_starttls(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts)
{
	bool waiting = s->pub.state == SMTP_ST_WAIT_TLS && s->wait_seq == e->seq;
	if (r->code == 220) {
		s->pub.tls = true;
		s->auth_base = s->pub.n_auth; /* RFC 3207 §4.2 */
		s->auth_cur = NULL;
		if (e->reset_txn && s->cur && s->cur->pub.seq == e->reset_txn)
			txn_detach(s, s->cur, SMTP_TXN_END_TLS, ts);
		if (waiting) {
			s->forced = false;
			/* held bytes: commands sent before the 220 are never seen
			 * by a sane server (CVE-2011-0411) and are discarded; a TLS
			 * record (the ClientHello, from the line start where it
			 * begins) goes on to the TLS layer */
			size_t cut = hold_tls_start(&s->hold);
			if (cut) {
				raise_anom(s, NULL, ANOM_SMTP_STARTTLS_PIPELINED);
				s->pub.starttls_injected += cut;
				struct smtp_line ln = {
					.kind = SMTP_LINE_DISCARDED, .label = "discarded",
					.msg_bytes = cut, .ts_us = ts,
				};
				emit_event(s, EV_CLIENT, ts, &ln, NULL, NULL);
				memmove(s->hold.buf, s->hold.buf + cut, s->hold.len - cut);
				s->hold.len -= cut;
				if (!s->hold.len)
					sbuf_free(&s->hold);
			}
			enter_state(s, SMTP_ST_TLS_PROBE);
			hold_release(s);
		}
		s->srv = SRV_TLS_PROBE;
	} else {
		raise_anom(s, NULL, ANOM_SMTP_STARTTLS_REJECTED);
		if ((r->code == 454 || r->code >= 500) && (s->pub.caps.flags & SMTP_CAP_STARTTLS) && !s->pub.tls)
			s->pub.starttls_refused = r->code; /* starttls_stripped if the client goes on */
		if (waiting) {
			s->forced = false;
			enter_state(s, SMTP_ST_COMMAND);
			hold_release(s);
		}
	}
}

static void tls_line(struct sess *s, uint64_t ts)
{
	struct smtp_line ln = { .kind = SMTP_LINE_TLS, .label = "TLS", .ts_us = ts };
	emit_event(s, EV_CLIENT, ts, &ln, NULL, NULL);
}

/* First client bytes after the 220 to STARTTLS (RFC 3207 §4): a TLS record
 * (0x16 0x03) means encrypted; a command verb means the capture was
 * decrypted (keep parsing); anything else is opaque. */
static void client_tls_probe(struct sess *s, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)n;
	if (p[0] == 0x16) {
		enter_state(s, SMTP_ST_TLS);
		s->pub.tls = true;
		s->tls_raw[FLOW_C2S] = !s->pub.tls_inner;
		tls_line(s, ts);
	} else if (ascii_lower(p[0]) >= 'a' && ascii_lower(p[0]) <= 'z') {
		enter_state(s, SMTP_ST_COMMAND);
		if (!s->forced) {
			s->pub.tls_decrypted = true;
			raise_anom(s, NULL, ANOM_SMTP_TLS_DECRYPTED);
		}
	} else {
		raise_anom(s, NULL, ANOM_SMTP_TLS_UNKNOWN_PROTOCOL);
		enter_state(s, SMTP_ST_TLS);
	}
}

static void client_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts)
{
	struct linebuf *lb = &s->lb[FLOW_C2S];
	while (n > 0) {
		switch (s->pub.state) {
		case SMTP_ST_COMMAND:
		case SMTP_ST_AUTH: {
			if (s->pub.state == SMTP_ST_COMMAND && s->pub.n_commands == 0 &&
			    lb->buf.len == 0 && !lb->skip && !s->pub.tls && p[0] == 0x16 &&
			    (n < 2 || p[1] == 0x03)) { /* implicit TLS, RFC 8314 */
				if (!s->tls_hook.implicit) /* expected on an implicit-TLS port */
					raise_anom(s, NULL, ANOM_SMTP_IMPLICIT_TLS);
				s->pub.tls = true;
				s->tls_raw[FLOW_C2S] = true;
				enter_state(s, SMTP_ST_TLS);
				tls_line(s, ts);
				continue;
			}
			struct rawline l;
			bool got;
			gap_resync(lb, p, n, false);
			size_t k = line_take(lb, SMTP_LINE_MAX, p, n, &l, &got);
			p += k;
			n -= k;
			if (got) {
				if (s->pub.state == SMTP_ST_AUTH)
					client_auth_line(s, &l, ts);
				else
					client_command(s, &l, ts);
				line_done(lb);
			}
			break;
		}
		case SMTP_ST_WAIT_DATA:
		case SMTP_ST_WAIT_AUTH:
		case SMTP_ST_WAIT_TLS: {
			if (s->hold.len == 0)
				s->hold_ts = ts;
			size_t room = SMTP_HOLD_MAX - s->hold.len;
			size_t k = n < room ? n : room;
			sbuf_add(&s->hold, p, k);
			p += k;
			n -= k;
			if (s->hold.len >= SMTP_HOLD_MAX)
				client_force(s, ts);
			break;
		}
		case SMTP_ST_DATA: {
			size_t k = data_feed(s, p, n, ts);
			p += k;
			n -= k;
			break;
		}
		case SMTP_ST_BDAT: {
			size_t k = bdat_feed(s, p, n, ts);
			p += k;
			n -= k;
			break;
		}
		case SMTP_ST_TLS_PROBE:
			client_tls_probe(s, p, n, ts);
			break;
		case SMTP_ST_TLS:
			if (!s->pub.tls_inner) /* (inside TLS a nested STARTTLS is not ours to hand over) */
				tls_raw_out(s, FLOW_C2S, p, n, ts);
			return;
		case SMTP_ST_CLOSED:
			return;
		}
	}
}

static void server_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts)
{
	struct linebuf *lb = &s->lb[FLOW_S2C];
	while (n > 0) {
		switch (s->srv) {
		case SRV_TLS_PROBE:
			if (s->pub.state == SMTP_ST_TLS || p[0] == 0x16) {
				s->srv = SRV_TLS;
				s->tls_raw[FLOW_S2C] = !s->pub.tls_inner && tls_record_start(p, n);
			} else if (p[0] >= '0' && p[0] <= '9') {
				s->srv = SRV_REPLY;
			} else {
				raise_anom(s, NULL, ANOM_SMTP_TLS_UNKNOWN_PROTOCOL);
				s->srv = SRV_TLS;
			}
			continue;
		case SRV_TLS:
			if (!s->pub.tls_inner)
				tls_raw_out(s, FLOW_S2C, p, n, ts);
			return;
		case SRV_REPLY:
			break;
		}
		if (!s->greeting_seen && s->pub.n_replies == 0 && lb->buf.len == 0 && !lb->skip &&
		    !s->pub.tls_inner && p[0] == 0x16 && (n < 2 || p[1] == 0x03)) { /* implicit TLS */
			s->pub.tls = true;
			s->srv = SRV_TLS;
			s->tls_raw[FLOW_S2C] = true;
			continue;
		}
		struct rawline l;
		bool got;
		gap_resync(lb, p, n, true);
		size_t k = line_take(lb, SMTP_REPLY_LINE_MAX, p, n, &l, &got);
		p += k;
		n -= k;
		if (got) {
			server_line(s, &l, ts);
			line_done(lb);
		}
	}
}

/* ------------------------------------------------------------------ */
/* 5. public entry points                                             */

/* Freed sessions kept for reuse (a few KiB each: allocating one per flow
 * made malloc consolidate its fast bins every time). Bounded, and one pool
 * per thread: the SMTP layer runs on the worker thread (docs/design.md,
 * "Threads"), unit tests and fuzzers on the main one. A thread's pool is
 * freed when it exits (a pthread key's destructor) and the main thread's at
 * exit(), so leak checkers see a clean exit. */
#define SESS_POOL_MAX 64
struct sess_pool {
	struct sess *s[SESS_POOL_MAX];
	size_t n;
	bool registered; /* the key's destructor will free it */
};
static _Thread_local struct sess_pool sess_pool;
static pthread_key_t sess_pool_key;
static pthread_once_t sess_pool_once = PTHREAD_ONCE_INIT;

static void sess_pool_drain(void *arg)
{
	struct sess_pool *sp = arg;
	while (sp->n)
		free(sp->s[--sp->n]);
}

static void sess_pool_drain_main(void) { sess_pool_drain(&sess_pool); }

static bool sess_pool_key_ok; /* set once (pthread_once), read after it */

static void sess_pool_init(void)
{
	sess_pool_key_ok = pthread_key_create(&sess_pool_key, sess_pool_drain) == 0;
	atexit(sess_pool_drain_main); /* exit() runs no key destructor */
}

struct smtp_session *smtp_session_new(const struct smtp_config *cfg, struct event_bus *bus,
                                      const struct flow_info *fi, uint64_t ts_us)
{
	struct sess *s;
	struct sess_pool *sp = &sess_pool;
	if (sp->n) {
		s = sp->s[--sp->n];
		/* zero it, except the AUTH slots past the ones used last time:
		 * they were never written (3.4 of the 5.5 KiB) */
		char *base = (char *)s;
		char *a0 = (char *)&s->pub.auth[s->pub.n_auth], *a1 = (char *)&s->pub.auth[SMTP_AUTH_MAX];
		memset(base, 0, (size_t)(a0 - base));
		memset(a1, 0, (size_t)(base + sizeof *s - a1));
	} else {
		if (!sp->registered) {
			pthread_once(&sess_pool_once, sess_pool_init);
			/* without the key, this thread frees its sessions at once */
			sp->registered = sess_pool_key_ok && pthread_setspecific(sess_pool_key, sp) == 0;
		}
		s = xcalloc(1, sizeof *s);
	}
	if (cfg)
		s->cfg = *cfg;
	s->bus = bus;
	s->pub.flow = fi;
	s->pub.start_ts_us = ts_us;
	s->mid_body = fi && !fi->syn_seen;
	enter_state(s, SMTP_ST_COMMAND);
	emit_event(s, EV_SESSION_BEGIN, ts_us, NULL, NULL, NULL);
	return &s->pub;
}

void smtp_session_set_tls(struct smtp_session *ps, const struct smtp_tls_hook *h)
{
	struct sess *s = sess_of(ps);
	if (h)
		s->tls_hook = *h;
	else
		memset(&s->tls_hook, 0, sizeof s->tls_hook);
}

/* The first decrypted byte: RFC 3207 §4.2, the client knows nothing from
 * before TLS and starts again (EHLO); with implicit TLS the greeting comes
 * inside. Both directions start at a line. */
static void tls_inner_start(struct sess *s, uint64_t ts)
{
	s->pub.tls = s->pub.tls_decrypted = s->pub.tls_inner = true;
	/* what was pending before TLS is never answered inside it */
	for (size_t i = 0; i < s->qlen; i++) {
		struct pending *e = &s->q[(s->qhead + i) % s->qcap];
		if (e->txn && --e->txn->npending == 0 && e->txn->client_closed)
			txn_emit(s, e->txn, ts);
	}
	s->qlen = 0;
	if (s->cur)
		txn_detach(s, s->cur, SMTP_TXN_END_TLS, ts);
	s->auth_base = s->pub.n_auth;
	s->auth_cur = NULL;
	s->forced = false;
	s->mid_body = false;
	sbuf_free(&s->hold);
	for (int d = 0; d < 2; d++) {
		line_done(&s->lb[d]);
		s->lb[d].skip = s->lb[d].gap_fresh = false;
	}
	s->in_reply = false;
	s->rn = s->rn_total = 0;
	s->rtrunc = false;
	s->renh[0] = '\0';
	sbuf_clear(&s->rbytes);
	enter_state(s, SMTP_ST_COMMAND);
	s->srv = SRV_REPLY;
	struct smtp_line ln = { .kind = SMTP_LINE_TLS, .label = "TLS decrypted", .ts_us = ts };
	emit_event(s, EV_CLIENT, ts, &ln, NULL, NULL);
}

void smtp_session_tls_plaintext(struct smtp_session *ps, int dir, const uint8_t *p, size_t n,
                                uint64_t ts_us)
{
	struct sess *s = sess_of(ps);
	if (!n || s->pub.state == SMTP_ST_CLOSED)
		return;
	if (!s->pub.tls_inner)
		tls_inner_start(s, ts_us);
	if (dir == FLOW_C2S)
		client_feed(s, p, n, ts_us);
	else
		server_feed(s, p, n, ts_us);
}

void smtp_session_data(struct smtp_session *ps, int dir, const uint8_t *p, size_t n,
                       uint64_t ts_us)
{
	struct sess *s = sess_of(ps);
	if (!n || s->pub.state == SMTP_ST_CLOSED)
		return;
	if (s->tls_raw[dir == FLOW_C2S ? FLOW_C2S : FLOW_S2C]) {
		tls_raw_out(s, dir, p, n, ts_us);
		return;
	}
	if (!s->first_seen) {
		s->first_seen = true;
		if (s->tls_hook.implicit && !tls_record_start(p, n))
			raise_anom(s, NULL, ANOM_SMTP_TLS_PORT_CLEARTEXT);
	}
	if (dir == FLOW_C2S)
		client_feed(s, p, n, ts_us);
	else
		server_feed(s, p, n, ts_us);
}

static void gap_apply(struct sess *s, int dir, uint64_t len, uint64_t ts_us);

void smtp_session_gap(struct smtp_session *ps, int dir, uint64_t len, uint64_t ts_us)
{
	struct sess *s = sess_of(ps);
	if (s->pub.state == SMTP_ST_CLOSED || !len)
		return;
	s->pub.n_gaps++;
	s->pub.gap_bytes[dir == FLOW_C2S ? 0 : 1] += len;
	if (s->tls_raw[dir == FLOW_C2S ? FLOW_C2S : FLOW_S2C]) { /* the TLS layer's to tell */
		if (s->tls_hook.gap)
			s->tls_hook.gap(s->tls_hook.user, dir, len, ts_us);
		return;
	}
	gap_apply(s, dir, len, ts_us);
}

/* Decrypted bytes that will never come: a gap of the inner SMTP (not a
 * capture gap: the capture's own gaps are counted where they happened). */
void smtp_session_tls_gap(struct smtp_session *ps, int dir, uint64_t len, uint64_t ts_us)
{
	struct sess *s = sess_of(ps);
	if (s->pub.state == SMTP_ST_CLOSED || !len || !s->pub.tls_inner)
		return;
	gap_apply(s, dir, len, ts_us);
}

static void gap_apply(struct sess *s, int dir, uint64_t len, uint64_t ts_us)
{
	if (dir != FLOW_C2S) {
		if (s->srv == SRV_REPLY) {
			struct linebuf *lb = &s->lb[FLOW_S2C];
			line_done(lb);
			lb->skip = lb->gap_fresh = true;
			raise_anom(s, NULL, ANOM_SMTP_CONTENT_GAP);
		}
		return;
	}
	if (state_is_wait(s->pub.state))
		client_force(s, ts_us);
	struct txn_impl *t;
	switch (s->pub.state) {
	case SMTP_ST_DATA:
		t = txn_current(s, ts_us);
		t->pub.msg_gap_bytes += len;
		anom_mark(&t->pub.anoms, ANOM_TCP_GAP);
		if (hooks(s) && hooks(s)->gap)
			hooks(s)->gap(hooks(s)->user, &t->pub, len);
		s->ds = DS_GAP; /* resynchronise: at the next line, or now (data_feed) */
		s->prev_cr = false;
		s->body_bol = false;
		return;
	case SMTP_ST_BDAT: {
		t = txn_current(s, ts_us);
		uint64_t g = len < s->bdat_left ? len : s->bdat_left;
		t->pub.msg_gap_bytes += g;
		anom_mark(&t->pub.anoms, ANOM_TCP_GAP);
		if (hooks(s) && hooks(s)->gap)
			hooks(s)->gap(hooks(s)->user, &t->pub, g);
		s->bdat_left -= g;
		len -= g;
		if (s->bdat_left == 0) {
			enter_state(s, SMTP_ST_COMMAND);
			if (s->bdat_last)
				msg_finish(s, true, false, ts_us);
		}
		if (!len)
			return;
		break; /* the gap runs past the chunk: resynchronise commands */
	}
	case SMTP_ST_TLS:
	case SMTP_ST_TLS_PROBE:
		return;
	default:
		break;
	}
	if (s->pub.state == SMTP_ST_COMMAND || s->pub.state == SMTP_ST_AUTH) {
		struct linebuf *lb = &s->lb[FLOW_C2S];
		line_done(lb);
		lb->skip = lb->gap_fresh = true;
		raise_anom(s, s->cur, ANOM_SMTP_CONTENT_GAP);
	}
}

void smtp_session_close(struct smtp_session *ps, uint64_t ts_us)
{
	struct sess *s = sess_of(ps);
	if (s->pub.state == SMTP_ST_CLOSED)
		return;
	/* client: decide what held bytes were, then a last unterminated line */
	/* each round consumes at least one held line or byte, so this ends */
	while (state_is_wait(s->pub.state) && s->hold.len)
		client_force(s, ts_us);
	struct rawline l;
	if ((s->pub.state == SMTP_ST_COMMAND || s->pub.state == SMTP_ST_AUTH) &&
	    line_flush(&s->lb[FLOW_C2S], &l)) {
		if (s->pub.state == SMTP_ST_AUTH)
			client_auth_line(s, &l, ts_us);
		else
			client_command(s, &l, ts_us);
		line_done(&s->lb[FLOW_C2S]);
	}
	if (s->pub.state == SMTP_ST_DATA || s->pub.state == SMTP_ST_BDAT) {
		if (s->pub.state == SMTP_ST_DATA && s->ds == DS_DOT_CR)
			body_out(s, (const uint8_t *)"\r", 1, ts_us);
		msg_finish(s, false, false, ts_us);
	}
	/* server: a last unterminated line, an unfinished multi-line reply */
	if (s->srv == SRV_REPLY && line_flush(&s->lb[FLOW_S2C], &l)) {
		server_line(s, &l, ts_us);
		line_done(&s->lb[FLOW_S2C]);
	}
	if (s->in_reply)
		reply_finish(s, ts_us);
	/* transactions: whatever is open is emitted now, oldest first */
	if (s->cur)
		txn_detach(s, s->cur, SMTP_TXN_END_CLOSE, ts_us);
	while (s->n_open)
		txn_emit(s, s->open[0], ts_us);
	s->qlen = 0;
	s->pub.end_ts_us = ts_us;
	enter_state(s, SMTP_ST_CLOSED);
	if (hooks(s) && hooks(s)->session_end)
		hooks(s)->session_end(hooks(s)->user, &s->pub);
	emit_event(s, EV_SESSION_END, ts_us, NULL, NULL, NULL);
}

void smtp_session_free(struct smtp_session *ps)
{
	if (!ps)
		return;
	struct sess *s = sess_of(ps);
	if (s->pub.state != SMTP_ST_CLOSED) {
		struct event_bus *bus = s->bus;
		s->bus = NULL; /* freeing without close: no events */
		smtp_session_close(ps, s->pub.end_ts_us ? s->pub.end_ts_us : s->pub.start_ts_us);
		s->bus = bus;
	}
	for (size_t i = 0; i < s->pub.n_auth; i++)
		auth_attempt_free(&s->pub.auth[i]);
	auth_attempt_free(&s->auth_spare);
	free(s->pub.greeting);
	free(s->pub.helo);
	for (size_t i = 0; i < s->pub.n_findings; i++)
		free(s->pub.findings[i].detail);
	free(s->pub.findings);
	sbuf_free(&s->lb[0].buf);
	sbuf_free(&s->lb[1].buf);
	sbuf_free(&s->hold);
	sbuf_free(&s->rbytes);
	sbuf_free(&s->scratch);
	free(s->q);
	struct sess_pool *sp = &sess_pool;
	if (sp->registered && sp->n < SESS_POOL_MAX)
		sp->s[sp->n++] = s;
	else
		free(s);
}
