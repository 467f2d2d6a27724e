/*
 * tools.c -- the analyzers of code.analyze: cppcheck, clang-tidy, pyflakes
 * and shellcheck run in the sandbox, their machine-readable output parsed
 * into normalized findings; metrics of Python through python3's ast module
 * (in the sandbox) and of C/C++ through cmetrics.c (in process).
 */
#include "analysis.h"
#include "agent-common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* py_metrics.py, embedded by CMake as bytes. */
static const char py_metrics_src[] = {
#include "py_metrics.inc"
	0};

#define CPPCHECK_MARK "@@mcpd\t"

static void set_failed(json_t *status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_failed(json_t *status, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	json_object_set_new(status, "status", json_string("failed"));
	json_object_set_new(status, "reason", json_string(buf));
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* The last line of a tool's stderr (its error, usually), cut short. */
static void last_line(const char *text, char *buf, size_t len)
{
	size_t n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	size_t s = n;
	while (s && text[s - 1] != '\n')
		s--;
	if (n - s >= len)
		n = s + len - 1;
	memcpy(buf, text + s, n - s);
	buf[n - s] = '\0';
}

/*
 * Did the run end by itself with an exit code in `ok_codes` (a string of
 * digit characters)? Otherwise the status says why it failed.
 */
static int run_ok(const json_t *r, const char *ok_codes, const char *tool,
                  json_t *status)
{
	const char *killed = json_string_value(json_object_get(r, "killed_by"));
	const char *sig = json_string_value(json_object_get(r, "signal"));
	json_t *code = json_object_get(r, "exit_code");
	char tail[300];
	last_line(str(r, "stderr"), tail, sizeof tail);
	if (killed) {
		set_failed(status, "%s was stopped by the sandbox's %s limit",
		           tool, killed);
		return 0;
	}
	if (sig || !json_is_integer(code)) {
		set_failed(status, "%s ended by signal %s", tool,
		           sig ? sig : "?");
		return 0;
	}
	json_int_t ec = json_integer_value(code);
	if (ec < 0 || ec > 9 || !strchr(ok_codes, (char)('0' + ec))) {
		set_failed(status, "%s exited with %d%s%s", tool, (int)ec,
		           *tail ? ": " : "", tail);
		return 0;
	}
	return 1;
}

/* argv entries "./PATH" for the files of `langs` (a path may start
 * with '-'); `exts` (NULL: any) keeps only files whose name ends so. */
static size_t add_paths(struct actx *c, json_t *argv, unsigned langs,
                        const char *const *exts)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nfiles; i++) {
		const struct afile *f = &c->files[i];
		if (!(f->lang & langs))
			continue;
		if (exts) {
			const char *dot = strrchr(f->path, '.');
			const char *const *e = exts;
			while (*e && (!dot || strcmp(dot, *e)))
				e++;
			if (!*e)
				continue;
		}
		char buf[4200];
		snprintf(buf, sizeof buf, "./%s", f->path);
		json_array_append_new(argv, json_string(buf));
		n++;
	}
	return n;
}

/* -I options for the directories holding the C/C++ files, so that
 * includes between the user's files resolve wherever they live. */
static void add_include_dirs(struct actx *c, json_t *argv)
{
	json_t *seen = json_object();
	json_array_append_new(argv, json_string("-I."));
	json_object_set_new(seen, ".", json_true());
	for (size_t i = 0; i < c->nfiles && json_object_size(seen) < 64; i++) {
		const struct afile *f = &c->files[i];
		const char *slash = strrchr(f->path, '/');
		if (!(f->lang & (LANG_C | LANG_CPP)) || !slash)
			continue;
		char dir[4200];
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - f->path),
		         f->path);
		if (json_object_get(seen, dir))
			continue;
		json_object_set_new(seen, dir, json_true());
		char opt[4300];
		snprintf(opt, sizeof opt, "-I./%s", dir);
		json_array_append_new(argv, json_string(opt));
	}
	json_decref(seen);
}

/* Parse "PATH:LINE:COL" ending at s[n] (PATH may hold ':'). The path is
 * copied to path; col is 0 when absent. 0, or -1 if it is no location. */
static int parse_location(const char *s, size_t n, char *path, size_t len,
                          int *line, int *col)
{
	int nums[2] = {0, 0}, k = 0;
	size_t end = n;
	while (k < 2) {
		size_t d = end;
		while (d > 0 && s[d - 1] >= '0' && s[d - 1] <= '9')
			d--;
		if (d == end || d == 0 || s[d - 1] != ':')
			break;
		nums[k++] = atoi(s + d);
		end = d - 1;
	}
	if (k == 0 || end == 0 || end >= len)
		return -1;
	*line = k == 2 ? nums[1] : nums[0];
	*col = k == 2 ? nums[0] : 0;
	memcpy(path, s, end);
	path[end] = '\0';
	return 0;
}

/* Call fn for each line of `text` (a line longer than 8 KiB is cut). */
typedef void (*line_fn)(struct actx *c, const struct analyzer *a,
                        char *line, int flag);

static void each_line(struct actx *c, const struct analyzer *a,
                      const char *text, line_fn fn, int flag)
{
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);
		char line[8192];
		snprintf(line, sizeof line, "%.*s", (int)n, text);
		text += n + (nl ? 1 : 0);
		fn(c, a, line, flag);
	}
}

/* ---- cppcheck ---- */

/* One finding as our --template prints it: MARK file line column
 * severity id message, tab-separated. */
static void cppcheck_line(struct actx *c, const struct analyzer *a,
                          char *line, int flag)
{
	(void)flag;
	if (strncmp(line, CPPCHECK_MARK, strlen(CPPCHECK_MARK)))
		return;
	char *f[6] = {0};
	char *s = line + strlen(CPPCHECK_MARK);
	for (int i = 0; i < 5 && s; i++) {
		f[i] = s;
		s = strchr(s, '\t');
		if (s)
			*s++ = '\0';
	}
	f[5] = s;
	if (!f[5])
		return;
	analysis_add_finding(c, finding_new(a->name, f[4], f[3],
	                                    analysis_user_path(f[0]),
	                                    atoi(f[1]), atoi(f[2]), f[5]));
}

static int run_cppcheck(struct actx *c, const struct analyzer *a,
                        const char *tool, json_t *status, char *err,
                        size_t errlen)
{
	const char *enable = json_string_value(
		json_object_get(c->config, "cppcheck_enable"));
	char opt[512];
	snprintf(opt, sizeof opt, "--enable=%s",
	         enable ? enable : "warning,style,performance,portability");
	json_t *argv = json_pack(
		"[s, s, s, s, s]", tool, "--quiet", "--inline-suppr", opt,
		"--template=" CPPCHECK_MARK
		"{file}\t{line}\t{column}\t{severity}\t{id}\t{message}");
	add_include_dirs(c, argv);
	add_paths(c, argv, a->langs, NULL);
	json_t *r;
	int rc = analysis_exec(c, argv, a->langs, &r, err, errlen);
	if (rc)
		return rc;
	if (run_ok(r, "0", a->name, status)) {
		/* The template's lines go to stderr. */
		each_line(c, a, str(r, "stderr"), cppcheck_line, 0);
	}
	json_decref(r);
	return 0;
}

/* ---- clang-tidy ---- */

/* One diagnostic line: "PATH:LINE:COL: warning: MESSAGE [check]". */
static void clang_tidy_line(struct actx *c, const struct analyzer *a,
                            char *line, int flag)
{
	(void)flag;
	static const char *const levels[] = {": warning: ", ": error: "};
	for (size_t k = 0; k < 2; k++) {
		const char *m = strstr(line, levels[k]);
		if (!m)
			continue;
		char path[4200];
		int ln, col;
		if (parse_location(line, (size_t)(m - line), path, sizeof path,
		                   &ln, &col))
			return;
		const char *msg = m + strlen(levels[k]);
		char rule[256] = "clang-diagnostic";
		size_t n = strlen(msg);
		const char *open = n && msg[n - 1] == ']' ? strrchr(msg, '[')
		                                          : NULL;
		if (open && open > msg && open[-1] == ' ') {
			snprintf(rule, sizeof rule, "%.*s",
			         (int)(msg + n - 1 - open - 1), open + 1);
			n = (size_t)(open - 1 - msg);
		}
		char text[4096];
		snprintf(text, sizeof text, "%.*s", (int)n, msg);
		analysis_add_finding(c, finding_new(a->name, rule,
		                                    k ? "error" : "warning",
		                                    analysis_user_path(path), ln, col,
		                                    text));
		return;
	}
}

static int run_clang_tidy(struct actx *c, const struct analyzer *a,
                          const char *tool, json_t *status, char *err,
                          size_t errlen)
{
	static const char *const sources[] = {".c", ".cc", ".cpp", ".cxx",
	                                      ".c++", ".C", NULL};
	json_t *argv = json_pack("[s, s, s]", tool, "--quiet",
	                         "--header-filter=.*");
	const char *checks =
		json_string_value(json_object_get(c->config, "clang_tidy_checks"));
	if (checks) {
		char opt[1024];
		snprintf(opt, sizeof opt, "--checks=%s", checks);
		json_array_append_new(argv, json_string(opt));
	}
	if (add_paths(c, argv, a->langs, sources) == 0) {
		json_decref(argv);
		json_object_set_new(status, "status", json_string("skipped"));
		json_object_set_new(
			status, "reason",
			json_string("no C/C++ source files (clang-tidy reads "
			            "headers through the sources that include "
			            "them)"));
		return 0;
	}
	json_array_append_new(argv, json_string("--"));
	add_include_dirs(c, argv);
	json_t *r;
	int rc = analysis_exec(c, argv, a->langs, &r, err, errlen);
	if (rc)
		return rc;
	/* Exit 1 after compiler errors, which are findings too. */
	if (run_ok(r, "01", a->name, status)) {
		size_t before = json_array_size(c->findings);
		each_line(c, a, str(r, "stdout"), clang_tidy_line, 0);
		if (json_array_size(c->findings) == before &&
		    json_integer_value(json_object_get(r, "exit_code")) == 1)
			run_ok(r, "0", a->name, status);
	}
	json_decref(r);
	return 0;
}

/* ---- pyflakes ---- */

/* pyflakes prints text; its message classes, told apart by their fixed
 * wording, name the rules. Both needles (b may be NULL) must occur. */
static const struct {
	const char *rule, *severity, *a, *b;
} pyflakes_rules[] = {
	{"UnusedImport", "warning", " imported but unused", NULL},
	{"RedefinedWhileUnused", "warning", "redefinition of unused ", NULL},
	{"ImportShadowedByLoopVar", "warning", " shadowed by loop variable",
	 NULL},
	{"ImportStarNotPermitted", "error", " only allowed at module level",
	 NULL},
	{"ImportStarUsed", "warning", " used; unable to detect undefined",
	 NULL},
	{"ImportStarUsage", "warning", " may be undefined, or defined from "
	                               "star imports", NULL},
	{"UndefinedExport", "error", "undefined name ", " in __all__"},
	{"UndefinedName", "error", "undefined name ", NULL},
	{"UndefinedLocal", "error", " referenced before assignment", NULL},
	{"DuplicateArgument", "error", "duplicate argument ", NULL},
	{"MultiValueRepeatedKeyVariable", "warning", "dictionary key variable ",
	 NULL},
	{"MultiValueRepeatedKeyLiteral", "warning", "dictionary key ",
	 " repeated with different values"},
	{"LateFutureImport", "error", "from __future__ imports must occur",
	 NULL},
	{"FutureFeatureNotDefined", "error", "future feature ", NULL},
	{"UnusedVariable", "warning", " is assigned to but never used", NULL},
	{"ReturnOutsideFunction", "error", "'return' outside function", NULL},
	{"YieldOutsideFunction", "error", "'yield' outside function", NULL},
	{"ContinueOutsideLoop", "error", "'continue' not properly in loop",
	 NULL},
	{"BreakOutsideLoop", "error", "'break' outside loop", NULL},
	{"ContinueInFinally", "error", "'continue' not supported inside",
	 NULL},
	{"DefaultExceptNotLast", "error", "default 'except:' must be last",
	 NULL},
	{"TwoStarredExpressions", "error", "two starred expressions", NULL},
	{"TooManyExpressionsInStarredAssignment", "error",
	 "too many expressions in star-unpacking", NULL},
	{"IfTuple", "warning", "'if tuple literal' is always true", NULL},
	{"AssertTuple", "warning", "assertion is always true", NULL},
	{"ForwardAnnotationSyntaxError", "error",
	 "syntax error in forward annotation", NULL},
	{"CommentAnnotationSyntaxError", "error", "syntax error in type comment",
	 NULL},
	{"DoctestSyntaxError", "error", "syntax error in doctest", NULL},
	{"RaiseNotImplemented", "warning", "'raise NotImplemented'", NULL},
	{"InvalidPrintSyntax", "error", "use of >> is invalid with print",
	 NULL},
	{"IsLiteral", "warning", "use ==/!= to compare constant literals",
	 NULL},
	{"FStringMissingPlaceholders", "warning",
	 "f-string is missing placeholders", NULL},
	{"StringDotFormatExtraPositionalArguments", "warning",
	 "'...'.format(...) has unused arguments", NULL},
	{"StringDotFormatExtraNamedArguments", "warning",
	 "'...'.format(...) has unused named", NULL},
	{"StringDotFormatMissingArgument", "warning",
	 "'...'.format(...) is missing argument", NULL},
	{"StringDotFormatMixingAutomatic", "warning",
	 "'...'.format(...) mixes automatic", NULL},
	{"StringDotFormatInvalidFormat", "warning",
	 "'...'.format(...) has invalid format", NULL},
	{"PercentFormatInvalidFormat", "warning", "'...' % ... has invalid",
	 NULL},
	{"PercentFormatMixedPositionalAndNamed", "warning",
	 "'...' % ... has mixed positional", NULL},
	{"PercentFormatUnsupportedFormatCharacter", "warning",
	 "'...' % ... has unsupported format", NULL},
	{"PercentFormatPositionalCountMismatch", "warning", "'...' % ... has ",
	 " placeholder(s) but "},
	{"PercentFormatExtraNamedArguments", "warning",
	 "'...' % ... has unused named", NULL},
	{"PercentFormatMissingArgument", "warning",
	 "'...' % ... is missing argument", NULL},
	{"PercentFormatExpectedMapping", "warning",
	 "'...' % ... expected mapping", NULL},
	{"PercentFormatExpectedSequence", "warning",
	 "'...' % ... expected sequence", NULL},
	{"PercentFormatStarRequiresSequence", "warning",
	 "'...' % ... `*` specifier", NULL},
};

/* The file of `c` that `line` ("./PATH:...") is about, or NULL. */
static const struct afile *line_file(struct actx *c, const char *line,
                                     unsigned langs, const char **rest)
{
	if (strncmp(line, "./", 2))
		return NULL;
	for (size_t i = 0; i < c->nfiles; i++) {
		const struct afile *f = &c->files[i];
		size_t n = strlen(f->path);
		if ((f->lang & langs) && !strncmp(line + 2, f->path, n) &&
		    line[2 + n] == ':') {
			*rest = line + 3 + n;
			return f;
		}
	}
	return NULL;
}

/* "LINE:COL: MESSAGE" or "LINE: MESSAGE" after a pyflakes path. */
static void pyflakes_line(struct actx *c, const struct analyzer *a,
                          char *line, int syntax)
{
	const char *rest;
	const struct afile *f = line_file(c, line, a->langs, &rest);
	if (!f)
		return;
	char *end;
	long ln = strtol(rest, &end, 10), col = 0;
	if (end == rest || *end != ':')
		return;
	rest = end + 1;
	if (*rest >= '0' && *rest <= '9') {
		col = strtol(rest, &end, 10);
		if (*end != ':')
			return;
		rest = end + 1;
	}
	while (*rest == ' ')
		rest++;
	const char *rule = "PyflakesMessage", *sev = "warning";
	if (syntax) {
		rule = strstr(rest, "decoding") ? "DecodingError" : "SyntaxError";
		sev = "error";
	} else {
		for (size_t i = 0; i < sizeof pyflakes_rules /
		                            sizeof pyflakes_rules[0]; i++) {
			if (strstr(rest, pyflakes_rules[i].a) &&
			    (!pyflakes_rules[i].b ||
			     strstr(rest, pyflakes_rules[i].b))) {
				rule = pyflakes_rules[i].rule;
				sev = pyflakes_rules[i].severity;
				break;
			}
		}
	}
	analysis_add_finding(c, finding_new(a->name, rule, sev, f->path,
	                                    (int)ln, (int)col, rest));
}

static int run_pyflakes(struct actx *c, const struct analyzer *a,
                        const char *tool, json_t *status, char *err,
                        size_t errlen)
{
	json_t *argv = json_pack("[s]", tool);
	add_paths(c, argv, a->langs, NULL);
	json_t *r;
	int rc = analysis_exec(c, argv, a->langs, &r, err, errlen);
	if (rc)
		return rc;
	if (run_ok(r, "01", a->name, status)) {
		/* Messages on stdout; syntax errors on stderr, each
		 * followed by the source line and a caret line. */
		each_line(c, a, str(r, "stdout"), pyflakes_line, 0);
		each_line(c, a, str(r, "stderr"), pyflakes_line, 1);
	}
	json_decref(r);
	return 0;
}

/* ---- shellcheck ---- */

static int run_shellcheck(struct actx *c, const struct analyzer *a,
                          const char *tool, json_t *status, char *err,
                          size_t errlen)
{
	json_t *argv = json_pack("[s, s, s, s]", tool, "--norc", "-f", "json1");
	add_paths(c, argv, a->langs, NULL);
	json_t *r;
	int rc = analysis_exec(c, argv, a->langs, &r, err, errlen);
	if (rc)
		return rc;
	/* 0 clean, 1 findings, 2 some files could not be read. */
	if (run_ok(r, "012", a->name, status)) {
		json_error_t jerr;
		json_t *out = json_loads(str(r, "stdout"), 0, &jerr);
		json_t *comments = json_object_get(out, "comments");
		if (!json_is_array(comments)) {
			set_failed(status, "shellcheck printed no JSON report "
			                   "(%s)", jerr.text);
		} else {
			size_t i;
			json_t *m;
			json_array_foreach(comments, i, m) {
				char rule[32];
				snprintf(rule, sizeof rule, "SC%d",
				         (int)json_integer_value(
					         json_object_get(m, "code")));
				analysis_add_finding(
					c,
					finding_new(a->name, rule,
					            str(m, "level"),
					            analysis_user_path(str(m, "file")),
					            (int)json_integer_value(
						            json_object_get(m,
						                            "line")),
					            (int)json_integer_value(
						            json_object_get(m,
						                            "column")),
					            str(m, "message")));
			}
		}
		json_decref(out);
	}
	json_decref(r);
	return 0;
}

/* ---- metrics ---- */

/* Findings for functions above the configured complexity. */
static void complexity_findings(struct actx *c, const char *tool,
                                const char *path, const json_t *m)
{
	if (c->max_complexity <= 0)
		return;
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(m, "functions"), i, f) {
		json_int_t cc = json_integer_value(json_object_get(f, "complexity"));
		if (cc <= c->max_complexity)
			continue;
		char msg[700];
		snprintf(msg, sizeof msg,
		         "function %s has a cyclomatic complexity of %d "
		         "(more than %d)", str(f, "name"), (int)cc,
		         c->max_complexity);
		analysis_add_finding(
			c, finding_new(tool, "complexity", "warning", path,
			               (int)json_integer_value(
				               json_object_get(f, "line")),
			               0, msg));
	}
}

static int run_c_metrics(struct actx *c, const struct analyzer *a,
                         const char *tool, json_t *status, char *err,
                         size_t errlen)
{
	(void)tool;
	(void)err;
	(void)errlen;
	for (size_t i = 0; i < c->nfiles; i++) {
		const struct afile *f = &c->files[i];
		if (!(f->lang & a->langs))
			continue;
		json_t *m = cmetrics_compute(f->text, f->len,
		                             f->lang == LANG_CPP);
		if (!m) {
			set_failed(status, "out of memory");
			return 0;
		}
		complexity_findings(c, a->name, f->path, m);
		json_object_set_new(c->metrics, f->path, m);
	}
	return 0;
}

static int run_python_metrics(struct actx *c, const struct analyzer *a,
                              const char *tool, json_t *status, char *err,
                              size_t errlen)
{
	/* -I: the user's files (an ast.py, say) must not shadow the
	 * standard library the script imports. */
	json_t *argv = json_pack("[s, s, s, s]", tool, "-I", "-c",
	                         py_metrics_src);
	add_paths(c, argv, a->langs, NULL);
	json_t *r;
	int rc = analysis_exec(c, argv, a->langs, &r, err, errlen);
	if (rc)
		return rc;
	if (run_ok(r, "0", a->name, status)) {
		json_error_t jerr;
		json_t *out = json_loads(str(r, "stdout"), 0, &jerr);
		json_t *files = json_object_get(out, "files");
		if (!json_is_object(files)) {
			set_failed(status, "the metrics script printed no JSON "
			                   "(%s)", jerr.text);
		} else {
			const char *key;
			json_t *m;
			json_object_foreach(files, key, m) {
				const char *path = analysis_user_path(key);
				complexity_findings(c, a->name, path, m);
				json_object_set(c->metrics, path, m);
			}
		}
		json_decref(out);
	}
	json_decref(r);
	return 0;
}

static const struct analyzer all[] = {
	{"cppcheck", "cppcheck", "cppcheck", "https://cppcheck.sourceforge.io/",
	 LANG_C | LANG_CPP, 1, run_cppcheck},
	{"clang-tidy", "clang-tidy", "clang-tidy",
	 "https://clang.llvm.org/extra/clang-tidy/", LANG_C | LANG_CPP, 1,
	 run_clang_tidy},
	{"c-metrics", NULL, NULL, NULL, LANG_C | LANG_CPP, 0, run_c_metrics},
	{"pyflakes", "pyflakes3", "pyflakes3",
	 "https://github.com/PyCQA/pyflakes", LANG_PYTHON, 1, run_pyflakes},
	{"python-metrics", "python3", "python3", NULL, LANG_PYTHON, 0,
	 run_python_metrics},
	{"shellcheck", "shellcheck", "shellcheck", "https://www.shellcheck.net/",
	 LANG_SHELL, 1, run_shellcheck},
};

const struct analyzer *analyzers_all(size_t *n)
{
	*n = sizeof all / sizeof all[0];
	return all;
}
