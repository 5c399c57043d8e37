/* Decoding NCA (Kazakh) and Russian GOST R 34.10 keys; see gost_keys.h.
 *
 * All parsing goes through OpenSSL's ASN.1 decoders (d2i_X509, two small
 * templates for PrivateKeyInfo and SubjectPublicKeyInfo, d2i_ASN1_TYPE /
 * d2i_ASN1_SEQUENCE_ANY / d2i_ASN1_OCTET_STRING for the inner values); this
 * file never reads a tag or a length itself. Every decoder call must consume
 * its whole input: trailing bytes are an error. What OpenSSL's decoder
 * tolerates of BER (a constructed OCTET STRING, say) is tolerated here too;
 * the values then go through the same checks. */

#include "gost_keys.h"

#include <string.h>
#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "gost3410.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define DER(a) (a), sizeof(a)

/* ---- OIDs, complete DER (the unit test checks each against OBJ_txt2obj) -- */

/* Key algorithms. */
static const unsigned char der_kz_2015_512[] = { 0x06, 0x09, 0x2a, 0x83, 0x0e, 0x03, 0x0a, 0x01, 0x01, 0x02, 0x02 }; /* 1.2.398.3.10.1.1.2.2 */
static const unsigned char der_kz_2015_256[] = { 0x06, 0x09, 0x2a, 0x83, 0x0e, 0x03, 0x0a, 0x01, 0x01, 0x02, 0x01 }; /* 1.2.398.3.10.1.1.2.1 */
static const unsigned char der_kz_2004[]     = { 0x06, 0x09, 0x2a, 0x83, 0x0e, 0x03, 0x0a, 0x01, 0x01, 0x01, 0x01 }; /* 1.2.398.3.10.1.1.1.1 */
static const unsigned char der_ru_2012_256[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x01, 0x01 };       /* 1.2.643.7.1.1.1.1 */
static const unsigned char der_ru_2012_512[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x01, 0x02 };       /* 1.2.643.7.1.1.1.2 */
static const unsigned char der_ru_2001[]     = { 0x06, 0x06, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x13 };                   /* 1.2.643.2.2.19 */

/* Digests and digest parameter sets. */
static const unsigned char der_streebog256[]    = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x02 };             /* 1.2.643.7.1.1.2.2 */
static const unsigned char der_streebog512[]    = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x03 };             /* 1.2.643.7.1.1.2.3 */
static const unsigned char der_gost94_test[]    = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x00 };                   /* 1.2.643.2.2.30.0 */
static const unsigned char der_gost94_cp[]      = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01 };                   /* 1.2.643.2.2.30.1 */
static const unsigned char der_kz_streebog256[] = { 0x06, 0x08, 0x2a, 0x83, 0x0e, 0x03, 0x0a, 0x01, 0x03, 0x02 };             /* 1.2.398.3.10.1.3.2 */
static const unsigned char der_kz_streebog512[] = { 0x06, 0x08, 0x2a, 0x83, 0x0e, 0x03, 0x0a, 0x01, 0x03, 0x03 };             /* 1.2.398.3.10.1.3.3 */
static const unsigned char der_kz_gost34311[]   = { 0x06, 0x08, 0x2a, 0x83, 0x0e, 0x03, 0x0a, 0x01, 0x03, 0x01 };             /* 1.2.398.3.10.1.3.1 */
static const unsigned char der_kz_gost34311_p[] = { 0x06, 0x0a, 0x2a, 0x83, 0x0e, 0x03, 0x0a, 0x01, 0x03, 0x01, 0x01, 0x00 }; /* 1.2.398.3.10.1.3.1.1.0 */

/* Every digest OID accepted in key parameters, Kazakh and Russian. The NCA's
 * 2004 keys carry the hash parameter-set OID 1.2.398.3.10.1.3.1.1.0 (seen on
 * the fixtures); the bare hash OID is accepted as well. */
static const struct {
    const unsigned char *der;
    size_t len;
    kz_gost_hash hash;
} digest_oids[] = {
    { DER(der_streebog256), KZ_GOST_HASH_STREEBOG256 },
    { DER(der_kz_streebog256), KZ_GOST_HASH_STREEBOG256 },
    { DER(der_streebog512), KZ_GOST_HASH_STREEBOG512 },
    { DER(der_kz_streebog512), KZ_GOST_HASH_STREEBOG512 },
    { DER(der_gost94_test), KZ_GOST_HASH_GOST94_TEST },
    { DER(der_kz_gost34311_p), KZ_GOST_HASH_GOST94_TEST },
    { DER(der_kz_gost34311), KZ_GOST_HASH_GOST94_TEST },
    { DER(der_gost94_cp), KZ_GOST_HASH_GOST94_CRYPTOPRO },
};

/* Private-key content forms (see gost_keys.h). */
enum {
    FORM_OCTET = 1,   /* OCTET STRING, n bytes little-endian */
    FORM_INT = 2,     /* INTEGER, big-endian */
    FORM_RAW = 4,     /* n raw bytes little-endian, no wrapper */
};

typedef struct {
    const unsigned char *der;
    size_t der_len;
    size_t field_len;
    int kazakh;
    int gost94;                   /* 2001 / 34.310-2004: a GOST R 34.11-94 hash */
    const char *default_curve;    /* used when the parameters are absent; NULL: required */
    kz_gost_hash default_hash;    /* used when no digest OID; NONE: required */
    unsigned forms;
} alg_info;

static const alg_info algs[] = {
    { DER(der_kz_2015_512), 64, 1, 0, "TC26-512-A", KZ_GOST_HASH_STREEBOG512, FORM_OCTET },
    { DER(der_kz_2015_256), 32, 1, 0, "TC26-256-A", KZ_GOST_HASH_STREEBOG256, FORM_OCTET },
    { DER(der_kz_2004), 32, 1, 1, "CryptoPro-A", KZ_GOST_HASH_GOST94_TEST, FORM_INT },
    { DER(der_ru_2012_512), 64, 0, 0, NULL, KZ_GOST_HASH_STREEBOG512, FORM_OCTET | FORM_INT | FORM_RAW },
    { DER(der_ru_2012_256), 32, 0, 0, NULL, KZ_GOST_HASH_STREEBOG256, FORM_OCTET | FORM_INT | FORM_RAW },
    { DER(der_ru_2001), 32, 0, 1, NULL, KZ_GOST_HASH_NONE, FORM_OCTET | FORM_INT | FORM_RAW },
};

/* ---- Small helpers -------------------------------------------------------- */

/* DER of an OID into buf. Longest OID we know is 12 bytes; anything over
 * the buffer is simply not one of ours. */
static int obj_der(const ASN1_OBJECT *o, unsigned char *buf, size_t cap, size_t *len)
{
    unsigned char *p = buf;
    int n;

    if (o == NULL || (n = i2d_ASN1_OBJECT(o, NULL)) <= 0 || (size_t)n > cap)
        return 0;
    if (i2d_ASN1_OBJECT(o, &p) != n)
        return 0;
    *len = (size_t)n;
    return 1;
}

static const alg_info *alg_by_obj(const ASN1_OBJECT *o)
{
    unsigned char buf[32];
    size_t len;

    if (!obj_der(o, buf, sizeof(buf), &len))
        return NULL;
    for (size_t i = 0; i < COUNT(algs); i++)
        if (algs[i].der_len == len && memcmp(algs[i].der, buf, len) == 0)
            return &algs[i];
    return NULL;
}

kz_gost_hash kz_gost_hash_by_oid_der(const unsigned char *der, size_t len)
{
    if (der == NULL)
        return KZ_GOST_HASH_NONE;
    for (size_t i = 0; i < COUNT(digest_oids); i++)
        if (digest_oids[i].len == len && memcmp(digest_oids[i].der, der, len) == 0)
            return digest_oids[i].hash;
    return KZ_GOST_HASH_NONE;
}

size_t kz_gost_hash_len(kz_gost_hash h)
{
    switch (h) {
    case KZ_GOST_HASH_STREEBOG512:
        return 64;
    case KZ_GOST_HASH_STREEBOG256:
    case KZ_GOST_HASH_GOST94_TEST:
    case KZ_GOST_HASH_GOST94_CRYPTOPRO:
        return 32;
    default:
        return 0;
    }
}

/* Wipes the value of a decoded OCTET STRING or INTEGER before it is freed:
 * it may be a private key. The buffer is one OpenSSL allocated for us. */
static void asn1_string_cleanse(const ASN1_STRING *s)
{
    if (s != NULL && ASN1_STRING_length(s) > 0)
        OPENSSL_cleanse((void *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
}

/* ---- Algorithm parameters --------------------------------------------------
 * SEQUENCE { publicKeyParamSet OID, digestParamSet OID OPTIONAL,
 *            encryptionParamSet OID OPTIONAL }, or absent / NULL for Kazakh
 * keys. The encryption parameter set (RFC 4357, old CryptoPro keys) is
 * accepted and ignored: it plays no part in signing. */
static int parse_params(const X509_ALGOR *alg, const alg_info *ai,
                        const kz_gost_curve **curve_out, kz_gost_hash *hash_out)
{
    const ASN1_OBJECT *aobj = NULL;
    const void *pval = NULL;
    int ptype = V_ASN1_UNDEF;
    const kz_gost_curve *curve = NULL;
    kz_gost_hash hash = KZ_GOST_HASH_NONE;
    STACK_OF(ASN1_TYPE) *seq = NULL;
    int ok = 0;

    X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
    if (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL) {
        if (ai->default_curve == NULL)
            goto out;
        curve = kz_gost_curve_by_name(ai->default_curve);
    } else if (ptype == V_ASN1_SEQUENCE && pval != NULL) {
        const ASN1_STRING *s = pval;
        const unsigned char *p = ASN1_STRING_get0_data(s);
        long slen = ASN1_STRING_length(s);
        unsigned char buf[32];
        size_t blen;
        int n;

        if (p == NULL || slen <= 0)
            goto out;
        seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, slen);
        if (seq == NULL || p != ASN1_STRING_get0_data(s) + slen)
            goto out;
        n = sk_ASN1_TYPE_num(seq);
        if (n < 1 || n > 3)
            goto out;
        for (int i = 0; i < n; i++)
            if (ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, i)) != V_ASN1_OBJECT)
                goto out;
        if (!obj_der(sk_ASN1_TYPE_value(seq, 0)->value.object, buf, sizeof(buf), &blen))
            goto out;
        curve = kz_gost_curve_by_oid_der(buf, blen);
        if (n >= 2) {
            if (!obj_der(sk_ASN1_TYPE_value(seq, 1)->value.object, buf, sizeof(buf), &blen))
                goto out;
            if ((hash = kz_gost_hash_by_oid_der(buf, blen)) == KZ_GOST_HASH_NONE)
                goto out;
        }
    } else {
        goto out;
    }

    if (curve == NULL || curve->field_len != ai->field_len)
        goto out;
    /* 2001 / 2004 keys live on the CryptoPro sets (RFC 4357); the TC26 sets
     * with a cofactor (RFC 7836) exist only for GOST R 34.10-2012. */
    if (ai->gost94 && curve->cofactor != 1)
        goto out;

    if (hash == KZ_GOST_HASH_NONE) {
        hash = ai->default_hash;                  /* NONE: 2001 keys must say */
    } else if (ai->gost94) {
        /* A 2001 / 2004 key names a GOST R 34.11-94 parameter set. A Kazakh
         * 2004 key naming the CryptoPro set gets that set. */
        if (hash != KZ_GOST_HASH_GOST94_TEST && hash != KZ_GOST_HASH_GOST94_CRYPTOPRO)
            hash = KZ_GOST_HASH_NONE;
    } else if (hash != ai->default_hash) {
        hash = KZ_GOST_HASH_NONE;                 /* 2012 / 2015: Streebog of the key size */
    }
    if (hash == KZ_GOST_HASH_NONE)
        goto out;

    *curve_out = curve;
    *hash_out = hash;
    ok = 1;
out:
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return ok;
}

/* ---- Private key ---------------------------------------------------------- */

/* Decodes PrivateKeyInfo.privateKey's content into n big-endian bytes,
 * checking 1 <= d < q. */
static int parse_priv(const unsigned char *pk, int pklen, const alg_info *ai,
                      const kz_gost_curve *c, unsigned char *out_be)
{
    const size_t n = c->field_len;
    const EC_GROUP *g = kz_gost_curve_group(c);
    const BIGNUM *q = g != NULL ? EC_GROUP_get0_order(g) : NULL;
    BIGNUM *d = BN_secure_new();
    ASN1_TYPE *t = NULL;
    int ok = 0;

    if (d == NULL || q == NULL || pk == NULL || pklen <= 0)
        goto out;

    if ((ai->forms & FORM_RAW) && (size_t)pklen == n) {
        /* The gost engine's default: the n bytes themselves. The engine
         * decides by length too, so an INTEGER whose whole encoding happens
         * to be n bytes long reads as raw in both. */
        if (BN_lebin2bn(pk, pklen, d) == NULL)
            goto out;
    } else {
        const unsigned char *p = pk;

        t = d2i_ASN1_TYPE(NULL, &p, pklen);
        if (t == NULL || p != pk + pklen)
            goto out;
        if (t->type == V_ASN1_OCTET_STRING && (ai->forms & FORM_OCTET)) {
            const ASN1_OCTET_STRING *s = t->value.octet_string;

            if ((size_t)ASN1_STRING_length(s) != n ||
                BN_lebin2bn(ASN1_STRING_get0_data(s), (int)n, d) == NULL)
                goto out;
        } else if (t->type == V_ASN1_INTEGER && (ai->forms & FORM_INT)) {
            const ASN1_INTEGER *s = t->value.integer;

            /* At most n value bytes plus a sign byte; a negative INTEGER
             * fails the range check below. */
            if ((size_t)ASN1_STRING_length(s) > n + 1 ||
                ASN1_INTEGER_to_BN(s, d) == NULL)
                goto out;
        } else {
            goto out;
        }
    }
    BN_set_flags(d, BN_FLG_CONSTTIME);
    if (BN_is_negative(d) || BN_is_zero(d) || BN_cmp(d, q) >= 0)
        goto out;
    ok = BN_bn2binpad(d, out_be, (int)n) == (int)n;
out:
    if (t != NULL) {
        if (t->type == V_ASN1_OCTET_STRING || t->type == V_ASN1_INTEGER)
            asn1_string_cleanse(t->value.asn1_string);
        ASN1_TYPE_free(t);
    }
    BN_clear_free(d);
    return ok;
}

/* PrivateKeyInfo (RFC 5208) / OneAsymmetricKey v1 (RFC 5958) with a template
 * of our own rather than OpenSSL's PKCS8_PRIV_KEY_INFO, which does not let
 * us see the version. A v2 publicKey [1] is not accepted (the decode fails
 * on it as trailing data); attributes [0] are accepted and ignored. */
typedef struct {
    ASN1_INTEGER *version;
    X509_ALGOR *algor;
    ASN1_OCTET_STRING *key;
    STACK_OF(X509_ATTRIBUTE) *attributes;
} KZ_P8;

ASN1_SEQUENCE(KZ_P8) = {
    ASN1_SIMPLE(KZ_P8, version, ASN1_INTEGER),
    ASN1_SIMPLE(KZ_P8, algor, X509_ALGOR),
    ASN1_SIMPLE(KZ_P8, key, ASN1_OCTET_STRING),
    ASN1_IMP_SET_OF_OPT(KZ_P8, attributes, X509_ATTRIBUTE, 0)
} static_ASN1_SEQUENCE_END(KZ_P8)

int kz_gost_key_from_pkcs8(const unsigned char *der, size_t len, kz_gost_key *out)
{
    KZ_P8 *p8 = NULL;
    const unsigned char *p = der;
    const alg_info *ai;
    kz_gost_key k;
    int rc = -1;

    if (out == NULL)
        return -1;
    kz_gost_key_clear(out);
    if (der == NULL || len == 0 || len > 65536)
        return -1;
    memset(&k, 0, sizeof(k));
    ERR_set_mark();

    p8 = (KZ_P8 *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(KZ_P8));
    if (p8 == NULL || p != der + len)
        goto out;
    /* v1 (0); v2 (1) only differs by the optional publicKey. */
    if (ASN1_INTEGER_get(p8->version) != 0 && ASN1_INTEGER_get(p8->version) != 1)
        goto out;
    if ((ai = alg_by_obj(p8->algor->algorithm)) == NULL)
        goto out;
    if (!parse_params(p8->algor, ai, &k.curve, &k.hash))
        goto out;
    if (!parse_priv(ASN1_STRING_get0_data(p8->key), ASN1_STRING_length(p8->key),
                    ai, k.curve, k.priv))
        goto out;
    k.priv_len = k.curve->field_len;
    k.has_priv = 1;
    k.pub_len = kz_gost3410_pub_len(k.curve);
    if (!kz_gost3410_pub_from_priv(k.curve, k.priv, k.priv_len, k.pub))
        goto out;
    k.has_pub = 1;
    k.kazakh = ai->kazakh;
    *out = k;
    rc = 0;
out:
    kz_gost_key_clear(&k);
    if (p8 != NULL)
        asn1_string_cleanse(p8->key);
    ASN1_item_free((ASN1_VALUE *)p8, ASN1_ITEM_rptr(KZ_P8));
    ERR_pop_to_mark();
    return rc;
}

/* ---- Public key ----------------------------------------------------------- */

/* SubjectPublicKeyInfo without OpenSSL's X509_PUBKEY, which would try to
 * turn the key into an EVP_PKEY and hides the BIT STRING's unused bits. */
typedef struct {
    X509_ALGOR *algor;
    ASN1_BIT_STRING *key;
} KZ_SPKI;

ASN1_SEQUENCE(KZ_SPKI) = {
    ASN1_SIMPLE(KZ_SPKI, algor, X509_ALGOR),
    ASN1_SIMPLE(KZ_SPKI, key, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(KZ_SPKI)

int kz_gost_key_from_spki(const unsigned char *der, size_t len, kz_gost_key *out)
{
    KZ_SPKI *spki = NULL;
    ASN1_OCTET_STRING *os = NULL;
    const alg_info *ai;
    const unsigned char *p = der, *kp;
    long klen;
    kz_gost_key k;
    int rc = -1;

    if (out == NULL)
        return -1;
    kz_gost_key_clear(out);
    if (der == NULL || len == 0 || len > 65536)
        return -1;
    memset(&k, 0, sizeof(k));
    ERR_set_mark();

    spki = (KZ_SPKI *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(KZ_SPKI));
    if (spki == NULL || p != der + len)
        goto out;
    /* The key is whole bytes: no unused bits in the BIT STRING. */
    if ((spki->key->flags & ASN1_STRING_FLAG_BITS_LEFT) && (spki->key->flags & 0x07) != 0)
        goto out;
    if ((ai = alg_by_obj(spki->algor->algorithm)) == NULL)
        goto out;
    if (!parse_params(spki->algor, ai, &k.curve, &k.hash))
        goto out;

    kp = ASN1_STRING_get0_data(spki->key);
    klen = ASN1_STRING_length(spki->key);
    if (kp == NULL || klen <= 0)
        goto out;
    p = kp;
    os = d2i_ASN1_OCTET_STRING(NULL, &p, klen);
    if (os == NULL || p != kp + klen)
        goto out;
    k.pub_len = kz_gost3410_pub_len(k.curve);
    if ((size_t)ASN1_STRING_length(os) != k.pub_len)
        goto out;
    memcpy(k.pub, ASN1_STRING_get0_data(os), k.pub_len);
    if (!kz_gost3410_pub_check(k.curve, k.pub, k.pub_len))
        goto out;
    k.has_pub = 1;
    k.kazakh = ai->kazakh;
    *out = k;
    rc = 0;
out:
    kz_gost_key_clear(&k);
    ASN1_OCTET_STRING_free(os);
    ASN1_item_free((ASN1_VALUE *)spki, ASN1_ITEM_rptr(KZ_SPKI));
    ERR_pop_to_mark();
    return rc;
}

int kz_gost_key_from_cert(const unsigned char *der, size_t len, kz_gost_key *out)
{
    X509 *x = NULL;
    const unsigned char *p = der;
    unsigned char *spki = NULL;
    int spki_len, rc = -1;

    if (out == NULL)
        return -1;
    kz_gost_key_clear(out);
    if (der == NULL || len == 0 || len > 1048576)
        return -1;
    ERR_set_mark();
    x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL || p != der + len)
        goto out;
    spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    if (spki_len <= 0 || spki == NULL)
        goto out;
    rc = kz_gost_key_from_spki(spki, (size_t)spki_len, out);
out:
    OPENSSL_free(spki);
    X509_free(x);
    ERR_pop_to_mark();
    return rc;
}

void kz_gost_key_clear(kz_gost_key *k)
{
    if (k != NULL)
        OPENSSL_cleanse(k, sizeof(*k));
}

/* ---- PKCS#11 parameter OIDs ------------------------------------------------
 * Convention (see gost_keys.h): the Russian TC26 / CryptoPro OIDs for every
 * key, Kazakh or not. */
int kz_gost_key_param_oids(const kz_gost_key *k,
                           const unsigned char **curve_der, size_t *curve_len,
                           const unsigned char **hash_der, size_t *hash_len)
{
    const unsigned char *h;
    size_t hl;

    if (k == NULL || k->curve == NULL || k->curve->oid_der == NULL)
        return -1;
    switch (k->hash) {
    case KZ_GOST_HASH_STREEBOG256:
        h = der_streebog256; hl = sizeof(der_streebog256);
        break;
    case KZ_GOST_HASH_STREEBOG512:
        h = der_streebog512; hl = sizeof(der_streebog512);
        break;
    case KZ_GOST_HASH_GOST94_TEST:
        h = der_gost94_test; hl = sizeof(der_gost94_test);
        break;
    case KZ_GOST_HASH_GOST94_CRYPTOPRO:
        h = der_gost94_cp; hl = sizeof(der_gost94_cp);
        break;
    default:
        return -1;
    }
    if (curve_der != NULL)
        *curve_der = k->curve->oid_der;
    if (curve_len != NULL)
        *curve_len = k->curve->oid_der_len;
    if (hash_der != NULL)
        *hash_der = h;
    if (hash_len != NULL)
        *hash_len = hl;
    return 0;
}

/* ---- Encoding ----------------------------------------------------------------
 * The inverse of the decoders, again through OpenSSL's ASN.1 types only
 * (PKCS8_PRIV_KEY_INFO, X509_PUBKEY, ASN1_TYPE sequences); see gost_keys.h
 * for which OIDs and private-key forms are written. */

typedef struct {
    const unsigned char *alg;
    size_t alg_len;
    const unsigned char *curve;
    size_t curve_len;
    const unsigned char *hash;    /* NULL: the parameters name the curve only */
    size_t hash_len;
    unsigned form;                /* one FORM_* bit */
} encoding;

/* The NCA's algorithm for the key: the Kazakh row of algs[] whose default
 * curve and hash the key has. Those defaults are exactly the three
 * curve / hash pairs the NCA names, so no other pairing can match. */
static const alg_info *kazakh_alg(const kz_gost_key *k)
{
    if (k->curve == NULL || k->curve->kz_oid_der == NULL)
        return NULL;
    for (size_t i = 0; i < COUNT(algs); i++)
        if (algs[i].kazakh && algs[i].default_hash == k->hash
            && kz_gost_curve_by_name(algs[i].default_curve) == k->curve)
            return &algs[i];
    return NULL;
}

int kz_gost_key_kazakh_encodable(const kz_gost_key *k)
{
    return k != NULL && kazakh_alg(k) != NULL;
}

static int choose_encoding(const kz_gost_key *k, int kazakh, encoding *e)
{
    const kz_gost_curve *c = k->curve;

    memset(e, 0, sizeof(*e));
    if (c == NULL || c->oid_der == NULL)
        return 0;

    if (kazakh) {
        const alg_info *ai = kazakh_alg(k);

        if (ai == NULL)
            return 0;
        e->alg = ai->der;
        e->alg_len = ai->der_len;
        e->curve = c->kz_oid_der;
        e->curve_len = c->kz_oid_der_len;
        switch (k->hash) {
        case KZ_GOST_HASH_STREEBOG512:
            e->hash = der_kz_streebog512; e->hash_len = sizeof(der_kz_streebog512);
            break;
        case KZ_GOST_HASH_STREEBOG256:
            e->hash = der_kz_streebog256; e->hash_len = sizeof(der_kz_streebog256);
            break;
        default:
            /* The parameter-set OID, not the bare hash OID: the NCA's 2004
             * keys and certificates carry 1.2.398.3.10.1.3.1.1.0. */
            e->hash = der_kz_gost34311_p; e->hash_len = sizeof(der_kz_gost34311_p);
            break;
        }
        e->form = ai->forms;
        return 1;
    }

    switch (k->hash) {
    case KZ_GOST_HASH_STREEBOG512:
        if (c->field_len != 64)
            return 0;
        e->alg = der_ru_2012_512; e->alg_len = sizeof(der_ru_2012_512);
        /* The sets TC26 defined in twisted Edwards form (256-A, 512-C)
         * came after RFC 4491; RFC 9215 and the engine write them without
         * a digest OID, the older sets with one. */
        if (!c->twisted_edwards) {
            e->hash = der_streebog512; e->hash_len = sizeof(der_streebog512);
        }
        break;
    case KZ_GOST_HASH_STREEBOG256:
        if (c->field_len != 32)
            return 0;
        e->alg = der_ru_2012_256; e->alg_len = sizeof(der_ru_2012_256);
        if (!c->twisted_edwards) {
            e->hash = der_streebog256; e->hash_len = sizeof(der_streebog256);
        }
        break;
    case KZ_GOST_HASH_GOST94_TEST:
    case KZ_GOST_HASH_GOST94_CRYPTOPRO:
        /* The same restriction the decoder applies to 2001 keys. */
        if (c->field_len != 32 || c->cofactor != 1)
            return 0;
        e->alg = der_ru_2001; e->alg_len = sizeof(der_ru_2001);
        if (k->hash == KZ_GOST_HASH_GOST94_TEST) {
            e->hash = der_gost94_test; e->hash_len = sizeof(der_gost94_test);
        } else {
            e->hash = der_gost94_cp; e->hash_len = sizeof(der_gost94_cp);
        }
        break;
    default:
        return 0;
    }
    e->curve = c->oid_der;
    e->curve_len = c->oid_der_len;
    e->form = FORM_RAW;
    return 1;
}

static ASN1_OBJECT *obj_from_der(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    ASN1_OBJECT *o = d2i_ASN1_OBJECT(NULL, &p, (long)len);

    if (o != NULL && p != der + len) {
        ASN1_OBJECT_free(o);
        o = NULL;
    }
    return o;
}

static int push_oid(STACK_OF(ASN1_TYPE) *seq, const unsigned char *der, size_t len)
{
    ASN1_OBJECT *o = obj_from_der(der, len);
    ASN1_TYPE *t = o != NULL ? ASN1_TYPE_new() : NULL;

    if (t == NULL) {
        ASN1_OBJECT_free(o);
        return 0;
    }
    ASN1_TYPE_set(t, V_ASN1_OBJECT, o);
    if (sk_ASN1_TYPE_push(seq, t) <= 0) {
        ASN1_TYPE_free(t);
        return 0;
    }
    return 1;
}

/* SEQUENCE { curve OID, hash OID OPTIONAL } in the form X509_ALGOR_set0
 * takes for V_ASN1_SEQUENCE: a string holding the whole encoding. */
static ASN1_STRING *params_new(const encoding *e)
{
    STACK_OF(ASN1_TYPE) *seq = sk_ASN1_TYPE_new_null();
    ASN1_STRING *s = NULL;
    unsigned char *der = NULL;
    int n;

    if (seq == NULL || !push_oid(seq, e->curve, e->curve_len)
        || (e->hash != NULL && !push_oid(seq, e->hash, e->hash_len)))
        goto out;
    n = i2d_ASN1_SEQUENCE_ANY(seq, &der);
    if (n <= 0 || (s = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) == NULL)
        goto out;
    ASN1_STRING_set0(s, der, n);
    der = NULL;
out:
    OPENSSL_free(der);
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return s;
}

/* PrivateKeyInfo.privateKey's content in the chosen form. */
static int priv_content(const kz_gost_key *k, unsigned form,
                        unsigned char **out, int *out_len)
{
    const size_t n = k->curve->field_len;
    unsigned char le[64];
    ASN1_STRING *s = NULL;
    BIGNUM *d = NULL;
    unsigned char *buf = NULL;
    int len = 0;

    for (size_t i = 0; i < n; i++)
        le[i] = k->priv[n - 1 - i];

    switch (form) {
    case FORM_RAW:
        if ((buf = OPENSSL_malloc(n)) != NULL) {
            memcpy(buf, le, n);
            len = (int)n;
        }
        break;
    case FORM_OCTET:
        if ((s = ASN1_OCTET_STRING_new()) != NULL && ASN1_OCTET_STRING_set(s, le, (int)n))
            len = i2d_ASN1_OCTET_STRING(s, &buf);
        break;
    case FORM_INT:
        /* Minimal DER: a sign byte when the top bit is set, none for
         * leading zeros, as the decoder and the NCA's own files expect. */
        if ((d = BN_secure_new()) != NULL && BN_bin2bn(k->priv, (int)n, d) != NULL
            && (s = BN_to_ASN1_INTEGER(d, NULL)) != NULL)
            len = i2d_ASN1_INTEGER(s, &buf);
        break;
    default:
        break;
    }

    OPENSSL_cleanse(le, sizeof(le));
    ASN1_STRING_clear_free(s);
    BN_clear_free(d);
    if (len <= 0 || buf == NULL) {
        OPENSSL_clear_free(buf, len > 0 ? (size_t)len : 0);
        return 0;
    }
    *out = buf;
    *out_len = len;
    return 1;
}

static int lengths_ok(const kz_gost_key *k)
{
    return k->curve != NULL
           && (k->curve->field_len == 32 || k->curve->field_len == 64);
}

int kz_gost_key_to_pkcs8(const kz_gost_key *k, int kazakh, unsigned char **der, size_t *len)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    ASN1_OBJECT *alg = NULL;
    ASN1_STRING *params = NULL;
    unsigned char *penc = NULL, *out = NULL;
    int penc_len = 0, n, rc = -1;
    encoding e;

    if (der != NULL)
        *der = NULL;
    if (len != NULL)
        *len = 0;
    if (k == NULL || der == NULL || len == NULL || !lengths_ok(k) || !k->has_priv
        || k->priv_len != k->curve->field_len)
        return -1;
    if (!choose_encoding(k, kazakh, &e))
        return -1;
    ERR_set_mark();

    if ((p8 = PKCS8_PRIV_KEY_INFO_new()) == NULL
        || (alg = obj_from_der(e.alg, e.alg_len)) == NULL
        || (params = params_new(&e)) == NULL
        || !priv_content(k, e.form, &penc, &penc_len))
        goto out;
    if (!PKCS8_pkey_set0(p8, alg, 0, V_ASN1_SEQUENCE, params, penc, penc_len))
        goto out;
    alg = NULL;
    params = NULL;
    penc = NULL;                  /* all three belong to p8 now */
    n = i2d_PKCS8_PRIV_KEY_INFO(p8, &out);
    if (n <= 0 || out == NULL)
        goto out;
    *der = out;
    *len = (size_t)n;
    rc = 0;
out:
    OPENSSL_clear_free(penc, penc != NULL ? (size_t)penc_len : 0);
    ASN1_STRING_free(params);
    ASN1_OBJECT_free(alg);
    /* Its free wipes the privateKey octets. */
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_pop_to_mark();
    return rc;
}

int kz_gost_key_to_spki(const kz_gost_key *k, int kazakh, unsigned char **der, size_t *len)
{
    X509_PUBKEY *xpk = NULL;
    ASN1_OBJECT *alg = NULL;
    ASN1_STRING *params = NULL;
    ASN1_OCTET_STRING *os = NULL;
    unsigned char *penc = NULL, *out = NULL;
    int penc_len = 0, n, rc = -1;
    encoding e;

    if (der != NULL)
        *der = NULL;
    if (len != NULL)
        *len = 0;
    if (k == NULL || der == NULL || len == NULL || !lengths_ok(k) || !k->has_pub
        || k->pub_len != 2 * k->curve->field_len)
        return -1;
    if (!choose_encoding(k, kazakh, &e))
        return -1;
    ERR_set_mark();

    if ((xpk = X509_PUBKEY_new()) == NULL
        || (alg = obj_from_der(e.alg, e.alg_len)) == NULL
        || (params = params_new(&e)) == NULL
        || (os = ASN1_OCTET_STRING_new()) == NULL
        || !ASN1_OCTET_STRING_set(os, k->pub, (int)k->pub_len)
        || (penc_len = i2d_ASN1_OCTET_STRING(os, &penc)) <= 0)
        goto out;
    /* Sets the BIT STRING's unused-bits count to 0 explicitly; OpenSSL
     * would otherwise derive it from trailing zero bits of the key. */
    if (!X509_PUBKEY_set0_param(xpk, alg, V_ASN1_SEQUENCE, params, penc, penc_len))
        goto out;
    alg = NULL;
    params = NULL;
    penc = NULL;
    n = i2d_X509_PUBKEY(xpk, &out);
    if (n <= 0 || out == NULL)
        goto out;
    *der = out;
    *len = (size_t)n;
    rc = 0;
out:
    OPENSSL_free(penc);
    ASN1_OCTET_STRING_free(os);
    ASN1_STRING_free(params);
    ASN1_OBJECT_free(alg);
    X509_PUBKEY_free(xpk);
    ERR_pop_to_mark();
    return rc;
}
