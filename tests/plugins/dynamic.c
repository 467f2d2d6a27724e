/*
 * ABI 1.2 at work (tests): capabilities declared and withdrawn at run time,
 * and fd watches on the loop.
 *
 *   dyn.control {"op": "add"|"remove", "name": N}  declares or withdraws
 *       "dyn.N", a loop capability answering {"name": N, "input": ...}
 *       after "delay_ms" (host timer).
 *   dyn.pipe {"text": T}  writes T into a pipe, reads it back from an
 *       io_start watch and answers {"text": T, "stale_stop": MCPD_E_*}
 *       (io_stop of a stopped watch must be refused).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mcpd/plugin.h>

static const struct mcpd_host *host;
static struct mcpd_plugin *plugin;

struct delayed {
	struct mcpd_task *task;
	char name[64];
};

static void dyn_finish(void *arg)
{
	struct delayed *dl = arg;
	host->task_complete(dl->task,
	                    json_pack("{s:s, s:O}", "name", dl->name, "input",
	                              host->task_input(dl->task)));
	free(dl);
}

static int dyn_handle(struct mcpd_task *task, void *ud)
{
	struct delayed *dl = calloc(1, sizeof *dl);
	if (!dl)
		return MCPD_E_NOMEM;
	dl->task = task;
	snprintf(dl->name, sizeof dl->name, "%s", (const char *)ud);
	json_int_t ms = json_integer_value(
		json_object_get(host->task_input(task), "delay_ms"));
	if (!host->timer_start(plugin, (uint32_t)ms, dyn_finish, dl)) {
		free(dl);
		return MCPD_E_FAILED;
	}
	return 0;
}

/* The names handed to capability_add as ud: static, they outlive any
 * attempt of this generation. */
static char names[16][32];

static int control_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	const json_t *in = host->task_input(task);
	const char *op = json_string_value(json_object_get(in, "op"));
	const char *name = json_string_value(json_object_get(in, "name"));
	char cap[64];
	snprintf(cap, sizeof cap, "dyn.%s", name);
	int rc;
	if (strcmp(op, "add") == 0) {
		size_t i = 0;
		while (i < 16 && names[i][0] && strcmp(names[i], name))
			i++;
		if (i == 16)
			return host->task_fail(task, "full", "16 names at most");
		snprintf(names[i], sizeof names[i], "%s", name);
		struct mcpd_capability_def def = {
			.size = sizeof(def),
			.name = cap,
			.version = "1.0",
			.input_schema = "{\"type\":\"object\",\"properties\":"
			                "{\"delay_ms\":{\"type\":\"integer\","
			                "\"minimum\":0}}}",
			.max_concurrency = 4,
			.handler = dyn_handle,
			.ud = names[i],
		};
		rc = host->capability_add(plugin, &def);
	} else {
		rc = host->capability_remove(plugin, cap);
	}
	return host->task_complete(task, json_pack("{s:i, s:s}", "rc", rc,
	                                           "error", host->strerror(rc)));
}

struct piped {
	struct mcpd_task *task;
	int rd, wr;
	struct mcpd_io *io;
	char buf[4096];
	size_t len;
};

static void on_readable(int fd, unsigned events, void *arg)
{
	struct piped *pp = arg;
	if (!(events & MCPD_IO_READ))
		return;
	ssize_t n = read(fd, pp->buf + pp->len, sizeof pp->buf - 1 - pp->len);
	if (n > 0) {
		pp->len += (size_t)n;
		return;
	}
	/* EOF (or error): stop, then check a stale stop is refused. */
	host->io_stop(pp->io);
	int stale = host->io_stop(pp->io);
	pp->buf[pp->len] = '\0';
	host->task_complete(pp->task, json_pack("{s:s, s:i}", "text", pp->buf,
	                                        "stale_stop", stale));
	close(pp->rd);
	free(pp);
}

static int pipe_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	const char *text = json_string_value(
		json_object_get(host->task_input(task), "text"));
	struct piped *pp = calloc(1, sizeof *pp);
	int fds[2];
	if (!pp || pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(pp);
		return MCPD_E_FAILED;
	}
	pp->task = task;
	pp->rd = fds[0];
	pp->wr = fds[1];
	pp->io = host->io_start(plugin, pp->rd, MCPD_IO_READ, on_readable, pp);
	if (!pp->io) {
		close(fds[0]);
		close(fds[1]);
		free(pp);
		return MCPD_E_FAILED;
	}
	size_t len = strlen(text);
	if (len > sizeof pp->buf - 1)
		len = sizeof pp->buf - 1;
	ssize_t w = write(pp->wr, text, len);
	close(pp->wr);
	return w == (ssize_t)len ? 0 : MCPD_E_FAILED;
}

static int dyn_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	host = h;
	plugin = self;
	if (!MCPD_HOST_HAS(h, capability_remove) || !MCPD_HOST_HAS(h, io_start))
		return MCPD_E_STATE;
	struct mcpd_capability_def control = {
		.size = sizeof(control),
		.name = "dyn.control",
		.version = "1.0",
		.input_schema = "{\"type\":\"object\",\"required\":[\"op\",\"name\"],"
		                "\"properties\":{\"op\":{\"enum\":[\"add\",\"remove\"]},"
		                "\"name\":{\"type\":\"string\",\"pattern\":"
		                "\"^[a-z]{1,16}$\"}}}",
		.handler = control_handle,
	};
	struct mcpd_capability_def piped = {
		.size = sizeof(piped),
		.name = "dyn.pipe",
		.version = "1.0",
		.input_schema = "{\"type\":\"object\",\"required\":[\"text\"],"
		                "\"properties\":{\"text\":{\"type\":\"string\"}}}",
		.handler = pipe_handle,
	};
	int rc = h->capability_add(self, &control);
	return rc ? rc : h->capability_add(self, &piped);
}

MCPD_PLUGIN("dynamic", "1.0.0",
            "Run-time capabilities and fd watches (ABI 1.2 tests)", 0,
            dyn_init, NULL)
