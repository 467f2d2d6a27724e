/*
 * sandbox-internal.h -- helpers shared by the files of sandbox-common; not
 * part of its public header.
 */
#ifndef MCPD_SANDBOX_INTERNAL_H
#define MCPD_SANDBOX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sandbox-common.h"

void sbx_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int64_t *sbx_limit_field(struct sbx_limits *l, int i); /* i: 0..5 */
const char *sbx_limit_name(int i);                     /* NULL past 5 */
int sbx_json_int(const json_t *v, int64_t *out);
void sbx_strv_free(char **v);

/*
 * Decode one entry of "files": a string, {"content": s} or {"base64": s},
 * with optional "executable". With data == NULL only validates. On
 * success *data is malloc'd (len bytes, plus a NUL). 0 or -1.
 */
int sbx_file_content(const json_t *v, char **data, size_t *len, int *exec);

/* Base64 (RFC 4648, padding optional on decode). malloc'd, NUL-ended. */
char *sbx_base64_encode(const unsigned char *in, size_t len);
int sbx_base64_decode(const char *in, size_t inlen, unsigned char *out,
                      size_t *outlen); /* out may be NULL: length only */

/* A JSON string of `len` bytes with invalid UTF-8 replaced by U+FFFD. */
json_t *sbx_json_text(const char *buf, size_t len);

#endif
