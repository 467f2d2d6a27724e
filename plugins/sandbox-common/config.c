/*
 * Config blocks and sandbox.exec requests: parsing and validation, so that
 * every driver refuses the same inputs with the same words.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sandbox-common.h"
#include "sandbox-internal.h"

#define MAX_ARGV 4096
#define MAX_FILES 10000

static const struct sbx_limits builtin_def = {
	.wall_ms = 10000,
	.cpu_ms = 10000,
	.memory_bytes = 256LL << 20,
	.pids = 64,
	.output_bytes = 1LL << 20,
	.file_bytes = 16LL << 20,
};

static const struct sbx_limits builtin_max = {
	.wall_ms = 600000,
	.cpu_ms = 600000,
	.memory_bytes = 4LL << 30,
	.pids = 1024,
	.output_bytes = 16LL << 20,
	.file_bytes = 1LL << 30,
};

/* Smallest value each limit accepts. */
static const struct sbx_limits limit_min = {
	.wall_ms = 1,
	.cpu_ms = 1,
	.memory_bytes = 1LL << 20,
	.pids = 1,
	.output_bytes = 0,
	.file_bytes = 0,
};

static const char *const limit_names[] = {
	"wall_ms", "cpu_ms", "memory_bytes", "pids", "output_bytes",
	"file_bytes", NULL,
};

void sbx_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int64_t *sbx_limit_field(struct sbx_limits *l, int i)
{
	int64_t *f[] = {&l->wall_ms, &l->cpu_ms, &l->memory_bytes, &l->pids,
	                &l->output_bytes, &l->file_bytes};

	return f[i];
}

const char *sbx_limit_name(int i)
{
	return limit_names[i];
}

/* An integer, or a real with an integral value (JSON 300.0). */
int sbx_json_int(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		if (d >= -9.0e18 && d <= 9.0e18 && d == (double)(int64_t)d) {
			*out = (int64_t)d;
			return 0;
		}
	}
	return -1;
}

static int read_limits(struct sbx_limits *l, const json_t *obj,
                       const char *where, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		sbx_set_err(err, errlen, "%s: must be an object", where);
		return MCPD_E_INVAL;
	}
	json_object_foreach((json_t *)obj, key, v) {
		int i;
		int64_t n;

		for (i = 0; limit_names[i]; i++)
			if (!strcmp(key, limit_names[i]))
				break;
		if (!limit_names[i]) {
			sbx_set_err(err, errlen, "%s.%s: unknown limit", where,
			            key);
			return MCPD_E_INVAL;
		}
		if (sbx_json_int(v, &n) < 0 ||
		    n < *sbx_limit_field((struct sbx_limits *)&limit_min, i)) {
			sbx_set_err(err, errlen,
			            "%s.%s: must be an integer >= %lld", where,
			            key,
			            (long long)*sbx_limit_field(
				            (struct sbx_limits *)&limit_min, i));
			return MCPD_E_INVAL;
		}
		*sbx_limit_field(l, i) = n;
	}
	return 0;
}

void sbx_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* Canonical form of absolute `path`; NULL with errno when it fails. */
static char *canonical(const char *path)
{
	if (path[0] != '/') {
		errno = EINVAL;
		return NULL;
	}
	return realpath(path, NULL);
}

static int read_allow(struct sbx_config *c, const json_t *v, char *err,
                      size_t errlen)
{
	size_t i, n;

	if (!json_is_array(v)) {
		sbx_set_err(err, errlen, "readonly_allow: must be an array");
		return MCPD_E_INVAL;
	}
	n = json_array_size(v);
	sbx_strv_free(c->readonly_allow);
	c->readonly_allow = calloc(n + 1, sizeof(char *));
	if (!c->readonly_allow)
		return MCPD_E_NOMEM;
	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(v, i));

		if (!s || s[0] != '/') {
			sbx_set_err(err, errlen,
			            "readonly_allow[%zu]: must be an absolute path",
			            i);
			return MCPD_E_INVAL;
		}
		/* A path that does not exist (yet) is kept as written. */
		c->readonly_allow[i] = canonical(s);
		if (!c->readonly_allow[i] && !(c->readonly_allow[i] = strdup(s)))
			return MCPD_E_NOMEM;
	}
	return 0;
}

static int read_string(char **dst, const json_t *v, const char *key,
                       char *err, size_t errlen)
{
	const char *s = json_string_value(v);

	if (!s || !*s) {
		sbx_set_err(err, errlen, "%s: must be a non-empty string", key);
		return MCPD_E_INVAL;
	}
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : MCPD_E_NOMEM;
}

static int read_size(int64_t *dst, const json_t *v, const char *key,
                     int64_t min, char *err, size_t errlen)
{
	int64_t n;

	if (sbx_json_int(v, &n) < 0 || n < min) {
		sbx_set_err(err, errlen, "%s: must be an integer >= %lld", key,
		            (long long)min);
		return MCPD_E_INVAL;
	}
	*dst = n;
	return 0;
}

static int read_key(struct sbx_config *c, const char *key, const json_t *v,
                    char *err, size_t errlen)
{
	int64_t n;
	int rc;

	if (!strcmp(key, "defaults"))
		return read_limits(&c->def, v, "defaults", err, errlen);
	if (!strcmp(key, "max"))
		return read_limits(&c->max, v, "max", err, errlen);
	if (!strcmp(key, "work_dir_bytes"))
		return read_size(&c->work_dir_bytes, v, key, 1 << 20, err,
		                 errlen);
	if (!strcmp(key, "tmp_bytes"))
		return read_size(&c->tmp_bytes, v, key, 1 << 20, err, errlen);
	if (!strcmp(key, "readonly_allow"))
		return read_allow(c, v, err, errlen);
	if (!strcmp(key, "run_dir"))
		return read_string(&c->run_dir, v, key, err, errlen);
	if (!strcmp(key, "cgroup_parent")) {
		rc = read_string(&c->cgroup_parent, v, key, err, errlen);
		if (!rc && (strchr(c->cgroup_parent, '/') ||
		            !strcmp(c->cgroup_parent, ".") ||
		            !strcmp(c->cgroup_parent, ".."))) {
			sbx_set_err(err, errlen, "cgroup_parent: one name, no '/'");
			return MCPD_E_INVAL;
		}
		return rc;
	}
	if (!strcmp(key, "max_concurrency")) {
		rc = read_size(&n, v, key, 1, err, errlen);
		if (!rc)
			c->max_concurrency = n > 1024 ? 1024 : (uint32_t)n;
		return rc;
	}
	if (!strcmp(key, "cgroup")) {
		const char *s = json_string_value(v);
		static const char *const modes[] = {"auto", "v2", "v1", "none"};

		for (int i = 0; s && i < 4; i++)
			if (!strcmp(s, modes[i])) {
				c->cgroup = (enum sbx_cgroup_mode)i;
				return 0;
			}
		sbx_set_err(err, errlen,
		            "cgroup: must be \"auto\", \"v2\", \"v1\" or \"none\"");
		return MCPD_E_INVAL;
	}
	return 1; /* not a common key */
}

int sbx_config_load(struct sbx_config *c, const json_t *block,
                    const char *const *extra_keys, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	c->def = builtin_def;
	c->max = builtin_max;
	c->work_dir_bytes = 128LL << 20;
	c->tmp_bytes = 64LL << 20;
	c->max_concurrency = 4;
	c->cgroup = SBX_CGROUP_AUTO;
	c->run_dir = strdup("/tmp");
	c->cgroup_parent = strdup("mcpd-sandbox");
	c->readonly_allow = calloc(1, sizeof(char *));
	if (!c->run_dir || !c->cgroup_parent || !c->readonly_allow) {
		rc = MCPD_E_NOMEM;
		goto fail;
	}
	if (block && !json_is_object(block)) {
		sbx_set_err(err, errlen, "config block: must be an object");
		rc = MCPD_E_INVAL;
		goto fail;
	}
	json_object_foreach((json_t *)block, key, v) {
		rc = read_key(c, key, v, err, errlen);
		if (rc == 1) {
			int known = 0;

			for (const char *const *k = extra_keys; k && *k; k++)
				known |= !strcmp(*k, key);
			if (!known) {
				sbx_set_err(err, errlen, "%s: unknown key", key);
				rc = MCPD_E_INVAL;
				goto fail;
			}
			rc = 0;
		}
		if (rc)
			goto fail;
	}
	for (int i = 0; limit_names[i]; i++) {
		int64_t *d = sbx_limit_field(&c->def, i);
		int64_t m = *sbx_limit_field(&c->max, i);
		const json_t *given = json_object_get(
			json_object_get(block, "defaults"), limit_names[i]);

		/* A lower max alone pulls the built-in default down. */
		if (*d > m && !given)
			*d = m;
		if (*d > m) {
			sbx_set_err(err, errlen,
			            "defaults.%s: is above max.%s", limit_names[i],
			            limit_names[i]);
			rc = MCPD_E_INVAL;
			goto fail;
		}
	}
	return 0;
fail:
	if (rc == MCPD_E_NOMEM)
		sbx_set_err(err, errlen, "out of memory");
	sbx_config_clear(c);
	return rc;
}

void sbx_config_clear(struct sbx_config *c)
{
	sbx_strv_free(c->readonly_allow);
	free(c->run_dir);
	free(c->cgroup_parent);
	memset(c, 0, sizeof(*c));
}

/* ---- paths ---- */

int sbx_path_check(const char *rel, char *err, size_t errlen)
{
	const char *p = rel, *slash;
	size_t len = strlen(rel);

	if (!len || len > 4096) {
		sbx_set_err(err, errlen, "must be 1 to 4096 bytes");
		return MCPD_E_INVAL;
	}
	if (rel[0] == '/') {
		sbx_set_err(err, errlen, "must be relative");
		return MCPD_E_INVAL;
	}
	for (;;) {
		size_t n;

		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			sbx_set_err(err, errlen,
			            "must not have empty, \".\" or \"..\" "
			            "components");
			return MCPD_E_INVAL;
		}
		if (n > 255) {
			sbx_set_err(err, errlen, "a component is over 255 bytes");
			return MCPD_E_INVAL;
		}
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

int sbx_path_allowed(const char *path, char *const *allow)
{
	for (; allow && *allow; allow++) {
		size_t n = strlen(*allow);

		while (n > 1 && (*allow)[n - 1] == '/')
			n--;
		if (n == 1 && (*allow)[0] == '/')
			return 1;
		if (!strncmp(path, *allow, n) &&
		    (path[n] == '\0' || path[n] == '/'))
			return 1;
	}
	return 0;
}

const char *sbx_driver_short(const char *name, char *buf, size_t len)
{
	size_t n;

	if (!name)
		return NULL;
	if (!strncmp(name, "sandbox-", 8))
		name += 8;
	n = strlen(name);
	if (n == 0 || n > 48 || n + 1 > len)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-'))
			return NULL;
	}
	memcpy(buf, name, n + 1);
	return buf;
}

/* Paths inside the sandbox that a read-only bind must not cover. */
static int reserved_path(const char *p)
{
	static const char *const reserved[] = {"/proc", "/dev", "/work",
	                                       "/tmp", "/etc", NULL};
	char *const *list = (char *const *)reserved;

	if (!strcmp(p, "/"))
		return 1;
	return sbx_path_allowed(p, list);
}

/* ---- requests ---- */

static int has_nul(const json_t *s)
{
	return strlen(json_string_value(s)) != json_string_length(s);
}

static int parse_argv(struct sbx_request *r, const json_t *v, char *err,
                      size_t errlen)
{
	size_t i, n = json_array_size(v);

	if (!json_is_array(v) || n == 0 || n > MAX_ARGV) {
		sbx_set_err(err, errlen,
		            "argv: must be an array of 1 to %d strings", MAX_ARGV);
		return MCPD_E_INVAL;
	}
	if (!(r->argv = calloc(n + 1, sizeof(char *))))
		return MCPD_E_NOMEM;
	for (i = 0; i < n; i++) {
		const json_t *s = json_array_get(v, i);

		if (!json_is_string(s) || has_nul(s) ||
		    (i == 0 && !json_string_length(s))) {
			sbx_set_err(err, errlen,
			            "argv[%zu]: must be a string without NUL%s", i,
			            i == 0 ? ", not empty" : "");
			return MCPD_E_INVAL;
		}
		if (!(r->argv[i] = strdup(json_string_value(s))))
			return MCPD_E_NOMEM;
	}
	return 0;
}

static int env_add(char **envp, size_t *n, const char *k, const char *val)
{
	size_t kl = strlen(k), vl = strlen(val);
	char *s = malloc(kl + vl + 2);

	if (!s)
		return MCPD_E_NOMEM;
	memcpy(s, k, kl);
	s[kl] = '=';
	memcpy(s + kl + 1, val, vl + 1);
	envp[(*n)++] = s;
	return 0;
}

static int parse_env(struct sbx_request *r, const json_t *v, char *err,
                     size_t errlen)
{
	static const char *const defaults[][2] = {
		{"PATH", "/usr/local/bin:/usr/bin:/bin"},
		{"HOME", "/work"},
		{"TMPDIR", "/tmp"},
		{"LANG", "C.UTF-8"},
	};
	const char *key;
	json_t *val;
	size_t n = 0;

	if (v && !json_is_object(v)) {
		sbx_set_err(err, errlen, "env: must be an object of strings");
		return MCPD_E_INVAL;
	}
	r->envp = calloc(json_object_size(v) + 5, sizeof(char *));
	if (!r->envp)
		return MCPD_E_NOMEM;
	json_object_foreach((json_t *)v, key, val) {
		if (!*key || strchr(key, '=')) {
			sbx_set_err(err, errlen,
			            "env: key \"%s\" must be non-empty without '='",
			            key);
			return MCPD_E_INVAL;
		}
		if (!json_is_string(val) || has_nul(val)) {
			sbx_set_err(err, errlen,
			            "env.%s: must be a string without NUL", key);
			return MCPD_E_INVAL;
		}
		if (env_add(r->envp, &n, key, json_string_value(val)))
			return MCPD_E_NOMEM;
	}
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (!json_object_get(v, defaults[i][0]) &&
		    env_add(r->envp, &n, defaults[i][0], defaults[i][1]))
			return MCPD_E_NOMEM;
	return 0;
}

static int parse_files(struct sbx_request *r, const json_t *v, char *err,
                       size_t errlen)
{
	const char *key;
	json_t *val;
	char why[128];

	if (!json_is_object(v) || json_object_size(v) > MAX_FILES) {
		sbx_set_err(err, errlen,
		            "files: must be an object of at most %d paths",
		            MAX_FILES);
		return MCPD_E_INVAL;
	}
	json_object_foreach((json_t *)v, key, val) {
		if (sbx_path_check(key, why, sizeof(why))) {
			sbx_set_err(err, errlen, "files: \"%s\": %s", key, why);
			return MCPD_E_INVAL;
		}
		if (sbx_file_content(val, NULL, NULL, NULL) < 0) {
			sbx_set_err(err, errlen,
			            "files.%s: must be a string or an object with "
			            "\"content\" (string) or \"base64\" (valid "
			            "base64) and optional \"executable\" (boolean)",
			            key);
			return MCPD_E_INVAL;
		}
	}
	r->files = json_incref((json_t *)v);
	return 0;
}

static int parse_readonly(struct sbx_request *r, const json_t *v,
                          const struct sbx_config *c, char *err,
                          size_t errlen)
{
	size_t i, n = json_array_size(v);

	if (!json_is_array(v) || n > 64) {
		sbx_set_err(err, errlen,
		            "readonly_paths: must be an array of at most 64 paths");
		return MCPD_E_INVAL;
	}
	if (!(r->readonly_paths = calloc(n + 1, sizeof(char *))))
		return MCPD_E_NOMEM;
	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(v, i));
		char *canon;

		if (!s || s[0] != '/') {
			sbx_set_err(err, errlen,
			            "readonly_paths[%zu]: must be an absolute path",
			            i);
			return MCPD_E_INVAL;
		}
		if (!(canon = canonical(s))) {
			sbx_set_err(err, errlen, "readonly_paths[%zu]: %s: %s", i,
			            s, strerror(errno));
			return MCPD_E_INVAL;
		}
		r->readonly_paths[i] = canon;
		if (!sbx_path_allowed(canon, c->readonly_allow)) {
			sbx_set_err(err, errlen,
			            "readonly_paths[%zu]: %s is not in this "
			            "driver's readonly_allow list",
			            i, canon);
			return MCPD_E_INVAL;
		}
		if (reserved_path(canon)) {
			sbx_set_err(err, errlen,
			            "readonly_paths[%zu]: %s would cover a path "
			            "the sandbox provides itself",
			            i, canon);
			return MCPD_E_INVAL;
		}
	}
	return 0;
}

static int parse_request_limits(struct sbx_request *r, const json_t *v,
                                const struct sbx_config *c, char *err,
                                size_t errlen)
{
	int rc;

	r->limits = c->def;
	if (v) {
		rc = read_limits(&r->limits, v, "limits", err, errlen);
		if (rc)
			return rc;
	}
	for (int i = 0; limit_names[i]; i++) {
		int64_t *f = sbx_limit_field(&r->limits, i);
		int64_t m = *sbx_limit_field((struct sbx_limits *)&c->max, i);

		if (*f > m)
			*f = m;
	}
	return 0;
}

static int parse_bool(int *dst, const json_t *v, const char *key, char *err,
                      size_t errlen)
{
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		sbx_set_err(err, errlen, "%s: must be a boolean", key);
		return MCPD_E_INVAL;
	}
	*dst = json_is_true(v);
	return 0;
}

static int parse_fields(struct sbx_request *r, const json_t *in,
                        const struct sbx_config *c, char *err, size_t errlen)
{
	static const char *const known[] = {
		"argv", "env", "stdin", "files", "return_files", "limits",
		"network", "readonly_paths", "driver", NULL,
	};
	const char *key;
	json_t *v;
	char buf[64];
	int rc;

	if (!json_is_object(in)) {
		sbx_set_err(err, errlen, "input: must be an object");
		return MCPD_E_INVAL;
	}
	json_object_foreach((json_t *)in, key, v) {
		int i;

		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (!known[i]) {
			sbx_set_err(err, errlen, "%s: unknown field", key);
			return MCPD_E_INVAL;
		}
	}
	if ((v = json_object_get(in, "argv")) == NULL) {
		sbx_set_err(err, errlen, "argv: is required");
		return MCPD_E_INVAL;
	}
	if ((rc = parse_argv(r, v, err, errlen)))
		return rc;
	if ((rc = parse_env(r, json_object_get(in, "env"), err, errlen)))
		return rc;
	if ((v = json_object_get(in, "stdin"))) {
		if (!json_is_string(v)) {
			sbx_set_err(err, errlen, "stdin: must be a string");
			return MCPD_E_INVAL;
		}
		r->stdin_len = json_string_length(v);
		if (!(r->stdin_data = malloc(r->stdin_len + 1)))
			return MCPD_E_NOMEM;
		memcpy(r->stdin_data, json_string_value(v), r->stdin_len + 1);
	}
	if ((v = json_object_get(in, "files")) &&
	    (rc = parse_files(r, v, err, errlen)))
		return rc;
	if ((rc = parse_bool(&r->return_files,
	                     json_object_get(in, "return_files"),
	                     "return_files", err, errlen)))
		return rc;
	if ((rc = parse_request_limits(r, json_object_get(in, "limits"), c,
	                               err, errlen)))
		return rc;
	if ((rc = parse_bool(&r->network, json_object_get(in, "network"),
	                     "network", err, errlen)))
		return rc;
	if ((v = json_object_get(in, "readonly_paths")) &&
	    (rc = parse_readonly(r, v, c, err, errlen)))
		return rc;
	if ((v = json_object_get(in, "driver"))) {
		if (!sbx_driver_short(json_string_value(v), buf, sizeof(buf))) {
			sbx_set_err(err, errlen,
			            "driver: must be a driver name such as \"ns\"");
			return MCPD_E_INVAL;
		}
		if (!(r->driver = strdup(buf)))
			return MCPD_E_NOMEM;
	}
	if (!r->readonly_paths &&
	    !(r->readonly_paths = calloc(1, sizeof(char *))))
		return MCPD_E_NOMEM;
	return 0;
}

int sbx_request_parse(struct sbx_request *r, const json_t *in,
                      const struct sbx_config *c, char *err, size_t errlen)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = parse_fields(r, in, c, err, errlen);
	if (rc) {
		if (rc == MCPD_E_NOMEM)
			sbx_set_err(err, errlen, "out of memory");
		sbx_request_clear(r);
	}
	return rc;
}

void sbx_request_clear(struct sbx_request *r)
{
	sbx_strv_free(r->argv);
	sbx_strv_free(r->envp);
	free(r->stdin_data);
	json_decref(r->files);
	sbx_strv_free(r->readonly_paths);
	free(r->driver);
	memset(r, 0, sizeof(*r));
}
