/*
 * Plain C functions declared with host->function_add (ABI 1.1): every
 * kind of parameter and result the host converts, json_t * in and out,
 * const char * in and out, and results the host must refuse (inf).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <mcpd/plugin.h>

static int64_t count_lines(const char *text)
{
	int64_t n = 0;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n + (text[0] && text[strlen(text) - 1] != '\n');
}

/* A new reference, or NULL (null) when s is not JSON. */
static json_t *ffi_parse(const char *s)
{
	return json_loads(s, JSON_DECODE_ANY, NULL);
}

/* Changes its argument: the task's input must not see it. */
static json_t *ffi_tag(json_t *value, const char *label)
{
	if (json_is_object(value)) {
		json_object_set_new(value, "tagged", json_string(label));
		return json_incref(value);
	}
	return json_pack("{s:O, s:s}", "value", value, "tagged", label);
}

static size_t ffi_size(const json_t *value)
{
	if (json_is_array(value))
		return json_array_size(value);
	if (json_is_object(value))
		return json_object_size(value);
	return json_is_string(value) ? json_string_length(value) : 0;
}

static const char *ffi_greeting(bool formal)
{
	return formal ? "Good day" : "hi";
}

static const char *ffi_nothing_found(int32_t key)
{
	(void)key;
	return NULL;
}

static uint8_t ffi_add_u8(uint8_t a, uint8_t b)
{
	return (uint8_t)(a + b);
}

static int16_t ffi_neg16(int16_t x)
{
	return (int16_t)-x;
}

static int16_t ffi_widen(int8_t x)
{
	return (int16_t)(x * 2);
}

static uint64_t ffi_u32_add(uint32_t a, uint32_t b)
{
	return (uint64_t)a + b;
}

static float ffi_half(float x)
{
	return x / 2;
}

static double ffi_inverse(double x)
{
	return 1.0 / x;
}

static uint64_t ffi_u64_max(void)
{
	return UINT64_MAX;
}

static int ffi_calls;

static void ffi_touch(void)
{
	ffi_calls++;
}

static bool ffi_is_even(int64_t n)
{
	return n % 2 == 0;
}

static char ffi_first(const char *s)
{
	return s[0];
}

static unsigned long long ffi_mix(unsigned long long a, int8_t b, double c,
                                  uint16_t d, float e, int32_t f, bool g,
                                  const char *h)
{
	return a + (unsigned long long)(b + 200) + (unsigned long long)c + d +
	       (unsigned long long)e + (unsigned long long)(f + 100000) +
	       (g ? 1000000 : 0) + strlen(h);
}

#define FN(f) ((void (*)(void))(f))

static const struct {
	const char *name, *signature;
	void (*fn)(void);
	const char *description;
} fns[] = {
	{"ffi.lines", "int64_t count_lines(const char *text)", FN(count_lines),
	 "Counts the lines of a text"},
	{NULL, "json_t *ffi_parse(const char *s)", FN(ffi_parse), NULL},
	{NULL, "json_t * ffi_tag ( json_t *value , const char*label ) ;",
	 FN(ffi_tag), "Tags a JSON value"},
	{NULL, "size_t ffi_size(const json_t *value)", FN(ffi_size), NULL},
	{NULL, "const char *ffi_greeting(_Bool formal)", FN(ffi_greeting),
	 NULL},
	{NULL, "const char *ffi_nothing_found(int32_t key)",
	 FN(ffi_nothing_found), NULL},
	{NULL, "uint8_t ffi_add_u8(uint8_t a, uint8_t b)", FN(ffi_add_u8),
	 NULL},
	{NULL, "short ffi_neg16(signed short int x)", FN(ffi_neg16), NULL},
	{NULL, "int16_t ffi_widen(int8_t x)", FN(ffi_widen), NULL},
	{NULL, "uint64_t ffi_u32_add(uint32_t a, uint32_t b)", FN(ffi_u32_add),
	 NULL},
	{NULL, "float ffi_half(float x)", FN(ffi_half), NULL},
	{NULL, "double ffi_inverse(double x)", FN(ffi_inverse), NULL},
	{NULL, "uint64_t ffi_u64_max(void)", FN(ffi_u64_max), NULL},
	{NULL, "void ffi_touch()", FN(ffi_touch), NULL},
	{NULL, "bool ffi_is_even(int64_t n)", FN(ffi_is_even), NULL},
	{NULL, "char ffi_first(const char *s)", FN(ffi_first), NULL},
	{NULL, "unsigned long long ffi_mix(unsigned long long a, int8_t b, "
	       "double c, uint16_t d, float e, int f, bool g, const char *h)",
	 FN(ffi_mix), NULL},
};

static int ffi_funcs_init(const struct mcpd_host *h, struct mcpd_plugin *self)
{
	if (!MCPD_HOST_HAS(h, function_add))
		return MCPD_E_STATE;
	for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
		int rc = h->function_add(self, fns[i].name, fns[i].signature,
		                         fns[i].fn, fns[i].description);
		if (rc < 0)
			return rc;
	}
	return MCPD_OK;
}

MCPD_PLUGIN("ffi_funcs", "1.0.0", "C functions as tools (tests)", 0,
            ffi_funcs_init, NULL)
