/* Objects an application creates from a template (C_CreateObject). */
#ifndef KZP11_OBJECT_CREATE_H
#define KZP11_OBJECT_CREATE_H

#include "object_store.h"

/* Builds a session object from tmpl. Supported: X.509 certificates
 * (CKA_VALUE; the rest is derived), RSA public keys (CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT) and data objects. */
CK_RV kz_object_from_template(CK_SLOT_ID slot, const CK_ATTRIBUTE *tmpl, CK_ULONG n, kz_object **out);

#endif
