/*
 * mcpd-plugin-run: one plugin hosted by the daemon core, with nothing else
 * loaded, served as an MCP server on stdio -- so its author can try it
 * from any MCP client without a daemon -- or, with --check, loaded,
 * described and exited with its verdict. The daemon's out-of-process
 * isolation runs plugins through this same program.
 *
 * The plugin is reached through a private plugin directory holding a
 * symlink to it, so the core loads it the normal way (private copy, ABI,
 * descriptor and schema checks) and a SIGHUP after a rebuild reloads it.
 * That directory, and the state directory unless one is given, live in a
 * temporary directory removed at exit.
 *
 * Exit: 0; 1 when the plugin is refused or the daemon cannot start (the
 * reason on one line of stderr); 2 on a usage error.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log-internal.h"
#include "mcpd-internal.h"
#include "plugin-internal.h"

#define PROG "mcpd-plugin-run"

struct opts {
	int check;
	const char *config, *state_dir, *log_level, *plugin;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: " PROG " [--check] [--config FILE] [--state-dir DIR]\n"
	        "                       [--log-level LEVEL] PLUGIN.so\n"
	        "  Serves the capabilities of PLUGIN.so as MCP tools on\n"
	        "  stdin/stdout (logs on stderr; exits at end of input).\n"
	        "  --check          load the plugin, print its descriptor and\n"
	        "                   capabilities, and exit: 0 if it loads, 1\n"
	        "                   with the reason if it is refused\n"
	        "  --config FILE    daemon config (its plugins.NAME block\n"
	        "                   configures the plugin)\n"
	        "  --state-dir DIR  keep LMDB state there (default: a private\n"
	        "                   temporary directory, removed at exit)\n"
	        "  --log-level L    error, warn, info or debug\n"
	        "  --help, --version\n");
}

/* 0 to go on, 1 after --help or --version, 2 on a usage error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option options[] = {
		{"check", no_argument, NULL, 'c'},
		{"config", required_argument, NULL, 'f'},
		{"state-dir", required_argument, NULL, 's'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'c': o->check = 1; break;
		case 'f': o->config = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'l': o->log_level = optarg; break;
		case 'h': usage(stdout); return 1;
		case 'v':
			printf(PROG " %s (plugin ABI %d.%d)\n", MCPD_VERSION,
			       MCPD_ABI_MAJOR, MCPD_ABI_MINOR);
			return 1;
		default:
			fprintf(stderr, PROG ": unknown or incomplete option "
			        "%s\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, PROG ": %s\n", optind == argc
		        ? "which plugin? (PLUGIN.so is required)"
		        : "one plugin at a time");
		usage(stderr);
		return 2;
	}
	o->plugin = argv[optind];
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The temporary directory, with plugins/<name>.so -> the plugin. */
static int make_root(char *root, size_t len, const char *plugin)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX + 16], link[2 * PATH_MAX + 32];
	snprintf(root, len, "%s/" PROG ".XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		return -1;
	snprintf(dir, sizeof dir, "%s/plugins", root);
	const char *base = strrchr(plugin, '/');
	base = base ? base + 1 : plugin;
	size_t n = strlen(base);
	snprintf(link, sizeof link, "%s/%s%s", dir, base,
	         n > 3 && strcmp(base + n - 3, ".so") == 0 ? "" : ".so");
	return mkdir(dir, 0700) < 0 || symlink(plugin, link) < 0 ? -1 : 0;
}

static const char *yes(int v)
{
	return v ? "yes" : "no";
}

static void print_json(const char *label, const json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS |
	                                JSON_ENCODE_ANY) : NULL;
	printf("    %-16s %s\n", label, s ? s : "(none)");
	free(s);
}

/* Warnings for what loads but serves MCP clients badly. */
static int mcp_warnings(const struct capdef *c)
{
	const char *type = json_string_value(json_object_get(c->input_schema,
	                                                     "type"));
	if (type && strcmp(type, "object") == 0)
		return 0;
	fprintf(stderr, PROG ": warning: capability \"%s\": the input schema "
	        "does not say \"type\": \"object\", but MCP clients send tool "
	        "arguments as an object\n", c->name);
	return 1;
}

static void describe(const struct mcpd *d, const struct mcpd_plugin *p,
                     const char *path)
{
	printf("plugin       %s %s\n", p->name, p->version);
	printf("abi          %s (host %d.%d)\n", p->abi, MCPD_ABI_MAJOR,
	       MCPD_ABI_MINOR);
	printf("description  %s\n", p->description);
	if (p->flags & ~MCPD_PLUGIN_RESIDENT)
		printf("flags        %s0x%x\n", p->flags & MCPD_PLUGIN_RESIDENT
		       ? "resident, " : "", p->flags & ~MCPD_PLUGIN_RESIDENT);
	else
		printf("flags        %s\n", p->flags ? "resident" : "none");
	printf("file         %s\n", path);
	printf("capabilities %zu\n", p->ncaps);
	int warnings = 0;
	for (size_t i = 0; i < p->ncaps; i++) {
		const struct capdef *c = p->caps[i];
		printf("  %s %s\n", c->name, c->version ? c->version : "");
		printf("    %-16s %s\n", "title", c->title ? c->title : "(none)");
		printf("    %-16s %s\n", "description",
		       c->description ? c->description : "(none)");
		printf("    %-16s %s\n", "blocking",
		       yes(c->flags & MCPD_CAP_BLOCKING));
		if (c->max_concurrency)
			printf("    %-16s %u\n", "max_concurrency",
			       c->max_concurrency);
		else
			printf("    %-16s 0 (the host's default, %d)\n",
			       "max_concurrency", d->cfg.default_concurrency);
		print_json("attributes", c->attributes);
		print_json("input_schema", c->input_schema);
		print_json("output_schema", c->output_schema);
		warnings += mcp_warnings(c);
	}
	printf("ok           %s loads%s\n", p->name,
	       warnings ? ", with warnings (see stderr)" : "");
}

int main(int argc, char **argv)
{
	static struct mcpd d;
	struct opts o = {0};
	char real[PATH_MAX], root[PATH_MAX], plugdir[PATH_MAX + 16];
	char state[PATH_MAX + 16], err[512];
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (!realpath(o.plugin, real)) {
		fprintf(stderr, PROG ": %s: %s\n", o.plugin, strerror(errno));
		return 1;
	}
	if (make_root(root, sizeof root, real) < 0) {
		fprintf(stderr, PROG ": cannot make a temporary directory: "
		        "%s\n", strerror(errno));
		return 1;
	}
	snprintf(plugdir, sizeof plugdir, "%s/plugins", root);
	snprintf(state, sizeof state, "%s/state", root);

	/* The daemon's own flags, kept for reloads to read again. */
	char *av[12];
	int ac = 0;
	av[ac++] = PROG;
	av[ac++] = "--stdio";
	av[ac++] = "--plugin-dir";
	av[ac++] = plugdir;
	av[ac++] = "--state-dir";
	av[ac++] = o.state_dir ? (char *)o.state_dir : state;
	if (o.config) {
		av[ac++] = "--config";
		av[ac++] = (char *)o.config;
	}
	if (o.log_level || o.check) {
		av[ac++] = "--log-level";
		/* --check speaks for itself: the loader's own lines would
		 * only repeat its verdict. */
		av[ac++] = o.log_level ? (char *)o.log_level : "error";
	}
	av[ac] = NULL;

	config_init(&d.cfg);
	rc = config_from_argv(&d.cfg, ac, av, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		config_free(&d.cfg);
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		return 2;
	}
	d.argc = ac;
	d.argv = av;
	if (o.check)
		d.cfg.stdio = d.cfg.http = 0;

	if (mcpd_start(&d) < 0) {
		rc = 1;
	} else if (d.nplugins != 1 || !d.plugins[0]->loaded) {
		fprintf(stderr, PROG ": %s: refused: %s\n", real,
		        d.nplugins ? d.plugins[0]->reason : "not found");
		rc = 1;
	} else if (o.check) {
		describe(&d, d.plugins[0], real);
		rc = 0;
	} else {
		rc = mcpd_run(&d);
	}
	mcpd_free(&d);
	fflush(stdout);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
