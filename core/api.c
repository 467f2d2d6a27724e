/*
 * The REST API: routes under /v1, health, readiness and metrics. Every
 * error is {"error":{"code","message","details"}}. Answers that acknowledge
 * a write wait for the group commit that makes it durable.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-internal.h"
#include "log-internal.h"
#include "map-internal.h"
#include "mcp-internal.h"
#include "mcpd-internal.h"
#include "plugin-internal.h"
#include "router-internal.h"
#include "schema-internal.h"
#include "store-internal.h"

/* ---- replies, counted by class for /metrics ---- */

static void count(struct mcpd *d, int status)
{
	if (status >= 100 && status < 600)
		d->http_codes[status / 100]++;
}

static void reply_json(struct mcpd *d, struct http_req *req, int status,
                       json_t *body)
{
	count(d, status);
	http_req_reply_json(req, status, body);
}

#define reply_error(d, req, status, code, details, ...)                      \
	do {                                                                 \
		count((d), (status));                                        \
		http_req_reply_error((req), (status), (code), (details),     \
		                     __VA_ARGS__);                           \
	} while (0)

/* ---- answers held until the commit ---- */

struct held {
	struct mcpd *d;
	struct http_req *req; /* NULL once the client went away */
	int status;
	json_t *body;
	char location[64];
};

static void held_closed(struct http_req *req, void *arg)
{
	(void)req;
	((struct held *)arg)->req = NULL;
}

static void held_release(void *arg, int ok)
{
	struct held *h = arg;
	if (h->req) {
		http_req_on_close(h->req, NULL, NULL);
		if (!ok) {
			reply_error(h->d, h->req, 500, "store_error", NULL,
			            "the store could not commit: %s",
			            store_last_error(h->d->store));
		} else {
			if (h->location[0])
				http_req_add_header(h->req, "Location", h->location);
			reply_json(h->d, h->req, h->status, json_incref(h->body));
		}
	}
	json_decref(h->body);
	free(h);
}

/* Reply once what this iteration wrote is on disk. Steals body. */
static void reply_durable(struct mcpd *d, struct http_req *req, int status,
                          json_t *body, const char *location)
{
	struct held *h = calloc(1, sizeof *h);
	if (!h) {
		json_decref(body);
		reply_error(d, req, 500, "internal", NULL, "out of memory");
		return;
	}
	h->d = d;
	h->req = req;
	h->status = status;
	h->body = body;
	if (location)
		snprintf(h->location, sizeof h->location, "%s", location);
	http_req_on_close(req, held_closed, h);
	mcpd_after_commit(d, held_release, h);
}

/* ---- request helpers ---- */

static int is_json_type(const char *ct)
{
	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	size_t n = strlen("application/json");
	return strncasecmp(ct, "application/json", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The request body as a JSON object, or NULL after answering the error. */
static json_t *read_body(struct mcpd *d, struct http_req *req)
{
	size_t len;
	const char *body = http_req_body(req, &len);
	if (!is_json_type(http_req_header(req, "Content-Type"))) {
		reply_error(d, req, 415, "unsupported_media_type", NULL,
		            "the body must be sent as application/json");
		return NULL;
	}
	if (json_text_depth(body, len, d->cfg.max_json_depth) >
	    d->cfg.max_json_depth) {
		reply_error(d, req, 400, "too_deep",
		            json_pack("{s:i}", "max_json_depth",
		                      d->cfg.max_json_depth),
		            "JSON nested deeper than %d levels",
		            d->cfg.max_json_depth);
		return NULL;
	}
	json_error_t jerr;
	/* "\u0000" is valid JSON: strings may hold NUL (plugins that read
	 * them as C strings see them cut there). */
	json_t *j = json_loadb(body, len,
	                       JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!j) {
		reply_error(d, req, 400, "invalid_json",
		            json_pack("{s:i, s:i}", "line", jerr.line, "column",
		                      jerr.column),
		            "invalid JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(d, req, 400, "invalid_json", NULL,
		            "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* An integer query parameter in [lo, hi]; dflt when absent. -1 after
 * answering 400. */
static int query_int(struct mcpd *d, struct http_req *req, const char *name,
                     long lo, long hi, long dflt, long *out)
{
	const char *v = http_req_query(req, name);
	*out = dflt;
	if (!v)
		return 0;
	char *end;
	long n = strtol(v, &end, 10);
	if (!*v || *end || n < lo || n > hi) {
		reply_error(d, req, 400, "bad_request",
		            json_pack("{s:s}", "parameter", name),
		            "%s: must be an integer from %ld to %ld", name, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

/* ---- tasks ---- */

static void post_task(struct mcpd *d, struct http_req *req)
{
	if (d->draining) {
		reply_error(d, req, 503, "shutting_down", NULL,
		            "the daemon is shutting down");
		return;
	}
	json_t *body = read_body(d, req);
	if (!body)
		return;
	json_t *task = NULL;
	int created = 0;
	struct submit_error err = {0};
	if (sched_submit(d, body, &task, &created, &err) < 0) {
		if (err.status == 429)
			http_req_add_header(req, "Retry-After", "1");
		reply_error(d, req, err.status, err.code, err.details, "%s",
		            err.message);
	} else {
		char location[64];
		snprintf(location, sizeof location, "/v1/tasks/%s",
		         json_string_value(json_object_get(task, "id")));
		reply_durable(d, req, created ? 201 : 200, task, location);
	}
	json_decref(body);
}

/* A GET ?wait=N: answered when the task is final or the time is up. */
struct waiter {
	struct watcher w; /* first: the watcher callback gets this pointer */
	struct mcpd *d;
	struct http_req *req;
	struct event *timer;
	struct task *task;
};

static void waiter_free(struct waiter *wt)
{
	watcher_remove(&wt->w);
	if (wt->timer)
		event_free(wt->timer);
	free(wt);
}

static void waiter_answer(struct waiter *wt, struct task *t)
{
	struct http_req *req = wt->req;
	http_req_on_close(req, NULL, NULL);
	if (t)
		reply_json(wt->d, req, 200, task_api_json(t));
	else
		reply_error(wt->d, req, 503, "shutting_down", NULL,
		            "the daemon is shutting down");
	waiter_free(wt);
}

static void waiter_event(struct watcher *w, struct task *t, json_t *ev,
                         int final)
{
	if (final)
		waiter_answer((struct waiter *)w, ev ? t : NULL);
}

static void waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct waiter *wt = arg;
	waiter_answer(wt, wt->task);
}

static void waiter_closed(struct http_req *req, void *arg)
{
	(void)req;
	waiter_free(arg);
}

static void wait_for(struct mcpd *d, struct http_req *req, struct task *t,
                     long seconds)
{
	struct waiter *wt = calloc(1, sizeof *wt);
	if (!wt || !(wt->timer = evtimer_new(d->base, waiter_timeout, wt))) {
		free(wt);
		reply_json(d, req, 200, task_api_json(t));
		return;
	}
	wt->w.fn = waiter_event;
	wt->d = d;
	wt->req = req;
	wt->task = t;
	struct timeval tv = {seconds, 0};
	evtimer_add(wt->timer, &tv);
	watcher_add(t, &wt->w);
	http_req_on_close(req, waiter_closed, wt);
}

static void get_task(struct mcpd *d, struct http_req *req, const char *hex,
                     const uint8_t id[16])
{
	long wait;
	if (query_int(d, req, "wait", 0, 300, 0, &wait) < 0)
		return;
	struct task *t = sched_find(d, hex);
	if (t && wait > 0 && !task_status_final(t->status)) {
		wait_for(d, req, t, wait);
		return;
	}
	json_t *j = sched_task_json(d, hex, id);
	if (!j) {
		reply_error(d, req, 404, "not_found", NULL, "no task %s", hex);
		return;
	}
	reply_json(d, req, 200, j);
}

static void delete_task(struct mcpd *d, struct http_req *req, const char *hex,
                        const uint8_t id[16])
{
	struct task *t = sched_find(d, hex);
	if (t && sched_cancel(d, t) == 0) {
		reply_durable(d, req, 200, task_api_json(t), NULL);
		return;
	}
	json_t *j = sched_task_json(d, hex, id);
	if (!j) {
		reply_error(d, req, 404, "not_found", NULL, "no task %s", hex);
		return;
	}
	const char *st = json_string_value(json_object_get(j, "status"));
	reply_error(d, req, 409, "conflict",
	            json_pack("{s:s}", "status", st ? st : ""),
	            "task %s has already finished (%s)", hex, st ? st : "?");
	json_decref(j);
}

struct list_ctx {
	struct mcpd *d;
	int status; /* -1 = any */
	const char *capability;
	long limit;
	json_t *tasks;
	int more; /* a match exists past the page */
	char next[33];
};

static int list_one(const uint8_t id[16], const char *json, size_t len,
                    void *ud)
{
	struct list_ctx *lc = ud;
	char hex[33];
	task_id_hex(id, hex);
	struct task *t = sched_find(lc->d, hex);
	json_t *j = t ? task_to_json(t, 1)
	              : json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	if (!j)
		return 0;
	const char *st = json_string_value(json_object_get(j, "status"));
	const char *cap = json_string_value(json_object_get(j, "capability"));
	if ((lc->status >= 0 &&
	     (!st || task_status_parse(st) != lc->status)) ||
	    (lc->capability && (!cap || strcmp(cap, lc->capability) != 0))) {
		json_decref(j);
		return 0;
	}
	if ((long)json_array_size(lc->tasks) == lc->limit) {
		/* One more match: the page ends at the previous one. */
		json_decref(j);
		lc->more = 1;
		return 1;
	}
	json_object_del(j, "input");
	json_object_del(j, "result");
	task_json_add_links(j, hex);
	json_array_append_new(lc->tasks, j);
	memcpy(lc->next, hex, sizeof lc->next);
	return 0;
}

static void list_tasks(struct mcpd *d, struct http_req *req)
{
	struct list_ctx lc = {.d = d, .status = -1};
	const char *st = http_req_query(req, "status");
	const char *cursor = http_req_query(req, "cursor");
	uint8_t after[16];
	if (query_int(d, req, "limit", 1, 1000, 50, &lc.limit) < 0)
		return;
	if (st && (lc.status = task_status_parse(st)) < 0) {
		reply_error(d, req, 400, "bad_request",
		            json_pack("{s:s}", "parameter", "status"),
		            "status: must be one of queued, running, succeeded, "
		            "failed, cancelled, timed_out");
		return;
	}
	if (cursor && task_id_parse(cursor, after) < 0) {
		reply_error(d, req, 400, "bad_request",
		            json_pack("{s:s}", "parameter", "cursor"),
		            "cursor: must be a next_cursor value from a "
		            "previous page");
		return;
	}
	lc.capability = http_req_query(req, "capability");
	lc.tasks = json_array();
	if (store_task_scan(d->store, cursor ? after : NULL, 1, list_one, &lc) < 0) {
		json_decref(lc.tasks);
		reply_error(d, req, 500, "store_error", NULL, "%s",
		            store_last_error(d->store));
		return;
	}
	json_t *out = json_pack("{s:o}", "tasks", lc.tasks);
	json_object_set_new(out, "next_cursor",
	                    lc.more ? json_string(lc.next) : json_null());
	reply_json(d, req, 200, out);
}

/* ---- the event stream ---- */

struct stream {
	struct watcher w; /* first */
	struct mcpd *d;
	struct http_req *req;
	uint32_t skip; /* Last-Event-ID: events up to it were seen */
};

static int write_event(struct http_req *req, uint32_t seq, const char *type,
                       const char *json, size_t len)
{
	char head[96];
	int n = snprintf(head, sizeof head, "id: %u\nevent: %s\ndata: ", seq,
	                 type ? type : "message");
	int rc = http_req_stream_write(req, head, (size_t)n);
	if (rc == 0)
		rc = http_req_stream_write(req, json, len);
	if (rc == 0)
		rc = http_req_stream_write(req, "\n\n", 2);
	return rc;
}

static int replay_one(uint32_t seq, const char *json, size_t len, void *ud)
{
	struct stream *s = ud;
	if (seq <= s->skip)
		return 0;
	json_t *ev = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	int rc = write_event(s->req, seq,
	                     json_string_value(json_object_get(ev, "type")),
	                     json, len);
	json_decref(ev);
	return rc < 0;
}

static void stream_free(struct stream *s)
{
	watcher_remove(&s->w);
	free(s);
}

static void stream_event(struct watcher *w, struct task *t, json_t *ev,
                         int final)
{
	struct stream *s = (struct stream *)w;
	(void)t;
	if (ev) {
		char *text = json_dumps(ev, JSON_COMPACT);
		uint32_t seq = (uint32_t)json_integer_value(json_object_get(ev, "seq"));
		if (text)
			write_event(s->req, seq,
			            json_string_value(json_object_get(ev, "type")),
			            text, strlen(text));
		free(text);
	}
	if (final) {
		http_req_on_close(s->req, NULL, NULL);
		http_req_stream_end(s->req);
		stream_free(s);
	}
}

static void stream_closed(struct http_req *req, void *arg)
{
	(void)req;
	stream_free(arg);
}

static void task_events(struct mcpd *d, struct http_req *req, const char *hex,
                        const uint8_t id[16])
{
	struct task *t = sched_find(d, hex);
	json_t *known = t ? NULL : sched_task_json(d, hex, id);
	if (!t && !known) {
		reply_error(d, req, 404, "not_found", NULL, "no task %s", hex);
		return;
	}
	json_decref(known);
	struct stream *s = calloc(1, sizeof *s);
	if (!s) {
		reply_error(d, req, 500, "internal", NULL, "out of memory");
		return;
	}
	s->d = d;
	s->req = req;
	s->w.fn = stream_event;
	const char *last = http_req_header(req, "Last-Event-ID");
	s->skip = last ? (uint32_t)strtoul(last, NULL, 10) : 0;
	count(d, 200);
	http_req_stream_start(req, 200, "text/event-stream");
	store_event_scan(d->store, id, replay_one, s);
	if (!t || task_status_final(t->status)) {
		http_req_stream_end(req);
		free(s);
		return;
	}
	watcher_add(t, &s->w);
	http_req_on_close(req, stream_closed, s);
}

/* ---- capabilities, plugins, health ---- */

static json_t *provider_json(const struct provider *p)
{
	return json_pack("{s:s, s:s, s:O, s:i, s:i, s:s, s:f}", "plugin",
	                 p->cap->plugin->name, "version", p->cap->version,
	                 "attributes", p->cap->attributes, "max_concurrency",
	                 p->max, "running", p->running, "breaker",
	                 breaker_name(p->breaker), "success_rate", p->success);
}

static json_t *capability_json(const struct capq *q)
{
	const struct capdef *c = q->provs[0]->cap;
	json_t *j = json_pack("{s:s, s:s, s:s?, s:s?, s:O, s:O?, s:b, s:i}",
	                      "name", q->name, "version", c->version, "title",
	                      c->title, "description", c->description,
	                      "input_schema", c->input_schema, "output_schema",
	                      c->output_schema, "blocking",
	                      (c->flags & MCPD_CAP_BLOCKING) != 0, "queued",
	                      (int)q->len);
	json_t *provs = json_array();
	for (size_t i = 0; i < q->nprov; i++)
		json_array_append_new(provs, provider_json(q->provs[i]));
	json_object_set_new(j, "providers", provs);
	return j;
}

static void list_capabilities(struct mcpd *d, struct http_req *req)
{
	struct capq **qs;
	size_t n = router_list(d->router, &qs);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		if (qs[i]->nprov)
			json_array_append_new(arr, capability_json(qs[i]));
	free(qs);
	reply_json(d, req, 200, json_pack("{s:o}", "capabilities", arr));
}

/* Serving and refused records, then the generations still draining. */
static void list_plugins(struct mcpd *d, struct http_req *req)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < d->nplugins; i++)
		json_array_append_new(arr, plugin_to_json(d->plugins[i]));
	for (size_t i = 0; i < d->nretiring; i++)
		json_array_append_new(arr, plugin_to_json(d->retiring[i]));
	json_t *j = json_pack("{s:o}", "plugins", arr);
	if (d->last_reload)
		json_object_set(j, "last_reload", d->last_reload);
	reply_json(d, req, 200, j);
}

/* ---- reload ---- */

struct reload_req {
	struct reload_waiter w; /* first: the waiter callback gets this */
	struct mcpd *d;
	struct http_req *req;
};

static void reload_answer(struct reload_waiter *w, const json_t *out)
{
	struct reload_req *r = (struct reload_req *)w;
	struct mcpd *d = r->d;
	http_req_on_close(r->req, NULL, NULL);
	const char *status = json_string_value(json_object_get(out, "status"));
	if (status && strcmp(status, "ok") == 0) {
		reply_json(d, r->req, 200, json_deep_copy(out));
	} else {
		json_t *e = json_array_get(json_object_get(out, "errors"), 0);
		const char *file = json_string_value(json_object_get(e, "file"));
		const char *why = json_string_value(json_object_get(e, "reason"));
		int down = d->draining;
		reply_error(d, r->req, down ? 503 : 422,
		            down ? "shutting_down" : "reload_failed",
		            json_deep_copy(out), "%s%s%s%s", down ? "" : "reload "
		            "failed, the running set keeps serving: ",
		            file ? file : "", file ? ": " : "", why ? why : "");
	}
	free(r);
}

static void reload_closed(struct http_req *req, void *arg)
{
	(void)req;
	struct reload_req *r = arg;
	reload_waiter_cancel(r->d, &r->w);
	free(r);
}

/* POST /v1/reload[?wait=1]: the same transaction as SIGHUP. With wait,
 * the answer comes once the replaced generations are retired (or past
 * their drain timeout). */
static void post_reload(struct mcpd *d, struct http_req *req)
{
	long wait;
	if (query_int(d, req, "wait", 0, 1, 0, &wait) < 0)
		return;
	if (d->draining) {
		reply_error(d, req, 503, "shutting_down", NULL,
		            "the daemon is shutting down");
		return;
	}
	struct reload_req *r = calloc(1, sizeof *r);
	if (!r) {
		reply_error(d, req, 500, "internal", NULL, "out of memory");
		return;
	}
	r->w.fn = reload_answer;
	r->w.wait_drain = (int)wait;
	r->d = d;
	r->req = req;
	http_req_on_close(req, reload_closed, r);
	reload_request(d, &r->w);
}

static void readyz(struct mcpd *d, struct http_req *req)
{
	int ready = d->ready && !d->draining && d->store;
	json_t *j = json_pack("{s:s, s:i, s:i, s:s}", "status",
	                      ready ? "ready" : d->draining ? "draining"
	                                                    : "starting",
	                      "plugins_loaded", (int)d->plugins_loaded,
	                      "plugins_refused",
	                      (int)(d->nplugins - d->plugins_loaded), "store",
	                      d->store ? "open" : "closed");
	reply_json(d, req, ready ? 200 : 503, j);
}

static void metrics(struct mcpd *d, struct http_req *req)
{
	char *text = metrics_render(d);
	if (!text) {
		reply_error(d, req, 500, "internal", NULL, "out of memory");
		return;
	}
	count(d, 200);
	http_req_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
	               text, strlen(text));
	free(text);
}

/* ---- routing ---- */

enum { M_GET = 1, M_POST = 2, M_DELETE = 4 };

static int method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		return M_GET;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	if (strcmp(m, "DELETE") == 0)
		return M_DELETE;
	return 0;
}

static void not_allowed(struct mcpd *d, struct http_req *req, int allowed)
{
	char allow[40] = "";
	if (allowed & M_GET)
		strcat(allow, "GET, HEAD");
	if (allowed & M_POST)
		strcat(allow, allow[0] ? ", POST" : "POST");
	if (allowed & M_DELETE)
		strcat(allow, allow[0] ? ", DELETE" : "DELETE");
	http_req_add_header(req, "Allow", allow);
	reply_error(d, req, 405, "method_not_allowed",
	            json_pack("{s:s}", "allow", allow), "%s is not allowed on %s",
	            http_req_method(req), http_req_path(req));
}

/* /v1/tasks/{id}[/events] */
static void task_route(struct mcpd *d, struct http_req *req, int m,
                       const char *rest)
{
	char hex[33];
	uint8_t id[16];
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (n != 32 || (slash && strcmp(slash, "/events") != 0)) {
		reply_error(d, req, 404, "not_found", NULL, "no such resource %s",
		            http_req_path(req));
		return;
	}
	memcpy(hex, rest, 32);
	hex[32] = '\0';
	for (int i = 0; i < 32; i++)
		if (hex[i] >= 'A' && hex[i] <= 'F')
			hex[i] = (char)(hex[i] - 'A' + 'a');
	if (task_id_parse(hex, id) < 0) {
		reply_error(d, req, 404, "not_found", NULL, "no task %s", hex);
		return;
	}
	if (slash) {
		if (m != M_GET)
			not_allowed(d, req, M_GET);
		else
			task_events(d, req, hex, id);
	} else if (m == M_GET) {
		get_task(d, req, hex, id);
	} else if (m == M_DELETE) {
		delete_task(d, req, hex, id);
	} else {
		not_allowed(d, req, M_GET | M_DELETE);
	}
}

struct route {
	const char *path;
	int methods;
	void (*get)(struct mcpd *, struct http_req *);
	void (*post)(struct mcpd *, struct http_req *);
};

static void healthz(struct mcpd *d, struct http_req *req)
{
	reply_json(d, req, 200, json_pack("{s:s}", "status", "ok"));
}

static const struct route routes[] = {
	{"/healthz", M_GET, healthz, NULL},
	{"/readyz", M_GET, readyz, NULL},
	{"/metrics", M_GET, metrics, NULL},
	{"/v1/tasks", M_GET | M_POST, list_tasks, post_task},
	{"/v1/capabilities", M_GET, list_capabilities, NULL},
	{"/v1/plugins", M_GET, list_plugins, NULL},
	{"/v1/reload", M_POST, NULL, post_reload},
};

void api_handle(struct http_req *req, void *ud)
{
	struct mcpd *d = ud;
	const char *path = http_req_path(req);
	int m = method_bit(http_req_method(req));
	log_debug("%s %s", http_req_method(req), path);
	if (strcmp(path, "/mcp") == 0) {
		mcp_http_handle(mcp_server_http(d->mcp), req);
		return;
	}
	if (strncmp(path, "/v1/tasks/", 10) == 0 && path[10]) {
		task_route(d, req, m, path + 10);
		return;
	}
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *r = &routes[i];
		if (strcmp(path, r->path) != 0)
			continue;
		if (!(m & r->methods))
			not_allowed(d, req, r->methods);
		else if (m == M_POST)
			r->post(d, req);
		else
			r->get(d, req);
		return;
	}
	reply_error(d, req, 404, "not_found", NULL, "no such resource %s", path);
}
