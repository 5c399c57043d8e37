/* Writing container files so that a key is never lost: a new version goes
 * to a temporary file in the same folder, is flushed, and replaces the old
 * one by rename; writers to a folder are serialised by a lock file. */
#ifndef KZP11_CONTAINER_FILE_H
#define KZP11_CONTAINER_FILE_H

#include <stddef.h>
#include "pkcs11_types.h"

/* Takes the folder's writer lock (blocking). Returns a descriptor to pass
 * to kz_container_unlock, or -1 (CKR_DEVICE_ERROR for the caller). */
int kz_container_lock(const char *container_path);
void kz_container_unlock(int fd);

/* Replaces (or creates) path with data: temp file, write, fsync, rename,
 * fsync of the folder. On failure the old file is untouched and the temp
 * file removed. Returns CKR_OK, CKR_DEVICE_MEMORY (disk full) or
 * CKR_DEVICE_ERROR. When `exclusive`, fails with CKR_DEVICE_ERROR if path
 * already exists (a new container must not overwrite another). */
CK_RV kz_container_write(const char *path, const unsigned char *data, size_t len, int exclusive);

/* Renames a container within its folder without replacing anything.
 * Returns CKR_OK or CKR_DEVICE_ERROR. */
CK_RV kz_container_rename(const char *from, const char *to);

/* Removes a container (and flushes the folder). */
CK_RV kz_container_remove(const char *path);

#endif
