/* worker — a second thread fed through a bounded single-producer /
 * single-consumer ring of records.
 *
 * The producer (the capture thread) appends records — a fixed header and an
 * optional body that is copied into the ring — and the consumer thread hands
 * each one, in order, to an apply function. Nothing else is shared: the
 * records carry copies, so the consumer never reads the producer's memory
 * (the flow table never crosses threads). The ring has a fixed size; a full
 * ring makes the producer wait, so memory stays bounded whatever the input.
 *
 * Records become visible in batches (every WORKER_PUBLISH bytes, or at
 * worker_publish()), which keeps the two cores from trading cache lines on
 * every packet. */
#ifndef SMTPSCOPE_WORKER_H
#define SMTPSCOPE_WORKER_H

#include <stddef.h>
#include <stdint.h>

#define WORKER_RING     (4096u << 10)   /* ring bytes */
#define WORKER_MAX_BODY (64u << 10)  /* largest body of one record */
#define WORKER_PUBLISH  (32u << 10)  /* bytes between publications */

struct worker_rec {
	uint32_t size;   /* whole record in the ring (header + body, rounded up); set by worker_send */
	uint32_t blen;   /* body bytes; set by worker_send */
	uint16_t type;   /* the user's record type (0 is reserved) */
	uint16_t dir;
	uint64_t ts;
	uint64_t n;      /* free for the user (a length) */
	void    *app;    /* free for the user (a handle) */
};

/* Called on the worker thread for each record; body has blen bytes. */
typedef void (*worker_apply_fn)(void *ctx, const struct worker_rec *r, const void *body, size_t blen);

struct worker;

/* Start the thread; NULL if it cannot be started (the caller then works
 * without it). */
struct worker *worker_new(worker_apply_fn fn, void *ctx);
/* Append one record (header copied, body of blen <= WORKER_MAX_BODY bytes
 * copied). May wait for room. */
void worker_send(struct worker *w, const struct worker_rec *h, const void *body, size_t blen);
/* Make every record sent so far visible to the worker now. */
void worker_publish(struct worker *w);
/* Wait until the worker has applied every record sent so far. */
void worker_sync(struct worker *w);
/* Apply what is pending, stop the thread, free. NULL is fine. */
void worker_free(struct worker *w);

#endif
