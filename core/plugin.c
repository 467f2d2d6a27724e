/*
 * The loader: every *.so of the plugin dirs is copied to a private file
 * (so a later reload of the same path gets fresh code from dlopen), opened,
 * checked against ABI v1 and initialised. Every refusal says why.
 */
#include "plugin-internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "ffi-internal.h"
#include "isolation-internal.h"
#include "log-internal.h"
#include "map-internal.h"
#include "mcp-features-internal.h"
#include "mcpd-internal.h"
#include "router-internal.h"
#include "schema-internal.h"

int plugin_check(const struct mcpd_plugin *p, const char *fn)
{
	if (p && p->magic == PLUGIN_MAGIC)
		return 0;
	log_error("%s: stale or foreign plugin handle %p", fn, (void *)p);
	return -1;
}

static void vrefuse(struct mcpd_plugin *p, const char *fmt, va_list ap)
{
	if (p->reason[0])
		return; /* keep the first, most precise reason */
	vsnprintf(p->reason, sizeof p->reason, fmt, ap);
}

static void refuse(struct mcpd_plugin *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void refuse(struct mcpd_plugin *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrefuse(p, fmt, ap);
	va_end(ap);
}

void plugin_refuse(struct mcpd_plugin *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrefuse(p, fmt, ap);
	va_end(ap);
}

static int valid_name(const char *s, size_t max, int upper)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-' ||
		      (upper && c >= 'A' && c <= 'Z')))
			return 0;
	}
	return 1;
}

static void capdef_free(struct capdef *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->version);
	free(c->title);
	free(c->description);
	json_decref(c->input_schema);
	json_decref(c->output_schema);
	json_decref(c->attributes);
	if (c->ud_free)
		c->ud_free(c->ud);
	free(c);
}

/* Parse schema or attribute text from a capability definition. */
static json_t *parse_def_json(struct mcpd_plugin *p, const char *cap,
                              const char *what, const char *text, int schema)
{
	json_error_t jerr;
	char why[256];
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		refuse(p, "capability \"%s\": bad JSON %s: %s", cap, what,
		       jerr.text);
		return NULL;
	}
	if (schema && schema_check(j, why, sizeof why) < 0) {
		refuse(p, "capability \"%s\": bad JSON Schema in %s: %s", cap,
		       what, why);
		json_decref(j);
		return NULL;
	}
	if (!schema && !json_is_object(j)) {
		refuse(p, "capability \"%s\": %s must be a JSON object", cap, what);
		json_decref(j);
		return NULL;
	}
	return j;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int on_loop(const struct mcpd_plugin *p)
{
	return pthread_equal(pthread_self(), p->d->loop_thread);
}

/* Does the registry route to p now (loaded, not draining, its name's
 * serving generation)? */
static int serving(const struct mcpd_plugin *p)
{
	return p->loaded && !p->draining &&
	       map_get(p->d->plugins_by_name, p->name) == p;
}

static void on_caps_changed(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mcpd *d = arg;
	sched_check_orphans(d);
	sched_dispatch_all(d);
}

/* The tool set changed outside a reload: tell MCP clients (epoch), and,
 * from a fresh loop callback rather than inside the plugin's, give queued
 * tasks to new providers and start orphan timers for lost ones. */
static void caps_changed(struct mcpd *d)
{
	d->reload_epoch++;
	if (!d->caps_ev)
		d->caps_ev = event_new(d->base, -1, 0, on_caps_changed, d);
	if (d->caps_ev)
		event_active(d->caps_ev, EV_TIMEOUT, 0);
}

static int capability_add_init(struct mcpd_plugin *p,
                               const struct mcpd_capability_def *def,
                               void (*ud_free)(void *ud));

int plugin_capability_add(struct mcpd_plugin *p,
                          const struct mcpd_capability_def *def)
{
	if (plugin_check(p, "capability_add") < 0)
		return MCPD_E_HANDLE;
	if (p->in_init)
		return capability_add_init(p, def, NULL);
	/* ABI 1.2: a loaded plugin declares a capability at run time. */
	if (!on_loop(p) || !p->loaded || p->draining) {
		log_msg(LOG_ERROR, p->name, NULL,
		        "capability_add is refused %s",
		        !on_loop(p) ? "from a worker thread"
		                    : "from a plugin that is not serving");
		return MCPD_E_STATE;
	}
	int rc = capability_add_init(p, def, NULL);
	if (rc != MCPD_OK) {
		/* A bad run-time declaration is the plugin's error, not a
		 * refusal of the plugin: log it and forget the reason. */
		log_msg(LOG_ERROR, p->name, NULL, "capability_add: %s",
		        p->reason[0] ? p->reason : "failed");
		p->reason[0] = '\0';
		return rc;
	}
	struct capdef *c = p->caps[p->ncaps - 1];
	if (serving(p)) {
		int max = c->max_concurrency ? (int)c->max_concurrency
		                             : p->d->cfg.default_concurrency;
		if (router_add_provider(p->d->router, c, max) < 0)
			log_msg(LOG_ERROR, p->name, NULL,
			        "cannot register capability %s", c->name);
	}
	caps_changed(p->d);
	return MCPD_OK;
}

int plugin_capability_add_owned(struct mcpd_plugin *p,
                                const struct mcpd_capability_def *def,
                                void (*ud_free)(void *ud))
{
	if (plugin_check(p, "capability_add") < 0)
		return MCPD_E_HANDLE;
	if (!p->in_init) {
		log_msg(LOG_ERROR, p->name, NULL,
		        "capability_add outside init is refused");
		return MCPD_E_STATE;
	}
	return capability_add_init(p, def, ud_free);
}

static void capdef_destroy(struct capdef *c)
{
	free(c->prov);
	capdef_free(c);
}

int plugin_capability_remove(struct mcpd_plugin *p, const char *name)
{
	if (plugin_check(p, "capability_remove") < 0)
		return MCPD_E_HANDLE;
	if (!on_loop(p)) {
		log_msg(LOG_ERROR, p->name, NULL,
		        "capability_remove from a worker thread is refused");
		return MCPD_E_STATE;
	}
	size_t i = 0;
	while (i < p->ncaps && (!name || strcmp(p->caps[i]->name, name)))
		i++;
	if (i == p->ncaps)
		return MCPD_E_NOTFOUND;
	struct capdef *c = p->caps[i];
	memmove(&p->caps[i], &p->caps[i + 1],
	        (p->ncaps - i - 1) * sizeof *p->caps);
	p->ncaps--;
	if (c->prov)
		router_remove_provider(p->d->router, c);
	c->removed = 1;
	if (c->attempts == 0) {
		capdef_destroy(c);
	} else {
		/* Running attempts still use it (handler, provider slot). */
		struct capdef **nr =
			realloc(p->removed, (p->nremoved + 1) * sizeof *nr);
		if (nr) {
			p->removed = nr;
			p->removed[p->nremoved++] = c;
		} /* else: leaked rather than freed under a running attempt */
	}
	if (serving(p))
		caps_changed(p->d);
	return MCPD_OK;
}

void capdef_attempt_done(struct capdef *c)
{
	if (--c->attempts > 0 || !c->removed)
		return;
	struct mcpd_plugin *p = c->plugin;
	for (size_t i = 0; i < p->nremoved; i++) {
		if (p->removed[i] != c)
			continue;
		p->removed[i] = p->removed[--p->nremoved];
		capdef_destroy(c);
		return;
	}
}

static int capability_add_init(struct mcpd_plugin *p,
                               const struct mcpd_capability_def *def,
                               void (*ud_free)(void *ud))
{
	if (!def || def->size < offsetof(struct mcpd_capability_def, ud) +
	                            sizeof def->ud) {
		refuse(p, "capability definition too small");
		return MCPD_E_INVAL;
	}
	if (!valid_name(def->name, 128, 1) || !def->handler) {
		refuse(p, "capability \"%s\": %s", def->name ? def->name : "",
		       def->handler ? "invalid name" : "no handler");
		return MCPD_E_INVAL;
	}
	for (size_t i = 0; i < p->ncaps; i++) {
		if (strcmp(p->caps[i]->name, def->name) == 0) {
			refuse(p, "capability \"%s\" declared twice", def->name);
			return MCPD_E_EXISTS;
		}
	}
	struct capdef *c = calloc(1, sizeof *c);
	if (!c)
		return MCPD_E_NOMEM;
	c->name = strdup(def->name);
	c->version = strdup(def->version ? def->version : "0");
	c->title = dup_or_null(def->title);
	c->description = dup_or_null(def->description);
	c->input_schema = def->input_schema
		? parse_def_json(p, def->name, "input_schema", def->input_schema, 1)
		: json_object();
	c->output_schema = def->output_schema
		? parse_def_json(p, def->name, "output_schema", def->output_schema, 1)
		: NULL;
	c->attributes = def->attributes
		? parse_def_json(p, def->name, "attributes", def->attributes, 0)
		: json_object();
	c->max_concurrency = def->max_concurrency;
	c->flags = def->flags;
	c->handler = def->handler;
	c->ud = def->ud;
	c->plugin = p;
	if (!c->input_schema || !c->attributes ||
	    (def->output_schema && !c->output_schema)) {
		capdef_free(c);
		return MCPD_E_SCHEMA;
	}
	struct capdef **nc = realloc(p->caps, (p->ncaps + 1) * sizeof *nc);
	if (!nc) {
		capdef_free(c);
		return MCPD_E_NOMEM;
	}
	p->caps = nc;
	p->caps[p->ncaps++] = c;
	c->ud_free = ud_free;
	return MCPD_OK;
}

/* Copy src to a fresh private file; the new path in out. */
static int private_copy(struct mcpd *d, const char *src, char *out,
                        size_t outlen)
{
	static unsigned counter;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/plugin-cache", d->cfg.state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	const char *base = strrchr(src, '/');
	snprintf(out, outlen, "%s/%s.%ld.%u", dir, base ? base + 1 : src,
	         (long)getpid(), ++counter);

	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	if (fd < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0) {
		if (write(fd, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	}
	if (n < 0)
		rc = -1;
	close(in);
	if (close(fd) < 0)
		rc = -1;
	if (rc < 0)
		unlink(out);
	return rc;
}

typedef const struct mcpd_plugin_desc *(*entry_fn)(void);

/* Open a private copy and read the descriptor; refuses on any error. */
static int open_descriptor(struct mcpd *d, struct mcpd_plugin *p)
{
	char copy[4352];
	if (private_copy(d, p->file, copy, sizeof copy) < 0) {
		refuse(p, "cannot copy to the plugin cache: %s", strerror(errno));
		return -1;
	}
	p->dl = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl) {
		unlink(copy);
		refuse(p, "dlopen failed: %s", dlerror());
		return -1;
	}
	/* Kept while mapped, so debuggers and backtraces find the code. */
	p->copy = strdup(copy);
	entry_fn fn = (entry_fn)dlsym(p->dl, MCPD_PLUGIN_SYMBOL);
	if (!fn) {
		refuse(p, "missing symbol %s (not an mcpd plugin, or built "
		       "for another ABI major)", MCPD_PLUGIN_SYMBOL);
		return -1;
	}
	const struct mcpd_plugin_desc *desc = fn();
	if (!desc) {
		refuse(p, "%s returned NULL", MCPD_PLUGIN_SYMBOL);
		return -1;
	}
	size_t need_min = offsetof(struct mcpd_plugin_desc, name);
	if (desc->size < need_min) {
		refuse(p, "descriptor too small (%u bytes)", desc->size);
		return -1;
	}
	snprintf(p->abi, sizeof p->abi, "%u.%u", desc->abi_major,
	         desc->abi_minor);
	if (desc->abi_major != MCPD_ABI_MAJOR) {
		refuse(p, "ABI major %u, host speaks %u", desc->abi_major,
		       MCPD_ABI_MAJOR);
		return -1;
	}
	if (desc->abi_minor > MCPD_ABI_MINOR) {
		refuse(p, "ABI minor %u is newer than the host's %u.%u",
		       desc->abi_minor, MCPD_ABI_MAJOR, MCPD_ABI_MINOR);
		return -1;
	}
	size_t need = offsetof(struct mcpd_plugin_desc, fini) + sizeof desc->fini;
	if (desc->size < need) {
		refuse(p, "descriptor too small (%u bytes, ABI 1.0 needs %zu)",
		       desc->size, need);
		return -1;
	}
	p->desc = desc;
	return 0;
}

static int check_identity(struct mcpd_plugin *p, struct map *names)
{
	const struct mcpd_plugin_desc *desc = p->desc;
	if (!valid_name(desc->name, 63, 0)) {
		refuse(p, "invalid plugin name \"%s\" (want [a-z0-9_.-], at "
		       "most 63 bytes)", desc->name ? desc->name : "");
		return -1;
	}
	p->name = strdup(desc->name);
	p->version = strdup(desc->version ? desc->version : "0");
	p->description = strdup(desc->description ? desc->description : "");
	p->flags = desc->flags;
	struct mcpd_plugin *other = map_get(names, p->name);
	if (other) {
		refuse(p, "duplicate plugin name \"%s\" (already loaded from %s)",
		       p->name, other->file);
		return -1;
	}
	if (!desc->init) {
		refuse(p, "descriptor has no init function");
		return -1;
	}
	return 0;
}

static void free_caps(struct mcpd_plugin *p)
{
	for (size_t i = 0; i < p->ncaps; i++)
		capdef_destroy(p->caps[i]);
	free(p->caps);
	p->caps = NULL;
	p->ncaps = 0;
	for (size_t i = 0; i < p->nremoved; i++)
		capdef_destroy(p->removed[i]);
	free(p->removed);
	p->removed = NULL;
	p->nremoved = 0;
	for (size_t i = 0; i < p->nservices; i++)
		free(p->services[i].iface);
	free(p->services);
	p->services = NULL;
	p->nservices = 0;
}

static void plugin_retire_code(struct mcpd_plugin *p);

static int init_plugin(struct mcpd_plugin *p, const json_t *plugins_conf)
{
	json_t *conf = json_object_get(plugins_conf, p->name);
	p->config = conf ? json_deep_copy(conf) : json_object();
	p->in_init = 1;
	int rc = p->desc->init(&host_table, p);
	p->in_init = 0;
	if (rc < 0) {
		/* A capability error recorded during init is the real cause. */
		if (p->reason[0]) {
			char inner[sizeof p->reason];
			memcpy(inner, p->reason, sizeof inner);
			p->reason[0] = '\0';
			refuse(p, "init failed: %.480s", inner);
		} else {
			refuse(p, "init failed: %s", host_table.strerror(rc));
		}
		return -1;
	}
	if (p->reason[0]) {
		/* init ignored a refused capability: still refuse the plugin
		 * rather than serve half of what it meant to declare. */
		p->loaded = 1;
		plugin_retire_code(p);
		return -1;
	}
	return 0;
}

void plugin_register(struct mcpd *d, struct mcpd_plugin *p)
{
	for (size_t i = 0; i < p->ncaps; i++) {
		struct capdef *c = p->caps[i];
		int max = c->max_concurrency ? (int)c->max_concurrency
		                             : d->cfg.default_concurrency;
		if (router_add_provider(d->router, c, max) < 0)
			log_msg(LOG_ERROR, p->name, NULL,
			        "cannot register capability %s", c->name);
	}
}

void plugin_unregister(struct mcpd *d, struct mcpd_plugin *p)
{
	for (size_t i = 0; i < p->ncaps; i++)
		router_remove_provider(d->router, p->caps[i]);
}

void plugin_ref(struct mcpd_plugin *p)
{
	atomic_fetch_add(&p->refs, 1);
}

void plugin_unref(struct mcpd_plugin *p)
{
	atomic_fetch_sub(&p->refs, 1);
}

const void *plugin_service(const struct mcpd_plugin *p, const char *iface)
{
	for (size_t i = 0; i < p->nservices; i++)
		if (strcmp(p->services[i].iface, iface) == 0)
			return p->services[i].vtable;
	return NULL;
}

/* Stop the code: pending timers, fini, dlclose, the private copy. */
static void plugin_retire_code(struct mcpd_plugin *p)
{
	host_timers_remove(p);
	host_ios_remove(p);
	mcpf_plugin_gone(p); /* its MCP resources and prompts */
	if (p->loaded && p->desc && p->desc->fini)
		p->desc->fini(p);
	p->loaded = 0;
	free_caps(p);
	if (p->dl)
		dlclose(p->dl);
	p->dl = NULL;
	for (size_t i = p->nlibs; i-- > 0;)
		dlclose(p->libs[i]);
	free(p->libs);
	p->libs = NULL;
	p->nlibs = 0;
	p->desc = NULL;
	if (p->copy)
		unlink(p->copy);
	free(p->copy);
	p->copy = NULL;
}

void plugin_retire(struct mcpd_plugin *p)
{
	if (!p)
		return;
	plugin_retire_code(p);
	json_decref(p->config);
	free(p->file);
	free(p->name);
	free(p->version);
	free(p->description);
	p->magic = 0;
	free(p);
}

int plugin_file_id(const char *path, struct file_id *id)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	id->size = (uint64_t)st.st_size;
	id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
	               st.st_mtim.tv_nsec;
	return 0;
}

int plugin_same_file(const struct mcpd_plugin *p, const struct file_id *id)
{
	return p->f_dev == id->dev && p->f_ino == id->ino &&
	       p->f_size == id->size && p->f_mtime_ns == id->mtime_ns;
}

static unsigned next_generation(struct mcpd *d, const char *name)
{
	uintptr_t g = (uintptr_t)map_get(d->generations, name) + 1;
	map_put(d->generations, name, (void *)g);
	return (unsigned)g;
}

static struct mcpd_plugin *record_new(struct mcpd *d, const char *file)
{
	struct mcpd_plugin *p = calloc(1, sizeof *p);
	if (!p || !(p->file = strdup(file))) {
		free(p);
		return NULL;
	}
	p->magic = PLUGIN_MAGIC;
	p->d = d;
	return p;
}

/* A new generation if ok, else the code is gone and the reason stays. */
static struct mcpd_plugin *record_loaded(struct mcpd *d,
                                         struct mcpd_plugin *p, int ok)
{
	if (ok) {
		p->loaded = 1;
		p->loaded_at_ms = now_ms();
		p->generation = next_generation(d, p->name);
		log_msg(LOG_INFO, p->name, NULL,
		        "loaded %s version %s generation %u (ABI %s, %zu "
		        "capabilities)", p->file, p->version, p->generation,
		        p->abi, p->ncaps);
	} else {
		log_msg(LOG_WARN, p->name, NULL, "refused %s: %s", p->file,
		        p->reason);
		plugin_retire_code(p);
	}
	return p;
}

struct mcpd_plugin *plugin_load_file(struct mcpd *d, const char *path,
                                     const struct file_id *id,
                                     struct map *names,
                                     const json_t *plugins_conf)
{
	struct mcpd_plugin *p = record_new(d, path);
	if (!p)
		return NULL;
	if (id) {
		p->f_dev = id->dev;
		p->f_ino = id->ino;
		p->f_size = id->size;
		p->f_mtime_ns = id->mtime_ns;
	}
	int ok = open_descriptor(d, p) == 0 &&
	         check_identity(p, names ? names : d->plugins_by_name) == 0 &&
	         init_plugin(p, plugins_conf) == 0;
	return record_loaded(d, p, ok);
}

struct mcpd_plugin *plugin_load_functions(struct mcpd *d,
                                          const json_t *manifest,
                                          struct map *names)
{
	struct mcpd_plugin *p = record_new(d, PLUGIN_FUNCTIONS_FILE);
	if (!p)
		return NULL;
	p->name = strdup("functions");
	p->version = strdup(MCPD_VERSION);
	p->description = strdup("C functions named in the config's "
	                        "\"functions\" manifest");
	snprintf(p->abi, sizeof p->abi, "%d.%d", MCPD_ABI_MAJOR,
	         MCPD_ABI_MINOR);
	/* What a reload compares to tell whether the manifest changed. */
	p->config = json_deep_copy(manifest);
	if (!p->name || !p->version || !p->description || !p->config) {
		plugin_retire(p);
		return NULL;
	}
	struct mcpd_plugin *other =
		map_get(names ? names : d->plugins_by_name, p->name);
	int ok = 0;
	if (other) {
		refuse(p, "duplicate plugin name \"%s\" (already loaded from "
		       "%s)", p->name, other->file);
	} else {
		p->in_init = 1;
		ok = ffi_manifest_load(p, manifest) == 0;
		p->in_init = 0;
	}
	return record_loaded(d, p, ok);
}

static int keep_record(struct mcpd *d, struct mcpd_plugin *p)
{
	struct mcpd_plugin **np =
		realloc(d->plugins, (d->nplugins + 1) * sizeof *np);
	if (!np)
		return -1;
	d->plugins = np;
	d->plugins[d->nplugins++] = p;
	return 0;
}

static int has_so_suffix(const char *name)
{
	size_t n = strlen(name);
	return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t plugin_scan_dir(const char *dir, char ***out)
{
	*out = NULL;
	DIR *dh = opendir(dir);
	if (!dh) {
		log_warn("plugin dir %s: %s", dir, strerror(errno));
		return 0;
	}
	char **paths = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.' || !has_so_suffix(de->d_name))
			continue;
		char **nn = realloc(paths, (n + 1) * sizeof *nn);
		if (!nn)
			break;
		paths = nn;
		size_t len = strlen(dir) + strlen(de->d_name) + 2;
		if (!(paths[n] = malloc(len)))
			break;
		snprintf(paths[n], len, "%s/%s", dir, de->d_name);
		n++;
	}
	closedir(dh);
	if (n)
		qsort(paths, n, sizeof *paths, cmp_str);
	*out = paths;
	return n;
}

/* A crash leaves private copies behind: nothing maps them any more. */
static void clean_cache(struct mcpd *d)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/plugin-cache", d->cfg.state_dir);
	DIR *dh = opendir(dir);
	if (!dh)
		return;
	struct dirent *de;
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(dh), de->d_name, 0);
	closedir(dh);
}

/* At start-up: list every record, serve the loaded ones. */
static void adopt(struct mcpd *d, struct mcpd_plugin *p)
{
	if (!p)
		return;
	if (p->loaded) {
		map_put(d->plugins_by_name, p->name, p);
		plugin_register(d, p);
		d->plugins_loaded++;
	}
	if (keep_record(d, p) < 0)
		plugin_retire(p);
}

int plugins_load_all(struct mcpd *d)
{
	clean_cache(d);
	isolation_prepare(&d->cfg);
	for (int i = 0; i < d->cfg.n_plugin_dirs; i++) {
		char **paths;
		size_t n = plugin_scan_dir(d->cfg.plugin_dirs[i], &paths);
		for (size_t j = 0; j < n; j++) {
			if (isolation_skip(d->cfg.plugins, paths[j])) {
				free(paths[j]); /* mcp-bridge runs it */
				continue;
			}
			struct file_id id;
			int have_id = plugin_file_id(paths[j], &id) == 0;
			struct mcpd_plugin *p = plugin_load_file(
				d, paths[j], have_id ? &id : NULL, NULL,
				d->cfg.plugins);
			free(paths[j]);
			adopt(d, p);
		}
		free(paths);
	}
	/* The functions manifest comes after the files, as at a reload. */
	if (json_array_size(d->cfg.functions))
		adopt(d, plugin_load_functions(d, d->cfg.functions, NULL));
	return (int)d->plugins_loaded;
}

void plugins_unload_all(struct mcpd *d)
{
	/* Newest first, so a plugin outlives none it was loaded before. */
	for (size_t i = d->nretiring; i-- > 0;)
		plugin_retire(d->retiring[i]);
	free(d->retiring);
	d->retiring = NULL;
	d->nretiring = 0;
	for (size_t i = d->nplugins; i-- > 0;)
		plugin_retire(d->plugins[i]);
	free(d->plugins);
	d->plugins = NULL;
	d->nplugins = d->plugins_loaded = 0;
}

/* Attempts of this generation: running on a worker, or on the loop. */
static void count_attempts(const struct mcpd_plugin *p, int *workers,
                           int *loop)
{
	*workers = *loop = 0;
	for (struct mcpd_task *a = p->d->live; a; a = a->live_next) {
		if (a->cap->plugin != p)
			continue;
		if (a->blocking && !a->returned)
			(*workers)++;
		else
			(*loop)++;
	}
}

json_t *plugin_to_json(const struct mcpd_plugin *p)
{
	json_t *j = json_object();
	if (p->name)
		json_object_set_new(j, "name", json_string(p->name));
	if (p->version)
		json_object_set_new(j, "version", json_string(p->version));
	if (p->description)
		json_object_set_new(j, "description", json_string(p->description));
	json_object_set_new(j, "file", json_string(p->file));
	json_object_set_new(j, "status",
	                    json_string(p->draining ? "draining"
	                                : p->loaded ? "loaded" : "refused"));
	if (!p->loaded)
		json_object_set_new(j, "reason", json_string(p->reason));
	if (p->abi[0])
		json_object_set_new(j, "abi", json_string(p->abi));
	json_t *caps = json_array();
	for (size_t i = 0; i < p->ncaps; i++)
		json_array_append_new(caps, json_string(p->caps[i]->name));
	json_object_set_new(j, "capabilities", caps);
	if (p->nservices) {
		json_t *svcs = json_array();
		for (size_t i = 0; i < p->nservices; i++)
			json_array_append_new(svcs,
			                      json_string(p->services[i].iface));
		json_object_set_new(j, "services", svcs);
	}
	if (!p->loaded)
		return j;
	char when[32];
	time_iso(p->loaded_at_ms, when);
	int workers, loop;
	count_attempts(p, &workers, &loop);
	int refs = atomic_load(&p->refs);
	json_object_set_new(j, "generation", json_integer(p->generation));
	json_object_set_new(j, "loaded_at", json_string(when));
	json_object_set_new(j, "resident",
	                    json_boolean(p->flags & MCPD_PLUGIN_RESIDENT));
	json_object_set_new(j, "in_flight", json_integer(workers + loop));
	if (p->draining) {
		json_object_set_new(j, "draining_ms",
		                    json_integer(mono_ms() - p->draining_since));
		json_object_set_new(j, "waiting_on", json_pack(
			"{s:i, s:i, s:i, s:b}", "worker_threads", workers,
			"loop_attempts", loop, "service_refs",
			refs - workers - loop,
			"drain_timeout_passed", p->drain_expired));
	}
	return j;
}
