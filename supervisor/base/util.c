/* SPDX-License-Identifier: MIT */
/*
 * Dependency-free helpers: crash-safe file replacement,
 * bounded reads, path arithmetic, durations, timestamps, redaction and edit
 * distance. Every function returns 0 / negative errno and never prints.
 */
#define _GNU_SOURCE /* strcasestr */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ralphsup/base/utf8.h"
#include "ralphsup/base/util.h"

/* ---- files ------------------------------------------------------------- */

int rs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int rs_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
    close(fd);
    return r;
}

const char *rs_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

int rs_fsync_parent_dir(const char *path)
{
    char *dir = rs_path_dirname(path);
    int r = rs_fsync_path(dir);
    free(dir);
    return r;
}

int rs_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    char *tmp = rs_xasprintf("%s.tmp.XXXXXX", path);
    int r;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        r = -errno;
        free(tmp);
        return r;
    }
    r = rs_write_all(fd, data, len);
    if (r == 0 && fchmod(fd, (mode_t)mode) < 0)
        r = -errno;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        free(tmp);
        return r;
    }
    free(tmp);
    return rs_fsync_parent_dir(path);
}

int rs_file_read(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = rs_fd_read(fd, max, out, len);
    close(fd);
    return r;
}

int rs_fd_read(int fd, size_t max, char **out, size_t *len)
{
    struct rs_buf b;
    rs_buf_init(&b);
    char chunk[65536];
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > max) {
            r = -EFBIG;
            break;
        }
        rs_buf_append(&b, chunk, (size_t)n);
    }
    if (r < 0) {
        rs_buf_deinit(&b);
        return r;
    }
    *len = b.len;
    *out = rs_buf_steal(&b);
    return 0;
}

int rs_mkdir_p(const char *path, unsigned mode)
{
    char *p = rs_xstrdup(path);
    int r = 0;
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
                r = -errno;
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    if (r == 0) {
        struct stat st;
        if (stat(path, &st) < 0)
            return -errno;
        if (!S_ISDIR(st.st_mode))
            return -ENOTDIR;
    }
    return r;
}

bool rs_file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* ---- paths ------------------------------------------------------------- */

char *rs_path_join(const char *base, const char *rel)
{
    if (rel[0] == '/' || base == NULL || base[0] == '\0')
        return rs_xstrdup(rel);
    size_t bl = strlen(base);
    if (bl > 0 && base[bl - 1] == '/')
        return rs_xasprintf("%s%s", base, rel);
    return rs_xasprintf("%s/%s", base, rel);
}

char *rs_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return rs_xstrdup(".");
    if (slash == path)
        return rs_xstrdup("/");
    return rs_xstrndup(path, (size_t)(slash - path));
}

char *rs_path_normalize(const char *path)
{
    bool abs = path[0] == '/';
    size_t n = strlen(path);
    /* Components are pushed onto a stack of (start,len) pairs. */
    const char **comp = rs_xmalloc((n / 2 + 2) * sizeof(*comp));
    size_t *clen = rs_xmalloc((n / 2 + 2) * sizeof(*clen));
    size_t nc = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t l = (size_t)(p - s);
        if (l == 1 && s[0] == '.')
            continue;
        if (l == 2 && s[0] == '.' && s[1] == '.') {
            if (nc > 0 && !(clen[nc - 1] == 2 && comp[nc - 1][0] == '.' && comp[nc - 1][1] == '.')) {
                nc--;
                continue;
            }
            if (abs)
                continue; /* "/.." is "/" */
        }
        comp[nc] = s;
        clen[nc] = l;
        nc++;
    }
    struct rs_buf b;
    rs_buf_init(&b);
    if (abs)
        rs_buf_putc(&b, '/');
    for (size_t i = 0; i < nc; i++) {
        if (i > 0)
            rs_buf_putc(&b, '/');
        rs_buf_append(&b, comp[i], clen[i]);
    }
    if (b.len == 0)
        rs_buf_putc(&b, '.');
    free(comp);
    free(clen);
    return rs_buf_steal(&b);
}

char *rs_path_absolute(const char *path)
{
    if (path[0] == '/')
        return rs_path_normalize(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return rs_path_normalize(path);
    char *j = rs_path_join(cwd, path);
    char *r = rs_path_normalize(j);
    free(j);
    return r;
}

bool rs_path_is_inside(const char *dir, const char *path)
{
    char *d = rs_path_normalize(dir);
    char *p = rs_path_normalize(path);
    size_t dl = strlen(d);
    bool in;
    if (strcmp(d, "/") == 0)
        in = p[0] == '/';
    else if (strcmp(d, ".") == 0)
        in = p[0] != '/' && !(p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'));
    else
        in = strncmp(d, p, dl) == 0 && (p[dl] == '/' || p[dl] == '\0');
    free(d);
    free(p);
    return in;
}

/* ---- durations and time ------------------------------------------------ */

int rs_duration_parse(const char *s, int64_t *out_ms)
{
    if (!s || !*s)
        return -EINVAL;
    const char *p = s;
    int64_t total = 0;
    bool any = false;
    /* Plain integer = seconds. */
    bool alldigits = true;
    for (const char *q = s; *q; q++)
        if (!isdigit((unsigned char)*q))
            alldigits = false;
    if (alldigits) {
        if (strlen(s) > 12)
            return -EINVAL;
        *out_ms = strtoll(s, NULL, 10) * 1000;
        return 0;
    }
    /* Units by rank, largest first: each may appear once, in this order. */
    static const int64_t mults[] = {86400000, 3600000, 60000, 1000, 1};
    int last = -1;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        int64_t v = 0;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (++nd > 12)
                return -EINVAL;
            v = v * 10 + (*p - '0');
            p++;
        }
        int rank;
        if (p[0] == 'm' && p[1] == 's') {
            rank = 4;
            p += 2;
        } else if (*p == 'd') {
            rank = 0;
            p++;
        } else if (*p == 'h') {
            rank = 1;
            p++;
        } else if (*p == 'm') {
            rank = 2;
            p++;
        } else if (*p == 's') {
            rank = 3;
            p++;
        } else {
            return -EINVAL;
        }
        if (rank <= last)
            return -ERANGE;
        last = rank;
        if (v > (INT64_MAX - total) / mults[rank])
            return -EINVAL;
        total += v * mults[rank];
        any = true;
    }
    if (!any)
        return -EINVAL;
    *out_ms = total;
    return 0;
}

const char *rs_plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int rs_date_parse(const char *s, int *year, int *month, int *day)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -EINVAL;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return -EINVAL;
    int y = atoi(s), m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    if (m < 1 || m > 12 || d < 1 || d > rs_days_in_month(y, m))
        return -ERANGE;
    if (year)
        *year = y;
    if (month)
        *month = m;
    if (day)
        *day = d;
    return 0;
}

int rs_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

const char *rs_duration_format(int64_t ms, char *buf, size_t n)
{
    if (ms < 0)
        ms = 0;
    int64_t s = ms / 1000;
    if (ms < 10000 && ms % 1000 != 0 && s < 10)
        snprintf(buf, n, "%.1fs", (double)ms / 1000.0);
    else if (s < 60)
        snprintf(buf, n, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, n, "%lldh%02lldm", (long long)(s / 3600), (long long)((s % 3600) / 60));
    return buf;
}

int64_t rs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rs_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rs_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *rs_time_utc(int64_t epoch_ms, const char *fmt, char *buf, size_t n)
{
    time_t t = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral" /* @fmt is one of the callers' literals */
    strftime(buf, n, fmt, &tm);
#pragma GCC diagnostic pop
    return buf;
}

const char *rs_time_iso(int64_t epoch_ms, char *buf, size_t n)
{
    return rs_time_utc(epoch_ms, "%Y-%m-%dT%H:%M:%SZ", buf, n);
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int rs_time_parse_iso(const char *s, int64_t *epoch_ms)
{
    /* "YYYY-MM-DDTHH:MM:SS" then "Z", "+00:00", ".sss…Z" or nothing. */
    if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':')
        return -EINVAL;
    int Y = digits(s, 4), M = digits(s + 5, 2), D = digits(s + 8, 2);
    int h = digits(s + 11, 2), m = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (Y < 0 || M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
        return -EINVAL;
    /* Days from civil (Howard Hinnant's algorithm), avoids timegm(). */
    int y = Y - (M <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (unsigned)((153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    *epoch_ms = ((days * 86400) + h * 3600 + m * 60 + sec) * 1000;
    return 0;
}

/* ---- text -------------------------------------------------------------- */

bool rs_char_invisible(uint32_t cp, const char **name)
{
    static const struct { uint32_t cp; const char *name; } named[] = {
        {0x00, "NUL"},
        {0x09, "tab"},
        {0x0A, "line feed"},
        {0x0D, "carriage return"},
        {0x1B, "escape"},
        {0x7F, "delete"},
        {0xA0, "no-break space"},
        {0xAD, "soft hyphen"},
        {0x200B, "zero width space"},
        {0x200C, "zero width non-joiner"},
        {0x200D, "zero width joiner"},
        {0x200E, "left-to-right mark"},
        {0x200F, "right-to-left mark"},
        {0x2028, "line separator"},
        {0x2029, "paragraph separator"},
        {0x2060, "word joiner"},
        {0xFEFF, "byte order mark"},
        {0xFFFD, "replacement character"},
    };
    const char *nm = NULL;
    for (size_t i = 0; i < RS_ARRAY_SIZE(named); i++)
        if (named[i].cp == cp)
            nm = named[i].name;
    bool inv = cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) ||
               (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF ||
               (cp >= 0xFFF9 && cp <= 0xFFFD);
    if (name)
        *name = inv ? nm : NULL;
    return inv;
}

void rs_buf_put_visible(struct rs_buf *b, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = rs_utf8_decode(u + i, len - i, &cp);
        const char *name = NULL;
        if (n == 0) {
            rs_buf_printf(b, "<byte 0x%02X (not UTF-8)>", u[i]);
            i++;
            continue;
        }
        if (cp != ' ' && rs_char_invisible(cp, &name)) {
            if (name)
                rs_buf_printf(b, "<U+%04X (%s)>", (unsigned)cp, name);
            else
                rs_buf_printf(b, "<U+%04X>", (unsigned)cp);
        } else {
            rs_buf_append(b, s + i, n);
        }
        i += n;
    }
}

char *rs_visible(const char *s)
{
    struct rs_buf b;
    rs_buf_init(&b);
    rs_buf_put_visible(&b, s, strlen(s));
    return rs_buf_steal(&b);
}

size_t rs_utf8_bom_len(const char *data, size_t len)
{
    return len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

size_t rs_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = rs_xmalloc((lb + 1) * sizeof(*row));
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t v = prev + cost;
            if (row[j] + 1 < v)
                v = row[j] + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            prev = cur;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

const char *rs_did_you_mean(const char *s, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = rs_edit_distance(s, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    size_t len = strlen(s);
    size_t limit = len < 6 ? 2 : len / 3 + 1;
    if (best && bestd <= limit)
        return best;
    /* A substring match ("Colorado" in "University of Colorado") also helps. */
    for (size_t i = 0; i < n && len >= 4; i++)
        if (strcasestr(cands[i], s) || strcasestr(s, cands[i]))
            return cands[i];
    return NULL;
}

static bool keychar(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_';
}

char *rs_redact(const char *s, size_t len, size_t *out_len)
{
    struct rs_buf b;
    rs_buf_init(&b);
    size_t i = 0;
    while (i < len) {
        if ((unsigned char)s[i] >= 0x80) {
            size_t bad = 0;
            size_t k = rs_utf8_seq(s + i, len - i, &bad);
            if (k) {
                rs_buf_append(&b, s + i, k);
                i += k;
            } else {
                rs_buf_puts(&b, RS_UTF8_REPLACEMENT);
                i += bad;
            }
            continue;
        }
        if (i + 3 <= len && s[i] == 's' && s[i + 1] == 'k' && s[i + 2] == '-' && (i == 0 || !keychar(s[i - 1]))) {
            size_t j = i + 3;
            while (j < len && keychar(s[j]))
                j++;
            if (j - i >= 20) {
                rs_buf_puts(&b, "sk-ant-***REDACTED***");
                i = j;
                continue;
            }
        }
        rs_buf_putc(&b, s[i]);
        i++;
    }
    if (out_len)
        *out_len = b.len;
    return rs_buf_steal(&b);
}

bool rs_streq_ci(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

char *rs_name_key(const char *s, size_t n)
{
    char *k = rs_xmalloc(n + 1);
    size_t o = 0;
    bool sp = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\t') {
            sp = o > 0;
            continue;
        }
        if (sp)
            k[o++] = ' ';
        sp = false;
        k[o++] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : (char)ch;
    }
    k[o] = '\0';
    return k;
}

void rs_trim_blanks(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

bool rs_has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

void rs_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

size_t rs_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

char **rs_strv_dup(char *const *v, size_t n)
{
    if (!v)
        return NULL;
    char **c = rs_xcalloc(n + 1, sizeof(*c));
    for (size_t i = 0; i < n; i++)
        c[i] = rs_xstrdup(v[i]);
    return c;
}

char **rs_env_merge(char *const *base, char *const *vars, size_t n, bool (*keep)(const char *entry), size_t spare)
{
    size_t nb = rs_strv_len(base);
    char **env = rs_xcalloc(nb + n + spare + 1, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < nb; i++) {
        bool drop = keep && !keep(base[i]);
        for (size_t j = 0; j < n && !drop; j++) {
            size_t l = strcspn(vars[j], "=");
            drop = strncmp(base[i], vars[j], l) == 0 && base[i][l] == '=';
        }
        if (!drop)
            env[k++] = rs_xstrdup(base[i]);
    }
    for (size_t j = 0; j < n; j++)
        env[k++] = rs_xstrdup(vars[j]);
    return env;
}

int rs_strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *rs_money_format(double usd, char *buf, size_t n)
{
    snprintf(buf, n, "$%.2f", usd);
    return buf;
}
