/*
 * sandbox-bwrap: the "sandbox" service and the sandbox.exec capability on
 * bubblewrap, for hosts that standardise on it.
 *
 * One run: a scratch dir under run_dir holding the work dir (a size-capped
 * tmpfs when the daemon is root), a cgroup, then a child that applies the
 * rlimits, becomes a dedicated unprivileged uid (when the daemon is root)
 * and execs bwrap with every namespace unshared, a read-only root of /usr,
 * private /proc, minimal /dev, a size-capped /tmp, the work dir at /work,
 * no capabilities, a cleared environment and the seccomp filter of
 * seccomp.c. Inside, bwrap starts the embedded init shim (bwrap-init.c),
 * which runs the command and reports how it ended. Killing bwrap (it runs
 * with --die-with-parent, so its pid 1 follows) and the cgroup ends the
 * whole tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <mcpd/plugin.h>
#include <mcpd/sandbox.h>
#include "sandbox-common.h"
#include "bwrap-internal.h"

/* bwrap's own processes in the tree: the outer bwrap, its pid 1, the shim. */
#define SBW_OWN_PIDS 3
#define SBW_INIT_DEST "/.mcpd-init"

extern const unsigned char sbw_init_start[], sbw_init_end[];

struct sbw {
	struct sbx_driver drv;
	char *bwrap;
	uint32_t uid_base, uid_count;
	struct sbw_bpf bpf[2]; /* [network] */
	int init_memfd;        /* the shim, sealed */
	pthread_mutex_t lock;  /* guards uid_used */
	unsigned char *uid_used;
	uint32_t uid_next;
};

static struct sbw g;

static const char *const extra_keys[] = {"bwrap", "uid_base", "uid_count",
                                         NULL};

void sbw_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- dedicated uids ---- */

static int uid_take(uint32_t *uid)
{
	int rc = -1;

	pthread_mutex_lock(&g.lock);
	for (uint32_t i = 0; i < g.uid_count; i++) {
		uint32_t slot = (g.uid_next + i) % g.uid_count;

		if (!g.uid_used[slot]) {
			g.uid_used[slot] = 1;
			g.uid_next = slot + 1;
			*uid = g.uid_base + slot;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

static void uid_give(uint32_t uid)
{
	pthread_mutex_lock(&g.lock);
	g.uid_used[uid - g.uid_base] = 0;
	pthread_mutex_unlock(&g.lock);
}

/* ---- argv ---- */

struct argv {
	char **v;
	size_t n, cap;
	int oom;
};

static void arg(struct argv *a, const char *s)
{
	if (a->oom)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v) {
			a->oom = 1;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n] = strdup(s);
	if (!a->v[a->n]) {
		a->oom = 1;
		return;
	}
	a->v[++a->n] = NULL;
}

static void argf(struct argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void argf(struct argv *a, const char *fmt, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	arg(a, buf);
}

static void argv_free(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

/* /bin, /lib... are symlinks into /usr on a merged-/usr system. */
static void bind_top(struct argv *a, const char *top)
{
	char target[PATH_MAX];
	ssize_t n = readlink(top, target, sizeof(target) - 1);
	struct stat st;

	if (n > 0) {
		target[n] = '\0';
		arg(a, "--symlink");
		arg(a, target);
		arg(a, top);
	} else if (stat(top, &st) == 0 && S_ISDIR(st.st_mode)) {
		arg(a, "--ro-bind");
		arg(a, top);
		arg(a, top);
	}
}

struct run {
	const struct sbx_request *req;
	struct sbx_limits lim; /* req limits plus bwrap's own processes */
	int dedicated;         /* running as uid */
	uint32_t uid;
	char *top;      /* the scratch dir */
	char work[PATH_MAX];
	int work_fd;
	int mounted;    /* work is our tmpfs */
	struct sbx_pipes pipes;
	int bpf_fd, init_fd, status[2], sync[2];
	pid_t pid;
	int pidfd;
	struct rusage ru;
	int shim_started; /* the shim said "R": bwrap set the sandbox up */
	struct sbx_cgroup *cg;
	struct sbx_rlimits rl;
	struct argv argv;
	char **envp;
};

static int build_argv(struct run *r)
{
	const struct sbx_request *req = r->req;
	struct argv *a = &r->argv;
	static const char *const tops[] = {"/bin", "/sbin", "/lib", "/lib64",
	                                   "/lib32", "/libx32", NULL};

	arg(a, g.bwrap);
	arg(a, "--unshare-all");
	if (r->dedicated || geteuid() != 0) {
		/* unprivileged bwrap: a user namespace, and none nested in it */
		arg(a, "--unshare-user");
		arg(a, "--disable-userns");
	}
	if (req->network)
		arg(a, "--share-net");
	arg(a, "--die-with-parent");
	arg(a, "--new-session");
	arg(a, "--cap-drop");
	arg(a, "ALL");
	arg(a, "--hostname");
	arg(a, "sandbox");
	arg(a, "--clearenv");
	for (char **e = req->envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char key[256];

		if (!eq || (size_t)(eq - *e) >= sizeof(key))
			continue;
		memcpy(key, *e, (size_t)(eq - *e));
		key[eq - *e] = '\0';
		arg(a, "--setenv");
		arg(a, key);
		arg(a, eq + 1);
	}
	arg(a, "--ro-bind");
	arg(a, "/usr");
	arg(a, "/usr");
	for (int i = 0; tops[i]; i++)
		bind_top(a, tops[i]);
	/* What programs under /usr expect of /etc, and nothing private. */
	arg(a, "--ro-bind-try");
	arg(a, "/etc/alternatives");
	arg(a, "/etc/alternatives");
	arg(a, "--ro-bind-try");
	arg(a, "/etc/ld.so.cache");
	arg(a, "/etc/ld.so.cache");
	arg(a, "--proc");
	arg(a, "/proc");
	arg(a, "--dev");
	arg(a, "/dev");
	if (g.drv.cfg.tmp_bytes > 0) {
		arg(a, "--size");
		argf(a, "%" PRId64, g.drv.cfg.tmp_bytes);
	}
	arg(a, "--tmpfs");
	arg(a, "/tmp");
	arg(a, "--bind");
	arg(a, r->work);
	arg(a, "/work");
	for (char **p = req->readonly_paths; p && *p; p++) {
		arg(a, "--ro-bind");
		arg(a, *p);
		arg(a, *p);
	}
	arg(a, "--perms");
	arg(a, "0555");
	arg(a, "--file");
	argf(a, "%d", r->init_fd);
	arg(a, SBW_INIT_DEST);
	arg(a, "--remount-ro");
	arg(a, "/");
	arg(a, "--chdir");
	arg(a, "/work");
	arg(a, "--seccomp");
	argf(a, "%d", r->bpf_fd);
	arg(a, "--");
	arg(a, SBW_INIT_DEST);
	argf(a, "%d", r->status[1]);
	for (char **v = req->argv; *v; v++)
		arg(a, *v);
	return a->oom ? MCPD_E_NOMEM : 0;
}

/* ---- the work dir ---- */

static int work_prepare(struct run *r, json_t *enforced, char *err,
                        size_t errlen)
{
	const struct sbx_config *c = &g.drv.cfg;
	int top_fd = -1, rc;

	rc = sbx_workdir_create(c->run_dir, 1, &r->top, &top_fd, err, errlen);
	if (rc)
		return rc;
	close(top_fd);
	snprintf(r->work, sizeof(r->work), "%s/work", r->top);
	if (mkdir(r->work, 0700) < 0) {
		sbw_err(err, errlen, "mkdir %s: %s", r->work, strerror(errno));
		return MCPD_E_FAILED;
	}
	if (geteuid() == 0 && c->work_dir_bytes > 0) {
		char opts[128];

		snprintf(opts, sizeof(opts), "size=%" PRId64 ",mode=0700,uid=%u,gid=%u",
		         c->work_dir_bytes, r->dedicated ? r->uid : 0,
		         r->dedicated ? r->uid : 0);
		if (mount("mcpd-sandbox", r->work, "tmpfs",
		          MS_NOSUID | MS_NODEV, opts) == 0) {
			r->mounted = 1;
			json_object_set_new(enforced, "work_dir_bytes",
			                    json_integer(c->work_dir_bytes));
		}
	}
	if (!r->mounted) {
		json_object_set_new(enforced, "work_dir_bytes", json_null());
		sbx_enforced_missing(enforced, "work dir size not capped (%s)",
		                     geteuid() == 0 ? "tmpfs mount failed"
		                                    : "needs root");
	}
	r->work_fd = open(r->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->work_fd < 0 ||
	    (r->dedicated && fchown(r->work_fd, r->uid, r->uid) < 0)) {
		sbw_err(err, errlen, "work dir %s: %s", r->work, strerror(errno));
		return MCPD_E_FAILED;
	}
	if (r->req->files)
		return sbx_files_place(r->work_fd, r->req->files,
		                       r->dedicated ? r->uid : (uid_t)-1,
		                       r->dedicated ? r->uid : (gid_t)-1, err,
		                       errlen);
	return 0;
}

static void work_remove(struct run *r)
{
	if (r->work_fd >= 0)
		close(r->work_fd);
	if (r->mounted)
		umount2(r->work, MNT_DETACH);
	if (r->top)
		sbx_workdir_remove(r->top);
	free(r->top);
}

/* ---- the child ---- */

static void child_fail(int fd, const char *what)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "sandbox-bwrap: %s: %s\n", what,
	                 strerror(errno));

	if (n > 0 && write(fd, buf, (size_t)n) < 0)
		_exit(126);
	_exit(126);
}

/* After fork: only system calls from here on. */
static void child(struct run *r)
{
	int keep[3] = {r->bpf_fd, r->init_fd, r->status[1]};
	int errfd = r->pipes.err[1];
	char go;

	if (sbx_rlimits_apply(&r->rl) < 0)
		child_fail(errfd, "setrlimit");
	if (r->dedicated &&
	    (setgroups(0, NULL) < 0 || setresgid(r->uid, r->uid, r->uid) < 0 ||
	     setresuid(r->uid, r->uid, r->uid) < 0))
		child_fail(errfd, "dropping to the sandbox uid");
	/* Wait until the parent has put us in the cgroup. */
	close(r->sync[1]);
	if (read(r->sync[0], &go, 1) != 1)
		_exit(126);
	if (sbx_pipes_child_setup(&r->pipes, keep, 3) < 0)
		child_fail(2, "fd setup");
	for (int i = 0; i < 3; i++)
		if (fcntl(keep[i], F_SETFD, 0) < 0)
			child_fail(2, "fcntl");
	execve(g.bwrap, r->argv.v, r->envp);
	child_fail(2, g.bwrap);
}

/* ---- watching ---- */

static int on_event(void *ctx, int *wstatus)
{
	struct run *r = ctx;
	char line[32];
	ssize_t n;
	pid_t p;
	int st, v;

	p = wait4(r->pid, &st, WNOHANG, &r->ru);
	if (p == 0)
		return 0;
	if (p < 0)
		return -1;
	r->pid = -1;
	*wstatus = st;
	/* The shim's report beats bwrap's 128+N for a signal. */
	n = read(r->status[0], line, sizeof(line) - 1);
	if (n <= 0)
		return 1;
	line[n] = '\0';
	r->shim_started = line[0] == 'R';
	if (sscanf(line, "R\nS %d", &v) == 1)
		*wstatus = v & 0x7f;
	else if (sscanf(line, "R\nE %d", &v) == 1)
		*wstatus = (v & 0xff) << 8;
	return 1;
}

static void kill_tree(void *ctx)
{
	struct run *r = ctx;

	if (r->pid > 0)
		kill(r->pid, SIGKILL);
	if (r->cg)
		sbx_cgroup_kill(r->cg);
}

/* ---- one run ---- */

static json_t *enforced_new(struct run *r)
{
	const struct sbx_request *req = r->req;
	json_t *e = sbx_enforced_new(1, req->network, &req->limits);
	static const char *const ns[] = {"user", "pid", "mount", "ipc", "uts",
	                                 "cgroup", NULL};

	if (!e)
		return NULL;
	for (int i = 0; ns[i]; i++)
		sbx_enforced_add(e, "namespaces", ns[i]);
	if (!req->network)
		sbx_enforced_add(e, "namespaces", "net");
	json_object_set_new(e, "dedicated_uid", json_boolean(r->dedicated));
	if (!r->dedicated)
		sbx_enforced_missing(e, "no dedicated uid: the daemon is not root");
	json_object_set_new(e, "no_new_privs", json_true());
	json_object_set_new(e, "caps_dropped", json_true());
	json_object_set_new(e, "seccomp", json_true());
	json_object_set_new(e, "landlock", json_false());
	json_object_set_new(e, "file", json_string("rlimit"));
	if (g.drv.cfg.tmp_bytes > 0)
		json_object_set_new(e, "tmp_bytes",
		                    json_integer(g.drv.cfg.tmp_bytes));
	return e;
}

static int start(struct run *r, char *err, size_t errlen)
{
	static char *const empty_env[] = {NULL};
	const struct sbw_bpf *bpf = &g.bpf[r->req->network ? 1 : 0];
	char path[64];

	if (sbx_pipes_open(&r->pipes) < 0 || pipe2(r->status, O_CLOEXEC) < 0 ||
	    pipe2(r->sync, O_CLOEXEC) < 0) {
		sbw_err(err, errlen, "pipe: %s", strerror(errno));
		return MCPD_E_FAILED;
	}
	/* The filter through a pipe (it is small), the shim through its own
	 * open file description so runs at once do not share an offset. */
	{
		int bp[2];

		if (pipe2(bp, O_CLOEXEC) < 0) {
			sbw_err(err, errlen, "pipe: %s", strerror(errno));
			return MCPD_E_FAILED;
		}
		r->bpf_fd = bp[0];
		if (write(bp[1], bpf->data, bpf->len) != (ssize_t)bpf->len) {
			close(bp[1]);
			sbw_err(err, errlen, "seccomp filter larger than a pipe");
			return MCPD_E_FAILED;
		}
		close(bp[1]);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", g.init_memfd);
	r->init_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->init_fd < 0) {
		sbw_err(err, errlen, "open init shim: %s", strerror(errno));
		return MCPD_E_FAILED;
	}
	if (build_argv(r))
		return MCPD_E_NOMEM;
	r->envp = (char **)empty_env;
	r->pid = fork();
	if (r->pid < 0) {
		sbw_err(err, errlen, "fork: %s", strerror(errno));
		return MCPD_E_FAILED;
	}
	if (r->pid == 0)
		child(r);
	close(r->sync[0]);
	r->sync[0] = -1;
	sbx_pipes_close_child(&r->pipes);
	close(r->status[1]);
	r->status[1] = -1;
	if (r->cg && sbx_cgroup_attach(r->cg, r->pid) < 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = -1;
		sbw_err(err, errlen, "cgroup attach: %s", strerror(errno));
		return MCPD_E_FAILED;
	}
	r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	fcntl(r->status[0], F_SETFL, O_NONBLOCK);
	if (write(r->sync[1], "g", 1) != 1 || r->pidfd < 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = -1;
		sbw_err(err, errlen, "starting bwrap: %s", strerror(errno));
		return MCPD_E_FAILED;
	}
	close(r->sync[1]);
	r->sync[1] = -1;
	return 0;
}

static void run_clear(struct run *r)
{
	int fds[] = {r->bpf_fd, r->init_fd, r->status[0], r->status[1],
	             r->sync[0], r->sync[1], r->pidfd};

	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
	}
	for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	sbx_pipes_close(&r->pipes);
	sbx_cgroup_free(r->cg);
	work_remove(r);
	argv_free(&r->argv);
	if (r->dedicated)
		uid_give(r->uid);
}

static int bwrap_run(struct sbx_driver *d, struct mcpd_task *caller,
                     const struct sbx_request *req, json_t **result,
                     char *err, size_t errlen)
{
	struct run r = {.req = req, .work_fd = -1, .bpf_fd = -1, .init_fd = -1,
	                .status = {-1, -1}, .sync = {-1, -1}, .pid = -1,
	                .pidfd = -1};
	struct sbx_watch w = SBX_WATCH_INIT;
	json_t *enforced = NULL, *files = NULL;
	int cgmask = 0, rc;
	char name[48];

	*result = NULL;
	r.lim = req->limits;
	r.lim.pids += SBW_OWN_PIDS;
	r.pipes = (struct sbx_pipes){{-1, -1}, {-1, -1}, {-1, -1}};
	if (geteuid() == 0) {
		if (uid_take(&r.uid) < 0) {
			sbw_err(err, errlen, "no free sandbox uid");
			return MCPD_E_FAILED;
		}
		r.dedicated = 1;
	}
	enforced = enforced_new(&r);
	if (!enforced) {
		rc = MCPD_E_NOMEM;
		goto out;
	}
	rc = work_prepare(&r, enforced, err, errlen);
	if (rc)
		goto out;
	snprintf(name, sizeof(name), "bwrap-%d-%s", (int)getpid(),
	         strrchr(r.top, '/') + 1);
	r.cg = sbx_cgroup_new(&d->cfg, name);
	if (r.cg)
		cgmask = sbx_cgroup_limit(r.cg, &r.lim, enforced);
	else
		sbx_enforced_missing(enforced, "no cgroup: limits by rlimit only");
	sbx_rlimits_prepare(&r.rl, &r.lim, cgmask & SBX_CG_MEMORY);
	sbx_enforced_add(enforced, "cpu", "rlimit");
	if (r.dedicated)
		sbx_enforced_add(enforced, "pids", "rlimit");
	if (!(cgmask & SBX_CG_MEMORY))
		sbx_enforced_add(enforced, "memory", "rlimit");
	rc = start(&r, err, errlen);
	if (rc)
		goto out;

	w.host = d->host;
	w.caller = caller;
	w.req = req;
	w.stdin_fd = r.pipes.in[1];
	w.stdout_fd = r.pipes.out[0];
	w.stderr_fd = r.pipes.err[0];
	r.pipes.in[1] = r.pipes.out[0] = r.pipes.err[0] = -1;
	w.event_fd = r.pidfd;
	w.on_event = on_event;
	w.kill_tree = kill_tree;
	w.ctx = &r;
	w.cg = r.cg;
	rc = sbx_watch_run(&w, err, errlen);
	kill_tree(&r); /* what the command left behind */
	if (rc < 0) {
		rc = MCPD_E_FAILED;
		goto out;
	}
	if (w.cancelled) {
		sbw_err(err, errlen, "cancelled");
		rc = MCPD_E_CANCELLED;
		goto out;
	}
	if (!r.shim_started && !w.killed_by) {
		sbw_err(err, errlen, "bwrap failed: %.*s", (int)w.err.len,
		        w.err.buf ? w.err.buf : "");
		rc = MCPD_E_FAILED;
		goto out;
	}
	if (req->return_files)
		files = sbx_files_collect(r.work_fd, req->files,
		                          req->limits.output_bytes);
	*result = sbx_result_build(
		&w, "bwrap",
		(int64_t)(r.ru.ru_utime.tv_sec + r.ru.ru_stime.tv_sec) * 1000 +
			(r.ru.ru_utime.tv_usec + r.ru.ru_stime.tv_usec) / 1000,
		r.cg ? -1 : (int64_t)r.ru.ru_maxrss * 1024, files, enforced);
	enforced = NULL;
	rc = *result ? 0 : MCPD_E_NOMEM;
out:
	sbx_watch_clear(&w);
	json_decref(enforced);
	run_clear(&r);
	return rc;
}

/* ---- plugin ---- */

static int config_u32(const json_t *block, const char *key, uint32_t def,
                      uint32_t *out)
{
	const json_t *v = json_object_get(block, key);

	*out = def;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > UINT32_MAX - 65536)
		return -1;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int init_shim(char *err, size_t errlen)
{
	size_t len = (size_t)(sbw_init_end - sbw_init_start);

	g.init_memfd = memfd_create("sandbox-bwrap-init",
	                            MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (g.init_memfd < 0 ||
	    write(g.init_memfd, sbw_init_start, len) != (ssize_t)len ||
	    fcntl(g.init_memfd, F_ADD_SEALS,
	          F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		sbw_err(err, errlen, "init shim memfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void fini(struct mcpd_plugin *self)
{
	(void)self;
	sbx_driver_fini(&g.drv);
	for (int i = 0; i < 2; i++)
		free(g.bpf[i].data);
	if (g.init_memfd >= 0)
		close(g.init_memfd);
	free(g.uid_used);
	free(g.bwrap);
	pthread_mutex_destroy(&g.lock);
	memset(&g, 0, sizeof(g));
}

static int init(const struct mcpd_host *host, struct mcpd_plugin *self)
{
	const json_t *block = host->config(self);
	const json_t *b = json_object_get(block, "bwrap");
	char err[256] = "";

	memset(&g, 0, sizeof(g));
	g.init_memfd = -1;
	pthread_mutex_init(&g.lock, NULL);
	if (b && !json_is_string(b)) {
		host->log(self, MCPD_LOG_ERROR, "config bwrap: not a string");
		goto fail;
	}
	g.bwrap = strdup(b ? json_string_value(b) : "/usr/bin/bwrap");
	if (config_u32(block, "uid_base", 1900000000u, &g.uid_base) ||
	    config_u32(block, "uid_count", 4096, &g.uid_count)) {
		host->log(self, MCPD_LOG_ERROR,
		          "config uid_base/uid_count: not a positive integer");
		goto fail;
	}
	g.uid_used = calloc(g.uid_count, 1);
	if (!g.bwrap || !g.uid_used)
		goto fail;
	if (access(g.bwrap, X_OK) < 0) {
		host->log(self, MCPD_LOG_ERROR, "%s: %s (install bubblewrap)",
		          g.bwrap, strerror(errno));
		goto fail;
	}
	if (sbw_seccomp_build(&g.bpf[0], 0, err, sizeof(err)) ||
	    sbw_seccomp_build(&g.bpf[1], 1, err, sizeof(err)) ||
	    init_shim(err, sizeof(err))) {
		host->log(self, MCPD_LOG_ERROR, "%s", err);
		goto fail;
	}
	g.drv.name = "bwrap";
	g.drv.isolated = 1;
	g.drv.title = "Run a command under bubblewrap";
	g.drv.description =
		"Runs argv in a bubblewrap sandbox (all namespaces, read-only "
		"/usr, seccomp, dedicated uid when root, cgroup and rlimit "
		"limits) and returns its exit status and output.";
	g.drv.extra_keys = extra_keys;
	g.drv.run = bwrap_run;
	g.drv.priv = &g;
	if (sbx_driver_init(&g.drv, host, self) == 0)
		return 0;
fail:
	for (int i = 0; i < 2; i++)
		free(g.bpf[i].data);
	if (g.init_memfd >= 0)
		close(g.init_memfd);
	free(g.uid_used);
	free(g.bwrap);
	pthread_mutex_destroy(&g.lock);
	memset(&g, 0, sizeof(g));
	return MCPD_E_FAILED;
}

MCPD_PLUGIN("sandbox-bwrap", "0.1.0",
            "Sandbox driver on bubblewrap (sandbox service, sandbox.exec)", 0,
            init, fini)
