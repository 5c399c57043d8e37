/* The software token: one token per NCA PKCS#12 container file. */
#ifndef KZP11_SOFTTOKEN_H
#define KZP11_SOFTTOKEN_H

#include "configuration.h"
#include "token.h"

/* Brings the soft-token slots in line with the keystore folders. Called
 * with the module lock held (from C_GetSlotList and friends). */
void kz_softtoken_sync(const kz_config *cfg);

extern const kz_token_ops kz_softtoken_ops;

#endif
