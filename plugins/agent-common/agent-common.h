/*
 * agent-common.h -- what the agent plugins (codegen, analysis, testing,
 * security, refactor) share. A static library linked into each; every
 * function takes the plugin's host table and handle, so each plugin
 * generation uses its own.
 *
 * Rule: an agent never runs code or an external tool itself. Everything
 * goes through agent_exec(), which hands the request to the sandbox
 * service (sdk/include/mcpd/sandbox.h).
 */
#ifndef MCPD_AGENT_COMMON_H
#define MCPD_AGENT_COMMON_H

#include <stddef.h>
#include <jansson.h>
#include <mcpd/plugin.h>
#include <mcpd/agent.h>
#include <mcpd/sandbox.h>

/*
 * Run `request` (steals; the sandbox JSON contract: argv, files, env,
 * stdin, limits, return_files...) through the sandbox driver named by the
 * plugin config key "sandbox_driver" (absent: the daemon's default driver).
 * `caller` may be NULL (then nothing is cancelled with a task). Returns 0
 * with *result a new reference to the sandbox result (also when the
 * command failed), or an MCPD_E_* with a sentence in err: MCPD_E_NOTFOUND
 * when no sandbox driver is loaded, the driver's error otherwise.
 */
int agent_exec(const struct mcpd_host *host, struct mcpd_plugin *self,
               struct mcpd_task *caller, json_t *request, json_t **result,
               char *err, size_t errlen);

/*
 * Is `tool` an executable in /usr/local/bin, /usr/bin or /bin -- the PATH
 * inside the sandbox, whose /usr is the host's bound read-only? Writes the
 * full path to path (may be NULL). 1 yes, 0 no.
 */
int agent_have_tool(const char *tool, char *path, size_t pathlen);

/*
 * Call capability `capability` of another plugin in process (agent.h):
 * acquires the service named after it, calls, releases. Returns as
 * mcpd_agent.call; MCPD_E_NOTFOUND with code "no_provider" when no loaded
 * plugin offers it.
 */
int agent_call(const struct mcpd_host *host, struct mcpd_plugin *self,
               struct mcpd_task *caller, const char *capability,
               const json_t *input, json_t **result, char *code,
               size_t codelen, char *err, size_t errlen);

/* Fail `task` with code/message taken from an agent or exec error. */
void agent_fail(const struct mcpd_host *host, struct mcpd_task *task,
                int rc, const char *code, const char *err);

/* ---- findings and SARIF ---- */

/*
 * A normalized finding, as analysis and security report them:
 *   {"tool", "rule", "severity": "error"|"warning"|"note",
 *    "file", "line", "column", "message"}
 * (line/column 1-based; 0 when unknown, then left out of SARIF).
 * Returns a new reference; strings may be NULL (then "" / left out).
 */
json_t *finding_new(const char *tool, const char *rule, const char *severity,
                    const char *file, int line, int column,
                    const char *message);

/*
 * Sort findings (array, in place) by file, line, column, tool, rule, so
 * output is deterministic whatever order the tools printed in.
 */
void findings_sort(json_t *findings);

/*
 * A SARIF 2.1.0 log of `findings` (borrowed): one run per tool in `tools`
 * (borrowed array of {"name", "version" (may be absent),
 * "information_uri" (may be absent)}), each run holding that tool's rules
 * and results. Tools that ran but found nothing get an empty run, so a
 * consumer sees what was checked. Returns a new reference.
 */
json_t *sarif_log(const json_t *findings, const json_t *tools);

/* Map a tool's own severity word to "error", "warning" or "note". */
const char *severity_normalize(const char *word);

#endif /* MCPD_AGENT_COMMON_H */
