/* esc — the one escaper per output medium (GUIDE §2). Bytes from the wire reach
 * a terminal or a JSON string only through these functions.
 *
 *  - terminal: printable ASCII and valid, printable UTF-8 pass; everything else
 *    (C0 controls, DEL, ESC, C1 controls U+0080..U+009F, invalid UTF-8) becomes
 *    \xHH and a backslash becomes \\, so nothing can drive the terminal.
 *  - JSON: valid UTF-8 passes; '"', '\\' and control characters use JSON
 *    escapes; each byte that is not part of valid UTF-8 becomes the lone
 *    surrogate escape \udcHH (Python's "surrogateescape", PEP 383), so the
 *    original bytes can be recovered exactly. See docs/schema.md, "Strings".
 */
#ifndef SMTPSCOPE_ESC_H
#define SMTPSCOPE_ESC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "sbuf.h"

/* Appends for output builders: the same effect as sbuf_add/sbuf_addc/
 * sbuf_adds, inlined (records are built from many short pieces). */
static inline void ob_add(struct sbuf *s, const void *p, size_t n)
{
	if (s->len + n + 1 > s->cap)
		sbuf_reserve(s, n);
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

static inline void ob_addc(struct sbuf *s, char c)
{
	if (s->len + 2 > s->cap)
		sbuf_reserve(s, 1);
	s->buf[s->len++] = c;
	s->buf[s->len] = '\0';
}

static inline void ob_adds(struct sbuf *s, const char *str)
{
	ob_add(s, str, strlen(str));
}

/* Append v in decimal (as printf "%" PRIu64 / "%d" would). */
void ob_u64(struct sbuf *s, uint64_t v);
void ob_int(struct sbuf *s, long long v);

/* Append p[0..n) escaped for a terminal. */
void esc_tty(struct sbuf *out, const void *p, size_t n);
/* Append p[0..n) as the *inside* of a JSON string (no quotes added). */
void esc_json(struct sbuf *out, const void *p, size_t n);
/* Append a complete JSON string literal with quotes; NULL gives null. */
void esc_json_str(struct sbuf *out, const char *s);
void esc_json_strn(struct sbuf *out, const void *p, size_t n);

/* Length of the valid UTF-8 sequence starting at p (1..4), or 0 if invalid
 * (overlongs, surrogates and code points above U+10FFFF are invalid). */
size_t utf8_seq_len(const uint8_t *p, size_t avail);
/* 1 if the whole buffer is valid UTF-8. */
int utf8_valid(const void *p, size_t n);

#endif
