/* SPDX-License-Identifier: MIT */
/*
 * The string map of strmap.h. Deletion shifts the following run back
 * (linear probing needs no tombstones), so a map that sees many removals —
 * schools moving from pending to completed — never fills up with dead slots.
 */
#include "ralphsup/base/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/common.h"

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static size_t slot(const struct rs_strmap *m, const char *key)
{
    size_t i = hash(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void grow(struct rs_strmap *m)
{
    struct rs_strmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->keys = rs_xcalloc(m->cap, sizeof(*m->keys));
    m->vals = rs_xcalloc(m->cap, sizeof(*m->vals));
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.keys[i])
            continue;
        size_t j = slot(m, old.keys[i]);
        m->keys[j] = old.keys[i];
        m->vals[j] = old.vals[i];
    }
    free(old.keys);
    free(old.vals);
}

const size_t *rs_strmap_get(const struct rs_strmap *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = slot(m, key);
    return m->keys[i] ? &m->vals[i] : NULL;
}

static size_t *find_or_insert(struct rs_strmap *m, const char *key, bool *inserted)
{
    if ((m->n + 1) * 2 > m->cap)
        grow(m);
    size_t i = slot(m, key);
    *inserted = !m->keys[i];
    if (*inserted) {
        m->keys[i] = rs_xstrdup(key);
        m->n++;
    }
    return &m->vals[i];
}

bool rs_strmap_add(struct rs_strmap *m, const char *key, size_t val)
{
    bool inserted;
    size_t *v = find_or_insert(m, key, &inserted);
    if (inserted)
        *v = val;
    return inserted;
}

void rs_strmap_put(struct rs_strmap *m, const char *key, size_t val)
{
    bool inserted;
    *find_or_insert(m, key, &inserted) = val;
}

bool rs_strmap_del(struct rs_strmap *m, const char *key)
{
    if (m->cap == 0)
        return false;
    size_t mask = m->cap - 1, i = slot(m, key);
    if (!m->keys[i])
        return false;
    free(m->keys[i]);
    m->keys[i] = NULL;
    m->n--;
    /* Move back every later member of the run whose home is not in (i, j]. */
    for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = hash(m->keys[j]) & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        m->keys[i] = m->keys[j];
        m->vals[i] = m->vals[j];
        m->keys[j] = NULL;
        i = j;
    }
    return true;
}

void rs_strmap_deinit(struct rs_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}
