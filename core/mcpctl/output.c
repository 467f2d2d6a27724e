/*
 * Human output: aligned tables and a task as "key: value" lines. Machine
 * output is the server's own JSON (print_json); nothing here is meant to be
 * parsed.
 */
#include "mcpctl-internal.h"

#include <stdlib.h>
#include <string.h>

#define COL_GAP 2
#define INLINE_JSON_MAX 72  /* wider input is pretty-printed instead */

struct table {
	int ncols;
	size_t nrows, cap;  /* rows include the header */
	char **cells;       /* nrows * ncols */
};

size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Cells are one line each, or the columns would not line up. */
static char *cell_copy(const char *s)
{
	char *c = xstrdup(s ? s : "-");

	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

struct table *table_new(int ncols, const char *const *headers)
{
	struct table *t = xmalloc(sizeof *t);

	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	table_add(t, headers);
	return t;
}

void table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = xrealloc(t->cells, t->cap * (size_t)t->ncols *
		                    sizeof *t->cells);
	}
	for (int i = 0; i < t->ncols; i++)
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] =
			cell_copy(cells[i]);
	t->nrows++;
}

size_t table_rows(const struct table *t)
{
	return t->nrows - 1;
}

void table_print(const struct table *t, FILE *f)
{
	size_t *w = xmalloc((size_t)t->ncols * sizeof *w);

	memset(w, 0, (size_t)t->ncols * sizeof *w);
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			size_t n = text_width(t->cells[r * (size_t)t->ncols + (size_t)i]);

			if (n > w[i])
				w[i] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)i];

			fputs(s, f);
			if (i == t->ncols - 1)
				break;
			fprintf(f, "%*s", (int)(w[i] - text_width(s) + COL_GAP), "");
		}
		fputc('\n', f);
	}
	free(w);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void print_json(FILE *f, const json_t *v)
{
	json_dumpf(v, f, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', f);
}

const char *jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

char *jtext(const json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (!v)
		return xstrdup("-");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

char *error_text(const json_t *err)
{
	const char *code = jstr(err, "code"), *msg = jstr(err, "message");

	if (code && msg)
		return xasprintf("%s: %s", code, msg);
	if (code || msg)
		return xstrdup(code ? code : msg);
	return NULL;
}

/* ---- a task as key: value lines ---- */

struct kv {
	const char *key;
	char *value;  /* may hold newlines: continuation lines get indented */
};

struct kvlist {
	struct kv items[32];
	int n;
};

static void kv_add(struct kvlist *l, const char *key, char *value)
{
	if (!value)
		return;
	if (l->n == (int)(sizeof l->items / sizeof l->items[0])) {
		free(value);
		return;
	}
	l->items[l->n].key = key;
	l->items[l->n].value = value;
	l->n++;
}

static char *number_text(const json_t *v)
{
	return json_is_number(v) ? xasprintf("%.15g", json_number_value(v)) :
	       xstrdup("?");
}

/* "250/500 (50%) message", "250 message" when the total is unknown. */
static char *progress_text(const json_t *p)
{
	const json_t *done = json_object_get(p, "done");
	const json_t *total = json_object_get(p, "total");
	const char *msg = jstr(p, "message");
	struct buf b = { 0 };
	char *d, *t;

	if (!json_is_object(p) || !json_is_number(done))
		return NULL;
	d = number_text(done);
	buf_adds(&b, d);
	if (json_is_number(total) && json_number_value(total) > 0) {
		t = number_text(total);
		buf_printf(&b, "/%s (%d%%)", t,
		           (int)(100 * json_number_value(done) /
		                 json_number_value(total)));
		free(t);
	}
	if (msg && *msg)
		buf_printf(&b, "  %s", msg);
	free(d);
	return b.p;
}

/* Small JSON stays on the line; larger JSON is pretty-printed. */
static char *json_value_text(const json_t *v, int always_pretty)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!json_is_object(v) && !json_is_array(v))
		return s;
	if (!always_pretty && strlen(s) <= INLINE_JSON_MAX)
		return s;
	if (json_is_object(v) ? json_object_size(v) == 0 : json_array_size(v) == 0)
		return s;
	free(s);
	return json_dumps(v, JSON_INDENT(2));
}

static const char *const task_keys[] = {
	"id", "capability", "status", "provider", "priority", "attempts",
	"timeout_ms", "retries", "match", "idempotency_key", "progress",
	"created_at", "started_at", "finished_at", "error", "input", "result",
	NULL
};

static char *task_field(const char *key, const json_t *v)
{
	if (strcmp(key, "progress") == 0)
		return progress_text(v);
	if (strcmp(key, "error") == 0)
		return json_is_object(v) ? error_text(v) : jtext(v);
	if (strcmp(key, "input") == 0)
		return json_value_text(v, 0);
	if (strcmp(key, "result") == 0)
		return json_value_text(v, 1);
	return jtext(v);
}

static int is_known_key(const char *key)
{
	for (int i = 0; task_keys[i]; i++)
		if (strcmp(task_keys[i], key) == 0)
			return 1;
	return strcmp(key, "links") == 0;
}

static void print_kv(FILE *f, const struct kv *item, int width)
{
	const char *v = item->value;

	fprintf(f, "%s:%*s", item->key, width - (int)strlen(item->key), "");
	for (;;) {
		size_t n = strcspn(v, "\n");

		fwrite(v, 1, n, f);
		fputc('\n', f);
		if (!v[n])
			break;
		v += n + 1;
		fprintf(f, "%*s", width + 1, "");
	}
}

void print_task(FILE *f, const json_t *task)
{
	struct kvlist l = { .n = 0 };
	const char *key;
	json_t *v;
	int width = 0;

	for (int i = 0; task_keys[i]; i++) {
		v = json_object_get(task, task_keys[i]);
		if (v && !json_is_null(v))
			kv_add(&l, task_keys[i], task_field(task_keys[i], v));
	}
	/* Fields a newer daemon adds still show, after the known ones. */
	json_object_foreach((json_t *)task, key, v)
		if (!is_known_key(key) && !json_is_null(v))
			kv_add(&l, key, jtext(v));
	for (int i = 0; i < l.n; i++)
		if ((int)strlen(l.items[i].key) + 1 > width)
			width = (int)strlen(l.items[i].key) + 1;
	for (int i = 0; i < l.n; i++) {
		print_kv(f, &l.items[i], width);
		free(l.items[i].value);
	}
}
