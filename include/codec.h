/* codec — small decoders shared by AUTH and header parsing. */
#ifndef SMTPSCOPE_CODEC_H
#define SMTPSCOPE_CODEC_H

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

#endif
