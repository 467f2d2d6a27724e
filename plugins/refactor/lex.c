/*
 * lex.c -- identifier scanners for C/C++ and Python (see lex.h).
 *
 * Both walk the text once, byte by byte, keeping the line number; each
 * construct that is not code (comments, literals, header names) is skipped
 * whole, so an identifier is reported only where the compiler would see
 * one. Where a file is malformed in a way the compilers only warn about
 * (a quote left open at the end of a line) the scanners end the literal
 * at the newline, as the compilers' own lexers do; what would swallow the
 * rest of the file (an open block comment, triple-quoted string, raw
 * string or f-string field) is an error, so a rename never guesses.
 */
#include "lex.h"

#include <stdio.h>
#include <string.h>

struct lx {
	const char *s;
	size_t n;
	size_t i;
	int line;
	size_t bol; /* offset where the current line starts */
	size_t col_at; /* column col_n is at offset col_at (on this line) */
	int col_n;
	enum lex_lang lang;
	lex_fn fn;
	void *arg;
	char *err;
	size_t errlen;
	int stop; /* fn's non-zero return */
};

static int at(const struct lx *x, size_t k)
{
	return x->i + k < x->n ? (unsigned char)x->s[x->i + k] : -1;
}

static void step(struct lx *x)
{
	if (x->i >= x->n)
		return;
	if (x->s[x->i] == '\n') {
		x->line++;
		x->bol = x->i + 1;
	}
	x->i++;
}

static void skip(struct lx *x, size_t k)
{
	while (k--)
		step(x);
}

static int fail(struct lx *x, const char *what, int line)
{
	snprintf(x->err, x->errlen, "%s opened on line %d is never closed",
	         what, line);
	return -1;
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Identifier characters; bytes of UTF-8 sequences count, so a non-ASCII
 * identifier is one token and never matched by its ASCII part. */
static int ident_start(const struct lx *x, int c)
{
	return is_alpha(c) || c >= 0x80 || (c == '$' && x->lang != LEX_PYTHON);
}

static int ident_char(const struct lx *x, int c)
{
	return ident_start(x, c) || is_digit(c);
}

/* Columns are counted on from the last identifier of the same line, so a
 * long line costs one pass, not one per identifier. */
static int emit(struct lx *x, size_t off, size_t len)
{
	if (x->col_at < x->bol || x->col_at > off) {
		x->col_at = x->bol;
		x->col_n = 1;
	}
	for (; x->col_at < off; x->col_at++)
		if (((unsigned char)x->s[x->col_at] & 0xC0) != 0x80)
			x->col_n++;
	struct lex_ident id = {off, len, x->line, x->col_n};
	x->stop = x->fn(x->s, &id, x->arg);
	return x->stop;
}

static size_t scan_ident(struct lx *x)
{
	size_t start = x->i;
	while (x->i < x->n && ident_char(x, at(x, 0)))
		x->i++;
	return x->i - start;
}

/* ---------------------------------------------------------------- C */

/* "..." or '...' from the opening quote; ends at the closing quote or,
 * left open, at the end of the line. */
static void c_quoted(struct lx *x)
{
	int q = at(x, 0);
	step(x);
	while (x->i < x->n) {
		int c = at(x, 0);
		if (c == '\\') {
			skip(x, 2);
		} else if (c == q) {
			step(x);
			return;
		} else if (c == '\n') {
			return;
		} else {
			step(x);
		}
	}
}

/* C++ R"delim( ... )delim" from the opening quote. */
static int c_raw(struct lx *x)
{
	int line = x->line;
	char close[20];
	size_t d = 0;
	step(x);
	close[d++] = ')';
	while (x->i < x->n && at(x, 0) != '(' && d < 17) {
		close[d++] = (char)at(x, 0);
		step(x);
	}
	if (at(x, 0) != '(')
		return fail(x, "raw string", line);
	close[d++] = '"';
	step(x);
	while (x->i + d <= x->n) {
		if (!memcmp(x->s + x->i, close, d)) {
			skip(x, d);
			return 0;
		}
		step(x);
	}
	return fail(x, "raw string", line);
}

static int c_string_prefix(const struct lx *x, const char *w, size_t len,
                           int quote)
{
	static const char *const plain[] = {"L", "u", "U", "u8"};
	static const char *const raw[] = {"R", "LR", "uR", "UR", "u8R"};
	if (quote == '\'' || quote == '"')
		for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++)
			if (strlen(plain[k]) == len && !memcmp(plain[k], w, len))
				return 1;
	if (quote == '"' && x->lang == LEX_CPP)
		for (size_t k = 0; k < sizeof raw / sizeof raw[0]; k++)
			if (strlen(raw[k]) == len && !memcmp(raw[k], w, len))
				return 2;
	return 0;
}

/* pp-number: digits, letters, '.', digit separators, exponent signs. */
static void c_number(struct lx *x)
{
	int prev = 0;
	while (x->i < x->n) {
		int c = at(x, 0);
		if (ident_char(x, c) || is_digit(c) || c == '.' ||
		    (c == '\'' && x->i + 1 < x->n && ident_char(x, at(x, 1))) ||
		    ((c == '+' || c == '-') &&
		     (prev == 'e' || prev == 'E' || prev == 'p' || prev == 'P'))) {
			prev = c;
			x->i++;
		} else {
			return;
		}
	}
}

static void c_line_rest(struct lx *x)
{
	while (x->i < x->n && at(x, 0) != '\n') {
		if (at(x, 0) == '\\' && at(x, 1) == '\n')
			step(x);
		step(x);
	}
}

/* After a '#' that starts a line: the directive's name is not an
 * identifier of the program, nor is an <header> or an #error text. */
static void c_directive(struct lx *x)
{
	while (at(x, 0) == ' ' || at(x, 0) == '\t')
		step(x);
	size_t start = x->i, len = scan_ident(x);
	const char *w = x->s + start;
#define IS(word) (len == sizeof(word) - 1 && !memcmp(w, word, len))
	if (IS("include") || IS("include_next") || IS("import")) {
		while (at(x, 0) == ' ' || at(x, 0) == '\t')
			step(x);
		if (at(x, 0) == '<')
			while (x->i < x->n && at(x, 0) != '\n' &&
			       at(x, 0) != '>')
				step(x);
	} else if (IS("error") || IS("warning")) {
		c_line_rest(x);
	}
#undef IS
}

static int c_scan(struct lx *x)
{
	int bol = 1; /* only blanks so far on this line */
	while (x->i < x->n) {
		int c = at(x, 0), d = at(x, 1);
		if (c == '\n') {
			step(x);
			bol = 1;
		} else if (c == '\\' && d == '\n') {
			skip(x, 2);
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
		           c == '\v') {
			step(x);
		} else if (c == '/' && d == '/') {
			c_line_rest(x);
		} else if (c == '/' && d == '*') {
			int line = x->line;
			skip(x, 2);
			while (x->i < x->n && !(at(x, 0) == '*' && at(x, 1) == '/'))
				step(x);
			if (x->i >= x->n)
				return fail(x, "comment", line);
			skip(x, 2);
		} else if (c == '#' && bol) {
			bol = 0;
			step(x);
			c_directive(x);
		} else if (c == '"' || c == '\'') {
			bol = 0;
			c_quoted(x);
		} else if (is_digit(c) || (c == '.' && is_digit(d))) {
			bol = 0;
			c_number(x);
		} else if (ident_start(x, c)) {
			bol = 0;
			size_t start = x->i, len = scan_ident(x);
			int kind = c_string_prefix(x, x->s + start, len, at(x, 0));
			if (kind == 1)
				c_quoted(x);
			else if (kind == 2 && c_raw(x) < 0)
				return -1;
			else if (!kind && emit(x, start, len))
				return x->stop;
		} else {
			bol = 0;
			step(x);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- Python */

static int py_code(struct lx *x, int in_field, int *term);

/* A string prefix: one or two of r, b, u, f (any case), as Python allows. */
static int py_prefix(const char *w, size_t len, int *raw, int *fstr)
{
	static const char *const ok[] = {"r", "u", "b", "f", "br", "rb",
	                                 "fr", "rf"};
	char low[3] = {0};
	if (len == 0 || len > 2)
		return 0;
	for (size_t k = 0; k < len; k++)
		low[k] = (char)(w[k] | 0x20);
	for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
		if (!strcmp(low, ok[k])) {
			*raw = strchr(low, 'r') != NULL;
			*fstr = strchr(low, 'f') != NULL;
			return 1;
		}
	return 0;
}

/* A replacement field of an f-string, after its '{': the expression,
 * an optional !conversion, an optional format spec (literal text with
 * nested fields), then '}'. */
static int py_field(struct lx *x)
{
	int line = x->line, term;
	if (py_code(x, 1, &term))
		return -1;
	if (term == '!') {
		step(x);
		while (x->i < x->n && is_alpha(at(x, 0)))
			step(x);
		term = at(x, 0);
	}
	if (term == ':') {
		step(x);
		while (x->i < x->n && at(x, 0) != '}') {
			if (at(x, 0) == '{') {
				step(x);
				if (py_field(x))
					return -1;
			} else {
				step(x);
			}
		}
	}
	if (at(x, 0) != '}')
		return x->stop ? -1 : fail(x, "f-string field", line);
	step(x);
	return 0;
}

/* A string literal from its opening quote (the prefix already read). */
static int py_string(struct lx *x, int raw, int fstr)
{
	int q = at(x, 0), line = x->line;
	int triple = at(x, 1) == q && at(x, 2) == q;
	skip(x, triple ? 3 : 1);
	while (x->i < x->n) {
		int c = at(x, 0);
		if (c == '\\') {
			/* \N{NAME} is an escape; a brace after any other
			 * backslash still opens or closes a field. */
			if (fstr && !raw && at(x, 1) == 'N' && at(x, 2) == '{')
				while (x->i < x->n && at(x, 0) != '}')
					step(x);
			skip(x, fstr && (at(x, 1) == '{' || at(x, 1) == '}') ? 1
			                                                      : 2);
		} else if (c == q && (!triple || (at(x, 1) == q && at(x, 2) == q))) {
			skip(x, triple ? 3 : 1);
			return 0;
		} else if (c == '\n' && !triple) {
			return 0;
		} else if (fstr && c == '{' && at(x, 1) == '{') {
			skip(x, 2);
		} else if (fstr && c == '{') {
			step(x);
			if (py_field(x))
				return -1;
		} else {
			step(x);
		}
	}
	return triple ? fail(x, "triple-quoted string", line) : 0;
}

static void py_number(struct lx *x)
{
	int c = at(x, 1) | 0x20;
	if (at(x, 0) == '0' && (c == 'x' || c == 'o' || c == 'b')) {
		x->i += 2;
		while (x->i < x->n &&
		       (is_digit(at(x, 0)) || at(x, 0) == '_' ||
		        ((at(x, 0) | 0x20) >= 'a' && (at(x, 0) | 0x20) <= 'f')))
			x->i++;
		return;
	}
	while (x->i < x->n &&
	       (is_digit(at(x, 0)) || at(x, 0) == '_' || at(x, 0) == '.'))
		x->i++;
	if ((at(x, 0) | 0x20) == 'e' &&
	    (is_digit(at(x, 1)) ||
	     ((at(x, 1) == '+' || at(x, 1) == '-') && is_digit(at(x, 2))))) {
		x->i += 2;
		while (x->i < x->n && (is_digit(at(x, 0)) || at(x, 0) == '_'))
			x->i++;
	}
	if ((at(x, 0) | 0x20) == 'j')
		x->i++;
}

/*
 * Python code to the end of the text or, in an f-string field
 * (in_field), to the first '}', '!' (not "!=") or ':' outside brackets,
 * which is left unread in *term.
 */
static int py_code(struct lx *x, int in_field, int *term)
{
	int depth = 0, line = x->line;
	while (x->i < x->n) {
		int c = at(x, 0), d = at(x, 1);
		if (in_field && depth == 0 &&
		    (c == '}' || c == ':' || (c == '!' && d != '='))) {
			*term = c;
			return 0;
		}
		if (c == '#') {
			while (x->i < x->n && at(x, 0) != '\n')
				step(x);
		} else if (c == '\\' && d == '\n') {
			skip(x, 2);
		} else if (c == '"' || c == '\'') {
			if (py_string(x, 0, 0))
				return -1;
		} else if (is_digit(c) || (c == '.' && is_digit(d))) {
			py_number(x);
		} else if (ident_start(x, c)) {
			size_t start = x->i, len = scan_ident(x);
			int raw, fstr, q = at(x, 0);
			if ((q == '"' || q == '\'') &&
			    py_prefix(x->s + start, len, &raw, &fstr)) {
				if (py_string(x, raw, fstr))
					return -1;
			} else if (emit(x, start, len)) {
				return -1;
			}
		} else {
			if (c == '(' || c == '[' || c == '{')
				depth++;
			else if ((c == ')' || c == ']' || c == '}') && depth > 0)
				depth--;
			step(x);
		}
	}
	if (in_field)
		return fail(x, "f-string field", line);
	*term = 0;
	return 0;
}

/* ---------------------------------------------------------------- API */

int lex_identifiers(enum lex_lang lang, const char *text, size_t len,
                    lex_fn fn, void *arg, char *err, size_t errlen)
{
	struct lx x = {.s = text, .n = len, .line = 1, .col_n = 1,
	               .lang = lang, .fn = fn, .arg = arg, .err = err,
	               .errlen = errlen};
	int term, rc;
	if (errlen)
		err[0] = '\0';
	rc = lang == LEX_PYTHON ? py_code(&x, 0, &term) : c_scan(&x);
	if (x.stop)
		return x.stop;
	return rc;
}

static int in_list(const char *const *list, size_t n, const char *word)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(list[k], word))
			return 1;
	return 0;
}

#define IN(list, word) in_list(list, sizeof list / sizeof list[0], word)

int lex_is_keyword(enum lex_lang lang, const char *word)
{
	static const char *const c[] = {
		"auto", "break", "case", "char", "const", "continue",
		"default", "do", "double", "else", "enum", "extern", "float",
		"for", "goto", "if", "inline", "int", "long", "register",
		"restrict", "return", "short", "signed", "sizeof", "static",
		"struct", "switch", "typedef", "union", "unsigned", "void",
		"volatile", "while", "_Alignas", "_Alignof", "_Atomic",
		"_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn",
		"_Static_assert", "_Thread_local", "_BitInt", "_Decimal32",
		"_Decimal64", "_Decimal128", "alignas", "alignof", "bool",
		"constexpr", "false", "nullptr", "static_assert",
		"thread_local", "true", "typeof", "typeof_unqual"};
	static const char *const cpp[] = {
		"and", "and_eq", "asm", "bitand", "bitor", "catch", "char8_t",
		"char16_t", "char32_t", "class", "compl", "concept",
		"consteval", "constinit", "const_cast", "co_await",
		"co_return", "co_yield", "decltype", "delete", "dynamic_cast",
		"explicit", "export", "friend", "mutable", "namespace", "new",
		"noexcept", "not", "not_eq", "operator", "or", "or_eq",
		"private", "protected", "public", "reinterpret_cast",
		"requires", "static_cast", "template", "this", "throw", "try",
		"typeid", "typename", "using", "virtual", "wchar_t", "xor",
		"xor_eq"};
	static const char *const py[] = {
		"False", "None", "True", "and", "as", "assert", "async",
		"await", "break", "class", "continue", "def", "del", "elif",
		"else", "except", "finally", "for", "from", "global", "if",
		"import", "in", "is", "lambda", "nonlocal", "not", "or",
		"pass", "raise", "return", "try", "while", "with", "yield"};
	if (lang == LEX_PYTHON)
		return IN(py, word);
	return IN(c, word) || (lang == LEX_CPP && IN(cpp, word));
}

int lex_is_python_builtin(const char *word)
{
	static const char *const b[] = {
		"abs", "aiter", "all", "anext", "any", "ascii", "bin", "bool",
		"breakpoint", "bytearray", "bytes", "callable", "chr",
		"classmethod", "compile", "complex", "delattr", "dict", "dir",
		"divmod", "enumerate", "eval", "exec", "filter", "float",
		"format", "frozenset", "getattr", "globals", "hasattr", "hash",
		"help", "hex", "id", "input", "int", "isinstance",
		"issubclass", "iter", "len", "list", "locals", "map", "max",
		"memoryview", "min", "next", "object", "oct", "open", "ord",
		"pow", "print", "property", "range", "repr", "reversed",
		"round", "set", "setattr", "slice", "sorted", "staticmethod",
		"str", "sum", "super", "tuple", "type", "vars", "zip",
		"__import__", "NotImplemented", "Ellipsis", "__name__",
		"__file__", "__doc__", "BaseException", "Exception",
		"ArithmeticError", "AssertionError", "AttributeError",
		"EOFError", "ImportError", "ModuleNotFoundError", "IndexError",
		"KeyError", "KeyboardInterrupt", "LookupError", "MemoryError",
		"NameError", "NotImplementedError", "OSError", "OverflowError",
		"RecursionError", "RuntimeError", "StopIteration",
		"StopAsyncIteration", "SyntaxError", "SystemExit", "TypeError",
		"UnboundLocalError", "UnicodeError", "ValueError",
		"ZeroDivisionError", "FileNotFoundError", "PermissionError",
		"TimeoutError", "Warning", "DeprecationWarning",
		"UserWarning"};
	return IN(b, word);
}

int lex_valid_identifier(const char *word)
{
	size_t n = word ? strlen(word) : 0;
	if (n == 0 || n > 255 || !is_alpha((unsigned char)word[0]))
		return 0;
	for (size_t k = 1; k < n; k++)
		if (!is_alpha((unsigned char)word[k]) &&
		    !is_digit((unsigned char)word[k]))
			return 0;
	return 1;
}
