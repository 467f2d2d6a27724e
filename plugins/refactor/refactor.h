/*
 * refactor.h -- what the parts of the refactor plugin share: one job (a
 * code.refactor task being served), its files, and the steps that fill
 * them in (ops.c: format, rename, rewrite; verify.c: compile and test).
 *
 * Every step returns 0, or -1 after job_fail() recorded the task error;
 * the handler reports it once, at the end.
 */
#ifndef REFACTOR_H
#define REFACTOR_H

#include <stddef.h>
#include <jansson.h>
#include <mcpd/plugin.h>

enum lang {
	LANG_NONE,
	LANG_C,
	LANG_CPP,
	LANG_PYTHON,
	LANG_SHELL,
	LANG_COUNT,
};

struct rf_file {
	const char *path; /* borrowed: task input or generator result */
	const char *old;  /* NULL for a file the refactor added */
	size_t oldlen;
	char *new; /* malloc'd; NULL while unchanged */
	size_t newlen;
	enum lang lang;
	int selected; /* refactored by this job */
};

struct job {
	const struct mcpd_host *host;
	struct mcpd_plugin *self;
	struct mcpd_task *task;
	const json_t *in;
	const char *op;  /* "format", "rename", "rewrite" */
	enum lang want;  /* "language" of the input, LANG_NONE if absent */
	struct rf_file *f;
	size_t nf;
	json_t *keep;    /* holds JSON the files borrow strings from */
	json_t *out;     /* the result being built */
	char code[48];
	char err[4096];
};

/* Record the task's error (once: the first one wins). Returns -1. */
int job_fail(struct job *j, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Report progress: step of total, with a message. */
void job_progress(struct job *j, int step, int total, const char *msg);

/* The language's name ("c", "cpp", "python", "shell") and from it. */
const char *lang_name(enum lang l);
enum lang lang_from_name(const char *name);
/* A file's language from its name's extension; `.h` counts as C++ when
 * cpp_headers is set. */
enum lang lang_of_path(const char *path, int cpp_headers);

/* The content a file has now: its new text when changed, else the old. */
const char *file_text(const struct rf_file *f, size_t *len);

/* Add a file the refactor created (a rewrite may add one). */
struct rf_file *job_add_file(struct job *j, const char *path);

/*
 * A sandbox request's "files": every file of the job as it is now
 * (current) or was before (!current; added files left out), plus `extra`
 * (borrowed; may be NULL) on top. New reference.
 */
json_t *job_files(const struct job *j, int current, const json_t *extra);

/* The limits object for sandbox runs (from config "limits", or the
 * plugin's defaults). New reference. */
json_t *job_limits(const struct job *j);

/*
 * Run a sandbox request (steals) and check the run was not stopped by
 * the sandbox: *res is its result (new reference). `tool` names the
 * program in errors. 0, or -1 with the job failed.
 */
int job_exec(struct job *j, const char *tool, json_t *req, json_t **res);

/* Fail with "tool_missing" unless `tool` is installed; `pkg` is the
 * Debian package that has it. */
int job_need_tool(struct job *j, const char *tool, const char *pkg);

/* ops.c */
int op_format(struct job *j);
int op_rename(struct job *j);
int op_rewrite(struct job *j);

/* verify.c: compile/parse every changed language, then run the tests
 * the task gave (if any) through code.test. Adds "verification". */
int verify(struct job *j);

#endif
