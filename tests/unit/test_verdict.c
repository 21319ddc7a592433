/* Unit tests for verdict (src/verdict.c): Organizational Domains across
 * public suffixes and IDN forms, alignment tables, and for every finding a
 * case that fires and a near miss that must not (docs/findings.md). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "imf.h"
#include "verdict.h"

/* --------------------------------------------------------------- helpers */

struct run {
	struct finding f[VERDICT_MAX_FINDINGS];
	size_t n;
	struct imf_parser *p;
};

/* Parse msg (may be NULL) and run the verdict with the envelope in env. */
static void run_verdict(struct run *r, struct verdict_input *in, const char *msg)
{
	r->p = NULL;
	if (msg) {
		r->p = imf_parser_new();
		imf_push(r->p, (const uint8_t *)msg, strlen(msg));
		imf_finish(r->p);
		in->headers = imf_headers(r->p);
	}
	r->n = verdict_run(in, r->f, VERDICT_MAX_FINDINGS);
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		finding_free(&r->f[i]);
	imf_parser_free(r->p);
}

static const struct finding *find(const struct run *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->f[i].id, id) == 0)
			return &r->f[i];
	return NULL;
}

static size_t count(const struct run *r, const char *id)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++)
		k += strcmp(r->f[i].id, id) == 0;
	return k;
}

static void dump(const struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		fprintf(stderr, "   [%s/%s] %s\n", r->f[i].id, r->f[i].severity, r->f[i].detail);
}

/* Expect finding id with severity sev (NULL = must be absent). */
#define EXPECT(r, id, sev) do { \
	const struct finding *f_ = find((r), (id)); \
	if ((sev) == NULL) { CHECK(f_ == NULL); if (f_) dump(r); } \
	else { CHECK(f_ != NULL); if (f_) CHECK_STR(f_->severity, (const char *)(sev)); else dump(r); } \
} while (0)
#define NONE ((const char *)NULL)

/* --------------------------------------------------------------- Organizational Domains */

/* The banded distance against the textbook full table (optimal string
 * alignment), capped the same way, on many random short strings. */
static unsigned osa_full(const char *a, const char *b, unsigned limit)
{
	size_t n = strlen(a), m = strlen(b);
	unsigned d[16][16];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			unsigned v = d[i - 1][j] + 1, c = a[i - 1] != b[j - 1];
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + c < v)
				v = d[i - 1][j - 1] + c;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m] > limit ? limit + 1 : d[n][m];
}

static void test_edit_distance_band(void)
{
	uint32_t x = 12345;
	unsigned bad = 0;
	for (int k = 0; k < 20000; k++) {
		char a[16], b[16];
		size_t n, m;
		x = x * 1103515245u + 12345u;
		n = (x >> 16) % 12;
		x = x * 1103515245u + 12345u;
		m = (x >> 16) % 12;
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			a[i] = (char)('a' + (x >> 16) % 3);
		}
		for (size_t i = 0; i < m; i++) {
			x = x * 1103515245u + 12345u;
			b[i] = (char)('a' + (x >> 16) % 3);
		}
		a[n] = b[m] = '\0';
		unsigned limit = (unsigned)(k % 4);
		if (verdict_edit_distance(a, b, limit) != osa_full(a, b, limit))
			bad++;
	}
	CHECK(bad == 0);
}

static void test_org_domain(void)
{
	static const struct { const char *in, *alabel, *org; } t[] = {
		{ "example.com", "example.com", "example.com" },
		{ "Mail.EXAMPLE.com.", "mail.example.com", "example.com" },
		{ "a.b.example.co.uk", "a.b.example.co.uk", "example.co.uk" },
		{ "co.uk", "co.uk", "co.uk" },
		{ "shop.example.com.au", "shop.example.com.au", "example.com.au" },
		{ "foo.github.io", "foo.github.io", "foo.github.io" },
		{ "x.foo.github.io", "x.foo.github.io", "foo.github.io" },
		{ "github.io", "github.io", "github.io" },
		{ "localhost", "localhost", "localhost" },
		{ "www.пример.рф", "www.xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai" },
		{ "WWW.ПРИМЕР.РФ", "www.xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai" },
		{ "mail.xn--e1afmkfd.xn--p1ai", "mail.xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai" },
		{ "bücher.de", "xn--bcher-kva.de", "xn--bcher-kva.de" },
		{ "mx.münchen.de", "mx.xn--mnchen-3ya.de", "xn--mnchen-3ya.de" },
		{ "例え.jp", "xn--r8jz45g.jp", "xn--r8jz45g.jp" },
		{ "παράδειγμα.gr", "xn--hxajbheg2az3al.gr", "xn--hxajbheg2az3al.gr" },
		{ "[192.0.2.1]", "[192.0.2.1]", "[192.0.2.1]" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char a[256], o[256];
		const char *ra = verdict_domain_alabel(t[i].in, a, sizeof a);
		const char *ro = verdict_org_domain(t[i].in, o, sizeof o);
		CHECK_STR(ra, t[i].alabel);
		CHECK_STR(ro, t[i].org);
	}
	char b[256];
	CHECK(verdict_org_domain("", b, sizeof b) == NULL);
	CHECK(verdict_org_domain(NULL, b, sizeof b) == NULL);
	CHECK(verdict_org_domain("bad\xff.com", b, sizeof b) == NULL);
	CHECK(verdict_org_domain("example.com", b, 4) == NULL);

	/* libpsl's lowercase is NFKC after lowercasing, which can bring capitals
	 * back (fuzz_verdict found "x\u33dfx": U+33DF is "A" U+2215 "m"); the A-label
	 * is lowercase and the same as the lowercase spelling's */
	static const char *const same[][2] = {
		{ "x\u33dfx.co", "xa\u2215mx.co" },       /* SQUARE A OVER M */
		{ "\u03d2x.com", "\u03c5x.com" },         /* GREEK UPSILON WITH HOOK SYMBOL -> U+03A5 -> U+03C5 */
		{ "\u2124\u00fcrich.ch", "z\u00fcrich.ch" }, /* DOUBLE-STRUCK CAPITAL Z -> "Z" */
		{ "\U0001d40f\u00e4y.com", "p\u00e4y.com" },  /* MATHEMATICAL BOLD CAPITAL P */
	};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		char x[256], y[256];
		const char *rx = verdict_domain_alabel(same[i][0], x, sizeof x);
		const char *ry = verdict_domain_alabel(same[i][1], y, sizeof y);
		CHECK(rx != NULL && ry != NULL);
		if (rx && ry) {
			CHECK_STR(rx, ry);
			for (const char *p = rx; *p; p++)
				CHECK(!(*p >= 'A' && *p <= 'Z'));
		}
	}

	CHECK(verdict_edit_distance("example.com", "example.com", 2) == 0);
	CHECK(verdict_edit_distance("example.com", "examp1e.com", 2) == 1);
	CHECK(verdict_edit_distance("example.com", "exmaple.com", 2) == 1); /* transposition */
	CHECK(verdict_edit_distance("example.com", "exampel.co", 2) == 2);
	CHECK(verdict_edit_distance("example.com", "other.org", 2) == 3);
	test_edit_distance_band();
}

/* --------------------------------------------------------------- alignment tables */

static void test_alignment(void)
{
	static const struct {
		const char *mail_from, *from;
		bool strict;
		const char *sev; /* NULL: aligned */
	} t[] = {
		{ "bounce@bounce.example.com", "user@example.com", false, NULL },
		{ "bounce@bounce.example.com", "user@example.com", true, "low" },
		{ "user@example.com", "user@example.com", true, NULL },
		{ "a@EXAMPLE.COM", "b@example.com", true, NULL },
		{ "a@example.co.uk", "b@other.co.uk", false, "high" },
		{ "a@mail.example.co.uk", "b@example.co.uk", false, NULL },
		{ "a@example.co.uk", "b@example.uk", false, "high" },
		{ "a@alice.github.io", "b@bob.github.io", false, "high" },
		{ "a@x.alice.github.io", "b@alice.github.io", false, NULL },
		{ "a@shop.example.com.au", "b@example.com.au", false, NULL },
		{ "a@example.com.au", "b@example.net.au", false, "high" },
		{ "a@пример.рф", "b@mail.xn--e1afmkfd.xn--p1ai", false, NULL },
		{ "a@mail.xn--e1afmkfd.xn--p1ai", "b@ПРИМЕР.рф", false, NULL },
		{ "a@пример.рф", "b@другой.рф", false, "high" },
		{ "a@bücher.de", "b@xn--bcher-kva.de", true, NULL },
		{ "a@dhl.com", "b@dhl-delivery.com", false, "high" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char msg[256];
		snprintf(msg, sizeof msg, "From: %s\r\nSubject: t\r\n\r\n", t[i].from);
		struct verdict_input in = { 0 };
		in.mail_from = t[i].mail_from;
		in.helo = "mail.example.org";
		in.strict_alignment = t[i].strict;
		struct run r;
		run_verdict(&r, &in, msg);
		const struct finding *f = find(&r, "from_mismatch");
		if (t[i].sev == NULL) {
			CHECK(f == NULL);
			if (f)
				fprintf(stderr, "   row %zu: %s\n", i, f->detail);
		} else {
			CHECK(f != NULL);
			if (f) {
				CHECK_STR(f->severity, t[i].sev);
				CHECK(strstr(f->detail, "From: domain") != NULL);
			} else {
				fprintf(stderr, "   row %zu fired nothing\n", i);
			}
		}
		run_free(&r);
	}
}

/* --------------------------------------------------------------- from_mismatch context */

static void test_from_mismatch_context(void)
{
	struct verdict_input in = { 0 };
	struct run r;

	/* no DKIM at all: high, and the detail names both domains */
	in.mail_from = "x@bulk-mailer.test";
	in.helo = "mx.bulk-mailer.test";
	run_verdict(&r, &in, "From: DHL <noreply@dhl.com>\r\n\r\n");
	EXPECT(&r, "from_mismatch", "high");
	const struct finding *f = find(&r, "from_mismatch");
	CHECK(f && strstr(f->detail, "bulk-mailer.test") && strstr(f->detail, "dhl.com") &&
	      strstr(f->detail, "no DKIM-Signature"));
	run_free(&r);

	/* DKIM d= aligned with From: (mailing list that kept the author's signature): low, not certain */
	run_verdict(&r, &in, "DKIM-Signature: v=1; d=mail.dhl.com; s=s; b=x\r\n"
			     "From: noreply@dhl.com\r\n\r\n");
	EXPECT(&r, "from_mismatch", "low");
	f = find(&r, "from_mismatch");
	CHECK(f && strstr(f->detail, "d=mail.dhl.com") && strstr(f->detail, "may be legitimate"));
	run_free(&r);

	/* DKIM only of the envelope domain (a list re-signing): medium */
	in.mail_from = "list-bounces@lists.example.org";
	run_verdict(&r, &in, "DKIM-Signature: v=1; d=example.org; s=s; b=x\r\n"
			     "From: author@elsewhere.example\r\n\r\n");
	EXPECT(&r, "from_mismatch", "medium");
	f = find(&r, "from_mismatch");
	CHECK(f && strstr(f->detail, "may be legitimate"));
	run_free(&r);

	/* List-Id without DKIM: medium */
	run_verdict(&r, &in, "List-Id: <dev.lists.example.org>\r\nFrom: author@elsewhere.example\r\n\r\n");
	EXPECT(&r, "from_mismatch", "medium");
	run_free(&r);

	/* null sender: HELO stands in */
	in.mail_from = "";
	in.helo = "mx1.example.net";
	run_verdict(&r, &in, "From: MAILER-DAEMON@example.net\r\n\r\n");
	EXPECT(&r, "from_mismatch", NONE);
	run_free(&r);
	run_verdict(&r, &in, "From: postmaster@other.example\r\n\r\n");
	EXPECT(&r, "from_mismatch", "medium");
	f = find(&r, "from_mismatch");
	CHECK(f && strstr(f->detail, "null sender") && strstr(f->detail, "mx1.example.net"));
	run_free(&r);
	in.helo = "[192.0.2.1]"; /* nothing to compare with */
	run_verdict(&r, &in, "From: postmaster@other.example\r\n\r\n");
	EXPECT(&r, "from_mismatch", NONE);
	run_free(&r);

	/* no MAIL, or no message: nothing */
	in.mail_from = NULL;
	run_verdict(&r, &in, "From: a@b.example\r\n\r\n");
	EXPECT(&r, "from_mismatch", NONE);
	run_free(&r);
	in.mail_from = "a@x.example";
	in.headers = NULL;
	run_verdict(&r, &in, NULL);
	CHECK(r.n == 0);
	run_free(&r);
}

/* --------------------------------------------------------------- the other findings */

static void test_display_name(void)
{
	struct verdict_input in = { 0 };
	struct run r;
	in.mail_from = "a@attacker.test";
	run_verdict(&r, &in, "From: \"ceo@bank.example\" <a@attacker.test>\r\n\r\n");
	EXPECT(&r, "display_name_spoof", "high");
	run_free(&r);
	/* unquoted, with the full-width at sign */
	run_verdict(&r, &in, "From: =?utf-8?B?cGF5cGFs77ygcGF5cGFsLmNvbQ==?= <a@attacker.test>\r\n\r\n");
	EXPECT(&r, "display_name_spoof", "high");
	run_free(&r);
	/* same organisation, other mailbox: low */
	in.mail_from = "j.smith@example.com";
	run_verdict(&r, &in, "From: \"john@example.com\" <j.smith@example.com>\r\n\r\n");
	EXPECT(&r, "display_name_spoof", "low");
	run_free(&r);
	/* near misses: the name holds the real address (any case), or no address */
	run_verdict(&r, &in, "From: \"J.Smith@Example.com\" <j.smith@example.com>\r\n\r\n");
	EXPECT(&r, "display_name_spoof", NONE);
	run_free(&r);
	run_verdict(&r, &in, "From: \"Smith @ Example Corp\" <j.smith@example.com>\r\n\r\n");
	EXPECT(&r, "display_name_spoof", NONE);
	run_free(&r);
}

static void test_auth(void)
{
	struct verdict_input in = { 0 };
	struct run r;
	in.auth_user = "alice@example.com";
	in.mail_from = "ceo@other.example";
	run_verdict(&r, &in, "From: ceo@other.example\r\n\r\n");
	EXPECT(&r, "auth_sender_mismatch", "high");
	run_free(&r);
	in.mail_from = "alice@example.com";
	run_verdict(&r, &in, "From: Boss <boss@example.com>\r\n\r\n");
	EXPECT(&r, "auth_sender_mismatch", "low");
	run_free(&r);
	run_verdict(&r, &in, "From: Alice <ALICE@example.com>\r\n\r\n");
	EXPECT(&r, "auth_sender_mismatch", NONE);
	run_free(&r);
	/* username without a domain */
	in.auth_user = "bob";
	run_verdict(&r, &in, "From: Alice <alice@example.com>\r\n\r\n");
	EXPECT(&r, "auth_sender_mismatch", "info");
	const struct finding *f = find(&r, "auth_sender_mismatch");
	CHECK(f && strstr(f->detail, "no domain"));
	run_free(&r);
	in.auth_user = "CORP\\alice";
	run_verdict(&r, &in, "From: Alice <alice@example.com>\r\n\r\n");
	EXPECT(&r, "auth_sender_mismatch", NONE);
	run_free(&r);
	in.auth_user = NULL;
	run_verdict(&r, &in, "From: x@y.example\r\n\r\n");
	EXPECT(&r, "auth_sender_mismatch", NONE);
	run_free(&r);
}

static void test_reply_to_and_from_count(void)
{
	struct verdict_input in = { 0 };
	struct run r;
	in.mail_from = "a@example.com";
	run_verdict(&r, &in, "From: a@example.com\r\nReply-To: pay@collect.test\r\n\r\n");
	EXPECT(&r, "reply_to_mismatch", "medium");
	run_free(&r);
	run_verdict(&r, &in, "From: a@example.com\r\nReply-To: help@support.example.com\r\n\r\n");
	EXPECT(&r, "reply_to_mismatch", NONE);
	run_free(&r);
	run_verdict(&r, &in, "From: a@example.com\r\nList-Id: <l.lists.test>\r\nReply-To: l@lists.test\r\n\r\n");
	EXPECT(&r, "reply_to_mismatch", "low");
	run_free(&r);

	run_verdict(&r, &in, "Subject: none\r\n\r\nbody\r\n");
	EXPECT(&r, "missing_from", "medium");
	run_free(&r);
	run_verdict(&r, &in, "From: undisclosed:;\r\n\r\n");
	EXPECT(&r, "missing_from", "medium");
	run_free(&r);
	run_verdict(&r, &in, "From: a@example.com\r\n\r\n");
	EXPECT(&r, "missing_from", NONE);
	EXPECT(&r, "multiple_from", NONE);
	run_free(&r);
	run_verdict(&r, &in, "From: a@example.com\r\nFrom: ceo@example.com\r\n\r\n");
	EXPECT(&r, "multiple_from", "high");
	run_free(&r);
	run_verdict(&r, &in, "From: a@example.com, b@example.com\r\n\r\n");
	EXPECT(&r, "multiple_from", "medium");
	run_free(&r);
	run_verdict(&r, &in, "From: a@example.com, b@example.com\r\nSender: a@example.com\r\n\r\n");
	EXPECT(&r, "multiple_from", "info");
	run_free(&r);
}

static void test_lookalike(void)
{
	struct verdict_input in = { 0 };
	struct run r;
	const char *rcpt[] = { "cfo@example.com" };
	in.rcpt_to = rcpt;
	in.n_rcpt = 1;
	in.mail_from = "ceo@examp1e.com";
	run_verdict(&r, &in, "From: ceo@examp1e.com\r\n\r\n");
	EXPECT(&r, "lookalike_domain", "medium");
	CHECK(count(&r, "lookalike_domain") == 1);
	const struct finding *f = find(&r, "lookalike_domain");
	CHECK(f && strstr(f->detail, "examp1e.com") && strstr(f->detail, "RCPT TO"));
	run_free(&r);
	/* near misses: same org domain, unrelated domains, short names */
	in.mail_from = "ceo@mail.example.com";
	run_verdict(&r, &in, "From: ceo@example.com\r\n\r\n");
	EXPECT(&r, "lookalike_domain", NONE);
	run_free(&r);
	in.mail_from = "ceo@unrelated.org";
	run_verdict(&r, &in, "From: ceo@unrelated.org\r\n\r\n");
	EXPECT(&r, "lookalike_domain", NONE);
	run_free(&r);
	rcpt[0] = "x@ab.io";
	in.mail_from = "y@ac.io";
	run_verdict(&r, &in, "From: y@ac.io\r\n\r\n");
	EXPECT(&r, "lookalike_domain", NONE);
	run_free(&r);

	/* same name, other public suffix: low */
	rcpt[0] = "x@example.com";
	in.mail_from = "y@example.co";
	run_verdict(&r, &in, "From: y@example.co\r\n\n");
	EXPECT(&r, "lookalike_domain", "low");
	f = find(&r, "lookalike_domain");
	CHECK(f && strstr(f->detail, "different public suffixes"));
	run_free(&r);

	/* mixed scripts: Cyrillic "раура" + Latin "l" */
	rcpt[0] = "x@corp.test";
	in.mail_from = "a@xn--l-7sba6dbr.com";
	run_verdict(&r, &in, "From: a@раураl.com\r\n\r\n");
	EXPECT(&r, "lookalike_domain", "high");
	f = find(&r, "lookalike_domain");
	CHECK(f && strstr(f->detail, "Cyrillic") && strstr(f->detail, "Latin"));
	run_free(&r);
	/* whole-script Cyrillic confusable under .com */
	in.mail_from = "a@аррle.com";
	run_verdict(&r, &in, "From: a@аррle.com\r\n\r\n");
	EXPECT(&r, "lookalike_domain", "high");
	run_free(&r);
	in.mail_from = "a@соореr.com"; /* all-Cyrillic look-alike letters */
	run_verdict(&r, &in, "From: a@соореr.com\r\n\r\n");
	EXPECT(&r, "lookalike_domain", "high");
	run_free(&r);
	/* a genuine IDN: low (punycode only); Japanese mixing Han and kana is fine */
	in.mail_from = "a@пример.рф";
	run_verdict(&r, &in, "From: a@пример.рф\r\n\r\n");
	EXPECT(&r, "lookalike_domain", "low");
	run_free(&r);
	in.mail_from = "a@ドメイン名例.jp";
	run_verdict(&r, &in, "From: a@ドメイン名例.jp\r\n\r\n");
	EXPECT(&r, "lookalike_domain", "low");
	run_free(&r);
	in.mail_from = "a@plain.example";
	run_verdict(&r, &in, "From: a@plain.example\r\n\r\n");
	EXPECT(&r, "lookalike_domain", NONE);
	run_free(&r);
}

static void test_transport(void)
{
	struct verdict_input in = { 0 };
	struct run r;
	in.auth_cleartext = true;
	in.auth_user = "alice";
	in.starttls_offered = true;
	run_verdict(&r, &in, NULL);
	EXPECT(&r, "cleartext_auth", "high");
	EXPECT(&r, "starttls_not_used", "medium");
	run_free(&r);
	in.auth_cleartext = false;
	in.starttls_used = true;
	in.tls = true;
	run_verdict(&r, &in, NULL);
	EXPECT(&r, "cleartext_auth", NONE);
	EXPECT(&r, "starttls_not_used", NONE);
	run_free(&r);
	in.starttls_offered = false;
	in.starttls_used = false;
	in.tls = false;
	run_verdict(&r, &in, NULL); /* never offered: not a finding */
	EXPECT(&r, "starttls_not_used", NONE);
	run_free(&r);

	in.smuggling_bare_lf = true;
	in.smuggling_bad_eod = true;
	run_verdict(&r, &in, NULL);
	EXPECT(&r, "smtp_smuggling", "high");
	const struct finding *f = find(&r, "smtp_smuggling");
	CHECK(f && strstr(f->detail, "bare LF") && strstr(f->detail, "end-of-data"));
	run_free(&r);
	in.smuggling_bare_lf = in.smuggling_bad_eod = false;
	run_verdict(&r, &in, NULL);
	EXPECT(&r, "smtp_smuggling", NONE);
	run_free(&r);
}

static void test_helo(void)
{
	static const struct { const char *helo, *sev; } t[] = {
		{ "mail.example.com", NULL },
		{ "[192.0.2.1]", NULL },
		{ "[IPv6:2001:db8::1]", NULL },
		{ "xn--e1afmkfd.xn--p1ai", NULL },
		{ "192.0.2.1", "medium" },
		{ "2001:db8::1", "medium" },
		{ "[192.0.2.999]", "medium" },
		{ "localhost", "low" },
		{ "LOCALHOST.localdomain", "low" },
		{ "WIN-7ABC123", "low" },
		{ "173-66-46-112.wash.fios.verizon.net", "low" },
		{ "ip-10-0-12-7.ec2.internal", "low" },
		{ "mail-pf1-x42f.google.com", NULL },
		{ "mx-2024-01-15.example.com", NULL },
		{ "a1-2-3-4567.example.com", NULL },
		{ "bad_name.example.com", "medium" },
		{ "a..b.example", "medium" },
		{ "", "medium" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct verdict_input in = { 0 };
		struct run r;
		in.helo = t[i].helo;
		run_verdict(&r, &in, NULL);
		EXPECT(&r, "helo_suspicious", t[i].sev);
		run_free(&r);
	}
}

static void test_bounds(void)
{
	/* max is honoured, and a hostile everything-input never overflows */
	struct verdict_input in = { 0 };
	struct finding f[2];
	in.auth_cleartext = in.starttls_offered = in.smuggling_bare_cr = true;
	in.helo = "1.2.3.4";
	CHECK(verdict_run(&in, f, 2) == 2);
	finding_free(&f[0]);
	finding_free(&f[1]);
	CHECK(verdict_run(&in, f, 0) == 0);

	struct run r;
	static char big[40000];
	memset(big, 'x', sizeof big - 1);
	memcpy(big, "From: \"", 7);
	memcpy(big + 20000, "@evil.example\" <a@b.example>\r\n\r\n", 33);
	const char *rcpt[300];
	for (int i = 0; i < 300; i++)
		rcpt[i] = i % 2 ? "r@examp1e.com" : "\xff@\x1b[2J";
	in.rcpt_to = rcpt;
	in.n_rcpt = 300;
	in.mail_from = "a@example.com";
	in.auth_user = "\x1b]0;evil\x07";
	run_verdict(&r, &in, big);
	CHECK(r.n <= VERDICT_MAX_FINDINGS);
	for (size_t i = 0; i < r.n; i++)
		CHECK(strlen(r.f[i].detail) < 2000);
	run_free(&r);
}

int main(void)
{
	test_org_domain();
	test_alignment();
	test_from_mismatch_context();
	test_display_name();
	test_auth();
	test_reply_to_and_from_count();
	test_lookalike();
	test_transport();
	test_helo();
	test_bounds();
	TEST_MAIN_END();
}
