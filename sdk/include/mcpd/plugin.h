/*
 * mcpd/plugin.h -- the plugin ABI of mcpd, version 1.
 *
 * This header is the whole contract between mcpd and a plugin. A plugin is a
 * shared object that exports exactly one symbol, mcpd_plugin_v1, written by
 * the MCPD_PLUGIN() macro below. Everything else a plugin does with the host
 * goes through the function table (struct mcpd_host) handed to its init().
 *
 * Versioning
 *   MCPD_ABI_MAJOR / MCPD_ABI_MINOR name the ABI this header describes at
 *   compile time; host->abi_major / host->abi_minor the ABI of the running
 *   host. The host refuses a plugin whose major differs or whose minor is
 *   newer than its own. Within one major, structs only grow at the end and
 *   each starts with its own size, so a plugin built against 1.0 loads in
 *   every 1.x host. Use MCPD_HOST_HAS(host, member) before calling a function
 *   added after 1.0.
 *
 * Caveats -- rules a plugin must live by
 *   - Own no threads and register no thread-local destructors: both crash
 *     the daemon, or pin the plugin in memory, when it is unloaded. Blocking
 *     work runs on the host's worker pool: declare the capability
 *     MCPD_CAP_BLOCKING.
 *   - A handler without MCPD_CAP_BLOCKING runs on the event loop and must
 *     never block (no sleep, no disk or network wait, no long computation).
 *   - Call the host only through the table given to init(); link against no
 *     symbol of the daemon (it exports none).
 *   - JSON is jansson's json_t. A function that takes a json_t * documents
 *     whether it steals the reference ("steals") or only reads it
 *     ("borrows"); a function that returns one says whether the caller owns
 *     it ("new reference") or must not keep it past a stated point
 *     ("borrowed").
 *   - Every handle (struct mcpd_plugin, struct mcpd_task) carries a magic
 *     number checked by each host call: using a stale or foreign handle is
 *     logged and answered with MCPD_E_HANDLE, but a handle whose memory is
 *     long gone can still not be detected -- do not keep task handles past
 *     the completion of the task.
 *
 * Reloads
 *   A reload (SIGHUP) that finds a plugin's file or config block changed
 *   loads a new generation of it from a fresh private copy, beside the old
 *   one: the new generation has its own static data and runs init() again;
 *   the old one finishes its running tasks, then gets fini() and is
 *   unloaded. So: keep state in statics or in `self`'s kv space (shared by
 *   every generation of a plugin name), never assume init() runs once per
 *   process, and release in fini() everything init() took. Acquire a
 *   service per use and release it soon: a held reference keeps the
 *   provider's old generation loaded.
 *
 * Errors are small negative integers (MCPD_E_*); mcpd_strerror() in the host
 * table turns one into text. 0 is success.
 */
#ifndef MCPD_PLUGIN_H
#define MCPD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MCPD_ABI_MAJOR 1
#define MCPD_ABI_MINOR 2

/* Errors returned by host functions and handlers. */
enum mcpd_error {
	MCPD_OK = 0,
	MCPD_E_INVAL = -1,     /* a bad argument */
	MCPD_E_HANDLE = -2,    /* stale or foreign handle */
	MCPD_E_STATE = -3,     /* not allowed now (e.g. outside init, task done) */
	MCPD_E_EXISTS = -4,    /* duplicate name */
	MCPD_E_NOTFOUND = -5,  /* no such key, capability, service */
	MCPD_E_SCHEMA = -6,    /* a JSON Schema that does not parse or is not an object */
	MCPD_E_NOMEM = -7,
	MCPD_E_IO = -8,        /* the store failed */
	MCPD_E_CANCELLED = -9, /* the task was cancelled */
	MCPD_E_FAILED = -10,   /* generic failure reported by a plugin */
};

/* Log levels, most severe first. */
enum mcpd_log_level {
	MCPD_LOG_ERROR = 0,
	MCPD_LOG_WARN = 1,
	MCPD_LOG_INFO = 2,
	MCPD_LOG_DEBUG = 3,
};

struct mcpd_host;
struct mcpd_plugin; /* opaque: the host's record of this plugin */
struct mcpd_task;   /* opaque: one running attempt of a task */
struct mcpd_timer;  /* opaque: a one-shot timer on the loop (ABI 1.1) */
struct mcpd_service; /* opaque: a held reference to a service (ABI 1.1) */
struct mcpd_io;      /* opaque: a file-descriptor watch on the loop (ABI 1.2) */
struct mcpd_resource_def; /* an MCP resource or template (ABI 1.2) */
struct mcpd_prompt_def;   /* an MCP prompt (ABI 1.2) */

/*
 * Every service vtable (see sandbox.h) starts with this header, so the host
 * and a consumer can check what they hold. A vtable only grows at the end
 * within one major version.
 */
struct mcpd_service_head {
	uint32_t size;   /* sizeof the whole vtable as compiled */
	uint16_t major;  /* the interface's major version */
	uint16_t minor;
};

/* Plugin flags. */
#define MCPD_PLUGIN_RESIDENT 0x1u /* never unloaded by a reload */

/*
 * The descriptor mcpd_plugin_v1() returns. The first three fields never
 * change in any ABI version; the host reads a field past them only when
 * `size` covers it.
 */
struct mcpd_plugin_desc {
	uint32_t size;      /* sizeof(struct mcpd_plugin_desc) as compiled */
	uint16_t abi_major; /* MCPD_ABI_MAJOR as compiled */
	uint16_t abi_minor; /* MCPD_ABI_MINOR as compiled */
	const char *name;        /* unique; [a-z0-9_.-], at most 63 bytes */
	const char *version;     /* free text, e.g. "1.2.0" */
	const char *description; /* one line */
	uint32_t flags;          /* MCPD_PLUGIN_* */
	/*
	 * Called once on the loop thread after loading. Declare capabilities
	 * here (capability_add works only during init). Return 0, or a
	 * negative MCPD_E_* to refuse loading; the host then calls no fini and
	 * unloads the object. `self` is valid until fini returns.
	 */
	int (*init)(const struct mcpd_host *host, struct mcpd_plugin *self);
	/* Called once on the loop thread before unloading; may be NULL. */
	void (*fini)(struct mcpd_plugin *self);
};

#if defined(__GNUC__)
#define MCPD_EXPORT __attribute__((visibility("default")))
#else
#define MCPD_EXPORT
#endif

/*
 * MCPD_PLUGIN(name, version, description, flags, init, fini) defines the one
 * exported symbol. Use it once, at file scope, in one source file.
 */
#define MCPD_PLUGIN(NAME, VERSION, DESCRIPTION, FLAGS, INIT, FINI)            \
	MCPD_EXPORT const struct mcpd_plugin_desc *mcpd_plugin_v1(void);      \
	MCPD_EXPORT const struct mcpd_plugin_desc *mcpd_plugin_v1(void)       \
	{                                                                     \
		static const struct mcpd_plugin_desc desc = {                 \
			sizeof(struct mcpd_plugin_desc), MCPD_ABI_MAJOR,      \
			MCPD_ABI_MINOR, (NAME), (VERSION), (DESCRIPTION),     \
			(FLAGS), (INIT), (FINI)};                             \
		return &desc;                                                 \
	}

/* The symbol name the host looks up; its suffix is the ABI major. */
#define MCPD_PLUGIN_SYMBOL "mcpd_plugin_v1"

/* Capability flags. */
#define MCPD_CAP_BLOCKING 0x1u /* handler runs on a worker thread */

/*
 * A task handler. Runs on a worker thread (MCPD_CAP_BLOCKING) or on the loop.
 *
 * A blocking handler must finish the task -- task_complete() or
 * task_fail() -- before it returns; if it returns without doing so the task
 * fails with "handler returned without a result". Its worker slot stays
 * taken until it returns, even after a timeout or cancel.
 *
 * A loop handler may finish the task later from the loop; until then the
 * task counts against the capability's concurrency and its timeout runs.
 * Even after a timeout or cancel it must still call task_complete() or
 * task_fail() eventually: that call is what releases the handle.
 *
 * Return 0, or a negative MCPD_E_* which fails the task (if not already
 * finished) with that error.
 */
typedef int (*mcpd_handler_fn)(struct mcpd_task *task, void *ud);

/*
 * What a plugin declares with capability_add(). Strings are copied by the
 * host; the struct may live on the stack.
 */
struct mcpd_capability_def {
	uint32_t size;           /* sizeof(struct mcpd_capability_def) */
	const char *name;        /* e.g. "code.analyze"; [A-Za-z0-9_.-] */
	const char *version;     /* e.g. "1.0" */
	const char *title;       /* short human title; may be NULL */
	const char *description; /* may be NULL */
	const char *input_schema;  /* JSON Schema text (an object); NULL = {} */
	const char *output_schema; /* JSON Schema text; NULL = none declared */
	const char *attributes;    /* JSON object text, e.g.
	                              {"languages":["c","python"]}; may be NULL */
	uint32_t max_concurrency;  /* tasks at once; 0 = the host's default */
	uint32_t flags;            /* MCPD_CAP_* */
	mcpd_handler_fn handler;
	void *ud; /* passed to handler as is */
};

/*
 * The host's function table. Starts with its own size and version and only
 * grows at the end. Every function is safe to call from the loop and from
 * the worker running the given task, unless it says otherwise.
 */
struct mcpd_host {
	uint32_t size; /* sizeof(struct mcpd_host) in the running host */
	uint16_t abi_major;
	uint16_t abi_minor;

	/* Text for an MCPD_E_* code; never NULL. */
	const char *(*strerror)(int err);

	/* Log one line at `level` (printf format), tagged with the plugin. */
	void (*log)(struct mcpd_plugin *self, int level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

	/*
	 * Declare a capability. During init(), and since ABI 1.2 also later
	 * from the loop thread (a bridge learning its tools at run time: the
	 * capability is routable at once and MCP clients are told the tool
	 * list changed). Errors: MCPD_E_STATE from a worker thread, or
	 * outside init in a 1.0/1.1 host; MCPD_E_EXISTS if this plugin already declared the
	 * name, MCPD_E_SCHEMA for schema or attributes text that is not a JSON
	 * object, MCPD_E_INVAL for a bad name or a NULL handler.
	 */
	int (*capability_add)(struct mcpd_plugin *self,
	                      const struct mcpd_capability_def *def);

	/*
	 * This plugin's block from the daemon config ("plugins": {NAME: {...}}).
	 * Borrowed: valid until fini; an empty object when none is configured.
	 */
	const json_t *(*config)(struct mcpd_plugin *self);

	/* ---- tasks ---- */

	/* The task's id, 32 hex characters. Borrowed, valid while the task is. */
	const char *(*task_id)(struct mcpd_task *task);

	/* The validated input. Borrowed, read-only, valid while the task is. */
	const json_t *(*task_input)(struct mcpd_task *task);

	/*
	 * Finish the task successfully. Steals `result` (any JSON; NULL means
	 * null). Errors: MCPD_E_STATE if it was already finished (the result
	 * is then dropped).
	 */
	int (*task_complete)(struct mcpd_task *task, json_t *result);

	/*
	 * Finish the task with a failure. `code` is a short machine word
	 * ("bad_input", "tool_failed"...), `message` a human sentence. Either
	 * may be NULL. Errors as task_complete. The code "bad_input" says the
	 * caller is at fault: such a failure is final (not retried) and does
	 * not count against the provider's circuit breaker.
	 */
	int (*task_fail)(struct mcpd_task *task, const char *code,
	                 const char *message);

	/*
	 * Report progress: `done` of `total` (total <= 0 means unknown), with
	 * an optional message. Cheap; the host coalesces bursts.
	 */
	int (*task_progress)(struct mcpd_task *task, double done, double total,
	                     const char *message);

	/*
	 * Non-zero once the task was cancelled or timed out: the handler
	 * should stop soon and may just return (its result is ignored).
	 */
	int (*task_cancelled)(struct mcpd_task *task);

	/* ---- per-plugin key-value space in the store ---- */

	/*
	 * Read `key`. On success *out is a new reference. MCPD_E_NOTFOUND if
	 * absent. Reads see committed data.
	 */
	int (*kv_get)(struct mcpd_plugin *self, const char *key, json_t **out);

	/*
	 * Write `key` (borrows value). On the loop: durable with the loop's
	 * next commit. On a worker: returns once the write is committed, so
	 * a following kv_get sees it.
	 */
	int (*kv_put)(struct mcpd_plugin *self, const char *key,
	              const json_t *value);

	/* Delete `key`; MCPD_E_NOTFOUND if absent. */
	int (*kv_del)(struct mcpd_plugin *self, const char *key);

	/* ---- added in ABI 1.1: timers ---- */

	/*
	 * Call fn(arg) once on the loop after `ms` milliseconds. Loop thread
	 * only. The host owns the timer: it is gone after it fired, after
	 * timer_stop(), and when the plugin is unloaded (a reload removes a
	 * retiring plugin's pending timers before calling its fini). NULL on
	 * a bad argument or from a worker thread.
	 */
	struct mcpd_timer *(*timer_start)(struct mcpd_plugin *self, uint32_t ms,
	                                  void (*fn)(void *arg), void *arg);

	/* Cancel a timer that has not fired yet. MCPD_E_HANDLE otherwise. */
	int (*timer_stop)(struct mcpd_timer *timer);

	/* ---- added in ABI 1.1: service interfaces ---- */

	/*
	 * Offer service interface `iface` (e.g. "sandbox"), implemented by
	 * `vtable`, which starts with a struct mcpd_service_head and must stay
	 * valid until fini. Only during init(). A plugin provides each iface
	 * at most once (MCPD_E_EXISTS). Consumers find the provider by the
	 * plugin's name.
	 */
	int (*service_provide)(struct mcpd_plugin *self, const char *iface,
	                       const void *vtable);

	/*
	 * Find a loaded provider of `iface` whose vtable has major version
	 * `major`. `provider` names the providing plugin; NULL asks for the
	 * default: the plugin named in the daemon config ("services":
	 * {IFACE: PLUGIN}), else the first loaded provider. On success
	 * *vtable points at the provider's vtable and *ref holds the
	 * provider loaded (a reload cannot retire it) until service_release.
	 * Safe from the loop and from workers. Errors: MCPD_E_NOTFOUND (no
	 * such provider loaded), MCPD_E_STATE (major differs), MCPD_E_INVAL.
	 * Acquire per use (per task), not once at init: holding a ref forever
	 * pins an old generation of the provider across reloads.
	 */
	int (*service_acquire)(struct mcpd_plugin *self, const char *iface,
	                       uint16_t major, const char *provider,
	                       const void **vtable, struct mcpd_service **ref);

	/* Drop a reference from service_acquire. Any thread. */
	void (*service_release)(struct mcpd_service *ref);

	/* ---- added in ABI 1.1: C functions as tools ---- */

	/*
	 * Declare a capability that calls the plain C function `fn`, described
	 * by a C-like `signature` such as "double hypot(double x, double y)"
	 * or "int64_t count_lines(const char *text)". Only during init().
	 *
	 * The host parses the signature once and derives the input JSON
	 * Schema: one required property per parameter, named after it, with
	 * the C type's exact range ("minimum"/"maximum" for integers), no
	 * other properties. Each task runs on a worker thread (the capability
	 * is MCPD_CAP_BLOCKING): the input is converted with its types and
	 * ranges checked again, fn is called through libffi, and the task's
	 * result is {"result": VALUE}, or {} for a void function.
	 *
	 * Types: void (result only); bool/_Bool; char, short, int, long, long
	 * long, signed or unsigned; int8_t..uint64_t, size_t, ssize_t,
	 * intptr_t, uintptr_t, ptrdiff_t; float; double; const char * (a
	 * string); json_t * and const json_t * (any JSON). Other pointers,
	 * structs, arrays and variadic functions are refused. Unsigned
	 * 64-bit parameters accept 0..INT64_MAX (jansson's integers are
	 * int64_t); an unsigned 64-bit result above it comes back as a JSON
	 * real. A float or double result that is inf or nan fails the task
	 * ("bad_result").
	 *
	 * Ownership: a const char * argument is borrowed for the call; a
	 * const char * result is copied and never freed by the host (return
	 * static or long-lived text; NULL gives null). A json_t * argument is
	 * a private copy of the input, borrowed for the call (fn may change
	 * it, or keep it with json_incref). A json_t * result is a new
	 * reference the host takes (NULL gives null).
	 *
	 * `name` is the capability name (NULL: the function's name in the
	 * signature); `description` may be NULL. fn must really have the
	 * signature's prototype: the host cannot check it.
	 *
	 * Errors: MCPD_E_INVAL for an unparsable or unsupported signature, or
	 * a NULL fn -- the reason, e.g. `function "f": bad signature "int
	 * f(int *p)": parameter 1 ("p"): type "int *" is not supported`,
	 * refuses the plugin as a failed capability_add does; MCPD_E_EXISTS,
	 * MCPD_E_SCHEMA and MCPD_E_STATE as capability_add.
	 */
	int (*function_add)(struct mcpd_plugin *self, const char *name,
	                    const char *signature, void (*fn)(void),
	                    const char *description);

	/* ---- added in ABI 1.2: dynamic capabilities, fd watches ---- */

	/*
	 * Withdraw capability `name` that this plugin declared (in init or
	 * later). Loop thread only. Tasks already running keep running;
	 * queued ones wait for another provider (or the same one declared
	 * again) until their timeout, then fail with "no_provider"; MCP
	 * clients are told the tool list changed. MCPD_E_NOTFOUND if this
	 * plugin has no such capability, MCPD_E_STATE from a worker.
	 */
	int (*capability_remove)(struct mcpd_plugin *self, const char *name);

	/*
	 * Call fn(fd, events, arg) on the loop each time `fd` becomes
	 * readable (MCPD_IO_READ) and/or writable (MCPD_IO_WRITE), until
	 * io_stop(). `events` tells which happened. Loop thread only; the
	 * fd stays the plugin's (the host never closes it). The host
	 * removes a plugin's watches when it unloads it, before fini. NULL
	 * on a bad argument or from a worker thread.
	 */
	struct mcpd_io *(*io_start)(struct mcpd_plugin *self, int fd,
	                            unsigned events,
	                            void (*fn)(int fd, unsigned events,
	                                       void *arg),
	                            void *arg);

	/* Stop a watch (the io handle is gone after). Loop thread only. */
	int (*io_stop)(struct mcpd_io *io);

	/* (ABI 1.2, MCP resources and prompts: declared below this line.) */

	/*
	 * MCP clients see every capability as a tool; these members let a
	 * plugin also offer MCP resources, resource templates and prompts,
	 * served by mcpd's MCP server (stdio and /mcp) next to the tools.
	 * See struct mcpd_resource_def and struct mcpd_prompt_def below for
	 * the callbacks. All are loop-thread calls: during init(), or later
	 * from a loop callback (a timer, an fd watch); MCPD_E_STATE from a
	 * worker. What a plugin declares goes away with its generation (a
	 * reload's new generation declares its own in init); MCP clients are
	 * told the resource or prompt list changed.
	 */

	/*
	 * Offer the resource def->uri (an absolute URI, e.g.
	 * "myplugin://status"), listed by resources/list and read through
	 * def->read. Errors: MCPD_E_INVAL (no uri, no name, no read, a
	 * uri without a scheme, the reserved scheme "mcpd:"),
	 * MCPD_E_EXISTS (any plugin already offers that uri).
	 */
	int (*resource_add)(struct mcpd_plugin *self,
	                    const struct mcpd_resource_def *def);

	/*
	 * Offer the resource template def->uri: an RFC 6570 level-1
	 * template such as "myplugin://items/{id}" (each {name} matches one
	 * or more characters other than '/'; names are [A-Za-z0-9_]).
	 * Listed by resources/templates/list; resources/read of a matching
	 * URI calls def->read with the variables. Errors as resource_add,
	 * plus MCPD_E_INVAL for a malformed template.
	 */
	int (*resource_template_add)(struct mcpd_plugin *self,
	                             const struct mcpd_resource_def *def);

	/*
	 * Withdraw a resource or template this plugin offered, by its uri
	 * (template text for a template). MCPD_E_NOTFOUND if it has none.
	 */
	int (*resource_remove)(struct mcpd_plugin *self, const char *uri);

	/*
	 * Tell subscribed MCP clients that resource `uri` changed
	 * (notifications/resources/updated to each legacy session that sent
	 * resources/subscribe for it). `uri` need not be one this plugin
	 * declared as a static resource: a URI matching its template works
	 * too. 0 even when nobody is subscribed; MCPD_E_INVAL without uri.
	 */
	int (*resource_updated)(struct mcpd_plugin *self, const char *uri);

	/*
	 * Offer prompt def->name ([A-Za-z0-9_.-], at most 64 bytes; unique
	 * across plugins: MCPD_E_EXISTS). Errors: MCPD_E_INVAL (bad name, no
	 * get), MCPD_E_SCHEMA (arguments text that is not a JSON array of
	 * {"name", "description"?, "required"?} objects).
	 */
	int (*prompt_add)(struct mcpd_plugin *self,
	                  const struct mcpd_prompt_def *def);

	/* Withdraw a prompt; MCPD_E_NOTFOUND if this plugin has none. */
	int (*prompt_remove)(struct mcpd_plugin *self, const char *name);
};

/*
 * ABI 1.2: what resource_add and resource_template_add declare. Strings
 * are copied by the host; the struct may live on the stack.
 *
 * The callbacks run on the loop thread and must not block: serve what is
 * in memory (or in the kv space), and put slow work in a capability.
 */
struct mcpd_resource_def {
	uint32_t size;           /* sizeof(struct mcpd_resource_def) */
	const char *uri;         /* the URI, or the template (see above) */
	const char *name;        /* required: a short programmatic name */
	const char *title;       /* for people; may be NULL */
	const char *description; /* may be NULL */
	const char *mime_type;   /* e.g. "text/plain"; may be NULL */
	/*
	 * Read the resource `uri` (borrowed). `vars` (borrowed) is an
	 * object of the template's variables by name, decoded from the URI
	 * ({} for a static resource). Return 0 with *contents set to a new
	 * reference the host takes: one content object
	 * {"text": "..."} or {"blob": "<base64>"}, optionally with
	 * "mimeType" (default: def->mime_type), or an array of them; "uri"
	 * defaults to `uri`. Return MCPD_E_NOTFOUND for a URI the template
	 * matches but that names nothing (the client gets MCP's resource-
	 * not-found error), MCPD_E_INVAL for a malformed one, any other
	 * MCPD_E_* for a failure (an internal error).
	 */
	int (*read)(const char *uri, const json_t *vars, json_t **contents,
	            void *ud);
	/*
	 * Templates only, may be NULL: suggest values for variable
	 * `argument` starting from the partial `value` (completion/complete).
	 * `context` (borrowed) holds the variables the client already chose
	 * ({} if none). Return a new reference to a JSON array of strings,
	 * best first (the host sends at most 100), or NULL for none.
	 */
	json_t *(*complete)(const char *argument, const char *value,
	                    const json_t *context, void *ud);
	void *ud; /* passed to the callbacks as is */
};

/*
 * ABI 1.2: what prompt_add declares. Strings are copied by the host; the
 * struct may live on the stack. Callbacks as for resources: loop thread,
 * never blocking.
 */
struct mcpd_prompt_def {
	uint32_t size;           /* sizeof(struct mcpd_prompt_def) */
	const char *name;
	const char *title;       /* may be NULL */
	const char *description; /* may be NULL */
	/*
	 * JSON text: an array of {"name": "...", "description": "...",
	 * "required": true|false}; NULL = no arguments. The host refuses a
	 * prompts/get that lacks a required argument, names an unknown one
	 * or gives a value that is not a string, before calling get.
	 */
	const char *arguments;
	/*
	 * Render the prompt with `args` (borrowed: an object of strings).
	 * Return 0 with *result set to a new reference the host takes: an
	 * array of messages ({"role": "user"|"assistant", "content": an MCP
	 * content block}), or an object {"messages": [...], "description":
	 * "..."}. MCPD_E_INVAL for arguments it cannot use (the client gets
	 * invalid params), another MCPD_E_* for a failure.
	 */
	int (*get)(const json_t *args, json_t **result, void *ud);
	/* May be NULL: complete argument `argument`; as for resources. */
	json_t *(*complete)(const char *argument, const char *value,
	                    const json_t *context, void *ud);
	void *ud;
};

/*
 * ABI 1.2: MCP content in a tool's result. A capability's result is
 * shown to MCP clients as text (its JSON) plus structuredContent. A
 * result object that has the member MCPD_RESULT_MCP_CONTENT, an array of
 * MCP content blocks -- {"type": "text", "text"}, {"type": "image" or
 * "audio", "data": base64, "mimeType"}, {"type": "resource", "resource":
 * {"uri", "mimeType"?, "text" or "blob"}}, {"type": "resource_link",
 * "uri", "name", ...} -- is shown as those blocks instead; its other
 * members, if any, are the structuredContent. REST clients see the
 * result as stored, member included. A block the client's MCP revision
 * cannot carry (resource_link before 2025-06-18) is sent as text; a
 * malformed array makes the call an error result naming the bad block.
 */
#define MCPD_RESULT_MCP_CONTENT "_mcp_content"

/* File-descriptor events for io_start (ABI 1.2). */
#define MCPD_IO_READ 0x1u
#define MCPD_IO_WRITE 0x2u
/* Does the running host offer table member `member`? */
#define MCPD_HOST_HAS(host, member)                                          \
	((host)->size >= offsetof(struct mcpd_host, member) +                 \
	                     sizeof((host)->member) &&                         \
	 (host)->member != NULL)

#ifdef __cplusplus
}
#endif
#endif /* MCPD_PLUGIN_H */
