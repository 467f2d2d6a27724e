/* JSON-RPC 2.0 messages (see jsonrpc-internal.h). */
#include "jsonrpc-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schema-internal.h"

static int fail(struct jsonrpc_error *err, int code, json_t *id,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(struct jsonrpc_error *err, int code, json_t *id,
                const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	err->code = code;
	err->id = id;
	return -1;
}

json_t *jsonrpc_parse(const char *text, size_t len, int max_depth,
                      struct jsonrpc_error *err)
{
	if (json_text_depth(text, len, max_depth) > max_depth) {
		fail(err, JSONRPC_INVALID_REQUEST, NULL,
		     "message nested deeper than %d levels", max_depth);
		return NULL;
	}
	json_error_t je;
	/* Any value: "1" is JSON, so an invalid request rather than a
	 * parse error. Duplicate keys would make the meaning ambiguous. */
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY |
	                       JSON_REJECT_DUPLICATES, &je);
	if (!j)
		fail(err, JSONRPC_PARSE_ERROR, NULL, "parse error: %s "
		     "(column %d)", je.text, je.column);
	return j;
}

int jsonrpc_id_valid(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
}

int jsonrpc_id_key(const json_t *id, char *out, size_t outlen)
{
	int n;
	if (json_is_string(id))
		n = snprintf(out, outlen, "s:%s", json_string_value(id));
	else if (json_is_integer(id))
		n = snprintf(out, outlen, "n:%lld",
		             (long long)json_integer_value(id));
	else
		return -1;
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int jsonrpc_check(json_t *msg, struct jsonrpc_msg *m, struct jsonrpc_error *err)
{
	memset(m, 0, sizeof *m);
	if (!json_is_object(msg))
		return fail(err, JSONRPC_INVALID_REQUEST, NULL,
		            "a message must be a JSON object");
	json_t *id = json_object_get(msg, "id");
	json_t *method = json_object_get(msg, "method");
	json_t *params = json_object_get(msg, "params");
	/* The id is echoed in the error only when it is one a request may
	 * carry: anything else could not be matched by the client. */
	json_t *echo = jsonrpc_id_valid(id) ? id : NULL;
	const char *v = json_string_value(json_object_get(msg, "jsonrpc"));
	if (!v || strcmp(v, "2.0") != 0)
		return fail(err, JSONRPC_INVALID_REQUEST, echo,
		            "\"jsonrpc\" must be \"2.0\"");
	if (!method && (json_object_get(msg, "result") ||
	                json_object_get(msg, "error"))) {
		if (!id)
			return fail(err, JSONRPC_INVALID_REQUEST, NULL,
			            "a response needs an id");
		m->kind = JSONRPC_RESPONSE;
		m->id = id;
		return 0;
	}
	if (!json_is_string(method) || !json_string_length(method))
		return fail(err, JSONRPC_INVALID_REQUEST, echo,
		            "\"method\" must be a non-empty string");
	if (id && !echo)
		return fail(err, JSONRPC_INVALID_REQUEST, NULL,
		            "\"id\" must be a string or an integer");
	m->kind = id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
	m->method = json_string_value(method);
	m->id = id;
	if (params && json_is_array(params))
		return fail(err, JSONRPC_INVALID_PARAMS, echo,
		            "\"params\" must be an object");
	if (params && !json_is_object(params))
		return fail(err, JSONRPC_INVALID_REQUEST, echo,
		            "\"params\" must be an object");
	m->params = params;
	return 0;
}

static json_t *envelope(const json_t *id)
{
	json_t *j = json_object();
	json_object_set_new(j, "jsonrpc", json_string("2.0"));
	json_object_set_new(j, "id", id ? json_deep_copy(id) : json_null());
	return j;
}

json_t *jsonrpc_result(const json_t *id, json_t *result)
{
	json_t *j = envelope(id);
	json_object_set_new(j, "result", result ? result : json_object());
	return j;
}

json_t *jsonrpc_error(const json_t *id, int code, json_t *data,
                      const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_t *e = json_pack("{s:i, s:s}", "code", code, "message", msg);
	if (data)
		json_object_set_new(e, "data", data);
	json_t *j = envelope(id);
	json_object_set_new(j, "error", e);
	return j;
}

json_t *jsonrpc_error_from(const struct jsonrpc_error *err)
{
	return jsonrpc_error(err->id, err->code, NULL, "%s", err->message);
}

json_t *jsonrpc_notification(const char *method, json_t *params)
{
	json_t *j = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	if (params)
		json_object_set_new(j, "params", params);
	return j;
}
