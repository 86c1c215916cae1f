/* SPDX-License-Identifier: MIT */
/*
 * The school list (data/target_schools_*.json) and the alias table
 * (data/school_aliases.json): load, validate (reporting every problem in one
 * pass with file:line:col or the school's index and name), canonicalise names
 * through aliases, detect duplicates after canonicalisation, compute stable
 * unique slugs, and order by priority.
 *
 * Pure data: no processes, no git, no libuv.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ralphsup/base/common.h"
#include "ralphsup/core/config.h"

struct rs_school {
    char *name;        /* canonical name */
    char *given_name;  /* as written in the list (may be an alias) */
    char *conference;
    char *state;       /* USPS code */
    int priority;      /* 1 (high) .. 3 (low); default 2 */
    char *slug;        /* lowercase ASCII [a-z0-9-], unique within the list */
    size_t index;      /* position in the JSON list */
    char *athletics_url;   /* optional https URL, or NULL */
    char **email_domains;  /* optional, NULL-terminated (NULL when none) */
    size_t nemail_domains;
};

struct rs_aliases; /* opaque */

struct rs_school_list {
    char *batch_name;  /* from the JSON, may be NULL */
    char *created;     /* may be NULL */
    struct rs_school *v;
    size_t n;
};

enum {
    RS_SCHOOLS_E_INVALID = 1, /* problems appended to diags */
};

/* Input bounds: larger files are refused (a reported problem), longer lists too. */
#define RS_SCHOOLS_MAX_BYTES ((size_t)16 << 20)
#define RS_SCHOOLS_MAX_COUNT 10000

/*
 * rs_aliases_load() - load the alias table (canonical -> [aliases]).
 * @path may be NULL: an empty table. Lookups are ASCII case-insensitive and
 * ignore runs of blanks. Caller frees *out with rs_aliases_free().
 * Return: 0, RS_SCHOOLS_E_INVALID (problems in @diags, also for a file over
 * RS_SCHOOLS_MAX_BYTES), -errno when the file cannot be read.
 */
int rs_aliases_load(const char *path, struct rs_aliases **out, struct rs_diags *diags);
struct rs_aliases *rs_aliases_free(struct rs_aliases *a);
/* Canonical name for @name (canonical or alias, case-insensitive), or NULL. */
const char *rs_aliases_resolve(const struct rs_aliases *a, const char *name);
/*
 * rs_aliases_parse() - rs_aliases_load() on @len bytes at @data; @file names
 * the input in messages. An alias equal to another school's canonical name,
 * or listed under two canonical names, is a problem.
 * Return: 0 (*out set, caller frees), RS_SCHOOLS_E_INVALID (problems in diags).
 */
int rs_aliases_parse(const char *data, size_t len, const char *file, struct rs_aliases **out,
                     struct rs_diags *diags);
/*
 * rs_aliases_of() - the aliases listed for canonical name @canon (matched
 * like rs_aliases_resolve()), in table order, into @out (up to @max);
 * returns how many there are (may exceed @max). Borrowed strings.
 */
size_t rs_aliases_of(const struct rs_aliases *a, const char *canon, const char **out, size_t max);
/* True when the table is empty (then every name is accepted as canonical). */
bool rs_aliases_empty(const struct rs_aliases *a);

/*
 * rs_schools_load() - load and validate the school list at @path against
 * @aliases (may be empty). Every school must be a canonical name or a known
 * alias when the table is not empty; unknown names get a "did you mean"; a
 * duplicate after canonicalisation names both entries.
 * A file larger than RS_SCHOOLS_MAX_BYTES is refused with a message.
 * On success *out is set (caller frees with rs_school_list_free()); slugs are
 * assigned in list order ("-2", "-3" on collision) and do not change on sort.
 * Return: 0, RS_SCHOOLS_E_INVALID (every problem appended to @diags), or
 * negative errno when the file cannot be read.
 */
int rs_schools_load(const char *path, const struct rs_aliases *aliases, struct rs_school_list **out,
                    struct rs_diags *diags);
struct rs_school_list *rs_school_list_free(struct rs_school_list *l);
/*
 * rs_schools_parse() - rs_schools_load() on @len bytes at @data; @file names
 * the input in messages. When the document is not valid JSON, each element
 * of "schools" is still parsed and validated on its own, so one run reports
 * syntax and schema problems together, each as "file:line:col: ...".
 * Return: 0 (*out set, caller frees), RS_SCHOOLS_E_INVALID (problems in diags).
 */
int rs_schools_parse(const char *data, size_t len, const char *file, const struct rs_aliases *aliases,
                     struct rs_school_list **out, struct rs_diags *diags);
/* True when @code is a USPS state, DC or territory code (upper case). */
bool rs_schools_state_valid(const char *code);

/* Order @l in place according to @order (stable). */
void rs_schools_sort(struct rs_school_list *l, enum rs_order order);
/* Find by canonical name, alias or slug (case-insensitive); NULL if absent. */
const struct rs_school *rs_schools_find(const struct rs_school_list *l, const struct rs_aliases *a,
                                        const char *name);

/*
 * rs_slugify() - lowercase ASCII slug: letters and digits kept, everything
 * else collapsed to single '-', trimmed, at most 64 chars, never empty
 * ("school"), never "." or "..". Caller frees.
 */
char *rs_slugify(const char *name);
