/* out_tls — TLS facts for the sinks; contract in include/out_tls.h, fields
 * in docs/schema.md ("TLS"). */
#include "out_tls.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "esc.h"
#include "tls.h"
#include "verdict.h"

const char *out_tls_keys_str(int keys)
{
	switch (keys) {
	case TLS_KEYS_MISSING: return "missing";
	case TLS_KEYS_OK: return "ok";
	case TLS_KEYS_FAILED: return "failed";
	case TLS_KEYS_UNSUPPORTED: return "unsupported";
	default: return "none";
	}
}

void out_tls_time(char buf[24], int64_t t)
{
	/* clamp to what four year digits hold: 0000-01-01 .. 9999-12-31 */
	const int64_t lo = -62167219200LL, hi = 253402300799LL;
	if (t < lo)
		t = lo;
	if (t > hi)
		t = hi;
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm))
		memset(&tm, 0, sizeof tm);
	snprintf(buf, 24, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void out_tls_cert_cn(const struct tls_cert *c, char *buf, size_t len)
{
	verdict_subject_cn(c->subject, buf, len);
}

static bool is_grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

static void key(struct sbuf *b, const char *k)
{
	ob_addc(b, ',');
	esc_json_str(b, k);
	ob_addc(b, ':');
}

static void kv_str(struct sbuf *b, const char *k, const char *v)
{
	key(b, k);
	esc_json_str(b, v);
}

static void kv_u64(struct sbuf *b, const char *k, uint64_t v)
{
	char t[24];
	key(b, k);
	snprintf(t, sizeof t, "%" PRIu64, v);
	ob_adds(b, t);
}

static void kv_time(struct sbuf *b, const char *k, int64_t t)
{
	char s[24];
	out_tls_time(s, t);
	kv_str(b, k, s);
}

/* "a,b,c" as a JSON array of strings. */
static void csv_array(struct sbuf *b, const char *k, const char *csv)
{
	key(b, k);
	ob_addc(b, '[');
	for (const char *p = csv; *p;) {
		size_t n = strcspn(p, ",");
		if (p != csv)
			ob_addc(b, ',');
		esc_json_strn(b, p, n);
		p += n;
		if (*p)
			p++;
	}
	ob_addc(b, ']');
}

static void cert_json(struct sbuf *b, const struct tls_cert *c)
{
	ob_addc(b, '{');
	esc_json_str(b, "subject");
	ob_addc(b, ':');
	esc_json_str(b, c->subject);
	kv_str(b, "issuer", c->issuer);
	key(b, "san_dns");
	ob_addc(b, '[');
	for (unsigned i = 0; i < c->n_san; i++) {
		if (i)
			ob_addc(b, ',');
		esc_json_str(b, c->san_dns[i]);
	}
	ob_addc(b, ']');
	if (c->n_san_total > c->n_san)
		kv_u64(b, "san_dns_total", c->n_san_total);
	kv_time(b, "not_before", c->not_before);
	kv_time(b, "not_after", c->not_after);
	kv_str(b, "serial", c->serial);
	kv_str(b, "key_type", c->key_type);
	kv_u64(b, "key_bits", c->key_bits > 0 ? (uint64_t)c->key_bits : 0);
	kv_str(b, "sig_alg", c->sig_alg);
	kv_str(b, "sha256", c->sha256);
	key(b, "self_signed");
	ob_adds(b, c->self_signed ? "true" : "false");
	ob_addc(b, '}');
}

void out_tls_json(struct sbuf *b, const struct tls_info *ti)
{
	if (!ti)
		return;
	if (ti->version)
		kv_str(b, "tls_version", tls_version_str(ti->version));
	if (ti->server.seen)
		kv_str(b, "tls_cipher", tls_cipher_str(ti->cipher));
	if (ti->group && ti->version == 0x0304)
		kv_str(b, "tls_group", tls_group_str(ti->group));
	if (ti->client.sni[0])
		kv_str(b, "tls_sni", ti->client.sni);
	if (ti->server.alpn[0])
		kv_str(b, "tls_alpn", ti->server.alpn);
	if (ti->client.alpn[0])
		csv_array(b, "tls_client_alpn", ti->client.alpn);
	bool any = false;
	for (unsigned i = 0; i < ti->client.n_versions; i++) {
		uint16_t v = ti->client.versions[i];
		if (is_grease(v))
			continue;
		if (!any)
			key(b, "tls_client_versions"), ob_addc(b, '[');
		else
			ob_addc(b, ',');
		any = true;
		esc_json_str(b, tls_version_str(v));
	}
	if (any)
		ob_addc(b, ']');
	if (ti->hello_retry)
		ob_adds(b, ",\"tls_hello_retry\":true");
	if (ti->ja4[0])
		kv_str(b, "ja4", ti->ja4);
	if (ti->ja4s[0])
		kv_str(b, "ja4s", ti->ja4s);
	if (ti->cert_seen) {
		kv_u64(b, "tls_chain_len", ti->n_certs_total);
		if (ti->n_certs && !ti->certs[0].parse_error) {
			key(b, "tls_server_cert");
			cert_json(b, &ti->certs[0]);
		}
	}
	kv_str(b, "tls_keys", out_tls_keys_str(ti->keys));
	if (ti->alert_seen)
		kv_str(b, "tls_alert", tls_alert_str(ti->alert_desc));
	key(b, "tls_records");
	char t[48];
	snprintf(t, sizeof t, "[%" PRIu64 ",%" PRIu64 "]", ti->records[0], ti->records[1]);
	ob_adds(b, t);
}

void out_tls_line(struct sbuf *b, const struct tls_info *ti)
{
	if (!ti)
		return;
	sbuf_adds(b, ti->version ? tls_version_str(ti->version) : "TLS (version unknown)");
	if (ti->server.seen) {
		sbuf_addc(b, ' ');
		sbuf_adds(b, tls_cipher_str(ti->cipher));
	}
	if (ti->group && ti->version == 0x0304) {
		sbuf_addc(b, ' ');
		sbuf_adds(b, tls_group_str(ti->group));
	}
	if (ti->hello_retry)
		sbuf_adds(b, " (HelloRetryRequest)");
	if (ti->client.sni[0]) {
		sbuf_adds(b, " sni=");
		sbuf_adds(b, ti->client.sni);
	}
	if (ti->server.alpn[0]) {
		sbuf_adds(b, " alpn=");
		sbuf_adds(b, ti->server.alpn);
	}
	if (ti->ja4[0]) {
		sbuf_adds(b, " ja4=");
		sbuf_adds(b, ti->ja4);
	}
	if (ti->ja4s[0]) {
		sbuf_adds(b, " ja4s=");
		sbuf_adds(b, ti->ja4s);
	}
	if (ti->cert_seen && ti->n_certs && !ti->certs[0].parse_error) {
		sbuf_adds(b, " cert=\"");
		sbuf_adds(b, ti->certs[0].subject);
		sbuf_addc(b, '"');
		if (ti->certs[0].self_signed)
			sbuf_adds(b, " (self-signed)");
	}
	if (ti->alert_seen) {
		sbuf_adds(b, " alert=");
		sbuf_adds(b, tls_alert_str(ti->alert_desc));
	}
	if (ti->keys != TLS_KEYS_NONE) {
		sbuf_adds(b, " keys=");
		sbuf_adds(b, out_tls_keys_str(ti->keys));
	}
}
