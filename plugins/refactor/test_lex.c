/*
 * The refactor plugin's tokenizers and unified diff, alone: which tokens
 * a rename touches in C, C++ and Python (never strings, comments,
 * character literals, raw strings, f-string text, header names or
 * numbers), the errors for text left open, and diffs as GNU diff -u
 * writes them.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "lex.h"
#include "diff.h"

struct ren {
	const char *old, *new;
	struct buf out;
	size_t at;
	int count, first_line, first_col;
};

static int on_id(const char *text, const struct lex_ident *id, void *arg)
{
	struct ren *r = arg;
	if (id->len != strlen(r->old) || memcmp(text + id->off, r->old, id->len))
		return 0;
	if (!r->count++) {
		r->first_line = id->line;
		r->first_col = id->col;
	}
	buf_add(&r->out, text + r->at, id->off - r->at);
	buf_add(&r->out, r->new, strlen(r->new));
	r->at = id->off + id->len;
	return 0;
}

/* The text with every identifier `old` renamed; count in *n. */
static char *do_rename(enum lex_lang l, const char *text, const char *old,
                    const char *new, int *n)
{
	struct ren r = {old, new, {0}, 0, 0, 0, 0};
	char err[200];
	if (lex_identifiers(l, text, strlen(text), on_id, &r, err, sizeof err)) {
		diag("error: %s", err);
		buf_free(&r.out);
		return NULL;
	}
	buf_add(&r.out, text + r.at, strlen(text) - r.at);
	*n = r.count;
	return r.out.p ? r.out.p : strdup("");
}

static void check(enum lex_lang l, const char *text, const char *old,
                  const char *new, const char *want, int count,
                  const char *name)
{
	int n = -1;
	char *got = do_rename(l, text, old, new, &n);
	is_str(got, want, "%s", name);
	is_int(n, count, "%s: %d occurrences", name, count);
	free(got);
}

static void check_error(enum lex_lang l, const char *text, const char *want,
                        const char *name)
{
	struct ren r = {"x", "y", {0}, 0, 0, 0, 0};
	char err[200] = "";
	int rc = lex_identifiers(l, text, strlen(text), on_id, &r, err,
	                         sizeof err);
	ok(rc == -1, "%s: refused", name);
	is_str(err, want, "%s: reason", name);
	buf_free(&r.out);
}

static void c_cases(void)
{
	check(LEX_C,
	      "/* total here */\n"
	      "int total(int n) { // total\n"
	      "\tchar *s = \"total \\\" total\";\n"
	      "\tchar c = 'total';\n"
	      "\treturn n + total_x + x_total + total;\n"
	      "}\n",
	      "total", "sum",
	      "/* total here */\n"
	      "int sum(int n) { // total\n"
	      "\tchar *s = \"total \\\" total\";\n"
	      "\tchar c = 'total';\n"
	      "\treturn n + total_x + x_total + sum;\n"
	      "}\n",
	      2, "C: code renamed, comments/strings/chars/longer names not");
	check(LEX_C,
	      "#include <count.h>\n"
	      "#include \"count.h\"\n"
	      "  #  define count(x) (x + 1e3 + 0x1Fp-2 + count)\n"
	      "#error count is broken\n"
	      "int a = count(L'c' + u8\"count\"[0] + 1'000);\n"
	      "// a comment \\\n"
	      "   count continued\n",
	      "count", "tally",
	      "#include <count.h>\n"
	      "#include \"count.h\"\n"
	      "  #  define tally(x) (x + 1e3 + 0x1Fp-2 + tally)\n"
	      "#error count is broken\n"
	      "int a = tally(L'c' + u8\"count\"[0] + 1'000);\n"
	      "// a comment \\\n"
	      "   count continued\n",
	      3, "C: header names, #error text, prefixed literals, "
	         "continued comments");
	check(LEX_C, "int define; int include;\n#define include 1\n",
	      "define", "d2", "int d2; int include;\n#define include 1\n", 1,
	      "C: a directive name is not an identifier");
	check(LEX_C, "int caf\xc3\xa9 = 1, caf = 2;\n", "caf", "coffee",
	      "int caf\xc3\xa9 = 1, coffee = 2;\n", 1,
	      "C: a UTF-8 identifier is one token");
	check(LEX_CPP,
	      "auto s = R\"x(value \")\" value)x\"; int value;\n"
	      "auto t = LR\"(value)\" ; value++;\n",
	      "value", "v",
	      "auto s = R\"x(value \")\" value)x\"; int v;\n"
	      "auto t = LR\"(value)\" ; v++;\n",
	      2, "C++: raw strings are left alone");
	check(LEX_C, "int R = 1; char *s = R\"(x)\";\n", "R", "Q",
	      "int Q = 1; char *s = Q\"(x)\";\n", 2,
	      "C: R\"...\" is not a raw string in C");
	check_error(LEX_C, "int a;\n/* open\n", "comment opened on line 2 is "
	            "never closed", "C: open comment");
	check_error(LEX_CPP, "x;\nauto s = R\"d(abc)\";\n",
	            "raw string opened on line 2 is never closed",
	            "C++: open raw string");
	{
		int n = -1;
		char *got = do_rename(LEX_C, "char *s = \"x;\nint x;\n", "x", "y",
		                   &n);
		is_str(got, "char *s = \"x;\nint y;\n",
		       "C: a string left open ends at its line");
		free(got);
	}
	{
		struct ren r = {"b", "z", {0}, 0, 0, 0, 0};
		char err[64];
		lex_identifiers(LEX_C, "int a;\n\t/* \xc3\xa9 */ b = 1;\n", 25,
		                on_id, &r, err, sizeof err);
		is_int(r.first_line, 2, "C: line of an identifier");
		buf_free(&r.out);
		r = (struct ren){"b", "z", {0}, 0, 0, 0, 0};
		lex_identifiers(LEX_PYTHON, "a, b = 1, 2\n", 12, on_id, &r,
		                err, sizeof err);
		is_int(r.first_col, 4, "Python: column on the first line");
		buf_free(&r.out);
		r = (struct ren){"b", "z", {0}, 0, 0, 0, 0};
		lex_identifiers(LEX_C, "int a;\n\t/* \xc3\xa9 */ b = 1;\n", 25,
		                on_id, &r, err, sizeof err);
		is_int(r.first_col, 10, "C: column counts characters");
		buf_free(&r.out);
	}
}

static void python_cases(void)
{
	check(LEX_PYTHON,
	      "# name here\n"
	      "def name(x):\n"
	      "    \"\"\"name is a\n"
	      "    docstring name\"\"\"\n"
	      "    s = 'name' + \"name\" + r'\\'name' + b\"name\"\n"
	      "    return name(x.name) + names + _name\n",
	      "name", "label",
	      "# name here\n"
	      "def label(x):\n"
	      "    \"\"\"name is a\n"
	      "    docstring name\"\"\"\n"
	      "    s = 'name' + \"name\" + r'\\'name' + b\"name\"\n"
	      "    return label(x.label) + names + _name\n",
	      3, "Python: comments, docstrings, prefixed strings left alone");
	check(LEX_PYTHON,
	      "msg = f\"count={count} {{count}} {count!r:>{count}} "
	      "{d['count']}\"\n"
	      "t = F'''count\n{count + 1}'''\n"
	      "u = rf\"\\{count}\" + f\"{'{count}'}\" + "
	      "f\"\\N{BULLET} count\"\n",
	      "count", "n",
	      "msg = f\"count={n} {{count}} {n!r:>{n}} "
	      "{d['count']}\"\n"
	      "t = F'''count\n{n + 1}'''\n"
	      "u = rf\"\\{n}\" + f\"{'{count}'}\" + "
	      "f\"\\N{BULLET} count\"\n",
	      5, "Python: f-string fields renamed, their text not");
	check(LEX_PYTHON, "x = 1e5 + 0xbeef + 1_000j + e5\n", "e5", "f5",
	      "x = 1e5 + 0xbeef + 1_000j + f5\n", 1,
	      "Python: numbers are not identifiers");
	check(LEX_PYTHON,
	      "f = lambda: {'a': b for b in c}\nprint(f\"{x:{w}.{p}f}\")\n",
	      "b", "k",
	      "f = lambda: {'a': k for k in c}\nprint(f\"{x:{w}.{p}f}\")\n",
	      2, "Python: dict braces outside f-strings");
	check_error(LEX_PYTHON, "a = 1\ns = '''open\n",
	            "triple-quoted string opened on line 2 is never closed",
	            "Python: open triple-quoted string");
	check_error(LEX_PYTHON, "s = f'''{a + \n",
	            "f-string field opened on line 1 is never closed",
	            "Python: open f-string field");
}

static void keyword_cases(void)
{
	ok(lex_is_keyword(LEX_C, "while"), "C keyword while");
	ok(!lex_is_keyword(LEX_C, "class"), "class is not a C keyword");
	ok(lex_is_keyword(LEX_CPP, "class"), "class is a C++ keyword");
	ok(lex_is_keyword(LEX_PYTHON, "lambda"), "Python keyword lambda");
	ok(!lex_is_keyword(LEX_PYTHON, "match"), "soft keyword match allowed");
	ok(lex_is_python_builtin("len"), "len is a builtin");
	ok(lex_valid_identifier("_a9"), "_a9 is an identifier");
	ok(!lex_valid_identifier("9a"), "9a is not");
	ok(!lex_valid_identifier("a-b"), "a-b is not");
	ok(!lex_valid_identifier(""), "empty is not");
}

static void diff_case(const char *old, const char *new, const char *want,
                      const char *name)
{
	struct buf b = {0};
	int rc = diff_unified("f.c", old, old ? strlen(old) : 0, new,
	                      strlen(new), 3, &b);
	ok(rc >= 0, "%s: diffed", name);
	is_str(b.p ? b.p : "", want, "%s", name);
	buf_free(&b);
}

static void diff_cases(void)
{
	/* Expected texts as GNU diff -u --label a/f.c --label b/f.c writes
	 * them. */
	diff_case("a\nb\nc\n", "a\nb\nc\n", "", "diff: equal files");
	diff_case("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n",
	          "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\nX\n14\n15\n",
	          "--- a/f.c\n+++ b/f.c\n"
	          "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n"
	          "@@ -11,5 +11,6 @@\n 11\n 12\n 13\n+X\n 14\n 15\n",
	          "diff: two hunks");
	diff_case("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\nx\n4\n5\n6\n7\ny\n",
	          "--- a/f.c\n+++ b/f.c\n"
	          "@@ -1,8 +1,8 @@\n 1\n 2\n-3\n+x\n 4\n 5\n 6\n 7\n-8\n+y\n",
	          "diff: near changes share a hunk");
	diff_case("a\nb", "a\nb\n",
	          "--- a/f.c\n+++ b/f.c\n@@ -1,2 +1,2 @@\n a\n-b\n"
	          "\\ No newline at end of file\n+b\n",
	          "diff: newline added at the end");
	diff_case("x\n", "", "--- a/f.c\n+++ b/f.c\n@@ -1 +0,0 @@\n-x\n",
	          "diff: everything deleted");
	diff_case(NULL, "int a;\nint b;\n",
	          "--- /dev/null\n+++ b/f.c\n@@ -0,0 +1,2 @@\n+int a;\n"
	          "+int b;\n",
	          "diff: a new file");
	diff_case("a\nb\nc\nd\n", "a\nc\nb\nd\n",
	          "--- a/f.c\n+++ b/f.c\n@@ -1,4 +1,4 @@\n a\n-b\n c\n+b\n d\n",
	          "diff: a moved line");
	diff_case("p\nq\nr\n", "x\ny\n",
	          "--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,2 @@\n-p\n-q\n-r\n+x\n+y\n",
	          "diff: all replaced, deletions first");
}

int main(void)
{
	c_cases();
	python_cases();
	keyword_cases();
	diff_cases();
	done_testing();
	return exit_status();
}
