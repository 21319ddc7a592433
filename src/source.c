/* source — inputs of a run; contract in include/source.h. */
#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "sbuf.h"

struct input {
	const char *name;          /* file name or interface */
	struct capture *cap;
	struct capture_pkt next;   /* pending packet (files) */
	bool has_next;             /* next is valid */
	bool done;                 /* exhausted or damaged */
};

struct source {
	struct input *in;
	size_t n;
	bool live;
	bool separate;
	size_t cur;                /* separate mode: input being read */
	int cur_lt;                /* link type the analyzer is set to (-1 unknown) */
	bool damaged;
	char fatal[512];
	struct sbuf label;
};

struct source *source_open(const struct source_opts *o, char *err, size_t errlen)
{
	struct source *s = xcalloc(1, sizeof *s);
	s->live = o->iface != NULL;
	s->separate = o->separate;
	s->cur_lt = -1;
	s->n = s->live ? 1 : o->nfiles;
	s->in = xcalloc(s->n ? s->n : 1, sizeof *s->in);
	for (size_t i = 0; i < s->n; i++) {
		struct input *in = &s->in[i];
		in->name = s->live ? o->iface : o->files[i];
		in->cap = s->live ? capture_open_live(in->name, err, errlen) : capture_open_file(in->name, err, errlen);
		if (!in->cap) {
			source_close(s);
			return NULL;
		}
		if (o->bpf && *o->bpf && capture_set_filter(in->cap, o->bpf, err, errlen) != 0) {
			source_close(s);
			return NULL;
		}
		if (i)
			sbuf_adds(&s->label, " + ");
		sbuf_adds(&s->label, in->name);
	}
	return s;
}

int source_linktype(const struct source *s)
{
	return capture_linktype(s->in[0].cap);
}

const char *source_label(const struct source *s)
{
	return sbuf_str(&s->label);
}

bool source_live(const struct source *s)
{
	return s->live;
}

int source_fd(const struct source *s)
{
	return s->live ? capture_fd(s->in[0].cap) : -1;
}

static void damaged(struct source *s, struct input *in)
{
	anom_raise(NULL, ANOM_CAPTURE_FILE_DAMAGED);
	struct capture_stats cs;
	capture_stats(in->cap, &cs);
	fprintf(stderr, "smtpscope: warning: %s: damaged after packet %llu: %s; results cover the packets before it\n",
	        in->name, (unsigned long long)cs.packets, capture_error(in->cap));
	in->done = true;
	in->has_next = false;
	s->damaged = true;
}

/* Make sure in->next holds the input's next packet, if any. */
static void fill(struct source *s, struct input *in)
{
	if (in->has_next || in->done)
		return;
	int rc = capture_next(in->cap, &in->next);
	if (rc == 1)
		in->has_next = true;
	else if (rc == CAPTURE_ERROR)
		damaged(s, in);
	else
		in->done = true;
}

static bool set_lt(struct source *s, struct analyzer *an, struct input *in)
{
	int lt = capture_linktype(in->cap);
	if (lt == s->cur_lt)
		return true;
	char err[256];
	if (analyzer_set_linktype(an, lt, err, sizeof err) != 0) {
		fprintf(stderr, "smtpscope: warning: %s: %s; skipped\n", in->name, err);
		in->done = true;
		in->has_next = false;
		s->damaged = true;
		return false;
	}
	s->cur_lt = lt;
	return true;
}

/* The input whose pending packet comes first (merged mode), or NULL. */
static struct input *earliest(struct source *s)
{
	struct input *best = NULL;
	for (size_t i = 0; i < s->n; i++) {
		struct input *in = &s->in[i];
		if (s->separate && i != s->cur)
			continue;
		fill(s, in);
		if (in->has_next && (!best || in->next.ts_us < best->next.ts_us))
			best = in;
	}
	return best;
}

struct feed_ctx {
	struct analyzer *an;
};

static void feed_one(void *user, const struct capture_pkt *pkt)
{
	analyzer_packet(((struct feed_ctx *)user)->an, pkt);
}

int source_feed(struct source *s, struct analyzer *an, int max)
{
	if (s->live) {
		struct input *in = &s->in[0];
		if (!set_lt(s, an, in))
			return SOURCE_EOF;
		struct feed_ctx fc = { an };
		int n = capture_dispatch(in->cap, max, feed_one, &fc);
		if (n == CAPTURE_ERROR) {
			snprintf(s->fatal, sizeof s->fatal, "%s: %s", in->name, capture_error(in->cap));
			return SOURCE_EOF;
		}
		return n < 0 ? 0 : n;
	}
	int fed = 0;
	if (s->n == 1) { /* one file: libpcap's own loop, no per-packet call overhead */
		struct input *in = &s->in[0];
		if (in->done && !in->has_next)
			return SOURCE_EOF;
		if (!set_lt(s, an, in))
			return SOURCE_EOF;
		if (in->has_next) { /* a packet peeked at for pacing */
			analyzer_packet(an, &in->next);
			in->has_next = false;
			fed = 1;
		}
		if (fed >= max)
			return fed; /* the peeked packet was the whole batch */
		struct feed_ctx fc = { an };
		int n = capture_dispatch(in->cap, max - fed, feed_one, &fc);
		if (n == CAPTURE_ERROR) {
			damaged(s, in);
			return fed ? fed : SOURCE_EOF;
		}
		if (n == CAPTURE_EOF) {
			in->done = true;
			return fed ? fed : SOURCE_EOF;
		}
		return fed + n;
	}
	while (fed < max) {
		struct input *in = earliest(s);
		if (!in) {
			if (s->separate && s->cur + 1 < s->n) {
				s->cur++;
				analyzer_finish(an); /* each file on its own */
				continue;
			}
			return fed ? fed : SOURCE_EOF;
		}
		if (!set_lt(s, an, in))
			continue;
		analyzer_packet(an, &in->next);
		in->has_next = false;
		fed++;
	}
	return fed;
}

bool source_peek_ts(struct source *s, uint64_t *ts_us)
{
	if (s->live)
		return false;
	struct input *in = earliest(s);
	if (!in)
		return false;
	*ts_us = in->next.ts_us;
	return true;
}

bool source_damaged(const struct source *s)
{
	return s->damaged;
}

const char *source_fatal(const struct source *s)
{
	return s->fatal[0] ? s->fatal : NULL;
}

void source_breakloop(struct source *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->in[i].cap)
			capture_breakloop(s->in[i].cap);
}

void source_stats(struct source *s, struct capture_stats *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < s->n; i++) {
		struct capture_stats cs;
		capture_stats(s->in[i].cap, &cs);
		out->valid |= cs.valid;
		out->received += cs.received;
		out->dropped += cs.dropped;
		out->if_dropped += cs.if_dropped;
		out->packets += cs.packets;
		out->bytes += cs.bytes;
		out->file_bytes += cs.file_bytes;
		out->file_size += cs.file_size;
	}
}

void source_close(struct source *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		capture_close(s->in[i].cap);
	free(s->in);
	sbuf_free(&s->label);
	free(s);
}
