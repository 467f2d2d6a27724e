/*
 * Misbehaving handlers, to show the host survives them.
 *
 * "garbage" (on the loop), by input {"mode": ...}:
 *   no_result        returns 0 without finishing: the task must time out
 *   double_complete  completes twice: the second call must answer
 *                    MCPD_E_STATE (logged either way for the tests to read)
 *   error_return     returns MCPD_E_FAILED without finishing
 *   fail_null        task_fail with NULL code and message
 * "garbage.blocking" (on a worker) returns without finishing: the host must
 * fail the task with "handler returned without a result".
 */
#include <string.h>
#include <mcpd/plugin.h>

static const struct mcpd_host *host;
static struct mcpd_plugin *plugin;

static int garbage_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	const char *mode =
		json_string_value(json_object_get(host->task_input(task), "mode"));
	int err;

	if (!mode || strcmp(mode, "no_result") == 0)
		return 0;
	if (strcmp(mode, "error_return") == 0)
		return MCPD_E_FAILED;
	if (strcmp(mode, "fail_null") == 0)
		return host->task_fail(task, NULL, NULL);
	/* double_complete */
	err = host->task_complete(task, json_pack("{si}", "first", 1));
	if (err)
		return err;
	err = host->task_complete(task, json_pack("{si}", "second", 2));
	host->log(plugin, err == MCPD_E_STATE ? MCPD_LOG_INFO : MCPD_LOG_ERROR,
	          "garbage: second task_complete returned %d (%s)", err,
	          host->strerror(err));
	return 0;
}

static int garbage_blocking_handle(struct mcpd_task *task, void *ud)
{
	(void)task;
	(void)ud;
	return 0;
}

static int garbage_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def loop = {
		.size = sizeof(loop),
		.name = "garbage",
		.version = "1.0",
		.description = "Misbehaves as input.mode says.",
		.input_schema =
			"{\"type\":\"object\",\"required\":[\"mode\"],"
			"\"properties\":{\"mode\":{\"enum\":[\"no_result\","
			"\"double_complete\",\"error_return\",\"fail_null\"]}}}",
		.handler = garbage_handle,
	};
	struct mcpd_capability_def blocking = {
		.size = sizeof(blocking),
		.name = "garbage.blocking",
		.version = "1.0",
		.description = "Returns without finishing the task.",
		.input_schema = "{\"type\":\"object\"}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = garbage_blocking_handle,
	};
	int err;

	host = h;
	plugin = self;
	err = host->capability_add(self, &loop);
	if (err)
		return err;
	return host->capability_add(self, &blocking);
}

MCPD_PLUGIN("garbage", "1.0.0", "handlers that misbehave on purpose", 0,
            garbage_init, NULL)
