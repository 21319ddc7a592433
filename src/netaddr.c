/* netaddr — endpoint formatting, without printf: the text form of an
 * endpoint goes into every record. IPv6 follows inet_ntop(3) exactly (the
 * BIND/glibc rules: the first longest run of two or more zero groups becomes
 * "::", lower-case hex without leading zeros, and an IPv4-compatible or
 * IPv4-mapped address ends in dotted quad); tests/unit/test_netaddr.c compares
 * the two on random and special addresses. */
#include "netaddr.h"

#include <string.h>

static size_t put_dec(char *o, unsigned v)
{
	char t[8];
	size_t k = 0, n = 0;
	do {
		t[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k)
		o[n++] = t[--k];
	return n;
}

static size_t put_ipv4(char *o, const uint8_t *a)
{
	size_t n = 0;
	for (int i = 0; i < 4; i++) {
		if (i)
			o[n++] = '.';
		n += put_dec(o + n, a[i]);
	}
	return n;
}

/* At most 45 characters. */
static size_t put_ipv6(char *o, const uint8_t *a)
{
	static const char hex[] = "0123456789abcdef";
	unsigned w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	int best = -1, best_len = 0, cur = -1, cur_len = 0;
	for (int i = 0; i < 8; i++) {
		if (w[i] == 0) {
			if (cur < 0)
				cur = i, cur_len = 1;
			else
				cur_len++;
		} else if (cur >= 0) {
			if (cur_len > best_len)
				best = cur, best_len = cur_len;
			cur = -1;
		}
	}
	if (cur >= 0 && cur_len > best_len)
		best = cur, best_len = cur_len;
	if (best_len < 2)
		best = -1;
	size_t n = 0;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				o[n++] = ':';
			continue;
		}
		if (i)
			o[n++] = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return n + put_ipv4(o + n, a + 12);
		int started = 0;
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned d = (w[i] >> sh) & 15;
			if (d || started || sh == 0) {
				o[n++] = hex[d];
				started = 1;
			}
		}
	}
	if (best >= 0 && best + best_len == 8)
		o[n++] = ':';
	return n;
}

/* Copy t[0..n) and a NUL into buf of len (cut to fit). */
static const char *out(char *buf, size_t len, const char *t, size_t n)
{
	if (!len)
		return buf;
	if (n >= len)
		n = len - 1;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return buf;
}

const char *endpoint_addr_str(const struct endpoint *e, char *buf, size_t len)
{
	char t[64];
	size_t n = e->family == 6 ? put_ipv6(t, e->addr) : put_ipv4(t, e->addr);
	return out(buf, len, t, n);
}

const char *endpoint_str(const struct endpoint *e, char *buf, size_t len)
{
	char t[72];
	size_t n = 0;
	if (e->family == 6) {
		t[n++] = '[';
		n += put_ipv6(t + n, e->addr);
		t[n++] = ']';
	} else {
		n += put_ipv4(t, e->addr);
	}
	t[n++] = ':';
	n += put_dec(t + n, e->port);
	return out(buf, len, t, n);
}
