/* Shared helpers of the libFuzzer targets (fuzz/fuzz_*.c).
 *
 * Inputs are read through a tiny cursor; a record that runs past the end of
 * the input is cut to what is left (so every byte string is a valid input).
 * Multi-byte integers are little-endian. */
#ifndef SMTPSCOPE_FUZZ_COMMON_H
#define SMTPSCOPE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline int fz_more(const struct fz *f) { return f->n > 0; }

static inline uint8_t fz_u8(struct fz *f)
{
	if (!f->n)
		return 0;
	uint8_t v = f->p[0];
	f->p++, f->n--;
	return v;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t lo = fz_u8(f);
	return (uint16_t)(lo | (uint16_t)fz_u8(f) << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t lo = fz_u16(f);
	return lo | (uint32_t)fz_u16(f) << 16;
}

/* Take up to want bytes: *len gets how many were available. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t want, size_t *len)
{
	size_t k = want < f->n ? want : f->n;
	const uint8_t *p = f->p;
	f->p += k, f->n -= k;
	*len = k;
	return p;
}

/* Take up to want bytes as a private malloc'd copy exactly *len bytes long
 * (so a read past the end is caught by ASan); free() it. */
static inline uint8_t *fz_copy(struct fz *f, size_t want, size_t *len)
{
	const uint8_t *p = fz_bytes(f, want, len);
	uint8_t *c = malloc(*len ? *len : 1);
	if (c && *len)
		memcpy(c, p, *len);
	return c;
}

/* Read every byte of p[0..n) (so ASan checks a borrowed view end to end). */
static volatile uint8_t fz_sink;
static inline void fz_touch(const uint8_t *p, size_t n)
{
	uint8_t x = 0;
	for (size_t i = 0; i < n; i++)
		x ^= p[i];
	fz_sink = x;
}

#endif
