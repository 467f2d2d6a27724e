/*
 * Provides service "greeter" 1.x (ABI 1.1 service interfaces) and nothing
 * else. The vtable says which build answered.
 */
#include <stdio.h>
#include <mcpd/plugin.h>

struct greeter_v1 {
	struct mcpd_service_head head;
	int (*greet)(const char *who, char *out, size_t outlen);
};

static int greet(const char *who, char *out, size_t outlen)
{
	return snprintf(out, outlen, "hello, %s", who) < (int)outlen ? 0 : -1;
}

static const struct greeter_v1 greeter = {
	{sizeof(struct greeter_v1), 1, 0}, greet};

static int provider_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	if (!MCPD_HOST_HAS(h, service_provide))
		return MCPD_E_STATE;
	int rc = h->service_provide(self, "greeter", &greeter);
	if (rc == 0 && h->service_provide(self, "greeter", &greeter) !=
	                   MCPD_E_EXISTS)
		return MCPD_E_FAILED; /* a second provide must be refused */
	return rc;
}

MCPD_PLUGIN("svc_provider", "1.0.0", "Provides the greeter service (tests)",
            0, provider_init, NULL)
