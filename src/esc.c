/* esc — terminal and JSON escapers; contract in include/esc.h. */
#include "esc.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static const char hexdig[] = "0123456789abcdef";

size_t utf8_seq_len(const uint8_t *p, size_t avail)
{
	uint8_t c = p[0];
	if (c < 0x80)
		return 1;
	size_t n;
	uint32_t cp;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int utf8_valid(const void *vp, size_t n)
{
	const uint8_t *p = vp;
	size_t i = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_seq_len(p + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

static void add_hex(struct sbuf *out, const char *pre, uint8_t b)
{
	char t[8];
	size_t k = strlen(pre);
	memcpy(t, pre, k);
	t[k] = hexdig[b >> 4];
	t[k + 1] = hexdig[b & 15];
	sbuf_add(out, t, k + 2);
}

/* Bidirectional controls reorder what a terminal shows around them ("Trojan
 * Source", CVE-2021-42574): U+061C, U+200E/F, U+202A..E, U+2066..9. */
static int bidi_control(const uint8_t *p, size_t k)
{
	if (k == 2)
		return p[0] == 0xd8 && p[1] == 0x9c;
	if (k != 3 || p[0] != 0xe2)
		return 0;
	if (p[1] == 0x80)
		return p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae);
	return p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9;
}

void esc_tty(struct sbuf *out, const void *vp, size_t n)
{
	const uint8_t *p = vp;
	size_t i = 0;
	sbuf_reserve(out, n);
	while (i < n) {
		uint8_t c = p[i];
		if (c >= 0x20 && c < 0x7f) {
			size_t j = i;
			while (j < n && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '\\')
				j++;
			if (j > i) {
				sbuf_add(out, p + i, j - i);
				i = j;
				continue;
			}
			sbuf_add(out, "\\\\", 2); /* the backslash itself */
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t k = utf8_seq_len(p + i, n - i);
			/* C1 controls U+0080..U+009F are encoded c2 80..c2 9f */
			if (k && !(k == 2 && c == 0xc2 && p[i + 1] < 0xa0) && !bidi_control(p + i, k)) {
				sbuf_add(out, p + i, k);
				i += k;
				continue;
			}
			if (k > 1) { /* a bidi control: every byte as \xHH */
				for (size_t j = 0; j < k; j++)
					add_hex(out, "\\x", p[i + j]);
				i += k;
				continue;
			}
		}
		add_hex(out, "\\x", c);
		i++;
	}
}

void ob_u64(struct sbuf *s, uint64_t v)
{
	char t[20];
	size_t i = sizeof t;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	ob_add(s, t + i, sizeof t - i);
}

void ob_int(struct sbuf *s, long long v)
{
	if (v < 0) {
		ob_addc(s, '-');
		ob_u64(s, (uint64_t)0 - (uint64_t)v);
	} else {
		ob_u64(s, (uint64_t)v);
	}
}

/* 1 for the bytes esc_json does not copy as they are: controls, DEL, '"',
 * '\\' and every byte >= 0x80 (checked as UTF-8; C1 controls are escaped). */
static const uint8_t json_special[256] = {
	[0x00] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x10] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['"'] = 1, ['\\'] = 1, [0x7f] = 1,
	[0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x90] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xa0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xb0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xc0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xd0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xe0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xf0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

void esc_json(struct sbuf *out, const void *vp, size_t n)
{
	const uint8_t *p = vp;
	size_t i = 0;
	sbuf_reserve(out, n);
	while (i < n) {
		uint8_t c = p[i];
		if (!json_special[c]) { /* copy the run of plain bytes at once */
			size_t j = i + 1;
#if defined(__SSE2__)
			/* 16 at a time: a signed compare below 0x20 catches the
			 * controls and every byte >= 0x80; DEL, '"' and '\\' by equality */
			const __m128i sp = _mm_set1_epi8(0x20), q = _mm_set1_epi8('"'),
			              bs = _mm_set1_epi8('\\'), del = _mm_set1_epi8(0x7f);
			while (j + 16 <= n) {
				__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + j));
				__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, sp), _mm_cmpeq_epi8(v, del)),
				                         _mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)));
				unsigned bits = (unsigned)_mm_movemask_epi8(m);
				if (bits) {
					j += (size_t)__builtin_ctz(bits);
					break;
				}
				j += 16;
			}
#endif
			while (j < n && !json_special[p[j]])
				j++;
			ob_add(out, p + i, j - i);
			i = j;
			continue;
		}
		switch (c) {
		case '"': ob_add(out, "\\\"", 2); i++; continue;
		case '\\': ob_add(out, "\\\\", 2); i++; continue;
		case '\n': ob_add(out, "\\n", 2); i++; continue;
		case '\r': ob_add(out, "\\r", 2); i++; continue;
		case '\t': ob_add(out, "\\t", 2); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			add_hex(out, "\\u00", c);
			i++;
			continue;
		}
		size_t k = utf8_seq_len(p + i, n - i);
		if (k == 2 && c == 0xc2 && p[i + 1] < 0xa0) {
			/* C1 control (U+0080..U+009F, e.g. CSI U+009B): valid JSON
			 * raw, but escaped so JSON viewed on a terminal stays inert */
			add_hex(out, "\\u00", p[i + 1]);
			i += 2;
		} else if (k) {
			ob_add(out, p + i, k);
			i += k;
		} else {
			add_hex(out, "\\udc", c); /* surrogateescape: lossless */
			i++;
		}
	}
}

void esc_json_strn(struct sbuf *out, const void *p, size_t n)
{
	ob_addc(out, '"');
	esc_json(out, p, n);
	ob_addc(out, '"');
}

void esc_json_str(struct sbuf *out, const char *s)
{
	if (!s) {
		ob_add(out, "null", 4);
		return;
	}
	esc_json_strn(out, s, strlen(s));
}
