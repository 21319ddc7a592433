/* verdict — findings about one finished mail transaction: pure functions of
 * what the SMTP dialogue and the message headers said (no I/O, no state
 * between calls). Ids, severities and the exact rules are in docs/findings.md.
 *
 * Domains are compared in A-label form (RFC 5890: lowercased, non-ASCII
 * labels punycode-encoded), Organizational Domains come from the Public Suffix
 * List through libpsl (RFC 7489 §3.2).
 */
#ifndef SMTPSCOPE_VERDICT_H
#define SMTPSCOPE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

struct imf_headers; /* include/imf.h */

/* Everything a finding may look at. Strings are NUL-terminated and may be
 * NULL; they are borrowed for the duration of verdict_run(). */
struct verdict_input {
	const char *helo;                /* HELO/EHLO argument, NULL if none was seen */
	const char *mail_from;           /* envelope sender without <>; "" = null sender; NULL = no MAIL */
	const char *const *rcpt_to;      /* RCPT TO addresses without <> */
	size_t n_rcpt;                   /* entries in rcpt_to */
	const char *auth_user;           /* authenticated username (AUTH succeeded), or NULL */
	bool tls;                        /* the mail was sent under TLS (after STARTTLS) */
	bool auth_cleartext;             /* credentials were sent without TLS */
	bool starttls_offered;           /* the server advertised STARTTLS */
	bool starttls_used;              /* the client issued STARTTLS and the server accepted */
	bool smuggling_bare_lf;          /* bare LF in the message data */
	bool smuggling_bare_cr;          /* bare CR in the message data */
	bool smuggling_bad_eod;          /* a non-standard end-of-data sequence (e.g. LF.LF, LF.CRLF) */
	const struct imf_headers *headers; /* NULL if no message was transferred */
	bool strict_alignment;           /* --strict-alignment: exact domains (RFC 7489 §3.1 strict) */
};

#define VERDICT_MAX_FINDINGS 32 /* more than verdict_run() can produce for one input */

struct finding {
	const char *id;       /* stable id, e.g. "from_mismatch" (docs/findings.md); a string constant */
	const char *severity; /* "high", "medium", "low" or "info"; a string constant */
	char *detail;         /* malloc'd sentence naming the values compared; may hold wire text (sinks escape) */
};

/* What a whole session said that no transaction reports (findings with
 * "scope":"session"). Borrowed for the duration of verdict_session_run(). */
struct verdict_session_input {
	unsigned long long auth_clear;   /* AUTH attempts that sent credentials without TLS
	                                    and were the AUTH of no transaction reported */
	unsigned long long auth_clear_failed; /* of which the server refused (535, ...) */
	const char *const *users;        /* their usernames as sent (distinct, a few) */
	size_t n_users;                  /* entries in users */
	bool starttls_offered;           /* the server advertised STARTTLS */
	/* TLS (docs/findings.md, "TLS and STARTTLS"): */
	bool tls;                        /* the session turned TLS (STARTTLS accepted, or implicit) */
	const struct verdict_tls *hs;    /* what the TLS handshake showed, NULL if not parsed */
	bool starttls_masked;            /* an EHLO reply masked STARTTLS ("250-XXXXXXXA") */
	int starttls_refused;            /* 454/5xx to an advertised STARTTLS, 0 none */
	bool starttls_refused_continued; /* ... and the client went on (a command other than QUIT) */
	const char *starttls_no_handshake; /* after the 220 no TLS handshake: what came instead, or NULL */
	unsigned long long starttls_injected; /* client bytes sent after STARTTLS before its 220 */
};

/* The TLS handshake's facts the rules look at (copied from struct tls_info
 * by the caller; strings borrowed, NUL-terminated, may be NULL). */
struct verdict_tls {
	unsigned version;                /* 0x0300 SSL 3.0 .. 0x0304 TLS 1.3, 0 unknown */
	const char *version_name;        /* "TLS 1.0" */
	unsigned cipher;                 /* negotiated suite, 0 unknown */
	const char *cipher_name;         /* IANA name */
	bool cipher_weak;                /* tls_cipher_weak(): NULL, EXPORT, anon, RC4, DES, 3DES */
	const char *sni;                 /* ClientHello server_name, NULL if none */
	bool cert_seen;                  /* the leaf certificate was parsed */
	const char *cert_subject;        /* RFC 2253 text */
	const char *cert_cn;             /* its CN, NULL if none */
	const char *const *cert_dns;     /* subjectAltName dNSNames */
	size_t n_cert_dns;
	long long not_before, not_after; /* Unix seconds, 0 unknown */
	bool self_signed;
	long long capture_time;          /* the session's packet time (Unix seconds), not the clock */
};

/* RFC 6125 §6.4 name matching of a reference host name against one
 * presented name (a dNSName or CN): ASCII case-insensitive, a trailing dot
 * ignored, a wildcard only as the whole left-most label, matching exactly one
 * label, and never in the last two labels ("*.com", "*.co" do not match). */
bool verdict_tls_name_match(const char *host, const char *pattern);

/* The CN of a certificate subject in RFC 4514/2253 text ("CN=mx.example,O=X")
 * into buf[0..len), "" if none (attributes split at unescaped ',' or '+'). */
void verdict_subject_cn(const char *subject, char *buf, size_t len);

/* Session-scoped rules (cleartext_auth when no transaction carries it, the
 * TLS and STARTTLS rules); as verdict_run(). */
size_t verdict_session_run(const struct verdict_session_input *in, struct finding *out, size_t max);

/* Evaluate every rule on in and write up to max findings to out, in a fixed
 * rule order. Returns how many were written. The caller frees each with
 * finding_free(). */
size_t verdict_run(const struct verdict_input *in, struct finding *out, size_t max);
void finding_free(struct finding *f);

/* The Organizational Domain (RFC 7489 §3.2) of domain, in A-label form, into
 * buf[0..len): the registrable domain per the Public Suffix List, or the
 * domain itself when it has none (a public suffix, a single label). Returns
 * buf, or NULL if domain is empty, not valid UTF-8, or does not fit. */
const char *verdict_org_domain(const char *domain, char *buf, size_t len);

/* domain in A-label form (lowercase, "xn--" labels) into buf; NULL on
 * failure as above. Address literals "[...]" are returned lowercased. */
const char *verdict_domain_alabel(const char *domain, char *buf, size_t len);

/* Optimal-string-alignment Damerau-Levenshtein distance of a and b, or
 * limit+1 if it exceeds limit (or either is longer than 64 bytes). */
unsigned verdict_edit_distance(const char *a, const char *b, unsigned limit);

#endif
