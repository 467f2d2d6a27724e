/*
 * The MCP client, over any transport: era negotiation, tool listing and
 * reconciliation with capabilities, calls with progress and cancellation.
 *
 * Calls that arrive before the server is ready (its capabilities were
 * declared from the cache at init: a reload or a restart) are parked and
 * sent once the first listing confirmed their tool; they fail with
 * server_unavailable when the server does not come up within
 * start_timeout_ms, with tool_unavailable when it no longer lists the
 * tool.
 *
 * Era: a dual-era client (2026-07-28 versioning, lifecycle "Backward
 * compatibility"). It probes with server/discover naming 2026-07-28 in
 * _meta; a result that lists 2026-07-28 means a modern server (stateless
 * requests carrying _meta). Any error means a legacy server: initialize
 * follows at once. No answer within probe_timeout_ms also means legacy,
 * but the server may be confused by the probe, so a stdio server is
 * started again and asked with initialize; the verdict is kept for the
 * life of the bridge.
 */

#include "bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODERN "2026-07-28"
#define LEGACY "2025-11-25"
#define CAP_NAME_MAX 128
#define OPEN_SCHEMA "{\"type\":\"object\"}"

static const char *const legacy_versions[] = {"2025-11-25", "2025-06-18",
                                              "2025-03-26", "2024-11-05",
                                              NULL};

static json_t *client_info(void)
{
	return json_pack("{s:s, s:s}", "name", "mcpd-mcp-bridge", "version",
	                 "1.0.0");
}

/* What every modern request carries in params._meta. */
static void add_modern_meta(json_t *params)
{
	json_t *meta = json_object_get(params, "_meta");
	if (!meta) {
		meta = json_object();
		json_object_set_new(params, "_meta", meta);
	}
	json_object_set_new(meta, "io.modelcontextprotocol/protocolVersion",
	                    json_string(MODERN));
	json_object_set_new(meta, "io.modelcontextprotocol/clientCapabilities",
	                    json_object());
	json_object_set_new(meta, "io.modelcontextprotocol/clientInfo",
	                    client_info());
}

struct pending *client_request(struct server *s, enum pend_kind kind,
                               const char *method, json_t *params)
{
	if (!params)
		params = json_object();
	if (s->era == ERA_MODERN || kind == P_DISCOVER)
		add_modern_meta(params);
	struct pending *p = calloc(1, sizeof *p);
	if (!p) {
		json_decref(params);
		return NULL;
	}
	p->id = s->next_id++;
	p->kind = kind;
	p->sent_ms = mono_ms();
	p->next = s->pending;
	s->pending = p;
	json_t *msg = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id",
	                        (json_int_t)p->id, "method", method, "params",
	                        params);
	if (bridge_send(s, msg) < 0) {
		s->pending = p->next;
		free(p);
		return NULL;
	}
	return p;
}

void client_notify(struct server *s, const char *method, json_t *params)
{
	json_t *msg = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method",
	                        method);
	if (params)
		json_object_set_new(msg, "params", params);
	bridge_send(s, msg);
}

static struct pending *take_pending(struct server *s, int64_t id)
{
	for (struct pending **pp = &s->pending; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct pending *p = *pp;
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

/* Gave up on starting it: a stdio child is killed (and restarted after
 * it is reaped), an HTTP server is marked down. */
static void start_failed(struct server *s, const char *why)
{
	if (s->url) {
		http_close_all(s, 0);
		bridge_server_down(s, "server_unavailable", why);
	} else {
		proc_kill(s, why);
	}
}

/* ---- capabilities ---- */

static void sanitize(char *out, size_t outlen, const char *a, const char *b)
{
	snprintf(out, outlen, "%s%s%s", a ? a : "", a ? "." : "", b);
	for (char *p = out; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			*p = '_';
	}
	if (!out[0])
		snprintf(out, outlen, "_");
}

static int cap_taken(const char *name)
{
	for (size_t i = 0; i < g.nservers; i++) {
		struct server *s = g.servers[i];
		for (size_t j = 0; j < s->ntools; j++)
			if (s->tools[j]->cap && strcmp(s->tools[j]->cap, name) == 0)
				return 1;
	}
	return 0;
}

/* A capability name as pick_cap_name makes them (for names read back
 * from the cache: a refused one in init would refuse the plugin). */
static int cap_name_ok(const char *name)
{
	char clean[CAP_NAME_MAX + 1];
	if (!name || !*name || strlen(name) > CAP_NAME_MAX)
		return 0;
	sanitize(clean, sizeof clean, NULL, name);
	return strcmp(clean, name) == 0;
}

/* <server>.<tool> (a plugin's own name when isolated), sanitized to the
 * capability charset, made unique with -2, -3... */
static char *pick_cap_name(struct server *s, const char *tool)
{
	/* Room for a "-NNNNNNNNNN" suffix within the 128 bytes. */
	char base[CAP_NAME_MAX - 11 + 1], name[CAP_NAME_MAX + 1];
	sanitize(base, sizeof base, s->isolated ? NULL : s->name, tool);
	snprintf(name, sizeof name, "%s", base);
	for (unsigned n = 2; cap_taken(name); n++)
		snprintf(name, sizeof name, "%s-%u", base, n);
	if (strcmp(name, base) != 0 || strcmp(base, tool) != 0)
		LOG(MCPD_LOG_DEBUG, "server %s: tool \"%s\" is capability %s",
		    s->name, tool, name);
	return strdup(name);
}

static char *dump_or_null(const json_t *j)
{
	return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* MCP annotations back to the attributes mcpd's own MCP server maps to
 * them, and where the tool comes from. */
static json_t *attributes_of(const struct server *s, const struct tool *t)
{
	static const char *const hints[] = {"readOnlyHint", "destructiveHint",
	                                    "idempotentHint", "openWorldHint"};
	json_t *ann = json_object_get(t->def, "annotations");
	json_t *a = json_pack("{s:s, s:s}", "mcp_server", s->name, "mcp_tool",
	                      t->name);
	for (size_t i = 0; i < sizeof hints / sizeof *hints; i++) {
		json_t *v = json_object_get(ann, hints[i]);
		if (json_is_boolean(v))
			json_object_set(a, hints[i], v);
	}
	return a;
}

static const char *srv_version(const struct server *s)
{
	return s->server_version ? s->server_version : "0";
}

/* Declare t's capability; the host's answer. */
static int tool_register(struct server *s, struct tool *t)
{
	if (!t->cap && !(t->cap = pick_cap_name(s, t->name)))
		return MCPD_E_NOMEM;
	const json_t *in = json_object_get(t->def, "inputSchema");
	const json_t *out = json_object_get(t->def, "outputSchema");
	const char *title = json_string_value(json_object_get(t->def, "title"));
	if (!title)
		title = json_string_value(json_object_get(
			json_object_get(t->def, "annotations"), "title"));
	json_t *attrs = attributes_of(s, t);
	char *in_text = json_is_object(in) ? dump_or_null(in) : NULL;
	char *out_text = json_is_object(out) ? dump_or_null(out) : NULL;
	char *attr_text = dump_or_null(attrs);
	json_decref(attrs);
	struct mcpd_capability_def def = {
		.size = sizeof def,
		.name = t->cap,
		.version = srv_version(s),
		.title = title,
		.description = json_string_value(json_object_get(t->def,
		                                                 "description")),
		.input_schema = in_text && !t->open_schema ? in_text
		                                           : OPEN_SCHEMA,
		.output_schema = t->open_schema ? NULL : out_text,
		.attributes = attr_text,
		.max_concurrency = g.max_concurrency,
		.flags = 0, /* a loop handler: it only sends a message */
		.handler = client_call,
		.ud = t,
	};
	int rc = g.host->capability_add(g.self, &def);
	if (rc == MCPD_E_SCHEMA && !t->open_schema) {
		/* A schema mcpd cannot check (e.g. a JavaScript regex):
		 * the server still validates its own input. */
		LOG(MCPD_LOG_WARN, "server %s: tool %s: its schemas are not "
		    "usable by mcpd; serving it with an open input schema",
		    s->name, t->name);
		def.input_schema = OPEN_SCHEMA;
		def.output_schema = NULL;
		rc = g.host->capability_add(g.self, &def);
		t->open_schema = rc == MCPD_OK;
	}
	if (rc == MCPD_OK) {
		t->registered = 1;
		free(t->version);
		t->version = strdup(def.version);
	} else if (rc == MCPD_E_STATE && !g.replaced) {
		/* A reload replaced this generation: the new one runs its
		 * own servers; this one only finishes its calls. */
		LOG(MCPD_LOG_INFO, "replaced by a reload: no more restarts "
		    "of this generation's servers");
		g.replaced = 1;
	} else if (rc != MCPD_E_STATE)
		LOG(MCPD_LOG_ERROR, "server %s: tool %s: capability %s refused: "
		    "%s", s->name, t->name, t->cap, g.host->strerror(rc));
	free(in_text);
	free(out_text);
	free(attr_text);
	return rc;
}

static void tool_unregister(struct tool *t)
{
	if (!t->registered)
		return;
	t->registered = 0;
	g.host->capability_remove(g.self, t->cap);
}

static struct tool *tool_find(struct server *s, const char *name)
{
	for (size_t i = 0; i < s->ntools; i++)
		if (strcmp(s->tools[i]->name, name) == 0)
			return s->tools[i];
	return NULL;
}

static struct tool *tool_new(struct server *s, const char *name)
{
	struct tool *t = calloc(1, sizeof *t);
	struct tool **nt = realloc(s->tools, (s->ntools + 1) * sizeof *nt);
	if (!t || !nt || !(t->name = strdup(name))) {
		free(t);
		if (nt)
			s->tools = nt;
		return NULL;
	}
	t->srv = s;
	s->tools = nt;
	s->tools[s->ntools++] = t;
	return t;
}

/* The listing is complete: make the capabilities match it. */
static void reconcile(struct server *s, json_t *tools)
{
	size_t i, added = 0, removed = 0;
	json_t *def;
	for (i = 0; i < s->ntools; i++)
		s->tools[i]->seen = 0;
	json_array_foreach(tools, i, def) {
		const char *name = json_string_value(json_object_get(def, "name"));
		if (!name || !*name) {
			LOG(MCPD_LOG_WARN, "server %s: a tool without a name in "
			    "tools/list; skipped", s->name);
			continue;
		}
		struct tool *t = tool_find(s, name);
		if (!t && !(t = tool_new(s, name)))
			continue;
		if (t->seen) {
			LOG(MCPD_LOG_WARN, "server %s: tool %s listed twice; the "
			    "first one is served", s->name, name);
			continue;
		}
		t->seen = 1;
		/* A tool declared from the cache stays declared (queued and
		 * parked calls keep it) when the server lists it as cached. */
		int same = json_equal(t->def, def) && t->version &&
		           strcmp(t->version, srv_version(s)) == 0;
		t->cached = 0;
		if (t->registered && same)
			continue;
		if (t->registered) {
			tool_unregister(t);
			removed++;
		}
		if (!json_equal(t->def, def))
			t->open_schema = 0; /* its new schemas may be usable */
		json_decref(t->def);
		t->def = json_incref(def);
		tool_register(s, t);
		added += t->registered;
	}
	for (i = 0; i < s->ntools; i++) {
		struct tool *t = s->tools[i];
		if (t->seen)
			continue;
		if (t->registered) {
			tool_unregister(t);
			removed++;
		}
		t->cached = 0;
	}
	LOG(MCPD_LOG_INFO, "server %s: %zu tool%s (%zu added, %zu withdrawn)",
	    s->name, json_array_size(tools),
	    json_array_size(tools) == 1 ? "" : "s", added, removed);
}

static void flush_parked(struct server *s);

static void list_page(struct server *s, const char *cursor)
{
	json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor)
	                        : json_object();
	if (!client_request(s, P_LIST, "tools/list", params))
		start_failed(s, "cannot send tools/list");
}

static void list_start(struct server *s)
{
	if (s->listing) {
		s->relist = 1; /* after this one */
		return;
	}
	s->listing = json_array();
	s->relist = 0;
	list_page(s, NULL);
}

static void on_list(struct server *s, json_t *result, json_t *error)
{
	if (error || !json_is_array(json_object_get(result, "tools"))) {
		const char *m = json_string_value(json_object_get(error,
		                                                  "message"));
		LOG(MCPD_LOG_ERROR, "server %s: tools/list failed: %s", s->name,
		    m ? m : "no tools array in the result");
		json_decref(s->listing);
		s->listing = NULL;
		if (s->state != S_READY)
			start_failed(s, "tools/list failed");
		return;
	}
	json_array_extend(s->listing, json_object_get(result, "tools"));
	const char *next = json_string_value(json_object_get(result,
	                                                     "nextCursor"));
	if (next && *next && json_array_size(s->listing) < 100000) {
		list_page(s, next);
		return;
	}
	json_t *tools = s->listing;
	s->listing = NULL;
	reconcile(s, tools);
	json_decref(tools);
	if (!g.replaced)
		cache_store(s);
	if (s->state != S_READY) {
		s->state = S_READY;
		s->ready_ms = mono_ms();
		s->ever_ready = 1;
		LOG(MCPD_LOG_INFO, "server %s: ready (MCP %s%s%s)", s->name,
		    s->version, s->server_version ? ", server version " : "",
		    s->server_version ? s->server_version : "");
		/* Modern servers tell list changes on a listen stream only. */
		if (s->era == ERA_MODERN)
			client_request(s, P_LISTEN, "subscriptions/listen",
			               json_pack("{s:{s:b}}", "notifications",
			                         "toolsListChanged", 1));
	}
	flush_parked(s);
	if (s->relist)
		list_start(s);
}

/* ---- handshake ---- */

static void send_initialize(struct server *s)
{
	s->state = S_INIT;
	s->state_ms = mono_ms();
	s->era = ERA_LEGACY;
	if (!client_request(s, P_INIT, "initialize", json_pack(
		    "{s:s, s:{}, s:o}", "protocolVersion", LEGACY,
		    "capabilities", "clientInfo", client_info())))
		start_failed(s, "cannot send initialize");
}

static void begin_listing(struct server *s)
{
	s->state = S_LISTING;
	s->state_ms = mono_ms();
	list_start(s);
}

void client_start(struct server *s)
{
	s->era = ERA_NONE;
	s->state_ms = mono_ms();
	if (s->legacy_cached) {
		send_initialize(s);
		return;
	}
	s->state = S_PROBING;
	if (!client_request(s, P_DISCOVER, "server/discover", NULL))
		start_failed(s, "cannot send server/discover");
}

static int lists(const json_t *arr, const char *v)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), v) == 0)
			return 1;
	return 0;
}

static void on_discover(struct server *s, json_t *result, json_t *error)
{
	if (result && lists(json_object_get(result, "supportedVersions"),
	                    MODERN)) {
		s->era = ERA_MODERN;
		snprintf(s->version, sizeof s->version, "%s", MODERN);
		const char *v = json_string_value(json_object_get(
			json_object_get(json_object_get(result, "_meta"),
			                "io.modelcontextprotocol/serverInfo"),
			"version"));
		if (!v)
			v = json_string_value(json_object_get(json_object_get(
				result, "serverInfo"), "version"));
		free(s->server_version);
		s->server_version = v ? strdup(v) : NULL;
		begin_listing(s);
		return;
	}
	if (json_integer_value(json_object_get(error, "code")) ==
	    TRANSPORT_ERROR) {
		const char *m = json_string_value(json_object_get(error,
		                                                  "message"));
		char why[300];
		snprintf(why, sizeof why, "server/discover: %s", m ? m : "");
		start_failed(s, why);
		return;
	}
	/* An error, or a modern server that does not speak 2026-07-28: the
	 * legacy handshake is what is left. */
	if (error)
		LOG(MCPD_LOG_DEBUG, "server %s: server/discover: error %lld; "
		    "a legacy server", s->name,
		    (long long)json_integer_value(json_object_get(error,
		                                                  "code")));
	s->legacy_cached = 1;
	send_initialize(s);
}

static void on_initialize(struct server *s, json_t *result, json_t *error)
{
	const char *v = json_string_value(json_object_get(result,
	                                                  "protocolVersion"));
	int known = 0;
	for (size_t i = 0; v && legacy_versions[i]; i++)
		known |= strcmp(v, legacy_versions[i]) == 0;
	if (error || !known) {
		const char *m = json_string_value(json_object_get(error,
		                                                  "message"));
		char why[300];
		snprintf(why, sizeof why, "initialize failed: %s",
		         m ? m : v ? "a protocol version the bridge does not "
		                     "speak" : "no protocolVersion");
		start_failed(s, why);
		return;
	}
	snprintf(s->version, sizeof s->version, "%s", v);
	const char *sv = json_string_value(json_object_get(json_object_get(
		result, "serverInfo"), "version"));
	free(s->server_version);
	s->server_version = sv ? strdup(sv) : NULL;
	client_notify(s, "notifications/initialized", NULL);
	begin_listing(s);
}

/* ---- calls ---- */

/* The text of a result's content items, joined by newlines. */
static char *content_text(const json_t *result)
{
	struct buf b = {0};
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(result, "content"), i, c) {
		const char *t = json_string_value(json_object_get(c, "text"));
		if (!t)
			continue;
		if (b.len)
			buf_add(&b, "\n", 1);
		buf_add(&b, t, strlen(t));
	}
	return b.data ? b.data : strdup("");
}

/*
 * A failed call. An mcpd on the other side (a process-isolated plugin, an
 * mcpd --stdio) says "task ID STATUS: CODE: MESSAGE" and marks its result
 * with _meta "dev.mcpd/task": its task's code and message go through as
 * they are, so an isolated plugin fails the way it would in process.
 */
static void fail_tool_error(struct mcpd_task *task, const json_t *result)
{
	char *text = content_text(result);
	const json_t *mt = json_object_get(json_object_get(result, "_meta"),
	                                   "dev.mcpd/task");
	const char *status = json_string_value(json_object_get(mt, "status"));
	if (status && strcmp(status, "failed") == 0) {
		char *p = strstr(text, " failed: ");
		char *colon = p ? strstr(p + 9, ": ") : NULL;
		if (p && colon) {
			*colon = '\0';
			g.host->task_fail(task, p + 9, colon + 2);
			free(text);
			return;
		}
	}
	if (status && (strcmp(status, "timed_out") == 0 ||
	               strcmp(status, "cancelled") == 0)) {
		g.host->task_fail(task, status, text);
		free(text);
		return;
	}
	g.host->task_fail(task, "tool_error", text[0] ? text
	                  : "the tool reported an error without a message");
	free(text);
}

static void on_call(struct server *s, struct pending *p, json_t *result,
                    json_t *error)
{
	struct mcpd_task *task = p->task;
	if (error) {
		const char *m = json_string_value(json_object_get(error,
		                                                  "message"));
		char msg[600];
		snprintf(msg, sizeof msg, "MCP server %s answered error %lld: "
		         "%s", s->name, (long long)json_integer_value(
		                 json_object_get(error, "code")), m ? m : "");
		g.host->task_fail(task, "mcp_error", msg);
		return;
	}
	if (!json_is_object(result)) {
		g.host->task_fail(task, "mcp_error", "the MCP server's result "
		                  "is not an object");
		return;
	}
	if (json_is_true(json_object_get(result, "isError"))) {
		fail_tool_error(task, result);
		return;
	}
	json_t *sc = json_object_get(result, "structuredContent");
	if (sc) {
		g.host->task_complete(task, json_incref(sc));
		return;
	}
	/* An mcpd before 2025-06-18 sends its result only as JSON text. */
	if (json_object_get(json_object_get(result, "_meta"), "dev.mcpd/task")) {
		char *text = content_text(result);
		json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
		free(text);
		if (j) {
			g.host->task_complete(task, j);
			return;
		}
	}
	json_t *out = json_pack("{s:O}", "content",
	                        json_object_get(result, "content")
	                        ? json_object_get(result, "content")
	                        : json_array());
	g.host->task_complete(task, out);
}

/* "MCP server NAME" or "isolated plugin NAME", for messages. */
static const char *who(const struct server *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s", s->isolated ? "isolated plugin"
	                                        : "MCP server", s->name);
	return buf;
}

static int fail_unlisted(struct server *s, struct tool *t,
                         struct mcpd_task *task)
{
	char msg[400], w[200];
	snprintf(msg, sizeof msg, "%s no longer offers tool \"%s\"",
	         who(s, w, sizeof w), t->name);
	return g.host->task_fail(task, "tool_unavailable", msg);
}

/* Send the tools/call of task; the task fails if it cannot be sent. */
static int send_call(struct server *s, struct tool *t, struct mcpd_task *task)
{
	json_t *args = json_deep_copy(g.host->task_input(task));
	if (!json_is_object(args)) {
		json_decref(args);
		args = json_object();
	}
	/* The progress token is the request's id (the next one). */
	json_t *params = json_pack("{s:s, s:o, s:{s:I}}", "name", t->name,
	                           "arguments", args, "_meta", "progressToken",
	                           (json_int_t)s->next_id);
	struct pending *p = client_request(s, P_CALL, "tools/call", params);
	if (!p) {
		char msg[300], w[200];
		snprintf(msg, sizeof msg, "cannot send the call to %s",
		         who(s, w, sizeof w));
		return g.host->task_fail(task, "server_unavailable", msg);
	}
	p->task = task;
	p->tool = t;
	return 0;
}

/* Keep the call until the server is ready (client_tick bounds the wait). */
static int park(struct server *s, struct tool *t, struct mcpd_task *task)
{
	struct pending *p = calloc(1, sizeof *p);
	if (!p) {
		char msg[300], w[200];
		snprintf(msg, sizeof msg, "%s is not connected yet (out of "
		         "memory to wait for it)", who(s, w, sizeof w));
		return g.host->task_fail(task, "server_unavailable", msg);
	}
	p->kind = P_CALL;
	p->task = task;
	p->tool = t;
	p->sent_ms = mono_ms();
	struct pending **pp = &s->parked;
	while (*pp)
		pp = &(*pp)->next;
	*pp = p;
	return 0;
}

int client_call(struct mcpd_task *task, void *ud)
{
	struct tool *t = ud;
	struct server *s = t->srv;
	if (s->state == S_READY && t->seen)
		return send_call(s, t, task);
	if (s->state == S_READY)
		return fail_unlisted(s, t, task);
	if (g.stopping) {
		char msg[300], w[200];
		snprintf(msg, sizeof msg, "%s is stopping", who(s, w, sizeof w));
		return g.host->task_fail(task, "server_unavailable", msg);
	}
	/* Starting (declared from the cache) or restarting. */
	return park(s, t, task);
}

/* A parked call's task was cancelled or timed out: release its handle
 * (the host keeps the task's own status). */
static void end_cancelled(struct mcpd_task *task)
{
	g.host->task_fail(task, "cancelled", "the task was cancelled while "
	                  "it waited for the server");
}

/* The server listed its tools: send the parked calls of listed tools. */
static void flush_parked(struct server *s)
{
	struct pending *list = s->parked, **tail = &s->parked;
	s->parked = NULL;
	while (list) {
		struct pending *p = list;
		list = p->next;
		if (s->state != S_READY) {
			/* A send failed and took the server down: the rest
			 * wait for the next start, in their order. */
			p->next = NULL;
			*tail = p;
			tail = &p->next;
			continue;
		}
		if (g.host->task_cancelled(p->task))
			end_cancelled(p->task);
		else if (p->tool->seen)
			send_call(s, p->tool, p->task);
		else
			fail_unlisted(s, p->tool, p->task);
		free(p);
	}
}

/* Parked calls: cancelled ones end, and none waits past start_timeout_ms. */
static void expire_parked(struct server *s, int64_t now)
{
	for (struct pending **pp = &s->parked; *pp;) {
		struct pending *p = *pp;
		int cancelled = g.host->task_cancelled(p->task);
		if (!cancelled && (!g.start_timeout_ms ||
		                   now - p->sent_ms <= (int64_t)g.start_timeout_ms)) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		char msg[400], w[200];
		if (cancelled) {
			end_cancelled(p->task);
		} else {
			snprintf(msg, sizeof msg, "%s is not connected: it did "
			         "not come up within %u ms", who(s, w, sizeof w),
			         g.start_timeout_ms);
			g.host->task_fail(p->task, "server_unavailable", msg);
		}
		free(p);
	}
}

/* A server that never came up in this generation does not keep the
 * capabilities the cache declared for it past start_timeout_ms: they come
 * back when it lists its tools. */
static void expire_cached(struct server *s, int64_t now)
{
	if (s->ever_ready || !g.start_timeout_ms ||
	    now - g.init_ms <= (int64_t)g.start_timeout_ms)
		return;
	size_t n = 0;
	for (size_t i = 0; i < s->ntools; i++) {
		struct tool *t = s->tools[i];
		if (t->cached && t->registered) {
			tool_unregister(t);
			n++;
		}
	}
	if (n)
		LOG(MCPD_LOG_WARN, "server %s: not ready after %u ms; the %zu "
		    "capabilit%s declared from its cached tool list %s "
		    "withdrawn until it lists its tools", s->name,
		    g.start_timeout_ms, n, n == 1 ? "y" : "ies",
		    n == 1 ? "is" : "are");
}

int client_declare_cached(struct server *s, const json_t *def,
                          const char *cap, int open_schema)
{
	const char *name = json_string_value(json_object_get(def, "name"));
	if (!name || !*name || tool_find(s, name))
		return 1;
	struct tool *t = tool_new(s, name);
	if (!t)
		return MCPD_E_NOMEM;
	t->def = json_deep_copy(def);
	if (cap_name_ok(cap) && !cap_taken(cap))
		t->cap = strdup(cap);
	t->open_schema = open_schema;
	t->cached = 1;
	return tool_register(s, t);
}

/* ---- incoming ---- */

static struct pending *find_call(struct server *s, const json_t *token)
{
	if (!json_is_integer(token))
		return NULL;
	for (struct pending *p = s->pending; p; p = p->next)
		if (p->kind == P_CALL && p->id == json_integer_value(token))
			return p;
	return NULL;
}

static void on_progress(struct server *s, const json_t *params)
{
	struct pending *p = find_call(s, json_object_get(params,
	                                                 "progressToken"));
	if (!p)
		return;
	const json_t *total = json_object_get(params, "total");
	g.host->task_progress(p->task, json_number_value(json_object_get(
		                      params, "progress")),
	                      json_is_number(total) ? json_number_value(total)
	                                            : 0,
	                      json_string_value(json_object_get(params,
	                                                        "message")));
}

static void on_log(struct server *s, const json_t *params)
{
	const char *level = json_string_value(json_object_get(params, "level"));
	char *data = dump_or_null(json_object_get(params, "data"));
	int l = MCPD_LOG_INFO;
	if (level && strcmp(level, "debug") == 0)
		l = MCPD_LOG_DEBUG;
	else if (level && (strcmp(level, "warning") == 0 ||
	                   strcmp(level, "notice") == 0))
		l = MCPD_LOG_WARN;
	else if (level && strcmp(level, "info") != 0)
		l = MCPD_LOG_ERROR;
	LOG(l, "server %s says: %.1000s", s->name, data ? data : "");
	free(data);
}

/* Requests from the server: mcpd offers no client features but ping. */
static void on_server_request(struct server *s, const json_t *msg,
                              const char *method)
{
	json_t *reply;
	json_t *id = json_object_get(msg, "id");
	if (strcmp(method, "ping") == 0)
		reply = json_pack("{s:s, s:O, s:{}}", "jsonrpc", "2.0", "id", id,
		                  "result");
	else
		reply = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0",
		                  "id", id, "error", "code", -32601, "message",
		                  "mcpd's bridge offers no client features");
	bridge_send(s, reply);
}

void client_receive(struct server *s, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *params = json_object_get(msg, "params");
	if (method && json_object_get(msg, "id")) {
		on_server_request(s, msg, method);
		return;
	}
	if (method) {
		if (strcmp(method, "notifications/progress") == 0)
			on_progress(s, params);
		else if (strcmp(method, "notifications/tools/list_changed") == 0 &&
		         (s->state == S_READY || s->state == S_LISTING))
			list_start(s);
		else if (strcmp(method, "notifications/message") == 0)
			on_log(s, params);
		return;
	}
	json_t *id = json_object_get(msg, "id");
	struct pending *p = json_is_integer(id)
		? take_pending(s, json_integer_value(id)) : NULL;
	if (!p)
		return; /* a late answer to a cancelled call */
	json_t *result = json_object_get(msg, "result");
	json_t *error = json_object_get(msg, "error");
	switch (p->kind) {
	case P_DISCOVER:
		if (s->state == S_PROBING)
			on_discover(s, result, error);
		break;
	case P_INIT:
		on_initialize(s, result, error);
		break;
	case P_LIST:
		on_list(s, result, error);
		break;
	case P_CALL:
		on_call(s, p, result, error);
		break;
	case P_LISTEN:
		if (error)
			LOG(MCPD_LOG_DEBUG, "server %s: no subscriptions/listen; "
			    "its tool list is read once", s->name);
		break;
	case P_OTHER:
		break;
	}
	free(p);
}

/* ---- time ---- */

void client_tick(struct server *s, int64_t now)
{
	expire_parked(s, now);
	expire_cached(s, now);
	if (s->state == S_PROBING && now - s->state_ms >
	                                 (int64_t)g.probe_timeout_ms) {
		LOG(MCPD_LOG_INFO, "server %s: no answer to server/discover in "
		    "%u ms: a legacy server; using initialize", s->name,
		    g.probe_timeout_ms);
		s->legacy_cached = 1;
		if (s->url) {
			/* Requests over HTTP are independent: just ask again. */
			http_close_all(s, 0);
			while (s->pending) {
				struct pending *p = s->pending;
				s->pending = p->next;
				free(p);
			}
			send_initialize(s);
		} else {
			proc_kill(s, "it did not answer server/discover; "
			             "starting it again for initialize");
		}
		return;
	}
	if ((s->state == S_INIT || s->state == S_LISTING) &&
	    g.start_timeout_ms && now - s->state_ms > (int64_t)g.start_timeout_ms) {
		start_failed(s, s->state == S_INIT ? "no answer to initialize"
		                                   : "no answer to tools/list");
		return;
	}
	/* Cancelled (or timed-out) tasks: tell the server, finish them. */
	for (struct pending **pp = &s->pending; *pp;) {
		struct pending *p = *pp;
		if (p->kind != P_CALL || !g.host->task_cancelled(p->task)) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		client_notify(s, "notifications/cancelled", json_pack(
			"{s:I, s:s}", "requestId", (json_int_t)p->id, "reason",
			"the mcpd task was cancelled or timed out"));
		if (s->url)
			http_cancel(s, p->id);
		g.host->task_fail(p->task, "cancelled", "the task was "
		                  "cancelled; the MCP server was told");
		free(p);
	}
}

void client_lost(struct server *s, const char *code, const char *why)
{
	char msg[400];
	snprintf(msg, sizeof msg, s->isolated ? "the process of isolated "
	         "plugin %s %s" : "MCP server %s %s", s->name, why);
	while (s->pending) {
		struct pending *p = s->pending;
		s->pending = p->next;
		if (p->kind == P_CALL)
			g.host->task_fail(p->task, code, msg);
		free(p);
	}
	json_decref(s->listing);
	s->listing = NULL;
	s->relist = 0;
	/* Listed tools go with the server; tools only declared from the
	 * cache wait for its first listing (expire_cached bounds that). */
	for (size_t i = 0; i < s->ntools; i++) {
		s->tools[i]->seen = 0;
		if (!s->tools[i]->cached)
			tool_unregister(s->tools[i]);
	}
	free(s->session_id);
	s->session_id = NULL;
	s->era = ERA_NONE;
}

void client_free(struct server *s)
{
	struct pending **lists[] = {&s->pending, &s->parked};
	for (size_t i = 0; i < 2; i++) {
		while (*lists[i]) {
			struct pending *p = *lists[i];
			*lists[i] = p->next;
			free(p);
		}
	}
	for (size_t i = 0; i < s->ntools; i++) {
		free(s->tools[i]->name);
		free(s->tools[i]->cap);
		free(s->tools[i]->version);
		json_decref(s->tools[i]->def);
		free(s->tools[i]);
	}
	free(s->tools);
	s->tools = NULL;
	s->ntools = 0;
	json_decref(s->listing);
	s->listing = NULL;
}
