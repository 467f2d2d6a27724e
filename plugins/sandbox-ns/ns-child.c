/*
 * The sandbox's side: init (pid 1 of the new PID namespace) builds the
 * root, then starts the command and reaps everything; the command drops
 * every privilege before execve.
 *
 * All of this runs in a child of the multi-threaded daemon, so it only
 * makes system calls (no malloc, no stdio, no locks): everything it needs
 * was prepared in struct ns_setup before clone(), and the per-run spec
 * arrives through a pipe into memory mapped here.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <linux/seccomp.h>
#include "ns.h"

static int st_fd = -1;

/* Tell the host a step failed, and stop. */
static void fail(const char *what, int err)
{
	struct ns_msg m = {.type = NS_MSG_FAIL, .err = err};
	size_t n = strlen(what);

	if (n >= sizeof(m.what))
		n = sizeof(m.what) - 1;
	memcpy(m.what, what, n);
	if (write(st_fd, &m, sizeof(m)) < 0) {
		/* nobody to tell */
	}
	_exit(125);
}

static size_t cat(char *dst, size_t cap, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb + 1 > cap)
		return 0;
	memcpy(dst, a, la);
	memcpy(dst + la, b, lb + 1);
	return la + lb;
}

static int write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t n = strlen(data);

	if (fd < 0)
		return -1;
	if (write(fd, data, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* mkdir -p of `path` (absolute, below the new root). */
static int mkdirs(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = c;
			return -1;
		}
		*p = c;
		if (!c)
			return 0;
	}
}

/*
 * Make a bind mount at `dst` read-only. A bind made in a user namespace
 * keeps the flags the source mount has locked (nosuid, nodev, noexec...):
 * a remount that dropped one would fail, so they are carried over.
 */
static int remount_bind(const char *dst, unsigned long extra)
{
	struct statvfs sv;
	unsigned long fl = MS_REMOUNT | MS_BIND | MS_NOSUID | extra;

	if (statvfs(dst, &sv) == 0) {
		if (sv.f_flag & ST_NODEV)
			fl |= MS_NODEV;
		if (sv.f_flag & ST_NOEXEC)
			fl |= MS_NOEXEC;
		if (sv.f_flag & ST_NOATIME)
			fl |= MS_NOATIME;
		if (sv.f_flag & ST_NODIRATIME)
			fl |= MS_NODIRATIME;
		if (sv.f_flag & ST_RELATIME)
			fl |= MS_RELATIME;
	}
	return mount(NULL, dst, NULL, fl, NULL);
}

/* Bind host path b->path at root+path, read-only. */
static void bind_ro(const char *root, const struct ns_bind *b)
{
	char dst[1100], link[512];
	const char *from = b->path;
	struct stat st, want, got;
	ssize_t n;

	if (!cat(dst, sizeof(dst), root, b->path))
		fail("bind: path too long", ENAMETOOLONG);
	if ((b->fd >= 0 ? stat(from, &st) : lstat(from, &st)) < 0) {
		if (b->optional && errno == ENOENT)
			return;
		fail(b->path, errno);
	}
	if (S_ISLNK(st.st_mode)) {
		/* /bin -> usr/bin on merged-/usr systems: same link inside. */
		n = readlink(from, link, sizeof(link) - 1);
		if (n < 0)
			fail(b->path, errno);
		link[n] = '\0';
		*strrchr(dst, '/') = '\0';
		if (mkdirs(dst) < 0)
			fail(b->path, errno);
		cat(dst, sizeof(dst), root, b->path);
		if (symlink(link, dst) < 0 && errno != EEXIST)
			fail(b->path, errno);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdirs(dst) < 0)
			fail(b->path, errno);
	} else {
		int fd;

		*strrchr(dst, '/') = '\0';
		if (mkdirs(dst) < 0)
			fail(b->path, errno);
		cat(dst, sizeof(dst), root, b->path);
		fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EROFS && errno != EEXIST)
			fail(b->path, errno);
		if (fd >= 0)
			close(fd);
	}
	if (mount(from, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail(b->path, errno);
	/* readonly_paths: the host opened and checked the path; a bind
	 * cannot take that fd (its mount is in the host's namespace), so
	 * make sure the path still names the very same object. */
	if (b->fd >= 0 && (fstat(b->fd, &want) < 0 || stat(dst, &got) < 0 ||
	                   want.st_dev != got.st_dev ||
	                   want.st_ino != got.st_ino))
		fail("a readonly path changed while the sandbox was built",
		     EXDEV);
	if (remount_bind(dst, MS_RDONLY) < 0)
		fail(b->path, errno);
}

/* Append s to dst (cap bytes in all). */
static void app(char *dst, size_t cap, const char *s)
{
	size_t l = strlen(dst), n = strlen(s);

	if (l + n + 1 <= cap)
		memcpy(dst + l, s, n + 1);
}

static void mount_tmpfs(const char *root, const char *path, int64_t size,
                        const char *mode, int owned, unsigned long flags)
{
	char dst[600], opts[96] = "size=", num[24];
	int i = (int)sizeof(num) - 1;
	uint64_t v = (uint64_t)size;

	num[i] = '\0';
	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	app(opts, sizeof(opts), num + i);
	app(opts, sizeof(opts), ",mode=");
	app(opts, sizeof(opts), mode);
	if (owned) /* the work dir belongs to the command's uid */
		app(opts, sizeof(opts), ",uid=1000,gid=1000");
	cat(dst, sizeof(dst), root, path);
	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		fail(path, errno);
	if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | flags, opts) < 0)
		fail(path, errno);
}

static void make_dev(const char *root)
{
	static const char *const nodes[] = {"/dev/null", "/dev/zero",
	                                    "/dev/full", "/dev/random",
	                                    "/dev/urandom", NULL};
	static const char *const links[][2] = {
		{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"}, {"/tmp", "/dev/shm"},
	};
	char dst[600];

	mount_tmpfs(root, "/dev", 65536, "0755", 0, MS_NOEXEC);
	for (int i = 0; nodes[i]; i++) {
		struct ns_bind b = {.fd = -1};

		cat(b.path, sizeof(b.path), nodes[i], "");
		bind_ro(root, &b);
		/* Device files stay writable: remount the bind rw again. */
		cat(dst, sizeof(dst), root, nodes[i]);
		if (remount_bind(dst, MS_NOEXEC) < 0)
			fail(nodes[i], errno);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		cat(dst, sizeof(dst), root, links[i][1]);
		if (symlink(links[i][0], dst) < 0)
			fail(links[i][1], errno);
	}
	cat(dst, sizeof(dst), root, "/dev");
	if (mount(NULL, dst, NULL,
	          MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC |
	                  MS_NODEV,
	          NULL) < 0)
		fail("/dev read-only", errno);
}

static void make_etc(const struct ns_setup *s)
{
	char dst[600];

	cat(dst, sizeof(dst), s->root, "/etc");
	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		fail("/etc", errno);
	cat(dst, sizeof(dst), s->root, "/etc/passwd");
	if (write_file(dst, s->passwd, 0644) < 0)
		fail("/etc/passwd", errno);
	cat(dst, sizeof(dst), s->root, "/etc/group");
	if (write_file(dst, s->group, 0644) < 0)
		fail("/etc/group", errno);
	cat(dst, sizeof(dst), s->root, "/etc/hosts");
	if (write_file(dst, s->hosts, 0644) < 0)
		fail("/etc/hosts", errno);
}

static void build_root(const struct ns_setup *s)
{
	char dst[600];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail("make / private", errno);
	if (mount("tmpfs", s->root, "tmpfs", MS_NOSUID | MS_NODEV,
	          "size=1048576,mode=0755") < 0)
		fail("root tmpfs", errno);
	make_etc(s);
	for (int i = 0; i < s->n_binds; i++)
		bind_ro(s->root, &s->binds[i]);
	cat(dst, sizeof(dst), s->root, "/proc");
	if (mkdir(dst, 0755) < 0 ||
	    mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	          "hidepid=2") < 0)
		fail("/proc", errno);
	make_dev(s->root);
	mount_tmpfs(s->root, "/tmp", s->tmp_bytes, "1777", 0, 0);
	mount_tmpfs(s->root, "/work", s->work_bytes, "0755", 1, 0);
	for (int i = 0; i < s->n_ro; i++)
		bind_ro(s->root, &s->ro[i]);
	if (mount(NULL, s->root, NULL,
	          MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
	          NULL) < 0)
		fail("root read-only", errno);
	if (chdir(s->root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		fail("pivot_root", errno);
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		fail("detach the old root", errno);
}

/* Read exactly n bytes; 0 on success. */
static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The run spec into mapped memory: argv and envp point into it. */
static void read_spec(int fd, struct ns_spec_head *h, char ***argv,
                      char ***envp)
{
	char *mem, *p;
	size_t ptrs;

	if (read_full(fd, h, sizeof(*h)) < 0)
		_exit(0); /* the host let this one go (pool, shutdown) */
	if (h->magic != NS_SPEC_MAGIC || h->strings_len > NS_SPEC_MAX ||
	    h->argc == 0 || h->argc > 65536 || h->envc > 65536)
		fail("bad run spec", EINVAL);
	ptrs = ((size_t)h->argc + h->envc + 2) * sizeof(char *);
	mem = mmap(NULL, ptrs + h->strings_len + 1, PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("run spec memory", errno);
	p = mem + ptrs;
	if (read_full(fd, p, h->strings_len) < 0)
		fail("run spec", EIO);
	p[h->strings_len] = '\0';
	*argv = (char **)mem;
	*envp = *argv + h->argc + 1;
	for (uint32_t i = 0; i < h->argc + h->envc; i++) {
		char **slot = i < h->argc ? &(*argv)[i] : &(*envp)[i - h->argc];

		if (p >= mem + ptrs + h->strings_len)
			fail("run spec strings", EINVAL);
		*slot = p;
		p += strlen(p) + 1;
	}
	(*argv)[h->argc] = NULL;
	(*envp)[h->envc] = NULL;
}

/* Give up every privilege; then the command. Never returns. */
static void payload(const struct ns_setup *s, const struct ns_spec_head *h,
                    char **argv, char **envp)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	int e;

	setsid();
	sbx_child_reset_signals();
	if ((e = sbx_pipes_child_setup(&s->pipes, NULL, 0)) < 0)
		sbx_child_die("stdio", -e, 126);
	if (chdir("/work") < 0)
		sbx_child_die("/work", errno, 126);
	if ((e = sbx_rlimits_apply(&h->rl)) < 0)
		sbx_child_die("rlimits", -e, 126);
	for (int cap = 0; cap <= s->cap_last; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			sbx_child_die("drop the capability bounding set", errno,
			              126);
	/* Unprivileged daemon: setgroups is denied, and there are none. */
	if (s->root_case && setgroups(0, NULL) < 0)
		sbx_child_die("setgroups", errno, 126);
	if (setresgid(NS_INSIDE_UID, NS_INSIDE_UID, NS_INSIDE_UID) < 0 ||
	    setresuid(NS_INSIDE_UID, NS_INSIDE_UID, NS_INSIDE_UID) < 0)
		sbx_child_die("switch to the sandbox uid", errno, 126);
	memset(data, 0, sizeof(data));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    syscall(SYS_capset, &hdr, data) < 0 ||
	    syscall(SYS_capget, &hdr, data) < 0 || data[0].effective ||
	    data[0].permitted || data[1].effective || data[1].permitted)
		sbx_child_die("drop capabilities", errno ? errno : EPERM, 126);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		sbx_child_die("no_new_privs", errno, 126);
	if (s->landlock_abi && (e = ns_landlock_apply(s->landlock_abi,
	                                              s->network)) < 0)
		sbx_child_die("landlock", -e, 126);
	if (s->bpf) {
		struct sock_fprog prog = {s->bpf->len, s->bpf->insns};

		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			sbx_child_die("seccomp", errno, 126);
	}
	e = sbx_child_exec(argv, envp);
	sbx_child_die(argv[0], e, e == ENOENT ? 127 : 126);
}

/* Reap until the command has ended; then kill and reap everything. */
static int reap(pid_t cmd)
{
	int status = 0, st;
	pid_t r;

	for (;;) {
		r = waitpid(-1, &st, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == cmd) {
			status = st;
			break;
		}
	}
	/* Nothing the command started outlives it. */
	kill(-1, SIGKILL);
	while (waitpid(-1, &st, 0) > 0 || errno == EINTR)
		;
	return status;
}

/*
 * init is a copy of the daemon, not an exec: its /proc/1/cmdline would
 * show the daemon's command line (paths, port) inside the box. Blank the
 * argument area of this copy of the memory and rename the thread.
 */
static void hide_daemon_identity(void)
{
	static const char name[] = "sandbox-init";
	char buf[1024], *p;
	unsigned long start = 0, end = 0;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), field = 2;
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')))
		return;
	/* Fields 48 and 49 are arg_start and arg_end. */
	for (p++; *p && field < 49; p++) {
		if (*p != ' ')
			continue;
		field++;
		if (field == 48 || field == 49) {
			unsigned long v = 0;

			for (char *q = p + 1; *q >= '0' && *q <= '9'; q++)
				v = v * 10 + (unsigned long)(*q - '0');
			*(field == 48 ? &start : &end) = v;
		}
	}
	if (!start || end <= start || end - start > (1UL << 20))
		return;
	memset((void *)start, 0, end - start);
	if (end - start > sizeof(name))
		memcpy((void *)start, name, sizeof(name));
}

int ns_init_main(void *arg)
{
	const struct ns_setup *s = arg;
	struct ns_msg m = {.type = NS_MSG_READY};
	struct ns_spec_head h;
	char **argv, **envp, byte;
	pid_t cmd;

	int keep[NS_MAX_RO + 5], nkeep = 0;

	st_fd = s->st_fd;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	hide_daemon_identity();
	/* The fd table is a copy of the daemon's: keep only ours, so no
	 * other run's pipe (nor our own host ends) is held open here. */
	keep[nkeep++] = s->ctl_fd;
	keep[nkeep++] = s->st_fd;
	keep[nkeep++] = s->pipes.in[0];
	keep[nkeep++] = s->pipes.out[1];
	keep[nkeep++] = s->pipes.err[1];
	for (int i = 0; i < s->n_ro; i++)
		keep[nkeep++] = s->ro[i].fd;
	sbx_close_fds_except(keep, nkeep);
	/* Wait for the host to write our uid/gid maps and cgroup. */
	if (read_full(s->ctl_fd, &byte, 1) < 0)
		_exit(0);
	if (s->root_case &&
	    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		fail("become root of the user namespace", errno);
	if (unshare(CLONE_NEWCGROUP) == 0)
		m.flags |= NS_OK_CGROUPNS;
	if (sethostname("sandbox", 7) == 0)
		m.flags |= NS_OK_HOSTNAME;
	build_root(s);
	if (write(st_fd, &m, sizeof(m)) != sizeof(m))
		_exit(125);
	read_spec(s->ctl_fd, &h, &argv, &envp);
	/* Not fork(): glibc's takes its malloc and stdio locks, which some
	 * other daemon thread may have held at the clone -- forever, here. */
	cmd = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	if (cmd < 0)
		fail("fork the command", errno);
	if (cmd == 0)
		payload(s, &h, argv, envp);
	/* init keeps no end of the command's stdio: EOF must mean EOF. */
	close(s->pipes.in[0]);
	close(s->pipes.out[1]);
	close(s->pipes.err[1]);
	m = (struct ns_msg){.type = NS_MSG_EXIT, .status = reap(cmd)};
	if (write(st_fd, &m, sizeof(m)) != sizeof(m))
		_exit(125);
	/* Hold the namespaces (and the work dir) until the host is done. */
	while (read(s->ctl_fd, &byte, 1) > 0 || errno == EINTR)
		;
	_exit(0);
}
