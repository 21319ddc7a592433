/* libFuzzer target: the verdicts and their domain code (src/verdict.c):
 * verdict_domain_alabel (Unicode lowercasing through libpsl, punycode),
 * verdict_org_domain (Public Suffix List), verdict_edit_distance, and
 * verdict_run with every rule (alignment, look-alikes, display name, AUTH,
 * Reply-To, HELO) on a transaction built from the input.
 *
 * Input: 4 option bytes, then fields, one per line ('\n' ends a field):
 *   byte 0  bit 0 tls, 1 auth_cleartext, 2 starttls_offered, 3 starttls_used,
 *           4 bare LF, 5 bare CR, 6 bad end of data, 7 strict alignment
 *   byte 1  bit 0 a message was transferred (headers), 1 header block
 *           complete, 2 truncated; bits 3-7 the findings cap of the first run
 *           (0 = VERDICT_MAX_FINDINGS)
 *   byte 2  output buffer size for the direct calls: 1 + 4 * byte
 *   byte 3  edit distance limit (low 3 bits)
 *   fields: first byte = tag, the rest = value (any bytes but '\n'):
 *     H HELO   M MAIL FROM (empty = null sender <>)   R RCPT TO   A AUTH user
 *     F From: address   N display name of the last From: address
 *     P Reply-To: address   S Sender: address   D DKIM d=   L List-Id
 *     f / p / s  a From: / Reply-To: / Sender: field body, parsed by
 *                imf_parse_addresses (src/imf_addr.c)
 *     r  a repeated value: "r" TAG COUNT(byte) [PREFIX '\t'] UNIT gives field
 *        TAG with PREFIX once and UNIT COUNT times (at most 4,096 bytes), so
 *        a short input can make a long domain of one code point
 *     any other tag: a domain only for the direct calls below.
 * Every value is an exact-size NUL-terminated heap copy (ASan sees any read
 * past its end).
 *
 * Oracles, on each value and on the part after its last '@' (the first
 * BOUNDARY_DOMS of these also repeated to exactly 254, 255 and 256 bytes):
 *  - verdict_domain_alabel into a large buffer: the answer has no ASCII
 *    capital, is ASCII unless it is an address literal "[...]", and maps to
 *    itself again when its ends are clean (no leading ' ' '<', no trailing
 *    '.' ' ' '>');
 *  - the same into 256 bytes and into an exactly sized buffer of byte 2's
 *    size: succeeds exactly when the answer fits, with the same answer (an
 *    overflow of the caller's buffer trips ASan);
 *  - verdict_org_domain: succeeds only when the A-label fits 256 bytes,
 *    answers a suffix of it on a label boundary, and succeeds whenever the
 *    A-label also fits the buffer;
 *  - verdict_edit_distance of neighbouring values and of their Organizational
 *    Domains equals a full-table optimal string alignment distance (capped);
 *  - verdict_run: a run capped at byte 1's count gives exactly the first
 *    findings of an uncapped run (fixed rule order, no state between calls),
 *    each with a constant id, a known severity and a detail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esc.h"
#include "imf.h"
#include "verdict.h"
#include "fuzz_common.h"

#define FIELDS_MAX 256
#define RCPT_MAX 64
#define PAIRS_MAX 16
#define REPEAT_MAX 4096
#define BOUNDARY_DOMS 8 /* values also tried repeated to 254, 255 and 256 bytes */
#define REF_MAX 16384 /* more than any A-label of a 255-byte input */

static char *dup_n(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* PREFIX once, then UNIT count times (u[0..n) is "PREFIX\tUNIT" or
 * "UNIT"), at most REPEAT_MAX bytes: long domains from short inputs. */
static char *repeat(const uint8_t *u, size_t n, uint8_t count)
{
	const uint8_t *tab = memchr(u, '\t', n);
	size_t pl = tab ? (size_t)(tab - u) : 0;
	const uint8_t *unit = tab ? tab + 1 : u;
	size_t ul = n - (size_t)(unit - u), len = pl;
	char *s = malloc(REPEAT_MAX + 1);
	if (!s)
		abort();
	memcpy(s, u, pl);
	for (unsigned k = 0; k < count && ul && len + ul <= REPEAT_MAX; k++, len += ul)
		memcpy(s + len, unit, ul);
	s[len] = '\0';
	char *exact = dup_n((const uint8_t *)s, len); /* exactly sized for ASan */
	free(s);
	return exact;
}

static void push(struct imf_addr_list *l, char *name, char *addr)
{
	if (l->n >= IMF_ADDR_MAX) {
		l->more++;
		free(name);
		free(addr);
		return;
	}
	l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
	if (!l->v)
		abort();
	l->v[l->n].name = name;
	l->v[l->n].address = addr;
	l->n++;
}

/* Parse a field body with the real address parser, append what it found. */
static void push_parsed(struct imf_addr_list *l, const char *body)
{
	struct imf_addr_list t = { 0 };
	imf_parse_addresses(&t, body, strlen(body));
	for (size_t i = 0; i < t.n; i++) {
		if (!t.v[i].address)
			abort();
		push(l, t.v[i].name, t.v[i].address);
	}
	l->more += t.more;
	free(t.v);
}

/* Full-table optimal string alignment distance, capped at limit + 1 (the
 * contract of verdict_edit_distance, strings of at most 64 bytes). */
static unsigned osa_ref(const char *a, const char *b, unsigned limit)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > 64 || m > 64)
		return limit + 1;
	static unsigned d[66][66];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			unsigned v = d[i - 1][j] + 1, cost = a[i - 1] != b[j - 1];
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m] > limit ? limit + 1 : d[n][m];
}

static void check_distance(const char *a, const char *b, unsigned limit)
{
	unsigned got = verdict_edit_distance(a, b, limit), want = osa_ref(a, b, limit);
	if (got != want) {
		fprintf(stderr, "edit distance of \"%s\" and \"%s\" (limit %u): %u, expected %u\n", a, b, limit, got, want);
		abort();
	}
}

static int clean_ends(const char *s)
{
	size_t n = strlen(s);
	return n && s[0] != ' ' && s[0] != '<' && s[n - 1] != '.' && s[n - 1] != ' ' && s[n - 1] != '>';
}

/* The direct calls on one domain; org (256 bytes) gets its Organizational
 * Domain ("" if none). An A-label may be longer than its input (punycode,
 * lowercasing), so the reference answer is taken into a large buffer. */
static void check_domain(const char *dom, size_t cap, char *org)
{
	static char ref[REF_MAX];
	char a[256], again[256];
	org[0] = '\0';
	const char *r = verdict_domain_alabel(dom, ref, sizeof ref);
	size_t rl = r ? strlen(ref) : 0;
	if (r && (r != ref || rl >= sizeof ref))
		abort();
	if (r) {
		for (const char *p = ref; *p; p++)
			if ((*p >= 'A' && *p <= 'Z') || (ref[0] != '[' && (unsigned char)*p >= 0x80)) {
				fprintf(stderr, "A-label \"%s\" of \"%s\" has a capital or non-ASCII byte\n", ref, dom);
				abort();
			}
		if (rl < sizeof again && clean_ends(ref) &&
		    (!verdict_domain_alabel(ref, again, sizeof again) || strcmp(ref, again))) {
			fprintf(stderr, "A-label \"%s\" of \"%s\" is not its own A-label\n", ref, dom);
			abort();
		}
	}
	/* into 256 bytes and into an exactly sized buffer of cap bytes: the same
	 * answer when it fits, NULL when not */
	const char *r256 = verdict_domain_alabel(dom, a, sizeof a);
	char *small = malloc(cap);
	if (!small)
		abort();
	const char *s = verdict_domain_alabel(dom, small, cap);
	if ((r && rl < sizeof a) ? !r256 || r256 != a || strcmp(a, ref) : r256 != NULL) {
		fprintf(stderr, "A-label of \"%s\" into 256 bytes: %s, expected %s\n", dom, r256 ? a : "(fail)",
			r ? ref : "(fail)");
		abort();
	}
	if ((r && rl < cap) ? !s || s != small || strcmp(s, ref) : s != NULL) {
		fprintf(stderr, "A-label of \"%s\" into %zu bytes: %s, expected %s\n", dom, cap, s ? s : "(fail)",
			r ? ref : "(fail)");
		abort();
	}
	/* the Organizational Domain: a suffix of the A-label on a label
	 * boundary; there whenever the A-label fits verdict.c's 256 bytes and
	 * the answer fits cap */
	const char *o = verdict_org_domain(dom, small, cap);
	if (o) {
		size_t ol = strlen(o);
		if (o != small || !r256 || ol > rl || strcmp(ref + (rl - ol), o) || (ol < rl && ref[rl - ol - 1] != '.')) {
			fprintf(stderr, "Organizational Domain \"%s\" of \"%s\" is not a suffix of its A-label %s\n",
				o, dom, r256 ? ref : "(fail)");
			abort();
		}
	} else if (r256 && rl < cap) {
		fprintf(stderr, "no Organizational Domain for \"%s\" (A-label %s, %zu bytes)\n", dom, ref, cap);
		abort();
	}
	free(small);
	if (verdict_org_domain(dom, org, 256) == NULL)
		org[0] = '\0';
}

/* dom repeated to exactly L bytes (whole code points, then 'a's): the
 * longest inputs verdict_domain_alabel accepts (255 bytes) and one more,
 * where anything that lengthens the text while working on it shows. */
static void check_boundary(const char *dom, size_t L, size_t cap)
{
	size_t n = strlen(dom), len = 0;
	if (!n || n >= L)
		return;
	char *t = malloc(L + 1), org[256];
	if (!t)
		abort();
	while (len + n <= L) {
		memcpy(t + len, dom, n);
		len += n;
	}
	for (size_t i = 0; len < L && i < n;) { /* part of one more copy, whole code points */
		size_t k = utf8_seq_len((const uint8_t *)dom + i, n - i);
		if (!k)
			k = 1;
		if (len + k > L)
			break;
		memcpy(t + len, dom + i, k);
		len += k, i += k;
	}
	memset(t + len, 'a', L - len);
	t[L] = '\0';
	check_domain(t, cap, org);
	free(t);
}

static int known_severity(const char *s)
{
	return s && (!strcmp(s, "high") || !strcmp(s, "medium") || !strcmp(s, "low") || !strcmp(s, "info"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t o0 = fz_u8(&f), o1 = fz_u8(&f), o2 = fz_u8(&f), o3 = fz_u8(&f);
	size_t cap = 1 + 4 * (size_t)o2;
	unsigned limit = o3 & 7;

	struct imf_headers h;
	memset(&h, 0, sizeof h);
	h.complete = o1 & 2;
	h.truncated = o1 & 4;
	struct verdict_input in;
	memset(&in, 0, sizeof in);
	in.tls = o0 & 1;
	in.auth_cleartext = o0 & 2;
	in.starttls_offered = o0 & 4;
	in.starttls_used = o0 & 8;
	in.smuggling_bare_lf = o0 & 16;
	in.smuggling_bare_cr = o0 & 32;
	in.smuggling_bad_eod = o0 & 64;
	in.strict_alignment = o0 & 128;
	in.headers = (o1 & 1) ? &h : NULL;

	char *fields[FIELDS_MAX]; /* every value, for the direct calls and freeing */
	size_t nf = 0;
	char *helo = NULL, *mail = NULL, *auth = NULL, *list_id = NULL;
	const char *rcpt[RCPT_MAX];
	size_t nr = 0;
	while (fz_more(&f) && nf < FIELDS_MAX) {
		const uint8_t *nl = memchr(f.p, '\n', f.n);
		size_t len = nl ? (size_t)(nl - f.p) : f.n, got;
		const uint8_t *line = fz_bytes(&f, len, &got);
		fz_u8(&f); /* the '\n' */
		if (!got)
			continue;
		char tag = (char)line[0];
		char *v;
		if (tag == 'r' && got >= 3) { /* r TAG COUNT [PREFIX TAB] UNIT */
			tag = (char)line[1];
			v = repeat(line + 3, got - 3, line[2]);
		} else {
			v = dup_n(line + 1, got - 1);
		}
		fields[nf++] = v;
		switch (tag) {
		case 'H': helo = v; break;
		case 'M': mail = v; break;
		case 'A': auth = v; break;
		case 'L': list_id = v; break;
		case 'R':
			if (nr < RCPT_MAX)
				rcpt[nr++] = v;
			break;
		case 'F': push(&h.from, NULL, strdup(v)); h.from_fields++; break;
		case 'N':
			if (h.from.n && !h.from.v[h.from.n - 1].name)
				h.from.v[h.from.n - 1].name = strdup(v);
			break;
		case 'P': push(&h.reply_to, NULL, strdup(v)); break;
		case 'S': push(&h.sender, NULL, strdup(v)); break;
		case 'D':
			if (h.n_dkim < IMF_DKIM_MAX)
				h.dkim_domains[h.n_dkim++] = v;
			break;
		case 'f': push_parsed(&h.from, v); h.from_fields++; break;
		case 'p': push_parsed(&h.reply_to, v); break;
		case 's': push_parsed(&h.sender, v); break;
		default: break;
		}
	}
	in.helo = helo;
	in.mail_from = mail;
	in.auth_user = auth;
	in.rcpt_to = rcpt;
	in.n_rcpt = nr;
	h.list_id = list_id;

	/* the domain functions on every value and on its part after the last '@' */
	char (*orgs)[256] = malloc(sizeof *orgs * (nf ? 2 * nf : 1));
	const char *doms[2 * FIELDS_MAX];
	size_t nd = 0;
	for (size_t i = 0; i < nf; i++) {
		doms[nd++] = fields[i];
		const char *at = strrchr(fields[i], '@');
		if (at)
			doms[nd++] = at + 1;
	}
	for (size_t i = 0; i < nd; i++)
		check_domain(doms[i], cap, orgs[i]);
	for (size_t i = 0; i < nd && i < BOUNDARY_DOMS; i++)
		for (size_t L = 254; L <= 256; L++)
			check_boundary(doms[i], L, cap);
	for (size_t i = 1; i < nd && i <= PAIRS_MAX; i++) {
		check_distance(doms[i - 1], doms[i], limit);
		check_distance(orgs[i - 1], orgs[i], limit);
	}
	free(orgs);

	/* the verdict, capped and uncapped: the capped run is a prefix */
	size_t max = o1 >> 3;
	if (!max)
		max = VERDICT_MAX_FINDINGS;
	struct finding a[VERDICT_MAX_FINDINGS], b[VERDICT_MAX_FINDINGS];
	size_t na = verdict_run(&in, a, max);
	size_t nb = verdict_run(&in, b, VERDICT_MAX_FINDINGS);
	if (na > max || nb > VERDICT_MAX_FINDINGS || na != (nb < max ? nb : max))
		abort();
	for (size_t i = 0; i < nb; i++) {
		if (!b[i].id || !b[i].detail || !known_severity(b[i].severity))
			abort();
		fz_touch((const uint8_t *)b[i].detail, strlen(b[i].detail) + 1);
		if (i < na && (strcmp(a[i].id, b[i].id) || strcmp(a[i].severity, b[i].severity) ||
			       strcmp(a[i].detail, b[i].detail))) {
			fprintf(stderr, "finding %zu differs between runs: %s / %s\n", i, a[i].detail, b[i].detail);
			abort();
		}
	}
	for (size_t i = 0; i < na; i++)
		finding_free(&a[i]);
	for (size_t i = 0; i < nb; i++)
		finding_free(&b[i]);

	imf_addr_list_free(&h.from);
	imf_addr_list_free(&h.reply_to);
	imf_addr_list_free(&h.sender);
	for (size_t i = 0; i < nf; i++)
		free(fields[i]);
	return 0;
}
