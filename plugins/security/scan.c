/*
 * scan.c -- security.scan: bandit (Python), flawfinder and cppcheck's
 * security-relevant checks (C/C++) run in the sandbox, plus the built-in
 * secret detector run in process; normalized findings, a SARIF 2.1.0 log
 * and per-analyzer status.
 */
#include "security.h"

#include <agent-common.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILES 2000
#define MAX_FILE_BYTES (2u << 20)
#define MAX_TOTAL_BYTES (32u << 20)

struct scan {
	const struct mcpd_host *host;
	struct mcpd_plugin *self;
	struct mcpd_task *task;
	json_t *files;     /* path -> content (strings) */
	json_t *findings;
	json_t *analyzers; /* [{name,status,...}] */
	json_t *tools;     /* SARIF runs: tools that ran */
	json_t *limits;    /* borrowed: sandbox limits from the input */
	size_t total;
	char *code, *err;
	size_t codelen, errlen;
};

static int bad(struct scan *s, const char *fmt, const char *a)
{
	snprintf(s->code, s->codelen, "bad_input");
	snprintf(s->err, s->errlen, fmt, a);
	return MCPD_E_INVAL;
}

static int valid_rel_path(const char *p)
{
	if (!*p || p[0] == '/' || strlen(p) > 1024)
		return 0;
	const char *c = p;
	while (*c) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c += n + (e ? 1 : 0);
	}
	return 1;
}

static const char *ext(const char *p)
{
	const char *slash = strrchr(p, '/');
	const char *dot = strrchr(slash ? slash : p, '.');
	return dot ? dot + 1 : "";
}

static int is_python(const char *path, const char *content)
{
	return !strcmp(ext(path), "py") ||
	       (!strncmp(content, "#!", 2) && strstr(content, "python") &&
	        strstr(content, "python") < strchr(content, '\n'));
}

static int is_c(const char *path)
{
	static const char *const exts[] = {"c", "h", "cc", "cpp", "cxx",
	                                   "hpp", "hh", "hxx", NULL};
	const char *e = ext(path);
	for (const char *const *x = exts; *x; x++)
		if (!strcmp(e, *x))
			return 1;
	return 0;
}

/* ---------------------------------------------------------------- input */

static int skip_dir(const char *name)
{
	static const char *const dirs[] = {".git", ".hg", ".svn",
	                                   "node_modules", "__pycache__",
	                                   ".venv", ".tox", ".mypy_cache",
	                                   NULL};
	for (const char *const *d = dirs; *d; d++)
		if (!strcmp(name, *d))
			return 1;
	return 0;
}

static void add_file(struct scan *s, const char *rel, const char *full,
                     off_t size)
{
	if (json_object_size(s->files) >= MAX_FILES || size < 0 ||
	    (size_t)size > MAX_FILE_BYTES ||
	    s->total + (size_t)size > MAX_TOTAL_BYTES)
		return;
	FILE *f = fopen(full, "rb");
	if (!f)
		return;
	char *buf = malloc((size_t)size + 1);
	size_t n = buf ? fread(buf, 1, (size_t)size, f) : 0;
	fclose(f);
	if (!buf)
		return;
	buf[n] = '\0';
	/* binary files (NUL bytes, bad UTF-8) are not source */
	json_t *v = memchr(buf, '\0', n) ? NULL : json_stringn(buf, n);
	free(buf);
	if (!v)
		return;
	json_object_set_new(s->files, rel, v);
	s->total += n;
}

static void walk(struct scan *s, const char *dir, const char *rel, int depth)
{
	if (depth > 32)
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char full[PATH_MAX], r[PATH_MAX];
		snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
		snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "",
		         e->d_name);
		struct stat st;
		if (lstat(full, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode) && !skip_dir(e->d_name))
			walk(s, full, r, depth + 1);
		else if (S_ISREG(st.st_mode))
			add_file(s, r, full, st.st_size);
	}
	closedir(d);
}

/* `path` must resolve inside a directory of config "allowed_dirs". */
static int load_path(struct scan *s, const char *path)
{
	const json_t *dirs = json_object_get(s->host->config(s->self),
	                                     "allowed_dirs");
	if (!json_array_size(dirs))
		return bad(s, "path: scanning directories is off (config "
		           "\"allowed_dirs\" of the security plugin is empty); "
		           "pass \"files\" instead%s", "");
	if (path[0] != '/')
		return bad(s, "path: \"%s\" must be an absolute path", path);
	char real[PATH_MAX];
	if (!realpath(path, real))
		return bad(s, "path: \"%s\" does not exist", path);
	int inside = 0;
	size_t i;
	const json_t *v;
	json_array_foreach(dirs, i, v) {
		char rd[PATH_MAX];
		const char *d = json_string_value(v);
		if (!d || !realpath(d, rd))
			continue;
		size_t n = strlen(rd);
		if (!strncmp(real, rd, n) && (real[n] == '\0' || real[n] == '/' ||
		                              !strcmp(rd, "/")))
			inside = 1;
	}
	if (!inside)
		return bad(s, "path: \"%s\" is not inside a directory allowed by "
		           "the config (allowed_dirs)", path);
	struct stat st;
	if (stat(real, &st) != 0)
		return bad(s, "path: \"%s\" cannot be read", path);
	if (S_ISREG(st.st_mode)) {
		const char *base = strrchr(real, '/');
		add_file(s, base ? base + 1 : real, real, st.st_size);
	} else {
		walk(s, real, "", 0);
	}
	if (!json_object_size(s->files))
		return bad(s, "path: \"%s\" holds no readable text files", path);
	return 0;
}

static int load_input(struct scan *s, const json_t *input)
{
	const json_t *files = json_object_get(input, "files");
	const char *path = json_string_value(json_object_get(input, "path"));
	if (files && path)
		return bad(s, "files and path: give one of them, not both%s",
		           "");
	if (path)
		return load_path(s, path);
	if (!json_object_size(files))
		return bad(s, "files: give the files to scan (path -> content) "
		           "or a directory \"path\"%s", "");
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)files, k, v) {
		if (!valid_rel_path(k))
			return bad(s, "files: \"%s\" must be a relative path "
			           "without \".\", \"..\" or empty parts", k);
		if (!json_is_string(v))
			return bad(s, "files: the content of \"%s\" must be a "
			           "string", k);
		json_object_set(s->files, k, (json_t *)v);
	}
	return 0;
}

/* ---------------------------------------------------------------- tools */

static void analyzer(struct scan *s, const char *name, const char *status,
                     const char *reason, const char *hint)
{
	json_t *a = json_pack("{s:s, s:s}", "name", name, "status", status);
	if (reason)
		json_object_set_new(a, "reason", json_string(reason));
	if (hint)
		json_object_set_new(a, "install_hint", json_string(hint));
	json_array_append_new(s->analyzers, a);
}

static void tool_ran(struct scan *s, const char *name, const char *uri)
{
	json_array_append_new(s->tools, json_pack("{s:s, s:s}", "name", name,
	                                          "information_uri", uri));
	analyzer(s, name, "ran", NULL, NULL);
}

/* "./a.c" -> "a.c" */
static const char *rel(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	return p;
}

/* Run argv + the selected files in the sandbox; the result or NULL with
 * the analyzer marked failed. */
/* The program for tool `name`: config "tool_names": {name: program}. */
static const char *program(const struct scan *s, const char *name)
{
	const char *p = json_string_value(json_object_get(
		json_object_get(s->host->config(s->self), "tool_names"), name));
	return p && *p ? p : name;
}

static json_t *run_tool(struct scan *s, const char *name, json_t *argv,
                        int (*want)(const char *path, const char *content))
{
	json_array_set_new(argv, 0, json_string(program(s, name)));
	json_t *files = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(s->files, k, v) {
		if (!want(k, json_string_value(v)))
			continue;
		json_object_set(files, k, v);
		char arg[1100];
		snprintf(arg, sizeof arg, "./%s", k);
		json_array_append_new(argv, json_string(arg));
	}
	json_t *limits = json_pack("{s:i, s:I}", "wall_ms", 120000,
	                           "memory_bytes", (json_int_t)1 << 30);
	if (json_is_object(s->limits))
		json_object_update(limits, s->limits);
	json_t *req = json_pack("{s:o, s:o, s:o}", "argv", argv, "files", files,
	                        "limits", limits);
	json_t *res = NULL;
	char err[512];
	if (s->host->task_progress && s->task) {
		char msg[128];
		snprintf(msg, sizeof msg, "running %s", name);
		s->host->task_progress(s->task, 0, 0, msg);
	}
	int rc = agent_exec(s->host, s->self, s->task, req, &res, err,
	                    sizeof err);
	if (rc == MCPD_E_CANCELLED)
		return NULL;
	if (rc != 0) {
		analyzer(s, name, "failed", err, NULL);
		return NULL;
	}
	const char *killed = json_string_value(json_object_get(res, "killed_by"));
	if (killed) {
		char why[256];
		snprintf(why, sizeof why, "%s was stopped by the sandbox (%s "
		         "limit)", name, killed);
		analyzer(s, name, "failed", why, NULL);
		json_decref(res);
		return NULL;
	}
	return res;
}

static void failed_output(struct scan *s, const char *name, json_t *res,
                          const char *what)
{
	char why[1024];
	const char *e = json_string_value(json_object_get(res, "stderr"));
	size_t n = e ? strlen(e) : 0;
	snprintf(why, sizeof why, "%s: %s (exit %lld): %s", name, what,
	         (long long)json_integer_value(json_object_get(res,
	                                                       "exit_code")),
	         n > 400 ? e + n - 400 : e ? e : "");
	analyzer(s, name, "failed", why, NULL);
}

static int want_py(const char *p, const char *c)
{
	return is_python(p, c);
}

static int want_c(const char *p, const char *c)
{
	(void)c;
	return is_c(p);
}

static void run_bandit(struct scan *s)
{
	json_t *res = run_tool(s, "bandit",
	                       json_pack("[s,s,s,s]", "bandit", "-f", "json",
	                                 "-q"),
	                       want_py);
	if (!res)
		return;
	json_int_t code = json_integer_value(json_object_get(res, "exit_code"));
	json_t *out = json_loads(json_string_value(json_object_get(res,
	                                                           "stdout")),
	                         0, NULL);
	if (!out || (code != 0 && code != 1)) {
		failed_output(s, "bandit", res, "no JSON report");
		json_decref(out);
		json_decref(res);
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(out, "results"), i, r) {
		const char *id = json_string_value(json_object_get(r, "test_id"));
		const char *sev = json_string_value(json_object_get(r,
		                                         "issue_severity"));
		const char *conf = json_string_value(json_object_get(r,
		                                          "issue_confidence"));
		const char *text = json_string_value(json_object_get(r,
		                                          "issue_text"));
		const char *file = json_string_value(json_object_get(r,
		                                          "filename"));
		char msg[1024];
		/* bandit quotes hard-coded passwords in its text: redact */
		const char *q = text ? strstr(text, ": '") : NULL;
		if (q && id && (!strcmp(id, "B105") || !strcmp(id, "B106") ||
		                !strcmp(id, "B107")))
			snprintf(msg, sizeof msg, "%.*s (value redacted) "
			         "[confidence %s]", (int)(q - text), text,
			         conf ? conf : "?");
		else
			snprintf(msg, sizeof msg, "%s [confidence %s]",
			         text ? text : "", conf ? conf : "?");
		json_t *f = finding_new(
			"bandit", id, sev, rel(file ? file : ""),
			(int)json_integer_value(json_object_get(r, "line_number")),
			(int)json_integer_value(json_object_get(r, "col_offset")) +
				(json_object_get(r, "col_offset") ? 1 : 0),
			msg);
		const char *more = json_string_value(json_object_get(r,
		                                          "more_info"));
		if (more)
			json_object_set_new(f, "help_uri", json_string(more));
		json_array_append_new(s->findings, f);
	}
	size_t nerr = json_array_size(json_object_get(out, "errors"));
	tool_ran(s, "bandit", "https://bandit.readthedocs.io/");
	if (nerr) {
		json_t *a = json_array_get(s->analyzers,
		                           json_array_size(s->analyzers) - 1);
		json_object_set(a, "errors", json_object_get(out, "errors"));
	}
	json_decref(out);
	json_decref(res);
}

static void run_flawfinder(struct scan *s)
{
	json_t *res = run_tool(s, "flawfinder",
	                       json_pack("[s,s,s]", "flawfinder", "--sarif",
	                                 "--quiet"),
	                       want_c);
	if (!res)
		return;
	json_t *out = json_loads(json_string_value(json_object_get(res,
	                                                           "stdout")),
	                         0, NULL);
	json_t *run = json_array_get(json_object_get(out, "runs"), 0);
	if (!run) {
		failed_output(s, "flawfinder", res, "no SARIF report");
		json_decref(out);
		json_decref(res);
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(run, "results"), i, r) {
		json_t *loc = json_object_get(json_array_get(
			json_object_get(r, "locations"), 0), "physicalLocation");
		json_t *region = json_object_get(loc, "region");
		const char *uri = json_string_value(json_object_get(
			json_object_get(loc, "artifactLocation"), "uri"));
		const char *text = json_string_value(json_object_get(
			json_object_get(r, "message"), "text"));
		/* "buffer/strcpy:Does not check..." */
		char msg[1024];
		const char *colon = text ? strchr(text, ':') : NULL;
		if (colon)
			snprintf(msg, sizeof msg, "%.*s: %s", (int)(colon - text),
			         text, colon + 1);
		else
			snprintf(msg, sizeof msg, "%s", text ? text : "");
		json_array_append_new(
			s->findings,
			finding_new("flawfinder",
			            json_string_value(json_object_get(r, "ruleId")),
			            json_string_value(json_object_get(r, "level")),
			            rel(uri ? uri : ""),
			            (int)json_integer_value(json_object_get(
				            region, "startLine")),
			            (int)json_integer_value(json_object_get(
				            region, "startColumn")),
			            msg));
	}
	tool_ran(s, "flawfinder", "https://dwheeler.com/flawfinder/");
	json_decref(out);
	json_decref(res);
}

/*
 * cppcheck checks whose weakness is a security one (memory safety,
 * undefined behaviour an attacker can steer, resource misuse), by CWE.
 */
static int security_cwe(int cwe)
{
	static const int cwes[] = {
		119, 120, 121, 122, 125, 126, 127, 129, 131, 134, 170, 190,
		191, 369, 401, 404, 415, 416, 457, 467, 476, 562, 590, 628,
		665, 672, 681, 682, 685, 686, 687, 758, 762, 768, 771, 772,
		775, 786, 787, 788, 805, 806, 823, 824, 825, 908, 909, 0};
	for (const int *c = cwes; *c; c++)
		if (*c == cwe)
			return 1;
	return 0;
}

static void run_cppcheck(struct scan *s)
{
	json_t *res = run_tool(
		s, "cppcheck",
		json_pack("[s,s,s,s,s]", "cppcheck", "--enable=warning,portability",
		          "--quiet", "--error-exitcode=0",
		          "--template={file}\t{line}\t{column}\t{severity}\t{id}"
		          "\t{cwe}\t{message}"),
		want_c);
	if (!res)
		return;
	if (json_integer_value(json_object_get(res, "exit_code")) != 0) {
		failed_output(s, "cppcheck", res, "failed");
		json_decref(res);
		return;
	}
	const char *err = json_string_value(json_object_get(res, "stderr"));
	char *text = strdup(err ? err : "");
	char *save = NULL;
	for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		int n = 0;
		char *p = line;
		for (; n < 6; n++) {
			f[n] = p;
			char *tab = strchr(p, '\t');
			if (!tab)
				break;
			*tab = '\0';
			p = tab + 1;
		}
		if (n < 6)
			continue;
		f[6] = p;
		int cwe = atoi(f[5]);
		if (!security_cwe(cwe))
			continue;
		char msg[1024];
		snprintf(msg, sizeof msg, "%s (CWE-%d)", f[6], cwe);
		json_array_append_new(s->findings,
		                      finding_new("cppcheck", f[4], f[3],
		                                  rel(f[0]), atoi(f[1]),
		                                  atoi(f[2]), msg));
	}
	free(text);
	tool_ran(s, "cppcheck", "https://cppcheck.sourceforge.io/");
	json_decref(res);
}

/* ---------------------------------------------------------------- run */

static int selected(const json_t *tools, const char *name)
{
	if (!tools)
		return 1;
	size_t i;
	const json_t *v;
	json_array_foreach(tools, i, v)
		if (json_string_value(v) && !strcmp(json_string_value(v), name))
			return 1;
	return 0;
}

static int count_files(struct scan *s, int (*want)(const char *,
                                                   const char *))
{
	int n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(s->files, k, v)
		n += want(k, json_string_value(v)) != 0;
	return n;
}

struct tool {
	const char *name, *hint, *what;
	int (*want)(const char *, const char *);
	void (*run)(struct scan *);
};

static const struct tool tools[] = {
	{"bandit", "apt-get install python3-bandit", "Python", want_py,
	 run_bandit},
	{"flawfinder", "apt-get install flawfinder", "C/C++", want_c,
	 run_flawfinder},
	{"cppcheck", "apt-get install cppcheck", "C/C++", want_c,
	 run_cppcheck},
};

int scan_run(const struct mcpd_host *host, struct mcpd_plugin *self,
             struct mcpd_task *task, const json_t *input, json_t **result,
             char *code, size_t codelen, char *err, size_t errlen)
{
	struct scan s = {.host = host, .self = self, .task = task,
	                 .files = json_object(), .findings = json_array(),
	                 .analyzers = json_array(), .tools = json_array(),
	                 .limits = json_object_get(input, "limits"),
	                 .code = code, .err = err, .codelen = codelen,
	                 .errlen = errlen};
	*result = NULL;
	code[0] = err[0] = '\0';
	const json_t *sel = json_object_get(input, "tools");
	int rc = load_input(&s, input);
	if (rc)
		goto out;
	for (size_t t = 0; t < sizeof tools / sizeof tools[0]; t++) {
		const struct tool *tl = &tools[t];
		char why[256];
		if (host->task_cancelled && task && host->task_cancelled(task)) {
			rc = MCPD_E_CANCELLED;
			snprintf(code, codelen, "cancelled");
			snprintf(err, errlen, "the scan was cancelled");
			goto out;
		}
		if (!selected(sel, tl->name)) {
			analyzer(&s, tl->name, "skipped", "not selected in tools",
			         NULL);
		} else if (!count_files(&s, tl->want)) {
			snprintf(why, sizeof why, "no %s files in the input",
			         tl->what);
			analyzer(&s, tl->name, "skipped", why, NULL);
		} else if (!agent_have_tool(program(&s, tl->name), NULL, 0)) {
			snprintf(why, sizeof why, "%s is not installed (no "
			         "program \"%s\" in /usr/local/bin, /usr/bin, "
			         "/bin)", tl->name, program(&s, tl->name));
			analyzer(&s, tl->name, "skipped", why, tl->hint);
		} else {
			tl->run(&s);
		}
	}
	if (selected(sel, "secrets")) {
		const char *k;
		json_t *v;
		json_object_foreach(s.files, k, v)
			secrets_scan(k, json_string_value(v),
			             json_string_length(v), s.findings);
		json_array_append_new(s.tools,
		                      json_pack("{s:s}", "name", "mcpd-secrets"));
		analyzer(&s, "mcpd-secrets", "ran", NULL, NULL);
	} else {
		analyzer(&s, "mcpd-secrets", "skipped", "not selected in tools",
		         NULL);
	}
	findings_sort(s.findings);
	json_int_t sev[3] = {0};
	size_t i;
	json_t *f;
	json_array_foreach(s.findings, i, f) {
		const char *v = json_string_value(json_object_get(f, "severity"));
		sev[!strcmp(v, "error") ? 0 : !strcmp(v, "warning") ? 1 : 2]++;
	}
	json_t *sarif = sarif_log(s.findings, s.tools);
	*result = json_pack("{s:O, s:o, s:O, s:{s:I, s:I, s:I, s:I, s:I}}",
	                    "findings", s.findings, "sarif", sarif,
	                    "analyzers", s.analyzers, "summary", "files",
	                    (json_int_t)json_object_size(s.files), "findings",
	                    (json_int_t)json_array_size(s.findings), "error",
	                    sev[0], "warning", sev[1], "note", sev[2]);
	if (!*result) {
		rc = MCPD_E_NOMEM;
		snprintf(err, errlen, "out of memory building the result");
	}
out:
	json_decref(s.files);
	json_decref(s.findings);
	json_decref(s.analyzers);
	json_decref(s.tools);
	return rc;
}
