/* Keys leaving the backend in storable form: PKCS#8 and SubjectPublicKeyInfo
 * in the encodings NCA containers and certificates use, the Subject Key
 * Identifier that names a container, and fresh RSA key pairs for a token
 * that generates its own keys. Everything OpenSSL computes here runs in the
 * backend's library context. */
#include "crypto_pkey_internal.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

/* Malloc failures show only on OpenSSL's error queue; everything else is a
 * plain failure. Drains the queue, as the rest of the backend leaves it
 * empty. */
static CK_RV openssl_rv(void)
{
    unsigned long e;
    CK_RV rv = CKR_FUNCTION_FAILED;

    while ((e = ERR_get_error()) != 0)
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
            rv = CKR_HOST_MEMORY;
    return rv;
}

/* Moves an OpenSSL-allocated result into malloc'd memory, the backend's
 * convention for what it returns, wiping the original when it is secret.
 * The buffer is released on failure too. */
static CK_RV hand_over(unsigned char *buf, size_t n, int secret,
                       unsigned char **der, size_t *len)
{
    unsigned char *m = n > 0 ? malloc(n) : NULL;

    if (m != NULL)
        memcpy(m, buf, n);
    if (secret)
        OPENSSL_clear_free(buf, n);
    else
        OPENSSL_free(buf);
    if (m == NULL)
        return CKR_HOST_MEMORY;
    *der = m;
    *len = n;
    return CKR_OK;
}

CK_RV kz_pkey_to_pkcs8(const kz_pkey *k, unsigned char **der, size_t *len)
{
    OSSL_ENCODER_CTX *ectx;
    unsigned char *buf = NULL;
    size_t n = 0;
    CK_RV rv;

    if (k == NULL || der == NULL || len == NULL)
        return CKR_ARGUMENTS_BAD;
    *der = NULL;
    *len = 0;

    if (kz_pkey_is_gost(k)) {
        if (!k->gost.has_priv)
            return CKR_KEY_TYPE_INCONSISTENT;
        if (kz_gost_key_to_pkcs8(&k->gost, kz_gost_key_kazakh_encodable(&k->gost),
                                 &buf, &n) != 0)
            return CKR_FUNCTION_FAILED;
        return hand_over(buf, n, 1, der, len);
    }

    if (k->evp == NULL || !kz_pkey_has_private(k))
        return CKR_KEY_TYPE_INCONSISTENT;
    /* The encoder comes from the key's own provider, i.e. from the backend
     * context the key was made in. */
    ectx = OSSL_ENCODER_CTX_new_for_pkey(k->evp, EVP_PKEY_KEYPAIR, "DER",
                                         "PrivateKeyInfo", NULL);
    if (ectx == NULL || OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0
        || !OSSL_ENCODER_to_data(ectx, &buf, &n) || buf == NULL) {
        OSSL_ENCODER_CTX_free(ectx);
        OPENSSL_clear_free(buf, n);
        return openssl_rv();
    }
    OSSL_ENCODER_CTX_free(ectx);
    rv = hand_over(buf, n, 1, der, len);
    ERR_clear_error();
    return rv;
}

CK_RV kz_pkey_to_spki_nca(const kz_pkey *k, unsigned char **der, size_t *len)
{
    unsigned char *buf = NULL;
    size_t n = 0;
    CK_RV rv;

    if (k == NULL || der == NULL || len == NULL)
        return CKR_ARGUMENTS_BAD;
    *der = NULL;
    *len = 0;

    if (kz_pkey_is_gost(k)) {
        if (!k->gost.has_pub)
            return CKR_KEY_TYPE_INCONSISTENT;
        if (kz_gost_key_to_spki(&k->gost, kz_gost_key_kazakh_encodable(&k->gost),
                                &buf, &n) != 0)
            return CKR_FUNCTION_FAILED;
        return hand_over(buf, n, 0, der, len);
    }
    rv = kz_pkey_spki(k, der, len);
    ERR_clear_error();
    return rv;
}

CK_RV kz_pkey_ski(const kz_pkey *k, unsigned char out[20])
{
    unsigned char *spki = NULL;
    const unsigned char *p;
    size_t spki_len = 0, dlen = 20;
    STACK_OF(ASN1_TYPE) *seq = NULL;
    const ASN1_TYPE *bits;
    CK_RV rv;

    if (k == NULL || out == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = kz_pkey_to_spki_nca(k, &spki, &spki_len);
    if (rv != CKR_OK)
        return rv;

    /* Read back as a plain SEQUENCE { AlgorithmIdentifier, BIT STRING }:
     * nothing has to understand the key algorithm, and the BIT STRING's
     * value comes without the unused-bits byte, as method 1 wants. */
    p = spki;
    seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)spki_len);
    if (seq == NULL || p != spki + spki_len || sk_ASN1_TYPE_num(seq) != 2
        || (bits = sk_ASN1_TYPE_value(seq, 1))->type != V_ASN1_BIT_STRING) {
        rv = seq == NULL ? openssl_rv() : CKR_FUNCTION_FAILED;
        goto out;
    }
    rv = kz_digest_oneshot(CKM_SHA_1, ASN1_STRING_get0_data(bits->value.bit_string),
                           (size_t)ASN1_STRING_length(bits->value.bit_string), out, &dlen);
    if (rv == CKR_OK && dlen != 20)
        rv = CKR_FUNCTION_FAILED;
out:
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    free(spki);
    ERR_clear_error();
    return rv;
}

CK_RV kz_pkey_generate_rsa(CK_ULONG bits, CK_ULONG e, kz_pkey **out)
{
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *evp = NULL;
    BIGNUM *be = NULL;
    CK_RV rv = CKR_OK;

    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    *out = NULL;
    /* The sizes NCA issues certificates for and PKCS#11 applications ask
     * for; below 2048 is no longer acceptable for a signing key. */
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return CKR_KEY_SIZE_RANGE;
    if (e == 0)
        e = 65537;
    if (e < 3 || (e & 1) == 0)
        return CKR_ATTRIBUTE_VALUE_INVALID;

    ctx = EVP_PKEY_CTX_new_from_name(kz_crypto_libctx(), "RSA", NULL);
    if (ctx == NULL || (be = BN_new()) == NULL || !BN_set_word(be, e)
        || EVP_PKEY_keygen_init(ctx) <= 0
        || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) <= 0
        || EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, be) <= 0
        || EVP_PKEY_generate(ctx, &evp) <= 0) {
        rv = openssl_rv();
        goto out;
    }
    /* Takes evp over, and frees it on failure. */
    *out = kz_pkey_from_evp(evp);
    if (*out == NULL)
        rv = CKR_HOST_MEMORY;
out:
    BN_free(be);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}
