/* Unit tests for core/router.c: matching, queue order, picking, breakers. */
#include "plugin-internal.h"
#include "router-internal.h"
#include "task-internal.h"
#include "tap.h"

#include <stdlib.h>

/* Capability records as the loader would build them, without dlopen. */
static struct mcpd_plugin fake_plugin = {.magic = PLUGIN_MAGIC,
                                         .name = "fake", .loaded = 1};

static struct capdef *capdef_make(const char *name, const char *attrs)
{
	struct capdef *c = calloc(1, sizeof *c);
	c->name = strdup(name);
	c->input_schema = json_object();
	c->attributes = attrs ? json_loads(attrs, 0, NULL) : json_object();
	c->plugin = &fake_plugin;
	return c;
}

static void capdef_drop(struct capdef *c)
{
	free(c->prov); /* the capability owns its provider */
	free(c->name);
	json_decref(c->input_schema);
	json_decref(c->attributes);
	free(c);
}

static struct task *task_make(int priority, uint64_t seq, const char *match)
{
	struct task *t = task_new();
	t->priority = priority;
	t->seq = seq;
	t->match = match ? json_loads(match, 0, NULL) : NULL;
	return t;
}

static int matches(const char *attrs, const char *match)
{
	json_t *a = json_loads(attrs, 0, NULL);
	json_t *m = match ? json_loads(match, 0, NULL) : NULL;
	int r = attrs_match(a, m);
	json_decref(a);
	json_decref(m);
	return r;
}

static void test_attrs(void)
{
	const char *attrs = "{\"language\": \"python\", \"gpu\": true, "
	                    "\"tags\": [\"fast\", \"cheap\"], \"mem\": 512}";
	ok(matches(attrs, NULL), "NULL match always matches");
	ok(matches(attrs, "{}"), "empty match always matches");
	ok(matches("{}", NULL), "NULL match matches no attributes");
	ok(matches(attrs, "{\"language\": \"python\"}"), "exact string");
	ok(!matches(attrs, "{\"language\": \"c\"}"), "different string");
	ok(matches(attrs, "{\"gpu\": true, \"mem\": 512}"), "bool and number");
	ok(!matches(attrs, "{\"mem\": \"512\"}"), "types must agree");
	ok(!matches(attrs, "{\"gpu\": true, \"mem\": 1024}"),
	   "every key must match");
	ok(matches(attrs, "{\"tags\": \"fast\"}"), "array contains the value");
	ok(!matches(attrs, "{\"tags\": \"slow\"}"), "array lacks the value");
	ok(matches(attrs, "{\"tags\": [\"cheap\", \"fast\"]}"),
	   "array in match: all present");
	ok(!matches(attrs, "{\"tags\": [\"cheap\", \"slow\"]}"),
	   "array in match: one missing fails");
	ok(!matches(attrs, "{\"region\": \"eu\"}"), "missing attribute fails");
	ok(!matches("{}", "{\"language\": \"python\"}"),
	   "no attributes, a non-empty match fails");

	const char *plural = "{\"languages\": [\"c\", \"python\"]}";
	ok(matches(plural, "{\"language\": \"python\"}"),
	   "\"language\" matches an element of \"languages\"");
	ok(matches(plural, "{\"language\": [\"python\", \"c\"]}"),
	   "array of languages against \"languages\": all present");
	ok(!matches(plural, "{\"language\": [\"python\", \"go\"]}"),
	   "array of languages: one missing fails");
	ok(!matches(plural, "{\"language\": \"go\"}"),
	   "\"language\" not in \"languages\"");
	ok(matches(plural, "{\"languages\": \"c\"}"),
	   "\"languages\" itself works too");
	ok(matches("{\"languages\": \"c\"}", "{\"language\": \"c\"}"),
	   "a scalar \"languages\" equals the value");
	ok(matches(attrs, "{\"tag\": \"fast\"}"),
	   "the plural rule is generic: \"tag\" finds \"tags\"");
	ok(!matches("{\"tag\": \"fast\"}", "{\"tags\": \"fast\"}"),
	   "but not the other way round");
}

/* Priority then age, through router_take with one roomy provider. */
static void test_order(void)
{
	struct router *r = router_new(5, 1000);
	struct capdef *c = capdef_make("order", NULL);
	is_int(router_add_provider(r, c, 100), 0, "add a provider");
	struct capq *q = router_capq(r, "order", 0);
	ok(q && q->nprov == 1, "the queue exists with one provider");

	static const int prio[] = {0, 5, 0, 9, 5, -3, 9, 0, 5, -3};
	enum { N = sizeof prio / sizeof prio[0] };
	struct task *ts[N];
	for (int i = 0; i < N; i++) {
		ts[i] = task_make(prio[i], (uint64_t)(i + 1), NULL);
		capq_push(q, ts[i]);
	}
	is_int(q->len, N, "%d tasks queued", N);
	/* Expected: 9(seq 4), 9(7), 5(2), 5(5), 5(9), 0(1), 0(3), 0(8),
	 * -3(6), -3(10). */
	static const int want[] = {3, 6, 1, 4, 8, 0, 2, 7, 5, 9};
	int in_order = 1;
	for (int i = 0; i < N; i++) {
		struct provider *p = NULL;
		int64_t retry_at = -1;
		struct task *t = router_take(q, 1000, 1, &p, &retry_at);
		if (t != ts[want[i]] || p != q->provs[0] || retry_at != 0 ||
		    t->in_queue) {
			in_order = 0;
			diag("take %d: got seq %llu", i,
			     t ? (unsigned long long)t->seq : 0ull);
		}
	}
	ok(in_order, "router_take yields priority first, then age");
	struct provider *p;
	int64_t retry_at;
	ok(router_take(q, 1000, 1, &p, &retry_at) == NULL && retry_at == 0,
	   "an empty queue yields nothing");
	for (int i = 0; i < N; i++)
		task_free(ts[i]);

	/* router_list is in name order; router_capq creates on demand. */
	ok(router_capq(r, "absent", 0) == NULL, "router_capq without create");
	ok(router_capq(r, "b.cap", 1) && router_capq(r, "a.cap", 1),
	   "router_capq creates");
	struct capq **list;
	size_t n = router_list(r, &list);
	is_int(n, 3, "three queues");
	ok(n == 3 && strcmp(list[0]->name, "a.cap") == 0 &&
	   strcmp(list[1]->name, "b.cap") == 0 &&
	   strcmp(list[2]->name, "order") == 0, "listed in name order");
	free(list);
	router_free(r);
	capdef_drop(c);
	router_free(NULL);
	ok(1, "router_free(NULL) is a no-op");
}

/* Concurrency limits and who is preferred. */
static void test_pick(void)
{
	struct router *r = router_new(5, 1000);
	struct capdef *a = capdef_make("pick", "{\"name\": \"a\"}");
	struct capdef *b = capdef_make("pick", "{\"name\": \"b\"}");
	router_add_provider(r, a, 4);
	router_add_provider(r, b, 2);
	struct capq *q = router_capq(r, "pick", 0);
	struct provider *pa = q->provs[0], *pb = q->provs[1];
	ok(q->nprov == 2 && pa->cap == a && pb->cap == b && pa->max == 4 &&
	   pb->max == 2, "two providers with their limits");
	ok(pa->success == 1.0 && pa->breaker == BREAKER_CLOSED,
	   "a new provider: success 1, breaker closed");

	struct task *t = task_make(0, 1, NULL);
	capq_push(q, t);
	struct provider *p = NULL;
	int64_t retry_at;

	pa->running = 3; /* 1 free */
	pb->running = 0; /* 2 free */
	ok(router_take(q, 0, 1, &p, &retry_at) == t && p == pb,
	   "most free concurrency wins (b: 2 free over a: 1)");
	capq_push(q, t);
	pa->running = 0; /* 4 free */
	ok(router_take(q, 0, 1, &p, &retry_at) == t && p == pa,
	   "most free concurrency wins (a: 4 free over b: 2)");

	capq_push(q, t);
	pa->running = 2; /* both 2 free */
	pa->success = 0.5;
	pb->success = 0.9;
	ok(router_take(q, 0, 1, &p, &retry_at) == t && p == pb,
	   "equal free slots: better success rate wins (b)");
	capq_push(q, t);
	pa->success = 0.95;
	ok(router_take(q, 0, 1, &p, &retry_at) == t && p == pa,
	   "equal free slots: better success rate wins (a)");

	capq_push(q, t);
	pa->running = 4;
	pb->running = 2;
	ok(router_take(q, 0, 1, &p, &retry_at) == NULL,
	   "running >= max on every provider: nothing taken");
	is_int(retry_at, 0, "and no retry time (only breakers give one)");
	ok(t->in_queue && q->len == 1, "the task stays queued");
	pa->running = 5; /* above max, as after a reload lowered it */
	ok(router_take(q, 0, 1, &p, &retry_at) == NULL,
	   "running above max blocks too");
	pb->running = 1;
	ok(router_take(q, 0, 1, &p, &retry_at) == t && p == pb,
	   "a freed slot is used");

	/* A match narrows the choice. */
	t->match = json_pack("{s:s}", "name", "a");
	capq_push(q, t);
	pa->running = 3;
	pb->running = 0;
	ok(router_take(q, 0, 1, &p, &retry_at) == t && p == pa,
	   "the match picks a although b has more free slots");
	capq_push(q, t);
	pa->running = 4;
	ok(router_take(q, 0, 1, &p, &retry_at) == NULL,
	   "the only matching provider is busy: nothing, b is not used");
	ok(router_can_match(q, t->match), "router_can_match: a matches");
	json_t *none = json_pack("{s:s}", "name", "z");
	ok(!router_can_match(q, none), "router_can_match: nobody is z");
	ok(router_can_match(q, NULL), "router_can_match: NULL match");
	ok(!router_can_match(NULL, NULL), "router_can_match: no queue");
	json_decref(none);
	capq_remove(q, t);
	task_free(t);

	/* A busy provider does not block a later task another can run. */
	pa->running = 4; /* a is full */
	pb->running = 0;
	struct task *head = task_make(9, 1, "{\"name\": \"a\"}");
	struct task *mid = task_make(5, 2, "{\"name\": \"a\"}");
	struct task *any1 = task_make(1, 3, NULL);
	struct task *any2 = task_make(1, 4, "{\"name\": \"b\"}");
	struct task *low = task_make(0, 5, NULL);
	capq_push(q, low);
	capq_push(q, any2);
	capq_push(q, head);
	capq_push(q, any1);
	capq_push(q, mid);
	ok(q->heap[0] == head, "the blocked task is at the head");
	ok(router_take(q, 0, 1, &p, &retry_at) == any1 && p == pb,
	   "the best task b can run is taken past the blocked head");
	pb->running = 1;
	ok(router_take(q, 0, 1, &p, &retry_at) == any2 && p == pb,
	   "then the next one (same priority, younger)");
	pb->running = 2;
	ok(router_take(q, 0, 1, &p, &retry_at) == NULL,
	   "b full too: nothing");
	pb->running = 1;
	ok(router_take(q, 0, 1, &p, &retry_at) == low && p == pb,
	   "then the lowest priority one");
	ok(q->len == 2 && q->heap[0] == head && head->in_queue && mid->in_queue,
	   "the blocked tasks keep their place");
	pa->running = 3;
	ok(router_take(q, 0, 1, &p, &retry_at) == head && p == pa,
	   "a frees a slot: the head runs on a");
	capq_remove(q, mid);
	ok(q->len == 0 && !mid->in_queue, "capq_remove empties the queue");
	capq_remove(q, mid);
	ok(q->len == 0, "removing a task not queued is a no-op");
	task_free(head);
	task_free(mid);
	task_free(any1);
	task_free(any2);
	task_free(low);

	router_free(r);
	capdef_drop(a);
	capdef_drop(b);
}

/* Is a better than b by the queue's order (priority, then seq)? */
static int ref_better(const struct task *a, const struct task *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return a->seq < b->seq;
}

static int ref_cmp(const void *x, const void *y)
{
	const struct task *a = *(struct task *const *)x;
	const struct task *b = *(struct task *const *)y;
	return ref_better(a, b) ? -1 : ref_better(b, a) ? 1 : 0;
}

static int heap_ok(const struct capq *q)
{
	for (size_t i = 0; i < q->len; i++) {
		if (q->heap[i]->heap_idx != i || !q->heap[i]->in_queue ||
		    q->heap[i]->q != q)
			return 0;
		if (i && ref_better(q->heap[i], q->heap[(i - 1) / 2]))
			return 0;
	}
	return 1;
}

/* Random pushes and removals (mostly from the middle) against a sorted
 * reference. */
static void test_heap_random(void)
{
	enum { OPS = 1000, POOL = 300 };
	struct router *r = router_new(5, 1000);
	struct capq *q = router_capq(r, "heap", 1);
	struct task *all[POOL], *ref[POOL];
	size_t nref = 0;
	uint64_t seq = 0;
	for (int i = 0; i < POOL; i++)
		all[i] = task_make(0, 0, NULL);
	srand(4242);
	int bad = 0, removes = 0, mids = 0;
	for (int op = 0; op < OPS && !bad; op++) {
		struct task *t = all[rand() % POOL];
		if (!t->in_queue) {
			t->priority = rand() % 5;
			t->seq = ++seq;
			capq_push(q, t);
			ref[nref++] = t;
		} else {
			if (t->heap_idx > 0 && t->heap_idx + 1 < q->len)
				mids++;
			capq_remove(q, t);
			removes++;
			for (size_t i = 0; i < nref; i++) {
				if (ref[i] == t) {
					ref[i] = ref[--nref];
					break;
				}
			}
		}
		qsort(ref, nref, sizeof *ref, ref_cmp);
		if (q->len != nref || !heap_ok(q) ||
		    (nref && q->heap[0] != ref[0])) {
			bad = 1;
			diag("heap wrong after op %d", op);
		}
	}
	ok(!bad, "%d random pushes/removes (%d removes, %d from the middle) "
	   "keep heap order and the best at the root", OPS, removes, mids);
	ok(mids > 100, "enough removals came from the middle of the heap");

	/* Drain by removing the root: the sorted order comes out. */
	qsort(ref, nref, sizeof *ref, ref_cmp);
	size_t n = nref;
	int sorted = q->len == n;
	for (size_t i = 0; i < n && sorted; i++) {
		struct task *top = q->heap[0];
		sorted = top == ref[i];
		capq_remove(q, top);
		sorted = sorted && heap_ok(q);
	}
	ok(sorted && q->len == 0, "draining the root yields the %zu left in "
	   "order", n);
	for (int i = 0; i < POOL; i++)
		task_free(all[i]);
	router_free(r);
}

static void test_breaker(void)
{
	enum { FAILS = 3, COOL = 1000 };
	struct router *r = router_new(FAILS, COOL);
	struct capdef *c = capdef_make("brk", NULL);
	router_add_provider(r, c, 2);
	struct capq *q = router_capq(r, "brk", 0);
	struct provider *pv = q->provs[0], *p;
	struct task *t1 = task_make(0, 1, NULL), *t2 = task_make(0, 2, NULL);
	int64_t now = 10000, retry_at;

	is_str(breaker_name(BREAKER_CLOSED), "closed", "breaker_name closed");
	is_str(breaker_name(BREAKER_OPEN), "open", "breaker_name open");
	is_str(breaker_name(BREAKER_HALF_OPEN), "half_open",
	       "breaker_name half_open");

	for (int i = 0; i < FAILS - 1; i++)
		router_outcome(r, pv, 0, now);
	is_int(pv->breaker, BREAKER_CLOSED, "%d failures: still closed",
	       FAILS - 1);
	is_int(pv->fails, FAILS - 1, "failures counted");
	ok(pv->success < 0.9, "success rate dropped (%.3f)", pv->success);
	router_outcome(r, pv, 1, now);
	is_int(pv->fails, 0, "a success resets the count");
	for (int i = 0; i < FAILS; i++)
		router_outcome(r, pv, 0, now);
	is_int(pv->breaker, BREAKER_OPEN, "%d failures in a row open it", FAILS);
	is_int(pv->open_until, now + COOL, "open until now + cooldown");

	capq_push(q, t1);
	capq_push(q, t2);
	ok(router_take(q, now + 10, 1, &p, &retry_at) == NULL,
	   "open: router_take skips the provider");
	is_int(retry_at, now + COOL, "and reports when it half-opens");
	ok(router_take(q, now + COOL - 1, 1, &p, &retry_at) == NULL &&
	   retry_at == now + COOL, "still open 1 ms before the cooldown ends");

	ok(router_take(q, now + COOL, 1, &p, &retry_at) == t1 && p == pv,
	   "after the cooldown one trial is allowed");
	is_int(pv->breaker, BREAKER_HALF_OPEN, "half open");
	pv->running++; /* what the scheduler does when it starts t1 */
	ok(router_take(q, now + COOL, 1, &p, &retry_at) == NULL,
	   "half open: exactly one trial at a time although max is 2");
	is_int(retry_at, 0, "no retry time while the trial runs");
	pv->running--;
	router_outcome(r, pv, 1, now + COOL + 5);
	is_int(pv->breaker, BREAKER_CLOSED, "the trial succeeded: closed");
	is_int(pv->fails, 0, "failure count reset");
	ok(router_take(q, now + COOL + 5, 1, &p, &retry_at) == t2 && p == pv,
	   "closed: tasks flow again");
	pv->running++;
	capq_push(q, t1);
	ok(router_take(q, now + COOL + 5, 1, &p, &retry_at) == t1 && p == pv,
	   "closed: up to max concurrently");
	pv->running = 0;

	/* Reopen, half-open, fail the trial: open again for a full cooldown. */
	int64_t t0 = now + 5000;
	for (int i = 0; i < FAILS; i++)
		router_outcome(r, pv, 0, t0);
	is_int(pv->breaker, BREAKER_OPEN, "open again");
	capq_push(q, t1);
	ok(router_take(q, t0 + COOL, 1, &p, &retry_at) == t1 &&
	   pv->breaker == BREAKER_HALF_OPEN, "half open, trial taken");
	pv->running++;
	router_outcome(r, pv, 0, t0 + COOL + 20);
	pv->running--;
	is_int(pv->breaker, BREAKER_OPEN, "the trial failed: open again");
	is_int(pv->open_until, t0 + COOL + 20 + COOL,
	       "for a full cooldown from the failure");
	capq_push(q, t1);
	ok(router_take(q, t0 + COOL + 21, 1, &p, &retry_at) == NULL &&
	   retry_at == t0 + 2 * COOL + 20, "skipped, retry_at reported");

	/* A second provider keeps the capability served while one is open. */
	struct capdef *c2 = capdef_make("brk", NULL);
	router_add_provider(r, c2, 1);
	ok(router_take(q, t0 + COOL + 21, 1, &p, &retry_at) == t1 &&
	   p == q->provs[1], "another provider takes the task meanwhile");

	task_free(t1);
	task_free(t2);
	router_free(r);
	capdef_drop(c);
	capdef_drop(c2);
}

/* With no worker free, a blocking provider is passed over for a loop one. */
static void test_blocking(void)
{
	struct router *r = router_new(5, 1000);
	struct capdef *blk = capdef_make("mixed", "{\"name\": \"blk\"}");
	struct capdef *loop = capdef_make("mixed", "{\"name\": \"loop\"}");
	blk->flags = MCPD_CAP_BLOCKING;
	router_add_provider(r, blk, 8);
	router_add_provider(r, loop, 1);
	struct capq *q = router_capq(r, "mixed", 0);
	struct provider *pblk = q->provs[0], *ploop = q->provs[1];
	struct task *t = task_make(0, 1, NULL);
	struct provider *p = NULL;
	int64_t retry_at;

	capq_push(q, t);
	ok(router_take(q, 0, 1, &p, &retry_at) == t && p == pblk,
	   "workers free: the blocking provider with more room wins");
	capq_push(q, t);
	ok(router_take(q, 0, 0, &p, &retry_at) == t && p == ploop,
	   "no worker free: the loop provider takes the task");
	capq_push(q, t);
	ploop->running = 1;
	ok(router_take(q, 0, 0, &p, &retry_at) == NULL && q->len == 1,
	   "no worker free and the loop provider full: the task waits");
	capq_remove(q, t);
	task_free(t);
	router_free(r);
	capdef_drop(blk);
	capdef_drop(loop);
}

/* A reload takes a generation's providers out; attempts keep theirs. */
static void test_remove(void)
{
	struct router *r = router_new(5, 1000);
	struct capdef *a = capdef_make("cap", "{\"language\": \"c\"}");
	struct capdef *b = capdef_make("cap", "{\"language\": \"py\"}");
	router_add_provider(r, a, 1);
	router_add_provider(r, b, 1);
	struct capq *q = router_capq(r, "cap", 0);
	json_t *c = json_pack("{s:s}", "language", "c");
	ok(a->prov && b->prov && q->nprov == 2, "two providers, owned by caps");
	ok(router_can_match(q, c), "language c can be matched");
	router_remove_provider(r, a);
	ok(q->nprov == 1 && q->provs[0] == b->prov, "a removed, b stays");
	ok(!router_can_match(q, c), "language c has no provider now");
	ok(a->prov && a->prov->cap == a, "a keeps its provider for attempts");
	router_remove_provider(r, a);
	is_int((int)q->nprov, 1, "removing twice is harmless");
	router_remove_provider(r, b);
	ok(q->nprov == 0 && !router_can_match(q, NULL), "no provider left");
	struct provider *old = a->prov; /* a new provider replaces it */
	router_add_provider(r, a, 1);
	ok(q->nprov == 1 && router_can_match(q, c), "a generation comes back");
	json_decref(c);
	router_free(r);
	free(old);
	capdef_drop(a);
	capdef_drop(b);
}

int main(void)
{
	test_remove();
	test_blocking();
	test_attrs();
	test_order();
	test_pick();
	test_heap_random();
	test_breaker();
	done_testing();
	return exit_status();
}
