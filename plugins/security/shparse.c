/*
 * shparse.c -- the shell tokenizer, parser and static expander behind
 * security.check_command. See shparse.h.
 */
#include "shparse.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena */

struct sh_block {
	struct sh_block *next;
	size_t used, size;
	max_align_t data[];
};

struct sh_arena {
	struct sh_block *head;
	int failed;
};

struct sh_arena *sh_arena_new(void)
{
	return calloc(1, sizeof(struct sh_arena));
}

void sh_arena_free(struct sh_arena *a)
{
	if (!a)
		return;
	struct sh_block *b = a->head;
	while (b) {
		struct sh_block *next = b->next;
		free(b);
		b = next;
	}
	free(a);
}

void *sh_alloc(struct sh_arena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!n)
		n = sizeof(max_align_t);
	struct sh_block *b = a->head;
	if (!b || b->size - b->used < n) {
		size_t size = n > 16384 ? n : 16384;
		b = malloc(sizeof *b + size);
		if (!b)
			abort(); /* the plugin has no way on without memory */
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *sh_strndup(struct sh_arena *a, const char *s, size_t n)
{
	char *p = sh_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *sh_strdup(struct sh_arena *a, const char *s)
{
	return sh_strndup(a, s, strlen(s));
}

/* Grow an arena array of `elem`-sized items to hold at least `need`. */
static void *grow(struct sh_arena *a, void *arr, size_t *cap, size_t need,
                  size_t elem)
{
	if (need <= *cap)
		return arr;
	size_t ncap = *cap ? *cap * 2 : 4;
	while (ncap < need)
		ncap *= 2;
	void *n = sh_alloc(a, ncap * elem);
	if (arr)
		memcpy(n, arr, *cap * elem);
	*cap = ncap;
	return n;
}

/* ---------------------------------------------------------------- vars */

struct sh_var {
	const char *name, *value; /* value NULL: unknown */
	int net;                  /* assigned from a network fetch */
	struct sh_var *next;
};

struct sh_vars {
	struct sh_arena *A;
	struct sh_var *head;
};

static struct sh_var *var_find(struct sh_vars *v, const char *name)
{
	for (struct sh_var *x = v->head; x; x = x->next)
		if (!strcmp(x->name, name))
			return x;
	return NULL;
}

static void var_set_net(struct sh_vars *v, const char *name,
                        const char *value, int net)
{
	struct sh_var *x = var_find(v, name);
	if (!x) {
		x = sh_alloc(v->A, sizeof *x);
		x->name = sh_strdup(v->A, name);
		x->next = v->head;
		v->head = x;
	}
	x->value = value ? sh_strdup(v->A, value) : NULL;
	x->net = net;
}

static void var_set(struct sh_vars *v, const char *name, const char *value)
{
	var_set_net(v, name, value, 0);
}

/* Does a (substitution) script fetch from the network? */
static int script_fetches(const struct sh_script *s)
{
	static const char *const fetchers[] = {"curl", "wget", "nc", "ncat",
	                                       "netcat", "fetch", "socat",
	                                       "aria2c", "lynx", "http",
	                                       NULL};
	for (size_t k = 0; k < s->ncmds; k++) {
		const struct sh_cmd *c = &s->cmds[k];
		for (size_t a = 0; a < c->argc && a < 3; a++) {
			const char *n = strrchr(c->argv[a].text, '/');
			n = n ? n + 1 : c->argv[a].text;
			for (const char *const *f = fetchers; *f; f++)
				if (!strcmp(n, *f))
					return 1;
			if (c->argv[a].flags & W_NET)
				return 1;
		}
	}
	return 0;
}

struct sh_vars *sh_vars_new(struct sh_arena *a)
{
	struct sh_vars *v = sh_alloc(a, sizeof *v);
	v->A = a;
	var_set(v, "IFS", " \t\n");
	var_set(v, "HOME", "~");
	return v;
}

const char *sh_var_get(struct sh_vars *v, const char *name, int *known)
{
	for (struct sh_var *x = v->head; x; x = x->next)
		if (!strcmp(x->name, name)) {
			*known = x->value != NULL;
			return x->value;
		}
	*known = 0;
	return NULL;
}

/* ---------------------------------------------------------------- buffer */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

/* ---------------------------------------------------------------- scanning
 *
 * scan_* take the index just past an opening delimiter and return the
 * index just past its closing one, or SIZE_MAX (text unterminated) with
 * *err naming what was left open.
 */

#define BAD SIZE_MAX

struct scan {
	const char *s;
	size_t n;
	const char *err;
	int depth; /* nesting of quotes and parens being scanned */
};

#define SCAN_MAX_DEPTH 64

static size_t scan_paren(struct scan *c, size_t i);
static size_t scan_dquote(struct scan *c, size_t i);

static size_t fail(struct scan *c, const char *err)
{
	if (!c->err)
		c->err = err;
	return BAD;
}

static size_t scan_squote(struct scan *c, size_t i)
{
	const char *q = memchr(c->s + i, '\'', c->n - i);
	return q ? (size_t)(q - c->s) + 1 : fail(c, "unterminated single quote");
}

static size_t scan_ansi(struct scan *c, size_t i)
{
	for (; i < c->n; i++) {
		if (c->s[i] == '\\')
			i++;
		else if (c->s[i] == '\'')
			return i + 1;
	}
	return fail(c, "unterminated $'...' quote");
}

static size_t scan_backtick(struct scan *c, size_t i)
{
	for (; i < c->n; i++) {
		if (c->s[i] == '\\')
			i++;
		else if (c->s[i] == '`')
			return i + 1;
	}
	return fail(c, "unterminated backquote");
}

/* After "${": to the matching "}". */
static size_t scan_brace_in(struct scan *c, size_t i);

static size_t scan_brace(struct scan *c, size_t i)
{
	if (++c->depth > SCAN_MAX_DEPTH)
		return fail(c, "quotes or substitutions nested too deeply");
	size_t r = scan_brace_in(c, i);
	c->depth--;
	return r;
}

static size_t scan_brace_in(struct scan *c, size_t i)
{
	int depth = 1;
	while (i < c->n) {
		char ch = c->s[i];
		if (ch == '\\') {
			i += 2;
		} else if (ch == '\'') {
			i = scan_squote(c, i + 1);
		} else if (ch == '"') {
			i = scan_dquote(c, i + 1);
		} else if (ch == '$' && i + 1 < c->n && c->s[i + 1] == '(') {
			i = scan_paren(c, i + 2);
		} else if (ch == '{') {
			depth++;
			i++;
		} else if (ch == '}') {
			if (--depth == 0)
				return i + 1;
			i++;
		} else {
			i++;
		}
		if (i == BAD)
			return BAD;
	}
	return fail(c, "unterminated ${...}");
}

static size_t scan_dollar(struct scan *c, size_t i)
{
	/* i is at '$' */
	if (i + 1 >= c->n)
		return i + 1;
	switch (c->s[i + 1]) {
	case '(':
		return scan_paren(c, i + 2);
	case '{':
		return scan_brace(c, i + 2);
	case '\'':
		return scan_ansi(c, i + 2);
	case '"':
		return scan_dquote(c, i + 2);
	default:
		return i + 1;
	}
}

static size_t scan_dquote_in(struct scan *c, size_t i);

static size_t scan_dquote(struct scan *c, size_t i)
{
	if (++c->depth > SCAN_MAX_DEPTH)
		return fail(c, "quotes or substitutions nested too deeply");
	size_t r = scan_dquote_in(c, i);
	c->depth--;
	return r;
}

static size_t scan_dquote_in(struct scan *c, size_t i)
{
	while (i < c->n) {
		char ch = c->s[i];
		if (ch == '\\')
			i += 2;
		else if (ch == '"')
			return i + 1;
		else if (ch == '$')
			i = scan_dollar(c, i);
		else if (ch == '`')
			i = scan_backtick(c, i + 1);
		else
			i++;
		if (i == BAD)
			return BAD;
	}
	return fail(c, "unterminated double quote");
}

/* After "(" of $( <( >( $((: to the matching ")". */
static size_t scan_paren_in(struct scan *c, size_t i);

static size_t scan_paren(struct scan *c, size_t i)
{
	if (++c->depth > SCAN_MAX_DEPTH)
		return fail(c, "quotes or substitutions nested too deeply");
	size_t r = scan_paren_in(c, i);
	c->depth--;
	return r;
}

static size_t scan_paren_in(struct scan *c, size_t i)
{
	int depth = 1;
	while (i < c->n) {
		char ch = c->s[i];
		if (ch == '\\')
			i += 2;
		else if (ch == '\'')
			i = scan_squote(c, i + 1);
		else if (ch == '"')
			i = scan_dquote(c, i + 1);
		else if (ch == '`')
			i = scan_backtick(c, i + 1);
		else if (ch == '$')
			i = scan_dollar(c, i);
		else if (ch == '(')
			depth++, i++;
		else if (ch == ')') {
			if (--depth == 0)
				return i + 1;
			i++;
		} else
			i++;
		if (i == BAD)
			return BAD;
	}
	return fail(c, "unterminated $(...) or (...)");
}

static int is_meta(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == ';' ||
	       ch == '&' || ch == '|' || ch == '<' || ch == '>' || ch == '(' ||
	       ch == ')';
}

/* A word starting at i: the index past it. */
static size_t scan_word(struct scan *c, size_t i)
{
	while (i < c->n) {
		char ch = c->s[i];
		if ((ch == '<' || ch == '>') && i + 1 < c->n &&
		    c->s[i + 1] == '(') {
			i = scan_paren(c, i + 2);
		} else if (ch == '(' && i > 0 && c->s[i - 1] == '=') {
			i = scan_paren(c, i + 1); /* a=(array) */
		} else if (is_meta(ch)) {
			break;
		} else if (ch == '\\') {
			i = i + 2 > c->n ? c->n : i + 2;
		} else if (ch == '\'') {
			i = scan_squote(c, i + 1);
		} else if (ch == '"') {
			i = scan_dquote(c, i + 1);
		} else if (ch == '`') {
			i = scan_backtick(c, i + 1);
		} else if (ch == '$') {
			i = scan_dollar(c, i);
		} else {
			i++;
		}
		if (i == BAD)
			return BAD;
	}
	return i;
}

/* ---------------------------------------------------------------- lexer */

enum tok_kind { T_EOF, T_WORD, T_OP, T_REDIR, T_NL };

struct token {
	enum tok_kind kind;
	const char *s; /* word text, or the operator */
	size_t len;
	int fd;        /* T_REDIR: explicit fd or -1 */
};

static const char *const ops[] = {";;&", ";;", ";&", "&&", "||", "|&",
                                  "|", "&", ";", "(", ")"};
static const char *const redirs[] = {"&>>", "&>", "<<<", "<<-", "<<", "<&",
                                     "<>", "<", ">>", ">&", ">|", ">"};

struct lexer {
	struct scan c;
	size_t i;
	int have_peek;
	struct token peek;
};

static int starts(const struct scan *c, size_t i, const char *op)
{
	size_t n = strlen(op);
	return i + n <= c->n && !memcmp(c->s + i, op, n);
}

static int lex(struct lexer *L, struct token *t)
{
	struct scan *c = &L->c;
	if (L->have_peek) {
		*t = L->peek;
		L->have_peek = 0;
		return 0;
	}
	size_t i = L->i;
	for (;;) {
		while (i < c->n && (c->s[i] == ' ' || c->s[i] == '\t'))
			i++;
		if (i + 1 < c->n && c->s[i] == '\\' && c->s[i + 1] == '\n') {
			i += 2;
			continue;
		}
		if (i < c->n && c->s[i] == '#') {
			while (i < c->n && c->s[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	memset(t, 0, sizeof *t);
	t->fd = -1;
	if (i >= c->n) {
		t->kind = T_EOF;
		L->i = i;
		return 0;
	}
	if (c->s[i] == '\n') {
		t->kind = T_NL;
		L->i = i + 1;
		return 0;
	}
	/* [n]redirection (but <( and >( are words) */
	size_t j = i;
	while (j < c->n && isdigit((unsigned char)c->s[j]))
		j++;
	if (j < c->n && (c->s[j] == '<' || c->s[j] == '>' ||
	                 (j == i && c->s[j] == '&')) &&
	    !(j + 1 < c->n && c->s[j + 1] == '(')) {
		for (size_t k = 0; k < sizeof redirs / sizeof redirs[0]; k++) {
			if (!starts(c, j, redirs[k]))
				continue;
			if (redirs[k][0] == '&' && j != i)
				continue;
			t->kind = T_REDIR;
			t->s = redirs[k];
			t->len = strlen(redirs[k]);
			t->fd = j > i ? atoi(c->s + i) : -1;
			L->i = j + t->len;
			return 0;
		}
	}
	for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
		if (starts(c, i, ops[k])) {
			t->kind = T_OP;
			t->s = ops[k];
			t->len = strlen(ops[k]);
			L->i = i + t->len;
			return 0;
		}
	}
	j = scan_word(c, i);
	if (j == BAD)
		return -1;
	t->kind = T_WORD;
	t->s = c->s + i;
	t->len = j - i;
	L->i = j;
	return 0;
}

static int lex_peek(struct lexer *L, struct token *t)
{
	if (!L->have_peek) {
		if (lex(L, &L->peek))
			return -1;
		L->have_peek = 1;
	}
	*t = L->peek;
	return 0;
}

/* ---------------------------------------------------------------- expansion */

struct expander {
	struct sh_arena *A;
	struct sh_vars *vars;
	int depth;
	int split;          /* field-split unquoted expansions */
	const char **err;   /* where a nested parse error goes */
	struct buf cur;
	unsigned flags;
	int have;
	struct sh_script **subs;
	size_t nsubs, capsubs;
	struct sh_word *fields;
	size_t nf, capf;
};

static void emit(struct expander *x)
{
	if (!x->have)
		return;
	x->fields = grow(x->A, x->fields, &x->capf, x->nf + 1,
	                 sizeof *x->fields);
	struct sh_word *w = &x->fields[x->nf++];
	w->text = sh_strndup(x->A, x->cur.p ? x->cur.p : "", x->cur.len);
	w->flags = x->flags;
	w->subs = x->subs;
	w->nsubs = x->nsubs;
	x->cur.len = 0;
	if (x->cur.p)
		x->cur.p[0] = '\0';
	x->flags = 0;
	x->have = 0;
	x->subs = NULL;
	x->nsubs = x->capsubs = 0;
}

static void lit(struct expander *x, const char *s, size_t n, int quoted)
{
	buf_add(&x->cur, s, n);
	x->have = 1;
	if (quoted)
		x->flags |= W_QUOTED;
}

static int is_ifs(struct expander *x, char ch)
{
	int known;
	const char *ifs = sh_var_get(x->vars, "IFS", &known);
	return known && ch && strchr(ifs, ch) != NULL;
}

/* An expansion: known value (split when unquoted) or unknown source text. */
static void expansion(struct expander *x, const char *value, int known,
                      const char *raw, size_t rawlen, int quoted)
{
	x->flags |= W_VAR;
	if (!known) {
		lit(x, raw, rawlen, 0);
		x->flags |= W_DYNAMIC;
		return;
	}
	if (quoted || !x->split) {
		lit(x, value, strlen(value), quoted);
		return;
	}
	for (const char *p = value; *p; p++) {
		if (is_ifs(x, *p))
			emit(x);
		else
			lit(x, p, 1, 0);
	}
}

static void add_sub(struct expander *x, struct sh_script *s)
{
	x->subs = grow(x->A, x->subs, &x->capsubs, x->nsubs + 1,
	               sizeof *x->subs);
	x->subs[x->nsubs++] = s;
}

/* The value of `$(inner)` when it is a plain echo/printf of static words. */
static const char *static_output(struct sh_arena *A, struct sh_script *s)
{
	if (s->error || s->ncmds != 1)
		return NULL;
	struct sh_cmd *c = &s->cmds[0];
	if (c->nredirs || c->argc < 1 || c->stages > 1)
		return NULL;
	for (size_t i = 0; i < c->argc; i++)
		if (c->argv[i].flags & (W_DYNAMIC | W_GLOB))
			return NULL;
	struct buf b = {0};
	const char *name = c->argv[0].text;
	if (!strcmp(name, "echo")) {
		size_t i = 1;
		while (i < c->argc && (!strcmp(c->argv[i].text, "-n") ||
		                       !strcmp(c->argv[i].text, "-e") ||
		                       !strcmp(c->argv[i].text, "-E")))
			i++;
		for (; i < c->argc; i++) {
			if (b.len)
				buf_addc(&b, ' ');
			buf_add(&b, c->argv[i].text, strlen(c->argv[i].text));
		}
	} else if (!strcmp(name, "printf") && c->argc == 2 &&
	           !strchr(c->argv[1].text, '%')) {
		buf_add(&b, c->argv[1].text, strlen(c->argv[1].text));
	} else {
		return NULL;
	}
	while (b.len && b.p[b.len - 1] == '\n')
		b.p[--b.len] = '\0';
	const char *r = sh_strndup(A, b.p ? b.p : "", b.len);
	free(b.p);
	return r;
}

static void substitution(struct expander *x, const char *inner, size_t n,
                         const char *raw, size_t rawlen, int quoted,
                         int procsub)
{
	struct sh_script *s = sh_parse(x->A, x->vars, inner, n, x->depth + 1);
	if (s->error && !*x->err)
		*x->err = s->error;
	add_sub(x, s);
	x->flags |= procsub ? (W_PROCSUB | W_SUBST) : W_SUBST;
	if (script_fetches(s))
		x->flags |= W_NET;
	const char *v = procsub ? NULL : static_output(x->A, s);
	expansion(x, v, v != NULL, raw, rawlen, quoted);
}

/* Decode $'...' (i just past the opening quote, end at the closing). */
static void ansi(struct expander *x, const char *s, size_t n)
{
	struct buf b = {0};
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 >= n) {
			buf_addc(&b, s[i]);
			continue;
		}
		char e = s[++i];
		unsigned v = 0;
		int k;
		switch (e) {
		case 'n': buf_addc(&b, '\n'); break;
		case 't': buf_addc(&b, '\t'); break;
		case 'r': buf_addc(&b, '\r'); break;
		case 'a': buf_addc(&b, '\a'); break;
		case 'b': buf_addc(&b, '\b'); break;
		case 'e': case 'E': buf_addc(&b, 27); break;
		case 'f': buf_addc(&b, '\f'); break;
		case 'v': buf_addc(&b, '\v'); break;
		case 'x':
			for (k = 0; k < 2 && i + 1 < n &&
			            isxdigit((unsigned char)s[i + 1]); k++) {
				char h = s[++i];
				v = v * 16 + (unsigned)(isdigit((unsigned char)h)
				                  ? h - '0'
				                  : (tolower((unsigned char)h) - 'a' + 10));
			}
			if (k)
				buf_addc(&b, (char)v);
			else
				buf_add(&b, "\\x", 2);
			break;
		case '0': case '1': case '2': case '3':
		case '4': case '5': case '6': case '7':
			v = (unsigned)(e - '0');
			for (k = 1; k < 3 && i + 1 < n && s[i + 1] >= '0' &&
			            s[i + 1] <= '7'; k++)
				v = v * 8 + (unsigned)(s[++i] - '0');
			buf_addc(&b, (char)v);
			break;
		default: /* \\ \' \" and unknown escapes */
			buf_addc(&b, e);
		}
	}
	lit(x, b.p ? b.p : "", b.len, 1);
	free(b.p);
}

static int valid_name_char(char ch, int first)
{
	return ch == '_' || isalpha((unsigned char)ch) ||
	       (!first && isdigit((unsigned char)ch));
}

static void expand_range(struct expander *x, const char *s, size_t n,
                         int quoted);

/* ${...}: i at '$', end just past '}'. */
static void brace_param(struct expander *x, const char *s, size_t i,
                        size_t end, int quoted)
{
	const char *in = s + i + 2;
	size_t n = end - i - 3, k = 0;
	while (k < n && valid_name_char(in[k], k == 0))
		k++;
	char name[128];
	int known = 0;
	const char *v = NULL;
	if (k > 0 && k < sizeof name) {
		memcpy(name, in, k);
		name[k] = '\0';
		v = sh_var_get(x->vars, name, &known);
		struct sh_var *var = var_find(x->vars, name);
		if (var && var->net)
			x->flags |= W_NET;
	}
	if (k > 0 && k == n) {
		expansion(x, v, known, s + i, end - i, quoted);
		return;
	}
	/* ${name:-word} / ${name-word}: the default when name is unknown. */
	if (k > 0 && (in[k] == '-' || (in[k] == ':' && k + 1 < n &&
	                               in[k + 1] == '-'))) {
		size_t w = k + (in[k] == ':' ? 2 : 1);
		if (known) {
			expansion(x, v, 1, s + i, end - i, quoted);
			return;
		}
		/* A name never assigned here: its default is what runs. */
		x->flags |= W_VAR;
		expand_range(x, in + w, n - w, quoted);
		return;
	}
	expansion(x, NULL, 0, s + i, end - i, quoted);
}

/* $...: i at '$'; returns the index past the expansion. */
static size_t dollar(struct expander *x, const char *s, size_t n, size_t i,
                     int quoted)
{
	struct scan c = {.s = s, .n = n};
	if (i + 1 >= n) {
		lit(x, "$", 1, quoted);
		return i + 1;
	}
	char nx = s[i + 1];
	size_t end;
	if (nx == '(') {
		end = scan_paren(&c, i + 2);
		if (end == BAD)
			end = n;
		if (i + 2 < n && s[i + 2] == '(') /* $(( arithmetic )) */
			expansion(x, NULL, 0, s + i, end - i, quoted);
		else
			substitution(x, s + i + 2, end - i - 3, s + i, end - i,
			             quoted, 0);
		return end;
	}
	if (nx == '{') {
		end = scan_brace(&c, i + 2);
		if (end == BAD)
			end = n;
		brace_param(x, s, i, end, quoted);
		return end;
	}
	if (nx == '\'' && !quoted) {
		end = scan_ansi(&c, i + 2);
		if (end == BAD)
			end = n;
		ansi(x, s + i + 2, end - i - 3);
		return end;
	}
	if (nx == '"' && !quoted) {
		end = scan_dquote(&c, i + 2);
		if (end == BAD)
			end = n;
		x->have = 1;
		x->flags |= W_QUOTED;
		expand_range(x, s + i + 2, end - i - 3, 1);
		return end;
	}
	if (valid_name_char(nx, 1)) {
		size_t k = i + 1;
		while (k < n && valid_name_char(s[k], 0))
			k++;
		char name[128];
		size_t len = k - i - 1 < sizeof name - 1 ? k - i - 1
		                                         : sizeof name - 1;
		memcpy(name, s + i + 1, len);
		name[len] = '\0';
		int known;
		const char *v = sh_var_get(x->vars, name, &known);
		struct sh_var *var = var_find(x->vars, name);
		if (var && var->net)
			x->flags |= W_NET;
		expansion(x, v, known, s + i, k - i, quoted);
		return k;
	}
	if (strchr("@*#?$!-0123456789", nx)) {
		expansion(x, NULL, 0, s + i, 2, quoted);
		return i + 2;
	}
	lit(x, "$", 1, quoted);
	return i + 1;
}

/* Backquoted text with \` \\ \$ unescaped, then parsed like $(...). */
static void backquote(struct expander *x, const char *s, size_t i,
                      size_t end, int quoted)
{
	struct buf b = {0};
	for (size_t k = i + 1; k + 1 < end; k++) {
		if (s[k] == '\\' && k + 2 < end &&
		    (s[k + 1] == '`' || s[k + 1] == '\\' || s[k + 1] == '$'))
			k++;
		buf_addc(&b, s[k]);
	}
	substitution(x, b.p ? b.p : "", b.len, s + i, end - i, quoted, 0);
	free(b.p);
}

/* Expand s[0..n) into the current field(s); quoted: inside "...". */
static void expand_range(struct expander *x, const char *s, size_t n,
                         int quoted)
{
	struct scan c = {.s = s, .n = n};
	size_t i = 0;
	if (!quoted && n && s[0] == '~' && !x->cur.len)
		x->flags |= W_TILDE;
	while (i < n) {
		char ch = s[i];
		size_t end;
		if (ch == '\\') {
			if (i + 1 >= n) {
				lit(x, "\\", 1, quoted);
				i++;
			} else if (s[i + 1] == '\n') {
				i += 2;
			} else if (quoted && !strchr("$`\"\\", s[i + 1])) {
				lit(x, s + i, 2, 1);
				i += 2;
			} else {
				lit(x, s + i + 1, 1, 1);
				i += 2;
			}
		} else if (ch == '\'' && !quoted) {
			end = scan_squote(&c, i + 1);
			if (end == BAD)
				end = n + 1;
			lit(x, s + i + 1, end - i - 2, 1);
			i = end;
		} else if (ch == '"' && !quoted) {
			end = scan_dquote(&c, i + 1);
			if (end == BAD)
				end = n + 1;
			x->have = 1;
			x->flags |= W_QUOTED;
			expand_range(x, s + i + 1, end - i - 2, 1);
			i = end;
		} else if (ch == '$') {
			i = dollar(x, s, n, i, quoted);
		} else if (ch == '`') {
			end = scan_backtick(&c, i + 1);
			if (end == BAD)
				end = n;
			backquote(x, s, i, end, quoted);
			i = end;
		} else if ((ch == '<' || ch == '>') && !quoted && i + 1 < n &&
		           s[i + 1] == '(') {
			end = scan_paren(&c, i + 2);
			if (end == BAD)
				end = n;
			substitution(x, s + i + 2, end - i - 3, s + i, end - i,
			             0, 1);
			i = end;
		} else {
			if (!quoted && (ch == '*' || ch == '?' || ch == '[' ||
			                (ch == '{' && memchr(s + i, ',', n - i))))
				x->flags |= W_GLOB;
			lit(x, s + i, 1, quoted);
			i++;
		}
		if (i > n)
			i = n;
	}
}

/* Expand one raw word into fields (split) or exactly one word. */
static struct sh_word *expand(struct sh_arena *A, struct sh_vars *vars,
                              int depth, const char **err, const char *s,
                              size_t n, int split, size_t *nfields)
{
	struct expander x = {.A = A, .vars = vars, .depth = depth,
	                     .split = split, .err = err};
	expand_range(&x, s, n, 0);
	if (!split)
		x.have = 1;
	emit(&x);
	free(x.cur.p);
	*nfields = x.nf;
	return x.fields;
}

static struct sh_word expand_one(struct sh_arena *A, struct sh_vars *vars,
                                 int depth, const char **err, const char *s,
                                 size_t n)
{
	size_t nf;
	struct sh_word *w = expand(A, vars, depth, err, s, n, 0, &nf);
	return w[0];
}

/* ---------------------------------------------------------------- parser */

struct raw {
	const char *s;
	size_t n;
};

struct rawredir {
	int fd;
	const char *op;
	struct raw target;
};

struct heredoc {
	size_t cmd, redir;
	char delim[256];
	int strip;
};

struct parser {
	struct sh_arena *A;
	struct sh_vars *vars;
	int depth;
	struct lexer L;
	struct sh_script *S;
	const char *err;
	/* the simple command being read */
	struct raw words[256];
	size_t nw;
	struct raw assigns[64];
	size_t na;
	struct rawredir redirs[32];
	size_t nr;
	/* pipelines and groups */
	int pipeline, stage, next_id;
	int level;
	struct {
		int pipeline, stage;
		size_t first_cmd;
	} group[64];
	const char *fn[64];
	int fnlevel[64];
	int nfn;
	const char *pending_fn;
	int case_pat;
	int after_close;
	struct heredoc hd[16];
	int nhd;
};

static int perr(struct parser *p, const char *msg)
{
	if (!p->err)
		p->err = msg;
	return -1;
}

static int is_assignment(struct raw w)
{
	size_t k = 0;
	while (k < w.n && valid_name_char(w.s[k], k == 0))
		k++;
	return k > 0 && k < w.n && (w.s[k] == '=' ||
	                            (w.s[k] == '+' && k + 1 < w.n &&
	                             w.s[k + 1] == '='));
}

static int raw_is(struct raw w, const char *kw)
{
	return w.n == strlen(kw) && !memcmp(w.s, kw, w.n);
}

static void set_from_assignment(struct parser *p, const struct sh_word *w)
{
	const char *eq = strchr(w->text, '=');
	if (!eq)
		return;
	char name[128];
	size_t k = (size_t)(eq - w->text);
	if (k && w->text[k - 1] == '+')
		k--;
	if (k == 0 || k >= sizeof name)
		return;
	memcpy(name, w->text, k);
	name[k] = '\0';
	for (size_t i = 0; i < k; i++)
		if (!valid_name_char(name[i], i == 0))
			return;
	var_set_net(p->vars, name,
	            (w->flags & (W_DYNAMIC | W_GLOB)) ? NULL : eq + 1,
	            (w->flags & W_NET) != 0);
}

/* Builtins that assign or forget variables. */
static void track_vars(struct parser *p, struct sh_cmd *c)
{
	if (c->argc == 0) {
		for (size_t i = 0; i < c->nassigns; i++)
			set_from_assignment(p, &c->assigns[i]);
		return;
	}
	const char *n = c->argv[0].text;
	int declare = !strcmp(n, "export") || !strcmp(n, "declare") ||
	              !strcmp(n, "typeset") || !strcmp(n, "local") ||
	              !strcmp(n, "readonly");
	int forget = !strcmp(n, "unset") || !strcmp(n, "read") ||
	             !strcmp(n, "mapfile") || !strcmp(n, "readarray");
	for (size_t i = 1; i < c->argc && (declare || forget); i++) {
		const char *a = c->argv[i].text;
		if (a[0] == '-')
			continue;
		if (declare && strchr(a, '='))
			set_from_assignment(p, &c->argv[i]);
		else if (forget)
			var_set(p->vars, a, NULL);
	}
}

static void end_pipeline(struct parser *p, int background)
{
	for (size_t i = 0; i < p->S->ncmds; i++) {
		struct sh_cmd *c = &p->S->cmds[i];
		if (c->pipeline != p->pipeline)
			continue;
		c->stages = p->stage;
		if (background)
			c->background = 1;
	}
	p->pipeline = ++p->next_id;
	p->stage = 0;
}

static int end_cmd(struct parser *p)
{
	if (!p->nw && !p->na && !p->nr)
		return 0;
	struct sh_script *S = p->S;
	S->cmds = grow(p->A, S->cmds, &S->cap, S->ncmds + 1, sizeof *S->cmds);
	struct sh_cmd *c = &S->cmds[S->ncmds];
	memset(c, 0, sizeof *c);
	c->assigns = sh_alloc(p->A, (p->na + 1) * sizeof *c->assigns);
	for (size_t i = 0; i < p->na; i++)
		c->assigns[c->nassigns++] =
			expand_one(p->A, p->vars, p->depth, &p->err,
			           p->assigns[i].s, p->assigns[i].n);
	size_t cap = 0;
	for (size_t i = 0; i < p->nw; i++) {
		size_t nf;
		struct sh_word *f = expand(p->A, p->vars, p->depth, &p->err,
		                           p->words[i].s, p->words[i].n, 1, &nf);
		c->argv = grow(p->A, c->argv, &cap, c->argc + nf + 1,
		               sizeof *c->argv);
		memcpy(c->argv + c->argc, f, nf * sizeof *f);
		c->argc += nf;
	}
	c->redirs = sh_alloc(p->A, (p->nr + 1) * sizeof *c->redirs);
	for (size_t i = 0; i < p->nr; i++) {
		struct sh_redir *r = &c->redirs[c->nredirs++];
		r->fd = p->redirs[i].fd;
		r->op = p->redirs[i].op;
		if (!strcmp(r->op, "<<") || !strcmp(r->op, "<<-")) {
			size_t nf;
			struct sh_word *w = expand(p->A, p->vars, p->depth,
			                           &p->err,
			                           p->redirs[i].target.s,
			                           p->redirs[i].target.n, 0, &nf);
			r->target = w[0];
			if (p->nhd < (int)(sizeof p->hd / sizeof p->hd[0])) {
				struct heredoc *h = &p->hd[p->nhd++];
				h->cmd = S->ncmds;
				h->redir = i;
				h->strip = r->op[2] == '-';
				snprintf(h->delim, sizeof h->delim, "%s",
				         r->target.text);
			}
		} else {
			r->target = expand_one(p->A, p->vars, p->depth, &p->err,
			                       p->redirs[i].target.s,
			                       p->redirs[i].target.n);
		}
	}
	c->pipeline = c->gpipeline = p->pipeline;
	c->stage = c->gstage = p->stage++;
	c->function = p->nfn ? p->fn[p->nfn - 1] : NULL;
	S->ncmds++;
	track_vars(p, c);
	p->nw = p->na = p->nr = 0;
	return 0;
}

/* Read heredoc bodies after a newline. */
static void read_heredocs(struct parser *p)
{
	struct scan *c = &p->L.c;
	for (int h = 0; h < p->nhd; h++) {
		struct heredoc *d = &p->hd[h];
		struct buf body = {0};
		size_t i = p->L.i;
		while (i < c->n) {
			size_t e = i;
			while (e < c->n && c->s[e] != '\n')
				e++;
			size_t b = i;
			if (d->strip)
				while (b < e && c->s[b] == '\t')
					b++;
			i = e < c->n ? e + 1 : e;
			if (e - b == strlen(d->delim) &&
			    !memcmp(c->s + b, d->delim, e - b))
				break;
			buf_add(&body, c->s + b, e - b);
			buf_addc(&body, '\n');
		}
		p->L.i = i;
		p->S->cmds[d->cmd].redirs[d->redir].heredoc =
			sh_strndup(p->A, body.p ? body.p : "", body.len);
		free(body.p);
	}
	p->nhd = 0;
}

static int open_group(struct parser *p)
{
	if (p->level + 1 >= (int)(sizeof p->group / sizeof p->group[0]))
		return perr(p, "groups nested too deeply");
	p->level++;
	p->group[p->level].pipeline = p->pipeline;
	p->group[p->level].stage = p->stage;
	p->group[p->level].first_cmd = p->S->ncmds;
	p->pipeline = ++p->next_id;
	p->stage = 0;
	if (p->pending_fn && p->nfn < (int)(sizeof p->fn / sizeof p->fn[0])) {
		p->fn[p->nfn] = p->pending_fn;
		p->fnlevel[p->nfn++] = p->level;
	}
	p->pending_fn = NULL;
	return 0;
}

/* A group ends: its commands form one stage of the enclosing pipeline. */
static int close_group(struct parser *p)
{
	if (p->level <= 0)
		return perr(p, "unexpected ')' or '}'");
	end_cmd(p);
	end_pipeline(p, 0);
	for (size_t i = p->group[p->level].first_cmd; i < p->S->ncmds; i++) {
		p->S->cmds[i].gpipeline = p->group[p->level].pipeline;
		p->S->cmds[i].gstage = p->group[p->level].stage;
	}
	p->pipeline = p->group[p->level].pipeline;
	p->stage = p->group[p->level].stage + 1;
	if (p->nfn && p->fnlevel[p->nfn - 1] == p->level)
		p->nfn--;
	p->level--;
	p->after_close = 1;
	return 0;
}

/* `for NAME [in words]` up to the ; or newline before `do`. */
static int parse_for(struct parser *p)
{
	struct token t;
	if (lex(&p->L, &t))
		return -1;
	if (t.kind == T_OP && !strcmp(t.s, "(")) { /* for (( ... )) */
		int depth = 1;
		while (depth > 0) {
			if (lex(&p->L, &t))
				return -1;
			if (t.kind == T_EOF)
				return perr(p, "unterminated for ((...))");
			if (t.kind == T_OP && !strcmp(t.s, "("))
				depth++;
			if (t.kind == T_OP && !strcmp(t.s, ")"))
				depth--;
		}
		return 0;
	}
	if (t.kind != T_WORD || t.len >= 128)
		return perr(p, "for without a variable name");
	char name[128];
	memcpy(name, t.s, t.len);
	name[t.len] = '\0';
	const char *value = NULL;
	size_t count = 0;
	if (lex_peek(&p->L, &t))
		return -1;
	if (t.kind == T_WORD && t.len == 2 && !memcmp(t.s, "in", 2)) {
		lex(&p->L, &t);
		for (;;) {
			if (lex_peek(&p->L, &t))
				return -1;
			if (t.kind != T_WORD)
				break;
			lex(&p->L, &t);
			size_t nf;
			struct sh_word *f = expand(p->A, p->vars, p->depth,
			                           &p->err, t.s, t.len, 1, &nf);
			for (size_t i = 0; i < nf; i++, count++)
				if (!(f[i].flags & (W_DYNAMIC | W_GLOB)))
					value = f[i].text;
				else
					value = NULL, count += 2;
		}
	}
	var_set(p->vars, name, count == 1 ? value : NULL);
	return 0;
}

/* Reserved words at the start of a command. 1: consumed, 0: not one. */
static int keyword(struct parser *p, struct raw w)
{
	static const char *const skip[] = {"!", "if", "then", "elif", "else",
	                                   "do", "while", "until", "time",
	                                   "coproc"};
	static const char *const close[] = {"fi", "done"};
	struct token t;
	for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
		if (raw_is(w, skip[i]))
			return 1;
	for (size_t i = 0; i < sizeof close / sizeof close[0]; i++)
		if (raw_is(w, close[i])) {
			end_cmd(p);
			p->after_close = 1;
			return 1;
		}
	if (raw_is(w, "{"))
		return open_group(p) ? -1 : 1;
	if (raw_is(w, "}"))
		return close_group(p) ? -1 : 1;
	if (raw_is(w, "for") || raw_is(w, "select"))
		return parse_for(p) ? -1 : 1;
	if (raw_is(w, "case")) {
		if (lex(&p->L, &t) || t.kind != T_WORD)
			return perr(p, "case without a word");
		if (lex(&p->L, &t) || t.kind != T_WORD || !raw_is(
			(struct raw){t.s, t.len}, "in"))
			return perr(p, "case without 'in'");
		p->case_pat = 1;
		return 1;
	}
	if (raw_is(w, "esac")) {
		p->case_pat = 0;
		p->after_close = 1;
		return 1;
	}
	if (raw_is(w, "function")) {
		if (lex(&p->L, &t) || t.kind != T_WORD)
			return perr(p, "function without a name");
		p->pending_fn = sh_strndup(p->A, t.s, t.len);
		if (lex_peek(&p->L, &t) == 0 && t.kind == T_OP &&
		    !strcmp(t.s, "(")) {
			lex(&p->L, &t);
			if (lex(&p->L, &t) || t.kind != T_OP || strcmp(t.s, ")"))
				return perr(p, "function name() expected ')'");
		}
		return 1;
	}
	return 0;
}

/* Case patterns "(pat|pat)" up to ")". */
static int case_patterns(struct parser *p, struct token *t)
{
	for (;;) {
		if (t->kind == T_EOF)
			return perr(p, "unterminated case pattern");
		if (t->kind == T_OP && !strcmp(t->s, ")"))
			break;
		if (lex(&p->L, t))
			return -1;
	}
	p->case_pat = 0;
	return 0;
}

/* `[[ ... ]]`: one test command; its text only matters for $(...). */
static int dbracket(struct parser *p)
{
	struct scan *c = &p->L.c;
	size_t i = p->L.i;
	while (i + 1 < c->n) {
		if (c->s[i] == ']' && c->s[i + 1] == ']') {
			p->words[p->nw++] = (struct raw){c->s + p->L.i,
			                                 i - p->L.i};
			p->words[p->nw++] = (struct raw){"]]", 2};
			p->L.i = i + 2;
			return 0;
		}
		size_t j = scan_word(c, i);
		if (j == BAD)
			return perr(p, c->err);
		i = j > i ? j : i + 1;
	}
	return perr(p, "unterminated [[");
}

static int parse_tokens(struct parser *p)
{
	struct token t;
	for (;;) {
		if (lex(&p->L, &t))
			return perr(p, p->L.c.err);
		int start = !p->nw && !p->na && !p->nr;
		if (t.kind == T_WORD) {
			struct raw w = {t.s, t.len};
			p->after_close = 0;
			if (start && p->case_pat && !raw_is(w, "esac")) {
				if (case_patterns(p, &t))
					return -1;
				continue;
			}
			if (start) {
				int k = keyword(p, w);
				if (k < 0)
					return -1;
				if (k)
					continue;
			}
			if (!p->nw && is_assignment(w)) {
				if (p->na >= sizeof p->assigns / sizeof p->assigns[0])
					return perr(p, "too many assignments");
				p->assigns[p->na++] = w;
				continue;
			}
			if (p->nw + 2 >= sizeof p->words / sizeof p->words[0])
				return perr(p, "too many words in one command");
			p->words[p->nw++] = w;
			if (p->nw == 1 && raw_is(w, "[[")) {
				if (dbracket(p))
					return -1;
				continue;
			}
			if (p->nw == 1 && !p->na) {
				struct token nx;
				if (lex_peek(&p->L, &nx))
					return perr(p, p->L.c.err);
				if (nx.kind == T_OP && !strcmp(nx.s, "(")) {
					lex(&p->L, &nx);
					if (lex(&p->L, &nx) || nx.kind != T_OP ||
					    strcmp(nx.s, ")"))
						return perr(p, "unexpected '(' after a word");
					p->pending_fn = sh_strndup(p->A, w.s, w.n);
					p->nw = 0;
				}
			}
			continue;
		}
		if (t.kind == T_REDIR) {
			struct token tg;
			if (lex(&p->L, &tg))
				return perr(p, p->L.c.err);
			if (tg.kind != T_WORD)
				return perr(p, "a redirection without a target");
			if (p->nr >= sizeof p->redirs / sizeof p->redirs[0])
				return perr(p, "too many redirections");
			p->redirs[p->nr++] = (struct rawredir){
				t.fd, t.s, {tg.s, tg.len}};
			continue;
		}
		if (t.kind == T_NL || t.kind == T_EOF) {
			end_cmd(p);
			end_pipeline(p, 0);
			if (t.kind == T_EOF)
				return 0;
			read_heredocs(p);
			continue;
		}
		/* operators */
		if (!strcmp(t.s, "|") || !strcmp(t.s, "|&")) {
			if (start && !p->after_close)
				return perr(p, "a pipe without a command before it");
			end_cmd(p);
			p->after_close = 0;
			continue;
		}
		if (!strcmp(t.s, "(")) {
			if (!start)
				return perr(p, "unexpected '('");
			if (open_group(p))
				return -1;
			continue;
		}
		if (!strcmp(t.s, ")")) {
			if (close_group(p))
				return -1;
			continue;
		}
		if ((!strcmp(t.s, "&&") || !strcmp(t.s, "||")) && start &&
		    !p->after_close)
			return perr(p, "a list operator without a command before it");
		end_cmd(p);
		end_pipeline(p, !strcmp(t.s, "&"));
		p->after_close = 0;
		if (t.s[0] == ';' && t.s[1] != '\0')
			p->case_pat = 1; /* ;; ;& ;;& end a case item */
	}
}

struct sh_script *sh_parse(struct sh_arena *a, struct sh_vars *vars,
                           const char *text, size_t len, int depth)
{
	struct sh_script *S = sh_alloc(a, sizeof *S);
	if (depth > SH_MAX_DEPTH) {
		S->error = "nested too deeply (shell code inside shell code)";
		return S;
	}
	struct parser *p = calloc(1, sizeof *p);
	if (!p)
		abort();
	p->A = a;
	p->vars = vars;
	p->depth = depth;
	p->S = S;
	p->L.c = (struct scan){.s = text, .n = len};
	if (parse_tokens(p) == 0 && !p->err) {
		if (p->level > 0)
			perr(p, "an unclosed '(' or '{'");
		else if (p->pending_fn)
			perr(p, "a function without a body");
	}
	S->error = p->err;
	free(p);
	return S;
}
