/* Structured logs: one JSON object a line on stderr, one write(2) each. */
#include "log-internal.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int current_level = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void log_set_level(int level)
{
	atomic_store(&current_level, level);
}

int log_enabled(int level)
{
	return level <= atomic_load(&current_level);
}

void log_vmsg(int level, const char *plugin, const char *task,
              const char *fmt, va_list ap)
{
	if (!log_enabled(level) || level < 0 || level > LOG_DEBUG)
		return;
	char msg[2048], stamp[40];
	vsnprintf(msg, sizeof msg, fmt, ap);

	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", (long)tv.tv_usec / 1000);

	json_t *o = json_pack("{s:s, s:s, s:s}", "time", stamp, "level",
	                      level_names[level], "msg", msg);
	if (!o)
		return;
	if (plugin)
		json_object_set_new(o, "plugin", json_string(plugin));
	if (task)
		json_object_set_new(o, "task", json_string(task));
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!line)
		return;
	size_t len = strlen(line);
	line[len] = '\n'; /* json_dumps leaves room: replace the NUL */
	ssize_t w = write(STDERR_FILENO, line, len + 1);
	(void)w;
	free(line);
}

void log_msg(int level, const char *plugin, const char *task,
             const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, plugin, task, fmt, ap);
	va_end(ap);
}
