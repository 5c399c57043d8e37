/* The one crypto backend: everything that touches OpenSSL 3 (and, later, the
 * project's own GOST code) goes through here, so the front end and the token
 * drivers never call libcrypto directly for an operation. */
#ifndef KZP11_CRYPTO_BACKEND_H
#define KZP11_CRYPTO_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "pkcs11_types.h"

/* A private library context with the default and legacy providers: NCA
 * containers need RC2-40 and 3DES, and loading "legacy" into the host
 * application's default context would change its behaviour. */
CK_RV kz_crypto_init(void);
void kz_crypto_fini(void);
OSSL_LIB_CTX *kz_crypto_libctx(void);

/* CKM_SHA_1 .. CKM_SHA512 -> a pre-fetched EVP_MD (NULL if not a hash we know). */
const EVP_MD *kz_crypto_md(CK_MECHANISM_TYPE hash_mech);
/* The hash mechanism behind CKG_MGF1_SHA*; 0 if unknown. */
CK_MECHANISM_TYPE kz_crypto_mgf_hash(CK_RSA_PKCS_MGF_TYPE mgf);

/* ---- Keys --------------------------------------------------------------- */

/* A refcounted key as the backend sees it: public, or public+private. */
typedef struct kz_pkey kz_pkey;

kz_pkey *kz_pkey_from_evp(EVP_PKEY *evp);   /* takes ownership of evp */
kz_pkey *kz_pkey_from_spki(const unsigned char *der, size_t len);
kz_pkey *kz_pkey_from_pkcs8(const unsigned char *der, size_t len);
kz_pkey *kz_pkey_from_cert(const unsigned char *der, size_t len);
kz_pkey *kz_pkey_rsa_public(const unsigned char *n, size_t nlen,
                            const unsigned char *e, size_t elen);
kz_pkey *kz_pkey_up_ref(kz_pkey *k);
void kz_pkey_free(kz_pkey *k);
CK_KEY_TYPE kz_pkey_type(const kz_pkey *k);
int kz_pkey_has_private(const kz_pkey *k);
CK_ULONG kz_pkey_bits(const kz_pkey *k);
size_t kz_pkey_sig_len(const kz_pkey *k);
/* Do the public halves of a and b match (a certificate against a key)? */
int kz_pkey_public_equal(const kz_pkey *a, const kz_pkey *b);
/* RSA public components, big-endian unsigned. Returns CKR_OK or an error. */
CK_RV kz_pkey_rsa_get(const kz_pkey *k, unsigned char **n, size_t *nlen,
                      unsigned char **e, size_t *elen);
/* DER SubjectPublicKeyInfo (for CKA_PUBLIC_KEY_INFO). */
CK_RV kz_pkey_spki(const kz_pkey *k, unsigned char **der, size_t *len);

/* GOST keys (CKK_GOSTR3410, CKK_GOSTR3410_512). Curve and hash are DER
 * OIDs, Kazakh or TC26/CryptoPro; a missing hash OID means the curve's usual
 * hash. `value` is X||Y little-endian (or that wrapped in an OCTET STRING). */
CK_RV kz_pkey_gost_public(const unsigned char *curve_oid, size_t clen,
                          const unsigned char *hash_oid, size_t hlen,
                          const unsigned char *value, size_t vlen, kz_pkey **out);
CK_RV kz_pkey_gost_generate(const unsigned char *curve_oid, size_t clen,
                            const unsigned char *hash_oid, size_t hlen, kz_pkey **out);
/* The OIDs reported as CKA_GOSTR3410_PARAMS / CKA_GOSTR3411_PARAMS: always
 * the TC26/CryptoPro names (see gost_keys.h for why), static storage. */
CK_RV kz_pkey_gost_params(const kz_pkey *k, const unsigned char **curve, size_t *clen,
                          const unsigned char **hash, size_t *hlen);
CK_RV kz_pkey_gost_value(const kz_pkey *k, const unsigned char **pub, size_t *len);
/* The digest mechanism the key's hash parameters name (CKM_GOSTR3411_2012_512,
 * KZ_CKM_GOSTR3411_94_TEST, ...), for CKM_GOSTR3410_WITH_GOSTR3411. */
CK_MECHANISM_TYPE kz_pkey_gost_hash_mech(const kz_pkey *k);

/* ---- Encoding keys for storage ------------------------------------------
 * For writing key containers (softtoken/p12_writer.h) and certificate
 * requests. Every buffer returned is malloc'd; the caller frees it with
 * free(), after kz_cleanse() for a PKCS#8 one. */

/* Unencrypted PKCS#8 PrivateKeyInfo. RSA: OpenSSL's encoder in the backend
 * library context. GOST: the NCA's encoding (Kazakh OIDs, see gost_keys.h)
 * when the key's curve has a Kazakh alias and its hash is the one the NCA
 * pairs with it, otherwise the TC26 encoding the gost engine reads.
 * CKR_KEY_TYPE_INCONSISTENT for a key without a private part. */
CK_RV kz_pkey_to_pkcs8(const kz_pkey *k, unsigned char **der, size_t *len);
/* SubjectPublicKeyInfo as an NCA certificate would carry it. RSA: the
 * normal one. GOST: Kazakh OIDs, byte for byte as in NCA certificates, for
 * the same keys as above; TC26 OIDs for the others. Unlike kz_pkey_spki,
 * always encoded afresh, never the encoding the key arrived in. */
CK_RV kz_pkey_to_spki_nca(const kz_pkey *k, unsigned char **der, size_t *len);
/* Subject Key Identifier, RFC 5280 section 4.2.1.2 method 1: SHA-1 of the
 * subjectPublicKey BIT STRING's value (no tag, length or unused-bits byte)
 * in kz_pkey_to_spki_nca's encoding. 2022-era NCA GOST certificates use it
 * (it is also their containers' localKeyID); 2020-era RSA and GOST 2004 ones
 * hash the whole SubjectPublicKeyInfo instead. */
CK_RV kz_pkey_ski(const kz_pkey *k, unsigned char out[20]);
/* A fresh RSA key pair in the backend library context. bits: 2048, 3072 or
 * 4096, else CKR_KEY_SIZE_RANGE. e: the public exponent, 0 for 65537; an
 * even or smaller-than-3 value is CKR_ATTRIBUTE_VALUE_INVALID. */
CK_RV kz_pkey_generate_rsa(CK_ULONG bits, CK_ULONG e, kz_pkey **out);

/* ---- Signature and encryption schemes ----------------------------------- */

typedef enum {
    KZ_SIG_RSA_PKCS1,    /* in = digest if hash != 0 (DigestInfo added), else raw DigestInfo */
    KZ_SIG_RSA_PSS,      /* in = digest of `hash` */
    KZ_SIG_GOST,         /* in = digest (32 or 64 bytes); signature s||r big-endian */
} kz_sig_scheme;

typedef struct kz_sig_params {
    kz_sig_scheme scheme;
    CK_MECHANISM_TYPE hash;       /* CKM_SHA256 etc.; 0 for CKM_RSA_PKCS raw */
    CK_MECHANISM_TYPE mgf_hash;   /* PSS only */
    size_t salt_len;              /* PSS only */
} kz_sig_params;

typedef enum {
    KZ_ENC_RSA_PKCS1,
    KZ_ENC_RSA_OAEP,
} kz_enc_scheme;

typedef struct kz_enc_params {
    kz_enc_scheme scheme;
    CK_MECHANISM_TYPE hash;       /* OAEP */
    CK_MECHANISM_TYPE mgf_hash;   /* OAEP */
    const unsigned char *label;   /* OAEP, may be NULL */
    size_t label_len;
} kz_enc_params;

/* Private-key operations; the key must hold a private part. *outlen is the
 * buffer size on entry and the result size on return. */
CK_RV kz_pkey_sign(const kz_pkey *k, const kz_sig_params *p,
                   const unsigned char *in, size_t inlen,
                   unsigned char *out, size_t *outlen);
CK_RV kz_pkey_decrypt(const kz_pkey *k, const kz_enc_params *p,
                      const unsigned char *in, size_t inlen,
                      unsigned char *out, size_t *outlen);
/* Public-key operations. */
CK_RV kz_pkey_verify(const kz_pkey *k, const kz_sig_params *p,
                     const unsigned char *in, size_t inlen,
                     const unsigned char *sig, size_t siglen);
CK_RV kz_pkey_encrypt(const kz_pkey *k, const kz_enc_params *p,
                      const unsigned char *in, size_t inlen,
                      unsigned char *out, size_t *outlen);
/* DER DigestInfo(hash, digest) for card drivers that pad on the host. */
CK_RV kz_digest_info(CK_MECHANISM_TYPE hash, const unsigned char *digest, size_t dlen,
                     unsigned char *out, size_t *outlen);

/* ---- Digests ------------------------------------------------------------ */

typedef struct kz_digest kz_digest;
kz_digest *kz_digest_new(CK_MECHANISM_TYPE hash_mech);
CK_RV kz_digest_update(kz_digest *d, const unsigned char *in, size_t len);
CK_RV kz_digest_final(kz_digest *d, unsigned char *out, size_t *outlen);
size_t kz_digest_size(CK_MECHANISM_TYPE hash_mech);
void kz_digest_free(kz_digest *d);
/* One-shot: out must have room for kz_digest_size(). */
CK_RV kz_digest_oneshot(CK_MECHANISM_TYPE hash_mech, const unsigned char *in, size_t len,
                        unsigned char *out, size_t *outlen);

/* ---- Randomness ---------------------------------------------------------- */
CK_RV kz_random(unsigned char *out, size_t len);

/* Wipe a secret buffer (never optimised away). */
void kz_cleanse(void *p, size_t len);

#endif
