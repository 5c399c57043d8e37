/* Memory for secrets kept across calls (a container's password while its
 * token is logged in): locked out of swap where allowed, left out of core
 * dumps, wiped on free. */
#ifndef KZP11_SECRET_H
#define KZP11_SECRET_H

#include <stddef.h>

typedef struct kz_secret {
    unsigned char *data;
    size_t len;
    size_t map_len;
} kz_secret;

/* Copies len bytes in. Returns 0, or -1 when out of memory. */
int kz_secret_set(kz_secret *s, const void *data, size_t len);
void kz_secret_clear(kz_secret *s);

#endif
