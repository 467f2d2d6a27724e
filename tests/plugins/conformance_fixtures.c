/*
 * conformance_fixtures: the tools, resources, resource template and
 * prompts that the server scenarios of the official MCP conformance suite
 * (@modelcontextprotocol/conformance) expect, written against mcpd's
 * plugin ABI 1.2 -- content blocks through MCPD_RESULT_MCP_CONTENT,
 * progress through task_progress, resources and prompts through the host
 * members resource_add, resource_template_add and prompt_add.
 *
 * Not here, because the ABI gives a plugin no way to send a request to
 * the MCP client that called it: test_sampling (sampling/createMessage),
 * test_elicitation and the two SEP-1034/SEP-1330 elicitation tools.
 *
 * Extra, for mcpd's own tests: fixture_touch (tell subscribers that the
 * resource "uri" changed, from the loop), fixture_big (a result of "n"
 * bytes of text, for the inline limit), fixture_bad_content (a malformed
 * content array).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mcpd/plugin.h>

static const struct mcpd_host *host;
static struct mcpd_plugin *me;

/* A 1x1 red PNG and a 8-sample silent 8 kHz WAV. */
static const char png_b64[] =
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMB"
	"AQDJ/pLvAAAAAElFTkSuQmCC";
static const char wav_b64[] =
	"UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAA"
	"AAAAAAAAAAAA";

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Finish with content blocks (stolen). */
static int blocks(struct mcpd_task *t, json_t *content)
{
	return host->task_complete(t, json_pack("{s:o}",
	                                        MCPD_RESULT_MCP_CONTENT, content));
}

static json_t *text_block(const char *text)
{
	return json_pack("{s:s, s:s}", "type", "text", "text", text);
}

/* ---- tools ---- */

static int simple_text(struct mcpd_task *t, void *ud)
{
	(void)ud;
	return blocks(t, json_pack("[o]", text_block(
		"This is a simple text response for testing.")));
}

static int image_content(struct mcpd_task *t, void *ud)
{
	(void)ud;
	return blocks(t, json_pack("[{s:s, s:s, s:s}]", "type", "image", "data",
	                           png_b64, "mimeType", "image/png"));
}

static int audio_content(struct mcpd_task *t, void *ud)
{
	(void)ud;
	return blocks(t, json_pack("[{s:s, s:s, s:s}]", "type", "audio", "data",
	                           wav_b64, "mimeType", "audio/wav"));
}

static int embedded_resource(struct mcpd_task *t, void *ud)
{
	(void)ud;
	return blocks(t, json_pack("[{s:s, s:{s:s, s:s, s:s}}]", "type",
	                           "resource", "resource", "uri",
	                           "test://embedded-resource", "mimeType",
	                           "text/plain", "text",
	                           "This is an embedded resource content."));
}

static int mixed_content(struct mcpd_task *t, void *ud)
{
	(void)ud;
	return blocks(t, json_pack(
		"[o, {s:s, s:s, s:s}, {s:s, s:{s:s, s:s, s:s}}]",
		text_block("Multiple content types test:"), "type", "image",
		"data", png_b64, "mimeType", "image/png", "type", "resource",
		"resource", "uri", "test://mixed-content-resource", "mimeType",
		"application/json", "text", "{\"test\":\"data\",\"value\":123}"));
}

/* Three messages, each one task event (and so one notifications/message
 * at level debug); events are at most ten a second, hence the spacing. */
static int with_logging(struct mcpd_task *t, void *ud)
{
	static const char *const steps[] = {"Tool execution started",
	                                    "Tool processing data",
	                                    "Tool execution completed"};
	(void)ud;
	for (int i = 0; i < 3; i++) {
		if (i)
			nap_ms(120);
		host->task_progress(t, i + 1, 0, steps[i]);
	}
	return blocks(t, json_pack("[o]", text_block(
		"Tool with logging executed successfully")));
}

static int error_handling(struct mcpd_task *t, void *ud)
{
	(void)ud;
	return host->task_fail(t, "tool_failed", "This tool intentionally "
	                       "returns an error for testing");
}

static int with_progress(struct mcpd_task *t, void *ud)
{
	(void)ud;
	for (int i = 0; i <= 2; i++) {
		if (i)
			nap_ms(120);
		if (host->task_cancelled(t))
			return MCPD_E_CANCELLED;
		host->task_progress(t, 50.0 * i, 100, NULL);
	}
	return blocks(t, json_pack("[o]", text_block(
		"Tool with progress executed successfully")));
}

static int reconnection(struct mcpd_task *t, void *ud)
{
	(void)ud;
	nap_ms(200);
	return blocks(t, json_pack("[o]", text_block(
		"Reconnection test completed successfully")));
}

static int schema_tool(struct mcpd_task *t, void *ud)
{
	(void)ud;
	return blocks(t, json_pack("[o]", text_block(
		"JSON Schema 2020-12 tool called")));
}

static int touch(struct mcpd_task *t, void *ud)
{
	(void)ud;
	const char *uri = json_string_value(json_object_get(
		host->task_input(t), "uri"));
	int rc = host->resource_updated(me, uri);
	if (rc < 0)
		return host->task_fail(t, "touch_failed", host->strerror(rc));
	return host->task_complete(t, json_pack("{s:s}", "touched", uri));
}

static int big(struct mcpd_task *t, void *ud)
{
	(void)ud;
	json_int_t n = json_integer_value(json_object_get(host->task_input(t),
	                                                  "n"));
	char *s = malloc((size_t)n + 1);
	if (!s)
		return MCPD_E_NOMEM;
	memset(s, 'x', (size_t)n);
	s[n] = '\0';
	json_t *r = json_pack("{s:s, s:I}", "text", s, "n", n);
	free(s);
	return host->task_complete(t, r);
}

static int bad_content(struct mcpd_task *t, void *ud)
{
	(void)ud;
	return blocks(t, json_pack("[o, {s:s}]", text_block("fine"), "type",
	                           "image"));
}

/* ---- resources ---- */

static int read_static_text(const char *uri, const json_t *vars,
                            json_t **out, void *ud)
{
	(void)uri;
	(void)vars;
	*out = json_pack("{s:s}", "text", (const char *)ud);
	return 0;
}

static int read_static_binary(const char *uri, const json_t *vars,
                              json_t **out, void *ud)
{
	(void)uri;
	(void)vars;
	(void)ud;
	*out = json_pack("{s:s}", "blob", png_b64);
	return 0;
}

/* test://template/{id}/data; id "missing" names nothing. */
static int read_template(const char *uri, const json_t *vars, json_t **out,
                         void *ud)
{
	(void)uri;
	(void)ud;
	const char *id = json_string_value(json_object_get(vars, "id"));
	if (!id)
		return MCPD_E_INVAL;
	if (strcmp(id, "missing") == 0)
		return MCPD_E_NOTFOUND;
	json_t *doc = json_pack("{s:s, s:b, s:o}", "id", id, "templateTest", 1,
	                        "data", json_sprintf("Data for ID: %s", id));
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!text)
		return MCPD_E_NOMEM;
	*out = json_pack("{s:s}", "text", text);
	free(text);
	return 0;
}

/* Candidates starting with `value`, in the order given. */
static json_t *complete_from(const char *const *cands, const char *value)
{
	json_t *a = json_array();
	for (; *cands; cands++)
		if (strncmp(*cands, value, strlen(value)) == 0)
			json_array_append_new(a, json_string(*cands));
	return a;
}

static json_t *complete_id(const char *arg, const char *value,
                           const json_t *ctx, void *ud)
{
	static const char *const ids[] = {"123", "124", "456", NULL};
	(void)arg;
	(void)ctx;
	(void)ud;
	return complete_from(ids, value);
}

/* ---- prompts ---- */

static json_t *user(json_t *content)
{
	return json_pack("{s:s, s:o}", "role", "user", "content", content);
}

static int prompt_simple(const json_t *args, json_t **out, void *ud)
{
	(void)args;
	(void)ud;
	*out = json_pack("[o]", user(text_block(
		"This is a simple prompt for testing.")));
	return 0;
}

static int prompt_args(const json_t *args, json_t **out, void *ud)
{
	(void)ud;
	const char *a1 = json_string_value(json_object_get(args, "arg1"));
	const char *a2 = json_string_value(json_object_get(args, "arg2"));
	*out = json_pack("[o]", user(json_pack("{s:s, s:o}", "type", "text",
		"text", json_sprintf("Prompt with arguments: arg1='%s', "
		                     "arg2='%s'", a1, a2))));
	return 0;
}

static json_t *complete_arg(const char *arg, const char *value,
                            const json_t *ctx, void *ud)
{
	static const char *const arg1[] = {"paris", "park", "party", "test",
	                                   "testing", NULL};
	static const char *const arg2[] = {"world", "wide", NULL};
	(void)ctx;
	(void)ud;
	return complete_from(strcmp(arg, "arg1") == 0 ? arg1 : arg2, value);
}

static int prompt_embedded(const json_t *args, json_t **out, void *ud)
{
	(void)ud;
	const char *uri = json_string_value(json_object_get(args,
	                                                    "resourceUri"));
	*out = json_pack("[o, o]", user(json_pack(
		"{s:s, s:{s:s, s:s, s:s}}", "type", "resource", "resource",
		"uri", uri, "mimeType", "text/plain", "text",
		"Embedded resource content for testing.")),
		user(text_block("Please process the embedded resource above.")));
	return 0;
}

static int prompt_image(const json_t *args, json_t **out, void *ud)
{
	(void)args;
	(void)ud;
	*out = json_pack("[o, o]", user(json_pack("{s:s, s:s, s:s}", "type",
		"image", "data", png_b64, "mimeType", "image/png")),
		user(text_block("Please analyze the image above.")));
	return 0;
}

/* ---- declarations ---- */

#define NO_ARGS "{\"type\":\"object\",\"properties\":{}}"

static const struct tool {
	const char *name, *description, *input;
	mcpd_handler_fn fn;
	unsigned flags;
} tools[] = {
	{"test_simple_text", "Returns a simple text block", NO_ARGS,
	 simple_text, 0},
	{"test_image_content", "Returns a PNG image block", NO_ARGS,
	 image_content, 0},
	{"test_audio_content", "Returns a WAV audio block", NO_ARGS,
	 audio_content, 0},
	{"test_embedded_resource", "Returns an embedded text resource",
	 NO_ARGS, embedded_resource, 0},
	{"test_multiple_content_types", "Returns text, image and resource "
	 "blocks", NO_ARGS, mixed_content, 0},
	{"test_tool_with_logging", "Reports three steps while it runs",
	 NO_ARGS, with_logging, MCPD_CAP_BLOCKING},
	{"test_error_handling", "Always fails", NO_ARGS, error_handling, 0},
	{"test_tool_with_progress", "Reports progress 0, 50, 100 of 100",
	 NO_ARGS, with_progress, MCPD_CAP_BLOCKING},
	{"test_reconnection", "Runs for a moment, then answers", NO_ARGS,
	 reconnection, MCPD_CAP_BLOCKING},
	{"json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features",
	 "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
	 "\"type\":\"object\",\"$defs\":{\"address\":{\"type\":\"object\","
	 "\"properties\":{\"street\":{\"type\":\"string\"},\"city\":"
	 "{\"type\":\"string\"}}}},\"properties\":{\"name\":{\"type\":"
	 "\"string\"},\"address\":{\"$ref\":\"#/$defs/address\"}},"
	 "\"additionalProperties\":false}", schema_tool, 0},
	{"fixture_touch", "Tells subscribers that a resource changed",
	 "{\"type\":\"object\",\"properties\":{\"uri\":{\"type\":\"string\"}},"
	 "\"required\":[\"uri\"]}", touch, 0},
	{"fixture_big", "Returns n bytes of text",
	 "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\","
	 "\"minimum\":0,\"maximum\":10000000}},\"required\":[\"n\"]}", big, 0},
	{"fixture_bad_content", "Returns a malformed content array", NO_ARGS,
	 bad_content, 0},
};

static const struct res {
	const char *uri, *name, *description, *mime;
	int (*read)(const char *, const json_t *, json_t **, void *);
	const char *text;
} resources[] = {
	{"test://static-text", "static-text", "A static text resource",
	 "text/plain", read_static_text,
	 "This is the content of the static text resource."},
	{"test://static-binary", "static-binary", "A static PNG image",
	 "image/png", read_static_binary, NULL},
	{"test://watched-resource", "watched-resource", "A resource to "
	 "subscribe to (fixture_touch announces changes)", "text/plain",
	 read_static_text, "Watched resource content."},
};

static const struct prompt {
	const char *name, *description, *arguments;
	int (*get)(const json_t *, json_t **, void *);
	json_t *(*complete)(const char *, const char *, const json_t *, void *);
} prompts[] = {
	{"test_simple_prompt", "A prompt without arguments", NULL,
	 prompt_simple, NULL},
	{"test_prompt_with_arguments", "A prompt with two arguments",
	 "[{\"name\":\"arg1\",\"description\":\"First test argument\","
	 "\"required\":true},{\"name\":\"arg2\",\"description\":\"Second "
	 "test argument\",\"required\":true}]", prompt_args, complete_arg},
	{"test_prompt_with_embedded_resource", "A prompt embedding a resource",
	 "[{\"name\":\"resourceUri\",\"description\":\"URI of the resource to "
	 "embed\",\"required\":true}]", prompt_embedded, NULL},
	{"test_prompt_with_image", "A prompt with an image", NULL,
	 prompt_image, NULL},
};

static int fixtures_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	int rc;
	host = h;
	me = self;
	if (!MCPD_HOST_HAS(h, prompt_remove))
		return MCPD_E_STATE;
	for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
		struct mcpd_capability_def def = {
			.size = sizeof def, .name = tools[i].name,
			.version = "1.0", .description = tools[i].description,
			.input_schema = tools[i].input, .flags = tools[i].flags,
			.handler = tools[i].fn,
		};
		if ((rc = h->capability_add(self, &def)) < 0)
			return rc;
	}
	for (size_t i = 0; i < sizeof resources / sizeof *resources; i++) {
		struct mcpd_resource_def def = {
			.size = sizeof def, .uri = resources[i].uri,
			.name = resources[i].name,
			.description = resources[i].description,
			.mime_type = resources[i].mime, .read = resources[i].read,
			.ud = (void *)resources[i].text,
		};
		if ((rc = h->resource_add(self, &def)) < 0)
			return rc;
	}
	struct mcpd_resource_def tpl = {
		.size = sizeof tpl, .uri = "test://template/{id}/data",
		.name = "template-data", .title = "Data by id",
		.description = "A JSON document per id",
		.mime_type = "application/json", .read = read_template,
		.complete = complete_id,
	};
	if ((rc = h->resource_template_add(self, &tpl)) < 0)
		return rc;
	for (size_t i = 0; i < sizeof prompts / sizeof *prompts; i++) {
		struct mcpd_prompt_def def = {
			.size = sizeof def, .name = prompts[i].name,
			.description = prompts[i].description,
			.arguments = prompts[i].arguments, .get = prompts[i].get,
			.complete = prompts[i].complete,
		};
		if ((rc = h->prompt_add(self, &def)) < 0)
			return rc;
	}
	return 0;
}

MCPD_PLUGIN("conformance_fixtures", "1.0.0",
            "The fixtures of the MCP conformance suite's server scenarios",
            0, fixtures_init, NULL)
