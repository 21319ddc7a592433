/* flow — the TCP flow table; contract in include/flow.h.
 *
 * Layout: a power-of-two array of bucket heads (chained flows), resized as
 * the table grows, and one LRU list ordered by last activity so that idle
 * expiry and eviction are O(1) per flow. A flow that ended (FIN/RST) moves
 * to a second list, ordered the same way, and stays in the table, closed,
 * for a short linger (cfg.linger_us of capture time), so late ACKs and
 * retransmissions of its packets do not create phantom flows; a new SYN with
 * another ISN replaces it (port reuse). Memory therefore follows the open
 * flows, not every flow of the capture.
 *
 * The bucket of a flow is SipHash-1-3 of its canonical key (both endpoints,
 * the lower first) under a secret key drawn per table, so which tuples
 * collide cannot be known from outside (hash flooding); chains are also
 * bounded (FLOW_CHAIN_MAX, include/flow.h), so even a leaked key buys an
 * attacker at most that many comparisons per packet.
 *
 * TCP checks a passive monitor can make like an endpoint (RFC 9293 §3.10.7,
 * RFC 5961): segments no endpoint accepts (SYN with FIN or RST, no ACK
 * outside the handshake) are dropped (tcp_bad_flags); an RST is applied
 * only if its sequence number is in its receiver's window
 * (tcp_rst_out_of_window otherwise); a SYN with a new ISN on an open flow
 * replaces the flow only once the other side answers it with a SYN-ACK. */
#include "flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "reasm.h"
#include "sbuf.h"
#include "siphash.h"

/* What one direction acknowledges (RFC 9293 §3.3.1), for the RST window
 * check. What it sends is its reassembled stream's (struct reasm). */
struct tcp_track {
	uint32_t rcv_nxt;   /* the last acknowledgement number it sent (its RCV.NXT) */
	uint32_t rcv_wnd;   /* the window it advertised with that ACK, in bytes (scaled) */
	int8_t   wscale;    /* window-scale option of its SYN, -1 if none or no SYN seen */
	uint8_t  wshift;    /* the shift of its window fields (win_shift), kept current */
	bool     ack_known; /* rcv_nxt and rcv_wnd are meaningful */
};

struct flow {
	struct flow *hnext;              /* hash chain */
	struct flow *lru_prev, *lru_next;/* LRU list, head = least recently active */
	uint64_t hash;                   /* hash of the canonical key */
	struct flow_info info;           /* what outputs see */
	struct reasm dir[2];             /* FLOW_C2S, FLOW_S2C */
	uint32_t isn[2];                 /* SYN sequence numbers (if syn_seen) */
	bool     syn_dir[2];             /* a SYN was seen in this direction */
	struct tcp_track trk[2];         /* per direction, for the RST window check */
	/* A SYN with a new ISN on this open flow, waiting for the other side's
	 * SYN-ACK before it replaces the flow (port reuse). */
	bool     reuse_pending;
	uint8_t  reuse_dir;              /* the direction that sent it */
	int8_t   reuse_wscale;           /* its window-scale option */
	uint16_t reuse_window;           /* its window field */
	uint32_t reuse_isn;              /* its sequence number */
	uint64_t reuse_ts;               /* its time stamp */
	void    *app;                    /* application state from hooks.open */
	bool     app_open;               /* hooks.open was called */
	bool     closed;                 /* hooks.close was called; lingering */
};

struct flow_table {
	struct flow_config cfg;
	struct flow_hooks hooks;
	struct flow **buckets;           /* bucket heads */
	size_t nbuckets;                 /* power of two */
	size_t nflows;                   /* flows in the table (open or lingering) */
	struct flow *lru_head, *lru_tail;/* open flows */
	struct flow *lin_head, *lin_tail;/* closed flows lingering, same order */
	size_t nlinger;                  /* flows on the linger list */
	struct siphash_key key;          /* hash key, secret and random per table (hash flooding) */
	uint64_t next_id;
	struct reasm_limits lim;
	struct reasm_pool pool;          /* recent-byte rings for reuse (lim.pool) */
	struct flow_stats st;
	bool     port_set[65536];        /* server ports */
	/* current context for reasm callbacks */
	struct flow *cur;
	int cur_dir;
	uint64_t cur_ts;
};

const char *flow_end_str(enum flow_end e)
{
	switch (e) {
	case FLOW_END_NONE: return "open";
	case FLOW_END_FIN: return "fin";
	case FLOW_END_RST: return "rst";
	case FLOW_END_TIMEOUT: return "timeout";
	case FLOW_END_EOF: return "eof";
	case FLOW_END_EVICTED: return "evicted";
	case FLOW_END_REUSED: return "reused";
	}
	return "?";
}

void flow_config_defaults(struct flow_config *c)
{
	static const uint16_t ports[] = { 25, 587, 2025 };
	memset(c, 0, sizeof *c);
	c->server_ports = ports;
	c->n_server_ports = 3;
	c->idle_timeout_us = 300ull * 1000000;
	c->linger_us = 10ull * 1000000;
	c->linger_max = 2048;
	c->max_flows = 100000;
	c->ooo_bytes_per_dir = 1u << 20;
	c->ooo_segs_per_dir = 1024;
	c->ooo_bytes_total = 64u << 20;
}

/* The bucket hash: SipHash-1-3 of the canonical key, so it does not matter
 * which side sent the packet. IPv4: each endpoint as (address as the host
 * reads it) << 16 | port, 48 bits, the lower one first: 12 bytes, the
 * specialised SipHash (one message word and the final one). IPv6: the 36 bytes address, address, port,
 * port, the lower endpoint (by address, then port) first. */
static uint64_t key_hash(const struct flow_table *t, const struct pkt_view *pv)
{
	if (pv->family != 6) {
		uint32_t s4, d4;
		memcpy(&s4, pv->src, 4);
		memcpy(&d4, pv->dst, 4);
		uint64_t a = (uint64_t)s4 << 16 | pv->sport, b = (uint64_t)d4 << 16 | pv->dport;
		return siphash13_u48x2(&t->key, a < b ? a : b, a < b ? b : a);
	}
	int c = memcmp(pv->src, pv->dst, 16);
	bool src_first = c < 0 || (c == 0 && pv->sport <= pv->dport);
	const uint8_t *lo = src_first ? pv->src : pv->dst, *hi = src_first ? pv->dst : pv->src;
	uint16_t plo = src_first ? pv->sport : pv->dport, phi = src_first ? pv->dport : pv->sport;
	uint8_t k[36];
	memcpy(k, lo, 16);
	memcpy(k + 16, hi, 16);
	k[32] = (uint8_t)(plo >> 8);
	k[33] = (uint8_t)plo;
	k[34] = (uint8_t)(phi >> 8);
	k[35] = (uint8_t)phi;
	return siphash13(&t->key, k, sizeof k);
}

static bool ep_eq(const struct endpoint *e, uint8_t fam, const uint8_t *addr, uint16_t port)
{
	if (e->family != fam || e->port != port)
		return false;
	/* constant sizes: the compiler compares inline */
	return fam == 4 ? !memcmp(e->addr, addr, 4) : !memcmp(e->addr, addr, 16);
}

struct flow_table *flow_table_new(const struct flow_config *cfg, const struct flow_hooks *hooks)
{
	struct flow_table *t = xcalloc(1, sizeof *t);
	t->cfg = *cfg;
	t->hooks = *hooks;
	t->nbuckets = 1024;
	t->buckets = xcalloc(t->nbuckets, sizeof *t->buckets);
	if (cfg->hash_key)
		siphash_key_bytes(&t->key, cfg->hash_key);
	else
		t->st.key_random = siphash_key_random(&t->key) == 0;
	for (size_t i = 0; i < cfg->n_server_ports; i++)
		t->port_set[cfg->server_ports[i]] = true;
	t->lim.pool = &t->pool;
	t->lim.max_bytes = cfg->ooo_bytes_per_dir;
	t->lim.max_segs = cfg->ooo_segs_per_dir;
	t->lim.max_total = cfg->ooo_bytes_total;
	t->lim.total = &t->st.ooo_bytes;
	t->lim.total_peak = &t->st.ooo_bytes_peak;
	return t;
}

/* A flow is on the open list (lru_*) or, once closed, on the linger list
 * (lin_*); f->closed says which. */
static void lru_unlink(struct flow_table *t, struct flow *f)
{
	struct flow **head = f->closed ? &t->lin_head : &t->lru_head;
	struct flow **tail = f->closed ? &t->lin_tail : &t->lru_tail;
	if (f->lru_prev)
		f->lru_prev->lru_next = f->lru_next;
	else
		*head = f->lru_next;
	if (f->lru_next)
		f->lru_next->lru_prev = f->lru_prev;
	else
		*tail = f->lru_prev;
	f->lru_prev = f->lru_next = NULL;
}

static void lru_append(struct flow_table *t, struct flow *f)
{
	struct flow **head = f->closed ? &t->lin_head : &t->lru_head;
	struct flow **tail = f->closed ? &t->lin_tail : &t->lru_tail;
	f->lru_prev = *tail;
	f->lru_next = NULL;
	if (*tail)
		(*tail)->lru_next = f;
	else
		*head = f;
	*tail = f;
}

static void grow(struct flow_table *t)
{
	size_t nb = t->nbuckets * 2;
	struct flow **b = xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct flow *f = t->buckets[i];
		while (f) {
			struct flow *n = f->hnext;
			size_t j = f->hash & (nb - 1);
			f->hnext = b[j];
			b[j] = f;
			f = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

/* reasm delivery callbacks: route to the application hooks. */
static void *app_of(struct flow_table *t, struct flow *f)
{
	if (!f->app_open) {
		f->app_open = true;
		f->app = t->hooks.open ? t->hooks.open(t->hooks.user, &f->info) : NULL;
	}
	return f->app;
}

static void on_data(void *ctx, const uint8_t *p, size_t n)
{
	struct flow_table *t = ctx;
	struct flow *f = t->cur;
	f->info.bytes[t->cur_dir] += n;
	void *app = app_of(t, f);
	if (t->hooks.data)
		t->hooks.data(t->hooks.user, app, t->cur_dir, p, n, t->cur_ts);
}

static void on_gap(void *ctx, uint64_t n)
{
	struct flow_table *t = ctx;
	struct flow *f = t->cur;
	f->info.gap_bytes[t->cur_dir] += n;
	f->info.gaps[t->cur_dir]++;
	void *app = app_of(t, f);
	if (t->hooks.gap)
		t->hooks.gap(t->hooks.user, app, t->cur_dir, n, t->cur_ts);
}

static struct reasm_out out_for(struct flow_table *t, struct flow *f, int dir, uint64_t ts)
{
	t->cur = f;
	t->cur_dir = dir;
	t->cur_ts = ts;
	struct reasm_out o = { on_data, on_gap, t, &f->info.anoms };
	return o;
}

/* End a flow: flush both streams, tell the application. It stays in the
 * table (lingering) until removed. */
static void flow_end(struct flow_table *t, struct flow *f, enum flow_end how, uint64_t ts)
{
	if (f->closed)
		return;
	/* Flush client first: a server reply usually answers the client's bytes. */
	for (int d = 0; d < 2; d++) {
		struct reasm_out o = out_for(t, f, d, ts);
		reasm_finish(&f->dir[d], &t->lim, &o);
	}
	f->info.end = how;
	lru_unlink(t, f);
	f->closed = true;
	lru_append(t, f); /* now on the linger list */
	t->nlinger++;
	if (how == FLOW_END_TIMEOUT)
		anom_raise(&f->info.anoms, ANOM_FLOW_TIMEOUT);
	if (how == FLOW_END_EVICTED)
		anom_raise(&f->info.anoms, ANOM_FLOW_EVICTED);
	if (t->hooks.close)
		t->hooks.close(t->hooks.user, f->app, &f->info, ts);
	f->app = NULL;
	for (int d = 0; d < 2; d++)
		reasm_free(&f->dir[d], &t->lim);
}

static void flow_remove(struct flow_table *t, struct flow *f)
{
	size_t b = f->hash & (t->nbuckets - 1);
	struct flow **pp = &t->buckets[b];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	lru_unlink(t, f);
	if (f->closed)
		t->nlinger--;
	for (int d = 0; d < 2; d++)
		reasm_free(&f->dir[d], &t->lim);
	free(f);
	t->nflows--;
	t->st.flows_open = t->nflows;
}

static void evict_one(struct flow_table *t, uint64_t ts)
{
	/* Prefer a flow that already ended (the longest lingering), then, among
	 * the few least recently active open flows, one that never carried
	 * payload; else the least recently active. */
	struct flow *victim = t->lin_head;
	if (!victim) {
		struct flow *f = t->lru_head;
		victim = f;
		for (int i = 0; f && i < 64; i++, f = f->lru_next) {
			if ((!f->info.bytes[0] && !f->info.bytes[1]) ||
			    (t->hooks.precious && !t->hooks.precious(t->hooks.user, f->app))) {
				victim = f;
				break;
			}
		}
	}
	if (!victim)
		return;
	if (!victim->closed) {
		t->st.flows_evicted++;
		flow_end(t, victim, FLOW_END_EVICTED, ts);
	}
	flow_remove(t, victim);
}

size_t flow_table_shed(struct flow_table *t, size_t n, uint64_t now_us)
{
	size_t done = 0;
	while (done < n && (t->lin_head || t->lru_head)) {
		evict_one(t, now_us);
		done++;
	}
	return done;
}

/* Make room in bucket bi if its chain is full: a closed flow goes first,
 * else the least recently active one (ties: the oldest). */
static void chain_make_room(struct flow_table *t, size_t bi, uint64_t ts)
{
	size_t len = 0;
	struct flow *victim = NULL;
	for (struct flow *g = t->buckets[bi]; g; g = g->hnext, len++) {
		if (!victim || (g->closed && !victim->closed) ||
		    (g->closed == victim->closed && g->info.last_ts_us < victim->info.last_ts_us))
			victim = g;
	}
	if (len < FLOW_CHAIN_MAX || !victim)
		return;
	t->st.chain_evicted++;
	if (!victim->closed) {
		t->st.flows_evicted++;
		flow_end(t, victim, FLOW_END_EVICTED, ts);
	}
	flow_remove(t, victim);
}

static struct flow *flow_create(struct flow_table *t, const struct pkt_view *pv, uint64_t h)
{
	while (t->nlinger > t->cfg.linger_max && t->lin_head) /* linger shorter under pressure */
		flow_remove(t, t->lin_head);
	while (t->cfg.max_flows && t->nflows >= t->cfg.max_flows)
		evict_one(t, pv->ts_us);
	if (2 * (t->nflows + 1) > t->nbuckets) /* load <= 1/2: short chains, fewer cache misses */
		grow(t);
	size_t bi = h & (t->nbuckets - 1);
	chain_make_room(t, bi, pv->ts_us);
	struct flow *f = xcalloc(1, sizeof *f);
	f->hash = h;
	/* Orientation: who sent the SYN; else the side on a server port; else
	 * the lower port is the server. */
	bool src_is_client;
	if ((pv->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		src_is_client = true;
	else if ((pv->flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
		src_is_client = false;
	else if (t->port_set[pv->dport] != t->port_set[pv->sport])
		src_is_client = t->port_set[pv->dport];
	else
		src_is_client = pv->dport < pv->sport;
	struct endpoint a = { pv->family, { 0 }, pv->sport }, b = { pv->family, { 0 }, pv->dport };
	memcpy(a.addr, pv->src, pv->family == 4 ? 4 : 16);
	memcpy(b.addr, pv->dst, pv->family == 4 ? 4 : 16);
	f->info.client = src_is_client ? a : b;
	f->info.server = src_is_client ? b : a;
	f->info.id = ++t->next_id;
	f->info.first_ts_us = pv->ts_us;
	f->info.last_ts_us = pv->ts_us;
	f->trk[0].wscale = f->trk[1].wscale = -1;
	f->trk[0].wshift = f->trk[1].wshift = 14;
	reasm_init(&f->dir[0]);
	reasm_init(&f->dir[1]);
	f->hnext = t->buckets[bi];
	t->buckets[bi] = f;
	lru_append(t, f);
	t->nflows++;
	t->st.flows_total++;
	t->st.flows_open = t->nflows;
	return f;
}

/* ---- TCP checks (RFC 9293 §3.10.7, RFC 5961) --------------------------- */

/* Segments no TCP endpoint takes as data: a SYN with FIN (Linux drops
 * SYN+FIN since 3.4) or with RST, and a segment other than a SYN or an RST
 * without ACK (RFC 9293 §3.10.7.4, fifth check: "if the ACK bit is off,
 * drop the segment"): null, FIN and Xmas scans, injected junk. Their
 * payload must not open an SMTP transaction. */
static bool flags_junk(uint8_t fl)
{
	if (fl & TCP_SYN)
		return (fl & (TCP_FIN | TCP_RST)) != 0;
	return !(fl & (TCP_RST | TCP_ACK));
}

/* The shift to apply to a window field sent by direction d (RFC 7323
 * §2.2-2.3): SYN windows are never scaled; scaling is on only if both SYNs
 * carried the option; shifts above 14 are taken as 14. With the handshake
 * missed the scale is unknown: 14, the widest the field can mean, so a
 * mid-stream flow errs towards accepting. Computed when a SYN is seen, kept
 * in trk[d].wshift. */
static unsigned win_shift(const struct flow *f, int d)
{
	if (!f->syn_dir[0] || !f->syn_dir[1])
		return 14;
	if (f->trk[0].wscale < 0 || f->trk[1].wscale < 0)
		return 0;
	return f->trk[d].wscale > 14 ? 14 : (unsigned)f->trk[d].wscale;
}

/* The sequence number after the last byte of direction d's stream that
 * reached the application in order (its FIN counted): what the capture saw
 * d send, where injected bytes out of order do not count. */
static bool snd_next(const struct flow *f, int d, uint32_t *seq)
{
	const struct reasm *r = &f->dir[d];
	if (!r->started)
		return false;
	*seq = r->base + (uint32_t)r->next + (r->fin_known && r->next >= r->fin_off);
	return true;
}

/* Follow what direction dir acknowledges (its RCV.NXT and RCV.WND). An ACK
 * moves RCV.NXT forward at most past the window it had advertised, or up
 * to bytes the capture saw the other side send (RFC 5961 §5.2: an endpoint
 * ignores an ACK for data never sent), so an injected ACK cannot drag the
 * window to where an injected RST would fit. */
static void win_track(struct flow *f, int dir, const struct pkt_view *pv)
{
	struct tcp_track *me = &f->trk[dir];
	uint32_t wnd = (uint32_t)pv->window << (pv->flags & TCP_SYN ? 0 : me->wshift);
	uint32_t adv = pv->ack - me->rcv_nxt, sent;
	if (adv == 0 || !me->ack_known ||
	    (adv < 0x80000000u && (adv <= (uint64_t)me->rcv_wnd + 1 ||
	                           (snd_next(f, dir ^ 1, &sent) && (int32_t)(sent - pv->ack) >= 0)))) {
		me->rcv_nxt = pv->ack;
		me->rcv_wnd = wnd;
		me->ack_known = true;
	}
}

/* RFC 9293 §3.10.7.4 (first, check the sequence number) and RFC 5961 §3.2:
 * an RST counts only if RCV.NXT <= SEG.SEQ < RCV.NXT + RCV.WND of its
 * receiver (exactly RCV.NXT with a zero window). Also taken: exactly the
 * sender's next sequence number as the capture saw it (the receiver's ACKs
 * may be missing from the capture). Receiver in SYN-SENT (§3.10.7.3): only
 * an RST whose ACK acknowledges the SYN. Nothing acknowledged by the
 * receiver yet (a flow picked up mid-stream): accepted. */
static bool rst_in_window(const struct flow *f, int dir, const struct pkt_view *pv)
{
	const struct tcp_track *rcv = &f->trk[dir ^ 1];
	if (!rcv->ack_known) {
		if (f->syn_dir[dir ^ 1])
			return (pv->flags & TCP_ACK) && pv->ack == f->isn[dir ^ 1] + 1;
		return true;
	}
	uint32_t off = pv->seq - rcv->rcv_nxt, sent;
	if (off == 0 || off < rcv->rcv_wnd)
		return true;
	return snd_next(f, dir, &sent) && pv->seq == sent;
}

/* A SYN (no ACK) from dir on an open flow: is it another connection? Not
 * if it repeats the SYN this flow began with (a retransmission), nor, when
 * that SYN was not captured, if it is the one just before the first byte
 * seen. */
static bool syn_is_new(const struct flow *f, int dir, uint32_t seq)
{
	if (f->syn_dir[dir])
		return seq != f->isn[dir];
	const struct reasm *r = &f->dir[dir];
	return !(r->started && seq + 1 == r->base);
}

/* One segment of flow f, direction dir. */
static void segment_in(struct flow_table *t, struct flow *f, int dir, const struct pkt_view *pv)
{
	bool syn = pv->flags & TCP_SYN;
	f->info.last_ts_us = pv->ts_us;
	f->info.pkts[dir]++;
	if (t->lru_tail != f) {
		lru_unlink(t, f);
		lru_append(t, f);
	}
	struct reasm *r = &f->dir[dir];
	if (syn) {
		if (!f->syn_dir[dir]) {
			f->syn_dir[dir] = true;
			f->isn[dir] = pv->seq;
			f->trk[dir].wscale = pv->wscale;
			f->trk[0].wshift = (uint8_t)win_shift(f, 0);
			f->trk[1].wshift = (uint8_t)win_shift(f, 1);
		}
		if (!(pv->flags & TCP_ACK))
			f->info.syn_seen = true;
		else if (f->syn_dir[dir ^ 1])
			f->info.syn_seen = true;
		reasm_syn(r, pv->seq);
	}
	if (pv->flags & TCP_RST) {
		/* Data on an RST is diagnostic text (RFC 9293 §3.5.3), never
		 * stream bytes: dropped, whether the RST counts or not. */
		if (pv->payload_wire_len)
			anom_raise(&f->info.anoms, ANOM_TCP_BAD_FLAGS);
		if (!rst_in_window(f, dir, pv)) {
			anom_raise(&f->info.anoms, ANOM_TCP_RST_OUT_OF_WINDOW);
			return;
		}
		flow_end(t, f, FLOW_END_RST, pv->ts_us);
		return;
	}
	/* The ACK first: it may declare a hole of the other direction a gap and
	 * deliver what was queued behind it, which came before this segment's
	 * bytes (a reply answers the data it acknowledges). */
	if (pv->flags & TCP_ACK) {
		win_track(f, dir, pv);
		struct reasm *peer = &f->dir[dir ^ 1];
		struct reasm_out po = out_for(t, f, dir ^ 1, pv->ts_us);
		reasm_ack(peer, pv->ack, &t->lim, &po);
	}
	struct reasm_out o = out_for(t, f, dir, pv->ts_us);
	uint32_t seq = syn ? pv->seq + 1 : pv->seq;
	reasm_segment(r, seq, pv->payload, pv->payload_len, pv->payload_wire_len,
	              pv->flags & TCP_FIN, &t->lim, &o);
	if (pv->flags & TCP_FIN)
		f->info.fin[dir] = true;
	if (f->dir[0].done && f->dir[1].done && f->info.fin[0] && f->info.fin[1])
		flow_end(t, f, FLOW_END_FIN, pv->ts_us);
}

static int dir_of(const struct flow *f, const struct pkt_view *pv)
{
	return ep_eq(&f->info.client, pv->family, pv->src, pv->sport) &&
	               ep_eq(&f->info.server, pv->family, pv->dst, pv->dport)
	           ? FLOW_C2S
	           : FLOW_S2C;
}

void flow_table_packet(struct flow_table *t, const struct pkt_view *pv)
{
	t->st.segments++;
	if (!t->cfg.all_ports && !t->port_set[pv->sport] && !t->port_set[pv->dport]) {
		t->st.ignored++;
		return;
	}
	uint64_t h = key_hash(t, pv);
	struct flow *f = t->buckets[h & (t->nbuckets - 1)];
	int dir = -1;
	uint64_t steps = 0;
	for (; f; f = f->hnext) {
		steps++;
		if (f->hash != h)
			continue;
		if (ep_eq(&f->info.client, pv->family, pv->src, pv->sport) &&
		    ep_eq(&f->info.server, pv->family, pv->dst, pv->dport)) {
			dir = FLOW_C2S;
			break;
		}
		if (ep_eq(&f->info.server, pv->family, pv->src, pv->sport) &&
		    ep_eq(&f->info.client, pv->family, pv->dst, pv->dport)) {
			dir = FLOW_S2C;
			break;
		}
	}
	t->st.lookups++;
	t->st.chain_steps += steps;
	if (steps > t->st.chain_max)
		t->st.chain_max = steps;
	if (flags_junk(pv->flags)) {
		anom_raise(f ? &f->info.anoms : NULL, ANOM_TCP_BAD_FLAGS);
		return;
	}
	bool syn = pv->flags & TCP_SYN, ack = pv->flags & TCP_ACK;
	if (f && f->closed) {
		/* A fresh SYN on a finished flow's tuple is a new connection. */
		bool new_conn = syn && !ack && !(f->syn_dir[dir] && f->isn[dir] == pv->seq);
		if (!new_conn) {
			f->info.last_ts_us = pv->ts_us;
			if (t->lin_tail != f) { /* keep the linger list in activity order */
				lru_unlink(t, f);
				lru_append(t, f);
			}
			if (pv->payload_wire_len && !(pv->flags & TCP_RST))
				anom_raise(&f->info.anoms, f->info.end == FLOW_END_RST ? ANOM_TCP_DATA_AFTER_RST
				                                                      : ANOM_TCP_DATA_AFTER_FIN);
			return;
		}
		flow_remove(t, f);
		f = NULL;
	}
	if (f && syn && !ack && syn_is_new(f, dir, pv->seq)) {
		/* Another connection on an open flow's tuple (its FINs were not
		 * captured), or an injected SYN, which an endpoint answers with a
		 * challenge ACK (RFC 5961 §4.2) and which must not end the flow:
		 * remembered until the other side's SYN-ACK confirms it. Its data
		 * (TCP Fast Open) is not kept. */
		f->reuse_pending = true;
		f->reuse_dir = (uint8_t)dir;
		f->reuse_isn = pv->seq;
		f->reuse_window = pv->window;
		f->reuse_wscale = pv->wscale;
		f->reuse_ts = pv->ts_us;
		return;
	}
	if (f && syn && ack && f->reuse_pending && dir != f->reuse_dir && pv->ack == f->reuse_isn + 1) {
		/* The SYN-ACK: the old connection is gone ("TCP port numbers
		 * reused" to tshark). End it and replay the SYN on a new flow. */
		struct pkt_view s = *pv;
		memcpy(s.src, pv->dst, sizeof s.src);
		memcpy(s.dst, pv->src, sizeof s.dst);
		s.sport = pv->dport;
		s.dport = pv->sport;
		s.seq = f->reuse_isn;
		s.ack = 0;
		s.flags = TCP_SYN;
		s.window = f->reuse_window;
		s.wscale = f->reuse_wscale;
		s.mss = 0;
		s.payload = NULL;
		s.payload_len = s.payload_wire_len = 0;
		s.ts_us = f->reuse_ts < pv->ts_us ? f->reuse_ts : pv->ts_us;
		flow_end(t, f, FLOW_END_REUSED, pv->ts_us);
		flow_remove(t, f);
		f = flow_create(t, &s, h);
		segment_in(t, f, FLOW_C2S, &s);
		dir = dir_of(f, pv);
	}
	if (!f) {
		f = flow_create(t, pv, h);
		dir = dir_of(f, pv);
		if (!syn) {
			f->info.syn_seen = false;
			anom_raise(&f->info.anoms, ANOM_TCP_MIDSTREAM);
		}
	}
	segment_in(t, f, dir, pv);
}

void flow_table_expire(struct flow_table *t, uint64_t now_us)
{
	while (t->lru_head && t->lru_head->info.last_ts_us + t->cfg.idle_timeout_us < now_us) {
		struct flow *f = t->lru_head;
		flow_end(t, f, FLOW_END_TIMEOUT, now_us);
		flow_remove(t, f);
	}
	uint64_t linger = t->cfg.linger_us < t->cfg.idle_timeout_us ? t->cfg.linger_us : t->cfg.idle_timeout_us;
	while (t->lin_head && t->lin_head->info.last_ts_us + linger < now_us)
		flow_remove(t, t->lin_head);
}

static int flow_cmp_id(const void *a, const void *b)
{
	const struct flow *x = *(struct flow *const *)a, *y = *(struct flow *const *)b;
	return x->info.id < y->info.id ? -1 : x->info.id > y->info.id;
}

void flow_table_close_all(struct flow_table *t, uint64_t now_us)
{
	/* In creation order, so outputs list flows as they began. */
	struct flow **v = xmalloc((t->nflows ? t->nflows : 1) * sizeof *v);
	size_t n = 0;
	for (struct flow *f = t->lru_head; f; f = f->lru_next)
		v[n++] = f;
	for (struct flow *f = t->lin_head; f; f = f->lru_next)
		v[n++] = f;
	qsort(v, n, sizeof *v, flow_cmp_id);
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->closed)
			flow_end(t, v[i], FLOW_END_EOF, now_us);
		flow_remove(t, v[i]);
	}
	free(v);
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	const char *e = getenv("SMTPSCOPE_FLOW_STATS"); /* diagnostics (tests/repro/b02_hash_flood.py) */
	if (e && *e == '1')
		fprintf(stderr, "flow: flows %llu, lookups %llu, chain steps %llu, longest chain %llu, chain evictions %llu, key %s\n",
		        (unsigned long long)t->st.flows_total, (unsigned long long)t->st.lookups,
		        (unsigned long long)t->st.chain_steps, (unsigned long long)t->st.chain_max,
		        (unsigned long long)t->st.chain_evicted, t->st.key_random ? "random" : "fixed or fallback");
	while (t->lru_head)
		flow_remove(t, t->lru_head);
	while (t->lin_head)
		flow_remove(t, t->lin_head);
	while (t->pool.n)
		free(t->pool.v[--t->pool.n]);
	free(t->buckets);
	free(t);
}

void flow_table_stats(const struct flow_table *t, struct flow_stats *out)
{
	*out = t->st;
}
