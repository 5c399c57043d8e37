/* Key management (PKCS#11 2.40 §5.14). Keys on our tokens come from the
 * NCA's containers; generation on tokens arrives with the key lifecycle,
 * generation of session keys is here. */
#include "frontend.h"
#include "token_objects.h"

KZ_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                              CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

/* Reads a boolean from either template (public first); dflt when absent. */
static CK_RV tmpl_bool(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_BBOOL dflt, CK_BBOOL *out)
{
    CK_RV rv = kz_tmpl_get_bool(t, n, type, out);

    if (rv == CKR_TEMPLATE_INCOMPLETE) {
        *out = dflt;
        return CKR_OK;
    }
    return rv;
}

static const CK_ATTRIBUTE *either(const CK_ATTRIBUTE *a, CK_ULONG na, const CK_ATTRIBUTE *b, CK_ULONG nb,
                                  CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *x = kz_tmpl_find(a, na, type);
    return x ? x : kz_tmpl_find(b, nb, type);
}

/* Applies the caller's CKA_ID / CKA_LABEL to a new object. */
static CK_RV apply_names(kz_object *o, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    static const CK_ATTRIBUTE_TYPE names[] = { CKA_ID, CKA_LABEL };
    CK_RV rv = CKR_OK;

    for (size_t i = 0; i < 2 && rv == CKR_OK; i++) {
        const CK_ATTRIBUTE *a = kz_tmpl_find(t, n, names[i]);
        if (a)
            rv = kz_attrs_set(&o->attrs, names[i], a->pValue, a->ulValueLen);
    }
    return rv;
}

/* Session key pairs, generated and held on the host. Key pairs on a token
 * (CKA_TOKEN true) need the token's own key generation, which the drivers
 * do not offer yet. */
KZ_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                  CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
                                  CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
                                  CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    const CK_ATTRIBUTE *pt = pPublicKeyTemplate, *vt = pPrivateKeyTemplate, *curve, *hash;
    CK_ULONG np = ulPublicKeyAttributeCount, nv = ulPrivateKeyAttributeCount;
    CK_BBOOL pub_token, priv_token, priv_private, pub_private, sensitive, extractable;
    const kz_mech *m;
    kz_pkey *key = NULL;
    kz_model_key *mk = NULL;
    kz_object *pub = NULL, *priv = NULL;
    kz_session *s;
    kz_slot *slot;
    CK_RV rv;

    if (!pMechanism || !phPublicKey || !phPrivateKey)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_tmpl_check(pt, np)) != CKR_OK || (rv = kz_tmpl_check(vt, nv)) != CKR_OK)
        return rv;
    m = kz_mech_find_kind(pMechanism->mechanism, KZ_MECH_KEYGEN);
    if (!m)
        KZ_RET("C_GenerateKeyPair", CKR_MECHANISM_INVALID);
    if (pMechanism->ulParameterLen)
        KZ_RET("C_GenerateKeyPair", CKR_MECHANISM_PARAM_INVALID);
    if ((rv = tmpl_bool(pt, np, CKA_TOKEN, CK_FALSE, &pub_token)) != CKR_OK
        || (rv = tmpl_bool(vt, nv, CKA_TOKEN, CK_FALSE, &priv_token)) != CKR_OK
        || (rv = tmpl_bool(pt, np, CKA_PRIVATE, CK_FALSE, &pub_private)) != CKR_OK
        || (rv = tmpl_bool(vt, nv, CKA_PRIVATE, CK_TRUE, &priv_private)) != CKR_OK
        || (rv = tmpl_bool(vt, nv, CKA_SENSITIVE, CK_TRUE, &sensitive)) != CKR_OK
        || (rv = tmpl_bool(vt, nv, CKA_EXTRACTABLE, CK_FALSE, &extractable)) != CKR_OK)
        KZ_RET("C_GenerateKeyPair", rv);
    if (pub_token || priv_token)
        KZ_RET("C_GenerateKeyPair", CKR_FUNCTION_NOT_SUPPORTED);
    /* Our private keys never leave: asking for an exportable one is a
     * template we cannot honour. */
    if (!sensitive || extractable)
        KZ_RET("C_GenerateKeyPair", CKR_TEMPLATE_INCONSISTENT);
    curve = either(pt, np, vt, nv, CKA_GOSTR3410_PARAMS);
    hash = either(pt, np, vt, nv, CKA_GOSTR3411_PARAMS);
    if (!curve || !curve->pValue || !curve->ulValueLen)
        KZ_RET("C_GenerateKeyPair", CKR_TEMPLATE_INCOMPLETE);
    rv = kz_pkey_gost_generate(curve->pValue, curve->ulValueLen, hash ? hash->pValue : NULL,
                               hash ? hash->ulValueLen : 0, &key);
    if (rv == CKR_DOMAIN_PARAMS_INVALID)
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    if (rv == CKR_OK && kz_pkey_type(key) != m->key_type)
        rv = CKR_TEMPLATE_INCONSISTENT;     /* e.g. a 512-bit curve with CKM_GOSTR3410_KEY_PAIR_GEN */
    if (rv != CKR_OK) {
        kz_pkey_free(key);
        KZ_RET("C_GenerateKeyPair", rv);
    }

    if ((rv = kz_enter()) != CKR_OK) {
        kz_pkey_free(key);
        return rv;
    }
    s = kz_sessions_get(hSession);
    slot = s ? kz_slots_get(s->slot) : NULL;
    if (!s)
        rv = CKR_SESSION_HANDLE_INVALID;
    else if (!slot || !slot->present)
        rv = CKR_DEVICE_REMOVED;
    else if ((priv_private || pub_private) && slot->user != CKU_USER)
        rv = CKR_USER_NOT_LOGGED_IN;
    else if (!(mk = kz_model_key_new()))
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        mk->pub = kz_pkey_up_ref(key);
        mk->host = kz_pkey_up_ref(key);
        mk->usage = KZ_USAGE_SIGN;
        rv = kz_key_objects_new(slot->id, mk, NULL, m->type, &pub, &priv);
    }
    if (rv == CKR_OK) {
        pub->owner = priv->owner = s->handle;
        pub->is_private = pub_private;
        priv->is_private = priv_private;
        rv = kz_attrs_set_bool(&pub->attrs, CKA_PRIVATE, pub_private);
        if (rv == CKR_OK)
            rv = kz_attrs_set_bool(&priv->attrs, CKA_PRIVATE, priv_private);
        if (rv == CKR_OK)
            rv = apply_names(pub, pt, np);
        if (rv == CKR_OK)
            rv = apply_names(priv, vt, nv);
    }
    if (rv == CKR_OK && (rv = kz_objects_insert(pub)) == CKR_OK) {
        if ((rv = kz_objects_insert(priv)) != CKR_OK) {
            kz_objects_destroy(pub->handle);
            pub = NULL;
        }
    }
    if (rv == CKR_OK) {
        *phPublicKey = pub->handle;
        *phPrivateKey = priv->handle;
    } else {
        if (pub && !pub->handle)
            kz_object_free(pub);
        kz_object_free(priv);
    }
    kz_leave();
    kz_model_key_unref(mk);
    kz_pkey_free(key);
    KZ_RET("C_GenerateKeyPair", rv);
}

KZ_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hWrappingKey,
                          CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

KZ_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hUnwrappingKey,
                            CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                            CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

KZ_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hBaseKey,
                            CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}
