/*
 * Capability "flaky" (blocking): fails the first `fail_times` attempts for
 * each `key`, then succeeds with {"attempts": n}. The attempt count lives in
 * the plugin's key-value space, so it survives across attempts (and
 * restarts): a task with retries >= fail_times succeeds on attempt
 * fail_times + 1. "code" picks the failure's code (default "flaky").
 */
#include <mcpd/plugin.h>

static const struct mcpd_host *host;
static struct mcpd_plugin *plugin;

static int flaky_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	const json_t *in = host->task_input(task);
	const char *key = json_string_value(json_object_get(in, "key"));
	json_int_t fail_times =
		json_integer_value(json_object_get(in, "fail_times"));
	json_t *seen = NULL, *count;
	json_int_t n = 1;
	int err;

	err = host->kv_get(plugin, key, &seen);
	if (err == 0)
		n = json_integer_value(json_object_get(seen, "attempts")) + 1;
	else if (err != MCPD_E_NOTFOUND)
		return host->task_fail(task, "store", host->strerror(err));
	json_decref(seen);

	count = json_pack("{sI}", "attempts", n);
	err = count ? host->kv_put(plugin, key, count) : MCPD_E_NOMEM;
	json_decref(count);
	if (err)
		return host->task_fail(task, "store", host->strerror(err));

	const char *code = json_string_value(json_object_get(in, "code"));
	if (n <= fail_times)
		return host->task_fail(task, code ? code : "flaky",
		                       "failing as asked");
	return host->task_complete(task, json_pack("{sI}", "attempts", n));
}

static int flaky_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "flaky",
		.version = "1.0",
		.title = "Flaky",
		.description = "Fails fail_times attempts per key, then succeeds.",
		.input_schema =
			"{\"type\":\"object\",\"required\":[\"key\",\"fail_times\"],"
			"\"properties\":{\"key\":{\"type\":\"string\",\"minLength\":1},"
			"\"fail_times\":{\"type\":\"integer\",\"minimum\":0},"
			"\"code\":{\"type\":\"string\"}}}",
		.output_schema =
			"{\"type\":\"object\",\"required\":[\"attempts\"]}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = flaky_handle,
	};

	host = h;
	plugin = self;
	return host->capability_add(self, &def);
}

MCPD_PLUGIN("flaky", "1.0.0", "fails a set number of attempts per key", 0,
            flaky_init, NULL)
