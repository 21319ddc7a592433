/* ui — the live ncurses interface (the only includer of <curses.h>).
 * One thread: poll() on the capture fd and the keyboard, bounded batches fed
 * to the analyzer, at most ~10 redraws a second with a single doupdate(). The
 * UI reads only its model (a sink on the event bus holding counters and a
 * bounded, already-escaped copy of recent sessions). */
#ifndef SMTPSCOPE_UI_H
#define SMTPSCOPE_UI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "analyzer.h"
#include "event.h"
#include "source.h"

struct ui_args {
	struct source *src;              /* packets (live or files) */
	struct analyzer *an;             /* fed by the UI loop */
	struct event_bus *bus;           /* the UI adds its model sink before the first packet */
	bool realtime;                   /* files: replay at capture pace (default: flat out) */
	bool show_secrets;               /* show decoded passwords */
	volatile sig_atomic_t *stop;     /* set by SIGINT/SIGTERM: leave the loop */
};

/* Run until the user quits (or *stop). Restores the terminal on every exit
 * path. Returns 0, or -1 with err filled (e.g. no terminal). */
int ui_run(struct ui_args *a, char *err, size_t errlen);

#endif
