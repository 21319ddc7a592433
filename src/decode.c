/* decode — link, network and transport decoding into borrowed views.
 * Contract in include/decode.h. Every wire read goes through struct rd.
 *
 * References: IEEE 802.1Q/802.1ad (VLAN tags), RFC 791 (IPv4), RFC 8200
 * (IPv6 and its extension headers), RFC 9293 (TCP), tcpdump's linktypes
 * page for SLL/SLL2/NULL/LOOP. */
#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "rd.h"
#include "sbuf.h"

/* DLT values as libpcap reports them (pcap/dlt.h), kept here so that only the
 * capture module includes <pcap.h>. */
enum {
	DLT_NULL_ = 0,
	DLT_EN10MB_ = 1,
	DLT_RAW_A = 12,   /* DLT_RAW on most systems */
	DLT_RAW_B = 14,   /* DLT_RAW on OpenBSD */
	DLT_RAW_C = 101,  /* LINKTYPE_RAW */
	DLT_LOOP_ = 108,
	DLT_LINUX_SLL_ = 113,
	DLT_IPV4_ = 228,
	DLT_IPV6_ = 229,
	DLT_LINUX_SLL2_ = 276,
};

enum { ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd, ETH_VLAN = 0x8100, ETH_QINQ = 0x88a8,
       ETH_QINQ_OLD = 0x9100, ETH_MPLS = 0x8847, ETH_MPLS_MC = 0x8848, ETH_PPPOE = 0x8864 };

enum { IPPROTO_TCP_ = 6 };

#define DECODE_MAX_VLAN    4   /* tags followed before giving up */
#define DECODE_MAX_MPLS    8   /* labels followed */
#define DECODE_MAX_V6EXT   8   /* IPv6 extension headers followed */

/* ---- IP fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5) ----------------
 * A small fixed table of datagrams in progress. Each holds a buffer of up to
 * FRAG_MAX_DATAGRAM bytes and a bitmap of the 8-byte blocks received.
 * Limits: FRAG_SLOTS datagrams at once (the oldest is dropped for a new one),
 * FRAG_TIMEOUT_US without completion drops a datagram. Overlaps keep the
 * first data (anomaly ip_frag_overlap). */
#define FRAG_SLOTS         64
#define FRAG_MAX_DATAGRAM  65535
#define FRAG_TIMEOUT_US    (30ull * 1000000)

struct frag_slot {
	bool     used;                       /* slot holds a datagram in progress */
	uint8_t  family;                     /* 4 or 6 */
	uint8_t  src[16], dst[16];           /* addresses */
	uint32_t id;                         /* IPv4 id or IPv6 fragment id */
	uint8_t  proto;                      /* transport protocol */
	uint64_t first_ts;                   /* first fragment seen */
	uint32_t total;                      /* payload length once the last fragment is seen, else 0 */
	uint32_t have;                       /* bytes received (not counting overlaps) */
	uint8_t  *buf;                       /* FRAG_MAX_DATAGRAM bytes, allocated on first use */
	uint8_t  map[FRAG_MAX_DATAGRAM / 8 / 8 + 1]; /* bit per 8-byte block */
};

struct decoder {
	int linktype;                     /* DLT of the frames */
	struct decode_stats st;           /* counters */
	struct frag_slot frags[FRAG_SLOTS];
	uint8_t *dgram;                   /* reassembled datagram handed out (valid until next call) */
	uint32_t n_vlan;                  /* VLAN tags of the current frame */
	uint16_t vlan[2];
};

bool decoder_linktype_supported(int lt)
{
	switch (lt) {
	case DLT_NULL_: case DLT_EN10MB_: case DLT_RAW_A: case DLT_RAW_B: case DLT_RAW_C:
	case DLT_LOOP_: case DLT_LINUX_SLL_: case DLT_IPV4_: case DLT_IPV6_: case DLT_LINUX_SLL2_:
		return true;
	default:
		return false;
	}
}

struct decoder *decoder_new(int linktype)
{
	struct decoder *d = xcalloc(1, sizeof *d);
	d->linktype = linktype;
	return d;
}

void decoder_free(struct decoder *d)
{
	if (!d)
		return;
	for (int i = 0; i < FRAG_SLOTS; i++)
		free(d->frags[i].buf);
	free(d->dgram);
	free(d);
}

void decoder_set_linktype(struct decoder *d, int linktype)
{
	d->linktype = linktype;
}

const struct decode_stats *decoder_stats(const struct decoder *d)
{
	return &d->st;
}

static enum decode_result bad(struct decoder *d, enum anom_id a)
{
	anom_raise(NULL, a);
	d->st.bad++;
	return DECODE_BAD;
}

/* TCP header (RFC 9293 §3.1) and options (§3.2). p/n is the IP payload as
 * captured, wire_n its length per the IP header. */
static enum decode_result decode_tcp(struct decoder *d, const uint8_t *p, size_t n, size_t wire_n,
                                     struct pkt_view *o)
{
	if (n < 20) /* the fixed header: checked once, then read at fixed offsets */
		return bad(d, ANOM_FRAME_TRUNCATED);
	o->sport = be16_at(p);
	o->dport = be16_at(p + 2);
	o->seq = be32_at(p + 4);
	o->ack = be32_at(p + 8);
	uint8_t off = p[12] >> 4;
	o->flags = p[13] & 0x3f;
	o->window = be16_at(p + 14);
	/* checksum, urgent pointer (16..19): not verified (offload) */
	struct rd r = rd_make(p + 20, n - 20);
	size_t hlen = (size_t)off * 4;
	if (hlen < 20 || (wire_n && hlen > wire_n))
		return bad(d, ANOM_TCP_BAD_HEADER);
	o->mss = 0;
	o->wscale = -1;
	struct rd opt = rd_make(r.p, hlen - 20 <= rd_left(&r) ? hlen - 20 : rd_left(&r));
	while (rd_left(&opt) > 0) {
		uint8_t kind = rd_u8(&opt);
		if (kind == 0)
			break;
		if (kind == 1)
			continue;
		uint8_t len = rd_u8(&opt);
		if (opt.err || len < 2 || (size_t)(len - 2) > rd_left(&opt)) {
			anom_raise(NULL, ANOM_TCP_BAD_OPTIONS);
			break;
		}
		if (kind == 2 && len == 4)
			o->mss = rd_be16(&opt);
		else if (kind == 3 && len == 3)
			o->wscale = (int8_t)(rd_u8(&opt) & 0x1f);
		else
			rd_skip(&opt, len - 2u);
	}
	if (hlen > n) {
		/* header itself cut by the snaplen: no payload bytes at all */
		o->payload = p + n;
		o->payload_len = 0;
	} else {
		o->payload = p + hlen;
		o->payload_len = (uint32_t)(n - hlen);
	}
	o->payload_wire_len = wire_n >= hlen ? (uint32_t)(wire_n - hlen) : o->payload_len;
	if (o->payload_wire_len < o->payload_len)
		o->payload_wire_len = o->payload_len;
	if (o->payload_wire_len > o->payload_len)
		anom_raise(NULL, ANOM_PAYLOAD_TRUNCATED);
	d->st.tcp++;
	if (o->family == 6)
		d->st.ipv6++;
	if (o->n_vlan)
		d->st.vlan++;
	return DECODE_TCP;
}

/* Find or make the slot for a fragment. */
static struct frag_slot *frag_slot_get(struct decoder *d, uint8_t fam, const uint8_t *src,
                                       const uint8_t *dst, uint32_t id, uint8_t proto, uint64_t ts)
{
	size_t alen = fam == 4 ? 4 : 16;
	struct frag_slot *free_slot = NULL, *oldest = NULL;
	for (int i = 0; i < FRAG_SLOTS; i++) {
		struct frag_slot *s = &d->frags[i];
		if (s->used && ts > s->first_ts + FRAG_TIMEOUT_US) {
			s->used = false; /* timed out */
			anom_raise(NULL, ANOM_IP_FRAG_DROPPED);
		}
		if (!s->used) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (s->family == fam && s->id == id && s->proto == proto &&
		    !memcmp(s->src, src, alen) && !memcmp(s->dst, dst, alen))
			return s;
		if (!oldest || s->first_ts < oldest->first_ts)
			oldest = s;
	}
	struct frag_slot *s = free_slot;
	if (!s) {
		s = oldest;
		anom_raise(NULL, ANOM_IP_FRAG_DROPPED);
	}
	if (!s->buf)
		s->buf = xmalloc(FRAG_MAX_DATAGRAM);
	s->used = true;
	s->family = fam;
	memset(s->src, 0, sizeof s->src);
	memset(s->dst, 0, sizeof s->dst);
	memcpy(s->src, src, alen);
	memcpy(s->dst, dst, alen);
	s->id = id;
	s->proto = proto;
	s->first_ts = ts;
	s->total = 0;
	s->have = 0;
	memset(s->map, 0, sizeof s->map);
	return s;
}

/* Add fragment data at byte offset off. Returns the completed length, or 0. */
static uint32_t frag_add(struct decoder *d, struct frag_slot *s, uint32_t off, const uint8_t *p,
                         size_t n, bool more)
{
	(void)d;
	if ((size_t)off + n > FRAG_MAX_DATAGRAM || (more && (n % 8) != 0)) {
		s->used = false;
		anom_raise(NULL, ANOM_IP_FRAG_DROPPED);
		return 0;
	}
	if (!more) {
		uint32_t total = off + (uint32_t)n;
		if (s->total && s->total != total) {
			s->used = false;
			anom_raise(NULL, ANOM_IP_FRAG_DROPPED);
			return 0;
		}
		s->total = total;
	}
	bool overlap = false;
	for (uint32_t b = off / 8; b * 8 < off + n; b++) {
		uint32_t bs = b * 8, be = bs + 8;
		uint32_t cs = bs > off ? bs : off;
		uint32_t ce = be < off + n ? be : off + (uint32_t)n;
		if (s->map[b / 8] & (1u << (b % 8))) {
			if (memcmp(s->buf + cs, p + (cs - off), ce - cs) != 0)
				overlap = true;
			continue; /* first data wins */
		}
		memcpy(s->buf + cs, p + (cs - off), ce - cs);
		s->have += ce - cs;
		if (ce == be || (!more && ce == off + n))
			s->map[b / 8] |= (uint8_t)(1u << (b % 8));
	}
	if (overlap)
		anom_raise(NULL, ANOM_IP_FRAG_OVERLAP);
	if (s->total && s->have >= s->total) {
		/* verify every block is present */
		for (uint32_t b = 0; b * 8 < s->total; b++)
			if (!(s->map[b / 8] & (1u << (b % 8))))
				return 0;
		return s->total;
	}
	return 0;
}

static enum decode_result frag_complete(struct decoder *d, struct frag_slot *s, uint32_t len,
                                        struct pkt_view *o)
{
	if (!d->dgram)
		d->dgram = xmalloc(FRAG_MAX_DATAGRAM);
	memcpy(d->dgram, s->buf, len);
	s->used = false;
	d->st.reassembled++;
	return decode_tcp(d, d->dgram, len, len, o);
}

/* IPv4, RFC 791 §3.1. */
static enum decode_result decode_ipv4(struct decoder *d, const uint8_t *p, size_t n, struct pkt_view *o)
{
	if (n < 20) /* the fixed header: checked once, then read at fixed offsets */
		return bad(d, ANOM_FRAME_TRUNCATED);
	uint8_t vihl = p[0];
	uint16_t totlen = be16_at(p + 2);
	uint16_t id = be16_at(p + 4);
	uint16_t fragw = be16_at(p + 6);
	uint8_t proto = p[9];
	memcpy(o->src, p + 12, 4);
	memcpy(o->dst, p + 16, 4);
	size_t ihl = (size_t)(vihl & 15) * 4;
	if ((vihl >> 4) != 4 || ihl < 20 || ihl > n)
		return bad(d, ihl > n ? ANOM_FRAME_TRUNCATED : ANOM_IPV4_BAD_HEADER);
	o->family = 4;
	/* totlen 0 happens with TCP segmentation offload on the capturing host. */
	size_t wire = totlen ? totlen : n;
	if (wire < ihl)
		return bad(d, ANOM_IPV4_BAD_HEADER);
	size_t avail = n < wire ? n : wire; /* trims Ethernet padding */
	bool more = fragw & 0x2000;
	uint32_t foff = (uint32_t)(fragw & 0x1fff) * 8;
	if (more || foff) {
		d->st.fragments++;
		anom_raise(NULL, ANOM_IP_FRAGMENT);
		if (proto != IPPROTO_TCP_) {
			d->st.other++;
			return DECODE_OTHER;
		}
		if (avail < wire)
			return bad(d, ANOM_IP_FRAG_DROPPED); /* a cut fragment cannot be used */
		struct frag_slot *s = frag_slot_get(d, 4, o->src, o->dst, id, proto, o->ts_us);
		uint32_t len = frag_add(d, s, foff, p + ihl, wire - ihl, more);
		if (!len)
			return DECODE_FRAGMENT;
		return frag_complete(d, s, len, o);
	}
	if (proto != IPPROTO_TCP_) {
		d->st.other++;
		return DECODE_OTHER;
	}
	return decode_tcp(d, p + ihl, avail - ihl, wire - ihl, o);
}

/* IPv6, RFC 8200 §3 and §4 (extension headers). */
static enum decode_result decode_ipv6(struct decoder *d, const uint8_t *p, size_t n, struct pkt_view *o)
{
	struct rd r = rd_make(p, n);
	uint32_t vtf = rd_be32(&r);
	uint16_t plen = rd_be16(&r);
	uint8_t nh = rd_u8(&r);
	rd_skip(&r, 1);
	rd_copy(&r, o->src, 16);
	rd_copy(&r, o->dst, 16);
	if (r.err)
		return bad(d, ANOM_FRAME_TRUNCATED);
	if ((vtf >> 28) != 6)
		return bad(d, ANOM_IPV6_BAD_HEADER);
	o->family = 6;
	size_t wire = plen ? plen : n - 40; /* 0: jumbogram or offload */
	size_t avail = n - 40 < wire ? n - 40 : wire;
	struct rd e = rd_make(p + 40, avail);
	size_t consumed = 0;
	bool frag = false, more = false;
	uint32_t foff = 0, fid = 0;
	for (int i = 0;; i++) {
		if (nh == IPPROTO_TCP_)
			break;
		if (i >= DECODE_MAX_V6EXT)
			return bad(d, ANOM_IPV6_EXT_TOO_MANY);
		switch (nh) {
		case 0:   /* hop-by-hop */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */ {
			uint8_t next = rd_u8(&e);
			uint8_t len = rd_u8(&e);
			rd_skip(&e, (size_t)len * 8 + 6);
			consumed += (size_t)len * 8 + 8;
			nh = next;
			break;
		}
		case 51: { /* AH: length in 4-octet units minus 2 (RFC 4302 §2.2) */
			uint8_t next = rd_u8(&e);
			uint8_t len = rd_u8(&e);
			rd_skip(&e, ((size_t)len + 2) * 4 - 2);
			consumed += ((size_t)len + 2) * 4;
			nh = next;
			break;
		}
		case 44: { /* fragment */
			uint8_t next = rd_u8(&e);
			rd_skip(&e, 1);
			uint16_t w = rd_be16(&e);
			fid = rd_be32(&e);
			consumed += 8;
			frag = true;
			more = w & 1;
			foff = (uint32_t)(w >> 3) * 8;
			nh = next;
			break;
		}
		default:
			d->st.other++;
			return DECODE_OTHER; /* ESP, no-next-header, UDP, ICMPv6, ... */
		}
		if (e.err)
			return bad(d, ANOM_IPV6_BAD_HEADER);
		if (frag)
			break;
	}
	if (consumed > wire)
		return bad(d, ANOM_IPV6_BAD_HEADER);
	if (frag) {
		d->st.fragments++;
		anom_raise(NULL, ANOM_IP_FRAGMENT);
		if (!more && foff == 0) {
			/* atomic fragment (RFC 6946): treat as a whole datagram */
		} else {
			if (avail < wire)
				return bad(d, ANOM_IP_FRAG_DROPPED);
			/* Only the unfragmentable part precedes; nh names the fragmentable
			 * part's first header. We reassemble only when it is TCP directly. */
			if (nh != IPPROTO_TCP_) {
				d->st.other++;
				return DECODE_OTHER;
			}
			struct frag_slot *s = frag_slot_get(d, 6, o->src, o->dst, fid, nh, o->ts_us);
			uint32_t len = frag_add(d, s, foff, e.p, wire - consumed, more);
			if (!len)
				return DECODE_FRAGMENT;
			return frag_complete(d, s, len, o);
		}
		if (nh != IPPROTO_TCP_) {
			d->st.other++;
			return DECODE_OTHER;
		}
	}
	return decode_tcp(d, e.p, avail - consumed, wire - consumed, o);
}

static enum decode_result decode_ip_by_version(struct decoder *d, const uint8_t *p, size_t n,
                                               struct pkt_view *o)
{
	if (n < 1)
		return bad(d, ANOM_FRAME_TRUNCATED);
	switch (p[0] >> 4) {
	case 4: return decode_ipv4(d, p, n, o);
	case 6: return decode_ipv6(d, p, n, o);
	default:
		d->st.other++;
		return DECODE_OTHER;
	}
}

static enum decode_result decode_ethertype(struct decoder *d, uint16_t type, struct rd *r,
                                           struct pkt_view *o)
{
	/* VLAN tags: 802.1Q 0x8100, 802.1ad 0x88a8, pre-standard QinQ 0x9100 */
	while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
		if (o->n_vlan >= DECODE_MAX_VLAN)
			return bad(d, ANOM_VLAN_TOO_DEEP);
		uint16_t tci = rd_be16(r);
		type = rd_be16(r);
		if (r->err)
			return bad(d, ANOM_FRAME_TRUNCATED);
		if (o->n_vlan < 2)
			o->vlan[o->n_vlan] = tci & 0x0fff;
		o->n_vlan++;
	}
	switch (type) {
	case ETH_IPV4: return decode_ipv4(d, r->p, rd_left(r), o);
	case ETH_IPV6: return decode_ipv6(d, r->p, rd_left(r), o);
	case ETH_MPLS:
	case ETH_MPLS_MC: /* RFC 3032: pop labels to bottom of stack, guess IP by version */
		for (int i = 0; i < DECODE_MAX_MPLS; i++) {
			uint32_t lse = rd_be32(r);
			if (r->err)
				return bad(d, ANOM_FRAME_TRUNCATED);
			if (lse & 0x100)
				return decode_ip_by_version(d, r->p, rd_left(r), o);
		}
		return bad(d, ANOM_VLAN_TOO_DEEP);
	case ETH_PPPOE: { /* RFC 2516 session: ver/type, code, session, length, PPP proto */
		rd_skip(r, 6);
		uint16_t ppp = rd_be16(r);
		if (r->err)
			return bad(d, ANOM_FRAME_TRUNCATED);
		if (ppp == 0x0021)
			return decode_ipv4(d, r->p, rd_left(r), o);
		if (ppp == 0x0057)
			return decode_ipv6(d, r->p, rd_left(r), o);
		d->st.other++;
		return DECODE_OTHER;
	}
	default:
		anom_raise(NULL, ANOM_ETHERTYPE_OTHER);
		d->st.other++;
		return DECODE_OTHER;
	}
}

enum decode_result decoder_frame(struct decoder *d, const uint8_t *frame, uint32_t caplen,
                                 uint32_t wirelen, uint64_t ts_us, struct pkt_view *o)
{
	(void)wirelen;
	d->st.frames++;
	memset(o, 0, offsetof(struct pkt_view, payload));
	o->ts_us = ts_us;
	struct rd r = rd_make(frame, caplen);
	switch (d->linktype) {
	case DLT_EN10MB_: {
		rd_skip(&r, 12);
		uint16_t type = rd_be16(&r);
		if (r.err)
			return bad(d, ANOM_FRAME_TRUNCATED);
		if (type < 0x0600) { /* 802.3 length: LLC, not IP over Ethernet II */
			d->st.other++;
			return DECODE_OTHER;
		}
		return decode_ethertype(d, type, &r, o);
	}
	case DLT_LINUX_SLL_: { /* 16-byte header; protocol last */
		rd_skip(&r, 14);
		uint16_t type = rd_be16(&r);
		if (r.err)
			return bad(d, ANOM_FRAME_TRUNCATED);
		return decode_ethertype(d, type, &r, o);
	}
	case DLT_LINUX_SLL2_: { /* 20-byte header; protocol first */
		uint16_t type = rd_be16(&r);
		rd_skip(&r, 18);
		if (r.err)
			return bad(d, ANOM_FRAME_TRUNCATED);
		return decode_ethertype(d, type, &r, o);
	}
	case DLT_NULL_:
	case DLT_LOOP_: {
		/* 4-byte address family: host order of the capturing machine for
		 * NULL, network order for LOOP. AF_INET is 2 everywhere; AF_INET6 is
		 * 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS). */
		uint32_t be = rd_be32(&r);
		if (r.err)
			return bad(d, ANOM_FRAME_TRUNCATED);
		uint32_t le = __builtin_bswap32(be);
		uint32_t fam = (be < 256) ? be : le;
		if (d->linktype == DLT_LOOP_)
			fam = be;
		if (fam == 2)
			return decode_ipv4(d, r.p, rd_left(&r), o);
		if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
			return decode_ipv6(d, r.p, rd_left(&r), o);
		d->st.other++;
		return DECODE_OTHER;
	}
	case DLT_RAW_A:
	case DLT_RAW_B:
	case DLT_RAW_C:
		return decode_ip_by_version(d, frame, caplen, o);
	case DLT_IPV4_:
		return decode_ipv4(d, frame, caplen, o);
	case DLT_IPV6_:
		return decode_ipv6(d, frame, caplen, o);
	default:
		return bad(d, ANOM_LINK_UNSUPPORTED);
	}
}
