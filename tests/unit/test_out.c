/* Unit tests of the text and JSON Lines sinks (src/out_text.c, src/out_json.c):
 * a dialogue goes through the dissector into the sinks; the output is checked. */
#include <stdlib.h>

#include "harness.h"
#include "esc.h"
#include "event.h"
#include "flow.h"
#include "out.h"
#include "smtp.h"

static struct flow_info fi;

static void flow_v4(void)
{
	memset(&fi, 0, sizeof fi);
	fi.id = 42;
	fi.client.family = 4;
	memcpy(fi.client.addr, "\xc0\x00\x02\x01", 4);
	fi.client.port = 40000;
	fi.server.family = 4;
	memcpy(fi.server.addr, "\xc6\x33\x64\x19", 4);
	fi.server.port = 25;
}

static void flow_v6(void)
{
	flow_v4();
	fi.client.family = 6;
	memcpy(fi.client.addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
}

static void fake_headers_json(struct sbuf *out, const void *h)
{
	sbuf_addf(out, "{\"subject\":\"%s\"}", (const char *)h);
}

static void h_complete(void *u, struct smtp_txn *t)
{
	(void)u;
	t->headers = "fake";
	t->findings = calloc(1, sizeof *t->findings);
	t->findings[0].id = "from_mismatch";
	t->findings[0].severity = "medium";
	t->findings[0].detail = strdup("From: differs from MAIL FROM");
	t->n_findings = 1;
}

/* Run one dialogue through a sink built by mk and return its output. */
static char *run(struct sink *(*mk)(FILE *, const struct out_opts *), const struct out_opts *o,
                 bool secrets, bool with_findings)
{
	char *out = NULL;
	size_t outn = 0;
	FILE *f = open_memstream(&out, &outn);
	struct event_bus bus = { { 0 }, 0, 0 };
	event_bus_add(&bus, mk(f, o));
	struct smtp_msg_hooks hk = { 0 };
	hk.complete = h_complete;
	struct smtp_config cfg = { secrets, with_findings ? &hk : NULL };
	uint64_t ts = 1733388751123456ull;
	struct smtp_session *s = smtp_session_new(&cfg, &bus, &fi, ts);
#define CL(str) smtp_session_data(s, FLOW_C2S, (const uint8_t *)(str), strlen(str), ts += 1000)
#define SV(str) smtp_session_data(s, FLOW_S2C, (const uint8_t *)(str), strlen(str), ts += 1000)
	SV("220 mx.example.net ESMTP\r\n");
	CL("EHLO evil\x1b[2J.example\r\n");
	SV("250-mx\r\n250 AUTH LOGIN\r\n");
	CL("AUTH LOGIN\r\n");
	SV("334 VXNlcm5hbWU6\r\n");
	CL("dmFzaWE=\r\n");
	SV("334 UGFzc3dvcmQ6\r\n");
	CL("cHcx\r\n");
	SV("235 2.7.0 ok\r\n");
	CL("MAIL FROM:<a@b.example> SIZE=120\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<x@d.example>\r\nDATA\r\n");
	SV("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n354 go\r\n");
	CL("Subject: hi\r\n\r\nbody \xff\r\n.\r\n");
	SV("250 2.0.0 Ok: queued\r\n");
	CL("QUIT\r\n");
	SV("221 2.0.0 Bye\r\n");
	smtp_session_close(s, ts += 1000);
	smtp_session_free(s);
	event_bus_close(&bus);
	fclose(f);
	return out;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_json(void)
{
	flow_v4();
	struct out_opts o = { 0 };
	o.write_headers_json = fake_headers_json;
	char *j = run(out_json_new, &o, false, true);
	CHECK(count_lines(j) == 2); /* one transaction, one session */
	if (getenv("SHOW")) fputs(j, stderr);
	CHECK(strstr(j, "{\"type\":\"transaction\",\"session\":42,\"ts\":\"2024-12-05T08:52:31.") != NULL);
	CHECK(strstr(j, "\"client\":\"192.0.2.1:40000\",\"server\":\"198.51.100.25:25\"") != NULL);
	CHECK(strstr(j, "\"mail_from\":\"a@b.example\"") != NULL);
	CHECK(strstr(j, "\"rcpt_to\":[\"c@d.example\"],\"rcpt_rejected\":[\"x@d.example\"]") != NULL);
	CHECK(strstr(j, "\"data_reply\":354") != NULL);
	CHECK(strstr(j, "\"final_reply\":250") != NULL);
	CHECK(strstr(j, "\"size\":23") != NULL);
	CHECK(strstr(j, "\"helo\":\"evil\\u001b[2J.example\"") != NULL); /* escaped ESC */
	CHECK(strstr(j, "\"auth\":{\"mechanism\":\"LOGIN\",\"username\":\"vasia\"") != NULL);
	CHECK(strstr(j, "\"result\":\"success\"") != NULL);
	CHECK(strstr(j, "pw1") == NULL); /* no password without show_secrets */
	CHECK(strstr(j, "\"headers\":{\"subject\":\"fake\"}") != NULL);
	CHECK(strstr(j, "\"findings\":[{\"id\":\"from_mismatch\",\"severity\":\"medium\"") != NULL);
	CHECK(strstr(j, "{\"type\":\"session\",\"session\":42") != NULL);
	CHECK(strstr(j, "\"transactions\":1") != NULL);
	CHECK(strstr(j, "\"commands\":7") != NULL);
	CHECK(strchr(j, 0x1b) == NULL);
	/* each line is one object and valid UTF-8 */
	for (char *l = j; *l;) {
		char *e = strchr(l, '\n');
		CHECK(e && l[0] == '{' && e[-1] == '}');
		CHECK(utf8_valid(l, (size_t)(e - l)));
		l = e + 1;
	}
	free(j);

	/* events and secrets */
	o.events = true;
	o.show_secrets = true;
	j = run(out_json_new, &o, true, false);
	CHECK(strstr(j, "{\"type\":\"command\",\"session\":42") != NULL);
	CHECK(strstr(j, "\"verb\":\"MAIL\",\"verb_raw\":\"MAIL\",\"arg\":\"FROM:<a@b.example> SIZE=120\"") != NULL);
	CHECK(strstr(j, "\"type\":\"reply\"") != NULL);
	CHECK(strstr(j, "\"code\":250,\"enhanced\":\"2.1.0\",\"text\":\"Ok\"") != NULL);
	CHECK(strstr(j, "\"answers\":\"MAIL\"") != NULL);
	CHECK(strstr(j, "\"password\":\"pw1\"") != NULL);
	CHECK(strstr(j, "\"headers\":null") != NULL);
	free(j);

	/* findings_only: nothing when there are no findings */
	o.findings_only = true;
	o.events = false;
	j = run(out_json_new, &o, false, false);
	CHECK(j[0] == '\0');
	free(j);

	/* IPv6 endpoints in brackets */
	flow_v6();
	memset(&o, 0, sizeof o);
	j = run(out_json_new, &o, false, false);
	CHECK(strstr(j, "\"client\":\"[2001:db8::1]:40000\"") != NULL);
	free(j);
}

static void test_text(void)
{
	flow_v4();
	struct out_opts o = { 0 };
	char *t = run(out_text_new, &o, false, true);
	CHECK(strstr(t, "== #42 192.0.2.1:40000 -> 198.51.100.25:25  2024-12-05T08:52:31.123456Z\n") != NULL);
	CHECK(strstr(t, "C> MAIL FROM:<a@b.example> SIZE=120  [MAIL]\n") != NULL);
	CHECK(strstr(t, "S< 250 2.1.0 Ok  [MAIL ok]\n") != NULL);
	CHECK(strstr(t, "C> dmFzaWE=  [AUTH LOGIN username: vasia]\n") != NULL);
	CHECK(strstr(t, "C> ********  [AUTH LOGIN password: ********]\n") != NULL);
	CHECK(strstr(t, "pw1") == NULL);
	CHECK(strstr(t, "C> EHLO evil\\x1b[2J.example  [EHLO]") != NULL);
	CHECK(strstr(t, "(message: 23 bytes, 3 lines)") != NULL);
	CHECK(strstr(t, "body") == NULL); /* not printed without show_body */
	CHECK(strstr(t, "finding [medium] from_mismatch: From: differs from MAIL FROM") != NULL);
	CHECK(strchr(t, 0x1b) == NULL); /* no colour, no raw ESC */
	CHECK(strstr(t, "#42 +0.002 C> EHLO") != NULL);
	free(t);
	o.show_body = true;
	o.show_secrets = true;
	o.color = true;
	t = run(out_text_new, &o, true, false);
	CHECK(strstr(t, "C| body \\xff") != NULL);
	CHECK(strstr(t, "[AUTH LOGIN password: pw1]") != NULL);
	CHECK(strstr(t, "\033[32mS< 250 2.1.0 Ok") != NULL);
	CHECK(strstr(t, "\033[31mS< 550 5.1.1 no") != NULL);
	free(t);
}

int main(void)
{
	test_json();
	test_text();
	TEST_MAIN_END();
}
