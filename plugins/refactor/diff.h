/*
 * diff.h -- unified diffs ("diff -u" with git-style a/ b/ labels),
 * computed in process with Myers' O(ND) algorithm.
 */
#ifndef REFACTOR_DIFF_H
#define REFACTOR_DIFF_H

#include <stddef.h>

/* A growing NUL-terminated byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
	int oom; /* an allocation failed: the content is incomplete */
};

void buf_add(struct buf *b, const char *s, size_t n);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

/*
 * Append the unified diff of `old` -> `new` for file `path` to `out`, with
 * `context` lines of context: "--- a/PATH" / "+++ b/PATH" headers (old
 * NULL: a new file, "--- /dev/null"), "@@ -l,n +l,n @@" hunks as GNU diff
 * writes them, and "\ No newline at end of file" markers. Nothing when the
 * texts are equal. Returns the number of hunks, or -1 when out of memory.
 */
int diff_unified(const char *path, const char *old, size_t oldlen,
                 const char *new, size_t newlen, int context,
                 struct buf *out);

#endif
