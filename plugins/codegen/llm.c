/*
 * llm.c -- the LLM backend: an OpenAI-compatible chat-completions client
 * (llama.cpp server, Ollama, vLLM, OpenAI). Asks for a streamed answer
 * ("stream": true) and reports the pieces as task progress; accepts a plain
 * chat.completion JSON from servers that do not stream.
 */
#include "codegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX (4 * 1024 * 1024)

static const char system_prompt[] =
	"You are a careful software engineer who writes complete, working "
	"code. Answer with the files to write, each in its own fenced code "
	"block whose info string is the language and then the file's "
	"relative path, for example:\n"
	"```python calc.py\n...\n```\n"
	"Always give the whole content of each file you write, never a "
	"fragment or a diff. Keep prose outside the code blocks short.";

const char *llm_system_prompt(void)
{
	return system_prompt;
}

static void add_fenced(struct sbuf *b, const json_t *files)
{
	const char *path;
	json_t *v;
	json_object_foreach((json_t *)files, path, v) {
		const char *text = json_string_value(v);
		if (!text)
			continue;
		/* a fence longer than any backtick run in the text */
		size_t run = 0, best = 2;
		for (const char *p = text; *p; p++) {
			run = *p == '`' ? run + 1 : 0;
			if (run > best)
				best = run;
		}
		char fence[64];
		size_t fl = best + 1 < sizeof fence ? best + 1 : sizeof fence - 1;
		memset(fence, '`', fl);
		fence[fl] = '\0';
		size_t tl = strlen(text), pl = strlen(path);
		const char *lang =
			pl > 3 && !strcmp(path + pl - 3, ".py") ? "python "
			: pl > 2 && (!strcmp(path + pl - 2, ".c") ||
			             !strcmp(path + pl - 2, ".h")) ? "c "
			: pl > 3 && !strcmp(path + pl - 3, ".sh") ? "sh " : "";
		sb_addf(b, "\n%s%s%s\n%s%s%s\n", fence, lang, path, text,
		        tl && text[tl - 1] == '\n' ? "" : "\n", fence);
	}
}

char *llm_prompt(const struct cg_request *req)
{
	struct sbuf b = {0};
	const char *ext = cg_lang_ext(req->lang);
	static const char *const lang_names[] = {"C (C11)", "Python 3",
	                                         "POSIX shell"};
	sb_addf(&b, "Language: %s\n", lang_names[req->lang]);
	sb_addf(&b, "Name: %s\n", req->name);
	if (req->signature)
		sb_addf(&b, "Signature: %s\n", req->signature);
	if (req->description)
		sb_addf(&b, "Description: %s\n", req->description);
	sb_add(&b, "\n");
	switch (req->target) {
	case CG_CODE:
		sb_addf(&b, "Write the code (main file: %s.%s).\n", req->name, ext);
		break;
	case CG_TESTS:
		sb_addf(&b, "Write tests only (file: test_%s.%s)%s.\n", req->name,
		        ext, req->lang == CG_PYTHON ? " for pytest"
		             : req->lang == CG_C ? " as a TAP program with a main()"
		                                 : " as a TAP shell script");
		break;
	case CG_BOTH:
		sb_addf(&b, "Write the code (main file: %s.%s) and its tests "
		        "(test_%s.%s%s).\n", req->name, ext, req->name, ext,
		        req->lang == CG_PYTHON ? ", pytest"
		        : req->lang == CG_C ? ", a TAP program with a main()" : "");
		if (req->lang == CG_C)
			sb_addf(&b, "Put the declarations in %s.h.\n", req->name);
		break;
	}
	if (req->instructions)
		sb_addf(&b, "\nInstructions:\n%s\n", req->instructions);
	if (req->files && json_object_size(req->files)) {
		sb_add(&b, "\nExisting files of the project (change them only "
		           "where needed; repeat a file in full if you change "
		           "it):\n");
		add_fenced(&b, req->files);
	}
	if (req->tests && json_object_size(req->tests)) {
		sb_add(&b, "\nThe code must pass these tests (do not change "
		           "them):\n");
		add_fenced(&b, req->tests);
	}
	return sb_take(&b);
}

/* ---- the answer ---- */

struct answer {
	struct llm_ctx *ctx;
	int sse;               /* Content-Type text/event-stream */
	struct sbuf raw;       /* a non-SSE body, or the current SSE line */
	struct sbuf data;      /* the current SSE event's data */
	struct sbuf text;      /* the reply so far */
	int done;              /* [DONE] seen */
	int chunks;            /* SSE events with a choice */
	char finish[32];
	struct cg_err err;     /* set when parsing failed */
	int failed;
};

static void progress(struct answer *a, int last)
{
	struct llm_ctx *c = a->ctx;
	if (!c->task)
		return;
	char msg[200];
	/* the tail of the text, on one line, so a watcher sees it come */
	const char *t = sb_str(&a->text);
	size_t n = a->text.len, from = n > 60 ? n - 60 : 0;
	while (from < n && (t[from] & 0xC0) == 0x80)
		from++; /* not inside a UTF-8 sequence */
	snprintf(msg, sizeof msg, "llm: %ld tokens, %zu characters%s%s",
	         c->tokens, n, last ? " (complete)" : ": ", last ? "" : t + from);
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	c->host->task_progress(c->task, (double)c->tokens,
	                       last ? (double)c->tokens : 0.0, msg);
}

static int take_message(struct answer *a, const json_t *j)
{
	const json_t *e = json_object_get(j, "error");
	if (e) {
		const char *m = json_string_value(json_object_get(e, "message"));
		cg_fail(&a->err, MCPD_E_FAILED, "llm_error",
		        "the LLM server reported an error: %s",
		        m ? m : json_is_string(e) ? json_string_value(e)
		                                 : "(no message)");
		return -1;
	}
	const json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
	const json_t *msg = json_object_get(ch, "message");
	const json_t *content = json_object_get(msg, "content");
	if (!json_is_string(content)) {
		cg_fail(&a->err, MCPD_E_FAILED, "llm_bad_reply",
		        "the LLM server's reply has no choices[0].message.content "
		        "string");
		return -1;
	}
	sb_add(&a->text, json_string_value(content));
	const char *fr = json_string_value(json_object_get(ch, "finish_reason"));
	if (fr)
		snprintf(a->finish, sizeof a->finish, "%s", fr);
	a->ctx->tokens = json_integer_value(json_object_get(
		json_object_get(j, "usage"), "completion_tokens"));
	return 0;
}

/* One SSE event's data. */
static int sse_event(struct answer *a)
{
	const char *d = sb_str(&a->data);
	if (a->data.len == 0)
		return 0;
	if (strcmp(d, "[DONE]") == 0) {
		a->done = 1;
		return 1;
	}
	json_error_t je;
	json_t *j = json_loads(d, 0, &je);
	if (!j) {
		cg_fail(&a->err, MCPD_E_FAILED, "llm_bad_reply",
		        "the LLM server streamed an event that is not JSON "
		        "(%s): %.80s", je.text, d);
		return -1;
	}
	int rc = 0;
	const json_t *e = json_object_get(j, "error");
	const json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
	if (e) {
		rc = take_message(a, j);
	} else if (ch) {
		const json_t *c = json_object_get(json_object_get(ch, "delta"),
		                                  "content");
		if (json_is_string(c) && json_string_length(c)) {
			sb_add(&a->text, json_string_value(c));
			a->ctx->tokens++;
			progress(a, 0);
		}
		const char *fr = json_string_value(
			json_object_get(ch, "finish_reason"));
		if (fr)
			snprintf(a->finish, sizeof a->finish, "%s", fr);
		a->chunks++;
	} else if (!json_is_object(j)) {
		rc = cg_fail(&a->err, MCPD_E_FAILED, "llm_bad_reply",
		             "the LLM server streamed an event that is not a "
		             "JSON object");
	}
	json_decref(j);
	a->data.len = 0;
	if (a->data.p)
		a->data.p[0] = '\0';
	if (a->text.len > REPLY_MAX)
		rc = cg_fail(&a->err, MCPD_E_FAILED, "llm_bad_reply",
		             "the LLM reply exceeds %d bytes", REPLY_MAX);
	return rc;
}

/* One SSE line (without its end). */
static int sse_line(struct answer *a, const char *l, size_t n)
{
	if (n && l[n - 1] == '\r')
		n--;
	if (n == 0)
		return sse_event(a);
	if (l[0] == ':')
		return 0; /* comment */
	if (n >= 5 && memcmp(l, "data:", 5) == 0) {
		l += 5;
		n -= 5;
		if (n && *l == ' ') {
			l++;
			n--;
		}
		if (a->data.len)
			sb_add(&a->data, "\n");
		sb_addn(&a->data, l, n);
	}
	return 0; /* event:, id:, retry: are of no use here */
}

static int on_body(const char *p, size_t n, void *arg)
{
	struct answer *a = arg;
	if (a->done || a->failed)
		return 1;
	if (!a->sse) {
		if (a->raw.len + n > REPLY_MAX) {
			cg_fail(&a->err, MCPD_E_FAILED, "llm_bad_reply",
			        "the LLM reply exceeds %d bytes", REPLY_MAX);
			a->failed = 1;
			return 1;
		}
		sb_addn(&a->raw, p, n);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n') {
			sb_addn(&a->raw, p + i, 1);
			if (a->raw.len > REPLY_MAX) {
				cg_fail(&a->err, MCPD_E_FAILED, "llm_bad_reply",
				        "an event line of the LLM stream exceeds "
				        "%d bytes", REPLY_MAX);
				a->failed = 1;
				return 1;
			}
			continue;
		}
		int rc = sse_line(a, sb_str(&a->raw), a->raw.len);
		a->raw.len = 0;
		if (a->raw.p)
			a->raw.p[0] = '\0';
		if (rc < 0) {
			a->failed = 1;
			return 1;
		}
		if (rc > 0)
			return 1; /* [DONE] */
	}
	return 0;
}

static void on_head(int status, const char *ctype, void *arg)
{
	struct answer *a = arg;
	(void)status;
	a->sse = ctype && strstr(ctype, "text/event-stream") != NULL;
}

static int cancelled(void *arg)
{
	struct llm_ctx *c = arg;
	return c->task && c->host->task_cancelled(c->task);
}

/* A non-2xx body, shortened to one line for an error sentence. */
static void one_line(char *out, size_t len, const char *body)
{
	size_t k = 0;
	for (const char *p = body ? body : ""; *p && k + 4 < len; p++)
		out[k++] = *p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p;
	if (body && strlen(body) > k)
		snprintf(out + k, len - k, "...");
	else
		out[k] = '\0';
}

static json_t *request_body(const struct llm_ctx *ctx)
{
	json_t *b = json_pack("{s:O, s:b, s:I, s:f}", "messages", ctx->messages,
	                      "stream", 1, "max_tokens",
	                      (json_int_t)ctx->cfg.max_tokens, "temperature",
	                      ctx->cfg.temperature);
	if (b && ctx->cfg.model)
		json_object_set_new(b, "model", json_string(ctx->cfg.model));
	return b;
}

int llm_chat(struct llm_ctx *ctx, const char *user, struct cg_err *err)
{
	char url[2300], *body = NULL, *ctype = NULL, *errbody = NULL;
	const char *key = NULL;
	struct answer a = {.ctx = ctx};
	int status = 0, rc;

	if (ctx->cfg.api_key_env) {
		key = getenv(ctx->cfg.api_key_env);
		if (!key || !*key)
			return cg_fail(err, MCPD_E_FAILED, "llm_config",
			               "the environment variable %s named by "
			               "llm.api_key_env is not set in the daemon's "
			               "environment", ctx->cfg.api_key_env);
	}
	size_t bl = strlen(ctx->cfg.base_url);
	while (bl && ctx->cfg.base_url[bl - 1] == '/')
		bl--;
	if (bl + sizeof "/chat/completions" > sizeof url)
		return cg_fail(err, MCPD_E_FAILED, "llm_config",
		               "llm.base_url is too long");
	snprintf(url, sizeof url, "%.*s/chat/completions", (int)bl,
	         ctx->cfg.base_url);
	json_array_append_new(ctx->messages, json_pack("{s:s, s:s}", "role",
	                                               "user", "content", user));
	json_t *jb = request_body(ctx);
	body = jb ? json_dumps(jb, JSON_COMPACT) : NULL;
	json_decref(jb);
	if (!body)
		return cg_fail(err, MCPD_E_NOMEM, "failed", "out of memory");

	json_decref(ctx->reply_text);
	ctx->reply_text = NULL;
	ctx->tokens = 0;
	struct http_request hr = {
		.url = url, .body = body, .bearer = key,
		.ca_file = ctx->cfg.ca_file, .timeout_ms = ctx->cfg.timeout_ms,
		.cancelled = cancelled, .cancel_arg = ctx,
		.on_head = on_head, .on_body = on_body, .body_arg = &a,
	};
	rc = http_post(&hr, &status, &ctype, &errbody, err);
	if (rc != 0)
		goto out;
	if (a.failed) {
		*err = a.err;
		rc = MCPD_E_FAILED;
		goto out;
	}
	if (status < 200 || status > 299) {
		char line[400];
		one_line(line, sizeof line, errbody);
		rc = cg_fail(err, MCPD_E_FAILED, "llm_http_error",
		             "the LLM server answered HTTP %d%s%s%s", status,
		             status == 401 || status == 403
		                     ? " (check the API key in llm.api_key_env)"
		                     : "",
		             line[0] ? ": " : "", line);
		goto out;
	}
	if (!a.sse) {
		json_error_t je;
		json_t *j = json_loadb(sb_str(&a.raw), a.raw.len, 0, &je);
		if (!j) {
			char line[200];
			one_line(line, sizeof line, sb_str(&a.raw));
			rc = cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
			             "the LLM server's reply is not JSON (%s): %s",
			             je.text, line);
			goto out;
		}
		rc = take_message(&a, j);
		json_decref(j);
		if (rc < 0) {
			*err = a.err;
			rc = MCPD_E_FAILED;
			goto out;
		}
	} else {
		if (a.raw.len && !a.done) /* a last line without its end */
			sse_line(&a, sb_str(&a.raw), a.raw.len);
		if (!a.done && a.data.len && sse_event(&a) < 0) {
			*err = a.err;
			rc = MCPD_E_FAILED;
			goto out;
		}
		if (!a.chunks) {
			rc = cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
			             "the LLM server's event stream held no "
			             "chat.completion.chunk");
			goto out;
		}
	}
	if (a.text.oom) {
		rc = cg_fail(err, MCPD_E_NOMEM, "failed", "out of memory");
		goto out;
	}
	progress(&a, 1);
	ctx->reply_text = json_string(sb_str(&a.text));
	if (!ctx->reply_text) {
		rc = cg_fail(err, MCPD_E_FAILED, "llm_bad_reply",
		             "the LLM reply is not valid UTF-8");
		goto out;
	}
	snprintf(ctx->finish, sizeof ctx->finish, "%s", a.finish);
	json_array_append_new(ctx->messages,
	                      json_pack("{s:s, s:O}", "role", "assistant",
	                                "content", ctx->reply_text));
	rc = 0;
out:
	free(body);
	free(ctype);
	free(errbody);
	sb_free(&a.raw);
	sb_free(&a.data);
	sb_free(&a.text);
	return rc;
}
