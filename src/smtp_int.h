/* smtp_int.h — what the files of the SMTP dissector share (src/smtp*.c):
 * the session and transaction structures behind include/smtp.h's public
 * ones, small parsing helpers, and the functions one file calls in another.
 * Private: nothing outside src/smtp*.c includes it. File layout in
 * docs/design.md ("The SMTP layer"). */
#ifndef SMTPSCOPE_SMTP_INT_H
#define SMTPSCOPE_SMTP_INT_H

#include "smtp.h"

#include <stdlib.h>
#include <string.h>

#include "ascii.h"
#include "sbuf.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */



static inline bool is_sp(uint8_t c) { return c == ' ' || c == '\t'; }

static inline size_t skip_sp(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && is_sp(p[i]))
		i++;
	return i;
}

/* A NUL-terminated copy of p[0..n) capped at cap bytes. */
static inline char *dup_cap(const uint8_t *p, size_t n, size_t cap)
{
	return xstrndup((const char *)p, n > cap ? cap : n);
}

/* Parse 1*DIGIT into *v; false on no digits, overflow above max, or junk. */
static inline bool parse_u64(const uint8_t *p, size_t n, uint64_t max, uint64_t *v)
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
	bool resync;                  /* the skip after a gap ended; no whole line taken since */
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
	/* the TLS hand-off (smtp_session_set_tls, docs/design.md "TLS") */
	struct smtp_tls_hook tls_hook;
	bool tls_raw[2];              /* this direction's wire bytes go to tls_hook.data */
	bool first_seen;              /* the session's first byte was looked at (--tls-ports) */
	struct sbuf scratch;          /* masked copies of lines */
};


/* The command being handled: the line event plus parse results. */
struct cmd {
	struct smtp_line line;        /* EV_CLIENT payload */
	const struct rawline *raw;    /* the line */
	uint64_t ts;                  /* its time */
	bool emitted;                 /* EV_CLIENT sent */
};

static inline struct sess *sess_of(struct smtp_session *s) { return (struct sess *)s; }

/* dst = a " " b [" " c], truncated to cap like snprintf (labels are hot:
 * one per reply). */
static inline void label_join(char *dst, size_t cap, const char *a, const char *b, const char *c)
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

static inline void enter_state(struct sess *s, enum smtp_state st)
{
	s->pub.state = st;
}

/* Raise id on the session and, when t is not NULL, mark it on t. */
static inline void raise_anom(struct sess *s, struct txn_impl *t, enum anom_id id)
{
	anom_raise(&s->pub.anoms, id);
	if (t)
		anom_mark(&t->pub.anoms, id);
}

static inline void emit_event(struct sess *s, enum event_type type, uint64_t ts,
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

static inline const struct smtp_msg_hooks *hooks(struct sess *s) { return s->cfg.msg; }

static inline bool state_is_wait(enum smtp_state st)
{
	return st == SMTP_ST_WAIT_DATA || st == SMTP_ST_WAIT_AUTH || st == SMTP_ST_WAIT_TLS;
}

/* ------------------------------------------------------------------ */
/* The verb table (smtp.c)                                            */

typedef void (*cmd_handler)(struct sess *, struct cmd *);
typedef void (*reply_handler)(struct sess *, struct pending *, const struct smtp_reply *, uint64_t ts);

/* What replies can answer a verb (smtp_reply.c, reply_fits) */
enum {
	FIT_ANY = 1 << 0,    /* any reply (unknown verbs) */
	FIT_OWN = 1 << 1,    /* a failure or a code only this verb takes (354, 221, 220, 334/235) */
	FIT_ADDR = 1 << 2,   /* a success with an addressing status (enhanced X.1.Y) */
	FIT_SENDER = 1 << 3, /* not a destination-mailbox status (X.1.1-6, X.1.10) */
	FIT_RCPT = 1 << 4,   /* not a sender status (2.1.0, X.1.7, X.1.8) */
	FIT_CAPS = 1 << 5,   /* a multi-line 250 listing EHLO capabilities */
};

struct verb_ops {
	const char *name;       /* NULL for SMTP_VERB_UNKNOWN */
	uint8_t len;            /* strlen(name) */
	cmd_handler on_cmd;     /* the command line */
	reply_handler on_reply; /* the reply that answers it (after pairing), or NULL */
	uint8_t fit;            /* FIT_* */
};
extern const struct verb_ops verb_ops[SMTP_VERB__COUNT];

/* ------------------------------------------------------------------ */
/* Across files                                                       */

/* smtp_txn.c: transactions and the pending-command queue */
void txn_emit(struct sess *s, struct txn_impl *t, uint64_t ts);
void txn_detach(struct sess *s, struct txn_impl *t, enum smtp_txn_end end, uint64_t ts);
struct txn_impl *txn_current(struct sess *s, uint64_t ts);
struct pending *pend_push(struct sess *s, enum pend_kind kind, enum smtp_verb verb,
                          struct txn_impl *t, uint64_t ts);
void pend_drop_preamble(struct sess *s, uint64_t ts);

/* smtp_line.c: line splitting, resynchronisation after a gap */
size_t line_take(struct linebuf *lb, size_t cap, const uint8_t *p, size_t n,
                 struct rawline *out, bool *got);
void line_done(struct linebuf *lb);
bool line_flush(struct linebuf *lb, struct rawline *l);
void line_anoms(struct sess *s, const struct rawline *l, bool server);
void gap_resync(struct linebuf *lb, const uint8_t *p, size_t n, bool server);
bool starts_with_code(const uint8_t *p, size_t n);

/* smtp_body.c: the message (DATA dot-unstuffing and its scan, BDAT chunks) */
void msg_begin(struct sess *s, struct txn_impl *t);
void body_out(struct sess *s, const uint8_t *p, size_t n, uint64_t ts);
void msg_finish(struct sess *s, bool complete, bool push_eod, uint64_t ts);
void reply_eod(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts);
void data_start(struct sess *s, uint64_t ts);
size_t data_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts);
size_t bdat_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts);

/* smtp_reply.c: reply lines, multi-line replies, pairing */
int reply_code_parse(const uint8_t *p, size_t n, char *sep);
void reply_finish(struct sess *s, uint64_t ts);
void server_line(struct sess *s, const struct rawline *l, uint64_t ts);
void caps_parse(struct sess *s, const struct smtp_reply_line *lines, size_t n);

/* smtp.c: the session state machine */
bool starts_with_verb(const uint8_t *p, size_t n);
void client_command(struct sess *s, const struct rawline *l, uint64_t ts);
void hold_release(struct sess *s);
void client_force(struct sess *s, uint64_t ts);

#endif
