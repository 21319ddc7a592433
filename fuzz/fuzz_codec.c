/* libFuzzer target: the small decoders — base64 (src/codec.c), RFC 2047
 * encoded words (src/imf_rfc2047.c), charset conversion, RFC 5322 address
 * lists (src/imf_addr.c) and the two escapers (src/esc.c).
 *
 * Input: byte 0 selects the decoder; the rest is its input (an exact-size
 * heap copy, so any read past the end is caught). For the charset decoder
 * the input is "charset\0bytes". */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "esc.h"
#include "imf.h"
#include "sbuf.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t sel = fz_u8(&f);
	size_t n = f.n;
	char *in = malloc(n ? n : 1);
	memcpy(in, f.p, n);
	struct sbuf out = { 0 };
	switch (sel % 6) {
	case 0: {
		b64_decode(&out, in, n);
		/* round trip: encoding what decoded must decode to the same bytes */
		struct sbuf enc = { 0 }, dec = { 0 };
		b64_encode(&enc, out.buf, out.len);
		if (b64_decode(&dec, enc.buf, enc.len) != 0 || dec.len != out.len ||
		    (out.len && memcmp(dec.buf, out.buf, out.len)))
			abort();
		sbuf_free(&enc);
		sbuf_free(&dec);
		break;
	}
	case 1:
		rfc2047_decode(&out, in, n);
		break;
	case 2: {
		struct imf_addr_list l = { 0 };
		imf_parse_addresses(&l, in, n);
		if (l.n > IMF_ADDR_MAX)
			abort();
		for (size_t i = 0; i < l.n; i++)
			if (!l.v[i].address)
				abort();
		imf_addr_list_free(&l);
		break;
	}
	case 3: {
		const char *z = memchr(in, 0, n);
		if (z) {
			char *cs = strndup(in, (size_t)(z - in));
			imf_charset_to_utf8(&out, cs, z + 1, n - (size_t)(z - in) - 1);
			free(cs);
		}
		break;
	}
	case 4:
		esc_tty(&out, in, n);
		for (size_t i = 0; i < out.len; i++) /* nothing below 0x20 or DEL reaches a terminal */
			if ((unsigned char)out.buf[i] < 0x20 || (unsigned char)out.buf[i] == 0x7f)
				abort();
		for (size_t i = 0; i + 1 < out.len; i++) /* nor a C1 control as UTF-8 (U+0080..U+009F) */
			if ((unsigned char)out.buf[i] == 0xc2 && (unsigned char)out.buf[i + 1] < 0xa0 &&
			    (unsigned char)out.buf[i + 1] >= 0x80)
				abort();
		break;
	case 5:
		esc_json(&out, in, n);
		for (size_t i = 0; i < out.len; i++) /* control bytes never appear raw in JSON */
			if ((unsigned char)out.buf[i] < 0x20 || (unsigned char)out.buf[i] == 0x7f)
				abort();
		for (size_t i = 0; i + 1 < out.len; i++) /* nor C1 controls: JSON stays inert on a terminal */
			if ((unsigned char)out.buf[i] == 0xc2 && (unsigned char)out.buf[i + 1] < 0xa0 &&
			    (unsigned char)out.buf[i + 1] >= 0x80)
				abort();
		if (!utf8_valid(out.buf, out.len))
			abort();
		break;
	}
	sbuf_free(&out);
	free(in);
	return 0;
}
