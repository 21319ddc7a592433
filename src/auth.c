/* auth — SMTP AUTH credential decoding; contract in include/auth.h. */
#include "auth.h"

#include <string.h>

#include "ascii.h"
#include "codec.h"

static const struct {
	const char *name;
	enum auth_mech mech;
} mech_table[] = {
	{ "LOGIN", AUTH_MECH_LOGIN },
	{ "PLAIN", AUTH_MECH_PLAIN },
	{ "CRAM-MD5", AUTH_MECH_CRAM_MD5 },
	{ "XOAUTH2", AUTH_MECH_XOAUTH2 },
	{ "OAUTHBEARER", AUTH_MECH_OAUTHBEARER },
	{ "NTLM", AUTH_MECH_NTLM },
	{ "SCRAM-SHA-1", AUTH_MECH_SCRAM },
	{ "SCRAM-SHA-256", AUTH_MECH_SCRAM },
	{ "SCRAM-SHA-1-PLUS", AUTH_MECH_SCRAM },
	{ "SCRAM-SHA-256-PLUS", AUTH_MECH_SCRAM },
	{ NULL, AUTH_MECH_OTHER },
};

const char *auth_mech_str(enum auth_mech m)
{
	switch (m) {
	case AUTH_MECH_LOGIN: return "LOGIN";
	case AUTH_MECH_PLAIN: return "PLAIN";
	case AUTH_MECH_CRAM_MD5: return "CRAM-MD5";
	case AUTH_MECH_XOAUTH2: return "XOAUTH2";
	case AUTH_MECH_OAUTHBEARER: return "OAUTHBEARER";
	case AUTH_MECH_NTLM: return "NTLM";
	case AUTH_MECH_SCRAM: return "SCRAM";
	case AUTH_MECH_OTHER: break;
	}
	return "other";
}

const char *auth_result_str(enum auth_result r)
{
	switch (r) {
	case AUTH_RESULT_SUCCESS: return "success";
	case AUTH_RESULT_FAILURE: return "failure";
	case AUTH_RESULT_CANCELLED: return "cancelled";
	case AUTH_RESULT_UNKNOWN: break;
	}
	return "unknown";
}

void auth_attempt_begin(struct auth_attempt *a, const uint8_t *mech, size_t n, uint64_t ts_us)
{
	memset(a, 0, sizeof *a);
	a->ts_us = ts_us;
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < sizeof a->mech_name; i++) {
		unsigned char c = mech[i];
		if (c <= 0x20 || c >= 0x7f)
			c = '?';
		a->mech_name[k++] = (char)ascii_upper(c);
	}
	a->mech_name[k] = '\0';
	a->mech = AUTH_MECH_OTHER;
	for (size_t i = 0; mech_table[i].name; i++)
		if (strcmp(mech_table[i].name, a->mech_name) == 0)
			a->mech = mech_table[i].mech;
}

void auth_attempt_free(struct auth_attempt *a)
{
	sbuf_free(&a->authzid);
	sbuf_free(&a->user);
	sbuf_free(&a->domain);
	sbuf_free(&a->workstation);
	sbuf_free(&a->secret);
	sbuf_free(&a->challenge);
}

/* Replace dst by p[0..n), capped at AUTH_FIELD_MAX. */
static void field_set(struct sbuf *dst, const void *p, size_t n)
{
	sbuf_clear(dst);
	sbuf_add(dst, p, n > AUTH_FIELD_MAX ? AUTH_FIELD_MAX : n);
}

/* Find byte c in p[0..n); returns its index or n. */
static size_t find_byte(const uint8_t *p, size_t n, uint8_t c)
{
	const uint8_t *q = memchr(p, c, n);
	return q ? (size_t)(q - p) : n;
}


/* --- NTLMSSP (MS-NLMP §2.2) ------------------------------------------- */

#define NTLM_FLAG_UNICODE 0x00000001u

static uint32_t rd_le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Append UTF-16LE p[0..n) as UTF-8; unpaired surrogates become U+FFFD. */
static void utf16le_to_utf8(struct sbuf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n && out->len < AUTH_FIELD_MAX; i += 2) {
		uint32_t cp = rd_le16(p + i);
		if (cp >= 0xd800 && cp <= 0xdbff && i + 3 < n) {
			uint32_t lo = rd_le16(p + i + 2);
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 2;
			} else {
				cp = 0xfffd;
			}
		} else if (cp >= 0xd800 && cp <= 0xdfff) {
			cp = 0xfffd;
		}
		char t[4];
		size_t k = utf8_put(t, cp);
		sbuf_add(out, t, k);
	}
}

/* A security buffer {len u16, maxlen u16, offset u32} at p+at; appends the
 * field to out if it lies within the message. Returns false if it does not. */
static bool ntlm_field(const uint8_t *p, size_t n, size_t at, bool unicode, struct sbuf *out)
{
	if (at + 8 > n)
		return false;
	uint32_t len = rd_le16(p + at);
	uint32_t off = rd_le32(p + at + 4);
	if (off > n || len > n - off)
		return false;
	sbuf_clear(out);
	if (unicode)
		utf16le_to_utf8(out, p + off, len);
	else
		sbuf_add(out, p + off, len > AUTH_FIELD_MAX ? AUTH_FIELD_MAX : len);
	return true;
}

int auth_ntlm_parse(const uint8_t *p, size_t n, struct sbuf *user, struct sbuf *domain,
                    struct sbuf *workstation)
{
	if (n < 12 || memcmp(p, "NTLMSSP\0", 8) != 0)
		return 0;
	uint32_t type = rd_le32(p + 8);
	if (type < 1 || type > 3)
		return 0;
	if (type != 3)
		return (int)type;
	/* AUTHENTICATE: Lm(12) Nt(20) Domain(28) User(36) Workstation(44)
	 * EncryptedRandomSessionKey(52) NegotiateFlags(60). */
	if (n < 64)
		return 0;
	bool unicode = (rd_le32(p + 60) & NTLM_FLAG_UNICODE) != 0;
	struct sbuf d = SBUF_INIT, u = SBUF_INIT, w = SBUF_INIT;
	bool ok = ntlm_field(p, n, 28, unicode, &d) && ntlm_field(p, n, 36, unicode, &u) &&
	          ntlm_field(p, n, 44, unicode, &w);
	if (ok) {
		field_set(domain, d.buf, d.len);
		field_set(user, u.buf, u.len);
		field_set(workstation, w.buf, w.len);
	}
	sbuf_free(&d);
	sbuf_free(&u);
	sbuf_free(&w);
	return ok ? 3 : 0;
}

/* --- the dialogue ------------------------------------------------------- */

static void note_set(struct auth_note *note, const char *what, const struct sbuf *v, bool vsecret,
                     bool lsecret)
{
	if (!note)
		return;
	note->what = what;
	note->value = v ? sbuf_str(v) : NULL;
	note->value_n = v ? v->len : 0;
	note->value_secret = vsecret;
	note->line_secret = lsecret;
}

/* "n,a=user,..." (RFC 5801 gs2-header) or "n=user,r=..." (RFC 5802): the
 * value of attribute key ("a=" / "n=") among comma-separated fields. */
static bool attr_find(const uint8_t *p, size_t n, const char *key, const uint8_t **v, size_t *vn)
{
	size_t k = strlen(key), i = 0;
	while (i < n) {
		size_t e = i + find_byte(p + i, n - i, ',');
		size_t e1 = i + find_byte(p + i, e - i, 0x01);
		if (e1 < e)
			e = e1;
		if (e - i >= k && memcmp(p + i, key, k) == 0) {
			*v = p + i + k;
			*vn = e - i - k;
			return true;
		}
		i = e + 1;
	}
	return false;
}

/* --- one function per mechanism ---------------------------------------- */

/* A client response, base64-decoded (q[0..qn), what decoded before an
 * error); idx its index among the attempt's responses (0 the first). */
struct resp {
	const uint8_t *q;
	size_t qn;
	unsigned idx;
	bool initial;                 /* the initial response on the AUTH line */
	bool empty;                   /* "=" (initial) or nothing: empty */
};

static unsigned malformed(struct auth_attempt *a)
{
	a->malformed = true;
	return AUTH_ANOM_MALFORMED;
}

/* LOGIN: the first response is the username, the second the password; the
 * prompt text is not consulted (servers differ). */
static unsigned resp_login(struct auth_attempt *a, const struct resp *r, struct auth_note *note)
{
	if (r->idx == 0) {
		field_set(&a->user, r->q, r->qn);
		a->has_user = true;
		note_set(note, "username", &a->user, false, false);
	} else if (r->idx == 1) {
		field_set(&a->secret, r->q, r->qn);
		a->has_secret = true;
		note_set(note, "password", &a->secret, true, true);
	} else {
		note_set(note, "extra response", NULL, false, true);
		return AUTH_ANOM_EXTRA;
	}
	return 0;
}

/* PLAIN (RFC 4616): authzid NUL authcid NUL passwd. */
static unsigned resp_plain(struct auth_attempt *a, const struct resp *r, struct auth_note *note)
{
	const uint8_t *q = r->q;
	size_t qn = r->qn;
	if (r->empty && r->idx == 0 && r->initial) {
		/* "AUTH PLAIN =": empty initial response; credentials follow */
		a->n_resp = 0;
		note_set(note, "empty", NULL, false, false);
		return 0;
	}
	if (r->idx > 0 && a->has_user) {
		note_set(note, "extra response", NULL, false, true);
		return AUTH_ANOM_EXTRA;
	}
	size_t z1 = find_byte(q, qn, 0);
	size_t z2 = z1 < qn ? z1 + 1 + find_byte(q + z1 + 1, qn - z1 - 1, 0) : qn;
	if (z1 >= qn || z2 >= qn) {
		note_set(note, "malformed credentials", NULL, false, true);
		return malformed(a);
	}
	field_set(&a->authzid, q, z1);
	field_set(&a->user, q + z1 + 1, z2 - z1 - 1);
	field_set(&a->secret, q + z2 + 1, qn - z2 - 1);
	a->has_user = a->has_secret = true;
	note_set(note, "credentials", &a->user, false, true);
	return 0;
}

/* CRAM-MD5 (RFC 2195): "user SP hexdigest"; the user may contain spaces,
 * the digest is after the last one. */
static unsigned resp_cram_md5(struct auth_attempt *a, const struct resp *r, struct auth_note *note)
{
	size_t sp = r->qn;
	while (sp > 0 && r->q[sp - 1] != ' ')
		sp--;
	if (sp == 0) {
		note_set(note, "malformed response", NULL, false, true);
		return malformed(a);
	}
	field_set(&a->user, r->q, sp - 1);
	field_set(&a->secret, r->q + sp, r->qn - sp);
	a->has_user = a->has_secret = true;
	note_set(note, "username", &a->user, false, true);
	return 0;
}

/* XOAUTH2 (Google): "user=" user ^A "auth=Bearer " token ^A^A. */
static unsigned resp_xoauth2(struct auth_attempt *a, const struct resp *r, struct auth_note *note)
{
	const uint8_t *q = r->q, *v;
	size_t qn = r->qn, vn;
	unsigned anoms = 0;
	if (a->has_secret) {
		/* the empty reply a client sends to the error challenge */
		note_set(note, qn ? "extra response" : "error acknowledgement", NULL, false, false);
		return 0;
	}
	if (ascii_prefix_ci(q, qn, "user=")) {
		size_t e = find_byte(q, qn, 0x01);
		field_set(&a->user, q + 5, e - 5);
		a->has_user = true;
	} else {
		anoms |= malformed(a);
	}
	if (attr_find(q, qn, "auth=", &v, &vn)) {
		field_set(&a->secret, v, vn);
		a->has_secret = true;
	}
	note_set(note, "username", a->has_user ? &a->user : NULL, false, true);
	return anoms;
}

/* OAUTHBEARER (RFC 7628 §3.1): gs2-header "n,a=user," then kvpairs
 * ^A-separated. */
static unsigned resp_oauthbearer(struct auth_attempt *a, const struct resp *r, struct auth_note *note)
{
	const uint8_t *q = r->q, *v;
	size_t qn = r->qn, vn;
	unsigned anoms = 0;
	if (a->has_secret) {
		note_set(note, qn ? "extra response" : "error acknowledgement", NULL, false, false);
		return 0;
	}
	size_t hdr = find_byte(q, qn, 0x01);
	if (attr_find(q, hdr, "a=", &v, &vn)) {
		field_set(&a->user, v, vn);
		a->has_user = true;
	}
	if (attr_find(q, qn, "auth=", &v, &vn)) {
		field_set(&a->secret, v, vn);
		a->has_secret = true;
	}
	if (!a->has_secret && !a->has_user)
		anoms |= malformed(a);
	note_set(note, "username", a->has_user ? &a->user : NULL, false, true);
	return anoms;
}

/* NTLM (MS-NLMP): NEGOTIATE, then AUTHENTICATE with the user. */
static unsigned resp_ntlm(struct auth_attempt *a, const struct resp *r, struct auth_note *note)
{
	int t = auth_ntlm_parse(r->q, r->qn, &a->user, &a->domain, &a->workstation);
	if (t == 1) {
		note_set(note, "NTLM negotiate", NULL, false, false);
	} else if (t == 3) {
		a->has_user = true;
		a->has_secret = true; /* the NTLM response can be cracked offline */
		note_set(note, "NTLM authenticate user", &a->user, false, true);
	} else {
		note_set(note, "malformed NTLM", NULL, false, true);
		return malformed(a);
	}
	return 0;
}

/* SCRAM (RFC 5802): client-first "n,,n=user,r=nonce", then the proof. */
static unsigned resp_scram(struct auth_attempt *a, const struct resp *r, struct auth_note *note)
{
	const uint8_t *v;
	size_t vn;
	if (!a->has_user && attr_find(r->q, r->qn, "n=", &v, &vn)) {
		field_set(&a->user, v, vn);
		a->has_user = true;
		note_set(note, "username", &a->user, false, false);
	} else {
		note_set(note, "proof", NULL, false, true);
	}
	return 0;
}

/* A mechanism not decoded: every response may carry a secret. */
static unsigned resp_other(struct auth_attempt *a, const struct resp *r, struct auth_note *note)
{
	(void)a;
	(void)r;
	note_set(note, "response", NULL, false, true);
	return 0;
}

/* What each mechanism's client responses mean (indexed by enum auth_mech). */
static unsigned (*const mech_response[])(struct auth_attempt *, const struct resp *, struct auth_note *) = {
	[AUTH_MECH_OTHER] = resp_other,
	[AUTH_MECH_LOGIN] = resp_login,
	[AUTH_MECH_PLAIN] = resp_plain,
	[AUTH_MECH_CRAM_MD5] = resp_cram_md5,
	[AUTH_MECH_XOAUTH2] = resp_xoauth2,
	[AUTH_MECH_OAUTHBEARER] = resp_oauthbearer,
	[AUTH_MECH_NTLM] = resp_ntlm,
	[AUTH_MECH_SCRAM] = resp_scram,
};

unsigned auth_client_response(struct auth_attempt *a, const uint8_t *p, size_t n, bool initial,
                              struct auth_note *note)
{
	unsigned anoms = 0;
	note_set(note, "response", NULL, false, false);
	if (n == 1 && p[0] == '*') { /* RFC 4954 §4: cancel */
		a->cancelled = true;
		a->result = AUTH_RESULT_CANCELLED;
		note_set(note, "cancel", NULL, false, false);
		return 0;
	}
	struct sbuf d = SBUF_INIT;
	bool empty = (initial && n == 1 && p[0] == '=') || n == 0;
	if (!empty && b64_decode(&d, p, n) != 0) {
		a->bad_base64 = true;
		anoms |= AUTH_ANOM_BAD_BASE64;
		/* keep what decoded before the error; the rest is still judged */
	}
	struct resp r = {
		.q = d.buf ? (const uint8_t *)d.buf : (const uint8_t *)"", .qn = d.len,
		.idx = a->n_resp++, .initial = initial, .empty = empty,
	};
	unsigned m = (unsigned)a->mech;
	anoms |= (m < sizeof mech_response / sizeof mech_response[0] && mech_response[m] ? mech_response[m]
	                                                                                : resp_other)(a, &r, note);
	sbuf_free(&d);
	return anoms;
}

void auth_server_challenge(struct auth_attempt *a, const uint8_t *p, size_t n)
{
	a->n_chal++;
	if (a->mech == AUTH_MECH_CRAM_MD5 && a->challenge.len == 0) {
		struct sbuf d = SBUF_INIT;
		if (b64_decode(&d, p, n) == 0)
			field_set(&a->challenge, d.buf ? d.buf : "", d.len);
		sbuf_free(&d);
	}
}

void auth_server_result(struct auth_attempt *a, int code)
{
	a->reply_code = code;
	if (a->cancelled)
		a->result = AUTH_RESULT_CANCELLED;
	else if (code == 235) /* RFC 4954 §6: 235 is the only success */
		a->result = AUTH_RESULT_SUCCESS;
	else if (code >= 400)
		a->result = AUTH_RESULT_FAILURE;
}

bool auth_expects_response(const struct auth_attempt *a)
{
	if (a->cancelled || a->result != AUTH_RESULT_UNKNOWN)
		return false;
	switch (a->mech) {
	case AUTH_MECH_LOGIN: return a->n_resp < 2;
	case AUTH_MECH_PLAIN:
	case AUTH_MECH_CRAM_MD5:
	case AUTH_MECH_XOAUTH2:
	case AUTH_MECH_OAUTHBEARER: return a->n_resp < 1;
	case AUTH_MECH_NTLM:
	case AUTH_MECH_SCRAM: return a->n_resp < 2;
	case AUTH_MECH_OTHER: break;
	}
	return true;
}
