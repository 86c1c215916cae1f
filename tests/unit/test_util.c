/* SPDX-License-Identifier: MIT */
/* Unit tests for util.c: durations, paths, atomic writes, redaction. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ralphsup/util.h"

Test(util, duration_parse)
{
    struct { const char *in; int64_t ms; int r; } cases[] = {
        {"90s", 90000, 0}, {"15m", 900000, 0}, {"2h", 7200000, 0}, {"1h30m", 5400000, 0},
        {"45", 45000, 0}, {"500ms", 500, 0}, {"1d", 86400000, 0}, {"", 0, -22}, {"5x", 0, -22},
        {"h", 0, -22}, {"-5", 0, -22}, {"1.5h", 0, -22},
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
