/* GOST R 34.10 keys and signatures in the backend: the NCA's GOST 2015 and
 * GOST 34.310-2004 keys, and the TC26 / CryptoPro ones, signing a digest
 * computed on the host (crypto_digest.c). */
#include "crypto_pkey_internal.h"
#include "gost3410.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/err.h>

CK_RV kz_gost_sign(const kz_pkey *k, const unsigned char *in, size_t inlen,
                   unsigned char *out, size_t *outlen)
{
    const kz_gost_curve *c = k->gost.curve;
    size_t need = kz_gost3410_sig_len(c);

    if (inlen != kz_gost3410_digest_len(c))
        return CKR_DATA_LEN_RANGE;
    if (*outlen < need) {
        *outlen = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (!k->gost.has_priv)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!kz_gost3410_sign(c, k->gost.priv, k->gost.priv_len, in, inlen, out))
        return CKR_FUNCTION_FAILED;
    *outlen = need;
    return CKR_OK;
}

CK_RV kz_gost_verify(const kz_pkey *k, const unsigned char *in, size_t inlen,
                     const unsigned char *sig, size_t siglen)
{
    const kz_gost_curve *c = k->gost.curve;

    if (inlen != kz_gost3410_digest_len(c))
        return CKR_DATA_LEN_RANGE;
    if (siglen != kz_gost3410_sig_len(c))
        return CKR_SIGNATURE_LEN_RANGE;
    return kz_gost3410_verify(c, k->gost.pub, k->gost.pub_len, in, inlen, sig, siglen)
           ? CKR_OK : CKR_SIGNATURE_INVALID;
}

/* The hash a key calls for when none is named: Streebog of the key's size
 * on TC26 curves and for 512-bit keys; on the CryptoPro curves GOST R
 * 34.11-94, with the test S-boxes (GOST 34.311-95) when the curve was named
 * by the NCA's GOST 34.310-2004 OID, else the CryptoPro ones as for GOST R
 * 34.10-2001 keys. */
static kz_gost_hash default_hash(const kz_gost_curve *c, const unsigned char *oid, size_t len)
{
    if (c->field_len == 64)
        return KZ_GOST_HASH_STREEBOG512;
    if (strncmp(c->name, "TC26", 4) == 0)
        return KZ_GOST_HASH_STREEBOG256;
    if (c->kz_oid_der && len == c->kz_oid_der_len && memcmp(oid, c->kz_oid_der, len) == 0)
        return KZ_GOST_HASH_GOST94_TEST;
    return KZ_GOST_HASH_GOST94_CRYPTOPRO;
}

static CK_RV params_from_oids(kz_gost_key *g, const unsigned char *curve_oid, size_t clen,
                              const unsigned char *hash_oid, size_t hlen)
{
    g->curve = kz_gost_curve_by_oid_der(curve_oid, clen);
    if (!g->curve)
        return CKR_DOMAIN_PARAMS_INVALID;
    g->hash = hash_oid && hlen ? kz_gost_hash_by_oid_der(hash_oid, hlen)
                               : default_hash(g->curve, curve_oid, clen);
    if (g->hash == KZ_GOST_HASH_NONE)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    /* A 512-bit key signs 64-byte digests only; a 256-bit one 32-byte ones. */
    if (kz_gost_hash_len(g->hash) != g->curve->field_len)
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}

CK_RV kz_pkey_gost_public(const unsigned char *curve_oid, size_t clen,
                          const unsigned char *hash_oid, size_t hlen,
                          const unsigned char *value, size_t vlen, kz_pkey **out)
{
    const unsigned char *p = value;
    ASN1_OCTET_STRING *os = NULL;
    kz_gost_key g = { 0 };
    kz_pkey *k;
    CK_RV rv = params_from_oids(&g, curve_oid, clen, hash_oid, hlen);

    if (rv != CKR_OK)
        return rv;
    /* CKA_VALUE is X||Y; some applications pass the DER OCTET STRING of a
     * certificate's key instead. Take both. */
    if (vlen != 2 * g.curve->field_len && (os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)vlen))
        && p == value + vlen) {
        value = ASN1_STRING_get0_data(os);
        vlen = (size_t)ASN1_STRING_length(os);
    }
    if (vlen != 2 * g.curve->field_len || !kz_gost3410_pub_check(g.curve, value, vlen)) {
        ASN1_OCTET_STRING_free(os);
        ERR_clear_error();
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    memcpy(g.pub, value, vlen);
    g.pub_len = vlen;
    g.has_pub = 1;
    ASN1_OCTET_STRING_free(os);
    ERR_clear_error();
    k = kz_pkey_alloc(g.curve->field_len == 64 ? CKK_GOSTR3410_512 : CKK_GOSTR3410);
    if (!k)
        return CKR_HOST_MEMORY;
    k->gost = g;
    *out = k;
    return CKR_OK;
}

CK_RV kz_pkey_gost_generate(const unsigned char *curve_oid, size_t clen,
                            const unsigned char *hash_oid, size_t hlen, kz_pkey **out)
{
    kz_gost_key g = { 0 };
    kz_pkey *k;
    CK_RV rv = params_from_oids(&g, curve_oid, clen, hash_oid, hlen);

    if (rv != CKR_OK)
        return rv;
    if (!kz_gost3410_keygen(g.curve, g.priv, g.pub)) {
        kz_gost_key_clear(&g);
        return CKR_FUNCTION_FAILED;
    }
    g.priv_len = g.curve->field_len;
    g.pub_len = 2 * g.curve->field_len;
    g.has_priv = g.has_pub = 1;
    k = kz_pkey_alloc(g.curve->field_len == 64 ? CKK_GOSTR3410_512 : CKK_GOSTR3410);
    if (!k) {
        kz_gost_key_clear(&g);
        return CKR_HOST_MEMORY;
    }
    k->gost = g;
    kz_gost_key_clear(&g);
    *out = k;
    return CKR_OK;
}

CK_RV kz_pkey_gost_params(const kz_pkey *k, const unsigned char **curve, size_t *clen,
                          const unsigned char **hash, size_t *hlen)
{
    if (!kz_pkey_is_gost(k))
        return CKR_KEY_TYPE_INCONSISTENT;
    return kz_gost_key_param_oids(&k->gost, curve, clen, hash, hlen) == 0 ? CKR_OK
                                                                          : CKR_GENERAL_ERROR;
}

CK_RV kz_pkey_gost_value(const kz_pkey *k, const unsigned char **pub, size_t *len)
{
    if (!kz_pkey_is_gost(k))
        return CKR_KEY_TYPE_INCONSISTENT;
    *pub = k->gost.pub;
    *len = k->gost.pub_len;
    return CKR_OK;
}

CK_MECHANISM_TYPE kz_pkey_gost_hash_mech(const kz_pkey *k)
{
    switch (k->gost.hash) {
    case KZ_GOST_HASH_STREEBOG256: return CKM_GOSTR3411_2012_256;
    case KZ_GOST_HASH_STREEBOG512: return CKM_GOSTR3411_2012_512;
    case KZ_GOST_HASH_GOST94_TEST: return KZ_CKM_GOSTR3411_94_TEST;
    case KZ_GOST_HASH_GOST94_CRYPTOPRO: return CKM_GOSTR3411;
    default: return 0;
    }
}
