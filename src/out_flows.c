/* out_flows — one line (or JSON object) per TCP flow; see include/out_flows.h. */
#include "out_flows.h"

#include <stdlib.h>
#include <time.h>

#include "esc.h"
#include "flow.h"
#include "sbuf.h"

struct out_flows {
	struct sink base;   /* must be first */
	FILE *f;            /* destination (not closed by us) */
	int json;           /* JSON Lines instead of text */
	struct sbuf line;   /* reused line buffer */
	uint64_t n;         /* flows written */
};

static void fmt_time(struct sbuf *b, uint64_t us)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char t[40];
	strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
	sbuf_addf(b, "%s.%06uZ", t, (unsigned)(us % 1000000));
}

static void anoms_text(struct sbuf *b, const struct anom_set *s, int json)
{
	int first = 1;
	for (int i = 0; i < ANOM__COUNT; i++) {
		if (!anom_has(s, (enum anom_id)i))
			continue;
		if (json)
			sbuf_adds(b, first ? "\"" : ",\"");
		else
			sbuf_adds(b, first ? "" : ",");
		sbuf_adds(b, anom_name((enum anom_id)i));
		if (json)
			sbuf_addc(b, '"');
		first = 0;
	}
	if (first && !json)
		sbuf_addc(b, '-');
}

static void flows_emit(struct sink *s, const struct event *ev)
{
	struct out_flows *o = (struct out_flows *)s;
	if (ev->type != EV_FLOW_END)
		return;
	const struct flow_info *fi = ev->flow;
	char c[ENDPOINT_STRLEN], sv[ENDPOINT_STRLEN];
	endpoint_str(&fi->client, c, sizeof c);
	endpoint_str(&fi->server, sv, sizeof sv);
	struct sbuf *b = &o->line;
	sbuf_clear(b);
	if (o->json) {
		sbuf_addf(b, "{\"type\":\"flow\",\"flow\":%llu,\"ts\":\"", (unsigned long long)fi->id);
		fmt_time(b, fi->first_ts_us);
		sbuf_addf(b, "\",\"duration\":%.6f,\"client\":\"%s\",\"server\":\"%s\"",
		          (double)(fi->last_ts_us - fi->first_ts_us) / 1e6, c, sv);
		sbuf_addf(b, ",\"packets_c2s\":%llu,\"packets_s2c\":%llu,\"bytes_c2s\":%llu,\"bytes_s2c\":%llu",
		          (unsigned long long)fi->pkts[0], (unsigned long long)fi->pkts[1],
		          (unsigned long long)fi->bytes[0], (unsigned long long)fi->bytes[1]);
		sbuf_addf(b, ",\"gaps_c2s\":%u,\"gaps_s2c\":%u,\"gap_bytes_c2s\":%llu,\"gap_bytes_s2c\":%llu",
		          fi->gaps[0], fi->gaps[1], (unsigned long long)fi->gap_bytes[0],
		          (unsigned long long)fi->gap_bytes[1]);
		sbuf_addf(b, ",\"handshake\":%s,\"end\":\"%s\",\"anomalies\":[",
		          fi->syn_seen ? "true" : "false", flow_end_str(fi->end));
		anoms_text(b, &fi->anoms, 1);
		sbuf_adds(b, "]}\n");
	} else {
		if (o->n == 0)
			fprintf(o->f, "%-5s %-26s %-47s %-47s %10s %10s %5s %-7s %s\n", "flow", "start", "client",
			        "server", "c2s", "s2c", "gaps", "end", "anomalies");
		sbuf_addf(b, "%-5llu ", (unsigned long long)fi->id);
		fmt_time(b, fi->first_ts_us);
		sbuf_addf(b, " %-47s %-47s %10llu %10llu %5u %-7s ", c, sv, (unsigned long long)fi->bytes[0],
		          (unsigned long long)fi->bytes[1], fi->gaps[0] + fi->gaps[1], flow_end_str(fi->end));
		anoms_text(b, &fi->anoms, 0);
		sbuf_addc(b, '\n');
	}
	fwrite(b->buf, 1, b->len, o->f);
	o->n++;
}

static void flows_flush(struct sink *s)
{
	fflush(((struct out_flows *)s)->f);
}

static void flows_close(struct sink *s)
{
	struct out_flows *o = (struct out_flows *)s;
	fflush(o->f);
	sbuf_free(&o->line);
	free(o);
}

static const struct sink_ops flows_ops = { flows_emit, flows_flush, flows_close };

struct sink *out_flows_new(FILE *f, int json)
{
	struct out_flows *o = xcalloc(1, sizeof *o);
	o->base.ops = &flows_ops;
	o->base.wants = EV_BIT(EV_FLOW_END);
	o->f = f;
	o->json = json;
	return &o->base;
}
