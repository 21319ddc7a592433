/* bench/rss.c — run a command, report its wall time, CPU time and peak
 * resident set size (getrusage of the waited-for child: ru_maxrss).
 *
 * usage: rss [-o REPORT] [-i STDIN] [-O STDOUT] -- COMMAND [ARG...]
 *   -o REPORT  where the report goes (default: standard error)
 *   -i FILE    the command's standard input (default: inherited)
 *   -O FILE    the command's standard output (default: inherited; /dev/null
 *              for benchmarks, so output formatting is measured, not a pipe)
 * The report is one line:
 *   wall_s=W user_s=U sys_s=S maxrss_kib=K status=N
 * where status is the exit status, or 128+signal if the command was killed.
 * rss itself exits with 0 when the command could be run and reported, 1 on
 * its own errors (usage, fork, exec: 127 in the child).
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int redirect(const char *path, int fd, int flags)
{
	int f = open(path, flags, 0644);
	if (f < 0 || dup2(f, fd) < 0)
		return -1;
	close(f);
	return 0;
}

int main(int argc, char **argv)
{
	const char *report = NULL, *in = NULL, *out = NULL;
	int c;
	while ((c = getopt(argc, argv, "+o:i:O:")) != -1) {
		switch (c) {
		case 'o': report = optarg; break;
		case 'i': in = optarg; break;
		case 'O': out = optarg; break;
		default: goto usage;
		}
	}
	if (optind >= argc) {
usage:
		fputs("usage: rss [-o REPORT] [-i STDIN] [-O STDOUT] -- COMMAND [ARG...]\n", stderr);
		return 1;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("rss: fork");
		return 1;
	}
	if (pid == 0) {
		if ((in && redirect(in, 0, O_RDONLY) < 0) ||
		    (out && redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC) < 0)) {
			perror("rss: redirect");
			_exit(127);
		}
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "rss: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("rss: wait4");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	FILE *f = report ? fopen(report, "w") : stderr;
	if (!f) {
		perror(report);
		return 1;
	}
	fprintf(f, "wall_s=%.6f user_s=%.6f sys_s=%.6f maxrss_kib=%ld status=%d\n", wall,
	        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss, status);
	if (report)
		fclose(f);
	return 0;
}
