/* Unit tests of endpoint formatting (src/netaddr.c): the printf-free IPv6
 * text must be exactly inet_ntop's, on special and on random addresses. */
#include <arpa/inet.h>
#include <stdio.h>

#include "harness.h"
#include "netaddr.h"

static int same_as_ntop(const uint8_t a[16])
{
	struct endpoint e = { 6, { 0 }, 25 };
	memcpy(e.addr, a, 16);
	char want[INET6_ADDRSTRLEN], got[ENDPOINT_STRLEN], full[ENDPOINT_STRLEN], wantfull[ENDPOINT_STRLEN];
	inet_ntop(AF_INET6, a, want, sizeof want);
	endpoint_addr_str(&e, got, sizeof got);
	endpoint_str(&e, full, sizeof full);
	snprintf(wantfull, sizeof wantfull, "[%s]:25", want);
	if (strcmp(want, got) != 0 || strcmp(full, wantfull) != 0) {
		printf("  inet_ntop %s, ours %s / %s\n", want, got, full);
		return 0;
	}
	return 1;
}

static void test_ipv6_special(void)
{
	static const char *const texts[] = {
		"::", "::1", "1::", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "2001:0:0:1:0:0:0:1",
		"::ffff:192.0.2.1", "::192.0.2.1", "::ffff:0:192.0.2.1", "fe80::1:0:0:0",
		"0:0:1::", "1:0:0:2:0:0:3:4", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"::0.0.0.2", "::ffff:0.0.0.0", "64:ff9b::192.0.2.33", "1:2:3:4:5:6:7:8", "1:0:2:0:3:0:4:0",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		uint8_t a[16];
		CHECK(inet_pton(AF_INET6, texts[i], a) == 1);
		CHECK(same_as_ntop(a));
	}
}

static void test_ipv6_random(void)
{
	uint32_t x = 2463534242u;
	unsigned bad = 0;
	for (int k = 0; k < 100000; k++) {
		uint8_t a[16];
		for (int i = 0; i < 8; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			/* mostly zero groups, so runs of every length and place occur */
			unsigned g = (x & 3) ? 0 : (x >> 8) & ((x & 4) ? 0xffff : 0xf);
			if ((x & 0x30) == 0x30 && i == 5)
				g = 0xffff;
			a[2 * i] = (uint8_t)(g >> 8);
			a[2 * i + 1] = (uint8_t)g;
		}
		if (!same_as_ntop(a) && ++bad > 5)
			break;
	}
	CHECK(bad == 0);
}

static void test_ipv4_and_cut(void)
{
	struct endpoint e = { 4, { 192, 0, 2, 1 }, 65535 };
	char b[ENDPOINT_STRLEN];
	CHECK_STR(endpoint_str(&e, b, sizeof b), "192.0.2.1:65535");
	CHECK_STR(endpoint_addr_str(&e, b, sizeof b), "192.0.2.1");
	struct endpoint z = { 4, { 0, 0, 0, 0 }, 0 };
	CHECK_STR(endpoint_str(&z, b, sizeof b), "0.0.0.0:0");
	char small[6];
	CHECK_STR(endpoint_str(&e, small, sizeof small), "192.0"); /* cut, still terminated */
}

int main(void)
{
	test_ipv6_special();
	test_ipv6_random();
	test_ipv4_and_cut();
	TEST_MAIN_END();
}
