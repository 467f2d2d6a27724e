/* A string-keyed hash map of pointers (open addressing, linear probing).
 * Keys are copied; values are not owned. */
#ifndef MCPD_MAP_INTERNAL_H
#define MCPD_MAP_INTERNAL_H

#include <stddef.h>

struct map;

struct map *map_new(void);
/* Frees the map and its key copies, not the values. NULL is a no-op. */
void map_free(struct map *m);
void *map_get(const struct map *m, const char *key);
/* Insert or replace. 0, or -1 on allocation failure. */
int map_put(struct map *m, const char *key, void *value);
/* Remove; returns the old value or NULL. */
void *map_del(struct map *m, const char *key);
size_t map_count(const struct map *m);

/* Iterate: start with *pos = 0; returns 0 at the end. Do not modify the map
 * while iterating. */
int map_next(const struct map *m, size_t *pos, const char **key, void **value);

#endif
