/*
 * The system-call filter (seccomp-bpf through libseccomp) and Landlock.
 *
 * The filter is an allow-list of what compilers, interpreters and test
 * runners use; anything else fails with ENOSYS (so runtimes fall back, as
 * glibc does from clone3 to clone), and the calls that reach the kernel's
 * attack surface or could undo the sandbox fail with EPERM. It is built
 * once per network setting at plugin init and exported to BPF, because a
 * child forked from the multi-threaded daemon must not call libseccomp
 * (it allocates): the child only hands the finished program to prctl().
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include "ns.h"

static const char *const allowed[] = {
	/* files */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "open", "openat", "openat2", "close",
	"close_range", "creat", "lseek", "_llseek", "stat", "fstat", "lstat",
	"newfstatat", "fstatat64", "statx", "fstatfs", "statfs", "access",
	"faccessat", "faccessat2", "readlink", "readlinkat", "getdents",
	"getdents64", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
	"rename", "renameat", "renameat2", "link", "linkat", "symlink",
	"symlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown",
	"fchown", "lchown", "fchownat", "truncate", "ftruncate", "fallocate",
	"fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "utime",
	"utimes", "utimensat", "futimesat", "getcwd", "chdir", "fchdir",
	"umask", "dup", "dup2", "dup3", "fcntl", "flock", "pipe", "pipe2",
	"mknod", "mknodat", "memfd_create", "copy_file_range", "sendfile",
	"splice", "tee", "fadvise64", "readahead", "getxattr", "lgetxattr",
	"fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr",
	"lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
	"fremovexattr", "inotify_init", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch", "ioctl",
	/* waiting and events */
	"select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd",
	"eventfd2", "signalfd", "signalfd4", "timerfd_create",
	"timerfd_settime", "timerfd_gettime",
	/* memory */
	"mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall", "brk",
	"membarrier", "get_mempolicy", "set_mempolicy", "mbind",
	/* signals and time */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"rt_sigsuspend", "rt_sigtimedwait", "rt_sigqueueinfo",
	"rt_tgsigqueueinfo", "sigaltstack", "kill", "tgkill", "tkill",
	"pause", "alarm", "nanosleep", "clock_nanosleep", "clock_gettime",
	"clock_getres", "gettimeofday", "time", "getitimer", "setitimer",
	"timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
	"timer_delete",
	/* processes */
	"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4",
	"waitid", "set_tid_address", "set_robust_list", "get_robust_list",
	"futex", "futex_waitv", "rseq", "arch_prctl", "prctl", "getrandom",
	"pidfd_open", "pidfd_send_signal", "restart_syscall",
	"sched_yield", "sched_getaffinity", "sched_setaffinity",
	"sched_getparam", "sched_setparam", "sched_getscheduler",
	"sched_setscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval", "getpriority",
	"setpriority", "ioprio_get", "ioprio_set",
	/* identity (no capabilities are left, so these only narrow) */
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getgroups", "setuid", "setgid",
	"setreuid", "setregid", "setresuid", "setresgid", "setgroups",
	"setfsuid", "setfsgid", "capget", "capset", "getpgid", "getpgrp",
	"setpgid", "setsid", "getsid", "getrlimit", "setrlimit", "prlimit64",
	"getrusage", "times", "sysinfo", "uname",
	/* SysV IPC (a private IPC namespace) */
	"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semctl",
	"semtimedop", "msgget", "msgsnd", "msgrcv", "msgctl",
	/* sockets: socket() and socketpair() are filtered below */
	"connect", "accept", "accept4", "bind", "listen", "getsockname",
	"getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
	"recvmmsg", "shutdown", "setsockopt", "getsockopt",
	/* landlock may be stacked by the command itself */
	"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
	NULL,
};

/* Refused with EPERM: explicit, so the refusal is clear and stable. */
static const char *const refused[] = {
	"ptrace", "mount", "umount", "umount2", "pivot_root", "chroot",
	"unshare", "setns", "kexec_load", "kexec_file_load", "bpf",
	"perf_event_open", "keyctl", "add_key", "request_key", "init_module",
	"finit_module", "delete_module", "reboot", "swapon", "swapoff",
	"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"process_vm_readv", "process_vm_writev", "open_by_handle_at",
	"name_to_handle_at", "fsopen", "fsconfig", "fsmount", "fspick",
	"move_mount", "open_tree", "mount_setattr", "pidfd_getfd", "kcmp",
	"acct", "quotactl", "syslog", "iopl", "ioperm", "vhangup",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"sethostname", "setdomainname", "lookup_dcookie", "fanotify_init",
	"personality", "uselib", "process_madvise", "set_mempolicy_home_node",
	NULL,
};

#define NS_CLONE_FLAGS                                                       \
	(CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |          \
	 CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

static int add_names(scmp_filter_ctx ctx, uint32_t action,
                     const char *const *names, char *err, size_t errlen)
{
	for (; *names; names++) {
		int nr = seccomp_syscall_resolve_name(*names);
		int rc;

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, action, nr, 0);
		if (rc < 0) {
			snprintf(err, errlen, "seccomp rule %s: %s", *names,
			         strerror(-rc));
			return -1;
		}
	}
	return 0;
}

static int add_rules(scmp_filter_ctx ctx, int network, char *err,
                     size_t errlen)
{
	static const unsigned long ns_bits[] = {
		CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
		CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP,
	};
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int rc = 0;

	if (add_names(ctx, SCMP_ACT_ALLOW, allowed, err, errlen) ||
	    add_names(ctx, eperm, refused, err, errlen))
		return -1;
	/* clone3 passes its flags in memory a filter cannot read: it is left
	 * to the default action, ENOSYS, which makes glibc fall back to
	 * clone, whose flags are checked here. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	                       SCMP_A0(SCMP_CMP_MASKED_EQ, NS_CLONE_FLAGS, 0));
	for (size_t i = 0; i < sizeof(ns_bits) / sizeof(ns_bits[0]); i++)
		rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1,
		                       SCMP_A0(SCMP_CMP_MASKED_EQ, ns_bits[i],
		                               ns_bits[i]));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
	                       SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(socketpair), 1,
	                       SCMP_A0(SCMP_CMP_NE, AF_UNIX));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	                       SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (network) {
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		                       SCMP_A0(SCMP_CMP_EQ, AF_INET));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		                       SCMP_A0(SCMP_CMP_EQ, AF_INET6));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		                       SCMP_A0(SCMP_CMP_EQ, AF_NETLINK));
	} else {
		rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(socket), 1,
		                       SCMP_A0(SCMP_CMP_NE, AF_UNIX));
	}
	if (rc) {
		snprintf(err, errlen, "seccomp: argument rules refused");
		return -1;
	}
	return 0;
}

int ns_bpf_build(struct ns_bpf *out, int network, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	int fd = -1, rc = -1;
	off_t size;

	memset(out, 0, sizeof(*out));
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	/* We set no_new_privs ourselves, before the filter is loaded. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (add_rules(ctx, network, err, errlen))
		goto out;
	fd = memfd_create("mcpd-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0 ||
	    (size = lseek(fd, 0, SEEK_CUR)) <= 0 ||
	    size % sizeof(struct sock_filter) ||
	    size / sizeof(struct sock_filter) > 65535) {
		snprintf(err, errlen, "seccomp: cannot export the filter");
		goto out;
	}
	out->insns = malloc((size_t)size);
	if (!out->insns || pread(fd, out->insns, (size_t)size, 0) != size) {
		snprintf(err, errlen, "seccomp: cannot read the filter back");
		free(out->insns);
		out->insns = NULL;
		goto out;
	}
	out->len = (unsigned short)(size / sizeof(struct sock_filter));
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return rc;
}

void ns_bpf_free(struct ns_bpf *b)
{
	free(b->insns);
	memset(b, 0, sizeof(*b));
}

/* ---- Landlock ---- */

/* The kernel's structs, as of ABI 6; older headers lack the newer fields. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER (1ULL << 13)      /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define LL_NET_BIND_TCP (1ULL << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)
#define LL_RULE_PATH_BENEATH 1
#define LL_CREATE_RULESET_VERSION (1U << 0)

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

int ns_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	                   LL_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static int ll_allow(int ruleset, const char *path, uint64_t access)
{
	struct ll_path_beneath pb;
	int fd = open(path, O_PATH | O_CLOEXEC), rc;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	pb.allowed_access = access;
	pb.parent_fd = fd;
	rc = (int)syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH,
	                  &pb, 0);
	rc = rc < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int ns_landlock_apply(int abi, int network)
{
	struct ll_ruleset_attr attr = {0};
	uint64_t fs = LL_FS_ABI1, rd = LL_FS_EXECUTE | LL_FS_READ_FILE |
	                               LL_FS_READ_DIR;
	size_t size = sizeof(uint64_t);
	int rs, rc;

	if (abi >= 2)
		fs |= LL_FS_REFER;
	if (abi >= 3)
		fs |= LL_FS_TRUNCATE;
	attr.handled_access_fs = fs;
	if (abi >= 4) {
		size = 2 * sizeof(uint64_t);
		if (!network)
			attr.handled_access_net = LL_NET_BIND_TCP |
			                          LL_NET_CONNECT_TCP;
	}
	if (abi >= 6) {
		size = sizeof(attr);
		attr.scoped = LL_SCOPE_SIGNAL |
		              (network ? 0 : LL_SCOPE_ABSTRACT_UNIX);
	}
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0)
		return -errno;
	if ((rc = ll_allow(rs, "/", rd)) ||
	    (rc = ll_allow(rs, "/work", fs)) || (rc = ll_allow(rs, "/tmp", fs)) ||
	    (rc = ll_allow(rs, "/dev", rd | LL_FS_WRITE_FILE |
	                                   (abi >= 3 ? LL_FS_TRUNCATE : 0))) ||
	    (rc = ll_allow(rs, "/proc", rd | LL_FS_WRITE_FILE)))
		goto out;
	if (syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		rc = -errno;
out:
	close(rs);
	return rc;
}
