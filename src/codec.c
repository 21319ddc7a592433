/* codec — base64 (RFC 4648) and charset bytes to UTF-8 through iconv.
 * Contract in include/codec.h. */
#include "codec.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

int b64_decode(struct sbuf *out, const void *vin, size_t n)
{
	const uint8_t *in = vin;
	uint32_t acc = 0;
	int bits = 0, pad = 0, quad = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			quad++;
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad)
			return -1; /* bad character, or data after padding */
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		quad++;
		if (bits >= 8) {
			bits -= 8;
			sbuf_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
	if (pad > 2)
		return -1;
	/* a lone 6-bit leftover (length % 4 == 1) cannot be valid */
	if ((quad - pad) % 4 == 1)
		return -1;
	if (pad && quad % 4 != 0)
		return -1;
	return 0;
}

void b64_encode(struct sbuf *out, const void *vin, size_t n)
{
	const uint8_t *in = vin;
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		char t[4] = { b64chars[v >> 18], b64chars[(v >> 12) & 63], b64chars[(v >> 6) & 63], b64chars[v & 63] };
		sbuf_add(out, t, 4);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		char t[4] = { b64chars[v >> 18], b64chars[(v >> 12) & 63], '=', '=' };
		sbuf_add(out, t, 4);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		char t[4] = { b64chars[v >> 18], b64chars[(v >> 12) & 63], b64chars[(v >> 6) & 63], '=' };
		sbuf_add(out, t, 4);
	}
}

#define UTF8_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* Let iconv write into out's spare room; returns iconv's result, errno kept. */
static size_t iconv_into(iconv_t cd, struct sbuf *out, char **ip, size_t *il)
{
	sbuf_reserve(out, (ip ? *il : 0) * 4 + 16);
	char *op = out->buf + out->len;
	size_t room = out->cap - out->len - 1, ol = room;
	size_t r = iconv(cd, ip, il, &op, &ol);
	int err = errno;
	out->len += room - ol;
	out->buf[out->len] = '\0';
	errno = err;
	return r;
}

/* iconv answers EINVAL as soon as the lead bytes say the sequence is longer
 * than what is left, without looking at the rest: glibc's GB18030 does so for
 * 81 30 41 (the 41 cannot be a third byte). t[0..n) is the start of a real
 * sequence if one more byte makes it convert or still incomplete; the probe
 * bytes complete GB18030 and EUC-TW four-byte forms, UTF-16 surrogate pairs
 * and UTF-32. At most four conversions of a few bytes, at the end of an
 * input only. Leaves cd in its initial state (a stateful charset, ISO-2022,
 * then reads a bad end from its initial state: garbage either way). */
static bool valid_prefix(iconv_t cd, const uint8_t *t, size_t n)
{
	static const uint8_t probe[] = { 0x30, 0xa1, 0xdc, 0x00 };
	uint8_t buf[16];
	char outb[64];
	if (n >= sizeof buf)
		return true;
	memcpy(buf, t, n);
	bool ok = false;
	for (size_t i = 0; i < sizeof probe && !ok; i++) {
		buf[n] = probe[i];
		iconv(cd, NULL, NULL, NULL, NULL);
		char *ip = (char *)buf, *op = outb;
		size_t il = n + 1, ol = sizeof outb;
		size_t r = iconv(cd, &ip, &il, &op, &ol);
		ok = r != (size_t)-1 || (errno == EINVAL && ip == (char *)buf) || errno == E2BIG;
	}
	iconv(cd, NULL, NULL, NULL, NULL);
	return ok;
}

void codec_iconv_utf8(iconv_t cd, struct sbuf *out, const void *in, size_t n)
{
	iconv(cd, NULL, NULL, NULL, NULL); /* initial shift state */
	sbuf_reserve(out, 16);
	char *ip = (char *)(uintptr_t)in;
	size_t il = n;
	while (il) {
		if (iconv_into(cd, out, &ip, &il) != (size_t)-1)
			continue;
		int err = errno;
		if (err == E2BIG)
			continue;
		sbuf_add(out, UTF8_REPLACEMENT, 3);
		if (err == EINVAL && (il == 1 || valid_prefix(cd, (const uint8_t *)ip, il))) {
			/* what is left is the start of a sequence the input ends in:
			 * the whole of it is one replacement character */
			iconv(cd, NULL, NULL, NULL, NULL);
			return;
		}
		/* EILSEQ, or an end that cannot start a sequence: the lead byte is
		 * bad; resume after it (the bytes after it are read again) */
		ip++;
		il--;
	}
	iconv_into(cd, out, NULL, NULL); /* flush a shift sequence (ISO-2022-*) */
}
