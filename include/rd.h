/* rd — the bounded reader (after tcpdump's GET_U_1/ND_TCHECK). All wire bytes
 * are read through it: a cursor {p, end} with a sticky error flag. Reading
 * past the end sets err and yields 0; callers check err once after a group of
 * reads. Wire structures are never cast onto packet memory. */
#ifndef SMTPSCOPE_RD_H
#define SMTPSCOPE_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd {
	const uint8_t *p;   /* next byte to read */
	const uint8_t *end; /* one past the last readable byte */
	bool err;           /* a read went past end (sticky) */
};

static inline struct rd rd_make(const uint8_t *p, size_t n)
{
	struct rd r = { p, p + n, false };
	return r;
}

static inline size_t rd_left(const struct rd *r)
{
	return (size_t)(r->end - r->p);
}

static inline bool rd_need(struct rd *r, size_t n)
{
	if (r->err || rd_left(r) < n) {
		r->err = true;
		return false;
	}
	return true;
}

static inline uint8_t rd_u8(struct rd *r)
{
	if (!rd_need(r, 1))
		return 0;
	return *r->p++;
}

static inline uint16_t rd_be16(struct rd *r)
{
	if (!rd_need(r, 2))
		return 0;
	uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return v;
}

static inline uint16_t rd_le16(struct rd *r)
{
	if (!rd_need(r, 2))
		return 0;
	uint16_t v = (uint16_t)(r->p[1] << 8 | r->p[0]);
	r->p += 2;
	return v;
}

static inline uint32_t rd_be32(struct rd *r)
{
	if (!rd_need(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return v;
}

static inline uint32_t rd_le32(struct rd *r)
{
	if (!rd_need(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->p[3] << 24 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[1] << 8 | r->p[0];
	r->p += 4;
	return v;
}

static inline void rd_skip(struct rd *r, size_t n)
{
	if (rd_need(r, n))
		r->p += n;
}

/* Copy n bytes out (zero-filled on error). */
static inline void rd_copy(struct rd *r, void *dst, size_t n)
{
	if (rd_need(r, n)) {
		memcpy(dst, r->p, n);
		r->p += n;
	} else {
		memset(dst, 0, n);
	}
}

/* Borrow n bytes in place; NULL on error. */
static inline const uint8_t *rd_take(struct rd *r, size_t n)
{
	if (!rd_need(r, n))
		return NULL;
	const uint8_t *q = r->p;
	r->p += n;
	return q;
}

/* Fixed-offset loads for headers whose length was checked once up front
 * (the hot IPv4/TCP path): p[0..1] / p[0..3] must be inside the buffer. */
static inline uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32_at(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}

#endif
