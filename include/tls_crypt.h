/* tls_crypt — key material and record protection for the TLS layer.
 * Everything cryptographic goes through OpenSSL's libcrypto (EVP, EVP_KDF
 * "TLS1-PRF" and "HKDF", EVP_AEAD via EVP_CIPHER *_gcm / chacha20_poly1305,
 * EVP_MAC HMAC); nothing is written by hand.
 *
 * Key store: the NSS key log format (https://datatracker.ietf.org/doc/draft-ietf-tls-keylogfile/),
 * from files (--tls-keylog, repeatable) and from pcapng Decryption Secrets
 * Blocks. Looked up by client random. Loaded on the capture side, read
 * on the worker: tls_keys_lookup is thread-safe; tls_keys_refresh re-reads
 * key log files that grew (for live capture) and may run concurrently.
 */
#ifndef SMTPSCOPE_TLS_CRYPT_H
#define SMTPSCOPE_TLS_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tls_secret_kind {
	TLS_SECRET_MASTER = 0,                 /* CLIENT_RANDOM: 48-byte TLS <= 1.2 master secret */
	TLS_SECRET_CLIENT_HS,                  /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
	TLS_SECRET_SERVER_HS,                  /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
	TLS_SECRET_CLIENT_AP0,                 /* CLIENT_TRAFFIC_SECRET_0 */
	TLS_SECRET_SERVER_AP0,                 /* SERVER_TRAFFIC_SECRET_0 */
	TLS_SECRET__COUNT
};
#define TLS_SECRET_MAX 64

struct tls_secret {
	uint8_t b[TLS_SECRET_MAX];
	size_t n;
};

struct tls_keys;
struct tls_keys *tls_keys_new(void);
void tls_keys_free(struct tls_keys *k);
/* Add a key log file (read now, and again by tls_keys_refresh when it grew).
 * Returns 0, or -1 with a one-line reason in err ("FILE: No such file"). */
int tls_keys_add_file(struct tls_keys *k, const char *path, char *err, size_t errn);
/* Add key log text (a pcapng DSB of type TLS_KEY_LOG, 0x544c534b). Lines
 * that do not parse are counted (tls_keys_bad_lines), never fatal. */
void tls_keys_add_text(struct tls_keys *k, const uint8_t *p, size_t n);
void tls_keys_refresh(struct tls_keys *k);
size_t tls_keys_count(const struct tls_keys *k);     /* secrets held */
uint64_t tls_keys_bad_lines(const struct tls_keys *k);
/* Secrets not stored because the store was full (TLS_KEYS_MAX, docs/design.md). */
uint64_t tls_keys_dropped(const struct tls_keys *k);
/* Lower the cap on secrets held (default and maximum TLS_KEYS_MAX, 2^21). */
void tls_keys_set_limit(struct tls_keys *k, size_t max_secrets);
/* The secret of kind for client_random, or false. */
bool tls_keys_lookup(const struct tls_keys *k, const uint8_t client_random[32],
                     enum tls_secret_kind kind, struct tls_secret *out);

/* Whether tls12_keys / tls13_keys can decrypt suite under version
 * (0x0301..0x0304); false means TLS_KEYS_UNSUPPORTED. */
bool tls_crypt_suite_supported(uint16_t version, uint16_t suite);

/* One direction's record protection. */
struct tls_dir_crypt;
/* TLS 1.0-1.2 (RFC 5246 6.3, RFC 7366 encrypt-then-MAC, RFC 7905): both
 * directions from the master secret. dir 0 = client write, 1 = server write.
 * Returns false for a suite it cannot decrypt (TLS_KEYS_UNSUPPORTED). */
bool tls12_keys(uint16_t version, uint16_t suite, const uint8_t master[48],
                const uint8_t client_random[32], const uint8_t server_random[32],
                bool encrypt_then_mac, struct tls_dir_crypt *out[2]);
/* TLS 1.3 (RFC 8446 7.1-7.3): one direction from a traffic secret. */
struct tls_dir_crypt *tls13_keys(uint16_t suite, const uint8_t *secret, size_t n);
/* RFC 8446 4.6.3 KeyUpdate: next generation of this direction's secret. */
bool tls13_key_update(struct tls_dir_crypt *d);
/* Decrypt and authenticate one record (header type/version/length as on the
 * wire, body of length n). On success writes the plaintext (<= n bytes) to
 * out, its length to *out_n and, for TLS 1.3, the inner content type to
 * *inner_type (TLS 1.2: the header's type). Returns false if it does not
 * authenticate (or is malformed); the sequence number advances on success only. */
bool tls_dir_open(struct tls_dir_crypt *d, uint8_t type, uint16_t version,
                  const uint8_t *body, size_t n, uint8_t *out, size_t *out_n, uint8_t *inner_type);
void tls_dir_free(struct tls_dir_crypt *d);

#endif
