/* include/ascii.h: the shared byte helpers (case folding, comparisons,
 * prefix tests, hex digits, the UTF-8 encoder), compared with what they
 * replace: <ctype.h>/<strings.h> in the C locale, and the code points'
 * UTF-8 forms from RFC 3629 §3. */
#include <stdint.h>
#include <strings.h>

#include "ascii.h"
#include "harness.h"

static int sign(int x) { return (x > 0) - (x < 0); }

int main(void)
{
	/* folding: only A-Z / a-z move, for every byte value */
	int moved = 0;
	for (int c = 0; c < 256; c++) {
		int l = ascii_lower(c), u = ascii_upper(c);
		if (l != c || u != c)
			moved++;
		CHECK(ascii_lower(u) == ascii_lower(c));
	}
	CHECK(moved == 52);
	CHECK(ascii_lower('Q') == 'q' && ascii_upper('q') == 'Q' && ascii_lower(0xc4) == 0xc4);

	/* comparisons agree in sign with strcasecmp/strncasecmp (C locale) */
	static const char *s[] = { "", "a", "A", "ab", "AB", "aB", "b", "localhost", "LOCALHOST.",
	                           "IPv6:", "ipv6:1", "\xc3\x84", "\xc3\xa4", "[", "_", "Z" };
	for (size_t i = 0; i < sizeof s / sizeof *s; i++)
		for (size_t j = 0; j < sizeof s / sizeof *s; j++) {
			CHECK(sign(ascii_casecmp(s[i], s[j])) == sign(strcasecmp(s[i], s[j])));
			for (size_t n = 0; n < 4; n++)
				CHECK(sign(ascii_ncasecmp(s[i], s[j], n)) == sign(strncasecmp(s[i], s[j], n)));
		}

	/* exact-length and prefix tests over bytes (not C strings) */
	CHECK(ascii_eq_ci("Content-Type", 12, "content-type"));
	CHECK(ascii_eq_ci("CONTENT-TYPE", 12, "Content-Type"));
	CHECK(!ascii_eq_ci("Content-Typ", 11, "content-type"));
	CHECK(!ascii_eq_ci("Content-Types", 13, "content-type"));
	CHECK(!ascii_eq_ci("Content-Typ\0", 12, "content-type"));
	CHECK(ascii_eq_ci("", 0, ""));
	CHECK(ascii_prefix_ci("USER=bob", 8, "user="));
	CHECK(ascii_prefix_ci("user=", 5, "USER="));
	CHECK(!ascii_prefix_ci("user", 4, "user="));
	CHECK(!ascii_prefix_ci("usEr:x", 6, "user="));
	CHECK(ascii_prefix_ci("x", 1, ""));

	/* hex digits */
	int ok = 1;
	for (int c = 0; c < 256; c++) {
		int want = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		ok &= hexval(c) == want;
	}
	CHECK(ok);

	/* UTF-8 (RFC 3629 §3 and §7 examples) */
	static const struct { uint32_t cp; const char *u; } u8[] = {
		{ 0x41, "A" }, { 0x7f, "\x7f" }, { 0x80, "\xc2\x80" }, { 0x391, "\xce\x91" },
		{ 0x7ff, "\xdf\xbf" }, { 0x800, "\xe0\xa0\x80" }, { 0xd55c, "\xed\x95\x9c" },
		{ 0xfffd, "\xef\xbf\xbd" }, { 0xffff, "\xef\xbf\xbf" }, { 0x10000, "\xf0\x90\x80\x80" },
		{ 0x233b4, "\xf0\xa3\x8e\xb4" }, { 0x10ffff, "\xf4\x8f\xbf\xbf" },
	};
	for (size_t i = 0; i < sizeof u8 / sizeof *u8; i++) {
		char b[4];
		size_t n = utf8_put(b, u8[i].cp);
		CHECK_MEM(b, n, u8[i].u, strlen(u8[i].u));
	}
	TEST_MAIN_END();
}
