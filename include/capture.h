/* capture — the only user of <pcap.h>. Opens a capture file (pcap or pcapng)
 * or a live interface, applies an optional BPF filter, and hands out packets
 * in bounded batches. Exposes the selectable fd so one poll() loop can serve
 * capture and keyboard alike. */
#ifndef SMTPSCOPE_CAPTURE_H
#define SMTPSCOPE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct capture;

struct capture_pkt {
	uint64_t ts_us;        /* timestamp, microseconds since the epoch */
	uint32_t caplen;       /* bytes captured */
	uint32_t wirelen;      /* bytes on the wire */
	const uint8_t *data;   /* borrowed from libpcap for the callback only */
};

typedef void (*capture_cb)(void *user, const struct capture_pkt *pkt);

/* Open a file ("-" is standard input). A file, a pipe or standard input
 * that starts with the gzip magic (1f 8b), whatever its name, is
 * decompressed through gzip(1). On failure returns NULL and writes a
 * one-line reason into err. */
struct capture *capture_open_file(const char *path, char *err, size_t errlen);
/* Open a live interface: full snaplen, immediate mode, promiscuous. */
struct capture *capture_open_live(const char *iface, char *err, size_t errlen);
/* Compile and install a BPF filter; 0 on success, -1 with err filled. */
int capture_set_filter(struct capture *c, const char *expr, char *err, size_t errlen);
int capture_linktype(const struct capture *c);
const char *capture_linktype_name(const struct capture *c);
/* Selectable fd for poll(), -1 when there is none (files). */
int capture_fd(const struct capture *c);
/* Process up to max packets (max <= 0: a libpcap buffer's worth).
 * Returns the number processed (>= 0), or:
 *   CAPTURE_EOF    the file ended cleanly,
 *   CAPTURE_ERROR  reading failed; capture_error() says why (a damaged file). */
enum { CAPTURE_EOF = -1, CAPTURE_ERROR = -2 };
int capture_dispatch(struct capture *c, int max, capture_cb cb, void *user);
const char *capture_error(const struct capture *c);
/* Read one packet (for merging several files by timestamp). Returns 1 with
 * *out filled (data valid until the next call on c), 0 if none is ready
 * (live), CAPTURE_EOF or CAPTURE_ERROR. */
int capture_next(struct capture *c, struct capture_pkt *out);
/* Ask a running capture_dispatch() to return early (signal-safe). */
void capture_breakloop(struct capture *c);

struct capture_stats {
	bool     valid;        /* live capture: counters from pcap_stats() */
	uint64_t received;     /* packets received by the filter */
	uint64_t dropped;      /* dropped by the kernel (buffer full) */
	uint64_t if_dropped;   /* dropped by the interface/driver */
	uint64_t packets;      /* packets handed to the callback */
	uint64_t bytes;        /* bytes captured (caplen) */
	uint64_t file_bytes;   /* bytes of the file read so far (files only) */
	uint64_t file_size;    /* total size of the file (files only, 0 if unknown) */
};
void capture_stats(struct capture *c, struct capture_stats *out);
void capture_close(struct capture *c);

/* pcapng Decryption Secrets Blocks (block type 0x0000000A, pcapng spec
 * 4.7): cb(user, secrets_type, data, len) for each DSB of the file at path,
 * in file order; secrets_type CAPTURE_SECRETS_TLS is the NSS key log text
 * that `editcap --inject-secrets tls,KEYLOG` writes (hand it to
 * tls_keys_add_text). libpcap skips these blocks, so the file is walked
 * here by itself, block header by block header (the packets are seeked
 * over, not read). Reads regular files only: "-", a ".gz" name, a pipe or a
 * classic pcap file give 0 and no calls. A DSB longer than CAPTURE_DSB_MAX,
 * or whose length does not fit its block, is skipped and counted in
 * *skipped (may be NULL); a truncated file ends the walk. Returns the number
 * of blocks delivered, or -1 with err filled if the file cannot be opened.
 * Call it once per file before (or while) reading its packets. */
#define CAPTURE_SECRETS_TLS 0x544c534bu   /* "TLSK" */
#define CAPTURE_DSB_MAX     (64u << 20)   /* bytes of one DSB's secrets held */
typedef void (*capture_secrets_cb)(void *user, uint32_t secrets_type, const uint8_t *p, size_t n);
int capture_pcapng_secrets(const char *path, capture_secrets_cb cb, void *user, uint64_t *skipped,
                           char *err, size_t errlen);

#endif
