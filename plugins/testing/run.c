/*
 * run.c -- code.test: check the input, pick the framework, run it in the
 * sandbox (agent_exec) with a small runner script, and turn what comes
 * back (JUnit XML, TAP, unittest text, coverage reports) into the result.
 *
 * The runner script is the same for every framework: it runs an optional
 * build step, then the test command, records the stage and exit code, and
 * measures coverage when asked, all in the sandbox's work dir; reports
 * land in .mcpd-test/, and every other new file is removed at the end so
 * return_files brings back only the reports, not build products.
 */
#include "testing.h"
#include "agent-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_DIR ".mcpd-test"
#define BUILD_DIR "_mcpd_build"
#define MiB (1024LL * 1024)

enum report { REP_JUNIT, REP_TAP, REP_PYUNIT, REP_NONE };
enum cov { COV_NONE, COV_PYTHON, COV_GCOV };

struct framework {
	const char *name;
	const char *language;  /* what it tests; NULL for custom */
	const char *tool;      /* must be on the host's /usr */
	const char *alt_tool;  /* or this one */
	const char *build;     /* build step before the tests, or NULL */
	const char *command;   /* the test command */
	const char *cov_build; /* build step when measuring coverage */
	const char *cov_command; /* test command when measuring coverage */
	enum report report;
	enum cov cov;
	int compiles;          /* a build: larger default limits */
};

#define CMAKE_BUILD                                                          \
	"cmake -S . -B " BUILD_DIR " -DCMAKE_BUILD_TYPE=Debug%s && "          \
	"cmake --build " BUILD_DIR " -j 2"
#define CMAKE_COV                                                            \
	" -DCMAKE_C_FLAGS=--coverage -DCMAKE_CXX_FLAGS=--coverage "           \
	"-DCMAKE_EXE_LINKER_FLAGS=--coverage "                                \
	"-DCMAKE_SHARED_LINKER_FLAGS=--coverage"

static const struct framework frameworks[] = {
	{"pytest", "python", "pytest-3", "pytest", NULL, "python3 -m pytest -v",
	 NULL, "python3 -m coverage run --source=. -m pytest -v", REP_JUNIT, COV_PYTHON,
	 0},
	{"unittest", "python", "python3", NULL, NULL,
	 "python3 -m unittest discover -v", NULL,
	 "python3 -m coverage run --source=. -m unittest discover -v", REP_PYUNIT,
	 COV_PYTHON, 0},
	{"ctest", "c", "ctest", "cmake", NULL,
	 "ctest --test-dir " BUILD_DIR " --output-on-failure "
	 "--output-junit \"$MCPD_OUT/junit.xml\"",
	 NULL, NULL, REP_JUNIT, COV_GCOV, 1},
	{"make", "c", "make", NULL, NULL, "make test", NULL,
	 "make test CC=\"gcc --coverage\" CXX=\"g++ --coverage\"", REP_TAP,
	 COV_GCOV, 1},
	{"prove", "shell", "prove", NULL, NULL, "prove -v --merge -r t", NULL,
	 NULL, REP_TAP, COV_NONE, 0},
	{"bats", "shell", "bats", NULL, NULL, "bats --tap -r .", NULL, NULL,
	 REP_TAP, COV_NONE, 0},
	{"custom", NULL, NULL, NULL, NULL, NULL, NULL, NULL, REP_TAP, COV_NONE,
	 0},
};

/* Debian packages of the tools a test command commonly starts with. */
static const char *const packages[][2] = {
	{"pytest", "python3-pytest"}, {"pytest-3", "python3-pytest"},
	{"python3", "python3"},       {"ctest", "cmake"},
	{"cmake", "cmake"},           {"make", "make"},
	{"prove", "perl"},            {"perl", "perl"},
	{"bats", "bats"},             {"gcc", "gcc"},
	{"cc", "gcc"},                {"g++", "g++"},
	{"gcov", "gcc"},              {"python3-coverage", "python3-coverage"},
	{"nose2", "python3-nose2"},   {"meson", "meson"},
	{"ninja", "ninja-build"},     {"tox", "tox"},
	{"valgrind", "valgrind"},     {"shellcheck", "shellcheck"},
};

static const char *package_of(const char *tool)
{
	for (size_t i = 0; i < sizeof packages / sizeof packages[0]; i++)
		if (!strcmp(packages[i][0], tool))
			return packages[i][1];
	return NULL;
}

const struct framework *framework_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof frameworks / sizeof frameworks[0];
	     i++)
		if (!strcmp(frameworks[i].name, name))
			return &frameworks[i];
	return NULL;
}

const char *framework_name(const struct framework *fw)
{
	return fw->name;
}

/* ---- detection ---- */

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Does makefile text have target `t` ("test:" at a line start)? */
static int make_target(const char *text, const char *t)
{
	size_t n = strlen(t);
	for (const char *l = text; l; l = strchr(l, '\n')) {
		if (*l == '\n')
			l++;
		if (!strncmp(l, t, n) && (l[n] == ':' || l[n] == ' ') &&
		    strchr(l + n, ':') && l[n + strspn(l + n, " ")] == ':')
			return 1;
	}
	return 0;
}

static const char *makefile_of(const json_t *files)
{
	static const char *const names[] = {"GNUmakefile", "makefile",
	                                    "Makefile"};
	for (size_t i = 0; i < 3; i++)
		if (project_text(files, names[i]))
			return project_text(files, names[i]);
	return NULL;
}

struct seen {
	int cmake, python, bats, tap, tap_outside_t, make;
};

static void survey(const json_t *files, struct seen *s)
{
	const char *path;
	json_t *v;

	memset(s, 0, sizeof *s);
	json_object_foreach((json_t *)files, path, v) {
		const char *b = base_name(path);
		if (!strcmp(b, "CMakeLists.txt")) {
			const char *t = project_text(files, path);
			if (t && strstr(t, "add_test"))
				s->cmake = 1;
		} else if ((!strncmp(b, "test_", 5) && has_suffix(b, ".py")) ||
		           has_suffix(b, "_test.py")) {
			s->python = 1;
		} else if (has_suffix(b, ".bats")) {
			s->bats = 1;
		} else if (has_suffix(b, ".t")) {
			s->tap = 1;
			if (strncmp(path, "t/", 2))
				s->tap_outside_t = 1;
		}
	}
	if (!project_text(files, "CMakeLists.txt"))
		s->cmake = 0;
	const char *mk = makefile_of(files);
	s->make = mk && (make_target(mk, "test") || make_target(mk, "check"));
}

const struct framework *framework_detect(const json_t *files,
                                         const char *language, char *err,
                                         size_t errlen)
{
	struct seen s;
	int any = !language, c = any || !strcmp(language, "c") ||
	                         !strcmp(language, "cpp"),
	    py = any || !strcmp(language, "python"),
	    sh = any || !strcmp(language, "shell");

	survey(files, &s);
	if (c && s.cmake)
		return framework_find("ctest");
	if (py && s.python)
		return framework_find(agent_have_tool("pytest-3", NULL, 0) ||
		                                      agent_have_tool("pytest",
		                                                      NULL, 0)
		                              ? "pytest"
		                              : "unittest");
	if (sh && s.bats)
		return framework_find("bats");
	if (sh && s.tap)
		return framework_find("prove");
	if (s.make)
		return framework_find("make");
	snprintf(err, errlen, "framework: no test setup found in the project%s%s"
	         " (looked for CMakeLists.txt with add_test, test_*.py, "
	         "*.bats, *.t, a Makefile with a test target): give "
	         "framework or command", language ? " for language " : "",
	         language ? language : "");
	return NULL;
}

/* ---- input ---- */

struct request {
	const struct framework *fw;
	const char *language;
	const char *command;     /* the user's, or NULL */
	const char *junit_path;  /* the user's, or NULL */
	int coverage;
	json_t *files;           /* sandbox files (owned) */
	json_t *limits;          /* owned */
	json_t *env;             /* owned, may be NULL */
};

static int bad(char *code, size_t codelen, char *err, size_t errlen,
               const char *msg)
{
	snprintf(code, codelen, "bad_input");
	if (msg != err)
		snprintf(err, errlen, "%s", msg);
	return MCPD_E_INVAL;
}

static int path_relative_ok(const char *p)
{
	json_t *probe = json_pack("{s:s}", p, "");
	char e[8];
	json_t *r = project_files_from_input(probe, e, sizeof e);
	int ok = r != NULL;
	json_decref(r);
	json_decref(probe);
	return ok;
}

static const char *const limit_keys[] = {"wall_ms",      "cpu_ms",
                                         "memory_bytes", "pids",
                                         "output_bytes", "file_bytes"};

int testing_check_limits(const json_t *l, const char *field, char *err,
                         size_t errlen)
{
	const char *k;
	json_t *v;

	if (!json_is_object(l)) {
		snprintf(err, errlen, "%s: must be an object", field);
		return -1;
	}
	json_object_foreach((json_t *)l, k, v) {
		size_t i;
		for (i = 0; i < 6 && strcmp(k, limit_keys[i]); i++)
			;
		if (i == 6) {
			snprintf(err, errlen, "%s: unknown limit \"%s\" (known: "
			         "wall_ms, cpu_ms, memory_bytes, pids, "
			         "output_bytes, file_bytes)", field, k);
			return -1;
		}
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			snprintf(err, errlen, "%s.%s: must be a positive "
			         "integer", field, k);
			return -1;
		}
	}
	return 0;
}

static json_t *default_limits(const struct framework *fw,
                              const char *language, const json_t *config)
{
	int build = fw->compiles ||
	            (language && (!strcmp(language, "c") ||
	                          !strcmp(language, "cpp")));
	json_t *l = json_pack("{s:I, s:I, s:I, s:I}", "wall_ms",
	                      (json_int_t)(build ? 120000 : 60000), "cpu_ms",
	                      (json_int_t)(build ? 120000 : 60000),
	                      "memory_bytes",
	                      (json_int_t)(build ? 1024 : 512) * MiB, "pids",
	                      (json_int_t)(build ? 256 : 128));
	json_t *cfg = json_object_get(config, "limits");
	if (json_is_object(cfg))
		json_object_update(l, cfg);
	return l;
}

static int parse_request(const struct mcpd_host *host,
                         struct mcpd_plugin *self, const json_t *in,
                         struct request *r, char *code, size_t codelen,
                         char *err, size_t errlen)
{
	static const char *const keys[] = {
		"files", "path", "language", "framework", "command",
		"junit_path", "coverage", "limits", "env"};
	const json_t *config = host->config(self);
	const char *k;
	json_t *v;

	memset(r, 0, sizeof *r);
	if (!json_is_object(in))
		return bad(code, codelen, err, errlen,
		           "input: must be an object");
	json_object_foreach((json_t *)in, k, v) {
		size_t i;
		for (i = 0; i < sizeof keys / sizeof keys[0] &&
		            strcmp(k, keys[i]);
		     i++)
			;
		if (i == sizeof keys / sizeof keys[0]) {
			snprintf(err, errlen, "%s: unknown field", k);
			return bad(code, codelen, err, errlen, err);
		}
	}
	const json_t *files = json_object_get(in, "files");
	const json_t *path = json_object_get(in, "path");
	if (!files == !path)
		return bad(code, codelen, err, errlen,
		           "files, path: give the project either inline as "
		           "files or as a directory path, not both");
	v = json_object_get(in, "language");
	if (v) {
		r->language = json_string_value(v);
		if (!r->language || (strcmp(r->language, "c") &&
		                     strcmp(r->language, "cpp") &&
		                     strcmp(r->language, "python") &&
		                     strcmp(r->language, "shell")))
			return bad(code, codelen, err, errlen,
			           "language: must be one of c, cpp, python, "
			           "shell");
	}
	v = json_object_get(in, "command");
	if (v) {
		r->command = json_string_value(v);
		if (!r->command || !r->command[strspn(r->command, " \t\n")])
			return bad(code, codelen, err, errlen,
			           "command: must be a non-empty string (a "
			           "shell command line)");
	}
	v = json_object_get(in, "framework");
	if (v) {
		r->fw = framework_find(json_string_value(v));
		if (!r->fw)
			return bad(code, codelen, err, errlen,
			           "framework: must be one of pytest, unittest, "
			           "ctest, make, prove, bats, custom");
		if (!strcmp(r->fw->name, "custom") && !r->command)
			return bad(code, codelen, err, errlen,
			           "command: framework custom needs a command");
	} else if (r->command) {
		r->fw = framework_find("custom");
	}
	v = json_object_get(in, "junit_path");
	if (v) {
		r->junit_path = json_string_value(v);
		if (!r->junit_path || !path_relative_ok(r->junit_path) ||
		    strchr(r->junit_path, '\''))
			return bad(code, codelen, err, errlen,
			           "junit_path: must be a relative path inside "
			           "the project");
	}
	v = json_object_get(in, "coverage");
	if (v && !json_is_boolean(v))
		return bad(code, codelen, err, errlen,
		           "coverage: must be a boolean");
	r->coverage = json_is_true(v);
	v = json_object_get(in, "limits");
	if (v && testing_check_limits(v, "limits", err, errlen))
		return bad(code, codelen, err, errlen, err);
	v = json_object_get(in, "env");
	if (v) {
		const char *ek;
		json_t *ev;
		if (!json_is_object(v))
			return bad(code, codelen, err, errlen,
			           "env: must be an object of strings");
		json_object_foreach(v, ek, ev)
			if (!json_is_string(ev)) {
				snprintf(err, errlen, "env.%s: must be a "
				         "string", ek);
				return bad(code, codelen, err, errlen, err);
			}
		r->env = json_deep_copy(v);
	}

	if (files) {
		r->files = project_files_from_input(files, err, errlen);
	} else {
		char real[4096];
		const char *p = json_string_value(path);
		struct project_limits lim = {2000, 32 * MiB};
		json_t *mf = json_object_get(config, "max_files");
		json_t *mb = json_object_get(config, "max_bytes");
		if (json_is_integer(mf) && json_integer_value(mf) > 0)
			lim.max_files = (long)json_integer_value(mf);
		if (json_is_integer(mb) && json_integer_value(mb) > 0)
			lim.max_bytes = json_integer_value(mb);
		if (!p)
			return bad(code, codelen, err, errlen,
			           "path: must be a string");
		if (project_path_allowed(config, p, real, sizeof real, err,
		                         errlen))
			return bad(code, codelen, err, errlen, err);
		r->files = project_read_dir(real, &lim, err, errlen);
	}
	if (!r->files)
		return bad(code, codelen, err, errlen, err);
	if (!r->fw) {
		r->fw = framework_detect(r->files, r->language, err, errlen);
		if (!r->fw)
			return bad(code, codelen, err, errlen, err);
	}
	r->limits = default_limits(r->fw, r->language, config);
	v = json_object_get(in, "limits");
	if (v)
		json_object_update(r->limits, v);
	return 0;
}

static void request_free(struct request *r)
{
	json_decref(r->files);
	json_decref(r->limits);
	json_decref(r->env);
}

/* ---- tools ---- */

/* The program a shell command line starts with, when it is a plain word
 * naming a program (not a builtin, a path, or something expanded). */
static int first_program(const char *cmd, char *out, size_t outlen)
{
	static const char *const builtins[] = {
		"cd", "exec", "export", "set", "unset", "true", "false", "test",
		"[", "echo", "printf", "if", "for", "while", "until", "case",
		"{", "!", ".", "source", "exit", "eval", "command", "time",
		"read", "trap", "umask", "ulimit", "wait", "shift", "type"};
	const char *p = cmd;

	for (;;) {
		p += strspn(p, " \t\n");
		size_t n = strcspn(p, " \t\n;|&<>()`$'\"\\");
		if (!n)
			return 0;
		/* VAR=value assignments before the program */
		const char *eq = memchr(p, '=', n);
		if (eq && eq != p) {
			p += n;
			if (strchr(" \t\n", *p) && *p)
				continue;
			return 0;
		}
		if (memchr(p, '/', n) || memchr(p, '*', n) || memchr(p, '?', n))
			return 0;
		if (n >= outlen)
			return 0;
		snprintf(out, outlen, "%.*s", (int)n, p);
		for (size_t i = 0; i < sizeof builtins / sizeof builtins[0];
		     i++)
			if (!strcmp(out, builtins[i]))
				return 0;
		return 1;
	}
}

static int tool_missing(const char *tool, const char *why, char *code,
                        size_t codelen, char *err, size_t errlen)
{
	const char *pkg = package_of(tool);

	snprintf(code, codelen, "tool_missing");
	if (pkg)
		snprintf(err, errlen, "%s is not installed on this host (%s); "
		         "install it with: apt-get install %s", tool, why, pkg);
	else
		snprintf(err, errlen, "%s is not installed on this host (%s); "
		         "install the package that provides it", tool, why);
	return MCPD_E_FAILED;
}

static int check_tools(const struct request *r, char *code, size_t codelen,
                       char *err, size_t errlen)
{
	char prog[256], why[300];
	const struct framework *fw = r->fw;

	if (fw->tool && !agent_have_tool(fw->tool, NULL, 0) &&
	    !(fw->alt_tool && agent_have_tool(fw->alt_tool, NULL, 0))) {
		snprintf(why, sizeof why, "framework %s needs it", fw->name);
		return tool_missing(fw->tool, why, code, codelen, err, errlen);
	}
	if (r->command && first_program(r->command, prog, sizeof prog) &&
	    !agent_have_tool(prog, NULL, 0)) {
		snprintf(why, sizeof why, "the test command starts with it; "
		         "the sandbox sees the host's /usr");
		return tool_missing(prog, why, code, codelen, err, errlen);
	}
	return 0;
}

/* ---- the runner ---- */

static const char runner[] =
	"MCPD_OUT=\"$PWD/" OUT_DIR "\"; export MCPD_OUT\n"
	"mkdir -p \"$MCPD_OUT\" || exit 125\n"
	"pwd > \"$MCPD_OUT/root\"\n"
	"export PYTHONDONTWRITEBYTECODE=1\n"
	"if [ \"$4\" = junit ]; then\n"
	"  PYTEST_ADDOPTS=\"${PYTEST_ADDOPTS:+$PYTEST_ADDOPTS }-p "
	"no:cacheprovider --junitxml=$MCPD_OUT/junit.xml\"\n"
	"  export PYTEST_ADDOPTS\n"
	"fi\n"
	"rc=0\n"
	"if [ -n \"$2\" ]; then\n"
	"  echo build > \"$MCPD_OUT/stage\"\n"
	"  sh -c \"$2\"; rc=$?\n"
	"fi\n"
	"if [ $rc -eq 0 ]; then\n"
	"  echo test > \"$MCPD_OUT/stage\"\n"
	"  sh -c \"$1\"; rc=$?\n"
	"fi\n"
	"case $3 in\n"
	"python)\n"
	"  python3 -m coverage json -o \"$MCPD_OUT/coverage.json\" "
	">\"$MCPD_OUT/coverage.log\" 2>&1 ;;\n"
	"gcov)\n"
	"  find . -name '*.gcda' ! -path './" OUT_DIR "/*' | sort > "
	"\"$MCPD_OUT/gcda.list\"\n"
	"  n=0\n"
	"  while IFS= read -r f; do\n"
	"    n=$((n + 1))\n"
	"    (cd \"${f%/*}\" && gcov -j -t \"${f##*/}\") "
	">\"$MCPD_OUT/gcov-$n.json\" 2>>\"$MCPD_OUT/coverage.log\"\n"
	"  done < \"$MCPD_OUT/gcda.list\"\n"
	"  rm -f \"$MCPD_OUT/gcda.list\" ;;\n"
	"esac\n"
	"find . -mindepth 1 -maxdepth 1 ! -name " OUT_DIR
	" -exec rm -rf {} +\n"
	"exit $rc\n";

/* The commands to run (build may be NULL), and which coverage. */
struct plan {
	char *command;
	char *shown;     /* the command as reported (before the runner's
	                    additions) */
	char *build;
	enum cov cov;
	const char *cov_skipped; /* why coverage is not measured */
};

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char *cmake_build(int cov)
{
	size_t n = sizeof CMAKE_BUILD + sizeof CMAKE_COV;
	char *b = malloc(n);
	if (b)
		snprintf(b, n, CMAKE_BUILD, cov ? CMAKE_COV : "");
	return b;
}

static void make_plan(const struct request *r, struct plan *p)
{
	const struct framework *fw = r->fw;
	int cov = r->coverage && fw->cov != COV_NONE;

	memset(p, 0, sizeof *p);
	if (r->command) {
		p->command = xstrdup(r->command);
		/* Coverage needs to wrap the command: possible for a
		 * "python3 -m ..." command of the Python frameworks. */
		if (cov && fw->cov == COV_PYTHON &&
		    !strncmp(r->command, "python3 -m ", 11)) {
			size_t n = strlen(r->command) + 32;
			char *c = malloc(n);
			if (c)
				snprintf(c, n, "python3 -m coverage run --source=. %s",
				         r->command + 8);
			free(p->command);
			p->command = c;
			p->cov = COV_PYTHON;
		} else if (cov) {
			p->cov_skipped = "coverage is measured only for the "
			                 "framework's own command (or a "
			                 "\"python3 -m ...\" command)";
		}
		return;
	}
	if (!strcmp(fw->name, "ctest"))
		p->build = cmake_build(cov);
	else
		p->build = xstrdup(cov && fw->cov_build ? fw->cov_build
		                                        : fw->build);
	if (!strcmp(fw->name, "prove")) {
		struct seen s;
		survey(r->files, &s);
		p->command = xstrdup(s.tap_outside_t ? "prove -v --merge -r ."
		                                     : fw->command);
	} else if (!strcmp(fw->name, "make")) {
		const char *mk = makefile_of(r->files);
		int check = mk && !make_target(mk, "test") &&
		            make_target(mk, "check");
		const char *c = cov ? fw->cov_command : fw->command;
		p->command = xstrdup(c);
		if (check && p->command)
			memcpy(p->command, "make check", 10);
	} else {
		p->command = xstrdup(cov && fw->cov_command ? fw->cov_command
		                                            : fw->command);
	}
	if (cov)
		p->cov = fw->cov;
	else if (r->coverage)
		p->cov_skipped = "coverage is measured for pytest and unittest "
		                 "(python3-coverage) and for ctest and make "
		                 "(gcov)";
}

static void plan_free(struct plan *p)
{
	free(p->command);
	free(p->shown);
	free(p->build);
}

/* ---- results ---- */

static const char *returned(const json_t *files, const char *name)
{
	char path[256];
	snprintf(path, sizeof path, OUT_DIR "/%s", name);
	return json_string_value(json_object_get(files, path));
}

static int has_tap(const char *text)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n')) {
		if (*l == '\n')
			l++;
		if (!strncmp(l, "ok", 2) || !strncmp(l, "not ok", 6) ||
		    !strncmp(l, "1..", 3))
			return 1;
	}
	return 0;
}

/* Fill "tests" and "report" from what the run left. */
static void parse_results(const struct request *r, const json_t *res,
                          json_t *out)
{
	const json_t *files = json_object_get(res, "files");
	const char *stdout_text = json_string_value(
		json_object_get(res, "stdout"));
	const char *stderr_text = json_string_value(
		json_object_get(res, "stderr"));
	json_t *tests = json_array();
	const char *report = "none";
	char err[512];
	const char *junit = NULL;

	int expect = r->junit_path ||
	             (r->fw->report == REP_JUNIT &&
	              (!r->command || !strcmp(r->fw->name, "pytest")));

	if (r->junit_path)
		junit = returned(files, "junit-user.xml");
	else if (expect)
		junit = returned(files, "junit.xml");
	if (junit) {
		if (junit_parse(junit, strlen(junit), tests, err, sizeof err)) {
			json_array_clear(tests);
			json_object_set_new(out, "report_error",
			                    json_string(err));
		} else {
			report = "junit";
		}
	} else if (expect) {
		json_object_set_new(
			out, "report_error",
			json_string(r->junit_path
			                    ? "the command wrote no file at "
			                      "junit_path"
			                    : "the run wrote no JUnit report"));
	}
	if (!strcmp(report, "none")) {
		if (r->fw->report == REP_PYUNIT) {
			pyunit_parse(stderr_text, tests);
			report = "unittest";
		} else if (!strcmp(r->fw->name, "ctest")) {
			ctest_text_parse(stdout_text, tests);
			if (json_array_size(tests))
				report = "ctest";
		} else if (has_tap(stdout_text)) {
			tap_parse(stdout_text, tests);
			report = "tap";
		}
	}
	json_object_set_new(out, "report", json_string(report));
	json_object_set_new(out, "tests", tests);
}

static void summarise(json_t *out, const json_t *res)
{
	json_int_t n[4] = {0, 0, 0, 0};
	static const char *const names[] = {OUTCOME_PASSED, OUTCOME_FAILED,
	                                    OUTCOME_SKIPPED, OUTCOME_ERROR};
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(out, "tests"), i, e) {
		const char *o = json_string_value(json_object_get(e, "outcome"));
		for (int k = 0; k < 4; k++)
			if (o && !strcmp(o, names[k]))
				n[k]++;
	}
	json_object_set_new(out, "summary",
	                    json_pack("{s:I, s:I, s:I, s:I, s:I}", "total",
	                              n[0] + n[1] + n[2] + n[3], "passed",
	                              n[0], "failed", n[1], "skipped", n[2],
	                              "errors", n[3]));
	const json_t *ec = json_object_get(res, "exit_code");
	int passed = json_is_integer(ec) && json_integer_value(ec) == 0 &&
	             !n[1] && !n[3] &&
	             !json_is_string(json_object_get(res, "killed_by"));
	json_object_set_new(out, "passed", json_boolean(passed));
}

static json_t *coverage_result(const struct plan *p, const json_t *res)
{
	const json_t *files = json_object_get(res, "files");
	json_t *cov = NULL;
	const char *tool = p->cov == COV_PYTHON ? "python3-coverage" : "gcov";

	if (p->cov == COV_PYTHON) {
		cov = coverage_py_summary(returned(files, "coverage.json"));
	} else {
		json_t *texts = json_array();
		char name[64];
		for (int i = 1;; i++) {
			snprintf(name, sizeof name, "gcov-%d.json", i);
			const char *t = returned(files, name);
			if (!t)
				break;
			json_array_append_new(texts, json_string(t));
		}
		const char *root = returned(files, "root");
		char rootbuf[4096];
		snprintf(rootbuf, sizeof rootbuf, "%s", root ? root : "/work");
		rootbuf[strcspn(rootbuf, "\n")] = '\0';
		if (json_array_size(texts))
			cov = coverage_gcov_summary(texts, rootbuf);
		json_decref(texts);
	}
	if (!cov) {
		const char *log = returned(files, "coverage.log");
		return json_pack("{s:s, s:s, s:s}", "tool", tool, "status",
		                 "failed", "reason",
		                 log && *log ? log
		                             : "no coverage data was written");
	}
	json_object_set_new(cov, "tool", json_string(tool));
	json_object_set_new(cov, "status", json_string("ran"));
	return cov;
}

static json_t *build_output(const struct request *r, const struct plan *p,
                            const json_t *res)
{
	const json_t *files = json_object_get(res, "files");
	const char *stage = returned(files, "stage");
	json_t *out = json_pack(
		"{s:s, s:s, s:O, s:O, s:O, s:O}", "framework", r->fw->name,
		"command", p->shown ? p->shown : "", "exit_code",
		json_object_get(res, "exit_code"), "signal",
		json_object_get(res, "signal"), "killed_by",
		json_object_get(res, "killed_by"), "wall_ms",
		json_object_get(res, "wall_ms"));

	if (!out)
		return NULL;
	if (p->build)
		json_object_set_new(out, "build_command", json_string(p->build));
	json_object_set_new(out, "stage",
	                    json_string(stage && !strncmp(stage, "build", 5)
	                                        ? "build"
	                                        : "test"));
	parse_results(r, res, out);
	summarise(out, res);
	json_object_set(out, "stdout", json_object_get(res, "stdout"));
	json_object_set(out, "stderr", json_object_get(res, "stderr"));
	if (json_is_true(json_object_get(res, "stdout_truncated")) ||
	    json_is_true(json_object_get(res, "stderr_truncated")))
		json_object_set_new(out, "output_truncated", json_true());
	if (p->cov != COV_NONE)
		json_object_set_new(out, "coverage", coverage_result(p, res));
	else if (p->cov_skipped)
		json_object_set_new(out, "coverage",
		                    json_pack("{s:s, s:s}", "status", "skipped",
		                              "reason", p->cov_skipped));
	return out;
}

/* The coverage tool, when measuring: missing means skipped, not failed. */
static void check_cov_tool(struct plan *p)
{
	if (p->cov == COV_PYTHON && !agent_have_tool("python3-coverage", NULL,
	                                             0)) {
		p->cov = COV_NONE;
		p->cov_skipped = "python3-coverage is not installed on this "
		                 "host; install it with: apt-get install "
		                 "python3-coverage";
	} else if (p->cov == COV_GCOV && !agent_have_tool("gcov", NULL, 0)) {
		p->cov = COV_NONE;
		p->cov_skipped = "gcov is not installed on this host; install "
		                 "it with: apt-get install gcc";
	}
}

static json_t *sandbox_request(const struct request *r,
                               const struct plan *p)
{
	json_t *files = json_deep_copy(r->files);

	json_t *req = json_pack(
		"{s:[s, s, s, s, s, s, s, s], s:o, s:O, s:b}", "argv", "sh",
		"-c", runner, "mcpd-test", p->command ? p->command : "true",
		p->build ? p->build : "",
		p->cov == COV_PYTHON ? "python"
		: p->cov == COV_GCOV ? "gcov"
		                     : "none",
		!strcmp(r->fw->name, "pytest") ? "junit" : "",
		"files", files, "limits", r->limits, "return_files", 1);
	if (req && r->env)
		json_object_set(req, "env", r->env);
	return req;
}

/* A user junit_path is copied into the report dir after the command. */
static char *with_junit_copy(const char *cmd, const char *junit_path)
{
	size_t n = strlen(cmd) + 2 * strlen(junit_path) + 128;
	char *c = malloc(n);
	if (c)
		snprintf(c, n,
		         "%s\nrc=$?\n[ -f '%s' ] && cp '%s' "
		         "\"$MCPD_OUT/junit-user.xml\"\nexit $rc",
		         cmd, junit_path, junit_path);
	return c;
}

int testing_run(const struct mcpd_host *host, struct mcpd_plugin *self,
                struct mcpd_task *task, const json_t *input, json_t **result,
                char *code, size_t codelen, char *err, size_t errlen)
{
	struct request r;
	struct plan p;
	json_t *res = NULL;
	char msg[160];
	int rc;

	*result = NULL;
	code[0] = err[0] = '\0';
	rc = parse_request(host, self, input, &r, code, codelen, err, errlen);
	if (rc) {
		request_free(&r);
		return rc;
	}
	rc = check_tools(&r, code, codelen, err, errlen);
	if (rc) {
		request_free(&r);
		return rc;
	}
	make_plan(&r, &p);
	check_cov_tool(&p);
	p.shown = p.command ? strdup(p.command) : NULL;
	if (r.junit_path && p.command) {
		char *c = with_junit_copy(p.command, r.junit_path);
		if (c) {
			free(p.command);
			p.command = c;
		}
	}
	if (task) {
		snprintf(msg, sizeof msg, "running %s in the sandbox",
		         r.fw->name);
		host->task_progress(task, 0, 1, msg);
	}
	rc = agent_exec(host, self, task, sandbox_request(&r, &p), &res, err,
	                errlen);
	if (rc) {
		snprintf(code, codelen, "%s",
		         rc == MCPD_E_INVAL       ? "bad_input"
		         : rc == MCPD_E_CANCELLED ? "cancelled"
		         : rc == MCPD_E_NOTFOUND  ? "no_sandbox"
		                                  : "sandbox_failed");
	} else {
		*result = build_output(&r, &p, res);
		if (!*result) {
			snprintf(code, codelen, "failed");
			snprintf(err, errlen, "out of memory");
			rc = MCPD_E_NOMEM;
		}
	}
	json_decref(res);
	plan_free(&p);
	request_free(&r);
	return rc;
}
