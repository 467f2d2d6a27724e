/*
 * MCP server features beyond tools (mcp-features.c): resources -- every
 * task as mcpd://tasks/{id}, and what plugins declare (ABI 1.2
 * resource_add, resource_template_add) -- with resources/list, read,
 * templates/list and legacy subscriptions; prompts (prompt_add) with
 * prompts/list and prompts/get; completion/complete; and the content of
 * a tools/call result (MCP content blocks a tool returns, results over
 * mcp.inline_max_bytes as a resource_link to their task).
 *
 * mcp.c owns requests and connections and calls in here; this file
 * answers through the mcp_req_* functions mcp.c exports below. Loop
 * thread only.
 */
#ifndef MCPD_MCP_FEATURES_INTERNAL_H
#define MCPD_MCP_FEATURES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "mcpd/plugin.h"

struct mcpd;
struct mcp_conn;
struct req; /* one JSON-RPC request being served (mcp.c) */

/* Legacy -32002; 2026-07-28 moved "resource not found" to -32602. */
#define MCP_RESOURCE_NOT_FOUND -32002

/* The built-in resources: a task's API form by its id. */
#define MCPF_TASK_SCHEME "mcpd://tasks/"

/* ---- exported by mcp.c for this file ---- */
/* Answer with result (steals it). */
void mcp_req_answer(struct req *r, json_t *result);
/* Answer with a JSON-RPC error (steals data, may be NULL). */
void mcp_req_error(struct req *r, int code, json_t *data, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
/* The request's params (borrowed; may be NULL). */
const json_t *mcp_req_params(const struct req *r);
struct mcp_conn *mcp_req_conn(const struct req *r);
struct mcpd *mcp_req_daemon(const struct req *r);
/* Is it served at 2026-07-28 (modern)? At a revision with structured
 * tool output and resource links (2025-06-18 and later)? */
int mcp_req_modern(const struct req *r);
int mcp_req_structured(const struct req *r);
/* Items per page of a list. */
size_t mcp_req_page_size(const struct req *r);
/* Send a notification to c when it is an initialized legacy session
 * (steals params, may be NULL); dropped otherwise. */
void mcp_conn_notify(struct mcp_conn *c, const char *method, json_t *params);

/* ---- request handlers (methods in mcp.c's table) ---- */
void mcpf_resources_list(struct req *r);
void mcpf_resources_read(struct req *r);
void mcpf_resources_templates_list(struct req *r);
void mcpf_resources_subscribe(struct req *r);
void mcpf_resources_unsubscribe(struct req *r);
void mcpf_prompts_list(struct req *r);
void mcpf_prompts_get(struct req *r);
void mcpf_completion_complete(struct req *r);

/* Add the capabilities of these features to an initialize or discover
 * answer's "capabilities" object; `legacy`: subscriptions and list
 * changes are announced (legacy sessions only). */
void mcpf_capabilities(json_t *caps, int legacy);

/*
 * Fill a CallToolResult `res` for a succeeded task (its API form,
 * borrowed): "content" and "structuredContent" as the result asks
 * (MCPD_RESULT_MCP_CONTENT) or as text and JSON, and a resource_link to
 * the task instead when the content is over mcp.inline_max_bytes. Sets
 * "isError" only when the result's content blocks are malformed.
 * `structured`, `modern` as mcp_req_*.
 */
void mcpf_tool_content(struct mcpd *d, int structured, int modern,
                       const json_t *task, json_t *res);

/* Counters that change when a resource or prompt list changed (for
 * list_changed notifications; not for tasks, which come and go all the
 * time). */
uint64_t mcpf_resources_version(void);
uint64_t mcpf_prompts_version(void);

/* A connection is going: forget its subscriptions. */
void mcpf_conn_gone(struct mcp_conn *c);

/* ---- host table members (ABI 1.2), in host.c's table ---- */
int mcpf_resource_add(struct mcpd_plugin *self,
                      const struct mcpd_resource_def *def);
int mcpf_resource_template_add(struct mcpd_plugin *self,
                               const struct mcpd_resource_def *def);
int mcpf_resource_remove(struct mcpd_plugin *self, const char *uri);
int mcpf_resource_updated(struct mcpd_plugin *self, const char *uri);
int mcpf_prompt_add(struct mcpd_plugin *self,
                    const struct mcpd_prompt_def *def);
int mcpf_prompt_remove(struct mcpd_plugin *self, const char *name);

/* A plugin's code is going away (plugin.c, at retirement): drop what it
 * declared. */
void mcpf_plugin_gone(struct mcpd_plugin *p);

#endif
