/* codec — small decoders shared by AUTH and header parsing. */
#ifndef SMTPSCOPE_CODEC_H
#define SMTPSCOPE_CODEC_H

#include <iconv.h>
#include <stddef.h>
#include <stdint.h>
#include "sbuf.h"

/* Decode base64 (RFC 4648 §4) from in[0..n) and append to out. Whitespace is
 * skipped; padding is optional. Returns 0 on success, -1 if a character
 * outside the alphabet, misplaced padding or an impossible length was seen
 * (out then holds what decoded before the error). Never reads past in+n. */
int b64_decode(struct sbuf *out, const void *in, size_t n);
/* Encode in[0..n) as base64 and append to out. */
void b64_encode(struct sbuf *out, const void *in, size_t n);

/* Convert in[0..n) to UTF-8 through cd (from iconv_open("UTF-8", charset)),
 * appending to out; cd starts from its initial shift state. A byte iconv
 * rejects becomes one U+FFFD and conversion resumes at the next byte, as the
 * WHATWG decoders do for GB18030, Shift_JIS and the like; an incomplete
 * sequence at the end of the input (a GB18030 four-byte form cut after one,
 * two or three bytes, half a UTF-16 unit) becomes exactly one U+FFFD. Shift
 * sequences are flushed at the end. out->buf stays NUL-terminated. */
void codec_iconv_utf8(iconv_t cd, struct sbuf *out, const void *in, size_t n);

#endif
