/*
 * sleep: a blocking capability that waits a given time. It exists to give
 * tests and demos a task that runs long enough to be watched, cancelled,
 * timed out, queued behind others or retried ("fail": true).
 *
 * Config block (optional): {"max_ms": N} refuses tasks longer than N ms.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <mcpd/plugin.h>

/* The tests build a second copy with another version string, to see
 * which generation served a task across a reload. */
#ifndef SLEEP_VERSION
#define SLEEP_VERSION "1.0.0"
#endif

/* Longest single nap, so cancellation is noticed quickly. */
#define SLEEP_STEP_MS 50

static const struct mcpd_host *host;
static json_int_t max_ms = -1; /* -1: no cap beyond the schema's */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int64_t ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int sleep_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	const json_t *in = host->task_input(task);
	/* The schema's "integer" admits 300.0 too: read any number. */
	json_int_t ms = (json_int_t)json_number_value(json_object_get(in, "ms"));
	int fail = json_is_true(json_object_get(in, "fail"));
	int64_t start, done = 0;

	if (max_ms >= 0 && ms > max_ms)
		return host->task_fail(task, "too_long",
		                       "ms is over this daemon's max_ms");
	start = now_ms();
	while (done < ms) {
		int64_t left = ms - done;

		if (host->task_cancelled(task))
			return MCPD_E_CANCELLED;
		nap_ms(left < SLEEP_STEP_MS ? left : SLEEP_STEP_MS);
		done = now_ms() - start;
		if (done > ms)
			done = ms;
		host->task_progress(task, (double)done, (double)ms, NULL);
	}
	if (host->task_cancelled(task))
		return MCPD_E_CANCELLED;
	if (fail)
		return host->task_fail(task, "requested_failure",
		                       "failed because the input asked to");
	return host->task_complete(task, json_pack("{sI}", "slept_ms", ms));
}

static int read_config(struct mcpd_plugin *self)
{
	const json_t *v = json_object_get(host->config(self), "max_ms");

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		host->log(self, MCPD_LOG_ERROR,
		          "config max_ms: must be an integer >= 0");
		return MCPD_E_INVAL;
	}
	max_ms = json_integer_value(v);
	return 0;
}

static int sleep_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "sleep",
		.version = "1.0",
		.title = "Sleep",
		.description = "Waits ms milliseconds, reporting progress; "
		               "fails afterwards when fail is true.",
		.input_schema =
			"{\"type\":\"object\",\"required\":[\"ms\"],"
			"\"additionalProperties\":false,\"properties\":{"
			"\"ms\":{\"type\":\"integer\",\"minimum\":0,"
			"\"maximum\":3600000},"
			"\"fail\":{\"type\":\"boolean\"}}}",
		.output_schema =
			"{\"type\":\"object\",\"required\":[\"slept_ms\"],"
			"\"properties\":{\"slept_ms\":{\"type\":\"integer\","
			"\"minimum\":0}}}",
		.attributes = "{\"kind\":\"timer\"}",
		.max_concurrency = 0,
		.flags = MCPD_CAP_BLOCKING,
		.handler = sleep_handle,
	};
	int err;

	host = h;
	max_ms = -1;
	err = read_config(self);
	if (err)
		return err;
	return host->capability_add(self, &def);
}

MCPD_PLUGIN("sleep", SLEEP_VERSION, "Waits a given time; for tests and demos", 0,
            sleep_init, NULL)
