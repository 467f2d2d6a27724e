/*
 * A plugin whose init takes `init_ms` (config; default 0), so a test can
 * send signals while a reload is inside it. Declares "slow_init.noop".
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>
#include <mcpd/plugin.h>

static const struct mcpd_host *host;

static int noop(struct mcpd_task *task, void *ud)
{
	(void)ud;
	return host->task_complete(task, json_object());
}

static int slow_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "slow_init.noop",
		.version = "1.0",
		.handler = noop,
	};
	json_int_t ms = json_integer_value(json_object_get(h->config(self),
	                                                   "init_ms"));
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	host = h;
	nanosleep(&ts, NULL);
	return h->capability_add(self, &def);
}

MCPD_PLUGIN("slow_init", "1.0.0", "Takes init_ms to initialise (tests)", 0,
            slow_init, NULL)
