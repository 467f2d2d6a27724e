/*
 * sandbox-ns: mcpd's default sandbox driver, on Linux primitives.
 *
 * Each run is a "box": clone() into new user, PID, mount, IPC, UTS and
 * (unless network is asked for) network namespaces; the host writes the
 * uid/gid maps and moves the child into the run's cgroup; the child (the
 * box's init, ns-child.c) builds a read-only tmpfs root and reports ready;
 * the host places the files into the box's /work through
 * /proc/<init>/root/work and sends the command; init forks it (it drops to
 * a dedicated uid, no capabilities, no_new_privs, Landlock, seccomp) and,
 * when it ends, kills whatever is left, reports the status and waits for
 * the host to read the work dir and let it go. A box's init dying takes
 * the whole PID namespace with it, so nothing outlives a run.
 *
 * A pool of boxes built ahead of demand (pool_size) serves requests
 * without network and readonly_paths; it is refilled as it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ns.h"

#define STACK_SIZE (256 * 1024)
#define READY_TIMEOUT_MS 10000
#define MAX_POOL 64

static const char *const extra_keys[] = {
	"uid_base", "uid_slots", "binds", "etc_binds", "network_binds",
	"seccomp", "landlock", "pool_size", NULL,
};

static const char *const default_binds[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", NULL,
};
static const char *const default_etc[] = {
	"/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime",
	"/etc/ssl/certs", NULL,
};
static const char *const default_net[] = {
	"/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/gai.conf", NULL,
};

/* One sandbox instance: init and what the host holds for it. */
struct box {
	pid_t pid;
	int reaped;
	int status;        /* init's wait status once reaped */
	struct rusage ru;
	int ctl;           /* host -> init */
	int st;            /* init -> host */
	struct sbx_pipes pipes; /* host ends only */
	int slot;
	struct sbx_cgroup *cg;
	char root[512];    /* the host dir the root is mounted on */
	int network;
	int ready;
	int flags;         /* NS_OK_* from READY */
	int ended;
};

static struct {
	struct sbx_driver drv;
	int64_t uid_base, uid_slots;
	char **binds, **etc_binds, **net_binds;
	int use_seccomp, use_landlock, landlock_abi, cap_last;
	struct ns_bpf bpf[2]; /* [network] */
	int have_bpf;
	int root_case;
	uid_t uid;
	gid_t gid;
	pthread_mutex_t lock; /* slots and pool */
	unsigned char *slots;
	struct box *pool[MAX_POOL];
	int pool_n, pool_size;
} ns = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* ---- uid slots ---- */

static int slot_get(void)
{
	int s = -1;

	pthread_mutex_lock(&ns.lock);
	for (int64_t i = 0; i < ns.uid_slots; i++)
		if (!ns.slots[i]) {
			ns.slots[i] = 1;
			s = (int)i;
			break;
		}
	pthread_mutex_unlock(&ns.lock);
	return s;
}

static void slot_put(int s)
{
	if (s < 0)
		return;
	pthread_mutex_lock(&ns.lock);
	ns.slots[s] = 0;
	pthread_mutex_unlock(&ns.lock);
}

/* init's uid outside (root case), and the command's. */
static uid_t slot_uid(int slot, int cmd)
{
	return (uid_t)(ns.uid_base + 2 * slot + (cmd ? 1 : 0));
}

/* ---- building a box ---- */

static int write_proc(pid_t pid, const char *file, const char *data)
{
	char path[64];
	int fd, rc = 0;
	size_t n = strlen(data);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, data, n) != (ssize_t)n)
		rc = -errno;
	close(fd);
	return rc;
}

static int write_maps(struct box *b, char *err, size_t errlen)
{
	char map[128];
	int rc;

	if (ns.root_case) {
		snprintf(map, sizeof(map), "0 %u 1\n%d %u 1\n",
		         (unsigned)slot_uid(b->slot, 0), NS_INSIDE_UID,
		         (unsigned)slot_uid(b->slot, 1));
		if ((rc = write_proc(b->pid, "uid_map", map)) ||
		    (rc = write_proc(b->pid, "gid_map", map)))
			goto fail;
		return 0;
	}
	if ((rc = write_proc(b->pid, "setgroups", "deny")))
		goto fail;
	snprintf(map, sizeof(map), "%d %u 1\n", NS_INSIDE_UID, (unsigned)ns.uid);
	if ((rc = write_proc(b->pid, "uid_map", map)))
		goto fail;
	snprintf(map, sizeof(map), "%d %u 1\n", NS_INSIDE_UID, (unsigned)ns.gid);
	if ((rc = write_proc(b->pid, "gid_map", map)))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "user namespace id maps: %s", strerror(-rc));
	return MCPD_E_FAILED;
}

static void add_bind(struct ns_setup *s, const char *path, int optional)
{
	struct ns_bind *b;

	if (s->n_binds >= NS_MAX_BINDS)
		return;
	b = &s->binds[s->n_binds++];
	snprintf(b->path, sizeof(b->path), "%s", path);
	b->fd = -1;
	b->optional = optional;
}

/* The setup for one box; ro fds are opened here (closed by the caller). */
static struct ns_setup *setup_new(const struct sbx_request *req,
                                  int network, char *err, size_t errlen)
{
	struct ns_setup *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->network = network;
	s->root_case = ns.root_case;
	s->work_bytes = ns.drv.cfg.work_dir_bytes;
	s->tmp_bytes = ns.drv.cfg.tmp_bytes;
	s->cap_last = ns.cap_last;
	s->landlock_abi = ns.use_landlock ? ns.landlock_abi : 0;
	s->bpf = ns.have_bpf ? &ns.bpf[network ? 1 : 0] : NULL;
	for (char **p = ns.binds; *p; p++)
		add_bind(s, *p, strcmp(*p, "/usr") != 0);
	for (char **p = ns.etc_binds; *p; p++)
		add_bind(s, *p, 1);
	for (char **p = ns.net_binds; network && *p; p++)
		add_bind(s, *p, 1);
	for (int i = 0; req && req->readonly_paths[i]; i++) {
		struct ns_bind *b = &s->ro[s->n_ro];

		snprintf(b->path, sizeof(b->path), "%s", req->readonly_paths[i]);
		b->fd = open(b->path, O_PATH | O_CLOEXEC);
		if (b->fd < 0) {
			snprintf(err, errlen, "readonly_paths[%d]: %s: %s", i,
			         b->path, strerror(errno));
			for (int j = 0; j < s->n_ro; j++)
				close(s->ro[j].fd);
			free(s);
			return NULL;
		}
		s->n_ro++;
	}
	snprintf(s->passwd, sizeof(s->passwd),
	         "root:x:0:0:root:/:/bin/sh\n"
	         "sandbox:x:%d:%d:sandbox:/work:/bin/sh\n"
	         "nobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n",
	         NS_INSIDE_UID, NS_INSIDE_UID);
	snprintf(s->group, sizeof(s->group),
	         "root:x:0:\nsandbox:x:%d:\nnogroup:x:65534:\n", NS_INSIDE_UID);
	snprintf(s->hosts, sizeof(s->hosts),
	         "127.0.0.1 localhost sandbox\n::1 localhost\n");
	return s;
}

static void box_reap(struct box *b, int wait_ms)
{
	int pidfd;

	if (b->reaped)
		return;
	/* Wait on a pidfd rather than napping: init exits within a moment. */
	pidfd = (int)syscall(SYS_pidfd_open, b->pid, 0);
	if (pidfd >= 0) {
		struct pollfd pf = {pidfd, POLLIN, 0};

		if (poll(&pf, 1, wait_ms) <= 0)
			kill(b->pid, SIGKILL);
		close(pidfd);
	} else {
		kill(b->pid, SIGKILL);
	}
	if (wait4(b->pid, &b->status, 0, &b->ru) < 0)
		b->status = SIGKILL;
	b->reaped = 1;
}

/* Kill, reap and clean up everything of a box; frees it. NULL: no-op. */
static void box_free(struct box *b)
{
	if (!b)
		return;
	if (b->pid > 0) {
		if (b->ctl >= 0)
			close(b->ctl); /* init exits on EOF */
		b->ctl = -1;
		if (!b->ended)
			kill(b->pid, SIGKILL);
		box_reap(b, 2000);
	}
	if (b->ctl >= 0)
		close(b->ctl);
	if (b->st >= 0)
		close(b->st);
	sbx_pipes_close(&b->pipes);
	sbx_cgroup_free(b->cg);
	if (b->root[0])
		rmdir(b->root);
	slot_put(b->slot);
	free(b);
}

static int box_clone(struct box *b, struct ns_setup *s, char *err,
                     size_t errlen)
{
	int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC |
	            CLONE_NEWUTS | (b->network ? 0 : CLONE_NEWNET) | SIGCHLD;
	char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (stack == MAP_FAILED) {
		snprintf(err, errlen, "stack: %s", strerror(errno));
		return MCPD_E_FAILED;
	}
	b->pid = clone(ns_init_main, stack + STACK_SIZE, flags, s);
	int e = errno;

	/* The child runs on its own copy of this memory. */
	munmap(stack, STACK_SIZE);
	if (b->pid < 0) {
		b->pid = 0;
		snprintf(err, errlen,
		         "cannot create the namespaces (clone: %s)%s",
		         strerror(e),
		         e == EPERM || e == ENOSPC || e == EINVAL
		                 ? "; are unprivileged user namespaces "
		                   "disabled?"
		                 : "");
		return MCPD_E_FAILED;
	}
	return 0;
}

/* Start a box (not waiting for it to be ready). */
static struct box *box_spawn(const struct sbx_request *req, int network,
                             char *err, size_t errlen)
{
	struct box *b = calloc(1, sizeof(*b));
	struct ns_setup *s = NULL;
	int ctl[2] = {-1, -1}, st[2] = {-1, -1}, fd;
	char *root = NULL, name[80];
	uint64_t rnd = 0;

	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->ctl = b->st = -1;
	b->pipes = (struct sbx_pipes){{-1, -1}, {-1, -1}, {-1, -1}};
	b->network = network;
	if ((b->slot = slot_get()) < 0) {
		snprintf(err, errlen, "all %lld uid slots are in use",
		         (long long)ns.uid_slots);
		goto fail;
	}
	if (sbx_workdir_create(ns.drv.cfg.run_dir, 0, &root, &fd, err, errlen))
		goto fail;
	close(fd);
	snprintf(b->root, sizeof(b->root), "%s", root);
	free(root);
	if (!(s = setup_new(req, network, err, errlen)))
		goto fail;
	snprintf(s->root, sizeof(s->root), "%s", b->root);
	if (pipe2(ctl, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0 ||
	    sbx_pipes_open(&b->pipes) < 0) {
		snprintf(err, errlen, "pipes: %s", strerror(errno));
		goto fail;
	}
	s->ctl_fd = ctl[0];
	s->st_fd = st[1];
	s->pipes = b->pipes;
	if (getrandom(&rnd, sizeof(rnd), 0) < 0)
		rnd = (uint64_t)sbx_now_ms();
	snprintf(name, sizeof(name), "ns-%d-%d-%016llx", (int)getpid(), b->slot,
	         (unsigned long long)rnd);
	b->cg = sbx_cgroup_new(&ns.drv.cfg, name);
	if (box_clone(b, s, err, errlen))
		goto fail;
	b->ctl = ctl[1];
	b->st = st[0];
	ctl[1] = st[0] = -1;
	sbx_pipes_close_child(&b->pipes);
	if (write_maps(b, err, errlen))
		goto fail;
	if (b->cg && sbx_cgroup_attach(b->cg, b->pid) < 0) {
		sbx_cgroup_free(b->cg);
		b->cg = NULL;
	}
	if (write(b->ctl, "G", 1) != 1) {
		snprintf(err, errlen, "start the box: %s", strerror(errno));
		goto fail;
	}
	goto out;
fail:
	box_free(b);
	b = NULL;
out:
	for (int i = 0; i < 2; i++) {
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (st[i] >= 0)
			close(st[i]);
	}
	for (int i = 0; s && i < s->n_ro; i++)
		close(s->ro[i].fd);
	free(s);
	return b;
}

/* Wait for READY (or a FAIL) from init. */
static int box_wait_ready(struct box *b, char *err, size_t errlen)
{
	struct pollfd pf = {b->st, POLLIN, 0};
	struct ns_msg m;
	ssize_t n;

	if (b->ready)
		return 0;
	if (poll(&pf, 1, READY_TIMEOUT_MS) <= 0) {
		snprintf(err, errlen, "the sandbox did not come up in %d ms",
		         READY_TIMEOUT_MS);
		return MCPD_E_FAILED;
	}
	n = read(b->st, &m, sizeof(m));
	if (n != sizeof(m) || m.type != NS_MSG_READY) {
		if (n == sizeof(m) && m.type == NS_MSG_FAIL) {
			m.what[sizeof(m.what) - 1] = '\0';
			snprintf(err, errlen, "sandbox setup: %s: %s", m.what,
			         strerror(m.err));
		} else {
			snprintf(err, errlen, "the sandbox's init died while "
			                      "setting up");
		}
		return MCPD_E_FAILED;
	}
	b->ready = 1;
	b->flags = m.flags;
	return 0;
}

/* ---- the pool ---- */

static struct box *pool_take(void)
{
	struct box *b = NULL;

	pthread_mutex_lock(&ns.lock);
	if (ns.pool_n > 0)
		b = ns.pool[--ns.pool_n];
	pthread_mutex_unlock(&ns.lock);
	return b;
}

static void pool_fill(void)
{
	char err[256];

	for (;;) {
		struct box *b;
		int need;

		pthread_mutex_lock(&ns.lock);
		need = ns.pool_n < ns.pool_size;
		pthread_mutex_unlock(&ns.lock);
		if (!need)
			return;
		if (!(b = box_spawn(NULL, 0, err, sizeof(err)))) {
			ns.drv.host->log(ns.drv.self, MCPD_LOG_WARN,
			                 "pool: %s", err);
			return;
		}
		pthread_mutex_lock(&ns.lock);
		if (ns.pool_n < ns.pool_size) {
			ns.pool[ns.pool_n++] = b;
			b = NULL;
		}
		pthread_mutex_unlock(&ns.lock);
		box_free(b);
	}
}

/* ---- a run ---- */

struct run_ctx {
	struct box *b;
};

static int on_event(void *ctx, int *wstatus)
{
	struct box *b = ((struct run_ctx *)ctx)->b;
	struct ns_msg m;
	ssize_t n = read(b->st, &m, sizeof(m));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n == sizeof(m) && m.type == NS_MSG_EXIT) {
		*wstatus = m.status;
		b->ended = 1;
		return 1;
	}
	if (n == sizeof(m) && m.type == NS_MSG_FAIL)
		return -1;
	/* EOF: init is gone (killed at a limit): so is everything. */
	box_reap(b, 2000);
	*wstatus = WIFSIGNALED(b->status) ? b->status : (SIGKILL & 0x7f);
	b->ended = 1;
	return 1;
}

static void kill_tree(void *ctx)
{
	struct box *b = ((struct run_ctx *)ctx)->b;

	if (!b->reaped)
		kill(b->pid, SIGKILL); /* init: the PID namespace goes with it */
	if (b->cg)
		sbx_cgroup_kill(b->cg);
}

static int send_spec(struct box *b, const struct sbx_request *req,
                     const struct sbx_rlimits *rl)
{
	struct ns_spec_head h;
	size_t len = 0, off = 0;
	char *buf;
	int rc = 0;

	memset(&h, 0, sizeof(h)); /* padding too: it goes down the pipe */
	h.magic = NS_SPEC_MAGIC;
	h.rl = *rl;
	for (char **p = req->argv; *p; p++, h.argc++)
		len += strlen(*p) + 1;
	for (char **p = req->envp; *p; p++, h.envc++)
		len += strlen(*p) + 1;
	if (len > NS_SPEC_MAX)
		return MCPD_E_INVAL;
	h.strings_len = (uint32_t)len;
	if (!(buf = malloc(sizeof(h) + len)))
		return MCPD_E_NOMEM;
	memcpy(buf, &h, sizeof(h));
	off = sizeof(h);
	for (char **p = req->argv; *p; p++) {
		memcpy(buf + off, *p, strlen(*p) + 1);
		off += strlen(*p) + 1;
	}
	for (char **p = req->envp; *p; p++) {
		memcpy(buf + off, *p, strlen(*p) + 1);
		off += strlen(*p) + 1;
	}
	for (size_t done = 0; done < off;) {
		ssize_t n = write(b->ctl, buf + done, off - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = MCPD_E_FAILED;
			break;
		}
		done += (size_t)n;
	}
	free(buf);
	return rc;
}

/* Place the files as the command's uid (root case), so they are its. */
static int place_files(struct box *b, int workfd,
                       const struct sbx_request *req, char *err,
                       size_t errlen)
{
	int rc;

	if (!req->files)
		return 0;
	if (!ns.root_case)
		return sbx_files_place(workfd, req->files, (uid_t)-1, (gid_t)-1,
		                       err, errlen);
	/* setfsuid is per thread: only this worker changes identity. */
	setfsgid((gid_t)slot_uid(b->slot, 1));
	setfsuid(slot_uid(b->slot, 1));
	if ((uid_t)setfsuid((uid_t)-1) != slot_uid(b->slot, 1)) {
		setfsuid(0);
		setfsgid(0);
		snprintf(err, errlen, "cannot take the sandbox uid to place "
		                      "files");
		return MCPD_E_FAILED;
	}
	rc = sbx_files_place(workfd, req->files, (uid_t)-1, (gid_t)-1, err,
	                     errlen);
	setfsuid(0);
	setfsgid(0);
	return rc;
}

static json_t *make_enforced(const struct box *b,
                             const struct sbx_request *req, int *cg_got)
{
	json_t *enf = sbx_enforced_new(1, b->network, &req->limits);
	json_t *nsa;

	if (!enf)
		return NULL;
	nsa = json_pack("[sssss]", "user", "pid", "mount", "ipc", "uts");
	if (!b->network)
		json_array_append_new(nsa, json_string("net"));
	if (b->flags & NS_OK_CGROUPNS)
		json_array_append_new(nsa, json_string("cgroup"));
	else
		sbx_enforced_missing(enf, "cgroup namespace: unshare refused");
	json_object_set_new(enf, "namespaces", nsa);
	json_object_set_new(enf, "dedicated_uid", json_boolean(ns.root_case));
	if (!ns.root_case)
		sbx_enforced_missing(enf, "dedicated_uid: the daemon is not "
		                          "root; the command runs as its uid "
		                          "(mapped) in a user namespace");
	json_object_set_new(enf, "no_new_privs", json_true());
	json_object_set_new(enf, "caps_dropped", json_true());
	json_object_set_new(enf, "seccomp", json_boolean(ns.have_bpf));
	if (!ns.have_bpf)
		sbx_enforced_missing(enf, "seccomp: %s",
		                     ns.use_seccomp ? "the filter could not be "
		                                      "built"
		                                    : "disabled in config");
	if (ns.use_landlock && ns.landlock_abi)
		json_object_set_new(enf, "landlock",
		                    json_integer(ns.landlock_abi));
	else
		sbx_enforced_missing(enf, "landlock: %s",
		                     ns.use_landlock ? "not offered by this "
		                                       "kernel"
		                                     : "disabled in config");
	*cg_got = 0;
	if (b->cg)
		*cg_got = sbx_cgroup_limit(b->cg, &req->limits, enf);
	else
		sbx_enforced_missing(enf, "cgroup: none usable (%s); memory "
		                          "and pids by rlimits only",
		                     ns.drv.cfg.cgroup == SBX_CGROUP_NONE
		                             ? "disabled in config"
		                             : "not writable here");
	if (!(*cg_got & SBX_CG_MEMORY))
		sbx_enforced_add(enf, "memory", "rlimit");
	sbx_enforced_add(enf, "pids", "rlimit");
	sbx_enforced_add(enf, "cpu", "rlimit");
	json_object_set_new(enf, "file", json_string("rlimit"));
	json_object_set_new(enf, "work_dir_bytes",
	                    json_integer(ns.drv.cfg.work_dir_bytes));
	json_object_set_new(enf, "tmp_bytes", json_integer(ns.drv.cfg.tmp_bytes));
	return enf;
}

static int run(struct sbx_driver *d, struct mcpd_task *caller,
               const struct sbx_request *req, json_t **result, char *err,
               size_t errlen)
{
	struct box *b = NULL;
	struct run_ctx ctx;
	struct sbx_watch w = SBX_WATCH_INIT;
	struct sbx_rlimits rl;
	json_t *enf = NULL, *files = NULL;
	int workfd = -1, cg_got = 0, rc, pooled = 0;
	char path[64];

	if (!req->network && !req->readonly_paths[0] && ns.pool_size > 0 &&
	    (b = pool_take())) {
		pooled = 1;
		if (box_wait_ready(b, err, errlen)) { /* a stale one */
			box_free(b);
			b = NULL;
		}
	}
	if (!b && !(b = box_spawn(req, req->network, err, errlen)))
		return MCPD_E_FAILED;
	if ((rc = box_wait_ready(b, err, errlen)))
		goto out;
	rc = MCPD_E_NOMEM;
	if (!(enf = make_enforced(b, req, &cg_got)))
		goto out;
	snprintf(path, sizeof(path), "/proc/%d/root/work", (int)b->pid);
	workfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (workfd < 0) {
		snprintf(err, errlen, "the box's work dir: %s", strerror(errno));
		rc = MCPD_E_FAILED;
		goto out;
	}
	if ((rc = place_files(b, workfd, req, err, errlen)))
		goto out;
	sbx_rlimits_prepare(&rl, &req->limits, cg_got & SBX_CG_MEMORY);
	if ((rc = send_spec(b, req, &rl))) {
		snprintf(err, errlen, "cannot hand the command to the box");
		goto out;
	}
	ctx.b = b;
	w = (struct sbx_watch){
		.host = d->host, .caller = caller, .req = req,
		.stdin_fd = b->pipes.in[1], .stdout_fd = b->pipes.out[0],
		.stderr_fd = b->pipes.err[0], .event_fd = b->st,
		.on_event = on_event, .kill_tree = kill_tree, .ctx = &ctx,
		.cg = b->cg,
	};
	b->pipes.in[1] = b->pipes.out[0] = b->pipes.err[0] = -1;
	rc = sbx_watch_run(&w, err, errlen);
	if (rc)
		goto out;
	if (w.cancelled) {
		snprintf(err, errlen, "cancelled");
		rc = MCPD_E_CANCELLED;
		goto out;
	}
	if (req->return_files)
		files = sbx_files_collect(workfd, req->files,
		                          req->limits.output_bytes);
	close(workfd);
	workfd = -1;
	/* Let init go; its rusage then covers the whole tree it reaped. */
	close(b->ctl);
	b->ctl = -1;
	box_reap(b, 2000);
	*result = sbx_result_build(
		&w, d->name,
		(int64_t)(b->ru.ru_utime.tv_sec + b->ru.ru_stime.tv_sec) * 1000 +
			(b->ru.ru_utime.tv_usec + b->ru.ru_stime.tv_usec) / 1000,
		(int64_t)b->ru.ru_maxrss * 1024, files, enf);
	enf = NULL;
	rc = *result ? 0 : MCPD_E_NOMEM;
out:
	sbx_watch_clear(&w);
	json_decref(enf);
	if (workfd >= 0)
		close(workfd);
	box_free(b);
	if (pooled) /* after the answer is built: off this run's latency */
		pool_fill();
	return rc;
}

/* ---- config and plugin ---- */

static int read_paths(char ***dst, const json_t *v, const char *const *def,
                      const char *key, struct mcpd_plugin *self)
{
	size_t n = v ? json_array_size(v) : 0;

	if (v && (!json_is_array(v) || n > NS_MAX_BINDS / 2)) {
		ns.drv.host->log(self, MCPD_LOG_ERROR,
		                 "config %s: must be an array of at most %d "
		                 "absolute paths", key, NS_MAX_BINDS / 2);
		return MCPD_E_INVAL;
	}
	if (!v)
		while (def[n])
			n++;
	*dst = calloc(n + 1, sizeof(char *));
	if (!*dst)
		return MCPD_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s = v ? json_string_value(json_array_get(v, i))
		                  : def[i];
		char why[96];

		if (!s || s[0] != '/' || strlen(s) > 400 ||
		    sbx_path_check(s + 1, why, sizeof(why)) ||
		    !strncmp(s, "/proc", 5) || !strncmp(s, "/dev", 4) ||
		    !strncmp(s, "/work", 5) || !strncmp(s, "/tmp", 4)) {
			ns.drv.host->log(self, MCPD_LOG_ERROR,
			                 "config %s[%zu]: must be an absolute, "
			                 "normalised path outside /proc, /dev, "
			                 "/work, /tmp", key, i);
			return MCPD_E_INVAL;
		}
		if (!((*dst)[i] = strdup(s)))
			return MCPD_E_NOMEM;
	}
	return 0;
}

static int read_int(int64_t *dst, const json_t *cfg, const char *key,
                    int64_t def, int64_t min, int64_t max,
                    struct mcpd_plugin *self)
{
	const json_t *v = json_object_get(cfg, key);

	*dst = def;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		ns.drv.host->log(self, MCPD_LOG_ERROR,
		                 "config %s: must be an integer from %lld to %lld",
		                 key, (long long)min, (long long)max);
		return MCPD_E_INVAL;
	}
	*dst = json_integer_value(v);
	return 0;
}

static int read_bool(int *dst, const json_t *cfg, const char *key,
                     struct mcpd_plugin *self)
{
	const json_t *v = json_object_get(cfg, key);

	*dst = 1;
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		ns.drv.host->log(self, MCPD_LOG_ERROR,
		                 "config %s: must be a boolean", key);
		return MCPD_E_INVAL;
	}
	*dst = json_is_true(v);
	return 0;
}

static int read_cap_last(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? atoi(buf) : 40;
}

static void ns_clear(void)
{
	struct box *pool[MAX_POOL];
	int n;

	pthread_mutex_lock(&ns.lock);
	n = ns.pool_n;
	memcpy(pool, ns.pool, sizeof(pool));
	ns.pool_n = 0;
	ns.pool_size = 0;
	pthread_mutex_unlock(&ns.lock);
	for (int i = 0; i < n; i++)
		box_free(pool[i]);
	for (int i = 0; i < 2; i++)
		ns_bpf_free(&ns.bpf[i]);
	ns.have_bpf = 0;
	strv_free(ns.binds);
	strv_free(ns.etc_binds);
	strv_free(ns.net_binds);
	ns.binds = ns.etc_binds = ns.net_binds = NULL;
	free(ns.slots);
	ns.slots = NULL;
	if (ns.drv.host)
		sbx_driver_fini(&ns.drv);
	ns.drv.host = NULL;
}

static int read_config(struct mcpd_plugin *self)
{
	const json_t *cfg = ns.drv.host->config(self);
	int64_t pool;
	int rc;

	if ((rc = read_int(&ns.uid_base, cfg, "uid_base", 100000, 1000,
	                   (1LL << 31) - 200000, self)) ||
	    (rc = read_int(&ns.uid_slots, cfg, "uid_slots", 1024, 1, 65536,
	                   self)) ||
	    (rc = read_int(&pool, cfg, "pool_size", 0, 0, MAX_POOL, self)) ||
	    (rc = read_bool(&ns.use_seccomp, cfg, "seccomp", self)) ||
	    (rc = read_bool(&ns.use_landlock, cfg, "landlock", self)) ||
	    (rc = read_paths(&ns.binds, json_object_get(cfg, "binds"),
	                     default_binds, "binds", self)) ||
	    (rc = read_paths(&ns.etc_binds, json_object_get(cfg, "etc_binds"),
	                     default_etc, "etc_binds", self)) ||
	    (rc = read_paths(&ns.net_binds,
	                     json_object_get(cfg, "network_binds"), default_net,
	                     "network_binds", self)))
		return rc;
	ns.pool_size = (int)pool;
	return 0;
}

static int ns_init(const struct mcpd_host *host, struct mcpd_plugin *self)
{
	char err[256];
	int rc;

	ns.drv = (struct sbx_driver){
		.name = "ns",
		.isolated = 1,
		.title = "Run a command in a sandbox",
		.description = "Runs argv isolated from the host: namespaces, "
		               "a read-only root, a dedicated uid, seccomp, "
		               "Landlock, cgroup limits.",
		.extra_keys = extra_keys,
		.run = run,
	};
	if ((rc = sbx_driver_init(&ns.drv, host, self))) {
		ns.drv.host = NULL;
		return rc;
	}
	if ((rc = read_config(self)))
		goto fail;
	rc = MCPD_E_NOMEM;
	if (!(ns.slots = calloc((size_t)ns.uid_slots, 1)))
		goto fail;
	ns.root_case = geteuid() == 0;
	ns.uid = geteuid();
	ns.gid = getegid();
	ns.cap_last = read_cap_last();
	ns.landlock_abi = ns_landlock_abi();
	ns.have_bpf = 0;
	if (ns.use_seccomp) {
		if (ns_bpf_build(&ns.bpf[0], 0, err, sizeof(err)) ||
		    ns_bpf_build(&ns.bpf[1], 1, err, sizeof(err)))
			host->log(self, MCPD_LOG_ERROR,
			          "%s: runs will report seccomp: false", err);
		else
			ns.have_bpf = 1;
	}
	host->log(self, MCPD_LOG_INFO,
	          "%s daemon: %s; landlock ABI %d%s; seccomp %s; pool %d",
	          ns.root_case ? "root" : "unprivileged",
	          ns.root_case ? "dedicated uids from uid_base"
	                       : "the daemon's uid, mapped",
	          ns.landlock_abi, ns.use_landlock ? "" : " (disabled)",
	          ns.have_bpf ? "on" : "OFF", ns.pool_size);
	pool_fill();
	return 0;
fail:
	ns_clear();
	return rc;
}

static void ns_fini(struct mcpd_plugin *self)
{
	(void)self;
	ns_clear();
}

MCPD_PLUGIN("sandbox-ns", "1.0.0",
            "Sandbox driver on Linux namespaces, seccomp, Landlock and "
            "cgroups (the default)",
            0, ns_init, ns_fini)
