/*
 * Each server's last tool list, kept in the plugin's kv space (shared by
 * every generation of the plugin and kept across restarts of the daemon).
 *
 * Why: a new generation (a reload that changed the bridge's block, a
 * rebuilt isolated plugin) or a restarted daemon would otherwise have no
 * capability for a server until the server has started and listed its
 * tools, and every submission in that window would be refused. init
 * declares the cached tools at once instead, with the schemas the server
 * listed; calls wait for the server (client.c); its first listing then
 * adds, withdraws or redeclares what changed, and rewrites the entry.
 *
 * Keys:
 *   "tools/NAME"  {"kind": "stdio" | "http" | "isolated",
 *                  "host": the ABI of the host that accepted the
 *                          declarations ("1.2/SIZE"),
 *                  "server_version": its serverInfo.version or null,
 *                  "tools": [{"cap": capability name,
 *                             "open_schema": declared with
 *                                            {"type":"object"},
 *                             "def": the tool as the server listed it}]}
 *   "servers"     [NAME...]: the servers of the last loaded config; the
 *                 entries of a name that left the config are deleted, so
 *                 a removed server is never declared again from the cache.
 *
 * Only what a host accepted is cached, and an entry of another kind or
 * host ABI is ignored: a capability refused during init would refuse the
 * whole plugin. Should one be refused anyway, every entry is deleted, so
 * the next load goes without them.
 */

#include "bridge.h"

#include <stdio.h>
#include <string.h>

#define INDEX_KEY "servers"
#define KEY_MAX 256 /* the host's limit for kv keys */

static int key_of(const struct server *s, char *key, size_t len)
{
	int n = snprintf(key, len, "tools/%s", s->name);
	return n > 0 && (size_t)n < len && n <= KEY_MAX ? 0 : -1;
}

static const char *kind_of(const struct server *s)
{
	return s->isolated ? "isolated" : s->url ? "http" : "stdio";
}

static void host_abi(char *out, size_t len)
{
	snprintf(out, len, "%u.%u/%u", g.host->abi_major, g.host->abi_minor,
	         g.host->size);
}

/* Delete the entries of servers that are no longer configured; record
 * the configured ones. */
static void prune(void)
{
	json_t *now = json_array(), *old = NULL;
	char key[KEY_MAX + 8];
	for (size_t i = 0; i < g.nservers; i++)
		if (key_of(g.servers[i], key, sizeof key) == 0)
			json_array_append_new(now, json_string(g.servers[i]->name));
	if (g.host->kv_get(g.self, INDEX_KEY, &old) != MCPD_OK)
		old = NULL;
	size_t i, j;
	json_t *name, *cur;
	json_array_foreach(old, i, name) {
		int kept = 0;
		json_array_foreach(now, j, cur)
			kept |= json_equal(name, cur);
		if (kept || !json_is_string(name))
			continue;
		snprintf(key, sizeof key, "tools/%s", json_string_value(name));
		if (g.host->kv_del(g.self, key) == MCPD_OK)
			LOG(MCPD_LOG_INFO, "server %s left the config: its cached "
			    "tool list is deleted", json_string_value(name));
	}
	if (old ? !json_equal(old, now) : json_array_size(now) > 0)
		g.host->kv_put(g.self, INDEX_KEY, now);
	json_decref(old);
	json_decref(now);
}

/* Delete every entry of the configured servers (and the index). */
static void drop_all(void)
{
	char key[KEY_MAX + 8];
	for (size_t i = 0; i < g.nservers; i++)
		if (key_of(g.servers[i], key, sizeof key) == 0)
			g.host->kv_del(g.self, key);
	g.host->kv_del(g.self, INDEX_KEY);
}

/* The entry of s if it is usable here (a new reference), else NULL. */
static json_t *read_entry(struct server *s)
{
	char key[KEY_MAX + 8], abi[48];
	json_t *e = NULL;
	if (key_of(s, key, sizeof key) < 0 ||
	    g.host->kv_get(g.self, key, &e) != MCPD_OK)
		return NULL;
	host_abi(abi, sizeof abi);
	const char *kind = json_string_value(json_object_get(e, "kind"));
	const char *host = json_string_value(json_object_get(e, "host"));
	if (!kind || strcmp(kind, kind_of(s)) != 0 || !host ||
	    strcmp(host, abi) != 0 ||
	    !json_is_array(json_object_get(e, "tools"))) {
		LOG(MCPD_LOG_INFO, "server %s: its cached tool list is %s; "
		    "not used", s->name, kind && strcmp(kind, kind_of(s)) != 0
		    ? "of a server of another kind"
		    : "from another host ABI, or malformed");
		json_decref(e);
		return NULL;
	}
	return e;
}

static int declare(struct server *s)
{
	json_t *e = read_entry(s);
	if (!e)
		return 0;
	const char *v = json_string_value(json_object_get(e, "server_version"));
	free(s->server_version);
	s->server_version = v ? strdup(v) : NULL;
	size_t i, n = 0;
	json_t *t;
	int rc = 0;
	json_array_foreach(json_object_get(e, "tools"), i, t) {
		rc = client_declare_cached(s, json_object_get(t, "def"),
		                           json_string_value(json_object_get(t,
		                                                             "cap")),
		                           json_is_true(json_object_get(
			                           t, "open_schema")));
		if (rc == 1) {
			rc = 0; /* a malformed or repeated item: skipped */
			continue;
		}
		if (rc)
			break;
		n++;
	}
	if (rc) {
		LOG(MCPD_LOG_ERROR, "server %s: a tool of its cached tool list "
		    "was refused (%s); every cached tool list is deleted, the "
		    "next reload or start goes without them", s->name,
		    g.host->strerror(rc));
		json_decref(e);
		return rc;
	}
	s->cache = e;
	LOG(MCPD_LOG_INFO, "server %s: %zu capabilit%s declared from its "
	    "cached tool list; calls wait until it has listed its tools",
	    s->name, n, n == 1 ? "y" : "ies");
	return 0;
}

int cache_load(void)
{
	prune();
	for (size_t i = 0; i < g.nservers; i++) {
		int rc = declare(g.servers[i]);
		if (rc) {
			drop_all();
			return rc;
		}
	}
	return 0;
}

void cache_store(struct server *s)
{
	char key[KEY_MAX + 8], abi[48];
	if (key_of(s, key, sizeof key) < 0)
		return;
	host_abi(abi, sizeof abi);
	json_t *tools = json_array();
	for (size_t i = 0; i < s->ntools; i++) {
		const struct tool *t = s->tools[i];
		if (t->seen && t->registered)
			json_array_append_new(tools, json_pack(
				"{s:s, s:b, s:O}", "cap", t->cap, "open_schema",
				t->open_schema, "def", t->def));
	}
	json_t *e = json_pack("{s:s, s:s, s:s?, s:o}", "kind", kind_of(s),
	                      "host", abi, "server_version", s->server_version,
	                      "tools", tools);
	if (!e)
		return;
	if (s->cache && json_equal(s->cache, e)) {
		json_decref(e);
		return;
	}
	int rc = g.host->kv_put(g.self, key, e);
	if (rc != MCPD_OK) {
		LOG(MCPD_LOG_WARN, "server %s: cannot cache its tool list: %s",
		    s->name, g.host->strerror(rc));
		json_decref(e);
		return;
	}
	json_decref(s->cache);
	s->cache = e;
}
