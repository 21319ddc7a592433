/* ui — the live ncurses interface; contract in include/ui.h, screens and keys
 * in docs/ui.md. The only includer of <curses.h>.
 *
 * One thread, htop's model: poll() on the keyboard and (live) the capture fd;
 * bounded source_feed() batches (files: keep feeding for at most UI_FEED_MS,
 * then look at the keyboard again); at most UI_FPS redraws a second, each
 * drawn into curses' virtual screen with wnoutrefresh() and sent with one
 * doupdate(). Analysis and drawing never overlap, so nothing is locked.
 *
 * The UI reads only its model (include/ui_model.h), a sink added to the bus
 * before the first packet. Model strings are escaped already (esc_tty); this
 * file adds the terminal-side defences: every character is measured with
 * wcwidth() and anything without a sane width is drawn as '?'.
 */
#define NCURSES_WIDECHAR 1
#include <curses.h>

#include "ui.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "sbuf.h"
#include "ui_model.h"

#define UI_BATCH        1024      /* packets per source_feed() call */
#define UI_FEED_MS      50        /* longest stretch of feeding between keyboard checks */
#define UI_FRAME_US     100000    /* at most 10 redraws a second */
#define UI_KEY_FRAME_US 20000     /* after a key, redraw sooner */
#define UI_IDLE_FRAME_US 1000000  /* redraw at least once a second (clock, rates) */
#define UI_TICK_US      200000    /* live: analyzer_tick() period */
#define UI_STEP_MAX     100000    /* 'n': packets fed at most while looking for the next event */
#define UI_BIGSTEP      256       /* 'N': packets per big step */
#define UI_FILTER_MAX   128       /* bytes of the filter text */
#define UI_HEAD_ROWS    3

enum view { V_TABLE, V_DETAIL, V_FINDINGS, V_HELP };

/* Table columns (sortable); widths are computed per frame. */
enum col {
	C_TIME, C_CLIENT, C_SERVER, C_STATE, C_HELO, C_AUTH, C_FROM, C_RCPT, C_SUBJECT, C_REPLY, C_FIND,
	C__COUNT
};
static const char *const col_name[C__COUNT] = { "time",    "client",  "server",     "state",
	                                        "HELO",    "AUTH user", "MAIL FROM", "RCPT",
	                                        "Subject", "last reply", "findings" };
static const int col_min[C__COUNT] = { 8, 22, 22, 8, 12, 12, 16, 16, 12, 12, 10 };
static const int col_weight[C__COUNT] = { 0, 0, 0, 0, 1, 1, 2, 2, 4, 2, 0 };
/* the columns dropped first on a narrow terminal */
static const enum col col_drop_order[] = { C_REPLY, C_HELO, C_SERVER, C_AUTH, C_RCPT, C_STATE, C_SUBJECT };

/* Colour pairs. */
enum { P_HIGH = 1, P_MEDIUM, P_LOW, P_INFO, P_GREEN, P_CYAN, P_LABEL, P_TXN };

struct dseg {
	size_t off, len;          /* bytes in ui.arena */
	attr_t attr;
};
struct dline {
	struct dseg seg[3];
	int nseg;
};

struct ui {
	struct ui_args *a;
	struct ui_model *m;
	FILE *in;
	WINDOW *head, *body, *foot;
	bool color;
	bool utf8;
	enum view view, back;     /* current view; where Esc/q goes from detail */
	bool quit;
	/* table */
	enum col sort;
	bool sort_rev;
	char filter[UI_FILTER_MAX];
	bool editing;             /* the filter prompt is open */
	bool follow;              /* keep the newest session selected */
	uint64_t sel_id;          /* selected session id */
	int sel, top;             /* selected row, first row shown */
	const struct ui_session **rows;
	size_t nrows, cap_rows;
	/* display pause: frozen row list and findings horizon */
	bool frozen;
	uint64_t *frozen_ids;
	size_t nfrozen;
	uint64_t frozen_fseq;
	/* detail */
	uint64_t detail_id;
	int dtop;
	bool dbottom;             /* stick to the end */
	int drows;                /* rows of the last layout */
	struct sbuf arena;
	struct dline *dl;
	size_t ndl, cap_dl;
	/* findings */
	int fsel, ftop;
	/* help */
	int htop;
	/* replay */
	bool live, live_dead, eof, in_paused;
	bool realtime;
	uint64_t rt_base_ts, rt_base_wall; /* realtime: capture time rt_base_ts is due at rt_base_wall */
	bool rt_based;
	long step;                /* packets to feed while paused (UI_BIGSTEP) */
	bool step_event;          /* feed until the model changes */
	uint64_t start_wall;
	char msg[200];            /* status message */
	uint64_t msg_until;
};

/* ---- terminal restore on every exit path -------------------------------- */

static volatile sig_atomic_t g_active;  /* curses owns the terminal */
static struct termios g_tio;            /* the terminal as we found it */
static bool g_tio_ok;
static char g_rmcup[64], g_cnorm[64], g_sgr0[64];
static bool g_atexit_set;

static void ui_atexit(void)
{
	if (g_active) {
		g_active = 0;
		endwin();
	}
}

static void put_raw(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(STDOUT_FILENO, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Crash path (SIGSEGV, SIGABRT, ...): only async-signal-safe calls. */
static void on_fatal(int sig)
{
	if (g_active) {
		g_active = 0;
		put_raw(g_sgr0);
		put_raw(g_cnorm);
		put_raw(g_rmcup);
		if (g_tio_ok)
			tcsetattr(STDOUT_FILENO, TCSANOW, &g_tio);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int fatal_sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
static struct sigaction g_old_fatal[sizeof fatal_sigs / sizeof fatal_sigs[0]];

static void copy_cap(char *dst, size_t n, const char *name)
{
	char *s = tigetstr(name);
	dst[0] = '\0';
	if (s && s != (char *)-1 && strlen(s) < n)
		strcpy(dst, s);
}

static void guard_install(void)
{
	copy_cap(g_rmcup, sizeof g_rmcup, "rmcup");
	copy_cap(g_cnorm, sizeof g_cnorm, "cnorm");
	copy_cap(g_sgr0, sizeof g_sgr0, "sgr0");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++)
		sigaction(fatal_sigs[i], &sa, &g_old_fatal[i]);
	if (!g_atexit_set) {
		atexit(ui_atexit);
		g_atexit_set = true;
	}
}

static void guard_remove(void)
{
	for (size_t i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++)
		sigaction(fatal_sigs[i], &g_old_fatal[i], NULL);
}

/* ---- time --------------------------------------------------------------- */

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void fmt_clock(char *buf, size_t n, uint64_t ts_us)
{
	time_t t = (time_t)(ts_us / 1000000u);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, n, "%H:%M:%S", &tm);
}

static void fmt_span(char *buf, size_t n, uint64_t us)
{
	uint64_t s = us / 1000000u;
	snprintf(buf, n, "%" PRIu64 ":%02u:%02u", s / 3600, (unsigned)(s / 60 % 60), (unsigned)(s % 60));
}

static void fmt_bytes(char *buf, size_t n, uint64_t v)
{
	const char *u[] = { "B", "KB", "MB", "GB", "TB" };
	double d = (double)v;
	int i = 0;
	while (d >= 1000 && i < 4) {
		d /= 1000;
		i++;
	}
	snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", d, u[i]);
}

/* ---- drawing text with column widths ------------------------------------ */

/* Characters that must not reach the screen even as valid UTF-8: bidi
 * controls and zero-width format characters would rearrange what is shown. */
static bool bad_wc(wchar_t wc)
{
	return (wc >= 0x200b && wc <= 0x200f) || (wc >= 0x202a && wc <= 0x202e) ||
	       (wc >= 0x2060 && wc <= 0x206f) || wc == 0xfeff || (wc >= 0xfff9 && wc <= 0xfffb);
}

/* Decode the next character of s[0..n): *wc and its width; returns bytes used. */
static size_t next_wc(struct ui *u, const char *s, size_t n, wchar_t *wc, int *w)
{
	if (!u->utf8 && (unsigned char)s[0] >= 0x80) {
		*wc = L'?';
		*w = 1;
		return 1;
	}
	mbstate_t st;
	memset(&st, 0, sizeof st);
	size_t k = mbrtowc(wc, s, n, &st);
	if (k == 0 || k == (size_t)-1 || k == (size_t)-2) {
		*wc = L'?';
		*w = 1;
		return 1;
	}
	int cw = wcwidth(*wc);
	if (cw < 0 || bad_wc(*wc) || *wc < 0x20 || (*wc >= 0x7f && *wc < 0xa0)) {
		*wc = L'?';
		cw = 1;
	}
	*w = cw;
	return k;
}

/* Draw s[0..n) at the cursor of w, at most width columns; returns columns used. */
static int putn(struct ui *u, WINDOW *w, const char *s, size_t n, int width)
{
	wchar_t buf[256];
	int nb = 0, used = 0;
	size_t i = 0;
	while (i < n && s[i]) {
		wchar_t wc;
		int cw;
		size_t k = next_wc(u, s + i, n - i, &wc, &cw);
		if (used + cw > width)
			break;
		buf[nb++] = wc;
		used += cw;
		i += k;
		if (nb == (int)(sizeof buf / sizeof buf[0])) {
			waddnwstr(w, buf, nb);
			nb = 0;
		}
	}
	if (nb)
		waddnwstr(w, buf, nb);
	return used;
}

static int puts_at(struct ui *u, WINDOW *w, int y, int x, const char *s, int width)
{
	if (width <= 0)
		return 0;
	wmove(w, y, x);
	return putn(u, w, s, strlen(s), width);
}

/* Pad with spaces from the cursor up to column x_end (exclusive). */
static void pad_to(WINDOW *w, int x_end)
{
	int y, x;
	getyx(w, y, x);
	(void)y;
	while (x < x_end) {
		waddch(w, ' ');
		x++;
	}
}

/* Bytes of s[0..n) that fit in width columns (possibly 0). */
static size_t fit_bytes(struct ui *u, const char *s, size_t n, int width, int *cols)
{
	size_t i = 0;
	int used = 0;
	while (i < n) {
		wchar_t wc;
		int cw;
		size_t k = next_wc(u, s + i, n - i, &wc, &cw);
		if (used + cw > width)
			break;
		used += cw;
		i += k;
	}
	*cols = used;
	return i;
}

static attr_t cpair(struct ui *u, int pair, attr_t fallback)
{
	return u->color ? COLOR_PAIR(pair) : fallback;
}

static attr_t sev_attr(struct ui *u, enum ui_sev s)
{
	switch (s) {
	case UI_SEV_HIGH: return cpair(u, P_HIGH, A_BOLD) | A_BOLD;
	case UI_SEV_MEDIUM: return cpair(u, P_MEDIUM, A_BOLD);
	case UI_SEV_LOW: return cpair(u, P_LOW, A_NORMAL);
	case UI_SEV_INFO: return cpair(u, P_INFO, A_NORMAL);
	default: return A_NORMAL;
	}
}

static attr_t code_attr(struct ui *u, int code)
{
	switch (code / 100) {
	case 2: return cpair(u, P_GREEN, A_NORMAL);
	case 3: return cpair(u, P_CYAN, A_NORMAL);
	case 4: return cpair(u, P_MEDIUM, A_BOLD);
	case 5: return cpair(u, P_HIGH, A_BOLD);
	default: return cpair(u, P_LABEL, A_NORMAL);
	}
}

/* ---- messages ----------------------------------------------------------- */

static void say(struct ui *u, const char *text)
{
	snprintf(u->msg, sizeof u->msg, "%s", text);
	u->msg_until = mono_us() + 4000000u;
}

/* ---- rows of the table -------------------------------------------------- */

static bool has_ci(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

static bool match_filter(const struct ui *u, const struct ui_session *s)
{
	const char *f = u->filter;
	if (!f[0])
		return true;
	char idbuf[32];
	snprintf(idbuf, sizeof idbuf, "#%" PRIu64, s->id);
	if (has_ci(idbuf, f) || has_ci(s->client, f) || has_ci(s->server, f) || has_ci(s->state, f) ||
	    has_ci(s->helo, f) || has_ci(s->auth_user, f) || has_ci(s->mail_from, f) || has_ci(s->rcpt, f) ||
	    has_ci(s->subject, f) || has_ci(s->last_reply, f))
		return true;
	for (size_t i = 0; i < s->nfindings; i++)
		if (has_ci(s->findings[i].id, f) || has_ci(ui_sev_str(s->findings[i].sev), f))
			return true;
	return false;
}

static const char *col_text(const struct ui_session *s, enum col c)
{
	switch (c) {
	case C_CLIENT: return s->client;
	case C_SERVER: return s->server;
	case C_STATE: return s->state;
	case C_HELO: return s->helo;
	case C_AUTH: return s->auth_user;
	case C_FROM: return s->mail_from;
	case C_RCPT: return s->rcpt;
	case C_SUBJECT: return s->subject;
	case C_REPLY: return s->last_reply;
	default: return "";
	}
}

static struct ui *g_sort_ui; /* qsort has no context argument */

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int row_cmp(const void *pa, const void *pb)
{
	const struct ui_session *a = *(const struct ui_session *const *)pa;
	const struct ui_session *b = *(const struct ui_session *const *)pb;
	struct ui *u = g_sort_ui;
	int r = 0;
	switch (u->sort) {
	case C_TIME:
		r = cmp_u64(a->start_ts_us, b->start_ts_us);
		break;
	case C_FIND:
		r = (int)a->worst - (int)b->worst;
		if (!r)
			r = (int)(a->n_findings[1] + a->n_findings[2] + a->n_findings[3] + a->n_findings[4]) -
			    (int)(b->n_findings[1] + b->n_findings[2] + b->n_findings[3] + b->n_findings[4]);
		break;
	default:
		r = strcasecmp(col_text(a, u->sort), col_text(b, u->sort));
		break;
	}
	if (!r)
		r = cmp_u64(a->id, b->id);
	return u->sort_rev ? -r : r;
}

static void rows_reserve(struct ui *u, size_t n)
{
	if (n > u->cap_rows) {
		u->cap_rows = n;
		u->rows = xrealloc(u->rows, n * sizeof *u->rows);
	}
}

static void build_rows(struct ui *u)
{
	u->nrows = 0;
	if (u->frozen) {
		rows_reserve(u, u->nfrozen + 1);
		for (size_t i = 0; i < u->nfrozen; i++) {
			const struct ui_session *s = ui_model_find(u->m, u->frozen_ids[i]);
			if (s && match_filter(u, s))
				u->rows[u->nrows++] = s;
		}
		return;
	}
	size_t n = ui_model_nsessions(u->m);
	rows_reserve(u, n + 1);
	size_t k = ui_model_sessions(u->m, u->rows, n);
	for (size_t i = 0; i < k; i++)
		if (match_filter(u, u->rows[i]))
			u->rows[u->nrows++] = u->rows[i];
	g_sort_ui = u;
	qsort(u->rows, u->nrows, sizeof *u->rows, row_cmp);
}

static void freeze(struct ui *u, bool on)
{
	u->frozen = false;
	free(u->frozen_ids);
	u->frozen_ids = NULL;
	u->nfrozen = 0;
	if (!on)
		return;
	build_rows(u); /* with the filter: keep the unfiltered order instead */
	char saved[UI_FILTER_MAX];
	memcpy(saved, u->filter, sizeof saved);
	u->filter[0] = '\0';
	build_rows(u);
	memcpy(u->filter, saved, sizeof saved);
	u->frozen_ids = xmalloc((u->nrows + 1) * sizeof *u->frozen_ids);
	for (size_t i = 0; i < u->nrows; i++)
		u->frozen_ids[i] = u->rows[i]->id;
	u->nfrozen = u->nrows;
	size_t nf = ui_model_nfindings(u->m);
	u->frozen_fseq = nf ? ui_model_finding(u->m, 0)->seq : 0;
	u->frozen = true;
}

/* Place the selection: on sel_id if it is still listed, else clamp. */
static void resolve_sel(struct ui *u)
{
	if (u->follow && u->nrows) {
		size_t best = 0;
		for (size_t i = 1; i < u->nrows; i++)
			if (u->rows[i]->start_ts_us > u->rows[best]->start_ts_us ||
			    (u->rows[i]->start_ts_us == u->rows[best]->start_ts_us && u->rows[i]->id > u->rows[best]->id))
				best = i;
		u->sel = (int)best;
	} else {
		int found = -1;
		for (size_t i = 0; i < u->nrows; i++)
			if (u->rows[i]->id == u->sel_id) {
				found = (int)i;
				break;
			}
		if (found >= 0)
			u->sel = found;
	}
	if (u->sel >= (int)u->nrows)
		u->sel = (int)u->nrows - 1;
	if (u->sel < 0)
		u->sel = 0;
	if (u->nrows)
		u->sel_id = u->rows[u->sel]->id;
}

/* ---- header ------------------------------------------------------------- */

static void draw_spark(struct ui *u, WINDOW *w, const unsigned *v, int n)
{
	static const wchar_t bars[] = L"\x2581\x2582\x2583\x2584\x2585\x2586\x2587\x2588";
	static const char ascii[] = "_.-=+*#@";
	unsigned mx = 0;
	for (int i = 0; i < n; i++)
		if (v[i] > mx)
			mx = v[i];
	for (int i = 0; i < n; i++) {
		int lvl = mx ? (int)((v[i] * 7 + mx - 1) / mx) : 0;
		if (v[i] == 0) {
			waddch(w, ' ');
			continue;
		}
		if (lvl > 7)
			lvl = 7;
		if (u->utf8) {
			wchar_t c = bars[lvl];
			waddnwstr(w, &c, 1);
		} else {
			waddch(w, (chtype)(unsigned char)ascii[lvl]);
		}
	}
}

static void draw_head(struct ui *u)
{
	WINDOW *w = u->head;
	int W = getmaxx(w);
	werase(w);
	const struct ui_counters *c = ui_model_counters(u->m);
	struct analyzer_stats st;
	analyzer_stats(u->a->an, &st);
	struct capture_stats cs;
	source_stats(u->a->src, &cs);
	char b1[48], b2[48], line[512];
	uint64_t now = mono_us();

	/* line 0: title, source, mode, clocks, flags */
	wattron(w, A_REVERSE | A_BOLD);
	mvwaddstr(w, 0, 0, " smtpscope ");
	wattroff(w, A_REVERSE | A_BOLD);
	waddstr(w, " ");
	puts_at(u, w, 0, 12, source_label(u->a->src), W / 3);
	const char *mode;
	char pct[32] = "";
	if (u->live)
		mode = u->live_dead ? "live: capture stopped" : "live";
	else if (u->eof)
		mode = "file: done";
	else {
		mode = u->realtime ? "file: realtime" : "file";
		if (cs.file_size)
			snprintf(pct, sizeof pct, " %.0f%%", 100.0 * (double)cs.file_bytes / (double)cs.file_size);
	}
	fmt_span(b1, sizeof b1, now - u->start_wall);
	fmt_span(b2, sizeof b2, st.last_ts_us > st.first_ts_us ? st.last_ts_us - st.first_ts_us : 0);
	snprintf(line, sizeof line, "  [%s%s]  elapsed %s  capture %s", mode, pct, b1, b2);
	waddstr(w, line);
	if (u->in_paused) {
		waddstr(w, "  ");
		wattron(w, A_REVERSE | A_BOLD);
		waddstr(w, u->live ? " PAUSED " : " INPUT PAUSED ");
		wattroff(w, A_REVERSE | A_BOLD);
	}
	if (u->frozen) {
		waddstr(w, "  ");
		wattron(w, A_REVERSE);
		waddstr(w, " DISPLAY PAUSED ");
		wattroff(w, A_REVERSE);
	}

	/* line 1: counters */
	fmt_bytes(b1, sizeof b1, st.bytes);
	uint64_t drops = cs.dropped + cs.if_dropped;
	snprintf(line, sizeof line,
	         "packets %" PRIu64 "  bytes %s  drops %" PRIu64 "  sessions %" PRIu64 " open / %" PRIu64
	         " total  messages %" PRIu64 "  AUTH %" PRIu64 " (%" PRIu64 " ok, %" PRIu64 " failed)  findings ",
	         st.packets, b1, drops, c->sessions_open, c->sessions_total, c->messages, c->auth_attempts,
	         c->auth_ok, c->auth_failed);
	wmove(w, 1, 0);
	putn(u, w, line, strlen(line), W);
	static const enum ui_sev order[] = { UI_SEV_HIGH, UI_SEV_MEDIUM, UI_SEV_LOW, UI_SEV_INFO };
	for (int i = 0; i < 4; i++) {
		snprintf(line, sizeof line, "%s%" PRIu64 " %s", i ? " " : "", c->findings[order[i]],
		         ui_sev_str(order[i]));
		int x = getcurx(w);
		if (x >= W - 1)
			break;
		attr_t at = c->findings[order[i]] ? sev_attr(u, order[i]) : A_NORMAL;
		wattron(w, at);
		putn(u, w, line, strlen(line), W - x);
		wattroff(w, at);
	}

	/* line 2: rate, sparkline, view state */
	unsigned v[UI_MODEL_RATE_BUCKETS];
	double rate = ui_model_rate(u->m, v);
	snprintf(line, sizeof line, "rate %.0f msg/min ", rate);
	mvwaddstr(w, 2, 0, line);
	waddch(w, '[');
	draw_spark(u, w, v, UI_MODEL_RATE_BUCKETS);
	waddstr(w, "] 5 min");
	snprintf(line, sizeof line, "  sort: %s %s", col_name[u->sort],
	         u->sort_rev ? (u->utf8 ? "\xe2\x96\xbc" : "v") : (u->utf8 ? "\xe2\x96\xb2" : "^"));
	putn(u, w, line, strlen(line), W - getcurx(w));
	if (u->follow)
		putn(u, w, "  follow", 8, W - getcurx(w));
	if (u->filter[0] && !u->editing) {
		putn(u, w, "  filter: ", 10, W - getcurx(w));
		wattron(w, A_BOLD);
		putn(u, w, u->filter, strlen(u->filter), W - getcurx(w));
		wattroff(w, A_BOLD);
	}
	if (c->sessions_dropped) {
		snprintf(line, sizeof line, "  (%" PRIu64 " old sessions dropped from memory)", c->sessions_dropped);
		putn(u, w, line, strlen(line), W - getcurx(w));
	}
	wnoutrefresh(w);
}

/* ---- footer ------------------------------------------------------------- */

static void draw_foot(struct ui *u)
{
	WINDOW *w = u->foot;
	int W = getmaxx(w);
	werase(w);
	if (u->editing) {
		mvwaddstr(w, 0, 0, "Filter: ");
		putn(u, w, u->filter, strlen(u->filter), W - 10);
		waddstr(w, "_  (Enter keep, Esc clear)");
	} else if (u->msg[0] && mono_us() < u->msg_until) {
		wattron(w, A_BOLD);
		puts_at(u, w, 0, 0, u->msg, W);
		wattroff(w, A_BOLD);
	} else {
		const char *hint;
		switch (u->view) {
		case V_DETAIL:
			hint = "arrows/PgUp/PgDn/Home/End scroll  q/Esc back  f findings  ? help";
			break;
		case V_FINDINGS:
			hint = "arrows move  Enter open session  q/Esc back  ? help";
			break;
		case V_HELP:
			hint = "q/Esc back";
			break;
		default:
			hint = "Enter detail  / filter  s sort  f findings  F follow  p pause display  "
			       "space pause input  n step  ? help  q quit";
		}
		wattron(w, A_REVERSE);
		puts_at(u, w, 0, 0, hint, W);
		pad_to(w, W);
		wattroff(w, A_REVERSE);
	}
	wnoutrefresh(w);
}

/* ---- the session table -------------------------------------------------- */

static void col_widths(int W, int *wd)
{
	bool on[C__COUNT];
	for (int i = 0; i < C__COUNT; i++)
		on[i] = true;
	int need = 0;
	for (int i = 0; i < C__COUNT; i++)
		need += col_min[i] + 1;
	for (size_t k = 0; k < sizeof col_drop_order / sizeof col_drop_order[0] && need > W; k++) {
		on[col_drop_order[k]] = false;
		need -= col_min[col_drop_order[k]] + 1;
	}
	int extra = W - need, wsum = 0;
	if (extra < 0)
		extra = 0;
	for (int i = 0; i < C__COUNT; i++)
		if (on[i])
			wsum += col_weight[i];
	for (int i = 0; i < C__COUNT; i++) {
		wd[i] = on[i] ? col_min[i] + (wsum ? extra * col_weight[i] / wsum : 0) : 0;
	}
	/* cap a few columns that never need much */
	if (wd[C_CLIENT] > 42)
		wd[C_SUBJECT] += wd[C_CLIENT] - 42, wd[C_CLIENT] = 42;
	if (wd[C_SERVER] > 42)
		wd[C_SUBJECT] += wd[C_SERVER] - 42, wd[C_SERVER] = 42;
}

static void draw_cell(struct ui *u, WINDOW *w, int y, int *x, int width, const char *s)
{
	if (width <= 0)
		return;
	wmove(w, y, *x);
	size_t n = strlen(s);
	int cols;
	size_t k = fit_bytes(u, s, n, width, &cols);
	if (k < n && width > 1) { /* cut: end with an ellipsis */
		k = fit_bytes(u, s, n, width - 1, &cols);
		putn(u, w, s, k, width - 1);
		if (u->utf8)
			waddnwstr(w, L"\x2026", 1);
		else
			waddch(w, '~');
	} else {
		putn(u, w, s, n, width);
	}
	pad_to(w, *x + width + 1 <= getmaxx(w) ? *x + width + 1 : getmaxx(w));
	*x += width + 1;
}

static void draw_table(struct ui *u)
{
	WINDOW *w = u->body;
	int H = getmaxy(w), W = getmaxx(w);
	werase(w);
	build_rows(u);
	resolve_sel(u);
	int wd[C__COUNT];
	col_widths(W, wd);
	/* title row */
	wattron(w, A_REVERSE | A_BOLD);
	int x = 0;
	for (int i = 0; i < C__COUNT; i++) {
		if (!wd[i])
			continue;
		char t[64];
		snprintf(t, sizeof t, "%s%s", col_name[i],
		         (int)u->sort == i ? (u->sort_rev ? (u->utf8 ? "\xe2\x96\xbc" : "v") : (u->utf8 ? "\xe2\x96\xb2" : "^"))
		                           : "");
		draw_cell(u, w, 0, &x, wd[i], t);
	}
	wmove(w, 0, x < W ? x : W - 1);
	pad_to(w, W);
	wattroff(w, A_REVERSE | A_BOLD);
	int rows = H - 1;
	if (rows < 1)
		return;
	if (u->sel < u->top)
		u->top = u->sel;
	if (u->sel >= u->top + rows)
		u->top = u->sel - rows + 1;
	if (u->top > (int)u->nrows - rows)
		u->top = (int)u->nrows - rows;
	if (u->top < 0)
		u->top = 0;
	if (!u->nrows) {
		const char *t = u->filter[0] ? "no session matches the filter (Esc clears it)"
		                             : "no SMTP session yet";
		puts_at(u, w, 2, 2, t, W - 2);
	}
	for (int r = 0; r < rows && u->top + r < (int)u->nrows; r++) {
		const struct ui_session *s = u->rows[u->top + r];
		bool sel = u->top + r == u->sel;
		attr_t at = sev_attr(u, s->worst);
		if (sel)
			at |= A_REVERSE;
		wattron(w, at);
		x = 0;
		for (int i = 0; i < C__COUNT; i++) {
			if (!wd[i])
				continue;
			char t[UI_MODEL_FIELD_MAX + 64];
			const char *v = t;
			switch (i) {
			case C_TIME:
				fmt_clock(t, sizeof t, s->start_ts_us);
				break;
			case C_RCPT:
				if (s->n_rcpt > 1)
					snprintf(t, sizeof t, "%s (+%" PRIu64 ")", s->rcpt, s->n_rcpt - 1);
				else
					v = s->rcpt;
				break;
			case C_FIND: {
				size_t k = 0;
				t[0] = '\0';
				static const char sl[] = " IL MH";
				for (int sv = UI_SEV_HIGH; sv >= UI_SEV_INFO; sv--)
					if (s->n_findings[sv] && k + 8 < sizeof t)
						k += (size_t)snprintf(t + k, sizeof t - k, "%s%u%c", k ? " " : "",
						                      s->n_findings[sv], sl[sv == 4 ? 5 : sv == 3 ? 4 : sv]);
				break;
			}
			default:
				v = col_text(s, (enum col)i);
			}
			draw_cell(u, w, r + 1, &x, wd[i], v);
		}
		if (sel) {
			wmove(w, r + 1, x < W ? x : W - 1);
			pad_to(w, W);
		}
		wattroff(w, at);
	}
	wnoutrefresh(w);
}

/* ---- detail: laid-out lines --------------------------------------------- */

static void dl_clear(struct ui *u)
{
	sbuf_clear(&u->arena);
	u->ndl = 0;
}

static struct dline *dl_new(struct ui *u)
{
	if (u->ndl == u->cap_dl) {
		u->cap_dl = u->cap_dl ? u->cap_dl * 2 : 256;
		u->dl = xrealloc(u->dl, u->cap_dl * sizeof *u->dl);
	}
	struct dline *d = &u->dl[u->ndl++];
	d->nseg = 0;
	return d;
}

static void dl_seg(struct ui *u, struct dline *d, attr_t at, const char *s, size_t n)
{
	if (d->nseg == 3)
		return;
	struct dseg *g = &d->seg[d->nseg++];
	g->off = u->arena.len;
	g->len = n;
	g->attr = at;
	sbuf_add(&u->arena, s, n);
}

static void dl_text(struct ui *u, attr_t at, const char *s)
{
	dl_seg(u, dl_new(u), at, s, strlen(s));
}

/* Lay out (and, for rows in [top, top+H), draw) the lines; wrapped lines are
 * indented by 4. Returns the number of rows. */
static int dl_render(struct ui *u, WINDOW *w, int top, int H, bool draw)
{
	int W = getmaxx(w);
	int row = 0;
	for (size_t i = 0; i < u->ndl; i++) {
		struct dline *d = &u->dl[i];
		int col = 0;
		bool started = false;
		for (int g = 0; g < d->nseg; g++) {
			const char *s = u->arena.buf + d->seg[g].off;
			size_t n = d->seg[g].len;
			while (n > 0 || (!started && g == d->nseg - 1 && n == 0)) {
				if (col >= W) {
					row++;
					col = 4;
				}
				int cols = 0;
				size_t k = n ? fit_bytes(u, s, n, W - col, &cols) : 0;
				if (k < n && k > 0) { /* break after the last space, if it is not too far back */
					size_t b = k;
					while (b > 0 && s[b - 1] != ' ')
						b--;
					if (b > k / 2 && b < k) {
						int c2;
						k = fit_bytes(u, s, b, W - col, &c2);
						cols = c2;
					}
				}
				if (n && k == 0) { /* a wide character at the edge */
					if (col > 4) {
						row++;
						col = 4;
						continue;
					}
					wchar_t wc;
					k = next_wc(u, s, n, &wc, &cols); /* a window narrower than one character */
				}
				if (draw && row >= top && row < top + H && k) {
					wmove(w, row - top, col);
					wattron(w, d->seg[g].attr);
					putn(u, w, s, k, W - col);
					wattroff(w, d->seg[g].attr);
				}
				started = true;
				col += cols;
				s += k;
				n -= k;
				if (!n)
					break;
			}
		}
		row++;
	}
	return row;
}

static void build_detail(struct ui *u, const struct ui_session *s)
{
	dl_clear(u);
	char t[1024], b1[32], b2[32];
	struct dline *d;
	fmt_clock(b1, sizeof b1, s->start_ts_us);
	uint64_t end = s->end_ts_us ? s->end_ts_us : s->last_ts_us;
	fmt_span(b2, sizeof b2, end > s->start_ts_us ? end - s->start_ts_us : 0);
	snprintf(t, sizeof t, "Session #%" PRIu64 "  %s -> %s   state %s   started %s   duration %s%s", s->id,
	         s->client, s->server, s->state, b1, b2, s->closed ? "" : " (open)");
	dl_text(u, A_BOLD, t);
	d = dl_new(u);
	dl_seg(u, d, A_NORMAL, "HELO: ", 6);
	dl_seg(u, d, A_BOLD, s->helo[0] ? s->helo : "-", strlen(s->helo[0] ? s->helo : "-"));
	snprintf(t, sizeof t, "   TLS: %s   AUTH: %s", s->tls ? (s->tls_decrypted ? "yes (decrypted)" : "yes") : "no",
	         s->auth_desc[0] ? s->auth_desc : "none");
	dl_seg(u, d, A_NORMAL, t, strlen(t));
	if (s->tls_desc[0]) {
		d = dl_new(u);
		dl_seg(u, d, A_NORMAL, "TLS: ", 5);
		dl_seg(u, d, A_BOLD, s->tls_desc, strlen(s->tls_desc));
	}
	snprintf(t, sizeof t, "Transactions: %" PRIu64 "   messages: %" PRIu64 "   latest MAIL FROM: <%s>  RCPT: %s%s",
	         s->n_txns, s->n_msgs, s->mail_from, s->rcpt[0] ? s->rcpt : "-", s->n_rcpt > 1 ? " (+more)" : "");
	dl_text(u, A_NORMAL, t);
	if (s->subject[0]) {
		d = dl_new(u);
		dl_seg(u, d, A_NORMAL, "Subject: ", 9);
		dl_seg(u, d, A_BOLD, s->subject, strlen(s->subject));
	}
	dl_text(u, A_NORMAL, "");
	if (!s->nfindings) {
		dl_text(u, A_NORMAL, "Findings: none");
	} else {
		snprintf(t, sizeof t, "Findings (%zu%s):", s->nfindings, s->findings_more ? ", more not kept" : "");
		dl_text(u, A_BOLD, t);
		for (size_t i = 0; i < s->nfindings; i++) {
			const struct ui_finding *f = &s->findings[i];
			d = dl_new(u);
			snprintf(t, sizeof t, "  [%s] %s", ui_sev_str(f->sev), f->id);
			dl_seg(u, d, sev_attr(u, f->sev), t, strlen(t));
			snprintf(t, sizeof t, " (transaction %" PRIu64 "): ", f->txn);
			dl_seg(u, d, A_NORMAL, t, strlen(t));
			dl_seg(u, d, A_NORMAL, f->detail, strlen(f->detail));
		}
	}
	dl_text(u, A_NORMAL, "");
	dl_text(u, A_BOLD, "Transcript:");
	for (size_t i = 0; i < s->nlines; i++) {
		const struct ui_line *l = &s->lines[i];
		uint64_t dt = l->ts_us > s->start_ts_us ? l->ts_us - s->start_ts_us : 0;
		d = dl_new(u);
		attr_t at;
		const char *dir;
		switch (l->kind) {
		case UI_LINE_CLIENT: at = A_BOLD; dir = "C> "; break;
		case UI_LINE_SERVER: at = code_attr(u, l->code); dir = "S< "; break;
		case UI_LINE_NOTE: at = A_NORMAL; dir = "C> "; break;
		default: at = l->sev ? sev_attr(u, (enum ui_sev)l->sev) : cpair(u, P_TXN, A_NORMAL); dir = "   "; break;
		}
		snprintf(t, sizeof t, "%4" PRIu64 ".%03u %s", dt / 1000000, (unsigned)(dt % 1000000 / 1000), dir);
		dl_seg(u, d, A_NORMAL, t, strlen(t));
		dl_seg(u, d, at, l->text, strlen(l->text));
		if (l->label) {
			snprintf(t, sizeof t, "  [%s]", l->label);
			dl_seg(u, d, cpair(u, P_LABEL, A_DIM), t, strlen(t));
		}
	}
	if (s->lines_more) {
		snprintf(t, sizeof t, "\xe2\x80\xa6 %" PRIu64 " more lines (not kept: %d lines per session)", s->lines_more,
		         UI_MODEL_LINES_MAX);
		dl_text(u, A_BOLD, u->utf8 ? t : t + 3);
	}
	if (s->closed)
		dl_text(u, A_NORMAL, "(session closed)");
}

static void draw_detail(struct ui *u)
{
	WINDOW *w = u->body;
	int H = getmaxy(w);
	werase(w);
	const struct ui_session *s = ui_model_find(u->m, u->detail_id);
	if (!s) {
		puts_at(u, w, 1, 2, "This session is no longer in memory (q goes back).", getmaxx(w) - 2);
		wnoutrefresh(w);
		return;
	}
	build_detail(u, s);
	int total = dl_render(u, w, 0, H, false);
	u->drows = total;
	if (u->dbottom)
		u->dtop = total - H;
	if (u->dtop > total - H)
		u->dtop = total - H;
	if (u->dtop < 0)
		u->dtop = 0;
	dl_render(u, w, u->dtop, H, true);
	wnoutrefresh(w);
}

/* ---- findings ----------------------------------------------------------- */

static size_t findings_visible(struct ui *u, size_t *skip)
{
	size_t n = ui_model_nfindings(u->m), k = 0;
	if (u->frozen)
		while (k < n && ui_model_finding(u->m, k)->seq > u->frozen_fseq)
			k++;
	*skip = k;
	return n - k;
}

static void draw_findings(struct ui *u)
{
	WINDOW *w = u->body;
	int H = getmaxy(w), W = getmaxx(w);
	werase(w);
	size_t skip, n = findings_visible(u, &skip);
	wattron(w, A_REVERSE | A_BOLD);
	char t[UI_MODEL_TEXT_MAX + 128];
	snprintf(t, sizeof t, "%-8s %-6s %-22s %-8s %-26s %s", "time", "sev", "finding", "session", "client",
	         "explanation (newest first)");
	puts_at(u, w, 0, 0, t, W);
	pad_to(w, W);
	wattroff(w, A_REVERSE | A_BOLD);
	int rows = H - 1;
	if (u->fsel >= (int)n)
		u->fsel = (int)n - 1;
	if (u->fsel < 0)
		u->fsel = 0;
	if (u->fsel < u->ftop)
		u->ftop = u->fsel;
	if (u->fsel >= u->ftop + rows)
		u->ftop = u->fsel - rows + 1;
	if (u->ftop < 0)
		u->ftop = 0;
	if (!n)
		puts_at(u, w, 2, 2, "no findings yet", W - 2);
	for (int r = 0; r < rows && u->ftop + r < (int)n; r++) {
		const struct ui_finding *f = ui_model_finding(u->m, skip + (size_t)(u->ftop + r));
		char clk[16], sid[24];
		fmt_clock(clk, sizeof clk, f->ts_us);
		snprintf(sid, sizeof sid, "#%" PRIu64, f->sess_id);
		snprintf(t, sizeof t, "%-8s %-6s %-22s %-8s %-26s %s", clk, ui_sev_str(f->sev), f->id, sid, f->client,
		         f->detail);
		attr_t at = sev_attr(u, f->sev);
		if (u->ftop + r == u->fsel)
			at |= A_REVERSE;
		wattron(w, at);
		puts_at(u, w, r + 1, 0, t, W);
		if (u->ftop + r == u->fsel)
			pad_to(w, W);
		wattroff(w, at);
	}
	wnoutrefresh(w);
}

/* ---- help --------------------------------------------------------------- */

static const char *const help_text[] = {
	"smtpscope — keys",
	"",
	"Everywhere",
	"  ?              this help",
	"  q / Esc        back (from a detail, findings or help view); q in the session table quits",
	"  Q              quit from any view",
	"  f              findings view: all findings, newest first",
	"  p              pause the display (the row list freezes; capture and counters go on); again to resume",
	"  space          pause reading the capture file (files only); again to resume",
	"  n              while paused: step to the next SMTP event (feeds packets until something happens)",
	"  N              while paused: step one batch of 256 packets",
	"  Ctrl-L         redraw the whole screen",
	"",
	"Moving",
	"  Up / k, Down / j      previous / next row (or scroll one line)",
	"  PgUp, PgDn            one page",
	"  Home                  first row (follow mode off)",
	"  End                   last row; in the session table also turns follow mode on",
	"",
	"Session table",
	"  Enter          session detail: labelled transcript, decoded AUTH, headers and findings",
	"  /              filter: type text matched against every field (case-insensitive);",
	"                 Enter keeps it, Esc clears it; Esc in the table also clears it",
	"  s / S          cycle the sort column / reverse the order",
	"  F              follow mode: keep the newest session selected",
	"",
	"Findings view",
	"  Enter          open the session of the selected finding",
	"",
	"Rows are coloured by their worst finding: high red, medium yellow, low cyan, info blue.",
	"Every byte from the wire is shown escaped (\\xHH), passwords as ******** unless --show-secrets.",
	NULL,
};

static void draw_help(struct ui *u)
{
	WINDOW *w = u->body;
	int H = getmaxy(w), W = getmaxx(w);
	werase(w);
	int n = 0;
	while (help_text[n])
		n++;
	if (u->htop > n - H)
		u->htop = n - H;
	if (u->htop < 0)
		u->htop = 0;
	for (int r = 0; r < H && u->htop + r < n; r++) {
		attr_t at = (u->htop + r == 0 || help_text[u->htop + r][0] != ' ') ? A_BOLD : A_NORMAL;
		wattron(w, at);
		puts_at(u, w, r, 1, help_text[u->htop + r], W - 1);
		wattroff(w, at);
	}
	wnoutrefresh(w);
}

/* ---- windows ------------------------------------------------------------ */

static void layout(struct ui *u)
{
	if (u->head)
		delwin(u->head);
	if (u->body)
		delwin(u->body);
	if (u->foot)
		delwin(u->foot);
	int H = LINES, W = COLS;
	if (H < UI_HEAD_ROWS + 3)
		H = UI_HEAD_ROWS + 3;
	if (W < 20)
		W = 20;
	u->head = newwin(UI_HEAD_ROWS, W, 0, 0);
	u->body = newwin(H - UI_HEAD_ROWS - 1, W, UI_HEAD_ROWS, 0);
	u->foot = newwin(1, W, H - 1, 0);
	if (!u->head || !u->body || !u->foot) {
		/* a terminal too small for windows: leave the screen as is */
		return;
	}
}

static void draw(struct ui *u)
{
	if (!u->head || !u->body || !u->foot)
		return;
	draw_head(u);
	switch (u->view) {
	case V_TABLE: draw_table(u); break;
	case V_DETAIL: draw_detail(u); break;
	case V_FINDINGS: draw_findings(u); break;
	case V_HELP: draw_help(u); break;
	}
	draw_foot(u);
	doupdate();
}

/* ---- keys --------------------------------------------------------------- */

static int page(struct ui *u)
{
	int h = u->body ? getmaxy(u->body) - 1 : 10;
	return h > 1 ? h : 1;
}

static void open_detail(struct ui *u, uint64_t id, enum view back)
{
	u->detail_id = id;
	u->dtop = 0;
	u->dbottom = false;
	u->back = back;
	u->view = V_DETAIL;
}

static void toggle_input_pause(struct ui *u)
{
	if (u->live) {
		say(u, "a live capture cannot be paused: p freezes the display instead");
		return;
	}
	if (u->eof) {
		say(u, "the capture has been read to the end");
		return;
	}
	u->in_paused = !u->in_paused;
	u->rt_based = false; /* realtime: pace again from the next packet */
	say(u, u->in_paused ? "input paused: n steps to the next event, N steps 256 packets, space resumes"
	                    : "input resumed");
}

static void key_move(struct ui *u, int key, int *sel, int n, int pg)
{
	switch (key) {
	case KEY_UP: case 'k': (*sel)--; break;
	case KEY_DOWN: case 'j': (*sel)++; break;
	case KEY_PPAGE: *sel -= pg; break;
	case KEY_NPAGE: *sel += pg; break;
	case KEY_HOME: case 'g': *sel = 0; break;
	case KEY_END: case 'G': *sel = n - 1; break;
	}
	if (*sel >= n)
		*sel = n - 1;
	if (*sel < 0)
		*sel = 0;
	(void)u;
}

static bool is_move(int key)
{
	return key == KEY_UP || key == KEY_DOWN || key == 'j' || key == 'k' || key == KEY_PPAGE || key == KEY_NPAGE ||
	       key == KEY_HOME || key == KEY_END || key == 'g' || key == 'G';
}

static void handle_key(struct ui *u, int key)
{
	if (key == KEY_RESIZE) {
		layout(u);
		clearok(curscr, TRUE);
		return;
	}
	if (key == 12) { /* Ctrl-L */
		clearok(curscr, TRUE);
		return;
	}
	if (u->editing) {
		size_t n = strlen(u->filter);
		if (key == 27) {
			u->filter[0] = '\0';
			u->editing = false;
		} else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
			u->editing = false;
		} else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
			while (n > 0 && ((unsigned char)u->filter[n - 1] & 0xc0) == 0x80)
				n--;
			if (n > 0)
				n--;
			u->filter[n] = '\0';
		} else if (key >= 0x20 && key < 0x100 && key != 0x7f && n + 1 < sizeof u->filter) {
			u->filter[n] = (char)key; /* bytes of a UTF-8 sequence arrive one by one */
			u->filter[n + 1] = '\0';
		}
		u->top = 0;
		return;
	}
	/* keys of every view */
	switch (key) {
	case 'Q':
		u->quit = true;
		return;
	case '?':
		u->htop = 0;
		if (u->view != V_HELP)
			u->back = u->view == V_DETAIL ? u->back : u->view;
		u->view = V_HELP;
		return;
	case 'f':
		u->view = V_FINDINGS;
		return;
	case 'p':
		freeze(u, !u->frozen);
		say(u, u->frozen ? "display paused: the list is frozen, capture goes on (p resumes)" : "display resumed");
		return;
	case ' ':
		toggle_input_pause(u);
		return;
	case 'n':
	case 'N':
		if (u->live || u->eof || !u->in_paused) {
			say(u, u->in_paused || u->live || u->eof ? "nothing to step" : "pause the input with space first");
			return;
		}
		if (key == 'n')
			u->step_event = true;
		else
			u->step = UI_BIGSTEP;
		return;
	}
	switch (u->view) {
	case V_TABLE:
		if (key == 'q') {
			u->quit = true;
		} else if (key == 27) {
			u->filter[0] = '\0';
		} else if (key == '/') {
			u->editing = true;
		} else if (key == 's') {
			u->sort = (enum col)((u->sort + 1) % C__COUNT);
		} else if (key == 'S') {
			u->sort_rev = !u->sort_rev;
		} else if (key == 'F') {
			u->follow = !u->follow;
			say(u, u->follow ? "follow mode on" : "follow mode off");
		} else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
			if (u->nrows && u->sel < (int)u->nrows)
				open_detail(u, u->rows[u->sel]->id, V_TABLE);
		} else if (is_move(key)) {
			u->follow = key == KEY_END || key == 'G';
			key_move(u, key, &u->sel, (int)u->nrows, page(u));
			if (u->nrows)
				u->sel_id = u->rows[u->sel]->id;
		}
		break;
	case V_DETAIL:
		if (key == 'q' || key == 27) {
			u->view = u->back == V_DETAIL || u->back == V_HELP ? V_TABLE : u->back;
		} else if (is_move(key)) {
			int H = u->body ? getmaxy(u->body) : 10;
			int maxtop = u->drows - H > 0 ? u->drows - H : 0;
			u->dbottom = key == KEY_END || key == 'G';
			switch (key) {
			case KEY_UP: case 'k': u->dtop--; break;
			case KEY_DOWN: case 'j': u->dtop++; break;
			case KEY_PPAGE: u->dtop -= H - 1; break;
			case KEY_NPAGE: u->dtop += H - 1; break;
			case KEY_HOME: case 'g': u->dtop = 0; break;
			default: u->dtop = maxtop; break;
			}
			if (u->dtop > maxtop)
				u->dtop = maxtop;
			if (u->dtop < 0)
				u->dtop = 0;
		}
		break;
	case V_FINDINGS:
		if (key == 'q' || key == 27) {
			u->view = V_TABLE;
		} else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
			size_t skip, n = findings_visible(u, &skip);
			if (n && u->fsel < (int)n) {
				const struct ui_finding *f = ui_model_finding(u->m, skip + (size_t)u->fsel);
				if (ui_model_find(u->m, f->sess_id))
					open_detail(u, f->sess_id, V_FINDINGS);
				else
					say(u, "that session is no longer in memory");
			}
		} else if (is_move(key)) {
			size_t skip, n = findings_visible(u, &skip);
			key_move(u, key, &u->fsel, (int)n, page(u));
		}
		break;
	case V_HELP:
		if (key == 'q' || key == 27) {
			u->view = u->back == V_HELP ? V_TABLE : u->back;
			if (u->view == V_DETAIL && !ui_model_find(u->m, u->detail_id))
				u->view = V_TABLE;
		} else if (key == KEY_DOWN || key == 'j' || key == KEY_NPAGE) {
			u->htop += key == KEY_NPAGE ? page(u) : 1;
		} else if (key == KEY_UP || key == 'k' || key == KEY_PPAGE) {
			u->htop -= key == KEY_PPAGE ? page(u) : 1;
		} else if (key == KEY_HOME) {
			u->htop = 0;
		}
		break;
	}
}

/* Read every pending key (bounded). Returns true if any arrived. */
static bool read_keys(struct ui *u)
{
	bool any = false;
	for (int i = 0; i < 256; i++) {
		int key = wgetch(stdscr);
		if (key == ERR)
			break;
		any = true;
		handle_key(u, key);
		if (u->quit)
			break;
	}
	return any;
}

/* ---- feeding ------------------------------------------------------------ */

static void at_eof(struct ui *u)
{
	u->eof = true;
	u->in_paused = false;
	analyzer_finish(u->a->an); /* close what is still open (main's second call is a no-op) */
	event_bus_flush(u->a->bus);
	say(u, "end of capture: q quits");
}

/* Files: feed for at most UI_FEED_MS (flat out or paced). */
static void feed_file(struct ui *u)
{
	struct source *src = u->a->src;
	struct analyzer *an = u->a->an;
	uint64_t t0 = mono_us();
	if (u->step_event || u->step) {
		uint64_t g = ui_model_gen(u->m);
		long budget = u->step_event ? UI_STEP_MAX : u->step;
		for (long i = 0; i < budget; i++) {
			if (source_feed(src, an, 1) == SOURCE_EOF) {
				at_eof(u);
				break;
			}
			if (u->step_event && ui_model_gen(u->m) != g)
				break;
		}
		u->step = 0;
		u->step_event = false;
		return;
	}
	if (u->in_paused)
		return;
	if (!u->realtime) {
		do {
			if (source_feed(src, an, UI_BATCH) == SOURCE_EOF) {
				at_eof(u);
				return;
			}
		} while (mono_us() - t0 < UI_FEED_MS * 1000u && !*u->a->stop);
		return;
	}
	/* realtime: a packet is due when its offset from the base has elapsed */
	for (int i = 0; i < 4 * UI_BATCH; i++) {
		uint64_t ts;
		if (!source_peek_ts(src, &ts)) {
			if (source_feed(src, an, 1) == SOURCE_EOF)
				at_eof(u);
			return;
		}
		uint64_t now = mono_us();
		if (!u->rt_based || ts < u->rt_base_ts) {
			u->rt_base_ts = ts;
			u->rt_base_wall = now;
			u->rt_based = true;
		}
		if (ts - u->rt_base_ts > now - u->rt_base_wall)
			return;
		if (source_feed(src, an, 1) == SOURCE_EOF) {
			at_eof(u);
			return;
		}
		if (now - t0 > UI_FEED_MS * 1000u)
			return;
	}
}

/* Realtime: milliseconds until the next packet is due (-1: none known). */
static int due_ms(struct ui *u)
{
	uint64_t ts;
	if (!u->rt_based || !source_peek_ts(u->a->src, &ts))
		return 0;
	uint64_t now = mono_us();
	uint64_t due = u->rt_base_wall + (ts - u->rt_base_ts);
	if (due <= now)
		return 0;
	uint64_t ms = (due - now + 999) / 1000;
	return ms > 1000 ? 1000 : (int)ms;
}

static void feed_live(struct ui *u)
{
	uint64_t t0 = mono_us();
	for (int i = 0; i < 64; i++) {
		int r = source_feed(u->a->src, u->a->an, UI_BATCH);
		if (r == SOURCE_EOF) {
			u->live_dead = true;
			const char *f = source_fatal(u->a->src);
			char t[200];
			snprintf(t, sizeof t, "capture stopped: %s", f ? f : "end of input");
			say(u, t);
			u->msg_until = UINT64_MAX;
			return;
		}
		if (r == 0 || mono_us() - t0 > UI_FEED_MS * 1000u)
			return;
	}
}

/* ---- the loop ----------------------------------------------------------- */

static void colors_init(struct ui *u)
{
	u->color = has_colors();
	if (!u->color)
		return;
	start_color();
	short bg = -1;
	if (use_default_colors() == ERR)
		bg = COLOR_BLACK;
	init_pair(P_HIGH, COLOR_RED, bg);
	init_pair(P_MEDIUM, COLOR_YELLOW, bg);
	init_pair(P_LOW, COLOR_CYAN, bg);
	init_pair(P_INFO, COLOR_BLUE, bg);
	init_pair(P_GREEN, COLOR_GREEN, bg);
	init_pair(P_CYAN, COLOR_CYAN, bg);
	init_pair(P_LABEL, COLOR_MAGENTA, bg);
	init_pair(P_TXN, COLOR_BLUE, bg);
}

int ui_run(struct ui_args *a, char *err, size_t errlen)
{
	if (!isatty(STDOUT_FILENO)) {
		snprintf(err, errlen, "--ui needs a terminal on standard output");
		return -1;
	}
	FILE *in = stdin;
	bool own_in = false;
	if (!isatty(STDIN_FILENO)) { /* e.g. -r - : the keyboard is the controlling terminal */
		in = fopen("/dev/tty", "r");
		if (!in) {
			snprintf(err, errlen, "--ui needs a terminal for the keyboard (/dev/tty)");
			return -1;
		}
		own_in = true;
	}
	setlocale(LC_ALL, "");
	const char *cs = setlocale(LC_CTYPE, NULL);
	g_tio_ok = tcgetattr(STDOUT_FILENO, &g_tio) == 0;

	static struct ui u; /* large; one UI per process */
	memset(&u, 0, sizeof u);
	u.a = a;
	u.in = in;
	u.utf8 = MB_CUR_MAX > 1 && cs && (strstr(cs, "UTF-8") || strstr(cs, "utf8") || strstr(cs, "UTF8") ||
	                                 strstr(cs, "utf-8"));
	u.m = ui_model_new(a->show_secrets);
	event_bus_add(a->bus, ui_model_sink(u.m)); /* the bus owns and frees it */
	u.live = source_live(a->src);
	u.realtime = a->realtime && !u.live;
	u.follow = true;
	u.sort = C_TIME;
	u.view = V_TABLE;
	u.back = V_TABLE;

	SCREEN *scr = newterm(NULL, stdout, in);
	if (!scr) {
		snprintf(err, errlen, "cannot initialise the terminal (TERM=%s)", getenv("TERM") ? getenv("TERM") : "");
		if (own_in)
			fclose(in);
		return -1;
	}
	g_active = 1;
	guard_install();
	set_escdelay(25);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	colors_init(&u);
	wnoutrefresh(stdscr); /* stdscr only reads keys: never drawn, never refreshed again */
	layout(&u);
	u.start_wall = mono_us();

	uint64_t last_draw = 0, last_tick = 0, drawn_gen = (uint64_t)-1;
	bool key_pending = true;
	int fd_in = fileno(in);
	while (!*a->stop && !u.quit) {
		uint64_t now = mono_us();
		int timeout = 100;
		bool busy = !u.live && !u.eof && ((!u.in_paused && !u.realtime) || u.step || u.step_event);
		if (busy)
			timeout = 0;
		else if (!u.live && !u.eof && !u.in_paused && u.realtime)
			timeout = due_ms(&u) < timeout ? due_ms(&u) : timeout;
		if (key_pending || ui_model_gen(u.m) != drawn_gen) {
			uint64_t next = last_draw + (key_pending ? UI_KEY_FRAME_US : UI_FRAME_US);
			int ms = next > now ? (int)((next - now + 999) / 1000) : 0;
			if (ms < timeout)
				timeout = ms;
		}
		struct pollfd pfd[2] = { { fd_in, POLLIN, 0 }, { -1, POLLIN, 0 } };
		nfds_t nfd = 1;
		if (u.live && !u.live_dead && source_fd(a->src) >= 0) {
			pfd[1].fd = source_fd(a->src);
			nfd = 2;
		}
		int pr = poll(pfd, nfd, timeout);
		if (pr < 0 && errno != EINTR)
			break;
		if (*a->stop)
			break;
		/* keyboard first: a flood of packets never starves it */
		if (read_keys(&u))
			key_pending = true;
		if (u.quit)
			break;
		if (u.live) {
			if (!u.live_dead)
				feed_live(&u);
			now = mono_us();
			if (now - last_tick >= UI_TICK_US) {
				uint64_t w = wall_us();
				analyzer_tick(a->an, w);
				ui_model_tick(u.m, w);
				event_bus_flush(a->bus);
				last_tick = now;
			}
		} else if (!u.eof) {
			feed_file(&u);
		}
		now = mono_us();
		bool changed = ui_model_gen(u.m) != drawn_gen;
		uint64_t gap = now - last_draw;
		if ((key_pending && gap >= UI_KEY_FRAME_US) || (changed && gap >= UI_FRAME_US) ||
		    gap >= UI_IDLE_FRAME_US || (busy && gap >= UI_FRAME_US)) {
			drawn_gen = ui_model_gen(u.m);
			draw(&u);
			last_draw = now;
			key_pending = false;
		}
	}

	/* leave the terminal as we found it */
	delwin(u.head);
	delwin(u.body);
	delwin(u.foot);
	u.head = u.body = u.foot = NULL;
	endwin();
	g_active = 0;
	delscreen(scr);
	guard_remove();
	if (own_in)
		fclose(in);
	free(u.rows);
	free(u.frozen_ids);
	free(u.dl);
	sbuf_free(&u.arena);
	fflush(stdout);
	return 0;
}
