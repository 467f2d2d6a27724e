/*
 * mcpctl: command line, global options and dispatch. The synopsis and exit
 * codes are documented in README.md ("mcpctl"); keep the two in step.
 *
 * Options may come before or after the command ("mcpctl get ID --json"),
 * as "--opt value" or "--opt=value"; "--" ends them, and "-" is an
 * argument (standard input).
 */
#include "mcpctl-internal.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_URL "http://127.0.0.1:8080"
#define BIT(o) (1u << (o))

static const struct {
	const char *name;
	int has_arg;
} optdefs[OPT_COUNT] = {
	[OPT_URL] = { "--url", 1 },
	[OPT_JSON] = { "--json", 0 },
	[OPT_HELP] = { "--help", 0 },
	[OPT_VERSION] = { "--version", 0 },
	[OPT_WAIT] = { "--wait", 0 },
	[OPT_PRIORITY] = { "--priority", 1 },
	[OPT_TIMEOUT_MS] = { "--timeout-ms", 1 },
	[OPT_RETRIES] = { "--retries", 1 },
	[OPT_MATCH] = { "--match", 1 },
	[OPT_IDEMPOTENCY_KEY] = { "--idempotency-key", 1 },
	[OPT_STATUS] = { "--status", 1 },
	[OPT_CAPABILITY] = { "--capability", 1 },
	[OPT_LIMIT] = { "--limit", 1 },
	[OPT_CURSOR] = { "--cursor", 1 },
	[OPT_ALL] = { "--all", 0 },
};

#define GLOBAL_OPTS (BIT(OPT_URL) | BIT(OPT_JSON) | BIT(OPT_HELP) | \
                     BIT(OPT_VERSION))

struct command {
	const char *name;
	int (*run)(struct ctl *ctl, const struct args *a);
	int min_pos, max_pos;
	const char *needs;  /* what is missing below min_pos */
	unsigned opts;      /* command options allowed beyond the global ones */
	const char *synopsis;
};

static const struct command commands[] = {
	{ "submit", cmd_submit, 1, 2, "a CAPABILITY",
	  BIT(OPT_WAIT) | BIT(OPT_PRIORITY) | BIT(OPT_TIMEOUT_MS) |
	  BIT(OPT_RETRIES) | BIT(OPT_MATCH) | BIT(OPT_IDEMPOTENCY_KEY),
	  "submit CAPABILITY [JSON|@FILE|-] [--wait] [--priority N]\n"
	  "         [--timeout-ms N] [--retries N] [--match JSON]\n"
	  "         [--idempotency-key K]" },
	{ "get", cmd_get, 1, 1, "a task ID", 0, "get ID" },
	{ "list", cmd_list, 0, 0, NULL,
	  BIT(OPT_STATUS) | BIT(OPT_CAPABILITY) | BIT(OPT_LIMIT) |
	  BIT(OPT_CURSOR) | BIT(OPT_ALL),
	  "list [--status S] [--capability C] [--limit N] [--cursor C] [--all]" },
	{ "cancel", cmd_cancel, 1, 1, "a task ID", 0, "cancel ID" },
	{ "watch", cmd_watch, 1, 1, "a task ID", 0, "watch ID" },
	{ "plugins", cmd_plugins, 0, 0, NULL, 0, "plugins" },
	{ "capabilities", cmd_capabilities, 0, 0, NULL, 0, "capabilities" },
	{ "health", cmd_health, 0, 0, NULL, 0, "health" },
	{ "reload", cmd_reload, 0, 0, NULL, BIT(OPT_WAIT), "reload [--wait]" },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fputs("usage: mcpctl [--url URL] [--json] COMMAND [ARGS]\n\n"
	      "commands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fputs("\n"
	      "  submit   queue a task; JSON is its input (default {}), @FILE\n"
	      "           reads it from a file, - from standard input; --wait\n"
	      "           waits for the task to finish and shows its result\n"
	      "  get      show a task\n"
	      "  list     list tasks, newest first (--all follows every page)\n"
	      "  cancel   cancel a queued or running task\n"
	      "  watch    follow a task's progress until it finishes\n"
	      "  plugins, capabilities, health\n"
	      "           what the daemon has loaded, and whether it is ready\n"
	      "  reload   re-read the config and plugin dirs (as SIGHUP does);\n"
	      "           --wait also waits for replaced plugins to drain;\n"
	      "           exit 4 with the failing file and reason if refused\n"
	      "\n"
	      "options:\n"
	      "  --url URL   the daemon, http://HOST:PORT[/PREFIX]\n"
	      "              (default: $MCPD_URL, else " DEFAULT_URL ")\n"
	      "  --json      print the server's JSON, for scripts\n"
	      "  --help      this text\n"
	      "  --version   the version of mcpctl\n"
	      "\n"
	      "environment:\n"
	      "  MCPD_URL      the default for --url\n"
	      "  MCPD_API_KEY  sent as a bearer token\n"
	      "\n"
	      "exit codes:\n"
	      "  0  success\n"
	      "  1  the task failed, was cancelled or timed out\n"
	      "  2  usage error\n"
	      "  3  cannot connect\n"
	      "  4  the server answered an error\n", f);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int find_opt(const char *arg, size_t len)
{
	if (len == 2 && strncmp(arg, "-h", 2) == 0)
		return OPT_HELP;
	for (int i = 0; i < OPT_COUNT; i++)
		if (strlen(optdefs[i].name) == len &&
		    strncmp(optdefs[i].name, arg, len) == 0)
			return i;
	return -1;
}

/* Parse argv[*i], consuming its value from argv[*i + 1] if it takes one. */
static int parse_opt(int argc, char **argv, int *i, const struct command *cmd,
                     struct args *a)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	int id = find_opt(arg, len);
	unsigned allowed = GLOBAL_OPTS | (cmd ? cmd->opts : 0);

	if (id < 0 || !(allowed & BIT(id)))
		return usage_error("unknown option '%.*s'%s%s (see mcpctl --help)",
		                   (int)len, arg, cmd ? " for " : "",
		                   cmd ? cmd->name : "");
	if (!optdefs[id].has_arg) {
		if (eq)
			return usage_error("option %s takes no value",
			                   optdefs[id].name);
		a->opt[id] = "";
		return EXIT_OK;
	}
	if (eq) {
		a->opt[id] = eq + 1;
		return EXIT_OK;
	}
	if (*i + 1 >= argc)
		return usage_error("option %s needs a value", optdefs[id].name);
	a->opt[id] = argv[++*i];
	return EXIT_OK;
}

static int parse_args(int argc, char **argv, const struct command **cmd,
                      struct args *a)
{
	int only_args = 0, rc;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!only_args && strcmp(arg, "--") == 0) {
			only_args = 1;
		} else if (!only_args && arg[0] == '-' && arg[1]) {
			rc = parse_opt(argc, argv, &i, *cmd, a);
			if (rc != EXIT_OK)
				return rc;
		} else if (!*cmd) {
			*cmd = find_command(arg);
			if (!*cmd && strcmp(arg, "help") == 0)
				a->opt[OPT_HELP] = "";
			else if (!*cmd)
				return usage_error("unknown command '%s' "
				                   "(see mcpctl --help)", arg);
		} else if (a->npos == (*cmd)->max_pos) {
			return usage_error("%s: unexpected argument '%s'",
			                   (*cmd)->name, arg);
		} else {
			a->pos[a->npos++] = arg;
		}
	}
	return EXIT_OK;
}

static int setup(struct ctl *ctl, const struct args *a)
{
	const char *url = a->opt[OPT_URL];
	const char *env = getenv("MCPD_URL");
	const char *key = getenv("MCPD_API_KEY");
	char *err;

	if (!url)
		url = env && *env ? env : DEFAULT_URL;
	if (url_parse(url, &ctl->url, &err) < 0) {
		usage_error("bad URL '%s': %s", url, err);
		free(err);
		return EXIT_USAGE;
	}
	ctl->json = a->opt[OPT_JSON] != NULL;
	ctl->api_key = key && *key ? key : NULL;
	/* It goes into a header line, so it must stay on one. */
	if (ctl->api_key && strpbrk(ctl->api_key, "\r\n"))
		return usage_error("MCPD_API_KEY must be a single line");
	return EXIT_OK;
}

/* jansson allocates through us, so it never hands back NULL either. */
static void *json_alloc(size_t n)
{
	return xmalloc(n);
}

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct args a = { .npos = 0 };
	struct ctl ctl = { .json = 0 };
	int rc;

	json_set_alloc_funcs(json_alloc, free);
	rc = parse_args(argc, argv, &cmd, &a);
	if (rc != EXIT_OK)
		return rc;
	if (a.opt[OPT_HELP]) {
		usage(stdout);
		return EXIT_OK;
	}
	if (a.opt[OPT_VERSION]) {
		puts("mcpctl " MCPD_VERSION);
		return EXIT_OK;
	}
	if (!cmd)
		return usage_error("no command given (see mcpctl --help)");
	if (a.npos < cmd->min_pos)
		return usage_error("%s needs %s (see mcpctl --help)", cmd->name,
		                   cmd->needs);
	rc = setup(&ctl, &a);
	if (rc == EXIT_OK)
		rc = cmd->run(&ctl, &a);
	url_free(&ctl.url);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx("cannot write the output");
		return rc != EXIT_OK ? rc : EXIT_IO;
	}
	return rc;
}
