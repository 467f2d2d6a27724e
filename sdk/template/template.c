/*
 * template: a complete mcpd plugin to copy. It declares one capability,
 * primes.count, which counts the primes up to a limit by trial division --
 * slow on purpose, so it shows what a long blocking handler does: run on
 * the host's worker pool, report progress, stop when cancelled, and keep
 * results in the plugin's key-value space so a repeated question is
 * answered at once.
 *
 * Config block (optional), in the daemon config:
 *   "plugins": {"template": {"max_limit": 100000000}}
 * refuses larger limits; a value of the wrong type refuses the plugin.
 *
 * To start your own plugin: copy this folder, rename the plugin in
 * MCPD_PLUGIN() and CMakeLists.txt, and replace count_handle().
 */
#include <inttypes.h>
#include <stdio.h>
#include <mcpd/plugin.h>

#define TEMPLATE_VERSION "1.0.0"

/* Defaults, overridden by the config block. */
#define DEFAULT_MAX_LIMIT 100000000
/* Smaller results are cheaper to compute again than to store. */
#define CACHE_MIN_LIMIT 100000
/* Candidates between two cancellation checks and progress reports. */
#define STEP 20000

/*
 * Set by init and only read afterwards. A reload that changes this file or
 * the config block loads a new generation with its own copies of these.
 */
static const struct mcpd_host *host;
static struct mcpd_plugin *plugin;
static json_int_t max_limit = DEFAULT_MAX_LIMIT;

static int is_prime(json_int_t n)
{
	if (n < 2)
		return 0;
	if (n % 2 == 0)
		return n == 2;
	for (json_int_t d = 3; d <= n / d; d += 2)
		if (n % d == 0)
			return 0;
	return 1;
}

/* The kv key caching the answer for `limit`. */
static void cache_key(char *buf, size_t len, json_int_t limit)
{
	snprintf(buf, len, "count/%" JSON_INTEGER_FORMAT, limit);
}

static json_t *result_new(json_int_t limit, json_int_t count,
                          json_int_t largest, int cached)
{
	return json_pack("{sI sI sI sb}", "limit", limit, "count", count,
	                 "largest", largest, "cached", cached);
}

/*
 * Runs on a worker thread (MCPD_CAP_BLOCKING): it may take as long as it
 * needs, but checks task_cancelled() often so that a cancel or a timeout
 * frees the worker quickly. It finishes the task before returning.
 */
static int count_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	/* Borrowed: valid while the task is; the schema guaranteed "limit". */
	const json_t *in = host->task_input(task);
	json_int_t limit = (json_int_t)json_number_value(json_object_get(in, "limit"));
	json_int_t count = 0, largest = 0;
	char key[64];
	json_t *hit = NULL;

	if (limit > max_limit)
		return host->task_fail(task, "too_large",
		                       "limit is over this daemon's max_limit");

	cache_key(key, sizeof key, limit);
	if (host->kv_get(plugin, key, &hit) == 0) { /* hit: a new reference */
		json_t *res = result_new(limit,
			json_integer_value(json_object_get(hit, "count")),
			json_integer_value(json_object_get(hit, "largest")), 1);
		json_decref(hit);
		return host->task_complete(task, res); /* steals res */
	}

	for (json_int_t n = 2; n <= limit; n++) {
		if (is_prime(n)) {
			count++;
			largest = n;
		}
		if (n % STEP == 0) {
			if (host->task_cancelled(task))
				return MCPD_E_CANCELLED; /* the result is ignored */
			host->task_progress(task, (double)n, (double)limit, NULL);
		}
	}

	if (limit >= CACHE_MIN_LIMIT) {
		json_t *entry = json_pack("{sI sI}", "count", count,
		                          "largest", largest);
		/* Borrows entry; from a worker it returns once committed. A
		 * failed write only costs a recomputation next time. */
		if (host->kv_put(plugin, key, entry) != 0)
			host->log(plugin, MCPD_LOG_WARN, "could not cache %s", key);
		json_decref(entry);
	}
	return host->task_complete(task, result_new(limit, count, largest, 0));
}

static int read_config(void)
{
	/* Borrowed until fini; an empty object when there is no block. */
	const json_t *v = json_object_get(host->config(plugin), "max_limit");

	max_limit = DEFAULT_MAX_LIMIT;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 2) {
		host->log(plugin, MCPD_LOG_ERROR,
		          "config max_limit: must be an integer >= 2");
		return MCPD_E_INVAL;
	}
	max_limit = json_integer_value(v);
	return 0;
}

static int template_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "primes.count",
		.version = "1.0",
		.title = "Count primes",
		.description = "Counts the primes up to limit and returns the "
		               "count and the largest; remembers past answers.",
		.input_schema =
			"{\"type\":\"object\",\"required\":[\"limit\"],"
			"\"additionalProperties\":false,\"properties\":{"
			"\"limit\":{\"type\":\"integer\",\"minimum\":2,"
			"\"maximum\":1000000000000}}}",
		.output_schema =
			"{\"type\":\"object\","
			"\"required\":[\"limit\",\"count\",\"largest\",\"cached\"],"
			"\"properties\":{"
			"\"limit\":{\"type\":\"integer\"},"
			"\"count\":{\"type\":\"integer\",\"minimum\":0},"
			"\"largest\":{\"type\":\"integer\",\"minimum\":0},"
			"\"cached\":{\"type\":\"boolean\"}}}",
		.attributes = "{\"kind\":\"example\"}",
		.max_concurrency = 2,
		.flags = MCPD_CAP_BLOCKING,
		.handler = count_handle,
	};
	int err;

	host = h;
	plugin = self;
	err = read_config();
	if (err)
		return err;
	return host->capability_add(self, &def); /* copies def */
}

static void template_fini(struct mcpd_plugin *self)
{
	/* Nothing to release: init took no resources. Release here what
	 * yours takes (memory, files, service references, timers). */
	host->log(self, MCPD_LOG_DEBUG, "unloading");
}

MCPD_PLUGIN("template", TEMPLATE_VERSION,
            "Counts primes; a complete plugin to copy", 0,
            template_init, template_fini)
