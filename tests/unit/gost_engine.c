#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "gost_engine.h"

static const gost_engine_curve curves[] = {
    { "TC26-256-A", NID_id_GostR3410_2012_256, "TCA", NID_id_GostR3411_2012_256 },
    { "TC26-512-A", NID_id_GostR3410_2012_512, "A", NID_id_GostR3411_2012_512 },
    { "TC26-512-B", NID_id_GostR3410_2012_512, "B", NID_id_GostR3411_2012_512 },
    { "TC26-512-C", NID_id_GostR3410_2012_512, "C", NID_id_GostR3411_2012_512 },
    { "CryptoPro-A", NID_id_GostR3410_2001, "A", NID_id_GostR3411_94_CryptoProParamSet },
    { "CryptoPro-B", NID_id_GostR3410_2001, "B", NID_id_GostR3411_94_CryptoProParamSet },
    { "CryptoPro-C", NID_id_GostR3410_2001, "C", NID_id_GostR3411_94_CryptoProParamSet },
};

const gost_engine_curve *gost_engine_curve_for(const char *name)
{
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
        if (strcmp(curves[i].curve, name) == 0)
            return &curves[i];
    return NULL;
}

size_t gost_engine_curve_count(void)
{
    return sizeof(curves) / sizeof(curves[0]);
}

const gost_engine_curve *gost_engine_curve_at(size_t i)
{
    return i < gost_engine_curve_count() ? &curves[i] : NULL;
}

ENGINE *gost_engine(void)
{
    static ENGINE *loaded;
    ENGINE *e;

    if (loaded)
        return loaded;
    e = ENGINE_by_id("gost");
    if (!e || !ENGINE_init(e)) {
        ERR_print_errors_fp(stderr);
        ENGINE_free(e);
        fail_msg("cannot load the gost engine (Debian: libengine-gost-openssl)");
    }
    /* Its key encodings must be known to d2i_PUBKEY. */
    if (!ENGINE_set_default(e, ENGINE_METHOD_ALL))
        fail_msg("cannot register the gost engine's methods");
    loaded = e;
    return e;
}

EVP_PKEY *gost_engine_keygen(const gost_engine_curve *ec)
{
    EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(ec->key_nid, gost_engine());
    EVP_PKEY *k = NULL;

    assert_non_null(kc);
    assert_true(EVP_PKEY_keygen_init(kc) > 0);
    assert_true(EVP_PKEY_CTX_ctrl_str(kc, "paramset", ec->paramset) > 0);
    assert_true(EVP_PKEY_keygen(kc, &k) > 0);
    EVP_PKEY_CTX_free(kc);
    return k;
}

EVP_PKEY *gost_engine_pubkey(const gost_engine_curve *ec, const kz_gost_curve *c,
                             const unsigned char *pub)
{
    STACK_OF(ASN1_TYPE) *seq = sk_ASN1_TYPE_new_null();
    ASN1_TYPE *t1 = ASN1_TYPE_new(), *t2 = ASN1_TYPE_new();
    const unsigned char *p = c->oid_der;
    ASN1_OBJECT *paramset = d2i_ASN1_OBJECT(NULL, &p, (long)c->oid_der_len);
    ASN1_STRING *params = ASN1_STRING_new();
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_PUBKEY *xpk = X509_PUBKEY_new();
    unsigned char *pder = NULL, *enc = NULL, *spki = NULL;
    int plen, elen, spki_len;
    EVP_PKEY *k;

    gost_engine();
    assert_non_null(paramset);
    ASN1_TYPE_set(t1, V_ASN1_OBJECT, paramset);
    ASN1_TYPE_set(t2, V_ASN1_OBJECT, OBJ_nid2obj(ec->digest_param_nid));
    assert_true(sk_ASN1_TYPE_push(seq, t1) > 0);
    assert_true(sk_ASN1_TYPE_push(seq, t2) > 0);
    plen = i2d_ASN1_SEQUENCE_ANY(seq, &pder);
    assert_true(plen > 0);
    assert_true(ASN1_STRING_set(params, pder, plen));
    assert_true(ASN1_OCTET_STRING_set(os, pub, (int)(2 * c->field_len)));
    elen = i2d_ASN1_OCTET_STRING(os, &enc);
    assert_true(elen > 0);
    assert_true(X509_PUBKEY_set0_param(xpk, OBJ_nid2obj(ec->key_nid), V_ASN1_SEQUENCE, params, enc, elen));
    spki_len = i2d_X509_PUBKEY(xpk, &spki);
    assert_true(spki_len > 0);
    p = spki;
    k = d2i_PUBKEY(NULL, &p, spki_len);
    OPENSSL_free(spki);
    if (!k) {
        ERR_print_errors_fp(stderr);
        fail_msg("the engine rejected a %s public key", c->name);
    }
    X509_PUBKEY_free(xpk);
    ASN1_OCTET_STRING_free(os);
    OPENSSL_free(pder);
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return k;
}

void gost_engine_pub_bytes(EVP_PKEY *k, unsigned char *out, size_t n)
{
    unsigned char *der = NULL;
    const unsigned char *p, *bits;
    int len = i2d_PUBKEY(k, &der), blen;
    X509_PUBKEY *xpk;
    ASN1_OCTET_STRING *os;

    assert_true(len > 0);
    p = der;
    assert_non_null(xpk = d2i_X509_PUBKEY(NULL, &p, len));
    assert_true(X509_PUBKEY_get0_param(NULL, &bits, &blen, NULL, xpk));
    p = bits;
    assert_non_null(os = d2i_ASN1_OCTET_STRING(NULL, &p, blen));
    assert_int_equal(ASN1_STRING_length(os), (int)(2 * n));
    memcpy(out, ASN1_STRING_get0_data(os), 2 * n);
    ASN1_OCTET_STRING_free(os);
    X509_PUBKEY_free(xpk);
    OPENSSL_free(der);
}

void gost_engine_priv_le(EVP_PKEY *k, unsigned char *out, size_t n)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
    const unsigned char *pk;
    int pklen;

    assert_non_null(p8);
    assert_true(PKCS8_pkey_get0(NULL, &pk, &pklen, NULL, p8));
    assert_int_equal(pklen, (int)n);
    memcpy(out, pk, n);
    PKCS8_PRIV_KEY_INFO_free(p8);
}

size_t gost_engine_sign(EVP_PKEY *k, const unsigned char *dig, size_t dlen, unsigned char *sig)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, gost_engine());
    size_t siglen = 128;

    assert_non_null(c);
    assert_true(EVP_PKEY_sign_init(c) > 0);
    assert_true(EVP_PKEY_sign(c, sig, &siglen, dig, dlen) > 0);
    EVP_PKEY_CTX_free(c);
    return siglen;
}

int gost_engine_verify(EVP_PKEY *k, const unsigned char *dig, size_t dlen,
                       const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, gost_engine());
    int ok;

    assert_non_null(c);
    assert_true(EVP_PKEY_verify_init(c) > 0);
    ok = EVP_PKEY_verify(c, sig, siglen, dig, dlen) == 1;
    EVP_PKEY_CTX_free(c);
    ERR_clear_error();
    return ok;
}

void gost_engine_digest(int nid, const unsigned char *in, size_t len, unsigned char *out, unsigned int *outlen)
{
    const EVP_MD *md = ENGINE_get_digest(gost_engine(), nid);

    assert_non_null(md);
    assert_true(EVP_Digest(in, len, out, outlen, md, NULL) > 0);
}
