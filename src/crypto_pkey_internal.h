/* Inside the backend only: what a kz_pkey holds, and the per-algorithm
 * operations crypto_pkey.c dispatches to. */
#ifndef KZP11_CRYPTO_PKEY_INTERNAL_H
#define KZP11_CRYPTO_PKEY_INTERNAL_H

#include "crypto_backend.h"
#include "gost_keys.h"

struct kz_pkey {
    int refs;                     /* GCC atomics */
    CK_KEY_TYPE type;             /* CKK_RSA, CKK_GOSTR3410, CKK_GOSTR3410_512 */
    EVP_PKEY *evp;                /* RSA */
    kz_gost_key gost;             /* GOST: curve, hash, public and maybe private key */
    unsigned char *spki;          /* GOST: the SubjectPublicKeyInfo it came in, if any */
    size_t spki_len;
};

kz_pkey *kz_pkey_alloc(CK_KEY_TYPE type);

static inline int kz_pkey_is_gost(const kz_pkey *k)
{
    return k->type == CKK_GOSTR3410 || k->type == CKK_GOSTR3410_512;
}

CK_RV kz_rsa_sign(const kz_pkey *k, const kz_sig_params *p, const unsigned char *in, size_t inlen,
                  unsigned char *out, size_t *outlen);
CK_RV kz_rsa_verify(const kz_pkey *k, const kz_sig_params *p, const unsigned char *in, size_t inlen,
                    const unsigned char *sig, size_t siglen);
CK_RV kz_rsa_decrypt(const kz_pkey *k, const kz_enc_params *p, const unsigned char *in, size_t inlen,
                     unsigned char *out, size_t *outlen);
CK_RV kz_rsa_encrypt(const kz_pkey *k, const kz_enc_params *p, const unsigned char *in, size_t inlen,
                     unsigned char *out, size_t *outlen);

CK_RV kz_gost_sign(const kz_pkey *k, const unsigned char *in, size_t inlen,
                   unsigned char *out, size_t *outlen);
CK_RV kz_gost_verify(const kz_pkey *k, const unsigned char *in, size_t inlen,
                     const unsigned char *sig, size_t siglen);

#endif
