/*
 * mcp-bridge: the plugin. Reads the config block, starts every server,
 * supervises them (restart with exponential backoff), and ticks the
 * timeouts. See README.md for the config and bridge.h for the design.
 */

#include "bridge.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct bridge g;

#define TICK_MS 100

int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- buffers ---- */

int buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *nd = realloc(b->data, cap);
		if (!nd)
			return -1;
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void buf_drop(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ${VAR} from the environment (unset: empty); "$$" is a "$". */
char *expand_env(const char *in)
{
	struct buf b = {0};
	for (const char *p = in; *p;) {
		if (p[0] == '$' && p[1] == '$') {
			buf_add(&b, "$", 1);
			p += 2;
		} else if (p[0] == '$' && p[1] == '{' && strchr(p + 2, '}')) {
			const char *end = strchr(p + 2, '}');
			char name[256];
			size_t n = (size_t)(end - p - 2);
			if (n >= sizeof name)
				n = sizeof name - 1;
			memcpy(name, p + 2, n);
			name[n] = '\0';
			const char *v = getenv(name);
			if (v)
				buf_add(&b, v, strlen(v));
			p = end + 1;
		} else {
			buf_add(&b, p, 1);
			p++;
		}
	}
	if (!b.data)
		return strdup("");
	return b.data;
}

/* ---- supervision ---- */

int bridge_send(struct server *s, json_t *msg)
{
	return s->url ? http_send(s, msg) : proc_send(s, msg);
}

static void start_server(struct server *s);

static void on_restart(void *arg)
{
	struct server *s = arg;
	s->restart_timer = NULL;
	if (!g.stopping && (!g.replaced || s->parked) && s->state == S_DOWN)
		start_server(s);
}

void bridge_server_down(struct server *s, const char *code, const char *why)
{
	if (s->state == S_DOWN || s->state == S_STOPPED)
		return;
	int was_ready = s->state == S_READY;
	s->state = S_DOWN;
	s->state_ms = mono_ms();
	client_lost(s, code, why);
	/* A replaced generation restarts a server only for the calls that
	 * wait for it. */
	if (g.stopping || (g.replaced && !s->parked))
		return;
	/* A server that served a while starts again from the shortest wait;
	 * one that keeps failing waits twice as long each time. */
	if (was_ready && s->state_ms - s->ready_ms > 10000)
		s->backoff_ms = 0;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : g.backoff_min_ms;
	if (s->backoff_ms > g.backoff_max_ms)
		s->backoff_ms = g.backoff_max_ms;
	s->restarts++;
	LOG(MCPD_LOG_WARN, "server %s: %s; restart %u in %u ms", s->name, why,
	    s->restarts, s->backoff_ms);
	s->restart_timer = g.host->timer_start(g.self, s->backoff_ms,
	                                       on_restart, s);
}

static void start_server(struct server *s)
{
	s->state = S_PROBING;
	s->state_ms = mono_ms();
	s->era = ERA_NONE;
	int rc = s->url ? http_start(s) : proc_start(s);
	if (rc < 0) {
		s->state = S_PROBING; /* so that down() acts */
		bridge_server_down(s, "server_unavailable", s->exit_why[0]
		                   ? s->exit_why : "it could not be started");
		return;
	}
	client_start(s);
}

static void on_tick(void *arg)
{
	(void)arg;
	g.tick = NULL;
	int64_t now = mono_ms();
	for (size_t i = 0; i < g.nservers; i++) {
		struct server *s = g.servers[i];
		if (s->url)
			http_tick(s, now);
		else
			proc_tick(s, now);
		client_tick(s, now);
	}
	if (!g.stopping)
		g.tick = g.host->timer_start(g.self, TICK_MS, on_tick, NULL);
}

/* ---- config ---- */

static int bad(const char *fmt, const char *a, const char *b)
{
	char msg[512];
	snprintf(msg, sizeof msg, fmt, a, b);
	LOG(MCPD_LOG_ERROR, "config: %s", msg);
	return MCPD_E_INVAL;
}

static int get_ms(const json_t *conf, const char *key, uint32_t def,
                  uint32_t *out)
{
	const json_t *v = json_object_get(conf, key);
	*out = def;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 86400000)
		return bad("%s: must be an integer from 0 to 86400000%s", key,
		           "");
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static char **str_array(const json_t *arr, const char *first)
{
	size_t n = json_array_size(arr), k = 0;
	char **out = calloc(n + 2, sizeof *out);
	if (!out)
		return NULL;
	if (first)
		out[k++] = expand_env(first);
	for (size_t i = 0; i < n; i++)
		out[k++] = expand_env(json_string_value(json_array_get(arr, i)));
	return out;
}

static void str_array_free(char **a)
{
	for (size_t i = 0; a && a[i]; i++)
		free(a[i]);
	free(a);
}

static int all_strings(const json_t *j, int object)
{
	const char *k;
	size_t i;
	json_t *v;
	if (object) {
		if (!json_is_object(j))
			return 0;
		json_object_foreach((json_t *)j, k, v)
			if (!json_is_string(v))
				return 0;
		return 1;
	}
	if (!json_is_array(j))
		return 0;
	json_array_foreach(j, i, v)
		if (!json_is_string(v))
			return 0;
	return 1;
}

static struct server *server_new(const char *name)
{
	struct server *s = calloc(1, sizeof *s);
	if (!s || !(s->name = strdup(name))) {
		free(s);
		return NULL;
	}
	s->pid = -1;
	s->in_fd = s->out_fd = s->err_fd = -1;
	s->next_id = 1;
	struct server **ns = realloc(g.servers, (g.nservers + 1) * sizeof *ns);
	if (!ns) {
		free(s->name);
		free(s);
		return NULL;
	}
	g.servers = ns;
	g.servers[g.nservers++] = s;
	return s;
}

static int parse_server(const char *name, const json_t *c)
{
	static const char *const keys[] = {"command", "args", "env", "cwd",
	                                   "url", "headers", NULL};
	const char *k;
	json_t *v;
	if (!json_is_object(c))
		return bad("servers.%s: must be an object%s", name, "");
	json_object_foreach((json_t *)c, k, v) {
		int known = 0;
		for (size_t i = 0; keys[i]; i++)
			known |= strcmp(keys[i], k) == 0;
		if (!known)
			return bad("servers.%s: unknown key \"%s\"", name, k);
	}
	const json_t *cmd = json_object_get(c, "command");
	const json_t *url = json_object_get(c, "url");
	if (!cmd == !url)
		return bad("servers.%s: needs either \"command\" (a stdio "
		           "server) or \"url\" (an HTTP server)%s", name, "");
	if (cmd && (!json_is_string(cmd) || !json_string_length(cmd)))
		return bad("servers.%s.command: must be a non-empty string%s",
		           name, "");
	if (json_object_get(c, "args") && !all_strings(json_object_get(c,
	                                                   "args"), 0))
		return bad("servers.%s.args: must be an array of strings%s",
		           name, "");
	if (json_object_get(c, "env") && !all_strings(json_object_get(c,
	                                                  "env"), 1))
		return bad("servers.%s.env: must be an object of strings%s",
		           name, "");
	const json_t *cwd = json_object_get(c, "cwd");
	if (cwd && !json_is_string(cwd))
		return bad("servers.%s.cwd: must be a string%s", name, "");
	if (url && (!json_is_string(url) ||
	            strncmp(json_string_value(url), "http://", 7) != 0))
		return bad("servers.%s.url: must be an http:// URL (https is "
		           "not supported: put a TLS proxy on loopback)%s",
		           name, "");
	const json_t *hdrs = json_object_get(c, "headers");
	if (hdrs && !all_strings(hdrs, 1))
		return bad("servers.%s.headers: must be an object of strings%s",
		           name, "");
	if ((cmd && hdrs) || (url && (json_object_get(c, "args") ||
	                              json_object_get(c, "env") || cwd)))
		return bad("servers.%s: \"headers\" goes with \"url\"; "
		           "\"args\", \"env\" and \"cwd\" with \"command\"%s",
		           name, "");

	struct server *s = server_new(name);
	if (!s)
		return MCPD_E_NOMEM;
	if (cmd) {
		s->argv = str_array(json_object_get(c, "args"),
		                    json_string_value(cmd));
		const json_t *env = json_object_get(c, "env");
		s->env = calloc(json_object_size(env) + 1, sizeof *s->env);
		size_t i = 0;
		json_object_foreach((json_t *)env, k, v) {
			char *val = expand_env(json_string_value(v));
			size_t n = strlen(k) + strlen(val) + 2;
			if ((s->env[i] = malloc(n)))
				snprintf(s->env[i++], n, "%s=%s", k, val);
			free(val);
		}
		if (cwd)
			s->cwd = expand_env(json_string_value(cwd));
	} else {
		s->url = expand_env(json_string_value(url));
		s->headers = json_object();
		json_object_foreach((json_t *)hdrs, k, v) {
			char *val = expand_env(json_string_value(v));
			json_object_set_new(s->headers, k, json_string(val));
			free(val);
		}
	}
	return 0;
}

/* The child's config: {"plugins": {NAME: its block}}, in a private file. */
static char *write_child_config(const char *name, const json_t *block)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/mcp-bridge-%s.XXXXXX.json",
	         tmp && *tmp ? tmp : "/tmp", name);
	int fd = mkstemps(path, 5);
	if (fd < 0)
		return NULL;
	json_t *j = json_pack("{s:{s:O}}", "plugins", name, block);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	size_t n = text ? strlen(text) : 0;
	int ok = text && write(fd, text, n) == (ssize_t)n;
	free(text);
	close(fd);
	if (!ok) {
		unlink(path);
		return NULL;
	}
	return strdup(path);
}

static int parse_isolated(const json_t *arr, const char *runner)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *path = json_string_value(json_object_get(e, "path"));
		const json_t *block = json_object_get(e, "config");
		if (!name || !path || (block && !json_is_object(block)))
			return bad("isolated[%s]: needs \"name\" and \"path\" "
			           "(strings) and \"config\" (an object)%s",
			           name ? name : "?", "");
		if (!runner)
			return bad("isolated plugin %s: no mcpd-plugin-run "
			           "found (set \"plugin_run\")%s", name, "");
		struct server *s = server_new(name);
		if (!s)
			return MCPD_E_NOMEM;
		s->isolated = 1;
		json_t *empty = json_object();
		s->config_file = write_child_config(name, block ? block : empty);
		json_decref(empty);
		if (!s->config_file)
			return bad("isolated plugin %s: cannot write its config "
			           "file%s", name, "");
		s->argv = calloc(5, sizeof *s->argv);
		s->argv[0] = strdup(runner);
		s->argv[1] = strdup("--config");
		s->argv[2] = strdup(s->config_file);
		s->argv[3] = strdup(path);
	}
	return 0;
}

static int parse_config(const json_t *conf)
{
	static const char *const keys[] = {
		"servers", "isolated", "plugin_run", "probe_timeout_ms",
		"start_timeout_ms", "restart_backoff_ms",
		"restart_backoff_max_ms", "max_concurrency", "request_timeout_ms",
		NULL};
	const char *k;
	json_t *v;
	int rc;
	json_object_foreach((json_t *)conf, k, v) {
		int known = 0;
		for (size_t i = 0; keys[i]; i++)
			known |= strcmp(keys[i], k) == 0;
		if (!known)
			return bad("unknown key \"%s\"%s", k, "");
	}
	if ((rc = get_ms(conf, "probe_timeout_ms", 3000, &g.probe_timeout_ms)) ||
	    (rc = get_ms(conf, "start_timeout_ms", 30000, &g.start_timeout_ms)) ||
	    (rc = get_ms(conf, "restart_backoff_ms", 200, &g.backoff_min_ms)) ||
	    (rc = get_ms(conf, "restart_backoff_max_ms", 30000,
	                 &g.backoff_max_ms)) ||
	    (rc = get_ms(conf, "max_concurrency", 0, &g.max_concurrency)) ||
	    (rc = get_ms(conf, "request_timeout_ms", 0, &g.call_timeout_ms)))
		return rc;
	if (!g.backoff_min_ms)
		g.backoff_min_ms = 1;
	if (g.backoff_max_ms < g.backoff_min_ms)
		g.backoff_max_ms = g.backoff_min_ms;
	const json_t *servers = json_object_get(conf, "servers");
	if (servers && !json_is_object(servers))
		return bad("servers: must be an object (name -> server)%s", "",
		           "");
	json_object_foreach((json_t *)servers, k, v)
		if ((rc = parse_server(k, v)))
			return rc;
	const json_t *iso = json_object_get(conf, "isolated");
	const json_t *runner = json_object_get(conf, "plugin_run");
	if (iso && !json_is_array(iso))
		return bad("isolated: must be an array%s%s", "", "");
	if (runner && !json_is_string(runner))
		return bad("plugin_run: must be a string%s%s", "", "");
	return parse_isolated(iso, json_string_value(runner));
}

/* ---- the plugin ---- */

static void server_free(struct server *s)
{
	client_free(s);
	if (s->url)
		http_close_all(s, 1);
	str_array_free(s->argv);
	str_array_free(s->env);
	if (s->config_file)
		unlink(s->config_file);
	free(s->config_file);
	free(s->cwd);
	free(s->url);
	free(s->session_id);
	free(s->server_version);
	json_decref(s->headers);
	json_decref(s->cache);
	buf_free(&s->inbuf);
	buf_free(&s->outbuf);
	buf_free(&s->errbuf);
	free(s->name);
	free(s);
}

static void free_all(void)
{
	for (size_t i = 0; i < g.nservers; i++)
		server_free(g.servers[i]);
	free(g.servers);
	g.servers = NULL;
	g.nservers = 0;
}

static int bridge_init(const struct mcpd_host *host, struct mcpd_plugin *self)
{
	memset(&g, 0, sizeof g);
	g.host = host;
	g.self = self;
	g.init_ms = mono_ms();
	if (!MCPD_HOST_HAS(host, io_start) ||
	    !MCPD_HOST_HAS(host, capability_remove)) {
		host->log(self, MCPD_LOG_ERROR, "needs a host with ABI 1.2 "
		          "(run-time capabilities and fd watches); this one "
		          "is %u.%u", host->abi_major, host->abi_minor);
		return MCPD_E_STATE;
	}
	int rc = parse_config(host->config(self));
	if (!rc)
		rc = cache_load();
	if (rc) {
		free_all();
		return rc;
	}
	/* The cached tool lists are declared; every server's own listing
	 * then adds, withdraws or redeclares from the loop (ABI 1.2). */
	for (size_t i = 0; i < g.nservers; i++)
		start_server(g.servers[i]);
	g.tick = host->timer_start(self, TICK_MS, on_tick, NULL);
	if (g.nservers)
		LOG(MCPD_LOG_INFO, "bridging %zu server%s", g.nservers,
		    g.nservers == 1 ? "" : "s");
	return 0;
}

static void bridge_fini(struct mcpd_plugin *self)
{
	(void)self;
	/* The host removed our timers and fd watches already; task handles
	 * may be gone too (never touched here). */
	g.stopping = 1;
	g.tick = NULL;
	for (size_t i = 0; i < g.nservers; i++) {
		g.servers[i]->restart_timer = NULL;
		g.servers[i]->in_io = g.servers[i]->out_io = NULL;
		g.servers[i]->err_io = NULL;
	}
	proc_stop_all();
	free_all();
}

MCPD_PLUGIN("mcp-bridge", "1.0.0",
            "External MCP servers and process-isolated plugins as "
            "capabilities", 0, bridge_init, bridge_fini)
