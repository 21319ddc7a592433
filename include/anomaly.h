/* anomaly — named, counted oddities of the input (Suricata's decoder events,
 * Zeek's weirds). Anomalies are not errors: they are counted, attached to the
 * flow/session/transaction they concern, and analysis goes on.
 *
 * The list is an X-macro assembled from one .def file per module
 * (src/anom_<module>.def), so each module owns its names. A name is stable
 * once released: it appears in JSON output and docs/schema.md documents it.
 * Each entry: ANOM(ID, "snake_case_name", "one-line explanation").
 */
#ifndef SMTPSCOPE_ANOMALY_H
#define SMTPSCOPE_ANOMALY_H

#include <stdint.h>
#include <stddef.h>

enum anom_id {
#define ANOM(id, name, text) id,
#include "../src/anom_decode.def"
#include "../src/anom_reasm.def"
#include "../src/anom_smtp.def"
#include "../src/anom_imf.def"
#include "../src/anom_tls.def"
#include "../src/anom_misc.def"
#undef ANOM
	ANOM__COUNT
};

/* A set of anomalies (a bitmask), kept per flow, session and transaction. */
#define ANOM_WORDS ((ANOM__COUNT + 63) / 64)
struct anom_set {
	uint64_t w[ANOM_WORDS];
};

/* Record anomaly id: bump the process-wide counter and, if set is not NULL,
 * mark it in set. Never fails. */
void anom_raise(struct anom_set *set, enum anom_id id);
/* Mark in set without counting (used to copy a session's marks into a txn). */
void anom_mark(struct anom_set *set, enum anom_id id);
int anom_has(const struct anom_set *set, enum anom_id id);
int anom_any(const struct anom_set *set);
void anom_merge(struct anom_set *dst, const struct anom_set *src);
const char *anom_name(enum anom_id id);
const char *anom_text(enum anom_id id);
uint64_t anom_count(enum anom_id id);   /* process-wide count */
uint64_t anom_total(void);              /* sum of all counts */
void anom_reset_counts(void);           /* for unit tests */

#endif
