/* Listing the container files in the keystore folders. */
#ifndef KZP11_KEYSTORE_H
#define KZP11_KEYSTORE_H

#include <stddef.h>
#include "configuration.h"

/* All regular files named *.p12 / *.pfx (any case) in the folders, as full
 * paths, sorted within each folder. Missing folders are skipped. Returns 0,
 * or -1 on out of memory. Free with kz_keystore_free_list. */
int kz_keystore_list(const kz_config *cfg, char ***paths, size_t *n);
void kz_keystore_free_list(char **paths, size_t n);

/* Reads a whole container file (at most 1 MiB: real ones are a few KiB).
 * Returns 0 or -1. */
int kz_keystore_read(const char *path, unsigned char **data, size_t *len);

#endif
