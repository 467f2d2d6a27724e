/*
 * codegen.c -- the plugin: capability "code.generate" (a task handler and
 * the same code offered in process as the agent service "code.generate"),
 * input checks, backend choice, the refine loop over code.test and the
 * optional syntax check of the result in the sandbox.
 */
#include "codegen.h"
#include "agent-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFINE_MAX 10
#define FEEDBACK_OUTPUT 3000

static const struct mcpd_host *host;
static struct mcpd_plugin *self;

static const char input_schema[] =
"{\"type\":\"object\",\"additionalProperties\":false,"
"\"required\":[\"language\",\"name\"],"
"\"properties\":{"
"\"language\":{\"enum\":[\"c\",\"python\",\"shell\"],"
 "\"description\":\"Language of the code to write.\"},"
"\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":63,"
 "\"description\":\"Module (file) name; also the function's name when no "
 "signature names one.\"},"
"\"signature\":{\"type\":\"string\",\"maxLength\":4000,\"description\":"
 "\"C prototype (int add(int a, int b)), Python def (def add(a: int, b: "
 "int) -> int) or, for shell, a usage line ([-v] [-o FILE] INPUT...).\"},"
"\"description\":{\"type\":\"string\",\"maxLength\":20000},"
"\"instructions\":{\"type\":\"string\",\"maxLength\":100000},"
"\"files\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},"
 "\"description\":\"Existing code: relative path -> content.\"},"
"\"tests\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},"
 "\"description\":\"Tests the code must pass: relative path -> content.\"},"
"\"target\":{\"enum\":[\"code\",\"tests\",\"both\"],\"default\":\"both\"},"
"\"backend\":{\"enum\":[\"template\",\"llm\"],\"description\":\"Default: "
 "llm when llm.base_url is configured, else template.\"},"
"\"refine\":{\"type\":\"object\",\"additionalProperties\":false,"
 "\"properties\":{"
  "\"max_iterations\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10,"
   "\"default\":3},"
  "\"test_command\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4000,"
   "\"description\":\"Run by code.test; absent: code.test detects the "
   "framework.\"}}},"
"\"check\":{\"type\":\"boolean\",\"default\":false,\"description\":\"Compile "
 "(C), py_compile (Python) or sh -n (shell) the result in the sandbox.\"},"
"\"max_tokens\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"At "
 "most llm.max_tokens.\"},"
"\"temperature\":{\"type\":\"number\",\"minimum\":0,\"maximum\":2}"
"}}";

static const char output_schema[] =
"{\"type\":\"object\",\"required\":[\"backend\",\"language\",\"files\"],"
"\"properties\":{"
"\"backend\":{\"enum\":[\"template\",\"llm\"]},"
"\"language\":{\"enum\":[\"c\",\"python\",\"shell\"]},"
"\"files\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
"\"model\":{\"type\":\"string\"},"
"\"finish_reason\":{\"type\":\"string\"},"
"\"reply\":{\"type\":\"string\",\"description\":\"The model's last reply.\"},"
"\"warnings\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
"\"converged\":{\"type\":\"boolean\"},"
"\"iterations\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
 "\"required\":[\"iteration\",\"outcome\"],\"properties\":{"
 "\"iteration\":{\"type\":\"integer\"},"
 "\"outcome\":{\"enum\":[\"passed\",\"failed\",\"error\"]},"
 "\"files\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
 "\"test\":{\"type\":\"object\"},"
 "\"error\":{\"type\":\"object\"}}}},"
"\"check\":{\"type\":\"object\",\"properties\":{"
 "\"passed\":{\"type\":\"boolean\"},"
 "\"command\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
 "\"exit_code\":{\"type\":[\"integer\",\"null\"]},"
 "\"output\":{\"type\":\"string\"}}}"
"}}";

const char *cg_lang_ext(enum cg_lang lang)
{
	return lang == CG_C ? "c" : lang == CG_PYTHON ? "py" : "sh";
}

static const char *str_or(const char *s, const char *def)
{
	return s ? s : def;
}

/* ---- input ---- */

static int opt_string(const json_t *in, const char *key, const char **out,
                      struct cg_err *err)
{
	const json_t *v = json_object_get(in, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return cg_fail(err, MCPD_E_INVAL, "bad_input",
		               "%s: must be a string", key);
	*out = json_string_value(v);
	return 0;
}

static int file_map(const json_t *in, const char *key, const json_t **out,
                    struct cg_err *err)
{
	const json_t *v = json_object_get(in, key);
	const char *path;
	json_t *c;
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: must be an "
		               "object of relative path -> content", key);
	json_object_foreach((json_t *)v, path, c) {
		if (!cg_safe_path(path))
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: \"%s\" "
			               "is not a relative path without \".\" or "
			               "\"..\"", key, path);
		if (!json_is_string(c))
			return cg_fail(err, MCPD_E_INVAL, "bad_input",
			               "%s/%s: content must be a string", key, path);
	}
	*out = v;
	return 0;
}

static int pick(const json_t *in, const char *key, const char *const *words,
                int def, struct cg_err *err)
{
	const json_t *v = json_object_get(in, key);
	if (!v)
		return def;
	for (int i = 0; json_is_string(v) && words[i]; i++)
		if (strcmp(json_string_value(v), words[i]) == 0)
			return i;
	struct sbuf b = {0};
	for (int i = 0; words[i]; i++)
		sb_addf(&b, "%s\"%s\"", i ? ", " : "", words[i]);
	cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: must be one of %s", key,
	        sb_str(&b));
	sb_free(&b);
	return -1;
}

static int read_request(const json_t *in, struct cg_request *r,
                        struct cg_err *err)
{
	static const char *const langs[] = {"c", "python", "shell", NULL};
	static const char *const targets[] = {"code", "tests", "both", NULL};
	memset(r, 0, sizeof *r);
	if (!json_is_object(in))
		return cg_fail(err, MCPD_E_INVAL, "bad_input",
		               "the input must be an object");
	if (!json_object_get(in, "language"))
		return cg_fail(err, MCPD_E_INVAL, "bad_input",
		               "language: required (\"c\", \"python\" or "
		               "\"shell\")");
	int l = pick(in, "language", langs, 0, err);
	if (l < 0)
		return MCPD_E_INVAL;
	r->lang = (enum cg_lang)l;
	r->language = langs[l];
	if (opt_string(in, "name", &r->name, err) < 0)
		return MCPD_E_INVAL;
	if (!r->name || !*r->name)
		return cg_fail(err, MCPD_E_INVAL, "bad_input",
		               "name: required, a non-empty string");
	int t = pick(in, "target", targets, 2, err);
	if (t < 0)
		return MCPD_E_INVAL;
	r->target = t == 0 ? CG_CODE : t == 1 ? CG_TESTS : CG_BOTH;
	r->target_word = targets[t];
	if (opt_string(in, "signature", &r->signature, err) < 0 ||
	    opt_string(in, "description", &r->description, err) < 0 ||
	    opt_string(in, "instructions", &r->instructions, err) < 0 ||
	    file_map(in, "files", &r->files, err) < 0 ||
	    file_map(in, "tests", &r->tests, err) < 0)
		return MCPD_E_INVAL;
	if (r->signature && !*r->signature)
		r->signature = NULL;
	return 0;
}

/* ---- configuration ---- */

static long cfg_int(const json_t *o, const char *key, long def, long lo,
                    long hi)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		return def;
	long n = (long)json_integer_value(v);
	return n < lo ? lo : n > hi ? hi : n;
}

static void llm_config(const json_t *in, struct llm_config *c)
{
	const json_t *l = json_object_get(host->config(self), "llm");
	c->base_url = json_string_value(json_object_get(l, "base_url"));
	c->model = json_string_value(json_object_get(l, "model"));
	c->api_key_env = json_string_value(json_object_get(l, "api_key_env"));
	c->ca_file = json_string_value(json_object_get(l, "ca_file"));
	c->timeout_ms = cfg_int(l, "timeout_ms", 120000, 100, 3600000);
	c->max_tokens = cfg_int(l, "max_tokens", 2048, 1, 1000000);
	const json_t *t = json_object_get(l, "temperature");
	c->temperature = json_is_number(t) ? json_number_value(t) : 0.2;
	/* the task may ask for less, not more */
	const json_t *mt = json_object_get(in, "max_tokens");
	if (json_is_integer(mt) && json_integer_value(mt) > 0 &&
	    json_integer_value(mt) < c->max_tokens)
		c->max_tokens = (long)json_integer_value(mt);
	t = json_object_get(in, "temperature");
	if (json_is_number(t) && json_number_value(t) >= 0 &&
	    json_number_value(t) <= 2)
		c->temperature = json_number_value(t);
}

/* ---- the refine loop's tests ---- */

static void merge(json_t *into, const json_t *from)
{
	if (from)
		json_object_update(into, (json_t *)from);
}

/* Run code.test on the project; -> 0 with *res, or an error to record
 * (*fatal when the task must fail instead). */
static int run_tests(struct mcpd_task *task, const struct cg_request *req,
                     const json_t *refine, const json_t *gen, json_t **res,
                     struct cg_err *err, int *fatal)
{
	json_t *files = json_object();
	merge(files, req->files);
	merge(files, req->tests);
	merge(files, gen);
	json_t *in = json_pack("{s:o, s:s}", "files", files, "language",
	                       req->language);
	const char *cmd = json_string_value(json_object_get(refine,
	                                                    "test_command"));
	if (cmd)
		json_object_set_new(in, "command", json_string(cmd));
	char code[32], msg[sizeof err->msg];
	int rc = agent_call(host, self, task, "code.test", in, res, code,
	                    sizeof code, msg, sizeof msg);
	json_decref(in);
	if (rc == 0)
		return 0;
	cg_fail(err, rc, code, "%s", msg);
	*fatal = rc == MCPD_E_NOTFOUND || rc == MCPD_E_CANCELLED ||
	         rc == MCPD_E_INVAL || strcmp(code, "no_provider") == 0;
	if (rc == MCPD_E_NOTFOUND)
		cg_fail(err, rc, "no_provider", "refine runs the tests through "
		        "code.test, which no loaded plugin offers (%s)", msg);
	return rc;
}

/* What the model reads about a failed run. */
static char *feedback(const json_t *res, const struct cg_err *terr)
{
	struct sbuf b = {0};
	if (!res) {
		sb_addf(&b, "Running the tests failed (%s): %s\n", terr->code,
		        terr->msg);
	} else {
		const json_t *s = json_object_get(res, "summary");
		sb_addf(&b, "The tests failed: command `%s`, exit code %lld; "
		        "%lld of %lld failed, %lld errors.\n",
		        str_or(json_string_value(json_object_get(res, "command")), "?"),
		        (long long)json_integer_value(json_object_get(res, "exit_code")),
		        (long long)json_integer_value(json_object_get(s, "failed")),
		        (long long)json_integer_value(json_object_get(s, "total")),
		        (long long)json_integer_value(json_object_get(s, "errors")));
		size_t i;
		const json_t *t;
		int head = 0;
		json_array_foreach(json_object_get(res, "tests"), i, t) {
			const char *o = json_string_value(json_object_get(t, "outcome"));
			if (!o || (strcmp(o, "failed") && strcmp(o, "error")))
				continue;
			if (!head++)
				sb_add(&b, "\nFailing tests:\n");
			const char *m = json_string_value(json_object_get(t, "message"));
			sb_addf(&b, "- %s (%s)%s%.1000s\n",
			        str_or(json_string_value(json_object_get(t, "name")), "?"),
			        o, m ? ": " : "", m ? m : "");
		}
		for (int k = 0; k < 2; k++) {
			const char *key = k ? "stderr" : "stdout";
			const char *out = json_string_value(json_object_get(res, key));
			size_t n = out ? strlen(out) : 0;
			if (!n)
				continue;
			const char *from = n > FEEDBACK_OUTPUT ? out + n - FEEDBACK_OUTPUT
			                                       : out;
			while ((*from & 0xC0) == 0x80)
				from++;
			sb_addf(&b, "\n%s%s:\n````\n%s%s````\n", key,
			        from != out ? " (its end)" : "", from,
			        out[n - 1] == '\n' ? "" : "\n");
		}
	}
	sb_add(&b, "\nFix the code so that every test passes. Answer with the "
	           "complete corrected files, each in a fenced block named as "
	           "before.\n");
	return sb_take(&b);
}

/* The iteration record of one test run. */
static json_t *iteration(int i, const json_t *gen, const json_t *res,
                         const struct cg_err *terr)
{
	json_t *names = json_array();
	const char *path;
	json_t *v;
	json_object_foreach((json_t *)gen, path, v)
		json_array_append_new(names, json_string(path));
	if (!res)
		return json_pack("{s:i, s:s, s:o, s:{s:s, s:s}}", "iteration", i,
		                 "outcome", "error", "files", names, "error",
		                 "code", terr->code, "message", terr->msg);
	json_t *test = json_object();
	static const char *const keep[] = {"framework", "command", "exit_code",
	                                   "passed", "summary", "tests", NULL};
	for (int k = 0; keep[k]; k++) {
		json_t *x = json_object_get(res, keep[k]);
		if (x)
			json_object_set(test, keep[k], x);
	}
	int passed = json_is_true(json_object_get(res, "passed"));
	return json_pack("{s:i, s:s, s:o, s:o}", "iteration", i, "outcome",
	                 passed ? "passed" : "failed", "files", names, "test",
	                 test);
}

/* ---- the syntax check ---- */

static int check(struct mcpd_task *task, const struct cg_request *req,
                 const json_t *gen, json_t *out, struct cg_err *err)
{
	char suffix[8];
	snprintf(suffix, sizeof suffix, ".%s", cg_lang_ext(req->lang));
	json_t *files = json_object();
	json_t *argv = req->lang == CG_C
		? json_pack("[s,s,s,s,s]", "cc", "-std=c11", "-Wall", "-Wextra",
		            "-fsyntax-only")
		: req->lang == CG_PYTHON
		? json_pack("[s,s,s]", "python3", "-m", "py_compile")
		: json_pack("[s,s,s,s]", "sh", "-c",
		            "for f; do sh -n \"$f\" || exit 1; done", "sh");
	merge(files, req->files);
	merge(files, req->tests);
	merge(files, gen);
	size_t base = json_array_size(argv);
	const char *path;
	json_t *v;
	json_object_foreach((json_t *)gen, path, v) {
		size_t pl = strlen(path), sl = strlen(suffix);
		if (pl > sl && strcmp(path + pl - sl, suffix) == 0)
			json_array_append_new(argv, json_string(path));
	}
	if (json_array_size(argv) == base) {
		json_decref(argv);
		json_decref(files);
		json_object_set_new(out, "check", json_pack(
			"{s:b, s:[], s:n, s:s}", "passed", 1, "command",
			"exit_code", "output", "no generated file to check"));
		return 0;
	}
	json_t *request = json_pack("{s:O, s:o, s:{s:i, s:i, s:i}}", "argv",
	                            argv, "files", files, "limits", "wall_ms",
	                            60000, "memory_bytes", 512 << 20, "pids", 64);
	json_t *res = NULL;
	char msg[sizeof err->msg];
	int rc = agent_exec(host, self, task, request, &res, msg, sizeof msg);
	if (rc != 0) {
		json_decref(argv);
		return cg_fail(err, rc, rc == MCPD_E_NOTFOUND ? "no_sandbox"
		                        : rc == MCPD_E_CANCELLED ? "cancelled"
		                                                : "sandbox_failed",
		               "check: %s", msg);
	}
	json_t *code = json_object_get(res, "exit_code");
	struct sbuf o = {0};
	sb_add(&o, str_or(json_string_value(json_object_get(res, "stderr")), ""));
	sb_add(&o, str_or(json_string_value(json_object_get(res, "stdout")), ""));
	json_object_set_new(out, "check", json_pack(
		"{s:b, s:o, s:O, s:s}", "passed",
		json_is_integer(code) && json_integer_value(code) == 0,
		"command", argv, "exit_code", code, "output", sb_str(&o)));
	sb_free(&o);
	json_decref(res);
	return 0;
}

/* ---- generation ---- */

struct run {
	struct mcpd_task *task;
	const json_t *in;
	struct cg_request req;
	const json_t *refine;    /* or NULL */
	int max_iter;
	json_t *gen;             /* the generated files */
	json_t *out;             /* the result being built */
	json_t *warnings;
	json_t *iterations;      /* or NULL */
};

static void note_progress(struct run *r, int i, const char *what)
{
	char msg[200];
	if (!r->task)
		return;
	snprintf(msg, sizeof msg, "refine: iteration %d of %d: %s", i,
	         r->max_iter, what);
	host->task_progress(r->task, i - 1, r->max_iter, msg);
}

/* After a generation: test it when refining. 1 = done (passed, or no
 * more iterations), 0 = go on with *fb, <0 = fail. */
static int test_step(struct run *r, int i, char **fb, struct cg_err *err)
{
	json_t *res = NULL;
	struct cg_err terr = {{0}, {0}};
	int fatal = 0;
	note_progress(r, i, "running the tests");
	int rc = run_tests(r->task, &r->req, r->refine, r->gen, &res, &terr,
	                   &fatal);
	if (rc != 0 && fatal) {
		*err = terr;
		return rc;
	}
	json_array_append_new(r->iterations, iteration(i, r->gen, res, &terr));
	int passed = res && json_is_true(json_object_get(res, "passed"));
	if (!passed && i < r->max_iter)
		*fb = feedback(res, &terr);
	json_decref(res);
	return passed || i >= r->max_iter ? 1 : 0;
}

static int gen_template(struct run *r, struct cg_err *err)
{
	int rc = template_generate(&r->req, r->gen, err);
	if (rc != 0 || !r->refine)
		return rc;
	char *fb = NULL;
	r->max_iter = 1; /* the same input gives the same files */
	rc = test_step(r, 1, &fb, err);
	free(fb);
	if (r->refine && json_integer_value(json_object_get(r->refine,
	                                                    "max_iterations")) > 1)
		json_array_append_new(r->warnings, json_string(
			"the template backend writes the same files every time: "
			"refine ran the tests once"));
	return rc < 0 ? rc : 0;
}

static int gen_llm(struct run *r, struct cg_err *err)
{
	struct llm_ctx c = {.host = host, .task = r->task};
	llm_config(r->in, &c.cfg);
	if (!c.cfg.base_url || !*c.cfg.base_url)
		return cg_fail(err, MCPD_E_INVAL, "llm_not_configured",
		               "backend \"llm\" needs llm.base_url in the codegen "
		               "plugin's config (an OpenAI-compatible endpoint "
		               "such as http://127.0.0.1:8080/v1)");
	c.messages = json_pack("[{s:s, s:s}]", "role", "system", "content",
	                       llm_system_prompt());
	char *user = llm_prompt(&r->req);
	int rc = user ? 0 : cg_fail(err, MCPD_E_NOMEM, "failed", "out of memory");
	for (int i = 1; rc == 0 && user; i++) {
		if (r->refine)
			note_progress(r, i, "asking the model");
		rc = llm_chat(&c, user, err);
		free(user);
		user = NULL;
		if (rc != 0)
			break;
		const char *reply = json_string_value(c.reply_text);
		if (extract_files(reply, &r->req, r->gen, r->warnings) == 0) {
			rc = cg_fail(err, MCPD_E_FAILED, "llm_no_code",
			             "the model's reply holds no fenced code "
			             "block%s (it begins: %.120s)",
			             i > 1 ? " in refine iteration" : "", reply);
			break;
		}
		if (!r->refine)
			break;
		int st = test_step(r, i, &user, err);
		if (st < 0)
			rc = st;
		if (st != 0)
			break;
	}
	free(user);
	if (rc == 0) {
		if (c.cfg.model)
			json_object_set_new(r->out, "model",
			                    json_string(c.cfg.model));
		if (c.finish[0])
			json_object_set_new(r->out, "finish_reason",
			                    json_string(c.finish));
		if (strcmp(c.finish, "length") == 0)
			json_array_append_new(r->warnings, json_string(
				"the model stopped at max_tokens: the reply may "
				"be cut off"));
		json_object_set(r->out, "reply", c.reply_text);
	}
	json_decref(c.messages);
	json_decref(c.reply_text);
	return rc;
}

static int generate(struct mcpd_task *task, const json_t *in, json_t **result,
                    struct cg_err *err)
{
	static const char *const backends[] = {"template", "llm", NULL};
	struct run r = {.task = task, .in = in};
	int rc = read_request(in, &r.req, err);
	if (rc != 0)
		return rc;
	const json_t *cfg = host->config(self);
	const char *cfg_backend = json_string_value(json_object_get(cfg, "backend"));
	int def = cfg_backend ? strcmp(cfg_backend, "llm") == 0
	          : json_string_value(json_object_get(json_object_get(cfg, "llm"),
	                                              "base_url")) != NULL;
	int backend = pick(in, "backend", backends, def, err);
	if (backend < 0)
		return MCPD_E_INVAL;
	r.refine = json_object_get(in, "refine");
	if (r.refine) {
		const json_t *mi = json_object_get(r.refine, "max_iterations");
		const json_t *tc = json_object_get(r.refine, "test_command");
		if (!json_is_object(r.refine) || (mi && !json_is_integer(mi)) ||
		    (tc && (!json_is_string(tc) || !json_string_length(tc))))
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "refine: "
			               "must be {\"max_iterations\": 1..%d, "
			               "\"test_command\": a non-empty string}",
			               REFINE_MAX);
		r.max_iter = mi ? (int)json_integer_value(mi) : 3;
		if (r.max_iter < 1 || r.max_iter > REFINE_MAX)
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "refine."
			               "max_iterations: must be 1..%d", REFINE_MAX);
	}
	r.gen = json_object();
	r.warnings = json_array();
	r.out = json_pack("{s:s, s:s}", "backend", backends[backend],
	                  "language", r.req.language);
	if (r.refine)
		r.iterations = json_array();
	rc = backend ? gen_llm(&r, err) : gen_template(&r, err);
	if (rc == 0 && json_is_true(json_object_get(in, "check")))
		rc = check(task, &r.req, r.gen, r.out, err);
	if (rc == 0) {
		json_object_set(r.out, "files", r.gen);
		json_object_set(r.out, "warnings", r.warnings);
		if (r.iterations) {
			size_t n = json_array_size(r.iterations);
			const json_t *last = json_array_get(r.iterations, n - 1);
			json_object_set(r.out, "iterations", r.iterations);
			json_object_set_new(r.out, "converged", json_boolean(
				n && strcmp(json_string_value(json_object_get(
				        last, "outcome")), "passed") == 0));
		}
		*result = json_incref(r.out);
	}
	json_decref(r.out);
	json_decref(r.gen);
	json_decref(r.warnings);
	json_decref(r.iterations);
	return rc;
}

/* ---- task handler and agent service ---- */

static int handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	json_t *result = NULL;
	struct cg_err err = {{0}, {0}};
	int rc = generate(task, host->task_input(task), &result, &err);
	if (rc != 0) {
		host->task_fail(task, err.code[0] ? err.code : "failed",
		                err.msg[0] ? err.msg : host->strerror(rc));
		return 0;
	}
	return host->task_complete(task, result);
}

static int agent_call_impl(void *impl, struct mcpd_task *caller,
                           const char *capability, const json_t *input,
                           json_t **result, char *code, size_t codelen,
                           char *errmsg, size_t errlen)
{
	(void)impl;
	struct cg_err err = {{0}, {0}};
	*result = NULL;
	if (!capability || strcmp(capability, "code.generate") != 0) {
		snprintf(code, codelen, "no_provider");
		snprintf(errmsg, errlen, "codegen offers code.generate, not %s",
		         capability ? capability : "(null)");
		return MCPD_E_NOTFOUND;
	}
	int rc = generate(caller, input, result, &err);
	if (rc != 0) {
		snprintf(code, codelen, "%s", err.code[0] ? err.code : "failed");
		snprintf(errmsg, errlen, "%s", err.msg);
		return rc == MCPD_E_INVAL || rc == MCPD_E_CANCELLED ? rc
		                                                     : MCPD_E_FAILED;
	}
	return 0;
}

static const struct mcpd_agent agent_vt = {
	{sizeof(struct mcpd_agent), MCPD_AGENT_MAJOR, MCPD_AGENT_MINOR},
	NULL,
	agent_call_impl,
};

static int codegen_init(const struct mcpd_host *h, struct mcpd_plugin *p)
{
	host = h;
	self = p;
	if (!MCPD_HOST_HAS(h, service_provide))
		return MCPD_E_STATE;
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "code.generate",
		.version = "1.0",
		.title = "Generate code",
		.description = "Writes code and tests in C, Python or shell: "
		               "offline scaffolds from a name and signature "
		               "(template backend), or through an "
		               "OpenAI-compatible model (llm backend), optionally "
		               "refined until the tests pass (code.test).",
		.input_schema = input_schema,
		.output_schema = output_schema,
		.attributes = "{\"languages\":[\"c\",\"python\",\"shell\"],"
		              "\"backends\":[\"template\",\"llm\"]}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = handle,
	};
	int rc = host->capability_add(self, &def);
	if (rc == 0)
		rc = host->service_provide(self, "code.generate", &agent_vt);
	if (rc == 0) {
		const json_t *l = json_object_get(host->config(self), "llm");
		const char *url = json_string_value(json_object_get(l, "base_url"));
		if (url && strncmp(url, "https://", 8) == 0 && !http_have_tls())
			host->log(self, MCPD_LOG_WARN, "llm.base_url is https:// "
			          "but this build has no TLS");
	}
	return rc;
}

MCPD_PLUGIN("codegen", "1.0.0",
            "code.generate: template scaffolds and OpenAI-compatible LLMs",
            0, codegen_init, NULL)
