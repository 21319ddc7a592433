/* countmap — bounded string counters; contract in include/countmap.h. */
#include "countmap.h"

#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "siphash.h"

void countmap_init(struct countmap *m, size_t max_keys)
{
	memset(m, 0, sizeof *m);
	m->max_keys = max_keys;
	siphash_key_random(&m->key);
}

/* Keys are wire bytes (addresses, domains, AUTH user names): SipHash-1-3
 * under the map's own secret key, so nobody can send keys that pile up in
 * one probe run (hash flooding). The order of the slots never shows:
 * countmap_sorted sorts. */
static uint64_t hash(const struct siphash_key *key, const char *k, size_t n)
{
	return siphash13(key, k, n);
}

/* Linear probing; the load stays at most 1/2 (grow), so an empty slot ends
 * every probe run. */
static struct countmap_entry *find(const struct siphash_key *key, struct countmap_entry *slots, size_t nslots,
                                   const char *k, size_t n)
{
	size_t i = hash(key, k, n) & (nslots - 1);
	for (;;) {
		struct countmap_entry *e = &slots[i];
		if (!e->key || (e->key_n == n && memcmp(e->key, k, n) == 0))
			return e;
		i = (i + 1) & (nslots - 1);
	}
}

static void grow(struct countmap *m)
{
	size_t ns = m->nslots ? m->nslots * 2 : 64;
	struct countmap_entry *s = xcalloc(ns, sizeof *s);
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].key)
			*find(&m->key, s, ns, m->slots[i].key, m->slots[i].key_n) = m->slots[i];
	free(m->slots);
	m->slots = s;
	m->nslots = ns;
}

void countmap_add(struct countmap *m, const char *key, size_t n, int idx, uint64_t delta)
{
	if (idx < 0 || idx >= COUNTMAP_VALUES)
		return;
	if (!key)
		key = "", n = 0;
	if ((m->n + 1) * 2 > m->nslots && m->n < m->max_keys)
		grow(m);
	struct countmap_entry *e = m->nslots ? find(&m->key, m->slots, m->nslots, key, n) : NULL;
	if (e && e->key) {
		e->v[idx] += delta;
		return;
	}
	if (!e || m->n >= m->max_keys) {
		m->other[idx] += delta;
		m->dropped_keys++;
		return;
	}
	e->key = xstrndup(key, n);
	e->key_n = n;
	e->v[idx] = delta;
	m->n++;
}

static int sort_idx;
static int cmp(const void *a, const void *b)
{
	const struct countmap_entry *x = *(struct countmap_entry *const *)a, *y = *(struct countmap_entry *const *)b;
	if (x->v[sort_idx] != y->v[sort_idx])
		return x->v[sort_idx] > y->v[sort_idx] ? -1 : 1;
	/* all the bytes (a key may hold a NUL), so the order never depends on
	 * the slots, which depend on the random hash key */
	int c = memcmp(x->key, y->key, x->key_n < y->key_n ? x->key_n : y->key_n);
	if (c)
		return c;
	return x->key_n < y->key_n ? -1 : x->key_n > y->key_n;
}

struct countmap_entry **countmap_sorted(const struct countmap *m, int idx, size_t *count)
{
	struct countmap_entry **v = xmalloc((m->n ? m->n : 1) * sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].key)
			v[k++] = &m->slots[i];
	sort_idx = idx;
	qsort(v, k, sizeof *v, cmp);
	*count = k;
	return v;
}

void countmap_free(struct countmap *m)
{
	for (size_t i = 0; i < m->nslots; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof *m);
}
