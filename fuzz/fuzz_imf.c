/* libFuzzer target: the message header push-parser (src/imf.c,
 * src/imf_addr.c, src/imf_rfc2047.c) and its JSON/text writers.
 *
 * Input: byte 0 = chunk size seed (the message is pushed in pieces of
 * 1 + (seed % 64) bytes, or all at once when seed is 0); byte 1: if odd, a
 * gap of (byte 1 * 7) bytes is declared after the first chunk; the rest is
 * the message. The parser is reset and fed again, to exercise reuse. */
#include <stdlib.h>
#include <string.h>

#include "imf.h"
#include "out_imf.h"
#include "sbuf.h"
#include "fuzz_common.h"

static void feed(struct imf_parser *p, const uint8_t *m, size_t n, uint8_t seed, uint8_t g)
{
	size_t step = seed ? 1 + seed % 64 : (n ? n : 1);
	int first = 1;
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		uint8_t *buf = malloc(k);
		memcpy(buf, m + i, k);
		imf_push(p, buf, k);
		free(buf);
		if (first && (g & 1))
			imf_gap(p, (uint64_t)g * 7);
		first = 0;
	}
	imf_finish(p);
	const struct imf_headers *h = imf_headers(p);
	struct sbuf out = { 0 };
	out_imf_headers_json(&out, h);
	out_imf_headers_text(&out, h, "  ");
	(void)imf_strstate(p);
	sbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t seed = fz_u8(&f);
	uint8_t g = fz_u8(&f);
	struct imf_parser *p = imf_parser_new();
	feed(p, f.p, f.n, seed, g);
	imf_parser_reset(p);
	feed(p, f.p, f.n, (uint8_t)(seed * 7 + 3), 0);
	imf_parser_free(p);
	return 0;
}
