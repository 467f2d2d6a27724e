/*
 * cmdcheck.c -- security.check_command: classify a shell command line
 * before anything runs it, and answer allow / deny / needs_approval.
 *
 * The line is parsed by shparse.c into simple commands. Each is unwrapped
 * (sudo, env, nice, xargs, find -exec...), classified by what its command
 * word does with its operands and redirections, and given reasons. A
 * reason has a level; the policy maps levels to verdicts:
 *
 *   L_INFO      allow                      ("ls: reads files")
 *   L_DEFAULT   the config's "default"     (unknown commands, network...)
 *   L_APPROVAL  needs_approval; an allow rule may allow it
 *   L_NEVER     needs_approval even when an allow rule matches
 *   L_DENY      deny; an allow rule may allow it (sudo, writes outside
 *               the allowed paths)
 *   L_HARD      deny, whatever the config says (rm -rf /, curl | sh...)
 *
 * A command's verdict is the most severe of its reasons; the line's is the
 * most severe of its commands' -- including commands found inside
 * $(...), bash -c '...', eval, find -exec, heredocs fed to a shell and
 * code handed to python -c.
 */
#include "security.h"
#include "shparse.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum level { L_INFO, L_DEFAULT, L_APPROVAL, L_NEVER, L_DENY, L_HARD };

enum {
	C_READ = 1 << 0,
	C_WRITE = 1 << 1,
	C_DESTROY = 1 << 2,
	C_NET = 1 << 3,
	C_PRIV = 1 << 4,
	C_EXEC = 1 << 5,
	C_UNKNOWN = 1 << 6,
};
static const char *const class_names[] = {
	"read_only", "writes", "destructive", "network", "privilege",
	"code_execution", "unknown"};
#define NCLASSES (sizeof class_names / sizeof class_names[0])

/* Traits a pipeline stage has for its neighbours. */
enum {
	T_FETCH = 1 << 0,      /* writes data from the network to stdout */
	T_DECODE = 1 << 1,     /* decodes its input (base64 -d, xxd -r...) */
	T_STDIN_EXEC = 1 << 2, /* runs its standard input as code */
	T_SENSITIVE = 1 << 3,  /* reads a credential or secret file */
	T_SEND = 1 << 4,       /* sends its input over the network */
};

int verdict_parse(const char *w)
{
	if (!w)
		return -1;
	if (!strcmp(w, "allow"))
		return V_ALLOW;
	if (!strcmp(w, "deny"))
		return V_DENY;
	if (!strcmp(w, "needs_approval"))
		return V_APPROVAL;
	return -1;
}

const char *verdict_name(int v)
{
	return v == V_ALLOW ? "allow" : v == V_DENY ? "deny" : "needs_approval";
}

/* ---------------------------------------------------------------- state */

struct reason {
	int level;
	char *text;
};

struct cres {
	const char *name;
	unsigned classes, traits;
	const char *out_text; /* what it prints, when known statically */
	struct reason *r;
	size_t nr, cap;
};

struct checker {
	struct sh_arena *A;
	struct sh_vars *vars;
	const struct check_policy *pol;
	json_t *commands;
	int verdict;
	unsigned classes;
	json_t *reasons;
	int budget; /* commands left to analyse: bounds nested expansion */
	const char *cwd; /* as `cd` left it; NULL: unknown */
	int cwd_lost;    /* a cd to a place we cannot know */
};

/* One command being analysed (after unwrapping, argv is argv[i..]). */
struct ctx {
	struct checker *ck;
	const struct sh_cmd *cmd;
	const struct sh_word *argv;
	size_t argc;
	struct cres *r;
	const char *in_text; /* known standard input */
	int depth;
	int via_xargs;       /* operands also come from stdin */
	const char *origin;
};

static void add(struct ctx *x, int level, unsigned cls, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add(struct ctx *x, int level, unsigned cls, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	struct cres *r = x->r;
	r->classes |= cls;
	if (r->nr == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 4;
		struct reason *n = sh_alloc(x->ck->A, ncap * sizeof *n);
		if (r->r)
			memcpy(n, r->r, r->nr * sizeof *n);
		r->r = n;
		r->cap = ncap;
	}
	r->r[r->nr].level = level;
	r->r[r->nr].text = sh_strdup(x->ck->A, buf);
	r->nr++;
}

static const char *arg(struct ctx *x, size_t i)
{
	return i < x->argc ? x->argv[i].text : NULL;
}

static int is(const char *a, const char *b)
{
	return a && !strcmp(a, b);
}

static int in_list(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

/* A short option cluster (-rf) or long option holds `letter` / `lng`. */
static int has_opt(const char *a, char letter, const char *lng)
{
	if (!a || a[0] != '-' || !a[1])
		return 0;
	if (a[1] == '-')
		return lng && !strcmp(a + 2, lng);
	return letter && strchr(a + 1, letter) != NULL;
}

static void analyse_script(struct checker *ck, struct sh_script *s,
                           int depth, const char *origin);
static void analyse_text(struct ctx *x, const char *text, const char *origin);

/* ---------------------------------------------------------------- paths */

static int path_prefix(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* Normalize `in` (absolute, ~ or relative to cwd) into out. Relative
 * paths with no cwd known stay relative ("./x"; "../x" escapes). */
static void path_norm(const char *cwd, const char *in, char *out, size_t len)
{
	char tmp[4096];
	if (in[0] == '/' || in[0] == '~' || !cwd)
		snprintf(tmp, sizeof tmp, "%s", in);
	else
		snprintf(tmp, sizeof tmp, "%s/%s", cwd, in);
	const char *lead = tmp[0] == '/' ? "/" : tmp[0] == '~' ? "~/" : "./";
	char *parts[512];
	size_t np = 0;
	int escaped = 0;
	char *save = NULL;
	char *start = tmp + (tmp[0] == '/' ? 1 : tmp[0] == '~' ? 1 : 0);
	for (char *p = strtok_r(start, "/", &save); p && np < 512;
	     p = strtok_r(NULL, "/", &save)) {
		if (!strcmp(p, "."))
			continue;
		if (!strcmp(p, "..")) {
			if (np)
				np--;
			else if (lead[0] == '.')
				escaped++;
			continue;
		}
		parts[np++] = p;
	}
	size_t o = 0;
	if (escaped)
		o += (size_t)snprintf(out, len, "..");
	else
		o += (size_t)snprintf(out, len, "%s", lead);
	if (escaped)
		for (int i = 1; i < escaped && o < len; i++)
			o += (size_t)snprintf(out + o, len - o, "/..");
	for (size_t i = 0; i < np && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s",
		                      (o && out[o - 1] != '/') ? "/" : "",
		                      parts[i]);
	if (o > 1 && o < len && out[o - 1] == '/' && strcmp(out, "~/"))
		out[o - 1] = '\0';
	if (!strcmp(out, "~/"))
		out[1] = '\0';
}

/* The directory part of a glob: "/usr/x*" -> "/usr", "/x*" -> "/". */
static void glob_dir(char *p)
{
	char *g = strpbrk(p, "*?[{");
	if (!g)
		return;
	*g = '\0';
	char *slash = strrchr(p, '/');
	if (slash == p)
		p[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(p, ".");
}

static const char *const system_dirs[] = {
	"/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/libx32",
	"/boot", "/etc", "/proc", "/sys", "/var/lib", "/var/log",
	"/var/spool", "/var/cache/apt", "~/.ssh", "~/.gnupg", "~/.aws",
	"/root/.ssh", "~/.bashrc", "~/.profile", "~/.bash_profile",
	"~/.zshrc", "~/.bash_logout", "~/.config/autostart", "/root/.bashrc",
	"/root/.profile", NULL};

static const char *const dev_ok[] = {"/dev/null", "/dev/zero", "/dev/stdout",
                                     "/dev/stderr", "/dev/stdin", "/dev/tty",
                                     "/dev/random", "/dev/urandom", NULL};

static int is_device(const char *p)
{
	static const char *const disks[] = {
		"/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd", "/dev/nvme",
		"/dev/mmcblk", "/dev/md", "/dev/dm-", "/dev/loop", "/dev/mem",
		"/dev/kmem", "/dev/port", "/dev/disk/", "/dev/mapper/",
		"/dev/sr", "/dev/fd0", NULL};
	for (const char *const *d = disks; *d; d++)
		if (!strncmp(p, *d, strlen(*d)))
			return 1;
	return 0;
}

/* Why deleting or rewriting `p` (normalized) is never acceptable. */
static const char *protected_why(const char *p, int recursive)
{
	static const char *const top[] = {"/home", "/var", "/opt", "/srv",
	                                  "/root", "/mnt", "/media", "/tmp",
	                                  "/dev", "/run", NULL};
	if (!strcmp(p, "/"))
		return "the root directory";
	if (!strcmp(p, "~"))
		return "the home directory";
	if (!strncmp(p, "/dev/", 5)) {
		if (in_list(p, dev_ok) || !strncmp(p, "/dev/fd/", 8) ||
		    !strncmp(p, "/dev/shm/", 9) || !strncmp(p, "/dev/pts/", 9))
			return NULL;
		return is_device(p) ? "a disk or memory device" : "a device";
	}
	for (const char *const *d = system_dirs; *d; d++)
		if (path_prefix(p, *d))
			return "a protected system path";
	if (recursive)
		for (const char *const *d = top; *d; d++)
			if (!strcmp(p, *d))
				return "a top-level directory";
	return NULL;
}

static int path_sensitive(const char *p)
{
	static const char *const files[] = {
		"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d",
		"/etc/ssh", "~/.ssh", "/root", "~/.aws", "~/.netrc",
		"~/.git-credentials", "~/.docker/config.json", "~/.kube",
		"~/.gnupg", "~/.bash_history", "/proc/kcore", "~/.pgpass",
		"/etc/mcpd", NULL};
	for (const char *const *f = files; *f; f++)
		if (path_prefix(p, *f))
			return 1;
	return !strncmp(p, "/proc/", 6) && strstr(p, "/environ");
}

/* 1 inside the allowed paths, 0 outside, -1 when none are configured. */
static int path_allowed(struct ctx *x, const char *p)
{
	const json_t *ap = x->ck->pol->allowed_paths;
	if (!json_array_size(ap))
		return -1;
	if (!strncmp(p, "./", 2) || !strcmp(p, "."))
		return x->ck->cwd_lost ? -1 : 1; /* the workspace */
	if (!strncmp(p, "..", 2))
		return 0;
	size_t i;
	const json_t *v;
	json_array_foreach(ap, i, v) {
		char norm[4096];
		const char *s = json_string_value(v);
		if (!s)
			continue;
		path_norm(NULL, s, norm, sizeof norm);
		if (path_prefix(p, norm))
			return 1;
	}
	return 0;
}

static void norm_word(struct ctx *x, const struct sh_word *w, char *out,
                      size_t len)
{
	path_norm(x->ck->cwd, w->text, out, len);
	if (w->flags & W_GLOB)
		glob_dir(out);
}

/* A path the command reads: flag credentials and secrets. */
static void check_read(struct ctx *x, const struct sh_word *w)
{
	char p[4096];
	if (w->flags & W_DYNAMIC)
		return;
	norm_word(x, w, p, sizeof p);
	if (path_sensitive(p)) {
		add(x, L_APPROVAL, C_READ, "%s: reads %s, a credential or "
		    "secret file", x->r->name, w->text);
		x->r->traits |= T_SENSITIVE;
	} else if (!strncmp(p, "/dev/tcp/", 9) || !strncmp(p, "/dev/udp/", 9)) {
		add(x, L_DEFAULT, C_NET, "%s: opens a network connection "
		    "through %s", x->r->name, w->text);
	} else if (is_device(p)) {
		add(x, L_APPROVAL, C_READ, "%s: reads the raw device %s",
		    x->r->name, w->text);
	}
}

/* A path the command creates or changes. */
static void check_write(struct ctx *x, const struct sh_word *w)
{
	char p[4096];
	const char *name = x->r->name;
	if (w->flags & W_DYNAMIC) {
		add(x, L_APPROVAL, C_WRITE, "%s: writes to %s, a path computed "
		    "at run time", name, w->text);
		return;
	}
	norm_word(x, w, p, sizeof p);
	if (!strncmp(p, "/dev/tcp/", 9) || !strncmp(p, "/dev/udp/", 9)) {
		add(x, L_DEFAULT, C_NET, "%s: sends data over the network "
		    "through %s", name, w->text);
		x->r->traits |= T_SEND;
		return;
	}
	if (in_list(p, dev_ok) || !strncmp(p, "/dev/fd/", 8))
		return;
	const char *why = protected_why(p, 0);
	if (why) {
		add(x, L_HARD, is_device(p) ? C_DESTROY : C_WRITE,
		    "%s: writes to %s, %s", name, w->text, why);
		return;
	}
	int in = path_allowed(x, p);
	if (in == 0)
		add(x, L_DENY, C_WRITE, "%s: writes to %s, outside the allowed "
		    "paths", name, w->text);
	else if (in == 1)
		add(x, L_INFO, C_WRITE, "%s: writes to %s", name, w->text);
	else
		add(x, L_DEFAULT, C_WRITE, "%s: writes to %s", name, w->text);
}

/* A path the command deletes (or empties, or moves away). */
static void check_delete(struct ctx *x, const struct sh_word *w,
                         int recursive, const char *verb)
{
	char p[4096];
	const char *name = x->r->name;
	if (w->flags & W_DYNAMIC) {
		add(x, L_APPROVAL, C_DESTROY, "%s: %s %s, a path computed at "
		    "run time", name, verb, w->text);
		return;
	}
	norm_word(x, w, p, sizeof p);
	int glob = (w->flags & W_GLOB) != 0;
	const char *why = protected_why(p, recursive || glob);
	if (why) {
		add(x, L_HARD, C_DESTROY, "%s: %s %s%s, %s", name, verb,
		    w->text, recursive ? " recursively" : "", why);
		return;
	}
	if (!strcmp(p, ".") || !strcmp(p, "./") || !strncmp(p, "..", 2) ||
	    (x->ck->pol->cwd && !strcmp(p, x->ck->pol->cwd))) {
		add(x, L_APPROVAL, C_DESTROY, "%s: %s %s, the whole working "
		    "directory or above it", name, verb, w->text);
		return;
	}
	int in = path_allowed(x, p);
	if (in == 0)
		add(x, L_DENY, C_DESTROY, "%s: %s %s, outside the allowed "
		    "paths", name, verb, w->text);
	else
		add(x, L_APPROVAL, C_DESTROY, "%s: %s %s", name, verb, w->text);
}

/* ---------------------------------------------------------------- helpers */

/* Operands: words not starting with '-' (after "--" all of them). */
static size_t operands(struct ctx *x, size_t from, size_t *idx, size_t max,
                       const char *const *with_value)
{
	size_t n = 0;
	int opts = 1;
	for (size_t i = from; i < x->argc && n < max; i++) {
		const char *a = x->argv[i].text;
		if (opts && !strcmp(a, "--")) {
			opts = 0;
			continue;
		}
		if (opts && a[0] == '-' && a[1]) {
			if (with_value && in_list(a, with_value))
				i++;
			continue;
		}
		idx[n++] = i;
	}
	return n;
}

static void analyse_argv(struct ctx *parent, const struct sh_word *argv,
                         size_t argc, const char *origin);

/* Code given to an interpreter: shell-outs, deletions, network. */
static const char *string_literal(const char *p, const char *end, char *out,
                                  size_t len, const char **after)
{
	while (p < end && *p != '"' && *p != '\'' && *p != ')')
		p++;
	if (p >= end || *p == ')')
		return NULL;
	char q = *p++;
	size_t o = 0;
	while (p < end && *p != q) {
		if (*p == '\\' && p + 1 < end)
			p++;
		if (o + 1 < len)
			out[o++] = *p;
		p++;
	}
	out[o] = '\0';
	if (after)
		*after = p < end ? p + 1 : p;
	return out;
}

static void scan_code(struct ctx *x, const char *code)
{
	static const char *const py_calls[] = {
		"os.system(", "os.popen(", "subprocess.", "commands.getoutput(",
		"pty.spawn(", "os.exec", "os.spawn", NULL};
	static const char *const other_calls[] = {
		"system(", "shell_exec(", "passthru(", "popen(", "execSync(",
		"spawnSync(", "spawn(", "execFile(", "exec(", "%x(", "qx(",
		NULL};
	int py = !strncmp(x->r->name, "python", 6) ||
	         !strncmp(x->r->name, "pypy", 4);
	const char *const *shell_calls = py ? py_calls : other_calls;
	static const char *const deletes[] = {
		"shutil.rmtree(", "os.remove(", "os.unlink(", "os.rmdir(",
		"os.removedirs(", "FileUtils.rm_rf(", "FileUtils.rm_r(",
		"rmtree(", "unlink(", "fs.rmSync(", "fs.rmdirSync(",
		"fs.unlinkSync(", "File.delete(", NULL};
	static const char *const net[] = {
		"socket", "urllib", "requests.", "http.client", "urlopen",
		"fetch(", "http.get", "https.get", "LWP::", "Net::HTTP",
		"IO::Socket", "Net::", "open-uri", NULL};
	static const char *const dyn[] = {"eval(", "exec(", "compile(",
	                                  "__import__",
	                                  "base64", "codecs.decode",
	                                  "marshal.", "pickle.loads", NULL};
	const char *name = x->r->name;
	const char *end = code + strlen(code);
	for (const char *const *c = shell_calls; *c; c++) {
		for (const char *p = strstr(code, *c); p; p = strstr(p + 1, *c)) {
			if (!py && p > code && (isalnum((unsigned char)p[-1]) ||
			                        p[-1] == '_'))
				continue; /* shell_exec( is not exec( */
			const char *call = strchr(p, '(');
			if (!call && !strcmp(*c, "subprocess."))
				call = p;
			char lit[2048];
			const char *after;
			const char *bracket = call ? strpbrk(call, "[\"')") : NULL;
			if (bracket && *bracket == '[') {
				/* a list: ["rm", "-rf", "/"] is an argv */
				struct sh_word w[64];
				size_t n = 0;
				const char *q = bracket + 1;
				const char *close = strchr(q, ']');
				while (close && n < 64 &&
				       string_literal(q, close, lit, sizeof lit,
				                      &after)) {
					w[n].text = sh_strdup(x->ck->A, lit);
					w[n].flags = W_QUOTED;
					w[n].subs = NULL;
					w[n].nsubs = 0;
					n++;
					q = after;
				}
				if (n) {
					add(x, L_APPROVAL, C_EXEC, "%s: the inline "
					    "code runs the program %s", name,
					    w[0].text);
					analyse_argv(x, w, n, "inline code");
					continue;
				}
			}
			if (call && string_literal(call, end, lit, sizeof lit,
			                           NULL)) {
				add(x, L_APPROVAL, C_EXEC, "%s: the inline code "
				    "runs the shell command '%s'", name, lit);
				analyse_text(x, lit, "inline code");
			} else {
				add(x, L_NEVER, C_EXEC, "%s: the inline code runs "
				    "a shell command built at run time", name);
			}
		}
	}
	for (const char *const *c = deletes; *c; c++) {
		const char *p = strstr(code, *c);
		if (!p)
			continue;
		char lit[2048];
		if (string_literal(p + strlen(*c) - 1, end, lit, sizeof lit,
		                   NULL)) {
			struct sh_word w = {lit, W_QUOTED, NULL, 0};
			check_delete(x, &w, strstr(*c, "rmtree") ||
			                     strstr(*c, "rm_r") ||
			                     strstr(*c, "rmSync"),
			             "deletes");
		} else {
			add(x, L_APPROVAL, C_DESTROY, "%s: the inline code "
			    "deletes files", name);
		}
	}
	for (const char *const *c = net; *c; c++)
		if (strstr(code, *c)) {
			add(x, L_DEFAULT, C_NET, "%s: the inline code uses the "
			    "network (%s)", name, *c);
			break;
		}
	for (const char *const *c = dyn; *c; c++)
		if (strstr(code, *c)) {
			add(x, L_NEVER, C_EXEC, "%s: the inline code builds or "
			    "decodes code at run time (%s)", name, *c);
			break;
		}
}

/* ---------------------------------------------------------------- commands */

static const char *const shells[] = {"sh", "bash", "dash", "zsh", "ksh",
                                     "mksh", "ash", "fish", "csh", "tcsh",
                                     "rbash", NULL};

static int is_interp(const char *n)
{
	static const char *const interps[] = {
		"python", "python2", "python3", "perl", "ruby", "node",
		"nodejs", "php", "lua", "Rscript", "tclsh", "pypy", "pypy3",
		"bun", "deno", "pwsh", "irb", "jshell", "osascript", NULL};
	if (in_list(n, interps))
		return 1;
	return !strncmp(n, "python3.", 8) || !strncmp(n, "python2.", 8) ||
	       !strncmp(n, "perl5", 5) || !strncmp(n, "lua5", 4);
}

/* Does the word carry what a network fetch printed? */
static int subs_fetch(const struct sh_word *w)
{
	return (w->flags & W_NET) != 0;
}

/* sh/bash: -c STRING, a script, or stdin. */
static void h_shell(struct ctx *x)
{
	const char *name = x->r->name;
	size_t i = 1;
	for (; i < x->argc; i++) {
		const char *a = arg(x, i);
		if (is(a, "-c") || (a[0] == '-' && a[1] != '-' &&
		                    strchr(a, 'c') && !strchr(a, 'o'))) {
			const struct sh_word *w = i + 1 < x->argc ? &x->argv[i + 1]
			                                          : NULL;
			if (!w) {
				add(x, L_APPROVAL, C_EXEC, "%s: -c without a "
				    "command", name);
				return;
			}
			if (subs_fetch(w)) {
				add(x, L_HARD, C_EXEC | C_NET, "%s: runs code "
				    "downloaded from the network (%s)", name,
				    w->text);
				return;
			}
			if (w->flags & W_DYNAMIC) {
				add(x, L_NEVER, C_EXEC, "%s: runs a command "
				    "string computed at run time (%s)", name,
				    w->text);
				return;
			}
			add(x, L_INFO, C_EXEC, "%s: runs the command string "
			    "given with -c", name);
			analyse_text(x, w->text, name);
			return;
		}
		if (is(a, "-") || is(a, "-s") || is(a, "--"))
			break;
		if (a[0] != '-' && a[0] != '+')
			break;
		if (is(a, "-o") || is(a, "+o") || is(a, "--rcfile") ||
		    is(a, "--init-file"))
			i++;
	}
	const char *script = arg(x, i);
	if (script && !is(script, "-") && !is(script, "-s")) {
		const struct sh_word *w = &x->argv[i];
		if (subs_fetch(w))
			add(x, L_HARD, C_EXEC | C_NET, "%s: runs a script "
			    "downloaded from the network (%s)", name, w->text);
		else
			add(x, L_APPROVAL, C_EXEC, "%s: runs the script %s",
			    name, w->text);
		return;
	}
	x->r->traits |= T_STDIN_EXEC;
	if (x->in_text) {
		add(x, L_APPROVAL, C_EXEC, "%s: runs the script given on its "
		    "standard input", name);
		analyse_text(x, x->in_text, name);
	} else if (x->cmd->stage > 0) {
		add(x, L_APPROVAL, C_EXEC, "%s: runs commands read from its "
		    "input", name);
	} else {
		add(x, L_APPROVAL, C_EXEC, "%s: starts a shell", name);
	}
}

static void h_interp(struct ctx *x)
{
	const char *name = x->r->name;
	static const char *const code_opts[] = {"-c", "-e", "-E", "-r",
	                                        "--eval", "-p", "--print",
	                                        NULL};
	if (x->argc == 2 && (has_opt(arg(x, 1), 0, "version") ||
	                     is(arg(x, 1), "-V") || is(arg(x, 1), "-v") ||
	                     has_opt(arg(x, 1), 0, "help"))) {
		add(x, L_INFO, C_READ, "%s: prints its version", name);
		return;
	}
	for (size_t i = 1; i < x->argc; i++) {
		const char *a = arg(x, i);
		if (in_list(a, code_opts) || (a[0] == '-' && a[1] &&
		                              a[1] != '-' &&
		                              strpbrk(a + 1, "ce") &&
		                              strlen(a) <= 4 &&
		                              a[strlen(a) - 1] != 'm')) {
			const struct sh_word *w = i + 1 < x->argc ? &x->argv[i + 1]
			                                          : NULL;
			add(x, L_APPROVAL, C_EXEC, "%s: runs inline code", name);
			if (!w)
				return;
			if (subs_fetch(w))
				add(x, L_HARD, C_EXEC | C_NET, "%s: runs code "
				    "downloaded from the network", name);
			else if (w->flags & W_DYNAMIC)
				add(x, L_NEVER, C_EXEC, "%s: runs code computed "
				    "at run time", name);
			else
				scan_code(x, w->text);
			return;
		}
		if (is(a, "-m")) {
			const char *mod = arg(x, i + 1);
			add(x, L_APPROVAL, C_EXEC, "%s: runs the module %s", name,
			    mod ? mod : "?");
			if (mod && (!strcmp(mod, "http.server") ||
			            !strcmp(mod, "pip") || !strcmp(mod, "ensurepip")))
				add(x, L_DEFAULT, C_NET, "%s -m %s uses the network",
				    name, mod);
			return;
		}
		if (is(a, "-") || a[0] != '-') {
			if (a[0] != '-') {
				const struct sh_word *w = &x->argv[i];
				if (subs_fetch(w))
					add(x, L_HARD, C_EXEC | C_NET, "%s: runs a "
					    "script downloaded from the network",
					    name);
				else
					add(x, L_APPROVAL, C_EXEC, "%s: runs the "
					    "script %s", name, a);
				return;
			}
			break;
		}
	}
	x->r->traits |= T_STDIN_EXEC;
	if (x->in_text) {
		add(x, L_APPROVAL, C_EXEC, "%s: runs the code given on its "
		    "standard input", name);
		scan_code(x, x->in_text);
	} else {
		add(x, L_APPROVAL, C_EXEC, "%s: runs code read from its input",
		    name);
	}
}

static void h_rm(struct ctx *x)
{
	int recursive = 0;
	size_t idx[256];
	for (size_t i = 1; i < x->argc; i++) {
		const char *a = arg(x, i);
		if (is(a, "--"))
			break;
		if (has_opt(a, 'r', "recursive") || has_opt(a, 'R', NULL))
			recursive = 1;
		if (is(a, "--no-preserve-root"))
			add(x, L_HARD, C_DESTROY, "%s: --no-preserve-root turns "
			    "off the guard against deleting /", x->r->name);
	}
	int rmdir = is(x->r->name, "rmdir") || is(x->r->name, "unlink");
	size_t n = operands(x, 1, idx, 256, NULL);
	for (size_t k = 0; k < n; k++)
		check_delete(x, &x->argv[idx[k]], recursive && !rmdir,
		             "deletes");
	if (x->via_xargs)
		add(x, L_APPROVAL, C_DESTROY, "%s: deletes the paths named "
		    "on its input", x->r->name);
	if (!n && !x->via_xargs)
		add(x, L_INFO, C_DESTROY, "%s: no operands", x->r->name);
}

static void h_shred(struct ctx *x)
{
	size_t idx[256];
	static const char *const val[] = {"-n", "-s", "--iterations",
	                                  "--size", NULL};
	size_t n = operands(x, 1, idx, 256, val);
	for (size_t k = 0; k < n; k++)
		check_delete(x, &x->argv[idx[k]], 0, "destroys");
	if (!n)
		add(x, L_APPROVAL, C_DESTROY, "%s: destroys data",
		    x->r->name);
}

static void h_disk(struct ctx *x)
{
	add(x, L_HARD, C_DESTROY, "%s: formats, partitions or wipes "
	    "storage devices", x->r->name);
}

static void h_dd(struct ctx *x)
{
	for (size_t i = 1; i < x->argc; i++) {
		const struct sh_word *w = &x->argv[i];
		if (!strncmp(w->text, "of=", 3)) {
			struct sh_word t = *w;
			t.text = w->text + 3;
			check_write(x, &t);
		} else if (!strncmp(w->text, "if=", 3)) {
			struct sh_word t = *w;
			t.text = w->text + 3;
			check_read(x, &t);
		}
	}
	add(x, L_INFO, C_READ, "%s: copies data", x->r->name);
}

static void h_find(struct ctx *x)
{
	const char *name = x->r->name;
	size_t i = 1;
	while (i < x->argc && (is(arg(x, i), "-H") || is(arg(x, i), "-L") ||
	                       is(arg(x, i), "-P")))
		i++;
	size_t first_root = i, nroots = 0;
	while (i < x->argc && arg(x, i)[0] != '-' && !is(arg(x, i), "(") &&
	       !is(arg(x, i), "!"))
		i++, nroots++;
	struct sh_word dot = {".", 0, NULL, 0};
	const struct sh_word *root = nroots ? &x->argv[first_root] : &dot;
	int acted = 0;
	for (; i < x->argc; i++) {
		const char *a = arg(x, i);
		if (is(a, "-delete")) {
			for (size_t r = 0; r < (nroots ? nroots : 1); r++)
				check_delete(x, nroots ? &x->argv[first_root + r]
				                       : &dot,
				             1, "deletes files under");
			acted = 1;
		} else if (is(a, "-exec") || is(a, "-execdir") ||
		           is(a, "-ok") || is(a, "-okdir")) {
			struct sh_word sub[128];
			size_t n = 0;
			for (i++; i < x->argc && n < 128; i++) {
				if (is(arg(x, i), ";") || is(arg(x, i), "+"))
					break;
				sub[n] = x->argv[i];
				if (strstr(sub[n].text, "{}"))
					sub[n] = *root;
				n++;
			}
			if (n) {
				add(x, L_INFO, C_EXEC, "%s: runs %s on each file "
				    "found", name, sub[0].text);
				analyse_argv(x, sub, n, "find -exec");
			}
			acted = 1;
		} else if (is(a, "-fprint") || is(a, "-fprint0") ||
		           is(a, "-fprintf") || is(a, "-fls")) {
			if (i + 1 < x->argc)
				check_write(x, &x->argv[++i]);
			acted = 1;
		}
	}
	if (!acted)
		add(x, L_INFO, C_READ, "%s: lists files", name);
}

static int setuid_mode(const char *m)
{
	if (isdigit((unsigned char)m[0]))
		return strlen(m) >= 4 && (m[0] == '4' || m[0] == '2' ||
		                          m[0] == '6');
	return strchr(m, 's') != NULL && strpbrk(m, "+=") != NULL;
}

/* chmod / chown / chgrp: first operand is the mode or owner. */
static void h_perm(struct ctx *x)
{
	const char *name = x->r->name;
	int recursive = 0;
	for (size_t i = 1; i < x->argc; i++)
		if (has_opt(arg(x, i), 'R', "recursive"))
			recursive = 1;
	size_t idx[256];
	size_t n = operands(x, 1, idx, 256, NULL);
	/* chmod -x file: "-x" is a mode, not an option */
	const char *mode = n ? arg(x, idx[0]) : NULL;
	size_t first = 1;
	if (is(name, "chmod") && n == 0)
		{ add(x, L_INFO, C_WRITE, "%s: no operands", name); return; }
	if (is(name, "chmod")) {
		for (size_t i = 1; i < x->argc; i++) {
			const char *a = arg(x, i);
			if (a[0] == '-' && strpbrk(a + 1, "rwxXst") &&
			    !has_opt(a, 'R', NULL)) {
				mode = a;
				first = 0;
				break;
			}
		}
		if (mode && setuid_mode(mode))
			add(x, L_DENY, C_PRIV, "%s: %s sets the setuid/setgid "
			    "bit (privilege escalation)", name, mode);
		if (mode && (strstr(mode, "777") || strstr(mode, "666") ||
		             strstr(mode, "o+w") || strstr(mode, "a+w")))
			add(x, L_APPROVAL, C_WRITE, "%s: %s makes files "
			    "writable by everyone", name, mode);
	} else {
		add(x, L_APPROVAL, C_PRIV, "%s: changes file ownership", name);
	}
	for (size_t k = first; k < n; k++) {
		const struct sh_word *w = &x->argv[idx[k]];
		char p[4096];
		norm_word(x, w, p, sizeof p);
		const char *why = (w->flags & W_DYNAMIC)
		                          ? NULL
		                          : protected_why(p, recursive);
		if (why)
			add(x, L_HARD, C_DESTROY | C_WRITE, "%s: changes %s%s, %s",
			    name, w->text, recursive ? " recursively" : "", why);
		else
			check_write(x, w);
	}
}

static void h_write_operands(struct ctx *x, size_t skip_first,
                             const char *const *with_value)
{
	size_t idx[256];
	size_t n = operands(x, 1, idx, 256, with_value);
	for (size_t k = skip_first; k < n; k++)
		check_write(x, &x->argv[idx[k]]);
	if (n <= skip_first)
		add(x, L_INFO, C_WRITE, "%s: no file operands", x->r->name);
}

/* cp, mv, ln, install: the last operand (or -t DIR) is written. */
static void h_copy(struct ctx *x)
{
	const char *name = x->r->name;
	static const char *const val[] = {"-t", "--target-directory", "-S",
	                                  "-m", "-o", "-g", "--suffix", NULL};
	size_t idx[256];
	size_t n = operands(x, 1, idx, 256, val);
	const struct sh_word *target = NULL;
	for (size_t i = 1; i + 1 < x->argc; i++)
		if (is(arg(x, i), "-t") || is(arg(x, i), "--target-directory"))
			target = &x->argv[i + 1];
	if (!target && n >= 2)
		target = &x->argv[idx[--n]];
	int mv = is(name, "mv");
	for (size_t k = 0; k < n; k++) {
		const struct sh_word *w = &x->argv[idx[k]];
		char p[4096];
		norm_word(x, w, p, sizeof p);
		const char *why = (w->flags & W_DYNAMIC) ? NULL
		                                         : protected_why(p, 1);
		if (mv && why)
			add(x, L_HARD, C_DESTROY, "%s: moves %s away, %s", name,
			    w->text, why);
		else if (mv)
			check_write(x, w);
		else
			check_read(x, w);
	}
	if (target) {
		if (mv && is(target->text, "/dev/null"))
			add(x, L_APPROVAL, C_DESTROY, "%s: moves files to "
			    "/dev/null, destroying them", name);
		else
			check_write(x, target);
	}
}

static void h_sed(struct ctx *x)
{
	int inplace = 0, script_given = 0;
	for (size_t i = 1; i < x->argc; i++) {
		const char *a = arg(x, i);
		if (has_opt(a, 0, "in-place") || !strncmp(a, "-i", 2) ||
		    !strncmp(a, "--in-place=", 11) ||
		    (a[0] == '-' && a[1] != '-' && strchr(a, 'i')))
			inplace = 1;
		if (is(a, "-e") || is(a, "-f") || has_opt(a, 0, "expression"))
			script_given = 1;
	}
	if (!inplace)
		{ add(x, L_INFO, C_READ, "%s: edits a stream",
		           x->r->name); return; }
	static const char *const val[] = {"-e", "-f", "--expression",
	                                  "--file", "-l", NULL};
	h_write_operands(x, script_given ? 0 : 1, val);
}

static void h_awk(struct ctx *x)
{
	const char *prog = NULL;
	for (size_t i = 1; i < x->argc; i++) {
		const char *a = arg(x, i);
		if (is(a, "-f"))
			{ add(x, L_APPROVAL, C_EXEC, "%s: runs the program "
			           "file %s", x->r->name, arg(x, i + 1) ?
			           arg(x, i + 1) : "?"); return; }
		if (is(a, "-v") || is(a, "-F")) {
			i++;
			continue;
		}
		if (a[0] == '-')
			continue;
		prog = a;
		break;
	}
	if (prog && (strstr(prog, "system(") || strstr(prog, "| getline") ||
	             strstr(prog, "|getline") || strstr(prog, "print |") ||
	             strstr(prog, "printf |"))) {
		add(x, L_APPROVAL, C_EXEC, "%s: the program runs shell "
		    "commands", x->r->name);
		const char *p = strstr(prog, "system(");
		char lit[2048];
		if (p && string_literal(p + 6, prog + strlen(prog), lit,
		                        sizeof lit, NULL))
			analyse_text(x, lit, "awk system()");
	} else if (prog && strpbrk(prog, ">")) {
		add(x, L_DEFAULT, C_WRITE, "%s: the program may write files",
		    x->r->name);
	} else {
		add(x, L_INFO, C_READ, "%s: processes text", x->r->name);
	}
}

/* Upload options name a file (@file or the value) or stdin (@- / -). */
static void upload_source(struct ctx *x, const char *v, int at_only)
{
	if (!v)
		return;
	if (at_only && v[0] != '@')
		return;
	if (v[0] == '@')
		v++;
	if (!strcmp(v, "-")) {
		x->r->traits |= T_SEND;
		return;
	}
	struct sh_word w = {v, 0, NULL, 0};
	check_read(x, &w);
}

static void h_curl(struct ctx *x)
{
	const char *name = x->r->name;
	int wget = is(name, "wget");
	int to_stdout = !wget, upload = 0;
	for (size_t i = 1; i < x->argc; i++) {
		const char *a = arg(x, i);
		const char *v = arg(x, i + 1);
		const char *eq = strchr(a, '=');
		if (!wget && (is(a, "-o") || is(a, "--output"))) {
			to_stdout = 0;
			if (v && !is(v, "-"))
				check_write(x, &x->argv[++i]);
		} else if (!wget && (is(a, "-O") || is(a, "--remote-name") ||
		                     is(a, "--remote-name-all"))) {
			to_stdout = 0;
			add(x, L_DEFAULT, C_WRITE, "%s: saves the download in "
			    "the working directory", name);
		} else if (wget && (is(a, "-O") ||
		                    is(a, "--output-document"))) {
			to_stdout = is(v, "-");
			if (v && !to_stdout)
				check_write(x, &x->argv[i + 1]);
			i++;
		} else if (wget && a[0] == '-' && a[1] != '-' &&
		           strchr(a, 'O')) {
			/* -qO- / -O- / -Ofile / -qO file */
			const char *o = strchr(a, 'O') + 1;
			if (*o)
				to_stdout = !strcmp(o, "-");
			else
				to_stdout = is(v, "-"), i++;
		} else if (wget && !strncmp(a, "--output-document=", 18)) {
			to_stdout = !strcmp(a + 18, "-");
		} else if (is(a, "-d") || is(a, "--data") ||
		           is(a, "--data-binary") || is(a, "--data-raw") ||
		           is(a, "--data-urlencode") || is(a, "-F") ||
		           is(a, "--form")) {
			upload = 1;
			upload_source(x, v, 1);
			i++;
		} else if (is(a, "-T") || is(a, "--upload-file") ||
		           is(a, "--post-file")) {
			upload = 1;
			upload_source(x, v, 0);
			i++;
		} else if (eq && (!strncmp(a, "--data", 6) ||
		                  !strncmp(a, "--post-file=", 12) ||
		                  !strncmp(a, "--post-data=", 12))) {
			upload = 1;
			upload_source(x, eq + 1, strncmp(a, "--post-file=", 12));
		}
	}
	if (wget && !to_stdout)
		add(x, L_DEFAULT, C_WRITE, "%s: saves the download in the "
		    "working directory", name);
	if (to_stdout)
		x->r->traits |= T_FETCH;
	add(x, L_DEFAULT, C_NET, "%s: %s over the network", name,
	    upload ? "sends data" : "downloads");
}

static void h_netcat(struct ctx *x)
{
	const char *name = x->r->name;
	for (size_t i = 1; i < x->argc; i++) {
		const char *a = arg(x, i);
		if (is(a, "-e") || is(a, "-c") || is(a, "--exec") ||
		    is(a, "--sh-exec") || is(a, "--lua-exec") ||
		    !strncasecmp(a, "exec:", 5) || !strncasecmp(a, "system:", 7) ||
		    strstr(a, ",exec:") || strstr(a, "EXEC:")) {
			add(x, L_HARD, C_NET | C_EXEC, "%s: hands a program to a "
			    "network peer (a remote or bind shell)", name);
			return;
		}
		if (has_opt(a, 'l', "listen"))
			add(x, L_APPROVAL, C_NET, "%s: listens for network "
			    "connections", name);
	}
	x->r->traits |= T_FETCH | T_SEND;
	add(x, L_DEFAULT, C_NET, "%s: opens a network connection", name);
}

static void h_git(struct ctx *x)
{
	static const char *const ro[] = {
		"status", "log", "diff", "show", "blame", "grep", "rev-parse",
		"ls-files", "ls-tree", "describe", "shortlog", "cat-file",
		"whatchanged", "show-ref", "help", "version", "reflog",
		"rev-list", "name-rev", "count-objects", "var", NULL};
	static const char *const wr[] = {
		"add", "commit", "checkout", "switch", "restore", "stash",
		"merge", "rebase", "cherry-pick", "revert", "init", "mv",
		"apply", "am", "tag", "branch", "config", "worktree", "notes",
		"bisect", "format-patch", "archive", "gc", "prune", NULL};
	static const char *const net[] = {"clone", "fetch", "pull", "push",
	                                  "ls-remote", "remote", "submodule",
	                                  "send-email", "request-pull", NULL};
	const char *name = x->r->name;
	size_t i = 1;
	while (i < x->argc && arg(x, i)[0] == '-') {
		if (is(arg(x, i), "-C") || is(arg(x, i), "-c"))
			i++;
		i++;
	}
	const char *sub = arg(x, i);
	if (!sub)
		{ add(x, L_INFO, C_READ, "%s: prints usage", name); return; }
	int force = 0, hard = 0, listing = 1;
	for (size_t k = i + 1; k < x->argc; k++) {
		const char *a = arg(x, k);
		if (has_opt(a, 'f', "force") || !strncmp(a, "--force", 7) ||
		    (a[0] == '+' && is(sub, "push")))
			force = 1;
		if (is(a, "--hard") || has_opt(a, 'D', NULL) ||
		    has_opt(a, 'd', "delete"))
			hard = 1;
		if (a[0] != '-')
			listing = 0;
	}
	if (is(sub, "clean"))
		{ add(x, force ? L_APPROVAL : L_INFO, C_DESTROY,
		           "%s clean: deletes untracked files", name); return; }
	if (is(sub, "reset"))
		{ add(x, hard ? L_APPROVAL : L_DEFAULT,
		           hard ? C_DESTROY : C_WRITE,
		           "%s reset%s: moves the branch%s", name,
		           hard ? " --hard" : "",
		           hard ? " and discards uncommitted work" : ""); return; }
	if (is(sub, "rm"))
		{ add(x, L_APPROVAL, C_DESTROY, "%s rm: deletes files",
		           name); return; }
	if (in_list(sub, ro) || ((is(sub, "branch") || is(sub, "tag") ||
	                          is(sub, "remote") || is(sub, "stash") ||
	                          is(sub, "config")) &&
	                         listing && !hard))
		{ add(x, L_INFO, C_READ, "%s %s: reads the repository",
		           name, sub); return; }
	if (in_list(sub, net)) {
		if (force)
			add(x, L_APPROVAL, C_DESTROY, "%s %s --force: can "
			    "overwrite remote history", name, sub);
		{ add(x, L_DEFAULT, C_NET | C_WRITE, "%s %s: talks to a "
		           "remote repository", name, sub); return; }
	}
	if (in_list(sub, wr))
		{ add(x, hard ? L_APPROVAL : L_DEFAULT,
		           hard ? C_DESTROY : C_WRITE,
		           "%s %s: changes the repository", name, sub); return; }
	add(x, L_DEFAULT, C_UNKNOWN, "%s %s: an unknown git command", name,
	    sub);
}

static void h_kill(struct ctx *x)
{
	const char *name = x->r->name;
	for (size_t i = 1; i < x->argc; i++) {
		const char *a = arg(x, i);
		if (is(name, "kill") && (is(a, "-1") || is(a, "1")) &&
		    i + 1 >= x->argc)
			{ add(x, L_HARD, C_DESTROY, "%s: %s kills every "
			           "process (or init)", name, a); return; }
	}
	add(x, L_APPROVAL, C_DESTROY, "%s: stops processes", name);
}

static void h_eval(struct ctx *x)
{
	const char *name = x->r->name;
	struct {
		char *p;
		size_t len;
	} b = {NULL, 0};
	size_t total = 1;
	for (size_t i = 1; i < x->argc; i++) {
		const struct sh_word *w = &x->argv[i];
		if (subs_fetch(w))
			{ add(x, L_HARD, C_EXEC | C_NET, "%s: runs code "
			           "downloaded from the network", name); return; }
		if (w->flags & W_DYNAMIC)
			{ add(x, L_NEVER, C_EXEC, "%s: runs code computed "
			           "at run time (%s)", name, w->text); return; }
		total += strlen(w->text) + 1;
	}
	b.p = sh_alloc(x->ck->A, total);
	for (size_t i = 1; i < x->argc; i++) {
		if (i > 1)
			b.p[b.len++] = ' ';
		size_t n = strlen(x->argv[i].text);
		memcpy(b.p + b.len, x->argv[i].text, n);
		b.len += n;
	}
	add(x, L_APPROVAL, C_EXEC, "%s: evaluates its arguments as shell code",
	    name);
	analyse_text(x, b.p, "eval");
}

static void h_source(struct ctx *x)
{
	const struct sh_word *w = x->argc > 1 ? &x->argv[1] : NULL;
	if (w && subs_fetch(w))
		{ add(x, L_HARD, C_EXEC | C_NET, "%s: runs code downloaded "
		           "from the network", x->r->name); return; }
	add(x, L_APPROVAL, C_EXEC, "%s: runs the shell file %s in this shell",
	    x->r->name, w ? w->text : "?");
}

static void h_decoder(struct ctx *x)
{
	const char *name = x->r->name;
	int decode = 0;
	for (size_t i = 1; i < x->argc; i++) {
		const char *a = arg(x, i);
		if (has_opt(a, 'd', "decode") || is(a, "-D") ||
		    (is(name, "xxd") && has_opt(a, 'r', "revert")))
			decode = 1;
		if (a[0] != '-')
			check_read(x, &x->argv[i]);
	}
	if (is(name, "uudecode") || is(name, "rev"))
		decode = 1;
	if (!decode)
		{ add(x, L_INFO, C_READ, "%s: encodes data", name); return; }
	x->r->traits |= T_DECODE;
	add(x, L_INFO, C_READ, "%s: decodes data", name);
	if (!x->in_text)
		return;
	/* decode what is known, so a shell it feeds can be checked */
	const char *in = x->in_text;
	size_t n = strlen(in);
	char *out = sh_alloc(x->ck->A, n + 1);
	size_t o = 0;
	if (is(name, "rev")) {
		const char *line = in;
		while (*line) {
			const char *e = strchr(line, '\n');
			size_t len = e ? (size_t)(e - line) : strlen(line);
			for (size_t k = len; k > 0; k--)
				out[o++] = line[k - 1];
			if (!e)
				break;
			out[o++] = '\n';
			line = e + 1;
		}
	} else if (is(name, "base64")) {
		static const char tbl[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		unsigned v = 0;
		int bits = 0;
		for (size_t k = 0; k < n; k++) {
			const char *p = in[k] ? strchr(tbl, in[k]) : NULL;
			if (!p) {
				if (in[k] == '=' || isspace((unsigned char)in[k]))
					continue;
				return; /* not base64: unknown */
			}
			v = (v << 6) | (unsigned)(p - tbl);
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				out[o++] = (char)((v >> bits) & 0xff);
			}
		}
	} else {
		return;
	}
	out[o] = '\0';
	if (strlen(out) != o)
		return; /* binary */
	x->r->out_text = out;
	x->r->traits &= ~(unsigned)T_DECODE; /* known now: checked as text */
}

static void h_echo(struct ctx *x)
{
	struct sh_word *ws = (struct sh_word *)x->argv;
	size_t total = 1;
	int dynamic = 0;
	for (size_t i = 1; i < x->argc; i++) {
		total += strlen(ws[i].text) + 1;
		if (ws[i].flags & W_DYNAMIC)
			dynamic = 1;
	}
	add(x, L_INFO, C_READ, "%s: prints text", x->r->name);
	if (dynamic)
		return;
	char *out = sh_alloc(x->ck->A, total);
	size_t o = 0, i = 1;
	if (is(x->r->name, "echo"))
		while (i < x->argc && (is(ws[i].text, "-n") ||
		                       is(ws[i].text, "-e") ||
		                       is(ws[i].text, "-E")))
			i++;
	else if (x->argc > 2 || (x->argc == 2 && strchr(ws[1].text, '%')))
		return;
	for (; i < x->argc; i++) {
		if (o)
			out[o++] = ' ';
		size_t n = strlen(ws[i].text);
		memcpy(out + o, ws[i].text, n);
		o += n;
	}
	out[o] = '\0';
	x->r->out_text = out;
}

static void h_readers(struct ctx *x)
{
	static const char *const val[] = {"-n", "-c", "-e", "-f", "-m", "-A",
	                                  "-B", "-C", "-d", "-t", "-k", NULL};
	size_t idx[256];
	size_t n = operands(x, 1, idx, 256, val);
	for (size_t k = 0; k < n; k++)
		check_read(x, &x->argv[idx[k]]);
	if (!n && is(x->r->name, "cat"))
		x->r->out_text = x->in_text;
	add(x, L_INFO, C_READ, "%s: reads", x->r->name);
}

static void h_systemctl(struct ctx *x)
{
	static const char *const power[] = {"poweroff", "reboot", "halt",
	                                    "kexec", "suspend", "hibernate",
	                                    "rescue", "emergency", NULL};
	static const char *const ro[] = {"status", "show", "list-units",
	                                 "list-unit-files", "is-active",
	                                 "is-enabled", "is-failed", "cat",
	                                 "list-timers", NULL};
	const char *sub = NULL;
	for (size_t i = 1; i < x->argc && !sub; i++)
		if (arg(x, i)[0] != '-')
			sub = arg(x, i);
	if (in_list(sub, power))
		{ add(x, L_HARD, C_DESTROY, "%s %s: stops or restarts the "
		           "machine", x->r->name, sub); return; }
	if (!sub || in_list(sub, ro))
		{ add(x, L_INFO, C_READ, "%s: reads service state",
		           x->r->name); return; }
	add(x, L_DENY, C_PRIV, "%s %s: changes system services", x->r->name,
	    sub);
}

static void h_pkg(struct ctx *x)
{
	static const char *const ro[] = {"list", "show", "search", "info",
	                                 "freeze", "policy", "-v", "--version",
	                                 "help", "check", "outdated",
	                                 "madison", "depends", "view", "ls",
	                                 NULL};
	const char *sub = NULL;
	for (size_t i = 1; i < x->argc && !sub; i++)
		if (arg(x, i)[0] != '-' || is(arg(x, i), "--version"))
			sub = arg(x, i);
	if (!sub || in_list(sub, ro))
		{ add(x, L_INFO, C_READ, "%s: reads package information",
		           x->r->name); return; }
	if (is(sub, "remove") || is(sub, "purge") || is(sub, "uninstall") ||
	    is(sub, "autoremove") || is(sub, "erase"))
		{ add(x, L_APPROVAL, C_DESTROY | C_WRITE, "%s %s: removes "
		           "packages", x->r->name, sub); return; }
	if (is(sub, "run") || is(sub, "test") || is(sub, "exec") ||
	    is(sub, "start") || is(sub, "x"))
		{ add(x, L_APPROVAL, C_EXEC, "%s %s: runs project code",
		           x->r->name, sub); return; }
	add(x, L_APPROVAL, C_NET | C_WRITE, "%s %s: installs or changes "
	    "packages from the network", x->r->name, sub);
}

static void h_crontab(struct ctx *x)
{
	for (size_t i = 1; i < x->argc; i++)
		if (has_opt(arg(x, i), 'r', NULL))
			{ add(x, L_APPROVAL, C_DESTROY, "%s -r: deletes "
			           "the cron table", x->r->name); return; }
	for (size_t i = 1; i < x->argc; i++)
		if (is(arg(x, i), "-l"))
			{ add(x, L_INFO, C_READ, "%s -l: lists jobs",
			           x->r->name); return; }
	add(x, L_APPROVAL, C_EXEC | C_WRITE, "%s: installs jobs that run later",
	    x->r->name);
}

static void h_sysctl(struct ctx *x)
{
	for (size_t i = 1; i < x->argc; i++)
		if (has_opt(arg(x, i), 'w', "write") || strchr(arg(x, i), '=') ||
		    has_opt(arg(x, i), 'p', "load"))
			{ add(x, L_DENY, C_PRIV, "%s: changes kernel "
			           "settings", x->r->name); return; }
	add(x, L_INFO, C_READ, "%s: reads kernel settings", x->r->name);
}

static void h_priv(struct ctx *x)
{
	add(x, L_DENY, C_PRIV, "%s: changes users, permissions, mounts or the "
	    "kernel (privilege change)", x->r->name);
}

static void h_power(struct ctx *x)
{
	if (is(x->r->name, "init") || is(x->r->name, "telinit")) {
		const char *a = arg(x, 1);
		if (!is(a, "0") && !is(a, "6"))
			{ h_priv(x); return; }
	}
	add(x, L_HARD, C_DESTROY, "%s: stops or restarts the machine",
	    x->r->name);
}

static void h_build(struct ctx *x)
{
	add(x, L_APPROVAL, C_EXEC, "%s: runs build or test code", x->r->name);
}

static void h_compiler(struct ctx *x)
{
	for (size_t i = 1; i + 1 < x->argc; i++)
		if (is(arg(x, i), "-o"))
			check_write(x, &x->argv[i + 1]);
	add(x, L_DEFAULT, C_WRITE, "%s: compiles (writes object files)",
	    x->r->name);
}

static void h_ssh(struct ctx *x)
{
	add(x, L_APPROVAL, C_NET | C_EXEC, "%s: runs commands on or copies "
	    "files to a remote host", x->r->name);
}

static void h_tee(struct ctx *x)
{
	h_write_operands(x, 0, NULL);
}

static void h_touch(struct ctx *x)
{
	static const char *const val[] = {"-d", "-t", "-r", "-m", NULL};
	h_write_operands(x, 0, val);
}

static void h_truncate(struct ctx *x)
{
	static const char *const val[] = {"-s", "--size", "-r",
	                                  "--reference", NULL};
	size_t idx[256];
	size_t n = operands(x, 1, idx, 256, val);
	for (size_t k = 0; k < n; k++)
		check_delete(x, &x->argv[idx[k]], 0, "truncates");
}

static void h_net(struct ctx *x)
{
	add(x, L_DEFAULT, C_NET, "%s: queries the network", x->r->name);
}

static void h_cd(struct ctx *x)
{
	struct checker *ck = x->ck;
	const struct sh_word *w = x->argc > 1 ? &x->argv[x->argc - 1] : NULL;
	add(x, L_INFO, C_READ, "%s: changes directory", x->r->name);
	if (w && (w->flags & W_DYNAMIC || is(w->text, "-"))) {
		ck->cwd = NULL;
		ck->cwd_lost = 1;
		return;
	}
	char p[4096];
	path_norm(ck->cwd, w ? w->text : "~", p, sizeof p);
	if (p[0] == '.') {
		ck->cwd = NULL; /* still relative to an unknown start */
		return;
	}
	ck->cwd = sh_strdup(ck->A, p);
	ck->cwd_lost = 0;
}

static void h_read(struct ctx *x)
{
	add(x, L_INFO, C_READ, "%s: read-only", x->r->name);
}

typedef void (*handler_fn)(struct ctx *x);

struct entry {
	const char *name;
	handler_fn fn;
};

static const struct entry table[] = {
	{"rm", h_rm}, {"rmdir", h_rm}, {"unlink", h_rm}, {"shred", h_shred},
	{"wipefs", h_disk}, {"fdisk", h_disk}, {"sfdisk", h_disk},
	{"cfdisk", h_disk}, {"parted", h_disk}, {"gdisk", h_disk},
	{"sgdisk", h_disk}, {"blkdiscard", h_disk}, {"mkswap", h_disk},
	{"cryptsetup", h_disk}, {"hdparm", h_disk}, {"mke2fs", h_disk},
	{"dd", h_dd}, {"find", h_find}, {"chmod", h_perm}, {"chown", h_perm},
	{"chgrp", h_perm}, {"cp", h_copy}, {"mv", h_copy}, {"ln", h_copy},
	{"install", h_copy}, {"rsync", h_copy}, {"sed", h_sed},
	{"awk", h_awk}, {"gawk", h_awk}, {"mawk", h_awk}, {"nawk", h_awk},
	{"curl", h_curl}, {"wget", h_curl}, {"nc", h_netcat},
	{"ncat", h_netcat}, {"netcat", h_netcat}, {"socat", h_netcat},
	{"telnet", h_netcat}, {"git", h_git}, {"kill", h_kill},
	{"killall", h_kill}, {"pkill", h_kill}, {"eval", h_eval},
	{"source", h_source}, {".", h_source}, {"base64", h_decoder},
	{"base32", h_decoder}, {"xxd", h_decoder}, {"uudecode", h_decoder},
	{"rev", h_decoder}, {"echo", h_echo}, {"printf", h_echo},
	{"systemctl", h_systemctl}, {"service", h_priv},
	{"apt", h_pkg}, {"apt-get", h_pkg}, {"dnf", h_pkg}, {"yum", h_pkg},
	{"apk", h_pkg}, {"pip", h_pkg}, {"pip3", h_pkg}, {"npm", h_pkg},
	{"yarn", h_pkg}, {"pnpm", h_pkg}, {"gem", h_pkg}, {"dpkg", h_pkg},
	{"rpm", h_pkg}, {"snap", h_pkg}, {"cargo", h_pkg}, {"go", h_pkg},
	{"crontab", h_crontab}, {"at", h_crontab}, {"sysctl", h_sysctl},
	{"passwd", h_priv}, {"chpasswd", h_priv}, {"useradd", h_priv},
	{"userdel", h_priv}, {"usermod", h_priv}, {"adduser", h_priv},
	{"deluser", h_priv}, {"groupadd", h_priv}, {"gpasswd", h_priv},
	{"visudo", h_priv}, {"setcap", h_priv}, {"chattr", h_priv},
	{"mount", h_priv}, {"umount", h_priv}, {"swapon", h_priv},
	{"swapoff", h_priv}, {"modprobe", h_priv}, {"insmod", h_priv},
	{"rmmod", h_priv}, {"iptables", h_priv}, {"ip6tables", h_priv},
	{"nft", h_priv}, {"ufw", h_priv}, {"setenforce", h_priv},
	{"nsenter", h_priv}, {"unshare", h_priv}, {"capsh", h_priv},
	{"newgrp", h_priv}, {"sg", h_priv}, {"shutdown", h_power},
	{"reboot", h_power}, {"halt", h_power}, {"poweroff", h_power},
	{"init", h_power}, {"telinit", h_power}, {"make", h_build},
	{"cmake", h_build}, {"ctest", h_build}, {"ninja", h_build},
	{"meson", h_build}, {"pytest", h_build}, {"pytest-3", h_build},
	{"tox", h_build}, {"prove", h_build}, {"mvn", h_build},
	{"gradle", h_build}, {"gcc", h_compiler}, {"cc", h_compiler},
	{"g++", h_compiler}, {"c++", h_compiler}, {"clang", h_compiler},
	{"clang++", h_compiler}, {"ssh", h_ssh}, {"scp", h_ssh},
	{"sftp", h_ssh}, {"tee", h_tee}, {"touch", h_touch},
	{"mkdir", h_touch}, {"truncate", h_truncate},
	{"cat", h_readers}, {"head", h_readers}, {"tail", h_readers},
	{"less", h_readers}, {"more", h_readers}, {"grep", h_readers},
	{"egrep", h_readers}, {"fgrep", h_readers}, {"rg", h_readers},
	{"strings", h_readers}, {"od", h_readers}, {"hexdump", h_readers},
	{"wc", h_readers}, {"nl", h_readers}, {"tac", h_readers},
	{"md5sum", h_readers}, {"sha1sum", h_readers},
	{"sha256sum", h_readers}, {"sha512sum", h_readers},
	{"file", h_readers}, {"stat", h_readers}, {"diff", h_readers},
	{"cmp", h_readers}, {"sort", h_readers}, {"uniq", h_readers},
	{"cut", h_readers}, {"jq", h_readers}, {"cd", h_cd},
	{"pushd", h_cd}, {"ping", h_net},
	{"dig", h_net}, {"nslookup", h_net}, {"host", h_net}, {"whois", h_net},
	{"traceroute", h_net}, {"tracepath", h_net}, {"ftp", h_netcat},
	{NULL, NULL}};

static const char *const read_only[] = {
	"ls", "pwd", "whoami", "id", "date", "uname", "du", "df", "which",
	"whereis", "type", "hostname", "uptime", "free", "ps", "pgrep",
	"printenv", "comm", "tree", "basename", "dirname", "realpath",
	"readlink", "cksum", "true", "false", "test", "[", "[[", "seq",
	"sleep", "column", "fold", "fmt", "expand", "unexpand", "paste",
	"join", "tr", "yes", "popd", "exit", "return", "shift",
	":", "set", "unset", "export", "declare", "local", "readonly",
	"typeset", "read", "wait", "jobs", "history", "alias", "man", "help",
	"info", "locate", "lsof", "top", "htop", "vmstat", "iostat", "lsblk",
	"blkid", "lscpu", "lsmod", "env", "getconf", "tput", "clear", "nproc",
	"arch", "groups", "last", "w", "who", "dmesg", "journalctl", "cal",
	"bc", "expr", "let", "mapfile", "readarray", "shopt", "trap",
	"umask", "hash", "command", "python3-config", NULL};

/* Commands that run another command (argv after their options). */
static size_t unwrap(struct ctx *x, size_t i, const char **wrapper)
{
	const char *n = arg(x, i);
	*wrapper = NULL;
	if (!n)
		return i;
	const char *base = strrchr(n, '/') ? strrchr(n, '/') + 1 : n;
	static const char *const priv[] = {"sudo", "doas", "pkexec", "run0",
	                                   NULL};
	static const char *const simple[] = {"nohup", "time", "builtin",
	                                     "exec", "setsid", "unbuffer",
	                                     "stdbuf", "nice", "ionice",
	                                     "chrt", "taskset", "timeout",
	                                     "busybox", "command", "caffeinate",
	                                     "strace", "ltrace", "faketime",
	                                     "firejail", "chroot", "watch",
	                                     "flock", NULL};
	if (in_list(base, priv)) {
		*wrapper = base;
		size_t k = i + 1;
		static const char *const val[] = {"-u", "-g", "-p", "-C", "-h",
		                                  "-U", "-r", "-t", "-D",
		                                  "--user", "--group", NULL};
		while (k < x->argc && arg(x, k)[0] == '-') {
			if (is(arg(x, k), "--")) {
				k++;
				break;
			}
			if (in_list(arg(x, k), val))
				k++;
			k++;
		}
		return k;
	}
	if (is(base, "su")) {
		*wrapper = base;
		return x->argc; /* -c handled by the caller */
	}
	if (is(base, "env")) {
		size_t k = i + 1;
		while (k < x->argc && (arg(x, k)[0] == '-' ||
		                       strchr(arg(x, k), '='))) {
			if (is(arg(x, k), "-u") || is(arg(x, k), "-C") ||
			    is(arg(x, k), "-S"))
				k++;
			k++;
		}
		if (k >= x->argc)
			return i; /* plain env: prints the environment */
		*wrapper = base;
		return k;
	}
	if (is(base, "command") && (is(arg(x, i + 1), "-v") ||
	                            is(arg(x, i + 1), "-V")))
		return i;
	if (in_list(base, simple)) {
		*wrapper = base;
		size_t k = i + 1;
		while (k < x->argc && arg(x, k)[0] == '-') {
			if (is(arg(x, k), "-n") || is(arg(x, k), "-c") ||
			    is(arg(x, k), "-o") || is(arg(x, k), "-e") ||
			    is(arg(x, k), "-s") || is(arg(x, k), "-k") ||
			    is(arg(x, k), "-p"))
				k++;
			k++;
		}
		if (is(base, "timeout") || is(base, "chroot") ||
		    is(base, "taskset") || is(base, "flock") ||
		    is(base, "chrt"))
			k++; /* DURATION / NEWROOT / MASK / LOCKFILE / PRIO */
		return k;
	}
	return i;
}

static void classify(struct ctx *x)
{
	const char *name = x->r->name;
	for (const struct entry *e = table; e->name; e++)
		if (!strcmp(e->name, name))
			{ e->fn(x); return; }
	if (!strncmp(name, "mkfs", 4))
		{ h_disk(x); return; }
	if (in_list(name, shells))
		{ h_shell(x); return; }
	if (is_interp(name))
		{ h_interp(x); return; }
	if (in_list(name, read_only))
		{ h_read(x); return; }
	if (is(name, "xargs"))
		return; /* handled by the caller */
	add(x, L_DEFAULT, C_UNKNOWN, "%s: not a command this validator "
	    "knows", name);
}

static void xargs(struct ctx *x, size_t i)
{
	static const char *const val[] = {"-n", "-I", "-P", "-d", "-L", "-s",
	                                  "-a", "-E", "-i", "--max-args",
	                                  "--max-procs", "--delimiter", NULL};
	size_t k = i + 1;
	while (k < x->argc && arg(x, k)[0] == '-') {
		if (in_list(arg(x, k), val))
			k++;
		k++;
	}
	if (k >= x->argc) {
		add(x, L_INFO, C_READ, "xargs: echoes its input");
		return;
	}
	struct ctx sub = *x;
	sub.argv = x->argv + k;
	sub.argc = x->argc - k;
	sub.via_xargs = 1;
	const char *n = sub.argv[0].text;
	x->r->name = strrchr(n, '/') ? strrchr(n, '/') + 1 : n;
	add(x, L_INFO, 0, "xargs: runs %s with arguments read from its input",
	    x->r->name);
	classify(&sub);
}

/* The command word: its base name, and how it was made. */
static int command_word(struct ctx *x, size_t i)
{
	const struct sh_word *w = &x->argv[i];
	const char *t = w->text;
	if (w->flags & W_DYNAMIC) {
		x->r->name = t;
		add(x, L_NEVER, C_EXEC, "%s: the command name is computed at "
		    "run time", t);
		if (subs_fetch(w))
			add(x, L_HARD, C_EXEC | C_NET, "%s: the command comes "
			    "from the network", t);
		return -1;
	}
	const char *slash = strrchr(t, '/');
	x->r->name = slash ? slash + 1 : t;
	if (w->flags & W_SUBST)
		add(x, L_NEVER, C_EXEC, "%s: the command name comes from a "
		    "command substitution", x->r->name);
	if (slash) {
		static const char *const sys[] = {"/bin/", "/usr/bin/",
		                                  "/sbin/", "/usr/sbin/",
		                                  "/usr/local/bin/",
		                                  "/usr/local/sbin/", NULL};
		int system = 0;
		for (const char *const *s = sys; *s; s++)
			if (!strncmp(t, *s, strlen(*s)) &&
			    !strchr(t + strlen(*s), '/'))
				system = 1;
		if (!system) {
			add(x, L_APPROVAL, C_EXEC, "%s: runs the program %s",
			    x->r->name, t);
			return -1;
		}
	}
	return 0;
}

static void fork_bomb(struct ctx *x)
{
	const char *fn = x->cmd->function;
	if (fn && x->argc && !strcmp(x->argv[0].text, fn))
		add(x, L_HARD, C_DESTROY, "%s: the function calls itself%s (a "
		    "fork bomb exhausts the machine)", fn,
		    x->cmd->stages > 1 || x->cmd->background
		            ? " in a pipeline or in the background"
		            : "");
}

/* Analyse argv (borrowed) as one command under `parent`'s result. */
static void analyse_words(struct ctx *x)
{
	size_t i = 0;
	const char *t = x->argv[0].text;
	x->r->name = strrchr(t, '/') && !(x->argv[0].flags & W_DYNAMIC)
	                     ? strrchr(t, '/') + 1
	                     : t;
	for (int hops = 0; hops < 16 && i < x->argc; hops++) {
		const char *wrapper;
		size_t next = unwrap(x, i, &wrapper);
		if (!wrapper)
			break;
		if (in_list(wrapper, (const char *const[]){"sudo", "doas",
		                                           "pkexec", "run0",
		                                           "su", NULL})) {
			add(x, L_DENY, C_PRIV, "%s: runs a command as another "
			    "user (privilege change)", wrapper);
			if (is(wrapper, "su")) {
				for (size_t k = i + 1; k + 1 < x->argc; k++)
					if (is(arg(x, k), "-c")) {
						x->r->name = "su";
						analyse_text(x, x->argv[k + 1].text,
						             "su -c");
					}
				return;
			}
			if (next >= x->argc) {
				add(x, L_DENY, C_PRIV, "%s: opens a root shell",
				    wrapper);
				return;
			}
		} else if (is(wrapper, "chroot")) {
			add(x, L_DENY, C_PRIV, "chroot: changes the root "
			    "directory (privilege)");
		} else if (is(wrapper, "watch")) {
			/* watch joins its arguments into a shell command */
			x->r->name = "watch";
			add(x, L_APPROVAL, C_EXEC, "watch: runs a command "
			    "repeatedly");
			for (size_t k = next; k < x->argc; k++)
				analyse_text(x, x->argv[k].text, "watch");
			return;
		}
		if (next >= x->argc) {
			x->r->name = wrapper;
			add(x, L_INFO, C_READ, "%s: nothing to run", wrapper);
			return;
		}
		i = next;
	}
	struct ctx sub = *x;
	sub.argv = x->argv + i;
	sub.argc = x->argc - i;
	if (sub.argc == 0)
		return;
	if (command_word(&sub, 0) < 0) {
		x->r->name = sub.r->name;
		return;
	}
	x->r->name = sub.r->name;
	fork_bomb(&sub);
	if (is(sub.r->name, "xargs"))
		{ xargs(&sub, 0); return; }
	classify(&sub);
}

static void analyse_argv(struct ctx *parent, const struct sh_word *argv,
                         size_t argc, const char *origin)
{
	struct ctx sub = *parent;
	sub.argv = argv;
	sub.argc = argc;
	sub.origin = origin;
	sub.via_xargs = 0;
	const char *keep = parent->r->name;
	analyse_words(&sub);
	parent->r->name = keep;
}

/* Shell code found inside a command: parsed and checked on its own. */
static void analyse_text(struct ctx *x, const char *text, const char *origin)
{
	struct sh_script *s = sh_parse(x->ck->A, x->ck->vars, text,
	                               strlen(text), x->depth + 1);
	if (s->error) {
		add(x, L_HARD, C_EXEC, "%s: the shell code it runs does not "
		    "parse (%s)", x->r->name, s->error);
		return;
	}
	analyse_script(x->ck, s, x->depth + 1, origin);
}

/* ---------------------------------------------------------------- policy */

/* Does pattern text `pat` (shell words, fnmatch each) prefix argv? */
static int pattern_match(struct checker *ck, const char *pat,
                         const struct sh_word *argv, size_t argc)
{
	struct sh_vars *v = sh_vars_new(ck->A);
	struct sh_script *s = sh_parse(ck->A, v, pat, strlen(pat), 0);
	if (s->error || s->ncmds != 1 || !s->cmds[0].argc)
		return 0;
	const struct sh_cmd *p = &s->cmds[0];
	if (p->argc > argc)
		return 0;
	for (size_t i = 0; i < p->argc; i++) {
		const char *t = argv[i].text;
		if (i == 0 && strrchr(t, '/'))
			t = strrchr(t, '/') + 1;
		if (fnmatch(p->argv[i].text, t, 0) != 0)
			return 0;
	}
	return 1;
}

/* A deny rule matches the command or what a wrapper runs (sudo rm...);
 * an allow rule only the whole command, so sudo stays sudo. */
static const char *list_match(struct checker *ck, const json_t *list,
                              const struct sh_cmd *c, size_t positions)
{
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v) {
		const char *pat = json_string_value(v);
		if (!pat || !c->argc)
			continue;
		for (size_t k = 0; k < c->argc && k < positions; k++)
			if (pattern_match(ck, pat, c->argv + k, c->argc - k))
				return pat;
	}
	return NULL;
}

static int level_verdict(const struct checker *ck, int level)
{
	switch (level) {
	case L_INFO:
		return V_ALLOW;
	case L_DEFAULT:
		return ck->pol->fallback;
	case L_APPROVAL:
	case L_NEVER:
		return V_APPROVAL;
	default:
		return V_DENY;
	}
}

static void quote_word(char *out, size_t len, size_t *o, const char *w)
{
	int plain = *w != '\0';
	for (const char *p = w; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_./=:,+@%^~", *p))
			plain = 0;
	if (*o && *o < len)
		out[(*o)++] = ' ';
	if (plain) {
		*o += (size_t)snprintf(out + *o, len > *o ? len - *o : 0, "%s",
		                       w);
	} else {
		if (*o < len)
			out[(*o)++] = '\'';
		for (const char *p = w; *p && *o + 5 < len; p++) {
			if (*p == '\'') {
				memcpy(out + *o, "'\\''", 4);
				*o += 4;
			} else {
				out[(*o)++] = *p;
			}
		}
		if (*o < len)
			out[(*o)++] = '\'';
	}
	if (*o >= len)
		*o = len - 1;
	out[*o] = '\0';
}

static json_t *class_array(unsigned cls)
{
	json_t *a = json_array();
	for (size_t i = 0; i < NCLASSES; i++)
		if (cls & (1u << i))
			json_array_append_new(a, json_string(class_names[i]));
	return a;
}

static void add_unique(json_t *arr, json_t *s)
{
	size_t i;
	json_t *v;
	if (!s)
		return;
	json_array_foreach(arr, i, v)
		if (json_equal(v, s))
			return;
	json_array_append(arr, s);
}

/* The command's verdict from its reasons and the config lists. */
static void finish(struct checker *ck, const struct sh_cmd *c,
                   struct cres *r, const char *origin)
{
	const char *denied = list_match(ck, ck->pol->deny, c, 4);
	const char *allowed = denied ? NULL
	                             : list_match(ck, ck->pol->allow, c, 1);
	int v = V_ALLOW;
	json_t *reasons = json_array();
	for (size_t i = 0; i < r->nr; i++) {
		int lv = r->r[i].level;
		int rv = level_verdict(ck, lv);
		if (allowed && lv != L_HARD && lv != L_NEVER)
			rv = V_ALLOW;
		if (rv > v)
			v = rv;
	}
	if (denied) {
		v = V_DENY;
		char buf[512];
		snprintf(buf, sizeof buf, "%s: matches the deny rule '%s'",
		         r->name ? r->name : "command", denied);
		json_array_append_new(reasons, json_string(buf));
	} else if (allowed) {
		char buf[512];
		snprintf(buf, sizeof buf, "%s: matches the allow rule '%s'",
		         r->name ? r->name : "command", allowed);
		json_array_append_new(reasons, json_string(buf));
	}
	for (size_t i = 0; i < r->nr; i++)
		json_array_append_new(reasons, json_string(r->r[i].text));
	char text[4096];
	size_t o = 0;
	text[0] = '\0';
	json_t *argv = json_array();
	for (size_t i = 0; i < c->nassigns; i++)
		quote_word(text, sizeof text, &o, c->assigns[i].text);
	for (size_t i = 0; i < c->argc; i++) {
		quote_word(text, sizeof text, &o, c->argv[i].text);
		json_array_append_new(argv, json_string(c->argv[i].text));
	}
	for (size_t i = 0; i < c->nredirs; i++) {
		char rd[600];
		const struct sh_redir *rr = &c->redirs[i];
		if (rr->fd >= 0)
			snprintf(rd, sizeof rd, "%d%s%s", rr->fd, rr->op,
			         rr->target.text);
		else
			snprintf(rd, sizeof rd, "%s%s", rr->op, rr->target.text);
		if (o + strlen(rd) + 2 < sizeof text)
			o += (size_t)snprintf(text + o, sizeof text - o, "%s%s",
			                      o ? " " : "", rd);
	}
	json_t *cls = class_array(r->classes);
	json_t *cmd = json_pack("{s:s, s:o, s:o, s:s, s:o}", "command", text,
	                        "argv", argv, "classes", cls, "verdict",
	                        verdict_name(v), "reasons", reasons);
	if (origin)
		json_object_set_new(cmd, "origin", json_string(origin));
	json_array_append_new(ck->commands, cmd);
	ck->classes |= r->classes;
	if (v > ck->verdict) {
		ck->verdict = v;
		json_array_clear(ck->reasons);
	}
	if (v == ck->verdict) {
		/* at the line level, only the reasons that decided it */
		if (denied || allowed)
			add_unique(ck->reasons, json_array_get(reasons, 0));
		for (size_t i = 0; i < r->nr; i++) {
			int rv = level_verdict(ck, r->r[i].level);
			if (allowed && r->r[i].level != L_HARD &&
			    r->r[i].level != L_NEVER)
				rv = V_ALLOW;
			if (rv == v && !denied)
				add_unique(ck->reasons, json_array_get(
					reasons, i + (denied || allowed)));
		}
	}
}

/* ---------------------------------------------------------------- scripts */

static void redirections(struct ctx *x)
{
	const struct sh_cmd *c = x->cmd;
	int shell = x->r->name && in_list(x->r->name, shells);
	for (size_t i = 0; i < c->nredirs; i++) {
		const struct sh_redir *r = &c->redirs[i];
		const char *op = r->op;
		if (!strcmp(op, "<<") || !strcmp(op, "<<-") ||
		    !strcmp(op, "<<<"))
			continue;
		if ((!strcmp(op, ">&") || !strcmp(op, "<&")) &&
		    (isdigit((unsigned char)r->target.text[0]) ||
		     !strcmp(r->target.text, "-")))
			continue;
		char p[4096];
		path_norm(NULL, r->target.text, p, sizeof p);
		if (!strncmp(p, "/dev/tcp/", 9) || !strncmp(p, "/dev/udp/", 9)) {
			if (shell || x->r->traits & T_STDIN_EXEC)
				add(x, L_HARD, C_NET | C_EXEC, "%s: connects a "
				    "shell to %s (a reverse shell)", x->r->name,
				    r->target.text);
			else
				add(x, L_DEFAULT, C_NET, "%s: opens a network "
				    "connection through %s",
				    x->r->name ? x->r->name : "redirection",
				    r->target.text);
			continue;
		}
		if (op[0] == '<' && strcmp(op, "<>"))
			check_read(x, &r->target);
		else
			check_write(x, &r->target);
	}
}

/* The standard input of a command, when known: heredoc, here-string, or
 * the known output of the stage before it. */
static const char *known_stdin(const struct sh_cmd *c, size_t ci,
                               const struct sh_script *s,
                               struct cres *res)
{
	for (size_t i = 0; i < c->nredirs; i++) {
		const struct sh_redir *r = &c->redirs[i];
		if ((!strcmp(r->op, "<<") || !strcmp(r->op, "<<-")) &&
		    r->heredoc)
			return r->heredoc;
		if (!strcmp(r->op, "<<<") && !(r->target.flags & W_DYNAMIC))
			return r->target.text;
	}
	if (c->stage == 0)
		return NULL;
	const char *t = NULL;
	int n = 0;
	for (size_t j = 0; j < ci; j++)
		if (s->cmds[j].pipeline == c->pipeline &&
		    s->cmds[j].stage == c->stage - 1) {
			t = res[j].out_text;
			n++;
		}
	return n == 1 ? t : NULL;
}

/* Data flowing into a code runner from a fetcher or decoder. */
static void pipeline_checks(struct ctx *x, const struct sh_script *s,
                            size_t ci, struct cres *res)
{
	const struct sh_cmd *c = &s->cmds[ci];
	if (!(x->r->traits & (T_STDIN_EXEC | T_SEND)))
		return;
	for (size_t j = 0; j < ci; j++) {
		const struct sh_cmd *p = &s->cmds[j];
		int before = (p->pipeline == c->pipeline && p->stage < c->stage) ||
		             (p->gpipeline == c->gpipeline &&
		              p->gstage < c->gstage);
		if (!before)
			continue;
		const char *pn = res[j].name ? res[j].name : "?";
		if ((x->r->traits & T_STDIN_EXEC) && (res[j].traits & T_FETCH))
			add(x, L_HARD, C_EXEC | C_NET, "%s: runs code downloaded "
			    "by %s (%s | %s)", x->r->name, pn, pn, x->r->name);
		else if ((x->r->traits & T_STDIN_EXEC) &&
		         (res[j].traits & T_DECODE))
			add(x, L_HARD, C_EXEC, "%s: runs code decoded by %s "
			    "(obfuscated code)", x->r->name, pn);
		if ((x->r->traits & T_SEND) && (res[j].traits & T_SENSITIVE))
			add(x, L_HARD, C_NET, "%s: sends a secret file read by %s "
			    "over the network", x->r->name, pn);
	}
}

static void analyse_cmd(struct checker *ck, const struct sh_script *s,
                        size_t ci, struct cres *res, int depth,
                        const char *origin)
{
	const struct sh_cmd *c = &s->cmds[ci];
	struct cres *r = &res[ci];
	struct ctx x = {.ck = ck, .cmd = c, .argv = c->argv, .argc = c->argc,
	                .r = r, .depth = depth, .origin = origin};
	x.in_text = known_stdin(c, ci, s, res);
	if (c->argc == 0) {
		r->name = c->nredirs ? "redirection" : "assignment";
		if (!c->nredirs)
			add(&x, L_INFO, 0, "assignment: sets shell variables");
	} else {
		analyse_words(&x);
	}
	redirections(&x);
	pipeline_checks(&x, s, ci, res);
	if (!r->classes && !r->nr)
		add(&x, L_INFO, C_READ, "%s: no effect", r->name);
	finish(ck, c, r, origin);
}

/* Scripts of substitutions inside a command's words run first. */
static void analyse_subs(struct checker *ck, const struct sh_word *w,
                         size_t n, int depth)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < w[i].nsubs; k++)
			analyse_script(ck, w[i].subs[k], depth + 1,
			               (w[i].flags & W_PROCSUB)
			                       ? "process substitution"
			                       : "command substitution");
}

static void analyse_script(struct checker *ck, struct sh_script *s,
                           int depth, const char *origin)
{
	if (s->error) {
		struct cres r = {.name = "parse"};
		struct ctx x = {.ck = ck, .r = &r};
		add(&x, L_HARD, 0, "the command line does not parse: %s",
		    s->error);
		struct sh_cmd none = {0};
		finish(ck, &none, &r, origin);
		return;
	}
	struct cres *res = sh_alloc(ck->A, (s->ncmds + 1) * sizeof *res);
	for (size_t i = 0; i < s->ncmds; i++) {
		const struct sh_cmd *c = &s->cmds[i];
		if (--ck->budget < 0) {
			struct ctx x = {.ck = ck, .r = &res[i]};
			res[i].name = "limit";
			add(&x, L_HARD, 0, "the command line expands into too "
			    "many commands to check");
			finish(ck, c, &res[i], origin);
			return;
		}
		analyse_subs(ck, c->assigns, c->nassigns, depth);
		analyse_subs(ck, c->argv, c->argc, depth);
		for (size_t k = 0; k < c->nredirs; k++)
			analyse_subs(ck, &c->redirs[k].target, 1, depth);
		analyse_cmd(ck, s, i, res, depth, origin);
	}
}

json_t *check_command(const char *line, size_t len,
                      const struct check_policy *pol)
{
	struct sh_arena *A = sh_arena_new();
	if (!A)
		return NULL;
	struct checker ck = {.A = A, .vars = sh_vars_new(A), .pol = pol,
	                     .commands = json_array(), .verdict = V_ALLOW,
	                     .reasons = json_array(), .budget = 512,
	                     .cwd = pol->cwd};
	struct sh_script *s = sh_parse(A, ck.vars, line, len, 0);
	analyse_script(&ck, s, 0, NULL);
	if (!s->error && json_array_size(ck.commands) == 0) {
		json_array_append_new(ck.reasons,
		                      json_string("the command line is empty"));
	}
	json_t *out = json_pack("{s:s, s:o, s:o, s:o}", "verdict",
	                        verdict_name(ck.verdict), "classes",
	                        class_array(ck.classes), "reasons", ck.reasons,
	                        "commands", ck.commands);
	sh_arena_free(A);
	return out;
}
