/*
 * A plugin built against a newer minor ABI than the host speaks: it may use
 * host functions this host lacks, so the host must refuse it.
 */
#include <mcpd/plugin.h>

static int newer_minor_init(const struct mcpd_host *host,
                            struct mcpd_plugin *self)
{
	host->log(self, MCPD_LOG_ERROR, "init of a newer-minor plugin was called");
	return MCPD_E_FAILED;
}

MCPD_EXPORT const struct mcpd_plugin_desc *mcpd_plugin_v1(void);
MCPD_EXPORT const struct mcpd_plugin_desc *mcpd_plugin_v1(void)
{
	static const struct mcpd_plugin_desc desc = {
		.size = sizeof(struct mcpd_plugin_desc),
		.abi_major = MCPD_ABI_MAJOR,
		.abi_minor = MCPD_ABI_MINOR + 1,
		.name = "newer_minor",
		.version = "1.0.0",
		.description = "claims a minor ABI newer than the host's",
		.init = newer_minor_init,
	};
	return &desc;
}
