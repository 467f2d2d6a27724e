/*
 * exec.c -- running commands through the sandbox service, finding tools,
 * calling other agents in process.
 */
#include "agent-common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int agent_exec(const struct mcpd_host *host, struct mcpd_plugin *self,
               struct mcpd_task *caller, json_t *request, json_t **result,
               char *err, size_t errlen)
{
	*result = NULL;
	if (!request) {
		snprintf(err, errlen, "no request");
		return MCPD_E_NOMEM;
	}
	const char *driver = json_string_value(
		json_object_get(host->config(self), "sandbox_driver"));
	const struct mcpd_sandbox *sb;
	struct mcpd_service *ref;
	int rc = host->service_acquire(self, MCPD_SANDBOX_IFACE,
	                               MCPD_SANDBOX_MAJOR, driver,
	                               (const void **)&sb, &ref);
	if (rc != 0) {
		if (driver)
			snprintf(err, errlen,
			         "no sandbox driver \"%s\" is loaded (%s): "
			         "agents run tools only inside a sandbox",
			         driver, host->strerror(rc));
		else
			snprintf(err, errlen,
			         "no sandbox driver is loaded (%s): agents run "
			         "tools only inside a sandbox",
			         host->strerror(rc));
		json_decref(request);
		return MCPD_E_NOTFOUND;
	}
	if (!MCPD_SANDBOX_HAS(sb, exec)) {
		snprintf(err, errlen, "sandbox driver %s has no exec", sb->name);
		rc = MCPD_E_FAILED;
	} else {
		rc = sb->exec(sb->impl, caller, request, result, err, errlen);
	}
	host->service_release(ref);
	json_decref(request);
	return rc;
}

int agent_have_tool(const char *tool, char *path, size_t pathlen)
{
	static const char *const dirs[] = {"/usr/local/bin", "/usr/bin", "/bin"};
	char buf[4096];
	if (!tool || !*tool || strchr(tool, '/'))
		return 0;
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(buf, sizeof buf, "%s/%s", dirs[i], tool);
		if (access(buf, X_OK) == 0) {
			if (path)
				snprintf(path, pathlen, "%s", buf);
			return 1;
		}
	}
	return 0;
}

int agent_call(const struct mcpd_host *host, struct mcpd_plugin *self,
               struct mcpd_task *caller, const char *capability,
               const json_t *input, json_t **result, char *code,
               size_t codelen, char *err, size_t errlen)
{
	*result = NULL;
	const struct mcpd_agent *ag;
	struct mcpd_service *ref;
	int rc = host->service_acquire(self, capability, MCPD_AGENT_MAJOR, NULL,
	                               (const void **)&ag, &ref);
	if (rc != 0) {
		snprintf(code, codelen, "no_provider");
		snprintf(err, errlen, "no loaded plugin offers %s in process (%s)",
		         capability, host->strerror(rc));
		return MCPD_E_NOTFOUND;
	}
	code[0] = err[0] = '\0';
	rc = ag->call(ag->impl, caller, capability, input, result, code,
	              codelen, err, errlen);
	host->service_release(ref);
	if (rc != 0 && !code[0])
		snprintf(code, codelen, "%s",
		         rc == MCPD_E_INVAL       ? "bad_input"
		         : rc == MCPD_E_CANCELLED ? "cancelled"
		                                  : "failed");
	return rc;
}

void agent_fail(const struct mcpd_host *host, struct mcpd_task *task,
                int rc, const char *code, const char *err)
{
	if (!code || !*code)
		code = rc == MCPD_E_INVAL       ? "bad_input"
		       : rc == MCPD_E_CANCELLED ? "cancelled"
		       : rc == MCPD_E_NOTFOUND  ? "no_sandbox"
		                                : "failed";
	host->task_fail(task, code, err && *err ? err : host->strerror(rc));
}
