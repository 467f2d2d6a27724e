/* A fixed pool of worker threads that run blocking plugin handlers. */
#ifndef MCPD_POOL_INTERNAL_H
#define MCPD_POOL_INTERNAL_H

struct pool;

typedef void (*pool_fn)(void *arg);

struct pool *pool_new(int threads);
/* Queue fn(arg) for a worker. 0 or -1 (stopping, or no memory). */
int pool_submit(struct pool *p, pool_fn fn, void *arg);
/* Jobs running or waiting. */
int pool_busy(struct pool *p);
/*
 * Stop taking jobs, wait up to timeout_ms for the workers to finish what
 * they run (queued jobs are dropped through `drop`), then join them. Returns
 * the number of workers still inside a job at the deadline (those threads
 * are detached and the pool leaks deliberately rather than free memory they
 * use).
 */
int pool_stop(struct pool *p, int timeout_ms, pool_fn drop);
void pool_free(struct pool *p);

#endif
