/*
 * verify.c -- is the refactored code still good? Each language with a
 * changed file is compiled (C: gcc, C++: g++, -fsyntax-only) or parsed
 * (Python: py_compile, shell: sh/bash -n) in the sandbox; when that fails,
 * the original is checked the same way, so code that was already broken
 * is reported, not blamed on the refactor. Then the task's tests run
 * through code.test after the refactor and, if they fail, before it: a
 * test that passed before and fails after is a broken refactor.
 */
#include "refactor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-common.h"
#include "diff.h"

#define ERRORS_MAX 4000
#define EVIDENCE_TESTS 10

static const char *const SHELL_CHECK =
	"rc=0; for f; do case $(head -n 1 \"$f\") in *bash*) bash -n \"$f\" "
	"|| rc=1;; *) sh -n \"$f\" || rc=1;; esac; done; exit $rc";

static const char *done_word(const struct job *j)
{
	return !strcmp(j->op, "format")   ? "formatted"
	       : !strcmp(j->op, "rename") ? "renamed"
	                                  : "rewritten";
}

static int is_header(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot && dot[1] == 'h';
}

/* The command checking language l on the files as they are now
 * (current) or were; NULL when there is no such file. */
static json_t *check_argv(const struct job *j, enum lang l, int current,
                          const char **tool)
{
	json_t *argv, *hdrs = json_array();
	size_t nsrc = 0;
	switch (l) {
	case LANG_C:
	case LANG_CPP:
		*tool = l == LANG_C ? "gcc" : "g++";
		argv = json_pack("[s, s, s]", *tool, "-fsyntax-only", "-I.");
		break;
	case LANG_PYTHON:
		*tool = "python3";
		argv = json_pack("[s, s, s]", "python3", "-m", "py_compile");
		break;
	default:
		*tool = "sh";
		argv = json_pack("[s, s, s, s]", "sh", "-c", SHELL_CHECK, "sh");
		break;
	}
	for (size_t k = 0; k < j->nf; k++) {
		const struct rf_file *f = &j->f[k];
		if (f->lang != l || (!current && !f->old))
			continue;
		if ((l == LANG_C || l == LANG_CPP) && is_header(f->path)) {
			json_array_append_new(hdrs, json_string(f->path));
		} else {
			json_array_append_new(argv, json_string(f->path));
			nsrc++;
		}
	}
	/* Headers are checked through the sources including them, alone
	 * only when there is no source. */
	if (!nsrc && json_array_size(hdrs)) {
		json_array_extend(argv, hdrs);
		nsrc = json_array_size(hdrs);
	}
	json_decref(hdrs);
	if (!nsrc) {
		json_decref(argv);
		return NULL;
	}
	return argv;
}

/* Run the check: 0 passed, 1 failed (errors in *errors, malloc'd), -1
 * job failed. */
static int run_check(struct job *j, enum lang l, int current, char **errors)
{
	const char *tool;
	json_t *res = NULL, *argv = check_argv(j, l, current, &tool);
	*errors = NULL;
	if (!argv)
		return 0;
	json_t *req = json_pack("{s:o, s:o, s:o}", "argv", argv, "files",
	                        job_files(j, current, NULL), "limits",
	                        job_limits(j));
	/* Plain ASCII quotes in gcc's messages, whatever the locale. */
	if (l == LANG_C || l == LANG_CPP)
		json_object_set_new(req, "env", json_pack("{s:s}", "LANG", "C"));
	if (job_exec(j, tool, req, &res) < 0)
		return -1;
	const json_t *code = json_object_get(res, "exit_code");
	int failed = !json_is_integer(code) || json_integer_value(code) != 0;
	if (failed) {
		const char *e = json_string_value(json_object_get(res, "stderr"));
		if (!e || !*e)
			e = json_string_value(json_object_get(res, "stdout"));
		*errors = strndup(e && *e ? e : "(no output)", ERRORS_MAX);
	}
	json_decref(res);
	return failed;
}

static int verify_compile(struct job *j, json_t *list)
{
	static const char *const pkgs[LANG_COUNT] = {"", "gcc", "g++",
	                                             "python3", "dash"};
	static const char *const tools[LANG_COUNT] = {"", "gcc", "g++",
	                                              "python3", "sh"};
	for (int l = LANG_C; l < LANG_COUNT; l++) {
		int changed = 0;
		char *errors = NULL, *before = NULL;
		for (size_t k = 0; k < j->nf; k++)
			changed |= j->f[k].lang == (enum lang)l && j->f[k].new;
		if (!changed)
			continue;
		if (job_need_tool(j, tools[l], pkgs[l]) < 0)
			return -1;
		int rc = run_check(j, (enum lang)l, 1, &errors);
		if (rc < 0)
			return -1;
		json_t *e = json_pack("{s:s, s:s, s:s}", "language",
		                      lang_name((enum lang)l), "tool", tools[l],
		                      "status", rc ? "failed" : "passed");
		json_array_append_new(list, e);
		if (!rc)
			continue;
		json_object_set_new(e, "errors", json_string(errors));
		int was = run_check(j, (enum lang)l, 0, &before);
		free(before);
		if (was < 0) {
			free(errors);
			return -1;
		}
		json_object_set_new(e, "failed_before", json_boolean(was));
		if (!was) {
			job_fail(j, "verification_failed", "the %s code does not "
			         "%s any more (%s): %s", done_word(j),
			         l == LANG_PYTHON || l == LANG_SHELL ? "parse"
			                                             : "compile",
			         tools[l], errors);
			free(errors);
			return -1;
		}
		free(errors);
	}
	return 0;
}

/* ---------------------------------------------------------------- tests */

static int failing(const char *outcome)
{
	return outcome && (!strcmp(outcome, "failed") ||
	                   !strcmp(outcome, "error"));
}

/* What the result keeps of a code.test run. */
static json_t *digest(const json_t *r)
{
	json_t *d = json_object(), *bad = json_array();
	static const char *const keys[] = {"framework", "command", "exit_code",
	                                   "passed", "summary"};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		json_t *v = json_object_get(r, keys[k]);
		if (v)
			json_object_set(d, keys[k], v);
	}
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(r, "tests"), i, t)
		if (failing(json_string_value(json_object_get(t, "outcome"))))
			json_array_append(bad, json_object_get(t, "name"));
	json_object_set_new(d, "failing", bad);
	return d;
}

static int run_tests(struct job *j, const json_t *tests, int current,
                     json_t **result)
{
	char code[64], err[2048];
	json_t *in = json_pack("{s:o}", "files",
	                       job_files(j, current,
	                                 json_object_get(tests, "files")));
	static const char *const pass[] = {"command", "framework", "limits"};
	for (size_t k = 0; k < sizeof pass / sizeof pass[0]; k++) {
		json_t *v = json_object_get(tests, pass[k]);
		if (v)
			json_object_set(in, pass[k], v);
	}
	for (size_t k = 0; k < j->nf; k++)
		if (j->f[k].selected && j->f[k].lang != LANG_CPP) {
			json_object_set_new(in, "language",
			                    json_string(lang_name(j->f[k].lang)));
			break;
		}
	job_progress(j, current ? 2 : 3, 3,
	             current ? "running the tests on the refactored code"
	                     : "running the tests on the original code");
	int rc = agent_call(j->host, j->self, j->task, "code.test", in, result,
	                    code, sizeof code, err, sizeof err);
	json_decref(in);
	if (rc == 0)
		return 0;
	if (!strcmp(code, "bad_input"))
		return job_fail(j, "bad_input", "tests: code.test refused them: "
		                "%s", err);
	return job_fail(j, code, "tests: code.test could not run them on the "
	                "%s code: %s", current ? done_word(j) : "original",
	                err);
}

/* The entry of test `name` in a code.test result, or NULL. */
static const json_t *test_of(const json_t *r, const char *name)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(r, "tests"), i, t) {
		const char *n = json_string_value(json_object_get(t, "name"));
		if (n && !strcmp(n, name))
			return t;
	}
	return NULL;
}

/* Tests that passed before and do not pass after, with their messages,
 * into ev; returns how many. */
static int broken_tests(const json_t *before, const json_t *after,
                        struct buf *ev)
{
	size_t i;
	json_t *t;
	int n = 0;
	json_array_foreach(json_object_get(before, "tests"), i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		const char *was = json_string_value(json_object_get(t, "outcome"));
		if (!name || !was || strcmp(was, "passed"))
			continue;
		const json_t *u = test_of(after, name);
		const char *now = json_string_value(json_object_get(u, "outcome"));
		if (now && !failing(now))
			continue;
		if (n++ < EVIDENCE_TESTS) {
			const char *msg =
				json_string_value(json_object_get(u, "message"));
			buf_printf(ev, "%s%s (%s%s%.200s)", n > 1 ? "; " : "",
			           name, now ? now : "did not run",
			           msg && *msg ? ": " : "", msg ? msg : "");
		}
	}
	if (n > EVIDENCE_TESTS)
		buf_printf(ev, "; and %d more", n - EVIDENCE_TESTS);
	return n;
}

static int verify_tests(struct job *j, json_t *ver)
{
	const json_t *tests = json_object_get(j->in, "tests");
	json_t *after = NULL, *before = NULL, *entry;
	struct buf ev = {0};
	int rc = -1;
	if (!json_is_object(tests))
		return 0;
	if (!json_object_get(tests, "command") &&
	    !json_object_get(tests, "files") &&
	    !json_object_get(tests, "framework"))
		return job_fail(j, "bad_input", "tests: give a command, a "
		                "framework or test files");
	if (run_tests(j, tests, 1, &after) < 0)
		return -1;
	entry = json_object();
	json_object_set_new(ver, "tests", entry);
	json_object_set_new(entry, "after", digest(after));
	if (json_is_true(json_object_get(after, "passed"))) {
		json_object_set_new(entry, "status", json_string("passed"));
		json_decref(after);
		return 0;
	}
	json_object_set_new(entry, "status", json_string("failed"));
	if (j->host->task_cancelled(j->task)) {
		job_fail(j, "cancelled", "the task was cancelled");
		goto out;
	}
	if (run_tests(j, tests, 0, &before) < 0)
		goto out;
	json_object_set_new(entry, "before", digest(before));
	int broken = broken_tests(before, after, &ev);
	int passed_before = json_is_true(json_object_get(before, "passed"));
	json_object_set_new(entry, "failed_before",
	                    json_boolean(!passed_before && !broken));
	if (broken) {
		job_fail(j, "verification_failed", "the %s code breaks tests "
		         "that passed before: %s", done_word(j),
		         ev.p ? ev.p : "");
		goto out;
	}
	if (passed_before) {
		const char *o = json_string_value(json_object_get(after, "stdout"));
		const char *e = json_string_value(json_object_get(after, "stderr"));
		size_t lo = o ? strlen(o) : 0, le = e ? strlen(e) : 0;
		job_fail(j, "verification_failed", "the tests passed before "
		         "and fail on the %s code (exit %" JSON_INTEGER_FORMAT
		         "): %s%s%s", done_word(j),
		         json_integer_value(json_object_get(after, "exit_code")),
		         lo ? o + (lo > 1200 ? lo - 1200 : 0) : "",
		         lo && le ? "\n" : "",
		         le ? e + (le > 800 ? le - 800 : 0) : "");
		goto out;
	}
	rc = 0;
out:
	buf_free(&ev);
	json_decref(after);
	json_decref(before);
	return rc;
}

int verify(struct job *j)
{
	json_t *ver = json_object(), *compile = json_array();
	json_object_set_new(ver, "compile", compile);
	json_object_set_new(j->out, "verification", ver);
	job_progress(j, 1, 3, "verifying");
	if (verify_compile(j, compile) < 0)
		return -1;
	return verify_tests(j, ver);
}
