/*
 * Capability "timer.wait" (a loop handler): finishes the task from a host
 * timer (ABI 1.1) after `ms`. With "never": true it finishes nothing, so a
 * reload's drain timeout must requeue the task and the host must remove
 * the pending timer when it retires this generation.
 */
#include <mcpd/plugin.h>

static const struct mcpd_host *host;
static struct mcpd_plugin *plugin;
static int fired_after_stop; /* a stopped timer must never fire */

static void finish(void *arg)
{
	struct mcpd_task *task = arg;

	host->task_complete(task, json_pack("{s:b}", "fired", 1));
}

static void never(void *arg)
{
	(void)arg;
	fired_after_stop++;
}

static int timer_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	const json_t *in = host->task_input(task);
	json_int_t ms = json_integer_value(json_object_get(in, "ms"));
	struct mcpd_timer *t;

	if (fired_after_stop)
		return host->task_fail(task, "bug", "a stopped timer fired");
	/* Stop one at once: it must not fire. */
	t = host->timer_start(plugin, 1, never, NULL);
	if (!t || host->timer_stop(t) != MCPD_OK)
		return host->task_fail(task, "bug", "timer_stop failed");
	if (host->timer_stop(t) != MCPD_E_HANDLE)
		return host->task_fail(task, "bug", "a stale timer was accepted");
	if (json_is_true(json_object_get(in, "never"))) {
		/* Armed far away, never finishing the task before it. */
		return host->timer_start(plugin, 3600000, finish, task)
			? 0 : MCPD_E_FAILED;
	}
	return host->timer_start(plugin, (uint32_t)ms, finish, task)
		? 0 : MCPD_E_FAILED;
}

static int timer_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "timer.wait",
		.version = "1.0",
		.input_schema = "{\"type\":\"object\",\"properties\":{"
		                "\"ms\":{\"type\":\"integer\",\"minimum\":0},"
		                "\"never\":{\"type\":\"boolean\"}}}",
		.max_concurrency = 8,
		.handler = timer_handle,
	};

	host = h;
	plugin = self;
	if (!MCPD_HOST_HAS(h, timer_start))
		return MCPD_E_STATE;
	return h->capability_add(self, &def);
}

MCPD_PLUGIN("timer", "1.0.0", "Finishes tasks from host timers (tests)", 0,
            timer_init, NULL)
