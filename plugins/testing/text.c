/*
 * text.c -- test entries, and the console formats that have no machine
 * report: python -m unittest -v (stderr) and ctest's own lines (used when
 * a custom ctest command gives no JUnit file).
 */
#include "testing.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *test_entry(const char *name, const char *outcome,
                   const char *message, double duration_ms)
{
	json_t *e = json_pack("{s:s, s:s}", "name", name ? name : "",
	                      "outcome", outcome);

	if (e && message)
		json_object_set_new(e, "message", json_string(message));
	if (e && duration_ms >= 0)
		json_object_set_new(e, "duration_ms",
		                    json_real(round(duration_ms * 1000.0) /
		                              1000.0));
	return e;
}

/* Split text into lines in place; calls fn for each (without "\r\n"). */
static void each_line(char *text, void (*fn)(char *line, void *arg),
                      void *arg)
{
	for (char *line = text, *nl; line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		fn(line, arg);
	}
}

/* ---- unittest ---- */

struct pyu {
	json_t *tests;
	char pending[512];  /* "method (qual)" alone on a line: a docstring
	                       line with the result follows */
	/* the failure block being read */
	int block;          /* 0 none, 1 header seen, 2 in traceback */
	char block_name[512];
	const char *block_outcome;
	char *block_text;
	size_t block_len;
};

/* "method (qual)" -> "qual" (3.11+) or "qual.method" (older); 0 if the
 * text is not of that form. */
static int unittest_name(const char *s, char *out, size_t outlen)
{
	const char *open = strstr(s, " (");
	size_t n = strlen(s);

	if (!open || n < 4 || s[n - 1] != ')' || open == s)
		return 0;
	size_t ml = (size_t)(open - s);
	const char *q = open + 2;
	size_t ql = n - 1 - (size_t)(q - s);
	for (size_t i = 0; i < ml; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	if (ql > ml && q[ql - ml - 1] == '.' &&
	    !strncmp(q + ql - ml, s, ml))
		snprintf(out, outlen, "%.*s", (int)ql, q);
	else
		snprintf(out, outlen, "%.*s.%.*s", (int)ql, q, (int)ml, s);
	return 1;
}

static json_t *find_test(json_t *tests, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(tests, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "name")),
		            name))
			return e;
	return NULL;
}

static void block_end(struct pyu *u)
{
	if (u->block == 2 && u->block_text) {
		/* The message is the last line of the traceback. */
		size_t n = u->block_len;
		while (n && (u->block_text[n - 1] == '\n' ||
		             u->block_text[n - 1] == ' '))
			n--;
		u->block_text[n] = '\0';
		char *last = strrchr(u->block_text, '\n');
		const char *msg = last ? last + 1 : u->block_text;
		json_t *e = find_test(u->tests, u->block_name);
		if (!e) {
			e = test_entry(u->block_name, u->block_outcome, NULL,
			               -1);
			json_array_append_new(u->tests, e);
		}
		json_object_set_new(e, "message", json_string(msg));
		json_object_set_new(e, "details",
		                    json_string(u->block_text));
	}
	free(u->block_text);
	u->block_text = NULL;
	u->block_len = 0;
	u->block = 0;
}

static void block_add(struct pyu *u, const char *line)
{
	size_t l = strlen(line);

	if (u->block_len + l + 2 > 8192)
		return;
	char *t = realloc(u->block_text, u->block_len + l + 2);
	if (!t)
		return;
	u->block_text = t;
	memcpy(t + u->block_len, line, l);
	u->block_len += l;
	t[u->block_len++] = '\n';
	t[u->block_len] = '\0';
}

static int rule(const char *line, char c)
{
	size_t n = strlen(line);
	if (n < 20)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (line[i] != c)
			return 0;
	return 1;
}

static void pyu_result(struct pyu *u, const char *name, const char *res)
{
	const char *outcome = NULL;
	char msg[512] = "";

	if (!strcmp(res, "ok")) {
		outcome = OUTCOME_PASSED;
	} else if (!strcmp(res, "FAIL")) {
		outcome = OUTCOME_FAILED;
	} else if (!strcmp(res, "ERROR")) {
		outcome = OUTCOME_ERROR;
	} else if (!strncmp(res, "skipped", 7)) {
		outcome = OUTCOME_SKIPPED;
		const char *r = res + 7;
		while (*r == ' ')
			r++;
		size_t n = strlen(r);
		if (n >= 2 && (r[0] == '\'' || r[0] == '"') &&
		    r[n - 1] == r[0])
			snprintf(msg, sizeof msg, "%.*s", (int)n - 2, r + 1);
		else
			snprintf(msg, sizeof msg, "%s", r);
	} else if (!strcmp(res, "expected failure")) {
		outcome = OUTCOME_SKIPPED;
		snprintf(msg, sizeof msg, "expected failure");
	} else if (!strcmp(res, "unexpected success")) {
		outcome = OUTCOME_FAILED;
		snprintf(msg, sizeof msg, "unexpected success");
	}
	if (outcome)
		json_array_append_new(u->tests,
		                      test_entry(name, outcome,
		                                 msg[0] ? msg : NULL, -1));
}

/* The header of a failure block: "FAIL: name (qual)" or "ERROR: ...". */
static void pyu_header(struct pyu *u, const char *line)
{
	const char *h = !strncmp(line, "FAIL: ", 6)    ? line + 6
	                : !strncmp(line, "ERROR: ", 7) ? line + 7
	                                               : NULL;
	char head[512];

	u->block = 0;
	if (!h)
		return;
	/* "name (qual) (subtest params)": keep the first part */
	snprintf(head, sizeof head, "%s", h);
	char *close = strchr(head, ')');
	if (close)
		close[1] = '\0';
	if (unittest_name(head, u->block_name, sizeof u->block_name)) {
		u->block = 1;
		u->block_outcome = line[0] == 'F' ? OUTCOME_FAILED
		                                  : OUTCOME_ERROR;
	}
}

/*
 * States: 0 results; -1 after a "====" rule, a header follows; 1 after
 * the header, a "----" rule follows; 2 in the traceback, which ends at the
 * next "====" (another block) or "----" (the "Ran N tests" footer).
 */
static void pyu_line(char *line, void *arg)
{
	struct pyu *u = arg;
	char name[512];

	switch (u->block) {
	case -1:
		pyu_header(u, line);
		return;
	case 1:
		u->block = rule(line, '-') ? 2 : 0;
		return;
	case 2:
		if (rule(line, '=')) {
			block_end(u);
			u->block = -1;
		} else if (rule(line, '-')) {
			block_end(u);
		} else {
			block_add(u, line);
		}
		return;
	default:
		break;
	}
	if (rule(line, '=')) {
		u->block = -1;
		return;
	}
	char *sep = strstr(line, " ... ");
	if (sep) {
		*sep = '\0';
		const char *res = sep + 5;
		if (unittest_name(line, name, sizeof name))
			pyu_result(u, name, res);
		else if (u->pending[0])
			pyu_result(u, u->pending, res);
		u->pending[0] = '\0';
		return;
	}
	if (!unittest_name(line, u->pending, sizeof u->pending))
		u->pending[0] = '\0';
}

void pyunit_parse(const char *text, json_t *tests)
{
	struct pyu u;
	char *copy = text ? strdup(text) : NULL;

	if (!copy)
		return;
	memset(&u, 0, sizeof u);
	u.tests = tests;
	each_line(copy, pyu_line, &u);
	if (u.block == 2)
		block_end(&u);
	free(u.block_text);
	free(copy);
}

/* ---- ctest's console lines ---- */

static void ctest_line(char *line, void *arg)
{
	json_t *tests = arg;
	char *p = strstr(line, " Test #"), name[512];

	if (!p)
		return;
	p += 7;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':')
		return;
	while (*p == ' ')
		p++;
	char *end = strstr(p, " .");
	if (!end)
		end = strstr(p, " ***");
	if (!end)
		return;
	snprintf(name, sizeof name, "%.*s", (int)(end - p), p);
	p = end;
	while (*p == ' ' || *p == '.')
		p++;
	while (*p == '*')
		p++;
	char *sec = strstr(p, " sec");
	if (!sec)
		return;
	/* "Passed    0.01" / "Not Run   0.00": the time is the last word */
	char *t = sec;
	while (t > p && t[-1] != ' ')
		t--;
	double secs = strtod(t, NULL);
	char status[128];
	size_t sl = (size_t)(t - p);
	while (sl && p[sl - 1] == ' ')
		sl--;
	snprintf(status, sizeof status, "%.*s", (int)sl, p);
	const char *outcome;
	if (!strcmp(status, "Passed"))
		outcome = OUTCOME_PASSED;
	else if (!strcmp(status, "Failed"))
		outcome = OUTCOME_FAILED;
	else if (!strncmp(status, "Not Run", 7) ||
	         !strcmp(status, "Skipped") || !strcmp(status, "Disabled"))
		outcome = OUTCOME_SKIPPED;
	else
		outcome = OUTCOME_ERROR;
	json_array_append_new(tests,
	                      test_entry(name, outcome,
	                                 strcmp(outcome, OUTCOME_PASSED)
	                                         ? status
	                                         : NULL,
	                                 secs * 1000.0));
}

void ctest_text_parse(const char *text, json_t *tests)
{
	char *copy = text ? strdup(text) : NULL;

	if (!copy)
		return;
	each_line(copy, ctest_line, tests);
	free(copy);
}
