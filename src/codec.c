/* codec — base64 (RFC 4648). */
#include "codec.h"

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
