/* netaddr — endpoints (address + port) and their text form. */
#ifndef SMTPSCOPE_NETADDR_H
#define SMTPSCOPE_NETADDR_H

#include <stddef.h>
#include <stdint.h>

struct endpoint {
	uint8_t  family;    /* 4 or 6 */
	uint8_t  addr[16];  /* IPv4 in the first 4 bytes, network order */
	uint16_t port;      /* host order */
};

#define ENDPOINT_STRLEN 64 /* "[ffff:...:ffff]:65535" fits */

/* "192.0.2.1:25" or "[2001:db8::1]:25" into buf (at least ENDPOINT_STRLEN). */
const char *endpoint_str(const struct endpoint *e, char *buf, size_t len);
/* The address alone, no port, no brackets. */
const char *endpoint_addr_str(const struct endpoint *e, char *buf, size_t len);

#endif
