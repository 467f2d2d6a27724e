/*
 * A plugin built for ABI major 2: the host (major 1) must refuse it without
 * calling anything in it. The descriptor is written by hand because
 * MCPD_PLUGIN() always says MCPD_ABI_MAJOR.
 */
#include <mcpd/plugin.h>

static int bad_major_init(const struct mcpd_host *host,
                          struct mcpd_plugin *self)
{
	host->log(self, MCPD_LOG_ERROR, "init of an ABI 2 plugin was called");
	return MCPD_E_FAILED;
}

MCPD_EXPORT const struct mcpd_plugin_desc *mcpd_plugin_v1(void);
MCPD_EXPORT const struct mcpd_plugin_desc *mcpd_plugin_v1(void)
{
	static const struct mcpd_plugin_desc desc = {
		.size = sizeof(struct mcpd_plugin_desc),
		.abi_major = 2,
		.abi_minor = 0,
		.name = "bad_major",
		.version = "1.0.0",
		.description = "claims ABI major 2",
		.init = bad_major_init,
	};
	return &desc;
}
