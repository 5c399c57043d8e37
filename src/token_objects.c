#include "token_objects.h"

#include <stdlib.h>
#include <string.h>

#define TRY(x) do { CK_RV rv_ = (x); if (rv_ != CKR_OK) return rv_; } while (0)

CK_RV kz_objattrs_storage(kz_attrs *a, CK_OBJECT_CLASS cls, CK_BBOOL token,
                          CK_BBOOL priv, const char *label)
{
    TRY(kz_attrs_set_ulong(a, CKA_CLASS, cls));
    TRY(kz_attrs_set_bool(a, CKA_TOKEN, token));
    TRY(kz_attrs_set_bool(a, CKA_PRIVATE, priv));
    TRY(kz_attrs_set_bool(a, CKA_MODIFIABLE, CK_FALSE));
    TRY(kz_attrs_set_bool(a, CKA_COPYABLE, CK_FALSE));
    TRY(kz_attrs_set_bool(a, CKA_DESTROYABLE, token ? CK_FALSE : CK_TRUE));
    return kz_attrs_set(a, CKA_LABEL, label, label ? (CK_ULONG)strlen(label) : 0);
}

CK_RV kz_objattrs_certificate(kz_attrs *a, const unsigned char *der, size_t len,
                              const kz_cert_info *ci)
{
    kz_pkey *pub = kz_pkey_from_cert(der, len);
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    CK_RV rv;

    if (pub) {
        rv = kz_pkey_spki(pub, &spki, &spki_len);
        kz_pkey_free(pub);
        if (rv != CKR_OK)
            return rv;
    }
    rv = kz_attrs_set(a, CKA_PUBLIC_KEY_INFO, spki, (CK_ULONG)spki_len);
    free(spki);
    TRY(rv);
    TRY(kz_attrs_set_ulong(a, CKA_CERTIFICATE_TYPE, CKC_X_509));
    TRY(kz_attrs_set_bool(a, CKA_TRUSTED, CK_FALSE));
    TRY(kz_attrs_set_ulong(a, CKA_CERTIFICATE_CATEGORY, 0)); /* unspecified */
    TRY(kz_attrs_set(a, CKA_CHECK_VALUE, ci->check_value, sizeof(ci->check_value)));
    TRY(kz_attrs_set(a, CKA_START_DATE, &ci->start, sizeof(CK_DATE)));
    TRY(kz_attrs_set(a, CKA_END_DATE, &ci->end, sizeof(CK_DATE)));
    TRY(kz_attrs_set(a, CKA_SUBJECT, ci->subject, (CK_ULONG)ci->subject_len));
    TRY(kz_attrs_set(a, CKA_ISSUER, ci->issuer, (CK_ULONG)ci->issuer_len));
    TRY(kz_attrs_set(a, CKA_SERIAL_NUMBER, ci->serial, (CK_ULONG)ci->serial_len));
    TRY(kz_attrs_set(a, CKA_VALUE, der, (CK_ULONG)len));
    TRY(kz_attrs_set(a, CKA_URL, NULL, 0));
    TRY(kz_attrs_set(a, CKA_HASH_OF_SUBJECT_PUBLIC_KEY, NULL, 0));
    TRY(kz_attrs_set(a, CKA_HASH_OF_ISSUER_PUBLIC_KEY, NULL, 0));
    TRY(kz_attrs_set_ulong(a, CKA_JAVA_MIDP_SECURITY_DOMAIN, 0));
    return CKR_OK;
}

/* GOST keys carry their curve and hash as OIDs. The public point is the
 * public key's CKA_VALUE; on a private key CKA_VALUE is the secret scalar,
 * so it is left out there (and reported sensitive). */
static CK_RV gost_attrs(kz_attrs *a, const kz_pkey *pub, int public_object)
{
    const unsigned char *curve, *hash, *value;
    size_t clen, hlen, vlen;

    TRY(kz_pkey_gost_params(pub, &curve, &clen, &hash, &hlen));
    TRY(kz_attrs_set_ulong(a, CKA_KEY_TYPE, kz_pkey_type(pub)));
    TRY(kz_attrs_set(a, CKA_GOSTR3410_PARAMS, curve, (CK_ULONG)clen));
    TRY(kz_attrs_set(a, CKA_GOSTR3411_PARAMS, hash, (CK_ULONG)hlen));
    if (public_object) {
        TRY(kz_pkey_gost_value(pub, &value, &vlen));
        TRY(kz_attrs_set(a, CKA_VALUE, value, (CK_ULONG)vlen));
    }
    {
        unsigned char *spki = NULL;
        size_t spki_len = 0;
        CK_RV rv = kz_pkey_spki(pub, &spki, &spki_len);
        if (rv == CKR_OK)
            rv = kz_attrs_set(a, CKA_PUBLIC_KEY_INFO, spki, (CK_ULONG)spki_len);
        free(spki);
        return rv;
    }
}

/* Attributes a public key and its private key share (PKCS#11 lets the
 * private key carry the public components, and NSS uses them to pair). */
CK_RV kz_objattrs_public_key(kz_attrs *a, const kz_pkey *pub, int public_object)
{
    unsigned char *n = NULL, *e = NULL, *spki = NULL;
    size_t nlen, elen, spki_len;
    CK_RV rv;

    if (kz_pkey_type(pub) == CKK_GOSTR3410 || kz_pkey_type(pub) == CKK_GOSTR3410_512)
        return gost_attrs(a, pub, public_object);

    TRY(kz_attrs_set_ulong(a, CKA_KEY_TYPE, kz_pkey_type(pub)));
    TRY(kz_pkey_spki(pub, &spki, &spki_len));
    rv = kz_attrs_set(a, CKA_PUBLIC_KEY_INFO, spki, (CK_ULONG)spki_len);
    free(spki);
    TRY(rv);
    if (kz_pkey_type(pub) == CKK_RSA) {
        TRY(kz_pkey_rsa_get(pub, &n, &nlen, &e, &elen));
        rv = kz_attrs_set(a, CKA_MODULUS, n, (CK_ULONG)nlen);
        if (rv == CKR_OK)
            rv = kz_attrs_set(a, CKA_PUBLIC_EXPONENT, e, (CK_ULONG)elen);
        if (rv == CKR_OK)
            rv = kz_attrs_set_ulong(a, CKA_MODULUS_BITS, kz_pkey_bits(pub));
        free(n);
        free(e);
        TRY(rv);
    }
    return CKR_OK;
}

/* gen_mech: the mechanism that generated the key here (a session key),
 * or 0 for a key that came from a token (which may name its own). */
static CK_RV key_common(kz_attrs *a, const kz_model_key *k, const kz_cert_info *ci,
                        int public_object, CK_MECHANISM_TYPE gen_mech)
{
    static const CK_DATE no_date;
    CK_ULONG genmech;

    if (!gen_mech)
        gen_mech = k->gen_mech;
    genmech = gen_mech ? gen_mech : CK_UNAVAILABLE_INFORMATION;

    TRY(kz_objattrs_public_key(a, k->pub, public_object));
    TRY(kz_attrs_set(a, CKA_ID, k->id, (CK_ULONG)k->id_len));
    TRY(kz_attrs_set(a, CKA_START_DATE, &no_date, 0));
    TRY(kz_attrs_set(a, CKA_END_DATE, &no_date, 0));
    TRY(kz_attrs_set_bool(a, CKA_DERIVE, (k->usage & KZ_USAGE_DERIVE) ? CK_TRUE : CK_FALSE));
    TRY(kz_attrs_set_bool(a, CKA_LOCAL, gen_mech ? CK_TRUE : CK_FALSE));
    TRY(kz_attrs_set(a, CKA_KEY_GEN_MECHANISM, &genmech, sizeof(genmech)));
    return kz_attrs_set(a, CKA_SUBJECT, ci ? ci->subject : NULL, ci ? (CK_ULONG)ci->subject_len : 0);
}

static CK_RV insert(kz_object *o)
{
    CK_RV rv = kz_objects_insert(o);

    if (rv != CKR_OK)
        kz_object_free(o);
    return rv;
}

CK_RV kz_key_objects_new(CK_SLOT_ID slot, kz_model_key *k, const kz_cert_info *ci,
                         CK_MECHANISM_TYPE gen_mech, kz_object **pub_out, kz_object **priv_out)
{
    kz_object *pub = kz_object_new(slot, CKO_PUBLIC_KEY);
    kz_object *priv = kz_object_new(slot, CKO_PRIVATE_KEY);
    CK_BBOOL token = gen_mech ? CK_FALSE : CK_TRUE;
    CK_BBOOL sign = (k->usage & KZ_USAGE_SIGN) ? CK_TRUE : CK_FALSE;
    CK_BBOOL decrypt = (k->usage & KZ_USAGE_DECRYPT) ? CK_TRUE : CK_FALSE;
    /* A key generated here, or on the token, never left it; one from a
     * file did. */
    CK_BBOOL local = gen_mech || k->gen_mech ? CK_TRUE : CK_FALSE;
    CK_RV rv = CKR_HOST_MEMORY;

    if (!pub || !priv)
        goto fail;
    pub->pub = kz_pkey_up_ref(k->pub);
    if ((rv = kz_objattrs_storage(&pub->attrs, CKO_PUBLIC_KEY, token, CK_FALSE, k->label)) != CKR_OK
        || (rv = key_common(&pub->attrs, k, ci, 1, gen_mech)) != CKR_OK
        || (rv = kz_attrs_set_bool(&pub->attrs, CKA_VERIFY, sign)) != CKR_OK
        || (rv = kz_attrs_set_bool(&pub->attrs, CKA_ENCRYPT, decrypt)) != CKR_OK
        || (rv = kz_attrs_set_bool(&pub->attrs, CKA_VERIFY_RECOVER, CK_FALSE)) != CKR_OK
        || (rv = kz_attrs_set_bool(&pub->attrs, CKA_WRAP, CK_FALSE)) != CKR_OK
        || (rv = kz_attrs_set_bool(&pub->attrs, CKA_TRUSTED, CK_FALSE)) != CKR_OK)
        goto fail;

    priv->is_private = CK_TRUE;
    priv->pub = kz_pkey_up_ref(k->pub);
    priv->key = kz_model_key_ref(k);
    if ((rv = kz_objattrs_storage(&priv->attrs, CKO_PRIVATE_KEY, token, CK_TRUE, k->label)) != CKR_OK
        || (rv = key_common(&priv->attrs, k, ci, 0, gen_mech)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_SIGN, sign)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_DECRYPT, decrypt)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_SIGN_RECOVER, CK_FALSE)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_UNWRAP, CK_FALSE)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_SENSITIVE, CK_TRUE)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_EXTRACTABLE, CK_FALSE)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_ALWAYS_SENSITIVE, local)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_NEVER_EXTRACTABLE, local)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_ALWAYS_AUTHENTICATE, CK_FALSE)) != CKR_OK
        || (rv = kz_attrs_set_bool(&priv->attrs, CKA_WRAP_WITH_TRUSTED, CK_FALSE)) != CKR_OK)
        goto fail;
    *pub_out = pub;
    *priv_out = priv;
    return CKR_OK;
fail:
    kz_object_free(pub);
    kz_object_free(priv);
    return rv;
}

static CK_RV build_key(CK_SLOT_ID slot, kz_model_key *k, const kz_cert_info *ci)
{
    kz_object *pub, *priv;
    CK_RV rv = kz_key_objects_new(slot, k, ci, 0, &pub, &priv);

    if (rv != CKR_OK)
        return rv;
    rv = insert(pub);
    if (rv == CKR_OK)
        return insert(priv);
    kz_object_free(priv);
    return rv;
}

static CK_RV build_cert(CK_SLOT_ID slot, const kz_model_cert *c, const kz_cert_info *ci)
{
    kz_object *o = kz_object_new(slot, CKO_CERTIFICATE);
    CK_RV rv;

    if (!o)
        return CKR_HOST_MEMORY;
    rv = kz_objattrs_storage(&o->attrs, CKO_CERTIFICATE, CK_TRUE, CK_FALSE, c->label);
    if (rv == CKR_OK)
        rv = kz_objattrs_certificate(&o->attrs, c->der, c->der_len, ci);
    if (rv == CKR_OK)
        rv = kz_attrs_set(&o->attrs, CKA_ID, c->id, (CK_ULONG)c->id_len);
    if (rv != CKR_OK) {
        kz_object_free(o);
        return rv;
    }
    return insert(o);
}

CK_RV kz_token_objects_build(CK_SLOT_ID slot, const kz_token_model *m)
{
    kz_cert_info *infos = calloc(m->n_certs + 1, sizeof(*infos));
    CK_RV rv = CKR_OK;

    if (!infos)
        return CKR_HOST_MEMORY;
    for (size_t i = 0; i < m->n_certs && rv == CKR_OK; i++) {
        /* A certificate we cannot parse is still shown, with what we know. */
        if (kz_cert_info_parse(m->certs[i].der, m->certs[i].der_len, &infos[i]) != CKR_OK)
            memset(&infos[i], 0, sizeof(infos[i]));
        rv = build_cert(slot, &m->certs[i], &infos[i]);
    }
    for (size_t k = 0; k < m->n_keys && rv == CKR_OK; k++) {
        const kz_cert_info *ci = NULL;
        for (size_t i = 0; i < m->n_certs; i++)
            if (m->certs[i].id_len == m->keys[k]->id_len
                && memcmp(m->certs[i].id, m->keys[k]->id, m->keys[k]->id_len) == 0)
                ci = &infos[i];
        rv = build_key(slot, m->keys[k], ci);
    }
    for (size_t i = 0; i < m->n_certs; i++)
        kz_cert_info_clear(&infos[i]);
    free(infos);
    if (rv != CKR_OK)
        kz_objects_destroy_where(slot, 0);
    return rv;
}
