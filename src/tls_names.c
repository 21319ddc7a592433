/* tls_names — names of TLS protocol values, for output (include/tls.h).
 *
 * Cipher suites: every assigned code point of the IANA TLS Cipher Suites
 * registry, generated into src/tls_suites.def by scripts/gen_tls_suites.py
 * from the registry's CSV (scripts/iana/). Groups and alerts: the IANA
 * "TLS Supported Groups" and "TLS Alerts" registries (facts, typed here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

struct suite {
	uint16_t v;
	const char *name;
};

static const struct suite suites[] = {
#define SUITE(v, name) { v, name },
#include "tls_suites.def"
#undef SUITE
};

static const char *unknown(uint16_t v)
{
	static _Thread_local char buf[8];
	snprintf(buf, sizeof buf, "0x%04x", v);
	return buf;
}

static const char *suite_name(uint16_t v)
{
	size_t lo = 0, hi = sizeof suites / sizeof suites[0];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (suites[mid].v == v)
			return suites[mid].name;
		if (suites[mid].v < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *tls_cipher_str(uint16_t suite)
{
	const char *n = suite_name(suite);
	return n ? n : unknown(suite);
}

const char *tls_version_str(uint16_t v)
{
	switch (v) {
	case 0x0002: return "SSL 2.0";
	case 0x0300: return "SSL 3.0";
	case 0x0301: return "TLS 1.0";
	case 0x0302: return "TLS 1.1";
	case 0x0303: return "TLS 1.2";
	case 0x0304: return "TLS 1.3";
	case 0xfeff: return "DTLS 1.0";
	case 0xfefd: return "DTLS 1.2";
	case 0xfefc: return "DTLS 1.3";
	default: return unknown(v);
	}
}

/* IANA TLS Supported Groups (RFC 8422, 7919, 8446, 8734, 9189, and the
 * ML-KEM hybrids of draft-ietf-tls-ecdhe-mlkem). */
const char *tls_group_str(uint16_t g)
{
	switch (g) {
	case 1: return "sect163k1";
	case 2: return "sect163r1";
	case 3: return "sect163r2";
	case 4: return "sect193r1";
	case 5: return "sect193r2";
	case 6: return "sect233k1";
	case 7: return "sect233r1";
	case 8: return "sect239k1";
	case 9: return "sect283k1";
	case 10: return "sect283r1";
	case 11: return "sect409k1";
	case 12: return "sect409r1";
	case 13: return "sect571k1";
	case 14: return "sect571r1";
	case 15: return "secp160k1";
	case 16: return "secp160r1";
	case 17: return "secp160r2";
	case 18: return "secp192k1";
	case 19: return "secp192r1";
	case 20: return "secp224k1";
	case 21: return "secp224r1";
	case 22: return "secp256k1";
	case 23: return "secp256r1";
	case 24: return "secp384r1";
	case 25: return "secp521r1";
	case 26: return "brainpoolP256r1";
	case 27: return "brainpoolP384r1";
	case 28: return "brainpoolP512r1";
	case 29: return "x25519";
	case 30: return "x448";
	case 31: return "brainpoolP256r1tls13";
	case 32: return "brainpoolP384r1tls13";
	case 33: return "brainpoolP512r1tls13";
	case 34: return "GC256A";
	case 35: return "GC256B";
	case 36: return "GC256C";
	case 37: return "GC256D";
	case 38: return "GC512A";
	case 39: return "GC512B";
	case 40: return "GC512C";
	case 41: return "curveSM2";
	case 256: return "ffdhe2048";
	case 257: return "ffdhe3072";
	case 258: return "ffdhe4096";
	case 259: return "ffdhe6144";
	case 260: return "ffdhe8192";
	case 512: return "MLKEM512";
	case 513: return "MLKEM768";
	case 514: return "MLKEM1024";
	case 4587: return "SecP256r1MLKEM768";
	case 4588: return "X25519MLKEM768";
	case 4589: return "SecP384r1MLKEM1024";
	case 25497: return "X25519Kyber768Draft00";
	case 25498: return "SecP256r1Kyber768Draft00";
	case 0xff01: return "arbitrary_explicit_prime_curves";
	case 0xff02: return "arbitrary_explicit_char2_curves";
	default: return unknown(g);
	}
}

/* IANA TLS Alerts (RFC 8446 6, RFC 5246 7.2 and the registry's others). */
const char *tls_alert_str(uint8_t desc)
{
	switch (desc) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 21: return "decryption_failed";
	case 22: return "record_overflow";
	case 30: return "decompression_failure";
	case 40: return "handshake_failure";
	case 41: return "no_certificate";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 52: return "too_many_cids_requested";
	case 60: return "export_restriction";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 86: return "inappropriate_fallback";
	case 90: return "user_canceled";
	case 100: return "no_renegotiation";
	case 109: return "missing_extension";
	case 110: return "unsupported_extension";
	case 111: return "certificate_unobtainable";
	case 112: return "unrecognized_name";
	case 113: return "bad_certificate_status_response";
	case 114: return "bad_certificate_hash_value";
	case 115: return "unknown_psk_identity";
	case 116: return "certificate_required";
	case 117: return "general_error";
	case 120: return "no_application_protocol";
	case 121: return "ech_required";
	default: {
		static _Thread_local char buf[8];
		snprintf(buf, sizeof buf, "0x%02x", desc);
		return buf;
	}
	}
}

/* Weak suites, decided from the IANA name (so every registered suite is
 * classified the same way):
 *  - NULL encryption ("_WITH_NULL_", TLS_NULL_WITH_NULL_NULL) and the
 *    integrity-only TLS 1.3 suites of RFC 9150 (TLS_SHA256_SHA256,
 *    TLS_SHA384_SHA384): no confidentiality;
 *  - EXPORT: 40/56-bit keys (RFC 7525 4.1, FREAK/Logjam);
 *  - anon: no authentication, trivially intercepted (RFC 7525 4.1);
 *  - RC4: prohibited by RFC 7465;
 *  - DES (56-bit) and 3DES (64-bit block, Sweet32; RFC 7525 4.1, RFC 9325 4.1).
 * The SCSV pseudo-suites are not suites and not weak. */
bool tls_cipher_weak(uint16_t suite)
{
	const char *n = suite_name(suite);
	if (!n)
		return false;
	return strstr(n, "_WITH_NULL_") || strncmp(n, "TLS_NULL_", 9) == 0 ||
	       strcmp(n, "TLS_SHA256_SHA256") == 0 || strcmp(n, "TLS_SHA384_SHA384") == 0 ||
	       strstr(n, "_EXPORT") || strstr(n, "_anon_") || strstr(n, "_RC4_") ||
	       strstr(n, "_DES_") || strstr(n, "_DES40_") || strstr(n, "_3DES_");
}
