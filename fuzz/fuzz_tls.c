/* libFuzzer target: the TLS record layer and handshake parser (src/tls.c).
 *
 * Input: one flag byte, then records { u8 op, u16 len, len bytes }:
 *   flag & 1: the tls_conn gets a key store holding TLS 1.2 and 1.3 secrets
 *             for the client random of 32 zero bytes (so the decryption hook,
 *             its key changes and its failures are reached)
 *   op & 1:   direction (0 client->server, 1 server->client)
 *   op & 2:   a capture gap of len bytes instead of data
 * Each data record is fed twice, to two connections: once whole, once cut
 * into pieces of (op >> 2) + 1 bytes. Oracles: both connections end in the
 * same state (record layer and handshake reassembly do not depend on the
 * segmentation); every stored string is printable ASCII; the counts keep
 * their caps; plaintext handed out equals plain_bytes; at most one gap is
 * reported per direction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tls.h"
#include "tls_crypt.h"
#include "fuzz_common.h"

struct acc {
	uint64_t plain[2];
	unsigned gaps[2];
};

static void o_plain(void *u, int dir, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)ts;
	fz_touch(p, n);
	((struct acc *)u)->plain[dir & 1] += n;
}
static void o_gap(void *u, int dir, uint64_t len, uint64_t ts)
{
	(void)len, (void)ts;
	((struct acc *)u)->gaps[dir & 1]++;
}

static void printable(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == cap)
		abort();                 /* not terminated */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

static void check(const struct tls_info *in, const struct acc *a)
{
	printable(in->client.sni, sizeof in->client.sni);
	printable(in->client.alpn, sizeof in->client.alpn);
	printable(in->server.alpn, sizeof in->server.alpn);
	printable(in->ja4, sizeof in->ja4);
	printable(in->ja4s, sizeof in->ja4s);
	if (in->n_certs > TLS_CERTS_MAX || in->n_certs > in->n_certs_total)
		abort();
	for (unsigned i = 0; i < in->n_certs; i++) {
		const struct tls_cert *c = &in->certs[i];
		printable(c->subject, sizeof c->subject);
		printable(c->issuer, sizeof c->issuer);
		printable(c->serial, sizeof c->serial);
		printable(c->key_type, sizeof c->key_type);
		printable(c->sig_alg, sizeof c->sig_alg);
		printable(c->sha256, sizeof c->sha256);
		if (c->n_san > TLS_SAN_MAX || c->n_san > c->n_san_total)
			abort();
		for (unsigned k = 0; k < c->n_san; k++)
			printable(c->san_dns[k], TLS_NAME_MAX);
	}
	const struct tls_hello *h[2] = { &in->client, &in->server };
	for (int i = 0; i < 2; i++)
		if (h[i]->n_suites > TLS_LIST_MAX || h[i]->n_exts > TLS_LIST_MAX || h[i]->n_versions > TLS_LIST_MAX ||
		    h[i]->n_groups > TLS_LIST_MAX || h[i]->n_sigalgs > TLS_LIST_MAX ||
		    h[i]->n_key_shares > TLS_KEY_SHARES_MAX)
			abort();
	for (int d = 0; d < 2; d++)
		if (a->plain[d] != in->plain_bytes[d] || a->gaps[d] > 1)
			abort();
}

static struct tls_keys *keys;

static void make_keys(void)
{
	static const char *kinds[] = { "CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
	                               "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
	                               "SERVER_TRAFFIC_SECRET_0" };
	char text[2048];
	size_t n = 0;
	for (int i = 0; i < 5; i++) {
		n += (size_t)snprintf(text + n, sizeof text - n, "%s ", kinds[i]);
		for (int k = 0; k < 32; k++)
			n += (size_t)snprintf(text + n, sizeof text - n, "00");
		n += (size_t)snprintf(text + n, sizeof text - n, " ");
		for (int k = 0; k < (i ? 32 : 48); k++)
			n += (size_t)snprintf(text + n, sizeof text - n, "%02x", (unsigned)(k * 7 + i));
		n += (size_t)snprintf(text + n, sizeof text - n, "\n");
	}
	keys = tls_keys_new();
	tls_keys_add_text(keys, (const uint8_t *)text, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!keys)
		make_keys();
	struct fz f = { data, size };
	uint8_t flag = fz_u8(&f);
	struct acc a1 = { { 0, 0 }, { 0, 0 } }, a2 = a1;
	struct tls_callbacks cb1 = { o_plain, o_gap, &a1 }, cb2 = { o_plain, o_gap, &a2 };
	const struct tls_keys *k = (flag & 1) ? keys : NULL;
	struct tls_conn *c1 = tls_conn_new(k, &cb1), *c2 = tls_conn_new(k, &cb2);
	if (!c1 || !c2)
		abort();
	uint64_t ts = 0;
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f);
		uint16_t len = fz_u16(&f);
		int dir = op & 1;
		ts++;
		if (op & 2) {
			tls_conn_gap(c1, dir, len, ts);
			tls_conn_gap(c2, dir, len, ts);
			continue;
		}
		size_t n;
		uint8_t *buf = fz_copy(&f, len, &n);
		tls_conn_data(c1, dir, buf, n, ts);
		size_t step = (size_t)(op >> 2) + 1;
		for (size_t o = 0; o < n; o += step)
			tls_conn_data(c2, dir, buf + o, n - o < step ? n - o : step, ts);
		free(buf);
	}
	const struct tls_info *i1 = tls_conn_info(c1), *i2 = tls_conn_info(c2);
	check(i1, &a1);
	check(i2, &a2);
	if (memcmp(&i1->anoms, &i2->anoms, sizeof i1->anoms) != 0 || strcmp(i1->ja4, i2->ja4) != 0 ||
	    strcmp(i1->ja4s, i2->ja4s) != 0 || i1->version != i2->version || i1->cipher != i2->cipher ||
	    i1->records[0] != i2->records[0] || i1->records[1] != i2->records[1] ||
	    i1->n_certs_total != i2->n_certs_total || strcmp(i1->client.sni, i2->client.sni) != 0 ||
	    i1->app_bytes[0] != i2->app_bytes[0] || i1->app_bytes[1] != i2->app_bytes[1] ||
	    a1.plain[0] != a2.plain[0] || a1.plain[1] != a2.plain[1] || i1->keys != i2->keys ||
	    i1->opaque_bytes[0] != i2->opaque_bytes[0] || i1->opaque_bytes[1] != i2->opaque_bytes[1])
		abort();
	tls_conn_free(c1);
	tls_conn_free(c2);
	return 0;
}
