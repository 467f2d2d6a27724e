/*
 * /mcp on the wire: the real daemon (MCPD_BIN, on a port it picks, with a
 * temporary state dir and the bundled plugins) and raw HTTP/1.1 over a
 * socket, so every refusal is seen exactly as a client sees it: status
 * code, JSON-RPC error code, headers. Each request uses a connection of
 * its own ("Connection: close") and every read has a deadline.
 */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_MS 10000

static int port;
static pid_t daemon_pid = -1;

#define PV "io.modelcontextprotocol/protocolVersion"
#define CAPS "io.modelcontextprotocol/clientCapabilities"
/* The modern envelope, for a body's params. */
#define META "\"_meta\":{\"" PV "\":\"2026-07-28\",\"" CAPS "\":{}}"

struct resp {
	int status;
	char head[8192]; /* status line and headers */
	char *body;      /* de-chunked */
	json_t *json;    /* body parsed, or NULL */
};

static void resp_free(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/* Value of response header `name` (case-insensitive) into out; 0 or -1. */
static int resp_header(const struct resp *r, const char *name, char *out,
                       size_t outlen)
{
	size_t n = strlen(name);
	for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
			const char *v = p + 3 + n;
			v += strspn(v, " ");
			size_t len = strcspn(v, "\r");
			if (len >= outlen)
				len = outlen - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 0;
		}
	}
	return -1;
}

static int connect_daemon(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Read until `stop` appears in what was read, EOF or the deadline. */
static size_t read_some(int fd, char **buf, size_t *cap, size_t len,
                        const char *stop)
{
	for (;;) {
		if (stop && memmem(*buf, len, stop, strlen(stop)))
			return len;
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, IO_TIMEOUT_MS) <= 0)
			return len;
		if (len + 4096 + 1 > *cap) {
			*cap = (*cap + 4096) * 2;
			*buf = realloc(*buf, *cap);
		}
		ssize_t n = read(fd, *buf + len, *cap - len - 1);
		if (n <= 0)
			return len;
		len += (size_t)n;
		(*buf)[len] = '\0';
	}
}

static void dechunk(char *body)
{
	char *w = body, *p = body;
	for (;;) {
		char *end;
		unsigned long n = strtoul(p, &end, 16);
		char *data = strstr(end, "\r\n");
		if (!data || n == 0)
			break;
		data += 2;
		memmove(w, data, n);
		w += n;
		p = data + n + 2;
	}
	*w = '\0';
}

/*
 * Send raw request text; read the answer. With `head_only` return once the
 * headers are in (a stream that stays open); the socket is then closed.
 */
static void exchange_raw(const char *req, size_t reqlen, struct resp *r,
                         int head_only)
{
	memset(r, 0, sizeof *r);
	int fd = connect_daemon();
	if (fd < 0)
		return;
	size_t off = 0;
	while (off < reqlen) {
		ssize_t n = write(fd, req + off, reqlen - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	size_t cap = 8192;
	char *buf = calloc(1, cap);
	size_t len = read_some(fd, &buf, &cap, 0, head_only ? "\r\n\r\n" : NULL);
	close(fd);
	char *eoh = strstr(buf, "\r\n\r\n");
	if (sscanf(buf, "HTTP/1.1 %d", &r->status) != 1 || !eoh) {
		free(buf);
		return;
	}
	size_t hl = (size_t)(eoh - buf);
	if (hl >= sizeof r->head)
		hl = sizeof r->head - 1;
	memcpy(r->head, buf, hl);
	r->body = strdup(eoh + 4);
	char te[64];
	if (resp_header(r, "Transfer-Encoding", te, sizeof te) == 0 &&
	    strcasecmp(te, "chunked") == 0 && !head_only)
		dechunk(r->body);
	r->json = json_loads(r->body, 0, NULL);
	(void)len;
	free(buf);
}

/* A request to /mcp: method, extra header lines ("Name: v\r\n"...), body. */
static void mcp(const char *method, const char *headers, const char *body,
                struct resp *r)
{
	char *req = NULL;
	size_t blen = body ? strlen(body) : 0;
	int n = asprintf(&req, "%s /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	                 "Connection: close\r\n%s%s%s"
	                 "Content-Length: %zu\r\n\r\n%s", method, port,
	                 body ? "Content-Type: application/json\r\n" : "",
	                 body ? "Accept: application/json, text/event-stream\r\n"
	                      : "",
	                 headers ? headers : "", blen, body ? body : "");
	if (n < 0)
		return;
	exchange_raw(req, (size_t)n, r, 0);
	free(req);
}

static json_int_t err_code(const struct resp *r)
{
	return json_integer_value(json_object_get(json_object_get(r->json,
	                                                          "error"),
	                                          "code"));
}

/* Check status and JSON-RPC error code; 1 when both match. */
static int expect(const struct resp *r, int status, json_int_t code,
                  const char *what)
{
	int good = r->status == status && err_code(r) == code &&
	           json_is_string(json_object_get(json_object_get(r->json,
	                                                          "error"),
	                                          "message"));
	if (!ok(good, "%s: %d with JSON-RPC error %lld", what, status,
	        (long long)code))
		diag("got %d %s", r->status, r->body ? r->body : "(no body)");
	return good;
}

/* A modern POST with the standard headers (Mcp-Name when name given). */
static void modern(const char *method, const char *name, const char *body,
                   struct resp *r)
{
	char hdr[512];
	snprintf(hdr, sizeof hdr, "MCP-Protocol-Version: 2026-07-28\r\n"
	         "Mcp-Method: %s\r\n%s%s%s", method, name ? "Mcp-Name: " : "",
	         name ? name : "", name ? "\r\n" : "");
	mcp("POST", hdr, body, r);
}

/* initialize; the new session's id into sid (empty on failure). */
static void open_session(char *sid, size_t len)
{
	struct resp r;
	mcp("POST", NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
	    "\"capabilities\":{},\"clientInfo\":{\"name\":\"wire\","
	    "\"version\":\"1\"}}}", &r);
	sid[0] = '\0';
	if (r.status == 200)
		resp_header(&r, "Mcp-Session-Id", sid, len);
	resp_free(&r);
}

/* ---- the daemon ---- */

static char state_dir[] = "/tmp/mcpd-wire-XXXXXX";

static int start_daemon(void)
{
	const char *bin = getenv("MCPD_BIN");
	const char *pdir = getenv("MCPD_PLUGIN_DIR");
	int out[2];
	if (!bin || !pdir || access(bin, X_OK) != 0) {
		diag("MCPD_BIN (%s) must name the built mcpd; run through ctest "
		     "after building the mcpd target", bin ? bin : "unset");
		return -1;
	}
	if (!mkdtemp(state_dir) || pipe(out) < 0)
		return -1;
	char state[64];
	snprintf(state, sizeof state, "%s/state", state_dir);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		close(out[1]);
		int null = open("/dev/null", O_WRONLY);
		if (!getenv("MCPD_TEST_LOG"))
			dup2(null, STDERR_FILENO);
		execl(bin, bin, "--listen", "127.0.0.1:0", "--state-dir", state,
		      "--plugin-dir", pdir, "--log-level", "debug", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* "mcpd listening on http://127.0.0.1:PORT" names the port. */
	size_t cap = 1024, len;
	char *buf = calloc(1, cap);
	len = read_some(out[0], &buf, &cap, 0, "\n");
	close(out[0]);
	const char *p = strstr(buf, "127.0.0.1:");
	port = p ? atoi(p + 10) : 0;
	(void)len;
	free(buf);
	return port > 0 ? 0 : -1;
}

static void stop_daemon(void)
{
	if (daemon_pid > 0) {
		int st;
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "the daemon exits 0 after SIGTERM");
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
	if (system(cmd) != 0)
		diag("could not remove %s", state_dir);
}

/* ---- tests ---- */

static void test_malformed(void)
{
	struct resp r;
	mcp("POST", NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,", &r);
	expect(&r, 400, -32700, "parse error");
	resp_free(&r);

	mcp("POST", NULL, "{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"ping\"}",
	    &r);
	expect(&r, 400, -32600, "invalid request (jsonrpc 1.0)");
	is_int(json_integer_value(json_object_get(r.json, "id")), 7,
	       "the refused request's id is echoed");
	resp_free(&r);

	mcp("POST", NULL, "[]", &r);
	expect(&r, 400, -32600, "an empty batch");
	resp_free(&r);

	mcp("POST", NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	    "\"params\":[1]}", &r);
	expect(&r, 400, -32602, "params that are an array");
	resp_free(&r);
}

static void test_modern(void)
{
	struct resp r;
	modern("no/such", NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	       "\"no/such\",\"params\":{" META "}}", &r);
	expect(&r, 404, -32601, "unknown method (2026-07-28)");
	resp_free(&r);

	modern("tools/call", "echo", "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	       "\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":5,"
	       META "}}", &r);
	expect(&r, 200, -32602, "bad params (arguments not an object): in-band");
	resp_free(&r);

	modern("tools/call", "nope", "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	       "\"tools/call\",\"params\":{\"name\":\"nope\",\"arguments\":{},"
	       META "}}", &r);
	expect(&r, 200, -32602, "unknown tool: in-band");
	resp_free(&r);

	/* Required headers, and their agreement with the body. */
	mcp("POST", "Mcp-Method: tools/list\r\n", "{\"jsonrpc\":\"2.0\","
	    "\"id\":4,\"method\":\"tools/list\",\"params\":{" META "}}", &r);
	expect(&r, 400, -32020, "MCP-Protocol-Version missing");
	resp_free(&r);

	mcp("POST", "MCP-Protocol-Version: 2026-07-28\r\n", "{\"jsonrpc\":"
	    "\"2.0\",\"id\":4,\"method\":\"tools/list\",\"params\":{" META "}}",
	    &r);
	expect(&r, 400, -32020, "Mcp-Method missing");
	resp_free(&r);

	modern("tools/call", NULL, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":"
	       "\"tools/list\",\"params\":{" META "}}", &r);
	expect(&r, 400, -32020, "Mcp-Method names another method");
	resp_free(&r);

	modern("tools/call", NULL, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":"
	       "\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{},"
	       META "}}", &r);
	expect(&r, 400, -32020, "Mcp-Name missing on tools/call");
	resp_free(&r);

	modern("tools/call", "sleep", "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":"
	       "\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{},"
	       META "}}", &r);
	expect(&r, 400, -32020, "Mcp-Name names another tool");
	resp_free(&r);

	/* "echo" in the header's base64 form. */
	modern("tools/call", "=?base64?ZWNobw==?=", "{\"jsonrpc\":\"2.0\","
	       "\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
	       "\"arguments\":{\"k\":1}," META "}}", &r);
	json_t *want = json_pack("{s:i}", "k", 1);
	ok(r.status == 200 && json_equal(json_object_get(json_object_get(
	   r.json, "result"), "structuredContent"), want),
	   "Mcp-Name in base64 form matches: the call succeeds");
	json_decref(want);
	resp_free(&r);

	mcp("POST", "MCP-Protocol-Version: 2025-11-25\r\nMcp-Method: tools/list"
	    "\r\n", "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\","
	    "\"params\":{" META "}}", &r);
	expect(&r, 400, -32020, "header and body name different versions");
	resp_free(&r);

	/* Versions. */
	modern("tools/list", NULL, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":"
	       "\"tools/list\",\"params\":{\"_meta\":{\"" PV "\":\"2099-01-01\","
	       "\"" CAPS "\":{}}}}", &r);
	if (expect(&r, 400, -32022, "unsupported version in _meta")) {
		json_t *data = json_object_get(json_object_get(r.json, "error"),
		                               "data");
		is_str(json_string_value(json_array_get(json_object_get(
		       data, "supported"), 0)), "2026-07-28",
		       "its data lists the supported versions, newest first");
		is_str(json_string_value(json_object_get(data, "requested")),
		       "2099-01-01", "and the one requested");
	}
	resp_free(&r);

	modern("tools/list", NULL, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":"
	       "\"tools/list\"}", &r);
	expect(&r, 400, -32602, "a 2026-07-28 header without the _meta envelope");
	resp_free(&r);

	modern("tools/list", NULL, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":"
	       "\"tools/list\",\"params\":{\"_meta\":{\"" PV "\":\"2026-07-28\""
	       "}}}", &r);
	expect(&r, 400, -32602, "an envelope without clientCapabilities");
	resp_free(&r);

	modern("tools/list", NULL, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":"
	       "\"tools/list\",\"params\":{" META "}}", &r);
	ok(r.status == 200 && json_is_array(json_object_get(json_object_get(
	   r.json, "result"), "tools")), "a well-formed 2026-07-28 tools/list "
	   "is answered 200 without a session");
	resp_free(&r);

	modern("notifications/cancelled", NULL, "{\"jsonrpc\":\"2.0\","
	       "\"method\":\"notifications/cancelled\",\"params\":{"
	       "\"requestId\":99}}", &r);
	is_int(r.status, 202, "a 2026-07-28 notification: 202");
	resp_free(&r);
}

static void test_sessions(void)
{
	struct resp r;
	char sid[80], hdr[200];

	mcp("POST", "MCP-Protocol-Version: 2026-07-28\r\n", "{\"jsonrpc\":"
	    "\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
	    "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
	    "\"clientInfo\":{\"name\":\"w\",\"version\":\"1\"}}}", &r);
	expect(&r, 400, -32020, "initialize with a 2026-07-28 header");
	resp_free(&r);

	open_session(sid, sizeof sid);
	ok(strlen(sid) == 32 && strspn(sid, "0123456789abcdef") == 32,
	   "initialize answers with an Mcp-Session-Id of 32 hex digits");

	mcp("POST", NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"tools/list\"}", &r);
	expect(&r, 400, -32000, "no Mcp-Session-Id after the handshake era's "
	       "initialize");
	resp_free(&r);

	mcp("POST", "Mcp-Session-Id: 00000000000000000000000000000000\r\n",
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", &r);
	expect(&r, 404, -32001, "unknown session");
	resp_free(&r);

	snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s\r\n", sid);
	mcp("POST", hdr, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}", &r);
	ok(r.status == 202 && r.body && !r.body[0],
	   "a notification is accepted: 202, no body");
	resp_free(&r);

	mcp("POST", hdr, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"no/such\"}",
	    &r);
	expect(&r, 200, -32601, "unknown method in a session: in-band");
	resp_free(&r);

	mcp("POST", hdr, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":"
	    "\"tools/call\",\"params\":{\"arguments\":{}}}", &r);
	expect(&r, 200, -32602, "bad params (no tool name) in a session: "
	       "in-band");
	resp_free(&r);

	snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s\r\n"
	         "MCP-Protocol-Version: 1999-01-01\r\n", sid);
	mcp("POST", hdr, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":"
	    "\"tools/list\"}", &r);
	expect(&r, 400, -32022, "unsupported MCP-Protocol-Version header");
	resp_free(&r);

	/* GET: the session's stream. */
	mcp("GET", NULL, NULL, &r);
	expect(&r, 400, -32000, "GET without Mcp-Session-Id");
	resp_free(&r);

	snprintf(hdr, sizeof hdr, "Accept: application/json\r\n"
	         "Mcp-Session-Id: %s\r\n", sid);
	mcp("GET", hdr, NULL, &r);
	expect(&r, 406, -32000, "GET not accepting text/event-stream");
	resp_free(&r);

	mcp("GET", "Accept: text/event-stream\r\nMcp-Session-Id: "
	    "00000000000000000000000000000000\r\n", NULL, &r);
	expect(&r, 404, -32001, "GET for an unknown session");
	resp_free(&r);

	mcp("GET", "Accept: text/event-stream\r\nMCP-Protocol-Version: "
	    "2026-07-28\r\n", NULL, &r);
	char allow[64] = "";
	resp_header(&r, "Allow", allow, sizeof allow);
	expect(&r, 405, -32000, "GET in 2026-07-28 (no sessions, POST only)");
	is_str(allow, "GET, POST, DELETE", "its Allow names the methods /mcp "
	       "takes in either era");
	resp_free(&r);

	char *req = NULL;
	int n = asprintf(&req, "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	                 "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n"
	                 "\r\n", port, sid);
	exchange_raw(req, (size_t)n, &r, 1);
	char ct[64] = "";
	resp_header(&r, "Content-Type", ct, sizeof ct);
	ok(r.status == 200 && strcmp(ct, "text/event-stream") == 0,
	   "GET with the session opens its event stream");
	resp_free(&r);
	free(req);

	/* DELETE ends it. */
	mcp("DELETE", "Mcp-Session-Id: 00000000000000000000000000000000\r\n",
	    NULL, &r);
	expect(&r, 404, -32001, "DELETE of an unknown session");
	resp_free(&r);

	snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s\r\n", sid);
	mcp("DELETE", hdr, NULL, &r);
	is_int(r.status, 200, "DELETE ends the session");
	resp_free(&r);

	mcp("POST", hdr, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":"
	    "\"tools/list\"}", &r);
	expect(&r, 404, -32001, "the ended session is unknown");
	resp_free(&r);
}

static void test_http_rules(void)
{
	struct resp r;
	char allow[64] = "";

	mcp("PUT", NULL, NULL, &r);
	resp_header(&r, "Allow", allow, sizeof allow);
	expect(&r, 405, -32000, "PUT");
	is_str(allow, "GET, POST, DELETE", "405 names the allowed methods");
	resp_free(&r);

	char *req = NULL;
	int n = asprintf(&req, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	                 "Connection: close\r\nContent-Type: text/plain\r\n"
	                 "Content-Length: 2\r\n\r\n{}", port);
	exchange_raw(req, (size_t)n, &r, 0);
	expect(&r, 415, -32000, "Content-Type text/plain");
	resp_free(&r);
	free(req);

	n = asprintf(&req, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	             "Connection: close\r\nContent-Type: application/json\r\n"
	             "Accept: text/html\r\nContent-Length: 2\r\n\r\n{}", port);
	exchange_raw(req, (size_t)n, &r, 0);
	expect(&r, 406, -32000, "Accept without application/json");
	resp_free(&r);
	free(req);

	/* Over max_body_bytes (1 MiB): refused before the body is read. */
	n = asprintf(&req, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	             "Connection: close\r\nContent-Type: application/json\r\n"
	             "Content-Length: 2000000\r\n\r\n{", port);
	exchange_raw(req, (size_t)n, &r, 0);
	if (expect(&r, 413, -32600, "oversized message"))
		is_int(json_integer_value(json_object_get(json_object_get(
		       json_object_get(r.json, "error"), "data"), "max_bytes")),
		       1048576, "413 names the limit in error.data.max_bytes");
	resp_free(&r);
	free(req);

	/* Origin and Host (DNS rebinding). */
	mcp("POST", "Origin: http://evil.example\r\n", "{\"jsonrpc\":\"2.0\","
	    "\"id\":1,\"method\":\"ping\"}", &r);
	expect(&r, 403, -32000, "an Origin from elsewhere");
	resp_free(&r);

	modern("tools/list", NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	       "\"tools/list\",\"params\":{" META "}}", &r);
	int base = r.status;
	resp_free(&r);
	mcp("POST", "Origin: http://localhost:5173\r\nMCP-Protocol-Version: "
	    "2026-07-28\r\nMcp-Method: tools/list\r\n", "{\"jsonrpc\":\"2.0\","
	    "\"id\":1,\"method\":\"tools/list\",\"params\":{" META "}}", &r);
	ok(base == 200 && r.status == 200, "an Origin on this machine is let in");
	resp_free(&r);

	n = asprintf(&req, "POST /mcp HTTP/1.1\r\nHost: evil.example:%d\r\n"
	             "Connection: close\r\nContent-Type: application/json\r\n"
	             "Content-Length: 2\r\n\r\n{}", port);
	exchange_raw(req, (size_t)n, &r, 0);
	expect(&r, 403, -32000, "a Host naming another server");
	resp_free(&r);
	free(req);

	n = asprintf(&req, "POST /mcp HTTP/1.1\r\nConnection: close\r\n"
	             "Content-Type: application/json\r\nContent-Length: 2\r\n"
	             "\r\n{}");
	exchange_raw(req, (size_t)n, &r, 0);
	expect(&r, 403, -32000, "no Host at all");
	resp_free(&r);
	free(req);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (start_daemon() < 0) {
		plan(1);
		ok(0, "the daemon starts and names its port");
		stop_daemon();
		return 1;
	}
	test_malformed();
	test_modern();
	test_sessions();
	test_http_rules();
	stop_daemon();
	done_testing();
	return exit_status();
}
