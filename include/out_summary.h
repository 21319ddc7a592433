/* out_summary — the run's totals: sessions, messages, clients and servers,
 * AUTH users per mechanism with their outcomes, top senders and recipient
 * domains, findings by id and severity, anomalies by name, bytes and gaps.
 * Printed when the sink is closed, as text or as one "type":"summary" JSON
 * record (docs/schema.md). Also the source of the counters behind the
 * progress line and the exit status of --fail-on. */
#ifndef SMTPSCOPE_OUT_SUMMARY_H
#define SMTPSCOPE_OUT_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"

struct summary_totals {   /* what the packet side knows; set before close */
	uint64_t packets, bytes, flows, gaps, gap_bytes;
	bool     drops_valid; /* live capture */
	uint64_t kernel_drops, if_drops;
};

struct summary_counts {
	uint64_t sessions, transactions, messages;
	uint64_t findings[4]; /* by severity rank: info, low, medium, high */
};

/* print false: count only (exit status, progress), print nothing. */
struct sink *out_summary_new(FILE *f, bool json, bool print);
void out_summary_set_totals(struct sink *s, const struct summary_totals *t);
void out_summary_counts(const struct sink *s, struct summary_counts *c);
/* Sessions and findings so far; may be called from another thread while the
 * sink counts (the progress line). */
void out_summary_progress(struct sink *s, uint64_t *sessions, uint64_t *findings);
/* 0 info, 1 low, 2 medium, 3 high (unknown names rank as info). */
int summary_severity_rank(const char *severity);

#endif
