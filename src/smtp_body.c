/* smtp_body — the message of a transaction: DATA content (dot-unstuffing,
 * end-of-data detection, the SIMD scan of message text, resynchronising after
 * a gap) and BDAT chunks (RFC 3030). Part of the SMTP dissector
 * (src/smtp_int.h). */
#include "smtp_int.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* An AVX2 variant of the message-text scan, chosen at run time. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__SSE2__)
#define SMTP_HAVE_AVX2 1
#include <immintrin.h>
#else
#define SMTP_HAVE_AVX2 0
#endif

/* Index of the first CR or LF in p[0..n), n if none. Message text is
 * scanned with this, 16 bytes at a time where SSE2 is available. */
static inline size_t scan_crlf(const uint8_t *p, size_t n)
{
	size_t i = 0;
#if defined(__SSE2__)
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		unsigned m = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	for (; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return i;
	return n;
}

/* Number of LF bytes in p[0..n). */
static size_t count_lf(const uint8_t *p, size_t n)
{
	size_t i = 0, k = 0;
#if defined(__SSE2__)
	const __m128i lf = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
	while (i + 16 <= n) { /* byte counters (at most 255 rounds), then summed */
		__m128i acc = zero;
		for (int r = 0; r < 255 && i + 16 <= n; r++, i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, lf));
		}
		__m128i sum = _mm_sad_epu8(acc, zero);
		k += (size_t)_mm_cvtsi128_si32(sum) + (size_t)_mm_cvtsi128_si32(_mm_srli_si128(sum, 8));
	}
#endif
	for (; i < n; i++)
		k += p[i] == '\n';
	return k;
}

void msg_begin(struct sess *s, struct txn_impl *t)
{
	if (t->pub.msg_started)
		return;
	t->pub.msg_started = true;
	if (hooks(s) && hooks(s)->begin)
		hooks(s)->begin(hooks(s)->user, &t->pub);
}

/* Message bytes p[0..n) of the current transaction (already unstuffed). */
void body_out(struct sess *s, const uint8_t *p, size_t n, uint64_t ts)
{
	if (!n)
		return;
	struct txn_impl *t = txn_current(s, ts);
	msg_begin(s, t);
	t->pub.msg_bytes += n;
	if (hooks(s) && hooks(s)->data)
		hooks(s)->data(hooks(s)->user, &t->pub, p, n);
	struct smtp_line ln = {
		.kind = SMTP_LINE_BODY, .p = p, .n = n, .secret_off = n, .label = "body",
		.bol = s->body_bol, .ts_us = ts,
	};
	emit_event(s, EV_CLIENT, ts, &ln, NULL, NULL);
	s->body_bol = p[n - 1] == '\n';
}

/* The message of the current transaction is over (complete or not): end
 * hook, summary line, EOD pending entry (DATA), detach. */
void msg_finish(struct sess *s, bool complete, bool push_eod, uint64_t ts)
{
	struct txn_impl *t = txn_current(s, ts);
	msg_begin(s, t);
	t->pub.msg_complete = complete;
	if (!complete)
		raise_anom(s, t, ANOM_SMTP_DATA_INCOMPLETE);
	if (hooks(s) && hooks(s)->end)
		hooks(s)->end(hooks(s)->user, &t->pub);
	struct smtp_line ln = {
		.kind = SMTP_LINE_MESSAGE, .secret_off = 0, .label = complete ? "message" : "message (incomplete)",
		.msg_bytes = t->pub.msg_bytes, .msg_lines = t->pub.msg_lines, .ts_us = ts,
	};
	emit_event(s, EV_CLIENT, ts, &ln, NULL, NULL);
	if (push_eod && s->pub.helo_verb == SMTP_VERB_LHLO) {
		/* RFC 2033 §4.2: one reply per recipient whose RCPT succeeded, in
		 * RCPT order (an unanswered RCPT counts: its reply may be lost). */
		size_t k = 0;
		for (size_t i = 0; i < t->pub.n_rcpts; i++)
			if (t->pub.rcpts[i].reply == 0 || t->pub.rcpts[i].reply / 100 == 2) {
				pend_push(s, PEND_EOD, SMTP_VERB_DATA, t, ts)->rcpt_idx = i;
				k++;
			}
		if (!k)
			pend_push(s, PEND_EOD, SMTP_VERB_DATA, t, ts);
	} else if (push_eod) {
		pend_push(s, PEND_EOD, SMTP_VERB_DATA, t, ts);
	}
	txn_detach(s, t, SMTP_TXN_END_MESSAGE, ts);
}

/* The reply to the end of a message (DATA): its final reply; LMTP (RFC 2033
 * §4.2) gives one per accepted recipient, kept with the recipient. */
void reply_eod(struct sess *s, struct pending *e, const struct smtp_reply *r, uint64_t ts)
{
	struct txn_impl *t = e->txn;
	int code = r->code;
	(void)s;
	(void)ts;
	if (t) {
		t->pub.final_reply = code;
		if (e->rcpt_idx < t->pub.n_rcpts) { /* LMTP */
			struct smtp_rcpt *rc = &t->pub.rcpts[e->rcpt_idx];
			rc->delivery = code;
			free(rc->delivery_text);
			rc->delivery_text = code >= 400 ? dup_cap(r->text, r->text_n, SMTP_PARAM_MAX) : NULL;
		}
	}
}

/* Enter data mode for the current transaction (354 seen, or forced). */
void data_start(struct sess *s, uint64_t ts)
{
	struct txn_impl *t = txn_current(s, ts);
	t->pub.xfer = SMTP_XFER_DATA;
	msg_begin(s, t);
	s->ds = DS_BOL;
	s->prev_cr = false;
	s->eol_crlf = true;
	s->body_bol = true;
	enter_state(s, SMTP_ST_DATA);
}

static void data_bare_lf(struct sess *s)
{
	struct txn_impl *t = s->cur;
	if (t && !t->bare_lf_warned) {
		t->bare_lf_warned = true;
		raise_anom(s, t, ANOM_SMTP_BARE_LF_IN_DATA);
	}
}

static void data_bare_cr(struct sess *s)
{
	struct txn_impl *t = s->cur;
	if (t && !t->bare_cr_warned) {
		t->bare_cr_warned = true;
		raise_anom(s, t, ANOM_SMTP_BARE_CR_IN_DATA);
	}
}

/* The hot loop of data_feed: in DS_TEXT (prev_cr clear), jump from line end
 * to line end; only the bytes around a CR or LF are looked at one by one.
 * Returns where it stopped: the end of p, a bare CR (prev_cr set), or the
 * start of a line that begins with "." or lies beyond p (ds = DS_BOL).
 *
 * TEXT_LINE: one line end (the body of the per-line loop). */
#define TEXT_LINE(SCAN)                                                              \
	do {                                                                         \
		size_t j = i + SCAN(p + i, n - i);                                   \
		if (j >= n)                                                          \
			return n;                                                    \
		if (p[j] == '\r') {                                                  \
			if (j + 1 >= n || p[j + 1] != '\n') { /* CR at the end, or bare CR */ \
				s->prev_cr = true;                                   \
				return j + 1;                                        \
			}                                                            \
			s->eol_crlf = true; /* CRLF */                               \
			i = j + 2;                                                   \
		} else { /* bare LF */                                               \
			data_bare_lf(s);                                             \
			s->eol_crlf = false;                                         \
			i = j + 1;                                                   \
		}                                                                    \
		if (i >= n || p[i] == '.') {                                         \
			s->ds = DS_BOL;                                              \
			return i;                                                    \
		}                                                                    \
		t->pub.msg_lines++; /* a new line, not starting with "." */          \
	} while (0)

/* With SIMD: 64 bytes at a time. A block where every CR is followed by an LF
 * and every LF preceded by a CR, no line starts with ".", and the last byte
 * is not a CR, only adds its line count; any other block goes through
 * TEXT_LINE until past it. MASKS(q, &cr, &lf, &dot) sets one bit per byte. */
#define TEXT_RUN_BLOCKS(MASKS, SCAN)                                                 \
	for (;;) {                                                                   \
		while (i + 129 <= n) { /* two blocks as one 128-bit run */           \
			uint64_t cr0, lf0, dot0, cr1, lf1, dot1;                     \
			MASKS(p + i, &cr0, &lf0, &dot0);                             \
			MASKS(p + i + 64, &cr1, &lf1, &dot1);                        \
			if ((cr1 >> 63) || (cr0 << 1) != lf0 ||                      \
			    (cr1 << 1 | cr0 >> 63) != lf1 || ((lf0 << 1) & dot0) ||  \
			    ((lf1 << 1 | lf0 >> 63) & dot1) ||                       \
			    ((lf1 >> 63) && p[i + 128] == '.'))                      \
				break;                                               \
			uint64_t nl = (uint64_t)__builtin_popcountll(lf0) +         \
			              (uint64_t)__builtin_popcountll(lf1);           \
			if (nl) {                                                    \
				t->pub.msg_lines += nl;                              \
				s->eol_crlf = true;                                  \
			}                                                            \
			i += 128;                                                    \
		}                                                                    \
		while (i + 65 <= n) {                                                \
			uint64_t cr, lf, dot;                                        \
			MASKS(p + i, &cr, &lf, &dot);                                \
			if ((cr >> 63) || (cr << 1) != lf || ((lf << 1) & dot) ||    \
			    ((lf >> 63) && p[i + 64] == '.'))                        \
				break;                                               \
			if (lf) {                                                    \
				t->pub.msg_lines += (uint64_t)__builtin_popcountll(lf); \
				s->eol_crlf = true;                                  \
			}                                                            \
			i += 64;                                                     \
		}                                                                    \
		size_t stop = i + 64;                                                \
		do                                                                   \
			TEXT_LINE(SCAN);                                             \
		while (i < stop);                                                    \
	}

static size_t text_run_base(struct sess *s, struct txn_impl *t, const uint8_t *p, size_t i, size_t n)
{
	for (;;)
		TEXT_LINE(scan_crlf);
}

#if SMTP_HAVE_AVX2
__attribute__((target("avx2"))) static inline size_t scan_crlf_avx2(const uint8_t *p, size_t n)
{
	size_t i = 0;
	const __m256i cr = _mm256_set1_epi8('\r'), lf = _mm256_set1_epi8('\n');
	for (; i + 32 <= n; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
		unsigned m = (unsigned)_mm256_movemask_epi8(
			_mm256_or_si256(_mm256_cmpeq_epi8(v, cr), _mm256_cmpeq_epi8(v, lf)));
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
	return i + scan_crlf(p + i, n - i);
}

__attribute__((target("avx2"))) static inline void masks_avx2(const uint8_t *q, uint64_t *cr, uint64_t *lf,
                                                              uint64_t *dot)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)q);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32));
	const __m256i vcr = _mm256_set1_epi8('\r'), vlf = _mm256_set1_epi8('\n'), vdot = _mm256_set1_epi8('.');
#define M2(v) ((uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, v)) | \
	       (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, v)) << 32)
	*cr = M2(vcr);
	*lf = M2(vlf);
	*dot = M2(vdot);
#undef M2
}

__attribute__((target("avx2"))) static size_t text_run_avx2(struct sess *s, struct txn_impl *t,
                                                          const uint8_t *p, size_t i, size_t n)
{
	TEXT_RUN_BLOCKS(masks_avx2, scan_crlf_avx2)
}

__attribute__((target("avx512f,avx512bw"))) static inline void masks_avx512(const uint8_t *q, uint64_t *cr,
                                                                           uint64_t *lf, uint64_t *dot)
{
	__m512i v = _mm512_loadu_si512((const void *)q);
	*cr = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r'));
	*lf = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n'));
	*dot = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('.'));
}

__attribute__((target("avx2,avx512f,avx512bw"))) static size_t text_run_avx512(struct sess *s, struct txn_impl *t,
                                                                             const uint8_t *p, size_t i, size_t n)
{
	TEXT_RUN_BLOCKS(masks_avx512, scan_crlf_avx2)
}
#endif

static size_t text_run(struct sess *s, struct txn_impl *t, const uint8_t *p, size_t i, size_t n)
{
#if SMTP_HAVE_AVX2
	/* decided once per thread (the SMTP layer runs on the worker thread, unit
	 * tests and fuzzers on the main one): the CPU does not change (2
	 * AVX-512BW, 1 AVX2, 0 none) */
	static _Thread_local int simd = -1;
	if (simd < 0) {
		__builtin_cpu_init();
		simd = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f") ? 2
		     : __builtin_cpu_supports("avx2")                                          ? 1
		                                                                               : 0;
		const char *e = getenv("SMTPSCOPE_SIMD"); /* tests: force a narrower path */
		if (e && *e >= '0' && *e < '0' + simd)
			simd = *e - '0';
	}
	if (simd == 2)
		return text_run_avx512(s, t, p, i, n);
	if (simd == 1)
		return text_run_avx2(s, t, p, i, n);
#endif
	return text_run_base(s, t, p, i, n);
}

/* DATA content (RFC 5321 §4.1.1.4, §4.5.2): unstuff leading dots, stream
 * the message, stop at the end-of-data line. Returns bytes consumed; the
 * state is COMMAND again when the end was found. A "." line ends the data
 * whether its line endings are CRLF or bare LF (servers such as Postfix
 * accept both); anything but CRLF.CRLF raises smtp_nonstandard_eod. A "."
 * bounded by bare CR is not an end (smtp_eod_like_sequence). */

/* After a gap in DATA, p[0] == '.': is this the end-of-data line
 * (RFC 5321 §4.1.1.4) rather than a dot inside a line whose start was lost?
 * Taken as the end when ".\r\n" ends the delivered bytes (the client then
 * waits for the reply) or is followed by a command verb; ".", ".\r" at the
 * end of the bytes are given the benefit of the doubt (DS_DOT decides on the
 * next byte). Anything else is message text. */
static bool gap_dot_is_eod(const uint8_t *p, size_t n)
{
	if (n == 1 || (n == 2 && p[1] == '\r'))
		return true;
	if (n < 3 || p[1] != '\r' || p[2] != '\n')
		return false;
	return n == 3 || starts_with_verb(p + 3, n - 3);
}

size_t data_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts)
{
	size_t i = 0, run = 0;
	struct txn_impl *t = txn_current(s, ts);
	while (i < n) {
		uint8_t c = p[i];
		switch (s->ds) {
		case DS_BOL:
			if (c == '.') {
				body_out(s, p + run, i - run, ts);
				s->ds = DS_DOT;
				i++;
				run = i;
				continue;
			}
			t->pub.msg_lines++;
			s->ds = DS_TEXT;
			continue;
		case DS_TEXT: {
			if (s->prev_cr) {
				s->prev_cr = false;
				if (c == '\n') {
					s->eol_crlf = true;
					s->ds = DS_BOL;
					i++;
					continue;
				}
				data_bare_cr(s);
				if (c == '.') {
					s->ds = DS_CRDOT;
					i++;
					continue;
				}
			}
			i = text_run(s, t, p, i, n);
			continue;
		}
		case DS_GAP:
			if (c == '\n') { /* its CR was lost in the gap: not a bare LF */
				s->eol_crlf = true;
				s->ds = DS_BOL;
				i++;
				continue;
			}
			if (c == '.' && gap_dot_is_eod(p + i, n - i)) {
				body_out(s, p + run, i - run, ts);
				s->eol_crlf = true;
				s->ds = DS_DOT;
				i++;
				run = i;
				continue;
			}
			s->ds = DS_TEXT;
			continue;
		case DS_CRDOT:
			if (c == '\r' || c == '\n')
				raise_anom(s, t, ANOM_SMTP_EOD_LIKE_SEQUENCE);
			s->ds = DS_TEXT;
			continue;
		case DS_DOT:
			if (c == '\r') {
				s->ds = DS_DOT_CR;
				i++;
				run = i; /* the CR is emitted later unless this is the end */
				continue;
			}
			if (c == '\n') { /* ".\n": LF.LF or CRLF.LF */
				raise_anom(s, t, ANOM_SMTP_NONSTANDARD_EOD);
				data_bare_lf(s);
				msg_finish(s, true, true, ts);
				enter_state(s, SMTP_ST_COMMAND);
				return i + 1;
			}
			t->pub.msg_lines++; /* a dot-stuffed line: the dot is dropped */
			s->ds = DS_TEXT;
			continue;
		case DS_DOT_CR:
			if (c == '\n') { /* ".\r\n" */
				if (!s->eol_crlf)
					raise_anom(s, t, ANOM_SMTP_NONSTANDARD_EOD);
				msg_finish(s, true, true, ts);
				enter_state(s, SMTP_ST_COMMAND);
				return i + 1;
			}
			/* ".\r" then something else: a "." line ended by a bare CR */
			raise_anom(s, t, ANOM_SMTP_EOD_LIKE_SEQUENCE);
			t->pub.msg_lines++;
			body_out(s, (const uint8_t *)"\r", 1, ts);
			run = i;
			s->ds = DS_TEXT;
			s->prev_cr = true;
			continue;
		}
	}
	body_out(s, p + run, n - run, ts); /* a pending "." or ".\r" is not included */
	return n;
}

/* BDAT chunk octets (RFC 3030 §2): exactly bdat_left bytes, no stuffing. */
size_t bdat_feed(struct sess *s, const uint8_t *p, size_t n, uint64_t ts)
{
	size_t take = n < s->bdat_left ? n : (size_t)s->bdat_left;
	struct txn_impl *t = txn_current(s, ts);
	t->pub.msg_lines += count_lf(p, take);
	body_out(s, p, take, ts);
	s->bdat_left -= take;
	if (s->bdat_left == 0) {
		enter_state(s, SMTP_ST_COMMAND);
		if (s->bdat_last)
			msg_finish(s, true, false, ts);
	}
	return take;
}
