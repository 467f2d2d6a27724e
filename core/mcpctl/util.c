/*
 * Allocation, messages and a growable buffer. A command-line client has
 * nothing sensible to do when memory runs out, so the x*() helpers end the
 * process instead of making every caller check.
 */
#include "mcpctl-internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void nomem(void)
{
	fputs("mcpctl: out of memory\n", stderr);
	exit(EXIT_NOMEM);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		nomem();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		nomem();
	return p;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

static char *xvasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *s;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		nomem();
	s = xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

/* A terminal line being redrawn with \r (the progress bar), if any. */
static FILE *open_line;

void open_line_set(FILE *f)
{
	open_line = f;
}

void open_line_end(void)
{
	if (!open_line)
		return;
	fputc('\n', open_line);
	fflush(open_line);
	open_line = NULL;
}

static void vwarnx(const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);

	/* A message must not land in the middle of the bar. */
	open_line_end();
	fprintf(stderr, "mcpctl: %s\n", msg);
	free(msg);
}

void warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

void buf_add(struct buf *b, const void *p, size_t n)
{
	if (!b->p || b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_adds(b, s);
	free(s);
}

const char *buf_str(struct buf *b)
{
	if (!b->p)
		buf_add(b, "", 0);
	return b->p;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
