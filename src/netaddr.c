/* netaddr — endpoint formatting. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>

const char *endpoint_addr_str(const struct endpoint *e, char *buf, size_t len)
{
	if (!inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *endpoint_str(const struct endpoint *e, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	endpoint_addr_str(e, a, sizeof a);
	if (e->family == 6)
		snprintf(buf, len, "[%s]:%u", a, (unsigned)e->port);
	else
		snprintf(buf, len, "%s:%u", a, (unsigned)e->port);
	return buf;
}
