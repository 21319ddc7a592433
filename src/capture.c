/* capture — libpcap wrapper; contract in include/capture.h. */
#include "capture.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbuf.h"

#define CAPTURE_FILE_BUFFER (1u << 20)  /* stdio buffer for file input (fewer read(2) calls) */
#define CAPTURE_LIVE_BUFFER (32u << 20) /* kernel ring for live capture */
#define CAPTURE_SNAPLEN     262144      /* full packets */
#define MM_BATCH            4096        /* packets per capture_dispatch() on the mapped path */
#define MM_RELEASE          (4u << 20)  /* mapped bytes behind the reader given back at a time */

struct capture {
	pcap_t *p;              /* the handle */
	FILE   *fp;             /* file input (owned by libpcap once opened) */
	char   *iobuf;          /* setvbuf buffer for fp */
	bool    live;           /* interface, not file */
	int     fd;             /* selectable fd, -1 for files */
	char    err[PCAP_ERRBUF_SIZE + 64]; /* last error */
	uint64_t packets, bytes;
	uint64_t file_size;
	pid_t   gunzip;         /* child decompressing a .gz file, or 0 */
	int     linktype;       /* DLT */
	/* current dispatch */
	capture_cb cb;
	void *user;
	/* Mapped fast path for a classic pcap file (see mm_open): records are
	 * read straight from the mapping, no copies, no libpcap per packet.
	 * Anything irregular hands the rest of the file back to libpcap. */
	const uint8_t *mm;      /* the mapping, NULL when not in use */
	size_t  mm_size;        /* file size */
	size_t  mm_off;         /* next record */
	size_t  mm_released;    /* bytes before this were given back (MADV_DONTNEED) */
	size_t  mm_pf;          /* bytes before this were prefetched */
	uint64_t mm_count;      /* records delivered from the mapping */
	bool    mm_swap;        /* file byte order differs from ours */
	bool    mm_nano;        /* nanosecond timestamps */
	uint32_t mm_snaplen;    /* from the file header */
	volatile sig_atomic_t mm_break; /* capture_breakloop() on the mapped path */
};

static void set_err(char *err, size_t len, const char *fmt, const char *a, const char *b)
{
	if (err && len)
		snprintf(err, len, fmt, a, b);
}

static uint32_t mm_u32(const struct capture *c, const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return c->mm_swap ? __builtin_bswap32(v) : v;
}

/* Map a regular file in the classic pcap format, version 2.4 (what libpcap
 * reads without conversions), so packets come straight from the page cache:
 * libpcap would copy each record twice (read(2) into stdio's buffer, fread
 * into its own). The libpcap handle stays open: it names the link type, and
 * if a record looks wrong (longer than the snaplen or 256 KiB, cut by the end
 * of the file) the rest is read through it, after skipping the records
 * already delivered, so errors and their messages are libpcap's own. Pages
 * behind the reader are given back as it goes, so the mapping does not
 * count towards the resident set. */
static void mm_open(struct capture *c, const char *path)
{
	if (!c->file_size || c->file_size > SIZE_MAX || c->file_size < 24)
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	void *m = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == c->file_size)
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	const uint8_t *h = m;
	uint32_t magic;
	memcpy(&magic, h, 4);
	bool ok = true;
	if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
		c->mm_swap = false;
	} else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
		c->mm_swap = true;
		magic = __builtin_bswap32(magic);
	} else {
		ok = false;
	}
	c->mm = h;
	c->mm_size = (size_t)c->file_size;
	uint16_t vmaj, vmin;
	memcpy(&vmaj, h + 4, 2);
	memcpy(&vmin, h + 6, 2);
	if (c->mm_swap) {
		vmaj = __builtin_bswap16(vmaj);
		vmin = __builtin_bswap16(vmin);
	}
	if (ok && (vmaj != 2 || vmin != 4))
		ok = false;
	if (!ok) {
		munmap(m, c->mm_size);
		c->mm = NULL;
		return;
	}
	c->mm_nano = magic == 0xa1b23c4du;
	c->mm_snaplen = mm_u32(c, h + 16);
	c->mm_off = 24;
	madvise(m, c->mm_size, MADV_SEQUENTIAL);
}

static void mm_close(struct capture *c)
{
	if (c->mm)
		munmap((void *)c->mm, c->mm_size);
	c->mm = NULL;
}

/* Leave the mapped path: libpcap reads the rest, from where we are. */
static void mm_fallback(struct capture *c)
{
	mm_close(c);
	struct pcap_pkthdr *h;
	const u_char *b;
	for (uint64_t i = 0; i < c->mm_count; i++) /* the records already delivered */
		if (pcap_next_ex(c->p, &h, &b) != 1)
			break;
}

/* The next record from the mapping: 1 with *out, 0 at the clean end of the
 * file (CAPTURE_EOF follows), -1 when libpcap must take over. */
#define MM_PREFETCH (8u << 10)

static int mm_next(struct capture *c, struct capture_pkt *out)
{
	size_t off = c->mm_off;
	if (off == c->mm_size)
		return 0;
	if (c->mm_size - off < 16)
		return -1;
	const uint8_t *r = c->mm + off;
	uint32_t sec = mm_u32(c, r), frac = mm_u32(c, r + 4);
	uint32_t caplen = mm_u32(c, r + 8), len = mm_u32(c, r + 12);
	if (caplen > CAPTURE_SNAPLEN || (c->mm_snaplen && caplen > c->mm_snaplen) ||
	    c->mm_size - off - 16 < caplen)
		return -1;
	out->ts_us = (uint64_t)sec * 1000000u + (c->mm_nano ? frac / 1000 : frac);
	out->caplen = caplen;
	out->wirelen = len;
	out->data = r + 16;
	c->mm_off = off + 16 + caplen;
	/* The page cache's pages are scattered in memory and the hardware
	 * prefetchers stop at page edges: ask for the bytes a few KiB ahead,
	 * so the first touch of each packet (reassembly) rarely waits on DRAM. */
	size_t pf_to = c->mm_off + MM_PREFETCH < c->mm_size ? c->mm_off + MM_PREFETCH : c->mm_size;
	size_t pf = c->mm_pf > c->mm_off ? c->mm_pf : c->mm_off;
	for (; pf + 256 <= pf_to; pf += 256) { /* one line each, four a step */
		__builtin_prefetch(c->mm + pf);
		__builtin_prefetch(c->mm + pf + 64);
		__builtin_prefetch(c->mm + pf + 128);
		__builtin_prefetch(c->mm + pf + 192);
	}
	for (; pf < pf_to; pf += 64)
		__builtin_prefetch(c->mm + pf);
	c->mm_pf = pf;
	c->mm_count++;
	c->packets++;
	c->bytes += caplen;
	if (off - c->mm_released >= MM_RELEASE + 4096) { /* give back pages behind us */
		size_t upto = off & ~(size_t)4095;
		madvise((void *)(c->mm + c->mm_released), upto - c->mm_released, MADV_DONTNEED);
		c->mm_released = upto;
	}
	return 1;
}

#define GZIP_MAGIC0 0x1f /* RFC 1952: 1f 8b; no pcap or pcapng magic starts with 1f */

/* The first byte of fd, to tell a gzip stream from a capture. A regular file
 * is read in place (pread: nothing consumed). A pipe, FIFO or terminal
 * cannot be peeked at: one byte is read and *consumed set; the caller gives
 * it back (ungetc, or the gzip feeder writes it first). -1 at end of input. */
static int first_byte(int fd, bool *consumed)
{
	unsigned char b;
	ssize_t k;
	*consumed = false;
	off_t pos = lseek(fd, 0, SEEK_CUR);
	if (pos >= 0) {
		do
			k = pread(fd, &b, 1, pos);
		while (k < 0 && errno == EINTR);
		if (k >= 0)
			return k == 1 ? b : -1;
	}
	do
		k = read(fd, &b, 1);
	while (k < 0 && errno == EINTR);
	if (k != 1)
		return -1;
	*consumed = true;
	return b;
}

/* Child side of a gzip input whose first byte was consumed (a pipe): run
 * gzip -dc on a second pipe and copy that byte, then the rest of in_fd, into
 * it. Never returns. */
static void gzip_feeder(int in_fd, int out_fd, unsigned char first)
{
	int q[2];
	if (pipe(q) != 0)
		_exit(127);
	pid_t g = fork();
	if (g < 0)
		_exit(127);
	if (g == 0) {
		dup2(q[0], STDIN_FILENO);
		dup2(out_fd, STDOUT_FILENO);
		close(q[0]);
		close(q[1]);
		close(out_fd);
		execlp("gzip", "gzip", "-dc", (char *)NULL);
		_exit(127);
	}
	close(q[0]);
	close(out_fd);
	signal(SIGPIPE, SIG_DFL); /* the reader gone: stop copying */
	static char buf[1 << 16];
	buf[0] = (char)first;
	size_t have = 1;
	for (;;) {
		for (size_t off = 0; off < have;) {
			ssize_t w = write(q[1], buf + off, have - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto done;
			off += (size_t)w;
		}
		ssize_t k = read(in_fd, buf, sizeof buf);
		if (k < 0 && errno == EINTR) {
			have = 0;
			continue;
		}
		if (k <= 0)
			break;
		have = (size_t)k;
	}
done:
	close(q[1]);
	int st = 0;
	while (waitpid(g, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

struct capture *capture_open_file(const char *path, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	FILE *fp;
	uint64_t size = 0;
	if (strcmp(path, "-") == 0) {
		fp = stdin;
	} else {
		struct stat st;
		if (stat(path, &st) != 0) {
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			return NULL;
		}
		if (S_ISDIR(st.st_mode)) {
			set_err(err, errlen, "%s: %s", path, "is a directory");
			return NULL;
		}
		size = (uint64_t)st.st_size;
		fp = fopen(path, "rb");
		if (!fp) {
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			return NULL;
		}
	}
	pid_t child = 0;
	/* gzip by its magic, whatever the name, for files and standard input
	 * alike; nothing has been read through fp yet. */
	bool consumed;
	int b0 = first_byte(fileno(fp), &consumed);
	if (b0 == GZIP_MAGIC0) {
		/* Decompress through gzip(1) rather than link zlib: one process,
		 * no new library, and libpcap reads the pipe as it would a file. */
		int pfd[2];
		if (pipe(pfd) != 0) {
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			if (fp != stdin)
				fclose(fp);
			return NULL;
		}
		fflush(NULL);
		child = fork();
		if (child < 0) {
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			close(pfd[0]);
			close(pfd[1]);
			if (fp != stdin)
				fclose(fp);
			return NULL;
		}
		if (child == 0) {
			close(pfd[0]);
			if (consumed) /* a pipe: the byte read must go to gzip first */
				gzip_feeder(fileno(fp), pfd[1], (unsigned char)b0);
			dup2(fileno(fp), STDIN_FILENO);
			dup2(pfd[1], STDOUT_FILENO);
			close(pfd[1]);
			execlp("gzip", "gzip", "-dc", (char *)NULL);
			_exit(127);
		}
		close(pfd[1]);
		fclose(fp); /* the child reads it now */
		fp = fdopen(pfd[0], "rb");
		size = 0; /* unknown once decompressed */
		consumed = false;
	}
	struct capture *c = xcalloc(1, sizeof *c);
	c->gunzip = child;
	c->iobuf = xmalloc(CAPTURE_FILE_BUFFER);
	setvbuf(fp, c->iobuf, _IOFBF, CAPTURE_FILE_BUFFER);
	if (consumed) /* the peeked byte of a pipe, back for libpcap */
		ungetc(b0, fp);
	c->p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!c->p) {
		/* libpcap's messages are already specific ("unknown file format") */
		set_err(err, errlen, "%s: %s", path, ebuf[0] ? ebuf : "cannot read capture");
		if (fp != stdin)
			fclose(fp);
		if (child > 0)
			waitpid(child, NULL, 0);
		free(c->iobuf);
		free(c);
		return NULL;
	}
	c->fp = fp;
	c->fd = -1;
	c->file_size = size;
	c->linktype = pcap_datalink(c->p);
#ifndef CAPTURE_NO_MMAP /* build with -DCAPTURE_NO_MMAP to read every file through libpcap */
	if (fp != stdin && !child)
		mm_open(c, path);
#endif
	return c;
}

struct capture *capture_open_live(const char *iface, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(iface, ebuf);
	if (!p) {
		set_err(err, errlen, "%s: %s", iface, ebuf);
		return NULL;
	}
	pcap_set_snaplen(p, CAPTURE_SNAPLEN);
	pcap_set_promisc(p, 1);
	pcap_set_immediate_mode(p, 1);
	pcap_set_buffer_size(p, CAPTURE_LIVE_BUFFER);
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO);
	int rc = pcap_activate(p);
	if (rc < 0) {
		const char *why = rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc);
		if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
			why = "no such interface";
		else if (rc == PCAP_ERROR_PERM_DENIED)
			why = "permission denied (capturing needs root or CAP_NET_RAW)";
		set_err(err, errlen, "%s: %s", iface, why);
		pcap_close(p);
		return NULL;
	}
	if (pcap_setnonblock(p, 1, ebuf) != 0) {
		set_err(err, errlen, "%s: %s", iface, ebuf);
		pcap_close(p);
		return NULL;
	}
	struct capture *c = xcalloc(1, sizeof *c);
	c->p = p;
	c->live = true;
	c->fd = pcap_get_selectable_fd(p);
	c->linktype = pcap_datalink(p);
	return c;
}

int capture_set_filter(struct capture *c, const char *expr, char *err, size_t errlen)
{
	if (c->mm && c->mm_count == 0)
		mm_close(c); /* libpcap applies the filter as it reads */
	struct bpf_program prog;
	if (pcap_compile(c->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		set_err(err, errlen, "bad filter expression '%s': %s", expr, pcap_geterr(c->p));
		return -1;
	}
	int rc = pcap_setfilter(c->p, &prog);
	pcap_freecode(&prog);
	if (rc != 0) {
		set_err(err, errlen, "cannot install filter '%s': %s", expr, pcap_geterr(c->p));
		return -1;
	}
	return 0;
}

int capture_linktype(const struct capture *c)
{
	return c->linktype;
}

const char *capture_linktype_name(const struct capture *c)
{
	const char *n = pcap_datalink_val_to_name(pcap_datalink(c->p));
	return n ? n : "unknown";
}

int capture_fd(const struct capture *c)
{
	return c->fd;
}

static void trampoline(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)user;
	struct capture_pkt pkt = {
		.ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec,
		.caplen = h->caplen,
		.wirelen = h->len,
		.data = bytes,
	};
	c->packets++;
	c->bytes += h->caplen;
	c->cb(c->user, &pkt);
}

int capture_dispatch(struct capture *c, int max, capture_cb cb, void *user)
{
	c->cb = cb;
	c->user = user;
	if (c->mm) {
		int lim = max > 0 ? max : MM_BATCH, n = 0;
		struct capture_pkt pkt;
		while (n < lim && !c->mm_break) {
			int rc = mm_next(c, &pkt);
			if (rc == 1) {
				cb(user, &pkt);
				n++;
				continue;
			}
			if (rc == 0 && n == 0)
				return CAPTURE_EOF;
			if (rc < 0)
				mm_fallback(c);
			break;
		}
		c->mm_break = 0;
		if (n || c->mm)
			return n;
		/* fell back before any packet: libpcap goes on below */
	}
	int n = pcap_dispatch(c->p, max > 0 ? max : -1, trampoline, (u_char *)c);
	if (n == PCAP_ERROR_BREAK)
		return 0;
	if (n < 0) {
		snprintf(c->err, sizeof c->err, "%s", pcap_geterr(c->p));
		return CAPTURE_ERROR;
	}
	if (n == 0 && !c->live)
		return CAPTURE_EOF;
	return n;
}

const char *capture_error(const struct capture *c)
{
	return c->err;
}

void capture_breakloop(struct capture *c)
{
	c->mm_break = 1;
	pcap_breakloop(c->p);
}

void capture_stats(struct capture *c, struct capture_stats *out)
{
	memset(out, 0, sizeof *out);
	out->packets = c->packets;
	out->bytes = c->bytes;
	if (c->live) {
		struct pcap_stat ps;
		if (pcap_stats(c->p, &ps) == 0) {
			out->valid = true;
			out->received = ps.ps_recv;
			out->dropped = ps.ps_drop;
			out->if_dropped = ps.ps_ifdrop;
		}
	} else if (c->mm) {
		out->file_size = c->file_size;
		out->file_bytes = c->mm_off;
	} else if (c->fp) {
		out->file_size = c->file_size;
		long pos = ftell(c->fp);
		out->file_bytes = pos > 0 ? (uint64_t)pos : 0;
	}
}

int capture_next(struct capture *c, struct capture_pkt *out)
{
	if (c->mm) {
		int r = mm_next(c, out);
		if (r == 1)
			return 1;
		if (r == 0)
			return CAPTURE_EOF;
		mm_fallback(c);
	}
	struct pcap_pkthdr *h;
	const u_char *bytes;
	int rc = pcap_next_ex(c->p, &h, &bytes);
	if (rc == 1) {
		out->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		out->caplen = h->caplen;
		out->wirelen = h->len;
		out->data = bytes;
		c->packets++;
		c->bytes += h->caplen;
		return 1;
	}
	if (rc == 0)
		return 0; /* live: timeout */
	if (rc == PCAP_ERROR_BREAK)
		return CAPTURE_EOF;
	snprintf(c->err, sizeof c->err, "%s", pcap_geterr(c->p));
	return CAPTURE_ERROR;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	mm_close(c);
	pcap_close(c->p); /* closes fp too */
	if (c->gunzip > 0) {
		/* Stopped early, the child may still wait on its input (a pipe
		 * on standard input): nothing reads its output any more. */
		if (waitpid(c->gunzip, NULL, WNOHANG) == 0) {
			kill(c->gunzip, SIGTERM);
			waitpid(c->gunzip, NULL, 0);
		}
	}
	free(c->iobuf);
	free(c);
}

/* ---- pcapng Decryption Secrets Blocks (capture.h) ------------------------- */

static uint32_t dsb_u32(const uint8_t *p, bool swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

int capture_pcapng_secrets(const char *path, capture_secrets_cb cb, void *user, uint64_t *skipped,
                           char *err, size_t errlen)
{
	if (skipped)
		*skipped = 0;
	size_t plen = strlen(path);
	if (strcmp(path, "-") == 0 || (plen > 3 && strcmp(path + plen - 3, ".gz") == 0))
		return 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return 0;
	}
	const uint64_t size = (uint64_t)st.st_size;
	uint64_t off = 0;
	bool swap = false, seen_shb = false;
	int delivered = 0;
	uint8_t h[16];
	while (off + 12 <= size) {
		if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(h, 1, 12, f) != 12)
			break;
		uint32_t type;
		memcpy(&type, h, 4); /* 0x0A0D0D0A reads the same either way */
		if (type == 0x0A0D0D0Au) {
			uint32_t bom;
			memcpy(&bom, h + 8, 4);
			if (bom == 0x1A2B3C4Du)
				swap = false;
			else if (bom == 0x4D3C2B1Au)
				swap = true;
			else
				break;
			seen_shb = true;
		} else if (!seen_shb) {
			break; /* not pcapng */
		}
		uint32_t blen = dsb_u32(h + 4, swap);
		if (blen < 12 || blen % 4 || blen > size - off)
			break; /* a lying or cut block: the walk ends (libpcap will say why) */
		type = dsb_u32(h, swap);
		if (type == 0x0000000Au) {
			/* secrets type (4), secrets length (4), data, padding, options */
			uint32_t stype = dsb_u32(h + 8, swap);
			uint8_t l4[4];
			if (blen < 20 || fread(l4, 1, 4, f) != 4) {
				if (skipped)
					(*skipped)++;
			} else {
				uint32_t slen = dsb_u32(l4, swap);
				if (slen > blen - 20 || slen > CAPTURE_DSB_MAX) {
					if (skipped)
						(*skipped)++;
				} else {
					uint8_t *buf = xmalloc(slen ? slen : 1);
					if (fread(buf, 1, slen, f) == slen) {
						cb(user, stype, buf, slen);
						delivered++;
					} else if (skipped) {
						(*skipped)++;
					}
					explicit_bzero(buf, slen); /* key material */
					free(buf);
				}
			}
		}
		off += blen;
	}
	fclose(f);
	return delivered;
}
