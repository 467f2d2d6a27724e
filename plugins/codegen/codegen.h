/*
 * codegen.h -- internals of the codegen plugin (code.generate): shared
 * between the plugin glue (codegen.c), the template backend (template.c),
 * the LLM backend (llm.c), its HTTP client (http.c) and the extraction of
 * files from fenced code blocks (extract.c).
 */
#ifndef CODEGEN_H
#define CODEGEN_H

#include <stdarg.h>
#include <stddef.h>
#include <jansson.h>
#include <mcpd/plugin.h>

/* ---- errors ---- */

/*
 * What a failed step reports: a task error code ("bad_input",
 * "llm_timeout"...) and one sentence. The MCPD_E_* a step returns goes with
 * it (MCPD_E_INVAL for bad input, MCPD_E_CANCELLED, MCPD_E_FAILED).
 */
struct cg_err {
	char code[32];
	char msg[1024];
};

/* Fill err and return rc (a negative MCPD_E_*). */
int cg_fail(struct cg_err *err, int rc, const char *code, const char *fmt,
            ...) __attribute__((format(printf, 4, 5)));

/* ---- growable text ---- */

struct sbuf {
	char *p;     /* NUL-terminated; NULL until something is added */
	size_t len;
	size_t cap;
	int oom;     /* an allocation failed: the text is incomplete */
};

void sb_addn(struct sbuf *b, const char *s, size_t n);
void sb_add(struct sbuf *b, const char *s);
void sb_addf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The text ("" when empty); stays owned by b. */
const char *sb_str(const struct sbuf *b);
/* Take the text (a malloc'd string, "" when empty; NULL on OOM); b is reset. */
char *sb_take(struct sbuf *b);
void sb_free(struct sbuf *b);

/* ---- the request, as both backends see it ---- */

enum cg_lang { CG_C, CG_PYTHON, CG_SHELL };

enum cg_target { CG_CODE = 1, CG_TESTS = 2, CG_BOTH = 3 };

struct cg_request {
	enum cg_lang lang;
	const char *language;     /* "c", "python", "shell" */
	const char *name;
	const char *signature;    /* may be NULL */
	const char *description;  /* may be NULL */
	const char *instructions; /* may be NULL */
	const json_t *files;      /* existing code: object path -> text, or NULL */
	const json_t *tests;      /* tests to satisfy, or NULL */
	enum cg_target target;
	const char *target_word;  /* "code", "tests", "both" */
};

/* File extension of a language's source ("c", "py", "sh"). */
const char *cg_lang_ext(enum cg_lang lang);

/* ---- template backend (template.c) ---- */

/*
 * Scaffold the files for `req` into `files` (an object path -> text).
 * Returns 0, or MCPD_E_INVAL with err ("bad_input", naming the field) when
 * the name or signature cannot make code that compiles.
 */
int template_generate(const struct cg_request *req, json_t *files,
                      struct cg_err *err);

/* ---- fenced code blocks (extract.c) ---- */

/*
 * Extract the fenced code blocks of a model's reply into `files` (object
 * path -> text). Names: see README.md ("How files are named"). Unnamed
 * blocks take the request's default names in order. Blocks whose name is
 * not a safe relative path are skipped with a line in `warnings` (an
 * array of strings). Returns the number of blocks extracted.
 */
int extract_files(const char *reply, const struct cg_request *req,
                  json_t *files, json_t *warnings);

/* Is `path` a relative path without "", "." or ".." components? */
int cg_safe_path(const char *path);

/* ---- HTTP client (http.c) ---- */

struct http_response;

/*
 * Called with each piece of the response body as it arrives (after
 * de-chunking), for a 2xx status only. Return 0 to go on, non-zero to stop.
 */
typedef int (*http_body_fn)(const char *data, size_t len, void *arg);

struct http_request {
	const char *url;          /* http://host[:port]/path or https://... */
	const char *body;         /* POST body (JSON) */
	const char *bearer;       /* Authorization: Bearer value, or NULL */
	const char *ca_file;      /* CA bundle for https://, NULL: system's */
	long timeout_ms;          /* the whole exchange */
	/* Polled every 100 ms while waiting; non-zero stops the exchange. */
	int (*cancelled)(void *arg);
	void *cancel_arg;
	/* Called once the status and headers are in (ctype may be NULL). */
	void (*on_head)(int status, const char *ctype, void *arg);
	http_body_fn on_body;     /* body of a 2xx response */
	void *body_arg;           /* for on_head and on_body */
};

/*
 * POST req->body to req->url and read the answer. On return *status holds
 * the HTTP status (0 when none came), *ctype the Content-Type (malloc'd or
 * NULL) and, for a status other than 2xx, *errbody up to 4 KiB of its body
 * (malloc'd or NULL). Returns 0 when a whole response was read, or fills
 * err: "llm_timeout", "llm_unreachable", "llm_bad_reply", "cancelled",
 * "llm_config" (bad URL).
 */
int http_post(const struct http_request *req, int *status, char **ctype,
              char **errbody, struct cg_err *err);

/* Is TLS (https://) built in? */
int http_have_tls(void);

/* ---- LLM backend (llm.c) ---- */

struct llm_config {
	const char *base_url;   /* e.g. http://127.0.0.1:8080/v1 */
	const char *model;
	const char *api_key_env;
	const char *ca_file;
	long timeout_ms;
	long max_tokens;
	double temperature;
};

struct llm_ctx {
	const struct mcpd_host *host;
	struct mcpd_task *task;   /* for progress and cancellation; may be NULL */
	struct llm_config cfg;
	json_t *messages;         /* the conversation so far (owned) */
	json_t *reply_text;       /* the last reply (owned), or NULL */
	long tokens;              /* streamed pieces of the last reply */
	char finish[32];          /* its finish_reason ("stop", "length") */
};

/* The system message of every conversation. */
const char *llm_system_prompt(void);

/* The user message that asks for `req`. Returns a new string (malloc). */
char *llm_prompt(const struct cg_request *req);

/*
 * Ask the model: append `user` to the conversation, send it, stream the
 * answer (progress on ctx->task) and append the reply. On success
 * ctx->reply_text holds it. Returns 0 or an MCPD_E_* with err.
 */
int llm_chat(struct llm_ctx *ctx, const char *user, struct cg_err *err);

#endif /* CODEGEN_H */
