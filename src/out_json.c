/* out_json — JSON Lines sink: one object per line; schema in docs/schema.md.
 * Keys are constants; every string from the wire goes through esc_json. */
#include "out.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anomaly.h"
#include "auth.h"
#include "esc.h"
#include "flow.h"
#include "netaddr.h"
#include "out_tls.h"
#include "smtp.h"

#define OUT_JSON_FLUSH_AT (256 * 1024) /* bytes buffered before an fwrite */

struct out_json {
	struct sink base;     /* first member (container-of) */
	FILE *f;              /* borrowed */
	struct out_opts o;    /* copy */
	struct sbuf buf;      /* pending output */
};

static void put_digits(char *d, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		d[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void out_ts_iso(struct sbuf *out, uint64_t ts_us)
{
	/* "YYYY-MM-DDTHH:MM:SS." once per second of capture time; two seconds
	 * kept, since session and transaction records alternate between the
	 * second a session began and the one it ended in */
	static _Thread_local uint64_t cached_sec[2] = { UINT64_MAX, UINT64_MAX };
	static _Thread_local char cached[2][24];
	static _Thread_local unsigned next; /* per thread: any sink's thread may call this */
	uint64_t sec = ts_us / 1000000;
	int k = cached_sec[0] == sec ? 0 : cached_sec[1] == sec ? 1 : -1;
	if (k < 0) {
		k = (int)next;
		next ^= 1;
		time_t t = (time_t)sec;
		struct tm tm;
		if (!gmtime_r(&t, &tm))
			memset(&tm, 0, sizeof tm);
		char *d = cached[k];
		unsigned year = tm.tm_year + 1900 > 9999 ? 9999 : (unsigned)(tm.tm_year + 1900);
		put_digits(d, year, 4);
		d[4] = '-';
		put_digits(d + 5, (unsigned)tm.tm_mon + 1, 2);
		d[7] = '-';
		put_digits(d + 8, (unsigned)tm.tm_mday, 2);
		d[10] = 'T';
		put_digits(d + 11, (unsigned)tm.tm_hour, 2);
		d[13] = ':';
		put_digits(d + 14, (unsigned)tm.tm_min, 2);
		d[16] = ':';
		put_digits(d + 17, (unsigned)tm.tm_sec, 2);
		d[19] = '.';
		cached_sec[k] = sec;
	}
	char t[28];
	memcpy(t, cached[k], 20);
	put_digits(t + 20, (unsigned)(ts_us % 1000000), 6);
	t[26] = 'Z';
	ob_add(out, t, 27);
}

/* always inlined: k is a literal, its strlen folds */
static inline __attribute__((always_inline)) void key(struct sbuf *b, const char *k)
{
	/* keys are constants: ,"k": */
	size_t n = strlen(k);
	if (b->len + n + 5 > b->cap)
		sbuf_reserve(b, n + 4);
	char *w = b->buf + b->len;
	w[0] = ',';
	w[1] = '"';
	memcpy(w + 2, k, n);
	w[n + 2] = '"';
	w[n + 3] = ':';
	w[n + 4] = '\0';
	b->len += n + 4;
}

static inline __attribute__((always_inline)) void kv_str(struct sbuf *b, const char *k, const char *v)
{
	key(b, k);
	esc_json_str(b, v);
}

static inline __attribute__((always_inline)) void kv_strn(struct sbuf *b, const char *k, const void *p, size_t n)
{
	key(b, k);
	esc_json_strn(b, p, n);
}

static inline __attribute__((always_inline)) void kv_u64(struct sbuf *b, const char *k, uint64_t v)
{
	key(b, k);
	ob_u64(b, v);
}

static inline __attribute__((always_inline)) void kv_int_or_null(struct sbuf *b, const char *k, int v)
{
	key(b, k);
	if (v)
		ob_int(b, v);
	else
		ob_add(b, "null", 4);
}

static inline __attribute__((always_inline)) void kv_bool(struct sbuf *b, const char *k, bool v)
{
	key(b, k);
	ob_adds(b, v ? "true" : "false");
}

static inline __attribute__((always_inline)) void kv_ts(struct sbuf *b, const char *k, uint64_t ts)
{
	key(b, k);
	ob_addc(b, '"');
	out_ts_iso(b, ts);
	ob_addc(b, '"');
}

static inline __attribute__((always_inline)) void kv_endpoint(struct sbuf *b, const char *k, const struct endpoint *e)
{
	if (e->family != 6) { /* "a.b.c.d:port", as endpoint_str writes it, without printf */
		key(b, k);
		ob_addc(b, '"');
		for (int i = 0; i < 4; i++) {
			if (i)
				ob_addc(b, '.');
			ob_u64(b, e->addr[i]);
		}
		ob_addc(b, ':');
		ob_u64(b, e->port);
		ob_addc(b, '"');
		return;
	}
	char t[ENDPOINT_STRLEN];
	kv_str(b, k, endpoint_str(e, t, sizeof t));
}

static void anoms_array(struct sbuf *b, const struct anom_set *a, const struct anom_set *a2)
{
	ob_addc(b, '[');
	bool first = true;
	/* by word, set bits only, in id order (as anom_has over every id) */
	for (int w = 0; w < ANOM_WORDS; w++) {
		uint64_t bits = a->w[w] | (a2 ? a2->w[w] : 0);
		while (bits) {
			int i = w * 64 + __builtin_ctzll(bits);
			bits &= bits - 1;
			if (i >= ANOM__COUNT)
				break;
			if (!first)
				ob_addc(b, ',');
			first = false;
			esc_json_str(b, anom_name((enum anom_id)i));
		}
	}
	ob_addc(b, ']');
}

/* {"session":id,"ts":...,"client":...,"server":...: the common head. */
static void head(struct out_json *j, const char *type, const struct event *ev, uint64_t ts)
{
	struct sbuf *b = &j->buf;
	ob_add(b, "{\"type\":", 8);
	esc_json_str(b, type);
	kv_u64(b, "session", ev->flow ? ev->flow->id : 0);
	kv_ts(b, "ts", ts);
	if (ev->flow) {
		kv_endpoint(b, "client", &ev->flow->client);
		kv_endpoint(b, "server", &ev->flow->server);
	}
}

static void auth_object(struct out_json *j, const struct auth_attempt *a)
{
	struct sbuf *b = &j->buf;
	if (!a) {
		ob_add(b, "null", 4);
		return;
	}
	ob_add(b, "{\"mechanism\":", 13);
	esc_json_str(b, a->mech_name);
	key(b, "username");
	if (a->has_user)
		esc_json_strn(b, a->user.buf ? a->user.buf : "", a->user.len);
	else
		ob_add(b, "null", 4);
	if (a->authzid.len)
		kv_strn(b, "authzid", a->authzid.buf, a->authzid.len);
	if (a->mech == AUTH_MECH_NTLM && a->has_user) {
		kv_strn(b, "domain", a->domain.buf ? a->domain.buf : "", a->domain.len);
		kv_strn(b, "workstation", a->workstation.buf ? a->workstation.buf : "",
		        a->workstation.len);
	}
	kv_str(b, "result", auth_result_str(a->result));
	kv_int_or_null(b, "reply", a->reply_code);
	kv_bool(b, "password_seen", a->has_secret);
	if (j->o.show_secrets && a->has_secret) {
		if (a->mech == AUTH_MECH_CRAM_MD5) {
			kv_strn(b, "challenge", a->challenge.buf ? a->challenge.buf : "", a->challenge.len);
			kv_strn(b, "response", a->secret.buf ? a->secret.buf : "", a->secret.len);
		} else if (a->mech != AUTH_MECH_NTLM) {
			kv_strn(b, "password", a->secret.buf ? a->secret.buf : "", a->secret.len);
		}
	}
	if (a->bad_base64 || a->malformed)
		kv_bool(b, "malformed", true);
	ob_addc(b, '}');
}

static void line_end(struct out_json *j)
{
	ob_add(&j->buf, "}\n", 2);
	if (j->buf.len >= OUT_JSON_FLUSH_AT) {
		fwrite(j->buf.buf, 1, j->buf.len, j->f);
		sbuf_clear(&j->buf);
	}
}

static void rcpt_array(struct sbuf *b, const struct smtp_txn *t, int want_rejected)
{
	ob_addc(b, '[');
	bool first = true;
	for (size_t i = 0; i < t->n_rcpts; i++) {
		int rej = t->rcpts[i].reply >= 400;
		if (rej != want_rejected)
			continue;
		if (!first)
			ob_addc(b, ',');
		first = false;
		esc_json_strn(b, t->rcpts[i].addr, t->rcpts[i].addr_n);
	}
	ob_addc(b, ']');
}

/* "rcpt_replies": per stored recipient, its RCPT reply (code, and text when
 * refused) and, in LMTP, its delivery reply after the message. */
static void rcpt_replies(struct sbuf *b, const struct smtp_txn *t)
{
	key(b, "rcpt_replies");
	ob_addc(b, '[');
	for (size_t i = 0; i < t->n_rcpts; i++) {
		const struct smtp_rcpt *r = &t->rcpts[i];
		ob_add(b, i ? ",{\"addr\":" : "{\"addr\":", i ? 9 : 8);
		esc_json_strn(b, r->addr, r->addr_n);
		kv_int_or_null(b, "reply", r->reply);
		if (r->reply_text)
			kv_str(b, "text", r->reply_text);
		if (r->delivery) {
			kv_int_or_null(b, "delivery", r->delivery);
			if (r->delivery_text)
				kv_str(b, "delivery_text", r->delivery_text);
		}
		ob_addc(b, '}');
	}
	ob_addc(b, ']');
}

/* The transaction record without its closing "}\n". */
/* "findings":[{"id":...,"severity":...,"detail":...},...] */
static void findings_array(struct sbuf *b, const struct smtp_finding *f, size_t n)
{
	key(b, "findings");
	ob_addc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			ob_addc(b, ',');
		ob_add(b, "{\"id\":", 6);
		esc_json_str(b, f[i].id);
		kv_str(b, "severity", f[i].severity);
		kv_str(b, "detail", f[i].detail);
		ob_addc(b, '}');
	}
	ob_addc(b, ']');
}

static void txn_record(struct out_json *j, const struct event *ev)
{
	const struct smtp_txn *t = ev->txn;
	struct sbuf *b = &j->buf;
	head(j, "transaction", ev, t->start_ts_us);
	kv_u64(b, "txn", t->seq);
	kv_ts(b, "ts_end", t->end_ts_us);
	kv_str(b, "helo", t->helo);
	kv_bool(b, "tls", t->tls);
	key(b, "auth");
	auth_object(j, t->auth);
	key(b, "mail_from");
	if (t->has_mail)
		esc_json_strn(b, t->mail_from, t->mail_from_n);
	else
		ob_add(b, "null", 4);
	kv_int_or_null(b, "mail_reply", t->mail_reply);
	key(b, "mail_params");
	ob_addc(b, '{');
	ob_add(b, "\"size\":", 7);
	if (t->params.has_size)
		ob_u64(b, t->params.size);
	else
		ob_add(b, "null", 4);
	kv_str(b, "body", t->params.body);
	kv_bool(b, "smtputf8", t->params.smtputf8);
	kv_str(b, "auth", t->params.auth);
	kv_str(b, "ret", t->params.ret);
	kv_str(b, "envid", t->params.envid);
	kv_bool(b, "requiretls", t->params.requiretls);
	ob_addc(b, '}');
	key(b, "rcpt_to");
	rcpt_array(b, t, 0);
	key(b, "rcpt_rejected");
	rcpt_array(b, t, 1);
	rcpt_replies(b, t);
	kv_u64(b, "rcpt_total", t->n_rcpt_total);
	kv_u64(b, "rcpt_accepted", t->n_rcpt_accepted);
	kv_u64(b, "rcpt_rejected_count", t->n_rcpt_rejected);
	kv_u64(b, "rcpt_not_stored", t->n_rcpt_total - t->n_rcpts);
	key(b, "xfer");
	ob_adds(b, t->xfer == SMTP_XFER_DATA ? "\"DATA\"" : t->xfer == SMTP_XFER_BDAT ? "\"BDAT\"" : "null");
	kv_int_or_null(b, "data_reply", t->data_reply);
	kv_int_or_null(b, "final_reply", t->final_reply);
	kv_str(b, "last_reply", t->last_reply);
	kv_u64(b, "size", t->msg_bytes);
	kv_u64(b, "lines", t->msg_lines);
	kv_bool(b, "message_complete", t->msg_complete);
	kv_u64(b, "gap_bytes", t->msg_gap_bytes);
	if (t->xfer == SMTP_XFER_BDAT)
		kv_u64(b, "bdat_chunks", t->bdat_chunks);
	kv_str(b, "end", smtp_txn_end_str(t->end));
	key(b, "anomalies");
	anoms_array(b, &t->anoms, NULL);
	/* the place where the imf module writes the parsed headers */
	key(b, "headers");
	if (t->headers && j->o.write_headers_json)
		j->o.write_headers_json(b, t->headers);
	else
		ob_add(b, "null", 4);
	findings_array(b, t->findings, t->n_findings);
}

static void emit_txn(struct out_json *j, const struct event *ev)
{
	if (j->o.findings_only && ev->txn->n_findings == 0)
		return;
	txn_record(j, ev);
	line_end(j);
}

void out_json_transaction(struct sbuf *out, const struct event *ev, const struct out_opts *o)
{
	struct out_json j;
	memset(&j, 0, sizeof j);
	j.o = *o;
	j.buf = *out; /* build in place, hand the buffer back */
	txn_record(&j, ev);
	ob_add(&j.buf, "}\n", 2);
	*out = j.buf;
}

/* "key":[v0,v1] — a per-direction pair (client→server, server→client). */
static void kv_pair_u64(struct sbuf *b, const char *k, const uint64_t v[2])
{
	key(b, k);
	ob_addc(b, '[');
	ob_u64(b, v[0]);
	ob_addc(b, ',');
	ob_u64(b, v[1]);
	ob_addc(b, ']');
}

static void caps_array(struct sbuf *b, const struct smtp_caps *c)
{
	ob_addc(b, '[');
	bool first = true;
	for (uint32_t f = 1; f; f <<= 1) {
		const char *n = (c->flags & f) ? smtp_cap_name(f) : NULL;
		if (!n)
			continue;
		if (!first)
			ob_addc(b, ',');
		first = false;
		esc_json_str(b, n);
	}
	ob_addc(b, ']');
}

static void emit_session(struct out_json *j, const struct event *ev)
{
	const struct smtp_session *s = ev->sess;
	struct sbuf *b = &j->buf;
	head(j, "session", ev, s->start_ts_us);
	kv_ts(b, "ts_end", s->end_ts_us ? s->end_ts_us : ev->ts_us);
	kv_str(b, "helo", s->helo);
	kv_int_or_null(b, "greeting_code", s->greeting_code);
	kv_str(b, "greeting", s->greeting);
	kv_bool(b, "tls", s->tls);
	kv_bool(b, "tls_decrypted", s->tls_decrypted);
	kv_pair_u64(b, "tls_bytes", s->tls_bytes);
	if (s->tls)
		out_tls_json(b, s->tls_info); /* docs/schema.md, "TLS" */
	key(b, "capabilities");
	caps_array(b, &s->caps);
	if (s->caps.flags & SMTP_CAP_SIZE) { /* null: advertised without a limit */
		if (s->caps.size_unlimited) {
			key(b, "size_limit");
			ob_add(b, "null", 4);
		} else {
			kv_u64(b, "size_limit", s->caps.size);
		}
	}
	if (s->caps.flags & SMTP_CAP_AUTH)
		kv_str(b, "auth_mechanisms", s->caps.auth);
	key(b, "auth");
	ob_addc(b, '[');
	for (size_t i = 0; i < s->n_auth; i++) {
		if (i)
			ob_addc(b, ',');
		auth_object(j, &s->auth[i]);
	}
	ob_addc(b, ']');
	kv_u64(b, "auth_attempts", s->n_auth_total);
	kv_u64(b, "transactions", s->n_txns);
	kv_u64(b, "commands", s->n_commands);
	kv_u64(b, "unknown_commands", s->n_unknown);
	kv_u64(b, "replies", s->n_replies);
	kv_u64(b, "gaps", s->n_gaps);
	kv_pair_u64(b, "gap_bytes", s->gap_bytes);
	kv_u64(b, "pending_dropped", s->pending_dropped);
	kv_bool(b, "quit", s->quit);
	if (ev->flow)
		kv_str(b, "flow_end", flow_end_str(ev->flow->end));
	key(b, "anomalies");
	anoms_array(b, &s->anoms, ev->flow ? &ev->flow->anoms : NULL);
	findings_array(b, s->findings, s->n_findings);
	line_end(j);
}

static void emit_client(struct out_json *j, const struct event *ev)
{
	const struct smtp_line *l = ev->line;
	struct sbuf *b = &j->buf;
	switch (l->kind) {
	case SMTP_LINE_COMMAND:
	case SMTP_LINE_AUTH: {
		head(j, l->kind == SMTP_LINE_COMMAND ? "command" : "auth_data", ev, ev->ts_us);
		bool mask = l->secret_off < l->n && !j->o.show_secrets;
		if (l->kind == SMTP_LINE_COMMAND) {
			size_t vn = l->arg && l->arg >= l->p ? (size_t)(l->arg - l->p) : l->n;
			while (vn > 0 && (l->p[vn - 1] == ' ' || l->p[vn - 1] == '\t'))
				vn--;
			kv_str(b, "verb", smtp_verb_str(l->verb));
			kv_strn(b, "verb_raw", l->p, vn);
			key(b, "arg");
			if (!l->arg) {
				ob_add(b, "null", 4);
			} else if (mask && (size_t)(l->arg - l->p) <= l->secret_off) {
				ob_addc(b, '"');
				esc_json(b, l->arg, l->secret_off - (size_t)(l->arg - l->p));
				ob_add(b, "********\"", 9);
			} else {
				esc_json_strn(b, l->arg, l->arg_n);
			}
		} else {
			key(b, "data");
			if (mask)
				esc_json_str(b, "********");
			else
				esc_json_strn(b, l->p, l->n);
		}
		kv_str(b, "label", l->label);
		if (l->value) {
			key(b, "value");
			if (l->value_secret && !j->o.show_secrets)
				esc_json_str(b, "********");
			else
				esc_json_strn(b, l->value, l->value_n);
		}
		if (l->truncated)
			kv_bool(b, "truncated", true);
		line_end(j);
		break;
	}
	case SMTP_LINE_MESSAGE:
		head(j, "message", ev, ev->ts_us);
		kv_u64(b, "size", l->msg_bytes);
		kv_u64(b, "lines", l->msg_lines);
		kv_str(b, "label", l->label);
		line_end(j);
		break;
	case SMTP_LINE_DISCARDED:
		head(j, "discarded", ev, ev->ts_us);
		kv_u64(b, "bytes", l->msg_bytes);
		line_end(j);
		break;
	case SMTP_LINE_TLS:
		head(j, "tls", ev, ev->ts_us);
		if (ev->sess && ev->sess->tls_inner) /* the second one: decrypted from here */
			kv_bool(b, "decrypted", true);
		line_end(j);
		break;
	case SMTP_LINE_BODY:
		break;
	}
}

static void emit_reply(struct out_json *j, const struct event *ev)
{
	const struct smtp_reply *r = ev->reply;
	struct sbuf *b = &j->buf;
	head(j, "reply", ev, ev->ts_us);
	kv_int_or_null(b, "code", r->code);
	key(b, "enhanced");
	if (r->enhanced[0])
		esc_json_str(b, r->enhanced);
	else
		ob_add(b, "null", 4);
	kv_strn(b, "text", r->text, r->text_n);
	key(b, "lines");
	ob_addc(b, '[');
	for (size_t i = 0; i < r->n_lines; i++) {
		if (i)
			ob_addc(b, ',');
		esc_json_strn(b, r->lines[i].p, r->lines[i].n);
	}
	ob_addc(b, ']');
	key(b, "answers");
	if (r->answer == SMTP_ANSWER_COMMAND || r->answer == SMTP_ANSWER_INTERMEDIATE ||
	    r->answer == SMTP_ANSWER_AUTH)
		esc_json_str(b, smtp_verb_str(r->answers));
	else if (r->answer == SMTP_ANSWER_MESSAGE)
		esc_json_str(b, "message");
	else if (r->answer == SMTP_ANSWER_GREETING)
		esc_json_str(b, "greeting");
	else
		ob_add(b, "null", 4);
	kv_str(b, "label", r->label);
	line_end(j);
}

static void json_emit(struct sink *sk, const struct event *ev)
{
	struct out_json *j = (struct out_json *)sk;
	switch (ev->type) {
	case EV_TRANSACTION:
		emit_txn(j, ev);
		break;
	case EV_SESSION_END:
		if (!j->o.findings_only || ev->sess->n_findings)
			emit_session(j, ev);
		break;
	case EV_CLIENT:
		if (j->o.events && !j->o.findings_only)
			emit_client(j, ev);
		break;
	case EV_REPLY:
		if (j->o.events && !j->o.findings_only)
			emit_reply(j, ev);
		break;
	case EV_SESSION_BEGIN:
	case EV_FLOW_END:
		break;
	}
}

static void json_flush(struct sink *sk)
{
	struct out_json *j = (struct out_json *)sk;
	if (j->buf.len) {
		fwrite(j->buf.buf, 1, j->buf.len, j->f);
		sbuf_clear(&j->buf);
	}
	fflush(j->f);
}

static void json_close(struct sink *sk)
{
	struct out_json *j = (struct out_json *)sk;
	json_flush(sk);
	sbuf_free(&j->buf);
	free(j);
}

static const struct sink_ops json_ops = { json_emit, json_flush, json_close };

struct sink *out_json_new(FILE *f, const struct out_opts *o)
{
	struct out_json *j = xcalloc(1, sizeof *j);
	j->base.ops = &json_ops;
	j->f = f;
	if (o)
		j->o = *o;
	j->base.wants = EV_BIT(EV_TRANSACTION) | EV_BIT(EV_SESSION_END);
	if (j->o.events && !j->o.findings_only)
		j->base.wants |= EV_BIT(EV_CLIENT) | EV_BIT(EV_REPLY);
	sbuf_reserve(&j->buf, OUT_JSON_FLUSH_AT + 4096);
	return &j->base;
}
