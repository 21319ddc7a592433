/* bench/floor.c — the bare libpcap read loop: the floor smtpscope's offline
 * analysis is measured against.
 *
 * usage: floor [--fopen] FILE
 *   default   pcap_open_offline() and a plain pcap_next_ex() loop (libpcap's
 *             own stdio buffering);
 *   --fopen   fopen() + setvbuf() with a 1 MiB buffer + pcap_fopen_offline(),
 *             the way smtpscope's capture module opens files.
 * Prints one line "packets N bytes B" (B = sum of captured lengths) on stdout.
 * Every packet's bytes are touched (a running XOR of the first and last byte)
 * so the loop cannot skip the data that a real consumer would read.
 * Exit status: 0 ok, 1 usage or open error, 2 read error part-way.
 */
#define _DEFAULT_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STDIO_BUF (1u << 20) /* the 1 MiB buffer smtpscope's capture module uses */

int main(int argc, char **argv)
{
	int use_fopen = 0;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--fopen"))
			use_fopen = 1;
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (!path) {
		fputs("usage: floor [--fopen] FILE\n", stderr);
		return 1;
	}
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p;
	char *vbuf = NULL;
	if (use_fopen) {
		FILE *f = fopen(path, "rb");
		if (!f) {
			perror(path);
			return 1;
		}
		vbuf = malloc(STDIO_BUF);
		if (!vbuf || setvbuf(f, vbuf, _IOFBF, STDIO_BUF) != 0) {
			fputs("floor: setvbuf failed\n", stderr);
			return 1;
		}
		p = pcap_fopen_offline(f, err); /* takes f: pcap_close() closes it */
		if (!p)
			fclose(f);
	} else {
		p = pcap_open_offline(path, err);
	}
	if (!p) {
		fprintf(stderr, "floor: %s: %s\n", path, err);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	unsigned long long packets = 0, bytes = 0;
	unsigned touch = 0;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		packets++;
		bytes += h->caplen;
		if (h->caplen)
			touch ^= d[0] ^ d[h->caplen - 1];
	}
	int status = 0;
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "floor: %s: %s\n", path, pcap_geterr(p));
		status = 2;
	}
	pcap_close(p);
	free(vbuf);
	printf("packets %llu bytes %llu touch %u\n", packets, bytes, touch);
	return status;
}
