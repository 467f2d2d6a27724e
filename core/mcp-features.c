/*
 * MCP resources, resource templates, subscriptions, prompts, completion
 * and tool-result content (see mcp-features-internal.h).
 *
 * What plugins declare lives in one list of `struct feat`, each naming
 * the plugin record (generation) that declared it. An entry counts only
 * while that generation serves (loaded, not draining, its name's serving
 * generation): a reload's new generation declares its own entries during
 * its init, beside the old ones, and the swap makes them the visible
 * ones. Entries go when their generation's code is retired
 * (mcpf_plugin_gone), so a callback is never called into unloaded code.
 */
#include "mcp-features-internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc-internal.h"
#include "log-internal.h"
#include "map-internal.h"
#include "mcpd-internal.h"
#include "task-internal.h"
#include "plugin-internal.h"
#include "router-internal.h"
#include "store-internal.h"

/* completion/complete sends at most this many values (the spec's cap). */
#define COMPLETE_MAX 100

/* ---- what plugins declare ---- */

enum feat_kind { FEAT_RESOURCE, FEAT_TEMPLATE, FEAT_PROMPT };

struct feat {
	enum feat_kind kind;
	struct mcpd_plugin *p;
	char *key; /* the uri, the template, or the prompt's name */
	char *name, *title, *description, *mime;
	json_t *arguments; /* prompts: array of argument objects */
	int (*read)(const char *uri, const json_t *vars, json_t **contents,
	            void *ud);
	int (*get)(const json_t *args, json_t **result, void *ud);
	json_t *(*complete)(const char *argument, const char *value,
	                    const json_t *context, void *ud);
	void *ud;
	struct feat *next;
};

/* Loop thread only (every host member here checks it). */
static struct feat *feats;
static uint64_t resources_version, prompts_version;

uint64_t mcpf_resources_version(void)
{
	return resources_version;
}

uint64_t mcpf_prompts_version(void)
{
	return prompts_version;
}

static void bump(enum feat_kind kind)
{
	if (kind == FEAT_PROMPT)
		prompts_version++;
	else
		resources_version++;
}

static void feat_free(struct feat *f)
{
	free(f->key);
	free(f->name);
	free(f->title);
	free(f->description);
	free(f->mime);
	json_decref(f->arguments);
	free(f);
}

static int serving(const struct mcpd_plugin *p)
{
	return p->loaded && !p->draining &&
	       map_get(p->d->plugins_by_name, p->name) == p;
}

/* The visible entry of `kind` with `key` for daemon d, or NULL. */
static struct feat *feat_find(struct mcpd *d, enum feat_kind kind,
                              const char *key)
{
	for (struct feat *f = feats; f; f = f->next)
		if (f->kind == kind && f->p->d == d && serving(f->p) &&
		    strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

static int cmp_feat(const void *a, const void *b)
{
	const struct feat *x = *(const struct feat *const *)a;
	const struct feat *y = *(const struct feat *const *)b;
	return strcmp(x->key, y->key);
}

/* The visible entries of `kind`, sorted by key: a malloc'd array (free
 * it) of *n; NULL when there are none or no memory. */
static struct feat **feat_sorted(struct mcpd *d, enum feat_kind kind,
                                 size_t *n)
{
	size_t count = 0;
	*n = 0;
	for (struct feat *f = feats; f; f = f->next)
		count += f->kind == kind && f->p->d == d && serving(f->p);
	struct feat **all = count ? malloc(count * sizeof *all) : NULL;
	if (!all)
		return NULL;
	for (struct feat *f = feats; f; f = f->next)
		if (f->kind == kind && f->p->d == d && serving(f->p))
			all[(*n)++] = f;
	qsort(all, *n, sizeof *all, cmp_feat);
	return all;
}

void mcpf_plugin_gone(struct mcpd_plugin *p)
{
	struct feat **pp = &feats;
	while (*pp) {
		struct feat *f = *pp;
		if (f->p != p) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		bump(f->kind);
		feat_free(f);
	}
}

static int on_loop(const struct mcpd_plugin *p)
{
	return pthread_equal(pthread_self(), p->d->loop_thread);
}

/* The common checks of a host member: a valid handle, on the loop. */
static int host_check(struct mcpd_plugin *self, const char *fn)
{
	if (plugin_check(self, fn) < 0)
		return MCPD_E_HANDLE;
	if (!on_loop(self)) {
		log_msg(LOG_ERROR, self->name, NULL, "%s from a worker thread "
		        "is refused", fn);
		return MCPD_E_STATE;
	}
	return MCPD_OK;
}

/* Someone else's visible entry, or one of self's own, already uses key?
 * (A new generation may repeat what the serving one declared.) */
static int feat_taken(struct mcpd_plugin *self, enum feat_kind kind,
                      const char *key)
{
	for (struct feat *f = feats; f; f = f->next) {
		int same_kind = f->kind == kind ||
		                (kind != FEAT_PROMPT && f->kind != FEAT_PROMPT);
		if (!same_kind || f->p->d != self->d || strcmp(f->key, key) != 0)
			continue;
		if (f->p == self ||
		    (serving(f->p) && strcmp(f->p->name, self->name) != 0))
			return 1;
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int feat_insert(struct mcpd_plugin *self, struct feat *f,
                       const char *title, const char *description,
                       const char *mime)
{
	f->p = self;
	f->title = dup_or_null(title);
	f->description = dup_or_null(description);
	f->mime = dup_or_null(mime);
	if (!f->key || !f->name || (title && !f->title) ||
	    (description && !f->description) || (mime && !f->mime)) {
		feat_free(f);
		return MCPD_E_NOMEM;
	}
	/* Appended: declaration order decides template matching ties. */
	struct feat **pp = &feats;
	while (*pp)
		pp = &(*pp)->next;
	*pp = f;
	bump(f->kind);
	return MCPD_OK;
}

/* ---- URIs and templates ---- */

/* scheme ":" with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
static int has_scheme(const char *uri)
{
	const char *s = uri;
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return 0;
	while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	       (*s >= '0' && *s <= '9') || *s == '+' || *s == '-' || *s == '.')
		s++;
	return *s == ':' && s[1] != '\0';
}

static int is_reserved(const char *uri)
{
	return strncmp(uri, "mcpd:", 5) == 0;
}

static int var_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* A level-1 template: {name} expressions, never two in a row, braces
 * balanced, no braces elsewhere. */
static int template_valid(const char *t)
{
	int prev_var = 0;
	while (*t) {
		if (*t == '}')
			return 0;
		if (*t != '{') {
			prev_var = 0;
			t++;
			continue;
		}
		if (prev_var)
			return 0;
		const char *e = ++t;
		while (var_char(*e))
			e++;
		if (e == t || *e != '}')
			return 0;
		t = e + 1;
		prev_var = 1;
	}
	return 1;
}


/* A variable's value: percent-decoded; NULL if the encoding is bad or
 * decodes to NUL. */
static json_t *decode_var(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		int h = i + 2 < n ? hex_digit(s[i + 1]) : -1;
		int l = i + 2 < n ? hex_digit(s[i + 2]) : -1;
		if (h < 0 || l < 0 || (h | l) == 0) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(h << 4 | l);
		i += 2;
	}
	out[o] = '\0';
	json_t *v = json_stringn(out, o);
	free(out);
	return v;
}

/* Match uri against template t; on success add the variables to vars.
 * Each variable takes one or more characters other than '/'. */
static int template_match(const char *t, const char *uri, json_t *vars)
{
	while (*t && *t != '{') {
		if (*t != *uri)
			return 0;
		t++;
		uri++;
	}
	if (!*t)
		return *uri == '\0';
	const char *name = t + 1, *close = strchr(name, '}');
	size_t max = strcspn(uri, "/");
	for (size_t len = 1; len <= max; len++) {
		if (!template_match(close + 1, uri + len, vars))
			continue;
		json_t *v = decode_var(uri, len);
		if (!v)
			return 0;
		char key[128];
		snprintf(key, sizeof key, "%.*s", (int)(close - name), name);
		json_object_set_new(vars, key, v);
		return 1;
	}
	return 0;
}

/* Is `name` a variable of template t? */
static int template_has_var(const char *t, const char *name)
{
	size_t n = strlen(name);
	for (const char *s = strchr(t, '{'); s; s = strchr(s + 1, '{'))
		if (strncmp(s + 1, name, n) == 0 && s[1 + n] == '}')
			return 1;
	return 0;
}

/* ---- host members ---- */

static int resource_def_check(struct mcpd_plugin *self,
                              const struct mcpd_resource_def *def,
                              const char *fn)
{
	int rc = host_check(self, fn);
	if (rc < 0)
		return rc;
	if (!def || def->size < offsetof(struct mcpd_resource_def, read) +
	                            sizeof def->read ||
	    !def->uri || !def->name || !def->name[0] || !def->read ||
	    !has_scheme(def->uri) || is_reserved(def->uri) ||
	    strlen(def->uri) > 2048) {
		log_msg(LOG_ERROR, self->name, NULL, "%s: a definition needs "
		        "size, uri (an absolute URI, not mcpd:), name and "
		        "read", fn);
		return MCPD_E_INVAL;
	}
	return MCPD_OK;
}

static int resource_add_kind(struct mcpd_plugin *self,
                             const struct mcpd_resource_def *def,
                             enum feat_kind kind, const char *fn)
{
	int rc = resource_def_check(self, def, fn);
	if (rc < 0)
		return rc;
	if (kind == FEAT_TEMPLATE ? !template_valid(def->uri)
	                          : strpbrk(def->uri, "{}") != NULL) {
		log_msg(LOG_ERROR, self->name, NULL, "%s: \"%s\" is not %s", fn,
		        def->uri, kind == FEAT_TEMPLATE ? "a level-1 URI "
		        "template ({name} expressions)" : "a plain URI (use "
		        "resource_template_add for templates)");
		return MCPD_E_INVAL;
	}
	if (feat_taken(self, kind, def->uri))
		return MCPD_E_EXISTS;
	struct feat *f = calloc(1, sizeof *f);
	if (!f)
		return MCPD_E_NOMEM;
	f->kind = kind;
	f->key = strdup(def->uri);
	f->name = strdup(def->name);
	f->read = def->read;
	if (kind == FEAT_TEMPLATE &&
	    def->size >= offsetof(struct mcpd_resource_def, complete) +
	                     sizeof def->complete)
		f->complete = def->complete;
	if (def->size >= offsetof(struct mcpd_resource_def, ud) + sizeof def->ud)
		f->ud = def->ud;
	return feat_insert(self, f, def->title, def->description,
	                   def->mime_type);
}

int mcpf_resource_add(struct mcpd_plugin *self,
                      const struct mcpd_resource_def *def)
{
	return resource_add_kind(self, def, FEAT_RESOURCE, "resource_add");
}

int mcpf_resource_template_add(struct mcpd_plugin *self,
                               const struct mcpd_resource_def *def)
{
	return resource_add_kind(self, def, FEAT_TEMPLATE,
	                         "resource_template_add");
}

static int feat_remove(struct mcpd_plugin *self, int prompts, const char *key)
{
	for (struct feat **pp = &feats; *pp; pp = &(*pp)->next) {
		struct feat *f = *pp;
		if (f->p != self || (f->kind == FEAT_PROMPT) != prompts ||
		    strcmp(f->key, key) != 0)
			continue;
		*pp = f->next;
		bump(f->kind);
		feat_free(f);
		return MCPD_OK;
	}
	return MCPD_E_NOTFOUND;
}

int mcpf_resource_remove(struct mcpd_plugin *self, const char *uri)
{
	int rc = host_check(self, "resource_remove");
	if (rc < 0)
		return rc;
	return uri ? feat_remove(self, 0, uri) : MCPD_E_INVAL;
}

static int prompt_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (!var_char(*s) && *s != '.' && *s != '-')
			return 0;
	return 1;
}

/* The arguments text of a prompt: an array of objects with a non-empty
 * string "name" (unique), optional string "description", "title" and
 * boolean "required", nothing else. */
static json_t *prompt_arguments(const char *text)
{
	json_t *a = text ? json_loads(text, 0, NULL) : json_array();
	size_t i;
	json_t *e;
	if (!json_is_array(a))
		goto bad;
	json_array_foreach(a, i, e) {
		const char *k;
		json_t *v;
		const char *name = json_string_value(json_object_get(e, "name"));
		if (!json_is_object(e) || !name || !name[0])
			goto bad;
		json_object_foreach(e, k, v) {
			int str = strcmp(k, "name") == 0 ||
			          strcmp(k, "description") == 0 ||
			          strcmp(k, "title") == 0;
			if (str ? !json_is_string(v)
			        : strcmp(k, "required") != 0 || !json_is_boolean(v))
				goto bad;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(name, json_string_value(json_object_get(
				json_array_get(a, j), "name"))) == 0)
				goto bad;
	}
	return a;
bad:
	json_decref(a);
	return NULL;
}

int mcpf_prompt_add(struct mcpd_plugin *self, const struct mcpd_prompt_def *def)
{
	int rc = host_check(self, "prompt_add");
	if (rc < 0)
		return rc;
	if (!def || def->size < offsetof(struct mcpd_prompt_def, get) +
	                            sizeof def->get ||
	    !prompt_name_valid(def->name) || !def->get) {
		log_msg(LOG_ERROR, self->name, NULL, "prompt_add: a definition "
		        "needs size, name ([A-Za-z0-9_.-], 1 to 64 bytes) and "
		        "get");
		return MCPD_E_INVAL;
	}
	json_t *args = prompt_arguments(def->arguments);
	if (!args) {
		log_msg(LOG_ERROR, self->name, NULL, "prompt_add \"%s\": "
		        "arguments must be a JSON array of {\"name\", "
		        "\"description\"?, \"required\"?} objects with unique "
		        "names", def->name);
		return MCPD_E_SCHEMA;
	}
	if (feat_taken(self, FEAT_PROMPT, def->name)) {
		json_decref(args);
		return MCPD_E_EXISTS;
	}
	struct feat *f = calloc(1, sizeof *f);
	if (!f) {
		json_decref(args);
		return MCPD_E_NOMEM;
	}
	f->kind = FEAT_PROMPT;
	f->key = strdup(def->name);
	f->name = strdup(def->name);
	f->arguments = args;
	f->get = def->get;
	if (def->size >= offsetof(struct mcpd_prompt_def, complete) +
	                     sizeof def->complete)
		f->complete = def->complete;
	if (def->size >= offsetof(struct mcpd_prompt_def, ud) + sizeof def->ud)
		f->ud = def->ud;
	return feat_insert(self, f, def->title, def->description, NULL);
}

int mcpf_prompt_remove(struct mcpd_plugin *self, const char *name)
{
	int rc = host_check(self, "prompt_remove");
	if (rc < 0)
		return rc;
	return name ? feat_remove(self, 1, name) : MCPD_E_INVAL;
}

/* ---- subscriptions (legacy sessions) ---- */

struct sub {
	struct watcher w; /* first: a task's watcher gets this pointer */
	struct mcp_conn *c;
	char *uri;
	struct sub *next;
};

static struct sub *subs;

static void sub_free(struct sub *s)
{
	watcher_remove(&s->w);
	free(s->uri);
	free(s);
}

static void notify_updated(const char *uri)
{
	for (struct sub *s = subs; s; s = s->next)
		if (strcmp(s->uri, uri) == 0)
			mcp_conn_notify(s->c, "notifications/resources/updated",
			                json_pack("{s:s}", "uri", uri));
}

/* A subscribed task changed: its resource did. Only a finished task is
 * worth a notification (the resource is its outcome); the watcher is
 * unlinked before that final call. */
static void sub_task_event(struct watcher *w, struct task *t, json_t *ev,
                           int final)
{
	struct sub *s = (struct sub *)w;
	(void)t;
	if (final && ev)
		mcp_conn_notify(s->c, "notifications/resources/updated",
		                json_pack("{s:s}", "uri", s->uri));
}

int mcpf_resource_updated(struct mcpd_plugin *self, const char *uri)
{
	int rc = host_check(self, "resource_updated");
	if (rc < 0)
		return rc;
	if (!uri)
		return MCPD_E_INVAL;
	notify_updated(uri);
	return MCPD_OK;
}

void mcpf_conn_gone(struct mcp_conn *c)
{
	struct sub **pp = &subs;
	while (*pp) {
		struct sub *s = *pp;
		if (s->c != c) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		sub_free(s);
	}
}

/* ---- tasks as resources ---- */

/* The task id of a mcpd://tasks/{id} URI into hex (33 bytes) and id;
 * -1 if uri is not one. */
static int task_uri(const char *uri, char *hex, uint8_t id[16])
{
	size_t n = strlen(MCPF_TASK_SCHEME);
	if (strncmp(uri, MCPF_TASK_SCHEME, n) != 0 || strlen(uri + n) != 32 ||
	    task_id_parse(uri + n, id) < 0)
		return -1;
	task_id_hex(id, hex);
	return strcmp(hex, uri + n) == 0 ? 0 : -1;
}

/* The Resource entry of a task's JSON (borrowed). */
static json_t *task_resource(const json_t *task)
{
	const char *id = json_string_value(json_object_get(task, "id"));
	const char *cap = json_string_value(json_object_get(task, "capability"));
	const char *st = json_string_value(json_object_get(task, "status"));
	const char *at = json_string_value(json_object_get(task, "finished_at"));
	json_t *r = json_pack("{s:s++, s:s+, s:s++, s:s}", "uri",
	                      MCPF_TASK_SCHEME, id ? id : "", "", "name",
	                      "task-", id ? id : "", "title", cap ? cap : "?",
	                      " ", st ? st : "?", "mimeType",
	                      "application/json");
	if (r && at)
		json_object_set_new(r, "description", json_sprintf(
			"The outcome of task %s (%s): %s at %s", id, cap, st, at));
	else if (r)
		json_object_set_new(r, "description", json_sprintf(
			"Task %s (%s), %s", id, cap ? cap : "?", st ? st : "?"));
	return r;
}

struct task_page {
	struct mcpd *d;
	json_t *out;  /* Resource entries */
	size_t limit; /* entries wanted */
	int more;
	char last[33];
	const char *prefix; /* completion: ids starting so; else NULL */
	size_t seen;        /* completion: matches so far */
};

/* The stored or live form of a task in a scan; NULL to skip it. */
static json_t *scanned_task(struct mcpd *d, const uint8_t id[16],
                            const char *json, size_t len, char *hex)
{
	task_id_hex(id, hex);
	struct task *t = sched_find(d, hex);
	if (t)
		return task_status_final(t->status) ? task_to_json(t, 1) : NULL;
	json_t *j = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	int st = task_status_parse(json_string_value(json_object_get(j,
	                                                           "status")));
	if (st < 0 || !task_status_final((enum task_status)st)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int task_page_one(const uint8_t id[16], const char *json, size_t len,
                         void *ud)
{
	struct task_page *pg = ud;
	char hex[33];
	json_t *j = scanned_task(pg->d, id, json, len, hex);
	if (!j)
		return 0;
	if (json_array_size(pg->out) == pg->limit) {
		json_decref(j);
		pg->more = 1;
		return 1;
	}
	json_array_append_new(pg->out, task_resource(j));
	memcpy(pg->last, hex, sizeof pg->last);
	json_decref(j);
	return 0;
}

/* ---- cursors: "r:" + hex of the last plugin resource's uri, or "t:" +
 * the last task id; opaque to clients ---- */

static char *cursor_make(char phase, const char *key)
{
	size_t n = strlen(key);
	char *out = malloc(2 * n + 3);
	if (!out)
		return NULL;
	out[0] = phase;
	out[1] = ':';
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", (unsigned char)key[i]);
	out[2 * n + 2] = '\0';
	return out;
}

/* The key of a cursor (malloc'd) and its phase; NULL if malformed. */
static char *cursor_read(const char *cur, char *phase)
{
	size_t n = strlen(cur);
	if (n < 4 || n % 2 || cur[1] != ':' ||
	    (cur[0] != 'r' && cur[0] != 't' && cur[0] != 'p'))
		return NULL;
	*phase = cur[0];
	char *key = malloc(n / 2);
	if (!key)
		return NULL;
	for (size_t i = 2; i < n; i += 2) {
		int h = hex_digit(cur[i]), l = hex_digit(cur[i + 1]);
		/* Only what cursor_make writes: lower-case hex, no NUL. */
		if (h < 0 || l < 0 || (h | l) == 0 ||
		    (cur[i] >= 'A' && cur[i] <= 'F') ||
		    (cur[i + 1] >= 'A' && cur[i + 1] <= 'F')) {
			free(key);
			return NULL;
		}
		key[i / 2 - 1] = (char)(h << 4 | l);
	}
	key[n / 2 - 1] = '\0';
	return key;
}

/* The params' cursor: 0 and *key (malloc'd, NULL without one), or -1
 * after answering invalid params. */
static int req_cursor(struct req *r, const char *method, char want,
                      char want2, char *phase, char **key)
{
	const json_t *cur = json_object_get(mcp_req_params(r), "cursor");
	*key = NULL;
	*phase = want;
	if (!cur)
		return 0;
	if (json_is_string(cur) &&
	    (*key = cursor_read(json_string_value(cur), phase)) &&
	    (*phase == want || *phase == want2))
		return 0;
	free(*key);
	*key = NULL;
	mcp_req_error(r, JSONRPC_INVALID_PARAMS, NULL, "%s: invalid cursor",
	              method);
	return -1;
}

/* ---- resources/list ---- */

static json_t *plugin_resource(const struct feat *f)
{
	json_t *r = json_pack("{s:s, s:s}", "uri", f->key, "name", f->name);
	if (f->title)
		json_object_set_new(r, "title", json_string(f->title));
	if (f->description)
		json_object_set_new(r, "description",
		                    json_string(f->description));
	if (f->mime)
		json_object_set_new(r, "mimeType", json_string(f->mime));
	return r;
}

void mcpf_resources_list(struct req *r)
{
	struct mcpd *d = mcp_req_daemon(r);
	size_t limit = mcp_req_page_size(r), n = 0;
	char phase, *after;
	if (req_cursor(r, "resources/list", 'r', 't', &phase, &after) < 0)
		return;
	json_t *out = json_array();
	char *next = NULL;
	const char *last = NULL;
	struct feat **all = NULL;
	/* Plugins' resources by uri, then finished tasks, newest first. */
	if (phase == 'r') {
		all = feat_sorted(d, FEAT_RESOURCE, &n);
		for (size_t i = 0; i < n; i++) {
			if (after && strcmp(all[i]->key, after) <= 0)
				continue;
			if (json_array_size(out) == limit) {
				next = cursor_make('r', last);
				break;
			}
			json_array_append_new(out, plugin_resource(all[i]));
			last = all[i]->key;
		}
	}
	uint8_t from[16];
	int bad = !next && phase == 't' && task_id_parse(after, from) < 0;
	struct task_page pg = {.d = d, .out = out, .limit = limit};
	if (!next && !bad &&
	    store_task_scan(d->store, phase == 't' ? from : NULL, 1,
	                    task_page_one, &pg) < 0) {
		free(all);
		free(after);
		json_decref(out);
		mcp_req_error(r, JSONRPC_INTERNAL_ERROR, NULL, "%s",
		              store_last_error(d->store));
		return;
	}
	/* A page that plugin resources filled ends at the last of them. */
	if (pg.more)
		next = pg.last[0] ? cursor_make('t', pg.last)
		                  : cursor_make('r', last);
	free(all);
	free(after);
	if (bad) {
		json_decref(out);
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, NULL,
		              "resources/list: invalid cursor");
		return;
	}
	json_t *res = json_pack("{s:o}", "resources", out);
	if (next)
		json_object_set_new(res, "nextCursor", json_string(next));
	free(next);
	mcp_req_answer(r, res);
}

/* ---- resources/read ---- */

static void not_found(struct req *r, const char *uri)
{
	mcp_req_error(r, mcp_req_modern(r) ? JSONRPC_INVALID_PARAMS
	                                   : MCP_RESOURCE_NOT_FOUND,
	              json_pack("{s:s}", "uri", uri), "Resource not found: %s",
	              uri);
}

/* One content object of a plugin's read, completed in place; -1 if it
 * is not {"text"} or {"blob"} (string) with string members. */
static int content_fix(json_t *c, const char *uri, const char *mime)
{
	json_t *text = json_object_get(c, "text");
	json_t *blob = json_object_get(c, "blob");
	json_t *u = json_object_get(c, "uri");
	json_t *m = json_object_get(c, "mimeType");
	if (!json_is_object(c) || !text == !blob ||
	    (text && !json_is_string(text)) || (blob && !json_is_string(blob)) ||
	    (u && !json_is_string(u)) || (m && !json_is_string(m)))
		return -1;
	if (!u)
		json_object_set_new(c, "uri", json_string(uri));
	if (!m && mime)
		json_object_set_new(c, "mimeType", json_string(mime));
	return 0;
}

static void read_plugin(struct req *r, const struct feat *f, const char *uri,
                        const json_t *vars)
{
	json_t *got = NULL;
	int rc = f->read(uri, vars, &got, f->ud);
	if (rc == MCPD_E_NOTFOUND) {
		json_decref(got);
		not_found(r, uri);
		return;
	}
	if (rc == MCPD_E_INVAL) {
		json_decref(got);
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, json_pack("{s:s}",
		              "uri", uri), "resources/read: %s cannot read "
		              "\"%s\"", f->p->name, uri);
		return;
	}
	json_t *arr = json_is_array(got) ? got : json_pack("[o]", got);
	size_t i;
	json_t *c;
	int good = rc == 0 && arr && json_array_size(arr) > 0;
	json_array_foreach(arr, i, c)
		good = good && content_fix(c, uri, f->mime) == 0;
	if (!good) {
		json_decref(arr);
		log_msg(LOG_ERROR, f->p->name, NULL, "resources/read %s: %s",
		        uri, rc < 0 ? host_table.strerror(rc) : "malformed "
		        "contents (want {\"text\"} or {\"blob\"} objects)");
		mcp_req_error(r, JSONRPC_INTERNAL_ERROR, NULL, "resources/read: "
		              "plugin %s failed to read %s", f->p->name, uri);
		return;
	}
	mcp_req_answer(r, json_pack("{s:o}", "contents", arr));
}

void mcpf_resources_read(struct req *r)
{
	struct mcpd *d = mcp_req_daemon(r);
	const char *uri = json_string_value(json_object_get(mcp_req_params(r),
	                                                    "uri"));
	char hex[33];
	uint8_t id[16];
	if (!uri) {
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, NULL, "resources/read: "
		              "params needs uri (a string)");
		return;
	}
	if (strncmp(uri, MCPF_TASK_SCHEME, strlen(MCPF_TASK_SCHEME)) == 0) {
		json_t *task = task_uri(uri, hex, id) == 0
		                       ? sched_task_json(d, hex, id) : NULL;
		char *text = task ? json_dumps(task, JSON_COMPACT) : NULL;
		json_decref(task);
		if (!text) {
			not_found(r, uri);
			return;
		}
		mcp_req_answer(r, json_pack("{s:[{s:s, s:s, s:s}]}", "contents",
		                            "uri", uri, "mimeType",
		                            "application/json", "text", text));
		free(text);
		return;
	}
	const struct feat *f = feat_find(d, FEAT_RESOURCE, uri);
	if (f) {
		json_t *vars = json_object();
		read_plugin(r, f, uri, vars);
		json_decref(vars);
		return;
	}
	size_t n;
	struct feat **all = feat_sorted(d, FEAT_TEMPLATE, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *vars = json_object();
		if (template_match(all[i]->key, uri, vars)) {
			read_plugin(r, all[i], uri, vars);
			json_decref(vars);
			free(all);
			return;
		}
		json_decref(vars);
	}
	free(all);
	not_found(r, uri);
}

/* ---- resources/templates/list ---- */

void mcpf_resources_templates_list(struct req *r)
{
	struct mcpd *d = mcp_req_daemon(r);
	char phase, *after;
	size_t n;
	/* A short list: one page, so no cursor is valid. */
	if (req_cursor(r, "resources/templates/list", 0, 0, &phase,
	               &after) < 0)
		return;
	json_t *out = json_pack("[{s:s++, s:s, s:s, s:s, s:s}]", "uriTemplate",
	                        MCPF_TASK_SCHEME, "{id}", "", "name", "task",
	                        "title", "mcpd task outcome", "description",
	                        "A task's status, result or error and times "
	                        "as JSON, by its id (the _meta of a tools/call "
	                        "result names it)", "mimeType",
	                        "application/json");
	struct feat **all = feat_sorted(d, FEAT_TEMPLATE, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *t = plugin_resource(all[i]);
		json_object_set(t, "uriTemplate", json_object_get(t, "uri"));
		json_object_del(t, "uri");
		json_array_append_new(out, t);
	}
	free(all);
	mcp_req_answer(r, json_pack("{s:o}", "resourceTemplates", out));
}

/* ---- resources/subscribe, resources/unsubscribe ---- */

static struct sub *sub_find(struct mcp_conn *c, const char *uri)
{
	for (struct sub *s = subs; s; s = s->next)
		if (s->c == c && strcmp(s->uri, uri) == 0)
			return s;
	return NULL;
}

/* Does uri name a resource now: a task, a plugin's resource or a URI
 * one of their templates matches? */
static int resource_exists(struct mcpd *d, const char *uri, struct task **t)
{
	char hex[33];
	uint8_t id[16];
	*t = NULL;
	if (task_uri(uri, hex, id) == 0) {
		json_t *j = (*t = sched_find(d, hex)) ? NULL
		                                      : sched_task_json(d, hex, id);
		int found = *t || j;
		json_decref(j);
		return found;
	}
	if (feat_find(d, FEAT_RESOURCE, uri))
		return 1;
	size_t n;
	int found = 0;
	struct feat **all = feat_sorted(d, FEAT_TEMPLATE, &n);
	for (size_t i = 0; i < n && !found; i++) {
		json_t *vars = json_object();
		found = template_match(all[i]->key, uri, vars);
		json_decref(vars);
	}
	free(all);
	return found;
}

static const char *req_uri(struct req *r, const char *method)
{
	const char *uri = json_string_value(json_object_get(mcp_req_params(r),
	                                                    "uri"));
	if (!uri)
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, NULL, "%s: params "
		              "needs uri (a string)", method);
	return uri;
}

void mcpf_resources_subscribe(struct req *r)
{
	struct mcp_conn *c = mcp_req_conn(r);
	const char *uri = req_uri(r, "resources/subscribe");
	struct task *t;
	if (!uri)
		return;
	if (!resource_exists(mcp_req_daemon(r), uri, &t)) {
		not_found(r, uri);
		return;
	}
	if (!sub_find(c, uri)) {
		struct sub *s = calloc(1, sizeof *s);
		if (!s || !(s->uri = strdup(uri))) {
			free(s);
			mcp_req_error(r, JSONRPC_INTERNAL_ERROR, NULL,
			              "out of memory");
			return;
		}
		s->c = c;
		s->w.fn = sub_task_event;
		/* A finished task does not change any more. */
		if (t && !task_status_final(t->status))
			watcher_add(t, &s->w);
		s->next = subs;
		subs = s;
	}
	mcp_req_answer(r, json_object());
}

void mcpf_resources_unsubscribe(struct req *r)
{
	struct mcp_conn *c = mcp_req_conn(r);
	const char *uri = req_uri(r, "resources/unsubscribe");
	if (!uri)
		return;
	for (struct sub **pp = &subs; *pp; pp = &(*pp)->next) {
		if ((*pp)->c == c && strcmp((*pp)->uri, uri) == 0) {
			struct sub *s = *pp;
			*pp = s->next;
			sub_free(s);
			break;
		}
	}
	mcp_req_answer(r, json_object());
}

/* ---- prompts ---- */

static json_t *prompt_json(const struct feat *f)
{
	json_t *p = json_pack("{s:s}", "name", f->key);
	if (f->title)
		json_object_set_new(p, "title", json_string(f->title));
	if (f->description)
		json_object_set_new(p, "description",
		                    json_string(f->description));
	if (json_array_size(f->arguments))
		json_object_set(p, "arguments", f->arguments);
	return p;
}

void mcpf_prompts_list(struct req *r)
{
	struct mcpd *d = mcp_req_daemon(r);
	size_t limit = mcp_req_page_size(r), n;
	char phase, *after;
	if (req_cursor(r, "prompts/list", 'p', 'p', &phase, &after) < 0)
		return;
	struct feat **all = feat_sorted(d, FEAT_PROMPT, &n);
	json_t *out = json_array();
	char *next = NULL;
	for (size_t i = 0; i < n && !next; i++) {
		if (after && strcmp(all[i]->key, after) <= 0)
			continue;
		if (json_array_size(out) == limit)
			next = cursor_make('p', all[i - 1]->key);
		else
			json_array_append_new(out, prompt_json(all[i]));
	}
	free(all);
	free(after);
	json_t *res = json_pack("{s:o}", "prompts", out);
	if (next)
		json_object_set_new(res, "nextCursor", json_string(next));
	free(next);
	mcp_req_answer(r, res);
}

/* The prompt's arguments checked against its declaration: NULL after
 * answering invalid params. */
static json_t *prompt_args(struct req *r, const struct feat *f,
                           const json_t *given)
{
	const char *k;
	json_t *v, *e;
	size_t i;
	if (given && !json_is_object(given)) {
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, NULL, "prompts/get: "
		              "arguments must be an object of strings");
		return NULL;
	}
	json_object_foreach((json_t *)given, k, v) {
		int known = 0;
		json_array_foreach(f->arguments, i, e)
			known |= strcmp(json_string_value(json_object_get(
				e, "name")), k) == 0;
		if (!known || !json_is_string(v)) {
			mcp_req_error(r, JSONRPC_INVALID_PARAMS, json_pack(
				"{s:s}", "argument", k), "prompts/get %s: %s",
				f->key, known ? "argument values must be strings"
				              : "unknown argument");
			return NULL;
		}
	}
	json_array_foreach(f->arguments, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		if (json_is_true(json_object_get(e, "required")) &&
		    !json_object_get(given, name)) {
			mcp_req_error(r, JSONRPC_INVALID_PARAMS, json_pack(
				"{s:s}", "argument", name), "prompts/get %s: "
				"missing required argument \"%s\"", f->key, name);
			return NULL;
		}
	}
	return given ? json_incref((json_t *)given) : json_object();
}

static int messages_valid(const json_t *msgs)
{
	size_t i;
	json_t *m;
	if (!json_is_array(msgs))
		return 0;
	json_array_foreach(msgs, i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));
		json_t *c = json_object_get(m, "content");
		if (!role || (strcmp(role, "user") && strcmp(role, "assistant")) ||
		    !json_is_string(json_object_get(c, "type")))
			return 0;
	}
	return 1;
}

void mcpf_prompts_get(struct req *r)
{
	const json_t *params = mcp_req_params(r);
	const char *name = json_string_value(json_object_get(params, "name"));
	const struct feat *f = name ? feat_find(mcp_req_daemon(r), FEAT_PROMPT,
	                                        name) : NULL;
	if (!name) {
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, NULL, "prompts/get: "
		              "params needs name (a string)");
		return;
	}
	if (!f) {
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, json_pack("{s:s}",
		              "name", name), "Unknown prompt: %s", name);
		return;
	}
	json_t *args = prompt_args(r, f, json_object_get(params, "arguments"));
	if (!args)
		return;
	json_t *got = NULL;
	int rc = f->get(args, &got, f->ud);
	json_decref(args);
	if (rc == MCPD_E_INVAL) {
		json_decref(got);
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, NULL, "prompts/get %s: "
		              "the prompt cannot use these arguments", name);
		return;
	}
	json_t *res = json_is_array(got) ? json_pack("{s:o}", "messages", got)
	                                 : got;
	if (rc < 0 || !json_is_object(res) ||
	    !messages_valid(json_object_get(res, "messages"))) {
		json_decref(res);
		log_msg(LOG_ERROR, f->p->name, NULL, "prompts/get %s: %s", name,
		        rc < 0 ? host_table.strerror(rc) : "malformed result "
		        "(want an array of {role, content} messages)");
		mcp_req_error(r, JSONRPC_INTERNAL_ERROR, NULL, "prompts/get: "
		              "plugin %s failed to render %s", f->p->name, name);
		return;
	}
	if (!json_object_get(res, "description") && f->description)
		json_object_set_new(res, "description",
		                    json_string(f->description));
	mcp_req_answer(r, res);
}

/* ---- completion/complete ---- */

static int task_complete_one(const uint8_t id[16], const char *json,
                             size_t len, void *ud)
{
	struct task_page *pg = ud;
	char hex[33];
	(void)json;
	(void)len;
	task_id_hex(id, hex);
	if (strncmp(hex, pg->prefix, strlen(pg->prefix)) != 0)
		return 0;
	if (pg->seen++ == COMPLETE_MAX) {
		pg->more = 1; /* enough: the store may hold millions */
		return 1;
	}
	json_array_append_new(pg->out, json_string(hex));
	return 0;
}

/* The values of a completion: strings only, at most COMPLETE_MAX;
 * `more`: there are others besides `values` (total unknown). */
static json_t *completion(const json_t *values, int more)
{
	json_t *out = json_array();
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(values, i, v) {
		if (!json_is_string(v))
			continue;
		if (json_array_size(out) < COMPLETE_MAX)
			json_array_append(out, v);
		n++;
	}
	more = more || n > json_array_size(out);
	json_t *c = json_pack("{s:o, s:b}", "values", out, "hasMore", more);
	if (!more)
		json_object_set_new(c, "total", json_integer((json_int_t)n));
	return json_pack("{s:o}", "completion", c);
}

void mcpf_completion_complete(struct req *r)
{
	struct mcpd *d = mcp_req_daemon(r);
	const json_t *params = mcp_req_params(r);
	json_t *ref = json_object_get(params, "ref");
	json_t *arg = json_object_get(params, "argument");
	json_t *ctx = json_object_get(json_object_get(params, "context"),
	                              "arguments");
	const char *type = json_string_value(json_object_get(ref, "type"));
	const char *aname = json_string_value(json_object_get(arg, "name"));
	const char *value = json_string_value(json_object_get(arg, "value"));
	int prompt = type && strcmp(type, "ref/prompt") == 0;
	int resource = type && strcmp(type, "ref/resource") == 0;
	const char *key = json_string_value(json_object_get(ref, prompt ? "name"
	                                                                 : "uri"));
	if (!(prompt || resource) || !key || !aname || !value ||
	    (ctx && !json_is_object(ctx))) {
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, NULL,
		              "completion/complete: params needs ref ({type: "
		              "ref/prompt, name} or {type: ref/resource, uri}), "
		              "argument {name, value} (strings) and context."
		              "arguments (an object) if any");
		return;
	}
	if (resource && strcmp(key, MCPF_TASK_SCHEME "{id}") == 0) {
		if (strcmp(aname, "id") != 0) {
			mcp_req_error(r, JSONRPC_INVALID_PARAMS, NULL,
			              "completion/complete: %s has no variable "
			              "\"%s\"", key, aname);
			return;
		}
		/* Task ids, newest first. */
		struct task_page pg = {.d = d, .out = json_array(),
		                       .prefix = value};
		store_task_scan(d->store, NULL, 1, task_complete_one, &pg);
		mcp_req_answer(r, completion(pg.out, pg.more));
		json_decref(pg.out);
		return;
	}
	const struct feat *f = feat_find(d, prompt ? FEAT_PROMPT : FEAT_TEMPLATE,
	                                 key);
	if (!f) {
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, json_pack("{s:s}",
		              prompt ? "name" : "uri", key), "completion/"
		              "complete: unknown %s %s", prompt ? "prompt" :
		              "resource template", key);
		return;
	}
	int known = 0;
	size_t i;
	json_t *e;
	if (prompt)
		json_array_foreach(f->arguments, i, e)
			known |= strcmp(json_string_value(json_object_get(
				e, "name")), aname) == 0;
	else
		known = template_has_var(f->key, aname);
	if (!known) {
		mcp_req_error(r, JSONRPC_INVALID_PARAMS, json_pack("{s:s}",
		              "argument", aname), "completion/complete: %s has "
		              "no argument \"%s\"", key, aname);
		return;
	}
	json_t *ctxa = ctx ? json_incref(ctx) : json_object();
	json_t *values = f->complete ? f->complete(aname, value, ctxa, f->ud)
	                             : NULL;
	json_decref(ctxa);
	mcp_req_answer(r, completion(values, 0));
	json_decref(values);
}

/* ---- capabilities ---- */

void mcpf_capabilities(json_t *caps, int legacy)
{
	json_object_set_new(caps, "resources", json_pack(
		"{s:b, s:b}", "subscribe", legacy, "listChanged", legacy));
	json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged",
	                                               legacy));
	json_object_set_new(caps, "completions", json_object());
}

/* ---- tools/call content ---- */

/* Why block i of a tool's content is malformed, or NULL. */
static const char *block_problem(const json_t *b)
{
	const char *type = json_string_value(json_object_get(b, "type"));
	if (!json_is_object(b) || !type)
		return "needs a string \"type\"";
	if (strcmp(type, "text") == 0)
		return json_is_string(json_object_get(b, "text")) ? NULL
		       : "a text block needs \"text\" (a string)";
	if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0)
		return json_is_string(json_object_get(b, "data")) &&
		               json_is_string(json_object_get(b, "mimeType"))
		       ? NULL : "an image or audio block needs \"data\" "
		                "(base64) and \"mimeType\" (strings)";
	if (strcmp(type, "resource") == 0) {
		json_t *res = json_object_get(b, "resource");
		return json_is_string(json_object_get(res, "uri")) &&
		               (json_is_string(json_object_get(res, "text")) ||
		                json_is_string(json_object_get(res, "blob")))
		       ? NULL : "a resource block needs \"resource\": {uri, "
		                "text or blob}";
	}
	if (strcmp(type, "resource_link") == 0)
		return json_is_string(json_object_get(b, "uri")) &&
		               json_is_string(json_object_get(b, "name"))
		       ? NULL : "a resource_link block needs \"uri\" and "
		                "\"name\" (strings)";
	return "an unknown type (want text, image, audio, resource or "
	       "resource_link)";
}

/* A resource_link for a revision without it (2025-03-26): as text. */
static json_t *link_as_text(const json_t *b)
{
	const char *uri = json_string_value(json_object_get(b, "uri"));
	const char *name = json_string_value(json_object_get(b, "name"));
	return json_pack("{s:s, s:o}", "type", "text", "text",
	                 json_sprintf("resource %s (%s)", uri, name));
}

/* Replace content with a link to the task's resource; its size too. */
static json_t *result_link(const char *id, size_t size, size_t limit,
                           int structured)
{
	char uri[64];
	snprintf(uri, sizeof uri, "%s%s", MCPF_TASK_SCHEME, id);
	json_t *why = json_sprintf("The result is %zu bytes, over this "
	                           "server's inline limit of %zu: read the "
	                           "resource %s for it.", size, limit, uri);
	if (!structured)
		return json_pack("[{s:s, s:o}]", "type", "text", "text", why);
	return json_pack("[{s:s, s:s, s:s++, s:o, s:s, s:I}]", "type",
	                 "resource_link", "uri", uri, "name", "task-", id, "",
	                 "description", why, "mimeType", "application/json",
	                 "size", (json_int_t)size);
}

static int has_output_schema(struct mcpd *d, const char *cap)
{
	struct capq *q = cap ? router_capq(d->router, cap, 0) : NULL;
	return q && q->nprov && q->provs[0]->cap->output_schema;
}

void mcpf_tool_content(struct mcpd *d, int structured, int modern,
                       const json_t *task, json_t *res)
{
	const char *id = json_string_value(json_object_get(task, "id"));
	json_t *out = json_object_get(task, "result");
	json_t *blocks = json_object_get(out, MCPD_RESULT_MCP_CONTENT);
	json_t *content, *sc = NULL;
	if (!out)
		out = json_null();
	if (json_is_object(out) && blocks) {
		size_t i;
		json_t *b;
		const char *why = json_is_array(blocks) ? NULL : "must be an "
		                  "array of MCP content blocks";
		json_array_foreach(blocks, i, b)
			if (!why && (why = block_problem(b)))
				break;
		if (why) {
			json_object_set_new(res, "content", json_pack(
				"[{s:s, s:o}]", "type", "text", "text",
				json_sprintf("the tool's result is malformed: "
				             "%s[%zu]: %s", MCPD_RESULT_MCP_CONTENT,
				             json_is_array(blocks) ? i : 0, why)));
			json_object_set_new(res, "isError", json_true());
			return;
		}
		content = json_array();
		json_array_foreach(blocks, i, b) {
			const char *type = json_string_value(json_object_get(b,
			                                                     "type"));
			json_array_append_new(content, !structured &&
			                      strcmp(type, "resource_link") == 0
			                      ? link_as_text(b) : json_deep_copy(b));
		}
		sc = json_deep_copy(out);
		json_object_del(sc, MCPD_RESULT_MCP_CONTENT);
		if (!json_object_size(sc)) {
			json_decref(sc);
			sc = NULL;
		}
	} else {
		char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
		content = json_pack("[{s:s, s:s}]", "type", "text", "text",
		                    s ? s : "null");
		free(s);
		if (modern || json_is_object(out))
			sc = json_incref(out);
	}
	if (!structured) {
		json_decref(sc);
		sc = NULL;
	}
	size_t limit = d->cfg.mcp_inline_max_bytes;
	size_t size = json_dumpb(content, NULL, 0, JSON_COMPACT);
	if (size > limit && id) {
		json_decref(content);
		content = result_link(id, size, limit, structured);
		/* A tool that declares an output schema MUST return structured
		 * content; any other result goes only by the link. */
		if (sc && !has_output_schema(d, json_string_value(
		                  json_object_get(task, "capability")))) {
			json_decref(sc);
			sc = NULL;
		}
	}
	json_object_set_new(res, "content", content);
	if (sc)
		json_object_set_new(res, "structuredContent", sc);
}
