/*
 * cmetrics.c -- built-in metrics of C and C++ source: line counts,
 * function definitions and their cyclomatic complexity, from a small
 * tokenizer (no preprocessing, no real parse).
 *
 * Lines: a physical line is blank when it holds only white space, code
 * when a token (or a preprocessor directive) touches it, otherwise a
 * comment line.
 *
 * Functions: at file scope, or in a namespace, class, struct, union or
 * extern "C" body, a '{' whose declaration head holds a name directly
 * followed by a parenthesised parameter list (and no '=' before it) opens
 * a function body. Anything else ('=', enum, an initializer) opens a block
 * that is not searched for functions. K&R parameter declarations and
 * braces unbalanced across #if branches are not understood.
 *
 * Complexity (McCabe): 1 + one for each if, for, while, case, catch, &&,
 * || and ?: in the body (C++ "and" / "or" too). else, default and do add
 * nothing (a do loop counts through its while).
 */
#include "analysis.h"

#include <stdlib.h>
#include <string.h>

enum tok_kind { T_IDENT, T_NUMBER, T_STRING, T_PUNCT };

struct tok {
	enum tok_kind kind;
	const char *s;
	size_t n;
	int line;
};

struct lexer {
	const char *p, *end;
	int line;
	int cpp;
	int line_start;      /* only white space so far on this line */
	unsigned char *code; /* per line (1-based): a token touches it */
};

static int is_ident0(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       ch == '_' || ch == '$';
}

static int is_ident(int ch)
{
	return is_ident0(ch) || (ch >= '0' && ch <= '9');
}

static int is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static void mark(struct lexer *L, int from, int to)
{
	for (int l = from; l <= to; l++)
		L->code[l] = 1;
}

/* Step over one character, counting lines. */
static void adv(struct lexer *L)
{
	if (*L->p == '\n') {
		L->line++;
		L->line_start = 1;
	}
	L->p++;
}

static int at(const struct lexer *L, size_t k, char ch)
{
	return L->p + k < L->end && L->p[k] == ch;
}

/* Skip a quoted literal ending in `q` (the opening quote is at p). */
static void skip_quoted(struct lexer *L, char q)
{
	adv(L);
	while (L->p < L->end && *L->p != q && *L->p != '\n') {
		if (*L->p == '\\' && L->p + 1 < L->end)
			adv(L);
		adv(L);
	}
	if (L->p < L->end && *L->p == q)
		adv(L);
}

/* C++ raw string R"delim( ... )delim"; p is at the opening quote. */
static void skip_raw(struct lexer *L)
{
	const char *d = L->p + 1;
	const char *paren = memchr(d, '(', (size_t)(L->end - d));
	if (!paren || paren - d > 16) {
		skip_quoted(L, '"');
		return;
	}
	size_t dn = (size_t)(paren - d);
	while (L->p <= paren)
		adv(L);
	while (L->p < L->end) {
		if (*L->p == ')' && L->p + 1 + dn < L->end &&
		    !memcmp(L->p + 1, d, dn) && L->p[1 + dn] == '"') {
			for (size_t k = 0; k < dn + 2; k++)
				adv(L);
			return;
		}
		adv(L);
	}
}

static void skip_block_comment(struct lexer *L)
{
	L->p += 2;
	while (L->p < L->end && !(*L->p == '*' && at(L, 1, '/')))
		adv(L);
	if (L->p < L->end)
		L->p += 2;
}

/* A preprocessor directive, continuation lines included: all code. */
static void skip_directive(struct lexer *L)
{
	int first = L->line;
	while (L->p < L->end && *L->p != '\n') {
		if (*L->p == '\\' && at(L, 1, '\n')) {
			adv(L);
			adv(L);
		} else if (*L->p == '"' || *L->p == '\'') {
			skip_quoted(L, *L->p);
		} else if (*L->p == '/' && at(L, 1, '*')) {
			skip_block_comment(L);
		} else if (*L->p == '/' && at(L, 1, '/')) {
			while (L->p < L->end && *L->p != '\n')
				adv(L);
		} else {
			adv(L);
		}
	}
	mark(L, first, L->line);
}

static int prefix_is(const char *s, size_t n, const char *const *set)
{
	for (; *set; set++)
		if (strlen(*set) == n && !memcmp(s, *set, n))
			return 1;
	return 0;
}

/* The next token; 0 at the end of the text. */
static int lex(struct lexer *L, struct tok *t)
{
	static const char *const str_prefix[] = {"L", "u", "U", "u8", NULL};
	static const char *const raw_prefix[] = {"R", "LR", "uR", "UR", "u8R",
	                                         NULL};
	static const char *const two[] = {"&&", "||", "::", "->", NULL};
	for (;;) {
		if (L->p >= L->end)
			return 0;
		char ch = *L->p;
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' ||
		    ch == '\v' || ch == '\n') {
			adv(L);
		} else if (ch == '\\' && at(L, 1, '\n')) {
			adv(L);
			adv(L);
		} else if (ch == '/' && at(L, 1, '/')) {
			while (L->p < L->end && *L->p != '\n') {
				if (*L->p == '\\' && at(L, 1, '\n'))
					adv(L);
				adv(L);
			}
		} else if (ch == '/' && at(L, 1, '*')) {
			skip_block_comment(L);
		} else if (ch == '#' && L->line_start) {
			skip_directive(L);
		} else {
			break;
		}
	}
	L->line_start = 0;
	const char *s = L->p;
	int line = L->line;
	char ch = *L->p;
	t->kind = T_PUNCT;
	if (is_ident0(ch)) {
		while (L->p < L->end && is_ident(*L->p))
			L->p++;
		t->kind = T_IDENT;
		size_t n = (size_t)(L->p - s);
		if (at(L, 0, '"') && L->cpp && prefix_is(s, n, raw_prefix)) {
			skip_raw(L);
			t->kind = T_STRING;
		} else if ((at(L, 0, '"') || at(L, 0, '\'')) &&
		           prefix_is(s, n, str_prefix)) {
			skip_quoted(L, *L->p);
			t->kind = T_STRING;
		}
	} else if (is_digit(ch) || (ch == '.' && L->p + 1 < L->end &&
	                            is_digit(L->p[1]))) {
		while (L->p < L->end) {
			char c = *L->p;
			if ((c == '+' || c == '-') &&
			    strchr("eEpP", L->p[-1]) != NULL)
				L->p++;
			else if (is_ident(c) || c == '.')
				L->p++;
			else if (c == '\'' && L->cpp && L->p + 1 < L->end &&
			         is_ident(L->p[1]))
				L->p++;
			else
				break;
		}
		t->kind = T_NUMBER;
	} else if (ch == '"' || ch == '\'') {
		skip_quoted(L, ch);
		t->kind = T_STRING;
	} else if (L->p + 1 < L->end && prefix_is(L->p, 2, two)) {
		L->p += 2;
	} else {
		L->p++;
	}
	t->s = s;
	t->n = (size_t)(L->p - s);
	t->line = line;
	mark(L, line, L->line);
	return 1;
}

/* ---- declarations and function bodies ---- */

enum scope_kind { S_CONTAINER, S_FUNC, S_OTHER };

struct scope {
	enum scope_kind kind;
	const char *name; /* container name, or NULL */
	size_t name_n;
	json_t *func;     /* S_FUNC: its metrics object (borrowed) */
	int keep_head;    /* a brace initializer inside a declaration head */
};

struct parser {
	int cpp;
	struct tok *head; /* declaration head since the last ; { } */
	size_t nhead, caphead;
	struct scope *stack;
	size_t depth, capstack;
	size_t ncode;  /* scopes on the stack that are not containers */
	json_t *func;  /* the function whose body we are in, or NULL */
	int complexity;
	json_t *functions;
};

static int tok_is(const struct tok *t, const char *s)
{
	return t->n == strlen(s) && !memcmp(t->s, s, t->n);
}

static int push_head(struct parser *P, const struct tok *t)
{
	if (P->nhead == P->caphead) {
		size_t cap = P->caphead ? 2 * P->caphead : 64;
		struct tok *h = realloc(P->head, cap * sizeof *h);
		if (!h)
			return -1;
		P->head = h;
		P->caphead = cap;
	}
	P->head[P->nhead++] = *t;
	return 0;
}

static int push_scope(struct parser *P, struct scope s)
{
	if (P->depth == P->capstack) {
		size_t cap = P->capstack ? 2 * P->capstack : 16;
		struct scope *v = realloc(P->stack, cap * sizeof *v);
		if (!v)
			return -1;
		P->stack = v;
		P->capstack = cap;
	}
	P->stack[P->depth++] = s;
	if (s.kind != S_CONTAINER)
		P->ncode++;
	return 0;
}

/* Names followed by parentheses that are not a function's name. */
static int not_a_name(const struct tok *t)
{
	static const char *const words[] = {
		"__attribute__", "__attribute", "__declspec", "alignas",
		"_Alignas", "decltype", "__typeof__", "__typeof", "typeof",
		"sizeof", "_Static_assert", "static_assert", "noexcept",
		"throw", "asm", "__asm__", "__asm", "requires", "if", "for",
		"while", "switch", "return", "_Generic", "void", "char",
		"short", "int", "long", "float", "double", "signed",
		"unsigned", "_Bool", "bool", "const", "volatile", "static",
		"inline", "extern", "auto", NULL};
	return t->kind != T_IDENT || prefix_is(t->s, t->n, words);
}

/* Append tokens [from, to) of the head to buf as a name. */
static void join(const struct parser *P, size_t from, size_t to, char *buf,
                 size_t len)
{
	size_t used = strlen(buf);
	for (size_t i = from; i < to && used + 1 < len; i++) {
		const struct tok *t = &P->head[i];
		if (i > from && t->kind == T_IDENT &&
		    P->head[i - 1].kind == T_IDENT && used + 2 < len)
			buf[used++] = ' ';
		size_t n = t->n < len - 1 - used ? t->n : len - 1 - used;
		memcpy(buf + used, t->s, n);
		used += n;
	}
	buf[used] = '\0';
}

/* Parameters in head[open+1 .. close-1]: 0 for () and (void). */
static int count_params(const struct parser *P, size_t open, size_t close)
{
	if (close == open + 1)
		return 0;
	if (close == open + 2 && tok_is(&P->head[open + 1], "void"))
		return 0;
	int depth = 0, n = 1;
	for (size_t i = open + 1; i < close; i++) {
		const struct tok *t = &P->head[i];
		if (tok_is(t, "(") || tok_is(t, "[") || tok_is(t, "{") ||
		    (P->cpp && tok_is(t, "<")))
			depth++;
		else if (tok_is(t, ")") || tok_is(t, "]") || tok_is(t, "}") ||
		         (P->cpp && tok_is(t, ">")))
			depth--;
		else if (tok_is(t, ",") && depth == 0)
			n++;
	}
	return n;
}

/* The index of the ')' closing the '(' at head[open], or nhead. */
static size_t close_paren(const struct parser *P, size_t open)
{
	int depth = 0;
	for (size_t i = open; i < P->nhead; i++) {
		if (tok_is(&P->head[i], "("))
			depth++;
		else if (tok_is(&P->head[i], ")") && --depth == 0)
			return i;
	}
	return P->nhead;
}

/* Prefix of enclosing named containers ("ns::Class::"). */
static void scope_prefix(const struct parser *P, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < P->depth; i++) {
		const struct scope *s = &P->stack[i];
		if (s->kind != S_CONTAINER || !s->name)
			continue;
		if (used + s->name_n + 3 >= len)
			break;
		memcpy(buf + used, s->name, s->name_n);
		used += s->name_n;
		memcpy(buf + used, "::", 3);
		used += 2;
	}
}

/*
 * Does the head declare a function? Then a new metrics object for it
 * (name, line, parameters). NULL otherwise.
 */
static json_t *function_head(struct parser *P)
{
	int depth = 0;
	for (size_t i = 0; i < P->nhead; i++) {
		const struct tok *t = &P->head[i];
		if (depth == 0 && (tok_is(t, "=") || tok_is(t, ";")))
			return NULL;
		size_t name_from = i, open = P->nhead;
		if (depth == 0 && tok_is(t, "operator") && P->cpp) {
			size_t j = i + 1;
			if (j + 1 < P->nhead && tok_is(&P->head[j], "(") &&
			    tok_is(&P->head[j + 1], ")"))
				j += 2;
			while (j < P->nhead && !tok_is(&P->head[j], "("))
				j++;
			open = j;
		} else if (depth == 0 && tok_is(t, "(") && i > 0 &&
		           !not_a_name(&P->head[i - 1])) {
			open = i;
			name_from = i - 1;
			if (name_from > 0 && tok_is(&P->head[name_from - 1], "~"))
				name_from--;
		}
		if (tok_is(t, "(") || tok_is(t, "["))
			depth++;
		else if (tok_is(t, ")") || tok_is(t, "]"))
			depth--;
		if (open >= P->nhead)
			continue;
		while (name_from >= 2 &&
		       tok_is(&P->head[name_from - 1], "::") &&
		       P->head[name_from - 2].kind == T_IDENT)
			name_from -= 2;
		size_t close = close_paren(P, open);
		if (close >= P->nhead)
			return NULL;
		char name[512];
		int qualified = 0;
		for (size_t k = name_from; k < open; k++)
			qualified |= tok_is(&P->head[k], "::");
		if (qualified)
			name[0] = '\0';
		else
			scope_prefix(P, name, sizeof name);
		join(P, name_from, open, name, sizeof name);
		return json_pack("{s:s, s:i, s:i}", "name", name, "line",
		                 P->head[name_from].line, "parameters",
		                 count_params(P, open, close));
	}
	return NULL;
}

/* A container's name: the identifier after its keyword, if any. */
static int container_head(const struct parser *P, struct scope *s)
{
	static const char *const keys[] = {"namespace", "class", "struct",
	                                   "union", NULL};
	static const char *const skip[] = {"final", "alignas", "__attribute__",
	                                   "__declspec", "inline", NULL};
	for (size_t i = 0; i < P->nhead; i++) {
		const struct tok *t = &P->head[i];
		if (tok_is(t, "=") || tok_is(t, "("))
			return 0;
		if (tok_is(t, "extern") && i + 1 < P->nhead &&
		    P->head[i + 1].kind == T_STRING)
			return 1;
		if (t->kind != T_IDENT || !prefix_is(t->s, t->n, keys))
			continue;
		for (size_t j = i + 1; j < P->nhead; j++) {
			const struct tok *n = &P->head[j];
			if (n->kind != T_IDENT)
				break;
			if (prefix_is(n->s, n->n, skip))
				continue;
			s->name = n->s;
			s->name_n = n->n;
			break;
		}
		return 1;
	}
	return 0;
}

/*
 * A C++ constructor's member initialized with braces, "x_{1}" in
 * "S(int a) : x_{1} {": the head holds a parameter list, then a ':' at
 * depth 0, and the brace follows a name.
 */
static int member_brace_init(const struct parser *P)
{
	if (!P->cpp || P->nhead < 4 ||
	    P->head[P->nhead - 1].kind != T_IDENT)
		return 0;
	int depth = 0, params = 0;
	for (size_t i = 0; i < P->nhead; i++) {
		const struct tok *t = &P->head[i];
		if (tok_is(t, "(")) {
			depth++;
		} else if (tok_is(t, ")")) {
			if (--depth == 0)
				params = 1;
		} else if (depth == 0 && params && tok_is(t, ":")) {
			return 1;
		}
	}
	return 0;
}

static int open_brace(struct parser *P)
{
	struct scope s = {S_OTHER, NULL, 0, NULL, 0};
	if (P->ncode == 0 && member_brace_init(P)) {
		s.keep_head = 1;
	} else if (P->ncode == 0) {
		json_t *f = function_head(P);
		if (f) {
			s.kind = S_FUNC;
			s.func = f;
			json_array_append_new(P->functions, f);
			P->func = f;
			P->complexity = 1;
		} else if (container_head(P, &s)) {
			s.kind = S_CONTAINER;
		}
		P->nhead = 0;
	}
	return push_scope(P, s);
}

static void close_brace(struct parser *P, int line)
{
	if (P->depth == 0)
		return;
	struct scope s = P->stack[--P->depth];
	if (s.kind != S_CONTAINER)
		P->ncode--;
	if (s.kind == S_FUNC) {
		json_int_t first =
			json_integer_value(json_object_get(s.func, "line"));
		json_object_set_new(s.func, "end_line", json_integer(line));
		json_object_set_new(s.func, "lines",
		                    json_integer(line - first + 1));
		json_object_set_new(s.func, "complexity",
		                    json_integer(P->complexity));
		P->func = NULL;
	}
	if (s.keep_head) {
		/* The head goes on: "x_{1}" stands for one token. */
		struct tok t = {T_PUNCT, "}", 1, line};
		push_head(P, &t);
	} else if (P->ncode == 0) {
		P->nhead = 0;
	}
}

static int decision(const struct parser *P, const struct tok *t)
{
	static const char *const words[] = {"if", "for", "while", "case",
	                                    "catch", NULL};
	static const char *const cpp_words[] = {"and", "or", NULL};
	if (t->kind == T_IDENT)
		return prefix_is(t->s, t->n, words) ||
		       (P->cpp && prefix_is(t->s, t->n, cpp_words));
	return t->kind == T_PUNCT &&
	       (tok_is(t, "&&") || tok_is(t, "||") || tok_is(t, "?"));
}

json_t *cmetrics_compute(const char *text, size_t len, int cpp)
{
	int nlines = 0;
	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	if (len && text[len - 1] != '\n')
		nlines++;
	struct lexer L = {text, text + len, 1, cpp, 1, NULL};
	struct parser P = {0};
	P.cpp = cpp;
	P.functions = json_array();
	L.code = calloc((size_t)nlines + 2, 1);
	json_t *out = NULL;
	if (!L.code || !P.functions)
		goto done;

	struct tok t;
	while (lex(&L, &t)) {
		if (tok_is(&t, "{")) {
			if (open_brace(&P))
				goto done;
		} else if (tok_is(&t, "}")) {
			close_brace(&P, t.line);
		} else if (P.ncode == 0) {
			if (tok_is(&t, ";"))
				P.nhead = 0;
			else if (push_head(&P, &t))
				goto done;
		} else if (P.func && decision(&P, &t)) {
			P.complexity++;
		}
	}
	/* A body left open at the end of the text ends on its last line. */
	while (P.depth)
		close_brace(&P, nlines);

	int code = 0, comment = 0, blank = 0, line = 1, nonblank = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || text[i] == '\n') {
			if (i == len && (len == 0 || text[len - 1] == '\n'))
				break;
			if (L.code[line])
				code++;
			else if (nonblank)
				comment++;
			else
				blank++;
			line++;
			nonblank = 0;
		} else if (!strchr(" \t\r\f\v", text[i])) {
			nonblank = 1;
		}
	}
	out = json_pack("{s:s, s:i, s:i, s:i, s:i, s:O}", "language",
	                cpp ? "cpp" : "c", "lines", nlines, "code_lines", code,
	                "comment_lines", comment, "blank_lines", blank,
	                "functions", P.functions);
done:
	json_decref(P.functions);
	free(P.head);
	free(P.stack);
	free(L.code);
	return out;
}
