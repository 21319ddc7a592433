/* libFuzzer target: the packet decoder (src/decode.c), and behind it the flow
 * table and reassembly (src/flow.c, src/reasm.c) fed with whatever decodes.
 *
 * Input: byte 0 picks the link type (index into LINKTYPES); then records
 *   { u16 caplen, u16 extra (wirelen = caplen + extra), caplen bytes }
 * each one frame, with timestamps 1 ms apart (so the IP-fragment table and
 * flow idle timeouts see time pass). */
#include <stdlib.h>
#include "decode.h"
#include "flow.h"
#include "fuzz_common.h"

static const int LINKTYPES[] = { 1, 0, 12, 14, 101, 108, 113, 228, 229, 276, 147 /* unsupported */ };

static int g_dummy;
static void *h_open(void *u, const struct flow_info *fi) { (void)u; (void)fi; return &g_dummy; }
static void h_data(void *u, void *app, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)u, (void)app, (void)dir, (void)ts;
	fz_touch(p, n);
}
static void h_gap(void *u, void *app, int dir, uint64_t len, uint64_t ts) { (void)u, (void)app, (void)dir, (void)len, (void)ts; }
static void h_close(void *u, void *app, const struct flow_info *fi, uint64_t ts) { (void)u, (void)app, (void)fi, (void)ts; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	int lt = LINKTYPES[fz_u8(&f) % (sizeof LINKTYPES / sizeof LINKTYPES[0])];
	struct decoder *d = decoder_new(lt);
	struct flow_config cfg;
	flow_config_defaults(&cfg);
	cfg.all_ports = true;
	cfg.max_flows = 8;             /* small caps so eviction paths run */
	cfg.ooo_bytes_per_dir = 4096;
	cfg.ooo_segs_per_dir = 8;
	cfg.ooo_bytes_total = 16384;
	struct flow_hooks hooks = { .open = h_open, .data = h_data, .gap = h_gap, .close = h_close };
	struct flow_table *t = flow_table_new(&cfg, &hooks);
	uint64_t ts = 1700000000000000ull;
	while (fz_more(&f)) {
		uint16_t caplen = fz_u16(&f);
		uint16_t extra = fz_u16(&f);
		size_t n;
		uint8_t *fr = fz_copy(&f, caplen, &n);
		struct pkt_view pv;
		ts += 1000;
		if (decoder_frame(d, fr, (uint32_t)n, (uint32_t)n + extra, ts, &pv) == DECODE_TCP) {
			fz_touch(pv.payload, pv.payload_len);
			flow_table_packet(t, &pv);
		}
		free(fr);
		flow_table_expire(t, ts);
	}
	flow_table_close_all(t, ts);
	flow_table_free(t);
	decoder_free(d);
	return 0;
}
