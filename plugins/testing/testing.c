/*
 * testing: the code.test agent -- runs a project's tests (pytest, python
 * -m unittest, ctest, make test, prove, bats, or a custom command) in the
 * sandbox and reports per-test outcomes and coverage -- and
 * code.test.generate, which has code.generate write test skeletons.
 *
 * code.test is also offered in process (agent.h) so that code.generate's
 * refine loop can run tests on its own worker thread.
 */
#include "testing.h"
#include "agent-common.h"

#include <string.h>

/* Per generation (each reload loads a private copy with its own). */
static const struct mcpd_host *host;
static struct mcpd_plugin *plugin;

#define LIMITS_SCHEMA                                                        \
	"{\"type\":\"object\",\"additionalProperties\":false,"                \
	"\"description\":\"sandbox limits for the run (defaults: 60 s wall "  \
	"and cpu, 512 MiB, 128 pids; builds with ctest/make or language c: "  \
	"120 s, 1 GiB, 256 pids; capped by the sandbox driver's max)\","      \
	"\"properties\":{"                                                    \
	"\"wall_ms\":{\"type\":\"integer\",\"minimum\":1},"                   \
	"\"cpu_ms\":{\"type\":\"integer\",\"minimum\":1},"                    \
	"\"memory_bytes\":{\"type\":\"integer\",\"minimum\":1},"              \
	"\"pids\":{\"type\":\"integer\",\"minimum\":1},"                      \
	"\"output_bytes\":{\"type\":\"integer\",\"minimum\":1},"              \
	"\"file_bytes\":{\"type\":\"integer\",\"minimum\":1}}}"

#define FILES_SCHEMA                                                         \
	"{\"type\":\"object\",\"description\":\"the project: relative path "  \
	"-> content (text; or {content|base64, executable}); scripts "        \
	"starting with #! are made executable\","                             \
	"\"additionalProperties\":{\"oneOf\":[{\"type\":\"string\"},"         \
	"{\"type\":\"object\",\"properties\":{"                               \
	"\"content\":{\"type\":\"string\"},\"base64\":{\"type\":\"string\"}," \
	"\"executable\":{\"type\":\"boolean\"}},"                             \
	"\"additionalProperties\":false}]}}"

static const char test_input_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,"
	"\"properties\":{"
	"\"files\":" FILES_SCHEMA ","
	"\"path\":{\"type\":\"string\",\"description\":\"an absolute "
	"directory on the daemon's host, below one of the config's "
	"allowed_paths (instead of files)\"},"
	"\"language\":{\"enum\":[\"c\",\"cpp\",\"python\",\"shell\"]},"
	"\"framework\":{\"enum\":[\"pytest\",\"unittest\",\"ctest\",\"make\","
	"\"prove\",\"bats\",\"custom\"],\"description\":\"detected from the "
	"files when absent\"},"
	"\"command\":{\"type\":\"string\",\"minLength\":1,\"description\":"
	"\"a shell command line run instead of the framework's own; TAP on "
	"its stdout is parsed, or the JUnit file at junit_path\"},"
	"\"junit_path\":{\"type\":\"string\",\"description\":\"relative "
	"path of a JUnit XML report the command writes\"},"
	"\"coverage\":{\"type\":\"boolean\",\"description\":\"measure line "
	"coverage: gcov (ctest, make) or python3-coverage (pytest, "
	"unittest)\"},"
	"\"limits\":" LIMITS_SCHEMA ","
	"\"env\":{\"type\":\"object\",\"additionalProperties\":"
	"{\"type\":\"string\"}}}}";

static const char test_output_schema[] =
	"{\"type\":\"object\","
	"\"required\":[\"framework\",\"command\",\"exit_code\",\"passed\","
	"\"summary\",\"tests\",\"stdout\",\"stderr\"],"
	"\"properties\":{"
	"\"framework\":{\"type\":\"string\"},"
	"\"command\":{\"type\":\"string\"},"
	"\"build_command\":{\"type\":\"string\"},"
	"\"stage\":{\"enum\":[\"build\",\"test\"]},"
	"\"exit_code\":{\"type\":[\"integer\",\"null\"]},"
	"\"signal\":{\"type\":[\"string\",\"null\"]},"
	"\"killed_by\":{\"type\":[\"string\",\"null\"]},"
	"\"wall_ms\":{\"type\":\"integer\"},"
	"\"passed\":{\"type\":\"boolean\"},"
	"\"report\":{\"enum\":[\"junit\",\"tap\",\"unittest\",\"ctest\","
	"\"none\"]},"
	"\"report_error\":{\"type\":\"string\"},"
	"\"summary\":{\"type\":\"object\",\"required\":[\"total\",\"passed\","
	"\"failed\",\"skipped\",\"errors\"],\"properties\":{"
	"\"total\":{\"type\":\"integer\"},\"passed\":{\"type\":\"integer\"},"
	"\"failed\":{\"type\":\"integer\"},\"skipped\":{\"type\":\"integer\"},"
	"\"errors\":{\"type\":\"integer\"}}},"
	"\"tests\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"required\":[\"name\",\"outcome\"],\"properties\":{"
	"\"name\":{\"type\":\"string\"},"
	"\"outcome\":{\"enum\":[\"passed\",\"failed\",\"skipped\",\"error\"]},"
	"\"message\":{\"type\":\"string\"},"
	"\"details\":{\"type\":\"string\"},"
	"\"duration_ms\":{\"type\":\"number\"},"
	"\"classname\":{\"type\":\"string\"},"
	"\"file\":{\"type\":\"string\"},"
	"\"number\":{\"type\":\"integer\"},"
	"\"todo\":{\"type\":\"boolean\"}}}},"
	"\"stdout\":{\"type\":\"string\"},"
	"\"stderr\":{\"type\":\"string\"},"
	"\"output_truncated\":{\"type\":\"boolean\"},"
	"\"coverage\":{\"type\":\"object\",\"required\":[\"status\"],"
	"\"properties\":{"
	"\"status\":{\"enum\":[\"ran\",\"skipped\",\"failed\"]},"
	"\"tool\":{\"type\":\"string\"},\"reason\":{\"type\":\"string\"},"
	"\"files\":{\"type\":\"object\",\"additionalProperties\":{"
	"\"type\":\"object\",\"properties\":{"
	"\"lines\":{\"type\":\"integer\"},\"covered\":{\"type\":\"integer\"},"
	"\"percent\":{\"type\":\"number\"},"
	"\"missing\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}}}},"
	"\"totals\":{\"type\":\"object\"}}}}}";

static const char gen_input_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,"
	"\"required\":[\"language\",\"functions\"],"
	"\"properties\":{"
	"\"language\":{\"enum\":[\"c\",\"python\",\"shell\"]},"
	"\"functions\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":50,"
	"\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
	"\"required\":[\"name\"],\"properties\":{"
	"\"name\":{\"type\":\"string\",\"minLength\":1},"
	"\"signature\":{\"type\":\"string\"},"
	"\"description\":{\"type\":\"string\"}}}},"
	"\"files\":{\"type\":\"object\",\"description\":\"existing code "
	"(path -> content) the tests are for\","
	"\"additionalProperties\":{\"type\":\"string\"}},"
	"\"backend\":{\"enum\":[\"template\",\"llm\"],\"description\":"
	"\"code.generate backend (default template)\"}}}";

static const char gen_output_schema[] =
	"{\"type\":\"object\",\"required\":[\"language\",\"backend\","
	"\"files\",\"functions\"],\"properties\":{"
	"\"language\":{\"type\":\"string\"},\"backend\":{\"type\":\"string\"},"
	"\"files\":{\"type\":\"object\",\"additionalProperties\":"
	"{\"type\":\"string\"}},"
	"\"functions\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"properties\":{\"name\":{\"type\":\"string\"},"
	"\"files\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}},"
	"\"conflicts\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}";

typedef int (*runner_fn)(const struct mcpd_host *, struct mcpd_plugin *,
                         struct mcpd_task *, const json_t *, json_t **,
                         char *, size_t, char *, size_t);

static int handle(struct mcpd_task *task, runner_fn fn)
{
	json_t *result = NULL;
	char code[64], err[1024];
	int rc = fn(host, plugin, task, host->task_input(task), &result, code,
	            sizeof code, err, sizeof err);

	if (rc) {
		agent_fail(host, task, rc, code, err);
		return 0;
	}
	return host->task_complete(task, result);
}

static int test_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	return handle(task, testing_run);
}

static int generate_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	return handle(task, testing_generate);
}

/* The in-process entry (agent.h): the same code as the task handler. */
static int agent_entry(void *impl, struct mcpd_task *caller,
                       const char *capability, const json_t *input,
                       json_t **result, char *code, size_t codelen,
                       char *err, size_t errlen)
{
	(void)impl;
	*result = NULL;
	if (!strcmp(capability, "code.test"))
		return testing_run(host, plugin, caller, input, result, code,
		                   codelen, err, errlen);
	snprintf(code, codelen, "no_provider");
	snprintf(err, errlen, "this plugin offers code.test, not %s",
	         capability);
	return MCPD_E_NOTFOUND;
}

static const struct mcpd_agent agent_vt = {
	{sizeof(struct mcpd_agent), MCPD_AGENT_MAJOR, MCPD_AGENT_MINOR},
	NULL,
	agent_entry,
};

static int testing_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def test = {
		.size = sizeof test,
		.name = "code.test",
		.version = "1.0",
		.title = "Run a project's tests",
		.description =
			"Runs the tests of a project (inline files or an allowed "
			"directory) in the sandbox with pytest, python -m "
			"unittest, ctest, make test, prove, bats or a custom "
			"command (detected when not given), and reports "
			"per-test outcomes (passed, failed, skipped, error) with "
			"messages and durations from JUnit XML or TAP, plus line "
			"coverage per file (gcov, python3-coverage) on request.",
		.input_schema = test_input_schema,
		.output_schema = test_output_schema,
		.attributes = "{\"languages\":[\"c\",\"cpp\",\"python\","
		              "\"shell\"],\"frameworks\":[\"pytest\","
		              "\"unittest\",\"ctest\",\"make\",\"prove\","
		              "\"bats\",\"custom\"]}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = test_handle,
	};
	struct mcpd_capability_def gen = {
		.size = sizeof gen,
		.name = "code.test.generate",
		.version = "1.0",
		.title = "Write test skeletons",
		.description =
			"Writes test skeletons for the given functions (a TAP "
			"test for C, pytest for Python, a TAP script for shell) "
			"through code.generate with target \"tests\".",
		.input_schema = gen_input_schema,
		.output_schema = gen_output_schema,
		.attributes = "{\"languages\":[\"c\",\"python\",\"shell\"]}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = generate_handle,
	};
	const json_t *cfg;
	const char *k;
	json_t *v;
	int rc;

	host = h;
	plugin = self;
	cfg = host->config(self);
	json_object_foreach((json_t *)cfg, k, v) {
		if (strcmp(k, "sandbox_driver") && strcmp(k, "allowed_paths") &&
		    strcmp(k, "limits") && strcmp(k, "max_files") &&
		    strcmp(k, "max_bytes")) {
			host->log(self, MCPD_LOG_ERROR, "config: unknown key "
			          "\"%s\" (known: sandbox_driver, allowed_paths, "
			          "limits, max_files, max_bytes)", k);
			return MCPD_E_INVAL;
		}
	}
	char err[256];
	v = json_object_get(cfg, "limits");
	if (v && testing_check_limits(v, "config: limits", err, sizeof err)) {
		host->log(self, MCPD_LOG_ERROR, "%s", err);
		return MCPD_E_INVAL;
	}
	v = json_object_get(cfg, "allowed_paths");
	if (v && !json_is_array(v)) {
		host->log(self, MCPD_LOG_ERROR,
		          "config: allowed_paths must be an array of paths");
		return MCPD_E_INVAL;
	}
	if ((rc = host->capability_add(self, &test)) ||
	    (rc = host->capability_add(self, &gen)))
		return rc;
	if (MCPD_HOST_HAS(host, service_provide) &&
	    (rc = host->service_provide(self, "code.test", &agent_vt)))
		return rc;
	return 0;
}

MCPD_PLUGIN("testing", "1.0.0",
            "code.test: run tests in the sandbox, per-test outcomes and "
            "coverage; code.test.generate: test skeletons",
            0, testing_init, NULL)
