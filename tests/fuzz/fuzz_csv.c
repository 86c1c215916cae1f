/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the CSV reader (core/csv.c). The input is parsed in one
 * buffer and again fed in random chunks (drawn from a hash of the input),
 * with the default caps or small ones, strict or ragged: both runs must
 * deliver the same records and end with the same outcome and position;
 * every field is NUL-terminated at its length, the record count and field
 * counts respect the caps, and a strict parse has one field count.
 */
#include "fuzz.h"
#include "ralphsup/core/csv.h"

struct run {
    struct rs_buf d;
    const struct rs_csv_opts *o;
    size_t width; /* fields of the first record */
    size_t n;
};

static int on_record(void *ud, const struct rs_csv_record *rec)
{
    struct run *r = ud;
    FUZZ_CHECK(rec->index == r->n, "record index %zu, expected %zu", rec->index, r->n);
    FUZZ_CHECK(rec->nfields >= 1, "a record without fields");
    if (r->o->max_fields)
        FUZZ_CHECK(rec->nfields <= r->o->max_fields, "%zu fields over the cap", rec->nfields);
    if (r->n == 0)
        r->width = rec->nfields;
    else if (!r->o->allow_ragged)
        FUZZ_CHECK(rec->nfields == r->width, "%zu fields, header has %zu", rec->nfields, r->width);
    rs_buf_printf(&r->d, "\n[%zu line %zu]", rec->index, rec->line);
    for (size_t i = 0; i < rec->nfields; i++) {
        FUZZ_CHECK(rec->fields[i][rec->lens[i]] == '\0', "field not NUL-terminated");
        if (r->o->max_field)
            FUZZ_CHECK(rec->lens[i] <= r->o->max_field, "field of %zu bytes over the cap", rec->lens[i]);
        fuzz_put(&r->d, "f", rec->fields[i], rec->lens[i]);
    }
    r->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = fuzz_hash(data, size) | 1;
    uint64_t x = fuzz_next(&seed);
    struct rs_csv_opts o = {0};
    o.allow_ragged = x & 2;
    if (x & 1) {
        o.max_field = 1 + (size_t)((x >> 8) % 64);
        o.max_record = 1 + (size_t)((x >> 16) % 256);
        o.max_fields = 1 + (size_t)((x >> 24) % 16);
        o.max_file = 1 + (size_t)((x >> 32) % 4096);
    }
    struct run a = {.o = &o}, b = {.o = &o};
    rs_buf_init(&a.d);
    rs_buf_init(&b.d);
    struct rs_csv_error ea = {0}, eb = {0};
    int ra = rs_csv_parse_buffer((const char *)data, size, &o, on_record, &a, &ea);

    struct rs_csv_parser *p = rs_csv_parser_new(&o, on_record, &b);
    int rb = 0;
    size_t off = 0;
    while (off < size && rb == 0) {
        size_t n = fuzz_chunk(&seed, size - off);
        rb = rs_csv_parser_feed(p, (const char *)data + off, n, &eb);
        off += n;
    }
    if (rb == 0)
        rb = rs_csv_parser_finish(p, &eb);
    FUZZ_CHECK(rs_csv_parser_records(p) == b.n, "records %zu, delivered %zu", rs_csv_parser_records(p), b.n);
    rs_csv_parser_free(p);

    FUZZ_CHECK(ra >= 0 && ra <= RS_CSV_E_TOO_BIG, "outcome %d", ra);
    FUZZ_CHECK(ra == rb && a.d.len == b.d.len && (a.d.len == 0 || memcmp(a.d.data, b.d.data, a.d.len) == 0),
               "chunked parse differs: %d vs %d\n--- whole ---%s\n--- chunks ---%s", ra, rb, rs_buf_cstr(&a.d),
               rs_buf_cstr(&b.d));
    if (ra) {
        FUZZ_CHECK(ea.line == eb.line && ea.col == eb.col && strcmp(ea.msg, eb.msg) == 0,
                   "error differs: %zu:%zu %s vs %zu:%zu %s", ea.line, ea.col, ea.msg, eb.line, eb.col, eb.msg);
        FUZZ_CHECK(ea.msg[0] != '\0', "an error without a message");
        char buf[256];
        rs_csv_error_format("x.csv", &ea, buf, sizeof buf);
    }
    rs_buf_deinit(&a.d);
    rs_buf_deinit(&b.d);
    return 0;
}
