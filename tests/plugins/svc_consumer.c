/*
 * Capability "greet" (blocking): acquires the "greeter" service (from
 * `provider`, or the default), holds it `hold_ms`, calls it, releases it.
 * `major` asks for another interface major (to see it refused).
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>
#include <mcpd/plugin.h>

struct greeter_v1 {
	struct mcpd_service_head head;
	int (*greet)(const char *who, char *out, size_t outlen);
};

static const struct mcpd_host *host;
static struct mcpd_plugin *plugin;

static int greet_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	const json_t *in = host->task_input(task);
	const char *provider = json_string_value(json_object_get(in, "provider"));
	json_int_t hold = json_integer_value(json_object_get(in, "hold_ms"));
	json_t *mj = json_object_get(in, "major");
	const void *vt;
	struct mcpd_service *ref;
	char text[128];

	int rc = host->service_acquire(plugin, "greeter",
	                               mj ? (uint16_t)json_integer_value(mj) : 1,
	                               provider, &vt, &ref);
	if (rc < 0)
		return host->task_fail(task, "service", host->strerror(rc));
	struct timespec ts = {hold / 1000, (long)(hold % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	const struct greeter_v1 *g = vt;
	rc = g->greet("mcpd", text, sizeof text);
	host->service_release(ref);
	if (rc < 0)
		return host->task_fail(task, "service", "greet failed");
	return host->task_complete(task, json_pack("{s:s}", "text", text));
}

static int consumer_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "greet",
		.version = "1.0",
		.input_schema = "{\"type\":\"object\",\"properties\":{"
		                "\"provider\":{\"type\":\"string\"},"
		                "\"hold_ms\":{\"type\":\"integer\",\"minimum\":0},"
		                "\"major\":{\"type\":\"integer\"}}}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = greet_handle,
	};

	host = h;
	plugin = self;
	if (!MCPD_HOST_HAS(h, service_acquire))
		return MCPD_E_STATE;
	return h->capability_add(self, &def);
}

MCPD_PLUGIN("svc_consumer", "1.0.0", "Calls the greeter service (tests)", 0,
            consumer_init, NULL)
