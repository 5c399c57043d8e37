#include "container_file.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME ".kzp11.lock"

static int dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;

    if (!slash) {
        snprintf(dir, size, ".");
        return 0;
    }
    if (n == 0)
        n = 1;      /* "/file" lives in "/" */
    if (n >= size)
        return -1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return 0;
}

int kz_container_lock(const char *container_path)
{
    char dir[PATH_MAX], lock[PATH_MAX + 16];
    int fd;

    if (dir_of(container_path, dir, sizeof(dir)) < 0)
        return -1;
    snprintf(lock, sizeof(lock), "%s/%s", dir, LOCK_NAME);
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        KZ_DEBUG("%s: %s", lock, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

void kz_container_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

/* rename() that never replaces an existing file. The folder lock is held,
 * so the fallback's check-then-rename (for file systems without
 * RENAME_NOREPLACE) races with no other kzp11 writer. Returns 0 or an errno. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return errno;
    if (access(to, F_OK) == 0)
        return EEXIST;
    return rename(from, to) == 0 ? 0 : errno;
}

static CK_RV errno_rv(int e)
{
    return e == ENOSPC || e == EDQUOT ? CKR_DEVICE_MEMORY : CKR_DEVICE_ERROR;
}

static CK_RV sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CK_RV rv = CKR_OK;

    if (fd < 0)
        return CKR_DEVICE_ERROR;
    if (fsync(fd) != 0)
        rv = errno_rv(errno);
    close(fd);
    return rv;
}

CK_RV kz_container_write(const char *path, const unsigned char *data, size_t len, int exclusive)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 32];
    size_t done = 0;
    int fd, e = 0;
    CK_RV rv;

    if (dir_of(path, dir, sizeof(dir)) < 0)
        return CKR_DEVICE_ERROR;
    snprintf(tmp, sizeof(tmp), "%s/.kzp11-tmp-XXXXXX", dir);
    fd = mkstemp(tmp);
    if (fd < 0) {
        KZ_DEBUG("%s: cannot create a temporary file: %s", dir, strerror(errno));
        return errno_rv(errno);
    }
    (void)fchmod(fd, 0600);
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)w;
    }
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e)
        e = exclusive ? rename_noreplace(tmp, path) : (rename(tmp, path) == 0 ? 0 : errno);
    if (e) {
        KZ_DEBUG("%s: write failed: %s; the previous version is intact", path, strerror(e));
        unlink(tmp);
        return errno_rv(e);
    }
    rv = sync_dir(dir);
    if (rv != CKR_OK)
        KZ_DEBUG("%s: folder sync failed", dir);
    return rv;
}

CK_RV kz_container_rename(const char *from, const char *to)
{
    char dir[PATH_MAX];

    int e = rename_noreplace(from, to);

    if (e) {
        KZ_DEBUG("rename %s -> %s: %s", from, to, strerror(e));
        return CKR_DEVICE_ERROR;
    }
    if (dir_of(to, dir, sizeof(dir)) < 0)
        return CKR_DEVICE_ERROR;
    return sync_dir(dir);
}

CK_RV kz_container_remove(const char *path)
{
    char dir[PATH_MAX];

    if (unlink(path) != 0)
        return CKR_DEVICE_ERROR;
    if (dir_of(path, dir, sizeof(dir)) < 0)
        return CKR_DEVICE_ERROR;
    return sync_dir(dir);
}
