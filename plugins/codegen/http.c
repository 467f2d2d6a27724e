/*
 * http.c -- a minimal HTTP/1.1 client for one POST on a worker thread:
 * plain sockets (https:// through OpenSSL when built with it), one
 * connection per request ("Connection: close"), bodies by Content-Length,
 * chunked transfer coding or end of stream. Every wait is a poll() of at
 * most 100 ms, so the exchange keeps to its deadline and stops soon after
 * its task is cancelled.
 */
#include "codegen.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef CODEGEN_HAVE_TLS
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#define HEADER_MAX (64 * 1024)
#define ERRBODY_MAX 4096

struct url {
	int tls;
	char host[256];
	char port[8];
	char path[2048];
};

struct conn {
	int fd;
	const struct http_request *req;
	long long deadline; /* monotonic ms */
#ifdef CODEGEN_HAVE_TLS
	SSL_CTX *ctx;
	SSL *ssl;
#endif
};

int http_have_tls(void)
{
#ifdef CODEGEN_HAVE_TLS
	return 1;
#else
	return 0;
#endif
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_url(const char *s, struct url *u, struct cg_err *err)
{
	memset(u, 0, sizeof *u);
	if (strncmp(s, "http://", 7) == 0) {
		s += 7;
		snprintf(u->port, sizeof u->port, "80");
	} else if (strncmp(s, "https://", 8) == 0) {
		s += 8;
		u->tls = 1;
		snprintf(u->port, sizeof u->port, "443");
	} else {
		return cg_fail(err, MCPD_E_INVAL, "llm_config",
		               "llm.base_url \"%s\" is not an http:// or "
		               "https:// URL", s);
	}
	const char *end = s + strcspn(s, "/?#");
	const char *hend, *colon = NULL;
	if (*s == '[') { /* [v6 address] */
		hend = memchr(s, ']', (size_t)(end - s));
		if (!hend)
			goto bad;
		s++;
		if (hend[1] == ':')
			colon = hend + 1;
		else if (hend + 1 != end)
			goto bad;
	} else {
		colon = memchr(s, ':', (size_t)(end - s));
		hend = colon ? colon : end;
	}
	size_t hlen = (size_t)(hend - s);
	if (hlen == 0 || hlen >= sizeof u->host)
		goto bad;
	memcpy(u->host, s, hlen);
	if (colon) {
		size_t plen = (size_t)(end - colon - 1);
		if (plen == 0 || plen >= sizeof u->port)
			goto bad;
		memcpy(u->port, colon + 1, plen);
		for (size_t i = 0; i < plen; i++)
			if (!isdigit((unsigned char)u->port[i]))
				goto bad;
	}
	snprintf(u->path, sizeof u->path, "%s", *end ? end : "/");
	if (u->path[0] != '/')
		goto bad;
	return 0;
bad:
	return cg_fail(err, MCPD_E_INVAL, "llm_config",
	               "llm.base_url: cannot parse the host and port of the URL");
}

/* Wait until fd is ready for `events`, the deadline passes or the task is
 * cancelled. */
static int wait_fd(struct conn *c, short events, struct cg_err *err)
{
	for (;;) {
		long long left = c->deadline - now_ms();
		if (left <= 0)
			return cg_fail(err, MCPD_E_FAILED, "llm_timeout",
			               "the LLM server did not answer within %ld "
			               "ms (llm.timeout_ms)", c->req->timeout_ms);
		if (c->req->cancelled && c->req->cancelled(c->req->cancel_arg))
			return cg_fail(err, MCPD_E_CANCELLED, "cancelled",
			               "the task was cancelled while waiting for "
			               "the LLM server");
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, left < 100 ? (int)left : 100);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return cg_fail(err, MCPD_E_FAILED, "llm_unreachable",
			               "poll: %s", strerror(errno));
	}
}

static int connect_tcp(struct conn *c, const struct url *u, struct cg_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM}, *ai, *a;
	int rc = getaddrinfo(u->host, u->port, &hints, &ai);
	if (rc != 0)
		return cg_fail(err, MCPD_E_FAILED, "llm_unreachable",
		               "cannot resolve the LLM server \"%s\": %s",
		               u->host, gai_strerror(rc));
	int last = 0;
	for (a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
		                                  SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		c->fd = fd;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			if (wait_fd(c, POLLOUT, err) < 0) {
				close(fd);
				c->fd = -1;
				freeaddrinfo(ai);
				return err->code[0] == 'c' ? MCPD_E_CANCELLED
				                           : MCPD_E_FAILED;
			}
			socklen_t len = sizeof last;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &last, &len) == 0 &&
			    last == 0)
				break;
		} else {
			last = errno;
		}
		close(fd);
		c->fd = -1;
	}
	freeaddrinfo(ai);
	if (c->fd < 0)
		return cg_fail(err, MCPD_E_FAILED, "llm_unreachable",
		               "cannot connect to the LLM server %s:%s: %s",
		               u->host, u->port, strerror(last));
	return 0;
}

#ifdef CODEGEN_HAVE_TLS
static int tls_error(struct cg_err *err, const char *what)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return cg_fail(err, MCPD_E_FAILED, "llm_unreachable", "TLS %s: %s",
	               what, buf[0] ? buf : "failed");
}

/* Wait as SSL asks after a WANT_READ/WANT_WRITE; -1 on another error. */
static int tls_wait(struct conn *c, int r, const char *what,
                    struct cg_err *err)
{
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return wait_fd(c, POLLIN, err);
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_fd(c, POLLOUT, err);
	tls_error(err, what);
	return -1;
}

static int tls_start(struct conn *c, const struct url *u, const char *ca_file,
                     struct cg_err *err)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return tls_error(err, "context");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1
	            : SSL_CTX_set_default_verify_paths(c->ctx) != 1)
		return tls_error(err, ca_file ? "llm.ca_file" : "CA paths");
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return tls_error(err, "setup");
	/* An address is checked against the certificate's IP names; a
	 * host name against its DNS names, and sent as SNI. */
	unsigned char addr[16];
	int is_ip = inet_pton(AF_INET, u->host, addr) == 1 ||
	            inet_pton(AF_INET6, u->host, addr) == 1;
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
	                                          u->host) != 1
	          : SSL_set1_host(c->ssl, u->host) != 1 ||
	                SSL_set_tlsext_host_name(c->ssl, u->host) != 1)
		return tls_error(err, "setup");
	for (;;) {
		int r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		if (tls_wait(c, r, "handshake", err) < 0)
			return err->code[0] == 'c' ? MCPD_E_CANCELLED
			                           : MCPD_E_FAILED;
	}
}
#endif

static void conn_close(struct conn *c)
{
#ifdef CODEGEN_HAVE_TLS
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	c->ssl = NULL;
	c->ctx = NULL;
#endif
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int conn_write(struct conn *c, const char *p, size_t n,
                      struct cg_err *err)
{
	while (n > 0) {
		ssize_t w;
#ifdef CODEGEN_HAVE_TLS
		if (c->ssl) {
			int r = SSL_write(c->ssl, p, n > 65536 ? 65536 : (int)n);
			if (r <= 0) {
				if (tls_wait(c, r, "write", err) < 0)
					return -1;
				continue;
			}
			w = r;
		} else
#endif
		{
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return cg_fail(err, MCPD_E_FAILED,
					               "llm_unreachable",
					               "sending to the LLM server: %s",
					               strerror(errno)),
					       -1;
				if (wait_fd(c, POLLOUT, err) < 0)
					return -1;
				continue;
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read some bytes: > 0, 0 at end of stream, -1 with err. */
static ssize_t conn_read(struct conn *c, char *buf, size_t cap,
                         struct cg_err *err)
{
	for (;;) {
#ifdef CODEGEN_HAVE_TLS
		if (c->ssl) {
			int r = SSL_read(c->ssl, buf, cap > 65536 ? 65536 : (int)cap);
			if (r > 0)
				return r;
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN)
				return 0;
			/* A server that closes without close_notify: the
			 * framing (length, chunks) decides if we had it all. */
			if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL) {
				ERR_clear_error();
				return 0;
			}
			if (tls_wait(c, r, "read", err) < 0)
				return -1;
			continue;
		}
#endif
		ssize_t r = recv(c->fd, buf, cap, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (errno == ECONNRESET)
				return 0;
			cg_fail(err, MCPD_E_FAILED, "llm_unreachable",
			        "reading from the LLM server: %s", strerror(errno));
			return -1;
		}
		if (wait_fd(c, POLLIN, err) < 0)
			return -1;
	}
}

/* ---- response body framing ---- */

enum body_mode { BODY_LENGTH, BODY_CHUNKED, BODY_EOF };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

struct reader {
	enum body_mode mode;
	long long left;       /* BODY_LENGTH: bytes still to come */
	enum chunk_state cs;
	long long chunk_left;
	char line[128];       /* chunk-size or trailer line being read */
	size_t line_len;
	int ok2xx;
	struct sbuf errbody;
	const struct http_request *req;
	int stopped;          /* on_body asked to stop */
	int done;
};

static int deliver(struct reader *r, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (!r->ok2xx) {
		if (r->errbody.len < ERRBODY_MAX)
			sb_addn(&r->errbody, p,
			        n < ERRBODY_MAX - r->errbody.len
			                ? n : ERRBODY_MAX - r->errbody.len);
		return 0;
	}
	if (r->req->on_body && r->req->on_body(p, n, r->req->body_arg)) {
		r->stopped = 1;
		return -1;
	}
	return 0;
}

/* Feed raw bytes after the headers; -1 on a framing error or stop. */
static int feed(struct reader *r, const char *p, size_t n, struct cg_err *err)
{
	if (r->mode == BODY_EOF)
		return deliver(r, p, n);
	if (r->mode == BODY_LENGTH) {
		size_t take = (long long)n < r->left ? n : (size_t)r->left;
		r->left -= (long long)take;
		if (r->left == 0)
			r->done = 1;
		return deliver(r, p, take);
	}
	while (n > 0 && r->cs != CH_DONE) {
		if (r->cs == CH_DATA) {
			size_t take = (long long)n < r->chunk_left
			                      ? n : (size_t)r->chunk_left;
			if (deliver(r, p, take) < 0)
				return -1;
			p += take;
			n -= take;
			r->chunk_left -= (long long)take;
			if (r->chunk_left == 0)
				r->cs = CH_DATA_END;
			continue;
		}
		char ch = *p++;
		n--;
		if (ch != '\n') {
			if (r->line_len + 1 < sizeof r->line)
				r->line[r->line_len++] = ch;
			continue;
		}
		r->line[r->line_len] = '\0';
		if (r->line_len && r->line[r->line_len - 1] == '\r')
			r->line[--r->line_len] = '\0';
		if (r->cs == CH_SIZE) {
			char *end;
			errno = 0;
			long long sz = strtoll(r->line, &end, 16);
			if (end == r->line || errno || sz < 0 ||
			    (*end && *end != ';' && *end != ' '))
				return cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
				               "the LLM server sent a bad chunk "
				               "size line"), -1;
			r->chunk_left = sz;
			r->cs = sz ? CH_DATA : CH_TRAILER;
		} else if (r->cs == CH_DATA_END) {
			if (r->line_len)
				return cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
				               "the LLM server sent a chunk longer "
				               "than its size"), -1;
			r->cs = CH_SIZE;
		} else if (r->cs == CH_TRAILER && r->line_len == 0) {
			r->cs = CH_DONE;
			r->done = 1;
		}
		r->line_len = 0;
	}
	return 0;
}

/* Value of header `name` in the header block (lines after the first), or
 * NULL; copied to out. */
static const char *header(const char *head, const char *name, char *out,
                          size_t outlen)
{
	size_t nl = strlen(name);
	for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
		const char *s = l + 2;
		if (strncasecmp(s, name, nl) == 0 && s[nl] == ':') {
			s += nl + 1;
			while (*s == ' ' || *s == '\t')
				s++;
			size_t len = strcspn(s, "\r\n");
			while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
				len--;
			snprintf(out, outlen, "%.*s", (int)len, s);
			return out;
		}
	}
	return NULL;
}

static int send_request(struct conn *c, const struct url *u,
                        const struct http_request *req, struct cg_err *err)
{
	struct sbuf b = {0};
	int v6 = strchr(u->host, ':') != NULL;
	int defport = strcmp(u->port, u->tls ? "443" : "80") == 0;
	sb_addf(&b, "POST %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n", u->path,
	        v6 ? "[" : "", u->host, v6 ? "]" : "", defport ? "" : ":",
	        defport ? "" : u->port);
	sb_addf(&b, "User-Agent: mcpd-codegen/1.0\r\n"
	            "Content-Type: application/json\r\n"
	            "Accept: application/json, text/event-stream\r\n"
	            "Connection: close\r\nContent-Length: %zu\r\n",
	        strlen(req->body));
	if (req->bearer)
		sb_addf(&b, "Authorization: Bearer %s\r\n", req->bearer);
	sb_add(&b, "\r\n");
	sb_add(&b, req->body);
	int rc = b.oom ? (cg_fail(err, MCPD_E_NOMEM, "failed", "out of memory"), -1)
	               : conn_write(c, b.p, b.len, err);
	sb_free(&b);
	return rc;
}

/* Read the status line and headers; leftover body bytes stay in *head
 * after *hlen. */
static int read_head(struct conn *c, struct sbuf *head, size_t *hlen,
                     struct cg_err *err)
{
	char buf[8192];
	for (;;) {
		char *end = head->p ? strstr(head->p, "\r\n\r\n") : NULL;
		if (end) {
			*hlen = (size_t)(end - head->p) + 4;
			return 0;
		}
		if (head->len > HEADER_MAX)
			return cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
			               "the LLM server's response headers exceed "
			               "%d bytes", HEADER_MAX), -1;
		ssize_t n = conn_read(c, buf, sizeof buf, err);
		if (n < 0)
			return -1;
		if (n == 0)
			return cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
			               "the LLM server closed the connection "
			               "before a complete HTTP response"), -1;
		if (memchr(buf, '\0', (size_t)n))
			return cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
			               "the LLM server's answer is not HTTP"), -1;
		sb_addn(head, buf, (size_t)n);
	}
}

static int read_response(struct conn *c, int *status, char **ctype,
                         char **errbody, struct cg_err *err)
{
	struct sbuf head = {0};
	size_t hlen = 0;
	struct reader r = {.req = c->req};
	char val[256], buf[16384];
	int rc = -1;

	for (;;) { /* skip 1xx interim responses */
		if (read_head(c, &head, &hlen, err) < 0)
			goto out;
		int maj, min, st;
		if (sscanf(head.p, "HTTP/%d.%d %d", &maj, &min, &st) != 3 ||
		    st < 100 || st > 999) {
			cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
			        "the LLM server's answer is not HTTP");
			goto out;
		}
		*status = st;
		if (st >= 200)
			break;
		struct sbuf rest = {0};
		sb_addn(&rest, head.p + hlen, head.len - hlen);
		sb_free(&head);
		head = rest;
	}
	head.p[hlen - 2] = '\0'; /* headers end; body bytes follow at hlen */
	r.ok2xx = *status >= 200 && *status < 300;
	if (header(head.p, "Content-Type", val, sizeof val))
		*ctype = strdup(val);
	if (header(head.p, "Transfer-Encoding", val, sizeof val) &&
	    strcasestr(val, "chunked")) {
		r.mode = BODY_CHUNKED;
	} else if (header(head.p, "Content-Length", val, sizeof val)) {
		char *end;
		r.left = strtoll(val, &end, 10);
		if (*end || r.left < 0) {
			cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
			        "the LLM server sent a bad Content-Length");
			goto out;
		}
		r.mode = BODY_LENGTH;
		r.done = r.left == 0;
	} else {
		r.mode = BODY_EOF;
	}
	if (*status == 204 || *status == 304)
		r.done = 1;
	if (c->req->on_head)
		c->req->on_head(*status, *ctype, c->req->body_arg);
	if (!r.done && feed(&r, head.p + hlen, head.len - hlen, err) < 0)
		goto stop;
	while (!r.done) {
		ssize_t n = conn_read(c, buf, sizeof buf, err);
		if (n < 0)
			goto out;
		if (n == 0) {
			if (r.mode != BODY_EOF) {
				cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
				        "the LLM server closed the connection "
				        "in the middle of its answer");
				goto out;
			}
			break;
		}
		if (feed(&r, buf, (size_t)n, err) < 0)
			goto stop;
	}
	rc = 0;
	goto out;
stop:
	rc = r.stopped ? 0 : -1;
out:
	if (!r.ok2xx && r.errbody.len)
		*errbody = sb_take(&r.errbody);
	sb_free(&r.errbody);
	sb_free(&head);
	return rc;
}

int http_post(const struct http_request *req, int *status, char **ctype,
              char **errbody, struct cg_err *err)
{
	struct url u;
	struct conn c = {.fd = -1, .req = req,
	                 .deadline = now_ms() + req->timeout_ms};
	*status = 0;
	*ctype = *errbody = NULL;
	int rc = parse_url(req->url, &u, err);
	if (rc < 0)
		return rc;
#ifndef CODEGEN_HAVE_TLS
	if (u.tls)
		return cg_fail(err, MCPD_E_INVAL, "llm_config",
		               "llm.base_url is https:// but this codegen was "
		               "built without TLS (OpenSSL)");
#endif
	rc = connect_tcp(&c, &u, err);
#ifdef CODEGEN_HAVE_TLS
	if (rc == 0 && u.tls)
		rc = tls_start(&c, &u, req->ca_file, err);
#endif
	if (rc == 0 && (send_request(&c, &u, req, err) < 0 ||
	                read_response(&c, status, ctype, errbody, err) < 0))
		rc = strcmp(err->code, "cancelled") == 0 ? MCPD_E_CANCELLED
		                                          : MCPD_E_FAILED;
	conn_close(&c);
	return rc;
}
