/* msgwire — the SMTP message stream to the header parser, and a finished
 * transaction to the verdicts. Contract in include/msgwire.h.
 *
 * One imf parser per message in flight, stored in txn->headers (freed by the
 * SMTP layer through txn->headers_free) with the msgwire it came from, whose
 * pool takes it back. Findings are copied into the transaction as struct
 * smtp_finding (ids and severities are constants). */
#include "msgwire.h"

#include <stdlib.h>
#include <string.h>

#include "imf.h"
#include "sbuf.h"
#include "tls.h"
#include "verdict.h"

#define MSGWIRE_RCPT_MAX 100 /* recipients handed to the verdicts (look-alike checks) */

/* What txn->headers points at: the message's parser and the msgwire whose
 * pool it goes back to (the SMTP layer's headers_free gets only this). */
struct mw_msg {
	struct imf_parser *p;
	struct msgwire *m;
};

/* A few finished parsers are kept for the next messages (a parser is a few
 * KiB, zeroed when new): at most PARSER_POOL_MAX, so the pool stays small
 * whatever the traffic. The pool belongs to its msgwire, and a msgwire is
 * used by one thread (the application layer's: docs/design.md, "Threads"
 * and "Per-thread state"), so no lock and no process-wide state. */
#define PARSER_POOL_MAX 32

struct msgwire {
	bool strict;                        /* --strict-alignment */
	struct smtp_msg_hooks hooks;        /* what the SMTP layer calls */
	struct mw_msg *pool[PARSER_POOL_MAX]; /* finished parsers, reset */
	size_t pool_n;                      /* entries in pool */
	struct imf_scratch scratch;         /* lent to every parser of this msgwire */
};

static void msg_destroy(struct mw_msg *h)
{
	imf_parser_free(h->p);
	free(h);
}

static void parser_free(void *headers)
{
	struct mw_msg *h = headers;
	if (!h)
		return;
	struct msgwire *m = h->m;
	if (m->pool_n < PARSER_POOL_MAX) {
		imf_parser_reset(h->p); /* releases the message's header data now */
		m->pool[m->pool_n++] = h;
		return;
	}
	msg_destroy(h);
}

static struct mw_msg *msg_get(struct msgwire *m)
{
	if (m->pool_n)
		return m->pool[--m->pool_n];
	struct mw_msg *h = xcalloc(1, sizeof *h);
	h->p = imf_parser_new_scratch(&m->scratch);
	h->m = m;
	return h;
}

/* The parser behind txn->headers. */
static struct imf_parser *txn_parser(const struct smtp_txn *t)
{
	return ((const struct mw_msg *)t->headers)->p;
}

static void mw_begin(void *user, struct smtp_txn *t)
{
	if (t->headers) {
		imf_parser_reset(txn_parser(t));
	} else {
		t->headers = msg_get(user);
		t->headers_free = parser_free;
	}
}

static void mw_data(void *user, struct smtp_txn *t, const uint8_t *p, size_t n)
{
	(void)user;
	if (t->headers)
		imf_push(txn_parser(t), p, n);
}

static void mw_gap(void *user, struct smtp_txn *t, uint64_t len)
{
	(void)user;
	if (t->headers)
		imf_gap(txn_parser(t), len);
}

static void mw_end(void *user, struct smtp_txn *t)
{
	(void)user;
	if (t->headers) {
		if (!t->msg_complete)
			imf_cut(txn_parser(t));
		imf_finish(txn_parser(t));
	}
}

/* Append the verdicts' findings f[0..n) to *arr (a transaction's or a
 * session's): ids and severities are string constants, each detail's
 * ownership moves to the record. */
static void findings_take(struct smtp_finding **arr, size_t *len, struct finding *f, size_t n)
{
	if (!n)
		return;
	struct smtp_finding *out = xrealloc(*arr, (*len + n) * sizeof *out);
	for (size_t i = 0; i < n; i++) {
		out[*len + i] = (struct smtp_finding){ f[i].id, f[i].severity, f[i].detail };
		f[i].detail = NULL;
		finding_free(&f[i]);
	}
	*arr = out;
	*len += n;
}

static void mw_complete(void *user, struct smtp_txn *t)
{
	struct msgwire *m = user;
	const struct smtp_session *s = t->session;
	const char *rcpts[MSGWIRE_RCPT_MAX];
	size_t nr = 0;
	for (size_t i = 0; i < t->n_rcpts && nr < MSGWIRE_RCPT_MAX; i++)
		if (t->rcpts[i].reply == 0 || (t->rcpts[i].reply >= 200 && t->rcpts[i].reply < 300))
			rcpts[nr++] = t->rcpts[i].addr;
	const struct auth_attempt *a = t->auth;
	/* imf_* anomalies of the message belong to the transaction's list
	 * (docs/schema.md: "anomaly names raised within this transaction"). */
	const struct imf_headers *h = msgwire_txn_headers(t);
	if (h)
		anom_merge(&t->anoms, &h->anoms);
	struct verdict_input in = {
		.helo = t->helo,
		.mail_from = t->has_mail ? t->mail_from : NULL,
		.rcpt_to = rcpts,
		.n_rcpt = nr,
		.auth_user = a && a->result == AUTH_RESULT_SUCCESS && a->has_user ? sbuf_str(&a->user) : NULL,
		.tls = t->tls,
		/* AUTH happens before the transaction; STARTTLS resets the session,
		 * so credentials in effect without TLS were sent in clear. */
		.auth_cleartext = a && !t->tls && (a->has_secret || a->has_user),
		.starttls_offered = s && (s->caps.flags & SMTP_CAP_STARTTLS),
		.starttls_used = s && s->tls,
		.smuggling_bare_lf = anom_has(&t->anoms, ANOM_SMTP_BARE_LF_IN_DATA),
		.smuggling_bare_cr = anom_has(&t->anoms, ANOM_SMTP_BARE_CR_IN_DATA),
		.smuggling_bad_eod = anom_has(&t->anoms, ANOM_SMTP_NONSTANDARD_EOD) ||
		                     anom_has(&t->anoms, ANOM_SMTP_EOD_LIKE_SEQUENCE),
		.headers = h,
		.strict_alignment = m->strict,
	};
	struct finding f[VERDICT_MAX_FINDINGS];
	findings_take(&t->findings, &t->n_findings, f, verdict_run(&in, f, VERDICT_MAX_FINDINGS));
}

/* Session-scoped findings: the AUTH attempts that sent credentials in clear
 * and that no transaction's cleartext_auth covers (attempts beyond the
 * stored SMTP_AUTH_MAX are counted through n_auth_clear). */
#define MSGWIRE_USERS_MAX 5 /* usernames named in the detail */
static void mw_session_end(void *user, struct smtp_session *s)
{
	(void)user;
	struct verdict_session_input in = {
		.starttls_offered = (s->caps.flags & SMTP_CAP_STARTTLS) || s->tls, /* caps: the latest EHLO's */
	};
	const char *users[MSGWIRE_USERS_MAX];
	unsigned long long covered = 0;
	for (size_t i = 0; i < s->n_auth; i++) {
		const struct auth_attempt *a = &s->auth[i];
		if (a->tls || !(a->has_user || a->has_secret))
			continue;
		/* covered: the AUTH of a cleartext transaction (whose finding names
		 * it), or an earlier try of that same user (a mistyped password
		 * before the success is the same exposure, already reported) */
		bool cov = a->in_txn;
		for (size_t k = 0; !cov && k < s->n_auth; k++) {
			const struct auth_attempt *b = &s->auth[k];
			cov = b->in_txn && !b->tls && a->has_user && b->has_user && a->user.len == b->user.len &&
			      memcmp(sbuf_str(&a->user), sbuf_str(&b->user), a->user.len) == 0;
		}
		if (cov) {
			covered++;
			continue;
		}
		if (a->result == AUTH_RESULT_FAILURE)
			in.auth_clear_failed++;
		const char *u = a->has_user ? sbuf_str(&a->user) : NULL;
		bool dup = !u;
		for (size_t k = 0; u && k < in.n_users; k++)
			dup |= strcmp(users[k], u) == 0;
		if (!dup && in.n_users < MSGWIRE_USERS_MAX)
			users[in.n_users++] = u;
	}
	in.users = users;
	in.auth_clear = s->n_auth_clear > covered ? s->n_auth_clear - covered : 0;
	/* TLS and STARTTLS (docs/findings.md) */
	in.tls = s->tls;
	in.starttls_masked = s->starttls_masked;
	in.starttls_refused = s->starttls_refused;
	in.starttls_refused_continued = s->starttls_refused_continued;
	in.starttls_injected = s->starttls_injected;
	if (anom_has(&s->anoms, ANOM_SMTP_TLS_DECRYPTED))
		in.starttls_no_handshake = "plain SMTP (a decrypted capture, or a proxy that answered STARTTLS without TLS)";
	else if (anom_has(&s->anoms, ANOM_SMTP_TLS_UNKNOWN_PROTOCOL))
		in.starttls_no_handshake = "neither TLS nor SMTP";
	struct verdict_tls hs;
	const char *dns[TLS_SAN_MAX];
	char cn[TLS_NAME_MAX];
	const struct tls_info *ti = s->tls_info;
	if (ti && (ti->server.seen || ti->cert_seen)) {
		memset(&hs, 0, sizeof hs);
		hs.version = ti->version;
		hs.version_name = tls_version_str(ti->version);
		hs.cipher = ti->server.seen ? ti->cipher : 0;
		hs.cipher_name = tls_cipher_str(ti->cipher);
		hs.cipher_weak = ti->server.seen && tls_cipher_weak(ti->cipher);
		hs.sni = ti->client.sni[0] ? ti->client.sni : NULL;
		const struct tls_cert *leaf = ti->cert_seen && ti->n_certs && !ti->certs[0].parse_error ? &ti->certs[0] : NULL;
		if (leaf) {
			hs.cert_seen = true;
			hs.cert_subject = leaf->subject;
			verdict_subject_cn(leaf->subject, cn, sizeof cn);
			hs.cert_cn = cn[0] ? cn : NULL;
			for (unsigned i = 0; i < leaf->n_san && i < TLS_SAN_MAX; i++)
				dns[i] = leaf->san_dns[i];
			hs.cert_dns = dns;
			hs.n_cert_dns = leaf->n_san;
			hs.not_before = leaf->not_before;
			hs.not_after = leaf->not_after;
			hs.self_signed = leaf->self_signed;
		}
		hs.capture_time = (long long)(s->start_ts_us / 1000000);
		in.hs = &hs;
	}
	struct finding f[VERDICT_MAX_FINDINGS];
	findings_take(&s->findings, &s->n_findings, f, verdict_session_run(&in, f, VERDICT_MAX_FINDINGS));
}

struct msgwire *msgwire_new(bool strict_alignment)
{
	struct msgwire *m = xcalloc(1, sizeof *m);
	m->strict = strict_alignment;
	m->hooks.begin = mw_begin;
	m->hooks.data = mw_data;
	m->hooks.gap = mw_gap;
	m->hooks.end = mw_end;
	m->hooks.complete = mw_complete;
	m->hooks.session_end = mw_session_end;
	m->hooks.user = m;
	return m;
}

const struct smtp_msg_hooks *msgwire_hooks(struct msgwire *m)
{
	return &m->hooks;
}

void msgwire_free(struct msgwire *m)
{
	if (!m)
		return;
	while (m->pool_n) /* transactions are gone by now; so is the need */
		msg_destroy(m->pool[--m->pool_n]);
	imf_scratch_free(&m->scratch);
	free(m);
}

const struct imf_headers *msgwire_headers_of(const void *headers)
{
	return imf_headers(((const struct mw_msg *)headers)->p);
}

const struct imf_headers *msgwire_txn_headers(const struct smtp_txn *t)
{
	return t->headers && t->msg_started ? msgwire_headers_of(t->headers) : NULL;
}
