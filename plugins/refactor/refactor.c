/*
 * refactor: the code.refactor capability -- format (clang-format, black),
 * rename an identifier (token-aware, C/C++ and Python), and rewrite
 * through the codegen backend (code.generate, in process). Each result
 * comes with its files and a unified diff, and is verified: it must still
 * compile or parse (in the sandbox), and still pass the tests the task
 * gave (through code.test, in process), else the task fails with the
 * evidence. Tools run only in the sandbox (agent_exec).
 */
#include "refactor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-common.h"
#include "diff.h"

/* Upper bound on the input's file content, all files together. */
#define DEFAULT_MAX_BYTES (4L << 20)

static const char INPUT_SCHEMA[] =
"{\"type\":\"object\",\"required\":[\"operation\",\"files\"],"
"\"additionalProperties\":false,\"properties\":{"
"\"operation\":{\"enum\":[\"format\",\"rename\",\"rewrite\"],"
  "\"description\":\"format: clang-format (C/C++) or black (Python); "
  "rename: one identifier, never inside strings or comments; rewrite: "
  "an LLM-driven rewrite through code.generate\"},"
"\"files\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},"
  "\"description\":\"the code: relative path -> content\"},"
"\"language\":{\"enum\":[\"c\",\"cpp\",\"python\",\"shell\"],"
  "\"description\":\"refactor only files of this language (default: every "
  "file whose extension the operation knows)\"},"
"\"paths\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
  "\"description\":\"refactor only these of the files\"},"
"\"old_name\":{\"type\":\"string\",\"description\":\"rename: the identifier\"},"
"\"new_name\":{\"type\":\"string\",\"description\":\"rename: its new name\"},"
"\"style\":{\"type\":\"string\",\"description\":\"format, C/C++: a "
  "clang-format style (LLVM, GNU, Google, Chromium, Microsoft, Mozilla, "
  "WebKit, file, or {key: value, ...}); default: a .clang-format among "
  "the files, else the configured style\"},"
"\"line_length\":{\"type\":\"integer\",\"minimum\":20,\"maximum\":400,"
  "\"description\":\"format, Python: black's line length\"},"
"\"instructions\":{\"type\":\"string\",\"description\":\"rewrite: what to change\"},"
"\"name\":{\"type\":\"string\",\"description\":\"rewrite: name of the unit "
  "(default: the first file's base name)\"},"
"\"tests\":{\"type\":\"object\",\"additionalProperties\":false,"
  "\"description\":\"tests that must still pass (run through code.test "
  "with the refactored files; its files are not refactored)\","
  "\"properties\":{"
  "\"command\":{\"type\":\"string\"},"
  "\"framework\":{\"enum\":[\"pytest\",\"unittest\",\"ctest\",\"make\","
    "\"prove\",\"custom\"]},"
  "\"files\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
  "\"limits\":{\"type\":\"object\"}}}}}";

static const char OUTPUT_SCHEMA[] =
"{\"type\":\"object\",\"required\":[\"operation\",\"files\",\"changed\","
  "\"diff\",\"verification\"],\"properties\":{"
"\"operation\":{\"type\":\"string\"},"
"\"language\":{\"type\":\"string\"},"
"\"languages\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
"\"files\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},"
  "\"description\":\"every input file as it is now, plus added ones\"},"
"\"changed\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
"\"diff\":{\"type\":\"string\",\"description\":\"unified diff, a/ b/ paths\"},"
"\"tools\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
"\"renamed\":{\"type\":\"integer\"},"
"\"occurrences\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
  "\"properties\":{\"file\":{\"type\":\"string\"},\"line\":{\"type\":\"integer\"},"
  "\"column\":{\"type\":\"integer\"}}}},"
"\"generator\":{\"type\":\"object\"},"
"\"verification\":{\"type\":\"object\",\"properties\":{"
  "\"compile\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "\"properties\":{\"language\":{\"type\":\"string\"},"
    "\"tool\":{\"type\":\"string\"},\"status\":{\"enum\":[\"passed\","
    "\"failed\"]},\"failed_before\":{\"type\":\"boolean\"},"
    "\"errors\":{\"type\":\"string\"}}}},"
  "\"tests\":{\"type\":\"object\",\"properties\":{"
    "\"status\":{\"enum\":[\"passed\",\"failed\"]},"
    "\"failed_before\":{\"type\":\"boolean\"},"
    "\"before\":{\"type\":\"object\"},\"after\":{\"type\":\"object\"}}}}}}}";

static const struct mcpd_host *host;

/* ---------------------------------------------------------------- job */

int job_fail(struct job *j, const char *code, const char *fmt, ...)
{
	if (j->code[0])
		return -1;
	snprintf(j->code, sizeof j->code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->err, sizeof j->err, fmt, ap);
	va_end(ap);
	return -1;
}

void job_progress(struct job *j, int step, int total, const char *msg)
{
	j->host->task_progress(j->task, step, total, msg);
}

static const char *const lang_names[LANG_COUNT] = {"", "c", "cpp", "python",
                                                   "shell"};

const char *lang_name(enum lang l)
{
	return l < LANG_COUNT ? lang_names[l] : "";
}

enum lang lang_from_name(const char *name)
{
	for (int l = LANG_C; name && l < LANG_COUNT; l++)
		if (!strcmp(name, lang_names[l]))
			return (enum lang)l;
	return LANG_NONE;
}

enum lang lang_of_path(const char *path, int cpp_headers)
{
	static const struct {
		const char *ext;
		enum lang lang;
	} exts[] = {
		{".c", LANG_C},       {".cc", LANG_CPP},   {".cpp", LANG_CPP},
		{".cxx", LANG_CPP},   {".c++", LANG_CPP},  {".C", LANG_CPP},
		{".hh", LANG_CPP},    {".hpp", LANG_CPP},  {".hxx", LANG_CPP},
		{".h++", LANG_CPP},   {".py", LANG_PYTHON}, {".pyi", LANG_PYTHON},
		{".sh", LANG_SHELL},  {".bash", LANG_SHELL},
	};
	const char *base = strrchr(path, '/');
	const char *dot = strrchr(base ? base + 1 : path, '.');
	if (!dot)
		return LANG_NONE;
	if (!strcmp(dot, ".h"))
		return cpp_headers ? LANG_CPP : LANG_C;
	for (size_t k = 0; k < sizeof exts / sizeof exts[0]; k++)
		if (!strcmp(dot, exts[k].ext))
			return exts[k].lang;
	return LANG_NONE;
}

const char *file_text(const struct rf_file *f, size_t *len)
{
	*len = f->new ? f->newlen : f->oldlen;
	return f->new ? f->new : (f->old ? f->old : "");
}

struct rf_file *job_add_file(struct job *j, const char *path)
{
	struct rf_file *f = realloc(j->f, (j->nf + 1) * sizeof *f);
	if (!f)
		return NULL;
	j->f = f;
	f = &j->f[j->nf++];
	memset(f, 0, sizeof *f);
	f->path = path;
	return f;
}

json_t *job_files(const struct job *j, int current, const json_t *extra)
{
	json_t *o = json_object();
	for (size_t k = 0; o && k < j->nf; k++) {
		const struct rf_file *f = &j->f[k];
		size_t len;
		const char *text = current ? file_text(f, &len) : f->old;
		if (!text)
			continue;
		if (!current)
			len = f->oldlen;
		json_object_set_new(o, f->path, json_stringn(text, len));
	}
	if (o && extra)
		json_object_update(o, (json_t *)extra);
	return o;
}

json_t *job_limits(const struct job *j)
{
	const json_t *l = json_object_get(j->host->config(j->self), "limits");
	if (json_is_object(l))
		return json_deep_copy(l);
	return json_pack("{s:i, s:I}", "wall_ms", 30000, "memory_bytes",
	                 (json_int_t)512 << 20);
}

int job_exec(struct job *j, const char *tool, json_t *req, json_t **res)
{
	char err[512];
	int rc = agent_exec(j->host, j->self, j->task, req, res, err,
	                    sizeof err);
	if (rc != 0) {
		const char *code = rc == MCPD_E_CANCELLED  ? "cancelled"
		                   : rc == MCPD_E_NOTFOUND ? "no_sandbox"
		                                           : "sandbox_failed";
		return job_fail(j, code, "%s could not run: %s", tool, err);
	}
	const char *killed =
		json_string_value(json_object_get(*res, "killed_by"));
	if (killed) {
		json_decref(*res);
		*res = NULL;
		return job_fail(j, "tool_failed",
		                "%s was stopped by the sandbox (%s limit); raise "
		                "\"limits\" in the refactor plugin's config",
		                tool, killed);
	}
	return 0;
}

int job_need_tool(struct job *j, const char *tool, const char *pkg)
{
	if (agent_have_tool(tool, NULL, 0))
		return 0;
	return job_fail(j, "tool_missing",
	                "%s is not installed (install it with: apt-get install "
	                "%s)", tool, pkg);
}

/* ---------------------------------------------------------------- input */

static int path_ok(const char *p)
{
	if (!*p || *p == '/' || strlen(p) > 1024)
		return 0;
	for (const char *s = p; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		s += n + (e != NULL);
		if (e && !*s)
			return 0;
	}
	return 1;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct rf_file *)a)->path,
	              ((const struct rf_file *)b)->path);
}

/* What each operation works on. */
static int op_supports(const char *op, enum lang l)
{
	if (!strcmp(op, "rewrite"))
		return l == LANG_C || l == LANG_PYTHON || l == LANG_SHELL;
	return l == LANG_C || l == LANG_CPP || l == LANG_PYTHON;
}

static int read_files(struct job *j)
{
	const json_t *files = json_object_get(j->in, "files");
	const char *lname = json_string_value(json_object_get(j->in, "language"));
	const json_t *paths = json_object_get(j->in, "paths");
	const char *path;
	const json_t *v;
	long max = (long)json_integer_value(
		json_object_get(j->host->config(j->self), "max_bytes"));
	long total = 0;
	int cpp = 0;

	if (!json_is_object(files) || json_object_size(files) == 0)
		return job_fail(j, "bad_input", "files: give at least one file "
		                "(relative path -> content)");
	j->want = lang_from_name(lname);
	if (lname && (j->want == LANG_NONE || !op_supports(j->op, j->want)))
		return job_fail(j, "bad_input", "language: %s does not support "
		                "\"%s\" (%s)", j->op, lname,
		                !strcmp(j->op, "rewrite") ? "c, python, shell"
		                                          : "c, cpp, python");
	json_object_foreach((json_t *)files, path, v)
		if (lang_of_path(path, 0) == LANG_CPP)
			cpp = 1;
	json_object_foreach((json_t *)files, path, v) {
		if (!path_ok(path))
			return job_fail(j, "bad_input", "files: \"%s\" is not a "
			                "relative path without . or .. parts",
			                path);
		if (!json_is_string(v))
			return job_fail(j, "bad_input", "files[\"%s\"]: the "
			                "content must be a string", path);
		struct rf_file *f = job_add_file(j, path);
		if (!f)
			return job_fail(j, "failed", "out of memory");
		f->old = json_string_value(v);
		f->oldlen = json_string_length(v);
		total += (long)f->oldlen;
		f->lang = lang_of_path(path, j->want == LANG_CPP ||
		                                     (j->want == LANG_NONE && cpp));
		f->selected = op_supports(j->op, f->lang) &&
		              (j->want == LANG_NONE || f->lang == j->want);
	}
	if (total > (max > 0 ? max : DEFAULT_MAX_BYTES))
		return job_fail(j, "bad_input", "files: %ld bytes in all, more "
		                "than the %ld this plugin takes", total,
		                max > 0 ? max : DEFAULT_MAX_BYTES);
	qsort(j->f, j->nf, sizeof *j->f, cmp_file);
	if (json_is_array(paths)) {
		size_t k;
		for (size_t n = 0; n < j->nf; n++)
			j->f[n].selected = 0;
		json_array_foreach(paths, k, v) {
			const char *p = json_string_value(v);
			size_t n;
			for (n = 0; n < j->nf && strcmp(j->f[n].path, p); n++)
				;
			if (n == j->nf)
				return job_fail(j, "bad_input", "paths[%zu]: \"%s\" "
				                "is not one of files", k, p);
			if (!op_supports(j->op, j->f[n].lang) ||
			    (j->want != LANG_NONE && j->f[n].lang != j->want))
				return job_fail(j, "bad_input", "paths[%zu]: "
				                "cannot %s \"%s\" (language: %s)", k,
				                j->op, p,
				                j->f[n].lang ? lang_name(j->f[n].lang)
				                             : "unknown");
			j->f[n].selected = 1;
		}
	}
	for (size_t n = 0; n < j->nf; n++)
		if (j->f[n].selected)
			return 0;
	return job_fail(j, "bad_input", "files: no file to %s: none has a "
	                "%s extension%s", j->op,
	                !strcmp(j->op, "rewrite") ? ".c/.h, .py or .sh"
	                : ".c/.h, .cc/.cpp/.hpp or .py",
	                lname ? " of the language asked for" : "");
}

/* ---------------------------------------------------------------- output */

static int finish(struct job *j)
{
	json_t *files = json_object(), *changed = json_array(),
	       *langs = json_array();
	struct buf diff = {0};
	int seen[LANG_COUNT] = {0};
	for (size_t k = 0; k < j->nf; k++) {
		const struct rf_file *f = &j->f[k];
		size_t len;
		const char *text = file_text(f, &len);
		json_object_set_new(files, f->path, json_stringn(text, len));
		if (f->selected && !seen[f->lang]++)
			json_array_append_new(langs,
			                      json_string(lang_name(f->lang)));
		if (!f->new || (f->old && f->oldlen == f->newlen &&
		                !memcmp(f->old, f->new, f->newlen)))
			continue;
		json_array_append_new(changed, json_string(f->path));
		if (diff_unified(f->path, f->old, f->oldlen, f->new, f->newlen,
		                 3, &diff) < 0)
			diff.oom = 1;
	}
	if (json_array_size(langs) == 1)
		json_object_set(j->out, "language", json_array_get(langs, 0));
	json_object_set_new(j->out, "languages", langs);
	json_object_set_new(j->out, "files", files);
	json_object_set_new(j->out, "changed", changed);
	json_object_set_new(j->out, "diff",
	                    json_string(diff.p && !diff.oom ? diff.p : ""));
	int oom = diff.oom;
	buf_free(&diff);
	return oom ? job_fail(j, "failed", "out of memory writing the diff")
	           : 0;
}

/* Files whose new text is the old one count as unchanged from here on. */
static void settle(struct job *j)
{
	for (size_t k = 0; k < j->nf; k++) {
		struct rf_file *f = &j->f[k];
		if (f->new && f->old && f->oldlen == f->newlen &&
		    !memcmp(f->old, f->new, f->newlen)) {
			free(f->new);
			f->new = NULL;
		}
	}
}

static int refactor_handle(struct mcpd_task *task, void *ud)
{
	struct job j = {0};
	j.host = host;
	j.self = (struct mcpd_plugin *)ud;
	j.task = task;
	j.in = host->task_input(task);
	j.op = json_string_value(json_object_get(j.in, "operation"));
	j.out = json_object();
	if (!j.out)
		return MCPD_E_NOMEM;
	if (!j.op) {
		job_fail(&j, "bad_input", "operation: give \"format\", "
		         "\"rename\" or \"rewrite\"");
		goto done;
	}
	json_object_set_new(j.out, "operation", json_string(j.op));
	if (read_files(&j) < 0)
		goto done;
	int rc = !strcmp(j.op, "format")   ? op_format(&j)
	         : !strcmp(j.op, "rename") ? op_rename(&j)
	         : !strcmp(j.op, "rewrite")
	                 ? op_rewrite(&j)
	                 : job_fail(&j, "bad_input", "operation: \"%s\" is "
	                            "not format, rename or rewrite", j.op);
	if (rc < 0)
		goto done;
	settle(&j);
	if (host->task_cancelled(task)) {
		job_fail(&j, "cancelled", "the task was cancelled");
		goto done;
	}
	if (verify(&j) < 0 || finish(&j) < 0)
		goto done;
done:
	if (j.code[0]) {
		host->task_fail(task, j.code, j.err);
		json_decref(j.out);
	} else {
		host->task_complete(task, j.out);
	}
	for (size_t k = 0; k < j.nf; k++)
		free(j.f[k].new);
	free(j.f);
	json_decref(j.keep);
	return 0;
}

static int refactor_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "code.refactor",
		.version = "1.0",
		.title = "Refactor code",
		.description =
			"Formats C/C++ (clang-format) and Python (black), "
			"renames an identifier token-aware in C/C++ and Python "
			"(never inside strings or comments), or rewrites code "
			"through the LLM backend of code.generate. Returns the "
			"new files and a unified diff; the result must still "
			"compile or parse, and pass the given tests, else the "
			"task fails with the evidence.",
		.input_schema = INPUT_SCHEMA,
		.output_schema = OUTPUT_SCHEMA,
		.attributes = "{\"languages\":[\"c\",\"cpp\",\"python\","
		              "\"shell\"],\"operations\":[\"format\","
		              "\"rename\",\"rewrite\"]}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = refactor_handle,
		.ud = self,
	};
	host = h;
	return host->capability_add(self, &def);
}

MCPD_PLUGIN("refactor", "1.0.0",
            "code.refactor: format, rename and LLM rewrite, verified", 0,
            refactor_init, NULL)
