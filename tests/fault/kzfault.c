/* A test-only LD_PRELOAD library that makes the system calls a container
 * write depends on fail, to prove a failed write never costs the old file.
 *
 *   KZFAULT=write|fsync|rename|enospc   which call fails (enospc: write
 *                                      fails with ENOSPC, as on a full disk)
 *
 * Only calls on kzp11's temporary files (".kzp11-tmp-" in the name) are
 * touched, so the tool around the module keeps working. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TMP_MARK ".kzp11-tmp-"

static int mode_is(const char *m)
{
    const char *v = getenv("KZFAULT");
    return v && strcmp(v, m) == 0;
}

static int fd_is_tmp(int fd)
{
    char link[64], target[PATH_MAX];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    return strstr(target, TMP_MARK) != NULL;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    static ssize_t (*real)(int, const void *, size_t);

    if (!real)
        real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if ((mode_is("write") || mode_is("enospc")) && fd_is_tmp(fd)) {
        /* Half the data first, like a disk that fills up mid-file. */
        if (len > 1 && mode_is("enospc")) {
            ssize_t r = real(fd, buf, len / 2);
            if (r > 0)
                return r;
        }
        errno = mode_is("enospc") ? ENOSPC : EIO;
        return -1;
    }
    return real(fd, buf, len);
}

int fsync(int fd)
{
    static int (*real)(int);

    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (mode_is("fsync") && fd_is_tmp(fd)) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);

    if (!real)
        real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    if (mode_is("rename") && strstr(from, TMP_MARK)) {
        errno = EIO;
        return -1;
    }
    return real(from, to);
}

int renameat2(int olddir, const char *from, int newdir, const char *to, unsigned int flags)
{
    static int (*real)(int, const char *, int, const char *, unsigned int);

    if (!real)
        real = (int (*)(int, const char *, int, const char *, unsigned int))dlsym(RTLD_NEXT, "renameat2");
    if (mode_is("rename") && strstr(from, TMP_MARK)) {
        errno = EIO;
        return -1;
    }
    return real(olddir, from, newdir, to, flags);
}
