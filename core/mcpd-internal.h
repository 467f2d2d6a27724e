/*
 * The daemon: one struct owned by the loop thread, the messages workers
 * post to it, group commit, and the task life cycle (scheduler.c).
 */
#ifndef MCPD_MCPD_INTERNAL_H
#define MCPD_MCPD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <jansson.h>

#include "config-internal.h"
#include "mcpd/plugin.h"
#include "task-internal.h"

struct event_base;
struct event;
struct store;
struct http_server;
struct router;
struct pool;
struct map;
struct provider;
struct capdef;
struct http_req;
struct mcp_server;
struct mcp_stdio;

#define ATTEMPT_MAGIC 0x5441534bu /* "TASK" */

/* One attempt at running a task: the handle a plugin sees. */
struct mcpd_task {
	uint32_t magic;
	atomic_int cancelled;
	atomic_int finished; /* the first complete/fail wins */
	struct mcpd *d;
	json_t *input; /* own reference; read-only while the attempt lives */
	char id[33];
	int blocking;
	/* The outcome, written once by whoever wins `finished`. */
	int ok;
	json_t *result;
	char *err_code, *err_msg;
	/* Loop-only. */
	struct task *task; /* NULL once the task moved on (timeout, cancel) */
	struct provider *prov;
	struct capdef *cap;
	int returned;  /* the blocking handler has returned */
	int slot_held; /* counts in prov->running */
	int64_t started_mono;
	atomic_llong last_progress; /* monotonic ms of the last one posted */
	int done_seen; /* MSG_DONE processed */
	struct mcpd_task *live_prev, *live_next;
};

enum msg_type { MSG_DONE, MSG_RETURNED, MSG_PROGRESS, MSG_KV };

struct kv_op; /* host.c */

struct msg {
	enum msg_type type;
	struct mcpd_task *attempt;
	int rc;
	double done, total;
	char *text;
	struct kv_op *kv;
	struct msg *next;
};

/* Something waiting on a task: a long-poll GET or an SSE stream. */
struct watcher {
	/* Called for each new event (borrowed), and with final=1 once the
	 * task is final; the watcher is unlinked before a final call. */
	void (*fn)(struct watcher *w, struct task *t, json_t *event, int final);
	struct watcher *next, **pprev;
};

/* Deferred work run after the next successful (or failed) commit. */
struct after_commit {
	void (*fn)(void *arg, int ok);
	void *arg;
	struct after_commit *next;
};

struct mcpd {
	struct config cfg;
	struct event_base *base;
	struct store *store;
	struct http_server *http;
	struct mcp_server *mcp;        /* the MCP core (mcp.c) */
	struct mcp_stdio *mcp_stdio;   /* --stdio, or NULL */
	struct router *router;
	struct pool *pool;
	struct map *tasks;   /* live (non-final) tasks by hex id */
	struct map *plugins_by_name; /* the serving generation of each name */
	struct mcpd_plugin **plugins; /* loaded and refused, load order */
	size_t nplugins;
	size_t plugins_loaded;
	struct mcpd_plugin **retiring; /* replaced generations, draining */
	size_t nretiring;
	struct map *generations; /* plugin name -> last generation number */
	/* Held by workers looking up services while the loop swaps the
	 * plugin registry or the config in a reload. */
	pthread_mutex_t reg_lock;

	/* Reload (reload.c). */
	int argc;
	char **argv;             /* to re-read config and flags */
	struct event *reload_ev; /* activated by SIGHUP and POST /v1/reload */
	struct reload_waiter *reload_waiters; /* for the next reload */
	struct reload_waiter *drain_waiters;  /* --wait: for its drain */
	int reload_ok;                        /* the last one succeeded */
	json_t *last_reload;     /* the outcome of the last one */
	struct event *retire_ev; /* ticks while generations drain */
	uint64_t reloads, reload_failures, drains, drain_timeouts;
	int lock_fd; /* flock on state_dir/mcpd.lock, or 0 */
	struct event *caps_ev; /* capabilities changed at run time (plugin.c) */
	uint64_t reload_epoch;   /* bumps when the capability set changed */

	pthread_mutex_t mq_lock;
	struct msg *mq_head, *mq_tail;
	struct event *mq_ev;

	struct event *commit_ev;
	struct task *dirty;
	struct after_commit *ac_head, **ac_tail;

	struct mcpd_task *live; /* attempts not yet released */
	uint64_t task_seq;
	int workers_busy; /* blocking attempts whose handler has not returned */
	int draining;
	int ready;
	int bound_port;
	int64_t started_ms;
	struct event *sig_ev[3];
	struct event *drain_ev;
	struct event *redispatch_ev;
	pthread_t loop_thread;
	int64_t drain_deadline;
	uint64_t http_codes[6]; /* 1xx..5xx */
	uint64_t commits, commit_failures;
};

/* ---- daemon.c ---- */
int mcpd_start(struct mcpd *d);  /* open store, load plugins, listen */
int mcpd_run(struct mcpd *d);    /* loop until stopped; exit code */
void mcpd_free(struct mcpd *d);
/* Drain and stop, as SIGTERM does (e.g. at the end of MCP's stdin). */
void mcpd_stop(struct mcpd *d, const char *why);
/* Post a message from any thread to the loop. */
void mcpd_post(struct mcpd *d, struct msg *m);
/* Ask for a commit at the end of this loop iteration. */
void mcpd_want_commit(struct mcpd *d);
/* Run fn(arg, ok) after the pending writes commit (at once, ok=1, if there
 * are none). */
void mcpd_after_commit(struct mcpd *d, void (*fn)(void *, int), void *arg);

/* ---- scheduler.c ---- */
struct submit_error {
	int status;
	const char *code;
	char message[256];
	json_t *details;
};
/*
 * Create (or find, by idempotency key) a task from a POST body. On success
 * *out is the task's JSON (new reference) and *created says whether it is
 * new. -1 with err filled otherwise.
 */
int sched_submit(struct mcpd *d, const json_t *body, json_t **out,
                 int *created, struct submit_error *err);
/* The API form of a task, live or stored (new reference); NULL if none. */
json_t *sched_task_json(struct mcpd *d, const char *hex, const uint8_t id[16]);
/* The task by hex id: a live one, or NULL. */
struct task *sched_find(struct mcpd *d, const char *hex);
/* Cancel; 0, or -1 if it is already final. */
int sched_cancel(struct mcpd *d, struct task *t);
/* Record a task as changed: persisted with the next commit. */
void sched_dirty(struct mcpd *d, struct task *t);
/* Flush dirty tasks into the store (before a commit). */
void sched_flush(struct mcpd *d);
/* Requeue or resume what the store holds; at start. */
int sched_recover(struct mcpd *d);
void sched_handle_msg(struct mcpd *d, struct msg *m);
void sched_dispatch_all(struct mcpd *d);
/* Attempts holding a slot. */
int sched_running(struct mcpd *d);
/* At shutdown: requeue still-running tasks (through their retry policy). */
void sched_abandon_running(struct mcpd *d, const char *why);
void sched_free_all(struct mcpd *d);
void watcher_add(struct task *t, struct watcher *w);
void watcher_remove(struct watcher *w);
/* Post an attempt's outcome (any thread); MCPD_E_STATE if it had one. */
int attempt_finish(struct mcpd_task *a, int ok, json_t *result,
                   const char *code, const char *msg);

/* Fail queued tasks that no provider can take once their timeout passed
 * (armed here); after a reload removed providers, and at start-up. */
void sched_check_orphans(struct mcpd *d);
/* Requeue, through their retry policy, tasks running on generation p. */
void sched_requeue_plugin(struct mcpd *d, struct mcpd_plugin *p,
                          const char *why);
/* Free loop attempts of p that were detached and never finished. */
void sched_drop_stale_attempts(struct mcpd *d, struct mcpd_plugin *p);

/* ---- reload.c ---- */
struct reload_waiter {
	void (*fn)(struct reload_waiter *w, const json_t *outcome);
	int wait_drain; /* answer only when the retired generations are gone */
	uint64_t reload_no; /* set when its reload ran */
	json_t *outcome;
	struct reload_waiter *next;
};
/* Queue a reload (coalesced: any number of requests before it runs give
 * one reload). A waiter, if given, is told the outcome. */
void reload_request(struct mcpd *d, struct reload_waiter *w);
int reload_init(struct mcpd *d);
void reload_free(struct mcpd *d);
/* Forget a waiter whose client went away. */
void reload_waiter_cancel(struct mcpd *d, struct reload_waiter *w);
/* systemd's notify protocol, when NOTIFY_SOCKET is set. */
void sd_notify_send(const char *msg);

/* ---- api.c ---- */
void api_handle(struct http_req *req, void *ud);

/* ---- metrics.c ---- */
/* Prometheus text (malloc'd). */
char *metrics_render(struct mcpd *d);

#endif
