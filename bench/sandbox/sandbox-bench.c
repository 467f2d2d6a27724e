/*
 * sandbox-bench: start-to-exit latency of /bin/true through the sandbox
 * drivers, side by side with plain fork/exec, in one run.
 *
 *	sandbox-bench --plugins DIR [--n N] [--rounds R] [--pool N]
 *
 * Each driver plugin is dlopen'ed (from a private copy, so one .so can be
 * loaded twice with two configs) and initialised with a minimal host
 * table; its "sandbox" vtable's exec() is then called directly with
 * {"argv": ["/bin/true"]}. What one call measures is everything a caller
 * waits for: request parsing, work dir, cgroup, namespaces, exec, wait,
 * collection and cleanup. Variants: plain fork+execve+waitpid (the
 * baseline), sandbox-ns cold (pool_size 0), sandbox-ns pre-warmed
 * (pool_size N), sandbox-bwrap. The N calls per variant come in R
 * interleaved rounds so that a disturbance of the machine falls on all
 * variants alike. Prints n, p50, p99, mean (ms) and p50/p99 relative to
 * fork/exec. A variant whose plugin is missing or refuses to load is
 * listed as such. Every call must exit 0; any other outcome stops the run.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <mcpd/plugin.h>
#include <mcpd/sandbox.h>

struct variant {
	const char *label;
	const char *plugin; /* NULL: fork/exec */
	const char *config; /* the plugin's config block */
	void *dl;
	json_t *cfg;
	const struct mcpd_plugin_desc *desc;
	const struct mcpd_sandbox *sb;
	char copy[256];
	char why[600]; /* not measured because */
	double *ms;
	size_t n;
};

/* ---- a minimal host: the plugin being initialised is `cur` ---- */

static struct variant *cur;

static const char *h_strerror(int err)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "mcpd error %d", err);
	return buf;
}

static void h_log(struct mcpd_plugin *self, int level, const char *fmt, ...)
{
	va_list ap;

	(void)self;
	if (level > MCPD_LOG_WARN)
		return;
	fprintf(stderr, "[%s] ", cur ? cur->label : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int h_capability_add(struct mcpd_plugin *self,
                            const struct mcpd_capability_def *def)
{
	(void)self;
	(void)def;
	return 0;
}

static const json_t *h_config(struct mcpd_plugin *self)
{
	(void)self;
	return cur->cfg;
}

static int h_task_cancelled(struct mcpd_task *task)
{
	(void)task;
	return 0;
}

static int h_task_progress(struct mcpd_task *task, double done, double total,
                           const char *message)
{
	(void)task;
	(void)done;
	(void)total;
	(void)message;
	return 0;
}

static int h_service_provide(struct mcpd_plugin *self, const char *iface,
                             const void *vtable)
{
	(void)self;
	if (strcmp(iface, MCPD_SANDBOX_IFACE) == 0)
		cur->sb = vtable;
	return 0;
}

static int h_service_acquire(struct mcpd_plugin *self, const char *iface,
                             uint16_t major, const char *provider,
                             const void **vtable, struct mcpd_service **ref)
{
	(void)self;
	(void)iface;
	(void)major;
	(void)provider;
	(void)vtable;
	(void)ref;
	return MCPD_E_NOTFOUND;
}

static void h_service_release(struct mcpd_service *ref)
{
	(void)ref;
}

static const struct mcpd_host host = {
	.size = sizeof(struct mcpd_host),
	.abi_major = MCPD_ABI_MAJOR,
	.abi_minor = MCPD_ABI_MINOR,
	.strerror = h_strerror,
	.log = h_log,
	.capability_add = h_capability_add,
	.config = h_config,
	.task_progress = h_task_progress,
	.task_cancelled = h_task_cancelled,
	.service_provide = h_service_provide,
	.service_acquire = h_service_acquire,
	.service_release = h_service_release,
};

/* ---- loading ---- */

static int copy_file(const char *from, const char *to)
{
	struct stat st;
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;

	if (in < 0 || fstat(in, &st) < 0)
		goto done;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	if (out < 0)
		goto done;
	for (off_t off = 0; off < st.st_size;)
		if (sendfile(out, in, &off, (size_t)(st.st_size - off)) <= 0)
			goto done;
	rc = 0;
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static void load(struct variant *v, const char *dir, const char *tmp, int i)
{
	const struct mcpd_plugin_desc *(*sym)(void);
	char path[512];
	json_error_t je;

	snprintf(path, sizeof(path), "%s/%s.so", dir, v->plugin);
	snprintf(v->copy, sizeof(v->copy), "%s/%d-%s.so", tmp, i, v->plugin);
	if (access(path, R_OK) < 0 || copy_file(path, v->copy) < 0) {
		snprintf(v->why, sizeof(v->why), "%s: %s", path, strerror(errno));
		return;
	}
	v->cfg = json_loads(v->config, 0, &je);
	v->dl = dlopen(v->copy, RTLD_NOW | RTLD_LOCAL);
	if (!v->dl) {
		snprintf(v->why, sizeof(v->why), "dlopen: %s", dlerror());
		return;
	}
	*(void **)&sym = dlsym(v->dl, MCPD_PLUGIN_SYMBOL);
	v->desc = sym ? sym() : NULL;
	cur = v;
	if (!v->desc || v->desc->init(&host, (struct mcpd_plugin *)v) != 0 ||
	    !v->sb) {
		snprintf(v->why, sizeof(v->why), "init failed or no sandbox "
		         "service (see above)");
		v->desc = NULL;
	}
	cur = NULL;
}

/* ---- one start-to-exit ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fork_exec(void)
{
	static char *const argv[] = {"/bin/true", NULL};
	static char *const envp[] = {NULL};
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		execve(argv[0], argv, envp);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int sandboxed(struct variant *v, const json_t *req)
{
	json_t *res = NULL;
	char err[256] = "";
	int rc = v->sb->exec(v->sb->impl, NULL, req, &res, err, sizeof(err));

	if (rc != 0 || !json_is_integer(json_object_get(res, "exit_code")) ||
	    json_integer_value(json_object_get(res, "exit_code")) != 0) {
		char *txt = res ? json_dumps(res, JSON_COMPACT) : NULL;

		fprintf(stderr, "%s: exec rc %d %s %s\n", v->label, rc, err,
		        txt ? txt : "");
		free(txt);
		json_decref(res);
		return -1;
	}
	json_decref(res);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const struct variant *v, double p)
{
	size_t i = (size_t)(p * (double)(v->n - 1) + 0.5);

	return v->ms[i];
}

static void usage(void)
{
	fprintf(stderr, "usage: sandbox-bench --plugins DIR [--n N] "
	                "[--rounds R] [--pool N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	long n = 200, rounds = 5, pool = 4;
	char tmp[] = "/tmp/sandbox-bench-XXXXXX", ns_pool[128];
	json_t *req = json_pack("{s:[s]}", "argv", "/bin/true");
	struct variant vs[] = {
		{.label = "fork/exec"},
		{.label = "sandbox-ns cold", .plugin = "sandbox-ns",
		 .config = "{\"pool_size\": 0}"},
		{.label = "sandbox-ns pre-warmed", .plugin = "sandbox-ns",
		 .config = ns_pool},
		{.label = "sandbox-bwrap", .plugin = "sandbox-bwrap",
		 .config = "{}"},
	};
	const size_t nv = sizeof(vs) / sizeof(*vs);

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--plugins") == 0)
			dir = argv[++i];
		else if (strcmp(argv[i], "--n") == 0)
			n = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--pool") == 0)
			pool = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	if (!dir || n < 1 || rounds < 1 || rounds > n || pool < 1)
		usage();
	snprintf(ns_pool, sizeof(ns_pool), "{\"pool_size\": %ld}", pool);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 2;
	}
	for (size_t i = 0; i < nv; i++) {
		vs[i].ms = calloc((size_t)n, sizeof(double));
		if (vs[i].plugin)
			load(&vs[i], dir, tmp, (int)i);
	}
	/* one unmeasured call each: page cache, cgroup parents, pool fill */
	for (size_t i = 0; i < nv; i++)
		if (!vs[i].plugin ? fork_exec() : vs[i].desc &&
		    sandboxed(&vs[i], req))
			return 1;
	sleep(1);
	for (long r = 0; r < rounds; r++) {
		long per = n / rounds + (r < n % rounds);

		for (size_t k = 0; k < nv; k++) {
			struct variant *v = &vs[(k + (size_t)r) % nv];

			if (v->plugin && !v->desc)
				continue;
			for (long j = 0; j < per; j++) {
				double t0 = now_ms();
				int rc = v->plugin ? sandboxed(v, req)
				                   : fork_exec();

				if (rc)
					return 1;
				v->ms[v->n++] = now_ms() - t0;
			}
		}
	}
	qsort(vs[0].ms, vs[0].n, sizeof(double), cmp);
	printf("start-to-exit latency of /bin/true, %ld calls per variant in "
	       "%ld interleaved rounds (pre-warmed pool: %ld)\n\n", n, rounds,
	       pool);
	printf("%-22s %6s %9s %9s %9s %10s %10s\n", "variant", "n", "p50 ms",
	       "p99 ms", "mean ms", "p50 ratio", "p99 ratio");
	for (size_t i = 0; i < nv; i++) {
		struct variant *v = &vs[i];
		double sum = 0;

		if (!v->n) {
			printf("%-22s not measured: %s\n", v->label, v->why);
			continue;
		}
		qsort(v->ms, v->n, sizeof(double), cmp);
		for (size_t j = 0; j < v->n; j++)
			sum += v->ms[j];
		printf("%-22s %6zu %9.3f %9.3f %9.3f %9.1fx %9.1fx\n", v->label,
		       v->n, pct(v, 0.5), pct(v, 0.99), sum / (double)v->n,
		       pct(v, 0.5) / pct(&vs[0], 0.5),
		       pct(v, 0.99) / pct(&vs[0], 0.99));
	}
	for (size_t i = 0; i < nv; i++) {
		if (vs[i].desc && vs[i].desc->fini) {
			cur = &vs[i];
			vs[i].desc->fini((struct mcpd_plugin *)&vs[i]);
		}
		if (vs[i].copy[0])
			unlink(vs[i].copy);
		json_decref(vs[i].cfg);
		free(vs[i].ms);
	}
	rmdir(tmp);
	json_decref(req);
	return 0;
}
