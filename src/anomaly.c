/* anomaly — the registry of anomaly names and their process-wide counters. */
#include "anomaly.h"

#include <stdatomic.h>
#include <string.h>

static const char *const names[ANOM__COUNT] = {
#define ANOM(id, name, text) [id] = name,
#include "anom_decode.def"
#include "anom_reasm.def"
#include "anom_smtp.def"
#include "anom_imf.def"
#include "anom_tls.def"
#include "anom_misc.def"
#undef ANOM
};

static const char *const texts[ANOM__COUNT] = {
#define ANOM(id, name, text) [id] = text,
#include "anom_decode.def"
#include "anom_reasm.def"
#include "anom_smtp.def"
#include "anom_imf.def"
#include "anom_tls.def"
#include "anom_misc.def"
#undef ANOM
};

/* Raised on both threads (capture: decode/TCP; worker: SMTP/IMF), so atomic;
 * anomalies are rare next to packets, the lock prefix costs nothing measurable. */
static _Atomic uint64_t counts[ANOM__COUNT];

void anom_mark(struct anom_set *set, enum anom_id id)
{
	if (set && (unsigned)id < ANOM__COUNT)
		set->w[id / 64] |= (uint64_t)1 << (id % 64);
}

void anom_raise(struct anom_set *set, enum anom_id id)
{
	if ((unsigned)id >= ANOM__COUNT)
		return;
	atomic_fetch_add_explicit(&counts[id], 1, memory_order_relaxed);
	anom_mark(set, id);
}

int anom_has(const struct anom_set *set, enum anom_id id)
{
	return (unsigned)id < ANOM__COUNT && (set->w[id / 64] >> (id % 64)) & 1;
}

int anom_any(const struct anom_set *set)
{
	for (size_t i = 0; i < ANOM_WORDS; i++)
		if (set->w[i])
			return 1;
	return 0;
}

void anom_merge(struct anom_set *dst, const struct anom_set *src)
{
	for (size_t i = 0; i < ANOM_WORDS; i++)
		dst->w[i] |= src->w[i];
}

const char *anom_name(enum anom_id id)
{
	return (unsigned)id < ANOM__COUNT ? names[id] : "unknown";
}

const char *anom_text(enum anom_id id)
{
	return (unsigned)id < ANOM__COUNT ? texts[id] : "";
}

uint64_t anom_count(enum anom_id id)
{
	return (unsigned)id < ANOM__COUNT ? counts[id] : 0;
}

uint64_t anom_total(void)
{
	uint64_t t = 0;
	for (size_t i = 0; i < ANOM__COUNT; i++)
		t += counts[i];
	return t;
}

void anom_reset_counts(void)
{
	memset(counts, 0, sizeof counts);
}
