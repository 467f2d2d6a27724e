/*
 * security.h -- what the parts of plugins/security share.
 */
#ifndef MCPD_SECURITY_H
#define MCPD_SECURITY_H

#include <stddef.h>
#include <jansson.h>
#include <mcpd/plugin.h>

/* ---- security.check_command (cmdcheck.c) ---- */

enum verdict { V_ALLOW = 0, V_APPROVAL = 1, V_DENY = 2 };

/* Policy from the config block "check_command" and the task input. */
struct check_policy {
	const json_t *allow;         /* array of command patterns */
	const json_t *deny;          /* array of command patterns */
	const json_t *allowed_paths; /* array of absolute paths (or ~/...) */
	const char *cwd;             /* absolute, or NULL: unknown */
	int fallback;                /* verdict for unclassified commands */
};

/* Parse a verdict word ("allow", "deny", "needs_approval"); -1 if not one. */
int verdict_parse(const char *word);
const char *verdict_name(int v);

/*
 * Check one command line. Returns a new reference to the result object
 * ({verdict, classes, reasons, commands}); never NULL (a line that does
 * not parse is denied, with the reason).
 */
json_t *check_command(const char *line, size_t len,
                      const struct check_policy *pol);

/* ---- secrets (secrets.c) ---- */

/*
 * Look for secrets in `text` (len bytes) of file `path`; append
 * normalized findings (tool "mcpd-secrets") to `findings`. The findings
 * carry a redacted snippet; never the secret itself.
 */
void secrets_scan(const char *path, const char *text, size_t len,
                  json_t *findings);

/* Shannon entropy in bits per character of s[0..n). */
double shannon_entropy(const char *s, size_t n);

/* ---- security.scan (scan.c) ---- */

int scan_run(const struct mcpd_host *host, struct mcpd_plugin *self,
             struct mcpd_task *task, const json_t *input, json_t **result,
             char *code, size_t codelen, char *err, size_t errlen);

#endif
