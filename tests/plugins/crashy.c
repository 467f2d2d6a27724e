/*
 * crashy: a plugin that dies on request, for the process-isolation tests.
 * Capability "crashy" (blocking) answers {"value", "pid", "greeting"}:
 * the input's value, the pid of the process it runs in (the daemon's, or
 * an isolated child's) and its config block's "greeting". With
 * "crash": true it writes through a null pointer (SIGSEGV); with
 * "crash_once": PATH it does so only if PATH does not exist yet, creating
 * it first, so a retry of the same task succeeds.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <unistd.h>
#include <mcpd/plugin.h>

static const struct mcpd_host *host;
static const char *greeting;

/*
 * A write to a read-only page: a real SIGSEGV that the sanitizers do not
 * report first (a null store would be UBSan's). Its default action is
 * restored first, so the process dies of the signal as in a plain build:
 * ASan's own SEGV handler would report and exit 1, and it ignores
 * signal()/sigaction() for SIGSEGV, hence the raw system call (an
 * all-zero kernel sigaction is SIG_DFL, no flags, no mask).
 */
static void segfault(void)
{
	unsigned long kact[4] = {0};
	volatile char *p = mmap(NULL, 4096, PROT_READ,
	                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	syscall(SYS_rt_sigaction, SIGSEGV, kact, NULL, sizeof(unsigned long));
	*p = 1;
	abort(); /* not reached; if mmap failed, still a crash */
}

static int crashy_handle(struct mcpd_task *task, void *ud)
{
	(void)ud;
	const json_t *in = host->task_input(task);
	const char *once = json_string_value(json_object_get(in, "crash_once"));

	if (json_is_true(json_object_get(in, "crash")))
		segfault();
	if (once) {
		int fd = open(once, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
			segfault();
		}
	}
	json_t *out = json_pack("{s:O?, s:I}", "value",
	                        json_object_get(in, "value"), "pid",
	                        (json_int_t)getpid());
	if (greeting)
		json_object_set_new(out, "greeting", json_string(greeting));
	return host->task_complete(task, out);
}

static int crashy_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	struct mcpd_capability_def def = {
		.size = sizeof(def),
		.name = "crashy",
		.version = "1.0",
		.title = "Crashy",
		.description = "Echoes value with its pid; segfaults when asked.",
		.input_schema =
			"{\"type\":\"object\",\"additionalProperties\":false,"
			"\"properties\":{\"value\":{},"
			"\"crash\":{\"type\":\"boolean\"},"
			"\"crash_once\":{\"type\":\"string\"}}}",
		.output_schema =
			"{\"type\":\"object\",\"required\":[\"pid\"],"
			"\"properties\":{\"pid\":{\"type\":\"integer\"}}}",
		.flags = MCPD_CAP_BLOCKING,
		.handler = crashy_handle,
	};

	host = h;
	greeting = json_string_value(json_object_get(host->config(self),
	                                             "greeting"));
	return host->capability_add(self, &def);
}

MCPD_PLUGIN("crashy", "1.0.0", "Segfaults on request (isolation tests)", 0,
            crashy_init, NULL)
