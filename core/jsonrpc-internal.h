/*
 * JSON-RPC 2.0 as MCP uses it: reading one message and writing responses,
 * errors and notifications. Knows nothing of transports or of what any
 * method means (mcp.c does).
 */
#ifndef MCPD_JSONRPC_INTERNAL_H
#define MCPD_JSONRPC_INTERNAL_H

#include <stddef.h>
#include <jansson.h>

/* The standard codes; MCP's own (-32020..-32099) are in mcp-internal.h. */
#define JSONRPC_PARSE_ERROR -32700
#define JSONRPC_INVALID_REQUEST -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS -32602
#define JSONRPC_INTERNAL_ERROR -32603

enum jsonrpc_kind { JSONRPC_REQUEST, JSONRPC_NOTIFICATION, JSONRPC_RESPONSE };

/* One checked message; every pointer is borrowed from the message. */
struct jsonrpc_msg {
	enum jsonrpc_kind kind;
	const char *method; /* requests and notifications */
	json_t *id;         /* requests and responses; NULL for notifications */
	json_t *params;     /* an object, or NULL when absent */
};

/* Why a message was refused; id is borrowed, NULL when it was unreadable. */
struct jsonrpc_error {
	int code;
	char message[256];
	json_t *id;
};

/*
 * Parse one message's text (any JSON value: the caller tells a batch from
 * a message). NULL with err filled (-32700, or -32600 when nested deeper
 * than max_depth) or a new reference.
 */
json_t *jsonrpc_parse(const char *text, size_t len, int max_depth,
                      struct jsonrpc_error *err);

/*
 * Check one message (not a batch) against JSON-RPC 2.0 and MCP's rules: an
 * object with "jsonrpc": "2.0"; a request has a string or integer id (MCP
 * forbids null) and a string method; params, when present, is an object
 * (an array is -32602: valid JSON-RPC, but no MCP method takes one). 0 with
 * m filled, or -1 with err.
 */
int jsonrpc_check(json_t *msg, struct jsonrpc_msg *m, struct jsonrpc_error *err);

/* A string or integer: what MCP allows as a request id. */
int jsonrpc_id_valid(const json_t *id);
/* A map key for an id ("s:abc", "n:12"); 0, or -1 if invalid or too long. */
int jsonrpc_id_key(const json_t *id, char *out, size_t outlen);

/* {"jsonrpc","id","result"}: steals result. New reference. */
json_t *jsonrpc_result(const json_t *id, json_t *result);
/* {"jsonrpc","id","error":{code,message,data?}}: id NULL writes null;
 * steals data (may be NULL). New reference. */
json_t *jsonrpc_error(const json_t *id, int code, json_t *data,
                      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The response for a refused message (new reference). */
json_t *jsonrpc_error_from(const struct jsonrpc_error *err);
/* {"jsonrpc","method","params"?}: steals params (may be NULL). */
json_t *jsonrpc_notification(const char *method, json_t *params);

#endif
