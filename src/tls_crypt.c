/* tls_crypt — TLS record protection (decryption side); contract in
 * include/tls_crypt.h. Every primitive is OpenSSL 3 libcrypto's:
 *  - TLS 1.0/1.1 and 1.2 PRF: EVP_KDF "TLS1-PRF" (digest "MD5-SHA1" below
 *    TLS 1.2, the suite's PRF hash from 1.2 on), RFC 5246 5 and 6.3;
 *  - TLS 1.3 HKDF-Expand-Label: EVP_KDF "HKDF" in EXPAND_ONLY mode over the
 *    HkdfLabel structure of RFC 8446 7.1;
 *  - AEAD: EVP_CIPHER AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305;
 *  - CBC suites: EVP_CIPHER AES-128/256-CBC, DES-EDE3-CBC without padding,
 *    HMAC through EVP_MAC; the padding and the MAC are both checked (the
 *    MAC with CRYPTO_memcmp) and any failure is a clean false.
 * Nonces (facts from the RFCs):
 *  - TLS 1.2 GCM (RFC 5288 3): salt(4, from the key block) || explicit(8,
 *    the first bytes of the record body); AAD = seq || type || version ||
 *    plaintext length;
 *  - TLS 1.2 ChaCha20-Poly1305 (RFC 7905 2): iv(12) XOR (0^32 || seq);
 *    AAD as GCM; no explicit nonce;
 *  - TLS 1.3 (RFC 8446 5.3): iv(12) XOR (0^32 || seq); AAD = the record
 *    header; the plaintext is content || type || zeros (5.4).
 *  - CBC: TLS 1.1+ explicit IV (the first block of the body); TLS 1.0 the
 *    last ciphertext block of the previous record (the first IV from the key
 *    block); MAC-then-encrypt (RFC 5246 6.2.3.2) or encrypt-then-MAC
 *    (RFC 7366 3). */
#include "tls_crypt.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "sbuf.h"

enum tc_mode {
	TC_GCM12 = 1,     /* TLS 1.2 AES-GCM, explicit nonce */
	TC_CHACHA12,      /* TLS 1.2 ChaCha20-Poly1305 (RFC 7905) */
	TC_CBC,           /* TLS 1.0-1.2 block cipher + HMAC */
	TC_AEAD13,        /* TLS 1.3 */
};

#define TC_TAG    16
#define TC_KEYMAX 32
#define TC_IVMAX  16
#define TC_MACMAX 48
#define TC_SEQ_MAX UINT64_MAX

struct tls_dir_crypt {
	enum tc_mode mode;
	uint16_t version, suite;
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
	EVP_MAC *mac;
	EVP_MAC_CTX *mctx;
	size_t key_len, iv_len, mac_len, block;
	uint8_t key[TC_KEYMAX];
	uint8_t iv[TC_IVMAX];            /* GCM12: salt (4); CHACHA12/AEAD13: 12; CBC TLS 1.0: chained IV */
	uint64_t seq;
	bool etm;                        /* RFC 7366 */
	bool chained_iv;                 /* TLS 1.0 CBC */
	/* TLS 1.3: the current traffic secret and its hash, for KeyUpdate */
	const char *hash;
	uint8_t secret[TLS_SECRET_MAX];
	size_t secret_len;
};

/* ---- suites ------------------------------------------------------------- */

struct tc_suite {
	uint16_t id;
	enum tc_mode mode;
	const char *cipher;       /* EVP_CIPHER name */
	uint8_t key_len;
	uint8_t iv_len;           /* key-block IV bytes: GCM 4, ChaCha 12, CBC the block size */
	const char *mac;          /* CBC: the HMAC digest, NULL for AEAD */
	uint8_t mac_len;
	const char *prf;          /* TLS 1.2 PRF hash */
};

/* TLS 1.0-1.2 suites we decrypt (IANA TLS Cipher Suites registry; RFC 5246,
 * 5288, 5289, 4492, 5487, 7905). The key exchange does not matter: the key
 * log gives the master secret. */
static const struct tc_suite SUITES12[] = {
	/* AES-GCM */
	{ 0x009C, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* RSA */
	{ 0x009D, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0x009E, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* DHE_RSA */
	{ 0x009F, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0x00A2, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* DHE_DSS */
	{ 0x00A3, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0x00A6, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* DH_anon */
	{ 0x00A7, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0x00A8, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* PSK */
	{ 0x00A9, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0x00AA, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* DHE_PSK */
	{ 0x00AB, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0x00AC, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* RSA_PSK */
	{ 0x00AD, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0xC02B, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* ECDHE_ECDSA */
	{ 0xC02C, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0xC02D, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* ECDH_ECDSA */
	{ 0xC02E, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0xC02F, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* ECDHE_RSA */
	{ 0xC030, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	{ 0xC031, TC_GCM12, "AES-128-GCM", 16, 4, NULL, 0, "SHA256" }, /* ECDH_RSA */
	{ 0xC032, TC_GCM12, "AES-256-GCM", 32, 4, NULL, 0, "SHA384" },
	/* ChaCha20-Poly1305, RFC 7905 */
	{ 0xCCA8, TC_CHACHA12, "ChaCha20-Poly1305", 32, 12, NULL, 0, "SHA256" },
	{ 0xCCA9, TC_CHACHA12, "ChaCha20-Poly1305", 32, 12, NULL, 0, "SHA256" },
	{ 0xCCAA, TC_CHACHA12, "ChaCha20-Poly1305", 32, 12, NULL, 0, "SHA256" },
	{ 0xCCAB, TC_CHACHA12, "ChaCha20-Poly1305", 32, 12, NULL, 0, "SHA256" },
	{ 0xCCAC, TC_CHACHA12, "ChaCha20-Poly1305", 32, 12, NULL, 0, "SHA256" },
	{ 0xCCAD, TC_CHACHA12, "ChaCha20-Poly1305", 32, 12, NULL, 0, "SHA256" },
	{ 0xCCAE, TC_CHACHA12, "ChaCha20-Poly1305", 32, 12, NULL, 0, "SHA256" },
	/* AES-CBC with HMAC-SHA1 */
	{ 0x002F, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* RSA */
	{ 0x0035, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0x0032, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* DHE_DSS */
	{ 0x0038, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0x0033, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* DHE_RSA */
	{ 0x0039, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0x0034, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* DH_anon */
	{ 0x003A, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0x008C, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* PSK */
	{ 0x008D, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0xC004, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* ECDH_ECDSA */
	{ 0xC005, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0xC009, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* ECDHE_ECDSA */
	{ 0xC00A, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0xC00E, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* ECDH_RSA */
	{ 0xC00F, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0xC013, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* ECDHE_RSA */
	{ 0xC014, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0xC018, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* ECDH_anon */
	{ 0xC019, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	{ 0xC035, TC_CBC, "AES-128-CBC", 16, 16, "SHA1", 20, "SHA256" }, /* ECDHE_PSK */
	{ 0xC036, TC_CBC, "AES-256-CBC", 32, 16, "SHA1", 20, "SHA256" },
	/* AES-CBC with HMAC-SHA256 / SHA384 (TLS 1.2 suites) */
	{ 0x003C, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* RSA */
	{ 0x003D, TC_CBC, "AES-256-CBC", 32, 16, "SHA256", 32, "SHA256" },
	{ 0x003E, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* DH_DSS */
	{ 0x003F, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* DH_RSA */
	{ 0x0040, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* DHE_DSS */
	{ 0x0067, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* DHE_RSA */
	{ 0x006A, TC_CBC, "AES-256-CBC", 32, 16, "SHA256", 32, "SHA256" }, /* DHE_DSS */
	{ 0x006B, TC_CBC, "AES-256-CBC", 32, 16, "SHA256", 32, "SHA256" }, /* DHE_RSA */
	{ 0x006C, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* DH_anon */
	{ 0x006D, TC_CBC, "AES-256-CBC", 32, 16, "SHA256", 32, "SHA256" },
	{ 0x00AE, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* PSK */
	{ 0x00AF, TC_CBC, "AES-256-CBC", 32, 16, "SHA384", 48, "SHA384" },
	{ 0xC023, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* ECDHE_ECDSA */
	{ 0xC024, TC_CBC, "AES-256-CBC", 32, 16, "SHA384", 48, "SHA384" },
	{ 0xC025, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* ECDH_ECDSA */
	{ 0xC026, TC_CBC, "AES-256-CBC", 32, 16, "SHA384", 48, "SHA384" },
	{ 0xC027, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* ECDHE_RSA */
	{ 0xC028, TC_CBC, "AES-256-CBC", 32, 16, "SHA384", 48, "SHA384" },
	{ 0xC029, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* ECDH_RSA */
	{ 0xC02A, TC_CBC, "AES-256-CBC", 32, 16, "SHA384", 48, "SHA384" },
	{ 0xC037, TC_CBC, "AES-128-CBC", 16, 16, "SHA256", 32, "SHA256" }, /* ECDHE_PSK */
	{ 0xC038, TC_CBC, "AES-256-CBC", 32, 16, "SHA384", 48, "SHA384" },
	/* 3DES-EDE-CBC with HMAC-SHA1 (weak, but decryptable) */
	{ 0x000A, TC_CBC, "DES-EDE3-CBC", 24, 8, "SHA1", 20, "SHA256" }, /* RSA */
	{ 0x0013, TC_CBC, "DES-EDE3-CBC", 24, 8, "SHA1", 20, "SHA256" }, /* DHE_DSS */
	{ 0x0016, TC_CBC, "DES-EDE3-CBC", 24, 8, "SHA1", 20, "SHA256" }, /* DHE_RSA */
	{ 0xC008, TC_CBC, "DES-EDE3-CBC", 24, 8, "SHA1", 20, "SHA256" }, /* ECDHE_ECDSA */
	{ 0xC012, TC_CBC, "DES-EDE3-CBC", 24, 8, "SHA1", 20, "SHA256" }, /* ECDHE_RSA */
};

struct tc_suite13 {
	uint16_t id;
	const char *cipher, *hash;
	uint8_t key_len, hash_len;
};
static const struct tc_suite13 SUITES13[] = {
	{ 0x1301, "AES-128-GCM", "SHA256", 16, 32 },
	{ 0x1302, "AES-256-GCM", "SHA384", 32, 48 },
	{ 0x1303, "ChaCha20-Poly1305", "SHA256", 32, 32 },
};

static const struct tc_suite *suite12(uint16_t id)
{
	for (size_t i = 0; i < sizeof SUITES12 / sizeof SUITES12[0]; i++)
		if (SUITES12[i].id == id)
			return &SUITES12[i];
	return NULL;
}

static const struct tc_suite13 *suite13(uint16_t id)
{
	for (size_t i = 0; i < sizeof SUITES13 / sizeof SUITES13[0]; i++)
		if (SUITES13[i].id == id)
			return &SUITES13[i];
	return NULL;
}

bool tls_crypt_suite_supported(uint16_t version, uint16_t suite)
{
	if (version == 0x0304)
		return suite13(suite) != NULL;
	if (version < 0x0301 || version > 0x0303)
		return false;
	const struct tc_suite *s = suite12(suite);
	if (!s)
		return false;
	return version == 0x0303 || s->mode == TC_CBC; /* AEAD suites are TLS 1.2 only */
}

/* ---- key derivation ----------------------------------------------------- */

/* TLS PRF (RFC 5246 5; RFC 2246 5 for "MD5-SHA1"): out = PRF(secret, label, seed1 || seed2). */
static bool tls_prf(const char *digest, const uint8_t *secret, size_t secret_len, const char *label,
                    const uint8_t *seed1, size_t n1, const uint8_t *seed2, size_t n2,
                    uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	if (!kdf)
		return false;
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (!kctx)
		return false;
	/* the seed parameter may repeat; the KDF concatenates them */
	OSSL_PARAM params[6], *p = params;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)label, strlen(label));
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed1, n1);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed2, n2);
	*p = OSSL_PARAM_construct_end();
	bool ok = EVP_KDF_derive(kctx, out, out_len, params) > 0;
	EVP_KDF_CTX_free(kctx);
	return ok;
}

/* HKDF-Expand-Label(secret, label, "", len) of RFC 8446 7.1, through
 * HKDF-Expand (RFC 5869 2.3) with info = HkdfLabel. */
static bool hkdf_expand_label(const char *digest, const uint8_t *secret, size_t secret_len,
                              const char *label, uint8_t *out, size_t out_len)
{
	uint8_t info[2 + 1 + 255 + 1];
	size_t ll = 6 + strlen(label);
	if (ll > 255 || out_len > 0xffff)
		return false;
	size_t k = 0;
	info[k++] = (uint8_t)(out_len >> 8);
	info[k++] = (uint8_t)out_len;
	info[k++] = (uint8_t)ll;
	memcpy(info + k, "tls13 ", 6);
	memcpy(info + k + 6, label, ll - 6);
	k += ll;
	info[k++] = 0; /* empty context */
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		return false;
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (!kctx)
		return false;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[5], *p = params;
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, k);
	*p = OSSL_PARAM_construct_end();
	bool ok = EVP_KDF_derive(kctx, out, out_len, params) > 0;
	EVP_KDF_CTX_free(kctx);
	return ok;
}

/* ---- directions ----------------------------------------------------------- */

void tls_dir_free(struct tls_dir_crypt *d)
{
	if (!d)
		return;
	EVP_CIPHER_CTX_free(d->ctx);
	EVP_CIPHER_free(d->cipher);
	EVP_MAC_CTX_free(d->mctx);
	EVP_MAC_free(d->mac);
	OPENSSL_cleanse(d, sizeof *d);
	free(d);
}

/* Set the cipher context's key (decryption). */
static bool dir_set_key(struct tls_dir_crypt *d)
{
	if (!d->ctx)
		d->ctx = EVP_CIPHER_CTX_new();
	if (!d->ctx)
		return false;
	if (EVP_DecryptInit_ex2(d->ctx, d->cipher, d->key, NULL, NULL) <= 0)
		return false;
	if (d->mode == TC_CBC)
		EVP_CIPHER_CTX_set_padding(d->ctx, 0);
	return true;
}

static struct tls_dir_crypt *dir_new(enum tc_mode mode, const char *cipher)
{
	struct tls_dir_crypt *d = xcalloc(1, sizeof *d);
	d->mode = mode;
	d->cipher = EVP_CIPHER_fetch(NULL, cipher, NULL);
	if (!d->cipher) {
		free(d);
		return NULL;
	}
	return d;
}

bool tls12_keys(uint16_t version, uint16_t suite, const uint8_t master[48],
                const uint8_t client_random[32], const uint8_t server_random[32],
                bool encrypt_then_mac, struct tls_dir_crypt *out[2])
{
	out[0] = out[1] = NULL;
	if (!master || !client_random || !server_random || !tls_crypt_suite_supported(version, suite) ||
	    version == 0x0304)
		return false;
	const struct tc_suite *s = suite12(suite);
	const char *prf = version >= 0x0303 ? s->prf : "MD5-SHA1";
	size_t kb_len = 2u * s->mac_len + 2u * s->key_len + 2u * s->iv_len;
	uint8_t kb[2 * TC_MACMAX + 2 * TC_KEYMAX + 2 * TC_IVMAX];
	/* key_block = PRF(master, "key expansion", server_random || client_random) */
	if (!tls_prf(prf, master, 48, "key expansion", server_random, 32, client_random, 32, kb, kb_len))
		return false;
	struct tls_dir_crypt *d[2] = { NULL, NULL };
	bool ok = true;
	for (int i = 0; i < 2 && ok; i++) {
		d[i] = dir_new(s->mode, s->cipher);
		if (!d[i]) {
			ok = false;
			break;
		}
		struct tls_dir_crypt *x = d[i];
		x->version = version;
		x->suite = suite;
		x->key_len = s->key_len;
		x->iv_len = s->iv_len;
		x->mac_len = s->mac_len;
		/* client_write_MAC, server_write_MAC, client_write_key, server_write_key, client IV, server IV */
		const uint8_t *mac_key = kb + (size_t)i * s->mac_len;
		memcpy(x->key, kb + 2u * s->mac_len + (size_t)i * s->key_len, s->key_len);
		memcpy(x->iv, kb + 2u * s->mac_len + 2u * s->key_len + (size_t)i * s->iv_len, s->iv_len);
		if (s->mode == TC_CBC) {
			x->etm = encrypt_then_mac;
			x->block = s->iv_len;
			x->chained_iv = version == 0x0301;
			x->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
			x->mctx = x->mac ? EVP_MAC_CTX_new(x->mac) : NULL;
			OSSL_PARAM mp[2] = {
				OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)s->mac, 0),
				OSSL_PARAM_construct_end(),
			};
			if (!x->mctx || EVP_MAC_init(x->mctx, mac_key, s->mac_len, mp) <= 0)
				ok = false;
		}
		if (ok && !dir_set_key(x))
			ok = false;
	}
	OPENSSL_cleanse(kb, sizeof kb);
	if (!ok) {
		tls_dir_free(d[0]);
		tls_dir_free(d[1]);
		return false;
	}
	out[0] = d[0];
	out[1] = d[1];
	return true;
}

/* key = HKDF-Expand-Label(secret, "key", "", key_len), iv = ...("iv", 12) */
static bool dir13_derive(struct tls_dir_crypt *d)
{
	if (!hkdf_expand_label(d->hash, d->secret, d->secret_len, "key", d->key, d->key_len) ||
	    !hkdf_expand_label(d->hash, d->secret, d->secret_len, "iv", d->iv, 12))
		return false;
	d->seq = 0;
	return dir_set_key(d);
}

struct tls_dir_crypt *tls13_keys(uint16_t suite, const uint8_t *secret, size_t n)
{
	const struct tc_suite13 *s = suite13(suite);
	if (!s || !secret || n != s->hash_len)
		return NULL;
	struct tls_dir_crypt *d = dir_new(TC_AEAD13, s->cipher);
	if (!d)
		return NULL;
	d->version = 0x0304;
	d->suite = suite;
	d->key_len = s->key_len;
	d->iv_len = 12;
	d->hash = s->hash;
	memcpy(d->secret, secret, n);
	d->secret_len = n;
	if (!dir13_derive(d)) {
		tls_dir_free(d);
		return NULL;
	}
	return d;
}

bool tls13_key_update(struct tls_dir_crypt *d)
{
	if (!d || d->mode != TC_AEAD13)
		return false;
	/* application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length) */
	uint8_t next[TLS_SECRET_MAX];
	if (!hkdf_expand_label(d->hash, d->secret, d->secret_len, "traffic upd", next, d->secret_len))
		return false;
	memcpy(d->secret, next, d->secret_len);
	OPENSSL_cleanse(next, sizeof next);
	return dir13_derive(d);
}

/* ---- records ---------------------------------------------------------------- */

static void be64(uint8_t b[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

/* additional data / MAC header: seq || type || version || length */
static void hdr13(uint8_t h[13], uint64_t seq, uint8_t type, uint16_t version, size_t len)
{
	be64(h, seq);
	h[8] = type;
	h[9] = (uint8_t)(version >> 8);
	h[10] = (uint8_t)version;
	h[11] = (uint8_t)(len >> 8);
	h[12] = (uint8_t)len;
}

/* One AEAD open: ct of ct_len, tag after it. */
static bool aead_open(struct tls_dir_crypt *d, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                      const uint8_t *ct, size_t ct_len, const uint8_t *tag, uint8_t *out)
{
	int l = 0, l2 = 0;
	uint8_t t[TC_TAG];
	memcpy(t, tag, TC_TAG);
	if (EVP_DecryptInit_ex2(d->ctx, NULL, NULL, nonce, NULL) <= 0 ||
	    EVP_DecryptUpdate(d->ctx, NULL, &l, aad, (int)aad_len) <= 0)
		return false;
	if (ct_len && EVP_DecryptUpdate(d->ctx, out, &l, ct, (int)ct_len) <= 0)
		return false;
	if (EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_TAG, TC_TAG, t) <= 0)
		return false;
	return EVP_DecryptFinal_ex(d->ctx, out + l, &l2) > 0;
}

static void nonce_xor_seq(uint8_t nonce[12], const uint8_t iv[12], uint64_t seq)
{
	uint8_t s[8];
	be64(s, seq);
	memcpy(nonce, iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
}

static bool hmac(struct tls_dir_crypt *d, const uint8_t hdr[13], const uint8_t *p, size_t n,
                 uint8_t mac[TC_MACMAX])
{
	size_t ml = 0;
	if (EVP_MAC_init(d->mctx, NULL, 0, NULL) <= 0 || /* the key set in tls12_keys */
	    EVP_MAC_update(d->mctx, hdr, 13) <= 0 ||
	    (n && EVP_MAC_update(d->mctx, p, n) <= 0) ||
	    EVP_MAC_final(d->mctx, mac, &ml, TC_MACMAX) <= 0)
		return false;
	return ml == d->mac_len;
}

static bool cbc_decrypt(struct tls_dir_crypt *d, const uint8_t *iv, const uint8_t *ct, size_t n, uint8_t *out)
{
	int l = 0, l2 = 0;
	if (EVP_DecryptInit_ex2(d->ctx, NULL, NULL, iv, NULL) <= 0)
		return false;
	EVP_CIPHER_CTX_set_padding(d->ctx, 0);
	if (n && EVP_DecryptUpdate(d->ctx, out, &l, ct, (int)n) <= 0)
		return false;
	return EVP_DecryptFinal_ex(d->ctx, out + l, &l2) > 0 && (size_t)(l + l2) == n;
}

/* TLS padding: the last byte is its length; every padding byte equals it. */
static bool cbc_unpad(const uint8_t *p, size_t n, size_t min_after, size_t *content)
{
	if (!n)
		return false;
	size_t pad = p[n - 1];
	if (pad + 1 + min_after > n)
		return false;
	unsigned bad = 0;
	for (size_t i = 0; i <= pad; i++)
		bad |= p[n - 1 - i] ^ (unsigned)pad;
	if (bad)
		return false;
	*content = n - pad - 1;
	return true;
}

static bool open_cbc(struct tls_dir_crypt *d, uint8_t type, uint16_t version,
                     const uint8_t *body, size_t n, uint8_t *out, size_t *out_n)
{
	const size_t bs = d->block, ml = d->mac_len;
	const size_t ivl = d->chained_iv ? 0 : bs;   /* explicit IV bytes in the body */
	uint8_t mac[TC_MACMAX], hdr[13], iv[TC_IVMAX], next_iv[TC_IVMAX];
	size_t ct_len;
	if (d->etm) {
		/* IV || ciphertext || MAC(seq || header(length of IV || ciphertext) || IV || ciphertext) */
		if (n < ivl + bs + ml || (n - ivl - ml) % bs)
			return false;
		ct_len = n - ivl - ml;
		hdr13(hdr, d->seq, type, version, ivl + ct_len);
		if (!hmac(d, hdr, body, ivl + ct_len, mac) || CRYPTO_memcmp(mac, body + ivl + ct_len, ml))
			return false;
	} else {
		if (n < ivl + bs || (n - ivl) % bs || n - ivl < ml + 1)
			return false;
		ct_len = n - ivl;
	}
	memcpy(iv, d->chained_iv ? d->iv : body, bs);
	memcpy(next_iv, body + ivl + ct_len - bs, bs); /* before out may overwrite body */
	if (!cbc_decrypt(d, iv, body + ivl, ct_len, out))
		return false;
	size_t content;
	if (!cbc_unpad(out, ct_len, d->etm ? 0 : ml, &content))
		return false;
	if (!d->etm) {
		/* content || MAC(seq || header(content length) || content) || padding */
		content -= ml;
		hdr13(hdr, d->seq, type, version, content);
		if (!hmac(d, hdr, out, content, mac) || CRYPTO_memcmp(mac, out + content, ml))
			return false;
	}
	if (d->chained_iv)
		memcpy(d->iv, next_iv, bs);
	*out_n = content;
	return true;
}

bool tls_dir_open(struct tls_dir_crypt *d, uint8_t type, uint16_t version,
                  const uint8_t *body, size_t n, uint8_t *out, size_t *out_n, uint8_t *inner_type)
{
	size_t on = 0;
	uint8_t it = type;
	if (out_n)
		*out_n = 0;
	if (!d || !body || !out || !out_n || n > 16384 + 2048 || d->seq == TC_SEQ_MAX)
		return false;
	uint8_t nonce[12], aad[13];
	bool ok = false;
	switch (d->mode) {
	case TC_GCM12:
		/* explicit nonce (8) || ciphertext || tag */
		if (n < 8 + TC_TAG)
			return false;
		on = n - 8 - TC_TAG;
		memcpy(nonce, d->iv, 4);
		memcpy(nonce + 4, body, 8);
		hdr13(aad, d->seq, type, version, on);
		ok = aead_open(d, nonce, aad, 13, body + 8, on, body + 8 + on, out);
		break;
	case TC_CHACHA12:
		if (n < TC_TAG)
			return false;
		on = n - TC_TAG;
		nonce_xor_seq(nonce, d->iv, d->seq);
		hdr13(aad, d->seq, type, version, on);
		ok = aead_open(d, nonce, aad, 13, body, on, body + on, out);
		break;
	case TC_AEAD13: {
		/* TLSInnerPlaintext: content || type || zeros; at most 2^14 + 256 on the wire */
		if (n < TC_TAG + 1 || n > 16384 + 256)
			return false;
		on = n - TC_TAG;
		nonce_xor_seq(nonce, d->iv, d->seq);
		uint8_t h[5] = { type, (uint8_t)(version >> 8), (uint8_t)version, (uint8_t)(n >> 8), (uint8_t)n };
		ok = aead_open(d, nonce, h, 5, body, on, body + on, out);
		if (ok) {
			while (on && out[on - 1] == 0)
				on--;
			if (!on) {
				ok = false; /* all zeros: no content type (RFC 8446 5.4) */
			} else {
				it = out[--on];
			}
		}
		break;
	}
	case TC_CBC:
		ok = open_cbc(d, type, version, body, n, out, &on);
		break;
	}
	if (!ok)
		return false;
	d->seq++;
	*out_n = on;
	if (inner_type)
		*inner_type = it;
	return true;
}
