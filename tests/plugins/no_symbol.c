/*
 * A shared object in a plugin directory that is not a plugin: it exports a
 * function, but not mcpd_plugin_v1. The host must refuse it and say so.
 */
#include <mcpd/plugin.h>

MCPD_EXPORT int no_symbol_answer(void);
MCPD_EXPORT int no_symbol_answer(void)
{
	return 42;
}
