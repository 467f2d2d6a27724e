/* String-keyed open-addressing hash map with backward-shift deletion. */
#include "map-internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	char *key; /* NULL = empty */
	void *value;
	uint64_t hash;
};

struct map {
	struct slot *slots;
	size_t cap; /* power of two */
	size_t count;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h ? h : 1;
}

struct map *map_new(void)
{
	struct map *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->cap = 16;
	m->slots = calloc(m->cap, sizeof *m->slots);
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void map_free(struct map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static size_t find(const struct map *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1, i = h & mask;
	while (m->slots[i].key &&
	       (m->slots[i].hash != h || strcmp(m->slots[i].key, key) != 0))
		i = (i + 1) & mask;
	return i;
}

static int grow(struct map *m)
{
	size_t ncap = m->cap * 2;
	struct slot *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		size_t j = m->slots[i].hash & (ncap - 1);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

void *map_get(const struct map *m, const char *key)
{
	size_t i = find(m, key, hash_str(key));
	return m->slots[i].key ? m->slots[i].value : NULL;
}

int map_put(struct map *m, const char *key, void *value)
{
	if ((m->count + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return -1;
	uint64_t h = hash_str(key);
	size_t i = find(m, key, h);
	if (m->slots[i].key) {
		m->slots[i].value = value;
		return 0;
	}
	char *k = strdup(key);
	if (!k)
		return -1;
	m->slots[i] = (struct slot){k, value, h};
	m->count++;
	return 0;
}

void *map_del(struct map *m, const char *key)
{
	size_t mask = m->cap - 1, i = find(m, key, hash_str(key));
	if (!m->slots[i].key)
		return NULL;
	void *old = m->slots[i].value;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->count--;
	/* Shift later members of the probe run back so lookups never stop
	 * early at the hole. */
	for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j].key = NULL;
			i = j;
		}
	}
	return old;
}

size_t map_count(const struct map *m)
{
	return m->count;
}

int map_next(const struct map *m, size_t *pos, const char **key, void **value)
{
	for (; *pos < m->cap; (*pos)++) {
		if (m->slots[*pos].key) {
			*key = m->slots[*pos].key;
			*value = m->slots[*pos].value;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
