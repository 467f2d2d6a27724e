/*
 * Daemon configuration (see config-internal.h). Every numeric key is a row
 * in one table, so a key's range is stated once and its error message
 * cannot drift from the check.
 */
#include "config-internal.h"

#include "mcpd/plugin.h"

#include "log-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
	c->listen_port = 8080;
	c->state_dir = strdup("./state");
	c->log_level = LOG_INFO;
	c->workers = 4;
	c->drain_timeout_ms = 10000;
	c->max_body_bytes = 1024 * 1024;
	c->max_json_depth = 64;
	c->queue_limit = 1024;
	c->default_timeout_ms = 60000;
	c->max_timeout_ms = 3600000;
	c->default_concurrency = 4;
	c->max_retries = 10;
	c->retry_base_ms = 200;
	c->retry_max_ms = 30000;
	c->breaker_failures = 5;
	c->breaker_cooldown_ms = 30000;
	c->map_size_mb = 1024;
	c->max_connections = 1024;
	c->http = 1;
	c->plugins = json_object();
	c->services = json_object();
	c->functions = json_array();
	c->mcp_inline_max_bytes = 64 * 1024;
	c->mcp_session_timeout_ms = 30 * 60 * 1000;
	c->mcp_max_sessions = 1024;
}

void config_clear_plugin_dirs(struct config *c)
{
	for (int i = 0; i < c->n_plugin_dirs; i++) {
		free(c->plugin_dirs[i]);
		c->plugin_dirs[i] = NULL;
	}
	c->n_plugin_dirs = 0;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	config_clear_plugin_dirs(c);
	free(c->state_dir);
	c->state_dir = NULL;
	json_decref(c->plugins);
	c->plugins = NULL;
	json_decref(c->services);
	c->services = NULL;
	json_decref(c->functions);
	c->functions = NULL;
	json_decref(c->mcp_allowed_origins);
	c->mcp_allowed_origins = NULL;
	json_decref(c->mcp_allowed_hosts);
	c->mcp_allowed_hosts = NULL;
}

int config_add_plugin_dir(struct config *c, const char *dir)
{
	if (!dir || c->n_plugin_dirs >= CONFIG_MAX_PLUGIN_DIRS)
		return -1;
	char *copy = strdup(dir);
	if (!copy)
		return -1;
	c->plugin_dirs[c->n_plugin_dirs++] = copy;
	return 0;
}

void config_set_state_dir(struct config *c, const char *dir)
{
	char *copy = dir ? strdup(dir) : NULL;
	if (!copy)
		return;
	free(c->state_dir);
	c->state_dir = copy;
}

/* A deep copy, so a failed apply can be thrown away whole. */
static int config_copy(struct config *dst, const struct config *src)
{
	*dst = *src;
	dst->n_plugin_dirs = 0;
	dst->state_dir = NULL;
	dst->plugins = NULL;
	dst->services = NULL;
	dst->functions = NULL;
	dst->mcp_allowed_origins = NULL;
	dst->mcp_allowed_hosts = NULL;
	for (int i = 0; i < src->n_plugin_dirs; i++)
		if (config_add_plugin_dir(dst, src->plugin_dirs[i]))
			goto fail;
	if (src->state_dir && !(dst->state_dir = strdup(src->state_dir)))
		goto fail;
	if (src->plugins && !(dst->plugins = json_deep_copy(src->plugins)))
		goto fail;
	if (src->services && !(dst->services = json_deep_copy(src->services)))
		goto fail;
	if (src->functions &&
	    !(dst->functions = json_deep_copy(src->functions)))
		goto fail;
	if (src->mcp_allowed_origins && !(dst->mcp_allowed_origins =
	                                  json_deep_copy(src->mcp_allowed_origins)))
		goto fail;
	if (src->mcp_allowed_hosts && !(dst->mcp_allowed_hosts =
	                                json_deep_copy(src->mcp_allowed_hosts)))
		goto fail;
	return 0;
fail:
	config_free(dst);
	return -1;
}

/* ---- listen -------------------------------------------------------- */

static const char listen_usage[] =
	"config: listen: must be \"host:port\" or \"[v6addr]:port\"";

static int parse_port(const char *s, int *port)
{
	if (!*s || strlen(s) > 5)
		return -1;
	int n = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	if (n > 65535)
		return -1;
	*port = n;
	return 0;
}

/* An IPv6 address, with or without a zone ("fe80::1%eth0"). */
static int is_ipv6(const char *host)
{
	char bare[INET6_ADDRSTRLEN];
	size_t n = strcspn(host, "%");
	struct in6_addr a;
	if (n >= sizeof bare || (host[n] == '%' && !host[n + 1]))
		return 0;
	memcpy(bare, host, n);
	bare[n] = '\0';
	return inet_pton(AF_INET6, bare, &a) == 1;
}

/* "[addr]:port": the brackets are dropped, so listen_host is ready for
 * getaddrinfo. A zone is kept as it is. */
static int split_v6(const char *addr, char *host, size_t hostlen,
                    const char **port, char *err, size_t errlen)
{
	const char *end = strchr(addr, ']');
	if (!end || end[1] != ':') {
		set_err(err, errlen, "%s", listen_usage);
		return -1;
	}
	size_t n = (size_t)(end - addr - 1);
	if (n == 0 || n >= hostlen) {
		set_err(err, errlen, "config: listen: bad IPv6 address");
		return -1;
	}
	memcpy(host, addr + 1, n);
	host[n] = '\0';
	if (!is_ipv6(host)) {
		set_err(err, errlen, "config: listen: \"%s\" is not an IPv6 "
		        "address", host);
		return -1;
	}
	*port = end + 2;
	return 0;
}

static int split_host(const char *addr, char *host, size_t hostlen,
                      const char **port, char *err, size_t errlen)
{
	const char *colon = strrchr(addr, ':');
	if (!colon) {
		set_err(err, errlen, "%s", listen_usage);
		return -1;
	}
	size_t n = (size_t)(colon - addr);
	if (memchr(addr, ':', n)) {
		set_err(err, errlen, "config: listen: an IPv6 address needs "
		        "brackets, e.g. \"[::1]:8080\"");
		return -1;
	}
	if (n == 0 || n >= hostlen || strcspn(addr, " \t\r\n") < n) {
		set_err(err, errlen, "config: listen: host must be a non-empty "
		        "name or address");
		return -1;
	}
	memcpy(host, addr, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

int config_set_listen(struct config *c, const char *addr, char *err,
                      size_t errlen)
{
	char host[sizeof c->listen_host];
	const char *port_text;
	int port, rc;
	if (!addr) {
		set_err(err, errlen, "%s", listen_usage);
		return -1;
	}
	if (addr[0] == '[')
		rc = split_v6(addr, host, sizeof host, &port_text, err, errlen);
	else
		rc = split_host(addr, host, sizeof host, &port_text, err, errlen);
	if (rc)
		return -1;
	if (parse_port(port_text, &port)) {
		set_err(err, errlen, "config: listen: port must be an integer "
		        "from 0 to 65535");
		return -1;
	}
	snprintf(c->listen_host, sizeof c->listen_host, "%s", host);
	c->listen_port = port;
	return 0;
}

/* ---- Keys ---------------------------------------------------------- */

enum key_kind { K_INT, K_SIZE, K_LISTEN, K_DIRS, K_STATE_DIR, K_LEVEL,
                K_PLUGINS, K_SERVICES, K_FUNCTIONS, K_MCP };

static const struct key {
	const char *name;
	enum key_kind kind;
	size_t offset;
	long long min, max;
} keys[] = {
#define INT_KEY(f, lo, hi) {#f, K_INT, offsetof(struct config, f), lo, hi}
#define SIZE_KEY(f, lo, hi) {#f, K_SIZE, offsetof(struct config, f), lo, hi}
	{"listen", K_LISTEN, 0, 0, 0},
	{"plugin_dirs", K_DIRS, 0, 0, 0},
	{"state_dir", K_STATE_DIR, 0, 0, 0},
	{"log_level", K_LEVEL, 0, 0, 0},
	{"plugins", K_PLUGINS, 0, 0, 0},
	{"services", K_SERVICES, 0, 0, 0},
	{"functions", K_FUNCTIONS, 0, 0, 0},
	{"mcp", K_MCP, 0, 0, 0},
	INT_KEY(workers, 1, 256),
	INT_KEY(drain_timeout_ms, 0, 3600000),
	SIZE_KEY(max_body_bytes, 1024, 1024LL * 1024 * 1024),
	INT_KEY(max_json_depth, 1, 1000),
	INT_KEY(queue_limit, 1, 1000000),
	INT_KEY(default_timeout_ms, 1, 86400000),
	INT_KEY(max_timeout_ms, 1, 86400000),
	INT_KEY(default_concurrency, 1, 1024),
	INT_KEY(max_retries, 0, 100),
	INT_KEY(retry_base_ms, 1, INT_MAX),
	INT_KEY(retry_max_ms, 1, INT_MAX),
	INT_KEY(breaker_failures, 1, 1000),
	INT_KEY(breaker_cooldown_ms, 0, INT_MAX),
	SIZE_KEY(map_size_mb, 1, 1048576),
	INT_KEY(max_connections, 1, 100000),
#undef INT_KEY
#undef SIZE_KEY
};

static int set_number(struct config *c, const struct key *k,
                      const json_t *v, char *err, size_t errlen)
{
	json_int_t n = json_integer_value(v);
	if (!json_is_integer(v) || n < k->min || n > k->max) {
		if (k->max == INT_MAX)
			set_err(err, errlen, "config: %s: must be an integer "
			        ">= %lld", k->name, k->min);
		else
			set_err(err, errlen, "config: %s: must be an integer "
			        "from %lld to %lld", k->name, k->min, k->max);
		return -1;
	}
	char *field = (char *)c + k->offset;
	if (k->kind == K_SIZE)
		*(size_t *)field = (size_t)n;
	else
		*(int *)field = (int)n;
	return 0;
}

static int set_dirs(struct config *c, const json_t *v, char *err,
                    size_t errlen)
{
	if (!json_is_array(v) || json_array_size(v) > CONFIG_MAX_PLUGIN_DIRS) {
		set_err(err, errlen, "config: plugin_dirs: must be an array of "
		        "at most %d strings", CONFIG_MAX_PLUGIN_DIRS);
		return -1;
	}
	config_clear_plugin_dirs(c);
	size_t i;
	const json_t *dir;
	json_array_foreach(v, i, dir) {
		if (!json_is_string(dir) || !json_string_length(dir)) {
			set_err(err, errlen, "config: plugin_dirs[%zu]: must be "
			        "a non-empty string", i);
			return -1;
		}
		if (config_add_plugin_dir(c, json_string_value(dir))) {
			set_err(err, errlen, "config: plugin_dirs: out of memory");
			return -1;
		}
	}
	return 0;
}

static int set_plugins(struct config *c, const json_t *v, char *err,
                       size_t errlen)
{
	if (!json_is_object(v)) {
		set_err(err, errlen, "config: plugins: must be an object");
		return -1;
	}
	const char *name;
	const json_t *block;
	json_object_foreach((json_t *)v, name, block) {
		if (!json_is_object(block)) {
			set_err(err, errlen, "config: plugins.%s: must be an "
			        "object", name);
			return -1;
		}
		/* "process": run by mcp-bridge through mcpd-plugin-run. */
		const json_t *iso = json_object_get(block, "isolation");
		const char *isv = json_string_value(iso);
		if (iso && (!isv || (strcmp(isv, "process") != 0 &&
		                     strcmp(isv, "none") != 0))) {
			set_err(err, errlen, "config: plugins.%s.isolation: must "
			        "be \"process\" or \"none\"", name);
			return -1;
		}
	}
	json_t *copy = json_deep_copy(v);
	if (!copy) {
		set_err(err, errlen, "config: plugins: out of memory");
		return -1;
	}
	json_decref(c->plugins);
	c->plugins = copy;
	return 0;
}

static int set_services(struct config *c, const json_t *v, char *err,
                        size_t errlen)
{
	if (!json_is_object(v)) {
		set_err(err, errlen, "config: services: must be an object");
		return -1;
	}
	const char *iface;
	const json_t *name;
	json_object_foreach((json_t *)v, iface, name) {
		if (!json_is_string(name) || !json_string_length(name)) {
			set_err(err, errlen, "config: services.%s: must be a "
			        "plugin name", iface);
			return -1;
		}
	}
	json_t *copy = json_deep_copy(v);
	if (!copy) {
		set_err(err, errlen, "config: services: out of memory");
		return -1;
	}
	json_decref(c->services);
	c->services = copy;
	return 0;
}

/* One manifest entry's shape: known members, all strings, the first
 * three required and, like "name", not empty. */
static int check_function(size_t i, const json_t *e, char *err,
                          size_t errlen)
{
	static const char *const members[] = {"library", "symbol",
	                                      "signature", "name",
	                                      "description"};
	const size_t nmembers = sizeof members / sizeof *members;
	if (!json_is_object(e)) {
		set_err(err, errlen, "config: functions[%zu]: must be an "
		        "object", i);
		return -1;
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)e, key, v) {
		size_t k = 0;
		while (k < nmembers && strcmp(members[k], key) != 0)
			k++;
		if (k == nmembers) {
			set_err(err, errlen, "config: functions[%zu]: unknown "
			        "key \"%s\"", i, key);
			return -1;
		}
		if (!json_is_string(v) || (!json_string_length(v) &&
		                           strcmp(key, "description") != 0)) {
			set_err(err, errlen, "config: functions[%zu].%s: must "
			        "be a non-empty string", i, key);
			return -1;
		}
	}
	for (size_t k = 0; k < 3; k++) {
		if (!json_object_get(e, members[k])) {
			set_err(err, errlen, "config: functions[%zu]: missing "
			        "\"%s\"", i, members[k]);
			return -1;
		}
	}
	return 0;
}

static int set_functions(struct config *c, const json_t *v, char *err,
                         size_t errlen)
{
	if (!json_is_array(v)) {
		set_err(err, errlen, "config: functions: must be an array of "
		        "objects");
		return -1;
	}
	size_t i;
	const json_t *e;
	json_array_foreach(v, i, e)
		if (check_function(i, e, err, errlen) < 0)
			return -1;
	json_t *copy = json_deep_copy(v);
	if (!copy) {
		set_err(err, errlen, "config: functions: out of memory");
		return -1;
	}
	json_decref(c->functions);
	c->functions = copy;
	return 0;
}

static int set_listen_key(struct config *c, const json_t *v, char *err,
                          size_t errlen)
{
	if (!json_is_string(v)) {
		set_err(err, errlen, "%s", listen_usage);
		return -1;
	}
	return config_set_listen(c, json_string_value(v), err, errlen);
}

static int set_level(struct config *c, const json_t *v, char *err,
                     size_t errlen)
{
	int level = log_level_parse(json_string_value(v));
	if (level < 0) {
		set_err(err, errlen, "config: log_level: must be one of "
		        "\"error\", \"warn\", \"info\", \"debug\"");
		return -1;
	}
	c->log_level = level;
	return 0;
}

static int set_state_dir(struct config *c, const json_t *v, char *err,
                         size_t errlen)
{
	if (!json_is_string(v) || !json_string_length(v)) {
		set_err(err, errlen, "config: state_dir: must be a non-empty "
		        "string");
		return -1;
	}
	char *copy = strdup(json_string_value(v));
	if (!copy) {
		set_err(err, errlen, "config: state_dir: out of memory");
		return -1;
	}
	free(c->state_dir);
	c->state_dir = copy;
	return 0;
}

/* mcp.allowed_origins / mcp.allowed_hosts: arrays of non-empty strings. */
static int set_mcp_list(json_t **dst, const char *name, const json_t *v,
                        char *err, size_t errlen)
{
	size_t i;
	const json_t *e;
	int good = json_is_array(v);
	json_array_foreach(v, i, e)
		good &= json_is_string(e) && json_string_length(e) > 0;
	if (!good) {
		set_err(err, errlen, "config: mcp.%s: must be an array of "
		        "non-empty strings", name);
		return -1;
	}
	json_decref(*dst);
	*dst = json_deep_copy(v);
	return 0;
}

/* mcp.session_timeout_ms, mcp.max_sessions. */
static int set_mcp_int(int *dst, const char *name, const json_t *v,
                       json_int_t lo, json_int_t hi, char *err, size_t errlen)
{
	json_int_t n = json_integer_value(v);
	if (!json_is_integer(v) || n < lo || n > hi) {
		set_err(err, errlen, "config: mcp.%s: must be an integer from "
		        "%lld to %lld", name, (long long)lo, (long long)hi);
		return -1;
	}
	*dst = (int)n;
	return 0;
}

/* "mcp": {"inline_max_bytes": N}: the MCP server's settings. */
static int set_mcp(struct config *c, const json_t *v, char *err,
                   size_t errlen)
{
	if (!json_is_object(v)) {
		set_err(err, errlen, "config: mcp: must be an object");
		return -1;
	}
	const char *name;
	const json_t *m;
	json_object_foreach((json_t *)v, name, m) {
		if (strcmp(name, "inline_max_bytes") == 0) {
			json_int_t n = json_integer_value(m);
			if (!json_is_integer(m) || n < 256 ||
			    n > 64LL * 1024 * 1024) {
				set_err(err, errlen, "config: mcp.inline_max_bytes: "
				        "must be an integer from 256 to 67108864");
				return -1;
			}
			c->mcp_inline_max_bytes = (size_t)n;
		} else if (strcmp(name, "allowed_origins") == 0) {
			if (set_mcp_list(&c->mcp_allowed_origins, name, m, err,
			                 errlen) < 0)
				return -1;
		} else if (strcmp(name, "allowed_hosts") == 0) {
			if (set_mcp_list(&c->mcp_allowed_hosts, name, m, err,
			                 errlen) < 0)
				return -1;
		} else if (strcmp(name, "session_timeout_ms") == 0) {
			if (set_mcp_int(&c->mcp_session_timeout_ms, name, m,
			                1000, 86400000, err, errlen) < 0)
				return -1;
		} else if (strcmp(name, "max_sessions") == 0) {
			if (set_mcp_int(&c->mcp_max_sessions, name, m, 1,
			                100000, err, errlen) < 0)
				return -1;
		} else {
			set_err(err, errlen, "config: mcp: unknown key \"%s\"",
			        name);
			return -1;
		}
	}
	return 0;
}

static int set_key(struct config *c, const struct key *k, const json_t *v,
                   char *err, size_t errlen)
{
	switch (k->kind) {
	case K_INT:
	case K_SIZE: return set_number(c, k, v, err, errlen);
	case K_DIRS: return set_dirs(c, v, err, errlen);
	case K_PLUGINS: return set_plugins(c, v, err, errlen);
	case K_SERVICES: return set_services(c, v, err, errlen);
	case K_FUNCTIONS: return set_functions(c, v, err, errlen);
	case K_MCP: return set_mcp(c, v, err, errlen);
	case K_LISTEN: return set_listen_key(c, v, err, errlen);
	case K_LEVEL: return set_level(c, v, err, errlen);
	case K_STATE_DIR: return set_state_dir(c, v, err, errlen);
	}
	return -1;
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Rules that tie two keys together hold only for the result as a whole:
 * a file may raise max_timeout_ms and default_timeout_ms in any order. */
static int check_relations(const struct config *c, char *err, size_t errlen)
{
	if (c->default_timeout_ms > c->max_timeout_ms) {
		set_err(err, errlen, "config: default_timeout_ms: must not "
		        "exceed max_timeout_ms (%d)", c->max_timeout_ms);
		return -1;
	}
	if (c->retry_max_ms < c->retry_base_ms) {
		set_err(err, errlen, "config: retry_max_ms: must be >= "
		        "retry_base_ms (%d)", c->retry_base_ms);
		return -1;
	}
	return 0;
}

int config_apply_json(struct config *c, const json_t *root, char *err,
                      size_t errlen)
{
	if (!json_is_object(root)) {
		set_err(err, errlen, "config: must be a JSON object");
		return -1;
	}
	struct config next;
	if (config_copy(&next, c)) {
		set_err(err, errlen, "config: out of memory");
		return -1;
	}
	const char *name;
	const json_t *v;
	json_object_foreach((json_t *)root, name, v) {
		const struct key *k = find_key(name);
		if (!k) {
			set_err(err, errlen, "config: unknown key \"%s\"", name);
			goto fail;
		}
		if (set_key(&next, k, v, err, errlen))
			goto fail;
	}
	if (check_relations(&next, err, errlen))
		goto fail;
	config_free(c);
	*c = next;
	return 0;
fail:
	config_free(&next);
	return -1;
}

int config_load_file(struct config *c, const char *path, char *err,
                     size_t errlen)
{
	/* Opened here rather than by jansson so the error says just why. */
	FILE *f = fopen(path, "r");
	if (!f) {
		set_err(err, errlen, "config: %s: %s", path, strerror(errno));
		return -1;
	}
	json_error_t je;
	json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	fclose(f);
	if (!root) {
		if (je.line > 0)
			set_err(err, errlen, "config: %s:%d:%d: %s", path,
			        je.line, je.column, je.text);
		else
			set_err(err, errlen, "config: %s: %s", path, je.text);
		return -1;
	}
	int rc = config_apply_json(c, root, err, errlen);
	json_decref(root);
	return rc;
}

/* ---- the command line ---------------------------------------------- */

enum { OPT_CONFIG = 1, OPT_LISTEN, OPT_PLUGIN_DIR, OPT_STATE_DIR,
       OPT_LOG_LEVEL, OPT_VERSION, OPT_HELP, OPT_STDIO };

static const struct option options[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"version", no_argument, NULL, OPT_VERSION},
	{"help", no_argument, NULL, OPT_HELP},
	{"stdio", no_argument, NULL, OPT_STDIO},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: mcpd [options]\n"
	        "  --config FILE       JSON configuration (see config/mcpd.json);\n"
	        "                      re-read on SIGHUP\n"
	        "  --listen ADDR:PORT  listen address (default 127.0.0.1:8080;\n"
	        "                      port 0 picks a free port and prints it)\n"
	        "  --plugin-dir DIR    scan DIR for plugins (repeatable; replaces\n"
	        "                      the config's plugin_dirs)\n"
	        "  --state-dir DIR     LMDB state directory (default ./state)\n"
	        "  --log-level LEVEL   error, warn, info or debug\n"
	        "  --stdio             serve MCP on stdin/stdout (logs on stderr,\n"
	        "                      exit at end of input); no HTTP listener\n"
	        "                      unless --listen is given too\n"
	        "  --version           print the version and exit\n"
	        "  --help              print this help and exit\n");
}

int config_from_argv(struct config *c, int argc, char **argv, char *err,
                     size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *file = NULL;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
		if (file && config_load_file(c, file, err, errlen) < 0)
			return -1;
	}
	int dirs_from_flags = 0, listen_given = 0, opt;
	opterr = 0;
	optind = 0; /* a full rescan: this runs again at each reload */
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG:
			break;
		case OPT_LISTEN: {
			char why[256];
			if (config_set_listen(c, optarg, why, sizeof why) < 0) {
				set_err(err, errlen, "--listen: %s", why);
				return -1;
			}
			listen_given = 1;
			break;
		}
		case OPT_PLUGIN_DIR:
			if (!dirs_from_flags++)
				config_clear_plugin_dirs(c);
			if (config_add_plugin_dir(c, optarg) < 0) {
				set_err(err, errlen, "--plugin-dir: at most %d "
				        "directories", CONFIG_MAX_PLUGIN_DIRS);
				return -1;
			}
			break;
		case OPT_STATE_DIR:
			config_set_state_dir(c, optarg);
			break;
		case OPT_LOG_LEVEL:
			if ((c->log_level = log_level_parse(optarg)) < 0) {
				set_err(err, errlen, "--log-level: must be error, "
				        "warn, info or debug");
				return -1;
			}
			break;
		case OPT_VERSION:
			printf("mcpd %s (plugin ABI %d.%d)\n", MCPD_VERSION,
			       MCPD_ABI_MAJOR, MCPD_ABI_MINOR);
			return 1;
		case OPT_HELP:
			usage(stdout);
			return 1;
		case OPT_STDIO:
			c->stdio = 1;
			break;
		default:
			set_err(err, errlen, "unknown or incomplete option %s "
			        "(see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		set_err(err, errlen, "unexpected argument %s (see --help)",
		        argv[optind]);
		return -1;
	}
	/* stdout belongs to MCP, and the config's listen address is most
	 * likely the system daemon's: only an explicit --listen adds HTTP. */
	if (c->stdio && !listen_given)
		c->http = 0;
	return 0;
}

static void note_key(char *out, size_t outlen, const char *key)
{
	size_t n = strlen(out);
	snprintf(out + n, outlen - n, "%s%s", n ? "," : "", key);
}

void config_keep_restart_keys(const struct config *cur, struct config *next,
                              char *out, size_t outlen)
{
	out[0] = '\0';
	if (strcmp(cur->listen_host, next->listen_host) != 0 ||
	    cur->listen_port != next->listen_port)
		note_key(out, outlen, "listen");
	memcpy(next->listen_host, cur->listen_host, sizeof next->listen_host);
	next->listen_port = cur->listen_port;
	if (strcmp(cur->state_dir, next->state_dir) != 0) {
		note_key(out, outlen, "state_dir");
		config_set_state_dir(next, cur->state_dir);
	}
#define KEEP(f)                                       \
	if (cur->f != next->f) {                      \
		note_key(out, outlen, #f);            \
		next->f = cur->f;                     \
	}
	KEEP(workers)
	KEEP(map_size_mb)
	KEEP(max_connections)
	KEEP(max_body_bytes)
#undef KEEP
}
