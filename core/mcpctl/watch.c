/*
 * Following a task's events (GET /v1/tasks/ID/events). The daemon replays
 * every past event and then follows live, ending after the final status.
 * If the stream breaks first (daemon restart, proxy timeout), we reconnect:
 * the replay repeats events already shown, so those with a seq we have seen
 * are skipped, and the task itself is checked in case it finished while we
 * were away.
 */
#include "mcpctl-internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 24
#define BAR_REDRAW_MS 50     /* a busy task must not flood the terminal */
#define MAX_IDLE_RECONNECTS 5

struct watcher {
	struct ctl *ctl;
	const struct watch_opts *o;
	long long last_seq;
	json_t *final;
	/* what the bar shows */
	char status[32];
	json_t *progress;
	long long drawn_at;
	int drawn;
};

/* ---- the single-line progress bar ---- */

static volatile sig_atomic_t bar_fd = -1;
static struct sigaction old_int, old_term;

/* Leave the shell prompt on a fresh line when interrupted mid-bar. */
static void on_signal(int sig)
{
	if (bar_fd >= 0 && write(bar_fd, "\n", 1) < 0)
		bar_fd = -1;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	raise(sig);
}

static void bar_signals(int fd)
{
	struct sigaction sa = { .sa_handler = on_signal };

	bar_fd = fd;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* A signal the shell told us to ignore stays ignored. */
	if (old_int.sa_handler == SIG_IGN)
		sigaction(SIGINT, &old_int, NULL);
	if (old_term.sa_handler == SIG_IGN)
		sigaction(SIGTERM, &old_term, NULL);
}

static void bar_signals_restore(void)
{
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	bar_fd = -1;
}

static int term_columns(FILE *f)
{
	struct winsize ws;

	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		return ws.ws_col;
	return 80;
}

static void bar_progress(struct buf *b, const json_t *p)
{
	double done = json_number_value(json_object_get(p, "done"));
	const json_t *total = json_object_get(p, "total");
	const char *msg = jstr(p, "message");
	double t = json_number_value(total);

	if (json_is_number(total) && t > 0) {
		double frac = done / t < 0 ? 0 : done / t > 1 ? 1 : done / t;
		int fill = (int)(frac * BAR_WIDTH);

		buf_adds(b, "  [");
		for (int i = 0; i < BAR_WIDTH; i++)
			buf_adds(b, i < fill ? "#" : "-");
		buf_printf(b, "] %3d%%  %.15g/%.15g", (int)(frac * 100), done, t);
	} else {
		buf_printf(b, "  %.15g", done);
	}
	if (msg && *msg)
		buf_printf(b, "  %s", msg);
}

/* Cut to the terminal width: a wrapped line cannot be redrawn with \r. */
static void cut_to_width(struct buf *b, int columns)
{
	size_t cols = 0;

	for (size_t i = 0; i < b->len; i++) {
		if (((unsigned char)b->p[i] & 0xC0) == 0x80)
			continue;
		if (++cols == (size_t)columns) {
			b->p[i] = '\0';
			b->len = i;
			return;
		}
	}
}

static void bar_draw(struct watcher *w, const char *extra)
{
	FILE *f = w->o->out;
	struct buf b = { 0 };

	buf_printf(&b, "%-9s", w->status[0] ? w->status : "waiting");
	if (json_is_number(json_object_get(w->progress, "done")))
		bar_progress(&b, w->progress);
	if (extra)
		buf_printf(&b, "  %s", extra);
	cut_to_width(&b, term_columns(f));
	fprintf(f, "\r%s\033[K", buf_str(&b));
	fflush(f);
	buf_free(&b);
	open_line_set(f);
	w->drawn = 1;
	w->drawn_at = now_ms();
}

static void bar_event(struct watcher *w, const char *type, json_t *data)
{
	if (strcmp(type, "status") == 0 && jstr(data, "status"))
		snprintf(w->status, sizeof w->status, "%s", jstr(data, "status"));
	else if (strcmp(type, "progress") == 0) {
		json_decref(w->progress);
		w->progress = json_incref(data);
	} else {
		return;
	}
	if (!w->drawn || now_ms() - w->drawn_at >= BAR_REDRAW_MS ||
	    strcmp(type, "status") == 0)
		bar_draw(w, NULL);
}

static void bar_finish(struct watcher *w)
{
	FILE *f = w->o->out;
	char *err;

	if (!w->o->keep_bar) {
		if (w->drawn)
			fputs("\r\033[K", f);
		fflush(f);
		open_line_set(NULL);
		return;
	}
	err = w->final ? error_text(json_object_get(w->final, "error")) : NULL;
	bar_draw(w, err);
	open_line_end();
	free(err);
}

/* ---- one line per event ---- */

static void line_event(struct watcher *w, const char *type, json_t *data)
{
	FILE *f = w->o->out;
	const char *time = jstr(data, "time");
	struct buf b = { 0 };
	char *text;

	if (strcmp(type, "progress") == 0) {
		text = jtext(json_object_get(data, "done"));
		buf_adds(&b, text);
		free(text);
		if (json_is_number(json_object_get(data, "total"))) {
			text = jtext(json_object_get(data, "total"));
			buf_printf(&b, "/%s", text);
			free(text);
		}
		if (jstr(data, "message"))
			buf_printf(&b, "  %s", jstr(data, "message"));
	} else if (strcmp(type, "status") == 0) {
		text = error_text(json_object_get(data, "error"));
		buf_adds(&b, jstr(data, "status") ? jstr(data, "status") : "?");
		if (text)
			buf_printf(&b, "  %s", text);
		free(text);
	} else {
		text = jtext(data);
		buf_adds(&b, text);
		free(text);
	}
	fprintf(f, "%s %-8s %s\n", time ? time : "-", type, buf_str(&b));
	fflush(f);
	buf_free(&b);
}

/* ---- events ---- */

static long long event_seq(const struct sse_event *ev, const json_t *data)
{
	const json_t *seq = json_object_get(data, "seq");

	if (json_is_integer(seq))
		return json_integer_value(seq);
	return *ev->id ? strtoll(ev->id, NULL, 10) : 0;
}

/* Show one event's data; 1 when it makes the task final. */
static int handle(struct watcher *w, const char *type, json_t *data)
{
	switch (w->o->mode) {
	case WATCH_NDJSON:
		json_dumpf(data, w->o->out, JSON_COMPACT | JSON_ENCODE_ANY);
		fputc('\n', w->o->out);
		fflush(w->o->out);
		break;
	case WATCH_LINES:
		line_event(w, type, data);
		break;
	case WATCH_BAR:
		bar_event(w, type, data);
		break;
	}
	if (strcmp(type, "status") != 0 || !status_is_final(jstr(data, "status")))
		return 0;
	w->final = json_incref(data);
	return 1;
}

static int on_event(const struct sse_event *ev, void *ud)
{
	struct watcher *w = ud;
	json_t *data = json_loads(ev->data, 0, NULL);
	long long seq;
	const char *type;
	int rc = 0;

	/* Not an mcpd event (a proxy's keep-alive, say): nothing to show. */
	if (!json_is_object(data))
		goto out;
	seq = event_seq(ev, data);
	if (seq > 0 && seq <= w->last_seq)
		goto out;
	if (seq > 0)
		w->last_seq = seq;
	type = jstr(data, "type") ? jstr(data, "type") : ev->type;
	rc = handle(w, type, data);
out:
	json_decref(data);
	return rc;
}

/*
 * Read one connection's events. EXIT_OK once the task is final, -1 when
 * the stream ended first, or an exit code when it could not be opened.
 */
static int stream_once(struct watcher *w, const char *path)
{
	char last[32], chunk[4096];
	struct http_conn *c;
	struct sse p = { 0 };
	ssize_t n;
	int rc = 0;

	snprintf(last, sizeof last, "%lld", w->last_seq);
	c = api_stream(w->ctl, path, w->last_seq ? last : NULL, &rc);
	if (!c)
		return rc;
	while (!rc && (n = http_read(c, chunk, sizeof chunk)) > 0)
		rc = sse_feed(&p, chunk, (size_t)n, on_event, w);
	sse_free(&p);
	http_conn_free(c);
	if (rc < 0) {
		warnx("event stream line too long");
		return EXIT_SERVER;
	}
	return w->final ? EXIT_OK : -1;
}

/* After the stream broke: did the task finish meanwhile? */
static int check_task(struct watcher *w, const char *id)
{
	struct buf path = { 0 };
	json_t *task = NULL, *ev;
	int rc;

	buf_adds(&path, "/v1/tasks/");
	url_encode(&path, id);
	rc = api_call(w->ctl, "GET", buf_str(&path), NULL, API_TIMEOUT_MS, NULL,
	              &task);
	buf_free(&path);
	if (rc != EXIT_OK || !status_is_final(jstr(task, "status")))
		goto out;
	ev = json_pack("{s:s, s:O?}", "status", jstr(task, "status"),
	               "error", json_object_get(task, "error"));
	json_object_set_new(ev, "type", json_string("status"));
	handle(w, "status", ev);
	json_decref(ev);
out:
	json_decref(task);
	return rc;
}

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	                       .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int follow(struct watcher *w, const char *id, const char *path)
{
	int idle = 0;

	for (;;) {
		long long before = w->last_seq;
		int rc = stream_once(w, path);

		if (rc != -1)
			return rc;
		rc = check_task(w, id);
		if (rc != EXIT_OK || w->final)
			return rc;
		idle = w->last_seq > before ? 0 : idle + 1;
		if (idle == MAX_IDLE_RECONNECTS) {
			warnx("the event stream of task %s keeps ending before the "
			      "task finishes", id);
			return EXIT_SERVER;
		}
		pause_ms(1000L * idle);
	}
}

int watch_task(struct ctl *ctl, const char *id, const struct watch_opts *o,
               json_t **final)
{
	struct watcher w = { .ctl = ctl, .o = o };
	struct buf path = { 0 };
	int rc;

	buf_adds(&path, "/v1/tasks/");
	url_encode(&path, id);
	buf_adds(&path, "/events");
	if (o->mode == WATCH_BAR)
		bar_signals(fileno(o->out));
	rc = follow(&w, id, buf_str(&path));
	if (o->mode == WATCH_BAR) {
		if (rc == EXIT_OK)
			bar_finish(&w);
		else
			open_line_end();
		bar_signals_restore();
	}
	buf_free(&path);
	json_decref(w.progress);
	*final = w.final;
	return rc;
}
