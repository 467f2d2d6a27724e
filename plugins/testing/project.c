/*
 * project.c -- the project a test run works on: files given inline, or a
 * directory the config allows, read in process (no tool runs here) into
 * the sandbox's "files" object.
 */
#include "testing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 32

static char *base64(const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* A relative path without "", "." or ".." components. */
static int path_ok(const char *p)
{
	if (!*p || *p == '/' || strlen(p) > 1024)
		return 0;
	for (const char *c = p;;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (!c[n])
			return 1;
		c += n + 1;
	}
}

json_t *project_files_from_input(const json_t *files, char *err,
                                 size_t errlen)
{
	const char *path;
	json_t *v;
	json_t *out;

	if (!json_is_object(files)) {
		snprintf(err, errlen, "files: must be an object of relative "
		         "path -> content");
		return NULL;
	}
	out = json_object();
	json_object_foreach((json_t *)files, path, v) {
		if (!path_ok(path)) {
			snprintf(err, errlen, "files: \"%s\" is not a relative "
			         "path without \".\", \"..\" or empty parts",
			         path);
			goto bad;
		}
		if (json_is_string(v)) {
			const char *s = json_string_value(v);
			json_object_set_new(
				out, path,
				strncmp(s, "#!", 2)
					? json_string(s)
					: json_pack("{s:s, s:b}", "content", s,
				                    "executable", 1));
			continue;
		}
		json_t *c = json_object_get(v, "content");
		json_t *b = json_object_get(v, "base64");
		json_t *x = json_object_get(v, "executable");
		if (!json_is_object(v) || (!c == !b) ||
		    (c && !json_is_string(c)) || (b && !json_is_string(b)) ||
		    (x && !json_is_boolean(x)) ||
		    json_object_size(v) != 1u + (x != NULL)) {
			snprintf(err, errlen, "files: \"%s\" must be a string or "
			         "an object {\"content\" or \"base64\": string, "
			         "\"executable\"?: boolean}", path);
			goto bad;
		}
		json_object_set_new(out, path, json_deep_copy(v));
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

const char *project_text(const json_t *files, const char *path)
{
	const json_t *v = json_object_get(files, path);

	if (json_is_string(v))
		return json_string_value(v);
	return json_string_value(json_object_get(v, "content"));
}

int project_path_allowed(const json_t *config, const char *path, char *out,
                         size_t outlen, char *err, size_t errlen)
{
	char real[PATH_MAX], allowed[PATH_MAX];
	const json_t *list = json_object_get(config, "allowed_paths");
	size_t i;
	json_t *a;

	if (path[0] != '/') {
		snprintf(err, errlen, "path: \"%s\" is not an absolute path",
		         path);
		return -1;
	}
	if (!realpath(path, real)) {
		snprintf(err, errlen, "path: \"%s\": %s", path, strerror(errno));
		return -1;
	}
	json_array_foreach(list, i, a) {
		const char *s = json_string_value(a);
		if (!s || !realpath(s, allowed))
			continue;
		size_t n = strlen(allowed);
		if (!strcmp(allowed, "/") ||
		    (!strncmp(real, allowed, n) &&
		     (real[n] == '\0' || real[n] == '/'))) {
			snprintf(out, outlen, "%s", real);
			return 0;
		}
	}
	snprintf(err, errlen, "path: \"%s\" is not below a directory this "
	         "plugin's config allows (allowed_paths%s)", path,
	         json_array_size(list) ? "" : " is empty");
	return -1;
}

struct reader {
	const struct project_limits *lim;
	json_t *files;
	long count;
	long long bytes;
	char *err;
	size_t errlen;
};

static int skip_dir(const char *name)
{
	static const char *const skip[] = {".git", ".hg", ".svn",
	                                   "__pycache__", ".pytest_cache",
	                                   ".mcpd-test"};
	for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
		if (!strcmp(name, skip[i]))
			return 1;
	return 0;
}

static int read_file(struct reader *r, int dfd, const char *name,
                     const char *rel, const struct stat *st)
{
	if (++r->count > r->lim->max_files) {
		snprintf(r->err, r->errlen, "path: the directory holds more "
		         "than %ld files (max_files)", r->lim->max_files);
		return -1;
	}
	r->bytes += st->st_size;
	if (r->bytes > r->lim->max_bytes) {
		snprintf(r->err, r->errlen, "path: the directory's files are "
		         "larger than %lld bytes together (max_bytes)",
		         r->lim->max_bytes);
		return -1;
	}
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(r->err, r->errlen, "path: cannot read %s: %s", rel,
		         strerror(errno));
		return -1;
	}
	size_t n = (size_t)st->st_size, got = 0;
	unsigned char *buf = malloc(n + 1);
	while (buf && got < n) {
		ssize_t k = read(fd, buf + got, n - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (!buf) {
		snprintf(r->err, r->errlen, "out of memory");
		return -1;
	}
	buf[got] = '\0';
	json_t *v;
	int exec = (st->st_mode & 0111) != 0;
	json_t *text = memchr(buf, '\0', got)
	                       ? NULL
	                       : json_stringn((const char *)buf, got);
	if (text) {
		v = exec ? json_pack("{s:o, s:b}", "content", text,
		                     "executable", 1)
		         : text;
	} else {
		char *b64 = base64(buf, got);
		v = b64 ? json_pack("{s:s, s:b}", "base64", b64, "executable",
		                    exec)
		        : NULL;
		free(b64);
	}
	free(buf);
	if (!v) {
		snprintf(r->err, r->errlen, "out of memory");
		return -1;
	}
	json_object_set_new(r->files, rel, v);
	return 0;
}

static int read_dir(struct reader *r, int dfd, const char *prefix,
                    int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		close(dfd);
		snprintf(r->err, r->errlen, "path: %s", strerror(errno));
		return -1;
	}
	while (!rc && (e = readdir(d))) {
		struct stat st;
		char rel[4096];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(rel, sizeof rel, "%s%s%s", prefix, *prefix ? "/" : "",
		         e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			rc = read_file(r, dirfd(d), e->d_name, rel, &st);
		} else if (S_ISDIR(st.st_mode) && !skip_dir(e->d_name)) {
			if (depth >= MAX_DEPTH)
				continue;
			int sub = openat(dirfd(d), e->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			                         O_CLOEXEC);
			if (sub >= 0)
				rc = read_dir(r, sub, rel, depth + 1);
		}
	}
	closedir(d);
	return rc;
}

json_t *project_read_dir(const char *dir, const struct project_limits *lim,
                         char *err, size_t errlen)
{
	struct reader r = {lim, json_object(), 0, 0, err, errlen};
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "path: \"%s\": %s", dir, strerror(errno));
		json_decref(r.files);
		return NULL;
	}
	if (read_dir(&r, fd, "", 0) < 0) {
		json_decref(r.files);
		return NULL;
	}
	return r.files;
}
