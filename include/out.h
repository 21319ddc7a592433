/* out — the text transcript and JSON Lines sinks (include/event.h).
 *
 * Both read SMTP events (EV_SESSION_BEGIN, EV_CLIENT, EV_REPLY,
 * EV_TRANSACTION, EV_SESSION_END) and ignore the others. Every wire byte goes
 * through the one escaper of its medium (esc_tty / esc_json). Output is built
 * in a large buffer and written with fwrite when it fills, on flush() and on
 * close(); the FILE is borrowed (never fclose'd). The schema of both formats
 * is in docs/schema.md.
 */
#ifndef SMTPSCOPE_OUT_H
#define SMTPSCOPE_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"
#include "sbuf.h"

struct out_opts {
	bool color;          /* ANSI colours by reply class (text only) */
	bool show_body;      /* print message bodies (text only) */
	bool show_secrets;   /* print passwords / tokens instead of ******** */
	bool events;         /* JSON: also one record per command and per reply */
	bool findings_only;  /* only transactions that carry findings */
	bool group;          /* text: hold each session's lines until it ends (offline reports) */
	/* Optional: append the JSON value of txn->headers (an object) to out;
	 * called by out_json when non-NULL and txn->headers is not NULL
	 * (out_imf_txn_json below). */
	void (*write_headers_json)(struct sbuf *out, const void *headers);
	/* Optional: append a human summary of txn->headers, each line starting
	 * with indent and ending with '\n' (text transcript). */
	void (*write_headers_text)(struct sbuf *out, const void *headers, const char *indent);
};

/* The two hooks above for smtpscope's own header parser (src/out_imf.c):
 * headers is the txn->headers that msgwire attached. */
void out_imf_txn_json(struct sbuf *out, const void *headers);
void out_imf_txn_text(struct sbuf *out, const void *headers, const char *indent);

/* New sinks writing to f (borrowed). o is copied. Close with s->ops->close. */
struct sink *out_text_new(FILE *f, const struct out_opts *o);
struct sink *out_json_new(FILE *f, const struct out_opts *o);

/* Append the "type":"transaction" JSON record of ev (an EV_TRANSACTION),
 * newline-terminated, to out: the same record the JSON sink writes (used for
 * the sidecars of extracted messages). */
void out_json_transaction(struct sbuf *out, const struct event *ev, const struct out_opts *o);

/* ISO 8601 UTC with microseconds, "2024-12-05T08:52:31.123456Z". */
void out_ts_iso(struct sbuf *out, uint64_t ts_us);

#endif
