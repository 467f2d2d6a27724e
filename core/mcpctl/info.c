/*
 * What the daemon has loaded and whether it is ready: plugins,
 * capabilities, health. Tables for people, the server's JSON for scripts.
 */
#include "mcpctl-internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- plugins and capabilities ---- */

/* Names of a JSON array of strings, joined by ", ". */
static char *join_names(const json_t *names)
{
	struct buf b = { 0 };
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v)
		if (json_is_string(v))
			buf_printf(&b, "%s%s", b.len ? ", " : "",
			           json_string_value(v));
	buf_str(&b);
	return b.p;
}

static void plugin_row(struct table *t, const json_t *p)
{
	const char *name = jstr(p, "name"), *file = jstr(p, "file");
	const char *status = jstr(p, "status");
	char *what;

	/* A plugin whose descriptor could not be read is known by its file. */
	if (!name && file)
		name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	if (status && strcmp(status, "loaded") != 0 && jstr(p, "reason"))
		what = xstrdup(jstr(p, "reason"));
	else
		what = join_names(json_object_get(p, "capabilities"));
	const char *row[] = { name, jstr(p, "version"), status, what };

	table_add(t, row);
	free(what);
}

/* One listing: GET path, then the JSON as is, or a table with a row a
 * member of doc[key]. */
static int show_list(struct ctl *ctl, const char *path, const char *key,
                     const char *const *head, int ncols,
                     void (*row)(struct table *, const json_t *))
{
	json_t *doc, *items, *it;
	size_t i;
	int rc = api_call(ctl, "GET", path, NULL, API_TIMEOUT_MS, NULL, &doc);

	if (rc != EXIT_OK)
		return rc;
	items = json_object_get(doc, key);
	if (ctl->json) {
		print_json(stdout, doc);
		json_decref(doc);
		return EXIT_OK;
	}
	if (!json_is_array(items)) {
		warnx("the server's answer has no \"%s\" array", key);
		json_decref(doc);
		return EXIT_SERVER;
	}
	struct table *t = table_new(ncols, head);
	json_array_foreach(items, i, it)
		row(t, it);
	if (table_rows(t))
		table_print(t, stdout);
	else
		printf("no %s\n", key);
	table_free(t);
	json_decref(doc);
	return EXIT_OK;
}

int cmd_plugins(struct ctl *ctl, const struct args *a)
{
	static const char *const head[] = { "NAME", "VERSION", "STATUS",
	                                    "CAPABILITIES/REASON" };

	(void)a;
	return show_list(ctl, "/v1/plugins", "plugins", head, 4, plugin_row);
}

/* "sleep, py (open)": a provider whose breaker is not closed says so. */
static char *provider_names(const json_t *providers)
{
	struct buf b = { 0 };
	const char *breaker;
	size_t i;
	json_t *p;

	json_array_foreach(providers, i, p) {
		buf_printf(&b, "%s%s", b.len ? ", " : "",
		           jstr(p, "plugin") ? jstr(p, "plugin") : "?");
		breaker = jstr(p, "breaker");
		if (breaker && strcmp(breaker, "closed") != 0)
			buf_printf(&b, " (%s)", breaker);
	}
	if (!b.len)
		buf_adds(&b, "-");
	return b.p;
}

static char *first_line(const char *s)
{
	size_t n;
	char *line;

	if (!s)
		return xstrdup("");
	n = strcspn(s, "\r\n");
	line = xmalloc(n + 1);
	memcpy(line, s, n);
	line[n] = '\0';
	return line;
}

static void capability_row(struct table *t, const json_t *c)
{
	const char *desc = jstr(c, "description");
	char *providers = provider_names(json_object_get(c, "providers"));
	char *queued = jtext(json_object_get(c, "queued"));
	char *line = first_line(desc && *desc ? desc : jstr(c, "title"));
	const char *row[] = { jstr(c, "name"), jstr(c, "version"), providers,
	                      queued, line };

	table_add(t, row);
	free(providers);
	free(queued);
	free(line);
}

int cmd_capabilities(struct ctl *ctl, const struct args *a)
{
	static const char *const head[] = { "NAME", "VERSION", "PROVIDERS",
	                                    "QUEUED", "DESCRIPTION" };

	(void)a;
	return show_list(ctl, "/v1/capabilities", "capabilities", head, 5,
	                 capability_row);
}

/* ---- health ---- */

/* "ready (plugins: 3, store: open)" from {"status": "ready", ...}. */
static char *probe_text(const json_t *body)
{
	const char *key, *s = jstr(body, "status");
	const json_t *err = json_object_get(body, "error");
	struct buf b = { 0 };
	int extras = 0;
	json_t *v;

	if (json_is_object(err))
		return error_text(err);
	if (!body)
		return xstrdup("(the answer is not JSON)");
	buf_adds(&b, s ? s : "-");
	json_object_foreach((json_t *)body, key, v) {
		char *text;

		if (strcmp(key, "status") == 0)
			continue;
		text = jtext(v);
		buf_printf(&b, "%s%s: %s", extras++ ? ", " : " (", key, text);
		free(text);
	}
	if (extras)
		buf_adds(&b, ")");
	return b.p;
}

/* One probe: a line on stdout, and one on stderr when it is unhappy. */
static int probe(struct ctl *ctl, const char *path, json_t *doc, int *unhappy)
{
	json_t *body;
	char *text;
	int status, rc = api_probe(ctl, path, &status, &body);

	if (rc != EXIT_OK)
		return rc;
	text = probe_text(body);
	if (!ctl->json)
		printf("%-8s %d %s\n", path + 1, status, text);
	if (status < 200 || status > 299) {
		warnx("%s: %d %s", path, status, text);
		*unhappy = 1;
	}
	free(text);
	json_object_set_new(doc, path + 1, body ? body : json_null());
	return EXIT_OK;
}

int cmd_health(struct ctl *ctl, const struct args *a)
{
	json_t *doc = json_object();
	int unhappy = 0;
	/* Both probes run even when /healthz is unhappy: readyz may say why. */
	int rc = probe(ctl, "/healthz", doc, &unhappy);

	(void)a;
	if (rc == EXIT_OK)
		rc = probe(ctl, "/readyz", doc, &unhappy);
	if (rc == EXIT_OK && ctl->json)
		print_json(stdout, doc);
	json_decref(doc);
	return rc == EXIT_OK && unhappy ? EXIT_SERVER : rc;
}

/* ---- reload ---- */

/* "echo 2.0.0 (generation 2), sleep 1.0.0 (generation 3)" */
static char *generations(const json_t *list)
{
	struct buf b = { 0 };
	size_t i;
	json_t *g;

	json_array_foreach(list, i, g)
		buf_printf(&b, "%s%s %s (generation %lld)", b.len ? ", " : "",
		           jstr(g, "name"), jstr(g, "version") ? jstr(g, "version") : "",
		           (long long)json_integer_value(json_object_get(g, "generation")));
	buf_str(&b);
	return b.p;
}

static void print_list(const char *label, const json_t *list)
{
	char *s;

	if (!json_array_size(list))
		return;
	s = generations(list);
	printf("  %-17s %s\n", label, s);
	free(s);
}

int cmd_reload(struct ctl *ctl, const struct args *a)
{
	json_t *doc, *w;
	size_t i;
	/* With --wait the answer comes after the drain: as long as that
	 * takes (the daemon bounds it by its drain timeout). */
	int wait = a->opt[OPT_WAIT] != NULL;
	int rc = api_call(ctl, "POST", wait ? "/v1/reload?wait=1" : "/v1/reload",
	                  NULL, wait ? -1 : API_TIMEOUT_MS, NULL, &doc);

	if (rc != EXIT_OK)
		return rc; /* a failed reload: the reason is already printed */
	if (ctl->json) {
		print_json(stdout, doc);
		json_decref(doc);
		return EXIT_OK;
	}
	printf("reload %lld: %s in %lld ms\n",
	       (long long)json_integer_value(json_object_get(doc, "reload")),
	       jstr(doc, "status"),
	       (long long)json_integer_value(json_object_get(doc, "duration_ms")));
	print_list("loaded:", json_object_get(doc, "loaded"));
	print_list("retiring:", json_object_get(doc, "retiring"));
	if (json_array_size(json_object_get(doc, "retiring")) &&
	    json_object_get(doc, "drained"))
		printf("  %-17s %s\n", "drained:",
		       json_is_true(json_object_get(doc, "drained")) ? "yes"
		       : "no, still waiting on code that has not returned");
	json_array_foreach(json_object_get(doc, "warnings"), i, w)
		printf("  %-17s %s: %s\n", "warning:", jstr(w, "file"),
		       jstr(w, "warning"));
	w = json_object_get(doc, "restart_required");
	if (json_array_size(w)) {
		char *keys = join_names(w);
		printf("  %-17s %s\n", "restart required:", keys);
		free(keys);
	}
	json_decref(doc);
	return EXIT_OK;
}
