/* Unit tests for the message header parser (src/imf*.c): RFC 5322 Appendix A
 * address examples, RFC 2047 tables (the Arkime subject captures among them),
 * RFC 2231 attachment names, MIME structure, streaming splits, caps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "esc.h"
#include "imf.h"
#include "out_imf.h"

/* --------------------------------------------------------------- helpers */

/* Feed msg in chunks of step bytes (0 = all at once) and finish. */
static struct imf_parser *parse_msg(const char *msg, size_t len, size_t step)
{
	struct imf_parser *p = imf_parser_new();
	if (!step)
		step = len ? len : 1;
	for (size_t i = 0; i < len; i += step)
		imf_push(p, (const uint8_t *)msg + i, len - i < step ? len - i : step);
	imf_finish(p);
	return p;
}

static char *json_of(const struct imf_headers *h)
{
	struct sbuf s = SBUF_INIT;
	out_imf_headers_json(&s, h);
	char *r = xstrndup(sbuf_str(&s), s.len);
	sbuf_free(&s);
	return r;
}

/* Render an address list as "name|address;name|address" ("-" for no name). */
static char *list_str(const struct imf_addr_list *l)
{
	struct sbuf s = SBUF_INIT;
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			sbuf_addc(&s, ';');
		sbuf_adds(&s, l->v[i].name ? l->v[i].name : "-");
		sbuf_addc(&s, '|');
		sbuf_adds(&s, l->v[i].address);
	}
	char *r = xstrndup(sbuf_str(&s), s.len);
	sbuf_free(&s);
	return r;
}

static char *addrs_of(const char *field)
{
	struct imf_addr_list l = { 0 };
	imf_parse_addresses(&l, field, strlen(field));
	char *r = list_str(&l);
	imf_addr_list_free(&l);
	return r;
}

#define CHECK_LIST(list, want) do { char *g__ = list_str(list); CHECK_STR(g__, want); free(g__); } while (0)
#define CHECK_ADDRS(field, want) do { char *g__ = addrs_of(field); CHECK_STR(g__, want); free(g__); } while (0)

/* --------------------------------------------------------------- RFC 5322 Appendix A */

static void test_appendix_a(void)
{
	/* A.1.1 */
	CHECK_ADDRS("John Doe <jdoe@machine.example>", "John Doe|jdoe@machine.example");
	CHECK_ADDRS("Michael Jones <mjones@machine.example>", "Michael Jones|mjones@machine.example");
	/* A.1.2 */
	CHECK_ADDRS("\"Joe Q. Public\" <john.q.public@example.com>", "Joe Q. Public|john.q.public@example.com");
	CHECK_ADDRS("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
		    "Mary Smith|mary@x.test;-|jdoe@example.org;Who?|one@y.test");
	CHECK_ADDRS("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
		    "-|boss@nil.test;Giant; \"Big\" Box|sysservices@example.net");
	/* A.1.3 groups */
	CHECK_ADDRS("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
		    "Ed Jones|c@a.test;-|joe@where.test;John|jdoe@one.test");
	CHECK_ADDRS("Undisclosed recipients:;", "");
	/* A.5 white space, comments and other oddities */
	CHECK_ADDRS("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", "Pete|pete@silly.test");
	CHECK_ADDRS("A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
		    "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
		    "Chris Jones|c@public.example;-|joe@example.org;John|jdoe@one.test");
	CHECK_ADDRS("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;", "");
	/* A.6.1 obsolete addressing */
	CHECK_ADDRS("Joe Q. Public <john.q.public@example.com>", "Joe Q. Public|john.q.public@example.com");
	CHECK_ADDRS("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
		    "Mary Smith|mary@example.net;-|jdoe@test.example");
	CHECK_ADDRS("<@a.test,@b.test:x@c.test>", "-|x@c.test");
	/* A.6.3 obsolete white space and comments */
	CHECK_ADDRS("John Doe <jdoe@machine(comment).  example>", "John Doe|jdoe@machine.example");
	CHECK_ADDRS("Mary Smith\r\n  \r\n          <mary@example.net>", "Mary Smith|mary@example.net");
	/* RFC 822 style trailing comment stands in for the name */
	CHECK_ADDRS("jdoe@example.org (John Doe)", "John Doe|jdoe@example.org");
	/* quoted local part keeps its quotes; domain literal kept */
	CHECK_ADDRS("\"john doe\"@example.com, x@[192.0.2.1]", "-|\"john doe\"@example.com;-|x@[192.0.2.1]");
	/* encoded-word display names, an address in the display name */
	CHECK_ADDRS("=?utf-8?B?SsO2cmc=?= <j@example.de>", "Jörg|j@example.de");
	CHECK_ADDRS("\"ceo@bank.example\" <evil@attacker.test>", "ceo@bank.example|evil@attacker.test");
	CHECK_ADDRS("ceo@bank.example <evil@attacker.test>", "ceo@bank.example|evil@attacker.test");
	/* junk never crashes, still finds what it can */
	CHECK_ADDRS("<<<>>>, ,;;: @@ \"unterminated", "-|@@unterminated");
	CHECK_ADDRS("((((((((", "");
	CHECK_ADDRS("a@b, <c@d", "-|a@b;-|c@d");

	/* the whole Appendix A.1.3 message through the streaming parser, folded */
	static const char msg[] =
		"From: Pete <pete@silly.example>\r\n"
		"To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\n"
		"Cc: Undisclosed recipients:;\r\n"
		"Date: Thu, 13 Feb 1969 23:32:54 -0330\r\n"
		"Message-ID: <testabcd.1234@silly.example>\r\n"
		"\r\n"
		"Testing.\r\n";
	struct imf_parser *p = parse_msg(msg, sizeof msg - 1, 0);
	const struct imf_headers *h = imf_headers(p);
	CHECK_LIST(&h->from, "Pete|pete@silly.example");
	CHECK_LIST(&h->to, "Ed Jones|c@a.test;-|joe@where.test;John|jdoe@one.test");
	CHECK(h->cc.n == 0);
	CHECK_STR(h->date, "Thu, 13 Feb 1969 23:32:54 -0330");
	CHECK_STR(h->message_id, "<testabcd.1234@silly.example>");
	CHECK(h->complete && !h->truncated);
	imf_parser_free(p);

	/* A.6.3: obs-FWS before the colon and a whitespace-only continuation line */
	static const char obs[] =
		"From  : John Doe <jdoe@machine(comment).  example>\r\n"
		"To    : Mary Smith\r\n"
		"  \r\n"
		"          <mary@example.net>\r\n"
		"Subject     : Saying Hello\r\n"
		"\r\n";
	p = parse_msg(obs, sizeof obs - 1, 0);
	h = imf_headers(p);
	CHECK_LIST(&h->from, "John Doe|jdoe@machine.example");
	CHECK_LIST(&h->to, "Mary Smith|mary@example.net");
	CHECK_STR(h->subject, "Saying Hello");
	imf_parser_free(p);
}

/* --------------------------------------------------------------- RFC 2047 */

struct ew_case {
	const char *raw;  /* unfolded header body as on the wire */
	const char *want; /* decoded UTF-8 */
};

static const struct ew_case ew_cases[] = {
	/* arkime/smtp-subject-8859-b.pcap */
	{ "=?iso-8859-1?B?dGVzdCDlIOkg7iD4IPw=?=", "test å é î ø ü" },
	/* arkime/smtp-subject-8859-multi.pcap (folded: CRLF removed by unfolding) */
	{ "4spaces    =?iso-8859-1?B?5SDpIO4g+CA=?= =?iso-8859-1?Q?=FC?=     5spaces",
	  "4spaces    å é î ø ü     5spaces" },
	/* arkime/smtp-subject-8859-q.pcap */
	{ "=?iso-8859-1?Q?=E9_=EE_=F8_=FC____________?= =?iso-8859-1?Q?_________________________________________________________?= =?iso-8859-1?Q?_________________________________________________________?= =?iso-8859-1?Q?_____?= =?iso-8859-1?Q?_?=                                                     test",
	  "é î ø ü                                                                                                                                                                                         test" },
	/* arkime/smtp-subject-encoded-empty.pcap: adjacent words without white space, one empty */
	{ "=?ISO-8859-1?B?Qw==?==?ISO-8859-1?B?YW4=?==?ISO-8859-1?B?IHRoaXMgMTAgU2Vjb25kIFRyaWNrIEhlbA==?==?ISO-8859-1?B?\?==?ISO-8859-1?B?cCBQcmV2ZW50IFlPVVIgSGVhcnQgQQ==?==?ISO-8859-1?B?dHRhY2s/?=",
	  "Can this 10 Second Trick Help Prevent YOUR Heart Attack?" },
	/* arkime/smtp-subject-gb2312-b.pcap */
	{ "=?gb2312?B?dGVzdCCy4srU?=", "test 测试" },
	/* arkime/smtp-subject-utf8-mixed.pcap */
	{ "=?utf-8?B?6L+Z5piv55So56m65qC85rWL6K+VICAg?= =?utf-8?Q?______________________________________________________________?= =?utf-8?Q?_________________________________________________=C3=A5_=C3=A9_?= =?utf-8?B?w64gw7ggw7wgICAgICAgICAgICAgICAgICAg?= =?utf-8?Q?_?=                                                          test",
	  "这是用空格测试                                                                                                                  å é î ø ü                                                                              test" },
	/* arkime/smtp-subject-utf8-q.pcap */
	{ "=?utf-8?q?xxxxxx_xxxxxx_xx_xxxxxxxxx_xx-xxxxxxx=EF=BC=88ANA=EF=BC=89GGL?= =?utf-8?q?=5Fxxxxxxxxxxxxx=5Fxxxxxx=2Ezip?=",
	  "xxxxxx xxxxxx xx xxxxxxxxx xx-xxxxxxx（ANA）GGL_xxxxxxxxxxxxx_xxxxxx.zip" },
	/* arkime/smtp-subject-multi-nospace.pcap. Arkime's baseline keeps the
	 * two spaces between adjacent encoded words ("xxxxxxx  xx"); RFC 2047
	 * §6.2 drops them, as Python's email.header does. We follow the RFC. */
	{ "xxxxxxxxxxxxx:=?UTF-8?Q?=20xxxx=C3=AAxx=20xx=C3=A9xxxxxxx?=  =?UTF-8?Q?xx=20xxx=20xxx=20xxxxxxxxxx?=  =?UTF-8?Q?x=20xx=20xxxxxxxxxxxxxxx=20?==?UTF-8?Q?=2D=20xxxx?=",
	  "xxxxxxxxxxxxx: xxxxêxx xxéxxxxxxxxx xxx xxx xxxxxxxxxxx xx xxxxxxxxxxxxxxx - xxxx" },
	/* arkime/smtp-subject-windows.pcap: raw 8-bit, no charset: bytes kept
	 * (Arkime guesses windows-1252 and shows U+2019; we never guess) */
	{ "Awesome windows: See What\x92s Next in charset decoding!",
	  "Awesome windows: See What\x92s Next in charset decoding!" },
	/* koi8-r and windows-1251 ("Привет") */
	{ "=?koi8-r?B?8NLJ18XU?=", "Привет" },
	{ "=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=", "Привет" },
	{ "=?iso-8859-2?Q?=A3=F3d=BC?=", "Łódź" },
	{ "=?ISO-8859-15?Q?=A4?=", "€" },
	/* RFC 2231 §5 language suffix ignored */
	{ "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
	/* RFC 2047 §8 examples */
	{ "(=?ISO-8859-1?Q?a?=)", "(a)" },
	{ "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },
	/* a UTF-8 character split across two B words */
	{ "=?utf-8?B?w4==?= =?utf-8?B?pA==?=", "ä" },
	/* unknown charset and broken words stay as they were */
	{ "=?x-no-such-charset?Q?abc?= tail", "=?x-no-such-charset?Q?abc?= tail" },
	{ "=?utf-8?X?abc?=", "=?utf-8?X?abc?=" },
	{ "=?utf-8?B?not base64?=", "=?utf-8?B?not base64?=" },
	{ "=?utf-8/IGNORE?Q?x?=", "=?utf-8/IGNORE?Q?x?=" },
	{ "plain text = ? ?=", "plain text = ? ?=" },
	{ "=?", "=?" },
	{ "", "" },
};

static void test_rfc2047(void)
{
	for (size_t i = 0; i < sizeof ew_cases / sizeof ew_cases[0]; i++) {
		struct sbuf out = SBUF_INIT;
		rfc2047_decode(&out, ew_cases[i].raw, strlen(ew_cases[i].raw));
		CHECK_STR(sbuf_str(&out), ew_cases[i].want);
		sbuf_free(&out);
	}
	/* invalid bytes in a known charset become U+FFFD */
	struct sbuf out = SBUF_INIT;
	CHECK(imf_charset_to_utf8(&out, "windows-1251", "a\x98z", 3) == 0);
	CHECK_STR(sbuf_str(&out), "a\xef\xbf\xbdz");
	sbuf_clear(&out);
	CHECK(imf_charset_to_utf8(&out, "no-such", "abc", 3) == -1);
	CHECK(out.len == 0);
	sbuf_free(&out);

	/* the Subject field through the parser, with subject_raw in JSON */
	static const char msg[] =
		"Subject: 4spaces    =?iso-8859-1?B?5SDpIO4g+CA=?= =?iso-8859-1?Q?=FC?=\r\n     5spaces\r\n\r\n";
	struct imf_parser *p = parse_msg(msg, sizeof msg - 1, 0);
	const struct imf_headers *h = imf_headers(p);
	CHECK_STR(h->subject, "4spaces    å é î ø ü     5spaces");
	CHECK_STR(h->subject_raw, "4spaces    =?iso-8859-1?B?5SDpIO4g+CA=?= =?iso-8859-1?Q?=FC?=     5spaces");
	char *j = json_of(h);
	CHECK(strstr(j, "\"subject\":\"4spaces    å é î ø ü     5spaces\"") != NULL);
	CHECK(strstr(j, "\"subject_raw\":\"4spaces    =?iso-8859-1?B?") != NULL);
	free(j);
	imf_parser_free(p);

	/* raw invalid 8-bit subject: kept, JSON escapes it losslessly */
	static const char w[] = "Subject: What\x92s up\r\n\r\n";
	p = parse_msg(w, sizeof w - 1, 0);
	h = imf_headers(p);
	CHECK_STR(h->subject, "What\x92s up");
	j = json_of(h);
	CHECK(strstr(j, "\"subject\":\"What\\udc92s up\"") != NULL);
	CHECK(strstr(j, "subject_raw") == NULL);
	free(j);
	CHECK(anom_has(&h->anoms, ANOM_IMF_8BIT_HEADER));
	CHECK(anom_has(&h->anoms, ANOM_IMF_INVALID_UTF8));
	imf_parser_free(p);
}

/* --------------------------------------------------------------- fields, MIME */

static const char full_msg[] =
	"Return-Path: <bounce+123@bounce.example.com>\r\n"
	"Received: from mx.example.com (mx.example.com [192.0.2.1])\r\n"
	"\tby mail.example.net with ESMTPS id abc\r\n"
	"\tfor <bob@example.net>; Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	"Received: from a by b; Mon, 1 Jan 2024 09:59:59 +0000\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	"\td=Example.COM; s=sel; h=from:to:subject;\r\n"
	"\tbh=abc=; b=def\r\n"
	"DKIM-Signature: v=1; d=esp.example; s=x; b=y\r\n"
	"DKIM-Signature: v=1; d=example.com; s=other; b=y\r\n"
	"From: =?utf-8?Q?Alice_B=C3=A9?= <alice@example.com>\r\n"
	"Sender: list-owner@lists.example.org\r\n"
	"Reply-To: Support <support@help.example.com>\r\n"
	"To: bob@example.net,\r\n"
	" carol@example.net\r\n"
	"Cc: \"Dave\" <dave@example.org>\r\n"
	"Subject: =?utf-8?B?w6l0w6k=?= report\r\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	"Message-ID: <m1@example.com>\r\n"
	"In-Reply-To: <m0@example.com>\r\n"
	"X-Mailer: Mutt\x1b[31m 2.0\r\n"
	"List-Id: Test list <test.lists.example.org>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative;\r\n"
	"  boundary=inner\r\n"
	"\r\n"
	"--inner\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"Hello\r\n"
	"--inner\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<p>Hello</p>\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: application/pdf; name=\"=?utf-8?B?UmVjaG51bmcucGRm?=\"\r\n"
	"Content-Disposition: attachment\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--outer\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Disposition: attachment;\r\n"
	" filename*0*=utf-8''%E2%82%AC%20rate;\r\n"
	" filename*1=\" list\";\r\n"
	" filename*2*=%2Etxt\r\n"
	"\r\n"
	"data\r\n"
	"--outer\r\n"
	"Content-Type: image/png\r\n"
	"Content-Disposition: inline; filename*=iso-8859-1'de'%E4rger.png\r\n"
	"\r\n"
	"png\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: Mallory <mallory@evil.test>\r\n"
	"Subject: inner message must not leak\r\n"
	"Content-Type: multipart/mixed; boundary=\"emb\"\r\n"
	"\r\n"
	"--emb\r\n"
	"Content-Type: text/plain; name=inner.txt\r\n"
	"\r\n"
	"x\r\n"
	"--emb--\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

static void check_full(const struct imf_headers *h)
{
	CHECK_LIST(&h->from, "Alice Bé|alice@example.com");
	CHECK(h->from_fields == 1);
	CHECK_LIST(&h->sender, "-|list-owner@lists.example.org");
	CHECK_LIST(&h->reply_to, "Support|support@help.example.com");
	CHECK_LIST(&h->to, "-|bob@example.net;-|carol@example.net");
	CHECK_LIST(&h->cc, "Dave|dave@example.org");
	CHECK_STR(h->subject, "été report");
	CHECK_STR(h->date, "Mon, 1 Jan 2024 10:00:00 +0000");
	CHECK_STR(h->message_id, "<m1@example.com>");
	CHECK_STR(h->in_reply_to, "<m0@example.com>");
	CHECK_STR(h->return_path, "bounce+123@bounce.example.com");
	CHECK_STR(h->user_agent, "Mutt\x1b[31m 2.0");
	CHECK_STR(h->list_id, "Test list <test.lists.example.org>");
	CHECK(h->n_received == 2 && h->received_total == 2);
	if (h->n_received == 2) {
		CHECK_STR(h->received[0], "from mx.example.com (mx.example.com [192.0.2.1]) by mail.example.net "
					  "with ESMTPS id abc for <bob@example.net>; Mon, 1 Jan 2024 10:00:00 +0000");
		CHECK_STR(h->received[1], "from a by b; Mon, 1 Jan 2024 09:59:59 +0000");
	}
	CHECK(h->n_dkim == 2);
	if (h->n_dkim == 2) {
		CHECK_STR(h->dkim_domains[0], "example.com");
		CHECK_STR(h->dkim_domains[1], "esp.example");
	}
	CHECK_STR(h->content_type, "multipart/mixed");
	CHECK(h->n_attachments == 5);
	if (h->n_attachments == 5) {
		CHECK_STR(h->attachments[0].name, "Rechnung.pdf");
		CHECK_STR(h->attachments[0].content_type, "application/pdf");
		CHECK_STR(h->attachments[1].name, "€ rate list.txt");
		CHECK_STR(h->attachments[1].content_type, "application/octet-stream");
		CHECK_STR(h->attachments[2].name, "ärger.png");
		CHECK(h->attachments[3].name == NULL);
		CHECK_STR(h->attachments[3].content_type, "message/rfc822");
		CHECK_STR(h->attachments[4].name, "inner.txt");
		CHECK_STR(h->attachments[4].content_type, "text/plain");
	}
	CHECK(h->complete && !h->truncated);
	CHECK(!anom_any(&h->anoms));
}

static void test_fields_and_streaming(void)
{
	size_t len = sizeof full_msg - 1;
	struct imf_parser *p = parse_msg(full_msg, len, 0);
	check_full(imf_headers(p));
	char *whole = json_of(imf_headers(p));
	/* escape sequences never reach JSON raw */
	CHECK(strstr(whole, "\x1b") == NULL);
	CHECK(strstr(whole, "\"user_agent\":\"Mutt\\u001b[31m 2.0\"") != NULL);
	CHECK(strstr(whole, "\"dkim_domains\":[\"example.com\",\"esp.example\"]") != NULL);
	CHECK(strstr(whole, "\"truncated\":false}") != NULL);
	CHECK(strstr(whole, "mallory") == NULL); /* attached message's headers stay out */
	struct sbuf t = SBUF_INIT;
	out_imf_headers_text(&t, imf_headers(p), "  ");
	CHECK(strstr(sbuf_str(&t), "\x1b") == NULL);
	CHECK(strstr(sbuf_str(&t), "  User-Agent: Mutt\\x1b[31m 2.0\n") != NULL);
	CHECK(strstr(sbuf_str(&t), "  From: \"Alice Bé\" <alice@example.com>\n") != NULL);
	sbuf_free(&t);
	imf_parser_free(p);

	/* 1 byte at a time, and every other chunk size up to 17: same JSON */
	for (size_t step = 1; step <= 17; step++) {
		p = parse_msg(full_msg, len, step);
		char *j = json_of(imf_headers(p));
		CHECK_STR(j, whole);
		if (step == 1)
			check_full(imf_headers(p));
		free(j);
		imf_parser_free(p);
	}
	/* reset gives a clean slate; LF-only line endings work too */
	p = imf_parser_new();
	imf_push(p, (const uint8_t *)full_msg, len);
	imf_finish(p);
	imf_parser_reset(p);
	static const char lf[] = "From: a@b.example\nSubject: lf\n\nbody\n";
	imf_push(p, (const uint8_t *)lf, sizeof lf - 1);
	imf_finish(p);
	CHECK_LIST(&imf_headers(p)->from, "-|a@b.example");
	CHECK_STR(imf_headers(p)->subject, "lf");
	CHECK(imf_headers(p)->n_attachments == 0);
	imf_parser_free(p);
	free(whole);
}

static void test_oddities(void)
{
	/* two From fields, several mailboxes; duplicate Subject keeps the first */
	static const char m1[] =
		"From: a@one.example, b@two.example\r\n"
		"From: c@three.example\r\n"
		"Subject: first\r\n"
		"Subject: second\r\n"
		"\r\n";
	struct imf_parser *p = parse_msg(m1, sizeof m1 - 1, 0);
	const struct imf_headers *h = imf_headers(p);
	CHECK(h->from_fields == 2);
	CHECK_LIST(&h->from, "-|a@one.example;-|b@two.example;-|c@three.example");
	CHECK_STR(h->subject, "first");
	CHECK(anom_has(&h->anoms, ANOM_IMF_DUPLICATE_FIELD));
	imf_parser_free(p);

	/* NUL bytes become U+FFFD; a line that is no field is an anomaly */
	static const char m2[] = "From: a\0b@x.example\r\nnot a field\r\nSubject: s\r\n\r\n";
	p = parse_msg(m2, sizeof m2 - 1, 0);
	h = imf_headers(p);
	CHECK_LIST(&h->from, "-|a\xef\xbf\xbd" "b@x.example");
	CHECK_STR(h->subject, "s");
	CHECK(anom_has(&h->anoms, ANOM_IMF_NUL_BYTE));
	CHECK(anom_has(&h->anoms, ANOM_IMF_BAD_FIELD_LINE));
	imf_parser_free(p);

	/* headers only, no empty line, no final CRLF */
	static const char m3[] = "From: x@y.example\r\nSubject: no body";
	p = parse_msg(m3, sizeof m3 - 1, 0);
	h = imf_headers(p);
	CHECK_STR(h->subject, "no body");
	CHECK(h->complete && !h->truncated);
	imf_parser_free(p);

	/* a gap inside the header block: fields before it kept, truncated */
	p = imf_parser_new();
	static const char g1[] = "From: x@y.example\r\nSubj";
	static const char g2[] = "ect: lost\r\nTo: z@y.example\r\n\r\nbody\r\n";
	imf_push(p, (const uint8_t *)g1, sizeof g1 - 1);
	imf_gap(p, 100);
	imf_push(p, (const uint8_t *)g2, sizeof g2 - 1);
	imf_finish(p);
	h = imf_headers(p);
	CHECK_LIST(&h->from, "-|x@y.example");
	CHECK(h->subject == NULL && h->to.n == 0);
	CHECK(h->truncated);
	CHECK(anom_has(&h->anoms, ANOM_IMF_HEADER_GAP));
	imf_parser_free(p);

	/* single-part message that is a file */
	static const char m4[] =
		"Content-Type: application/zip; name=\"a.zip\"\r\n"
		"Content-Disposition: attachment; filename=\"invoice.zip\"\r\n\r\nPK\r\n";
	p = parse_msg(m4, sizeof m4 - 1, 0);
	h = imf_headers(p);
	CHECK(h->n_attachments == 1);
	if (h->n_attachments == 1) {
		CHECK_STR(h->attachments[0].name, "invoice.zip");
		CHECK_STR(h->attachments[0].content_type, "application/zip");
	}
	imf_parser_free(p);

	/* multipart without boundary */
	static const char m5[] = "Content-Type: multipart/mixed\r\n\r\n--x\r\n";
	p = parse_msg(m5, sizeof m5 - 1, 0);
	CHECK(anom_has(&imf_headers(p)->anoms, ANOM_IMF_MIME_NO_BOUNDARY));
	imf_parser_free(p);

	/* 250 addresses: 100 kept, 150 counted */
	struct sbuf big = SBUF_INIT;
	sbuf_adds(&big, "To: ");
	for (int i = 0; i < 250; i++)
		sbuf_addf(&big, "%su%d@example.com", i ? ",\r\n " : "", i);
	sbuf_adds(&big, "\r\n\r\n");
	p = parse_msg(big.buf, big.len, 0);
	h = imf_headers(p);
	CHECK(h->to.n == IMF_ADDR_MAX && h->to.more == 150);
	CHECK(anom_has(&h->anoms, ANOM_IMF_TOO_MANY_ADDRESSES));
	char *j = json_of(h);
	CHECK(strstr(j, "\"to_more\":150") != NULL);
	free(j);
	imf_parser_free(p);
	sbuf_free(&big);
}

/* --------------------------------------------------------------- hostile input */

static void test_hostile(void)
{
	/* a 10 MB header: one field, then many fields; memory stays capped */
	struct imf_parser *p = imf_parser_new();
	static const char start[] = "From: a@b.example\r\nX-Big: ";
	imf_push(p, (const uint8_t *)start, sizeof start - 1);
	static uint8_t chunk[65536];
	memset(chunk, 'A', sizeof chunk);
	for (int i = 0; i < 160; i++)
		imf_push(p, chunk, sizeof chunk);
	static const char tail[] = "\r\nSubject: after the cap\r\n\r\nbody\r\n";
	imf_push(p, (const uint8_t *)tail, sizeof tail - 1);
	imf_finish(p);
	const struct imf_headers *h = imf_headers(p);
	CHECK_LIST(&h->from, "-|a@b.example");
	CHECK(h->truncated);
	CHECK(h->subject == NULL);
	CHECK(anom_has(&h->anoms, ANOM_IMF_HEADER_TOO_LONG));
	CHECK(h->header_bytes > 10u * 1024 * 1024);
	CHECK(h->body_bytes == 6);
	imf_parser_free(p);

	/* 10 MB of short fields */
	p = imf_parser_new();
	for (int i = 0; i < 400000; i++)
		imf_push(p, (const uint8_t *)"X-A: bbbbbbbbbbbbbbbbbbb\r\n", 26);
	imf_push(p, (const uint8_t *)"\r\n", 2);
	imf_finish(p);
	CHECK(imf_headers(p)->truncated);
	imf_parser_free(p);

	/* 10,000 nested multiparts, each with its own boundary */
	struct sbuf m = SBUF_INIT;
	sbuf_adds(&m, "From: n@nest.example\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
	for (int i = 0; i < 10000; i++)
		sbuf_addf(&m, "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i, i + 1);
	sbuf_adds(&m, "--b10000\r\nContent-Type: text/plain; name=deep.txt\r\n\r\nx\r\n");
	for (int i = 10000; i >= 0; i--)
		sbuf_addf(&m, "--b%d--\r\n", i);
	p = parse_msg(m.buf, m.len, 0);
	h = imf_headers(p);
	CHECK(anom_has(&h->anoms, ANOM_IMF_MIME_TOO_DEEP));
	CHECK_LIST(&h->from, "-|n@nest.example");
	CHECK(h->mime_parts <= IMF_MIME_PARTS_MAX);
	imf_parser_free(p);
	sbuf_free(&m);

	/* 5,000 sibling parts each with a file name: capped */
	sbuf_adds(&m, "Content-Type: multipart/mixed; boundary=s\r\n\r\n");
	for (int i = 0; i < 5000; i++)
		sbuf_addf(&m, "--s\r\nContent-Disposition: attachment; filename=f%d\r\n\r\nx\r\n", i);
	sbuf_adds(&m, "--s--\r\n");
	p = parse_msg(m.buf, m.len, 0);
	h = imf_headers(p);
	CHECK(h->n_attachments == IMF_ATTACH_MAX);
	CHECK(h->attachments_more == IMF_MIME_PARTS_MAX - IMF_ATTACH_MAX);
	CHECK(anom_has(&h->anoms, ANOM_IMF_MIME_TOO_MANY_PARTS));
	imf_parser_free(p);
	sbuf_free(&m);

	/* 10,000 nested message/rfc822: bounded by the part cap */
	sbuf_adds(&m, "Content-Type: multipart/mixed; boundary=r\r\n\r\n--r\r\n");
	for (int i = 0; i < 10000; i++)
		sbuf_adds(&m, "Content-Type: message/rfc822\r\n\r\n");
	p = parse_msg(m.buf, m.len, 0);
	CHECK(imf_headers(p)->mime_parts <= IMF_MIME_PARTS_MAX);
	imf_parser_free(p);
	sbuf_free(&m);

	/* deep comment nesting, long quoted strings, every byte value */
	sbuf_adds(&m, "From: ");
	for (int i = 0; i < 20000; i++)
		sbuf_addc(&m, '(');
	sbuf_adds(&m, "x@y\r\nTo: ");
	for (int i = 1; i < 256; i++)
		if (i != '\n' && i != '\r')
			sbuf_addc(&m, (char)i);
	sbuf_adds(&m, "\r\nSubject: ");
	for (int i = 0; i < 2000; i++)
		sbuf_adds(&m, "=?utf-8?B?AA==?=");
	sbuf_adds(&m, "\r\n\r\n");
	p = parse_msg(m.buf, m.len, 0);
	h = imf_headers(p);
	CHECK(h->from.n == 0);
	char *j = json_of(h);
	CHECK(utf8_valid(j, strlen(j)));
	free(j);
	imf_parser_free(p);
	sbuf_free(&m);
}


/* Property: random mutations of a rich message never crash, and any split of
 * the input gives the same result as one push (xorshift, fixed seed). */
static uint32_t rng_state = 2463534242u;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void test_mutations(void)
{
	static const char alphabet[] = "\r\n\t :;<>@,.\"()[]\\=?-_Bq\0\x80\xff\x1b";
	size_t base = sizeof full_msg - 1;
	char *buf = xmalloc(base + 64);
	int mismatches = 0;
	for (int iter = 0; iter < 3000; iter++) {
		memcpy(buf, full_msg, base);
		size_t len = base;
		int edits = 1 + (int)(rng() % 8);
		for (int e = 0; e < edits; e++) {
			size_t at = rng() % len;
			switch (rng() % 3) {
			case 0: buf[at] = alphabet[rng() % (sizeof alphabet - 1)]; break;
			case 1: if (len > 1) { memmove(buf + at, buf + at + 1, len - at - 1); len--; } break;
			default: if (len < base + 60) { memmove(buf + at + 1, buf + at, len - at); buf[at] = alphabet[rng() % (sizeof alphabet - 1)]; len++; } break;
			}
		}
		struct imf_parser *a = parse_msg(buf, len, 0);
		struct imf_parser *b = parse_msg(buf, len, 1 + rng() % 7);
		char *ja = json_of(imf_headers(a)), *jb = json_of(imf_headers(b));
		if (strcmp(ja, jb)) {
			if (!mismatches++)
				fprintf(stderr, "split mismatch:\n%s\n%s\n", ja, jb);
		}
		CHECK(utf8_valid(ja, strlen(ja)));
		free(ja);
		free(jb);
		imf_parser_free(a);
		imf_parser_free(b);
	}
	CHECK(mismatches == 0);
	free(buf);
}

/* The body scan skips lines that cannot be MIME delimiters (memchr for '-');
 * wherever segments split the message, the result must be the one of a
 * single push: attachments, part count, body size, anomalies. */
static void test_body_split_points(void)
{
	static const char msg[] =
		"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
		"preamble with a - dash and -- two\r\n-not a delimiter\r\n--b1x not this one\r\n"
		"--b1\r\nContent-Type: text/plain\r\n\r\nhello -- world\r\n---\r\n"
		"--b1\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n\r\nQUJD\r\nREVG\r\n"
		"--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@x.example\r\nSubject: in\r\n\r\nbody\r\n"
		"--b1--\r\nepilogue -\r\n--\r\n-";
	size_t n = sizeof msg - 1;
	struct imf_parser *w = parse_msg(msg, n, 0);
	char *want = json_of(imf_headers(w));
	uint64_t want_body = imf_headers(w)->body_bytes;
	unsigned want_parts = imf_headers(w)->mime_parts;
	struct anom_set want_anoms = imf_headers(w)->anoms;
	CHECK(imf_headers(w)->n_attachments == 2);
	imf_parser_free(w);
	int bad = 0;
	for (size_t c1 = 0; c1 <= n; c1++) {
		for (size_t c2 = c1; c2 <= n; c2 += (c2 < c1 + 3 ? 1 : 5)) {
			struct imf_parser *p = imf_parser_new();
			size_t cuts[4] = { 0, c1, c2, n };
			for (int k = 0; k < 3; k++)
				if (cuts[k + 1] > cuts[k])
					imf_push(p, (const uint8_t *)msg + cuts[k], cuts[k + 1] - cuts[k]);
			imf_finish(p);
			char *got = json_of(imf_headers(p));
			int ok = !strcmp(got, want) && imf_headers(p)->body_bytes == want_body &&
			         imf_headers(p)->mime_parts == want_parts &&
			         !memcmp(&imf_headers(p)->anoms, &want_anoms, sizeof want_anoms);
			if (!ok && bad++ < 3)
				fprintf(stderr, "split mismatch at %zu,%zu: %s\n", c1, c2, got);
			free(got);
			imf_parser_free(p);
		}
	}
	CHECK(bad == 0);
	free(want);
}

/* A whole message that wraps another (top-level message/rfc822): the wrapped
 * message's attachments are found, its fields never become the outer's. */
static void test_top_level_rfc822(void)
{
	static const char msg[] =
		"From: outer@example.com\r\nSubject: Outer\r\nMIME-Version: 1.0\r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Disposition: attachment; filename=\"innocent.txt\"\r\n\r\n"
		"From: inner@evil.example\r\nSubject: Inner\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
		"--zz\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
		"--zz\r\nContent-Type: application/octet-stream\r\n"
		"Content-Disposition: attachment; filename=\"malware.exe\"\r\n\r\nMZ\r\n--zz--\r\n";
	for (size_t step = 0; step < 4; step++) {
		struct imf_parser *p = parse_msg(msg, sizeof msg - 1, step);
		const struct imf_headers *h = imf_headers(p);
		CHECK_STR(h->subject, "Outer");
		CHECK(h->from.n == 1 && strcmp(h->from.v[0].address, "outer@example.com") == 0);
		int found = 0;
		for (size_t i = 0; i < h->n_attachments; i++)
			if (h->attachments[i].name && strcmp(h->attachments[i].name, "malware.exe") == 0)
				found = 1;
		CHECK(found);
		imf_parser_free(p);
	}
}

/* The fast path for plain address lists answers exactly as the lexer path:
 * fields built at random from pieces that are mostly plain (so the fast path
 * often answers) and sometimes not (quotes, comments, encoded words, groups,
 * 8-bit bytes, stray specials, white space in odd places). */
static void test_address_fast_path(void)
{
	static const char *const pieces[] = {
		"john", "Doe", "a.b", "x@y.test", "mary@x.test", "j_d+tag@mail.example.org", "<", ">", ",", ", ",
		" ", "\t", "  ", ".", "@", "=?UTF-8?Q?J=C3=B6rg?=", "\"Q. Public\"", "(comment)", "group:", ";",
		"\xc3\xa9", "=", "[1.2.3.4]", "\\", "Who?", "o'neil", "..", "a..b@c", "@route:", "{x}",
	};
	const size_t np = sizeof pieces / sizeof pieces[0];
	uint32_t x = 88172645u;
	unsigned fast = 0, bad = 0;
	for (int k = 0; k < 200000 && bad < 5; k++) {
		char f[512];
		size_t n = 0;
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		int shape = (int)(x % 4), count = 1 + (int)((x >> 4) % 4);
		for (int e = 0; e < count; e++) {
			const char *parts[8];
			int m = 0;
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			if (shape == 0) { /* random pieces */
				int len = 1 + (int)(x % 6);
				for (int q = 0; q < len; q++) {
					x ^= x << 13, x ^= x >> 17, x ^= x << 5;
					parts[m++] = pieces[x % np];
				}
			} else { /* plain shapes, one piece swapped now and then */
				static const char *const names[] = { "john", "Doe", "Who?", "o'neil", "{x}" };
				static const char *const addrs[] = { "x@y.test", "mary@x.test", "j_d+tag@mail.example.org" };
				const char *a = addrs[x % 3];
				if (shape == 1) {
					parts[m++] = a;
				} else {
					if (shape == 3) {
						parts[m++] = names[(x >> 3) % 5];
						parts[m++] = (x & 64) ? " " : "\t ";
						parts[m++] = names[(x >> 7) % 5];
						parts[m++] = (x & 128) ? " " : "";
					}
					parts[m++] = "<";
					parts[m++] = a;
					parts[m++] = ">";
				}
				if ((x >> 10) % 8 == 0)
					parts[(x >> 13) % (unsigned)m] = pieces[(x >> 16) % np];
			}
			if (e && n + 2 < sizeof f) { /* the separator before every element but the first */
				memcpy(f + n, (x & 256) ? ", " : ",", (x & 256) ? 2 : 1);
				n += (x & 256) ? 2 : 1;
			}
			for (int q = 0; q < m; q++) {
				size_t l = strlen(parts[q]);
				if (n + l < sizeof f) {
					memcpy(f + n, parts[q], l);
					n += l;
				}
			}
		}
		f[n] = '\0';
		struct imf_addr_list a = { 0 }, b = { 0 };
		int ra = imf_parse_addresses(&a, f, n), rb = imf_parse_addresses_lexed(&b, f, n);
		char *sa = list_str(&a), *sb = list_str(&b);
		if (ra != rb || a.more != b.more || strcmp(sa, sb) != 0) {
			bad++;
			fprintf(stderr, "  fast path differs on [%s]: %d %s / %d %s\n", f, ra, sa, rb, sb);
		}
		/* count the fields the fast path took: it alone leaves no error and
		 * keeps every element as the wire has it */
		if (ra == 0 && a.n)
			fast++;
		free(sa);
		free(sb);
		imf_addr_list_free(&a);
		imf_addr_list_free(&b);
	}
	CHECK(bad == 0);
	printf("  address fast path: %u of 200000 generated fields parsed clean\n", fast);
	CHECK(fast > 50000); /* the test means something only if both paths ran often */
}

int main(void)
{
	test_address_fast_path();
	test_top_level_rfc822();
	test_appendix_a();
	test_rfc2047();
	test_fields_and_streaming();
	test_oddities();
	test_hostile();
	test_mutations();
	test_body_split_points();
	TEST_MAIN_END();
}
