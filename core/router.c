/* Providers and per-capability priority queues; picking who runs what. */
#include "router-internal.h"

#include <stdlib.h>
#include <string.h>

#include "map-internal.h"
#include "plugin-internal.h"
#include "task-internal.h"

const double latency_bounds[LATENCY_BUCKETS] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300};

struct router {
	struct map *queues;
	int breaker_failures;
	int breaker_cooldown_ms;
};

struct router *router_new(int breaker_failures, int breaker_cooldown_ms)
{
	struct router *r = calloc(1, sizeof *r);
	if (!r || !(r->queues = map_new())) {
		free(r);
		return NULL;
	}
	r->breaker_failures = breaker_failures;
	r->breaker_cooldown_ms = breaker_cooldown_ms;
	return r;
}

void router_free(struct router *r)
{
	if (!r)
		return;
	size_t pos = 0;
	const char *k;
	void *v;
	while (map_next(r->queues, &pos, &k, &v)) {
		struct capq *q = v;
		/* Providers belong to their capability definitions. */
		free(q->provs);
		free(q->heap);
		free(q->name);
		free(q);
	}
	map_free(r->queues);
	free(r);
}

struct capq *router_capq(struct router *r, const char *name, int create)
{
	struct capq *q = map_get(r->queues, name);
	if (q || !create)
		return q;
	q = calloc(1, sizeof *q);
	if (!q || !(q->name = strdup(name)) || map_put(r->queues, name, q) < 0) {
		if (q)
			free(q->name);
		free(q);
		return NULL;
	}
	return q;
}

int router_add_provider(struct router *r, struct capdef *cap, int max)
{
	struct capq *q = router_capq(r, cap->name, 1);
	struct provider *p = calloc(1, sizeof *p);
	struct provider **np =
		q ? realloc(q->provs, (q->nprov + 1) * sizeof *np) : NULL;
	if (!np) {
		free(p);
		return -1;
	}
	q->provs = np;
	if (!p)
		return -1;
	p->cap = cap;
	p->max = max;
	p->success = 1.0;
	q->provs[q->nprov++] = p;
	cap->prov = p;
	return 0;
}

void router_remove_provider(struct router *r, struct capdef *cap)
{
	struct capq *q = router_capq(r, cap->name, 0);
	if (!q || !cap->prov)
		return;
	for (size_t i = 0; i < q->nprov; i++) {
		if (q->provs[i] != cap->prov)
			continue;
		memmove(&q->provs[i], &q->provs[i + 1],
		        (q->nprov - i - 1) * sizeof *q->provs);
		q->nprov--;
		return;
	}
}

void router_set_breaker(struct router *r, int failures, int cooldown_ms)
{
	r->breaker_failures = failures;
	r->breaker_cooldown_ms = cooldown_ms;
}

static int cmp_capq(const void *a, const void *b)
{
	return strcmp((*(struct capq *const *)a)->name,
	              (*(struct capq *const *)b)->name);
}

size_t router_list(struct router *r, struct capq ***out)
{
	size_t n = map_count(r->queues), i = 0, pos = 0;
	const char *k;
	void *v;
	*out = calloc(n ? n : 1, sizeof **out);
	if (!*out)
		return 0;
	while (map_next(r->queues, &pos, &k, &v))
		(*out)[i++] = v;
	qsort(*out, n, sizeof **out, cmp_capq);
	return n;
}

/* Is `want` equal to `have`, or an element of it when it is an array? */
static int value_covers(const json_t *have, const json_t *want)
{
	if (!have)
		return 0;
	if (json_equal(have, want))
		return 1;
	if (!json_is_array(have))
		return 0;
	size_t i;
	json_t *el;
	json_array_foreach(have, i, el)
		if (json_equal(el, want))
			return 1;
	return 0;
}

static int attr_covers(const json_t *attrs, const char *key, const json_t *want)
{
	if (value_covers(json_object_get(attrs, key), want))
		return 1;
	/* "language": "c" matches "languages": ["c", "python"]. */
	char plural[256];
	size_t n = strlen(key);
	if (n + 2 > sizeof plural)
		return 0;
	memcpy(plural, key, n);
	plural[n] = 's';
	plural[n + 1] = '\0';
	return value_covers(json_object_get(attrs, plural), want);
}

int attrs_match(const json_t *attrs, const json_t *match)
{
	const char *key;
	json_t *want;
	if (!match)
		return 1;
	json_object_foreach((json_t *)match, key, want) {
		if (!json_is_array(want)) {
			if (!attr_covers(attrs, key, want))
				return 0;
			continue;
		}
		/* An array asks for all of its members. */
		size_t i;
		json_t *el;
		json_array_foreach(want, i, el)
			if (!attr_covers(attrs, key, el))
				return 0;
	}
	return 1;
}

int router_can_match(const struct capq *q, const json_t *match)
{
	for (size_t i = 0; q && i < q->nprov; i++)
		if (attrs_match(q->provs[i]->cap->attributes, match))
			return 1;
	return 0;
}

/* ---- the queue: a binary heap, best task at the root ---- */

static int better(const struct task *a, const struct task *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return a->seq < b->seq;
}

static void heap_set(struct capq *q, size_t i, struct task *t)
{
	q->heap[i] = t;
	t->heap_idx = i;
}

static void sift_up(struct capq *q, size_t i)
{
	struct task *t = q->heap[i];
	while (i > 0 && better(t, q->heap[(i - 1) / 2])) {
		heap_set(q, i, q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(q, i, t);
}

static void sift_down(struct capq *q, size_t i)
{
	struct task *t = q->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->len)
			break;
		if (c + 1 < q->len && better(q->heap[c + 1], q->heap[c]))
			c++;
		if (!better(q->heap[c], t))
			break;
		heap_set(q, i, q->heap[c]);
		i = c;
	}
	heap_set(q, i, t);
}

int capq_push(struct capq *q, struct task *t)
{
	if (q->len == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 16;
		struct task **nh = realloc(q->heap, ncap * sizeof *nh);
		if (!nh)
			return -1;
		q->heap = nh;
		q->cap = ncap;
	}
	t->q = q;
	t->in_queue = 1;
	heap_set(q, q->len++, t);
	sift_up(q, q->len - 1);
	return 0;
}

void capq_remove(struct capq *q, struct task *t)
{
	if (!t->in_queue || t->q != q)
		return;
	size_t i = t->heap_idx;
	t->in_queue = 0;
	struct task *last = q->heap[--q->len];
	if (i == q->len)
		return;
	heap_set(q, i, last);
	sift_up(q, i);
	sift_down(q, last->heap_idx);
}

/* ---- picking a provider ---- */

static int available(struct provider *p, int64_t now, int64_t *retry_at)
{
	if (p->running >= p->max)
		return 0;
	if (p->breaker == BREAKER_OPEN) {
		if (now < p->open_until) {
			if (!*retry_at || p->open_until < *retry_at)
				*retry_at = p->open_until;
			return 0;
		}
		p->breaker = BREAKER_HALF_OPEN;
	}
	/* Half open: one trial attempt at a time. */
	return p->breaker != BREAKER_HALF_OPEN || p->running == 0;
}

static struct provider *pick(struct capq *q, const struct task *t,
                             int64_t now, int blocking_ok, int64_t *retry_at)
{
	struct provider *best = NULL;
	for (size_t i = 0; i < q->nprov; i++) {
		struct provider *p = q->provs[i];
		if (!blocking_ok && (p->cap->flags & MCPD_CAP_BLOCKING))
			continue;
		if (!attrs_match(p->cap->attributes, t->match) ||
		    !available(p, now, retry_at))
			continue;
		int free_p = p->max - p->running;
		int free_b = best ? best->max - best->running : -1;
		if (!best || free_p > free_b ||
		    (free_p == free_b && p->success > best->success))
			best = p;
	}
	return best;
}

struct task *router_take(struct capq *q, int64_t now, int blocking_ok,
                         struct provider **prov, int64_t *retry_at)
{
	*retry_at = 0;
	if (!q->len)
		return NULL;
	/* Usually the best task can run; when it cannot (its match is busy)
	 * look for the best one that can, so one busy provider does not
	 * stall the whole queue. */
	struct task *chosen = NULL;
	struct provider *cp = NULL;
	if ((cp = pick(q, q->heap[0], now, blocking_ok, retry_at))) {
		chosen = q->heap[0];
	} else {
		for (size_t i = 1; i < q->len; i++) {
			struct task *t = q->heap[i];
			if (chosen && !better(t, chosen))
				continue;
			struct provider *p = pick(q, t, now, blocking_ok, retry_at);
			if (p) {
				chosen = t;
				cp = p;
			}
		}
	}
	if (!chosen)
		return NULL;
	capq_remove(q, chosen);
	*prov = cp;
	return chosen;
}

void router_outcome(struct router *r, struct provider *p, int ok, int64_t now)
{
	p->success = 0.9 * p->success + (ok ? 0.1 : 0.0);
	if (ok) {
		p->fails = 0;
		p->breaker = BREAKER_CLOSED;
		return;
	}
	p->fails++;
	if (p->breaker == BREAKER_HALF_OPEN || p->fails >= r->breaker_failures) {
		p->breaker = BREAKER_OPEN;
		p->open_until = now + r->breaker_cooldown_ms;
	}
}

const char *breaker_name(enum breaker_state s)
{
	static const char *const names[] = {"closed", "open", "half_open"};
	return (unsigned)s < 3 ? names[s] : "unknown";
}
