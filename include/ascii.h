/* ascii — the one home of the small byte helpers every parser needs: ASCII
 * case folding and comparisons (never the locale's: the wire is not in the
 * user's locale, and <ctype.h> under a Latin-1 locale folds 0xC0..0xDE),
 * hex digits, and the UTF-8 encoder. Header-only (static inline): these run
 * per byte in the parsers, and every layer may use them (base layer,
 * docs/design.md "Layers"). */
#ifndef SMTPSCOPE_ASCII_H
#define SMTPSCOPE_ASCII_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 'A'..'Z' to 'a'..'z'; every other value unchanged. */
static inline int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* 'a'..'z' to 'A'..'Z'; every other value unchanged. */
static inline int ascii_upper(int c)
{
	return (c >= 'a' && c <= 'z') ? c - 32 : c;
}

/* strncasecmp over ASCII only: compares at most n bytes, stops at a NUL;
 * the difference of the first folded bytes that differ, else 0. */
static inline int ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int x = ascii_lower((unsigned char)a[i]), y = ascii_lower((unsigned char)b[i]);
		if (x != y || !x)
			return x - y;
	}
	return 0;
}

/* strcasecmp over ASCII only. */
static inline int ascii_casecmp(const char *a, const char *b)
{
	return ascii_ncasecmp(a, b, (size_t)-1);
}

/* p[0..n) equals w[0..k), ASCII case-insensitively (p may hold NULs; they
 * never match a letter). */
static inline int ascii_eq_ci_n(const void *p, size_t n, const char *w, size_t k)
{
	const unsigned char *s = p;
	if (n != k)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(s[i]) != ascii_lower((unsigned char)w[i]))
			return 0;
	return 1;
}

/* p[0..n) equals the NUL-terminated lit, ASCII case-insensitively. */
static inline int ascii_eq_ci(const void *p, size_t n, const char *lit)
{
	return ascii_eq_ci_n(p, n, lit, strlen(lit)); /* lit is a literal: folded when inlined */
}

/* p[0..n) starts with the NUL-terminated pre, ASCII case-insensitively. */
static inline int ascii_prefix_ci(const void *p, size_t n, const char *pre)
{
	const unsigned char *s = p;
	size_t k = strlen(pre);
	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (ascii_lower(s[i]) != ascii_lower((unsigned char)pre[i]))
			return 0;
	return 1;
}

/* The value of a hex digit (either case), or -1. */
static inline int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Encode the code point c as UTF-8 into b; returns the length (1..4).
 * Surrogates and values above U+10FFFF are encoded as they are: rejecting
 * them (or mapping them to U+FFFD) is the decoder's job. */
static inline size_t utf8_put(char b[4], uint32_t c)
{
	if (c < 0x80) {
		b[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		b[0] = (char)(0xc0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		b[0] = (char)(0xe0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	b[0] = (char)(0xf0 | (c >> 18));
	b[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	b[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	b[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

#endif
