/* reasm — one TCP byte stream (one direction of a flow).
 *
 * Positions are 64-bit offsets relative to the first data byte (ISN + 1, or
 * the first sequence number seen when the handshake was missed); 32-bit
 * sequence arithmetic happens only in reasm_rel(), so wrap-around never
 * reaches the rest of the program (Zeek's approach).
 *
 * In-order data is delivered straight from the caller's buffer (zero-copy,
 * no allocation). Out-of-order data is copied into a sorted queue bounded
 * per stream (bytes and segments) and globally; when a cap is hit, or the
 * peer acknowledges bytes beyond a hole, or the stream ends, the hole becomes
 * a reported gap and delivery resumes after it. Overlaps: first data wins;
 * differing bytes raise tcp_overlap_conflict. A small ring of the most
 * recently delivered bytes lets retransmissions of already-delivered data be
 * compared too. */
#ifndef SMTPSCOPE_REASM_H
#define SMTPSCOPE_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"

#define REASM_RECENT        2048              /* delivered bytes kept to compare retransmissions */
#define REASM_JUMP_LIMIT    (64ull << 20)     /* a segment further ahead than this is ignored */

struct reasm_seg;

/* Recent-byte rings given back by ended streams, for the next ones (a
 * malloc and a free of 2 KiB per stream direction otherwise). */
#define REASM_POOL_MAX 256
struct reasm_pool {
	uint8_t *v[REASM_POOL_MAX];
	size_t n;
};

struct reasm_limits {
	size_t    max_bytes;   /* out-of-order bytes per stream */
	size_t    max_segs;    /* out-of-order segments per stream */
	size_t    max_total;   /* out-of-order bytes over all streams */
	uint64_t *total;       /* the shared counter for max_total (may be NULL) */
	uint64_t *total_peak;  /* its high-water mark (may be NULL) */
	struct reasm_pool *pool; /* rings for reuse (may be NULL) */
};

/* Where delivered bytes go. data() bytes are borrowed for the call. */
struct reasm_out {
	void (*data)(void *ctx, const uint8_t *p, size_t n);
	void (*gap)(void *ctx, uint64_t n);
	void *ctx;
	struct anom_set *anoms; /* the flow's anomaly set (may be NULL) */
};

struct reasm {
	uint32_t base;          /* sequence number of offset 0 */
	bool     started;       /* base is known */
	bool     fin_known;     /* a FIN was seen */
	bool     done;          /* all bytes up to the FIN delivered, or reset */
	uint64_t next;          /* offset of the next byte to deliver */
	uint64_t fin_off;       /* offset of the FIN */
	uint64_t acked;         /* highest offset the peer acknowledged (0 if none) */
	bool     acked_known;   /* acked is meaningful */
	struct reasm_seg *ooo;  /* out-of-order queue, sorted, non-overlapping */
	uint32_t ooo_n;         /* segments in the queue */
	size_t   ooo_bytes;     /* bytes in the queue */
	uint8_t *recent;        /* ring of the last REASM_RECENT delivered bytes (lazy) */
	uint64_t recent_from;   /* lowest offset whose byte the ring still holds */
	uint64_t delivered;     /* bytes delivered (excluding gaps) */
	uint64_t gap_bytes;     /* bytes declared missing */
	uint32_t gaps;          /* gaps declared */
};

void reasm_init(struct reasm *r);
void reasm_free(struct reasm *r, const struct reasm_limits *lim);
/* A SYN with sequence number isn: data starts at isn + 1. */
void reasm_syn(struct reasm *r, uint32_t isn);
/* Offset of seq relative to base (may be negative for data before base). */
int64_t reasm_rel(const struct reasm *r, uint32_t seq);
/* A segment: seq, its captured data, fin flag. wire_len >= len when the
 * capture cut the payload; the missing tail becomes a gap. */
void reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *data, size_t len, size_t wire_len,
                   bool fin, const struct reasm_limits *lim, const struct reasm_out *out);
/* The peer acknowledged everything before sequence number ack. */
void reasm_ack(struct reasm *r, uint32_t ack, const struct reasm_limits *lim, const struct reasm_out *out);
/* The stream ends (FIN both ways, RST, timeout, end of capture): deliver what
 * is queued, declaring holes (and bytes acked but never seen) as gaps. */
void reasm_finish(struct reasm *r, const struct reasm_limits *lim, const struct reasm_out *out);

#endif
