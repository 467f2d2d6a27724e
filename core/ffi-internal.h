/*
 * C functions as tools. A C-like signature ("double hypot(double x, double
 * y)") is parsed once into a struct csig; the capability's input and output
 * JSON Schemas are derived from it; a struct cfunc binds it to code through
 * a libffi call interface prepared once, and each task's JSON input is
 * converted (with the C type's range checked) and the function called.
 *
 * Types: void (return only), bool/_Bool, char, signed char, unsigned char,
 * short, int, long, long long (signed and unsigned, with or without "int"),
 * int8_t..uint64_t, size_t, ssize_t, intptr_t, uintptr_t, ptrdiff_t, float,
 * double, const char * (a string), json_t * and const json_t * (any JSON).
 *
 * JSON cannot carry every 64-bit value exactly (jansson's integers are
 * int64_t), so an unsigned 64-bit parameter (uint64_t, size_t, unsigned
 * long...) accepts 0..INT64_MAX, and an unsigned 64-bit result above
 * INT64_MAX is returned as a JSON real (the nearest double).
 *
 * A task's result is {"result": VALUE}, or {} for a void function. A
 * const char * result is copied (the host never frees it; NULL gives
 * null); a json_t * result is a new reference the host takes (NULL gives
 * null); a json_t * argument is a private copy of the input, borrowed by
 * the function for the call.
 */
#ifndef MCPD_FFI_INTERNAL_H
#define MCPD_FFI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct mcpd_plugin;

#define CSIG_MAX_PARAMS 16
#define CSIG_MAX_NAME 63    /* bytes of a function or parameter name */
#define CSIG_MAX_TEXT 1024  /* bytes of a signature */

enum ctype {
	CT_VOID, CT_BOOL,
	CT_I8, CT_U8, CT_I16, CT_U16, CT_I32, CT_U32, CT_I64, CT_U64,
	CT_FLOAT, CT_DOUBLE, CT_STRING, CT_JSON,
};

struct cparam {
	char name[CSIG_MAX_NAME + 1]; /* "" for the return value */
	enum ctype type;
	char spelling[64]; /* the C type as written, spaces normalised */
};

struct csig {
	char name[CSIG_MAX_NAME + 1];
	struct cparam ret;
	struct cparam params[CSIG_MAX_PARAMS];
	int nparams;
};

/* One converted argument or return value. */
union cvalue {
	_Bool b;
	int8_t i8;
	uint8_t u8;
	int16_t i16;
	uint16_t u16;
	int32_t i32;
	uint32_t u32;
	int64_t i64;
	uint64_t u64;
	float f;
	double d;
	const char *s;
	json_t *j;
};

/*
 * Parse `text`. 0, or -1 with a one-line reason in err, e.g.
 * `parameter 2 ("buf"): type "int *" is not supported`.
 */
int csig_parse(const char *text, struct csig *sig, char *err, size_t errlen);
/* The signature in canonical form: "double hypot(double x, double y)". */
void csig_format(const struct csig *sig, char *out, size_t outlen);
/* {"type":"object","properties":{...},"required":[...],
 *  "additionalProperties":false} (new reference). */
json_t *csig_input_schema(const struct csig *sig);
/* {"type":"object","properties":{"result":...},...}, or an empty object's
 * schema for void (new reference). */
json_t *csig_output_schema(const struct csig *sig);
/* The JSON Schema of one type as a parameter (new reference). */
json_t *ctype_schema(enum ctype type, const char *spelling);

/*
 * Convert a JSON argument to C, checking type and range. 0, or -1 with a
 * reason ("must be an integer from -128 to 127"). A CT_JSON value is a new
 * reference (a deep copy) in out->j; the caller drops it after the call.
 */
int ctype_from_json(enum ctype type, const json_t *v, union cvalue *out,
                    char *err, size_t errlen);
/* A C result as JSON (new reference; steals a CT_JSON value), or NULL with
 * a reason (a non-finite float, a string that is not UTF-8). */
json_t *ctype_to_json(enum ctype type, const union cvalue *v, char *err,
                      size_t errlen);

/* A signature bound to a function, its call interface prepared. */
struct cfunc;

/* NULL with a reason in err when the signature does not parse. */
struct cfunc *cfunc_new(const char *signature, void (*fn)(void), char *err,
                        size_t errlen);
void cfunc_free(struct cfunc *f);
const struct csig *cfunc_sig(const struct cfunc *f);
/*
 * Convert `input` (an object with one member per parameter), call, and
 * convert the result. 0 with *result a new reference ({"result": v} or
 * {}); -1 with *code ("invalid_input" or "bad_result") and a reason
 * naming the parameter in err.
 */
int cfunc_call(const struct cfunc *f, const json_t *input, json_t **result,
               const char **code, char *err, size_t errlen);

/* host->function_add. */
int ffi_function_add(struct mcpd_plugin *p, const char *name,
                     const char *signature, void (*fn)(void),
                     const char *description);
/*
 * Declare every entry of the config's "functions" manifest (an array that
 * config.c checked the shape of) as a capability of `p`, the synthetic
 * record, dlopen()ing each library (kept in p->libs). Called with
 * p->in_init set. 0, or -1 with p refused with a reason naming the entry:
 * `functions[0]: no symbol "hypotx" in libm.so.6`.
 */
int ffi_manifest_load(struct mcpd_plugin *p, const json_t *manifest);

#endif
