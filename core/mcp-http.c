/*
 * MCP over Streamable HTTP at /mcp, dual-era, decided per request from the
 * body (the protocol-version header only cross-checks it):
 *
 *   - a request whose params._meta names 2026-07-28 is served statelessly
 *     on a connection of its own that lives as long as the HTTP exchange;
 *     the MCP-Protocol-Version, Mcp-Method and (tools/call, prompts/get,
 *     resources/read) Mcp-Name headers are required and must agree with
 *     the body;
 *   - anything else is the handshake era: "initialize" opens a session
 *     (Mcp-Session-Id), every later POST, the GET stream and DELETE name
 *     it; its messages go to the session's one connection.
 *
 * Every request is answered with JSON, or with an SSE stream once a
 * notification related to it (progress, a log message, a subscription's
 * acknowledgement) must go out before the answer and the client accepts
 * text/event-stream. A client that closes a stream before the answer
 * cancels the request: its task, or its subscription.
 *
 * Refusals are JSON-RPC error bodies with the status the transport pages
 * give: 403 (Host, Origin), 405, 406, 415, 413, 400 (malformed, header
 * mismatch -32020, unsupported version -32022, envelope -32602, no
 * session), 404 (unknown session -32001; unknown method, modern era).
 *
 * Loop thread only.
 */
#include "mcp-internal.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "http-internal.h"
#include "jsonrpc-internal.h"
#include "log-internal.h"
#include "mcpd-internal.h"

/* Transport-level refusals (no JSON-RPC meaning of their own). */
#define MCP_TRANSPORT_ERROR -32000
/* An unknown or ended session, as the reference SDKs answer it. */
#define MCP_SESSION_NOT_FOUND -32001

#define PV_META "io.modelcontextprotocol/protocolVersion"
#define CAPS_META "io.modelcontextprotocol/clientCapabilities"
#define SWEEP_MS 5000

struct mcp_http;

/* A legacy session: one MCP connection across many HTTP requests. */
struct session {
	struct mcp_http *h;
	char id[33];
	struct mcp_conn *conn;
	struct http_req *stream; /* the GET stream, or NULL */
	int64_t last_used;       /* monotonic ms */
	struct session *next, **pprev;
};

/* One POST that carries requests, waiting for its answer. */
struct exchange {
	struct mcp_http *h;
	struct session *s;     /* legacy: its session */
	struct mcp_conn *conn; /* modern: a connection of its own */
	struct http_req *req;  /* NULL once answered or gone */
	json_t *ids;           /* the ids of the requests it carries */
	int batch;             /* answered by one array */
	int modern;
	int sse_ok;            /* the client accepts text/event-stream */
	int streaming;
	int init;              /* initialize: name the session on success */
	struct exchange *next, **pprev;
};

struct mcp_http {
	struct mcpd *d;
	struct mcp_server *srv;
	struct session *sessions;
	int nsessions;
	struct exchange *live;
	struct exchange *dead; /* freed by reap_ev, outside send callbacks */
	struct event *reap_ev, *sweep_ev;
};

/* ---- replies ---- */

static void count(struct mcp_http *h, int status)
{
	if (status >= 100 && status < 600)
		h->d->http_codes[status / 100]++;
}

static void reply_json(struct mcp_http *h, struct http_req *req, int status,
                       json_t *body)
{
	count(h, status);
	http_req_reply_json(req, status, body);
}

static void refuse(struct mcp_http *h, struct http_req *req, int status,
                   const json_t *id, int code, json_t *data,
                   const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static void refuse(struct mcp_http *h, struct http_req *req, int status,
                   const json_t *id, int code, json_t *data,
                   const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_debug("/mcp: %s %s: %d %s", http_req_method(req),
	          http_req_peer(req), status, msg);
	if (status == 405)
		http_req_add_header(req, "Allow", "GET, POST, DELETE");
	reply_json(h, req, status, jsonrpc_error(id, code, data, "%s", msg));
}

char *mcp_http_refusal(const char *path, int status, const char *why,
                       void *ud)
{
	struct mcpd *d = ud;
	if (!path || strcmp(path, "/mcp") != 0)
		return NULL;
	json_t *data = NULL;
	if (status == 413 && d)
		data = json_pack("{s:I}", "max_bytes",
		                 (json_int_t)d->cfg.max_body_bytes);
	json_t *e = jsonrpc_error(NULL, status == 413 || status == 400 ||
	                                 status == 431
	                                 ? JSONRPC_INVALID_REQUEST
	                                 : MCP_TRANSPORT_ERROR,
	                          data, "%s", why);
	char *text = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	return text;
}

static int sse_write(struct http_req *req, const json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -1;
	size_t n = strlen(text) + 32;
	char *frame = malloc(n);
	int rc = -1;
	if (frame) {
		int len = snprintf(frame, n, "event: message\ndata: %s\n\n", text);
		rc = http_req_stream_write(req, frame, (size_t)len);
	}
	free(frame);
	free(text);
	return rc;
}

/* ---- exchanges ---- */

static void reap_later(struct mcp_http *h)
{
	event_active(h->reap_ev, 0, 0);
}

/* The exchange is over: off the live list, freed by the reaper. */
static void exchange_done(struct exchange *x)
{
	if (x->req) {
		http_req_on_close(x->req, NULL, NULL);
		x->req = NULL;
	}
	*x->pprev = x->next;
	if (x->next)
		x->next->pprev = x->pprev;
	x->next = x->h->dead;
	x->pprev = NULL;
	x->h->dead = x;
	reap_later(x->h);
}

static void exchange_free(struct exchange *x)
{
	mcp_conn_free(x->conn);
	json_decref(x->ids);
	free(x);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mcp_http *h = arg;
	while (h->dead) {
		struct exchange *x = h->dead;
		h->dead = x->next;
		exchange_free(x);
	}
}

/* HTTP status of an answer: the modern era maps the errors that refuse a
 * request before any method ran (SDK "ladder" codes); the rest, and
 * everything in the handshake era, is in-band (200). */
static int answer_status(const struct exchange *x, const json_t *msg)
{
	json_t *e = json_object_get(msg, "error");
	if (!x->modern || !e)
		return 200;
	switch (json_integer_value(json_object_get(e, "code"))) {
	case JSONRPC_PARSE_ERROR:
	case JSONRPC_INVALID_REQUEST:
	case MCP_HEADER_MISMATCH:
	case MCP_MISSING_CLIENT_CAPABILITY:
	case MCP_UNSUPPORTED_VERSION:
		return 400;
	case JSONRPC_METHOD_NOT_FOUND:
		return 404;
	default:
		return 200;
	}
}

static void exchange_deliver(struct exchange *x, json_t *msg)
{
	int answer = json_is_array(msg) || !json_object_get(msg, "method");
	if (!x || !x->req) {
		json_decref(msg);
		return;
	}
	if (x->init && json_object_get(msg, "result"))
		http_req_add_header(x->req, "Mcp-Session-Id", x->s->id);
	if (!answer) {
		/* Without SSE there is no way to send it before the answer. */
		if (!x->sse_ok) {
			json_decref(msg);
			return;
		}
		if (!x->streaming) {
			x->streaming = 1;
			count(x->h, 200);
			http_req_stream_start(x->req, 200, "text/event-stream");
		}
		sse_write(x->req, msg);
		json_decref(msg);
		return;
	}
	if (x->streaming) {
		sse_write(x->req, msg);
		http_req_stream_end(x->req);
		x->req = NULL;
		json_decref(msg);
	} else {
		struct http_req *req = x->req;
		http_req_on_close(req, NULL, NULL);
		x->req = NULL;
		reply_json(x->h, req, answer_status(x, msg), msg);
	}
	exchange_done(x);
}

static int ids_have(const json_t *ids, const json_t *id)
{
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (json_equal(v, id))
			return 1;
	return 0;
}

/* The client went away before the answer: cancel what it asked for. */
static void exchange_closed(struct http_req *req, void *arg)
{
	(void)req;
	struct exchange *x = arg;
	struct mcp_conn *c = x->s ? x->s->conn : x->conn;
	x->req = NULL;
	json_t *ids = json_incref(x->ids);
	exchange_done(x);
	/* The loop has ended: the daemon is stopping, and a task it drops
	 * goes back to its retry policy, not to cancelled. */
	if (event_base_got_exit(x->h->d->base)) {
		json_decref(ids);
		return;
	}
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id)
		if (mcp_conn_cancel(c, id, "the client closed the HTTP "
		                           "stream") == 0)
			log_debug("/mcp: request closed by the client: "
			          "cancelled");
	json_decref(ids);
}

static struct exchange *exchange_new(struct mcp_http *h, struct http_req *req,
                                     const json_t *msg, int sse_ok)
{
	struct exchange *x = calloc(1, sizeof *x);
	if (!x || !(x->ids = json_array())) {
		free(x);
		return NULL;
	}
	x->h = h;
	x->req = req;
	x->sse_ok = sse_ok;
	x->batch = json_is_array(msg);
	if (x->batch) {
		size_t i;
		json_t *m;
		json_array_foreach(msg, i, m)
			if (json_object_get(m, "method") &&
			    jsonrpc_id_valid(json_object_get(m, "id")))
				json_array_append(x->ids, json_object_get(m, "id"));
	} else {
		json_array_append(x->ids, json_object_get(msg, "id"));
	}
	x->next = h->live;
	if (x->next)
		x->next->pprev = &x->next;
	x->pprev = &h->live;
	h->live = x;
	http_req_on_close(req, exchange_closed, x);
	return x;
}

/* Modern exchanges own their connection: everything on it is theirs. */
static void exchange_send(struct mcp_conn *c, json_t *msg,
                          const json_t *related, void *ud)
{
	(void)c;
	(void)related;
	exchange_deliver(ud, msg);
}

/* ---- sessions ---- */

static void session_send(struct mcp_conn *c, json_t *msg,
                         const json_t *related, void *ud)
{
	(void)c;
	struct session *s = ud;
	for (struct exchange *x = s->h->live; x; x = x->next) {
		if (x->s != s)
			continue;
		if (json_is_array(msg) ? x->batch
		                       : related && ids_have(x->ids, related)) {
			exchange_deliver(x, msg);
			return;
		}
	}
	/* Not part of any request: the session's GET stream, if open. */
	if (!related && s->stream && !json_is_array(msg))
		sse_write(s->stream, msg);
	json_decref(msg);
}

static void stream_closed(struct http_req *req, void *arg)
{
	(void)req;
	((struct session *)arg)->stream = NULL;
}

static struct session *session_find(struct mcp_http *h, const char *id)
{
	for (struct session *s = h->sessions; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* Ends a session: its stream closes, its waiting requests are answered
 * 404, its calls stop being watched (their tasks go on). */
static void session_end(struct session *s, const char *why)
{
	struct mcp_http *h = s->h;
	log_info("MCP session %.8s... ended: %s", s->id, why);
	for (struct exchange *x = h->live, *next; x; x = next) {
		next = x->next;
		if (x->s != s)
			continue;
		if (x->req && x->streaming) {
			http_req_on_close(x->req, NULL, NULL);
			http_req_stream_end(x->req);
			x->req = NULL;
		} else if (x->req) {
			struct http_req *req = x->req;
			http_req_on_close(req, NULL, NULL);
			x->req = NULL;
			refuse(h, req, 404, NULL, MCP_SESSION_NOT_FOUND,
			       NULL, "Session not found: it ended (%s)", why);
		}
		x->s = NULL;
		exchange_done(x);
	}
	if (s->stream) {
		http_req_on_close(s->stream, NULL, NULL);
		http_req_stream_end(s->stream);
	}
	mcp_conn_free(s->conn);
	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	h->nsessions--;
	free(s);
}

static struct session *session_new(struct mcp_http *h)
{
	uint8_t raw[16];
	struct session *s = calloc(1, sizeof *s);
	if (!s || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw ||
	    !(s->conn = mcp_conn_new(h->srv, session_send, s))) {
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
	s->h = h;
	s->last_used = mono_ms();
	s->next = h->sessions;
	if (s->next)
		s->next->pprev = &s->next;
	s->pprev = &h->sessions;
	h->sessions = s;
	h->nsessions++;
	return s;
}

static int session_busy(const struct session *s)
{
	if (s->stream)
		return 1;
	for (const struct exchange *x = s->h->live; x; x = x->next)
		if (x->s == s)
			return 1;
	return 0;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mcp_http *h = arg;
	int64_t now = mono_ms(), idle = h->d->cfg.mcp_session_timeout_ms;
	for (struct session *s = h->sessions, *next; s; s = next) {
		next = s->next;
		if (session_busy(s))
			s->last_used = now;
		else if (now - s->last_used > idle)
			session_end(s, "idle too long");
	}
}

/* ---- request checks ---- */

/* The host part of a Host value or an origin's authority ("h:p",
 * "[v6]:p"), into out. -1 if malformed. */
static int authority_host(const char *a, char *out, size_t outlen)
{
	size_t n;
	if (a[0] == '[') {
		const char *end = strchr(a, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -1;
		n = (size_t)(end - a) + 1;
	} else {
		n = strcspn(a, ":");
	}
	if (!n || n >= outlen)
		return -1;
	memcpy(out, a, n);
	out[n] = '\0';
	return 0;
}

static int is_loopback(const char *host)
{
	return strcasecmp(host, "localhost") == 0 ||
	       strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0;
}

static int listed(const json_t *list, const char *value, const char *host)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);
		if (strcmp(s, "*") == 0 || strcasecmp(s, value) == 0 ||
		    (host && strcasecmp(s, host) == 0))
			return 1;
	}
	return 0;
}

/* DNS rebinding defence: Host must name this server. */
static int host_allowed(struct mcp_http *h, const char *value)
{
	char host[256];
	const char *listen = h->d->cfg.listen_host;
	if (!value || authority_host(value, host, sizeof host) < 0)
		return 0;
	if (is_loopback(host) || listed(h->d->cfg.mcp_allowed_hosts, value,
	                                host))
		return 1;
	/* The address it listens on, when that is one address. */
	char bracketed[260];
	snprintf(bracketed, sizeof bracketed, "[%s]", listen);
	return strcmp(listen, "0.0.0.0") != 0 && strcmp(listen, "::") != 0 &&
	       (strcasecmp(host, listen) == 0 ||
	        strcasecmp(host, bracketed) == 0);
}

/* A browser page may call only from an origin on this machine or one the
 * config names. No Origin: not a browser. */
static int origin_allowed(struct mcp_http *h, const char *origin)
{
	char host[256];
	if (!origin)
		return 1;
	if (listed(h->d->cfg.mcp_allowed_origins, origin, NULL))
		return 1;
	const char *rest = NULL;
	if (strncasecmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	return rest && authority_host(rest, host, sizeof host) == 0 &&
	       is_loopback(host);
}

/* Does the Accept header admit `type` ("text/event-stream")? No header
 * admits everything. */
static int accepts(const char *accept, const char *type)
{
	if (!accept)
		return 1;
	const char *slash = strchr(type, '/');
	size_t major = (size_t)(slash - type);
	for (const char *p = accept; *p;) {
		p += strspn(p, " \t,");
		size_t n = strcspn(p, ",;");
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if ((n == 3 && strncmp(p, "*/*", 3) == 0) ||
		    (n == strlen(type) && strncasecmp(p, type, n) == 0) ||
		    (n == major + 2 && strncasecmp(p, type, major + 1) == 0 &&
		     p[major + 1] == '*'))
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}

static int is_json_type(const char *ct)
{
	if (!ct)
		return 0;
	size_t n = strcspn(ct, "; \t");
	return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* Base64 (standard alphabet, padding optional) into out; -1 if bad. */
static int base64_decode(const char *in, size_t n, char *out, size_t outlen)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "abcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t w = 0;
	while (n && in[n - 1] == '=')
		n--;
	for (size_t i = 0; i < n; i++) {
		const char *p = in[i] ? strchr(alpha, in[i]) : NULL;
		if (!p)
			return -1;
		acc = acc << 6 | (uint32_t)(p - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (w + 1 >= outlen)
				return -1;
			out[w++] = (char)(acc >> bits & 0xff);
		}
	}
	out[w] = '\0';
	return memchr(out, '\0', w) ? -1 : 0;
}

/*
 * The 2026-07-28 standard headers against the body: 0, or -1 after
 * answering 400. Mcp-Name may carry a value in the "=?base64?...?="
 * form, for names a header cannot hold as they are.
 */
static int check_headers(struct mcp_http *h, struct http_req *req,
                         const struct jsonrpc_msg *m, const char *claim)
{
	const char *pv = http_req_header(req, "MCP-Protocol-Version");
	const char *mh = http_req_header(req, "Mcp-Method");
	const char *nh = http_req_header(req, "Mcp-Name");
	const json_t *id = m->id;
	if (pv && strcmp(pv, claim) != 0) {
		refuse(h, req, 400, id, MCP_HEADER_MISMATCH, NULL,
		       "Header mismatch: the body names protocol version %s "
		       "but MCP-Protocol-Version names %s", claim, pv);
		return -1;
	}
	if (mh && strcmp(mh, m->method) != 0) {
		refuse(h, req, 400, id, MCP_HEADER_MISMATCH, NULL,
		       "Header mismatch: the body names method %s but "
		       "Mcp-Method names %s", m->method, mh);
		return -1;
	}
	if (m->kind != JSONRPC_REQUEST)
		return 0;
	if (!pv || !mh) {
		refuse(h, req, 400, id, MCP_HEADER_MISMATCH, NULL,
		       "Header mismatch: the %s header is required on a "
		       "2026-07-28 request", !pv ? "MCP-Protocol-Version"
		                                 : "Mcp-Method");
		return -1;
	}
	const char *field = strcmp(m->method, "tools/call") == 0 ||
	                    strcmp(m->method, "prompts/get") == 0 ? "name"
	                    : strcmp(m->method, "resources/read") == 0 ? "uri"
	                    : NULL;
	const char *want = field ? json_string_value(json_object_get(
		m->params, field)) : NULL;
	if (!want)
		return 0;
	if (!nh) {
		refuse(h, req, 400, id, MCP_HEADER_MISMATCH, NULL,
		       "Header mismatch: the body names params.%s \"%s\" but "
		       "the Mcp-Name header is absent", field, want);
		return -1;
	}
	char decoded[1024];
	size_t nl = strlen(nh);
	const char *name = nh;
	if (nl >= 11 && strncmp(nh, "=?base64?", 9) == 0 &&
	    strcmp(nh + nl - 2, "?=") == 0) {
		if (base64_decode(nh + 9, nl - 11, decoded, sizeof decoded) < 0) {
			refuse(h, req, 400, id, MCP_HEADER_MISMATCH, NULL,
			       "Header mismatch: Mcp-Name holds invalid "
			       "base64");
			return -1;
		}
		name = decoded;
	}
	if (strcmp(name, want) != 0) {
		refuse(h, req, 400, id, MCP_HEADER_MISMATCH, NULL,
		       "Header mismatch: the body names params.%s \"%s\" but "
		       "Mcp-Name names \"%s\"", field, want, name);
		return -1;
	}
	return 0;
}

/* The body's protocol-version claim (params._meta), or NULL. */
static json_t *claim_of(const json_t *msg)
{
	json_t *meta = json_object_get(json_object_get(msg, "params"), "_meta");
	return json_object_get(meta, PV_META);
}

/* ---- serving ---- */

static void serve_modern(struct mcp_http *h, struct http_req *req,
                         json_t *msg, const struct jsonrpc_msg *m,
                         const char *claim, int sse_ok)
{
	if (check_headers(h, req, m, claim) < 0)
		return;
	json_t *meta = json_object_get(m->params, "_meta");
	if (m->kind == JSONRPC_REQUEST &&
	    !json_is_object(json_object_get(meta, CAPS_META))) {
		refuse(h, req, 400, m->id, JSONRPC_INVALID_PARAMS, NULL,
		       "Invalid params: _meta[\"" CAPS_META "\"] (an object) "
		       "is required in protocol revision %s", claim);
		return;
	}
	struct exchange *x = NULL;
	struct mcp_conn *c = NULL;
	if (m->kind == JSONRPC_REQUEST) {
		x = exchange_new(h, req, msg, sse_ok);
		c = x ? mcp_conn_new(h->srv, exchange_send, x) : NULL;
		if (x) {
			x->modern = 1;
			x->conn = c;
		}
	} else {
		c = mcp_conn_new(h->srv, exchange_send, NULL);
	}
	if (!c) {
		if (x)
			exchange_done(x);
		refuse(h, req, 500, m->id, JSONRPC_INTERNAL_ERROR, NULL,
		       "out of memory");
		return;
	}
	mcp_conn_receive_json(c, msg);
	if (!x) {
		/* Notifications have no one to answer; a stateless cancel
		 * finds nothing (closing the request's stream cancels). */
		mcp_conn_free(c);
		count(h, 202);
		http_req_reply(req, 202, NULL, NULL, 0);
	}
}

/* A handshake-era POST: initialize opens a session, everything else
 * names one. */
static void serve_legacy(struct mcp_http *h, struct http_req *req,
                         json_t *msg, const struct jsonrpc_msg *m,
                         int sse_ok)
{
	const char *sid = http_req_header(req, "Mcp-Session-Id");
	const json_t *id = m ? m->id : NULL;
	int init = m && m->kind == JSONRPC_REQUEST &&
	           strcmp(m->method, "initialize") == 0;
	struct session *s = NULL;
	if (init) {
		if (h->nsessions >= h->d->cfg.mcp_max_sessions) {
			refuse(h, req, 503, id, MCP_TRANSPORT_ERROR, NULL,
			       "too many MCP sessions (%d); end one with "
			       "DELETE /mcp", h->nsessions);
			return;
		}
		if (!(s = session_new(h))) {
			refuse(h, req, 500, id, JSONRPC_INTERNAL_ERROR, NULL,
			       "out of memory");
			return;
		}
	} else if (!sid) {
		refuse(h, req, 400, id, MCP_TRANSPORT_ERROR, NULL,
		       "Bad Request: the Mcp-Session-Id header is required "
		       "(send initialize first, or name protocol version "
		       "2026-07-28 in params._meta)");
		return;
	} else if (!(s = session_find(h, sid))) {
		refuse(h, req, 404, id, MCP_SESSION_NOT_FOUND, NULL,
		       "Session not found: %s", sid);
		return;
	}
	s->last_used = mono_ms();
	int has_request = m ? m->kind == JSONRPC_REQUEST : 0;
	if (json_is_array(msg)) {
		size_t i;
		json_t *e;
		json_array_foreach(msg, i, e)
			has_request |= json_object_get(e, "method") &&
			               json_object_get(e, "id");
	}
	if (!has_request) {
		mcp_conn_receive_json(s->conn, msg);
		count(h, 202);
		http_req_reply(req, 202, NULL, NULL, 0);
		return;
	}
	struct exchange *x = exchange_new(h, req, msg, sse_ok);
	if (!x) {
		if (init)
			session_end(s, "out of memory");
		refuse(h, req, 500, id, JSONRPC_INTERNAL_ERROR, NULL,
		       "out of memory");
		return;
	}
	x->s = s;
	x->init = init;
	mcp_conn_receive_json(s->conn, msg);
	/* initialize is answered at once; refused, it leaves no session. */
	if (init && mcp_conn_era(s->conn) != MCP_ERA_LEGACY)
		session_end(s, "initialize was refused");
}

/* The version a handshake-era request names in its header must be one
 * mcpd speaks; a modern one needs the body's envelope. 0 or -1 (answered). */
static int check_legacy_version(struct mcp_http *h, struct http_req *req,
                                const json_t *id, int init)
{
	const char *pv = http_req_header(req, "MCP-Protocol-Version");
	if (!pv)
		return 0;
	enum mcp_era era = mcp_version_era(pv);
	if (era == MCP_ERA_MODERN && init) {
		refuse(h, req, 400, id, MCP_HEADER_MISMATCH, NULL,
		       "Header mismatch: initialize (the handshake of "
		       "2025-11-25 and earlier) sent with MCP-Protocol-"
		       "Version %s", pv);
		return -1;
	}
	if (era == MCP_ERA_MODERN) {
		refuse(h, req, 400, id, JSONRPC_INVALID_PARAMS, NULL,
		       "Invalid params: MCP-Protocol-Version names %s but the "
		       "body lacks params._meta[\"" PV_META "\"]", pv);
		return -1;
	}
	if (era == MCP_ERA_UNKNOWN) {
		refuse(h, req, 400, id, MCP_UNSUPPORTED_VERSION, json_pack(
		       "{s:o, s:s}", "supported", mcp_supported_versions(),
		       "requested", pv), "Unsupported protocol version: %s", pv);
		return -1;
	}
	return 0;
}

static void do_post(struct mcp_http *h, struct http_req *req)
{
	const char *accept = http_req_header(req, "Accept");
	if (!is_json_type(http_req_header(req, "Content-Type"))) {
		refuse(h, req, 415, NULL, MCP_TRANSPORT_ERROR, NULL,
		       "Unsupported Media Type: Content-Type must be "
		       "application/json");
		return;
	}
	if (!accepts(accept, "application/json")) {
		refuse(h, req, 406, NULL, MCP_TRANSPORT_ERROR, NULL,
		       "Not Acceptable: the client must accept "
		       "application/json (and text/event-stream for "
		       "streamed answers)");
		return;
	}
	int sse_ok = accepts(accept, "text/event-stream");
	size_t len;
	const char *body = http_req_body(req, &len);
	struct jsonrpc_error err;
	json_t *msg = jsonrpc_parse(body, len, h->d->cfg.max_json_depth, &err);
	if (!msg) {
		reply_json(h, req, 400, jsonrpc_error_from(&err));
		return;
	}
	struct jsonrpc_msg m;
	if (json_is_array(msg)) {
		size_t i;
		json_t *e;
		int modern = 0;
		json_array_foreach(msg, i, e)
			modern |= claim_of(e) != NULL;
		if (!json_array_size(msg) || modern)
			refuse(h, req, 400, NULL, JSONRPC_INVALID_REQUEST, NULL,
			       "Invalid Request: %s", modern
			       ? "a batch may not carry 2026-07-28 requests"
			       : "an empty batch");
		else if (check_legacy_version(h, req, NULL, 0) == 0)
			serve_legacy(h, req, msg, NULL, sse_ok);
		json_decref(msg);
		return;
	}
	if (jsonrpc_check(msg, &m, &err) < 0) {
		reply_json(h, req, 400, jsonrpc_error_from(&err));
		json_decref(msg);
		return;
	}
	json_t *claim = m.kind == JSONRPC_RESPONSE ? NULL : claim_of(msg);
	const char *pv = http_req_header(req, "MCP-Protocol-Version");
	int init = m.kind == JSONRPC_REQUEST &&
	           strcmp(m.method, "initialize") == 0;
	enum mcp_era era = mcp_version_era(json_string_value(claim));
	if (claim && !json_is_string(claim)) {
		refuse(h, req, 400, m.id, JSONRPC_INVALID_PARAMS, NULL,
		       "Invalid params: _meta[\"" PV_META "\"] must be a "
		       "string");
	} else if (claim && era == MCP_ERA_UNKNOWN) {
		refuse(h, req, 400, m.id, MCP_UNSUPPORTED_VERSION, json_pack(
		       "{s:o, s:O}", "supported", mcp_supported_versions(),
		       "requested", claim), "Unsupported protocol version: %s",
		       json_string_value(claim));
	} else if (claim && era == MCP_ERA_MODERN && !init) {
		serve_modern(h, req, msg, &m, json_string_value(claim), sse_ok);
	} else if (!claim && m.kind == JSONRPC_NOTIFICATION && pv &&
	           mcp_version_era(pv) == MCP_ERA_MODERN) {
		/* 2026-07-28 notifications need no envelope. */
		serve_modern(h, req, msg, &m, pv, sse_ok);
	} else if (check_legacy_version(h, req, m.id, init) == 0) {
		serve_legacy(h, req, msg, &m, sse_ok);
	}
	json_decref(msg);
}

/* GET opens a session's stream; DELETE ends the session. Neither exists
 * in 2026-07-28. 0 with *out, or -1 (answered). */
static int session_of(struct mcp_http *h, struct http_req *req,
                      struct session **out)
{
	const char *pv = http_req_header(req, "MCP-Protocol-Version");
	const char *sid = http_req_header(req, "Mcp-Session-Id");
	if (pv && mcp_version_era(pv) == MCP_ERA_MODERN) {
		refuse(h, req, 405, NULL, MCP_TRANSPORT_ERROR, NULL,
		       "Method not allowed: protocol revision %s has no "
		       "sessions; every message is a POST", pv);
		return -1;
	}
	if (pv && mcp_version_era(pv) == MCP_ERA_UNKNOWN) {
		refuse(h, req, 400, NULL, MCP_UNSUPPORTED_VERSION, json_pack(
		       "{s:o, s:s}", "supported", mcp_supported_versions(),
		       "requested", pv), "Unsupported protocol version: %s", pv);
		return -1;
	}
	if (!sid) {
		refuse(h, req, 400, NULL, MCP_TRANSPORT_ERROR, NULL,
		       "Bad Request: the Mcp-Session-Id header is required");
		return -1;
	}
	if (!(*out = session_find(h, sid))) {
		refuse(h, req, 404, NULL, MCP_SESSION_NOT_FOUND, NULL,
		       "Session not found: %s", sid);
		return -1;
	}
	(*out)->last_used = mono_ms();
	return 0;
}

static void do_get(struct mcp_http *h, struct http_req *req)
{
	struct session *s;
	if (!accepts(http_req_header(req, "Accept"), "text/event-stream")) {
		refuse(h, req, 406, NULL, MCP_TRANSPORT_ERROR, NULL,
		       "Not Acceptable: the client must accept "
		       "text/event-stream");
		return;
	}
	if (session_of(h, req, &s) < 0)
		return;
	if (s->stream) {
		refuse(h, req, 409, NULL, MCP_TRANSPORT_ERROR, NULL,
		       "Conflict: this session's stream is already open");
		return;
	}
	s->stream = req;
	http_req_on_close(req, stream_closed, s);
	count(h, 200);
	http_req_add_header(req, "Mcp-Session-Id", s->id);
	http_req_stream_start(req, 200, "text/event-stream");
	/* A comment, so the client sees the stream open at once. */
	http_req_stream_write(req, ": stream open\n\n", 15);
}

static void do_delete(struct mcp_http *h, struct http_req *req)
{
	struct session *s;
	if (session_of(h, req, &s) < 0)
		return;
	session_end(s, "the client ended it (DELETE)");
	count(h, 200);
	http_req_reply(req, 200, NULL, NULL, 0);
}

void mcp_http_handle(struct mcp_http *h, struct http_req *req)
{
	const char *method = http_req_method(req);
	const char *host = http_req_header(req, "Host");
	const char *origin = http_req_header(req, "Origin");
	if (!h) {
		http_req_reply_error(req, 503, "unavailable", NULL,
		                     "MCP is not available");
		return;
	}
	if (!host_allowed(h, host)) {
		refuse(h, req, 403, NULL, MCP_TRANSPORT_ERROR, NULL,
		       "Forbidden: Host \"%s\" is not allowed (mcp."
		       "allowed_hosts)", host ? host : "");
		return;
	}
	if (!origin_allowed(h, origin)) {
		refuse(h, req, 403, NULL, MCP_TRANSPORT_ERROR, NULL,
		       "Forbidden: Origin \"%s\" is not allowed (mcp."
		       "allowed_origins)", origin);
		return;
	}
	if (strcmp(method, "POST") == 0)
		do_post(h, req);
	else if (strcmp(method, "GET") == 0)
		do_get(h, req);
	else if (strcmp(method, "DELETE") == 0)
		do_delete(h, req);
	else
		refuse(h, req, 405, NULL, MCP_TRANSPORT_ERROR, NULL,
		       "Method not allowed: %s (use POST, GET or DELETE)",
		       method);
}

/* ---- life cycle ---- */

struct mcp_http *mcp_http_new(struct mcpd *d, struct mcp_server *srv)
{
	struct mcp_http *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->d = d;
	h->srv = srv;
	h->reap_ev = event_new(d->base, -1, 0, on_reap, h);
	h->sweep_ev = event_new(d->base, -1, EV_PERSIST, on_sweep, h);
	struct timeval tv = {SWEEP_MS / 1000, (SWEEP_MS % 1000) * 1000};
	if (!h->reap_ev || !h->sweep_ev || event_add(h->sweep_ev, &tv) < 0) {
		mcp_http_free(h);
		return NULL;
	}
	return h;
}

void mcp_http_free(struct mcp_http *h)
{
	if (!h)
		return;
	while (h->sessions)
		session_end(h->sessions, "the server stopped");
	while (h->live) {
		struct exchange *x = h->live;
		if (x->req)
			http_req_on_close(x->req, NULL, NULL);
		x->req = NULL;
		exchange_done(x);
	}
	on_reap(-1, 0, h);
	if (h->reap_ev)
		event_free(h->reap_ev);
	if (h->sweep_ev)
		event_free(h->sweep_ev);
	free(h);
}
