/* /metrics in the Prometheus text exposition format. */
#include <stdio.h>
#include <stdlib.h>

#include "map-internal.h"
#include "mcpd-internal.h"
#include "pool-internal.h"
#include "router-internal.h"
#include "store-internal.h"

static void header(FILE *f, const char *name, const char *type,
                   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void per_capability(FILE *f, struct capq **qs, size_t n)
{
	header(f, "mcpd_tasks_submitted_total", "counter",
	       "Tasks accepted, by capability.");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "mcpd_tasks_submitted_total{capability=\"%s\"} %llu\n",
		        qs[i]->name, (unsigned long long)qs[i]->submitted);

	header(f, "mcpd_tasks_finished_total", "counter",
	       "Tasks that reached a final status, by capability and status.");
	for (size_t i = 0; i < n; i++)
		for (int s = TASK_SUCCEEDED; s < TASK_NSTATUS; s++)
			fprintf(f, "mcpd_tasks_finished_total{capability=\"%s\","
			        "status=\"%s\"} %llu\n", qs[i]->name,
			        task_status_name(s),
			        (unsigned long long)qs[i]->finished[s]);

	header(f, "mcpd_queue_depth", "gauge",
	       "Tasks waiting for a provider, by capability.");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "mcpd_queue_depth{capability=\"%s\"} %zu\n",
		        qs[i]->name, qs[i]->len);

	header(f, "mcpd_tasks_running", "gauge",
	       "Attempts holding a provider slot, by capability.");
	for (size_t i = 0; i < n; i++) {
		int running = 0;
		for (size_t p = 0; p < qs[i]->nprov; p++)
			running += qs[i]->provs[p]->running;
		fprintf(f, "mcpd_tasks_running{capability=\"%s\"} %d\n",
		        qs[i]->name, running);
	}

	header(f, "mcpd_task_duration_seconds", "histogram",
	       "Run time of attempts, by capability.");
	for (size_t i = 0; i < n; i++) {
		const struct capq *q = qs[i];
		unsigned long long cum = 0;
		for (int b = 0; b < LATENCY_BUCKETS; b++) {
			cum += q->hist[b];
			fprintf(f, "mcpd_task_duration_seconds_bucket{capability="
			        "\"%s\",le=\"%g\"} %llu\n", q->name,
			        latency_bounds[b], cum);
		}
		cum += q->hist[LATENCY_BUCKETS];
		fprintf(f, "mcpd_task_duration_seconds_bucket{capability=\"%s\","
		        "le=\"+Inf\"} %llu\n", q->name, cum);
		fprintf(f, "mcpd_task_duration_seconds_sum{capability=\"%s\"} %.6f\n",
		        q->name, q->hist_sum);
		fprintf(f, "mcpd_task_duration_seconds_count{capability=\"%s\"} "
		        "%llu\n", q->name, (unsigned long long)q->hist_count);
	}
}

/* A metric without labels: its header and its one sample. */
static void one(FILE *f, const char *name, const char *type,
                const char *help, unsigned long long value)
{
	header(f, name, type, help);
	fprintf(f, "%s %llu\n", name, value);
}

char *metrics_render(struct mcpd *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	struct capq **qs;
	size_t n = router_list(d->router, &qs);
	per_capability(f, qs, n);
	free(qs);

	header(f, "mcpd_plugins", "gauge", "Plugin files by load state.");
	fprintf(f, "mcpd_plugins{state=\"loaded\"} %zu\n", d->plugins_loaded);
	fprintf(f, "mcpd_plugins{state=\"refused\"} %zu\n",
	        d->nplugins - d->plugins_loaded);
	fprintf(f, "mcpd_plugins{state=\"draining\"} %zu\n", d->nretiring);

	one(f, "mcpd_reloads_total", "counter",
	    "Reload transactions run (SIGHUP, POST /v1/reload).", d->reloads);
	one(f, "mcpd_reload_failures_total", "counter",
	    "Reloads refused whole (bad config or a plugin that failed).",
	    d->reload_failures);
	one(f, "mcpd_plugin_drains_total", "counter",
	    "Replaced plugin generations retired after draining.", d->drains);
	one(f, "mcpd_plugin_drain_timeouts_total", "counter",
	    "Generations whose drain timeout passed (tasks requeued).",
	    d->drain_timeouts);

	header(f, "mcpd_http_requests_total", "counter",
	       "HTTP answers by status class.");
	for (int c = 1; c < 6; c++)
		fprintf(f, "mcpd_http_requests_total{code=\"%dxx\"} %llu\n", c,
		        (unsigned long long)d->http_codes[c]);

	one(f, "mcpd_store_commits_total", "counter",
	    "LMDB group commits (one fsync each).", d->commits);
	one(f, "mcpd_store_commit_failures_total", "counter",
	    "LMDB commits that failed.", d->commit_failures);
	one(f, "mcpd_workers_busy", "gauge",
	    "Blocking handlers running or waiting for a worker.",
	    (unsigned long long)pool_busy(d->pool));
	one(f, "mcpd_live_tasks", "gauge", "Tasks not yet final.",
	    map_count(d->tasks));
	fclose(f);
	return buf;
}
