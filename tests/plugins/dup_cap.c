/*
 * A plugin that declares capability "dup.cap" twice. The second
 * capability_add answers MCPD_E_EXISTS and init returns that error, so the
 * host refuses the plugin, with a reason naming the duplicate.
 */
#include <mcpd/plugin.h>

static const struct mcpd_host *host;

static int dup_cap_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	return host->task_complete(task, NULL);
}

static int dup_cap_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "dup.cap",
		.version = "1.0",
		.handler = dup_cap_handle,
	};
	int err;

	host = h;
	err = host->capability_add(self, &def);
	if (err)
		return err;
	err = host->capability_add(self, &def);
	if (err)
		host->log(self, MCPD_LOG_ERROR,
		          "second capability_add(\"dup.cap\"): %s",
		          host->strerror(err));
	return err;
}

MCPD_PLUGIN("dup_cap", "1.0.0", "declares one capability twice", 0,
            dup_cap_init, NULL)
