/*
 * postconf.c - tempest postconf [-n|-d] [name...]: print parameters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "roles.h"

int
postconf_main(int argc, char **argv)
{
	enum config_print what = CONFIG_PRINT_ALL;
	char *err = NULL;
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "ndc:")) != -1) {
		switch (c) {
		case 'n': what = CONFIG_PRINT_SET; break;
		case 'd': what = CONFIG_PRINT_DEFAULTS; break;
		case 'c': setenv("TEMPEST_CONFIG_DIR", optarg, 1); break;
		default:
			ctl_usage("postconf");
			return 2;
		}
	}
	if (config_load(getenv("TEMPEST_CONFIG_DIR") ? getenv("TEMPEST_CONFIG_DIR") :
	    ctl_config_dir(), &err) < 0) {
		fprintf(stderr, "postconf: fatal: %s\n", err);
		return 1;
	}
	return config_print(stdout, what, argv + optind);
}
