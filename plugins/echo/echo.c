/*
 * echo: the smallest useful plugin. Capability "echo" answers with a copy
 * of its input. It runs on the loop (no MCPD_CAP_BLOCKING) because copying
 * a JSON value never blocks.
 */
#include <mcpd/plugin.h>

/* The tests build a second copy with another version string, to see
 * which generation served a task across a reload. */
#ifndef ECHO_VERSION
#define ECHO_VERSION "1.0.0"
#endif

static const struct mcpd_host *host;

static int echo_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	json_t *copy = json_deep_copy(host->task_input(task));

	if (!copy)
		return MCPD_E_NOMEM;
	return host->task_complete(task, copy);
}

static int echo_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "echo",
		.version = "1.0",
		.title = "Echo",
		.description = "Returns its input unchanged.",
		.input_schema = "{\"type\":\"object\"}",
		.output_schema = "{\"type\":\"object\"}",
		.handler = echo_handle,
	};

	host = h;
	return host->capability_add(self, &def);
}

MCPD_PLUGIN("echo", ECHO_VERSION, "Returns its input unchanged", 0, echo_init,
            NULL)
