/*
 * A small HTTP/1.1 server on libevent bufferevents, owned by the loop
 * thread. It parses requests (Content-Length and chunked bodies, keep-alive,
 * pipelined requests answered in order), enforces size limits itself, and
 * hands each complete request to one handler. Protocol-level errors are
 * answered by the server with the JSON error shape used everywhere in mcpd:
 *   {"error":{"code":"...","message":"...","details":{}}}
 *   400 bad_request (malformed request line/headers/chunks),
 *   413 payload_too_large (body over max_body), 431 headers_too_large,
 *   501 not_implemented (Transfer-Encoding other than chunked),
 *   505 http_version_not_supported.
 */
#ifndef MCPD_HTTP_INTERNAL_H
#define MCPD_HTTP_INTERNAL_H

#include <stddef.h>
#include <jansson.h>

struct event_base;
struct http_server;
struct http_req;

struct http_limits {
	size_t max_body;      /* bytes; larger bodies get 413 */
	size_t max_header;    /* bytes of request line + headers; 431 */
	int idle_timeout_ms;  /* idle keep-alive connections are closed */
	int max_connections;  /* further accepts are closed at once */
};

/*
 * Called on the loop for each complete request. The handler answers it now
 * or later with http_req_reply*() or a stream; until then the request stays
 * valid unless the client goes away (see http_req_on_close). Once the reply
 * is finished (reply*, stream_end) the request belongs to the server again:
 * drop every pointer to it. A second reply is logged and ignored, but only
 * until the connection's next request starts. Handlers and callbacks must
 * not call http_server_free.
 */
typedef void (*http_handler_fn)(struct http_req *req, void *ud);

/* limits may be NULL; zero fields take defaults (1 MiB body, 16 KiB head,
 * 60 s idle, 1024 connections). Sets SIGPIPE to ignored if it was default. */
struct http_server *http_server_new(struct event_base *base,
                                    const struct http_limits *limits,
                                    http_handler_fn handler, void *ud);
/*
 * Listen on host:port (numeric IPv4 or IPv6 address, or "localhost"); port 0
 * picks a free one. *bound_port receives the port. 0 or -1 with errno set.
 * "localhost" (and NULL or "" for any address) binds every address it
 * names, on one port. May be called again to listen on more addresses.
 */
int http_server_listen(struct http_server *s, const char *host, int port,
                       int *bound_port);
/*
 * Bodies for the errors the server answers itself (above): fn returns
 * malloc'd JSON text for a request to `path` (NULL when the request line
 * was not read), or NULL to send the usual error shape. Lets an endpoint
 * that speaks another error format (JSON-RPC at /mcp) keep it.
 */
typedef char *(*http_refusal_fn)(const char *path, int status,
                                 const char *why, void *ud);
void http_server_set_refusal(struct http_server *s, http_refusal_fn fn,
                             void *ud);
/* Close the listening sockets (new clients are refused at once); existing
 * connections continue, but every reply
 * from now on carries Connection: close. */
void http_server_stop_accepting(struct http_server *s);
/* Connections with reply bytes not yet written to their socket. */
int http_server_unflushed(const struct http_server *s);
/* Number of requests that are received but not yet fully answered, on
 * connections still open. */
int http_server_pending(const struct http_server *s);
/* Close every connection and free. NULL is a no-op. */
void http_server_free(struct http_server *s);

/* ---- request accessors (valid until the reply is finished) ---- */
const char *http_req_method(const struct http_req *r);  /* "GET" */
const char *http_req_path(const struct http_req *r);    /* decoded, no query */
/* Decoded value of query parameter `name`, NULL if absent. */
const char *http_req_query(const struct http_req *r, const char *name);
/* Value of request header `name` (case-insensitive), NULL if absent. */
const char *http_req_header(const struct http_req *r, const char *name);
/* The body (NUL-terminated for convenience; *len excludes the NUL). */
const char *http_req_body(const struct http_req *r, size_t *len);
/* "ip:port" of the peer. */
const char *http_req_peer(const struct http_req *r);

/* Add a response header (before the reply or stream start). */
void http_req_add_header(struct http_req *r, const char *name,
                         const char *value);

/* Answer with a complete body. Finishes the request. */
void http_req_reply(struct http_req *r, int status, const char *content_type,
                    const char *body, size_t len);
/* Answer with JSON; steals `body`. Finishes the request. */
void http_req_reply_json(struct http_req *r, int status, json_t *body);
/* Answer with {"error":{"code","message","details"}}; steals details (may
 * be NULL for {}). Finishes the request. */
void http_req_reply_error(struct http_req *r, int status, const char *code,
                          json_t *details, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Streaming (Server-Sent Events and the like): send status and headers now,
 * body later with chunked transfer encoding. stream_write returns 0 or -1 if
 * the client is gone. stream_end finishes the request.
 */
void http_req_stream_start(struct http_req *r, int status,
                           const char *content_type);
int http_req_stream_write(struct http_req *r, const char *data, size_t len);
void http_req_stream_end(struct http_req *r);

/*
 * Called once if the connection closes before the request is finished
 * (client gone, server freed). After the callback returns the request is
 * freed: the handler must drop every pointer to it. Setting it again
 * replaces the previous one; NULL clears it. Without a callback the request
 * outlives its connection until the handler finishes it: the reply is
 * discarded and stream_write returns -1.
 */
void http_req_on_close(struct http_req *r,
                       void (*cb)(struct http_req *r, void *ud), void *ud);

/* Reason phrase for a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
