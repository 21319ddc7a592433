/* countmap — counts per string key in bounded memory (open addressing).
 * Once max_keys distinct keys are held, new keys are not added: their counts
 * go to `other`, so totals stay exact while the key set stays bounded. */
#ifndef SMTPSCOPE_COUNTMAP_H
#define SMTPSCOPE_COUNTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

#define COUNTMAP_VALUES 4 /* counters per key (e.g. success/failure/cancelled/unknown) */

struct countmap_entry {
	char    *key;                      /* NUL-terminated copy (wire bytes, unescaped) */
	size_t   key_n;                    /* its length */
	uint64_t v[COUNTMAP_VALUES];       /* counters */
};

struct countmap {
	struct countmap_entry *slots;      /* open-addressing table */
	size_t nslots;                     /* power of two */
	size_t n;                          /* keys held */
	size_t max_keys;                   /* cap on distinct keys */
	uint64_t other[COUNTMAP_VALUES];   /* counts of keys beyond the cap */
	uint64_t dropped_keys;             /* distinct-key insertions refused (approximate) */
	struct siphash_key key;            /* secret hash key, random per map (keys are wire data) */
};

void countmap_init(struct countmap *m, size_t max_keys);
/* Add delta to counter idx of key[0..n). */
void countmap_add(struct countmap *m, const char *key, size_t n, int idx, uint64_t delta);
/* Entries sorted by counter idx descending (then key); caller frees the
 * array (not the entries). *count receives the number of entries. */
struct countmap_entry **countmap_sorted(const struct countmap *m, int idx, size_t *count);
void countmap_free(struct countmap *m);

#endif
