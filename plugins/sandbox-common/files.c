/*
 * The work dir: placing the request's files and reading back what the
 * command changed. Everything below the work dir may have been written by
 * the sandboxed command, so no symbolic link is ever followed: each path
 * is walked one component at a time with O_NOFOLLOW relative to a
 * directory fd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sandbox-common.h"
#include "sandbox-internal.h"

#define MAX_DEPTH 64
#define MAX_COLLECT 10000

/* ---- base64 ---- */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *sbx_base64_encode(const unsigned char *in, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		unsigned v = in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0);

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int sbx_base64_decode(const char *in, size_t inlen, unsigned char *out,
                      size_t *outlen)
{
	unsigned acc = 0;
	int bits = 0;
	size_t n = 0, i;

	while (inlen && in[inlen - 1] == '=')
		inlen--;
	for (i = 0; i < inlen; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (out)
				out[n] = (unsigned char)(acc >> bits);
			n++;
		}
	}
	if (bits >= 6) /* a lone trailing character */
		return -1;
	*outlen = n;
	return 0;
}

int sbx_file_content(const json_t *v, char **data, size_t *len, int *exec)
{
	const json_t *c = v, *b = NULL, *x = NULL;
	const char *key;
	json_t *val;
	size_t n;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, val)
			if (strcmp(key, "content") && strcmp(key, "base64") &&
			    strcmp(key, "executable"))
				return -1;
		c = json_object_get(v, "content");
		b = json_object_get(v, "base64");
		x = json_object_get(v, "executable");
		if ((c && b) || (!c && !b) || (x && !json_is_boolean(x)))
			return -1;
	}
	if (c && !json_is_string(c))
		return -1;
	if (b && (!json_is_string(b) ||
	          sbx_base64_decode(json_string_value(b), json_string_length(b),
	                            NULL, &n) < 0))
		return -1;
	if (!data)
		return 0;
	if (exec)
		*exec = json_is_true(x);
	if (c) {
		n = json_string_length(c);
		if (!(*data = malloc(n + 1)))
			return -1;
		memcpy(*data, json_string_value(c), n + 1);
	} else {
		if (!(*data = malloc(n + 1)))
			return -1;
		sbx_base64_decode(json_string_value(b), json_string_length(b),
		                  (unsigned char *)*data, &n);
		(*data)[n] = '\0';
	}
	*len = n;
	return 0;
}

/* ---- work dir ---- */

int sbx_workdir_create(const char *parent, int world, char **path,
                       int *dirfd, char *err, size_t errlen)
{
	size_t n = strlen(parent) + 16;
	char *p = malloc(n);

	if (!p) {
		sbx_set_err(err, errlen, "out of memory");
		return MCPD_E_NOMEM;
	}
	snprintf(p, n, "%s/sbx-XXXXXX", parent);
	if (!mkdtemp(p)) {
		sbx_set_err(err, errlen, "work dir under %s: %s", parent,
		            strerror(errno));
		free(p);
		return MCPD_E_FAILED;
	}
	*dirfd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dirfd < 0 || (world && fchmod(*dirfd, 0755) < 0)) {
		sbx_set_err(err, errlen, "work dir %s: %s", p, strerror(errno));
		if (*dirfd >= 0)
			close(*dirfd);
		rmdir(p);
		free(p);
		return MCPD_E_FAILED;
	}
	*path = p;
	return 0;
}

/* Empty directory fd `dfd` (closed here), depth-limited, no following. */
static int empty_dir(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((e = readdir(d))) {
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			rc = -errno;
			continue;
		}
		/* A directory: make it writable and searchable, then empty it. */
		sub = openat(dirfd(d), e->d_name,
		             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 || depth >= 4096) {
			rc = sub < 0 ? -errno : -ELOOP;
			if (sub >= 0)
				close(sub);
			continue;
		}
		fchmod(sub, 0700);
		empty_dir(sub, depth + 1);
		if (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) < 0)
			rc = -errno;
		rewinddir(d);
	}
	closedir(d);
	return rc;
}

int sbx_workdir_remove(const char *path)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	fchmod(dfd, 0700);
	empty_dir(dfd, 0);
	return rmdir(path) < 0 ? -errno : 0;
}

/* ---- placing files ---- */

static int chown_fd(int fd, uid_t uid, gid_t gid)
{
	if (uid == (uid_t)-1)
		return 0;
	return fchown(fd, uid, gid);
}

/* Open (making it if needed) the parent directory of `rel` below dirfd. */
static int open_parent(int dirfd, char *rel, uid_t uid, gid_t gid,
                       const char **leaf)
{
	int dfd = dup(dirfd);
	char *p = rel, *slash;

	while (dfd >= 0 && (slash = strchr(p, '/'))) {
		int nfd;

		*slash = '\0';
		if (mkdirat(dfd, p, 0755) == 0) {
			nfd = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			                             O_CLOEXEC);
			if (nfd >= 0 && (fchmod(nfd, 0755) < 0 ||
			                 chown_fd(nfd, uid, gid) < 0)) {
				close(nfd);
				nfd = -1;
			}
		} else if (errno == EEXIST) {
			nfd = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			                             O_CLOEXEC);
		} else {
			nfd = -1;
		}
		*slash = '/';
		close(dfd);
		dfd = nfd;
		p = slash + 1;
	}
	*leaf = p;
	return dfd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int place_one(int dirfd, const char *path, const json_t *v,
                     uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char *rel = strdup(path), *data = NULL;
	const char *leaf;
	size_t len;
	int exec = 0, dfd = -1, fd = -1, rc = MCPD_E_FAILED;

	if (!rel || sbx_file_content(v, &data, &len, &exec) < 0) {
		sbx_set_err(err, errlen, "files.%s: out of memory", path);
		free(rel);
		return MCPD_E_NOMEM;
	}
	dfd = open_parent(dirfd, rel, uid, gid, &leaf);
	if (dfd >= 0)
		fd = openat(dfd, leaf,
		            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		            0600);
	if (fd < 0) {
		/* Clashes with another entry (a/b next to a) are the input's. */
		int e = errno;

		rc = (e == EEXIST || e == ENOTDIR || e == ELOOP) ? MCPD_E_INVAL
		                                                 : MCPD_E_FAILED;
		sbx_set_err(err, errlen, "files.%s: %s", path,
		            e == EEXIST ? "clashes with another entry"
		            : e == ENOTDIR || e == ELOOP
		                    ? "a parent is not a directory"
		                    : strerror(e));
		goto out;
	}
	if (write_all(fd, data, len) < 0 ||
	    fchmod(fd, exec ? 0755 : 0644) < 0 || chown_fd(fd, uid, gid) < 0) {
		rc = errno == ENOSPC || errno == EFBIG ? MCPD_E_INVAL
		                                       : MCPD_E_FAILED;
		sbx_set_err(err, errlen, "files.%s: %s", path,
		            errno == ENOSPC ? "the files exceed the work dir's "
		                              "size (work_dir_bytes)"
		                            : strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(data);
	free(rel);
	return rc;
}

int sbx_files_place(int dirfd, const json_t *files, uid_t uid, gid_t gid,
                    char *err, size_t errlen)
{
	const char *path;
	json_t *v;

	json_object_foreach((json_t *)files, path, v) {
		int rc = place_one(dirfd, path, v, uid, gid, err, errlen);

		if (rc)
			return rc;
	}
	return 0;
}

/* ---- collecting files ---- */

struct collect {
	const json_t *given;
	int64_t budget;
	json_t *out;
	int count;
};

/* Same bytes as the request placed at `path`? */
static int unchanged(const struct collect *c, const char *path,
                     const char *buf, size_t len)
{
	const json_t *v = json_object_get(c->given, path);
	char *data;
	size_t n;
	int same;

	if (!v || sbx_file_content(v, &data, &n, NULL) < 0)
		return 0;
	same = n == len && !memcmp(data, buf, len);
	free(data);
	return same;
}

static json_t *file_value(char *buf, size_t len)
{
	json_t *s = memchr(buf, '\0', len) ? NULL : json_stringn(buf, len);
	char *enc;

	if (s)
		return s;
	enc = sbx_base64_encode((unsigned char *)buf, len);
	s = enc ? json_pack("{ss}", "base64", enc) : NULL;
	free(enc);
	return s;
}

static void collect_file(struct collect *c, int dfd, const char *name,
                         const char *path)
{
	int fd = openat(dfd, name,
	                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	json_t *v = NULL;

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	if (st.st_size > c->budget) {
		/* Too big to return; still say it changed unless it is the same
		 * size as what was given (then it is most likely unchanged). */
		const json_t *g = json_object_get(c->given, path);
		char *data;
		size_t n;

		if (g && sbx_file_content(g, &data, &n, NULL) == 0) {
			free(data);
			if ((int64_t)n == st.st_size)
				goto out;
		}
		v = json_pack("{sIsb}", "size", (json_int_t)st.st_size,
		              "omitted", 1);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (unchanged(c, path, buf, len))
		goto out;
	c->budget -= (int64_t)len;
	v = file_value(buf, len);
out:
	if (v && json_object_set_new(c->out, path, v) == 0)
		c->count++;
	free(buf);
	close(fd);
}

static void collect_dir(struct collect *c, int dfd, char *path, size_t plen,
                        int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (!d) {
		close(dfd);
		return;
	}
	while ((e = readdir(d)) && c->count < MAX_COLLECT) {
		struct stat st;
		size_t n = strlen(e->d_name);

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (plen + n + 2 > 4096)
			continue;
		if (plen)
			path[plen] = '/';
		memcpy(path + plen + (plen ? 1 : 0), e->d_name, n + 1);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			goto next;
		if (S_ISREG(st.st_mode)) {
			collect_file(c, dirfd(d), e->d_name, path);
		} else if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
			int sub = openat(dirfd(d), e->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			                         O_CLOEXEC);

			if (sub >= 0)
				collect_dir(c, sub, path,
				            plen + n + (plen ? 1 : 0), depth + 1);
		}
next:
		path[plen] = '\0';
	}
	closedir(d);
}

json_t *sbx_files_collect(int dirfd, const json_t *given, int64_t budget)
{
	struct collect c = {given, budget, json_object(), 0};
	char path[4096] = "";
	int dfd;

	if (!c.out)
		return NULL;
	dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		collect_dir(&c, dfd, path, 0, 0);
	return c.out;
}
