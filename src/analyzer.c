/* analyzer — pipeline wiring; contract in include/analyzer.h.
 *
 *   capture_pkt -> decoder_frame -> flow_table_packet -> hooks:
 *       open  -> per-flow app {smtp session, stream dump}
 *       data  -> smtp_session_data / dump
 *       gap   -> smtp_session_gap / dump ('\0' bytes)
 *       close -> smtp_session_close, EV_FLOW_END
 */
#include "analyzer.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ascii.h"
#include "extract.h"
#include "msgwire.h"
#include "sbuf.h"
#include "smtp.h"
#include "tls.h"
#include "tls_crypt.h"
#include "worker.h"

#define DUMP_FLUSH_AT (64u << 10) /* buffered stream bytes per direction before a write */
#define PROBE_MAX     4096        /* bytes held while deciding whether a flow speaks SMTP */
#define TLS_REPLAY_MAX (128u << 10) /* -i: TLS bytes kept per flow until its secrets are read */
#define TLS_REREAD_US 10000       /* -i: the key logs re-read at most this often on a miss */

/* --any-port: a flow on a port not configured as SMTP is probed by content
 * before the dissector sees it. Chunks are logged in arrival order (both
 * directions), then replayed to the new SMTP session once it is SMTP. */
enum probe_verdict { PROBE_UNDECIDED, PROBE_SMTP, PROBE_NOT_SMTP };

struct probe {
	struct sbuf log;        /* records: dir (1 byte), length (4), ts (8), bytes */
	struct sbuf first[2];   /* first bytes per direction (for the decision) */
};

struct dump {
	struct sbuf buf[2];     /* pending bytes per direction */
	bool created[2];        /* file created (truncated) already */
};

/* A SOCKS5 tunnel (RFC 1928, with RFC 1929 user/password) in front of SMTP:
 * the handshake is binary and would be glued to the first SMTP line, so it
 * is skipped, per direction, before the dissector sees the bytes. */
enum socks_st {
	SK_VER, SK_NMETH, SK_NEXT, SK_AUTH_ULEN, SK_AUTH_PLEN, SK_REQ_CMD, SK_ATYP, SK_DLEN,
	SK_METHOD, SK_AUTH_STATUS, SK_REP_VER, SK_DONE, SK_FAIL,
};
struct socks_skip {
	uint8_t st;        /* enum socks_st */
	uint8_t after;     /* state after the pending skip */
	uint16_t skip;     /* bytes to pass over before reading st */
	uint8_t method;    /* server: method chosen */
};

struct flow_app {
	const struct flow_info *fi;/* the flow (valid until close): the table's, or fi_copy */
	struct flow_info fi_copy;  /* with a worker thread: its own copy (updated at close) */
	_Atomic bool precious;     /* smtp || probe, for eviction (read by the capture thread) */
	struct probe *probe;       /* --any-port: deciding (NULL once decided) */
	bool not_smtp;             /* --any-port: decided it is not SMTP */
	bool socks_checked;        /* first bytes looked at for a SOCKS5 handshake */
	bool socks;                /* a SOCKS5 handshake precedes SMTP */
	struct socks_skip sk[2];   /* its parsers, per direction */
	struct smtp_session *smtp; /* NULL when not dissecting */
	struct tls_conn *tls;      /* once the session turned TLS (its bytes from there on) */
	struct sbuf tls_log;       /* -i: its TLS bytes so far (dir, length, ts, bytes), for a replay */
	bool tls_log_off;          /* not kept (keys found, over TLS_REPLAY_MAX, a gap, not live) */
	struct analyzer *an;       /* for the TLS hand-off (keys) */
	struct dump *dump;         /* NULL without --dump-streams */
};

/* The SMTP layer hands its message stream to one set of hooks; the
 * consumers that want it (extraction, header parsing and verdicts) do not
 * know each other, so the wiring fans it out here: every hook of a, then
 * the same hook of b (either may be NULL, as may any hook). */
struct msg_tee {
	struct smtp_msg_hooks hooks; /* what the SMTP layer calls */
	const struct smtp_msg_hooks *a, *b;
};

static void tee_begin(void *u, struct smtp_txn *t)
{
	const struct msg_tee *m = u;
	if (m->a && m->a->begin)
		m->a->begin(m->a->user, t);
	if (m->b && m->b->begin)
		m->b->begin(m->b->user, t);
}

static void tee_data(void *u, struct smtp_txn *t, const uint8_t *p, size_t n)
{
	const struct msg_tee *m = u;
	if (m->a && m->a->data)
		m->a->data(m->a->user, t, p, n);
	if (m->b && m->b->data)
		m->b->data(m->b->user, t, p, n);
}

static void tee_gap(void *u, struct smtp_txn *t, uint64_t len)
{
	const struct msg_tee *m = u;
	if (m->a && m->a->gap)
		m->a->gap(m->a->user, t, len);
	if (m->b && m->b->gap)
		m->b->gap(m->b->user, t, len);
}

static void tee_end(void *u, struct smtp_txn *t)
{
	const struct msg_tee *m = u;
	if (m->a && m->a->end)
		m->a->end(m->a->user, t);
	if (m->b && m->b->end)
		m->b->end(m->b->user, t);
}

static void tee_complete(void *u, struct smtp_txn *t)
{
	const struct msg_tee *m = u;
	if (m->a && m->a->complete)
		m->a->complete(m->a->user, t);
	if (m->b && m->b->complete)
		m->b->complete(m->b->user, t);
}

static void tee_session_end(void *u, struct smtp_session *s)
{
	const struct msg_tee *m = u;
	if (m->a && m->a->session_end)
		m->a->session_end(m->a->user, s);
	if (m->b && m->b->session_end)
		m->b->session_end(m->b->user, s);
}

/* The hooks to give the SMTP layer: a alone when there is no b (no
 * indirection in the common case), else the tee t of a then b. */
static const struct smtp_msg_hooks *msg_tee_init(struct msg_tee *t, const struct smtp_msg_hooks *a,
                                                 const struct smtp_msg_hooks *b)
{
	if (!a || !b)
		return a ? a : b;
	*t = (struct msg_tee){ { tee_begin, tee_data, tee_gap, tee_end, tee_complete, tee_session_end, t }, a, b };
	return &t->hooks;
}

struct analyzer {
	struct analyzer_opts o;
	struct event_bus *bus;
	struct decoder *dec;
	struct flow_table *flows;
	struct smtp_config smtp_cfg;
	struct msgwire *msg;        /* header parsing + verdicts for messages */
	struct msg_tee tee;         /* the SMTP message stream to --extract, then msgwire */
	struct analyzer_stats st;
	uint64_t last_expire_us;    /* packet time of the last expiry pass */
	uint64_t keys_reread_us;    /* -i: monotonic time the worker last re-read the key logs */
	int dump_dirfd;             /* --dump-streams directory */
	FILE *dump_index;           /* DIR/index.tsv */
	int statm_fd;               /* /proc/self/statm (-1 not opened yet, -2 unavailable) */
	struct worker *worker;      /* the application layer's thread, or NULL */
};

/* Records from the capture thread to the worker (docs/design.md, "Threads"). */
enum { REC_OPEN = 1, REC_DATA, REC_GAP, REC_CLOSE, REC_FLUSH };

/* ---- stream dump (--dump-streams) ---------------------------------------- */

static void dump_write(struct analyzer *a, uint64_t id, int dir, struct dump *d)
{
	char name[64];
	snprintf(name, sizeof name, "f%llu.%s", (unsigned long long)id, dir == FLOW_C2S ? "c2s" : "s2c");
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (d->created[dir] ? O_APPEND : O_TRUNC);
	int fd = openat(a->dump_dirfd, name, flags, 0644);
	if (fd < 0) {
		a->st.dump_errors++;
		sbuf_clear(&d->buf[dir]);
		return;
	}
	d->created[dir] = true;
	size_t off = 0;
	while (off < d->buf[dir].len) {
		ssize_t w = write(fd, d->buf[dir].buf + off, d->buf[dir].len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			a->st.dump_errors++;
			break;
		}
		off += (size_t)w;
	}
	close(fd);
	sbuf_clear(&d->buf[dir]);
}

static void dump_bytes(struct analyzer *a, const struct flow_info *fi, struct dump *d, int dir,
                       const uint8_t *p, size_t n)
{
	sbuf_add(&d->buf[dir], p, n);
	if (d->buf[dir].len >= DUMP_FLUSH_AT)
		dump_write(a, fi->id, dir, d);
}

static void dump_zeros(struct analyzer *a, const struct flow_info *fi, struct dump *d, int dir, uint64_t n)
{
	static const uint8_t zeros[4096];
	while (n) {
		size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
		dump_bytes(a, fi, d, dir, zeros, k);
		n -= k;
	}
}

static void dump_close(struct analyzer *a, const struct flow_info *fi, struct dump *d)
{
	for (int dir = 0; dir < 2; dir++) {
		dump_write(a, fi->id, dir, d);
		sbuf_free(&d->buf[dir]);
	}
	char ca[64], sa[64];
	endpoint_addr_str(&fi->client, ca, sizeof ca);
	endpoint_addr_str(&fi->server, sa, sizeof sa);
	fprintf(a->dump_index, "%llu\t%s\t%u\t%s\t%u\t%llu\t%llu\t%u\t%u\t%s\n", (unsigned long long)fi->id, ca,
	        (unsigned)fi->client.port, sa, (unsigned)fi->server.port, (unsigned long long)fi->bytes[0],
	        (unsigned long long)fi->bytes[1], fi->gaps[0], fi->gaps[1], flow_end_str(fi->end));
	free(d);
}

/* ---- SMTP detection by content (--any-port) ---------------------------------- */

static bool is_tls_port(const struct analyzer *a, uint16_t port)
{
	for (size_t i = 0; i < a->o.n_tls_ports; i++)
		if (a->o.tls_ports[i] == port)
			return true;
	return false;
}

static bool is_server_port(const struct analyzer *a, uint16_t port)
{
	for (size_t i = 0; i < a->o.flow.n_server_ports; i++)
		if (a->o.flow.server_ports[i] == port)
			return true;
	return false;
}

/* Does p[0..n) start like want (case-insensitively), as far as it goes? */
static int prefix_state(const uint8_t *p, size_t n, const char *want)
{
	size_t w = strlen(want);
	for (size_t i = 0; i < n && i < w; i++) {
		if (ascii_upper(p[i]) != (unsigned char)want[i])
			return -1; /* no */
	}
	return n >= w ? 1 : 0; /* yes / not enough bytes yet */
}

/* RFC 5321 §4.2: the greeting is "220" then SP, "-" or the line end;
 * §4.1.1.1: the client's first command is EHLO or HELO (LHLO for LMTP). */
static enum probe_verdict probe_decide(const struct analyzer *a, const struct flow_info *fi, const struct probe *pr)
{
	const uint8_t *c = (const uint8_t *)pr->first[FLOW_C2S].buf, *sv = (const uint8_t *)pr->first[FLOW_S2C].buf;
	size_t cn = pr->first[FLOW_C2S].len, sn = pr->first[FLOW_S2C].len;
	if (is_tls_port(a, fi->server.port) && ((cn >= 2 && c[0] == 0x16 && c[1] == 0x03) ||
	                                      (sn >= 2 && sv[0] == 0x16 && sv[1] == 0x03)))
		return PROBE_SMTP; /* implicit TLS: reported as an encrypted session */
	/* An HTTP CONNECT tunnel (RFC 9110 §9.3.6) may carry SMTP: look past the
	 * request and the proxy's answer. */
	if (cn >= 8 && prefix_state(c, cn, "CONNECT ") > 0) {
		const uint8_t *e = memmem(c, cn, "\r\n\r\n", 4);
		size_t k = e ? (size_t)(e - c) + 4 : 0;
		if (!e && (e = memmem(c, cn, "\n\n", 2)))
			k = (size_t)(e - c) + 2;
		if (!k)
			return cn >= PROBE_MAX ? PROBE_NOT_SMTP : PROBE_UNDECIDED;
		c += k;
		cn -= k;
		if (!sn)
			return PROBE_UNDECIDED;
		if (prefix_state(sv, sn, "HTTP/") < 0)
			return PROBE_NOT_SMTP;
		e = memmem(sv, sn, "\r\n\r\n", 4);
		k = e ? (size_t)(e - sv) + 4 : 0;
		if (!e && (e = memmem(sv, sn, "\n\n", 2)))
			k = (size_t)(e - sv) + 2;
		if (!k)
			return sn >= PROBE_MAX ? PROBE_NOT_SMTP : PROBE_UNDECIDED;
		sv += k;
		sn -= k;
	}
	bool greet = false;
	if (sn) {
		int st = prefix_state(sv, sn, "220");
		if (st < 0)
			return PROBE_NOT_SMTP;
		if (st > 0) {
			if (sn == 3)
				return PROBE_UNDECIDED;
			if (sv[3] != ' ' && sv[3] != '-' && sv[3] != '\r' && sv[3] != '\n')
				return PROBE_NOT_SMTP;
			greet = true;
		}
	}
	if (cn) {
		int best = -1;
		static const char *const verbs[] = { "EHLO", "HELO", "LHLO" };
		for (int i = 0; i < 3; i++) {
			int st = prefix_state(c, cn, verbs[i]);
			if (st > 0 && cn > 4 && c[4] != ' ' && c[4] != '\r' && c[4] != '\n')
				st = -1;
			if (st > 0 && cn == 4)
				st = 0;
			if (st > best)
				best = st;
		}
		if (best < 0)
			return PROBE_NOT_SMTP;
		if (best > 0)
			return PROBE_SMTP; /* a greeting (or none captured) and a HELO/EHLO */
	}
	(void)greet;
	if (cn + sn >= PROBE_MAX)
		return PROBE_NOT_SMTP;
	return PROBE_UNDECIDED;
}

static void probe_free(struct probe *pr)
{
	sbuf_free(&pr->log);
	sbuf_free(&pr->first[0]);
	sbuf_free(&pr->first[1]);
	free(pr);
}

/* Replay the logged chunks into the new session, in arrival order. */
static void probe_replay(struct flow_app *app, struct probe *pr)
{
	size_t off = 0;
	while (off + 13 <= pr->log.len) {
		const uint8_t *h = (const uint8_t *)pr->log.buf + off;
		int dir = h[0];
		uint32_t n;
		uint64_t ts;
		memcpy(&n, h + 1, 4);
		memcpy(&ts, h + 5, 8);
		smtp_session_data(app->smtp, dir, h + 13, n, ts);
		off += 13 + n;
	}
}

/* ---- the TLS hand-off (worker thread) --------------------------------------
 * smtp hands over the bytes of each direction from its TLS point on; the
 * flow's tls_conn is made at the first of them and decrypted application
 * data goes back into the session (include/smtp.h, struct smtp_tls_hook). */

static void app_tls_plain(void *user, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct flow_app *app = user;
	if (app->smtp)
		smtp_session_tls_plaintext(app->smtp, dir, p, n, ts);
}

static void app_tls_plain_gap(void *user, int dir, uint64_t len, uint64_t ts)
{
	struct flow_app *app = user;
	if (app->smtp)
		smtp_session_tls_gap(app->smtp, dir, len, ts);
}

static void app_tls_conn(struct flow_app *app)
{
	struct tls_callbacks cb = { app_tls_plain, app_tls_plain_gap, app };
	app->tls = tls_conn_new(app->an->o.tls_keys, &cb);
	app->smtp->tls_info = tls_conn_info(app->tls);
}

static void tls_log_drop(struct flow_app *app)
{
	sbuf_free(&app->tls_log);
	app->tls_log_off = true;
}

static uint64_t mono_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* Live capture: a client writes its secrets to the key log when it derives
 * them, which is about when the capture shows the ServerHello, so the TLS
 * layer's lookup there often misses. Until the secrets are found, the
 * flow's TLS bytes are kept; the key logs are re-read on each new chunk (at
 * most every TLS_REREAD_US); once every secret the version needs is there,
 * a fresh tls_conn is fed the kept bytes. No plaintext can have reached the
 * session before (no keys), so nothing is said twice. */
static void tls_retry(struct analyzer *a, struct flow_app *app)
{
	const struct tls_info *ti = tls_conn_info(app->tls);
	if (ti->keys == TLS_KEYS_OK || ti->keys == TLS_KEYS_FAILED || ti->keys == TLS_KEYS_UNSUPPORTED ||
	    ti->decrypted) {
		tls_log_drop(app);
		return;
	}
	if (ti->keys != TLS_KEYS_MISSING)
		return; /* not yet at the point where keys are looked up */
	uint64_t now = mono_us();
	if (now - a->keys_reread_us >= TLS_REREAD_US) {
		a->keys_reread_us = now;
		tls_keys_refresh(a->o.tls_keys_live);
	}
	static const enum tls_secret_kind k13[] = { TLS_SECRET_CLIENT_HS, TLS_SECRET_SERVER_HS,
		                                    TLS_SECRET_CLIENT_AP0, TLS_SECRET_SERVER_AP0 };
	static const enum tls_secret_kind k12[] = { TLS_SECRET_MASTER };
	const enum tls_secret_kind *k = ti->version == 0x0304 ? k13 : k12;
	size_t nk = ti->version == 0x0304 ? 4 : 1;
	struct tls_secret sec;
	for (size_t i = 0; i < nk; i++)
		if (!tls_keys_lookup(a->o.tls_keys, ti->client.random, k[i], &sec))
			return;
	struct tls_conn *old = app->tls;
	struct sbuf log = app->tls_log;
	memset(&app->tls_log, 0, sizeof app->tls_log);
	app->tls_log_off = true;
	app_tls_conn(app);
	for (size_t off = 0; off + 13 <= log.len;) {
		const uint8_t *h = (const uint8_t *)log.buf + off;
		uint32_t n;
		uint64_t ts;
		memcpy(&n, h + 1, 4);
		memcpy(&ts, h + 5, 8);
		tls_conn_data(app->tls, h[0], h + 13, n, ts);
		off += 13 + n;
	}
	sbuf_free(&log);
	tls_conn_free(old);
}

static void app_tls_data(void *user, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct flow_app *app = user;
	struct analyzer *a = app->an;
	if (!app->tls) {
		app_tls_conn(app);
		app->tls_log_off = !a->o.tls_keys_live;
	}
	if (!app->tls_log_off) {
		if (app->tls_log.len + 13 + n > TLS_REPLAY_MAX) {
			tls_log_drop(app);
		} else {
			uint8_t h[13];
			uint32_t n32 = (uint32_t)n;
			h[0] = (uint8_t)dir;
			memcpy(h + 1, &n32, 4);
			memcpy(h + 5, &ts, 8);
			sbuf_add(&app->tls_log, h, sizeof h);
			sbuf_add(&app->tls_log, p, n);
		}
	}
	tls_conn_data(app->tls, dir, p, n, ts);
	if (!app->tls_log_off)
		tls_retry(a, app);
}

static void app_tls_gap(void *user, int dir, uint64_t len, uint64_t ts)
{
	struct flow_app *app = user;
	tls_log_drop(app); /* a replay would not have these bytes either */
	if (app->tls)
		tls_conn_gap(app->tls, dir, len, ts);
}

static void app_smtp_new(struct analyzer *a, struct flow_app *app)
{
	app->an = a;
	app->smtp = smtp_session_new(&a->smtp_cfg, a->bus, app->fi, app->fi->first_ts_us);
	struct smtp_tls_hook h = { app_tls_data, app_tls_gap, app, is_tls_port(a, app->fi->server.port) };
	smtp_session_set_tls(app->smtp, &h);
}

static void probe_data(struct analyzer *a, struct flow_app *app, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct probe *pr = app->probe;
	uint8_t h[13];
	uint32_t n32 = (uint32_t)n;
	h[0] = (uint8_t)dir;
	memcpy(h + 1, &n32, 4);
	memcpy(h + 5, &ts, 8);
	sbuf_add(&pr->log, h, sizeof h);
	sbuf_add(&pr->log, p, n);
	size_t room = PROBE_MAX - pr->first[dir].len;
	sbuf_add(&pr->first[dir], p, n < room ? n : room);
	enum probe_verdict v = probe_decide(a, app->fi, pr);
	if (v == PROBE_UNDECIDED && pr->log.len < PROBE_MAX * 4)
		return;
	app->probe = NULL;
	if (v == PROBE_SMTP) {
		app_smtp_new(a, app);
		probe_replay(app, pr);
	} else {
		app->not_smtp = true;
	}
	probe_free(pr);
}

/* Consume SOCKS5 handshake bytes of one direction; returns how many of
 * p[0..n) belong to it (the rest is SMTP). */
static size_t socks_consume(struct socks_skip *k, int dir, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && k->st != SK_DONE && k->st != SK_FAIL) {
		if (k->skip) {
			size_t t = n - i < k->skip ? n - i : k->skip;
			i += t;
			k->skip = (uint16_t)(k->skip - t);
			if (!k->skip)
				k->st = k->after;
			continue;
		}
		uint8_t b = p[i++];
		switch (k->st) {
		case SK_VER: /* client greeting / server method selection: version 5 */
			if (b != 5) {
				k->st = SK_FAIL;
				return 0;
			}
			k->st = dir == FLOW_C2S ? SK_NMETH : SK_METHOD;
			break;
		case SK_NMETH: /* that many method bytes follow */
			k->skip = b;
			k->after = SK_NEXT;
			if (!b)
				k->st = SK_NEXT;
			break;
		case SK_NEXT: /* 1: RFC 1929 user/password; 5: the request */
			if (b == 1)
				k->st = SK_AUTH_ULEN;
			else if (b == 5)
				k->st = SK_REQ_CMD;
			else
				k->st = SK_FAIL;
			break;
		case SK_AUTH_ULEN: /* RFC 1929: ulen, user, plen, password */
			k->skip = b;
			k->after = SK_AUTH_PLEN;
			if (!b)
				k->st = SK_AUTH_PLEN;
			break;
		case SK_AUTH_PLEN: /* then the request, version 5 again */
			k->skip = b;
			k->after = SK_NEXT;
			if (!b)
				k->st = SK_NEXT;
			break;
		case SK_REQ_CMD: /* cmd (client) or reply code (server), then RSV */
			k->skip = 1;
			k->after = SK_ATYP;
			break;
		case SK_ATYP: /* address, then the port */
			if (b == 1 || b == 4) {
				k->skip = (uint16_t)((b == 1 ? 4 : 16) + 2);
				k->after = SK_DONE;
			} else if (b == 3) {
				k->st = SK_DLEN;
			} else {
				k->st = SK_FAIL;
			}
			break;
		case SK_DLEN:
			k->skip = (uint16_t)(b + 2);
			k->after = SK_DONE;
			break;
		case SK_METHOD: /* 2: an RFC 1929 reply (version, status) follows */
			k->method = b;
			k->st = b == 2 ? SK_AUTH_STATUS : SK_REP_VER;
			if (b == 2) {
				k->skip = 1;
				k->after = SK_AUTH_STATUS;
			}
			break;
		case SK_AUTH_STATUS:
			k->st = SK_REP_VER;
			break;
		case SK_REP_VER:
			k->st = b == 5 ? SK_REQ_CMD : SK_FAIL;
			break;
		default:
			k->st = SK_FAIL;
			break;
		}
	}
	return k->st == SK_FAIL ? 0 : i;
}

/* ---- the application layer (on the worker thread when there is one) ------ */

static void app_precious(struct flow_app *app)
{
	atomic_store_explicit(&app->precious, app->smtp || app->probe, memory_order_relaxed);
}

static void app_open(struct analyzer *a, struct flow_app *app)
{
	const struct flow_info *fi = app->fi;
	if (a->o.smtp) {
		if (!a->o.any_port || is_server_port(a, fi->server.port))
			app_smtp_new(a, app);
		else
			app->probe = xcalloc(1, sizeof *app->probe);
	}
	if (a->o.dump_dir)
		app->dump = xcalloc(1, sizeof *app->dump);
	app_precious(app);
}

static void app_data(struct analyzer *a, struct flow_app *app, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	if (!app->socks_checked && n) {
		/* SMTP never starts with byte 5 from the client; SOCKS5 always does */
		app->socks_checked = true;
		app->socks = dir == FLOW_C2S && p[0] == 5;
	}
	if (app->socks && app->sk[dir].st != SK_DONE && app->sk[dir].st != SK_FAIL) {
		size_t k = socks_consume(&app->sk[dir], dir, p, n);
		p += k;
		n -= k;
		if (!n)
			return;
	}
	if (app->probe) {
		probe_data(a, app, dir, p, n, ts);
		app_precious(app);
	} else if (app->smtp) {
		smtp_session_data(app->smtp, dir, p, n, ts);
	}
	if (app->dump)
		dump_bytes(a, app->fi, app->dump, dir, p, n);
}

static void app_gap(struct analyzer *a, struct flow_app *app, int dir, uint64_t len, uint64_t ts)
{
	if (app->probe) { /* a hole before we could tell: leave the flow alone */
		probe_free(app->probe);
		app->probe = NULL;
		app->not_smtp = true;
		app_precious(app);
	}
	if (app->smtp)
		smtp_session_gap(app->smtp, dir, len, ts);
	if (app->dump)
		dump_zeros(a, app->fi, app->dump, dir, len);
}

/* fi is the flow as it ended; app (may be NULL) is freed. */
static void app_close(struct analyzer *a, struct flow_app *app, const struct flow_info *fi, uint64_t ts)
{
	if (app) {
		if (app->probe)
			probe_free(app->probe);
		if (app->smtp && app->tls && !app->tls_log_off) {
			/* -i: the flow ended before a re-read of the key logs found its
			 * secrets (re-reads are at most every TLS_REREAD_US, a loopback
			 * session is shorter): one last re-read and replay */
			a->keys_reread_us = 0;
			tls_retry(a, app);
		}
		if (app->smtp) {
			if (app->tls) /* the TLS layer's anomalies are the session's too */
				anom_merge(&app->smtp->anoms, &tls_conn_info(app->tls)->anoms);
			smtp_session_close(app->smtp, ts);
			smtp_session_free(app->smtp);
		}
		tls_conn_free(app->tls); /* after the session: its records read tls_info */
		sbuf_free(&app->tls_log);
		if (app->dump)
			dump_close(a, fi, app->dump);
	} else if (a->o.dump_dir) {
		/* a flow that never carried a byte still gets its (empty) files */
		struct dump *d = xcalloc(1, sizeof *d);
		dump_close(a, fi, d);
	}
	struct event ev = { .type = EV_FLOW_END, .ts_us = ts, .flow = fi };
	event_bus_emit(a->bus, &ev);
	free(app);
}

/* The worker applies one record. */
static void apply(void *ctx, const struct worker_rec *r, const void *body, size_t blen)
{
	struct analyzer *a = ctx;
	struct flow_app *app = r->app;
	switch (r->type) {
	case REC_OPEN:
		memcpy(&app->fi_copy, body, sizeof app->fi_copy);
		app->fi = &app->fi_copy;
		app_open(a, app);
		break;
	case REC_DATA:
		app_data(a, app, r->dir, body, blen, r->ts);
		break;
	case REC_GAP:
		app_gap(a, app, r->dir, r->n, r->ts);
		break;
	case REC_CLOSE:
		if (app) { /* the session's records read the flow through app->fi */
			memcpy(&app->fi_copy, body, sizeof app->fi_copy);
			app_close(a, app, &app->fi_copy, r->ts);
		} else {
			struct flow_info fi;
			memcpy(&fi, body, sizeof fi);
			app_close(a, NULL, &fi, r->ts);
		}
		break;
	case REC_FLUSH:
		event_bus_flush(a->bus);
		break;
	}
}

static void send_rec(struct analyzer *a, int type, void *app, int dir, uint64_t ts, uint64_t n,
                     const void *body, size_t blen)
{
	struct worker_rec r = { 0 };
	r.type = (uint16_t)type;
	r.dir = (uint16_t)dir;
	r.ts = ts;
	r.n = n;
	r.app = app;
	worker_send(a->worker, &r, body, blen);
}

/* ---- flow hooks (the capture thread) ------------------------------------ */

static void *hook_open(void *user, const struct flow_info *fi)
{
	struct analyzer *a = user;
	if (!a->o.smtp && !a->o.dump_dir)
		return NULL;
	struct flow_app *app = xcalloc(1, sizeof *app);
	if (a->worker) {
		atomic_init(&app->precious, a->o.smtp);
		send_rec(a, REC_OPEN, app, 0, 0, 0, fi, sizeof *fi);
	} else {
		app->fi = fi;
		app_open(a, app);
	}
	return app;
}

static void hook_data(void *user, void *vapp, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct analyzer *a = user;
	if (!vapp)
		return;
	if (!a->worker) {
		app_data(a, vapp, dir, p, n, ts);
		return;
	}
	while (n) {
		size_t k = n < WORKER_MAX_BODY ? n : WORKER_MAX_BODY;
		send_rec(a, REC_DATA, vapp, dir, ts, 0, p, k);
		p += k;
		n -= k;
	}
}

static void hook_gap(void *user, void *vapp, int dir, uint64_t len, uint64_t ts)
{
	struct analyzer *a = user;
	if (!vapp)
		return;
	if (a->worker)
		send_rec(a, REC_GAP, vapp, dir, ts, len, NULL, 0);
	else
		app_gap(a, vapp, dir, len, ts);
}

static void hook_close(void *user, void *vapp, const struct flow_info *fi, uint64_t ts)
{
	struct analyzer *a = user;
	a->st.gaps += fi->gaps[0] + fi->gaps[1];
	a->st.gap_bytes += fi->gap_bytes[0] + fi->gap_bytes[1];
	if (a->worker)
		send_rec(a, REC_CLOSE, vapp, 0, ts, 0, fi, sizeof *fi);
	else
		app_close(a, vapp, fi, ts);
}

static bool hook_precious(void *user, void *vapp)
{
	(void)user;
	const struct flow_app *app = vapp;
	return app && atomic_load_explicit(&app->precious, memory_order_relaxed);
}

/* Heap in use (malloc'd bytes, small and large), for --max-memory. */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* Resident bytes (/proc/self/statm), or SIZE_MAX when unknown. The heap's
 * touched part is resident, so a resident size under the cap means the heap
 * is under it too — and reading it takes no malloc lock, unlike mallinfo2(),
 * which walks every arena while the worker waits to allocate. */
static size_t resident_bytes(struct analyzer *a)
{
	if (a->statm_fd == -1)
		a->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (a->statm_fd < 0) {
		a->statm_fd = -2; /* not available: always ask malloc */
		return SIZE_MAX;
	}
	char buf[128];
	ssize_t k = pread(a->statm_fd, buf, sizeof buf - 1, 0);
	if (k <= 0)
		return SIZE_MAX;
	buf[k] = '\0';
	unsigned long long size, res;
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return SIZE_MAX;
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* Over the cap: shed flows, a slice at a time, until under 7/8 of it. */
static void memory_check(struct analyzer *a, uint64_t ts)
{
	size_t cap = a->o.max_memory;
	if (!cap || resident_bytes(a) <= cap || heap_in_use() <= cap)
		return;
	a->st.memory_pressure++;
	for (int round = 0; round < 64 && heap_in_use() > cap - cap / 8; round++) {
		struct flow_stats fs;
		flow_table_stats(a->flows, &fs);
		size_t n = fs.flows_open / 16 + 16;
		if (!flow_table_shed(a->flows, n, ts))
			break;
		if (a->worker) /* the sessions are freed on the worker: let it catch up */
			worker_sync(a->worker);
		malloc_trim(0);
	}
}

/* ---- public ---------------------------------------------------------------- */

struct analyzer *analyzer_new(const struct analyzer_opts *o, int linktype, struct event_bus *bus,
                              char *err, size_t errlen)
{
	if (!decoder_linktype_supported(linktype)) {
		snprintf(err, errlen, "link-layer type %d is not supported", linktype);
		return NULL;
	}
	struct analyzer *a = xcalloc(1, sizeof *a);
	a->o = *o;
	a->bus = bus;
	a->dump_dirfd = -1;
	a->statm_fd = -1;
	if (o->dump_dir) {
		if (mkdir(o->dump_dir, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "--dump-streams %s: %s", o->dump_dir, strerror(errno));
			free(a);
			return NULL;
		}
		a->dump_dirfd = open(o->dump_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (a->dump_dirfd < 0) {
			snprintf(err, errlen, "--dump-streams %s: %s", o->dump_dir, strerror(errno));
			free(a);
			return NULL;
		}
		int ifd = openat(a->dump_dirfd, "index.tsv", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (ifd < 0) {
			snprintf(err, errlen, "--dump-streams %s: %s", o->dump_dir,
			         errno == EEXIST ? "already holds a dump (index.tsv); choose an empty directory"
			                         : strerror(errno));
			close(a->dump_dirfd);
			free(a);
			return NULL;
		}
		a->dump_index = fdopen(ifd, "w");
		fputs("id\tclient_ip\tclient_port\tserver_ip\tserver_port\tbytes_c2s\tbytes_s2c\tgaps_c2s\tgaps_s2c\tend\n",
		      a->dump_index);
	}
	a->dec = decoder_new(linktype);
	a->msg = msgwire_new(o->strict_alignment);
	a->smtp_cfg.show_secrets = o->show_secrets;
	/* extraction sees each message's bytes before the header parser, as it
	 * always did; the transaction reaches it later through its sink */
	a->smtp_cfg.msg = msg_tee_init(&a->tee, o->extract ? extract_msg_hooks(o->extract) : NULL,
	                               msgwire_hooks(a->msg));
	struct flow_hooks h = { hook_open, hook_data, hook_gap, hook_close, hook_precious, a };
	a->flows = flow_table_new(&o->flow, &h);
	/* each thread gets its own malloc arena (one shared arena made them wait
	 * on its lock); mallinfo2() sums every arena, so --max-memory sees both */
	if (o->threads > 1)
		a->worker = worker_new(apply, a); /* NULL: carry on with one thread */
	return a;
}

int analyzer_set_linktype(struct analyzer *a, int linktype, char *err, size_t errlen)
{
	if (!decoder_linktype_supported(linktype)) {
		snprintf(err, errlen, "link-layer type %d is not supported", linktype);
		return -1;
	}
	decoder_set_linktype(a->dec, linktype);
	return 0;
}

void analyzer_packet(struct analyzer *a, const struct capture_pkt *pkt)
{
	a->st.packets++;
	a->st.bytes += pkt->caplen;
	if (!a->st.first_ts_us)
		a->st.first_ts_us = pkt->ts_us;
	if (pkt->ts_us > a->st.last_ts_us)
		a->st.last_ts_us = pkt->ts_us;
	struct pkt_view pv;
	if (decoder_frame(a->dec, pkt->data, pkt->caplen, pkt->wirelen, pkt->ts_us, &pv) == DECODE_TCP)
		flow_table_packet(a->flows, &pv);
	if ((a->st.packets & 4095) == 0)
		memory_check(a, pkt->ts_us);
	if (pkt->ts_us >= a->last_expire_us + 1000000) {
		a->last_expire_us = pkt->ts_us;
		flow_table_expire(a->flows, pkt->ts_us);
	}
}

void analyzer_tick(struct analyzer *a, uint64_t now_us)
{
	flow_table_expire(a->flows, now_us);
	if (a->worker)
		worker_publish(a->worker);
}

void analyzer_flush(struct analyzer *a)
{
	if (a->worker) {
		send_rec(a, REC_FLUSH, NULL, 0, 0, 0, NULL, 0);
		worker_publish(a->worker);
	} else {
		event_bus_flush(a->bus);
	}
}

void analyzer_finish(struct analyzer *a)
{
	flow_table_close_all(a->flows, a->st.last_ts_us);
	if (a->worker)
		worker_sync(a->worker);
	if (a->dump_index)
		fflush(a->dump_index);
}

void analyzer_free(struct analyzer *a)
{
	if (!a)
		return;
	worker_free(a->worker);
	flow_table_free(a->flows);
	decoder_free(a->dec);
	msgwire_free(a->msg);
	if (a->dump_index)
		fclose(a->dump_index);
	if (a->dump_dirfd >= 0)
		close(a->dump_dirfd);
	if (a->statm_fd >= 0)
		close(a->statm_fd);
	free(a);
}

void analyzer_stats(const struct analyzer *a, struct analyzer_stats *out)
{
	*out = a->st;
	out->decode = *decoder_stats(a->dec);
	flow_table_stats(a->flows, &out->flow);
}
