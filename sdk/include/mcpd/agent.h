/*
 * mcpd/agent.h -- the "agent" service interface, version 1: calling another
 * plugin's capability in process.
 *
 * A plugin whose capability other plugins build on (code.test runs the
 * tests of code.generate's refine loop, code.generate writes the skeletons
 * of code.test.generate and the rewrites of code.refactor) offers it as a
 * service named after the capability:
 *
 *	static const struct mcpd_agent vt = {
 *		{sizeof vt, MCPD_AGENT_MAJOR, MCPD_AGENT_MINOR}, NULL, my_call};
 *	host->service_provide(self, "code.test", &vt);
 *
 * and a consumer calls it from a worker thread, per use:
 *
 *	const struct mcpd_agent *ag;
 *	struct mcpd_service *ref;
 *	if (host->service_acquire(self, "code.test", MCPD_AGENT_MAJOR, NULL,
 *	                          (const void **)&ag, &ref) == 0) {
 *		rc = ag->call(ag->impl, task, "code.test", input, &result,
 *		              code, sizeof code, err, sizeof err);
 *		host->service_release(ref);
 *	}
 *
 * Why not a sub-task through the router: the caller already holds a worker
 * thread; waiting there for a second worker can deadlock a full pool. An
 * in-process call runs on the caller's worker, reports progress on and
 * polls cancellation of the caller's task.
 *
 * The input and the result are exactly those of the capability (its
 * declared JSON Schemas); the callee validates the input itself.
 */
#ifndef MCPD_AGENT_H
#define MCPD_AGENT_H

#include <stddef.h>
#include <mcpd/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MCPD_AGENT_MAJOR 1
#define MCPD_AGENT_MINOR 0

struct mcpd_agent {
	/* {sizeof(struct mcpd_agent), MCPD_AGENT_MAJOR, MCPD_AGENT_MINOR} */
	struct mcpd_service_head head;

	/* Passed back to call as is. */
	void *impl;

	/*
	 * Run `capability` with `input` (borrowed) to completion on the
	 * calling thread (a worker: call only from a MCPD_CAP_BLOCKING
	 * handler). `caller` may be NULL; when given, progress is reported
	 * on it and the call stops soon after host->task_cancelled(caller).
	 *
	 * Returns 0 with *result a new reference (the capability's output).
	 * Otherwise *result is NULL, `code` holds the task error code the
	 * capability would have failed with ("bad_input", "tool_failed",
	 * "cancelled"...) and `err` a sentence; the return is MCPD_E_INVAL
	 * (bad input), MCPD_E_NOTFOUND (capability not offered here),
	 * MCPD_E_CANCELLED or MCPD_E_FAILED.
	 */
	int (*call)(void *impl, struct mcpd_task *caller,
	            const char *capability, const json_t *input,
	            json_t **result, char *code, size_t codelen, char *err,
	            size_t errlen);
};

#ifdef __cplusplus
}
#endif
#endif /* MCPD_AGENT_H */
