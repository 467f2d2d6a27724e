/*
 * ops.c -- the three operations of code.refactor. Each fills in the new
 * text of the job's selected files; verify.c then checks the result.
 */
#include "refactor.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent-common.h"
#include "lex.h"

/* Keep this much of a tool's output in an error message. */
#define TOOL_OUTPUT_MAX 1500

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* A tool's stderr (or stdout when that is empty), trimmed, for errors. */
static const char *tool_output(const json_t *res)
{
	const char *e = json_string_value(json_object_get(res, "stderr"));
	if (!e || !*e)
		e = json_string_value(json_object_get(res, "stdout"));
	return e && *e ? e : "(no output)";
}

static int exit_code(const json_t *res)
{
	const json_t *c = json_object_get(res, "exit_code");
	return json_is_integer(c) ? (int)json_integer_value(c) : -1;
}

/* Take the files a formatter rewrote in place (the run's "files"). */
static int take_returned(struct job *j, const json_t *res, const char *tool,
                         int (*mine)(const struct rf_file *))
{
	const json_t *files = json_object_get(res, "files");
	for (size_t k = 0; k < j->nf; k++) {
		struct rf_file *f = &j->f[k];
		const json_t *v = json_object_get(files, f->path);
		if (!f->selected || !mine(f) || !v)
			continue;
		if (!json_is_string(v))
			return job_fail(j, "tool_failed", "%s returned \"%s\" "
			                "as binary or too large", tool, f->path);
		free(f->new);
		f->newlen = json_string_length(v);
		f->new = dup_n(json_string_value(v), f->newlen);
		if (!f->new)
			return job_fail(j, "failed", "out of memory");
	}
	return 0;
}

static json_t *selected_paths(const struct job *j,
                              int (*mine)(const struct rf_file *))
{
	json_t *a = json_array();
	for (size_t k = 0; k < j->nf; k++)
		if (j->f[k].selected && mine(&j->f[k]))
			json_array_append_new(a, json_string(j->f[k].path));
	return a;
}

/* ---------------------------------------------------------------- format */

static int is_cfamily(const struct rf_file *f)
{
	return f->lang == LANG_C || f->lang == LANG_CPP;
}

static int is_python(const struct rf_file *f)
{
	return f->lang == LANG_PYTHON;
}

static int style_ok(const char *s)
{
	static const char *const names[] = {"LLVM", "GNU", "Google",
	                                    "Chromium", "Microsoft", "Mozilla",
	                                    "WebKit", "file"};
	size_t n = strlen(s);
	if (n >= 2 && n <= 4096 && s[0] == '{' && s[n - 1] == '}')
		return 2;
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
		if (!strcasecmp(s, names[k]))
			return 1;
	return 0;
}

static int format_c(struct job *j, json_t *tools)
{
	const char *style = json_string_value(json_object_get(j->in, "style"));
	const char *cfg = json_string_value(
		json_object_get(j->host->config(j->self), "format_style"));
	json_t *argv, *paths, *res = NULL;
	size_t k;
	json_t *p;

	if (style && !style_ok(style))
		return job_fail(j, "bad_input", "style: \"%.80s\" is not a "
		                "clang-format style (LLVM, GNU, Google, "
		                "Chromium, Microsoft, Mozilla, WebKit, file, or "
		                "{key: value, ...})", style);
	if (job_need_tool(j, "clang-format", "clang-format") < 0)
		return -1;
	argv = json_pack("[s, s]", "clang-format", "-i");
	if (style) {
		json_array_append_new(argv, json_sprintf("--style=%s", style));
	} else if (cfg && style_ok(cfg) == 2) {
		json_array_append_new(argv, json_sprintf("--style=%s", cfg));
	} else {
		/* A .clang-format among the files wins, as in a checkout. */
		json_array_append_new(argv, json_string("--style=file"));
		json_array_append_new(argv,
		                      json_sprintf("--fallback-style=%s",
		                                   cfg && style_ok(cfg) ? cfg
		                                                        : "LLVM"));
	}
	paths = selected_paths(j, is_cfamily);
	json_array_foreach(paths, k, p)
		json_array_append(argv, p);
	json_t *req = json_pack("{s:o, s:o, s:b, s:o}", "argv", argv, "files",
	                        job_files(j, 1, NULL), "return_files", 1,
	                        "limits", job_limits(j));
	if (job_exec(j, "clang-format", req, &res) < 0)
		goto fail;
	if (exit_code(res) != 0) {
		const char *out = tool_output(res);
		job_fail(j, strstr(out, "style") ? "bad_input" : "tool_failed",
		         "%sclang-format failed (exit %d): %.*s",
		         strstr(out, "style") ? "style: " : "", exit_code(res),
		         TOOL_OUTPUT_MAX, out);
		goto fail;
	}
	if (take_returned(j, res, "clang-format", is_cfamily) < 0)
		goto fail;
	json_array_append_new(tools, json_pack("{s:s, s:o}", "name",
	                                       "clang-format", "files", paths));
	json_decref(res);
	return 0;
fail:
	json_decref(paths);
	json_decref(res);
	return -1;
}

static int format_python(struct job *j, json_t *tools)
{
	const json_t *ll = json_object_get(j->in, "line_length");
	json_t *argv, *paths, *res = NULL;
	size_t k;
	json_t *p;

	if (job_need_tool(j, "black", "black") < 0)
		return -1;
	argv = json_pack("[s, s]", "black", "--quiet");
	if (json_is_integer(ll)) {
		json_array_append_new(argv, json_string("--line-length"));
		json_array_append_new(argv, json_sprintf("%" JSON_INTEGER_FORMAT,
		                                         json_integer_value(ll)));
	}
	json_array_append_new(argv, json_string("--"));
	paths = selected_paths(j, is_python);
	json_array_foreach(paths, k, p)
		json_array_append(argv, p);
	/* black keeps a cache under HOME, the work dir: not in the result. */
	json_t *req = json_pack("{s:o, s:o, s:b, s:o, s:{s:s}}", "argv", argv,
	                        "files", job_files(j, 1, NULL), "return_files",
	                        1, "limits", job_limits(j), "env",
	                        "BLACK_CACHE_DIR", "/tmp/black-cache");
	if (job_exec(j, "black", req, &res) < 0)
		goto fail;
	if (exit_code(res) == 123) {
		job_fail(j, "bad_input", "files: black cannot format them: %.*s",
		         TOOL_OUTPUT_MAX, tool_output(res));
		goto fail;
	}
	if (exit_code(res) != 0) {
		job_fail(j, "tool_failed", "black failed (exit %d): %.*s",
		         exit_code(res), TOOL_OUTPUT_MAX, tool_output(res));
		goto fail;
	}
	if (take_returned(j, res, "black", is_python) < 0)
		goto fail;
	json_array_append_new(tools, json_pack("{s:s, s:o}", "name", "black",
	                                       "files", paths));
	json_decref(res);
	return 0;
fail:
	json_decref(paths);
	json_decref(res);
	return -1;
}

int op_format(struct job *j)
{
	int c = 0, py = 0;
	json_t *tools = json_array();
	for (size_t k = 0; k < j->nf; k++) {
		c += j->f[k].selected && is_cfamily(&j->f[k]);
		py += j->f[k].selected && is_python(&j->f[k]);
	}
	json_object_set_new(j->out, "tools", tools);
	job_progress(j, 0, 3, "formatting");
	if (c && format_c(j, tools) < 0)
		return -1;
	if (py && format_python(j, tools) < 0)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- rename */

struct occ {
	size_t off;
	int line, col;
};

struct scan {
	const char *old, *new;
	size_t oldlen, newlen;
	struct occ *occ;
	size_t nocc, cap;
	int clash_line, clash_col; /* first token spelled like new, or 0 */
};

static int on_ident(const char *text, const struct lex_ident *id, void *arg)
{
	struct scan *s = arg;
	if (id->len == s->newlen && !memcmp(text + id->off, s->new, s->newlen)) {
		if (!s->clash_line) {
			s->clash_line = id->line;
			s->clash_col = id->col;
		}
		return 0;
	}
	if (id->len != s->oldlen || memcmp(text + id->off, s->old, s->oldlen))
		return 0;
	if (s->nocc == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct occ *o = realloc(s->occ, cap * sizeof *o);
		if (!o)
			return 1;
		s->occ = o;
		s->cap = cap;
	}
	s->occ[s->nocc++] = (struct occ){id->off, id->line, id->col};
	return 0;
}

static char *replace_all(const char *text, size_t len, const struct scan *s,
                         size_t *outlen)
{
	size_t n = len + s->nocc * s->newlen - s->nocc * s->oldlen, at = 0;
	char *out = malloc(n + 1), *w = out;
	if (!out)
		return NULL;
	for (size_t k = 0; k < s->nocc; k++) {
		memcpy(w, text + at, s->occ[k].off - at);
		w += s->occ[k].off - at;
		memcpy(w, s->new, s->newlen);
		w += s->newlen;
		at = s->occ[k].off + s->oldlen;
	}
	memcpy(w, text + at, len - at);
	out[n] = '\0';
	*outlen = n;
	return out;
}

/* The one language family a rename works in; LANG_NONE if mixed. */
static enum lang rename_lang(const struct job *j)
{
	int c = 0, cpp = 0, py = 0;
	for (size_t k = 0; k < j->nf; k++) {
		if (!j->f[k].selected)
			continue;
		c += j->f[k].lang == LANG_C;
		cpp += j->f[k].lang == LANG_CPP;
		py += j->f[k].lang == LANG_PYTHON;
	}
	if (py && (c || cpp))
		return LANG_NONE;
	return py ? LANG_PYTHON : cpp ? LANG_CPP : LANG_C;
}

static int check_names(struct job *j, enum lang l, const char *old,
                       const char *new)
{
	enum lex_lang ll = l == LANG_PYTHON ? LEX_PYTHON
	                   : l == LANG_CPP  ? LEX_CPP
	                                    : LEX_C;
	const char *lname = l == LANG_PYTHON ? "Python"
	                    : l == LANG_CPP  ? "C++"
	                                     : "C";
	if (!old || !lex_valid_identifier(old))
		return job_fail(j, "bad_input", "old_name: give the identifier "
		                "to rename ([A-Za-z_][A-Za-z0-9_]*)");
	if (!new || !lex_valid_identifier(new))
		return job_fail(j, "bad_input", "new_name: give the new name, "
		                "an identifier ([A-Za-z_][A-Za-z0-9_]*)");
	if (!strcmp(old, new))
		return job_fail(j, "bad_input", "new_name: \"%s\" is old_name "
		                "itself", new);
	if (lex_is_keyword(ll, old))
		return job_fail(j, "bad_input", "old_name: \"%s\" is a %s "
		                "keyword", old, lname);
	if (lex_is_keyword(ll, new))
		return job_fail(j, "bad_input", "new_name: \"%s\" is a %s "
		                "keyword; refusing the rename", new, lname);
	if (l == LANG_PYTHON && lex_is_python_builtin(new))
		return job_fail(j, "bad_input", "new_name: \"%s\" is a Python "
		                "builtin the renamed code would shadow; refusing "
		                "the rename", new);
	return 0;
}

int op_rename(struct job *j)
{
	const char *old = json_string_value(json_object_get(j->in, "old_name"));
	const char *new = json_string_value(json_object_get(j->in, "new_name"));
	enum lang l = rename_lang(j);
	struct scan *scans = NULL;
	json_t *occs = NULL;
	size_t total = 0;
	int rc = -1;

	if (l == LANG_NONE)
		return job_fail(j, "bad_input", "language: the files hold both "
		                "C/C++ and Python; name the one to rename in");
	if (check_names(j, l, old, new) < 0)
		return -1;
	scans = calloc(j->nf, sizeof *scans);
	occs = json_array();
	if (!scans || !occs) {
		job_fail(j, "failed", "out of memory");
		goto out;
	}
	job_progress(j, 0, 3, "renaming");
	for (size_t k = 0; k < j->nf; k++) {
		struct rf_file *f = &j->f[k];
		struct scan *s = &scans[k];
		char err[256];
		if (!f->selected)
			continue;
		*s = (struct scan){old, new, strlen(old), strlen(new),
		                   NULL, 0, 0, 0, 0};
		int r = lex_identifiers(f->lang == LANG_PYTHON ? LEX_PYTHON
		                        : f->lang == LANG_CPP  ? LEX_CPP
		                                               : LEX_C,
		                        f->old, f->oldlen, on_ident, s, err,
		                        sizeof err);
		if (r > 0) {
			job_fail(j, "failed", "out of memory");
			goto out;
		}
		if (r < 0) {
			job_fail(j, "bad_input", "files[\"%s\"]: cannot tokenize "
			         "it: %s", f->path, err);
			goto out;
		}
		if (s->clash_line) {
			job_fail(j, "bad_input", "new_name: \"%s\" collides with "
			         "an identifier already in %s at line %d, column "
			         "%d; refusing the rename", new, f->path,
			         s->clash_line, s->clash_col);
			goto out;
		}
		total += s->nocc;
	}
	if (total == 0) {
		job_fail(j, "bad_input", "old_name: \"%s\" does not occur as an "
		         "identifier in the files (strings and comments are "
		         "left alone)", old);
		goto out;
	}
	for (size_t k = 0; k < j->nf; k++) {
		struct rf_file *f = &j->f[k];
		struct scan *s = &scans[k];
		if (!s->nocc)
			continue;
		f->new = replace_all(f->old, f->oldlen, s, &f->newlen);
		if (!f->new) {
			job_fail(j, "failed", "out of memory");
			goto out;
		}
		for (size_t o = 0; o < s->nocc; o++)
			json_array_append_new(occs,
			                      json_pack("{s:s, s:i, s:i}", "file",
			                                f->path, "line",
			                                s->occ[o].line, "column",
			                                s->occ[o].col));
	}
	json_object_set_new(j->out, "renamed", json_integer((json_int_t)total));
	json_object_set(j->out, "occurrences", occs);
	rc = 0;
out:
	for (size_t k = 0; scans && k < j->nf; k++)
		free(scans[k].occ);
	free(scans);
	json_decref(occs);
	return rc;
}

/* ---------------------------------------------------------------- rewrite */

static const char *default_name(const struct job *j, char *buf, size_t len)
{
	for (size_t k = 0; k < j->nf; k++) {
		if (!j->f[k].selected)
			continue;
		const char *b = strrchr(j->f[k].path, '/');
		b = b ? b + 1 : j->f[k].path;
		size_t n = strcspn(b, ".");
		snprintf(buf, len, "%.*s", (int)n, b);
		return buf;
	}
	return "code";
}

static int take_generated(struct job *j, const json_t *files)
{
	const char *path;
	const json_t *v;
	size_t nsel = 0, only = 0;
	for (size_t k = 0; k < j->nf; k++)
		if (j->f[k].selected) {
			nsel++;
			only = k;
		}
	if (!json_is_object(files) || json_object_size(files) == 0)
		return job_fail(j, "generator_failed", "code.generate returned "
		                "no files");
	json_object_foreach((json_t *)files, path, v) {
		struct rf_file *f = NULL;
		if (!json_is_string(v))
			return job_fail(j, "generator_failed", "code.generate "
			                "returned \"%s\" without text", path);
		for (size_t k = 0; k < j->nf && !f; k++)
			if (!strcmp(j->f[k].path, path))
				f = &j->f[k];
		/* One file in, one out under another name: the same file. */
		if (!f && nsel == 1 && json_object_size(files) == 1)
			f = &j->f[only];
		if (!f) {
			if (strlen(path) > 1024 || path[0] == '/' ||
			    strstr(path, ".."))
				return job_fail(j, "generator_failed",
				                "code.generate returned a file "
				                "with a bad path \"%.80s\"", path);
			f = job_add_file(j, path);
			if (!f)
				return job_fail(j, "failed", "out of memory");
			f->lang = lang_of_path(path, 0);
		}
		f->selected = 1;
		free(f->new);
		f->newlen = json_string_length(v);
		f->new = dup_n(json_string_value(v), f->newlen);
		if (!f->new)
			return job_fail(j, "failed", "out of memory");
	}
	return 0;
}

int op_rewrite(struct job *j)
{
	const char *instr =
		json_string_value(json_object_get(j->in, "instructions"));
	const char *name = json_string_value(json_object_get(j->in, "name"));
	const json_t *tfiles =
		json_object_get(json_object_get(j->in, "tests"), "files");
	enum lang l = LANG_NONE;
	char namebuf[128], code[64], err[2048];
	json_t *res = NULL;

	if (!instr || !*instr)
		return job_fail(j, "bad_input", "instructions: say what the "
		                "rewrite should change");
	for (size_t k = 0; k < j->nf; k++) {
		if (!j->f[k].selected)
			continue;
		if (l != LANG_NONE && j->f[k].lang != l)
			return job_fail(j, "bad_input", "language: the files hold "
			                "%s and %s; name the one to rewrite",
			                lang_name(l), lang_name(j->f[k].lang));
		l = j->f[k].lang;
	}
	if (!name || !*name)
		name = default_name(j, namebuf, sizeof namebuf);
	json_t *in = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "language",
	                       lang_name(l), "name", name, "instructions",
	                       instr, "files", job_files(j, 1, NULL), "backend",
	                       "llm", "target", "code");
	if (json_is_object(tfiles))
		json_object_set(in, "tests", (json_t *)tfiles);
	job_progress(j, 0, 3, "rewriting through code.generate");
	int rc = agent_call(j->host, j->self, j->task, "code.generate", in,
	                    &res, code, sizeof code, err, sizeof err);
	json_decref(in);
	if (rc != 0)
		return job_fail(j, !strcmp(code, "bad_input") ? "generator_failed"
		                                              : code,
		                "code.generate failed (%s): %s", code, err);
	/* The files borrow their paths from the generator's result. */
	j->keep = res;
	if (take_generated(j, json_object_get(res, "files")) < 0)
		return -1;
	json_t *gen = json_deep_copy(res);
	json_object_del(gen, "files");
	json_object_set_new(j->out, "generator", gen);
	return 0;
}
