/*
 * Watching a run: stdin, stdout and stderr through pipes, one poll loop
 * that also enforces the wall deadline, the cgroup-measured limits, the
 * output cap and cancellation. Plus the child-side helpers (fd layout,
 * rlimits) that must only make system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "sandbox-common.h"
#include "sandbox-internal.h"

#define TICK_MS 50
#define DRAIN_MS 2000
#define PROGRESS_MS 1000
#define READ_CHUNK 65536

int64_t sbx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- pipes ---- */

int sbx_pipes_open(struct sbx_pipes *p)
{
	int *all[3] = {p->in, p->out, p->err};

	for (int i = 0; i < 3; i++)
		all[i][0] = all[i][1] = -1;
	for (int i = 0; i < 3; i++)
		if (pipe2(all[i], O_CLOEXEC) < 0) {
			int e = errno;

			sbx_pipes_close(p);
			return -e;
		}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void sbx_pipes_close_child(struct sbx_pipes *p)
{
	close_fd(&p->in[0]);
	close_fd(&p->out[1]);
	close_fd(&p->err[1]);
}

void sbx_pipes_close(struct sbx_pipes *p)
{
	int *all[3] = {p->in, p->out, p->err};

	for (int i = 0; i < 3; i++) {
		close_fd(&all[i][0]);
		close_fd(&all[i][1]);
	}
}

/* Close fds lo..hi (hi -1: all above lo). */
static void close_span(int lo, int hi)
{
	struct rlimit rl;
	long max = 65536;

	if (syscall(SYS_close_range, (unsigned)lo,
	            hi < 0 ? ~0U : (unsigned)hi, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = (long)rl.rlim_cur;
	for (long fd = lo; fd <= (hi < 0 ? max : hi); fd++)
		close((int)fd);
}

void sbx_close_fds_except(const int *keep, int n)
{
	int k[128], lo = 3;

	if (n > 128)
		n = 128;
	for (int i = 0; i < n; i++) { /* insertion sort of a copy */
		int j = i;

		for (; j > 0 && k[j - 1] > keep[i]; j--)
			k[j] = k[j - 1];
		k[j] = keep[i];
	}
	for (int i = 0; i < n; i++) {
		if (k[i] < lo)
			continue;
		if (k[i] > lo)
			close_span(lo, k[i] - 1);
		lo = k[i] + 1;
	}
	close_span(lo, -1);
}

int sbx_pipes_child_setup(const struct sbx_pipes *p, const int *keep, int n)
{
	int src[3] = {p->in[0], p->out[1], p->err[1]};
	int tmp[3];

	/* Move the sources above 2 first so dup2 cannot clobber one. */
	for (int i = 0; i < 3; i++) {
		tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
		if (tmp[i] < 0)
			return -errno;
	}
	for (int i = 0; i < 3; i++)
		if (dup2(tmp[i], i) < 0)
			return -errno;
	sbx_close_fds_except(keep, n);
	return 0;
}

void sbx_child_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int sbx_child_exec(char *const argv[], char *const envp[])
{
	const char *path = "/usr/local/bin:/usr/bin:/bin", *p;
	char buf[4096];
	size_t flen = strlen(argv[0]);
	int best = ENOENT;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		return errno;
	}
	for (char *const *e = envp; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	for (p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);

		if (dlen + flen + 2 <= sizeof(buf)) {
			if (dlen) {
				memcpy(buf, p, dlen);
				buf[dlen] = '/';
				memcpy(buf + dlen + 1, argv[0], flen + 1);
			} else { /* an empty entry is the cwd */
				memcpy(buf, argv[0], flen + 1);
			}
			execve(buf, argv, envp);
			/* Permission or format errors beat "not found". */
			if (errno != ENOENT && errno != ENOTDIR)
				best = errno;
		}
		if (!end)
			break;
		p = end;
	}
	return best;
}

static void put(const char *s)
{
	ssize_t n = write(2, s, strlen(s));

	(void)n;
}

void sbx_child_die(const char *what, int err, int code)
{
	put("mcpd-sandbox: ");
	put(what);
	put(": ");
	/* Not strerror(): it may translate, and so allocate. */
	const char *d = strerrordesc_np(err);

	put(d ? d : "unknown error");
	put("\n");
	_exit(code);
}

/* ---- rlimits ---- */

static void rl_set(struct sbx_rlimits *r, int res, rlim_t soft, rlim_t hard)
{
	r->v[r->n].resource = res;
	r->v[r->n].lim.rlim_cur = soft;
	r->v[r->n].lim.rlim_max = hard;
	r->n++;
}

void sbx_rlimits_prepare(struct sbx_rlimits *r, const struct sbx_limits *l,
                         int memory_by_cgroup)
{
	rlim_t cpu_s = (rlim_t)((l->cpu_ms + 999) / 1000);

	r->n = 0;
	rl_set(r, RLIMIT_CPU, cpu_s, cpu_s + 1);
	rl_set(r, RLIMIT_FSIZE, (rlim_t)l->file_bytes, (rlim_t)l->file_bytes);
	rl_set(r, RLIMIT_NPROC, (rlim_t)l->pids, (rlim_t)l->pids);
	rl_set(r, RLIMIT_CORE, 0, 0);
	rl_set(r, RLIMIT_NOFILE, 1024, 1024);
	rl_set(r, RLIMIT_MEMLOCK, 64 << 10, 64 << 10);
	if (!memory_by_cgroup)
		rl_set(r, RLIMIT_AS, (rlim_t)l->memory_bytes,
		       (rlim_t)l->memory_bytes);
}

int sbx_rlimits_apply(const struct sbx_rlimits *r)
{
	for (int i = 0; i < r->n; i++)
		if (setrlimit(r->v[i].resource, &r->v[i].lim) < 0)
			return -errno;
	return 0;
}

/* ---- the loop ---- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* After the end the driver has killed the rest itself; never again. */
static void kill_now(struct sbx_watch *w, const char *why)
{
	if (w->ended)
		return;
	if (why && !w->killed_by)
		w->killed_by = why;
	w->kill_tree(w->ctx);
}

/* Read what is there; past the limit count and drop (and end the run). */
static void drain(struct sbx_watch *w, struct sbx_stream *s, int *fd)
{
	char chunk[READ_CHUNK];
	size_t limit = (size_t)w->req->limits.output_bytes;

	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = read(*fd, chunk, sizeof(chunk));
		size_t room, take;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			s->eof = 1;
			close_fd(fd);
			return;
		}
		s->total += n;
		room = limit - s->len;
		take = (size_t)n < room ? (size_t)n : room;
		if (take) {
			if (!s->buf && !(s->buf = malloc(limit + 1)))
				take = 0;
			else
				memcpy(s->buf + s->len, chunk, take);
			s->len += take;
		}
		if (take < (size_t)n) {
			s->truncated = 1;
			kill_now(w, "output");
		}
	}
}

static void feed(struct sbx_watch *w, size_t *off)
{
	const struct sbx_request *r = w->req;

	while (*off < r->stdin_len) {
		ssize_t n = write(w->stdin_fd, r->stdin_data + *off,
		                  r->stdin_len - *off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) /* EPIPE: the command closed its stdin */
			break;
		*off += (size_t)n;
	}
	close_fd(&w->stdin_fd);
}

static void check_cgroup(struct sbx_watch *w)
{
	struct sbx_cg_sample s;

	if (!w->cg || sbx_cgroup_sample(w->cg, &s) < 0)
		return;
	w->cg_last = s;
	if (w->ended)
		return;
	if (s.oom_kills > 0)
		kill_now(w, "memory");
	else if (s.cpu_ns >= 0 && s.cpu_ns >= w->req->limits.cpu_ms * 1000000)
		kill_now(w, "cpu");
	else if (s.pids_hits > 0)
		kill_now(w, "pids");
}

static void tick(struct sbx_watch *w, int64_t now, int64_t start,
                 int64_t *next_progress)
{
	const char *why;

	if (w->caller && w->host && !w->cancelled &&
	    w->host->task_cancelled(w->caller)) {
		w->cancelled = 1;
		kill_now(w, NULL);
	}
	if (!w->ended && now - start >= w->req->limits.wall_ms)
		kill_now(w, "timeout");
	check_cgroup(w);
	if (!w->ended && w->probe && (why = w->probe(w->ctx)))
		kill_now(w, why);
	if (w->caller && w->host && now >= *next_progress) {
		w->host->task_progress(w->caller, (double)(now - start),
		                       (double)w->req->limits.wall_ms,
		                       "running");
		*next_progress = now + PROGRESS_MS;
	}
	if (w->killed_by || w->cancelled)
		kill_now(w, NULL); /* again, until it has ended */
}

int sbx_watch_run(struct sbx_watch *w, char *err, size_t errlen)
{
	int64_t start = sbx_now_ms(), ended_at = 0, next_progress = start;
	size_t stdin_off = 0;

	memset(&w->cg_last, 0xff, sizeof(w->cg_last)); /* all -1 */
	w->out.eof = w->stdout_fd < 0;
	w->err.eof = w->stderr_fd < 0;
	if (w->stdout_fd >= 0)
		set_nonblock(w->stdout_fd);
	if (w->stderr_fd >= 0)
		set_nonblock(w->stderr_fd);
	if (w->stdin_fd >= 0 && (!w->req->stdin_len ||
	                         set_nonblock(w->stdin_fd) < 0))
		close_fd(&w->stdin_fd);
	for (;;) {
		struct pollfd pf[4];
		int n = 0, iout = -1, ierr = -1, iin = -1, iev = -1;
		int64_t now = sbx_now_ms(), wait = TICK_MS;

		if (w->ended && w->out.eof && w->err.eof)
			break;
		if (w->ended && now - ended_at >= DRAIN_MS)
			break;
		if (!w->out.eof)
			pf[iout = n++] = (struct pollfd){w->stdout_fd, POLLIN, 0};
		if (!w->err.eof)
			pf[ierr = n++] = (struct pollfd){w->stderr_fd, POLLIN, 0};
		if (w->stdin_fd >= 0)
			pf[iin = n++] = (struct pollfd){w->stdin_fd, POLLOUT, 0};
		if (!w->ended)
			pf[iev = n++] = (struct pollfd){w->event_fd, POLLIN, 0};
		if (!w->ended && start + w->req->limits.wall_ms - now < wait)
			wait = start + w->req->limits.wall_ms - now;
		if (wait < 0)
			wait = 0;
		if (poll(pf, (nfds_t)n, (int)wait) < 0 && errno != EINTR) {
			sbx_set_err(err, errlen, "poll: %s", strerror(errno));
			kill_now(w, NULL);
			return MCPD_E_FAILED;
		}
		if (iout >= 0 && pf[iout].revents)
			drain(w, &w->out, &w->stdout_fd);
		if (ierr >= 0 && pf[ierr].revents)
			drain(w, &w->err, &w->stderr_fd);
		if (iin >= 0 && pf[iin].revents)
			feed(w, &stdin_off);
		if (iev >= 0 && pf[iev].revents) {
			int rc = w->on_event(w->ctx, &w->wstatus);

			if (rc < 0) {
				sbx_set_err(err, errlen,
				            "the sandbox failed while running");
				kill_now(w, NULL);
				return MCPD_E_FAILED;
			}
			if (rc > 0) {
				w->ended = 1;
				ended_at = sbx_now_ms();
				w->wall_ms = ended_at - start;
				close_fd(&w->stdin_fd);
				check_cgroup(w);
				if (!w->killed_by && w->cg_last.oom_kills > 0)
					w->killed_by = "memory";
				if (!w->killed_by && WIFSIGNALED(w->wstatus) &&
				    WTERMSIG(w->wstatus) == SIGXCPU)
					w->killed_by = "cpu";
			}
		}
		tick(w, sbx_now_ms(), start, &next_progress);
	}
	return 0;
}

void sbx_watch_clear(struct sbx_watch *w)
{
	close_fd(&w->stdin_fd);
	close_fd(&w->stdout_fd);
	close_fd(&w->stderr_fd);
	free(w->out.buf);
	free(w->err.buf);
	w->out.buf = w->err.buf = NULL;
}
