/* Table-driven reassembly tests (after Suricata's stream tests): a list of
 * segments in, the byte stream out, '\0' for each byte of a gap. */
#include "harness.h"

/* short segment tables: unnamed trailing fields are zero on purpose */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <stdlib.h>

#include "anomaly.h"
#include "decode.h"
#include "flow.h"
#include "reasm.h"
#include "sbuf.h"

struct seg {
	uint32_t seq;      /* relative to the test's isn */
	const char *data;  /* NULL = no payload */
	int fin;
	uint32_t ack;      /* if non-zero: the peer acknowledges isn+ack after this segment */
};

struct rcase {
	const char *name;
	uint32_t isn;       /* sequence number of byte 0 */
	int midstream;      /* no reasm_syn: first segment sets the base */
	struct seg segs[16];
	int nsegs;
	const char *want;   /* expected stream ('\0' = gap byte) */
	size_t want_len;
	int want_conflict;  /* tcp_overlap_conflict expected */
	int want_gaps;      /* gaps expected */
	size_t max_segs;    /* ooo cap (0 = default 64) */
};

static void c_data(void *ctx, const uint8_t *p, size_t n) { sbuf_add(ctx, p, n); }
static void c_gap(void *ctx, uint64_t n) { for (uint64_t i = 0; i < n; i++) sbuf_addc(ctx, '\0'); }

static void run_case(const struct rcase *c)
{
	struct reasm r;
	reasm_init(&r);
	struct sbuf got = SBUF_INIT;
	struct anom_set an = { { 0 } };
	uint64_t total = 0, peak = 0;
	struct reasm_limits lim = { 1 << 20, c->max_segs ? c->max_segs : 64, 8 << 20, &total, &peak, NULL };
	struct reasm_out out = { c_data, c_gap, &got, &an };
	if (!c->midstream)
		reasm_syn(&r, c->isn - 1);
	for (int i = 0; i < c->nsegs; i++) {
		const struct seg *s = &c->segs[i];
		size_t n = s->data ? strlen(s->data) : 0;
		reasm_segment(&r, c->isn + s->seq, (const uint8_t *)s->data, n, n, s->fin, &lim, &out);
		if (s->ack)
			reasm_ack(&r, c->isn + s->ack, &lim, &out);
	}
	reasm_finish(&r, &lim, &out);
	if (got.len != c->want_len || memcmp(got.buf ? got.buf : "", c->want, c->want_len) != 0) {
		t_fail++;
		fprintf(stderr, "FAIL %s: got %zu bytes [", c->name, got.len);
		for (size_t i = 0; i < got.len; i++)
			fputc(got.buf[i] ? got.buf[i] : '0', stderr);
		fprintf(stderr, "] want %zu\n", c->want_len);
	} else {
		t_pass++;
	}
	if (anom_has(&an, ANOM_TCP_OVERLAP_CONFLICT) != c->want_conflict) {
		t_fail++;
		fprintf(stderr, "FAIL %s: conflict flag %d, want %d\n", c->name,
		        anom_has(&an, ANOM_TCP_OVERLAP_CONFLICT), c->want_conflict);
	} else {
		t_pass++;
	}
	if ((int)r.gaps != c->want_gaps) {
		t_fail++;
		fprintf(stderr, "FAIL %s: %u gaps, want %d\n", c->name, r.gaps, c->want_gaps);
	} else {
		t_pass++;
	}
	CHECK(total == 0); /* every queued byte released */
	reasm_free(&r, &lim);
	sbuf_free(&got);
}

#define S(...) { __VA_ARGS__ }
#define W(s) s, sizeof(s) - 1

static const struct rcase cases[] = {
	{ "in order", 1000, 0, { S(0, "HELO "), S(5, "a\r\n") }, 2, W("HELO a\r\n"), 0, 0, 0 },
	{ "reversed", 1000, 0, { S(6, "ghi"), S(3, "def"), S(0, "abc") }, 3, W("abcdefghi"), 0, 0, 0 },
	{ "interleaved", 1000, 0, { S(0, "ab"), S(4, "ef"), S(2, "cd"), S(8, "ij"), S(6, "gh") }, 5,
	  W("abcdefghij"), 0, 0, 0 },
	{ "duplicated", 1000, 0, { S(0, "abc"), S(0, "abc"), S(3, "def"), S(3, "def") }, 4, W("abcdef"), 0, 0, 0 },
	{ "overlap same bytes", 1000, 0, { S(0, "abcd"), S(2, "cdef"), S(5, "fgh") }, 3, W("abcdefgh"), 0, 0, 0 },
	{ "overlap different bytes, first wins", 1000, 0, { S(0, "abcd"), S(2, "XYef") }, 2, W("abcdef"), 1, 0, 0 },
	{ "queued overlap different, first wins", 1000, 0, { S(4, "efgh"), S(2, "cdXY"), S(0, "ab") }, 3,
	  W("abcdefgh"), 1, 0, 0 },
	{ "queued segment inside a larger later one", 1000, 0, { S(3, "d"), S(1, "bcdef"), S(0, "a") }, 3,
	  W("abcdef"), 0, 0, 0 },
	{ "one byte per segment", 1000, 0,
	  { S(0, "Q"), S(1, "U"), S(2, "I"), S(3, "T"), S(4, "\r"), S(5, "\n") }, 6, W("QUIT\r\n"), 0, 0, 0 },
	{ "sequence wrap-around", 0xfffffffcu, 0, { S(0, "abc"), S(3, "def"), S(6, "ghi") }, 3, W("abcdefghi"), 0, 0, 0 },
	{ "wrap-around out of order", 0xfffffffeu, 0, { S(4, "efgh"), S(0, "abcd") }, 2, W("abcdefgh"), 0, 0, 0 },
	{ "SYN-less start", 5000, 1, { S(0, "250 ok\r\n"), S(8, "221 bye\r\n") }, 2, W("250 ok\r\n221 bye\r\n"), 0, 0, 0 },
	{ "data after FIN ignored", 1000, 0, { S(0, "abc", 1), S(4, "zzz") }, 2, W("abc"), 0, 0, 0 },
	{ "FIN before the last data", 1000, 0, { S(3, "def", 1), S(0, "abc") }, 2, W("abcdef"), 0, 0, 0 },
	{ "lost segment becomes a gap", 1000, 0, { S(0, "abc"), S(6, "ghi") }, 2, W("abc\0\0\0ghi"), 0, 1, 0 },
	{ "gap declared when the peer acks past it", 1000, 0, { S(0, "ab"), S(4, "ef", 0, 6), S(6, "gh") }, 3,
	  W("ab\0\0efgh"), 0, 1, 0 },
	{ "retransmission of delivered data differs", 1000, 0, { S(0, "abcdef"), S(2, "XY") }, 2, W("abcdef"), 1, 0, 0 },
	{ "out-of-order cap declares a gap", 1000, 0, { S(0, "a"), S(2, "c"), S(4, "e"), S(6, "g") }, 4,
	  W("a\0c\0e\0g"), 0, 3, 2 },
	{ "acked but never seen tail", 1000, 0, { S(0, "abc", 0, 0), S(0, NULL, 0, 6) }, 2, W("abc\0\0\0"), 0, 1, 0 },
	{ "keep-alive probe is not a conflict", 1000, 0, { S(0, "abc"), S(2, "\x01"), S(3, "def") }, 3, W("abcdef"), 0, 0, 0 },
	{ "FIN inside delivered data ends there", 1000, 0, { S(0, "abcdef"), S(2, "cd", 1) }, 2, W("abcdef"), 0, 0, 0 },
	{ "ack of FIN alone is not a gap", 1000, 0, { S(0, "abc", 0, 4) }, 1, W("abc"), 0, 0, 0 },
	/* first data wins when the in-order segment arrives last */
	{ "in-order segment over a queued one: queued bytes win", 1000, 0, { S(4, "efgh"), S(0, "abcdWXYZij") }, 2,
	  W("abcdefghij"), 1, 0, 0 },
	{ "in-order segment over two queued ones", 1000, 0, { S(2, "cd"), S(6, "gh"), S(0, "abXXefYYij") }, 3,
	  W("abcdefghij"), 1, 0, 0 },
	{ "in-order segment over a queued one, same bytes", 1000, 0, { S(4, "ef"), S(0, "abcdefgh") }, 2,
	  W("abcdefgh"), 0, 0, 0 },
	{ "half a command out of order, then all of it with other bytes", 1000, 0,
	  { S(10, "<good@exam"), S(0, "MAIL FROM:<evil@example.org>\r\n") }, 2,
	  W("MAIL FROM:<good@example.org>\r\n"), 1, 0, 0 },
};

/* Flow-level cases: orientation, RST, FIN close. */
static struct sbuf fl_bytes[2];
static int fl_closed, fl_end;
static void *h_open(void *u, const struct flow_info *fi) { (void)u; (void)fi; return (void *)1; }
static void h_data(void *u, void *app, int dir, const uint8_t *p, size_t n, uint64_t ts)
{ (void)u; (void)app; (void)ts; sbuf_add(&fl_bytes[dir], p, n); }
static void h_gap(void *u, void *app, int dir, uint64_t n, uint64_t ts)
{ (void)u; (void)app; (void)ts; while (n--) sbuf_addc(&fl_bytes[dir], '\0'); }
static void h_close(void *u, void *app, const struct flow_info *fi, uint64_t ts)
{ (void)u; (void)app; (void)ts; fl_closed++; fl_end = fi->end; }

static struct pkt_view pkt(int c2s, uint32_t seq, uint32_t ack, uint8_t flags, const char *data)
{
	struct pkt_view v;
	memset(&v, 0, sizeof v);
	v.family = 4;
	uint8_t cli[4] = { 10, 0, 0, 1 }, srv[4] = { 10, 0, 0, 2 };
	memcpy(v.src, c2s ? cli : srv, 4);
	memcpy(v.dst, c2s ? srv : cli, 4);
	v.sport = c2s ? 40000 : 25;
	v.dport = c2s ? 25 : 40000;
	v.seq = seq;
	v.ack = ack;
	v.flags = flags;
	v.payload = (const uint8_t *)data;
	v.payload_len = v.payload_wire_len = data ? (uint32_t)strlen(data) : 0;
	return v;
}

static void flow_tests(void)
{
	struct flow_config cfg;
	flow_config_defaults(&cfg);
	struct flow_hooks h = { .open = h_open, .data = h_data, .gap = h_gap, .close = h_close };

	/* full handshake, data both ways, FIN both ways */
	struct flow_table *t = flow_table_new(&cfg, &h);
	fl_closed = 0;
	struct pkt_view v;
	v = pkt(1, 100, 0, TCP_SYN, NULL); flow_table_packet(t, &v);
	v = pkt(0, 900, 101, TCP_SYN | TCP_ACK, NULL); flow_table_packet(t, &v);
	v = pkt(1, 101, 901, TCP_ACK, NULL); flow_table_packet(t, &v);
	v = pkt(0, 901, 101, TCP_ACK | TCP_PSH, "220 hi\r\n"); flow_table_packet(t, &v);
	v = pkt(1, 101, 909, TCP_ACK | TCP_PSH, "QUIT\r\n"); flow_table_packet(t, &v);
	v = pkt(0, 909, 107, TCP_ACK | TCP_FIN, "221 bye\r\n"); flow_table_packet(t, &v);
	v = pkt(1, 107, 919, TCP_ACK | TCP_FIN, NULL); flow_table_packet(t, &v);
	CHECK(fl_closed == 1);
	CHECK(fl_end == FLOW_END_FIN);
	CHECK_MEM(fl_bytes[0].buf, fl_bytes[0].len, "QUIT\r\n", 6);
	CHECK_MEM(fl_bytes[1].buf, fl_bytes[1].len, "220 hi\r\n221 bye\r\n", 17);
	/* a late ACK does not create a new flow */
	v = pkt(0, 919, 108, TCP_ACK, NULL); flow_table_packet(t, &v);
	struct flow_stats st;
	flow_table_stats(t, &st);
	CHECK(st.flows_total == 1);
	flow_table_close_all(t, 0);
	CHECK(fl_closed == 1);
	flow_table_free(t);

	/* mid-stream: first packet is from the server port; RST ends it */
	sbuf_clear(&fl_bytes[0]);
	sbuf_clear(&fl_bytes[1]);
	fl_closed = 0;
	t = flow_table_new(&cfg, &h);
	v = pkt(0, 5000, 7000, TCP_ACK, "250 ok\r\n"); flow_table_packet(t, &v);
	v = pkt(1, 7000, 5008, TCP_ACK, "DATA\r\n"); flow_table_packet(t, &v);
	v = pkt(1, 7006, 5008, TCP_RST, NULL); flow_table_packet(t, &v);
	CHECK(fl_closed == 1);
	CHECK(fl_end == FLOW_END_RST);
	CHECK_MEM(fl_bytes[0].buf, fl_bytes[0].len, "DATA\r\n", 6);
	CHECK_MEM(fl_bytes[1].buf, fl_bytes[1].len, "250 ok\r\n", 8);
	flow_table_free(t);
	sbuf_free(&fl_bytes[0]);
	sbuf_free(&fl_bytes[1]);
}

/* First data wins in every order of arrival: random segments over a 48-byte
 * stream, each filled with its own letter, in random order; the stream must
 * hold at each byte the letter of the first segment that covered it, and
 * tcp_overlap_conflict must be raised exactly when a later copy differs.
 * Segments are at least 2 bytes (a 1-byte one at next - 1 is a keep-alive
 * probe, never compared). */
static uint64_t rnd_state = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state % n);
}

static void first_data_wins_model(void)
{
	enum { N = 48 };
	int bad = 0;
	for (int trial = 0; trial < 3000 && bad < 5; trial++) {
		struct reasm r;
		reasm_init(&r);
		struct sbuf got = SBUF_INIT;
		struct anom_set an = { { 0 } };
		uint64_t total = 0, peak = 0;
		struct reasm_limits lim = { 1 << 20, 64, 8 << 20, &total, &peak, NULL };
		struct reasm_out out = { c_data, c_gap, &got, &an };
		reasm_syn(&r, 999);
		char want[N];
		int covered[N] = { 0 }, conflict = 0, nseg = 2 + (int)rnd(6);
		uint8_t buf[N];
		/* the last segment covers everything not yet covered, so there is no gap */
		for (int i = 0; i <= nseg; i++) {
			uint32_t off, len;
			if (i < nseg) {
				off = rnd(N - 2);
				len = 2 + rnd(N - off - 1);
				if (off + len > N)
					len = N - off;
			} else {
				off = 0;
				len = N;
			}
			char letter = (char)('a' + i);
			for (uint32_t j = 0; j < len; j++) {
				/* a later copy agrees with the first one, or not */
				int differs = i == nseg ? (int)rnd(2) : 1;
				char c = letter;
				if (covered[off + j] && !differs)
					c = want[off + j];
				buf[j] = (uint8_t)c;
				if (!covered[off + j]) {
					covered[off + j] = 1;
					want[off + j] = c;
				} else if (want[off + j] != c) {
					conflict = 1;
				}
			}
			reasm_segment(&r, 1000 + off, buf, len, len, false, &lim, &out);
		}
		reasm_finish(&r, &lim, &out);
		if (got.len != N || memcmp(got.buf, want, N) != 0 || anom_has(&an, ANOM_TCP_OVERLAP_CONFLICT) != conflict) {
			bad++;
			fprintf(stderr, "FAIL first data wins, trial %d: got [%.*s] want [%.*s] conflict %d want %d\n", trial,
			        (int)got.len, got.buf ? got.buf : "", N, want, anom_has(&an, ANOM_TCP_OVERLAP_CONFLICT),
			        conflict);
		}
		reasm_free(&r, &lim);
		sbuf_free(&got);
	}
	CHECK(bad == 0);
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	first_data_wins_model();
	flow_tests();
	TEST_MAIN_END();
}
