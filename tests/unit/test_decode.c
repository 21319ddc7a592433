/* Decoder tests: every link type, VLAN/QinQ, IPv6 extension headers, IPv4
 * and IPv6 fragments, snaplen-cut frames, and every truncation of a frame. */
#include "harness.h"

#include <stdlib.h>

#include "decode.h"

struct fb {
	uint8_t b[4096];
	size_t n;
};

static void put(struct fb *f, const void *p, size_t n) { memcpy(f->b + f->n, p, n); f->n += n; }
static void u8(struct fb *f, uint8_t v) { f->b[f->n++] = v; }
static void be16(struct fb *f, uint16_t v) { u8(f, (uint8_t)(v >> 8)); u8(f, (uint8_t)v); }
static void be32(struct fb *f, uint32_t v) { be16(f, (uint16_t)(v >> 16)); be16(f, (uint16_t)v); }

static const uint8_t mac[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
static const uint8_t v4a[4] = { 192, 0, 2, 1 }, v4b[4] = { 198, 51, 100, 7 };
static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* TCP header with an MSS option + payload */
static void tcp(struct fb *f, const char *payload)
{
	be16(f, 40001);
	be16(f, 25);
	be32(f, 0x11223344);
	be32(f, 0x55667788);
	u8(f, 6 << 4); /* 24-byte header */
	u8(f, 0x18);   /* PSH ACK */
	be16(f, 65535);
	be16(f, 0xdead); /* wrong checksum on purpose: never a reason to drop */
	be16(f, 0);
	u8(f, 2); u8(f, 4); be16(f, 1460);
	put(f, payload, strlen(payload));
}

static void ipv4(struct fb *f, const char *payload, uint16_t totlen_override)
{
	size_t tl = 20 + 24 + strlen(payload);
	u8(f, 0x45); u8(f, 0);
	be16(f, totlen_override ? totlen_override : (uint16_t)tl);
	be16(f, 1); be16(f, 0x4000); u8(f, 64); u8(f, 6); be16(f, 0);
	put(f, v4a, 4); put(f, v4b, 4);
	tcp(f, payload);
}

static void ipv6_ext(struct fb *f, const char *payload)
{
	size_t pl = 8 + 8 + 24 + strlen(payload); /* hop-by-hop + dest opts + tcp */
	be32(f, 0x60000000); be16(f, (uint16_t)pl); u8(f, 0 /* hop-by-hop */); u8(f, 64);
	put(f, v6a, 16); put(f, v6b, 16);
	u8(f, 60); u8(f, 0); be16(f, 0); be32(f, 0);        /* HBH -> dest opts */
	u8(f, 6); u8(f, 0); be16(f, 0x0104); be32(f, 0);    /* dest opts (PadN) -> TCP */
	tcp(f, payload);
}

static struct decoder *dec;

static enum decode_result run(int lt, struct fb *f, struct pkt_view *pv)
{
	decoder_free(dec);
	dec = decoder_new(lt);
	return decoder_frame(dec, f->b, (uint32_t)f->n, (uint32_t)f->n, 1000, pv);
}

static void check_tcp(const char *what, enum decode_result r, const struct pkt_view *pv, int fam, const char *payload)
{
	if (r != DECODE_TCP || pv->family != fam || pv->sport != 40001 || pv->dport != 25 ||
	    pv->seq != 0x11223344 || pv->ack != 0x55667788 || pv->mss != 1460 ||
	    pv->payload_len != strlen(payload) || memcmp(pv->payload, payload, pv->payload_len) != 0) {
		t_fail++;
		fprintf(stderr, "FAIL %s: result %d family %d len %u\n", what, r, pv->family, pv->payload_len);
	} else {
		t_pass++;
	}
}

int main(void)
{
	struct fb f;
	struct pkt_view pv;
	const char *pl = "EHLO mail.example\r\n";

	/* Ethernet II */
	f.n = 0; put(&f, mac, 12); be16(&f, 0x0800); ipv4(&f, pl, 0);
	check_tcp("ethernet ipv4", run(1, &f, &pv), &pv, 4, pl);
	CHECK(!memcmp(pv.src, v4a, 4) && !memcmp(pv.dst, v4b, 4));
	/* Ethernet padding beyond the IP total length is ignored */
	struct fb pad = f; memset(pad.b + pad.n, 0, 10); pad.n += 10;
	check_tcp("ethernet padding", run(1, &pad, &pv), &pv, 4, pl);

	/* 802.1Q */
	f.n = 0; put(&f, mac, 12); be16(&f, 0x8100); be16(&f, 100); be16(&f, 0x0800); ipv4(&f, pl, 0);
	check_tcp("802.1q", run(1, &f, &pv), &pv, 4, pl);
	CHECK(pv.n_vlan == 1 && pv.vlan[0] == 100);
	/* QinQ 802.1ad + 802.1Q, IPv6 inside */
	f.n = 0; put(&f, mac, 12); be16(&f, 0x88a8); be16(&f, 200); be16(&f, 0x8100); be16(&f, 300);
	be16(&f, 0x86dd); ipv6_ext(&f, pl);
	check_tcp("qinq ipv6 ext headers", run(1, &f, &pv), &pv, 6, pl);
	CHECK(pv.n_vlan == 2 && pv.vlan[0] == 200 && pv.vlan[1] == 300);
	CHECK(!memcmp(pv.src, v6a, 16));

	/* Linux SLL (113) and SLL2 (276) */
	f.n = 0; be16(&f, 0); be16(&f, 1); be16(&f, 6); put(&f, mac, 8); be16(&f, 0x0800); ipv4(&f, pl, 0);
	check_tcp("sll", run(113, &f, &pv), &pv, 4, pl);
	f.n = 0; be16(&f, 0x86dd); be16(&f, 0); be32(&f, 2); be16(&f, 1); u8(&f, 0); u8(&f, 6); put(&f, mac, 8);
	ipv6_ext(&f, pl);
	check_tcp("sll2", run(276, &f, &pv), &pv, 6, pl);

	/* BSD NULL: host order family (little-endian 2 here); LOOP: network order */
	f.n = 0; u8(&f, 2); u8(&f, 0); u8(&f, 0); u8(&f, 0); ipv4(&f, pl, 0);
	check_tcp("null le", run(0, &f, &pv), &pv, 4, pl);
	f.n = 0; be32(&f, 30); ipv6_ext(&f, pl);
	check_tcp("null be ipv6 (macOS 30)", run(0, &f, &pv), &pv, 6, pl);
	f.n = 0; be32(&f, 2); ipv4(&f, pl, 0);
	check_tcp("loop", run(108, &f, &pv), &pv, 4, pl);

	/* raw */
	f.n = 0; ipv4(&f, pl, 0);
	check_tcp("raw 12", run(12, &f, &pv), &pv, 4, pl);
	check_tcp("raw 101", run(101, &f, &pv), &pv, 4, pl);
	f.n = 0; ipv6_ext(&f, pl);
	check_tcp("raw ipv6", run(229, &f, &pv), &pv, 6, pl);

	/* TSO on the capturing host: IPv4 total length 0 */
	f.n = 0; ipv4(&f, pl, 0xffff); f.b[2] = 0; f.b[3] = 0;
	check_tcp("ipv4 totlen 0 (offload)", run(12, &f, &pv), &pv, 4, pl);

	/* snaplen cut: the IP header says more than was captured */
	f.n = 0; put(&f, mac, 12); be16(&f, 0x0800); ipv4(&f, pl, 0);
	size_t full = f.n;
	f.n = full - 5;
	decoder_free(dec);
	dec = decoder_new(1);
	enum decode_result r = decoder_frame(dec, f.b, (uint32_t)f.n, (uint32_t)full, 1, &pv);
	CHECK(r == DECODE_TCP);
	CHECK(pv.payload_len == strlen(pl) - 5);
	CHECK(pv.payload_wire_len == strlen(pl));

	/* every truncation of a VLAN IPv6 frame: never a crash, never TCP with garbage */
	f.n = 0; put(&f, mac, 12); be16(&f, 0x8100); be16(&f, 7); be16(&f, 0x86dd); ipv6_ext(&f, pl);
	full = f.n;
	int bad = 0;
	for (size_t n = 0; n < full; n++) {
		decoder_free(dec);
		dec = decoder_new(1);
		r = decoder_frame(dec, f.b, (uint32_t)n, (uint32_t)full, 1, &pv);
		if (r == DECODE_TCP && pv.payload_len > n)
			bad++;
	}
	CHECK(bad == 0);

	/* IPv4 fragments, second one first: reassembled into one segment */
	{
		const char *big = "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";
		struct fb whole; whole.n = 0; tcp(&whole, big); /* the IP payload */
		size_t cut = 32; /* multiple of 8 */
		struct fb f1, f2;
		f1.n = 0; u8(&f1, 0x45); u8(&f1, 0); be16(&f1, (uint16_t)(20 + cut)); be16(&f1, 77); be16(&f1, 0x2000);
		u8(&f1, 64); u8(&f1, 6); be16(&f1, 0); put(&f1, v4a, 4); put(&f1, v4b, 4); put(&f1, whole.b, cut);
		f2.n = 0; u8(&f2, 0x45); u8(&f2, 0); be16(&f2, (uint16_t)(20 + whole.n - cut)); be16(&f2, 77);
		be16(&f2, (uint16_t)(cut / 8)); u8(&f2, 64); u8(&f2, 6); be16(&f2, 0); put(&f2, v4a, 4); put(&f2, v4b, 4);
		put(&f2, whole.b + cut, whole.n - cut);
		decoder_free(dec);
		dec = decoder_new(12);
		CHECK(decoder_frame(dec, f2.b, (uint32_t)f2.n, (uint32_t)f2.n, 1, &pv) == DECODE_FRAGMENT);
		r = decoder_frame(dec, f1.b, (uint32_t)f1.n, (uint32_t)f1.n, 2, &pv);
		check_tcp("ipv4 fragments reassembled", r, &pv, 4, big);
		CHECK(decoder_stats(dec)->reassembled == 1);
	}

	/* non-TCP traffic is OTHER, not BAD */
	f.n = 0; put(&f, mac, 12); be16(&f, 0x0806); memset(f.b + f.n, 0, 28); f.n += 28;
	CHECK(run(1, &f, &pv) == DECODE_OTHER);
	/* unknown link type */
	CHECK(!decoder_linktype_supported(147));

	/* random bytes: never a crash */
	srand(7);
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % 200);
		for (size_t k = 0; k < n; k++)
			f.b[k] = (uint8_t)rand();
		if (n > 14) { f.b[12] = 0x08; f.b[13] = (i & 1) ? 0x00 : 0x86; if (!(i & 1)) f.b[13] = 0xdd; f.b[14] = (i & 1) ? 0x45 : 0x60; }
		decoder_frame(dec, f.b, (uint32_t)n, (uint32_t)n, (uint64_t)i, &pv);
	}
	t_pass++;
	decoder_free(dec);
	TEST_MAIN_END();
}
