/*
 * C functions as tools (see ffi-internal.h): the signature parser, the
 * schemas derived from it, JSON <-> C conversions with range checks, the
 * call through libffi, and the two ways in: host->function_add for
 * plugins and the config's "functions" manifest for any shared library.
 */
#include "ffi-internal.h"

#include <dlfcn.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <ffi.h>

#include "log-internal.h"
#include "plugin-internal.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- the lexer ---- */

enum tok_kind { TK_END, TK_IDENT, TK_STAR, TK_LPAREN, TK_RPAREN, TK_COMMA,
                TK_SEMI, TK_ELLIPSIS };

struct tok {
	enum tok_kind kind;
	const char *p;
	int len;
};

struct lexer {
	const char *s;
	size_t pos;
};

static int is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int lex(struct lexer *lx, struct tok *t, char *err, size_t errlen)
{
	const char *s = lx->s;
	while (s[lx->pos] && strchr(" \t\r\n\f\v", s[lx->pos]))
		lx->pos++;
	size_t at = lx->pos;
	char c = s[at];
	t->p = s + at;
	t->len = 1;
	if (!c) {
		t->kind = TK_END;
		t->len = 0;
		return 0;
	}
	if (is_ident_start(c)) {
		size_t end = at;
		while (is_ident_char(s[end]))
			end++;
		t->kind = TK_IDENT;
		t->len = (int)(end - at);
		lx->pos = end;
		return 0;
	}
	if (strncmp(s + at, "...", 3) == 0) {
		t->kind = TK_ELLIPSIS;
		t->len = 3;
		lx->pos += 3;
		return 0;
	}
	static const char punct[] = "*(),;";
	static const enum tok_kind kinds[] = {TK_STAR, TK_LPAREN, TK_RPAREN,
	                                      TK_COMMA, TK_SEMI};
	const char *k = strchr(punct, c);
	if (k) {
		t->kind = kinds[k - punct];
		lx->pos++;
		return 0;
	}
	if (c > ' ' && c < 0x7f)
		return fail(err, errlen, "unexpected character \"%c\" at "
		            "offset %zu", c, at);
	return fail(err, errlen, "unexpected byte 0x%02x at offset %zu",
	            (unsigned char)c, at);
}

/* ---- types ---- */

enum word { W_CONST, W_VOLATILE, W_SIGNED, W_UNSIGNED, W_SHORT, W_LONG,
            W_INT, W_CHAR, W_FLOAT, W_DOUBLE, W_VOID, W_BOOL, W_TAG,
            W_TYPEDEF, W_OTHER };

static const struct {
	const char *text;
	enum word w;
} words[] = {
	{"const", W_CONST}, {"volatile", W_VOLATILE}, {"signed", W_SIGNED},
	{"unsigned", W_UNSIGNED}, {"short", W_SHORT}, {"long", W_LONG},
	{"int", W_INT}, {"char", W_CHAR}, {"float", W_FLOAT},
	{"double", W_DOUBLE}, {"void", W_VOID}, {"bool", W_BOOL},
	{"_Bool", W_BOOL}, {"struct", W_TAG}, {"union", W_TAG},
	{"enum", W_TAG},
};

#define INT_TYPE(T, SIGNED)                                                  \
	(sizeof(T) == 1 ? ((SIGNED) ? CT_I8 : CT_U8)                         \
	 : sizeof(T) == 2 ? ((SIGNED) ? CT_I16 : CT_U16)                     \
	 : sizeof(T) == 4 ? ((SIGNED) ? CT_I32 : CT_U32)                     \
	                  : ((SIGNED) ? CT_I64 : CT_U64))

static const struct {
	const char *text;
	enum ctype type;
} typedefs[] = {
	{"int8_t", CT_I8}, {"uint8_t", CT_U8}, {"int16_t", CT_I16},
	{"uint16_t", CT_U16}, {"int32_t", CT_I32}, {"uint32_t", CT_U32},
	{"int64_t", CT_I64}, {"uint64_t", CT_U64},
	{"size_t", INT_TYPE(size_t, 0)}, {"ssize_t", INT_TYPE(ssize_t, 1)},
	{"intptr_t", INT_TYPE(intptr_t, 1)},
	{"uintptr_t", INT_TYPE(uintptr_t, 0)},
	{"ptrdiff_t", INT_TYPE(ptrdiff_t, 1)},
	{"json_t", CT_JSON},
};

static int tok_is(const struct tok *t, const char *text)
{
	return t->kind == TK_IDENT && (size_t)t->len == strlen(text) &&
	       memcmp(t->p, text, (size_t)t->len) == 0;
}

static enum word classify(const struct tok *t, int *typedef_idx)
{
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (tok_is(t, words[i].text))
			return words[i].w;
	for (size_t i = 0; i < sizeof typedefs / sizeof *typedefs; i++) {
		if (tok_is(t, typedefs[i].text)) {
			*typedef_idx = (int)i;
			return W_TYPEDEF;
		}
	}
	return W_OTHER;
}

static int is_type_word(const struct tok *t)
{
	int idx;
	return t->kind == TK_IDENT && classify(t, &idx) != W_OTHER;
}

/* Tokens as C text: single spaces, "char *", "int **". */
static void spell(const struct tok *t, int n, char *out, size_t outlen)
{
	size_t k = 0;
	out[0] = '\0';
	for (int i = 0; i < n && k < outlen; i++) {
		int glue = i == 0 ||
		           (t[i].kind == TK_STAR && t[i - 1].kind == TK_STAR);
		int w = snprintf(out + k, outlen - k, "%s%.*s", glue ? "" : " ",
		                 t[i].len, t[i].p);
		if (w < 0)
			break;
		k += (size_t)w;
	}
}

/* The integer type named by counted words, or -1 if they name none. */
static int int_from_words(const int *cnt)
{
	if (cnt[W_SIGNED] + cnt[W_UNSIGNED] > 1 || cnt[W_SHORT] > 1 ||
	    cnt[W_INT] > 1 || cnt[W_CHAR] > 1 || cnt[W_LONG] > 2)
		return -1;
	int sign = !cnt[W_UNSIGNED];
	if (cnt[W_CHAR]) {
		if (cnt[W_SHORT] || cnt[W_LONG] || cnt[W_INT])
			return -1;
		if (!cnt[W_SIGNED] && !cnt[W_UNSIGNED])
			return CHAR_MIN < 0 ? CT_I8 : CT_U8;
		return sign ? CT_I8 : CT_U8;
	}
	if (cnt[W_SHORT])
		return cnt[W_LONG] ? -1 : (int)INT_TYPE(short, sign);
	if (cnt[W_LONG] == 2)
		return INT_TYPE(long long, sign);
	if (cnt[W_LONG])
		return INT_TYPE(long, sign);
	return INT_TYPE(int, sign);
}

/*
 * The type of tokens t[0..n). Errors say `type "int *" is not supported`
 * (a C type we do not take), `unknown type "foo_t"`, or `invalid type
 * "unsigned double"` (not C).
 */
static int resolve(const struct tok *t, int n, int is_return,
                   struct cparam *out, char *err, size_t errlen)
{
	int cnt[W_OTHER + 1] = {0};
	int stars = 0, const_base = 0, idx = -1, base = 0, after_star = 0;
	spell(t, n, out->spelling, sizeof out->spelling);
	const char *sp = out->spelling;
	for (int i = 0; i < n; i++) {
		if (t[i].kind == TK_STAR) {
			stars++;
			continue;
		}
		enum word w = classify(&t[i], &idx);
		if (w == W_TAG) /* before its tag name reads as unknown */
			return fail(err, errlen, "type \"%s\" is not supported",
			            sp);
		if (w == W_OTHER)
			return fail(err, errlen, "unknown type \"%s\"", sp);
		cnt[w]++;
		if (w == W_CONST) {
			const_base += !stars;
			continue;
		}
		base++;
		after_star |= stars > 0;
	}
	if (cnt[W_VOLATILE])
		return fail(err, errlen, "type \"%s\" is not supported", sp);
	if (after_star || base == 0)
		return fail(err, errlen, "invalid type \"%s\"", sp);
	if (stars) {
		if (stars == 1 && base == 1 && cnt[W_CHAR] && const_base) {
			out->type = CT_STRING;
			return 0;
		}
		if (stars == 1 && base == 1 && cnt[W_TYPEDEF] &&
		    typedefs[idx].type == CT_JSON) {
			if (is_return && const_base)
				return fail(err, errlen, "type \"%s\" is not "
				            "supported (the host takes a new "
				            "reference: return json_t *)", sp);
			out->type = CT_JSON;
			return 0;
		}
		return fail(err, errlen, "type \"%s\" is not supported", sp);
	}
	if (cnt[W_TYPEDEF]) {
		if (base > 1)
			return fail(err, errlen, "invalid type \"%s\"", sp);
		if (typedefs[idx].type == CT_JSON)
			return fail(err, errlen, "type \"%s\" is not supported "
			            "(use json_t *)", sp);
		out->type = typedefs[idx].type;
		return 0;
	}
	int lone = cnt[W_VOID] + cnt[W_BOOL] + cnt[W_FLOAT] + cnt[W_DOUBLE];
	if (lone) {
		if (cnt[W_DOUBLE] && cnt[W_LONG] == 1 && base == 2)
			return fail(err, errlen, "type \"%s\" is not supported",
			            sp);
		if (base > 1)
			return fail(err, errlen, "invalid type \"%s\"", sp);
		if (cnt[W_VOID] && !is_return)
			return fail(err, errlen, "type \"%s\" is not supported",
			            sp);
		out->type = cnt[W_VOID] ? CT_VOID : cnt[W_BOOL] ? CT_BOOL
		          : cnt[W_FLOAT] ? CT_FLOAT : CT_DOUBLE;
		return 0;
	}
	int it = int_from_words(cnt);
	if (it < 0)
		return fail(err, errlen, "invalid type \"%s\"", sp);
	out->type = (enum ctype)it;
	return 0;
}

/* ---- the parser ---- */

#define MAX_DECL_TOKENS 12

/* Identifiers and stars up to the next other token, which is `*delim`. */
static int read_decl(struct lexer *lx, struct tok *toks, int *n,
                     struct tok *delim, char *err, size_t errlen)
{
	*n = 0;
	for (;;) {
		struct tok t;
		if (lex(lx, &t, err, errlen) < 0)
			return -1;
		if (t.kind != TK_IDENT && t.kind != TK_STAR) {
			*delim = t;
			return 0;
		}
		if (*n == MAX_DECL_TOKENS)
			return fail(err, errlen, "more than %d words in one "
			            "declaration", MAX_DECL_TOKENS);
		toks[(*n)++] = t;
	}
}

static int parse_head(struct lexer *lx, struct csig *sig, char *err,
                      size_t errlen)
{
	struct tok toks[MAX_DECL_TOKENS], delim;
	int n;
	char why[200];
	if (read_decl(lx, toks, &n, &delim, err, errlen) < 0)
		return -1;
	if (n == 0 && delim.kind == TK_END)
		return fail(err, errlen, "empty signature");
	if (delim.kind == TK_END)
		return fail(err, errlen, "expected \"(\" after the function "
		            "name");
	if (delim.kind != TK_LPAREN)
		return fail(err, errlen, "unexpected \"%.*s\" before the "
		            "parameter list", delim.len, delim.p);
	const struct tok *name = n ? &toks[n - 1] : NULL;
	if (!name || name->kind != TK_IDENT || is_type_word(name))
		return fail(err, errlen, "no function name");
	if (n == 1)
		return fail(err, errlen, "no return type before \"%.*s\"",
		            name->len, name->p);
	if (name->len > CSIG_MAX_NAME)
		return fail(err, errlen, "function name longer than %d bytes",
		            CSIG_MAX_NAME);
	memcpy(sig->name, name->p, (size_t)name->len);
	if (resolve(toks, n - 1, 1, &sig->ret, why, sizeof why) < 0)
		return fail(err, errlen, "return %s", why);
	return 0;
}

/* One parameter; 1 when it closed the list, 0 when more follow. */
static int parse_param(struct lexer *lx, struct csig *sig, int i, char *err,
                       size_t errlen)
{
	struct tok toks[MAX_DECL_TOKENS], delim;
	int n;
	char why[200], what[64];
	if (read_decl(lx, toks, &n, &delim, err, errlen) < 0)
		return -1;
	if (delim.kind == TK_ELLIPSIS)
		return fail(err, errlen, "variadic functions are not "
		            "supported");
	if (delim.kind == TK_END)
		return fail(err, errlen, "expected \")\" after the parameters");
	if (delim.kind != TK_COMMA && delim.kind != TK_RPAREN)
		return fail(err, errlen, "parameter %d: unexpected \"%.*s\"", i,
		            delim.len, delim.p);
	int last = delim.kind == TK_RPAREN;
	if (i == 1 && last && (n == 0 || (n == 1 && tok_is(&toks[0], "void"))))
		return 1; /* () or (void) */
	if (n == 0)
		return fail(err, errlen, "parameter %d: missing", i);
	if (sig->nparams == CSIG_MAX_PARAMS)
		return fail(err, errlen, "more than %d parameters",
		            CSIG_MAX_PARAMS);
	const struct tok *name = &toks[n - 1];
	if (name->kind != TK_IDENT || is_type_word(name)) {
		spell(toks, n, what, sizeof what);
		return fail(err, errlen, "parameter %d: type \"%s\" has no "
		            "name", i, what);
	}
	if (name->len > CSIG_MAX_NAME)
		return fail(err, errlen, "parameter %d: name longer than %d "
		            "bytes", i, CSIG_MAX_NAME);
	struct cparam *pa = &sig->params[sig->nparams];
	memcpy(pa->name, name->p, (size_t)name->len);
	if (n == 1)
		return fail(err, errlen, "parameter %d (\"%s\"): no type", i,
		            pa->name);
	if (resolve(toks, n - 1, 0, pa, why, sizeof why) < 0)
		return fail(err, errlen, "parameter %d (\"%s\"): %s", i,
		            pa->name, why);
	for (int j = 0; j < sig->nparams; j++)
		if (strcmp(sig->params[j].name, pa->name) == 0)
			return fail(err, errlen, "parameter %d (\"%s\"): "
			            "duplicate name", i, pa->name);
	sig->nparams++;
	return last;
}

int csig_parse(const char *text, struct csig *sig, char *err, size_t errlen)
{
	memset(sig, 0, sizeof *sig);
	if (!text)
		return fail(err, errlen, "empty signature");
	if (strlen(text) > CSIG_MAX_TEXT)
		return fail(err, errlen, "signature longer than %d bytes",
		            CSIG_MAX_TEXT);
	struct lexer lx = {text, 0};
	if (parse_head(&lx, sig, err, errlen) < 0)
		return -1;
	int rc;
	for (int i = 1; (rc = parse_param(&lx, sig, i, err, errlen)) == 0; i++)
		;
	if (rc < 0)
		return -1;
	struct tok t;
	if (lex(&lx, &t, err, errlen) < 0)
		return -1;
	if (t.kind == TK_SEMI && lex(&lx, &t, err, errlen) < 0)
		return -1;
	if (t.kind != TK_END)
		return fail(err, errlen, "unexpected \"%.*s\" after \")\"",
		            t.len, t.p);
	return 0;
}

void csig_format(const struct csig *sig, char *out, size_t outlen)
{
	size_t k = 0;
	const char *rs = sig->ret.spelling;
	int star = rs[0] && rs[strlen(rs) - 1] == '*';
	k += (size_t)snprintf(out, outlen, "%s%s%s(", rs, star ? "" : " ",
	                      sig->name);
	for (int i = 0; i < sig->nparams && k < outlen; i++) {
		const struct cparam *pa = &sig->params[i];
		star = pa->spelling[strlen(pa->spelling) - 1] == '*';
		k += (size_t)snprintf(out + k, outlen - k, "%s%s%s%s",
		                      i ? ", " : "", pa->spelling,
		                      star ? "" : " ", pa->name);
	}
	if (k < outlen)
		snprintf(out + k, outlen - k, "%s)",
		         sig->nparams ? "" : "void");
}

/* ---- schemas ---- */

static int int_range(enum ctype t, int64_t *min, int64_t *max)
{
	switch (t) {
	case CT_I8: *min = INT8_MIN; *max = INT8_MAX; return 1;
	case CT_U8: *min = 0; *max = UINT8_MAX; return 1;
	case CT_I16: *min = INT16_MIN; *max = INT16_MAX; return 1;
	case CT_U16: *min = 0; *max = UINT16_MAX; return 1;
	case CT_I32: *min = INT32_MIN; *max = INT32_MAX; return 1;
	case CT_U32: *min = 0; *max = UINT32_MAX; return 1;
	case CT_I64: *min = INT64_MIN; *max = INT64_MAX; return 1;
	/* jansson's integers stop at INT64_MAX: so does the schema. */
	case CT_U64: *min = 0; *max = INT64_MAX; return 1;
	default: return 0;
	}
}

json_t *ctype_schema(enum ctype type, const char *spelling)
{
	int64_t min, max;
	json_t *s;
	if (int_range(type, &min, &max))
		s = json_pack("{s:s, s:I, s:I}", "type", "integer", "minimum",
		              (json_int_t)min, "maximum", (json_int_t)max);
	else if (type == CT_BOOL)
		s = json_pack("{s:s}", "type", "boolean");
	else if (type == CT_FLOAT)
		s = json_pack("{s:s, s:f, s:f}", "type", "number", "minimum",
		              (double)-FLT_MAX, "maximum", (double)FLT_MAX);
	else if (type == CT_DOUBLE)
		s = json_pack("{s:s}", "type", "number");
	else if (type == CT_STRING)
		s = json_pack("{s:s}", "type", "string");
	else
		s = json_object(); /* json_t *: any JSON */
	if (s && spelling && spelling[0])
		json_object_set_new(s, "description", json_string(spelling));
	return s;
}

json_t *csig_input_schema(const struct csig *sig)
{
	json_t *props = json_object(), *req = json_array();
	for (int i = 0; i < sig->nparams; i++) {
		const struct cparam *pa = &sig->params[i];
		json_object_set_new(props, pa->name,
		                    ctype_schema(pa->type, pa->spelling));
		json_array_append_new(req, json_string(pa->name));
	}
	return json_pack("{s:s, s:o, s:o, s:b}", "type", "object",
	                 "properties", props, "required", req,
	                 "additionalProperties", 0);
}

json_t *csig_output_schema(const struct csig *sig)
{
	if (sig->ret.type == CT_VOID)
		return json_pack("{s:s, s:{}, s:b}", "type", "object",
		                 "properties", "additionalProperties", 0);
	json_t *r = ctype_schema(sig->ret.type, sig->ret.spelling);
	if (sig->ret.type == CT_U64)
		json_object_del(r, "maximum"); /* above it: a real */
	if (sig->ret.type == CT_STRING)
		json_object_set_new(r, "type", json_pack("[s, s]", "string",
		                                         "null"));
	return json_pack("{s:s, s:{s:o}, s:[s], s:b}", "type", "object",
	                 "properties", "result", r, "required", "result",
	                 "additionalProperties", 0);
}

/* ---- conversions ---- */

static int int_from_json(enum ctype t, const json_t *v, union cvalue *out,
                         char *err, size_t errlen)
{
	int64_t min = 0, max = 0, n;
	int_range(t, &min, &max);
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_real(v) && floor(json_real_value(v)) ==
	                                  json_real_value(v)) {
		double d = json_real_value(v); /* the schema's "integer" */
		if (d < -0x1p63 || d >= 0x1p63)
			goto range;
		n = (int64_t)d;
	} else {
		return fail(err, errlen, "must be an integer");
	}
	if (n < min || n > max)
		goto range;
	switch (t) {
	case CT_I8: out->i8 = (int8_t)n; break;
	case CT_U8: out->u8 = (uint8_t)n; break;
	case CT_I16: out->i16 = (int16_t)n; break;
	case CT_U16: out->u16 = (uint16_t)n; break;
	case CT_I32: out->i32 = (int32_t)n; break;
	case CT_U32: out->u32 = (uint32_t)n; break;
	case CT_I64: out->i64 = n; break;
	default: out->u64 = (uint64_t)n; break;
	}
	return 0;
range:
	return fail(err, errlen, "must be an integer from %lld to %lld",
	            (long long)min, (long long)max);
}

int ctype_from_json(enum ctype type, const json_t *v, union cvalue *out,
                    char *err, size_t errlen)
{
	switch (type) {
	case CT_VOID:
		return fail(err, errlen, "has type void");
	case CT_BOOL:
		if (!json_is_boolean(v))
			return fail(err, errlen, "must be true or false");
		out->b = json_is_true(v);
		return 0;
	case CT_FLOAT:
	case CT_DOUBLE: {
		if (!json_is_number(v))
			return fail(err, errlen, "must be a number");
		double d = json_number_value(v);
		if (type == CT_DOUBLE) {
			out->d = d;
			return 0;
		}
		if (d < -FLT_MAX || d > FLT_MAX)
			return fail(err, errlen, "must be a number from %g "
			            "to %g", (double)-FLT_MAX, (double)FLT_MAX);
		out->f = (float)d;
		return 0;
	}
	case CT_STRING:
		if (!json_is_string(v))
			return fail(err, errlen, "must be a string");
		out->s = json_string_value(v);
		if (strlen(out->s) != json_string_length(v))
			return fail(err, errlen, "must not contain a NUL "
			            "character");
		return 0;
	case CT_JSON:
		/* A copy: the function may change it, the task's input not. */
		if (!(out->j = json_deep_copy(v)))
			return fail(err, errlen, "out of memory");
		return 0;
	default:
		return int_from_json(type, v, out, err, errlen);
	}
}

json_t *ctype_to_json(enum ctype type, const union cvalue *v, char *err,
                      size_t errlen)
{
	json_t *j = NULL;
	switch (type) {
	case CT_VOID: return json_object();
	case CT_BOOL: return json_boolean(v->b);
	case CT_I8: return json_integer(v->i8);
	case CT_U8: return json_integer(v->u8);
	case CT_I16: return json_integer(v->i16);
	case CT_U16: return json_integer(v->u16);
	case CT_I32: return json_integer(v->i32);
	case CT_U32: return json_integer(v->u32);
	case CT_I64: return json_integer(v->i64);
	case CT_U64:
		return v->u64 > INT64_MAX ? json_real((double)v->u64)
		                          : json_integer((json_int_t)v->u64);
	case CT_FLOAT:
	case CT_DOUBLE: {
		double d = type == CT_FLOAT ? (double)v->f : v->d;
		if (isnan(d) || isinf(d)) {
			fail(err, errlen, "the function returned %s, which "
			     "JSON cannot represent",
			     isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
			return NULL;
		}
		return json_real(d);
	}
	case CT_STRING:
		if (!v->s)
			return json_null();
		if (!(j = json_string(v->s)))
			fail(err, errlen, "the function returned a string that "
			     "is not valid UTF-8");
		return j;
	case CT_JSON:
		return v->j ? v->j : json_null();
	}
	return NULL;
}

/* ---- the call ---- */

struct cfunc {
	struct csig sig;
	void (*fn)(void);
	ffi_cif cif;
	ffi_type *args[CSIG_MAX_PARAMS];
};

static ffi_type *ffi_type_of(enum ctype t)
{
	switch (t) {
	case CT_VOID: return &ffi_type_void;
	case CT_BOOL: return &ffi_type_uint8; /* _Bool: one byte, 0 or 1 */
	case CT_I8: return &ffi_type_sint8;
	case CT_U8: return &ffi_type_uint8;
	case CT_I16: return &ffi_type_sint16;
	case CT_U16: return &ffi_type_uint16;
	case CT_I32: return &ffi_type_sint32;
	case CT_U32: return &ffi_type_uint32;
	case CT_I64: return &ffi_type_sint64;
	case CT_U64: return &ffi_type_uint64;
	case CT_FLOAT: return &ffi_type_float;
	case CT_DOUBLE: return &ffi_type_double;
	case CT_STRING:
	case CT_JSON: return &ffi_type_pointer;
	}
	return NULL;
}

struct cfunc *cfunc_new(const char *signature, void (*fn)(void), char *err,
                        size_t errlen)
{
	struct cfunc *f = calloc(1, sizeof *f);
	if (!f) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	if (csig_parse(signature, &f->sig, err, errlen) < 0) {
		free(f);
		return NULL;
	}
	f->fn = fn;
	for (int i = 0; i < f->sig.nparams; i++)
		f->args[i] = ffi_type_of(f->sig.params[i].type);
	if (ffi_prep_cif(&f->cif, FFI_DEFAULT_ABI, (unsigned)f->sig.nparams,
	                 ffi_type_of(f->sig.ret.type), f->args) != FFI_OK) {
		fail(err, errlen, "libffi cannot prepare the call");
		free(f);
		return NULL;
	}
	return f;
}

void cfunc_free(struct cfunc *f)
{
	free(f);
}

const struct csig *cfunc_sig(const struct cfunc *f)
{
	return &f->sig;
}

/* The name of a member of `input` that is no parameter, or NULL. */
static const char *unknown_member(const struct csig *sig, const json_t *input)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)input, key, v) {
		int known = 0;
		for (int i = 0; i < sig->nparams && !known; i++)
			known = strcmp(sig->params[i].name, key) == 0;
		if (!known)
			return key;
	}
	return NULL;
}

/* libffi widens small integer results to a full ffi_arg. */
static void narrow_result(enum ctype t, const void *raw, union cvalue *out)
{
	const ffi_arg *u = raw;
	const ffi_sarg *s = raw;
	switch (t) {
	case CT_BOOL: out->b = (uint8_t)*u != 0; break;
	case CT_I8: out->i8 = (int8_t)*s; break;
	case CT_U8: out->u8 = (uint8_t)*u; break;
	case CT_I16: out->i16 = (int16_t)*s; break;
	case CT_U16: out->u16 = (uint16_t)*u; break;
	case CT_I32: out->i32 = (int32_t)*s; break;
	case CT_U32: out->u32 = (uint32_t)*u; break;
	case CT_I64: memcpy(&out->i64, raw, sizeof out->i64); break;
	case CT_U64: memcpy(&out->u64, raw, sizeof out->u64); break;
	case CT_FLOAT: memcpy(&out->f, raw, sizeof out->f); break;
	case CT_DOUBLE: memcpy(&out->d, raw, sizeof out->d); break;
	case CT_STRING: memcpy(&out->s, raw, sizeof out->s); break;
	case CT_JSON: memcpy(&out->j, raw, sizeof out->j); break;
	case CT_VOID: break;
	}
}

int cfunc_call(const struct cfunc *f, const json_t *input, json_t **result,
               const char **code, char *err, size_t errlen)
{
	const struct csig *sig = &f->sig;
	union cvalue vals[CSIG_MAX_PARAMS];
	void *ptrs[CSIG_MAX_PARAMS];
	char why[200];
	int n = 0, rc = -1;
	*result = NULL;
	*code = "invalid_input";
	const char *extra = json_is_object(input) ? unknown_member(sig, input)
	                                          : NULL;
	if (!json_is_object(input)) {
		fail(err, errlen, "the input must be an object");
		goto out;
	}
	if (extra) {
		fail(err, errlen, "unknown parameter \"%s\"", extra);
		goto out;
	}
	for (; n < sig->nparams; n++) {
		const struct cparam *pa = &sig->params[n];
		const json_t *v = json_object_get(input, pa->name);
		if (!v) {
			fail(err, errlen, "parameter \"%s\" is missing",
			     pa->name);
			goto out;
		}
		if (ctype_from_json(pa->type, v, &vals[n], why,
		                    sizeof why) < 0) {
			fail(err, errlen, "parameter \"%s\": %s", pa->name,
			     why);
			goto out;
		}
		ptrs[n] = &vals[n];
	}
	union {
		ffi_arg u;
		uint64_t u64;
		double d;
		void *p;
	} raw;
	memset(&raw, 0, sizeof raw);
	ffi_call((ffi_cif *)&f->cif, f->fn, &raw, ptrs);
	union cvalue ret;
	narrow_result(sig->ret.type, &raw, &ret);
	*code = "bad_result";
	json_t *value = ctype_to_json(sig->ret.type, &ret, err, errlen);
	if (!value)
		goto out;
	if (sig->ret.type == CT_VOID)
		*result = value;
	else
		*result = json_pack("{s:o}", "result", value);
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		if (sig->params[i].type == CT_JSON)
			json_decref(vals[i].j);
	return rc;
}

/* ---- capabilities ---- */

static int cfunc_handler(struct mcpd_task *task, void *ud)
{
	json_t *result;
	const char *code;
	char err[400];
	if (cfunc_call(ud, host_table.task_input(task), &result, &code, err,
	               sizeof err) < 0)
		host_table.task_fail(task, code, err);
	else
		host_table.task_complete(task, result);
	return 0;
}

static void cfunc_free_ud(void *ud)
{
	cfunc_free(ud);
}

/* Declare f as capability `name` of p; on success the capability owns f. */
static int add_cfunc(struct mcpd_plugin *p, const char *name,
                     struct cfunc *f, const char *description,
                     const json_t *attributes)
{
	char title[CSIG_MAX_TEXT + 64];
	csig_format(&f->sig, title, sizeof title);
	json_t *in = csig_input_schema(&f->sig);
	json_t *out = csig_output_schema(&f->sig);
	char *in_text = json_dumps(in, JSON_COMPACT);
	char *out_text = json_dumps(out, JSON_COMPACT);
	char *attr_text = attributes ? json_dumps(attributes, JSON_COMPACT)
	                             : NULL;
	int rc = MCPD_E_NOMEM;
	if (in_text && out_text && (attr_text || !attributes)) {
		struct mcpd_capability_def def = {
			.size = sizeof def,
			.name = name,
			.version = p->version,
			.title = title,
			.description = description,
			.input_schema = in_text,
			.output_schema = out_text,
			.attributes = attr_text,
			.flags = MCPD_CAP_BLOCKING, /* C code may block */
			.handler = cfunc_handler,
			.ud = f,
		};
		rc = plugin_capability_add_owned(p, &def, cfunc_free_ud);
	}
	json_decref(in);
	json_decref(out);
	free(in_text);
	free(out_text);
	free(attr_text);
	if (rc < 0)
		cfunc_free(f);
	return rc;
}

int ffi_function_add(struct mcpd_plugin *p, const char *name,
                     const char *signature, void (*fn)(void),
                     const char *description)
{
	if (plugin_check(p, "function_add") < 0)
		return MCPD_E_HANDLE;
	if (!p->in_init) {
		log_msg(LOG_ERROR, p->name, NULL,
		        "function_add outside init is refused");
		return MCPD_E_STATE;
	}
	char err[300];
	const char *sig = signature ? signature : "";
	if (!fn) {
		plugin_refuse(p, "function \"%.128s\": no function pointer",
		              name ? name : sig);
		return MCPD_E_INVAL;
	}
	struct cfunc *f = cfunc_new(sig, fn, err, sizeof err);
	if (!f) {
		if (name)
			plugin_refuse(p, "function \"%.64s\": bad signature "
			              "\"%.128s\": %s", name, sig, err);
		else
			plugin_refuse(p, "bad signature \"%.128s\": %s", sig,
			              err);
		return MCPD_E_INVAL;
	}
	return add_cfunc(p, name ? name : f->sig.name, f, description, NULL);
}

/* Keep a dlopen()ed library with the record: closed at its retirement. */
static int keep_library(struct mcpd_plugin *p, void *lib)
{
	void **nl = realloc(p->libs, (p->nlibs + 1) * sizeof *nl);
	if (!nl)
		return -1;
	p->libs = nl;
	p->libs[p->nlibs++] = lib;
	return 0;
}

static const char *member(const json_t *entry, const char *key)
{
	return json_string_value(json_object_get(entry, key));
}

static int manifest_entry(struct mcpd_plugin *p, size_t i,
                          const json_t *entry)
{
	const char *library = member(entry, "library");
	const char *symbol = member(entry, "symbol");
	const char *signature = member(entry, "signature");
	const char *name = member(entry, "name");
	char err[300];
	if (!library || !symbol || !signature) {
		plugin_refuse(p, "functions[%zu]: needs \"library\", "
		              "\"symbol\" and \"signature\"", i);
		return -1;
	}
	void *lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		plugin_refuse(p, "functions[%zu]: %s", i, dlerror());
		return -1;
	}
	if (keep_library(p, lib) < 0) {
		dlclose(lib);
		plugin_refuse(p, "functions[%zu]: out of memory", i);
		return -1;
	}
	dlerror();
	void *sym = dlsym(lib, symbol);
	if (!sym) {
		plugin_refuse(p, "functions[%zu]: no symbol \"%.64s\" in "
		              "%.200s", i, symbol, library);
		return -1;
	}
	void (*fn)(void);
	memcpy(&fn, &sym, sizeof fn); /* POSIX: data and code pointers agree */
	struct cfunc *f = cfunc_new(signature, fn, err, sizeof err);
	if (!f) {
		plugin_refuse(p, "functions[%zu]: bad signature \"%.128s\": %s",
		              i, signature, err);
		return -1;
	}
	json_t *attrs = json_pack("{s:s, s:s}", "library", library, "symbol",
	                          symbol);
	int rc = add_cfunc(p, name ? name : symbol, f,
	                   member(entry, "description"), attrs);
	json_decref(attrs);
	if (rc < 0) {
		/* capability_add said why; say which entry. */
		char inner[sizeof p->reason];
		memcpy(inner, p->reason, sizeof inner);
		p->reason[0] = '\0';
		plugin_refuse(p, "functions[%zu]: %.480s", i,
		              inner[0] ? inner : host_table.strerror(rc));
		return -1;
	}
	return 0;
}

int ffi_manifest_load(struct mcpd_plugin *p, const json_t *manifest)
{
	size_t i;
	const json_t *entry;
	json_array_foreach(manifest, i, entry)
		if (manifest_entry(p, i, entry) < 0)
			return -1;
	return 0;
}
