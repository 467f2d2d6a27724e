/*
 * The task life cycle: submit, dispatch to a provider, run, finish, retry,
 * time out, cancel, recover after a restart. Loop thread only; workers
 * reach it through messages (sched_handle_msg).
 */
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log-internal.h"
#include "map-internal.h"
#include "mcpd-internal.h"
#include "plugin-internal.h"
#include "pool-internal.h"
#include "router-internal.h"
#include "schema-internal.h"
#include "store-internal.h"

static void dispatch(struct mcpd *d, struct capq *q);

/* ---- watchers ---- */

void watcher_add(struct task *t, struct watcher *w)
{
	w->next = t->watchers;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &t->watchers;
	t->watchers = w;
}

void watcher_remove(struct watcher *w)
{
	if (!w->pprev)
		return;
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	w->next = NULL;
	w->pprev = NULL;
}

static void notify(struct task *t, json_t *event, int final)
{
	struct watcher *w = t->watchers, *next;
	for (; w; w = next) {
		next = w->next;
		if (final)
			watcher_remove(w);
		w->fn(w, t, event, final);
	}
}

/* ---- persistence ---- */

void sched_dirty(struct mcpd *d, struct task *t)
{
	if (t->dirty)
		return;
	t->dirty = 1;
	t->dirty_next = d->dirty;
	d->dirty = t;
	mcpd_want_commit(d);
}

static void forget(struct mcpd *d, struct task *t)
{
	if (t->timer)
		event_free(t->timer);
	map_del(d->tasks, t->hex);
	task_free(t);
}

void sched_flush(struct mcpd *d)
{
	struct task *t = d->dirty, *next;
	d->dirty = NULL;
	for (; t; t = next) {
		next = t->dirty_next;
		t->dirty = 0;
		json_t *j = task_to_json(t, 0);
		char *text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!text || store_task_put(d->store, t->id, text, strlen(text)) < 0)
			log_msg(LOG_ERROR, NULL, t->hex, "cannot store task: %s",
			        store_last_error(d->store));
		free(text);
		/* A final task lives on in the store only. */
		if (task_status_final(t->status) && !t->watchers)
			forget(d, t);
	}
}

/* Append an event (steals ev): stored, and shown to watchers. */
static void emit(struct mcpd *d, struct task *t, const char *type, json_t *ev)
{
	char when[32];
	time_iso(now_ms(), when);
	json_object_set_new(ev, "seq", json_integer(++t->event_count));
	json_object_set_new(ev, "type", json_string(type));
	json_object_set_new(ev, "time", json_string(when));
	char *text = json_dumps(ev, JSON_COMPACT);
	if (text && store_event_put(d->store, t->id, t->event_count, text,
	                            strlen(text)) == 0)
		mcpd_want_commit(d);
	free(text);
	int final = strcmp(type, "status") == 0 && task_status_final(t->status);
	notify(t, ev, final);
	json_decref(ev);
	sched_dirty(d, t);
}

static void set_status(struct mcpd *d, struct task *t, enum task_status st,
                       json_t *extra)
{
	t->status = st;
	json_t *ev = json_pack("{s:s}", "status", task_status_name(st));
	if (t->err_code && st != TASK_RUNNING && st != TASK_SUCCEEDED)
		json_object_set_new(ev, "error",
		                    json_pack("{s:s, s:s}", "code", t->err_code,
		                              "message", t->err_msg));
	if (extra)
		json_object_update(ev, extra);
	json_decref(extra);
	emit(d, t, "status", ev);
}

static void finish(struct mcpd *d, struct task *t, enum task_status st)
{
	if (t->timer)
		event_del(t->timer);
	if (t->q)
		capq_remove(t->q, t);
	t->finished_ms = now_ms();
	t->not_before_ms = 0;
	if (t->q)
		t->q->finished[st]++;
	set_status(d, t, st, NULL);
}

/* ---- attempts ---- */

static void attempt_free(struct mcpd *d, struct mcpd_task *a)
{
	/* A draining generation is retired by reload.c's tick once this
	 * was its last reference. */
	struct mcpd_plugin *pl = a->cap->plugin;
	capdef_attempt_done(a->cap); /* may free a withdrawn capability */
	a->cap = NULL;
	plugin_unref(pl);
	if (a->live_prev)
		a->live_prev->live_next = a->live_next;
	else if (d->live == a)
		d->live = a->live_next;
	if (a->live_next)
		a->live_next->live_prev = a->live_prev;
	a->magic = 0;
	json_decref(a->input);
	json_decref(a->result);
	free(a->err_code);
	free(a->err_msg);
	free(a);
}

/* The loop drops an attempt once the task moved on and no plugin code can
 * still use the handle: a blocking handler has returned, a loop handler
 * has finished it. */
static void attempt_maybe_free(struct mcpd *d, struct mcpd_task *a)
{
	if (a->task)
		return;
	if (a->blocking ? a->returned : a->done_seen)
		attempt_free(d, a);
}

static void release_slot(struct mcpd_task *a)
{
	if (!a->slot_held)
		return;
	a->slot_held = 0;
	a->prov->running--;
}

static void observe_latency(struct capq *q, double seconds)
{
	int i = 0;
	while (i < LATENCY_BUCKETS && seconds > latency_bounds[i])
		i++;
	q->hist[i]++;
	q->hist_sum += seconds;
	q->hist_count++;
}

/* Detach the running attempt from its task; cancel it for the plugin. */
static struct mcpd_task *detach(struct task *t)
{
	struct mcpd_task *a = t->attempt;
	if (!a)
		return NULL;
	if (t->timer)
		event_del(t->timer);
	t->attempt = NULL;
	a->task = NULL;
	atomic_store(&a->cancelled, 1);
	if (t->q)
		observe_latency(t->q, (mono_ms() - a->started_mono) / 1000.0);
	/* A loop handler holds no thread: its slot is free now. */
	if (!a->blocking)
		release_slot(a);
	return a;
}

static int backoff_ms(struct mcpd *d, int attempt)
{
	double ms = d->cfg.retry_base_ms;
	for (int i = 1; i < attempt && ms < d->cfg.retry_max_ms; i++)
		ms *= 2;
	if (ms > d->cfg.retry_max_ms)
		ms = d->cfg.retry_max_ms;
	/* Full jitter in [ms/2, ms): spreads retries of a failed batch. */
	return (int)(ms / 2 + (ms / 2) * (rand() / (RAND_MAX + 1.0)));
}

static void on_timer(evutil_socket_t fd, short what, void *arg);
static void orphan_expired(struct mcpd *d, struct task *t);

static void arm_timer(struct mcpd *d, struct task *t, int ms)
{
	if (!t->timer)
		t->timer = evtimer_new(d->base, on_timer, t);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(t->timer, &tv);
}

static void enqueue(struct mcpd *d, struct task *t)
{
	struct capq *q = router_capq(d->router, t->capability, 1);
	t->not_before_ms = 0;
	t->seq = ++d->task_seq;
	if (capq_push(q, t) < 0) {
		task_set_error(t, "internal", "out of memory queueing the task");
		finish(d, t, TASK_FAILED);
	}
}

/* A failed or timed-out attempt: retry after a backoff, or finish. */
static void retry_or_finish(struct mcpd *d, struct task *t,
                            enum task_status st)
{
	if (t->attempts > t->retries) {
		finish(d, t, st);
		return;
	}
	int wait = backoff_ms(d, t->attempts);
	t->not_before_ms = now_ms() + wait;
	set_status(d, t, TASK_QUEUED,
	           json_pack("{s:i, s:s}", "retry_in_ms", wait, "after",
	                     task_status_name(st)));
	arm_timer(d, t, wait);
}

/* A task's timer: the running attempt's timeout, or a retry's backoff. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct task *t = arg;
	struct mcpd *d = t->d;
	if (t->status == TASK_QUEUED && !t->in_queue) {
		enqueue(d, t);
		sched_dirty(d, t);
		dispatch(d, t->q);
		return;
	}
	if (t->status == TASK_QUEUED) {
		orphan_expired(d, t);
		return;
	}
	if (t->status != TASK_RUNNING || !t->attempt)
		return;
	struct mcpd_task *a = detach(t);
	router_outcome(d->router, a->prov, 0, mono_ms());
	log_msg(LOG_WARN, a->cap->plugin->name, t->hex,
	        "attempt %d timed out after %d ms", t->attempts, t->timeout_ms);
	char msg[128];
	snprintf(msg, sizeof msg, "attempt %d exceeded timeout_ms=%d",
	         t->attempts, t->timeout_ms);
	task_set_error(t, "timeout", msg);
	struct capq *q = t->q;
	retry_or_finish(d, t, TASK_TIMED_OUT);
	attempt_maybe_free(d, a);
	dispatch(d, q);
}

/*
 * A queued task whose capability lost every provider that could take it
 * waits for one as long as its timeout_ms; then it fails with the reason.
 */
static void orphan_expired(struct mcpd *d, struct task *t)
{
	if (!t->q || router_can_match(t->q, t->match))
		return; /* a provider came back: it is dispatched as usual */
	char msg[256];
	snprintf(msg, sizeof msg, "no loaded plugin provides capability "
	         "\"%s\"%s for timeout_ms=%d; it was removed or replaced by "
	         "a reload, or not loaded after a restart", t->capability,
	         t->match ? " with the requested attributes" : "",
	         t->timeout_ms);
	task_set_error(t, "no_provider", msg);
	log_msg(LOG_WARN, NULL, t->hex, "%s", msg);
	finish(d, t, TASK_FAILED);
}

void sched_check_orphans(struct mcpd *d)
{
	struct capq **qs;
	size_t n = router_list(d->router, &qs);
	for (size_t i = 0; i < n; i++) {
		struct capq *q = qs[i];
		for (size_t j = 0; j < q->len; j++) {
			struct task *t = q->heap[j];
			if (router_can_match(q, t->match) ||
			    (t->timer && evtimer_pending(t->timer, NULL)))
				continue;
			arm_timer(d, t, t->timeout_ms);
		}
	}
	free(qs);
}

static void run_blocking(void *arg)
{
	struct mcpd_task *a = arg;
	int rc = a->cap->handler(a, a->cap->ud);
	struct msg *m = calloc(1, sizeof *m);
	if (!m)
		abort(); /* losing this would pin the slot forever */
	m->type = MSG_RETURNED;
	m->attempt = a;
	m->rc = rc;
	mcpd_post(a->d, m);
}

static void start(struct mcpd *d, struct task *t, struct provider *p)
{
	struct mcpd_task *a = calloc(1, sizeof *a);
	if (!a) {
		task_set_error(t, "internal", "out of memory starting the task");
		finish(d, t, TASK_FAILED);
		return;
	}
	a->magic = ATTEMPT_MAGIC;
	a->d = d;
	a->input = json_incref(t->input);
	memcpy(a->id, t->hex, sizeof a->id);
	a->cap = p->cap;
	p->cap->attempts++;
	a->blocking = (p->cap->flags & MCPD_CAP_BLOCKING) != 0;
	a->task = t;
	a->prov = p;
	a->slot_held = 1;
	a->started_mono = mono_ms();
	a->live_next = d->live;
	if (d->live)
		d->live->live_prev = a;
	d->live = a;
	p->running++;
	plugin_ref(p->cap->plugin);

	t->attempt = a;
	t->attempts++;
	t->started_ms = now_ms();
	free(t->provider);
	t->provider = strdup(p->cap->plugin->name);
	free(t->err_code);
	free(t->err_msg);
	t->err_code = t->err_msg = NULL;
	const struct mcpd_plugin *pl = p->cap->plugin;
	set_status(d, t, TASK_RUNNING,
	           json_pack("{s:i, s:s, s:s, s:i}", "attempt", t->attempts,
	                     "provider", t->provider, "provider_version",
	                     pl->version, "generation", pl->generation));
	arm_timer(d, t, t->timeout_ms);

	if (a->blocking) {
		d->workers_busy++;
		if (pool_submit(d->pool, run_blocking, a) < 0) {
			d->workers_busy--;
			a->returned = 1;
			release_slot(a);
			attempt_finish(a, 0, NULL, "internal",
			               "the worker pool is not running");
		}
		return;
	}
	int rc = a->cap->handler(a, a->cap->ud);
	if (rc < 0)
		attempt_finish(a, 0, NULL, "handler_error",
		               host_table.strerror(rc));
}

static void on_redispatch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sched_dispatch_all(arg);
}

static void dispatch(struct mcpd *d, struct capq *q)
{
	struct task *t;
	struct provider *p;
	int64_t retry_at = 0;
	if (d->draining || !q)
		return;
	/* A blocking attempt starts only with a worker free for it, so its
	 * timeout never runs while it waits for a thread. */
	while ((t = router_take(q, mono_ms(), d->workers_busy < d->cfg.workers,
	                        &p, &retry_at)))
		start(d, t, p);
	if (retry_at) {
		/* An open breaker half-opens later: look again then. */
		if (!d->redispatch_ev)
			d->redispatch_ev = evtimer_new(d->base, on_redispatch, d);
		int64_t ms = retry_at - mono_ms();
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		if (ms < 0)
			tv = (struct timeval){0, 0};
		evtimer_add(d->redispatch_ev, &tv);
	}
}

void sched_dispatch_all(struct mcpd *d)
{
	struct capq **qs;
	size_t n = router_list(d->router, &qs);
	for (size_t i = 0; i < n; i++)
		dispatch(d, qs[i]);
	free(qs);
}

/* ---- messages from workers ---- */

/* The attempt has an outcome: apply it to its task if still its own. */
static void conclude(struct mcpd *d, struct mcpd_task *a)
{
	struct task *t = a->task;
	if (!t)
		return;
	detach(t);
	/* The caller's fault says nothing of the provider's health, and
	 * would fail the same way again. */
	int callers_fault = !a->ok && a->err_code &&
	                    strcmp(a->err_code, "bad_input") == 0;
	if (!callers_fault)
		router_outcome(d->router, a->prov, a->ok, mono_ms());
	if (a->ok) {
		t->result = json_incref(a->result);
		finish(d, t, TASK_SUCCEEDED);
		return;
	}
	task_set_error(t, a->err_code, a->err_msg);
	log_msg(LOG_INFO, a->cap->plugin->name, t->hex, "attempt %d failed: %s: %s",
	        t->attempts, a->err_code, a->err_msg);
	if (callers_fault)
		finish(d, t, TASK_FAILED);
	else
		retry_or_finish(d, t, TASK_FAILED);
}

/* Whole numbers stay integers in JSON: 150, not 150.0. */
static json_t *number(double v)
{
	if (v == (double)(json_int_t)v)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static void on_progress(struct mcpd *d, struct msg *m)
{
	struct task *t = m->attempt->task;
	if (!t)
		return;
	json_decref(t->progress);
	t->progress = json_pack("{s:o, s:o, s:s?}", "done", number(m->done),
	                        "total", number(m->total), "message", m->text);
	/* Events at most ten a second: the task itself holds the latest. */
	int64_t now = mono_ms();
	if (now - t->last_progress_ms < 100 && !(m->total > 0 && m->done >= m->total))
		return;
	t->last_progress_ms = now;
	emit(d, t, "progress", json_deep_copy(t->progress));
}

void sched_handle_msg(struct mcpd *d, struct msg *m)
{
	struct mcpd_task *a = m->attempt;
	/* Looked up first: the attempt may be freed below. */
	struct capq *q = a ? router_capq(d->router, a->cap->name, 0) : NULL;
	switch (m->type) {
	case MSG_PROGRESS:
		on_progress(d, m);
		break;
	case MSG_DONE:
		a->done_seen = 1;
		conclude(d, a);
		if (!a->blocking)
			release_slot(a);
		attempt_maybe_free(d, a);
		break;
	case MSG_RETURNED:
		a->returned = 1;
		d->workers_busy--;
		release_slot(a);
		if (!atomic_load(&a->finished)) {
			/* The handler returned with no outcome: that is a
			 * failure of the handler, not of the task's input. */
			attempt_finish(a, 0, NULL,
			               m->rc < 0 ? "handler_error" : "no_result",
			               m->rc < 0 ? host_table.strerror(m->rc)
			                         : "handler returned without a result");
			break; /* its MSG_DONE follows */
		}
		attempt_maybe_free(d, a);
		break;
	case MSG_KV:
		host_kv_run(d, m->kv);
		break;
	}
	/* A worker came free: any capability may be waiting for one. */
	if (m->type == MSG_RETURNED)
		sched_dispatch_all(d);
	else
		dispatch(d, q);
}

/* ---- submit ---- */

static int fail_submit(struct submit_error *err, int status, const char *code,
                       json_t *details, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail_submit(struct submit_error *err, int status, const char *code,
                       json_t *details, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	err->status = status;
	err->code = code;
	err->details = details;
	return -1;
}

static int int_field(const json_t *body, const char *key, long lo, long hi,
                     int dflt, int *out, struct submit_error *err)
{
	json_t *v = json_object_get(body, key);
	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return fail_submit(err, 400, "bad_request",
		                   json_pack("{s:s}", "field", key),
		                   "%s: must be an integer from %ld to %ld", key,
		                   lo, hi);
	*out = (int)json_integer_value(v);
	return 0;
}

static const char *const submit_fields[] = {
	"capability", "input", "match", "priority", "timeout_ms", "retries",
	"idempotency_key", NULL};

static int check_fields(const json_t *body, struct submit_error *err)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v) {
		int known = 0;
		for (int i = 0; submit_fields[i]; i++)
			known |= strcmp(key, submit_fields[i]) == 0;
		if (!known)
			return fail_submit(err, 400, "bad_request",
			                   json_pack("{s:s}", "field", key),
			                   "unknown field \"%s\"", key);
	}
	return 0;
}

/* Input must satisfy the schema of every provider that may run it. */
static int check_input(const struct capq *q, const json_t *input,
                       const json_t *match, struct submit_error *err)
{
	char path[256], why[256];
	for (size_t i = 0; i < q->nprov; i++) {
		const struct capdef *c = q->provs[i]->cap;
		if (!attrs_match(c->attributes, match))
			continue;
		if (schema_validate(c->input_schema, input, path, sizeof path,
		                    why, sizeof why) < 0)
			return fail_submit(err, 422, "invalid_input",
			                   json_pack("{s:s, s:s}", "path", path,
			                             "reason", why),
			                   "input%s: %s", path, why);
	}
	return 0;
}

json_t *sched_task_json(struct mcpd *d, const char *hex, const uint8_t id[16])
{
	struct task *t = sched_find(d, hex);
	char *text = NULL;
	size_t len;
	if (t)
		return task_api_json(t);
	if (store_task_get(d->store, id, &text, &len) != 0)
		return NULL;
	json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
	free(text);
	if (j)
		task_json_add_links(j, hex);
	return j;
}

/* The existing task of an idempotency key, as JSON; NULL if none. */
static json_t *find_idempotent(struct mcpd *d, const char *key)
{
	uint8_t id[16];
	char hex[33];
	if (store_idem_get(d->store, key, id) != 0)
		return NULL;
	task_id_hex(id, hex);
	return sched_task_json(d, hex, id);
}

static int validate_submit(struct mcpd *d, const json_t *body,
                           struct task *t, struct submit_error *err)
{
	const struct config *c = &d->cfg;
	const char *cap = json_string_value(json_object_get(body, "capability"));
	json_t *input = json_object_get(body, "input");
	json_t *match = json_object_get(body, "match");
	json_t *idem = json_object_get(body, "idempotency_key");
	if (check_fields(body, err) < 0)
		return -1;
	if (!cap || !cap[0])
		return fail_submit(err, 400, "bad_request",
		                   json_pack("{s:s}", "field", "capability"),
		                   "capability: a non-empty string is required");
	if (match && !json_is_object(match))
		return fail_submit(err, 400, "bad_request",
		                   json_pack("{s:s}", "field", "match"),
		                   "match: must be an object");
	if (idem && (!json_is_string(idem) || !json_string_length(idem) ||
	             json_string_length(idem) > 256))
		return fail_submit(err, 400, "bad_request",
		                   json_pack("{s:s}", "field", "idempotency_key"),
		                   "idempotency_key: must be a string of 1 to 256 bytes");
	if (int_field(body, "priority", -1000, 1000, 0, &t->priority, err) < 0 ||
	    int_field(body, "timeout_ms", 1, c->max_timeout_ms,
	              c->default_timeout_ms, &t->timeout_ms, err) < 0 ||
	    int_field(body, "retries", 0, c->max_retries, 0, &t->retries, err) < 0)
		return -1;
	t->capability = strdup(cap);
	t->input = input ? json_incref(input) : json_object();
	t->match = json_incref(match);
	t->idem_key = idem ? strdup(json_string_value(idem)) : NULL;
	return 0;
}

int sched_submit(struct mcpd *d, const json_t *body, json_t **out,
                 int *created, struct submit_error *err)
{
	struct task *t = task_new();
	if (!t)
		return fail_submit(err, 500, "internal", NULL, "out of memory");
	if (validate_submit(d, body, t, err) < 0)
		goto fail;
	if (t->idem_key && (*out = find_idempotent(d, t->idem_key))) {
		*created = 0;
		task_free(t);
		return 0;
	}
	struct capq *q = router_capq(d->router, t->capability, 0);
	if (!q || !q->nprov) {
		fail_submit(err, 404, "unknown_capability",
		            json_pack("{s:s}", "capability", t->capability),
		            "no loaded plugin provides capability \"%s\"",
		            t->capability);
		goto fail;
	}
	if (!router_can_match(q, t->match)) {
		fail_submit(err, 422, "no_provider",
		            json_pack("{s:O}", "match", t->match),
		            "no provider of \"%s\" matches the given attributes",
		            t->capability);
		goto fail;
	}
	if (check_input(q, t->input, t->match, err) < 0)
		goto fail;
	if ((int)q->len >= d->cfg.queue_limit) {
		fail_submit(err, 429, "queue_full",
		            json_pack("{s:i}", "queue_limit", d->cfg.queue_limit),
		            "the queue of \"%s\" is full (%d tasks)",
		            t->capability, d->cfg.queue_limit);
		goto fail;
	}

	t->d = d;
	task_id_new(t->id);
	task_id_hex(t->id, t->hex);
	t->created_ms = now_ms();
	if (map_put(d->tasks, t->hex, t) < 0) {
		fail_submit(err, 500, "internal", NULL, "out of memory");
		goto fail;
	}
	if (t->idem_key && store_idem_put(d->store, t->idem_key, t->id) < 0)
		log_error("cannot store idempotency key: %s",
		          store_last_error(d->store));
	q->submitted++;
	enqueue(d, t);
	set_status(d, t, TASK_QUEUED, NULL);
	*out = task_api_json(t);
	*created = 1;
	dispatch(d, q);
	return 0;
fail:
	task_free(t);
	return -1;
}

struct task *sched_find(struct mcpd *d, const char *hex)
{
	return map_get(d->tasks, hex);
}

int sched_cancel(struct mcpd *d, struct task *t)
{
	if (task_status_final(t->status))
		return -1;
	struct capq *q = t->q;
	struct mcpd_task *a = detach(t);
	task_set_error(t, "cancelled", "cancelled by request");
	finish(d, t, TASK_CANCELLED);
	if (a) {
		log_msg(LOG_INFO, a->cap->plugin->name, t->hex,
		        "running attempt cancelled");
		attempt_maybe_free(d, a);
	}
	dispatch(d, q);
	return 0;
}

int sched_running(struct mcpd *d)
{
	int n = 0;
	for (struct mcpd_task *a = d->live; a; a = a->live_next)
		n += a->slot_held;
	return n;
}

/* ---- restart and shutdown ---- */

static int recover_one(const uint8_t id[16], const char *json, size_t len,
                       void *ud)
{
	struct mcpd *d = ud;
	(void)id;
	/* Most stored tasks are final: skip them without parsing. */
	if (!memmem(json, len, "\"status\":\"queued\"", 17) &&
	    !memmem(json, len, "\"status\":\"running\"", 18))
		return 0;
	json_t *j = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	struct task *t = j ? task_from_json(j) : NULL;
	json_decref(j);
	if (!t || task_status_final(t->status)) {
		task_free(t);
		return 0;
	}
	t->d = d;
	if (map_put(d->tasks, t->hex, t) < 0) {
		task_free(t);
		return 0;
	}
	if (t->status == TASK_RUNNING) {
		task_set_error(t, "interrupted",
		               "the daemon stopped while the task was running");
		retry_or_finish(d, t, TASK_FAILED);
		return 0;
	}
	int64_t wait = t->not_before_ms - now_ms();
	if (wait > 0)
		arm_timer(d, t, (int)(wait > 86400000 ? 86400000 : wait));
	else
		enqueue(d, t);
	return 0;
}

int sched_recover(struct mcpd *d)
{
	size_t before = map_count(d->tasks);
	if (store_task_scan(d->store, NULL, 0, recover_one, d) < 0)
		return -1;
	size_t n = map_count(d->tasks) - before;
	if (n)
		log_info("recovered %zu unfinished tasks", n);
	sched_check_orphans(d);
	sched_dispatch_all(d);
	return 0;
}

void sched_requeue_plugin(struct mcpd *d, struct mcpd_plugin *p,
                          const char *why)
{
	struct mcpd_task *a, *next;
	for (a = d->live; a; a = next) {
		next = a->live_next;
		struct task *t = a->task;
		if (a->cap->plugin != p || !t)
			continue;
		struct capq *q = t->q;
		detach(t);
		task_set_error(t, "reload_drain", why);
		retry_or_finish(d, t, TASK_FAILED);
		attempt_maybe_free(d, a);
		dispatch(d, q);
	}
}

void sched_drop_stale_attempts(struct mcpd *d, struct mcpd_plugin *p)
{
	struct mcpd_task *a, *next;
	for (a = d->live; a; a = a->live_next)
		if (a->cap->plugin == p && a->blocking && !a->returned)
			return; /* a worker is still inside its code */
	for (a = d->live; a; a = next) {
		next = a->live_next;
		if (a->cap->plugin != p || a->task)
			continue;
		log_msg(LOG_WARN, p->name, a->id, "dropping an attempt the "
		        "plugin never finished");
		release_slot(a);
		attempt_free(d, a);
	}
}

void sched_abandon_running(struct mcpd *d, const char *why)
{
	for (struct mcpd_task *a = d->live; a; a = a->live_next) {
		struct task *t = a->task;
		if (!t)
			continue;
		detach(t);
		/* Not the task's fault: this attempt does not count. */
		t->attempts--;
		task_set_error(t, "interrupted", why);
		set_status(d, t, TASK_QUEUED,
		           json_pack("{s:s}", "reason", why));
	}
}

void sched_free_all(struct mcpd *d)
{
	size_t pos = 0;
	const char *k;
	void *v;
	struct task **all = calloc(map_count(d->tasks) + 1, sizeof *all);
	size_t n = 0;
	while (all && map_next(d->tasks, &pos, &k, &v))
		all[n++] = v;
	for (size_t i = 0; i < n; i++) {
		struct task *t = all[i];
		while (t->watchers)
			notify(t, NULL, 1);
		if (t->q)
			capq_remove(t->q, t);
		forget(d, t);
	}
	free(all);
	while (d->live)
		attempt_free(d, d->live);
	d->dirty = NULL;
}
