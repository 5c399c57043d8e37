/* The backend's shared state: a private OpenSSL library context and the
 * digests fetched from it once, at C_Initialize, so no operation pays for a
 * fetch. Keys live in crypto_pkey.c, digests in crypto_digest.c. */
#include "crypto_backend.h"
#include "gost3410.h"
#include "gost_curves.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

static OSSL_LIB_CTX *libctx;
static OSSL_PROVIDER *prov_default, *prov_legacy;

static const struct {
    CK_MECHANISM_TYPE mech;
    const char *name;
    int nid;
} hashes[] = {
    { CKM_SHA_1, "SHA1", NID_sha1 },
    { CKM_SHA224, "SHA2-224", NID_sha224 },
    { CKM_SHA256, "SHA2-256", NID_sha256 },
    { CKM_SHA384, "SHA2-384", NID_sha384 },
    { CKM_SHA512, "SHA2-512", NID_sha512 },
};
#define N_HASHES (sizeof(hashes) / sizeof(hashes[0]))
static EVP_MD *md_cache[N_HASHES];

CK_RV kz_crypto_init(void)
{
    libctx = OSSL_LIB_CTX_new();
    if (!libctx)
        return CKR_HOST_MEMORY;
    prov_default = OSSL_PROVIDER_load(libctx, "default");
    if (!prov_default) {
        kz_crypto_fini();
        return CKR_GENERAL_ERROR;
    }
    /* Only NCA containers need it; without it they fail at login, with a log line. */
    prov_legacy = OSSL_PROVIDER_load(libctx, "legacy");
    if (!prov_legacy)
        KZ_DEBUG("OpenSSL legacy provider unavailable: RC2/3DES containers will not open");
    for (size_t i = 0; i < N_HASHES; i++) {
        md_cache[i] = EVP_MD_fetch(libctx, hashes[i].name, NULL);
        if (!md_cache[i]) {
            kz_crypto_fini();
            return CKR_GENERAL_ERROR;
        }
    }
    ERR_clear_error();
    return CKR_OK;
}

void kz_crypto_fini(void)
{
    /* No call can be running now (C_Finalize's contract): the GOST tables
     * go too, so a program that unloads the module leaks nothing. */
    kz_gost3410_cleanup();
    kz_gost_curves_cleanup();
    for (size_t i = 0; i < N_HASHES; i++) {
        EVP_MD_free(md_cache[i]);
        md_cache[i] = NULL;
    }
    if (prov_legacy)
        OSSL_PROVIDER_unload(prov_legacy);
    if (prov_default)
        OSSL_PROVIDER_unload(prov_default);
    prov_legacy = prov_default = NULL;
    OSSL_LIB_CTX_free(libctx);
    libctx = NULL;
}

OSSL_LIB_CTX *kz_crypto_libctx(void)
{
    return libctx;
}

static int hash_index(CK_MECHANISM_TYPE mech)
{
    for (size_t i = 0; i < N_HASHES; i++)
        if (hashes[i].mech == mech)
            return (int)i;
    return -1;
}

const EVP_MD *kz_crypto_md(CK_MECHANISM_TYPE mech)
{
    int i = hash_index(mech);
    return i < 0 ? NULL : md_cache[i];
}

CK_MECHANISM_TYPE kz_crypto_mgf_hash(CK_RSA_PKCS_MGF_TYPE mgf)
{
    switch (mgf) {
    case CKG_MGF1_SHA1: return CKM_SHA_1;
    case CKG_MGF1_SHA224: return CKM_SHA224;
    case CKG_MGF1_SHA256: return CKM_SHA256;
    case CKG_MGF1_SHA384: return CKM_SHA384;
    case CKG_MGF1_SHA512: return CKM_SHA512;
    default: return 0;
    }
}

void kz_cleanse(void *p, size_t len)
{
    if (p && len)
        OPENSSL_cleanse(p, len);
}

CK_RV kz_digest_info(CK_MECHANISM_TYPE hash, const unsigned char *digest, size_t dlen,
                     unsigned char *out, size_t *outlen)
{
    int i = hash_index(hash);
    X509_SIG *sig;
    X509_ALGOR *alg;
    ASN1_OCTET_STRING *oct;
    unsigned char *der = NULL;
    int n;
    CK_RV rv = CKR_OK;

    if (i < 0)
        return CKR_MECHANISM_INVALID;
    if (dlen != (size_t)EVP_MD_get_size(md_cache[i]))
        return CKR_DATA_LEN_RANGE;
    sig = X509_SIG_new();
    if (!sig)
        return CKR_HOST_MEMORY;
    X509_SIG_getm(sig, &alg, &oct);
    if (!X509_ALGOR_set0(alg, OBJ_nid2obj(hashes[i].nid), V_ASN1_NULL, NULL)
        || !ASN1_OCTET_STRING_set(oct, digest, (int)dlen)
        || (n = i2d_X509_SIG(sig, &der)) <= 0) {
        rv = CKR_HOST_MEMORY;
    } else if ((size_t)n > *outlen) {
        *outlen = (size_t)n;
        rv = CKR_BUFFER_TOO_SMALL;
    } else {
        memcpy(out, der, (size_t)n);
        *outlen = (size_t)n;
    }
    OPENSSL_free(der);
    X509_SIG_free(sig);
    return rv;
}

CK_RV kz_random(unsigned char *out, size_t len)
{
    while (len) {
        size_t chunk = len > 1u << 20 ? 1u << 20 : len;
        if (RAND_bytes_ex(libctx, out, chunk, 0) <= 0)
            return CKR_FUNCTION_FAILED;
        out += chunk;
        len -= chunk;
    }
    return CKR_OK;
}
