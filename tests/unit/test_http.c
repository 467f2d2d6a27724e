/*
 * core/http.c over real sockets. Everything runs on this one thread: the
 * server's event loop is pumped (EVLOOP_NONBLOCK) between non-blocking
 * client reads and writes, and every wait has a deadline, so the test is
 * deterministic and cannot hang.
 */
#include "http-internal.h"
#include "log-internal.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define TIMEOUT_MS 3000

static struct event_base *base;

/* ---- handler side ---- */

static struct http_req *poll_req;    /* a long poll waiting for /wake */
static int poll_closed;              /* on_close calls */
static struct http_req *orphan_req;  /* held without an on_close */
static int timers_outstanding;       /* /delay and /stream still running */

static json_t *echo_json(struct http_req *r)
{
	size_t len;
	const char *body = http_req_body(r, &len);
	json_t *o = json_object();
	json_object_set_new(o, "method", json_string(http_req_method(r)));
	json_object_set_new(o, "path", json_string(http_req_path(r)));
	json_object_set_new(o, "body", json_stringn(body, len));
	const char *names[] = {"a", "b", "c"};
	json_t *q = json_object();
	for (int i = 0; i < 3; i++) {
		const char *v = http_req_query(r, names[i]);
		if (v)
			json_object_set_new(q, names[i], json_string(v));
	}
	json_object_set_new(o, "query", q);
	const char *h = http_req_header(r, "X-Test");
	if (h)
		json_object_set_new(o, "x_test", json_string(h));
	json_object_set_new(o, "peer", json_string(http_req_peer(r)));
	return o;
}

struct timer_ctx {
	struct event *ev;
	struct http_req *req;
};

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct timer_ctx *t = arg;
	http_req_reply_json(t->req, 200, echo_json(t->req));
	event_free(t->ev);
	free(t);
	timers_outstanding--;
}

static void stream_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct timer_ctx *t = arg;
	http_req_stream_write(t->req, "data: 2\n\n", 9);
	http_req_stream_write(t->req, "data: 3\n\n", 9);
	http_req_stream_end(t->req);
	event_free(t->ev);
	free(t);
	timers_outstanding--;
}

static void start_timer(struct http_req *r, event_callback_fn cb, int ms)
{
	struct timer_ctx *t = calloc(1, sizeof *t);
	t->req = r;
	t->ev = evtimer_new(base, cb, t);
	struct timeval tv = {0, ms * 1000};
	evtimer_add(t->ev, &tv);
	timers_outstanding++;
}

static void poll_gone(struct http_req *r, void *ud)
{
	(void)ud;
	poll_closed++;
	if (r == poll_req)
		poll_req = NULL;
}

static void handler(struct http_req *r, void *ud)
{
	(void)ud;
	const char *p = http_req_path(r);
	if (strcmp(p, "/delay") == 0) {
		start_timer(r, delay_cb, 30);
	} else if (strcmp(p, "/stream") == 0) {
		http_req_stream_start(r, 200, "text/event-stream");
		http_req_stream_write(r, "data: 1\n\n", 9);
		start_timer(r, stream_cb, 20);
	} else if (strcmp(p, "/poll") == 0) {
		http_req_on_close(r, poll_gone, NULL);
		poll_req = r;
	} else if (strcmp(p, "/wake") == 0) {
		if (poll_req)
			http_req_reply(poll_req, 200, "text/plain", "woken", 5);
		poll_req = NULL;
		http_req_reply(r, 200, "text/plain", "ok", 2);
	} else if (strcmp(p, "/orphan") == 0) {
		orphan_req = r;
	} else if (strcmp(p, "/error") == 0) {
		http_req_reply_error(r, 404, "not_found",
		                     json_pack("{s:s}", "what", "thing"),
		                     "no %s here", "thing");
	} else if (strcmp(p, "/empty") == 0) {
		http_req_reply(r, 204, "text/plain", NULL, 0);
	} else if (strcmp(p, "/double") == 0) {
		http_req_add_header(r, "X-Custom", "yes");
		http_req_add_header(r, "X-Bad", "a\r\nInjected: 1");
		http_req_reply(r, 200, "text/plain", "once", 4);
		http_req_reply(r, 200, "text/plain", "twice", 5); /* logged, ignored */
	} else {
		http_req_reply_json(r, 200, echo_json(r));
	}
}

/* ---- client side ---- */

struct client {
	int fd;
	int eof;
	size_t len;
	char buf[1 << 18];
};

struct resp {
	int status;
	int nh;
	char name[64][64];
	char value[64][512];
	char *body;
	size_t body_len;
	int nchunks;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the server's ready callbacks, then wait up to ms for fd (or time). */
static void pump(int fd, short events, int ms)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
	struct pollfd p = {.fd = fd, .events = events};
	poll(&p, fd >= 0 ? 1 : 0, ms);
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static void pump_for(int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	while (now_ms() < end)
		pump(-1, 0, 1);
}

static int pump_until(int (*cond)(void), int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	while (!cond() && now_ms() < end)
		pump(-1, 0, 1);
	return cond();
}

static struct client *cli_open(int port)
{
	struct client *c = calloc(1, sizeof *c);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	/* Completes from the kernel's backlog; nobody has to accept yet. */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		diag("connect: %s", strerror(errno));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	return c;
}

static void cli_close(struct client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

static int cli_send(struct client *c, const char *data, size_t len)
{
	uint64_t end = now_ms() + TIMEOUT_MS;
	while (len) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (now_ms() > end)
			return -1;
		pump(c->fd, POLLOUT, 1);
	}
	pump(-1, 0, 0);
	return 0;
}

static int cli_sends(struct client *c, const char *s)
{
	return cli_send(c, s, strlen(s));
}

static void cli_fill(struct client *c)
{
	while (!c->eof && c->len < sizeof c->buf - 1) {
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			c->eof = 1;
		break;
	}
	c->buf[c->len] = '\0';
}

static void resp_clear(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}

static const char *resp_header(const struct resp *r, const char *name)
{
	for (int i = 0; i < r->nh; i++)
		if (strcasecmp(r->name[i], name) == 0)
			return r->value[i];
	return NULL;
}

static int parse_head(const char *buf, size_t head_len, struct resp *r)
{
	if (sscanf(buf, "HTTP/1.1 %d ", &r->status) != 1)
		return -1;
	const char *p = strstr(buf, "\r\n") + 2;
	while (p < buf + head_len - 2 && r->nh < 64) {
		const char *eol = strstr(p, "\r\n"), *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			return -1;
		snprintf(r->name[r->nh], 64, "%.*s", (int)(colon - p), p);
		colon += 1 + (colon[1] == ' ');
		snprintf(r->value[r->nh], 512, "%.*s", (int)(eol - colon), colon);
		r->nh++;
		p = eol + 2;
	}
	return 0;
}

/* Decode a chunked body starting at pos. 1 done, 0 incomplete, -1 bad. */
static int parse_chunked(struct client *c, size_t *pos, struct resp *r)
{
	size_t at = *pos;
	r->body = calloc(1, c->len + 1);
	for (;;) {
		char *eol = memmem(c->buf + at, c->len - at, "\r\n", 2);
		if (!eol)
			return 0;
		char *end;
		unsigned long n = strtoul(c->buf + at, &end, 16);
		if (end == c->buf + at)
			return -1;
		at = (size_t)(eol - c->buf) + 2;
		if (c->len - at < n + 2)
			return 0;
		if (n == 0) {
			*pos = at + 2;
			return 1;
		}
		memcpy(r->body + r->body_len, c->buf + at, n);
		r->body_len += n;
		r->nchunks++;
		at += n + 2;
	}
}

/* One response from the front of c->buf: 1 consumed, 0 incomplete, -1 bad. */
static int parse_resp(struct client *c, struct resp *r, int no_body)
{
	resp_clear(r);
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	size_t pos = (size_t)(end - c->buf) + 4;
	if (parse_head(c->buf, pos, r) < 0)
		return -1;
	const char *te = resp_header(r, "Transfer-Encoding");
	const char *cl = resp_header(r, "Content-Length");
	int rc = 1;
	if (no_body || r->status < 200 || r->status == 204 || r->status == 304) {
		r->body = calloc(1, 1);
	} else if (te && strcmp(te, "chunked") == 0) {
		rc = parse_chunked(c, &pos, r);
	} else if (cl) {
		size_t n = strtoul(cl, NULL, 10);
		if (c->len - pos < n)
			return 0;
		r->body = calloc(1, n + 1);
		memcpy(r->body, c->buf + pos, n);
		r->body_len = n;
		pos += n;
	} else {
		if (!c->eof)
			return 0;
		r->body = calloc(1, c->len - pos + 1);
		memcpy(r->body, c->buf + pos, c->len - pos);
		r->body_len = c->len - pos;
		pos = c->len;
	}
	if (rc != 1)
		return rc;
	memmove(c->buf, c->buf + pos, c->len - pos);
	c->len -= pos;
	c->buf[c->len] = '\0';
	return 1;
}

static int read_resp_opt(struct client *c, struct resp *r, int no_body)
{
	uint64_t end = now_ms() + TIMEOUT_MS;
	for (;;) {
		cli_fill(c);
		int rc = parse_resp(c, r, no_body);
		if (rc)
			return rc;
		if (c->eof || now_ms() > end)
			return -1;
		pump(c->fd, POLLIN, 1);
	}
}

static int read_resp(struct client *c, struct resp *r)
{
	return read_resp_opt(c, r, 0);
}

/* Did the server close the connection (within ms)? */
static int wait_eof(struct client *c, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	for (;;) {
		cli_fill(c);
		if (c->eof)
			return 1;
		if (now_ms() > end)
			return 0;
		pump(c->fd, POLLIN, 1);
	}
}

static json_t *resp_json(const struct resp *r)
{
	return json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);
}

static const char *jstr(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);
	if (path2)
		v = json_object_get(v, path2);
	return json_string_value(v);
}

/* One request on a fresh connection; the response in *r. */
static int roundtrip(int port, const char *req, struct resp *r)
{
	struct client *c = cli_open(port);
	cli_sends(c, req);
	int rc = read_resp(c, r);
	cli_close(c);
	return rc;
}

/* An error answered by the server itself: status, code, close. */
static void expect_error(int port, const char *req, int status,
                         const char *code, const char *what)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, req);
	int rc = read_resp(c, &r);
	json_t *j = resp_json(&r);
	ok(rc == 1 && r.status == status, "%s: status %d", what, status);
	if (r.status != status)
		diag("got %d", r.status);
	is_str(jstr(json_object_get(j, "error"), "code", NULL), code,
	       "%s: error code", what);
	ok(json_is_object(json_object_get(json_object_get(j, "error"), "details")),
	   "%s: details is an object", what);
	is_str(resp_header(&r, "Connection"), "close", "%s: Connection: close", what);
	ok(wait_eof(c, TIMEOUT_MS), "%s: connection closed", what);
	json_decref(j);
	resp_clear(&r);
	cli_close(c);
}

/* ---- tests ---- */

static struct http_server *srv;
static int port;

static int no_pending(void)
{
	return http_server_pending(srv) == 0;
}

static int one_pending(void)
{
	return http_server_pending(srv) == 1;
}

static int timers_done(void)
{
	return timers_outstanding == 0;
}

static void test_simple_get(void)
{
	struct resp r = {0};
	int rc = roundtrip(port, "GET /echo?a=1 HTTP/1.1\r\nHost: x\r\nx-tEsT: hi\r\n\r\n", &r);
	json_t *j = resp_json(&r);
	ok(rc == 1 && r.status == 200, "GET: 200");
	is_str(resp_header(&r, "Content-Type"), "application/json", "GET: JSON content type");
	is_str(jstr(j, "method", NULL), "GET", "GET: method");
	is_str(jstr(j, "path", NULL), "/echo", "GET: path");
	is_str(jstr(j, "query", "a"), "1", "GET: query");
	is_str(jstr(j, "x_test", NULL), "hi", "GET: header lookup is case-insensitive");
	ok(jstr(j, "peer", NULL) && strncmp(jstr(j, "peer", NULL), "127.0.0.1:", 10) == 0,
	   "GET: peer is ip:port");
	ok(resp_header(&r, "Connection") == NULL, "GET: no Connection header on keep-alive");
	json_decref(j);
	resp_clear(&r);
}

static void test_post(void)
{
	struct resp r = {0};
	int rc = roundtrip(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world", &r);
	json_t *j = resp_json(&r);
	ok(rc == 1 && r.status == 200, "POST: 200");
	is_str(jstr(j, "body", NULL), "hello world", "POST: body");
	json_decref(j);
	resp_clear(&r);
}

static void test_chunked_request(void)
{
	struct resp r = {0};
	int rc = roundtrip(port,
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n", &r);
	json_t *j = resp_json(&r);
	ok(rc == 1 && r.status == 200, "chunked body: 200");
	is_str(jstr(j, "body", NULL), "hello world", "chunked body: reassembled");
	json_decref(j);
	resp_clear(&r);
}

static void test_keep_alive(void)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.status == 200, "keep-alive: first reply");
	cli_sends(c, "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
	int rc = read_resp(c, &r);
	json_t *j = resp_json(&r);
	ok(rc == 1 && r.status == 200, "keep-alive: second reply on the same connection");
	is_str(jstr(j, "path", NULL), "/two", "keep-alive: second path");
	json_decref(j);
	resp_clear(&r);
	cli_close(c);
}

static void test_pipelined(void)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
	             "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
	int rc = read_resp(c, &r);
	json_t *j = resp_json(&r);
	ok(rc == 1, "pipelined: first reply");
	is_str(jstr(j, "path", NULL), "/first", "pipelined: first in order");
	json_decref(j);
	rc = read_resp(c, &r);
	j = resp_json(&r);
	ok(rc == 1, "pipelined: second reply");
	is_str(jstr(j, "path", NULL), "/second", "pipelined: second in order");
	is_str(jstr(j, "body", NULL), "hi", "pipelined: second body");
	json_decref(j);
	resp_clear(&r);
	cli_close(c);
}

static void test_protocol_errors(void)
{
	expect_error(port, "FOO BAR\r\n\r\n", 400, "bad_request", "garbage request line");
	expect_error(port, "GET / HTTP/2.0\r\n\r\n", 505, "http_version_not_supported", "HTTP/2.0");
	expect_error(port, "GET /bad%00 HTTP/1.1\r\n\r\n", 400, "bad_request", "decoded NUL in path");
	expect_error(port, "GET /bad%zz HTTP/1.1\r\n\r\n", 400, "bad_request", "bad percent escape");
	expect_error(port, "GET relative HTTP/1.1\r\n\r\n", 400, "bad_request", "path without /");
	expect_error(port, "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "bad_request", "header without colon");
	expect_error(port, "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400, "bad_request", "obsolete folding");
	expect_error(port, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	             400, "bad_request", "Content-Length with Transfer-Encoding");
	expect_error(port, "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
	             400, "bad_request", "conflicting Content-Length");
	expect_error(port, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
	             "not_implemented", "unknown transfer coding");
	expect_error(port, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
	             "bad_request", "bad chunk size");

	char req[8192] = "GET / HTTP/1.1\r\n";
	for (int i = 0; i < 101; i++)
		snprintf(req + strlen(req), sizeof req - strlen(req), "H%d: v\r\n", i);
	strcat(req, "\r\n");
	expect_error(port, req, 431, "headers_too_large", "101 header fields");
}

static void test_percent(void)
{
	struct resp r = {0};
	int rc = roundtrip(port, "GET /p%C3%A4th%20x/%2F?a=x%2By&b=hello+world&a=second&c HTTP/1.1\r\n\r\n", &r);
	json_t *j = resp_json(&r);
	ok(rc == 1 && r.status == 200, "percent: 200");
	is_str(jstr(j, "path", NULL), "/p\xc3\xa4th x//", "percent: path decoded");
	is_str(jstr(j, "query", "a"), "x+y", "percent: first occurrence wins, %%2B decoded");
	is_str(jstr(j, "query", "b"), "hello world", "percent: + is a space");
	is_str(jstr(j, "query", "c"), "", "percent: bare name has empty value");
	json_decref(j);
	resp_clear(&r);
}

static void test_expect_continue(void)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.status == 100, "Expect: 100 Continue first");
	cli_sends(c, "hello");
	int rc = read_resp(c, &r);
	json_t *j = resp_json(&r);
	ok(rc == 1 && r.status == 200, "Expect: then the reply");
	is_str(jstr(j, "body", NULL), "hello", "Expect: body");
	json_decref(j);
	resp_clear(&r);
	cli_close(c);
}

static void test_head(void)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n");
	int rc = read_resp_opt(c, &r, 1);
	ok(rc == 1 && r.status == 200, "HEAD: 200");
	ok(resp_header(&r, "Content-Length") && atoi(resp_header(&r, "Content-Length")) > 0,
	   "HEAD: Content-Length of the would-be body");
	cli_sends(c, "GET /after-head HTTP/1.1\r\nHost: x\r\n\r\n");
	rc = read_resp(c, &r);
	json_t *j = resp_json(&r);
	is_str(jstr(j, "path", NULL), "/after-head", "HEAD: no body bytes were sent");
	json_decref(j);
	resp_clear(&r);
	cli_close(c);
}

static void test_204(void)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, "GET /empty HTTP/1.1\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.status == 204, "204: status");
	ok(!resp_header(&r, "Content-Length") && !resp_header(&r, "Content-Type"),
	   "204: no Content-Length or Content-Type");
	cli_sends(c, "GET /x HTTP/1.1\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.status == 200, "204: connection reusable");
	resp_clear(&r);
	cli_close(c);
}

static void test_error_reply(void)
{
	struct resp r = {0};
	int rc = roundtrip(port, "GET /error HTTP/1.1\r\n\r\n", &r);
	ok(rc == 1 && r.status == 404, "reply_error: status");
	is_str(r.body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no thing here\","
	               "\"details\":{\"what\":\"thing\"}}}", "reply_error: body shape");
	resp_clear(&r);
}

static void test_headers_and_double_reply(void)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, "GET /double HTTP/1.1\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.status == 200, "custom header: 200");
	is_str(resp_header(&r, "X-Custom"), "yes", "custom header sent");
	ok(!resp_header(&r, "X-Bad") && !resp_header(&r, "Injected"),
	   "header with a line break dropped");
	is_str(r.body, "once", "second reply ignored");
	cli_sends(c, "GET /x HTTP/1.1\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.status == 200, "connection fine after a double reply");
	resp_clear(&r);
	cli_close(c);
}

static void test_delay(void)
{
	struct resp r = {0};
	uint64_t t0 = now_ms();
	int rc = roundtrip(port, "GET /delay?a=late HTTP/1.1\r\n\r\n", &r);
	json_t *j = resp_json(&r);
	ok(rc == 1 && r.status == 200 && now_ms() - t0 >= 25, "delayed reply from a timer");
	is_str(jstr(j, "query", "a"), "late", "delayed reply: request still valid");
	json_decref(j);
	resp_clear(&r);
}

static void test_stream(void)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, "GET /stream HTTP/1.1\r\n\r\n");
	int rc = read_resp(c, &r);
	ok(rc == 1 && r.status == 200, "stream: 200");
	is_str(resp_header(&r, "Transfer-Encoding"), "chunked", "stream: chunked");
	is_str(resp_header(&r, "Cache-Control"), "no-cache", "stream: no-cache for SSE");
	is_str(resp_header(&r, "Content-Type"), "text/event-stream", "stream: content type");
	is_int(r.nchunks, 3, "stream: three chunks");
	is_str(r.body, "data: 1\n\ndata: 2\n\ndata: 3\n\n", "stream: data");
	cli_sends(c, "GET /after-stream HTTP/1.1\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.status == 200, "stream: keep-alive continues");
	resp_clear(&r);
	cli_close(c);
}

static void test_long_poll(void)
{
	struct client *c1 = cli_open(port), *c2 = cli_open(port);
	struct resp r = {0};
	cli_sends(c1, "GET /poll HTTP/1.1\r\n\r\n");
	ok(pump_until(one_pending, TIMEOUT_MS), "long poll: one pending request");
	cli_sends(c2, "GET /wake HTTP/1.1\r\n\r\n");
	ok(read_resp(c2, &r) == 1 && r.status == 200, "long poll: waker answered");
	ok(read_resp(c1, &r) == 1 && r.status == 200, "long poll: poller answered");
	is_str(r.body, "woken", "long poll: reply from another connection's handler");
	is_int(poll_closed, 0, "long poll: on_close not called after a reply");
	ok(pump_until(no_pending, TIMEOUT_MS), "long poll: nothing pending");
	resp_clear(&r);
	cli_close(c1);
	cli_close(c2);
}

static int poll_closed_once(void)
{
	return poll_closed == 1;
}

static void test_on_close(void)
{
	struct client *c = cli_open(port);
	cli_sends(c, "GET /poll HTTP/1.1\r\n\r\n");
	ok(pump_until(one_pending, TIMEOUT_MS), "on_close: request pending");
	cli_close(c);
	ok(pump_until(poll_closed_once, TIMEOUT_MS), "on_close: called when the client left");
	pump_for(20);
	is_int(poll_closed, 1, "on_close: called once");
	is_int(http_server_pending(srv), 0, "on_close: no longer pending");
	ok(poll_req == NULL, "on_close: handler dropped its pointer");
}

static void test_orphan(void)
{
	struct client *c = cli_open(port);
	cli_sends(c, "GET /orphan HTTP/1.1\r\n\r\n");
	ok(pump_until(one_pending, TIMEOUT_MS) && orphan_req, "orphan: request held");
	cli_close(c);
	ok(pump_until(no_pending, TIMEOUT_MS), "orphan: client gone, not pending");
	http_req_stream_start(orphan_req, 200, "text/plain");
	is_int(http_req_stream_write(orphan_req, "x", 1), -1, "orphan: write after the client left fails");
	http_req_stream_end(orphan_req); /* frees it */
	orphan_req = NULL;

	/* A delayed reply whose client left: the timer answers an orphan. */
	c = cli_open(port);
	cli_sends(c, "GET /delay HTTP/1.1\r\n\r\n");
	pump_until(one_pending, TIMEOUT_MS);
	cli_close(c);
	ok(pump_until(timers_done, TIMEOUT_MS), "orphan: late reply to a vanished client is safe");
}

static void test_connection_close(void)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.status == 200, "Connection: close: reply");
	is_str(resp_header(&r, "Connection"), "close", "Connection: close: echoed");
	ok(wait_eof(c, TIMEOUT_MS), "Connection: close: server closed");
	cli_close(c);

	c = cli_open(port);
	cli_sends(c, "GET /echo HTTP/1.0\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.status == 200, "HTTP/1.0: reply");
	is_str(resp_header(&r, "Connection"), "close", "HTTP/1.0: closes by default");
	ok(wait_eof(c, TIMEOUT_MS), "HTTP/1.0: server closed");
	cli_close(c);

	c = cli_open(port);
	cli_sends(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ok(read_resp(c, &r) == 1, "HTTP/1.0 keep-alive: reply");
	is_str(resp_header(&r, "Connection"), "keep-alive", "HTTP/1.0 keep-alive: kept");
	cli_sends(c, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ok(read_resp(c, &r) == 1 && r.body && strcmp(r.body, "data: 1\n\ndata: 2\n\ndata: 3\n\n") == 0,
	   "HTTP/1.0 stream: body until close");
	ok(c->eof, "HTTP/1.0 stream: closed at the end");
	resp_clear(&r);
	cli_close(c);
}

static void test_half_close(void)
{
	struct client *c = cli_open(port);
	struct resp r = {0};
	cli_sends(c, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	shutdown(c->fd, SHUT_WR);
	ok(read_resp(c, &r) == 1 && r.status == 200, "half-close: first reply");
	ok(read_resp(c, &r) == 1 && r.status == 200, "half-close: second reply");
	ok(wait_eof(c, TIMEOUT_MS), "half-close: then closed");
	resp_clear(&r);
	cli_close(c);
}

/* Deterministic garbage: random bytes, mutated requests, shuffled tokens. */
static uint32_t rng_state = 2463534242u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static size_t garbage(char *buf, size_t cap)
{
	static const char *base_req =
		"POST /echo?a=1&b=%41 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
	static const char *tokens[] = {
		"GET ", "POST ", "HEAD ", "/", "/echo", "?", "&", "=", "%", "%4", "%00",
		"+", " ", "HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "\r\n", "\n", "\r", ":",
		"Content-Length: ", "Transfer-Encoding: chunked", "Connection: close",
		"Expect: 100-continue", "0", "1", "ffffffffffffffffff", "99999999999",
		"\r\n\r\n", "\t", "\x00", "\xff", ";", "-1"};
	size_t n = 0, want = 1 + rng() % (cap - 64);
	switch (rng() % 3) {
	case 0:
		while (n < want)
			buf[n++] = (char)rng();
		break;
	case 1:
		n = strlen(base_req);
		memcpy(buf, base_req, n);
		for (int i = 0, flips = 1 + (int)(rng() % 8); i < flips; i++)
			buf[rng() % n] = (char)rng();
		n = rng() % 4 ? n : rng() % n;
		break;
	default:
		while (n < want) {
			const char *t = tokens[rng() % (sizeof tokens / sizeof *tokens)];
			size_t tl = *t ? strlen(t) : 1;
			if (n + tl > cap)
				break;
			memcpy(buf + n, t, tl);
			n += tl;
		}
	}
	return n;
}

/* Send in up to three pieces, letting the server parse in between. */
static int send_pieces(struct client *c, const char *buf, size_t n)
{
	int rc = 0;
	for (int piece = (int)(rng() % 3); piece > 0 && n > 1 && rc == 0; piece--) {
		size_t k = 1 + rng() % (n - 1);
		rc = cli_send(c, buf, k);
		pump(c->fd, POLLIN, 0);
		buf += k;
		n -= k;
	}
	return rc == 0 ? cli_send(c, buf, n) : rc;
}

#ifndef GARBAGE_ROUNDS
#define GARBAGE_ROUNDS 200
#endif

static void test_garbage(void)
{
	char buf[4096];
	int sent = 0;
	const char *seed = getenv("MCPD_TEST_SEED");
	if (seed && strtoul(seed, NULL, 10))
		rng_state = (uint32_t)strtoul(seed, NULL, 10);
	diag("garbage seed %u", rng_state);
	for (int i = 0; i < GARBAGE_ROUNDS; i++) {
		struct client *c = cli_open(port);
		size_t n = garbage(buf, rng() % 2 ? 256 : sizeof buf);
		sent += send_pieces(c, buf, n) == 0;
		for (int k = 0; k < (int)(rng() % 4); k++) {
			pump(c->fd, POLLIN, 1);
			cli_fill(c);
		}
		cli_close(c);
	}
	ok(sent > 0, "garbage: %d inputs sent (%d in full)", GARBAGE_ROUNDS, sent);
	ok(pump_until(timers_done, TIMEOUT_MS), "garbage: no timers left");
	ok(pump_until(no_pending, TIMEOUT_MS), "garbage: nothing pending");
	struct resp r = {0};
	ok(roundtrip(port, "GET /alive HTTP/1.1\r\n\r\n", &r) == 1 && r.status == 200,
	   "garbage: server still answers");
	resp_clear(&r);
}

/* A second server with tight limits. */
static void test_limits(void)
{
	struct http_limits lim = {.max_body = 1024, .max_header = 1024,
	                          .idle_timeout_ms = 400, .max_connections = 3};
	struct http_server *s = http_server_new(base, &lim, handler, NULL);
	int p = 0;
	ok(s && http_server_listen(s, "127.0.0.1", 0, &p) == 0 && p > 0, "limits: second server");

	char req[4096];
	snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nContent-Length: 2000\r\n\r\n%.100s",
	         "0123456789012345678901234567890123456789012345678901234567890123456789");
	expect_error(p, req, 413, "payload_too_large", "oversize Content-Length");
	expect_error(p, "POST /echo HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	             413, "payload_too_large", "absurd Content-Length");

	char big[1100];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	         "%zx\r\n%s\r\n0\r\n\r\n", strlen(big), big);
	expect_error(p, req, 413, "payload_too_large", "oversize chunked body");

	snprintf(req, sizeof req, "GET /echo HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
	expect_error(p, req, 431, "headers_too_large", "huge header");
	snprintf(req, sizeof req, "GET /%s HTTP/1.1\r\n\r\n", big);
	expect_error(p, req, 431, "headers_too_large", "huge request line");

	/* Just within the limits works. */
	struct resp r = {0};
	memset(big, 'b', 1024);
	big[1024] = '\0';
	snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nContent-Length: 1024\r\n\r\n%s", big);
	ok(roundtrip(p, req, &r) == 1 && r.status == 200, "limits: body of exactly max_body");

	struct client *c = cli_open(p);
	uint64_t t0 = now_ms();
	ok(wait_eof(c, TIMEOUT_MS), "idle connection closed");
	uint64_t dt = now_ms() - t0;
	ok(dt >= 300, "idle: after the idle timeout (%llu ms)", (unsigned long long)dt);
	cli_close(c);

	pump_for(50); /* let the server reap what the tests above closed */
	struct client *cs[3];
	for (int i = 0; i < 3; i++) {
		cs[i] = cli_open(p);
		cli_sends(cs[i], "GET /x HTTP/1.1\r\n\r\n");
		read_resp(cs[i], &r);
	}
	c = cli_open(p);
	ok(wait_eof(c, TIMEOUT_MS) && c->len == 0, "max_connections: fourth closed at once");
	cli_close(c);
	for (int i = 0; i < 3; i++)
		cli_close(cs[i]);
	pump_for(50);
	ok(roundtrip(p, "GET /x HTTP/1.1\r\n\r\n", &r) == 1 && r.status == 200,
	   "max_connections: room again after closes");

	http_server_stop_accepting(s);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)p),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int refused = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
	              errno == ECONNREFUSED;
	close(fd);
	ok(refused, "stop_accepting: a new connection is refused at once");
	http_server_free(s);
	resp_clear(&r);
}

static void test_listen(void)
{
	struct http_server *s = http_server_new(base, NULL, handler, NULL);
	int p = 0;
	ok(http_server_listen(s, "localhost", 0, &p) == 0 && p > 0, "listen on localhost");
	struct resp r = {0};
	ok(roundtrip(p, "GET /x HTTP/1.1\r\n\r\n", &r) == 1 && r.status == 200,
	   "localhost listener reachable on 127.0.0.1");
	errno = 0;
	ok(http_server_listen(s, "not-an-address", 0, &p) == -1 && errno, "listen: hostname refused");
	errno = 0;
	ok(http_server_listen(s, "127.0.0.1", 70000, &p) == -1 && errno == EINVAL,
	   "listen: bad port refused");
	http_server_free(s);
	http_server_free(NULL);
	resp_clear(&r);
}

static void test_free_with_pending(void)
{
	struct client *c = cli_open(port);
	cli_sends(c, "GET /poll HTTP/1.1\r\n\r\n");
	ok(pump_until(one_pending, TIMEOUT_MS), "free: a long poll pending");
	int before = poll_closed;
	http_server_free(srv);
	srv = NULL;
	is_int(poll_closed, before + 1, "free: on_close called for the pending request");
	ok(wait_eof(c, TIMEOUT_MS), "free: client sees the close");
	cli_close(c);
}

int main(void)
{
	log_set_level(log_level_parse(getenv("MCPD_TEST_LOG")) >= 0
	              ? log_level_parse(getenv("MCPD_TEST_LOG")) : LOG_WARN);
	is_str(http_status_text(404), "Not Found", "status text 404");
	is_str(http_status_text(431), "Request Header Fields Too Large", "status text 431");

	base = event_base_new();
	struct http_limits lim = {.max_body = 1 << 20, .max_header = 16384,
	                          .idle_timeout_ms = 10000, .max_connections = 64};
	srv = http_server_new(base, &lim, handler, NULL);
	ok(srv && http_server_listen(srv, "127.0.0.1", 0, &port) == 0 && port > 0,
	   "server listening on 127.0.0.1:%d", port);

	test_simple_get();
	test_post();
	test_chunked_request();
	test_keep_alive();
	test_pipelined();
	test_protocol_errors();
	test_percent();
	test_expect_continue();
	test_head();
	test_204();
	test_error_reply();
	test_headers_and_double_reply();
	test_delay();
	test_stream();
	test_long_poll();
	test_on_close();
	test_orphan();
	test_connection_close();
	test_half_close();
	test_garbage();
	test_limits();
	test_listen();
	test_free_with_pending();

	pump_for(10);
	event_base_free(base);
	done_testing();
	return exit_status();
}
