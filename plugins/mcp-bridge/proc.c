/*
 * Stdio servers: a child process per server, its stdin, stdout and stderr
 * on non-blocking pipes watched by the loop. stdout carries
 * newline-delimited JSON-RPC; stderr goes to mcpd's log line by line.
 *
 * The child gets its own process group (so a shell wrapper's children die
 * with it) and PR_SET_PDEATHSIG, so it is killed when the daemon dies
 * without a chance to clean up. Every child is reaped: by the tick after
 * its stdout closes (SIGKILL after a grace period), and at fini.
 */

#include "bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Longest line kept from stdout (a message) or stderr (a log line). */
#define MAX_MESSAGE (64u << 20)
#define MAX_LOG_LINE 2000
/* After stdout closed, how long the child may take to exit. */
#define EXIT_GRACE_MS 2000

/* argv[0] as a path: as is when it has a slash, else searched in PATH. */
static char *resolve(const char *cmd)
{
	if (strchr(cmd, '/'))
		return strdup(cmd);
	const char *path = getenv("PATH");
	char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL, *out = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir && !out;
	     dir = strtok_r(NULL, ":", &save)) {
		char full[4096];
		snprintf(full, sizeof full, "%s/%s", *dir ? dir : ".", cmd);
		if (access(full, X_OK) == 0)
			out = strdup(full);
	}
	free(copy);
	return out;
}

/* The environment with the server's additions (which win). */
static char **child_env(struct server *s)
{
	size_t n = 0, extra = 0;
	while (environ[n])
		n++;
	while (s->env && s->env[extra])
		extra++;
	char **out = calloc(n + extra + 1, sizeof *out);
	if (!out)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int overridden = 0;
		for (size_t j = 0; j < extra && !overridden; j++)
			overridden = strncmp(s->env[j], environ[i], klen) == 0 &&
			             s->env[j][klen] == '=';
		if (!overridden)
			out[k++] = environ[i];
	}
	for (size_t j = 0; j < extra; j++)
		out[k++] = s->env[j];
	return out;
}

static void close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, lowfd, ~0u, 0) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = lowfd; fd < (max > 0 ? max : 1024); fd++)
		close((int)fd);
}

static void on_out(int fd, unsigned events, void *arg);
static void on_err(int fd, unsigned events, void *arg);
static void on_in(int fd, unsigned events, void *arg);

static void set_why(struct server *s, const char *fmt, const char *a)
{
	snprintf(s->exit_why, sizeof s->exit_why, fmt, a);
}

int proc_start(struct server *s)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	s->exit_why[0] = '\0';
	char *path = resolve(s->argv[0]);
	if (!path) {
		set_why(s, "command %s not found in PATH", s->argv[0]);
		return -1;
	}
	char **envp = child_env(s);
	if (!envp || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0) {
		set_why(s, "cannot make pipes: %s", strerror(errno));
		goto fail;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		set_why(s, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* The child: async-signal-safe calls only, until exec. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close_from(3);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (s->cwd && chdir(s->cwd) < 0) {
			static const char m[] = "mcp-bridge: cannot chdir to the "
			                        "server's cwd\n";
			ssize_t w = write(2, m, sizeof m - 1);
			(void)w;
			_exit(126);
		}
		execve(path, s->argv, envp);
		static const char m[] = "mcp-bridge: exec failed\n";
		ssize_t w = write(2, m, sizeof m - 1);
		(void)w;
		_exit(127);
	}
	setpgid(pid, pid); /* both sides, so no race with an early kill */
	close(in[0]);
	close(out[1]);
	close(err[1]);
	free(path);
	free(envp);
	s->pid = pid;
	s->in_fd = in[1];
	s->out_fd = out[0];
	s->err_fd = err[0];
	fcntl(s->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
	s->eof = s->killed = 0;
	s->started_ms = mono_ms();
	s->out_io = g.host->io_start(g.self, s->out_fd, MCPD_IO_READ, on_out, s);
	s->err_io = g.host->io_start(g.self, s->err_fd, MCPD_IO_READ, on_err, s);
	LOG(MCPD_LOG_INFO, "server %s: started %s (pid %ld)", s->name,
	    s->argv[0], (long)pid);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	free(path);
	free(envp);
	return -1;
}

static void stop_io(struct mcpd_io **io)
{
	if (*io)
		g.host->io_stop(*io);
	*io = NULL;
}

/* Close our ends of the pipes (the child may still be exiting). */
static void close_pipes(struct server *s)
{
	stop_io(&s->in_io);
	stop_io(&s->out_io);
	stop_io(&s->err_io);
	if (s->in_fd >= 0)
		close(s->in_fd);
	if (s->out_fd >= 0)
		close(s->out_fd);
	if (s->err_fd >= 0)
		close(s->err_fd);
	s->in_fd = s->out_fd = s->err_fd = -1;
	buf_free(&s->inbuf);
	buf_free(&s->outbuf);
}

/* stdout closed or unusable: wait for the exit in proc_tick. */
static void lost_pipe(struct server *s, const char *why)
{
	if (s->eof)
		return;
	s->eof = 1;
	s->eof_ms = mono_ms();
	set_why(s, "%s", why);
	close_pipes(s);
}

static void flush_in(struct server *s)
{
	while (s->outbuf.len) {
		ssize_t n = write(s->in_fd, s->outbuf.data, s->outbuf.len);
		if (n > 0) {
			buf_drop(&s->outbuf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!s->in_io)
				s->in_io = g.host->io_start(g.self, s->in_fd,
				                            MCPD_IO_WRITE, on_in, s);
			return;
		}
		lost_pipe(s, "its stdin closed");
		return;
	}
	stop_io(&s->in_io);
}

static void on_in(int fd, unsigned events, void *arg)
{
	(void)fd;
	(void)events;
	flush_in(arg);
}

int proc_send(struct server *s, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text)
		return -1;
	if (s->in_fd < 0 || s->eof) {
		free(text);
		return -1;
	}
	int rc = buf_add(&s->outbuf, text, strlen(text)) |
	         buf_add(&s->outbuf, "\n", 1);
	free(text);
	flush_in(s);
	return rc;
}

static void on_line(struct server *s, char *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		line[--len] = '\0';
	if (!len)
		return;
	json_error_t jerr;
	json_t *msg = json_loadb(line, len, 0, &jerr);
	if (!msg || !json_is_object(msg)) {
		/* Spec: stdout is for messages only. Say so, keep serving. */
		LOG(MCPD_LOG_WARN, "server %s: stdout line that is not a "
		    "JSON-RPC message: %.200s", s->name, line);
		json_decref(msg);
		return;
	}
	client_receive(s, msg);
	json_decref(msg);
}

/* Read what fd has into b; 0 on EOF or error, 1 otherwise. */
static int read_some(int fd, struct buf *b)
{
	char chunk[65536];
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n > 0) {
			if (buf_add(b, chunk, (size_t)n) < 0)
				return 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
	return 1;
}

static void on_out(int fd, unsigned events, void *arg)
{
	(void)events;
	struct server *s = arg;
	int open = read_some(fd, &s->inbuf);
	size_t start = 0;
	char *nl;
	/* Messages may close the pipes (a restart): re-check each time. */
	while (s->out_fd == fd && (nl = memchr(s->inbuf.data + start, '\n',
	                                       s->inbuf.len - start))) {
		size_t len = (size_t)(nl - (s->inbuf.data + start));
		*nl = '\0';
		char *line = strndup(s->inbuf.data + start, len);
		start += len + 1;
		if (line)
			on_line(s, line, len);
		free(line);
	}
	if (s->out_fd != fd)
		return;
	buf_drop(&s->inbuf, start);
	if (s->inbuf.len > MAX_MESSAGE) {
		proc_kill(s, "a message over 64 MiB on stdout");
		return;
	}
	if (!open)
		lost_pipe(s, "its stdout closed");
}

/* One stderr line into mcpd's log. An mcpd child (an isolated plugin,
 * mcpd --stdio) logs JSON objects: their level and message go through. */
static void log_line(struct server *s, const char *line, size_t len)
{
	json_t *j = line[0] == '{' ? json_loadb(line, len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "msg"));
	const char *lv = json_string_value(json_object_get(j, "level"));
	if (!msg) {
		LOG(MCPD_LOG_INFO, "server %s stderr: %.*s", s->name, (int)len,
		    line);
		json_decref(j);
		return;
	}
	int level = MCPD_LOG_INFO;
	if (lv && strcmp(lv, "error") == 0)
		level = MCPD_LOG_ERROR;
	else if (lv && strcmp(lv, "warn") == 0)
		level = MCPD_LOG_WARN;
	else if (lv && strcmp(lv, "debug") == 0)
		level = MCPD_LOG_DEBUG;
	const char *task = json_string_value(json_object_get(j, "task"));
	LOG(level, "server %s: %s%s%s%s", s->name, msg,
	    task ? " (its task " : "", task ? task : "", task ? ")" : "");
	json_decref(j);
}

static void log_stderr(struct server *s, int flush)
{
	for (;;) {
		char *nl = memchr(s->errbuf.data, '\n', s->errbuf.len);
		size_t len = nl ? (size_t)(nl - s->errbuf.data) : s->errbuf.len;
		size_t drop = nl ? len + 1 : len;
		if (!nl && !flush && len <= MAX_LOG_LINE)
			return;
		if (!len && !nl)
			return;
		if (len > MAX_LOG_LINE)
			len = drop = MAX_LOG_LINE;
		int n = (int)len;
		while (n > 0 && s->errbuf.data[n - 1] == '\r')
			n--;
		if (n > 0)
			log_line(s, s->errbuf.data, (size_t)n);
		buf_drop(&s->errbuf, drop);
	}
}

static void on_err(int fd, unsigned events, void *arg)
{
	(void)events;
	struct server *s = arg;
	int open = read_some(fd, &s->errbuf);
	log_stderr(s, !open);
	if (!open && s->err_fd == fd) {
		stop_io(&s->err_io);
		close(s->err_fd);
		s->err_fd = -1;
	}
}

static void describe_status(struct server *s, int status)
{
	if (WIFEXITED(status))
		snprintf(s->exit_why, sizeof s->exit_why, "exited with status %d",
		         WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(s->exit_why, sizeof s->exit_why, "killed by signal %d "
		         "(%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(s->exit_why, sizeof s->exit_why, "stopped");
}

void proc_kill(struct server *s, const char *why)
{
	if (s->pid <= 0)
		return;
	LOG(MCPD_LOG_WARN, "server %s: stopping it: %s", s->name, why);
	kill(-s->pid, SIGKILL);
	s->killed = 1;
	lost_pipe(s, why);
}

void proc_tick(struct server *s, int64_t now)
{
	if (s->pid <= 0)
		return;
	int status;
	pid_t r = waitpid(s->pid, &status, WNOHANG);
	if (r == 0) {
		if (s->eof && !s->killed && now - s->eof_ms > EXIT_GRACE_MS) {
			kill(-s->pid, SIGKILL);
			s->killed = 1;
		}
		return;
	}
	/* Exited (or lost to someone else's waitpid: treat as exited). */
	char why[sizeof s->exit_why];
	if (r == s->pid)
		describe_status(s, status);
	memcpy(why, s->exit_why, sizeof why);
	if (s->err_fd >= 0) {
		on_err(s->err_fd, MCPD_IO_READ, s); /* its last words */
		log_stderr(s, 1);
	}
	kill(-s->pid, SIGKILL); /* anything left in its group */
	s->pid = -1;
	s->eof = 1;
	close_pipes(s);
	if (s->err_fd >= 0) {
		close(s->err_fd);
		s->err_fd = -1;
	}
	buf_free(&s->errbuf);
	bridge_server_down(s, "server_exited", why[0] ? why : "it exited");
}

void proc_stop_all(void)
{
	/* Stdin closed first (the polite stop for stdio servers), then
	 * SIGTERM; whoever is left after a short wait gets SIGKILL. */
	int any = 0;
	for (size_t i = 0; i < g.nservers; i++) {
		struct server *s = g.servers[i];
		if (s->in_fd >= 0)
			close(s->in_fd);
		s->in_fd = -1;
		if (s->pid > 0) {
			kill(-s->pid, SIGTERM);
			any = 1;
		}
	}
	for (int tries = 0; any && tries < 50; tries++) {
		any = 0;
		for (size_t i = 0; i < g.nservers; i++) {
			struct server *s = g.servers[i];
			if (s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) != 0)
				s->pid = -1;
			any |= s->pid > 0;
		}
		if (any)
			usleep(10000);
	}
	for (size_t i = 0; i < g.nservers; i++) {
		struct server *s = g.servers[i];
		if (s->pid > 0) {
			kill(-s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = -1;
		}
		if (s->out_fd >= 0)
			close(s->out_fd);
		if (s->err_fd >= 0)
			close(s->err_fd);
		s->out_fd = s->err_fd = -1;
	}
}
