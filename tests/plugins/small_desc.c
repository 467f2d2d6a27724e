/*
 * A descriptor from an imagined older ABI that ended before `flags`: its
 * size does not cover init, so the host must not read init and must refuse
 * the plugin ("descriptor too small"). The fields past `size` are filled in
 * anyway, so a host that reads them would load the plugin and fail the test.
 */
#include <mcpd/plugin.h>

static const struct mcpd_host *host;

static int small_desc_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	return host->task_complete(task, NULL);
}

static int small_desc_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "small_desc.cap",
		.version = "1.0",
		.handler = small_desc_handle,
	};

	host = h;
	host->log(self, MCPD_LOG_ERROR, "init read past the descriptor's size");
	return host->capability_add(self, &def);
}

MCPD_EXPORT const struct mcpd_plugin_desc *mcpd_plugin_v1(void);
MCPD_EXPORT const struct mcpd_plugin_desc *mcpd_plugin_v1(void)
{
	static const struct mcpd_plugin_desc desc = {
		.size = offsetof(struct mcpd_plugin_desc, flags),
		.abi_major = MCPD_ABI_MAJOR,
		.abi_minor = MCPD_ABI_MINOR,
		.name = "small_desc",
		.version = "1.0.0",
		.description = "a descriptor that ends before flags",
		.init = small_desc_init,
	};
	return &desc;
}
