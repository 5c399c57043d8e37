/* What each mechanism means to the core: which hash is computed on the host,
 * which signature/encryption scheme the key then applies, and its info. */
#ifndef KZP11_MECHANISM_H
#define KZP11_MECHANISM_H

#include "crypto_backend.h"

typedef enum { KZ_MECH_DIGEST, KZ_MECH_SIGN, KZ_MECH_CRYPT, KZ_MECH_KEYGEN } kz_mech_kind;

/* host_hash value: the hash comes from the key's CKA_GOSTR3411_PARAMS. */
#define KZ_HASH_FROM_KEY ((CK_MECHANISM_TYPE)-1)

typedef struct kz_mech {
    CK_MECHANISM_TYPE type;
    kz_mech_kind kind;
    CK_KEY_TYPE key_type;         /* sign/crypt */
    CK_MECHANISM_TYPE host_hash;  /* hashed on the host before the key op; 0: input is final */
    kz_sig_scheme sig;            /* sign */
    kz_enc_scheme enc;            /* crypt */
    CK_MECHANISM_INFO info;
} kz_mech;

const kz_mech *kz_mech_find(CK_MECHANISM_TYPE type);
/* The entry for one use of a mechanism (CKM_RSA_PKCS both signs and decrypts). */
const kz_mech *kz_mech_find_kind(CK_MECHANISM_TYPE type, kz_mech_kind kind);
/* CKF_* flags over all uses, for C_GetMechanismInfo. */
CK_FLAGS kz_mech_flags(CK_MECHANISM_TYPE type);
/* Mechanisms the core does on the host for every token (digests). */
void kz_mech_host_list(const CK_MECHANISM_TYPE **list, size_t *n);

/* The digest mechanism CKM_GOSTR3411 names with its optional parameter
 * (a DER hash-parameters OID): CryptoPro when absent, or the test set. */
CK_RV kz_mech_gost94_digest(const CK_MECHANISM *mech, CK_MECHANISM_TYPE *out);

/* Validates pParameter for a sign/verify mechanism and fills the backend
 * parameters. Returns CKR_MECHANISM_PARAM_INVALID on malformed parameters. */
CK_RV kz_mech_sig_params(const kz_mech *m, const CK_MECHANISM *mech, kz_sig_params *out);
/* Same for encrypt/decrypt mechanisms (label points into the caller's
 * parameter; copy it if the operation outlives the call). */
CK_RV kz_mech_enc_params(const kz_mech *m, const CK_MECHANISM *mech, kz_enc_params *out);

#endif
