/*
 * mcp-bridge: external MCP servers (and plugins configured with
 * "isolation": "process") as mcpd capabilities. Internal header.
 *
 * Everything here runs on the daemon's loop thread: pipes and sockets are
 * watched with host->io_start, timeouts and restarts use host timers, and
 * every capability handler is a loop handler that sends a tools/call and
 * finishes its task when the answer arrives. The plugin owns no threads.
 *
 * State is per generation (statics): a reload that changes the bridge's
 * config block loads a new generation, whose init starts its own children;
 * the old one's fini stops and reaps its children.
 *
 * Reloads and restarts: each server's last tool list is kept in the
 * plugin's kv space (cache.c), and init declares it at once, so the new
 * generation's capabilities are routable from the swap on. A call that
 * arrives before its server has listed its tools is parked (client.c) and
 * sent once the listing confirmed the tool, or failed when the server
 * does not come up in time.
 */
#ifndef MCP_BRIDGE_H
#define MCP_BRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <mcpd/plugin.h>

/* A growable byte buffer. */
struct buf {
	char *data;
	size_t len, cap;
};
int buf_add(struct buf *b, const void *p, size_t n);
void buf_drop(struct buf *b, size_t n); /* remove the first n bytes */
void buf_free(struct buf *b);

enum era { ERA_NONE, ERA_LEGACY, ERA_MODERN };

/* The error code of an answer the transport made up (the connection
 * failed, no answer came): says nothing about the server's era. */
#define TRANSPORT_ERROR -32099

enum srv_state {
	S_DOWN,     /* not running; a restart may be scheduled */
	S_PROBING,  /* server/discover sent */
	S_INIT,     /* initialize sent (legacy) */
	S_LISTING,  /* first tools/list in progress */
	S_READY,    /* its tools are capabilities */
	S_STOPPED,  /* given up on (bad config) or the plugin is stopping */
};

enum pend_kind { P_DISCOVER, P_INIT, P_LIST, P_CALL, P_LISTEN, P_OTHER };

/* A request sent to a server, waiting for its response; or (in the
 * server's parked list) a call waiting for the server to be ready, its
 * sent_ms the time it was parked. */
struct pending {
	int64_t id;
	enum pend_kind kind;
	struct mcpd_task *task; /* P_CALL: the task to finish */
	struct tool *tool;      /* P_CALL */
	int64_t sent_ms;
	struct pending *next;
};

struct server;

/* One tool of a server, and the capability that serves it. Kept (maybe
 * unregistered) until the server is freed: it is the handler's ud. */
struct tool {
	struct server *srv;
	char *name;  /* the server's tool name */
	char *cap;   /* the capability name */
	json_t *def; /* the tool as last listed (or as cached) */
	char *version; /* the capability version it was declared with */
	int registered;
	int open_schema; /* declared with {"type":"object"}: its schemas
	                    are not usable by mcpd */
	int cached;   /* declared from the cache, not yet confirmed by a
	                 listing of this generation's server */
	int seen;     /* in the server's last complete listing */
};

struct http_conn; /* http.c */
struct http_addr; /* http.c */

struct server {
	char *name;
	int isolated; /* a plugin run by mcpd-plugin-run: names unprefixed */
	/* stdio */
	char **argv; /* argv[0] resolved to a path at start */
	char **env;  /* "K=V" to add to the environment */
	char *cwd;
	char *config_file; /* isolated: the child's --config, removed at fini */
	/* http */
	char *url;
	struct http_addr *addr;
	json_t *headers; /* object: name -> expanded value */
	char *session_id;      /* Mcp-Session-Id (legacy HTTP) */
	struct http_conn *listen; /* the GET or subscriptions/listen stream */
	struct http_conn *conns;  /* requests in flight */

	enum srv_state state;
	enum era era;
	int legacy_cached; /* the probe found no modern server: skip it */
	char version[16];  /* the revision spoken */
	char *server_version; /* serverInfo.version */
	int64_t next_id;
	struct pending *pending;
	struct pending *parked; /* calls waiting for READY, oldest first */
	int ever_ready;         /* has listed its tools in this generation */
	json_t *cache;          /* its entry in the kv space, as last
	                           read or written */

	struct tool **tools;
	size_t ntools;
	json_t *listing; /* tools gathered across pages */
	int relist;      /* list_changed arrived during a listing */

	/* the process */
	pid_t pid;
	int in_fd, out_fd, err_fd;
	struct mcpd_io *in_io, *out_io, *err_io;
	struct buf inbuf, outbuf, errbuf; /* to the child, from it */
	int eof; /* stdout closed: reaping */
	int64_t eof_ms, started_ms, ready_ms;
	int killed; /* SIGKILL sent */
	char exit_why[128];

	/* supervision */
	unsigned restarts;
	uint32_t backoff_ms;
	struct mcpd_timer *restart_timer;
	int64_t state_ms; /* when the current state began */
};

/* The bridge of this generation. */
struct bridge {
	const struct mcpd_host *host;
	struct mcpd_plugin *self;
	struct server **servers;
	size_t nservers;
	struct mcpd_timer *tick;
	int64_t init_ms;
	int stopping; /* fini */
	int replaced; /* a reload replaced this generation: no restarts */
	/* config */
	uint32_t probe_timeout_ms;   /* server/discover unanswered: legacy */
	uint32_t start_timeout_ms;   /* to READY, else restart */
	uint32_t backoff_min_ms, backoff_max_ms;
	uint32_t max_concurrency;
	uint32_t call_timeout_ms;    /* HTTP requests (0: none) */
};

extern struct bridge g;

#define LOG(level, ...) g.host->log(g.self, (level), __VA_ARGS__)

int64_t mono_ms(void);

/* ---- client.c: the MCP client protocol over any transport ---- */
/* The transport is up: probe or initialize. */
void client_start(struct server *s);
/* One message from the server (borrowed). */
void client_receive(struct server *s, json_t *msg);
/* Send a request; its pending record (NULL on failure). */
struct pending *client_request(struct server *s, enum pend_kind kind,
                               const char *method, json_t *params);
/* Send a notification. Steals params. */
void client_notify(struct server *s, const char *method, json_t *params);
/* Timeouts of probes, starts and cancellations (every tick). */
void client_tick(struct server *s, int64_t now);
/* The server is gone: fail its calls with code/why, withdraw its
 * capabilities. */
void client_lost(struct server *s, const char *code, const char *why);
/* Free the tools and pending records (fini: no host calls on tasks). */
void client_free(struct server *s);
/* The capability handler. */
int client_call(struct mcpd_task *task, void *ud);
/* Declare tool `def` (borrowed, as listed by the server) from the
 * cache, as capability `cap` when that name is free, with the open
 * input schema if open_schema. 0; 1 if def has no name or one already
 * declared (skipped); or the host's error. */
int client_declare_cached(struct server *s, const json_t *def,
                          const char *cap, int open_schema);

/* ---- cache.c: each server's last tool list in the kv space ---- */
/* init: forget the entries of servers no longer configured, declare the
 * cached tools of the configured ones. 0, or the error of a refused
 * declaration (the entries are then deleted: the next load goes without
 * them). */
int cache_load(void);
/* A listing was reconciled: record it (written only if it changed). */
void cache_store(struct server *s);

/* ---- proc.c: stdio servers as supervised children ---- */
int proc_start(struct server *s);
/* Write one message (steals msg). */
int proc_send(struct server *s, json_t *msg);
/* Reap, kill stragglers (every tick). */
void proc_tick(struct server *s, int64_t now);
/* Stop the child now: the bridge decided (timeout, restart). */
void proc_kill(struct server *s, const char *why);
/* fini: stop every child, wait a little, SIGKILL, reap. */
void proc_stop_all(void);

/* ---- http.c: Streamable HTTP servers ---- */
int http_start(struct server *s);
int http_send(struct server *s, json_t *msg);
void http_tick(struct server *s, int64_t now);
void http_close_all(struct server *s, int from_fini);
/* Close the connection carrying request id: how a 2026-07-28 client
 * cancels over HTTP (there is no session to send a notification in). */
void http_cancel(struct server *s, int64_t id);

/* ---- bridge.c ---- */
/* The transport failed or the child was reaped: restart later. */
void bridge_server_down(struct server *s, const char *code, const char *why);
/* Send on whichever transport the server has (steals msg). */
int bridge_send(struct server *s, json_t *msg);
/* Expand ${VAR} from the environment; malloc'd. */
char *expand_env(const char *in);

#endif
