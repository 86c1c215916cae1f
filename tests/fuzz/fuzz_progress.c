/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the progress loader (store/progress.c) from a buffer, the
 * path `recover` uses and rs_progress_load() wraps. A refused input must
 * say why (at least one diagnostic); an accepted one is saved (formatted)
 * and loaded again: that second load must succeed without a diagnostic and
 * format to the very same text (the file round-trips through ralphsup).
 * Every segment file the input names reads as the input itself, so the
 * segment reader (sealed entries, docs/progress.md) is fuzzed too.
 */
#include "fuzz.h"
#include "ralphsup/store/progress.h"

struct input {
    const uint8_t *data;
    size_t size;
};

static int read_input(void *ud, const char *rel, char **out, size_t *len)
{
    (void)rel;
    const struct input *in = ud;
    *out = malloc(in->size + 1);
    memcpy(*out, in->data, in->size);
    (*out)[in->size] = '\0';
    *len = in->size;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_progress *p = NULL;
    int r = rs_progress_parse_with((const char *)data, size, "batch_progress.json", read_input, &in, &p, &d);
    if (r != 0) {
        FUZZ_CHECK(r == RS_PROGRESS_E_INVALID && !p && d.n > 0, "refused (%d) without a diagnostic", r);
        rs_diags_deinit(&d);
        return 0;
    }
    FUZZ_CHECK(p != NULL, "accepted without a result");
    char *text = rs_progress_format(p);
    FUZZ_CHECK(text != NULL, "format");
    struct rs_diags d2;
    rs_diags_init(&d2);
    struct rs_progress *q = NULL;
    int r2 = rs_progress_parse_with(text, strlen(text), "saved", read_input, &in, &q, &d2);
    FUZZ_CHECK(r2 == 0 && d2.n == 0, "the saved file does not load back (%d): %s\n%s", r2,
               d2.n ? d2.msgs[0] : "", text);
    char *text2 = rs_progress_format(q);
    FUZZ_CHECK(strcmp(text, text2) == 0, "save/load/save changed the file:\n%s\n--- vs ---\n%s", text, text2);
    free(text);
    free(text2);
    rs_progress_free(q);
    rs_progress_free(p);
    rs_diags_deinit(&d2);
    rs_diags_deinit(&d);
    return 0;
}
