/*
 * HTTP/1.1 server on libevent bufferevents, owned by the loop thread.
 *
 * A connection carries one request at a time. The next pipelined request is
 * parsed only once the previous reply has been written out, which keeps the
 * replies in order and stops a client from queueing unbounded work behind a
 * slow reader. Bytes that arrive meanwhile wait in the input buffer, whose
 * high watermark pauses reading when it fills.
 *
 * Lifetime of a request: created when its request line starts, handed to the
 * handler once complete, "finished" by the reply (its contents are released
 * then), and its small shell freed when the next request starts or the
 * connection goes. If the connection goes first, the on_close callback runs
 * and the request is freed; without a callback the request is orphaned and
 * freed by the handler's eventual reply, which is discarded.
 */
#include "http-internal.h"
#include "log-internal.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define MAX_HEADERS 100
#define MAX_CHUNK_LINE 1024
#define LINGER_MS 2000
#define ACCEPT_RETRY_MS 100
#define READ_SLACK 65536

#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_MAX_HEADER (16 * 1024)
#define DEFAULT_IDLE_MS 60000
#define DEFAULT_MAX_CONNS 1024

enum conn_state {
	ST_IDLE,       /* between requests */
	ST_REQLINE,
	ST_HEADERS,
	ST_BODY,       /* Content-Length body */
	ST_CHUNK_SIZE,
	ST_CHUNK_DATA,
	ST_CHUNK_END,  /* the CRLF after a chunk's data */
	ST_TRAILERS,
	ST_DISPATCHED, /* the handler owns the request */
	ST_CLOSING,    /* the last reply is being written */
	ST_LINGER,     /* FIN sent; discarding input until the peer closes */
};

/* What one parsing step achieved. */
enum step { STEP_MORE, STEP_NEED_INPUT, STEP_WAIT };

struct pair {
	char *name;
	char *value;
};

struct http_req {
	struct http_conn *conn; /* NULL once the connection is gone */
	char *line;             /* request line, split in place */
	const char *method;
	const char *target;
	int minor;              /* HTTP/1.<minor> */
	char *path;
	char *query_buf;        /* decoded query, split in place */
	struct pair *query;
	int nquery;
	struct pair *headers;   /* name owns the whole header line */
	int nheaders;
	struct evbuffer *body;
	const char *body_data;
	size_t body_len;
	struct evbuffer *resp_headers;
	char peer[64];
	void (*on_close)(struct http_req *, void *);
	void *close_ud;
	unsigned keep_alive : 1;
	unsigned head : 1;
	unsigned streaming : 1;
	unsigned chunked_reply : 1;
	unsigned finished : 1;
	unsigned gone : 1;
};

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	struct bufferevent *bev;
	struct event *resume;   /* continues work outside the caller's stack */
	struct http_req *req;
	enum conn_state state;
	size_t head_bytes;      /* of the request line + headers so far */
	size_t remaining;       /* body or chunk bytes still expected */
	size_t body_total;
	int peer_eof;           /* the client sent FIN: no more requests */
	char peer[64];
};

struct http_server {
	struct event_base *base;
	struct http_limits lim;
	struct timeval idle_tv;
	http_handler_fn handler;
	void *ud;
	http_refusal_fn refusal;
	void *refusal_ud;
	struct evconnlistener **listeners;
	int nlisteners;
	struct event *accept_retry;
	struct http_conn *conns;
	int nconns;
	int pending;
	int stopped;
	time_t last_refusal_log;
};

static void conn_process(struct http_conn *c);
static void conn_free(struct http_conn *c);

/* ---- small helpers ---- */

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

static const char *status_code_name(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 413: return "payload_too_large";
	case 431: return "headers_too_large";
	case 501: return "not_implemented";
	case 505: return "http_version_not_supported";
	default: return "internal_error";
	}
}

static int is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Percent-decode in place (and '+' to space when plus is set). -1 on a
 * malformed escape or a decoded NUL, which C strings could not carry.
 */
static int pct_decode(char *s, int plus)
{
	char *w = s;
	for (const char *p = s; *p; p++) {
		if (*p != '%') {
			*w++ = (plus && *p == '+') ? ' ' : *p;
			continue;
		}
		int hi = hexval((unsigned char)p[1]);
		int lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
		if (lo < 0 || (hi | lo) == 0)
			return -1;
		*w++ = (char)(hi * 16 + lo);
		p += 2;
	}
	*w = '\0';
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* Does any `name` header hold `token` in its comma-separated list? */
static int header_has_token(const struct http_req *r, const char *name,
                            const char *token)
{
	size_t tl = strlen(token);
	for (int i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].name, name) != 0)
			continue;
		for (const char *p = r->headers[i].value; *p;) {
			p += strspn(p, " \t,");
			size_t n = strcspn(p, ",");
			size_t m = n;
			while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
				m--;
			if (m == tl && strncasecmp(p, token, tl) == 0)
				return 1;
			p += n;
		}
	}
	return 0;
}

/*
 * The error body used everywhere in mcpd. Steals details. Invalid UTF-8 in
 * the message (a decoded path, say) would make jansson refuse the string,
 * so that case gets a fixed message rather than no body.
 */
static char *error_json(const char *code, const char *msg, json_t *details)
{
	json_t *m = json_string(msg);
	if (!m)
		m = json_string("(message is not valid UTF-8)");
	json_t *e = json_object();
	json_object_set_new(e, "code", json_string(code ? code : "error"));
	json_object_set_new(e, "message", m);
	json_object_set_new(e, "details", details ? details : json_object());
	json_t *o = json_object();
	json_object_set_new(o, "error", e);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void write_head(struct evbuffer *out, int status, const char *ctype,
                       const char *framing, struct evbuffer *extra,
                       const char *connection)
{
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status,
	                    http_status_text(status));
	if (ctype)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
	if (framing)
		evbuffer_add_printf(out, "%s\r\n", framing);
	if (connection)
		evbuffer_add_printf(out, "Connection: %s\r\n", connection);
	if (extra)
		evbuffer_add_buffer(out, extra);
	evbuffer_add(out, "\r\n", 2);
}

/* ---- requests ---- */

static struct http_req *req_new(struct http_conn *c)
{
	struct http_req *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->conn = c;
	r->body = evbuffer_new();
	r->resp_headers = evbuffer_new();
	if (!r->body || !r->resp_headers) {
		evbuffer_free(r->body);
		evbuffer_free(r->resp_headers);
		free(r);
		return NULL;
	}
	memcpy(r->peer, c->peer, sizeof r->peer);
	return r;
}

/* Drop everything but the shell, which still catches a second reply. */
static void req_release(struct http_req *r)
{
	free(r->line);
	free(r->path);
	free(r->query_buf);
	free(r->query);
	for (int i = 0; i < r->nheaders; i++)
		free(r->headers[i].name);
	free(r->headers);
	if (r->body)
		evbuffer_free(r->body);
	if (r->resp_headers)
		evbuffer_free(r->resp_headers);
	r->line = r->path = r->query_buf = NULL;
	r->method = r->target = r->body_data = NULL;
	r->query = r->headers = NULL;
	r->nquery = r->nheaders = 0;
	r->body = r->resp_headers = NULL;
	r->body_len = 0;
}

static void req_free(struct http_req *r)
{
	if (!r)
		return;
	req_release(r);
	free(r);
}

static int req_parse_query(struct http_req *r, const char *q)
{
	size_t n = 1;
	for (const char *p = q; *p; p++)
		n += *p == '&';
	r->query_buf = strdup(q);
	r->query = calloc(n, sizeof *r->query);
	if (!r->query_buf || !r->query)
		return -1;
	char *rest = r->query_buf, *item;
	while ((item = strsep(&rest, "&"))) {
		if (!*item)
			continue;
		char *eq = strchr(item, '=');
		char *value = eq ? eq + 1 : item + strlen(item);
		if (eq)
			*eq = '\0';
		if (pct_decode(item, 1) < 0 || pct_decode(value, 1) < 0)
			return -1;
		r->query[r->nquery++] = (struct pair){item, value};
	}
	return 0;
}

static int parse_version(const char *v, int *major, int *minor)
{
	if (strncmp(v, "HTTP/", 5) != 0)
		return -1;
	v += 5;
	if (v[0] < '0' || v[0] > '9' || v[1] != '.' || v[2] < '0' ||
	    v[2] > '9' || v[3])
		return -1;
	*major = v[0] - '0';
	*minor = v[2] - '0';
	return 0;
}

/* Takes the line. 0, or the status to answer with and *why. */
static int req_parse_line(struct http_req *r, char *line, const char **why)
{
	r->line = line;
	char *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' ');
	*why = "malformed request line";
	if (!sp1 || sp1 == sp2)
		return 400;
	*sp1 = *sp2 = '\0';
	r->method = line;
	r->target = sp1 + 1;
	int major;
	if (!is_token(r->method) || parse_version(sp2 + 1, &major, &r->minor))
		return 400;
	if (major != 1) {
		*why = "only HTTP/1.x is supported";
		return 505;
	}
	for (const unsigned char *p = (const unsigned char *)r->target; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 400;
	*why = "request target must be an absolute path";
	if (r->target[0] != '/')
		return 400;
	size_t plen = strcspn(r->target, "?#");
	*why = "malformed percent-encoding in the request target";
	r->path = strndup(r->target, plen);
	if (!r->path || pct_decode(r->path, 0) < 0)
		return 400;
	if (r->target[plen] != '?')
		return 0;
	char *q = strndup(r->target + plen + 1, strcspn(r->target + plen + 1, "#"));
	int rc = q ? req_parse_query(r, q) : -1;
	free(q);
	return rc < 0 ? 400 : 0;
}

/* Split "Name: value" in place. -1 if it is not a valid header line. */
static int header_split(char *line, char **value)
{
	char *colon = strchr(line, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	/* A token rejects "Name :" and obsolete line folding (leading SP). */
	if (!is_token(line))
		return -1;
	char *v = trim(colon + 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if ((*p < ' ' && *p != '\t') || *p == 0x7f)
			return -1;
	*value = v;
	return 0;
}

/* Content-Length over every such header: -1 malformed or conflicting. */
static int req_content_length(const struct http_req *r, size_t *len,
                              int *present)
{
	*present = 0;
	*len = 0;
	for (int i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].name, "Content-Length") != 0)
			continue;
		const char *v = r->headers[i].value;
		size_t n = 0;
		if (!*v)
			return -1;
		for (; *v; v++) {
			if (*v < '0' || *v > '9')
				return -1;
			/* Saturate: anything this big is over max_body anyway. */
			n = n > (SIZE_MAX - 9) / 10 ? SIZE_MAX : n * 10 + (size_t)(*v - '0');
		}
		if (*present && n != *len)
			return -1;
		*present = 1;
		*len = n;
	}
	return 0;
}

static int header_count(const struct http_req *r, const char *name)
{
	int n = 0;
	for (int i = 0; i < r->nheaders; i++)
		n += strcasecmp(r->headers[i].name, name) == 0;
	return n;
}

/* ---- connection state ---- */

static struct evbuffer *conn_in(struct http_conn *c)
{
	return bufferevent_get_input(c->bev);
}

static struct evbuffer *conn_out(struct http_conn *c)
{
	return bufferevent_get_output(c->bev);
}

static void conn_kick(struct http_conn *c)
{
	event_active(c->resume, 0, 0);
}

/*
 * Read timeout only while a request is awaited or arriving: a request the
 * handler holds (a long poll) may legitimately stay quiet. The write timeout
 * always applies, so a client that stops reading is eventually dropped.
 */
static void conn_timeouts(struct http_conn *c, int reading)
{
	const struct timeval *tv =
		c->srv->lim.idle_timeout_ms > 0 ? &c->srv->idle_tv : NULL;
	bufferevent_set_timeouts(c->bev, reading ? tv : NULL, tv);
}

static void conn_close_after_drain(struct http_conn *c)
{
	c->state = ST_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(conn_in(c), evbuffer_get_length(conn_in(c)));
	conn_timeouts(c, 0);
	/* With nothing left to write the write callback would never come. */
	conn_kick(c);
}

/*
 * Closing right after the reply can turn unread client data into a RST
 * that destroys the reply in flight (a 413 while the body is still coming).
 * So: send FIN, keep reading and discarding until the client closes too,
 * bounded by a short timer.
 */
static void conn_linger(struct http_conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	if (c->peer_eof || fd < 0 || shutdown(fd, SHUT_WR) < 0) {
		conn_free(c);
		return;
	}
	c->state = ST_LINGER;
	evbuffer_drain(conn_in(c), evbuffer_get_length(conn_in(c)));
	struct timeval tv = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

/* Answer a protocol error ourselves and close. */
static enum step conn_fail(struct http_conn *c, int status, const char *why)
{
	log_debug("http: %s: %d %s", c->peer, status, why);
	const char *path = c->req ? c->req->path : NULL;
	char *body = c->srv->refusal ? c->srv->refusal(path, status, why,
	                                               c->srv->refusal_ud)
	                             : NULL;
	req_free(c->req);
	c->req = NULL;
	if (!body)
		body = error_json(status_code_name(status), why, NULL);
	size_t len = body ? strlen(body) : 0;
	char framing[48];
	snprintf(framing, sizeof framing, "Content-Length: %zu", len);
	write_head(conn_out(c), status, "application/json", framing, NULL, "close");
	evbuffer_add(conn_out(c), body, len);
	free(body);
	conn_close_after_drain(c);
	return STEP_WAIT;
}

/*
 * One line of the head, chunk framing or trailers. *used counts bytes taken
 * against budget; a line that cannot fit is answered with too_long.
 */
static enum step conn_take_line(struct http_conn *c, size_t *used,
                                size_t budget, int too_long, char **line,
                                size_t *len)
{
	struct evbuffer *in = conn_in(c);
	size_t eol = 0, room = budget > *used ? budget - *used : 0;
	struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol,
	                                            EVBUFFER_EOL_CRLF);
	const char *why = too_long == 431 ? "request head too large"
	                                  : "chunk framing line too long";
	if (p.pos < 0) {
		if (evbuffer_get_length(in) > room)
			return conn_fail(c, too_long, why);
		return STEP_NEED_INPUT;
	}
	if ((size_t)p.pos + eol > room)
		return conn_fail(c, too_long, why);
	*line = evbuffer_readln(in, len, EVBUFFER_EOL_CRLF);
	if (!*line)
		return conn_fail(c, 500, "out of memory");
	*used += *len + eol;
	if (memchr(*line, '\0', *len)) {
		free(*line);
		return conn_fail(c, 400, "NUL byte in request head");
	}
	return STEP_MORE;
}

static enum step conn_dispatch(struct http_conn *c)
{
	struct http_req *r = c->req;
	if (evbuffer_add(r->body, "", 1) < 0)
		return conn_fail(c, 500, "out of memory");
	r->body_len = evbuffer_get_length(r->body) - 1;
	r->body_data = (const char *)evbuffer_pullup(r->body, -1);
	if (!r->body_data)
		return conn_fail(c, 500, "out of memory");
	c->state = ST_DISPATCHED;
	c->srv->pending++;
	conn_timeouts(c, 0);
	c->srv->handler(r, c->srv->ud);
	/* Whatever the handler did, the next request waits for the drain. */
	return STEP_WAIT;
}

static enum step conn_begin(struct http_conn *c)
{
	if (evbuffer_get_length(conn_out(c)) > 0)
		return STEP_WAIT; /* the write callback brings us back */
	/* Only now is the client the one keeping us waiting. */
	conn_timeouts(c, 1);
	if (evbuffer_get_length(conn_in(c)) == 0)
		return STEP_NEED_INPUT;
	req_free(c->req);
	c->req = req_new(c);
	if (!c->req)
		return conn_fail(c, 500, "out of memory");
	c->head_bytes = 0;
	c->state = ST_REQLINE;
	return STEP_MORE;
}

static enum step conn_read_reqline(struct http_conn *c)
{
	char *line;
	size_t len;
	enum step st = conn_take_line(c, &c->head_bytes,
	                              c->srv->lim.max_header, 431, &line, &len);
	if (st != STEP_MORE)
		return st;
	if (len == 0) { /* RFC 9112 2.2: ignore blank lines before a request */
		free(line);
		return STEP_MORE;
	}
	const char *why;
	int status = req_parse_line(c->req, line, &why);
	if (status)
		return conn_fail(c, status, why);
	c->state = ST_HEADERS;
	return STEP_MORE;
}

static void conn_maybe_continue(struct http_conn *c, int chunked)
{
	struct http_req *r = c->req;
	const char *expect = http_req_header(r, "Expect");
	if (r->minor < 1 || !expect || strcasecmp(expect, "100-continue") != 0)
		return;
	size_t have = evbuffer_get_length(conn_in(c));
	if (chunked ? have > 0 : have >= c->remaining)
		return; /* the client did not wait for us */
	evbuffer_add_printf(conn_out(c), "HTTP/1.1 100 Continue\r\n\r\n");
}

static enum step conn_headers_done(struct http_conn *c)
{
	struct http_req *r = c->req;
	r->head = strcmp(r->method, "HEAD") == 0;
	r->keep_alive = r->minor >= 1 ? !header_has_token(r, "Connection", "close")
	                              : header_has_token(r, "Connection", "keep-alive");
	size_t cl;
	int has_cl;
	if (req_content_length(r, &cl, &has_cl) < 0)
		return conn_fail(c, 400, "malformed Content-Length");
	const char *te = http_req_header(r, "Transfer-Encoding");
	if (te) {
		/* Both framings at once is how requests get smuggled. */
		if (has_cl)
			return conn_fail(c, 400, "both Content-Length and Transfer-Encoding");
		if (header_count(r, "Transfer-Encoding") != 1 ||
		    strcasecmp(te, "chunked") != 0)
			return conn_fail(c, 501, "only chunked transfer coding is supported");
		c->body_total = 0;
		c->state = ST_CHUNK_SIZE;
		conn_maybe_continue(c, 1);
		return STEP_MORE;
	}
	if (cl > c->srv->lim.max_body)
		return conn_fail(c, 413, "request body too large");
	c->remaining = cl;
	c->state = ST_BODY;
	if (cl)
		conn_maybe_continue(c, 0);
	return STEP_MORE;
}

static enum step conn_read_header(struct http_conn *c)
{
	char *line, *value;
	size_t len;
	enum step st = conn_take_line(c, &c->head_bytes,
	                              c->srv->lim.max_header, 431, &line, &len);
	if (st != STEP_MORE)
		return st;
	if (len == 0) {
		free(line);
		return conn_headers_done(c);
	}
	struct http_req *r = c->req;
	if (r->nheaders == MAX_HEADERS) {
		free(line);
		return conn_fail(c, 431, "too many header fields");
	}
	if (header_split(line, &value) < 0) {
		free(line);
		return conn_fail(c, 400, "malformed header field");
	}
	if (!r->headers) {
		r->headers = calloc(MAX_HEADERS, sizeof *r->headers);
		if (!r->headers) {
			free(line);
			return conn_fail(c, 500, "out of memory");
		}
	}
	r->headers[r->nheaders++] = (struct pair){line, value};
	return STEP_MORE;
}

/* Move up to c->remaining body bytes from the input. 0 or -1 (memory). */
static int conn_take_body(struct http_conn *c)
{
	size_t n = evbuffer_get_length(conn_in(c));
	if (n > c->remaining)
		n = c->remaining;
	if (n > INT_MAX)
		n = INT_MAX;
	int moved = evbuffer_remove_buffer(conn_in(c), c->req->body, n);
	if (moved < 0)
		return -1;
	c->remaining -= (size_t)moved;
	c->body_total += (size_t)moved;
	return 0;
}

static enum step conn_read_body(struct http_conn *c)
{
	if (conn_take_body(c) < 0)
		return conn_fail(c, 500, "out of memory");
	if (c->remaining)
		return STEP_NEED_INPUT;
	return conn_dispatch(c);
}

static enum step conn_read_chunk_size(struct http_conn *c)
{
	char *line;
	size_t len, used = 0, size = 0;
	enum step st = conn_take_line(c, &used, MAX_CHUNK_LINE, 400, &line, &len);
	if (st != STEP_MORE)
		return st;
	const char *p = line;
	int too_big = 0;
	for (; hexval((unsigned char)*p) >= 0; p++) {
		if (size > (SIZE_MAX >> 4))
			too_big = 1;
		else
			size = size * 16 + (size_t)hexval((unsigned char)*p);
	}
	int bad = p == line;
	p += strspn(p, " \t");
	bad |= *p && *p != ';'; /* chunk extensions are ignored */
	free(line);
	if (bad)
		return conn_fail(c, 400, "malformed chunk size");
	if (too_big || size > c->srv->lim.max_body - c->body_total)
		return conn_fail(c, 413, "request body too large");
	if (size == 0) {
		c->head_bytes = 0; /* trailers get a budget of their own */
		c->state = ST_TRAILERS;
		return STEP_MORE;
	}
	c->remaining = size;
	c->state = ST_CHUNK_DATA;
	return STEP_MORE;
}

static enum step conn_read_chunk_data(struct http_conn *c)
{
	if (conn_take_body(c) < 0)
		return conn_fail(c, 500, "out of memory");
	if (c->remaining)
		return STEP_NEED_INPUT;
	c->state = ST_CHUNK_END;
	return STEP_MORE;
}

static enum step conn_read_chunk_end(struct http_conn *c)
{
	char *line;
	size_t len, used = 0;
	enum step st = conn_take_line(c, &used, MAX_CHUNK_LINE, 400, &line, &len);
	if (st != STEP_MORE)
		return st;
	free(line);
	if (len)
		return conn_fail(c, 400, "chunk data longer than its size");
	c->state = ST_CHUNK_SIZE;
	return STEP_MORE;
}

/* Trailer fields are read to keep the framing right, then ignored. */
static enum step conn_read_trailer(struct http_conn *c)
{
	char *line;
	size_t len;
	enum step st = conn_take_line(c, &c->head_bytes,
	                              c->srv->lim.max_header, 431, &line, &len);
	if (st != STEP_MORE)
		return st;
	free(line);
	return len ? STEP_MORE : conn_dispatch(c);
}

static enum step conn_step(struct http_conn *c)
{
	switch (c->state) {
	case ST_IDLE: return conn_begin(c);
	case ST_REQLINE: return conn_read_reqline(c);
	case ST_HEADERS: return conn_read_header(c);
	case ST_BODY: return conn_read_body(c);
	case ST_CHUNK_SIZE: return conn_read_chunk_size(c);
	case ST_CHUNK_DATA: return conn_read_chunk_data(c);
	case ST_CHUNK_END: return conn_read_chunk_end(c);
	case ST_TRAILERS: return conn_read_trailer(c);
	default: return STEP_WAIT;
	}
}

static void conn_process(struct http_conn *c)
{
	enum step st;
	do
		st = conn_step(c);
	while (st == STEP_MORE);
	/* The client half-closed and what it sent is used up: we are done. */
	if (st == STEP_NEED_INPUT && c->peer_eof)
		conn_close_after_drain(c);
}

/* The connection goes while the handler still holds the request. */
static void req_abandon(struct http_req *r)
{
	struct http_conn *c = r->conn;
	c->srv->pending--;
	c->req = NULL;
	r->conn = NULL;
	if (!r->on_close) {
		log_debug("http: %s: client gone before the reply", r->peer);
		return; /* orphaned: the handler's reply will free it */
	}
	r->gone = 1;
	r->on_close(r, r->close_ud);
	req_free(r);
}

static void conn_free(struct http_conn *c)
{
	if (c->req && c->state == ST_DISPATCHED)
		req_abandon(c->req);
	req_free(c->req);
	struct http_server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	bufferevent_free(c->bev);
	event_free(c->resume);
	free(c);
}

static void conn_readcb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	if (c->state == ST_LINGER) {
		struct evbuffer *in = bufferevent_get_input(bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	conn_process(c);
}

static void conn_writecb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct http_conn *c = arg;
	if (c->state == ST_CLOSING)
		conn_linger(c);
	else
		conn_process(c);
}

static void conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct http_conn *c = arg;
	/*
	 * A FIN with no request outstanding may be a half-close: finish what
	 * was sent. A FIN while the handler holds a request means the client
	 * gave up on it (a long poll, an event stream).
	 */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    c->state != ST_DISPATCHED && c->state != ST_LINGER) {
		c->peer_eof = 1;
		conn_process(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("http: %s: timed out", c->peer);
	else if (what & BEV_EVENT_ERROR)
		log_debug("http: %s: %s", c->peer,
		          evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_free(c);
}

static void conn_resumecb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_conn *c = arg;
	if (c->state != ST_CLOSING)
		conn_process(c);
	else if (evbuffer_get_length(conn_out(c)) == 0)
		conn_linger(c);
}

/* ---- replies ---- */

static int req_usable(const struct http_req *r, const char *what)
{
	if (!r)
		return 0;
	if (r->finished || r->gone) {
		log_error("http: %s on a finished request", what);
		return 0;
	}
	return 1;
}

static int req_can_reply(const struct http_req *r, const char *what)
{
	if (!req_usable(r, what))
		return 0;
	if (r->streaming) {
		log_error("http: %s after stream_start", what);
		return 0;
	}
	return 1;
}

static void req_finish(struct http_req *r)
{
	struct http_conn *c = r->conn;
	r->finished = 1;
	if (!c) {
		req_free(r); /* an orphan: its connection is already gone */
		return;
	}
	c->srv->pending--;
	req_release(r);
	if (!r->keep_alive) {
		conn_close_after_drain(c);
		return;
	}
	c->state = ST_IDLE;
	conn_kick(c);
}

static int valid_status(int status)
{
	if (status >= 200 && status <= 599)
		return status;
	log_error("http: invalid reply status %d, sending 500", status);
	return 500;
}

static void req_write_head(struct http_req *r, int status, const char *ctype,
                           const char *framing)
{
	/* A draining server tells clients not to reuse the connection. */
	if (r->conn->srv->stopped)
		r->keep_alive = 0;
	if (ctype && strpbrk(ctype, "\r\n")) {
		log_error("http: Content-Type with a line break dropped");
		ctype = NULL;
	}
	const char *connection = !r->keep_alive ? "close"
	                         : r->minor == 0 ? "keep-alive" : NULL;
	write_head(conn_out(r->conn), status, ctype, framing, r->resp_headers,
	           connection);
}

void http_req_add_header(struct http_req *r, const char *name,
                         const char *value)
{
	if (!req_can_reply(r, "add_header") || !name || !value)
		return;
	if (!is_token(name) || strpbrk(value, "\r\n")) {
		log_error("http: invalid response header \"%s\" dropped", name);
		return;
	}
	/* Framing is ours to write; a handler asking to close gets that. */
	if (strcasecmp(name, "Content-Length") == 0 ||
	    strcasecmp(name, "Transfer-Encoding") == 0) {
		log_error("http: response header %s is set by the server", name);
		return;
	}
	if (strcasecmp(name, "Connection") == 0) {
		if (strcasestr(value, "close"))
			r->keep_alive = 0;
		return;
	}
	evbuffer_add_printf(r->resp_headers, "%s: %s\r\n", name, value);
}

void http_req_reply(struct http_req *r, int status, const char *content_type,
                    const char *body, size_t len)
{
	if (!req_can_reply(r, "reply"))
		return;
	if (!body)
		len = 0;
	if (r->conn) {
		status = valid_status(status);
		int bodiless = status == 204 || status == 304;
		char framing[48];
		snprintf(framing, sizeof framing, "Content-Length: %zu", len);
		req_write_head(r, status, bodiless ? NULL : content_type,
		               bodiless ? NULL : framing);
		if (!bodiless && !r->head && body && len)
			evbuffer_add(conn_out(r->conn), body, len);
	}
	req_finish(r);
}

void http_req_reply_json(struct http_req *r, int status, json_t *body)
{
	if (!req_can_reply(r, "reply_json")) {
		json_decref(body);
		return;
	}
	char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(body);
	if (!s) {
		http_req_reply_error(r, 500, "internal_error", NULL,
		                     "reply could not be encoded as JSON");
		return;
	}
	http_req_reply(r, status, "application/json", s, strlen(s));
	free(s);
}

void http_req_reply_error(struct http_req *r, int status, const char *code,
                          json_t *details, const char *fmt, ...)
{
	if (!req_can_reply(r, "reply_error")) {
		json_decref(details);
		return;
	}
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char *body = error_json(code, msg, details);
	http_req_reply(r, status, "application/json", body,
	               body ? strlen(body) : 0);
	free(body);
}

void http_req_stream_start(struct http_req *r, int status,
                           const char *content_type)
{
	if (!req_can_reply(r, "stream_start"))
		return;
	r->streaming = 1;
	/* HTTP/1.0 has no chunks: the body ends where the connection does. */
	r->chunked_reply = r->minor >= 1;
	if (!r->chunked_reply)
		r->keep_alive = 0;
	if (!r->conn)
		return;
	if (content_type && strncasecmp(content_type, "text/event-stream", 17) == 0)
		evbuffer_add_printf(r->resp_headers, "Cache-Control: no-cache\r\n");
	req_write_head(r, valid_status(status), content_type,
	               r->chunked_reply ? "Transfer-Encoding: chunked" : NULL);
}

int http_req_stream_write(struct http_req *r, const char *data, size_t len)
{
	if (!r || r->finished || r->gone || !r->streaming || !r->conn)
		return -1;
	if (len == 0 || r->head)
		return 0; /* an empty chunk would end the stream */
	struct evbuffer *out = conn_out(r->conn);
	if (r->chunked_reply && evbuffer_add_printf(out, "%zx\r\n", len) < 0)
		return -1;
	if (evbuffer_add(out, data, len) < 0)
		return -1;
	if (r->chunked_reply && evbuffer_add(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

void http_req_stream_end(struct http_req *r)
{
	if (!req_usable(r, "stream_end"))
		return;
	if (!r->streaming) {
		log_error("http: stream_end without stream_start");
		return;
	}
	if (r->conn && r->chunked_reply && !r->head)
		evbuffer_add(conn_out(r->conn), "0\r\n\r\n", 5);
	req_finish(r);
}

void http_req_on_close(struct http_req *r,
                       void (*cb)(struct http_req *r, void *ud), void *ud)
{
	if (!r || r->finished || r->gone)
		return;
	r->on_close = cb;
	r->close_ud = ud;
}

/* ---- accessors ---- */

const char *http_req_method(const struct http_req *r)
{
	return r ? r->method : NULL;
}

const char *http_req_path(const struct http_req *r)
{
	return r ? r->path : NULL;
}

const char *http_req_query(const struct http_req *r, const char *name)
{
	for (int i = 0; r && name && i < r->nquery; i++)
		if (strcmp(r->query[i].name, name) == 0)
			return r->query[i].value;
	return NULL;
}

const char *http_req_header(const struct http_req *r, const char *name)
{
	for (int i = 0; r && name && i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

const char *http_req_body(const struct http_req *r, size_t *len)
{
	if (len)
		*len = r ? r->body_len : 0;
	return r && r->body_data ? r->body_data : "";
}

const char *http_req_peer(const struct http_req *r)
{
	return r ? r->peer : NULL;
}

/* ---- server ---- */

static void peer_format(const struct sockaddr *sa, socklen_t salen,
                        char *out, size_t size)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	if (getnameinfo(sa, salen, host, sizeof host, serv, sizeof serv,
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, size, "unknown");
		return;
	}
	snprintf(out, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	         host, serv);
}

static struct http_conn *conn_new(struct http_server *s, evutil_socket_t fd,
                                  struct sockaddr *sa, int salen)
{
	struct http_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->srv = s;
	c->resume = event_new(s->base, -1, 0, conn_resumecb, c);
	if (c->resume)
		c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		if (c->resume)
			event_free(c->resume);
		free(c);
		return NULL;
	}
	peer_format(sa, (socklen_t)salen, c->peer, sizeof c->peer);
	/* Small replies and stream chunks should not wait for Nagle. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	size_t high = s->lim.max_header + READ_SLACK;
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	                         high < s->lim.max_header ? 0 : high);
	conn_timeouts(c, 1);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	return c;
}

static void server_acceptcb(struct evconnlistener *l, evutil_socket_t fd,
                            struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	struct http_server *s = arg;
	if (s->lim.max_connections > 0 && s->nconns >= s->lim.max_connections) {
		time_t now = time(NULL);
		if (now != s->last_refusal_log) { /* at most one line a second */
			s->last_refusal_log = now;
			log_warn("http: %d connections open, refusing more",
			         s->nconns);
		}
		evutil_closesocket(fd);
		return;
	}
	if (!conn_new(s, fd, sa, salen)) {
		log_error("http: out of memory accepting a connection");
		evutil_closesocket(fd);
	}
}

static void server_listeners_enable(struct http_server *s, int on)
{
	for (int i = 0; i < s->nlisteners; i++)
		if (on)
			evconnlistener_enable(s->listeners[i]);
		else
			evconnlistener_disable(s->listeners[i]);
}

/*
 * Out of descriptors, accept fails at once and forever while the backlog
 * is non-empty; pause accepting briefly instead of spinning.
 */
static void server_accept_errorcb(struct evconnlistener *l, void *arg)
{
	(void)l;
	struct http_server *s = arg;
	log_error("http: accept: %s",
	          evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	server_listeners_enable(s, 0);
	struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};
	evtimer_add(s->accept_retry, &tv);
}

static void server_accept_retrycb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_server *s = arg;
	if (!s->stopped)
		server_listeners_enable(s, 1);
}

/*
 * libevent writes with writev(), which raises SIGPIPE when the client has
 * gone; by default that kills the daemon. Only the default disposition is
 * changed: a program that chose its own keeps it.
 */
static void ignore_sigpipe(void)
{
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

struct http_server *http_server_new(struct event_base *base,
                                    const struct http_limits *limits,
                                    http_handler_fn handler, void *ud)
{
	if (!base || !handler) {
		errno = EINVAL;
		return NULL;
	}
	struct http_server *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->base = base;
	s->handler = handler;
	s->ud = ud;
	if (limits)
		s->lim = *limits;
	/* Zero means "not configured": take the defaults. */
	if (!s->lim.max_body)
		s->lim.max_body = DEFAULT_MAX_BODY;
	if (!s->lim.max_header)
		s->lim.max_header = DEFAULT_MAX_HEADER;
	if (!s->lim.idle_timeout_ms)
		s->lim.idle_timeout_ms = DEFAULT_IDLE_MS;
	if (!s->lim.max_connections)
		s->lim.max_connections = DEFAULT_MAX_CONNS;
	s->idle_tv.tv_sec = s->lim.idle_timeout_ms / 1000;
	s->idle_tv.tv_usec = (s->lim.idle_timeout_ms % 1000) * 1000;
	s->accept_retry = evtimer_new(base, server_accept_retrycb, s);
	if (!s->accept_retry) {
		free(s);
		return NULL;
	}
	ignore_sigpipe();
	return s;
}

/* A listening socket for one address; -1 with errno set. */
static evutil_socket_t listen_one(const struct addrinfo *ai)
{
	evutil_socket_t fd = socket(ai->ai_family,
	                            ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                            ai->ai_protocol);
	if (fd < 0)
		return -1;
	int one = 1;
	/* Wildcard binds both :: and 0.0.0.0; dual-stack :: would collide. */
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static int sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

static void sockaddr_set_port(struct sockaddr *sa, int port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

static int server_add_listener(struct http_server *s, evutil_socket_t fd)
{
	struct evconnlistener **v = realloc(s->listeners,
	                                    (size_t)(s->nlisteners + 1) * sizeof *v);
	if (!v)
		return -1;
	s->listeners = v;
	struct evconnlistener *l = evconnlistener_new(s->base, server_acceptcb, s,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!l)
		return -1;
	evconnlistener_set_error_cb(l, server_accept_errorcb);
	if (s->stopped)
		evconnlistener_disable(l);
	s->listeners[s->nlisteners++] = l;
	return 0;
}

/*
 * Bind one address of the host's list; for port 0 every address after the
 * first reuses the port the first one got, so "localhost" means the same
 * port on 127.0.0.1 and ::1.
 */
static int listen_addr(struct http_server *s, struct addrinfo *ai, int *port)
{
	if (*port)
		sockaddr_set_port(ai->ai_addr, *port);
	evutil_socket_t fd = listen_one(ai);
	if (fd < 0)
		return -1;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    server_add_listener(s, fd) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	*port = sockaddr_port((struct sockaddr *)&ss);
	char peer[64];
	peer_format((struct sockaddr *)&ss, len, peer, sizeof peer);
	log_info("http: listening on %s", peer);
	return 0;
}

/* Addresses for host:port, never through a DNS lookup on the loop. */
static struct addrinfo *listen_resolve(const char *host, int port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
	if (host && strcmp(host, "localhost") != 0)
		hints.ai_flags |= AI_NUMERICHOST;
	char serv[8];
	snprintf(serv, sizeof serv, "%d", port);
	struct addrinfo *res;
	int rc = getaddrinfo(host, serv, &hints, &res);
	if (rc == 0)
		return res;
	log_error("http: cannot listen on %s: %s", host ? host : "*",
	          gai_strerror(rc));
	errno = rc == EAI_SYSTEM ? errno : EINVAL;
	return NULL;
}

int http_server_listen(struct http_server *s, const char *host, int port,
                       int *bound_port)
{
	if (!s || port < 0 || port > 65535) {
		errno = EINVAL;
		return -1;
	}
	if (host && !*host)
		host = NULL;
	struct addrinfo *res = listen_resolve(host, port);
	if (!res)
		return -1;
	int got = 0, err = EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (listen_addr(s, ai, &port) == 0) {
			got++;
			continue;
		}
		int e = errno;
		if (!got)
			err = e;
		char addr[64];
		peer_format(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr);
		log_warn("http: cannot listen on %s: %s", addr, strerror(e));
	}
	freeaddrinfo(res);
	if (!got) {
		errno = err;
		return -1;
	}
	if (bound_port)
		*bound_port = port;
	return 0;
}

void http_server_set_refusal(struct http_server *s, http_refusal_fn fn,
                             void *ud)
{
	s->refusal = fn;
	s->refusal_ud = ud;
}

void http_server_stop_accepting(struct http_server *s)
{
	if (!s)
		return;
	s->stopped = 1;
	event_del(s->accept_retry);
	/* Close the sockets rather than only stop accepting: a client
	 * connecting now is refused at once instead of hanging in the
	 * backlog until the process exits. */
	for (int i = 0; i < s->nlisteners; i++)
		evconnlistener_free(s->listeners[i]);
	s->nlisteners = 0;
}

int http_server_unflushed(const struct http_server *s)
{
	int n = 0;
	for (const struct http_conn *c = s ? s->conns : NULL; c; c = c->next)
		n += evbuffer_get_length(bufferevent_get_output(c->bev)) > 0;
	return n;
}

int http_server_pending(const struct http_server *s)
{
	return s ? s->pending : 0;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nlisteners; i++)
		evconnlistener_free(s->listeners[i]);
	free(s->listeners);
	event_free(s->accept_retry);
	/* Callbacks first, while every connection is intact: one may answer
	 * another connection's request. */
	for (struct http_conn *c = s->conns; c; c = c->next)
		if (c->req && c->state == ST_DISPATCHED)
			req_abandon(c->req);
	while (s->conns)
		conn_free(s->conns);
	free(s);
}
