#include "object_create.h"
#include "cert_info.h"
#include "token_objects.h"

#include <stdlib.h>
#include <string.h>

/* Attributes the application may set on creation besides the derived ones. */
static const CK_ATTRIBUTE_TYPE settable[] = {
    CKA_ID, CKA_LABEL, CKA_APPLICATION, CKA_OBJECT_ID, CKA_VERIFY, CKA_ENCRYPT,
    CKA_TRUSTED, CKA_CERTIFICATE_CATEGORY, CKA_START_DATE, CKA_END_DATE, CKA_WRAP,
    CKA_VERIFY_RECOVER, CKA_DERIVE, CKA_SUBJECT,
    /* GOST public keys carry their parameters; kept for the GOST backend. */
    CKA_GOSTR3410_PARAMS, CKA_GOSTR3411_PARAMS,
};

static int is_settable(CK_ATTRIBUTE_TYPE t)
{
    for (size_t i = 0; i < sizeof(settable) / sizeof(settable[0]); i++)
        if (settable[i] == t)
            return 1;
    return 0;
}

static CK_RV make_cert(kz_object *o, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    const CK_ATTRIBUTE *v = kz_tmpl_find(t, n, CKA_VALUE);
    CK_ULONG ct;
    kz_cert_info ci;
    CK_RV rv;

    rv = kz_tmpl_get_ulong(t, n, CKA_CERTIFICATE_TYPE, &ct);
    if (rv == CKR_OK && ct != CKC_X_509)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (rv == CKR_ATTRIBUTE_VALUE_INVALID)
        return rv;
    if (!v || !v->pValue || !v->ulValueLen)
        return CKR_TEMPLATE_INCOMPLETE;
    rv = kz_cert_info_parse(v->pValue, v->ulValueLen, &ci);
    if (rv != CKR_OK)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    rv = kz_objattrs_certificate(&o->attrs, v->pValue, v->ulValueLen, &ci);
    if (rv == CKR_OK && !kz_tmpl_find(t, n, CKA_ID))
        rv = kz_attrs_set(&o->attrs, CKA_ID, ci.ski, (CK_ULONG)ci.ski_len);
    kz_cert_info_clear(&ci);
    return rv;
}

static CK_RV make_gost_public(kz_object *o, const CK_ATTRIBUTE *t, CK_ULONG n, CK_KEY_TYPE kt)
{
    const CK_ATTRIBUTE *curve = kz_tmpl_find(t, n, CKA_GOSTR3410_PARAMS);
    const CK_ATTRIBUTE *hash = kz_tmpl_find(t, n, CKA_GOSTR3411_PARAMS);
    const CK_ATTRIBUTE *value = kz_tmpl_find(t, n, CKA_VALUE);
    CK_RV rv;

    if (!curve || !value || !curve->ulValueLen || !value->ulValueLen)
        return CKR_TEMPLATE_INCOMPLETE;
    rv = kz_pkey_gost_public(curve->pValue, curve->ulValueLen, hash ? hash->pValue : NULL,
                             hash ? hash->ulValueLen : 0, value->pValue, value->ulValueLen, &o->pub);
    if (rv == CKR_DOMAIN_PARAMS_INVALID)
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    if (rv == CKR_OK && kz_pkey_type(o->pub) != kt)
        rv = CKR_TEMPLATE_INCONSISTENT;   /* a 512-bit curve under CKK_GOSTR3410, say */
    return rv;
}

static CK_RV make_public_key(kz_object *o, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    const CK_ATTRIBUTE *mod = kz_tmpl_find(t, n, CKA_MODULUS);
    const CK_ATTRIBUTE *exp = kz_tmpl_find(t, n, CKA_PUBLIC_EXPONENT);
    CK_ULONG kt;
    CK_RV rv = kz_tmpl_get_ulong(t, n, CKA_KEY_TYPE, &kt);

    if (rv != CKR_OK)
        return rv;
    if (kt == CKK_GOSTR3410 || kt == CKK_GOSTR3410_512) {
        rv = make_gost_public(o, t, n, kt);
    } else if (kt != CKK_RSA) {
        return CKR_ATTRIBUTE_VALUE_INVALID;
    } else {
        if (!mod || !exp || !mod->ulValueLen || !exp->ulValueLen)
            return CKR_TEMPLATE_INCOMPLETE;
        o->pub = kz_pkey_rsa_public(mod->pValue, mod->ulValueLen, exp->pValue, exp->ulValueLen);
        rv = o->pub ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (rv == CKR_OK)
        rv = kz_objattrs_public_key(&o->attrs, o->pub, 1);
    if (rv == CKR_OK)
        rv = kz_attrs_set_bool(&o->attrs, CKA_VERIFY, CK_TRUE);
    if (rv == CKR_OK)
        rv = kz_attrs_set_bool(&o->attrs, CKA_ENCRYPT, CK_TRUE);
    if (rv == CKR_OK)
        rv = kz_attrs_set(&o->attrs, CKA_ID, NULL, 0);
    return rv;
}

static CK_RV make_data(kz_object *o, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    const CK_ATTRIBUTE *v = kz_tmpl_find(t, n, CKA_VALUE);

    return kz_attrs_set(&o->attrs, CKA_VALUE, v ? v->pValue : NULL, v ? v->ulValueLen : 0);
}

CK_RV kz_object_from_template(CK_SLOT_ID slot, const CK_ATTRIBUTE *t, CK_ULONG n, kz_object **out)
{
    CK_OBJECT_CLASS cls;
    CK_BBOOL priv = CK_FALSE;
    const CK_ATTRIBUTE *label = kz_tmpl_find(t, n, CKA_LABEL);
    char *label_str = NULL;
    kz_object *o;
    CK_RV rv;

    rv = kz_tmpl_get_ulong(t, n, CKA_CLASS, &cls);
    if (rv != CKR_OK)
        return rv;
    rv = kz_tmpl_get_bool(t, n, CKA_PRIVATE, &priv);
    if (rv == CKR_ATTRIBUTE_VALUE_INVALID)
        return rv;
    if (cls != CKO_CERTIFICATE && cls != CKO_PUBLIC_KEY && cls != CKO_DATA)
        return CKR_TEMPLATE_INCONSISTENT;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ATTRIBUTE_TYPE ty = t[i].type;
        if (ty == CKA_CLASS || ty == CKA_TOKEN || ty == CKA_PRIVATE || ty == CKA_VALUE
            || ty == CKA_KEY_TYPE || ty == CKA_CERTIFICATE_TYPE || ty == CKA_MODULUS
            || ty == CKA_PUBLIC_EXPONENT || ty == CKA_MODIFIABLE || ty == CKA_ISSUER
            || ty == CKA_SERIAL_NUMBER || is_settable(ty))
            continue;
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    o = kz_object_new(slot, cls);
    if (!o)
        return CKR_HOST_MEMORY;
    o->is_private = priv;
    if (label && label->ulValueLen) {
        label_str = strndup(label->pValue, label->ulValueLen);
        if (!label_str) {
            kz_object_free(o);
            return CKR_HOST_MEMORY;
        }
    }
    rv = kz_objattrs_storage(&o->attrs, cls, CK_FALSE, priv, label_str);
    free(label_str);
    if (rv == CKR_OK) {
        if (cls == CKO_CERTIFICATE)
            rv = make_cert(o, t, n);
        else if (cls == CKO_PUBLIC_KEY)
            rv = make_public_key(o, t, n);
        else
            rv = make_data(o, t, n);
    }
    /* What the application said explicitly wins over what we derived. */
    for (CK_ULONG i = 0; i < n && rv == CKR_OK; i++)
        if (is_settable(t[i].type))
            rv = kz_attrs_set(&o->attrs, t[i].type, t[i].pValue, t[i].ulValueLen);
    if (rv != CKR_OK) {
        kz_object_free(o);
        return rv;
    }
    *out = o;
    return CKR_OK;
}
