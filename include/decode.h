/* decode — turns a captured frame into a borrowed view of its TCP segment.
 * Link layers: Ethernet (802.1Q, 802.1ad/QinQ, MPLS, PPPoE), Linux SLL and
 * SLL2, BSD NULL/LOOP, raw IPv4/IPv6. IPv4 with options and fragments
 * (reassembled in a bounded table), IPv6 with extension headers and fragments.
 * TCP with options. Checksums are not verified (offload makes them wrong on
 * the sending host; they are never a reason to drop a segment).
 *
 * The view borrows from the frame (or, for a reassembled datagram, from the
 * decoder's own buffer) and is valid until the next decoder call. */
#ifndef SMTPSCOPE_DECODE_H
#define SMTPSCOPE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10, TCP_URG = 0x20 };

struct pkt_view {
	uint64_t ts_us;            /* capture timestamp */
	uint8_t  family;           /* 4 or 6 */
	uint8_t  src[16];          /* source address (IPv4 in the first 4 bytes) */
	uint8_t  dst[16];          /* destination address */
	uint16_t sport, dport;     /* TCP ports, host order */
	uint32_t seq, ack;         /* raw 32-bit sequence and acknowledgement numbers */
	uint8_t  flags;            /* TCP_* */
	uint16_t window;           /* raw window field */
	uint16_t mss;              /* MSS option, 0 if absent */
	int8_t   wscale;           /* window-scale option, -1 if absent */
	uint8_t  n_vlan;           /* VLAN tags followed */
	uint16_t vlan[2];          /* outermost first */
	const uint8_t *payload;    /* captured TCP payload */
	uint32_t payload_len;      /* captured payload bytes */
	uint32_t payload_wire_len; /* payload length per the IP header (>= payload_len if cut by snaplen) */
};

/* Result of decoder_frame(). */
enum decode_result {
	DECODE_TCP = 0,     /* *out holds a TCP segment */
	DECODE_OTHER,       /* well-formed, but not TCP (ARP, UDP, ICMP, ...) */
	DECODE_FRAGMENT,    /* an IP fragment was stored; no segment yet */
	DECODE_BAD,         /* malformed or truncated; an anomaly was raised */
};

struct decode_stats {
	uint64_t frames;      /* frames given */
	uint64_t tcp;         /* TCP segments decoded */
	uint64_t other;       /* non-TCP frames */
	uint64_t bad;         /* malformed frames */
	uint64_t fragments;   /* IP fragments seen */
	uint64_t reassembled; /* datagrams rebuilt from fragments */
	uint64_t ipv6;        /* IPv6 TCP segments */
	uint64_t vlan;        /* frames with at least one VLAN tag */
};

struct decoder;

/* linktype is the DLT value libpcap reports (pcap_datalink()). */
struct decoder *decoder_new(int linktype);
void decoder_free(struct decoder *d);
/* Frames from now on are of this link type (several input files). */
void decoder_set_linktype(struct decoder *d, int linktype);
/* True if smtpscope can decode this link type. */
bool decoder_linktype_supported(int linktype);
enum decode_result decoder_frame(struct decoder *d, const uint8_t *frame, uint32_t caplen,
                                 uint32_t wirelen, uint64_t ts_us, struct pkt_view *out);
const struct decode_stats *decoder_stats(const struct decoder *d);

#endif
