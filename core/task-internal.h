/* The task: what was asked, where it stands, and its JSON forms. */
#ifndef MCPD_TASK_INTERNAL_H
#define MCPD_TASK_INTERNAL_H

#include <stdint.h>
#include <jansson.h>

enum task_status {
	TASK_QUEUED,
	TASK_RUNNING,
	TASK_SUCCEEDED,
	TASK_FAILED,
	TASK_CANCELLED,
	TASK_TIMED_OUT,
	TASK_NSTATUS
};

struct mcpd_task;
struct capq;
struct watcher;
struct event;
struct mcpd;

struct task {
	uint8_t id[16];
	char hex[33];
	char *capability;
	json_t *input;  /* owned */
	json_t *match;  /* owned, or NULL */
	char *idem_key; /* or NULL */
	int priority, timeout_ms, retries, attempts;
	enum task_status status;
	json_t *result;   /* owned, when succeeded */
	char *err_code;   /* when failed, cancelled, timed out */
	char *err_msg;
	json_t *progress; /* owned: {"done","total","message"} or NULL */
	char *provider;   /* plugin of the last attempt, or NULL */
	int64_t created_ms, started_ms, finished_ms, not_before_ms; /* 0 = unset */
	uint32_t event_count;

	/* Run-time state, owned by the loop. */
	struct mcpd *d;
	struct mcpd_task *attempt; /* the running attempt */
	struct capq *q;
	size_t heap_idx;
	int in_queue;
	uint64_t seq;         /* submission order, for FIFO within a priority */
	struct event *timer;  /* attempt timeout, or retry backoff */
	struct task *dirty_next;
	int dirty;
	struct watcher *watchers;
	int64_t last_progress_ms;
};

/* Wall-clock and monotonic milliseconds. */
/* The value of hex digit c (either case), or -1. */
int hex_digit(char c);
int64_t now_ms(void);
int64_t mono_ms(void);
/* "2026-11-21T18:52:36.123Z"; out needs 32 bytes. */
void time_iso(int64_t ms, char *out);
/* Parse what time_iso writes; 0 on failure. */
int64_t time_parse_iso(const char *s);

/* A new time-ordered id: 48 bits of milliseconds, then 80 bits that are
 * random for the first id of a millisecond and incremented after it. */
void task_id_new(uint8_t id[16]);
void task_id_hex(const uint8_t id[16], char out[33]);
/* 0, or -1 if `hex` is not exactly 32 hex digits. */
int task_id_parse(const char *hex, uint8_t id[16]);

const char *task_status_name(enum task_status s);
/* -1 if unknown. */
int task_status_parse(const char *s);
int task_status_final(enum task_status s);

struct task *task_new(void);
/* Frees the task's data; run-time links must already be undone. */
void task_free(struct task *t);
void task_set_error(struct task *t, const char *code, const char *msg);

/* The stored form (new reference). `summary` omits input and result. */
json_t *task_to_json(const struct task *t, int summary);
/* The API form: the stored form with "links" (new reference). */
json_t *task_api_json(const struct task *t);
/* Rebuild a task from the stored API form (new task, or NULL). */
struct task *task_from_json(const json_t *j);
/* Add "links" to a stored task object (in place). */
void task_json_add_links(json_t *j, const char *hex);

#endif
