/* Attribute sets of objects, and reading the caller's templates. */
#ifndef KZP11_ATTRIBUTE_H
#define KZP11_ATTRIBUTE_H

#include <stddef.h>
#include "pkcs11_types.h"

typedef struct kz_attr {
    CK_ATTRIBUTE_TYPE type;
    void *value;
    CK_ULONG len;
} kz_attr;

typedef struct kz_attrs {
    kz_attr *v;
    size_t n, cap;
} kz_attrs;

CK_RV kz_attrs_set(kz_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
CK_RV kz_attrs_set_bool(kz_attrs *a, CK_ATTRIBUTE_TYPE type, CK_BBOOL v);
CK_RV kz_attrs_set_ulong(kz_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG v);
const kz_attr *kz_attrs_get(const kz_attrs *a, CK_ATTRIBUTE_TYPE type);
CK_BBOOL kz_attrs_get_bool(const kz_attrs *a, CK_ATTRIBUTE_TYPE type, CK_BBOOL dflt);
/* Every template attribute present with exactly the same bytes. */
int kz_attrs_match(const kz_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG n);
void kz_attrs_free(kz_attrs *a);

/* C_GetAttributeValue semantics (PKCS#11 2.40 §5.7) for one object: every
 * entry is processed; `sensitive` lists types that exist but must not be
 * revealed. Returns the error of the last failing entry, or CKR_OK. */
CK_RV kz_attrs_copy_out(const kz_attrs *a, const CK_ATTRIBUTE_TYPE *sensitive, size_t n_sensitive,
                        CK_ATTRIBUTE *tmpl, CK_ULONG n);

/* Reading caller templates. */
const CK_ATTRIBUTE *kz_tmpl_find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type);
/* CKR_OK (found, *out set), CKR_TEMPLATE_INCOMPLETE (absent; *out untouched),
 * CKR_ATTRIBUTE_VALUE_INVALID (wrong size). */
CK_RV kz_tmpl_get_bool(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_BBOOL *out);
CK_RV kz_tmpl_get_ulong(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_ULONG *out);
/* Rejects NULL values with non-zero lengths, as a malformed template. */
CK_RV kz_tmpl_check(const CK_ATTRIBUTE *t, CK_ULONG n);

#endif
