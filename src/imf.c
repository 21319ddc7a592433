/* imf — message header push-parser and bounded MIME structure scanner.
 * Contract in include/imf.h.
 *
 * Bytes are cut into physical lines (LF ends a line, a CR before it is
 * dropped; RFC 5322 §2.1 says CRLF, broken mail says LF). Each line goes to
 * the state in force:
 *
 *   ST_HEADERS       top-level header block: fields are unfolded (§2.2.3: a
 *                    line starting with WSP continues the field, only the
 *                    line break is removed) and handled at the next field;
 *   ST_HEADERS_SKIP  IMF_HEADER_MAX was hit or a gap hit the block: look for
 *                    the empty line only;
 *   ST_BODY          the body: if the message is multipart, follow boundaries
 *                    (RFC 2046 §5.1) with a stack of IMF_MIME_DEPTH_MAX and
 *                    read each part's header block for Content-Type and
 *                    Content-Disposition;
 *   ST_DONE          imf_finish() was called.
 *
 * A line keeps at most line_cap() bytes; the rest is counted, not stored.
 */
#include "imf.h"

#include <stdlib.h>
#include <string.h>

#include "ascii.h"
#include "esc.h"

enum imf_state { ST_HEADERS, ST_HEADERS_SKIP, ST_BODY, ST_DONE };
enum body_state {
	B_OFF,          /* not scanning (single part, or a cap was hit) */
	B_TEXT,         /* preamble, part body or epilogue: only boundaries matter */
	B_PART_HEADERS, /* header block of a MIME part (or of an embedded message) */
};

#define BODY_LINE_MAX (IMF_BOUNDARY_MAX + 8) /* body bytes kept per line: enough for a delimiter */
#define RFC2231_SECTIONS 64                   /* name*0 .. name*63 */
#define CTYPE_MAX 96                          /* "type/subtype" kept */

static const char *const state_names[] = { "headers", "headers_skip", "body", "done" };

/* The parameter a part is interested in, possibly split (RFC 2231 §3). */
struct param_acc {
	struct sbuf plain;                   /* name="value" */
	struct sbuf sec[RFC2231_SECTIONS];   /* name*N / name*N* values */
	unsigned char sec_set[RFC2231_SECTIONS]; /* 1 plain section, 2 extended */
	int have_plain, have_sec;
};

struct part_info {
	char ctype[CTYPE_MAX];               /* lowercased type/subtype, "" if none */
	char boundary[IMF_BOUNDARY_MAX + 1]; /* multipart boundary */
	size_t blen;                         /* 0: none */
	char *name_ct;                       /* Content-Type name= (decoded) */
	char *name_cd;                       /* Content-Disposition filename= (decoded) */
	int disp_attachment;                 /* Content-Disposition: attachment */
	int seen_ctype, seen_cdisp;          /* first field of each wins */
};

struct mime_level {
	char boundary[IMF_BOUNDARY_MAX + 1]; /* delimiter without the leading "--" */
	size_t blen;
};

struct imf_parser {
	struct imf_headers h;           /* what we report */
	enum imf_state state;           /* see the top of this file */
	enum body_state bstate;         /* sub-state of ST_BODY */
	struct sbuf line;               /* current physical line, capped */
	int line_over;                  /* bytes of this line were dropped */
	struct sbuf field;              /* current unfolded field "Name: value" */
	size_t field_name_len;          /* length of the name (before WSP and ':') */
	size_t field_colon;             /* offset of the ':' */
	int have_field;                 /* field holds a field */
	int field_over;                 /* field was cut at IMF_FIELD_MAX */
	uint64_t part_header_bytes;     /* header bytes of the current MIME part */
	struct part_info part;          /* current MIME part (or the top level) */
	struct mime_level stack[IMF_MIME_DEPTH_MAX]; /* open multiparts, outermost first */
	size_t depth;                   /* entries in stack */
	unsigned seen;                  /* bitmask of once-only fields already seen */
	struct imf_scratch *sc;         /* address-list scratch: own_sc or borrowed */
	struct imf_scratch own_sc;      /* imf_parser_new()'s */
};

/* Once-only fields (RFC 5322 §3.6, table: max 1). */
enum {
	SEEN_SENDER = 1, SEEN_REPLY_TO = 2, SEEN_TO = 4, SEEN_CC = 8, SEEN_SUBJECT = 16,
	SEEN_DATE = 32, SEEN_MSGID = 64, SEEN_IRT = 128, SEEN_UA = 256, SEEN_RPATH = 512,
	SEEN_LISTID = 1024,
};

static void imf_anom(struct imf_parser *p, enum anom_id id)
{
	/* once per message: hostile input must not inflate counters per line */
	if (!anom_has(&p->h.anoms, id))
		anom_raise(&p->h.anoms, id);
}

static int is_wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trim WSP on both ends; returns a pointer into s and the new length. */
static const char *trim(const char *s, size_t n, size_t *out_n)
{
	while (n && is_wsp((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && is_wsp((unsigned char)s[n - 1]))
		n--;
	*out_n = n;
	return s;
}

/* A malloc'd copy of s[0..n) with each run of WSP turned into one space and
 * the ends trimmed (for Received:, Date:, ...). */
static char *squeeze_dup(const char *s, size_t n)
{
	s = trim(s, n, &n);
	char *d = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_wsp((unsigned char)s[i])) {
			if (k && d[k - 1] != ' ')
				d[k++] = ' ';
		} else {
			d[k++] = s[i];
		}
	}
	d[k] = '\0';
	return d;
}

static char *decode_dup(struct imf_parser *p, const char *s, size_t n)
{
	struct sbuf dec = SBUF_INIT;
	s = trim(s, n, &n);
	if (rfc2047_decode(&dec, s, n) > 0)
		imf_anom(p, ANOM_IMF_NUL_BYTE);
	char *r = squeeze_dup(dec.buf ? dec.buf : "", dec.len);
	sbuf_free(&dec);
	return r;
}

/* ---------------------------------------------------------------- MIME params */

static void param_acc_free(struct param_acc *a)
{
	sbuf_free(&a->plain);
	if (a->have_sec) /* sections are only allocated once one was seen */
		for (size_t i = 0; i < RFC2231_SECTIONS; i++)
			sbuf_free(&a->sec[i]);
	memset(a, 0, sizeof *a);
}

/* Feed one parameter attr=value to a if attr is base, base*, base*N or
 * base*N* (RFC 2231 §3-4). */
static void param_acc_add(struct param_acc *a, const char *base, const char *attr, size_t alen,
			  const char *val, size_t vlen)
{
	size_t bl = strlen(base);
	if (alen < bl || !ascii_eq_ci(attr, bl, base))
		return;
	const char *r = attr + bl;
	size_t rl = alen - bl;
	if (rl == 0) {
		if (!a->have_plain) {
			sbuf_add(&a->plain, val, vlen);
			a->have_plain = 1;
		}
		return;
	}
	if (r[0] != '*')
		return;
	r++;
	rl--;
	unsigned sec = 0, digits = 0;
	while (rl && r[0] >= '0' && r[0] <= '9') {
		if (sec < RFC2231_SECTIONS)
			sec = sec * 10 + (unsigned)(r[0] - '0');
		digits++;
		r++;
		rl--;
	}
	int ext = 0;
	if (rl && r[0] == '*') {
		ext = 1;
		r++;
		rl--;
	}
	if (rl)
		return; /* another parameter, e.g. "name*x" */
	if (!digits)
		ext = 1, sec = 0; /* "name*=" is extended, one section */
	if (sec >= RFC2231_SECTIONS || a->sec_set[sec])
		return;
	sbuf_add(&a->sec[sec], val, vlen);
	a->sec_set[sec] = (unsigned char)(ext ? 2 : 1);
	a->have_sec = 1;
}

/* The parameter value as UTF-8 (malloc'd) or NULL. RFC 2231 sections are
 * joined in order up to the first missing one; extended ones are
 * percent-decoded and converted from the charset of section 0 ("charset'lang'",
 * the language ignored). A plain value goes through RFC 2047 (mailers put
 * encoded words in name= though RFC 2047 §5 forbids it). */
static char *param_acc_value(struct imf_parser *p, const struct param_acc *a)
{
	if (a->have_sec && a->sec_set[0]) {
		struct sbuf raw = SBUF_INIT, out = SBUF_INIT;
		char charset[64] = "";
		for (size_t s = 0; s < RFC2231_SECTIONS && a->sec_set[s]; s++) {
			const char *v = a->sec[s].buf ? a->sec[s].buf : "";
			size_t n = a->sec[s].len, i = 0;
			if (a->sec_set[s] != 2) {
				sbuf_add(&raw, v, n);
				continue;
			}
			if (s == 0) {
				const char *q1 = memchr(v, '\'', n);
				const char *q2 = q1 ? memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - v)) : NULL;
				if (q1 && q2) {
					size_t cl = (size_t)(q1 - v);
					if (cl < sizeof charset) {
						memcpy(charset, v, cl);
						charset[cl] = '\0';
					}
					i = (size_t)(q2 + 1 - v);
				}
			}
			for (; i < n; i++) {
				if (v[i] == '%' && i + 2 < n + 0 && hexval((unsigned char)v[i + 1]) >= 0 &&
				    hexval((unsigned char)v[i + 2]) >= 0) {
					sbuf_addc(&raw, (char)(hexval((unsigned char)v[i + 1]) * 16 +
							       hexval((unsigned char)v[i + 2])));
					i += 2;
				} else {
					sbuf_addc(&raw, v[i]);
				}
			}
		}
		if (!charset[0] || imf_charset_to_utf8(&out, charset, raw.buf ? raw.buf : "", raw.len) < 0)
			sbuf_add(&out, raw.buf ? raw.buf : "", raw.len);
		if (imf_nul_to_fffd(&out, 0)) /* "%00" (b07: invoice.pdf%00.exe) */
			imf_anom(p, ANOM_IMF_NUL_BYTE);
		char *r = out.len ? xstrndup(out.buf, out.len) : NULL;
		sbuf_free(&raw);
		sbuf_free(&out);
		return r;
	}
	if (a->have_plain) {
		char *r = decode_dup(p, a->plain.buf ? a->plain.buf : "", a->plain.len);
		if (!r[0]) {
			free(r);
			return NULL;
		}
		return r;
	}
	return NULL;
}

/* Parse a Content-Type / Content-Disposition body (RFC 2045 §5.1, RFC 2183):
 * the first token (lowercased into first[0..fsize)), then ";"-separated
 * parameters; boundary= goes to boundary/blen (when non-NULL), base= / base*=
 * to acc. Comments are skipped. Lenient: unquoted values run to ';'. */
static void mime_field_parse(const char *v, size_t n, char *first, size_t fsize,
			     char *boundary, size_t *blen, const char *base, struct param_acc *acc)
{
	size_t i = 0, k = 0;
	while (i < n && (is_wsp((unsigned char)v[i]) || v[i] == '('))
		if (v[i++] == '(')
			while (i < n && v[i++] != ')')
				;
	while (i < n && v[i] != ';' && !is_wsp((unsigned char)v[i]) && v[i] != '(') {
		if (k + 1 < fsize)
			first[k++] = (char)ascii_lower((unsigned char)v[i]);
		i++;
	}
	first[k] = '\0';
	while (i < n) {
		while (i < n && v[i] != ';') { /* skip to the next parameter */
			if (v[i] == '"') { /* a stray quoted string is skipped whole */
				i++;
				while (i < n && v[i] != '"')
					i += (v[i] == '\\') ? 2 : 1;
			}
			i++;
		}
		if (i >= n)
			break;
		i++; /* ';' */
		while (i < n && is_wsp((unsigned char)v[i]))
			i++;
		size_t a0 = i;
		while (i < n && v[i] != '=' && v[i] != ';' && !is_wsp((unsigned char)v[i]))
			i++;
		size_t alen = i - a0;
		while (i < n && is_wsp((unsigned char)v[i]))
			i++;
		if (i >= n || v[i] != '=' || alen == 0)
			continue;
		i++;
		while (i < n && is_wsp((unsigned char)v[i]))
			i++;
		struct sbuf val = SBUF_INIT;
		if (i < n && v[i] == '"') {
			i++;
			while (i < n && v[i] != '"') {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				sbuf_addc(&val, v[i]);
				i++;
			}
			if (i < n)
				i++;
		} else {
			size_t s = i;
			while (i < n && v[i] != ';')
				i++;
			size_t tl;
			const char *t = trim(v + s, i - s, &tl);
			sbuf_add(&val, t, tl);
		}
		const char *vs = val.buf ? val.buf : "";
		if (boundary && ascii_eq_ci(v + a0, alen, "boundary") && !*blen && val.len &&
		    val.len <= IMF_BOUNDARY_MAX) {
			memcpy(boundary, vs, val.len);
			boundary[val.len] = '\0';
			*blen = val.len;
		}
		if (acc)
			param_acc_add(acc, base, v + a0, alen, vs, val.len);
		sbuf_free(&val);
	}
}

/* ---------------------------------------------------------------- parts */

static void part_clear(struct part_info *pt)
{
	free(pt->name_ct);
	free(pt->name_cd);
	memset(pt, 0, sizeof *pt);
}

static void part_field(struct imf_parser *p, const char *name, size_t nl, const char *v, size_t vn)
{
	struct part_info *pt = &p->part;
	if (ascii_eq_ci(name, nl, "content-type") && !pt->seen_ctype) {
		struct param_acc acc;
		memset(&acc, 0, sizeof acc);
		pt->seen_ctype = 1;
		mime_field_parse(v, vn, pt->ctype, sizeof pt->ctype, pt->boundary, &pt->blen, "name", &acc);
		pt->name_ct = param_acc_value(p, &acc);
		param_acc_free(&acc);
	} else if (ascii_eq_ci(name, nl, "content-disposition") && !pt->seen_cdisp) {
		struct param_acc acc;
		char disp[32];
		memset(&acc, 0, sizeof acc);
		pt->seen_cdisp = 1;
		mime_field_parse(v, vn, disp, sizeof disp, NULL, NULL, "filename", &acc);
		pt->disp_attachment = strcmp(disp, "attachment") == 0;
		pt->name_cd = param_acc_value(p, &acc);
		param_acc_free(&acc);
	}
}

static int ctype_is_multipart(const char *ct)
{
	return strncmp(ct, "multipart/", 10) == 0;
}

/* Record the current part as an attachment when it is one: it has a file
 * name, says "attachment", or is an attached message (RFC 2046 §5.2.1). */
static void part_register(struct imf_parser *p)
{
	struct part_info *pt = &p->part;
	if (ctype_is_multipart(pt->ctype))
		return;
	if (!pt->name_cd && !pt->name_ct && !pt->disp_attachment && strcmp(pt->ctype, "message/rfc822"))
		return;
	struct imf_headers *h = &p->h;
	if (h->n_attachments >= IMF_ATTACH_MAX) {
		h->attachments_more++;
		return;
	}
	if (h->n_attachments == 0 || (h->n_attachments & (h->n_attachments - 1)) == 0)
		h->attachments = xrealloc(h->attachments,
					  (h->n_attachments ? h->n_attachments * 2 : 1) * sizeof *h->attachments);
	struct imf_attachment *a = &h->attachments[h->n_attachments++];
	a->name = pt->name_cd ? pt->name_cd : pt->name_ct;
	if (a->name == pt->name_cd)
		pt->name_cd = NULL;
	else
		pt->name_ct = NULL;
	/* RFC 2045 §5.2: no Content-Type means text/plain */
	a->content_type = xstrndup(pt->ctype[0] ? pt->ctype : "text/plain",
				   strlen(pt->ctype[0] ? pt->ctype : "text/plain"));
}

/* Open the multipart of the current part, if it is one. */
static void part_open_multipart(struct imf_parser *p)
{
	struct part_info *pt = &p->part;
	if (!ctype_is_multipart(pt->ctype)) {
		p->bstate = p->depth ? B_TEXT : B_OFF;
		return;
	}
	if (!pt->blen) {
		imf_anom(p, ANOM_IMF_MIME_NO_BOUNDARY);
		p->bstate = p->depth ? B_TEXT : B_OFF;
		return;
	}
	if (p->depth >= IMF_MIME_DEPTH_MAX) {
		imf_anom(p, ANOM_IMF_MIME_TOO_DEEP);
		p->bstate = B_TEXT;
		return;
	}
	struct mime_level *lv = &p->stack[p->depth++];
	memcpy(lv->boundary, pt->boundary, pt->blen + 1);
	lv->blen = pt->blen;
	p->bstate = B_TEXT;
}

/* The empty line after a part's header block. */
static void part_headers_end(struct imf_parser *p)
{
	part_register(p);
	int rfc822 = strcmp(p->part.ctype, "message/rfc822") == 0;
	part_open_multipart(p);
	if (rfc822 && p->bstate != B_OFF) {
		/* the attached message's own header block follows: read it as part
		 * headers so its MIME structure is followed, never as our fields */
		if (p->h.mime_parts >= IMF_MIME_PARTS_MAX) {
			imf_anom(p, ANOM_IMF_MIME_TOO_MANY_PARTS);
			p->bstate = B_OFF;
		} else {
			p->h.mime_parts++;
			p->bstate = B_PART_HEADERS;
		}
	}
	part_clear(&p->part);
	p->part_header_bytes = 0;
}

/* ---------------------------------------------------------------- top fields */

static void set_once(struct imf_parser *p, unsigned bit, char **slot, char *val)
{
	if (p->seen & bit) {
		imf_anom(p, ANOM_IMF_DUPLICATE_FIELD);
		free(val);
		return;
	}
	p->seen |= bit;
	free(*slot);
	*slot = val;
}

static void addr_field(struct imf_parser *p, unsigned bit, struct imf_addr_list *l,
		       const char *v, size_t n)
{
	if (bit) {
		if (p->seen & bit)
			imf_anom(p, ANOM_IMF_DUPLICATE_FIELD);
		p->seen |= bit;
	}
	size_t before = l->more, nul = l->nul;
	if (imf_parse_addresses_with(p->sc, l, v, n) < 0)
		imf_anom(p, ANOM_IMF_ADDRESS_SYNTAX);
	if (l->nul > nul)
		imf_anom(p, ANOM_IMF_NUL_BYTE);
	if (l->more > before)
		imf_anom(p, ANOM_IMF_TOO_MANY_ADDRESSES);
}

/* The d= tag of a DKIM-Signature (RFC 6376 §3.5: tag-list of §3.2). */
static void dkim_field(struct imf_parser *p, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t s = i;
		while (i < n && v[i] != ';')
			i++;
		size_t tl;
		const char *t = trim(v + s, i - s, &tl);
		i++;
		const char *eq = memchr(t, '=', tl);
		if (!eq)
			continue;
		size_t nl;
		const char *tn = trim(t, (size_t)(eq - t), &nl);
		if (!ascii_eq_ci(tn, nl, "d"))
			continue;
		char d[256];
		size_t k = 0;
		for (const char *q = eq + 1; q < t + tl; q++) /* FWS may sit anywhere */
			if (!is_wsp((unsigned char)*q) && k + 1 < sizeof d)
				d[k++] = (char)ascii_lower((unsigned char)*q);
		d[k] = '\0';
		if (!k)
			return;
		struct imf_headers *h = &p->h;
		for (size_t j = 0; j < h->n_dkim; j++)
			if (strcmp(h->dkim_domains[j], d) == 0)
				return;
		if (h->n_dkim < IMF_DKIM_MAX)
			h->dkim_domains[h->n_dkim++] = xstrndup(d, k);
		return;
	}
}

/* Return-Path: (RFC 5322 §3.6.7): the address inside <>, "" for <>. */
static char *return_path_dup(const char *v, size_t n)
{
	v = trim(v, n, &n);
	const char *lt = memchr(v, '<', n);
	if (lt) {
		const char *gt = memchr(lt, '>', n - (size_t)(lt - v));
		if (gt) {
			const char *s = lt + 1;
			size_t sl = (size_t)(gt - s);
			const char *colon = (sl && *s == '@') ? memchr(s, ':', sl) : NULL;
			if (colon) { /* obs-route */
				sl -= (size_t)(colon + 1 - s);
				s = colon + 1;
			}
			s = trim(s, sl, &sl);
			return xstrndup(s, sl);
		}
	}
	return xstrndup(v, n);
}

static void top_field(struct imf_parser *p, const char *name, size_t nl, const char *v, size_t n)
{
	struct imf_headers *h = &p->h;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v[i] >= 0x80) {
			imf_anom(p, ANOM_IMF_8BIT_HEADER);
			if (!utf8_valid(v, n))
				imf_anom(p, ANOM_IMF_INVALID_UTF8);
			break;
		}
	}
	if (ascii_eq_ci(name, nl, "from")) {
		h->from_fields++;
		if (h->from_fields > 1)
			imf_anom(p, ANOM_IMF_DUPLICATE_FIELD);
		addr_field(p, 0, &h->from, v, n);
	} else if (ascii_eq_ci(name, nl, "sender")) {
		addr_field(p, SEEN_SENDER, &h->sender, v, n);
	} else if (ascii_eq_ci(name, nl, "reply-to")) {
		addr_field(p, SEEN_REPLY_TO, &h->reply_to, v, n);
	} else if (ascii_eq_ci(name, nl, "to")) {
		addr_field(p, SEEN_TO, &h->to, v, n);
	} else if (ascii_eq_ci(name, nl, "cc")) {
		addr_field(p, SEEN_CC, &h->cc, v, n);
	} else if (ascii_eq_ci(name, nl, "subject")) {
		if (p->seen & SEEN_SUBJECT) {
			imf_anom(p, ANOM_IMF_DUPLICATE_FIELD);
			return;
		}
		p->seen |= SEEN_SUBJECT;
		size_t tl;
		const char *t = trim(v, n, &tl);
		struct sbuf dec = SBUF_INIT;
		int rc = rfc2047_decode(&dec, t, tl);
		if (rc < 0)
			imf_anom(p, ANOM_IMF_BAD_ENCODED_WORD);
		else if (rc > 0)
			imf_anom(p, ANOM_IMF_NUL_BYTE);
		h->subject = xstrndup(dec.buf ? dec.buf : "", dec.len);
		h->subject_raw = xstrndup(t, tl);
		sbuf_free(&dec);
	} else if (ascii_eq_ci(name, nl, "date")) {
		set_once(p, SEEN_DATE, &h->date, squeeze_dup(v, n));
	} else if (ascii_eq_ci(name, nl, "message-id")) {
		set_once(p, SEEN_MSGID, &h->message_id, squeeze_dup(v, n));
	} else if (ascii_eq_ci(name, nl, "in-reply-to")) {
		set_once(p, SEEN_IRT, &h->in_reply_to, squeeze_dup(v, n));
	} else if (ascii_eq_ci(name, nl, "return-path")) {
		if (!(p->seen & SEEN_RPATH)) /* several are normal after forwarding: keep the first */
			set_once(p, SEEN_RPATH, &h->return_path, return_path_dup(v, n));
	} else if (ascii_eq_ci(name, nl, "x-mailer") || ascii_eq_ci(name, nl, "user-agent")) {
		if (!(p->seen & SEEN_UA))
			set_once(p, SEEN_UA, &h->user_agent, decode_dup(p, v, n));
	} else if (ascii_eq_ci(name, nl, "list-id")) {
		set_once(p, SEEN_LISTID, &h->list_id, decode_dup(p, v, n));
	} else if (ascii_eq_ci(name, nl, "received")) {
		h->received_total++;
		if (h->n_received < IMF_RECEIVED_MAX)
			h->received[h->n_received++] = squeeze_dup(v, n);
	} else if (ascii_eq_ci(name, nl, "dkim-signature")) {
		dkim_field(p, v, n);
	} else if (ascii_eq_ci(name, nl, "content-type") || ascii_eq_ci(name, nl, "content-disposition")) {
		part_field(p, name, nl, v, n);
	}
}

/* Hand the pending field to its handler (top level or MIME part). */
static void field_flush(struct imf_parser *p)
{
	if (!p->have_field)
		return;
	p->have_field = 0;
	const char *f = p->field.buf ? p->field.buf : "";
	const char *v = f + p->field_colon + 1;
	size_t vn = p->field.len - p->field_colon - 1;
	if (p->state == ST_HEADERS)
		top_field(p, f, p->field_name_len, v, vn);
	else
		part_field(p, f, p->field_name_len, v, vn);
	sbuf_clear(&p->field);
}

static void field_append(struct imf_parser *p, const char *s, size_t n)
{
	size_t room = IMF_FIELD_MAX > p->field.len ? IMF_FIELD_MAX - p->field.len : 0;
	if (n > room) {
		n = room;
		if (!p->field_over)
			imf_anom(p, ANOM_IMF_FIELD_TOO_LONG);
		p->field_over = 1;
	}
	sbuf_add(&p->field, s, n);
}

/* One line of a header block (top level or part). Returns 1 at its end. */
static int header_line(struct imf_parser *p, const char *s, size_t n)
{
	if (n == 0) {
		field_flush(p);
		return 1;
	}
	if (s[0] == ' ' || s[0] == '\t') { /* folded continuation, §2.2.3 */
		if (p->have_field)
			field_append(p, s, n);
		else if (p->state == ST_HEADERS)
			imf_anom(p, ANOM_IMF_BAD_FIELD_LINE);
		return 0;
	}
	field_flush(p);
	const char *colon = memchr(s, ':', n);
	size_t nl = colon ? (size_t)(colon - s) : 0;
	while (nl && (s[nl - 1] == ' ' || s[nl - 1] == '\t')) /* obs-optional, §4.5 */
		nl--;
	int ok = colon && nl > 0;
	for (size_t i = 0; ok && i < nl; i++) /* ftext, §3.6.8 */
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
			ok = 0;
	if (!ok) {
		if (p->state == ST_HEADERS)
			imf_anom(p, ANOM_IMF_BAD_FIELD_LINE);
		return 0;
	}
	p->have_field = 1;
	p->field_over = 0;
	p->field_name_len = nl;
	p->field_colon = (size_t)(colon - s);
	sbuf_clear(&p->field);
	field_append(p, s, n);
	if (p->field.len <= p->field_colon) { /* the cap cut the name itself */
		p->have_field = 0;
		sbuf_clear(&p->field);
	}
	return 0;
}

/* The top-level header block ended (or was given up on). */
static void top_headers_end(struct imf_parser *p)
{
	struct part_info *pt = &p->part;
	if (pt->ctype[0])
		p->h.content_type = xstrndup(pt->ctype, strlen(pt->ctype));
	p->state = ST_BODY;
	if (ctype_is_multipart(pt->ctype)) {
		part_open_multipart(p);
	} else if (strcmp(pt->ctype, "message/rfc822") == 0) {
		/* The whole message wraps another one (RFC 2046 §5.2.1): read the
		 * wrapped header block as part headers, so its attachments are seen
		 * (hiding them behind one wrapper must not work) and its fields
		 * never become ours. */
		part_register(p);
		p->h.mime_parts++;
		p->bstate = B_PART_HEADERS;
		p->part_header_bytes = 0;
	} else {
		part_register(p); /* a single-part message that is a file */
		p->bstate = B_OFF;
	}
	part_clear(pt);
}

/* Does the body line s[0..n) delimit level lv? Sets *close for "--b--". */
static int boundary_match(const struct mime_level *lv, const char *s, size_t n, int *close)
{
	if (n < lv->blen + 2 || s[0] != '-' || s[1] != '-' || memcmp(s + 2, lv->boundary, lv->blen))
		return 0;
	size_t i = lv->blen + 2;
	*close = 0;
	if (i + 1 < n + 0 && s[i] == '-' && s[i + 1] == '-') {
		*close = 1;
		i += 2;
	}
	for (; i < n; i++) /* transport padding, RFC 2046 §5.1.1 */
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

static void body_line(struct imf_parser *p, const char *s, size_t n, int over)
{
	if (p->bstate == B_OFF)
		return;
	if (!over && n >= 2 && s[0] == '-' && s[1] == '-') {
		for (size_t k = p->depth; k-- > 0;) {
			int close;
			if (!boundary_match(&p->stack[k], s, n, &close))
				continue;
			if (p->bstate == B_PART_HEADERS) { /* part ended inside its headers */
				field_flush(p);
				part_register(p);
			}
			part_clear(&p->part);
			p->part_header_bytes = 0;
			p->depth = k + 1; /* inner multiparts end implicitly */
			if (close) {
				p->depth = k;
				p->bstate = B_TEXT; /* epilogue: outer delimiters may follow */
				if (p->depth == 0)
					p->bstate = B_OFF;
				return;
			}
			if (p->h.mime_parts >= IMF_MIME_PARTS_MAX) {
				imf_anom(p, ANOM_IMF_MIME_TOO_MANY_PARTS);
				p->bstate = B_OFF;
				return;
			}
			p->h.mime_parts++;
			p->bstate = B_PART_HEADERS;
			return;
		}
	}
	if (p->bstate != B_PART_HEADERS)
		return;
	p->part_header_bytes += n + 1;
	if (p->part_header_bytes > IMF_PART_HEADER_MAX) { /* keep looking for the blank line only */
		if (n == 0) {
			p->have_field = 0;
			sbuf_clear(&p->field);
			part_headers_end(p);
		}
		return;
	}
	if (header_line(p, s, n))
		part_headers_end(p);
}

static size_t line_cap(const struct imf_parser *p)
{
	if (p->state == ST_HEADERS)
		return IMF_FIELD_MAX + 1;
	if (p->state == ST_BODY && p->bstate == B_PART_HEADERS)
		return IMF_FIELD_MAX + 1;
	return BODY_LINE_MAX;
}

/* A complete physical line is in p->line (terminator removed). */
static void line_done(struct imf_parser *p)
{
	const char *s = p->line.buf ? p->line.buf : "";
	size_t n = p->line.len;
	int over = p->line_over;
	switch (p->state) {
	case ST_HEADERS:
		if (over)
			imf_anom(p, ANOM_IMF_FIELD_TOO_LONG);
		if (header_line(p, s, n)) {
			p->h.complete = true;
			top_headers_end(p);
		}
		break;
	case ST_HEADERS_SKIP:
		if (n == 0 && !over)
			top_headers_end(p);
		break;
	case ST_BODY:
		body_line(p, s, n, over);
		break;
	case ST_DONE:
		break;
	}
	sbuf_clear(&p->line);
	p->line_over = 0;
}

/* Append s[0..n) to the line buffer within its cap; in header states a NUL
 * becomes U+FFFD so every string we keep is a C string. */
static void line_add(struct imf_parser *p, const uint8_t *s, size_t n)
{
	size_t cap = line_cap(p);
	int hdr = p->state == ST_HEADERS || (p->state == ST_BODY && p->bstate == B_PART_HEADERS);
	if (!hdr) {
		size_t room = cap > p->line.len ? cap - p->line.len : 0;
		if (n > room) {
			p->line_over = 1;
			n = room;
		}
		sbuf_add(&p->line, s, n);
		return;
	}
	size_t i = 0;
	while (i < n) {
		const uint8_t *z = memchr(s + i, 0, n - i);
		size_t run = z ? (size_t)(z - (s + i)) : n - i;
		size_t room = cap > p->line.len ? cap - p->line.len : 0;
		if (run > room) {
			p->line_over = 1;
			run = room;
		}
		sbuf_add(&p->line, s + i, run);
		if (!z)
			return;
		if (p->state == ST_HEADERS)
			imf_anom(p, ANOM_IMF_NUL_BYTE);
		if (p->line.len + 3 <= cap)
			sbuf_add(&p->line, "\xef\xbf\xbd", 3);
		else
			p->line_over = 1;
		i = (size_t)(z - s) + 1;
	}
}

/* The first "\n--" in p[0..n), or NULL. Looks for the '-' with memchr:
 * base64 has none, text few, so this is close to one memchr per chunk
 * (memmem is much slower here: glibc uses a general algorithm). */
static const uint8_t *find_lf_dashes(const uint8_t *p, size_t n)
{
	const uint8_t *e = p + n, *q = p + 1;
	if (n < 3)
		return NULL;
	while (q + 1 < e && (q = memchr(q, '-', (size_t)(e - 1 - q)))) {
		if (q[-1] == '\n' && q[1] == '-')
			return q - 1;
		q += q[1] == '-' ? 2 : 1; /* q[1] is not a '-' after "\n" either way */
	}
	return NULL;
}

/* The body outside part headers: only lines starting with "--" can matter
 * (boundary delimiters). Skips whole lines that cannot be delimiters with
 * memmem/memchr instead of copying them line by line; returns the new i and
 * stops at a line the generic path must see (one that starts with "--", is
 * too short to tell, or a partial line already buffered). A line known not to
 * matter is marked line_over with nothing buffered: body_line() ignores an
 * over-long line, and so does imf_finish(). */
static size_t body_skip(struct imf_parser *p, const uint8_t *data, size_t len, size_t i)
{
	if (p->bstate == B_OFF) { /* single part (or a cap was hit): nothing to look for */
		p->h.body_bytes += len - i;
		sbuf_clear(&p->line);
		p->line_over = 0;
		return len;
	}
	while (i < len) {
		if (p->line.len)
			return i; /* a buffered partial line: the generic path */
		if (p->line_over) { /* inside a line that cannot be a delimiter */
			const uint8_t *lf = memchr(data + i, '\n', len - i);
			size_t to = lf ? (size_t)(lf - data) + 1 : len;
			p->h.body_bytes += to - i;
			i = to;
			if (lf)
				p->line_over = 0;
			continue;
		}
		/* at the start of a line */
		if (len - i < 2 || (data[i] == '-' && data[i + 1] == '-'))
			return i;
		const uint8_t *q = find_lf_dashes(data + i, len - i);
		if (q) {
			size_t to = (size_t)(q - data) + 1;
			p->h.body_bytes += to - i;
			i = to;
			continue;
		}
		/* no delimiter candidate in the rest; the last line may continue
		 * into the next chunk */
		const uint8_t *last = memrchr(data + i, '\n', len - i);
		size_t to = last ? (size_t)(last - data) + 1 : len;
		p->h.body_bytes += to - i;
		i = to;
		if (!last)
			p->line_over = 1;
	}
	return i;
}

void imf_push(struct imf_parser *p, const uint8_t *data, size_t len)
{
	size_t i = 0;
	while (i < len && p->state != ST_DONE) {
		if (p->state == ST_BODY && p->bstate != B_PART_HEADERS) {
			i = body_skip(p, data, len, i);
			if (i >= len)
				break;
		}
		const uint8_t *lf = memchr(data + i, '\n', len - i);
		size_t seg = lf ? (size_t)(lf - (data + i)) : len - i;
		size_t used = seg + (lf ? 1 : 0);
		if (p->state == ST_HEADERS || p->state == ST_HEADERS_SKIP) {
			p->h.header_bytes += used;
			if (p->state == ST_HEADERS && p->h.header_bytes > IMF_HEADER_MAX) {
				imf_anom(p, ANOM_IMF_HEADER_TOO_LONG);
				p->h.truncated = true;
				/* the pending field is complete unless this line continues it */
				int cont = p->line.len ? (p->line.buf[0] == ' ' || p->line.buf[0] == '\t')
						       : (seg && (data[i] == ' ' || data[i] == '\t'));
				if (cont) {
					p->have_field = 0; /* a half-kept field is dropped */
					sbuf_clear(&p->field);
				} else {
					field_flush(p);
				}
				p->state = ST_HEADERS_SKIP;
			}
		} else {
			p->h.body_bytes += used;
		}
		if (p->state != ST_HEADERS_SKIP || p->line.len < 2)
			line_add(p, data + i, seg);
		else
			p->line_over = 1; /* in skip mode only "is it empty" matters */
		i += used;
		if (!lf)
			break;
		if (p->line.len && p->line.buf[p->line.len - 1] == '\r')
			p->line.buf[--p->line.len] = '\0';
		line_done(p);
	}
}

void imf_gap(struct imf_parser *p, uint64_t len)
{
	(void)len;
	if (p->state == ST_HEADERS) {
		/* the rest of the block is unreliable: keep what is complete */
		imf_anom(p, ANOM_IMF_HEADER_GAP);
		p->h.truncated = true;
		field_flush(p);
		p->state = ST_HEADERS_SKIP;
	} else if (p->state == ST_BODY && p->bstate == B_PART_HEADERS) {
		p->have_field = 0;
		sbuf_clear(&p->field);
		p->bstate = B_TEXT;
	}
	sbuf_clear(&p->line); /* the line in progress is broken */
	p->line_over = 1;
}

void imf_cut(struct imf_parser *p)
{
	if (p->state == ST_HEADERS || p->state == ST_HEADERS_SKIP)
		p->h.truncated = true;
}

void imf_finish(struct imf_parser *p)
{
	if (p->state == ST_DONE)
		return;
	if (p->line.len || p->line_over) {
		if (p->line.len && p->line.buf[p->line.len - 1] == '\r')
			p->line.buf[--p->line.len] = '\0';
		if (p->line.len || p->state == ST_BODY)
			line_done(p);
	}
	if (p->state == ST_HEADERS) {
		/* message ended inside its header block (headers only, no body) */
		field_flush(p); /* legal: a message without a body needs no empty line */
		p->h.complete = p->h.header_bytes > 0;
		top_headers_end(p);
	} else if (p->state == ST_HEADERS_SKIP) {
		top_headers_end(p);
	} else if (p->bstate == B_PART_HEADERS) {
		field_flush(p);
		part_register(p);
	}
	if (p->depth)
		imf_anom(p, ANOM_IMF_MIME_UNTERMINATED);
	part_clear(&p->part);
	p->state = ST_DONE;
}

/* ---------------------------------------------------------------- lifetime */

static void headers_free(struct imf_headers *h)
{
	imf_addr_list_free(&h->from);
	imf_addr_list_free(&h->sender);
	imf_addr_list_free(&h->reply_to);
	imf_addr_list_free(&h->to);
	imf_addr_list_free(&h->cc);
	free(h->subject);
	free(h->subject_raw);
	free(h->date);
	free(h->message_id);
	free(h->in_reply_to);
	free(h->return_path);
	free(h->user_agent);
	free(h->list_id);
	free(h->content_type);
	for (size_t i = 0; i < h->n_received; i++)
		free(h->received[i]);
	for (size_t i = 0; i < h->n_dkim; i++)
		free(h->dkim_domains[i]);
	for (size_t i = 0; i < h->n_attachments; i++) {
		free(h->attachments[i].name);
		free(h->attachments[i].content_type);
	}
	free(h->attachments);
	memset(h, 0, sizeof *h);
}

struct imf_parser *imf_parser_new_scratch(struct imf_scratch *sc)
{
	struct imf_parser *p = xcalloc(1, sizeof *p);
	p->state = ST_HEADERS;
	p->sc = sc ? sc : &p->own_sc;
	return p;
}

struct imf_parser *imf_parser_new(void)
{
	return imf_parser_new_scratch(NULL);
}

void imf_parser_reset(struct imf_parser *p)
{
	headers_free(&p->h);
	part_clear(&p->part);
	sbuf_clear(&p->line);
	sbuf_clear(&p->field);
	p->line_over = p->have_field = p->field_over = 0;
	p->field_name_len = p->field_colon = 0;
	p->part_header_bytes = 0;
	p->depth = 0;
	p->seen = 0;
	p->state = ST_HEADERS;
	p->bstate = B_OFF;
}

const struct imf_headers *imf_headers(const struct imf_parser *p)
{
	return &p->h;
}

void imf_parser_free(struct imf_parser *p)
{
	if (!p)
		return;
	imf_parser_reset(p);
	sbuf_free(&p->line);
	sbuf_free(&p->field);
	imf_scratch_free(&p->own_sc);
	free(p);
}

const char *imf_strstate(const struct imf_parser *p)
{
	return state_names[p->state];
}
