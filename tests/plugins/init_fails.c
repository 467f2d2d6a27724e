/* A plugin whose init refuses to load, after saying why in the log. */
#include <mcpd/plugin.h>

static int init_fails_init(const struct mcpd_host *host,
                           struct mcpd_plugin *self)
{
	host->log(self, MCPD_LOG_ERROR,
	          "init_fails: refusing to load, as this test plugin always does");
	return MCPD_E_FAILED;
}

MCPD_PLUGIN("init_fails", "1.0.0", "init always fails", 0, init_fails_init,
            NULL)
