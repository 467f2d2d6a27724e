/* Unit tests for core/store.c: the LMDB store. */
#include "store-internal.h"
#include "tap.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[] = "/tmp/test_store.XXXXXX";

static void make_id(uint8_t id[STORE_ID_LEN], uint64_t n)
{
	memset(id, 0, STORE_ID_LEN);
	for (int i = 0; i < 8; i++)
		id[STORE_ID_LEN - 1 - i] = (uint8_t)(n >> (8 * i));
}

static uint64_t id_num(const uint8_t id[STORE_ID_LEN])
{
	uint64_t n = 0;
	for (int i = 8; i < STORE_ID_LEN; i++)
		n = n << 8 | id[i];
	return n;
}

static char *path_in(const char *name)
{
	static char buf[4][256];
	static int next;
	char *p = buf[next++ % 4];
	snprintf(p, sizeof buf[0], "%s/%s", root, name);
	return p;
}

static struct store *open_at(const char *name, size_t map)
{
	char err[256] = "";
	struct store *s = store_open(path_in(name), map, err, sizeof err);
	if (!s)
		diag("store_open: %s", err);
	return s;
}

static int put_text(struct store *s, uint64_t n, const char *json)
{
	uint8_t id[STORE_ID_LEN];
	make_id(id, n);
	return store_task_put(s, id, json, strlen(json));
}

/* 0 and *out (to free), 1 if absent, -1. */
static int get_text(struct store *s, uint64_t n, char **out)
{
	uint8_t id[STORE_ID_LEN];
	make_id(id, n);
	size_t len = 0;
	*out = NULL;
	int rc = store_task_get(s, id, out, &len);
	if (rc == 0 && strlen(*out) != len)
		diag("length %zu does not match the text", len);
	return rc;
}

static int has_task(struct store *s, uint64_t n)
{
	char *json;
	int rc = get_text(s, n, &json);
	free(json);
	return rc;
}

/* ---- running a call on another thread ---- */

struct call {
	struct store *s;
	int (*fn)(struct call *);
	uint64_t n;
	int rc;
	char err[256];
};

static void *call_main(void *arg)
{
	struct call *c = arg;
	c->rc = c->fn(c);
	snprintf(c->err, sizeof c->err, "%s", store_last_error(c->s));
	return NULL;
}

static int on_thread(struct store *s, int (*fn)(struct call *), uint64_t n,
                     struct call *c)
{
	*c = (struct call){.s = s, .fn = fn, .n = n};
	pthread_t t;
	if (pthread_create(&t, NULL, call_main, c) != 0)
		return -2;
	pthread_join(t, NULL);
	return c->rc;
}

static int call_has_task(struct call *c)
{
	return has_task(c->s, c->n);
}

static int call_put(struct call *c)
{
	return put_text(c->s, c->n, "{}");
}

static int call_commit(struct call *c)
{
	return store_commit(c->s);
}

static int call_kv_del(struct call *c)
{
	return store_kv_del(c->s, "p", "k");
}

/* ---- tests ---- */

static void test_basic(void)
{
	struct stat st;
	struct store *s = open_at("basic/nested", 0);
	ok(s != NULL, "open creates missing directories");
	if (!s)
		return;
	ok(stat(path_in("basic/nested"), &st) == 0 &&
	           (st.st_mode & 0777) == 0700,
	   "store directory is mode 0700");
	ok(!store_pending(s), "nothing pending after open");

	char *json;
	is_int(get_text(s, 1, &json), 1, "get of a missing id returns 1");
	ok(json == NULL, "and leaves *json alone");
	is_int(put_text(s, 1, "{\"a\":1}"), 0, "put");
	ok(store_pending(s), "a write opens a transaction");
	is_int(get_text(s, 1, &json), 0, "get own pending write");
	is_str(json, "{\"a\":1}", "text round-trips");
	free(json);
	is_int(put_text(s, 1, "{\"a\":2}"), 0, "overwrite");
	get_text(s, 1, &json);
	is_str(json, "{\"a\":2}", "overwrite replaces");
	free(json);

	uint8_t id[STORE_ID_LEN];
	make_id(id, 1);
	is_int(store_task_del(s, id), 0, "del");
	is_int(has_task(s, 1), 1, "deleted task is gone");
	make_id(id, 99);
	is_int(store_task_del(s, id), 0, "del of a missing id is not an error");

	/* Binary-safe: an embedded NUL survives, with its length. */
	make_id(id, 2);
	is_int(store_task_put(s, id, "a\0b", 3), 0, "put with an embedded NUL");
	size_t len = 0;
	store_task_get(s, id, &json, &len);
	ok(len == 3 && memcmp(json, "a\0b", 4) == 0,
	   "get returns the length and a terminating NUL");
	free(json);
	is_int(store_commit(s), 0, "commit");
	ok(!store_pending(s), "nothing pending after commit");
	is_int(store_commit(s), 0, "commit with nothing pending is a no-op");
	store_close(s);
}

static void test_visibility(void)
{
	struct store *s = open_at("vis", 0);
	struct call c;
	put_text(s, 7, "{}");
	is_int(has_task(s, 7), 0, "pending write visible on the writer thread");
	is_int(on_thread(s, call_has_task, 7, &c), 1,
	       "pending write invisible from another thread");
	is_int(store_commit(s), 0, "commit");
	is_int(on_thread(s, call_has_task, 7, &c), 0,
	       "committed write visible from another thread");

	put_text(s, 8, "{}");
	store_abort(s);
	ok(!store_pending(s), "abort closes the transaction");
	is_int(has_task(s, 8), 1, "abort discards the write");
	is_int(has_task(s, 7), 0, "abort keeps what was committed");
	store_abort(s); /* nothing open: harmless */

	put_text(s, 9, "{\"late\":true}");
	store_close(s); /* commits what is pending */
	s = open_at("vis", 0);
	char *json;
	is_int(get_text(s, 7, &json), 0, "committed task survives reopen");
	free(json);
	is_int(get_text(s, 9, &json), 0, "close commits pending writes");
	is_str(json, "{\"late\":true}", "with their text");
	free(json);
	store_close(s);
	store_close(NULL);
	ok(1, "store_close(NULL) is a no-op");
}

static void test_refused(void)
{
	struct store *s = open_at("refused", 0);
	struct call c;
	is_int(on_thread(s, call_put, 1, &c), -1,
	       "write from another thread is refused");
	ok(strstr(c.err, "writer") != NULL, "with a reason: %s", c.err);
	is_int(on_thread(s, call_kv_del, 0, &c), -1,
	       "kv del from another thread is refused");
	put_text(s, 2, "{}");
	is_int(on_thread(s, call_commit, 0, &c), -1,
	       "commit from another thread is refused");
	ok(store_pending(s), "and the writer's transaction stays open");
	is_int(store_commit(s), 0, "the writer commits it");
	is_int(has_task(s, 2), 0, "its write is kept");
	store_close(s);
}

/* ---- scans ---- */

struct seen {
	uint64_t ids[64];
	int n, stop_at;
};

static int collect(const uint8_t id[STORE_ID_LEN], const char *json,
                   size_t len, void *ud)
{
	struct seen *w = ud;
	if (strlen(json) != len || w->n == 64)
		return 1;
	w->ids[w->n++] = id_num(id);
	return w->stop_at && w->n == w->stop_at;
}

static int scan(struct store *s, uint64_t after, int reverse, int stop_at,
                struct seen *w)
{
	uint8_t a[STORE_ID_LEN];
	make_id(a, after);
	*w = (struct seen){.stop_at = stop_at};
	return store_task_scan(s, after ? a : NULL, reverse, collect, w);
}

static int seen_is(const struct seen *w, const uint64_t *want, int n)
{
	if (w->n != n)
		return 0;
	for (int i = 0; i < n; i++)
		if (w->ids[i] != want[i])
			return 0;
	return 1;
}

static void test_scan(void)
{
	struct store *s = open_at("scan", 0);
	struct seen w;
	is_int(scan(s, 0, 0, 0, &w), 0, "scan of an empty store");
	is_int(w.n, 0, "visits nothing");

	/* 256 and 512 catch a little-endian key. */
	const uint64_t ids[] = {10, 20, 30, 256, 512};
	for (int i = 4; i >= 0; i--)
		put_text(s, ids[i], "{}");
	store_commit(s);

	scan(s, 0, 0, 0, &w);
	ok(seen_is(&w, ids, 5), "forward scan in id order");
	const uint64_t rev[] = {512, 256, 30, 20, 10};
	scan(s, 0, 1, 0, &w);
	ok(seen_is(&w, rev, 5), "reverse scan newest first");

	scan(s, 20, 0, 0, &w);
	ok(seen_is(&w, ids + 2, 3), "forward after an existing id excludes it");
	scan(s, 25, 0, 0, &w);
	ok(seen_is(&w, ids + 2, 3), "forward after a missing id");
	scan(s, 512, 0, 0, &w);
	is_int(w.n, 0, "forward after the last id visits nothing");
	scan(s, 1, 0, 0, &w);
	ok(seen_is(&w, ids, 5), "forward after an id below all");

	scan(s, 256, 1, 0, &w);
	ok(seen_is(&w, rev + 2, 3), "reverse after an existing id excludes it");
	scan(s, 25, 1, 0, &w);
	ok(seen_is(&w, rev + 3, 2), "reverse after a missing id");
	scan(s, 10, 1, 0, &w);
	is_int(w.n, 0, "reverse after the first id visits nothing");
	scan(s, 1000, 1, 0, &w);
	ok(seen_is(&w, rev, 5), "reverse after an id above all");

	scan(s, 0, 0, 2, &w);
	ok(seen_is(&w, ids, 2), "forward scan stops when the callback asks");
	scan(s, 0, 1, 1, &w);
	ok(seen_is(&w, rev, 1), "reverse scan stops when the callback asks");

	put_text(s, 15, "{}");
	scan(s, 10, 0, 0, &w);
	const uint64_t pend[] = {15, 20, 30, 256, 512};
	ok(seen_is(&w, pend, 5), "writer-thread scan sees pending writes");
	is_int(store_task_count(s), 6, "count includes pending writes");
	store_abort(s);
	is_int(store_task_count(s), 5, "count after abort");
	store_close(s);
}

/* A callback on the writer thread may write; commit must wait. */
static int write_during_scan(const uint8_t id[STORE_ID_LEN], const char *json,
                             size_t len, void *ud)
{
	(void)json;
	(void)len;
	struct store *s = ud;
	uint8_t copy[STORE_ID_LEN];
	memcpy(copy, id, STORE_ID_LEN);
	copy[0] = 1; /* far above every test id: not visited again */
	if (store_task_put(s, copy, "{\"copy\":true}", 13))
		return 1;
	return store_commit(s) == 0; /* must be refused */
}

static void test_scan_writes(void)
{
	struct store *s = open_at("scanw", 0);
	for (uint64_t n = 1; n <= 3; n++)
		put_text(s, n, "{}");
	store_commit(s);
	is_int(store_task_scan(s, NULL, 0, write_during_scan, s), 0,
	       "scan whose callback writes and tries to commit");
	is_int(store_task_count(s), 6, "callback writes are pending");
	ok(store_pending(s), "commit inside the callback was refused");
	is_int(store_commit(s), 0, "commit after the scan");
	is_int(store_task_count(s), 6, "and they are kept");
	store_close(s);
}

/* ---- events, idempotency keys, plugin key-value spaces ---- */

struct events {
	uint32_t seq[16];
	int n;
};

static int collect_event(uint32_t seq, const char *json, size_t len, void *ud)
{
	struct events *e = ud;
	char want[32];
	snprintf(want, sizeof want, "{\"seq\":%u}", seq);
	if (e->n == 16 || len != strlen(want) || strcmp(json, want) != 0)
		return 1;
	e->seq[e->n++] = seq;
	return 0;
}

static void event_put(struct store *s, uint64_t n, uint32_t seq)
{
	uint8_t id[STORE_ID_LEN];
	char json[32];
	make_id(id, n);
	snprintf(json, sizeof json, "{\"seq\":%u}", seq);
	store_event_put(s, id, seq, json, strlen(json));
}

static void test_events(void)
{
	struct store *s = open_at("events", 0);
	const uint32_t seqs[] = {256, 2, 65536, 1, 3};
	for (int i = 0; i < 5; i++)
		event_put(s, 100, seqs[i]);
	event_put(s, 99, 0);
	event_put(s, 101, 0);
	event_put(s, 101, 1);
	uint8_t id[STORE_ID_LEN];
	make_id(id, 100);
	struct events e = {.n = 0};
	is_int(store_event_scan(s, id, collect_event, &e), 0, "event scan");
	ok(e.n == 5 && e.seq[0] == 1 && e.seq[1] == 2 && e.seq[2] == 3 &&
	           e.seq[3] == 256 && e.seq[4] == 65536,
	   "events in seq order, none from adjacent tasks (%d seen)", e.n);
	store_commit(s);
	make_id(id, 102);
	e.n = 0;
	store_event_scan(s, id, collect_event, &e);
	is_int(e.n, 0, "a task without events has none");
	make_id(id, 101);
	e.n = 0;
	store_event_scan(s, id, collect_event, &e);
	ok(e.n == 2 && e.seq[0] == 0 && e.seq[1] == 1,
	   "the last task's events, seq 0 included");
	store_close(s);
}

static void test_idem(void)
{
	struct store *s = open_at("idem", 0);
	uint8_t id[STORE_ID_LEN], got[STORE_ID_LEN];
	make_id(id, 4242);
	is_int(store_idem_get(s, "req-1", got), 1, "missing idempotency key");
	is_int(store_idem_put(s, "req-1", id), 0, "idem put");
	memset(got, 0, sizeof got);
	is_int(store_idem_get(s, "req-1", got), 0, "idem get");
	ok(memcmp(got, id, STORE_ID_LEN) == 0, "returns the task id");
	is_int(store_idem_get(s, "req-", got), 1, "a prefix is another key");
	is_int(store_idem_put(s, "", id), -1, "an empty key is refused");
	store_commit(s);
	store_close(s);
}

static int kv_is(struct store *s, const char *plugin, const char *key,
                 const char *want)
{
	char *json = NULL;
	size_t len;
	int rc = store_kv_get(s, plugin, key, &json, &len);
	int same = rc == 0 && len == strlen(want) && strcmp(json, want) == 0;
	free(json);
	return rc == 1 && !want[0] ? 1 : same;
}

static void test_kv(void)
{
	struct store *s = open_at("kv", 0);
	char *json;
	size_t len;
	is_int(store_kv_get(s, "a", "bc", &json, &len), 1, "missing kv key");
	is_int(store_kv_put(s, "a", "bc", "1", 1), 0, "kv put a/bc");
	is_int(store_kv_put(s, "ab", "c", "2", 1), 0, "kv put ab/c");
	is_int(store_kv_put(s, "abc", "", "3", 1), 0, "kv put abc/(empty)");
	ok(kv_is(s, "a", "bc", "1"), "a/bc keeps its value");
	ok(kv_is(s, "ab", "c", "2"), "ab/c keeps its value");
	ok(kv_is(s, "abc", "", "3"), "an empty key is a key");
	is_int(store_kv_get(s, "b", "bc", &json, &len), 1,
	       "another plugin does not see it");
	is_int(store_kv_del(s, "a", "bc"), 0, "kv del");
	is_int(store_kv_del(s, "a", "bc"), 1, "kv del of a missing key is 1");
	ok(kv_is(s, "a", "bc", ""), "deleted key is gone");
	ok(kv_is(s, "ab", "c", "2"), "the neighbour stays");
	char big[600];
	memset(big, 'k', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	is_int(store_kv_put(s, "p", big, "1", 1), -1,
	       "an oversized key is refused");
	ok(store_pending(s) && kv_is(s, "ab", "c", "2"),
	   "without harming the pending writes");
	is_int(store_commit(s), 0, "commit");
	store_close(s);
	s = open_at("kv", 0);
	ok(kv_is(s, "ab", "c", "2") && kv_is(s, "a", "bc", ""),
	   "kv spaces survive reopen");
	store_close(s);
}

/* ---- map growth ---- */

static void test_map_full(void)
{
	size_t mib = (size_t)1 << 20;
	struct store *s = open_at("full", mib);
	ok(s && store_map_size(s) == mib, "open with a 1 MiB map");
	if (!s)
		return;
	char blob[1001];
	memset(blob, 'x', 1000);
	blob[1000] = '\0';
	int bad = 0;
	/* ~3 MB in one transaction: MDB_MAP_FULL mid-way, and replay. */
	for (uint64_t n = 1; n <= 3000; n++)
		bad += put_text(s, n, blob) != 0;
	is_int(bad, 0, "3000 writes of 1 kB into a 1 MiB map all succeed");
	is_int(store_commit(s), 0, "and commit");
	ok(store_map_size(s) > 3 * mib, "the map grew (%zu bytes)",
	   store_map_size(s));
	is_int(store_task_count(s), 3000, "every task is there");

	/* Many small commits: grown ahead of need, after commit. */
	size_t before = store_map_size(s);
	for (uint64_t n = 3001; n <= 9000 && !bad; n++) {
		bad += put_text(s, n, blob) != 0;
		if (n % 100 == 0)
			bad += store_commit(s) != 0;
	}
	is_int(bad, 0, "batched commits keep succeeding");
	ok(store_map_size(s) > before, "the map grew again");
	store_close(s);

	s = open_at("full", mib);
	ok(s && store_map_size(s) >= before,
	   "reopen with a smaller size keeps the grown map");
	is_int(s ? store_task_count(s) : 0, 9000,
	       "all 9000 tasks after reopen");
	store_close(s);
}

/* Fill the map from a scan callback: growth is impossible there. */
static int fill_in_scan(const uint8_t id[STORE_ID_LEN], const char *json,
                        size_t len, void *ud)
{
	(void)id;
	(void)json;
	(void)len;
	struct store *s = ud;
	static char blob[4001];
	memset(blob, 'y', 4000);
	for (uint64_t n = 1000; n < 2000; n++)
		if (put_text(s, n, blob) != 0)
			return 1;
	return 1;
}

static void test_map_full_in_scan(void)
{
	size_t mib = (size_t)1 << 20;
	struct store *s = open_at("fullscan", mib);
	put_text(s, 1, "{}");
	store_commit(s);
	store_task_scan(s, NULL, 0, fill_in_scan, s);
	ok(store_pending(s),
	   "a map-full inside a scan leaves a failure pending");
	is_int(put_text(s, 5000, "{}"), -1, "further writes are refused");
	is_int(store_commit(s), -1, "commit reports the lost writes");
	ok(strstr(store_last_error(s), "lost") != NULL, "saying so: %s",
	   store_last_error(s));
	ok(!store_pending(s), "the failure is cleared");
	ok(store_map_size(s) > mib, "the map grew once the scan ended");
	is_int(has_task(s, 1000), 1, "the lost writes are not there");
	is_int(put_text(s, 2, "{}"), 0, "the writer works again");
	is_int(store_commit(s), 0, "and commits");
	is_int(store_task_count(s), 2, "only committed tasks count");
	store_close(s);
}

/* Readers on other threads while the writer remaps the file. */
struct reader_arg {
	struct store *s;
	_Atomic int *stop;
	int errors, rounds;
};

/* Nested reads inside a callback must not take the map lock twice: with
 * a writer waiting on it, that would deadlock. */
static int nested_cb(const uint8_t id[STORE_ID_LEN], const char *json,
                     size_t len, void *ud)
{
	struct store *s = ud;
	char *copy = NULL;
	size_t n = 0;
	int rc = store_task_get(s, id, &copy, &n);
	int bad = rc != 0 || n != len || memcmp(copy, json, len) != 0;
	free(copy);
	return bad || json[len] != '\0';
}

static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	while (!*a->stop) {
		a->errors += store_task_scan(a->s, NULL, a->rounds & 1,
		                             nested_cb, a->s) != 0;
		a->errors += has_task(a->s, 1) != 0;
		a->rounds++;
	}
	return NULL;
}

static void test_growth_with_readers(void)
{
	size_t mib = (size_t)1 << 20;
	struct store *s = open_at("readers", mib);
	put_text(s, 1, "{}");
	store_commit(s);
	_Atomic int stop = 0;
	struct reader_arg args[3];
	pthread_t t[3];
	for (int i = 0; i < 3; i++) {
		args[i] = (struct reader_arg){.s = s, .stop = &stop};
		pthread_create(&t[i], NULL, reader_main, &args[i]);
	}
	char blob[2001];
	memset(blob, 'z', 2000);
	blob[2000] = '\0';
	int bad = 0;
	for (uint64_t n = 2; n <= 3000; n++) {
		bad += put_text(s, n, blob) != 0;
		if (n % 250 == 0)
			bad += store_commit(s) != 0;
	}
	bad += store_commit(s) != 0;
	stop = 1;
	int errors = 0;
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		errors += args[i].errors;
	}
	is_int(bad, 0, "writer grows the map while readers run");
	is_int(errors, 0, "readers (reading inside callbacks) never fail");
	ok(store_map_size(s) >= 8 * mib, "map grew several times (%zu)",
	   store_map_size(s));
	store_close(s);
}

/* ---- other processes ---- */

/*
 * Run body(fd) in a child until it writes `marker` to fd, then SIGKILL it
 * from outside, as the OOM killer would: no cleanup runs in the child,
 * not even a memory checker's exit report. The child's output is left in
 * buf; returns its wait status.
 */
static int child_run(void (*body)(int fd), const char *marker, char *buf,
                     size_t size)
{
	int fds[2];
	buf[0] = '\0';
	if (pipe(fds) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fds[0]);
		body(fds[1]);
		_exit(5); /* bodies never return */
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t r;
	while (!strstr(buf, marker) && got < size - 1 &&
	       (r = read(fds[0], buf + got, size - 1 - got)) > 0) {
		got += (size_t)r;
		buf[got] = '\0';
	}
	kill(pid, SIGKILL);
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

static void child_park(int fd, const char *marker)
{
	size_t n = strlen(marker);
	if (write(fd, marker, n) != (ssize_t)n)
		_exit(6);
	for (;;)
		pause();
}

static void grow_child(int fd)
{
	struct store *s = open_at("shared", 0);
	char blob[1001];
	memset(blob, 'g', 1000);
	blob[1000] = '\0';
	int bad = !s;
	for (uint64_t n = 2; n <= 3000 && !bad; n++)
		bad += put_text(s, n, blob) != 0;
	bad += !bad && store_commit(s) != 0;
	store_close(s);
	child_park(fd, bad ? "failed\n" : "grown\n");
}

static void test_other_process(void)
{
	size_t mib = (size_t)1 << 20;
	struct store *s = open_at("shared", mib);
	put_text(s, 1, "{}");
	store_commit(s);
	char out[64];
	child_run(grow_child, "\n", out, sizeof out);
	is_str(out, "grown\n", "another process grows the shared map");

	struct call c;
	is_int(on_thread(s, call_has_task, 2, &c), -1,
	       "a reader thread cannot adopt the new size itself");
	ok(strstr(c.err, "MDB_MAP_RESIZED") != NULL, "it says why: %s", c.err);
	is_int(has_task(s, 2), 0, "the writer adopts it and reads");
	ok(store_map_size(s) > mib, "map size now %zu", store_map_size(s));
	is_int(on_thread(s, call_has_task, 3000, &c), 0,
	       "then reader threads read again");
	is_int(put_text(s, 3001, "{}"), 0, "and the writer writes");
	is_int(store_commit(s), 0, "and commits");
	is_int(store_task_count(s), 3001, "seeing both processes' tasks");
	store_close(s);
}

/* ---- crash durability ---- */

#define BATCH 50
#define BATCHES 8

struct victim {
	struct store *s;
	int fd;
};

/* Die inside a read transaction: a stale reader slot. */
static int wait_in_scan(const uint8_t id[STORE_ID_LEN], const char *json,
                        size_t len, void *ud)
{
	(void)id;
	(void)json;
	(void)len;
	struct victim *v = ud;
	child_park(v->fd, "ready\n");
	return 1;
}

static void *victim_main(void *p)
{
	struct victim *v = p;
	store_task_scan(v->s, NULL, 0, wait_in_scan, v);
	return NULL;
}

static void crash_child(int fd)
{
	struct store *s = open_at("crash", 0);
	if (!s)
		_exit(2);
	for (uint64_t b = 0; b < BATCHES; b++) {
		for (uint64_t i = 0; i < BATCH; i++)
			put_text(s, b * BATCH + i + 1, "{\"committed\":true}");
		if (store_commit(s) != 0)
			_exit(3);
		char line[32];
		int n = snprintf(line, sizeof line, "%llu\n",
		                 (unsigned long long)b + 1);
		if (write(fd, line, (size_t)n) != n)
			_exit(4);
	}
	/* A batch that is never committed, its write lock held at death. */
	for (uint64_t i = 0; i < BATCH; i++)
		put_text(s, BATCHES * BATCH + i + 1, "{\"committed\":false}");
	struct victim v = {s, fd};
	pthread_t t;
	pthread_create(&t, NULL, victim_main, &v);
	pthread_join(t, NULL);
}

static void test_crash(void)
{
	char buf[512];
	int status = child_run(crash_child, "ready\n", buf, sizeof buf);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	   "child killed by SIGKILL (status %d)", status);
	int batches = -1; /* the "ready" line */
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		batches++;
	is_int(batches, BATCHES, "child committed every batch first");

	struct store *s = open_at("crash", 0);
	ok(s != NULL, "reopen after the crash");
	if (!s)
		return;
	int missing = 0;
	for (uint64_t n = 1; n <= (uint64_t)batches * BATCH; n++)
		missing += has_task(s, n) != 0;
	is_int(missing, 0, "every committed task is there");
	is_int(store_task_count(s), batches * BATCH,
	       "and nothing uncommitted");
	is_int(put_text(s, 100000, "{}"), 0, "write after the crash");
	is_int(store_commit(s), 0, "commit after the crash (write lock freed)");
	store_close(s);
}

static void test_open_errors(void)
{
	char err[256] = "";
	char *file = path_in("plainfile");
	FILE *f = fopen(file, "w");
	if (f)
		fclose(f);
	struct store *s = store_open(file, 0, err, sizeof err);
	ok(s == NULL, "open of a plain file fails");
	ok(strstr(err, file) != NULL, "naming it: %s", err);
	ok(store_open(path_in("plainfile/sub"), 0, NULL, 0) == NULL,
	   "a NULL err buffer is allowed");
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_basic();
	test_visibility();
	test_refused();
	test_scan();
	test_scan_writes();
	test_events();
	test_idem();
	test_kv();
	test_map_full();
	test_map_full_in_scan();
	test_growth_with_readers();
	test_other_process();
	test_crash();
	test_open_errors();
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	done_testing();
	return exit_status();
}
