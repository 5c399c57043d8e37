/* Building PKCS#10 requests with OpenSSL's X509_REQ, signed on the token. */
#include "csr.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

/* The NCA's GOST 2015 profiles. A key's curve is recognised by its TC26
 * OID or by the NCA's alias for it; the request always carries the Kazakh
 * OIDs, which are what the NCA's registration centre expects. */
static const struct gost_profile {
    const char *curve_tc26, *curve_kz;
    const char *key_alg, *hash, *sig_alg;
    CK_MECHANISM_TYPE mech;
    size_t field_len;
} gost_profiles[] = {
    { "1.2.643.7.1.2.1.2.1", "1.2.398.3.10.1.1.2.2.1",
      "1.2.398.3.10.1.1.2.2", "1.2.398.3.10.1.3.3", "1.2.398.3.10.1.1.2.3.2",
      CKM_GOSTR3410_WITH_GOSTR3411_2012_512, 64 },
    { "1.2.643.7.1.2.1.1.1", "1.2.398.3.10.1.1.2.1.1",
      "1.2.398.3.10.1.1.2.1", "1.2.398.3.10.1.3.2", "1.2.398.3.10.1.1.2.3.1",
      CKM_GOSTR3410_WITH_GOSTR3411_2012_256, 32 },
};

/* GostR3410-2012-PublicKeyParameters (RFC 9215) with the NCA's OIDs. */
typedef struct {
    ASN1_OBJECT *curve;
    ASN1_OBJECT *digest;
} KZT_GOST_PARAMS;

ASN1_SEQUENCE(KZT_GOST_PARAMS) = {
    ASN1_SIMPLE(KZT_GOST_PARAMS, curve, ASN1_OBJECT),
    ASN1_SIMPLE(KZT_GOST_PARAMS, digest, ASN1_OBJECT),
} static_ASN1_SEQUENCE_END(KZT_GOST_PARAMS)

static const struct gost_profile *gost_profile_of(const kzt_tokkey *k)
{
    const unsigned char *p = k->gost_params;
    ASN1_OBJECT *o;
    char oid[80];
    size_t i;

    if (!p || !k->gost_params_len)
        return NULL;
    o = d2i_ASN1_OBJECT(NULL, &p, (long)k->gost_params_len);
    if (!o || OBJ_obj2txt(oid, sizeof(oid), o, 1) <= 0) {
        ASN1_OBJECT_free(o);
        ERR_clear_error();
        return NULL;
    }
    ASN1_OBJECT_free(o);
    for (i = 0; i < sizeof(gost_profiles) / sizeof(gost_profiles[0]); i++)
        if (strcmp(oid, gost_profiles[i].curve_tc26) == 0 || strcmp(oid, gost_profiles[i].curve_kz) == 0)
            return &gost_profiles[i];
    return NULL;
}

const char *kzt_csr_gost_key_alg(const kzt_tokkey *key)
{
    const struct gost_profile *g = gost_profile_of(key);

    return g ? g->key_alg : NULL;
}

static int set_rsa_key(X509_REQ *req, const kzt_tokkey *k)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *n = NULL, *e = NULL;
    int ok = 0;

    n = BN_bin2bn(k->modulus, (int)k->modulus_len, NULL);
    e = BN_bin2bn(k->exponent, (int)k->exponent_len, NULL);
    if (bld && n && e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) != NULL &&
        EVP_PKEY_fromdata_init(ctx) > 0 &&
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) > 0)
        ok = X509_REQ_set_pubkey(req, pk);
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return ok ? 0 : -1;
}

/* SubjectPublicKeyInfo { algorithm { key_alg, SEQUENCE { curve, hash } },
 * BIT STRING { OCTET STRING { X || Y little-endian } } }. */
static int set_gost_key(X509_REQ *req, const kzt_tokkey *k, const struct gost_profile *g)
{
    X509_PUBKEY *xpk = X509_REQ_get_X509_PUBKEY(req);
    KZT_GOST_PARAMS gp = { NULL, NULL };
    ASN1_OCTET_STRING *pt = ASN1_OCTET_STRING_new();
    ASN1_STRING *pstr = ASN1_STRING_new();
    ASN1_OBJECT *alg = OBJ_txt2obj(g->key_alg, 1);
    unsigned char *pder = NULL, *kder = NULL;
    int plen, klen = -1, ok = 0;

    gp.curve = OBJ_txt2obj(g->curve_kz, 1);
    gp.digest = OBJ_txt2obj(g->hash, 1);
    plen = (gp.curve && gp.digest)
        ? ASN1_item_i2d((ASN1_VALUE *)&gp, &pder, ASN1_ITEM_rptr(KZT_GOST_PARAMS)) : -1;
    if (pt && ASN1_OCTET_STRING_set(pt, k->gost_pub, (int)k->gost_pub_len))
        klen = i2d_ASN1_OCTET_STRING(pt, &kder);
    if (xpk && pstr && alg && plen > 0 && klen > 0) {
        ASN1_STRING_set0(pstr, pder, plen);
        pder = NULL;
        /* set0 takes alg, pstr and kder on success. */
        if (X509_PUBKEY_set0_param(xpk, alg, V_ASN1_SEQUENCE, pstr, kder, klen)) {
            alg = NULL;
            pstr = NULL;
            kder = NULL;
            ok = 1;
        }
    }
    ASN1_OBJECT_free(gp.curve);
    ASN1_OBJECT_free(gp.digest);
    ASN1_OCTET_STRING_free(pt);
    ASN1_STRING_free(pstr);
    ASN1_OBJECT_free(alg);
    OPENSSL_free(pder);
    OPENSSL_free(kder);
    return ok ? 0 : -1;
}

static int set_sig_alg(X509_REQ *req, const char *oid)
{
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    int ok = 0;

    /* Parameters NULL, as in every NCA certificate, RSA and GOST alike. */
    if (alg && o && X509_ALGOR_set0(alg, o, V_ASN1_NULL, NULL)) {
        o = NULL;
        ok = X509_REQ_set1_signature_algo(req, alg);
    }
    ASN1_OBJECT_free(o);
    X509_ALGOR_free(alg);
    return ok ? 0 : -1;
}

static void reverse(unsigned char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n / 2; i++) {
        unsigned char t = b[i];

        b[i] = b[n - 1 - i];
        b[n - 1 - i] = t;
    }
}

int kzt_csr_build(X509_NAME *subject, const kzt_tokkey *key,
                  kzt_signer sign, void *ctx, X509_REQ **out)
{
    const struct gost_profile *g = NULL;
    X509_REQ *req = X509_REQ_new();
    ASN1_BIT_STRING *bits = NULL;
    unsigned char *tbs = NULL, *sig = NULL;
    size_t sig_len = 0;
    CK_MECHANISM_TYPE mech;
    int tbs_len, rc = KZT_ETOKEN;

    *out = NULL;
    if (!req || !X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, subject)) {
        kzt_err("cannot build the request (out of memory?)");
        goto done;
    }
    if (key->type == CKK_RSA) {
        if (!key->modulus || !key->exponent) {
            kzt_err("cannot read the RSA public key (CKA_MODULUS, CKA_PUBLIC_EXPONENT) from the token");
            goto done;
        }
        if (set_rsa_key(req, key) != 0 || set_sig_alg(req, "1.2.840.113549.1.1.11") != 0) {
            kzt_err("cannot put the RSA key into the request");
            goto done;
        }
        mech = CKM_SHA256_RSA_PKCS;
    } else if (key->type == CKK_GOSTR3410 || key->type == CKK_GOSTR3410_512) {
        g = gost_profile_of(key);
        if (!g) {
            kzt_err("the key's GOST curve has no NCA GOST 2015 profile (only TC26-256-A and TC26-512-A have)");
            goto done;
        }
        if (!key->gost_pub || key->gost_pub_len != 2 * g->field_len) {
            kzt_err("cannot read the GOST public key (CKA_VALUE of the public key object) from the token");
            goto done;
        }
        if (set_gost_key(req, key, g) != 0 || set_sig_alg(req, g->sig_alg) != 0) {
            kzt_err("cannot put the GOST key into the request");
            goto done;
        }
        mech = g->mech;
    } else {
        kzt_err("key type 0x%lx: only RSA and GOST keys can be certified by the NCA",
                (unsigned long)key->type);
        goto done;
    }

    tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
    if (tbs_len <= 0) {
        kzt_err("cannot encode the request");
        goto done;
    }
    if ((rc = sign(ctx, mech, tbs, (size_t)tbs_len, &sig, &sig_len)) != KZT_OK)
        goto done;
    rc = KZT_ETOKEN;
    if (g) {
        if (sig_len != 2 * g->field_len) {
            kzt_err("the token returned a %zu-byte GOST signature, expected %zu", sig_len, 2 * g->field_len);
            goto done;
        }
        /* PKCS#11 gives s || r big-endian; the NCA writes r || s
         * little-endian, which is the same bytes reversed. */
        reverse(sig, sig_len);
    }
    bits = ASN1_BIT_STRING_new();
    if (!bits || !ASN1_BIT_STRING_set(bits, sig, (int)sig_len)) {
        kzt_err("out of memory");
        goto done;
    }
    /* Without this OpenSSL would count trailing zero bits of the last byte
     * as unused bits and so change the signature's encoding. */
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    X509_REQ_set0_signature(req, bits);
    bits = NULL;

    if (!g) {
        /* A cheap guard against a token that signs with some other key. */
        EVP_PKEY *pk = X509_REQ_get0_pubkey(req);

        if (!pk || X509_REQ_verify(req, pk) != 1) {
            kzt_err("the token's signature does not verify with its public key");
            goto done;
        }
    }
    *out = req;
    req = NULL;
    rc = KZT_OK;

done:
    ERR_clear_error();
    ASN1_BIT_STRING_free(bits);
    OPENSSL_free(tbs);
    free(sig);
    X509_REQ_free(req);
    return rc;
}
