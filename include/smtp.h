/* smtp — the SMTP dissector: per-session push parser fed with the reassembled
 * bytes of each direction. Emits events (include/event.h) on the bus.
 *
 * Model (RFC 5321, docs/schema.md):
 *  - each direction is split into lines with a named cap (SMTP_LINE_MAX for
 *    commands, SMTP_REPLY_LINE_MAX for replies); an over-long line is kept
 *    truncated and the rest discarded up to the next LF (anomaly).
 *  - every client command is queued (bounded, SMTP_PENDING_MAX); every final
 *    server reply answers the oldest queued command (RFC 2920 PIPELINING).
 *  - after a command whose reply decides how the client's next bytes are read
 *    (DATA, AUTH, STARTTLS), client bytes that arrive before that reply are
 *    held (at most SMTP_HOLD_MAX bytes) and interpreted once it arrives:
 *    354 -> message, error -> commands. See "Data mode rule" in docs/schema.md.
 *  - transactions (MAIL..end of message, or aborted) become EV_TRANSACTION
 *    records once their last reply is in.
 *
 * Public structs below are read-only for consumers; they are only valid
 * during the event (or hook call) that hands them out.
 */
#ifndef SMTPSCOPE_SMTP_H
#define SMTPSCOPE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "auth.h"
#include "event.h"
#include "flow.h"

struct tls_info; /* include/tls.h */

/* Named limits (each with its recovery, see docs/schema.md "Limits"). */
#define SMTP_LINE_MAX        4096      /* command line bytes kept; rest discarded to LF */
#define SMTP_REPLY_LINE_MAX  4096      /* reply line bytes kept; rest discarded to LF */
#define SMTP_REPLY_LINES_MAX 64        /* lines stored per multi-line reply; rest counted */
#define SMTP_PENDING_MAX     512       /* unanswered commands queued; oldest dropped */
#define SMTP_HOLD_MAX        (256 * 1024) /* client bytes held while awaiting a decisive reply */
#define SMTP_RCPT_MAX        1000      /* recipients stored per transaction; rest counted */
#define SMTP_AUTH_MAX        16        /* AUTH attempts stored per session; rest counted */
#define SMTP_TXN_OPEN_MAX    8         /* transactions awaiting replies; oldest emitted early */
#define SMTP_ADDR_MAX        1024      /* bytes kept of a MAIL/RCPT address */
#define SMTP_PARAM_MAX       256       /* bytes kept of an ESMTP parameter value */
#define SMTP_BDAT_HUGE       ((uint64_t)1 << 30)  /* chunk size that raises smtp_huge_bdat_chunk */
#define SMTP_BDAT_MAX        ((uint64_t)1 << 40)  /* larger sizes are invalid: no data mode */

/* Commands: RFC 5321 §4.1 plus common extensions. */
enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0, /* not in the table (labelled "unknown", never dropped) */
	SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_LHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT,
	SMTP_VERB_DATA, SMTP_VERB_BDAT, SMTP_VERB_RSET, SMTP_VERB_VRFY, SMTP_VERB_EXPN,
	SMTP_VERB_HELP, SMTP_VERB_NOOP, SMTP_VERB_QUIT, SMTP_VERB_STARTTLS, SMTP_VERB_AUTH,
	SMTP_VERB_ETRN, SMTP_VERB_BURL, SMTP_VERB_XCLIENT, SMTP_VERB_XFORWARD,
	SMTP_VERB__COUNT
};
const char *smtp_verb_str(enum smtp_verb v);   /* "MAIL", ..., "unknown" */

/* The client side's protocol state (one enum, one enter_state(), OpenSMTPD
 * style). The server side only has reply / TLS modes. */
enum smtp_state {
	SMTP_ST_COMMAND = 0,     /* client lines are commands */
	SMTP_ST_WAIT_DATA,       /* DATA sent; client bytes held until its reply */
	SMTP_ST_WAIT_AUTH,       /* AUTH or an AUTH response sent; held until the reply */
	SMTP_ST_WAIT_TLS,        /* STARTTLS sent; held until the reply */
	SMTP_ST_AUTH,            /* 334 seen: the next client line is an AUTH response */
	SMTP_ST_DATA,            /* message content (dot-stuffed) up to CRLF.CRLF */
	SMTP_ST_BDAT,            /* counted BDAT chunk octets */
	SMTP_ST_TLS_PROBE,       /* 220 to STARTTLS seen: first bytes decide TLS/decrypted */
	SMTP_ST_TLS,             /* encrypted: bytes counted, not parsed */
	SMTP_ST_CLOSED,          /* smtp_session_close() ran */
};
const char *smtp_state_str(enum smtp_state st);

/* EHLO capabilities (RFC 5321 §4.1.1.1 and the extension RFCs). */
#define SMTP_CAP_PIPELINING          0x0001u /* RFC 2920 */
#define SMTP_CAP_SIZE                0x0002u /* RFC 1870 */
#define SMTP_CAP_8BITMIME            0x0004u /* RFC 6152 */
#define SMTP_CAP_STARTTLS            0x0008u /* RFC 3207 */
#define SMTP_CAP_AUTH                0x0010u /* RFC 4954 */
#define SMTP_CAP_CHUNKING            0x0020u /* RFC 3030 */
#define SMTP_CAP_BINARYMIME          0x0040u /* RFC 3030 */
#define SMTP_CAP_SMTPUTF8            0x0080u /* RFC 6531 */
#define SMTP_CAP_DSN                 0x0100u /* RFC 3461 */
#define SMTP_CAP_ENHANCEDSTATUSCODES 0x0200u /* RFC 2034 */
#define SMTP_CAP_ETRN                0x0400u /* RFC 1985 */
#define SMTP_CAP_VRFY                0x0800u
#define SMTP_CAP_BURL                0x1000u /* RFC 4468 */
#define SMTP_CAP_XCLIENT             0x2000u /* Postfix */
#define SMTP_CAP_XFORWARD            0x4000u /* Postfix */
#define SMTP_CAP_REQUIRETLS          0x8000u /* RFC 8689 */
struct smtp_caps {
	uint32_t flags;          /* SMTP_CAP_* from the latest 250 to EHLO/LHLO */
	uint64_t size;           /* SIZE limit in octets (0 unless a limit is advertised) */
	bool size_unlimited;     /* SIZE advertised without a limit: "SIZE 0" (no fixed maximum)
	                            or a bare "SIZE" (none stated), RFC 1870 §3; size is 0 */
	char auth[128];          /* AUTH mechanisms as advertised, space-separated, printable ASCII */
	bool seen;               /* an EHLO/LHLO reply was parsed */
};
/* The capability keyword of one SMTP_CAP_* flag ("PIPELINING"), or NULL. */
const char *smtp_cap_name(uint32_t flag);

/* A client line handed out with EV_CLIENT. */
enum smtp_line_kind {
	SMTP_LINE_COMMAND = 0,   /* a command line */
	SMTP_LINE_AUTH,          /* an AUTH response line (base64 or "*") */
	SMTP_LINE_BODY,          /* message bytes (after dot-unstuffing / a BDAT chunk part) */
	SMTP_LINE_MESSAGE,       /* end of a message: summary in msg_bytes / msg_lines */
	SMTP_LINE_DISCARDED,     /* client bytes dropped (pipelined after STARTTLS) */
	SMTP_LINE_TLS,           /* the session switched to TLS (no bytes shown) */
};
struct smtp_line {
	enum smtp_line_kind kind;   /* what this line is */
	enum smtp_verb verb;        /* COMMAND: verb (SMTP_VERB_UNKNOWN if not in the table) */
	const uint8_t *p;           /* wire text without the line ending (COMMAND, AUTH), body bytes (BODY) */
	size_t n;                   /* its length */
	size_t secret_off;          /* p[secret_off..n) is a credential: mask unless show_secrets (n = none) */
	const uint8_t *arg;         /* COMMAND: argument after the verb and spaces (inside p) */
	size_t arg_n;               /* its length */
	const char *label;          /* constant label: "MAIL", "unknown", "AUTH LOGIN username", "message" */
	const char *value;          /* decoded detail for the label (username, ...) or NULL; wire bytes */
	size_t value_n;             /* its length */
	bool value_secret;          /* value is a password/token (already "********" unless show_secrets) */
	bool truncated;             /* the line exceeded SMTP_LINE_MAX */
	bool bare_lf;               /* ended by LF without CR */
	bool bol;                   /* BODY: p starts at the beginning of a message line */
	uint64_t msg_bytes;         /* MESSAGE: message size in bytes (after unstuffing); DISCARDED: bytes */
	uint64_t msg_lines;         /* MESSAGE: number of lines */
	uint64_t ts_us;             /* capture time */
};

/* One line of a reply, without its line ending, code included. */
struct smtp_reply_line {
	const uint8_t *p;           /* "250-PIPELINING" */
	size_t n;                   /* its length */
};
enum smtp_answer {
	SMTP_ANSWER_COMMAND = 0,    /* a final reply to a queued command (answers = its verb) */
	SMTP_ANSWER_GREETING,       /* the server greeting */
	SMTP_ANSWER_INTERMEDIATE,   /* 334 to AUTH / 354 to DATA */
	SMTP_ANSWER_AUTH,           /* reply to an AUTH response line */
	SMTP_ANSWER_MESSAGE,        /* reply to the end of a message (after CRLF.CRLF) */
	SMTP_ANSWER_UNEXPECTED,     /* nothing was pending */
	SMTP_ANSWER_INVALID,        /* not a valid reply line */
};
struct smtp_reply {
	int code;                   /* 200..599, 0 when invalid */
	char enhanced[16];          /* RFC 3463 "x.y.z" of the last line, "" when absent */
	const struct smtp_reply_line *lines; /* stored lines */
	size_t n_lines;             /* stored lines (<= SMTP_REPLY_LINES_MAX) */
	size_t n_lines_total;       /* lines the reply had */
	const uint8_t *text;        /* text of the last line after code and enhanced code */
	size_t text_n;              /* its length */
	enum smtp_answer answer;    /* what it answers */
	enum smtp_verb answers;     /* the verb answered (SMTP_VERB_UNKNOWN for none) */
	const char *label;          /* "MAIL ok", "greeting", "message ok" (NUL-terminated, ASCII) */
	bool truncated;             /* a line exceeded SMTP_REPLY_LINE_MAX */
	uint64_t ts_us;             /* time of the last line */
};

/* Verdict findings attached by the msg->complete hook (src/verdict.c). */
struct smtp_finding {
	const char *id;             /* stable snake_case identifier (constant) */
	const char *severity;       /* "info" | "low" | "medium" | "high" (constant) */
	char *detail;               /* malloc'd human text (may be NULL); freed by smtp */
};

struct smtp_rcpt {
	char *addr;                 /* address without <>, NUL-terminated, wire bytes, capped SMTP_ADDR_MAX */
	size_t addr_n;              /* its length */
	char *notify;               /* NOTIFY= value or NULL (RFC 3461) */
	char *orcpt;                /* ORCPT= value or NULL (RFC 3461) */
	int reply;                  /* reply code to this RCPT, 0 while unknown */
	char *reply_text;           /* text of a 4xx/5xx reply to it (last line, capped
	                               SMTP_PARAM_MAX), else NULL: 550 unknown vs 450 greylisted */
	int delivery;               /* LMTP (RFC 2033 §4.2): the reply for this recipient
	                               after the message, 0 if none */
	char *delivery_text;        /* its text when 4xx/5xx, else NULL */
};

struct smtp_mail_params {
	bool has_size;              /* SIZE= present (RFC 1870) */
	uint64_t size;              /* its value */
	char *body;                 /* BODY= (7BIT | 8BITMIME | BINARYMIME) or NULL */
	bool smtputf8;              /* SMTPUTF8 (RFC 6531) */
	char *auth;                 /* AUTH= (RFC 4954 §5) or NULL */
	char *ret;                  /* RET= (FULL | HDRS) or NULL */
	char *envid;                /* ENVID= or NULL */
	bool requiretls;            /* REQUIRETLS (RFC 8689) */
	unsigned n_other;           /* unrecognised parameters */
};

enum smtp_txn_end {
	SMTP_TXN_OPEN = 0,          /* still open */
	SMTP_TXN_END_MESSAGE,       /* a message was transferred (accepted or not) */
	SMTP_TXN_END_RSET,          /* RSET */
	SMTP_TXN_END_HELO,          /* an accepted HELO/EHLO/LHLO */
	SMTP_TXN_END_MAIL,          /* a new MAIL while this one had MAIL */
	SMTP_TXN_END_TLS,           /* STARTTLS accepted (RFC 3207 §4.2 resets state) */
	SMTP_TXN_END_CLOSE,         /* the connection closed */
};
const char *smtp_txn_end_str(enum smtp_txn_end e);

enum smtp_xfer { SMTP_XFER_NONE = 0, SMTP_XFER_DATA, SMTP_XFER_BDAT };

/* A mail transaction (RFC 5321 §3.3): one EV_TRANSACTION record. */
struct smtp_session;
struct smtp_txn {
	const struct smtp_session *session; /* the session it belongs to */
	uint64_t seq;               /* 1, 2, ... within the session */
	uint64_t start_ts_us;       /* first command of the transaction */
	uint64_t end_ts_us;         /* last reply (or close) */
	char *helo;                 /* HELO/EHLO argument in effect (NULL if none) */
	bool tls;                   /* session was under TLS (or decrypted) when it started */
	const struct auth_attempt *auth; /* AUTH in effect: latest success, else latest attempt; NULL if none */
	bool has_mail;              /* MAIL seen */
	char *mail_from;            /* reverse-path without <> ("" for <>), NULL without MAIL */
	size_t mail_from_n;         /* its length */
	int mail_reply;             /* reply code to MAIL, 0 unknown */
	struct smtp_mail_params params; /* MAIL ESMTP parameters */
	struct smtp_rcpt *rcpts;    /* stored recipients (<= SMTP_RCPT_MAX) in order */
	size_t n_rcpts;             /* stored */
	uint64_t n_rcpt_total;      /* RCPT commands */
	uint64_t n_rcpt_accepted;   /* answered 2xx */
	uint64_t n_rcpt_rejected;   /* answered 4xx/5xx */
	enum smtp_xfer xfer;        /* DATA / BDAT used */
	int data_reply;             /* reply code to DATA (354 or an error); 0 unknown */
	int final_reply;            /* reply to the end of message (DATA) or BDAT LAST; 0 unknown */
	char *last_reply;           /* first line of the last reply to this transaction ("250 2.0.0 Ok"), or NULL */
	uint32_t bdat_chunks;       /* BDAT commands */
	bool msg_started;           /* message bytes began (msg hooks begin() ran) */
	bool msg_complete;          /* end of data / BDAT LAST reached */
	uint64_t msg_bytes;         /* message bytes delivered (after unstuffing) */
	uint64_t msg_lines;         /* message lines */
	uint64_t msg_gap_bytes;     /* bytes missing inside the message */
	enum smtp_txn_end end;      /* how it ended */
	struct anom_set anoms;      /* anomalies of this transaction */
	/* For the imf/verdict consumers (struct smtp_msg_hooks): */
	void *headers;              /* opaque parsed headers, owned by the consumer */
	void (*headers_free)(void *headers); /* called by smtp when the txn is freed (may be NULL) */
	struct smtp_finding *findings; /* malloc'd array; smtp frees it and each detail */
	size_t n_findings;          /* entries in findings */
};

/* The session as consumers see it (EV_* .sess). */
struct smtp_session {
	const struct flow_info *flow; /* the TCP flow (id, endpoints) */
	uint64_t start_ts_us;       /* smtp_session_new() time */
	uint64_t end_ts_us;         /* close time (0 while open) */
	enum smtp_state state;      /* client-side state */
	int greeting_code;          /* 220, 554, ... 0 if none seen */
	char *greeting;             /* first line text of the greeting (NULL if none) */
	char *helo;                 /* latest HELO/EHLO/LHLO argument (NULL if none) */
	enum smtp_verb helo_verb;   /* which of HELO/EHLO/LHLO */
	struct smtp_caps caps;      /* server capabilities */
	bool tls;                   /* STARTTLS accepted (or implicit TLS) */
	bool tls_decrypted;         /* plain SMTP seen after the TLS point */
	uint64_t tls_bytes[2];      /* encrypted bytes per direction (not parsed) */
	const struct tls_info *tls_info; /* what the TLS layer saw (include/tls.h), set by the
	                                  analyzer once the session turned TLS; NULL otherwise */
	bool tls_inner;             /* the SMTP from here on is decrypted TLS application data */
	bool starttls_masked;       /* an EHLO reply carried a masked keyword where STARTTLS
	                               belongs (8 characters, all X or A: "250-XXXXXXXA") */
	int starttls_refused;       /* 454/5xx to a STARTTLS the latest EHLO advertised, 0 none */
	bool starttls_refused_continued; /* after that refusal the client sent a command other
	                               than QUIT without TLS */
	uint64_t starttls_injected; /* client bytes sent after STARTTLS before its 220 (discarded) */
	struct auth_attempt auth[SMTP_AUTH_MAX]; /* AUTH attempts, in order */
	size_t n_auth;              /* stored attempts */
	uint64_t n_auth_total;      /* attempts made */
	uint64_t n_auth_clear;      /* attempts whose user or secret crossed without TLS */
	struct smtp_finding *findings; /* session-scoped findings (smtp_msg_hooks.session_end);
	                                  malloc'd, freed by smtp with each detail */
	size_t n_findings;          /* entries in findings */
	uint64_t n_commands;        /* client commands (lines in command mode) */
	uint64_t n_unknown;         /* of which unknown verbs */
	uint64_t n_replies;         /* server replies */
	uint64_t n_txns;            /* transactions emitted */
	uint64_t n_gaps;            /* gaps seen (both directions) */
	uint64_t gap_bytes[2];      /* bytes missing per direction */
	uint64_t pending_dropped;   /* commands dropped from a full queue */
	bool quit;                  /* QUIT sent */
	struct anom_set anoms;      /* all anomalies of the session */
};

/* Consumers of message bytes (after dot-unstuffing, or BDAT chunk payloads),
 * so headers can be parsed and messages extracted without buffering them.
 * begin/data/gap/end are called in client order as bytes are taken as a
 * message; complete() once the transaction is over (its replies in). The
 * consumer may set txn->headers/headers_free and txn->findings/n_findings
 * (malloc'd; smtp frees them after EV_TRANSACTION). */
struct smtp_msg_hooks {
	void (*begin)(void *user, struct smtp_txn *txn);
	void (*data)(void *user, struct smtp_txn *txn, const uint8_t *p, size_t n);
	void (*gap)(void *user, struct smtp_txn *txn, uint64_t len);
	void (*end)(void *user, struct smtp_txn *txn);
	/* Called once the transaction is complete, just before EV_TRANSACTION is
	 * emitted: the place to attach headers and findings to txn. */
	void (*complete)(void *user, struct smtp_txn *txn);
	/* Called once when the session ends, just before EV_SESSION_END: the
	 * place to attach session-scoped findings (credentials in clear that no
	 * transaction reports, ...). May be NULL. */
	void (*session_end)(void *user, struct smtp_session *s);
	void *user;
};

struct smtp_config {
	bool show_secrets;                 /* passwords in clear in events */
	const struct smtp_msg_hooks *msg;  /* may be NULL */
};

/* The TLS hand-off (docs/design.md, "TLS"). Once a direction turns TLS
 * (after the 220 to STARTTLS, or a first byte 0x16 0x03), its stream bytes
 * from the first TLS record on go to data() instead of the SMTP parser
 * (client bytes held while awaiting the 220 included, when they are a TLS
 * record); tls_bytes still counts them. Bytes that are not a TLS record
 * after the TLS point are counted only. The TLS layer's decrypted application
 * data comes back through smtp_session_tls_plaintext(). */
struct smtp_tls_hook {
	void (*data)(void *user, int dir, const uint8_t *p, size_t n, uint64_t ts_us);
	void (*gap)(void *user, int dir, uint64_t len, uint64_t ts_us); /* a gap in a TLS direction */
	void *user;
	bool implicit;              /* the server port expects TLS from the first byte (--tls-ports):
	                               a cleartext start raises smtp_tls_port_cleartext, and the
	                               expected TLS start raises no smtp_implicit_tls */
};
/* h is copied; NULL removes the hook. Call before the first byte. */
void smtp_session_set_tls(struct smtp_session *s, const struct smtp_tls_hook *h);
/* Decrypted application data of dir. The first call (either direction)
 * puts the session into the post-STARTTLS state once (RFC 3207 §4.2: the
 * client starts again with EHLO; implicit TLS: the greeting comes inside)
 * and sets tls_decrypted and tls_inner; the bytes are then dissected exactly
 * like cleartext. */
void smtp_session_tls_plaintext(struct smtp_session *s, int dir, const uint8_t *p, size_t n, uint64_t ts_us);
/* len decrypted bytes of dir will never come (a record that did not
 * authenticate, a gap in the ciphertext): a capture gap of the inner SMTP. */
void smtp_session_tls_gap(struct smtp_session *s, int dir, uint64_t len, uint64_t ts_us);

/* fi stays valid until smtp_session_free(). bus is borrowed. Emits
 * EV_SESSION_BEGIN. cfg is copied. */
struct smtp_session *smtp_session_new(const struct smtp_config *cfg, struct event_bus *bus,
                                      const struct flow_info *fi, uint64_t ts_us);
/* In-order bytes of one direction (FLOW_C2S / FLOW_S2C). */
void smtp_session_data(struct smtp_session *s, int dir, const uint8_t *p, size_t n, uint64_t ts_us);
/* len bytes of dir are missing from the capture. */
void smtp_session_gap(struct smtp_session *s, int dir, uint64_t len, uint64_t ts_us);
/* The flow ended: finish what is pending, emit EV_SESSION_END. Idempotent. */
void smtp_session_close(struct smtp_session *s, uint64_t ts_us);
/* Free s (closing it first if needed). NULL is fine. */
void smtp_session_free(struct smtp_session *s);

/* The auth attempt that best describes the session: the latest success,
 * else the latest attempt; NULL if none. */
const struct auth_attempt *smtp_session_auth(const struct smtp_session *s);

#endif
