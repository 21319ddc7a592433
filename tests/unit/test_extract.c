/* extract: the mboxrd transform across every chunk boundary, the names, the
 * "From " line, and .eml creation (collision rename, symlink not followed,
 * gaps as NUL bytes, the sidecar) through the public API with a fake
 * transaction. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract.h"
#include "flow.h"
#include "harness.h"
#include "sbuf.h"

/* Push in at every split point (two chunks) and as single bytes; each must
 * give want. */
static void tx_case(const char *in, const char *want)
{
	size_t n = strlen(in), wn = strlen(want);
	for (size_t cut = 0; cut <= n; cut++) {
		struct mboxrd_tx m;
		struct sbuf out = SBUF_INIT;
		mboxrd_tx_init(&m);
		mboxrd_tx_push(&m, &out, (const uint8_t *)in, cut);
		mboxrd_tx_push(&m, &out, (const uint8_t *)in + cut, n - cut);
		mboxrd_tx_flush(&m, &out);
		CHECK_MEM(sbuf_str(&out), out.len, want, wn);
		if (out.len != wn || memcmp(sbuf_str(&out), want, wn))
			fprintf(stderr, "   input [%s] cut at %zu gave [%s]\n", in, cut, sbuf_str(&out));
		sbuf_free(&out);
	}
	struct mboxrd_tx m;
	struct sbuf out = SBUF_INIT;
	mboxrd_tx_init(&m);
	for (size_t i = 0; i < n; i++)
		mboxrd_tx_push(&m, &out, (const uint8_t *)in + i, 1);
	mboxrd_tx_flush(&m, &out);
	CHECK_MEM(sbuf_str(&out), out.len, want, wn);
	CHECK(m.last_lf == (wn && want[wn - 1] == '\n'));
	sbuf_free(&out);
}

static void test_mboxrd(void)
{
	tx_case("", "");
	tx_case("a\r\nb\r\n", "a\nb\n");
	tx_case("From me\r\n", ">From me\n");                 /* first line too */
	tx_case("x\r\nFrom me\r\n", "x\n>From me\n");         /* "\r\nFr" | "om " at every split */
	tx_case("x\r\n>From me\r\n>>From\r\n", "x\n>>From me\n>>From\n");
	tx_case("x\r\n>>>From y\r\n", "x\n>>>>From y\n");
	tx_case("x\r\nFrom\r\nFromage\r\n>Fro\r\n", "x\nFrom\nFromage\n>Fro\n"); /* no space: no quote */
	tx_case("x\r\n >From y\r\n", "x\n >From y\n");        /* not at the start */
	tx_case("a From b\r\n", "a From b\n");
	tx_case("bare\rcr\r\r\nend", "bare\rcr\r\nend");     /* a bare CR stays, CRCRLF -> CR LF */
	tx_case("lf only\nFrom x\n", "lf only\n>From x\n");   /* bare LF ends a line for mbox readers */
	tx_case("x\r\n>>", "x\n>>");                          /* held prefix released at the end */
	tx_case("x\r\nFro", "x\nFro");
	tx_case("x\r", "x\r");
}

static void test_names(void)
{
	char b[80];
	extract_basename(b, sizeof b, 1233571648543482ULL, 3, 1);
	CHECK_STR(b, "20090202T104728.543482Z_3_1");
	extract_basename(b, sizeof b, UINT64_MAX / 1000000 * 0 + 5, UINT64_MAX, UINT64_MAX);
	CHECK_STR(b, "19700101T000000.000005Z_18446744073709551615_18446744073709551615");
	struct sbuf s = SBUF_INIT;
	extract_from_line(&s, "a@b.example", 11, 1233571648543482ULL);
	CHECK_STR(sbuf_str(&s), "From a@b.example Mon Feb  2 10:47:28 2009\n");
	sbuf_clear(&s);
	extract_from_line(&s, "", 0, 1233571648543482ULL);
	CHECK_STR(sbuf_str(&s), "From MAILER-DAEMON Mon Feb  2 10:47:28 2009\n");
	sbuf_clear(&s);
	extract_from_line(&s, "a b\nc\x7f", 6, 0);
	CHECK_STR(sbuf_str(&s), "From a_b_c_ Thu Jan  1 00:00:00 1970\n");
	sbuf_free(&s);
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 16);
	*n = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

/* One message through the API: begin, data, gap, data, end, complete. */
static void run_msg(struct extract *x, struct smtp_txn *t, const struct smtp_session *s)
{
	extract_begin(x, t);
	extract_data(x, t, (const uint8_t *)"Subject: x\r\n\r\nFr", 16);
	extract_gap(x, t, 3);
	extract_data(x, t, (const uint8_t *)"om y\r\n", 6);
	extract_end(x, t);
	struct event ev = { .type = EV_TRANSACTION, .ts_us = t->end_ts_us, .flow = s->flow, .sess = s, .txn = t };
	extract_complete(x, &ev);
}

static void test_files(void)
{
	char dir[] = "/tmp/test_extract.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[512], out[128];
	snprintf(out, sizeof out, "%s/out", dir);
	mkdir(out, 0755);
	/* a precious file with the first message's name, and a symlink with the
	 * second's .eml name pointing outside */
	snprintf(path, sizeof path, "%s/20090202T104728.543482Z_7_1.eml", out);
	FILE *f = fopen(path, "w");
	fputs("precious", f);
	fclose(f);
	char target[256];
	snprintf(target, sizeof target, "%s/outside", dir);
	snprintf(path, sizeof path, "%s/20090202T104728.543482Z_7_2.eml", out);
	CHECK(symlink(target, path) == 0);

	char err[256] = "";
	char mbox[256];
	snprintf(mbox, sizeof mbox, "%s/m.mbox", dir);
	struct extract_opts o = { out, mbox, { 0 } };
	struct extract *x = extract_new(&o, err, sizeof err);
	CHECK(x != NULL);
	if (!x)
		return;
	struct flow_info fi = { 0 };
	fi.id = 7;
	struct smtp_session s = { 0 };
	s.flow = &fi;
	struct smtp_txn t1 = { 0 }, t2 = { 0 };
	t1.session = t2.session = &s;
	t1.seq = 1;
	t2.seq = 2;
	t1.start_ts_us = t2.start_ts_us = 1233571648543482ULL;
	t1.has_mail = true;
	t1.mail_from = "a@b.example";
	t1.mail_from_n = 11;
	t2.has_mail = true;
	t2.mail_from = "";
	run_msg(x, &t1, &s);
	run_msg(x, &t2, &s);
	struct extract_stats st;
	extract_stats(x, &st);
	CHECK(st.messages == 2);
	CHECK(st.renamed == 2);
	CHECK(st.errors == 0);
	CHECK(st.gaps == 2);
	extract_free(x);

	size_t n;
	snprintf(path, sizeof path, "%s/20090202T104728.543482Z_7_1.eml", out);
	char *b = slurp(path, &n);
	CHECK(b && n == 8 && memcmp(b, "precious", 8) == 0); /* untouched */
	free(b);
	snprintf(path, sizeof path, "%s/20090202T104728.543482Z_7_1-2.eml", out);
	b = slurp(path, &n);
	CHECK(b && n == 25 && memcmp(b, "Subject: x\r\n\r\nFr\0\0\0om y\r\n", 25) == 0);
	free(b);
	struct stat sb;
	CHECK(lstat(target, &sb) != 0); /* the symlink was not followed */
	snprintf(path, sizeof path, "%s/20090202T104728.543482Z_7_2-2.json", out);
	b = slurp(path, &n);
	CHECK(b != NULL);
	if (b) {
		b[n < 65535 ? n : 65535] = '\0';
		CHECK(strstr(b, "\"eml\":\"20090202T104728.543482Z_7_2-2.eml\"") != NULL);
		CHECK(strstr(b, "\"gaps\":[{\"offset\":16,\"length\":3}]}\n") != NULL);
		CHECK(strstr(b, "\"type\":\"transaction\"") != NULL);
	}
	free(b);
	b = slurp(mbox, &n);
	const char *want = "From a@b.example Mon Feb  2 10:47:28 2009\n"
	                   "X-Smtpscope-Gap: offset=16 length=3\n"
	                   "Subject: x\n\nFrom y\n\n"
	                   "From MAILER-DAEMON Mon Feb  2 10:47:28 2009\n"
	                   "X-Smtpscope-Gap: offset=16 length=3\n"
	                   "Subject: x\n\nFrom y\n\n";
	/* after a gap the line is not at its start: "Fr" + "om y" is not quoted */
	CHECK(b && n == strlen(want) && memcmp(b, want, n) == 0);
	free(b);

	/* a symlinked mbox is refused; a directory that cannot exist is reported */
	snprintf(path, sizeof path, "%s/link.mbox", dir);
	CHECK(symlink(target, path) == 0);
	struct extract_opts o2 = { NULL, path, { 0 } };
	CHECK(extract_new(&o2, err, sizeof err) == NULL);
	CHECK(strstr(err, "symbolic link") != NULL);
	snprintf(path, sizeof path, "%s/m.mbox/sub", dir);
	struct extract_opts o3 = { path, NULL, { 0 } };
	CHECK(extract_new(&o3, err, sizeof err) == NULL);
	CHECK(strstr(err, "cannot create directory") != NULL);
	CHECK(lstat(target, &sb) != 0);

	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

/* A message above EXTRACT_MBOX_MSG_MAX goes through an unlinked temporary
 * file and still arrives whole, after a smaller one finished meanwhile. */
static void test_spill(void)
{
	char dir[] = "/tmp/test_extract_spill.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char mbox[256], err[256];
	snprintf(mbox, sizeof mbox, "%s/m.mbox", dir);
	struct extract_opts o = { NULL, mbox, { 0 } };
	struct extract *x = extract_new(&o, err, sizeof err);
	CHECK(x != NULL);
	if (!x)
		return;
	struct flow_info fi = { 0 };
	struct smtp_session s = { 0 };
	s.flow = &fi;
	struct smtp_txn big = { 0 }, small = { 0 };
	big.session = small.session = &s;
	big.seq = 1;
	small.seq = 2;
	static uint8_t chunk[65536];
	memset(chunk, 'a', sizeof chunk);
	for (size_t i = 63; i < sizeof chunk; i += 64)
		chunk[i - 1] = '\r', chunk[i] = '\n';
	extract_begin(x, &big);
	extract_begin(x, &small);
	size_t chunks = EXTRACT_MBOX_MSG_MAX / (sizeof chunk - sizeof chunk / 64) + 2; /* after CRLF -> LF */
	for (size_t i = 0; i < chunks; i++) {
		extract_data(x, &big, chunk, sizeof chunk);
		if (i == 1) {
			extract_data(x, &small, (const uint8_t *)"small\r\n", 7);
			extract_end(x, &small);
		}
	}
	extract_end(x, &big);
	struct extract_stats st;
	extract_stats(x, &st);
	CHECK(st.spilled == 1);
	CHECK(st.messages == 2);
	CHECK(st.errors == 0);
	extract_free(x); /* complete() never came: written at end(), freed here */
	struct stat sb;
	CHECK(stat(mbox, &sb) == 0);
	size_t from = strlen("From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n");
	CHECK((size_t)sb.st_size == from + 6 + 1 + from + chunks * (sizeof chunk - sizeof chunk / 64) + 1);
	FILE *f = fopen(mbox, "rb");
	char head[128] = "";
	if (f) {
		CHECK(fread(head, 1, from + 7, f) == from + 7);
		fclose(f);
	}
	CHECK(memcmp(head + from, "small\n\n", 7) == 0); /* the small one first, whole */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	test_spill();
	test_mboxrd();
	test_names();
	test_files();
	TEST_MAIN_END();
}
