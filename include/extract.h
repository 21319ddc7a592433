/* extract — write the messages seen on the wire to disk: one .eml file (plus
 * a .json sidecar) per message with --extract DIR, and/or one mboxrd mailbox
 * with --mbox FILE. Design and file formats: docs/design.md, "Message
 * extraction".
 *
 * Input is the SMTP dissector's message stream (struct smtp_msg_hooks, fanned
 * out by the analyzer to msgwire and to extract_msg_hooks()): begin / data / gap / end for the bytes after dot-unstuffing
 * (or BDAT chunk payloads), in client order, and the EV_TRANSACTION event once
 * the transaction is over (through the sink returned by extract_sink(), or by
 * calling extract_complete() directly).
 *
 *  - .eml: streamed as bytes arrive (a FILE with a small buffer), never
 *    buffered whole. Name "<start UTC>_<session>_<txn>.eml", e.g.
 *    "20090202T104728.543482Z_3_1.eml"; nothing from the wire is ever part
 *    of a file name. Files are created with openat(dirfd, O_CREAT|O_EXCL|
 *    O_NOFOLLOW): an existing name (file or symlink) is never touched, the
 *    next free "<base>-2", "<base>-3", ... is used instead (stats.renamed).
 *    Missing bytes (capture gaps) are written as NUL bytes, so file offsets
 *    are message offsets; the sidecar lists them.
 *  - .json sidecar: the JSON Lines transaction record (out_json_transaction)
 *    plus "eml" (the file name) and "gaps" ([{"offset","length"}]).
 *  - mbox: mboxrd (CRLF -> LF, ">*From " lines get one more '>'), "From "
 *    line with the envelope sender (MAILER-DAEMON for <>), a blank line after
 *    each message. Each message is buffered (memory up to
 *    EXTRACT_MBOX_MSG_MAX, then an unlinked temporary file in the mbox's
 *    directory) and appended whole at its end, so concurrent sessions never
 *    interleave.
 *
 * Errors (disk full, too many open files, ...) never stop the analysis: the
 * message concerned is dropped or left partial and stats.errors counts it.
 */
#ifndef SMTPSCOPE_EXTRACT_H
#define SMTPSCOPE_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "out.h"
#include "smtp.h"

/* Named limits (docs/design.md, "Message extraction"). */
#define EXTRACT_INFLIGHT_MAX   4096               /* messages tracked at once (begin..complete); more are skipped */
#define EXTRACT_GAPS_MAX       256                /* gaps listed per message; more are counted ("gaps_not_listed") */
#define EXTRACT_GAP_FILL_MAX   ((uint64_t)64 << 20) /* NUL bytes written for gaps per message; beyond, "filled" < "length" */
#define EXTRACT_MBOX_MSG_MAX   ((size_t)16 << 20) /* mbox: bytes of one message kept in memory before spilling to a temp file */
#define EXTRACT_MBOX_MEM_MAX   ((size_t)64 << 20) /* mbox: bytes of all messages in flight kept in memory */
#define EXTRACT_RENAME_MAX     1000               /* "-2" .. "-1000" tried before giving up on a name */
#define EXTRACT_SENDER_MAX     256                /* bytes of the envelope sender on the mbox "From " line */

struct extract_opts {
	const char *dir;        /* --extract DIR (created 0755 if missing), or NULL */
	const char *mbox;       /* --mbox FILE (created 0644 if missing, appended to), or NULL */
	struct out_opts json;   /* how sidecars are written (show_secrets, write_headers_json); copied */
};

struct extract_stats {
	uint64_t messages;      /* messages written (an .eml, an mbox entry, or both, count once) */
	uint64_t bytes;         /* message bytes received (gap fill not counted) */
	uint64_t renamed;       /* .eml names that existed and got a "-N" suffix */
	uint64_t gaps;          /* gaps inside extracted messages */
	uint64_t spilled;       /* mbox messages that went through a temporary file */
	uint64_t errors;        /* failed creations/writes, skipped messages */
};

struct extract;

/* Open DIR (creating it) and/or FILE. NULL with a one-line message in err
 * (no trailing newline, no "smtpscope:" prefix) when DIR cannot be created or
 * is not a writable directory, or FILE is a symlink or cannot be opened. */
struct extract *extract_new(const struct extract_opts *o, char *err, size_t errlen);

/* The message stream; call these from the smtp_msg_hooks of the same name
 * (or hand the SMTP layer extract_msg_hooks(x), which does).
 * t is only used as a key and for its envelope/timestamps while it lives. */
void extract_begin(struct extract *x, struct smtp_txn *t);
void extract_data(struct extract *x, struct smtp_txn *t, const uint8_t *p, size_t n);
void extract_gap(struct extract *x, struct smtp_txn *t, uint64_t len);
void extract_end(struct extract *x, struct smtp_txn *t);
/* x's message stream as SMTP message hooks (begin/data/gap/end; no
 * complete/session_end: the transaction comes through extract_sink()).
 * The analyzer fans the SMTP layer's stream out to these and to msgwire's
 * (docs/design.md, "Layers"). Valid while x lives. */
const struct smtp_msg_hooks *extract_msg_hooks(struct extract *x);

/* ev is the EV_TRANSACTION of a transaction (findings attached): write the
 * sidecar, finish anything left open, forget the transaction. Other event
 * types are ignored. Must be the last call for ev->txn. */
void extract_complete(struct extract *x, const struct event *ev);

/* A sink view of x for the event bus: emit() is extract_complete(), flush()
 * flushes the mbox, close() flushes and closes the files but does NOT free x
 * (main reads the stats afterwards; free with extract_free()). */
struct sink *extract_sink(struct extract *x);

void extract_stats(const struct extract *x, struct extract_stats *st);

/* Finish and free (messages still in flight are written as they are). NULL
 * is fine. */
void extract_free(struct extract *x);

/* --- building blocks, exported for the unit tests ---------------------- */

/* Streaming mboxrd body transform: CRLF -> LF (a bare CR stays), a line that
 * matches ^>*From  gets one more '>'. Feed any chunking; output is appended. */
struct mboxrd_tx {
	int bol;                /* at the beginning of a line */
	int cr;                 /* a CR is held (might be the CR of CRLF) */
	uint64_t gt;            /* '>' held at the start of the line */
	int from;               /* bytes of "From " matched after them */
	int last_lf;            /* the last byte written was LF */
	uint64_t out;           /* bytes written */
};
void mboxrd_tx_init(struct mboxrd_tx *m);
void mboxrd_tx_push(struct mboxrd_tx *m, struct sbuf *out, const uint8_t *p, size_t n);
/* Release anything held (end of message or a gap). */
void mboxrd_tx_flush(struct mboxrd_tx *m, struct sbuf *out);

/* "20090202T104728.543482Z_3_1" into buf (at most 66 bytes with the NUL). */
void extract_basename(char *buf, size_t len, uint64_t ts_us, uint64_t session, uint64_t txn);
/* "From sender Mon Feb  2 10:47:28 2009\n" (asctime, UTC); sender NULL or ""
 * gives MAILER-DAEMON; whitespace and controls in it become '_'. */
void extract_from_line(struct sbuf *out, const char *sender, size_t sender_n, uint64_t ts_us);

#endif
