/* Shared by the front-end files (src/p11_*.c), one per chapter of the
 * PKCS#11 function list. */
#ifndef KZP11_FRONTEND_H
#define KZP11_FRONTEND_H

#include "pkcs11_types.h"
#include "pkcs11_v3.h"
#include "log.h"
#include "module.h"
#include "object_store.h"

#define KZ_EXPORT __attribute__((visibility("default")))

/* Logs a call's outcome; never its buffers. */
#define KZ_RET(name, rv) do { CK_RV r_ = (rv); \
    if (kz_log_enabled && r_ != CKR_OK) KZ_DEBUG("%s: %s", name, kz_rv_name(r_)); \
    return r_; } while (0)

typedef enum { KZ_USE_SIGN, KZ_USE_VERIFY, KZ_USE_DECRYPT, KZ_USE_ENCRYPT } kz_op_use;
/* The key object an operation's Init names, checked for that use with
 * mechanism m (src/op_key.c). Module lock held. */
CK_RV kz_op_key(kz_session *s, kz_slot *slot, CK_OBJECT_HANDLE h, const kz_mech *m,
                kz_op_use use, kz_object **out);

/* The common start of an operation's Init: arguments, no operation of the
 * kind running (active), a known mechanism of that kind, and its key
 * (kz_op_key). Returns CKR_OK with the module lock held. */
CK_RV kz_op_begin(kz_session *s, kz_slot *slot, int active, CK_MECHANISM_PTR mech, kz_mech_kind kind,
                  CK_OBJECT_HANDLE key, kz_op_use use, const kz_mech **m, kz_object **o);
/* C_EncryptUpdate / C_DecryptUpdate (src/p11_decrypt.c). */
CK_RV kz_crypt_op_update(CK_SESSION_HANDLE h, int decrypt, const unsigned char *in, CK_ULONG len,
                         CK_ULONG_PTR outlen);

/* Sign/verify share their Init logic (src/p11_sign.c). */
CK_RV kz_sig_op_init(kz_session *s, kz_slot *slot, kz_sig_op *op, CK_MECHANISM_PTR mech,
                     CK_OBJECT_HANDLE key, int for_sign);
CK_RV kz_sig_op_update(kz_sig_op *op, const unsigned char *in, size_t len);
CK_RV kz_sig_op_input(kz_sig_op *op, const unsigned char *data, size_t len, int single,
                      unsigned char *dig, size_t *diglen, const unsigned char **in, size_t *inlen);
/* Encrypt/decrypt share theirs (src/p11_decrypt.c). */
CK_RV kz_crypt_op_init(kz_session *s, kz_slot *slot, kz_crypt_op *op, CK_MECHANISM_PTR mech,
                       CK_OBJECT_HANDLE key, int for_decrypt);
/* Is the object visible to this session (private objects need a login)? */
int kz_object_visible(const kz_object *o, const kz_session *s);

/* 3.0 entry points reachable only through the 3.0 function list. */
CK_RV kz3_GetInfo(CK_INFO_PTR info);
void kz_function_list_3_0_fill(kz_function_list_3_0 *l);

#endif
