/*
 * Unit tests for core/jsonrpc.c and the wire-level error paths of the MCP
 * core (core/mcp.c): a real daemon core (no transport) with the bundled
 * plugins, and a fake connection that keeps every message it is sent.
 */
#include "jsonrpc-internal.h"
#include "log-internal.h"
#include "mcp-internal.h"
#include "mcpd-internal.h"
#include "tap.h"

#include <event2/event.h>
#include <ftw.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char root[] = "/tmp/test_jsonrpc.XXXXXX";
static struct mcpd d;

/* ---- the fake transport ---- */

static json_t *sent; /* every message, in order */

static void fake_send(struct mcp_conn *c, json_t *msg, const json_t *related,
                      void *ud)
{
	(void)c;
	(void)related;
	(void)ud;
	json_array_append_new(sent, msg);
}

static void run_loop_until(size_t n, int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (json_array_size(sent) < n) {
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return;
		usleep(1000);
	}
}

/* Send text; return the one message it produced (new reference), or
 * NULL when it produced none. */
static json_t *exchange(struct mcp_conn *c, const char *text)
{
	json_array_clear(sent);
	mcp_conn_receive(c, text, strlen(text));
	if (json_array_size(sent) != 1)
		return NULL;
	return json_incref(json_array_get(sent, 0));
}

static int error_code(const json_t *msg)
{
	return (int)json_integer_value(json_object_get(
		json_object_get(msg, "error"), "code"));
}

/* Is v the string s? */
static int str_is(const json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* The response to text is error `code` with the given id (NULL: null). */
static void expect_error(struct mcp_conn *c, const char *text, int code,
                         const json_t *id, const char *name)
{
	json_t *r = exchange(c, text);
	json_t *rid = json_object_get(r, "id");
	int good = r && error_code(r) == code &&
	           json_is_string(json_object_get(json_object_get(r, "error"),
	                                          "message")) &&
	           (id ? json_equal(rid, id) : json_is_null(rid)) &&
	           str_is(json_object_get(r, "jsonrpc"), "2.0");
	if (!ok(good, "%s: error %d", name, code)) {
		char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;
		diag("got %s", s ? s : "(no single answer)");
		free(s);
	}
	json_decref(r);
}

static json_t *result_of(json_t *r)
{
	return json_object_get(r, "result");
}

#define MODERN_META                                                        \
	"\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
	"\"io.modelcontextprotocol/clientCapabilities\":{}}"

/* ---- jsonrpc.c alone ---- */

static void test_codec(void)
{
	struct jsonrpc_error err;
	struct jsonrpc_msg m;
	json_t *j = jsonrpc_parse("{\"a\":", 5, 64, &err);
	ok(!j && err.code == JSONRPC_PARSE_ERROR, "truncated JSON: -32700");
	j = jsonrpc_parse("[[[[1]]]]", 9, 3, &err);
	ok(!j && err.code == JSONRPC_INVALID_REQUEST, "too deep: -32600");
	j = jsonrpc_parse("{\"a\":1,\"a\":2}", 13, 64, &err);
	ok(!j && err.code == JSONRPC_PARSE_ERROR, "duplicate keys: -32700");
	j = jsonrpc_parse("7", 1, 64, &err);
	ok(j && json_is_integer(j), "a scalar parses (it is JSON)");
	ok(jsonrpc_check(j, &m, &err) < 0 &&
	   err.code == JSONRPC_INVALID_REQUEST && !err.id,
	   "a scalar is an invalid request without id");
	json_decref(j);

	static const struct {
		const char *text;
		int code, echo;
	} bad[] = {
		{"{\"id\":1,\"method\":\"x\"}", JSONRPC_INVALID_REQUEST, 1},
		{"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}",
		 JSONRPC_INVALID_REQUEST, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"x\"}",
		 JSONRPC_INVALID_REQUEST, 0},
		{"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"x\"}",
		 JSONRPC_INVALID_REQUEST, 0},
		{"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"x\"}",
		 JSONRPC_INVALID_REQUEST, 0},
		{"{\"jsonrpc\":\"2.0\",\"id\":1}", JSONRPC_INVALID_REQUEST, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}",
		 JSONRPC_INVALID_REQUEST, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":\"s\"}",
		 JSONRPC_INVALID_REQUEST, 1},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}",
		 JSONRPC_INVALID_PARAMS, 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		j = jsonrpc_parse(bad[i].text, strlen(bad[i].text), 64, &err);
		int rc = j ? jsonrpc_check(j, &m, &err) : 0;
		ok(j && rc < 0 && err.code == bad[i].code &&
		   (bad[i].echo ? err.id != NULL : err.id == NULL),
		   "%s: %d%s", bad[i].text, bad[i].code,
		   bad[i].echo ? ", id kept" : ", id null");
		json_decref(j);
	}

	j = json_loads("{\"jsonrpc\":\"2.0\",\"method\":\"n\"}", 0, NULL);
	ok(jsonrpc_check(j, &m, &err) == 0 && m.kind == JSONRPC_NOTIFICATION &&
	   !m.id && strcmp(m.method, "n") == 0, "no id: a notification");
	json_decref(j);
	j = json_loads("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}", 0, NULL);
	ok(jsonrpc_check(j, &m, &err) == 0 && m.kind == JSONRPC_RESPONSE,
	   "result and id: a response");
	json_decref(j);

	char k1[32], k2[32];
	json_t *s1 = json_string("1"), *n1 = json_integer(1);
	ok(jsonrpc_id_key(s1, k1, sizeof k1) == 0 &&
	   jsonrpc_id_key(n1, k2, sizeof k2) == 0 && strcmp(k1, k2) != 0,
	   "ids \"1\" and 1 are different keys");
	ok(jsonrpc_id_key(json_null(), k1, sizeof k1) < 0, "null is no id");
	json_decref(s1);
	json_decref(n1);

	j = jsonrpc_error(NULL, -32600, NULL, "x %d", 1);
	ok(json_is_null(json_object_get(j, "id")) &&
	   error_code(j) == -32600, "an error without id says id null");
	json_decref(j);
}

/* ---- through the MCP core ---- */

static void test_errors(void)
{
	struct mcp_conn *c = mcp_conn_new(d.mcp, fake_send, NULL);
	json_t *one = json_integer(1), *sid = json_string("a");

	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,", JSONRPC_PARSE_ERROR,
	             NULL, "parse error");
	expect_error(c, "\"hello\"", JSONRPC_INVALID_REQUEST, NULL,
	             "a string is no request");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}",
	             JSONRPC_INVALID_REQUEST, one, "empty method");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
	             JSONRPC_INVALID_REQUEST, NULL, "object id");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"nope/x\"}",
	             JSONRPC_METHOD_NOT_FOUND, sid, "unknown method");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sampling/createMessage\","
	             "\"params\":{" MODERN_META "}}",
	             JSONRPC_METHOD_NOT_FOUND, one, "a client's method: not served");

	/* Before any session: only ping, or a modern request. */
	json_t *r = exchange(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	ok(r && json_is_object(result_of(r)) && !json_object_size(result_of(r)),
	   "ping before initialize: {}");
	json_decref(r);
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}",
	             JSONRPC_INVALID_PARAMS, one,
	             "tools/list with neither session nor _meta");

	/* Unsupported version, per request. */
	r = exchange(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
	             "\"params\":{\"_meta\":{\"io.modelcontextprotocol/"
	             "protocolVersion\":\"1999-01-01\","
	             "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
	json_t *data = json_object_get(json_object_get(r, "error"), "data");
	ok(r && error_code(r) == MCP_UNSUPPORTED_VERSION &&
	   json_equal(json_object_get(r, "id"), one),
	   "unknown protocol version: -32022");
	ok(str_is(json_array_get(json_object_get(data, "supported"), 0), MCP_LATEST) &&
	   json_array_size(json_object_get(data, "supported")) == 4 &&
	   str_is(json_object_get(data, "requested"), "1999-01-01"),
	   "data: supported (newest first) and requested");
	json_decref(r);
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\","
	             "\"params\":{\"_meta\":{\"io.modelcontextprotocol/"
	             "protocolVersion\":\"2030-01-01\"}}}",
	             MCP_UNSUPPORTED_VERSION, one,
	             "unknown version on server/discover too");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
	             "\"params\":{\"_meta\":{\"io.modelcontextprotocol/"
	             "protocolVersion\":\"2026-07-28\"}}}",
	             JSONRPC_INVALID_PARAMS, one,
	             "modern request without clientCapabilities");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
	             "\"params\":{\"_meta\":{\"io.modelcontextprotocol/"
	             "protocolVersion\":2026}}}",
	             JSONRPC_INVALID_PARAMS, one, "protocolVersion not a string");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
	             "\"params\":{\"_meta\":7}}",
	             JSONRPC_INVALID_PARAMS, one, "_meta not an object");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
	             "\"params\":{\"_meta\":{\"io.modelcontextprotocol/"
	             "protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/"
	             "clientCapabilities\":{},\"io.modelcontextprotocol/logLevel\":"
	             "\"loud\"}}}", JSONRPC_INVALID_PARAMS, one,
	             "bad per-request logLevel");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	             "\"params\":{" MODERN_META "}}", JSONRPC_METHOD_NOT_FOUND,
	             one, "ping is gone in 2026-07-28");
	ok(mcp_conn_era(c) == MCP_ERA_LEGACY,
	   "the first request served (ping) made the connection legacy");

	/* Bad params. */
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	             "\"params\":{" MODERN_META "}}", JSONRPC_INVALID_PARAMS,
	             one, "tools/call without name");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	             "\"params\":{\"name\":\"echo\",\"arguments\":[1]," MODERN_META
	             "}}", JSONRPC_INVALID_PARAMS, one, "arguments not an object");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	             "\"params\":{\"name\":\"no.such\"," MODERN_META "}}",
	             JSONRPC_INVALID_PARAMS, one, "unknown tool");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
	             "\"params\":{\"cursor\":\"zz\"," MODERN_META "}}",
	             JSONRPC_INVALID_PARAMS, one, "invalid cursor");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
	             "\"params\":{\"capabilities\":{}}}", JSONRPC_INVALID_PARAMS,
	             one, "initialize without protocolVersion");

	/* Oversized: the transport refuses it, the core answers. */
	json_array_clear(sent);
	mcp_conn_too_large(c, 1024);
	r = json_array_get(sent, 0);
	ok(error_code(r) == JSONRPC_INVALID_REQUEST &&
	   json_is_null(json_object_get(r, "id")) &&
	   json_integer_value(json_object_get(json_object_get(
		   json_object_get(r, "error"), "data"), "max_bytes")) == 1024,
	   "oversized message: -32600, id null, data.max_bytes");

	/* Notifications are never answered. */
	ok(!exchange(c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}") &&
	   json_array_size(sent) == 0, "unknown notification: no answer");
	ok(!exchange(c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
	             "cancelled\",\"params\":{\"requestId\":99}}") &&
	   json_array_size(sent) == 0, "cancelling an unknown request: ignored");
	ok(!exchange(c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}") &&
	   json_array_size(sent) == 0, "a response from the client: ignored");

	/* Batches: not before 2025-03-26 is negotiated. */
	expect_error(c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
	             JSONRPC_INVALID_REQUEST, NULL, "batch without a session");
	expect_error(c, "[]", JSONRPC_INVALID_REQUEST, NULL, "empty batch");
	json_decref(one);
	json_decref(sid);
	mcp_conn_free(c);
}

static json_t *initialize(struct mcp_conn *c, const char *version)
{
	char text[512];
	snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":"
	         "\"initialize\",\"params\":{\"protocolVersion\":\"%s\","
	         "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
	         "\"version\":\"1\"}}}", version);
	return exchange(c, text);
}

static void test_sessions(void)
{
	struct mcp_conn *c = mcp_conn_new(d.mcp, fake_send, NULL);
	json_t *r = initialize(c, "2024-11-05");
	ok(str_is(json_object_get(result_of(r), "protocolVersion"), MCP_LATEST_LEGACY),
	   "initialize with an unknown version: offered %s", MCP_LATEST_LEGACY);
	ok(json_is_true(json_object_get(json_object_get(json_object_get(
		   result_of(r), "capabilities"), "tools"), "listChanged")),
	   "tools.listChanged in a legacy session");
	ok(!json_object_get(result_of(r), "resultType"),
	   "no resultType before 2026-07-28");
	json_decref(r);
	json_t *zero = json_integer(0), *two = json_integer(2);
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
	             "\"params\":{\"protocolVersion\":\"2025-11-25\"}}",
	             JSONRPC_INVALID_REQUEST, zero, "a second initialize");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/"
	             "setLevel\",\"params\":{\"level\":\"loud\"}}",
	             JSONRPC_INVALID_PARAMS, two, "setLevel with a bad level");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"server/"
	             "discover\"}", JSONRPC_METHOD_NOT_FOUND, two,
	             "server/discover is not a legacy method");
	expect_error(c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
	             JSONRPC_INVALID_REQUEST, NULL, "batch in 2025-11-25");
	r = exchange(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	ok(json_array_size(json_object_get(result_of(r), "tools")) >= 2 &&
	   !json_object_get(result_of(r), "ttlMs"),
	   "tools/list in the session: tools, no cache hints");
	json_decref(r);
	r = exchange(c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"server/"
	             "discover\",\"params\":{" MODERN_META "}}");
	ok(r && str_is(json_object_get(result_of(r), "resultType"), "complete") &&
	   json_array_size(json_object_get(result_of(r), "supportedVersions")) == 4 &&
	   json_is_integer(json_object_get(result_of(r), "ttlMs")) &&
	   json_object_get(json_object_get(result_of(r), "_meta"),
	                   "io.modelcontextprotocol/serverInfo"),
	   "a modern request in a legacy process is served statelessly");
	json_decref(r);
	json_decref(zero);
	json_decref(two);
	mcp_conn_free(c);

	/* 2025-03-26: batches, answered as one array. */
	c = mcp_conn_new(d.mcp, fake_send, NULL);
	r = initialize(c, "2025-03-26");
	ok(str_is(json_object_get(result_of(r), "protocolVersion"), "2025-03-26"), "2025-03-26 negotiated");
	json_decref(r);
	r = exchange(c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
	             "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
	             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"},"
	             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
	             "\"params\":{\"name\":\"echo\",\"arguments\":{\"x\":1}}}]");
	if (!r) {
		run_loop_until(1, 5000);
		r = json_incref(json_array_get(sent, 0));
	}
	ok(json_array_size(r) == 3, "a batch of 3 requests and a notification: "
	   "3 answers in one array");
	ok(error_code(json_array_get(r, 1)) == JSONRPC_METHOD_NOT_FOUND,
	   "its unknown method answered -32601 in place");
	json_t *call = json_array_get(r, 2);
	ok(json_is_false(json_object_get(result_of(call), "isError")) &&
	   !json_object_get(result_of(call), "structuredContent"),
	   "its tools/call: a result, no structuredContent in 2025-03-26");
	json_decref(r);
	mcp_conn_free(c);
}

static void test_tools(void)
{
	struct mcp_conn *c = mcp_conn_new(d.mcp, fake_send, NULL);
	mcp_server_set_page_size(d.mcp, 1);
	json_t *r = exchange(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	                     "\"tools/list\",\"params\":{" MODERN_META "}}");
	json_t *res = result_of(r);
	const char *cur = json_string_value(json_object_get(res, "nextCursor"));
	/* Whatever the bundled plugins are, the first page holds the tool
	 * whose name sorts first (echo is always among them). */
	const char *first = json_string_value(json_object_get(
		json_array_get(json_object_get(res, "tools"), 0), "name"));
	ok(json_array_size(json_object_get(res, "tools")) == 1 && cur &&
	   first && strcmp(first, "echo") <= 0,
	   "page 1 of 1 tool, sorting before or as echo, with a cursor");
	ok(str_is(json_object_get(res, "cacheScope"), "public"),
	   "cache hints on tools/list");
	/* Walk every page: one tool each, in name order, the last without
	 * a cursor, and together the whole list. */
	char text[1024], prev[256];
	int pages = 1, in_order = 1, single = 1;
	snprintf(prev, sizeof prev, "%s", first ? first : "");
	char *next = cur ? strdup(cur) : NULL;
	json_decref(r);
	while (next && pages < 100) {
		snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":2,"
		         "\"method\":\"tools/list\",\"params\":{\"cursor\":"
		         "\"%s\"," MODERN_META "}}", next);
		free(next);
		r = exchange(c, text);
		res = result_of(r);
		json_t *tools = json_object_get(res, "tools");
		const char *name = json_string_value(json_object_get(
			json_array_get(tools, 0), "name"));
		single &= json_array_size(tools) == 1;
		in_order &= name && strcmp(prev, name) < 0;
		snprintf(prev, sizeof prev, "%s", name ? name : "");
		cur = json_string_value(json_object_get(res, "nextCursor"));
		next = cur ? strdup(cur) : NULL;
		pages++;
		json_decref(r);
	}
	mcp_server_set_page_size(d.mcp, 100);
	r = exchange(c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	             "\"tools/list\",\"params\":{" MODERN_META "}}");
	res = result_of(r);
	ok(single && in_order, "each page one tool, in name order");
	is_int(pages, json_array_size(json_object_get(res, "tools")),
	       "as many pages as tools, the last without a cursor");
	ok(!json_object_get(res, "nextCursor"), "one page of 100: no cursor");
	json_decref(r);

	/* tools/call: through the scheduler, answered after the commit. */
	json_array_clear(sent);
	const char *call = "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":"
	                   "\"tools/call\",\"params\":{\"name\":\"echo\","
	                   "\"arguments\":{\"hi\":[1,2]}," MODERN_META "}}";
	mcp_conn_receive(c, call, strlen(call));
	ok(mcp_conn_pending(c) == 1, "the call waits for its task");
	mcp_conn_receive(c, call, strlen(call));
	ok(json_array_size(sent) == 1 &&
	   error_code(json_array_get(sent, 0)) == JSONRPC_INVALID_REQUEST,
	   "the same id again while it runs: -32600");
	json_array_clear(sent);
	run_loop_until(1, 5000);
	r = json_array_get(sent, 0);
	res = result_of(r);
	json_t *want = json_pack("{s:[i,i]}", "hi", 1, 2);
	ok(json_is_false(json_object_get(res, "isError")) &&
	   json_equal(json_object_get(res, "structuredContent"), want),
	   "echo: structuredContent is its input");
	json_decref(want);
	const char *txt = json_string_value(json_object_get(json_array_get(
		json_object_get(res, "content"), 0), "text"));
	json_t *back = txt ? json_loads(txt, 0, NULL) : NULL;
	ok(json_equal(back, json_object_get(res, "structuredContent")),
	   "and the text content is the same JSON");
	json_decref(back);
	ok(str_is(json_object_get(res, "resultType"), "complete"),
	   "resultType complete");
	const char *tid = json_string_value(json_object_get(json_object_get(
		json_object_get(res, "_meta"), "dev.mcpd/task"), "id"));
	json_t *task = NULL;
	ok(tid && mcp_conn_pending(c) == 0, "no call pending any more");
	if (tid) {
		uint8_t id[16];
		task_id_parse(tid, id);
		task = sched_task_json(&d, tid, id);
	}
	ok(task && str_is(json_object_get(task, "status"), "succeeded"),
	   "the task is stored, succeeded (visible over REST)");
	json_decref(task);

	r = exchange(c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\","
	             "\"params\":{\"name\":\"sleep\",\"arguments\":{\"ms\":-5},"
	             MODERN_META "}}");
	res = result_of(r);
	txt = json_string_value(json_object_get(json_array_get(
		json_object_get(res, "content"), 0), "text"));
	ok(r && json_is_true(json_object_get(res, "isError")) && txt &&
	   strstr(txt, "/ms"),
	   "invalid input: a result with isError, naming the field");
	json_decref(r);
	mcp_conn_free(c);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	const char *pdir = getenv("MCPD_PLUGIN_DIR");
	sent = json_array();
	test_codec();
	if (!pdir || !mkdtemp(root)) {
		diag("MCPD_PLUGIN_DIR not set: skipping the MCP core tests");
		json_decref(sent);
		done_testing();
		return exit_status();
	}
	config_init(&d.cfg);
	config_set_state_dir(&d.cfg, root);
	config_add_plugin_dir(&d.cfg, pdir);
	d.cfg.http = 0;
	d.cfg.log_level = LOG_ERROR;
	if (ok(mcpd_start(&d) == 0 && d.mcp, "daemon core started")) {
		test_errors();
		test_sessions();
		test_tools();
	}
	mcpd_free(&d);
	json_decref(sent);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	done_testing();
	return exit_status();
}
