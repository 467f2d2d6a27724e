/*
 * security: the security agent.
 *
 *   security.scan           bandit, flawfinder, cppcheck (security checks)
 *                           in the sandbox, plus a built-in secret
 *                           detector -> findings + SARIF 2.1.0
 *   security.check_command  the pre-execution validator: parse a shell
 *                           command line, classify what it does, answer
 *                           allow / deny / needs_approval with reasons
 *
 * Config block ("plugins": {"security": {...}}), every key optional:
 *   sandbox_driver   sandbox plugin for the tools (default: the daemon's)
 *   allowed_dirs     directories security.scan may read via "path"
 *   check_command    {allow: [...], deny: [...], allowed_paths: [...],
 *                     cwd: "/abs", default: "needs_approval"}
 */
#include "security.h"

#include <agent-common.h>
#include <stdio.h>
#include <string.h>

#define MAX_COMMAND_BYTES 65536

static const struct mcpd_host *host;
static struct mcpd_plugin *plugin;

/* ---------------------------------------------------------------- schemas */

#define FINDING_SCHEMA                                                        \
	"{\"type\":\"object\",\"required\":[\"tool\",\"rule\",\"severity\","  \
	"\"file\",\"line\",\"column\",\"message\"],\"properties\":{"          \
	"\"tool\":{\"type\":\"string\"},\"rule\":{\"type\":\"string\"},"      \
	"\"severity\":{\"enum\":[\"error\",\"warning\",\"note\"]},"           \
	"\"file\":{\"type\":\"string\"},\"line\":{\"type\":\"integer\"},"     \
	"\"column\":{\"type\":\"integer\"},\"message\":{\"type\":\"string\"},"\
	"\"snippet\":{\"type\":\"string\",\"description\":\"the line with "   \
	"the secret redacted (secret findings)\"},"                            \
	"\"help_uri\":{\"type\":\"string\"}}}"

static const char scan_in[] =
	"{\"type\":\"object\",\"additionalProperties\":false,"
	"\"properties\":{"
	"\"files\":{\"type\":\"object\",\"description\":\"relative path -> "
	"file content\",\"additionalProperties\":{\"type\":\"string\"}},"
	"\"path\":{\"type\":\"string\",\"minLength\":1,\"description\":"
	"\"absolute file or directory on the daemon's host, inside the "
	"config's allowed_dirs\"},"
	"\"tools\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"enum\":["
	"\"bandit\",\"flawfinder\",\"cppcheck\",\"secrets\"]},\"description\":"
	"\"analyzers to run (default: all)\"},"
	"\"limits\":{\"type\":\"object\",\"description\":\"sandbox limits "
	"for each tool run (wall_ms, memory_bytes...)\",\"properties\":{"
	"\"wall_ms\":{\"type\":\"integer\",\"minimum\":1},"
	"\"cpu_ms\":{\"type\":\"integer\",\"minimum\":1},"
	"\"memory_bytes\":{\"type\":\"integer\",\"minimum\":1},"
	"\"pids\":{\"type\":\"integer\",\"minimum\":1},"
	"\"output_bytes\":{\"type\":\"integer\",\"minimum\":1},"
	"\"file_bytes\":{\"type\":\"integer\",\"minimum\":1}},"
	"\"additionalProperties\":false}}}";

static const char scan_out[] =
	"{\"type\":\"object\",\"required\":[\"findings\",\"sarif\","
	"\"analyzers\",\"summary\"],\"properties\":{"
	"\"findings\":{\"type\":\"array\",\"items\":" FINDING_SCHEMA "},"
	"\"sarif\":{\"type\":\"object\",\"description\":\"SARIF 2.1.0 log\"},"
	"\"analyzers\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"required\":[\"name\",\"status\"],\"properties\":{"
	"\"name\":{\"type\":\"string\"},\"status\":{\"enum\":[\"ran\","
	"\"skipped\",\"failed\"]},\"reason\":{\"type\":\"string\"},"
	"\"install_hint\":{\"type\":\"string\"},\"errors\":{\"type\":"
	"\"array\"}}}},"
	"\"summary\":{\"type\":\"object\",\"properties\":{"
	"\"files\":{\"type\":\"integer\"},\"findings\":{\"type\":\"integer\"},"
	"\"error\":{\"type\":\"integer\"},\"warning\":{\"type\":\"integer\"},"
	"\"note\":{\"type\":\"integer\"}}}}}";

static const char check_in[] =
	"{\"type\":\"object\",\"required\":[\"command\"],"
	"\"additionalProperties\":false,\"properties\":{"
	"\"command\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":65536,"
	"\"description\":\"a shell command line (sh/bash syntax)\"},"
	"\"cwd\":{\"type\":\"string\",\"description\":\"absolute directory "
	"the command would run in (relative paths resolve against it)\"}}}";

#define CLASS_ENUM                                                            \
	"{\"enum\":[\"read_only\",\"writes\",\"destructive\",\"network\","    \
	"\"privilege\",\"code_execution\",\"unknown\"]}"
#define VERDICT_ENUM "{\"enum\":[\"allow\",\"deny\",\"needs_approval\"]}"

static const char check_out[] =
	"{\"type\":\"object\",\"required\":[\"verdict\",\"classes\","
	"\"reasons\",\"commands\"],\"properties\":{"
	"\"verdict\":" VERDICT_ENUM ","
	"\"classes\":{\"type\":\"array\",\"items\":" CLASS_ENUM "},"
	"\"reasons\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	"\"commands\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"required\":[\"command\",\"argv\",\"classes\",\"verdict\","
	"\"reasons\"],\"properties\":{"
	"\"command\":{\"type\":\"string\"},"
	"\"argv\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	"\"classes\":{\"type\":\"array\",\"items\":" CLASS_ENUM "},"
	"\"verdict\":" VERDICT_ENUM ","
	"\"reasons\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	"\"origin\":{\"type\":\"string\"}}}}}}";

/* ---------------------------------------------------------------- handlers */

static int scan_call(void *impl, struct mcpd_task *caller,
                     const char *capability, const json_t *input,
                     json_t **result, char *code, size_t codelen, char *err,
                     size_t errlen)
{
	(void)impl;
	(void)capability;
	return scan_run(host, plugin, caller, input, result, code, codelen,
	                err, errlen);
}

static int scan_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	json_t *result;
	char code[64], err[1024];
	int rc = scan_call(NULL, task, "security.scan", host->task_input(task),
	                   &result, code, sizeof code, err, sizeof err);
	if (rc != 0) {
		agent_fail(host, task, rc, code, err);
		return 0;
	}
	return host->task_complete(task, result);
}

/* The check_command policy: config block, checked; cwd from the input. */
static int policy(const json_t *input, struct check_policy *pol, char *err,
                  size_t errlen)
{
	const json_t *cfg = json_object_get(host->config(plugin),
	                                    "check_command");
	memset(pol, 0, sizeof *pol);
	pol->fallback = V_APPROVAL;
	pol->allow = json_object_get(cfg, "allow");
	pol->deny = json_object_get(cfg, "deny");
	pol->allowed_paths = json_object_get(cfg, "allowed_paths");
	pol->cwd = json_string_value(json_object_get(cfg, "cwd"));
	const char *def = json_string_value(json_object_get(cfg, "default"));
	if (def) {
		pol->fallback = verdict_parse(def);
		if (pol->fallback < 0) {
			snprintf(err, errlen, "config check_command.default \"%s\""
			         " must be allow, deny or needs_approval", def);
			return -1;
		}
	}
	const char *cwd = json_string_value(json_object_get(input, "cwd"));
	if (cwd) {
		if (cwd[0] != '/') {
			snprintf(err, errlen, "cwd: \"%s\" must be an absolute "
			         "path", cwd);
			return MCPD_E_INVAL;
		}
		pol->cwd = cwd;
	}
	return 0;
}

static int check_call(void *impl, struct mcpd_task *caller,
                      const char *capability, const json_t *input,
                      json_t **result, char *code, size_t codelen, char *err,
                      size_t errlen)
{
	(void)impl;
	(void)caller;
	(void)capability;
	*result = NULL;
	const json_t *cmd = json_object_get(input, "command");
	if (!json_is_string(cmd) || !json_string_length(cmd)) {
		snprintf(code, codelen, "bad_input");
		snprintf(err, errlen, "command: a non-empty string is required");
		return MCPD_E_INVAL;
	}
	if (json_string_length(cmd) > MAX_COMMAND_BYTES) {
		snprintf(code, codelen, "bad_input");
		snprintf(err, errlen, "command: longer than %d bytes",
		         MAX_COMMAND_BYTES);
		return MCPD_E_INVAL;
	}
	if (memchr(json_string_value(cmd), '\0', json_string_length(cmd))) {
		snprintf(code, codelen, "bad_input");
		snprintf(err, errlen, "command: contains a NUL byte");
		return MCPD_E_INVAL;
	}
	struct check_policy pol;
	int rc = policy(input, &pol, err, errlen);
	if (rc) {
		snprintf(code, codelen, rc == MCPD_E_INVAL ? "bad_input"
		                                            : "bad_config");
		return rc == MCPD_E_INVAL ? MCPD_E_INVAL : MCPD_E_FAILED;
	}
	*result = check_command(json_string_value(cmd),
	                        json_string_length(cmd), &pol);
	if (!*result) {
		snprintf(code, codelen, "failed");
		snprintf(err, errlen, "out of memory");
		return MCPD_E_NOMEM;
	}
	return 0;
}

static int check_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	json_t *result;
	char code[64], err[1024];
	int rc = check_call(NULL, task, "security.check_command",
	                    host->task_input(task), &result, code, sizeof code,
	                    err, sizeof err);
	if (rc != 0) {
		agent_fail(host, task, rc, code, err);
		return 0;
	}
	return host->task_complete(task, result);
}

/* ---------------------------------------------------------------- plugin */

static const struct mcpd_agent scan_agent = {
	{sizeof(struct mcpd_agent), MCPD_AGENT_MAJOR, MCPD_AGENT_MINOR}, NULL,
	scan_call};
static const struct mcpd_agent check_agent = {
	{sizeof(struct mcpd_agent), MCPD_AGENT_MAJOR, MCPD_AGENT_MINOR}, NULL,
	check_call};

static int security_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	host = h;
	plugin = self;
	struct mcpd_capability_def scan = {
		.size = sizeof scan,
		.name = "security.scan",
		.version = "1.0",
		.title = "Security scan",
		.description =
			"Scans source files for vulnerabilities and secrets: "
			"bandit (Python), flawfinder and cppcheck's security "
			"checks (C/C++) run in the sandbox, and a built-in "
			"secret detector (private keys, cloud and service "
			"tokens, hard-coded passwords, high-entropy strings). "
			"Returns normalized findings, a SARIF 2.1.0 log and "
			"the status of each analyzer.",
		.input_schema = scan_in,
		.output_schema = scan_out,
		.attributes = "{\"languages\":[\"c\",\"cpp\",\"python\"],"
		              "\"sarif\":\"2.1.0\"}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = scan_handle,
	};
	struct mcpd_capability_def check = {
		.size = sizeof check,
		.name = "security.check_command",
		.version = "1.0",
		.title = "Check a shell command before running it",
		.description =
			"Parses a shell command line (quotes, escapes, "
			"variables, substitutions, pipelines, lists, subshells, "
			"redirections, heredocs), classifies each command "
			"(read_only, writes, destructive, network, privilege, "
			"code_execution) and answers allow, deny or "
			"needs_approval with the reasons, applying the "
			"configured allow/deny lists and allowed paths. "
			"Nothing is run.",
		.input_schema = check_in,
		.output_schema = check_out,
		.attributes = "{\"languages\":[\"shell\"]}",
		.handler = check_handle,
	};
	int rc = host->capability_add(self, &scan);
	if (rc == 0)
		rc = host->capability_add(self, &check);
	if (rc == 0 && MCPD_HOST_HAS(host, service_provide)) {
		rc = host->service_provide(self, "security.scan", &scan_agent);
		if (rc == 0)
			rc = host->service_provide(self,
			                           "security.check_command",
			                           &check_agent);
	}
	return rc;
}

MCPD_PLUGIN("security", "1.0.0",
            "Security agent: vulnerability and secret scanning, shell "
            "command validation",
            0, security_init, NULL)
