/* sbuf — a small growable byte buffer (in the spirit of antirez's sds, but a
 * plain struct). The buffer is always NUL-terminated so it can be printed, yet
 * it may hold NUL bytes; len is authoritative.
 *
 * Ownership: the struct owns buf. sbuf_free() releases it and leaves an empty
 * buffer that can be reused. Allocation failure aborts (out-of-memory is the one
 * condition on which smtpscope gives up, see docs/design.md). */
#ifndef SMTPSCOPE_SBUF_H
#define SMTPSCOPE_SBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sbuf {
	char  *buf; /* NUL-terminated storage, NULL while empty and never grown */
	size_t len; /* bytes in use, not counting the terminator */
	size_t cap; /* bytes allocated */
};

#define SBUF_INIT { NULL, 0, 0 }

/* No buffer grows past this (a quarter of the address space): a length
 * beyond it is a bug, and aborts like out-of-memory instead of wrapping
 * len + extra + 1 around. The bound also tells the compiler (and
 * _FORTIFY_SOURCE's object-size checks) that an append is never SIZE_MAX long. */
#define SBUF_MAX ((size_t)PTRDIFF_MAX / 2)

void sbuf_grow(struct sbuf *s, size_t extra);             /* out-of-line part of sbuf_reserve */
_Noreturn void sbuf_too_big(void);                        /* abort: a size beyond SBUF_MAX */

/* The appends are inline: the common case (room left) is a compare and a
 * copy, without a call. */
static inline void sbuf_reserve(struct sbuf *s, size_t extra) /* room for extra more bytes */
{
	if (extra > SBUF_MAX)
		sbuf_too_big();
	if (s->len + extra + 1 > s->cap)
		sbuf_grow(s, extra);
}

static inline void sbuf_add(struct sbuf *s, const void *p, size_t n) /* append n bytes */
{
	sbuf_reserve(s, n);
	if (n)
		memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

static inline void sbuf_addc(struct sbuf *s, char c) /* append one byte */
{
	sbuf_reserve(s, 1);
	s->buf[s->len++] = c;
	s->buf[s->len] = '\0';
}

void sbuf_adds(struct sbuf *s, const char *str);          /* append a C string */
void sbuf_addf(struct sbuf *s, const char *fmt, ...)      /* append printf-style (constant formats only) */
	__attribute__((format(printf, 2, 3)));
void sbuf_clear(struct sbuf *s);                           /* len = 0, keep storage */
void sbuf_free(struct sbuf *s);                            /* release storage */
const char *sbuf_str(const struct sbuf *s);                /* "" when empty */

/* xmalloc family: abort with a message on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *p, size_t n);

#endif
