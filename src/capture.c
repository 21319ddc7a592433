/* capture — libpcap wrapper; contract in include/capture.h. */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbuf.h"

#define CAPTURE_FILE_BUFFER (1u << 20)  /* stdio buffer for file input (fewer read(2) calls) */
#define CAPTURE_LIVE_BUFFER (32u << 20) /* kernel ring for live capture */
#define CAPTURE_SNAPLEN     262144      /* full packets */

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
};

static void set_err(char *err, size_t len, const char *fmt, const char *a, const char *b)
{
	if (err && len)
		snprintf(err, len, fmt, a, b);
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
	size_t plen = strlen(path);
	if (plen > 3 && strcmp(path + plen - 3, ".gz") == 0) {
		/* Decompress through gzip(1) rather than link zlib: one process,
		 * no new library, and libpcap reads the pipe as it would a file. */
		int pfd[2];
		if (pipe(pfd) != 0) {
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			fclose(fp);
			return NULL;
		}
		fflush(NULL);
		child = fork();
		if (child < 0) {
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			close(pfd[0]);
			close(pfd[1]);
			fclose(fp);
			return NULL;
		}
		if (child == 0) {
			dup2(fileno(fp), STDIN_FILENO);
			dup2(pfd[1], STDOUT_FILENO);
			close(pfd[0]);
			close(pfd[1]);
			execlp("gzip", "gzip", "-dc", (char *)NULL);
			_exit(127);
		}
		close(pfd[1]);
		fclose(fp);
		fp = fdopen(pfd[0], "rb");
		size = 0; /* unknown once decompressed */
	}
	struct capture *c = xcalloc(1, sizeof *c);
	c->gunzip = child;
	c->iobuf = xmalloc(CAPTURE_FILE_BUFFER);
	setvbuf(fp, c->iobuf, _IOFBF, CAPTURE_FILE_BUFFER);
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
	} else if (c->fp) {
		out->file_size = c->file_size;
		long pos = ftell(c->fp);
		out->file_bytes = pos > 0 ? (uint64_t)pos : 0;
	}
}

int capture_next(struct capture *c, struct capture_pkt *out)
{
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
	pcap_close(c->p); /* closes fp too */
	if (c->gunzip > 0)
		waitpid(c->gunzip, NULL, 0);
	free(c->iobuf);
	free(c);
}
