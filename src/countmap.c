/* countmap — bounded string counters; contract in include/countmap.h. */
#include "countmap.h"

#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

void countmap_init(struct countmap *m, size_t max_keys)
{
	memset(m, 0, sizeof *m);
	m->max_keys = max_keys;
}

static uint64_t hash(const char *k, size_t n)
{
	/* 8 bytes a step (keys are addresses and domains, 10-40 bytes); the
	 * order of the slots never shows: countmap_sorted sorts */
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	for (; n >= 8; k += 8, n -= 8) {
		memcpy(&w, k, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, k, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

static struct countmap_entry *find(struct countmap_entry *slots, size_t nslots, const char *k, size_t n)
{
	size_t i = hash(k, n) & (nslots - 1);
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
			*find(s, ns, m->slots[i].key, m->slots[i].key_n) = m->slots[i];
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
	struct countmap_entry *e = m->nslots ? find(m->slots, m->nslots, key, n) : NULL;
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
	return strcmp(x->key, y->key);
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
