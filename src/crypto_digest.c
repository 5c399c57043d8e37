/* Message digests: SHA-1/2 through OpenSSL, and the GOST hashes (Streebog,
 * GOST R 34.11-94) through the project's own code, which OpenSSL lacks. */
#include "crypto_backend.h"
#include "gost94.h"
#include "streebog.h"

#include <stdlib.h>
#include <string.h>

typedef enum { DIG_EVP, DIG_STREEBOG, DIG_GOST94 } dig_kind;

struct kz_digest {
    CK_MECHANISM_TYPE mech;
    dig_kind kind;
    union {
        EVP_MD_CTX *evp;
        kz_streebog_ctx sb;
        kz_gost94_ctx g94;
    } u;
};

size_t kz_digest_size(CK_MECHANISM_TYPE mech)
{
    const EVP_MD *md;

    switch (mech) {
    case CKM_GOSTR3411_2012_256:
    case CKM_GOSTR3411:
    case KZ_CKM_GOSTR3411_94_TEST:
        return 32;
    case CKM_GOSTR3411_2012_512:
        return 64;
    default:
        md = kz_crypto_md(mech);
        return md ? (size_t)EVP_MD_get_size(md) : 0;
    }
}

kz_digest *kz_digest_new(CK_MECHANISM_TYPE mech)
{
    kz_digest *d;

    if (kz_digest_size(mech) == 0)
        return NULL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->mech = mech;
    switch (mech) {
    case CKM_GOSTR3411_2012_256:
    case CKM_GOSTR3411_2012_512:
        d->kind = DIG_STREEBOG;
        kz_streebog_init(&d->u.sb, mech == CKM_GOSTR3411_2012_256 ? 256 : 512);
        break;
    case CKM_GOSTR3411:
    case KZ_CKM_GOSTR3411_94_TEST:
        d->kind = DIG_GOST94;
        kz_gost94_init(&d->u.g94, mech == CKM_GOSTR3411 ? &kz_gost94_cryptopro_params
                                                         : &kz_gost94_test_params);
        break;
    default:
        d->kind = DIG_EVP;
        d->u.evp = EVP_MD_CTX_new();
        if (!d->u.evp || EVP_DigestInit_ex2(d->u.evp, kz_crypto_md(mech), NULL) <= 0) {
            kz_digest_free(d);
            return NULL;
        }
    }
    return d;
}

CK_RV kz_digest_update(kz_digest *d, const unsigned char *in, size_t len)
{
    switch (d->kind) {
    case DIG_STREEBOG:
        kz_streebog_update(&d->u.sb, in, len);
        return CKR_OK;
    case DIG_GOST94:
        kz_gost94_update(&d->u.g94, in, len);
        return CKR_OK;
    default:
        return EVP_DigestUpdate(d->u.evp, in, len) > 0 ? CKR_OK : CKR_FUNCTION_FAILED;
    }
}

CK_RV kz_digest_final(kz_digest *d, unsigned char *out, size_t *outlen)
{
    size_t need = kz_digest_size(d->mech);
    unsigned int n = 0;

    if (*outlen < need) {
        *outlen = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    switch (d->kind) {
    case DIG_STREEBOG:
        kz_streebog_final(&d->u.sb, out);
        break;
    case DIG_GOST94:
        kz_gost94_final(&d->u.g94, out);
        break;
    default:
        if (EVP_DigestFinal_ex(d->u.evp, out, &n) <= 0)
            return CKR_FUNCTION_FAILED;
    }
    *outlen = need;
    return CKR_OK;
}

void kz_digest_free(kz_digest *d)
{
    if (!d)
        return;
    if (d->kind == DIG_EVP)
        EVP_MD_CTX_free(d->u.evp);
    /* The GOST contexts may have hashed secrets; the final wipes them, but
     * an abandoned operation never reaches it. */
    kz_cleanse(d, sizeof(*d));
    free(d);
}

CK_RV kz_digest_oneshot(CK_MECHANISM_TYPE mech, const unsigned char *in, size_t len,
                        unsigned char *out, size_t *outlen)
{
    const EVP_MD *md = kz_crypto_md(mech);
    size_t need = kz_digest_size(mech);
    unsigned int n = 0;

    if (!need)
        return CKR_MECHANISM_INVALID;
    if (*outlen < need) {
        *outlen = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (md) {
        /* EVP_Digest with a pre-fetched MD: no context allocation to keep. */
        if (EVP_Digest(in, len, out, &n, md, NULL) <= 0)
            return CKR_FUNCTION_FAILED;
    } else if (mech == CKM_GOSTR3411_2012_256 || mech == CKM_GOSTR3411_2012_512) {
        kz_streebog(mech == CKM_GOSTR3411_2012_256 ? 256 : 512, in, len, out);
    } else {
        kz_gost94(mech == CKM_GOSTR3411 ? &kz_gost94_cryptopro_params : &kz_gost94_test_params,
                  in, len, out);
    }
    *outlen = need;
    return CKR_OK;
}
