/* The software token: one token per NCA PKCS#12 container file. */
#ifndef KZP11_SOFTTOKEN_H
#define KZP11_SOFTTOKEN_H

#include "configuration.h"
#include "token.h"

/* Brings the soft-token slots in line with the keystore folders. Called
 * with the module lock held (from C_GetSlotList and friends). */
void kz_softtoken_sync(const kz_config *cfg);

/* Token label and serial derived from a container's file name, exposed for
 * the unit tests: label <= 32 bytes, no ':', valid UTF-8; serial 16 chars. */
void kz_softtoken_names(const char *path, char label[33], char serial[17]);

extern const kz_token_ops kz_softtoken_ops;

#endif
