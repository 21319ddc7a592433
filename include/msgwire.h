/* msgwire — connects the SMTP dissector's message stream to the header
 * parser (imf) and, when a transaction completes, runs the verdicts and
 * attaches headers and findings to the transaction before it is emitted. */
#ifndef SMTPSCOPE_MSGWIRE_H
#define SMTPSCOPE_MSGWIRE_H

#include <stdbool.h>
#include "sbuf.h"
#include "smtp.h"

struct msgwire;
struct msgwire *msgwire_new(bool strict_alignment);
const struct smtp_msg_hooks *msgwire_hooks(struct msgwire *m);
void msgwire_free(struct msgwire *m);
struct extract;
/* Also hand every message to the extractor x (borrowed; NULL: none). */
void msgwire_set_extract(struct msgwire *m, struct extract *x);
/* For struct out_opts: write a transaction's headers (txn->headers as set
 * by these hooks) as the JSON "headers" object / as transcript lines. */
void msgwire_headers_json(struct sbuf *out, const void *headers);
void msgwire_headers_text(struct sbuf *out, const void *headers, const char *indent);

#endif
