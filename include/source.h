/* source — where packets come from: one live interface, or one or more
 * capture files read as one capture (merged by timestamp) or one after the
 * other (--separate). Feeds the analyzer in bounded batches so that a loop
 * (plain or UI) stays responsive, and can peek at the next packet's time for
 * paced replay. */
#ifndef SMTPSCOPE_SOURCE_H
#define SMTPSCOPE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyzer.h"
#include "capture.h"

struct source;

struct source_opts {
	const char *iface;          /* live interface, or NULL */
	const char *const *files;   /* capture files (when iface is NULL) */
	size_t nfiles;
	bool separate;              /* files one after the other, flows closed between */
	const char *bpf;            /* filter expression or NULL */
};

/* Open everything up front so that errors are reported before any output. */
struct source *source_open(const struct source_opts *o, char *err, size_t errlen);
int source_linktype(const struct source *s);      /* of the first input */
const char *source_label(const struct source *s); /* interface or file name(s) for display */
bool source_live(const struct source *s);
int source_fd(const struct source *s);            /* live: selectable fd; files: -1 */
/* Feed up to max packets to the analyzer. Returns the number fed (> 0), 0 if
 * nothing was ready (live), or SOURCE_EOF when every input is exhausted. */
enum { SOURCE_EOF = -1 };
int source_feed(struct source *s, struct analyzer *an, int max);
/* Time of the next packet without consuming it (files); false at EOF or live. */
bool source_peek_ts(struct source *s, uint64_t *ts_us);
/* True if some input was damaged (a warning was printed, exit status 2). */
bool source_damaged(const struct source *s);
/* Capture errors on a live interface end the loop: non-NULL message then. */
const char *source_fatal(const struct source *s);
void source_breakloop(struct source *s);          /* signal-safe */
/* Summed counters of all inputs (drops for live, file bytes read/total). */
void source_stats(struct source *s, struct capture_stats *out);
void source_close(struct source *s);

#endif
