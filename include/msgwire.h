/* msgwire — connects the SMTP dissector's message stream to the header
 * parser (imf) and, when a transaction completes, runs the verdicts and
 * attaches headers and findings to the transaction before it is emitted. */
#ifndef SMTPSCOPE_MSGWIRE_H
#define SMTPSCOPE_MSGWIRE_H

#include <stdbool.h>
#include "imf.h"
#include "smtp.h"

/* A msgwire and the transactions it served belong to one thread at a time
 * (it keeps a pool of parsers, no locks); free the SMTP sessions it served
 * before it (their transactions hand their parsers back to it). */
struct msgwire;
struct msgwire *msgwire_new(bool strict_alignment);
const struct smtp_msg_hooks *msgwire_hooks(struct msgwire *m);
void msgwire_free(struct msgwire *m);
/* The parsed headers of t's message (what these hooks keep in
 * t->headers), or NULL if no message began. Valid while t lives. */
const struct imf_headers *msgwire_txn_headers(const struct smtp_txn *t);
/* The same from the opaque t->headers alone (for the struct out_opts hooks,
 * which see only that pointer): never NULL for a non-NULL headers, even
 * before the message began (then every field is empty). */
const struct imf_headers *msgwire_headers_of(const void *headers);

#endif
