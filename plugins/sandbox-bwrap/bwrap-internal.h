/*
 * bwrap-internal.h -- shared between the files of sandbox-bwrap.
 */
#ifndef MCPD_SANDBOX_BWRAP_INTERNAL_H
#define MCPD_SANDBOX_BWRAP_INTERNAL_H

#include <stddef.h>

/* A seccomp BPF program as bwrap --seccomp reads it. */
struct sbw_bpf {
	unsigned char *data;
	size_t len;
};

/* Build the filter (network: whether non-AF_UNIX sockets stay allowed). */
int sbw_seccomp_build(struct sbw_bpf *out, int network, char *err,
                      size_t errlen);

void sbw_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
