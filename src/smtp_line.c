/* smtp_line — splitting a direction's bytes into lines (capped, CR LF or
 * bare LF), the per-line anomalies, and resynchronising on a line start
 * after a capture gap. Part of the SMTP dissector (src/smtp_int.h). */
#include "smtp_int.h"

/* Take bytes from p up to and including the first LF into lb (capped at
 * cap). Returns the number of bytes consumed; sets *got when a line is
 * complete (out then points into p or lb->buf; call line_done after). */
size_t line_take(struct linebuf *lb, size_t cap, const uint8_t *p, size_t n,
                        struct rawline *out, bool *got)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t take = lf ? (size_t)(lf - p) + 1 : n;
	size_t body = lf ? take - 1 : n;
	*got = false;
	if (lb->skip) { /* resynchronising after a gap */
		if (lf) {
			lb->skip = false;
			lb->last_cr = false;
			lb->resync = true;
		}
		return take;
	}
	bool cr_end = body ? p[body - 1] == '\r' : lb->last_cr;
	if (lb->buf.len == 0 && !lb->truncated && lf && body <= cap) {
		out->p = p;
		out->n = body;
		out->truncated = false;
	} else {
		size_t room = lb->buf.len < cap ? cap - lb->buf.len : 0;
		size_t add = body < room ? body : room;
		sbuf_add(&lb->buf, p, add);
		if (add < body)
			lb->truncated = true;
		if (body)
			lb->last_cr = p[body - 1] == '\r';
		if (!lf)
			return take;
		out->p = (const uint8_t *)lb->buf.buf;
		out->n = lb->buf.len;
		out->truncated = lb->truncated;
		if (!out->p)
			out->p = (const uint8_t *)"";
	}
	out->bare_lf = !cr_end;
	out->unterminated = false;
	if (cr_end && !out->truncated && out->n)
		out->n--; /* strip the CR of CRLF */
	*got = true;
	return take;
}

void line_done(struct linebuf *lb)
{
	lb->resync = false;
	sbuf_clear(&lb->buf);
	lb->truncated = false;
	lb->last_cr = false;
}

/* Bare CR inside a line (not the CR of CRLF). */
static bool line_has_cr(const struct rawline *l)
{
	return memchr(l->p, '\r', l->n) != NULL;
}

void line_anoms(struct sess *s, const struct rawline *l, bool server)
{
	if (l->truncated)
		raise_anom(s, server ? NULL : s->cur,
		           server ? ANOM_SMTP_REPLY_LINE_TOO_LONG : ANOM_SMTP_LINE_TOO_LONG);
	if (l->bare_lf && !l->unterminated)
		raise_anom(s, NULL, ANOM_SMTP_BARE_LF);
	if (l->unterminated)
		raise_anom(s, NULL, ANOM_SMTP_UNTERMINATED_LINE);
	if (line_has_cr(l))
		raise_anom(s, NULL, ANOM_SMTP_BARE_CR);
}

/* The same for a reply line: "ddd" then SP, "-", CR or LF. */
bool starts_with_code(const uint8_t *p, size_t n)
{
	char sep;
	size_t k = n < 4 ? n : 4;
	while (k > 3 && (p[k - 1] == '\r' || p[k - 1] == '\n'))
		k--;
	return n >= 3 && reply_code_parse(p, k, &sep) != 0;
}

/* After a gap: keep the next bytes if they look like the start of a line. */
void gap_resync(struct linebuf *lb, const uint8_t *p, size_t n, bool server)
{
	if (lb->resync && lb->buf.len && !(server ? starts_with_code : starts_with_verb)(
		    (const uint8_t *)lb->buf.buf, lb->buf.len) && (server ? starts_with_code(p, n) : starts_with_verb(p, n))) {
		/* the tail of a line whose start was lost (a BDAT chunk, say, whose
		 * command fell in the gap), then delivered bytes that start a line:
		 * the tail is dropped, not glued to the next line */
		line_done(lb);
		return;
	}
	if (!lb->skip || !lb->gap_fresh)
		return;
	lb->gap_fresh = false;
	if (server ? starts_with_code(p, n) : starts_with_verb(p, n))
		lb->skip = false;
}


/* Process a partial line left in lb at the end of the stream. */
bool line_flush(struct linebuf *lb, struct rawline *l)
{
	if (lb->skip || (lb->buf.len == 0 && !lb->truncated))
		return false;
	l->p = (const uint8_t *)(lb->buf.buf ? lb->buf.buf : "");
	l->n = lb->buf.len;
	l->truncated = lb->truncated;
	l->bare_lf = false;
	l->unterminated = true;
	return true;
}
