/* The one escaper per medium: nothing from the wire drives a terminal, and
 * JSON strings stay valid and lossless. */
#include "harness.h"

#include "esc.h"

static void tty(const char *in, size_t n, const char *want)
{
	struct sbuf b = SBUF_INIT;
	esc_tty(&b, in, n);
	CHECK_STR(sbuf_str(&b), want);
	sbuf_free(&b);
}

static void json(const char *in, size_t n, const char *want)
{
	struct sbuf b = SBUF_INIT;
	esc_json(&b, in, n);
	CHECK_STR(sbuf_str(&b), want);
	sbuf_free(&b);
}

#define T(s, w) tty(s, sizeof(s) - 1, w)
#define J(s, w) json(s, sizeof(s) - 1, w)

int main(void)
{
	T("plain ascii", "plain ascii");
	T("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07");
	T("a\\b", "a\\\\b");
	T("nul\0x", "nul\\x00x");
	T("del\x7f", "del\\x7f");
	T("\xc2\x9b" "1m", "\\xc2\\x9b1m");                 /* C1 CSI */
	T("\xd0\x9f\xd1\x80\xd0\xb8", "\xd0\x9f\xd1\x80\xd0\xb8"); /* Cyrillic passes */
	T("\xe6\xb5\x8b", "\xe6\xb5\x8b");                   /* CJK passes */
	T("x\xe2\x80\xaey", "x\\xe2\\x80\\xaey");            /* RLO */
	T("\xe2\x81\xa6z", "\\xe2\\x81\\xa6z");              /* LRI */
	T("\xff\xfe", "\\xff\\xfe");                         /* invalid UTF-8 */
	T("\xed\xa0\x80", "\\xed\\xa0\\x80");                /* a surrogate */
	T("\xc0\xaf", "\\xc0\\xaf");                         /* overlong */
	J("say \"hi\"\\\n\t", "say \\\"hi\\\"\\\\\\n\\t");
	J("\x01\x1f", "\\u0001\\u001f");
	J("\xd0\x9f", "\xd0\x9f");
	J("\xff" "a", "\\udcffa");                            /* surrogateescape */
	J("\x1b[31m", "\\u001b[31m");
	CHECK(utf8_valid("\xe2\x82\xac", 3));
	CHECK(!utf8_valid("\xe2\x82", 2));
	TEST_MAIN_END();
}
