/* event — the one record type that flows out of the analysis, and the sink
 * interface every output implements (text transcript, JSON Lines, flows view,
 * message extraction, UI model).
 *
 * Lifetime: an event and everything it points to is borrowed for the duration
 * of sink->ops->emit(); a sink copies what it keeps. Events are emitted in
 * the order things happened on the wire, as well as reassembly allows.
 */
#ifndef SMTPSCOPE_EVENT_H
#define SMTPSCOPE_EVENT_H

#include <stdint.h>

struct flow_info;     /* include/flow.h */
struct smtp_session;  /* include/smtp.h */
struct smtp_line;     /* include/smtp.h: a client line (command, AUTH data, message summary) */
struct smtp_reply;    /* include/smtp.h: a complete (possibly multi-line) reply */
struct smtp_txn;      /* include/smtp.h: a mail transaction */

enum event_type {
	EV_FLOW_END,       /* a TCP flow ended: .flow (the --flows view) */
	EV_SESSION_BEGIN,  /* an SMTP session starts: .sess */
	EV_CLIENT,         /* a client line: .sess, .line */
	EV_REPLY,          /* a server reply: .sess, .reply */
	EV_TRANSACTION,    /* a transaction ended: .sess, .txn */
	EV_SESSION_END,    /* an SMTP session ended: .sess */
};

struct event {
	enum event_type type;
	uint64_t ts_us;                    /* capture time, microseconds since the epoch */
	const struct flow_info *flow;      /* the TCP flow; set for every event */
	const struct smtp_session *sess;   /* SMTP events */
	const struct smtp_line *line;      /* EV_CLIENT */
	const struct smtp_reply *reply;    /* EV_REPLY */
	const struct smtp_txn *txn;        /* EV_TRANSACTION */
};

struct sink;
struct sink_ops {
	void (*emit)(struct sink *s, const struct event *ev);
	void (*flush)(struct sink *s);   /* push buffered output out (may be NULL) */
	void (*close)(struct sink *s);   /* flush and free the sink itself */
};

/* A sink is a struct whose first member is struct sink (container-of style).
 * wants: the event types it reads (bits 1 << EV_*); 0 means every type. The
 * bus skips an event no sink wants (message text chunks in a JSON run, for
 * instance). */
struct sink {
	const struct sink_ops *ops;
	unsigned wants;
};
#define EV_BIT(t) (1u << (t))

#define EVENT_BUS_MAX 8
struct event_bus {
	struct sink *sinks[EVENT_BUS_MAX]; /* borrowed; closed by event_bus_close */
	int n;
	unsigned wants;                    /* union of the sinks' wants */
};

void event_bus_add(struct event_bus *bus, struct sink *s);
void event_bus_emit(struct event_bus *bus, const struct event *ev);
void event_bus_flush(struct event_bus *bus);
void event_bus_close(struct event_bus *bus);

#endif
