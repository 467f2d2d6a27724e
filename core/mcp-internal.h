/*
 * The Model Context Protocol server: one JSON-RPC core over an abstract
 * transport, serving every capability as a tool. Dual-era: the stateless
 * revision 2026-07-28 (per-request _meta, server/discover, resultType) and
 * the handshake revisions 2025-11-25, 2025-06-18 and 2025-03-26
 * (initialize, ping, logging/setLevel, batches in 2025-03-26).
 *
 * Which revision serves a request:
 *   - "initialize" opens a legacy session on its connection (the stdio
 *     process, or an HTTP session), at the revision it asked for when
 *     mcpd speaks it, else 2025-11-25.
 *   - a request whose params._meta names
 *     "io.modelcontextprotocol/protocolVersion" is served statelessly at
 *     that revision, session or not; one mcpd does not speak gets
 *     UnsupportedProtocolVersion (-32022) listing those it does.
 *   - any other request is served at its connection's session revision;
 *     without a session it is malformed (-32602), except ping.
 * A connection's era is that of its first request (mcp_conn_era).
 *
 * Loop thread only.
 */
#ifndef MCPD_MCP_INTERNAL_H
#define MCPD_MCP_INTERNAL_H

#include <stddef.h>
#include <jansson.h>

struct mcpd;
struct mcp_server;
struct mcp_conn;

/* MCP's error codes (2026-07-28, basic/index "Error Codes"). */
#define MCP_HEADER_MISMATCH -32020
#define MCP_MISSING_CLIENT_CAPABILITY -32021
#define MCP_UNSUPPORTED_VERSION -32022

#define MCP_LATEST "2026-07-28"
#define MCP_LATEST_LEGACY "2025-11-25"

enum mcp_era { MCP_ERA_UNKNOWN, MCP_ERA_LEGACY, MCP_ERA_MODERN };

/*
 * How a transport writes one message to its peer. Steals msg. Called from
 * within mcp_conn_receive and later (progress, results of tools/call).
 * `related` (borrowed; may be NULL) is the id of the request the message
 * belongs to: a response's own id, a tools/call's id for its progress and
 * log notifications, a subscriptions/listen id for what it delivers; NULL
 * for a batch's answer array and for notifications of the session as a
 * whole (legacy tools/list_changed). The callback must not free the
 * connection.
 */
typedef void (*mcp_send_fn)(struct mcp_conn *c, json_t *msg,
                            const json_t *related, void *ud);

/* The daemon's MCP server (d->mcp). NULL when out of memory. */
struct mcp_server *mcp_server_new(struct mcpd *d);
/* Free it; its connections must be gone. NULL is a no-op. */
void mcp_server_free(struct mcp_server *s);
/* Tools per tools/list page (default 100). */
void mcp_server_set_page_size(struct mcp_server *s, size_t n);

/* A connection: a stdio process, or (later) an HTTP session or request. */
struct mcp_conn *mcp_conn_new(struct mcp_server *s, mcp_send_fn send,
                              void *ud);
/*
 * Done with it: the transport sends nothing more. Calls still running
 * stop watching their tasks (the tasks go on, visible over REST); their
 * results are dropped. NULL is a no-op.
 */
void mcp_conn_free(struct mcp_conn *c);
/* Handle one message's text (a line of stdio, an HTTP body). */
void mcp_conn_receive(struct mcp_conn *c, const char *text, size_t len);
/* The same for a message already parsed (borrowed): object or batch. */
void mcp_conn_receive_json(struct mcp_conn *c, json_t *msg);
/*
 * Cancel request `id` as notifications/cancelled would: the task of a
 * running tools/call (no answer is sent), or a subscriptions/listen. 0, or
 * -1 if no such request is in progress.
 */
int mcp_conn_cancel(struct mcp_conn *c, const json_t *id, const char *why);
/* Answer a message the transport refused for its size (-32600). */
void mcp_conn_too_large(struct mcp_conn *c, size_t limit);
enum mcp_era mcp_conn_era(const struct mcp_conn *c);
/* tools/call requests waiting for their task. */
size_t mcp_conn_pending(const struct mcp_conn *c);
/* The era of a revision mcpd speaks; MCP_ERA_UNKNOWN for any other. */
enum mcp_era mcp_version_era(const char *version);
/* The revisions mcpd speaks, newest first (new reference). */
json_t *mcp_supported_versions(void);

/* ---- mcp-http.c: Streamable HTTP at /mcp ---- */
struct mcp_http;
struct http_req;
/* The /mcp endpoint's state (sessions, open exchanges), owned by the
 * MCP server s (mcp_server_new makes it). NULL: no memory. */
struct mcp_http *mcp_http_new(struct mcpd *d, struct mcp_server *s);
/* Ends every session and exchange; the HTTP server must be gone already
 * (its close callbacks reach this). NULL is a no-op. */
void mcp_http_free(struct mcp_http *h);
/* The server's /mcp endpoint. */
struct mcp_http *mcp_server_http(struct mcp_server *s);
/* Serve one request to /mcp (any method). */
void mcp_http_handle(struct mcp_http *h, struct http_req *req);
/* An http_refusal_fn (http-internal.h): for a request to /mcp that the
 * HTTP server refuses itself (413 and the like), a JSON-RPC error body;
 * NULL for any other path. */
char *mcp_http_refusal(const char *path, int status, const char *why,
                       void *ud);

/* ---- mcp-stdio.c: `mcpd --stdio` ---- */
struct mcp_stdio;
/*
 * Serve MCP on the process's stdin and stdout, newline-delimited. Takes
 * both over: fd 1 then points at stderr, so nothing but MCP messages can
 * reach the real stdout, and fd 0 at /dev/null. End of input starts the
 * same drain as SIGTERM. 0 or -1.
 */
int mcp_stdio_start(struct mcpd *d);
/* Bytes not yet written to stdout (the drain waits for them). */
size_t mcp_stdio_unflushed(const struct mcp_stdio *s);
/* Write what is left (bounded wait), restore the descriptors, free. */
void mcp_stdio_free(struct mcp_stdio *s);

#endif
