/* imf_rfc2047 — RFC 2047 encoded words and charset conversion to UTF-8 through
 * the C library's iconv (no other library). Contract in include/imf.h. */
#include "imf.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

#include "ascii.h"
#include "codec.h"

#define CHARSET_NAME_MAX 64 /* longest charset label we hand to iconv_open */

/* Labels that the wire uses but iconv spells differently, or that are better
 * read as their superset (WHATWG Encoding Standard §4.2 does the same:
 * gb2312 text is routinely GBK, iso-8859-1 text routinely windows-1252). */
static const struct {
	const char *label;
	const char *iconv_name; /* NULL: keep the bytes as they are */
} charset_aliases[] = {
	{ "utf-8", NULL },
	{ "utf8", NULL },
	{ "us-ascii", NULL },
	{ "ascii", NULL },
	{ "unknown-8bit", NULL },
	{ "x-unknown", NULL },
	{ "unknown", NULL },
	{ "8bit", NULL },
	{ "default", NULL },
	{ "gb2312", "GB18030" },
	{ "gbk", "GB18030" },
	{ "x-gbk", "GB18030" },
	{ "cp936", "GB18030" },
	{ "iso-8859-1", "WINDOWS-1252" },
	{ "latin1", "WINDOWS-1252" },
	{ "iso_8859-1", "WINDOWS-1252" },
	{ "ks_c_5601-1987", "CP949" },
	{ "ks_c_5601", "CP949" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "windows-874", "CP874" },
	{ "x-sjis", "SHIFT_JIS" },
	{ "shift-jis", "SHIFT_JIS" },
	{ "windows-31j", "CP932" },
	{ "x-mac-roman", "MACINTOSH" },
	{ NULL, NULL },
};

/* Copy the charset label cs[0..n) into buf without any RFC 2231 "*lang"
 * suffix. Returns 0, or -1 if the label is empty, too long or holds bytes
 * no charset name has ('/' and ',' would reach iconv's option syntax). */
static int charset_clean(char *buf, size_t size, const char *cs, size_t n)
{
	const char *star = memchr(cs, '*', n);
	if (star)
		n = (size_t)(star - cs);
	while (n && (cs[n - 1] == ' ' || cs[n - 1] == '\t'))
		n--;
	while (n && (*cs == ' ' || *cs == '\t')) {
		cs++;
		n--;
	}
	if (n == 0 || n >= size)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cs[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '(' || c == ')'))
			return -1;
		buf[i] = (char)c;
	}
	buf[n] = '\0';
	return 0;
}

/* A one-entry cache of the last iconv descriptor, so a header with
 * thousands of encoded words opens the converter once. */
struct conv_cache {
	char name[CHARSET_NAME_MAX]; /* cleaned label of cd */
	iconv_t cd;                  /* (iconv_t)-1 when none */
	int passthrough;             /* label maps to "keep bytes" */
};

#define CONV_CACHE_INIT { "", (iconv_t)-1, 0 }

static void conv_cache_close(struct conv_cache *cc)
{
	if (cc->cd != (iconv_t)-1)
		iconv_close(cc->cd);
	cc->cd = (iconv_t)-1;
	cc->name[0] = '\0';
	cc->passthrough = 0;
}

/* Make cc ready for charset label cs. Returns 0, or -1 if unknown. */
static int conv_cache_open(struct conv_cache *cc, const char *cs, size_t n)
{
	char name[CHARSET_NAME_MAX];
	if (charset_clean(name, sizeof name, cs, n) < 0)
		return -1;
	if ((cc->cd != (iconv_t)-1 || cc->passthrough) && ascii_casecmp(cc->name, name) == 0)
		return 0;
	conv_cache_close(cc);
	const char *target = name;
	for (size_t i = 0; charset_aliases[i].label; i++) {
		if (ascii_casecmp(charset_aliases[i].label, name) == 0) {
			target = charset_aliases[i].iconv_name;
			break;
		}
	}
	if (!target) {
		cc->passthrough = 1;
	} else {
		cc->cd = iconv_open("UTF-8", target);
		if (cc->cd == (iconv_t)-1)
			return -1;
	}
	memcpy(cc->name, name, strlen(name) + 1);
	return 0;
}

/* Convert with the descriptor of cc; invalid input becomes U+FFFD, one per
 * skipped byte, a truncated sequence at the end one (include/codec.h). */
static void conv_cache_run(struct conv_cache *cc, struct sbuf *out, const void *in, size_t n)
{
	if (cc->passthrough) {
		sbuf_add(out, in, n);
		return;
	}
	codec_iconv_utf8(cc->cd, out, in, n);
}

int imf_charset_to_utf8(struct sbuf *out, const char *charset, const void *in, size_t n)
{
	struct conv_cache cc = CONV_CACHE_INIT;
	if (!charset || conv_cache_open(&cc, charset, strlen(charset)) < 0)
		return -1;
	conv_cache_run(&cc, out, in, n);
	conv_cache_close(&cc);
	return 0;
}

/* One parsed encoded word "=?charset?enc?text?=" (RFC 2047 §2). */
struct ew {
	const char *cs;   /* charset label (may carry *lang) */
	size_t cs_len;
	char enc;         /* 'B' or 'Q' */
	const char *text; /* encoded text */
	size_t text_len;
	size_t total;     /* bytes of the whole word */
};

/* Recognise an encoded word at p[0..n). Lenient on length (the 75-byte limit
 * of §2 is often broken) but not on shape: no whitespace or control bytes
 * inside, exactly the four '?' of the syntax. */
static int ew_parse(struct ew *w, const char *p, size_t n)
{
	if (n < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	size_t i = 2;
	while (i < n && p[i] != '?') {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f || i - 2 >= CHARSET_NAME_MAX)
			return 0;
		i++;
	}
	if (i >= n || i == 2)
		return 0;
	w->cs = p + 2;
	w->cs_len = i - 2;
	i++;
	if (i + 1 >= n || p[i + 1] != '?')
		return 0;
	char e = (char)ascii_lower((unsigned char)p[i]);
	if (e != 'b' && e != 'q')
		return 0;
	w->enc = e == 'b' ? 'B' : 'Q';
	i += 2;
	size_t t = i;
	while (i < n && p[i] != '?') {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f)
			return 0;
		i++;
	}
	if (i + 1 >= n || p[i + 1] != '=')
		return 0;
	w->text = p + t;
	w->text_len = i - t;
	w->total = i + 2;
	return 1;
}

/* Decode the encoded text of w to raw charset bytes. Returns 0 or -1. */
static int ew_decode_bytes(struct sbuf *out, const struct ew *w)
{
	if (w->enc == 'B')
		return b64_decode(out, w->text, w->text_len);
	for (size_t i = 0; i < w->text_len; i++) {
		char c = w->text[i];
		if (c == '_') {
			sbuf_addc(out, ' ');
		} else if (c == '=' && i + 2 < w->text_len && hexval((unsigned char)w->text[i + 1]) >= 0 &&
			   hexval((unsigned char)w->text[i + 2]) >= 0) {
			sbuf_addc(out, (char)(hexval((unsigned char)w->text[i + 1]) * 16 +
					      hexval((unsigned char)w->text[i + 2])));
			i += 2;
		} else {
			sbuf_addc(out, c); /* a stray '=' is kept (lenient) */
		}
	}
	return 0;
}

size_t imf_nul_to_fffd(struct sbuf *b, size_t from)
{
	if (!b->buf || from >= b->len || !memchr(b->buf + from, '\0', b->len - from))
		return 0;
	struct sbuf t = SBUF_INIT;
	size_t k = 0;
	for (size_t i = from; i < b->len; i++) {
		if (b->buf[i] == '\0') {
			sbuf_add(&t, "\xef\xbf\xbd", 3);
			k++;
		} else {
			sbuf_addc(&t, b->buf[i]);
		}
	}
	b->len = from;
	sbuf_add(b, t.buf, t.len);
	sbuf_free(&t);
	return k;
}

int rfc2047_decode(struct sbuf *out, const char *in, size_t n)
{
	size_t out_from = out->len;
	struct conv_cache cc = CONV_CACHE_INIT;
	struct sbuf pend = SBUF_INIT;   /* decoded bytes of adjacent words in one charset */
	char pend_cs[CHARSET_NAME_MAX] = "";
	int have_pend = 0, rc = 0;
	int last_ew = 0;                /* previous token was an encoded word */
	size_t ws_start = 0, ws_len = 0; /* whitespace held after an encoded word */
	size_t i = 0;

	while (i < n) {
		struct ew w;
		if (in[i] == '=' && ew_parse(&w, in + i, n - i)) {
			char cs[CHARSET_NAME_MAX];
			struct sbuf bytes = SBUF_INIT;
			int ok = charset_clean(cs, sizeof cs, w.cs, w.cs_len) == 0 &&
				 ew_decode_bytes(&bytes, &w) == 0;
			if (ok && !(have_pend && ascii_casecmp(pend_cs, cs) == 0)) {
				/* a new charset: convert what is pending first */
				if (have_pend) {
					conv_cache_run(&cc, out, pend.buf ? pend.buf : "", pend.len);
					sbuf_clear(&pend);
					have_pend = 0;
				}
				if (conv_cache_open(&cc, cs, strlen(cs)) < 0)
					ok = 0;
			}
			if (ok) {
				if (!last_ew && ws_len)
					sbuf_add(out, in + ws_start, ws_len);
				/* §6.2: whitespace between adjacent encoded words is dropped */
				ws_len = 0;
				if (!have_pend) {
					memcpy(pend_cs, cs, strlen(cs) + 1);
					have_pend = 1;
				}
				sbuf_add(&pend, bytes.buf ? bytes.buf : "", bytes.len);
				sbuf_free(&bytes);
				last_ew = 1;
				i += w.total;
				continue;
			}
			sbuf_free(&bytes);
			rc = -1; /* undecodable: copied below as plain text */
		}
		if (last_ew && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n')) {
			if (!ws_len)
				ws_start = i;
			ws_len++;
			i++;
			continue;
		}
		if (have_pend) {
			conv_cache_run(&cc, out, pend.buf ? pend.buf : "", pend.len);
			sbuf_clear(&pend);
			have_pend = 0;
		}
		if (ws_len) {
			sbuf_add(out, in + ws_start, ws_len);
			ws_len = 0;
		}
		last_ew = 0;
		/* copy a run of plain text up to the next possible encoded word */
		size_t j = i + 1;
		while (j < n && in[j] != '=')
			j++;
		sbuf_add(out, in + i, j - i);
		i = j;
	}
	if (have_pend)
		conv_cache_run(&cc, out, pend.buf ? pend.buf : "", pend.len);
	if (ws_len)
		sbuf_add(out, in + ws_start, ws_len);
	if (!out->buf)
		sbuf_add(out, "", 0);
	if (imf_nul_to_fffd(out, out_from) && rc == 0)
		rc = 1;
	sbuf_free(&pend);
	conv_cache_close(&cc);
	return rc;
}
