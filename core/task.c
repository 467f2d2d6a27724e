/* Tasks: ids, statuses, JSON forms. */
#include "task-internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char *const status_names[TASK_NSTATUS] = {
	"queued", "running", "succeeded", "failed", "cancelled", "timed_out"};

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_iso(int64_t ms, char *out)
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

int64_t time_parse_iso(const char *s)
{
	struct tm tm = {0};
	int msec = 0;
	if (!s)
		return 0;
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest || sscanf(rest, ".%3dZ", &msec) != 1)
		return 0;
	return (int64_t)timegm(&tm) * 1000 + msec;
}

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t last_id[16];

void task_id_new(uint8_t id[16])
{
	uint64_t ms = (uint64_t)now_ms();
	uint8_t stamp[6];
	for (int i = 0; i < 6; i++)
		stamp[i] = (uint8_t)(ms >> (40 - 8 * i));

	pthread_mutex_lock(&id_lock);
	int cmp = memcmp(stamp, last_id, 6);
	if (cmp <= 0) {
		/* Same (or an earlier: the clock stepped back) millisecond:
		 * keep order by incrementing the previous id. */
		memcpy(id, last_id, 16);
		for (int i = 15; i >= 0 && ++id[i] == 0; i--)
			;
	} else {
		memcpy(id, stamp, 6);
		if (getrandom(id + 6, 10, 0) != 10) {
			for (int i = 6; i < 16; i++)
				id[i] = (uint8_t)rand();
		}
		id[6] &= 0x7f; /* room to increment within the millisecond */
	}
	memcpy(last_id, id, 16);
	pthread_mutex_unlock(&id_lock);
}

void task_id_hex(const uint8_t id[16], char out[33])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[32] = '\0';
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int task_id_parse(const char *hex, uint8_t id[16])
{
	if (!hex || strlen(hex) != 32)
		return -1;
	for (int i = 0; i < 16; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

const char *task_status_name(enum task_status s)
{
	return s < TASK_NSTATUS ? status_names[s] : "unknown";
}

int task_status_parse(const char *s)
{
	for (int i = 0; s && i < TASK_NSTATUS; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	return -1;
}

int task_status_final(enum task_status s)
{
	return s >= TASK_SUCCEEDED;
}

struct task *task_new(void)
{
	return calloc(1, sizeof(struct task));
}

void task_free(struct task *t)
{
	if (!t)
		return;
	free(t->capability);
	json_decref(t->input);
	json_decref(t->match);
	free(t->idem_key);
	json_decref(t->result);
	free(t->err_code);
	free(t->err_msg);
	json_decref(t->progress);
	free(t->provider);
	free(t);
}

void task_set_error(struct task *t, const char *code, const char *msg)
{
	free(t->err_code);
	free(t->err_msg);
	t->err_code = strdup(code ? code : "failed");
	t->err_msg = strdup(msg ? msg : "");
}

static void set_time(json_t *j, const char *key, int64_t ms)
{
	char buf[32];
	if (!ms)
		return;
	time_iso(ms, buf);
	json_object_set_new(j, key, json_string(buf));
}

void task_json_add_links(json_t *j, const char *hex)
{
	char self[64], events[72];
	snprintf(self, sizeof self, "/v1/tasks/%s", hex);
	snprintf(events, sizeof events, "/v1/tasks/%s/events", hex);
	json_object_set_new(j, "links", json_pack("{s:s, s:s}", "self", self,
	                                          "events", events));
}

json_t *task_to_json(const struct task *t, int summary)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "id", t->hex, "capability",
	                      t->capability, "status",
	                      task_status_name(t->status));
	if (!j)
		return NULL;
	if (!summary)
		json_object_set(j, "input", t->input);
	if (t->match)
		json_object_set(j, "match", t->match);
	if (t->idem_key)
		json_object_set_new(j, "idempotency_key", json_string(t->idem_key));
	json_object_set_new(j, "priority", json_integer(t->priority));
	json_object_set_new(j, "timeout_ms", json_integer(t->timeout_ms));
	json_object_set_new(j, "retries", json_integer(t->retries));
	json_object_set_new(j, "attempts", json_integer(t->attempts));
	if (t->provider)
		json_object_set_new(j, "provider", json_string(t->provider));
	if (t->status == TASK_SUCCEEDED && !summary)
		json_object_set(j, "result", t->result ? t->result : json_null());
	if (t->err_code)
		json_object_set_new(j, "error",
		                    json_pack("{s:s, s:s}", "code", t->err_code,
		                              "message", t->err_msg ? t->err_msg : ""));
	if (t->progress)
		json_object_set(j, "progress", t->progress);
	set_time(j, "created_at", t->created_ms);
	set_time(j, "started_at", t->started_ms);
	set_time(j, "finished_at", t->finished_ms);
	if (t->status == TASK_QUEUED)
		set_time(j, "not_before", t->not_before_ms);
	json_object_set_new(j, "event_count", json_integer(t->event_count));
	return j;
}

json_t *task_api_json(const struct task *t)
{
	json_t *j = task_to_json(t, 0);
	if (j)
		task_json_add_links(j, t->hex);
	return j;
}

static char *dup_string(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	return s ? strdup(s) : NULL;
}

static int64_t get_time(const json_t *j, const char *key)
{
	return time_parse_iso(json_string_value(json_object_get(j, key)));
}

struct task *task_from_json(const json_t *j)
{
	const char *hex = json_string_value(json_object_get(j, "id"));
	int st = task_status_parse(json_string_value(json_object_get(j, "status")));
	const char *cap = json_string_value(json_object_get(j, "capability"));
	struct task *t;
	if (!hex || st < 0 || !cap || !(t = task_new()))
		return NULL;
	if (task_id_parse(hex, t->id) < 0) {
		free(t);
		return NULL;
	}
	task_id_hex(t->id, t->hex);
	t->status = st;
	t->capability = strdup(cap);
	t->input = json_incref(json_object_get(j, "input"));
	if (!t->input)
		t->input = json_object();
	t->match = json_incref(json_object_get(j, "match"));
	t->idem_key = dup_string(j, "idempotency_key");
	t->priority = (int)json_integer_value(json_object_get(j, "priority"));
	t->timeout_ms = (int)json_integer_value(json_object_get(j, "timeout_ms"));
	t->retries = (int)json_integer_value(json_object_get(j, "retries"));
	t->attempts = (int)json_integer_value(json_object_get(j, "attempts"));
	t->provider = dup_string(j, "provider");
	t->result = json_incref(json_object_get(j, "result"));
	json_t *err = json_object_get(j, "error");
	if (err) {
		t->err_code = dup_string(err, "code");
		t->err_msg = dup_string(err, "message");
	}
	t->progress = json_incref(json_object_get(j, "progress"));
	t->created_ms = get_time(j, "created_at");
	t->started_ms = get_time(j, "started_at");
	t->finished_ms = get_time(j, "finished_at");
	t->not_before_ms = get_time(j, "not_before");
	t->event_count =
		(uint32_t)json_integer_value(json_object_get(j, "event_count"));
	return t;
}
