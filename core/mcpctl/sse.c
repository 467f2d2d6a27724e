/*
 * Server-Sent Events, as the HTML living standard parses them: lines end in
 * CRLF, LF or CR; "field: value" lines accumulate an event; a blank line
 * dispatches it; lines starting with ':' are comments (keep-alives). Bytes
 * arrive in whatever pieces the network gives, so the parser keeps the
 * partial line between calls.
 */
#include "mcpctl-internal.h"

#include <string.h>

#define SSE_LINE_MAX (4u << 20)

static void reset_event(struct sse *p)
{
	buf_reset(&p->type);
	buf_reset(&p->data);
	p->has_data = 0;
}

static int dispatch(struct sse *p, sse_fn fn, void *ud)
{
	struct sse_event ev;
	int rc;

	if (!p->has_data) {
		reset_event(p);
		return 0;
	}
	/* The data lines were joined with a '\n' after each; drop the last. */
	if (p->data.len)
		p->data.p[--p->data.len] = '\0';
	ev.type = p->type.len ? buf_str(&p->type) : "message";
	ev.data = buf_str(&p->data);
	ev.id = buf_str(&p->id);
	rc = fn(&ev, ud);
	reset_event(p);
	return rc;
}

static void field(struct sse *p, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n);
	size_t nlen = colon ? (size_t)(colon - line) : n;
	const char *v = colon ? colon + 1 : line + n;
	size_t vlen = (size_t)(line + n - v);

	if (vlen && *v == ' ') {
		v++;
		vlen--;
	}
	if (nlen == 4 && memcmp(line, "data", 4) == 0) {
		buf_add(&p->data, v, vlen);
		buf_add(&p->data, "\n", 1);
		p->has_data = 1;
	} else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
		buf_reset(&p->type);
		buf_add(&p->type, v, vlen);
	} else if (nlen == 2 && memcmp(line, "id", 2) == 0 &&
	           !memchr(v, '\0', vlen)) {
		buf_reset(&p->id);
		buf_add(&p->id, v, vlen);
	}
	/* "retry" and unknown fields: nothing to do for a one-shot client. */
}

static int end_line(struct sse *p, sse_fn fn, void *ud)
{
	const char *line = buf_str(&p->line);
	size_t n = p->line.len;
	int rc = 0;

	if (n == 0)
		rc = dispatch(p, fn, ud);
	else if (line[0] != ':')
		field(p, line, n);
	buf_reset(&p->line);
	return rc;
}

int sse_feed(struct sse *p, const char *s, size_t n, sse_fn fn, void *ud)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		int rc;

		/* The LF of a CRLF split across two reads. */
		if (p->after_cr && s[i] == '\n') {
			p->after_cr = 0;
			i++;
			continue;
		}
		p->after_cr = 0;
		while (j < n && s[j] != '\r' && s[j] != '\n')
			j++;
		if (p->line.len + (j - i) > SSE_LINE_MAX)
			return -1;
		buf_add(&p->line, s + i, j - i);
		if (j == n)
			return 0;
		p->after_cr = s[j] == '\r';
		i = j + 1;
		rc = end_line(p, fn, ud);
		if (rc)
			return rc;
	}
	return 0;
}

void sse_free(struct sse *p)
{
	buf_free(&p->line);
	buf_free(&p->type);
	buf_free(&p->data);
	buf_free(&p->id);
}
