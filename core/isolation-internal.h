/*
 * "isolation": "process" in a plugin's config block (plugins.NAME): the
 * file NAME.so of the plugin dirs is not loaded into the daemon. The
 * mcp-bridge plugin runs it instead, as a child `mcpd-plugin-run` (an MCP
 * stdio server), and serves its tools as capabilities under the plugin's
 * own capability names: a crash costs the child, not the daemon.
 *
 * The loader hands these plugins to the bridge through the bridge's own
 * config block: plugins["mcp-bridge"].isolated = [{name, path, file,
 * config}] (file: the identity of the .so, so that a rebuilt file makes a
 * reload start a new bridge generation) and plugin_run = the program's
 * path. The bridge then reloads like any plugin whose block changed.
 */
#ifndef MCPD_ISOLATION_INTERNAL_H
#define MCPD_ISOLATION_INTERNAL_H

#include <jansson.h>

struct config;

#define ISOLATION_BRIDGE "mcp-bridge"

/* Is the plugin file at `path` configured to run out of process? */
int isolation_skip(const json_t *plugins, const char *path);

/*
 * Scan c's plugin dirs and write the isolated plugins found into
 * c->plugins[ISOLATION_BRIDGE] (nothing when there are none). Returns
 * how many; a configured isolated plugin whose file is not found is
 * logged.
 */
int isolation_prepare(struct config *c);

#endif
