/* The mail layer's reused state is per thread or per instance (docs/design.md,
 * "Per-thread state"): msgwire's parser pool and the address scratch it lends
 * its parsers belong to one msgwire, verdict's PSL answer cache is
 * _Thread_local. Two threads, each with its own msgwire, push messages
 * through it (the path the SMTP worker takes) while a third parses address
 * lists with imf_parse_addresses() and looks up Organizational Domains (the
 * path unit tests and fuzzers take on the main thread). Every answer must be
 * the one a lone thread gives. With process-wide pools and scratch (as
 * before) the threads trade buffers and these checks fail or crash; a
 * ThreadSanitizer build (make tsan) reports the race directly. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "imf.h"
#include "msgwire.h"
#include "smtp.h"
#include "verdict.h"

#define ROUNDS 20000

static const char *const froms[] = {
	"\"Smith, J.\" (work) <j.smith@mail.example.co.uk>, =?UTF-8?Q?J=C3=BCrgen?= <jurgen@b\xc3\xbc" "cher.example>",
	"Undisclosed:;, \"Ann \\\"A\\\" Lee\" <ann@[192.0.2.1]>, bob@x.example (Bob (the) Builder)",
	"<@route.example:user@dest.example.com>, \"=?ISO-8859-1?B?SvZyZw==?=\" <jorg@mail.example.de>",
	"team: a@one.example.org, \"B\" <b@two.example.net>; c@three.example.com (Cee)",
};
static const char *const domains[] = {
	"mail.example.co.uk", "a.b.c.example.com", "b\xc3\xbc" "cher.example", "www.city.kawasaki.jp",
	"x.y.example.org.uk", "sub.example.pvt.k12.ma.us", "[192.0.2.1]", "example.com",
};
#define NF (sizeof froms / sizeof *froms)
#define ND (sizeof domains / sizeof *domains)

/* One address list rendered as a string: what the checks compare. */
static void render(char *out, size_t cap, const struct imf_addr_list *l)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < l->n && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "[%s|%s]", l->v[i].name ? l->v[i].name : "-", l->v[i].address);
}

static char want_list[NF][1024], want_msg[NF][1024], want_org[ND][256];

static void expect(void)
{
	for (size_t i = 0; i < NF; i++) {
		struct imf_addr_list l = { 0 };
		imf_parse_addresses(&l, froms[i], strlen(froms[i]));
		render(want_list[i], sizeof want_list[i], &l);
		imf_addr_list_free(&l);
		/* the From: of a message is the same list (imf's own parse) */
		struct imf_parser *p = imf_parser_new();
		char msg[1024];
		snprintf(msg, sizeof msg, "From: %s\r\nSubject: t\r\n\r\nbody\r\n", froms[i]);
		imf_push(p, (const uint8_t *)msg, strlen(msg));
		imf_finish(p);
		render(want_msg[i], sizeof want_msg[i], &imf_headers(p)->from);
		imf_parser_free(p);
	}
	for (size_t i = 0; i < ND; i++) {
		const char *o = verdict_org_domain(domains[i], want_org[i], sizeof want_org[i]);
		if (!o)
			strcpy(want_org[i], "(none)");
	}
}

struct res {
	int bad;
	int msgs;
};

/* The worker's path: messages through a msgwire of this thread only. */
static void *msg_thread(void *arg)
{
	struct res *r = arg;
	struct msgwire *m = msgwire_new(false);
	const struct smtp_msg_hooks *h = msgwire_hooks(m);
	/* several transactions in flight at once, so the pool is taken from and
	 * given back in varying order */
	struct smtp_txn t[5];
	memset(t, 0, sizeof t);
	char msg[1024], got[1024], org[256];
	for (int k = 0; k < ROUNDS; k++) {
		struct smtp_txn *x = &t[k % 5];
		size_t i = (size_t)k % NF;
		if (x->headers_free) {
			x->headers_free(x->headers);
			x->headers = NULL;
			x->headers_free = NULL;
		}
		x->msg_started = true;
		h->begin(h->user, x);
		snprintf(msg, sizeof msg, "From: %s\r\nSubject: t\r\n\r\nbody\r\n", froms[i]);
		size_t n = strlen(msg), cut = (size_t)k % n;
		h->data(h->user, x, (const uint8_t *)msg, cut);
		h->data(h->user, x, (const uint8_t *)msg + cut, n - cut);
		x->msg_complete = true;
		h->end(h->user, x);
		const struct imf_headers *hd = msgwire_txn_headers(x);
		render(got, sizeof got, hd ? &hd->from : &(struct imf_addr_list){ 0 });
		r->bad += strcmp(got, want_msg[i]) != 0;
		const char *o = verdict_org_domain(domains[(size_t)k % ND], org, sizeof org);
		r->bad += strcmp(o ? o : "(none)", want_org[(size_t)k % ND]) != 0;
		r->msgs++;
	}
	for (int k = 0; k < 5; k++)
		if (t[k].headers_free)
			t[k].headers_free(t[k].headers);
	msgwire_free(m);
	return NULL;
}

/* A test's or fuzzer's path: the building blocks, no msgwire. */
static void *lib_thread(void *arg)
{
	struct res *r = arg;
	char got[1024], org[256];
	for (int k = 0; k < ROUNDS; k++) {
		size_t i = (size_t)k % NF;
		struct imf_addr_list l = { 0 };
		if (k & 1)
			imf_parse_addresses(&l, froms[i], strlen(froms[i]));
		else
			imf_parse_addresses_lexed(&l, froms[i], strlen(froms[i]));
		render(got, sizeof got, &l);
		imf_addr_list_free(&l);
		r->bad += strcmp(got, want_list[i]) != 0;
		const char *o = verdict_org_domain(domains[(size_t)(k + 3) % ND], org, sizeof org);
		r->bad += strcmp(o ? o : "(none)", want_org[(size_t)(k + 3) % ND]) != 0;
		r->msgs++;
	}
	return NULL;
}

int main(void)
{
	expect();
	/* the expectations themselves are what the parser is known to give */
	CHECK(strstr(want_list[0], "[Smith, J.|j.smith@mail.example.co.uk]") != NULL);
	CHECK(strstr(want_list[0], "[J\xc3\xbcrgen|jurgen@b\xc3\xbc" "cher.example]") != NULL);
	CHECK_STR(want_org[0], "example.co.uk");
	for (size_t i = 0; i < NF; i++)
		CHECK_STR(want_msg[i], want_list[i]);

	struct res r[3] = { { 0, 0 }, { 0, 0 }, { 0, 0 } };
	pthread_t th[3];
	CHECK(pthread_create(&th[0], NULL, msg_thread, &r[0]) == 0);
	CHECK(pthread_create(&th[1], NULL, msg_thread, &r[1]) == 0);
	CHECK(pthread_create(&th[2], NULL, lib_thread, &r[2]) == 0);
	lib_thread(&(struct res){ 0, 0 }); /* and the main thread too */
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++) {
		CHECK(r[i].msgs == ROUNDS);
		CHECK(r[i].bad == 0);
		if (r[i].bad)
			fprintf(stderr, "thread %d: %d wrong answers of %d\n", i, r[i].bad, 2 * r[i].msgs);
	}
	TEST_MAIN_END();
}
