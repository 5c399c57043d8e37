#include "keystore.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONTAINER_SIZE (1u << 20)

static int is_container_name(const char *name)
{
    size_t n = strlen(name);

    if (name[0] == '.' || n < 5)
        return 0;
    return strcasecmp(name + n - 4, ".p12") == 0 || strcasecmp(name + n - 4, ".pfx") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **nv = realloc(*v, nc * sizeof(*nv));
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = s;
    return 0;
}

int kz_keystore_list(const kz_config *cfg, char ***paths, size_t *n)
{
    char **v = NULL;
    size_t cnt = 0, cap = 0;

    for (size_t d = 0; d < cfg->n_keystore_dirs; d++) {
        const char *dir = cfg->keystore_dirs[d];
        DIR *dh = opendir(dir);
        struct dirent *de;
        size_t first = cnt;

        if (!dh) {
            KZ_DEBUG("keystore folder %s: %s", dir, strerror(errno));
            continue;
        }
        while ((de = readdir(dh))) {
            char *full;
            if (!is_container_name(de->d_name))
                continue;
            if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
                continue;
            if (asprintf(&full, "%s/%s", dir, de->d_name) < 0)
                goto oom;
            if (de->d_type != DT_REG) {
                struct stat st;
                if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
                    free(full);
                    continue;
                }
            }
            if (push(&v, &cnt, &cap, full) < 0) {
                free(full);
                closedir(dh);
                goto oom;
            }
        }
        closedir(dh);
        if (cnt > first)
            qsort(v + first, cnt - first, sizeof(*v), cmp_str);
    }
    *paths = v;
    *n = cnt;
    return 0;
oom:
    kz_keystore_free_list(v, cnt);
    return -1;
}

void kz_keystore_free_list(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

int kz_keystore_read(const char *path, unsigned char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    unsigned char *buf;
    size_t got = 0;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0
        || (unsigned long long)st.st_size > MAX_CONTAINER_SIZE) {
        close(fd);
        return -1;
    }
    buf = malloc((size_t)st.st_size);
    if (!buf) {
        close(fd);
        return -1;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = got;
    return 0;
}
