/*
 * The host function table: the only way plugins reach the daemon. Every
 * call checks its handle's magic first. Task calls may come from a worker
 * thread; they touch only the attempt's atomics and post to the loop.
 */
#include <event2/event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ffi-internal.h"
#include "log-internal.h"
#include "map-internal.h"
#include "mcp-features-internal.h"
#include "mcpd-internal.h"
#include "plugin-internal.h"
#include "store-internal.h"

static const char *host_strerror(int err)
{
	switch (err) {
	case MCPD_OK: return "success";
	case MCPD_E_INVAL: return "invalid argument";
	case MCPD_E_HANDLE: return "stale or foreign handle";
	case MCPD_E_STATE: return "not allowed in this state";
	case MCPD_E_EXISTS: return "already exists";
	case MCPD_E_NOTFOUND: return "not found";
	case MCPD_E_SCHEMA: return "bad JSON Schema";
	case MCPD_E_NOMEM: return "out of memory";
	case MCPD_E_IO: return "store error";
	case MCPD_E_CANCELLED: return "cancelled";
	case MCPD_E_FAILED: return "failed";
	default: return "unknown error";
	}
}

static void host_log(struct mcpd_plugin *self, int level, const char *fmt, ...)
{
	if (plugin_check(self, "log") < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, self->name, NULL, fmt, ap);
	va_end(ap);
}

static const json_t *host_config(struct mcpd_plugin *self)
{
	return plugin_check(self, "config") < 0 ? NULL : self->config;
}

static int attempt_check(const struct mcpd_task *a, const char *fn)
{
	if (a && a->magic == ATTEMPT_MAGIC)
		return 0;
	log_error("%s: stale or foreign task handle %p", fn, (void *)a);
	return -1;
}

static const char *host_task_id(struct mcpd_task *t)
{
	return attempt_check(t, "task_id") < 0 ? NULL : t->id;
}

static const json_t *host_task_input(struct mcpd_task *t)
{
	return attempt_check(t, "task_input") < 0 ? NULL : t->input;
}

int attempt_finish(struct mcpd_task *a, int ok, json_t *result,
                   const char *code, const char *msg)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&a->finished, &expected, 1)) {
		json_decref(result);
		return MCPD_E_STATE;
	}
	a->ok = ok;
	a->result = result;
	if (!ok) {
		a->err_code = strdup(code ? code : "failed");
		a->err_msg = strdup(msg ? msg : "the handler reported a failure");
	}
	struct msg *m = calloc(1, sizeof *m);
	if (!m)
		abort(); /* the outcome cannot be lost silently */
	m->type = MSG_DONE;
	m->attempt = a;
	mcpd_post(a->d, m);
	return MCPD_OK;
}

static int host_task_complete(struct mcpd_task *t, json_t *result)
{
	if (attempt_check(t, "task_complete") < 0) {
		json_decref(result);
		return MCPD_E_HANDLE;
	}
	return attempt_finish(t, 1, result ? result : json_null(), NULL, NULL);
}

static int host_task_fail(struct mcpd_task *t, const char *code,
                          const char *message)
{
	if (attempt_check(t, "task_fail") < 0)
		return MCPD_E_HANDLE;
	return attempt_finish(t, 0, NULL, code, message);
}

static int host_task_progress(struct mcpd_task *t, double done, double total,
                              const char *message)
{
	if (attempt_check(t, "task_progress") < 0)
		return MCPD_E_HANDLE;
	if (atomic_load(&t->finished))
		return MCPD_E_STATE;
	/* Coalesce bursts at the source: a handler reporting in a tight
	 * loop must not flood the loop's queue. The last report (done ==
	 * total) always goes through. */
	long long now = mono_ms(), last = atomic_load(&t->last_progress);
	if (now - last < 20 && !(total > 0 && done >= total))
		return MCPD_OK;
	atomic_store(&t->last_progress, now);
	struct msg *m = calloc(1, sizeof *m);
	if (!m)
		return MCPD_E_NOMEM;
	m->type = MSG_PROGRESS;
	m->attempt = t;
	m->done = done;
	m->total = total;
	m->text = message ? strdup(message) : NULL;
	mcpd_post(t->d, m);
	return MCPD_OK;
}

static int host_task_cancelled(struct mcpd_task *t)
{
	if (attempt_check(t, "task_cancelled") < 0)
		return 1;
	return atomic_load(&t->cancelled);
}

/* ---- key-value ---- */

/* A write asked for by a worker thread: done on the loop, and the worker
 * waits until it is committed. */
struct kv_op {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, rc;
	const char *plugin, *key;
	char *json; /* NULL = delete */
};

static int on_loop(struct mcpd *d)
{
	return pthread_equal(pthread_self(), d->loop_thread);
}

static int kv_apply(struct mcpd *d, const char *plugin, const char *key,
                    const char *json)
{
	int rc = json ? store_kv_put(d->store, plugin, key, json, strlen(json))
	              : store_kv_del(d->store, plugin, key);
	if (rc < 0)
		return MCPD_E_IO;
	mcpd_want_commit(d);
	return rc == 1 ? MCPD_E_NOTFOUND : MCPD_OK;
}

static void kv_committed(void *arg, int ok)
{
	struct kv_op *op = arg;
	pthread_mutex_lock(&op->lock);
	if (!ok && op->rc == MCPD_OK)
		op->rc = MCPD_E_IO;
	op->done = 1;
	pthread_cond_signal(&op->cond);
	pthread_mutex_unlock(&op->lock);
}

void host_kv_run(struct mcpd *d, struct kv_op *op)
{
	op->rc = kv_apply(d, op->plugin, op->key, op->json);
	mcpd_after_commit(d, kv_committed, op);
}

static int kv_write(struct mcpd_plugin *self, const char *key, char *json)
{
	struct mcpd *d = self->d;
	if (on_loop(d)) {
		int rc = kv_apply(d, self->name, key, json);
		free(json);
		return rc;
	}
	struct kv_op op = {.plugin = self->name, .key = key, .json = json};
	pthread_mutex_init(&op.lock, NULL);
	pthread_cond_init(&op.cond, NULL);
	struct msg *m = calloc(1, sizeof *m);
	if (!m) {
		free(json);
		return MCPD_E_NOMEM;
	}
	m->type = MSG_KV;
	m->kv = &op;
	mcpd_post(d, m);
	pthread_mutex_lock(&op.lock);
	while (!op.done)
		pthread_cond_wait(&op.cond, &op.lock);
	pthread_mutex_unlock(&op.lock);
	pthread_mutex_destroy(&op.lock);
	pthread_cond_destroy(&op.cond);
	free(json);
	return op.rc;
}

static int valid_key(const char *key)
{
	return key && key[0] && strlen(key) <= 256;
}

static int host_kv_get(struct mcpd_plugin *self, const char *key, json_t **out)
{
	if (plugin_check(self, "kv_get") < 0)
		return MCPD_E_HANDLE;
	if (!valid_key(key) || !out)
		return MCPD_E_INVAL;
	char *text = NULL;
	size_t len = 0;
	int rc = store_kv_get(self->d->store, self->name, key, &text, &len);
	if (rc < 0)
		return MCPD_E_IO;
	if (rc == 1)
		return MCPD_E_NOTFOUND;
	*out = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	free(text);
	return *out ? MCPD_OK : MCPD_E_IO;
}

static int host_kv_put(struct mcpd_plugin *self, const char *key,
                       const json_t *value)
{
	if (plugin_check(self, "kv_put") < 0)
		return MCPD_E_HANDLE;
	if (!valid_key(key) || !value)
		return MCPD_E_INVAL;
	char *json = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!json)
		return MCPD_E_NOMEM;
	return kv_write(self, key, json);
}

static int host_kv_del(struct mcpd_plugin *self, const char *key)
{
	if (plugin_check(self, "kv_del") < 0)
		return MCPD_E_HANDLE;
	if (!valid_key(key))
		return MCPD_E_INVAL;
	return kv_write(self, key, NULL);
}

/* ---- timers (loop thread only) ---- */

/*
 * The timers not yet fired or stopped and the fd watches not yet stopped,
 * by address: timer_stop and io_stop look a handle up here before touching
 * it, so a stale handle (fired, stopped, or its plugin retired) is refused
 * without reading freed memory.
 */
static struct map *live_handles;

static void handle_key(const void *t, char key[32])
{
	snprintf(key, 32, "%p", t);
}

static void timer_unlink(struct mcpd_timer *t)
{
	char key[32];
	handle_key(t, key);
	map_del(live_handles, key);
	if (!map_count(live_handles)) {
		map_free(live_handles);
		live_handles = NULL;
	}
	struct mcpd_plugin *p = t->plugin;
	if (t->prev)
		t->prev->next = t->next;
	else
		p->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	event_free(t->ev);
	t->magic = 0;
}

void host_timers_remove(struct mcpd_plugin *p)
{
	while (p->timers) {
		struct mcpd_timer *t = p->timers;
		timer_unlink(t);
		free(t);
	}
}

static void on_plugin_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mcpd_timer *t = arg;
	void (*fn)(void *) = t->fn;
	void *fn_arg = t->arg;
	/* Gone before the call, so fn may start new timers or stop any. */
	timer_unlink(t);
	free(t);
	fn(fn_arg);
}

static int on_loop_thread(const struct mcpd *d)
{
	return pthread_equal(pthread_self(), d->loop_thread);
}

static struct mcpd_timer *host_timer_start(struct mcpd_plugin *self,
                                           uint32_t ms, void (*fn)(void *),
                                           void *arg)
{
	if (plugin_check(self, "timer_start") < 0 || !fn)
		return NULL;
	if (!on_loop_thread(self->d)) {
		log_msg(LOG_ERROR, self->name, NULL,
		        "timer_start from a worker thread is refused");
		return NULL;
	}
	struct mcpd_timer *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->ev = evtimer_new(self->d->base, on_plugin_timer, t);
	if (!t->ev) {
		free(t);
		return NULL;
	}
	char key[32];
	handle_key(t, key);
	if ((!live_handles && !(live_handles = map_new())) ||
	    map_put(live_handles, key, t) < 0) {
		event_free(t->ev);
		free(t);
		return NULL;
	}
	t->magic = TIMER_MAGIC;
	t->plugin = self;
	t->fn = fn;
	t->arg = arg;
	t->next = self->timers;
	if (self->timers)
		self->timers->prev = t;
	self->timers = t;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(t->ev, &tv);
	return t;
}

static int host_timer_stop(struct mcpd_timer *t)
{
	char key[32];
	handle_key(t, key);
	if (!t || !live_handles || map_get(live_handles, key) != t ||
	    t->magic != TIMER_MAGIC) {
		log_error("timer_stop: stale or foreign timer handle %p",
		          (void *)t);
		return MCPD_E_HANDLE;
	}
	if (!on_loop_thread(t->plugin->d))
		return MCPD_E_STATE;
	timer_unlink(t);
	free(t);
	return MCPD_OK;
}

/* ---- fd watches (ABI 1.2, loop thread only) ---- */

static void io_unlink(struct mcpd_io *io)
{
	char key[32];
	handle_key(io, key);
	map_del(live_handles, key);
	if (!map_count(live_handles)) {
		map_free(live_handles);
		live_handles = NULL;
	}
	struct mcpd_plugin *p = io->plugin;
	if (io->prev)
		io->prev->next = io->next;
	else
		p->ios = io->next;
	if (io->next)
		io->next->prev = io->prev;
	event_free(io->ev);
	io->magic = 0;
}

void host_ios_remove(struct mcpd_plugin *p)
{
	while (p->ios) {
		struct mcpd_io *io = p->ios;
		io_unlink(io);
		free(io);
	}
}

static void on_plugin_io(evutil_socket_t fd, short what, void *arg)
{
	struct mcpd_io *io = arg;
	unsigned ev = ((what & EV_READ) ? MCPD_IO_READ : 0) |
	              ((what & EV_WRITE) ? MCPD_IO_WRITE : 0);
	/* fn may stop this watch (io is then freed): read nothing after. */
	io->fn((int)fd, ev, io->arg);
}

static struct mcpd_io *host_io_start(struct mcpd_plugin *self, int fd,
                                     unsigned events,
                                     void (*fn)(int, unsigned, void *),
                                     void *arg)
{
	if (plugin_check(self, "io_start") < 0 || !fn || fd < 0 ||
	    !(events & (MCPD_IO_READ | MCPD_IO_WRITE)) ||
	    (events & ~(MCPD_IO_READ | MCPD_IO_WRITE)))
		return NULL;
	if (!on_loop_thread(self->d)) {
		log_msg(LOG_ERROR, self->name, NULL,
		        "io_start from a worker thread is refused");
		return NULL;
	}
	struct mcpd_io *io = calloc(1, sizeof *io);
	if (!io)
		return NULL;
	short what = EV_PERSIST | ((events & MCPD_IO_READ) ? EV_READ : 0) |
	             ((events & MCPD_IO_WRITE) ? EV_WRITE : 0);
	io->ev = event_new(self->d->base, fd, what, on_plugin_io, io);
	char key[32];
	handle_key(io, key);
	if (!io->ev || (!live_handles && !(live_handles = map_new())) ||
	    map_put(live_handles, key, io) < 0 || event_add(io->ev, NULL) < 0) {
		if (live_handles)
			map_del(live_handles, key);
		if (io->ev)
			event_free(io->ev);
		free(io);
		return NULL;
	}
	io->magic = IO_MAGIC;
	io->plugin = self;
	io->fd = fd;
	io->fn = fn;
	io->arg = arg;
	io->next = self->ios;
	if (self->ios)
		self->ios->prev = io;
	self->ios = io;
	return io;
}

static int host_io_stop(struct mcpd_io *io)
{
	char key[32];
	handle_key(io, key);
	if (!io || !live_handles || map_get(live_handles, key) != io ||
	    io->magic != IO_MAGIC) {
		log_error("io_stop: stale or foreign io handle %p", (void *)io);
		return MCPD_E_HANDLE;
	}
	if (!on_loop_thread(io->plugin->d))
		return MCPD_E_STATE;
	io_unlink(io);
	free(io);
	return MCPD_OK;
}

/* ---- services ---- */

#define SERVICE_MAGIC 0x53525643u /* "SRVC" */

struct mcpd_service {
	uint32_t magic;
	struct mcpd_plugin *provider;
};

static int host_service_provide(struct mcpd_plugin *self, const char *iface,
                                const void *vtable)
{
	if (plugin_check(self, "service_provide") < 0)
		return MCPD_E_HANDLE;
	if (!self->in_init)
		return MCPD_E_STATE;
	const struct mcpd_service_head *head = vtable;
	if (!iface || !*iface || strlen(iface) > 63 || !head ||
	    head->size < sizeof *head)
		return MCPD_E_INVAL;
	if (plugin_service(self, iface))
		return MCPD_E_EXISTS;
	struct plugin_service *ns = realloc(
		self->services, (self->nservices + 1) * sizeof *ns);
	if (!ns)
		return MCPD_E_NOMEM;
	self->services = ns;
	if (!(ns[self->nservices].iface = strdup(iface)))
		return MCPD_E_NOMEM;
	ns[self->nservices++].vtable = vtable;
	return MCPD_OK;
}

/* The serving provider of iface: by name, the configured default, or the
 * first loaded. Under reg_lock. */
static struct mcpd_plugin *find_provider(struct mcpd *d, const char *iface,
                                         const char *name)
{
	if (!name)
		name = json_string_value(json_object_get(d->cfg.services, iface));
	if (name) {
		struct mcpd_plugin *p = map_get(d->plugins_by_name, name);
		return p && plugin_service(p, iface) ? p : NULL;
	}
	for (size_t i = 0; i < d->nplugins; i++)
		if (d->plugins[i]->loaded && plugin_service(d->plugins[i], iface))
			return d->plugins[i];
	return NULL;
}

static int host_service_acquire(struct mcpd_plugin *self, const char *iface,
                                uint16_t major, const char *provider,
                                const void **vtable, struct mcpd_service **ref)
{
	if (plugin_check(self, "service_acquire") < 0)
		return MCPD_E_HANDLE;
	if (!iface || !vtable || !ref)
		return MCPD_E_INVAL;
	*vtable = NULL;
	*ref = NULL;
	struct mcpd_service *r = malloc(sizeof *r);
	if (!r)
		return MCPD_E_NOMEM;
	struct mcpd *d = self->d;
	int rc = MCPD_OK;
	pthread_mutex_lock(&d->reg_lock);
	struct mcpd_plugin *p = find_provider(d, iface, provider);
	const struct mcpd_service_head *head = p ? plugin_service(p, iface) : NULL;
	if (!head)
		rc = MCPD_E_NOTFOUND;
	else if (head->major != major)
		rc = MCPD_E_STATE;
	else
		plugin_ref(p);
	pthread_mutex_unlock(&d->reg_lock);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->magic = SERVICE_MAGIC;
	r->provider = p;
	*vtable = head;
	*ref = r;
	return MCPD_OK;
}

static void host_service_release(struct mcpd_service *ref)
{
	if (!ref || ref->magic != SERVICE_MAGIC) {
		log_error("service_release: stale or foreign reference %p",
		          (void *)ref);
		return;
	}
	ref->magic = 0;
	/* A draining provider is retired by the loop's drain tick. */
	plugin_unref(ref->provider);
	free(ref);
}

const struct mcpd_host host_table = {
	.size = sizeof(struct mcpd_host),
	.abi_major = MCPD_ABI_MAJOR,
	.abi_minor = MCPD_ABI_MINOR,
	.strerror = host_strerror,
	.log = host_log,
	.capability_add = plugin_capability_add,
	.config = host_config,
	.task_id = host_task_id,
	.task_input = host_task_input,
	.task_complete = host_task_complete,
	.task_fail = host_task_fail,
	.task_progress = host_task_progress,
	.task_cancelled = host_task_cancelled,
	.kv_get = host_kv_get,
	.kv_put = host_kv_put,
	.kv_del = host_kv_del,
	.timer_start = host_timer_start,
	.timer_stop = host_timer_stop,
	.service_provide = host_service_provide,
	.service_acquire = host_service_acquire,
	.service_release = host_service_release,
	.function_add = ffi_function_add,
	.capability_remove = plugin_capability_remove,
	.io_start = host_io_start,
	.io_stop = host_io_stop,
	.resource_add = mcpf_resource_add,
	.resource_template_add = mcpf_resource_template_add,
	.resource_remove = mcpf_resource_remove,
	.resource_updated = mcpf_resource_updated,
	.prompt_add = mcpf_prompt_add,
	.prompt_remove = mcpf_prompt_remove,
};
