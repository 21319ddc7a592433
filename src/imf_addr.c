/* imf_addr — RFC 5322 address lists (§3.4, obsolete syntax §4.4), leniently.
 *
 * Two passes over the unfolded field body: a lexer turns it into tokens (atoms,
 * quoted strings, domain literals, comments, single specials), each marked
 * with whether CFWS preceded it; a loop without recursion then reads address
 * elements separated by ',' (and ';' closing a group). Memory and time are
 * linear in the input, which the caller caps (IMF_FIELD_MAX).
 */
#include "imf.h"

#include <stdlib.h>
#include <string.h>

enum tok_type { TK_ATOM, TK_QSTR, TK_DLIT, TK_COMMENT, TK_SPECIAL };

struct imf_tok {
	enum tok_type type; /* what the token is */
	char ch;            /* the character of a TK_SPECIAL */
	int ws_before;      /* white space or a comment came before it */
	size_t off, len;    /* text in the scratch buffer (quoted pairs undone) */
};

struct lexed {
	struct imf_tok *v;      /* tokens */
	size_t n, cap;      /* count, allocated */
	struct sbuf text;   /* token texts */
	int err;            /* something was malformed */
	int nul;            /* an RFC 2047 word decoded to a NUL (replaced by U+FFFD) */
	struct imf_scratch *sc; /* the caller's scratch (phrase and comment decoding) */
};

static void tok_push(struct lexed *lx, enum tok_type type, char ch, int ws, size_t off)
{
	if (lx->n == lx->cap) {
		lx->cap = lx->cap ? lx->cap * 2 : 32;
		lx->v = xrealloc(lx->v, lx->cap * sizeof *lx->v);
	}
	struct imf_tok *t = &lx->v[lx->n++];
	t->type = type;
	t->ch = ch;
	t->ws_before = ws;
	t->off = off;
	t->len = lx->text.len - off;
}

static const unsigned char specials[256] = {
	['('] = 1, [')'] = 1, ['<'] = 1, ['>'] = 1, ['['] = 1, [']'] = 1, [':'] = 1,
	[';'] = 1, ['@'] = 1, ['\\'] = 1, [','] = 1, ['.'] = 1, ['"'] = 1,
};

static int is_special(unsigned char c)
{
	return specials[c];
}

/* RFC 5322 §3.2.2-3.2.4 tokens. 8-bit bytes count as atext (RFC 6532 §3.2). */
static void lex(struct lexed *lx, const char *in, size_t n)
{
	size_t i = 0;
	int ws = 0;
	while (i < n) {
		unsigned char c = (unsigned char)in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			ws = 1;
			i++;
			continue;
		}
		size_t off = lx->text.len;
		if (c == '(') { /* comment, nested (§3.2.2); depth is just a counter */
			size_t depth = 1;
			i++;
			while (i < n) {
				char d = in[i];
				if (d == '\\' && i + 1 < n) {
					sbuf_addc(&lx->text, in[i + 1]);
					i += 2;
					continue;
				}
				if (d == '(')
					depth++;
				else if (d == ')' && --depth == 0) {
					i++;
					break;
				}
				sbuf_addc(&lx->text, d);
				i++;
			}
			if (depth)
				lx->err = 1;
			tok_push(lx, TK_COMMENT, 0, ws, off);
			ws = 1;
			continue;
		}
		if (c == '"') { /* quoted-string (§3.2.4) */
			i++;
			int closed = 0;
			while (i < n) {
				char d = in[i];
				if (d == '\\' && i + 1 < n) {
					sbuf_addc(&lx->text, in[i + 1]);
					i += 2;
					continue;
				}
				i++;
				if (d == '"') {
					closed = 1;
					break;
				}
				if (d == '\r' || d == '\n')
					continue; /* unfolding leftovers */
				sbuf_addc(&lx->text, d);
			}
			if (!closed)
				lx->err = 1;
			tok_push(lx, TK_QSTR, 0, ws, off);
			ws = 0;
			continue;
		}
		if (c == '[') { /* domain-literal (§3.4.1), brackets kept */
			while (i < n && in[i] != ']') {
				if (in[i] != ' ' && in[i] != '\t' && in[i] != '\r' && in[i] != '\n')
					sbuf_addc(&lx->text, in[i]);
				i++;
			}
			if (i < n) {
				sbuf_addc(&lx->text, ']');
				i++;
			} else {
				lx->err = 1;
			}
			tok_push(lx, TK_DLIT, 0, ws, off);
			ws = 0;
			continue;
		}
		if (is_special(c)) {
			tok_push(lx, TK_SPECIAL, (char)c, ws, off);
			if (c == '\\' || c == ')' || c == ']')
				lx->err = 1;
			ws = 0;
			i++;
			continue;
		}
		size_t run = i; /* atom: copied in runs */
		while (i < n) {
			unsigned char d = (unsigned char)in[i];
			if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || is_special(d))
				break;
			if (d < 0x20 || d == 0x7f) {
				lx->err = 1; /* control bytes are dropped */
				sbuf_add(&lx->text, in + run, i - run);
				run = i + 1;
			}
			i++;
		}
		sbuf_add(&lx->text, in + run, i - run);
		tok_push(lx, TK_ATOM, 0, ws, off);
		ws = 0;
	}
}

static const char *tok_text(const struct lexed *lx, const struct imf_tok *t)
{
	return lx->text.buf ? lx->text.buf + t->off : "";
}

static int tok_is(const struct imf_tok *t, char ch)
{
	return t->type == TK_SPECIAL && t->ch == ch;
}

/* A phrase (display name, §3.2.5 with obs-phrase) from tokens [a,b):
 * words joined by one space where CFWS separated them, comments left out,
 * then RFC 2047-decoded (§5(3)). Returns a malloc'd string or NULL if empty. */
/* Scratch kept from one call to the next in the caller's struct imf_scratch
 * (no malloc/free per header field; docs/design.md "Per-thread state").
 * Given back when a pathological field made it large. */
#define SCRATCH_KEEP_MAX 65536
#define SCRATCH_TOK_KEEP_MAX 4096

static void scratch_done(struct sbuf *b)
{
	if (b->cap > SCRATCH_KEEP_MAX)
		sbuf_free(b);
	else
		sbuf_clear(b);
}

static char *phrase_build(struct lexed *lx, size_t a, size_t b)
{
	struct sbuf raw = lx->sc->raw, dec = lx->sc->dec;
	sbuf_clear(&raw);
	sbuf_clear(&dec);
	int gap = 0;
	for (size_t k = a; k < b; k++) {
		const struct imf_tok *t = &lx->v[k];
		if (t->type == TK_COMMENT) {
			gap = 1;
			continue;
		}
		if (raw.len && (gap || t->ws_before))
			sbuf_addc(&raw, ' ');
		gap = 0;
		if (t->type == TK_SPECIAL)
			sbuf_addc(&raw, t->ch);
		else
			sbuf_add(&raw, tok_text(lx, t), t->len);
	}
	char *res = NULL;
	if (raw.len) {
		if (rfc2047_decode(&dec, raw.buf, raw.len) > 0)
			lx->nul = 1;
		size_t s = 0, e = dec.len;
		while (s < e && (dec.buf[s] == ' ' || dec.buf[s] == '\t'))
			s++;
		while (e > s && (dec.buf[e - 1] == ' ' || dec.buf[e - 1] == '\t'))
			e--;
		if (e > s)
			res = xstrndup(dec.buf + s, e - s);
	}
	scratch_done(&raw);
	scratch_done(&dec);
	lx->sc->raw = raw;
	lx->sc->dec = dec;
	return res;
}

/* atext per RFC 5322 §3.2.3 (plus 8-bit, RFC 6532). */
static int local_needs_quotes(const char *s, size_t n)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || is_special(c))
			return 1;
	}
	return 0;
}

/* An addr-spec (§3.4.1, obs-local-part/obs-domain of §4.4) from tokens [a,b),
 * after an optional obs-route "@a,@b:" when route is set. Comments are skipped
 * and the last one is returned in *comment (a name stand-in). Appends
 * "local@domain" (or a bare local part) to out. Returns 0 if clean, -1 if
 * tokens had to be skipped. */
static int addr_spec_build(const struct lexed *lx, size_t a, size_t b, int route,
			   struct sbuf *out, size_t *comment)
{
	int err = 0;
	size_t k = a;
	*comment = (size_t)-1;
	if (route) {
		size_t j = a;
		while (j < b && lx->v[j].type == TK_COMMENT)
			j++;
		if (j < b && tok_is(&lx->v[j], '@')) { /* obs-route (§4.4) */
			while (j < b && !tok_is(&lx->v[j], ':'))
				j++;
			if (j < b)
				k = j + 1;
			else
				err = 1;
		}
	}
	int at = 0;
	for (; k < b; k++) {
		const struct imf_tok *t = &lx->v[k];
		if (t->type == TK_COMMENT) {
			*comment = k;
			continue;
		}
		if (tok_is(t, '@')) {
			if (at)
				err = 1; /* second '@': kept, as the wire has it */
			at = 1;
			sbuf_addc(out, '@');
		} else if (tok_is(t, '.')) {
			sbuf_addc(out, '.');
		} else if (t->type == TK_ATOM || t->type == TK_DLIT) {
			sbuf_add(out, tok_text(lx, t), t->len);
		} else if (t->type == TK_QSTR) {
			const char *s = tok_text(lx, t);
			if (!at && local_needs_quotes(s, t->len)) {
				sbuf_addc(out, '"');
				for (size_t i = 0; i < t->len; i++) {
					if (s[i] == '"' || s[i] == '\\')
						sbuf_addc(out, '\\');
					sbuf_addc(out, s[i]);
				}
				sbuf_addc(out, '"');
			} else {
				sbuf_add(out, s, t->len);
			}
		} else {
			err = 1; /* stray special */
		}
	}
	return err ? -1 : 0;
}

static void list_push(struct imf_addr_list *list, char *name, const char *addr, size_t n)
{
	if (list->n >= IMF_ADDR_MAX) {
		list->more++;
		free(name);
		return;
	}
	if (list->n == 0 || (list->n & (list->n - 1)) == 0) /* grow at powers of two */
		list->v = xrealloc(list->v, (list->n ? list->n * 2 : 1) * sizeof *list->v);
	list->v[list->n].name = name;
	list->v[list->n].address = xstrndup(addr, n);
	list->n++;
}

/* ---- the common shapes, without the lexer ---------------------------------
 *
 * Most fields are a few "local@domain", "<local@domain>" or
 * "Word Word <local@domain>" elements: atext words (RFC 5322 §3.2.3, ASCII),
 * dot-atom addresses, commas and white space. fast_simple() reads exactly
 * those and returns -1, touching nothing, at anything else (quotes, comments,
 * encoded words, '=', groups, routes, 8-bit bytes, empty elements, white
 * space or a second '@' inside an address, more than FAST_MAX elements), so
 * the lexer path runs; where it answers, the answer is the lexer path's
 * (tests/unit/test_imf.c compares them on generated fields). */
#define FAST_MAX 16

static int fast_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+/?^_`{|}~-", c));
}

/* A dot-atom local@domain filling s[0..n) exactly. */
static int fast_addr_ok(const char *s, size_t n)
{
	int at = 0;
	size_t part = 0; /* characters in the current atom */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '@' || c == '.') {
			if (!part || (c == '@' && at++))
				return 0;
			part = 0;
		} else if (fast_atext(c)) {
			part++;
		} else {
			return 0;
		}
	}
	return at == 1 && part > 0;
}

static int fast_simple(struct imf_addr_list *list, const char *in, size_t n)
{
	struct { size_t name, name_end, addr, addr_len; int has_name; } el[FAST_MAX];
	size_t ne = 0, i = 0;
	for (;;) {
		while (i < n && (in[i] == ' ' || in[i] == '\t'))
			i++;
		if (i == n)
			break;
		if (ne == FAST_MAX)
			return -1;
		el[ne].has_name = 0;
		if (in[i] == '<') {
			el[ne].addr = ++i;
		} else {
			/* a token: the address itself, or the first word of a name */
			size_t s = i;
			while (i < n && (fast_atext((unsigned char)in[i]) || in[i] == '.' || in[i] == '@'))
				i++;
			size_t e = i;
			while (i < n && (in[i] == ' ' || in[i] == '\t'))
				i++;
			if (i == n || in[i] == ',') { /* bare addr-spec */
				if (!fast_addr_ok(in + s, e - s))
					return -1;
				el[ne].addr = s;
				el[ne].addr_len = e - s;
				ne++;
				if (i < n)
					i++;
				continue;
			}
			/* a display name: atext words up to '<' */
			el[ne].name = s;
			for (size_t k = s; k < e; k++)
				if (!fast_atext((unsigned char)in[k]) || in[k] == '=')
					return -1;
			if (e == s)
				return -1;
			size_t last = e;
			while (i < n && in[i] != '<') {
				size_t ws = i;
				while (i < n && fast_atext((unsigned char)in[i]))
					if (in[i++] == '=')
						return -1;
				if (i == ws)
					return -1; /* not a word, not '<' */
				last = i;
				while (i < n && (in[i] == ' ' || in[i] == '\t'))
					i++;
			}
			if (i == n)
				return -1;
			el[ne].name_end = last;
			el[ne].has_name = 1;
			el[ne].addr = ++i;
		}
		size_t a = i;
		while (i < n && in[i] != '>')
			i++;
		if (i == n || !fast_addr_ok(in + a, i - a))
			return -1;
		el[ne].addr_len = i - a;
		i++;
		while (i < n && (in[i] == ' ' || in[i] == '\t'))
			i++;
		if (i < n && in[i] != ',')
			return -1;
		ne++;
		if (i < n)
			i++;
		else
			break;
	}
	if (!ne)
		return -1;
	for (size_t k = 0; k < ne; k++) {
		char *name = NULL;
		if (el[k].has_name) { /* words joined by one space */
			name = xmalloc(el[k].name_end - el[k].name + 1);
			size_t o = 0;
			int gap = 0;
			for (size_t q = el[k].name; q < el[k].name_end; q++) {
				if (in[q] == ' ' || in[q] == '\t') {
					gap = 1;
					continue;
				}
				if (gap)
					name[o++] = ' ';
				gap = 0;
				name[o++] = in[q];
			}
			name[o] = '\0';
		}
		list_push(list, name, in + el[k].addr, el[k].addr_len);
	}
	return 0;
}

static int parse_lexed(struct imf_scratch *sc, struct imf_addr_list *list, const char *in, size_t n);

int imf_parse_addresses_with(struct imf_scratch *sc, struct imf_addr_list *list, const char *in, size_t n)
{
	if (fast_simple(list, in, n) == 0)
		return 0;
	return parse_lexed(sc, list, in, n);
}

int imf_parse_addresses(struct imf_addr_list *list, const char *in, size_t n)
{
	struct imf_scratch sc = IMF_SCRATCH_INIT;
	int rc = imf_parse_addresses_with(&sc, list, in, n);
	imf_scratch_free(&sc);
	return rc;
}

int imf_parse_addresses_lexed(struct imf_addr_list *list, const char *in, size_t n)
{
	struct imf_scratch sc = IMF_SCRATCH_INIT;
	int rc = parse_lexed(&sc, list, in, n);
	imf_scratch_free(&sc);
	return rc;
}

void imf_scratch_free(struct imf_scratch *sc)
{
	sbuf_free(&sc->raw);
	sbuf_free(&sc->dec);
	sbuf_free(&sc->addr);
	sbuf_free(&sc->text);
	free(sc->tok);
	*sc = (struct imf_scratch)IMF_SCRATCH_INIT;
}

static int parse_lexed(struct imf_scratch *sc, struct imf_addr_list *list, const char *in, size_t n)
{
	struct lexed lx = { sc->tok, 0, sc->tok_cap, sc->text, 0, 0, sc };
	sc->tok = NULL;
	sc->tok_cap = 0;
	sc->text = (struct sbuf)SBUF_INIT;
	sbuf_clear(&lx.text);
	lex(&lx, in, n);
	int err = lx.err, in_group = 0;
	size_t i = 0;
	struct sbuf addr = sc->addr;
	sc->addr = (struct sbuf)SBUF_INIT;
	sbuf_clear(&addr);

	while (i < lx.n) {
		const struct imf_tok *t = &lx.v[i];
		if (t->type == TK_COMMENT || tok_is(t, ',')) { /* obs-addr-list allows empty elements */
			i++;
			continue;
		}
		if (tok_is(t, ';')) {
			if (!in_group)
				err = 1;
			in_group = 0;
			i++;
			continue;
		}
		/* find the end of this element and its landmarks */
		size_t j, angle = (size_t)-1, angle_end = (size_t)-1, at = (size_t)-1, colon = (size_t)-1;
		int depth = 0;
		for (j = i; j < lx.n; j++) {
			const struct imf_tok *u = &lx.v[j];
			if (u->type != TK_SPECIAL)
				continue;
			if (u->ch == '<' && depth == 0) {
				if (angle == (size_t)-1)
					angle = j;
				else
					err = 1;
				depth = 1;
			} else if (u->ch == '>' && depth) {
				if (angle_end == (size_t)-1)
					angle_end = j;
				depth = 0;
			} else if (depth == 0) {
				if (u->ch == ',' || u->ch == ';')
					break;
				if (u->ch == ':' && !in_group && angle == (size_t)-1 && at == (size_t)-1) {
					colon = j;
					break;
				}
				if (u->ch == '@' && at == (size_t)-1)
					at = j;
			}
		}
		if (colon != (size_t)-1) { /* group (§3.4): the name is dropped, members follow */
			in_group = 1;
			i = colon + 1;
			continue;
		}
		size_t comment = (size_t)-1;
		char *name = NULL;
		sbuf_clear(&addr);
		if (angle != (size_t)-1) { /* name-addr */
			if (angle_end == (size_t)-1) {
				err = 1;
				angle_end = j;
			}
			name = phrase_build(&lx, i, angle);
			if (addr_spec_build(&lx, angle + 1, angle_end, 1, &addr, &comment) < 0)
				err = 1;
			comment = (size_t)-1; /* only a comment after '>' names the mailbox */
			for (size_t k = angle_end + 1; k < j; k++) {
				if (lx.v[k].type == TK_COMMENT)
					comment = k;
				else
					err = 1; /* text after '>' */
			}
		} else {
			if (at == (size_t)-1)
				err = 1; /* a bare word: kept as the wire has it (e.g. "root") */
			if (addr_spec_build(&lx, i, j, 0, &addr, &comment) < 0)
				err = 1;
		}
		if (!name && comment != (size_t)-1) {
			/* a comment stands in for the name ("addr (Name)", RFC 822 style) */
			const struct imf_tok *c = &lx.v[comment];
			struct sbuf dec = sc->dec;
			sc->dec = (struct sbuf)SBUF_INIT;
			sbuf_clear(&dec);
			if (rfc2047_decode(&dec, tok_text(&lx, c), c->len) > 0)
				lx.nul = 1;
			if (dec.len)
				name = xstrndup(dec.buf, dec.len);
			scratch_done(&dec);
			sc->dec = dec;
		}
		if (addr.len)
			list_push(list, name, addr.buf, addr.len);
		else {
			free(name);
			err = 1;
		}
		i = j;
	}
	if (in_group)
		err = 1;
	scratch_done(&addr);
	sc->addr = addr;
	scratch_done(&lx.text);
	sc->text = lx.text;
	if (lx.cap > SCRATCH_TOK_KEEP_MAX) {
		free(lx.v);
		lx.v = NULL;
		lx.cap = 0;
	}
	sc->tok = lx.v;
	sc->tok_cap = lx.cap;
	list->nul += (size_t)lx.nul;
	return err ? -1 : 0;
}

void imf_addr_list_free(struct imf_addr_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->v[i].name);
		free(list->v[i].address);
	}
	free(list->v);
	list->v = NULL;
	list->n = list->more = 0;
}
