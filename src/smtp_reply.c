/* smtp_reply — the server side: reply lines (RFC 5321 §4.2, enhanced codes
 * RFC 3463), multi-line replies, EHLO capabilities, pairing a reply with the
 * command it answers (and re-aligning when replies were lost), and each
 * reply's effects. Part of the SMTP dissector (src/smtp_int.h). */
#include "smtp_int.h"


static const struct {
	const char *name;
	uint32_t flag;
	uint8_t len; /* strlen(name) */
} cap_table[] = {
	{ "PIPELINING", SMTP_CAP_PIPELINING, sizeof "PIPELINING" - 1 }, { "SIZE", SMTP_CAP_SIZE, sizeof "SIZE" - 1 },
	{ "8BITMIME", SMTP_CAP_8BITMIME, sizeof "8BITMIME" - 1 }, { "STARTTLS", SMTP_CAP_STARTTLS, sizeof "STARTTLS" - 1 },
	{ "AUTH", SMTP_CAP_AUTH, sizeof "AUTH" - 1 }, { "CHUNKING", SMTP_CAP_CHUNKING, sizeof "CHUNKING" - 1 },
	{ "BINARYMIME", SMTP_CAP_BINARYMIME, sizeof "BINARYMIME" - 1 }, { "SMTPUTF8", SMTP_CAP_SMTPUTF8, sizeof "SMTPUTF8" - 1 },
	{ "DSN", SMTP_CAP_DSN, sizeof "DSN" - 1 }, { "ENHANCEDSTATUSCODES", SMTP_CAP_ENHANCEDSTATUSCODES, sizeof "ENHANCEDSTATUSCODES" - 1 },
	{ "ETRN", SMTP_CAP_ETRN, sizeof "ETRN" - 1 }, { "VRFY", SMTP_CAP_VRFY, sizeof "VRFY" - 1 }, { "BURL", SMTP_CAP_BURL, sizeof "BURL" - 1 },
	{ "XCLIENT", SMTP_CAP_XCLIENT, sizeof "XCLIENT" - 1 }, { "XFORWARD", SMTP_CAP_XFORWARD, sizeof "XFORWARD" - 1 },
	{ "REQUIRETLS", SMTP_CAP_REQUIRETLS, sizeof "REQUIRETLS" - 1 }, { NULL, 0, 0 },
};

const char *smtp_cap_name(uint32_t flag)
{
	for (size_t i = 0; cap_table[i].name; i++)
		if (cap_table[i].flag == flag)
			return cap_table[i].name;
	return NULL;
}

/* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39, then SP, "-" or the
 * end of the line. Returns the code or 0. */
int reply_code_parse(const uint8_t *p, size_t n, char *sep)
{
	if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' || p[2] < '0' || p[2] > '9')
		return 0;
	if (n > 3 && p[3] != ' ' && p[3] != '-')
		return 0;
	*sep = n > 3 ? (char)p[3] : ' ';
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* RFC 3463 §2: class "." subject "." detail, class 2/4/5, 1-3 digits each.
 * Returns the length parsed (0 if none); copies it to out. */
static size_t enhanced_parse(const uint8_t *p, size_t n, char out[16])
{
	size_t i = 0;
	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;
		while (i < n && d < 4 && p[i] >= '0' && p[i] <= '9') {
			i++;
			d++;
		}
		if (d == 0 || d > 3)
			return 0;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && !is_sp(p[i]))
		return 0;
	memcpy(out, p, i);
	out[i] = '\0';
	return i;
}

static void reply_reset(struct sess *s)
{
	s->in_reply = false;
	s->rcode = 0;
	sbuf_clear(&s->rbytes);
	s->rn = s->rn_total = 0;
	s->rtrunc = false;
	s->renh[0] = '\0';
	s->rtext_off = s->rtext_n = 0;
}

static void reply_store(struct sess *s, const struct rawline *l)
{
	s->rn_total++;
	if (s->rn >= SMTP_REPLY_LINES_MAX) {
		if (s->rn_total == SMTP_REPLY_LINES_MAX + 1)
			raise_anom(s, NULL, ANOM_SMTP_REPLY_TOO_LONG);
		return;
	}
	s->roff[s->rn] = s->rbytes.len;
	s->rlen[s->rn] = l->n;
	s->rn++;
	sbuf_add(&s->rbytes, l->p, l->n);
	if (l->truncated)
		s->rtrunc = true;
	/* text of this line after "ddd " and the enhanced code */
	size_t t = l->n >= 4 ? 4 : l->n;
	s->renh[0] = '\0';
	if (s->rcode) {
		size_t e = enhanced_parse(l->p + t, l->n - t, s->renh);
		if (e)
			t = skip_sp(l->p, l->n, t + e);
	}
	s->rtext_off = s->roff[s->rn - 1] + t;
	s->rtext_n = l->n - t;
}

/* A capability list's text is its first line (the server's name and
 * greeting, RFC 5321 §4.1.1.1), not its last keyword: r->text becomes the
 * first line after the code, the separator and an enhanced code. */
static void reply_first_text(struct smtp_reply *r)
{
	const struct smtp_reply_line *l = &r->lines[0];
	size_t t = l->n >= 4 ? 4 : l->n;
	char enh[16];
	size_t e = enhanced_parse(l->p + t, l->n - t, enh);
	if (e)
		t = skip_sp(l->p, l->n, t + e);
	r->text = l->p + t;
	r->text_n = l->n - t;
}

/* An EHLO reply line "250-KEYWORD params" (RFC 5321 §4.1.1.1): *p, *m the
 * text after the code and separator; returns the keyword's length (up to a
 * space or '='). */
static size_t cap_keyword(const struct smtp_reply_line *l, const uint8_t **p, size_t *m)
{
	*p = l->p + (l->n >= 4 ? 4 : l->n);
	*m = l->n >= 4 ? l->n - 4 : 0;
	size_t k = 0;
	while (k < *m && !is_sp((*p)[k]) && (*p)[k] != '=')
		k++;
	return k;
}

/* A keyword an inspecting middlebox masked (Cisco's ESMTP inspection
 * writes "XXXXXXXA" over STARTTLS): only X and A, at least one X. */
static bool cap_masked(const uint8_t *p, size_t k)
{
	bool x = false;
	for (size_t i = 0; i < k; i++) {
		if (p[i] != 'X' && p[i] != 'A')
			return false;
		x |= p[i] == 'X';
	}
	return x;
}

/* Parse EHLO/LHLO reply lines 2..n (RFC 5321 §4.1.1.1: ehlo-line). */
void caps_parse(struct sess *s, const struct smtp_reply_line *lines, size_t n)
{
	struct smtp_caps *c = &s->pub.caps;
	memset(c, 0, sizeof *c);
	c->seen = true;
	for (size_t i = 1; i < n; i++) {
		const uint8_t *p;
		size_t m, k = cap_keyword(&lines[i], &p, &m);
		if (k == sizeof "STARTTLS" - 1 && cap_masked(p, k))
			s->pub.starttls_masked = true;
		for (size_t j = 0; cap_table[j].name; j++) {
			if (!ascii_eq_ci_n(p, k, cap_table[j].name, cap_table[j].len))
				continue;
			c->flags |= cap_table[j].flag;
			size_t a = skip_sp(p, m, k + (k < m && p[k] == '=' ? 1 : 0));
			if (cap_table[j].flag == SMTP_CAP_SIZE) {
				size_t e = a;
				while (e < m && p[e] >= '0' && p[e] <= '9')
					e++;
				if (!parse_u64(p + a, e - a, UINT64_MAX, &c->size))
					c->size = 0; /* bare "SIZE": no limit advertised */
			} else if (cap_table[j].flag == SMTP_CAP_AUTH) {
				/* "AUTH LOGIN PLAIN" (and the old "AUTH=LOGIN"; Postfix's
				 * broken_sasl_auth_clients sends both): each mechanism once,
				 * uppercased, separated by one space. */
				size_t x = a;
				while (x < m) {
					while (x < m && (is_sp(p[x]) || p[x] < 0x20 || p[x] >= 0x7f))
						x++;
					char tok[sizeof c->auth];
					size_t tl = 0;
					for (; x < m && !is_sp(p[x]); x++)
						if (p[x] >= 0x20 && p[x] < 0x7f && tl + 1 < sizeof tok)
							tok[tl++] = (char)ascii_upper(p[x]);
					tok[tl] = '\0';
					if (!tl)
						continue;
					size_t o = strlen(c->auth);
					bool dup = false;
					for (const char *q = c->auth; *q;) {
						size_t ql = strcspn(q, " ");
						if (ql == tl && memcmp(q, tok, tl) == 0)
							dup = true;
						q += ql;
						while (*q == ' ')
							q++;
					}
					if (dup || o + (o ? 1 : 0) + tl >= sizeof c->auth)
						continue;
					if (o)
						c->auth[o++] = ' ';
					memcpy(c->auth + o, tok, tl + 1);
				}
			}
		}
	}
	/* RFC 1870 §3: 0 is no fixed maximum; no parameter states none */
	c->size_unlimited = (c->flags & SMTP_CAP_SIZE) && c->size == 0;
}

static const char *class_word(int code)
{
	switch (code / 100) {
	case 2: return "ok";
	case 3: return "continue";
	case 4: return "tempfail";
	case 5: return "rejected";
	}
	return "invalid";
}

/* Apply a reply's consequences to the command it answers: what every reply
 * does to its transaction here, the rest by the verb's on_reply (smtp.c's
 * verb table, beside the command's handler) or, for the end of a message,
 * reply_eod (smtp_body.c). */
static void reply_effects(struct sess *s, struct pending *e, const struct smtp_reply *r,
                          uint64_t ts)
{
	struct txn_impl *t = e->txn;
	if (t) {
		if (r->n_lines) { /* the buffer is reused: one allocation per txn, not per reply */
			const struct smtp_reply_line *ll = &r->lines[r->n_lines - 1];
			size_t m = ll->n > SMTP_PARAM_MAX ? SMTP_PARAM_MAX : ll->n;
			if (!t->pub.last_reply || m + 1 > t->last_reply_cap) {
				size_t c = m + 1 < 64 ? 64 : m + 1;
				free(t->pub.last_reply);
				t->pub.last_reply = xmalloc(c);
				t->last_reply_cap = c;
			}
			memcpy(t->pub.last_reply, ll->p, m);
			t->pub.last_reply[m] = '\0';
		} else {
			free(t->pub.last_reply);
			t->pub.last_reply = NULL;
			t->last_reply_cap = 0;
		}
		if (ts > t->pub.end_ts_us)
			t->pub.end_ts_us = ts;
	}
	if (e->kind == PEND_EOD) {
		reply_eod(s, e, r, ts);
		return;
	}
	/* an AUTH response (PEND_AUTH_RESP) is queued with the verb AUTH */
	reply_handler on_reply = verb_ops[(unsigned)e->verb < SMTP_VERB__COUNT ? e->verb : 0].on_reply;
	if (on_reply)
		on_reply(s, e, r, ts);
}

/* Codes that answer one command only (RFC 5321 §4.2-4.3, §3.1, RFC 4954 §4,
 * RFC 3207 §4): 354 DATA, 334 and 235 AUTH, 221 QUIT, 220 STARTTLS. Certain:
 * the command is known even on a capture without server-side loss (220 is
 * also the greeting, and a reply to STARTTLS may be refused as one). */
static const struct {
	int code;
	enum smtp_verb verb;
	bool certain;
} reply_owner[] = {
	{ 354, SMTP_VERB_DATA, true }, { 334, SMTP_VERB_AUTH, true }, { 235, SMTP_VERB_AUTH, true },
	{ 221, SMTP_VERB_QUIT, true }, { 220, SMTP_VERB_STARTTLS, false },
};

/* The verb a code can only answer, SMTP_VERB_UNKNOWN if it is not one of them. */
static enum smtp_verb reply_code_owner(int code, bool *certain)
{
	for (size_t i = 0; i < sizeof reply_owner / sizeof reply_owner[0]; i++)
		if (reply_owner[i].code == code) {
			*certain = reply_owner[i].certain;
			return reply_owner[i].verb;
		}
	*certain = false;
	return SMTP_VERB_UNKNOWN;
}

/* What a reply can answer: false only when the reply cannot be the answer to
 * e, so that a lost reply can be recognised. The codes that answer one
 * command only (reply_owner), and per verb the kind of reply it takes (the
 * verb table's `fit`, smtp.c): FIT_ANY anything (unknown verbs), FIT_OWN a
 * failure or its own codes (DATA 354, QUIT 221, STARTTLS 220, AUTH 334/235),
 * else any code not owned by another verb, an addressing status (enhanced
 * code X.1.Y, RFC 3463 §3.3-3.4) in a success only for FIT_ADDR verbs
 * (MAIL, RCPT, VRFY, EXPN), X.1.1-6/10 (destination mailbox) not for the
 * sender (FIT_SENDER), 2.1.0 and X.1.7/8 (sender) not for the recipient
 * (FIT_RCPT), a multi-line 250 listing capabilities only for FIT_CAPS (EHLO,
 * LHLO, HELO, HELP). The end of a message takes no 3yz/220/221/235. */
static bool reply_fits(const struct pending *e, const struct smtp_reply *r)
{
	int c = r->code, cls = c / 100;
	bool fail = cls == 4 || cls == 5, certain;
	if (e->kind == PEND_EOD)
		return fail || (cls == 2 && c != 220 && c != 221 && c != 235);
	/* an AUTH response (PEND_AUTH_RESP) is queued with the verb AUTH */
	enum smtp_verb v = (unsigned)e->verb < SMTP_VERB__COUNT ? e->verb : SMTP_VERB_UNKNOWN;
	unsigned fit = verb_ops[v].fit;
	if (fit & FIT_ANY)
		return true;
	enum smtp_verb owner = reply_code_owner(c, &certain);
	if (fit & FIT_OWN)
		return fail || owner == v;
	if (owner != SMTP_VERB_UNKNOWN)
		return false; /* answers one command only, and it is not this one */
	bool addr = r->enhanced[0] && r->enhanced[1] == '.' && r->enhanced[2] == '1' && r->enhanced[3] == '.';
	if (addr && cls == 2 && !(fit & FIT_ADDR))
		return false;
	if (addr && (fit & (FIT_SENDER | FIT_RCPT))) {
		int d = atoi(r->enhanced + 4);
		bool rcpt_only = d == 1 || d == 2 || d == 3 || d == 4 || d == 5 || d == 6 || d == 10;
		bool mail_only = d == 7 || d == 8 || (d == 0 && r->enhanced[0] == '2');
		if (rcpt_only && (fit & FIT_SENDER))
			return false;
		if (mail_only && (fit & FIT_RCPT))
			return false;
	}
	if (c == 250 && r->n_lines > 1 && !(fit & FIT_CAPS)) {
		/* a capability list answers EHLO/LHLO: a second line that is a
		 * known EHLO keyword */
		const uint8_t *p;
		size_t m, k = cap_keyword(&r->lines[1], &p, &m);
		for (size_t j = 0; cap_table[j].name; j++)
			if (ascii_eq_ci_n(p, k, cap_table[j].name, cap_table[j].len))
				return false;
	}
	return true;
}

/* A complete reply: pair it, emit EV_REPLY, apply its effects. */
/* Position in the queue of the first entry r can answer (0: the head), at
 * most SMTP_RESYNC_LOOKAHEAD entries deep; SIZE_MAX if none. */
#define SMTP_RESYNC_LOOKAHEAD 32
static size_t reply_fit_index(const struct sess *s, const struct smtp_reply *r)
{
	for (size_t k = 0; k < s->qlen && k < SMTP_RESYNC_LOOKAHEAD; k++)
		if (reply_fits(&s->q[(s->qhead + k) % s->qcap], r))
			return k;
	return SIZE_MAX;
}

/* A 354 that answers nothing queued, while a transaction with MAIL and RCPT
 * waits for its message: the DATA command was lost in a client-side gap (RFC
 * 5321 §4.3.2: only DATA gets 354; the gap itself may be declared only later,
 * when the client's next bytes arrive). Enter data mode as DATA would have. */
static bool reply_data_lost(struct sess *s, struct smtp_reply *r, uint64_t ts)
{
	struct txn_impl *t = s->cur;
	if (r->code != 354 || s->pub.state != SMTP_ST_COMMAND || !t || !t->pub.has_mail ||
	    !t->pub.n_rcpt_total || t->pub.msg_started || t->pub.xfer != SMTP_XFER_NONE)
		return false;
	raise_anom(s, t, ANOM_SMTP_REPLY_RESYNC);
	t->pub.data_reply = 354;
	data_start(s, ts);
	r->answer = SMTP_ANSWER_INTERMEDIATE;
	r->answers = SMTP_VERB_DATA;
	r->label = "DATA continue (command lost)";
	return true;
}

/* A reply that answers nothing queued while the client is inside an AUTH
 * exchange, on a capture with loss: the response it answers fell in a gap
 * (the gap drops the response's queue entry with its bytes). 334 is the
 * next challenge; a final reply (235 or a failure, RFC 4954 §4) ends the
 * exchange, so the client's next lines are commands again. */
static bool reply_auth_lost(struct sess *s, struct smtp_reply *r, uint64_t ts)
{
	struct auth_attempt *a = s->auth_cur;
	int cls = r->code / 100;
	if (s->pub.state != SMTP_ST_AUTH || !a || (!s->pub.gap_bytes[0] && !s->pub.gap_bytes[1]))
		return false;
	if (r->code != 334 && r->code != 235 && cls != 4 && cls != 5)
		return false;
	(void)ts;
	raise_anom(s, NULL, ANOM_SMTP_REPLY_RESYNC);
	r->answers = SMTP_VERB_AUTH;
	if (r->code == 334) {
		auth_server_challenge(a, r->text, r->text_n);
		r->answer = SMTP_ANSWER_INTERMEDIATE;
		r->label = "AUTH continue (response lost)";
		return true;
	}
	auth_server_result(a, r->code);
	s->auth_cur = NULL;
	enter_state(s, SMTP_ST_COMMAND);
	r->answer = SMTP_ANSWER_AUTH;
	label_join(s->label, sizeof s->label, "AUTH", class_word(r->code), "(response lost)");
	r->label = s->label;
	return true;
}

void reply_finish(struct sess *s, uint64_t ts)
{
	/* The reply is complete from here on: its effects may release held
	 * client bytes (hold_release -> client_command), which must not take it
	 * for a multi-line reply still open and finish it a second time (b09). */
	s->in_reply = false;
	struct smtp_reply_line lines[SMTP_REPLY_LINES_MAX];
	for (size_t i = 0; i < s->rn; i++) {
		lines[i].p = (const uint8_t *)s->rbytes.buf + s->roff[i];
		lines[i].n = s->rlen[i];
	}
	struct smtp_reply r = {
		.code = s->rcode, .lines = lines, .n_lines = s->rn, .n_lines_total = s->rn_total,
		.text = (const uint8_t *)(s->rbytes.buf ? s->rbytes.buf : "") + s->rtext_off,
		.text_n = s->rtext_n, .truncated = s->rtrunc, .ts_us = ts,
	};
	memcpy(r.enhanced, s->renh, sizeof r.enhanced);
	struct pending e;
	bool have = false;
	s->pub.n_replies++;
	/* RFC 5321 §4.1.1.4: the server answers DATA's message only after the
	 * end-of-data line. A final reply while the message is still open after
	 * a gap means the terminator was lost in the gap: the message is over,
	 * the reply answers it, and the client's next bytes are commands. */
	if (s->pub.state == SMTP_ST_DATA && r.code >= 200 && r.code != 354 && s->cur &&
	    s->cur->pub.msg_gap_bytes) {
		msg_finish(s, false, true, ts);
		enter_state(s, SMTP_ST_COMMAND);
		line_done(&s->lb[FLOW_C2S]);
	}
	bool unexpected = false;
	if (r.code == 0) {
		r.answer = SMTP_ANSWER_INVALID;
		r.label = "invalid";
	} else if (!s->greeting_seen && (s->qlen == 0 || r.code == 220 || r.code == 554) &&
	           !(r.code == 220 && s->qlen && s->pub.flow && !s->pub.flow->syn_seen &&
	             s->q[s->qhead].kind == PEND_CMD && s->q[s->qhead].verb == SMTP_VERB_STARTTLS)) {
		/* (picked up mid-stream at STARTTLS, a 220 is its answer, RFC 3207 §4) */
		/* RFC 5321 §3.1: 220 greeting, or 554 refusal; a client may have
		 * sent its whole dialogue already (blind pipelining). */
		s->greeting_seen = true;
		pend_drop_preamble(s, ts);
		s->pub.greeting_code = r.code;
		free(s->pub.greeting);
		s->pub.greeting = dup_cap(r.text, r.text_n, SMTP_PARAM_MAX);
		if (r.code != 220)
			raise_anom(s, NULL, ANOM_SMTP_BAD_GREETING);
		r.answer = SMTP_ANSWER_GREETING;
		r.label = r.code == 220 ? "greeting" : "greeting refused";
	} else {
		if (!s->greeting_seen) {
			s->greeting_seen = true;
			if (s->qlen)
				raise_anom(s, NULL, ANOM_SMTP_NO_GREETING);
		}
		/* The reply answers the head entry unless it cannot (reply_fits):
		 * then the replies of the entries before the first one it fits
		 * were lost (a server-side capture gap) and are skipped, so one
		 * lost reply does not shift every later pairing. A client held in
		 * WAIT_* whose awaited reply never came (a silent server) has its
		 * held commands released first: the reply may answer one of them. */
		size_t k = reply_fit_index(s, &r);
		if (k == SIZE_MAX && s->qlen && state_is_wait(s->pub.state)) {
			client_force(s, ts);
			k = reply_fit_index(s, &r);
		}
		/* Replies go missing in server-side gaps; without one, only a code
		 * whose command is certain (354 DATA, 334/235 AUTH, 221 QUIT) or a
		 * reply that cannot answer the
		 * AUTH at the head (a silent server, the client moved on) skips
		 * entries, and a reply that fits nothing still answers the head,
		 * as a server that misbehaves is still answering in order. */
		const struct pending *hd = s->qlen ? &s->q[s->qhead] : NULL;
		bool lossy = s->pub.gap_bytes[1] != 0;
		bool certain;
		reply_code_owner(r.code, &certain);
		bool skip_ok = lossy || certain ||
		               (hd && (hd->kind == PEND_AUTH_RESP || (hd->kind == PEND_CMD && hd->verb == SMTP_VERB_AUTH)));
		if (k == SIZE_MAX && s->qlen && !lossy && !certain)
			k = 0;
		if (k != SIZE_MAX && k > 0 && !skip_ok)
			k = 0;
		if (k == SIZE_MAX) {
			unexpected = true;
		} else {
			if (k > 0)
				raise_anom(s, NULL, ANOM_SMTP_REPLY_RESYNC);
			while (k--) {
				struct pending *old = &s->q[s->qhead];
				s->qhead = (s->qhead + 1) % s->qcap;
				s->qlen--;
				if (old->txn && --old->txn->npending == 0 && old->txn->client_closed)
					txn_emit(s, old->txn, ts);
			}
			/* every reply, intermediate (334, 354) or final, answers one entry */
			e = s->q[s->qhead];
			s->qhead = (s->qhead + 1) % s->qcap;
			s->qlen--;
			have = true;
			r.answers = e.verb;
			if (e.kind == PEND_CMD && (e.verb == SMTP_VERB_EHLO || e.verb == SMTP_VERB_LHLO) &&
			    r.n_lines > 1)
				reply_first_text(&r);
			if (e.kind == PEND_EOD) {
				r.answer = SMTP_ANSWER_MESSAGE;
				label_join(s->label, sizeof s->label, "message", class_word(r.code), NULL);
			} else if (e.kind == PEND_AUTH_RESP) {
				r.answer = r.code / 100 == 3 ? SMTP_ANSWER_INTERMEDIATE : SMTP_ANSWER_AUTH;
				label_join(s->label, sizeof s->label, "AUTH", class_word(r.code), NULL);
			} else {
				r.answer = r.code / 100 == 3 ? SMTP_ANSWER_INTERMEDIATE : SMTP_ANSWER_COMMAND;
				label_join(s->label, sizeof s->label, smtp_verb_str(e.verb), class_word(r.code), NULL);
			}
			r.label = s->label;
		}
	}
	if (unexpected && !reply_data_lost(s, &r, ts) && !reply_auth_lost(s, &r, ts)) {
		if (r.code != 421) /* 421 may come unsolicited (RFC 5321 §3.8) */
			raise_anom(s, NULL, ANOM_SMTP_UNEXPECTED_REPLY);
		r.answer = SMTP_ANSWER_UNEXPECTED;
		r.label = "unexpected";
	}
	emit_event(s, EV_REPLY, ts, NULL, &r, NULL);
	if (have) {
		struct txn_impl *t = e.txn;
		uint64_t tseq = t ? t->pub.seq : 0;
		reply_effects(s, &e, &r, ts);
		/* t may have been emitted early (caps) during the effects: only
		 * touch it if it is still open (seq guards against address reuse) */
		bool alive = false;
		for (size_t i = 0; t && i < s->n_open; i++)
			if (s->open[i] == t && t->pub.seq == tseq)
				alive = true;
		if (alive && t->npending) {
			t->npending--;
			if (t->npending == 0 && t->client_closed)
				txn_emit(s, t, ts);
		}
	}
	reply_reset(s);
}

void server_line(struct sess *s, const struct rawline *l, uint64_t ts)
{
	line_anoms(s, l, true);
	char sep = ' ';
	int code = reply_code_parse(l->p, l->n, &sep);
	if (!code) {
		raise_anom(s, NULL, ANOM_SMTP_INVALID_REPLY);
		if (s->in_reply) { /* keep it as a line of the reply being assembled */
			reply_store(s, l);
			return;
		}
		s->rcode = 0;
		reply_store(s, l);
		s->rtext_off = s->roff[0];
		s->rtext_n = s->rn ? s->rlen[0] : 0;
		reply_finish(s, ts);
		return;
	}
	if (!s->in_reply) {
		s->in_reply = true;
		s->rcode = code;
	} else if (code != s->rcode) {
		raise_anom(s, NULL, ANOM_SMTP_REPLY_CODE_MISMATCH);
		s->rcode = code; /* the last line's code is the reply's */
	}
	reply_store(s, l);
	if (sep != '-')
		reply_finish(s, ts);
}
