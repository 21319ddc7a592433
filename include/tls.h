/* tls — the TLS layer between reassembly and SMTP (docs/design.md, "TLS").
 *
 * One tls_conn per TCP flow once the flow turns TLS (after the 220 to
 * STARTTLS, or from the first byte on an implicit-TLS port / when the first
 * bytes are a TLS record). It is fed the stream bytes of each direction,
 * exactly like the SMTP parser, and
 *  - parses the record layer (records <= TLS_RECORD_MAX, a longer length is
 *    an anomaly and the direction becomes opaque), reassembles handshake
 *    messages across records and segments (TLS_HS_MSG_MAX, TLS_HS_BUF_MAX),
 *    and records what the handshake shows without keys (struct tls_info);
 *  - with keys (struct tls_keys, include/tls_crypt.h), decrypts the records
 *    and hands the application data of each direction to cb->plaintext, in
 *    order; a record that does not authenticate raises
 *    ANOM_TLS_DECRYPT_FAILED and the rest of that direction becomes one
 *    cb->gap (never invented plaintext).
 *
 * Bytes from the wire are never trusted: every length is checked against
 * what is there and against a named cap; a violation is a counted anomaly
 * and the analysis of the other direction goes on.
 *
 * Threading: a tls_conn belongs to the thread that feeds its flow. The key
 * store is shared read-only (tls_keys_lookup is thread-safe).
 */
#ifndef SMTPSCOPE_TLS_H
#define SMTPSCOPE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"

/* Named limits. */
#define TLS_RECORD_MAX     (16384 + 2048) /* TLSCiphertext.length, RFC 8446 5.2 / RFC 5246 6.2.3 */
#define TLS_HS_MSG_MAX     (256 * 1024)   /* one handshake message (a certificate chain); longer: skipped, anomaly */
#define TLS_CERTS_MAX      16             /* certificates parsed per chain; the rest counted */
#define TLS_LIST_MAX       64             /* suites / extensions / groups / sigalgs stored per hello */
#define TLS_NAME_MAX       256            /* bytes kept of an SNI, ALPN or certificate name */
#define TLS_SAN_MAX        32             /* subjectAltName DNS names kept */
#define TLS_HS_BUF_MAX     TLS_HS_MSG_MAX /* handshake bytes buffered per direction (one message at a time) */
#define TLS_KEY_SHARES_MAX 8              /* key_share groups stored per ClientHello */

struct tls_keys;                           /* include/tls_crypt.h */

/* One parsed X.509 certificate (through libcrypto's d2i_X509). Strings are
 * NUL-terminated, printable (RFC 2253 text from X509_NAME_print_ex), capped. */
struct tls_cert {
	char subject[TLS_NAME_MAX];
	char issuer[TLS_NAME_MAX];
	char san_dns[TLS_SAN_MAX][TLS_NAME_MAX]; /* subjectAltName dNSName entries */
	unsigned n_san;                          /* stored */
	unsigned n_san_total;                    /* present */
	int64_t not_before;                      /* Unix seconds (UTC) */
	int64_t not_after;
	char serial[100];                        /* hex, upper case */
	char key_type[16];                       /* "RSA", "EC", "Ed25519", ... */
	int key_bits;                            /* EVP_PKEY_get_bits */
	char sig_alg[64];                        /* "sha256WithRSAEncryption" (OBJ_nid2ln) */
	char sha256[65];                         /* fingerprint of the DER, lower-case hex */
	bool self_signed;                        /* issuer == subject and its own key verifies it */
	bool parse_error;                        /* d2i_X509 refused it (the rest is empty) */
};

struct tls_hello {
	bool seen;
	uint16_t legacy_version;                 /* ClientHello/ServerHello.legacy_version */
	uint8_t random[32];
	uint16_t suites[TLS_LIST_MAX];           /* ClientHello: offered; ServerHello: [0] chosen */
	unsigned n_suites;
	uint16_t exts[TLS_LIST_MAX];             /* extension types in wire order */
	unsigned n_exts;
	uint16_t versions[TLS_LIST_MAX];         /* supported_versions (client: offered, server: [0] chosen) */
	unsigned n_versions;
	uint16_t groups[TLS_LIST_MAX];           /* supported_groups (client) / key_share group (server) */
	unsigned n_groups;
	uint16_t sigalgs[TLS_LIST_MAX];          /* signature_algorithms in wire order (client) */
	unsigned n_sigalgs;
	char sni[TLS_NAME_MAX];                  /* server_name host_name (client), printable or escaped */
	char alpn[TLS_NAME_MAX];                 /* ALPN: client: comma-separated offered list; server: chosen */
	bool encrypt_then_mac;                   /* extension 22 present */
	bool extended_master_secret;             /* extension 23 present */
	/* Added by the parser (additive): */
	unsigned n_suites_total, n_exts_total;   /* on the wire, GREASE included (the arrays keep TLS_LIST_MAX) */
	uint16_t key_shares[TLS_KEY_SHARES_MAX]; /* client: key_share entries' groups, wire order */
	unsigned n_key_shares;
	uint8_t session_id_len;                  /* legacy_session_id length (0..32) */
	bool sslv2;                              /* client: an SSL 2.0-compatible ClientHello */
};

/* What the TLS session showed. Valid while the tls_conn lives. */
struct tls_info {
	struct tls_hello client;                 /* the (last) ClientHello */
	struct tls_hello server;                 /* the ServerHello (not the HelloRetryRequest) */
	bool hello_retry;                        /* a HelloRetryRequest was seen */
	uint16_t version;                        /* negotiated: 0x0300..0x0304, 0 unknown */
	uint16_t cipher;                         /* negotiated suite, 0 unknown */
	uint16_t group;                          /* TLS 1.3 key_share group, 0 unknown */
	char ja4[40];                            /* FoxIO JA4 of the ClientHello ("" if none) */
	char ja4s[40];                           /* JA4S of the ServerHello ("" if none) */
	struct tls_cert *certs;                  /* server chain, leaf first (TLS <= 1.2, or 1.3 decrypted):
	                                            TLS_CERTS_MAX entries allocated at the first Certificate
	                                            message (~8 KiB each), NULL before; n_certs are valid */
	unsigned n_certs;                        /* stored */
	unsigned n_certs_total;                  /* in the Certificate message */
	bool cert_seen;                          /* a Certificate message was parsed */
	uint8_t alert_level, alert_desc;         /* the first alert seen in clear (0/0 none) */
	bool alert_seen;
	enum tls_key_status {
		TLS_KEYS_NONE = 0,                   /* no key store given */
		TLS_KEYS_MISSING,                    /* a store, but no secret for this client random */
		TLS_KEYS_OK,                         /* decrypting */
		TLS_KEYS_FAILED,                     /* a record did not authenticate (wrong key) */
		TLS_KEYS_UNSUPPORTED,                /* cipher suite not decryptable by us */
	} keys;
	bool decrypted;                          /* application data was decrypted */
	uint64_t records[2];                     /* records seen per direction */
	uint64_t app_bytes[2];                   /* application-data record bytes (ciphertext) */
	uint64_t plain_bytes[2];                 /* plaintext handed to cb->plaintext */
	bool opaque[2];                          /* the direction stopped parsing (bad record, gap) */
	struct anom_set anoms;                   /* TLS anomalies of this connection */
	/* Added by the parser (additive): */
	uint16_t hrr_group;                      /* the group a HelloRetryRequest asked for, 0 none */
	bool sslv2_hello;                        /* the client opened with an SSL 2.0-compatible ClientHello */
	uint64_t opaque_bytes[2];                /* bytes not parsed after the direction became opaque */
	unsigned n_hello_client;                 /* ClientHellos seen (2 after a HelloRetryRequest) */
};

struct tls_callbacks {
	/* Decrypted application data of dir (FLOW_C2S / FLOW_S2C), in order. */
	void (*plaintext)(void *user, int dir, const uint8_t *p, size_t n, uint64_t ts_us);
	/* len plaintext bytes of dir will never come (decryption failed, a gap
	 * in the ciphertext); the consumer treats it like a capture gap. */
	void (*gap)(void *user, int dir, uint64_t len, uint64_t ts_us);
	void *user;
};

/* keys may be NULL (no decryption). cb is copied; cb->plaintext may be NULL. */
struct tls_conn *tls_conn_new(const struct tls_keys *keys, const struct tls_callbacks *cb);
/* In-order stream bytes of dir, starting at the first TLS record. */
void tls_conn_data(struct tls_conn *c, int dir, const uint8_t *p, size_t n, uint64_t ts_us);
/* len bytes of dir are missing from the capture: that direction is opaque from here. */
void tls_conn_gap(struct tls_conn *c, int dir, uint64_t len, uint64_t ts_us);
const struct tls_info *tls_conn_info(const struct tls_conn *c);
void tls_conn_free(struct tls_conn *c);   /* NULL is fine */

/* Names, for output. Never NULL: unknown values give "0x1234" in a
 * static per-thread buffer. */
const char *tls_version_str(uint16_t v);   /* "TLS 1.3", "SSL 3.0" */
const char *tls_cipher_str(uint16_t suite);/* IANA name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" */
const char *tls_group_str(uint16_t g);     /* "x25519", "secp256r1" */
const char *tls_alert_str(uint8_t desc);   /* "handshake_failure" */
/* Weak by RFC 7525 / RFC 8996: NULL, EXPORT, anon, RC4, DES, 3DES suites. */
bool tls_cipher_weak(uint16_t suite);

#endif
