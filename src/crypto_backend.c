/* OpenSSL 3 behind the backend API. Everything is fetched from a private
 * library context once, at C_Initialize, so no operation pays for a fetch. */
#include "crypto_backend.h"
#include "log.h"

#include <stdatomic.h>
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

struct kz_pkey {
    atomic_int refs;
    CK_KEY_TYPE type;
    EVP_PKEY *evp;
};

struct kz_digest {
    CK_MECHANISM_TYPE mech;
    EVP_MD_CTX *ctx;
};

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

/* ---- Keys ---------------------------------------------------------------- */

kz_pkey *kz_pkey_from_evp(EVP_PKEY *evp)
{
    kz_pkey *k;

    if (!evp)
        return NULL;
    if (!EVP_PKEY_is_a(evp, "RSA")) {
        EVP_PKEY_free(evp);
        return NULL;
    }
    k = calloc(1, sizeof(*k));
    if (!k) {
        EVP_PKEY_free(evp);
        return NULL;
    }
    atomic_init(&k->refs, 1);
    k->type = CKK_RSA;
    k->evp = evp;
    return k;
}

kz_pkey *kz_pkey_from_spki(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    EVP_PKEY *evp = d2i_PUBKEY_ex(NULL, &p, (long)len, libctx, NULL);

    if (!evp || p != der + len) {
        EVP_PKEY_free(evp);
        ERR_clear_error();
        return NULL;
    }
    return kz_pkey_from_evp(evp);
}

kz_pkey *kz_pkey_from_pkcs8(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    EVP_PKEY *evp = NULL;

    if (p8)
        evp = EVP_PKCS82PKEY_ex(p8, libctx, NULL);
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return kz_pkey_from_evp(evp);
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
    /* Re-decode the SPKI in our library context rather than use the
     * certificate's key, which belongs to the default context. */
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
    ctx = EVP_PKEY_CTX_new_from_name(libctx, "RSA", NULL);
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
        atomic_fetch_add(&k->refs, 1);
    return k;
}

void kz_pkey_free(kz_pkey *k)
{
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    EVP_PKEY_free(k->evp);
    free(k);
}

CK_KEY_TYPE kz_pkey_type(const kz_pkey *k)
{
    return k->type;
}

CK_ULONG kz_pkey_bits(const kz_pkey *k)
{
    return (CK_ULONG)EVP_PKEY_get_bits(k->evp);
}

size_t kz_pkey_sig_len(const kz_pkey *k)
{
    return (size_t)EVP_PKEY_get_size(k->evp);
}

int kz_pkey_public_equal(const kz_pkey *a, const kz_pkey *b)
{
    return a && b && a->type == b->type && EVP_PKEY_eq(a->evp, b->evp) == 1;
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
    int n = i2d_PUBKEY(k->evp, &tmp);

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

/* ---- RSA operations -------------------------------------------------------- */

/* Checks that `in` fits the scheme before OpenSSL sees it, so the caller gets
 * CKR_DATA_LEN_RANGE rather than a generic failure. */
static CK_RV check_sig_input(const kz_pkey *k, const kz_sig_params *p, size_t inlen)
{
    size_t klen = kz_pkey_sig_len(k);

    if (p->hash) {
        const EVP_MD *md = kz_crypto_md(p->hash);
        if (!md)
            return CKR_MECHANISM_PARAM_INVALID;
        if (inlen != (size_t)EVP_MD_get_size(md))
            return CKR_DATA_LEN_RANGE;
    } else if (p->scheme != KZ_SIG_RSA_PKCS1 || inlen + 11 > klen) {
        return CKR_DATA_LEN_RANGE;
    }
    return CKR_OK;
}

static CK_RV setup_sig_ctx(EVP_PKEY_CTX *ctx, const kz_sig_params *p)
{
    if (p->scheme == KZ_SIG_RSA_PSS) {
        const EVP_MD *mgf = kz_crypto_md(p->mgf_hash);
        if (!mgf || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_signature_md(ctx, kz_crypto_md(p->hash)) <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)p->salt_len) <= 0)
            return CKR_MECHANISM_PARAM_INVALID;
        return CKR_OK;
    }
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
        return CKR_GENERAL_ERROR;
    if (p->hash && EVP_PKEY_CTX_set_signature_md(ctx, kz_crypto_md(p->hash)) <= 0)
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

CK_RV kz_pkey_sign(const kz_pkey *k, const kz_sig_params *p,
                   const unsigned char *in, size_t inlen,
                   unsigned char *out, size_t *outlen)
{
    EVP_PKEY_CTX *ctx;
    CK_RV rv = check_sig_input(k, p, inlen);

    if (rv != CKR_OK)
        return rv;
    if (*outlen < kz_pkey_sig_len(k)) {
        *outlen = kz_pkey_sig_len(k);
        return CKR_BUFFER_TOO_SMALL;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(libctx, k->evp, NULL);
    if (!ctx)
        return CKR_HOST_MEMORY;
    if (EVP_PKEY_sign_init(ctx) <= 0)
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
    else
        rv = setup_sig_ctx(ctx, p);
    if (rv == CKR_OK && EVP_PKEY_sign(ctx, out, outlen, in, inlen) <= 0)
        rv = CKR_FUNCTION_FAILED;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}

CK_RV kz_pkey_verify(const kz_pkey *k, const kz_sig_params *p,
                     const unsigned char *in, size_t inlen,
                     const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx;
    CK_RV rv = check_sig_input(k, p, inlen);
    int ok;

    if (rv != CKR_OK)
        return rv;
    if (siglen != kz_pkey_sig_len(k))
        return CKR_SIGNATURE_LEN_RANGE;
    ctx = EVP_PKEY_CTX_new_from_pkey(libctx, k->evp, NULL);
    if (!ctx)
        return CKR_HOST_MEMORY;
    if (EVP_PKEY_verify_init(ctx) <= 0)
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
    else
        rv = setup_sig_ctx(ctx, p);
    if (rv == CKR_OK) {
        ok = EVP_PKEY_verify(ctx, sig, siglen, in, inlen);
        rv = ok == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
    }
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}

static CK_RV setup_enc_ctx(EVP_PKEY_CTX *ctx, const kz_enc_params *p)
{
    if (p->scheme == KZ_ENC_RSA_PKCS1)
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0
               ? CKR_OK : CKR_GENERAL_ERROR;
    if (!kz_crypto_md(p->hash) || !kz_crypto_md(p->mgf_hash)
        || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0
        || EVP_PKEY_CTX_set_rsa_oaep_md(ctx, kz_crypto_md(p->hash)) <= 0
        || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, kz_crypto_md(p->mgf_hash)) <= 0)
        return CKR_MECHANISM_PARAM_INVALID;
    if (p->label && p->label_len) {
        /* OpenSSL takes ownership of the label buffer. */
        unsigned char *l = OPENSSL_memdup(p->label, p->label_len);
        if (!l)
            return CKR_HOST_MEMORY;
        if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, (int)p->label_len) <= 0) {
            OPENSSL_free(l);
            return CKR_MECHANISM_PARAM_INVALID;
        }
    }
    return CKR_OK;
}

CK_RV kz_pkey_decrypt(const kz_pkey *k, const kz_enc_params *p,
                      const unsigned char *in, size_t inlen,
                      unsigned char *out, size_t *outlen)
{
    size_t klen = kz_pkey_sig_len(k), n = klen;
    unsigned char *tmp;
    EVP_PKEY_CTX *ctx;
    CK_RV rv;

    if (inlen != klen)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    /* The plaintext length is only known after decryption: decrypt into a
     * scratch buffer so a short caller buffer loses nothing. */
    tmp = malloc(klen);
    ctx = EVP_PKEY_CTX_new_from_pkey(libctx, k->evp, NULL);
    if (!tmp || !ctx) {
        free(tmp);
        EVP_PKEY_CTX_free(ctx);
        return CKR_HOST_MEMORY;
    }
    rv = EVP_PKEY_decrypt_init(ctx) > 0 ? setup_enc_ctx(ctx, p) : CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (rv == CKR_OK && EVP_PKEY_decrypt(ctx, tmp, &n, in, inlen) <= 0)
        rv = CKR_ENCRYPTED_DATA_INVALID;
    if (rv == CKR_OK) {
        if (!out) {
            *outlen = n;
        } else if (*outlen < n) {
            *outlen = n;
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            memcpy(out, tmp, n);
            *outlen = n;
        }
    }
    OPENSSL_clear_free(tmp, klen);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}

CK_RV kz_pkey_encrypt(const kz_pkey *k, const kz_enc_params *p,
                      const unsigned char *in, size_t inlen,
                      unsigned char *out, size_t *outlen)
{
    size_t klen = kz_pkey_sig_len(k);
    EVP_PKEY_CTX *ctx;
    CK_RV rv;

    if (*outlen < klen) {
        *outlen = klen;
        return CKR_BUFFER_TOO_SMALL;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(libctx, k->evp, NULL);
    if (!ctx)
        return CKR_HOST_MEMORY;
    rv = EVP_PKEY_encrypt_init(ctx) > 0 ? setup_enc_ctx(ctx, p) : CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (rv == CKR_OK && EVP_PKEY_encrypt(ctx, out, outlen, in, inlen) <= 0)
        rv = CKR_DATA_LEN_RANGE;    /* the only input-dependent failure */
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rv;
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

/* ---- Digests --------------------------------------------------------------- */

size_t kz_digest_size(CK_MECHANISM_TYPE mech)
{
    const EVP_MD *md = kz_crypto_md(mech);
    return md ? (size_t)EVP_MD_get_size(md) : 0;
}

kz_digest *kz_digest_new(CK_MECHANISM_TYPE mech)
{
    const EVP_MD *md = kz_crypto_md(mech);
    kz_digest *d;

    if (!md)
        return NULL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->mech = mech;
    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx || EVP_DigestInit_ex2(d->ctx, md, NULL) <= 0) {
        kz_digest_free(d);
        return NULL;
    }
    return d;
}

CK_RV kz_digest_update(kz_digest *d, const unsigned char *in, size_t len)
{
    return EVP_DigestUpdate(d->ctx, in, len) > 0 ? CKR_OK : CKR_FUNCTION_FAILED;
}

CK_RV kz_digest_final(kz_digest *d, unsigned char *out, size_t *outlen)
{
    unsigned int n = 0;
    size_t need = kz_digest_size(d->mech);

    if (*outlen < need) {
        *outlen = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (EVP_DigestFinal_ex(d->ctx, out, &n) <= 0)
        return CKR_FUNCTION_FAILED;
    *outlen = n;
    return CKR_OK;
}

void kz_digest_free(kz_digest *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->ctx);
    free(d);
}

CK_RV kz_digest_oneshot(CK_MECHANISM_TYPE mech, const unsigned char *in, size_t len,
                        unsigned char *out, size_t *outlen)
{
    const EVP_MD *md = kz_crypto_md(mech);
    unsigned int n = 0;

    if (!md)
        return CKR_MECHANISM_INVALID;
    if (*outlen < (size_t)EVP_MD_get_size(md)) {
        *outlen = (size_t)EVP_MD_get_size(md);
        return CKR_BUFFER_TOO_SMALL;
    }
    if (EVP_Digest(in, len, out, &n, md, NULL) <= 0)
        return CKR_FUNCTION_FAILED;
    *outlen = n;
    return CKR_OK;
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
