/* The soft token's slots: one per container file in the keystore folders,
 * plus one free slot per folder (an uninitialised token: C_InitToken on it
 * creates a new container there). */
#include "softtoken.h"
#include "softtoken_internal.h"
#include "keystore.h"
#include "log.h"
#include "nca_names.h"
#include "p12_container.h"
#include "slot_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char provider[] = "softtoken";

typedef struct factory_ctx {
    const kz_config *cfg;
} factory_ctx;

/* A free slot's key is its folder with a trailing '/', which no file has. */
static int is_free_key(const char *key)
{
    size_t n = strlen(key);
    return n > 0 && key[n - 1] == '/';
}

static CK_RV make_token(const char *key, void *ctx, kz_token *out)
{
    softtoken *st = calloc(1, sizeof(*st));
    const char *slash;
    CK_RV rv = CKR_HOST_MEMORY;

    if (!st)
        return CKR_HOST_MEMORY;
    st->cfg = ((factory_ctx *)ctx)->cfg;
    st->user = KZ_NOBODY;
    slash = strrchr(key, '/');
    if (is_free_key(key)) {
        unsigned long long x = 1469598103934665603ULL;
        st->dir = strndup(key, strlen(key) - 1);
        st->slot_key = strdup(key);
        /* Uninitialised: a blank label and a serial from the folder name. */
        for (const char *p = key; *p; p++)
            x = (x ^ (unsigned char)*p) * 1099511628211ULL;
        snprintf(st->serial, sizeof(st->serial), "%016llx", x);
        rv = st->dir && st->slot_key ? CKR_OK : CKR_HOST_MEMORY;
    } else if (slash) {
        st->dir = strndup(key, (size_t)(slash - key));
        rv = st->dir ? kz_st_set_path(st, key) : CKR_HOST_MEMORY;
    }
    if (rv != CKR_OK) {
        free(st->dir);
        free(st->path);
        free(st->slot_key);
        free(st);
        return rv;
    }
    out->ops = &kz_softtoken_ops;
    out->drv = st;
    return CKR_OK;
}

static void describe(const char *key, char *out, size_t len)
{
    const char *slash = strrchr(key, '/');

    if (is_free_key(key))
        snprintf(out, len, "kzp11 new container in %s", key);
    else
        snprintf(out, len, "kzp11 file %s", slash ? slash + 1 : key);
}

/* Files that are not containers, remembered by identity so a folder full of
 * them is not re-read on every C_GetSlotList. */
typedef struct rejected {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} rejected;
static rejected *rej;
static size_t n_rej;

static int same_file(const rejected *r, const struct stat *st)
{
    return r->dev == st->st_dev && r->ino == st->st_ino && r->size == st->st_size
           && r->mtime.tv_sec == st->st_mtim.tv_sec && r->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static int known_rejected(const char *path)
{
    struct stat st;

    if (n_rej == 0)
        return 0;       /* the common case: no stat for every file */
    if (stat(path, &st) != 0)
        return 1;
    for (size_t i = 0; i < n_rej; i++)
        if (strcmp(rej[i].path, path) == 0) {
            if (same_file(&rej[i], &st))
                return 1;
            free(rej[i].path);
            rej[i] = rej[--n_rej];
            return 0;
        }
    return 0;
}

static void remember_rejected(const char *path)
{
    struct stat st;
    rejected *v;

    if (stat(path, &st) != 0 || !(v = realloc(rej, (n_rej + 1) * sizeof(*v))))
        return;
    rej = v;
    rej[n_rej].path = strdup(path);
    if (!rej[n_rej].path)
        return;
    rej[n_rej].dev = st.st_dev;
    rej[n_rej].ino = st.st_ino;
    rej[n_rej].size = st.st_size;
    rej[n_rej].mtime = st.st_mtim;
    n_rej++;
}

static int slot_has(const char *path)
{
    for (size_t i = 0; i < kz_slots_count(); i++) {
        kz_slot *s = kz_slots_at(i);
        if (s->provider == provider && s->present && strcmp(s->key, path) == 0)
            return 1;
    }
    return 0;
}

/* A new file must at least have the outer PKCS#12 structure to be shown. */
static int acceptable(const char *path)
{
    unsigned char *data;
    size_t len;
    int ok;

    if (slot_has(path))
        return 1;
    if (known_rejected(path))
        return 0;
    ok = kz_keystore_read(path, &data, &len) == 0;
    if (ok) {
        ok = kz_p12_probe(data, len);
        free(data);
    }
    if (!ok) {
        KZ_DEBUG("%s: not a PKCS#12 container, skipped", path);
        remember_rejected(path);
    }
    return ok;
}

void kz_softtoken_sync(const kz_config *cfg)
{
    factory_ctx ctx = { cfg };
    char **paths, **all;
    size_t n, kept = 0;

    if (kz_keystore_list(cfg, &paths, &n) != 0)
        return;
    all = realloc(paths, (n + cfg->n_keystore_dirs + 1) * sizeof(*all));
    if (!all) {
        kz_keystore_free_list(paths, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (acceptable(all[i]))
            all[kept++] = all[i];
        else
            free(all[i]);
    }
    for (size_t d = 0; d < cfg->n_keystore_dirs; d++) {
        char *key;
        if (asprintf(&key, "%s/", cfg->keystore_dirs[d]) >= 0)
            all[kept++] = key;
    }
    kz_slots_sync(provider, all, kept, make_token, &ctx, describe);
    kz_keystore_free_list(all, kept);
}
