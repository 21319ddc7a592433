/* msgwire — connects the SMTP dissector's message stream to the header
 * parser (imf) and, when a transaction completes, runs the verdicts and
 * attaches headers and findings to the transaction before it is emitted. */
#ifndef SMTPSCOPE_MSGWIRE_H
#define SMTPSCOPE_MSGWIRE_H

#include <stdbool.h>
#include "smtp.h"

struct msgwire;
struct msgwire *msgwire_new(bool strict_alignment);
const struct smtp_msg_hooks *msgwire_hooks(struct msgwire *m);
void msgwire_free(struct msgwire *m);

#endif
