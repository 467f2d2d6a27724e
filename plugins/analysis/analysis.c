/*
 * analysis: the code.analyze capability. Static analysis of C/C++
 * (cppcheck, clang-tidy), Python (pyflakes) and shell (shellcheck), every
 * tool run in the sandbox; metrics of C/C++ (built in) and Python
 * (python3's ast, in the sandbox). Output: normalized findings, a SARIF
 * 2.1.0 log, metrics and the status of each analyzer -- a missing tool is
 * a skipped analyzer with an install hint, not a failed task.
 *
 * Also offered in process to other plugins (agent.h) as "code.analyze".
 */
#include "analysis.h"
#include "agent-common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAPABILITY "code.analyze"
#define MAX_PATH_BYTES 1024
#define MAX_DIR_DEPTH 32

static const struct mcpd_host *host;
static struct mcpd_plugin *plugin;

/* Size limits on what one task reads; config can change them. */
static const json_int_t def_max_files = 2000;
static const json_int_t def_max_file_bytes = 1 << 20;
static const json_int_t def_max_total_bytes = 16 << 20;

/* ---- languages ---- */

static const struct {
	const char *name;
	unsigned lang;
} lang_names[] = {
	{"c", LANG_C}, {"cpp", LANG_CPP}, {"python", LANG_PYTHON},
	{"shell", LANG_SHELL},
};

const char *lang_name(unsigned lang)
{
	for (size_t i = 0; i < sizeof lang_names / sizeof lang_names[0]; i++)
		if (lang_names[i].lang == lang)
			return lang_names[i].name;
	return NULL;
}

unsigned lang_by_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof lang_names / sizeof lang_names[0];
	     i++)
		if (!strcmp(lang_names[i].name, name))
			return lang_names[i].lang;
	return LANG_NONE;
}

/* Language by file name extension. */
static unsigned lang_by_ext(const char *path)
{
	static const struct {
		const char *ext;
		unsigned lang;
	} exts[] = {
		{".c", LANG_C},       {".h", LANG_C},      {".cc", LANG_CPP},
		{".cpp", LANG_CPP},   {".cxx", LANG_CPP},  {".c++", LANG_CPP},
		{".C", LANG_CPP},     {".hh", LANG_CPP},   {".hpp", LANG_CPP},
		{".hxx", LANG_CPP},   {".h++", LANG_CPP},  {".py", LANG_PYTHON},
		{".pyi", LANG_PYTHON}, {".sh", LANG_SHELL}, {".bash", LANG_SHELL},
		{".ksh", LANG_SHELL}, {".dash", LANG_SHELL},
	};
	const char *base = strrchr(path, '/');
	const char *dot = strrchr(base ? base + 1 : path, '.');
	for (size_t i = 0; dot && i < sizeof exts / sizeof exts[0]; i++)
		if (!strcmp(dot, exts[i].ext))
			return exts[i].lang;
	return LANG_NONE;
}

/* Language by a "#!" first line: python*, or a shell shellcheck reads. */
static unsigned lang_by_shebang(const char *text, size_t len)
{
	static const char *const shells[] = {"sh", "bash", "dash", "ksh",
	                                     "mksh", "ash", NULL};
	if (len < 3 || text[0] != '#' || text[1] != '!')
		return LANG_NONE;
	const char *nl = memchr(text, '\n', len);
	size_t n = nl ? (size_t)(nl - text) : len;
	char line[256];
	snprintf(line, sizeof line, "%.*s", (int)(n - 2), text + 2);
	char *save;
	char *word = strtok_r(line, " \t\r", &save);
	if (word && !strcmp(strrchr(word, '/') ? strrchr(word, '/') + 1 : word,
	                    "env"))
		do /* env's own options: env -S python3 */
			word = strtok_r(NULL, " \t\r", &save);
		while (word && word[0] == '-');
	if (!word)
		return LANG_NONE;
	const char *base = strrchr(word, '/') ? strrchr(word, '/') + 1 : word;
	if (!strncmp(base, "python", 6))
		return LANG_PYTHON;
	for (size_t i = 0; shells[i]; i++)
		if (!strcmp(base, shells[i]))
			return LANG_SHELL;
	return LANG_NONE;
}

/* ---- helpers ---- */

static json_int_t config_int(const char *key, json_int_t def)
{
	json_t *v = json_object_get(host->config(plugin), key);
	return json_is_integer(v) && json_integer_value(v) > 0
		       ? json_integer_value(v)
		       : def;
}

/* A bad-input error: sentence in err, returns MCPD_E_INVAL. */
static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return MCPD_E_INVAL;
}

/* Why `p` is not a usable relative path, or NULL when it is. */
static const char *bad_path(const char *p)
{
	size_t n = strlen(p);
	if (n == 0)
		return "is empty";
	if (n > MAX_PATH_BYTES)
		return "is longer than 1024 bytes";
	if (p[0] == '/')
		return "must be relative";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return "holds a control character";
	for (const char *s = p;;) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == 0 || (len == 1 && s[0] == '.') ||
		    (len == 2 && s[0] == '.' && s[1] == '.'))
			return "must not have empty, \".\" or \"..\" components";
		if (!e)
			break;
		s = e + 1;
	}
	return NULL;
}

const char *analysis_user_path(const char *path)
{
	if (!strncmp(path, "/work/", 6))
		path += 6;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	return path;
}

void analysis_add_finding(struct actx *c, json_t *finding)
{
	if (!finding)
		return;
	/* Two tool runs may report one defect twice (a header checked
	 * through two sources): the whole finding is the key. */
	char *key = json_dumps(finding, JSON_SORT_KEYS | JSON_COMPACT);
	if (key && json_object_get(c->seen, key)) {
		json_decref(finding);
	} else {
		if (key)
			json_object_set_new(c->seen, key, json_true());
		json_array_append_new(c->findings, finding);
	}
	free(key);
}

int analysis_exec(struct actx *c, json_t *argv, unsigned langs,
                  json_t **result, char *err, size_t errlen)
{
	json_t *files = json_object();
	for (size_t i = 0; i < c->nfiles; i++)
		if (c->files[i].lang & langs)
			json_object_set(files, c->files[i].path,
			                json_object_get(c->texts,
			                                c->files[i].path));
	json_t *req = json_pack("{s:o, s:o, s:O}", "argv", argv, "files",
	                        files, "limits", c->limits);
	return agent_exec(c->host, c->self, c->task, req, result, err, errlen);
}

/* ---- collecting the files ---- */

static void ignore(json_t *ignored, const char *path, const char *why)
{
	json_array_append_new(ignored, json_pack("{s:s, s:s}", "path", path,
	                                         "reason", why));
}

/*
 * Take file `path` with `text` (len bytes) into the run if its language is
 * known -- by extension, by #! line, else `fallback` -- and it is `only`
 * (when set).
 */
static int add_file(struct actx *c, const char *path, const char *text,
                    size_t len, unsigned only, unsigned fallback,
                    json_t *ignored)
{
	unsigned lang = lang_by_ext(path);
	if (lang == LANG_NONE)
		lang = lang_by_shebang(text, len);
	if (lang == LANG_NONE)
		lang = fallback;
	if (lang == LANG_NONE) {
		ignore(ignored, path, "not C, C++, Python or shell by its name "
		                      "or #! line");
		return 0;
	}
	if (only != LANG_NONE && lang != only) {
		ignore(ignored, path, "not in the language asked for");
		return 0;
	}
	json_t *s = json_stringn(text, len);
	if (!s) {
		ignore(ignored, path, "not UTF-8 text");
		return 0;
	}
	if (memchr(text, '\0', len)) {
		json_decref(s);
		ignore(ignored, path, "binary (holds NUL bytes)");
		return 0;
	}
	struct afile *v = realloc(c->files, (c->nfiles + 1) * sizeof *v);
	char *p = strdup(path);
	if (v)
		c->files = v;
	if (!v || !p || json_object_set_new(c->texts, path, s)) {
		free(p);
		return MCPD_E_NOMEM;
	}
	v[c->nfiles++] = (struct afile){p, json_string_value(s),
	                                json_string_length(s), lang};
	return 0;
}

static int collect_inline(struct actx *c, const json_t *files, unsigned only,
                          json_t *ignored, char *err, size_t errlen)
{
	json_int_t max_files = config_int("max_files", def_max_files);
	json_int_t max_bytes = config_int("max_total_bytes",
	                                  def_max_total_bytes);
	if (json_object_size(files) == 0)
		return bad(err, errlen, "files: no files given (an object of "
		                        "relative path -> content)");
	if ((json_int_t)json_object_size(files) > max_files)
		return bad(err, errlen, "files: %zu files, more than the %lld "
		           "allowed", json_object_size(files),
		           (long long)max_files);
	json_int_t total = 0;
	const char *path;
	json_t *v;
	json_object_foreach((json_t *)files, path, v) {
		const char *why = bad_path(path);
		if (why)
			return bad(err, errlen, "files: path \"%.200s\" %s",
			           path, why);
		if (!json_is_string(v))
			return bad(err, errlen, "files: \"%.200s\" must be a "
			           "string (the file's content)", path);
		total += (json_int_t)json_string_length(v);
		if (total > max_bytes)
			return bad(err, errlen, "files: more than %lld bytes "
			           "in all", (long long)max_bytes);
		int rc = add_file(c, path, json_string_value(v),
		                  json_string_length(v), only, only, ignored);
		if (rc)
			return rc;
	}
	return 0;
}

/* The real path of `p` if it is at or below an allowed path, else NULL. */
static char *allowed(const char *p)
{
	char *real = realpath(p, NULL);
	if (!real)
		return NULL;
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(host->config(plugin),
	                                   "allowed_paths"), i, a) {
		char *root = realpath(json_string_value(a), NULL);
		if (!root)
			continue;
		size_t n = strlen(root);
		int in = !strncmp(real, root, n) &&
		         (real[n] == '\0' || real[n] == '/' ||
		          (n == 1 && root[0] == '/'));
		free(root);
		if (in)
			return real;
	}
	free(real);
	return NULL;
}

struct walk {
	struct actx *c;
	unsigned only;
	json_t *ignored;
	json_int_t max_files, max_file_bytes, max_total_bytes, total;
	char *err;
	size_t errlen;
};

/*
 * Read `abs` (a regular file) as `rel` into the run: source files by
 * extension, and files without one that start with "#!". Other files
 * (README.md, Makefile, a.out) are passed over without a word.
 */
static int read_one(struct walk *w, const char *abs, const char *rel)
{
	const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	int by_ext = lang_by_ext(rel) != LANG_NONE;
	if (!by_ext && strchr(base, '.'))
		return 0;
	int fd = open(abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char magic[2];
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		if (by_ext)
			ignore(w->ignored, rel, "cannot be read");
		return 0;
	}
	if (!by_ext && (pread(fd, magic, 2, 0) != 2 || magic[0] != '#' ||
	                magic[1] != '!')) {
		close(fd);
		return 0;
	}
	if (st.st_size > w->max_file_bytes) {
		close(fd);
		ignore(w->ignored, rel, "larger than max_file_bytes");
		return 0;
	}
	if ((json_int_t)w->c->nfiles >= w->max_files ||
	    w->total + st.st_size > w->max_total_bytes) {
		close(fd);
		return bad(w->err, w->errlen,
		           "path: more than %lld files or %lld bytes to read "
		           "(the plugin's max_files, max_total_bytes): name "
		           "a smaller directory", (long long)w->max_files,
		           (long long)w->max_total_bytes);
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf)
		return MCPD_E_NOMEM;
	w->total += (json_int_t)got;
	int rc = add_file(w->c, rel, buf, got, w->only, LANG_NONE, w->ignored);
	free(buf);
	return rc;
}

static int walk_dir(struct walk *w, const char *abs, const char *rel,
                    int depth)
{
	if (depth > MAX_DIR_DEPTH)
		return 0;
	DIR *d = opendir(abs);
	if (!d) {
		ignore(w->ignored, *rel ? rel : ".", "directory cannot be read");
		return 0;
	}
	/* Sorted, so results do not depend on the directory's order. */
	struct dirent **names = NULL;
	int n = 0, cap = 0, rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "__pycache__") ||
		    !strcmp(e->d_name, "node_modules"))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			struct dirent **v = realloc(names, (size_t)cap *
			                                           sizeof *v);
			if (!v) {
				rc = MCPD_E_NOMEM;
				break;
			}
			names = v;
		}
		names[n] = malloc(sizeof *e);
		if (!names[n]) {
			rc = MCPD_E_NOMEM;
			break;
		}
		memcpy(names[n++], e, sizeof *e);
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1]->d_name,
		                                names[j]->d_name) > 0; j--) {
			struct dirent *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (int i = 0; i < n && rc == 0; i++) {
		char a[PATH_MAX], r[PATH_MAX];
		snprintf(a, sizeof a, "%s/%s", abs, names[i]->d_name);
		snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "",
		         names[i]->d_name);
		struct stat st;
		if (lstat(a, &st) || S_ISLNK(st.st_mode) || bad_path(r))
			continue;
		if (S_ISDIR(st.st_mode))
			rc = walk_dir(w, a, r, depth + 1);
		else if (S_ISREG(st.st_mode))
			rc = read_one(w, a, r);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int collect_path(struct actx *c, const char *path, unsigned only,
                        json_t *ignored, char *err, size_t errlen)
{
	if (path[0] != '/')
		return bad(err, errlen, "path: \"%.200s\" must be absolute",
		           path);
	if (json_array_size(json_object_get(host->config(plugin),
	                                    "allowed_paths")) == 0)
		return bad(err, errlen, "path: reading directories is not "
		           "enabled (the plugin config has no allowed_paths); "
		           "send the files inline in \"files\"");
	struct stat st;
	if (stat(path, &st))
		return bad(err, errlen, "path: \"%.200s\": %s", path,
		           strerror(errno));
	char *real = allowed(path);
	if (!real)
		return bad(err, errlen, "path: \"%.200s\" is not inside the "
		           "plugin's allowed_paths", path);
	struct walk w = {c, only, ignored, config_int("max_files",
	                                              def_max_files),
	                 config_int("max_file_bytes", def_max_file_bytes),
	                 config_int("max_total_bytes", def_max_total_bytes), 0,
	                 err, errlen};
	int rc;
	if (S_ISDIR(st.st_mode)) {
		rc = walk_dir(&w, real, "", 0);
	} else {
		const char *base = strrchr(real, '/') + 1;
		rc = read_one(&w, real, base);
	}
	free(real);
	return rc;
}

/* ---- running the analyzers ---- */

static int want(const json_t *list, const char *name)
{
	size_t i;
	json_t *v;
	if (!list)
		return 1;
	json_array_foreach(list, i, v)
		if (!strcmp(json_string_value(v), name))
			return 1;
	return 0;
}

static size_t count_files(const struct actx *c, unsigned langs)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nfiles; i++)
		n += (c->files[i].lang & langs) != 0;
	return n;
}

static const char *langs_text(unsigned langs)
{
	return langs == LANG_PYTHON ? "Python"
	       : langs == LANG_SHELL ? "shell"
	                             : "C/C++";
}

/*
 * Where analyzer `a` finds its tool: *path set when usable; otherwise
 * the status is filled as skipped and 0 returned.
 */
static int find_tool(const struct analyzer *a, json_t *status, char *path,
                     size_t len)
{
	json_t *o = json_object_get(json_object_get(host->config(plugin),
	                                            "tools"), a->name);
	char why[600];
	if (json_is_false(o)) {
		snprintf(why, sizeof why, "disabled by the plugin config "
		         "(tools.%s is false)", a->name);
		json_object_set_new(status, "status", json_string("skipped"));
		json_object_set_new(status, "reason", json_string(why));
		return 0;
	}
	const char *tool = json_is_string(o) ? json_string_value(o) : a->tool;
	if (agent_have_tool(tool, path, len))
		return 1;
	char hint[200];
	snprintf(why, sizeof why, "%s is not installed (not found in "
	         "/usr/local/bin, /usr/bin or /bin)", tool);
	snprintf(hint, sizeof hint, "apt-get install %s", a->package);
	json_object_set_new(status, "status", json_string("skipped"));
	json_object_set_new(status, "reason", json_string(why));
	json_object_set_new(status, "install_hint", json_string(hint));
	return 0;
}

static int run_analyzers(struct actx *c, const json_t *only, char *err,
                         size_t errlen)
{
	size_t n;
	const struct analyzer *all = analyzers_all(&n);
	unsigned present = 0;
	for (size_t i = 0; i < c->nfiles; i++)
		present |= c->files[i].lang;
	for (size_t i = 0; i < n; i++) {
		const struct analyzer *a = &all[i];
		if (!want(only, a->name))
			continue;
		if (!(present & a->langs) && !only)
			continue;
		json_t *status = json_pack("{s:s, s:I}", "name", a->name,
		                           "files",
		                           (json_int_t)count_files(c, a->langs));
		json_array_append_new(c->analyzers, status);
		if (!(present & a->langs)) {
			/* Asked for by name: say why it did not run. */
			char why[100];
			snprintf(why, sizeof why, "no %s files among the input",
			         langs_text(a->langs));
			json_object_set_new(status, "status",
			                    json_string("skipped"));
			json_object_set_new(status, "reason", json_string(why));
			continue;
		}
		char tool[4200] = "";
		if (a->tool && !find_tool(a, status, tool, sizeof tool))
			continue;
		if (*tool)
			json_object_set_new(status, "tool", json_string(tool));
		if (c->task)
			host->task_progress(c->task, (double)i, (double)n,
			                    a->name);
		int rc = a->run(c, a, tool, status, err, errlen);
		if (rc == MCPD_E_FAILED) {
			/* The sandbox could not run it: this analyzer failed,
			 * the others may still run. */
			json_object_set_new(status, "status",
			                    json_string("failed"));
			json_object_set_new(status, "reason", json_string(err));
			err[0] = '\0';
		} else if (rc) {
			return rc;
		}
		if (!json_object_get(status, "status"))
			json_object_set_new(status, "status",
			                    json_string("ran"));
		if (!strcmp(json_string_value(json_object_get(status, "status")),
		            "ran") &&
		    (a->findings || c->max_complexity > 0)) {
			json_t *t = json_pack("{s:s}", "name", a->name);
			if (a->uri)
				json_object_set_new(t, "information_uri",
				                    json_string(a->uri));
			json_array_append_new(c->tools, t);
		}
		if (c->task && host->task_cancelled(c->task)) {
			snprintf(err, errlen, "cancelled");
			return MCPD_E_CANCELLED;
		}
	}
	/* Per analyzer, how many findings it contributed. */
	size_t i, j;
	json_t *st, *f;
	json_array_foreach(c->analyzers, i, st) {
		json_int_t k = 0;
		const char *name = json_string_value(json_object_get(st, "name"));
		json_array_foreach(c->findings, j, f)
			k += !strcmp(json_string_value(json_object_get(f, "tool")),
			             name);
		if (!strcmp(json_string_value(json_object_get(st, "status")),
		            "ran"))
			json_object_set_new(st, "findings", json_integer(k));
	}
	return 0;
}

/* ---- result ---- */

static json_t *metrics_total(const json_t *files)
{
	json_int_t nf = 0, lines = 0, code = 0, comment = 0, blank = 0;
	json_int_t funcs = 0, maxcc = 0, sumcc = 0;
	const char *key;
	json_t *m;
	json_object_foreach((json_t *)files, key, m) {
		nf++;
		lines += json_integer_value(json_object_get(m, "lines"));
		code += json_integer_value(json_object_get(m, "code_lines"));
		comment += json_integer_value(json_object_get(m,
		                                              "comment_lines"));
		blank += json_integer_value(json_object_get(m, "blank_lines"));
		size_t i;
		json_t *f;
		json_array_foreach(json_object_get(m, "functions"), i, f) {
			json_int_t cc = json_integer_value(
				json_object_get(f, "complexity"));
			funcs++;
			sumcc += cc;
			if (cc > maxcc)
				maxcc = cc;
		}
	}
	double mean = funcs ? (double)sumcc / (double)funcs : 0.0;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "files",
	                 nf, "lines", lines, "code_lines", code,
	                 "comment_lines", comment, "blank_lines", blank,
	                 "functions", funcs, "max_complexity", maxcc,
	                 "mean_complexity",
	                 (double)(long long)(mean * 100.0 + 0.5) / 100.0);
}

static json_t *result_json(struct actx *c, json_t *ignored)
{
	findings_sort(c->findings);
	json_int_t nerr = 0, nwarn = 0, nnote = 0;
	size_t i;
	json_t *f;
	json_array_foreach(c->findings, i, f) {
		const char *s = json_string_value(json_object_get(f, "severity"));
		nerr += !strcmp(s, "error");
		nwarn += !strcmp(s, "warning");
		nnote += !strcmp(s, "note");
	}
	json_t *files = json_array();
	for (size_t k = 0; k < c->nfiles; k++)
		json_array_append_new(files, json_pack(
			"{s:s, s:s}", "path", c->files[k].path, "language",
			lang_name(c->files[k].lang)));
	return json_pack(
		"{s:O, s:o, s:O, s:{s:O, s:o}, s:{s:I, s:I, s:I, s:I, s:I}, "
		"s:o, s:O}",
		"findings", c->findings, "sarif",
		sarif_log(c->findings, c->tools), "analyzers", c->analyzers,
		"metrics", "files", c->metrics, "total",
		metrics_total(c->metrics), "summary", "files",
		(json_int_t)c->nfiles, "findings",
		(json_int_t)json_array_size(c->findings), "errors", nerr,
		"warnings", nwarn, "notes", nnote, "files", files, "ignored",
		ignored);
}

/* Sandbox limits of each tool run: built-in, then config, then input. */
static json_t *run_limits(const json_t *input)
{
	json_t *l = json_pack("{s:I, s:I, s:I, s:I}", "wall_ms",
	                      (json_int_t)120000, "cpu_ms", (json_int_t)120000,
	                      "memory_bytes", (json_int_t)1 << 30,
	                      "output_bytes", (json_int_t)8 << 20);
	json_t *cfg = json_object_get(host->config(plugin), "limits");
	if (json_is_object(cfg))
		json_object_update(l, cfg);
	if (json_is_object(json_object_get(input, "limits")))
		json_object_update(l, json_object_get(input, "limits"));
	return l;
}

static void actx_free(struct actx *c)
{
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i].path);
	free(c->files);
	json_decref(c->texts);
	json_decref(c->limits);
	json_decref(c->findings);
	json_decref(c->seen);
	json_decref(c->analyzers);
	json_decref(c->tools);
	json_decref(c->metrics);
}

/* Files in path order, so output and tool runs do not depend on the
 * order of the input's keys. */
static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct afile *)a)->path,
	              ((const struct afile *)b)->path);
}

/*
 * The whole capability: input (borrowed) to *result, or an MCPD_E_* with
 * the task error code and a sentence.
 */
static int analyze(struct mcpd_task *task, const json_t *input,
                   json_t **result, char *code, size_t codelen, char *err,
                   size_t errlen)
{
	*result = NULL;
	struct actx c = {
		.host = host,
		.self = plugin,
		.task = task,
		.config = host->config(plugin),
		.texts = json_object(),
		.findings = json_array(),
		.seen = json_object(),
		.analyzers = json_array(),
		.tools = json_array(),
		.metrics = json_object(),
	};
	json_t *ignored = json_array();
	const json_t *files = json_object_get(input, "files");
	const char *path = json_string_value(json_object_get(input, "path"));
	const char *lang = json_string_value(json_object_get(input,
	                                                     "language"));
	unsigned only = lang_by_name(lang);
	int rc;
	c.max_complexity = (int)json_integer_value(
		json_object_get(input, "complexity_threshold"));
	c.limits = run_limits(input);

	if (!json_is_object(input))
		rc = bad(err, errlen, "input: must be an object");
	else if (files && path)
		rc = bad(err, errlen, "files, path: give one of them, not both");
	else if (!files && !path)
		rc = bad(err, errlen, "files: give the code to analyze as "
		         "\"files\" (relative path -> content) or a directory "
		         "as \"path\"");
	else if (lang && only == LANG_NONE)
		rc = bad(err, errlen, "language: \"%.40s\" is not one of c, "
		         "cpp, python, shell", lang);
	else if (files && !json_is_object(files))
		rc = bad(err, errlen, "files: must be an object of relative "
		         "path -> content");
	else
		rc = files ? collect_inline(&c, files, only, ignored, err,
		                            errlen)
		           : collect_path(&c, path, only, ignored, err, errlen);
	if (rc == 0 && c.nfiles > 1)
		qsort(c.files, c.nfiles, sizeof *c.files, cmp_file);
	if (rc == 0 && c.nfiles == 0)
		rc = bad(err, errlen, "%s: none of the %zu files is C, C++, "
		         "Python or shell by its name or #! line (set "
		         "\"language\" to say which it is)",
		         files ? "files" : "path", json_array_size(ignored));
	if (rc == 0)
		rc = run_analyzers(&c, json_object_get(input, "analyzers"),
		                   err, errlen);
	if (rc == 0) {
		*result = result_json(&c, ignored);
		if (!*result)
			rc = MCPD_E_NOMEM;
	}
	snprintf(code, codelen, "%s",
	         rc == MCPD_E_INVAL       ? "bad_input"
	         : rc == MCPD_E_CANCELLED ? "cancelled"
	         : rc == MCPD_E_NOTFOUND  ? "no_sandbox"
	                                  : "failed");
	if (rc && !*err)
		snprintf(err, errlen, "%s", host->strerror(rc));
	json_decref(ignored);
	actx_free(&c);
	return rc;
}

static int handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	char code[64], err[1024] = "";
	json_t *result;
	int rc = analyze(task, host->task_input(task), &result, code,
	                 sizeof code, err, sizeof err);
	if (rc == 0)
		return host->task_complete(task, result);
	host->task_fail(task, code, err);
	return 0;
}

static int agent_call_fn(void *impl, struct mcpd_task *caller,
                         const char *capability, const json_t *input,
                         json_t **result, char *code, size_t codelen,
                         char *err, size_t errlen)
{
	(void)impl;
	*result = NULL;
	if (strcmp(capability, CAPABILITY)) {
		snprintf(code, codelen, "no_provider");
		snprintf(err, errlen, "%s is not offered by analysis",
		         capability);
		return MCPD_E_NOTFOUND;
	}
	if (errlen)
		err[0] = '\0';
	int rc = analyze(caller, input, result, code, codelen, err, errlen);
	/* NOTFOUND means "no such capability" to a caller: a missing
	 * sandbox is a failure of this one. */
	return rc == MCPD_E_NOTFOUND ? MCPD_E_FAILED : rc;
}

static const struct mcpd_agent agent_vt = {
	{sizeof(struct mcpd_agent), MCPD_AGENT_MAJOR, MCPD_AGENT_MINOR}, NULL,
	agent_call_fn};

/* ---- schemas ---- */

#define LIMIT(name, min) "\"" name "\":{\"type\":\"integer\",\"minimum\":" #min "}"

#define ANALYZER_ENUM                                                         \
	"[\"cppcheck\",\"clang-tidy\",\"c-metrics\",\"pyflakes\","            \
	"\"python-metrics\",\"shellcheck\"]"

static const char input_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,"
	"\"description\":\"Static analysis and metrics of C, C++, Python "
	"and shell code. Give exactly one of files or path.\","
	"\"properties\":{"
	"\"files\":{\"type\":\"object\",\"description\":\"The code: relative "
	"path -> file content (UTF-8 text). The language comes from the "
	"extension (.c .h, .cc .cpp .hpp..., .py, .sh .bash) or a #! line.\","
	"\"additionalProperties\":{\"type\":\"string\"}},"
	"\"path\":{\"type\":\"string\",\"minLength\":1,\"description\":\"An "
	"absolute path of a directory (or one file) on the daemon's host, "
	"inside the plugin's configured allowed_paths. Its source files are "
	"read; hidden entries, symbolic links, __pycache__ and node_modules "
	"are skipped.\"},"
	"\"language\":{\"enum\":[\"c\",\"cpp\",\"python\",\"shell\"],"
	"\"description\":\"Analyze only files of this language; files whose "
	"name and #! line say no language are taken to be in it.\"},"
	"\"analyzers\":{\"type\":\"array\",\"items\":{\"enum\":" ANALYZER_ENUM
	"},\"description\":\"Run only these analyzers (default: every one "
	"for the languages present).\"},"
	"\"complexity_threshold\":{\"type\":\"integer\",\"minimum\":1,"
	"\"description\":\"Report each function whose cyclomatic complexity "
	"is above this as a finding (rule complexity).\"},"
	"\"limits\":{\"type\":\"object\",\"additionalProperties\":false,"
	"\"description\":\"Sandbox limits of each tool run (capped by the "
	"sandbox driver's config).\",\"properties\":{" LIMIT("wall_ms", 1) ","
	LIMIT("cpu_ms", 1) "," LIMIT("memory_bytes", 1048576) ","
	LIMIT("pids", 1) "," LIMIT("output_bytes", 0) ","
	LIMIT("file_bytes", 0) "}}}}";

#define FUNCTION_SCHEMA                                                       \
	"{\"type\":\"object\",\"required\":[\"name\",\"line\",\"end_line\","  \
	"\"complexity\"],\"properties\":{\"name\":{\"type\":\"string\"},"     \
	"\"line\":{\"type\":\"integer\"},\"end_line\":{\"type\":\"integer\"}," \
	"\"lines\":{\"type\":\"integer\"},\"parameters\":{\"type\":"          \
	"\"integer\"},\"complexity\":{\"type\":\"integer\"}}}"

static const char output_schema[] =
	"{\"type\":\"object\",\"required\":[\"findings\",\"sarif\","
	"\"analyzers\",\"metrics\",\"summary\",\"files\",\"ignored\"],"
	"\"properties\":{"
	"\"findings\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"required\":[\"tool\",\"rule\",\"severity\",\"file\",\"line\","
	"\"column\",\"message\"],\"properties\":{"
	"\"tool\":{\"type\":\"string\"},\"rule\":{\"type\":\"string\"},"
	"\"severity\":{\"enum\":[\"error\",\"warning\",\"note\"]},"
	"\"file\":{\"type\":\"string\"},\"line\":{\"type\":\"integer\"},"
	"\"column\":{\"type\":\"integer\"},\"message\":{\"type\":\"string\"}"
	"}}},"
	"\"sarif\":{\"type\":\"object\",\"description\":\"SARIF 2.1.0 log: "
	"one run per analyzer that ran and reports findings.\","
	"\"required\":[\"version\",\"runs\"],\"properties\":{\"version\":"
	"{\"const\":\"2.1.0\"},\"runs\":{\"type\":\"array\"}}},"
	"\"analyzers\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"required\":[\"name\",\"status\"],\"properties\":{"
	"\"name\":{\"type\":\"string\"},\"status\":{\"enum\":[\"ran\","
	"\"skipped\",\"failed\"]},\"reason\":{\"type\":\"string\"},"
	"\"install_hint\":{\"type\":\"string\"},\"tool\":{\"type\":\"string\"},"
	"\"files\":{\"type\":\"integer\"},\"findings\":{\"type\":\"integer\"}"
	"}}},"
	"\"metrics\":{\"type\":\"object\",\"properties\":{"
	"\"files\":{\"type\":\"object\",\"additionalProperties\":{\"type\":"
	"\"object\",\"properties\":{\"language\":{\"type\":\"string\"},"
	"\"lines\":{\"type\":\"integer\"},\"code_lines\":{\"type\":"
	"\"integer\"},\"comment_lines\":{\"type\":\"integer\"},"
	"\"blank_lines\":{\"type\":\"integer\"},\"error\":{\"type\":"
	"\"string\"},\"functions\":{\"type\":\"array\",\"items\":"
	FUNCTION_SCHEMA "}}}},"
	"\"total\":{\"type\":\"object\",\"properties\":{\"files\":{\"type\":"
	"\"integer\"},\"lines\":{\"type\":\"integer\"},\"code_lines\":"
	"{\"type\":\"integer\"},\"comment_lines\":{\"type\":\"integer\"},"
	"\"blank_lines\":{\"type\":\"integer\"},\"functions\":{\"type\":"
	"\"integer\"},\"max_complexity\":{\"type\":\"integer\"},"
	"\"mean_complexity\":{\"type\":\"number\"}}}}},"
	"\"summary\":{\"type\":\"object\",\"properties\":{\"files\":{\"type\":"
	"\"integer\"},\"findings\":{\"type\":\"integer\"},\"errors\":{\"type\":"
	"\"integer\"},\"warnings\":{\"type\":\"integer\"},\"notes\":{\"type\":"
	"\"integer\"}}},"
	"\"files\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"properties\":{\"path\":{\"type\":\"string\"},\"language\":{\"type\":"
	"\"string\"}}}},"
	"\"ignored\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"properties\":{\"path\":{\"type\":\"string\"},\"reason\":{\"type\":"
	"\"string\"}}}}}}";

/* ---- config ---- */

static int check_config(const json_t *cfg)
{
	static const char *const int_keys[] = {"max_files", "max_file_bytes",
	                                       "max_total_bytes"};
	static const char *const str_keys[] = {"sandbox_driver",
	                                       "cppcheck_enable",
	                                       "clang_tidy_checks"};
	static const char *const known[] = {
		"allowed_paths", "tools", "limits", "max_files",
		"max_file_bytes", "max_total_bytes", "sandbox_driver",
		"cppcheck_enable", "clang_tidy_checks", NULL};
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)cfg, key, v) {
		size_t i = 0;
		while (known[i] && strcmp(known[i], key))
			i++;
		if (!known[i])
			host->log(plugin, MCPD_LOG_WARN,
			          "config key \"%s\" is not one of analysis's "
			          "(ignored)", key);
	}
	for (size_t i = 0; i < 3; i++) {
		v = json_object_get(cfg, int_keys[i]);
		if (v && !(json_is_integer(v) && json_integer_value(v) > 0)) {
			host->log(plugin, MCPD_LOG_ERROR,
			          "config %s: must be a positive integer",
			          int_keys[i]);
			return MCPD_E_INVAL;
		}
		v = json_object_get(cfg, str_keys[i]);
		if (v && !json_is_string(v)) {
			host->log(plugin, MCPD_LOG_ERROR,
			          "config %s: must be a string", str_keys[i]);
			return MCPD_E_INVAL;
		}
	}
	v = json_object_get(cfg, "allowed_paths");
	size_t i;
	json_t *p;
	if (v && !json_is_array(v)) {
		host->log(plugin, MCPD_LOG_ERROR,
		          "config allowed_paths: must be an array of absolute "
		          "paths");
		return MCPD_E_INVAL;
	}
	json_array_foreach(v, i, p) {
		if (!json_is_string(p) || json_string_value(p)[0] != '/') {
			host->log(plugin, MCPD_LOG_ERROR,
			          "config allowed_paths[%zu]: must be an "
			          "absolute path", i);
			return MCPD_E_INVAL;
		}
	}
	v = json_object_get(cfg, "tools");
	if (v && !json_is_object(v)) {
		host->log(plugin, MCPD_LOG_ERROR,
		          "config tools: must be an object of analyzer -> "
		          "tool name or false");
		return MCPD_E_INVAL;
	}
	json_object_foreach(v, key, p) {
		if (!json_is_false(p) &&
		    !(json_is_string(p) && *json_string_value(p) &&
		      !strchr(json_string_value(p), '/'))) {
			host->log(plugin, MCPD_LOG_ERROR,
			          "config tools.%s: must be a program name "
			          "(no '/') or false", key);
			return MCPD_E_INVAL;
		}
	}
	v = json_object_get(cfg, "limits");
	if (v && !json_is_object(v)) {
		host->log(plugin, MCPD_LOG_ERROR,
		          "config limits: must be an object of sandbox limits");
		return MCPD_E_INVAL;
	}
	return 0;
}

static int init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	host = h;
	plugin = self;
	int rc = check_config(host->config(self));
	if (rc)
		return rc;
	struct mcpd_capability_def def = {
		.size = sizeof def,
		.name = CAPABILITY,
		.version = "1.0",
		.title = "Analyze code",
		.description =
			"Static analysis and metrics of C/C++ (cppcheck, "
			"clang-tidy), Python (pyflakes) and shell "
			"(shellcheck), run in the sandbox: normalized "
			"findings with their rule, file and line, a SARIF "
			"2.1.0 log, lines of code, functions and cyclomatic "
			"complexity per function.",
		.input_schema = input_schema,
		.output_schema = output_schema,
		.attributes = "{\"languages\":[\"c\",\"cpp\",\"python\","
		              "\"shell\"],\"analyzers\":" ANALYZER_ENUM ","
		              "\"formats\":[\"sarif-2.1.0\"]}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = handle,
	};
	rc = host->capability_add(self, &def);
	if (rc)
		return rc;
	if (MCPD_HOST_HAS(host, service_provide))
		rc = host->service_provide(self, CAPABILITY, &agent_vt);
	return rc;
}

MCPD_PLUGIN("analysis", "1.0.0",
            "code.analyze: static analysis and metrics of C, C++, Python "
            "and shell, tools run in the sandbox",
            0, init, NULL)
