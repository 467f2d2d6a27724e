/*
 * The daemon's loop: start-up, the queue workers post to, group commit at
 * the end of each loop iteration, signals and the drain on shutdown.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http-internal.h"
#include "log-internal.h"
#include "map-internal.h"
#include "mcp-internal.h"
#include "mcpd-internal.h"
#include "plugin-internal.h"
#include "pool-internal.h"
#include "router-internal.h"
#include "store-internal.h"

/* ---- messages from workers ---- */

void mcpd_post(struct mcpd *d, struct msg *m)
{
	m->next = NULL;
	pthread_mutex_lock(&d->mq_lock);
	if (d->mq_tail)
		d->mq_tail->next = m;
	else
		d->mq_head = m;
	d->mq_tail = m;
	pthread_mutex_unlock(&d->mq_lock);
	event_active(d->mq_ev, EV_READ, 0);
}

static void on_messages(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mcpd *d = arg;
	pthread_mutex_lock(&d->mq_lock);
	struct msg *m = d->mq_head;
	d->mq_head = d->mq_tail = NULL;
	pthread_mutex_unlock(&d->mq_lock);
	while (m) {
		struct msg *next = m->next;
		sched_handle_msg(d, m);
		free(m->text);
		free(m);
		m = next;
	}
}

/* ---- group commit ---- */

/*
 * The commit event is made active by the first write of an iteration. An
 * event activated while the loop runs callbacks is queued behind those
 * already active, so every request read in the same poll round lands in
 * the same transaction: one fsync for all of them.
 */
void mcpd_want_commit(struct mcpd *d)
{
	if (d->commit_ev && !event_pending(d->commit_ev, EV_READ, NULL))
		event_active(d->commit_ev, EV_READ, 0);
}

static void run_after_commit(struct mcpd *d, int ok)
{
	struct after_commit *ac = d->ac_head;
	d->ac_head = NULL;
	d->ac_tail = &d->ac_head;
	while (ac) {
		struct after_commit *next = ac->next;
		ac->fn(ac->arg, ok);
		free(ac);
		ac = next;
	}
}

static int commit_now(struct mcpd *d)
{
	sched_flush(d);
	int ok = 1;
	if (store_pending(d->store)) {
		d->commits++;
		if (store_commit(d->store) < 0) {
			d->commit_failures++;
			ok = 0;
		}
	}
	run_after_commit(d, ok);
	return ok ? 0 : -1;
}

static void on_commit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	commit_now(arg);
}

void mcpd_after_commit(struct mcpd *d, void (*fn)(void *, int), void *arg)
{
	if (!d->dirty && !store_pending(d->store)) {
		fn(arg, 1);
		return;
	}
	struct after_commit *ac = malloc(sizeof *ac);
	if (!ac) {
		fn(arg, 0);
		return;
	}
	*ac = (struct after_commit){fn, arg, NULL};
	*d->ac_tail = ac;
	d->ac_tail = &ac->next;
	mcpd_want_commit(d);
}

/* ---- shutdown ---- */

static void stop_loop(struct mcpd *d)
{
	commit_now(d);
	event_base_loopexit(d->base, NULL);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mcpd *d = arg;
	int running = sched_running(d);
	/* The answers a finished task released (long-polls, the last event
	 * of a stream) must reach their sockets before the loop ends. */
	if (running == 0 && http_server_unflushed(d->http) == 0 &&
	    mcp_stdio_unflushed(d->mcp_stdio) == 0) {
		log_info("drained: no task running");
		stop_loop(d);
		return;
	}
	if (mono_ms() >= d->drain_deadline) {
		log_warn("drain timeout: requeueing %d running tasks", running);
		sched_abandon_running(d, "the daemon stopped before the attempt "
		                         "finished; it will run again");
		stop_loop(d);
	}
}

static void begin_drain(struct mcpd *d, const char *why)
{
	if (d->draining)
		return;
	log_info("%s: draining (up to %d ms)", why, d->cfg.drain_timeout_ms);
	sd_notify_send("STOPPING=1");
	d->draining = 1;
	d->ready = 0;
	http_server_stop_accepting(d->http);
	d->drain_deadline = mono_ms() + d->cfg.drain_timeout_ms;
	d->drain_ev = event_new(d->base, -1, EV_PERSIST, on_drain_tick, d);
	struct timeval tick = {0, 20000};
	event_add(d->drain_ev, &tick);
	on_drain_tick(-1, 0, d);
}

void mcpd_stop(struct mcpd *d, const char *why)
{
	begin_drain(d, why);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct mcpd *d = arg;
	if (sig == SIGHUP) {
		reload_request(d, NULL);
		return;
	}
	begin_drain(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- start and stop ---- */

static int make_dir(const char *dir)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "mcpd: cannot create state dir %s: %s\n", dir,
	        strerror(errno));
	return -1;
}

/*
 * One mcpd per state dir: a second one would recover (requeue) the tasks
 * the first is running. An flock on state_dir/mcpd.lock, held for the life
 * of the process (the kernel drops it when the process dies, however it
 * dies). A stdio server waits a little for it: MCP clients may start it
 * again right after a probe run of the same command has exited.
 */
static int lock_state_dir(struct mcpd *d)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/mcpd.lock", d->cfg.state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "mcpd: cannot open %s: %s\n", path,
		        strerror(errno));
		return -1;
	}
	int waited_ms = 0, wait_ms = d->cfg.stdio ? 5000 : 0;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK || waited_ms >= wait_ms) {
			char pid[32] = "";
			ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			fprintf(stderr, "mcpd: state dir %s is in use by another "
			        "mcpd%s%s%s\n", d->cfg.state_dir,
			        pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
			close(fd);
			return -1;
		}
		usleep(50 * 1000);
		waited_ms += 50;
	}
	char pid[32];
	int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		log_warn("cannot write the pid into %s", path);
	d->lock_fd = fd;
	return 0;
}

static int open_store(struct mcpd *d)
{
	char err[256];
	if (make_dir(d->cfg.state_dir) < 0 || lock_state_dir(d) < 0)
		return -1;
	d->store = store_open(d->cfg.state_dir, d->cfg.map_size_mb << 20, err,
	                      sizeof err);
	if (!d->store) {
		fprintf(stderr, "mcpd: %s\n", err);
		return -1;
	}
	return 0;
}

static int start_http(struct mcpd *d)
{
	struct http_limits lim = {
		.max_body = d->cfg.max_body_bytes,
		.max_header = 16384,
		.idle_timeout_ms = 60000,
		.max_connections = d->cfg.max_connections,
	};
	d->http = http_server_new(d->base, &lim, api_handle, d);
	if (d->http)
		http_server_set_refusal(d->http, mcp_http_refusal, d);
	if (!d->http ||
	    http_server_listen(d->http, d->cfg.listen_host, d->cfg.listen_port,
	                       &d->bound_port) < 0) {
		fprintf(stderr, "mcpd: cannot listen on %s:%d: %s\n",
		        d->cfg.listen_host, d->cfg.listen_port, strerror(errno));
		return -1;
	}
	const char *h = d->cfg.listen_host;
	int v6 = strchr(h, ':') != NULL;
	/* http.c logs the listen; stdout tells whoever started us the port. */
	printf("mcpd listening on http://%s%s%s:%d\n", v6 ? "[" : "", h,
	       v6 ? "]" : "", d->bound_port);
	fflush(stdout);
	return 0;
}

static int add_signals(struct mcpd *d)
{
	static const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3; i++) {
		d->sig_ev[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		if (!d->sig_ev[i] || event_add(d->sig_ev[i], NULL) < 0)
			return -1;
	}
	return 0;
}

int mcpd_start(struct mcpd *d)
{
	d->started_ms = now_ms();
	d->loop_thread = pthread_self();
	d->ac_tail = &d->ac_head;
	pthread_mutex_init(&d->mq_lock, NULL);
	pthread_mutex_init(&d->reg_lock, NULL);
	log_set_level(d->cfg.log_level);
	if (evthread_use_pthreads() < 0 || !(d->base = event_base_new())) {
		fprintf(stderr, "mcpd: cannot create the event loop\n");
		return -1;
	}
	d->mq_ev = event_new(d->base, -1, 0, on_messages, d);
	d->commit_ev = event_new(d->base, -1, 0, on_commit, d);
	d->tasks = map_new();
	d->plugins_by_name = map_new();
	d->generations = map_new();
	d->router = router_new(d->cfg.breaker_failures,
	                       d->cfg.breaker_cooldown_ms);
	d->pool = pool_new(d->cfg.workers);
	if (!d->mq_ev || !d->commit_ev || !d->tasks || !d->plugins_by_name ||
	    !d->generations || !d->router || !d->pool || reload_init(d) < 0) {
		fprintf(stderr, "mcpd: out of memory at start-up\n");
		return -1;
	}
	if (open_store(d) < 0)
		return -1;
	plugins_load_all(d);
	log_info("%zu plugins loaded, %zu refused", d->plugins_loaded,
	         d->nplugins - d->plugins_loaded);
	if (sched_recover(d) < 0 || commit_now(d) < 0) {
		fprintf(stderr, "mcpd: cannot recover tasks: %s\n",
		        store_last_error(d->store));
		return -1;
	}
	/* stdio first: it points fd 1 at stderr, so the listening line
	 * cannot end up in the MCP stream. */
	if (!(d->mcp = mcp_server_new(d)) ||
	    (d->cfg.stdio && mcp_stdio_start(d) < 0) ||
	    (d->cfg.http && start_http(d) < 0) || add_signals(d) < 0)
		return -1;
	d->ready = 1;
	sd_notify_send("READY=1");
	return 0;
}

int mcpd_run(struct mcpd *d)
{
	event_base_dispatch(d->base);
	commit_now(d);
	log_info("stopped");
	return 0;
}

static void free_event(struct event **ev)
{
	if (*ev)
		event_free(*ev);
	*ev = NULL;
}

void mcpd_free(struct mcpd *d)
{
	if (d->pool) {
		/* Queued jobs are attempts the loop still owns: nothing to
		 * drop. A worker stuck in a handler still uses plugin code,
		 * attempts and the loop, so then only the store is closed. */
		int stuck = pool_stop(d->pool, 1000, NULL);
		if (stuck) {
			log_warn("%d workers still inside plugin handlers at "
			         "exit", stuck);
			commit_now(d);
			store_close(d->store);
			return;
		}
		pool_free(d->pool);
	}
	reload_free(d);
	http_server_free(d->http);
	if (d->tasks) {
		on_messages(-1, 0, d);
		if (d->store)
			commit_now(d);
		sched_free_all(d);
	}
	/* After the tasks: their watchers answered the calls still open. */
	mcp_stdio_free(d->mcp_stdio);
	mcp_server_free(d->mcp);
	store_close(d->store);
	plugins_unload_all(d);
	router_free(d->router);
	map_free(d->tasks);
	map_free(d->plugins_by_name);
	map_free(d->generations);
	for (int i = 0; i < 3; i++)
		free_event(&d->sig_ev[i]);
	free_event(&d->drain_ev);
	free_event(&d->redispatch_ev);
	free_event(&d->caps_ev);
	if (d->lock_fd > 0)
		close(d->lock_fd); /* after the store: the lock outlives it */
	free_event(&d->mq_ev);
	free_event(&d->commit_ev);
	if (d->base)
		event_base_free(d->base);
	libevent_global_shutdown();
	pthread_mutex_destroy(&d->mq_lock);
	pthread_mutex_destroy(&d->reg_lock);
	config_free(&d->cfg);
}
