/* SPDX-License-Identifier: MIT */
/* Unit tests for util.c: durations, paths, atomic writes, redaction. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/base/util.h"

Test(util, duration_parse)
{
    struct { const char *in; int64_t ms; int r; } cases[] = {
        {"90s", 90000, 0}, {"15m", 900000, 0}, {"2h", 7200000, 0}, {"1h30m", 5400000, 0},
        {"45", 45000, 0}, {"500ms", 500, 0}, {"1d", 86400000, 0}, {"", 0, -22}, {"5x", 0, -22},
        {"h", 0, -22}, {"-5", 0, -22}, {"1.5h", 0, -22}, {"0", 0, 0}, {"0s", 0, 0},
        {"1d2h3m4s5ms", 93784005, 0}, {"1h500ms", 3600500, 0}, {"1m30", 0, -22},
        /* largest unit first, each once (docs/config.md) */
        {"30m1h", 0, -ERANGE}, {"1m1m", 0, -ERANGE}, {"5ms1s", 0, -ERANGE}, {"1s1m", 0, -ERANGE},
        {"1h1d", 0, -ERANGE}, {"1ms1ms", 0, -ERANGE},
        /* beyond INT64_MAX ms */
        {"999999999999d", 0, -22},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        int64_t ms = 0;
        int r = rs_duration_parse(cases[i].in, &ms);
        cr_expect_eq(r, cases[i].r, "%s: r=%d", cases[i].in, r);
        if (r == 0)
            cr_expect_eq(ms, cases[i].ms, "%s: %lld", cases[i].in, (long long)ms);
    }
}

Test(util, duration_format)
{
    char b[32];
    cr_expect_str_eq(rs_duration_format(372000, b, sizeof b), "6m12s");
    cr_expect_str_eq(rs_duration_format(45000, b, sizeof b), "45s");
    cr_expect_str_eq(rs_duration_format(3720000, b, sizeof b), "1h02m");
    cr_expect_str_eq(rs_duration_format(300, b, sizeof b), "0.3s");
}

Test(util, path_normalize_and_inside)
{
    char *p = rs_path_normalize("/a/./b/../c//d/");
    cr_expect_str_eq(p, "/a/c/d");
    free(p);
    p = rs_path_normalize("../x/../../y");
    cr_expect_str_eq(p, "../../y");
    free(p);
    cr_expect(rs_path_is_inside("/root/out", "/root/out/a.csv"));
    cr_expect(!rs_path_is_inside("/root/out", "/root/out/../secret"));
    cr_expect(!rs_path_is_inside("/root/out", "/root/output/a.csv"));
    cr_expect(rs_path_is_inside("/root/out", "/root/out"));
}

Test(util, atomic_write_and_read)
{
    char dir[] = "/tmp/rs-util-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *path = rs_path_join(dir, "f.json");
    cr_assert_eq(rs_file_write_atomic(path, "hello", 5, 0644), 0);
    cr_assert_eq(rs_file_write_atomic(path, "world!", 6, 0644), 0);
    char *data;
    size_t len;
    cr_assert_eq(rs_file_read(path, 100, &data, &len), 0);
    cr_expect_eq(len, 6);
    cr_expect_str_eq(data, "world!");
    free(data);
    cr_expect_eq(rs_file_read(path, 3, &data, &len), -27 /* EFBIG */);
    unlink(path);
    rmdir(dir);
    free(path);
}

Test(util, redact)
{
    const char *in = "key=sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123 and sk-short ok";
    size_t n;
    char *r = rs_redact(in, strlen(in), &n);
    cr_expect(strstr(r, "abcdefghij") == NULL);
    cr_expect(strstr(r, "sk-ant-***REDACTED***") != NULL);
    cr_expect(strstr(r, "sk-short") != NULL);
    free(r);
}

Test(util, redact_makes_text_valid_utf8)
{
    /* Well-formed text of 1-4 byte characters (and a NUL) is copied as it is. */
    static const char ok[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\0z";
    size_t n;
    char *r = rs_redact(ok, sizeof ok - 1, &n);
    cr_expect_eq(n, sizeof ok - 1);
    cr_expect_eq(memcmp(r, ok, n), 0);
    free(r);
    /* One U+FFFD per maximal ill-formed subsequence; a key after invalid bytes is still found. */
    const char *bad = "\x80|\xC3|\xE2\x82|\xF0\x9F\x98|\xED\xBF\xBF|\xE0\x9F\x80|\xF8\x88\x80\x80\x80|\xFF"
                      "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123|\xC3";
    r = rs_redact(bad, strlen(bad), &n);
    cr_expect_str_eq(r, "\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD|"
                        "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|"
                        "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|"
                        "\xEF\xBF\xBDsk-ant-***REDACTED***|\xEF\xBF\xBD");
    cr_expect_eq(n, strlen(r));
    free(r);
}

Test(util, did_you_mean)
{
    const char *c[] = {"max_iterations", "max_runtime", "kill_grace"};
    cr_expect_str_eq(rs_did_you_mean("max_iteration", c, 3), "max_iterations");
    cr_expect_str_eq(rs_did_you_mean("kil_grace", c, 3), "kill_grace");
    cr_expect_null(rs_did_you_mean("zzzzzzzzzz", c, 3));
}

Test(util, iso_time_roundtrip)
{
    char b[32];
    int64_t t = 1795561200000LL;
    rs_time_iso(t, b, sizeof b);
    int64_t back;
    cr_assert_eq(rs_time_parse_iso(b, &back), 0);
    cr_expect_eq(back, t);
}

Test(util, date_parse_checks_the_calendar)
{
    struct { const char *in; int r; } cases[] = {
        {"2026-11-24", 0},       {"2020-02-29", 0},       {"2000-02-29", 0},       {"2026-12-31", 0},
        {"2020-02-30", -ERANGE}, {"2019-02-29", -ERANGE}, {"1900-02-29", -ERANGE}, {"2026-04-31", -ERANGE},
        {"2026-13-01", -ERANGE}, {"2026-00-10", -ERANGE}, {"2026-01-00", -ERANGE}, {"2026-1-01", -EINVAL},
        {"26-11-2024", -EINVAL}, {"2026/11/24", -EINVAL}, {"", -EINVAL},          {"2026-11-24x", -EINVAL},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++)
        cr_expect_eq(rs_date_parse(cases[i].in, NULL, NULL, NULL), cases[i].r, "%s", cases[i].in);
    int y = 0, m = 0, d = 0;
    cr_assert_eq(rs_date_parse("2024-02-29", &y, &m, &d), 0);
    cr_expect(y == 2024 && m == 2 && d == 29);
    cr_expect_eq(rs_days_in_month(2024, 2), 29);
    cr_expect_eq(rs_days_in_month(2100, 2), 28);
    cr_expect_eq(rs_days_in_month(2026, 13), 0);
}

Test(util, plural)
{
    char b[64];
    for (uint64_t n = 0; n < 3; n++) {
        snprintf(b, sizeof b, "%llu %s", (unsigned long long)n, rs_plural(n, "overlap", "overlaps"));
        cr_expect_str_eq(b, n == 1 ? "1 overlap" : n == 0 ? "0 overlaps" : "2 overlaps");
    }
    cr_expect_str_eq(rs_plural(1, "process", "processes"), "process");
    cr_expect_str_eq(rs_plural(11, "process", "processes"), "processes");
}

Test(util, visible_names_invisible_characters)
{
    struct { const char *in, *out; } cases[] = {
        {"plain text, spaces kept", "plain text, spaces kept"},
        {"\xEF\xBB\xBF{", "<U+FEFF (byte order mark)>{"},
        {"a\tb\x01" "c", "a<U+0009 (tab)>b<U+0001>c"},
        {"no\xC2\xA0" "break", "no<U+00A0 (no-break space)>break"},
        {"zw\xE2\x80\x8Bsp", "zw<U+200B (zero width space)>sp"},
        {"bad \xFF byte", "bad <byte 0xFF (not UTF-8)> byte"},
        {"caf\xC3\xA9 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xF0\x9F\x98\x80"},
        {"\xC3", "<byte 0xC3 (not UTF-8)>"},
    };
    for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
        char *v = rs_visible(cases[i].in);
        cr_expect_str_eq(v, cases[i].out);
        free(v);
    }
    cr_expect_eq(rs_utf8_bom_len("\xEF\xBB\xBFx", 4), 3);
    cr_expect_eq(rs_utf8_bom_len("\xEF\xBB", 2), 0);
    cr_expect_eq(rs_utf8_bom_len("x", 1), 0);
}

Test(util, time_utc_formats)
{
    char b[32];
    cr_expect_str_eq(rs_time_utc(1795561200000LL, "%Y-%m-%d %H:%M", b, sizeof b), "2026-11-24 23:00");
}

static bool no_secret(const char *entry)
{
    return strncmp(entry, "SECRET=", 7) != 0;
}

Test(util, env_merge_replaces_names_and_filters)
{
    char p[] = "PATH=/bin", h[] = "HOME=/root", x[] = "SECRET=x", hd[] = "HOMEDIR=/h", w[] = "HOME=/work", n[] = "NEW=1";
    char *base[] = {p, h, x, hd, NULL};
    char *vars[] = {w, n};
    char **env = rs_env_merge(base, vars, 2, no_secret, 1);
    const char *want[] = {"PATH=/bin", "HOMEDIR=/h", "HOME=/work", "NEW=1"};
    for (size_t i = 0; i < RS_ARRAY_SIZE(want); i++)
        cr_expect_str_eq(env[i], want[i]);
    cr_expect_null(env[4]);
    cr_expect_null(env[5]); /* the spare slot */
    cr_expect_eq(rs_strv_len(env), 4);
    cr_expect_eq(rs_strv_len(NULL), 0);
    rs_strv_free(env);
    env = rs_env_merge(base, NULL, 0, NULL, 0);
    cr_expect_str_eq(env[2], "SECRET=x");
    cr_expect_null(env[4]);
    rs_strv_free(env);
}

Test(util, tmpdir_is_TMPDIR_else_tmp)
{
    cr_assert_eq(setenv("TMPDIR", "/var/tmp/x", 1), 0);
    cr_assert_str_eq(rs_tmpdir(), "/var/tmp/x");
    cr_assert_eq(setenv("TMPDIR", "", 1), 0); /* empty: as if unset */
    cr_assert_str_eq(rs_tmpdir(), "/tmp");
    cr_assert_eq(unsetenv("TMPDIR"), 0);
    cr_assert_str_eq(rs_tmpdir(), "/tmp");
}
