/* Keys as the backend sees them: construction from the encodings tokens and
 * applications hand us, and dispatch to the algorithm's operations. RSA goes
 * to OpenSSL; GOST, which OpenSSL cannot parse under the Kazakh OIDs, to the
 * project's own decoder and maths. */
#include "crypto_pkey_internal.h"
#include "gost3410.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

kz_pkey *kz_pkey_alloc(CK_KEY_TYPE type)
{
    kz_pkey *k = calloc(1, sizeof(*k));

    if (k) {
        k->refs = 1;
        k->type = type;
    }
    return k;
}

kz_pkey *kz_pkey_from_evp(EVP_PKEY *evp)
{
    kz_pkey *k;

    if (!evp)
        return NULL;
    if (!EVP_PKEY_is_a(evp, "RSA") || !(k = kz_pkey_alloc(CKK_RSA))) {
        EVP_PKEY_free(evp);
        return NULL;
    }
    k->evp = evp;
    return k;
}

static CK_KEY_TYPE gost_key_type(const kz_gost_key *g)
{
    return g->curve->field_len == 64 ? CKK_GOSTR3410_512 : CKK_GOSTR3410;
}

/* Takes the decoded key over (and wipes the caller's copy). */
static kz_pkey *from_gost(kz_gost_key *g, const unsigned char *spki, size_t spki_len)
{
    kz_pkey *k = kz_pkey_alloc(gost_key_type(g));

    if (!k) {
        kz_gost_key_clear(g);
        return NULL;
    }
    k->gost = *g;
    kz_gost_key_clear(g);
    if (spki && (k->spki = malloc(spki_len))) {
        memcpy(k->spki, spki, spki_len);
        k->spki_len = spki_len;
    }
    return k;
}

kz_pkey *kz_pkey_from_spki(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    EVP_PKEY *evp = d2i_PUBKEY_ex(NULL, &p, (long)len, kz_crypto_libctx(), NULL);
    kz_gost_key g;

    ERR_clear_error();
    if (evp && p == der + len)
        return kz_pkey_from_evp(evp);
    EVP_PKEY_free(evp);
    if (kz_gost_key_from_spki(der, len, &g) == 0)
        return from_gost(&g, der, len);
    return NULL;
}

kz_pkey *kz_pkey_from_pkcs8(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    EVP_PKEY *evp = NULL;
    kz_gost_key g;

    if (p8)
        evp = EVP_PKCS82PKEY_ex(p8, kz_crypto_libctx(), NULL);
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    if (evp && EVP_PKEY_is_a(evp, "RSA"))
        return kz_pkey_from_evp(evp);
    EVP_PKEY_free(evp);
    if (kz_gost_key_from_pkcs8(der, len, &g) == 0)
        return from_gost(&g, NULL, 0);
    return NULL;
}

kz_pkey *kz_pkey_from_cert(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    unsigned char *spki = NULL;
    int spki_len;
    kz_pkey *k = NULL;

    if (!x)
        goto out;
    /* Decode the SPKI in our library context (or as GOST) rather than use
     * the certificate's key, which belongs to the default context. */
    spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    if (spki_len > 0)
        k = kz_pkey_from_spki(spki, (size_t)spki_len);
out:
    OPENSSL_free(spki);
    X509_free(x);
    ERR_clear_error();
    return k;
}

kz_pkey *kz_pkey_rsa_public(const unsigned char *n, size_t nlen,
                            const unsigned char *e, size_t elen)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *evp = NULL;

    if (!bld || !bn || !be || BN_is_zero(bn) || BN_is_zero(be))
        goto out;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(kz_crypto_libctx(), "RSA", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &evp, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        evp = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    ERR_clear_error();
    return kz_pkey_from_evp(evp);
}

kz_pkey *kz_pkey_up_ref(kz_pkey *k)
{
    if (k)
        __atomic_fetch_add(&k->refs, 1, __ATOMIC_RELAXED);
    return k;
}

void kz_pkey_free(kz_pkey *k)
{
    if (!k || __atomic_fetch_sub(&k->refs, 1, __ATOMIC_ACQ_REL) != 1)
        return;
    EVP_PKEY_free(k->evp);
    kz_gost_key_clear(&k->gost);
    free(k->spki);
    free(k);
}

CK_KEY_TYPE kz_pkey_type(const kz_pkey *k)
{
    return k->type;
}

CK_ULONG kz_pkey_bits(const kz_pkey *k)
{
    if (k->evp)
        return (CK_ULONG)EVP_PKEY_get_bits(k->evp);
    return (CK_ULONG)k->gost.curve->field_len * 8;
}

size_t kz_pkey_sig_len(const kz_pkey *k)
{
    if (k->evp)
        return (size_t)EVP_PKEY_get_size(k->evp);
    return kz_gost3410_sig_len(k->gost.curve);
}

int kz_pkey_has_private(const kz_pkey *k)
{
    if (k->evp) {
        BIGNUM *d = NULL;
        int has = EVP_PKEY_get_bn_param(k->evp, OSSL_PKEY_PARAM_RSA_D, &d) == 1;
        BN_clear_free(d);
        ERR_clear_error();
        return has;
    }
    return k->gost.has_priv;
}

int kz_pkey_public_equal(const kz_pkey *a, const kz_pkey *b)
{
    if (!a || !b || a->type != b->type)
        return 0;
    if (a->evp)
        return EVP_PKEY_eq(a->evp, b->evp) == 1;
    return a->gost.curve == b->gost.curve && a->gost.pub_len == b->gost.pub_len
           && memcmp(a->gost.pub, b->gost.pub, a->gost.pub_len) == 0;
}

static CK_RV bn_param(const EVP_PKEY *evp, const char *name, unsigned char **out, size_t *len)
{
    BIGNUM *bn = NULL;
    int n;

    if (!EVP_PKEY_get_bn_param(evp, name, &bn))
        return CKR_GENERAL_ERROR;
    n = BN_num_bytes(bn);
    *out = malloc(n > 0 ? (size_t)n : 1);
    if (!*out) {
        BN_free(bn);
        return CKR_HOST_MEMORY;
    }
    *len = (size_t)BN_bn2bin(bn, *out);
    BN_free(bn);
    return CKR_OK;
}

CK_RV kz_pkey_rsa_get(const kz_pkey *k, unsigned char **n, size_t *nlen,
                      unsigned char **e, size_t *elen)
{
    CK_RV rv;

    if (k->type != CKK_RSA)
        return CKR_KEY_TYPE_INCONSISTENT;
    rv = bn_param(k->evp, OSSL_PKEY_PARAM_RSA_N, n, nlen);
    if (rv != CKR_OK)
        return rv;
    rv = bn_param(k->evp, OSSL_PKEY_PARAM_RSA_E, e, elen);
    if (rv != CKR_OK) {
        free(*n);
        *n = NULL;
    }
    return rv;
}

CK_RV kz_pkey_spki(const kz_pkey *k, unsigned char **der, size_t *len)
{
    unsigned char *tmp = NULL;
    int n;

    if (!k->evp) {
        /* GOST: only the encoding the key arrived in; we do not invent one. */
        *der = NULL;
        *len = 0;
        if (!k->spki)
            return CKR_OK;
        if (!(*der = malloc(k->spki_len)))
            return CKR_HOST_MEMORY;
        memcpy(*der, k->spki, k->spki_len);
        *len = k->spki_len;
        return CKR_OK;
    }
    n = i2d_PUBKEY(k->evp, &tmp);
    if (n <= 0)
        return CKR_GENERAL_ERROR;
    *der = malloc((size_t)n);
    if (!*der) {
        OPENSSL_free(tmp);
        return CKR_HOST_MEMORY;
    }
    memcpy(*der, tmp, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(tmp);
    return CKR_OK;
}

/* ---- Dispatch --------------------------------------------------------------- */

CK_RV kz_pkey_sign(const kz_pkey *k, const kz_sig_params *p,
                   const unsigned char *in, size_t inlen,
                   unsigned char *out, size_t *outlen)
{
    if (kz_pkey_is_gost(k) != (p->scheme == KZ_SIG_GOST))
        return CKR_KEY_TYPE_INCONSISTENT;
    return kz_pkey_is_gost(k) ? kz_gost_sign(k, in, inlen, out, outlen)
                      : kz_rsa_sign(k, p, in, inlen, out, outlen);
}

CK_RV kz_pkey_verify(const kz_pkey *k, const kz_sig_params *p,
                     const unsigned char *in, size_t inlen,
                     const unsigned char *sig, size_t siglen)
{
    if (kz_pkey_is_gost(k) != (p->scheme == KZ_SIG_GOST))
        return CKR_KEY_TYPE_INCONSISTENT;
    return kz_pkey_is_gost(k) ? kz_gost_verify(k, in, inlen, sig, siglen)
                      : kz_rsa_verify(k, p, in, inlen, sig, siglen);
}

CK_RV kz_pkey_decrypt(const kz_pkey *k, const kz_enc_params *p,
                      const unsigned char *in, size_t inlen,
                      unsigned char *out, size_t *outlen)
{
    return k->evp ? kz_rsa_decrypt(k, p, in, inlen, out, outlen) : CKR_KEY_TYPE_INCONSISTENT;
}

CK_RV kz_pkey_encrypt(const kz_pkey *k, const kz_enc_params *p,
                      const unsigned char *in, size_t inlen,
                      unsigned char *out, size_t *outlen)
{
    return k->evp ? kz_rsa_encrypt(k, p, in, inlen, out, outlen) : CKR_KEY_TYPE_INCONSISTENT;
}
