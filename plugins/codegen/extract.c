/*
 * extract.c -- files from the fenced code blocks of a model's reply.
 *
 * A block is named, first match wins, by
 *   1. its info string: "```python calc.py", "```c path=src/calc.c",
 *      "```calc.py" (a token after the language, or path=/file=/filename=
 *      /title=, that looks like a file name);
 *   2. a comment on its first line (after a #! line):
 *      "# file: calc.py", "// file: calc.c", or "path: calc.h" in a C
 *      block comment -- the
 *      line is removed from the content;
 *   3. the prose line just before the fence: "**calc.py**", "`calc.py`:",
 *      "File: calc.py" (the first back-quoted or lone token that looks
 *      like a file name);
 *   4. else the request's default names in order: the code file, then
 *      the test file (<name>.<ext>, test_<name>.<ext>; a block tagged "h"
 *      takes <name>.h), then <name>_<n>.<ext>.
 * A later block with the same name replaces an earlier one.
 */
#include "codegen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cg_safe_path(const char *path)
{
	if (!path || !*path || path[0] == '/' || strlen(path) > 255)
		return 0;
	const char *s = path;
	for (;;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}

/* Does `s` (n bytes) look like a file name: [A-Za-z0-9_./+-] with an
 * extension in its last component, or a known extensionless name? */
static int looks_like_file(const char *s, size_t n)
{
	static const char *const bare[] = {"Makefile", "makefile",
	                                   "GNUmakefile", NULL};
	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_./+-", s[i]))
			return 0;
	const char *base = s;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/')
			base = s + i + 1;
	size_t bl = (size_t)(s + n - base);
	for (int i = 0; bare[i]; i++)
		if (bl == strlen(bare[i]) && memcmp(base, bare[i], bl) == 0)
			return 1;
	const char *dot = NULL;
	for (const char *p = base; p < s + n; p++)
		if (*p == '.')
			dot = p;
	return dot && dot > base && dot + 1 < s + n &&
	       isalpha((unsigned char)dot[1]);
}

/* Language words of info strings -> extension. */
static const char *lang_ext(const char *w, size_t n)
{
	static const struct { const char *word, *ext; } map[] = {
		{"c", "c"},       {"h", "h"},          {"python", "py"},
		{"py", "py"},     {"python3", "py"},   {"sh", "sh"},
		{"bash", "sh"},   {"shell", "sh"},     {"zsh", "sh"},
		{"make", NULL},   {"makefile", NULL},  {"cpp", "cpp"},
		{"c++", "cpp"},   {"text", NULL},      {"json", "json"},
		{NULL, NULL}};
	for (int i = 0; map[i].word; i++)
		if (strlen(map[i].word) == n && strncasecmp(w, map[i].word, n) == 0)
			return map[i].ext ? map[i].ext : "";
	return NULL;
}

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* Name from the info string (rule 1); *ext gets the language's extension
 * when the first word is a language. */
static char *name_from_info(const char *info, size_t n, const char **ext)
{
	const char *p = info, *end = info + n;
	int first = 1;
	while (p < end) {
		while (p < end && (isspace((unsigned char)*p) || *p == ','))
			p++;
		const char *w = p;
		while (p < end && !isspace((unsigned char)*p) && *p != ',')
			p++;
		size_t wl = (size_t)(p - w);
		if (!wl)
			break;
		if (first) {
			/* "```python:calc.py" or "```python" */
			const char *colon = memchr(w, ':', wl);
			const char *e = lang_ext(w, colon ? (size_t)(colon - w) : wl);
			if (e) {
				*ext = e;
				if (colon && looks_like_file(colon + 1,
				                             wl - (size_t)(colon + 1 - w)))
					return dup_n(colon + 1,
					             wl - (size_t)(colon + 1 - w));
				first = 0;
				continue;
			}
		}
		first = 0;
		const char *eq = memchr(w, '=', wl);
		if (eq) {
			const char *v = eq + 1;
			size_t vl = wl - (size_t)(v - w);
			if (vl >= 2 && (*v == '"' || *v == '\'') && v[vl - 1] == *v) {
				v++;
				vl -= 2;
			}
			if (looks_like_file(v, vl))
				return dup_n(v, vl);
		} else if (looks_like_file(w, wl)) {
			return dup_n(w, wl);
		}
	}
	return NULL;
}

/* Rule 2 on one line: "<comment leader> file: NAME [* /]". */
static char *name_from_comment(const char *line, size_t n)
{
	static const char *const leaders[] = {"//", "/*", "#", "--", ";", NULL};
	static const char *const keys[] = {"file:", "filename:", "path:", NULL};
	const char *p = line, *end = line + n;
	while (p < end && isspace((unsigned char)*p))
		p++;
	int led = 0;
	for (int i = 0; leaders[i] && !led; i++) {
		size_t l = strlen(leaders[i]);
		if ((size_t)(end - p) >= l && memcmp(p, leaders[i], l) == 0) {
			p += l;
			led = 1;
		}
	}
	if (!led)
		return NULL;
	while (p < end && isspace((unsigned char)*p))
		p++;
	for (int i = 0; keys[i]; i++) {
		size_t l = strlen(keys[i]);
		if ((size_t)(end - p) < l || strncasecmp(p, keys[i], l) != 0)
			continue;
		p += l;
		while (p < end && isspace((unsigned char)*p))
			p++;
		const char *v = p;
		while (p < end && !isspace((unsigned char)*p) &&
		       !(p + 1 < end && p[0] == '*' && p[1] == '/'))
			p++;
		size_t vl = (size_t)(p - v);
		/* nothing but a comment closer may follow */
		while (p < end && isspace((unsigned char)*p))
			p++;
		if ((size_t)(end - p) >= 2 && p[0] == '*' && p[1] == '/')
			p += 2;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end && looks_like_file(v, vl))
			return dup_n(v, vl);
		return NULL;
	}
	return NULL;
}

/* Rule 3 on the prose line before a fence. */
static char *name_from_prose(const char *line, size_t n)
{
	const char *end = line + n;
	/* a back-quoted file name anywhere on the line */
	for (const char *p = line; p < end; p++) {
		if (*p != '`')
			continue;
		const char *q = memchr(p + 1, '`', (size_t)(end - p - 1));
		if (!q)
			break;
		if (looks_like_file(p + 1, (size_t)(q - p - 1)))
			return dup_n(p + 1, (size_t)(q - p - 1));
		p = q;
	}
	/* or the line is just a name, decorated: "**calc.py**", "File: x.c" */
	const char *s = line;
	while (s < end && (isspace((unsigned char)*s) || strchr("#*_-", *s)))
		s++;
	if ((size_t)(end - s) > 5 && strncasecmp(s, "file", 4) == 0) {
		const char *t = s + 4;
		if ((size_t)(end - t) > 4 && strncasecmp(t, "name", 4) == 0)
			t += 4;
		if (t < end && *t == ':')
			s = t + 1;
	}
	while (s < end && isspace((unsigned char)*s))
		s++;
	const char *e = end;
	while (e > s && (isspace((unsigned char)e[-1]) || strchr("*_:", e[-1])))
		e--;
	return looks_like_file(s, (size_t)(e - s)) ? dup_n(s, (size_t)(e - s))
	                                           : NULL;
}

/* The next default name for an unnamed block (rule 4). */
static char *default_name(const struct cg_request *req, const char *ext,
                          const json_t *files, int *nth)
{
	char buf[512];
	const char *lext = cg_lang_ext(req->lang);
	if (ext && strcmp(ext, "h") == 0) {
		snprintf(buf, sizeof buf, "%s.h", req->name);
		if (!json_object_get(files, buf))
			return strdup(buf);
	}
	if (!ext || !*ext)
		ext = lext;
	if (req->target & CG_CODE) {
		snprintf(buf, sizeof buf, "%s.%s", req->name, ext);
		if (!json_object_get(files, buf))
			return strdup(buf);
	}
	if (req->target & CG_TESTS) {
		snprintf(buf, sizeof buf, "test_%s.%s", req->name, ext);
		if (!json_object_get(files, buf))
			return strdup(buf);
	}
	for (;;) {
		snprintf(buf, sizeof buf, "%s_%d.%s", req->name, ++*nth, ext);
		if (!json_object_get(files, buf))
			return strdup(buf);
	}
}

struct fence {
	char ch;       /* '`' or '~' */
	size_t count;  /* fence length */
	size_t indent;
};

/* Is line an opening fence? Fills f and the info string. */
static int open_fence(const char *l, size_t n, struct fence *f,
                      const char **info, size_t *infolen)
{
	size_t i = 0;
	while (i < n && l[i] == ' ')
		i++;
	if (i >= n || (l[i] != '`' && l[i] != '~'))
		return 0;
	f->indent = i;
	f->ch = l[i];
	size_t c = 0;
	while (i < n && l[i] == f->ch) {
		i++;
		c++;
	}
	if (c < 3)
		return 0;
	f->count = c;
	*info = l + i;
	*infolen = n - i;
	if (f->ch == '`' && memchr(*info, '`', *infolen))
		return 0;
	return 1;
}

static int close_fence(const char *l, size_t n, const struct fence *f)
{
	size_t i = 0, c = 0;
	while (i < n && l[i] == ' ')
		i++;
	while (i < n && l[i] == f->ch) {
		i++;
		c++;
	}
	if (c < f->count)
		return 0;
	while (i < n && isspace((unsigned char)l[i]))
		i++;
	return i == n;
}

/* Add one block's lines [body, bend) as a file. */
static void add_block(const struct cg_request *req, json_t *files,
                      json_t *warnings, const char *prev, size_t prevlen,
                      const char *info, size_t infolen, const char *body,
                      const char *bend, size_t indent, int *nth)
{
	const char *ext = NULL;
	char *name = name_from_info(info, infolen, &ext);
	const char *skip = NULL; /* the file-name comment line, removed */
	struct sbuf text = {0};

	/* rule 2: first line, or second after a #! line */
	const char *l = body;
	for (int k = 0; k < 2 && !name && l < bend; k++) {
		const char *nl = memchr(l, '\n', (size_t)(bend - l));
		size_t ll = nl ? (size_t)(nl - l) : (size_t)(bend - l);
		name = name_from_comment(l, ll);
		if (name)
			skip = l;
		if (!(ll >= 2 && l[0] == '#' && l[1] == '!') || !nl)
			break;
		l = nl + 1;
	}
	if (!name && prev)
		name = name_from_prose(prev, prevlen);
	if (name && !cg_safe_path(name)) {
		char w[600];
		snprintf(w, sizeof w, "skipped a code block named \"%s\": not a "
		         "relative path inside the project", name);
		json_array_append_new(warnings, json_string(w));
		free(name);
		return;
	}
	if (!name)
		name = default_name(req, ext, files, nth);
	for (const char *p = body; p < bend;) {
		const char *nl = memchr(p, '\n', (size_t)(bend - p));
		const char *le = nl ? nl : bend;
		if (p != skip) {
			size_t i = 0;
			while (i < indent && p + i < le && p[i] == ' ')
				i++;
			const char *e = le > p + i && le[-1] == '\r' ? le - 1 : le;
			sb_addn(&text, p + i, (size_t)(e - p - i));
			sb_add(&text, "\n");
		}
		p = nl ? nl + 1 : bend;
	}
	if (name && !text.oom)
		json_object_set_new(files, name, json_string(sb_str(&text)));
	sb_free(&text);
	free(name);
}

int extract_files(const char *reply, const struct cg_request *req,
                  json_t *files, json_t *warnings)
{
	int blocks = 0, nth = 0;
	const char *p = reply;
	const char *prev = NULL; /* last non-empty prose line */
	size_t prevlen = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		size_t ln = n && p[n - 1] == '\r' ? n - 1 : n;
		struct fence f;
		const char *info;
		size_t infolen;
		if (!open_fence(p, ln, &f, &info, &infolen)) {
			size_t i = 0;
			while (i < ln && isspace((unsigned char)p[i]))
				i++;
			if (i < ln) {
				prev = p;
				prevlen = ln;
			}
			p = nl ? nl + 1 : p + n;
			continue;
		}
		const char *body = nl ? nl + 1 : p + n, *q = body, *bend = NULL;
		while (*q) {
			const char *qn = strchr(q, '\n');
			size_t m = qn ? (size_t)(qn - q) : strlen(q);
			size_t lm = m && q[m - 1] == '\r' ? m - 1 : m;
			if (close_fence(q, lm, &f)) {
				bend = q;
				q = qn ? qn + 1 : q + m;
				break;
			}
			q = qn ? qn + 1 : q + m;
		}
		if (!bend) {
			bend = q;
			json_array_append_new(warnings, json_string(
				"the reply ends inside a code block (was it cut "
				"off by max_tokens?); kept what came"));
		}
		add_block(req, files, warnings, prev, prevlen, info, infolen,
		          body, bend, f.indent, &nth);
		blocks++;
		prev = NULL;
		p = q;
	}
	return blocks;
}
