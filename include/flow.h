/* flow — the TCP flow table: canonical 5-tuple hash, client/server
 * orientation, two reassembled streams per flow, idle timeout, caps and
 * eviction. It knows nothing of SMTP: an application layer attaches through
 * struct flow_hooks and receives in-order bytes, gaps and the end.
 *
 * Directions: FLOW_C2S (0) is client to server, FLOW_S2C (1) the reverse.
 * Orientation comes from the handshake (who sent the SYN), or, for a flow
 * picked up mid-stream, from the ports (the side on a configured server port
 * is the server; otherwise the lower port).
 */
#ifndef SMTPSCOPE_FLOW_H
#define SMTPSCOPE_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "netaddr.h"

struct pkt_view;

enum { FLOW_C2S = 0, FLOW_S2C = 1 };

enum flow_end {
	FLOW_END_NONE = 0, /* still open */
	FLOW_END_FIN,      /* both sides sent FIN */
	FLOW_END_RST,      /* a RST */
	FLOW_END_TIMEOUT,  /* idle longer than the timeout */
	FLOW_END_EOF,      /* still open when the capture ended */
	FLOW_END_EVICTED,  /* pushed out to respect a cap */
	FLOW_END_REUSED,   /* a new connection took its tuple (FINs not captured) */
};
const char *flow_end_str(enum flow_end e);

/* What outputs may know about a flow (the flows view, session records). */
struct flow_info {
	uint64_t id;                 /* 1, 2, ... in order of creation, stable within a run */
	struct endpoint client;      /* the side that opened the connection */
	struct endpoint server;
	uint64_t first_ts_us;        /* first packet */
	uint64_t last_ts_us;         /* latest packet */
	uint64_t pkts[2];            /* packets per direction */
	uint64_t bytes[2];           /* payload bytes delivered in order per direction */
	uint64_t gap_bytes[2];       /* bytes declared missing per direction */
	uint32_t gaps[2];            /* number of gaps per direction */
	bool     syn_seen;           /* the handshake was captured */
	bool     fin[2];             /* FIN seen per direction */
	enum flow_end end;           /* how it ended (FLOW_END_NONE while open) */
	struct anom_set anoms;       /* anomalies of this flow */
};

/* The application layer's view. `app` is the per-flow pointer returned by
 * open(); data/gap/close receive it back. data() bytes are borrowed (often
 * straight from the packet) for the call only. */
struct flow_hooks {
	/* Called when a flow starts carrying payload or a SYN is seen; return
	 * the per-flow application state, or NULL to ignore the flow's bytes. */
	void *(*open)(void *user, const struct flow_info *fi);
	void (*data)(void *user, void *app, int dir, const uint8_t *p, size_t n, uint64_t ts_us);
	void (*gap)(void *user, void *app, int dir, uint64_t len, uint64_t ts_us);
	/* The flow is over (fi->end says how); free app here. */
	void (*close)(void *user, void *app, const struct flow_info *fi, uint64_t ts_us);
	/* Optional: true if the flow's application state is worth keeping
	 * (an SMTP session) — eviction takes other flows first. */
	bool (*precious)(void *user, void *app);
	void *user;
};

struct flow_config {
	const uint16_t *server_ports;  /* ports that identify the server side */
	size_t          n_server_ports;
	bool            all_ports;     /* track flows on every port (else only server_ports) */
	uint64_t        idle_timeout_us;  /* default 300 s */
	uint64_t        linger_us;        /* a closed flow stays this long after its last packet (10 s) */
	size_t          linger_max;       /* at most this many closed flows stay (2048); oldest go first */
	size_t          max_flows;        /* table cap; oldest idle evicted beyond */
	size_t          ooo_bytes_per_dir;/* out-of-order bytes held per direction */
	size_t          ooo_segs_per_dir; /* out-of-order segments held per direction */
	size_t          ooo_bytes_total;  /* out-of-order bytes held in all flows */
	const uint8_t  *hash_key;         /* 16-byte SipHash key of the table; NULL (the default):
	                                     a random one per table (getrandom) */
};
void flow_config_defaults(struct flow_config *c);

/* Hash chains are never longer than this: a new flow whose bucket already
 * holds FLOW_CHAIN_MAX flows evicts one of them first (a closed one, else
 * the least recently active; an open one ends "evicted"). With a secret
 * key and the load kept at most 1/2, a chain of 16 by chance is below
 * 1e-18 per bucket; it bounds the work per packet even if the key leaked. */
#define FLOW_CHAIN_MAX 16

struct flow_table;

struct flow_table *flow_table_new(const struct flow_config *cfg, const struct flow_hooks *hooks);
/* Feed one decoded TCP segment. */
void flow_table_packet(struct flow_table *t, const struct pkt_view *pv);
/* Close flows idle since before now - timeout. Cheap; call often. */
void flow_table_expire(struct flow_table *t, uint64_t now_us);
/* Close every flow (end of capture) with FLOW_END_EOF. */
void flow_table_close_all(struct flow_table *t, uint64_t now_us);
/* Memory pressure: evict up to n flows (closed ones first, then the least
 * recently active that carry no payload or no SMTP). Returns how many. */
size_t flow_table_shed(struct flow_table *t, size_t n, uint64_t now_us);
void flow_table_free(struct flow_table *t);

struct flow_stats {
	uint64_t flows_total;      /* flows created */
	uint64_t flows_open;       /* flows now in the table */
	uint64_t flows_evicted;
	uint64_t ooo_bytes;        /* out-of-order bytes held now */
	uint64_t ooo_bytes_peak;
	uint64_t segments;         /* TCP segments seen */
	uint64_t ignored;          /* segments of untracked flows */
	uint64_t lookups;          /* table look-ups (one per tracked segment) */
	uint64_t chain_steps;      /* flows compared in those look-ups */
	uint64_t chain_max;        /* the longest chain walked (at most FLOW_CHAIN_MAX) */
	uint64_t chain_evicted;    /* flows evicted because their chain was full */
	bool     key_random;       /* the hash key came from the kernel's entropy */
};
void flow_table_stats(const struct flow_table *t, struct flow_stats *out);

#endif
