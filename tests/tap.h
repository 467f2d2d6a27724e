/*
 * A tiny TAP producer for mcpd's tests (Debian ships no C TAP library).
 * plan(n) or done_testing(); ok(cond, fmt, ...); is_int, is_str; diag.
 * exit_status() is non-zero when any test failed or the plan was missed.
 */
#ifndef MCPD_TAP_H
#define MCPD_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed, tap_planned = -1;

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline void diag(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
}

static inline int tap_vok(int cond, const char *file, int line,
                          const char *fmt, va_list ap)
{
	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	putchar('\n');
	if (!cond)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	return cond;
}

static inline int tap_ok(int cond, const char *file, int line,
                         const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int tap_ok(int cond, const char *file, int line,
                         const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	return r;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...)                                               \
	do {                                                                 \
		long long g_ = (long long)(got), w_ = (long long)(want);     \
		if (!ok(g_ == w_, __VA_ARGS__))                              \
			diag("got %lld, want %lld", g_, w_);                 \
	} while (0)

#define is_str(got, want, ...)                                               \
	do {                                                                 \
		const char *g_ = (got), *w_ = (want);                        \
		int e_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;        \
		if (!ok(e_, __VA_ARGS__))                                    \
			diag("got \"%s\", want \"%s\"", g_ ? g_ : "(null)",  \
			     w_ ? w_ : "(null)");                            \
	} while (0)

static inline void done_testing(void)
{
	tap_planned = tap_run;
	printf("1..%d\n", tap_run);
	fflush(stdout);
}

static inline int exit_status(void)
{
	if (tap_planned >= 0 && tap_planned != tap_run) {
		printf("# planned %d tests, ran %d\n", tap_planned, tap_run);
		return 1;
	}
	return tap_failed ? 1 : 0;
}

#endif
