/*
 * The LMDB store: one environment under the state directory, named
 * databases for tasks, task events, idempotency keys and plugin key-value
 * spaces (and more as later issues add them).
 *
 * Writes are loop-thread only. The first write of a loop iteration opens a
 * write transaction; store_commit() (called once per iteration by the
 * group-commit event) commits it with fsync. Until then the writes are
 * visible to reads made on the loop thread (they use the open write
 * transaction) and invisible to other threads, whose reads use their own
 * read-only transaction (the env is opened MDB_NOTLS).
 *
 * Ids are 16 bytes (time-ordered); keys compare bytewise, so id order is
 * time order.
 */
#ifndef MCPD_STORE_INTERNAL_H
#define MCPD_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define STORE_ID_LEN 16

/*
 * Open (creating) the environment in directory `dir` (created if missing,
 * mode 0700) with a map of `map_size` bytes. The calling thread becomes the
 * writer thread. NULL with a one-line reason in err.
 */
struct store *store_open(const char *dir, size_t map_size, char *err,
                         size_t errlen);
/* Commit what is pending, close. NULL is a no-op. */
void store_close(struct store *s);

/* Is a write transaction open (writes not yet committed)? */
int store_pending(const struct store *s);
/* Commit the open write transaction, if any (durable on return). 0 or -1;
 * on failure the pending writes are lost and an error is logged. */
int store_commit(struct store *s);
/* Abort the open write transaction, if any. */
void store_abort(struct store *s);

/* Last LMDB error text, for logs and error replies. */
const char *store_last_error(const struct store *s);

/* ---- tasks: id -> JSON text ---- */
int store_task_put(struct store *s, const uint8_t id[STORE_ID_LEN],
                   const char *json, size_t len);
/* *json is malloc'd and NUL-terminated; caller frees. 0, 1 if absent, -1. */
int store_task_get(struct store *s, const uint8_t id[STORE_ID_LEN],
                   char **json, size_t *len);
int store_task_del(struct store *s, const uint8_t id[STORE_ID_LEN]);

/*
 * Visit tasks in id order (newest first when `reverse`), starting after
 * `after` (exclusive; NULL = from the start/end). The callback returns 0 to
 * go on, non-zero to stop; `json` is valid only during the call. Returns 0
 * or -1.
 */
typedef int (*store_task_fn)(const uint8_t id[STORE_ID_LEN], const char *json,
                             size_t len, void *ud);
int store_task_scan(struct store *s, const uint8_t *after, int reverse,
                    store_task_fn fn, void *ud);

/* ---- task events: (id, seq) -> JSON text ---- */
int store_event_put(struct store *s, const uint8_t id[STORE_ID_LEN],
                    uint32_t seq, const char *json, size_t len);
/* Visit the events of task `id` in seq order. Callback as above. */
typedef int (*store_event_fn)(uint32_t seq, const char *json, size_t len,
                              void *ud);
int store_event_scan(struct store *s, const uint8_t id[STORE_ID_LEN],
                     store_event_fn fn, void *ud);

/* ---- idempotency keys: key -> task id ---- */
/* 0 and *id filled, 1 if absent, -1 on error. */
int store_idem_get(struct store *s, const char *key, uint8_t id[STORE_ID_LEN]);
int store_idem_put(struct store *s, const char *key,
                   const uint8_t id[STORE_ID_LEN]);

/* ---- plugin key-value spaces: (plugin, key) -> JSON text ---- */
/* *json malloc'd; 0, 1 if absent, -1. */
int store_kv_get(struct store *s, const char *plugin, const char *key,
                 char **json, size_t *len);
int store_kv_put(struct store *s, const char *plugin, const char *key,
                 const char *json, size_t len);
/* 0, 1 if absent, -1. */
int store_kv_del(struct store *s, const char *plugin, const char *key);

/* Entries in the tasks database (committed + pending on the loop thread). */
size_t store_task_count(struct store *s);

/* Current map size in bytes: it doubles on its own as the data grows
 * (for /metrics and tests). Any thread. */
size_t store_map_size(const struct store *s);

#endif
