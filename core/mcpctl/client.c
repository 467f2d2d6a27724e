/*
 * A small blocking HTTP/1.1 client: one request per connection
 * ("Connection: close"), bodies by Content-Length, chunked encoding or
 * until the server closes. The socket stays non-blocking and every wait goes
 * through poll(), so connect, send and each read share one timeout rule and
 * a stalled daemon cannot hang mcpctl (unless the caller asks to wait
 * forever, as an event stream does).
 */
#include "mcpctl-internal.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 10000
#define LINE_MAX_BYTES 8192       /* status line, header or chunk-size line */
#define MAX_HEADERS 100
#define MAX_BODY (64u << 20)      /* a larger answer is not one of ours */

enum body_mode { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_EOF };

struct http_conn {
	const struct url *url;
	int fd;
	int timeout_ms;
	char in[2 * LINE_MAX_BYTES];
	size_t off, len;          /* unread bytes are in[off..len) */
	enum body_mode mode;
	unsigned long long left;  /* bytes left in the body or current chunk */
	int chunk_crlf;           /* a chunk's data was read, its CRLF not */
	int done;                 /* the body has ended */
	int status;
	char reason[64];
	char *retry_after;
	char err[512];
};

/* ---- URLs ---- */

static int url_fail(char **err, const char *why)
{
	*err = xstrdup(why);
	return -1;
}

static int valid_port(const char *p)
{
	long n = 0;

	if (!*p || strlen(p) > 5)
		return 0;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		n = n * 10 + (*p - '0');
	}
	return n >= 1 && n <= 65535;
}

/* Split "host:port" or "[v6]:port" (port optional) into u->host, u->port. */
static int parse_authority(const char *a, size_t n, struct url *u, char **err)
{
	const char *end = a + n, *port = NULL, *colon;
	size_t hostlen;

	if (memchr(a, '@', n))
		return url_fail(err, "user names in URLs are not supported");
	if (n && a[0] == '[') {
		const char *close = memchr(a, ']', n);

		if (!close)
			return url_fail(err, "missing ']' after IPv6 address");
		if (close + 1 < end && close[1] != ':')
			return url_fail(err, "expected ':' after ']'");
		port = close + 1 < end ? close + 2 : NULL;
		a++;
		hostlen = (size_t)(close - a);
	} else {
		colon = memchr(a, ':', n);
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return url_fail(err, "IPv6 addresses need brackets, e.g. http://[::1]:8080");
		port = colon ? colon + 1 : NULL;
		hostlen = colon ? (size_t)(colon - a) : n;
	}
	if (hostlen == 0)
		return url_fail(err, "no host");
	u->host = xmalloc(hostlen + 1);
	memcpy(u->host, a, hostlen);
	u->host[hostlen] = '\0';
	if (!port) {
		u->port = xstrdup("80");
		return 0;
	}
	u->port = xmalloc((size_t)(end - port) + 1);
	memcpy(u->port, port, (size_t)(end - port));
	u->port[end - port] = '\0';
	if (!valid_port(u->port))
		return url_fail(err, "bad port");
	return 0;
}

int url_parse(const char *text, struct url *u, char **err)
{
	const char *auth, *path;
	size_t n;

	memset(u, 0, sizeof *u);
	if (strncasecmp(text, "https://", 8) == 0)
		return url_fail(err, "https is not supported (use a local TLS proxy)");
	if (strncasecmp(text, "http://", 7) != 0)
		return url_fail(err, "it must start with http://");
	if (strpbrk(text, "?# \t\r\n"))
		return url_fail(err, "no query, fragment or spaces allowed");
	auth = text + 7;
	path = auth + strcspn(auth, "/");
	if (parse_authority(auth, (size_t)(path - auth), u, err) < 0) {
		url_free(u);
		return -1;
	}
	n = strlen(path);
	while (n && path[n - 1] == '/')
		n--;
	u->prefix = xmalloc(n + 1);
	memcpy(u->prefix, path, n);
	u->prefix[n] = '\0';
	n = (size_t)(path - text) + n;
	u->text = xmalloc(n + 1);
	memcpy(u->text, text, n);
	u->text[n] = '\0';
	u->hostport = strchr(u->host, ':') ?
		xasprintf("[%s]:%s", u->host, u->port) :
		xasprintf("%s:%s", u->host, u->port);
	return 0;
}

void url_free(struct url *u)
{
	free(u->text);
	free(u->host);
	free(u->port);
	free(u->hostport);
	free(u->prefix);
	memset(u, 0, sizeof *u);
}

void url_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~", c)) {
			buf_add(b, s, 1);
			continue;
		}
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
		buf_add(b, esc, 3);
	}
}

/* ---- connection ---- */

static int fail(struct http_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct http_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return -1;
}

/* An I/O error after connecting, with errno describing it. */
static int fail_io(struct http_conn *c)
{
	if (errno == ETIMEDOUT)
		return fail(c, "%s: no answer within %d s", c->url->text,
		            c->timeout_ms / 1000);
	return fail(c, "%s: %s", c->url->text, strerror(errno));
}

static int fail_closed(struct http_conn *c)
{
	return fail(c, "%s: connection closed before the answer was complete",
	            c->url->text);
}

/* 0 when fd is ready for events, -1 with errno (ETIMEDOUT) otherwise. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		long long left = -1;
		int r;

		if (timeout_ms >= 0) {
			left = deadline - now_ms();
			if (left < 0)
				left = 0;
		}
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* A connected non-blocking socket, or -1 with *err an errno value. */
static int connect_one(const struct addrinfo *ai, int *err)
{
	int fd, soerr = 0;
	socklen_t len = sizeof soerr;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		soerr = errno;
	else if (wait_fd(fd, POLLOUT, CONNECT_TIMEOUT_MS) < 0)
		soerr = errno;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (!soerr)
		return fd;
	*err = soerr;
	close(fd);
	return -1;
}

/* Try every address of the host; "localhost" may be ::1 and 127.0.0.1. */
static int conn_connect(struct http_conn *c)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
	                          .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res, *ai;
	int rc, err = ECONNREFUSED;

	rc = getaddrinfo(c->url->host, c->url->port, &hints, &res);
	if (rc != 0)
		return fail(c, "cannot connect to %s: %s", c->url->text,
		            rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (ai = res; ai && c->fd < 0; ai = ai->ai_next)
		c->fd = connect_one(ai, &err);
	freeaddrinfo(res);
	if (c->fd < 0)
		return fail(c, "cannot connect to %s: %s", c->url->text,
		            strerror(err));
	return 0;
}

static int send_all(struct http_conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return fail_io(c);
		if (wait_fd(c->fd, POLLOUT, c->timeout_ms) < 0)
			return fail_io(c);
	}
	return 0;
}

/* Up to n bytes from the socket: >0, 0 at end of stream, -1 on error. */
static ssize_t recv_some(struct http_conn *c, char *p, size_t n)
{
	for (;;) {
		ssize_t k = recv(c->fd, p, n, 0);

		if (k >= 0)
			return k;
		if (errno != EAGAIN && errno != EINTR)
			return fail_io(c);
		if (wait_fd(c->fd, POLLIN, c->timeout_ms) < 0)
			return fail_io(c);
	}
}

/* Read more into the input buffer: >0, 0 at end of stream, -1 on error. */
static ssize_t fill(struct http_conn *c)
{
	if (c->off) {
		memmove(c->in, c->in + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	ssize_t k = recv_some(c, c->in + c->len, sizeof c->in - c->len);

	if (k > 0)
		c->len += (size_t)k;
	return k;
}

/* The next CRLF- (or LF-) terminated line, without its terminator. */
static int get_line(struct http_conn *c, char *line, size_t cap)
{
	for (;;) {
		char *start = c->in + c->off;
		char *nl = memchr(start, '\n', c->len - c->off);

		if (nl) {
			size_t n = (size_t)(nl - start), k = n;

			if (k && start[k - 1] == '\r')
				k--;
			if (k >= cap)
				return fail(c, "%s: answer line too long", c->url->text);
			memcpy(line, start, k);
			line[k] = '\0';
			c->off += n + 1;
			return 0;
		}
		if (c->len - c->off >= cap)
			return fail(c, "%s: answer line too long", c->url->text);
		ssize_t k = fill(c);

		if (k <= 0)
			return k < 0 ? -1 : fail_closed(c);
	}
}

static void build_request(struct buf *b, const struct url *u,
                          const struct http_request *r)
{
	buf_printf(b, "%s %s%s HTTP/1.1\r\nHost: %s\r\n", r->method, u->prefix,
	           r->path, u->hostport);
	buf_printf(b, "User-Agent: mcpctl/%s\r\nAccept: %s\r\n"
	           "Connection: close\r\n", MCPD_VERSION,
	           r->accept ? r->accept : "application/json");
	if (r->auth)
		buf_printf(b, "Authorization: Bearer %s\r\n", r->auth);
	if (r->last_event_id)
		buf_printf(b, "Last-Event-ID: %s\r\n", r->last_event_id);
	if (r->body)
		buf_printf(b, "Content-Type: application/json\r\n"
		           "Content-Length: %zu\r\n", r->body_len);
	buf_adds(b, "\r\n");
	if (r->body)
		buf_add(b, r->body, r->body_len);
}

static int parse_status_line(struct http_conn *c, const char *line)
{
	const char *reason;
	size_t n;

	if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) ||
	    line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) ||
	    (line[12] != ' ' && line[12] != '\0'))
		return fail(c, "%s: not an HTTP/1.x server", c->url->text);
	c->status = atoi(line + 9);
	reason = line[12] ? line + 13 : "";
	n = strlen(reason);
	if (n >= sizeof c->reason)
		n = sizeof c->reason - 1;
	memcpy(c->reason, reason, n);
	c->reason[n] = '\0';
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = '\0';
	return s;
}

/* The last coding of a Transfer-Encoding list is the one that frames. */
static int is_chunked(const char *v)
{
	const char *last = strrchr(v, ',');

	last = last ? last + 1 : v;
	while (*last == ' ' || *last == '\t')
		last++;
	return strcasecmp(last, "chunked") == 0;
}

struct head {
	int chunked;
	int have_length;
	unsigned long long length;
};

static int parse_header(struct http_conn *c, char *line, struct head *h)
{
	char *colon = strchr(line, ':'), *name, *value, *end;
	unsigned long long n;

	if (!colon)
		return fail(c, "%s: malformed header in answer", c->url->text);
	*colon = '\0';
	name = trim(line);
	value = trim(colon + 1);
	if (strcasecmp(name, "transfer-encoding") == 0) {
		if (!is_chunked(value))
			return fail(c, "%s: unsupported Transfer-Encoding %s",
			            c->url->text, value);
		h->chunked = 1;
	} else if (strcasecmp(name, "content-length") == 0) {
		errno = 0;
		n = strtoull(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end || errno ||
		    (h->have_length && n != h->length))
			return fail(c, "%s: bad Content-Length", c->url->text);
		h->have_length = 1;
		h->length = n;
	} else if (strcasecmp(name, "retry-after") == 0) {
		free(c->retry_after);
		c->retry_after = xstrdup(value);
	}
	return 0;
}

static int read_head(struct http_conn *c, struct head *h)
{
	char line[LINE_MAX_BYTES];
	int nheaders = 0;

	memset(h, 0, sizeof *h);
	if (get_line(c, line, sizeof line) < 0 || parse_status_line(c, line) < 0)
		return -1;
	for (;;) {
		if (get_line(c, line, sizeof line) < 0)
			return -1;
		if (!line[0])
			return 0;
		if (++nheaders > MAX_HEADERS)
			return fail(c, "%s: too many headers in answer", c->url->text);
		if (parse_header(c, line, h) < 0)
			return -1;
	}
}

static void set_body_mode(struct http_conn *c, const char *method,
                          const struct head *h)
{
	if (strcmp(method, "HEAD") == 0 || c->status == 204 || c->status == 304) {
		c->mode = BODY_NONE;
		c->done = 1;
	} else if (h->chunked) {
		c->mode = BODY_CHUNKED;
	} else if (h->have_length) {
		c->mode = BODY_LENGTH;
		c->left = h->length;
		c->done = h->length == 0;
	} else {
		c->mode = BODY_EOF;
	}
}

struct http_conn *http_conn_new(const struct url *u)
{
	struct http_conn *c = xmalloc(sizeof *c);

	memset(c, 0, sizeof *c);
	c->url = u;
	c->fd = -1;
	return c;
}

int http_open(struct http_conn *c, const struct http_request *req)
{
	struct buf out = { 0 };
	struct head h;
	int rc;

	c->timeout_ms = req->timeout_ms;
	if (conn_connect(c) < 0)
		return -1;
	build_request(&out, c->url, req);
	rc = send_all(c, out.p, out.len);
	buf_free(&out);
	if (rc < 0)
		return -1;
	/* 1xx answers are interim; the real one follows. */
	do {
		if (read_head(c, &h) < 0)
			return -1;
	} while (c->status >= 100 && c->status < 200);
	set_body_mode(c, req->method, &h);
	return 0;
}

/* Start the next chunk: 1 when data follows, 0 at the last chunk, -1. */
static int next_chunk(struct http_conn *c)
{
	char line[LINE_MAX_BYTES] = "", *end;
	unsigned long long n;

	if (c->chunk_crlf) {
		if (get_line(c, line, sizeof line) < 0)
			return -1;
		if (line[0])
			return fail(c, "%s: malformed chunked answer", c->url->text);
		c->chunk_crlf = 0;
	}
	if (get_line(c, line, sizeof line) < 0)
		return -1;
	errno = 0;
	n = strtoull(line, &end, 16);
	if (!isxdigit((unsigned char)line[0]) || errno ||
	    (*end && *end != ';' && *end != ' ' && *end != '\t'))
		return fail(c, "%s: malformed chunk size", c->url->text);
	if (n) {
		c->left = n;
		return 1;
	}
	do {  /* trailers, up to the blank line */
		if (get_line(c, line, sizeof line) < 0)
			return -1;
	} while (line[0]);
	c->done = 1;
	return 0;
}

/* Bytes already buffered first, then straight from the socket. */
static ssize_t take(struct http_conn *c, char *p, size_t n)
{
	size_t have = c->len - c->off;

	if (!have)
		return recv_some(c, p, n);
	if (n > have)
		n = have;
	memcpy(p, c->in + c->off, n);
	c->off += n;
	return (ssize_t)n;
}

ssize_t http_read(struct http_conn *c, char *p, size_t cap)
{
	ssize_t n;
	size_t want = cap;

	if (c->done || cap == 0)
		return 0;
	if (c->mode == BODY_CHUNKED && c->left == 0) {
		int r = next_chunk(c);

		if (r <= 0)
			return r;
	}
	if (c->mode != BODY_EOF && want > c->left)
		want = (size_t)c->left;
	n = take(c, p, want);
	if (n < 0)
		return -1;
	if (n == 0) {
		if (c->mode != BODY_EOF)
			return fail_closed(c);
		c->done = 1;
		return 0;
	}
	if (c->mode != BODY_EOF) {
		c->left -= (unsigned long long)n;
		if (c->left == 0 && c->mode == BODY_LENGTH)
			c->done = 1;
		else if (c->left == 0)
			c->chunk_crlf = 1;
	}
	return n;
}

int http_read_all(struct http_conn *c, struct buf *b)
{
	char chunk[8192];
	ssize_t n;

	while ((n = http_read(c, chunk, sizeof chunk)) > 0) {
		if (b->len + (size_t)n > MAX_BODY)
			return fail(c, "%s: answer larger than %u MiB", c->url->text,
			            MAX_BODY >> 20);
		buf_add(b, chunk, (size_t)n);
	}
	return n < 0 ? -1 : 0;
}

int http_status(const struct http_conn *c)
{
	return c->status;
}

const char *http_reason(const struct http_conn *c)
{
	return c->reason;
}

const char *http_retry_after(const struct http_conn *c)
{
	return c->retry_after;
}

const char *http_error(const struct http_conn *c)
{
	return c->err[0] ? c->err : "unknown error";
}

void http_conn_free(struct http_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->retry_after);
	free(c);
}
