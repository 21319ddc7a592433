/* worker — the SPSC record ring and its thread; contract in include/worker.h.
 *
 * Positions are 64-bit byte counts that only grow; a position's place in the
 * ring is pos & mask. A record never wraps: when it does not fit before the
 * end of the ring, the rest of the ring is skipped (a pad record, or nothing
 * when even a header would not fit — both sides apply the same rule).
 *
 * Waiting: each side spins briefly, then sleeps on a condition variable after
 * raising its `waiting` flag. The other side stores its position, then reads
 * the flag (both sequentially consistent), and signals under the mutex only
 * when the flag is up — so neither a wake-up nor a record is ever lost, and
 * the mutex is untouched while both sides are busy. */
#include "worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "sbuf.h"

#define ALIGN     8u
#define HDR       (sizeof(struct worker_rec))
#define SPIN      4000
#define T_PAD     0

struct worker {
	uint8_t *ring;
	size_t size, mask;
	worker_apply_fn fn;
	void *ctx;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv_c, cv_p;

	/* producer's own */
	uint64_t p_head;       /* end of what was written */
	uint64_t p_pub;        /* last head published */
	uint64_t p_tail;       /* consumer position last seen */
	char pad0[64];
	_Atomic uint64_t head; /* published by the producer */
	char pad1[64];
	_Atomic uint64_t tail; /* published by the consumer */
	char pad2[64];
	_Atomic int c_waiting, p_waiting;
	_Atomic bool stop;
	/* SMTPSCOPE_WORKER_STATS=1: waits and CPU time per side, on stderr at the end */
	uint64_t p_spins, p_sleeps, c_spins, c_sleeps;
	double c_cpu, p_waited;
};

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static size_t round_up(size_t n)
{
	return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

/* ---- consumer --------------------------------------------------------------- */

static void c_publish(struct worker *w, uint64_t pos)
{
	atomic_store(&w->tail, pos);
	if (atomic_load(&w->p_waiting)) {
		pthread_mutex_lock(&w->mu);
		pthread_cond_signal(&w->cv_p);
		pthread_mutex_unlock(&w->mu);
	}
}

/* Wait for records beyond pos; returns the new head, or pos when stopping
 * with nothing left. */
static uint64_t c_wait(struct worker *w, uint64_t pos)
{
	for (int i = 0; i < SPIN; i++) {
		uint64_t h = atomic_load_explicit(&w->head, memory_order_acquire);
		if (h != pos) {
			w->c_spins++;
			return h;
		}
		cpu_relax();
	}
	uint64_t h;
	w->c_sleeps++;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->c_waiting, 1);
	while ((h = atomic_load(&w->head)) == pos && !atomic_load(&w->stop))
		pthread_cond_wait(&w->cv_c, &w->mu);
	atomic_store(&w->c_waiting, 0);
	pthread_mutex_unlock(&w->mu);
	return h;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	pthread_setname_np(pthread_self(), "smtpscope-app");
	uint64_t pos = 0, head = 0, pub = 0;
	for (;;) {
		if (pos == head) {
			if (pub != pos)
				c_publish(w, pub = pos);
			head = c_wait(w, pos);
			if (head == pos)
				break; /* stopping, all applied */
		}
		size_t idx = (size_t)(pos & w->mask), to_end = w->size - idx;
		if (to_end < HDR) {
			pos += to_end;
			continue;
		}
		const struct worker_rec *r = (const struct worker_rec *)(w->ring + idx);
		if (r->type != T_PAD)
			w->fn(w->ctx, r, w->ring + idx + HDR, r->blen);
		pos += r->size;
		if (pos - pub >= WORKER_PUBLISH)
			c_publish(w, pub = pos);
	}
	w->c_cpu = thread_cpu();
	return NULL;
}

/* ---- producer --------------------------------------------------------------- */

static void p_publish(struct worker *w)
{
	if (w->p_pub == w->p_head)
		return;
	w->p_pub = w->p_head;
	atomic_store(&w->head, w->p_head);
	if (atomic_load(&w->c_waiting)) {
		pthread_mutex_lock(&w->mu);
		pthread_cond_signal(&w->cv_c);
		pthread_mutex_unlock(&w->mu);
	}
}

static void p_wait_slow(struct worker *w, uint64_t want);

/* Wait until the consumer's position is at least want. */
static void p_wait_tail(struct worker *w, uint64_t want)
{
	if (w->p_tail >= want)
		return;
	p_publish(w);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p_wait_slow(w, want);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	w->p_waited += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void p_wait_slow(struct worker *w, uint64_t want)
{
	for (int i = 0; i < SPIN; i++) {
		w->p_tail = atomic_load_explicit(&w->tail, memory_order_acquire);
		if (w->p_tail >= want) {
			w->p_spins++;
			return;
		}
		cpu_relax();
	}
	w->p_sleeps++;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->p_waiting, 1);
	while ((w->p_tail = atomic_load(&w->tail)) < want)
		pthread_cond_wait(&w->cv_p, &w->mu);
	atomic_store(&w->p_waiting, 0);
	pthread_mutex_unlock(&w->mu);
}

/* Wait until n more bytes can be written. */
static void p_room(struct worker *w, size_t n)
{
	if (w->p_head + n > w->size)
		p_wait_tail(w, w->p_head + n - w->size);
}

void worker_send(struct worker *w, const struct worker_rec *h, const void *body, size_t blen)
{
	size_t need = HDR + round_up(blen);
	size_t idx = (size_t)(w->p_head & w->mask), to_end = w->size - idx;
	if (need > to_end) {
		p_room(w, to_end + need);
		if (to_end >= HDR) {
			struct worker_rec pad = { 0 };
			pad.size = (uint32_t)to_end;
			pad.type = T_PAD;
			memcpy(w->ring + idx, &pad, sizeof pad);
		}
		w->p_head += to_end;
		idx = 0;
	} else {
		p_room(w, need);
	}
	struct worker_rec *r = (struct worker_rec *)(w->ring + idx);
	*r = *h;
	r->size = (uint32_t)need;
	r->blen = (uint32_t)blen;
	if (blen)
		memcpy(w->ring + idx + HDR, body, blen);
	w->p_head += need;
	if (w->p_head - w->p_pub >= WORKER_PUBLISH)
		p_publish(w);
}

void worker_publish(struct worker *w)
{
	p_publish(w);
}

void worker_sync(struct worker *w)
{
	p_wait_tail(w, w->p_head);
}

struct worker *worker_new(worker_apply_fn fn, void *ctx)
{
	struct worker *w = xcalloc(1, sizeof *w);
	w->size = WORKER_RING;
	w->mask = w->size - 1;
	w->ring = xmalloc(w->size);
	w->fn = fn;
	w->ctx = ctx;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv_c, NULL);
	pthread_cond_init(&w->cv_p, NULL);
	/* signals go to the main thread (it owns the capture loop) */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSYS); /* the sandbox's trap (src/sandbox.c): a blocked SIGSYS kills */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&w->th, NULL, run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv_c);
		pthread_cond_destroy(&w->cv_p);
		free(w->ring);
		free(w);
		return NULL;
	}
	return w;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	worker_sync(w);
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, true);
	pthread_cond_signal(&w->cv_c);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	const char *e = getenv("SMTPSCOPE_WORKER_STATS");
	if (e && *e == '1')
		fprintf(stderr, "worker: producer cpu %.3f s (%.3f s of it waiting), waits %llu spun %llu slept; consumer cpu %.3f s, waits %llu spun %llu slept\n",
		        thread_cpu(), w->p_waited, (unsigned long long)w->p_spins, (unsigned long long)w->p_sleeps, w->c_cpu,
		        (unsigned long long)w->c_spins, (unsigned long long)w->c_sleeps);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv_c);
	pthread_cond_destroy(&w->cv_p);
	free(w->ring);
	free(w);
}
