/*
 * The result object of a run and its "enforced" report.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "sandbox-common.h"
#include "sandbox-internal.h"

const char *sbx_signal_name(int sig)
{
	static const struct {
		int sig;
		const char *name;
	} names[] = {
		{SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},     {SIGQUIT, "SIGQUIT"},
		{SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"},   {SIGABRT, "SIGABRT"},
		{SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},     {SIGKILL, "SIGKILL"},
		{SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"},   {SIGUSR2, "SIGUSR2"},
		{SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},   {SIGTERM, "SIGTERM"},
		{SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"},   {SIGSTOP, "SIGSTOP"},
		{SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},   {SIGTTOU, "SIGTTOU"},
		{SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"},   {SIGXFSZ, "SIGXFSZ"},
		{SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"},
		{SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},     {SIGPWR, "SIGPWR"},
		{SIGSYS, "SIGSYS"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].sig == sig)
			return names[i].name;
	return NULL;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

json_t *sbx_json_text(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	char *out;
	size_t o = 0;
	json_t *j;

	if (!buf)
		return json_string("");
	/* Worst case every byte becomes the 3-byte U+FFFD. */
	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t l = utf8_len(s + i, len - i);

		if (l) {
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(out, o);
	free(out);
	return j;
}

json_t *sbx_enforced_new(int isolated, int network,
                         const struct sbx_limits *l)
{
	json_t *lim = json_object(), *e;

	for (int i = 0; sbx_limit_name(i); i++)
		json_object_set_new(
			lim, sbx_limit_name(i),
			json_integer(*sbx_limit_field((struct sbx_limits *)l, i)));
	e = json_pack("{sbsbs[]sbsbsbsbss s[]s[]s[]snsnsnsos[]}",
	              "isolated", isolated, "dedicated_uid", 0,
	              "namespaces",
	              "no_new_privs", 0, "caps_dropped", 0, "seccomp", 0,
	              "landlock", 0, "network", network ? "host" : "none",
	              "memory", "pids", "cpu",
	              "file", "work_dir_bytes", "tmp_bytes",
	              "limits", lim, "missing");
	return e;
}

void sbx_enforced_add(json_t *enf, const char *key, const char *word)
{
	json_t *a = json_object_get(enf, key);

	if (!json_is_array(a)) {
		a = json_array();
		if (json_object_set_new(enf, key, a) < 0)
			return;
	}
	json_array_append_new(a, json_string(word));
}

void sbx_enforced_missing(json_t *enf, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sbx_enforced_add(enf, "missing", buf);
}

json_t *sbx_result_build(const struct sbx_watch *w, const char *driver,
                         int64_t cpu_ms, int64_t max_rss, json_t *files,
                         json_t *enforced)
{
	json_t *r;
	int st = w->wstatus, sig = 0;
	json_t *exit_code = json_null(), *signame = json_null();

	if (w->cg_last.cpu_ns >= 0)
		cpu_ms = w->cg_last.cpu_ns / 1000000;
	if (w->cg_last.mem_peak > 0)
		max_rss = w->cg_last.mem_peak;
	if (WIFEXITED(st)) {
		exit_code = json_integer(WEXITSTATUS(st));
	} else if (WIFSIGNALED(st)) {
		const char *n;

		sig = WTERMSIG(st);
		n = sbx_signal_name(sig);
		signame = n ? json_string(n) : json_sprintf("SIG%d", sig);
	}
	r = json_pack("{sosososbsbsIsIsIsossso}",
	              "exit_code", exit_code, "signal", signame,
	              "stdout", sbx_json_text(w->out.buf, w->out.len),
	              "stdout_truncated", w->out.truncated,
	              "stderr_truncated", w->err.truncated,
	              "wall_ms", (json_int_t)w->wall_ms,
	              "cpu_ms", (json_int_t)(cpu_ms < 0 ? 0 : cpu_ms),
	              "max_rss_bytes", (json_int_t)(max_rss < 0 ? 0 : max_rss),
	              "killed_by",
	              w->killed_by ? json_string(w->killed_by) : json_null(),
	              "driver", driver, "enforced", enforced);
	if (!r) {
		json_decref(files);
		return NULL;
	}
	json_object_set_new(r, "stderr", sbx_json_text(w->err.buf, w->err.len));
	if (files)
		json_object_set_new(r, "files", files);
	return r;
}
