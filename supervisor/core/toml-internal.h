/* SPDX-License-Identifier: MIT */
/*
 * Private to the config module: a C-callable view of a parsed TOML document.
 * toml_shim.cpp (the only C++ in ralphsup) runs toml++ and copies its tree
 * into plain C nodes that keep the TOML type (integer vs float), the key and
 * value positions and nothing else, so config.c can validate every key and
 * report "file:line:col" without ever touching C++.
 *
 * Deliberately does not interpret anything: no defaults, no schema, no
 * paths. Dates and times are not converted; they surface as
 * RS_TOML_DATETIME so the validator can reject them with a position.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum rs_toml_kind {
    RS_TOML_TABLE = 0,
    RS_TOML_ARRAY,
    RS_TOML_STRING,
    RS_TOML_INTEGER,
    RS_TOML_FLOAT,
    RS_TOML_BOOLEAN,
    RS_TOML_DATETIME, /* date, time or date-time: value not kept */
};

struct rs_toml_node {
    enum rs_toml_kind kind;
    char *key;          /* key inside the parent table; NULL for the root and array items */
    int line, col;      /* where the key is written (the value for array items); 0 = unknown */
    int vline, vcol;    /* where the value starts (table header for tables); 0 = unknown */
    char *str;          /* RS_TOML_STRING: NUL-terminated copy */
    size_t str_len;     /* its length in bytes; differs from strlen() if it holds a NUL */
    int64_t integer;    /* RS_TOML_INTEGER */
    double real;        /* RS_TOML_FLOAT (may be inf or nan) */
    bool boolean;       /* RS_TOML_BOOLEAN */
    struct rs_toml_node *children; /* table entries in document order, or array items */
    size_t nchildren;
};

/*
 * rs__toml_parse() - parse @len bytes of TOML at @text.
 * @source: name used by toml++ in its messages (the config file path).
 * @out: set only on success to the root table; free with rs__toml_free().
 * @err, @errlen: on a syntax error, toml++'s description (NUL-terminated).
 * @line, @col: on a syntax error, its position (1-based; 0 if unknown).
 * Never throws: every C++ exception is caught inside the shim.
 * Return: 0, 1 on a TOML syntax error (err/line/col filled), or -ENOMEM.
 */
int rs__toml_parse(const char *text, size_t len, const char *source, struct rs_toml_node **out, char *err,
                   size_t errlen, int *line, int *col);

/* Free a tree returned by rs__toml_parse(); NULL-safe. Return: NULL. */
struct rs_toml_node *rs__toml_free(struct rs_toml_node *root);

/* "table", "array", "string", "integer", "float", "boolean", "date-time". */
const char *rs__toml_kind_name(enum rs_toml_kind kind);

#ifdef __cplusplus
}
#endif
