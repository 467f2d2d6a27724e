/*
 * findings.c -- normalized findings and their SARIF 2.1.0 log.
 */
#include "agent-common.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

json_t *finding_new(const char *tool, const char *rule, const char *severity,
                    const char *file, int line, int column,
                    const char *message)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s}",
	                 "tool", tool ? tool : "", "rule", rule ? rule : "",
	                 "severity", severity_normalize(severity),
	                 "file", file ? file : "", "line", line < 0 ? 0 : line,
	                 "column", column < 0 ? 0 : column,
	                 "message", message ? message : "");
}

const char *severity_normalize(const char *word)
{
	static const char *const errors[] = {"error", "high", "critical",
	                                     "fatal", "E", "F"};
	static const char *const notes[] = {"note", "info", "information",
	                                    "low", "style", "convention",
	                                    "performance", "portability",
	                                    "C", "R", "I"};
	if (!word || !*word)
		return "warning";
	for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
		if (!strcasecmp(word, errors[i]))
			return "error";
	for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++)
		if (!strcasecmp(word, notes[i]))
			return "note";
	return "warning";
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static int cmp_finding(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(str(x, "file"), str(y, "file"));
	if (c)
		return c;
	json_int_t lx = json_integer_value(json_object_get(x, "line"));
	json_int_t ly = json_integer_value(json_object_get(y, "line"));
	if (lx != ly)
		return lx < ly ? -1 : 1;
	lx = json_integer_value(json_object_get(x, "column"));
	ly = json_integer_value(json_object_get(y, "column"));
	if (lx != ly)
		return lx < ly ? -1 : 1;
	if ((c = strcmp(str(x, "tool"), str(y, "tool"))))
		return c;
	return strcmp(str(x, "rule"), str(y, "rule"));
}

void findings_sort(json_t *findings)
{
	size_t n = json_array_size(findings);
	if (n < 2)
		return;
	json_t **v = malloc(n * sizeof *v);
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(findings, i));
	qsort(v, n, sizeof *v, cmp_finding);
	json_array_clear(findings);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(findings, v[i]);
	free(v);
}

/* One SARIF run: the tool's driver, its rules, its results. */
static json_t *sarif_run(const json_t *tool, const json_t *findings)
{
	const char *name = str(tool, "name");
	json_t *driver = json_pack("{s:s}", "name", name);
	if (*str(tool, "version"))
		json_object_set_new(driver, "version",
		                    json_string(str(tool, "version")));
	if (*str(tool, "information_uri"))
		json_object_set_new(driver, "informationUri",
		                    json_string(str(tool, "information_uri")));
	json_t *rules = json_array(), *results = json_array();
	json_t *rule_index = json_object(); /* rule id -> index in rules */
	size_t i;
	json_t *f;
	json_array_foreach(findings, i, f) {
		if (strcmp(str(f, "tool"), name))
			continue;
		const char *rule = *str(f, "rule") ? str(f, "rule") : "finding";
		json_t *idx = json_object_get(rule_index, rule);
		if (!idx) {
			idx = json_integer((json_int_t)json_array_size(rules));
			json_object_set_new(rule_index, rule, idx);
			json_array_append_new(rules, json_pack("{s:s}", "id", rule));
		}
		json_t *region = json_object();
		json_int_t line = json_integer_value(json_object_get(f, "line"));
		json_int_t col = json_integer_value(json_object_get(f, "column"));
		if (line > 0)
			json_object_set_new(region, "startLine", json_integer(line));
		if (line > 0 && col > 0)
			json_object_set_new(region, "startColumn", json_integer(col));
		json_t *phys = json_pack("{s:{s:s}}", "artifactLocation", "uri",
		                         str(f, "file"));
		if (json_object_size(region))
			json_object_set_new(phys, "region", region);
		else
			json_decref(region);
		json_array_append_new(
			results,
			json_pack("{s:s, s:I, s:s, s:{s:s}, s:[{s:o}]}", "ruleId",
			          rule, "ruleIndex", json_integer_value(idx),
			          "level", str(f, "severity"), "message", "text",
			          str(f, "message"), "locations", "physicalLocation",
			          phys));
	}
	json_decref(rule_index);
	json_object_set_new(driver, "rules", rules);
	return json_pack("{s:{s:o}, s:o}", "tool", "driver", driver, "results",
	                 results);
}

json_t *sarif_log(const json_t *findings, const json_t *tools)
{
	json_t *runs = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(tools, i, t)
		json_array_append_new(runs, sarif_run(t, findings));
	return json_pack("{s:s, s:s, s:o}", "$schema",
	                 "https://json.schemastore.org/sarif-2.1.0.json",
	                 "version", "2.1.0", "runs", runs);
}
