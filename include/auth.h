/* auth — SMTP AUTH (RFC 4954) credential decoding, one attempt at a time.
 *
 * The SMTP dissector drives it: auth_attempt_begin() on the AUTH command,
 * auth_client_response() for the initial response and every client line of
 * the dialogue, auth_server_challenge() for each 334 text and
 * auth_server_result() for the final reply. Nothing here knows about output
 * formats or the event bus; it only decodes and remembers.
 *
 * Mechanisms: LOGIN (RFC draft-murchison-sasl-login: username then password,
 * whatever the prompt text says), PLAIN (RFC 4616: authzid NUL authcid NUL
 * passwd), CRAM-MD5 (RFC 2195: "user digest", the server challenge is kept),
 * XOAUTH2 (Google: "user=U^Aauth=Bearer T^A^A"), OAUTHBEARER (RFC 7628: GS2
 * header "n,a=U,"), SCRAM-* (RFC 5802: "n=U" in client-first), NTLM
 * (MS-NLMP: user, domain and workstation from the AUTHENTICATE message).
 *
 * Secrets (passwords, bearer tokens, CRAM-MD5 digests) are decoded into the
 * attempt; whether they are shown is the caller's decision (--show-secrets).
 * All strings are copies capped at AUTH_FIELD_MAX bytes, NUL-terminated, and
 * may contain any byte (they come from the wire): escape them before output.
 */
#ifndef SMTPSCOPE_AUTH_H
#define SMTPSCOPE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

#define AUTH_FIELD_MAX 512 /* bytes kept per decoded field; the rest is dropped */

enum auth_mech {
	AUTH_MECH_OTHER = 0, /* a mechanism we do not decode (GSSAPI, ...) */
	AUTH_MECH_LOGIN,
	AUTH_MECH_PLAIN,
	AUTH_MECH_CRAM_MD5,
	AUTH_MECH_XOAUTH2,
	AUTH_MECH_OAUTHBEARER,
	AUTH_MECH_NTLM,
	AUTH_MECH_SCRAM,
};

enum auth_result {
	AUTH_RESULT_UNKNOWN = 0, /* no final reply seen (yet) */
	AUTH_RESULT_SUCCESS,     /* 235 */
	AUTH_RESULT_FAILURE,     /* 4xx/5xx other than the answer to a cancel */
	AUTH_RESULT_CANCELLED,   /* the client sent "*" */
};

/* Bits returned by auth_client_response(): anomalies for the caller to raise. */
#define AUTH_ANOM_BAD_BASE64 0x1u /* the response is not valid base64 */
#define AUTH_ANOM_MALFORMED  0x2u /* decoded, but not the mechanism's format */
#define AUTH_ANOM_EXTRA      0x4u /* more responses than the mechanism takes */

/* What one client response was, for labels ("AUTH LOGIN username: vasia"). */
struct auth_note {
	const char *what;     /* constant: "username", "password", "credentials", ... */
	const char *value;    /* decoded value to show (points into the attempt), or NULL */
	size_t      value_n;  /* its length */
	bool value_secret;    /* value is a password/token: mask unless --show-secrets */
	bool line_secret;     /* the raw line encodes a secret: mask the wire text too */
};

struct auth_attempt {
	enum auth_mech mech;       /* decoded mechanism */
	char mech_name[32];        /* mechanism as sent, upper-cased, printable ASCII */
	struct sbuf authzid;       /* PLAIN authorization identity ("" when empty) */
	struct sbuf user;          /* username (authcid, LOGIN user, NTLM user, ...) */
	struct sbuf domain;        /* NTLM domain */
	struct sbuf workstation;   /* NTLM workstation */
	struct sbuf secret;        /* password, bearer token or CRAM-MD5 digest */
	struct sbuf challenge;     /* CRAM-MD5 server challenge (decoded) */
	bool has_user;             /* user was transmitted */
	bool has_secret;           /* secret was transmitted */
	bool cancelled;            /* the client sent "*" */
	bool bad_base64;           /* some response was not valid base64 */
	bool malformed;            /* some response did not fit the mechanism */
	unsigned n_resp;           /* client responses so far (initial response included) */
	unsigned n_chal;           /* 334 challenges so far */
	enum auth_result result;   /* outcome */
	int reply_code;            /* code of the final reply, 0 if none */
	uint64_t ts_us;            /* time of the AUTH command */
	bool tls;                  /* sent after TLS began (set by smtp, not auth_*) */
	bool in_txn;               /* the AUTH in effect of a transaction without TLS
	                              (whose cleartext_auth covers it; set by smtp) */
};

/* Start an attempt for mechanism name mech[0..n) (as on the AUTH line).
 * a must be zeroed or freed before. */
void auth_attempt_begin(struct auth_attempt *a, const uint8_t *mech, size_t n, uint64_t ts_us);
/* Release the strings of a; a can be begun again. */
void auth_attempt_free(struct auth_attempt *a);

/* One client response (base64 text as on the wire, without CRLF): the
 * initial response of the AUTH line (initial = true; "=" means empty) or a
 * line sent after a 334. "*" cancels (RFC 4954 §4). Fills note (which may be
 * NULL) and returns AUTH_ANOM_* bits. Never reads outside p[0..n). */
unsigned auth_client_response(struct auth_attempt *a, const uint8_t *p, size_t n, bool initial,
                              struct auth_note *note);
/* The text of a 334 reply (after "334 "), base64; kept for CRAM-MD5. */
void auth_server_challenge(struct auth_attempt *a, const uint8_t *p, size_t n);
/* The final reply to the dialogue: 235 success; other 2xx success; 4xx/5xx
 * failure (or cancelled after "*"). */
void auth_server_result(struct auth_attempt *a, int code);
/* True while the mechanism still expects a client response, as far as can
 * be told without the server (used when replies are missing). */
bool auth_expects_response(const struct auth_attempt *a);

const char *auth_mech_str(enum auth_mech m);     /* "LOGIN", ... "other" */
const char *auth_result_str(enum auth_result r); /* "success", "failure", "cancelled", "unknown" */

/* Decode an NTLMSSP AUTHENTICATE (type 3) message (MS-NLMP §2.2.1.3) from
 * p[0..n): user, domain and workstation, converted from UTF-16LE to UTF-8
 * when the UNICODE flag is set. Every offset is bounds-checked. Returns the
 * message type (1, 2, 3) or 0 if p is not an NTLMSSP message; the strings
 * are only appended for type 3 (and only when valid). */
int auth_ntlm_parse(const uint8_t *p, size_t n, struct sbuf *user, struct sbuf *domain,
                    struct sbuf *workstation);

#endif
