/*
 * tap.c -- the Test Anything Protocol (12, 13 and 14) into per-test
 * outcomes, read from whatever text surrounds it: make's command echo,
 * prove --verbose headers and summaries, several programs' streams one
 * after another.
 */
#include "testing.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MSG_MAX 4096

struct stream {
	char file[512];  /* from a prove header, "" when unknown */
	long planned;    /* -1: no plan yet */
	int skip_all;
	char skip_reason[512];
	long count;      /* test lines seen */
	int ended;       /* prove printed its verdict for the file */
	int bailed;
	json_t *last;    /* the last test (borrowed from the array) */
	int last_failed;
	int in_yaml;
};

static void stream_reset(struct stream *s, const char *file)
{
	memset(s, 0, sizeof *s);
	s->planned = -1;
	snprintf(s->file, sizeof s->file, "%s", file ? file : "");
}

static int stream_used(const struct stream *s)
{
	return s->count > 0 || s->planned >= 0 || s->bailed;
}

static void add(json_t *tests, const struct stream *s, const char *name,
                const char *outcome, const char *message)
{
	char full[1200];

	if (s->file[0])
		snprintf(full, sizeof full, "%s: %s", s->file, name);
	else
		snprintf(full, sizeof full, "%s", name);
	json_t *e = test_entry(full, outcome, message, -1);
	if (e && s->file[0])
		json_object_set_new(e, "file", json_string(s->file));
	if (e)
		json_array_append_new(tests, e);
}

static void stream_finish(struct stream *s, json_t *tests)
{
	char msg[256];

	if (s->bailed)
		return;
	if (s->skip_all) {
		add(tests, s, s->file[0] ? "all tests" : "all tests skipped",
		    OUTCOME_SKIPPED, s->skip_reason[0] ? s->skip_reason : NULL);
		return;
	}
	if (s->planned >= 0 && s->count != s->planned) {
		snprintf(msg, sizeof msg, "planned %ld test%s but ran %ld",
		         s->planned, s->planned == 1 ? "" : "s", s->count);
		add(tests, s, "plan", OUTCOME_ERROR, msg);
	} else if (s->planned < 0 && s->file[0] && s->count > 0) {
		add(tests, s, "plan", OUTCOME_ERROR, "no plan found in the TAP "
		    "output");
	}
}

/* Append a diagnostic line to the message of the last failed test. */
static void add_diag(struct stream *s, const char *text)
{
	const char *old = json_string_value(json_object_get(s->last,
	                                                    "message"));
	size_t ol = old ? strlen(old) : 0, tl = strlen(text);
	if (!tl || ol + tl + 2 > MSG_MAX)
		return;
	char *m = malloc(ol + tl + 2);
	if (!m)
		return;
	if (ol) {
		memcpy(m, old, ol);
		m[ol++] = '\n';
	}
	memcpy(m + ol, text, tl + 1);
	json_object_set_new(s->last, "message", json_string(m));
	free(m);
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* "t/x.t .. " or "t/x.t ....... " (prove's header) -> the file name. */
static int prove_header(const char *line, char *file, size_t filelen)
{
	size_t n = strlen(line);

	while (n && line[n - 1] == ' ')
		n--;
	size_t dots = 0;
	while (dots < n && line[n - 1 - dots] == '.')
		dots++;
	if (dots < 2 || dots == n || line[n - 1 - dots] != ' ')
		return 0;
	size_t name = n - 1 - dots;
	if (!name || line[0] == '#' || line[0] == ' ' ||
	    memchr(line, ' ', name))
		return 0;
	snprintf(file, filelen, "%.*s", (int)name, line);
	return 1;
}

/* "1..N [# SKIP reason]" -> 1 and fills the stream's plan. */
static int plan_line(const char *line, long *n, int *skip, char *reason,
                     size_t reasonlen)
{
	char *end;

	if (strncmp(line, "1..", 3) || !isdigit((unsigned char)line[3]))
		return 0;
	*n = strtol(line + 3, &end, 10);
	const char *p = skip_ws(end);
	*skip = 0;
	reason[0] = '\0';
	if (*p == '#') {
		p = skip_ws(p + 1);
		if (!strncasecmp(p, "skip", 4)) {
			*skip = 1;
			p += 4;
			while (isalpha((unsigned char)*p))
				p++;
			snprintf(reason, reasonlen, "%s", skip_ws(p));
		}
	} else if (*p) {
		return 0;
	}
	return 1;
}

/* Parse one "ok"/"not ok" line into the stream's test list. */
static void test_line(struct stream *s, const char *line, json_t *tests)
{
	int failed = line[0] == 'n';
	const char *p = skip_ws(line + (failed ? 6 : 2));
	long num = 0;
	char desc[1024], name[1100];
	size_t dl = 0;

	while (isdigit((unsigned char)*p))
		num = num * 10 + (*p++ - '0');
	p = skip_ws(p);
	if (*p == '-')
		p = skip_ws(p + 1);
	/* The description runs to the first unescaped '#'. */
	for (; *p && *p != '#' && dl + 1 < sizeof desc; p++) {
		if (*p == '\\' && (p[1] == '#' || p[1] == '\\'))
			p++;
		desc[dl++] = *p;
	}
	while (dl && (desc[dl - 1] == ' ' || desc[dl - 1] == '\t'))
		dl--;
	desc[dl] = '\0';

	const char *directive = NULL, *reason = "";
	if (*p == '#') {
		const char *d = skip_ws(p + 1);
		if (!strncasecmp(d, "todo", 4)) {
			directive = "todo";
			reason = skip_ws(d + 4);
		} else if (!strncasecmp(d, "skip", 4)) {
			directive = "skip";
			d += 4;
			while (isalpha((unsigned char)*d))
				d++;
			if (*d == ':')
				d++;
			reason = skip_ws(d);
		}
	}
	s->count++;
	if (dl)
		snprintf(name, sizeof name, "%s", desc);
	else
		snprintf(name, sizeof name, "test %ld", num ? num : s->count);

	const char *outcome = failed ? OUTCOME_FAILED : OUTCOME_PASSED;
	char msg[600] = "";
	if (directive && !strcmp(directive, "skip")) {
		outcome = OUTCOME_SKIPPED;
		snprintf(msg, sizeof msg, "%s", *reason ? reason : "skipped");
	} else if (directive) {
		outcome = failed ? OUTCOME_SKIPPED : OUTCOME_PASSED;
		snprintf(msg, sizeof msg, "TODO%s%s", *reason ? ": " : "",
		         reason);
	}
	add(tests, s, name, outcome, msg[0] ? msg : NULL);
	s->last = json_array_get(tests, json_array_size(tests) - 1);
	s->last_failed = !strcmp(outcome, OUTCOME_FAILED);
	if (s->last && num)
		json_object_set_new(s->last, "number", json_integer(num));
	if (s->last && directive && !strcmp(directive, "todo"))
		json_object_set_new(s->last, "todo", json_true());
}

/* A YAML diagnostic line ("  message: 'text'") of the last test. */
static void yaml_line(struct stream *s, const char *line)
{
	const char *p = skip_ws(line);

	if (!s->last)
		return;
	if (!strncmp(p, "message:", 8)) {
		char v[MSG_MAX];
		p = skip_ws(p + 8);
		size_t n = strlen(p);
		if (n >= 2 && (p[0] == '\'' || p[0] == '"') &&
		    p[n - 1] == p[0]) {
			p++;
			n -= 2;
		}
		snprintf(v, sizeof v, "%.*s", (int)n, p);
		if (*v)
			json_object_set_new(s->last, "message", json_string(v));
	} else if (!strncmp(p, "duration_ms:", 12)) {
		char *end;
		double ms = strtod(p + 12, &end);
		if (end != p + 12 && ms >= 0)
			json_object_set_new(s->last, "duration_ms",
			                    json_real(ms));
	}
}

static int is_test_line(const char *line)
{
	const char *p = !strncmp(line, "not ok", 6) ? line + 6
	                : !strncmp(line, "ok", 2)   ? line + 2
	                                            : NULL;
	return p && (!*p || *p == ' ' || *p == '\t' || *p == '#');
}

static void one_line(struct stream *s, char *line, json_t *tests)
{
	char file[512], reason[512];
	long n;
	int skip;

	if (s->in_yaml) {
		const char *t = skip_ws(line);
		if (!strcmp(t, "...") || (t == line && *t))
			s->in_yaml = 0;
		else
			yaml_line(s, line);
		if (s->in_yaml || !strcmp(t, "..."))
			return;
	}
	if (prove_header(line, file, sizeof file)) {
		stream_finish(s, tests);
		stream_reset(s, file);
		return;
	}
	/* prove's whole report of a skipped file: "t/x.t .. skipped: why" */
	char *sk = strstr(line, " skipped: ");
	if (sk && sk > line) {
		char head[600];
		snprintf(head, sizeof head, "%.*s", (int)(sk - line), line);
		if (prove_header(head, file, sizeof file)) {
			stream_finish(s, tests);
			stream_reset(s, file);
			s->planned = 0;
			s->skip_all = 1;
			snprintf(s->skip_reason, sizeof s->skip_reason, "%s",
			         sk + 10);
			s->ended = 1;
			return;
		}
	}
	if (!strncmp(line, "TAP version", 11)) {
		if (stream_used(s)) {
			stream_finish(s, tests);
			stream_reset(s, NULL);
		}
		return;
	}
	if (plan_line(line, &n, &skip, reason, sizeof reason)) {
		if (s->planned >= 0 || s->ended || s->bailed) {
			stream_finish(s, tests);
			stream_reset(s, NULL);
		}
		s->planned = n;
		s->skip_all = skip || n == 0;
		snprintf(s->skip_reason, sizeof s->skip_reason, "%s", reason);
		return;
	}
	if (!strncmp(line, "Bail out!", 9)) {
		add(tests, s, "Bail out!", OUTCOME_ERROR,
		    *skip_ws(line + 9) ? skip_ws(line + 9) : NULL);
		s->bailed = 1;
		s->last = NULL;
		return;
	}
	if (is_test_line(line)) {
		/* prove's verdict for a file whose plan is complete. */
		if (s->file[0] && !strcmp(line, "ok") && s->planned >= 0 &&
		    s->count >= s->planned) {
			s->ended = 1;
			return;
		}
		if (s->bailed)
			return;
		test_line(s, line, tests);
		return;
	}
	if (line[0] == '#') {
		if (s->last && s->last_failed && !s->ended)
			add_diag(s, skip_ws(line + 1));
		return;
	}
	if ((line[0] == ' ' || line[0] == '\t') && s->last &&
	    !strcmp(skip_ws(line), "---")) {
		s->in_yaml = 1;
		return;
	}
	if (s->file[0] && (!strncmp(line, "Failed ", 7) ||
	                   !strncmp(line, "skipped:", 8)))
		s->ended = 1;
}

void tap_parse(const char *text, json_t *tests)
{
	struct stream s;
	char *copy = text ? strdup(text) : NULL;

	if (!copy)
		return;
	stream_reset(&s, NULL);
	for (char *line = copy, *nl; line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		one_line(&s, line, tests);
	}
	stream_finish(&s, tests);
	free(copy);
}
