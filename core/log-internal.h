/* Structured logs: one JSON object a line on stderr. */
#ifndef MCPD_LOG_INTERNAL_H
#define MCPD_LOG_INTERNAL_H

#include <stdarg.h>

/* Same numbering as enum mcpd_log_level in plugin.h. */
enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Parse "error", "warn", "info", "debug"; -1 if none of them. */
int log_level_parse(const char *s);
void log_set_level(int level);
int log_enabled(int level);

/*
 * Write one line {"time","level","msg", "plugin"?, "task"?}. plugin and
 * task may be NULL. Thread-safe: one write(2) a line.
 */
void log_msg(int level, const char *plugin, const char *task,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_vmsg(int level, const char *plugin, const char *task,
              const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_ERROR, NULL, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, NULL, NULL, __VA_ARGS__)

#endif
