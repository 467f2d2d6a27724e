/*
 * sandbox-process: runs the command as a plain child of the daemon, in its
 * own process group, with rlimits and (when the machine lets us) a cgroup.
 * It does NOT isolate: the command sees the host's files, network and
 * processes with the daemon's uid. For development only; it declares
 * nothing unless its config says {"enabled": true}, and every result says
 * "isolated": false.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sandbox-common.h"

struct proc_run {
	pid_t pid;
	int reaped;
	struct rusage ru;
	struct sbx_cgroup *cg;
};

static const char *const extra_keys[] = {"enabled", NULL};
static struct sbx_driver drv;
static atomic_uint run_seq;

static int on_event(void *ctx, int *wstatus)
{
	struct proc_run *p = ctx;
	pid_t r = wait4(p->pid, wstatus, WNOHANG, &p->ru);

	if (r == 0)
		return 0;
	if (r < 0)
		return -1;
	p->reaped = 1;
	/* What the command left behind in its group or cgroup goes too. */
	kill(-p->pid, SIGKILL);
	if (p->cg)
		sbx_cgroup_kill(p->cg);
	return 1;
}

static void kill_tree(void *ctx)
{
	struct proc_run *p = ctx;

	if (!p->reaped) /* after the reap the pid may be someone else's */
		kill(-p->pid, SIGKILL);
	if (p->cg)
		sbx_cgroup_kill(p->cg);
}

/* HOME=/work (the default) means the work dir here. */
static char **make_env(char *const *envp, const char *workdir)
{
	size_t n = 0;
	char **env;

	while (envp[n])
		n++;
	if (!(env = calloc(n + 1, sizeof(char *))))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(envp[i], "HOME=/work")) {
			size_t len = strlen(workdir) + 6;

			if ((env[i] = malloc(len)))
				snprintf(env[i], len, "HOME=%s", workdir);
		} else {
			env[i] = strdup(envp[i]);
		}
		if (!env[i]) {
			for (size_t j = 0; j < i; j++)
				free(env[j]);
			free(env);
			return NULL;
		}
	}
	return env;
}

static void free_env(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}

/* The child: never returns. Only system calls from here on. */
static void child(struct sbx_pipes *pp, int go, const char *workdir,
                  const struct sbx_rlimits *rl, char *const *argv,
                  char *const *envp)
{
	char byte;
	int e;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sbx_child_reset_signals();
	if (sbx_pipes_child_setup(pp, &go, 1) < 0)
		_exit(126);
	/* Wait until the parent has put us in the cgroup. */
	if (read(go, &byte, 1) != 1)
		_exit(126);
	close(go);
	if (chdir(workdir) < 0)
		sbx_child_die("work dir", errno, 126);
	if ((e = sbx_rlimits_apply(rl)) < 0)
		sbx_child_die("rlimits", -e, 126);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	e = sbx_child_exec(argv, envp);
	sbx_child_die(argv[0], e, e == ENOENT ? 127 : 126);
}

/* What is in force: a cgroup when one is usable, rlimits always. */
static json_t *make_enforced(const struct sbx_request *req,
                             struct sbx_cgroup *cg, int *cg_got)
{
	json_t *enf = sbx_enforced_new(0, 1, &req->limits);

	if (!enf)
		return NULL;
	json_object_set_new(enf, "no_new_privs", json_true());
	*cg_got = 0;
	if (cg)
		*cg_got = sbx_cgroup_limit(cg, &req->limits, enf);
	else
		sbx_enforced_missing(enf, "cgroup: none usable; rlimits only");
	if (!(*cg_got & SBX_CG_MEMORY))
		sbx_enforced_add(enf, "memory", "rlimit");
	sbx_enforced_add(enf, "pids", "rlimit");
	sbx_enforced_add(enf, "cpu", "rlimit");
	json_object_set_new(enf, "file", json_string("rlimit"));
	sbx_enforced_missing(enf, "isolation: sandbox-process runs the "
	                          "command on the host, unisolated");
	if (!req->network)
		sbx_enforced_missing(enf, "network: not cut off (asked: none)");
	if (req->readonly_paths[0])
		sbx_enforced_missing(enf, "readonly_paths: the whole host is "
		                          "visible, not only these");
	return enf;
}

static int run(struct sbx_driver *d, struct mcpd_task *caller,
               const struct sbx_request *req, json_t **result, char *err,
               size_t errlen)
{
	struct sbx_pipes pp = {{-1, -1}, {-1, -1}, {-1, -1}};
	struct proc_run p = {0};
	struct sbx_watch w = SBX_WATCH_INIT;
	struct sbx_rlimits rl;
	char *workdir = NULL, **env = NULL, name[64];
	int dirfd = -1, go[2] = {-1, -1}, pidfd = -1, cg_got = 0, rc;
	json_t *enf = NULL, *files = NULL;

	rc = sbx_workdir_create(d->cfg.run_dir, 0, &workdir, &dirfd, err,
	                        errlen);
	if (rc)
		return rc;
	if (req->files &&
	    (rc = sbx_files_place(dirfd, req->files, (uid_t)-1, (gid_t)-1, err,
	                          errlen)))
		goto out;
	snprintf(name, sizeof(name), "process-%d-%u", (int)getpid(),
	         atomic_fetch_add(&run_seq, 1));
	p.cg = sbx_cgroup_new(&d->cfg, name);
	rc = MCPD_E_NOMEM;
	if (!(env = make_env(req->envp, workdir)) ||
	    !(enf = make_enforced(req, p.cg, &cg_got)))
		goto out;
	sbx_rlimits_prepare(&rl, &req->limits, cg_got & SBX_CG_MEMORY);
	rc = MCPD_E_FAILED;
	if (sbx_pipes_open(&pp) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipes: %s", strerror(errno));
		goto out;
	}
	p.pid = fork();
	if (p.pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (p.pid == 0) {
		close(go[1]);
		child(&pp, go[0], workdir, &rl, req->argv, env);
	}
	close(go[0]);
	go[0] = -1;
	sbx_pipes_close_child(&pp);
	setpgid(p.pid, p.pid); /* both sides: no race on who runs first */
	if (p.cg && sbx_cgroup_attach(p.cg, p.pid) < 0)
		sbx_enforced_missing(enf, "cgroup: could not move the command "
		                          "in; its limits did not apply");
	pidfd = (int)syscall(SYS_pidfd_open, p.pid, 0);
	if (pidfd < 0 || write(go[1], "g", 1) != 1) {
		snprintf(err, errlen, "start: %s", strerror(errno));
		kill(-p.pid, SIGKILL);
		waitpid(p.pid, NULL, 0);
		goto out;
	}
	w = (struct sbx_watch){
		.host = d->host, .caller = caller, .req = req,
		.stdin_fd = pp.in[1], .stdout_fd = pp.out[0],
		.stderr_fd = pp.err[0], .event_fd = pidfd,
		.on_event = on_event, .kill_tree = kill_tree, .ctx = &p,
		.cg = p.cg,
	};
	pp.in[1] = pp.out[0] = pp.err[0] = -1; /* the watch owns them now */
	rc = sbx_watch_run(&w, err, errlen);
	if (!p.reaped) { /* a failed watch: make sure it is gone */
		kill(-p.pid, SIGKILL);
		wait4(p.pid, &w.wstatus, 0, &p.ru);
		p.reaped = 1;
	}
	if (rc)
		goto out;
	if (w.cancelled) {
		snprintf(err, errlen, "cancelled");
		rc = MCPD_E_CANCELLED;
		goto out;
	}
	if (req->return_files)
		files = sbx_files_collect(dirfd, req->files,
		                          req->limits.output_bytes);
	*result = sbx_result_build(
		&w, d->name,
		(int64_t)(p.ru.ru_utime.tv_sec + p.ru.ru_stime.tv_sec) * 1000 +
			(p.ru.ru_utime.tv_usec + p.ru.ru_stime.tv_usec) / 1000,
		(int64_t)p.ru.ru_maxrss * 1024, files, enf);
	enf = NULL;
	rc = *result ? 0 : MCPD_E_NOMEM;
out:
	sbx_watch_clear(&w);
	json_decref(enf);
	if (pidfd >= 0)
		close(pidfd);
	for (int i = 0; i < 2; i++)
		if (go[i] >= 0)
			close(go[i]);
	sbx_pipes_close(&pp);
	sbx_cgroup_free(p.cg);
	free_env(env);
	if (dirfd >= 0)
		close(dirfd);
	if (workdir)
		sbx_workdir_remove(workdir);
	free(workdir);
	return rc;
}

static int process_init(const struct mcpd_host *host,
                        struct mcpd_plugin *self)
{
	const json_t *en = json_object_get(host->config(self), "enabled");

	if (en && !json_is_boolean(en)) {
		host->log(self, MCPD_LOG_ERROR, "config enabled: must be a boolean");
		return MCPD_E_INVAL;
	}
	if (!json_is_true(en)) {
		host->log(self, MCPD_LOG_INFO,
		          "disabled: it runs commands unisolated; set "
		          "plugins.\"sandbox-process\".enabled to true to offer "
		          "it (development only)");
		return 0;
	}
	drv = (struct sbx_driver){
		.name = "process",
		.isolated = 0,
		.title = "Run a command (unisolated, development)",
		.description = "Runs argv as a plain child process with rlimits "
		               "and a process group; NOT isolated from the host.",
		.extra_keys = extra_keys,
		.run = run,
	};
	host->log(self, MCPD_LOG_WARN,
	          "enabled: sandbox.exec through this driver is NOT isolated");
	return sbx_driver_init(&drv, host, self);
}

static void process_fini(struct mcpd_plugin *self)
{
	(void)self;
	if (drv.host)
		sbx_driver_fini(&drv);
	drv = (struct sbx_driver){0};
}

MCPD_PLUGIN("sandbox-process", "1.0.0",
            "Development sandbox driver: rlimits and a process group, no "
            "isolation",
            0, process_init, process_fini)
