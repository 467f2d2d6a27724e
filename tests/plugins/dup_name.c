/*
 * A valid plugin that calls itself "echo", like the bundled one. The host
 * loads the directories in order, so when the bundled directory comes first
 * this one must be refused as a duplicate and never initialised.
 */
#include <mcpd/plugin.h>

static const struct mcpd_host *host;

static int dup_name_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	return host->task_fail(task, "wrong_echo",
	                       "the duplicate echo plugin ran");
}

static int dup_name_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "dup_name.echo",
		.version = "1.0",
		.handler = dup_name_handle,
	};

	host = h;
	return host->capability_add(self, &def);
}

MCPD_PLUGIN("echo", "9.9.9", "a second plugin named echo", 0, dup_name_init,
            NULL)
