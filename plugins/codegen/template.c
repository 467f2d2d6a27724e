/*
 * template.c -- the offline backend: scaffolds that compile, from a name and
 * a signature (or a description), with no model.
 *
 *   c       NAME.h (prototype), NAME.c (definition returning the zero of
 *           its type), test_NAME.c (a TAP program calling it) and a
 *           Makefile whose "test" target builds and runs it.
 *   python  NAME.py (the function with a docstring, returning the zero of
 *           its annotated type) and test_NAME.py (pytest).
 *   shell   NAME.sh (POSIX sh with -h/--help, the options and arguments
 *           of the usage line in `signature`) and test_NAME.sh (TAP).
 *
 * Signatures are parsed here, strictly: what cannot make code that
 * compiles is refused as bad input naming the field and the reason. For
 * target "tests" without a signature, the function is looked up in the
 * given files.
 */
#include "codegen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 32

static int is_ident(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

static int word_in(const char *w, size_t n, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strlen(list[i]) == n && memcmp(w, list[i], n) == 0)
			return 1;
	return 0;
}

/* Text for a comment or string from user prose: one line per line, with
 * `bad` sequences defused by `fix`. */
static void add_prose(struct sbuf *b, const char *text, const char *prefix,
                      const char *bad, const char *fix)
{
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, "\n");
		sb_add(b, prefix);
		for (size_t i = 0; i < n; i++) {
			if (bad && strncmp(p + i, bad, strlen(bad)) == 0) {
				sb_add(b, fix);
				i += strlen(bad) - 1;
			} else if (p[i] != '\r') {
				sb_addn(b, p + i, 1);
			}
		}
		/* no trailing blanks after the prefix of an empty line */
		while (b->len && b->p[b->len - 1] == ' ')
			b->p[--b->len] = '\0';
		sb_add(b, "\n");
		p += n;
		if (*p)
			p++;
	}
}

/* ================================================================ C */

enum ckind { CK_VOID, CK_INT, CK_FLOAT, CK_BOOL, CK_PTR, CK_CHARPTR };

struct cparam {
	char type[160]; /* "const char *", "int32_t" */
	char name[64];
	enum ckind kind;
};

struct cfunc {
	char ret[160];
	enum ckind rkind;
	char name[64];
	struct cparam p[MAX_PARAMS];
	int np;
	int variadic;
	/* headers and forward declarations the types need */
	int need_stdint, need_stddef, need_stdbool, need_stdio, need_systypes;
	char fwd[8][80];
	int nfwd;
};

struct ctok {
	const char *s;
	size_t n;
};

static const char *const c_basic[] = {
	"void", "char", "short", "int", "long", "float", "double", "signed",
	"unsigned", "_Bool", "bool", NULL};
static const char *const c_quals[] = {"const", "volatile", "restrict",
                                      "static", "inline", "extern", NULL};
static const char *const c_stdint[] = {
	"int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t",
	"uint32_t", "uint64_t", "intptr_t", "uintptr_t", "intmax_t",
	"uintmax_t", NULL};
static const char *const c_stddef[] = {"size_t", "ptrdiff_t", NULL};

static int c_tokenize(const char *s, struct ctok *t, int max, char *bad)
{
	int n = 0;
	while (*s) {
		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		if (n == max)
			return -1;
		const char *b = s;
		if (isalpha((unsigned char)*s) || *s == '_') {
			while (isalnum((unsigned char)*s) || *s == '_')
				s++;
		} else if (isdigit((unsigned char)*s)) {
			while (isalnum((unsigned char)*s))
				s++;
		} else if (strncmp(s, "...", 3) == 0) {
			s += 3;
		} else if (strchr("*(),[];{", *s)) {
			s++;
		} else {
			*bad = *s;
			return -2;
		}
		t[n].s = b;
		t[n].n = (size_t)(s - b);
		n++;
	}
	return n;
}

/*
 * Check a type's tokens, classify it and note the headers it needs. A
 * struct or union is allowed behind a pointer only (it gets a forward
 * declaration). 0, or -1 with a reason in why.
 */
static int c_type(struct cfunc *f, const struct ctok *t, int n, char *out,
                  size_t outlen, enum ckind *kind, char *why, size_t whylen)
{
	int stars = 0, base = 0, is_char = 0, is_float = 0, is_bool = 0;
	int is_void = 0, tagged = 0;
	char fwd[80] = "";
	struct sbuf b = {0};

	for (int i = 0; i < n; i++) {
		const char *w = t[i].s;
		size_t wl = t[i].n;
		if (wl == 1 && *w == '*') {
			stars++;
			sb_add(&b, b.len && b.p[b.len - 1] == '*' ? "*" : " *");
			continue;
		}
		if (word_in(w, wl, c_quals)) {
			if (wl == 5 && memcmp(w, "const", 5) == 0) {
				sb_addf(&b, "%s%.*s", b.len ? " " : "", (int)wl, w);
				continue;
			}
			if (wl == 8 && memcmp(w, "restrict", 8) == 0 && stars)
				continue;
			if (wl == 8 && memcmp(w, "volatile", 8) == 0) {
				sb_addf(&b, "%s%.*s", b.len ? " " : "", (int)wl, w);
				continue;
			}
			if (i == 0 && (wl == 6 || wl == 5)) /* static, inline, extern */
				continue;
			snprintf(why, whylen, "\"%.*s\" is not allowed here",
			         (int)wl, w);
			goto bad;
		}
		if (stars) {
			snprintf(why, whylen, "\"%.*s\" after \"*\" is not a type "
			         "qualifier", (int)wl, w);
			goto bad;
		}
		if ((wl == 6 && (memcmp(w, "struct", 6) == 0)) ||
		    (wl == 5 && memcmp(w, "union", 5) == 0)) {
			if (i + 1 >= n || !is_ident(t[i + 1].s, t[i + 1].n)) {
				snprintf(why, whylen, "\"%.*s\" needs a tag name",
				         (int)wl, w);
				goto bad;
			}
			snprintf(fwd, sizeof fwd, "%.*s %.*s;", (int)wl, w,
			         (int)t[i + 1].n, t[i + 1].s);
			sb_addf(&b, "%s%.*s %.*s", b.len ? " " : "", (int)wl, w,
			        (int)t[i + 1].n, t[i + 1].s);
			i++;
			tagged = base = 1;
			continue;
		}
		if (word_in(w, wl, c_basic)) {
			is_char |= wl == 4 && memcmp(w, "char", 4) == 0;
			is_float |= (wl == 5 && memcmp(w, "float", 5) == 0) ||
			            (wl == 6 && memcmp(w, "double", 6) == 0);
			is_void |= wl == 4 && memcmp(w, "void", 4) == 0;
			if ((wl == 4 && memcmp(w, "bool", 4) == 0)) {
				f->need_stdbool = 1;
				is_bool = 1;
			}
			is_bool |= wl == 5 && memcmp(w, "_Bool", 5) == 0;
		} else if (word_in(w, wl, c_stdint)) {
			f->need_stdint = 1;
		} else if (word_in(w, wl, c_stddef)) {
			f->need_stddef = 1;
		} else if ((wl == 7 && memcmp(w, "ssize_t", 7) == 0) ||
		           (wl == 5 && memcmp(w, "off_t", 5) == 0)) {
			f->need_systypes = 1;
		} else if (wl == 4 && memcmp(w, "FILE", 4) == 0) {
			f->need_stdio = 1;
			tagged = 1;
		} else {
			snprintf(why, whylen, "unknown type \"%.*s\" (the template "
			         "backend knows the standard C types: int, long, "
			         "double, bool, size_t, int32_t, char *, struct T "
			         "*...)", (int)wl, w);
			goto bad;
		}
		base = 1;
		sb_addf(&b, "%s%.*s", b.len && b.p[b.len - 1] != '*' ? " " : "",
		        (int)wl, w);
	}
	if (!base) {
		snprintf(why, whylen, "no type");
		goto bad;
	}
	if (tagged && !stars) {
		snprintf(why, whylen, "a struct, union or FILE is passed by "
		         "pointer only");
		goto bad;
	}
	if (stars && fwd[0] && f->nfwd < 8) {
		int seen = 0;
		for (int k = 0; k < f->nfwd; k++)
			seen |= strcmp(f->fwd[k], fwd) == 0;
		if (!seen)
			snprintf(f->fwd[f->nfwd++], sizeof f->fwd[0], "%s", fwd);
	}
	*kind = stars ? (is_char && stars == 1 ? CK_CHARPTR : CK_PTR)
	        : is_void ? CK_VOID : is_float ? CK_FLOAT
	        : is_bool ? CK_BOOL : CK_INT;
	if (b.oom || b.len >= outlen) {
		snprintf(why, whylen, "type too long");
		goto bad;
	}
	snprintf(out, outlen, "%s", sb_str(&b));
	sb_free(&b);
	return 0;
bad:
	sb_free(&b);
	return -1;
}

static int c_parse(const char *sig, struct cfunc *f, struct cg_err *err,
                   const char *field)
{
	struct ctok t[160];
	char bad = 0, why[400];
	int n = c_tokenize(sig, t, 160, &bad);
	memset(f, 0, sizeof *f);
	if (n == -2)
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: character "
		               "'%c' has no place in a C function signature",
		               field, bad);
	if (n < 0)
		return cg_fail(err, MCPD_E_INVAL, "bad_input",
		               "%s: too long", field);
	while (n && t[n - 1].n == 1 && strchr(";{", t[n - 1].s[0]))
		n--;
	int open = -1;
	for (int i = 0; i < n && open < 0; i++)
		if (t[i].n == 1 && t[i].s[0] == '(')
			open = i;
	if (open < 2 || t[n - 1].n != 1 || t[n - 1].s[0] != ')')
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: expected "
		               "a C prototype such as \"int add(int a, int b)\"",
		               field);
	const struct ctok *nm = &t[open - 1];
	if (!is_ident(nm->s, nm->n) || nm->n >= sizeof f->name ||
	    word_in(nm->s, nm->n, c_basic) || word_in(nm->s, nm->n, c_quals))
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: no function "
		               "name before \"(\"", field);
	snprintf(f->name, sizeof f->name, "%.*s", (int)nm->n, nm->s);
	if (c_type(f, t, open - 1, f->ret, sizeof f->ret, &f->rkind, why,
	           sizeof why) < 0)
		return cg_fail(err, MCPD_E_INVAL, "bad_input",
		               "%s: return type: %s", field, why);
	/* parameters between open and n-1 */
	int i = open + 1, end = n - 1;
	if (end - i == 1 && t[i].n == 4 && memcmp(t[i].s, "void", 4) == 0)
		return 0;
	while (i < end) {
		int j = i;
		while (j < end && !(t[j].n == 1 && t[j].s[0] == ','))
			j++;
		int k = j; /* tokens [i, k) */
		if (k - i == 1 && t[i].n == 3 && memcmp(t[i].s, "...", 3) == 0) {
			if (j != end || f->np == 0)
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "%s: \"...\" must come last, after "
				               "a named parameter", field);
			f->variadic = 1;
			break;
		}
		if (f->np == MAX_PARAMS)
			return cg_fail(err, MCPD_E_INVAL, "bad_input",
			               "%s: more than %d parameters", field,
			               MAX_PARAMS);
		struct cparam *p = &f->p[f->np];
		int arr = 0;
		if (k - i >= 2 && t[k - 1].n == 1 && t[k - 1].s[0] == ']') {
			int o = k - 2;
			while (o > i && !(t[o].n == 1 && t[o].s[0] == '['))
				o--;
			if (!(t[o].n == 1 && t[o].s[0] == '[') || k - 1 - o > 2)
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "%s: parameter %d: bad array "
				               "declarator", field, f->np + 1);
			k = o;
			arr = 1;
		}
		for (int q = i; q < k; q++)
			if (t[q].n == 1 && strchr("()[]", t[q].s[0]))
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "%s: parameter %d: function pointers "
				               "and nested declarators are not "
				               "supported (use a typedef'd pointer in "
				               "the files instead)", field, f->np + 1);
		const struct ctok *last = k > i ? &t[k - 1] : NULL;
		int named = last && k - i >= 2 && is_ident(last->s, last->n) &&
		            !word_in(last->s, last->n, c_basic) &&
		            !word_in(last->s, last->n, c_quals) &&
		            !word_in(last->s, last->n, c_stdint) &&
		            !word_in(last->s, last->n, c_stddef) &&
		            !(k - i >= 2 && t[k - 2].n >= 5 &&
		              (memcmp(t[k - 2].s, "struct", t[k - 2].n) == 0 ||
		               memcmp(t[k - 2].s, "union", t[k - 2].n) == 0));
		if (named && last->n < sizeof p->name)
			snprintf(p->name, sizeof p->name, "%.*s", (int)last->n,
			         last->s);
		else
			snprintf(p->name, sizeof p->name, "arg%d", f->np + 1);
		struct ctok tt[64];
		int tn = 0;
		for (int q = i; q < (named ? k - 1 : k) && tn < 63; q++)
			tt[tn++] = t[q];
		if (arr)
			tt[tn++] = (struct ctok){"*", 1};
		if (c_type(f, tt, tn, p->type, sizeof p->type, &p->kind, why,
		           sizeof why) < 0)
			return cg_fail(err, MCPD_E_INVAL, "bad_input",
			               "%s: parameter %d (\"%s\"): %s", field,
			               f->np + 1, p->name, why);
		if (p->kind == CK_VOID)
			return cg_fail(err, MCPD_E_INVAL, "bad_input",
			               "%s: parameter %d (\"%s\") has type void",
			               field, f->np + 1, p->name);
		for (int q = 0; q < f->np; q++)
			if (strcmp(f->p[q].name, p->name) == 0)
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "%s: parameter name \"%s\" appears "
				               "twice", field, p->name);
		f->np++;
		i = j + 1;
		if (j < end && i == end)
			return cg_fail(err, MCPD_E_INVAL, "bad_input",
			               "%s: a parameter is missing after \",\"",
			               field);
	}
	return 0;
}

/* "int x" / "const char *s" */
static void c_decl(struct sbuf *b, const char *type, const char *name)
{
	size_t n = strlen(type);
	sb_addf(b, "%s%s%s", type, n && type[n - 1] == '*' ? "" : " ", name);
}

static void c_proto(struct sbuf *b, const struct cfunc *f)
{
	c_decl(b, f->ret, f->name);
	sb_add(b, "(");
	for (int i = 0; i < f->np; i++) {
		if (i)
			sb_add(b, ", ");
		c_decl(b, f->p[i].type, f->p[i].name);
	}
	if (f->variadic)
		sb_add(b, ", ...");
	if (!f->np)
		sb_add(b, "void");
	sb_add(b, ")");
}

static const char *c_zero(enum ckind k)
{
	switch (k) {
	case CK_FLOAT: return "0.0";
	case CK_BOOL: return "false";
	case CK_PTR:
	case CK_CHARPTR: return "NULL";
	default: return "0";
	}
}

static void c_includes(struct sbuf *b, const struct cfunc *f)
{
	if (f->need_stdbool)
		sb_add(b, "#include <stdbool.h>\n");
	if (f->need_stddef)
		sb_add(b, "#include <stddef.h>\n");
	if (f->need_stdint)
		sb_add(b, "#include <stdint.h>\n");
	if (f->need_stdio)
		sb_add(b, "#include <stdio.h>\n");
	if (f->need_systypes)
		sb_add(b, "#include <sys/types.h>\n");
}

static void c_guard(char *out, size_t len, const char *module)
{
	size_t i = 0;
	for (; module[i] && i + 3 < len; i++)
		out[i] = isalnum((unsigned char)module[i])
		                 ? (char)toupper((unsigned char)module[i]) : '_';
	snprintf(out + i, len - i, "_H");
}

static void c_header(struct sbuf *b, const struct cfunc *f, const char *module,
                     const char *desc)
{
	char guard[96];
	c_guard(guard, sizeof guard, module);
	sb_addf(b, "/*\n * %s.h -- %s().\n */\n", module, f->name);
	sb_addf(b, "#ifndef %s\n#define %s\n\n", guard, guard);
	c_includes(b, f);
	if (f->need_stdbool || f->need_stddef || f->need_stdint ||
	    f->need_stdio || f->need_systypes)
		sb_add(b, "\n");
	for (int i = 0; i < f->nfwd; i++)
		sb_addf(b, "%s\n", f->fwd[i]);
	if (f->nfwd)
		sb_add(b, "\n");
	if (desc && *desc) {
		sb_add(b, "/*\n");
		add_prose(b, desc, " * ", "*/", "* /");
		sb_add(b, " */\n");
	}
	c_proto(b, f);
	sb_addf(b, ";\n\n#endif /* %s */\n", guard);
}

static void c_source(struct sbuf *b, const struct cfunc *f, const char *module)
{
	sb_addf(b, "/*\n * %s.c -- %s().\n */\n#include \"%s.h\"\n", module,
	        f->name, module);
	if (f->rkind == CK_BOOL && !f->need_stdbool)
		sb_add(b, "#include <stdbool.h>\n");
	if ((f->rkind == CK_PTR || f->rkind == CK_CHARPTR) && !f->need_stddef)
		sb_add(b, "#include <stddef.h>\n");
	if (f->variadic)
		sb_add(b, "#include <stdarg.h>\n");
	if (b->len && b->p[b->len - 1] == '\n' && b->p[b->len - 2] != '\n')
		sb_add(b, "\n");
	c_proto(b, f);
	sb_add(b, "\n{\n");
	for (int i = 0; i < f->np; i++)
		sb_addf(b, "\t(void)%s;\n", f->p[i].name);
	sb_add(b, "\t/* Scaffold: the implementation goes here. */\n");
	if (f->rkind != CK_VOID)
		sb_addf(b, "\treturn %s;\n", c_zero(f->rkind));
	sb_add(b, "}\n");
}

/* The value a test passes for a parameter. */
static const char *c_sample(const struct cparam *p)
{
	switch (p->kind) {
	case CK_CHARPTR: return strstr(p->type, "const") ? "\"\"" : "NULL";
	case CK_FLOAT: return "0.0";
	case CK_BOOL: return "false";
	case CK_PTR: return "NULL";
	default: return "0";
	}
}

static void c_test(struct sbuf *b, const struct cfunc *f, const char *module,
                   const char *base, int have_header)
{
	struct sbuf call = {0};
	sb_addf(&call, "%s(", f->name);
	for (int i = 0; i < f->np; i++)
		sb_addf(&call, "%s%s", i ? ", " : "", c_sample(&f->p[i]));
	sb_add(&call, ")");

	sb_addf(b, "/*\n * test_%s.c -- TAP test of %s(). Build and run: "
	        "make test\n */\n", base, f->name);
	int need_bool = 0;
	for (int i = 0; i < f->np; i++)
		need_bool |= f->p[i].kind == CK_BOOL && !f->need_stdbool;
	if (need_bool)
		sb_add(b, "#include <stdbool.h>\n");
	sb_add(b, "#include <stddef.h>\n#include <stdio.h>\n");
	if (have_header) {
		sb_addf(b, "\n#include \"%s.h\"\n", module);
	} else {
		c_includes(b, f);
		sb_add(b, "\n");
		for (int i = 0; i < f->nfwd; i++)
			sb_addf(b, "%s\n", f->fwd[i]);
		c_proto(b, f);
		sb_addf(b, "; /* from %s.c */\n", module);
	}
	sb_add(b, "\nstatic int tests_run, tests_failed;\n\n"
	          "static void ok(int cond, const char *what)\n{\n"
	          "\ttests_run++;\n\tif (!cond)\n\t\ttests_failed++;\n"
	          "\tprintf(\"%sok %d - %s\\n\", cond ? \"\" : \"not \", "
	          "tests_run, what);\n}\n\n"
	          "int main(void)\n{\n\tprintf(\"1..1\\n\");\n");
	sb_add(b, "\t/* Scaffold: replace with calls on real inputs and "
	          "checks of their results. */\n");
	if (f->rkind == CK_VOID) {
		sb_addf(b, "\t%s;\n", sb_str(&call));
	} else {
		sb_add(b, "\t");
		c_decl(b, f->ret, "result");
		sb_addf(b, " = %s;\n\t(void)result;\n", sb_str(&call));
	}
	sb_add(b, "\tok(1, \"");
	for (const char *p = sb_str(&call); *p; p++) /* escape the call text */
		sb_addf(b, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
	sb_add(b, " returns\");\n\treturn tests_failed != 0;\n}\n");
	sb_free(&call);
}

static void c_makefile(struct sbuf *b, const char *module, const char *base)
{
	sb_addf(b, "# Build and run the TAP test of %s: make test\n"
	        "CC ?= cc\nCFLAGS ?= -std=c11 -Wall -Wextra -O1 -g\n\n"
	        "test_%s: test_%s.c %s.c\n"
	        "\t$(CC) $(CFLAGS) -o $@ test_%s.c %s.c\n\n"
	        "test: test_%s\n\t./test_%s\n\n"
	        "clean:\n\trm -f test_%s\n\n.PHONY: test clean\n",
	        module, base, base, module, base, module, base, base, base);
}

/* Find "NAME(" declared at file scope in the C files; fills sig with the
 * declaration text and module with the file's stem. */
static int c_find(const json_t *files, const char *name, char *sig,
                  size_t siglen, char *module, size_t modlen, int *is_header)
{
	const char *path;
	json_t *v;
	size_t nl = strlen(name);
	for (int pass = 0; pass < 2; pass++) { /* headers first */
		json_object_foreach((json_t *)files, path, v) {
			const char *text = json_string_value(v);
			size_t pl = strlen(path);
			if (!text || pl < 3 || path[pl - 2] != '.' ||
			    path[pl - 1] != (pass ? 'c' : 'h'))
				continue;
			for (const char *p = strstr(text, name); p;
			     p = strstr(p + 1, name)) {
				if ((p > text && (isalnum((unsigned char)p[-1]) ||
				                  p[-1] == '_')))
					continue;
				const char *q = p + nl;
				while (*q == ' ' || *q == '\t')
					q++;
				if (*q != '(')
					continue;
				/* the statement starts after ; } { or a
				 * preprocessor line */
				const char *s = p;
				while (s > text && !strchr(";}{", s[-1]) &&
				       !(s[-1] == '\n' && s[0] == '#'))
					s--;
				const char *e = strchr(q, ')');
				if (!e || (size_t)(e + 1 - s) >= siglen)
					continue;
				/* skip comments and directives in between */
				const char *c = s;
				while (strncmp(c, "/*", 2) == 0 ||
				       isspace((unsigned char)*c) || *c == '#') {
					if (*c == '#') {
						c = strchr(c, '\n');
						if (!c)
							break;
					} else if (*c == '/') {
						const char *ce = strstr(c, "*/");
						if (!ce)
							break;
						c = ce + 2;
					} else {
						c++;
					}
				}
				if (!c || c >= p)
					continue;
				snprintf(sig, siglen, "%.*s", (int)(e + 1 - c), c);
				snprintf(module, modlen, "%.*s", (int)(pl - 2), path);
				*is_header = !pass;
				return 1;
			}
		}
	}
	return 0;
}

static int gen_c(const struct cg_request *req, json_t *files,
                 struct cg_err *err)
{
	struct cfunc f;
	char module[256], sig[1024], path[300];
	int have_header = 1, rc;

	snprintf(module, sizeof module, "%s", req->name);
	if (req->signature) {
		rc = c_parse(req->signature, &f, err, "signature");
	} else if (req->target == CG_TESTS && req->files &&
	           c_find(req->files, req->name, sig, sizeof sig, module,
	                  sizeof module, &have_header)) {
		rc = c_parse(sig, &f, err, "files (the declaration found)");
		if (!have_header) {
			char h[300];
			snprintf(h, sizeof h, "%s.h", module);
			have_header = json_object_get(req->files, h) != NULL;
		}
	} else {
		snprintf(sig, sizeof sig, "int %s(void)", req->name);
		rc = c_parse(sig, &f, err, "name");
	}
	if (rc < 0)
		return rc;

	struct sbuf b = {0};
	if (req->target & CG_CODE) {
		c_header(&b, &f, module, req->description);
		snprintf(path, sizeof path, "%s.h", module);
		json_object_set_new(files, path, json_string(sb_str(&b)));
		sb_free(&b);
		c_source(&b, &f, module);
		snprintf(path, sizeof path, "%s.c", module);
		json_object_set_new(files, path, json_string(sb_str(&b)));
		sb_free(&b);
	}
	if (req->target & CG_TESTS) {
		const char *base = strrchr(module, '/');
		base = base ? base + 1 : module;
		c_test(&b, &f, module, base, have_header);
		snprintf(path, sizeof path, "test_%s.c", base);
		json_object_set_new(files, path, json_string(sb_str(&b)));
		sb_free(&b);
		if (!req->files || !json_object_get(req->files, "Makefile")) {
			c_makefile(&b, module, base);
			json_object_set_new(files, "Makefile",
			                    json_string(sb_str(&b)));
			sb_free(&b);
		}
	}
	return b.oom ? cg_fail(err, MCPD_E_NOMEM, "failed", "out of memory")
	             : 0;
}

/* ================================================================ Python */

enum pykind { PY_POS, PY_KWONLY, PY_VARARGS, PY_VARKW, PY_SLASH, PY_STAR };

struct pyparam {
	enum pykind kind;
	char name[64];
	char ann[160];  /* "" when none */
	char def[160];  /* "" when none */
};

struct pyfunc {
	char name[64];
	struct pyparam p[MAX_PARAMS];
	int np;
	char ret[160];
};

static const char *const py_keywords[] = {
	"False", "None", "True", "and", "as", "assert", "async", "await",
	"break", "class", "continue", "def", "del", "elif", "else", "except",
	"finally", "for", "from", "global", "if", "import", "in", "is",
	"lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
	"while", "with", "yield", NULL};

static void trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/* An annotation: dotted names, subscripts, "|", ",", None. */
static int py_ann_ok(const char *s, size_t n)
{
	int depth = 0, word = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (isalnum((unsigned char)c) || c == '_') {
			if (!word && isdigit((unsigned char)c))
				return 0;
			word = 1;
			continue;
		}
		word = 0;
		if (c == '[')
			depth++;
		else if (c == ']' && --depth < 0)
			return 0;
		else if (!strchr(".|, ", c))
			return 0;
	}
	return depth == 0 && n > 0;
}

/* A default: a number, a one-line string literal, None/True/False, a
 * dotted name, or an empty [], {}, (). */
static int py_default_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if ((s[0] == '"' || s[0] == '\'') && n >= 2 && s[n - 1] == s[0]) {
		for (size_t i = 1; i + 1 < n; i++) {
			if (s[i] == '\\') {
				if (++i + 1 >= n)
					return 0; /* escapes the closing quote */
			} else if (s[i] == s[0] || s[i] == '\n') {
				return 0;
			}
		}
		return 1;
	}
	if (n == 2 && (memcmp(s, "[]", 2) == 0 || memcmp(s, "{}", 2) == 0 ||
	               memcmp(s, "()", 2) == 0))
		return 1;
	size_t i = s[0] == '-' ? 1 : 0;
	if (i < n && isdigit((unsigned char)s[i])) {
		int dot = 0, exp = 0;
		for (; i < n; i++) {
			if (isdigit((unsigned char)s[i]) || s[i] == '_')
				continue;
			if (s[i] == '.' && !dot && !exp)
				dot = 1;
			else if ((s[i] == 'e' || s[i] == 'E') && !exp &&
			         i + 1 < n)
				exp = 1;
			else if ((s[i] == '-' || s[i] == '+') && exp &&
			         (s[i - 1] == 'e' || s[i - 1] == 'E'))
				continue;
			else
				return 0;
		}
		return 1;
	}
	for (i = 0; i < n;) { /* dotted name */
		size_t j = i;
		while (j < n && s[j] != '.')
			j++;
		if (!is_ident(s + i, j - i))
			return 0;
		i = j + 1;
		if (j + 1 == n)
			return 0;
	}
	return 1;
}

static int py_parse(const char *sig, struct pyfunc *f, struct cg_err *err,
                    const char *field)
{
	const char *s = sig, *end = sig + strlen(sig);
	memset(f, 0, sizeof *f);
	trim(&s, &end);
	if (end - s > 4 && strncmp(s, "async", 5) == 0 && isspace((unsigned char)s[5]))
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: async "
		               "functions are not supported by the template "
		               "backend", field);
	if (end - s > 4 && strncmp(s, "def", 3) == 0 && isspace((unsigned char)s[3]))
		s += 4;
	if (end > s && end[-1] == ':')
		end--;
	trim(&s, &end);
	const char *open = memchr(s, '(', (size_t)(end - s));
	if (!open)
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: expected a "
		               "Python signature such as \"def add(a: int, b: "
		               "int) -> int\"", field);
	const char *ne = open;
	trim(&s, &ne);
	if (!is_ident(s, (size_t)(ne - s)) || (size_t)(ne - s) >= sizeof f->name ||
	    word_in(s, (size_t)(ne - s), py_keywords))
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: \"%.*s\" is "
		               "not a function name", field, (int)(ne - s), s);
	snprintf(f->name, sizeof f->name, "%.*s", (int)(ne - s), s);
	/* the matching ")" */
	const char *p = open + 1, *close = NULL;
	int depth = 0;
	char quote = 0;
	for (; p < end && !close; p++) {
		if (quote) {
			if (*p == '\\')
				p++;
			else if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (strchr("([{", *p)) {
			depth++;
		} else if (strchr(")]}", *p)) {
			if (depth-- == 0)
				close = p;
		}
	}
	if (!close)
		return cg_fail(err, MCPD_E_INVAL, "bad_input",
		               "%s: no \")\" closes the parameters", field);
	const char *r = close + 1, *re = end;
	trim(&r, &re);
	if (r < re) {
		if (re - r < 3 || strncmp(r, "->", 2) != 0)
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: "
			               "unexpected text after the parameters: "
			               "\"%.*s\"", field, (int)(re - r), r);
		r += 2;
		trim(&r, &re);
		if (!py_ann_ok(r, (size_t)(re - r)) ||
		    (size_t)(re - r) >= sizeof f->ret)
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: the "
			               "return annotation \"%.*s\" is not a type "
			               "the template backend accepts", field,
			               (int)(re - r), r);
		snprintf(f->ret, sizeof f->ret, "%.*s", (int)(re - r), r);
	}
	/* parameters: split [open+1, close) at top-level commas */
	int kwonly = 0, seen_default = 0;
	const char *a = open + 1;
	while (a < close) {
		const char *b = a;
		depth = 0;
		quote = 0;
		for (; b < close; b++) {
			if (quote) {
				if (*b == '\\')
					b++;
				else if (*b == quote)
					quote = 0;
			} else if (*b == '"' || *b == '\'') {
				quote = *b;
			} else if (strchr("([{", *b)) {
				depth++;
			} else if (strchr(")]}", *b)) {
				depth--;
			} else if (*b == ',' && depth == 0) {
				break;
			}
		}
		const char *ps = a, *pe = b;
		trim(&ps, &pe);
		a = b + 1;
		if (ps == pe) {
			if (b == close && f->np)
				break; /* a trailing comma */
			return cg_fail(err, MCPD_E_INVAL, "bad_input",
			               "%s: an empty parameter", field);
		}
		if (f->np == MAX_PARAMS)
			return cg_fail(err, MCPD_E_INVAL, "bad_input",
			               "%s: more than %d parameters", field,
			               MAX_PARAMS);
		struct pyparam *q = &f->p[f->np];
		if (pe - ps == 1 && (*ps == '/' || *ps == '*')) {
			q->kind = *ps == '/' ? PY_SLASH : PY_STAR;
			kwonly |= *ps == '*';
			f->np++;
			continue;
		}
		q->kind = kwonly ? PY_KWONLY : PY_POS;
		if (pe - ps > 2 && ps[0] == '*' && ps[1] == '*') {
			q->kind = PY_VARKW;
			ps += 2;
		} else if (*ps == '*') {
			q->kind = PY_VARARGS;
			kwonly = 1;
			ps++;
		}
		const char *eq = NULL, *colon = NULL;
		depth = 0;
		quote = 0;
		for (const char *c = ps; c < pe; c++) {
			if (quote) {
				if (*c == '\\')
					c++;
				else if (*c == quote)
					quote = 0;
			} else if (*c == '"' || *c == '\'') {
				quote = *c;
			} else if (*c == '[') {
				depth++;
			} else if (*c == ']') {
				depth--;
			} else if (*c == ':' && !colon && !eq && !depth) {
				colon = c;
			} else if (*c == '=' && !eq && !depth) {
				eq = c;
			}
		}
		const char *ns = ps, *nend = colon ? colon : eq ? eq : pe;
		trim(&ns, &nend);
		if (!is_ident(ns, (size_t)(nend - ns)) ||
		    (size_t)(nend - ns) >= sizeof q->name ||
		    word_in(ns, (size_t)(nend - ns), py_keywords))
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: "
			               "parameter %d: \"%.*s\" is not a name",
			               field, f->np + 1, (int)(nend - ns), ns);
		snprintf(q->name, sizeof q->name, "%.*s", (int)(nend - ns), ns);
		if (colon) {
			const char *as = colon + 1, *ae = eq ? eq : pe;
			trim(&as, &ae);
			if (!py_ann_ok(as, (size_t)(ae - as)) ||
			    (size_t)(ae - as) >= sizeof q->ann)
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "%s: parameter \"%s\": the "
				               "annotation \"%.*s\" is not a type "
				               "the template backend accepts",
				               field, q->name, (int)(ae - as), as);
			snprintf(q->ann, sizeof q->ann, "%.*s", (int)(ae - as), as);
		}
		if (eq) {
			const char *ds = eq + 1, *de = pe;
			trim(&ds, &de);
			if (q->kind == PY_VARARGS || q->kind == PY_VARKW ||
			    !py_default_ok(ds, (size_t)(de - ds)) ||
			    (size_t)(de - ds) >= sizeof q->def)
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "%s: parameter \"%s\": the default "
				               "\"%.*s\" must be a literal (number, "
				               "string, None, True, False, a name)",
				               field, q->name, (int)(de - ds), ds);
			snprintf(q->def, sizeof q->def, "%.*s", (int)(de - ds), ds);
			if (q->kind == PY_POS)
				seen_default = 1;
		} else if (q->kind == PY_POS && seen_default) {
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "%s: "
			               "parameter \"%s\" without a default "
			               "follows one with a default", field,
			               q->name);
		}
		for (int k = 0; k < f->np; k++)
			if (f->p[k].name[0] &&
			    strcmp(f->p[k].name, q->name) == 0)
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "%s: parameter name \"%s\" appears "
				               "twice", field, q->name);
		f->np++;
	}
	return 0;
}

/* The zero of an annotated type, or NULL when it has none we know. */
static const char *py_zero(const char *ann, int sample)
{
	static const struct { const char *ann, *zero; } map[] = {
		{"int", "0"},       {"float", "0.0"},  {"str", "\"\""},
		{"bool", "False"},  {"bytes", "b\"\""}, {"list", "[]"},
		{"dict", "{}"},     {"tuple", "()"},   {"set", "set()"},
		{"None", "None"},   {NULL, NULL}};
	size_t n = strcspn(ann, "[");
	if (!*ann)
		return sample ? "None" : NULL;
	if (strstr(ann, "None") && strcmp(ann, "None") != 0)
		return "None"; /* Optional[...], X | None */
	if (n > 7 && strncmp(ann, "typing.", 7) == 0) {
		ann += 7;
		n -= 7;
	}
	for (int i = 0; map[i].ann; i++)
		if (strlen(map[i].ann) == n && strncasecmp(ann, map[i].ann, n) == 0)
			return map[i].zero;
	if ((n == 8 && strncmp(ann, "Optional", 8) == 0) ||
	    (n == 3 && strncmp(ann, "Any", 3) == 0))
		return "None";
	if (n == 8 && strncmp(ann, "Sequence", 8) == 0)
		return "[]";
	if (n == 7 && strncmp(ann, "Mapping", 7) == 0)
		return "{}";
	return sample ? "None" : NULL;
}

static void py_def(struct sbuf *b, const struct pyfunc *f)
{
	sb_addf(b, "def %s(", f->name);
	for (int i = 0; i < f->np; i++) {
		const struct pyparam *q = &f->p[i];
		if (i)
			sb_add(b, ", ");
		if (q->kind == PY_SLASH || q->kind == PY_STAR) {
			sb_add(b, q->kind == PY_SLASH ? "/" : "*");
			continue;
		}
		sb_addf(b, "%s%s", q->kind == PY_VARARGS ? "*"
		                   : q->kind == PY_VARKW ? "**" : "", q->name);
		if (q->ann[0])
			sb_addf(b, ": %s", q->ann);
		if (q->def[0])
			sb_addf(b, q->ann[0] ? " = %s" : "=%s", q->def);
	}
	sb_add(b, ")");
	if (f->ret[0])
		sb_addf(b, " -> %s", f->ret);
	sb_add(b, ":\n");
}

static void py_module(struct sbuf *b, const struct pyfunc *f,
                      const char *module, const char *desc)
{
	sb_addf(b, "\"\"\"%s: %s().\"\"\"\n\n\n", module, f->name);
	py_def(b, f);
	sb_add(b, "    \"\"\"");
	if (desc && *desc) {
		struct sbuf d = {0};
		add_prose(&d, desc, "    ", NULL, NULL);
		/* the first line follows the quotes; escape what would end
		 * or bend the docstring */
		const char *t = sb_str(&d) + 4;
		for (; *t; t++) {
			if (*t == '\\')
				sb_add(b, "\\\\");
			else if (*t == '"' && t[1] == '"' && t[2] == '"') {
				sb_add(b, "\\\"\\\"\\\"");
				t += 2;
			} else
				sb_addn(b, t, 1);
		}
		sb_free(&d);
		sb_add(b, "\n    Scaffold: the implementation goes here.\n"
		          "    \"\"\"\n");
	} else {
		sb_add(b, "Scaffold: the implementation goes here.\"\"\"\n");
	}
	const char *zero = py_zero(f->ret, 0);
	sb_addf(b, "    return %s\n", zero ? zero : "None");
}

static void py_test(struct sbuf *b, const struct pyfunc *f,
                    const char *module)
{
	const char *zero = py_zero(f->ret, 0);
	size_t n = strcspn(f->ret, "[");
	int is_none = !f->ret[0] || (zero && strcmp(zero, "None") == 0);
	int builtin = zero && !is_none && islower((unsigned char)f->ret[0]) &&
	              !strchr(f->ret, '.');

	sb_addf(b, "\"\"\"Tests of %s.%s (pytest).\"\"\"\n\n", module, f->name);
	sb_addf(b, "from %s import %s\n\n\n", module, f->name);
	sb_addf(b, "def test_%s_runs():\n", f->name);
	sb_add(b, "    # Scaffold: replace with calls on real inputs and "
	          "checks of their results.\n");
	sb_addf(b, "    %s%s(", is_none || builtin ? "result = " : "", f->name);
	int first = 1;
	for (int i = 0; i < f->np; i++) {
		const struct pyparam *q = &f->p[i];
		if ((q->kind != PY_POS && q->kind != PY_KWONLY) || q->def[0])
			continue;
		sb_addf(b, "%s", first ? "" : ", ");
		if (q->kind == PY_KWONLY)
			sb_addf(b, "%s=", q->name);
		sb_add(b, py_zero(q->ann, 1));
		first = 0;
	}
	sb_add(b, ")\n");
	if (is_none)
		sb_add(b, "    assert result is None\n");
	else if (builtin)
		sb_addf(b, "    assert isinstance(result, %.*s)\n", (int)n, f->ret);
}

/* "def NAME(" at the start of a line in a .py file of `files`. */
static int py_find(const json_t *files, const char *name, char *sig,
                   size_t siglen, char *module, size_t modlen)
{
	const char *path;
	json_t *v;
	size_t nl = strlen(name);
	json_object_foreach((json_t *)files, path, v) {
		const char *text = json_string_value(v);
		size_t pl = strlen(path);
		if (!text || pl < 4 || strcmp(path + pl - 3, ".py") != 0)
			continue;
		for (const char *p = strstr(text, "def "); p;
		     p = strstr(p + 1, "def ")) {
			if (p > text && p[-1] != '\n')
				continue;
			const char *q = p + 4;
			while (*q == ' ')
				q++;
			if (strncmp(q, name, nl) != 0 ||
			    (q[nl] != '(' && q[nl] != ' '))
				continue;
			/* up to the ":" that ends the def line(s) */
			const char *e = strstr(q, ")");
			while (e && *e && *e != ':' && *e != '\n')
				e++;
			if (!e || *e != ':')
				e = e ? e : q + strlen(q);
			size_t len = (size_t)(e - p);
			if (len >= siglen)
				continue;
			snprintf(sig, siglen, "%.*s", (int)len, p);
			for (char *c = sig; *c; c++)
				if (*c == '\n' || *c == '\t')
					*c = ' ';
			size_t ml = pl - 3;
			if (ml >= modlen)
				return 0;
			snprintf(module, modlen, "%.*s", (int)ml, path);
			for (char *c = module; *c; c++)
				if (*c == '/')
					*c = '.';
			return 1;
		}
	}
	return 0;
}

static int gen_python(const struct cg_request *req, json_t *files,
                      struct cg_err *err)
{
	struct pyfunc f;
	char module[256], sig[1024], path[300];
	int rc;

	if (word_in(req->name, strlen(req->name), py_keywords))
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "name: \"%s\" is "
		               "a Python keyword", req->name);
	snprintf(module, sizeof module, "%s", req->name);
	if (req->signature) {
		rc = py_parse(req->signature, &f, err, "signature");
	} else if (req->target == CG_TESTS && req->files &&
	           py_find(req->files, req->name, sig, sizeof sig, module,
	                   sizeof module)) {
		rc = py_parse(sig, &f, err, "files (the def found)");
	} else {
		snprintf(sig, sizeof sig, "def %s()", req->name);
		rc = py_parse(sig, &f, err, "name");
	}
	if (rc < 0)
		return rc;
	struct sbuf b = {0};
	if (req->target & CG_CODE) {
		py_module(&b, &f, module, req->description);
		snprintf(path, sizeof path, "%s.py", module);
		json_object_set_new(files, path, json_string(sb_str(&b)));
		sb_free(&b);
	}
	if (req->target & CG_TESTS) {
		const char *base = strrchr(module, '.');
		base = base ? base + 1 : module;
		py_test(&b, &f, module);
		snprintf(path, sizeof path, "test_%s.py", base);
		json_object_set_new(files, path, json_string(sb_str(&b)));
		sb_free(&b);
	}
	return b.oom ? cg_fail(err, MCPD_E_NOMEM, "failed", "out of memory")
	             : 0;
}

/* ================================================================ shell */

struct shopt {
	char letter;       /* 0 when long only */
	char longname[48]; /* "" when short only */
	char arg[48];      /* the argument's name, "" for a flag */
	char var[64];
};

struct sharg {
	char word[48];     /* as written: INPUT */
	char var[64];
	int optional;
	int rest;          /* NAME... */
};

struct shspec {
	struct shopt o[MAX_PARAMS];
	int no;
	struct sharg a[MAX_PARAMS];
	int na;
};

static void sh_var(char *out, size_t len, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < len; i++)
		out[k++] = s[i] == '-' ? '_' : (char)tolower((unsigned char)s[i]);
	out[k] = '\0';
}

static int sh_word_ok(const char *s, size_t n)
{
	if (n == 0 || n >= 48 || !isalpha((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* Add an option from one alternative ("-o", "--output", "--output=FILE"). */
static int sh_opt_alt(struct shopt *o, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	size_t wl = eq ? (size_t)(eq - s) : n;
	if (eq) {
		const char *v = eq + 1;
		size_t vl = n - wl - 1;
		if (vl >= 2 && *v == '<' && v[vl - 1] == '>') {
			v++;
			vl -= 2;
		}
		if (!sh_word_ok(v, vl))
			return -1;
		snprintf(o->arg, sizeof o->arg, "%.*s", (int)vl, v);
	}
	if (wl == 2 && s[0] == '-' && isalnum((unsigned char)s[1])) {
		o->letter = s[1];
		return 0;
	}
	if (wl > 2 && s[0] == '-' && s[1] == '-' && sh_word_ok(s + 2, wl - 2) &&
	    wl - 2 < sizeof o->longname) {
		snprintf(o->longname, sizeof o->longname, "%.*s", (int)(wl - 2),
		         s + 2);
		return 0;
	}
	return -1;
}

static int sh_parse(const char *sig, const char *name, struct shspec *sp,
                    struct cg_err *err)
{
	/* words; "[" and "]" are words of their own */
	char buf[1024];
	const char *w[128];
	int nw = 0;
	size_t k = 0;
	memset(sp, 0, sizeof *sp);
	if (strlen(sig) * 3 >= sizeof buf)
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "signature: too "
		               "long for a usage line");
	for (const char *p = sig; *p; p++) {
		if (*p == '[' || *p == ']' || *p == '|') {
			buf[k++] = ' ';
			buf[k++] = *p;
			buf[k++] = ' ';
		} else {
			buf[k++] = isspace((unsigned char)*p) || *p == ',' ? ' ' : *p;
		}
	}
	buf[k] = '\0';
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && nw < 128;
	     t = strtok_r(NULL, " ", &save))
		w[nw++] = t;
	int depth = 0, i = 0;
	size_t nl = strlen(name);
	if (nw && (strcmp(w[0], name) == 0 ||
	           (strncmp(w[0], name, nl) == 0 && strcmp(w[0] + nl, ".sh") == 0) ||
	           strcmp(w[0], "Usage:") == 0 || strcmp(w[0], "usage:") == 0))
		i = 1;
	if (i == 1 && nw > 1 && (strcmp(w[1], name) == 0 ||
	                         (strncmp(w[1], name, nl) == 0 &&
	                          strcmp(w[1] + nl, ".sh") == 0)))
		i = 2;
	for (; i < nw; i++) {
		const char *t = w[i];
		if (strcmp(t, "[") == 0) {
			depth++;
			continue;
		}
		if (strcmp(t, "]") == 0) {
			if (--depth < 0)
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "signature: \"]\" without \"[\"");
			continue;
		}
		if (strcmp(t, "|") == 0)
			continue;
		if (t[0] == '-') {
			if (strcmp(t, "--") == 0 || strcmp(t, "-h") == 0 ||
			    strcmp(t, "--help") == 0)
				continue; /* always there */
			if (sp->no == MAX_PARAMS)
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "signature: more than %d options",
				               MAX_PARAMS);
			struct shopt *o = &sp->o[sp->no];
			/* alternatives: "-v" "|" "--verbose", or "-v," "--verbose" */
			if (sh_opt_alt(o, t, strlen(t)) < 0)
				goto badopt;
			while (i + 2 < nw && strcmp(w[i + 1], "|") == 0 &&
			       w[i + 2][0] == '-') {
				i += 2;
				t = w[i];
				if (sh_opt_alt(o, t, strlen(t)) < 0)
					goto badopt;
			}
			while (i + 1 < nw && w[i + 1][0] == '-' && w[i + 1][1] == '-' &&
			       !o->longname[0] && o->letter && w[i + 1][2]) {
				i++;
				t = w[i];
				if (sh_opt_alt(o, t, strlen(t)) < 0)
					goto badopt;
			}
			/* an argument: the next word in capitals or <angle> */
			if (!o->arg[0] && i + 1 < nw) {
				const char *v = w[i + 1];
				size_t vl = strlen(v);
				int caps = sh_word_ok(v, vl);
				for (size_t c = 0; caps && c < vl; c++)
					caps = !islower((unsigned char)v[c]);
				if (vl > 2 && v[0] == '<' && v[vl - 1] == '>' &&
				    sh_word_ok(v + 1, vl - 2)) {
					snprintf(o->arg, sizeof o->arg, "%.*s",
					         (int)vl - 2, v + 1);
					i++;
				} else if (caps && !strstr(v, "...")) {
					snprintf(o->arg, sizeof o->arg, "%s", v);
					i++;
				}
			}
			if (o->letter == 'h')
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "signature: -h is the help option; "
				               "pick another letter");
			if (o->longname[0])
				sh_var(o->var, sizeof o->var, o->longname,
				       strlen(o->longname));
			else if (o->arg[0])
				sh_var(o->var, sizeof o->var, o->arg,
				       strlen(o->arg));
			else
				snprintf(o->var, sizeof o->var, "opt_%c",
				         o->letter);
			sp->no++;
			continue;
		}
		/* a positional argument */
		size_t tl = strlen(t);
		int rest = tl > 3 && strcmp(t + tl - 3, "...") == 0;
		if (rest)
			tl -= 3;
		if (tl > 2 && t[0] == '<' && t[tl - 1] == '>') {
			t++;
			tl -= 2;
		}
		if (!sh_word_ok(t, tl))
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "signature: "
			               "\"%s\" is neither an option (-x, --name) "
			               "nor an argument name (INPUT, FILE..., "
			               "[NAME])", w[i]);
		if (sp->na == MAX_PARAMS)
			return cg_fail(err, MCPD_E_INVAL, "bad_input",
			               "signature: more than %d arguments",
			               MAX_PARAMS);
		if (sp->na && sp->a[sp->na - 1].rest)
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "signature: "
			               "\"%s\" follows \"%s...\", which takes the "
			               "rest", w[i], sp->a[sp->na - 1].word);
		if (sp->na && sp->a[sp->na - 1].optional && !depth)
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "signature: "
			               "required \"%s\" follows an optional "
			               "argument", w[i]);
		struct sharg *a = &sp->a[sp->na++];
		snprintf(a->word, sizeof a->word, "%.*s", (int)tl, t);
		sh_var(a->var, sizeof a->var, t, tl);
		a->optional = depth > 0;
		a->rest = rest;
	}
	if (depth)
		return cg_fail(err, MCPD_E_INVAL, "bad_input",
		               "signature: \"[\" without \"]\"");
	/* variables must be distinct and not ours */
	const char *vars[2 * MAX_PARAMS];
	int nv = 0;
	for (int j = 0; j < sp->no; j++)
		vars[nv++] = sp->o[j].var;
	for (int j = 0; j < sp->na; j++)
		vars[nv++] = sp->a[j].var;
	for (int j = 0; j < nv; j++) {
		if (strcmp(vars[j], "prog") == 0 || !is_ident(vars[j], strlen(vars[j])))
			return cg_fail(err, MCPD_E_INVAL, "bad_input", "signature: "
			               "\"%s\" cannot be a variable name of the "
			               "script", vars[j]);
		for (int m = 0; m < j; m++)
			if (strcmp(vars[m], vars[j]) == 0)
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "signature: two options or arguments "
				               "share the variable \"%s\"", vars[j]);
	}
	for (int j = 0; j < sp->no; j++)
		for (int m = 0; m < j; m++)
			if ((sp->o[j].letter && sp->o[j].letter == sp->o[m].letter) ||
			    (sp->o[j].longname[0] &&
			     strcmp(sp->o[j].longname, sp->o[m].longname) == 0))
				return cg_fail(err, MCPD_E_INVAL, "bad_input",
				               "signature: an option appears twice");
	return 0;
badopt:
	return cg_fail(err, MCPD_E_INVAL, "bad_input", "signature: \"%s\" is "
	               "not an option the template backend understands (-x, "
	               "--name, --name=ARG)", w[i]);
}

static void sh_optnames(struct sbuf *b, const struct shopt *o, const char *sep)
{
	if (o->letter)
		sb_addf(b, "-%c", o->letter);
	if (o->letter && o->longname[0])
		sb_add(b, sep);
	if (o->longname[0])
		sb_addf(b, "--%s", o->longname);
}

static void sh_usage_line(struct sbuf *b, const struct shspec *sp,
                          const char *name)
{
	sb_addf(b, "Usage: %s.sh [-h]", name);
	for (int i = 0; i < sp->no; i++) {
		sb_add(b, " [");
		if (sp->o[i].letter)
			sb_addf(b, "-%c", sp->o[i].letter);
		else
			sb_addf(b, "--%s", sp->o[i].longname);
		if (sp->o[i].arg[0])
			sb_addf(b, " %s", sp->o[i].arg);
		sb_add(b, "]");
	}
	for (int i = 0; i < sp->na; i++)
		sb_addf(b, " %s%s%s%s", sp->a[i].optional ? "[" : "",
		        sp->a[i].word, sp->a[i].rest ? "..." : "",
		        sp->a[i].optional ? "]" : "");
	sb_add(b, "\n");
}

static void sh_script(struct sbuf *b, const struct shspec *sp,
                      const char *name, const char *desc)
{
	sb_addf(b, "#!/bin/sh\n# %s.sh", name);
	if (desc && *desc) {
		struct sbuf d = {0};
		add_prose(&d, desc, "# ", NULL, NULL);
		/* the first line after "--" */
		sb_addf(b, " -- %s", sb_str(&d) + (d.len > 1 && d.p[1] == ' ' ? 2 : 1));
		sb_free(&d);
	} else {
		sb_add(b, "\n");
	}
	sb_add(b, "set -eu\n\nprog=${0##*/}\n\nusage() {\n\tcat <<'USAGE'\n");
	sh_usage_line(b, sp, name);
	if (desc && *desc) {
		sb_add(b, "\n");
		/* a line "USAGE" would end the here-document */
		struct sbuf d = {0};
		add_prose(&d, desc, "", "USAGE", "Usage");
		sb_add(b, sb_str(&d));
		sb_free(&d);
	}
	sb_add(b, "\nOptions:\n  -h, --help             show this help and exit\n");
	for (int i = 0; i < sp->no; i++) {
		struct sbuf l = {0};
		sb_add(&l, "  ");
		sh_optnames(&l, &sp->o[i], ", ");
		if (sp->o[i].arg[0])
			sb_addf(&l, " %s", sp->o[i].arg);
		sb_addf(b, "%s\n", sb_str(&l));
		sb_free(&l);
	}
	sb_add(b, "USAGE\n}\n\ndie() {\n"
	          "\tprintf '%s: %s\\n' \"$prog\" \"$*\" >&2\n"
	          "\tprintf \"Try '%s --help'.\\n\" \"$prog\" >&2\n"
	          "\texit 2\n}\n\n");
	for (int i = 0; i < sp->no; i++)
		sb_addf(b, "%s=%s\n", sp->o[i].var, sp->o[i].arg[0] ? "" : "0");
	sb_add(b, "while [ $# -gt 0 ]; do\n\tcase $1 in\n"
	          "\t-h | --help)\n\t\tusage\n\t\texit 0\n\t\t;;\n");
	for (int i = 0; i < sp->no; i++) {
		const struct shopt *o = &sp->o[i];
		sb_add(b, "\t");
		sh_optnames(b, o, " | ");
		if (!o->arg[0]) {
			sb_addf(b, ")\n\t\t%s=1\n\t\t;;\n", o->var);
			continue;
		}
		sb_addf(b, ")\n\t\t[ $# -ge 2 ] || die \"option $1 needs an "
		        "argument\"\n\t\t%s=$2\n\t\tshift\n\t\t;;\n", o->var);
		if (o->longname[0])
			sb_addf(b, "\t--%s=*)\n\t\t%s=${1#*=}\n\t\t;;\n",
			        o->longname, o->var);
	}
	sb_add(b, "\t--)\n\t\tshift\n\t\tbreak\n\t\t;;\n"
	          "\t-?*)\n\t\tdie \"unknown option: $1\"\n\t\t;;\n"
	          "\t*)\n\t\tbreak\n\t\t;;\n\tesac\n\tshift\ndone\n\n");
	int rest = 0;
	for (int i = 0; i < sp->na; i++) {
		const struct sharg *a = &sp->a[i];
		if (a->rest) {
			rest = 1;
			if (!a->optional)
				sb_addf(b, "[ $# -ge 1 ] || die \"missing %s\"\n",
				        a->word);
			sb_addf(b, "# %s...: the remaining arguments, \"$@\"\n",
			        a->word);
		} else if (a->optional) {
			sb_addf(b, "%s=\nif [ $# -gt 0 ]; then\n\t%s=$1\n\tshift\n"
			        "fi\n", a->var, a->var);
		} else {
			sb_addf(b, "[ $# -ge 1 ] || die \"missing %s\"\n%s=$1\n"
			        "shift\n", a->word, a->var);
		}
	}
	if (!rest)
		sb_add(b, "[ $# -eq 0 ] || die \"unexpected argument: $1\"\n");
	sb_add(b, "\n# Scaffold: the script's work goes here.\nprintf '");
	int n = 0;
	for (int i = 0; i < sp->no; i++)
		sb_addf(b, "%s%s=%%s", n++ ? " " : "", sp->o[i].var);
	for (int i = 0; i < sp->na; i++)
		if (!sp->a[i].rest)
			sb_addf(b, "%s%s=%%s", n++ ? " " : "", sp->a[i].var);
	if (rest)
		sb_addf(b, "%srest=%%s", n++ ? " " : "");
	sb_add(b, "\\n'");
	for (int i = 0; i < sp->no; i++)
		sb_addf(b, " \"$%s\"", sp->o[i].var);
	for (int i = 0; i < sp->na; i++)
		if (!sp->a[i].rest)
			sb_addf(b, " \"$%s\"", sp->a[i].var);
	if (rest)
		sb_add(b, " \"$*\"");
	sb_add(b, "\n");
}

static void sh_test(struct sbuf *b, const struct shspec *sp, const char *name)
{
	int required = 0, plan = 3;
	struct sbuf args = {0};
	for (int i = 0; i < sp->na; i++) {
		if (!sp->a[i].optional) {
			required = 1;
			sb_addf(&args, " %s", sp->a[i].var);
		}
	}
	plan += required;
	sb_addf(b, "#!/bin/sh\n# test_%s.sh -- TAP tests of %s.sh's argument "
	        "parsing. Run: sh test_%s.sh\n", name, name, name);
	sb_addf(b, "script=./%s.sh\nn=0\nfailed=0\n\n"
	        "ok() {\n\tn=$((n + 1))\n\tif [ \"$1\" -eq 0 ]; then\n"
	        "\t\techo \"ok $n - $2\"\n\telse\n\t\techo \"not ok $n - $2\"\n"
	        "\t\tfailed=$((failed + 1))\n\tfi\n}\n\n"
	        "echo 1..%d\n", name, plan);
	sb_add(b, "sh \"$script\" --help >/dev/null 2>&1\nok $? \"--help exits 0\"\n");
	sb_add(b, "sh \"$script\" --no-such-option >/dev/null 2>&1\n"
	          "[ $? -eq 2 ]\nok $? \"an unknown option exits 2\"\n");
	if (required)
		sb_add(b, "sh \"$script\" >/dev/null 2>&1\n[ $? -eq 2 ]\n"
		          "ok $? \"missing arguments exit 2\"\n");
	sb_addf(b, "# Scaffold: replace with runs on real inputs and checks "
	        "of their output.\nsh \"$script\"%s >/dev/null\n"
	        "ok $? \"runs with its arguments\"\n\n[ \"$failed\" -eq 0 ]\n",
	        sb_str(&args));
	sb_free(&args);
}

static int gen_shell(const struct cg_request *req, json_t *files,
                     struct cg_err *err)
{
	struct shspec sp;
	char path[300];
	int rc = sh_parse(req->signature ? req->signature : "", req->name, &sp,
	                  err);
	if (rc < 0)
		return rc;
	struct sbuf b = {0};
	if (req->target & CG_CODE) {
		sh_script(&b, &sp, req->name, req->description);
		snprintf(path, sizeof path, "%s.sh", req->name);
		json_object_set_new(files, path, json_string(sb_str(&b)));
		sb_free(&b);
	}
	if (req->target & CG_TESTS) {
		sh_test(&b, &sp, req->name);
		snprintf(path, sizeof path, "test_%s.sh", req->name);
		json_object_set_new(files, path, json_string(sb_str(&b)));
		sb_free(&b);
	}
	return b.oom ? cg_fail(err, MCPD_E_NOMEM, "failed", "out of memory")
	             : 0;
}

/* ================================================================ */

int template_generate(const struct cg_request *req, json_t *files,
                      struct cg_err *err)
{
	size_t n = strlen(req->name);
	int ok = n > 0 && n < 64 && (isalpha((unsigned char)req->name[0]) ||
	                             req->name[0] == '_');
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)req->name[i]) || req->name[i] == '_' ||
		     (req->lang == CG_SHELL && req->name[i] == '-');
	if (!ok)
		return cg_fail(err, MCPD_E_INVAL, "bad_input", "name: \"%s\" is "
		               "not a valid %s name (letters, digits and \"_\"%s, "
		               "not starting with a digit, at most 63)",
		               req->name, req->language,
		               req->lang == CG_SHELL ? ", \"-\"" : "");
	switch (req->lang) {
	case CG_C: return gen_c(req, files, err);
	case CG_PYTHON: return gen_python(req, files, err);
	case CG_SHELL: return gen_shell(req, files, err);
	}
	return cg_fail(err, MCPD_E_INVAL, "bad_input", "language: unknown");
}
