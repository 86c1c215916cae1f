// SPDX-License-Identifier: MIT
//
// The TOML shim: the only C++ file in ralphsup. It runs toml++ over a buffer
// and copies the resulting tree into the plain C nodes declared in
// toml-internal.h, keeping integer vs float, the key and value positions,
// and marking dates/times instead of converting them.
//
// It deliberately knows nothing about the config schema, and it never lets
// a C++ exception cross into C: toml++ is built with exceptions (the Debian
// shared library only exports that ABI), so everything is caught here.

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "toml-internal.h"

namespace {

char *dup_bytes(const char *s, size_t n)
{
    char *p = static_cast<char *>(std::malloc(n + 1));
    if (!p)
        throw std::bad_alloc();
    if (n)
        std::memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int clamp_pos(toml::source_index v)
{
    return v > 0x7fffffffu ? 0x7fffffff : static_cast<int>(v);
}

void free_children(rs_toml_node *n)
{
    for (size_t i = 0; i < n->nchildren; i++) {
        free_children(&n->children[i]);
        std::free(n->children[i].key);
        std::free(n->children[i].str);
    }
    std::free(n->children);
    n->children = nullptr;
    n->nchildren = 0;
}

rs_toml_node *alloc_children(size_t n)
{
    if (n == 0)
        return nullptr;
    // calloc so a partially filled array can always be freed safely.
    auto *c = static_cast<rs_toml_node *>(std::calloc(n, sizeof(rs_toml_node)));
    if (!c)
        throw std::bad_alloc();
    return c;
}

bool by_position(const rs_toml_node &a, const rs_toml_node &b)
{
    // Unknown positions (implicit tables) sort last; ties keep key order.
    unsigned al = a.line > 0 ? static_cast<unsigned>(a.line) : 0xffffffffu;
    unsigned bl = b.line > 0 ? static_cast<unsigned>(b.line) : 0xffffffffu;
    if (al != bl)
        return al < bl;
    return a.col < b.col;
}

void fill(rs_toml_node *dst, const toml::node &src)
{
    dst->vline = clamp_pos(src.source().begin.line);
    dst->vcol = clamp_pos(src.source().begin.column);
    switch (src.type()) {
    case toml::node_type::table: {
        const toml::table &t = *src.as_table();
        dst->kind = RS_TOML_TABLE;
        dst->children = alloc_children(t.size());
        for (auto &&[k, v] : t) {
            rs_toml_node *c = &dst->children[dst->nchildren++];
            c->key = dup_bytes(k.str().data(), k.str().size());
            c->line = clamp_pos(k.source().begin.line);
            c->col = clamp_pos(k.source().begin.column);
            fill(c, v);
            if (c->line == 0) {
                c->line = c->vline;
                c->col = c->vcol;
            }
        }
        // toml::table is ordered by key; callers want document order so
        // that diagnostics come out in the order the user reads the file.
        if (dst->nchildren > 1)
            std::stable_sort(dst->children, dst->children + dst->nchildren, by_position);
        break;
    }
    case toml::node_type::array: {
        const toml::array &a = *src.as_array();
        dst->kind = RS_TOML_ARRAY;
        dst->children = alloc_children(a.size());
        for (const toml::node &v : a) {
            rs_toml_node *c = &dst->children[dst->nchildren++];
            fill(c, v);
            c->line = c->vline;
            c->col = c->vcol;
        }
        break;
    }
    case toml::node_type::string: {
        const std::string &s = src.as_string()->get();
        dst->kind = RS_TOML_STRING;
        dst->str = dup_bytes(s.data(), s.size());
        dst->str_len = s.size();
        break;
    }
    case toml::node_type::integer:
        dst->kind = RS_TOML_INTEGER;
        dst->integer = src.as_integer()->get();
        break;
    case toml::node_type::floating_point:
        dst->kind = RS_TOML_FLOAT;
        dst->real = src.as_floating_point()->get();
        break;
    case toml::node_type::boolean:
        dst->kind = RS_TOML_BOOLEAN;
        dst->boolean = src.as_boolean()->get();
        break;
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
    case toml::node_type::none:
        dst->kind = RS_TOML_DATETIME;
        break;
    }
}

void set_err(char *err, size_t errlen, std::string_view msg)
{
    if (!err || errlen == 0)
        return;
    size_t n = std::min(msg.size(), errlen - 1);
    std::memcpy(err, msg.data(), n);
    err[n] = '\0';
}

} // namespace

extern "C" int rs__toml_parse(const char *text, size_t len, const char *source, rs_toml_node **out, char *err,
                              size_t errlen, int *line, int *col)
{
    rs_toml_node *root = nullptr;
    if (line)
        *line = 0;
    if (col)
        *col = 0;
    set_err(err, errlen, "");
    try {
        toml::table doc = toml::parse(std::string_view(text, len), std::string_view(source ? source : ""));
        root = static_cast<rs_toml_node *>(std::calloc(1, sizeof(*root)));
        if (!root)
            throw std::bad_alloc();
        fill(root, doc);
        root->line = 1;
        root->col = 1;
        *out = root;
        return 0;
    } catch (const toml::parse_error &e) {
        set_err(err, errlen, e.description());
        if (line)
            *line = clamp_pos(e.source().begin.line);
        if (col)
            *col = clamp_pos(e.source().begin.column);
        rs__toml_free(root);
        return 1;
    } catch (const std::bad_alloc &) {
        set_err(err, errlen, "out of memory");
        rs__toml_free(root);
        return -ENOMEM;
    } catch (const std::exception &e) {
        // Anything else toml++ or the standard library throws is reported
        // as a syntax problem of this input rather than crossing into C.
        set_err(err, errlen, e.what());
        rs__toml_free(root);
        return 1;
    } catch (...) {
        set_err(err, errlen, "unexpected error in the TOML parser");
        rs__toml_free(root);
        return 1;
    }
}

extern "C" rs_toml_node *rs__toml_free(rs_toml_node *root)
{
    if (root) {
        free_children(root);
        std::free(root->key);
        std::free(root->str);
        std::free(root);
    }
    return nullptr;
}

extern "C" const char *rs__toml_kind_name(rs_toml_kind kind)
{
    switch (kind) {
    case RS_TOML_TABLE:
        return "table";
    case RS_TOML_ARRAY:
        return "array";
    case RS_TOML_STRING:
        return "string";
    case RS_TOML_INTEGER:
        return "integer";
    case RS_TOML_FLOAT:
        return "float";
    case RS_TOML_BOOLEAN:
        return "boolean";
    case RS_TOML_DATETIME:
        return "date-time";
    }
    return "value";
}
