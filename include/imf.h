/* imf — Internet Message Format header push-parser (RFC 5322, RFC 2045-2047,
 * RFC 2231, RFC 6532).
 *
 * Fed the bytes of one message as they stream out of DATA (after
 * dot-unstuffing) or BDAT, split anywhere. It keeps the top-level header block
 * only (unfolded, capped), extracts the fields smtpscope reports, and follows
 * the MIME multipart structure of the body with a bounded scanner to collect
 * attachment names and content types. Headers of an attached message/rfc822
 * never reach the outer message's fields.
 *
 * Every buffer has a named cap (below); what goes past a cap is dropped, an
 * anomaly is raised (src/anom_imf.def) and parsing carries on. Memory per
 * parser is bounded by these caps whatever the input.
 *
 * Strings in struct imf_headers are NUL-terminated UTF-8 where the input could
 * be decoded, otherwise the original bytes (never NUL: a NUL byte on the wire
 * becomes U+FFFD). Sinks must escape them (include/esc.h); the JSON and
 * transcript forms are written by the output layer (include/out_imf.h).
 */
#ifndef SMTPSCOPE_IMF_H
#define SMTPSCOPE_IMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "sbuf.h"

#define IMF_HEADER_MAX    (256u * 1024) /* bytes of the top-level header block kept per message */
#define IMF_FIELD_MAX     (32u * 1024)  /* bytes of one unfolded header field */
#define IMF_ADDR_MAX      100           /* addresses kept per list (From, To, Cc, ...) */
#define IMF_RECEIVED_MAX  5             /* first Received: fields kept */
#define IMF_DKIM_MAX      8             /* distinct DKIM-Signature d= domains kept */
#define IMF_ATTACH_MAX    100           /* attachments kept */
#define IMF_MIME_DEPTH_MAX 16           /* nested multipart boundaries followed */
#define IMF_MIME_PARTS_MAX 1000         /* MIME parts looked at per message */
#define IMF_PART_HEADER_MAX (16u * 1024) /* header bytes kept per MIME part */
#define IMF_BOUNDARY_MAX  200           /* longest boundary followed (RFC 2046 says 70) */

/* One mailbox of an address list (RFC 5322 §3.4). */
struct imf_addr {
	char *name;    /* display name, RFC 2047-decoded; NULL if none (a trailing comment stands in) */
	char *address; /* addr-spec "local@domain" (CFWS and obs-route removed); never NULL */
};

struct imf_addr_list {
	struct imf_addr *v; /* kept addresses, at most IMF_ADDR_MAX */
	size_t n;           /* entries in v */
	size_t more;        /* addresses seen beyond the cap */
	size_t nul;         /* parses in which decoding a display name produced a NUL (now U+FFFD) */
};

struct imf_attachment {
	char *name;         /* file name (RFC 2231 / RFC 2047 decoded) or NULL */
	char *content_type; /* lowercased "type/subtype", never NULL ("application/octet-stream" if unknown) */
};

struct imf_headers {
	struct imf_addr_list from;     /* every mailbox of every From: field */
	unsigned from_fields;          /* number of From: fields seen (RFC 5322 §3.6 allows one) */
	struct imf_addr_list sender;   /* Sender: (one expected) */
	struct imf_addr_list reply_to; /* Reply-To: */
	struct imf_addr_list to;       /* To: (all To: fields) */
	struct imf_addr_list cc;       /* Cc: (all Cc: fields) */
	char *subject;                 /* Subject:, RFC 2047-decoded, NULL if absent */
	char *subject_raw;             /* Subject: as on the wire (unfolded, trimmed) */
	char *date;                    /* Date: (trimmed) */
	char *message_id;              /* Message-ID: (trimmed) */
	char *in_reply_to;             /* In-Reply-To: (trimmed) */
	char *return_path;             /* Return-Path: address without <>, "" for <> */
	char *user_agent;              /* first of X-Mailer: / User-Agent:, decoded */
	char *list_id;                 /* List-Id: (trimmed, decoded), a mailing-list hint for verdict */
	char *received[IMF_RECEIVED_MAX]; /* first Received: fields, unfolded */
	size_t n_received;             /* entries in received */
	size_t received_total;         /* Received: fields seen */
	char *dkim_domains[IMF_DKIM_MAX]; /* distinct lowercased d= of DKIM-Signature: fields */
	size_t n_dkim;                 /* entries in dkim_domains */
	struct imf_attachment *attachments; /* attachments found in the MIME structure */
	size_t n_attachments;          /* entries in attachments */
	size_t attachments_more;       /* attachments beyond IMF_ATTACH_MAX */
	char *content_type;            /* top-level Content-Type "type/subtype", lowercased, or NULL */
	uint64_t header_bytes;         /* bytes of the top-level header block seen */
	uint64_t body_bytes;           /* bytes after the header block */
	unsigned mime_parts;           /* MIME parts seen in the body */
	bool complete;                 /* the header block ended with its empty line */
	bool truncated;                /* header block cut: cap hit, gap, or message ended inside it */
	struct anom_set anoms;         /* imf_* anomalies of this message */
};

struct imf_parser;

/* Scratch buffers reused from one address-list parse to the next, so a
 * header field costs no malloc/free. Whoever owns one uses it from one thread
 * at a time (msgwire keeps one per instance and lends it to its parsers:
 * docs/design.md, "Per-thread state"). Start from IMF_SCRATCH_INIT; release
 * with imf_scratch_free(). What a field leaves in it is bounded (a
 * pathological field's buffers are given back, not kept). */
struct imf_tok;
struct imf_scratch {
	struct sbuf raw, dec, addr, text;
	struct imf_tok *tok;
	size_t tok_cap;
};
#define IMF_SCRATCH_INIT { SBUF_INIT, SBUF_INIT, SBUF_INIT, SBUF_INIT, NULL, 0 }
void imf_scratch_free(struct imf_scratch *sc);

/* A new parser, ready for a message. Never NULL (aborts on out-of-memory).
 * It keeps its own scratch. */
struct imf_parser *imf_parser_new(void);
/* The same, borrowing sc (which must outlive the parser and is used only
 * while one of its calls runs, so several parsers of one thread share it). */
struct imf_parser *imf_parser_new_scratch(struct imf_scratch *sc);
/* Forget the current message; ready for a new one. */
void imf_parser_reset(struct imf_parser *p);
/* Message bytes in order, split anywhere. Bounded work and memory. */
void imf_push(struct imf_parser *p, const uint8_t *data, size_t len);
/* len bytes of the message are missing from the capture. Inside the header
 * block the headers are marked truncated and the rest of the block skipped. */
void imf_gap(struct imf_parser *p, uint64_t len);
/* End of message: flush what is pending. Further pushes are ignored. */
void imf_finish(struct imf_parser *p);
/* The message was cut (RST, end of capture, a lost end of data) before it
 * ended: a header block still open is truncated, not complete (so no
 * finding judges fields it may have missed). Call before imf_finish(). */
void imf_cut(struct imf_parser *p);
/* The fields so far; valid until imf_parser_reset() or imf_parser_free(). */
const struct imf_headers *imf_headers(const struct imf_parser *p);
void imf_parser_free(struct imf_parser *p);
/* The parser state as a constant string ("headers", "headers_skip", "body", "done"), for logs. */
const char *imf_strstate(const struct imf_parser *p);

/* --- building blocks, exported for tests and for other modules --- */

/* Parse an RFC 5322 address-list / mailbox-list (§3.4, obsolete forms of
 * §4.4 included) from the unfolded field body in[0..n) and append the
 * mailboxes to list (capped at IMF_ADDR_MAX, the rest counted in more).
 * Group names are dropped, their members kept. Returns 0 if the syntax was
 * clean, -1 if something had to be skipped (addresses found are still kept). */
int imf_parse_addresses(struct imf_addr_list *list, const char *in, size_t n);
/* The same with the caller's scratch (no allocation for the scratch). */
int imf_parse_addresses_with(struct imf_scratch *sc, struct imf_addr_list *list, const char *in, size_t n);
/* The same through the general lexer only (imf_parse_addresses tries a fast
 * path for the common shapes first); for tests. */
int imf_parse_addresses_lexed(struct imf_addr_list *list, const char *in, size_t n);
void imf_addr_list_free(struct imf_addr_list *list);

/* Decode an unstructured header body in[0..n) (RFC 2047 §5(1)) to out:
 * encoded words in any charset iconv knows become UTF-8; whitespace between
 * adjacent encoded words is dropped (§6.2); other bytes are copied as they
 * are. A NUL that decoding produces (=00, a base64 zero byte, UTF-16 "\0\0")
 * becomes U+FFFD, as a NUL on the wire does: every consumer reads the result
 * as a C string. Returns -1 if an encoded word could not be decoded (it is
 * then copied as it was), else 1 if a NUL was replaced, else 0. */
int rfc2047_decode(struct sbuf *out, const char *in, size_t n);

/* Replace each NUL in b->buf[from..len) by U+FFFD (EF BF BD). Returns how
 * many were replaced. */
size_t imf_nul_to_fffd(struct sbuf *b, size_t from);

/* Convert in[0..n) from charset (an RFC 2231 "*lang" suffix is ignored) to
 * UTF-8, appending to out; invalid sequences become U+FFFD. Returns 0, or -1
 * if iconv does not know the charset (nothing appended). */
int imf_charset_to_utf8(struct sbuf *out, const char *charset, const void *in, size_t n);

#endif
