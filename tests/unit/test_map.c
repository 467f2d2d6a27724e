/* Unit tests for core/map.c: the string-keyed open-addressing map. */
#include "map-internal.h"
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>

#define MANY 10000

/* The values stored are small integers disguised as pointers (never 0). */
static void *val(size_t n)
{
	return (void *)(uintptr_t)(n + 1);
}

static size_t unval(void *v)
{
	return (size_t)(uintptr_t)v - 1;
}

static void keyname(char *buf, size_t len, size_t n)
{
	snprintf(buf, len, "key-%zu", n);
}

/*
 * The map's hash (FNV-1a), repeated here only to choose keys that share a
 * home slot in a 16-slot table. If map.c changes its hash the collision
 * tests below still check correctness, just with less crowded runs.
 */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h ? h : 1;
}

static void test_basic(void)
{
	struct map *m = map_new();
	ok(m != NULL, "map_new");
	is_int(map_count(m), 0, "a new map is empty");
	ok(map_get(m, "absent") == NULL, "get of an absent key is NULL");
	ok(map_del(m, "absent") == NULL, "del of an absent key is NULL");

	int a, b, c;
	is_int(map_put(m, "a", &a), 0, "put a");
	is_int(map_put(m, "b", &b), 0, "put b");
	is_int(map_put(m, "", &c), 0, "put the empty key");
	is_int(map_count(m), 3, "three keys");
	ok(map_get(m, "a") == &a, "get a");
	ok(map_get(m, "b") == &b, "get b");
	ok(map_get(m, "") == &c, "get the empty key");

	is_int(map_put(m, "a", &c), 0, "replace a");
	is_int(map_count(m), 3, "replacing does not add a key");
	ok(map_get(m, "a") == &c, "get a after replace");

	/* Keys are copied: changing the caller's buffer changes nothing. */
	char key[] = "copied";
	map_put(m, key, &b);
	key[0] = 'X';
	ok(map_get(m, "copied") == &b, "the map keeps its own copy of a key");
	ok(map_get(m, key) == NULL, "the caller's changed buffer is not a key");

	ok(map_del(m, "a") == &c, "del returns the old value");
	ok(map_get(m, "a") == NULL, "a is gone");
	ok(map_del(m, "a") == NULL, "a second del returns NULL");
	is_int(map_count(m), 3, "count after del");
	ok(map_get(m, "b") == &b && map_get(m, "") == &c &&
	   map_get(m, "copied") == &b, "the other keys remain");

	is_int(map_put(m, "nullval", NULL), 0, "a NULL value may be stored");
	is_int(map_count(m), 4, "and counts as a key");

	map_free(m);
	map_free(NULL);
	ok(1, "map_free(NULL) is a no-op");
}

static void test_many(void)
{
	struct map *m = map_new();
	char key[32];
	int put_fail = 0, get_fail = 0;
	for (size_t i = 0; i < MANY; i++) {
		keyname(key, sizeof key, i);
		put_fail += map_put(m, key, val(i)) != 0;
		/* Everything inserted so far survives each growth. */
		if ((i & (i + 1)) == 0) {
			for (size_t k = 0; k <= i; k++) {
				keyname(key, sizeof key, k);
				get_fail += map_get(m, key) != val(k);
			}
		}
	}
	is_int(put_fail, 0, "%d puts succeed", MANY);
	is_int(map_count(m), MANY, "count is %d", MANY);
	is_int(get_fail, 0, "every key is found at each power-of-two size");

	get_fail = 0;
	for (size_t i = 0; i < MANY; i++) {
		keyname(key, sizeof key, i);
		get_fail += map_get(m, key) != val(i);
	}
	is_int(get_fail, 0, "all %d keys map to their values", MANY);
	ok(map_get(m, "key-10000") == NULL && map_get(m, "key-") == NULL,
	   "near-miss keys are absent");

	/* Delete every odd key; the even ones must all stay findable. */
	int del_fail = 0;
	for (size_t i = 1; i < MANY; i += 2) {
		keyname(key, sizeof key, i);
		del_fail += map_del(m, key) != val(i);
	}
	is_int(del_fail, 0, "deleting the odd keys returns their values");
	is_int(map_count(m), MANY / 2, "half remain");
	get_fail = 0;
	for (size_t i = 0; i < MANY; i++) {
		keyname(key, sizeof key, i);
		get_fail += map_get(m, key) != (i % 2 ? NULL : val(i));
	}
	is_int(get_fail, 0, "even keys found, odd keys absent");

	/* Iteration visits each remaining key exactly once. */
	unsigned char *seen = calloc(MANY, 1);
	size_t pos = 0, visits = 0;
	const char *k;
	void *v;
	int bad = 0;
	while (map_next(m, &pos, &k, &v)) {
		size_t n = unval(v);
		visits++;
		keyname(key, sizeof key, n);
		if (n >= MANY || n % 2 || strcmp(k, key) != 0)
			bad++;
		else
			seen[n]++;
	}
	is_int(visits, MANY / 2, "iteration visits %d entries", MANY / 2);
	is_int(bad, 0, "each visited key matches its value");
	int once = 1;
	for (size_t i = 0; i < MANY; i += 2)
		once &= seen[i] == 1;
	ok(once, "each remaining key is visited exactly once");
	free(seen);

	pos = 0;
	ok(map_next(m, &pos, &k, &v) == 1, "iteration restarts at pos 0");

	/* Delete the rest; the map is empty and still usable. */
	for (size_t i = 0; i < MANY; i += 2) {
		keyname(key, sizeof key, i);
		map_del(m, key);
	}
	is_int(map_count(m), 0, "empty after deleting everything");
	pos = 0;
	is_int(map_next(m, &pos, &k, &v), 0, "iterating an empty map ends at once");
	is_int(map_put(m, "again", val(7)), 0, "put after emptying");
	ok(map_get(m, "again") == val(7), "and get it back");
	map_free(m);
}

/*
 * Keys whose home slot in a 16-slot table is `home`, written to out[0..n).
 * Returns how many were found.
 */
static size_t keys_at_home(unsigned home, char out[][32], size_t n,
                           size_t *next)
{
	size_t got = 0;
	char key[32];
	for (; got < n && *next < 1000000; (*next)++) {
		snprintf(key, sizeof key, "c%zu", *next);
		if ((fnv1a(key) & 15) == home)
			memcpy(out[got++], key, sizeof key);
	}
	return got;
}

/* Are exactly the keys with live[i] set present (with their values)? */
static int check_live(struct map *m, char keys[][32], const int *live,
                      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		void *want = live[i] ? val(i) : NULL;
		if (map_get(m, keys[i]) != want)
			return 0;
	}
	return 1;
}

/*
 * Runs of colliding keys, including one that wraps past the table's end,
 * and deletions from their middles: backward shift must keep every other
 * member findable.
 */
static void test_collisions(void)
{
	/* 5 keys at home 14, 3 at home 15, 3 at home 0: one run of 11 that
	 * starts at 14 and wraps to slot 8. 11 keys stay below the 3/4 load
	 * that makes a 16-slot table grow. */
	char keys[11][32];
	size_t next = 0, got = 0;
	got += keys_at_home(14, keys, 5, &next);
	next = 0;
	got += keys_at_home(15, keys + 5, 3, &next);
	next = 0;
	got += keys_at_home(0, keys + 8, 3, &next);
	is_int(got, 11, "found 11 keys colliding at slots 14, 15 and 0");

	/* Each deletion order is tried on a fresh map. */
	static const int orders[][11] = {
		{2, 6, 9, 0, 4, 10, 1, 7, 3, 5, 8},
		{5, 4, 3, 2, 1, 0, 10, 9, 8, 7, 6},
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		{8, 5, 0, 9, 6, 1, 10, 7, 2, 3, 4},
	};
	for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
		struct map *m = map_new();
		int live[11];
		for (size_t i = 0; i < 11; i++) {
			map_put(m, keys[i], val(i));
			live[i] = 1;
		}
		int all = check_live(m, keys, live, 11);
		for (size_t s = 0; s < 11; s++) {
			size_t d = (size_t)orders[o][s];
			if (map_del(m, keys[d]) != val(d))
				all = 0;
			live[d] = 0;
			if (!check_live(m, keys, live, 11))
				all = 0;
			if (map_count(m) != 10 - s)
				all = 0;
		}
		ok(all, "deletion order %zu: every remaining key found after "
		   "each of 11 deletions from a wrapping run", o);
		map_free(m);
	}

	/* Delete from the middle, re-insert, delete again. */
	struct map *m = map_new();
	int live[11];
	for (size_t i = 0; i < 11; i++) {
		map_put(m, keys[i], val(i));
		live[i] = 1;
	}
	map_del(m, keys[2]);
	map_del(m, keys[6]);
	live[2] = live[6] = 0;
	ok(check_live(m, keys, live, 11), "two holes in the run");
	map_put(m, keys[6], val(6));
	map_put(m, keys[2], val(2));
	live[2] = live[6] = 1;
	ok(check_live(m, keys, live, 11), "holes filled again");
	is_int(map_count(m), 11, "count after refill");
	map_del(m, keys[0]);
	map_del(m, keys[5]);
	map_del(m, keys[8]);
	live[0] = live[5] = live[8] = 0;
	ok(check_live(m, keys, live, 11),
	   "first of each home group deleted, the rest found");
	map_free(m);
}

/* Random puts and deletes against a reference, checked after every op. */
static void test_random(void)
{
	enum { NKEYS = 40, OPS = 4000 };
	char keys[NKEYS][32];
	int live[NKEYS] = {0};
	for (size_t i = 0; i < NKEYS; i++)
		keyname(keys[i], sizeof keys[i], i * 7919);
	srand(12345);
	struct map *m = map_new();
	int bad = 0;
	size_t count = 0;
	for (int op = 0; op < OPS && !bad; op++) {
		size_t i = (size_t)rand() % NKEYS;
		if (rand() % 3) {
			map_put(m, keys[i], val(i));
			count += !live[i];
			live[i] = 1;
		} else {
			void *old = map_del(m, keys[i]);
			if (old != (live[i] ? val(i) : NULL))
				bad = 1;
			count -= live[i];
			live[i] = 0;
		}
		if (!check_live(m, keys, live, NKEYS) || map_count(m) != count)
			bad = 1;
		if (bad)
			diag("mismatch after op %d (key %zu)", op, i);
	}
	ok(!bad, "%d random puts/deletes match a reference", OPS);
	map_free(m);
}

int main(void)
{
	test_basic();
	test_many();
	test_collisions();
	test_random();
	done_testing();
	return exit_status();
}
