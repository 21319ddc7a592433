/* ui_model — what the live UI shows: a sink on the event bus (include/event.h)
 * that keeps counters and a bounded, already-escaped copy of recent sessions.
 *
 * The UI (src/ui.c) reads only this model; it never sees an event, a packet
 * or a wire byte. Every string here went through esc_tty() (include/esc.h):
 * printable ASCII and valid printable UTF-8 as they were, everything else as
 * \xHH text, so nothing stored can drive a terminal. Strings are
 * NUL-terminated and capped (UI_MODEL_FIELD_MAX, UI_MODEL_TEXT_MAX) at a
 * UTF-8 character boundary, with "…" marking a cut.
 *
 * Bounds (each with its recovery):
 *  - UI_MODEL_SESS_MAX sessions: beyond it the oldest closed session is
 *    dropped (the oldest open one if none is closed); later events of a
 *    dropped session are ignored (the counters still count them).
 *  - UI_MODEL_LINES_MAX transcript lines per session: the rest are counted in
 *    lines_more ("… N more lines"). Findings are kept apart (below), so a long
 *    session never loses them.
 *  - UI_MODEL_SESS_FINDINGS_MAX findings per session, UI_MODEL_FINDINGS_MAX in
 *    the global list (a ring: the oldest are forgotten, counters keep counting).
 *
 * Ownership: the sink owns the model; sink->ops->close() (event_bus_close)
 * frees it. Pointers returned by the accessors stay valid until the next
 * event is emitted into the sink or the model is freed: read them, draw,
 * let go — the UI loop does exactly that, on one thread.
 */
#ifndef SMTPSCOPE_UI_MODEL_H
#define SMTPSCOPE_UI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define UI_MODEL_SESS_MAX          1000  /* sessions kept; oldest closed dropped first */
#define UI_MODEL_LINES_MAX         500   /* transcript lines kept per session; rest counted */
#define UI_MODEL_SESS_FINDINGS_MAX 64    /* findings kept per session; rest counted */
#define UI_MODEL_FINDINGS_MAX      2000  /* findings in the global list (ring) */
#define UI_MODEL_FIELD_MAX         256   /* bytes of an escaped table field */
#define UI_MODEL_TEXT_MAX          2048  /* bytes of an escaped transcript line / finding detail */
#define UI_MODEL_RATE_BUCKETS      30    /* sparkline buckets ... */
#define UI_MODEL_RATE_BUCKET_US    (10u * 1000000u) /* ... of 10 s each: the last 5 minutes */

enum ui_sev { UI_SEV_NONE = 0, UI_SEV_INFO, UI_SEV_LOW, UI_SEV_MEDIUM, UI_SEV_HIGH };
const char *ui_sev_str(enum ui_sev s); /* "", "info", "low", "medium", "high" */

enum ui_line_kind {
	UI_LINE_CLIENT = 0,  /* "C> " a client command / AUTH line */
	UI_LINE_SERVER,      /* "S< " one line of a reply (code in .code) */
	UI_LINE_NOTE,        /* "(message: 812 bytes, 12 lines)", "(TLS ...)" */
	UI_LINE_TXN,         /* a transaction summary, header line or finding (sev in .sev) */
};

struct ui_line {
	uint8_t kind;        /* enum ui_line_kind */
	uint8_t sev;         /* UI_LINE_TXN findings: enum ui_sev; else 0 */
	uint16_t code;       /* UI_LINE_SERVER: reply code (0 = invalid) */
	uint64_t ts_us;      /* capture time */
	char *text;          /* escaped text (owned; one allocation with label) */
	const char *label;   /* escaped label ("AUTH LOGIN username: vasiapupkin") or NULL */
};

struct ui_finding {
	uint64_t seq;        /* 1, 2, ... in the order found (global) */
	uint64_t sess_id;    /* the session's id (flow id) */
	uint64_t ts_us;      /* capture time of the transaction's end */
	uint64_t txn;        /* transaction number within the session */
	enum ui_sev sev;     /* severity */
	const char *id;      /* stable id ("from_mismatch"): a constant */
	char *detail;        /* escaped explanation (owned), "" if none */
	char client[64];     /* client endpoint text (the session may be gone later) */
};

struct ui_session {
	uint64_t id;                  /* flow id: unique within the run */
	uint64_t start_ts_us;         /* capture time of the session start */
	uint64_t end_ts_us;           /* capture time of the end, 0 while open */
	uint64_t last_ts_us;          /* latest event */
	bool closed;                  /* EV_SESSION_END seen */
	bool tls;                     /* STARTTLS accepted */
	bool tls_decrypted;           /* the SMTP inside TLS was decrypted (key log) */
	char *tls_desc;               /* escaped TLS facts: "TLS 1.3 TLS_AES_128_GCM_SHA256 x25519
	                                 sni=... ja4=... cert=..." (owned, "" until known) */
	const char *state;            /* "greeting", "EHLO", "AUTH", "MAIL", "DATA", "TLS", "closed" */
	char client[64];              /* "192.0.2.1:40000" */
	char server[64];              /* "198.51.100.2:25" */
	char *helo;                   /* escaped fields (owned, "" when unknown) */
	char *auth_user;              /* latest successful, else latest AUTH username */
	char *auth_desc;              /* "vasiapupkin (LOGIN, success, secret ********)" */
	char *mail_from;              /* MAIL FROM of the current / latest transaction */
	char *rcpt;                   /* first RCPT of that transaction */
	uint64_t n_rcpt;              /* RCPTs in that transaction */
	char *subject;                /* Subject: of the latest message */
	char *last_reply;             /* first line of the latest reply */
	uint64_t n_msgs;              /* messages transferred */
	uint64_t n_txns;              /* transactions */
	unsigned n_findings[5];       /* by enum ui_sev */
	enum ui_sev worst;            /* worst finding severity */
	struct ui_finding *findings;  /* kept findings (<= UI_MODEL_SESS_FINDINGS_MAX), in order */
	size_t nfindings;
	uint64_t findings_more;       /* findings not kept */
	struct ui_line *lines;        /* transcript (<= UI_MODEL_LINES_MAX) */
	size_t nlines, cap_lines;
	uint64_t lines_more;          /* lines not kept */
	/* model internals */
	struct ui_session *older, *newer; /* age list */
	struct ui_session *hnext;         /* hash chain */
};

struct ui_counters {
	uint64_t sessions_total;      /* sessions seen */
	uint64_t sessions_open;       /* begun and not yet ended */
	uint64_t sessions_dropped;    /* dropped from the model (cap) */
	uint64_t transactions;        /* EV_TRANSACTION */
	uint64_t messages;            /* transactions that carried a message */
	uint64_t auth_attempts;       /* AUTH commands */
	uint64_t auth_ok;             /* answered 2xx */
	uint64_t auth_failed;         /* answered 4xx/5xx */
	uint64_t findings[5];         /* by enum ui_sev */
	uint64_t findings_total;
	uint64_t events;              /* events received (a change counter) */
};

struct ui_model;

/* A new, empty model. show_secrets: show passwords in transcripts (the SMTP
 * layer masks decoded values itself; the model masks the raw AUTH lines). */
struct ui_model *ui_model_new(bool show_secrets);
/* The model's sink, to add to the event bus; closing it frees the model. */
struct sink *ui_model_sink(struct ui_model *m);

/* Time passes without events (live capture): advance the rate buckets. */
void ui_model_tick(struct ui_model *m, uint64_t now_us);

const struct ui_counters *ui_model_counters(const struct ui_model *m);
/* Changes every time the model changes (events or ticks). */
uint64_t ui_model_gen(const struct ui_model *m);

/* Sessions, oldest first: i in [0, ui_model_nsessions()). O(1) sequential,
 * O(n) random access; use ui_model_sessions() to get them all. */
size_t ui_model_nsessions(const struct ui_model *m);
/* Fill out[0..max) with the sessions, oldest first; returns how many. */
size_t ui_model_sessions(const struct ui_model *m, const struct ui_session **out, size_t max);
/* The session with this id, or NULL if it is not (or no longer) kept. */
const struct ui_session *ui_model_find(const struct ui_model *m, uint64_t id);

/* Findings, newest first: i in [0, ui_model_nfindings()). */
size_t ui_model_nfindings(const struct ui_model *m);
const struct ui_finding *ui_model_finding(const struct ui_model *m, size_t i);

/* Messages per bucket, oldest first, into out[0..UI_MODEL_RATE_BUCKETS). The
 * last bucket is the current one (partial). Returns the message rate per
 * minute over the last 60 s. */
double ui_model_rate(const struct ui_model *m, unsigned out[UI_MODEL_RATE_BUCKETS]);

#endif
