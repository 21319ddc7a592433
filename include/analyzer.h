/* analyzer — wires the pipeline stages together: frames from the capture go
 * through decode and the flow table; each flow's bytes go to the SMTP
 * dissector (and to the stream dumper when asked); message bytes go to the
 * header parser; finished transactions get their findings; everything leaves
 * as events on the bus. Owns no output format. */
#ifndef SMTPSCOPE_ANALYZER_H
#define SMTPSCOPE_ANALYZER_H

#include <stdbool.h>
#include <stdint.h>

#include "capture.h"
#include "decode.h"
#include "event.h"
#include "flow.h"

struct tls_keys; /* include/tls_crypt.h */

struct analyzer_opts {
	bool        smtp;              /* run the SMTP dissector on tracked flows */
	bool        any_port;          /* --any-port: find SMTP by content on every TCP flow */
	struct extract *extract;       /* --extract/--mbox (borrowed), or NULL */
	size_t      max_memory;        /* --max-memory: heap cap in bytes (0: none) */
	const char *dump_dir;          /* --dump-streams DIR, or NULL */
	bool        show_secrets;      /* --show-secrets */
	bool        strict_alignment;  /* --strict-alignment */
	int         threads;           /* 2: the application layer (SMTP and the sinks) runs on a
	                                  second thread; the sinks must then not be read until
	                                  analyzer_finish() returns (docs/design.md, "Threads") */
	struct flow_config flow;       /* ports, timeouts, caps */
	/* TLS (docs/design.md, "TLS"): */
	const struct tls_keys *tls_keys; /* --tls-keylog / pcapng secrets, or NULL; borrowed, loaded
	                                  on the main thread, read by the worker (lookups are
	                                  thread-safe) */
	struct tls_keys *tls_keys_live; /* -i: the same store, re-read (tls_keys_refresh) when a
	                                  session's secrets are missing; its first TLS bytes are
	                                  kept (TLS_REPLAY_MAX) and replayed once they appear */
	const uint16_t *tls_ports;     /* --tls-ports: server ports where TLS starts at the first byte */
	size_t      n_tls_ports;
};

struct analyzer;

/* linktype from capture_linktype(). Returns NULL (err filled) on failure. */
struct analyzer *analyzer_new(const struct analyzer_opts *o, int linktype, struct event_bus *bus,
                              char *err, size_t errlen);
/* Frames from now on have this link type; -1 (err filled) if unsupported. */
int analyzer_set_linktype(struct analyzer *a, int linktype, char *err, size_t errlen);
/* One captured frame. */
void analyzer_packet(struct analyzer *a, const struct capture_pkt *pkt);
/* Time passes (live capture without packets): expire idle flows. */
void analyzer_tick(struct analyzer *a, uint64_t now_us);
/* Flush the sinks (event_bus_flush) on the thread that owns them. */
void analyzer_flush(struct analyzer *a);
/* End of input: close every flow; with a worker thread, wait until it has
 * applied everything (the sinks may be read afterwards). */
void analyzer_finish(struct analyzer *a);
void analyzer_free(struct analyzer *a);

struct analyzer_stats {
	uint64_t packets;        /* frames seen */
	uint64_t bytes;          /* frame bytes seen */
	uint64_t first_ts_us, last_ts_us;
	struct decode_stats decode;
	struct flow_stats flow;
	uint64_t dump_errors;    /* --dump-streams write failures */
	uint64_t gaps;           /* gaps in flows that ended */
	uint64_t gap_bytes;      /* bytes missing in flows that ended */
	uint64_t memory_pressure;/* times the heap went over --max-memory */
};
void analyzer_stats(const struct analyzer *a, struct analyzer_stats *out);

#endif
