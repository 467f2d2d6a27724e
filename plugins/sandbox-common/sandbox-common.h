/*
 * sandbox-common.h -- the driver-independent half of mcpd's sandbox drivers.
 *
 * A static library (PIC) linked into each sandbox driver plugin
 * (sandbox-ns, sandbox-bwrap, sandbox-process); it is not a plugin and
 * exports nothing from the .so (plugins build with hidden visibility).
 * Every function here is safe to call from several worker threads at once
 * unless it says otherwise; functions marked "child-safe" only make system
 * calls and may run in a child forked from the multi-threaded daemon.
 *
 * A driver fills a struct sbx_driver (name, isolation, run()) and calls
 * sbx_driver_init() from its plugin init: that reads the common config
 * keys, offers the "sandbox" service vtable and declares "sandbox.exec".
 * Its run() receives a parsed, validated request and typically:
 *
 *	sbx_pipes_open()            stdin/stdout/stderr pipes
 *	sbx_workdir_create()        (or its own work dir) + sbx_files_place()
 *	sbx_cgroup_new()            + sbx_cgroup_limit() + sbx_cgroup_attach()
 *	sbx_rlimits_prepare()       in the parent; sbx_rlimits_apply() in the child
 *	... start the child ...
 *	sbx_watch_run()             feeds stdin, collects output, enforces
 *	                            wall/cpu/memory/pids/output, cancellation
 *	sbx_files_collect()         when req->return_files
 *	sbx_result_build()          the result object
 *
 * Config keys read by sbx_config_load() (block "plugins": {"sandbox-X": {}}):
 *   defaults        {wall_ms, cpu_ms, memory_bytes, pids, output_bytes,
 *                    file_bytes}: used when a request leaves one out
 *   max             same keys: a request's value is capped at these
 *   work_dir_bytes  size cap of the work dir (tmpfs size where used)
 *   tmp_bytes       size cap of /tmp inside
 *   readonly_allow  array of absolute host paths; readonly_paths of a
 *                   request must lie inside one of them (default: none)
 *   run_dir         host directory for per-run scratch dirs (default /tmp)
 *   max_concurrency runs at once through the capability (default 4)
 *   cgroup          "auto" (default), "v2", "v1" or "none"
 *   cgroup_parent   name of the cgroup made under each hierarchy's root
 *                   (default "mcpd-sandbox")
 */
#ifndef MCPD_SANDBOX_COMMON_H
#define MCPD_SANDBOX_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <jansson.h>
#include <mcpd/plugin.h>
#include <mcpd/sandbox.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits and config ---- */

struct sbx_limits {
	int64_t wall_ms;
	int64_t cpu_ms;
	int64_t memory_bytes;
	int64_t pids;
	int64_t output_bytes;
	int64_t file_bytes;
};

enum sbx_cgroup_mode {
	SBX_CGROUP_AUTO = 0,
	SBX_CGROUP_V2,
	SBX_CGROUP_V1,
	SBX_CGROUP_NONE,
};

struct sbx_config {
	struct sbx_limits def; /* defaults */
	struct sbx_limits max; /* caps */
	int64_t work_dir_bytes;
	int64_t tmp_bytes;
	char **readonly_allow; /* canonical absolute paths, NULL-terminated */
	char *run_dir;
	uint32_t max_concurrency;
	enum sbx_cgroup_mode cgroup;
	char *cgroup_parent;
};

/*
 * Read the common keys of `block` (borrowed) into `c`. Keys other than the
 * common ones and `extra_keys` (NULL-terminated, may be NULL) are refused.
 * Returns 0 or MCPD_E_INVAL with err naming the key.
 */
int sbx_config_load(struct sbx_config *c, const json_t *block,
                    const char *const *extra_keys, char *err, size_t errlen);
void sbx_config_clear(struct sbx_config *c);

/* ---- requests ---- */

struct sbx_request {
	char **argv;          /* NULL-terminated */
	char **envp;          /* "KEY=value", NULL-terminated */
	char *stdin_data;     /* may be NULL */
	size_t stdin_len;
	json_t *files;        /* the request's "files" (new ref) or NULL */
	int return_files;
	struct sbx_limits limits; /* effective: defaults, overrides, caps */
	int network;
	char **readonly_paths; /* canonical host paths, NULL-terminated */
	char *driver;          /* short name as asked ("ns"), or NULL */
};

/*
 * Parse and validate a sandbox.exec request (borrowed) against `c`.
 * Returns 0, MCPD_E_INVAL with err naming the field, or MCPD_E_NOMEM.
 * On error `r` is left cleared.
 */
int sbx_request_parse(struct sbx_request *r, const json_t *in,
                      const struct sbx_config *c, char *err, size_t errlen);
void sbx_request_clear(struct sbx_request *r);

/*
 * "ns", "sandbox-ns" -> "ns". Returns NULL for a name that is not a
 * driver name ([a-z0-9_-], 1..48 bytes). Static buffer owned by caller.
 */
const char *sbx_driver_short(const char *name, char *buf, size_t len);

/*
 * Is `rel` a safe relative path for the work dir (no leading '/', no
 * "." / ".." / empty components, no NUL, at most 4096 bytes)?
 * Returns 0, or MCPD_E_INVAL with a reason in err.
 */
int sbx_path_check(const char *rel, char *err, size_t errlen);

/*
 * Is canonical absolute `path` equal to or below one of `allow`
 * (NULL-terminated canonical paths)? Component-wise: /opt/a does not
 * cover /opt/ab. Returns 1 or 0.
 */
int sbx_path_allowed(const char *path, char *const *allow);

/* ---- work dir and files ---- */

/*
 * Make a fresh directory "sbx-XXXXXX" under `parent` (mode 0700, or 0755
 * when `world` so another uid can enter). *path (malloc'd) and *dirfd
 * (O_DIRECTORY|O_CLOEXEC) on success.
 */
int sbx_workdir_create(const char *parent, int world, char **path,
                       int *dirfd, char *err, size_t errlen);

/*
 * Remove directory `path` and everything below it without following a
 * symbolic link anywhere (what the sandbox left there is untrusted).
 * Returns 0 or -errno.
 */
int sbx_workdir_remove(const char *path);

/*
 * Place `files` (the request's object) below `dirfd`: parents made with
 * mode 0755, files 0644 (0755 when executable), each created with
 * O_EXCL|O_NOFOLLOW and every path component opened with O_NOFOLLOW, so
 * no symlink is ever followed. When uid != (uid_t)-1 each new entry is
 * fchown'ed to uid:gid. Returns 0 or MCPD_E_INVAL/MCPD_E_FAILED with err
 * naming the path.
 */
int sbx_files_place(int dirfd, const json_t *files, uid_t uid, gid_t gid,
                    char *err, size_t errlen);

/*
 * The regular files below `dirfd` that are new or differ from `given`
 * (the request's files, may be NULL), as the result's "files" object
 * (new reference). Symbolic links and special files are skipped, never
 * followed; at most `budget` bytes of content are returned in total,
 * later files are listed as {"size": N, "omitted": true}.
 */
json_t *sbx_files_collect(int dirfd, const json_t *given, int64_t budget);

/* ---- pipes ---- */

/* Parent and child ends of stdin, stdout, stderr; all O_CLOEXEC. */
struct sbx_pipes {
	int in[2];  /* child reads in[0], host writes in[1] */
	int out[2]; /* child writes out[1] */
	int err[2]; /* child writes err[1] */
};

int sbx_pipes_open(struct sbx_pipes *p); /* 0 or -errno */
void sbx_pipes_close_child(struct sbx_pipes *p); /* after the fork */
void sbx_pipes_close(struct sbx_pipes *p);       /* closes what is left */

/*
 * In the child: make in[0], out[1], err[1] its fds 0, 1, 2 and close every
 * other fd from 3 up except those listed in keep (count n). Child-safe.
 * Returns 0 or -errno.
 */
int sbx_pipes_child_setup(const struct sbx_pipes *p, const int *keep,
                          int n);

/* In the child: close every fd >= 3 except the n (<= 128) in keep.
 * Child-safe. */
void sbx_close_fds_except(const int *keep, int n);

/*
 * In the child: default disposition for every signal, empty signal mask.
 * (The daemon ignores SIGPIPE; an ignored signal stays ignored across
 * execve.) Child-safe.
 */
void sbx_child_reset_signals(void);

/*
 * In the child: execve `argv` with `envp`, looking argv[0] up in the PATH
 * of envp (not the daemon's) when it has no '/'. Returns only on failure,
 * with the errno of the most telling attempt. Child-safe.
 */
int sbx_child_exec(char *const argv[], char *const envp[]);

/*
 * In the child: write "mcpd-sandbox: WHAT: strerror(err)\n" to fd 2 and
 * _exit(code). Child-safe.
 */
void sbx_child_die(const char *what, int err, int code)
	__attribute__((noreturn));

/* ---- rlimits ---- */

struct sbx_rlimits {
	int n;
	struct {
		int resource;
		struct rlimit lim;
	} v[10];
};

/*
 * Fill `r` from `l`: RLIMIT_CPU (cpu_ms rounded up to seconds),
 * RLIMIT_FSIZE (file_bytes), RLIMIT_NPROC (pids), RLIMIT_CORE 0,
 * RLIMIT_NOFILE 1024, and RLIMIT_AS (memory_bytes) only when
 * !memory_by_cgroup (an address-space cap breaks runtimes that reserve
 * more than they use, so it is the fallback).
 */
void sbx_rlimits_prepare(struct sbx_rlimits *r, const struct sbx_limits *l,
                         int memory_by_cgroup);

/* Apply in the child. Child-safe. 0 or -errno of the first failure. */
int sbx_rlimits_apply(const struct sbx_rlimits *r);

/* ---- cgroups ---- */

struct sbx_cgroup;

/* Usage read from a run's cgroup; a field is -1 when not available. */
struct sbx_cg_sample {
	int64_t cpu_ns;     /* user + system of everything in it */
	int64_t mem_peak;   /* bytes */
	int64_t oom_kills;  /* processes killed for memory */
	int64_t pids_hits;  /* forks refused by pids.max */
	int64_t nprocs;     /* tasks now */
};

/*
 * Make the cgroup of one run, `name` (unique per run, [A-Za-z0-9_.-]),
 * under config cgroup_parent in each usable hierarchy (v2 with memory,
 * pids, cpu enabled; else the v1 memory, pids, cpuacct hierarchies).
 * Returns NULL when no hierarchy is usable (mode "none", not writable,
 * not root): the caller reports that in enforced. Thread-safe.
 */
struct sbx_cgroup *sbx_cgroup_new(const struct sbx_config *c,
                                  const char *name);

/*
 * Set memory, pids and cpu accounting for `l`; appends the mechanisms it
 * managed to enforced.memory/pids/cpu ("cgroup_v1"/"cgroup_v2") and a
 * sentence to enforced.missing for each it could not. Returns a bitmask
 * of SBX_CG_* that are in force.
 */
#define SBX_CG_MEMORY 0x1
#define SBX_CG_PIDS 0x2
#define SBX_CG_CPU 0x4
int sbx_cgroup_limit(struct sbx_cgroup *cg, const struct sbx_limits *l,
                     json_t *enforced);

/* Move process `pid` (and its future children) in. 0 or -errno. */
int sbx_cgroup_attach(struct sbx_cgroup *cg, pid_t pid);

/* Read usage. 0 or -errno. */
int sbx_cgroup_sample(struct sbx_cgroup *cg, struct sbx_cg_sample *s);

/* SIGKILL every process in it (cgroup.kill on v2, else one by one). */
void sbx_cgroup_kill(struct sbx_cgroup *cg);

/* Kill what is left, remove the directories, free. NULL is a no-op. */
void sbx_cgroup_free(struct sbx_cgroup *cg);

/* "cgroup_v1", "cgroup_v2". */
const char *sbx_cgroup_kind(const struct sbx_cgroup *cg);

/* ---- watching a run ---- */

struct sbx_stream {
	char *buf;
	size_t len;     /* bytes kept, <= limit */
	int64_t total;  /* bytes produced */
	int truncated;
	int eof;
};

/*
 * What sbx_watch_run() needs from the driver. The driver started the
 * child with the child ends of `pipes`; the host ends are non-blocking
 * after sbx_watch_run() starts and are closed by sbx_watch_clear().
 */
struct sbx_watch {
	/* in */
	const struct mcpd_host *host; /* for cancellation and progress */
	struct mcpd_task *caller;     /* may be NULL */
	const struct sbx_request *req;
	int stdin_fd, stdout_fd, stderr_fd; /* host ends; -1 when none */
	/*
	 * Readable when on_event() should look (a pidfd, a status pipe).
	 * on_event returns 1 when the command has ended (sets *wstatus, a
	 * waitpid status), 0 when not yet, <0 on a driver failure.
	 */
	int event_fd;
	int (*on_event)(void *ctx, int *wstatus);
	/* Kill the whole tree now. Idempotent. */
	void (*kill_tree)(void *ctx);
	/* Optional: extra probe each tick; returns a killed_by word or NULL. */
	const char *(*probe)(void *ctx);
	void *ctx;
	struct sbx_cgroup *cg; /* may be NULL; cpu, memory, pids checks */

	/* out */
	struct sbx_stream out, err;
	int ended;             /* on_event returned 1 */
	int wstatus;
	const char *killed_by; /* static word or NULL */
	int cancelled;         /* the caller was cancelled */
	int64_t wall_ms;       /* from sbx_watch_run() start to the end */
	struct sbx_cg_sample cg_last; /* last cgroup sample (-1s without) */
};

/* A watch with no fds yet: sbx_watch_clear() on it closes nothing. (A
 * zeroed one would close fd 0 on an early error path.) */
#define SBX_WATCH_INIT                                                       \
	{ .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .event_fd = -1 }

/*
 * Feed stdin, collect stdout/stderr (truncating at output_bytes, which
 * ends the run: killed_by "output"), and end the run at the wall deadline
 * ("timeout"), at cpu_ms ("cpu", needs a cgroup), when the cgroup saw an
 * OOM kill ("memory") or a refused fork ("pids"), and on cancellation
 * (w->cancelled). Returns once the command has ended and both output
 * streams reached end of file (bounded: after the end, output is drained
 * for at most 2 s more). Returns 0, or <0 when on_event failed (err set).
 */
int sbx_watch_run(struct sbx_watch *w, char *err, size_t errlen);
void sbx_watch_clear(struct sbx_watch *w);

/* ---- results ---- */

/*
 * A fresh enforced object: isolated, dedicated_uid false, empty arrays
 * namespaces/memory/pids/cpu/missing, no_new_privs/caps_dropped/seccomp
 * false, landlock false, network, file null, limits = copy of `l`.
 */
json_t *sbx_enforced_new(int isolated, int network,
                         const struct sbx_limits *l);
/* Append `word` to array enforced[key] (creating it). */
void sbx_enforced_add(json_t *enforced, const char *key, const char *word);
/* Append a sentence to enforced.missing. */
void sbx_enforced_missing(json_t *enforced, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Build the result object (new reference). `cpu_ms` and `max_rss` are
 * the driver's best figures (-1: unknown, reported as 0 / from w->cg_last).
 * Steals `files` (may be NULL) and `enforced`.
 */
json_t *sbx_result_build(const struct sbx_watch *w, const char *driver,
                         int64_t cpu_ms, int64_t max_rss, json_t *files,
                         json_t *enforced);

/* "SIGKILL" for SIGKILL; NULL for an unknown number. */
const char *sbx_signal_name(int sig);

/* ---- the plugin glue ---- */

struct sbx_driver {
	/* set by the driver before sbx_driver_init() */
	const char *name;        /* short: "ns" */
	int isolated;
	const char *title;       /* capability title */
	const char *description; /* capability description */
	const char *const *extra_keys; /* driver config keys, NULL-terminated */
	/*
	 * Run a parsed request to the end. Returns as mcpd_sandbox.exec.
	 * Called on worker threads, several at once.
	 */
	int (*run)(struct sbx_driver *d, struct mcpd_task *caller,
	           const struct sbx_request *req, json_t **result, char *err,
	           size_t errlen);
	void *priv;

	/* set by sbx_driver_init() */
	const struct mcpd_host *host;
	struct mcpd_plugin *self;
	struct sbx_config cfg;
	struct mcpd_sandbox vtable;
};

/*
 * From plugin init: read config (d->cfg), provide the "sandbox" service
 * (when the host has service_provide) and declare "sandbox.exec" with
 * attributes {"driver": NAME, "isolated": bool}. Logs and returns a
 * MCPD_E_* on failure.
 *
 * The capability handler: a request naming another driver is delegated to
 * plugin "sandbox-<driver>" through service_acquire; a request naming none
 * goes to the daemon's default driver (services.sandbox) -- run here when
 * that is this plugin. Errors become task failures: "bad_input" (message
 * names the field), "sandbox_failed", or cancellation.
 */
int sbx_driver_init(struct sbx_driver *d, const struct mcpd_host *host,
                    struct mcpd_plugin *self);
void sbx_driver_fini(struct sbx_driver *d);

/* Map an exec return to a task error code ("bad_input"...). */
const char *sbx_error_code(int rc);

/* Monotonic milliseconds. */
int64_t sbx_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif /* MCPD_SANDBOX_COMMON_H */
