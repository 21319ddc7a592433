/* Unit tests of src/tls_crypt.c and src/tls_keys.c (include/tls_crypt.h).
 *
 * - RFC 8448 section 3 (tests/tls_vectors/rfc8448_1rtt.txt): the server's
 *   encrypted handshake flight, the client Finished, the NewSessionTicket,
 *   the application data and alerts of both directions decrypt to the RFC's
 *   plaintext with tls13_keys from the RFC's traffic secrets.
 * - Lab captures (tests/tls_vectors/NAME.pcap + NAME.keys, made by
 *   make_vectors.sh with openssl s_server -rev / s_client -keylogfile and
 *   checked with tshark): a small pcap walker rebuilds both TCP streams,
 *   parses the hellos for the randoms, suite, version and encrypt-then-MAC,
 *   looks the secrets up in the key store and decrypts every record; the
 *   client's plaintext must be exactly the lines the script sent, the
 *   server's their reversal. TLS 1.3 captures carry a KeyUpdate each way.
 * - Wrong keys, truncated and altered records, unsupported suites: false,
 *   and the sequence number does not move.
 * - The key store: labels, comments, CRLF, bad lines, overlong lines, the
 *   cap, incremental re-reading of a growing, truncated and replaced file,
 *   lookups while another thread adds. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "capture.h"
#include "harness.h"
#include "tls_crypt.h"

#define VEC "tests/tls_vectors/"

/* ---- helpers ------------------------------------------------------------- */

static uint8_t *read_all(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	uint8_t *b = malloc(cap);
	size_t r;
	while ((r = fread(b + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	*n = len;
	return b;
}

static int hv(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* The hex value "name:" in the RFC 8448 vector file, into out (cap). */
static size_t vec_hex(const char *text, const char *name, uint8_t *out, size_t cap)
{
	char key[80];
	snprintf(key, sizeof key, "\n%s:\n", name);
	const char *p = strstr(text, key);
	if (!p)
		return 0;
	p += strlen(key);
	size_t n = 0;
	int hi = -1;
	while (*p && !(p[0] == '\n' && (p[1] == '\n' || p[1] == '#' || p[1] == 0))) {
		if (*p == '\n' && strchr(p + 1, ':') && strchr(p + 1, ':') < strchr(p + 1, '\n'))
			break; /* the next "name:" line */
		int v = hv((unsigned char)*p);
		if (v >= 0) {
			if (hi < 0) {
				hi = v;
			} else {
				if (n < cap)
					out[n] = (uint8_t)(hi << 4 | v);
				n++;
				hi = -1;
			}
		}
		p++;
	}
	return n;
}

/* ---- RFC 8448 --------------------------------------------------------------- */

/* Seal a TLS 1.3 record (test side, AES-128-GCM) with the key and IV the RFC
 * prints for the server handshake traffic secret: inner plaintext
 * content || type || pad zeros. Returns the record length. */
static size_t seal13(const uint8_t *content, size_t n, uint8_t type, size_t pad, uint64_t seq, uint8_t *rec)
{
	static const uint8_t key[16] = { 0x3f, 0xce, 0x51, 0x60, 0x09, 0xc2, 0x17, 0x27,
	                                 0xd0, 0xf2, 0xe4, 0xe8, 0x6e, 0xe4, 0x03, 0xbc };
	static const uint8_t iv[12] = { 0x5d, 0x31, 0x3e, 0xb2, 0x67, 0x12, 0x76, 0xee, 0x13, 0x00, 0x0b, 0x30 };
	uint8_t inner[512], nonce[12];
	memcpy(inner, content, n);
	inner[n] = type;
	memset(inner + n + 1, 0, pad);
	size_t in = n + 1 + pad, len = in + 16;
	memcpy(nonce, iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(seq >> (8 * i));
	rec[0] = 23, rec[1] = 3, rec[2] = 3, rec[3] = (uint8_t)(len >> 8), rec[4] = (uint8_t)len;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l;
	EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce);
	EVP_EncryptUpdate(c, NULL, &l, rec, 5);
	EVP_EncryptUpdate(c, rec + 5, &l, inner, (int)in);
	EVP_EncryptFinal_ex(c, rec + 5 + in, &l);
	EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, rec + 5 + in);
	EVP_CIPHER_CTX_free(c);
	return 5 + len;
}

static void test_tls13_padding(const uint8_t s_hs[32])
{
	uint8_t rec[600], out[600], it = 0;
	size_t on = 0;
	struct tls_dir_crypt *d = tls13_keys(0x1301, s_hs, 32);
	CHECK(d != NULL);
	/* zero padding after the type is stripped; zeros inside the content stay */
	size_t rn = seal13((const uint8_t *)"EHLO\0\0", 6, 23, 100, 0, rec);
	CHECK(tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	CHECK(it == 23);
	CHECK_MEM(out, on, "EHLO\0\0", 6);
	/* an empty content with padding: a valid zero-length record */
	rn = seal13((const uint8_t *)"", 0, 23, 7, 1, rec);
	CHECK(tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it) && on == 0 && it == 23);
	/* all zeros (no content type): refused (RFC 8446 5.4), seq stays at 2 */
	rn = seal13((const uint8_t *)"", 0, 0, 20, 2, rec);
	CHECK(!tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	rn = seal13((const uint8_t *)"QUIT", 4, 23, 0, 2, rec);
	CHECK(tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	CHECK_MEM(out, on, "QUIT", 4);
	tls_dir_free(d);
}

static void test_rfc8448(void)
{
	size_t tn;
	char *text = (char *)read_all(VEC "rfc8448_1rtt.txt", &tn);
	CHECK(text != NULL);
	if (!text)
		return;
	text = realloc(text, tn + 1);
	text[tn] = 0;
	static uint8_t s_hs[64], c_hs[64], s_ap[64], c_ap[64], rec[1024], want[1024], out[1024];
	size_t ns = vec_hex(text, "server_hs_secret", s_hs, sizeof s_hs);
	size_t nc = vec_hex(text, "client_hs_secret", c_hs, sizeof c_hs);
	CHECK(ns == 32 && nc == 32);
	CHECK(vec_hex(text, "server_ap_secret", s_ap, sizeof s_ap) == 32);
	test_tls13_padding(s_hs);
	CHECK(vec_hex(text, "client_ap_secret", c_ap, sizeof c_ap) == 32);

	/* the server's handshake flight */
	size_t rn = vec_hex(text, "server_flight_record", rec, sizeof rec);
	size_t wn = vec_hex(text, "server_flight_plain", want, sizeof want);
	CHECK(rn == 679 && wn == 657);
	struct tls_dir_crypt *d = tls13_keys(0x1301, s_hs, 32);
	CHECK(d != NULL);
	size_t on = 99;
	uint8_t it = 0;
	/* cut by one byte: refused, and the sequence number stays */
	CHECK(!tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 6, out, &on, &it));
	CHECK(on == 0);
	/* one bit flipped in the ciphertext: refused */
	rec[100] ^= 1;
	CHECK(!tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	rec[100] ^= 1;
	/* the header is authenticated too (RFC 8446 5.2: additional_data) */
	CHECK(!tls_dir_open(d, 0x17, 0x0301, rec + 5, rn - 5, out, &on, &it));
	CHECK(tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	CHECK(it == 22);
	CHECK_MEM(out, on, want, wn);
	/* the same record again: the nonce has moved on (seq 1) */
	CHECK(!tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	tls_dir_free(d);

	/* a wrong secret (one bit): never authenticates */
	s_hs[0] ^= 0x80;
	d = tls13_keys(0x1301, s_hs, 32);
	CHECK(d != NULL);
	CHECK(!tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	tls_dir_free(d);
	/* the right secret under another suite */
	s_hs[0] ^= 0x80;
	d = tls13_keys(0x1303, s_hs, 32);
	CHECK(d != NULL && !tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	tls_dir_free(d);
	CHECK(tls13_keys(0x1302, s_hs, 32) == NULL);  /* SHA-384 suite, 32-byte secret */
	CHECK(tls13_keys(0x1304, s_hs, 32) == NULL);  /* CCM: not supported */
	CHECK(tls13_keys(0x1301, s_hs, 31) == NULL);

	/* the client Finished under the client handshake secret */
	rn = vec_hex(text, "client_finished_record", rec, sizeof rec);
	wn = vec_hex(text, "client_finished_plain", want, sizeof want);
	d = tls13_keys(0x1301, c_hs, 32);
	CHECK(rn == 58 && wn == 36);
	CHECK(tls_dir_open(d, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	CHECK(it == 22);
	CHECK_MEM(out, on, want, wn);
	tls_dir_free(d);

	/* server application traffic: NewSessionTicket (seq 0), data (seq 1), alert (seq 2) */
	struct tls_dir_crypt *s = tls13_keys(0x1301, s_ap, 32);
	struct tls_dir_crypt *c = tls13_keys(0x1301, c_ap, 32);
	uint8_t payload[50];
	for (int i = 0; i < 50; i++)
		payload[i] = (uint8_t)i;
	rn = vec_hex(text, "server_nst_record", rec, sizeof rec);
	CHECK(rn == 227);
	CHECK(tls_dir_open(s, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	CHECK(it == 22 && on > 4 && out[0] == 4); /* NewSessionTicket */
	CHECK(on == 4 + ((size_t)out[1] << 16 | (size_t)out[2] << 8 | out[3]));
	rn = vec_hex(text, "server_app_record", rec, sizeof rec);
	CHECK(tls_dir_open(s, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	CHECK(it == 23);
	CHECK_MEM(out, on, payload, 50);
	rn = vec_hex(text, "client_app_record", rec, sizeof rec);
	CHECK(tls_dir_open(c, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	CHECK(it == 23);
	CHECK_MEM(out, on, payload, 50);
	rn = vec_hex(text, "client_alert_record", rec, sizeof rec);
	CHECK(tls_dir_open(c, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	CHECK(it == 21 && on == 2 && out[0] == 1 && out[1] == 0); /* warning close_notify */
	rn = vec_hex(text, "server_alert_record", rec, sizeof rec);
	CHECK(tls_dir_open(s, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	CHECK(it == 21 && on == 2 && out[0] == 1 && out[1] == 0);
	/* after a KeyUpdate the old keys no longer open the next record */
	CHECK(tls13_key_update(s));
	CHECK(!tls_dir_open(s, rec[0], 0x0303, rec + 5, rn - 5, out, &on, &it));
	tls_dir_free(s);
	tls_dir_free(c);
	free(text);
}

/* ---- a tiny pcap walker ------------------------------------------------------ */

struct stream {
	uint8_t *b;
	size_t n, cap;
	uint32_t next;
	int started;
};

static void stream_add(struct stream *s, uint32_t seq, const uint8_t *p, size_t n, int syn)
{
	if (syn) {
		s->next = seq + 1;
		s->started = 1;
		return;
	}
	if (!s->started || !n)
		return;
	int32_t d = (int32_t)(seq - s->next);
	if (d > 0)
		return;                 /* a hole: the loopback captures have none */
	size_t skip = (size_t)(-d);
	if (skip >= n)
		return;                 /* retransmission */
	p += skip, n -= skip;
	if (s->n + n > s->cap) {
		s->cap = (s->n + n) * 2;
		s->b = realloc(s->b, s->cap);
	}
	memcpy(s->b + s->n, p, n);
	s->n += n;
	s->next += (uint32_t)n;
}

/* Both streams of the one TCP connection in a classic pcap (Ethernet or
 * Linux cooked, IPv4). st[0] client -> server. */
static int pcap_streams(const char *path, struct stream st[2])
{
	size_t n;
	uint8_t *f = read_all(path, &n);
	if (!f || n < 24)
		return -1;
	uint32_t magic;
	memcpy(&magic, f, 4);
	if (magic != 0xa1b2c3d4u) {
		free(f);
		return -1;
	}
	uint32_t lt;
	memcpy(&lt, f + 20, 4);
	size_t off = 24;
	uint16_t cport = 0;
	while (off + 16 <= n) {
		uint32_t cap;
		memcpy(&cap, f + off + 8, 4);
		const uint8_t *p = f + off + 16;
		off += 16 + cap;
		if (off > n)
			break;
		size_t l2 = lt == 1 ? 14 : lt == 113 ? 16 : 0;
		if (!l2 || cap < l2 + 20 || p[l2 - 2] != 0x08 || p[l2 - 1] != 0x00)
			continue;
		const uint8_t *ip = p + l2;
		size_t ihl = (size_t)(ip[0] & 15) * 4, tot = (size_t)ip[2] << 8 | ip[3];
		if (ip[9] != 6 || tot > cap - l2 || tot < ihl + 20)
			continue;
		const uint8_t *tcp = ip + ihl;
		uint16_t sp = (uint16_t)(tcp[0] << 8 | tcp[1]);
		uint32_t seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
		size_t doff = (size_t)(tcp[12] >> 4) * 4;
		uint8_t fl = tcp[13];
		if ((fl & 0x12) == 0x02)
			cport = sp;     /* the SYN names the client */
		int dir = sp == cport ? 0 : 1;
		stream_add(&st[dir], seq, tcp + doff, tot - ihl - doff, fl & 0x02);
	}
	free(f);
	return cport ? 0 : -1;
}

/* ---- decrypting a lab capture ------------------------------------------------ */

struct hello {
	uint8_t random[32];
	uint16_t version;     /* legacy_version, or supported_versions (server) */
	uint16_t suite;
	int etm;
};

/* ClientHello / ServerHello body (after the 4-byte handshake header). */
static int parse_hello(const uint8_t *p, size_t n, int server, struct hello *h)
{
	size_t i = 0;
	if (n < 2 + 32 + 1)
		return -1;
	h->version = (uint16_t)(p[0] << 8 | p[1]);
	memcpy(h->random, p + 2, 32);
	i = 34;
	i += 1 + p[i];                                   /* session id */
	if (i + 2 > n)
		return -1;
	if (server) {
		h->suite = (uint16_t)(p[i] << 8 | p[i + 1]);
		i += 3;
	} else {
		i += 2 + ((size_t)p[i] << 8 | p[i + 1]);     /* suites */
		if (i >= n)
			return -1;
		i += 1 + p[i];                               /* compression */
	}
	if (i + 2 > n)
		return 0;
	size_t end = i + 2 + ((size_t)p[i] << 8 | p[i + 1]);
	i += 2;
	while (i + 4 <= end && end <= n) {
		uint16_t t = (uint16_t)(p[i] << 8 | p[i + 1]);
		size_t l = (size_t)p[i + 2] << 8 | p[i + 3];
		if (t == 22)
			h->etm = 1;
		if (t == 43 && server && l == 2)
			h->version = (uint16_t)(p[i + 4] << 8 | p[i + 5]);
		i += 4 + l;
	}
	return 0;
}

struct dirstate {
	struct tls_dir_crypt *d;
	int encrypted;          /* TLS <= 1.2: after ChangeCipherSpec */
	int app;                /* TLS 1.3: application keys */
	uint8_t *plain;
	size_t np;
	unsigned records, key_updates, finished;
};

static int lab_case(const char *name, const char *want_client, int want_key_updates)
{
	char path[256];
	struct stream st[2] = { { 0 } };
	snprintf(path, sizeof path, VEC "%s.pcap", name);
	if (pcap_streams(path, st) != 0) {
		fprintf(stderr, "FAIL %s: cannot read %s\n", name, path);
		return -1;
	}
	struct tls_keys *k = tls_keys_new();
	char err[256];
	snprintf(path, sizeof path, VEC "%s.keys", name);
	CHECK(tls_keys_add_file(k, path, err, sizeof err) == 0);
	CHECK(tls_keys_bad_lines(k) == 0);

	struct hello ch = { { 0 }, 0, 0, 0 }, sh = { { 0 }, 0, 0, 0 };
	struct dirstate ds[2];
	memset(ds, 0, sizeof ds);
	int fail = 0;
	size_t pos[2] = { 0, 0 };
	static uint8_t out[20000];
	/* the client's first flight, then alternate: the order across directions
	 * matters only for the hellos, which come first in each stream */
	for (int round = 0; round < 2; round++)
		for (int dir = 0; dir < 2; dir++) {
			struct stream *s = &st[dir];
			struct dirstate *x = &ds[dir];
			while (pos[dir] + 5 <= s->n) {
				const uint8_t *r = s->b + pos[dir];
				size_t len = (size_t)r[3] << 8 | r[4];
				if (pos[dir] + 5 + len > s->n)
					break;
				uint8_t type = r[0];
				uint16_t ver = (uint16_t)(r[1] << 8 | r[2]);
				const uint8_t *body = r + 5;
				if (round == 0 && type == 22 && !x->encrypted && !(sh.version == 0x0304 && dir == 1 && sh.suite)) {
					/* a plaintext hello */
					if (body[0] == 1 && dir == 0)
						parse_hello(body + 4, len - 4, 0, &ch);
					else if (body[0] == 2 && dir == 1)
						parse_hello(body + 4, len - 4, 1, &sh);
					pos[dir] += 5 + len;
					continue;
				}
				if (round == 0)
					break; /* the rest once both hellos are known */
				pos[dir] += 5 + len;
				int tls13 = sh.version == 0x0304;
				if (type == 20) {   /* ChangeCipherSpec: TLS <= 1.2 keys start; ignored in 1.3 */
					if (!tls13)
						x->encrypted = 1;
					continue;
				}
				if (!x->d) {
					struct tls_secret sec;
					if (tls13) {
						enum tls_secret_kind kind = dir ? TLS_SECRET_SERVER_HS : TLS_SECRET_CLIENT_HS;
						if (!tls_keys_lookup(k, ch.random, kind, &sec)) {
							fail = 1;
							break;
						}
						x->d = tls13_keys(sh.suite, sec.b, sec.n);
					} else {
						if (!x->encrypted)
							continue;   /* plaintext handshake (Certificate, ...) */
						struct tls_dir_crypt *both[2];
						if (!tls_keys_lookup(k, ch.random, TLS_SECRET_MASTER, &sec) || sec.n != 48 ||
						    !tls12_keys(sh.version, sh.suite, sec.b, ch.random, sh.random, sh.etm != 0, both)) {
							fail = 1;
							break;
						}
						x->d = both[dir];
						tls_dir_free(both[!dir]);
					}
					if (!x->d) {
						fail = 1;
						break;
					}
				}
				size_t on = 0;
				uint8_t it = 0;
				if (!tls_dir_open(x->d, type, ver, body, len, out, &on, &it)) {
					fprintf(stderr, "FAIL %s: dir %d record %u (type %u, %zu bytes) did not open\n",
					        name, dir, x->records, type, len);
					fail = 1;
					break;
				}
				x->records++;
				if (it == 23) {
					x->plain = realloc(x->plain, x->np + on + 1);
					memcpy(x->plain + x->np, out, on);
					x->np += on;
				} else if (it == 22) {
					/* handshake messages in this record (each within one record here) */
					size_t i = 0;
					int ku = 0, fin = 0;
					while (i + 4 <= on) {
						size_t ml = (size_t)out[i + 1] << 16 | (size_t)out[i + 2] << 8 | out[i + 3];
						if (out[i] == 20)
							fin = 1;
						if (out[i] == 24)
							ku = 1;
						i += 4 + ml;
					}
					if (fin)
						x->finished++;
					if (tls13 && fin && !x->app) {
						struct tls_secret sec;
						enum tls_secret_kind kind = dir ? TLS_SECRET_SERVER_AP0 : TLS_SECRET_CLIENT_AP0;
						tls_dir_free(x->d);
						x->d = NULL;
						if (!tls_keys_lookup(k, ch.random, kind, &sec) ||
						    !(x->d = tls13_keys(sh.suite, sec.b, sec.n))) {
							fail = 1;
							break;
						}
						x->app = 1;
					}
					if (ku) {
						CHECK(tls13_key_update(x->d));
						x->key_updates++;
					}
				}
			}
		}
	size_t wl = strlen(want_client);
	if (!ds[0].plain || ds[0].np != wl || memcmp(ds[0].plain, want_client, wl) != 0) {
		fprintf(stderr, "FAIL %s: client plaintext (%zu bytes, want %zu)\n", name, ds[0].np, wl);
		fail = 1;
	}
	/* the server's first line is the client's first line reversed */
	const char *nl = strchr(want_client, '\n');
	size_t l1 = (size_t)(nl - want_client);
	if (!ds[1].plain || ds[1].np < l1 + 1) {
		fail = 1;
	} else {
		for (size_t i = 0; i < l1; i++)
			if (ds[1].plain[i] != (uint8_t)want_client[l1 - 1 - i])
				fail = 1;
	}
	if (ds[0].finished != 1 || ds[1].finished != 1)
		fail = 1;
	if ((int)ds[0].key_updates != want_key_updates || (int)ds[1].key_updates != want_key_updates) {
		fprintf(stderr, "FAIL %s: key updates %u/%u, want %d\n", name, ds[0].key_updates,
		        ds[1].key_updates, want_key_updates);
		fail = 1;
	}
	if (sh.version == 0x0304 ? !ds[0].app || !ds[1].app : 0)
		fail = 1;

	/* negative: the master secret / traffic secret with one bit flipped
	 * does not open the first protected record of the client */
	{
		const uint8_t *r = NULL;
		size_t p = 0;
		while (p + 5 <= st[0].n) {
			const uint8_t *q = st[0].b + p;
			size_t len = (size_t)q[3] << 8 | q[4];
			if (q[0] == 23 && sh.version == 0x0304) {
				r = q;
				break;
			}
			if (q[0] == 20 && sh.version != 0x0304) {
				r = q + 5 + len;  /* the record after ChangeCipherSpec: Finished */
				break;
			}
			p += 5 + len;
		}
		struct tls_secret sec;
		CHECK(r != NULL);
		if (r && sh.version == 0x0304 && tls_keys_lookup(k, ch.random, TLS_SECRET_CLIENT_HS, &sec)) {
			size_t len = (size_t)r[3] << 8 | r[4];
			size_t on;
			sec.b[5] ^= 4;
			struct tls_dir_crypt *d = tls13_keys(sh.suite, sec.b, sec.n);
			CHECK(d && !tls_dir_open(d, r[0], 0x0303, r + 5, len, out, &on, NULL));
			tls_dir_free(d);
		} else if (r && tls_keys_lookup(k, ch.random, TLS_SECRET_MASTER, &sec)) {
			size_t len = (size_t)r[3] << 8 | r[4];
			size_t on;
			struct tls_dir_crypt *both[2];
			sec.b[47] ^= 1;
			CHECK(tls12_keys(sh.version, sh.suite, sec.b, ch.random, sh.random, sh.etm != 0, both));
			CHECK(!tls_dir_open(both[0], r[0], sh.version, r + 5, len, out, &on, NULL));
			tls_dir_free(both[0]);
			tls_dir_free(both[1]);
			/* the right secret, the other encrypt-then-MAC setting: refused as well */
			sec.b[47] ^= 1;
			CHECK(tls12_keys(sh.version, sh.suite, sec.b, ch.random, sh.random, sh.etm == 0, both));
			if (sh.suite == 0xC013 || sh.suite == 0xC014 || sh.suite == 0x003C || sh.suite == 0xC028)
				CHECK(!tls_dir_open(both[0], r[0], sh.version, r + 5, len, out, &on, NULL));
			/* the right keys: the Finished opens; cut by a byte it does not */
			tls_dir_free(both[0]);
			tls_dir_free(both[1]);
			CHECK(tls12_keys(sh.version, sh.suite, sec.b, ch.random, sh.random, sh.etm != 0, both));
			CHECK(!tls_dir_open(both[0], r[0], sh.version, r + 5, len - 1, out, &on, NULL));
			CHECK(tls_dir_open(both[0], r[0], sh.version, r + 5, len, out, &on, NULL));
			CHECK(on == 16 && out[0] == 20); /* Finished, 12 bytes of verify_data */
			tls_dir_free(both[0]);
			tls_dir_free(both[1]);
		}
	}

	for (int i = 0; i < 2; i++) {
		tls_dir_free(ds[i].d);
		free(ds[i].plain);
		free(st[i].b);
	}
	tls_keys_free(k);
	if (fail)
		fprintf(stderr, "FAIL %s (suite 0x%04x, version 0x%04x, etm %d)\n", name, sh.suite, sh.version, sh.etm);
	CHECK(!fail);
	return fail ? -1 : 0;
}

static void test_lab(void)
{
	static const struct {
		const char *name;
		int ku;
	} cases[] = {
		{ "t12_aes128gcm", 0 }, { "t12_aes256gcm", 0 }, { "t12_chacha", 0 },
		{ "t12_cbc_etm", 0 }, { "t12_cbc_noetm", 0 }, { "t12_cbc256_sha384", 0 },
		{ "t12_cbc_sha256", 0 }, { "t10_cbc_noetm", 0 }, { "t10_cbc_etm", 0 }, { "t11_cbc_noetm", 0 },
		{ "t13_aes128gcm", 1 }, { "t13_aes256gcm", 1 }, { "t13_chacha", 1 },
	};
	static char want[4096];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* what make_vectors.sh sends */
		int n = snprintf(want, sizeof want, "hello from the client: %s\nsecond line, after the key update if any\n",
		                 cases[i].name);
		memset(want + n, 'x', 3000);
		want[n + 3000] = '\n';
		want[n + 3001] = 0;
		lab_case(cases[i].name, want, cases[i].ku);
	}
}

/* ---- suites ----------------------------------------------------------------- */

static void test_suites(void)
{
	uint8_t m[48] = { 1 }, cr[32] = { 2 }, sr[32] = { 3 };
	struct tls_dir_crypt *d[2] = { (void *)1, (void *)1 };
	CHECK(!tls12_keys(0x0303, 0x0005, m, cr, sr, false, d));   /* RC4: unsupported */
	CHECK(d[0] == NULL && d[1] == NULL);
	CHECK(!tls12_keys(0x0300, 0x002F, m, cr, sr, false, d));   /* SSL 3.0 */
	CHECK(!tls12_keys(0x0302, 0xC02F, m, cr, sr, false, d));   /* GCM below TLS 1.2 */
	CHECK(!tls12_keys(0x0304, 0x1301, m, cr, sr, false, d));
	CHECK(!tls12_keys(0x0303, 0x0000, m, cr, sr, false, d));   /* NULL_WITH_NULL_NULL */
	CHECK(tls_crypt_suite_supported(0x0303, 0xC02F));
	CHECK(tls_crypt_suite_supported(0x0302, 0xC013));
	CHECK(tls_crypt_suite_supported(0x0304, 0x1303));
	CHECK(!tls_crypt_suite_supported(0x0304, 0xC02F));
	CHECK(!tls_crypt_suite_supported(0x0303, 0x1301));
	/* every advertised suite derives keys */
	static const uint16_t some[] = { 0x009C, 0x009D, 0xC02B, 0xC030, 0xCCA8, 0xCCA9, 0x002F, 0x0035,
	                                 0x003C, 0x003D, 0xC023, 0xC024, 0xC027, 0xC028, 0x000A, 0xC012 };
	for (size_t i = 0; i < sizeof some / sizeof some[0]; i++) {
		bool ok = tls12_keys(0x0303, some[i], m, cr, sr, i & 1, d);
		CHECK(ok);
		if (ok) {
			/* garbage never opens, at any length, and never crashes */
			uint8_t body[200], out[200];
			for (size_t j = 0; j < sizeof body; j++)
				body[j] = (uint8_t)(j * 7 + i);
			for (size_t n = 0; n <= sizeof body; n += 13) {
				size_t on = 1;
				CHECK(!tls_dir_open(d[0], 23, 0x0303, body, n, out, &on, NULL));
				CHECK(on == 0);
			}
			tls_dir_free(d[0]);
			tls_dir_free(d[1]);
		}
	}
	/* TLS 1.0 CBC, both MAC orders */
	CHECK(tls12_keys(0x0301, 0xC014, m, cr, sr, false, d));
	tls_dir_free(d[0]);
	tls_dir_free(d[1]);
	CHECK(!tls13_key_update(NULL));
	tls_dir_free(NULL);
	uint8_t out[8];
	size_t on;
	CHECK(!tls_dir_open(NULL, 23, 0x0303, out, 0, out, &on, NULL));
}

/* ---- the key store ----------------------------------------------------------- */

static void hexs(char *o, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(o + 2 * i, "%02x", b[i]);
}

static void test_keys_text(void)
{
	struct tls_keys *k = tls_keys_new();
	const char *text =
		"# SSL/TLS secrets log file, generated by OpenSSL\r\n"
		"CLIENT_RANDOM 0101010101010101010101010101010101010101010101010101010101010101 "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
		"\r\n"
		"   \t\n"
		"SERVER_HANDSHAKE_TRAFFIC_SECRET 02020202020202020202020202020202020202020202020202020202020202FF "
		"BBbbBBbbBBbbBBbbBBbbBBbbBBbbBBbbBBbbBBbbBBbbBBbbBBbbBBbbBBbbBBbb\n"
		"CLIENT_HANDSHAKE_TRAFFIC_SECRET 02020202020202020202020202020202020202020202020202020202020202ff "
		"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\n"
		"EXPORTER_SECRET 02020202020202020202020202020202020202020202020202020202020202ff "
		"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\n"
		"CLIENT_TRAFFIC_SECRET_N 02020202020202020202020202020202020202020202020202020202020202ff "
		"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\n"
		"CLIENT_RANDOM 0101 aa\n"                                   /* bad: short random */
		"CLIENT_RANDOM 0101010101010101010101010101010101010101010101010101010101010101 aaaa\n" /* bad: 2 bytes */
		"CLIENT_RANDOM 010101010101010101010101010101010101010101010101010101010101010g "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" /* bad hex */
		"NO_SUCH_LABEL 0101010101010101010101010101010101010101010101010101010101010101 aa\n"
		"SERVER_TRAFFIC_SECRET_0 0303030303030303030303030303030303030303030303030303030303030303 "
		"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee extra\n" /* bad: 4 fields */
		"SERVER_TRAFFIC_SECRET_0 0303030303030303030303030303030303030303030303030303030303030303 "
		"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";  /* no final newline */
	tls_keys_add_text(k, (const uint8_t *)text, strlen(text));
	CHECK(tls_keys_count(k) == 4);
	CHECK(tls_keys_bad_lines(k) == 5);
	uint8_t cr[32];
	struct tls_secret s;
	memset(cr, 1, 32);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_MASTER, &s) && s.n == 48 && s.b[0] == 0xaa && s.b[47] == 0xaa);
	CHECK(!tls_keys_lookup(k, cr, TLS_SECRET_CLIENT_HS, &s));
	memset(cr, 2, 32);
	cr[31] = 0xff;
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_SERVER_HS, &s) && s.n == 32 && s.b[0] == 0xbb);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_CLIENT_HS, &s) && s.n == 48 && s.b[5] == 0xcc);
	CHECK(!tls_keys_lookup(k, cr, TLS_SECRET_CLIENT_AP0, &s));
	memset(cr, 3, 32);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_SERVER_AP0, &s) && s.n == 32 && s.b[31] == 0xee);
	CHECK(!tls_keys_lookup(k, cr, TLS_SECRET__COUNT, &s));
	/* a later line replaces the secret */
	const char *again = "SERVER_TRAFFIC_SECRET_0 0303030303030303030303030303030303030303030303030303030303030303 "
	                    "1111111111111111111111111111111111111111111111111111111111111111\n";
	tls_keys_add_text(k, (const uint8_t *)again, strlen(again));
	CHECK(tls_keys_count(k) == 4);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_SERVER_AP0, &s) && s.b[0] == 0x11);

	/* a 4 MiB line is one bad line and does not swallow the next one */
	size_t big = 4u << 20;
	char *b = malloc(big + 300);
	memset(b, 'A', big);
	b[big] = '\n';
	int m = snprintf(b + big + 1, 299, "CLIENT_RANDOM %064d %096d\n", 7, 9);
	tls_keys_add_text(k, (const uint8_t *)b, big + 1 + (size_t)m);
	CHECK(tls_keys_bad_lines(k) == 6);
	CHECK(tls_keys_count(k) == 5);
	/* NUL bytes and binary junk: bad lines, nothing stored */
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	tls_keys_add_text(k, junk, sizeof junk);
	CHECK(tls_keys_count(k) == 5);
	tls_keys_add_text(k, NULL, 0);
	free(b);
	tls_keys_free(k);

	/* many keys, and the cap */
	k = tls_keys_new();
	size_t cap = 100000;
	char *t = malloc(cap * 180);
	size_t tl = 0;
	uint8_t r[32] = { 0 }, sec[48];
	for (size_t i = 0; i < cap; i++) {
		memcpy(r, &i, sizeof i);
		memset(sec, (int)(i & 0xff), 48);
		tl += (size_t)sprintf(t + tl, "CLIENT_RANDOM ");
		hexs(t + tl, r, 32);
		tl += 64;
		t[tl++] = ' ';
		hexs(t + tl, sec, 48);
		tl += 96;
		t[tl++] = '\n';
	}
	tls_keys_add_text(k, (const uint8_t *)t, tl);
	CHECK(tls_keys_count(k) == cap);
	int all = 1;
	for (size_t i = 0; i < cap; i += 97) {
		memcpy(r, &i, sizeof i);
		if (!tls_keys_lookup(k, r, TLS_SECRET_MASTER, &s) || s.b[0] != (uint8_t)i)
			all = 0;
	}
	CHECK(all);
	tls_keys_free(k);
	k = tls_keys_new();
	tls_keys_set_limit(k, 1000);
	tls_keys_add_text(k, (const uint8_t *)t, tl);
	CHECK(tls_keys_count(k) == 1000);
	CHECK(tls_keys_dropped(k) == cap - 1000);
	tls_keys_free(k);
	free(t);
}

static void write_file(const char *path, const char *mode, const char *s)
{
	FILE *f = fopen(path, mode);
	fputs(s, f);
	fclose(f);
}

#define CR1 "1111111111111111111111111111111111111111111111111111111111111111"
#define CR2 "2222222222222222222222222222222222222222222222222222222222222222"
#define CR3 "3333333333333333333333333333333333333333333333333333333333333333"
#define S48A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define S48B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_keys_file(void)
{
	char dir[] = "/tmp/test_tls_keysXXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[300], other[300], err[400];
	snprintf(path, sizeof path, "%s/keys", dir);
	snprintf(other, sizeof other, "%s/keys.new", dir);
	struct tls_keys *k = tls_keys_new();
	CHECK(tls_keys_add_file(k, path, err, sizeof err) == -1);
	CHECK(strstr(err, path) != NULL && strstr(err, "No such file") != NULL);
	CHECK(tls_keys_add_file(k, dir, err, sizeof err) == -1);    /* a directory */

	write_file(path, "w", "CLIENT_RANDOM " CR1 " " S48A "\n");
	CHECK(tls_keys_add_file(k, path, err, sizeof err) == 0);
	CHECK(tls_keys_count(k) == 1);
	uint8_t cr[32];
	struct tls_secret s;
	/* the writer is half-way through a line: the 48-byte secret so far is 32 bytes */
	write_file(path, "a", "SERVER_TRAFFIC_SECRET_0 " CR2 " " "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	tls_keys_refresh(k);
	memset(cr, 0x22, 32);
	CHECK(!tls_keys_lookup(k, cr, TLS_SECRET_SERVER_AP0, &s)); /* not taken from a growing file */
	CHECK(tls_keys_bad_lines(k) == 0);
	write_file(path, "a", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\nCLIENT_RANDOM " CR3 " " S48B "\n");
	tls_keys_refresh(k);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_SERVER_AP0, &s) && s.n == 48 && s.b[47] == 0xbb);
	memset(cr, 0x33, 32);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_MASTER, &s) && s.b[0] == 0xbb);
	CHECK(tls_keys_count(k) == 3);
	CHECK(tls_keys_bad_lines(k) == 0);
	/* nothing new: nothing changes */
	tls_keys_refresh(k);
	CHECK(tls_keys_count(k) == 3 && tls_keys_bad_lines(k) == 0);
	/* truncated and rewritten (shorter): read again from the start */
	write_file(path, "w", "CLIENT_RANDOM " CR1 " " S48B "\n");
	tls_keys_refresh(k);
	memset(cr, 0x11, 32);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_MASTER, &s) && s.b[0] == 0xbb);
	/* replaced by rename (log rotation): read from the start even if longer */
	write_file(other, "w", "# rotated\nCLIENT_RANDOM " CR1 " " S48A "\nCLIENT_RANDOM " CR2 " " S48A "\n");
	CHECK(rename(other, path) == 0);
	tls_keys_refresh(k);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_MASTER, &s) && s.b[0] == 0xaa);
	memset(cr, 0x22, 32);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_MASTER, &s));
	/* an overlong line growing across refreshes is skipped once, never stored */
	char *big = malloc(200001);
	memset(big, 'Z', 200000);
	big[200000] = 0;
	write_file(path, "a", big);
	tls_keys_refresh(k);
	write_file(path, "a", big);
	tls_keys_refresh(k);
	write_file(path, "a", "\nCLIENT_RANDOM " CR3 " " S48A "\n");
	tls_keys_refresh(k);
	CHECK(tls_keys_bad_lines(k) == 1);
	memset(cr, 0x33, 32);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_MASTER, &s) && s.b[0] == 0xaa);
	free(big);
	/* a finished file that ends inside an overlong line: one bad line, also
	 * when the line is completed later */
	{
		char *z = malloc(100001);
		memset(z, 'Z', 100000);
		z[100000] = 0;
		write_file(other, "w", z);
		struct tls_keys *k3 = tls_keys_new();
		CHECK(tls_keys_add_file(k3, other, err, sizeof err) == 0 && tls_keys_bad_lines(k3) == 1);
		write_file(other, "a", "ZZ\nCLIENT_RANDOM " CR3 " " S48A "\n");
		tls_keys_refresh(k3);
		CHECK(tls_keys_bad_lines(k3) == 1 && tls_keys_count(k3) == 1);
		tls_keys_free(k3);
		free(z);
	}
	/* the file vanishes: lookups keep what was read, refresh is harmless */
	unlink(path);
	tls_keys_refresh(k);
	CHECK(tls_keys_lookup(k, cr, TLS_SECRET_MASTER, &s));
	/* the last line of a finished file has no newline: taken */
	write_file(other, "w", "CLIENT_RANDOM " CR2 " " S48B);
	struct tls_keys *k2 = tls_keys_new();
	CHECK(tls_keys_add_file(k2, other, err, sizeof err) == 0);
	memset(cr, 0x22, 32);
	CHECK(tls_keys_lookup(k2, cr, TLS_SECRET_MASTER, &s) && s.b[0] == 0xbb);
	tls_keys_free(k2);
	unlink(other);
	rmdir(dir);
	tls_keys_free(k);
}

/* lookups on one thread while another adds */
struct race {
	struct tls_keys *k;
	atomic_int stop;
	unsigned long found;
};

static void *reader(void *arg)
{
	struct race *r = arg;
	uint8_t cr[32] = { 0 };
	struct tls_secret s;
	while (!atomic_load(&r->stop))
		for (unsigned i = 0; i < 256; i++) {
			cr[0] = (uint8_t)i;
			if (tls_keys_lookup(r->k, cr, TLS_SECRET_MASTER, &s))
				r->found++;
		}
	return NULL;
}

static void test_keys_threads(void)
{
	struct race r = { tls_keys_new(), 0, 0 };
	pthread_t th;
	pthread_create(&th, NULL, reader, &r);
	char line[256];
	for (unsigned i = 0; i < 20000; i++) {
		int n = snprintf(line, sizeof line, "CLIENT_RANDOM %02x%02x%02x%058d %096d\n", i & 0xff, (i >> 8) & 0xff,
		                 (i >> 16) & 0xff, 0, 1);
		tls_keys_add_text(r.k, (const uint8_t *)line, (size_t)n);
	}
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	CHECK(tls_keys_count(r.k) == 20000);
	tls_keys_free(r.k);
}

/* ---- pcapng Decryption Secrets Blocks (src/capture.c) ---------------------- */

struct dsb_seen {
	struct tls_keys *k;
	int n;
	uint32_t type;
	size_t len;
};

static void on_dsb(void *user, uint32_t type, const uint8_t *p, size_t n)
{
	struct dsb_seen *d = user;
	d->n++;
	d->type = type;
	d->len = n;
	if (type == CAPTURE_SECRETS_TLS)
		tls_keys_add_text(d->k, p, n);
}

static void put32(uint8_t *p, uint32_t v, int be)
{
	for (int i = 0; i < 4; i++)
		p[be ? i : 3 - i] = (uint8_t)(v >> (8 * (3 - i)));
}

/* SHB (28 bytes) + one DSB of declared secrets length slen carrying data
 * (dn bytes) in a block of declared length blen (0: the right one). */
static size_t make_dsb_file(uint8_t *b, int be, uint32_t slen, const char *data, size_t dn, uint32_t blen)
{
	size_t o = 0;
	put32(b + o, 0x0A0D0D0A, be), put32(b + o + 4, 28, be), put32(b + o + 8, 0x1A2B3C4D, be);
	b[o + 12] = be ? 0 : 1, b[o + 13] = be ? 1 : 0, b[o + 14] = 0, b[o + 15] = 0; /* version 1.0 */
	memset(b + o + 16, 0xff, 8);                                                 /* section length -1 */
	put32(b + o + 24, 28, be);
	o += 28;
	size_t pad = (4 - dn % 4) % 4, bl = 20 + dn + pad;
	put32(b + o, 0x0A, be), put32(b + o + 4, blen ? blen : (uint32_t)bl, be);
	put32(b + o + 8, CAPTURE_SECRETS_TLS, be), put32(b + o + 12, slen, be);
	memcpy(b + o + 16, data, dn);
	memset(b + o + 16 + dn, 0, pad);
	put32(b + o + 16 + dn + pad, (uint32_t)bl, be);
	return o + bl;
}

static void test_dsb(void)
{
	char err[300];
	uint64_t skipped = 9;
	/* editcap --inject-secrets output: the key log comes back whole */
	struct dsb_seen d = { tls_keys_new(), 0, 0, 0 };
	CHECK(capture_pcapng_secrets(VEC "t13_chacha_dsb.pcapng", on_dsb, &d, &skipped, err, sizeof err) == 1);
	CHECK(skipped == 0 && d.n == 1 && d.type == CAPTURE_SECRETS_TLS);
	struct tls_keys *f = tls_keys_new();
	CHECK(tls_keys_add_file(f, VEC "t13_chacha.keys", err, sizeof err) == 0);
	CHECK(tls_keys_count(d.k) == 4 && tls_keys_count(f) == 4 && tls_keys_bad_lines(d.k) == 0);
	tls_keys_free(f);
	tls_keys_free(d.k);
	d.k = tls_keys_new();
	d.n = 0;
	CHECK(capture_pcapng_secrets(VEC "t12_aes128gcm_dsb.pcapng", on_dsb, &d, NULL, err, sizeof err) == 1);
	CHECK(tls_keys_count(d.k) == 1);
	/* a classic pcap, "-", a .gz name: nothing */
	CHECK(capture_pcapng_secrets(VEC "t13_chacha.pcap", on_dsb, &d, NULL, err, sizeof err) == 0);
	CHECK(capture_pcapng_secrets("-", on_dsb, &d, NULL, err, sizeof err) == 0);
	CHECK(capture_pcapng_secrets("/nonexistent/x.pcapng", on_dsb, &d, NULL, err, sizeof err) == -1);
	CHECK(strstr(err, "/nonexistent/x.pcapng") != NULL);
	tls_keys_free(d.k);

	/* hand-made files: both byte orders, a 2 GiB declared secret, a block
	 * length past the end of the file */
	char path[] = "/tmp/test_tls_dsbXXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	static uint8_t b[4096];
	const char *line = "CLIENT_RANDOM " CR1 " " S48A "\n";
	struct {
		int be;
		uint32_t slen, blen;
		int want, want_skipped;
	} cases[] = {
		{ 0, 0, 0, 1, 0 },            /* slen filled in below */
		{ 1, 0, 0, 1, 0 },
		{ 0, 0x80000000u, 0, 0, 1 },  /* 2 GiB declared in a small block */
		{ 1, 0xffffffffu, 0, 0, 1 },
		{ 0, 0, 0x7ffffff0u, 0, 0 },  /* block runs past the end: the walk stops */
		{ 0, 0, 13, 0, 0 },           /* block length not a multiple of 4 */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint32_t slen = cases[i].slen ? cases[i].slen : (uint32_t)strlen(line);
		size_t n = make_dsb_file(b, cases[i].be, slen, line, strlen(line), cases[i].blen);
		CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, b, n, 0) == (ssize_t)n);
		d.k = tls_keys_new();
		d.n = 0;
		int r = capture_pcapng_secrets(path, on_dsb, &d, &skipped, err, sizeof err);
		CHECK(r == cases[i].want && (int)skipped == cases[i].want_skipped);
		CHECK(tls_keys_count(d.k) == (size_t)cases[i].want);
		tls_keys_free(d.k);
	}
	/* cut inside the secrets */
	size_t n = make_dsb_file(b, 0, (uint32_t)strlen(line), line, strlen(line), 0);
	CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, b, n - 30, 0) == (ssize_t)(n - 30));
	d.n = 0;
	CHECK(capture_pcapng_secrets(path, on_dsb, &d, &skipped, err, sizeof err) == 0 && d.n == 0);
	close(fd);
	unlink(path);
}

int main(void)
{
	test_rfc8448();
	test_suites();
	test_lab();
	test_keys_text();
	test_keys_file();
	test_keys_threads();
	test_dsb();
	TEST_MAIN_END();
}
