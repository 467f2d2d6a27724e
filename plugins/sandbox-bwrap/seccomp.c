/*
 * The seccomp filter sandbox-bwrap hands to bwrap --seccomp: the same
 * refusals as sandbox-ns (kernel attack surface and every way to change
 * namespaces, mounts or another process's memory), as a BPF program built
 * once with libseccomp and copied into a pipe for each run.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <seccomp.h>
#include "bwrap-internal.h"

/* Refused with EPERM. Names libseccomp does not know here are skipped. */
static const char *const deny[] = {
	"ptrace", "process_vm_readv", "process_vm_writev",
	"mount", "umount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
	"open_tree", "mount_setattr",
	"unshare", "setns",
	"kexec_load", "kexec_file_load", "reboot",
	"init_module", "finit_module", "delete_module",
	"bpf", "perf_event_open", "userfaultfd",
	"keyctl", "add_key", "request_key",
	"swapon", "swapoff",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"open_by_handle_at", "name_to_handle_at",
	"acct", "quotactl", "lookup_dcookie", "syslog", "vhangup",
	"iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime",
	"adjtimex",
	NULL,
};

static const unsigned long clone_ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
	CLONE_NEWUTS, CLONE_NEWCGROUP,
};

static int add_rules(scmp_filter_ctx ctx, int network)
{
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int rc = 0;

	for (size_t i = 0; deny[i]; i++) {
		int nr = seccomp_syscall_resolve_name(deny[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		rc = seccomp_rule_add(ctx, eperm, nr, 0);
		/* -EDOM and friends: the call does not exist on this arch */
		if (rc < 0 && rc != -EDOM && rc != -EINVAL)
			return rc;
	}
	/* New namespaces through clone(); clone3 hides its flags in memory,
	 * so it gets ENOSYS and the C library falls back to clone(). */
	for (size_t i = 0; i < sizeof(clone_ns_flags) / sizeof(*clone_ns_flags);
	     i++) {
		rc = seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1,
		                      SCMP_A0(SCMP_CMP_MASKED_EQ,
		                              clone_ns_flags[i],
		                              clone_ns_flags[i]));
		if (rc < 0)
			return rc;
	}
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0 && rc != -EDOM)
		return rc;
	/* Pushing input into the terminal of whoever started the daemon. */
	rc = seccomp_rule_add(ctx, eperm, SCMP_SYS(ioctl), 1,
	                      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
	                              (scmp_datum_t)TIOCSTI));
	if (rc < 0)
		return rc;
	if (!network) {
		rc = seccomp_rule_add(ctx, eperm, SCMP_SYS(socket), 1,
		                      SCMP_A0(SCMP_CMP_NE, AF_UNIX));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sbw_seccomp_build(struct sbw_bpf *out, int network, char *err,
                      size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	struct stat st;
	int fd = -1, rc;

	out->data = NULL;
	out->len = 0;
	if (!ctx) {
		sbw_err(err, errlen, "seccomp_init failed");
		return -1;
	}
	rc = add_rules(ctx, network);
	if (rc < 0) {
		sbw_err(err, errlen, "seccomp rule: %s", strerror(-rc));
		goto fail;
	}
	fd = memfd_create("sbw-seccomp", MFD_CLOEXEC);
	if (fd < 0 || (rc = seccomp_export_bpf(ctx, fd)) < 0 ||
	    fstat(fd, &st) < 0) {
		sbw_err(err, errlen, "seccomp export: %s", strerror(errno));
		goto fail;
	}
	out->len = (size_t)st.st_size;
	out->data = malloc(out->len ? out->len : 1);
	if (!out->data ||
	    pread(fd, out->data, out->len, 0) != (ssize_t)out->len) {
		sbw_err(err, errlen, "seccomp export: short read");
		goto fail;
	}
	close(fd);
	seccomp_release(ctx);
	return 0;
fail:
	free(out->data);
	out->data = NULL;
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return -1;
}
