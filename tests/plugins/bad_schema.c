/*
 * A plugin whose capability has an input schema that is not JSON:
 * capability_add answers MCPD_E_SCHEMA and init returns it.
 */
#include <mcpd/plugin.h>

static const struct mcpd_host *host;

static int bad_schema_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	return host->task_complete(task, NULL);
}

static int bad_schema_init(const struct mcpd_host *h,
                           struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "bad_schema.cap",
		.version = "1.0",
		.input_schema = "{not json",
		.handler = bad_schema_handle,
	};

	host = h;
	return host->capability_add(self, &def);
}

MCPD_PLUGIN("bad_schema", "1.0.0", "declares an input schema that is not JSON",
            0, bad_schema_init, NULL)
