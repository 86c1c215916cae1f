/* SPDX-License-Identifier: MIT */
/*
 * Event log and transcripts: one JSON line per record, API keys redacted and
 * UTF-8 characters kept whole at every split point of the agent's output,
 * invalid UTF-8 written as U+FFFD (never raw, never dropped). Every test
 * removes its temp dir.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ralphsup/store/eventlog.h"
#include "ralphsup/base/util.h"

#define KEY "sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop0123456789"
#define RED "sk-ant-***REDACTED***"
#define FFFD "\xEF\xBF\xBD"

static char *slurp(const char *path, size_t *len)
{
    char *data;
    size_t n;
    cr_assert_eq(rs_file_read(path, 1 << 24, &data, &n), 0, "%s", path);
    if (len)
        *len = n;
    return data;
}

static char *mkdir_tmp(void)
{
    char *d = rs_xstrdup("/tmp/rs-evlog-XXXXXX");
    cr_assert(mkdtemp(d));
    return d;
}

static void rm_tmp(char *dir)
{
    char *cmd = rs_xasprintf("rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    struct stat st;
    cr_expect_neq(stat(dir, &st), 0, "%s left behind", dir);
    free(cmd);
    free(dir);
}

/* Byte-exact comparison that shows where the two differ. */
static void expect_bytes(const char *got, size_t glen, const char *want, size_t wlen, const char *what, size_t cut)
{
    size_t i = 0;
    while (i < glen && i < wlen && got[i] == want[i])
        i++;
    cr_expect(glen == wlen && i == glen, "%s, cut %zu: differs at byte %zu (got %zu bytes, want %zu): \"%.40s\"", what,
              cut, i, glen, wlen, i < glen ? got + i : "");
}

/*
 * Write @text to a fresh transcript cut at @cut (0: one byte per write),
 * stdout or stderr, and compare what lands in the file with @want.
 */
static void transcript_case(const char *dir, const char *text, size_t n, size_t cut, bool err, const char *want,
                            size_t wlen)
{
    struct rs_transcript *t;
    cr_assert_eq(rs_transcript_open(dir, "0001-x", &t), 0);
    void (*wr)(struct rs_transcript *, const char *, size_t) = err ? rs_transcript_write_stderr : rs_transcript_write;
    if (cut == 0) {
        for (size_t i = 0; i < n; i++)
            wr(t, text + i, 1);
    } else {
        wr(t, text, cut);
        wr(t, text + cut, n - cut);
    }
    char *path = rs_xasprintf("%s/0001-x.%s", dir, err ? "stderr" : "jsonl");
    rs_transcript_close(t);
    size_t glen;
    char *got = slurp(path, &glen);
    expect_bytes(got, glen, want, wlen, err ? "stderr" : "stdout", cut);
    free(got);
    unlink(path);
    free(path);
}

/* Every single split point (each byte offset), then one byte per write. */
static void every_split(const char *dir, const char *text, bool err, const char *want)
{
    size_t n = strlen(text), wlen = strlen(want);
    for (size_t cut = 1; cut < n; cut++)
        transcript_case(dir, text, n, cut, err, want, wlen);
    transcript_case(dir, text, n, 0, err, want, wlen);
}

Test(eventlog, records_are_lines_and_redacted)
{
    char *dir = mkdir_tmp();
    struct rs_eventlog *el;
    cr_assert_eq(rs_eventlog_open(dir, &el), 0);
    struct rs_evrec *r = rs_evrec_new("iteration-finished");
    rs_evrec_str(r, "school", "Université \"Q\"");
    rs_evrec_str(r, "reason", "leaked " KEY " here");
    rs_evrec_int(r, "attempt", 2);
    rs_evrec_bool(r, "ok", true);
    rs_eventlog_emit(el, r);
    rs_eventlog_emit(el, rs_evrec_new("second"));
    char *s = slurp(rs_eventlog_path(el), NULL);
    cr_expect(strstr(s, "ABCDEFGHIJ") == NULL, "key leaked: %s", s);
    cr_expect(strstr(s, RED));
    cr_expect(strstr(s, "\"event\":\"iteration-finished\""));
    cr_expect(strstr(s, "\"school\":\"Universit\\u00E9 \\\"Q\\\"\""), "%s", s);
    int lines = 0;
    for (char *q = s; *q; q++)
        lines += *q == '\n';
    cr_expect_eq(lines, 2);
    cr_expect_eq(rs_eventlog_error(el), 0);
    free(s);
    rs_eventlog_free(el);
    rm_tmp(dir);
}

/*
 * Outside text with bytes that are not UTF-8 (an agent's stderr line, a
 * reason from its output): jansson cannot dump such a string, so the record
 * used to vanish. Each maximal ill-formed subsequence becomes one U+FFFD.
 */
Test(eventlog, invalid_utf8_in_a_record_becomes_fffd_and_the_record_is_kept)
{
    char *dir = mkdir_tmp();
    struct rs_eventlog *el;
    cr_assert_eq(rs_eventlog_open(dir, &el), 0);
    struct rs_evrec *r = rs_evrec_new("iteration-finished");
    /* stray byte, lead without continuation, truncated 3-byte, surrogate, overlong, above U+10FFFF */
    rs_evrec_str(r, "reason", "a\xFF" "b\xC3(c\xE2\x82 d\xED\xA0\x80" "e\xC0\xAF" "f\xF4\x90\x80\x80" "g é");
    const char *tools[] = {"Bash\xFE", "Read"};
    rs_evrec_strv(r, "tools", tools, 2);
    rs_evrec_str(r, "tail", "cut at the end \xF0\x9F\x98");
    rs_eventlog_emit(el, r);
    cr_expect_eq(rs_eventlog_error(el), 0);

    size_t len;
    char *s = slurp(rs_eventlog_path(el), &len);
    cr_assert_gt(len, 0, "the record was dropped");
    for (size_t i = 0; i < len; i++)
        cr_assert_lt((unsigned char)s[i], 0x80, "raw byte %#x at %zu in %s", (unsigned char)s[i], i, s);
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    cr_assert(j, "not JSON: %s: %s", je.text, s);
    cr_expect_str_eq(json_string_value(json_object_get(j, "reason")),
                     "a" FFFD "b" FFFD "(c" FFFD " d" FFFD FFFD FFFD "e" FFFD FFFD "f" FFFD FFFD FFFD FFFD "g é");
    json_t *tv = json_object_get(j, "tools");
    cr_assert_eq(json_array_size(tv), 2, "an element was dropped");
    cr_expect_str_eq(json_string_value(json_array_get(tv, 0)), "Bash" FFFD);
    cr_expect_str_eq(json_string_value(json_array_get(tv, 1)), "Read");
    cr_expect_str_eq(json_string_value(json_object_get(j, "tail")), "cut at the end " FFFD);
    json_decref(j);
    free(s);
    rs_eventlog_free(el);
    rm_tmp(dir);
}

Test(eventlog, transcript_redacts_keys_and_keeps_characters_at_every_split_point, .timeout = 60)
{
    char *dir = mkdir_tmp();
    /* Multibyte characters of 2, 3 and 4 bytes, one right before the key. */
    const char *text = "{\"type\":\"assistant\",\"text\":\"Universit\xC3\xA9 \xE2\x82\xAC 5 \xF0\x9F\x98\x80 "
                       "\xC3\xA9" KEY " end\"}\n{\"type\":\"result\"}\n";
    const char *want = "{\"type\":\"assistant\",\"text\":\"Universit\xC3\xA9 \xE2\x82\xAC 5 \xF0\x9F\x98\x80 "
                       "\xC3\xA9" RED " end\"}\n{\"type\":\"result\"}\n";
    every_split(dir, text, false, want);
    rm_tmp(dir);
}

Test(eventlog, transcript_writes_invalid_utf8_as_fffd_at_every_split_point, .timeout = 60)
{
    char *dir = mkdir_tmp();
    /*
     * Stray bytes, a lead byte without its continuation, a truncated sequence
     * before ASCII, a surrogate, an overlong form, a key after invalid bytes,
     * and a character cut off by the end of the stream (flushed at close).
     */
    const char *text = "x\xFF\xFEy \xC3(z \xE2\x82 w \xED\xA0\x80 v \xC0\xAF u\xFF" KEY " t \xF0\x9F\x98";
    const char *want = "x" FFFD FFFD "y " FFFD "(z " FFFD " w " FFFD FFFD FFFD " v " FFFD FFFD " u" FFFD RED
                       " t " FFFD;
    every_split(dir, text, false, want);
    rm_tmp(dir);
}

Test(eventlog, stderr_redacts_and_keeps_characters_at_every_split_point, .timeout = 60)
{
    char *dir = mkdir_tmp();
    const char *text = "debug: key=" KEY " caf\xC3\xA9 \xE2\x82\xAC bad\xFF\n";
    const char *want = "debug: key=" RED " caf\xC3\xA9 \xE2\x82\xAC bad" FFFD "\n";
    every_split(dir, text, true, want);
    rm_tmp(dir);
}

/* The 1 MiB cap may cut a character: the cut character is one U+FFFD, then the note. */
Test(eventlog, stderr_cap_cuts_a_character_into_fffd)
{
    char *dir = mkdir_tmp();
    size_t cap = 1u << 20;
    char *big = rs_xmalloc(cap + 16);
    memset(big, 'a', cap - 1);
    memcpy(big + cap - 1, "\xC3\xA9 more", 7); /* é straddles the cap */
    struct rs_transcript *t;
    cr_assert_eq(rs_transcript_open(dir, "0002-y", &t), 0);
    rs_transcript_write_stderr(t, big, cap / 2);
    rs_transcript_write_stderr(t, big + cap / 2, cap + 6 - cap / 2);
    rs_transcript_write_stderr(t, "ignored", 7);
    rs_transcript_close(t);
    char *path = rs_xasprintf("%s/0002-y.stderr", dir);
    size_t len;
    char *s = slurp(path, &len);
    static const char note[] = "\n[ralphsup: stderr truncated at 1 MiB]\n";
    cr_assert_eq(len, cap - 1 + 3 + strlen(note));
    cr_expect_eq(memcmp(s, big, cap - 1), 0);
    cr_expect_eq(memcmp(s + cap - 1, FFFD, 3), 0);
    cr_expect_str_eq(s + cap + 2, note);
    free(s);
    free(path);
    free(big);
    rm_tmp(dir);
}
