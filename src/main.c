/* main — options, wiring of capture -> analyzer -> sinks, the poll loop,
 * signals and the exit status. No protocol details live here. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <sys/stat.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "analyzer.h"
#include "anomaly.h"
#include "capture.h"
#include "event.h"
#include "out.h"
#include "extract.h"
#include "msgwire.h"
#include "out_flows.h"
#include "out_summary.h"
#include "sandbox.h"
#include "sbuf.h"
#include "source.h"
#include "tls_crypt.h"
#include "ui.h"

#ifndef SMTPSCOPE_VERSION
#define SMTPSCOPE_VERSION "0.0.0"
#endif

/* Exit statuses (documented in docs/smtpscope.1 and --help). */
enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_DAMAGED = 2, EXIT_FINDINGS = 3 };

#define MAX_PORTS 64
#define MAX_FILES 256
#define DEFAULT_MAX_MEMORY ((size_t)256 << 20) /* heap cap: sized for a small machine */
#define BATCH     4096 /* packets per dispatch: bounds the time between keyboard/signal checks */

static volatile sig_atomic_t stop_requested;
static struct source *g_src; /* for the signal handler's breakloop */

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (g_src)
		source_breakloop(g_src);
}

static void usage(FILE *f)
{
	fputs("usage: smtpscope [options] (-r FILE... | -i IFACE) [BPF expression]\n"
	      "Watch SMTP sessions: commands, replies, AUTH, envelope vs From: header.\n"
	      "\n"
	      "input:\n"
	      "  -r FILE...            read pcap/pcapng files ('-' = stdin; gzip'd ones too),\n"
	      "                        merged by timestamp as one capture\n"
	      "  --separate            analyse each -r file on its own\n"
	      "  -i IFACE              capture live on an interface\n"
	      "  -Z USER               after opening IFACE as root, run as USER (default nobody)\n"
	      "  --ports LIST          SMTP server ports (default 25,465,587,2025)\n"
	      "  --tls-ports LIST      ports with TLS from the first byte (default 465)\n"
	      "  --tls-keylog FILE     TLS key log (SSLKEYLOGFILE) to decrypt with; repeatable\n"
	      "  --any-port            also find SMTP by content on every other TCP port\n"
	      "  BPF expression        further restricts packets, as in tcpdump\n"
	      "  --ui / --no-ui        interactive UI (default with -i on a terminal)\n"
	      "  --realtime            with --ui -r: replay at capture pace\n"
	      "output (default: text transcript on stdout):\n"
	      "  --json[=FILE]         JSON Lines to stdout or FILE\n"
	      "  --events              also one JSON record per command and reply\n"
	      "  --findings-only       only transactions with a finding\n"
	      "  --show-body           print message bodies in the transcript\n"
	      "  --show-secrets        show decoded passwords (masked by default)\n"
	      "  --strict-alignment    From:/MAIL FROM domains must match exactly\n"
	      "  --color=WHEN          auto (default), always or never; NO_COLOR is honoured\n"
	      "  --extract DIR         each message as DIR/<time>_<session>_<n>.eml + .json\n"
	      "  --mbox FILE           append each message to FILE (mboxrd)\n"
	      "  --flows               one line per TCP flow instead of SMTP (diagnostic)\n"
	      "  --dump-streams DIR    write each direction's reassembled bytes to DIR\n"
	      "  --summary             only the run's totals (a JSON record with --json)\n"
	      "  --fail-on SEVERITY    exit 3 if a finding of SEVERITY or worse was seen\n"
	      "  --max-memory SIZE     heap cap, e.g. 256M (default); flows are evicted beyond\n"
	      "  --threads N           1, or 2: SMTP analysis and output on a second thread\n"
	      "                        (default 2 with two or more CPUs; the UI uses 1)\n"
	      "  --no-sandbox          no Landlock/seccomp confinement once the outputs are\n"
	      "                        open (for debugging; see docs/security.md)\n"
	      "  -q, --quiet           no progress, warnings or statistics on stderr\n"
	      "  -h, --help            this help;  -V, --version  the version\n"
	      "\n"
	      "exit status: 0 ok, 1 usage or fatal error, 2 input damaged but analysed,\n"
	      "             3 a finding at or above --fail-on was seen\n",
	      f);
}

static void die_usage(const char *fmt, const char *arg)
{
	fputs("smtpscope: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see smtpscope --help)\n", stderr);
	exit(EXIT_USAGE);
}

/* "64M", "1G", "512K", "100000": bytes; at least 16 MiB. */
static size_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-')
		die_usage("invalid size '%s': want a number with an optional K, M or G", s);
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		shift = 20, end++;
	else if (*end == 'G' || *end == 'g')
		shift = 30, end++;
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > (~0ull >> shift))
		die_usage("invalid size '%s': want a number with an optional K, M or G", s);
	v <<= shift;
	if (v < (16ull << 20))
		die_usage("--max-memory %s is too small: at least 16M", s);
	return (size_t)v;
}

static size_t parse_ports(const char *s, uint16_t *out, size_t max)
{
	size_t n = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno || v < 1 || v > 65535 || (*end && *end != ','))
			die_usage("invalid port list '%s': want numbers 1-65535 separated by commas", s);
		if (n >= max)
			die_usage("too many ports in '%s'", s);
		out[n++] = (uint16_t)v;
		p = *end ? end + 1 : end;
		if (*end == ',' && !*p)
			die_usage("invalid port list '%s': trailing comma", s);
	}
	if (!n)
		die_usage("invalid port list '%s'", s);
	return n;
}

/* Become user (and its groups) for good. */
static int drop_privileges(const char *user, char *err, size_t len)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, len, "-Z %s: no such user", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		snprintf(err, len, "cannot become user %s: %s", user, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		snprintf(err, len, "cannot drop root privileges for %s", user);
		return -1;
	}
	return 0;
}

/* As root, refuse to write into a directory another user owns: they could
 * plant a symlink or a hard link there (the classic /tmp attack). */
static int check_output_path(const char *path, bool is_dir, char *err, size_t len)
{
	if (geteuid() != 0)
		return 0;
	char *copy = xstrndup(path, strlen(path));
	struct stat st;
	const char *dir = dirname(copy);
	int rc = 0;
	if (stat(dir, &st) == 0 && st.st_uid != 0) {
		snprintf(err, len, "refusing to write %s as root into %s, owned by uid %u (run as that user, or choose another place)",
		         path, dir, (unsigned)st.st_uid);
		rc = -1;
	} else if (is_dir && stat(path, &st) == 0 && st.st_uid != 0) {
		snprintf(err, len, "refusing to write into %s as root: it is owned by uid %u", path, (unsigned)st.st_uid);
		rc = -1;
	}
	free(copy);
	return rc;
}

/* The progress line on stderr (files on a terminal, not with -q). */
struct progress {
	bool on;              /* draw it */
	uint64_t start_us;    /* first tick */
	uint64_t last_us;     /* last redraw */
};

static uint64_t now_us(void);

static void human_bytes(char *buf, size_t len, double v)
{
	const char *u[] = { "B", "KB", "MB", "GB", "TB" };
	int i = 0;
	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void progress_tick(struct progress *p, struct source *src, struct sink *sum)
{
	if (!p->on)
		return;
	uint64_t now = now_us();
	if (!p->start_us)
		p->start_us = now;
	if (now - p->last_us < 250000)
		return;
	p->last_us = now;
	struct capture_stats cs;
	source_stats(src, &cs);
	uint64_t sessions, findings;
	out_summary_progress(sum, &sessions, &findings);
	double secs = (double)(now - p->start_us) / 1e6;
	double rate = secs > 0 ? (double)cs.file_bytes / secs : 0;
	char done[32], total[32], r[32], line[256];
	human_bytes(done, sizeof done, (double)cs.file_bytes);
	human_bytes(r, sizeof r, rate);
	if (cs.file_size && cs.file_bytes <= cs.file_size) {
		double frac = (double)cs.file_bytes / (double)cs.file_size;
		int w = 20, k = (int)(frac * w);
		char bar[32];
		for (int i = 0; i < w; i++)
			bar[i] = i < k ? '#' : '.';
		bar[w] = '\0';
		double eta = rate > 0 ? (double)(cs.file_size - cs.file_bytes) / rate : 0;
		human_bytes(total, sizeof total, (double)cs.file_size);
		snprintf(line, sizeof line, "[%s] %3.0f%% %s/%s  %s/s  ETA %d:%02d  sessions %llu  findings %llu", bar,
		         frac * 100, done, total, r, (int)eta / 60, (int)eta % 60, (unsigned long long)sessions,
		         (unsigned long long)findings);
	} else {
		snprintf(line, sizeof line, "%s read  %s/s  sessions %llu  findings %llu", done, r,
		         (unsigned long long)sessions, (unsigned long long)findings);
	}
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
}

static void progress_end(struct progress *p)
{
	if (p->on && p->last_us)
		fputs("\r\033[K", stderr);
}

static uint64_t now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* ---- options ------------------------------------------------------------
 * Every option is one row of optdefs[] below: its names, its argument, whether
 * it may be repeated, and what it sets in struct opts. Which options cannot go
 * together is the table conflicts[]; both are checked here, before anything
 * is opened. Adding an option: a field in struct opts, a row in optdefs[]
 * (with a setter when it is more than a flag or a string), a line in usage()
 * and in docs/smtpscope.1, and its use in run_open(). */

struct opts {
	const char *files[MAX_FILES]; /* -r, in order */
	size_t nfiles;
	const char *iface;            /* -i */
	const char *run_as;           /* -Z USER */
	uint16_t ports[MAX_PORTS];    /* --ports */
	size_t nports;
	uint16_t tls_ports[MAX_PORTS]; /* --tls-ports: implicit TLS (RFC 8314) */
	size_t ntls_ports;
	bool tls_ports_given;
	const char *keylogs[MAX_FILES]; /* --tls-keylog, in order */
	size_t nkeylogs;
	bool any_port, separate;
	bool ui, no_ui, realtime;
	bool json;                    /* --json[=FILE] */
	const char *json_path;        /* its FILE, or NULL: standard output */
	bool events, findings_only, body, secrets, strict;
	const char *color;            /* --color WHEN (default "auto") */
	bool no_color;
	const char *extract_dir, *mbox_path, *dump_dir;
	bool flows, summary;
	int fail_on;                  /* severity rank, -1: not asked */
	size_t max_memory;
	int threads;                  /* 1 or 2 */
	bool no_sandbox, quiet;
	bool help, version;           /* -h, -V: print and exit */
	struct sbuf bpf;              /* the BPF expression, words joined by spaces */
};

static void opts_init(struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->ports[0] = 25, o->ports[1] = 465, o->ports[2] = 587, o->ports[3] = 2025;
	o->nports = 4;
	o->tls_ports[0] = 465;
	o->ntls_ports = 1;
	o->color = "auto";
	o->fail_on = -1;
	o->max_memory = DEFAULT_MAX_MEMORY;
	o->threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
	o->bpf = (struct sbuf)SBUF_INIT;
}

/* Setters for options that are more than a flag or a string. */
static void set_ports(struct opts *o, const char *a) { o->nports = parse_ports(a, o->ports, MAX_PORTS); }
static void set_max_memory(struct opts *o, const char *a) { o->max_memory = parse_size(a); }

static void set_tls_ports(struct opts *o, const char *a)
{
	o->ntls_ports = parse_ports(a, o->tls_ports, MAX_PORTS);
	o->tls_ports_given = true;
}

static void add_keylog(struct opts *o, const char *a)
{
	if (o->nkeylogs >= MAX_FILES)
		die_usage("%s", "too many --tls-keylog files (at most 256)");
	o->keylogs[o->nkeylogs++] = a;
}

static void set_json(struct opts *o, const char *a)
{
	o->json = true;
	o->json_path = a;
}

static void set_color(struct opts *o, const char *a)
{
	if (strcmp(a, "auto") && strcmp(a, "always") && strcmp(a, "never"))
		die_usage("--color wants auto, always or never, not '%s'", a);
	o->color = a;
}

static void set_threads(struct opts *o, const char *a)
{
	if (strcmp(a, "1") != 0 && strcmp(a, "2") != 0)
		die_usage("--threads %s: want 1 or 2", a);
	o->threads = a[0] - '0';
}

static void set_fail_on(struct opts *o, const char *a)
{
	if (strcmp(a, "info") && strcmp(a, "low") && strcmp(a, "medium") && strcmp(a, "high"))
		die_usage("--fail-on wants info, low, medium or high, not '%s'", a);
	o->fail_on = summary_severity_rank(a);
}

static void add_file(struct opts *o, const char *a)
{
	if (o->nfiles >= MAX_FILES)
		die_usage("%s", "too many -r files (at most 256)");
	o->files[o->nfiles++] = a;
}

enum opt_kind { OK_FLAG, OK_STR, OK_FN };
enum { OPTF_REPEAT = 1 }; /* may be given more than once, each adds */

struct optdef {
	const char *name;   /* long name */
	int short_name;     /* the one-letter form, or 0 */
	int arg;            /* no_argument, required_argument, optional_argument */
	const char *what;   /* the argument, for messages */
	unsigned flags;     /* OPTF_* */
	enum opt_kind kind;
	size_t off;         /* OK_FLAG: bool, OK_STR: const char * in struct opts */
	void (*set)(struct opts *o, const char *arg); /* OK_FN */
};

#define FLAG(f) OK_FLAG, offsetof(struct opts, f), NULL
#define STR(f)  OK_STR, offsetof(struct opts, f), NULL
#define FN(fn)  OK_FN, 0, fn

static const struct optdef optdefs[] = {
	/* input */
	{ "read", 'r', required_argument, "FILE", OPTF_REPEAT, FN(add_file) },
	{ "separate", 0, no_argument, NULL, 0, FLAG(separate) },
	{ "interface", 'i', required_argument, "IFACE", 0, STR(iface) },
	{ "user", 'Z', required_argument, "USER", 0, STR(run_as) },
	{ "ports", 0, required_argument, "LIST", 0, FN(set_ports) },
	{ "any-port", 0, no_argument, NULL, 0, FLAG(any_port) },
	{ "tls-ports", 0, required_argument, "LIST", 0, FN(set_tls_ports) },
	{ "tls-keylog", 0, required_argument, "FILE", OPTF_REPEAT, FN(add_keylog) },
	{ "ui", 0, no_argument, NULL, 0, FLAG(ui) },
	{ "no-ui", 0, no_argument, NULL, 0, FLAG(no_ui) },
	{ "realtime", 0, no_argument, NULL, 0, FLAG(realtime) },
	/* output */
	{ "json", 0, optional_argument, "FILE", 0, FN(set_json) },
	{ "events", 0, no_argument, NULL, 0, FLAG(events) },
	{ "findings-only", 0, no_argument, NULL, 0, FLAG(findings_only) },
	{ "show-body", 0, no_argument, NULL, 0, FLAG(body) },
	{ "show-secrets", 0, no_argument, NULL, 0, FLAG(secrets) },
	{ "strict-alignment", 0, no_argument, NULL, 0, FLAG(strict) },
	{ "color", 0, required_argument, "WHEN", 0, FN(set_color) },
	{ "no-color", 0, no_argument, NULL, 0, FLAG(no_color) },
	{ "extract", 0, required_argument, "DIR", 0, STR(extract_dir) },
	{ "mbox", 0, required_argument, "FILE", 0, STR(mbox_path) },
	{ "flows", 0, no_argument, NULL, 0, FLAG(flows) },
	{ "dump-streams", 0, required_argument, "DIR", 0, STR(dump_dir) },
	{ "summary", 0, no_argument, NULL, 0, FLAG(summary) },
	{ "fail-on", 0, required_argument, "SEVERITY", 0, FN(set_fail_on) },
	{ "max-memory", 0, required_argument, "SIZE", 0, FN(set_max_memory) },
	{ "threads", 0, required_argument, "N", 0, FN(set_threads) },
	{ "no-sandbox", 0, no_argument, NULL, 0, FLAG(no_sandbox) },
	{ "quiet", 'q', no_argument, NULL, 0, FLAG(quiet) },
	{ "help", 'h', no_argument, NULL, 0, FLAG(help) },
	{ "version", 'V', no_argument, NULL, 0, FLAG(version) },
};
#define N_OPTDEFS (sizeof optdefs / sizeof optdefs[0])
#define OPT_VAL_BASE 256 /* getopt value of optdefs[i] without a short name: OPT_VAL_BASE + i */

/* Pairs that cannot go together (by long name). A pair is refused when both
 * were given, in any order; the message names both as they were written. */
static const struct {
	const char *a, *b, *why;
} conflicts[] = {
	{ "read", "interface", "read files or capture live, not both" },
	{ "ui", "no-ui", "choose one" },
	{ "color", "no-color", "--no-color is --color=never; choose one" },
	{ "summary", "flows", "--flows replaces the SMTP analysis that --summary counts" },
	{ "extract", "flows", "--extract needs SMTP analysis, which --flows replaces" },
	{ "mbox", "flows", "--mbox needs SMTP analysis, which --flows replaces" },
	{ "ui", "flows", "the interactive UI shows SMTP sessions, which --flows replaces" },
	{ "fail-on", "flows", "--flows finds nothing, so --fail-on could never fire" },
	{ "separate", "interface", "--separate is for several -r files" },
	{ "realtime", "interface", "--realtime paces the replay of -r files; live capture has its own pace" },
	{ "user", "read", "-Z gives up root after opening an interface (-i); reading files needs no root" },
};

/* Options that need another one (by long name). */
static const struct {
	const char *opt, *needs, *why;
} requires[] = {
	{ "realtime", "ui", "it paces the replay on the interactive screen" },
};

/* What was given: per optdefs[] row, the first spelling seen ("" if none). */
struct seen {
	char as[N_OPTDEFS][80];
};

static size_t optdef_index(const char *name)
{
	for (size_t i = 0; i < N_OPTDEFS; i++)
		if (strcmp(optdefs[i].name, name) == 0)
			return i;
	return N_OPTDEFS; /* a table names an option that does not exist: caught by t_cli.sh */
}

static bool given(const struct seen *sn, const char *name)
{
	size_t i = optdef_index(name);
	return i < N_OPTDEFS && sn->as[i][0];
}

static const char *given_as(const struct seen *sn, const char *name)
{
	return sn->as[optdef_index(name)];
}

static void die_pair(const char *a, const char *b, const char *how, const char *why)
{
	fprintf(stderr, "smtpscope: %s %s %s: %s (see smtpscope --help)\n", a, how, b, why);
	exit(EXIT_USAGE);
}

/* How option d was written, for messages: "-r x", "--json", "--json=x",
 * "--extract x" (the canonical long name even when abbreviated). */
static void spell(char *buf, size_t len, const struct optdef *d, bool as_short, const char *arg, bool attached)
{
	char name[40];
	if (as_short)
		snprintf(name, sizeof name, "-%c", d->short_name);
	else
		snprintf(name, sizeof name, "--%s", d->name);
	if (!arg)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%s%s%.40s", name, attached && !as_short ? "=" : " ", arg);
}

static void apply(struct opts *o, const struct optdef *d, const char *arg)
{
	switch (d->kind) {
	case OK_FLAG: *(bool *)((char *)o + d->off) = true; break;
	case OK_STR: *(const char **)((char *)o + d->off) = arg; break;
	case OK_FN: d->set(o, arg); break;
	}
}

static const struct optdef *optdef_by_val(int val)
{
	if (val >= OPT_VAL_BASE && (size_t)(val - OPT_VAL_BASE) < N_OPTDEFS)
		return &optdefs[val - OPT_VAL_BASE];
	for (size_t i = 0; i < N_OPTDEFS; i++)
		if (val && optdefs[i].short_name == val)
			return &optdefs[i];
	return NULL;
}

static void check_combinations(const struct opts *o, const struct seen *sn)
{
	for (size_t i = 0; i < sizeof conflicts / sizeof conflicts[0]; i++)
		if (given(sn, conflicts[i].a) && given(sn, conflicts[i].b))
			die_pair(given_as(sn, conflicts[i].a), given_as(sn, conflicts[i].b), "and",
			         conflicts[i].why);
	for (size_t i = 0; i < sizeof requires / sizeof requires[0]; i++)
		if (given(sn, requires[i].opt) && !given(sn, requires[i].needs)) {
			fprintf(stderr, "smtpscope: %s needs --%s: %s (see smtpscope --help)\n",
			        given_as(sn, requires[i].opt), requires[i].needs, requires[i].why);
			exit(EXIT_USAGE);
		}
	if (o->ui && o->threads == 2 && given(sn, "threads"))
		die_pair(given_as(sn, "ui"), given_as(sn, "threads"), "and",
		         "the interactive UI runs on one thread");
}

/* A word after -r FILE is another file if it exists as a regular file or
 * ends like a capture; otherwise it starts the BPF expression. */
static bool looks_like_capture(const char *w)
{
	if (strcmp(w, "-") == 0)
		return true;
	if (access(w, F_OK) == 0)
		return true;
	size_t n = strlen(w);
	static const char *const ext[] = { ".pcap", ".pcapng", ".cap", ".gz", ".dmp" };
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		size_t k = strlen(ext[i]);
		if (n > k && strcmp(w + n - k, ext[i]) == 0)
			return true;
	}
	return false;
}

static void bpf_add(struct opts *o, const char *w)
{
	if (o->bpf.len)
		sbuf_addc(&o->bpf, ' ');
	sbuf_adds(&o->bpf, w);
}

/* getopt_long's tables from optdefs[]: a long-only option's value is
 * OPT_VAL_BASE + its row. */
static void getopt_tables(struct option *longopts, char *shortopts)
{
	size_t sl = 0;
	shortopts[sl++] = '+'; /* stop at a word: it is the expression's (parse_args goes on) */
	shortopts[sl++] = ':'; /* a missing argument is ':', not '?' */
	for (size_t i = 0; i < N_OPTDEFS; i++) {
		const struct optdef *d = &optdefs[i];
		int val = d->short_name ? d->short_name : OPT_VAL_BASE + (int)i;
		longopts[i] = (struct option){ d->name, d->arg, NULL, val };
		if (d->short_name) {
			shortopts[sl++] = (char)d->short_name;
			if (d->arg == required_argument)
				shortopts[sl++] = ':';
		}
	}
	longopts[N_OPTDEFS] = (struct option){ NULL, 0, NULL, 0 };
	shortopts[sl] = '\0';
}

/* One option getopt_long returned (optarg its argument): refuse an option
 * word taken as its argument and a second one where one is allowed, note how
 * it was written, set it. */
static void take_option(struct opts *o, struct seen *sn, const struct optdef *d, bool as_short, char **argv)
{
	size_t idx = (size_t)(d - optdefs);
	/* an argument of its own word (not -rFILE or --opt=ARG) */
	bool separate_word = optarg && optind >= 2 && optarg == argv[optind - 1];
	if (separate_word && d->arg == required_argument && optarg[0] == '-' && optarg[1]) {
		char name[64];
		spell(name, sizeof name, d, as_short, NULL, false);
		fprintf(stderr, "smtpscope: %s needs an argument (%s), and '%.60s' is an option (see smtpscope --help)\n",
		        name, d->what, optarg);
		exit(EXIT_USAGE);
	}
	char as[sizeof sn->as[0]];
	spell(as, sizeof as, d, as_short, optarg, !separate_word);
	if (sn->as[idx][0] && !(d->flags & OPTF_REPEAT) && d->arg != no_argument) {
		char why[64];
		snprintf(why, sizeof why, "--%s may be given only once", d->name);
		die_pair(sn->as[idx], as, "and", why);
	}
	if (!sn->as[idx][0])
		memcpy(sn->as[idx], as, sizeof as);
	apply(o, d, optarg);
}

/* Parse argv into o. Options and the words of the BPF expression may come in
 * any order, as with tcpdump on glibc: a word starting with '-' is an option
 * (after "--", every word is the expression's). Errors are one line on
 * stderr and exit with EXIT_USAGE. */
static void parse_args(int argc, char **argv, struct opts *o)
{
	struct option longopts[N_OPTDEFS + 1];
	char shortopts[3 + 3 * N_OPTDEFS];
	getopt_tables(longopts, shortopts);
	static struct seen sn; /* static: large, and read once */
	memset(&sn, 0, sizeof sn);
	opterr = 0;
	for (;;) {
		int before = optind, li = -1;
		int c = getopt_long(argc, argv, shortopts, longopts, &li);
		if (c == -1) {
			if (optind == before + 1 && strcmp(argv[before], "--") == 0) {
				for (int i = optind; i < argc; i++)
					bpf_add(o, argv[i]); /* after "--": the expression's, '-' or not */
				break;
			}
			if (optind >= argc)
				break;
			bpf_add(o, argv[optind++]); /* a word of the expression; options may follow */
			continue;
		}
		const struct optdef *d = c == '?' ? NULL : optdef_by_val(c == ':' ? optopt : c);
		if (c == ':' && d) {
			char name[64];
			spell(name, sizeof name, d, strncmp(argv[optind - 1], "--", 2) != 0, NULL, false);
			fprintf(stderr, "smtpscope: %s needs an argument (%s) (see smtpscope --help)\n", name, d->what);
			exit(EXIT_USAGE);
		}
		if (!d) {
			if (optopt && optopt < 256 && !optdef_by_val(optopt))
				fprintf(stderr, "smtpscope: unknown or incomplete option '-%c' (see smtpscope --help)\n", optopt);
			else
				fprintf(stderr, "smtpscope: unknown or incomplete option '%s' (see smtpscope --help)\n",
				        argv[optind - 1]);
			exit(EXIT_USAGE);
		}
		take_option(o, &sn, d, li < 0, argv);
		if (o->help || o->version)
			return; /* at once, as before: the rest is not looked at */
		if (d->short_name == 'r') {
			/* -r A B C: further words that name files are files too */
			while (optind < argc && argv[optind][0] != '-' && looks_like_capture(argv[optind]))
				add_file(o, argv[optind++]);
		}
	}
	check_combinations(o, &sn);
	if (!o->nfiles && !o->iface)
		die_usage("%s", "nothing to read: give -r FILE or -i IFACE");
}

/* ---- open / run / finish ------------------------------------------------- */

/* Everything a run holds once it is open. */
struct run {
	struct source *src;
	struct extract *ex;
	struct event_bus bus;
	FILE *json_file;        /* --json=FILE, or NULL */
	struct sink *sum;       /* the summary sink (always there: progress, --fail-on) */
	struct analyzer *an;
	struct tls_keys *keys;  /* --tls-keylog / pcapng secrets, or NULL */
	bool use_ui;
};

/* A pcapng Decryption Secrets Block: TLS key log text joins the key store. */
static void on_dsb(void *user, uint32_t type, const uint8_t *p, size_t n)
{
	struct tls_keys **keys = user;
	if (type != CAPTURE_SECRETS_TLS)
		return;
	if (!*keys)
		*keys = tls_keys_new();
	tls_keys_add_text(*keys, p, n);
}

static int fail(const char *err)
{
	fprintf(stderr, "smtpscope: %s\n", err);
	return EXIT_USAGE;
}

/* The outputs (sinks) on r->bus, as the options ask. */
static void open_sinks(const struct opts *o, struct run *r)
{
	static char stdout_buf[1 << 16];
	setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);
	const char *color = o->no_color ? "never" : o->color;
	bool use_color = strcmp(color, "always") == 0 ||
	                 (strcmp(color, "auto") == 0 && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
	struct out_opts oo = { 0 };
	oo.color = use_color;
	oo.show_body = o->body;
	oo.show_secrets = o->secrets;
	oo.events = o->events;
	oo.findings_only = o->findings_only;
	oo.group = !o->iface; /* files: session by session; live: as it happens */
	oo.write_headers_json = out_imf_txn_json;
	oo.write_headers_text = out_imf_txn_text;
	FILE *jf = r->json_file ? r->json_file : stdout;
	/* --json alone replaces the text on stdout; --json=FILE writes beside nothing else */
	if (o->flows) {
		if (o->json)
			event_bus_add(&r->bus, out_flows_new(jf, 1));
		else
			event_bus_add(&r->bus, out_flows_new(stdout, 0));
	} else {
		if (o->json && !o->summary) /* --summary --json: the summary record alone */
			event_bus_add(&r->bus, out_json_new(jf, &oo));
		else if (!o->json && !o->summary && !r->use_ui)
			event_bus_add(&r->bus, out_text_new(stdout, &oo));
	}
	/* Always counted (progress, --fail-on); printed at the end of a text run,
	 * or with --summary (as a JSON record when the output is JSON). */
	bool print_summary = !o->flows && (o->summary || (!o->json && !r->use_ui));
	if (r->ex)
		event_bus_add(&r->bus, extract_sink(r->ex));
	r->sum = out_summary_new(o->json ? jf : stdout, o->json, print_summary);
	event_bus_add(&r->bus, r->sum);
}

/* Open the capture, drop privileges, open the outputs, confine the process
 * and start the analyzer. Returns EXIT_OK, or EXIT_USAGE after a message. */
static int run_open(const struct opts *o, struct run *r)
{
	char err[512];
	memset(r, 0, sizeof *r);
	/* TLS secrets: read now (a missing file is an error before any work),
	 * shared read-only with the worker; with -i re-read as they grow; and
	 * the secrets of pcapng Decryption Secrets Blocks (editcap --inject-secrets) */
	r->keys = o->nkeylogs ? tls_keys_new() : NULL;
	for (size_t i = 0; i < o->nkeylogs; i++)
		if (tls_keys_add_file(r->keys, o->keylogs[i], err, sizeof err) != 0) {
			fprintf(stderr, "smtpscope: --tls-keylog %s\n", err);
			return EXIT_USAGE;
		}
	for (size_t i = 0; i < o->nfiles; i++) /* an unreadable file: source_open says so */
		capture_pcapng_secrets(o->files[i], on_dsb, &r->keys, NULL, err, sizeof err);
	struct source_opts so = { o->iface, o->files, o->nfiles, o->separate, o->bpf.len ? o->bpf.buf : NULL };
	r->src = source_open(&so, err, sizeof err);
	if (!r->src)
		return fail(err);
	/* Live capture: give up root as soon as the device is open (tcpdump's
	 * -Z); outputs are then created as that user. */
	if (o->iface && geteuid() == 0) {
		const char *who = o->run_as ? o->run_as : "nobody";
		if (strcmp(who, "root") != 0 && drop_privileges(who, err, sizeof err) != 0)
			return fail(err);
	}
	if ((o->json_path && strcmp(o->json_path, "-") != 0 && check_output_path(o->json_path, false, err, sizeof err) != 0) ||
	    (o->dump_dir && check_output_path(o->dump_dir, true, err, sizeof err) != 0) ||
	    (o->extract_dir && check_output_path(o->extract_dir, true, err, sizeof err) != 0) ||
	    (o->mbox_path && check_output_path(o->mbox_path, false, err, sizeof err) != 0))
		return fail(err);
	if (o->extract_dir || o->mbox_path) {
		struct extract_opts xo = { o->extract_dir, o->mbox_path, { 0 } };
		xo.json.show_secrets = o->secrets;
		xo.json.write_headers_json = out_imf_txn_json;
		r->ex = extract_new(&xo, err, sizeof err);
		if (!r->ex)
			return fail(err);
	}
	r->use_ui = o->ui || (!o->no_ui && o->iface && isatty(STDOUT_FILENO));
	if (r->use_ui && o->json && !o->json_path)
		die_usage("%s", "--json to standard output cannot share the terminal with the UI: use --json=FILE");
	if (o->json_path && strcmp(o->json_path, "-") != 0) {
		int jfd = open(o->json_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		r->json_file = jfd >= 0 ? fdopen(jfd, "w") : NULL;
		if (!r->json_file) {
			fprintf(stderr, "smtpscope: --json=%s: %s\n", o->json_path, strerror(errno));
			return EXIT_USAGE;
		}
	}
	open_sinks(o, r);

	struct analyzer_opts ao = { 0 };
	ao.smtp = !o->flows;
	ao.dump_dir = o->dump_dir;
	ao.show_secrets = o->secrets;
	ao.strict_alignment = o->strict;
	flow_config_defaults(&ao.flow);
	ao.flow.server_ports = o->ports;
	ao.flow.n_server_ports = o->nports;
	ao.any_port = o->any_port;
	/* --max-memory: the heap is watched (flows shed under pressure), and the
	 * fixed caps are sized from it: 1/8 for out-of-order data, ~4 KiB a flow. */
	ao.max_memory = o->max_memory;
	ao.threads = r->use_ui ? 1 : o->threads; /* the UI reads the sinks between batches */
	ao.flow.ooo_bytes_total = o->max_memory / 8;
	ao.flow.max_flows = o->max_memory / 4096;
	ao.extract = r->ex;
	ao.flow.all_ports = o->any_port;
	ao.tls_keys = r->keys;
	ao.tls_keys_live = o->iface ? r->keys : NULL;
	ao.tls_ports = o->tls_ports;
	ao.n_tls_ports = o->ntls_ports;
	/* a port given to --tls-ports is watched even when --ports omits it */
	static uint16_t ports[2 * MAX_PORTS];
	size_t np = o->nports;
	memcpy(ports, o->ports, np * sizeof ports[0]);
	for (size_t i = 0; o->tls_ports_given && i < o->ntls_ports; i++) {
		bool have = false;
		for (size_t k = 0; k < np; k++)
			have |= ports[k] == o->tls_ports[i];
		if (!have)
			ports[np++] = o->tls_ports[i];
	}
	ao.flow.server_ports = ports;
	ao.flow.n_server_ports = np;
	/* Capture open, privileges dropped, outputs open: confine the process
	 * before analyzer_new starts the worker thread (src/sandbox.c). */
	struct sandbox_opts sbo = { r->use_ui, o->quiet, o->iface, source_fd(r->src), o->extract_dir, o->mbox_path,
	                            o->dump_dir, o->iface ? o->keylogs : NULL, o->iface ? o->nkeylogs : 0 };
	if (!o->no_sandbox && sandbox_apply(&sbo, err, sizeof err) != 0)
		return fail(err);
	r->an = analyzer_new(&ao, source_linktype(r->src), &r->bus, err, sizeof err);
	if (!r->an)
		return fail(err);
	return EXIT_OK;
}

/* Feed the analyzer until the input ends or a signal asks to stop: the UI's
 * loop, the live poll loop, or files flat out. Returns the exit status so far. */
static int run_loop(const struct opts *o, struct run *r)
{
	g_src = r->src;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct progress prog = { !o->quiet && !r->use_ui && !source_live(r->src) && isatty(STDERR_FILENO), 0, 0 };
	int status = EXIT_OK;
	if (r->use_ui) {
		char err[512];
		struct ui_args ua = { r->src, r->an, &r->bus, o->realtime, o->secrets, &stop_requested };
		if (ui_run(&ua, err, sizeof err) != 0)
			status = fail(err);
	} else if (source_live(r->src)) {
		int fd = source_fd(r->src);
		uint64_t keys_read_us = 0;
		while (!stop_requested) {
			struct pollfd pfd = { fd, POLLIN, 0 };
			int pr = fd >= 0 ? poll(&pfd, 1, 200) : 0;
			if (pr < 0 && errno != EINTR)
				break;
			if (source_feed(r->src, r->an, BATCH) == SOURCE_EOF)
				break;
			analyzer_tick(r->an, now_us());
			analyzer_flush(r->an);
			if (r->keys && now_us() - keys_read_us >= 100000) { /* clients append to their key logs */
				keys_read_us = now_us();
				tls_keys_refresh(r->keys);
			}
		}
	} else {
		while (!stop_requested && source_feed(r->src, r->an, BATCH) != SOURCE_EOF)
			progress_tick(&prog, r->src, r->sum);
	}
	if (source_fatal(r->src)) {
		fprintf(stderr, "smtpscope: capture error: %s\n", source_fatal(r->src));
		status = EXIT_USAGE;
	} else if (source_damaged(r->src) && status == EXIT_OK) {
		status = EXIT_DAMAGED;
	}
	analyzer_finish(r->an);
	progress_end(&prog);
	return status;
}

/* Close the outputs, print the statistics and warnings, apply --fail-on and
 * free the run. Returns the final exit status. */
static int run_finish(const struct opts *o, struct run *r, int status)
{
	struct analyzer_stats st;
	analyzer_stats(r->an, &st);
	struct capture_stats cs;
	source_stats(r->src, &cs);
	struct summary_totals tot = { st.packets, st.bytes, st.flow.flows_total, st.gaps, st.gap_bytes,
	                              cs.valid, cs.dropped, cs.if_dropped };
	out_summary_set_totals(r->sum, &tot);
	struct summary_counts counts;
	out_summary_counts(r->sum, &counts);
	event_bus_close(&r->bus);
	fflush(stdout);
	if (r->json_file && fclose(r->json_file) != 0) {
		fprintf(stderr, "smtpscope: --json=%s: %s\n", o->json_path, strerror(errno));
		status = EXIT_USAGE;
	}

	source_stats(r->src, &cs);
	analyzer_stats(r->an, &st);
	if (!o->quiet && cs.valid)
		fprintf(stderr, "smtpscope: %llu packets received, %llu dropped by the kernel, %llu dropped by the interface\n",
		        (unsigned long long)cs.received, (unsigned long long)cs.dropped,
		        (unsigned long long)cs.if_dropped);
	if (!o->quiet && st.memory_pressure)
		fprintf(stderr, "smtpscope: warning: memory reached --max-memory %zu MiB %llu times; flows were evicted (their records say \"evicted\")\n",
		        o->max_memory >> 20, (unsigned long long)st.memory_pressure);
	if (!o->quiet && st.dump_errors)
		fprintf(stderr, "smtpscope: warning: %llu writes to %s failed\n", (unsigned long long)st.dump_errors,
		        o->dump_dir);
	if (r->ex) {
		struct extract_stats xs;
		extract_stats(r->ex, &xs);
		if (!o->quiet && xs.errors)
			fprintf(stderr, "smtpscope: warning: %llu messages could not be extracted completely (--extract/--mbox)\n",
			        (unsigned long long)xs.errors);
	}
	if (o->fail_on >= 0 && status != EXIT_USAGE) {
		for (int k = o->fail_on; k < 4; k++)
			if (counts.findings[k])
				status = EXIT_FINDINGS;
	}
	analyzer_free(r->an);
	extract_free(r->ex);
	tls_keys_free(r->keys);
	source_close(r->src);
	return status;
}

int main(int argc, char **argv)
{
	static struct opts o; /* static: the file list is large */
	opts_init(&o);
	parse_args(argc, argv, &o);
	if (o.help) {
		usage(stdout);
		return EXIT_OK;
	}
	if (o.version) {
		printf("smtpscope %s\n", SMTPSCOPE_VERSION);
		return EXIT_OK;
	}
	struct run r;
	int status = run_open(&o, &r);
	if (status == EXIT_OK)
		status = run_finish(&o, &r, run_loop(&o, &r));
	sbuf_free(&o.bpf);
	return status;
}
