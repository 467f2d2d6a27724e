/*
 * The JSON Schema subset mcpd enforces on task input (see schema-internal.h).
 *
 * Paths are kept as a chain of stack frames (struct seg), one per level
 * entered, and rendered into a JSON pointer only when something fails: the
 * common case, valid input, then costs no string work at all.
 */
#include "schema-internal.h"

#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting of schemas inside schemas; far beyond any real schema. */
#define SCHEMA_MAX_DEPTH 128

/* One step of a JSON pointer: an object key, or an array index if key is
 * NULL. The root is a NULL chain. */
struct seg {
	const struct seg *up;
	const char *key;
	size_t index;
};

/* A bounded string being appended to; always NUL-terminated. */
struct out {
	char *buf;
	size_t len, used;
};

static void out_init(struct out *o, char *buf, size_t len)
{
	o->buf = buf;
	o->len = len;
	o->used = 0;
	if (len)
		buf[0] = '\0';
}

static void out_putc(struct out *o, char ch)
{
	if (o->used + 1 >= o->len)
		return;
	o->buf[o->used++] = ch;
	o->buf[o->used] = '\0';
}

static void out_vprintf(struct out *o, const char *fmt, va_list ap)
{
	if (o->used + 1 >= o->len)
		return;
	int n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	if (n < 0)
		return;
	o->used += (size_t)n < o->len - o->used ? (size_t)n : o->len - o->used - 1;
}

static void out_printf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	out_vprintf(o, fmt, ap);
	va_end(ap);
}

/* RFC 6901: "~" and "/" inside a token are written "~0" and "~1". */
static void out_pointer(struct out *o, const struct seg *s)
{
	if (!s)
		return;
	out_pointer(o, s->up);
	out_putc(o, '/');
	if (!s->key) {
		out_printf(o, "%zu", s->index);
		return;
	}
	for (const char *p = s->key; *p; p++) {
		if (*p == '~')
			out_printf(o, "~0");
		else if (*p == '/')
			out_printf(o, "~1");
		else
			out_putc(o, *p);
	}
}

/* A JSON value as compact text for messages ("[\"a\",\"b\"]"). */
static void out_json(struct out *o, const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	out_printf(o, "%s", text ? text : "?");
	free(text);
}

/* Shortest text that reads back as the same double, so that a bound of
 * 0.1 is shown as 0.1, not 0.10000000000000001. */
static void out_number(struct out *o, const json_t *n)
{
	if (json_is_integer(n)) {
		out_printf(o, "%lld", (long long)json_integer_value(n));
		return;
	}
	double d = json_real_value(n);
	char text[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(text, sizeof text, "%.*g", prec, d);
		if (strtod(text, NULL) == d)
			break;
	}
	out_printf(o, "%s", text);
}

static int is_integral(const json_t *v)
{
	if (json_is_integer(v))
		return 1;
	if (!json_is_real(v))
		return 0;
	double d = json_real_value(v);
	/* Every double this large is a whole number, and casting it to
	 * long long would overflow. */
	if (d >= 9007199254740992.0 || d <= -9007199254740992.0)
		return 1;
	return (double)(long long)d == d;
}

/* A non-negative count (minLength etc.), clamped to what fits. */
static int get_count(const json_t *v, size_t *out)
{
	if (!is_integral(v))
		return -1;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return -1;
		*out = (size_t)i;
		return 0;
	}
	double d = json_real_value(v);
	if (d < 0)
		return -1;
	*out = d >= (double)SIZE_MAX ? SIZE_MAX : (size_t)d;
	return 0;
}

/* -1, 0 or 1 as a < b, a == b, a > b, exact for integers of any size. */
static int num_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		return (x > y) - (x < y);
	}
	long double x = json_number_value(a), y = json_number_value(b);
	if (json_is_integer(a))
		x = (long double)json_integer_value(a);
	if (json_is_integer(b))
		y = (long double)json_integer_value(b);
	return (x > y) - (x < y);
}

/* JSON Schema equality: 1 and 1.0 are the same number, unlike json_equal. */
static int value_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return num_cmp(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return 0;
	if (json_is_array(a)) {
		size_t n = json_array_size(a);
		if (n != json_array_size(b))
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!value_equal(json_array_get(a, i),
			                 json_array_get(b, i)))
				return 0;
		return 1;
	}
	if (json_is_object(a)) {
		const char *key;
		const json_t *va;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, key, va) {
			const json_t *vb = json_object_get(b, key);
			if (!vb || !value_equal(va, vb))
				return 0;
		}
		return 1;
	}
	return json_equal(a, b);
}

/* Code points, not bytes: jansson only holds valid UTF-8, so counting the
 * bytes that do not continue a sequence is exact. */
static size_t utf8_length(const char *s, size_t bytes)
{
	size_t n = 0;
	for (size_t i = 0; i < bytes; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* ---- Schema check -------------------------------------------------- */

struct cctx {
	char *err;
	size_t errlen;
};

static int check_schema(const json_t *s, const struct seg *at,
                        struct cctx *c, int depth);

static int check_fail(struct cctx *c, const struct seg *at, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));
static int check_fail(struct cctx *c, const struct seg *at, const char *fmt,
                      ...)
{
	struct out o;
	out_init(&o, c->err, c->errlen);
	out_pointer(&o, at);
	if (at)
		out_printf(&o, ": ");
	va_list ap;
	va_start(ap, fmt);
	out_vprintf(&o, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *const type_names[] = {
	"object", "array", "string", "number", "integer", "boolean", "null",
};

static int type_known(const char *name)
{
	for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
		if (strcmp(name, type_names[i]) == 0)
			return 1;
	return 0;
}

static int check_type(const json_t *t, const struct seg *at, struct cctx *c)
{
	if (json_is_string(t)) {
		if (!type_known(json_string_value(t)))
			return check_fail(c, at, "unknown type \"%s\"",
			                  json_string_value(t));
		return 0;
	}
	if (!json_is_array(t) || json_array_size(t) == 0)
		return check_fail(c, at, "must be a type name or a non-empty "
		                         "array of type names");
	size_t i;
	const json_t *v;
	json_array_foreach(t, i, v) {
		struct seg el = {at, NULL, i};
		if (!json_is_string(v))
			return check_fail(c, &el, "must be a type name");
		if (!type_known(json_string_value(v)))
			return check_fail(c, &el, "unknown type \"%s\"",
			                  json_string_value(v));
	}
	return 0;
}

static int check_required(const json_t *r, const struct seg *at,
                          struct cctx *c)
{
	if (!json_is_array(r))
		return check_fail(c, at, "must be an array of strings");
	size_t i;
	const json_t *v;
	json_array_foreach(r, i, v) {
		struct seg el = {at, NULL, i};
		if (!json_is_string(v))
			return check_fail(c, &el, "must be a string");
	}
	return 0;
}

static int check_properties(const json_t *p, const struct seg *at,
                            struct cctx *c, int depth)
{
	if (!json_is_object(p))
		return check_fail(c, at, "must be an object of schemas");
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)p, key, v) {
		struct seg el = {at, key, 0};
		if (check_schema(v, &el, c, depth + 1))
			return -1;
	}
	return 0;
}

static int check_schema_list(const json_t *l, const struct seg *at,
                             struct cctx *c, int depth)
{
	if (!json_is_array(l) || json_array_size(l) == 0)
		return check_fail(c, at, "must be a non-empty array of schemas");
	size_t i;
	const json_t *v;
	json_array_foreach(l, i, v) {
		struct seg el = {at, NULL, i};
		if (check_schema(v, &el, c, depth + 1))
			return -1;
	}
	return 0;
}

static int check_pattern(const json_t *p, const struct seg *at,
                         struct cctx *c)
{
	if (!json_is_string(p))
		return check_fail(c, at, "must be a string");
	regex_t re;
	int rc = regcomp(&re, json_string_value(p), REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];
		regerror(rc, &re, why, sizeof why);
		return check_fail(c, at, "invalid regular expression: %s", why);
	}
	regfree(&re);
	return 0;
}

static const char *const number_keywords[] = {
	"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
};
static const char *const count_keywords[] = {
	"minLength", "maxLength", "minItems", "maxItems",
};
static const char *const list_keywords[] = {"allOf", "anyOf", "oneOf"};

#define COUNT(a) (sizeof (a) / sizeof *(a))

static int check_scalars(const json_t *s, const struct seg *at, struct cctx *c)
{
	for (size_t i = 0; i < COUNT(number_keywords); i++) {
		const json_t *v = json_object_get(s, number_keywords[i]);
		struct seg kw = {at, number_keywords[i], 0};
		if (v && !json_is_number(v))
			return check_fail(c, &kw, "must be a number");
	}
	for (size_t i = 0; i < COUNT(count_keywords); i++) {
		const json_t *v = json_object_get(s, count_keywords[i]);
		struct seg kw = {at, count_keywords[i], 0};
		size_t n;
		if (v && get_count(v, &n))
			return check_fail(c, &kw, "must be a non-negative integer");
	}
	const json_t *v = json_object_get(s, "enum");
	struct seg kw = {at, "enum", 0};
	if (v && !json_is_array(v))
		return check_fail(c, &kw, "must be an array");
	return 0;
}

static int check_schema(const json_t *s, const struct seg *at,
                        struct cctx *c, int depth)
{
	if (depth > SCHEMA_MAX_DEPTH)
		return check_fail(c, at, "schema nesting exceeds %d levels",
		                  SCHEMA_MAX_DEPTH);
	if (json_is_boolean(s))
		return 0;
	if (!json_is_object(s))
		return check_fail(c, at, "must be an object or a boolean");

	const json_t *v;
	struct seg kw = {at, NULL, 0};
	if ((v = json_object_get(s, "type")) &&
	    (kw.key = "type", check_type(v, &kw, c)))
		return -1;
	if ((v = json_object_get(s, "required")) &&
	    (kw.key = "required", check_required(v, &kw, c)))
		return -1;
	if ((v = json_object_get(s, "properties")) &&
	    (kw.key = "properties", check_properties(v, &kw, c, depth)))
		return -1;
	if ((v = json_object_get(s, "additionalProperties")) &&
	    (kw.key = "additionalProperties",
	     check_schema(v, &kw, c, depth + 1)))
		return -1;
	if ((v = json_object_get(s, "items")) &&
	    (kw.key = "items", check_schema(v, &kw, c, depth + 1)))
		return -1;
	if ((v = json_object_get(s, "pattern")) &&
	    (kw.key = "pattern", check_pattern(v, &kw, c)))
		return -1;
	for (size_t i = 0; i < COUNT(list_keywords); i++) {
		kw.key = list_keywords[i];
		v = json_object_get(s, kw.key);
		if (v && check_schema_list(v, &kw, c, depth))
			return -1;
	}
	return check_scalars(s, at, c);
}

int schema_check(const json_t *schema, char *err, size_t errlen)
{
	struct cctx c = {err, errlen};
	if (errlen)
		err[0] = '\0';
	if (!schema)
		return check_fail(&c, NULL, "must be an object or a boolean");
	return check_schema(schema, NULL, &c, 0);
}

/* ---- Validation ---------------------------------------------------- */

/* Where to report a failure; a quiet context (trying the branches of
 * anyOf/oneOf) only needs to know whether there was one. */
struct vctx {
	char *path, *msg;
	size_t pathlen, msglen;
	int quiet;
};

static int validate(const json_t *s, const json_t *x, const struct seg *at,
                    struct vctx *v, int depth);

/* Starts the message and writes the path; the caller may append to m. */
static int fail_begin(struct vctx *v, const struct seg *at, struct out *m)
{
	if (v->quiet)
		return 0;
	struct out p;
	out_init(&p, v->path, v->pathlen);
	out_pointer(&p, at);
	out_init(m, v->msg, v->msglen);
	return 1;
}

static int fail(struct vctx *v, const struct seg *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct vctx *v, const struct seg *at, const char *fmt, ...)
{
	struct out m;
	if (!fail_begin(v, at, &m))
		return -1;
	va_list ap;
	va_start(ap, fmt);
	out_vprintf(&m, fmt, ap);
	va_end(ap);
	return -1;
}

static int type_matches(const char *name, const json_t *x)
{
	switch (json_typeof(x)) {
	case JSON_OBJECT: return strcmp(name, "object") == 0;
	case JSON_ARRAY: return strcmp(name, "array") == 0;
	case JSON_STRING: return strcmp(name, "string") == 0;
	case JSON_INTEGER:
		return strcmp(name, "integer") == 0 ||
		       strcmp(name, "number") == 0;
	case JSON_REAL:
		return strcmp(name, "number") == 0 ||
		       (strcmp(name, "integer") == 0 && is_integral(x));
	case JSON_TRUE:
	case JSON_FALSE: return strcmp(name, "boolean") == 0;
	case JSON_NULL: return strcmp(name, "null") == 0;
	}
	return 0;
}

/* "must be integer", "must be string or null", "must be a, b or c". */
static int type_fail(struct vctx *v, const struct seg *at, const json_t *t)
{
	struct out m;
	if (!fail_begin(v, at, &m))
		return -1;
	if (json_is_string(t)) {
		out_printf(&m, "must be %s", json_string_value(t));
		return -1;
	}
	size_t n = json_array_size(t);
	out_printf(&m, "must be ");
	for (size_t i = 0; i < n; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		out_printf(&m, "%s%s", sep,
		           json_string_value(json_array_get(t, i)));
	}
	return -1;
}

static int validate_type(const json_t *s, const json_t *x,
                         const struct seg *at, struct vctx *v)
{
	const json_t *t = json_object_get(s, "type");
	if (!t)
		return 0;
	if (json_is_string(t))
		return type_matches(json_string_value(t), x) ? 0
		                                             : type_fail(v, at, t);
	size_t i;
	const json_t *name;
	json_array_foreach(t, i, name)
		if (json_is_string(name) &&
		    type_matches(json_string_value(name), x))
			return 0;
	return type_fail(v, at, t);
}

static int validate_values(const json_t *s, const json_t *x,
                           const struct seg *at, struct vctx *v)
{
	struct out m;
	const json_t *c = json_object_get(s, "const");
	if (c && !value_equal(c, x)) {
		if (fail_begin(v, at, &m)) {
			out_printf(&m, "must be equal to ");
			out_json(&m, c);
		}
		return -1;
	}
	const json_t *e = json_object_get(s, "enum");
	if (!json_is_array(e))
		return 0;
	size_t i;
	const json_t *item;
	json_array_foreach(e, i, item)
		if (value_equal(item, x))
			return 0;
	if (fail_begin(v, at, &m)) {
		out_printf(&m, "must be one of ");
		out_json(&m, e);
	}
	return -1;
}

/* The four bounds: keyword, the comparison that fails, its operator. */
static const struct bound {
	const char *keyword;
	int fails_when;	/* num_cmp(instance, bound) result that is an error */
	int or_equal;	/* ... or also 0 */
	const char *op;
} bounds[] = {
	{"minimum", -1, 0, ">="},
	{"maximum", 1, 0, "<="},
	{"exclusiveMinimum", -1, 1, ">"},
	{"exclusiveMaximum", 1, 1, "<"},
};

static int validate_number(const json_t *s, const json_t *x,
                           const struct seg *at, struct vctx *v)
{
	if (!json_is_number(x))
		return 0;
	for (size_t i = 0; i < COUNT(bounds); i++) {
		const json_t *b = json_object_get(s, bounds[i].keyword);
		if (!json_is_number(b))
			continue;
		int cmp = num_cmp(x, b);
		if (cmp != bounds[i].fails_when && !(bounds[i].or_equal && !cmp))
			continue;
		struct out m;
		if (fail_begin(v, at, &m)) {
			out_printf(&m, "must be %s ", bounds[i].op);
			out_number(&m, b);
		}
		return -1;
	}
	return 0;
}

static int count_fail(struct vctx *v, const struct seg *at, const char *what,
                      size_t n, const char *unit)
{
	return fail(v, at, "must have %s %zu %s%s", what, n, unit,
	            n == 1 ? "" : "s");
}

/* Unanchored search, as JSON Schema's "pattern" is. */
static int pattern_matches(const char *pattern, const char *text,
                           size_t len, int *ok)
{
	regex_t re;
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return -1;
	int flags = 0;
	regmatch_t range[1] = {{0, 0}};
#ifdef REG_STARTEND
	/* Lets a string holding "\u0000" be searched whole. */
	range[0].rm_eo = (regoff_t)len;
	flags = REG_STARTEND;
#else
	(void)len;
#endif
	*ok = regexec(&re, text, 1, range, flags) == 0;
	regfree(&re);
	return 0;
}

static int validate_string(const json_t *s, const json_t *x,
                           const struct seg *at, struct vctx *v)
{
	if (!json_is_string(x))
		return 0;
	const char *text = json_string_value(x);
	size_t bytes = json_string_length(x), n;
	size_t chars = utf8_length(text, bytes);
	if (!get_count(json_object_get(s, "minLength"), &n) && chars < n)
		return count_fail(v, at, "at least", n, "character");
	if (!get_count(json_object_get(s, "maxLength"), &n) && chars > n)
		return count_fail(v, at, "at most", n, "character");
	const json_t *p = json_object_get(s, "pattern");
	if (!json_is_string(p))
		return 0;
	int ok;
	if (pattern_matches(json_string_value(p), text, bytes, &ok))
		return fail(v, at, "invalid pattern \"%s\" in schema",
		            json_string_value(p));
	if (!ok)
		return fail(v, at, "must match pattern \"%s\"",
		            json_string_value(p));
	return 0;
}

static int validate_array(const json_t *s, const json_t *x,
                          const struct seg *at, struct vctx *v, int depth)
{
	if (!json_is_array(x))
		return 0;
	size_t size = json_array_size(x), n;
	if (!get_count(json_object_get(s, "minItems"), &n) && size < n)
		return count_fail(v, at, "at least", n, "item");
	if (!get_count(json_object_get(s, "maxItems"), &n) && size > n)
		return count_fail(v, at, "at most", n, "item");
	const json_t *items = json_object_get(s, "items");
	if (!items)
		return 0;
	for (size_t i = 0; i < size; i++) {
		struct seg el = {at, NULL, i};
		if (validate(items, json_array_get(x, i), &el, v, depth + 1))
			return -1;
	}
	return 0;
}

static int validate_object(const json_t *s, const json_t *x,
                           const struct seg *at, struct vctx *v, int depth)
{
	if (!json_is_object(x))
		return 0;
	size_t i;
	const json_t *name;
	json_array_foreach(json_object_get(s, "required"), i, name)
		if (json_is_string(name) &&
		    !json_object_get(x, json_string_value(name)))
			return fail(v, at, "required property \"%s\" is missing",
			            json_string_value(name));

	const json_t *props = json_object_get(s, "properties");
	const json_t *extra = json_object_get(s, "additionalProperties");
	const char *key;
	const json_t *value;
	json_object_foreach((json_t *)x, key, value) {
		struct seg el = {at, key, 0};
		const json_t *sub = json_object_get(props, key);
		if (sub && validate(sub, value, &el, v, depth + 1))
			return -1;
		if (sub || !extra)
			continue;
		if (json_is_false(extra))
			return fail(v, at, "additional property \"%s\" is not "
			                   "allowed", key);
		if (validate(extra, value, &el, v, depth + 1))
			return -1;
	}
	return 0;
}

/* How many schemas of the list x matches, counting no further than stop. */
static size_t count_matches(const json_t *list, const json_t *x,
                            const struct seg *at, int depth, size_t stop)
{
	struct vctx quiet = {.quiet = 1};
	size_t matched = 0, i;
	const json_t *sub;
	json_array_foreach(list, i, sub) {
		if (validate(sub, x, at, &quiet, depth + 1) == 0 &&
		    ++matched >= stop)
			break;
	}
	return matched;
}

static int validate_combinators(const json_t *s, const json_t *x,
                                const struct seg *at, struct vctx *v,
                                int depth)
{
	size_t i;
	const json_t *sub;
	json_array_foreach(json_object_get(s, "allOf"), i, sub)
		if (validate(sub, x, at, v, depth + 1))
			return -1;

	const json_t *any = json_object_get(s, "anyOf");
	if (json_is_array(any) && count_matches(any, x, at, depth, 1) == 0)
		return fail(v, at, "must match at least one schema in anyOf");

	const json_t *one = json_object_get(s, "oneOf");
	if (!json_is_array(one))
		return 0;
	size_t matched = count_matches(one, x, at, depth, 2);
	if (matched != 1)
		return fail(v, at, "must match exactly one schema in oneOf "
		                   "(matched %zu)", matched);
	return 0;
}

static int validate(const json_t *s, const json_t *x, const struct seg *at,
                    struct vctx *v, int depth)
{
	if (depth > SCHEMA_MAX_DEPTH)
		return fail(v, at, "schema nesting exceeds %d levels",
		            SCHEMA_MAX_DEPTH);
	if (json_is_false(s))
		return fail(v, at, "is not allowed");
	if (!json_is_object(s))
		return 0;
	if (validate_type(s, x, at, v) || validate_values(s, x, at, v) ||
	    validate_number(s, x, at, v) || validate_string(s, x, at, v) ||
	    validate_array(s, x, at, v, depth) ||
	    validate_object(s, x, at, v, depth) ||
	    validate_combinators(s, x, at, v, depth))
		return -1;
	return 0;
}

int schema_validate(const json_t *schema, const json_t *instance, char *path,
                    size_t pathlen, char *msg, size_t msglen)
{
	struct vctx v = {path, msg, pathlen, msglen, 0};
	if (pathlen)
		path[0] = '\0';
	if (msglen)
		msg[0] = '\0';
	if (!instance)
		return fail(&v, NULL, "no value");
	if (!schema)
		return 0;
	return validate(schema, instance, NULL, &v, 0);
}

/* ---- Depth of JSON text -------------------------------------------- */

int json_text_depth(const char *text, size_t len, int limit)
{
	int depth = 0, deepest = 0, in_string = 0;
	if (deepest > limit)
		return limit + 1;
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];
		if (in_string) {
			if (ch == '\\')
				i++;	/* whatever follows is escaped */
			else if (ch == '"')
				in_string = 0;
			continue;
		}
		if (ch == '"') {
			in_string = 1;
		} else if (ch == '[' || ch == '{') {
			if (++depth > deepest && (deepest = depth) > limit)
				return limit + 1;
		} else if ((ch == ']' || ch == '}') && depth > 0) {
			depth--;
		}
	}
	return deepest;
}
