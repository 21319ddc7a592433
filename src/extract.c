/* extract — messages to .eml files (+ .json sidecars) and to an mboxrd
 * mailbox. Contract in include/extract.h; design in docs/design.md,
 * "Message extraction".
 *
 * Per-message state lives in a small open-addressing table keyed by the
 * transaction pointer (unique while the transaction lives; complete() is the
 * last call for it and removes the entry), so the SMTP layer's txn->headers
 * stays msgwire's. */
#include "extract.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "esc.h"
#include "flow.h"
#include "sbuf.h"

#define XT_SLOTS (2 * EXTRACT_INFLIGHT_MAX) /* table size (power of two, load <= 1/2) */
#define XT_BASE_MAX 88                      /* "<23-char time>_<u64>_<u64>-NNNN" fits (75) */
#define XT_NAME_MAX (XT_BASE_MAX + 8)       /* plus ".json" */

struct xgap {
	uint64_t off;           /* message offset where the missing bytes start */
	uint64_t len;           /* bytes missing */
	uint64_t filled;        /* NUL bytes written for them in the .eml (< len past EXTRACT_GAP_FILL_MAX) */
};

struct xmsg {
	const struct smtp_txn *t;   /* key */
	char base[XT_BASE_MAX];     /* chosen base name ("" when no .eml) */
	/* .eml */
	FILE *eml;                  /* open between begin and end; NULL otherwise or after an error */
	bool eml_made;              /* the .eml/.json pair was created */
	uint64_t off;               /* message offset: bytes + gap bytes so far */
	uint64_t file_off;          /* bytes the .eml holds (data + filled gaps) */
	uint64_t filled;            /* NUL bytes written for gaps so far */
	bool hole;                  /* the .eml ends in a gap not yet materialised */
	struct xgap *gaps;          /* listed gaps */
	size_t n_gaps;              /* entries */
	uint64_t gaps_unlisted;     /* gaps beyond EXTRACT_GAPS_MAX */
	/* mbox */
	bool mbox;                  /* this message goes to the mbox */
	bool mbox_done;             /* mbox_append() ran */
	struct sbuf from_line;      /* the mbox "From " line, taken at begin() */
	struct mboxrd_tx tx;        /* the transform's state */
	struct sbuf mbuf;           /* transformed bytes in memory */
	FILE *spill;                /* or in an unlinked temporary file */
	bool ended;                 /* end() ran */
	bool failed;                /* an error was counted for this message */
	bool written;               /* counted in stats.messages */
};

struct extract {
	struct sink sink;           /* first member: extract_sink() */
	struct extract_opts o;      /* dir/mbox point at dir_path/mbox_path */
	char *dir_path;
	char *mbox_path;
	char *mbox_dir;             /* directory of the mbox (temporary files) */
	int dirfd;                  /* --extract DIR, -1 if none */
	FILE *mbox_f;               /* --mbox FILE, NULL if none */
	size_t mbox_mem;            /* transformed bytes held in memory by all messages */
	struct xmsg **slots;        /* XT_SLOTS entries, NULL = empty */
	size_t n_msgs;              /* occupied slots */
	struct sbuf scratch;        /* transform output of one chunk */
	struct extract_stats st;
	struct smtp_msg_hooks hooks; /* extract_msg_hooks() */
};

/* ------------------------------------------------------------------ */
/* the mboxrd transform                                                */

void mboxrd_tx_init(struct mboxrd_tx *m)
{
	memset(m, 0, sizeof *m);
	m->bol = 1;
}

static void tx_emit(struct mboxrd_tx *m, struct sbuf *out, const void *p, size_t n)
{
	if (!n)
		return;
	sbuf_add(out, p, n);
	m->out += n;
	m->last_lf = ((const uint8_t *)p)[n - 1] == '\n';
}

static void tx_emit_gt(struct mboxrd_tx *m, struct sbuf *out, uint64_t k)
{
	static const char gts[64] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";
	while (k) {
		size_t c = k < sizeof gts ? (size_t)k : sizeof gts;
		tx_emit(m, out, gts, c);
		k -= c;
	}
}

/* Write the held line prefix as it was (it did not become ">*From "). */
static void tx_release(struct mboxrd_tx *m, struct sbuf *out)
{
	tx_emit_gt(m, out, m->gt);
	tx_emit(m, out, "From ", (size_t)m->from);
	m->gt = 0;
	m->from = 0;
}

void mboxrd_tx_push(struct mboxrd_tx *m, struct sbuf *out, const uint8_t *p, size_t n)
{
	static const char from[] = "From ";
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (m->cr) {
			m->cr = 0;
			if (c == '\n') {          /* CRLF -> LF */
				tx_emit(m, out, "\n", 1);
				m->bol = 1;
				i++;
				continue;
			}
			tx_emit(m, out, "\r", 1); /* a bare CR stays */
		}
		if (m->bol) {
			if (m->from == 0 && c == '>') {
				m->gt++;
				i++;
				continue;
			}
			if (c == (uint8_t)from[m->from]) {
				if (++m->from == 5) {   /* ^>*From : one more '>' (mboxrd) */
					tx_emit_gt(m, out, m->gt + 1);
					tx_emit(m, out, from, 5);
					m->gt = 0;
					m->from = 0;
					m->bol = 0;
				}
				i++;
				continue;
			}
			tx_release(m, out);
			m->bol = 0;
		}
		if (c == '\r') {
			m->cr = 1;
			i++;
			continue;
		}
		if (c == '\n') {
			tx_emit(m, out, "\n", 1);
			m->bol = 1;
			i++;
			continue;
		}
		/* a run of ordinary bytes */
		size_t j = i + 1;
		while (j < n && p[j] != '\r' && p[j] != '\n')
			j++;
		tx_emit(m, out, p + i, j - i);
		i = j;
	}
}

void mboxrd_tx_flush(struct mboxrd_tx *m, struct sbuf *out)
{
	if (m->cr) {
		tx_emit(m, out, "\r", 1);
		m->cr = 0;
	}
	tx_release(m, out);
	m->bol = 0;
}

/* ------------------------------------------------------------------ */
/* names                                                               */

static bool utc(uint64_t ts_us, struct tm *tm)
{
	time_t s = (time_t)(ts_us / 1000000);
	return gmtime_r(&s, tm) != NULL;
}

void extract_basename(char *buf, size_t len, uint64_t ts_us, uint64_t session, uint64_t txn)
{
	struct tm tm;
	if (!utc(ts_us, &tm))
		memset(&tm, 0, sizeof tm);
	snprintf(buf, len, "%04d%02d%02dT%02d%02d%02d.%06uZ_%" PRIu64 "_%" PRIu64, tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ts_us % 1000000),
	         session, txn);
}

void extract_from_line(struct sbuf *out, const char *sender, size_t sender_n, uint64_t ts_us)
{
	static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	sbuf_add(out, "From ", 5);
	if (!sender || !sender_n) {
		sbuf_adds(out, "MAILER-DAEMON");
	} else {
		if (sender_n > EXTRACT_SENDER_MAX)
			sender_n = EXTRACT_SENDER_MAX;
		for (size_t i = 0; i < sender_n; i++) {
			unsigned char c = (unsigned char)sender[i];
			sbuf_addc(out, c <= 0x20 || c == 0x7f ? '_' : (char)c);
		}
	}
	struct tm tm;
	if (!utc(ts_us, &tm))
		memset(&tm, 0, sizeof tm);
	/* asctime(3) layout, fixed English names whatever the locale */
	sbuf_addf(out, " %s %s %2d %02d:%02d:%02d %d\n", wday[tm.tm_wday % 7], mon[tm.tm_mon % 12], tm.tm_mday,
	          tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

/* ------------------------------------------------------------------ */
/* the table                                                           */

static size_t slot_of(const void *k)
{
	uint64_t h = (uint64_t)(uintptr_t)k;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (XT_SLOTS - 1);
}

static struct xmsg *find(struct extract *x, const struct smtp_txn *t)
{
	for (size_t i = slot_of(t), k = 0; k < XT_SLOTS; i = (i + 1) & (XT_SLOTS - 1), k++) {
		if (!x->slots[i])
			return NULL;
		if (x->slots[i]->t == t)
			return x->slots[i];
	}
	return NULL;
}

static bool insert(struct extract *x, struct xmsg *m)
{
	if (x->n_msgs >= EXTRACT_INFLIGHT_MAX)
		return false;
	size_t i = slot_of(m->t);
	while (x->slots[i])
		i = (i + 1) & (XT_SLOTS - 1);
	x->slots[i] = m;
	x->n_msgs++;
	return true;
}

/* Linear probing deletion by backward shift (no tombstones). */
static void remove_entry(struct extract *x, const struct xmsg *m)
{
	size_t i = slot_of(m->t);
	while (x->slots[i] != m)
		i = (i + 1) & (XT_SLOTS - 1);
	x->slots[i] = NULL;
	x->n_msgs--;
	for (size_t j = (i + 1) & (XT_SLOTS - 1); x->slots[j]; j = (j + 1) & (XT_SLOTS - 1)) {
		size_t h = slot_of(x->slots[j]->t);
		/* move j back to i if its home is not in (i, j] */
		bool home_between = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (!home_between) {
			x->slots[i] = x->slots[j];
			x->slots[j] = NULL;
			i = j;
		}
	}
}

/* ------------------------------------------------------------------ */
/* the .eml file                                                       */

static void fail(struct extract *x, struct xmsg *m)
{
	if (m && m->failed)
		return;
	if (m)
		m->failed = true;
	x->st.errors++;
}

static void eml_abort(struct extract *x, struct xmsg *m)
{
	fail(x, m);
	if (m->eml)
		fclose(m->eml);
	m->eml = NULL;
}

/* Create "<base>.eml" and reserve "<base>.json", trying "-2", "-3", ... for
 * names that exist (whatever they are: files, symlinks, directories). */
static bool eml_create(struct extract *x, struct xmsg *m, const struct smtp_txn *t)
{
	char base[72], name[XT_NAME_MAX]; /* base: at most 65 bytes */
	const struct flow_info *fi = t->session ? t->session->flow : NULL;
	extract_basename(base, sizeof base, t->start_ts_us, fi ? fi->id : 0, t->seq);
	const int fl = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	for (unsigned k = 1; k <= EXTRACT_RENAME_MAX; k++) {
		if (k == 1)
			snprintf(m->base, sizeof m->base, "%s", base);
		else
			snprintf(m->base, sizeof m->base, "%s-%u", base, k);
		snprintf(name, sizeof name, "%s.eml", m->base);
		int fd = openat(x->dirfd, name, fl, 0644);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			break;
		}
		snprintf(name, sizeof name, "%s.json", m->base);
		int jfd = openat(x->dirfd, name, fl, 0644);
		if (jfd < 0) {
			int e = errno;
			snprintf(name, sizeof name, "%s.eml", m->base);
			unlinkat(x->dirfd, name, 0);
			close(fd);
			if (e == EEXIST)
				continue;
			break;
		}
		close(jfd);
		m->eml = fdopen(fd, "w");
		if (!m->eml) {
			close(fd);
			break;
		}
		if (k > 1)
			x->st.renamed++;
		m->eml_made = true;
		return true;
	}
	m->base[0] = '\0';
	fail(x, m);
	return false;
}

static void eml_write(struct extract *x, struct xmsg *m, const uint8_t *p, size_t n)
{
	if (!m->eml)
		return;
	if (m->hole) {
		/* materialise the gap before these bytes (a sparse region where the
		 * file system allows it); it reads as NUL bytes */
		if (fseeko(m->eml, (off_t)m->file_off, SEEK_SET) != 0) {
			eml_abort(x, m);
			return;
		}
		m->hole = false;
	}
	if (fwrite(p, 1, n, m->eml) != n) {
		eml_abort(x, m);
		return;
	}
	m->file_off += n;
}

static void eml_close(struct extract *x, struct xmsg *m)
{
	if (!m->eml)
		return;
	bool ok = fflush(m->eml) == 0;
	if (ok && m->hole)
		ok = ftruncate(fileno(m->eml), (off_t)m->file_off) == 0;
	m->hole = false;
	if (fclose(m->eml) != 0)
		ok = false;
	m->eml = NULL;
	if (!ok)
		fail(x, m);
}

/* The sidecar: the transaction record plus "eml" and "gaps". */
static void sidecar_write(struct extract *x, struct xmsg *m, const struct event *ev)
{
	struct sbuf b = SBUF_INIT;
	out_json_transaction(&b, ev, &x->o.json);
	if (b.len >= 2 && b.buf[b.len - 2] == '}' && b.buf[b.len - 1] == '\n')
		b.len -= 2;
	else if (b.len >= 1 && b.buf[b.len - 1] == '}')
		b.len -= 1;
	sbuf_adds(&b, ",\"eml\":");
	char name[XT_NAME_MAX];
	snprintf(name, sizeof name, "%s.eml", m->base);
	esc_json_str(&b, name);
	sbuf_adds(&b, ",\"gaps\":[");
	for (size_t i = 0; i < m->n_gaps; i++) {
		const struct xgap *g = &m->gaps[i];
		sbuf_addf(&b, "%s{\"offset\":%" PRIu64 ",\"length\":%" PRIu64, i ? "," : "", g->off, g->len);
		if (g->filled != g->len)
			sbuf_addf(&b, ",\"filled\":%" PRIu64, g->filled);
		sbuf_addc(&b, '}');
	}
	sbuf_addc(&b, ']');
	if (m->gaps_unlisted)
		sbuf_addf(&b, ",\"gaps_not_listed\":%" PRIu64, m->gaps_unlisted);
	sbuf_add(&b, "}\n", 2);

	snprintf(name, sizeof name, "%s.json", m->base);
	/* reserved by eml_create (O_EXCL); O_NOFOLLOW in case it was swapped */
	int fd = openat(x->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	bool ok = fd >= 0;
	size_t done = 0;
	while (ok && done < b.len) {
		ssize_t w = write(fd, b.buf + done, b.len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			ok = false;
		else
			done += (size_t)w;
	}
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (!ok)
		fail(x, m);
	sbuf_free(&b);
}

/* ------------------------------------------------------------------ */
/* the mbox                                                            */

static FILE *spill_open(struct extract *x)
{
	int fd = -1;
#ifdef O_TMPFILE
	fd = open(x->mbox_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
	if (fd < 0) {
		struct sbuf p = SBUF_INIT;
		sbuf_addf(&p, "%s/.smtpscope-mbox-XXXXXX", x->mbox_dir);
		fd = mkstemp(p.buf);
		if (fd >= 0)
			unlink(p.buf);
		sbuf_free(&p);
	}
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "w+");
	if (!f)
		close(fd);
	return f;
}

static void mbox_drop(struct extract *x, struct xmsg *m)
{
	x->mbox_mem -= m->mbuf.len;
	sbuf_free(&m->mbuf);
	if (m->spill)
		fclose(m->spill);
	m->spill = NULL;
	m->mbox = false;
}

/* Keep x->scratch (transformed bytes) with the message. */
static void mbox_keep(struct extract *x, struct xmsg *m)
{
	const struct sbuf *s = &x->scratch;
	if (!s->len)
		return;
	if (!m->spill && (m->mbuf.len + s->len > EXTRACT_MBOX_MSG_MAX || x->mbox_mem + s->len > EXTRACT_MBOX_MEM_MAX)) {
		m->spill = spill_open(x);
		if (!m->spill || (m->mbuf.len && fwrite(m->mbuf.buf, 1, m->mbuf.len, m->spill) != m->mbuf.len)) {
			fail(x, m);
			mbox_drop(x, m);
			return;
		}
		x->st.spilled++;
		x->mbox_mem -= m->mbuf.len;
		sbuf_free(&m->mbuf);
	}
	if (m->spill) {
		if (fwrite(s->buf, 1, s->len, m->spill) != s->len) {
			fail(x, m);
			mbox_drop(x, m);
		}
		return;
	}
	sbuf_add(&m->mbuf, s->buf, s->len);
	x->mbox_mem += s->len;
}

/* Append the message whole: From_ line, gap marks, body, blank line. */
static void mbox_append(struct extract *x, struct xmsg *m)
{
	m->mbox_done = true;
	sbuf_clear(&x->scratch);
	mboxrd_tx_flush(&m->tx, &x->scratch);
	mbox_keep(x, m);
	if (!m->mbox)
		return;
	struct sbuf h = m->from_line; /* taken over, freed below */
	m->from_line = (struct sbuf)SBUF_INIT;
	/* the missing bytes are not in the mailbox (no NULs in a text file) */
	for (size_t i = 0; i < m->n_gaps; i++)
		sbuf_addf(&h, "X-Smtpscope-Gap: offset=%" PRIu64 " length=%" PRIu64 "\n", m->gaps[i].off,
		          m->gaps[i].len);
	bool ok = fwrite(h.buf, 1, h.len, x->mbox_f) == h.len;
	sbuf_free(&h);
	if (ok && m->spill) {
		char buf[1 << 15];
		ok = fflush(m->spill) == 0 && fseeko(m->spill, 0, SEEK_SET) == 0;
		size_t r;
		while (ok && (r = fread(buf, 1, sizeof buf, m->spill)) > 0)
			ok = fwrite(buf, 1, r, x->mbox_f) == r;
		if (ok && ferror(m->spill))
			ok = false;
	} else if (ok && m->mbuf.len) {
		ok = fwrite(m->mbuf.buf, 1, m->mbuf.len, x->mbox_f) == m->mbuf.len;
	}
	/* the message ends with a newline, then the blank separator line */
	if (ok && m->tx.out && !m->tx.last_lf)
		ok = fputc('\n', x->mbox_f) != EOF;
	if (ok)
		ok = fputc('\n', x->mbox_f) != EOF;
	if (fflush(x->mbox_f) != 0)
		ok = false;
	if (!ok) {
		fail(x, m);
		clearerr(x->mbox_f);
	}
	mbox_drop(x, m);
}

/* ------------------------------------------------------------------ */
/* the message stream                                                  */

void extract_begin(struct extract *x, struct smtp_txn *t)
{
	if (!x || find(x, t))
		return;
	struct xmsg *m = xcalloc(1, sizeof *m);
	m->t = t;
	if (!insert(x, m)) {
		fail(x, NULL); /* too many messages in flight */
		free(m);
		return;
	}
	if (x->dirfd >= 0)
		eml_create(x, m, t);
	if (x->mbox_f) {
		m->mbox = true;
		mboxrd_tx_init(&m->tx);
		/* the envelope is complete before the message starts; after this t
		 * is only a key (nothing is read from it once it may be gone) */
		extract_from_line(&m->from_line, t->has_mail ? t->mail_from : NULL,
		                  t->has_mail ? t->mail_from_n : 0, t->start_ts_us);
	}
}

void extract_data(struct extract *x, struct smtp_txn *t, const uint8_t *p, size_t n)
{
	struct xmsg *m = x ? find(x, t) : NULL;
	if (!m || m->ended || !n)
		return;
	x->st.bytes += n;
	m->off += n;
	eml_write(x, m, p, n);
	if (m->mbox) {
		sbuf_clear(&x->scratch);
		mboxrd_tx_push(&m->tx, &x->scratch, p, n);
		mbox_keep(x, m);
	}
}

void extract_gap(struct extract *x, struct smtp_txn *t, uint64_t len)
{
	struct xmsg *m = x ? find(x, t) : NULL;
	if (!m || m->ended || !len)
		return;
	x->st.gaps++;
	uint64_t fill = EXTRACT_GAP_FILL_MAX - m->filled;
	if (fill > len)
		fill = len;
	if (m->n_gaps < EXTRACT_GAPS_MAX) {
		m->gaps = xrealloc(m->gaps, (m->n_gaps + 1) * sizeof *m->gaps);
		m->gaps[m->n_gaps++] = (struct xgap){ m->off, len, fill };
	} else {
		m->gaps_unlisted++;
	}
	m->off += len;
	if (m->eml) {
		m->filled += fill;
		m->file_off += fill;
		m->hole = fill > 0 || m->hole;
	}
	if (m->mbox) {
		/* a gap breaks the line: release what is held, not at a line start */
		sbuf_clear(&x->scratch);
		mboxrd_tx_flush(&m->tx, &x->scratch);
		mbox_keep(x, m);
	}
}

static void msg_end(struct extract *x, struct xmsg *m)
{
	if (m->ended)
		return;
	m->ended = true;
	eml_close(x, m);
	if (m->mbox)
		mbox_append(x, m);
	if ((m->eml_made || m->mbox_done) && !m->written) {
		m->written = true;
		x->st.messages++;
	}
}

void extract_end(struct extract *x, struct smtp_txn *t)
{
	struct xmsg *m = x ? find(x, t) : NULL;
	if (m)
		msg_end(x, m);
}

static void msg_free(struct extract *x, struct xmsg *m)
{
	remove_entry(x, m);
	sbuf_free(&m->from_line);
	free(m->gaps);
	free(m);
}

void extract_complete(struct extract *x, const struct event *ev)
{
	if (!x || !ev || ev->type != EV_TRANSACTION || !ev->txn)
		return;
	struct xmsg *m = find(x, ev->txn);
	if (!m)
		return;
	msg_end(x, m);
	if (m->eml_made)
		sidecar_write(x, m, ev);
	msg_free(x, m);
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */

static void sink_emit(struct sink *s, const struct event *ev)
{
	extract_complete((struct extract *)s, ev);
}

static void sink_flush(struct sink *s)
{
	struct extract *x = (struct extract *)s;
	if (x->mbox_f)
		fflush(x->mbox_f);
}

static const struct sink_ops extract_sink_ops = { sink_emit, sink_flush, sink_flush };

struct sink *extract_sink(struct extract *x)
{
	return &x->sink;
}

static void hk_begin(void *u, struct smtp_txn *t) { extract_begin(u, t); }
static void hk_data(void *u, struct smtp_txn *t, const uint8_t *p, size_t n) { extract_data(u, t, p, n); }
static void hk_gap(void *u, struct smtp_txn *t, uint64_t len) { extract_gap(u, t, len); }
static void hk_end(void *u, struct smtp_txn *t) { extract_end(u, t); }

const struct smtp_msg_hooks *extract_msg_hooks(struct extract *x)
{
	x->hooks = (struct smtp_msg_hooks){ .begin = hk_begin, .data = hk_data, .gap = hk_gap,
	                                    .end = hk_end, .user = x };
	return &x->hooks;
}

void extract_stats(const struct extract *x, struct extract_stats *st)
{
	if (x)
		*st = x->st;
	else
		memset(st, 0, sizeof *st);
}

static void set_err(char *err, size_t errlen, const char *opt, const char *path, const char *what, int e)
{
	if (e)
		snprintf(err, errlen, "%s %s: %s: %s", opt, path, what, strerror(e));
	else
		snprintf(err, errlen, "%s %s: %s", opt, path, what);
}

static bool open_dir(struct extract *x, const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		set_err(err, errlen, "--extract", dir, "cannot create directory", errno);
		return false;
	}
	x->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->dirfd < 0) {
		set_err(err, errlen, "--extract", dir, errno == ENOTDIR ? "not a directory" : "cannot open directory",
		        errno == ENOTDIR ? 0 : errno);
		return false;
	}
	if (faccessat(x->dirfd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
		set_err(err, errlen, "--extract", dir, "directory is not writable", errno);
		return false;
	}
	return true;
}

static bool open_mbox(struct extract *x, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == ELOOP)
			set_err(err, errlen, "--mbox", path, "is a symbolic link (refused)", 0);
		else
			set_err(err, errlen, "--mbox", path, "cannot open", errno);
		return false;
	}
	x->mbox_f = fdopen(fd, "a");
	if (!x->mbox_f) {
		set_err(err, errlen, "--mbox", path, "cannot open", errno);
		close(fd);
		return false;
	}
	static const size_t bufsz = 1 << 16;
	setvbuf(x->mbox_f, NULL, _IOFBF, bufsz);
	const char *slash = strrchr(path, '/');
	if (!slash)
		x->mbox_dir = xstrndup(".", 1);
	else if (slash == path)
		x->mbox_dir = xstrndup("/", 1);
	else
		x->mbox_dir = xstrndup(path, (size_t)(slash - path));
	return true;
}

struct extract *extract_new(const struct extract_opts *o, char *err, size_t errlen)
{
	struct extract *x = xcalloc(1, sizeof *x);
	x->sink.ops = &extract_sink_ops;
	x->sink.wants = EV_BIT(EV_TRANSACTION);
	x->o = *o;
	x->dirfd = -1;
	x->slots = xcalloc(XT_SLOTS, sizeof *x->slots);
	if (o->dir) {
		x->dir_path = xstrndup(o->dir, strlen(o->dir));
		x->o.dir = x->dir_path;
	}
	if (o->mbox) {
		x->mbox_path = xstrndup(o->mbox, strlen(o->mbox));
		x->o.mbox = x->mbox_path;
	}
	if ((o->dir && !open_dir(x, o->dir, err, errlen)) || (o->mbox && !open_mbox(x, o->mbox, err, errlen))) {
		extract_free(x);
		return NULL;
	}
	return x;
}

void extract_free(struct extract *x)
{
	if (!x)
		return;
	/* messages still in flight (their transactions never completed): write
	 * what there is, without a sidecar record to build from */
	for (size_t i = 0; i < XT_SLOTS; i++) {
		struct xmsg *m = x->slots[i];
		if (!m)
			continue;
		msg_end(x, m);
		if (m->eml_made) {
			char name[XT_NAME_MAX];
			snprintf(name, sizeof name, "%s.json", m->base);
			unlinkat(x->dirfd, name, 0); /* the empty reservation */
		}
		sbuf_free(&m->from_line);
		free(m->gaps);
		free(m);
		x->slots[i] = NULL;
	}
	free(x->slots);
	if (x->mbox_f)
		fclose(x->mbox_f);
	if (x->dirfd >= 0)
		close(x->dirfd);
	sbuf_free(&x->scratch);
	free(x->dir_path);
	free(x->mbox_path);
	free(x->mbox_dir);
	free(x);
}
