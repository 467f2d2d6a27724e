/*
 * The REST layer: one request, its answer as JSON, and every failure turned
 * into the documented exit code with one line on stderr. Error answers have
 * the shape {"error": {"code", "message", "details"}}; anything else (a
 * proxy's HTML page) is still reported by status and reason.
 */
#include "mcpctl-internal.h"

#include <stdlib.h>
#include <string.h>

/* " (at /path: reason)" from an invalid_input's details, when present. */
static void add_details(struct buf *line, const json_t *details)
{
	const char *path = jstr(details, "path");
	const char *reason = jstr(details, "reason");

	if (path && reason)
		buf_printf(line, " (at %s: %s)", *path ? path : "/", reason);
	else if (path)
		buf_printf(line, " (at %s)", *path ? path : "/");
}

/* The first line of a non-JSON body, shortened: better than nothing. */
static void add_text(struct buf *line, const struct buf *body)
{
	size_t n;

	if (!body->len || !body->p)
		return;
	n = strcspn(body->p, "\r\n");
	if (n > 200)
		n = 200;
	if (n) {
		buf_adds(line, ": ");
		buf_add(line, body->p, n);
	}
}

/* For servers that send an empty reason phrase (HTTP/1.1 allows it). */
static const char *reason_for(int status)
{
	static const struct {
		int status;
		const char *text;
	} known[] = {
		{ 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 409, "Conflict" },
		{ 413, "Payload Too Large" }, { 415, "Unsupported Media Type" },
		{ 422, "Unprocessable Content" }, { 429, "Too Many Requests" },
		{ 500, "Internal Server Error" }, { 502, "Bad Gateway" },
		{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
	};

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (known[i].status == status)
			return known[i].text;
	return "error";
}

static void report_error(struct http_conn *c, const struct buf *body)
{
	json_t *doc = json_loadb(body->p ? body->p : "", body->len, JSON_ALLOW_NUL, NULL);
	json_t *err = json_object_get(doc, "error");
	const char *code = jstr(err, "code"), *msg = jstr(err, "message");
	const char *reason = http_reason(c), *retry = http_retry_after(c);
	struct buf line = { 0 };

	buf_printf(&line, "%d %s", http_status(c),
	           code ? code : *reason ? reason : reason_for(http_status(c)));
	if (msg)
		buf_printf(&line, ": %s", msg);
	else if (!code && !doc)
		add_text(&line, body);
	add_details(&line, json_object_get(err, "details"));
	if (retry)
		buf_printf(&line, " (retry after %s s)", retry);
	warnx("%s", buf_str(&line));
	buf_free(&line);
	json_decref(doc);
}

/* Send and read the whole answer; EXIT_OK or EXIT_CONNECT. */
static int exchange(struct ctl *ctl, struct http_conn *c,
                    const struct http_request *req, struct buf *body)
{
	struct http_request r = *req;

	r.auth = ctl->api_key;
	if (http_open(c, &r) < 0 || http_read_all(c, body) < 0) {
		warnx("%s", http_error(c));
		return EXIT_CONNECT;
	}
	return EXIT_OK;
}

static int decode(struct http_conn *c, const struct buf *body, json_t **out)
{
	json_error_t jerr;

	*out = json_loadb(body->p ? body->p : "", body->len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
	                  &jerr);
	if (*out)
		return EXIT_OK;
	warnx("%d %s: the answer is not JSON: %s", http_status(c),
	      http_reason(c), jerr.text);
	return EXIT_SERVER;
}

int api_call(struct ctl *ctl, const char *method, const char *path,
             json_t *body, int timeout_ms, int *status, json_t **out)
{
	struct http_conn *c = http_conn_new(&ctl->url);
	struct http_request req = { .method = method, .path = path,
	                            .timeout_ms = timeout_ms };
	struct buf answer = { 0 };
	char *text = NULL;
	int rc, st;

	if (out)
		*out = NULL;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		req.body = text;
		req.body_len = strlen(text);
	}
	rc = exchange(ctl, c, &req, &answer);
	if (rc != EXIT_OK)
		goto out;
	st = http_status(c);
	if (status)
		*status = st;
	if (st < 200 || st > 299) {
		report_error(c, &answer);
		rc = EXIT_SERVER;
	} else if (out) {
		rc = decode(c, &answer, out);
	}
out:
	free(text);
	buf_free(&answer);
	http_conn_free(c);
	return rc;
}

int api_probe(struct ctl *ctl, const char *path, int *status, json_t **out)
{
	struct http_conn *c = http_conn_new(&ctl->url);
	struct http_request req = { .method = "GET", .path = path,
	                            .timeout_ms = API_TIMEOUT_MS };
	struct buf answer = { 0 };
	int rc = exchange(ctl, c, &req, &answer);

	*out = NULL;
	if (rc == EXIT_OK) {
		*status = http_status(c);
		*out = json_loadb(answer.p ? answer.p : "", answer.len,
		                  JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	}
	buf_free(&answer);
	http_conn_free(c);
	return rc;
}

struct http_conn *api_stream(struct ctl *ctl, const char *path,
                             const char *last_event_id, int *rc)
{
	struct http_conn *c = http_conn_new(&ctl->url);
	/* Events may be minutes apart: wait for them as long as it takes. */
	struct http_request req = { .method = "GET", .path = path,
	                            .accept = "text/event-stream",
	                            .auth = ctl->api_key,
	                            .last_event_id = last_event_id,
	                            .timeout_ms = -1 };
	struct buf answer = { 0 };
	int st;

	if (http_open(c, &req) < 0) {
		warnx("%s", http_error(c));
		*rc = EXIT_CONNECT;
		goto fail;
	}
	st = http_status(c);
	if (st >= 200 && st <= 299)
		return c;
	if (http_read_all(c, &answer) < 0) {
		warnx("%s", http_error(c));
		*rc = EXIT_CONNECT;
		goto fail;
	}
	report_error(c, &answer);
	*rc = EXIT_SERVER;
fail:
	buf_free(&answer);
	http_conn_free(c);
	return NULL;
}
