/* bench/gen.c — a deterministic generator of SMTP-heavy captures with ground
 * truth, for `make bench` and tests/t_bench_truth.sh.
 *
 * Writes a classic pcap (Ethernet, microsecond stamps, correct IPv4 header and
 * TCP checksums) and, alongside, a JSON Lines file describing every TCP
 * session it put in the capture: for SMTP sessions the endpoints, HELO, AUTH
 * user, and per message MAIL FROM, RCPT TO, From: address, Subject, size and
 * whether the From: domain is not aligned with the envelope (a spoof); for
 * every session whether capture loss hit it.
 *
 * Contract:
 *  - Deterministic: the same options (including --seed) give byte-identical
 *    files on every run. Nothing reads the clock, the environment or memory
 *    addresses; all choices come from seeded xoshiro256** generators (one for
 *    the scheduler, one per session derived from the seed and session number).
 *  - No dependencies beyond libc (POSIX: getopt_long, inet_ntop, write).
 *  - Every TCP session is complete on the wire (handshake, data, FIN both
 *    ways) except for segments deliberately dropped by --loss; those sessions,
 *    and only those, carry "lossy":true in the truth file. Dropped segments are
 *    capture loss: the endpoints received them, so later ACKs cover them.
 *    Reordering swaps two adjacent segments of one flight (before any ACK that
 *    covers them); retransmission repeats a segment with identical bytes.
 *    Neither loses information: such sessions must be analysed completely.
 *  - Frames are written in timestamp order; up to --concurrency sessions are
 *    interleaved packet by packet.
 *
 * Truth file (one JSON object per line):
 *   {"type":"meta", ...options...}
 *   {"type":"session","id":N,"kind":"smtp"|"http"|"tcp","client":"ip:port",
 *    "server":"ip:port", ...}            one per TCP session, at its end
 *   {"type":"summary","packets":N,"bytes":N,...}
 * IPv6 endpoints are written "[addr]:port" with inet_ntop's text (RFC 5952).
 * See docs/benchmarks.md for every field.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GEN_VERSION "1"

/* ------------------------------------------------------------------ util */

static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("gen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die("out of memory");
	return q;
}

/* A growable byte buffer. p is NULL until the first append. */
struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->n + more)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void buf_put(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	buf_reserve(b, n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void buf_putc(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->p[b->n++] = (uint8_t)c;
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k < 0)
		die("vsnprintf failed");
	buf_reserve(b, (size_t)k + 1);
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->n, (size_t)k + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)k;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* JSON string (the quotes included). Input is ASCII or valid UTF-8. */
static void buf_json(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)*p);
		} else if (*p < 0x20) {
			buf_printf(b, "\\u%04x", *p);
		} else {
			buf_putc(b, (char)*p);
		}
	}
	buf_putc(b, '"');
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 (RFC 4648 §4, padded) of p[0..n) appended to b, no line breaks. */
static void buf_b64(struct buf *b, const void *data, size_t n)
{
	const uint8_t *p = data;
	buf_reserve(b, (n + 2) / 3 * 4);
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		b->p[b->n++] = (uint8_t)B64[v >> 18];
		b->p[b->n++] = (uint8_t)B64[(v >> 12) & 63];
		b->p[b->n++] = (uint8_t)B64[(v >> 6) & 63];
		b->p[b->n++] = (uint8_t)B64[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		b->p[b->n++] = (uint8_t)B64[v >> 18];
		b->p[b->n++] = (uint8_t)B64[(v >> 12) & 63];
		b->p[b->n++] = '=';
		b->p[b->n++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		b->p[b->n++] = (uint8_t)B64[v >> 18];
		b->p[b->n++] = (uint8_t)B64[(v >> 12) & 63];
		b->p[b->n++] = (uint8_t)B64[(v >> 6) & 63];
		b->p[b->n++] = '=';
	}
}

/* ------------------------------------------------------------------- rng */

/* xoshiro256** seeded through splitmix64 (Blackman & Vigna). */
struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; the tiny bias is fine). */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static inline uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static inline double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static inline bool rng_chance(struct rng *r, double p)
{
	return p > 0 && rng_unit(r) < p;
}

/* --------------------------------------------------------------- options */

enum auth_mech { AUTH_NONE, AUTH_LOGIN, AUTH_PLAIN, AUTH_CRAM, AUTH_N };
static const char *const auth_name[AUTH_N] = { "none", "LOGIN", "PLAIN", "CRAM-MD5" };

struct opts {
	uint64_t seed;          /* PRNG seed */
	uint64_t target;        /* approximate pcap size in bytes (0 = no limit) */
	uint64_t sessions;      /* at most this many TCP sessions (0 = no limit) */
	unsigned concurrency;   /* sessions interleaved at a time */
	unsigned msg_size;      /* mean message body size in bytes */
	double auth_w[AUTH_N];  /* AUTH mix weights: none, LOGIN, PLAIN, CRAM-MD5 */
	double pipelining;      /* share of ESMTP sessions that pipeline */
	double bdat;            /* share of messages sent with BDAT (CHUNKING) */
	double ipv6;            /* share of sessions over IPv6 */
	double vlan;            /* share of sessions 802.1Q-tagged */
	double loss_sessions;   /* share of sessions subject to capture loss */
	double loss;            /* in those, probability a data segment is missing */
	double reorder;         /* probability two adjacent segments swap */
	double retrans;         /* probability a data segment is retransmitted */
	double spoof;           /* share of messages whose From: is not aligned */
	double background;      /* share of sessions that are not SMTP (HTTP, random TCP) */
	double multi;           /* share of SMTP sessions with 2 or 3 messages */
	double bounce;          /* share of messages with the null sender <> */
	double split_lines;     /* share of servers sending each reply line in its own segment */
	double rcpt_reject;     /* probability an extra recipient is rejected (550) */
	unsigned ack_every;     /* a receiver acknowledges every N full-size segments */
	double quickack;        /* share of sessions whose receivers ACK every segment */
	unsigned gap_us;        /* mean time between frames, microseconds */
	const char *out;        /* pcap path */
	const char *truth;      /* truth path (default: pcap path + ".truth.jsonl") */
};

static void usage(FILE *f)
{
	fputs("usage: gen -o FILE.pcap [options]\n"
	      "Write a deterministic SMTP-heavy capture and its ground truth (JSON Lines).\n"
	      "  -o, --out FILE          pcap to write (required)\n"
	      "  -t, --truth FILE        truth file (default FILE.pcap.truth.jsonl)\n"
	      "  -s, --seed N            PRNG seed (default 1)\n"
	      "  -S, --size BYTES        approximate capture size; K/M/G suffixes are KiB/MiB/GiB\n"
	      "  -n, --sessions N        at most N TCP sessions (default: as many as --size needs)\n"
	      "  -c, --concurrency N     sessions interleaved at a time (default 200)\n"
	      "  -m, --msg-size BYTES    mean message body size (default 32K)\n"
	      "      --auth MIX          none=W,login=W,plain=W,cram=W (default none=40,login=20,plain=30,cram=10)\n"
	      "      --pipelining P      share of ESMTP sessions that pipeline (default 0.5)\n"
	      "      --bdat P            share of messages sent with BDAT (default 0.15)\n"
	      "      --ipv6 P            share of sessions over IPv6 (default 0.1)\n"
	      "      --vlan P            share of sessions with an 802.1Q tag (default 0.1)\n"
	      "      --loss-sessions P   share of sessions hit by capture loss (default 0.01)\n"
	      "      --loss P            in those, share of data segments missing (default 0.05)\n"
	      "      --reorder P         probability two adjacent segments swap (default 0.01)\n"
	      "      --retrans P         probability a data segment is retransmitted (default 0.01)\n"
	      "      --spoof P           share of messages with an unaligned From: (default 0.1)\n"
	      "      --background P      share of non-SMTP sessions: HTTP/80, random TCP (default 0.1)\n"
	      "      --multi P           share of SMTP sessions with 2-3 messages (default 0.1)\n"
	      "      --bounce P          share of messages with the null sender (default 0.02)\n"
	      "      --split-lines P     share of servers writing one reply line per segment (default 0.1)\n"
	      "      --rcpt-reject P     probability an extra recipient is refused (default 0.05)\n"
	      "      --ack-every N       receiver ACKs every N full segments (default 2)\n"
	      "      --quickack P        share of sessions ACKing every segment (default 0.15)\n"
	      "      --gap-us N          mean microseconds between frames (default 20)\n"
	      "  -h, --help\n",
	      f);
}

static uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || errno)
		die("bad %s '%s'", what, s);
	uint64_t m = 1;
	switch (*end) {
	case 'k': case 'K': m = 1024; end++; break;
	case 'm': case 'M': m = 1024 * 1024; end++; break;
	case 'g': case 'G': m = 1024ull * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end)
		die("bad %s '%s'", what, s);
	return (uint64_t)v * m;
}

static double parse_share(const char *s, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= 0 && v <= 1))
		die("bad %s '%s': want a number in [0, 1]", what, s);
	return v;
}

static void parse_auth(struct opts *o, const char *s)
{
	double w[AUTH_N] = { 0 };
	const char *p = s;
	while (*p) {
		size_t k = strcspn(p, "=");
		int m = -1;
		if (k == 4 && !strncmp(p, "none", 4)) m = AUTH_NONE;
		else if (k == 5 && !strncmp(p, "login", 5)) m = AUTH_LOGIN;
		else if (k == 5 && !strncmp(p, "plain", 5)) m = AUTH_PLAIN;
		else if (k == 4 && !strncmp(p, "cram", 4)) m = AUTH_CRAM;
		if (m < 0 || p[k] != '=')
			die("bad --auth '%s': want none=W,login=W,plain=W,cram=W", s);
		char *end;
		double v = strtod(p + k + 1, &end);
		if (end == p + k + 1 || v < 0 || (*end && *end != ','))
			die("bad --auth '%s'", s);
		w[m] = v;
		p = *end ? end + 1 : end;
	}
	double sum = 0;
	for (int i = 0; i < AUTH_N; i++)
		sum += w[i];
	if (sum <= 0)
		die("bad --auth '%s': all weights zero", s);
	for (int i = 0; i < AUTH_N; i++)
		o->auth_w[i] = w[i] / sum;
}

/* ------------------------------------------------------------ vocabulary */

/* Registrable (Organizational) domains under ICANN public suffixes. Several
 * share a multi-label suffix (co.uk, com.au) so that "same last two labels"
 * is not mistaken for alignment. */
static const char *const orgs[] = {
	"example.com", "example.net", "example.org", "acme.co.uk", "widgets.co.uk",
	"bank.com.au", "shop.com.au", "firma.de", "societe.fr", "empresa.com.br",
	"kaisha.co.jp", "startup.io", "university.edu", "agency.gov.uk", "store.nl",
	"verein.at",
};
#define N_ORGS (sizeof orgs / sizeof orgs[0])
/* Subdomain prefixes that keep the Organizational Domain. */
static const char *const subs[] = { "", "", "", "mail.", "bounces.", "em.", "news.", "notify.eu." };
#define N_SUBS (sizeof subs / sizeof subs[0])

static const char *const first_names[] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
	"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe",
};
#define N_FIRST (sizeof first_names / sizeof first_names[0])
static const char *const last_names[] = {
	"smith", "jones", "miller", "garcia", "brown", "martin", "dubois", "rossi", "tanaka", "kowalski",
};
#define N_LAST (sizeof last_names / sizeof last_names[0])
/* UTF-8 display names, written as RFC 2047 encoded words. */
static const char *const utf8_names[] = {
	"Jos\xc3\xa9 M\xc3\xbcller", "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m", "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd \xd0\x9f\xd0\xb5\xd1\x82\xd1\x80\xd0\xbe\xd0\xb2",
	"Fran\xc3\xa7oise L\xc3\xa9vy",
};
#define N_UTF8_NAMES (sizeof utf8_names / sizeof utf8_names[0])

static const char *const words[64] = {
	"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
	"not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
	"report", "meeting", "quarter", "budget", "invoice", "server", "deploy", "review", "network", "schedule",
	"customer", "project", "update", "delivery", "message", "archive", "capture", "system", "please", "thanks",
	"regards", "tomorrow", "yesterday", "attached", "document", "version", "results", "analysis", "team",
	"office", "holiday", "status",
};
static uint8_t word_len[64];

static const char *const ascii_subjects[] = {
	"Invoice", "Meeting notes", "Re: project update", "Quarterly report", "Fwd: delivery schedule",
	"Your order", "Password reset", "Weekly status", "Re: Re: budget", "Server maintenance",
};
#define N_ASUBJ (sizeof ascii_subjects / sizeof ascii_subjects[0])
static const char *const utf8_subjects[] = {
	"Gr\xc3\xbc\xc3\237e aus K\xc3\xb6ln", "R\xc3\xa9union du comit\xc3\xa9",
	"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80",
	"\xe4\xbc\x9a\xe8\xae\xae\xe7\xba\xaa\xe8\xa6\x81", "Caf\xc3\xa9 \xe2\x82\xac 5",
};
#define N_USUBJ (sizeof utf8_subjects / sizeof utf8_subjects[0])

/* ----------------------------------------------------------------- write */

/* Buffered writer for the pcap: frames are built in place in the buffer. */
struct writer {
	int fd;
	const char *path;
	uint8_t *buf;
	size_t n, cap;
	uint64_t total;   /* bytes written or buffered */
};

static void wr_flush(struct writer *w)
{
	size_t off = 0;
	while (off < w->n) {
		ssize_t k = write(w->fd, w->buf + off, w->n - off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			die("%s: %s", w->path, strerror(errno));
		}
		off += (size_t)k;
	}
	w->n = 0;
}

/* Room for n more bytes; returns where they go. The caller must commit. */
static uint8_t *wr_reserve(struct writer *w, size_t n)
{
	if (w->n + n > w->cap)
		wr_flush(w);
	return w->buf + w->n;
}

static void wr_commit(struct writer *w, size_t n)
{
	w->n += n;
	w->total += n;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* RFC 1071 one's-complement sum of p[0..n), accumulated big-endian 16-bit
 * words into a 64-bit sum (32-bit chunks: the sum is word-size independent
 * once folded). Returns the unfolded partial sum added to `sum`. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	while (n >= 4) {
		sum += (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		n -= 2;
	}
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* -------------------------------------------------------------- sessions */

enum kind { K_SMTP, K_HTTP, K_TCP };
static const char *const kind_name[] = { "smtp", "http", "tcp" };

/* One application write: dir's bytes data[off .. off+len), which are stream
 * bytes [soff, soff+len) of that direction. */
struct turn {
	uint32_t off, len;
	uint64_t soff;
	uint8_t dir;     /* 0 client->server, 1 server->client */
	uint8_t split;   /* one line per segment (servers writing line by line) */
};

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10 };

enum phase { P_SYN, P_SYNACK, P_ACK, P_DATA, P_FIN1, P_FIN2, P_LAST, P_DONE };

struct sess {
	uint64_t id;            /* 1, 2, ... in order of creation */
	enum kind kind;
	struct rng rng;         /* this session's own choices */
	bool v6, vlan;
	uint16_t vlan_id;
	uint8_t addr[2][16];    /* client, server (IPv4 in the first 4 bytes) */
	uint16_t port[2];
	uint8_t mac[2][6];
	uint32_t isn[2];
	uint64_t pos[2];        /* stream bytes emitted (or deliberately lost) per direction */
	uint64_t build[2];      /* stream bytes scripted per direction */
	bool fin[2];
	uint16_t ipid[2];
	struct buf data;        /* all application bytes, turn after turn */
	struct turn *turns;
	size_t nturns, capturns;
	size_t ti, toff;        /* current turn and offset in it */
	enum phase phase;
	unsigned unacked;       /* full segments the receiver has not acknowledged */
	unsigned ack_every;     /* the receiver ACKs every ack_every full segments */
	double loss_p;          /* probability a data segment goes missing (0 = none) */
	uint64_t lost_segs, lost_bytes[2], reordered, retransmitted;
	uint64_t est_left;      /* estimated bytes still to write */
	bool pending_rtx;       /* retransmit [rtx_off, +rtx_len) of rtx_dir on the next step */
	uint8_t rtx_dir;
	uint64_t rtx_soff;
	const uint8_t *rtx_p;   /* invalid after data grows; data never grows once running */
	uint32_t rtx_len;
	struct buf truth;       /* the truth line so far (closed at the end) */
};

struct gen {
	struct opts o;
	struct rng rng;         /* scheduler */
	struct writer w;
	FILE *truth;
	uint64_t ts_us;         /* clock of the next frame */
	uint64_t next_id;
	uint64_t started;
	uint64_t inflight_est;  /* sum of est_left over active sessions */
	struct sess **active;
	unsigned nactive;
	/* statistics for the summary */
	uint64_t packets, frame_bytes, dropped;
	uint64_t n_kind[3], n_messages, n_spoofed, n_lossy, n_auth[AUTH_N], n_bdat;
	struct buf msg;         /* scratch: one unstuffed message */
};

/* --- scripting -------------------------------------------------------- */

/* Starts a new turn for dir; bytes appended to s->data until the next call
 * belong to it. */
static void t_open(struct sess *s, int dir, bool split)
{
	if (s->nturns == s->capturns) {
		s->capturns = s->capturns ? 2 * s->capturns : 32;
		s->turns = xrealloc(s->turns, s->capturns * sizeof *s->turns);
	}
	struct turn *t = &s->turns[s->nturns++];
	t->off = (uint32_t)s->data.n;
	t->len = 0;
	t->dir = (uint8_t)dir;
	t->split = split;
	t->soff = s->build[dir];
}

/* Closes the current turn (length = bytes appended since t_open). */
static void t_close(struct sess *s)
{
	if (!s->nturns)
		return;
	struct turn *t = &s->turns[s->nturns - 1];
	t->len = (uint32_t)(s->data.n - t->off);
	s->build[t->dir] += t->len;
}

/* One complete turn holding a formatted string. */
static void say(struct sess *s, int dir, bool split, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void say(struct sess *s, int dir, bool split, const char *fmt, ...)
{
	t_open(s, dir, split);
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reserve(&s->data, (size_t)k + 1);
	va_start(ap, fmt);
	vsnprintf((char *)s->data.p + s->data.n, (size_t)k + 1, fmt, ap);
	va_end(ap);
	s->data.n += (size_t)k;
	t_close(s);
}

/* --- addresses -------------------------------------------------------- */

static void fmt_endpoint(const struct sess *s, int side, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(s->v6 ? AF_INET6 : AF_INET, s->addr[side], a, sizeof a);
	if (s->v6)
		snprintf(out, n, "[%s]:%u", a, s->port[side]);
	else
		snprintf(out, n, "%s:%u", a, s->port[side]);
}

/* A bijection on 24 bits, so client addresses never repeat. */
static uint32_t scramble24(uint32_t x)
{
	x &= 0xffffff;
	x = (x * 0x9e3b1u) & 0xffffff; /* odd multiplier: invertible mod 2^24 */
	x ^= x >> 11;
	x = (x * 0x5bd1du) & 0xffffff;
	x ^= x >> 13;
	return x;
}

static void set_endpoints(struct gen *g, struct sess *s)
{
	uint32_t h = scramble24((uint32_t)s->id);
	unsigned srv = rng_below(&s->rng, 8);
	if (s->v6) {
		static const uint8_t cpre[8] = { 0x20, 0x01, 0x0d, 0xb8, 0xc1, 0x00, 0x00, 0x00 };
		static const uint8_t spre[14] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x25, 0, 0, 0, 0, 0, 0, 0, 0 };
		memcpy(s->addr[0], cpre, 8);
		memset(s->addr[0] + 8, 0, 8);
		s->addr[0][13] = (uint8_t)(h >> 16);
		s->addr[0][14] = (uint8_t)(h >> 8);
		s->addr[0][15] = (uint8_t)h;
		s->addr[0][12] = (uint8_t)(s->id >> 24);
		memcpy(s->addr[1], spre, 14);
		s->addr[1][14] = 0;
		s->addr[1][15] = (uint8_t)(0x10 + srv + (s->kind != K_SMTP ? 0x40 : 0));
	} else {
		s->addr[0][0] = (uint8_t)(10 + ((s->id >> 24) & 0x3f));
		s->addr[0][1] = (uint8_t)(h >> 16);
		s->addr[0][2] = (uint8_t)(h >> 8);
		s->addr[0][3] = (uint8_t)h;
		static const uint8_t sv4[4] = { 192, 0, 2, 0 };
		memcpy(s->addr[1], sv4, 4);
		s->addr[1][3] = (uint8_t)(10 + srv + (s->kind != K_SMTP ? 100 : 0));
	}
	/* client ports stay above every server port we use */
	s->port[0] = (uint16_t)rng_range(&s->rng, 32768, 60999);
	for (int i = 0; i < 2; i++) {
		s->mac[i][0] = 0x02; /* locally administered */
		s->mac[i][1] = (uint8_t)i;
		memcpy(s->mac[i] + 2, s->addr[i] + (s->v6 ? 12 : 0), 4);
	}
	s->isn[0] = (uint32_t)rng_next(&s->rng);
	s->isn[1] = (uint32_t)rng_next(&s->rng);
	s->ipid[0] = (uint16_t)rng_next(&s->rng);
	s->ipid[1] = (uint16_t)rng_next(&s->rng);
	(void)g;
}

/* --- message text ----------------------------------------------------- */

static void rand_alnum(struct rng *r, char *out, size_t n)
{
	static const char an[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	for (size_t i = 0; i < n; i++)
		out[i] = an[rng_below(r, 62)];
	out[n] = 0;
}

/* Appends CRLF lines of text until about `target` bytes were added. Lines are
 * at most 998 octets (RFC 5322 §2.1.1); some start with '.', a few are a lone
 * '.', a few are long. The bytes are the unstuffed message text. */
static void gen_text(struct rng *r, struct buf *b, size_t target)
{
	size_t end = b->n + target;
	buf_reserve(b, target + 1100);
	while (b->n < end) {
		if (b->cap - b->n < 1100)
			buf_reserve(b, 1100);
		uint8_t *p = b->p + b->n, *q = p;
		uint32_t kind = rng_below(r, 1000);
		if (kind < 3) {
			*q++ = '.';                         /* a lone dot: stuffed on the wire */
		} else if (kind < 10) {
			memcpy(q, ".. dotted line", 14);     /* leading dots */
			q += 14;
		} else if (kind < 12) {
			size_t n = rng_range(r, 900, 998);  /* a long line, within the limit */
			for (size_t i = 0; i < n; i++)
				q[i] = (uint8_t)('a' + (i * 7 + n) % 26);
			q += n;
		} else if (kind < 40) {
			/* empty line: paragraph break */
		} else {
			size_t want = rng_range(r, 40, 76);
			uint64_t bits = rng_next(r);
			int left = 10;
			while ((size_t)(q - p) < want) {
				if (!left) {
					bits = rng_next(r);
					left = 10;
				}
				unsigned wi = bits & 63;
				bits >>= 6;
				left--;
				memcpy(q, words[wi], word_len[wi]);
				q += word_len[wi];
				*q++ = ' ';
			}
			q[-1] = '.';
		}
		*q++ = '\r';
		*q++ = '\n';
		b->n += (size_t)(q - p);
	}
}

/* Appends base64 lines (76 characters) of about `target` bytes. */
static void gen_b64(struct rng *r, struct buf *b, size_t target)
{
	size_t lines = target / 78 + 1;
	buf_reserve(b, lines * 78);
	for (size_t l = 0; l < lines; l++) {
		uint8_t *p = b->p + b->n;
		for (int i = 0; i < 76; i += 10) {
			uint64_t v = rng_next(r);
			for (int k = 0; k < 10 && i + k < 76; k++, v >>= 6)
				p[i + k] = (uint8_t)B64[v & 63];
		}
		p[76] = '\r';
		p[77] = '\n';
		b->n += 78;
	}
}

/* Q encoding (RFC 2047 §4.2) of a UTF-8 string. */
static void buf_qenc(struct buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == ' ')
			buf_putc(b, '_');
		else if (*p >= 0x80 || *p == '=' || *p == '?' || *p == '_' || *p < 0x20)
			buf_printf(b, "=%02X", *p);
		else
			buf_putc(b, (char)*p);
	}
}

struct addr {
	char local[48];
	int org;                /* index into orgs */
	char dom[64];           /* full domain as written */
	char text[128];         /* local@dom */
};

static void make_addr(struct rng *r, struct addr *a, int org, bool sub)
{
	snprintf(a->local, sizeof a->local, "%s.%s%u", first_names[rng_below(r, N_FIRST)],
	         last_names[rng_below(r, N_LAST)], rng_below(r, 100));
	a->org = org;
	snprintf(a->dom, sizeof a->dom, "%s%s", sub ? subs[rng_below(r, N_SUBS)] : "", orgs[org]);
	snprintf(a->text, sizeof a->text, "%s@%s", a->local, a->dom);
}

/* Message parameters decided when the session is scripted. */
struct msgspec {
	struct addr mail_from;  /* envelope sender (unused when bounce) */
	bool bounce;            /* MAIL FROM:<> */
	struct addr from;       /* From: header address */
	bool spoofed;
	int nrcpt;
	struct addr rcpt[5];
	bool rejected[5];
	bool bdat;
	int chunks;
	char subject[160];      /* decoded (truth) */
	uint64_t size;          /* message bytes, unstuffed, including the last CRLF */
};

/* Writes the message (headers + body, unstuffed) for m into b. */
static void gen_message(struct gen *g, struct sess *s, struct msgspec *m, const char *helo,
                        unsigned n, struct buf *b)
{
	struct rng *r = &s->rng;
	char cl[64], id[24];
	fmt_endpoint(s, 0, cl, sizeof cl);
	rand_alnum(r, id, 16);
	uint64_t t = g->ts_us / 1000000u; /* clock of the capture (2024-02-01 onwards) */
	unsigned hh = (unsigned)(t / 3600 % 24), mm = (unsigned)(t / 60 % 60), ss = (unsigned)(t % 60);
	/* a folded Received: line (RFC 5322 §2.2.3) */
	buf_printf(b, "Received: from %s (%s)\r\n\tby mx.%s with ESMTP id %s;\r\n\tThu, 1 Feb 2024 %02u:%02u:%02u +0000\r\n",
	           helo, cl, orgs[m->rcpt[0].org], id, hh, mm, ss);
	buf_printf(b, "Date: Thu, 1 Feb 2024 %02u:%02u:%02u +0000\r\n", hh, mm, ss);

	/* From: in one of several RFC 5322 forms; the address is what counts */
	const char *fn = first_names[rng_below(r, N_FIRST)], *ln = last_names[rng_below(r, N_LAST)];
	switch (rng_below(r, 6)) {
	case 0:
		buf_printf(b, "From: %s\r\n", m->from.text);
		break;
	case 1:
		buf_printf(b, "From: \"%s, %s\" <%s>\r\n", ln, fn, m->from.text);
		break;
	case 2:
		buf_printf(b, "From: %s@%s (%s %s)\r\n", m->from.local, m->from.dom, fn, ln);
		break;
	case 3: {
		const char *u = utf8_names[rng_below(r, N_UTF8_NAMES)];
		buf_puts(b, "From: =?UTF-8?B?");
		buf_b64(b, u, strlen(u));
		buf_printf(b, "?= <%s>\r\n", m->from.text);
		break;
	}
	default:
		buf_printf(b, "From: %s %s <%s>\r\n", fn, ln, m->from.text);
		break;
	}
	/* To: the accepted recipients, folded when there are several */
	buf_puts(b, "To: ");
	int k = 0;
	for (int i = 0; i < m->nrcpt; i++) {
		if (m->rejected[i])
			continue;
		if (k++)
			buf_puts(b, ",\r\n ");
		buf_printf(b, "<%s>", m->rcpt[i].text);
	}
	buf_puts(b, "\r\n");

	/* Subject: ASCII, folded ASCII, or RFC 2047 B or Q encoded UTF-8 */
	uint32_t sk = rng_below(r, 20);
	if (sk < 2) {
		const char *u = utf8_subjects[rng_below(r, N_USUBJ)];
		snprintf(m->subject, sizeof m->subject, "%s %u", u, n);
		buf_puts(b, "Subject: =?UTF-8?B?");
		buf_b64(b, m->subject, strlen(m->subject));
		buf_puts(b, "?=\r\n");
	} else if (sk < 3) {
		const char *u = utf8_subjects[rng_below(r, N_USUBJ)];
		snprintf(m->subject, sizeof m->subject, "%s %u", u, n);
		buf_puts(b, "Subject: =?utf-8?Q?");
		buf_qenc(b, m->subject);
		buf_puts(b, "?=\r\n");
	} else if (sk < 5) {
		const char *w = words[32 + rng_below(r, 32)];
		snprintf(m->subject, sizeof m->subject, "Weekly status report for the %s team, part %u", w, n);
		buf_printf(b, "Subject: Weekly status report for the %s team,\r\n part %u\r\n", w, n);
	} else {
		snprintf(m->subject, sizeof m->subject, "%s #%u", ascii_subjects[rng_below(r, N_ASUBJ)], n);
		buf_printf(b, "Subject: %s\r\n", m->subject);
	}
	char mid[24];
	rand_alnum(r, mid, 20);
	buf_printf(b, "Message-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n", mid, m->from.dom);

	size_t body = (size_t)(g->o.msg_size * (0.5 + rng_unit(r)));
	uint32_t shape = rng_below(r, 100);
	if (shape < 60) {
		buf_puts(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
		gen_text(r, b, body);
	} else {
		char bd[32];
		rand_alnum(r, bd, 24);
		buf_printf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
		              "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n"
		              "Content-Type: text/plain; charset=utf-8\r\n\r\n", bd, bd);
		gen_text(r, b, body / 2);
		if (shape < 95) {
			buf_printf(b, "\r\n--%s\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
			              "Content-Transfer-Encoding: base64\r\n"
			              "Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n", bd);
			gen_b64(r, b, body / 2);
		} else {
			/* an attached message: its headers must not replace the outer ones */
			buf_printf(b, "\r\n--%s\r\nContent-Type: message/rfc822\r\n\r\n"
			              "From: Inner Sender <inner@attacker.example>\r\n"
			              "Subject: inner subject must not win\r\n"
			              "Message-ID: <inner-%s@attacker.example>\r\n\r\n", bd, mid);
			gen_text(r, b, body / 2);
		}
		buf_printf(b, "\r\n--%s--\r\n", bd);
	}
	m->size = b->n;
}

/* Dot-stuffs msg (RFC 5321 §4.5.2) into s->data and appends ".\r\n". */
static void stuff_into(struct sess *s, const struct buf *msg)
{
	buf_reserve(&s->data, msg->n + msg->n / 64 + 8);
	const uint8_t *p = msg->p, *end = msg->p + msg->n;
	bool bol = true;
	while (p < end) {
		if (bol && *p == '.')
			buf_putc(&s->data, '.');
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *stop = nl ? nl + 1 : end;
		buf_put(&s->data, p, (size_t)(stop - p));
		p = stop;
		bol = nl != NULL;
	}
	buf_puts(&s->data, ".\r\n");
}

/* --- SMTP session script ---------------------------------------------- */

static const char *const ehlo_caps[] = {
	"PIPELINING", "SIZE 52428800", "8BITMIME", "AUTH PLAIN LOGIN CRAM-MD5", "CHUNKING",
	"ENHANCEDSTATUSCODES", "SMTPUTF8",
};
#define N_CAPS (sizeof ehlo_caps / sizeof ehlo_caps[0])

static int pick_other_org(struct rng *r, int org)
{
	int o = (int)rng_below(r, N_ORGS - 1);
	return o >= org ? o + 1 : o;
}

static void script_smtp(struct gen *g, struct sess *s)
{
	struct rng *r = &s->rng;
	const struct opts *o = &g->o;
	char srvname[64], helo[80], ep[2][64];
	int srv_org = (int)rng_below(r, N_ORGS);
	snprintf(srvname, sizeof srvname, "mx%u.%s", rng_below(r, 4) + 1, orgs[srv_org]);
	fmt_endpoint(s, 0, ep[0], sizeof ep[0]);

	bool split = rng_chance(r, o->split_lines);
	bool esmtp = rng_below(r, 100) >= 3;          /* 3 %: plain HELO, no extensions */
	bool pipe = esmtp && rng_chance(r, o->pipelining);
	/* AUTH mechanism by the configured mix */
	enum auth_mech mech = AUTH_NONE;
	if (esmtp) {
		double u = rng_unit(r), acc = 0;
		for (int i = 0; i < AUTH_N; i++) {
			acc += o->auth_w[i];
			if (u < acc) {
				mech = (enum auth_mech)i;
				break;
			}
		}
	}
	s->port[1] = mech != AUTH_NONE ? 587 : 25;

	/* the client's org: HELO, envelope senders and (aligned) From: live there */
	int corg = (int)rng_below(r, N_ORGS);
	bool helo_literal = mech != AUTH_NONE && rng_below(r, 10) == 0;
	if (helo_literal) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(s->v6 ? AF_INET6 : AF_INET, s->addr[0], a, sizeof a);
		snprintf(helo, sizeof helo, s->v6 ? "[IPv6:%s]" : "[%s]", a);
	} else {
		snprintf(helo, sizeof helo, "mta%u.%s", rng_below(r, 20) + 1, orgs[corg]);
	}

	int nmsg = rng_chance(r, o->multi) ? (int)rng_range(r, 2, 3) : 1;
	struct msgspec ms[3];
	memset(ms, 0, sizeof ms);
	struct addr sender;
	make_addr(r, &sender, corg, false);

	char user[128] = "";
	if (mech != AUTH_NONE) {
		if (rng_below(r, 10) < 7)
			snprintf(user, sizeof user, "%s", sender.text);
		else
			snprintf(user, sizeof user, "%s", sender.local);
	}

	for (int i = 0; i < nmsg; i++) {
		struct msgspec *m = &ms[i];
		/* the null sender only where HELO names a domain (it stands in for alignment) */
		m->bounce = !helo_literal && mech == AUTH_NONE && rng_chance(r, o->bounce);
		/* the envelope domain may be a subdomain of the org ... */
		make_addr(r, &m->mail_from, corg, true);
		if (i == 0 && mech != AUTH_NONE)
			m->mail_from = sender; /* ... but authenticated senders send as themselves */
		m->spoofed = rng_chance(r, o->spoof);
		int align_org = m->bounce ? corg : m->mail_from.org;
		if (m->bounce) {
			/* a DSN: From: the postmaster of the reporting system */
			snprintf(m->from.local, sizeof m->from.local, "MAILER-DAEMON");
			m->from.org = m->spoofed ? pick_other_org(r, align_org) : align_org;
			snprintf(m->from.dom, sizeof m->from.dom, "%s%s", m->spoofed ? "" : "mta.", orgs[m->from.org]);
			snprintf(m->from.text, sizeof m->from.text, "%s@%s", m->from.local, m->from.dom);
		} else {
			make_addr(r, &m->from, m->spoofed ? pick_other_org(r, align_org) : align_org, true);
			if (!m->spoofed && rng_below(r, 2))
				m->from = m->mail_from; /* often the very same address */
		}
		if (rng_below(r, 30) == 0) {
			/* domains are case-insensitive: alignment must not care */
			for (char *c = m->from.dom; *c; c++)
				if (*c >= 'a' && *c <= 'z')
					*c = (char)(*c - 32);
			snprintf(m->from.text, sizeof m->from.text, "%s@%s", m->from.local, m->from.dom);
		}
		m->nrcpt = (int)rng_range(r, 1, 5);
		for (int k = 0; k < m->nrcpt; k++) {
			make_addr(r, &m->rcpt[k], srv_org, false);
			m->rejected[k] = k > 0 && rng_chance(r, o->rcpt_reject);
		}
		m->bdat = esmtp && rng_chance(r, o->bdat);
		m->chunks = m->bdat ? (int)rng_range(r, 1, 3) : 0;
	}

	/* --- the dialogue --- */
	say(s, 1, false, "220 %s ESMTP ready\r\n", srvname);
	if (esmtp) {
		say(s, 0, false, "EHLO %s\r\n", helo);
		t_open(s, 1, split);
		buf_printf(&s->data, "250-%s Hello %s\r\n", srvname, helo);
		for (size_t i = 0; i < N_CAPS; i++)
			buf_printf(&s->data, "250%c%s\r\n", i + 1 < N_CAPS ? '-' : ' ', ehlo_caps[i]);
		t_close(s);
	} else {
		say(s, 0, false, "HELO %s\r\n", helo);
		say(s, 1, false, "250 %s\r\n", srvname);
	}

	char pass[24];
	rand_alnum(r, pass, 12);
	struct buf tmp = { 0 };
	switch (mech) {
	case AUTH_LOGIN: {
		static const char *const uprompt[] = { "VXNlcm5hbWU6", "dXNlcm5hbWU6", "VXNlciBOYW1lAA==" };
		tmp.n = 0;
		buf_b64(&tmp, user, strlen(user));
		buf_putc(&tmp, 0);
		if (rng_below(r, 4) == 0) {
			say(s, 0, false, "AUTH LOGIN %s\r\n", (char *)tmp.p); /* initial response */
		} else {
			say(s, 0, false, "AUTH LOGIN\r\n");
			say(s, 1, false, "334 %s\r\n", uprompt[rng_below(r, 3)]);
			say(s, 0, false, "%s\r\n", (char *)tmp.p);
		}
		say(s, 1, false, "334 UGFzc3dvcmQ6\r\n");
		tmp.n = 0;
		buf_b64(&tmp, pass, strlen(pass));
		buf_putc(&tmp, 0);
		say(s, 0, false, "%s\r\n", (char *)tmp.p);
		break;
	}
	case AUTH_PLAIN: {
		struct buf cred = { 0 };
		if (rng_below(r, 5) == 0)
			buf_puts(&cred, user); /* authzid = authcid */
		buf_putc(&cred, 0);
		buf_puts(&cred, user);
		buf_putc(&cred, 0);
		buf_puts(&cred, pass);
		buf_b64(&tmp, cred.p, cred.n);
		buf_putc(&tmp, 0);
		buf_free(&cred);
		if (rng_below(r, 4) == 0) {
			say(s, 0, false, "AUTH PLAIN\r\n");
			say(s, 1, false, "334 \r\n");
			say(s, 0, false, "%s\r\n", (char *)tmp.p);
		} else {
			say(s, 0, false, "AUTH PLAIN %s\r\n", (char *)tmp.p);
		}
		break;
	}
	case AUTH_CRAM: {
		char chal[96];
		snprintf(chal, sizeof chal, "<%u.%u@%s>", rng_below(r, 100000), rng_below(r, 1000000000), srvname);
		buf_b64(&tmp, chal, strlen(chal));
		buf_putc(&tmp, 0);
		say(s, 0, false, "AUTH CRAM-MD5\r\n");
		say(s, 1, false, "334 %s\r\n", (char *)tmp.p);
		/* The digest is not a real HMAC-MD5 of the password: nothing on the
		 * wire can tell, and an analyser only decodes the user name. */
		char resp[200];
		int k = snprintf(resp, sizeof resp, "%s ", user);
		for (int i = 0; i < 32; i++)
			resp[k + i] = "0123456789abcdef"[rng_below(r, 16)];
		resp[k + 32] = 0;
		tmp.n = 0;
		buf_b64(&tmp, resp, strlen(resp));
		buf_putc(&tmp, 0);
		say(s, 0, false, "%s\r\n", (char *)tmp.p);
		break;
	}
	default:
		break;
	}
	if (mech != AUTH_NONE)
		say(s, 1, false, "235 2.7.0 Authentication successful\r\n");
	buf_free(&tmp);

	bool quit_pipelined = false;
	for (int i = 0; i < nmsg; i++) {
		struct msgspec *m = &ms[i];
		g->msg.n = 0;
		gen_message(g, s, m, helo, (unsigned)(s->id * 4 + (uint64_t)i), &g->msg);
		const char *mf = m->bounce ? "" : m->mail_from.text;
		char params[64] = "";
		if (esmtp && rng_below(r, 2))
			snprintf(params, sizeof params, " SIZE=%zu", g->msg.n);
		if (esmtp && rng_below(r, 4) == 0)
			strcat(params, " BODY=8BITMIME");
		const char *rej = "550 5.1.1 Recipient address rejected: User unknown\r\n";
		const char *queued = "250 2.0.0 Ok: queued as %s\r\n";
		char qid[16];
		rand_alnum(r, qid, 10);
		bool last = i + 1 == nmsg;
		if (pipe) {
			/* RFC 2920: MAIL, RCPT..., DATA (or BDAT...) in one write */
			t_open(s, 0, false);
			buf_printf(&s->data, "MAIL FROM:<%s>%s\r\n", mf, params);
			for (int k = 0; k < m->nrcpt; k++)
				buf_printf(&s->data, "RCPT TO:<%s>\r\n", m->rcpt[k].text);
			if (!m->bdat) {
				buf_puts(&s->data, "DATA\r\n");
				t_close(s);
				t_open(s, 1, split);
				buf_puts(&s->data, "250 2.1.0 Ok\r\n");
				for (int k = 0; k < m->nrcpt; k++)
					buf_puts(&s->data, m->rejected[k] ? rej : "250 2.1.5 Ok\r\n");
				buf_puts(&s->data, "354 End data with <CR><LF>.<CR><LF>\r\n");
				t_close(s);
				t_open(s, 0, false);
				stuff_into(s, &g->msg);
				if (last && rng_below(r, 3) == 0) {
					buf_puts(&s->data, "QUIT\r\n");
					quit_pipelined = true;
				}
				t_close(s);
				t_open(s, 1, split);
				buf_printf(&s->data, queued, qid);
				if (quit_pipelined)
					buf_puts(&s->data, "221 2.0.0 Bye\r\n");
				t_close(s);
			} else {
				size_t off = 0;
				for (int c = 0; c < m->chunks; c++) {
					size_t len = c + 1 < m->chunks ? g->msg.n / (size_t)m->chunks : g->msg.n - off;
					buf_printf(&s->data, "BDAT %zu%s\r\n", len, c + 1 == m->chunks ? " LAST" : "");
					buf_put(&s->data, g->msg.p + off, len);
					off += len;
				}
				if (last && rng_below(r, 3) == 0) {
					buf_puts(&s->data, "QUIT\r\n");
					quit_pipelined = true;
				}
				t_close(s);
				t_open(s, 1, split);
				buf_puts(&s->data, "250 2.1.0 Ok\r\n");
				for (int k = 0; k < m->nrcpt; k++)
					buf_puts(&s->data, m->rejected[k] ? rej : "250 2.1.5 Ok\r\n");
				for (int c = 0; c + 1 < m->chunks; c++)
					buf_puts(&s->data, "250 2.0.0 chunk accepted\r\n");
				buf_printf(&s->data, queued, qid);
				if (quit_pipelined)
					buf_puts(&s->data, "221 2.0.0 Bye\r\n");
				t_close(s);
			}
		} else {
			say(s, 0, false, "MAIL FROM:<%s>%s\r\n", mf, params);
			say(s, 1, false, "250 2.1.0 Ok\r\n");
			for (int k = 0; k < m->nrcpt; k++) {
				say(s, 0, false, "RCPT TO:<%s>\r\n", m->rcpt[k].text);
				say(s, 1, false, "%s", m->rejected[k] ? rej : "250 2.1.5 Ok\r\n");
			}
			if (!m->bdat) {
				say(s, 0, false, "DATA\r\n");
				say(s, 1, false, "354 End data with <CR><LF>.<CR><LF>\r\n");
				t_open(s, 0, false);
				stuff_into(s, &g->msg);
				t_close(s);
				say(s, 1, false, queued, qid);
			} else {
				size_t off = 0;
				for (int c = 0; c < m->chunks; c++) {
					size_t len = c + 1 < m->chunks ? g->msg.n / (size_t)m->chunks : g->msg.n - off;
					t_open(s, 0, false);
					buf_printf(&s->data, "BDAT %zu%s\r\n", len, c + 1 == m->chunks ? " LAST" : "");
					buf_put(&s->data, g->msg.p + off, len);
					t_close(s);
					off += len;
					if (c + 1 < m->chunks)
						say(s, 1, false, "250 2.0.0 %zu octets received\r\n", len);
					else
						say(s, 1, false, queued, qid);
				}
			}
		}
	}
	if (!quit_pipelined) {
		say(s, 0, false, "QUIT\r\n");
		say(s, 1, false, "221 2.0.0 Bye\r\n");
	}

	/* --- truth (closed in sess_finish) --- */
	struct buf *t = &s->truth;
	buf_puts(t, ",\"helo\":");
	buf_json(t, helo);
	buf_printf(t, ",\"esmtp\":%s,\"pipelining\":%s,\"auth\":", esmtp ? "true" : "false", pipe ? "true" : "false");
	if (mech == AUTH_NONE) {
		buf_puts(t, "null");
	} else {
		buf_printf(t, "{\"mechanism\":\"%s\",\"username\":", auth_name[mech]);
		buf_json(t, user);
		buf_puts(t, "}");
	}
	buf_puts(t, ",\"messages\":[");
	for (int i = 0; i < nmsg; i++) {
		struct msgspec *m = &ms[i];
		buf_puts(t, i ? ",{\"mail_from\":" : "{\"mail_from\":");
		buf_json(t, m->bounce ? "" : m->mail_from.text);
		buf_puts(t, ",\"rcpt_to\":[");
		int k = 0;
		for (int j = 0; j < m->nrcpt; j++)
			if (!m->rejected[j]) {
				if (k++)
					buf_putc(t, ',');
				buf_json(t, m->rcpt[j].text);
			}
		buf_puts(t, "],\"rcpt_rejected\":[");
		k = 0;
		for (int j = 0; j < m->nrcpt; j++)
			if (m->rejected[j]) {
				if (k++)
					buf_putc(t, ',');
				buf_json(t, m->rcpt[j].text);
			}
		buf_printf(t, "],\"xfer\":\"%s\",\"bdat_chunks\":%d,\"size\":%llu,\"from\":", m->bdat ? "BDAT" : "DATA",
		           m->chunks, (unsigned long long)m->size);
		buf_json(t, m->from.text);
		buf_puts(t, ",\"subject\":");
		buf_json(t, m->subject);
		buf_printf(t, ",\"spoofed\":%s}", m->spoofed ? "true" : "false");
		g->n_messages++;
		g->n_spoofed += m->spoofed;
		g->n_bdat += m->bdat;
	}
	buf_puts(t, "]");
	g->n_auth[mech]++;
}

/* --- background sessions ---------------------------------------------- */

static void script_http(struct gen *g, struct sess *s)
{
	struct rng *r = &s->rng;
	s->port[1] = 80;
	unsigned reqs = rng_range(r, 1, 3);
	for (unsigned i = 0; i < reqs; i++) {
		say(s, 0, false,
		    "GET /static/%u/page%u.html HTTP/1.1\r\nHost: www.%s\r\nUser-Agent: bench/1.0\r\n"
		    "Accept: */*\r\n\r\n",
		    rng_below(r, 1000), i, orgs[rng_below(r, N_ORGS)]);
		size_t len = rng_range(r, 200, g->o.msg_size + 200);
		t_open(s, 1, false);
		buf_printf(&s->data, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", len);
		/* text that looks like SMTP: port-based dispatch must ignore it */
		size_t start = s->data.n;
		buf_puts(&s->data, "MAIL FROM:<not-smtp@example.com>\r\nRCPT TO:<nobody@example.com>\r\n");
		gen_text(r, &s->data, len);
		s->data.n = start + len; /* exactly Content-Length bytes */
		t_close(s);
	}
}

static void script_tcp(struct gen *g, struct sess *s)
{
	struct rng *r = &s->rng;
	uint16_t p;
	do
		p = (uint16_t)rng_range(r, 1024, 32767);
	while (p == 2025 || p == 587 || p == 25);
	s->port[1] = p;
	unsigned turns = rng_range(r, 2, 8);
	for (unsigned i = 0; i < turns; i++) {
		size_t len = rng_range(r, 1, g->o.msg_size / 2 + 1);
		t_open(s, (int)(i & 1), false);
		buf_reserve(&s->data, len + 8);
		for (size_t k = 0; k < len; k += 8) {
			uint64_t v = rng_next(r);
			memcpy(s->data.p + s->data.n + k, &v, 8);
		}
		s->data.n += len;
		t_close(s);
	}
}

/* --- packets ---------------------------------------------------------- */

static size_t hdr_len(const struct sess *s)
{
	return (s->vlan ? 18u : 14u) + (s->v6 ? 40u : 20u) + 20u;
}

static size_t mss(const struct sess *s)
{
	return s->v6 ? 1440 : 1460; /* 1500-byte MTU */
}

/* Writes one frame from side dir: flags, payload pl[0..n) at stream offset
 * soff (ignored for SYN). The ACK number covers everything the peer has sent
 * (or lost), which is what the peer received. */
static void emit(struct gen *g, struct sess *s, int dir, uint8_t flags, uint64_t soff, const uint8_t *pl, size_t n)
{
	size_t l2 = s->vlan ? 18 : 14, l3 = s->v6 ? 40 : 20, l4 = (flags & TH_SYN) ? 24 : 20;
	size_t flen = l2 + l3 + l4 + n;
	uint8_t *rec = wr_reserve(&g->w, 16 + flen);
	uint8_t *f = rec + 16;

	g->ts_us += 1 + rng_below(&g->rng, 2 * g->o.gap_us);
	put32le(rec, (uint32_t)(g->ts_us / 1000000u));
	put32le(rec + 4, (uint32_t)(g->ts_us % 1000000u));
	put32le(rec + 8, (uint32_t)flen);
	put32le(rec + 12, (uint32_t)flen);

	/* Ethernet II, optional 802.1Q tag */
	memcpy(f, s->mac[!dir], 6);
	memcpy(f + 6, s->mac[dir], 6);
	uint8_t *p = f + 12;
	if (s->vlan) {
		put16(p, 0x8100);
		put16(p + 2, s->vlan_id);
		p += 4;
	}
	put16(p, s->v6 ? 0x86dd : 0x0800);
	p += 2;

	uint8_t *ip = p;
	size_t tcp_len = l4 + n;
	uint64_t sum = 0;
	if (s->v6) {
		put32(ip, 0x60000000u | (uint32_t)(s->id & 0xfffff));
		put16(ip + 4, (uint16_t)tcp_len);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, s->addr[dir], 16);
		memcpy(ip + 24, s->addr[!dir], 16);
		sum = csum_add(sum, ip + 8, 32);
	} else {
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, (uint16_t)(20 + tcp_len));
		put16(ip + 4, s->ipid[dir]++);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = dir ? 57 : 64;
		ip[9] = 6;
		put16(ip + 10, 0);
		memcpy(ip + 12, s->addr[dir], 4);
		memcpy(ip + 16, s->addr[!dir], 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
		sum = csum_add(sum, ip + 12, 8);
	}
	sum += 6 + tcp_len; /* pseudo-header: protocol and TCP length */

	uint8_t *tcp = ip + l3;
	uint32_t seq = (flags & TH_SYN) ? s->isn[dir] : s->isn[dir] + 1 + (uint32_t)soff;
	uint32_t ack = (flags & TH_ACK) ? s->isn[!dir] + 1 + (uint32_t)s->pos[!dir] + (s->fin[!dir] ? 1 : 0) : 0;
	put16(tcp, s->port[dir]);
	put16(tcp + 2, s->port[!dir]);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = (uint8_t)((l4 / 4) << 4);
	tcp[13] = flags;
	put16(tcp + 14, 64240);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	if (flags & TH_SYN) {
		tcp[20] = 2; /* MSS */
		tcp[21] = 4;
		put16(tcp + 22, (uint16_t)mss(s));
	}
	if (n)
		memcpy(tcp + l4, pl, n);
	sum = csum_add(sum, tcp, tcp_len);
	put16(tcp + 16, csum_fold(sum));

	wr_commit(&g->w, 16 + flen);
	g->packets++;
	g->frame_bytes += flen;
	uint64_t b = 16 + flen;
	uint64_t d = b < s->est_left ? b : s->est_left;
	s->est_left -= d;
	g->inflight_est -= d;
}

/* Length of the next segment of turn t at offset off. */
static size_t seg_len(const struct sess *s, const struct turn *t, size_t off)
{
	size_t rem = t->len - off, n = rem < mss(s) ? rem : mss(s);
	if (t->split) {
		const uint8_t *p = s->data.p + t->off + off;
		const uint8_t *nl = memchr(p, '\n', n);
		if (nl)
			n = (size_t)(nl - p) + 1;
	}
	return n;
}

/* A data segment: written, or dropped as capture loss. */
static void data_seg(struct gen *g, struct sess *s, const struct turn *t, size_t off, size_t n)
{
	const uint8_t *p = s->data.p + t->off + off;
	uint64_t soff = t->soff + off;
	if (s->loss_p > 0 && rng_chance(&s->rng, s->loss_p)) {
		s->lost_segs++;
		s->lost_bytes[t->dir] += n;
		g->dropped++;
		return;
	}
	emit(g, s, t->dir, TH_ACK | TH_PSH, soff, p, n);
	if (rng_chance(&s->rng, g->o.retrans)) {
		s->retransmitted++;
		if (rng_below(&s->rng, 2)) {
			emit(g, s, t->dir, TH_ACK | TH_PSH, soff, p, n); /* at once */
		} else if (!s->pending_rtx) {
			s->pending_rtx = true; /* after this session's next packet */
			s->rtx_dir = t->dir;
			s->rtx_soff = soff;
			s->rtx_p = p;
			s->rtx_len = (uint32_t)n;
		}
	}
}

/* Emits this session's next packet (or two). Sets P_DONE at the end. */
static void sess_step(struct gen *g, struct sess *s)
{
	bool had_rtx = s->pending_rtx;
	switch (s->phase) {
	case P_SYN:
		emit(g, s, 0, TH_SYN, 0, NULL, 0);
		s->phase = P_SYNACK;
		break;
	case P_SYNACK:
		emit(g, s, 1, TH_SYN | TH_ACK, 0, NULL, 0);
		s->phase = P_ACK;
		break;
	case P_ACK:
		emit(g, s, 0, TH_ACK, s->pos[0], NULL, 0);
		s->phase = s->nturns ? P_DATA : P_FIN1;
		break;
	case P_DATA: {
		struct turn *t = &s->turns[s->ti];
		int d = t->dir;
		if (s->unacked >= s->ack_every) {
			emit(g, s, !d, TH_ACK, s->pos[!d], NULL, 0);
			s->unacked = 0;
			break;
		}
		size_t n = seg_len(s, t, s->toff), n2 = 0;
		if (s->toff + n < t->len && rng_chance(&s->rng, g->o.reorder)) {
			/* the next segment overtakes this one */
			n2 = seg_len(s, t, s->toff + n);
			s->reordered++;
			data_seg(g, s, t, s->toff + n, n2);
			data_seg(g, s, t, s->toff, n);
		} else {
			data_seg(g, s, t, s->toff, n);
		}
		s->toff += n + n2;
		s->pos[d] = t->soff + s->toff;
		if (n + n2 >= mss(s))
			s->unacked += n2 ? 2 : 1;
		if (s->toff == t->len) {
			s->ti++;
			s->toff = 0;
			if (s->ti == s->nturns) {
				s->phase = P_FIN1;
			} else if (s->turns[s->ti].dir != d) {
				s->unacked = 0; /* the answer carries the ACK */
			} else if (s->unacked || t->len < mss(s)) {
				s->unacked = s->ack_every; /* the receiver acknowledges first */
			}
		}
		break;
	}
	case P_FIN1: /* the server closes after 221 (or the last response) */
		emit(g, s, 1, TH_FIN | TH_ACK, s->pos[1], NULL, 0);
		s->fin[1] = true;
		s->phase = P_FIN2;
		break;
	case P_FIN2:
		emit(g, s, 0, TH_FIN | TH_ACK, s->pos[0], NULL, 0);
		s->fin[0] = true;
		s->phase = P_LAST;
		break;
	case P_LAST:
		emit(g, s, 1, TH_ACK, s->pos[1] + 1, NULL, 0);
		s->phase = P_DONE;
		break;
	case P_DONE:
		break;
	}
	if (had_rtx && s->pending_rtx) {
		s->pending_rtx = false;
		emit(g, s, s->rtx_dir, TH_ACK | TH_PSH, s->rtx_soff, s->rtx_p, s->rtx_len);
	}
}

/* Creates session number g->next_id, scripts it and estimates its size. */
static struct sess *sess_new(struct gen *g)
{
	struct sess *s = calloc(1, sizeof *s);
	if (!s)
		die("out of memory");
	s->id = ++g->next_id;
	rng_seed(&s->rng, g->o.seed, s->id);
	s->kind = rng_chance(&s->rng, g->o.background) ? (rng_below(&s->rng, 2) ? K_HTTP : K_TCP) : K_SMTP;
	s->v6 = rng_chance(&s->rng, g->o.ipv6);
	s->vlan = rng_chance(&s->rng, g->o.vlan);
	s->vlan_id = (uint16_t)rng_range(&s->rng, 1, 4094);
	if (rng_chance(&s->rng, g->o.loss_sessions))
		s->loss_p = g->o.loss;
	s->ack_every = rng_chance(&s->rng, g->o.quickack) ? 1 : g->o.ack_every;
	set_endpoints(g, s);

	/* the truth line's head; the kind's script adds fields */
	if (s->kind == K_SMTP)
		script_smtp(g, s);
	else if (s->kind == K_HTTP)
		script_http(g, s);
	else
		script_tcp(g, s);
	struct buf head = { 0 };
	char ep[2][64];
	fmt_endpoint(s, 0, ep[0], sizeof ep[0]);
	fmt_endpoint(s, 1, ep[1], sizeof ep[1]);
	buf_printf(&head, "{\"type\":\"session\",\"id\":%llu,\"kind\":\"%s\",\"client\":\"%s\",\"server\":\"%s\","
	                  "\"ipv6\":%s,\"vlan\":%s",
	           (unsigned long long)s->id, kind_name[s->kind], ep[0], ep[1], s->v6 ? "true" : "false",
	           s->vlan ? "true" : "false");
	buf_put(&head, s->truth.p, s->truth.n);
	buf_free(&s->truth);
	s->truth = head;

	/* size estimate: payload, headers of each segment, ACKs, 7 control frames */
	uint64_t est = 7 * (16 + hdr_len(s) + 4);
	for (size_t i = 0; i < s->nturns; i++) {
		uint64_t segs = (s->turns[i].len + mss(s) - 1) / mss(s);
		est += s->turns[i].len + segs * (16 + hdr_len(s)) + (segs / s->ack_every + 1) * (16 + hdr_len(s));
	}
	s->est_left = est;
	g->inflight_est += est;
	g->n_kind[s->kind]++;
	g->started++;
	return s;
}

/* Closes the truth line, writes it and frees s. */
static void sess_finish(struct gen *g, struct sess *s)
{
	buf_printf(&s->truth, ",\"lossy\":%s,\"lost_segments\":%llu,\"lost_bytes\":[%llu,%llu],"
	                      "\"reordered\":%llu,\"retransmitted\":%llu}\n",
	           s->lost_segs ? "true" : "false", (unsigned long long)s->lost_segs,
	           (unsigned long long)s->lost_bytes[0], (unsigned long long)s->lost_bytes[1],
	           (unsigned long long)s->reordered, (unsigned long long)s->retransmitted);
	if (fwrite(s->truth.p, 1, s->truth.n, g->truth) != s->truth.n)
		die("%s: %s", g->o.truth, strerror(errno));
	g->n_lossy += s->lost_segs != 0;
	g->inflight_est -= s->est_left;
	buf_free(&s->truth);
	buf_free(&s->data);
	free(s->turns);
	free(s);
}

static bool may_start(const struct gen *g)
{
	if (g->o.sessions && g->started >= g->o.sessions)
		return false;
	if (g->o.target && g->w.total + g->inflight_est >= g->o.target)
		return false;
	return true;
}

/* ------------------------------------------------------------------ main */

static void write_meta(struct gen *g)
{
	const struct opts *o = &g->o;
	fprintf(g->truth,
	        "{\"type\":\"meta\",\"generator\":\"smtpscope bench/gen\",\"version\":\"%s\",\"seed\":%llu,"
	        "\"size\":%llu,\"sessions\":%llu,\"concurrency\":%u,\"msg_size\":%u,"
	        "\"auth\":{\"none\":%.4f,\"LOGIN\":%.4f,\"PLAIN\":%.4f,\"CRAM-MD5\":%.4f},"
	        "\"pipelining\":%g,\"bdat\":%g,\"ipv6\":%g,\"vlan\":%g,\"loss_sessions\":%g,\"loss\":%g,"
	        "\"reorder\":%g,\"retrans\":%g,\"spoof\":%g,\"background\":%g,\"multi\":%g,\"bounce\":%g,"
	        "\"split_lines\":%g,\"rcpt_reject\":%g,\"ack_every\":%u,\"quickack\":%g,\"gap_us\":%u}\n",
	        GEN_VERSION, (unsigned long long)o->seed, (unsigned long long)o->target,
	        (unsigned long long)o->sessions, o->concurrency, o->msg_size, o->auth_w[0], o->auth_w[1],
	        o->auth_w[2], o->auth_w[3], o->pipelining, o->bdat, o->ipv6, o->vlan, o->loss_sessions, o->loss,
	        o->reorder, o->retrans, o->spoof, o->background, o->multi, o->bounce, o->split_lines,
	        o->rcpt_reject, o->ack_every, o->quickack, o->gap_us);
}

int main(int argc, char **argv)
{
	struct gen g;
	memset(&g, 0, sizeof g);
	struct opts *o = &g.o;
	o->seed = 1;
	o->concurrency = 200;
	o->msg_size = 32 * 1024;
	o->auth_w[AUTH_NONE] = 0.4;
	o->auth_w[AUTH_LOGIN] = 0.2;
	o->auth_w[AUTH_PLAIN] = 0.3;
	o->auth_w[AUTH_CRAM] = 0.1;
	o->pipelining = 0.5;
	o->bdat = 0.15;
	o->ipv6 = 0.1;
	o->vlan = 0.1;
	o->loss_sessions = 0.01;
	o->loss = 0.05;
	o->reorder = 0.01;
	o->retrans = 0.01;
	o->spoof = 0.1;
	o->background = 0.1;
	o->multi = 0.1;
	o->bounce = 0.02;
	o->split_lines = 0.1;
	o->rcpt_reject = 0.05;
	o->ack_every = 2;
	o->quickack = 0.15;
	o->gap_us = 20;

	enum {
		O_AUTH = 256, O_PIPE, O_BDAT, O_V6, O_VLAN, O_LOSS_S, O_LOSS, O_REORDER, O_RETRANS, O_SPOOF,
		O_BG, O_MULTI, O_BOUNCE, O_SPLIT, O_REJ, O_ACK, O_QUICK, O_GAP,
	};
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "truth", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'S' },
		{ "sessions", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "msg-size", required_argument, NULL, 'm' },
		{ "auth", required_argument, NULL, O_AUTH },
		{ "pipelining", required_argument, NULL, O_PIPE },
		{ "bdat", required_argument, NULL, O_BDAT },
		{ "ipv6", required_argument, NULL, O_V6 },
		{ "vlan", required_argument, NULL, O_VLAN },
		{ "loss-sessions", required_argument, NULL, O_LOSS_S },
		{ "loss", required_argument, NULL, O_LOSS },
		{ "reorder", required_argument, NULL, O_REORDER },
		{ "retrans", required_argument, NULL, O_RETRANS },
		{ "spoof", required_argument, NULL, O_SPOOF },
		{ "background", required_argument, NULL, O_BG },
		{ "multi", required_argument, NULL, O_MULTI },
		{ "bounce", required_argument, NULL, O_BOUNCE },
		{ "split-lines", required_argument, NULL, O_SPLIT },
		{ "rcpt-reject", required_argument, NULL, O_REJ },
		{ "ack-every", required_argument, NULL, O_ACK },
		{ "quickack", required_argument, NULL, O_QUICK },
		{ "gap-us", required_argument, NULL, O_GAP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:t:s:S:n:c:m:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 't': o->truth = optarg; break;
		case 's': o->seed = parse_size(optarg, "--seed"); break;
		case 'S': o->target = parse_size(optarg, "--size"); break;
		case 'n': o->sessions = parse_size(optarg, "--sessions"); break;
		case 'c': o->concurrency = (unsigned)parse_size(optarg, "--concurrency"); break;
		case 'm': o->msg_size = (unsigned)parse_size(optarg, "--msg-size"); break;
		case O_AUTH: parse_auth(o, optarg); break;
		case O_PIPE: o->pipelining = parse_share(optarg, "--pipelining"); break;
		case O_BDAT: o->bdat = parse_share(optarg, "--bdat"); break;
		case O_V6: o->ipv6 = parse_share(optarg, "--ipv6"); break;
		case O_VLAN: o->vlan = parse_share(optarg, "--vlan"); break;
		case O_LOSS_S: o->loss_sessions = parse_share(optarg, "--loss-sessions"); break;
		case O_LOSS: o->loss = parse_share(optarg, "--loss"); break;
		case O_REORDER: o->reorder = parse_share(optarg, "--reorder"); break;
		case O_RETRANS: o->retrans = parse_share(optarg, "--retrans"); break;
		case O_SPOOF: o->spoof = parse_share(optarg, "--spoof"); break;
		case O_BG: o->background = parse_share(optarg, "--background"); break;
		case O_MULTI: o->multi = parse_share(optarg, "--multi"); break;
		case O_BOUNCE: o->bounce = parse_share(optarg, "--bounce"); break;
		case O_SPLIT: o->split_lines = parse_share(optarg, "--split-lines"); break;
		case O_REJ: o->rcpt_reject = parse_share(optarg, "--rcpt-reject"); break;
		case O_ACK: o->ack_every = (unsigned)parse_size(optarg, "--ack-every"); break;
		case O_QUICK: o->quickack = parse_share(optarg, "--quickack"); break;
		case O_GAP: o->gap_us = (unsigned)parse_size(optarg, "--gap-us"); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc || !o->out) {
		usage(stderr);
		return 1;
	}
	if (!o->target && !o->sessions)
		die("give --size or --sessions");
	if (!o->concurrency || !o->ack_every || !o->gap_us || o->msg_size > (64u << 20))
		die("--concurrency, --ack-every and --gap-us must be positive, --msg-size at most 64M");

	char *truth_path = NULL;
	if (!o->truth) {
		size_t n = strlen(o->out) + 16;
		truth_path = xrealloc(NULL, n);
		snprintf(truth_path, n, "%s.truth.jsonl", o->out);
		o->truth = truth_path;
	}
	for (int i = 0; i < 64; i++)
		word_len[i] = (uint8_t)strlen(words[i]);

	rng_seed(&g.rng, o->seed, 0);
	g.w.path = o->out;
	g.w.fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (g.w.fd < 0)
		die("%s: %s", o->out, strerror(errno));
	g.w.cap = 4u << 20;
	g.w.buf = xrealloc(NULL, g.w.cap);
	g.truth = fopen(o->truth, "w");
	if (!g.truth)
		die("%s: %s", o->truth, strerror(errno));
	write_meta(&g);

	/* pcap global header (native byte order; readers swap as needed) */
	uint8_t *h = wr_reserve(&g.w, 24);
	uint32_t magic = 0xa1b2c3d4, z = 0, snap = 65535, link = 1;
	uint16_t vmaj = 2, vmin = 4;
	memcpy(h, &magic, 4);
	memcpy(h + 4, &vmaj, 2);
	memcpy(h + 6, &vmin, 2);
	memcpy(h + 8, &z, 4);
	memcpy(h + 12, &z, 4);
	memcpy(h + 16, &snap, 4);
	memcpy(h + 20, &link, 4);
	wr_commit(&g.w, 24);

	g.ts_us = 1706745600ull * 1000000u + (o->seed % 86400) * 1000000u; /* 2024-02-01 */
	g.active = xrealloc(NULL, o->concurrency * sizeof *g.active);
	for (;;) {
		while (g.nactive < o->concurrency && may_start(&g))
			g.active[g.nactive++] = sess_new(&g);
		if (!g.nactive)
			break;
		unsigned i = rng_below(&g.rng, g.nactive);
		struct sess *s = g.active[i];
		sess_step(&g, s);
		if (s->phase == P_DONE) {
			sess_finish(&g, s);
			g.active[i] = g.active[--g.nactive];
		}
	}
	wr_flush(&g.w);
	if (close(g.w.fd) != 0)
		die("%s: %s", o->out, strerror(errno));

	fprintf(g.truth,
	        "{\"type\":\"summary\",\"packets\":%llu,\"dropped\":%llu,\"file_bytes\":%llu,\"frame_bytes\":%llu,"
	        "\"mean_frame\":%.1f,\"sessions\":%llu,\"smtp_sessions\":%llu,\"http_sessions\":%llu,"
	        "\"tcp_sessions\":%llu,\"messages\":%llu,\"spoofed\":%llu,\"bdat\":%llu,\"lossy_sessions\":%llu,"
	        "\"auth\":{\"none\":%llu,\"LOGIN\":%llu,\"PLAIN\":%llu,\"CRAM-MD5\":%llu},\"duration_s\":%.3f}\n",
	        (unsigned long long)g.packets, (unsigned long long)g.dropped, (unsigned long long)g.w.total,
	        (unsigned long long)g.frame_bytes, g.packets ? (double)g.frame_bytes / (double)g.packets : 0.0,
	        (unsigned long long)g.started, (unsigned long long)g.n_kind[K_SMTP],
	        (unsigned long long)g.n_kind[K_HTTP], (unsigned long long)g.n_kind[K_TCP],
	        (unsigned long long)g.n_messages, (unsigned long long)g.n_spoofed, (unsigned long long)g.n_bdat,
	        (unsigned long long)g.n_lossy, (unsigned long long)g.n_auth[0], (unsigned long long)g.n_auth[1],
	        (unsigned long long)g.n_auth[2], (unsigned long long)g.n_auth[3],
	        (double)(g.ts_us - (1706745600ull + o->seed % 86400) * 1000000u) / 1e6);
	if (fclose(g.truth) != 0)
		die("%s: %s", o->truth, strerror(errno));
	fprintf(stderr, "gen: %s: %llu packets, %llu bytes, mean frame %.0f bytes, %llu sessions (%llu SMTP, %llu messages)\n",
	        o->out, (unsigned long long)g.packets, (unsigned long long)g.w.total,
	        g.packets ? (double)g.frame_bytes / (double)g.packets : 0.0, (unsigned long long)g.started,
	        (unsigned long long)g.n_kind[K_SMTP], (unsigned long long)g.n_messages);
	free(g.active);
	free(g.w.buf);
	buf_free(&g.msg);
	free(truth_path);
	return 0;
}
