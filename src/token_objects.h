/* Turning a token model (certificates and keys from a driver) into PKCS#11
 * objects with the attributes NSS, OpenSSL and friends look for. */
#ifndef KZP11_TOKEN_OBJECTS_H
#define KZP11_TOKEN_OBJECTS_H

#include "object_store.h"
#include "cert_info.h"

/* Creates the token objects for model m on slot (in the object store). */
CK_RV kz_token_objects_build(CK_SLOT_ID slot, const kz_token_model *m);

/* Attribute builders shared with C_CreateObject. */
CK_RV kz_objattrs_certificate(kz_attrs *a, const unsigned char *der, size_t len,
                              const kz_cert_info *ci);
CK_RV kz_objattrs_public_key(kz_attrs *a, const kz_pkey *pub);
CK_RV kz_objattrs_storage(kz_attrs *a, CK_OBJECT_CLASS cls, CK_BBOOL token,
                          CK_BBOOL priv, const char *label);

#endif
