/* out_imf — how the parsed headers of a message (struct imf_headers) look in
 * the outputs: the JSON "headers" object (docs/schema.md) and the transcript
 * lines. Every wire value is escaped here (esc_json_str / esc_tty). */
#ifndef SMTPSCOPE_OUT_IMF_H
#define SMTPSCOPE_OUT_IMF_H

#include "imf.h"
#include "sbuf.h"

/* Append the "headers" JSON object (docs/schema.md) for h. */
void out_imf_headers_json(struct sbuf *out, const struct imf_headers *h);
/* Append a human summary, one "<indent>Name: value\n" line per present field,
 * every value escaped with esc_tty. */
void out_imf_headers_text(struct sbuf *out, const struct imf_headers *h, const char *indent);

/* out_imf_txn_json / out_imf_txn_text (the struct out_opts hooks) are
 * declared in include/out.h. */

#endif
