/* Reading key pairs off a token and comparing them with certificates. */
#include "tokenkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#define MAX_KEYS 64

static int is_gost(CK_KEY_TYPE t)
{
    return t == CKK_GOSTR3410 || t == CKK_GOSTR3410_512;
}

/* Optional attributes: a token that lacks one simply leaves it NULL. */
static void attr_opt(kzt_p11 *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
                     unsigned char **v, CK_ULONG *len)
{
    if (*v)
        return;
    if (kzt_attr(m, s, o, t, v, len) != CKR_OK || *len == 0) {
        free(*v);
        *v = NULL;
        *len = 0;
    }
}

/* The public key object of the pair: the one with the same CKA_ID; for a
 * key without an ID, the token's only public key of the same type. */
static CK_OBJECT_HANDLE find_public(kzt_p11 *m, CK_SESSION_HANDLE s, const kzt_tokkey *k)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE type = k->type;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &type, sizeof(type) },
        { CKA_ID, k->id, k->id_len },
    };
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;

    if (kzt_find(m, s, t, k->id ? 3 : 2, h, 2, &n) != CKR_OK || n != 1)
        return CK_INVALID_HANDLE;
    return h[0];
}

static void load_one(kzt_p11 *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, kzt_tokkey *k)
{
    unsigned char *label = NULL;
    CK_ULONG label_len = 0;
    CK_OBJECT_HANDLE pub;

    memset(k, 0, sizeof(*k));
    k->priv = priv;
    if (kzt_attr_ulong(m, s, priv, CKA_KEY_TYPE, &k->type) != CKR_OK)
        k->type = CKK_VENDOR_DEFINED;
    attr_opt(m, s, priv, CKA_ID, &k->id, &k->id_len);
    attr_opt(m, s, priv, CKA_LABEL, &label, &label_len);
    if (label) {
        k->label = malloc(label_len + 1);
        if (k->label) {
            memcpy(k->label, label, label_len);
            k->label[label_len] = '\0';
        }
        free(label);
    }
    pub = find_public(m, s, k);
    if (k->type == CKK_RSA) {
        if (pub != CK_INVALID_HANDLE) {
            attr_opt(m, s, pub, CKA_MODULUS, &k->modulus, &k->modulus_len);
            attr_opt(m, s, pub, CKA_PUBLIC_EXPONENT, &k->exponent, &k->exponent_len);
        }
        /* RSA private key objects carry the public half too. */
        attr_opt(m, s, priv, CKA_MODULUS, &k->modulus, &k->modulus_len);
        attr_opt(m, s, priv, CKA_PUBLIC_EXPONENT, &k->exponent, &k->exponent_len);
    } else if (is_gost(k->type)) {
        if (pub != CK_INVALID_HANDLE) {
            attr_opt(m, s, pub, CKA_VALUE, &k->gost_pub, &k->gost_pub_len);
            attr_opt(m, s, pub, CKA_GOSTR3410_PARAMS, &k->gost_params, &k->gost_params_len);
        }
        attr_opt(m, s, priv, CKA_GOSTR3410_PARAMS, &k->gost_params, &k->gost_params_len);
    }
}

int kzt_keys_load(kzt_p11 *m, CK_SESSION_HANDLE s, kzt_tokkey **keys, size_t *n)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) } };
    CK_OBJECT_HANDLE h[MAX_KEYS];
    CK_ULONG count = 0, i;
    CK_RV rv;

    *keys = NULL;
    *n = 0;
    rv = kzt_find(m, s, t, 1, h, MAX_KEYS, &count);
    if (rv != CKR_OK)
        return kzt_p11_fail("searching for keys", rv);
    if (count == 0)
        return KZT_OK;
    *keys = calloc(count, sizeof(**keys));
    if (!*keys)
        return kzt_p11_fail("searching for keys", CKR_HOST_MEMORY);
    for (i = 0; i < count; i++)
        load_one(m, s, h[i], &(*keys)[i]);
    *n = count;
    return KZT_OK;
}

void kzt_keys_free(kzt_tokkey *keys, size_t n)
{
    size_t i;

    for (i = 0; keys && i < n; i++) {
        free(keys[i].id);
        free(keys[i].label);
        free(keys[i].modulus);
        free(keys[i].exponent);
        free(keys[i].gost_pub);
        free(keys[i].gost_params);
    }
    free(keys);
}

int kzt_key_pick(kzt_tokkey *keys, size_t n, const unsigned char *id, size_t id_len,
                 const char *token, kzt_tokkey **out)
{
    size_t i;

    *out = NULL;
    if (id) {
        for (i = 0; i < n; i++)
            if (keys[i].id && keys[i].id_len == id_len && memcmp(keys[i].id, id, id_len) == 0) {
                *out = &keys[i];
                return KZT_OK;
            }
        kzt_err("token '%s' has no private key with that --id", token);
        return KZT_ETOKEN;
    }
    if (n == 0) {
        kzt_err("token '%s' has no private key (generate one with: kzp11-tool keygen)", token);
        return KZT_ETOKEN;
    }
    if (n > 1) {
        kzt_err("token '%s' has %zu private keys: choose one with --id", token, n);
        return KZT_EUSAGE;
    }
    *out = &keys[0];
    return KZT_OK;
}

/* The curve OID in CKA_GOSTR3410_PARAMS as dotted text. */
static int params_oid(const kzt_tokkey *k, char *buf, size_t n)
{
    const unsigned char *p = k->gost_params;
    ASN1_OBJECT *o;
    int r;

    if (!p)
        return -1;
    o = d2i_ASN1_OBJECT(NULL, &p, (long)k->gost_params_len);
    if (!o) {
        ERR_clear_error();
        return -1;
    }
    r = OBJ_obj2txt(buf, (int)n, o, 1);
    ASN1_OBJECT_free(o);
    return r > 0 ? 0 : -1;
}

static const struct {
    const char *oid, *name;
} curve_names[] = {
    { "1.2.643.7.1.2.1.2.1", "TC26-512-A" },
    { "1.2.643.7.1.2.1.2.2", "TC26-512-B" },
    { "1.2.643.7.1.2.1.2.3", "TC26-512-C" },
    { "1.2.643.7.1.2.1.1.1", "TC26-256-A" },
    { "1.2.643.2.2.35.1", "CryptoPro-A" },
    { "1.2.643.2.2.35.2", "CryptoPro-B" },
    { "1.2.643.2.2.35.3", "CryptoPro-C" },
    { "1.2.398.3.10.1.1.2.2.1", "NCA GOST 2015 512" },
    { "1.2.398.3.10.1.1.2.1.1", "NCA GOST 2015 256" },
    { "1.2.398.3.10.1.1.1.1.1", "NCA GOST 34.310-2004" },
};

const char *kzt_key_describe(const kzt_tokkey *k, char *buf, size_t n)
{
    char oid[80];
    const char *curve = NULL;
    size_t i;

    if (k->type == CKK_RSA) {
        if (k->modulus) {
            size_t bytes = k->modulus_len;
            const unsigned char *p = k->modulus;

            while (bytes > 0 && *p == 0) {
                p++;
                bytes--;
            }
            snprintf(buf, n, "RSA %zu", bytes * 8);
        } else {
            snprintf(buf, n, "RSA");
        }
        return buf;
    }
    if (!is_gost(k->type)) {
        snprintf(buf, n, "key type 0x%lx", (unsigned long)k->type);
        return buf;
    }
    if (params_oid(k, oid, sizeof(oid)) == 0) {
        curve = oid;
        for (i = 0; i < sizeof(curve_names) / sizeof(curve_names[0]); i++)
            if (strcmp(oid, curve_names[i].oid) == 0)
                curve = curve_names[i].name;
    }
    snprintf(buf, n, "GOST %s%s%s%s", k->type == CKK_GOSTR3410_512 ? "512-bit" : "256-bit",
             curve ? " (" : "", curve ? curve : "", curve ? ")" : "");
    return buf;
}

int kzt_cert_gost_pub(X509 *x, unsigned char **pub, size_t *len)
{
    X509_PUBKEY *xpk = X509_get_X509_PUBKEY(x);
    const unsigned char *pk = NULL;
    ASN1_OCTET_STRING *os;
    int pklen = 0;

    *pub = NULL;
    *len = 0;
    if (!xpk || !X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk) || !pk)
        return -1;
    os = d2i_ASN1_OCTET_STRING(NULL, &pk, pklen);
    if (!os) {
        ERR_clear_error();
        return -1;
    }
    *pub = malloc((size_t)os->length + 1);
    if (*pub) {
        memcpy(*pub, os->data, (size_t)os->length);
        *len = (size_t)os->length;
    }
    ASN1_OCTET_STRING_free(os);
    return *pub ? 0 : -1;
}

static int rsa_matches(const kzt_tokkey *k, X509 *x)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);
    BIGNUM *n = NULL, *e = NULL, *kn = NULL, *ke = NULL;
    int ok = 0;

    if (!pk || !k->modulus) {
        ERR_clear_error();
        return 0;
    }
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) &&
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e)) {
        kn = BN_bin2bn(k->modulus, (int)k->modulus_len, NULL);
        ke = k->exponent ? BN_bin2bn(k->exponent, (int)k->exponent_len, NULL) : NULL;
        ok = kn && BN_cmp(n, kn) == 0 && (!ke || BN_cmp(e, ke) == 0);
    }
    BN_free(n);
    BN_free(e);
    BN_free(kn);
    BN_free(ke);
    ERR_clear_error();
    return ok;
}

int kzt_key_matches_cert(const kzt_tokkey *k, X509 *x)
{
    unsigned char *pub;
    size_t len;
    int ok;

    if (k->type == CKK_RSA)
        return rsa_matches(k, x);
    if (!is_gost(k->type) || !k->gost_pub || kzt_cert_gost_pub(x, &pub, &len) != 0)
        return 0;
    ok = len == k->gost_pub_len && memcmp(pub, k->gost_pub, len) == 0;
    free(pub);
    return ok;
}
