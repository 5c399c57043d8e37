#include "secret.h"
#include "crypto_backend.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int kz_secret_set(kz_secret *s, const void *data, size_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t map_len = ((len ? len : 1) + (size_t)page - 1) / (size_t)page * (size_t)page;
    void *p;

    kz_secret_clear(s);
    /* A private mapping of its own, so the advice below covers nothing else. */
    p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
#ifdef MADV_DONTDUMP
    madvise(p, map_len, MADV_DONTDUMP);
#endif
    /* Best effort: RLIMIT_MEMLOCK may forbid it, which costs swap safety only. */
    (void)mlock(p, map_len);
    if (len)
        memcpy(p, data, len);
    s->data = p;
    s->len = len;
    s->map_len = map_len;
    return 0;
}

void kz_secret_clear(kz_secret *s)
{
    if (!s->data)
        return;
    kz_cleanse(s->data, s->map_len);
    munlock(s->data, s->map_len);
    munmap(s->data, s->map_len);
    memset(s, 0, sizeof(*s));
}
