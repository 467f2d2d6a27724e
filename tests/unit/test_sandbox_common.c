/*
 * The pure parts of plugins/sandbox-common: request validation against a
 * config, path checks, and placing/collecting work-dir files without ever
 * following a symbolic link.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sandbox-common.h"
#include "tap.h"

static int parse(const char *json, struct sbx_config *c, char *err)
{
	struct sbx_request r;
	json_t *in = json_loads(json, 0, NULL);
	int rc = sbx_request_parse(&r, in, c, err, 256);

	sbx_request_clear(&r);
	json_decref(in);
	return rc;
}

static void test_paths(void)
{
	char err[128];
	char *allow[] = {"/opt/data", "/srv", NULL};

	ok(sbx_path_check("a/b.txt", err, sizeof(err)) == 0, "a/b.txt is fine");
	ok(sbx_path_check("/etc/x", err, sizeof(err)) != 0, "absolute refused");
	ok(sbx_path_check("a/../b", err, sizeof(err)) != 0, ".. refused");
	ok(sbx_path_check("..", err, sizeof(err)) != 0, "bare .. refused");
	ok(sbx_path_check("a//b", err, sizeof(err)) != 0, "empty part refused");
	ok(sbx_path_check("./a", err, sizeof(err)) != 0, ". refused");
	ok(sbx_path_allowed("/opt/data", allow), "allow: exact");
	ok(sbx_path_allowed("/opt/data/x/y", allow), "allow: below");
	ok(!sbx_path_allowed("/opt/database", allow), "allow: not a prefix");
	ok(!sbx_path_allowed("/opt", allow), "allow: not above");
	ok(!sbx_path_allowed("/etc", NULL), "allow: empty list");
}

static void test_config(void)
{
	struct sbx_config c;
	char err[256] = "";
	json_t *b;

	b = json_loads("{\"bogus\": 1}", 0, NULL);
	ok(sbx_config_load(&c, b, NULL, err, sizeof(err)) == MCPD_E_INVAL &&
	           strstr(err, "bogus"),
	   "config: unknown key named (%s)", err);
	json_decref(b);
	b = json_loads("{\"pool_size\": 1}", 0, NULL);
	const char *extra[] = {"pool_size", NULL};
	ok(sbx_config_load(&c, b, extra, err, sizeof(err)) == 0,
	   "config: a driver key passes");
	sbx_config_clear(&c);
	json_decref(b);
	b = json_loads("{\"defaults\": {\"pids\": 50}, \"max\": {\"pids\": 10}}",
	               0, NULL);
	ok(sbx_config_load(&c, b, NULL, err, sizeof(err)) == MCPD_E_INVAL &&
	           strstr(err, "pids"),
	   "config: default above max refused (%s)", err);
	json_decref(b);
}

static void test_requests(void)
{
	struct sbx_config c;
	struct sbx_request r;
	char err[256] = "";
	json_t *b = json_loads("{\"max\": {\"wall_ms\": 5000}, "
	                       "\"readonly_allow\": [\"/usr/share\"]}",
	                       0, NULL);
	json_t *in;

	ok(sbx_config_load(&c, b, NULL, err, sizeof(err)) == 0, "config");
	json_decref(b);
	ok(parse("{}", &c, err) == MCPD_E_INVAL && strstr(err, "argv"),
	   "argv required (%s)", err);
	ok(parse("{\"argv\": []}", &c, err) == MCPD_E_INVAL, "empty argv");
	ok(parse("{\"argv\": [\"x\"], \"nope\": 1}", &c, err) ==
	           MCPD_E_INVAL && strstr(err, "nope"),
	   "unknown field named (%s)", err);
	ok(parse("{\"argv\": [\"x\"], \"files\": {\"../x\": \"a\"}}", &c,
	         err) == MCPD_E_INVAL && strstr(err, "files"),
	   "files with .. refused (%s)", err);
	ok(parse("{\"argv\": [\"x\"], \"files\": {\"a\": {\"base64\": "
	         "\"!!\"}}}", &c, err) == MCPD_E_INVAL,
	   "bad base64 refused");
	ok(parse("{\"argv\": [\"x\"], \"env\": {\"A=B\": \"c\"}}", &c, err) ==
	           MCPD_E_INVAL && strstr(err, "env"),
	   "env key with = refused");
	ok(parse("{\"argv\": [\"x\"], \"limits\": {\"pids\": 0}}", &c, err) ==
	           MCPD_E_INVAL && strstr(err, "limits.pids"),
	   "pids 0 refused (%s)", err);
	ok(parse("{\"argv\": [\"x\"], \"readonly_paths\": [\"/etc\"]}", &c,
	         err) == MCPD_E_INVAL && strstr(err, "readonly_allow"),
	   "readonly path outside the allow list refused (%s)", err);
	ok(parse("{\"argv\": [\"x\"], \"readonly_paths\": [\"/usr/share\"]}",
	         &c, err) == 0,
	   "readonly path inside the allow list passes (%s)", err);
	ok(parse("{\"argv\": [\"x\"], \"driver\": \"../x\"}", &c, err) ==
	           MCPD_E_INVAL,
	   "bad driver name refused");

	in = json_loads("{\"argv\": [\"ls\", \"-l\"], \"limits\": {\"wall_ms\":"
	                " 99999}, \"env\": {\"PATH\": \"/p\"}, \"driver\": "
	                "\"sandbox-ns\"}",
	                0, NULL);
	ok(sbx_request_parse(&r, in, &c, err, sizeof(err)) == 0, "parses");
	is_int((int)r.limits.wall_ms, 5000, "wall_ms capped at max");
	is_int((int)r.limits.pids, 64, "pids from the built-in default");
	is_str(r.argv[1], "-l", "argv copied");
	is_str(r.driver, "ns", "driver shortened");
	int path = 0, home = 0;
	for (char **e = r.envp; *e; e++) {
		path += !strcmp(*e, "PATH=/p");
		home += !strcmp(*e, "HOME=/work");
	}
	ok(path == 1 && home == 1, "env: given PATH kept, HOME defaulted");
	sbx_request_clear(&r);
	json_decref(in);
	sbx_config_clear(&c);
}

static void test_files(void)
{
	char tmpl[] = "/tmp/test-sbx-XXXXXX", err[256] = "";
	char *dir = mkdtemp(tmpl);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	json_t *files = json_loads(
		"{\"a/b.txt\": \"hello\", \"run.sh\": {\"content\": \"#!/bin/sh\","
		"\"executable\": true}, \"bin\": {\"base64\": \"AAEC\"}}",
		0, NULL);
	json_t *clash = json_loads("{\"a/b.txt/c\": \"x\"}", 0, NULL);
	json_t *through = json_loads("{\"link/x\": \"x\"}", 0, NULL);
	json_t *got;
	struct stat st;

	ok(sbx_files_place(dfd, files, (uid_t)-1, (gid_t)-1, err,
	                   sizeof(err)) == 0,
	   "files placed (%s)", err);
	ok(fstatat(dfd, "run.sh", &st, 0) == 0 && (st.st_mode & 0111),
	   "executable bit set");
	ok(sbx_files_place(dfd, clash, (uid_t)-1, (gid_t)-1, err,
	                   sizeof(err)) == MCPD_E_INVAL,
	   "a file under a file is the input's fault (%s)", err);
	symlinkat("/etc", dfd, "link");
	ok(sbx_files_place(dfd, through, (uid_t)-1, (gid_t)-1, err,
	                   sizeof(err)) != 0 &&
	           access("/etc/x", F_OK) != 0,
	   "never written through a symlink (%s)", err);
	/* What the "command" did: change one, add one, link out. */
	int fd = openat(dfd, "a/b.txt", O_WRONLY | O_TRUNC);
	ok(fd >= 0 && write(fd, "changed", 7) == 7, "changed a/b.txt");
	close(fd);
	fd = openat(dfd, "new.txt", O_WRONLY | O_CREAT, 0644);
	ok(fd >= 0 && write(fd, "new", 3) == 3, "made new.txt");
	close(fd);
	symlinkat("/etc/passwd", dfd, "passwd");
	got = sbx_files_collect(dfd, files, 1 << 20);
	is_str(json_string_value(json_object_get(got, "a/b.txt")), "changed",
	       "changed file returned");
	is_str(json_string_value(json_object_get(got, "new.txt")), "new",
	       "new file returned");
	ok(!json_object_get(got, "run.sh") && !json_object_get(got, "bin"),
	   "unchanged files left out");
	ok(!json_object_get(got, "passwd") && !json_object_get(got, "link"),
	   "symlinks not followed");
	json_decref(got);
	got = sbx_files_collect(dfd, files, 3);
	ok(json_is_true(json_object_get(json_object_get(got, "a/b.txt"),
	                                "omitted")) ||
	           json_is_true(json_object_get(json_object_get(got, "new.txt"),
	                                        "omitted")),
	   "past the budget a file is listed as omitted");
	json_decref(got);
	close(dfd);
	ok(sbx_workdir_remove(dir) == 0 && access(dir, F_OK) != 0,
	   "work dir removed");
	ok(access("/etc/passwd", F_OK) == 0, "a symlink target survives");
	json_decref(files);
	json_decref(clash);
	json_decref(through);
}

int main(void)
{
	char buf[64];

	test_paths();
	test_config();
	test_requests();
	test_files();
	is_str(sbx_driver_short("sandbox-bwrap", buf, sizeof(buf)), "bwrap",
	       "driver_short strips the prefix");
	is_str(sbx_signal_name(9), "SIGKILL", "signal names");
	done_testing();
	return exit_status();
}
