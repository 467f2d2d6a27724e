/*
 * Hot reload: one transaction that re-reads the config and the plugin
 * directories, loads a fresh generation of every new or changed file beside
 * the serving ones, and swaps the registry only when all of them
 * initialised. Replaced generations drain: they keep their running tasks,
 * get no new ones, and are retired once nothing refers to them.
 *
 * SIGHUP, POST /v1/reload and mcpctl reload all activate one event, so any
 * number of requests that arrive before it runs (a signal storm, a reload
 * asked for while one is running) make exactly one more reload.
 */
#include <errno.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "isolation-internal.h"
#include "log-internal.h"
#include "map-internal.h"
#include "mcpd-internal.h"
#include "plugin-internal.h"
#include "router-internal.h"

/* ---- systemd's notify protocol, without libsystemd ---- */

void sd_notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if (n >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* the abstract namespace */
	/* Never block the loop on a receiver that does not read. */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		log_warn("NOTIFY_SOCKET %s: %s", path, strerror(errno));
	close(fd);
}

static void notify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[96];
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld",
	         (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	sd_notify_send(msg);
}

/* ---- the plan: what each scanned file becomes ---- */

struct item {
	char *path;
	struct file_id id;
	struct mcpd_plugin *old;   /* the record of this path, if any */
	struct mcpd_plugin *fresh; /* a new generation loaded for it */
	int keep;                  /* the old record stays as it is */
	int manifest;              /* the config's functions, not a file */
};

struct plan {
	struct item *items;
	size_t n;
	char *seen; /* per old record: still scanned */
};

static void plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->items[i].path);
	free(pl->items);
	free(pl->seen);
}

static struct mcpd_plugin *find_old(struct mcpd *d, const char *path,
                                    size_t *idx)
{
	for (size_t i = 0; i < d->nplugins; i++) {
		if (strcmp(d->plugins[i]->file, path) == 0) {
			*idx = i;
			return d->plugins[i];
		}
	}
	return NULL;
}

static int config_changed(const struct mcpd_plugin *p, const json_t *plugins)
{
	if (!p->name)
		return 0; /* refused before it said its name */
	json_t *empty = json_object();
	const json_t *now = json_object_get(plugins, p->name);
	int changed = !json_equal(p->config ? p->config : empty,
	                          now ? now : empty);
	json_decref(empty);
	return changed;
}

/*
 * The functions manifest is one more item, after the files: kept while
 * it is the same JSON, a new generation of the "functions" record when it
 * changed. Without one, an old record is not seen and drains away.
 */
static int plan_manifest(struct mcpd *d, const struct config *next,
                         struct plan *pl)
{
	if (!json_array_size(next->functions))
		return 0;
	struct item it = {.path = strdup(PLUGIN_FUNCTIONS_FILE), .manifest = 1};
	struct item *ni = realloc(pl->items, (pl->n + 1) * sizeof *ni);
	size_t idx;
	if (!it.path || !ni) {
		free(it.path);
		return -1;
	}
	pl->items = ni;
	if ((it.old = find_old(d, it.path, &idx))) {
		pl->seen[idx] = 1;
		it.keep = json_equal(it.old->config, next->functions);
	}
	pl->items[pl->n++] = it;
	return 0;
}

static int plan_scan(struct mcpd *d, const struct config *next,
                     struct plan *pl, json_t *warnings)
{
	pl->seen = calloc(d->nplugins + 1, 1);
	if (!pl->seen)
		return -1;
	for (int i = 0; i < next->n_plugin_dirs; i++) {
		char **paths;
		size_t n = plugin_scan_dir(next->plugin_dirs[i], &paths);
		for (size_t j = 0; j < n; j++) {
			struct item it = {.path = paths[j]};
			size_t idx;
			if (isolation_skip(next->plugins, it.path)) {
				free(it.path); /* mcp-bridge runs it */
				continue;
			}
			if (plugin_file_id(it.path, &it.id) < 0) {
				/* Gone between readdir and stat: as if absent. */
				free(it.path);
				continue;
			}
			struct item *ni = realloc(pl->items,
			                          (pl->n + 1) * sizeof *ni);
			if (!ni) {
				free(it.path);
				continue;
			}
			pl->items = ni;
			if ((it.old = find_old(d, it.path, &idx))) {
				pl->seen[idx] = 1;
				int same = plugin_same_file(it.old, &it.id) &&
				           !config_changed(it.old, next->plugins);
				it.keep = same;
				if (!same && it.old->loaded &&
				    (it.old->flags & MCPD_PLUGIN_RESIDENT)) {
					it.keep = 1;
					json_array_append_new(warnings, json_pack(
						"{s:s, s:s}", "file", it.path,
						"warning", "resident plugin changed; "
						"restart to apply"));
				}
			}
			pl->items[pl->n++] = it;
		}
		free(paths);
	}
	return plan_manifest(d, next, pl);
}

/* Load every new or changed file; 0 if all of them initialised. */
static int plan_load(struct mcpd *d, const struct config *next,
                     struct plan *pl, struct map *names, json_t *errors,
                     json_t *loaded)
{
	for (size_t i = 0; i < pl->n; i++)
		if (pl->items[i].keep && pl->items[i].old->loaded)
			map_put(names, pl->items[i].old->name, pl->items[i].old);
	for (size_t i = 0; i < pl->n; i++) {
		struct item *it = &pl->items[i];
		if (it->keep)
			continue;
		/* A manifest's errors name the config and the entry. */
		const char *file = it->manifest ? "config" : it->path;
		it->fresh = it->manifest
			? plugin_load_functions(d, next->functions, names)
			: plugin_load_file(d, it->path, &it->id, names,
			                   next->plugins);
		if (!it->fresh) {
			json_array_append_new(errors, json_pack(
				"{s:s, s:s}", "file", file, "reason",
				"out of memory"));
			continue;
		}
		if (!it->fresh->loaded) {
			json_array_append_new(errors, json_pack(
				"{s:s, s:s}", "file", file, "reason",
				it->fresh->reason));
			continue;
		}
		map_put(names, it->fresh->name, it->fresh);
		json_array_append_new(loaded, json_pack(
			"{s:s, s:s, s:s, s:i}", "file", it->path, "name",
			it->fresh->name, "version", it->fresh->version,
			"generation", it->fresh->generation));
	}
	return json_array_size(errors) ? -1 : 0;
}

static void plan_abort(struct plan *pl)
{
	for (size_t i = pl->n; i-- > 0;) {
		plugin_retire(pl->items[i].fresh);
		pl->items[i].fresh = NULL;
	}
}

/* ---- draining and retiring ---- */

static void start_retire_tick(struct mcpd *d);

static int add_draining(struct mcpd *d, struct mcpd_plugin *p)
{
	struct mcpd_plugin **nd =
		realloc(d->retiring, (d->nretiring + 1) * sizeof *nd);
	if (!nd)
		return -1;
	d->retiring = nd;
	d->retiring[d->nretiring++] = p;
	p->draining = 1;
	p->draining_since = mono_ms();
	return 0;
}

/*
 * The swap: the new registry in one step, under reg_lock so a worker
 * looking up a service sees the old set or the new one, never a mix.
 */
static void plan_commit(struct mcpd *d, struct plan *pl, struct config *next,
                        json_t *retiring)
{
	struct mcpd_plugin **reg = calloc(pl->n + d->nplugins + 1, sizeof *reg);
	size_t nreg = 0;
	if (!reg)
		abort(); /* a half-swapped registry is worse than a crash */
	for (size_t i = 0; i < pl->n; i++)
		reg[nreg++] = pl->items[i].keep ? pl->items[i].old
		                                : pl->items[i].fresh;
	/* Resident plugins stay even when their file is gone. */
	for (size_t i = 0; i < d->nplugins; i++) {
		struct mcpd_plugin *p = d->plugins[i];
		if (!pl->seen[i] && p->loaded && (p->flags & MCPD_PLUGIN_RESIDENT)) {
			pl->seen[i] = 1;
			reg[nreg++] = p;
		}
	}

	pthread_mutex_lock(&d->reg_lock);
	for (size_t i = 0; i < d->nplugins; i++) {
		struct mcpd_plugin *p = d->plugins[i];
		int kept = 0;
		for (size_t j = 0; j < nreg && !kept; j++)
			kept = reg[j] == p;
		if (kept)
			continue;
		if (p->loaded)
			map_del(d->plugins_by_name, p->name);
		if (p->loaded && add_draining(d, p) == 0) {
			plugin_unregister(d, p);
			json_array_append_new(retiring, json_pack(
				"{s:s, s:s, s:i}", "name", p->name, "version",
				p->version, "generation", p->generation));
		} else if (p->loaded) {
			/* No room to track it: keep it serving. */
			map_put(d->plugins_by_name, p->name, p);
			reg[nreg++] = p;
		} else {
			plugin_retire(p); /* a refused record: no code */
		}
	}
	free(d->plugins);
	d->plugins = reg;
	d->nplugins = nreg;
	d->plugins_loaded = 0;
	for (size_t i = 0; i < nreg; i++) {
		if (!reg[i]->loaded)
			continue;
		d->plugins_loaded++;
		map_put(d->plugins_by_name, reg[i]->name, reg[i]);
	}
	config_free(&d->cfg);
	d->cfg = *next;
	pthread_mutex_unlock(&d->reg_lock);

	for (size_t i = 0; i < pl->n; i++)
		if (pl->items[i].fresh)
			plugin_register(d, pl->items[i].fresh);
	log_set_level(d->cfg.log_level);
	router_set_breaker(d->router, d->cfg.breaker_failures,
	                   d->cfg.breaker_cooldown_ms);
}

static void retire_now(struct mcpd *d, size_t i)
{
	struct mcpd_plugin *p = d->retiring[i];
	log_msg(LOG_INFO, p->name, NULL, "generation %u retired after %lld ms",
	        p->generation, (long long)(mono_ms() - p->draining_since));
	memmove(&d->retiring[i], &d->retiring[i + 1],
	        (d->nretiring - i - 1) * sizeof *d->retiring);
	d->nretiring--;
	d->drains++;
	plugin_retire(p);
}

static void answer_drain_waiters(struct mcpd *d, int force);

static void retire_tick(struct mcpd *d)
{
	int64_t now = mono_ms();
	for (size_t i = d->nretiring; i-- > 0;) {
		struct mcpd_plugin *p = d->retiring[i];
		if (atomic_load(&p->refs) == 0) {
			retire_now(d, i);
			continue;
		}
		if (p->drain_expired ||
		    now - p->draining_since < d->cfg.drain_timeout_ms)
			continue;
		p->drain_expired = 1;
		d->drain_timeouts++;
		log_msg(LOG_WARN, p->name, NULL,
		        "generation %u: drain timeout (%d ms); requeueing its "
		        "tasks", p->generation, d->cfg.drain_timeout_ms);
		sched_requeue_plugin(d, p, "the plugin was reloaded and its old "
		                           "generation's drain timeout passed");
		sched_drop_stale_attempts(d, p);
		if (atomic_load(&p->refs) == 0)
			retire_now(d, i);
	}
	answer_drain_waiters(d, 0);
	if (d->nretiring)
		start_retire_tick(d);
}

static void on_retire_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	retire_tick(arg);
}

static void start_retire_tick(struct mcpd *d)
{
	struct timeval tv = {0, 20000};
	if (!event_pending(d->retire_ev, EV_TIMEOUT, NULL))
		evtimer_add(d->retire_ev, &tv);
}

/* ---- the transaction ---- */

static json_t *reload_run(struct mcpd *d)
{
	int64_t t0 = mono_ms();
	uint64_t no = ++d->reloads;
	notify_reloading();
	json_t *errors = json_array(), *loaded = json_array();
	json_t *retiring = json_array(), *warnings = json_array();
	struct config next;
	char err[512], restart[256] = "";
	struct plan pl = {0};
	struct map *names = map_new();
	int ok = 0;

	config_init(&next);
	if (!names) {
		json_array_append_new(errors, json_pack("{s:s}", "reason",
		                                        "out of memory"));
	} else if (config_from_argv(&next, d->argc, d->argv, err,
	                            sizeof err) != 0) {
		json_array_append_new(errors, json_pack("{s:s, s:s}", "file",
		                                        "config", "reason", err));
	} else {
		config_keep_restart_keys(&d->cfg, &next, restart, sizeof restart);
		isolation_prepare(&next);
		if (plan_scan(d, &next, &pl, warnings) == 0 &&
		    plan_load(d, &next, &pl, names, errors, loaded) == 0)
			ok = 1;
	}
	d->reload_ok = ok;
	if (ok) {
		plan_commit(d, &pl, &next, retiring);
		if (json_array_size(loaded) || json_array_size(retiring))
			d->reload_epoch++;
		sched_check_orphans(d);
		sched_dispatch_all(d);
		if (d->nretiring)
			start_retire_tick(d);
	} else {
		plan_abort(&pl);
		config_free(&next);
		d->reload_failures++;
	}
	plan_free(&pl);
	map_free(names);

	json_t *out = json_pack(
		"{s:I, s:s, s:o, s:o, s:o, s:o, s:I}", "reload", (json_int_t)no,
		"status", ok ? "ok" : "failed", "loaded", loaded, "retiring",
		retiring, "errors", errors, "warnings", warnings,
		"duration_ms", (json_int_t)(mono_ms() - t0));
	json_t *rk = json_array();
	for (char *k = restart[0] ? restart : NULL; k;) {
		char *comma = strchr(k, ',');
		if (comma)
			*comma = '\0';
		json_array_append_new(rk, json_string(k));
		k = comma ? comma + 1 : NULL;
	}
	json_object_set_new(out, "restart_required", rk);
	char when[32];
	time_iso(now_ms(), when);
	json_object_set_new(out, "at", json_string(when));

	if (ok) {
		log_info("reload %llu: %zu loaded, %zu retiring%s%s",
		         (unsigned long long)no, json_array_size(loaded),
		         json_array_size(retiring),
		         restart[0] ? "; needs a restart to apply: " : "",
		         restart);
	} else {
		size_t i;
		json_t *e;
		json_array_foreach(errors, i, e)
			log_error("reload %llu failed: %s: %s; the running set "
			          "keeps serving", (unsigned long long)no,
			          json_string_value(json_object_get(e, "file")),
			          json_string_value(json_object_get(e, "reason")));
	}
	sd_notify_send("READY=1");
	return out;
}

/* ---- requests and waiters ---- */

static json_t *shutting_down(void)
{
	return json_pack("{s:s, s:[{s:s}]}", "status", "failed", "errors",
	                 "reason", "the daemon is shutting down");
}

static json_t *outcome_with_drain(struct mcpd *d, const struct reload_waiter *w)
{
	json_t *out = json_deep_copy(w->outcome);
	json_t *still = json_array();
	for (size_t i = 0; i < d->nretiring; i++) {
		struct mcpd_plugin *p = d->retiring[i];
		json_array_append_new(still, json_pack(
			"{s:s, s:i}", "name", p->name, "generation",
			p->generation));
	}
	json_object_set_new(out, "drained", json_boolean(!d->nretiring));
	json_object_set_new(out, "still_draining", still);
	return out;
}

/* --wait answers when nothing drains any more, or when every draining
 * generation is past its drain timeout (and so waits only on code that
 * does not return: waiting longer would not help). */
static void answer_drain_waiters(struct mcpd *d, int force)
{
	int done = 1;
	for (size_t i = 0; i < d->nretiring; i++)
		done &= d->retiring[i]->drain_expired;
	if (!done && !force)
		return;
	struct reload_waiter *w = d->drain_waiters;
	d->drain_waiters = NULL;
	while (w) {
		struct reload_waiter *next = w->next;
		json_t *out = outcome_with_drain(d, w);
		json_decref(w->outcome);
		w->outcome = NULL;
		w->fn(w, out);
		json_decref(out);
		w = next;
	}
}

static void on_reload(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mcpd *d = arg;
	struct reload_waiter *w = d->reload_waiters;
	d->reload_waiters = NULL;
	json_t *out = d->draining ? shutting_down() : reload_run(d);
	json_decref(d->last_reload);
	d->last_reload = out;
	while (w) {
		struct reload_waiter *next = w->next;
		w->reload_no = d->reloads;
		if (w->wait_drain && d->reload_ok) {
			w->outcome = json_incref(out);
			w->next = d->drain_waiters;
			d->drain_waiters = w;
		} else {
			w->fn(w, out);
		}
		w = next;
	}
	answer_drain_waiters(d, 0);
}

void reload_request(struct mcpd *d, struct reload_waiter *w)
{
	if (w) {
		w->next = d->reload_waiters;
		d->reload_waiters = w;
	}
	event_active(d->reload_ev, EV_TIMEOUT, 0);
}

static int unlink_waiter(struct reload_waiter **head, struct reload_waiter *w)
{
	for (struct reload_waiter **pp = head; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return 1;
		}
	}
	return 0;
}

void reload_waiter_cancel(struct mcpd *d, struct reload_waiter *w)
{
	if (!unlink_waiter(&d->reload_waiters, w) &&
	    unlink_waiter(&d->drain_waiters, w)) {
		json_decref(w->outcome);
		w->outcome = NULL;
	}
}

int reload_init(struct mcpd *d)
{
	d->reload_ev = event_new(d->base, -1, 0, on_reload, d);
	d->retire_ev = evtimer_new(d->base, on_retire_tick, d);
	return d->reload_ev && d->retire_ev ? 0 : -1;
}

void reload_free(struct mcpd *d)
{
	/* Whoever still waits is answered with what is known. */
	answer_drain_waiters(d, 1);
	struct reload_waiter *w = d->reload_waiters;
	d->reload_waiters = NULL;
	json_t *out = w ? shutting_down() : NULL;
	while (w) {
		struct reload_waiter *next = w->next;
		w->fn(w, out);
		w = next;
	}
	json_decref(out);
	if (d->reload_ev)
		event_free(d->reload_ev);
	if (d->retire_ev)
		event_free(d->retire_ev);
	d->reload_ev = d->retire_ev = NULL;
	json_decref(d->last_reload);
	d->last_reload = NULL;
}
