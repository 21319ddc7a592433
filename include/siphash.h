/* siphash — SipHash, a keyed hash for tables whose keys come from the wire.
 *
 * J.-P. Aumasson, D. J. Bernstein, "SipHash: a fast short-input PRF"
 * (INDOCRYPT 2012). SipHash-c-d: c compression rounds per 8-byte message
 * word, d finalisation rounds; a 128-bit secret key. Without the key an
 * attacker cannot choose inputs that collide (hash flooding), whatever the
 * table does with the 64-bit result.
 *
 * SipHash-2-4 is the paper's recommendation; SipHash-1-3 is what CPython
 * (since 3.11), Rust's HashMap and others use for hash tables and what the
 * per-packet flow table uses. Both come from the same code with the round
 * counts as parameters; tests/unit/test_flow.c checks 2-4 against the
 * paper's vector and 1-3 against the reference implementation's.
 *
 * The message is read as little-endian 64-bit words (the paper's byte
 * order), so results do not depend on the host. */
#ifndef SMTPSCOPE_SIPHASH_H
#define SMTPSCOPE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1; /* the key's bytes 0-7 and 8-15, little-endian */
};

/* A fresh secret key: getrandom(2), else /dev/urandom; only if both fail
 * (no entropy source at all) a mix of clocks, pid and addresses, which an
 * attacker who sees neither cannot predict well but which is not secret.
 * Returns 0 with real entropy, -1 with the fallback. */
int siphash_key_random(struct siphash_key *k);
/* The key from 16 bytes (tests, reproducible runs). */
void siphash_key_bytes(struct siphash_key *k, const uint8_t b[16]);

/* SipHash-c-d of msg[0..len). c and d are at least 1. */
uint64_t siphash(const struct siphash_key *k, int c, int d, const void *msg, size_t len);
uint64_t siphash24(const struct siphash_key *k, const void *msg, size_t len);
uint64_t siphash13(const struct siphash_key *k, const void *msg, size_t len);

/* SipHash-1-3 of the 12-byte message le48(a) || le48(b) (the low 48 bits of
 * each), without a buffer: the flow table's IPv4 key (two endpoints of 48
 * bits) on the per-packet path, in one message word and the final word,
 * five SipRounds in all. Equal to siphash13() over those 12 bytes (tested). */
#define SIPHASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPHASH_ROUND(v0, v1, v2, v3) do { \
	v0 += v1; v1 = SIPHASH_ROTL(v1, 13); v1 ^= v0; v0 = SIPHASH_ROTL(v0, 32); \
	v2 += v3; v3 = SIPHASH_ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = SIPHASH_ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = SIPHASH_ROTL(v1, 17); v1 ^= v2; v2 = SIPHASH_ROTL(v2, 32); \
} while (0)

static inline uint64_t siphash13_u48x2(const struct siphash_key *k, uint64_t a, uint64_t b)
{
	uint64_t v0 = k->k0 ^ 0x736f6d6570736575ull, v1 = k->k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k->k0 ^ 0x6c7967656e657261ull, v3 = k->k1 ^ 0x7465646279746573ull;
	const uint64_t m = (a & 0xffffffffffffull) | b << 48;                 /* bytes 0-7 */
	const uint64_t t = (b >> 16 & 0xffffffffull) | (uint64_t)12 << 56;   /* bytes 8-11, the length */
	v3 ^= m; SIPHASH_ROUND(v0, v1, v2, v3); v0 ^= m;
	v3 ^= t; SIPHASH_ROUND(v0, v1, v2, v3); v0 ^= t;
	v2 ^= 0xff;
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	SIPHASH_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif
