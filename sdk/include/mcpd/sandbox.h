/*
 * mcpd/sandbox.h -- the "sandbox" service interface, version 1.
 *
 * A sandbox driver is a plugin that runs a command isolated from the host.
 * It offers this vtable with host->service_provide(self, "sandbox", &vt)
 * and declares the capability "sandbox.exec" with the same JSON contract,
 * so plugins call a driver in process and clients call it over REST/MCP.
 *
 * Finding a driver (from a plugin, per use -- not once at init):
 *
 *	const struct mcpd_sandbox *sb;
 *	struct mcpd_service *ref;
 *	if (host->service_acquire(self, MCPD_SANDBOX_IFACE,
 *	                          MCPD_SANDBOX_MAJOR, NULL, (const void **)&sb,
 *	                          &ref) == 0) {
 *		if (MCPD_SANDBOX_HAS(sb, exec))
 *			rc = sb->exec(sb->impl, task, request, &result, err,
 *			              sizeof(err));
 *		host->service_release(ref);
 *	}
 *
 * Provider NULL is the daemon's default driver (config "services":
 * {"sandbox": "sandbox-ns"}); a driver is named by its plugin name,
 * "sandbox-<driver>" (sandbox-ns, sandbox-bwrap, sandbox-process).
 *
 * Versioning: like the plugin ABI. The vtable starts with a struct
 * mcpd_service_head {size, major, minor}; within one major it only grows at
 * the end. Check MCPD_SANDBOX_HAS(vt, member) before using a member added
 * after 1.0.
 *
 * Threads: exec() blocks for the whole run (up to limits.wall_ms plus a
 * little set-up and tear-down). Call it only from a MCPD_CAP_BLOCKING
 * handler (a worker thread), never on the loop. It is safe to call from
 * several workers at once. It creates child processes, never threads.
 *
 * Cleanup: when exec() returns, every process the run created is dead and
 * every mount, cgroup and work directory it made is gone -- also when the
 * caller's task was cancelled or timed out (exec polls
 * host->task_cancelled(caller)) and when the driver is unloaded.
 *
 * ---------------------------------------------------------------------
 * The JSON contract (request = sandbox.exec input, result = its output)
 *
 * Request (an object; unknown keys are refused):
 *   argv            array of 1..256 strings, required. argv[0] is looked up
 *                   in PATH inside the sandbox when it has no '/'.
 *   env             object of string values. Nothing is inherited from the
 *                   daemon. When absent from env, PATH
 *                   (/usr/local/bin:/usr/bin:/bin), HOME (/work),
 *                   TMPDIR (/tmp) and LANG (C.UTF-8) are set.
 *   stdin           string fed to the command's standard input, which is
 *                   then closed (default: empty).
 *   files           object: relative path -> content, placed in a fresh,
 *                   writable work directory that is the command's cwd
 *                   (/work in isolating drivers). Content is a string
 *                   (UTF-8 text) or an object {"content": string} or
 *                   {"base64": string}, with optional "executable": true.
 *                   Paths are relative, without "." or ".." components or
 *                   empty components; parent directories are created.
 *   return_files    boolean (default false): report changed or new files
 *                   of the work dir in the result's "files".
 *   limits          object of integers, each optional:
 *                     wall_ms, cpu_ms, memory_bytes, pids, output_bytes
 *                     (per stream), file_bytes (largest file written).
 *                   Absent ones come from the driver's config defaults;
 *                   each is capped at the config maximum (the effective
 *                   values are reported in enforced.limits).
 *   network         boolean (default false). false: no network at all
 *                   (own empty network namespace, only AF_UNIX sockets).
 *   readonly_paths  array of absolute host paths bound read-only at the
 *                   same path inside; each must lie in the driver's
 *                   configured allow list (readonly_allow).
 *   driver          string: "ns", "bwrap", "process" (or the plugin name
 *                   "sandbox-ns"...). Through the capability, a task
 *                   naming another driver is delegated to it. exec() of a
 *                   vtable refuses (MCPD_E_INVAL) a driver other than its
 *                   own: acquire the one you want instead.
 *
 * Result (an object):
 *   exit_code         integer when the command exited, null when a signal
 *                     ended it
 *   signal            signal name ("SIGKILL", "SIGSEGV"...) or null
 *   stdout, stderr    strings (invalid UTF-8 bytes replaced by U+FFFD),
 *                     at most limits.output_bytes bytes each
 *   stdout_truncated, stderr_truncated   booleans
 *   wall_ms, cpu_ms   integers (cpu: user + system of the whole tree)
 *   max_rss_bytes     integer (peak of the cgroup when one was used, else
 *                     the largest process)
 *   killed_by         "timeout" | "cpu" | "memory" | "pids" | "output" |
 *                     null -- which limit made the driver end the run.
 *                     Reaching output_bytes on a stream ends the run;
 *                     reaching pids (a fork that failed for it) ends the
 *                     run where the driver can observe it.
 *   files             only when return_files: object path -> string (text)
 *                     or {"base64": string} (binary) or
 *                     {"size": N, "omitted": true} (past the output budget)
 *   driver            "ns", "bwrap", "process"
 *   enforced          object: what was really in force for this run:
 *                       isolated (bool), dedicated_uid (bool),
 *                       namespaces (array: "user","pid","mount","net",
 *                       "ipc","uts","cgroup"), no_new_privs (bool),
 *                       caps_dropped (bool), seccomp (bool),
 *                       landlock (ABI number, or false), network
 *                       ("none" | "host"), memory, pids, cpu (arrays of
 *                       mechanisms: "cgroup_v1", "cgroup_v2", "rlimit"),
 *                       file ("rlimit" or null), work_dir_bytes,
 *                       tmp_bytes (size caps, or null), limits (the
 *                       effective limits), missing (array of sentences
 *                       naming layers this machine did not allow).
 *
 * ---------------------------------------------------------------------
 */
#ifndef MCPD_SANDBOX_H
#define MCPD_SANDBOX_H

#include <stddef.h>
#include <mcpd/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MCPD_SANDBOX_IFACE "sandbox"
#define MCPD_SANDBOX_MAJOR 1
#define MCPD_SANDBOX_MINOR 0

struct mcpd_sandbox {
	/* {sizeof(struct mcpd_sandbox), MCPD_SANDBOX_MAJOR, MCPD_SANDBOX_MINOR} */
	struct mcpd_service_head head;

	/* Short driver name, e.g. "ns"; static, never NULL. */
	const char *name;

	/* Non-zero when the driver isolates (sandbox-process: 0). */
	int isolated;

	/* Passed back to exec as is. */
	void *impl;

	/*
	 * Run `request` (borrowed; the JSON above) to completion.
	 *
	 * `caller` may be NULL; when given it is the task on whose worker
	 * thread exec runs: exec stops the run (killing the whole tree) soon
	 * after host->task_cancelled(caller) turns non-zero, and reports
	 * progress on it.
	 *
	 * Returns 0 with *result a new reference to the result object --
	 * also when the command failed, crashed or hit a limit (see exit_code,
	 * signal, killed_by). Otherwise *result is NULL, err holds a sentence
	 * (naming the field for bad input) and the return is:
	 *   MCPD_E_INVAL      bad request (map to task error "bad_input")
	 *   MCPD_E_CANCELLED  caller was cancelled; the run was killed
	 *   MCPD_E_FAILED     the sandbox could not be set up
	 *   MCPD_E_NOMEM
	 */
	int (*exec)(void *impl, struct mcpd_task *caller,
	            const json_t *request, json_t **result, char *err,
	            size_t errlen);
};

/* Does vtable `vt` (a struct mcpd_sandbox *) have member `member`? */
#define MCPD_SANDBOX_HAS(vt, member)                                         \
	((vt)->head.size >= offsetof(struct mcpd_sandbox, member) +           \
	                        sizeof((vt)->member) &&                        \
	 (vt)->member != NULL)

#ifdef __cplusplus
}
#endif
#endif /* MCPD_SANDBOX_H */
