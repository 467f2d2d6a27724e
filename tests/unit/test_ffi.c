/*
 * Unit tests for core/ffi.c: the signature parser (valid and invalid
 * signatures, exact reasons), the schemas derived for every type, JSON to
 * C conversions and their range checks, calls of local functions through
 * libffi, host->function_add and the "functions" manifest record.
 */
#include "ffi-internal.h"
#include "map-internal.h"
#include "mcpd-internal.h"
#include "plugin-internal.h"
#include "schema-internal.h"
#include "tap.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

static const char *const type_names[] = {
	"void", "bool", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64",
	"float", "double", "string", "json",
};

/* "ret:name=type,name=type" */
static void describe(const struct csig *sig, char *out, size_t outlen)
{
	size_t k = (size_t)snprintf(out, outlen, "%s:",
	                            type_names[sig->ret.type]);
	for (int i = 0; i < sig->nparams && k < outlen; i++)
		k += (size_t)snprintf(out + k, outlen - k, "%s%s=%s",
		                      i ? "," : "", sig->params[i].name,
		                      type_names[sig->params[i].type]);
}

/* ---- the parser ---- */

/* s for a TAP line: control characters as "\n", "\t", "\xNN". */
static const char *printable(const char *s)
{
	static char buf[96];
	size_t k = 0;
	if (!s)
		return "(null)";
	for (; *s && k + 5 < sizeof buf; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n' || c == '\t')
			k += (size_t)snprintf(buf + k, sizeof buf - k, "\\%c",
			                      c == '\n' ? 'n' : 't');
		else if (c < ' ' || c >= 0x7f)
			k += (size_t)snprintf(buf + k, sizeof buf - k, "\\x%02x",
			                      c);
		else
			buf[k++] = (char)c;
	}
	buf[k] = '\0';
	return buf;
}

static void test_valid(void)
{
	const char *ch = CHAR_MIN < 0 ? "i8" : "u8";
	char ch_want[64];
	snprintf(ch_want, sizeof ch_want, "i8:a=u8,b=%s", ch);
	const struct {
		const char *text, *types, *canonical;
	} cases[] = {
		{"double hypot(double x, double y)", "double:x=double,y=double",
		 "double hypot(double x, double y)"},
		{"int64_t count_lines(const char *text)", "i64:text=string",
		 "int64_t count_lines(const char *text)"},
		{"json_t *parse(const char *s)", "json:s=string",
		 "json_t *parse(const char *s)"},
		{"  double   hypot ( double x ,double y ) ; ",
		 "double:x=double,y=double", "double hypot(double x, double y)"},
		{"void f(void)", "void:", "void f(void)"},
		{"void f()", "void:", "void f(void)"},
		{"int f(int a)", "i32:a=i32", "int f(int a)"},
		{"unsigned f(unsigned a)", "u32:a=u32", "unsigned f(unsigned a)"},
		{"unsigned int f(signed b)", "u32:b=i32",
		 "unsigned int f(signed b)"},
		{"long f(long a)", "i64:a=i64", "long f(long a)"},
		{"unsigned long long f(long long int a, long int b)",
		 "u64:a=i64,b=i64",
		 "unsigned long long f(long long int a, long int b)"},
		{"short f(unsigned short a, short int b, signed short c)",
		 "i16:a=u16,b=i16,c=i16",
		 "short f(unsigned short a, short int b, signed short c)"},
		{"signed char f(unsigned char a, char b)", ch_want,
		 "signed char f(unsigned char a, char b)"},
		{"uint8_t f(int8_t a, uint16_t b, int16_t c, uint32_t d, "
		 "int32_t e, uint64_t g, int64_t h)",
		 "u8:a=i8,b=u16,c=i16,d=u32,e=i32,g=u64,h=i64",
		 "uint8_t f(int8_t a, uint16_t b, int16_t c, uint32_t d, "
		 "int32_t e, uint64_t g, int64_t h)"},
		{"size_t strlen(const char *s)", "u64:s=string",
		 "size_t strlen(const char *s)"},
		{"ssize_t f(ssize_t n)", "i64:n=i64", "ssize_t f(ssize_t n)"},
		{"bool f(_Bool a, bool b)", "bool:a=bool,b=bool",
		 "bool f(_Bool a, bool b)"},
		{"float f(float x)", "float:x=float", "float f(float x)"},
		{"char const *f(char const *s)", "string:s=string",
		 "char const *f(char const *s)"},
		{"const char *const f(const char * const s)", "string:s=string",
		 "const char * const f(const char * const s)"},
		{"json_t *f(const json_t *a, json_t *b)", "json:a=json,b=json",
		 "json_t *f(const json_t *a, json_t *b)"},
		{"int f(int x1, int _y, int Z_9)", "i32:x1=i32,_y=i32,Z_9=i32",
		 "int f(int x1, int _y, int Z_9)"},
		{"intptr_t f(uintptr_t a, ptrdiff_t b)", "i64:a=u64,b=i64",
		 "intptr_t f(uintptr_t a, ptrdiff_t b)"},
		{"int\tf(\n\tint a,\r\n\tint b\n)", "i32:a=i32,b=i32",
		 "int f(int a, int b)"},
		{"long unsigned int f(int unsigned a)", "u64:a=u32",
		 "long unsigned int f(int unsigned a)"},
		{"double f(double x);", "double:x=double", "double f(double x)"},
		{"json_t*f(json_t*v)", "json:v=json", "json_t *f(json_t *v)"},
		{"const int f(const double x)", "i32:x=double",
		 "const int f(const double x)"},
		{"void f(int a0, int a1, int a2, int a3, int a4, int a5, int a6, "
		 "int a7, int a8, int a9, int a10, int a11, int a12, int a13, "
		 "int a14, int a15)",
		 "void:a0=i32,a1=i32,a2=i32,a3=i32,a4=i32,a5=i32,a6=i32,a7=i32,"
		 "a8=i32,a9=i32,a10=i32,a11=i32,a12=i32,a13=i32,a14=i32,a15=i32",
		 NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct csig sig;
		char err[256] = "", got[512], canon[1200];
		int rc = csig_parse(cases[i].text, &sig, err, sizeof err);
		if (!ok(rc == 0, "valid %zu: %s", i,
		        printable(cases[i].text))) {
			diag("reason: %s", err);
			continue;
		}
		describe(&sig, got, sizeof got);
		is_str(got, cases[i].types, "valid %zu: types", i);
		if (cases[i].canonical) {
			csig_format(&sig, canon, sizeof canon);
			is_str(canon, cases[i].canonical,
			       "valid %zu: canonical form", i);
		}
	}
	struct csig sig;
	ok(csig_parse("double hypot(double x, double y)", &sig, NULL, 0) == 0 &&
	   strcmp(sig.name, "hypot") == 0 && sig.nparams == 2 &&
	   strcmp(sig.params[1].spelling, "double") == 0,
	   "the function name and spellings are kept");
}

static void test_invalid(void)
{
	char long_name[80], long_sig[1100], many[600];
	memset(long_name, 'n', 64);
	long_name[64] = '\0';
	char long_fn[128];
	snprintf(long_fn, sizeof long_fn, "int %s(int x)", long_name);
	char long_param[128];
	snprintf(long_param, sizeof long_param, "int f(int %s)", long_name);
	memset(long_sig, ' ', sizeof long_sig - 1);
	long_sig[sizeof long_sig - 1] = '\0';
	memcpy(long_sig, "int f(int x)", 12);
	size_t k = (size_t)snprintf(many, sizeof many, "int f(");
	for (int i = 0; i < 17; i++)
		k += (size_t)snprintf(many + k, sizeof many - k, "%sint a%d",
		                      i ? ", " : "", i);
	snprintf(many + k, sizeof many - k, ")");

	const struct {
		const char *text, *reason;
	} cases[] = {
		{"", "empty signature"},
		{"   \t\n", "empty signature"},
		{NULL, "empty signature"},
		{"double hypot", "expected \"(\" after the function name"},
		{"double hypot(double x, double y",
		 "expected \")\" after the parameters"},
		{"double (double x)", "no function name"},
		{"hypot(double x)", "no return type before \"hypot\""},
		{"double double(double x)", "no function name"},
		{"double *(double x)", "no function name"},
		{"double hypot(double, double)",
		 "parameter 1: type \"double\" has no name"},
		{"double hypot(double x, double x)",
		 "parameter 2 (\"x\"): duplicate name"},
		{"int f(int n, int *buf)",
		 "parameter 2 (\"buf\"): type \"int *\" is not supported"},
		{"char *f(int x)", "return type \"char *\" is not supported"},
		{"int f(char *s)",
		 "parameter 1 (\"s\"): type \"char *\" is not supported"},
		{"int f(const char **s)",
		 "parameter 1 (\"s\"): type \"const char **\" is not supported"},
		{"int f(struct foo *p)",
		 "parameter 1 (\"p\"): type \"struct foo *\" is not supported"},
		{"int f(foo_t x)", "parameter 1 (\"x\"): unknown type \"foo_t\""},
		{"long double f(double x)",
		 "return type \"long double\" is not supported"},
		{"int f(unsigned double x)",
		 "parameter 1 (\"x\"): invalid type \"unsigned double\""},
		{"int f(void x)",
		 "parameter 1 (\"x\"): type \"void\" is not supported"},
		{"int f(int x, ...)", "variadic functions are not supported"},
		{"int f(int x[4])", "unexpected character \"[\" at offset 11"},
		{"int f(int x) extra", "unexpected \"extra\" after \")\""},
		{"int f(int x,)", "parameter 2: missing"},
		{"int f(,int x)", "parameter 1: missing"},
		{many, "more than 16 parameters"},
		{"int f(int (*cb)(int))", "parameter 1: unexpected \"(\""},
		{"json_t f(int x)",
		 "return type \"json_t\" is not supported (use json_t *)"},
		{"const json_t *f(int x)",
		 "return type \"const json_t *\" is not supported (the host "
		 "takes a new reference: return json_t *)"},
		{"int f(x)", "parameter 1 (\"x\"): no type"},
		{"int f(long long long x)",
		 "parameter 1 (\"x\"): invalid type \"long long long\""},
		{"int f(short long x)",
		 "parameter 1 (\"x\"): invalid type \"short long\""},
		{"int f(volatile int x)",
		 "parameter 1 (\"x\"): type \"volatile int\" is not supported"},
		{"int f(int x, void)", "parameter 2: type \"void\" has no name"},
		{"int f(int * int x)",
		 "parameter 1 (\"x\"): invalid type \"int * int\""},
		{"int f(const x)", "parameter 1 (\"x\"): invalid type \"const\""},
		{long_fn, "function name longer than 63 bytes"},
		{long_param, "parameter 1: name longer than 63 bytes"},
		{"int f(int \xc3\xa9)", "unexpected byte 0xc3 at offset 10"},
		{long_sig, "signature longer than 1024 bytes"},
		{"int f(int x))", "unexpected \")\" after \")\""},
		{"int f(int x); int g(int y)", "unexpected \"int\" after \")\""},
		{"int, f(int x)", "unexpected \",\" before the parameter list"},
		{"int f(bool char x)",
		 "parameter 1 (\"x\"): invalid type \"bool char\""},
		{"int f(size_t int x)",
		 "parameter 1 (\"x\"): invalid type \"size_t int\""},
		{"void f(json_t v)",
		 "parameter 1 (\"v\"): type \"json_t\" is not supported (use "
		 "json_t *)"},
		{"int f(int x = 3)", "unexpected character \"=\" at offset 12"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct csig sig;
		char err[256] = "";
		int rc = csig_parse(cases[i].text, &sig, err, sizeof err);
		ok(rc == -1, "invalid %zu refused: %.60s", i,
		   printable(cases[i].text));
		is_str(err, cases[i].reason, "invalid %zu: reason", i);
	}
}

/* ---- schemas ---- */

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void is_json(const json_t *j, const char *want, const char *name)
{
	char *got = j ? dump(j) : NULL;
	is_str(got, want, "%s", name);
	free(got);
}

static void test_schemas(void)
{
	static const struct {
		enum ctype type;
		const char *spelling, *schema;
	} cases[] = {
		{CT_BOOL, "bool", "{\"description\":\"bool\",\"type\":\"boolean\"}"},
		{CT_I8, "int8_t", "{\"description\":\"int8_t\",\"maximum\":127,"
		 "\"minimum\":-128,\"type\":\"integer\"}"},
		{CT_U8, "uint8_t", "{\"description\":\"uint8_t\",\"maximum\":255,"
		 "\"minimum\":0,\"type\":\"integer\"}"},
		{CT_I16, "short", "{\"description\":\"short\",\"maximum\":32767,"
		 "\"minimum\":-32768,\"type\":\"integer\"}"},
		{CT_U16, "uint16_t", "{\"description\":\"uint16_t\",\"maximum\":"
		 "65535,\"minimum\":0,\"type\":\"integer\"}"},
		{CT_I32, "int", "{\"description\":\"int\",\"maximum\":2147483647,"
		 "\"minimum\":-2147483648,\"type\":\"integer\"}"},
		{CT_U32, "unsigned", "{\"description\":\"unsigned\",\"maximum\":"
		 "4294967295,\"minimum\":0,\"type\":\"integer\"}"},
		{CT_I64, "int64_t", "{\"description\":\"int64_t\",\"maximum\":"
		 "9223372036854775807,\"minimum\":-9223372036854775808,\"type\":"
		 "\"integer\"}"},
		{CT_U64, "size_t", "{\"description\":\"size_t\",\"maximum\":"
		 "9223372036854775807,\"minimum\":0,\"type\":\"integer\"}"},
		{CT_DOUBLE, "double", "{\"description\":\"double\",\"type\":"
		 "\"number\"}"},
		{CT_STRING, "const char *", "{\"description\":\"const char *\","
		 "\"type\":\"string\"}"},
		{CT_JSON, "json_t *", "{\"description\":\"json_t *\"}"},
	};
	char why[256];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *s = ctype_schema(cases[i].type, cases[i].spelling);
		is_json(s, cases[i].schema, cases[i].spelling);
		ok(schema_check(s, why, sizeof why) == 0,
		   "%s: the schema checks", cases[i].spelling);
		json_decref(s);
	}
	json_t *f = ctype_schema(CT_FLOAT, "float");
	const char *ftype = json_string_value(json_object_get(f, "type"));
	ok(ftype && strcmp(ftype, "number") == 0 &&
	   json_real_value(json_object_get(f, "minimum")) == -FLT_MAX &&
	   json_real_value(json_object_get(f, "maximum")) == FLT_MAX,
	   "float: a number from -FLT_MAX to FLT_MAX exactly");
	json_decref(f);

	struct csig sig;
	csig_parse("double hypot(double x, double y)", &sig, NULL, 0);
	json_t *in = csig_input_schema(&sig), *out = csig_output_schema(&sig);
	is_json(in, "{\"additionalProperties\":false,\"properties\":{\"x\":"
	        "{\"description\":\"double\",\"type\":\"number\"},\"y\":"
	        "{\"description\":\"double\",\"type\":\"number\"}},"
	        "\"required\":[\"x\",\"y\"],\"type\":\"object\"}",
	        "hypot: input schema");
	is_json(out, "{\"additionalProperties\":false,\"properties\":"
	        "{\"result\":{\"description\":\"double\",\"type\":\"number\"}},"
	        "\"required\":[\"result\"],\"type\":\"object\"}",
	        "hypot: output schema");
	ok(schema_check(in, why, sizeof why) == 0 &&
	   schema_check(out, why, sizeof why) == 0, "hypot: both check");
	json_decref(in);
	json_decref(out);

	csig_parse("void f(void)", &sig, NULL, 0);
	in = csig_input_schema(&sig);
	out = csig_output_schema(&sig);
	is_json(in, "{\"additionalProperties\":false,\"properties\":{},"
	        "\"required\":[],\"type\":\"object\"}", "void: input schema");
	is_json(out, "{\"additionalProperties\":false,\"properties\":{},"
	        "\"type\":\"object\"}", "void: output schema");
	json_decref(in);
	json_decref(out);

	csig_parse("const char *f(int8_t x)", &sig, NULL, 0);
	out = csig_output_schema(&sig);
	is_json(json_object_get(json_object_get(out, "properties"), "result"),
	        "{\"description\":\"const char *\",\"type\":[\"string\","
	        "\"null\"]}", "const char * result: a string or null");
	json_decref(out);
	csig_parse("uint64_t f(int8_t x)", &sig, NULL, 0);
	out = csig_output_schema(&sig);
	is_json(json_object_get(json_object_get(out, "properties"), "result"),
	        "{\"description\":\"uint64_t\",\"minimum\":0,\"type\":"
	        "\"integer\"}", "uint64_t result: no maximum (reals above)");
	json_decref(out);

	/* The validator names the parameter. */
	csig_parse("int f(int8_t small, double x)", &sig, NULL, 0);
	in = csig_input_schema(&sig);
	char path[64], msg[128];
	json_t *arg = json_pack("{s:i, s:f}", "small", 300, "x", 1.5);
	ok(schema_validate(in, arg, path, sizeof path, msg, sizeof msg) < 0 &&
	   strcmp(path, "/small") == 0, "300 for int8_t: refused at /small "
	   "(%s)", msg);
	json_decref(arg);
	arg = json_pack("{s:i, s:s}", "small", 3, "x", "1.5");
	ok(schema_validate(in, arg, path, sizeof path, msg, sizeof msg) < 0 &&
	   strcmp(path, "/x") == 0, "a string for double: refused at /x (%s)",
	   msg);
	json_decref(arg);
	arg = json_pack("{s:i, s:f, s:i}", "small", 3, "x", 1.0, "z", 1);
	ok(schema_validate(in, arg, path, sizeof path, msg, sizeof msg) < 0,
	   "an unknown member is refused (%s)", msg);
	json_decref(arg);
	arg = json_pack("{s:i}", "small", 3);
	ok(schema_validate(in, arg, path, sizeof path, msg, sizeof msg) < 0,
	   "a missing parameter is refused (%s)", msg);
	json_decref(arg);
	json_decref(in);
}

/* ---- conversions ---- */

static void range_case(enum ctype t, json_int_t lo, json_int_t hi,
                       const char *reason)
{
	union cvalue v;
	char err[128];
	json_t *j = json_integer(lo);
	ok(ctype_from_json(t, j, &v, err, sizeof err) == 0, "%s: %lld ok",
	   type_names[t], (long long)lo);
	json_decref(j);
	j = json_integer(hi);
	ok(ctype_from_json(t, j, &v, err, sizeof err) == 0, "%s: %lld ok",
	   type_names[t], (long long)hi);
	json_decref(j);
	if (lo > INT64_MIN) {
		j = json_integer(lo - 1);
		err[0] = '\0';
		ok(ctype_from_json(t, j, &v, err, sizeof err) == -1,
		   "%s: %lld refused", type_names[t], (long long)lo - 1);
		is_str(err, reason, "%s: below the range", type_names[t]);
		json_decref(j);
	}
	if (hi < INT64_MAX) {
		j = json_integer(hi + 1);
		err[0] = '\0';
		ok(ctype_from_json(t, j, &v, err, sizeof err) == -1,
		   "%s: %lld refused", type_names[t], (long long)hi + 1);
		is_str(err, reason, "%s: above the range", type_names[t]);
		json_decref(j);
	}
}

static void test_conversions(void)
{
	range_case(CT_I8, -128, 127, "must be an integer from -128 to 127");
	range_case(CT_U8, 0, 255, "must be an integer from 0 to 255");
	range_case(CT_I16, -32768, 32767,
	           "must be an integer from -32768 to 32767");
	range_case(CT_U16, 0, 65535, "must be an integer from 0 to 65535");
	range_case(CT_I32, INT32_MIN, INT32_MAX,
	           "must be an integer from -2147483648 to 2147483647");
	range_case(CT_U32, 0, UINT32_MAX,
	           "must be an integer from 0 to 4294967295");
	range_case(CT_I64, INT64_MIN, INT64_MAX, "");
	range_case(CT_U64, 0, INT64_MAX,
	           "must be an integer from 0 to 9223372036854775807");

	union cvalue v;
	char err[128];
	json_t *j;
#define CONV(T, JSON, RC, WHY, NAME)                                          \
	do {                                                                  \
		j = (JSON);                                                   \
		err[0] = '\0';                                                \
		is_int(ctype_from_json(T, j, &v, err, sizeof err), RC, NAME); \
		is_str(err, WHY, NAME ": reason");                            \
		json_decref(j);                                               \
	} while (0)
	CONV(CT_I8, json_real(-3.0), 0, "", "i8: the real -3.0 is an integer");
	ok(v.i8 == -3, "... converted to -3");
	CONV(CT_I8, json_real(3.5), -1, "must be an integer", "i8: 3.5");
	CONV(CT_I32, json_string("3"), -1, "must be an integer", "i32: \"3\"");
	CONV(CT_I32, json_true(), -1, "must be an integer", "i32: true");
	CONV(CT_I64, json_real(1e19), -1, "must be an integer from "
	     "-9223372036854775808 to 9223372036854775807", "i64: 1e19");
	CONV(CT_U64, json_real(-1.0), -1, "must be an integer from 0 to "
	     "9223372036854775807", "u64: -1.0");
	CONV(CT_U64, json_integer(INT64_MAX), 0, "", "u64: INT64_MAX");
	ok(v.u64 == (uint64_t)INT64_MAX, "... exact");
	CONV(CT_U16, json_integer(65535), 0, "", "u16: 65535");
	ok(v.u16 == 65535, "... exact");
	CONV(CT_BOOL, json_false(), 0, "", "bool: false");
	ok(v.b == false, "... false");
	CONV(CT_BOOL, json_integer(1), -1, "must be true or false", "bool: 1");
	CONV(CT_DOUBLE, json_integer(5), 0, "", "double: the integer 5");
	ok(v.d == 5.0, "... 5.0");
	CONV(CT_DOUBLE, json_string("5"), -1, "must be a number",
	     "double: \"5\"");
	CONV(CT_FLOAT, json_real(3.0e38), 0, "", "float: 3e38");
	ok(v.f == 3.0e38f, "... as a float");
	CONV(CT_FLOAT, json_real(1e39), -1, "must be a number from "
	     "-3.40282e+38 to 3.40282e+38", "float: 1e39");
	CONV(CT_FLOAT, json_real(-1e39), -1, "must be a number from "
	     "-3.40282e+38 to 3.40282e+38", "float: -1e39");
	CONV(CT_STRING, json_stringn("a\0b", 3), -1,
	     "must not contain a NUL character", "string: an inner NUL");
	CONV(CT_STRING, json_integer(1), -1, "must be a string", "string: 1");
	CONV(CT_STRING, json_string("héllo"), 0, "", "string: UTF-8");
#undef CONV
	j = json_pack("{s:[i, i]}", "a", 1, 2);
	ok(ctype_from_json(CT_JSON, j, &v, err, sizeof err) == 0 &&
	   v.j != j && json_equal(v.j, j), "json: a deep copy, equal");
	json_decref(v.j);
	json_decref(j);

	/* Results. */
	union cvalue r;
	r.u64 = UINT64_MAX;
	j = ctype_to_json(CT_U64, &r, err, sizeof err);
	ok(json_is_real(j) && json_real_value(j) == 18446744073709551616.0,
	   "u64 above INT64_MAX: a real");
	json_decref(j);
	r.u64 = 42;
	j = ctype_to_json(CT_U64, &r, err, sizeof err);
	ok(json_is_integer(j) && json_integer_value(j) == 42,
	   "u64 42: an integer");
	json_decref(j);
	r.i8 = -128;
	j = ctype_to_json(CT_I8, &r, err, sizeof err);
	ok(json_integer_value(j) == -128, "i8 -128");
	json_decref(j);
	r.d = INFINITY;
	ok(ctype_to_json(CT_DOUBLE, &r, err, sizeof err) == NULL,
	   "double inf: no JSON");
	is_str(err, "the function returned inf, which JSON cannot represent",
	       "... reason");
	r.f = -INFINITY;
	ok(ctype_to_json(CT_FLOAT, &r, err, sizeof err) == NULL,
	   "float -inf: no JSON");
	is_str(err, "the function returned -inf, which JSON cannot represent",
	       "... reason");
	r.d = NAN;
	ok(ctype_to_json(CT_DOUBLE, &r, err, sizeof err) == NULL,
	   "double nan: no JSON");
	is_str(err, "the function returned nan, which JSON cannot represent",
	       "... reason");
	r.s = "\xff\xfe";
	ok(ctype_to_json(CT_STRING, &r, err, sizeof err) == NULL,
	   "a string that is not UTF-8: no JSON");
	is_str(err, "the function returned a string that is not valid UTF-8",
	       "... reason");
	r.s = NULL;
	j = ctype_to_json(CT_STRING, &r, err, sizeof err);
	ok(json_is_null(j), "a NULL string: null");
	r.j = NULL;
	j = ctype_to_json(CT_JSON, &r, err, sizeof err);
	ok(json_is_null(j), "a NULL json_t *: null");
}

/* ---- calls through libffi ---- */

static double t_add(double a, double b) { return a + b; }
static int8_t t_neg8(int8_t x) { return (int8_t)-x; }
static uint32_t t_u32(uint32_t x) { return x * 2u; }
static int64_t t_sub(int64_t a, int64_t b) { return a - b; }
static uint16_t t_u16(uint16_t x) { return (uint16_t)(x + 1); }
static bool t_not(bool b) { return !b; }
static float t_scale(float x, float k) { return x * k; }
static size_t t_len(const char *s) { return strlen(s); }
static const char *t_pick(int32_t i)
{
	static const char *const words[] = {"zero", "one", "two"};
	return i >= 0 && i < 3 ? words[i] : NULL;
}
static json_t *t_wrap(json_t *v, const char *key)
{
	json_t *o = json_object();
	json_object_set(o, key, v);
	json_array_append_new(v, json_string("mutated"));
	return o;
}
static int calls;
static void t_count(void) { calls++; }
static double t_inf(void) { return INFINITY; }
static int64_t t_sum16(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e,
                       uint32_t f, int64_t g, uint64_t h, double i, float j,
                       bool k, const char *l, int m, unsigned n, long o,
                       char p)
{
	return a + b + c + d + e + (int64_t)f + g + (int64_t)h + (int64_t)i +
	       (int64_t)j + k + (int64_t)strlen(l) + m + n + o + p;
}
static uint64_t t_big(void) { return UINT64_MAX - 1; }

#define FN(f) ((void (*)(void))(f))

/* Call `sig` bound to fn with input JSON text; the result as text, or
 * "code: reason". */
static char *call(const char *sig, void (*fn)(void), const char *input)
{
	char err[256];
	struct cfunc *f = cfunc_new(sig, fn, err, sizeof err);
	if (!f)
		return strdup(err);
	json_t *in = json_loads(input, 0, NULL), *result;
	const char *code;
	char *out;
	if (cfunc_call(f, in, &result, &code, err, sizeof err) == 0) {
		out = dump(result);
		json_decref(result);
	} else {
		size_t n = strlen(code) + strlen(err) + 3;
		out = malloc(n);
		snprintf(out, n, "%s: %s", code, err);
	}
	json_decref(in);
	cfunc_free(f);
	return out;
}

static void is_call(const char *sig, void (*fn)(void), const char *input,
                    const char *want)
{
	char *got = call(sig, fn, input);
	is_str(got, want, "%s with %s", sig, input);
	free(got);
}

static void test_calls(void)
{
	is_call("double add(double a, double b)", FN(t_add),
	        "{\"a\": 1.5, \"b\": 2}", "{\"result\":3.5}");
	is_call("int8_t neg(int8_t x)", FN(t_neg8), "{\"x\": 127}",
	        "{\"result\":-127}");
	is_call("int8_t neg(int8_t x)", FN(t_neg8), "{\"x\": -128}",
	        "{\"result\":-128}");
	is_call("int8_t neg(int8_t x)", FN(t_neg8), "{\"x\": 300}",
	        "invalid_input: parameter \"x\": must be an integer from -128 "
	        "to 127");
	is_call("uint32_t twice(uint32_t x)", FN(t_u32), "{\"x\": 4000000000}",
	        "{\"result\":3705032704}");
	is_call("uint32_t twice(uint32_t x)", FN(t_u32), "{\"x\": -1}",
	        "invalid_input: parameter \"x\": must be an integer from 0 to "
	        "4294967295");
	is_call("int64_t sub(int64_t a, int64_t b)", FN(t_sub),
	        "{\"b\": 1, \"a\": -9223372036854775807}",
	        "{\"result\":-9223372036854775808}");
	is_call("uint16_t inc(uint16_t x)", FN(t_u16), "{\"x\": 65535}",
	        "{\"result\":0}");
	is_call("bool not(bool b)", FN(t_not), "{\"b\": false}",
	        "{\"result\":true}");
	is_call("bool not(bool b)", FN(t_not), "{\"b\": 0}",
	        "invalid_input: parameter \"b\": must be true or false");
	is_call("float scale(float x, float k)", FN(t_scale),
	        "{\"x\": 1.5, \"k\": 4}", "{\"result\":6.0}");
	is_call("size_t len(const char *s)", FN(t_len), "{\"s\": \"héllo\"}",
	        "{\"result\":6}");
	is_call("size_t len(const char *s)", FN(t_len), "{\"s\": 5}",
	        "invalid_input: parameter \"s\": must be a string");
	is_call("const char *pick(int32_t i)", FN(t_pick), "{\"i\": 2}",
	        "{\"result\":\"two\"}");
	is_call("const char *pick(int32_t i)", FN(t_pick), "{\"i\": 7}",
	        "{\"result\":null}");
	is_call("json_t *wrap(json_t *v, const char *key)", FN(t_wrap),
	        "{\"v\": [1, {\"a\": null}], \"key\": \"k\"}",
	        "{\"result\":{\"k\":[1,{\"a\":null},\"mutated\"]}}");
	is_call("void count(void)", FN(t_count), "{}", "{}");
	is_int(calls, 1, "the void function ran once");
	is_call("double inf(void)", FN(t_inf), "{}",
	        "bad_result: the function returned inf, which JSON cannot "
	        "represent");
	is_call("uint64_t big(void)", FN(t_big), "{}",
	        "{\"result\":1.8446744073709552e19}");
	is_call("double add(double a, double b)", FN(t_add), "{\"a\": 1}",
	        "invalid_input: parameter \"b\" is missing");
	is_call("double add(double a, double b)", FN(t_add),
	        "{\"a\": 1, \"b\": 2, \"c\": 3}",
	        "invalid_input: unknown parameter \"c\"");
	is_call("double add(double a, double b)", FN(t_add), "[1, 2]",
	        "invalid_input: the input must be an object");
	const char *sum16 =
		"int64_t sum(int8_t a, uint8_t b, int16_t c, uint16_t d, "
		"int32_t e, uint32_t f, int64_t g, uint64_t h, double i, "
		"float j, bool k, const char *l, int m, unsigned n, long o, "
		"char p)";
	is_call(sum16, FN(t_sum16),
	        "{\"a\": -1, \"b\": 2, \"c\": -3, \"d\": 4, \"e\": -5, "
	        "\"f\": 6, \"g\": -7, \"h\": 8, \"i\": 9.0, \"j\": 10, "
	        "\"k\": true, \"l\": \"abcd\", \"m\": 100, \"n\": 200, "
	        "\"o\": 1000, \"p\": 65}", "{\"result\":1393}");

	/* The task's input is not changed by a json_t * argument. */
	char err[128];
	struct cfunc *f = cfunc_new("json_t *wrap(json_t *v, const char *key)",
	                            FN(t_wrap), err, sizeof err);
	json_t *in = json_pack("{s:[i], s:s}", "v", 1, "key", "k"), *result;
	const char *code;
	ok(f && cfunc_call(f, in, &result, &code, err, sizeof err) == 0 &&
	   json_array_size(json_object_get(in, "v")) == 1,
	   "a json_t * argument is a copy: the input keeps its array");
	json_decref(result);
	json_decref(in);
	cfunc_free(f);
	ok(cfunc_new("int f(int *p)", FN(t_neg8), err, sizeof err) == NULL,
	   "cfunc_new refuses what the parser refuses");
	is_str(err, "parameter 1 (\"p\"): type \"int *\" is not supported",
	       "... with its reason");
}

/* ---- host->function_add and the manifest record ---- */

static void test_records(void)
{
	struct mcpd d;
	memset(&d, 0, sizeof d);
	d.plugins_by_name = map_new();
	d.generations = map_new();

	json_t *manifest = json_pack(
		"[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]",
		"library", "libm.so.6", "symbol", "hypot", "signature",
		"double hypot(double x, double y)",
		"library", "libc.so.6", "symbol", "strlen", "signature",
		"size_t length(const char *s)", "name", "text.length",
		"description", "Bytes in a string");
	struct mcpd_plugin *p = plugin_load_functions(&d, manifest, NULL);
	if (!ok(p && p->loaded, "the manifest record loads"))
		diag("reason: %s", p ? p->reason : "(null)");
	if (p && p->loaded) {
		is_str(p->name, "functions", "its name is \"functions\"");
		is_str(p->file, PLUGIN_FUNCTIONS_FILE, "its file");
		is_int(p->generation, 1, "generation 1");
		is_int(p->nlibs, 2, "it keeps both libraries open");
		is_int(p->ncaps, 2, "two capabilities");
		is_str(p->caps[0]->name, "hypot", "the symbol names the first");
		is_str(p->caps[1]->name, "text.length", "\"name\" the second");
		is_str(p->caps[1]->description, "Bytes in a string",
		       "with its description");
		is_str(p->caps[0]->title, "double hypot(double x, double y)",
		       "the title is the signature");
		ok(p->caps[0]->flags & MCPD_CAP_BLOCKING, "blocking (a worker)");
		is_json(p->caps[1]->attributes,
		        "{\"library\":\"libc.so.6\",\"symbol\":\"strlen\"}",
		        "attributes name the library and symbol");
		json_t *in = json_pack("{s:i, s:i}", "x", 3, "y", 4), *res;
		const char *code;
		char err[128];
		ok(cfunc_call(p->caps[0]->ud, in, &res, &code, err,
		              sizeof err) == 0 &&
		   json_real_value(json_object_get(res, "result")) == 5.0,
		   "libm's hypot(3, 4) = 5 through the record");
		json_decref(res);
		json_decref(in);
	}
	plugin_retire(p);

	static const struct {
		const char *entry, *reason;
	} bad[] = {
		{"{\"library\": \"libnope.so\", \"symbol\": \"f\", "
		 "\"signature\": \"int f(int x)\"}",
		 "functions[1]: libnope.so: cannot open shared object file: No "
		 "such file or directory"},
		{"{\"library\": \"libm.so.6\", \"symbol\": \"hypotx\", "
		 "\"signature\": \"double hypotx(double x, double y)\"}",
		 "functions[1]: no symbol \"hypotx\" in libm.so.6"},
		{"{\"library\": \"libm.so.6\", \"symbol\": \"hypot\", "
		 "\"signature\": \"double hypot(double, double)\"}",
		 "functions[1]: bad signature \"double hypot(double, double)\": "
		 "parameter 1: type \"double\" has no name"},
		{"{\"library\": \"libm.so.6\", \"symbol\": \"floor\", "
		 "\"signature\": \"double floor(double x)\", \"name\": "
		 "\"hypot\"}",
		 "functions[1]: capability \"hypot\" declared twice"},
		{"{\"library\": \"libm.so.6\", \"symbol\": \"floor\", "
		 "\"signature\": \"double floor(double x)\", \"name\": "
		 "\"bad name\"}",
		 "functions[1]: capability \"bad name\": invalid name"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *m = json_pack("[{s:s, s:s, s:s}]", "library",
		                      "libm.so.6", "symbol", "hypot",
		                      "signature",
		                      "double hypot(double x, double y)");
		json_array_append_new(m, json_loads(bad[i].entry, 0, NULL));
		p = plugin_load_functions(&d, m, NULL);
		ok(p && !p->loaded && p->ncaps == 0 && p->nlibs == 0,
		   "bad manifest %zu: refused whole, nothing kept", i);
		is_str(p ? p->reason : NULL, bad[i].reason,
		       "bad manifest %zu: reason", i);
		plugin_retire(p);
		json_decref(m);
	}

	/* A plugin named "functions" takes the name first. */
	struct mcpd_plugin other = {.file = "/x/functions.so"};
	map_put(d.plugins_by_name, "functions", &other);
	p = plugin_load_functions(&d, manifest, NULL);
	is_str(p ? p->reason : NULL, "duplicate plugin name \"functions\" "
	       "(already loaded from /x/functions.so)",
	       "a taken name refuses the manifest");
	plugin_retire(p);
	map_del(d.plugins_by_name, "functions");

	/* host->function_add on a record in init. */
	json_t *empty = json_array();
	p = plugin_load_functions(&d, empty, NULL);
	json_decref(empty);
	ok(host_table.function_add == ffi_function_add &&
	   MCPD_HOST_HAS(&host_table, function_add),
	   "the host table offers function_add");
	is_int(host_table.function_add(p, NULL, "double add(double a, "
	                               "double b)", FN(t_add), NULL),
	       MCPD_E_STATE, "function_add outside init: MCPD_E_STATE");
	p->in_init = 1;
	is_int(host_table.function_add(p, NULL, "double add(double a, "
	                               "double b)", FN(t_add), "Adds"),
	       MCPD_OK, "function_add in init");
	is_int(host_table.function_add(p, "my.add", "double add(double a, "
	                               "double b)", FN(t_add), NULL),
	       MCPD_OK, "the same function under another name");
	ok(p->ncaps == 2 && strcmp(p->caps[0]->name, "add") == 0 &&
	   strcmp(p->caps[1]->name, "my.add") == 0 &&
	   strcmp(p->caps[0]->description, "Adds") == 0,
	   "named after the function, or as asked");
	ok(p->reason[0] == '\0', "no refusal so far");
	is_int(host_table.function_add(p, NULL, "double add(double a, "
	                               "double b)", FN(t_add), NULL),
	       MCPD_E_EXISTS, "a second \"add\": MCPD_E_EXISTS");
	p->reason[0] = '\0';
	is_int(host_table.function_add(p, "fill", "int fill(int *buf)",
	                               FN(t_neg8), NULL),
	       MCPD_E_INVAL, "a bad signature: MCPD_E_INVAL");
	is_str(p->reason, "function \"fill\": bad signature \"int fill(int "
	       "*buf)\": parameter 1 (\"buf\"): type \"int *\" is not "
	       "supported", "... and the plugin's refusal says why");
	p->reason[0] = '\0';
	is_int(host_table.function_add(p, NULL, "int f(int x)", NULL, NULL),
	       MCPD_E_INVAL, "no function pointer: MCPD_E_INVAL");
	is_str(p->reason, "function \"int f(int x)\": no function pointer",
	       "... said");
	p->in_init = 0;
	is_int(host_table.function_add((struct mcpd_plugin *)&d, NULL,
	                               "int f(int x)", FN(t_neg8), NULL),
	       MCPD_E_HANDLE, "a foreign handle: MCPD_E_HANDLE");
	plugin_retire(p);

	json_decref(manifest);
	map_free(d.plugins_by_name);
	map_free(d.generations);
}

/* ---- the config key ---- */

static void test_config_key(void)
{
	static const struct {
		const char *json, *reason;
	} cases[] = {
		{"{\"functions\": {}}",
		 "config: functions: must be an array of objects"},
		{"{\"functions\": [1]}",
		 "config: functions[0]: must be an object"},
		{"{\"functions\": [{\"library\": \"l\", \"symbol\": \"s\", "
		 "\"signature\": \"int s(int x)\"}, {\"library\": \"l\", "
		 "\"symbol\": \"s\", \"signature\": \"int s(int x)\", "
		 "\"lib\": \"x\"}]}",
		 "config: functions[1]: unknown key \"lib\""},
		{"{\"functions\": [{\"library\": \"l\", \"signature\": "
		 "\"int s(int x)\"}]}",
		 "config: functions[0]: missing \"symbol\""},
		{"{\"functions\": [{\"library\": \"l\", \"symbol\": \"s\", "
		 "\"signature\": 5}]}",
		 "config: functions[0].signature: must be a non-empty string"},
		{"{\"functions\": [{\"library\": \"l\", \"symbol\": \"s\", "
		 "\"signature\": \"int s(int x)\", \"name\": \"\"}]}",
		 "config: functions[0].name: must be a non-empty string"},
	};
	struct config c;
	char err[256];
	config_init(&c);
	ok(json_is_array(c.functions) && json_array_size(c.functions) == 0,
	   "config: functions defaults to []");
	json_t *good = json_loads(
		"{\"functions\": [{\"library\": \"libm.so.6\", \"symbol\": "
		"\"hypot\", \"signature\": \"double hypot(double x, double "
		"y)\", \"name\": \"h\", \"description\": \"\"}]}", 0, NULL);
	is_int(config_apply_json(&c, good, err, sizeof err), 0,
	       "config: a full entry (empty description allowed)");
	ok(json_equal(c.functions, json_object_get(good, "functions")) &&
	   c.functions != json_object_get(good, "functions"),
	   "config: kept as a copy");
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *j = json_loads(cases[i].json, 0, NULL);
		err[0] = '\0';
		is_int(config_apply_json(&c, j, err, sizeof err), -1,
		       "config: bad functions %zu refused", i);
		is_str(err, cases[i].reason, "config: bad functions %zu: reason",
		       i);
		json_decref(j);
	}
	ok(json_equal(c.functions, json_object_get(good, "functions")),
	   "config: a refused apply keeps the previous manifest");
	json_decref(good);
	config_free(&c);
}

int main(void)
{
	test_valid();
	test_invalid();
	test_schemas();
	test_conversions();
	test_calls();
	test_records();
	test_config_key();
	done_testing();
	return exit_status();
}
