/*
 * Unit tests for core/plugin.c: loading the bundled plugins and the
 * deliberately broken ones of tests/plugins, each refused for its reason.
 */
#include "map-internal.h"
#include "mcpd-internal.h"
#include "plugin-internal.h"
#include "router-internal.h"
#include "store-internal.h"
#include "tap.h"

#include <dirent.h>
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

static char root[] = "/tmp/test_loader.XXXXXX";

static struct mcpd_plugin *by_file(struct mcpd *d, const char *dir,
                                   const char *base)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, base);
	for (size_t i = 0; i < d->nplugins; i++)
		if (strcmp(d->plugins[i]->file, path) == 0)
			return d->plugins[i];
	return NULL;
}

static int count_entries(const char *dir)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dh)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(dh);
	return n;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Each refused plugin and a fragment of its reason. */
static const struct {
	const char *file, *reason;
} refused[] = {
	{"bad_major.so", "major 2"},
	{"newer_minor.so", "minor"},
	{"no_symbol.so", "mcpd_plugin_v1"},
	{"init_fails.so", "init failed"},
	{"dup_cap.so", "declared twice"},
	{"bad_schema.so", "JSON"},
	{"dup_name.so", "duplicate plugin name"},
	{"small_desc.so", "too small"},
};

static void check_refused(struct mcpd *d, const char *tdir)
{
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct mcpd_plugin *p = by_file(d, tdir, refused[i].file);
		if (!ok(p != NULL, "%s has a record", refused[i].file))
			continue;
		ok(!p->loaded, "%s refused", refused[i].file);
		if (!ok(strstr(p->reason, refused[i].reason) != NULL,
		        "%s: reason mentions \"%s\"", refused[i].file,
		        refused[i].reason))
			diag("reason: %s", p->reason);
		ok(p->dl == NULL && p->ncaps == 0 && p->caps == NULL,
		   "%s: closed, no capabilities kept", refused[i].file);
	}
	/* The duplicate echo is not the one registered under "echo". */
	struct mcpd_plugin *dup = by_file(d, tdir, "dup_name.so");
	struct mcpd_plugin *echo = map_get(d->plugins_by_name, "echo");
	ok(echo && echo != dup && !strstr(echo->file, "dup_name"),
	   "\"echo\" is the bundled plugin, loaded first");
	if (dup)
		ok(strstr(dup->reason, echo ? echo->file : "?") != NULL,
		   "the duplicate's reason names the first file");
	/* None of the refused plugins' capabilities reached the router. */
	static const char *const caps[] = {"dup.cap", "dup_name.echo",
	                                   "bad_schema.cap", "small_desc.cap"};
	int none = 1;
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
		if (router_capq(d->router, caps[i], 0))
			none = 0;
	ok(none, "refused plugins registered no capability");
}

static void check_loaded(struct mcpd *d, const char *pdir, const char *tdir)
{
	static const struct {
		int test_dir;
		const char *file, *name, *cap;
	} good[] = {
		{0, "echo.so", "echo", "echo"},
		{0, "sleep.so", "sleep", "sleep"},
		{1, "flaky.so", "flaky", "flaky"},
		{1, "garbage.so", "garbage", "garbage"},
		{1, "garbage.so", "garbage", "garbage.blocking"},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct mcpd_plugin *p =
			by_file(d, good[i].test_dir ? tdir : pdir, good[i].file);
		if (!ok(p && p->loaded, "%s loaded", good[i].file)) {
			if (p)
				diag("reason: %s", p->reason);
			continue;
		}
		ok(map_get(d->plugins_by_name, good[i].name) == p,
		   "%s registered by name \"%s\"", good[i].file, good[i].name);
		struct capq *q = router_capq(d->router, good[i].cap, 0);
		ok(q && q->nprov == 1 && q->provs[0]->cap->plugin == p,
		   "capability %s has one provider, from %s", good[i].cap,
		   good[i].file);
	}

	struct capq *q = router_capq(d->router, "sleep", 0);
	if (q && q->nprov)
		is_int(q->provs[0]->max, d->cfg.default_concurrency,
		       "max_concurrency 0 gets the configured default");
	struct mcpd_plugin *sleep = map_get(d->plugins_by_name, "sleep");
	ok(sleep && json_equal(sleep->config,
	                       json_object_get(d->cfg.plugins, "sleep")) &&
	   sleep->config != json_object_get(d->cfg.plugins, "sleep"),
	   "sleep got its own copy of its config block");
	struct mcpd_plugin *echo = map_get(d->plugins_by_name, "echo");
	ok(echo && json_is_object(echo->config) &&
	   json_object_size(echo->config) == 0,
	   "echo, without a block, gets {}");
	ok(echo && echo->ncaps == 1 &&
	   json_is_object(echo->caps[0]->output_schema) &&
	   strcmp(echo->caps[0]->title, "Echo") == 0,
	   "echo's capability keeps its title and output schema");
}

static void check_json(struct mcpd *d, const char *tdir)
{
	struct mcpd_plugin *echo = map_get(d->plugins_by_name, "echo");
	if (!echo) {
		ok(0, "echo loaded for plugin_to_json");
		return;
	}
	char abi[16];
	snprintf(abi, sizeof abi, "%d.%d", MCPD_ABI_MAJOR, MCPD_ABI_MINOR);
	json_t *j = plugin_to_json(echo);
	is_str(json_string_value(json_object_get(j, "name")), "echo",
	       "json: name");
	is_str(json_string_value(json_object_get(j, "version")), "1.0.0",
	       "json: version");
	is_str(json_string_value(json_object_get(j, "description")),
	       "Returns its input unchanged", "json: description");
	is_str(json_string_value(json_object_get(j, "file")), echo->file,
	       "json: file");
	is_str(json_string_value(json_object_get(j, "status")), "loaded",
	       "json: status");
	ok(json_object_get(j, "reason") == NULL, "json: no reason when loaded");
	is_str(json_string_value(json_object_get(j, "abi")), abi, "json: abi");
	json_t *caps = json_object_get(j, "capabilities");
	ok(json_array_size(caps) == 1 &&
	   strcmp(json_string_value(json_array_get(caps, 0)), "echo") == 0,
	   "json: capabilities [\"echo\"]");
	const char *at = json_string_value(json_object_get(j, "loaded_at"));
	int64_t when = time_parse_iso(at);
	ok(at && when > 0 && when <= now_ms(), "json: loaded_at %s", at);
	ok(json_is_false(json_object_get(j, "resident")), "json: not resident");
	json_decref(j);

	struct mcpd_plugin *bad = by_file(d, tdir, "bad_major.so");
	if (bad) {
		j = plugin_to_json(bad);
		is_str(json_string_value(json_object_get(j, "status")),
		       "refused", "refused json: status");
		is_str(json_string_value(json_object_get(j, "reason")),
		       bad->reason, "refused json: reason");
		is_str(json_string_value(json_object_get(j, "abi")), "2.0",
		       "refused json: the abi it declared");
		ok(json_array_size(json_object_get(j, "capabilities")) == 0,
		   "refused json: no capabilities");
		ok(!json_object_get(j, "loaded_at") &&
		   !json_object_get(j, "resident"),
		   "refused json: no loaded_at or resident");
		json_decref(j);
	}
	struct mcpd_plugin *nosym = by_file(d, tdir, "no_symbol.so");
	if (nosym) {
		j = plugin_to_json(nosym);
		ok(!json_object_get(j, "name") && !json_object_get(j, "abi"),
		   "no descriptor: no name, no abi in json");
		json_decref(j);
	}
}

static int dummy_handler(struct mcpd_task *task, void *ud)
{
	(void)task;
	(void)ud;
	return 0;
}

static void check_handles(struct mcpd *d)
{
	struct mcpd_plugin *echo = map_get(d->plugins_by_name, "echo");
	is_int(plugin_check(echo, "test"), 0, "plugin_check accepts a live one");
	struct mcpd_plugin bogus;
	memset(&bogus, 0, sizeof bogus);
	is_int(plugin_check(&bogus, "test"), -1,
	       "plugin_check refuses a record without the magic");
	bogus.magic = PLUGIN_MAGIC ^ 1;
	is_int(plugin_check(&bogus, "test"), -1,
	       "plugin_check refuses a wrong magic");
	is_int(plugin_check(NULL, "test"), -1, "plugin_check refuses NULL");

	struct mcpd_capability_def def = {
		.size = sizeof def,
		.name = "late",
		.handler = dummy_handler,
	};
	is_int(plugin_capability_add(&bogus, &def), MCPD_E_HANDLE,
	       "capability_add on a bogus handle: MCPD_E_HANDLE");
	if (echo) {
		is_int(plugin_capability_add(echo, &def), MCPD_E_STATE,
		       "capability_add after init: MCPD_E_STATE");
		is_int(echo->ncaps, 1, "and nothing was added");
	}
	ok(router_capq(d->router, "late", 0) == NULL,
	   "nor registered in the router");
}

int main(void)
{
	const char *pdir = getenv("MCPD_PLUGIN_DIR");
	const char *tdir = getenv("MCPD_TEST_PLUGIN_DIR");
	if (!pdir || !tdir) {
		printf("1..0 # SKIP MCPD_PLUGIN_DIR and MCPD_TEST_PLUGIN_DIR "
		       "are not set\n");
		return 0;
	}
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}

	struct mcpd d;
	memset(&d, 0, sizeof d);
	config_init(&d.cfg);
	config_set_state_dir(&d.cfg, root);
	config_add_plugin_dir(&d.cfg, pdir);
	config_add_plugin_dir(&d.cfg, tdir);
	json_object_set_new(d.cfg.plugins, "sleep",
	                    json_pack("{s:i}", "max_ms", 5000));
	d.router = router_new(d.cfg.breaker_failures, d.cfg.breaker_cooldown_ms);
	d.plugins_by_name = map_new();
	d.generations = map_new();
	d.tasks = map_new();
	char err[256] = "";
	d.store = store_open(root, 64u << 20, err, sizeof err);
	if (!ok(d.router && d.plugins_by_name && d.tasks && d.store,
	        "daemon parts set up"))
		diag("store_open: %s", err);

	int n = plugins_load_all(&d);
	int loaded = 0;
	for (size_t i = 0; i < d.nplugins; i++) {
		loaded += d.plugins[i]->loaded;
		ok(d.plugins[i]->loaded || d.plugins[i]->reason[0],
		   "%s: %s%s", d.plugins[i]->file,
		   d.plugins[i]->loaded ? "loaded" : "refused: ",
		   d.plugins[i]->loaded ? "" : d.plugins[i]->reason);
	}
	is_int(n, loaded, "plugins_load_all returns the number loaded");
	is_int(d.plugins_loaded, loaded, "d->plugins_loaded agrees");
	ok(d.nplugins >= 12, "a record for every file (%zu)", d.nplugins);

	char cache[4200];
	snprintf(cache, sizeof cache, "%s/plugin-cache", root);
	is_int(count_entries(cache), loaded,
	       "a private copy per loaded plugin; refused ones deleted");

	check_refused(&d, tdir);
	check_loaded(&d, pdir, tdir);
	check_json(&d, tdir);
	check_handles(&d);

	plugins_unload_all(&d);
	ok(d.plugins == NULL && d.nplugins == 0 && d.plugins_loaded == 0,
	   "plugins_unload_all empties the records");
	is_int(count_entries(cache), 0, "unloading deletes the private copies");
	router_free(d.router);
	map_free(d.plugins_by_name);
	map_free(d.generations);
	map_free(d.tasks);
	store_close(d.store);
	config_free(&d.cfg);
	ok(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 &&
	   access(root, F_OK) != 0, "temporary state dir removed");

	done_testing();
	return exit_status();
}
