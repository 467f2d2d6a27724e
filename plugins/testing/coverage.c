/*
 * coverage.c -- per-file line coverage from coverage.py's JSON report and
 * from gcov's JSON documents, in one shape:
 *   {"files": {path: {"lines", "covered", "percent", "missing": [n...]}},
 *    "totals": {"lines", "covered", "percent"}}
 */
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double percent(json_int_t covered, json_int_t lines)
{
	return lines ? round(10000.0 * (double)covered / (double)lines) / 100.0
	             : 100.0;
}

static json_t *file_summary(json_int_t lines, json_int_t covered,
                            json_t *missing /* steals */)
{
	return json_pack("{s:I, s:I, s:f, s:o}", "lines", lines, "covered",
	                 covered, "percent", percent(covered, lines),
	                 "missing", missing ? missing : json_array());
}

static void add_totals(json_t *out)
{
	json_int_t lines = 0, covered = 0;
	const char *path;
	json_t *f;

	json_object_foreach(json_object_get(out, "files"), path, f) {
		lines += json_integer_value(json_object_get(f, "lines"));
		covered += json_integer_value(json_object_get(f, "covered"));
	}
	json_object_set_new(out, "totals",
	                    json_pack("{s:I, s:I, s:f}", "lines", lines,
	                              "covered", covered, "percent",
	                              percent(covered, lines)));
}

json_t *coverage_py_summary(const char *json_text)
{
	json_t *doc = json_loads(json_text ? json_text : "", 0, NULL);
	json_t *files = json_object_get(doc, "files");
	const char *path;
	json_t *f;

	if (!json_is_object(files)) {
		json_decref(doc);
		return NULL;
	}
	json_t *out = json_pack("{s:{}}", "files");
	json_t *of = json_object_get(out, "files");
	json_object_foreach(files, path, f) {
		json_t *sum = json_object_get(f, "summary");
		json_t *missing = json_object_get(f, "missing_lines");
		json_object_set_new(
			of, path,
			file_summary(json_integer_value(json_object_get(
					     sum, "num_statements")),
			             json_integer_value(json_object_get(
					     sum, "covered_lines")),
			             json_is_array(missing)
			                     ? json_deep_copy(missing)
			                     : NULL));
	}
	add_totals(out);
	json_decref(doc);
	return out;
}

/* ---- gcov ---- */

/* The path of source `file` of a gcov document relative to root, or NULL
 * when it lies outside (a system header). Written to buf. */
static const char *relative(const char *file, const char *cwd,
                            const char *root, char *buf, size_t buflen)
{
	char abs[4096];
	size_t rl = strlen(root);

	if (file[0] == '/')
		snprintf(abs, sizeof abs, "%s", file);
	else
		snprintf(abs, sizeof abs, "%s/%s", cwd ? cwd : root, file);
	if (strncmp(abs, root, rl) || abs[rl] != '/')
		return NULL;
	/* Fold "a/./b" and "a/b/../c" that relative compile paths leave. */
	char *parts[512];
	int np = 0;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", abs + rl + 1);
	for (char *save = NULL, *t = strtok_r(tmp, "/", &save); t;
	     t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..")) {
			if (!np)
				return NULL;
			np--;
			continue;
		}
		if (np < 512)
			parts[np++] = t;
	}
	if (!np)
		return NULL;
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < np && n < buflen; i++)
		n += (size_t)snprintf(buf + n, buflen - n, "%s%s", i ? "/" : "",
		                      parts[i]);
	return buf;
}

/* Add one gcov document's sources to acc: {path: {line: count}}. */
static void gcov_doc(const json_t *doc, const char *root, json_t *acc)
{
	const char *cwd = json_string_value(
		json_object_get(doc, "current_working_directory"));
	size_t i, j;
	json_t *f, *l;
	char rel[4096], key[32];

	json_array_foreach(json_object_get(doc, "files"), i, f) {
		const char *file = json_string_value(json_object_get(f, "file"));
		if (!file || !relative(file, cwd, root, rel, sizeof rel))
			continue;
		json_t *lines = json_object_get(acc, rel);
		if (!lines) {
			lines = json_object();
			json_object_set_new(acc, rel, lines);
		}
		json_array_foreach(json_object_get(f, "lines"), j, l) {
			json_int_t n = json_integer_value(
				json_object_get(l, "line_number"));
			json_int_t c = json_integer_value(
				json_object_get(l, "count"));
			if (n <= 0)
				continue;
			snprintf(key, sizeof key, "%lld", (long long)n);
			json_int_t old = json_integer_value(
				json_object_get(lines, key));
			json_object_set_new(lines, key, json_integer(old + c));
		}
	}
}

static int cmp_int(const void *a, const void *b)
{
	json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;
	return x < y ? -1 : x > y;
}

json_t *coverage_gcov_summary(const json_t *texts, const char *root)
{
	json_t *acc = json_object(), *out, *of;
	size_t i;
	json_t *t;
	const char *path;
	json_t *lines;

	json_array_foreach(texts, i, t) {
		json_t *doc = json_loads(json_string_value(t),
		                         JSON_DISABLE_EOF_CHECK, NULL);
		if (doc)
			gcov_doc(doc, root, acc);
		json_decref(doc);
	}
	out = json_pack("{s:{}}", "files");
	of = json_object_get(out, "files");
	json_object_foreach(acc, path, lines) {
		size_t n = json_object_size(lines), k = 0;
		json_int_t *miss = calloc(n ? n : 1, sizeof *miss);
		json_int_t covered = 0, nmiss = 0;
		const char *key;
		json_t *c;

		if (!miss)
			continue;
		json_object_foreach(lines, key, c) {
			if (json_integer_value(c) > 0)
				covered++;
			else
				miss[nmiss++] = strtoll(key, NULL, 10);
			k++;
		}
		qsort(miss, (size_t)nmiss, sizeof *miss, cmp_int);
		json_t *m = json_array();
		for (json_int_t x = 0; x < nmiss; x++)
			json_array_append_new(m, json_integer(miss[x]));
		free(miss);
		json_object_set_new(of, path,
		                    file_summary((json_int_t)k, covered, m));
	}
	json_decref(acc);
	add_totals(out);
	return out;
}
