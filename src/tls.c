/* tls — TLS record layer, handshake parser, JA4/JA4S, certificates through
 * libcrypto, and the decryption hook (include/tls.h, docs/design.md "TLS").
 *
 * Per direction: a record header (5 bytes) is reassembled across segments,
 * the record body is buffered (<= TLS_RECORD_MAX, one record at a time),
 * then handed to the record dispatcher. Handshake messages are reassembled
 * across records into a buffer that grows only as bytes arrive and never
 * beyond TLS_HS_MSG_MAX; a longer declared message is skipped byte by byte
 * (a 16 MiB declaration costs nothing). Key changes (ChangeCipherSpec in
 * TLS <= 1.2; ServerHello, Finished and KeyUpdate in TLS 1.3) take effect at
 * the next record boundary of their direction.
 *
 * Nothing here trusts a length from the wire: each one is checked against
 * the bytes that are there (struct rd below) before it is used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "tls_crypt.h"

#define DIR_C2S 0
#define DIR_S2C 1

enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPDATA = 23, CT_HEARTBEAT = 24 };
enum {
	HS_CLIENT_HELLO = 1, HS_SERVER_HELLO = 2, HS_NEW_SESSION_TICKET = 4,
	HS_ENCRYPTED_EXTENSIONS = 8, HS_CERTIFICATE = 11, HS_FINISHED = 20, HS_KEY_UPDATE = 24,
};
enum {
	EXT_SERVER_NAME = 0, EXT_SUPPORTED_GROUPS = 10, EXT_SIGNATURE_ALGORITHMS = 13,
	EXT_ALPN = 16, EXT_ENCRYPT_THEN_MAC = 22, EXT_EXTENDED_MASTER_SECRET = 23,
	EXT_SUPPORTED_VERSIONS = 43, EXT_KEY_SHARE = 51,
};

/* RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello with this random,
 * SHA-256("HelloRetryRequest"). */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

struct tls_dir {
	/* record layer */
	uint8_t hdr[5];
	unsigned hdr_n;
	uint32_t rec_len, rec_got;
	uint8_t *rec;                /* TLS_RECORD_MAX bytes, allocated on the first record */
	bool in_body;
	bool started;                /* a first byte was seen (SSLv2 detection) */
	bool sslv2;                  /* the current record is an SSLv2 ClientHello (2-byte header) */
	bool opaque;
	/* handshake reassembly */
	uint8_t hs_hdr[4];
	unsigned hs_hdr_n;
	uint32_t hs_len, hs_got;
	bool hs_skip;                /* declared too long: skipping hs_len bytes */
	uint8_t *hs_buf;
	size_t hs_cap;
	/* protection */
	bool enc;                    /* records of this direction are protected */
	struct tls_dir_crypt *crypt; /* non-NULL: decrypting */
	bool pend;                   /* at the next record boundary: enc = pend_enc, crypt = pend_crypt */
	bool pend_enc;
	struct tls_dir_crypt *pend_crypt;
	bool pend_update;            /* TLS 1.3 KeyUpdate at the next record boundary */
	enum tls_secret_kind pend_ap; /* TLS 1.3 Finished: switch to this application secret */
	bool pend_ap_set;
	bool had_keys;               /* was decrypting at some point */
	bool failed;                 /* a record did not authenticate: no more keys for this direction */
	struct tls_dir_crypt *trial; /* TLS 1.3 without handshake secret: the application secret, tried */
	bool trial_tried;
	bool lost;                   /* decryption stopped (failed / keys missing): gap reported */
};

struct tls_conn {
	const struct tls_keys *keys;
	struct tls_callbacks cb;
	struct tls_info info;
	struct tls_dir d[2];
	struct tls_dir_crypt *tls12_pending[2]; /* TLS <= 1.2 record protection, installed at each CCS */
	uint8_t *plain;              /* TLS_RECORD_MAX bytes for tls_dir_open */
	bool tls13;                  /* ServerHello negotiated TLS 1.3 */
};

static void cfree(struct tls_dir_crypt *d)
{
	if (d)
		tls_dir_free(d);
}

/* ---- a bounded reader --------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t n;
	bool bad;
};

static uint32_t rd_u8(struct rd *r)
{
	if (r->n < 1) { r->bad = true; r->n = 0; return 0; }
	uint32_t v = r->p[0];
	r->p++, r->n--;
	return v;
}
static uint32_t rd_u16(struct rd *r)
{
	if (r->n < 2) { r->bad = true; r->n = 0; return 0; }
	uint32_t v = (uint32_t)r->p[0] << 8 | r->p[1];
	r->p += 2, r->n -= 2;
	return v;
}
static uint32_t rd_u24(struct rd *r)
{
	if (r->n < 3) { r->bad = true; r->n = 0; return 0; }
	uint32_t v = (uint32_t)r->p[0] << 16 | (uint32_t)r->p[1] << 8 | r->p[2];
	r->p += 3, r->n -= 3;
	return v;
}
/* A sub-reader of len bytes (marks r bad and returns an empty one if short). */
static struct rd rd_sub(struct rd *r, size_t len)
{
	struct rd s = { r->p, 0, false };
	if (len > r->n) {
		r->bad = true;
		s.bad = true;
		r->p += r->n;
		r->n = 0;
		return s;
	}
	s.n = len;
	r->p += len, r->n -= len;
	return s;
}
static const uint8_t *rd_take(struct rd *r, size_t len)
{
	if (len > r->n) { r->bad = true; r->p += r->n; r->n = 0; return NULL; }
	const uint8_t *p = r->p;
	r->p += len, r->n -= len;
	return p;
}

/* ---- safe strings ------------------------------------------------------- */

/* Append wire bytes to dst (size cap, NUL-terminated) escaped: printable
 * ASCII passes except '\\' and the bytes in extra; everything else is
 * \xHH. An escape is never cut in the middle. */
static void put_esc(char *dst, size_t cap, const uint8_t *p, size_t n, const char *extra)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(dst);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		char tmp[5];
		size_t k;
		if (c >= 0x20 && c < 0x7f && c != '\\' && !(extra && strchr(extra, c))) {
			tmp[0] = (char)c;
			k = 1;
		} else if (c == '\\') {
			tmp[0] = '\\', tmp[1] = '\\';
			k = 2;
		} else {
			tmp[0] = '\\', tmp[1] = 'x', tmp[2] = hex[c >> 4], tmp[3] = hex[c & 15];
			k = 4;
		}
		if (len + k + 1 > cap)
			break;
		memcpy(dst + len, tmp, k);
		len += k;
	}
	dst[len] = '\0';
}

static void tls_anom(struct tls_conn *c, enum anom_id id)
{
	anom_raise(&c->info.anoms, id);
}

/* ---- GREASE, JA4 -------------------------------------------------------- */

/* RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa. */
static bool is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static const char *ja4_version(uint16_t v)
{
	switch (v) {
	case 0x0304: return "13";
	case 0x0303: return "12";
	case 0x0302: return "11";
	case 0x0301: return "10";
	case 0x0300: return "s3";
	case 0x0002: return "s2";
	case 0xfeff: return "d1";
	case 0xfefd: return "d2";
	case 0xfefc: return "d3";
	default: return "00";
	}
}

static bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The ALPN part of JA4 / JA4S (JA4.md, "ALPN Extension Value"): the first
 * and last characters of the first protocol if both are ASCII alphanumeric,
 * else the first and last hex digits of its hex form; "00" if none. */
static void ja4_alpn(const uint8_t *p, size_t n, char out[3])
{
	static const char hex[] = "0123456789abcdef";
	if (!p || n == 0) {
		strcpy(out, "00");
		return;
	}
	uint8_t a = p[0], b = p[n - 1];
	if (is_alnum(a) && is_alnum(b)) {
		out[0] = (char)a, out[1] = (char)b;
	} else {
		out[0] = hex[a >> 4], out[1] = hex[b & 15];
	}
	out[2] = '\0';
}

static int cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	return (x > y) - (x < y);
}

/* SHA-256 over "xxxx,xxxx,..." of v[0..n) (then "_" and w[0..m) if m),
 * fed piecewise; the first 12 lower-case hex digits into out. */
static void ja4_hash(const uint16_t *v, size_t n, const uint16_t *w, size_t m, char out[13])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t dg[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	char item[6];
	strcpy(out, "000000000000");
	if (!md)
		return;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto done;
	for (size_t i = 0; i < n; i++) {
		snprintf(item, sizeof item, i ? ",%04x" : "%04x", v[i]);
		EVP_DigestUpdate(md, item, strlen(item));
	}
	for (size_t i = 0; i < m; i++) {
		snprintf(item, sizeof item, i ? ",%04x" : "_%04x", w[i]);
		EVP_DigestUpdate(md, item, strlen(item));
	}
	if (EVP_DigestFinal_ex(md, dg, &dn) == 1 && dn >= 6)
		for (int i = 0; i < 6; i++)
			snprintf(out + 2 * i, 3, "%02x", dg[i]);
done:
	EVP_MD_CTX_free(md);
}

/* ---- hellos ------------------------------------------------------------- */

static void list_add(uint16_t *arr, unsigned *n, unsigned max, uint16_t v)
{
	if (*n < max)
		arr[(*n)++] = v;
}

/* Everything JA4 needs from one ClientHello, over the whole lists (not only
 * the TLS_LIST_MAX stored). The arrays are malloc'd per hello and bounded by
 * the message, itself bounded by TLS_HS_MSG_MAX. */
struct ja4_in {
	uint16_t *suites, *exts, *sigalgs;
	size_t n_suites, n_exts, n_sigalgs;
	uint16_t version;            /* highest non-GREASE supported_versions, else legacy */
	bool sni;
	const uint8_t *alpn;         /* first ALPN protocol */
	size_t alpn_n;
};

/* Parse one extension's body (client hello when client, else server). */
static void parse_ext(struct tls_conn *c, struct tls_hello *h, bool client, bool hrr,
                      uint16_t type, struct rd e, struct ja4_in *j)
{
	switch (type) {
	case EXT_SERVER_NAME: {
		if (!client)
			break;           /* the server's empty acknowledgement */
		struct rd l = rd_sub(&e, rd_u16(&e));
		bool got = false;
		while (l.n && !l.bad) {
			uint32_t nt = rd_u8(&l);
			struct rd name = rd_sub(&l, rd_u16(&l));
			if (l.bad || name.bad)
				break;
			if (nt == 0 && !got) {
				h->sni[0] = '\0';
				put_esc(h->sni, sizeof h->sni, name.p, name.n, NULL);
				got = true;
			}
		}
		if (l.bad || e.n || e.bad)
			tls_anom(c, ANOM_TLS_EXT_MALFORMED);
		break;
	}
	case EXT_ALPN: {
		struct rd l = rd_sub(&e, rd_u16(&e));
		bool first = true;
		h->alpn[0] = '\0';
		while (l.n && !l.bad) {
			struct rd pr = rd_sub(&l, rd_u8(&l));
			if (l.bad || pr.bad)
				break;
			if (first && j) {
				j->alpn = pr.p;
				j->alpn_n = pr.n;
			}
			if (!first)
				put_esc(h->alpn, sizeof h->alpn, (const uint8_t *)",", 1, NULL);
			put_esc(h->alpn, sizeof h->alpn, pr.p, pr.n, ",");
			first = false;
			if (!client)
				break;       /* the server names exactly one */
		}
		if (l.bad || e.n || e.bad || first)
			tls_anom(c, ANOM_TLS_EXT_MALFORMED);
		break;
	}
	case EXT_SUPPORTED_VERSIONS:
		if (client) {
			struct rd l = rd_sub(&e, rd_u8(&e));
			if (l.n % 2 || !l.n)
				tls_anom(c, ANOM_TLS_EXT_MALFORMED);
			while (l.n >= 2) {
				uint16_t v = (uint16_t)rd_u16(&l);
				list_add(h->versions, &h->n_versions, TLS_LIST_MAX, v);
				if (j && !is_grease(v) && (j->version == 0 || v > j->version))
					j->version = v;
			}
		} else {
			uint16_t v = (uint16_t)rd_u16(&e);
			if (!e.bad)
				list_add(h->versions, &h->n_versions, TLS_LIST_MAX, v);
		}
		if (e.n || e.bad)
			tls_anom(c, ANOM_TLS_EXT_MALFORMED);
		break;
	case EXT_SUPPORTED_GROUPS: {
		struct rd l = rd_sub(&e, rd_u16(&e));
		if (l.n % 2)
			tls_anom(c, ANOM_TLS_EXT_MALFORMED);
		while (l.n >= 2)
			list_add(h->groups, &h->n_groups, TLS_LIST_MAX, (uint16_t)rd_u16(&l));
		if (e.n || e.bad)
			tls_anom(c, ANOM_TLS_EXT_MALFORMED);
		break;
	}
	case EXT_SIGNATURE_ALGORITHMS: {
		struct rd l = rd_sub(&e, rd_u16(&e));
		if (l.n % 2)
			tls_anom(c, ANOM_TLS_EXT_MALFORMED);
		while (l.n >= 2) {
			uint16_t v = (uint16_t)rd_u16(&l);
			list_add(h->sigalgs, &h->n_sigalgs, TLS_LIST_MAX, v);
			if (j && client && !is_grease(v))
				j->sigalgs[j->n_sigalgs++] = v;
		}
		if (e.n || e.bad)
			tls_anom(c, ANOM_TLS_EXT_MALFORMED);
		break;
	}
	case EXT_KEY_SHARE:
		if (client) {
			struct rd l = rd_sub(&e, rd_u16(&e));
			while (l.n && !l.bad) {
				uint16_t g = (uint16_t)rd_u16(&l);
				rd_sub(&l, rd_u16(&l));
				if (l.bad)
					break;
				list_add(h->key_shares, &h->n_key_shares, TLS_KEY_SHARES_MAX, g);
			}
			if (l.bad || e.n || e.bad)
				tls_anom(c, ANOM_TLS_EXT_MALFORMED);
		} else {
			uint16_t g = (uint16_t)rd_u16(&e);
			if (!hrr)
				rd_sub(&e, rd_u16(&e));   /* the server's share */
			if (e.bad || e.n) {
				tls_anom(c, ANOM_TLS_EXT_MALFORMED);
				break;
			}
			h->n_groups = 0;
			list_add(h->groups, &h->n_groups, TLS_LIST_MAX, g);
			if (hrr)
				c->info.hrr_group = g;
			else
				c->info.group = g;
		}
		break;
	case EXT_ENCRYPT_THEN_MAC:
		h->encrypt_then_mac = true;
		break;
	case EXT_EXTENDED_MASTER_SECRET:
		h->extended_master_secret = true;
		break;
	default:
		break;
	}
}

/* The extensions block; seen is a 65536-bit set for duplicates. */
static void parse_exts(struct tls_conn *c, struct tls_hello *h, bool client, bool hrr,
                       struct rd *r, struct ja4_in *j)
{
	static _Thread_local uint8_t seen[8192];
	if (!r->n)
		return;                  /* no extensions at all (TLS <= 1.2 allows it) */
	struct rd all = rd_sub(r, rd_u16(r));
	if (r->bad) {
		tls_anom(c, ANOM_TLS_HS_MALFORMED);
		return;
	}
	memset(seen, 0, sizeof seen);
	bool dup = false;
	while (all.n) {
		uint16_t type = (uint16_t)rd_u16(&all);
		struct rd e = rd_sub(&all, rd_u16(&all));
		if (all.bad) {
			tls_anom(c, ANOM_TLS_HS_MALFORMED);
			break;
		}
		h->n_exts_total++;
		list_add(h->exts, &h->n_exts, TLS_LIST_MAX, type);
		if (j)
			j->exts[j->n_exts++] = type;
		if (seen[type >> 3] & (1u << (type & 7)))
			dup = true;
		seen[type >> 3] |= (uint8_t)(1u << (type & 7));
		if (j && type == EXT_SERVER_NAME)
			j->sni = true;
		parse_ext(c, h, client, hrr, type, e, j);
	}
	if (dup)
		tls_anom(c, ANOM_TLS_EXT_DUPLICATE);
	if (r->n)
		tls_anom(c, ANOM_TLS_HS_MALFORMED); /* bytes after the extensions */
}

static void compute_ja4(struct tls_conn *c, struct ja4_in *j, uint16_t legacy)
{
	size_t nc = 0, ne = 0;
	for (size_t i = 0; i < j->n_suites; i++)
		if (!is_grease(j->suites[i]))
			j->suites[nc++] = j->suites[i];
	size_t ext_count = 0;
	for (size_t i = 0; i < j->n_exts; i++) {
		uint16_t t = j->exts[i];
		if (is_grease(t))
			continue;
		ext_count++;
		if (t != EXT_SERVER_NAME && t != EXT_ALPN)
			j->exts[ne++] = t;
	}
	qsort(j->suites, nc, sizeof *j->suites, cmp_u16);
	qsort(j->exts, ne, sizeof *j->exts, cmp_u16);
	char alpn[3], hb[13], hc[13];
	ja4_alpn(j->alpn, j->alpn_n, alpn);
	if (nc)
		ja4_hash(j->suites, nc, NULL, 0, hb);
	else
		strcpy(hb, "000000000000");
	if (ne)
		ja4_hash(j->exts, ne, j->sigalgs, j->n_sigalgs, hc);
	else
		strcpy(hc, "000000000000");
	snprintf(c->info.ja4, sizeof c->info.ja4, "t%s%c%02u%02u%s_%s_%s",
	         ja4_version(j->version ? j->version : legacy), j->sni ? 'd' : 'i',
	         (unsigned)(nc > 99 ? 99 : nc), (unsigned)(ext_count > 99 ? 99 : ext_count),
	         alpn, hb, hc);
}

static void parse_client_hello(struct tls_conn *c, const uint8_t *p, size_t n)
{
	struct tls_hello *h = &c->info.client;
	memset(h, 0, sizeof *h);
	c->info.n_hello_client++;
	c->info.ja4[0] = '\0';
	struct rd r = { p, n, false };
	struct ja4_in j = { 0 };
	/* every list is at most n / 2 entries long */
	size_t cap = n / 2 + 1;
	j.suites = malloc(cap * sizeof *j.suites);
	j.exts = malloc(cap * sizeof *j.exts);
	j.sigalgs = malloc(cap * sizeof *j.sigalgs);
	if (!j.suites || !j.exts || !j.sigalgs)
		goto out;
	h->legacy_version = (uint16_t)rd_u16(&r);
	const uint8_t *rnd = rd_take(&r, 32);
	if (rnd)
		memcpy(h->random, rnd, 32);
	uint32_t sid = rd_u8(&r);
	rd_take(&r, sid);
	h->session_id_len = (uint8_t)(sid > 32 ? 32 : sid);
	if (sid > 32)
		tls_anom(c, ANOM_TLS_HS_MALFORMED);
	struct rd s = rd_sub(&r, rd_u16(&r));
	if (s.n % 2)
		tls_anom(c, ANOM_TLS_HS_MALFORMED);
	while (s.n >= 2) {
		uint16_t v = (uint16_t)rd_u16(&s);
		h->n_suites_total++;
		list_add(h->suites, &h->n_suites, TLS_LIST_MAX, v);
		j.suites[j.n_suites++] = v;
	}
	rd_sub(&r, rd_u8(&r));          /* compression methods */
	if (r.bad) {
		tls_anom(c, ANOM_TLS_HS_MALFORMED);
		goto out;
	}
	h->seen = true;
	parse_exts(c, h, true, false, &r, &j);
	compute_ja4(c, &j, h->legacy_version);
out:
	free(j.suites);
	free(j.exts);
	free(j.sigalgs);
}

static void compute_ja4s(struct tls_conn *c, const uint16_t *exts, size_t n, uint16_t version,
                         const uint8_t *alpn, size_t alpn_n)
{
	char a[3], hc[13];
	ja4_alpn(alpn, alpn_n, a);
	if (n)
		ja4_hash(exts, n, NULL, 0, hc);
	else
		strcpy(hc, "000000000000");
	snprintf(c->info.ja4s, sizeof c->info.ja4s, "t%s%02u%s_%04x_%s", ja4_version(version),
	         (unsigned)(n > 99 ? 99 : n), a, c->info.server.suites[0], hc);
}

static void keys_tls13_hs(struct tls_conn *c);
static void keys_tls12(struct tls_conn *c);

static void parse_server_hello(struct tls_conn *c, const uint8_t *p, size_t n)
{
	struct rd r = { p, n, false };
	struct tls_hello tmp;
	memset(&tmp, 0, sizeof tmp);
	tmp.legacy_version = (uint16_t)rd_u16(&r);
	const uint8_t *rnd = rd_take(&r, 32);
	if (rnd)
		memcpy(tmp.random, rnd, 32);
	uint32_t sid = rd_u8(&r);
	rd_take(&r, sid);
	tmp.session_id_len = (uint8_t)(sid > 32 ? 32 : sid);
	uint16_t suite = (uint16_t)rd_u16(&r);
	rd_u8(&r);                      /* compression method */
	if (r.bad || sid > 32) {
		tls_anom(c, ANOM_TLS_HS_MALFORMED);
		return;
	}
	bool hrr = memcmp(tmp.random, hrr_random, 32) == 0;
	tmp.seen = true;
	tmp.n_suites = 1;
	tmp.n_suites_total = 1;
	tmp.suites[0] = suite;
	/* JA4S hashes every extension in wire order: keep the full list */
	size_t cap = n / 4 + 1;
	uint16_t *exts = malloc(cap * sizeof *exts);
	struct ja4_in j = { 0 };
	if (!exts)
		return;
	j.exts = exts;                   /* a server's parse_ext fills only exts, version and alpn */
	parse_exts(c, &tmp, false, hrr, &r, &j);
	uint16_t version = tmp.n_versions ? tmp.versions[0] : tmp.legacy_version;
	if (hrr) {
		c->info.hello_retry = true;
	} else {
		c->info.server = tmp;
		c->info.version = version;
		c->info.cipher = suite;
		compute_ja4s(c, exts, j.n_exts, version, j.alpn, j.alpn_n);
		if (version == 0x0304) {
			c->tls13 = true;
			keys_tls13_hs(c);
		} else {
			c->tls13 = false;
			keys_tls12(c);
		}
	}
	free(exts);
}

/* TLS 1.3 EncryptedExtensions (decrypted): the chosen ALPN. */
static void parse_encrypted_extensions(struct tls_conn *c, const uint8_t *p, size_t n)
{
	struct rd r = { p, n, false };
	struct rd all = rd_sub(&r, rd_u16(&r));
	if (r.bad || r.n) {
		tls_anom(c, ANOM_TLS_HS_MALFORMED);
		return;
	}
	while (all.n) {
		uint16_t type = (uint16_t)rd_u16(&all);
		struct rd e = rd_sub(&all, rd_u16(&all));
		if (all.bad) {
			tls_anom(c, ANOM_TLS_HS_MALFORMED);
			return;
		}
		if (type == EXT_ALPN)
			parse_ext(c, &c->info.server, false, false, type, e, NULL);
	}
}

/* ---- certificates ------------------------------------------------------- */

static void bio_text(BIO *b, char *dst, size_t cap)
{
	char *mem = NULL;
	long len = BIO_get_mem_data(b, &mem);
	dst[0] = '\0';
	if (len > 0 && mem)
		put_esc(dst, cap, (const uint8_t *)mem, (size_t)len, NULL);
}

static int64_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static void parse_cert(struct tls_cert *out, const uint8_t *der, size_t n)
{
	memset(out, 0, sizeof *out);
	const unsigned char *q = der;
	X509 *x = n <= (size_t)0x7fffffff ? d2i_X509(NULL, &q, (long)n) : NULL;
	if (!x) {
		out->parse_error = true;
		return;
	}
	for (int k = 0; k < 2; k++) {
		BIO *b = BIO_new(BIO_s_mem());
		if (!b)
			break;
		if (X509_NAME_print_ex(b, k ? X509_get_issuer_name(x) : X509_get_subject_name(x), 0,
		                       XN_FLAG_RFC2253) >= 0)
			bio_text(b, k ? out->issuer : out->subject, TLS_NAME_MAX);
		BIO_free(b);
	}
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens) {
		int k = sk_GENERAL_NAME_num(gens);
		for (int i = 0; i < k; i++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			if (!g || g->type != GEN_DNS)
				continue;
			out->n_san_total++;
			if (out->n_san < TLS_SAN_MAX) {
				const ASN1_IA5STRING *s = g->d.dNSName;
				char *dst = out->san_dns[out->n_san++];
				dst[0] = '\0';
				put_esc(dst, TLS_NAME_MAX, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), NULL);
			}
		}
		GENERAL_NAMES_free(gens);
	}
	out->not_before = asn1_time(X509_get0_notBefore(x));
	out->not_after = asn1_time(X509_get0_notAfter(x));
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	if (bn) {
		char *hx = BN_bn2hex(bn);
		if (hx) {
			put_esc(out->serial, sizeof out->serial, (const uint8_t *)hx, strlen(hx), NULL);
			OPENSSL_free(hx);
		}
		BN_free(bn);
	}
	EVP_PKEY *pk = X509_get0_pubkey(x);
	if (pk) {
		int id = EVP_PKEY_get_base_id(pk);
		const char *name;
		switch (id) {
		case EVP_PKEY_RSA: name = "RSA"; break;
		case EVP_PKEY_RSA_PSS: name = "RSA-PSS"; break;
		case EVP_PKEY_EC: name = "EC"; break;
		case EVP_PKEY_DSA: name = "DSA"; break;
		case EVP_PKEY_DH: name = "DH"; break;
		case EVP_PKEY_ED25519: name = "Ed25519"; break;
		case EVP_PKEY_ED448: name = "Ed448"; break;
		default: name = OBJ_nid2sn(id); break;
		}
		if (!name)
			name = "unknown";
		put_esc(out->key_type, sizeof out->key_type, (const uint8_t *)name, strlen(name), NULL);
		out->key_bits = EVP_PKEY_get_bits(pk);
	} else {
		strcpy(out->key_type, "unknown");
	}
	int sn = X509_get_signature_nid(x);
	const char *sa = sn != NID_undef ? OBJ_nid2ln(sn) : NULL;
	if (!sa)
		sa = "unknown";
	put_esc(out->sig_alg, sizeof out->sig_alg, (const uint8_t *)sa, strlen(sa), NULL);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdn = 0;
	if (EVP_Digest(der, n, md, &mdn, EVP_sha256(), NULL) == 1 && mdn == 32)
		for (unsigned i = 0; i < 32; i++)
			snprintf(out->sha256 + 2 * i, 3, "%02x", md[i]);
	out->self_signed = pk && X509_check_issued(x, x) == X509_V_OK && X509_verify(x, pk) == 1;
	X509_free(x);
}

/* Certificate (RFC 5246 7.4.2; RFC 8446 4.4.2 with context and per-entry
 * extensions). Only the server's chain is kept. */
static void parse_certificate(struct tls_conn *c, int dir, const uint8_t *p, size_t n)
{
	if (dir != DIR_S2C)
		return;                  /* a client certificate: not kept */
	struct tls_info *in = &c->info;
	struct rd r = { p, n, false };
	if (c->tls13)
		rd_sub(&r, rd_u8(&r));   /* certificate_request_context */
	struct rd l = rd_sub(&r, rd_u24(&r));
	if (r.bad || r.n) {
		tls_anom(c, ANOM_TLS_HS_MALFORMED);
		if (l.bad)
			return;
	}
	in->cert_seen = true;
	in->n_certs = 0;
	in->n_certs_total = 0;
	if (!in->certs) /* only now: most flows never get here, and a chain is ~130 KiB */
		in->certs = calloc(TLS_CERTS_MAX, sizeof *in->certs);
	while (l.n) {
		struct rd der = rd_sub(&l, rd_u24(&l));
		if (l.bad) {
			tls_anom(c, ANOM_TLS_HS_MALFORMED);
			break;
		}
		if (c->tls13) {
			rd_sub(&l, rd_u16(&l)); /* CertificateEntry extensions */
			if (l.bad) {
				tls_anom(c, ANOM_TLS_HS_MALFORMED);
				break;
			}
		}
		in->n_certs_total++;
		if (in->certs && in->n_certs < TLS_CERTS_MAX) {
			struct tls_cert *ct = &in->certs[in->n_certs++];
			parse_cert(ct, der.p, der.n);
			if (ct->parse_error)
				tls_anom(c, ANOM_TLS_CERT_PARSE_ERROR);
		}
	}
	if (in->n_certs_total > TLS_CERTS_MAX)
		tls_anom(c, ANOM_TLS_CHAIN_LONG);
}

/* ---- keys --------------------------------------------------------------- */

static void set_pending(struct tls_dir *d, bool enc, struct tls_dir_crypt *cr)
{
	if (d->pend_crypt && d->pend_crypt != cr)
		cfree(d->pend_crypt);
	d->pend = true;
	d->pend_enc = enc;
	d->pend_crypt = cr;
}

static void keys_tls12(struct tls_conn *c)
{
	for (int i = 0; i < 2; i++) {
		cfree(c->tls12_pending[i]);
		c->tls12_pending[i] = NULL;
	}
	if (!c->keys)
		return;
	struct tls_secret ms;
	if (!tls_keys_lookup(c->keys, c->info.client.random, TLS_SECRET_MASTER, &ms) || ms.n != 48) {
		c->info.keys = TLS_KEYS_MISSING;
		return;
	}
	bool etm = c->info.client.encrypt_then_mac && c->info.server.encrypt_then_mac;
	if (!tls12_keys(c->info.version, c->info.cipher, ms.b, c->info.client.random,
	                c->info.server.random, etm, c->tls12_pending)) {
		c->tls12_pending[0] = c->tls12_pending[1] = NULL;
		c->info.keys = TLS_KEYS_UNSUPPORTED;
		return;
	}
	c->info.keys = TLS_KEYS_OK;
}

static struct tls_dir_crypt *keys13(struct tls_conn *c, enum tls_secret_kind kind, bool *found)
{
	struct tls_secret s;
	*found = false;
	if (!c->keys || !tls_keys_lookup(c->keys, c->info.client.random, kind, &s))
		return NULL;
	*found = true;
	return tls13_keys(c->info.cipher, s.b, s.n);
}

/* TLS 1.3: both directions are protected from the record after the
 * ServerHello (the client's CCS, if any, stays in clear). */
static void keys_tls13_hs(struct tls_conn *c)
{
	bool fc = false, fs = false;
	struct tls_dir_crypt *cc = keys13(c, TLS_SECRET_CLIENT_HS, &fc);
	struct tls_dir_crypt *sc = keys13(c, TLS_SECRET_SERVER_HS, &fs);
	set_pending(&c->d[DIR_C2S], true, cc);
	set_pending(&c->d[DIR_S2C], true, sc);
	if (!c->keys)
		return;
	if (cc || sc)
		c->info.keys = TLS_KEYS_OK;
	else if (fc || fs)
		c->info.keys = TLS_KEYS_UNSUPPORTED;
	else
		c->info.keys = TLS_KEYS_MISSING;
}

/* ---- record protection -------------------------------------------------- */

static void apply_pending(struct tls_conn *c, int dir)
{
	struct tls_dir *d = &c->d[dir];
	if (d->pend) {
		d->pend = false;
		d->enc = d->pend_enc;
		if (d->crypt != d->pend_crypt)
			cfree(d->crypt);
		d->crypt = d->pend_crypt;
		d->pend_crypt = NULL;
		if (d->crypt)
			d->had_keys = true;
		if (d->hs_hdr_n || d->hs_got || d->hs_skip) {
			/* a handshake message cut by a key change */
			tls_anom(c, ANOM_TLS_HS_INTERLEAVED);
			d->hs_hdr_n = 0, d->hs_got = 0, d->hs_skip = false;
		}
	}
	if (d->pend_ap_set) {
		d->pend_ap_set = false;
		bool found = false;
		struct tls_dir_crypt *cr = d->crypt || d->had_keys ? keys13(c, d->pend_ap, &found) : NULL;
		cfree(d->crypt);
		d->crypt = cr;
		if (cr)
			d->had_keys = true;
	}
	if (d->pend_update) {
		d->pend_update = false;
		if (d->crypt && !tls13_key_update(d->crypt)) {
			cfree(d->crypt);
			d->crypt = NULL;
		}
	}
}

/* Decryption stopped on dir: say it once, as a gap. */
static void lose(struct tls_conn *c, int dir, uint64_t len, uint64_t ts)
{
	struct tls_dir *d = &c->d[dir];
	if (d->lost)
		return;
	d->lost = true;
	if (c->cb.gap)
		c->cb.gap(c->cb.user, dir, len, ts);
}

/* ---- handshake reassembly ---------------------------------------------- */

static void hs_message(struct tls_conn *c, int dir, uint8_t type, const uint8_t *p, size_t n)
{
	struct tls_dir *d = &c->d[dir];
	switch (type) {
	case HS_CLIENT_HELLO:
		if (dir != DIR_C2S) { tls_anom(c, ANOM_TLS_HS_UNEXPECTED); break; }
		parse_client_hello(c, p, n);
		break;
	case HS_SERVER_HELLO:
		if (dir != DIR_S2C) { tls_anom(c, ANOM_TLS_HS_UNEXPECTED); break; }
		parse_server_hello(c, p, n);
		break;
	case HS_ENCRYPTED_EXTENSIONS:
		if (dir == DIR_S2C)
			parse_encrypted_extensions(c, p, n);
		break;
	case HS_CERTIFICATE:
		parse_certificate(c, dir, p, n);
		break;
	case HS_FINISHED:
		/* TLS 1.3: after its Finished, a side protects records with its
		 * application traffic secret (RFC 8446 7.1). */
		if (c->tls13 && d->enc) {
			d->pend_ap = dir == DIR_C2S ? TLS_SECRET_CLIENT_AP0 : TLS_SECRET_SERVER_AP0;
			d->pend_ap_set = true;
		}
		break;
	case HS_KEY_UPDATE:
		if (c->tls13 && d->enc)
			d->pend_update = true;
		break;
	default:
		break;
	}
}

/* Handshake bytes of dir (from a clear record or a decrypted one). */
static void hs_feed(struct tls_conn *c, int dir, const uint8_t *p, size_t n)
{
	struct tls_dir *d = &c->d[dir];
	while (n) {
		if (d->hs_hdr_n < 4) {
			d->hs_hdr[d->hs_hdr_n++] = *p++;
			n--;
			if (d->hs_hdr_n < 4)
				continue;
			d->hs_len = (uint32_t)d->hs_hdr[1] << 16 | (uint32_t)d->hs_hdr[2] << 8 | d->hs_hdr[3];
			d->hs_got = 0;
			d->hs_skip = d->hs_len > TLS_HS_MSG_MAX;
			if (d->hs_skip)
				tls_anom(c, ANOM_TLS_HS_TOO_LONG);
			if (d->hs_len == 0) {
				hs_message(c, dir, d->hs_hdr[0], p, 0);
				d->hs_hdr_n = 0;
				continue;
			}
			if (!n)
				break;
		}
		uint32_t want = d->hs_len - d->hs_got;
		size_t k = n < want ? n : want;
		if (!d->hs_skip) {
			if (d->hs_got + k > d->hs_cap) {
				/* grow with the bytes that came, never to the declared size at once */
				size_t nc = d->hs_cap ? d->hs_cap : 4096;
				while (nc < d->hs_got + k)
					nc *= 2;
				if (nc > d->hs_len)
					nc = d->hs_len;
				uint8_t *nb = realloc(d->hs_buf, nc);
				if (!nb) {
					d->hs_skip = true; /* out of memory: skip this one */
				} else {
					d->hs_buf = nb;
					d->hs_cap = nc;
				}
			}
			if (!d->hs_skip)
				memcpy(d->hs_buf + d->hs_got, p, k);
		}
		d->hs_got += (uint32_t)k;
		p += k, n -= k;
		if (d->hs_got == d->hs_len) {
			if (!d->hs_skip)
				hs_message(c, dir, d->hs_hdr[0], d->hs_buf, d->hs_len);
			d->hs_hdr_n = 0, d->hs_got = 0, d->hs_skip = false;
			/* a message of the ordinary size: keep the buffer; a big one: give it back */
			if (d->hs_cap > 65536) {
				free(d->hs_buf);
				d->hs_buf = NULL;
				d->hs_cap = 0;
			}
		}
	}
}

static bool hs_partial(const struct tls_dir *d)
{
	return d->hs_hdr_n != 0;
}

/* ---- records ------------------------------------------------------------ */

static void alert(struct tls_conn *c, const uint8_t *p, size_t n)
{
	if (n == 0) {
		tls_anom(c, ANOM_TLS_RECORD_EMPTY);
		return;
	}
	if (n % 2)
		tls_anom(c, ANOM_TLS_ALERT_MALFORMED);
	if (n >= 2 && !c->info.alert_seen) {
		c->info.alert_seen = true;
		c->info.alert_level = p[0];
		c->info.alert_desc = p[1];
	}
}

/* Plaintext of a record (clear, or decrypted with inner type). */
static void plain_record(struct tls_conn *c, int dir, uint8_t type, const uint8_t *p, size_t n,
                         bool decrypted, uint64_t ts)
{
	struct tls_dir *d = &c->d[dir];
	if (type != CT_HANDSHAKE && hs_partial(d)) {
		tls_anom(c, ANOM_TLS_HS_INTERLEAVED);
		d->hs_hdr_n = 0, d->hs_got = 0, d->hs_skip = false;
	}
	switch (type) {
	case CT_HANDSHAKE:
		if (n == 0 && !decrypted)
			tls_anom(c, ANOM_TLS_RECORD_EMPTY);
		hs_feed(c, dir, p, n);
		break;
	case CT_ALERT:
		if (!decrypted)
			alert(c, p, n);
		break;
	case CT_CCS:
		if (n != 1 || p[0] != 1)
			tls_anom(c, ANOM_TLS_CCS_MALFORMED);
		/* TLS <= 1.2: this direction is protected from the next record.
		 * TLS 1.3 (and the compatibility CCS around a HelloRetryRequest):
		 * no meaning. */
		if (!c->tls13 && !decrypted && !(c->info.hello_retry && !c->info.server.seen)) {
			struct tls_dir_crypt *cr = c->tls12_pending[dir];
			c->tls12_pending[dir] = NULL;
			set_pending(d, true, cr);
		}
		break;
	case CT_APPDATA:
		if (decrypted) {
			c->info.plain_bytes[dir] += n;
			c->info.decrypted = true;
			if (c->cb.plaintext && n)
				c->cb.plaintext(c->cb.user, dir, p, n, ts);
		} else {
			c->info.app_bytes[dir] += n;
		}
		break;
	case CT_HEARTBEAT:
		tls_anom(c, ANOM_TLS_HEARTBEAT);
		break;
	}
}

static void record(struct tls_conn *c, int dir, uint8_t type, uint16_t ver, const uint8_t *body,
                   size_t n, uint64_t ts)
{
	struct tls_dir *d = &c->d[dir];
	c->info.records[dir]++;
	/* TLS 1.3 protects records as application_data (RFC 8446 5.2): any
	 * other outer type is in clear (the middlebox-compatibility CCS, an
	 * alert before the peer has keys). TLS <= 1.2 protects everything
	 * after the direction's CCS. */
	if (!d->enc || (c->tls13 && type != CT_APPDATA)) {
		plain_record(c, dir, type, body, n, false, ts);
		return;
	}
	if (type == CT_APPDATA)
		c->info.app_bytes[dir] += n;
	/* TLS 1.3 and no handshake key for this direction (a key log with only
	 * the *_TRAFFIC_SECRET_0 lines): where the handshake ends is not
	 * visible, so each record is tried with the application secret; the
	 * first that authenticates starts decryption (a failed try changes
	 * nothing, the sequence number stays at 0). */
	if (!d->crypt && c->tls13 && c->keys && !d->failed && !d->had_keys) {
		if (!d->trial_tried) {
			bool found = false;
			d->trial_tried = true;
			d->trial = keys13(c, dir == DIR_C2S ? TLS_SECRET_CLIENT_AP0 : TLS_SECRET_SERVER_AP0, &found);
		}
		size_t on = 0;
		uint8_t inner = 0;
		if (d->trial && tls_dir_open(d->trial, type, ver, body, n, c->plain, &on, &inner) && on <= n) {
			d->crypt = d->trial;
			d->trial = NULL;
			d->had_keys = true;
			c->info.keys = TLS_KEYS_OK;
			if (inner != CT_APPDATA)
				c->info.app_bytes[dir] -= n;
			plain_record(c, dir, inner, c->plain, on, true, ts);
		}
		return;
	}
	if (d->crypt) {
		size_t on = 0;
		uint8_t inner = 0;
		if (tls_dir_open(d->crypt, type, ver, body, n, c->plain, &on, &inner) && on <= n) {
			if (c->tls13 && inner != CT_APPDATA)
				c->info.app_bytes[dir] -= n; /* handshake or alert: not application data */
			plain_record(c, dir, inner, c->plain, on, true, ts);
		} else {
			tls_anom(c, ANOM_TLS_DECRYPT_FAILED);
			c->info.keys = TLS_KEYS_FAILED;
			cfree(d->crypt);
			d->crypt = NULL;
			d->pend_update = false;
			d->pend_ap_set = false;
			d->had_keys = false;  /* no later secret revives a failed direction */
			d->failed = true;
			lose(c, dir, n, ts);
		}
	} else if (d->had_keys && type == CT_APPDATA) {
		lose(c, dir, n, ts);      /* keys for the next stage were missing */
	}
}

/* The SSL 2.0-compatible ClientHello (RFC 6101 E.2 / RFC 5246 E.2):
 * msg_type 1, version, cipher_spec_length, session_id_length,
 * challenge_length, 3-byte cipher specs, session id, challenge. */
static void sslv2_hello(struct tls_conn *c, const uint8_t *p, size_t n)
{
	struct tls_hello *h = &c->info.client;
	struct rd r = { p, n, false };
	tls_anom(c, ANOM_TLS_SSLV2_HELLO);
	c->info.sslv2_hello = true;
	if (rd_u8(&r) != 1) {
		tls_anom(c, ANOM_TLS_HS_MALFORMED);
		return;
	}
	memset(h, 0, sizeof *h);
	c->info.n_hello_client++;
	h->sslv2 = true;
	h->legacy_version = (uint16_t)rd_u16(&r);
	uint32_t cs = rd_u16(&r), sid = rd_u16(&r), ch = rd_u16(&r);
	struct rd specs = rd_sub(&r, cs);
	rd_take(&r, sid);
	const uint8_t *chal = rd_take(&r, ch);
	if (r.bad || cs % 3 || ch > 32 || ch < 16) {
		tls_anom(c, ANOM_TLS_HS_MALFORMED);
		if (r.bad)
			return;
	}
	h->seen = true;
	while (specs.n >= 3) {
		uint32_t k = rd_u8(&specs);
		uint16_t v = (uint16_t)rd_u16(&specs);
		h->n_suites_total++;
		if (k == 0)              /* a TLS suite; SSLv2-only kinds are not kept */
			list_add(h->suites, &h->n_suites, TLS_LIST_MAX, v);
	}
	/* the challenge, right-aligned, is the TLS client random */
	if (chal && ch <= 32)
		memcpy(h->random + 32 - ch, chal, ch);
}

static void go_opaque(struct tls_conn *c, int dir)
{
	struct tls_dir *d = &c->d[dir];
	d->opaque = true;
	c->info.opaque[dir] = true;
	free(d->rec);
	d->rec = NULL;
	free(d->hs_buf);
	d->hs_buf = NULL;
	d->hs_cap = 0;
}

void tls_conn_data(struct tls_conn *c, int dir, const uint8_t *p, size_t n, uint64_t ts_us)
{
	if (!c || (dir != DIR_C2S && dir != DIR_S2C))
		return;
	struct tls_dir *d = &c->d[dir];
	while (n) {
		if (d->opaque) {
			c->info.opaque_bytes[dir] += n;
			return;
		}
		if (!d->in_body) {
			if (d->hdr_n == 0)
				apply_pending(c, dir);
			d->hdr[d->hdr_n++] = *p++;
			n--;
			if (!d->started && d->hdr_n == 3) {
				d->started = true;
				/* SSLv2 record: 2-byte header with the top bit set, msg_type 1 */
				if (dir == DIR_C2S && (d->hdr[0] & 0x80) && d->hdr[2] == 1) {
					d->sslv2 = true;
					d->rec_len = ((uint32_t)(d->hdr[0] & 0x7f) << 8 | d->hdr[1]);
					if (d->rec_len > TLS_RECORD_MAX || d->rec_len < 1) {
						tls_anom(c, ANOM_TLS_RECORD_TOO_LONG);
						go_opaque(c, dir);
						continue;
					}
					if (!d->rec && !(d->rec = malloc(TLS_RECORD_MAX))) {
						go_opaque(c, dir);
						continue;
					}
					d->rec[0] = 1;   /* the msg_type byte already read */
					d->rec_got = 1;
					d->in_body = true;
					d->hdr_n = 0;
					if (d->rec_got == d->rec_len)
						goto body_done;
					continue;
				}
			}
			if (d->hdr_n < 5)
				continue;
			d->started = true;
			uint8_t type = d->hdr[0];
			uint16_t ver = (uint16_t)(d->hdr[1] << 8 | d->hdr[2]);
			d->rec_len = (uint32_t)d->hdr[3] << 8 | d->hdr[4];
			if (type < CT_CCS || type > CT_HEARTBEAT) {
				tls_anom(c, ANOM_TLS_RECORD_BAD_TYPE);
				go_opaque(c, dir);
				c->info.opaque_bytes[dir] += 5;
				continue;
			}
			if ((ver >> 8) != 3) {
				tls_anom(c, ANOM_TLS_RECORD_BAD_VERSION);
				go_opaque(c, dir);
				c->info.opaque_bytes[dir] += 5;
				continue;
			}
			if ((ver & 0xff) > 4)
				tls_anom(c, ANOM_TLS_RECORD_BAD_VERSION);
			if (d->rec_len > TLS_RECORD_MAX) {
				tls_anom(c, ANOM_TLS_RECORD_TOO_LONG);
				if (d->crypt || d->had_keys)
					lose(c, dir, d->rec_len, ts_us);
				go_opaque(c, dir);
				c->info.opaque_bytes[dir] += 5;
				continue;
			}
			if (!d->rec && !(d->rec = malloc(TLS_RECORD_MAX))) {
				go_opaque(c, dir);
				continue;
			}
			d->rec_got = 0;
			d->in_body = true;
			if (d->rec_len)
				continue;
		} else {
			uint32_t want = d->rec_len - d->rec_got;
			size_t k = n < want ? n : want;
			memcpy(d->rec + d->rec_got, p, k);
			d->rec_got += (uint32_t)k;
			p += k, n -= k;
			if (d->rec_got < d->rec_len)
				continue;
		}
body_done:
		d->in_body = false;
		d->hdr_n = 0;
		if (d->sslv2) {
			d->sslv2 = false;
			c->info.records[dir]++;
			sslv2_hello(c, d->rec, d->rec_len);
		} else {
			record(c, dir, d->hdr[0], (uint16_t)(d->hdr[1] << 8 | d->hdr[2]), d->rec, d->rec_len, ts_us);
		}
	}
}

void tls_conn_gap(struct tls_conn *c, int dir, uint64_t len, uint64_t ts_us)
{
	if (!c || (dir != DIR_C2S && dir != DIR_S2C))
		return;
	struct tls_dir *d = &c->d[dir];
	if (d->opaque) {
		c->info.opaque_bytes[dir] += len;
		return;
	}
	tls_anom(c, ANOM_TLS_GAP);
	if (d->crypt || d->had_keys)
		lose(c, dir, len, ts_us);
	go_opaque(c, dir);
	c->info.opaque_bytes[dir] += len;
}

struct tls_conn *tls_conn_new(const struct tls_keys *keys, const struct tls_callbacks *cb)
{
	struct tls_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->keys = keys;
	if (cb)
		c->cb = *cb;
	if (keys) {
		c->plain = malloc(TLS_RECORD_MAX);
		if (!c->plain) {
			free(c);
			return NULL;
		}
	}
	/* with a store: "missing" until a ServerHello finds the secret */
	c->info.keys = keys ? TLS_KEYS_MISSING : TLS_KEYS_NONE;
	return c;
}

const struct tls_info *tls_conn_info(const struct tls_conn *c)
{
	return c ? &c->info : NULL;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		free(c->d[i].rec);
		free(c->d[i].hs_buf);
		cfree(c->d[i].crypt);
		cfree(c->d[i].pend_crypt);
		cfree(c->d[i].trial);
		cfree(c->tls12_pending[i]);
	}
	free(c->plain);
	free(c->info.certs);
	free(c);
}
