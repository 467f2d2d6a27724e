/* Daemon configuration (core/config.c). */
#include "config-internal.h"
#include "log-internal.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[512];

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	if (!v) {
		diag("bad test JSON %s: %s", text, e.text);
		abort();
	}
	return v;
}

static int apply(struct config *c, const char *text)
{
	json_t *root = parse(text);
	err[0] = '\0';
	int rc = config_apply_json(c, root, err, sizeof err);
	json_decref(root);
	return rc;
}

/* Applying `text` to a fresh config fails with exactly `want`. */
static void refused(const char *text, const char *want)
{
	struct config c;
	config_init(&c);
	is_int(apply(&c, text), -1, "refused: %s", text);
	is_str(err, want, "  message");
	config_free(&c);
}

/* Applying `text` fails, naming `key` at the start of the message. */
static void refused_naming(const char *text, const char *key)
{
	struct config c;
	char prefix[128];
	config_init(&c);
	snprintf(prefix, sizeof prefix, "config: %s: ", key);
	int rc = apply(&c, text);
	ok(rc == -1 && strncmp(err, prefix, strlen(prefix)) == 0,
	   "refused: %s (%s)", text, err);
	config_free(&c);
}

static void test_defaults(void)
{
	struct config c;
	config_init(&c);
	is_str(c.listen_host, "127.0.0.1", "default listen host");
	is_int(c.listen_port, 8080, "default listen port");
	is_int(c.n_plugin_dirs, 0, "no plugin dirs by default");
	is_str(c.state_dir, "./state", "default state_dir");
	is_int(c.log_level, LOG_INFO, "default log_level");
	is_int(c.workers, 4, "default workers");
	is_int(c.drain_timeout_ms, 10000, "default drain_timeout_ms");
	is_int(c.max_body_bytes, 1048576, "default max_body_bytes");
	is_int(c.max_json_depth, 64, "default max_json_depth");
	is_int(c.queue_limit, 1024, "default queue_limit");
	is_int(c.default_timeout_ms, 60000, "default default_timeout_ms");
	is_int(c.max_timeout_ms, 3600000, "default max_timeout_ms");
	is_int(c.default_concurrency, 4, "default default_concurrency");
	is_int(c.max_retries, 10, "default max_retries");
	is_int(c.retry_base_ms, 200, "default retry_base_ms");
	is_int(c.retry_max_ms, 30000, "default retry_max_ms");
	is_int(c.breaker_failures, 5, "default breaker_failures");
	is_int(c.breaker_cooldown_ms, 30000, "default breaker_cooldown_ms");
	is_int(c.map_size_mb, 1024, "default map_size_mb");
	is_int(c.max_connections, 1024, "default max_connections");
	ok(json_is_object(c.plugins) && json_object_size(c.plugins) == 0,
	   "default plugins is {}");
	config_free(&c);
	config_free(&c);
	ok(c.state_dir == NULL && c.plugins == NULL, "config_free twice is safe");
	config_init(&c);
	is_str(c.state_dir, "./state", "reusable after config_free + init");
	config_free(&c);
	config_free(NULL);
}

static const char *const every_key =
	"{\"listen\":\"0.0.0.0:9090\",\"plugin_dirs\":[\"/a\",\"/b\"],"
	"\"state_dir\":\"/var/lib/mcpd\",\"log_level\":\"debug\","
	"\"workers\":256,\"drain_timeout_ms\":0,\"max_body_bytes\":1024,"
	"\"max_json_depth\":1000,\"queue_limit\":1000000,"
	"\"default_timeout_ms\":86400000,\"max_timeout_ms\":86400000,"
	"\"default_concurrency\":1024,\"max_retries\":0,\"retry_base_ms\":1,"
	"\"retry_max_ms\":1,\"breaker_failures\":1000,"
	"\"breaker_cooldown_ms\":0,\"map_size_mb\":1048576,"
	"\"max_connections\":100000,"
	"\"plugins\":{\"echo\":{\"greeting\":\"hi\"},\"sleep\":{}}}";

static void test_every_key(void)
{
	struct config c;
	config_init(&c);
	is_int(apply(&c, every_key), 0, "every key at a boundary (%s)", err);
	is_str(c.listen_host, "0.0.0.0", "listen host");
	is_int(c.listen_port, 9090, "listen port");
	is_int(c.n_plugin_dirs, 2, "plugin_dirs count");
	is_str(c.plugin_dirs[0], "/a", "plugin_dirs[0]");
	is_str(c.plugin_dirs[1], "/b", "plugin_dirs[1]");
	is_str(c.state_dir, "/var/lib/mcpd", "state_dir");
	is_int(c.log_level, LOG_DEBUG, "log_level");
	is_int(c.workers, 256, "workers");
	is_int(c.drain_timeout_ms, 0, "drain_timeout_ms");
	is_int(c.max_body_bytes, 1024, "max_body_bytes");
	is_int(c.max_json_depth, 1000, "max_json_depth");
	is_int(c.queue_limit, 1000000, "queue_limit");
	is_int(c.default_timeout_ms, 86400000, "default_timeout_ms");
	is_int(c.max_timeout_ms, 86400000, "max_timeout_ms");
	is_int(c.default_concurrency, 1024, "default_concurrency");
	is_int(c.max_retries, 0, "max_retries");
	is_int(c.retry_base_ms, 1, "retry_base_ms");
	is_int(c.retry_max_ms, 1, "retry_max_ms");
	is_int(c.breaker_failures, 1000, "breaker_failures");
	is_int(c.breaker_cooldown_ms, 0, "breaker_cooldown_ms");
	is_int(c.map_size_mb, 1048576, "map_size_mb");
	is_int(c.max_connections, 100000, "max_connections");
	is_str(json_string_value(json_object_get(
	               json_object_get(c.plugins, "echo"), "greeting")),
	       "hi", "plugins block kept");

	is_int(apply(&c, "{\"plugin_dirs\":[\"/c\"],\"plugins\":{}}"), 0,
	       "plugin_dirs and plugins replace");
	is_int(c.n_plugin_dirs, 1, "  one dir left");
	is_str(c.plugin_dirs[0], "/c", "  the new one");
	is_int(json_object_size(c.plugins), 0, "  plugins emptied");
	is_int(apply(&c, "{\"max_body_bytes\":1073741824,\"workers\":1}"), 0,
	       "upper size bound");
	is_int(c.max_body_bytes, 1073741824, "  max_body_bytes 1 GiB");
	is_int(apply(&c, "{}"), 0, "empty object changes nothing");
	is_int(c.workers, 1, "  workers kept");
	config_free(&c);
}

static void test_refusals(void)
{
	refused("{\"foo\":1}", "config: unknown key \"foo\"");
	refused("[1]", "config: must be a JSON object");
	refused("{\"workers\":0}",
	        "config: workers: must be an integer from 1 to 256");
	refused("{\"workers\":\"4\"}",
	        "config: workers: must be an integer from 1 to 256");
	refused("{\"workers\":4.0}",
	        "config: workers: must be an integer from 1 to 256");
	refused("{\"retry_base_ms\":0}",
	        "config: retry_base_ms: must be an integer >= 1");
	refused("{\"max_body_bytes\":1023}",
	        "config: max_body_bytes: must be an integer from 1024 to "
	        "1073741824");
	refused("{\"plugins\":{\"echo\":[]}}",
	        "config: plugins.echo: must be an object");
	refused("{\"plugins\":[]}", "config: plugins: must be an object");
	refused("{\"plugin_dirs\":[\"/a\",7]}",
	        "config: plugin_dirs[1]: must be a non-empty string");
	refused("{\"plugin_dirs\":\"/a\"}",
	        "config: plugin_dirs: must be an array of at most 16 strings");
	refused("{\"log_level\":\"loud\"}",
	        "config: log_level: must be one of \"error\", \"warn\", "
	        "\"info\", \"debug\"");
	refused("{\"state_dir\":\"\"}",
	        "config: state_dir: must be a non-empty string");
	refused("{\"listen\":8080}",
	        "config: listen: must be \"host:port\" or \"[v6addr]:port\"");
	refused("{\"default_timeout_ms\":5000,\"max_timeout_ms\":1000}",
	        "config: default_timeout_ms: must not exceed max_timeout_ms "
	        "(1000)");
	refused("{\"retry_max_ms\":100}",
	        "config: retry_max_ms: must be >= retry_base_ms (200)");

	static const char *const ranges[][3] = {
		{"workers", "0", "257"},
		{"drain_timeout_ms", "-1", "3600001"},
		{"max_body_bytes", "1023", "1073741825"},
		{"max_json_depth", "0", "1001"},
		{"queue_limit", "0", "1000001"},
		{"default_timeout_ms", "0", "86400001"},
		{"max_timeout_ms", "0", "86400001"},
		{"default_concurrency", "0", "1025"},
		{"max_retries", "-1", "101"},
		{"retry_base_ms", "0", "2147483648"},
		{"retry_max_ms", "0", "2147483648"},
		{"breaker_failures", "0", "1001"},
		{"breaker_cooldown_ms", "-1", "2147483648"},
		{"map_size_mb", "0", "1048577"},
		{"max_connections", "0", "100001"},
	};
	char text[128];
	for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
		for (int j = 1; j <= 2; j++) {
			snprintf(text, sizeof text, "{\"%s\":%s}", ranges[i][0],
			         ranges[i][j]);
			refused_naming(text, ranges[i][0]);
		}
		snprintf(text, sizeof text, "{\"%s\":null}", ranges[i][0]);
		refused_naming(text, ranges[i][0]);
	}
	refused_naming("{\"listen\":\"localhost\"}", "listen");
	refused_naming("{\"log_level\":2}", "log_level");
	refused_naming("{\"state_dir\":[]}", "state_dir");
	refused_naming("{\"plugin_dirs\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\","
	               "\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\","
	               "\"15\",\"16\",\"17\"]}", "plugin_dirs");

	struct config c;
	config_init(&c);
	is_int(apply(&c, "{\"default_timeout_ms\":7200000,"
	                 "\"max_timeout_ms\":7200001}"), 0,
	       "relations are checked on the result, not key by key");
	is_int(apply(&c, "{\"max_timeout_ms\":7199999}"), -1,
	       "lowering max under the current default is refused");
	is_int(c.max_timeout_ms, 7200001, "  and changes nothing");
	config_free(&c);
}

static void test_atomic(void)
{
	struct config c;
	config_init(&c);
	config_add_plugin_dir(&c, "/old");
	char *old_dir = c.plugin_dirs[0], *old_state = c.state_dir;
	json_t *old_plugins = c.plugins;

	is_int(apply(&c, "{\"workers\":8,\"state_dir\":\"/x\",\"plugin_dirs\":"
	                 "[\"/a\",\"/b\"],\"listen\":\"[::1]:1\",\"plugins\":"
	                 "{\"p\":{}},\"log_level\":\"error\",\"max_retries\":-1}"),
	       -1, "a bad value late in the object");
	is_str(err, "config: max_retries: must be an integer from 0 to 100",
	       "  names it");
	is_int(c.workers, 4, "  workers unchanged");
	ok(c.state_dir == old_state, "  state_dir untouched");
	is_str(c.state_dir, "./state", "  state_dir value");
	is_int(c.n_plugin_dirs, 1, "  plugin_dirs count unchanged");
	ok(c.plugin_dirs[0] == old_dir, "  plugin_dirs untouched");
	is_str(c.plugin_dirs[0], "/old", "  plugin_dirs value");
	ok(c.plugins == old_plugins && json_object_size(c.plugins) == 0,
	   "  plugins untouched");
	is_str(c.listen_host, "127.0.0.1", "  listen host unchanged");
	is_int(c.log_level, LOG_INFO, "  log_level unchanged");

	json_t *root = parse("{\"plugins\":{\"echo\":{\"n\":1}}}");
	is_int(config_apply_json(&c, root, err, sizeof err), 0, "plugins set");
	json_object_set_new(json_object_get(json_object_get(root, "plugins"),
	                                    "echo"), "n", json_integer(2));
	json_decref(root);
	is_int(json_integer_value(json_object_get(
	               json_object_get(c.plugins, "echo"), "n")), 1,
	       "plugins were deep-copied");
	config_free(&c);
}

static void listen_ok(const char *addr, const char *host, int port)
{
	struct config c;
	config_init(&c);
	int rc = config_set_listen(&c, addr, err, sizeof err);
	is_int(rc, 0, "listen %s (%s)", addr, rc ? err : "ok");
	is_str(c.listen_host, host, "  host");
	is_int(c.listen_port, port, "  port");
	config_free(&c);
}

static void listen_bad(const char *addr, const char *want)
{
	struct config c;
	config_init(&c);
	is_int(config_set_listen(&c, addr, err, sizeof err), -1,
	       "listen %s refused", addr);
	is_str(err, want, "  message");
	ok(strcmp(c.listen_host, "127.0.0.1") == 0 && c.listen_port == 8080,
	   "  config unchanged");
	config_free(&c);
}

static void test_listen(void)
{
	listen_ok("0.0.0.0:0", "0.0.0.0", 0);
	listen_ok("localhost:65535", "localhost", 65535);
	listen_ok("[::1]:9000", "::1", 9000);
	listen_ok("[::]:80", "::", 80);
	listen_ok("[fe80::1%eth0]:8443", "fe80::1%eth0", 8443);
	listen_ok("[::ffff:127.0.0.1]:1", "::ffff:127.0.0.1", 1);

	const char *usage =
		"config: listen: must be \"host:port\" or \"[v6addr]:port\"";
	const char *port = "config: listen: port must be an integer from 0 "
	                   "to 65535";
	listen_bad("localhost", usage);
	listen_bad("::1:80", "config: listen: an IPv6 address needs "
	                     "brackets, e.g. \"[::1]:8080\"");
	listen_bad(":80", "config: listen: host must be a non-empty name or "
	                  "address");
	listen_bad("host:65536", port);
	listen_bad("host:", port);
	listen_bad("host:8a", port);
	listen_bad("host:-1", port);
	listen_bad("host:000080", port);
	listen_bad("[::1]80", usage);
	listen_bad("[::1]", usage);
	listen_bad("[]:80", "config: listen: bad IPv6 address");
	listen_bad("[zz::1]:80", "config: listen: \"zz::1\" is not an IPv6 "
	                         "address");
	listen_bad("[127.0.0.1]:80", "config: listen: \"127.0.0.1\" is not "
	                             "an IPv6 address");
}

static void test_dirs(void)
{
	struct config c;
	config_init(&c);
	char dir[16];
	int added = 0;
	for (int i = 0; i < CONFIG_MAX_PLUGIN_DIRS; i++) {
		snprintf(dir, sizeof dir, "/d%d", i);
		added += config_add_plugin_dir(&c, dir) == 0;
	}
	is_int(added, CONFIG_MAX_PLUGIN_DIRS, "add up to the maximum");
	is_int(config_add_plugin_dir(&c, "/one-more"), -1, "then refused");
	is_str(c.plugin_dirs[15], "/d15", "last dir kept");
	config_clear_plugin_dirs(&c);
	is_int(c.n_plugin_dirs, 0, "cleared");
	is_int(config_add_plugin_dir(&c, "/again"), 0, "add after clear");
	config_set_state_dir(&c, "/srv/state");
	is_str(c.state_dir, "/srv/state", "config_set_state_dir");
	config_free(&c);
}

/* A temporary file holding `text`; its path goes in `path`. */
static int write_temp(char *path, const char *text)
{
	strcpy(path, "/tmp/mcpd-config-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);
	int rc = write(fd, text, n) == (ssize_t)n ? 0 : -1;
	close(fd);
	return rc;
}

static void test_files(void)
{
	struct config c;
	char path[64], want[256];
	config_init(&c);

	write_temp(path, "{\n  \"workers\": 12,\n  \"listen\": \"[::1]:0\"\n}\n");
	is_int(config_load_file(&c, path, err, sizeof err), 0, "load a file");
	is_int(c.workers, 12, "  workers from file");
	is_str(c.listen_host, "::1", "  listen from file");
	unlink(path);

	write_temp(path, "{\n  \"workers\": 12,\n  \"workers\": 13\n}\n");
	is_int(config_load_file(&c, path, err, sizeof err), -1,
	       "duplicate key refused");
	snprintf(want, sizeof want, "config: %s:3:", path);
	ok(strncmp(err, want, strlen(want)) == 0 &&
	   strstr(err, "duplicate") != NULL, "  with file and line (%s)", err);
	unlink(path);

	write_temp(path, "{\n  \"workers\": 12,\n  oops\n}\n");
	is_int(config_load_file(&c, path, err, sizeof err), -1,
	       "syntax error refused");
	snprintf(want, sizeof want, "config: %s:3:", path);
	ok(strncmp(err, want, strlen(want)) == 0, "  FILE:LINE:COL (%s)", err);
	unlink(path);

	write_temp(path, "{\"workers\": 2, \"wrokers\": 3}");
	is_int(config_load_file(&c, path, err, sizeof err), -1,
	       "unknown key in a file");
	is_str(err, "config: unknown key \"wrokers\"", "  names it");
	is_int(c.workers, 12, "  nothing applied");
	unlink(path);

	is_int(config_load_file(&c, "/nonexistent/mcpd.json", err, sizeof err),
	       -1, "missing file");
	is_str(err, "config: /nonexistent/mcpd.json: No such file or directory",
	       "  names the file and why");
	write_temp(path, "");
	is_int(config_load_file(&c, path, err, sizeof err), -1, "empty file");
	snprintf(want, sizeof want, "config: %s:", path);
	ok(strncmp(err, want, strlen(want)) == 0, "  names the file (%s)", err);
	unlink(path);
	config_free(&c);
}

static void test_services(void)
{
	struct config c;
	config_init(&c);
	ok(json_is_object(c.services) && json_object_size(c.services) == 0,
	   "default services is {}");
	is_int(apply(&c, "{\"services\":{\"sandbox\":\"sandbox-ns\"}}"), 0,
	       "services accepted");
	is_str(json_string_value(json_object_get(c.services, "sandbox")),
	       "sandbox-ns", "  kept");
	config_free(&c);
	refused("{\"services\":[]}", "config: services: must be an object");
	refused("{\"services\":{\"sandbox\":1}}",
	        "config: services.sandbox: must be a plugin name");
	refused("{\"services\":{\"sandbox\":\"\"}}",
	        "config: services.sandbox: must be a plugin name");
}

/* A reload keeps what only a restart can change, and says which. */
static void test_restart_keys(void)
{
	struct config cur, next;
	char keys[256];
	config_init(&cur);
	config_init(&next);
	is_int(apply(&next, "{\"listen\":\"127.0.0.1:9\",\"workers\":2,"
	             "\"state_dir\":\"/elsewhere\",\"map_size_mb\":8,"
	             "\"max_connections\":5,\"max_body_bytes\":2048,"
	             "\"queue_limit\":7,\"log_level\":\"debug\"}"), 0,
	       "a next config that changes restart-only keys");
	config_keep_restart_keys(&cur, &next, keys, sizeof keys);
	is_str(keys, "listen,state_dir,workers,map_size_mb,max_connections,"
	       "max_body_bytes", "they are all listed, in order");
	ok(next.listen_port == cur.listen_port &&
	   strcmp(next.listen_host, cur.listen_host) == 0 &&
	   strcmp(next.state_dir, cur.state_dir) == 0 &&
	   next.workers == cur.workers && next.map_size_mb == cur.map_size_mb &&
	   next.max_connections == cur.max_connections &&
	   next.max_body_bytes == cur.max_body_bytes,
	   "and keep their running values");
	ok(next.queue_limit == 7 && next.log_level == LOG_DEBUG,
	   "run-time keys keep their new values");
	config_keep_restart_keys(&cur, &next, keys, sizeof keys);
	is_str(keys, "", "nothing left to report the second time");
	config_free(&cur);
	config_free(&next);
}

/* The command line, as start-up and every reload read it. */
static void test_argv(void)
{
	char path[] = "/tmp/test_config_argvXXXXXX";
	int fd = mkstemp(path);
	const char text[] = "{\"workers\":3,\"plugin_dirs\":[\"/from-file\"]}";
	ok(fd >= 0 && write(fd, text, sizeof text - 1) == (ssize_t)sizeof text - 1,
	   "config file written");
	close(fd);
	for (int round = 0; round < 2; round++) {
		char *argv[] = {"mcpd", "--listen", "127.0.0.1:0", "--config", path,
		                "--plugin-dir", "/a", "--plugin-dir=/b", NULL};
		struct config c;
		config_init(&c);
		err[0] = '\0';
		is_int(config_from_argv(&c, 8, argv, err, sizeof err), 0,
		       "round %d: argv parses (%s)", round, err);
		ok(c.workers == 3 && c.listen_port == 0 && c.n_plugin_dirs == 2 &&
		   strcmp(c.plugin_dirs[0], "/a") == 0 &&
		   strcmp(c.plugin_dirs[1], "/b") == 0,
		   "round %d: file first, then flags (dirs replaced)", round);
		config_free(&c);
	}
	char *bad[] = {"mcpd", "--nope", NULL};
	struct config c;
	config_init(&c);
	is_int(config_from_argv(&c, 2, bad, err, sizeof err), -1,
	       "an unknown flag is refused");
	is_str(err, "unknown or incomplete option --nope (see --help)",
	       "  with a reason");
	config_free(&c);
	char *extra[] = {"mcpd", "stray", NULL};
	config_init(&c);
	is_int(config_from_argv(&c, 2, extra, err, sizeof err), -1,
	       "a stray argument is refused");
	config_free(&c);
	unlink(path);
}

int main(void)
{
	test_defaults();
	test_every_key();
	test_refusals();
	test_atomic();
	test_listen();
	test_dirs();
	test_files();
	test_services();
	test_restart_keys();
	test_argv();
	done_testing();
	return exit_status();
}
