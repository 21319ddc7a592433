/* out_flows — the flows view (--flows): one line per TCP flow at its end:
 * client, server, bytes each way, gaps, how it ended. A diagnostic that
 * proves reassembly without any SMTP parsing. */
#ifndef SMTPSCOPE_OUT_FLOWS_H
#define SMTPSCOPE_OUT_FLOWS_H

#include <stdio.h>
#include "event.h"

struct sink *out_flows_new(FILE *f, int json);

#endif
