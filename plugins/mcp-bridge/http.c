/*
 * Streamable HTTP servers (http:// only): every message is one POST on its
 * own connection, read without blocking on the loop. A response is JSON
 * (one message or a batch) or an SSE stream of messages (progress, then
 * the answer). Legacy sessions carry Mcp-Session-Id and get a GET stream
 * for server notifications; modern requests carry MCP-Protocol-Version,
 * Mcp-Method and Mcp-Name, and list changes come on the
 * subscriptions/listen POST's stream.
 *
 * The host name is resolved when the server is started (numeric addresses
 * without any lookup); TLS is not spoken.
 */

#include "bridge.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY (64u << 20)

enum hstate { H_CONNECTING, H_SENDING, H_HEADERS, H_BODY };

struct http_conn {
	struct server *s;
	int fd;
	struct mcpd_io *io;
	enum hstate st;
	struct buf out;
	size_t out_off;
	struct buf in;   /* raw bytes not yet parsed */
	struct buf body; /* decoded body (JSON) or pending SSE text */
	int status;
	int chunked, sse, has_len;
	size_t clen, chunk_left;
	int chunk_trailer; /* reading the CRLF after a chunk */
	json_t *id;        /* the request's id, or NULL */
	int answered;      /* a response to id arrived */
	int stream;        /* the listen stream: no deadline */
	int busy;          /* inside its callback: freed there if dead */
	int dead;          /* closed under its own callback */
	int64_t started;
	struct http_conn *next;
};

struct target {
	char host[256], port[8], path[2048];
};

static int parse_url(const char *url, struct target *t)
{
	const char *p = url + 7; /* after http:// (checked by the config) */
	const char *slash = strchr(p, '/');
	size_t hostlen = slash ? (size_t)(slash - p) : strlen(p);
	char hostport[256];
	if (!hostlen || hostlen >= sizeof hostport)
		return -1;
	memcpy(hostport, p, hostlen);
	hostport[hostlen] = '\0';
	snprintf(t->path, sizeof t->path, "%s", slash ? slash : "/");
	snprintf(t->port, sizeof t->port, "80");
	char *h = hostport, *colon;
	if (h[0] == '[') {
		char *end = strchr(h, ']');
		if (!end)
			return -1;
		*end = '\0';
		snprintf(t->host, sizeof t->host, "%s", h + 1);
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(h, ':');
		if (colon)
			*colon = '\0';
		snprintf(t->host, sizeof t->host, "%s", h);
	}
	if (colon && colon[1])
		snprintf(t->port, sizeof t->port, "%s", colon + 1);
	return 0;
}

/* The resolved address, kept in the server between starts. */
struct http_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	struct target t;
};

static struct http_addr *addr_of(struct server *s)
{
	if (!s->addr)
		s->addr = calloc(1, sizeof *s->addr);
	return s->addr;
}

int http_start(struct server *s)
{
	struct http_addr *a = addr_of(s);
	if (!a || parse_url(s->url, &a->t) < 0) {
		snprintf(s->exit_why, sizeof s->exit_why, "bad URL %s", s->url);
		return -1;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(a->t.host, a->t.port, &hints, &res);
	if (rc == EAI_NONAME) {
		hints.ai_flags = AI_NUMERICSERV;
		rc = getaddrinfo(a->t.host, a->t.port, &hints, &res);
	}
	if (rc != 0 || !res) {
		snprintf(s->exit_why, sizeof s->exit_why, "cannot resolve %.60s: %.40s",
		         a->t.host, gai_strerror(rc));
		return -1;
	}
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	s->started_ms = mono_ms();
	LOG(MCPD_LOG_INFO, "server %s: connecting to %s", s->name, s->url);
	return 0;
}

static void conn_unlink(struct http_conn *c)
{
	struct server *s = c->s;
	for (struct http_conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (s->listen == c)
		s->listen = NULL;
}

static void conn_free(struct http_conn *c, int from_fini)
{
	if (c->io && !from_fini)
		g.host->io_stop(c->io);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->out);
	buf_free(&c->in);
	buf_free(&c->body);
	json_decref(c->id);
	free(c);
}

/* The answer did not come: the request's caller gets an error. */
static void synth_error(struct http_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void synth_error(struct http_conn *c, int code, const char *fmt, ...)
{
	if (!c->id || c->answered)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->answered = 1;
	json_t *err = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0",
	                        "id", c->id, "error", "code", code,
	                        "message", msg);
	client_receive(c->s, err);
	json_decref(err);
}

static void deliver(struct http_conn *c, json_t *msg)
{
	if (json_is_array(msg)) {
		size_t i;
		json_t *m;
		json_array_foreach(msg, i, m)
			deliver(c, m);
		return;
	}
	if (!json_is_object(msg))
		return;
	json_t *id = json_object_get(msg, "id");
	if (c->id && id && !json_object_get(msg, "method") &&
	    json_equal(id, c->id))
		c->answered = 1;
	client_receive(c->s, msg);
}

/* One finished connection: whatever it owed, then gone. */
/* Closed now; freed now, or by its callback when inside it. */
static void conn_release(struct http_conn *c)
{
	if (!c->busy) {
		conn_free(c, 0);
		return;
	}
	if (c->io)
		g.host->io_stop(c->io);
	c->io = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->dead = 1;
}

static void conn_end(struct http_conn *c, const char *why)
{
	struct server *s = c->s;
	if (c->dead)
		return;
	conn_unlink(c);
	if (c->status >= 200 && c->status < 300 && !c->sse && c->body.len) {
		json_t *j = json_loadb(c->body.data, c->body.len, 0, NULL);
		if (j)
			deliver(c, j);
		json_decref(j);
	}
	if (c->status == 404 && s->session_id && c->id && !c->answered) {
		/* The server forgot our session: start over. */
		synth_error(c, TRANSPORT_ERROR, "HTTP 404: the MCP session "
		            "expired");
		conn_release(c);
		http_close_all(s, 0);
		bridge_server_down(s, "server_unavailable",
		                   "ended the MCP session (HTTP 404)");
		return;
	}
	if (c->status >= 400 && c->id && !c->answered) {
		/* A JSON-RPC error in the body, if any, says more. */
		json_t *j = json_loadb(c->body.data ? c->body.data : "",
		                       c->body.len, 0, NULL);
		if (json_is_object(j) && json_object_get(j, "error"))
			deliver(c, j);
		json_decref(j);
		/* An answer of the server's (e.g. a legacy server's 400 to a
		 * 2026-07-28 request), not a transport failure. */
		synth_error(c, -32603, "HTTP %d from %s", c->status, s->url);
	}
	synth_error(c, TRANSPORT_ERROR, "%s", why);
	conn_release(c);
}

/* ---- response parsing ---- */

static const char *header_value(const char *hdrs, const char *name,
                                char *out, size_t outlen)
{
	size_t n = strlen(name);
	for (const char *line = hdrs; line && *line;) {
		const char *eol = strstr(line, "\r\n");
		if (!eol)
			break;
		if ((size_t)(eol - line) > n && strncasecmp(line, name, n) == 0 &&
		    line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t len = (size_t)(eol - v);
			if (len >= outlen)
				len = outlen - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return out;
		}
		line = eol + 2;
	}
	return NULL;
}

static int parse_headers(struct http_conn *c)
{
	char *end = strstr(c->in.data, "\r\n\r\n");
	if (!end)
		return c->in.len > 65536 ? -1 : 0;
	*end = '\0';
	int major, minor;
	if (sscanf(c->in.data, "HTTP/%d.%d %d", &major, &minor,
	           &c->status) != 3)
		return -1;
	char v[1024];
	const char *hdrs = strstr(c->in.data, "\r\n");
	char *copy = NULL;
	if (hdrs) {
		size_t n = strlen(hdrs + 2);
		copy = malloc(n + 3);
		memcpy(copy, hdrs + 2, n);
		memcpy(copy + n, "\r\n", 3);
	}
	if (copy && header_value(copy, "Content-Type", v, sizeof v))
		c->sse = strncasecmp(v, "text/event-stream", 17) == 0;
	if (copy && header_value(copy, "Transfer-Encoding", v, sizeof v))
		c->chunked = strcasestr(v, "chunked") != NULL;
	if (copy && header_value(copy, "Content-Length", v, sizeof v)) {
		c->has_len = 1;
		c->clen = strtoull(v, NULL, 10);
	}
	if (copy && header_value(copy, "Mcp-Session-Id", v, sizeof v) &&
	    c->s->era == ERA_LEGACY && !c->s->session_id)
		c->s->session_id = strdup(v);
	free(copy);
	buf_drop(&c->in, (size_t)(end - c->in.data) + 4);
	c->st = H_BODY;
	return 1;
}

/* SSE: events are separated by a blank line; data lines join with \n. */
static void sse_feed(struct http_conn *c)
{
	for (;;) {
		char *sep = strstr(c->body.data ? c->body.data : "", "\n\n");
		char *crsep = strstr(c->body.data ? c->body.data : "",
		                     "\r\n\r\n");
		if (crsep && (!sep || crsep < sep))
			sep = crsep;
		if (!sep)
			return;
		size_t evlen = (size_t)(sep - c->body.data);
		size_t skip = evlen + (sep[0] == '\r' ? 4 : 2);
		struct buf data = {0};
		char *ev = strndup(c->body.data, evlen);
		char *save = NULL;
		for (char *line = strtok_r(ev, "\r\n", &save); line;
		     line = strtok_r(NULL, "\r\n", &save)) {
			if (strncmp(line, "data:", 5) != 0)
				continue;
			const char *d = line + 5;
			if (*d == ' ')
				d++;
			if (data.len)
				buf_add(&data, "\n", 1);
			buf_add(&data, d, strlen(d));
		}
		free(ev);
		buf_drop(&c->body, skip);
		if (data.len) {
			json_t *j = json_loadb(data.data, data.len, 0, NULL);
			if (j)
				deliver(c, j);
			json_decref(j);
		}
		buf_free(&data);
		if (c->dead)
			return;
	}
}

static int add_body(struct http_conn *c, const char *p, size_t n)
{
	if (c->body.len + n > MAX_BODY || buf_add(&c->body, p, n) < 0)
		return -1;
	if (c->sse)
		sse_feed(c);
	return 0;
}

/* Decode what is in c->in into the body. 1 when the body is complete. */
static int parse_body(struct http_conn *c)
{
	if (!c->chunked) {
		size_t n = c->in.len;
		if (c->has_len && n > c->clen - c->body.len)
			n = c->clen - c->body.len;
		if (n && add_body(c, c->in.data, n) < 0)
			return -1;
		if (c->dead)
			return 0;
		buf_drop(&c->in, c->in.len);
		return c->has_len && c->body.len >= c->clen;
	}
	for (;;) {
		if (c->chunk_trailer) {
			if (c->in.len < 2)
				return 0;
			buf_drop(&c->in, 2);
			c->chunk_trailer = 0;
		}
		if (c->chunk_left == 0) {
			char *eol = c->in.data ? strstr(c->in.data, "\r\n") : NULL;
			if (!eol)
				return 0;
			c->chunk_left = strtoul(c->in.data, NULL, 16);
			buf_drop(&c->in, (size_t)(eol - c->in.data) + 2);
			if (c->chunk_left == 0)
				return 1; /* the last chunk (trailers ignored) */
		}
		size_t n = c->in.len < c->chunk_left ? c->in.len : c->chunk_left;
		if (!n)
			return 0;
		if (add_body(c, c->in.data, n) < 0)
			return -1;
		if (c->dead)
			return 0;
		buf_drop(&c->in, n);
		c->chunk_left -= n;
		if (c->chunk_left == 0)
			c->chunk_trailer = 1;
	}
}

static void on_conn(int fd, unsigned events, void *arg);

static void conn_read(struct http_conn *c)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = read(c->fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* Closed: without a length, that ends the body. */
			if (c->st == H_BODY)
				parse_body(c);
			if (c->dead)
				return;
			conn_end(c, n < 0 ? strerror(errno)
			                  : "the connection closed before the "
			                    "answer");
			return;
		}
		if (buf_add(&c->in, chunk, (size_t)n) < 0) {
			conn_end(c, "out of memory");
			return;
		}
		int rc = 1;
		if (c->st == H_HEADERS)
			rc = parse_headers(c);
		if (rc < 0) {
			conn_end(c, "a malformed HTTP response");
			return;
		}
		if (c->st == H_BODY) {
			rc = parse_body(c);
			if (c->dead)
				return;
			if (rc != 0) {
				conn_end(c, rc < 0 ? "a malformed or oversized "
				                     "HTTP body"
				                   : "the response had no answer");
				return;
			}
		}
	}
}

static void conn_event(struct http_conn *c, unsigned events);

/* Messages delivered from inside the callback may end this connection
 * or all of the server's: it is then only marked dead, and freed here. */
static void on_conn(int fd, unsigned events, void *arg)
{
	(void)fd;
	struct http_conn *c = arg;
	c->busy = 1;
	conn_event(c, events);
	c->busy = 0;
	if (c->dead)
		conn_free(c, 0);
}

static void conn_event(struct http_conn *c, unsigned events)
{
	if (c->st == H_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			conn_end(c, strerror(err));
			return;
		}
		c->st = H_SENDING;
	}
	if (c->st == H_SENDING && (events & MCPD_IO_WRITE)) {
		while (c->out_off < c->out.len) {
			ssize_t n = write(c->fd, c->out.data + c->out_off,
			                  c->out.len - c->out_off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return;
			if (n <= 0) {
				conn_end(c, strerror(errno));
				return;
			}
			c->out_off += (size_t)n;
		}
		c->st = H_HEADERS;
		g.host->io_stop(c->io);
		c->io = g.host->io_start(g.self, c->fd, MCPD_IO_READ, on_conn, c);
		return;
	}
	if ((c->st == H_HEADERS || c->st == H_BODY) && (events & MCPD_IO_READ))
		conn_read(c);
}

static void add_header(struct buf *b, const char *name, const char *value)
{
	buf_add(b, name, strlen(name));
	buf_add(b, ": ", 2);
	buf_add(b, value, strlen(value));
	buf_add(b, "\r\n", 2);
}

/* Open a connection for one request (body NULL: the legacy GET stream). */
static struct http_conn *conn_open(struct server *s, const json_t *msg)
{
	struct http_addr *a = addr_of(s);
	struct http_conn *c = calloc(1, sizeof *c);
	if (!a || !c) {
		free(c);
		return NULL;
	}
	c->s = s;
	c->started = mono_ms();
	c->fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	                                    SOCK_CLOEXEC, 0);
	if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&a->sa, a->len) < 0 &&
	                  errno != EINPROGRESS)) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return NULL;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	const char *method = json_string_value(json_object_get(msg, "method"));
	struct buf *b = &c->out;
	char line[2300];
	snprintf(line, sizeof line, "%s %s HTTP/1.1\r\n", msg ? "POST" : "GET",
	         a->t.path);
	buf_add(b, line, strlen(line));
	snprintf(line, sizeof line, "%s:%s", a->t.host, a->t.port);
	add_header(b, "Host", line);
	add_header(b, "Accept", msg ? "application/json, text/event-stream"
	                            : "text/event-stream");
	add_header(b, "Connection", "close");
	add_header(b, "User-Agent", "mcpd-mcp-bridge/1.0");
	if (s->version[0])
		add_header(b, "MCP-Protocol-Version", s->version);
	else if (method && strcmp(method, "server/discover") == 0)
		add_header(b, "MCP-Protocol-Version", "2026-07-28");
	if (s->era != ERA_LEGACY && method) {
		add_header(b, "Mcp-Method", method);
		const char *name = json_string_value(json_object_get(
			json_object_get(msg, "params"), "name"));
		if (name && strcmp(method, "tools/call") == 0)
			add_header(b, "Mcp-Name", name);
	}
	if (s->session_id)
		add_header(b, "Mcp-Session-Id", s->session_id);
	const char *k;
	json_t *v;
	json_object_foreach(s->headers, k, v)
		add_header(b, k, json_string_value(v));
	if (body) {
		add_header(b, "Content-Type", "application/json");
		snprintf(line, sizeof line, "%zu", strlen(body));
		add_header(b, "Content-Length", line);
	}
	buf_add(b, "\r\n", 2);
	if (body)
		buf_add(b, body, strlen(body));
	free(body);
	json_t *id = json_object_get(msg, "id");
	if (id && method)
		c->id = json_incref(id);
	c->st = H_CONNECTING;
	c->io = g.host->io_start(g.self, c->fd, MCPD_IO_WRITE, on_conn, c);
	c->next = s->conns;
	s->conns = c;
	return c;
}

int http_send(struct server *s, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	struct http_conn *c = conn_open(s, msg);
	if (c && method && strcmp(method, "subscriptions/listen") == 0) {
		c->stream = 1;
		s->listen = c;
	}
	/* The legacy GET stream, once the session is initialized. */
	if (c && method && strcmp(method, "notifications/initialized") == 0 &&
	    !s->listen && (s->listen = conn_open(s, NULL)))
		s->listen->stream = 1;
	json_decref(msg);
	return c ? 0 : -1;
}

void http_tick(struct server *s, int64_t now)
{
	if (!g.call_timeout_ms)
		return;
	for (struct http_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (!c->stream && !(c->id && c->answered) &&
		    now - c->started > (int64_t)g.call_timeout_ms)
			conn_end(c, "no answer within request_timeout_ms");
	}
}

void http_cancel(struct server *s, int64_t id)
{
	for (struct http_conn *c = s->conns; c; c = c->next) {
		if (json_is_integer(c->id) && json_integer_value(c->id) == id) {
			c->answered = 1; /* nothing to make up */
			conn_unlink(c);
			conn_release(c);
			return;
		}
	}
}

void http_close_all(struct server *s, int from_fini)
{
	while (s->conns) {
		struct http_conn *c = s->conns;
		s->conns = c->next;
		if (from_fini)
			conn_free(c, 1);
		else
			conn_release(c);
	}
	s->listen = NULL;
	if (from_fini) {
		free(s->addr);
		s->addr = NULL;
	}
}
