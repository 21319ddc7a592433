/* verdict — findings from a finished transaction. Contract in
 * include/verdict.h; every rule, id and severity is specified in
 * docs/findings.md, and the code below follows that document rule by rule.
 *
 * Pure: the only state is the lazily loaded Public Suffix List context
 * (libpsl), loaded once (pthread_once) and then only read by every thread,
 * and a small fixed cache of its answers per thread (org_offset,
 * _Thread_local), which changes no result (docs/design.md, "Per-thread
 * state").
 */
#include "verdict.h"

#include <arpa/inet.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ascii.h"
#include "esc.h"
#include "imf.h"
#include "sbuf.h"

#define DOMAIN_MAX 256       /* RFC 1035 §2.3.4: 255 octets, plus NUL */
#define DETAIL_VALUE_MAX 200 /* bytes of one wire value quoted in a detail */
#define LOOKALIKE_PEERS_MAX 64  /* distinct domains compared for look-alikes */
#define LOOKALIKE_FINDINGS_MAX 4
#define EDIT_LEN_MAX 64      /* longer strings are not compared by edit distance */
#define LOOKALIKE_LABEL_MIN 4 /* registrable labels shorter than this are not compared
                                 ("bt.com" vs "bp.com": the TLD does not make a name long) */
#define LOOKALIKE_SAME_LABEL_MIN 3 /* the same label under two suffixes: "gmx.de" vs "gmx.net" */

/* ------------------------------------------------------------------ PSL */

static psl_ctx_t *psl_latest_ctx; /* the system list if newer than the built-in one */
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void)
{
	psl_latest_ctx = psl_latest(NULL);
}

static const psl_ctx_t *psl_ctx(void)
{
	pthread_once(&psl_once, psl_load); /* whichever thread asks first loads it */
	return psl_latest_ctx ? psl_latest_ctx : psl_builtin();
}

/* ------------------------------------------------------------------ UTF-8 and punycode (RFC 3492) */

/* Decode UTF-8 s[0..n) into cp (at most max). Returns the count or -1. */
static int utf8_to_cps(const char *s, size_t n, uint32_t *cp, size_t max)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, k = 0;
	while (i < n) {
		size_t l = utf8_seq_len(p + i, n - i);
		if (!l || k >= max)
			return -1;
		uint32_t c = l == 1 ? p[i] : l == 2 ? p[i] & 0x1fu : l == 3 ? p[i] & 0x0fu : p[i] & 0x07u;
		for (size_t j = 1; j < l; j++)
			c = (c << 6) | (p[i + j] & 0x3fu);
		cp[k++] = c;
		i += l;
	}
	return (int)k;
}

static void cp_to_utf8(struct sbuf *out, uint32_t c)
{
	char b[4];
	sbuf_add(out, b, utf8_put(b, c));
}

enum { PC_BASE = 36, PC_TMIN = 1, PC_TMAX = 26, PC_SKEW = 38, PC_DAMP = 700,
       PC_BIAS = 72, PC_N = 128, LABEL_CPS_MAX = 64 };

static uint32_t pc_adapt(uint32_t delta, uint32_t numpoints, int first)
{
	delta = first ? delta / PC_DAMP : delta / 2;
	delta += delta / numpoints;
	uint32_t k = 0;
	while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
		delta /= PC_BASE - PC_TMIN;
		k += PC_BASE;
	}
	return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static char pc_digit(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* RFC 3492 §6.3: encode code points cp[0..n) (no "xn--"). Returns 0 or -1. */
static int puny_encode(struct sbuf *out, const uint32_t *cp, size_t n)
{
	uint32_t m, q, delta = 0, bias = PC_BIAS, nn = PC_N, h, b = 0;
	for (size_t j = 0; j < n; j++)
		if (cp[j] < 0x80) {
			sbuf_addc(out, (char)cp[j]);
			b++;
		}
	h = b;
	if (b)
		sbuf_addc(out, '-');
	while (h < n) {
		m = UINT32_MAX;
		for (size_t j = 0; j < n; j++)
			if (cp[j] >= nn && cp[j] < m)
				m = cp[j];
		if ((uint64_t)(m - nn) * (h + 1) + delta > UINT32_MAX)
			return -1;
		delta += (m - nn) * (h + 1);
		nn = m;
		for (size_t j = 0; j < n; j++) {
			if (cp[j] < nn && ++delta == 0)
				return -1;
			if (cp[j] == nn) {
				q = delta;
				for (uint32_t k = PC_BASE;; k += PC_BASE) {
					uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
					if (q < t)
						break;
					sbuf_addc(out, pc_digit(t + (q - t) % (PC_BASE - t)));
					q = (q - t) / (PC_BASE - t);
				}
				sbuf_addc(out, pc_digit(q));
				bias = pc_adapt(delta, h + 1, h == b);
				delta = 0;
				h++;
			}
		}
		delta++;
		nn++;
	}
	return 0;
}

/* RFC 3492 §6.2: decode s[0..n) (without "xn--") into cp. Returns count or -1. */
static int puny_decode(const char *s, size_t n, uint32_t *cp, size_t max)
{
	uint32_t nn = PC_N, i = 0, bias = PC_BIAS;
	size_t out = 0, b = 0;
	for (size_t j = 0; j < n; j++)
		if (s[j] == '-')
			b = j;
	if (b > max)
		return -1;
	for (size_t j = 0; j < b; j++) {
		if ((unsigned char)s[j] >= 0x80)
			return -1;
		cp[out++] = (unsigned char)s[j];
	}
	for (size_t in = b ? b + 1 : 0; in < n;) {
		uint32_t oldi = i, w = 1;
		for (uint32_t k = PC_BASE;; k += PC_BASE) {
			if (in >= n)
				return -1;
			char c = s[in++];
			uint32_t d = (c >= '0' && c <= '9') ? (uint32_t)(c - '0' + 26) :
				     (c >= 'a' && c <= 'z') ? (uint32_t)(c - 'a') :
				     (c >= 'A' && c <= 'Z') ? (uint32_t)(c - 'A') : PC_BASE;
			if (d >= PC_BASE || d > (UINT32_MAX - i) / w)
				return -1;
			i += d * w;
			uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
			if (d < t)
				break;
			if ((uint64_t)w * (PC_BASE - t) > UINT32_MAX)
				return -1;
			w *= PC_BASE - t;
		}
		bias = pc_adapt(i - oldi, (uint32_t)out + 1, oldi == 0);
		if (i / (out + 1) > UINT32_MAX - nn)
			return -1;
		nn += i / (uint32_t)(out + 1);
		i %= (uint32_t)(out + 1);
		if (out >= max || nn > 0x10ffff || (nn >= 0xd800 && nn <= 0xdfff))
			return -1;
		memmove(cp + i + 1, cp + i, (out - i) * sizeof *cp);
		cp[i++] = nn;
		out++;
	}
	return (int)out;
}

/* ------------------------------------------------------------------ domains */

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

const char *verdict_domain_alabel(const char *domain, char *buf, size_t len)
{
	if (!domain || !len)
		return NULL;
	size_t n = strlen(domain);
	while (n && (domain[n - 1] == '.' || domain[n - 1] == ' ' || domain[n - 1] == '>'))
		n--;
	while (n && (*domain == ' ' || *domain == '<')) {
		domain++;
		n--;
	}
	if (!n || n >= DOMAIN_MAX)
		return NULL;
	char tmp[DOMAIN_MAX];
	memcpy(tmp, domain, n);
	tmp[n] = '\0';
	if (memchr(tmp, '\0', n))
		return NULL;
	if (is_ascii(tmp)) { /* the common case: lowercase, no allocation */
		if (n >= len)
			return NULL;
		for (size_t i = 0; i <= n; i++) {
			char c = tmp[i];
			buf[i] = (char)ascii_lower(c);
		}
		return buf;
	}
	if (!utf8_valid(tmp, n))
		return NULL;
	struct sbuf out = SBUF_INIT;
	char *lower = NULL;
	const char *src = tmp;
	if (!is_ascii(tmp) && tmp[0] != '[') {
		/* Unicode lowercase (libpsl, via libidn2/libunistring). libpsl
		 * lowercases and then normalises (NFKC), and NFKC can bring
		 * capitals back (U+2124 -> "Z", U+03D2 -> U+03A5, U+33DF -> "A"
		 * U+2215 "m"), so a changed text is lowercased once more: two
		 * passes reach a fixed point for every code point
		 * (fuzz/case_expanding.py checks it). */
		if (psl_str_to_utf8lower(tmp, "utf-8", "en", &lower) == PSL_SUCCESS && lower) {
			char *again = NULL;
			if (strcmp(lower, tmp) != 0 &&
			    psl_str_to_utf8lower(lower, "utf-8", "en", &again) == PSL_SUCCESS && again) {
				psl_free_string(lower);
				lower = again;
			} else if (again) {
				psl_free_string(again);
			}
			src = lower;
		}
	}
	/* Labels are read in place from src, never copied into a fixed buffer:
	 * Unicode lowercasing may lengthen the text (U+0130 -> "i" U+0307, two
	 * bytes to three; U+023A -> U+2C65, likewise), so src can be longer
	 * than the DOMAIN_MAX the input was checked against. A label longer
	 * than LABEL_CPS_MAX code points makes the domain invalid (RFC 5890
	 * §2.3.2.1: 63 octets), which utf8_to_cps reports. */
	const char *p = src;
	int bad = 0;
	int bracket = src[0] == '[';
	while (!bad) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		int ascii = 1;
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)p[i] >= 0x80)
				ascii = 0;
		if (ascii || bracket) {
			for (size_t i = 0; i < l; i++) {
				char c = p[i];
				sbuf_addc(&out, (char)ascii_lower(c));
			}
		} else {
			uint32_t cp[LABEL_CPS_MAX];
			int k = utf8_to_cps(p, l, cp, LABEL_CPS_MAX);
			sbuf_adds(&out, "xn--");
			if (k < 0 || puny_encode(&out, cp, (size_t)k) < 0)
				bad = 1;
		}
		if (!dot)
			break;
		sbuf_addc(&out, '.');
		p = dot + 1;
	}
	if (lower)
		psl_free_string(lower);
	const char *res = NULL;
	if (!bad && out.len && out.len < len) {
		memcpy(buf, out.buf, out.len + 1);
		res = buf;
	}
	sbuf_free(&out);
	return res;
}

/* Recent A-label -> Organizational Domain results: a lookup in the Public
 * Suffix List costs more than the rest of a message's verdicts, and mail
 * repeats the same few domains. Direct-mapped, fixed size (no growth);
 * psl_registrable_domain() answers with a suffix of its argument, so an
 * entry keeps the offset of that suffix (-1: none). One cache per thread
 * (_Thread_local, ~290 KiB of static TLS, no heap: nothing to free when a
 * thread ends), so the SMTP worker and a test or fuzzer on the main thread
 * never share an entry. */
#define ORG_CACHE_SETS 2048   /* two ways each: 4,096 domains */
#define ORG_CACHE_KEY_MAX 64 /* longer domains are looked up every time */
static _Thread_local struct org_cache_ent {
	uint32_t h;
	int off;
	char a[ORG_CACHE_KEY_MAX];
} org_cache[ORG_CACHE_SETS][2];
static _Thread_local uint8_t org_cache_old[ORG_CACHE_SETS]; /* the way to replace next */

static int org_offset(const char *a)
{
	if (a[0] == '[')
		return -1;
	size_t n = strlen(a);
	if (n >= ORG_CACHE_KEY_MAX) {
		const char *reg = psl_registrable_domain(psl_ctx(), a);
		return reg ? (int)(reg - a) : -1;
	}
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)a[i]) * 16777619u;
	size_t set = (h ^ (h >> 16)) % ORG_CACHE_SETS;
	for (int w = 0; w < 2; w++) {
		struct org_cache_ent *e = &org_cache[set][w];
		if (e->h == h && e->a[0] && memcmp(e->a, a, n + 1) == 0) {
			org_cache_old[set] = (uint8_t)!w;
			return e->off;
		}
	}
	const char *reg = psl_registrable_domain(psl_ctx(), a);
	int w = org_cache_old[set];
	struct org_cache_ent *e = &org_cache[set][w];
	org_cache_old[set] = (uint8_t)!w;
	e->h = h;
	memcpy(e->a, a, n + 1);
	e->off = reg ? (int)(reg - a) : -1;
	return e->off;
}

/* The Organizational Domain of an A-label (from verdict_domain_alabel). */
static const char *org_of_alabel(const char *a, char *buf, size_t len)
{
	int off = org_offset(a);
	const char *r = off >= 0 ? a + off : a;
	size_t n = strlen(r);
	if (n >= len)
		return NULL;
	memcpy(buf, r, n + 1);
	return buf;
}

const char *verdict_org_domain(const char *domain, char *buf, size_t len)
{
	char a[DOMAIN_MAX];
	if (!verdict_domain_alabel(domain, a, sizeof a))
		return NULL;
	return org_of_alabel(a, buf, len);
}

/* A domain seen in the transaction, in every form a rule needs. */
struct dom {
	char a[DOMAIN_MAX];   /* A-label form, lowercased */
	char org[DOMAIN_MAX]; /* Organizational Domain, A-label */
	const char *shown;    /* as on the wire (for details) */
	const char *role;     /* "MAIL FROM", "From:", ... */
};

static int dom_make(struct dom *d, const char *domain, const char *role)
{
	if (!domain || !verdict_domain_alabel(domain, d->a, sizeof d->a) ||
	    !org_of_alabel(d->a, d->org, sizeof d->org))
		return -1;
	d->shown = domain;
	d->role = role;
	return 0;
}

/* The domain part of an address (after the last '@'), or NULL. */
static const char *addr_domain(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	return at && at[1] ? at + 1 : NULL;
}

static int aligned(const struct dom *x, const struct dom *y, bool strict)
{
	return strict ? strcmp(x->a, y->a) == 0 : strcmp(x->org, y->org) == 0;
}

static int popcount(unsigned x)
{
	int n = 0;
	for (; x; x &= x - 1)
		n++;
	return n;
}

/* ------------------------------------------------------------------ findings */

struct ctx {
	const struct verdict_input *in;
	const struct imf_headers *h;
	struct finding *out;
	size_t max, n;
};

/* Append s to d, at most DETAIL_VALUE_MAX bytes (cut at a UTF-8 boundary). */
static void add_val(struct sbuf *d, const char *s)
{
	if (!s) {
		sbuf_adds(d, "(none)");
		return;
	}
	size_t n = strlen(s);
	if (n <= DETAIL_VALUE_MAX) {
		sbuf_add(d, s, n);
		return;
	}
	size_t k = DETAIL_VALUE_MAX;
	while (k && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	sbuf_add(d, s, k);
	sbuf_adds(d, "...");
}

/* Build a detail from fmt where each "%s" takes the next value through
 * add_val() and "%u" an unsigned. Only these two conversions exist. */
static char *detail_make(const char *fmt, ...)
{
	struct sbuf d = SBUF_INIT; /* findings are few: no scratch kept between calls */
	va_list ap;
	va_start(ap, fmt);
	for (const char *f = fmt; *f; f++) {
		if (f[0] == '%' && f[1] == 's') {
			add_val(&d, va_arg(ap, const char *));
			f++;
		} else if (f[0] == '%' && f[1] == 'u') {
			sbuf_addf(&d, "%u", va_arg(ap, unsigned));
			f++;
		} else {
			sbuf_addc(&d, *f);
		}
	}
	va_end(ap);
	char *r = xstrndup(sbuf_str(&d), d.len);
	sbuf_free(&d);
	return r;
}

static void emit(struct ctx *c, const char *id, const char *sev, char *detail)
{
	if (c->n >= c->max) {
		free(detail);
		return;
	}
	struct finding *f = &c->out[c->n++];
	f->id = id; /* callers pass string literals */
	f->severity = sev;
	f->detail = detail;
}

void finding_free(struct finding *f)
{
	if (!f)
		return;
	free(f->detail);
	f->detail = NULL;
}

/* --- smtp_smuggling (docs/findings.md §smtp_smuggling) */
static void rule_smuggling(struct ctx *c)
{
	const struct verdict_input *in = c->in;
	if (!in->smuggling_bare_lf && !in->smuggling_bare_cr && !in->smuggling_bad_eod)
		return;
	struct sbuf what = SBUF_INIT;
	if (in->smuggling_bare_lf)
		sbuf_adds(&what, "bare LF");
	if (in->smuggling_bare_cr)
		sbuf_adds(&what, what.len ? ", bare CR" : "bare CR");
	if (in->smuggling_bad_eod)
		sbuf_adds(&what, what.len ? ", a non-standard end-of-data sequence" :
					    "a non-standard end-of-data sequence");
	emit(c, "smtp_smuggling", "high",
	     detail_make("The message data contained %s, which servers that disagree on where DATA ends "
			 "can be tricked into reading as a second, spoofed message (SMTP smuggling, "
			 "CVE-2023-51764/51765/51766).", sbuf_str(&what)));
	sbuf_free(&what);
}

/* --- cleartext_auth */
static void rule_cleartext_auth(struct ctx *c)
{
	const struct verdict_input *in = c->in;
	if (!in->auth_cleartext)
		return;
	emit(c, "cleartext_auth", "high",
	     in->auth_user ?
	     detail_make(in->starttls_offered ?
			 "Credentials of user %s were sent without TLS although the server offered STARTTLS." :
			 "Credentials of user %s were sent without TLS (the server did not offer STARTTLS).",
			 in->auth_user) :
	     detail_make(in->starttls_offered ?
			 "Credentials were sent without TLS although the server offered STARTTLS." :
			 "Credentials were sent without TLS (the server did not offer STARTTLS)."));
}

/* cleartext_auth for a session: credentials in clear that no transaction
 * reports (password guessing then QUIT, or AUTH before STARTTLS). */
static void rule_cleartext_auth_session(struct ctx *c, const struct verdict_session_input *in)
{
	if (!in->auth_clear)
		return;
	struct sbuf users = SBUF_INIT;
	for (size_t i = 0; i < in->n_users; i++) {
		if (i)
			sbuf_adds(&users, ", ");
		sbuf_adds(&users, in->users[i] ? in->users[i] : "");
	}
	char n[24], f[24];
	snprintf(n, sizeof n, "%llu", in->auth_clear);
	snprintf(f, sizeof f, "%llu", in->auth_clear_failed);
	emit(c, "cleartext_auth", "high",
	     detail_make(in->starttls_offered ?
			 "%s AUTH attempt(s) sent credentials without TLS although the server offered STARTTLS "
			 "(user(s) %s; %s refused), and no transaction of the session reports them." :
			 "%s AUTH attempt(s) sent credentials without TLS (the server did not offer STARTTLS; "
			 "user(s) %s; %s refused), and no transaction of the session reports them.",
			 n, in->n_users ? sbuf_str(&users) : "unknown", f));
	sbuf_free(&users);
}

/* --- TLS and STARTTLS (docs/findings.md, "TLS and STARTTLS") */

static bool ci_eq_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

void verdict_subject_cn(const char *s, char *buf, size_t len)
{
	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; s && s[i];) {
		if ((s[i] == 'C' || s[i] == 'c') && (s[i + 1] == 'N' || s[i + 1] == 'n') && s[i + 2] == '=') {
			size_t o = 0;
			for (i += 3; s[i] && s[i] != ',' && s[i] != '+'; i++) {
				if (s[i] == '\\' && s[i + 1])
					i++;
				if (o + 1 < len)
					buf[o++] = s[i];
			}
			buf[o] = '\0';
			return;
		}
		for (; s[i] && s[i] != ',' && s[i] != '+'; i++) /* to the next attribute */
			if (s[i] == '\\' && s[i + 1])
				i++;
		if (s[i])
			i++;
	}
}

bool verdict_tls_name_match(const char *host, const char *pattern)
{
	if (!host || !pattern)
		return false;
	size_t hn = strlen(host), pn = strlen(pattern);
	if (hn && host[hn - 1] == '.')
		hn--;
	if (pn && pattern[pn - 1] == '.')
		pn--;
	if (!hn || !pn)
		return false;
	if (pn >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* the rest must hold at least two labels (a registrable-looking
		 * suffix), and the host's first label is non-empty */
		const char *rest = pattern + 2;
		size_t rn = pn - 2;
		const char *dot = memchr(rest, '.', rn);
		if (!dot || dot == rest || dot == rest + rn - 1 || memchr(rest, '*', rn))
			return false;
		const char *hd = memchr(host, '.', hn);
		if (!hd || hd == host)
			return false;
		size_t hrest = hn - (size_t)(hd + 1 - host);
		return hrest == rn && ci_eq_n(hd + 1, rest, rn);
	}
	if (memchr(pattern, '*', pn))
		return false; /* partial wildcards ("f*.example.com"): RFC 9525 §6.3 rejects them */
	return hn == pn && ci_eq_n(host, pattern, hn);
}

static void rule_tls(struct ctx *c, const struct verdict_session_input *in)
{
	const struct verdict_tls *t = in->hs;
	if (!in->tls || !t)
		return;
	/* RFC 8996: TLS 1.0 and 1.1 are deprecated; RFC 7568: SSL 3.0 is broken */
	if (t->version && t->version < 0x0303) {
		bool ssl = t->version < 0x0301;
		emit(c, "tls_old_version", ssl ? "high" : "medium",
		     detail_make(ssl ? "%s was negotiated: it is broken (RFC 7568, POODLE) and offers no real confidentiality."
		                     : "%s was negotiated: deprecated by RFC 8996, without the AEAD cipher suites of TLS 1.2.",
		                 t->version_name));
	}
	if (t->cipher && t->cipher_weak) {
		const char *n = t->cipher_name ? t->cipher_name : "";
		bool broken = strstr(n, "NULL") || strstr(n, "anon") || strstr(n, "EXPORT");
		emit(c, "tls_weak_cipher", broken ? "high" : "medium",
		     detail_make(broken ? "The cipher suite %s was negotiated: it has no encryption, no server authentication "
		                          "or export-grade keys, so the session is open to a passive or active attacker."
		                        : "The cipher suite %s was negotiated: RC4, DES and 3DES are prohibited or "
		                          "deprecated (RFC 7465, RFC 7525).",
		                 n));
	}
	if (t->cert_seen) {
		char when[32], lim[32];
		time_t ct = (time_t)t->capture_time;
		struct tm tm;
		if (t->not_after && t->capture_time > t->not_after) {
			gmtime_r(&ct, &tm);
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
			time_t na = (time_t)t->not_after;
			gmtime_r(&na, &tm);
			strftime(lim, sizeof lim, "%Y-%m-%dT%H:%M:%SZ", &tm);
			emit(c, "tls_cert_expired", "medium",
			     detail_make("The server's certificate %s expired on %s, before the capture time %s.",
			                 t->cert_subject, lim, when));
		} else if (t->not_before && t->capture_time < t->not_before) {
			gmtime_r(&ct, &tm);
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
			time_t nb = (time_t)t->not_before;
			gmtime_r(&nb, &tm);
			strftime(lim, sizeof lim, "%Y-%m-%dT%H:%M:%SZ", &tm);
			emit(c, "tls_cert_not_yet_valid", "medium",
			     detail_make("The server's certificate %s is valid only from %s, after the capture time %s.",
			                 t->cert_subject, lim, when));
		}
		if (t->self_signed)
			emit(c, "tls_cert_self_signed", "low",
			     detail_make("The server presented a self-signed certificate %s: common between MTAs that use "
			                 "opportunistic TLS, but nothing vouches for the server's identity.",
			                 t->cert_subject));
		if (t->sni && t->sni[0]) {
			bool ok = false;
			for (size_t i = 0; i < t->n_cert_dns && !ok; i++)
				ok = verdict_tls_name_match(t->sni, t->cert_dns[i]);
			if (!t->n_cert_dns) /* RFC 6125 §6.4.4: the CN only without DNS-IDs */
				ok = verdict_tls_name_match(t->sni, t->cert_cn);
			if (!ok)
				emit(c, "tls_sni_mismatch", "medium",
				     detail_make(t->n_cert_dns ? "The client asked for %s (SNI), which none of the certificate's "
				                                 "subjectAltName DNS names (first: %s) covers."
				                               : "The client asked for %s (SNI), which the certificate's subject "
				                                 "CN %s does not cover (it has no subjectAltName DNS names).",
				                 t->sni, t->n_cert_dns ? t->cert_dns[0] : t->cert_cn));
		}
	}
}

static void rule_starttls_session(struct ctx *c, const struct verdict_session_input *in)
{
	if (!in->tls && in->starttls_masked)
		emit(c, "starttls_stripped", "high",
		     detail_make("The server's EHLO reply carried a masked keyword where STARTTLS belongs "
		                 "(an inspecting middlebox's XXXXXXXA), and the session went on in cleartext."));
	else if (!in->tls && in->starttls_refused && in->starttls_refused_continued) {
		char code[8];
		snprintf(code, sizeof code, "%d", in->starttls_refused);
		emit(c, "starttls_stripped", "medium",
		     detail_make("The server advertised STARTTLS but answered it with %s, and the client went on in "
		                 "cleartext: a downgrade an attacker can cause, or a server whose TLS is broken.",
		                 code));
	}
	if (in->starttls_no_handshake)
		emit(c, "starttls_no_handshake", "medium",
		     detail_make("The server accepted STARTTLS (220) but the next bytes were %s, not a TLS handshake.",
		                 in->starttls_no_handshake));
	if (in->starttls_injected) {
		char n[24];
		snprintf(n, sizeof n, "%llu", in->starttls_injected);
		emit(c, "starttls_injection", "high",
		     detail_make("%s bytes of commands followed STARTTLS before its 220 (the CVE-2011-0411 injection "
		                 "pattern: a vulnerable server runs them inside the TLS session); they were discarded.",
		                 n));
	}
}

size_t verdict_session_run(const struct verdict_session_input *in, struct finding *out, size_t max)
{
	struct ctx c = { NULL, NULL, out, max, 0 };
	if (!in || !out || !max)
		return 0;
	rule_cleartext_auth_session(&c, in);
	rule_starttls_session(&c, in);
	rule_tls(&c, in);
	return c.n;
}

/* --- starttls_not_used */
static void rule_starttls(struct ctx *c)
{
	const struct verdict_input *in = c->in;
	if (!in->starttls_offered || in->starttls_used || in->tls)
		return;
	emit(c, "starttls_not_used", "medium",
	     detail_make("The server advertised STARTTLS but the client went on in cleartext, so the "
			 "envelope and message crossed the network unencrypted."));
}

/* --- helo_suspicious (RFC 5321 §4.1.1.1, §4.1.3) */
static int ip_literal_ok(const char *s, size_t n)
{
	char tmp[64];
	unsigned char addr[16];
	if (n >= sizeof tmp)
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (n > 5 && ascii_ncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, addr) == 1;
	return inet_pton(AF_INET, tmp, addr) == 1;
}

/* Does the first label hold four dash- or dot-free decimal octets in a row,
 * "173-66-46-112" or "ip-10-0-0-1" (rspamd's HFILTER_HELO dynamic check)? */
static int helo_looks_dynamic(const char *h)
{
	size_t l = strcspn(h, ".");
	for (size_t s = 0; s < l; s++) {
		if (h[s] < '0' || h[s] > '9' || (s && h[s - 1] >= '0' && h[s - 1] <= '9'))
			continue; /* start at the first digit of a group */
		size_t i = s;
		int groups = 0;
		while (groups < 4) {
			unsigned v = 0, digits = 0;
			while (i < l && h[i] >= '0' && h[i] <= '9' && digits < 4) {
				v = v * 10 + (unsigned)(h[i] - '0');
				digits++;
				i++;
			}
			if (digits == 0 || digits > 3 || v > 255)
				break;
			groups++;
			if (groups < 4) {
				if (i >= l || (h[i] != '-' && h[i] != '_'))
					break;
				i++;
			}
		}
		if (groups == 4 && (i >= l || h[i] < '0' || h[i] > '9'))
			return 1;
	}
	return 0;
}

static void rule_helo(struct ctx *c)
{
	const char *h = c->in->helo;
	if (!h)
		return;
	size_t n = strlen(h);
	if (n == 0) {
		emit(c, "helo_suspicious", "medium",
		     detail_make("The client sent HELO/EHLO without a name (RFC 5321 §4.1.1.1 requires a domain or address literal)."));
		return;
	}
	if (h[0] == '[') {
		if (n >= 2 && h[n - 1] == ']' && ip_literal_ok(h + 1, n - 2))
			return; /* a proper address literal */
		emit(c, "helo_suspicious", "medium",
		     detail_make("HELO/EHLO %s is bracketed but not a valid IPv4 or IPv6 address literal (RFC 5321 §4.1.3).", h));
		return;
	}
	unsigned char addr[16];
	if (inet_pton(AF_INET, h, addr) == 1 || inet_pton(AF_INET6, h, addr) == 1) {
		emit(c, "helo_suspicious", "medium",
		     detail_make("HELO/EHLO %s is a bare IP address; RFC 5321 §4.1.3 requires an address literal in brackets, and bots often send this.", h));
		return;
	}
	if (ascii_casecmp(h, "localhost") == 0 || ascii_casecmp(h, "localhost.localdomain") == 0) {
		emit(c, "helo_suspicious", "low",
		     detail_make("HELO/EHLO %s names the local host, not the client's domain (RFC 5321 §4.1.1.1).", h));
		return;
	}
	size_t lab = 0;
	int dots = 0, badch = 0, badlab = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];
		if (ch == '.') {
			if (lab == 0 && i + 1 < n)
				badlab = 1;
			lab = 0;
			dots++;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch >= 0x80))
			badch = 1;
		if (++lab > 63)
			badlab = 1;
	}
	if (badch || badlab || n > 253 || !utf8_valid(h, n)) {
		emit(c, "helo_suspicious", "medium",
		     detail_make("HELO/EHLO %s is not a syntactically valid domain name (RFC 5321 §4.1.2: letters, digits, hyphens, dot-separated labels).", h));
		return;
	}
	if (helo_looks_dynamic(h)) {
		emit(c, "helo_suspicious", "low",
		     detail_make("HELO/EHLO %s embeds an IPv4 address in its first label, the shape of a dynamically "
				 "assigned (residential or cloud) host name that rarely belongs to a mail server.", h));
		return;
	}
	if (dots == 0 || (dots == 1 && h[n - 1] == '.')) {
		emit(c, "helo_suspicious", "low",
		     detail_make("HELO/EHLO %s is not a fully-qualified domain name (no dot; RFC 5321 §4.1.1.1 asks for the FQDN).", h));
	}
}

/* --- missing_from, multiple_from (RFC 5322 §3.6, §3.6.2) */
static void rule_from_count(struct ctx *c)
{
	const struct imf_headers *h = c->h;
	if (!h)
		return;
	if (h->from_fields == 0) {
		if (h->complete && !h->truncated)
			emit(c, "missing_from", "medium",
			     detail_make("The message has no From: field (RFC 5322 §3.6 requires exactly one), so nothing says who wrote it."));
		return;
	}
	if (h->from.n == 0) {
		emit(c, "missing_from", "medium",
		     detail_make("The From: field holds no parseable mailbox, so the author cannot be compared with the envelope."));
		return;
	}
	size_t total = h->from.n + h->from.more;
	if (h->from_fields > 1) {
		emit(c, "multiple_from", "high",
		     detail_make("The message has %u From: fields (first %s, then %s); mail clients may show either, a known spoofing trick (RFC 5322 §3.6 allows one).",
				 h->from_fields, h->from.v[0].address,
				 h->from.n > 1 ? h->from.v[h->from.n - 1].address : "(none)"));
	} else if (total > 1) {
		if (h->sender.n)
			emit(c, "multiple_from", "info",
			     detail_make("From: lists %u mailboxes (first %s) with Sender: %s, which RFC 5322 §3.6.2 allows.",
					 (unsigned)total, h->from.v[0].address, h->sender.v[0].address));
		else
			emit(c, "multiple_from", "medium",
			     detail_make("From: lists %u mailboxes (first %s) without the Sender: field RFC 5322 §3.6.2 then requires.",
					 (unsigned)total, h->from.v[0].address));
	}
}

/* --- from_mismatch (RFC 7489 §3.1 identifier alignment) */
static void rule_from_mismatch(struct ctx *c)
{
	const struct verdict_input *in = c->in;
	const struct imf_headers *h = c->h;
	if (!in->mail_from || !h || h->from.n == 0)
		return;
	struct dom env, from;
	int null_sender = in->mail_from[0] == '\0';
	const char *env_name = null_sender ? in->helo : addr_domain(in->mail_from);
	if (!env_name || env_name[0] == '[' || dom_make(&env, env_name, "MAIL FROM") < 0)
		return;
	if (null_sender) { /* HELO stands in, but not a bare IP */
		unsigned char a[16];
		if (inet_pton(AF_INET, env_name, a) == 1 || inet_pton(AF_INET6, env_name, a) == 1)
			return;
	}
	if (dom_make(&from, addr_domain(h->from.v[0].address), "From:") < 0)
		return;
	bool strict = in->strict_alignment;
	if (aligned(&env, &from, strict))
		return;

	/* DKIM context: a d= aligned with From: is how such mail stays legitimate */
	const char *dkim_from = NULL, *dkim_env = NULL;
	for (size_t i = 0; i < h->n_dkim; i++) {
		struct dom d;
		if (dom_make(&d, h->dkim_domains[i], "DKIM") < 0)
			continue;
		if (!dkim_from && aligned(&d, &from, strict))
			dkim_from = h->dkim_domains[i];
		if (!dkim_env && aligned(&d, &env, strict))
			dkim_env = h->dkim_domains[i];
	}
	struct sbuf what = SBUF_INIT;
	if (null_sender)
		sbuf_adds(&what, "The null sender <> (a bounce or auto-reply), compared through HELO domain ");
	else
		sbuf_adds(&what, "MAIL FROM domain ");
	const char *comma = null_sender ? "," : "";
	char *head;
	if (strict && strcmp(env.org, from.org) == 0)
		head = detail_make("%s%s%s and From: domain %s are not identical (strict alignment), though they share the Organizational Domain %s",
				   sbuf_str(&what), env.shown, comma, from.shown, env.org);
	else if (strict)
		head = detail_make("%s%s%s and From: domain %s are not identical (strict alignment)",
				   sbuf_str(&what), env.shown, comma, from.shown);
	else
		head = detail_make("%s%s%s and From: domain %s are not aligned: their Organizational Domains %s and %s differ",
				   sbuf_str(&what), env.shown, comma, from.shown, env.org, from.org);
	sbuf_free(&what);

	const char *sev;
	char *tail;
	if (dkim_from) {
		sev = "low";
		tail = detail_make("; a DKIM-Signature with d=%s aligns with From:, so this may be legitimate "
				   "(mailing list, forwarder or bounce service) if that signature verifies, which smtpscope does not check.",
				   dkim_from);
	} else if (strict && strcmp(env.org, from.org) == 0) {
		sev = "low";
		tail = detail_make(", which relaxed alignment would accept.");
	} else if (dkim_env || h->list_id || null_sender) {
		sev = "medium";
		if (dkim_env)
			tail = detail_make("; no DKIM-Signature d= aligns with From: but d=%s matches the envelope, "
					   "as when a mailing list or forwarder re-signs, so this may be legitimate.", dkim_env);
		else if (h->list_id)
			tail = detail_make("; the message carries List-Id %s and no DKIM-Signature d= aligns with From:, "
					   "as when a mailing list rewrites the envelope, so this may be legitimate.", h->list_id);
		else
			tail = detail_make("; no DKIM-Signature d= aligns with From:, and bounces legitimately come from "
					   "the relaying host, so this may be legitimate.");
	} else {
		sev = "high";
		tail = detail_make(h->n_dkim ? "; no DKIM-Signature d= aligns with From: either (first d=%s), "
					       "so nothing in the message vouches for the From: domain." :
					       "; there is no DKIM-Signature, so nothing in the message vouches for the From: domain.",
				   h->n_dkim ? h->dkim_domains[0] : NULL);
	}
	size_t hl = strlen(head), tl = strlen(tail);
	char *d = xmalloc(hl + tl + 1);
	memcpy(d, head, hl);
	memcpy(d + hl, tail, tl + 1);
	free(head);
	free(tail);
	emit(c, "from_mismatch", sev, d);
}

/* --- display_name_spoof */
static int local_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr(".!#$%&'*+/=?^_`{|}~-", ch)) || ch >= 0x80;
}

static int domain_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch >= 0x80;
}

/* The first address-looking "local@domain.tld" inside name, into buf
 * (also with the full-width U+FF20 or small U+FE6B commercial at). */
static int name_find_address(const char *name, size_t *pos, char *buf, size_t len)
{
	size_t n = strlen(name);
	for (size_t i = *pos; i < n; i++) {
		size_t atlen = 0;
		if (name[i] == '@')
			atlen = 1;
		else if (i + 2 < n && !memcmp(name + i, "\xef\xbc\xa0", 3))
			atlen = 3;
		else if (i + 2 < n && !memcmp(name + i, "\xef\xb9\xab", 3))
			atlen = 3;
		if (!atlen)
			continue;
		size_t s = i, e = i + atlen;
		while (s > 0 && local_char((unsigned char)name[s - 1]))
			s--;
		while (e < n && domain_char((unsigned char)name[e]))
			e++;
		while (e > i + atlen && (name[e - 1] == '.' || name[e - 1] == '-'))
			e--;
		const char *dom = name + i + atlen;
		size_t dl = e - (i + atlen);
		if (s == i || dl < 3 || !memchr(dom, '.', dl))
			continue;
		if (i - s + 1 + dl >= len)
			continue;
		memcpy(buf, name + s, i - s);
		buf[i - s] = '@';
		memcpy(buf + (i - s) + 1, dom, dl);
		buf[i - s + 1 + dl] = '\0';
		*pos = e;
		return 1;
	}
	return 0;
}

/* x and y are the same mailbox: local parts equal ignoring ASCII case,
 * domains equal in A-label form (a name may show "ivan@пример.рф" for
 * ivan@xn--e1afmkfd.xn--p1ai: the same address, RFC 5890). */
static int same_address(const char *x, const char *y)
{
	if (ascii_casecmp(x, y) == 0)
		return 1;
	const char *ax = strrchr(x, '@'), *ay = strrchr(y, '@');
	if (!ax || !ay || ax - x != ay - y || ascii_ncasecmp(x, y, (size_t)(ax - x)) != 0)
		return 0;
	char da[DOMAIN_MAX], db[DOMAIN_MAX];
	return verdict_domain_alabel(ax + 1, da, sizeof da) && verdict_domain_alabel(ay + 1, db, sizeof db) &&
	       strcmp(da, db) == 0;
}

static void rule_display_name(struct ctx *c)
{
	const struct imf_headers *h = c->h;
	if (!h)
		return;
	for (size_t i = 0; i < h->from.n; i++) {
		const struct imf_addr *a = &h->from.v[i];
		if (!a->name)
			continue;
		/* Every address-shaped text of the name counts, not only the first
		 * ("billing@evil.example on behalf of service@paypal.com", b08):
		 * the finding names the worst one (another Organizational Domain
		 * before an alias of the same one). */
		char emb[512], cand[512];
		struct dom de, dr;
		int found = 0, same_org = 0;
		size_t pos = 0;
		while (found != 2 && name_find_address(a->name, &pos, cand, sizeof cand)) {
			if (same_address(cand, a->address))
				continue;
			int so = dom_make(&de, addr_domain(cand), "name") == 0 &&
				 dom_make(&dr, addr_domain(a->address), "From:") == 0 &&
				 strcmp(de.org, dr.org) == 0;
			if (!found || !so) {
				memcpy(emb, cand, strlen(cand) + 1);
				same_org = so;
				found = so ? 1 : 2;
			}
		}
		if (!found)
			continue;
		if (same_org)
			dom_make(&de, addr_domain(emb), "name");
		emit(c, "display_name_spoof", same_org ? "low" : "high",
		     same_org ?
		     detail_make("The From: display name \"%s\" shows the address %s but the mail is from %s "
				 "(same Organizational Domain %s, so likely an alias).", a->name, emb, a->address, de.org) :
		     detail_make("The From: display name \"%s\" shows the address %s but the real From: address is %s, "
				 "a different domain: readers who only see the name are misled.", a->name, emb, a->address));
	}
}

/* --- auth_sender_mismatch */
static void rule_auth(struct ctx *c)
{
	const struct verdict_input *in = c->in;
	const char *user = in->auth_user;
	if (!user || !user[0])
		return;
	const char *env = (in->mail_from && in->mail_from[0]) ? in->mail_from : NULL;
	const char *hdr = (c->h && c->h->from.n) ? c->h->from.v[0].address : NULL;
	if (!env && !hdr)
		return;
	if (strchr(user, '@')) {
		const char *other = NULL;
		if (env && ascii_casecmp(env, user))
			other = env;
		else if (hdr && ascii_casecmp(hdr, user))
			other = hdr;
		if (!other)
			return;
		struct dom du, dother;
		int same_org = dom_make(&du, addr_domain(user), "AUTH") == 0 &&
			       dom_make(&dother, addr_domain(other), "sender") == 0 &&
			       strcmp(du.org, dother.org) == 0;
		const char *which = other == env ? "MAIL FROM" : "From:";
		emit(c, "auth_sender_mismatch", same_org ? "low" : "high",
		     same_org ?
		     detail_make("Authenticated user %s sent as %s %s, another mailbox of the same Organizational Domain %s "
				 "(delegation or a shared mailbox, or a compromised account used for internal phishing).",
				 user, which, other, du.org) :
		     detail_make("Authenticated user %s sent as %s %s in another domain, so the account is being used to "
				 "send as someone else.", user, which, other));
		return;
	}
	/* no domain in the username (or DOMAIN\user): compare local parts only */
	const char *u = strrchr(user, '\\');
	u = u ? u + 1 : user;
	size_t ul = strlen(u);
	const char *cand[2] = { env, hdr };
	for (int k = 0; k < 2; k++) {
		const char *a = cand[k];
		const char *at = a ? strrchr(a, '@') : NULL;
		if (a && at && (size_t)(at - a) == ul && ascii_ncasecmp(a, u, ul) == 0)
			return; /* the local part matches one of them */
	}
	emit(c, "auth_sender_mismatch", "info",
	     detail_make("Authenticated user %s has no domain, so only local parts could be compared, and it matches "
			 "neither MAIL FROM %s nor From: %s.", user, env ? env : "(none)", hdr ? hdr : "(none)"));
}

/* --- reply_to_mismatch */
static void rule_reply_to(struct ctx *c)
{
	const struct imf_headers *h = c->h;
	if (!h || !h->from.n || !h->reply_to.n)
		return;
	struct dom from;
	if (dom_make(&from, addr_domain(h->from.v[0].address), "From:") < 0)
		return;
	for (size_t i = 0; i < h->reply_to.n; i++) {
		struct dom rt;
		if (dom_make(&rt, addr_domain(h->reply_to.v[i].address), "Reply-To:") < 0)
			continue;
		if (strcmp(rt.org, from.org) == 0)
			continue;
		emit(c, "reply_to_mismatch", h->list_id ? "low" : "medium",
		     h->list_id ?
		     detail_make("Reply-To: %s goes to Organizational Domain %s, not From: %s's %s; the message carries "
				 "List-Id %s, and lists often direct replies to themselves.",
				 h->reply_to.v[i].address, rt.org, h->from.v[0].address, from.org, h->list_id) :
		     detail_make("Reply-To: %s goes to Organizational Domain %s, not From: %s's %s, so answers would "
				 "reach another party than the apparent sender.",
				 h->reply_to.v[i].address, rt.org, h->from.v[0].address, from.org));
		return; /* one finding per message */
	}
}

/* --- lookalike_domain */
enum script { SC_COMMON, SC_LATIN, SC_GREEK, SC_CYRILLIC, SC_ARMENIAN, SC_HEBREW, SC_ARABIC,
	      SC_HAN, SC_HIRAGANA, SC_KATAKANA, SC_HANGUL, SC_BOPOMOFO, SC_THAI, SC_GEORGIAN,
	      SC_DEVANAGARI, SC_OTHER };
static const char *const script_names[] = { "Common", "Latin", "Greek", "Cyrillic", "Armenian",
	"Hebrew", "Arabic", "Han", "Hiragana", "Katakana", "Hangul", "Bopomofo", "Thai", "Georgian",
	"Devanagari", "other" };

/* Unicode Script property, coarsely, for the blocks domain names use. */
static enum script script_of(uint32_t c)
{
	if ((c >= '0' && c <= '9') || c == '-' || c == 0x30fc || c == 0x00b7)
		return SC_COMMON;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= 0xc0 && c <= 0x24f && c != 0xd7 && c != 0xf7) || (c >= 0x1e00 && c <= 0x1eff))
		return SC_LATIN;
	if ((c >= 0x370 && c <= 0x3ff) || (c >= 0x1f00 && c <= 0x1fff))
		return SC_GREEK;
	if ((c >= 0x400 && c <= 0x52f) || (c >= 0x2de0 && c <= 0x2dff) || (c >= 0xa640 && c <= 0xa69f))
		return SC_CYRILLIC;
	if (c >= 0x530 && c <= 0x58f) return SC_ARMENIAN;
	if (c >= 0x590 && c <= 0x5ff) return SC_HEBREW;
	if ((c >= 0x600 && c <= 0x6ff) || (c >= 0x750 && c <= 0x77f)) return SC_ARABIC;
	if (c >= 0x900 && c <= 0x97f) return SC_DEVANAGARI;
	if (c >= 0xe00 && c <= 0xe7f) return SC_THAI;
	if (c >= 0x10a0 && c <= 0x10ff) return SC_GEORGIAN;
	if ((c >= 0x1100 && c <= 0x11ff) || (c >= 0xac00 && c <= 0xd7af) || (c >= 0x3130 && c <= 0x318f))
		return SC_HANGUL;
	if (c >= 0x3040 && c <= 0x309f) return SC_HIRAGANA;
	if (c >= 0x30a0 && c <= 0x30ff) return SC_KATAKANA;
	if (c >= 0x3100 && c <= 0x312f) return SC_BOPOMOFO;
	if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x20000 && c <= 0x2ffff))
		return SC_HAN;
	return SC_OTHER;
}

/* Cyrillic letters that look like Latin ones (Unicode confusables.txt). */
static int cyrillic_latin_lookalike(uint32_t c)
{
	static const uint32_t set[] = { 0x430, 0x435, 0x43e, 0x440, 0x441, 0x443, 0x445, 0x456,
		0x458, 0x455, 0x4bb, 0x501, 0x51b, 0x51d, 0x4cf, 0x410, 0x412, 0x415, 0x41a, 0x41c,
		0x41d, 0x41e, 0x420, 0x421, 0x422, 0x425, 0x406, 0x408, 0x405 };
	for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
		if (set[i] == c)
			return 1;
	return 0;
}

/* Check each label of d (A-label form). Writes a reason into why and the
 * Unicode form into uni. Returns 2 (mixed or whole-script confusable), 1
 * (punycode only), 0 (plain). */
static int domain_script_check(const struct dom *d, struct sbuf *uni, struct sbuf *why)
{
	int result = 0, tld_ascii = 1;
	const char *last = strrchr(d->a, '.');
	if (last && strncmp(last + 1, "xn--", 4) == 0)
		tld_ascii = 0;
	const char *p = d->a;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		uint32_t cp[LABEL_CPS_MAX];
		int k = -1;
		if (l > 4 && strncmp(p, "xn--", 4) == 0)
			k = puny_decode(p + 4, l - 4, cp, LABEL_CPS_MAX);
		if (k >= 0) {
			if (!result)
				result = 1;
			unsigned mask = 0;
			int confusable = 1, letters = 0;
			for (int j = 0; j < k; j++) {
				enum script s = script_of(cp[j]);
				cp_to_utf8(uni, cp[j]);
				if (s == SC_COMMON)
					continue;
				letters++;
				mask |= 1u << s;
				if (s != SC_CYRILLIC || !cyrillic_latin_lookalike(cp[j]))
					confusable = 0;
			}
			unsigned cjk1 = 1u << SC_LATIN | 1u << SC_HAN | 1u << SC_HIRAGANA | 1u << SC_KATAKANA;
			unsigned cjk2 = 1u << SC_LATIN | 1u << SC_HAN | 1u << SC_HANGUL;
			unsigned cjk3 = 1u << SC_LATIN | 1u << SC_HAN | 1u << SC_BOPOMOFO;
			int nscripts = popcount(mask);
			if (nscripts > 1 && (mask & ~cjk1) && (mask & ~cjk2) && (mask & ~cjk3)) {
				if (result < 2) {
					sbuf_adds(why, "mixes the scripts ");
					int left = nscripts;
					for (int s = SC_LATIN; s <= SC_OTHER; s++)
						if (mask & (1u << s)) {
							sbuf_adds(why, script_names[s]);
							left--;
							sbuf_adds(why, left > 1 ? ", " : left == 1 ? " and " : "");
						}
					sbuf_adds(why, " in one label");
				}
				result = 2;
			} else if (confusable && letters && tld_ascii && dot) {
				if (result < 2)
					sbuf_adds(why, "has a label written only with Cyrillic letters that look Latin "
						       "(a whole-script confusable) under a Latin top-level domain");
				result = 2;
			}
		} else {
			sbuf_add(uni, p, l);
		}
		if (!dot)
			break;
		sbuf_addc(uni, '.');
		p = dot + 1;
	}
	return result;
}

/* Optimal string alignment distance (insert, delete, substitute, swap two
 * neighbours), capped at limit + 1. Only the band |i - j| <= limit is
 * computed: a cell outside it is worth more than limit anyway. */
unsigned verdict_edit_distance(const char *a, const char *b, unsigned limit)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > EDIT_LEN_MAX || m > EDIT_LEN_MAX || (n > m ? n - m : m - n) > limit)
		return limit + 1; /* each edit changes the length by at most one */
	const unsigned big = limit + 1;
	unsigned d[EDIT_LEN_MAX + 2][EDIT_LEN_MAX + 2];
	for (size_t j = 0; j <= m && j <= limit; j++)
		d[0][j] = (unsigned)j;
	if (limit + 1 <= m)
		d[0][limit + 1] = big;
	for (size_t i = 1; i <= n; i++) {
		size_t lo = i > limit ? i - limit : 1, hi = i + limit < m ? i + limit : m;
		d[i][lo - 1] = lo == 1 ? (unsigned)i : big;
		if (hi + 1 <= m)
			d[i][hi + 1] = big;
		for (size_t j = lo; j <= hi; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1; /* transposition */
			d[i][j] = v < big ? v : big;
		}
	}
	return d[n][m] > limit ? limit + 1 : d[n][m];
}

static void rule_lookalike(struct ctx *c)
{
	const struct verdict_input *in = c->in;
	const struct imf_headers *h = c->h;
	/* on the stack (33 KiB): a heap block this size per message made malloc
	 * consolidate its fast bins every time */
	struct dom peers[LOOKALIKE_PEERS_MAX]; /* np entries used */
	size_t np = 0, nsubj = 0;
	unsigned emitted = 0, npairs = 0;
	const char *pairs[LOOKALIKE_FINDINGS_MAX][2]; /* Organizational Domain pairs reported */

	/* subjects first (MAIL FROM, From:), then everything they are compared with */
	const char *mf = (in->mail_from && in->mail_from[0]) ? addr_domain(in->mail_from) : NULL;
	struct { const char *d; const char *role; } src[LOOKALIKE_PEERS_MAX];
	size_t ns = 0;
	if (mf)
		src[ns].d = mf, src[ns++].role = "MAIL FROM";
	for (size_t i = 0; h && i < h->from.n && ns < 6; i++)
		src[ns].d = addr_domain(h->from.v[i].address), src[ns++].role = "From:";
	size_t subjects_src = ns;
	for (size_t i = 0; h && i < h->reply_to.n && ns < 12; i++)
		src[ns].d = addr_domain(h->reply_to.v[i].address), src[ns++].role = "Reply-To:";
	for (size_t i = 0; h && i < h->sender.n && ns < 14; i++)
		src[ns].d = addr_domain(h->sender.v[i].address), src[ns++].role = "Sender:";
	if (in->helo && in->helo[0] != '[')
		src[ns].d = in->helo, src[ns++].role = "HELO";
	for (size_t i = 0; in->rcpt_to && i < in->n_rcpt && ns < LOOKALIKE_PEERS_MAX; i++)
		src[ns].d = addr_domain(in->rcpt_to[i]), src[ns++].role = "RCPT TO";

	for (size_t i = 0; i < ns; i++) {
		if (!src[i].d)
			continue;
		/* the same text (ASCII case aside) gives the same A-label: the
		 * first role keeps it, as the check on peers below would */
		size_t j;
		for (j = 0; j < i; j++)
			if (src[j].d && ascii_casecmp(src[j].d, src[i].d) == 0)
				break;
		if (j < i)
			continue;
		struct dom d;
		if (dom_make(&d, src[i].d, src[i].role) < 0)
			continue;
		unsigned char a4[16];
		if (d.a[strspn(d.a, "0123456789.")] == '\0' && inet_pton(AF_INET, d.a, a4) == 1)
			continue;
		size_t k;
		for (k = 0; k < np; k++)
			if (strcmp(peers[k].a, d.a) == 0)
				break;
		if (k < np)
			continue; /* already listed under an earlier role */
		peers[np++] = d;
		if (i < subjects_src)
			nsubj = np;
	}

	/* scripts: punycode, mixed scripts, whole-script confusables */
	for (size_t i = 0; i < nsubj && emitted < LOOKALIKE_FINDINGS_MAX; i++) {
		struct sbuf uni = SBUF_INIT, why = SBUF_INIT;
		int r = domain_script_check(&peers[i], &uni, &why);
		if (r == 2) {
			emit(c, "lookalike_domain", "high",
			     detail_make("%s domain %s (shown as %s) %s, a common way to imitate another domain.",
					 peers[i].role, peers[i].a, sbuf_str(&uni), sbuf_str(&why)));
			emitted++;
		} else if (r == 1) {
			emit(c, "lookalike_domain", "low",
			     detail_make("%s domain %s is internationalized (punycode, shown as %s); legitimate for IDN "
					 "domains, but check it is the domain the reader expects.",
					 peers[i].role, peers[i].a, sbuf_str(&uni)));
			emitted++;
		}
		sbuf_free(&uni);
		sbuf_free(&why);
	}
	/* edit distance between Organizational Domains */
	for (size_t i = 0; i < nsubj && emitted < LOOKALIKE_FINDINGS_MAX; i++) {
		for (size_t j = 0; j < np && emitted < LOOKALIKE_FINDINGS_MAX; j++) {
			if (j == i || (j < nsubj && j < i))
				continue; /* each pair of subjects once */
			const char *x = peers[i].org, *y = peers[j].org;
			size_t lx = strcspn(x, "."), ly = strcspn(y, ".");
			bool same_label = lx == ly && memcmp(x, y, lx) == 0;
			if (strcmp(x, y) == 0 ||
			    (same_label ? lx < LOOKALIKE_SAME_LABEL_MIN : lx < LOOKALIKE_LABEL_MIN || ly < LOOKALIKE_LABEL_MIN))
				continue;
			unsigned dist = verdict_edit_distance(x, y, 2);
			if (dist < 1 || dist > 2)
				continue;
			int dup = 0; /* the same two organizations under other roles */
			for (unsigned e = 0; e < npairs && !dup; e++)
				dup = (!strcmp(pairs[e][0], x) && !strcmp(pairs[e][1], y)) ||
				      (!strcmp(pairs[e][0], y) && !strcmp(pairs[e][1], x));
			if (dup)
				continue;
			pairs[npairs][0] = x;
			pairs[npairs][1] = y;
			npairs++;
			if (same_label) {
				/* same registrable label, other public suffix: a company's
				 * country domains, or a registration under another TLD */
				char label[DOMAIN_MAX];
				memcpy(label, x, lx);
				label[lx] = '\0';
				emit(c, "lookalike_domain", "low",
				     detail_make("%s domain %s and %s domain %s share the name %s under different public "
						 "suffixes; often one company's country domains, sometimes a look-alike registration.",
						 peers[i].role, peers[i].a, peers[j].role, peers[j].a, label));
				emitted++;
				continue;
			}
			emit(c, "lookalike_domain", "medium",
			     detail_make("%s domain %s is within edit distance %u of %s domain %s (Organizational Domains %s "
					 "and %s), the pattern of a look-alike registration.",
					 peers[i].role, peers[i].a, dist, peers[j].role, peers[j].a, x, y));
			emitted++;
		}
	}
}

size_t verdict_run(const struct verdict_input *in, struct finding *out, size_t max)
{
	struct ctx c = { in, in ? in->headers : NULL, out, max, 0 };
	if (!in || !out || !max)
		return 0;
	rule_smuggling(&c);
	rule_cleartext_auth(&c);
	rule_starttls(&c);
	rule_helo(&c);
	rule_from_count(&c);
	rule_from_mismatch(&c);
	rule_display_name(&c);
	rule_auth(&c);
	rule_reply_to(&c);
	rule_lookalike(&c);
	return c.n;
}
