/* SPDX-License-Identifier: MIT */
/*
 * The Landlock fence and the iteration's work directory (see
 * include/ralphsup/run/sandbox.h for the contract, docs/security.md for the
 * threat and the layers).
 *
 * Landlock in three system calls, made with syscall(2) because glibc has no
 * wrappers: landlock_create_ruleset() names the rights the ruleset
 * "handles" (everything else stays allowed: reading, executing, the
 * network), landlock_add_rule() grants some of them below one file
 * hierarchy (an O_PATH descriptor), landlock_restrict_self() makes them the
 * law for this process and every later child, for good. Debian bookworm's
 * <linux/landlock.h> stops at ABI 2, so the newer bits are defined here when
 * the header lacks them; the values are the kernel's UAPI and never change.
 *
 * Which rights by ABI: 1 has the write, remove and make rights; 2 adds REFER
 * (without it no rename or link across directories is possible at all, so
 * handling it is what lets the agent rename inside its own directory); 3
 * adds TRUNCATE (before it truncate(2) and O_TRUNC reach any file: the
 * supervisor's own checks still stand behind the fence); 5 adds IOCTL_DEV,
 * granted only on the devices. A right the kernel does not know is left out
 * of both the ruleset and the rules.
 *
 * The work directory lives below <root>/.ralphsup/work and is created and
 * removed by the supervisor, never by the agent; publishing a verified CSV
 * out of it is the supervisor's too (rs_publish_csv()).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ralphsup/base/common.h"
#include "ralphsup/base/util.h"
#include "ralphsup/run/sandbox.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

/* Our own copies of the UAPI structs: only their first fields, the ones ABI 1 has. */
struct fence_ruleset_attr {
    uint64_t handled_access_fs;
};
struct fence_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
#define FENCE_RULE_PATH_BENEATH 1

/* The rights that write, for a directory hierarchy (ABI 1). */
#define FS_WRITE_V1                                                                                                \
    (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |              \
     LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |                    \
     LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |                 \
     LANDLOCK_ACCESS_FS_MAKE_SYM)
/* The rights that make sense on a file (Landlock refuses directory rights on one). */
#define FS_FILE_RIGHTS (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

static const char *const devices[] = {
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts", NULL,
};

const char *const *rs_sandbox_devices(void)
{
    return devices;
}

int rs_sandbox_abi(void)
{
    long v = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    int abi = v > 0 ? (int)v : 0;
    const char *e = getenv(RS_SANDBOX_ABI_ENV);
    if (e && *e) {
        char *end;
        long want = strtol(e, &end, 10);
        if (*end == '\0' && want >= 0 && want < abi)
            abi = (int)want;
    }
    return abi;
}

uint64_t rs_sandbox_handled(int abi)
{
    if (abi < 1)
        return 0;
    uint64_t h = FS_WRITE_V1;
    if (abi >= 2)
        h |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        h |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return h;
}

const char *rs_sandbox_describe(int abi, char *buf, size_t n)
{
    uint64_t h = rs_sandbox_handled(abi);
    snprintf(buf, n, "%s%s%s%s%s", h & LANDLOCK_ACCESS_FS_REFER ? "refer" : "",
             h & LANDLOCK_ACCESS_FS_REFER && h & LANDLOCK_ACCESS_FS_TRUNCATE ? ", " : "",
             h & LANDLOCK_ACCESS_FS_TRUNCATE ? "truncate" : "",
             h & LANDLOCK_ACCESS_FS_TRUNCATE && h & LANDLOCK_ACCESS_FS_IOCTL_DEV ? ", " : "",
             h & LANDLOCK_ACCESS_FS_IOCTL_DEV ? "ioctl_dev" : "");
    return buf;
}

uint64_t rs_sandbox_allowed(uint64_t handled, mode_t mode, bool device)
{
    uint64_t allowed = handled;
    if (!S_ISDIR(mode) || device)
        allowed &= FS_FILE_RIGHTS; /* a file; or /dev/pts: its terminals, not new entries */
    if (!S_ISCHR(mode) && !device)
        allowed &= ~(uint64_t)LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return allowed;
}

/* One rule: every handled right below a directory; the file rights on anything else. */
static int add_path(int rfd, const char *path, uint64_t handled, bool device)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    struct fence_path_beneath pb = {.allowed_access = rs_sandbox_allowed(handled, st.st_mode, device), .parent_fd = fd};
    long r = syscall(__NR_landlock_add_rule, rfd, FENCE_RULE_PATH_BENEATH, &pb, 0);
    int e = r < 0 ? -errno : 0;
    close(fd);
    return e;
}

int rs_sandbox_apply(int abi, const char *const *paths, size_t n, const char **failed)
{
    *failed = NULL;
    if (abi < 1)
        return -EOPNOTSUPP;
    uint64_t handled = rs_sandbox_handled(abi);
    struct fence_ruleset_attr attr = {.handled_access_fs = handled};
    long rfd = syscall(__NR_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rfd < 0)
        return -errno;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        r = add_path((int)rfd, paths[i], handled, false);
        if (r < 0)
            *failed = paths[i];
    }
    for (size_t i = 0; devices[i] && r == 0; i++) {
        int dr = add_path((int)rfd, devices[i], handled, true);
        if (dr < 0 && dr != -ENOENT && dr != -ENXIO) {
            r = dr;
            *failed = devices[i];
        }
    }
    if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        r = -errno;
    if (r == 0 && syscall(__NR_landlock_restrict_self, (int)rfd, 0) < 0)
        r = -errno;
    close((int)rfd);
    return r;
}

/* ---- the work directory ----------------------------------------------------- */

void rs_workdir_init(struct rs_workdir *w, const struct rs_config *cfg, int64_t iteration, const char *slug)
{
    char *base = rs_path_join(cfg->root, RS_SANDBOX_WORK_DIR);
    char *name = rs_xasprintf("%04lld-%s", (long long)iteration, slug);
    w->dir = rs_path_join(base, name);
    char *csv = rs_xasprintf("%s.csv", slug);
    w->csv = rs_path_join(w->dir, csv);
    w->tmp = rs_path_join(w->dir, "tmp");
    w->claude = rs_path_join(w->dir, "claude");
    w->guard_log = rs_path_join(w->dir, "guard.jsonl");
    free(csv);
    free(name);
    free(base);
}

void rs_workdir_deinit(struct rs_workdir *w)
{
    free(w->dir);
    free(w->csv);
    free(w->tmp);
    free(w->claude);
    free(w->guard_log);
    memset(w, 0, sizeof *w);
}

/* rm -r of @fd's entry @name (not following symlinks); depth-bounded by PATH_MAX. */
static int remove_at(int at, const char *name, int depth)
{
    if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -errno;
    if (depth > 64)
        return -ELOOP;
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = -errno;
        close(fd);
        return e;
    }
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int rr = remove_at(dirfd(d), de->d_name, depth + 1);
        if (rr < 0 && r == 0)
            r = rr;
    }
    closedir(d);
    if (unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
        r = -errno;
    return r;
}

int rs_workdir_remove(const struct rs_workdir *w)
{
    return remove_at(AT_FDCWD, w->dir, 0);
}

int rs_workdir_keep_evidence(const struct rs_workdir *w, const char *log_dir)
{
    struct stat st;
    if (lstat(w->csv, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    const char *base = strrchr(w->dir, '/');
    char *name = rs_xasprintf("%s.csv", base ? base + 1 : w->dir);
    char *to = rs_path_join(log_dir, name);
    free(name);
    int r = rs_publish_csv(w->csv, to);
    free(to);
    return r;
}

static int copy_file(const char *from, const char *to, unsigned mode)
{
    char *data = NULL;
    size_t len = 0;
    int r = rs_file_read(from, 16 * 1024 * 1024, &data, &len);
    if (r < 0)
        return r;
    r = rs_file_write_atomic(to, data, len, mode);
    free(data);
    return r;
}

int rs_workdir_create(const struct rs_workdir *w, const char *credentials)
{
    (void)rs_workdir_remove(w);
    int r = rs_mkdir_p(w->dir, 0700);
    if (r == 0)
        r = rs_mkdir_p(w->tmp, 0700);
    if (r == 0)
        r = rs_mkdir_p(w->claude, 0700);
    if (r == 0 && credentials && access(credentials, R_OK) == 0) {
        char *to = rs_path_join(w->claude, ".credentials.json");
        r = copy_file(credentials, to, 0600);
        free(to);
    }
    return r;
}

char **rs_sandbox_paths(const struct rs_config *cfg, const struct rs_workdir *w, const char *config_dir, size_t *n)
{
    char **v = rs_xcalloc(cfg->nwritable + 4, sizeof *v);
    size_t k = 0;
    v[k++] = rs_xstrdup(w->dir);
    if (cfg->cache_dir)
        v[k++] = rs_xstrdup(cfg->cache_dir);
    if (config_dir)
        v[k++] = rs_xstrdup(config_dir);
    for (size_t i = 0; i < cfg->nwritable; i++)
        v[k++] = rs_xstrdup(cfg->writable[i]);
    v[k] = NULL;
    *n = k;
    return v;
}

/* ---- publishing --------------------------------------------------------------- */

int rs_publish_csv(const char *from, const char *to)
{
    if (rename(from, to) == 0)
        return rs_fsync_parent_dir(to);
    if (errno != EXDEV)
        return -errno;
    struct stat st;
    if (stat(from, &st) < 0)
        return -errno;
    /* Another file system: rs_file_write_atomic() is temp + fsync + rename + fsync of the directory. */
    int r = copy_file(from, to, st.st_mode & 0777);
    if (r == 0)
        (void)unlink(from);
    return r;
}

int rs_guard_log_merge(const char *from, const char *to)
{
    char *data = NULL;
    size_t len = 0;
    int r = rs_file_read(from, 1024 * 1024, &data, &len);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    while (len > 0 && data[len - 1] != '\n')
        len--; /* complete lines only */
    if (len > 0) {
        int fd = open(to, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            r = -errno;
        } else {
            ssize_t wr = write(fd, data, len);
            r = wr == (ssize_t)len ? 0 : wr < 0 ? -errno : -EIO;
            close(fd);
        }
    }
    free(data);
    (void)unlink(from);
    return r;
}

char **rs_sandbox_keeper_args(int abi, char *const *paths, size_t n)
{
    if (abi < 1)
        return NULL;
    char **v = rs_xcalloc(2 * n + 3, sizeof *v);
    size_t k = 0;
    v[k++] = rs_xstrdup("--fence");
    v[k++] = rs_xasprintf("%d", abi);
    for (size_t i = 0; i < n; i++) {
        v[k++] = rs_xstrdup("--write");
        v[k++] = rs_xstrdup(paths[i]);
    }
    v[k] = NULL;
    return v;
}

int rs_workdir_sweep(const struct rs_config *cfg, const char *slug)
{
    char *base = rs_path_join(cfg->root, RS_SANDBOX_WORK_DIR);
    int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(base);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    int n = 0;
    size_t sl = strlen(slug);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t digits = strspn(nm, "0123456789");
        if (digits == 0 || nm[digits] != '-' || strlen(nm + digits + 1) != sl || strcmp(nm + digits + 1, slug) != 0)
            continue;
        if (remove_at(dirfd(d), nm, 0) == 0)
            n++;
    }
    closedir(d);
    return n;
}
