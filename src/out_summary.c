/* out_summary — counts over the whole run, printed at the end as text or as
 * one "type":"summary" JSON record; contract in include/out_summary.h.
 * All per-key tables are countmaps with a key cap, so memory is bounded
 * whatever the traffic; keys beyond a cap are counted under "other". */
#include "out_summary.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "anomaly.h"
#include "ascii.h"
#include "auth.h"
#include "countmap.h"
#include "esc.h"
#include "flow.h"
#include "out.h"
#include "sbuf.h"
#include "smtp.h"
#include "tls.h"

#define SUMMARY_KEYS_MAX 4096 /* distinct keys per table: bounds memory (about 1 MiB a table) */
#define SUMMARY_TOP      10    /* rows shown per "top" table */

enum { SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV__N };
static const char *const sev_names[SEV__N] = { "info", "low", "medium", "high" };

struct out_summary {
	struct sink base;             /* first member */
	FILE *f;                      /* borrowed */
	bool json;                    /* JSON record instead of text */
	bool print;                   /* print at close (else only counts) */
	uint64_t sessions, sessions_tls, sessions_auth, transactions, messages, message_bytes;
	uint64_t findings[SEV__N];    /* by severity */
	struct countmap clients;      /* client addresses */
	struct countmap servers;      /* server "addr:port" */
	struct countmap auth;         /* "MECH user": v[0] success, v[1] failure, v[2] cancelled, v[3] unknown */
	struct countmap senders;      /* MAIL FROM */
	struct countmap rcpt_domains; /* recipient domains */
	struct countmap finding_ids;  /* finding id: v[sev] */
	/* TLS: sessions the TLS layer saw (struct tls_info) */
	uint64_t tls_seen, tls_decrypted, tls_keys[TLS_KEYS_UNSUPPORTED + 1]; /* by enum tls_key_status */
	struct countmap tls_versions; /* negotiated version name */
	struct countmap tls_ciphers;  /* negotiated suite (IANA name) */
	struct summary_totals totals; /* set by main before close */
	bool have_totals;
	uint64_t first_ts, last_ts;
	/* for the progress line, read on another thread while we count */
	_Atomic uint64_t prog_sessions, prog_findings;
};

static int sev_index(const char *s)
{
	for (int i = 0; i < SEV__N; i++)
		if (s && strcmp(s, sev_names[i]) == 0)
			return i;
	return SEV_INFO;
}

int summary_severity_rank(const char *s)
{
	return sev_index(s);
}

/* Findings of a transaction or a session: by severity, and by id when the
 * tables are printed. */
static void count_findings(struct out_summary *o, const struct smtp_finding *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int s = sev_index(f[i].severity);
		o->findings[s]++;
		if (o->print)
			countmap_add(&o->finding_ids, f[i].id, strlen(f[i].id), s, 1);
	}
}

static void on_txn(struct out_summary *o, const struct smtp_txn *t)
{
	o->transactions++;
	if (t->msg_started) {
		o->messages++;
		o->message_bytes += t->msg_bytes;
	}
	if (!o->print) { /* counting only (exit status, progress): no tables */
		count_findings(o, t->findings, t->n_findings);
		return;
	}
	if (t->has_mail)
		countmap_add(&o->senders, t->mail_from_n ? t->mail_from : "<>", t->mail_from_n ? t->mail_from_n : 2,
		             0, 1);
	for (size_t i = 0; i < t->n_rcpts; i++) {
		const char *a = t->rcpts[i].addr;
		const char *at = memchr(a, '@', t->rcpts[i].addr_n);
		const char *d = at ? at + 1 : "(no domain)";
		size_t dn = at ? t->rcpts[i].addr_n - (size_t)(at + 1 - a) : strlen(d);
		char low[256];
		size_t k = dn < sizeof low ? dn : sizeof low;
		for (size_t j = 0; j < k; j++)
			low[j] = (char)ascii_lower((unsigned char)d[j]);
		countmap_add(&o->rcpt_domains, low, k, 0, 1);
	}
	count_findings(o, t->findings, t->n_findings);
}

/* endpoint_addr_str / endpoint_str into buf (ENDPOINT_STRLEN); the length. */
static size_t addr_text(const struct endpoint *e, bool with_port, char *buf)
{
	if (with_port)
		endpoint_str(e, buf, ENDPOINT_STRLEN);
	else
		endpoint_addr_str(e, buf, ENDPOINT_STRLEN);
	return strlen(buf);
}

static void on_session_end(struct out_summary *o, const struct event *ev)
{
	const struct smtp_session *s = ev->sess;
	o->sessions++;
	if (s->tls)
		o->sessions_tls++;
	if (s->n_auth)
		o->sessions_auth++;
	const struct tls_info *ti = s->tls ? s->tls_info : NULL;
	if (ti) {
		o->tls_seen++;
		o->tls_decrypted += s->tls_inner;
		if ((unsigned)ti->keys <= TLS_KEYS_UNSUPPORTED)
			o->tls_keys[ti->keys]++;
	}
	if (!o->print)
		return;
	if (ti && ti->version) {
		const char *v = tls_version_str(ti->version);
		countmap_add(&o->tls_versions, v, strlen(v), 0, 1);
	}
	if (ti && ti->server.seen) {
		const char *c = tls_cipher_str(ti->cipher);
		countmap_add(&o->tls_ciphers, c, strlen(c), 0, 1);
	}
	char a[ENDPOINT_STRLEN];
	size_t an = addr_text(&ev->flow->client, false, a);
	countmap_add(&o->clients, a, an, 0, 1);
	an = addr_text(&ev->flow->server, true, a);
	countmap_add(&o->servers, a, an, 0, 1);
	for (size_t i = 0; i < s->n_auth; i++) {
		const struct auth_attempt *at = &s->auth[i];
		struct sbuf k = SBUF_INIT;
		sbuf_adds(&k, at->mech_name);
		sbuf_addc(&k, ' ');
		if (at->has_user)
			sbuf_add(&k, at->user.buf ? at->user.buf : "", at->user.len);
		else
			sbuf_adds(&k, "(no user)");
		int idx = at->result == AUTH_RESULT_SUCCESS ? 0 : at->result == AUTH_RESULT_FAILURE ? 1
		        : at->result == AUTH_RESULT_CANCELLED ? 2 : 3;
		countmap_add(&o->auth, k.buf, k.len, idx, 1);
		sbuf_free(&k);
	}
}

static void summary_emit(struct sink *sk, const struct event *ev)
{
	struct out_summary *o = (struct out_summary *)sk;
	if (!o->first_ts || ev->ts_us < o->first_ts)
		o->first_ts = ev->ts_us;
	if (ev->ts_us > o->last_ts)
		o->last_ts = ev->ts_us;
	if (ev->type == EV_TRANSACTION)
		on_txn(o, ev->txn);
	else if (ev->type == EV_SESSION_END) {
		count_findings(o, ev->sess->findings, ev->sess->n_findings);
		on_session_end(o, ev);
	}
	else
		return;
	uint64_t f = 0;
	for (int i = 0; i < SEV__N; i++)
		f += o->findings[i];
	atomic_store_explicit(&o->prog_sessions, o->sessions, memory_order_relaxed);
	atomic_store_explicit(&o->prog_findings, f, memory_order_relaxed);
}

/* ---- text ------------------------------------------------------------- */

static void text_top(struct sbuf *b, const char *title, const struct countmap *m)
{
	size_t n;
	struct countmap_entry **v = countmap_sorted(m, 0, &n);
	sbuf_addf(b, "%s (%zu distinct%s):\n", title, n, m->dropped_keys ? ", more not tracked" : "");
	for (size_t i = 0; i < n && i < SUMMARY_TOP; i++) {
		sbuf_addf(b, "  %8" PRIu64 "  ", v[i]->v[0]);
		esc_tty(b, v[i]->key, v[i]->key_n);
		sbuf_addc(b, '\n');
	}
	if (n > SUMMARY_TOP)
		sbuf_addf(b, "  %8s  … %zu more\n", "", n - SUMMARY_TOP);
	free(v);
}

static void write_text(struct out_summary *o)
{
	struct sbuf b = SBUF_INIT;
	const struct summary_totals *t = &o->totals;
	sbuf_adds(&b, "\n== summary\n");
	if (o->have_totals) {
		sbuf_addf(&b, "packets: %" PRIu64 "  bytes: %" PRIu64 "  tcp flows: %" PRIu64, t->packets, t->bytes,
		          t->flows);
		if (t->drops_valid)
			sbuf_addf(&b, "  dropped: %" PRIu64 " (kernel) %" PRIu64 " (interface)", t->kernel_drops,
			          t->if_drops);
		sbuf_addf(&b, "\ngaps: %" PRIu64 " (%" PRIu64 " bytes missing)\n", t->gaps, t->gap_bytes);
	}
	sbuf_addf(&b, "sessions: %" PRIu64 " (%" PRIu64 " with STARTTLS, %" PRIu64 " with AUTH)  transactions: %" PRIu64
	              "  messages: %" PRIu64 " (%" PRIu64 " bytes)\n",
	          o->sessions, o->sessions_tls, o->sessions_auth, o->transactions, o->messages, o->message_bytes);
	sbuf_addf(&b, "clients: %zu  servers: %zu\n", o->clients.n, o->servers.n);
	if (o->tls_seen) {
		sbuf_addf(&b, "TLS: %" PRIu64 " sessions, %" PRIu64 " decrypted, keys missing %" PRIu64 ", failed %" PRIu64
		              ", unsupported %" PRIu64 "\n",
		          o->tls_seen, o->tls_decrypted, o->tls_keys[TLS_KEYS_MISSING], o->tls_keys[TLS_KEYS_FAILED],
		          o->tls_keys[TLS_KEYS_UNSUPPORTED]);
		text_top(&b, "  TLS versions", &o->tls_versions);
		text_top(&b, "  TLS cipher suites", &o->tls_ciphers);
	}
	size_t n;
	struct countmap_entry **v = countmap_sorted(&o->auth, 0, &n);
	sbuf_addf(&b, "AUTH (mechanism user: success/failure/cancelled/unknown):%s\n", n ? "" : " none");
	for (size_t i = 0; i < n; i++) {
		sbuf_adds(&b, "  ");
		esc_tty(&b, v[i]->key, v[i]->key_n);
		sbuf_addf(&b, ": %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "\n", v[i]->v[0], v[i]->v[1], v[i]->v[2],
		          v[i]->v[3]);
	}
	free(v);
	text_top(&b, "top senders (MAIL FROM)", &o->senders);
	text_top(&b, "top recipient domains", &o->rcpt_domains);
	sbuf_addf(&b, "findings: %" PRIu64 " high, %" PRIu64 " medium, %" PRIu64 " low, %" PRIu64 " info\n",
	          o->findings[SEV_HIGH], o->findings[SEV_MEDIUM], o->findings[SEV_LOW], o->findings[SEV_INFO]);
	v = countmap_sorted(&o->finding_ids, SEV_HIGH, &n);
	for (size_t i = 0; i < n; i++)
		sbuf_addf(&b, "  %-24s high %" PRIu64 "  medium %" PRIu64 "  low %" PRIu64 "  info %" PRIu64 "\n",
		          v[i]->key, v[i]->v[SEV_HIGH], v[i]->v[SEV_MEDIUM], v[i]->v[SEV_LOW], v[i]->v[SEV_INFO]);
	free(v);
	sbuf_adds(&b, "anomalies:");
	int any = 0;
	for (int i = 0; i < ANOM__COUNT; i++) {
		if (!anom_count((enum anom_id)i))
			continue;
		sbuf_addf(&b, "%s %s %" PRIu64, any ? "," : "", anom_name((enum anom_id)i), anom_count((enum anom_id)i));
		any = 1;
	}
	sbuf_adds(&b, any ? "\n" : " none\n");
	fwrite(b.buf, 1, b.len, o->f);
	sbuf_free(&b);
}

/* ---- JSON ------------------------------------------------------------- */

static void json_top(struct sbuf *b, const char *key, const struct countmap *m)
{
	size_t n;
	struct countmap_entry **v = countmap_sorted(m, 0, &n);
	sbuf_addf(b, ",\"%s\":[", key);
	for (size_t i = 0; i < n && i < SUMMARY_TOP; i++) {
		sbuf_adds(b, i ? ",{\"value\":" : "{\"value\":");
		esc_json_strn(b, v[i]->key, v[i]->key_n);
		sbuf_addf(b, ",\"count\":%" PRIu64 "}", v[i]->v[0]);
	}
	sbuf_addc(b, ']');
	free(v);
}

static void write_json(struct out_summary *o)
{
	struct sbuf b = SBUF_INIT;
	const struct summary_totals *t = &o->totals;
	sbuf_adds(&b, "{\"type\":\"summary\"");
	if (o->first_ts) {
		sbuf_adds(&b, ",\"ts_first\":\"");
		out_ts_iso(&b, o->first_ts);
		sbuf_adds(&b, "\",\"ts_last\":\"");
		out_ts_iso(&b, o->last_ts);
		sbuf_addc(&b, '"');
	}
	sbuf_addf(&b, ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"tcp_flows\":%" PRIu64 ",\"gaps\":%" PRIu64
	              ",\"gap_bytes\":%" PRIu64,
	          t->packets, t->bytes, t->flows, t->gaps, t->gap_bytes);
	if (t->drops_valid)
		sbuf_addf(&b, ",\"kernel_drops\":%" PRIu64 ",\"interface_drops\":%" PRIu64, t->kernel_drops, t->if_drops);
	sbuf_addf(&b, ",\"sessions\":%" PRIu64 ",\"sessions_tls\":%" PRIu64 ",\"sessions_auth\":%" PRIu64
	              ",\"transactions\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"message_bytes\":%" PRIu64
	              ",\"clients\":%zu,\"servers\":%zu",
	          o->sessions, o->sessions_tls, o->sessions_auth, o->transactions, o->messages, o->message_bytes,
	          o->clients.n, o->servers.n);
	size_t n;
	struct countmap_entry **v = countmap_sorted(&o->auth, 0, &n);
	sbuf_adds(&b, ",\"auth\":[");
	for (size_t i = 0; i < n; i++) {
		const char *sp = memchr(v[i]->key, ' ', v[i]->key_n);
		size_t ml = sp ? (size_t)(sp - v[i]->key) : v[i]->key_n;
		sbuf_adds(&b, i ? ",{\"mechanism\":" : "{\"mechanism\":");
		esc_json_strn(&b, v[i]->key, ml);
		sbuf_adds(&b, ",\"username\":");
		esc_json_strn(&b, sp ? sp + 1 : "", sp ? v[i]->key_n - ml - 1 : 0);
		sbuf_addf(&b, ",\"success\":%" PRIu64 ",\"failure\":%" PRIu64 ",\"cancelled\":%" PRIu64 ",\"unknown\":%" PRIu64 "}",
		          v[i]->v[0], v[i]->v[1], v[i]->v[2], v[i]->v[3]);
	}
	sbuf_addc(&b, ']');
	free(v);
	sbuf_addf(&b, ",\"tls\":{\"sessions\":%" PRIu64 ",\"decrypted\":%" PRIu64 ",\"keys_missing\":%" PRIu64
	              ",\"keys_failed\":%" PRIu64 ",\"keys_unsupported\":%" PRIu64,
	          o->tls_seen, o->tls_decrypted, o->tls_keys[TLS_KEYS_MISSING], o->tls_keys[TLS_KEYS_FAILED],
	          o->tls_keys[TLS_KEYS_UNSUPPORTED]);
	json_top(&b, "versions", &o->tls_versions);
	json_top(&b, "ciphers", &o->tls_ciphers);
	sbuf_addc(&b, '}');
	json_top(&b, "top_senders", &o->senders);
	json_top(&b, "top_recipient_domains", &o->rcpt_domains);
	sbuf_addf(&b, ",\"findings\":{\"high\":%" PRIu64 ",\"medium\":%" PRIu64 ",\"low\":%" PRIu64 ",\"info\":%" PRIu64 "}",
	          o->findings[SEV_HIGH], o->findings[SEV_MEDIUM], o->findings[SEV_LOW], o->findings[SEV_INFO]);
	v = countmap_sorted(&o->finding_ids, SEV_HIGH, &n);
	sbuf_adds(&b, ",\"findings_by_id\":{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sbuf_addc(&b, ',');
		esc_json_str(&b, v[i]->key);
		sbuf_addf(&b, ":{\"high\":%" PRIu64 ",\"medium\":%" PRIu64 ",\"low\":%" PRIu64 ",\"info\":%" PRIu64 "}",
		          v[i]->v[SEV_HIGH], v[i]->v[SEV_MEDIUM], v[i]->v[SEV_LOW], v[i]->v[SEV_INFO]);
	}
	sbuf_addc(&b, '}');
	free(v);
	sbuf_adds(&b, ",\"anomalies\":{");
	int any = 0;
	for (int i = 0; i < ANOM__COUNT; i++) {
		if (!anom_count((enum anom_id)i))
			continue;
		sbuf_addf(&b, "%s\"%s\":%" PRIu64, any ? "," : "", anom_name((enum anom_id)i), anom_count((enum anom_id)i));
		any = 1;
	}
	sbuf_adds(&b, "}}\n");
	fwrite(b.buf, 1, b.len, o->f);
	sbuf_free(&b);
}

static void summary_close(struct sink *sk)
{
	struct out_summary *o = (struct out_summary *)sk;
	if (o->print) {
		if (o->json)
			write_json(o);
		else
			write_text(o);
		fflush(o->f);
	}
	countmap_free(&o->clients);
	countmap_free(&o->servers);
	countmap_free(&o->auth);
	countmap_free(&o->senders);
	countmap_free(&o->rcpt_domains);
	countmap_free(&o->finding_ids);
	countmap_free(&o->tls_versions);
	countmap_free(&o->tls_ciphers);
	free(o);
}

static const struct sink_ops summary_ops = { summary_emit, NULL, summary_close };

struct sink *out_summary_new(FILE *f, bool json, bool print)
{
	struct out_summary *o = xcalloc(1, sizeof *o);
	o->base.ops = &summary_ops;
	/* counts come from transactions and session ends; the time span needs
	 * only the first and last event of each flow, which these include */
	o->base.wants = EV_BIT(EV_SESSION_BEGIN) | EV_BIT(EV_TRANSACTION) | EV_BIT(EV_SESSION_END) | EV_BIT(EV_FLOW_END);
	o->f = f;
	o->json = json;
	o->print = print;
	countmap_init(&o->clients, SUMMARY_KEYS_MAX);
	countmap_init(&o->servers, SUMMARY_KEYS_MAX);
	countmap_init(&o->auth, SUMMARY_KEYS_MAX);
	countmap_init(&o->senders, SUMMARY_KEYS_MAX);
	countmap_init(&o->rcpt_domains, SUMMARY_KEYS_MAX);
	countmap_init(&o->finding_ids, 256);
	countmap_init(&o->tls_versions, 64);
	countmap_init(&o->tls_ciphers, 512);
	return &o->base;
}

void out_summary_set_totals(struct sink *s, const struct summary_totals *t)
{
	struct out_summary *o = (struct out_summary *)s;
	o->totals = *t;
	o->have_totals = true;
}

void out_summary_progress(struct sink *s, uint64_t *sessions, uint64_t *findings)
{
	struct out_summary *o = (struct out_summary *)s;
	*sessions = atomic_load_explicit(&o->prog_sessions, memory_order_relaxed);
	*findings = atomic_load_explicit(&o->prog_findings, memory_order_relaxed);
}

void out_summary_counts(const struct sink *s, struct summary_counts *c)
{
	const struct out_summary *o = (const struct out_summary *)s;
	memset(c, 0, sizeof *c);
	c->sessions = o->sessions;
	c->transactions = o->transactions;
	c->messages = o->messages;
	for (int i = 0; i < SEV__N; i++)
		c->findings[i] = o->findings[i];
}
