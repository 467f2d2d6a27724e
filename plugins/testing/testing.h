/*
 * testing.h -- the parts of the testing plugin (code.test,
 * code.test.generate) that talk to each other: input checks, the project's
 * files, framework detection, the runner, and the parsers of what test
 * tools print (JUnit XML, TAP, unittest's verbose text, ctest's text) and
 * of coverage reports (gcov JSON, coverage.py JSON).
 *
 * Everything here is pure computation on text and JSON; commands run only
 * through agent_exec() (the sandbox), in run.c.
 */
#ifndef MCPD_TESTING_H
#define MCPD_TESTING_H

#include <stddef.h>
#include <jansson.h>
#include <mcpd/plugin.h>

/* A test outcome, as code.test reports it. */
#define OUTCOME_PASSED "passed"
#define OUTCOME_FAILED "failed"
#define OUTCOME_SKIPPED "skipped"
#define OUTCOME_ERROR "error"

/*
 * One test: {"name", "outcome", "message"?, "duration_ms"?, ...}. Returns
 * a new reference; message may be NULL (left out); duration_ms < 0 is left
 * out.
 */
json_t *test_entry(const char *name, const char *outcome,
                   const char *message, double duration_ms);

/* ---- parsers (each appends entries to `tests`, an array) ---- */

/*
 * JUnit XML (pytest --junitxml, ctest --output-junit, and any tool writing
 * the common Ant/Surefire form). A test is named "classname.name" when the
 * classname differs from the name, else "name". Returns 0, or -1 with a
 * sentence in err when the text is not well-formed XML or holds no
 * <testsuite>/<testsuites>.
 */
int junit_parse(const char *xml, size_t len, json_t *tests, char *err,
                size_t errlen);

/*
 * TAP (versions 12 to 14) in any surrounding text: one or more streams,
 * each started by "TAP version", a plan after a complete stream, or a
 * prove --verbose header ("t/x.t .. "), whose file name prefixes the names
 * of its tests ("t/x.t: description"). TODO tests are "skipped" when not
 * ok and "passed" when ok (with "todo": true); "Bail out!" and a plan that
 * does not match the tests run are "error" entries. Diagnostics after a
 * failed test, and a YAML block's message, become its message.
 */
void tap_parse(const char *text, json_t *tests);

/* python -m unittest -v output (stderr). */
void pyunit_parse(const char *text, json_t *tests);

/* ctest's console output ("1/2 Test #1: name ....   Passed  0.01 sec"). */
void ctest_text_parse(const char *text, json_t *tests);

/* ---- coverage ---- */

/*
 * Summarise coverage.py's JSON report (`coverage json`) per file:
 * {"files": {path: {"lines", "covered", "percent", "missing": [...]}},
 *  "totals": {"lines", "covered", "percent"}}. NULL when it does not parse.
 */
json_t *coverage_py_summary(const char *json_text);

/*
 * The same summary from gcov JSON documents (`gcov -j -t`, one per data
 * file, concatenated in `texts`), merged per source file; sources outside
 * `root` (system headers) are left out, paths are made relative to it.
 */
json_t *coverage_gcov_summary(const json_t *texts, const char *root);

/* ---- the project ---- */

/* Limits on a project read from a directory (config can lower them). */
struct project_limits {
	long max_files;
	long long max_bytes;
};

/*
 * Read directory `dir` (absolute, already checked against the allow
 * list) into a sandbox "files" object: text as strings, binary as
 * {"base64"}, executables with "executable": true. Symbolic links, .git
 * and caches are left out. Returns a new reference or NULL with a
 * sentence in err.
 */
json_t *project_read_dir(const char *dir, const struct project_limits *lim,
                         char *err, size_t errlen);

/*
 * Check `path` (input "path") against the config's "allowed_paths": the
 * resolved path must be one of them or lie below one. Writes the resolved
 * path to out. 0, or -1 with a sentence naming "path" in err.
 */
int project_path_allowed(const json_t *config, const char *path, char *out,
                         size_t outlen, char *err, size_t errlen);

/*
 * Check input "files" (an object of relative path -> string or
 * {"content"|"base64", "executable"?}) and convert it into a sandbox files
 * object: scripts starting with "#!" become executable. Returns a new
 * reference or NULL with a sentence naming the field in err.
 */
json_t *project_files_from_input(const json_t *files, char *err,
                                 size_t errlen);

/* The text of file `path` in a files object (NULL if absent or binary). */
const char *project_text(const json_t *files, const char *path);

/* ---- frameworks and running ---- */

/*
 * Check a limits object (wall_ms, cpu_ms, memory_bytes, pids,
 * output_bytes, file_bytes: positive integers). 0, or -1 with a sentence
 * naming `field` in err.
 */
int testing_check_limits(const json_t *limits, const char *field, char *err,
                         size_t errlen);

struct framework;

/* Look a framework up by name ("pytest", "ctest"...); NULL if unknown. */
const struct framework *framework_find(const char *name);

/* Its name. */
const char *framework_name(const struct framework *fw);

/*
 * Pick a framework for the project `files` (sandbox files object) and
 * optional language; NULL with a sentence in err when nothing fits.
 */
const struct framework *framework_detect(const json_t *files,
                                         const char *language, char *err,
                                         size_t errlen);

/*
 * Run code.test for `input` (borrowed, as the capability's schema) with
 * the plugin's config: on success *result is the output object (new
 * reference) and 0 is returned; otherwise an MCPD_E_* with the task error
 * code in code ("bad_input", "tool_missing", "no_sandbox", "cancelled",
 * "failed") and a sentence in err.
 */
int testing_run(const struct mcpd_host *host, struct mcpd_plugin *self,
                struct mcpd_task *task, const json_t *input, json_t **result,
                char *code, size_t codelen, char *err, size_t errlen);

/* code.test.generate, with the same conventions. */
int testing_generate(const struct mcpd_host *host, struct mcpd_plugin *self,
                     struct mcpd_task *task, const json_t *input,
                     json_t **result, char *code, size_t codelen, char *err,
                     size_t errlen);

#endif /* MCPD_TESTING_H */
