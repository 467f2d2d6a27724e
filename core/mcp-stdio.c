/*
 * The MCP stdio transport (`mcpd --stdio`): one JSON-RPC message per line
 * on stdin and stdout, logs on stderr, and end of input stops the daemon
 * the way SIGTERM does (drain, commit, exit 0).
 */
#include "mcp-internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log-internal.h"
#include "mcpd-internal.h"

/* Stop reading requests while this much output waits for a client that
 * does not read its answers; read again below the low mark. */
#define OUT_HIGH (16u << 20)
#define OUT_LOW (1u << 20)
/* How long the last answers may take to leave at exit. */
#define FINAL_FLUSH_MS 2000

struct mcp_stdio {
	struct mcpd *d;
	struct mcp_conn *conn;
	int in_fd, out_fd;
	int in_flags, out_flags; /* as found, restored at exit; -1: untouched */
	struct event *in_ev, *out_ev;
	struct evbuffer *in, *out;
	int in_pollable; /* in_ev watches in_fd; else it is activated by hand */
	int skipping;    /* dropping the rest of an oversized line */
	int eof, out_dead, paused;
};

static void input_ended(struct mcp_stdio *s, const char *why)
{
	if (s->eof)
		return;
	s->eof = 1;
	event_del(s->in_ev);
	mcpd_stop(s->d, why);
}

static void output_dead(struct mcp_stdio *s)
{
	log_warn("stdout: %s; the MCP client is gone", strerror(errno));
	s->out_dead = 1;
	evbuffer_drain(s->out, evbuffer_get_length(s->out));
	input_ended(s, "stdout closed");
}

static void read_more(struct mcp_stdio *s)
{
	if (s->eof || s->paused)
		return;
	if (s->in_pollable)
		event_add(s->in_ev, NULL);
	else
		event_active(s->in_ev, EV_READ, 0);
}

static void flush(struct mcp_stdio *s)
{
	while (!s->out_dead && evbuffer_get_length(s->out)) {
		int n = evbuffer_write(s->out, s->out_fd);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			event_add(s->out_ev, NULL);
		else
			output_dead(s);
		break;
	}
	size_t left = evbuffer_get_length(s->out);
	if (!s->paused && left > OUT_HIGH) {
		s->paused = 1;
		if (s->in_pollable)
			event_del(s->in_ev);
	} else if (s->paused && left < OUT_LOW) {
		s->paused = 0;
		read_more(s);
	}
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush(arg);
}

static void stdio_send(struct mcp_conn *c, json_t *msg, const json_t *related,
                       void *ud)
{
	(void)c;
	(void)related; /* one stream carries everything */
	struct mcp_stdio *s = ud;
	/* Compact output escapes every control character in strings, so a
	 * message never spans lines. */
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text || s->out_dead) {
		free(text);
		return;
	}
	evbuffer_add(s->out, text, strlen(text));
	evbuffer_add(s->out, "\n", 1);
	free(text);
	flush(s);
}

static void handle_line(struct mcp_stdio *s, const char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	size_t blank = 0;
	while (blank < len && (line[blank] == ' ' || line[blank] == '\t'))
		blank++;
	if (blank < len) /* blank lines separate nothing: skip them */
		mcp_conn_receive(s->conn, line, len);
}

/* Every complete line in the input buffer; at end of input the rest too
 * (a last message may lack its newline). */
static void take_lines(struct mcp_stdio *s, int at_eof)
{
	size_t max = s->d->cfg.max_body_bytes;
	while (evbuffer_get_length(s->in)) {
		struct evbuffer_ptr nl = evbuffer_search(s->in, "\n", 1, NULL);
		size_t have = evbuffer_get_length(s->in);
		size_t len = nl.pos >= 0 ? (size_t)nl.pos : have;
		if (nl.pos < 0 && !at_eof && have <= max)
			return; /* wait for the rest of the line */
		if (len > max && !s->skipping)
			mcp_conn_too_large(s->conn, max);
		if (len > max || s->skipping) {
			/* Drop up to the newline; without one, keep dropping
			 * what follows until it comes. */
			s->skipping = nl.pos < 0;
			evbuffer_drain(s->in, nl.pos >= 0 ? len + 1 : have);
			continue;
		}
		const char *line = len ? (const char *)evbuffer_pullup(
			s->in, (ssize_t)len) : NULL;
		if (line)
			handle_line(s, line, len);
		evbuffer_drain(s->in, nl.pos >= 0 ? len + 1 : len);
	}
}

static void on_input(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mcp_stdio *s = arg;
	if (s->eof)
		return;
	int n = evbuffer_read(s->in, s->in_fd, 65536);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		if (n < 0)
			log_warn("stdin: %s", strerror(errno));
		take_lines(s, 1);
		input_ended(s, "end of input on stdin");
		return;
	}
	take_lines(s, 0);
	if (!s->in_pollable)
		read_more(s);
}

/* Non-blocking pipes and sockets, so a slow client never stalls the loop.
 * A terminal or a file is left alone: its flags are shared with others. */
static int make_nonblocking(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return -1;
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	return flags;
}

/* Keep the real stdin and stdout to ourselves: fd 0 becomes /dev/null and
 * fd 1 a copy of stderr, so a plugin's printf cannot corrupt the stream. */
static int take_fds(struct mcp_stdio *s)
{
	fflush(stdout);
	s->in_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	s->out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->in_fd < 0 || s->out_fd < 0 || null < 0 ||
	    dup2(null, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		if (null >= 0)
			close(null);
		return -1;
	}
	close(null);
	s->in_flags = make_nonblocking(s->in_fd);
	s->out_flags = make_nonblocking(s->out_fd);
	return 0;
}

int mcp_stdio_start(struct mcpd *d)
{
	struct mcp_stdio *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	d->mcp_stdio = s;
	s->d = d;
	s->in_fd = s->out_fd = -1;
	s->in_flags = s->out_flags = -1;
	if (take_fds(s) < 0) {
		fprintf(stderr, "mcpd: --stdio: cannot take over stdin and "
		        "stdout: %s\n", strerror(errno));
		return -1;
	}
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	s->conn = d->mcp ? mcp_conn_new(d->mcp, stdio_send, s) : NULL;
	s->out_ev = event_new(d->base, s->out_fd, EV_WRITE, on_output, s);
	s->in_ev = event_new(d->base, s->in_fd, EV_READ | EV_PERSIST, on_input, s);
	if (!s->in || !s->out || !s->conn || !s->out_ev || !s->in_ev)
		return -1;
	s->in_pollable = event_add(s->in_ev, NULL) == 0;
	if (!s->in_pollable) {
		/* A regular file or /dev/null: epoll refuses them, and their
		 * reads never block, so read a chunk each time round. */
		event_free(s->in_ev);
		s->in_ev = event_new(d->base, -1, 0, on_input, s);
		if (!s->in_ev)
			return -1;
		event_active(s->in_ev, EV_READ, 0);
	}
	log_info("serving MCP on stdio (newline-delimited JSON-RPC)");
	return 0;
}

size_t mcp_stdio_unflushed(const struct mcp_stdio *s)
{
	return s && !s->out_dead ? evbuffer_get_length(s->out) : 0;
}

/* The loop has stopped: write what is left, waiting a bounded time. */
static void final_flush(struct mcp_stdio *s)
{
	int waited = 0;
	while (!s->out_dead && evbuffer_get_length(s->out) &&
	       waited < FINAL_FLUSH_MS) {
		struct pollfd p = {s->out_fd, POLLOUT, 0};
		if (poll(&p, 1, 50) == 0) {
			waited += 50;
			continue;
		}
		int n = evbuffer_write(s->out, s->out_fd);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
	}
}

void mcp_stdio_free(struct mcp_stdio *s)
{
	if (!s)
		return;
	mcp_conn_free(s->conn);
	if (s->out)
		final_flush(s);
	if (s->in_ev)
		event_free(s->in_ev);
	if (s->out_ev)
		event_free(s->out_ev);
	if (s->in)
		evbuffer_free(s->in);
	if (s->out)
		evbuffer_free(s->out);
	if (s->in_flags >= 0)
		fcntl(s->in_fd, F_SETFL, s->in_flags);
	if (s->out_flags >= 0)
		fcntl(s->out_fd, F_SETFL, s->out_flags);
	if (s->in_fd >= 0)
		close(s->in_fd);
	if (s->out_fd >= 0)
		close(s->out_fd);
	free(s);
}
