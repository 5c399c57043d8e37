/* How the NCA names containers, and the token names kzp11 derives from
 * file names (the only thing known about a container before login). */
#ifndef KZP11_NCA_NAMES_H
#define KZP11_NCA_NAMES_H

#include <stddef.h>
#include "crypto_backend.h"

/* Token label and serial from a container's file name: label <= 32 bytes,
 * no ':' (NSS nicknames), valid UTF-8; serial 16 characters. */
void kz_nca_token_names(const char *path, char label[33], char serial[17]);

/* The NCA's file-name prefix for a container holding `key` with certificate
 * `cert`: "AUTH_RSA256_" (RSA for authentication: clientAuth or
 * keyEncipherment), "RSA256_", "GOST512_", "GOSTKNCA_" (GOST 34.310-2004),
 * "GOST256_" (GOST 2015 256-bit; the NCA issues none yet, so our choice). */
const char *kz_nca_prefix(const kz_pkey *key, const unsigned char *cert, size_t cert_len);

/* Lower-case hex of bin into out (2 * len + 1 bytes). */
void kz_hex(const unsigned char *bin, size_t len, char *out);

/* A path for a new container in dir named after label (letters, digits,
 * '-', '_' and '.' kept, others replaced), not yet taken. malloc'd. */
char *kz_nca_new_container_path(const char *dir, const char *label);

#endif
