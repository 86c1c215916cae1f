/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the TOML configuration (core/config.c through the toml++
 * shim, toml_shim.cpp). The input is written as a config file in a private
 * directory (rs_config_load() reads a path) and loaded: it is either
 * accepted, with every path absolute, or refused with at least one
 * "file:line:col" diagnostic naming the file; never a crash, a C++
 * exception crossing into C, or a leak. The lenient locator load
 * (rs_config_load_locator, used by `stop` and `status`) must accept any
 * file it can read.
 */
#include "fuzz.h"
#include "ralphsup/core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("ralphsup.toml", data, size);
    struct rs_diags d;
    rs_diags_init(&d);
    struct rs_config *cfg = NULL;
    int r = rs_config_load(path, &cfg, &d);
    if (r == 0) {
        FUZZ_CHECK(cfg && d.n == 0, "accepted with %zu diagnostics", d.n);
        FUZZ_CHECK(cfg->root[0] == '/' && cfg->progress[0] == '/' && cfg->schools[0] == '/' &&
                       cfg->output_dir[0] == '/',
                   "a relative path after loading");
        struct rs_limits def;
        rs_limits_defaults(&def);
        free(rs_limits_diff(&def, &cfg->limits));
        FUZZ_CHECK(rs_config_price(cfg, "claude-opus-4-5") != NULL, "no price");
        rs_config_agent_model(cfg);
        free(rs_config_output_csv(cfg, "school"));
        free(rs_config_relpath(cfg, "/x/y.csv"));
        rs_config_free(cfg);
    } else {
        FUZZ_CHECK(r == RS_CONFIG_E_INVALID && !cfg && d.n > 0, "refused (%d) without a diagnostic", r);
        for (size_t i = 0; i < d.n; i++)
            FUZZ_CHECK(strncmp(d.msgs[i], path, strlen(path)) == 0, "diagnostic does not name the file: %s",
                       d.msgs[i]);
    }
    rs_diags_deinit(&d);

    struct rs_config *loc = NULL;
    FUZZ_CHECK(rs_config_load_locator(path, &loc) == 0 && loc, "the locator refused a readable file");
    FUZZ_CHECK(loc->root && loc->progress, "locator without root/progress");
    rs_config_free(loc);
    return 0;
}
