/*
 * mcpctl: the mcpd command-line client. Private to core/mcpctl.
 *
 * Depends only on libc and jansson: a small blocking HTTP/1.1 client
 * (client.c), a Server-Sent Events parser (sse.c), the REST layer that turns
 * answers into JSON or exit codes (api.c), human output (output.c), event
 * following for `watch` and `submit --wait` (watch.c) and the commands
 * (commands.c for tasks, info.c for the rest). Allocation failures end the process (util.c), so callers
 * never check for NULL from x*() or jansson constructors.
 */
#ifndef MCPCTL_INTERNAL_H
#define MCPCTL_INTERNAL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <jansson.h>

#ifndef MCPD_VERSION
#define MCPD_VERSION "0.0.0-dev"
#endif

/* The exit codes are part of the documented interface (README "mcpctl"). */
enum {
	EXIT_OK = 0,
	EXIT_TASK = 1,     /* the task failed, was cancelled or timed out */
	EXIT_USAGE = 2,
	EXIT_CONNECT = 3,  /* cannot connect, or the connection broke */
	EXIT_SERVER = 4,   /* the server answered an error */
	EXIT_NOMEM = 70,   /* sysexits' EX_SOFTWARE: out of memory */
	EXIT_IO = 74,      /* EX_IOERR: standard output could not be written */
};

/* ---- util.c ---- */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "mcpctl: <message>\n" on stderr. */
void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A line on a terminal that is being redrawn with '\r' (the progress bar):
 * warnx() ends it first. open_line_end() ends it now; NULL clears it.
 */
void open_line_set(FILE *f);
void open_line_end(void);
/* warnx(), then EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer, always NUL-terminated once anything was added. */
struct buf {
	char *p;
	size_t len, cap;
};
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The contents as a C string ("" when empty); stays owned by b. */
const char *buf_str(struct buf *b);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

/* Milliseconds from a monotonic clock. */
long long now_ms(void);

/* ---- client.c: URLs and HTTP/1.1 ---- */
struct url {
	char *text;    /* as given, without trailing '/', for messages */
	char *host;    /* without IPv6 brackets */
	char *port;
	char *hostport; /* the Host header: "[::1]:8080" */
	char *prefix;  /* "" or "/prefix", no trailing '/' */
};
/* 0, or -1 with *err a malloc'd reason. */
int url_parse(const char *text, struct url *u, char **err);
void url_free(struct url *u);
/* Percent-encode everything but RFC 3986 unreserved characters. */
void url_encode(struct buf *b, const char *s);

struct http_request {
	const char *method;
	const char *path;          /* appended to the URL's prefix */
	const char *accept;        /* NULL: application/json */
	const char *auth;          /* bearer token or NULL */
	const char *last_event_id; /* NULL: none */
	const char *body;          /* NULL: no body */
	size_t body_len;
	int timeout_ms;            /* per network wait; -1 waits forever */
};

struct http_conn;
struct http_conn *http_conn_new(const struct url *u);
/* Connect, send, read the status line and headers. 0, or -1 (http_error). */
int http_open(struct http_conn *c, const struct http_request *req);
/* Next bytes of the decoded body: >0, 0 at its end, -1 (http_error). */
ssize_t http_read(struct http_conn *c, char *p, size_t cap);
/* The rest of the body into b. 0 or -1 (http_error). */
int http_read_all(struct http_conn *c, struct buf *b);
int http_status(const struct http_conn *c);
const char *http_reason(const struct http_conn *c);
const char *http_retry_after(const struct http_conn *c); /* NULL if absent */
/* Why the last call failed, a full sentence without "mcpctl: ". */
const char *http_error(const struct http_conn *c);
void http_conn_free(struct http_conn *c);

/* ---- sse.c: text/event-stream parsing ---- */
struct sse_event {
	const char *type;  /* the "event" field, "message" by default */
	const char *data;  /* "data" lines joined by '\n' */
	const char *id;    /* last "id" seen on the stream, "" if none */
};
/* Called for each event; a nonzero return stops the feed and is returned. */
typedef int (*sse_fn)(const struct sse_event *ev, void *ud);

struct sse {
	struct buf line, type, data, id;
	int has_data;
	int after_cr;
};
/* 0, the callback's nonzero value, or -1 on a line over the size limit. */
int sse_feed(struct sse *p, const char *s, size_t n, sse_fn fn, void *ud);
void sse_free(struct sse *p);

/* ---- api.c: the REST API ---- */
struct ctl {
	struct url url;
	int json;             /* --json: raw server JSON for scripts */
	const char *api_key;  /* MCPD_API_KEY, sent as a bearer token */
};

/* Default per-wait network timeout for ordinary requests. */
#define API_TIMEOUT_MS 60000

/*
 * One request with an optional JSON body; *out gets the parsed answer of a
 * 2xx and *status its code (either may be NULL). Returns EXIT_OK, or
 * EXIT_CONNECT / EXIT_SERVER after printing one line on stderr.
 */
int api_call(struct ctl *ctl, const char *method, const char *path,
             json_t *body, int timeout_ms, int *status, json_t **out);
/*
 * Like api_call, but any status is returned with its body parsed (or NULL
 * when not JSON); only EXIT_CONNECT is an error. For /healthz and /readyz.
 */
int api_probe(struct ctl *ctl, const char *path, int *status, json_t **out);
/*
 * GET an event stream. Returns the open connection positioned at the body,
 * or NULL with *rc EXIT_CONNECT or EXIT_SERVER (message printed).
 */
struct http_conn *api_stream(struct ctl *ctl, const char *path,
                             const char *last_event_id, int *rc);

/* ---- output.c ---- */
struct table;
struct table *table_new(int ncols, const char *const *headers);
/* Copies the cells; NULL cells print as "-". */
void table_add(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* Pretty JSON, indent 2, newline-terminated. */
void print_json(FILE *f, const json_t *v);
/* The task as aligned "key: value" lines. */
void print_task(FILE *f, const json_t *task);
/* obj[key] if it is a string, else NULL. */
const char *jstr(const json_t *obj, const char *key);
/* A scalar as text, anything else as compact JSON; malloc'd. */
char *jtext(const json_t *v);
/* "code: message" of an {"code","message"} object; malloc'd, NULL if none. */
char *error_text(const json_t *err);
/* Display width of UTF-8 text in columns (one per code point). */
size_t text_width(const char *s);

/* ---- watch.c: following a task's events ---- */
enum watch_mode {
	WATCH_LINES,  /* one human line per event */
	WATCH_NDJSON, /* each event's JSON on its own line */
	WATCH_BAR,    /* a single redrawn progress line on a terminal */
};
struct watch_opts {
	FILE *out;
	enum watch_mode mode;
	int keep_bar; /* leave the final bar on screen (else erase it) */
};
/*
 * Follow the task's events until it is final, reconnecting if the stream
 * breaks. *final gets a new reference to the last status event's data
 * (with "status" and maybe "error"). Returns EXIT_OK or an error exit code.
 */
int watch_task(struct ctl *ctl, const char *id, const struct watch_opts *o,
               json_t **final);

/* ---- commands.c (tasks) and info.c (plugins, capabilities, health) ---- */
enum opt {
	OPT_URL, OPT_JSON, OPT_HELP, OPT_VERSION,
	OPT_WAIT, OPT_PRIORITY, OPT_TIMEOUT_MS, OPT_RETRIES, OPT_MATCH,
	OPT_IDEMPOTENCY_KEY,
	OPT_STATUS, OPT_CAPABILITY, OPT_LIMIT, OPT_CURSOR, OPT_ALL,
	OPT_COUNT
};

#define MAX_POSITIONAL 2

struct args {
	const char *opt[OPT_COUNT];  /* value, "" for flags, NULL if absent */
	const char *pos[MAX_POSITIONAL];
	int npos;
};

int cmd_submit(struct ctl *ctl, const struct args *a);
int cmd_get(struct ctl *ctl, const struct args *a);
int cmd_list(struct ctl *ctl, const struct args *a);
int cmd_cancel(struct ctl *ctl, const struct args *a);
int cmd_watch(struct ctl *ctl, const struct args *a);
int cmd_plugins(struct ctl *ctl, const struct args *a);
int cmd_capabilities(struct ctl *ctl, const struct args *a);
int cmd_health(struct ctl *ctl, const struct args *a);
int cmd_reload(struct ctl *ctl, const struct args *a);

/* Task status helpers shared by commands and watch. */
int status_is_final(const char *status);
/* EXIT_TASK for failed, cancelled, timed_out; else EXIT_OK. */
int status_exit(const char *status);

#endif
