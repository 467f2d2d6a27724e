/* Unit tests for core/pool.c: the worker pool. */
#include "pool-internal.h"
#include "task-internal.h"
#include "tap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define JOBS 1000

/* Wait up to ms for cond() to hold, polling every millisecond. */
static int wait_for(int (*cond)(void *), void *arg, int ms)
{
	const struct timespec tick = {0, 1000000};
	int64_t deadline = mono_ms() + ms;
	while (!cond(arg)) {
		if (mono_ms() > deadline)
			return 0;
		nanosleep(&tick, NULL);
	}
	return 1;
}

/* ---- many jobs ---- */

static atomic_int runs[JOBS];

static void count_job(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

static int pool_idle(void *arg)
{
	return pool_busy(arg) == 0;
}

static void test_many(void)
{
	struct pool *p = pool_new(4);
	ok(p != NULL, "pool_new(4)");
	is_int(pool_busy(p), 0, "a new pool is idle");
	int fails = 0;
	for (int i = 0; i < JOBS; i++)
		fails += pool_submit(p, count_job, &runs[i]) != 0;
	is_int(fails, 0, "%d jobs submitted", JOBS);
	ok(wait_for(pool_idle, p, 5000), "all jobs done within 5 s");
	int once = 1;
	for (int i = 0; i < JOBS; i++)
		once &= atomic_load(&runs[i]) == 1;
	ok(once, "every job ran exactly once");
	is_int(pool_stop(p, 1000, NULL), 0, "pool_stop of an idle pool: 0");
	is_int(pool_submit(p, count_job, &runs[0]), -1,
	       "pool_submit after stop is refused");
	is_int(atomic_load(&runs[0]), 1, "and the refused job never runs");
	pool_free(p);
	pool_free(NULL);
	ok(1, "pool_free(NULL) is a no-op");
}

/* ---- a gate that blocks jobs until the test opens it ---- */

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
	atomic_int started, finished, ran, dropped;
};

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->open = 0;
	atomic_init(&g->started, 0);
	atomic_init(&g->finished, 0);
	atomic_init(&g->ran, 0);
	atomic_init(&g->dropped, 0);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void gate_destroy(struct gate *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

/* Waits at the gate, then finishes. */
static void gated_job(void *arg)
{
	struct gate *g = arg;
	atomic_fetch_add(&g->started, 1);
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	/* Still inside the job a little after the gate opens, so a stop that
	 * did not wait would be seen. */
	const struct timespec pause = {0, 20 * 1000000};
	nanosleep(&pause, NULL);
	atomic_fetch_add(&g->finished, 1);
}

/* Must never run: it is queued behind gated jobs and dropped. */
static void queued_job(void *arg)
{
	struct gate *g = arg;
	atomic_fetch_add(&g->ran, 1);
}

static void drop_job(void *arg)
{
	struct gate *g = arg;
	atomic_fetch_add(&g->dropped, 1);
}

static int two_started(void *arg)
{
	return atomic_load(&((struct gate *)arg)->started) == 2;
}

static int one_started(void *arg)
{
	return atomic_load(&((struct gate *)arg)->started) == 1;
}

static int one_finished(void *arg)
{
	return atomic_load(&((struct gate *)arg)->finished) == 1;
}

struct opener {
	struct pool *p;
	struct gate *g;
	int saw_drop;
};

/*
 * Opens the gate once pool_stop has emptied the queue (pool_busy falls
 * from 5 to the 2 running), so the stop is certainly waiting on running
 * jobs when they are let go.
 */
static void *opener_main(void *arg)
{
	struct opener *o = arg;
	int64_t deadline = mono_ms() + 5000;
	const struct timespec tick = {0, 1000000};
	while (pool_busy(o->p) != 2 && mono_ms() < deadline)
		nanosleep(&tick, NULL);
	o->saw_drop = pool_busy(o->p) == 2;
	gate_open(o->g);
	return NULL;
}

static void test_stop_waits(void)
{
	struct gate g;
	gate_init(&g);
	struct pool *p = pool_new(2);
	pool_submit(p, gated_job, &g);
	pool_submit(p, gated_job, &g);
	ok(wait_for(two_started, &g, 5000), "both workers are inside a job");
	for (int i = 0; i < 3; i++)
		pool_submit(p, queued_job, &g);
	is_int(pool_busy(p), 5, "pool_busy counts 2 running + 3 queued");

	struct opener o = {p, &g, 0};
	pthread_t th;
	pthread_create(&th, NULL, opener_main, &o);
	int64_t t0 = mono_ms();
	int stuck = pool_stop(p, 5000, drop_job);
	int64_t took = mono_ms() - t0;
	pthread_join(th, NULL);

	is_int(stuck, 0, "pool_stop: no worker stuck");
	ok(o.saw_drop, "the queued jobs left the queue when the stop began");
	is_int(atomic_load(&g.finished), 2,
	       "pool_stop returned only after the running jobs finished");
	is_int(atomic_load(&g.dropped), 3, "the 3 queued jobs went to drop");
	is_int(atomic_load(&g.ran), 0, "and none of them ran");
	ok(took < 5000, "well before the timeout (%lld ms)", (long long)took);
	is_int(pool_busy(p), 0, "idle after stop");
	pool_free(p);
	gate_destroy(&g);
}

/* A pool whose worker outlives pool_stop's timeout is leaked on purpose;
 * kept reachable here so LeakSanitizer does not count it. */
static struct pool *leaked_pool;
static struct gate stuck_gate;

static void test_stop_timeout(void)
{
	gate_init(&stuck_gate);
	struct pool *p = pool_new(1);
	leaked_pool = p;
	pool_submit(p, gated_job, &stuck_gate);
	ok(wait_for(one_started, &stuck_gate, 5000), "the worker is in a job");

	int64_t t0 = mono_ms();
	int stuck = pool_stop(p, 50, NULL);
	int64_t took = mono_ms() - t0;
	is_int(stuck, 1, "pool_stop with a job past the timeout: 1 stuck");
	ok(took >= 50 && took < 2000, "it waited the 50 ms timeout (%lld ms)",
	   (long long)took);
	is_int(atomic_load(&stuck_gate.finished), 0,
	       "the stuck job was still running at return");
	pool_free(p); /* refuses while a worker may still be in the pool */
	ok(1, "pool_free of a pool with a stuck worker returns");
	diag("the pool with a stuck worker is leaked by design "
	     "(reachable from a static)");

	/* Let the stuck job end so the process exits with its worker done. */
	gate_open(&stuck_gate);
	ok(wait_for(one_finished, &stuck_gate, 5000),
	   "the stuck job finishes once let go");
	ok(wait_for(pool_idle, leaked_pool, 5000),
	   "and the leaked pool is idle");
}

int main(void)
{
	test_many();
	test_stop_waits();
	test_stop_timeout();
	done_testing();
	return exit_status();
}
