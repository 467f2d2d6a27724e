/*
 * The MCP server core (see mcp-internal.h for how a request's revision is
 * chosen). Every capability is a tool; tools/call submits a task through
 * the scheduler like POST /v1/tasks, so it is persisted, routed, retried
 * and visible over REST, and answers once its outcome is committed.
 */
#include "mcp-internal.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc-internal.h"
#include "log-internal.h"
#include "map-internal.h"
#include "mcp-features-internal.h"
#include "mcpd-internal.h"
#include "task-internal.h"
#include "plugin-internal.h"
#include "router-internal.h"

/* ---- revisions ---- */

enum {
	F_MODERN = 1,     /* per-request _meta, resultType, cache hints */
	F_BATCH = 2,      /* JSON-RPC batches (2025-03-26 only) */
	F_STRUCTURED = 4, /* title, outputSchema, structuredContent */
};

struct revision {
	const char *name;
	unsigned features;
};

/* Newest first: the order the supported lists give. */
static const struct revision revisions[] = {
	{"2026-07-28", F_MODERN | F_STRUCTURED},
	{"2025-11-25", F_STRUCTURED},
	{"2025-06-18", F_STRUCTURED},
	{"2025-03-26", F_BATCH},
};

static const struct revision *revision_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof revisions / sizeof *revisions; i++)
		if (strcmp(revisions[i].name, name) == 0)
			return &revisions[i];
	return NULL;
}

static json_t *supported_versions(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof revisions / sizeof *revisions; i++)
		json_array_append_new(a, json_string(revisions[i].name));
	return a;
}

static enum mcp_era era_of(const struct revision *rev)
{
	return rev->features & F_MODERN ? MCP_ERA_MODERN : MCP_ERA_LEGACY;
}

/* RFC 5424 severities as MCP names them, least severe first. */
static const char *const log_levels[] = {"debug", "info", "notice",
                                         "warning", "error", "critical",
                                         "alert", "emergency"};

static int log_level_find(const char *s)
{
	for (int i = 0; s && i < (int)(sizeof log_levels / sizeof *log_levels); i++)
		if (strcmp(log_levels[i], s) == 0)
			return i;
	return -1;
}

/* Tools change only when a reload changes the capability set; clients
 * that cannot hear tools/list_changed (modern ones: no subscriptions/listen
 * yet) re-fetch after this long. */
#define TOOLS_TTL_MS 60000
/* How often reload_epoch is compared, for tools/list_changed. */
#define EPOCH_POLL_MS 250

/* ---- connections ---- */

struct mcp_server {
	struct mcpd *d;
	size_t page_size;
	struct mcp_conn *conns;
	struct event *epoch_ev;
	uint64_t epoch;
	struct mcp_http *http; /* /mcp (mcp-http.c) */
	uint64_t resources_version, prompts_version; /* mcp-features.c */
};

struct mcp_conn {
	struct mcp_server *s;
	mcp_send_fn send;
	void *ud;
	struct mcp_conn *next, **pprev;
	enum mcp_era era;
	const struct revision *session; /* after initialize; NULL before */
	int initialized;                /* notifications/initialized seen */
	json_t *client_caps;            /* from initialize */
	int log_level;                  /* logging/setLevel; -1: not set */
	struct map *calls;              /* struct call by id key */
	struct sub *subs;               /* subscriptions/listen (modern) */
	int held;   /* answers waiting for a commit */
	int closed; /* its transport is done with it */
};

/* A JSON-RPC batch: one array of answers, sent when the last is in. */
struct batch {
	struct mcp_conn *c;
	json_t *replies;
	int open; /* calls still running, + 1 while the batch is read */
};

/* A subscriptions/listen request: open until cancelled or the transport
 * goes; list changes are delivered as notifications related to its id. */
struct sub {
	json_t *id;
	char *key;
	int tools; /* toolsListChanged honoured */
	struct sub *next;
};

static void sub_free(struct sub *u)
{
	json_decref(u->id);
	free(u->key);
	free(u);
}

static void conn_destroy(struct mcp_conn *c)
{
	json_decref(c->client_caps);
	map_free(c->calls);
	free(c);
}

/* Send msg (stolen), related to request `rel` (borrowed): a response is
 * related to its own id, so the transport can route both alike. */
static void conn_send_rel(struct mcp_conn *c, json_t *msg, const json_t *rel)
{
	if (c->closed || !msg) {
		json_decref(msg);
		return;
	}
	if (!rel && !json_object_get(msg, "method"))
		rel = json_object_get(msg, "id");
	c->send(c, msg, rel, c->ud);
}

static void conn_send(struct mcp_conn *c, json_t *msg)
{
	conn_send_rel(c, msg, NULL);
}

/* An answer: into its batch, or straight out. Steals msg. */
static void reply(struct mcp_conn *c, struct batch *b, json_t *msg)
{
	if (b && msg)
		json_array_append_new(b->replies, msg);
	else
		conn_send(c, msg);
}

static void batch_done(struct batch *b)
{
	if (--b->open > 0)
		return;
	/* A batch of notifications only gets no answer at all. */
	if (json_array_size(b->replies))
		conn_send(b->c, json_incref(b->replies));
	json_decref(b->replies);
	free(b);
}

/* ---- requests ---- */

struct req {
	struct mcp_conn *c;
	struct batch *b;
	json_t *id; /* borrowed from the message */
	json_t *params, *meta;
	const struct revision *rev;
	int log_level; /* -1: send no notifications/message */
};

static json_t *server_info(void)
{
	return json_pack("{s:s, s:s, s:s}", "name", "mcpd", "title",
	                 "mcpd: plugin capabilities as tools", "version",
	                 MCPD_VERSION);
}

/* What 2026-07-28 adds to every result. Steals and returns result. */
static json_t *finish(const struct revision *rev, json_t *result)
{
	if (!rev || !(rev->features & F_MODERN))
		return result;
	if (!json_object_get(result, "resultType"))
		json_object_set_new(result, "resultType", json_string("complete"));
	json_t *meta = json_object_get(result, "_meta");
	if (!meta) {
		meta = json_object();
		json_object_set_new(result, "_meta", meta);
	}
	json_object_set_new(meta, "io.modelcontextprotocol/serverInfo",
	                    server_info());
	return result;
}

static void answer(struct req *r, json_t *result)
{
	reply(r->c, r->b, jsonrpc_result(r->id, finish(r->rev, result)));
}

static void answer_error(struct req *r, int code, json_t *data,
                         const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void answer_error(struct req *r, int code, json_t *data,
                         const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	reply(r->c, r->b, jsonrpc_error(r->id, code, data, "%s", msg));
}

/* ---- for mcp-features.c (mcp-features-internal.h) ---- */

void mcp_req_answer(struct req *r, json_t *result)
{
	answer(r, result);
}

void mcp_req_error(struct req *r, int code, json_t *data, const char *fmt,
                   ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	answer_error(r, code, data, "%s", msg);
}

const json_t *mcp_req_params(const struct req *r)
{
	return r->params;
}

struct mcp_conn *mcp_req_conn(const struct req *r)
{
	return r->c;
}

struct mcpd *mcp_req_daemon(const struct req *r)
{
	return r->c->s->d;
}

int mcp_req_modern(const struct req *r)
{
	return (r->rev->features & F_MODERN) != 0;
}

int mcp_req_structured(const struct req *r)
{
	return (r->rev->features & F_STRUCTURED) != 0;
}

size_t mcp_req_page_size(const struct req *r)
{
	return r->c->s->page_size;
}

void mcp_conn_notify(struct mcp_conn *c, const char *method, json_t *params)
{
	if (c->session && c->initialized)
		conn_send(c, jsonrpc_notification(method, params));
	else
		json_decref(params);
}

static char *id_key(const json_t *id)
{
	size_t n = (json_is_string(id) ? json_string_length(id) : 0) + 32;
	char *key = malloc(n);
	if (key && jsonrpc_id_key(id, key, n) < 0) {
		free(key);
		key = NULL;
	}
	return key;
}

static json_t *capabilities(int modern)
{
	/* Legacy sessions hear notifications/tools/list_changed on their
	 * connection; modern clients ask for it with subscriptions/listen. */
	json_t *caps = json_pack("{s:{s:b}, s:{}}", "tools", "listChanged", 1,
	                         "logging");
	/* Resources, prompts, completions (mcp-features.c). */
	mcpf_capabilities(caps, !modern);
	return caps;
}

/* ---- lifecycle: initialize, ping, logging/setLevel, server/discover ---- */

static void do_initialize(struct req *r)
{
	struct mcp_conn *c = r->c;
	const char *want = json_string_value(json_object_get(r->params,
	                                                     "protocolVersion"));
	json_t *caps = json_object_get(r->params, "capabilities");
	json_t *info = json_object_get(r->params, "clientInfo");
	if (c->session) {
		answer_error(r, JSONRPC_INVALID_REQUEST, NULL, "initialize was "
		             "already answered on this connection (%s)",
		             c->session->name);
		return;
	}
	if (!want || (caps && !json_is_object(caps)) ||
	    (info && !json_is_object(info))) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "initialize: "
		             "params needs protocolVersion (a string), "
		             "capabilities and clientInfo (objects)");
		return;
	}
	/* Never an error: a version mcpd does not speak gets the newest
	 * handshake revision, and the client decides (2025-11-25 lifecycle,
	 * "Version Negotiation"). 2026-07-28 has no initialize. */
	const struct revision *rev = revision_find(want);
	if (!rev || (rev->features & F_MODERN))
		rev = revision_find(MCP_LATEST_LEGACY);
	c->session = rev;
	c->client_caps = caps ? json_deep_copy(caps) : json_object();
	r->rev = rev;
	if (c->era == MCP_ERA_UNKNOWN)
		c->era = MCP_ERA_LEGACY;
	const char *who = json_string_value(json_object_get(info, "name"));
	const char *ver = json_string_value(json_object_get(info, "version"));
	log_info("MCP session at %s (asked for %s) with %s %s", rev->name,
	         want, who ? who : "?", ver ? ver : "");
	answer(r, json_pack("{s:s, s:o, s:o}", "protocolVersion", rev->name,
	                    "capabilities", capabilities(0), "serverInfo",
	                    server_info()));
}

static void do_ping(struct req *r)
{
	answer(r, json_object());
}

static void do_set_level(struct req *r)
{
	const char *level = json_string_value(json_object_get(r->params, "level"));
	int i = log_level_find(level);
	if (i < 0) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "logging/setLevel: "
		             "level must be one of debug, info, notice, "
		             "warning, error, critical, alert, emergency");
		return;
	}
	r->c->log_level = i;
	answer(r, json_object());
}

static void do_discover(struct req *r)
{
	answer(r, json_pack("{s:o, s:o, s:i, s:s}", "supportedVersions",
	                    supported_versions(), "capabilities",
	                    capabilities(1), "ttlMs", TOOLS_TTL_MS,
	                    "cacheScope", "public"));
}

/* ---- tools/list ---- */

/* Cursors: "1:" and the hex of the last name given. Opaque to clients;
 * by name, so a page boundary survives tools coming and going. */
static char *cursor_encode(const char *name)
{
	size_t n = strlen(name);
	char *out = malloc(2 * n + 3);
	if (!out)
		return NULL;
	memcpy(out, "1:", 2);
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", (unsigned char)name[i]);
	out[2 * n + 2] = '\0';
	return out;
}

static char *cursor_decode(const char *cur)
{
	size_t n = strlen(cur);
	if (n < 4 || n % 2 || strncmp(cur, "1:", 2) != 0)
		return NULL;
	char *name = malloc(n / 2);
	if (!name)
		return NULL;
	for (size_t i = 2; i < n; i += 2) {
		int hi = hex_digit(cur[i]), lo = hex_digit(cur[i + 1]);
		if (hi < 0 || lo < 0 || (hi | lo) == 0) {
			free(name);
			return NULL;
		}
		name[i / 2 - 1] = (char)(hi << 4 | lo);
	}
	name[n / 2 - 1] = '\0';
	return name;
}

static int is_object_schema(const json_t *s)
{
	const char *type = json_string_value(json_object_get(s, "type"));
	return type && strcmp(type, "object") == 0;
}

/* Tool annotations: the title, and MCP's behaviour hints when the
 * capability states them as attributes of the same names. */
static json_t *annotations(const struct capdef *cap)
{
	static const char *const hints[] = {"readOnlyHint", "destructiveHint",
	                                    "idempotentHint", "openWorldHint"};
	json_t *a = json_object();
	if (cap->title)
		json_object_set_new(a, "title", json_string(cap->title));
	for (size_t i = 0; i < sizeof hints / sizeof *hints; i++) {
		json_t *v = json_object_get(cap->attributes, hints[i]);
		if (json_is_boolean(v))
			json_object_set(a, hints[i], v);
	}
	return a;
}

static json_t *tool_json(const struct capdef *cap, const struct revision *rev)
{
	int structured = rev->features & F_STRUCTURED;
	json_t *t = json_pack("{s:s, s:O}", "name", cap->name, "inputSchema",
	                      cap->input_schema);
	if (cap->title && structured)
		json_object_set_new(t, "title", json_string(cap->title));
	if (cap->description)
		json_object_set_new(t, "description",
		                    json_string(cap->description));
	/* Before 2026-07-28 an output schema had to describe an object. */
	if (cap->output_schema && structured &&
	    ((rev->features & F_MODERN) || is_object_schema(cap->output_schema)))
		json_object_set(t, "outputSchema", cap->output_schema);
	json_t *a = annotations(cap);
	if (json_object_size(a))
		json_object_set_new(t, "annotations", a);
	else
		json_decref(a);
	return t;
}

static void do_tools_list(struct req *r)
{
	struct mcpd *d = r->c->s->d;
	json_t *cur = json_object_get(r->params, "cursor");
	char *after = NULL;
	if (cur && (!json_is_string(cur) ||
	            !(after = cursor_decode(json_string_value(cur))))) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL,
		             "tools/list: invalid cursor");
		return;
	}
	struct capq **qs;
	size_t n = router_list(d->router, &qs);
	json_t *tools = json_array();
	const char *last = NULL;
	int more = 0;
	for (size_t i = 0; i < n; i++) {
		if (!qs[i]->nprov || (after && strcmp(qs[i]->name, after) <= 0))
			continue;
		if (json_array_size(tools) == r->c->s->page_size) {
			more = 1;
			break;
		}
		json_array_append_new(tools, tool_json(qs[i]->provs[0]->cap,
		                                       r->rev));
		last = qs[i]->name;
	}
	json_t *res = json_pack("{s:o}", "tools", tools);
	char *next = more ? cursor_encode(last) : NULL;
	if (next)
		json_object_set_new(res, "nextCursor", json_string(next));
	if (r->rev->features & F_MODERN) {
		json_object_set_new(res, "ttlMs", json_integer(TOOLS_TTL_MS));
		json_object_set_new(res, "cacheScope", json_string("public"));
	}
	free(next);
	free(qs);
	free(after);
	answer(r, res);
}

/* ---- tools/call ---- */

/* A tools/call waiting for its task. */
struct call {
	struct watcher w; /* first: the watcher callback gets this pointer */
	struct mcp_conn *c;
	struct batch *b;
	json_t *id;
	char *key;
	const struct revision *rev;
	json_t *progress_token; /* or NULL */
	json_t *last_progress;  /* the last "progress" value sent */
	int log_level;          /* per request (modern); -1 otherwise */
	int cancelled;
	char task[33];
};

static void call_free(struct call *k)
{
	watcher_remove(&k->w);
	json_decref(k->id);
	json_decref(k->progress_token);
	json_decref(k->last_progress);
	free(k->key);
	free(k);
}

/* The CallToolResult for a task's API form (borrowed). */
static json_t *call_result(struct mcpd *d, const struct revision *rev,
                           const json_t *task)
{
	const char *status = json_string_value(json_object_get(task, "status"));
	const char *id = json_string_value(json_object_get(task, "id"));
	int ok = status && strcmp(status, "succeeded") == 0;
	json_t *res = json_object();
	if (ok) {
		/* Content blocks, structuredContent, large results as links. */
		mcpf_tool_content(d, rev->features & F_STRUCTURED,
		                  rev->features & F_MODERN, task, res);
	} else {
		json_t *e = json_object_get(task, "error");
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		json_object_set_new(res, "content", json_pack(
			"[{s:s, s:o}]", "type", "text", "text", json_sprintf(
				"task %s %s: %s: %s", id ? id : "?",
				status ? status : "?", code ? code : "error",
				msg ? msg : "")));
	}
	if (!json_object_get(res, "isError"))
		json_object_set_new(res, "isError", json_boolean(!ok));
	json_object_set_new(res, "_meta", json_pack(
		"{s:{s:s?, s:s?}}", "dev.mcpd/task", "id", id, "status", status));
	return res;
}

/* An answer held until the task's outcome is on disk. */
struct held {
	struct mcp_conn *c;
	struct batch *b;
	json_t *msg;
};

static void held_release(void *arg, int ok)
{
	struct held *h = arg;
	struct mcp_conn *c = h->c;
	if (!ok) {
		json_t *id = json_object_get(h->msg, "id");
		json_t *err = jsonrpc_error(id, JSONRPC_INTERNAL_ERROR, NULL,
		                            "the store could not commit the "
		                            "task's outcome");
		json_decref(h->msg);
		h->msg = err;
	}
	reply(c, h->b, h->msg);
	if (h->b)
		batch_done(h->b);
	free(h);
	if (--c->held == 0 && c->closed)
		conn_destroy(c);
}

static void call_answer(struct call *k, json_t *msg)
{
	struct held *h = malloc(sizeof *h);
	if (!h) {
		reply(k->c, k->b, msg);
		if (k->b)
			batch_done(k->b);
		return;
	}
	*h = (struct held){k->c, k->b, msg};
	k->c->held++;
	mcpd_after_commit(k->c->s->d, held_release, h);
}

static void call_progress(struct call *k, const json_t *ev)
{
	json_t *done = json_object_get(ev, "done");
	json_t *total = json_object_get(ev, "total");
	json_t *msg = json_object_get(ev, "message");
	/* Strictly increasing, as the progress utility requires. */
	if (!k->progress_token || !json_is_number(done) ||
	    (k->last_progress &&
	     json_number_value(done) <= json_number_value(k->last_progress)))
		return;
	json_decref(k->last_progress);
	k->last_progress = json_incref(done);
	json_t *p = json_pack("{s:O, s:O}", "progressToken", k->progress_token,
	                      "progress", done);
	if (json_is_number(total) && json_number_value(total) > 0)
		json_object_set(p, "total", total);
	if (json_is_string(msg))
		json_object_set(p, "message", msg);
	conn_send_rel(k->c, jsonrpc_notification("notifications/progress", p),
	              k->id);
}

/* notifications/message for a task event, when the level asks for it. */
static void call_log(struct call *k, const char *hex, const json_t *ev)
{
	int want = k->rev->features & F_MODERN ? k->log_level
	                                         : k->c->log_level;
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *st = json_string_value(json_object_get(ev, "status"));
	int level = 1; /* info */
	if (type && strcmp(type, "progress") == 0)
		level = 0;
	else if (st && (strcmp(st, "failed") == 0 ||
	                strcmp(st, "timed_out") == 0))
		level = 4;
	else if (st && strcmp(st, "cancelled") == 0)
		level = 2;
	if (want < 0 || level < want)
		return;
	json_t *data = json_deep_copy(ev);
	json_object_set_new(data, "task", json_string(hex));
	conn_send_rel(k->c, jsonrpc_notification("notifications/message",
		json_pack("{s:s, s:s, s:o}", "level", log_levels[level],
		          "logger", "mcpd.task", "data", data)), k->id);
}

static void call_event(struct watcher *w, struct task *t, json_t *ev,
                       int final)
{
	struct call *k = (struct call *)w;
	if (ev)
		call_log(k, k->task, ev);
	if (!final) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		if (type && strcmp(type, "progress") == 0)
			call_progress(k, ev);
		return;
	}
	map_del(k->c->calls, k->key);
	if (k->cancelled) {
		/* A cancelled request gets no answer (cancellation utility). */
		if (k->b)
			batch_done(k->b);
	} else if (!ev) {
		reply(k->c, k->b, jsonrpc_error(k->id, JSONRPC_INTERNAL_ERROR,
		                                NULL, "the server stopped before "
		                                "task %s finished", k->task));
		if (k->b)
			batch_done(k->b);
	} else {
		json_t *tj = task_api_json(t);
		json_t *res = finish(k->rev, call_result(k->c->s->d, k->rev,
		                                         tj));
		json_decref(tj);
		call_answer(k, jsonrpc_result(k->id, res));
	}
	call_free(k);
}

/* A refused submit: the tool's input or load is the model's to fix
 * (isError); anything else is the server's (a JSON-RPC error). */
static void submit_failed(struct req *r, const char *name,
                          const struct submit_error *err)
{
	if (err->status == 404) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "Unknown tool: %s",
		             name);
	} else if (err->status == 422 || err->status == 429) {
		json_t *res = json_pack("{s:[{s:s, s:o}], s:b}", "content",
		                        "type", "text", "text",
		                        json_sprintf("%s: %s", err->code,
		                                     err->message),
		                        "isError", 1);
		if (err->details)
			json_object_set_new(res, "_meta", json_pack(
				"{s:{s:s, s:O}}", "dev.mcpd/error", "code",
				err->code, "details", err->details));
		answer(r, res);
	} else {
		answer_error(r, JSONRPC_INTERNAL_ERROR, NULL, "%s",
		             err->message);
	}
}

static void do_tools_call(struct req *r)
{
	struct mcp_conn *c = r->c;
	struct mcpd *d = c->s->d;
	const char *name = json_string_value(json_object_get(r->params, "name"));
	json_t *args = json_object_get(r->params, "arguments");
	json_t *token = json_object_get(r->meta, "progressToken");
	if (!name || (args && !json_is_object(args)) ||
	    (token && !jsonrpc_id_valid(token))) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "tools/call: "
		             "params needs name (a string), arguments (an "
		             "object) if any, and _meta.progressToken (a "
		             "string or integer) if any");
		return;
	}
	struct capq *q = router_capq(d->router, name, 0);
	if (!q || !q->nprov) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "Unknown tool: %s",
		             name);
		return;
	}
	if (d->draining) {
		answer_error(r, JSONRPC_INTERNAL_ERROR, NULL,
		             "the server is shutting down");
		return;
	}
	char *key = id_key(r->id);
	if (!key || map_get(c->calls, key)) {
		answer_error(r, JSONRPC_INVALID_REQUEST, NULL, "request id %s "
		             "is already in use by a call in progress",
		             key ? key + 2 : "?");
		free(key);
		return;
	}
	json_t *body = json_pack("{s:s, s:o}", "capability", name, "input",
	                         args ? json_incref(args) : json_object());
	json_t *tj = NULL;
	int created;
	struct submit_error err = {0};
	int rc = sched_submit(d, body, &tj, &created, &err);
	json_decref(body);
	if (rc < 0) {
		submit_failed(r, name, &err);
		json_decref(err.details);
		free(key);
		return;
	}
	const char *hex = json_string_value(json_object_get(tj, "id"));
	struct task *t = hex ? sched_find(d, hex) : NULL;
	struct call *k = calloc(1, sizeof *k);
	if (!t || task_status_final(t->status) || !k ||
	    map_put(c->calls, key, k) < 0) {
		/* Over already (or no memory to wait): answer what it is. */
		free(k);
		free(key);
		json_t *now = hex ? sched_task_json(d, hex, t ? t->id : NULL) : NULL;
		answer(r, call_result(d, r->rev, now ? now : tj));
		json_decref(now);
		json_decref(tj);
		return;
	}
	k->w.fn = call_event;
	k->c = c;
	k->b = r->b;
	k->id = json_deep_copy(r->id);
	k->key = key;
	k->rev = r->rev;
	k->progress_token = json_incref(token);
	k->log_level = r->log_level;
	memcpy(k->task, t->hex, sizeof k->task);
	if (k->b)
		k->b->open++;
	watcher_add(t, &k->w);
	log_msg(LOG_DEBUG, NULL, t->hex, "MCP tools/call %s (request %s)",
	        name, key + 2);
	json_decref(tj);
}

/* ---- subscriptions/listen (2026-07-28) ---- */

static json_t *sub_meta(const json_t *id)
{
	return json_pack("{s:O}", "io.modelcontextprotocol/subscriptionId", id);
}

static struct sub **sub_find(struct mcp_conn *c, const char *key)
{
	struct sub **pp = &c->subs;
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void do_listen(struct req *r)
{
	struct mcp_conn *c = r->c;
	json_t *want = json_object_get(r->params, "notifications");
	if (!json_is_object(want)) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "subscriptions/"
		             "listen: params.notifications (an object) is "
		             "required");
		return;
	}
	char *key = id_key(r->id);
	if (!key || map_get(c->calls, key) || *sub_find(c, key)) {
		answer_error(r, JSONRPC_INVALID_REQUEST, NULL, "request id %s "
		             "is already in use", key ? key + 2 : "?");
		free(key);
		return;
	}
	/* Only what mcpd can deliver is honoured: tool list changes. */
	int tools = json_is_true(json_object_get(want, "toolsListChanged"));
	json_t *honoured = json_object();
	if (tools)
		json_object_set_new(honoured, "toolsListChanged", json_true());
	conn_send_rel(c, jsonrpc_notification(
		"notifications/subscriptions/acknowledged", json_pack(
			"{s:o, s:o}", "notifications", honoured, "_meta",
			sub_meta(r->id))), r->id);
	struct sub *u = tools ? calloc(1, sizeof *u) : NULL;
	if (!u) {
		/* Nothing to deliver: the graceful close, at once. */
		free(key);
		answer(r, json_pack("{s:o}", "_meta", sub_meta(r->id)));
		return;
	}
	u->id = json_deep_copy(r->id);
	u->key = key;
	u->tools = tools;
	u->next = c->subs;
	c->subs = u;
}

/* Cancel request `id`: a running call's task (no answer is sent), or a
 * subscription. 0, or -1 if nothing by that id is in progress. */
static int cancel_request(struct mcp_conn *c, const json_t *id,
                          const char *why)
{
	char *key = id_key(id);
	struct call *k = key ? map_get(c->calls, key) : NULL;
	struct sub **pp = key && !k ? sub_find(c, key) : NULL;
	free(key);
	if (pp && *pp) {
		struct sub *u = *pp;
		*pp = u->next;
		sub_free(u);
		return 0;
	}
	struct task *t = k ? sched_find(c->s->d, k->task) : NULL;
	if (!t)
		return -1; /* unknown or finished: ignored, as the spec says */
	log_msg(LOG_INFO, NULL, k->task, "MCP client cancelled the call%s%s",
	        why ? ": " : "", why ? why : "");
	k->cancelled = 1;
	/* The task's final event frees k: no answer is sent. */
	if (sched_cancel(c->s->d, t) < 0) {
		k->cancelled = 0;
		return -1;
	}
	return 0;
}

/* notifications/cancelled: cancel the task of a call still running. */
static void on_cancelled(struct mcp_conn *c, const json_t *params)
{
	cancel_request(c, json_object_get(params, "requestId"),
	               json_string_value(json_object_get(params, "reason")));
}

int mcp_conn_cancel(struct mcp_conn *c, const json_t *id, const char *why)
{
	return c && id ? cancel_request(c, id, why) : -1;
}

/* ---- dispatch ---- */

enum { ERA_LEGACY = 1, ERA_MODERN = 2, M_ANY_TIME = 4 };

static const struct method {
	const char *name;
	void (*fn)(struct req *r);
	unsigned flags;
} methods[] = {
	{"initialize", do_initialize, ERA_LEGACY},
	{"ping", do_ping, ERA_LEGACY | M_ANY_TIME},
	{"logging/setLevel", do_set_level, ERA_LEGACY},
	{"server/discover", do_discover, ERA_MODERN},
	{"tools/list", do_tools_list, ERA_LEGACY | ERA_MODERN},
	{"tools/call", do_tools_call, ERA_LEGACY | ERA_MODERN},
	{"subscriptions/listen", do_listen, ERA_MODERN},
	{"resources/list", mcpf_resources_list, ERA_LEGACY | ERA_MODERN},
	{"resources/read", mcpf_resources_read, ERA_LEGACY | ERA_MODERN},
	{"resources/templates/list", mcpf_resources_templates_list,
	 ERA_LEGACY | ERA_MODERN},
	{"resources/subscribe", mcpf_resources_subscribe, ERA_LEGACY},
	{"resources/unsubscribe", mcpf_resources_unsubscribe, ERA_LEGACY},
	{"prompts/list", mcpf_prompts_list, ERA_LEGACY | ERA_MODERN},
	{"prompts/get", mcpf_prompts_get, ERA_LEGACY | ERA_MODERN},
	{"completion/complete", mcpf_completion_complete,
	 ERA_LEGACY | ERA_MODERN},
};

static const struct method *method_find(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

/* Which revision serves r (see mcp-internal.h); -1 after answering. */
static int select_revision(struct req *r, const struct method *m)
{
	struct mcp_conn *c = r->c;
	json_t *pv = json_object_get(r->meta, "io.modelcontextprotocol/"
	                                      "protocolVersion");
	if (!pv) {
		r->rev = c->session;
		r->log_level = c->log_level;
		if (!r->rev && (m->flags & M_ANY_TIME))
			r->rev = revision_find(MCP_LATEST_LEGACY);
		if (r->rev)
			return 0;
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "no protocol "
		             "version: name it in params._meta[\"io."
		             "modelcontextprotocol/protocolVersion\"] "
		             "(2026-07-28), or send initialize first "
		             "(2025-11-25 and earlier)");
		return -1;
	}
	if (!json_is_string(pv)) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "_meta: io."
		             "modelcontextprotocol/protocolVersion must be a "
		             "string");
		return -1;
	}
	if (!(r->rev = revision_find(json_string_value(pv)))) {
		answer_error(r, MCP_UNSUPPORTED_VERSION, json_pack(
			"{s:o, s:O}", "supported", supported_versions(),
			"requested", pv), "Unsupported protocol version");
		return -1;
	}
	if (!(r->rev->features & F_MODERN)) {
		r->log_level = c->session ? c->log_level : -1;
		return 0;
	}
	json_t *caps = json_object_get(r->meta, "io.modelcontextprotocol/"
	                                        "clientCapabilities");
	json_t *level = json_object_get(r->meta, "io.modelcontextprotocol/"
	                                         "logLevel");
	if (!json_is_object(caps)) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "_meta: io."
		             "modelcontextprotocol/clientCapabilities (an "
		             "object) is required");
		return -1;
	}
	r->log_level = -1;
	if (level && (r->log_level = log_level_find(
	                      json_string_value(level))) < 0) {
		answer_error(r, JSONRPC_INVALID_PARAMS, NULL, "_meta: io."
		             "modelcontextprotocol/logLevel must be one of "
		             "debug, info, notice, warning, error, critical, "
		             "alert, emergency");
		return -1;
	}
	return 0;
}

static void handle_request(struct mcp_conn *c, struct batch *b,
                           const struct jsonrpc_msg *m)
{
	struct req r = {.c = c, .b = b, .id = m->id, .params = m->params,
	                .log_level = -1};
	const struct method *md = method_find(m->method);
	if (!md) {
		answer_error(&r, JSONRPC_METHOD_NOT_FOUND, NULL,
		             "Method not found: %s", m->method);
		return;
	}
	r.meta = json_object_get(r.params, "_meta");
	if (r.meta && !json_is_object(r.meta)) {
		answer_error(&r, JSONRPC_INVALID_PARAMS, NULL,
		             "params._meta must be an object");
		return;
	}
	if (md->fn == do_initialize) {
		do_initialize(&r);
		return;
	}
	if (select_revision(&r, md) < 0)
		return;
	if (!(md->flags & (era_of(r.rev) == MCP_ERA_MODERN ? ERA_MODERN
	                                                    : ERA_LEGACY))) {
		answer_error(&r, JSONRPC_METHOD_NOT_FOUND, NULL, "Method not "
		             "found: %s is not part of MCP %s", m->method,
		             r.rev->name);
		return;
	}
	if (c->era == MCP_ERA_UNKNOWN)
		c->era = era_of(r.rev);
	md->fn(&r);
}

static void handle_notification(struct mcp_conn *c, const struct jsonrpc_msg *m)
{
	if (strcmp(m->method, "notifications/initialized") == 0)
		c->initialized = c->session != NULL;
	else if (strcmp(m->method, "notifications/cancelled") == 0)
		on_cancelled(c, m->params);
	else
		log_debug("MCP: ignored notification %s", m->method);
}

static void receive_one(struct mcp_conn *c, struct batch *b, json_t *msg)
{
	struct jsonrpc_msg m;
	struct jsonrpc_error err;
	if (jsonrpc_check(msg, &m, &err) < 0) {
		/* A notification is never answered, even with bad params. */
		if (!(m.kind == JSONRPC_NOTIFICATION && m.method))
			reply(c, b, jsonrpc_error_from(&err));
		return;
	}
	if (m.kind == JSONRPC_REQUEST)
		handle_request(c, b, &m);
	else if (m.kind == JSONRPC_NOTIFICATION)
		handle_notification(c, &m);
	else
		log_debug("MCP: ignored a response (mcpd sends no requests)");
}

static void receive_batch(struct mcp_conn *c, json_t *arr)
{
	const struct revision *rev = c->session;
	if (!json_array_size(arr)) {
		conn_send(c, jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST, NULL,
		                           "an empty batch"));
		return;
	}
	if (!rev || !(rev->features & F_BATCH)) {
		conn_send(c, jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST, NULL,
		                           "JSON-RPC batches are part of MCP "
		                           "2025-03-26 only; this connection "
		                           "speaks %s", rev ? rev->name
		                           : "no revision yet"));
		return;
	}
	struct batch *b = calloc(1, sizeof *b);
	if (!b || !(b->replies = json_array())) {
		free(b);
		conn_send(c, jsonrpc_error(NULL, JSONRPC_INTERNAL_ERROR, NULL,
		                           "out of memory"));
		return;
	}
	b->c = c;
	b->open = 1;
	size_t i;
	json_t *el;
	json_array_foreach(arr, i, el)
		receive_one(c, b, el);
	batch_done(b);
}

void mcp_conn_receive_json(struct mcp_conn *c, json_t *msg)
{
	if (json_is_array(msg))
		receive_batch(c, msg);
	else
		receive_one(c, NULL, msg);
}

void mcp_conn_receive(struct mcp_conn *c, const char *text, size_t len)
{
	struct jsonrpc_error err;
	json_t *j = jsonrpc_parse(text, len, c->s->d->cfg.max_json_depth, &err);
	if (!j) {
		conn_send(c, jsonrpc_error_from(&err));
		return;
	}
	mcp_conn_receive_json(c, j);
	json_decref(j);
}

void mcp_conn_too_large(struct mcp_conn *c, size_t limit)
{
	conn_send(c, jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST,
	                           json_pack("{s:I}", "max_bytes",
	                                     (json_int_t)limit),
	                           "message larger than %zu bytes", limit));
}

/* ---- connections and the server ---- */

struct mcp_conn *mcp_conn_new(struct mcp_server *s, mcp_send_fn send,
                              void *ud)
{
	struct mcp_conn *c = calloc(1, sizeof *c);
	if (!c || !(c->calls = map_new())) {
		free(c);
		return NULL;
	}
	c->s = s;
	c->send = send;
	c->ud = ud;
	c->log_level = -1;
	c->next = s->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &s->conns;
	s->conns = c;
	return c;
}

void mcp_conn_free(struct mcp_conn *c)
{
	if (!c)
		return;
	size_t n = map_count(c->calls), i = 0, pos = 0;
	struct call **all = calloc(n + 1, sizeof *all);
	const char *k;
	void *v;
	c->closed = 1;
	mcpf_conn_gone(c);
	while (all && map_next(c->calls, &pos, &k, &v))
		all[i++] = v;
	for (size_t j = 0; j < i; j++) {
		map_del(c->calls, all[j]->key);
		if (all[j]->b)
			batch_done(all[j]->b);
		call_free(all[j]);
	}
	free(all);
	while (c->subs) {
		struct sub *u = c->subs;
		c->subs = u->next;
		sub_free(u);
	}
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	if (!c->held)
		conn_destroy(c);
}

enum mcp_era mcp_conn_era(const struct mcp_conn *c)
{
	return c->era;
}

enum mcp_era mcp_version_era(const char *version)
{
	const struct revision *rev = revision_find(version);
	return rev ? era_of(rev) : MCP_ERA_UNKNOWN;
}

json_t *mcp_supported_versions(void)
{
	return supported_versions();
}

size_t mcp_conn_pending(const struct mcp_conn *c)
{
	return map_count(c->calls);
}

/* A reload changed the capability set: tell the legacy sessions. */
/* A plugin's resources or prompts changed: tell the legacy sessions. */
static void features_tick(struct mcp_server *s)
{
	uint64_t rv = mcpf_resources_version(), pv = mcpf_prompts_version();
	for (struct mcp_conn *c = s->conns; c; c = c->next) {
		if (rv != s->resources_version)
			mcp_conn_notify(c, "notifications/resources/list_changed",
			                NULL);
		if (pv != s->prompts_version)
			mcp_conn_notify(c, "notifications/prompts/list_changed",
			                NULL);
	}
	s->resources_version = rv;
	s->prompts_version = pv;
}

static void on_epoch_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mcp_server *s = arg;
	features_tick(s);
	if (s->d->reload_epoch == s->epoch)
		return;
	s->epoch = s->d->reload_epoch;
	for (struct mcp_conn *c = s->conns; c; c = c->next) {
		if (c->session && c->initialized)
			conn_send(c, jsonrpc_notification(
				"notifications/tools/list_changed", NULL));
		for (struct sub *u = c->subs; u; u = u->next)
			if (u->tools)
				conn_send_rel(c, jsonrpc_notification(
					"notifications/tools/list_changed",
					json_pack("{s:o}", "_meta",
					          sub_meta(u->id))), u->id);
	}
}

struct mcp_server *mcp_server_new(struct mcpd *d)
{
	struct mcp_server *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->d = d;
	s->page_size = 100;
	s->epoch = d->reload_epoch;
	s->resources_version = mcpf_resources_version();
	s->prompts_version = mcpf_prompts_version();
	s->epoch_ev = event_new(d->base, -1, EV_PERSIST, on_epoch_tick, s);
	struct timeval tv = {0, EPOCH_POLL_MS * 1000};
	if (!s->epoch_ev || event_add(s->epoch_ev, &tv) < 0 ||
	    !(s->http = mcp_http_new(d, s))) {
		mcp_server_free(s);
		return NULL;
	}
	return s;
}

struct mcp_http *mcp_server_http(struct mcp_server *s)
{
	return s ? s->http : NULL;
}

void mcp_server_set_page_size(struct mcp_server *s, size_t n)
{
	s->page_size = n ? n : 1;
}

void mcp_server_free(struct mcp_server *s)
{
	if (!s)
		return;
	mcp_http_free(s->http);
	while (s->conns)
		mcp_conn_free(s->conns);
	if (s->epoch_ev)
		event_free(s->epoch_ev);
	free(s);
}
