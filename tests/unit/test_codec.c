/* codec: base64 both ways, and charset bytes to UTF-8 with the replacement
 * policy of the WHATWG decoders: an invalid byte is one U+FFFD and decoding
 * resumes after it; an incomplete sequence at the end is exactly one U+FFFD
 * (GB18030's four-byte form is where this used to give two, and a digit). */
#include "harness.h"

#include <iconv.h>

#include "codec.h"
#include "imf.h"

#define FFFD "\xef\xbf\xbd"

static void b64d(const char *in, int want_rc, const char *want)
{
	struct sbuf b = SBUF_INIT;
	int rc = b64_decode(&b, in, strlen(in));
	CHECK(rc == want_rc);
	if (rc == 0)
		CHECK_STR(sbuf_str(&b), want);
	sbuf_free(&b);
}

static void b64e(const char *in, const char *want)
{
	struct sbuf b = SBUF_INIT;
	b64_encode(&b, in, strlen(in));
	CHECK_STR(sbuf_str(&b), want);
	sbuf_free(&b);
}

/* Through the public path the header parser uses (label aliases included). */
static void cs(const char *charset, const char *in, size_t n, const char *want)
{
	struct sbuf b = SBUF_INIT;
	CHECK(imf_charset_to_utf8(&b, charset, in, n) == 0);
	CHECK_STR(sbuf_str(&b), want);
	sbuf_free(&b);
}

/* Straight through codec_iconv_utf8 with a descriptor of our own. */
static void cd_run(const char *from, const char *in, size_t n, const char *want)
{
	iconv_t cd = iconv_open("UTF-8", from);
	CHECK(cd != (iconv_t)-1);
	if (cd == (iconv_t)-1)
		return;
	struct sbuf b = SBUF_INIT;
	sbuf_add(&b, "<", 1); /* appends, never overwrites */
	codec_iconv_utf8(cd, &b, in, n);
	sbuf_add(&b, ">", 1);
	CHECK_STR(sbuf_str(&b), want);
	sbuf_free(&b);
	iconv_close(cd);
}

static void ew(const char *in, const char *want)
{
	struct sbuf b = SBUF_INIT;
	rfc2047_decode(&b, in, strlen(in));
	CHECK_STR(sbuf_str(&b), want);
	sbuf_free(&b);
}

#define CS(c, s, w) cs(c, s, sizeof(s) - 1, w)
#define CD(c, s, w) cd_run(c, s, sizeof(s) - 1, w)

int main(void)
{
	b64d("dGVzdA==", 0, "test");
	b64d("dGVzdA", 0, "test");
	b64d("dGV zdA==\r\n", 0, "test");
	b64d("dGVzd", -1, NULL);
	b64d("dG=Vz", -1, NULL);
	b64d("d*Vz", -1, NULL);
	b64e("test", "dGVzdA==");
	b64e("te", "dGU=");
	b64e("", "");

	/* GB18030: complete one-, two- and four-byte forms */
	CS("gb18030", "A\xb2\xe2\xca\xd4", "A\xe6\xb5\x8b\xe8\xaf\x95"); /* A测试 */
	CS("gb18030", "\x81\x30\x81\x30", "\xc2\x80");                    /* U+0080 */
	/* incomplete at the end: one U+FFFD for the whole sequence */
	CS("gb18030", "\x81", FFFD);
	CS("gb18030", "\x81\x30", FFFD);
	CS("gb18030", "\x81\x30\x81", FFFD);
	CS("gb18030", "x\x81\x30\x81", "x" FFFD);
	CS("gb2312", "\xb2\xe2\xca", "\xe6\xb5\x8b" FFFD);               /* 测 + a lead byte */
	CS("gbk", "\xb2\xe2\x81\x30", "\xe6\xb5\x8b" FFFD);
	/* invalid in the middle: one U+FFFD, then the bytes after the lead are
	 * read again (WHATWG's GB18030 decoder does the same) */
	CS("gb18030", "\x81\x30\x41", FFFD "0A");
	CS("gb18030", "\x81\x30\x81\x41", FFFD "0\xe4\xb8\x84");         /* ... 丂 */
	CS("gb18030", "\xb2 z", FFFD " z");
	CS("gb18030", "\xff" "a", FFFD "a");
	/* other multibyte charsets follow the same rule */
	CS("shift_jis", "a\x82", "a" FFFD);
	CS("utf-16le", "a\0b", "a" FFFD);
	CS("utf-16le", "a\0\x3d\xd8", "a" FFFD);                          /* a lone high surrogate */
	CS("utf-16le", "a\0\x3d\xd8\x41", "a" FFFD);                      /* ... and half a unit */
	CS("euc-jp", "a\x8f\x41", "a" FFFD "A");                           /* not a second byte */

	/* the function itself, with a descriptor of the caller's */
	CD("GB18030", "\x81\x30\x81", "<" FFFD ">");
	CD("GB18030", "\xb2\xe2\xca\xd4\x81", "<\xe6\xb5\x8b\xe8\xaf\x95" FFFD ">");
	CD("GB18030", "", "<>");
	CD("ISO-2022-JP", "\x1b$B$\"\x1b(B", "<\xe3\x81\x82>");            /* あ, shift back */
	/* the descriptor's state does not leak from one call to the next */
	{
		iconv_t cd = iconv_open("UTF-8", "GB18030");
		struct sbuf b = SBUF_INIT;
		codec_iconv_utf8(cd, &b, "\x81\x30", 2);
		codec_iconv_utf8(cd, &b, "\x81\x30", 2);
		CHECK_STR(sbuf_str(&b), FFFD FFFD);
		sbuf_free(&b);
		iconv_close(cd);
	}

	/* an encoded word whose GB2312 text ends in half a character */
	ew("=?gb2312?B?suLK1LI=?=", "\xe6\xb5\x8b\xe8\xaf\x95" FFFD);     /* 测试 + b2 */
	ew("=?gb18030?Q?=81=30=81?= ok", FFFD " ok");

	TEST_MAIN_END();
}
