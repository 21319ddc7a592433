/* sbuf — growable byte buffer; see include/sbuf.h for the contract. */
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
	fputs("smtpscope: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *xstrndup(const char *p, size_t n)
{
	char *s = xmalloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

_Noreturn void sbuf_too_big(void)
{
	fputs("smtpscope: buffer size out of range\n", stderr);
	abort();
}

void sbuf_grow(struct sbuf *s, size_t extra)
{
	if (extra > SBUF_MAX || s->len > SBUF_MAX)
		sbuf_too_big(); /* len + extra + 1 and the doubling below cannot wrap */
	if (s->len + extra + 1 <= s->cap)
		return;
	size_t want = s->len + extra + 1;
	size_t cap = s->cap ? s->cap : 64;
	while (cap < want)
		cap *= 2;
	s->buf = xrealloc(s->buf, cap);
	s->cap = cap;
}

void sbuf_adds(struct sbuf *s, const char *str)
{
	sbuf_add(s, str, strlen(str));
}

void sbuf_addf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		sbuf_add(s, tmp, (size_t)n);
		return;
	}
	sbuf_reserve(s, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

void sbuf_clear(struct sbuf *s)
{
	s->len = 0;
	if (s->buf)
		s->buf[0] = '\0';
}

void sbuf_free(struct sbuf *s)
{
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

const char *sbuf_str(const struct sbuf *s)
{
	return s->buf ? s->buf : "";
}
