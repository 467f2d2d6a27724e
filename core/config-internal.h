/*
 * Daemon configuration: a JSON file, then command-line flags on top.
 * Unknown keys and bad values are refused with one line naming the key.
 */
#ifndef MCPD_CONFIG_INTERNAL_H
#define MCPD_CONFIG_INTERNAL_H

#include <stddef.h>
#include <jansson.h>

#define CONFIG_MAX_PLUGIN_DIRS 16

struct config {
	char listen_host[256];     /* "127.0.0.1" */
	int listen_port;           /* 8080; 0 = pick a free one */
	char *plugin_dirs[CONFIG_MAX_PLUGIN_DIRS];
	int n_plugin_dirs;
	char *state_dir;           /* "./state" */
	int log_level;             /* LOG_* */
	int workers;               /* worker threads, 1..256; default 4 */
	int drain_timeout_ms;      /* SIGTERM/reload drain; default 10000 */
	size_t max_body_bytes;     /* default 1 MiB */
	int max_json_depth;        /* default 64 */
	int queue_limit;           /* per capability; default 1024 */
	int default_timeout_ms;    /* per task; default 60000 */
	int max_timeout_ms;        /* cap on a task's timeout_ms; default 3600000 */
	int default_concurrency;   /* when a capability says 0; default 4 */
	int max_retries;           /* cap on a task's retries; default 10 */
	int retry_base_ms;         /* backoff base; default 200 */
	int retry_max_ms;          /* backoff cap; default 30000 */
	int breaker_failures;      /* consecutive failures to open; default 5 */
	int breaker_cooldown_ms;   /* default 30000 */
	size_t map_size_mb;        /* LMDB map; default 1024 */
	int max_connections;       /* default 1024 */
	int stdio;                 /* --stdio: serve MCP on stdin/stdout */
	int http;                  /* serve HTTP: 1, but 0 for --stdio
	                              without --listen */
	json_t *plugins;           /* object: plugin name -> its config block */
	json_t *services;          /* object: service iface -> default plugin */
	json_t *functions;         /* array: C functions as tools (manifest) */
	size_t mcp_inline_max_bytes; /* mcp.inline_max_bytes: a tool result
	                                larger goes as a resource_link;
	                                default 64 KiB */
	json_t *mcp_allowed_origins; /* mcp.allowed_origins: array of
	                                Origin values /mcp accepts besides
	                                loopback ones ("*": any); NULL none */
	json_t *mcp_allowed_hosts;   /* mcp.allowed_hosts: Host values
	                                besides loopback and the listen
	                                address ("*": any); NULL none */
	int mcp_session_timeout_ms;  /* idle legacy /mcp session; 30 min */
	int mcp_max_sessions;        /* legacy /mcp sessions; default 1024 */
};

/* Defaults above; plugins = {}, services = {}, functions = []. */
void config_init(struct config *c);
/* Free owned memory; c stays reusable after config_init. */
void config_free(struct config *c);

/*
 * Apply a JSON config object on top of c. Keys: listen ("host:port"),
 * plugin_dirs (array of strings, replaces), state_dir, log_level, workers,
 * drain_timeout_ms, max_body_bytes, max_json_depth, queue_limit,
 * default_timeout_ms, max_timeout_ms, default_concurrency, max_retries,
 * retry_base_ms, retry_max_ms, breaker_failures, breaker_cooldown_ms,
 * map_size_mb, max_connections, plugins (object of objects), services
 * (object: interface name -> plugin name), functions (array of objects
 * with strings "library", "symbol", "signature" and optional "name" and
 * "description"; only their shape is checked here, the libraries and
 * signatures when the manifest is loaded), mcp (object: inline_max_bytes,
 * 256..64 MiB; allowed_origins and allowed_hosts, arrays of non-empty
 * strings; session_timeout_ms, 1000..86400000; max_sessions, 1..100000).
 * 0, or -1 with a one-line reason naming the key in err
 * (e.g. "config: workers: must be an integer from 1 to 256").
 */
int config_apply_json(struct config *c, const json_t *root, char *err,
                      size_t errlen);
/* Load FILE and apply it. Same errors, plus "config: FILE: <parse error>". */
int config_load_file(struct config *c, const char *path, char *err,
                     size_t errlen);
/* Parse "host:port" / "[v6]:port" into c. 0 or -1 with reason. */
int config_set_listen(struct config *c, const char *addr, char *err,
                      size_t errlen);
/* Append a plugin dir (flags add to what config gave only after a reset:
 * see main.c). 0 or -1 if there are too many. */
int config_add_plugin_dir(struct config *c, const char *dir);
void config_clear_plugin_dirs(struct config *c);
/* Replace state_dir. */
void config_set_state_dir(struct config *c, const char *dir);

/*
 * The daemon's command line on top of c: --config FILE first, whatever its
 * place, then the other flags. 0 to go on; 1 after --version or --help
 * (printed to stdout); -1 with a one-line reason in err.
 */
int config_from_argv(struct config *c, int argc, char **argv, char *err,
                     size_t errlen);

/*
 * Keys that only a restart applies (listen, state_dir, workers,
 * map_size_mb, max_connections, max_body_bytes): their names, comma
 * separated, where `next` differs from `cur`, into out ("" if none); then
 * next takes cur's values for them. 
 */
void config_keep_restart_keys(const struct config *cur, struct config *next,
                              char *out, size_t outlen);

#endif
