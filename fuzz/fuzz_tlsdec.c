/* libFuzzer target: the TLS decryptor and the key store (include/tls_crypt.h,
 * src/tls_crypt.c, src/tls_keys.c).
 *
 * Input: byte 0 selects the mode (mod 3), then
 *  0  key log text for tls_keys_add_text (and lookups of randoms from it);
 *  1  TLS 1.0-1.2: u8 version (0x0301 + v % 3), u16 suite, u8 flags (bit 0
 *     encrypt-then-MAC), master secret (48), client random (32), server
 *     random (32), then records;
 *  2  TLS 1.3: u16 suite, u8 n + n bytes secret A, u8 m + m bytes secret B
 *     (both capped at TLS_SECRET_MAX), then records; both directions start
 *     from secret A.
 * A record: u8 ctl (bit 0 direction; TLS 1.3: bit 1 KeyUpdate before it,
 * bit 2 the direction moves to secret B), u8 type, u16 version, u16 length,
 * then that many bytes (cut to what is left) as an exact-size heap copy,
 * with an output buffer of exactly that size, so any over-read or
 * over-write trips ASan. Oracles: the plaintext is never longer than the
 * record, *out_n is 0 on failure, a TLS 1.3 inner type is never 0. */
#include <stdlib.h>
#include <string.h>

#include "tls_crypt.h"
#include "fuzz_common.h"

static void records(struct fz *f, struct tls_dir_crypt *d[2], bool tls13, uint16_t suite,
                    const uint8_t *b, size_t bn)
{
	for (int i = 0; i < 64 && fz_more(f); i++) {
		uint8_t ctl = fz_u8(f), type = fz_u8(f);
		uint16_t version = fz_u16(f), len = fz_u16(f);
		int dir = ctl & 1;
		if (tls13 && (ctl & 4)) {
			tls_dir_free(d[dir]);
			d[dir] = tls13_keys(suite, b, bn);
		}
		if (tls13 && (ctl & 2) && d[dir] && !tls13_key_update(d[dir]))
			abort(); /* a live TLS 1.3 direction can always take a KeyUpdate */
		size_t n;
		uint8_t *body = fz_copy(f, len, &n);
		uint8_t *out = malloc(n ? n : 1);
		size_t on = 12345;
		uint8_t it = 0;
		if (d[dir]) {
			bool ok = tls_dir_open(d[dir], type, version, body, n, out, &on, &it);
			if (ok && on > n)
				abort();
			if (!ok && on != 0)
				abort();
			if (ok && tls13 && it == 0)
				abort();
		}
		free(out);
		free(body);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t mode = fz_u8(&f) % 3;
	if (mode == 0) {
		struct tls_keys *k = tls_keys_new();
		tls_keys_set_limit(k, 1000);
		size_t n;
		uint8_t *text = fz_copy(&f, f.n, &n);
		tls_keys_add_text(k, text, n);
		if (tls_keys_count(k) > 1000)
			abort();
		/* look up every 32-byte window that could be a random */
		struct tls_secret s;
		for (size_t i = 0; i + 32 <= n && i < 4096; i += 97)
			for (int kind = 0; kind < TLS_SECRET__COUNT; kind++)
				if (tls_keys_lookup(k, text + i, (enum tls_secret_kind)kind, &s) &&
				    (s.n == 0 || s.n > TLS_SECRET_MAX))
					abort();
		free(text);
		tls_keys_free(k);
		return 0;
	}
	struct tls_dir_crypt *d[2] = { NULL, NULL };
	if (mode == 1) {
		uint16_t version = (uint16_t)(0x0301 + fz_u8(&f) % 3);
		uint16_t suite = fz_u16(&f);
		uint8_t flags = fz_u8(&f);
		uint8_t m[48] = { 0 }, cr[32] = { 0 }, sr[32] = { 0 };
		size_t n;
		const uint8_t *p = fz_bytes(&f, 48, &n); /* (n is set by the call: not in one expression) */
		memcpy(m, p, n);
		p = fz_bytes(&f, 32, &n);
		memcpy(cr, p, n);
		p = fz_bytes(&f, 32, &n);
		memcpy(sr, p, n);
		bool ok = tls12_keys(version, suite, m, cr, sr, flags & 1, d);
		if (ok != tls_crypt_suite_supported(version, suite) || (ok && (!d[0] || !d[1])) || (!ok && (d[0] || d[1])))
			abort();
		if (ok)
			records(&f, d, false, suite, NULL, 0);
	} else {
		uint16_t suite = fz_u16(&f);
		uint8_t a[TLS_SECRET_MAX], b[TLS_SECRET_MAX];
		size_t an, bn;
		size_t want = fz_u8(&f) % (TLS_SECRET_MAX + 1);
		const uint8_t *p = fz_bytes(&f, want, &an);
		memcpy(a, p, an);
		want = fz_u8(&f) % (TLS_SECRET_MAX + 1);
		p = fz_bytes(&f, want, &bn);
		memcpy(b, p, bn);
		d[0] = tls13_keys(suite, a, an);
		d[1] = tls13_keys(suite, a, an);
		if ((d[0] != NULL) != (d[1] != NULL))
			abort();
		records(&f, d, true, suite, b, bn);
	}
	tls_dir_free(d[0]);
	tls_dir_free(d[1]);
	return 0;
}
