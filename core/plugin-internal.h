/* Plugins: loading .so files against ABI v1, and what each declared. */
#ifndef MCPD_PLUGIN_INTERNAL_H
#define MCPD_PLUGIN_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <jansson.h>
#include "mcpd/plugin.h"

struct mcpd;

#define PLUGIN_MAGIC 0x504c5547u /* "PLUG" */
#define TIMER_MAGIC 0x54494d52u  /* "TIMR" */
#define IO_MAGIC 0x494f5754u     /* "IOWT" */

struct map;
struct event;
struct provider;

/* A capability as one plugin declared it. */
struct capdef {
	char *name, *version, *title, *description;
	json_t *input_schema;  /* never NULL */
	json_t *output_schema; /* or NULL */
	json_t *attributes;    /* object, never NULL */
	uint32_t max_concurrency, flags;
	mcpd_handler_fn handler;
	void *ud;
	void (*ud_free)(void *ud); /* when the host owns ud (a C function) */
	struct mcpd_plugin *plugin;
	struct provider *prov; /* its entry in the router, owned here */
	int attempts; /* live attempts using it (loop only) */
	int removed;  /* withdrawn by capability_remove; freed at 0 attempts */
};

/* A service interface this plugin provides (host->service_provide). */
struct plugin_service {
	char *iface;
	const void *vtable;
};

/* A host timer (host->timer_start), owned by its plugin until it fires. */
struct mcpd_timer {
	uint32_t magic;
	struct mcpd_plugin *plugin;
	struct event *ev;
	void (*fn)(void *arg);
	void *arg;
	struct mcpd_timer *prev, *next;
};

/* A host fd watch (host->io_start), owned by its plugin until io_stop. */
struct mcpd_io {
	uint32_t magic;
	struct mcpd_plugin *plugin;
	struct event *ev;
	int fd;
	void (*fn)(int fd, unsigned events, void *arg);
	void *arg;
	struct mcpd_io *prev, *next;
};

/*
 * The host's record of one plugin file: one generation of its code, loaded
 * and initialised, or refused with a reason. A reload that finds the file
 * changed loads a new generation beside this one; this one then drains
 * (serves its running tasks, takes no new ones) and is retired when
 * nothing refers to it any more.
 */
struct mcpd_plugin {
	uint32_t magic;
	struct mcpd *d;
	char *file; /* the path scanned */
	char *name, *version, *description;
	char abi[16]; /* "1.0" as the plugin declared it */
	uint32_t flags;
	void *dl;
	char *copy; /* the private copy dlopen mapped; deleted at retirement */
	void **libs; /* libraries of the functions manifest; closed at
	                retirement */
	size_t nlibs;
	const struct mcpd_plugin_desc *desc;
	int loaded;   /* initialised; fini is due */
	int draining; /* replaced or removed by a reload, not yet retired */
	char reason[512]; /* why it was refused */
	int in_init;
	struct capdef **caps;
	size_t ncaps;
	struct plugin_service *services;
	size_t nservices;
	struct mcpd_timer *timers; /* pending */
	struct mcpd_io *ios;       /* active fd watches */
	/* Capabilities withdrawn while attempts still used them. */
	struct capdef **removed;
	size_t nremoved;
	json_t *config; /* own reference; {} when none is configured */
	int64_t loaded_at_ms;
	unsigned generation; /* 1, 2, ... per plugin name */
	/* The file as it was when this generation was loaded. */
	uint64_t f_dev, f_ino, f_size;
	int64_t f_mtime_ns;
	/*
	 * What still refers to this generation: attempts of its tasks (loop
	 * only) and service references (any thread). A draining generation
	 * is retired when this reaches 0.
	 */
	atomic_int refs;
	int64_t draining_since; /* monotonic ms */
	int drain_expired;      /* the drain timeout passed; tasks requeued */
};

/* The file identity a reload compares: device, inode, size, mtime. */
struct file_id {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};
/* The host function table handed to every plugin. */
extern const struct mcpd_host host_table;

/*
 * Scan every configured plugin directory (in order; files sorted by name)
 * and load each *.so from a private copy under the state dir. Refusals are
 * recorded, logged, and kept in d->plugins with their reason. At start-up.
 * Returns the number loaded.
 */
int plugins_load_all(struct mcpd *d);
/* Call fini, dlclose and free every plugin record, draining ones too. */
void plugins_unload_all(struct mcpd *d);

/*
 * Load one file as a new generation: copy, dlopen, check the descriptor,
 * its name against `names` (plugin name -> record; NULL = d->plugins_by_name)
 * and run init with its block of `plugins_conf`. Always returns a record:
 * loaded, or refused with its reason (code unloaded). NULL only when out of
 * memory.
 */
struct mcpd_plugin *plugin_load_file(struct mcpd *d, const char *path,
                                     const struct file_id *id,
                                     struct map *names,
                                     const json_t *plugins_conf);
/*
 * The synthetic record "functions" (file PLUGIN_FUNCTIONS_FILE) that
 * serves the config's "functions" manifest: no code of its own, one
 * capability per entry. Refused whole, with the first bad entry's reason,
 * like a plugin whose init fails. Names as plugin_load_file. NULL only
 * when out of memory.
 */
#define PLUGIN_FUNCTIONS_FILE "config:functions"
struct mcpd_plugin *plugin_load_functions(struct mcpd *d,
                                          const json_t *manifest,
                                          struct map *names);
/* Put a loaded record's capabilities into the router. */
void plugin_register(struct mcpd *d, struct mcpd_plugin *p);
/* Take them out: no new task goes to this generation. */
void plugin_unregister(struct mcpd *d, struct mcpd_plugin *p);
/* Remove timers, call fini, dlclose, delete the private copy, free. */
void plugin_retire(struct mcpd_plugin *p);
/* The identity of `path` now; -1 with errno if it cannot be read. */
int plugin_file_id(const char *path, struct file_id *id);
int plugin_same_file(const struct mcpd_plugin *p, const struct file_id *id);
/* The *.so files of `dir`, sorted; *out an array of malloc'd full paths. */
size_t plugin_scan_dir(const char *dir, char ***out);
void plugin_ref(struct mcpd_plugin *p);
void plugin_unref(struct mcpd_plugin *p);
/* Does p provide service iface? Its vtable, or NULL. */
const void *plugin_service(const struct mcpd_plugin *p, const char *iface);

/* {"name",...} for GET /v1/plugins (new reference). */
json_t *plugin_to_json(const struct mcpd_plugin *p);
/* host->capability_add. */
int plugin_capability_add(struct mcpd_plugin *p,
                          const struct mcpd_capability_def *def);
/* The same, and on success the capability owns def->ud: ud_free(ud) when
 * it is freed. On failure the caller keeps it. */
int plugin_capability_add_owned(struct mcpd_plugin *p,
                                const struct mcpd_capability_def *def,
                                void (*ud_free)(void *ud));
/* Record why p is refused; the first reason wins. */
void plugin_refuse(struct mcpd_plugin *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Run a key-value write posted by a worker (loop thread). */
struct kv_op;
void host_kv_run(struct mcpd *d, struct kv_op *op);
/* Cancel and free every pending host timer of p (at retirement). */
void host_timers_remove(struct mcpd_plugin *p);
/* Stop and free every fd watch of p (at retirement). */
void host_ios_remove(struct mcpd_plugin *p);
/* host->capability_remove. */
int plugin_capability_remove(struct mcpd_plugin *p, const char *name);
/* An attempt stopped using c: frees a withdrawn capability at 0. */
void capdef_attempt_done(struct capdef *c);
/* Check a handle given to a plugin; logs on failure. */
int plugin_check(const struct mcpd_plugin *p, const char *fn);

#endif
