/* out_tls — what the TLS layer saw (struct tls_info, include/tls.h), written
 * for the sinks: the JSON fields of the session record (docs/schema.md,
 * "TLS"), the one-line summary of the transcript and the UI. Every string
 * from the handshake (SNI, ALPN, certificate names) is escaped for JSON here;
 * the text line is raw and the caller escapes it for its medium. */
#ifndef SMTPSCOPE_OUT_TLS_H
#define SMTPSCOPE_OUT_TLS_H

#include <stdint.h>

#include "sbuf.h"

struct tls_info;
struct tls_cert;

/* ,"tls_version":...,"tls_records":[c,s] — every TLS key of the session
 * record that has a value (absent keys are unknown or not applicable). */
void out_tls_json(struct sbuf *b, const struct tls_info *ti);
/* "TLS 1.3 TLS_AES_256_GCM_SHA384 x25519 sni=mx.example ja4=... cert="CN=..." (self-signed)"
 * plus the key status when decryption was asked for; raw (escape it). */
void out_tls_line(struct sbuf *b, const struct tls_info *ti);
/* "none", "missing", "ok", "failed", "unsupported". */
const char *out_tls_keys_str(int keys);
/* Unix seconds as "2026-01-01T00:00:00Z" (years clamped to 0000-9999). */
void out_tls_time(char buf[24], int64_t t);
/* The certificate's subject CN (from its RFC 2253 text) into buf, "" if none. */
void out_tls_cert_cn(const struct tls_cert *c, char *buf, size_t len);

#endif
