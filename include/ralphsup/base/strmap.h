/* SPDX-License-Identifier: MIT */
/*
 * A string -> size_t hash map: FNV-1a, open addressing with linear probing,
 * at most half full, keys copied. It is what turns "is this name known, and
 * where" into O(1) for the school list, the aliases, the lead sheet's coach
 * names and the progress state, so that big (but capped) inputs stay O(n).
 * Allocation failure aborts (rs_xmalloc); nothing else can fail. A zeroed
 * struct is an empty map; rs_strmap_deinit() frees it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct rs_strmap {
    char **keys; /* NULL: free slot */
    size_t *vals;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

void rs_strmap_deinit(struct rs_strmap *m);
/* The value of @key, or NULL. The pointer is valid until the next change. */
const size_t *rs_strmap_get(const struct rs_strmap *m, const char *key);
/* Insert @key -> @val unless @key is present. Return: true if inserted. */
bool rs_strmap_add(struct rs_strmap *m, const char *key, size_t val);
/* Insert or overwrite @key -> @val. */
void rs_strmap_put(struct rs_strmap *m, const char *key, size_t val);
/* Remove @key. Return: true if it was present. */
bool rs_strmap_del(struct rs_strmap *m, const char *key);
