/*
 * Declares a C function whose signature the host must refuse: the plugin
 * is refused with the parser's reason, and nothing it declared is served.
 */
#include <mcpd/plugin.h>

static int ffi_bad_fill(int *buf)
{
	return buf[0];
}

static int ffi_bad_ok(int x)
{
	return x;
}

static int ffi_bad_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	if (!MCPD_HOST_HAS(h, function_add))
		return MCPD_E_STATE;
	int rc = h->function_add(self, "ffi_bad.ok", "int ffi_bad_ok(int x)",
	                         (void (*)(void))ffi_bad_ok, NULL);
	if (rc < 0)
		return rc;
	return h->function_add(self, "ffi_bad.fill",
	                       "int ffi_bad_fill(int *buf)",
	                       (void (*)(void))ffi_bad_fill, NULL);
}

MCPD_PLUGIN("ffi_bad", "1.0.0", "Declares an unsupported C signature (tests)",
            0, ffi_bad_init, NULL)
