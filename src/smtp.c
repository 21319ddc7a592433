/* smtp — the SMTP dissector (RFC 5321 and extensions); contract in
 * include/smtp.h, output schema and the data-mode rule in docs/schema.md.
 *
 * Layout of this file:
 *   1. tables (verbs, capabilities) and small helpers
 *   2. transactions (create, detach, emit) and the pending-command queue
 *   3. client side: line splitting, command handlers, AUTH lines, hold,
 *      DATA (dot-unstuffing, end-of-data detection), BDAT, TLS probe
 *   4. server side: reply lines, multi-line assembly, pairing, effects
 *   5. the public entry points
 */
#include "smtp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* An AVX2 variant of the message-text scan, chosen at run time. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__SSE2__)
#define SMTP_HAVE_AVX2 1
#include <immintrin.h>
#else
#define SMTP_HAVE_AVX2 0
#endif

/* ------------------------------------------------------------------ */
/* 1. tables and helpers                                              */

static const char *const verb_names[SMTP_VERB__COUNT] = {
	[SMTP_VERB_UNKNOWN] = "unknown", [SMTP_VERB_HELO] = "HELO", [SMTP_VERB_EHLO] = "EHLO",
	[SMTP_VERB_LHLO] = "LHLO", [SMTP_VERB_MAIL] = "MAIL", [SMTP_VERB_RCPT] = "RCPT",
	[SMTP_VERB_DATA] = "DATA", [SMTP_VERB_BDAT] = "BDAT", [SMTP_VERB_RSET] = "RSET",
	[SMTP_VERB_VRFY] = "VRFY", [SMTP_VERB_EXPN] = "EXPN", [SMTP_VERB_HELP] = "HELP",
	[SMTP_VERB_NOOP] = "NOOP", [SMTP_VERB_QUIT] = "QUIT", [SMTP_VERB_STARTTLS] = "STARTTLS",
	[SMTP_VERB_AUTH] = "AUTH", [SMTP_VERB_ETRN] = "ETRN", [SMTP_VERB_BURL] = "BURL",
	[SMTP_VERB_XCLIENT] = "XCLIENT", [SMTP_VERB_XFORWARD] = "XFORWARD",
};

const char *smtp_verb_str(enum smtp_verb v)
{
	return (unsigned)v < SMTP_VERB__COUNT ? verb_names[v] : "unknown";
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

static const struct {
	const char *name;
	uint32_t flag;
	uint8_t len; /* strlen(name) */
} cap_table[] = {
	{ "PIPELINING", SMTP_CAP_PIPELINING, sizeof "PIPELINING" - 1 }, { "SIZE", SMTP_CAP_SIZE, sizeof "SIZE" - 1 },
	{ "8BITMIME", SMTP_CAP_8BITMIME, sizeof "8BITMIME" - 1 }, { "STARTTLS", SMTP_CAP_STARTTLS, sizeof "STARTTLS" - 1 },
	{ "AUTH", SMTP_CAP_AUTH, sizeof "AUTH" - 1 }, { "CHUNKING", SMTP_CAP_CHUNKING, sizeof "CHUNKING" - 1 },
	{ "BINARYMIME", SMTP_CAP_BINARYMIME, sizeof "BINARYMIME" - 1 }, { "SMTPUTF8", SMTP_CAP_SMTPUTF8, sizeof "SMTPUTF8" - 1 },
	{ "DSN", SMTP_CAP_DSN, sizeof "DSN" - 1 }, { "ENHANCEDSTATUSCODES", SMTP_CAP_ENHANCEDSTATUSCODES, sizeof "ENHANCEDSTATUSCODES" - 1 },
	{ "ETRN", SMTP_CAP_ETRN, sizeof "ETRN" - 1 }, { "VRFY", SMTP_CAP_VRFY, sizeof "VRFY" - 1 }, { "BURL", SMTP_CAP_BURL, sizeof "BURL" - 1 },
	{ "XCLIENT", SMTP_CAP_XCLIENT, sizeof "XCLIENT" - 1 }, { "XFORWARD", SMTP_CAP_XFORWARD, sizeof "XFORWARD" - 1 },
	{ "REQUIRETLS", SMTP_CAP_REQUIRETLS, sizeof "REQUIRETLS" - 1 }, { NULL, 0, 0 },
};

const char *smtp_cap_name(uint32_t flag)
{
	for (size_t i = 0; cap_table[i].name; i++)
		if (cap_table[i].flag == flag)
			return cap_table[i].name;
	return NULL;
}

/* ASCII case-insensitive comparison of p[0..n) with w[0..k) (upper case). */
static inline bool eq_ci_n(const uint8_t *p, size_t n, const char *w, size_t k)
{
	if (n != k)
		return false;
	for (size_t i = 0; i < k; i++) {
		uint8_t c = p[i];
		if (c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 32);
		if (c != (uint8_t)w[i])
			return false;
	}
	return true;
}

/* ASCII case-insensitive comparison of p[0..n) with the C string w. */
static inline bool eq_ci(const uint8_t *p, size_t n, const char *w)
{
	return eq_ci_n(p, n, w, strlen(w)); /* w is a literal: folded when inlined */
}


static bool is_sp(uint8_t c) { return c == ' ' || c == '\t'; }

static size_t skip_sp(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && is_sp(p[i]))
		i++;
	return i;
}

/* Index of the first CR or LF in p[0..n), n if none. Message text is
 * scanned with this, 16 bytes at a time where SSE2 is available. */
static inline size_t scan_crlf(const uint8_t *p, size_t n)
{
	size_t i = 0;
#if defined(__SSE2__)
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		unsigned m = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	for (; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return i;
	return n;
}

/* Number of LF bytes in p[0..n). */
static size_t count_lf(const uint8_t *p, size_t n)
{
	size_t i = 0, k = 0;
#if defined(__SSE2__)
	const __m128i lf = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
	while (i + 16 <= n) { /* byte counters (at most 255 rounds), then summed */
		__m128i acc = zero;
		for (int r = 0; r < 255 && i + 16 <= n; r++, i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, lf));
		}
		__m128i sum = _mm_sad_epu8(acc, zero);
		k += (size_t)_mm_cvtsi128_si32(sum) + (size_t)_mm_cvtsi128_si32(_mm_srli_si128(sum, 8));
	}
#endif
	for (; i < n; i++)
		k += p[i] == '\n';
	return k;
}

/* A NUL-terminated copy of p[0..n) capped at cap bytes. */
static char *dup_cap(const uint8_t *p, size_t n, size_t cap)
{
	return xstrndup((const char *)p, n > cap ? cap : n);
}

/* Parse 1*DIGIT into *v; false on no digits, overflow above max, or junk. */
static bool parse_u64(const uint8_t *p, size_t n, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		unsigned d = p[i] - '0';
		if (x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

/* ------------------------------------------------------------------ */
/* Internal state                                                     */

enum pend_kind {
	PEND_CMD = 0,    /* a command line */
	PEND_AUTH_RESP,  /* an AUTH response line */
	PEND_EOD,        /* the end of a DATA message */
};

struct txn_impl;

struct pending {
	enum pend_kind kind;          /* what awaits a reply */
	enum smtp_verb verb;          /* PEND_CMD: the command */
	bool bdat_last;               /* BDAT ... LAST */
	bool bdat_invalid;            /* BDAT with an invalid size */
	bool nested;                  /* MAIL inside an open transaction */
	uint64_t reset_txn;           /* HELO/EHLO/LHLO/STARTTLS: seq of the transaction an
	                                 acceptance resets (the one current when sent), 0 none */
	struct txn_impl *txn;         /* transaction it belongs to, or NULL */
	struct auth_attempt *auth;    /* AUTH / AUTH response: the attempt */
	size_t rcpt_idx;              /* RCPT: index in txn->rcpts, or SIZE_MAX */
	uint64_t seq;                 /* command sequence number (1, 2, ...) */
};

struct txn_impl {
	struct smtp_txn pub;          /* what consumers see (first member) */
	unsigned npending;            /* queue entries referring to this txn */
	bool client_closed;           /* no more client commands attach to it */
	bool rcpt_cap_warned;         /* smtp_too_many_recipients raised */
	char *nested_from;            /* address of a nested MAIL awaiting its reply */
	size_t last_reply_cap;        /* bytes allocated for pub.last_reply (reused reply to reply) */
	bool bare_lf_warned, bare_cr_warned; /* data anomalies raised once per txn */
};

struct linebuf {
	struct sbuf buf;              /* partial line (at most the cap) */
	bool truncated;               /* bytes beyond the cap were dropped */
	bool skip;                    /* after a gap: drop bytes up to the next LF */
	bool gap_fresh;               /* skip was just set: the next bytes may start a line */
	bool last_cr;                 /* the last byte appended or dropped was CR */
};

/* One line taken from a stream. */
struct rawline {
	const uint8_t *p;             /* line without CR LF */
	size_t n;
	bool truncated;               /* longer than the cap */
	bool bare_lf;                 /* ended by LF alone */
	bool unterminated;            /* no LF at all (stream end) */
};

enum data_st {
	DS_BOL = 0,  /* at the start of a message line */
	DS_TEXT,     /* inside a line */
	DS_DOT,      /* "." at the start of a line, not yet emitted */
	DS_DOT_CR,   /* ".\r" at the start of a line */
	DS_CRDOT,    /* "." right after a bare CR (smuggling detection only) */
	DS_GAP,      /* right after a gap: at a line start or inside a line, unknown */
};

enum srv_mode { SRV_REPLY = 0, SRV_TLS_PROBE, SRV_TLS };

struct sess {
	struct smtp_session pub;      /* what consumers see (first member) */
	struct smtp_config cfg;       /* copy of the configuration */
	struct event_bus *bus;        /* borrowed */
	struct linebuf lb[2];         /* per-direction partial line */
	/* client */
	uint64_t cmd_seq;             /* commands queued so far */
	uint64_t wait_seq;            /* the command a WAIT_* state waits on */
	bool forced;                  /* a WAIT_* state was left without its reply */
	struct sbuf hold;             /* client bytes held in WAIT_* (<= SMTP_HOLD_MAX) */
	uint64_t hold_ts;             /* time the first held byte arrived */
	bool hold_warned;             /* smtp_data_pipelined raised for this hold */
	struct auth_attempt *auth_cur;/* the AUTH dialogue in progress, or NULL */
	size_t auth_base;             /* attempts before it preceded the last STARTTLS */
	bool mid_body;                /* picked up mid-stream, no known verb yet: lines may
	                                 be the end of a message body (b12) */
	struct auth_attempt auth_spare; /* used when SMTP_AUTH_MAX attempts are stored */
	bool quit_warned;             /* smtp_data_after_quit raised */
	/* data mode */
	enum data_st ds;              /* dot-unstuffing state */
	bool prev_cr;                 /* DS_TEXT: the previous byte was CR */
	bool eol_crlf;                /* the previous line ended with CRLF */
	bool body_bol;                /* next body byte starts a line (for BODY events) */
	uint64_t bdat_left;           /* BDAT: octets left in the chunk */
	bool bdat_last;               /* BDAT: the chunk is the LAST one */
	/* server */
	enum srv_mode srv;            /* reply parsing or TLS */
	bool greeting_seen;           /* the greeting has been taken */
	bool in_reply;                /* a multi-line reply is being assembled */
	int rcode;                    /* its code (first valid line) */
	struct sbuf rbytes;           /* its stored lines, back to back */
	size_t roff[SMTP_REPLY_LINES_MAX], rlen[SMTP_REPLY_LINES_MAX];
	size_t rn, rn_total;          /* stored / total lines */
	bool rtrunc;                  /* a line was truncated */
	char renh[16];                /* enhanced status code of the last line */
	size_t rtext_off, rtext_n;    /* text of the last line (offset into rbytes) */
	/* the pending queue (ring) */
	struct pending *q;            /* qcap entries, grown on demand up to SMTP_PENDING_MAX */
	size_t qcap, qhead, qlen;
	/* transactions */
	struct txn_impl *cur;         /* the transaction client commands attach to */
	struct txn_impl *open[SMTP_TXN_OPEN_MAX]; /* created, not yet emitted, oldest first */
	size_t n_open;
	uint64_t txn_seq;             /* transactions created */
	/* scratch */
	char label[128];              /* labels built for events */
	struct sbuf scratch;          /* masked copies of lines */
	/* the TLS hand-off (smtp_session_set_tls, docs/design.md "TLS") */
	struct smtp_tls_hook tls_hook;
	bool tls_raw[2];              /* this direction's wire bytes go to tls_hook.data */
	bool first_seen;              /* the session's first byte was looked at (--tls-ports) */
};

static struct sess *sess_of(struct smtp_session *s) { return (struct sess *)s; }

/* dst = a " " b [" " c], truncated to cap like snprintf (labels are hot:
 * one per reply). */
static void label_join(char *dst, size_t cap, const char *a, const char *b, const char *c)
{
	const char *parts[3] = { a, b, c };
	size_t i = 0;
	for (int k = 0; k < 3 && parts[k]; k++) {
		if (k && i + 1 < cap)
			dst[i++] = ' ';
		for (const char *p = parts[k]; *p && i + 1 < cap; p++)
			dst[i++] = *p;
	}
	dst[i] = '\0';
}

static void enter_state(struct sess *s, enum smtp_state st)
{
	s->pub.state = st;
}

/* Raise id on the session and, when t is not NULL, mark it on t. */
static void raise_anom(struct sess *s, struct txn_impl *t, enum anom_id id)
{
	anom_raise(&s->pub.anoms, id);
	if (t)
		anom_mark(&t->pub.anoms, id);
}

static void emit_event(struct sess *s, enum event_type type, uint64_t ts,
                       const struct smtp_line *line, const struct smtp_reply *reply,
                       const struct smtp_txn *txn)
{
	if (!s->bus)
		return;
	struct event ev = {
		.type = type, .ts_us = ts, .flow = s->pub.flow, .sess = &s->pub,
		.line = line, .reply = reply, .txn = txn,
	};
	event_bus_emit(s->bus, &ev);
}

static const struct smtp_msg_hooks *hooks(struct sess *s) { return s->cfg.msg; }

const struct auth_attempt *smtp_session_auth(const struct smtp_session *s)
{
	for (size_t i = s->n_auth; i > 0; i--)
		if (s->auth[i - 1].result == AUTH_RESULT_SUCCESS)
			return &s->auth[i - 1];
	return s->n_auth ? &s->auth[s->n_auth - 1] : NULL;
}

/* ------------------------------------------------------------------ */
/* 2. transactions and the pending queue                              */

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
static void txn_emit(struct sess *s, struct txn_impl *t, uint64_t ts)
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
static void txn_detach(struct sess *s, struct txn_impl *t, enum smtp_txn_end end, uint64_t ts)
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

static struct txn_impl *txn_current(struct sess *s, uint64_t ts)
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
static struct pending *pend_push(struct sess *s, enum pend_kind kind, enum smtp_verb verb,
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
static void pend_drop_preamble(struct sess *s, uint64_t ts)
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

/* ------------------------------------------------------------------ */
/* 3. client side                                                     */

static void client_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts);
static int reply_code_parse(const uint8_t *p, size_t n, char *sep);

/* Take bytes from p up to and including the first LF into lb (capped at
 * cap). Returns the number of bytes consumed; sets *got when a line is
 * complete (out then points into p or lb->buf; call line_done after). */
static size_t line_take(struct linebuf *lb, size_t cap, const uint8_t *p, size_t n,
                        struct rawline *out, bool *got)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t take = lf ? (size_t)(lf - p) + 1 : n;
	size_t body = lf ? take - 1 : n;
	*got = false;
	if (lb->skip) { /* resynchronising after a gap */
		if (lf) {
			lb->skip = false;
			lb->last_cr = false;
		}
		return take;
	}
	bool cr_end = body ? p[body - 1] == '\r' : lb->last_cr;
	if (lb->buf.len == 0 && !lb->truncated && lf && body <= cap) {
		out->p = p;
		out->n = body;
		out->truncated = false;
	} else {
		size_t room = lb->buf.len < cap ? cap - lb->buf.len : 0;
		size_t add = body < room ? body : room;
		sbuf_add(&lb->buf, p, add);
		if (add < body)
			lb->truncated = true;
		if (body)
			lb->last_cr = p[body - 1] == '\r';
		if (!lf)
			return take;
		out->p = (const uint8_t *)lb->buf.buf;
		out->n = lb->buf.len;
		out->truncated = lb->truncated;
		if (!out->p)
			out->p = (const uint8_t *)"";
	}
	out->bare_lf = !cr_end;
	out->unterminated = false;
	if (cr_end && !out->truncated && out->n)
		out->n--; /* strip the CR of CRLF */
	*got = true;
	return take;
}

static void line_done(struct linebuf *lb)
{
	sbuf_clear(&lb->buf);
	lb->truncated = false;
	lb->last_cr = false;
}

/* Bare CR inside a line (not the CR of CRLF). */
static bool line_has_cr(const struct rawline *l)
{
	return memchr(l->p, '\r', l->n) != NULL;
}

/* The command being handled: the line event plus parse results. */
struct cmd {
	struct smtp_line line;        /* EV_CLIENT payload */
	const struct rawline *raw;    /* the line */
	uint64_t ts;                  /* its time */
	bool emitted;                 /* EV_CLIENT sent */
};

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
	if (n - i >= k && eq_ci(p + i, k, kw)) {
		i += k;
	} else if (n - i >= k - 1 && eq_ci(p + i, k - 1, "FROM") && k == 5) {
		i += 4; /* "MAIL FROM <a>" without the colon */
		ok = false;
	} else if (n - i >= k - 1 && eq_ci(p + i, k - 1, "TO") && k == 3) {
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
		if (eq_ci(k, kn, "SIZE")) { /* RFC 1870 §6 */
			if (v && parse_u64(v, vn, UINT64_MAX, &mp->size))
				mp->has_size = true;
			else
				raise_anom(s, t, ANOM_SMTP_INVALID_PARAM);
		} else if (eq_ci(k, kn, "BODY") && v && !mp->body) { /* RFC 6152, RFC 3030 */
			mp->body = dup_cap(v, vn, SMTP_PARAM_MAX);
		} else if (eq_ci(k, kn, "SMTPUTF8")) { /* RFC 6531 §3.4 */
			mp->smtputf8 = true;
		} else if (eq_ci(k, kn, "AUTH") && v && !mp->auth) { /* RFC 4954 §5 */
			mp->auth = dup_cap(v, vn, SMTP_PARAM_MAX);
		} else if (eq_ci(k, kn, "RET") && v && !mp->ret) { /* RFC 3461 §4.3 */
			mp->ret = dup_cap(v, vn, SMTP_PARAM_MAX);
		} else if (eq_ci(k, kn, "ENVID") && v && !mp->envid) { /* RFC 3461 §4.4 */
			mp->envid = dup_cap(v, vn, SMTP_PARAM_MAX);
		} else if (eq_ci(k, kn, "REQUIRETLS")) { /* RFC 8689 */
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
			if (eq_ci(k, kn, "NOTIFY") && v && !r->notify) /* RFC 3461 §4.1 */
				r->notify = dup_cap(v, vn, SMTP_PARAM_MAX);
			else if (eq_ci(k, kn, "ORCPT") && v && !r->orcpt) /* RFC 3461 §4.2 */
				r->orcpt = dup_cap(v, vn, SMTP_PARAM_MAX);
		}
	} else if (!t->rcpt_cap_warned) {
		t->rcpt_cap_warned = true;
		raise_anom(s, t, ANOM_SMTP_TOO_MANY_RCPTS);
	}
	struct pending *e = pend_push(s, PEND_CMD, SMTP_VERB_RCPT, t, c->ts);
	e->rcpt_idx = idx;
}

/* --- message content --------------------------------------------------- */

static void msg_begin(struct sess *s, struct txn_impl *t)
{
	if (t->pub.msg_started)
		return;
	t->pub.msg_started = true;
	if (hooks(s) && hooks(s)->begin)
		hooks(s)->begin(hooks(s)->user, &t->pub);
}

/* Message bytes p[0..n) of the current transaction (already unstuffed). */
static void body_out(struct sess *s, const uint8_t *p, size_t n, uint64_t ts)
{
	if (!n)
		return;
	struct txn_impl *t = txn_current(s, ts);
	msg_begin(s, t);
	t->pub.msg_bytes += n;
	if (hooks(s) && hooks(s)->data)
		hooks(s)->data(hooks(s)->user, &t->pub, p, n);
	struct smtp_line ln = {
		.kind = SMTP_LINE_BODY, .p = p, .n = n, .secret_off = n, .label = "body",
		.bol = s->body_bol, .ts_us = ts,
	};
	emit_event(s, EV_CLIENT, ts, &ln, NULL, NULL);
	s->body_bol = p[n - 1] == '\n';
}

/* The message of the current transaction is over (complete or not): end
 * hook, summary line, EOD pending entry (DATA), detach. */
static void msg_finish(struct sess *s, bool complete, bool push_eod, uint64_t ts)
{
	struct txn_impl *t = txn_current(s, ts);
	msg_begin(s, t);
	t->pub.msg_complete = complete;
	if (!complete)
		raise_anom(s, t, ANOM_SMTP_DATA_INCOMPLETE);
	if (hooks(s) && hooks(s)->end)
		hooks(s)->end(hooks(s)->user, &t->pub);
	struct smtp_line ln = {
		.kind = SMTP_LINE_MESSAGE, .secret_off = 0, .label = complete ? "message" : "message (incomplete)",
		.msg_bytes = t->pub.msg_bytes, .msg_lines = t->pub.msg_lines, .ts_us = ts,
	};
	emit_event(s, EV_CLIENT, ts, &ln, NULL, NULL);
	if (push_eod && s->pub.helo_verb == SMTP_VERB_LHLO) {
		/* RFC 2033 §4.2: one reply per recipient whose RCPT succeeded, in
		 * RCPT order (an unanswered RCPT counts: its reply may be lost). */
		size_t k = 0;
		for (size_t i = 0; i < t->pub.n_rcpts; i++)
			if (t->pub.rcpts[i].reply == 0 || t->pub.rcpts[i].reply / 100 == 2) {
				pend_push(s, PEND_EOD, SMTP_VERB_DATA, t, ts)->rcpt_idx = i;
				k++;
			}
		if (!k)
			pend_push(s, PEND_EOD, SMTP_VERB_DATA, t, ts);
	} else if (push_eod) {
		pend_push(s, PEND_EOD, SMTP_VERB_DATA, t, ts);
	}
	txn_detach(s, t, SMTP_TXN_END_MESSAGE, ts);
}

/* Enter data mode for the current transaction (354 seen, or forced). */
static void data_start(struct sess *s, uint64_t ts)
{
	struct txn_impl *t = txn_current(s, ts);
	t->pub.xfer = SMTP_XFER_DATA;
	msg_begin(s, t);
	s->ds = DS_BOL;
	s->prev_cr = false;
	s->eol_crlf = true;
	s->body_bol = true;
	enter_state(s, SMTP_ST_DATA);
}

static void data_bare_lf(struct sess *s)
{
	struct txn_impl *t = s->cur;
	if (t && !t->bare_lf_warned) {
		t->bare_lf_warned = true;
		raise_anom(s, t, ANOM_SMTP_BARE_LF_IN_DATA);
	}
}

static void data_bare_cr(struct sess *s)
{
	struct txn_impl *t = s->cur;
	if (t && !t->bare_cr_warned) {
		t->bare_cr_warned = true;
		raise_anom(s, t, ANOM_SMTP_BARE_CR_IN_DATA);
	}
}

/* The hot loop of data_feed: in DS_TEXT (prev_cr clear), jump from line end
 * to line end; only the bytes around a CR or LF are looked at one by one.
 * Returns where it stopped: the end of p, a bare CR (prev_cr set), or the
 * start of a line that begins with "." or lies beyond p (ds = DS_BOL).
 *
 * TEXT_LINE: one line end (the body of the per-line loop). */
#define TEXT_LINE(SCAN)                                                              \
	do {                                                                         \
		size_t j = i + SCAN(p + i, n - i);                                   \
		if (j >= n)                                                          \
			return n;                                                    \
		if (p[j] == '\r') {                                                  \
			if (j + 1 >= n || p[j + 1] != '\n') { /* CR at the end, or bare CR */ \
				s->prev_cr = true;                                   \
				return j + 1;                                        \
			}                                                            \
			s->eol_crlf = true; /* CRLF */                               \
			i = j + 2;                                                   \
		} else { /* bare LF */                                               \
			data_bare_lf(s);                                             \
			s->eol_crlf = false;                                         \
			i = j + 1;                                                   \
		}                                                                    \
		if (i >= n || p[i] == '.') {                                         \
			s->ds = DS_BOL;                                              \
			return i;                                                    \
		}                                                                    \
		t->pub.msg_lines++; /* a new line, not starting with "." */          \
	} while (0)

/* With SIMD: 64 bytes at a time. A block where every CR is followed by an LF
 * and every LF preceded by a CR, no line starts with ".", and the last byte
 * is not a CR, only adds its line count; any other block goes through
 * TEXT_LINE until past it. MASKS(q, &cr, &lf, &dot) sets one bit per byte. */
#define TEXT_RUN_BLOCKS(MASKS, SCAN)                                                 \
	for (;;) {                                                                   \
		while (i + 129 <= n) { /* two blocks as one 128-bit run */           \
			uint64_t cr0, lf0, dot0, cr1, lf1, dot1;                     \
			MASKS(p + i, &cr0, &lf0, &dot0);                             \
			MASKS(p + i + 64, &cr1, &lf1, &dot1);                        \
			if ((cr1 >> 63) || (cr0 << 1) != lf0 ||                      \
			    (cr1 << 1 | cr0 >> 63) != lf1 || ((lf0 << 1) & dot0) ||  \
			    ((lf1 << 1 | lf0 >> 63) & dot1) ||                       \
			    ((lf1 >> 63) && p[i + 128] == '.'))                      \
				break;                                               \
			uint64_t nl = (uint64_t)__builtin_popcountll(lf0) +         \
			              (uint64_t)__builtin_popcountll(lf1);           \
			if (nl) {                                                    \
				t->pub.msg_lines += nl;                              \
				s->eol_crlf = true;                                  \
			}                                                            \
			i += 128;                                                    \
		}                                                                    \
		while (i + 65 <= n) {                                                \
			uint64_t cr, lf, dot;                                        \
			MASKS(p + i, &cr, &lf, &dot);                                \
			if ((cr >> 63) || (cr << 1) != lf || ((lf << 1) & dot) ||    \
			    ((lf >> 63) && p[i + 64] == '.'))                        \
				break;                                               \
			if (lf) {                                                    \
				t->pub.msg_lines += (uint64_t)__builtin_popcountll(lf); \
				s->eol_crlf = true;                                  \
			}                                                            \
			i += 64;                                                     \
		}                                                                    \
		size_t stop = i + 64;                                                \
		do                                                                   \
			TEXT_LINE(SCAN);                                             \
		while (i < stop);                                                    \
	}

static size_t text_run_base(struct sess *s, struct txn_impl *t, const uint8_t *p, size_t i, size_t n)
{
	for (;;)
		TEXT_LINE(scan_crlf);
}

#if SMTP_HAVE_AVX2
__attribute__((target("avx2"))) static inline size_t scan_crlf_avx2(const uint8_t *p, size_t n)
{
	size_t i = 0;
	const __m256i cr = _mm256_set1_epi8('\r'), lf = _mm256_set1_epi8('\n');
	for (; i + 32 <= n; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
		unsigned m = (unsigned)_mm256_movemask_epi8(
			_mm256_or_si256(_mm256_cmpeq_epi8(v, cr), _mm256_cmpeq_epi8(v, lf)));
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
	return i + scan_crlf(p + i, n - i);
}

__attribute__((target("avx2"))) static inline void masks_avx2(const uint8_t *q, uint64_t *cr, uint64_t *lf,
                                                              uint64_t *dot)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)q);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32));
	const __m256i vcr = _mm256_set1_epi8('\r'), vlf = _mm256_set1_epi8('\n'), vdot = _mm256_set1_epi8('.');
#define M2(v) ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, v)) | \
	       (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, v)) << 32)
	*cr = M2(vcr);
	*lf = M2(vlf);
	*dot = M2(vdot);
#undef M2
}

__attribute__((target("avx2"))) static size_t text_run_avx2(struct sess *s, struct txn_impl *t,
                                                          const uint8_t *p, size_t i, size_t n)
{
	TEXT_RUN_BLOCKS(masks_avx2, scan_crlf_avx2)
}

__attribute__((target("avx512f,avx512bw"))) static inline void masks_avx512(const uint8_t *q, uint64_t *cr,
                                                                           uint64_t *lf, uint64_t *dot)
{
	__m512i v = _mm512_loadu_si512((const void *)q);
	*cr = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r'));
	*lf = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n'));
	*dot = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('.'));
}

__attribute__((target("avx2,avx512f,avx512bw"))) static size_t text_run_avx512(struct sess *s, struct txn_impl *t,
                                                                             const uint8_t *p, size_t i, size_t n)
{
	TEXT_RUN_BLOCKS(masks_avx512, scan_crlf_avx2)
}
#endif

static size_t text_run(struct sess *s, struct txn_impl *t, const uint8_t *p, size_t i, size_t n)
{
#if SMTP_HAVE_AVX2
	static int simd = -1; /* decided once: the CPU does not change (2 AVX-512BW, 1 AVX2, 0 none) */
	if (simd < 0) {
		__builtin_cpu_init();
		simd = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f") ? 2
		     : __builtin_cpu_supports("avx2")                                          ? 1
		                                                                               : 0;
		const char *e = getenv("SMTPSCOPE_SIMD"); /* tests: force a narrower path */
		if (e && *e >= '0' && *e < '0' + simd)
			simd = *e - '0';
	}
	if (simd == 2)
		return text_run_avx512(s, t, p, i, n);
	if (simd == 1)
		return text_run_avx2(s, t, p, i, n);
#endif
	return text_run_base(s, t, p, i, n);
}

/* DATA content (RFC 5321 §4.1.1.4, §4.5.2): unstuff leading dots, stream
 * the message, stop at the end-of-data line. Returns bytes consumed; the
 * state is COMMAND again when the end was found. A "." line ends the data
 * whether its line endings are CRLF or bare LF (servers such as Postfix
 * accept both); anything but CRLF.CRLF raises smtp_nonstandard_eod. A "."
 * bounded by bare CR is not an end (smtp_eod_like_sequence). */
static bool starts_with_verb(const uint8_t *p, size_t n);

/* After a gap in DATA, p[0] == '.': is this the end-of-data line
 * (RFC 5321 §4.1.1.4) rather than a dot inside a line whose start was lost?
 * Taken as the end when ".\r\n" ends the delivered bytes (the client then
 * waits for the reply) or is followed by a command verb; ".", ".\r" at the
 * end of the bytes are given the benefit of the doubt (DS_DOT decides on the
 * next byte). Anything else is message text. */
static bool gap_dot_is_eod(const uint8_t *p, size_t n)
{
	if (n == 1 || (n == 2 && p[1] == '\r'))
		return true;
	if (n < 3 || p[1] != '\r' || p[2] != '\n')
		return false;
	return n == 3 || starts_with_verb(p + 3, n - 3);
}

static size_t data_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts)
{
	size_t i = 0, run = 0;
	struct txn_impl *t = txn_current(s, ts);
	while (i < n) {
		uint8_t c = p[i];
		switch (s->ds) {
		case DS_BOL:
			if (c == '.') {
				body_out(s, p + run, i - run, ts);
				s->ds = DS_DOT;
				i++;
				run = i;
				continue;
			}
			t->pub.msg_lines++;
			s->ds = DS_TEXT;
			continue;
		case DS_TEXT: {
			if (s->prev_cr) {
				s->prev_cr = false;
				if (c == '\n') {
					s->eol_crlf = true;
					s->ds = DS_BOL;
					i++;
					continue;
				}
				data_bare_cr(s);
				if (c == '.') {
					s->ds = DS_CRDOT;
					i++;
					continue;
				}
			}
			i = text_run(s, t, p, i, n);
			continue;
		}
		case DS_GAP:
			if (c == '\n') { /* its CR was lost in the gap: not a bare LF */
				s->eol_crlf = true;
				s->ds = DS_BOL;
				i++;
				continue;
			}
			if (c == '.' && gap_dot_is_eod(p + i, n - i)) {
				body_out(s, p + run, i - run, ts);
				s->eol_crlf = true;
				s->ds = DS_DOT;
				i++;
				run = i;
				continue;
			}
			s->ds = DS_TEXT;
			continue;
		case DS_CRDOT:
			if (c == '\r' || c == '\n')
				raise_anom(s, t, ANOM_SMTP_EOD_LIKE_SEQUENCE);
			s->ds = DS_TEXT;
			continue;
		case DS_DOT:
			if (c == '\r') {
				s->ds = DS_DOT_CR;
				i++;
				run = i; /* the CR is emitted later unless this is the end */
				continue;
			}
			if (c == '\n') { /* ".\n": LF.LF or CRLF.LF */
				raise_anom(s, t, ANOM_SMTP_NONSTANDARD_EOD);
				data_bare_lf(s);
				msg_finish(s, true, true, ts);
				enter_state(s, SMTP_ST_COMMAND);
				return i + 1;
			}
			t->pub.msg_lines++; /* a dot-stuffed line: the dot is dropped */
			s->ds = DS_TEXT;
			continue;
		case DS_DOT_CR:
			if (c == '\n') { /* ".\r\n" */
				if (!s->eol_crlf)
					raise_anom(s, t, ANOM_SMTP_NONSTANDARD_EOD);
				msg_finish(s, true, true, ts);
				enter_state(s, SMTP_ST_COMMAND);
				return i + 1;
			}
			/* ".\r" then something else: a "." line ended by a bare CR */
			raise_anom(s, t, ANOM_SMTP_EOD_LIKE_SEQUENCE);
			t->pub.msg_lines++;
			body_out(s, (const uint8_t *)"\r", 1, ts);
			run = i;
			s->ds = DS_TEXT;
			s->prev_cr = true;
			continue;
		}
	}
	body_out(s, p + run, n - run, ts); /* a pending "." or ".\r" is not included */
	return n;
}

/* BDAT chunk octets (RFC 3030 §2): exactly bdat_left bytes, no stuffing. */
static size_t bdat_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts)
{
	size_t take = n < s->bdat_left ? n : (size_t)s->bdat_left;
	struct txn_impl *t = txn_current(s, ts);
	t->pub.msg_lines += count_lf(p, take);
	body_out(s, p, take, ts);
	s->bdat_left -= take;
	if (s->bdat_left == 0) {
		enter_state(s, SMTP_ST_COMMAND);
		if (s->bdat_last)
			msg_finish(s, true, false, ts);
	}
	return take;
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
	if (ok && i > d && n - i >= 4 && eq_ci(p + i, 4, "LAST")) {
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

/* RFC 4468: BURL url [LAST] — content fetched by the server, none on the wire. */
static void cmd_burl(struct sess *s, struct cmd *c)
{
	struct txn_impl *t = txn_current(s, c->ts);
	const uint8_t *p = c->line.arg;
	size_t n = c->line.arg_n;
	while (n && is_sp(p[n - 1]))
		n--;
	bool last = n >= 4 && eq_ci(p + n - 4, 4, "LAST") && (n == 4 || is_sp(p[n - 5]));
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

static void cmd_rset(struct sess *s, struct cmd *c)
{
	struct txn_impl *t = s->cur;
	cmd_emit(s, c);
	pend_push(s, PEND_CMD, SMTP_VERB_RSET, t, c->ts);
	txn_detach(s, t, SMTP_TXN_END_RSET, c->ts);
}

static void cmd_starttls(struct sess *s, struct cmd *c)
{
	struct pending *e = pend_push(s, PEND_CMD, SMTP_VERB_STARTTLS, s->cur, c->ts);
	e->reset_txn = s->cur ? s->cur->pub.seq : 0; /* RFC 3207 §4.2 */
	s->wait_seq = e->seq;
	s->forced = false;
	enter_state(s, SMTP_ST_WAIT_TLS);
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

/* --- command dispatch ----------------------------------------------------- */

typedef void (*cmd_handler)(struct sess *, struct cmd *);

/* {name, verb, handler}, ending in a sentinel (OpenSMTPD style). */
static const struct {
	const char *name;
	enum smtp_verb verb;
	cmd_handler handler;
	uint8_t len; /* strlen(name) */
} cmd_table[] = {
	{ "HELO", SMTP_VERB_HELO, cmd_helo, sizeof "HELO" - 1 },
	{ "EHLO", SMTP_VERB_EHLO, cmd_helo, sizeof "EHLO" - 1 },
	{ "LHLO", SMTP_VERB_LHLO, cmd_helo, sizeof "LHLO" - 1 },
	{ "MAIL", SMTP_VERB_MAIL, cmd_mail, sizeof "MAIL" - 1 },
	{ "RCPT", SMTP_VERB_RCPT, cmd_rcpt, sizeof "RCPT" - 1 },
	{ "DATA", SMTP_VERB_DATA, cmd_data, sizeof "DATA" - 1 },
	{ "BDAT", SMTP_VERB_BDAT, cmd_bdat, sizeof "BDAT" - 1 },
	{ "RSET", SMTP_VERB_RSET, cmd_rset, sizeof "RSET" - 1 },
	{ "VRFY", SMTP_VERB_VRFY, cmd_other, sizeof "VRFY" - 1 },
	{ "EXPN", SMTP_VERB_EXPN, cmd_other, sizeof "EXPN" - 1 },
	{ "HELP", SMTP_VERB_HELP, cmd_other, sizeof "HELP" - 1 },
	{ "NOOP", SMTP_VERB_NOOP, cmd_other, sizeof "NOOP" - 1 },
	{ "QUIT", SMTP_VERB_QUIT, cmd_quit, sizeof "QUIT" - 1 },
	{ "STARTTLS", SMTP_VERB_STARTTLS, cmd_starttls, sizeof "STARTTLS" - 1 },
	{ "AUTH", SMTP_VERB_AUTH, cmd_auth, sizeof "AUTH" - 1 },
	{ "ETRN", SMTP_VERB_ETRN, cmd_other, sizeof "ETRN" - 1 },
	{ "BURL", SMTP_VERB_BURL, cmd_burl, sizeof "BURL" - 1 },
	{ "XCLIENT", SMTP_VERB_XCLIENT, cmd_other, sizeof "XCLIENT" - 1 },
	{ "XFORWARD", SMTP_VERB_XFORWARD, cmd_other, sizeof "XFORWARD" - 1 },
	{ NULL, SMTP_VERB_UNKNOWN, cmd_other, 0 },
};

/* The verb (up to the first space) of line l, and the argument after it. */
static size_t cmd_lookup(const struct rawline *l, size_t *arg_off)
{
	size_t v = 0;
	while (v < l->n && !is_sp(l->p[v]))
		v++;
	*arg_off = skip_sp(l->p, l->n, v);
	size_t i;
	for (i = 0; cmd_table[i].name; i++)
		if (eq_ci_n(l->p, v, cmd_table[i].name, cmd_table[i].len))
			break;
	return i;
}

static void line_anoms(struct sess *s, const struct rawline *l, bool server)
{
	if (l->truncated)
		raise_anom(s, server ? NULL : s->cur,
		           server ? ANOM_SMTP_REPLY_LINE_TOO_LONG : ANOM_SMTP_LINE_TOO_LONG);
	if (l->bare_lf && !l->unterminated)
		raise_anom(s, NULL, ANOM_SMTP_BARE_LF);
	if (l->unterminated)
		raise_anom(s, NULL, ANOM_SMTP_UNTERMINATED_LINE);
	if (line_has_cr(l))
		raise_anom(s, NULL, ANOM_SMTP_BARE_CR);
}

static void reply_finish(struct sess *s, uint64_t ts);

static void client_command(struct sess *s, const struct rawline *l, uint64_t ts)
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
	size_t i = cmd_lookup(l, &arg_off);
	struct cmd c = {
		.raw = l, .ts = ts,
		.line = {
			.kind = SMTP_LINE_COMMAND, .verb = cmd_table[i].verb, .p = l->p, .n = l->n,
			.secret_off = l->n, .arg = l->p + arg_off, .arg_n = l->n - arg_off,
			.label = smtp_verb_str(cmd_table[i].verb), .truncated = l->truncated,
			.bare_lf = l->bare_lf, .ts_us = ts,
		},
	};
	if (s->mid_body) {
		if (cmd_table[i].verb != SMTP_VERB_UNKNOWN) {
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
	if (s->pub.starttls_refused && !s->pub.tls && cmd_table[i].verb != SMTP_VERB_QUIT &&
	    cmd_table[i].verb != SMTP_VERB_STARTTLS && cmd_table[i].verb != SMTP_VERB_RSET &&
	    cmd_table[i].verb != SMTP_VERB_NOOP)
		s->pub.starttls_refused_continued = true;
	cmd_table[i].handler(s, &c);
	cmd_emit(s, &c);
}

/* A known verb at the start of the line (used only when replies are
 * missing, to tell an AUTH response from a command). */
static bool looks_like_command(const struct rawline *l)
{
	size_t arg_off;
	return cmd_table[cmd_lookup(l, &arg_off)].name != NULL;
}

/* p starts with a known verb followed by SP, CR or LF (or the end of p):
 * after a gap, such bytes are taken as the start of a line, not skipped. */
static bool starts_with_verb(const uint8_t *p, size_t n)
{
	size_t v = 0;
	while (v < n && v < 10 && p[v] != ' ' && p[v] != '\r' && p[v] != '\n')
		v++;
	if (v == n && n < 4)
		return false;
	for (size_t i = 0; cmd_table[i].name; i++)
		if (eq_ci_n(p, v, cmd_table[i].name, cmd_table[i].len))
			return true;
	return false;
}

/* The same for a reply line: "ddd" then SP, "-", CR or LF. */
static bool starts_with_code(const uint8_t *p, size_t n)
{
	char sep;
	size_t k = n < 4 ? n : 4;
	while (k > 3 && (p[k - 1] == '\r' || p[k - 1] == '\n'))
		k--;
	return n >= 3 && reply_code_parse(p, k, &sep) != 0;
}

/* After a gap: keep the next bytes if they look like the start of a line. */
static void gap_resync(struct linebuf *lb, const uint8_t *p, size_t n, bool server)
{
	if (!lb->skip || !lb->gap_fresh)
		return;
	lb->gap_fresh = false;
	if (server ? starts_with_code(p, n) : starts_with_verb(p, n))
		lb->skip = false;
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
static void hold_release(struct sess *s)
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
static void client_force(struct sess *s, uint64_t ts)
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

static bool state_is_wait(enum smtp_state st)
{
	return st == SMTP_ST_WAIT_DATA || st == SMTP_ST_WAIT_AUTH || st == SMTP_ST_WAIT_TLS;
}

static void tls_line(struct sess *s, uint64_t ts)
{
	struct smtp_line ln = { .kind = SMTP_LINE_TLS, .label = "TLS", .ts_us = ts };
	emit_event(s, EV_CLIENT, ts, &ln, NULL, NULL);
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
	} else if (isalpha((unsigned char)p[0])) {
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

/* ------------------------------------------------------------------ */
/* 4. server side                                                     */

/* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39, then SP, "-" or the
 * end of the line. Returns the code or 0. */
static int reply_code_parse(const uint8_t *p, size_t n, char *sep)
{
	if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' || p[2] < '0' || p[2] > '9')
		return 0;
	if (n > 3 && p[3] != ' ' && p[3] != '-')
		return 0;
	*sep = n > 3 ? (char)p[3] : ' ';
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* RFC 3463 §2: class "." subject "." detail, class 2/4/5, 1-3 digits each.
 * Returns the length parsed (0 if none); copies it to out. */
static size_t enhanced_parse(const uint8_t *p, size_t n, char out[16])
{
	size_t i = 0;
	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;
		while (i < n && d < 4 && p[i] >= '0' && p[i] <= '9') {
			i++;
			d++;
		}
		if (d == 0 || d > 3)
			return 0;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && !is_sp(p[i]))
		return 0;
	memcpy(out, p, i);
	out[i] = '\0';
	return i;
}

static void reply_reset(struct sess *s)
{
	s->in_reply = false;
	s->rcode = 0;
	sbuf_clear(&s->rbytes);
	s->rn = s->rn_total = 0;
	s->rtrunc = false;
	s->renh[0] = '\0';
	s->rtext_off = s->rtext_n = 0;
}

static void reply_store(struct sess *s, const struct rawline *l)
{
	s->rn_total++;
	if (s->rn >= SMTP_REPLY_LINES_MAX) {
		if (s->rn_total == SMTP_REPLY_LINES_MAX + 1)
			raise_anom(s, NULL, ANOM_SMTP_REPLY_TOO_LONG);
		return;
	}
	s->roff[s->rn] = s->rbytes.len;
	s->rlen[s->rn] = l->n;
	s->rn++;
	sbuf_add(&s->rbytes, l->p, l->n);
	if (l->truncated)
		s->rtrunc = true;
	/* text of this line after "ddd " and the enhanced code */
	size_t t = l->n >= 4 ? 4 : l->n;
	s->renh[0] = '\0';
	if (s->rcode) {
		size_t e = enhanced_parse(l->p + t, l->n - t, s->renh);
		if (e)
			t = skip_sp(l->p, l->n, t + e);
	}
	s->rtext_off = s->roff[s->rn - 1] + t;
	s->rtext_n = l->n - t;
}

/* An EHLO reply line "250-KEYWORD params" (RFC 5321 §4.1.1.1): *p, *m the
 * text after the code and separator; returns the keyword's length (up to a
 * space or '='). */
static size_t cap_keyword(const struct smtp_reply_line *l, const uint8_t **p, size_t *m)
{
	*p = l->p + (l->n >= 4 ? 4 : l->n);
	*m = l->n >= 4 ? l->n - 4 : 0;
	size_t k = 0;
	while (k < *m && !is_sp((*p)[k]) && (*p)[k] != '=')
		k++;
	return k;
}

/* A keyword an inspecting middlebox masked (Cisco's ESMTP inspection
 * writes "XXXXXXXA" over STARTTLS): only X and A, at least one X. */
static bool cap_masked(const uint8_t *p, size_t k)
{
	bool x = false;
	for (size_t i = 0; i < k; i++) {
		if (p[i] != 'X' && p[i] != 'A')
			return false;
		x |= p[i] == 'X';
	}
	return x;
}

/* Parse EHLO/LHLO reply lines 2..n (RFC 5321 §4.1.1.1: ehlo-line). */
static void caps_parse(struct sess *s, const struct smtp_reply_line *lines, size_t n)
{
	struct smtp_caps *c = &s->pub.caps;
	memset(c, 0, sizeof *c);
	c->seen = true;
	for (size_t i = 1; i < n; i++) {
		const uint8_t *p;
		size_t m, k = cap_keyword(&lines[i], &p, &m);
		if (k == sizeof "STARTTLS" - 1 && cap_masked(p, k))
			s->pub.starttls_masked = true;
		for (size_t j = 0; cap_table[j].name; j++) {
			if (!eq_ci_n(p, k, cap_table[j].name, cap_table[j].len))
				continue;
			c->flags |= cap_table[j].flag;
			size_t a = skip_sp(p, m, k + (k < m && p[k] == '=' ? 1 : 0));
			if (cap_table[j].flag == SMTP_CAP_SIZE) {
				size_t e = a;
				while (e < m && p[e] >= '0' && p[e] <= '9')
					e++;
				parse_u64(p + a, e - a, UINT64_MAX, &c->size);
			} else if (cap_table[j].flag == SMTP_CAP_AUTH) {
				/* "AUTH LOGIN PLAIN" (and the old "AUTH=LOGIN"; Postfix's
				 * broken_sasl_auth_clients sends both): each mechanism once,
				 * uppercased, separated by one space. */
				size_t x = a;
				while (x < m) {
					while (x < m && (is_sp(p[x]) || p[x] < 0x20 || p[x] >= 0x7f))
						x++;
					char tok[sizeof c->auth];
					size_t tl = 0;
					for (; x < m && !is_sp(p[x]); x++)
						if (p[x] >= 0x20 && p[x] < 0x7f && tl + 1 < sizeof tok)
							tok[tl++] = (char)toupper(p[x]);
					tok[tl] = '\0';
					if (!tl)
						continue;
					size_t o = strlen(c->auth);
					bool dup = false;
					for (const char *q = c->auth; *q;) {
						size_t ql = strcspn(q, " ");
						if (ql == tl && memcmp(q, tok, tl) == 0)
							dup = true;
						q += ql;
						while (*q == ' ')
							q++;
					}
					if (dup || o + (o ? 1 : 0) + tl >= sizeof c->auth)
						continue;
					if (o)
						c->auth[o++] = ' ';
					memcpy(c->auth + o, tok, tl + 1);
				}
			}
		}
	}
}

static const char *class_word(int code)
{
	switch (code / 100) {
	case 2: return "ok";
	case 3: return "continue";
	case 4: return "tempfail";
	case 5: return "rejected";
	}
	return "invalid";
}

/* Apply a reply's consequences to the command it answers. */
static void reply_effects(struct sess *s, struct pending *e, const struct smtp_reply *r,
                          uint64_t ts)
{
	struct txn_impl *t = e->txn;
	int code = r->code;
	if (t) {
		if (r->n_lines) { /* the buffer is reused: one allocation per txn, not per reply */
			const struct smtp_reply_line *ll = &r->lines[r->n_lines - 1];
			size_t m = ll->n > SMTP_PARAM_MAX ? SMTP_PARAM_MAX : ll->n;
			if (!t->pub.last_reply || m + 1 > t->last_reply_cap) {
				size_t c = m + 1 < 64 ? 64 : m + 1;
				free(t->pub.last_reply);
				t->pub.last_reply = xmalloc(c);
				t->last_reply_cap = c;
			}
			memcpy(t->pub.last_reply, ll->p, m);
			t->pub.last_reply[m] = '\0';
		} else {
			free(t->pub.last_reply);
			t->pub.last_reply = NULL;
			t->last_reply_cap = 0;
		}
		if (ts > t->pub.end_ts_us)
			t->pub.end_ts_us = ts;
	}
	if (e->kind == PEND_EOD) {
		if (t) {
			t->pub.final_reply = code;
			if (e->rcpt_idx < t->pub.n_rcpts) { /* LMTP */
				struct smtp_rcpt *rc = &t->pub.rcpts[e->rcpt_idx];
				rc->delivery = code;
				free(rc->delivery_text);
				rc->delivery_text = code >= 400 ? dup_cap(r->text, r->text_n, SMTP_PARAM_MAX) : NULL;
			}
		}
		return;
	}
	if (e->kind == PEND_AUTH_RESP || e->verb == SMTP_VERB_AUTH) {
		struct auth_attempt *a = e->auth;
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
		return;
	}
	switch (e->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
	case SMTP_VERB_LHLO:
		if (code / 100 == 2) {
			if (e->verb != SMTP_VERB_HELO)
				caps_parse(s, r->lines, r->n_lines);
			if (e->reset_txn && s->cur && s->cur->pub.seq == e->reset_txn)
				txn_detach(s, s->cur, SMTP_TXN_END_HELO, ts);
		}
		break;
	case SMTP_VERB_MAIL:
		if (t && e->nested) {
			if (code / 100 == 2 && t->nested_from) { /* a lenient server restarted the envelope */
				free(t->pub.mail_from);
				t->pub.mail_from_n = strlen(t->nested_from);
				t->pub.mail_from = t->nested_from;
				t->nested_from = NULL;
			}
		} else if (t) {
			t->pub.mail_reply = code;
		}
		break;
	case SMTP_VERB_RCPT:
		if (t) {
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
		break;
	case SMTP_VERB_DATA: {
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
		break;
	}
	case SMTP_VERB_BDAT:
	case SMTP_VERB_BURL:
		if (t) {
			if (e->bdat_last)
				t->pub.final_reply = code;
			if (e->bdat_last || (code >= 400 && !t->pub.data_reply))
				t->pub.data_reply = code;
		}
		break;
	case SMTP_VERB_STARTTLS: {
		bool waiting = s->pub.state == SMTP_ST_WAIT_TLS && s->wait_seq == e->seq;
		if (code == 220) {
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
			if ((code == 454 || code >= 500) && (s->pub.caps.flags & SMTP_CAP_STARTTLS) && !s->pub.tls)
				s->pub.starttls_refused = code; /* starttls_stripped if the client goes on */
			if (waiting) {
				s->forced = false;
				enter_state(s, SMTP_ST_COMMAND);
				hold_release(s);
			}
		}
		break;
	}
	default:
		break;
	}
}

/* A complete reply: pair it, emit EV_REPLY, apply its effects. */
/* What a reply can answer (RFC 5321 §4.2-4.3, RFC 3463, RFC 4954, RFC 3207):
 * false only when the reply cannot be the answer to e, so that a lost reply
 * can be recognised. Codes that answer one command only: 354 DATA, 334 and
 * 235 AUTH, 221 QUIT, 220 STARTTLS; enhanced codes X.1.5 and X.1.1-6/10
 * (destination mailbox) RCPT, 2.1.0 and X.1.7/8 (sender) MAIL; a multi-line
 * 250 listing capabilities EHLO/LHLO. And commands that take few codes:
 * DATA 354 or a failure, QUIT 221 (or a failure), AUTH 334/235 or a failure,
 * STARTTLS 220 or a failure, the end of a message no 3yz/220/221/235. */
static bool reply_fits(const struct pending *e, const struct smtp_reply *r)
{
	int c = r->code, cls = c / 100;
	bool fail = cls == 4 || cls == 5;
	bool auth = e->kind == PEND_AUTH_RESP || (e->kind == PEND_CMD && e->verb == SMTP_VERB_AUTH);
	enum smtp_verb v = e->kind == PEND_CMD ? e->verb : SMTP_VERB_UNKNOWN;
	if (e->kind == PEND_EOD)
		return fail || (cls == 2 && c != 220 && c != 221 && c != 235);
	if (auth)
		return fail || c == 334 || c == 235;
	switch (v) {
	case SMTP_VERB_DATA: return fail || c == 354;
	case SMTP_VERB_QUIT: return fail || c == 221;
	case SMTP_VERB_STARTTLS: return fail || c == 220;
	case SMTP_VERB_UNKNOWN: return true; /* unknown verbs get anything */
	default: break;
	}
	if (c == 354 || c == 334 || c == 235 || c == 221 || c == 220)
		return false; /* answer one command only, and it is not this one */
	/* enhanced status codes, "class.subject.detail" (RFC 3463 §3.3-3.4):
	 * subject 1 is addressing status, the reply of MAIL, RCPT, VRFY or EXPN */
	if (r->enhanced[0] && r->enhanced[1] == '.' && r->enhanced[2] == '1' && r->enhanced[3] == '.' &&
	    cls == 2 && v != SMTP_VERB_MAIL && v != SMTP_VERB_RCPT && v != SMTP_VERB_VRFY && v != SMTP_VERB_EXPN)
		return false;
	if (r->enhanced[0] && r->enhanced[1] == '.' && r->enhanced[2] == '1' && r->enhanced[3] == '.' &&
	    (v == SMTP_VERB_MAIL || v == SMTP_VERB_RCPT)) {
		int d = atoi(r->enhanced + 4);
		bool rcpt_only = d == 1 || d == 2 || d == 3 || d == 4 || d == 5 || d == 6 || d == 10;
		bool mail_only = d == 7 || d == 8 || (d == 0 && r->enhanced[0] == '2');
		if (rcpt_only && v == SMTP_VERB_MAIL)
			return false;
		if (mail_only && v == SMTP_VERB_RCPT)
			return false;
	}
	if (c == 250 && r->n_lines > 1 && v != SMTP_VERB_EHLO && v != SMTP_VERB_LHLO && v != SMTP_VERB_HELO &&
	    v != SMTP_VERB_HELP) {
		/* a capability list answers EHLO/LHLO: a second line that is a
		 * known EHLO keyword */
		const uint8_t *p;
		size_t m, k = cap_keyword(&r->lines[1], &p, &m);
		for (size_t j = 0; cap_table[j].name; j++)
			if (eq_ci_n(p, k, cap_table[j].name, cap_table[j].len))
				return false;
	}
	return true;
}

/* Position in the queue of the first entry r can answer (0: the head), at
 * most SMTP_RESYNC_LOOKAHEAD entries deep; SIZE_MAX if none. */
#define SMTP_RESYNC_LOOKAHEAD 32
static size_t reply_fit_index(const struct sess *s, const struct smtp_reply *r)
{
	for (size_t k = 0; k < s->qlen && k < SMTP_RESYNC_LOOKAHEAD; k++)
		if (reply_fits(&s->q[(s->qhead + k) % s->qcap], r))
			return k;
	return SIZE_MAX;
}

/* A 354 that answers nothing queued, while a transaction with MAIL and RCPT
 * waits for its message: the DATA command was lost in a client-side gap (RFC
 * 5321 §4.3.2: only DATA gets 354; the gap itself may be declared only later,
 * when the client's next bytes arrive). Enter data mode as DATA would have. */
static bool reply_data_lost(struct sess *s, struct smtp_reply *r, uint64_t ts)
{
	struct txn_impl *t = s->cur;
	if (r->code != 354 || s->pub.state != SMTP_ST_COMMAND || !t || !t->pub.has_mail ||
	    !t->pub.n_rcpt_total || t->pub.msg_started || t->pub.xfer != SMTP_XFER_NONE)
		return false;
	raise_anom(s, t, ANOM_SMTP_REPLY_RESYNC);
	t->pub.data_reply = 354;
	data_start(s, ts);
	r->answer = SMTP_ANSWER_INTERMEDIATE;
	r->answers = SMTP_VERB_DATA;
	r->label = "DATA continue (command lost)";
	return true;
}

static void reply_finish(struct sess *s, uint64_t ts)
{
	/* The reply is complete from here on: its effects may release held
	 * client bytes (hold_release -> client_command), which must not take it
	 * for a multi-line reply still open and finish it a second time (b09). */
	s->in_reply = false;
	struct smtp_reply_line lines[SMTP_REPLY_LINES_MAX];
	for (size_t i = 0; i < s->rn; i++) {
		lines[i].p = (const uint8_t *)s->rbytes.buf + s->roff[i];
		lines[i].n = s->rlen[i];
	}
	struct smtp_reply r = {
		.code = s->rcode, .lines = lines, .n_lines = s->rn, .n_lines_total = s->rn_total,
		.text = (const uint8_t *)(s->rbytes.buf ? s->rbytes.buf : "") + s->rtext_off,
		.text_n = s->rtext_n, .truncated = s->rtrunc, .ts_us = ts,
	};
	memcpy(r.enhanced, s->renh, sizeof r.enhanced);
	struct pending e;
	bool have = false;
	s->pub.n_replies++;
	/* RFC 5321 §4.1.1.4: the server answers DATA's message only after the
	 * end-of-data line. A final reply while the message is still open after
	 * a gap means the terminator was lost in the gap: the message is over,
	 * the reply answers it, and the client's next bytes are commands. */
	if (s->pub.state == SMTP_ST_DATA && r.code >= 200 && r.code != 354 && s->cur &&
	    s->cur->pub.msg_gap_bytes) {
		msg_finish(s, false, true, ts);
		enter_state(s, SMTP_ST_COMMAND);
		line_done(&s->lb[FLOW_C2S]);
	}
	bool unexpected = false;
	if (r.code == 0) {
		r.answer = SMTP_ANSWER_INVALID;
		r.label = "invalid";
	} else if (!s->greeting_seen && (s->qlen == 0 || r.code == 220 || r.code == 554) &&
	           !(r.code == 220 && s->qlen && s->pub.flow && !s->pub.flow->syn_seen &&
	             s->q[s->qhead].kind == PEND_CMD && s->q[s->qhead].verb == SMTP_VERB_STARTTLS)) {
		/* (picked up mid-stream at STARTTLS, a 220 is its answer, RFC 3207 §4) */
		/* RFC 5321 §3.1: 220 greeting, or 554 refusal; a client may have
		 * sent its whole dialogue already (blind pipelining). */
		s->greeting_seen = true;
		pend_drop_preamble(s, ts);
		s->pub.greeting_code = r.code;
		free(s->pub.greeting);
		s->pub.greeting = dup_cap(r.text, r.text_n, SMTP_PARAM_MAX);
		if (r.code != 220)
			raise_anom(s, NULL, ANOM_SMTP_BAD_GREETING);
		r.answer = SMTP_ANSWER_GREETING;
		r.label = r.code == 220 ? "greeting" : "greeting refused";
	} else {
		if (!s->greeting_seen) {
			s->greeting_seen = true;
			if (s->qlen)
				raise_anom(s, NULL, ANOM_SMTP_NO_GREETING);
		}
		/* The reply answers the head entry unless it cannot (reply_fits):
		 * then the replies of the entries before the first one it fits
		 * were lost (a server-side capture gap) and are skipped, so one
		 * lost reply does not shift every later pairing. A client held in
		 * WAIT_* whose awaited reply never came (a silent server) has its
		 * held commands released first: the reply may answer one of them. */
		size_t k = reply_fit_index(s, &r);
		if (k == SIZE_MAX && s->qlen && state_is_wait(s->pub.state)) {
			client_force(s, ts);
			k = reply_fit_index(s, &r);
		}
		/* Replies go missing in server-side gaps; without one, only a code
		 * whose command is certain (354 DATA, 334/235 AUTH, 221 QUIT) or a
		 * reply that cannot answer the
		 * AUTH at the head (a silent server, the client moved on) skips
		 * entries, and a reply that fits nothing still answers the head,
		 * as a server that misbehaves is still answering in order. */
		const struct pending *hd = s->qlen ? &s->q[s->qhead] : NULL;
		bool lossy = s->pub.gap_bytes[1] != 0;
		bool certain = r.code == 354 || r.code == 334 || r.code == 235 || r.code == 221;
		bool skip_ok = lossy || certain ||
		               (hd && (hd->kind == PEND_AUTH_RESP || (hd->kind == PEND_CMD && hd->verb == SMTP_VERB_AUTH)));
		if (k == SIZE_MAX && s->qlen && !lossy && !certain)
			k = 0;
		if (k != SIZE_MAX && k > 0 && !skip_ok)
			k = 0;
		if (k == SIZE_MAX) {
			unexpected = true;
		} else {
			if (k > 0)
				raise_anom(s, NULL, ANOM_SMTP_REPLY_RESYNC);
			while (k--) {
				struct pending *old = &s->q[s->qhead];
				s->qhead = (s->qhead + 1) % s->qcap;
				s->qlen--;
				if (old->txn && --old->txn->npending == 0 && old->txn->client_closed)
					txn_emit(s, old->txn, ts);
			}
			/* every reply, intermediate (334, 354) or final, answers one entry */
			e = s->q[s->qhead];
			s->qhead = (s->qhead + 1) % s->qcap;
			s->qlen--;
			have = true;
			r.answers = e.verb;
			if (e.kind == PEND_EOD) {
				r.answer = SMTP_ANSWER_MESSAGE;
				label_join(s->label, sizeof s->label, "message", class_word(r.code), NULL);
			} else if (e.kind == PEND_AUTH_RESP) {
				r.answer = r.code / 100 == 3 ? SMTP_ANSWER_INTERMEDIATE : SMTP_ANSWER_AUTH;
				label_join(s->label, sizeof s->label, "AUTH", class_word(r.code), NULL);
			} else {
				r.answer = r.code / 100 == 3 ? SMTP_ANSWER_INTERMEDIATE : SMTP_ANSWER_COMMAND;
				label_join(s->label, sizeof s->label, smtp_verb_str(e.verb), class_word(r.code), NULL);
			}
			r.label = s->label;
		}
	}
	if (unexpected && !reply_data_lost(s, &r, ts)) {
		if (r.code != 421) /* 421 may come unsolicited (RFC 5321 §3.8) */
			raise_anom(s, NULL, ANOM_SMTP_UNEXPECTED_REPLY);
		r.answer = SMTP_ANSWER_UNEXPECTED;
		r.label = "unexpected";
	}
	emit_event(s, EV_REPLY, ts, NULL, &r, NULL);
	if (have) {
		struct txn_impl *t = e.txn;
		uint64_t tseq = t ? t->pub.seq : 0;
		reply_effects(s, &e, &r, ts);
		/* t may have been emitted early (caps) during the effects: only
		 * touch it if it is still open (seq guards against address reuse) */
		bool alive = false;
		for (size_t i = 0; t && i < s->n_open; i++)
			if (s->open[i] == t && t->pub.seq == tseq)
				alive = true;
		if (alive && t->npending) {
			t->npending--;
			if (t->npending == 0 && t->client_closed)
				txn_emit(s, t, ts);
		}
	}
	reply_reset(s);
}

static void server_line(struct sess *s, const struct rawline *l, uint64_t ts)
{
	line_anoms(s, l, true);
	char sep = ' ';
	int code = reply_code_parse(l->p, l->n, &sep);
	if (!code) {
		raise_anom(s, NULL, ANOM_SMTP_INVALID_REPLY);
		if (s->in_reply) { /* keep it as a line of the reply being assembled */
			reply_store(s, l);
			return;
		}
		s->rcode = 0;
		reply_store(s, l);
		s->rtext_off = s->roff[0];
		s->rtext_n = s->rn ? s->rlen[0] : 0;
		reply_finish(s, ts);
		return;
	}
	if (!s->in_reply) {
		s->in_reply = true;
		s->rcode = code;
	} else if (code != s->rcode) {
		raise_anom(s, NULL, ANOM_SMTP_REPLY_CODE_MISMATCH);
		s->rcode = code; /* the last line's code is the reply's */
	}
	reply_store(s, l);
	if (sep != '-')
		reply_finish(s, ts);
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
 * made malloc consolidate its fast bins every time). Bounded; used only on the
 * application layer's one thread (docs/design.md, "Threads"). */
#define SESS_POOL_MAX 64
static struct sess *sess_pool[SESS_POOL_MAX];
static size_t sess_pool_n;

static void sess_pool_drain(void)
{
	while (sess_pool_n)
		free(sess_pool[--sess_pool_n]);
}

struct smtp_session *smtp_session_new(const struct smtp_config *cfg, struct event_bus *bus,
                                      const struct flow_info *fi, uint64_t ts_us)
{
	struct sess *s;
	if (sess_pool_n) {
		s = sess_pool[--sess_pool_n];
		/* zero it, except the AUTH slots past the ones used last time:
		 * they were never written (3.4 of the 5.5 KiB) */
		char *base = (char *)s;
		char *a0 = (char *)&s->pub.auth[s->pub.n_auth], *a1 = (char *)&s->pub.auth[SMTP_AUTH_MAX];
		memset(base, 0, (size_t)(a0 - base));
		memset(a1, 0, (size_t)(base + sizeof *s - a1));
	} else {
		static bool registered;
		if (!registered) {
			registered = true;
			atexit(sess_pool_drain); /* so leak checkers see a clean exit */
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

/* Process a partial line left in lb at the end of the stream. */
static bool line_flush(struct linebuf *lb, struct rawline *l)
{
	if (lb->skip || (lb->buf.len == 0 && !lb->truncated))
		return false;
	l->p = (const uint8_t *)(lb->buf.buf ? lb->buf.buf : "");
	l->n = lb->buf.len;
	l->truncated = lb->truncated;
	l->bare_lf = false;
	l->unterminated = true;
	return true;
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
	if (sess_pool_n < SESS_POOL_MAX)
		sess_pool[sess_pool_n++] = s;
	else
		free(s);
}
