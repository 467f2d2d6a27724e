/*
 * JSON Schema, the subset mcpd enforces on task input: type (string or
 * array of types: object, array, string, number, integer, boolean, null),
 * required, properties, additionalProperties (bool or schema), enum, const,
 * minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers),
 * minLength, maxLength, pattern (POSIX ERE through regcomp), items (schema),
 * minItems, maxItems, anyOf, oneOf, allOf. Unknown keywords are ignored.
 * "integer" accepts a real with no fractional part too, as the spec says.
 */
#ifndef MCPD_SCHEMA_INTERNAL_H
#define MCPD_SCHEMA_INTERNAL_H

#include <stddef.h>
#include <jansson.h>

/*
 * Is `schema` usable? It must be an object (or true/false), and the
 * keywords above must have the right types (e.g. "required" an array of
 * strings, "properties" an object of schemas, "minimum" a number, "pattern"
 * a valid regex), recursively. 0, or -1 with a one-line reason naming the
 * JSON pointer of the bad keyword in err.
 */
int schema_check(const json_t *schema, char *err, size_t errlen);

/*
 * Validate `instance` against `schema` (which passed schema_check). 0 if
 * valid; otherwise -1, with `path` the JSON pointer of the failing
 * instance location ("" for the root, "/ms", "/files/2/name") and `msg` a
 * one-line reason ("must be >= 0", "required property \"ms\" is missing").
 */
int schema_validate(const json_t *schema, const json_t *instance, char *path,
                    size_t pathlen, char *msg, size_t msglen);

/*
 * The nesting depth of JSON text (arrays and objects; strings are skipped
 * correctly, escapes included), without parsing it: 0 for a scalar. Used to
 * refuse over-deep bodies before jansson sees them. Stops counting and
 * returns `limit + 1` as soon as the depth exceeds `limit`.
 */
int json_text_depth(const char *text, size_t len, int limit);

#endif
