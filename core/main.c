/* mcpd: command line, configuration, and the daemon's life. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log-internal.h"
#include "mcpd-internal.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: mcpd [options]\n"
	        "  --config FILE       JSON configuration (see config/mcpd.json)\n"
	        "  --listen ADDR:PORT  listen address (default 127.0.0.1:8080;\n"
	        "                      port 0 picks a free port and prints it)\n"
	        "  --plugin-dir DIR    scan DIR for plugins (repeatable; replaces\n"
	        "                      the config's plugin_dirs)\n"
	        "  --state-dir DIR     LMDB state directory (default ./state)\n"
	        "  --log-level LEVEL   error, warn, info or debug\n"
	        "  --version           print the version and exit\n"
	        "  --help              print this help and exit\n");
}

enum { OPT_CONFIG = 1, OPT_LISTEN, OPT_PLUGIN_DIR, OPT_STATE_DIR,
       OPT_LOG_LEVEL, OPT_VERSION, OPT_HELP };

static const struct option options[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"version", no_argument, NULL, OPT_VERSION},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* The config file comes first, whatever the order of the flags; then the
 * flags override it. 0 to go on, 1 to exit 0, -1 to exit 2. */
static int parse_args(int argc, char **argv, struct config *c)
{
	char err[512];
	int opt;
	opterr = 0;
	for (int i = 1; i < argc; i++) {
		const char *file = NULL;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
		if (file && config_load_file(c, file, err, sizeof err) < 0) {
			fprintf(stderr, "mcpd: %s\n", err);
			return -1;
		}
	}
	int dirs_from_flags = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG:
			break;
		case OPT_LISTEN:
			if (config_set_listen(c, optarg, err, sizeof err) < 0) {
				fprintf(stderr, "mcpd: --listen: %s\n", err);
				return -1;
			}
			break;
		case OPT_PLUGIN_DIR:
			if (!dirs_from_flags++)
				config_clear_plugin_dirs(c);
			if (config_add_plugin_dir(c, optarg) < 0) {
				fprintf(stderr, "mcpd: --plugin-dir: at most %d "
				        "directories\n", CONFIG_MAX_PLUGIN_DIRS);
				return -1;
			}
			break;
		case OPT_STATE_DIR:
			config_set_state_dir(c, optarg);
			break;
		case OPT_LOG_LEVEL:
			if ((c->log_level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "mcpd: --log-level: must be error, "
				        "warn, info or debug\n");
				return -1;
			}
			break;
		case OPT_VERSION:
			printf("mcpd %s (plugin ABI %d.%d)\n", MCPD_VERSION,
			       MCPD_ABI_MAJOR, MCPD_ABI_MINOR);
			return 1;
		case OPT_HELP:
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "mcpd: unknown or incomplete option %s "
			        "(see --help)\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcpd: unexpected argument %s (see --help)\n",
		        argv[optind]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct mcpd d;
	config_init(&d.cfg);
	int rc = parse_args(argc, argv, &d.cfg);
	if (rc != 0) {
		config_free(&d.cfg);
		return rc > 0 ? 0 : 2;
	}
	if (mcpd_start(&d) < 0) {
		mcpd_free(&d);
		return 1;
	}
	rc = mcpd_run(&d);
	mcpd_free(&d);
	return rc;
}
