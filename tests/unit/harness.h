/* A tiny unit-test harness (after sds's test_cond). Each test file is its own
 * program; it prints one line per failed check and a closing
 * "unit <file>: N passed, N failed" line; the runner aggregates. */
#ifndef SMTPSCOPE_HARNESS_H
#define SMTPSCOPE_HARNESS_H

#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond) do { \
	if (cond) t_pass++; \
	else { t_fail++; fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ && w_ && strcmp(g_, w_) == 0) t_pass++; \
	else { t_fail++; fprintf(stderr, "FAIL %s:%d: %s\n   got: [%s]\n  want: [%s]\n", \
		__FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
} while (0)

#define CHECK_MEM(got, glen, want, wlen) do { \
	size_t gl_ = (glen), wl_ = (wlen); \
	if (gl_ == wl_ && memcmp((got), (want), gl_) == 0) t_pass++; \
	else { t_fail++; fprintf(stderr, "FAIL %s:%d: %s (len %zu, want %zu)\n", \
		__FILE__, __LINE__, #got, gl_, wl_); } \
} while (0)

#define TEST_MAIN_END() do { \
	printf("%d passed, %d failed\n", t_pass, t_fail); \
	return t_fail ? 1 : 0; \
} while (0)

#endif
