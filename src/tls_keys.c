/* tls_keys — the key log store; contract in include/tls_crypt.h.
 *
 * NSS key log format (draft-ietf-tls-keylogfile): one "LABEL <client random
 * hex> <secret hex>" a line; '#' starts a comment line; CRLF is fine. Kept:
 * CLIENT_RANDOM (TLS <= 1.2 master secret, 48 bytes) and the four TLS 1.3
 * traffic secrets (32 or 48 bytes). Known labels we have no use for
 * (EXPORTER_SECRET, CLIENT_EARLY_TRAFFIC_SECRET, EARLY_EXPORTER_SECRET, RSA,
 * ECH_*) are skipped without complaint; anything else is a bad line.
 *
 * Memory is bounded: a line longer than TLS_KEYS_LINE_MAX is one bad line
 * (skipped up to its newline without being stored), at most TLS_KEYS_MAX
 * secrets are held (more are counted in tls_keys_dropped), files are read
 * in fixed chunks. The table is keyed by SipHash-2-4 of the client random
 * under a per-store random key (crafted randoms cannot pile into one chain).
 *
 * Files: tls_keys_add_file reads the file now and remembers where it
 * stopped; tls_keys_refresh reads what was appended since. A last line
 * without its newline is read (the file may be complete) but read again
 * when the file grows (its writer may have been half-way through it; the
 * complete line then replaces what the half gave). A file that shrank or
 * was replaced (another inode) is read again from the start.
 *
 * Locking: a rwlock over the table (lookups share it; inserts take it for
 * writing), and a mutex over the list of files (refresh vs. add_file). */
#include "tls_crypt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sbuf.h"
#include "siphash.h"

#define TLS_KEYS_LINE_MAX  512        /* the longest valid line is 31 + 1 + 64 + 1 + 128 bytes */
#define TLS_KEYS_MAX       (1u << 21) /* secrets held (~110 bytes each) */
#define TLS_KEYS_POOL      4096       /* nodes allocated at a time */
#define TLS_KEYS_CHUNK     65536      /* bytes read from a file at a time */
#define TLS_KEYS_FILES_MAX 64

struct tk_node {
	struct tk_node *next;
	uint8_t cr[32];
	uint8_t kind;
	uint8_t n;
	uint8_t s[TLS_SECRET_MAX];
};

struct tk_pool {
	struct tk_pool *next;
	size_t used;
	struct tk_node v[TLS_KEYS_POOL];
};

/* A line being assembled across reads. */
struct tk_line {
	char b[TLS_KEYS_LINE_MAX + 1];
	size_t n;
	bool overlong;
	bool counted;           /* the overlong line was already counted as bad */
};

struct tk_file {
	char *path;
	dev_t dev;
	ino_t ino;
	bool known;             /* dev/ino valid */
	uint64_t off;           /* bytes consumed (up to the last complete line) */
	bool skipping;          /* off is inside an overlong line: skip to its newline */
	bool skip_counted;      /* ... and it was counted as bad already */
	bool once;              /* not a regular file (a pipe): read once, never again */
};

struct tls_keys {
	pthread_rwlock_t lock;  /* the table and counters */
	pthread_mutex_t fmu;    /* the file list */
	struct siphash_key hk;
	struct tk_node **bucket;
	size_t nbuckets;        /* power of two */
	size_t count, max;
	uint64_t bad, dropped;
	struct tk_pool *pools;
	struct tk_file files[TLS_KEYS_FILES_MAX];
	size_t nfiles;
};

struct tls_keys *tls_keys_new(void)
{
	struct tls_keys *k = xcalloc(1, sizeof *k);
	pthread_rwlock_init(&k->lock, NULL);
	pthread_mutex_init(&k->fmu, NULL);
	siphash_key_random(&k->hk);
	k->max = TLS_KEYS_MAX;
	k->nbuckets = 256;
	k->bucket = xcalloc(k->nbuckets, sizeof *k->bucket);
	return k;
}

void tls_keys_free(struct tls_keys *k)
{
	if (!k)
		return;
	for (struct tk_pool *p = k->pools, *nx; p; p = nx) {
		nx = p->next;
		OPENSSL_cleanse(p->v, sizeof p->v);
		free(p);
	}
	for (size_t i = 0; i < k->nfiles; i++)
		free(k->files[i].path);
	free(k->bucket);
	pthread_rwlock_destroy(&k->lock);
	pthread_mutex_destroy(&k->fmu);
	free(k);
}

static size_t slot(const struct tls_keys *k, const uint8_t cr[32])
{
	return (size_t)siphash24(&k->hk, cr, 32) & (k->nbuckets - 1);
}

/* Under the write lock. */
static void grow(struct tls_keys *k)
{
	size_t nb = k->nbuckets * 2;
	struct tk_node **b = xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < k->nbuckets; i++)
		for (struct tk_node *e = k->bucket[i], *nx; e; e = nx) {
			nx = e->next;
			size_t h = (size_t)siphash24(&k->hk, e->cr, 32) & (nb - 1);
			e->next = b[h];
			b[h] = e;
		}
	free(k->bucket);
	k->bucket = b;
	k->nbuckets = nb;
}

static void insert(struct tls_keys *k, const uint8_t cr[32], enum tls_secret_kind kind,
                   const uint8_t *s, size_t n)
{
	pthread_rwlock_wrlock(&k->lock);
	size_t h = slot(k, cr);
	for (struct tk_node *e = k->bucket[h]; e; e = e->next)
		if (e->kind == kind && memcmp(e->cr, cr, 32) == 0) {
			memcpy(e->s, s, n); /* a later line for the same key replaces it */
			e->n = (uint8_t)n;
			pthread_rwlock_unlock(&k->lock);
			return;
		}
	if (k->count >= k->max) {
		k->dropped++;
		pthread_rwlock_unlock(&k->lock);
		return;
	}
	if (!k->pools || k->pools->used == TLS_KEYS_POOL) {
		struct tk_pool *p = xmalloc(sizeof *p);
		p->used = 0;
		p->next = k->pools;
		k->pools = p;
	}
	struct tk_node *e = &k->pools->v[k->pools->used++];
	memcpy(e->cr, cr, 32);
	e->kind = (uint8_t)kind;
	e->n = (uint8_t)n;
	memcpy(e->s, s, n);
	e->next = k->bucket[h];
	k->bucket[h] = e;
	k->count++;
	if (k->count > k->nbuckets)
		grow(k);
	pthread_rwlock_unlock(&k->lock);
}

bool tls_keys_lookup(const struct tls_keys *kc, const uint8_t client_random[32],
                     enum tls_secret_kind kind, struct tls_secret *out)
{
	if (!kc || !client_random || (unsigned)kind >= TLS_SECRET__COUNT)
		return false;
	struct tls_keys *k = (struct tls_keys *)kc; /* the lock is not part of the value */
	bool found = false;
	pthread_rwlock_rdlock(&k->lock);
	for (struct tk_node *e = k->bucket[slot(k, client_random)]; e; e = e->next)
		if (e->kind == kind && memcmp(e->cr, client_random, 32) == 0) {
			if (out) {
				memcpy(out->b, e->s, e->n);
				out->n = e->n;
			}
			found = true;
			break;
		}
	pthread_rwlock_unlock(&k->lock);
	return found;
}

size_t tls_keys_count(const struct tls_keys *kc)
{
	if (!kc)
		return 0;
	struct tls_keys *k = (struct tls_keys *)kc;
	pthread_rwlock_rdlock(&k->lock);
	size_t n = k->count;
	pthread_rwlock_unlock(&k->lock);
	return n;
}

uint64_t tls_keys_bad_lines(const struct tls_keys *kc)
{
	if (!kc)
		return 0;
	struct tls_keys *k = (struct tls_keys *)kc;
	pthread_rwlock_rdlock(&k->lock);
	uint64_t n = k->bad;
	pthread_rwlock_unlock(&k->lock);
	return n;
}

uint64_t tls_keys_dropped(const struct tls_keys *kc)
{
	if (!kc)
		return 0;
	struct tls_keys *k = (struct tls_keys *)kc;
	pthread_rwlock_rdlock(&k->lock);
	uint64_t n = k->dropped;
	pthread_rwlock_unlock(&k->lock);
	return n;
}

void tls_keys_set_limit(struct tls_keys *k, size_t max_secrets)
{
	if (!k)
		return;
	pthread_rwlock_wrlock(&k->lock);
	k->max = max_secrets < TLS_KEYS_MAX ? max_secrets : TLS_KEYS_MAX;
	pthread_rwlock_unlock(&k->lock);
}

static void bad_line(struct tls_keys *k)
{
	pthread_rwlock_wrlock(&k->lock);
	k->bad++;
	pthread_rwlock_unlock(&k->lock);
}

/* ---- parsing ------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly len hex digits into len/2 bytes. */
static bool unhex(const char *s, size_t len, uint8_t *out)
{
	if (len % 2)
		return false;
	for (size_t i = 0; i < len; i += 2) {
		int a = hexval(s[i]), b = hexval(s[i + 1]);
		if (a < 0 || b < 0)
			return false;
		out[i / 2] = (uint8_t)(a << 4 | b);
	}
	return true;
}

static const struct {
	const char *label;
	int kind; /* -1: known, ignored */
} LABELS[] = {
	{ "CLIENT_RANDOM", TLS_SECRET_MASTER },
	{ "CLIENT_HANDSHAKE_TRAFFIC_SECRET", TLS_SECRET_CLIENT_HS },
	{ "SERVER_HANDSHAKE_TRAFFIC_SECRET", TLS_SECRET_SERVER_HS },
	{ "CLIENT_TRAFFIC_SECRET_0", TLS_SECRET_CLIENT_AP0 },
	{ "SERVER_TRAFFIC_SECRET_0", TLS_SECRET_SERVER_AP0 },
	{ "EXPORTER_SECRET", -1 },
	{ "EARLY_EXPORTER_SECRET", -1 },
	{ "EARLY_EXPORTER_MASTER_SECRET", -1 },
	{ "CLIENT_EARLY_TRAFFIC_SECRET", -1 },
	{ "ECH_SECRET", -1 },
	{ "ECH_CONFIG", -1 },
	{ "RSA", -1 },            /* Wireshark's RSA pre-master form: not a client random */
	{ "PMS_CLIENT_RANDOM", -1 },
};

/* CLIENT_TRAFFIC_SECRET_<N> / SERVER_TRAFFIC_SECRET_<N> other than _0
 * (OpenSSL logs "_N" after a KeyUpdate): derivable from _0, not needed. */
static bool later_generation(const char *s, size_t n)
{
	static const char *const pre[] = { "CLIENT_TRAFFIC_SECRET_", "SERVER_TRAFFIC_SECRET_" };
	for (int i = 0; i < 2; i++) {
		size_t pl = strlen(pre[i]);
		if (n > pl && memcmp(s, pre[i], pl) == 0 && !(n == pl + 1 && s[pl] == '0'))
			return true;
	}
	return false;
}

/* One line without its end of line. Returns 1 stored, 0 ignored (blank,
 * comment, known label), -1 bad. */
static int parse_line(struct tls_keys *k, const char *s, size_t n)
{
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	const char *tok[4];
	size_t tl[4];
	int nt = 0;
	while (i < n) {
		if (nt == 4)
			return -1;
		tok[nt] = s + i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		tl[nt] = (size_t)(s + i - tok[nt]);
		nt++;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
	}
	int kind = -2;
	for (size_t j = 0; j < sizeof LABELS / sizeof LABELS[0]; j++)
		if (strlen(LABELS[j].label) == tl[0] && memcmp(LABELS[j].label, tok[0], tl[0]) == 0) {
			kind = LABELS[j].kind;
			break;
		}
	if (kind == -2 && later_generation(tok[0], tl[0]))
		kind = -1;
	if (kind == -2)
		return -1;
	if (kind == -1)
		return 0;
	if (nt != 3 || tl[1] != 64)
		return -1;
	uint8_t cr[32], sec[TLS_SECRET_MAX];
	size_t sl = tl[2] / 2;
	if (tl[2] % 2 || sl > TLS_SECRET_MAX || !unhex(tok[1], 64, cr) || !unhex(tok[2], tl[2], sec))
		return -1;
	if (kind == TLS_SECRET_MASTER ? sl != 48 : (sl != 32 && sl != 48))
		return -1;
	insert(k, cr, (enum tls_secret_kind)kind, sec, sl);
	OPENSSL_cleanse(sec, sizeof sec);
	return 1;
}

static void line_end(struct tls_keys *k, struct tk_line *l)
{
	if (l->overlong ? !l->counted : parse_line(k, l->b, l->n) < 0)
		bad_line(k);
	l->n = 0;
	l->overlong = false;
	l->counted = false;
}

/* Feed bytes; complete lines are parsed, the rest stays in l. Returns the
 * number of bytes up to and including the last newline. */
static size_t feed(struct tls_keys *k, struct tk_line *l, const uint8_t *p, size_t n)
{
	size_t done = 0, i = 0;
	while (i < n) {
		const uint8_t *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n;
		size_t take = end - i;
		if (!l->overlong) {
			if (l->n + take > TLS_KEYS_LINE_MAX) {
				l->overlong = true;
			} else {
				memcpy(l->b + l->n, p + i, take);
				l->n += take;
			}
		}
		if (!nl)
			break;
		line_end(k, l);
		i = end + 1;
		done = i;
	}
	return done;
}

void tls_keys_add_text(struct tls_keys *k, const uint8_t *p, size_t n)
{
	if (!k || (!p && n))
		return;
	struct tk_line *l = xmalloc(sizeof *l);
	l->n = 0;
	l->overlong = false;
	l->counted = false;
	feed(k, l, p, n);
	if (l->n || l->overlong) /* the text ends without a newline: its last line is complete */
		line_end(k, l);
	OPENSSL_cleanse(l, sizeof *l);
	free(l);
}

/* ---- files --------------------------------------------------------------- */

/* Read f from f->off to its end. Under fmu. Returns 0 or -1 (errno). */
static int read_file(struct tls_keys *k, struct tk_file *f, bool initial)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	bool regular = S_ISREG(st.st_mode);
	if (!regular)
		f->once = true;
	if (f->known && (st.st_dev != f->dev || st.st_ino != f->ino))
		f->off = 0, f->skipping = false;          /* replaced (rotation) */
	if (regular && (uint64_t)st.st_size < f->off)
		f->off = 0, f->skipping = false;          /* truncated */
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->known = true;
	if (regular && (uint64_t)st.st_size == f->off) {
		close(fd);
		return 0;
	}
	if (f->off && lseek(fd, (off_t)f->off, SEEK_SET) == (off_t)-1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	uint8_t *buf = xmalloc(TLS_KEYS_CHUNK);
	struct tk_line *l = xmalloc(sizeof *l);
	l->n = 0;
	l->overlong = f->skipping;
	l->counted = f->skip_counted;
	uint64_t pos = f->off, consumed = f->off;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf, TLS_KEYS_CHUNK);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		if (r == 0)
			break;
		size_t d = feed(k, l, buf, (size_t)r);
		if (d)
			consumed = pos + d;
		pos += (uint64_t)r;
	}
	int e = errno;
	close(fd);
	if (l->overlong) {
		/* an overlong partial line: never re-read it, skip to its newline next time */
		consumed = pos;
		f->skipping = true;
		/* on the first read the file is taken as complete: count it now, once */
		if (initial && !l->counted)
			bad_line(k);
		f->skip_counted = initial || l->counted;
	} else {
		f->skipping = false;
		f->skip_counted = false;
		/* A last line without its newline: on the first read the file is
		 * probably complete and the line is taken (if it parses); on a
		 * refresh it is probably being written and waits. Either way it
		 * is read again once the file grows, and its complete form
		 * replaces what the half gave. Not counted as bad until complete. */
		if (initial && l->n)
			(void)parse_line(k, l->b, l->n);
	}
	f->off = consumed;
	OPENSSL_cleanse(l, sizeof *l);
	free(l);
	free(buf);
	errno = e;
	return rc;
}

int tls_keys_add_file(struct tls_keys *k, const char *path, char *err, size_t errn)
{
	if (!k || !path) {
		if (err && errn)
			snprintf(err, errn, "no key log file");
		return -1;
	}
	pthread_mutex_lock(&k->fmu);
	if (k->nfiles == TLS_KEYS_FILES_MAX) {
		pthread_mutex_unlock(&k->fmu);
		if (err && errn)
			snprintf(err, errn, "%s: more than %d key log files", path, TLS_KEYS_FILES_MAX);
		return -1;
	}
	struct tk_file f = { .path = xstrndup(path, strlen(path)) };
	if (read_file(k, &f, true) != 0) {
		int e = errno;
		pthread_mutex_unlock(&k->fmu);
		if (err && errn)
			snprintf(err, errn, "%s: %s", path, strerror(e));
		free(f.path);
		return -1;
	}
	k->files[k->nfiles++] = f;
	pthread_mutex_unlock(&k->fmu);
	return 0;
}

void tls_keys_refresh(struct tls_keys *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->fmu);
	for (size_t i = 0; i < k->nfiles; i++)
		if (!k->files[i].once)
			(void)read_file(k, &k->files[i], false); /* a file that vanished may come back */
	pthread_mutex_unlock(&k->fmu);
}
