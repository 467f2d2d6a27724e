/*
 * junit.c -- JUnit XML reports into per-test outcomes, read with our own
 * XML reader (xml.h: no global state, bounded nesting).
 *
 * The JUnit form has no standard; this reads what pytest, ctest, Surefire
 * and most others write: <testsuites>? <testsuite>+ <testcase name
 * classname time status?> with <failure>, <error>, <skipped> children
 * (message attribute and/or text) and <system-out>/<system-err>.
 */
#include "testing.h"
#include "xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Failure texts (tracebacks) are kept up to this size in "details". */
#define DETAILS_MAX 8192

enum rank { R_PASSED, R_SKIPPED, R_FAILED, R_ERROR };

struct jcase {
	char *name, *classname, *status;
	double time_s;
	enum rank rank;
	char *message;  /* of the highest-ranked child */
	char *details;  /* its text */
	char *sysout;
};

struct jparse {
	json_t *tests;
	int suites;     /* <testsuite>/<testsuites> seen */
	int in_case;
	struct jcase c;
	/* text of the child being read (failure, error, skipped, system-*) */
	int capture;    /* 0 none, else the rank + 1 or CAP_SYSOUT */
	char *text;
	size_t text_len, text_cap;
	int text_full;
	enum rank child_rank;
	char *child_message;
};

#define CAP_SYSOUT 100

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void case_clear(struct jcase *c)
{
	free(c->name);
	free(c->classname);
	free(c->status);
	free(c->message);
	free(c->details);
	free(c->sysout);
	memset(c, 0, sizeof *c);
}

/* A trimmed copy of the first non-empty line of s (NULL if none). */
static char *first_line(const char *s)
{
	if (!s)
		return NULL;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	size_t n = strcspn(s, "\r\n");
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n ? strndup(s, n) : NULL;
}

static void on_start(void *ud, const char *el, const char *const *atts)
{
	struct jparse *jp = ud;

	if (!strcmp(el, "testsuite") || !strcmp(el, "testsuites")) {
		jp->suites++;
		return;
	}
	if (!strcmp(el, "testcase")) {
		case_clear(&jp->c);
		jp->in_case = 1;
		jp->c.name = dup_or_null(xml_attr(atts, "name"));
		jp->c.classname = dup_or_null(xml_attr(atts, "classname"));
		jp->c.status = dup_or_null(xml_attr(atts, "status"));
		const char *t = xml_attr(atts, "time");
		jp->c.time_s = t ? strtod(t, NULL) : -1;
		return;
	}
	if (!jp->in_case || jp->capture)
		return;
	enum rank r;
	if (!strcmp(el, "failure"))
		r = R_FAILED;
	else if (!strcmp(el, "error"))
		r = R_ERROR;
	else if (!strcmp(el, "skipped"))
		r = R_SKIPPED;
	else if (!strcmp(el, "system-out") || !strcmp(el, "system-err")) {
		jp->capture = CAP_SYSOUT;
		jp->text_len = 0;
		jp->text_full = 0;
		return;
	} else
		return;
	jp->capture = (int)r + 1;
	jp->child_rank = r;
	free(jp->child_message);
	jp->child_message = dup_or_null(xml_attr(atts, "message"));
	jp->text_len = 0;
	jp->text_full = 0;
}

static void on_text(void *ud, const char *s, size_t len)
{
	struct jparse *jp = ud;

	if (!jp->capture || jp->text_full)
		return;
	if (jp->text_len + len + 1 > DETAILS_MAX) {
		/* cut at a character boundary: JSON strings are UTF-8 */
		len = DETAILS_MAX - 1 - jp->text_len;
		while (len && (s[len] & 0xC0) == 0x80)
			len--;
		jp->text_full = 1;
	}
	if (jp->text_len + len + 1 > jp->text_cap) {
		size_t cap = jp->text_cap ? jp->text_cap * 2 : 256;
		while (cap < jp->text_len + len + 1)
			cap *= 2;
		char *t = realloc(jp->text, cap);
		if (!t)
			return;
		jp->text = t;
		jp->text_cap = cap;
	}
	memcpy(jp->text + jp->text_len, s, len);
	jp->text_len += len;
	jp->text[jp->text_len] = '\0';
}

static char *captured(struct jparse *jp)
{
	return jp->text_len ? strndup(jp->text, jp->text_len) : NULL;
}

static const char *const outcome_of[] = {OUTCOME_PASSED, OUTCOME_SKIPPED,
                                          OUTCOME_FAILED, OUTCOME_ERROR};

static void emit_case(struct jparse *jp)
{
	struct jcase *c = &jp->c;
	const char *name = c->name ? c->name : "";
	char *full = NULL;
	enum rank r = c->rank;

	/* ctest marks tests it did not run with a status, not a child. */
	if (r == R_PASSED && c->status &&
	    (!strcmp(c->status, "notrun") || !strcmp(c->status, "disabled")))
		r = R_SKIPPED;
	if (c->classname && *c->classname && strcmp(c->classname, name)) {
		size_t n = strlen(c->classname) + strlen(name) + 2;
		full = malloc(n);
		if (full)
			snprintf(full, n, "%s.%s", c->classname, name);
	}
	char *msg = NULL;
	if (r != R_PASSED) {
		if (c->message && *c->message)
			msg = strdup(c->message);
		if (!msg)
			msg = first_line(c->details);
		if (!msg)
			msg = first_line(c->sysout);
	}
	json_t *e = test_entry(full ? full : name, outcome_of[r], msg,
	                       c->time_s >= 0 ? c->time_s * 1000.0 : -1);
	if (e && r != R_PASSED && c->details && msg &&
	    strcmp(c->details, msg))
		json_object_set_new(e, "details", json_string(c->details));
	if (e && c->classname && *c->classname)
		json_object_set_new(e, "classname", json_string(c->classname));
	if (e)
		json_array_append_new(jp->tests, e);
	free(msg);
	free(full);
}

static void on_end(void *ud, const char *el)
{
	struct jparse *jp = ud;

	if (!strcmp(el, "testcase")) {
		if (jp->in_case)
			emit_case(jp);
		case_clear(&jp->c);
		jp->in_case = 0;
		jp->capture = 0;
		return;
	}
	if (!jp->capture)
		return;
	if (jp->capture == CAP_SYSOUT &&
	    (!strcmp(el, "system-out") || !strcmp(el, "system-err"))) {
		if (!jp->c.sysout)
			jp->c.sysout = captured(jp);
		jp->capture = 0;
		return;
	}
	if (jp->capture != CAP_SYSOUT &&
	    (!strcmp(el, "failure") || !strcmp(el, "error") ||
	     !strcmp(el, "skipped"))) {
		if (jp->child_rank >= jp->c.rank) {
			jp->c.rank = jp->child_rank;
			free(jp->c.message);
			free(jp->c.details);
			jp->c.message = jp->child_message;
			jp->child_message = NULL;
			jp->c.details = captured(jp);
		}
		jp->capture = 0;
	}
}

int junit_parse(const char *xml, size_t len, json_t *tests, char *err,
                size_t errlen)
{
	static const struct xml_handler handler = {
		.start = on_start, .end = on_end, .text = on_text,
	};
	struct jparse jp;
	struct xml_error xe;
	int rc = 0;

	memset(&jp, 0, sizeof jp);
	jp.tests = tests;
	if (xml_parse(xml, len, &handler, &jp, &xe)) {
		snprintf(err, errlen, "the JUnit XML report does not parse at "
		         "line %lu: %s", xe.line, xe.msg);
		rc = -1;
	} else if (!jp.suites) {
		snprintf(err, errlen, "the XML report has no <testsuite> or "
		         "<testsuites> element: it is not JUnit XML");
		rc = -1;
	}
	case_clear(&jp.c);
	free(jp.text);
	free(jp.child_message);
	return rc;
}
