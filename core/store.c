/*
 * The LMDB store. See store-internal.h for the contract; the rules that
 * keep it safe:
 *
 * - Only the writer thread (the one that called store_open) writes. Its
 *   first write opens a write transaction that lives until store_commit or
 *   store_abort, and its reads go through that transaction so they see
 *   what is pending. Every other thread reads through its own short
 *   read-only transaction (MDB_NOTLS lets any thread own one).
 * - Every write of the open transaction is also kept in a journal. When
 *   LMDB says the map is full (on a write or at commit), the transaction
 *   is aborted, the map doubled and the journal replayed, so callers never
 *   see MDB_MAP_FULL. After a commit the map is also doubled once it is
 *   more than 80% used, so that path stays rare.
 * - mdb_env_set_mapsize() remaps the file, which would pull the pages from
 *   under any open transaction. Read transactions therefore hold map_lock
 *   shared, and a resize takes it exclusively. The lock prefers writers so
 *   a stream of readers cannot stall the loop; the price is that a thread
 *   must never take it shared twice, so a read made inside a scan callback
 *   reuses the scan's transaction. The writer thread cannot resize while
 *   one of its own scans is running (it would wait on itself or free the
 *   scan's transaction), so a map-full inside a scan callback fails the
 *   pending writes instead.
 * - Any write error that is not recovered fails the whole transaction:
 *   further writes are refused and the next store_commit returns -1, so a
 *   caller can never acknowledge a write that was silently dropped.
 * - Another process may share the environment; if it grows the map past
 *   ours, the writer adopts its size on its next transaction (reads on
 *   other threads fail with MDB_MAP_RESIZED until then).
 * - Text values are stored with a trailing NUL, so scan callbacks get
 *   NUL-terminated strings straight from the map without a copy.
 */
#include "store-internal.h"

#include "log-internal.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { DB_TASKS, DB_EVENTS, DB_IDEM, DB_KV, DB_COUNT };

static const char *const db_names[DB_COUNT] = {"tasks", "events", "idem",
                                               "kv"};

/* Room for the databases later issues add, without a format change. */
#define STORE_MAX_DBS 16
#define STORE_DEFAULT_MAP ((size_t)64 << 20)
#define EVENT_KEY_LEN (STORE_ID_LEN + 4)
/* LMDB's compiled-in limit (mdb_env_get_maxkeysize) is 511 by default. */
#define KEY_BUF 512

/* One write of the open transaction, replayed after the map grows. */
struct op {
	unsigned char db;
	unsigned char del;
	unsigned char nul; /* store the value with a trailing NUL */
	MDB_val key;
	MDB_val val; /* without the NUL; key and val share one allocation */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	pthread_t writer;
	pthread_rwlock_t map_lock;
	_Atomic size_t map_size;
	size_t psize;
	int maxkey;

	/* Writer-thread only from here on. */
	MDB_txn *wtxn;
	int failed;      /* the pending writes are lost; commit reports it */
	int scanning;    /* scans running on the writer thread */
	int grow_wanted; /* a map-full could not be handled in a scan */
	char fail_msg[256];
	struct op *ops;
	size_t nops, cap;
};

/* Errors are per thread, like errno: readers run on any thread. */
static _Thread_local char last_error[256];

/* The read transaction this thread has open (an outer scan), if any. */
static _Thread_local struct {
	const struct store *s;
	MDB_txn *txn;
} thread_read;

static void set_error(const char *what, int rc)
{
	snprintf(last_error, sizeof last_error, "%s: %s", what,
	         mdb_strerror(rc));
}

static void set_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
}

const char *store_last_error(const struct store *s)
{
	(void)s;
	return last_error;
}

static int on_writer(const struct store *s)
{
	return pthread_equal(pthread_self(), s->writer);
}

static int writer_only(const struct store *s, const char *what)
{
	if (on_writer(s))
		return 0;
	set_msg("%s: not on the writer thread", what);
	log_error("store: %s", last_error);
	return -1;
}

/* ---- map size ---- */

size_t store_map_size(const struct store *s)
{
	return atomic_load(&s->map_size);
}

/* Writer thread, no transaction of its own open. */
static int map_resize(struct store *s, size_t size, const char *why)
{
	size_t old = atomic_load(&s->map_size);
	if (size <= old) {
		set_msg("map grow: size overflow at %zu bytes", old);
		log_error("store: %s", last_error);
		return ENOMEM;
	}
	pthread_rwlock_wrlock(&s->map_lock);
	int rc = mdb_env_set_mapsize(s->env, size);
	pthread_rwlock_unlock(&s->map_lock);
	if (rc) {
		set_error("map grow", rc);
		log_error("store: %s", last_error);
		return rc;
	}
	atomic_store(&s->map_size, size);
	log_info("store: map grown from %zu to %zu bytes (%s)", old, size, why);
	return 0;
}

/*
 * Another process grew the file past our map (MDB_MAP_RESIZED): take the
 * size it recorded. Only the writer can, with no transaction open; reads
 * on other threads fail until the writer's next transaction adopts it.
 */
static int map_adopt(struct store *s)
{
	if (!on_writer(s) || s->wtxn || s->scanning)
		return MDB_MAP_RESIZED;
	pthread_rwlock_wrlock(&s->map_lock);
	int rc = mdb_env_set_mapsize(s->env, 0);
	pthread_rwlock_unlock(&s->map_lock);
	MDB_envinfo info;
	if (rc == 0)
		rc = mdb_env_info(s->env, &info);
	if (rc) {
		set_error("map adopt", rc);
		log_error("store: %s", last_error);
		return rc;
	}
	atomic_store(&s->map_size, info.me_mapsize);
	log_info("store: map of %zu bytes adopted from another process",
	         info.me_mapsize);
	return 0;
}

static int map_double(struct store *s, const char *why)
{
	return map_resize(s, atomic_load(&s->map_size) * 2, why);
}

/* After a commit: grow ahead of need rather than on MDB_MAP_FULL. */
static void map_grow_if_needed(struct store *s)
{
	MDB_envinfo info;
	if (mdb_env_info(s->env, &info) != 0)
		return;
	/* The high-water mark overstates use (freed pages are reused),
	 * which errs on the side of growing. */
	size_t used = (info.me_last_pgno + 1) * s->psize;
	if (used / 4 > info.me_mapsize / 5)
		map_double(s, "over 80% used");
}

/* ---- transactions ---- */

static int wtxn_begin(struct store *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc == MDB_MAP_RESIZED && map_adopt(s) == 0)
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	s->wtxn = rc ? NULL : txn;
	return rc;
}

/* On success map_lock is held shared until the transaction ends. */
static int rtxn_begin(struct store *s, MDB_txn **txn)
{
	for (int tries = 0;; tries++) {
		pthread_rwlock_rdlock(&s->map_lock);
		int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
		if (rc == 0)
			return 0;
		pthread_rwlock_unlock(&s->map_lock);
		if (rc != MDB_MAP_RESIZED || tries || map_adopt(s) != 0)
			return rc;
	}
}

/* ---- journal ---- */

static void journal_clear(struct store *s)
{
	for (size_t i = 0; i < s->nops; i++)
		free(s->ops[i].key.mv_data);
	s->nops = 0;
}

static int journal_push(struct store *s, const struct op *op)
{
	if (s->nops == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct op *ops = realloc(s->ops, cap * sizeof *ops);
		if (!ops)
			return ENOMEM;
		s->ops = ops;
		s->cap = cap;
	}
	char *buf = malloc(op->key.mv_size + op->val.mv_size + 1);
	if (!buf)
		return ENOMEM;
	struct op *j = &s->ops[s->nops++];
	*j = *op;
	j->key.mv_data = buf;
	j->val.mv_data = buf + op->key.mv_size;
	memcpy(buf, op->key.mv_data, op->key.mv_size);
	if (op->val.mv_size)
		memcpy(j->val.mv_data, op->val.mv_data, op->val.mv_size);
	return 0;
}

static int op_apply(struct store *s, MDB_txn *txn, const struct op *op)
{
	MDB_val key = op->key;
	if (op->del)
		return mdb_del(txn, s->dbi[op->db], &key, NULL);
	MDB_val data = {.mv_size = op->val.mv_size + op->nul};
	int rc = mdb_put(txn, s->dbi[op->db], &key, &data, MDB_RESERVE);
	if (rc)
		return rc;
	if (op->val.mv_size)
		memcpy(data.mv_data, op->val.mv_data, op->val.mv_size);
	if (op->nul)
		((char *)data.mv_data)[op->val.mv_size] = '\0';
	return 0;
}

/*
 * With no write transaction open: grow the map, then redo the journal in
 * a new transaction, growing again until it fits.
 */
static int journal_rebuild(struct store *s)
{
	for (;;) {
		int rc = map_double(s, "map full");
		if (rc)
			return rc;
		if ((rc = wtxn_begin(s)))
			return rc;
		for (size_t i = 0; i < s->nops && rc == 0; i++) {
			rc = op_apply(s, s->wtxn, &s->ops[i]);
			/* A delete of a key that was never there. */
			if (rc == MDB_NOTFOUND)
				rc = 0;
		}
		if (rc != MDB_MAP_FULL)
			return rc;
		mdb_txn_abort(s->wtxn);
		s->wtxn = NULL;
	}
}

/* ---- write transaction ---- */

/* The pending writes are gone: refuse more until commit or abort says so. */
static void txn_fail(struct store *s, const char *what, int rc)
{
	set_error(what, rc);
	log_error("store: %s; pending writes lost", last_error);
	snprintf(s->fail_msg, sizeof s->fail_msg, "%s", last_error);
	s->failed = 1;
	journal_clear(s);
	/* A running scan may still walk the transaction with a cursor. */
	if (s->wtxn && !s->scanning) {
		mdb_txn_abort(s->wtxn);
		s->wtxn = NULL;
	}
}

/*
 * Forget the failure and any transaction; the writer is idle again, so
 * this is where a growth that a scan held back happens.
 */
static void txn_reset(struct store *s)
{
	if (s->wtxn)
		mdb_txn_abort(s->wtxn);
	s->wtxn = NULL;
	s->failed = 0;
	s->fail_msg[0] = '\0';
	journal_clear(s);
	if (s->grow_wanted) {
		s->grow_wanted = 0;
		map_double(s, "map full during a scan");
	}
}

static int op_recover(struct store *s, int rc)
{
	if (s->scanning) {
		s->grow_wanted = 1;
		return rc;
	}
	mdb_txn_abort(s->wtxn);
	s->wtxn = NULL;
	return journal_rebuild(s);
}

/* 0, 1 for a delete of an absent key, -1. */
static int write_op(struct store *s, const char *what, const struct op *op)
{
	if (writer_only(s, what))
		return -1;
	if (s->failed) {
		set_msg("%s: refused, pending writes were lost (%s)", what,
		        s->fail_msg);
		return -1;
	}
	if (!s->wtxn) {
		int rc = wtxn_begin(s);
		if (rc) {
			set_error(what, rc);
			log_error("store: %s", last_error);
			return -1;
		}
	}
	int rc = op_apply(s, s->wtxn, op);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc == 0 || rc == MDB_MAP_FULL) {
		int jrc = journal_push(s, op);
		if (jrc)
			rc = jrc;
		else if (rc == MDB_MAP_FULL)
			rc = op_recover(s, rc);
	}
	if (rc) {
		txn_fail(s, what, rc);
		return -1;
	}
	return 0;
}

int store_pending(const struct store *s)
{
	return s->wtxn != NULL || s->failed;
}

int store_commit(struct store *s)
{
	if (writer_only(s, "commit"))
		return -1;
	if (s->scanning) {
		set_msg("commit: refused inside a scan callback");
		log_error("store: %s", last_error);
		return -1;
	}
	if (s->failed) {
		set_msg("commit: pending writes were lost (%s)", s->fail_msg);
		txn_reset(s);
		return -1;
	}
	if (!s->wtxn)
		return 0;
	int rc = mdb_txn_commit(s->wtxn);
	s->wtxn = NULL; /* freed by the commit, whatever its outcome */
	while (rc == MDB_MAP_FULL) {
		rc = journal_rebuild(s);
		if (rc == 0) {
			rc = mdb_txn_commit(s->wtxn);
			s->wtxn = NULL;
		}
	}
	if (rc) {
		set_error("commit", rc);
		log_error("store: %s; pending writes lost", last_error);
		txn_reset(s);
		return -1;
	}
	journal_clear(s);
	map_grow_if_needed(s);
	return 0;
}

void store_abort(struct store *s)
{
	if (writer_only(s, "abort"))
		return;
	if (s->scanning) {
		set_msg("abort: refused inside a scan callback");
		log_error("store: %s", last_error);
		return;
	}
	txn_reset(s);
}

/* ---- reads ---- */

struct reader {
	MDB_txn *txn;
	int own;        /* began txn and holds map_lock shared */
	int registered; /* is thread_read */
};

static int read_begin(struct store *s, struct reader *r, const char *what)
{
	*r = (struct reader){0};
	if (on_writer(s) && s->wtxn && !s->failed) {
		r->txn = s->wtxn;
		return 0;
	}
	if (thread_read.s == s) {
		r->txn = thread_read.txn;
		return 0;
	}
	int rc = rtxn_begin(s, &r->txn);
	if (rc) {
		set_error(what, rc);
		log_error("store: %s", last_error);
		return -1;
	}
	r->own = 1;
	if (!thread_read.s) {
		thread_read.s = s;
		thread_read.txn = r->txn;
		r->registered = 1;
	}
	return 0;
}

static void read_end(struct store *s, struct reader *r)
{
	if (!r->own)
		return;
	if (r->registered)
		thread_read.s = NULL;
	mdb_txn_abort(r->txn);
	pthread_rwlock_unlock(&s->map_lock);
}

/* A stored text value: its bytes up to (not including) the NUL. */
static int text_view(const MDB_val *v, const char **p, size_t *len)
{
	const char *d = v->mv_data;
	if (v->mv_size == 0 || d[v->mv_size - 1] != '\0')
		return -1;
	*p = d;
	*len = v->mv_size - 1;
	return 0;
}

/* 0 and a copy in *out (and *len), 1 if absent, -1. */
static int get_text(struct store *s, const char *what, int db, MDB_val *key,
                    char **out, size_t *len)
{
	struct reader r;
	if (read_begin(s, &r, what))
		return -1;
	MDB_val data;
	const char *p;
	size_t n;
	int ret = -1;
	int rc = mdb_get(r.txn, s->dbi[db], key, &data);
	if (rc == MDB_NOTFOUND) {
		ret = 1;
		goto out;
	}
	if (rc) {
		set_error(what, rc);
		log_error("store: %s", last_error);
		goto out;
	}
	if (text_view(&data, &p, &n)) {
		set_msg("%s: stored value is not text", what);
		log_error("store: %s", last_error);
		goto out;
	}
	char *copy = malloc(n + 1);
	if (!copy) {
		set_error(what, ENOMEM);
		goto out;
	}
	memcpy(copy, p, n + 1);
	*out = copy;
	if (len)
		*len = n;
	ret = 0;
out:
	read_end(s, &r);
	return ret;
}

/*
 * Cursor walks share this frame: the reader, the cursor, and the
 * writer-thread scan count that keeps commit, abort and resizes away
 * while callbacks run.
 */
struct walk {
	struct reader r;
	MDB_cursor *cur;
	int counted;
};

static int walk_begin(struct store *s, struct walk *w, int db,
                      const char *what)
{
	if (read_begin(s, &w->r, what))
		return -1;
	int rc = mdb_cursor_open(w->r.txn, s->dbi[db], &w->cur);
	if (rc) {
		set_error(what, rc);
		log_error("store: %s", last_error);
		read_end(s, &w->r);
		return -1;
	}
	w->counted = on_writer(s);
	if (w->counted) /* the field is the writer's: others never touch it */
		s->scanning++;
	return 0;
}

/* rc is the last cursor result: MDB_NOTFOUND is the normal end. */
static int walk_end(struct store *s, struct walk *w, int rc, const char *what)
{
	if (w->counted)
		s->scanning--;
	mdb_cursor_close(w->cur);
	read_end(s, &w->r);
	if (rc == 0 || rc == MDB_NOTFOUND)
		return 0;
	set_error(what, rc);
	log_error("store: %s", last_error);
	return -1;
}

/* ---- open / close ---- */

static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof path) {
		errno = n ? ENAMETOOLONG : EINVAL;
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = c;
		if (c == '\0')
			return 0;
	}
}

static int open_dbis(struct store *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return rc;
	for (int i = 0; i < DB_COUNT && rc == 0; i++)
		rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i]);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static int env_open(struct store *s, const char *dir, size_t map_size)
{
	int rc = mdb_env_create(&s->env);
	if (rc) {
		s->env = NULL;
		return rc;
	}
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	map_size = (map_size + page - 1) / page * page;
	if ((rc = mdb_env_set_maxdbs(s->env, STORE_MAX_DBS)) ||
	    (rc = mdb_env_set_mapsize(s->env, map_size)) ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)))
		return rc;
	/* A process killed inside a read transaction leaves its reader slot
	 * behind, which stops page reuse and grows the file. */
	int dead = 0;
	if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
		log_warn("store: cleared %d stale reader slot(s) in %s", dead,
		         dir);
	if ((rc = open_dbis(s)))
		return rc;
	MDB_envinfo info;
	MDB_stat st;
	if ((rc = mdb_env_info(s->env, &info)) ||
	    (rc = mdb_env_stat(s->env, &st)))
		return rc;
	atomic_store(&s->map_size, info.me_mapsize);
	s->psize = st.ms_psize;
	s->maxkey = mdb_env_get_maxkeysize(s->env);
	/* LMDB takes the configured size over the one an existing file grew
	 * to, raised only to fit the data: make room now, not on MAP_FULL. */
	map_grow_if_needed(s);
	return 0;
}

static struct store *store_new(void)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(
		&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	int rc = pthread_rwlock_init(&s->map_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (rc) {
		free(s);
		return NULL;
	}
	return s;
}

struct store *store_open(const char *dir, size_t map_size, char *err,
                         size_t errlen)
{
	struct store *s = store_new();
	if (!s) {
		set_msg("store: out of memory");
		goto fail;
	}
	if (mkdir_p(dir) != 0) {
		set_msg("store: cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	int rc = env_open(s, dir, map_size ? map_size : STORE_DEFAULT_MAP);
	if (rc) {
		set_msg("store: cannot open %s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	s->writer = pthread_self();
	log_info("store: opened %s (map %zu bytes)", dir,
	         atomic_load(&s->map_size));
	return s;
fail:
	if (err && errlen)
		snprintf(err, errlen, "%s", last_error);
	if (s) {
		if (s->env)
			mdb_env_close(s->env);
		pthread_rwlock_destroy(&s->map_lock);
		free(s);
	}
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (store_pending(s) && store_commit(s) != 0)
		log_error("store: close: %s", last_error);
	if (s->wtxn) { /* only when closed from a foreign thread */
		mdb_txn_abort(s->wtxn);
		s->wtxn = NULL;
	}
	journal_clear(s);
	free(s->ops);
	mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->map_lock);
	free(s);
}

/* ---- tasks ---- */

static struct op text_op(int db, const void *key, size_t klen,
                         const char *json, size_t len)
{
	return (struct op){
		.db = (unsigned char)db,
		.nul = 1,
		.key = {.mv_size = klen, .mv_data = (void *)key},
		.val = {.mv_size = len, .mv_data = (void *)json},
	};
}

static struct op del_op(int db, const void *key, size_t klen)
{
	return (struct op){
		.db = (unsigned char)db,
		.del = 1,
		.key = {.mv_size = klen, .mv_data = (void *)key},
	};
}

int store_task_put(struct store *s, const uint8_t id[STORE_ID_LEN],
                   const char *json, size_t len)
{
	struct op op = text_op(DB_TASKS, id, STORE_ID_LEN, json, len);
	return write_op(s, "task put", &op) == 0 ? 0 : -1;
}

int store_task_get(struct store *s, const uint8_t id[STORE_ID_LEN],
                   char **json, size_t *len)
{
	MDB_val key = {.mv_size = STORE_ID_LEN, .mv_data = (void *)id};
	return get_text(s, "task get", DB_TASKS, &key, json, len);
}

int store_task_del(struct store *s, const uint8_t id[STORE_ID_LEN])
{
	struct op op = del_op(DB_TASKS, id, STORE_ID_LEN);
	return write_op(s, "task del", &op) < 0 ? -1 : 0;
}

/* Position on the first task to visit; MDB_NOTFOUND when there is none. */
static int task_seek(MDB_cursor *cur, const uint8_t *after, int reverse,
                     MDB_val *key, MDB_val *data)
{
	if (!after)
		return mdb_cursor_get(cur, key, data,
		                      reverse ? MDB_LAST : MDB_FIRST);
	key->mv_size = STORE_ID_LEN;
	key->mv_data = (void *)after;
	/* SET_RANGE lands on the first key >= after. */
	int rc = mdb_cursor_get(cur, key, data, MDB_SET_RANGE);
	if (reverse) {
		if (rc == MDB_NOTFOUND) /* every key is below `after` */
			return mdb_cursor_get(cur, key, data, MDB_LAST);
		return rc ? rc : mdb_cursor_get(cur, key, data, MDB_PREV);
	}
	if (rc == 0 && key->mv_size == STORE_ID_LEN &&
	    memcmp(key->mv_data, after, STORE_ID_LEN) == 0)
		rc = mdb_cursor_get(cur, key, data, MDB_NEXT);
	return rc;
}

int store_task_scan(struct store *s, const uint8_t *after, int reverse,
                    store_task_fn fn, void *ud)
{
	struct walk w;
	if (walk_begin(s, &w, DB_TASKS, "task scan"))
		return -1;
	MDB_val key, data;
	MDB_cursor_op step = reverse ? MDB_PREV : MDB_NEXT;
	int rc = task_seek(w.cur, after, reverse, &key, &data);
	for (; rc == 0; rc = mdb_cursor_get(w.cur, &key, &data, step)) {
		const char *json;
		size_t len;
		/* Not written by us: never hand it out. */
		if (key.mv_size != STORE_ID_LEN ||
		    text_view(&data, &json, &len))
			continue;
		if (fn(key.mv_data, json, len, ud))
			break;
	}
	return walk_end(s, &w, rc, "task scan");
}

size_t store_task_count(struct store *s)
{
	struct reader r;
	if (read_begin(s, &r, "task count"))
		return 0;
	MDB_stat st;
	int rc = mdb_stat(r.txn, s->dbi[DB_TASKS], &st);
	read_end(s, &r);
	if (rc) {
		set_error("task count", rc);
		log_error("store: %s", last_error);
		return 0;
	}
	return st.ms_entries;
}

/* ---- task events ---- */

static void event_key(uint8_t k[EVENT_KEY_LEN], const uint8_t id[STORE_ID_LEN],
                      uint32_t seq)
{
	memcpy(k, id, STORE_ID_LEN);
	/* Big-endian, so bytewise key order is seq order. */
	k[STORE_ID_LEN + 0] = (uint8_t)(seq >> 24);
	k[STORE_ID_LEN + 1] = (uint8_t)(seq >> 16);
	k[STORE_ID_LEN + 2] = (uint8_t)(seq >> 8);
	k[STORE_ID_LEN + 3] = (uint8_t)seq;
}

int store_event_put(struct store *s, const uint8_t id[STORE_ID_LEN],
                    uint32_t seq, const char *json, size_t len)
{
	uint8_t k[EVENT_KEY_LEN];
	event_key(k, id, seq);
	struct op op = text_op(DB_EVENTS, k, sizeof k, json, len);
	return write_op(s, "event put", &op) == 0 ? 0 : -1;
}

int store_event_scan(struct store *s, const uint8_t id[STORE_ID_LEN],
                     store_event_fn fn, void *ud)
{
	struct walk w;
	if (walk_begin(s, &w, DB_EVENTS, "event scan"))
		return -1;
	uint8_t k[EVENT_KEY_LEN];
	event_key(k, id, 0);
	MDB_val key = {.mv_size = sizeof k, .mv_data = k}, data;
	int rc = mdb_cursor_get(w.cur, &key, &data, MDB_SET_RANGE);
	for (; rc == 0; rc = mdb_cursor_get(w.cur, &key, &data, MDB_NEXT)) {
		const uint8_t *kp = key.mv_data;
		if (key.mv_size != EVENT_KEY_LEN ||
		    memcmp(kp, id, STORE_ID_LEN) != 0)
			break; /* past this task's events */
		const char *json;
		size_t len;
		if (text_view(&data, &json, &len))
			continue;
		uint32_t seq = (uint32_t)kp[16] << 24 | (uint32_t)kp[17] << 16 |
		               (uint32_t)kp[18] << 8 | kp[19];
		if (fn(seq, json, len, ud))
			break;
	}
	return walk_end(s, &w, rc, "event scan");
}

/* ---- idempotency keys ---- */

static int idem_key(struct store *s, const char *key, MDB_val *k,
                    const char *what)
{
	size_t n = key ? strlen(key) : 0;
	if (n == 0 || n > (size_t)s->maxkey) {
		set_msg("%s: key must be 1 to %d bytes", what, s->maxkey);
		return -1;
	}
	k->mv_size = n;
	k->mv_data = (void *)key;
	return 0;
}

int store_idem_get(struct store *s, const char *key, uint8_t id[STORE_ID_LEN])
{
	MDB_val k, data;
	if (idem_key(s, key, &k, "idem get"))
		return -1;
	struct reader r;
	if (read_begin(s, &r, "idem get"))
		return -1;
	int ret = -1;
	int rc = mdb_get(r.txn, s->dbi[DB_IDEM], &k, &data);
	if (rc == MDB_NOTFOUND) {
		ret = 1;
	} else if (rc) {
		set_error("idem get", rc);
		log_error("store: %s", last_error);
	} else if (data.mv_size != STORE_ID_LEN) {
		set_msg("idem get: stored value is not an id");
		log_error("store: %s", last_error);
	} else {
		memcpy(id, data.mv_data, STORE_ID_LEN);
		ret = 0;
	}
	read_end(s, &r);
	return ret;
}

int store_idem_put(struct store *s, const char *key,
                   const uint8_t id[STORE_ID_LEN])
{
	MDB_val k;
	if (idem_key(s, key, &k, "idem put"))
		return -1;
	struct op op = {
		.db = DB_IDEM,
		.key = k,
		.val = {.mv_size = STORE_ID_LEN, .mv_data = (void *)id},
	};
	return write_op(s, "idem put", &op) == 0 ? 0 : -1;
}

/* ---- plugin key-value spaces ---- */

/* plugin '\0' key: no plugin name contains a NUL, so spaces never mix. */
static int kv_key(struct store *s, const char *plugin, const char *key,
                  char buf[KEY_BUF], MDB_val *k, const char *what)
{
	size_t max = (size_t)s->maxkey < KEY_BUF ? (size_t)s->maxkey : KEY_BUF;
	size_t pn = plugin ? strlen(plugin) : 0, kn = key ? strlen(key) : 0;
	if (pn == 0 || !key || pn + 1 + kn > max) {
		set_msg("%s: plugin name and key must fit %zu bytes", what,
		        max - 1);
		return -1;
	}
	memcpy(buf, plugin, pn + 1);
	memcpy(buf + pn + 1, key, kn);
	k->mv_size = pn + 1 + kn;
	k->mv_data = buf;
	return 0;
}

int store_kv_get(struct store *s, const char *plugin, const char *key,
                 char **json, size_t *len)
{
	char buf[KEY_BUF];
	MDB_val k;
	if (kv_key(s, plugin, key, buf, &k, "kv get"))
		return -1;
	return get_text(s, "kv get", DB_KV, &k, json, len);
}

int store_kv_put(struct store *s, const char *plugin, const char *key,
                 const char *json, size_t len)
{
	char buf[KEY_BUF];
	MDB_val k;
	if (kv_key(s, plugin, key, buf, &k, "kv put"))
		return -1;
	struct op op = text_op(DB_KV, k.mv_data, k.mv_size, json, len);
	return write_op(s, "kv put", &op) == 0 ? 0 : -1;
}

int store_kv_del(struct store *s, const char *plugin, const char *key)
{
	char buf[KEY_BUF];
	MDB_val k;
	if (kv_key(s, plugin, key, buf, &k, "kv del"))
		return -1;
	struct op op = del_op(DB_KV, k.mv_data, k.mv_size);
	return write_op(s, "kv del", &op);
}
