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
	      "  -r FILE...            read pcap/pcapng files ('-' = stdin, .gz decompressed),\n"
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

enum {
	OPT_PORTS = 256, OPT_FLOWS, OPT_DUMP, OPT_JSON, OPT_EVENTS, OPT_SECRETS, OPT_BODY, OPT_COLOR,
	OPT_NOCOLOR, OPT_STRICT, OPT_FINDINGS_ONLY, OPT_SEPARATE, OPT_UI, OPT_NOUI, OPT_REALTIME,
	OPT_SUMMARY, OPT_FAIL_ON, OPT_ANY_PORT, OPT_USER, OPT_EXTRACT, OPT_MBOX, OPT_MAXMEM, OPT_THREADS,
	OPT_NO_SANDBOX, OPT_TLS_PORTS, OPT_TLS_KEYLOG,
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

int main(int argc, char **argv)
{
	const char *files[MAX_FILES];
	size_t nfiles = 0;
	bool separate = false, realtime = false, summary = false, any_port = false;
	int fail_on = -1; /* severity rank, -1: not asked */
	const char *run_as = NULL; /* -Z USER */
	const char *extract_dir = NULL, *mbox_path = NULL;
	size_t max_memory = DEFAULT_MAX_MEMORY;
	int threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
	int ui_flag = 0; /* 1 --ui, -1 --no-ui, 0 decide: live on a terminal */
	const char *iface = NULL, *dump_dir = NULL, *json_path = NULL, *color = "auto";
	bool flows = false, json = false, events = false, secrets = false, body = false, strict = false,
	     findings_only = false, quiet = false, sandbox = true;
	uint16_t ports[MAX_PORTS] = { 25, 465, 587, 2025 };
	size_t nports = 4;
	uint16_t tls_ports[MAX_PORTS] = { 465 }; /* implicit TLS, RFC 8314 */
	size_t ntls_ports = 1;
	bool tls_ports_given = false;
	const char *keylogs[MAX_FILES];
	size_t nkeylogs = 0;

	static const struct option longopts[] = {
		{ "read", required_argument, NULL, 'r' },
		{ "interface", required_argument, NULL, 'i' },
		{ "ports", required_argument, NULL, OPT_PORTS },
		{ "flows", no_argument, NULL, OPT_FLOWS },
		{ "dump-streams", required_argument, NULL, OPT_DUMP },
		{ "json", optional_argument, NULL, OPT_JSON },
		{ "events", no_argument, NULL, OPT_EVENTS },
		{ "show-secrets", no_argument, NULL, OPT_SECRETS },
		{ "show-body", no_argument, NULL, OPT_BODY },
		{ "color", required_argument, NULL, OPT_COLOR },
		{ "no-color", no_argument, NULL, OPT_NOCOLOR },
		{ "strict-alignment", no_argument, NULL, OPT_STRICT },
		{ "findings-only", no_argument, NULL, OPT_FINDINGS_ONLY },
		{ "separate", no_argument, NULL, OPT_SEPARATE },
		{ "ui", no_argument, NULL, OPT_UI },
		{ "no-ui", no_argument, NULL, OPT_NOUI },
		{ "realtime", no_argument, NULL, OPT_REALTIME },
		{ "summary", no_argument, NULL, OPT_SUMMARY },
		{ "any-port", no_argument, NULL, OPT_ANY_PORT },
		{ "user", required_argument, NULL, 'Z' },
		{ "extract", required_argument, NULL, OPT_EXTRACT },
		{ "mbox", required_argument, NULL, OPT_MBOX },
		{ "max-memory", required_argument, NULL, OPT_MAXMEM },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
		{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
		{ "tls-ports", required_argument, NULL, OPT_TLS_PORTS },
		{ "tls-keylog", required_argument, NULL, OPT_TLS_KEYLOG },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	opterr = 0;
	int c;
	/* '+': stop at the first non-option, which starts the BPF expression */
	while ((c = getopt_long(argc, argv, "+r:i:Z:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (nfiles >= MAX_FILES)
				die_usage("%s", "too many -r files (at most 256)");
			files[nfiles++] = optarg;
			/* -r A B C: further non-option words that name files are files too */
			while (optind < argc && argv[optind][0] != '-' && nfiles < MAX_FILES &&
			       looks_like_capture(argv[optind]))
				files[nfiles++] = argv[optind++];
			break;
		case OPT_SEPARATE: separate = true; break;
		case OPT_UI: ui_flag = 1; break;
		case OPT_NOUI: ui_flag = -1; break;
		case OPT_REALTIME: realtime = true; break;
		case OPT_SUMMARY: summary = true; break;
		case OPT_ANY_PORT: any_port = true; break;
		case 'Z': run_as = optarg; break;
		case OPT_EXTRACT: extract_dir = optarg; break;
		case OPT_MBOX: mbox_path = optarg; break;
		case OPT_MAXMEM: max_memory = parse_size(optarg); break;
		case OPT_THREADS:
			if (strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0)
				die_usage("--threads %s: want 1 or 2", optarg);
			threads = optarg[0] - '0';
			break;
		case OPT_FAIL_ON:
			if (strcmp(optarg, "info") && strcmp(optarg, "low") && strcmp(optarg, "medium") &&
			    strcmp(optarg, "high"))
				die_usage("--fail-on wants info, low, medium or high, not '%s'", optarg);
			fail_on = summary_severity_rank(optarg);
			break;
		case 'i': iface = optarg; break;
		case OPT_PORTS: nports = parse_ports(optarg, ports, MAX_PORTS); break;
		case OPT_TLS_PORTS:
			ntls_ports = parse_ports(optarg, tls_ports, MAX_PORTS);
			tls_ports_given = true;
			break;
		case OPT_TLS_KEYLOG:
			if (nkeylogs >= MAX_FILES)
				die_usage("%s", "too many --tls-keylog files (at most 256)");
			keylogs[nkeylogs++] = optarg;
			break;
		case OPT_FLOWS: flows = true; break;
		case OPT_DUMP: dump_dir = optarg; break;
		case OPT_JSON:
			json = true;
			json_path = optarg;
			break;
		case OPT_EVENTS: events = true; break;
		case OPT_SECRETS: secrets = true; break;
		case OPT_BODY: body = true; break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
				die_usage("--color wants auto, always or never, not '%s'", optarg);
			color = optarg;
			break;
		case OPT_NOCOLOR: color = "never"; break;
		case OPT_STRICT: strict = true; break;
		case OPT_FINDINGS_ONLY: findings_only = true; break;
		case OPT_NO_SANDBOX: sandbox = false; break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("smtpscope %s\n", SMTPSCOPE_VERSION); return EXIT_OK;
		case '?':
		default:
			if (optopt && optopt < 256)
				fprintf(stderr, "smtpscope: unknown or incomplete option '-%c' (see smtpscope --help)\n", optopt);
			else
				fprintf(stderr, "smtpscope: unknown or incomplete option '%s' (see smtpscope --help)\n",
				        argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	const char *file = nfiles ? files[0] : NULL;
	if (!file && !iface) {
		fputs("smtpscope: nothing to read: give -r FILE or -i IFACE (see smtpscope --help)\n", stderr);
		return EXIT_USAGE;
	}
	if (file && iface)
		die_usage("%s", "give either -r FILE or -i IFACE, not both");
	if (optind < argc && argv[optind][0] == '-' && argv[optind][1])
		die_usage("unknown option '%s'", argv[optind]);

	/* BPF expression: the remaining words, as tcpdump takes them */
	struct sbuf bpf = SBUF_INIT;
	for (int i = optind; i < argc; i++) {
		if (bpf.len)
			sbuf_addc(&bpf, ' ');
		sbuf_adds(&bpf, argv[i]);
	}

	char err[512];
	/* TLS secrets: read now (a missing file is an error before any work),
	 * shared read-only with the worker; with -i re-read as they grow */
	struct tls_keys *keys = nkeylogs ? tls_keys_new() : NULL;
	for (size_t i = 0; i < nkeylogs; i++) {
		if (tls_keys_add_file(keys, keylogs[i], err, sizeof err) != 0) {
			fprintf(stderr, "smtpscope: --tls-keylog %s\n", err);
			return EXIT_USAGE;
		}
	}
	/* and the secrets of pcapng Decryption Secrets Blocks (editcap --inject-secrets) */
	for (size_t i = 0; i < nfiles; i++)
		capture_pcapng_secrets(files[i], on_dsb, &keys, NULL, err, sizeof err); /* an unreadable file: source_open says so */
	struct source_opts so = { iface, files, nfiles, separate, bpf.len ? bpf.buf : NULL };
	struct source *src = source_open(&so, err, sizeof err);
	if (!src) {
		fprintf(stderr, "smtpscope: %s\n", err);
		return EXIT_USAGE;
	}
	/* Live capture: give up root as soon as the device is open (tcpdump's
	 * -Z); outputs are then created as that user. */
	if (iface && geteuid() == 0) {
		const char *who = run_as ? run_as : "nobody";
		if (strcmp(who, "root") != 0 && drop_privileges(who, err, sizeof err) != 0) {
			fprintf(stderr, "smtpscope: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if ((json_path && strcmp(json_path, "-") != 0 && check_output_path(json_path, false, err, sizeof err) != 0) ||
	    (dump_dir && check_output_path(dump_dir, true, err, sizeof err) != 0) ||
	    (extract_dir && check_output_path(extract_dir, true, err, sizeof err) != 0) ||
	    (mbox_path && check_output_path(mbox_path, false, err, sizeof err) != 0)) {
		fprintf(stderr, "smtpscope: %s\n", err);
		return EXIT_USAGE;
	}
	if ((extract_dir || mbox_path) && flows)
		die_usage("%s", "--extract and --mbox need SMTP analysis; they cannot go with --flows");
	struct extract *ex = NULL;
	if (extract_dir || mbox_path) {
		struct extract_opts xo = { extract_dir, mbox_path, { 0 } };
		xo.json.show_secrets = secrets;
		xo.json.write_headers_json = msgwire_headers_json;
		ex = extract_new(&xo, err, sizeof err);
		if (!ex) {
			fprintf(stderr, "smtpscope: %s\n", err);
			return EXIT_USAGE;
		}
	}
	bool use_ui = ui_flag > 0 || (ui_flag == 0 && iface && isatty(STDOUT_FILENO));
	if (use_ui && json && !json_path)
		die_usage("%s", "--json to standard output cannot share the terminal with the UI: use --json=FILE");

	/* outputs */
	struct event_bus bus = { { 0 }, 0, 0 };
	FILE *json_file = NULL;
	if (json_path && strcmp(json_path, "-") != 0) {
		int jfd = open(json_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		json_file = jfd >= 0 ? fdopen(jfd, "w") : NULL;
		if (!json_file) {
			fprintf(stderr, "smtpscope: --json=%s: %s\n", json_path, strerror(errno));
			return EXIT_USAGE;
		}
	}
	static char stdout_buf[1 << 16];
	setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);
	bool use_color = strcmp(color, "always") == 0 ||
	                 (strcmp(color, "auto") == 0 && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
	struct out_opts oo = { 0 };
	oo.color = use_color;
	oo.show_body = body;
	oo.show_secrets = secrets;
	oo.events = events;
	oo.findings_only = findings_only;
	oo.group = !iface; /* files: session by session; live: as it happens */
	oo.write_headers_json = msgwire_headers_json;
	oo.write_headers_text = msgwire_headers_text;
	/* --json alone replaces the text on stdout; --json=FILE writes beside nothing else */
	if (flows) {
		if (json)
			event_bus_add(&bus, out_flows_new(json_file ? json_file : stdout, 1));
		else
			event_bus_add(&bus, out_flows_new(stdout, 0));
	} else {
		if (json && !summary) /* --summary --json: the summary record alone */
			event_bus_add(&bus, out_json_new(json_file ? json_file : stdout, &oo));
		else if (!json && !summary && !use_ui)
			event_bus_add(&bus, out_text_new(stdout, &oo));
	}
	/* Always counted (progress, --fail-on); printed at the end of a text run,
	 * or with --summary (as a JSON record when the output is JSON). */
	bool print_summary = !flows && (summary || (!json && !use_ui));
	if (ex)
		event_bus_add(&bus, extract_sink(ex));
	struct sink *sum = out_summary_new(json ? (json_file ? json_file : stdout) : stdout, json, print_summary);
	event_bus_add(&bus, sum);

	struct analyzer_opts ao = { 0 };
	ao.smtp = !flows;
	ao.dump_dir = dump_dir;
	ao.show_secrets = secrets;
	ao.strict_alignment = strict;
	flow_config_defaults(&ao.flow);
	ao.flow.server_ports = ports;
	ao.flow.n_server_ports = nports;
	ao.any_port = any_port;
	/* --max-memory: the heap is watched (flows shed under pressure), and the
	 * fixed caps are sized from it: 1/8 for out-of-order data, ~4 KiB a flow. */
	ao.max_memory = max_memory;
	ao.threads = use_ui ? 1 : threads; /* the UI reads the sinks between batches */
	ao.flow.ooo_bytes_total = max_memory / 8;
	ao.flow.max_flows = max_memory / 4096;
	ao.extract = ex;
	ao.flow.all_ports = any_port;
	ao.tls_keys = keys;
	ao.tls_keys_live = iface ? keys : NULL;
	ao.tls_ports = tls_ports;
	ao.n_tls_ports = ntls_ports;
	/* a port given to --tls-ports is watched even when --ports omits it */
	for (size_t i = 0; tls_ports_given && i < ntls_ports; i++) {
		bool have = false;
		for (size_t k = 0; k < nports; k++)
			have |= ports[k] == tls_ports[i];
		if (!have && nports < MAX_PORTS)
			ports[nports++] = tls_ports[i];
	}
	ao.flow.n_server_ports = nports;
	/* Capture open, privileges dropped, outputs open: confine the process
	 * before analyzer_new starts the worker thread (src/sandbox.c). */
	struct sandbox_opts sbo = { use_ui, quiet, iface, source_fd(src), extract_dir, mbox_path, dump_dir,
	                            iface ? keylogs : NULL, iface ? nkeylogs : 0 };
	if (sandbox && sandbox_apply(&sbo, err, sizeof err) != 0) {
		fprintf(stderr, "smtpscope: %s\n", err);
		return EXIT_USAGE;
	}
	struct analyzer *an = analyzer_new(&ao, source_linktype(src), &bus, err, sizeof err);
	if (!an) {
		fprintf(stderr, "smtpscope: %s\n", err);
		return EXIT_USAGE;
	}

	g_src = src;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct progress prog = { !quiet && !use_ui && !source_live(src) && isatty(STDERR_FILENO), 0, 0 };
	int status = EXIT_OK;
	if (use_ui) {
		struct ui_args ua = { src, an, &bus, realtime, secrets, &stop_requested };
		if (ui_run(&ua, err, sizeof err) != 0) {
			fprintf(stderr, "smtpscope: %s\n", err);
			status = EXIT_USAGE;
		}
	} else if (source_live(src)) {
		int fd = source_fd(src);
		uint64_t keys_read_us = 0;
		while (!stop_requested) {
			struct pollfd pfd = { fd, POLLIN, 0 };
			int pr = fd >= 0 ? poll(&pfd, 1, 200) : 0;
			if (pr < 0 && errno != EINTR)
				break;
			if (source_feed(src, an, BATCH) == SOURCE_EOF)
				break;
			analyzer_tick(an, now_us());
			analyzer_flush(an);
			if (keys && now_us() - keys_read_us >= 100000) { /* clients append to their key logs */
				keys_read_us = now_us();
				tls_keys_refresh(keys);
			}
		}
	} else {
		while (!stop_requested && source_feed(src, an, BATCH) != SOURCE_EOF)
			progress_tick(&prog, src, sum);
	}
	if (source_fatal(src)) {
		fprintf(stderr, "smtpscope: capture error: %s\n", source_fatal(src));
		status = EXIT_USAGE;
	} else if (source_damaged(src) && status == EXIT_OK) {
		status = EXIT_DAMAGED;
	}
	analyzer_finish(an);
	progress_end(&prog);
	{
		struct analyzer_stats st;
		analyzer_stats(an, &st);
		struct capture_stats cs;
		source_stats(src, &cs);
		struct summary_totals tot = { st.packets, st.bytes, st.flow.flows_total, st.gaps, st.gap_bytes,
		                              cs.valid, cs.dropped, cs.if_dropped };
		out_summary_set_totals(sum, &tot);
	}
	struct summary_counts counts;
	out_summary_counts(sum, &counts);
	event_bus_close(&bus);
	fflush(stdout);
	if (json_file && fclose(json_file) != 0) {
		fprintf(stderr, "smtpscope: --json=%s: %s\n", json_path, strerror(errno));
		status = EXIT_USAGE;
	}

	struct capture_stats cs;
	source_stats(src, &cs);
	struct analyzer_stats st;
	analyzer_stats(an, &st);
	if (!quiet && cs.valid)
		fprintf(stderr, "smtpscope: %llu packets received, %llu dropped by the kernel, %llu dropped by the interface\n",
		        (unsigned long long)cs.received, (unsigned long long)cs.dropped,
		        (unsigned long long)cs.if_dropped);
	if (!quiet && st.memory_pressure)
		fprintf(stderr, "smtpscope: warning: memory reached --max-memory %zu MiB %llu times; flows were evicted (their records say \"evicted\")\n",
		        max_memory >> 20, (unsigned long long)st.memory_pressure);
	if (!quiet && st.dump_errors)
		fprintf(stderr, "smtpscope: warning: %llu writes to %s failed\n", (unsigned long long)st.dump_errors,
		        dump_dir);
	if (ex) {
		struct extract_stats xs;
		extract_stats(ex, &xs);
		if (!quiet && xs.errors)
			fprintf(stderr, "smtpscope: warning: %llu messages could not be extracted completely (--extract/--mbox)\n",
			        (unsigned long long)xs.errors);
	}
	if (fail_on >= 0 && status != EXIT_USAGE) {
		for (int r = fail_on; r < 4; r++)
			if (counts.findings[r])
				status = EXIT_FINDINGS;
	}
	analyzer_free(an);
	extract_free(ex);
	tls_keys_free(keys);
	source_close(src);
	sbuf_free(&bpf);
	return status;
}
