/*
 * buf.c -- growable text and error filling, used by every part of codegen.
 */
#include "codegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cg_fail(struct cg_err *err, int rc, const char *code, const char *fmt,
            ...)
{
	va_list ap;
	snprintf(err->code, sizeof err->code, "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return rc;
}

static int sb_grow(struct sbuf *b, size_t more)
{
	if (b->oom)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void sb_addn(struct sbuf *b, const char *s, size_t n)
{
	if (sb_grow(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sb_add(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

void sb_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_grow(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

const char *sb_str(const struct sbuf *b)
{
	return b->p ? b->p : "";
}

char *sb_take(struct sbuf *b)
{
	char *p = b->oom ? NULL : b->p ? b->p : strdup("");
	if (b->oom)
		free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
	return p;
}

void sb_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}
