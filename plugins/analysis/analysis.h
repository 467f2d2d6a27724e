/*
 * analysis.h -- what the files of the analysis plugin (code.analyze) share:
 * the files under analysis, the run's context, the external analyzers and
 * the built-in C/C++ metrics.
 */
#ifndef MCPD_ANALYSIS_H
#define MCPD_ANALYSIS_H

#include <stddef.h>
#include <jansson.h>
#include <mcpd/plugin.h>

/* Languages, as bits so an analyzer can name several. */
enum lang {
	LANG_NONE = 0,
	LANG_C = 1u << 0,
	LANG_CPP = 1u << 1,
	LANG_PYTHON = 1u << 2,
	LANG_SHELL = 1u << 3,
};

/* Name of a language ("c", "cpp", "python", "shell"); NULL for none. */
const char *lang_name(unsigned lang);
/* Language by name; LANG_NONE when unknown. */
unsigned lang_by_name(const char *name);

/* One file under analysis: its user-relative path and its text. */
struct afile {
	char *path;
	const char *text; /* borrowed from the run's `files` object */
	size_t len;
	unsigned lang;
};

/* One run of code.analyze. */
struct actx {
	const struct mcpd_host *host;
	struct mcpd_plugin *self;
	struct mcpd_task *task; /* may be NULL (in-process call without one) */
	const json_t *config;   /* the plugin's config block (borrowed) */

	struct afile *files;
	size_t nfiles;
	json_t *texts; /* path -> text of every file analyzed (owned) */

	json_t *limits;    /* sandbox limits of each tool run (owned) */
	int max_complexity; /* 0: no complexity findings */

	json_t *findings;  /* array of normalized findings */
	json_t *seen;      /* findings already added, for duplicates */
	json_t *analyzers; /* array of per-analyzer status objects */
	json_t *tools;     /* SARIF runs: tools that ran (array) */
	json_t *metrics;   /* object: path -> file metrics */
};

/*
 * An analyzer: an external tool run in the sandbox, or a built-in one
 * (tool NULL). `run` adds findings (and metrics) to the context and fills
 * `status` ("status" "ran" or "failed" with a "reason"). It returns 0;
 * MCPD_E_FAILED when the sandbox could not run the tool (the analyzer
 * failed, with `err` as the reason); or MCPD_E_CANCELLED /
 * MCPD_E_NOTFOUND (no sandbox) / MCPD_E_INVAL (a bad request, e.g.
 * limits) / MCPD_E_NOMEM to end the whole run with `err`.
 */
struct analyzer {
	const char *name;    /* as reported and selected: "cppcheck" */
	const char *tool;    /* default executable, looked up in /usr; or NULL */
	const char *package; /* Debian package that installs it */
	const char *uri;     /* the tool's home page, for SARIF */
	unsigned langs;      /* files it reads */
	int findings;        /* it reports findings (a SARIF run) */
	int (*run)(struct actx *c, const struct analyzer *a, const char *tool,
	           json_t *status, char *err, size_t errlen);
};

/* Every analyzer, in the order they run; `*n` gets their count. */
const struct analyzer *analyzers_all(size_t *n);

/*
 * Run argv (steals) in the sandbox with the files of the languages in
 * `langs`, the run's limits. 0 with *result (new reference), else an
 * MCPD_E_* with err.
 */
int analysis_exec(struct actx *c, json_t *argv, unsigned langs,
                  json_t **result, char *err, size_t errlen);

/*
 * A path as a tool printed it, mapped back to the user's relative path:
 * drops the sandbox's "/work/" and leading "./". Returns a pointer into
 * `path` (or `path` itself).
 */
const char *analysis_user_path(const char *path);

/* Append a finding to the run (dropping an exact duplicate). */
void analysis_add_finding(struct actx *c, json_t *finding);

/* ---- built-in C/C++ metrics (cmetrics.c) ---- */

/*
 * Metrics of one C or C++ source text: line counts (physical lines; blank,
 * comment-only, code) and per function definition its name, first and last
 * line, parameters and cyclomatic complexity. `cpp` enables C++ syntax
 * (raw strings, digit separators, "::" names, class and namespace
 * bodies). Returns a new reference:
 *   {"language", "lines", "code_lines", "comment_lines", "blank_lines",
 *    "functions": [{"name", "line", "end_line", "lines", "parameters",
 *                   "complexity"}]}
 */
json_t *cmetrics_compute(const char *text, size_t len, int cpp);

#endif /* MCPD_ANALYSIS_H */
