/* libFuzzer target: one TCP stream's reassembly (src/reasm.c).
 *
 * Input: records { u8 op, u32 seq, u16 len, len bytes }:
 *   op & 3 == 0: a data segment (op & 4: FIN; op & 8: the capture cut it, its
 *                wire length is len + (op >> 4) * 64)
 *   op & 3 == 1: a SYN with ISN seq
 *   op & 3 == 2: an ACK from the peer up to seq
 *   op & 3 == 3: a data segment with FIN, then an ACK to seq + len + 1
 * Small limits make the out-of-order caps (per stream and global) trigger.
 * Oracles: the caps hold (see below); every delivered byte plus every gap byte accounts for exactly the
 * stream's advance (r.next), and the global out-of-order counter returns to 0. */
#include <stdlib.h>
#include <string.h>
#include "reasm.h"
#include "fuzz_common.h"

struct acc {
	uint64_t data, gap;
};

static void o_data(void *ctx, const uint8_t *p, size_t n)
{
	struct acc *a = ctx;
	fz_touch(p, n);
	a->data += n;
}
static void o_gap(void *ctx, uint64_t n) { ((struct acc *)ctx)->gap += n; }

/* One pass over the input. The stream's recent-byte ring comes from a pool
 * whose rings were filled with `stale`: two passes with different fillings
 * must agree (a read of a ring byte the stream never delivered would show). */
static void run(const uint8_t *data, size_t size, uint8_t stale, struct acc *acc_out, struct anom_set *an_out)
{
	struct fz f = { data, size };
	uint64_t total = 0, peak = 0;
	struct reasm_pool pool = { { 0 }, 0 };
	pool.v[pool.n] = malloc(REASM_RECENT);
	memset(pool.v[pool.n++], stale, REASM_RECENT);
	struct reasm_limits lim = { 4096, 16, 6144, &total, &peak, &pool };
	struct acc acc = { 0, 0 };
	struct anom_set an = { { 0 } };
	struct reasm_out out = { o_data, o_gap, &acc, &an };
	struct reasm r;
	reasm_init(&r);
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f);
		uint32_t seq = fz_u32(&f);
		uint16_t len = fz_u16(&f);
		size_t n;
		uint8_t *buf = fz_copy(&f, len, &n);
		switch (op & 3) {
		case 0: {
			size_t wire = n + ((op & 8) ? (size_t)(op >> 4) * 64 : 0);
			reasm_segment(&r, seq, buf, n, wire, (op & 4) != 0, &lim, &out);
			break;
		}
		case 1:
			reasm_syn(&r, seq);
			break;
		case 2:
			reasm_ack(&r, seq, &lim, &out);
			break;
		case 3:
			reasm_segment(&r, seq, buf, n, n, true, &lim, &out);
			reasm_ack(&r, seq + (uint32_t)n + 1, &lim, &out);
			break;
		}
		free(buf);
		/* Bytes are capped exactly. Segments: over_cap() admits one incoming
		 * segment, which queue_insert() may split around queued ones, so the
		 * count can reach 2 * max_segs - 1 (bounded; docs/security.md). */
		if (r.ooo_bytes > lim.max_bytes || r.ooo_n >= 2 * lim.max_segs || total > lim.max_total)
			abort();
	}
	reasm_finish(&r, &lim, &out);
	if (acc.data + acc.gap != r.next || acc.data != r.delivered)
		abort();
	reasm_free(&r, &lim);
	if (total != 0)
		abort();
	while (pool.n)
		free(pool.v[--pool.n]);
	*acc_out = acc;
	*an_out = an;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acc a1, a2;
	struct anom_set n1, n2;
	run(data, size, 0x00, &a1, &n1);
	run(data, size, 0xa5, &a2, &n2);
	if (a1.data != a2.data || a1.gap != a2.gap || memcmp(&n1, &n2, sizeof n1) != 0)
		abort();
	return 0;
}
