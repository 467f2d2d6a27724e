/* Unit tests for core/task.c: ids, times, statuses and the JSON forms. */
#include "task-internal.h"
#include "tap.h"

#include <stdlib.h>

#define IDS 100000

static void test_ids(void)
{
	uint8_t prev[16], id[16];
	task_id_new(prev);
	int ordered = 1;
	for (int i = 0; i < IDS; i++) {
		task_id_new(id);
		if (memcmp(prev, id, 16) >= 0) {
			ordered = 0;
			break;
		}
		memcpy(prev, id, 16);
	}
	ok(ordered, "%d consecutive ids are strictly increasing", IDS);

	/* The first 48 bits are the wall-clock milliseconds. */
	int64_t before = now_ms();
	task_id_new(id);
	int64_t after = now_ms();
	int64_t stamp = 0;
	for (int i = 0; i < 6; i++)
		stamp = stamp << 8 | id[i];
	/* Within one millisecond later ids increment the earlier one, so
	 * the stamp is the clock at some point between the two readings. */
	ok(stamp >= before && stamp <= after,
	   "the id starts with the time (%lld in [%lld, %lld])",
	   (long long)stamp, (long long)before, (long long)after);

	char hex[33];
	uint8_t back[16];
	task_id_hex(id, hex);
	is_int(strlen(hex), 32, "hex is 32 characters");
	int lower = 1;
	for (int i = 0; i < 32; i++)
		lower &= (hex[i] >= '0' && hex[i] <= '9') ||
		         (hex[i] >= 'a' && hex[i] <= 'f');
	ok(lower, "hex is lower-case hex digits");
	is_int(task_id_parse(hex, back), 0, "parse the hex back");
	ok(memcmp(id, back, 16) == 0, "hex round-trip gives the same id");

	static const uint8_t known[16] = {0x00, 0x01, 0x23, 0x45, 0x67, 0x89,
	                                  0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba,
	                                  0x98, 0x76, 0x54, 0xff};
	task_id_hex(known, hex);
	is_str(hex, "000123456789abcdeffedcba987654ff", "hex of a known id");
	is_int(task_id_parse("000123456789ABCDEFFEDCBA987654FF", back), 0,
	       "upper-case hex parses");
	ok(memcmp(known, back, 16) == 0, "to the same id");

	is_int(task_id_parse(NULL, back), -1, "NULL refused");
	is_int(task_id_parse("", back), -1, "empty refused");
	is_int(task_id_parse("000123456789abcdeffedcba987654f", back), -1,
	       "31 digits refused");
	is_int(task_id_parse("000123456789abcdeffedcba987654fff", back), -1,
	       "33 digits refused");
	is_int(task_id_parse("000123456789abcdeffedcba987654fg", back), -1,
	       "a non-hex last digit refused");
	is_int(task_id_parse("g00123456789abcdeffedcba987654ff", back), -1,
	       "a non-hex first digit refused");
	is_int(task_id_parse("0001234567-9abcdeffedcba987654ff", back), -1,
	       "a dash refused");
	is_int(task_id_parse(" 00123456789abcdeffedcba987654ff", back), -1,
	       "a space refused");
}

static void test_times(void)
{
	char buf[32];
	time_iso(1763751156123LL, buf);
	is_str(buf, "2025-11-21T18:52:36.123Z", "time_iso of a known instant");
	is_int(time_parse_iso(buf), 1763751156123LL, "and parsed back");

	time_iso(1000, buf);
	is_str(buf, "1970-01-01T00:00:01.000Z", "one second after the epoch");
	is_int(time_parse_iso(buf), 1000, "round-trips");

	time_iso(4102444799999LL, buf);
	is_str(buf, "2099-12-31T23:59:59.999Z", "end of 2099");
	is_int(time_parse_iso(buf), 4102444799999LL, "round-trips");

	int64_t now = now_ms();
	time_iso(now, buf);
	is_int(time_parse_iso(buf), now, "now round-trips (%s)", buf);

	is_int(time_parse_iso(NULL), 0, "NULL parses to 0");
	is_int(time_parse_iso(""), 0, "empty parses to 0");
	is_int(time_parse_iso("yesterday"), 0, "words parse to 0");
	is_int(time_parse_iso("2025-11-21T18:52:36Z"), 0,
	       "no milliseconds: not what time_iso writes, 0");

	int64_t m1 = mono_ms(), m2 = mono_ms();
	ok(m1 > 0 && m2 >= m1, "mono_ms does not go backwards");
}

static void test_status(void)
{
	static const char *const names[] = {"queued", "running", "succeeded",
	                                    "failed", "cancelled", "timed_out"};
	int all = 1;
	for (int s = 0; s < TASK_NSTATUS; s++) {
		if (strcmp(task_status_name((enum task_status)s), names[s]) != 0 ||
		    task_status_parse(names[s]) != s)
			all = 0;
	}
	ok(all, "every status name matches and parses back");
	is_str(task_status_name(TASK_NSTATUS), "unknown",
	       "out-of-range status is \"unknown\"");
	is_int(task_status_parse("QUEUED"), -1, "parse is case-sensitive");
	is_int(task_status_parse("done"), -1, "unknown name: -1");
	is_int(task_status_parse(""), -1, "empty: -1");
	is_int(task_status_parse(NULL), -1, "NULL: -1");
	ok(!task_status_final(TASK_QUEUED) && !task_status_final(TASK_RUNNING),
	   "queued and running are not final");
	ok(task_status_final(TASK_SUCCEEDED) && task_status_final(TASK_FAILED) &&
	   task_status_final(TASK_CANCELLED) &&
	   task_status_final(TASK_TIMED_OUT),
	   "succeeded, failed, cancelled, timed_out are final");
}

static struct task *full_task(enum task_status st)
{
	struct task *t = task_new();
	task_id_new(t->id);
	task_id_hex(t->id, t->hex);
	t->capability = strdup("code.run");
	t->input = json_pack("{s:s, s:[i,i], s:{s:b}}", "code", "print(1)",
	                     "list", 1, 2, "nested", "deep", 1);
	t->match = json_pack("{s:s}", "language", "python");
	t->idem_key = strdup("idem-42");
	t->priority = 7;
	t->timeout_ms = 1500;
	t->retries = 3;
	t->attempts = 2;
	t->status = st;
	t->result = json_pack("{s:s, s:i}", "stdout", "1\n", "exit", 0);
	task_set_error(t, "flaky", "failed once before");
	t->progress = json_pack("{s:f, s:f, s:s}", "done", 2.0, "total", 4.0,
	                        "message", "half");
	t->provider = strdup("python-runner");
	t->created_ms = 1763751156123LL;
	t->started_ms = 1763751156200LL;
	t->finished_ms = 1763751157999LL;
	t->not_before_ms = 1763751156150LL;
	t->event_count = 9;
	return t;
}

static int same_json(const json_t *a, const json_t *b)
{
	return (!a && !b) || (a && b && json_equal(a, b));
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The persistent fields of two tasks, compared one by one. */
static void compare_tasks(const struct task *a, const struct task *b,
                          const char *what, int with_result,
                          int with_not_before)
{
	ok(memcmp(a->id, b->id, 16) == 0, "%s: id", what);
	is_str(b->hex, a->hex, "%s: hex", what);
	is_str(b->capability, a->capability, "%s: capability", what);
	ok(same_json(a->input, b->input), "%s: input", what);
	ok(same_json(a->match, b->match), "%s: match", what);
	is_str(b->idem_key, a->idem_key, "%s: idempotency key", what);
	is_int(b->priority, a->priority, "%s: priority", what);
	is_int(b->timeout_ms, a->timeout_ms, "%s: timeout_ms", what);
	is_int(b->retries, a->retries, "%s: retries", what);
	is_int(b->attempts, a->attempts, "%s: attempts", what);
	is_int(b->status, a->status, "%s: status", what);
	if (with_result)
		ok(same_json(a->result, b->result), "%s: result", what);
	else
		ok(b->result == NULL, "%s: no result", what);
	ok(same_str(a->err_code, b->err_code) && same_str(a->err_msg, b->err_msg),
	   "%s: error code and message", what);
	ok(same_json(a->progress, b->progress), "%s: progress", what);
	is_str(b->provider, a->provider, "%s: provider", what);
	is_int(b->created_ms, a->created_ms, "%s: created", what);
	is_int(b->started_ms, a->started_ms, "%s: started", what);
	is_int(b->finished_ms, a->finished_ms, "%s: finished", what);
	is_int(b->not_before_ms, with_not_before ? a->not_before_ms : 0,
	       "%s: not_before", what);
	is_int(b->event_count, a->event_count, "%s: event_count", what);
}

/* Through text, as the store keeps it. */
static struct task *round_trip(const struct task *t, int summary,
                               json_t **as_json)
{
	json_t *j = task_to_json(t, summary);
	char *text = json_dumps(j, JSON_COMPACT);
	json_t *back = json_loads(text, 0, NULL);
	struct task *u = task_from_json(back);
	free(text);
	json_decref(back);
	*as_json = j;
	return u;
}

static void test_json(void)
{
	/* Succeeded: result is written; not_before only while queued. */
	struct task *t = full_task(TASK_SUCCEEDED);
	json_t *j;
	struct task *u = round_trip(t, 0, &j);
	ok(u != NULL, "task_from_json of a full succeeded task");
	if (u)
		compare_tasks(t, u, "succeeded", 1, 0);
	is_str(json_string_value(json_object_get(j, "status")), "succeeded",
	       "status in JSON");
	is_str(json_string_value(json_object_get(j, "created_at")),
	       "2025-11-21T18:52:36.123Z", "created_at in ISO form");
	ok(json_object_get(j, "not_before") == NULL,
	   "not_before omitted when not queued");
	json_t *err = json_object_get(j, "error");
	is_str(json_string_value(json_object_get(err, "code")), "flaky",
	       "error.code");
	is_str(json_string_value(json_object_get(err, "message")),
	       "failed once before", "error.message");
	ok(json_object_get(j, "links") == NULL,
	   "the stored form carries no links");
	json_t *api = task_api_json(t);
	json_t *links = json_object_get(api, "links");
	char self[64];
	snprintf(self, sizeof self, "/v1/tasks/%s", t->hex);
	is_str(json_string_value(json_object_get(links, "self")), self,
	       "links.self");
	json_decref(api);
	json_decref(j);
	task_free(u);

	/* Summary: no input, no result; the rest is there. */
	j = task_to_json(t, 1);
	ok(json_object_get(j, "input") == NULL, "summary omits input");
	ok(json_object_get(j, "result") == NULL, "summary omits result");
	ok(json_object_get(j, "match") && json_object_get(j, "error") &&
	   json_object_get(j, "progress") && json_object_get(j, "provider") &&
	   json_object_get(j, "idempotency_key") &&
	   json_object_get(j, "finished_at"),
	   "summary keeps match, error, progress, provider, key, times");
	json_decref(j);
	u = round_trip(t, 1, &j);
	ok(u && json_is_object(u->input) && json_object_size(u->input) == 0,
	   "a summary reads back with an empty input object");
	ok(u && u->result == NULL, "and no result");
	json_decref(j);
	task_free(u);
	task_free(t);

	/* Queued: not_before is written, result is not. */
	t = full_task(TASK_QUEUED);
	u = round_trip(t, 0, &j);
	ok(u != NULL, "task_from_json of a full queued task");
	if (u)
		compare_tasks(t, u, "queued", 0, 1);
	ok(json_object_get(j, "result") == NULL,
	   "result omitted unless succeeded");
	json_decref(j);
	task_free(u);
	task_free(t);

	/* Minimal: optional fields absent stay absent. */
	t = task_new();
	task_id_new(t->id);
	task_id_hex(t->id, t->hex);
	t->capability = strdup("echo");
	t->input = json_object();
	u = round_trip(t, 0, &j);
	ok(u && !u->match && !u->idem_key && !u->err_code && !u->progress &&
	   !u->provider && !u->created_ms && !u->started_ms,
	   "a minimal task reads back with its optional fields unset");
	ok(json_object_get(j, "created_at") == NULL &&
	   json_object_get(j, "error") == NULL,
	   "unset times and error are omitted");
	json_decref(j);
	task_free(u);
	task_free(t);

	/* Bad input. */
	json_t *bad = json_pack("{s:s, s:s, s:s}", "id", "xyz", "status",
	                        "queued", "capability", "echo");
	ok(task_from_json(bad) == NULL, "bad id refused");
	json_decref(bad);
	bad = json_pack("{s:s, s:s, s:s}", "id",
	                "000123456789abcdeffedcba987654ff", "status", "weird",
	                "capability", "echo");
	ok(task_from_json(bad) == NULL, "unknown status refused");
	json_decref(bad);
	bad = json_pack("{s:s, s:s}", "id", "000123456789abcdeffedcba987654ff",
	                "status", "queued");
	ok(task_from_json(bad) == NULL, "missing capability refused");
	json_decref(bad);

	/* task_set_error replaces and defaults. */
	t = task_new();
	task_set_error(t, "a", "first");
	task_set_error(t, NULL, NULL);
	is_str(t->err_code, "failed", "task_set_error(NULL) code is \"failed\"");
	is_str(t->err_msg, "", "and the message empty");
	task_free(t);
	task_free(NULL);
	ok(1, "task_free(NULL) is a no-op");
}

int main(void)
{
	test_ids();
	test_times();
	test_status();
	test_json();
	done_testing();
	return exit_status();
}
