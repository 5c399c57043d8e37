#include "attribute.h"
#include "crypto_backend.h"

#include <stdlib.h>
#include <string.h>

static kz_attr *find(const kz_attrs *a, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].type == type)
            return &a->v[i];
    return NULL;
}

CK_RV kz_attrs_set(kz_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    kz_attr *at = find(a, type);
    void *copy = NULL;

    if (len) {
        copy = malloc(len);
        if (!copy)
            return CKR_HOST_MEMORY;
        memcpy(copy, value, len);
    }
    if (!at) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 16;
            kz_attr *v = realloc(a->v, cap * sizeof(*v));
            if (!v) {
                free(copy);
                return CKR_HOST_MEMORY;
            }
            a->v = v;
            a->cap = cap;
        }
        at = &a->v[a->n++];
        at->type = type;
    } else {
        free(at->value);
    }
    at->value = copy;
    at->len = len;
    return CKR_OK;
}

CK_RV kz_attrs_set_bool(kz_attrs *a, CK_ATTRIBUTE_TYPE type, CK_BBOOL v)
{
    return kz_attrs_set(a, type, &v, sizeof(v));
}

CK_RV kz_attrs_set_ulong(kz_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    return kz_attrs_set(a, type, &v, sizeof(v));
}

const kz_attr *kz_attrs_get(const kz_attrs *a, CK_ATTRIBUTE_TYPE type)
{
    return find(a, type);
}

CK_BBOOL kz_attrs_get_bool(const kz_attrs *a, CK_ATTRIBUTE_TYPE type, CK_BBOOL dflt)
{
    const kz_attr *at = find(a, type);

    if (!at || at->len != sizeof(CK_BBOOL))
        return dflt;
    return *(const CK_BBOOL *)at->value ? CK_TRUE : CK_FALSE;
}

int kz_attrs_match(const kz_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++) {
        const kz_attr *at = find(a, tmpl[i].type);
        if (!at || at->len != tmpl[i].ulValueLen)
            return 0;
        if (at->len && memcmp(at->value, tmpl[i].pValue, at->len) != 0)
            return 0;
    }
    return 1;
}

void kz_attrs_free(kz_attrs *a)
{
    for (size_t i = 0; i < a->n; i++) {
        /* Attribute values may be private (e.g. CKA_VALUE of a data object). */
        kz_cleanse(a->v[i].value, a->v[i].len);
        free(a->v[i].value);
    }
    free(a->v);
    memset(a, 0, sizeof(*a));
}

CK_RV kz_attrs_copy_out(const kz_attrs *a, const CK_ATTRIBUTE_TYPE *sensitive, size_t n_sensitive,
                        CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    CK_RV rv = CKR_OK;

    for (CK_ULONG i = 0; i < n; i++) {
        const kz_attr *at = find(a, tmpl[i].type);
        int secret = 0;

        for (size_t s = 0; s < n_sensitive; s++)
            if (sensitive[s] == tmpl[i].type)
                secret = 1;
        if (secret) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_SENSITIVE;
        } else if (!at) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_TYPE_INVALID;
        } else if (!tmpl[i].pValue) {
            tmpl[i].ulValueLen = at->len;
        } else if (tmpl[i].ulValueLen >= at->len) {
            if (at->len)
                memcpy(tmpl[i].pValue, at->value, at->len);
            tmpl[i].ulValueLen = at->len;
        } else {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        }
    }
    return rv;
}

const CK_ATTRIBUTE *kz_tmpl_find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].type == type)
            return &t[i];
    return NULL;
}

CK_RV kz_tmpl_get_bool(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_BBOOL *out)
{
    const CK_ATTRIBUTE *a = kz_tmpl_find(t, n, type);

    if (!a)
        return CKR_TEMPLATE_INCOMPLETE;
    if (a->ulValueLen != sizeof(CK_BBOOL) || !a->pValue)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *out = *(const CK_BBOOL *)a->pValue ? CK_TRUE : CK_FALSE;
    return CKR_OK;
}

CK_RV kz_tmpl_get_ulong(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    const CK_ATTRIBUTE *a = kz_tmpl_find(t, n, type);

    if (!a)
        return CKR_TEMPLATE_INCOMPLETE;
    if (a->ulValueLen != sizeof(CK_ULONG) || !a->pValue)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    memcpy(out, a->pValue, sizeof(CK_ULONG));
    return CKR_OK;
}

CK_RV kz_tmpl_check(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    if (n && !t)
        return CKR_ARGUMENTS_BAD;
    for (CK_ULONG i = 0; i < n; i++)
        if (!t[i].pValue && t[i].ulValueLen)
            return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}
