/* smtp — the SMTP dissector: per-session push parser fed with the reassembled
 * bytes of each direction. Emits events (include/event.h) on the bus.
 * OWNED BY THE SMTP MODULE: the structs below are filled in by src/smtp.c.
 */
#ifndef SMTPSCOPE_SMTP_H
#define SMTPSCOPE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "event.h"
#include "flow.h"

struct smtp_txn;

/* Consumers of message bytes (after dot-unstuffing, or BDAT chunk payloads),
 * so headers can be parsed and messages extracted without buffering them. */
struct smtp_msg_hooks {
	void (*begin)(void *user, struct smtp_txn *txn);
	void (*data)(void *user, struct smtp_txn *txn, const uint8_t *p, size_t n);
	void (*gap)(void *user, struct smtp_txn *txn, uint64_t len);
	void (*end)(void *user, struct smtp_txn *txn);
	/* Called once the transaction is complete, just before EV_TRANSACTION is
	 * emitted: the place to attach headers and findings to txn. */
	void (*complete)(void *user, struct smtp_txn *txn);
	void *user;
};

struct smtp_config {
	bool show_secrets;                 /* passwords in clear in events */
	const struct smtp_msg_hooks *msg;  /* may be NULL */
};

struct smtp_session;

/* fi stays valid until smtp_session_free(). bus is borrowed. */
struct smtp_session *smtp_session_new(const struct smtp_config *cfg, struct event_bus *bus,
                                      const struct flow_info *fi, uint64_t ts_us);
/* In-order bytes of one direction (FLOW_C2S / FLOW_S2C). */
void smtp_session_data(struct smtp_session *s, int dir, const uint8_t *p, size_t n, uint64_t ts_us);
/* len bytes of dir are missing from the capture. */
void smtp_session_gap(struct smtp_session *s, int dir, uint64_t len, uint64_t ts_us);
/* The flow ended: finish what is pending, emit EV_SESSION_END. */
void smtp_session_close(struct smtp_session *s, uint64_t ts_us);
void smtp_session_free(struct smtp_session *s);

#endif
