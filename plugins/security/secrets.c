/*
 * secrets.c -- the built-in secret detector of security.scan.
 *
 * Line by line: private key blocks, provider token formats (AWS, GitHub,
 * Slack, Stripe, Google), hard-coded passwords and high-entropy strings
 * assigned to variables. A finding names the line and column and shows a
 * redacted snippet: the first four characters of the secret and its
 * length, never the secret itself.
 */
#include "security.h"

#include <agent-common.h>
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOOL "mcpd-secrets"

double shannon_entropy(const char *s, size_t n)
{
	size_t count[256] = {0};
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		count[(unsigned char)s[i]]++;
	double h = 0;
	for (size_t i = 0; i < 256; i++) {
		if (!count[i])
			continue;
		double p = (double)count[i] / (double)n;
		h -= p * log2(p);
	}
	return h;
}

/* The line with s[off..off+len) replaced by "abcd…(N chars)". */
static char *redact(const char *line, size_t linelen, size_t off, size_t len)
{
	char mask[64];
	size_t keep = len > 8 ? 4 : 0;
	snprintf(mask, sizeof mask, "%.*s…(%zu chars redacted)", (int)keep,
	         line + off, len);
	size_t lead = off, tail = linelen - off - len;
	const char *pre = "", *post = "";
	if (lead > 60) {
		line += off - 60;
		off = 60;
		lead = 60;
		pre = "…";
	}
	if (tail > 60) {
		tail = 60;
		post = "…";
	}
	size_t n = strlen(pre) + lead + strlen(mask) + tail + strlen(post) + 1;
	char *out = malloc(n);
	if (!out)
		return NULL;
	snprintf(out, n, "%s%.*s%s%.*s%s", pre, (int)lead, line, mask,
	         (int)tail, line + off + len, post);
	/* tabs and trailing spaces make poor snippets */
	for (char *p = out; *p; p++)
		if (*p == '\t')
			*p = ' ';
	return out;
}

static void report(json_t *findings, const char *path, int lineno,
                   const char *line, size_t linelen, size_t off, size_t len,
                   const char *rule, const char *severity, const char *what)
{
	char *snip;
	char msg[512];
	if (!strcmp(rule, "secret.private-key")) {
		/* the header is not secret; the body after it is */
		size_t n = linelen + 32;
		snip = malloc(n);
		if (snip)
			snprintf(snip, n, "%.*s [key body redacted]",
			         (int)linelen, line);
		snprintf(msg, sizeof msg, "%s: remove it from the source and "
		         "rotate the key", what);
	} else {
		snip = redact(line, linelen, off, len);
		snprintf(msg, sizeof msg, "%s (%.4s…, %zu characters): remove "
		         "it from the source and rotate it", what,
		         len > 8 ? line + off : "", len);
	}
	json_t *f = finding_new(TOOL, rule, severity, path, lineno,
	                        (int)off + 1, msg);
	if (snip)
		json_object_set_new(f, "snippet", json_string(snip));
	free(snip);
	json_array_append_new(findings, f);
}

struct pattern {
	const char *rule, *what, *re;
	double min_entropy; /* of the whole match; 0: none */
};

static const struct pattern patterns[] = {
	{"secret.aws-access-key-id", "AWS access key id",
	 "(AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}", 3.0},
	{"secret.github-token", "GitHub token",
	 "(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}", 3.5},
	{"secret.github-token", "GitHub fine-grained token",
	 "github_pat_[A-Za-z0-9_]{60,255}", 3.5},
	{"secret.slack-token", "Slack token",
	 "xox[abposr]-[0-9A-Za-z]+-[0-9A-Za-z-]{8,}", 3.0},
	{"secret.slack-webhook", "Slack webhook URL",
	 "https://hooks\\.slack\\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/"
	 "[A-Za-z0-9]{16,}", 3.0},
	{"secret.stripe-key", "Stripe secret key",
	 "(sk|rk)_live_[0-9A-Za-z]{24,}", 3.0},
	{"secret.google-api-key", "Google API key",
	 "AIza[0-9A-Za-z_-]{35}", 3.0},
};
#define NPATTERNS (sizeof patterns / sizeof patterns[0])

static int word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int lower_contains(const char *s, size_t n, const char *needle)
{
	char buf[256];
	if (n >= sizeof buf)
		n = sizeof buf - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static int secret_name(const char *s, size_t n)
{
	static const char *const words[] = {"secret", "token", "passw",
	                                    "apikey", "api_key", "api-key",
	                                    "access_key", "accesskey",
	                                    "private_key", "privatekey",
	                                    "credential", "auth", "pwd",
	                                    "client_key", NULL};
	for (const char *const *w = words; *w; w++)
		if (lower_contains(s, n, *w))
			return 1;
	return 0;
}

static int password_name(const char *s, size_t n)
{
	while (n && (s[n - 1] == '"' || s[n - 1] == '\''))
		n--;
	return lower_contains(s, n, "passw") ||
	       lower_contains(s, n, "passphrase") ||
	       (n >= 3 && !strncasecmp(s + n - 3, "pwd", 3) &&
	        (n == 3 || !isalnum((unsigned char)s[n - 4])));
}

/* A value that stands for a secret rather than being one. */
static int placeholder(const char *v, size_t n)
{
	static const char *const words[] = {"example", "placeholder", "dummy",
	                                    "redacted", "changeme_later",
	                                    "your_", "your-", "xxxx", "****",
	                                    "<", "${", "{{", "%s", "%(",
	                                    "process.env", "os.environ",
	                                    "getenv", NULL};
	if (n < 4)
		return 1;
	int same = 1;
	for (size_t i = 1; i < n; i++)
		if (v[i] != v[0])
			same = 0;
	if (same)
		return 1;
	for (const char *const *w = words; *w; w++)
		if (lower_contains(v, n, *w))
			return 1;
	return 0;
}

static int char_classes(const char *v, size_t n)
{
	int lo = 0, up = 0, di = 0;
	for (size_t i = 0; i < n; i++) {
		lo |= islower((unsigned char)v[i]) != 0;
		up |= isupper((unsigned char)v[i]) != 0;
		di |= isdigit((unsigned char)v[i]) != 0;
	}
	return lo + up + di;
}

static int token_charset(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("+/=_-.~", v[i]))
			return 0;
	return 1;
}

/*
 * Assignments on a line: NAME = "v", NAME: 'v', "NAME": "v", NAME := "v",
 * NAME => "v", #define NAME "v", and shell NAME=v. Calls fn for each.
 */
struct assign {
	size_t name_off, name_len, val_off, val_len;
};

static size_t find_assignments(const char *line, size_t n, struct assign *out,
                               size_t max)
{
	size_t count = 0;
	for (size_t i = 0; i < n && count < max; i++) {
		if (line[i] != '"' && line[i] != '\'')
			continue;
		char q = line[i];
		size_t end = i + 1;
		while (end < n && line[end] != q) {
			if (line[end] == '\\')
				end++;
			end++;
		}
		if (end >= n)
			break;
		/* look back from the opening quote for an operator */
		size_t k = i;
		while (k > 0 && (line[k - 1] == ' ' || line[k - 1] == '\t'))
			k--;
		int op = 0, define = 0;
		if (k >= 2 && line[k - 1] == '>' && line[k - 2] == '=')
			k -= 2, op = 1;
		else if (k >= 1 && (line[k - 1] == '=' || line[k - 1] == ':')) {
			if (k >= 2 && strchr("=!<>", line[k - 2]))
				op = 0;
			else
				k--, op = 1;
			if (op && line[k] == '=' && k >= 1 && line[k - 1] == ':')
				k--;
		}
		if (!op) {
			/* #define NAME "value" */
			size_t e = k;
			while (e > 0 && word_char(line[e - 1]))
				e--;
			size_t d = e;
			while (d > 0 && (line[d - 1] == ' ' || line[d - 1] == '\t'))
				d--;
			if (e < k && d >= 7 && !strncmp(line + d - 7, "#define", 7)) {
				out[count++] = (struct assign){e, k - e, i + 1,
				                               end - i - 1};
				define = 1;
			}
			i = end;
			(void)define;
			continue;
		}
		while (k > 0 && (line[k - 1] == ' ' || line[k - 1] == '\t'))
			k--;
		if (k > 0 && (line[k - 1] == '"' || line[k - 1] == '\''))
			k--; /* "key": "value" */
		if (k > 0 && line[k - 1] == ']')
			k--; /* dict["key"] = ... keeps the key text */
		size_t e = k;
		while (e > 0 && (word_char(line[e - 1]) || line[e - 1] == '-' ||
		                 line[e - 1] == '.' || line[e - 1] == '"' ||
		                 line[e - 1] == '\'' || line[e - 1] == '['))
			e--;
		if (e < k)
			out[count++] = (struct assign){e, k - e, i + 1,
			                               end - i - 1};
		i = end;
	}
	/* shell / env files: NAME=value with no quotes */
	size_t s = 0;
	while (s < n && (line[s] == ' ' || line[s] == '\t'))
		s++;
	if (n - s > 7 && !strncmp(line + s, "export ", 7))
		s += 7;
	size_t e = s;
	while (e < n && word_char(line[e]))
		e++;
	if (e > s && e < n && line[e] == '=' && e + 1 < n &&
	    line[e + 1] != '"' && line[e + 1] != '\'' && count < max) {
		size_t v = e + 1, ve = v;
		while (ve < n && !isspace((unsigned char)line[ve]) &&
		       line[ve] != ';' && line[ve] != '#')
			ve++;
		if (ve > v)
			out[count++] = (struct assign){s, e - s, v, ve - v};
	}
	return count;
}

static void scan_assignments(const char *path, int lineno, const char *line,
                             size_t n, json_t *findings, int flagged)
{
	struct assign as[16];
	size_t na = find_assignments(line, n, as, 16);
	for (size_t i = 0; i < na && !flagged; i++) {
		const char *name = line + as[i].name_off;
		const char *v = line + as[i].val_off;
		size_t vn = as[i].val_len;
		if (placeholder(v, vn))
			continue;
		int secretish = secret_name(name, as[i].name_len);
		if (lower_contains(name, as[i].name_len, "aws") &&
		    lower_contains(name, as[i].name_len, "secret") && vn == 40 &&
		    token_charset(v, vn)) {
			report(findings, path, lineno, line, n, as[i].val_off, vn,
			       "secret.aws-secret-access-key", "error",
			       "AWS secret access key");
			return;
		}
		if (password_name(name, as[i].name_len) && vn >= 4 &&
		    !memchr(v, ' ', vn)) {
			report(findings, path, lineno, line, n, as[i].val_off, vn,
			       "secret.hardcoded-password", "error",
			       "hard-coded password");
			return;
		}
		if (!token_charset(v, vn))
			continue;
		double h = shannon_entropy(v, vn);
		if ((secretish && vn >= 16 && h >= 3.5 && char_classes(v, vn) >= 2) ||
		    (vn >= 32 && h >= 4.5 && char_classes(v, vn) == 3)) {
			char what[128];
			snprintf(what, sizeof what, "high-entropy string "
			         "(%.1f bits/char) assigned to %.*s", h,
			         (int)(as[i].name_len > 40 ? 40 : as[i].name_len),
			         name);
			report(findings, path, lineno, line, n, as[i].val_off, vn,
			       "secret.high-entropy-string", "warning", what);
			return;
		}
	}
}

/* Is the line after a BEGIN ... PRIVATE KEY header a key body? */
static int key_body_follows(const char *next, size_t n)
{
	size_t b64 = 0;
	while (n && (next[0] == ' ' || next[0] == '\t' || next[0] == '"'))
		next++, n--;
	if (n >= 10 && (!strncmp(next, "Proc-Type:", 10) ||
	                !strncmp(next, "Version:", 8) ||
	                !strncmp(next, "Comment:", 8)))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (isalnum((unsigned char)next[i]) || next[i] == '+' ||
		    next[i] == '/' || next[i] == '=')
			b64++;
		else if (next[i] == '\\' || next[i] == '"' || next[i] == '\r')
			break;
		else
			return 0;
	return b64 >= 32;
}

void secrets_scan(const char *path, const char *text, size_t len,
                  json_t *findings)
{
	regex_t re[NPATTERNS], key;
	int ok = 1;
	for (size_t i = 0; i < NPATTERNS; i++)
		if (regcomp(&re[i], patterns[i].re, REG_EXTENDED) != 0)
			ok = 0;
	if (regcomp(&key, "-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----",
	            REG_EXTENDED) != 0)
		ok = 0;
	if (!ok)
		return; /* the patterns are constants: this does not happen */
	int lineno = 0;
	const char *p = text, *end = text + len;
	char *line = NULL;
	size_t cap = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		if (n + 1 > cap) {
			cap = n + 1;
			char *l = realloc(line, cap);
			if (!l)
				break;
			line = l;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		/* NUL bytes end the line for regexec; binary files are skipped
		 * before they get here */
		int flagged = 0;
		regmatch_t m;
		if (regexec(&key, line, 1, &m, 0) == 0 && nl) {
			const char *next = nl + 1;
			const char *nl2 = memchr(next, '\n', (size_t)(end - next));
			size_t nn = nl2 ? (size_t)(nl2 - next) : (size_t)(end - next);
			/* a key inside a string literal: "...-----\nMIIE..." */
			const char *esc = strstr(line + m.rm_eo, "\\n");
			if (key_body_follows(next, nn) ||
			    (esc && key_body_follows(esc + 2, strlen(esc + 2)))) {
				report(findings, path, lineno, line, n,
				       (size_t)m.rm_so, (size_t)(m.rm_eo - m.rm_so),
				       "secret.private-key", "error",
				       "private key block");
				flagged = 1;
			}
		}
		for (size_t i = 0; i < NPATTERNS; i++) {
			size_t off = 0;
			while (off < n && regexec(&re[i], line + off, 1, &m,
			                          off ? REG_NOTBOL : 0) == 0) {
				size_t s = off + (size_t)m.rm_so;
				size_t e = off + (size_t)m.rm_eo;
				off = e > s ? e : s + 1;
				if ((s > 0 && word_char(line[s - 1])) ||
				    (e < n && word_char(line[e])))
					continue;
				if (placeholder(line + s, e - s) ||
				    shannon_entropy(line + s, e - s) <
				            patterns[i].min_entropy)
					continue;
				report(findings, path, lineno, line, n, s, e - s,
				       patterns[i].rule, "error",
				       patterns[i].what);
				flagged = 1;
			}
		}
		scan_assignments(path, lineno, line, n, findings, flagged);
		p = nl ? nl + 1 : end;
	}
	free(line);
	for (size_t i = 0; i < NPATTERNS; i++)
		regfree(&re[i]);
	regfree(&key);
}
