/*
 * One cgroup per run, for memory and pids limits and whole-tree CPU and
 * memory accounting. cgroup v2 when its memory and pids controllers can be
 * enabled below the hierarchy's root; otherwise the v1 memory, pids and
 * cpuacct hierarchies (some machines only have those writable). Without
 * either (an unprivileged daemon, "cgroup": "none") the drivers fall back
 * to rlimits and say so in enforced.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "sandbox-common.h"
#include "sandbox-internal.h"

enum { V1_MEMORY, V1_PIDS, V1_CPUACCT, V1_N };

static const char *const v1_names[V1_N] = {"memory", "pids", "cpuacct"};

/* What this process found usable, decided once. */
static struct {
	int probed;
	int v2;                 /* a usable v2 parent */
	char v2_parent[1024];    /* <mount>/<cgroup_parent> */
	int v2_cpu;             /* cpu controller enabled (not needed to
	                           account: cpu.stat is always there) */
	char v1_parent[V1_N][1024]; /* "" when that controller is unusable */
} cgs;
static pthread_mutex_t cgs_lock = PTHREAD_MUTEX_INITIALIZER;

struct sbx_cgroup {
	int v2;
	char dir[V1_N][1400]; /* v2: only dir[0] */
};

static int write_str(const char *dir, const char *file, const char *s)
{
	char path[1500];
	int fd, rc = 0;
	size_t n = strlen(s);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, n) != (ssize_t)n)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}

static int write_i64(const char *dir, const char *file, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return write_str(dir, file, buf);
}

static ssize_t read_str(const char *dir, const char *file, char *buf,
                        size_t len)
{
	char path[1500];
	int fd;
	ssize_t n, got = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < (ssize_t)len - 1 &&
	       (n = read(fd, buf + got, len - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	return got;
}

static int64_t read_i64(const char *dir, const char *file)
{
	char buf[64];

	if (read_str(dir, file, buf, sizeof(buf)) <= 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

/* The value of "key N" in a flat-keyed file (memory.events...), or -1. */
static int64_t read_key(const char *dir, const char *file, const char *key)
{
	char buf[2048], *p;
	size_t kl = strlen(key);

	if (read_str(dir, file, buf, sizeof(buf)) <= 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoll(p + kl + 1, NULL, 10);
	return -1;
}

static int make_dir(const char *path)
{
	return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

static void probe_v2(const char *mnt, const char *parent)
{
	char ctl[512];

	if (read_str(mnt, "cgroup.controllers", ctl, sizeof(ctl)) <= 0 ||
	    !strstr(ctl, "memory") || !strstr(ctl, "pids"))
		return;
	/* The root cgroup may have processes and enabled controllers. */
	if (write_str(mnt, "cgroup.subtree_control", "+memory +pids") < 0)
		return;
	cgs.v2_cpu = write_str(mnt, "cgroup.subtree_control", "+cpu") == 0;
	snprintf(cgs.v2_parent, sizeof(cgs.v2_parent), "%s/%s", mnt, parent);
	if (make_dir(cgs.v2_parent) < 0 ||
	    write_str(cgs.v2_parent, "cgroup.subtree_control",
	              cgs.v2_cpu ? "+memory +pids +cpu" : "+memory +pids") < 0)
		return;
	cgs.v2 = 1;
}

static void probe_v1(const char *mnt, const char *opts, const char *parent)
{
	for (int i = 0; i < V1_N; i++) {
		char *tok, *save, copy[512];

		if (cgs.v1_parent[i][0])
			continue;
		snprintf(copy, sizeof(copy), "%s", opts);
		for (tok = strtok_r(copy, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			if (!strcmp(tok, v1_names[i]))
				break;
		if (!tok)
			continue;
		snprintf(cgs.v1_parent[i], sizeof(cgs.v1_parent[i]), "%s/%s",
		         mnt, parent);
		if (make_dir(cgs.v1_parent[i]) < 0 ||
		    access(cgs.v1_parent[i], W_OK) < 0)
			cgs.v1_parent[i][0] = '\0';
	}
}

/* Walk /proc/self/mountinfo for cgroup and cgroup2 mounts. */
static void probe(const struct sbx_config *c)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], v2mnt[512] = "";
	int want_v2 = c->cgroup == SBX_CGROUP_AUTO || c->cgroup == SBX_CGROUP_V2;
	int want_v1 = c->cgroup == SBX_CGROUP_AUTO || c->cgroup == SBX_CGROUP_V1;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mnt[512], fstype[64], super[512];
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s %*s %511s", fstype, super) != 2)
			continue;
		if (!strcmp(fstype, "cgroup2") && !v2mnt[0])
			snprintf(v2mnt, sizeof(v2mnt), "%s", mnt);
		else if (!strcmp(fstype, "cgroup") && want_v1)
			probe_v1(mnt, super, c->cgroup_parent);
	}
	fclose(f);
	if (want_v2 && v2mnt[0])
		probe_v2(v2mnt, c->cgroup_parent);
	if (cgs.v2) /* v2 wins; forget v1 */
		memset(cgs.v1_parent, 0, sizeof(cgs.v1_parent));
	if (!want_v1)
		memset(cgs.v1_parent, 0, sizeof(cgs.v1_parent));
}

/*
 * A daemon killed with SIGKILL cannot remove its per-run cgroups. They are
 * named <driver>-<pid>-...: at the first probe, remove those whose daemon
 * is gone (killing what may still run in them). A pid reused by a live
 * process keeps its cgroups; they go once that process is gone too.
 */
static void nap(long ms);

static void reap_stale(const char *parent)
{
	DIR *dh = parent[0] ? opendir(parent) : NULL;
	struct dirent *de;

	if (!dh)
		return;
	while ((de = readdir(dh))) {
		char drv[32], dir[1400], procs[4096];
		int pid, n;

		if (sscanf(de->d_name, "%31[a-z]-%d-%n", drv, &pid, &n) != 2 ||
		    pid <= 0 || pid == (int)getpid() ||
		    !(kill(pid, 0) < 0 && errno == ESRCH))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", parent, de->d_name);
		for (int tries = 0; rmdir(dir) < 0 && errno == EBUSY &&
		                    tries < 200; tries++) {
			ssize_t len = read_str(dir, "cgroup.procs", procs,
			                       sizeof(procs));
			for (char *p = procs; len > 0 && *p;) {
				char *end;
				long victim = strtol(p, &end, 10);
				if (end == p)
					break;
				if (victim > 0)
					kill((pid_t)victim, SIGKILL);
				p = end;
			}
			nap(5);
		}
	}
	closedir(dh);
}

struct sbx_cgroup *sbx_cgroup_new(const struct sbx_config *c,
                                  const char *name)
{
	struct sbx_cgroup *cg;
	int any = 0;

	if (c->cgroup == SBX_CGROUP_NONE)
		return NULL;
	pthread_mutex_lock(&cgs_lock);
	if (!cgs.probed) {
		probe(c);
		cgs.probed = 1;
		if (cgs.v2)
			reap_stale(cgs.v2_parent);
		for (int i = 0; i < V1_N; i++)
			reap_stale(cgs.v1_parent[i]);
	}
	pthread_mutex_unlock(&cgs_lock);
	if (!(cg = calloc(1, sizeof(*cg))))
		return NULL;
	if (cgs.v2) {
		cg->v2 = 1;
		snprintf(cg->dir[0], sizeof(cg->dir[0]), "%s/%s",
		         cgs.v2_parent, name);
		if (mkdir(cg->dir[0], 0755) == 0)
			return cg;
		free(cg);
		return NULL;
	}
	for (int i = 0; i < V1_N; i++) {
		if (!cgs.v1_parent[i][0])
			continue;
		snprintf(cg->dir[i], sizeof(cg->dir[i]), "%s/%s",
		         cgs.v1_parent[i], name);
		if (mkdir(cg->dir[i], 0755) < 0)
			cg->dir[i][0] = '\0';
		else
			any = 1;
	}
	if (!any) {
		free(cg);
		return NULL;
	}
	return cg;
}

const char *sbx_cgroup_kind(const struct sbx_cgroup *cg)
{
	return cg->v2 ? "cgroup_v2" : "cgroup_v1";
}

int sbx_cgroup_limit(struct sbx_cgroup *cg, const struct sbx_limits *l,
                     json_t *enf)
{
	const char *kind = sbx_cgroup_kind(cg);
	int got = 0;

	if (cg->v2) {
		if (write_i64(cg->dir[0], "memory.max", l->memory_bytes) == 0) {
			/* Swap would let a memory bomb run on past the cap. */
			write_str(cg->dir[0], "memory.swap.max", "0");
			got |= SBX_CG_MEMORY;
		}
		if (write_i64(cg->dir[0], "pids.max", l->pids) == 0)
			got |= SBX_CG_PIDS;
		if (read_key(cg->dir[0], "cpu.stat", "usage_usec") >= 0)
			got |= SBX_CG_CPU;
	} else {
		const char *m = cg->dir[V1_MEMORY];

		if (m[0] && write_i64(m, "memory.limit_in_bytes",
		                      l->memory_bytes) == 0) {
			/* memsw exists only with swap accounting; it must not
			 * be below limit_in_bytes, which it now equals. */
			write_i64(m, "memory.memsw.limit_in_bytes",
			          l->memory_bytes);
			got |= SBX_CG_MEMORY;
		}
		if (cg->dir[V1_PIDS][0] &&
		    write_i64(cg->dir[V1_PIDS], "pids.max", l->pids) == 0)
			got |= SBX_CG_PIDS;
		if (cg->dir[V1_CPUACCT][0] &&
		    read_i64(cg->dir[V1_CPUACCT], "cpuacct.usage") >= 0)
			got |= SBX_CG_CPU;
	}
	if (got & SBX_CG_MEMORY)
		sbx_enforced_add(enf, "memory", kind);
	else
		sbx_enforced_missing(enf, "memory: no writable cgroup memory "
		                          "controller");
	if (got & SBX_CG_PIDS)
		sbx_enforced_add(enf, "pids", kind);
	else
		sbx_enforced_missing(enf, "pids: no writable cgroup pids "
		                          "controller");
	if (got & SBX_CG_CPU)
		sbx_enforced_add(enf, "cpu", kind);
	else
		sbx_enforced_missing(enf, "cpu: no cgroup CPU accounting for "
		                          "the whole tree");
	return got;
}

int sbx_cgroup_attach(struct sbx_cgroup *cg, pid_t pid)
{
	int rc = 0;

	for (int i = 0; i < V1_N; i++) {
		if (!cg->dir[i][0])
			continue;
		int r = write_i64(cg->dir[i], "cgroup.procs", pid);

		if (r < 0)
			rc = r;
	}
	return rc;
}

int sbx_cgroup_sample(struct sbx_cgroup *cg, struct sbx_cg_sample *s)
{
	memset(s, 0xff, sizeof(*s));
	if (cg->v2) {
		int64_t us = read_key(cg->dir[0], "cpu.stat", "usage_usec");

		s->cpu_ns = us >= 0 ? us * 1000 : -1;
		s->mem_peak = read_i64(cg->dir[0], "memory.peak");
		s->oom_kills = read_key(cg->dir[0], "memory.events", "oom_kill");
		s->pids_hits = read_key(cg->dir[0], "pids.events", "max");
		s->nprocs = read_i64(cg->dir[0], "pids.current");
		return 0;
	}
	if (cg->dir[V1_CPUACCT][0])
		s->cpu_ns = read_i64(cg->dir[V1_CPUACCT], "cpuacct.usage");
	if (cg->dir[V1_MEMORY][0]) {
		s->mem_peak = read_i64(cg->dir[V1_MEMORY],
		                       "memory.max_usage_in_bytes");
		s->oom_kills = read_key(cg->dir[V1_MEMORY], "memory.oom_control",
		                        "oom_kill");
	}
	if (cg->dir[V1_PIDS][0]) {
		s->pids_hits = read_key(cg->dir[V1_PIDS], "pids.events", "max");
		s->nprocs = read_i64(cg->dir[V1_PIDS], "pids.current");
	}
	return 0;
}

/* SIGKILL every pid listed in dir/cgroup.procs; how many were listed. */
static int kill_listed(const char *dir)
{
	char buf[65536], *p, *end;
	int n = 0;

	if (read_str(dir, "cgroup.procs", buf, sizeof(buf)) <= 0)
		return 0;
	for (p = buf; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 1) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
	}
	return n;
}

void sbx_cgroup_kill(struct sbx_cgroup *cg)
{
	if (cg->v2 && write_str(cg->dir[0], "cgroup.kill", "1") == 0)
		return;
	for (int i = 0; i < V1_N; i++)
		if (cg->dir[i][0]) {
			kill_listed(cg->dir[i]);
			return; /* every run process is in each hierarchy */
		}
}

static void nap(long ms)
{
	struct timespec ts = {0, ms * 1000000L};

	nanosleep(&ts, NULL);
}

void sbx_cgroup_free(struct sbx_cgroup *cg)
{
	if (!cg)
		return;
	for (int i = 0; i < V1_N; i++) {
		if (!cg->dir[i][0])
			continue;
		/* Dying processes leave the cgroup a moment after SIGKILL. */
		for (int tries = 0; rmdir(cg->dir[i]) < 0 && errno == EBUSY &&
		                    tries < 200; tries++) {
			sbx_cgroup_kill(cg);
			nap(5);
		}
	}
	free(cg);
}
