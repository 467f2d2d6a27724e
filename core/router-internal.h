/*
 * The router: per capability, the providers that declare it and a queue of
 * tasks waiting for one, ordered by priority then age. It picks, for a task,
 * the matching provider with the most free concurrency, then the best recent
 * success rate, skipping providers whose circuit breaker is open.
 */
#ifndef MCPD_ROUTER_INTERNAL_H
#define MCPD_ROUTER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct capdef;
struct task;

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

struct provider {
	struct capdef *cap;
	int max;      /* concurrency */
	int running;  /* attempts holding a slot */
	double success; /* exponentially weighted success rate, 0..1 */
	enum breaker_state breaker;
	int fails;    /* consecutive failures */
	int64_t open_until; /* monotonic ms */
};

#define LATENCY_BUCKETS 12
extern const double latency_bounds[LATENCY_BUCKETS];

struct capq {
	char *name;
	struct provider **provs;
	size_t nprov;
	struct task **heap;
	size_t len, cap;
	/* metrics */
	uint64_t submitted;
	uint64_t finished[6]; /* by enum task_status */
	uint64_t hist[LATENCY_BUCKETS + 1];
	double hist_sum;
	uint64_t hist_count;
};

struct router;

struct router *router_new(int breaker_failures, int breaker_cooldown_ms);
void router_free(struct router *r);
/* The queue of capability `name`; created when `create`. NULL if absent. */
struct capq *router_capq(struct router *r, const char *name, int create);
/*
 * Add a provider for cap->name with concurrency `max`; cap->prov points at
 * it and owns it (the router never frees a provider). 0 or -1.
 */
int router_add_provider(struct router *r, struct capdef *cap, int max);
/* Take cap's provider out of its queue: it gets no new tasks. Attempts
 * that hold it keep using it until they end. */
void router_remove_provider(struct router *r, struct capdef *cap);
void router_set_breaker(struct router *r, int failures, int cooldown_ms);
/* Visit the queues in name order. */
size_t router_list(struct router *r, struct capq ***out); /* free(*out) */

/* Does attribute object `attrs` satisfy `match` (NULL = always)? */
int attrs_match(const json_t *attrs, const json_t *match);
/* Has q any provider at all whose attributes satisfy match? */
int router_can_match(const struct capq *q, const json_t *match);

int capq_push(struct capq *q, struct task *t);
void capq_remove(struct capq *q, struct task *t);
/*
 * Take the best task that has a free provider now: highest priority, then
 * oldest. Returns it (removed from the queue) with *prov, or NULL.
 * *retry_at gets the monotonic time at which an open breaker half-opens
 * (0 if none), so the caller can try again then. Without `blocking_ok`
 * (no worker thread is free) providers of blocking handlers are skipped.
 */
struct task *router_take(struct capq *q, int64_t now, int blocking_ok,
                         struct provider **prov, int64_t *retry_at);
/* Record an attempt's outcome on its provider (breaker and success rate). */
void router_outcome(struct router *r, struct provider *p, int ok, int64_t now);
const char *breaker_name(enum breaker_state s);

#endif
