/* mcpd: command line, configuration, and the daemon's life. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log-internal.h"
#include "mcpd-internal.h"

int main(int argc, char **argv)
{
	static struct mcpd d;
	char err[512];
	config_init(&d.cfg);
	int rc = config_from_argv(&d.cfg, argc, argv, err, sizeof err);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "mcpd: %s\n", err);
		config_free(&d.cfg);
		return rc > 0 ? 0 : 2;
	}
	d.argc = argc;
	d.argv = argv;
	if (mcpd_start(&d) < 0) {
		mcpd_free(&d);
		return 1;
	}
	rc = mcpd_run(&d);
	mcpd_free(&d);
	return rc;
}
