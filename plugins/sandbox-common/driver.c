/*
 * The plugin glue every sandbox driver shares: config, the "sandbox"
 * service vtable, the "sandbox.exec" capability, and delegation of a task
 * to the driver it names (or to the daemon's default driver).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sandbox-common.h"
#include "sandbox-internal.h"

#define LIMIT_SCHEMA(name, min) \
	"\"" name "\":{\"type\":\"integer\",\"minimum\":" #min "}"

static const char input_schema[] =
	"{\"type\":\"object\",\"required\":[\"argv\"],"
	"\"additionalProperties\":false,\"properties\":{"
	"\"argv\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":4096,"
	"\"items\":{\"type\":\"string\"},"
	"\"description\":\"command and arguments; argv[0] is looked up in "
	"PATH\"},"
	"\"env\":{\"type\":\"object\",\"additionalProperties\":"
	"{\"type\":\"string\"},\"description\":\"environment; nothing is "
	"inherited\"},"
	"\"stdin\":{\"type\":\"string\"},"
	"\"files\":{\"type\":\"object\",\"description\":\"relative path -> "
	"content (string, or {content|base64, executable}) placed in the "
	"work dir, which is the cwd\",\"additionalProperties\":{\"anyOf\":["
	"{\"type\":\"string\"},{\"type\":\"object\"}]}},"
	"\"return_files\":{\"type\":\"boolean\",\"description\":\"return "
	"new or changed files of the work dir\"},"
	"\"limits\":{\"type\":\"object\",\"additionalProperties\":false,"
	"\"properties\":{" LIMIT_SCHEMA("wall_ms", 1) ","
	LIMIT_SCHEMA("cpu_ms", 1) "," LIMIT_SCHEMA("memory_bytes", 1048576) ","
	LIMIT_SCHEMA("pids", 1) "," LIMIT_SCHEMA("output_bytes", 0) ","
	LIMIT_SCHEMA("file_bytes", 0) "}},"
	"\"network\":{\"type\":\"boolean\"},"
	"\"readonly_paths\":{\"type\":\"array\",\"maxItems\":64,"
	"\"items\":{\"type\":\"string\"}},"
	"\"driver\":{\"type\":\"string\",\"description\":\"ns, bwrap or "
	"process; default from the daemon config\"}}}";

static const char output_schema[] =
	"{\"type\":\"object\",\"required\":[\"exit_code\",\"signal\","
	"\"stdout\",\"stderr\",\"stdout_truncated\",\"stderr_truncated\","
	"\"wall_ms\",\"cpu_ms\",\"max_rss_bytes\",\"killed_by\",\"driver\","
	"\"enforced\"],\"properties\":{"
	"\"exit_code\":{\"type\":[\"integer\",\"null\"]},"
	"\"signal\":{\"type\":[\"string\",\"null\"]},"
	"\"stdout\":{\"type\":\"string\"},\"stderr\":{\"type\":\"string\"},"
	"\"stdout_truncated\":{\"type\":\"boolean\"},"
	"\"stderr_truncated\":{\"type\":\"boolean\"},"
	"\"wall_ms\":{\"type\":\"integer\"},\"cpu_ms\":{\"type\":\"integer\"},"
	"\"max_rss_bytes\":{\"type\":\"integer\"},"
	"\"killed_by\":{\"enum\":[\"timeout\",\"cpu\",\"memory\",\"pids\","
	"\"output\",null]},"
	"\"files\":{\"type\":\"object\"},\"driver\":{\"type\":\"string\"},"
	"\"enforced\":{\"type\":\"object\"}}}";

const char *sbx_error_code(int rc)
{
	switch (rc) {
	case MCPD_OK: return NULL;
	case MCPD_E_INVAL: return "bad_input";
	case MCPD_E_CANCELLED: return "cancelled";
	default: return "sandbox_failed";
	}
}

/* Run `request` with this driver. */
static int exec_here(struct sbx_driver *d, struct mcpd_task *caller,
                     const json_t *request, json_t **result, char *err,
                     size_t errlen)
{
	struct sbx_request req;
	int rc;

	*result = NULL;
	rc = sbx_request_parse(&req, request, &d->cfg, err, errlen);
	if (rc)
		return rc;
	if (req.driver && strcmp(req.driver, d->name)) {
		sbx_set_err(err, errlen,
		            "driver: this is sandbox-%s, not sandbox-%s; acquire "
		            "that one instead",
		            d->name, req.driver);
		rc = MCPD_E_INVAL;
	} else {
		rc = d->run(d, caller, &req, result, err, errlen);
		if (rc) {
			json_decref(*result);
			*result = NULL;
		}
	}
	sbx_request_clear(&req);
	return rc;
}

static int vt_exec(void *impl, struct mcpd_task *caller,
                   const json_t *request, json_t **result, char *err,
                   size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	return exec_here(impl, caller, request, result, err, errlen);
}

/*
 * Run the task with the driver it names, or the default one. Returns an
 * exec-style code with *result or err.
 */
static int dispatch(struct sbx_driver *d, struct mcpd_task *task,
                    const json_t *in, json_t **result, char *err,
                    size_t errlen)
{
	const struct mcpd_host *host = d->host;
	const json_t *dv = json_object_get(in, "driver");
	const struct mcpd_sandbox *vt = NULL;
	struct mcpd_service *ref = NULL;
	char buf[64], prov[80];
	const char *want = NULL;
	int rc;

	if (dv && !(want = sbx_driver_short(json_string_value(dv), buf,
	                                    sizeof(buf)))) {
		sbx_set_err(err, errlen,
		            "driver: must be a driver name such as \"ns\"");
		return MCPD_E_INVAL;
	}
	if (want && !strcmp(want, d->name))
		return exec_here(d, task, in, result, err, errlen);
	if (!MCPD_HOST_HAS(host, service_acquire) ||
	    !MCPD_HOST_HAS(host, service_release)) {
		/* No registry: only an unnamed task can run, and only here
		 * when this driver isolates (sandbox-process is by name). */
		if (!want && d->isolated)
			return exec_here(d, task, in, result, err, errlen);
		sbx_set_err(err, errlen,
		            want ? "driver: this daemon has no service registry "
		                   "to reach sandbox-%s"
		                 : "driver: sandbox-%s runs only when named",
		            want ? want : d->name);
		return MCPD_E_INVAL;
	}
	if (want)
		snprintf(prov, sizeof(prov), "sandbox-%s", want);
	rc = host->service_acquire(d->self, MCPD_SANDBOX_IFACE,
	                           MCPD_SANDBOX_MAJOR, want ? prov : NULL,
	                           (const void **)&vt, &ref);
	if (rc == MCPD_E_NOTFOUND) {
		if (!want && d->isolated)
			return exec_here(d, task, in, result, err, errlen);
		sbx_set_err(err, errlen,
		            want ? "driver: no sandbox driver \"%s\" is loaded"
		                 : "driver: no default sandbox driver is loaded "
		                   "(%s)",
		            want ? want : "services.sandbox");
		return MCPD_E_INVAL;
	}
	if (rc) {
		sbx_set_err(err, errlen, "driver: cannot use %s: %s",
		            want ? prov : "the default sandbox driver",
		            host->strerror(rc));
		return rc == MCPD_E_STATE ? MCPD_E_INVAL : MCPD_E_FAILED;
	}
	if (vt == &d->vtable) {
		rc = exec_here(d, task, in, result, err, errlen);
	} else if (!MCPD_SANDBOX_HAS(vt, exec)) {
		sbx_set_err(err, errlen, "driver: %s offers no exec",
		            want ? prov : "the default sandbox driver");
		rc = MCPD_E_FAILED;
	} else {
		if (err && errlen)
			err[0] = '\0';
		rc = vt->exec(vt->impl, task, in, result, err, errlen);
	}
	host->service_release(ref);
	return rc;
}

static int handle(struct mcpd_task *task, void *ud)
{
	struct sbx_driver *d = ud;
	const struct mcpd_host *host = d->host;
	json_t *result = NULL;
	char err[512] = "";
	int rc;

	rc = dispatch(d, task, host->task_input(task), &result, err,
	              sizeof(err));
	if (rc == 0 && result)
		return host->task_complete(task, result);
	json_decref(result);
	if (rc == MCPD_E_CANCELLED)
		return MCPD_E_CANCELLED;
	if (rc == 0)
		snprintf(err, sizeof(err), "the driver returned no result");
	return host->task_fail(task, sbx_error_code(rc ? rc : MCPD_E_FAILED),
	                       err[0] ? err : host->strerror(rc));
}

int sbx_driver_init(struct sbx_driver *d, const struct mcpd_host *host,
                    struct mcpd_plugin *self)
{
	char err[512] = "", attrs[128];
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "sandbox.exec",
		.version = "1.0",
		.title = d->title,
		.description = d->description,
		.input_schema = input_schema,
		.output_schema = output_schema,
		.attributes = attrs,
		.flags = MCPD_CAP_BLOCKING,
		.handler = handle,
		.ud = d,
	};
	int rc;

	d->host = host;
	d->self = self;
	rc = sbx_config_load(&d->cfg, host->config(self), d->extra_keys, err,
	                     sizeof(err));
	if (rc) {
		host->log(self, MCPD_LOG_ERROR, "config: %s", err);
		return rc;
	}
	d->vtable = (struct mcpd_sandbox){
		.head = {sizeof(struct mcpd_sandbox), MCPD_SANDBOX_MAJOR,
		         MCPD_SANDBOX_MINOR},
		.name = d->name,
		.isolated = d->isolated,
		.impl = d,
		.exec = vt_exec,
	};
	snprintf(attrs, sizeof(attrs), "{\"driver\":\"%s\",\"isolated\":%s}",
	         d->name, d->isolated ? "true" : "false");
	def.max_concurrency = d->cfg.max_concurrency;
	if (MCPD_HOST_HAS(host, service_provide)) {
		rc = host->service_provide(self, MCPD_SANDBOX_IFACE, &d->vtable);
		if (rc) {
			host->log(self, MCPD_LOG_ERROR,
			          "cannot provide the sandbox service: %s",
			          host->strerror(rc));
			goto fail;
		}
	} else {
		host->log(self, MCPD_LOG_WARN,
		          "this host has no service registry: only the "
		          "sandbox.exec capability is offered");
	}
	rc = host->capability_add(self, &def);
	if (rc) {
		host->log(self, MCPD_LOG_ERROR, "cannot declare sandbox.exec: %s",
		          host->strerror(rc));
		goto fail;
	}
	return 0;
fail:
	sbx_config_clear(&d->cfg);
	return rc;
}

void sbx_driver_fini(struct sbx_driver *d)
{
	sbx_config_clear(&d->cfg);
}
