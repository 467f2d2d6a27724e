/*
 * Process isolation: which plugin files the loader leaves to the
 * mcp-bridge plugin, and the bridge config block that names them (see
 * isolation-internal.h).
 */
#include "isolation-internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config-internal.h"
#include "log-internal.h"
#include "plugin-internal.h"

/* The config block of the plugin file `path` (NAME.so -> plugins.NAME)
 * when it says "isolation": "process"; else NULL. */
static const json_t *isolated_block(const json_t *plugins, const char *path,
                                    char *name, size_t namelen)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n <= 3 || n - 3 >= namelen)
		return NULL;
	memcpy(name, base, n - 3);
	name[n - 3] = '\0';
	const json_t *block = json_object_get(plugins, name);
	const char *iso = json_string_value(json_object_get(block, "isolation"));
	return iso && strcmp(iso, "process") == 0 ? block : NULL;
}

int isolation_skip(const json_t *plugins, const char *path)
{
	char name[256];
	return isolated_block(plugins, path, name, sizeof name) != NULL;
}

static int executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* mcpd-plugin-run: $MCPD_PLUGIN_RUN, beside this program, in ../bin (the
 * daemon in sbin), else in PATH. */
static char *find_runner(void)
{
	const char *env = getenv("MCPD_PLUGIN_RUN");
	if (env && *env)
		return strdup(env);
	char self[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(path, sizeof path, "%s/mcpd-plugin-run", self);
		if (executable(path))
			return strdup(path);
		snprintf(path, sizeof path, "%s/../bin/mcpd-plugin-run", self);
		if (executable(path))
			return strdup(path);
	}
	return strdup("mcpd-plugin-run");
}

/* The plugin's block as the child gets it: without "isolation". */
static json_t *child_block(const json_t *block)
{
	json_t *copy = json_deep_copy(block);
	json_object_del(copy, "isolation");
	return copy;
}

static json_t *entry(const char *name, const char *path,
                     const json_t *block)
{
	struct file_id id = {0};
	char file[128];
	plugin_file_id(path, &id);
	snprintf(file, sizeof file, "%llu:%llu:%llu:%lld",
	         (unsigned long long)id.dev, (unsigned long long)id.ino,
	         (unsigned long long)id.size, (long long)id.mtime_ns);
	return json_pack("{s:s, s:s, s:s, s:o}", "name", name, "path", path,
	                 "file", file, "config", child_block(block));
}

int isolation_prepare(struct config *c)
{
	json_t *list = json_array();
	const char *name;
	json_t *block;
	json_object_foreach(c->plugins, name, block) {
		const char *iso = json_string_value(json_object_get(block,
		                                                    "isolation"));
		if (!iso || strcmp(iso, "process") != 0)
			continue;
		int found = 0;
		for (int i = 0; i < c->n_plugin_dirs && !found; i++) {
			char path[PATH_MAX];
			snprintf(path, sizeof path, "%s/%s.so", c->plugin_dirs[i],
			         name);
			if (access(path, R_OK) != 0)
				continue;
			found = 1;
			json_array_append_new(list, entry(name, path, block));
		}
		if (!found)
			log_warn("plugin %s is configured with \"isolation\": "
			         "\"process\" but no plugin dir holds %s.so",
			         name, name);
	}
	int n = (int)json_array_size(list);
	if (!n) {
		json_decref(list);
		return 0;
	}
	json_t *bridge = json_object_get(c->plugins, ISOLATION_BRIDGE);
	if (!bridge) {
		bridge = json_object();
		json_object_set_new(c->plugins, ISOLATION_BRIDGE, bridge);
	}
	json_object_set_new(bridge, "isolated", list);
	if (!json_object_get(bridge, "plugin_run")) {
		char *runner = find_runner();
		json_object_set_new(bridge, "plugin_run", json_string(runner));
		free(runner);
	}
	return n;
}
