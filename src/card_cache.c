#include "card_cache.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SERIAL 32

typedef struct entry {
    uint32_t file, version;
    uint8_t *data;
    size_t len;
} entry;

struct kz_card_cache {
    struct kz_card_cache *next;
    const char *driver;               /* a driver's static name */
    uint8_t serial[MAX_SERIAL];
    size_t serial_len;
    entry *v;
    size_t n, cap;
};

static kz_card_cache *cards;

kz_card_cache *kz_card_cache_for(const char *driver, const uint8_t *serial, size_t serial_len)
{
    kz_card_cache *c;

    if (serial_len > MAX_SERIAL)
        serial_len = MAX_SERIAL;
    for (c = cards; c; c = c->next)
        if (strcmp(c->driver, driver) == 0 && c->serial_len == serial_len
            && memcmp(c->serial, serial, serial_len) == 0)
            return c;
    if (!(c = calloc(1, sizeof(*c))))
        return NULL;
    c->driver = driver;
    memcpy(c->serial, serial, serial_len);
    c->serial_len = serial_len;
    c->next = cards;
    cards = c;
    return c;
}

static entry *find(kz_card_cache *c, uint32_t file)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].file == file)
            return &c->v[i];
    return NULL;
}

int kz_card_cache_get(kz_card_cache *c, uint32_t file, uint32_t version, const uint8_t **data,
                      size_t *len)
{
    entry *e = c ? find(c, file) : NULL;

    if (!e || e->version != version)
        return 0;
    *data = e->data;
    *len = e->len;
    return 1;
}

CK_RV kz_card_cache_put(kz_card_cache *c, uint32_t file, uint32_t version, const uint8_t *data,
                        size_t len)
{
    entry *e;
    uint8_t *copy;

    if (!c)
        return CKR_HOST_MEMORY;
    if (!(copy = malloc(len ? len : 1)))
        return CKR_HOST_MEMORY;
    if (len)
        memcpy(copy, data, len);
    if (!(e = find(c, file))) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 8;
            entry *v = realloc(c->v, cap * sizeof(*v));
            if (!v) {
                free(copy);
                return CKR_HOST_MEMORY;
            }
            c->v = v;
            c->cap = cap;
        }
        e = &c->v[c->n++];
        e->data = NULL;
        e->file = file;
    }
    free(e->data);
    e->data = copy;
    e->len = len;
    e->version = version;
    return CKR_OK;
}

void kz_card_cache_forget(kz_card_cache *c, uint32_t file)
{
    entry *e = c ? find(c, file) : NULL;

    if (!e)
        return;
    free(e->data);
    *e = c->v[--c->n];
}

void kz_card_cache_restamp(kz_card_cache *c, uint32_t file, uint32_t from, uint32_t to)
{
    entry *e = c ? find(c, file) : NULL;

    if (e && e->version == from)
        e->version = to;
}

void kz_card_cache_clear_all(void)
{
    while (cards) {
        kz_card_cache *c = cards;
        cards = c->next;
        for (size_t i = 0; i < c->n; i++)
            free(c->v[i].data);
        free(c->v);
        free(c);
    }
}
