/* siphash — SipHash-c-d; contract in include/siphash.h. The algorithm as
 * the paper states it (§2): initialise v0..v3 from the key and four
 * constants, compress each little-endian 8-byte word m with c SipRounds
 * (v3 ^= m before, v0 ^= m after), the last word holding the remaining
 * bytes and the length mod 256 in its top byte, then v2 ^= 0xff, d
 * SipRounds and v0 ^ v1 ^ v2 ^ v3. */
#include "siphash.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	memcpy(&v, p, 8); /* one load */
	return v;
#else
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
#endif
}

/* Inlined into the two fixed-round wrappers, where c and d are constants
 * and the round loops unroll. */
static inline uint64_t sip(const struct siphash_key *k, int c, int d, const uint8_t *p, size_t len)
{
	uint64_t v0 = k->k0 ^ 0x736f6d6570736575ull, v1 = k->k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k->k0 ^ 0x6c7967656e657261ull, v3 = k->k1 ^ 0x7465646279746573ull;
	size_t n = len;
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t m = le64(p);
		v3 ^= m;
		for (int i = 0; i < c; i++)
			SIPHASH_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	uint64_t b = (uint64_t)(len & 0xff) << 56;
	for (size_t i = 0; i < n; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	for (int i = 0; i < c; i++)
		SIPHASH_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < d; i++)
		SIPHASH_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t siphash(const struct siphash_key *k, int c, int d, const void *msg, size_t len)
{
	return sip(k, c < 1 ? 1 : c, d < 1 ? 1 : d, msg, len);
}

uint64_t siphash24(const struct siphash_key *k, const void *msg, size_t len)
{
	return sip(k, 2, 4, msg, len);
}

uint64_t siphash13(const struct siphash_key *k, const void *msg, size_t len)
{
	return sip(k, 1, 3, msg, len);
}

void siphash_key_bytes(struct siphash_key *k, const uint8_t b[16])
{
	k->k0 = le64(b);
	k->k1 = le64(b + 8);
}

/* All 16 bytes from the kernel's pool, or nothing. */
static int entropy(uint8_t b[16])
{
	size_t got = 0;
	while (got < 16) {
		ssize_t r = getrandom(b + got, 16 - got, 0);
		if (r > 0)
			got += (size_t)r;
		else if (r < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	if (got == 16)
		return 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	got = 0;
	while (got < 16) {
		ssize_t r = read(fd, b + got, 16 - got);
		if (r > 0)
			got += (size_t)r;
		else if (r < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	close(fd);
	return got == 16 ? 0 : -1;
}

int siphash_key_random(struct siphash_key *k)
{
	uint8_t b[16];
	if (entropy(b) == 0) {
		siphash_key_bytes(k, b);
		memset(b, 0, sizeof b);
		return 0;
	}
	/* No entropy source at all (a chroot without /dev, a seccomp filter):
	 * clocks, pid and addresses, spread over both words by SipHash itself. */
	struct timespec r, m;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	uint64_t w[4] = { (uint64_t)r.tv_sec << 32 ^ (uint64_t)r.tv_nsec, (uint64_t)m.tv_sec << 32 ^ (uint64_t)m.tv_nsec,
	                  (uint64_t)getpid(), (uint64_t)(uintptr_t)k ^ (uint64_t)(uintptr_t)&r };
	struct siphash_key z = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };
	k->k0 = siphash24(&z, w, sizeof w);
	w[3] ^= k->k0;
	k->k1 = siphash24(&z, w, sizeof w);
	return -1;
}
