/* Plugins: loading .so files against ABI v1, and what each declared. */
#ifndef MCPD_PLUGIN_INTERNAL_H
#define MCPD_PLUGIN_INTERNAL_H

#include <stdint.h>
#include <jansson.h>
#include "mcpd/plugin.h"

struct mcpd;

#define PLUGIN_MAGIC 0x504c5547u /* "PLUG" */

/* A capability as one plugin declared it. */
struct capdef {
	char *name, *version, *title, *description;
	json_t *input_schema;  /* never NULL */
	json_t *output_schema; /* or NULL */
	json_t *attributes;    /* object, never NULL */
	uint32_t max_concurrency, flags;
	mcpd_handler_fn handler;
	void *ud;
	struct mcpd_plugin *plugin;
};

/* The host's record of one plugin file, loaded or refused. */
struct mcpd_plugin {
	uint32_t magic;
	struct mcpd *d;
	char *file; /* the path scanned */
	char *name, *version, *description;
	char abi[16]; /* "1.0" as the plugin declared it */
	uint32_t flags;
	void *dl;
	const struct mcpd_plugin_desc *desc;
	int loaded;
	char reason[512]; /* why it was refused */
	int in_init;
	struct capdef **caps;
	size_t ncaps;
	json_t *config; /* borrowed from the daemon config, or an owned {} */
	int64_t loaded_at_ms;
};

/* The host function table handed to every plugin. */
extern const struct mcpd_host host_table;

/*
 * Scan every configured plugin directory (in order; files sorted by name)
 * and load each *.so from a private copy under the state dir. Refusals are
 * recorded, logged, and kept in d->plugins with their reason.
 * Returns the number loaded.
 */
int plugins_load_all(struct mcpd *d);
/* Call fini, dlclose and free every plugin record. */
void plugins_unload_all(struct mcpd *d);
/* {"name",...} for GET /v1/plugins (new reference). */
json_t *plugin_to_json(const struct mcpd_plugin *p);
/* host->capability_add. */
int plugin_capability_add(struct mcpd_plugin *p,
                          const struct mcpd_capability_def *def);
/* Run a key-value write posted by a worker (loop thread). */
struct kv_op;
void host_kv_run(struct mcpd *d, struct kv_op *op);
/* Check a handle given to a plugin; logs on failure. */
int plugin_check(const struct mcpd_plugin *p, const char *fn);

#endif
