/*
 * generate.c -- code.test.generate: test skeletons for given functions,
 * written by code.generate (called in process, target "tests") one
 * function at a time and merged into one set of files.
 */
#include "testing.h"
#include "agent-common.h"

#include <stdio.h>
#include <string.h>

#define MAX_FUNCTIONS 50

static int bad(char *code, size_t codelen, char *err, size_t errlen,
               const char *msg)
{
	snprintf(code, codelen, "bad_input");
	snprintf(err, errlen, "%s", msg);
	return MCPD_E_INVAL;
}

static int check_input(const json_t *in, char *code, size_t codelen,
                       char *err, size_t errlen)
{
	static const char *const keys[] = {"language", "functions", "files",
	                                   "backend"};
	const char *k;
	json_t *v;
	char msg[300];

	if (!json_is_object(in))
		return bad(code, codelen, err, errlen, "input: must be an object");
	json_object_foreach((json_t *)in, k, v) {
		size_t i;
		for (i = 0; i < sizeof keys / sizeof keys[0] &&
		            strcmp(k, keys[i]);
		     i++)
			;
		if (i == sizeof keys / sizeof keys[0]) {
			snprintf(msg, sizeof msg, "%s: unknown field", k);
			return bad(code, codelen, err, errlen, msg);
		}
	}
	const char *lang = json_string_value(json_object_get(in, "language"));
	if (!lang || (strcmp(lang, "c") && strcmp(lang, "python") &&
	              strcmp(lang, "shell")))
		return bad(code, codelen, err, errlen,
		           "language: must be one of c, python, shell");
	const json_t *fns = json_object_get(in, "functions");
	if (!json_is_array(fns) || !json_array_size(fns) ||
	    json_array_size(fns) > MAX_FUNCTIONS) {
		snprintf(msg, sizeof msg, "functions: must be an array of 1 to "
		         "%d objects {\"name\", \"signature\"?, "
		         "\"description\"?}", MAX_FUNCTIONS);
		return bad(code, codelen, err, errlen, msg);
	}
	size_t i;
	json_array_foreach(fns, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		json_t *sig = json_object_get(v, "signature");
		json_t *desc = json_object_get(v, "description");
		if (!json_is_object(v) || !name || !*name ||
		    (sig && !json_is_string(sig)) ||
		    (desc && !json_is_string(desc)) ||
		    json_object_size(v) != 1u + !!sig + !!desc) {
			snprintf(msg, sizeof msg, "functions[%zu]: must be an "
			         "object with a non-empty string \"name\" and "
			         "optional strings \"signature\", "
			         "\"description\"", i);
			return bad(code, codelen, err, errlen, msg);
		}
	}
	v = json_object_get(in, "files");
	if (v && !json_is_object(v))
		return bad(code, codelen, err, errlen,
		           "files: must be an object of path -> content");
	v = json_object_get(in, "backend");
	if (v && (!json_is_string(v) ||
	          (strcmp(json_string_value(v), "template") &&
	           strcmp(json_string_value(v), "llm"))))
		return bad(code, codelen, err, errlen,
		           "backend: must be \"template\" or \"llm\"");
	return 0;
}

int testing_generate(const struct mcpd_host *host, struct mcpd_plugin *self,
                     struct mcpd_task *task, const json_t *input,
                     json_t **result, char *code, size_t codelen, char *err,
                     size_t errlen)
{
	const char *backend;
	json_t *files, *per_fn, *conflicts, *fn;
	size_t i;
	int rc;

	*result = NULL;
	code[0] = err[0] = '\0';
	rc = check_input(input, code, codelen, err, errlen);
	if (rc)
		return rc;
	backend = json_string_value(json_object_get(input, "backend"));
	if (!backend)
		backend = "template";
	files = json_object();
	per_fn = json_array();
	conflicts = json_array();
	const json_t *fns = json_object_get(input, "functions");
	json_array_foreach(fns, i, fn) {
		const char *name = json_string_value(json_object_get(fn, "name"));
		json_t *req = json_pack(
			"{s:O, s:s, s:s, s:s}", "language",
			json_object_get(input, "language"), "name", name,
			"target", "tests", "backend", backend);
		json_t *res = NULL;
		const char *k;
		json_t *v;

		json_object_set(req, "signature",
		                json_object_get(fn, "signature"));
		json_object_set(req, "description",
		                json_object_get(fn, "description"));
		json_object_set(req, "files", json_object_get(input, "files"));
		/* (json_object_set of a NULL value adds no key.) */
		if (task) {
			char msg[200];
			snprintf(msg, sizeof msg, "writing tests for %s", name);
			host->task_progress(task, (double)i,
			                    (double)json_array_size(fns), msg);
		}
		rc = agent_call(host, self, task, "code.generate", req, &res,
		                code, codelen, err, errlen);
		json_decref(req);
		if (rc) {
			char inner[512];
			snprintf(inner, sizeof inner, "%s", err);
			snprintf(err, errlen, "code.generate for function %s: %s",
			         name, inner);
			goto fail;
		}
		json_t *paths = json_array();
		json_object_foreach(json_object_get(res, "files"), k, v) {
			json_t *old = json_object_get(files, k);
			json_array_append_new(paths, json_string(k));
			if (old && !json_equal(old, v))
				json_array_append_new(conflicts, json_string(k));
			else if (!old)
				json_object_set(files, k, v);
		}
		json_array_append_new(per_fn, json_pack("{s:s, s:o}", "name",
		                                        name, "files", paths));
		json_decref(res);
	}
	*result = json_pack("{s:O, s:s, s:o, s:o}", "language",
	                    json_object_get(input, "language"), "backend",
	                    backend, "files", files, "functions", per_fn);
	if (json_array_size(conflicts))
		json_object_set(*result, "conflicts", conflicts);
	json_decref(conflicts);
	return 0;
fail:
	json_decref(files);
	json_decref(per_fn);
	json_decref(conflicts);
	return rc;
}
