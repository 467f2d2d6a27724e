/*
 * ns.h -- internals of sandbox-ns shared by its files.
 */
#ifndef MCPD_SANDBOX_NS_H
#define MCPD_SANDBOX_NS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>
#include "sandbox-common.h"

#define NS_INSIDE_UID 1000 /* the command's uid and gid inside */
#define NS_MAX_BINDS 32
#define NS_MAX_RO 64

/* A BPF program ready for prctl(PR_SET_SECCOMP). */
struct ns_bpf {
	struct sock_filter *insns;
	unsigned short len;
};

/* One bind of a host path (file, dir or symlink) into the new root. */
struct ns_bind {
	char path[512]; /* absolute, the same inside and outside */
	int fd;         /* O_PATH fd of the source for readonly_paths, or -1 */
	int optional;   /* skip when missing */
};

/*
 * Everything the sandbox's init needs to build the root, prepared in the
 * daemon before clone() (the child gets a copy of this memory) so the
 * child only makes system calls.
 */
struct ns_setup {
	char root[512];        /* empty host dir to mount the new root on */
	int ctl_fd;            /* host -> init: go byte, run spec, EOF */
	int st_fd;             /* init -> host: struct ns_msg */
	struct sbx_pipes pipes;
	int network;
	int root_case;         /* the daemon is root: two mapped uids */
	int64_t work_bytes, tmp_bytes;
	struct ns_bind binds[NS_MAX_BINDS]; /* /usr, /bin... and /etc files */
	int n_binds;
	struct ns_bind ro[NS_MAX_RO];       /* readonly_paths */
	int n_ro;
	int cap_last;          /* /proc/sys/kernel/cap_last_cap */
	int landlock_abi;      /* 0: do not use */
	const struct ns_bpf *bpf; /* NULL: no seccomp */
	char passwd[256], group[256], hosts[128];
};

/* Messages from init to the host; each one write(), < PIPE_BUF. */
enum { NS_MSG_READY = 1, NS_MSG_FAIL, NS_MSG_EXIT };
struct ns_msg {
	int type;
	int err;     /* errno for FAIL */
	int status;  /* waitpid status for EXIT */
	int flags;   /* READY: NS_OK_* that worked */
	char what[112];
};
#define NS_OK_CGROUPNS 0x1
#define NS_OK_HOSTNAME 0x2

/* The run spec, sent to a ready init: header then argv and env strings. */
struct ns_spec_head {
	uint32_t magic;
	uint32_t argc, envc;
	uint32_t strings_len; /* bytes of NUL-ended strings that follow */
	struct sbx_rlimits rl;
};
#define NS_SPEC_MAGIC 0x6d637064u
#define NS_SPEC_MAX (8u << 20)

/* The function clone() runs: the sandbox's init. Never returns. */
int ns_init_main(void *setup);

/* ns-filter.c */
int ns_bpf_build(struct ns_bpf *out, int network, char *err, size_t errlen);
void ns_bpf_free(struct ns_bpf *b);
int ns_landlock_abi(void);
/* Child-side: restrict to the sandbox layout. 0 or -errno. */
int ns_landlock_apply(int abi, int network);

#endif
