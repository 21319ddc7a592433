/* reasm — one direction of a TCP stream; contract in include/reasm.h.
 * RFC 9293 §3.4 (sequence numbers). Sequence arithmetic only in reasm_rel(). */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

struct reasm_seg {
	struct reasm_seg *next; /* next segment, higher offset */
	uint64_t off;           /* offset of data[0] */
	uint32_t len;           /* bytes in data */
	uint8_t  data[];        /* copy of the payload */
};

void reasm_init(struct reasm *r)
{
	memset(r, 0, sizeof *r);
}

static void total_add(const struct reasm_limits *lim, int64_t d)
{
	if (!lim || !lim->total)
		return;
	*lim->total = (uint64_t)((int64_t)*lim->total + d);
	if (lim->total_peak && *lim->total > *lim->total_peak)
		*lim->total_peak = *lim->total;
}

static void seg_drop(struct reasm *r, struct reasm_seg **link, const struct reasm_limits *lim)
{
	struct reasm_seg *s = *link;
	*link = s->next;
	r->ooo_n--;
	r->ooo_bytes -= s->len;
	total_add(lim, -(int64_t)s->len);
	free(s);
}

void reasm_free(struct reasm *r, const struct reasm_limits *lim)
{
	while (r->ooo)
		seg_drop(r, &r->ooo, lim);
	if (r->recent && lim && lim->pool && lim->pool->n < REASM_POOL_MAX)
		lim->pool->v[lim->pool->n++] = r->recent;
	else
		free(r->recent);
	r->recent = NULL;
}

void reasm_syn(struct reasm *r, uint32_t isn)
{
	if (r->started)
		return;
	r->base = isn + 1;
	r->started = true;
}

int64_t reasm_rel(const struct reasm *r, uint32_t seq)
{
	uint32_t expect = r->base + (uint32_t)r->next;
	return (int64_t)r->next + (int32_t)(seq - expect);
}

/* Hand n in-order bytes to the consumer and remember them in the ring. */
static void deliver(struct reasm *r, const uint8_t *p, size_t n, const struct reasm_limits *lim,
                    const struct reasm_out *out)
{
	if (!n)
		return;
	if (!r->recent) /* only bytes the stream delivers are ever read from it */
		r->recent = lim && lim->pool && lim->pool->n ? lim->pool->v[--lim->pool->n] : xmalloc(REASM_RECENT);
	size_t keep = n < REASM_RECENT ? n : REASM_RECENT;
	uint64_t from = r->next + n - keep;
	size_t pos = (size_t)(from % REASM_RECENT);
	size_t first = REASM_RECENT - pos < keep ? REASM_RECENT - pos : keep;
	memcpy(r->recent + pos, p + (n - keep), first);
	memcpy(r->recent, p + (n - keep) + first, keep - first);
	r->next += n;
	r->delivered += n;
	if (r->recent_from + REASM_RECENT < r->next)
		r->recent_from = r->next - REASM_RECENT;
	if (out->data)
		out->data(out->ctx, p, n);
}

static void declare_gap(struct reasm *r, uint64_t n, const struct reasm_out *out)
{
	if (!n)
		return;
	r->next += n;
	r->recent_from = r->next;
	r->gap_bytes += n;
	r->gaps++;
	anom_raise(out->anoms, ANOM_TCP_GAP);
	if (out->gap)
		out->gap(out->ctx, n);
}

/* Compare p (at offset off, n bytes) with already-delivered bytes still in
 * the ring. Returns true if some byte differs. */
static bool differs_from_delivered(const struct reasm *r, uint64_t off, const uint8_t *p, size_t n)
{
	if (!r->recent)
		return false;
	uint64_t lo = off > r->recent_from ? off : r->recent_from;
	uint64_t hi = off + n < r->next ? off + n : r->next;
	while (lo < hi) { /* at most two runs: the ring wraps once */
		size_t pos = (size_t)(lo % REASM_RECENT);
		size_t k = REASM_RECENT - pos < hi - lo ? REASM_RECENT - pos : (size_t)(hi - lo);
		if (memcmp(r->recent + pos, p + (lo - off), k) != 0)
			return true;
		lo += k;
	}
	return false;
}

static void check_done(struct reasm *r)
{
	if (r->fin_known && r->next >= r->fin_off)
		r->done = true;
}

/* Deliver queued segments that have become in order. */
static void drain(struct reasm *r, const struct reasm_limits *lim, const struct reasm_out *out)
{
	while (r->ooo && r->ooo->off <= r->next) {
		struct reasm_seg *s = r->ooo;
		uint64_t end = s->off + s->len;
		if (end > r->next) {
			size_t skip = (size_t)(r->next - s->off);
			if (skip && differs_from_delivered(r, s->off, s->data, skip))
				anom_raise(out->anoms, ANOM_TCP_OVERLAP_CONFLICT);
			deliver(r, s->data + skip, s->len - skip, lim, out);
		} else if (differs_from_delivered(r, s->off, s->data, s->len)) {
			anom_raise(out->anoms, ANOM_TCP_OVERLAP_CONFLICT);
		}
		seg_drop(r, &r->ooo, lim);
	}
	check_done(r);
}

static struct reasm_seg *seg_new(uint64_t off, const uint8_t *p, size_t n)
{
	struct reasm_seg *s = xmalloc(sizeof *s + n);
	s->next = NULL;
	s->off = off;
	s->len = (uint32_t)n;
	memcpy(s->data, p, n);
	return s;
}

/* Insert [off, off+n) into the queue, keeping only bytes no queued segment
 * already holds (first data wins). */
static void queue_insert(struct reasm *r, uint64_t off, const uint8_t *p, size_t n,
                         const struct reasm_limits *lim, const struct reasm_out *out)
{
	uint64_t cur = off, end = off + n;
	struct reasm_seg **link = &r->ooo;
	bool conflict = false;
	while (cur < end) {
		struct reasm_seg *s = *link;
		if (!s || s->off >= end) {
			struct reasm_seg *ns = seg_new(cur, p + (cur - off), (size_t)(end - cur));
			ns->next = s;
			*link = ns;
			r->ooo_n++;
			r->ooo_bytes += ns->len;
			total_add(lim, ns->len);
			break;
		}
		uint64_t s_end = s->off + s->len;
		if (s_end <= cur) {
			link = &s->next;
			continue;
		}
		if (s->off > cur) {
			struct reasm_seg *ns = seg_new(cur, p + (cur - off), (size_t)(s->off - cur));
			ns->next = s;
			*link = ns;
			r->ooo_n++;
			r->ooo_bytes += ns->len;
			total_add(lim, ns->len);
			link = &ns->next;
			cur = s->off;
		}
		/* overlap [cur, min(end, s_end)) with s: compare, keep s */
		uint64_t oe = end < s_end ? end : s_end;
		if (memcmp(s->data + (cur - s->off), p + (cur - off), (size_t)(oe - cur)) != 0)
			conflict = true;
		cur = oe;
		link = &s->next;
	}
	if (conflict)
		anom_raise(out->anoms, ANOM_TCP_OVERLAP_CONFLICT);
}

/* The segment [next, next + wire_len) is in order; its first len bytes were
 * captured. First data wins in every order of arrival: where the
 * out-of-order queue already holds bytes of that range, those came first
 * and are delivered (a newcomer that differs raises tcp_overlap_conflict);
 * the rest is delivered straight from the caller's buffer, and a tail cut
 * by the snaplen that the queue does not cover becomes a gap. */
static void deliver_in_order(struct reasm *r, const uint8_t *data, size_t len, size_t wire_len,
                             const struct reasm_limits *lim, const struct reasm_out *out)
{
	const uint64_t start = r->next, cap_end = start + len, end = start + wire_len;
	while (r->next < end) {
		struct reasm_seg *s = r->ooo;
		if (s && s->off <= r->next) {
			uint64_t s_end = s->off + s->len;
			if (s_end > r->next) {
				uint64_t ce = s_end < cap_end ? s_end : cap_end;
				if (ce > r->next && memcmp(s->data + (r->next - s->off), data + (r->next - start),
				                           (size_t)(ce - r->next)) != 0)
					anom_raise(out->anoms, ANOM_TCP_OVERLAP_CONFLICT);
				deliver(r, s->data + (r->next - s->off), (size_t)(s_end - r->next), lim, out);
			}
			seg_drop(r, &r->ooo, lim);
			continue;
		}
		uint64_t stop = s && s->off < end ? s->off : end;
		if (r->next < cap_end)
			deliver(r, data + (r->next - start), (size_t)((stop < cap_end ? stop : cap_end) - r->next), lim, out);
		else
			declare_gap(r, stop - r->next, out); /* cut by the snaplen */
	}
	drain(r, lim, out);
}

static bool over_cap(const struct reasm *r, size_t n, const struct reasm_limits *lim)
{
	if (!lim)
		return false;
	if (lim->max_segs && r->ooo_n + 1 > lim->max_segs)
		return true;
	if (lim->max_bytes && r->ooo_bytes + n > lim->max_bytes)
		return true;
	if (lim->max_total && lim->total && *lim->total + n > lim->max_total)
		return true;
	return false;
}

void reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *data, size_t len, size_t wire_len,
                   bool fin, const struct reasm_limits *lim, const struct reasm_out *out)
{
	if (!r->started) {
		r->base = seq; /* picked up mid-stream: first byte seen is offset 0 */
		r->started = true;
	}
	if (wire_len < len)
		wire_len = len;
	if (r->done) {
		if (wire_len && reasm_rel(r, seq) + (int64_t)wire_len > (int64_t)r->fin_off)
			anom_raise(out->anoms, ANOM_TCP_DATA_AFTER_FIN);
		return;
	}
	int64_t off = reasm_rel(r, seq);
	if (fin && !r->fin_known) {
		int64_t fo = off + (int64_t)wire_len;
		r->fin_known = true;
		/* a FIN inside bytes already delivered (a broken sender) ends here */
		r->fin_off = fo >= (int64_t)r->next ? (uint64_t)fo : r->next;
		check_done(r);
	}
	if (r->fin_known && wire_len && off + (int64_t)wire_len > (int64_t)r->fin_off) {
		anom_raise(out->anoms, ANOM_TCP_DATA_AFTER_FIN);
		if (off >= (int64_t)r->fin_off)
			wire_len = len = 0;
		else {
			wire_len = (size_t)((int64_t)r->fin_off - off);
			if (len > wire_len)
				len = wire_len;
		}
	}
	if (wire_len == 0) {
		check_done(r);
		if (r->done)
			drain(r, lim, out);
		return;
	}
	if (off < 0) { /* bytes before the stream's start: drop them */
		uint64_t skip = (uint64_t)-off;
		if (skip >= wire_len)
			return;
		data += skip < len ? skip : len;
		len = skip < len ? len - (size_t)skip : 0;
		wire_len -= (size_t)skip;
		off = 0;
	}
	uint64_t uoff = (uint64_t)off;
	if (uoff > r->next + REASM_JUMP_LIMIT && !(r->acked_known && r->acked >= uoff)) {
		anom_raise(out->anoms, ANOM_TCP_SEQ_JUMP);
		return;
	}
	uint64_t end = uoff + wire_len;
	if (end <= r->next) { /* entirely old: a retransmission */
		/* A keep-alive probe repeats the last byte (often as garbage): not
		 * a retransmission, not a conflict (RFC 9293 §3.8.4). */
		if (wire_len == 1 && uoff + 1 == r->next)
			return;
		anom_raise(out->anoms, ANOM_TCP_RETRANSMISSION);
		if (differs_from_delivered(r, uoff, data, len))
			anom_raise(out->anoms, ANOM_TCP_OVERLAP_CONFLICT);
		return;
	}
	if (uoff < r->next) { /* partly old: compare and trim the front */
		size_t skip = (size_t)(r->next - uoff);
		if (differs_from_delivered(r, uoff, data, skip < len ? skip : len))
			anom_raise(out->anoms, ANOM_TCP_OVERLAP_CONFLICT);
		data += skip < len ? skip : len;
		len = skip < len ? len - skip : 0;
		wire_len -= skip;
		uoff = r->next;
	}
	for (;;) {
		if (uoff == r->next) {
			if (r->ooo) {
				deliver_in_order(r, data, len, wire_len, lim, out);
				return;
			}
			deliver(r, data, len, lim, out); /* nothing queued: the common case */
			if (wire_len > len)
				declare_gap(r, wire_len - len, out); /* cut by the snaplen */
			check_done(r);
			return;
		}
		if (len == 0)
			return; /* nothing captured to hold; the hole is found later */
		if (!over_cap(r, len, lim)) {
			queue_insert(r, uoff, data, len, lim, out);
			return;
		}
		/* A cap is hit: give up on the first hole and move on. */
		anom_raise(out->anoms, ANOM_TCP_OOO_LIMIT);
		uint64_t to = r->ooo && r->ooo->off < uoff ? r->ooo->off : uoff;
		declare_gap(r, to - r->next, out);
		drain(r, lim, out);
		if (r->done)
			return;
		if (uoff + wire_len <= r->next)
			return; /* now covered by drained data */
		if (uoff < r->next) {
			size_t skip = (size_t)(r->next - uoff);
			data += skip < len ? skip : len;
			len = skip < len ? len - skip : 0;
			wire_len -= skip;
			uoff = r->next;
		}
	}
}

void reasm_ack(struct reasm *r, uint32_t ack, const struct reasm_limits *lim, const struct reasm_out *out)
{
	if (!r->started || r->done)
		return;
	int64_t off = reasm_rel(r, ack);
	if (off <= 0 || (uint64_t)off > r->next + REASM_JUMP_LIMIT)
		return;
	if (!r->acked_known || (uint64_t)off > r->acked) {
		r->acked = (uint64_t)off;
		r->acked_known = true;
	}
	/* The peer has the bytes of a hole we never saw: it will not be filled. */
	if (r->ooo && r->acked >= r->ooo->off && r->ooo->off > r->next) {
		declare_gap(r, r->ooo->off - r->next, out);
		drain(r, lim, out);
	}
}

void reasm_finish(struct reasm *r, const struct reasm_limits *lim, const struct reasm_out *out)
{
	if (!r->started)
		return;
	while (r->ooo && !r->done) {
		if (r->ooo->off > r->next)
			declare_gap(r, r->ooo->off - r->next, out);
		drain(r, lim, out);
	}
	/* Bytes acknowledged by the peer but never captured. An ack one past
	 * our data may just be the FIN's sequence number: not a gap. */
	if (!r->done && r->acked_known && r->acked > r->next + 1) {
		uint64_t upto = r->acked;
		if (r->fin_known && upto > r->fin_off)
			upto = r->fin_off;
		if (upto > r->next)
			declare_gap(r, upto - r->next, out);
	} else if (!r->done && r->fin_known && r->fin_off > r->next) {
		declare_gap(r, r->fin_off - r->next, out);
	}
	while (r->ooo)
		seg_drop(r, &r->ooo, lim);
	r->done = true;
}
