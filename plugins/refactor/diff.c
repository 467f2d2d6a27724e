/*
 * diff.c -- unified diffs (see diff.h).
 *
 * Lines are compared with their newline, so a last line that lost or
 * gained its newline is a change, as in GNU diff. Common leading and
 * trailing lines are cut first; Myers' greedy algorithm finds a shortest
 * edit script of the rest, keeping each round's frontier to walk back.
 * Those frontiers cost O(D^2) memory, so past DIFF_MAX_D edits the middle
 * is written as one replacement: still a correct diff, only not minimal.
 */
#include "diff.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DIFF_MAX_D
#define DIFF_MAX_D 2000
#endif

void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		buf_add(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_add(b, big, (size_t)n);
	free(big);
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

struct line {
	const char *p;
	size_t len; /* with the '\n', when there is one */
};

enum { OP_EQ, OP_DEL, OP_INS };

struct op {
	int type;
	size_t a, b; /* lines of old / new consumed before this op */
};

static size_t split(const char *s, size_t n, struct line **out)
{
	size_t count = 0, k, start = 0;
	for (k = 0; k < n; k++)
		if (s[k] == '\n')
			count++;
	if (n && s[n - 1] != '\n')
		count++;
	*out = calloc(count ? count : 1, sizeof **out);
	if (!*out)
		return (size_t)-1;
	count = 0;
	for (k = 0; k < n; k++)
		if (s[k] == '\n') {
			(*out)[count++] = (struct line){s + start, k + 1 - start};
			start = k + 1;
		}
	if (start < n)
		(*out)[count++] = (struct line){s + start, n - start};
	return count;
}

static int same(const struct line *x, const struct line *y)
{
	return x->len == y->len && !memcmp(x->p, y->p, x->len);
}

/* Edit script of a[0..n) -> b[0..m) into ops (types only), in order.
 * Returns the number of ops, or -1 when out of memory. */
static long myers(const struct line *a, long n, const struct line *b, long m,
                  int *ops)
{
	long max = n + m, cap = max < DIFF_MAX_D ? max : DIFF_MAX_D, d, k;
	long *v = calloc((size_t)(2 * max + 3), sizeof *v);
	long **trace = calloc((size_t)cap + 1, sizeof *trace);
	long found = -1, count = 0;
	if (!v || !trace)
		goto out;
	long *V = v + max + 1;
	for (d = 0; d <= cap && found < 0; d++) {
		for (k = -d; k <= d; k += 2) {
			long x = (k == -d || (k != d && V[k - 1] < V[k + 1]))
			                 ? V[k + 1]
			                 : V[k - 1] + 1;
			long y = x - k;
			while (x < n && y < m && same(&a[x], &b[y]))
				x++, y++;
			V[k] = x;
			if (x >= n && y >= m)
				found = d;
		}
		trace[d] = malloc((size_t)(2 * d + 1) * sizeof(long));
		if (!trace[d]) {
			found = -2;
			break;
		}
		memcpy(trace[d], &V[-d], (size_t)(2 * d + 1) * sizeof(long));
	}
	if (found == -2)
		goto out;
	if (found < 0) { /* too many edits: one replacement */
		for (k = 0; k < n; k++)
			ops[count++] = OP_DEL;
		for (k = 0; k < m; k++)
			ops[count++] = OP_INS;
		goto out;
	}
	/* Walk back from (n, m), writing the script from its end. */
	/* The script has (n + m + found) / 2 <= max ops. */
	long x = n, y = m, pos = max;
	for (d = found; d > 0; d--) {
		const long *P = trace[d - 1] + (d - 1); /* P[k], |k| < d */
		k = x - y;
		long pk = (k == -d || (k != d && P[k - 1] < P[k + 1])) ? k + 1
		                                                       : k - 1;
		long px = P[pk], py = px - pk;
		while (x > px && y > py) {
			ops[--pos] = OP_EQ;
			x--, y--;
		}
		ops[--pos] = pk == k + 1 ? OP_INS : OP_DEL;
		x = px, y = py;
	}
	while (x > 0 && y > 0) {
		ops[--pos] = OP_EQ;
		x--, y--;
	}
	count = max - pos;
	memmove(ops, ops + pos, (size_t)count * sizeof *ops);
out:
	if (trace)
		for (d = 0; d <= cap; d++)
			free(trace[d]);
	free(trace);
	free(v);
	return found == -2 || !v || !trace ? -1 : count;
}

static void range(struct buf *out, size_t before, size_t count)
{
	if (count == 1)
		buf_printf(out, "%zu", before + 1);
	else
		buf_printf(out, "%zu,%zu", count ? before + 1 : before, count);
}

static void put_line(struct buf *out, char mark, const struct line *l)
{
	static const char nonl[] = "\n\\ No newline at end of file\n";
	buf_add(out, &mark, 1);
	buf_add(out, l->p, l->len);
	if (!l->len || l->p[l->len - 1] != '\n')
		buf_add(out, nonl, sizeof nonl - 1);
}

static int hunks(const char *path, int is_new, const struct line *a,
                 const struct line *b, const struct op *ops, size_t nops,
                 int context, struct buf *out)
{
	size_t i = 0, ctx = context < 0 ? 0 : (size_t)context;
	int nh = 0;
	while (i < nops) {
		while (i < nops && ops[i].type == OP_EQ)
			i++;
		if (i >= nops)
			break;
		size_t hs = i > ctx ? i - ctx : 0, last = i, j = i;
		for (;;) { /* extend while the next change is near */
			while (j < nops && ops[j].type != OP_EQ)
				last = j++;
			size_t next = j;
			while (next < nops && ops[next].type == OP_EQ)
				next++;
			if (next >= nops || next - j > 2 * ctx)
				break;
			j = next;
		}
		size_t he = last + 1 + ctx < nops ? last + 1 + ctx : nops;
		size_t na = 0, nb = 0;
		for (size_t k = hs; k < he; k++) {
			na += ops[k].type != OP_INS;
			nb += ops[k].type != OP_DEL;
		}
		if (nh++ == 0) {
			if (is_new)
				buf_printf(out, "--- /dev/null\n");
			else
				buf_printf(out, "--- a/%s\n", path);
			buf_printf(out, "+++ b/%s\n", path);
		}
		buf_add(out, "@@ -", 4);
		range(out, ops[hs].a, na);
		buf_add(out, " +", 2);
		range(out, ops[hs].b, nb);
		buf_add(out, " @@\n", 4);
		for (size_t k = hs; k < he; k++) {
			if (ops[k].type == OP_INS)
				put_line(out, '+', &b[ops[k].b]);
			else
				put_line(out, ops[k].type == OP_DEL ? '-' : ' ',
				         &a[ops[k].a]);
		}
		i = he;
	}
	return nh;
}

int diff_unified(const char *path, const char *old, size_t oldlen,
                 const char *new, size_t newlen, int context,
                 struct buf *out)
{
	struct line *a = NULL, *b = NULL;
	int *types = NULL;
	struct op *ops = NULL;
	int rc = -1;
	size_t n = split(old ? old : "", old ? oldlen : 0, &a);
	size_t m = split(new, newlen, &b);
	if (n == (size_t)-1 || m == (size_t)-1)
		goto out;
	size_t pre = 0, suf = 0;
	while (pre < n && pre < m && same(&a[pre], &b[pre]))
		pre++;
	while (suf < n - pre && suf < m - pre &&
	       same(&a[n - 1 - suf], &b[m - 1 - suf]))
		suf++;
	long mid_n = (long)(n - pre - suf), mid_m = (long)(m - pre - suf);
	types = malloc(((size_t)(mid_n + mid_m) + 1) * sizeof *types);
	ops = malloc((n + m + 1) * sizeof *ops);
	if (!types || !ops)
		goto out;
	long nt = myers(a + pre, mid_n, b + pre, mid_m, types);
	if (nt < 0)
		goto out;
	/* Within each run of changes, deletions first, as diff prints. */
	size_t no = 0, ia = 0, ib = 0;
	for (size_t k = 0; k < pre; k++, ia++, ib++)
		ops[no++] = (struct op){OP_EQ, ia, ib};
	for (long k = 0; k < nt;) {
		if (types[k] == OP_EQ) {
			ops[no++] = (struct op){OP_EQ, ia++, ib++};
			k++;
			continue;
		}
		long e = k;
		while (e < nt && types[e] != OP_EQ)
			e++;
		for (long t = k; t < e; t++)
			if (types[t] == OP_DEL)
				ops[no++] = (struct op){OP_DEL, ia++, ib};
		for (long t = k; t < e; t++)
			if (types[t] == OP_INS)
				ops[no++] = (struct op){OP_INS, ia, ib++};
		k = e;
	}
	for (size_t k = 0; k < suf; k++, ia++, ib++)
		ops[no++] = (struct op){OP_EQ, ia, ib};
	rc = hunks(path, old == NULL, a, b, ops, no, context, out);
	if (out->oom)
		rc = -1;
out:
	free(a);
	free(b);
	free(types);
	free(ops);
	return rc;
}
