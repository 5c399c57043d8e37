/* RSA operations over OpenSSL 3: PKCS#1 v1.5 and PSS signatures, PKCS#1
 * v1.5 and OAEP encryption. */
#include "crypto_pkey_internal.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/rsa.h>


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

CK_RV kz_rsa_sign(const kz_pkey *k, const kz_sig_params *p,
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
    ctx = EVP_PKEY_CTX_new_from_pkey(kz_crypto_libctx(), k->evp, NULL);
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

CK_RV kz_rsa_verify(const kz_pkey *k, const kz_sig_params *p,
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
    ctx = EVP_PKEY_CTX_new_from_pkey(kz_crypto_libctx(), k->evp, NULL);
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

CK_RV kz_rsa_decrypt(const kz_pkey *k, const kz_enc_params *p,
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
    ctx = EVP_PKEY_CTX_new_from_pkey(kz_crypto_libctx(), k->evp, NULL);
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

CK_RV kz_rsa_encrypt(const kz_pkey *k, const kz_enc_params *p,
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
    ctx = EVP_PKEY_CTX_new_from_pkey(kz_crypto_libctx(), k->evp, NULL);
    if (!ctx)
        return CKR_HOST_MEMORY;
    rv = EVP_PKEY_encrypt_init(ctx) > 0 ? setup_enc_ctx(ctx, p) : CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (rv == CKR_OK && EVP_PKEY_encrypt(ctx, out, outlen, in, inlen) <= 0)
        rv = CKR_DATA_LEN_RANGE;    /* the only input-dependent failure */
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}

