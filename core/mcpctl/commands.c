/*
 * The task commands: submit, get, list, cancel, watch. Each returns an exit
 * code; by then anything worth saying has been printed (results on stdout,
 * one-line failures on stderr).
 */
#include "mcpctl-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The daemon holds ?wait at most this long; we ask for it in a loop. */
#define WAIT_SECONDS 30

int status_is_final(const char *s)
{
	return s && (strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 ||
	             strcmp(s, "cancelled") == 0 || strcmp(s, "timed_out") == 0);
}

int status_exit(const char *s)
{
	return status_is_final(s) && strcmp(s, "succeeded") != 0 ? EXIT_TASK :
	       EXIT_OK;
}

static char *task_path(const char *id, const char *suffix)
{
	struct buf b = { 0 };

	buf_adds(&b, "/v1/tasks/");
	url_encode(&b, id);
	buf_adds(&b, suffix);
	return b.p;
}

static void show_task(struct ctl *ctl, const json_t *task)
{
	if (ctl->json)
		print_json(stdout, task);
	else
		print_task(stdout, task);
}

/* ---- argument parsing helpers ---- */

static int parse_int(const char *opt, const char *s, json_int_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return usage_error("%s: '%s' is not an integer", opt, s);
	*out = v;
	return EXIT_OK;
}

static int read_stream(FILE *f, struct buf *b)
{
	char chunk[8192];
	size_t n;

	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(b, chunk, n);
	return ferror(f) ? -1 : 0;
}

/* Read the file or stream into b; 0, or -1 with errno set. */
static int read_file(const char *name, struct buf *b)
{
	FILE *f;
	int rc;

	if (strcmp(name, "-") == 0)
		return read_stream(stdin, b);
	f = fopen(name, "r");
	if (!f)
		return -1;
	rc = read_stream(f, b);
	fclose(f);
	return rc;
}

/* The text of JSON|@FILE|- ; *text is malloc'd. */
static int read_arg_text(const char *arg, char **text)
{
	const char *name = arg[0] == '@' ? arg + 1 : arg;
	struct buf b = { 0 };

	if (arg[0] != '@' && strcmp(arg, "-") != 0) {
		*text = xstrdup(arg);
		return EXIT_OK;
	}
	if (read_file(name, &b) < 0) {
		buf_free(&b);
		return usage_error("cannot read %s: %s",
		                   arg[0] == '@' ? name : "standard input",
		                   strerror(errno));
	}
	buf_str(&b);
	*text = b.p;
	return EXIT_OK;
}

static int parse_json_arg(const char *what, const char *text, json_t **out)
{
	json_error_t err;

	*out = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
	if (*out)
		return EXIT_OK;
	return usage_error("%s is not valid JSON: %s (line %d, column %d)", what,
	                   err.text, err.line, err.column);
}

static int set_string(json_t *obj, const char *key, const char *what,
                      const char *s)
{
	json_t *v = json_string(s);

	if (!v)
		return usage_error("%s is not valid UTF-8", what);
	json_object_set_new(obj, key, v);
	return EXIT_OK;
}

static int set_int_opt(json_t *obj, const char *key, const char *opt,
                       const char *s)
{
	json_int_t v = 0;
	int rc;

	if (!s)
		return EXIT_OK;
	rc = parse_int(opt, s, &v);
	if (rc == EXIT_OK)
		json_object_set_new(obj, key, json_integer(v));
	return rc;
}

static int add_input(json_t *req, const char *arg)
{
	json_t *input;
	char *text = NULL;
	int rc;

	if (!arg) {
		json_object_set_new(req, "input", json_object());
		return EXIT_OK;
	}
	rc = read_arg_text(arg, &text);
	if (rc != EXIT_OK)
		return rc;
	rc = parse_json_arg("input", text, &input);
	free(text);
	if (rc == EXIT_OK)
		json_object_set_new(req, "input", input);
	return rc;
}

static int add_match(json_t *req, const char *arg)
{
	json_t *match;
	int rc;

	if (!arg)
		return EXIT_OK;
	rc = parse_json_arg("--match", arg, &match);
	if (rc != EXIT_OK)
		return rc;
	if (!json_is_object(match)) {
		json_decref(match);
		return usage_error("--match must be a JSON object, "
		                   "e.g. '{\"language\": \"python\"}'");
	}
	json_object_set_new(req, "match", match);
	return EXIT_OK;
}

/* The POST /v1/tasks body from the command line. */
static int build_submit(const struct args *a, json_t **out)
{
	json_t *req = json_object();
	int rc;

	rc = set_string(req, "capability", "the capability", a->pos[0]);
	if (rc == EXIT_OK)
		rc = add_input(req, a->npos > 1 ? a->pos[1] : NULL);
	if (rc == EXIT_OK)
		rc = add_match(req, a->opt[OPT_MATCH]);
	if (rc == EXIT_OK)
		rc = set_int_opt(req, "priority", "--priority", a->opt[OPT_PRIORITY]);
	if (rc == EXIT_OK)
		rc = set_int_opt(req, "timeout_ms", "--timeout-ms",
		                 a->opt[OPT_TIMEOUT_MS]);
	if (rc == EXIT_OK)
		rc = set_int_opt(req, "retries", "--retries", a->opt[OPT_RETRIES]);
	if (rc == EXIT_OK && a->opt[OPT_IDEMPOTENCY_KEY])
		rc = set_string(req, "idempotency_key", "--idempotency-key",
		                a->opt[OPT_IDEMPOTENCY_KEY]);
	if (rc != EXIT_OK) {
		json_decref(req);
		return rc;
	}
	*out = req;
	return EXIT_OK;
}

/* ---- waiting for a task ---- */

/* Show live progress only to a person; scripts get the final task. */
static int want_progress(const struct ctl *ctl)
{
	return !ctl->json && isatty(STDERR_FILENO);
}

static int poll_until_final(struct ctl *ctl, const char *id, json_t **task)
{
	char *path = task_path(id, "");
	char *waitpath = xasprintf("%s?wait=%d", path, WAIT_SECONDS);
	int rc = EXIT_OK;

	while (rc == EXIT_OK && !status_is_final(jstr(*task, "status"))) {
		json_decref(*task);
		rc = api_call(ctl, "GET", waitpath, NULL,
		              WAIT_SECONDS * 1000 + API_TIMEOUT_MS, NULL, task);
	}
	free(waitpath);
	free(path);
	return rc;
}

/* Wait for the task to finish, show it, and exit with its outcome. */
static int wait_and_show(struct ctl *ctl, json_t *task)
{
	const char *id = jstr(task, "id");
	int rc = EXIT_OK;

	if (!id) {
		warnx("the server's answer has no task id");
		json_decref(task);
		return EXIT_SERVER;
	}
	id = xstrdup(id);
	if (!status_is_final(jstr(task, "status")) && want_progress(ctl)) {
		struct watch_opts o = { .out = stderr, .mode = WATCH_BAR };
		json_t *final = NULL;

		rc = watch_task(ctl, id, &o, &final);
		json_decref(final);
	}
	if (rc == EXIT_OK)
		rc = poll_until_final(ctl, id, &task);
	if (rc == EXIT_OK) {
		show_task(ctl, task);
		rc = status_exit(jstr(task, "status"));
	}
	json_decref(task);
	free((char *)id);
	return rc;
}

/* ---- commands ---- */

int cmd_submit(struct ctl *ctl, const struct args *a)
{
	json_t *req = NULL, *task = NULL;
	int rc, status = 0;

	rc = build_submit(a, &req);
	if (rc != EXIT_OK)
		return rc;
	rc = api_call(ctl, "POST", "/v1/tasks", req, API_TIMEOUT_MS, &status,
	              &task);
	json_decref(req);
	if (rc != EXIT_OK)
		return rc;
	if (status == 200 && !ctl->json)
		warnx("idempotency key seen before: this is the existing task");
	if (a->opt[OPT_WAIT])
		return wait_and_show(ctl, task);
	show_task(ctl, task);
	json_decref(task);
	return EXIT_OK;
}

/* GET or DELETE one task and show it. */
static int one_task(struct ctl *ctl, const char *method, const char *id,
                    int *outcome)
{
	char *path = task_path(id, "");
	json_t *task;
	int rc;

	rc = api_call(ctl, method, path, NULL, API_TIMEOUT_MS, NULL, &task);
	free(path);
	if (rc != EXIT_OK)
		return rc;
	show_task(ctl, task);
	*outcome = status_exit(jstr(task, "status"));
	json_decref(task);
	return EXIT_OK;
}

int cmd_get(struct ctl *ctl, const struct args *a)
{
	int outcome = EXIT_OK, rc = one_task(ctl, "GET", a->pos[0], &outcome);

	return rc != EXIT_OK ? rc : outcome;
}

/* The cancel succeeded if the server accepted it, whatever the status. */
int cmd_cancel(struct ctl *ctl, const struct args *a)
{
	int outcome;

	return one_task(ctl, "DELETE", a->pos[0], &outcome);
}

int cmd_watch(struct ctl *ctl, const struct args *a)
{
	struct watch_opts o = { .out = stdout, .keep_bar = 1 };
	json_t *final = NULL;
	int rc;

	o.mode = ctl->json ? WATCH_NDJSON :
	         isatty(STDOUT_FILENO) ? WATCH_BAR : WATCH_LINES;
	rc = watch_task(ctl, a->pos[0], &o, &final);
	if (rc == EXIT_OK)
		rc = status_exit(jstr(final, "status"));
	json_decref(final);
	return rc;
}

/* ---- list ---- */

static void add_query(struct buf *q, const char *name, const char *value)
{
	if (!value)
		return;
	buf_adds(q, q->len ? "&" : "?");
	buf_adds(q, name);
	buf_adds(q, "=");
	url_encode(q, value);
}

static char *list_path(const struct args *a, const char *cursor)
{
	struct buf q = { 0 }, path = { 0 };

	add_query(&q, "status", a->opt[OPT_STATUS]);
	add_query(&q, "capability", a->opt[OPT_CAPABILITY]);
	add_query(&q, "limit", a->opt[OPT_LIMIT]);
	add_query(&q, "cursor", cursor);
	buf_printf(&path, "/v1/tasks%s", buf_str(&q));
	buf_free(&q);
	return path.p;
}

static void print_task_table(const json_t *tasks)
{
	static const char *const head[] = { "ID", "CAPABILITY", "STATUS",
	                                    "CREATED" };
	struct table *t = table_new(4, head);
	size_t i;
	json_t *task;

	json_array_foreach(tasks, i, task) {
		const char *row[] = { jstr(task, "id"), jstr(task, "capability"),
		                      jstr(task, "status"),
		                      jstr(task, "created_at") };

		table_add(t, row);
	}
	if (table_rows(t))
		table_print(t, stdout);
	else
		puts("no tasks");
	table_free(t);
}

/* Fetch one page into *page (the caller frees it); *next gets its cursor. */
static int list_page(struct ctl *ctl, const struct args *a, const char *cursor,
                     json_t **page, char **next)
{
	char *path = list_path(a, cursor);
	const char *nc;
	int rc;

	rc = api_call(ctl, "GET", path, NULL, API_TIMEOUT_MS, NULL, page);
	free(path);
	if (rc != EXIT_OK)
		return rc;
	if (!json_is_array(json_object_get(*page, "tasks"))) {
		warnx("the server's task list has no \"tasks\" array");
		return EXIT_SERVER;
	}
	nc = jstr(*page, "next_cursor");
	*next = nc && *nc ? xstrdup(nc) : NULL;
	return EXIT_OK;
}

static int list_all(struct ctl *ctl, const struct args *a, json_t *all)
{
	char *cursor = a->opt[OPT_CURSOR] ? xstrdup(a->opt[OPT_CURSOR]) : NULL;
	json_t *page = NULL;
	char *next = NULL;
	int rc;

	for (;;) {
		rc = list_page(ctl, a, cursor, &page, &next);
		if (rc == EXIT_OK)
			json_array_extend(all, json_object_get(page, "tasks"));
		json_decref(page);
		page = NULL;
		/* A cursor that does not move would loop forever. */
		if (rc == EXIT_OK && next && cursor && strcmp(next, cursor) == 0) {
			warnx("the server returned the same cursor twice");
			rc = EXIT_SERVER;
		}
		free(cursor);
		cursor = next;
		next = NULL;
		if (rc != EXIT_OK || !cursor)
			break;
	}
	free(cursor);
	return rc;
}

static int list_one_page(struct ctl *ctl, const struct args *a)
{
	json_t *page = NULL;
	char *next = NULL;
	int rc = list_page(ctl, a, a->opt[OPT_CURSOR], &page, &next);

	if (rc == EXIT_OK && ctl->json)
		print_json(stdout, page);
	else if (rc == EXIT_OK)
		print_task_table(json_object_get(page, "tasks"));
	if (rc == EXIT_OK && next && !ctl->json)
		warnx("more tasks: use --all, or --cursor %s for the next page",
		      next);
	free(next);
	json_decref(page);
	return rc;
}

int cmd_list(struct ctl *ctl, const struct args *a)
{
	json_t *all;
	json_int_t limit;
	int rc;

	if (a->opt[OPT_LIMIT]) {
		rc = parse_int("--limit", a->opt[OPT_LIMIT], &limit);
		if (rc != EXIT_OK)
			return rc;
	}
	if (!a->opt[OPT_ALL])
		return list_one_page(ctl, a);
	all = json_array();
	rc = list_all(ctl, a, all);
	if (rc == EXIT_OK && ctl->json) {
		json_t *doc = json_pack("{s:O, s:n}", "tasks", all, "next_cursor");

		print_json(stdout, doc);
		json_decref(doc);
	} else if (rc == EXIT_OK) {
		print_task_table(all);
	}
	json_decref(all);
	return rc;
}
