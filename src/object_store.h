/* PKCS#11 objects: token objects built from a token's model, and session
 * objects the application creates. One table maps handles to them. */
#ifndef KZP11_OBJECT_STORE_H
#define KZP11_OBJECT_STORE_H

#include "attribute.h"
#include "token.h"

typedef struct kz_object {
    CK_OBJECT_HANDLE handle;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE owner;      /* creating session for session objects, 0 for token objects */
    CK_OBJECT_CLASS cls;
    CK_BBOOL is_private;
    kz_attrs attrs;
    kz_pkey *pub;                 /* key objects: the public key (verify/encrypt) */
    kz_model_key *key;            /* private keys on a token: for driver operations */
} kz_object;

kz_object *kz_object_new(CK_SLOT_ID slot, CK_OBJECT_CLASS cls);
void kz_object_free(kz_object *o);
/* Types that exist on this object but are never revealed. */
void kz_object_sensitive_types(const kz_object *o, const CK_ATTRIBUTE_TYPE **types, size_t *n);

/* The store; callers hold the module lock. */
CK_RV kz_objects_insert(kz_object *o);          /* assigns o->handle */
kz_object *kz_objects_get(CK_OBJECT_HANDLE h);
void kz_objects_destroy(CK_OBJECT_HANDLE h);
/* Destroys the slot's token objects (owner 0), or its session objects of one
 * session (owner != 0), or all of the slot's objects (owner == (CK_ULONG)-1). */
void kz_objects_destroy_where(CK_SLOT_ID slot, CK_SESSION_HANDLE owner);
void kz_objects_destroy_all(void);
/* Moves object `o` (already in the store) to the handle `keep`, freeing the
 * object that had it: a token object rebuilt after a change keeps the handle
 * applications already hold. */
void kz_objects_take_handle(kz_object *o, CK_OBJECT_HANDLE keep);
/* Iteration for C_FindObjectsInit: calls fn for each object of the slot. */
void kz_objects_foreach(CK_SLOT_ID slot, void (*fn)(kz_object *o, void *ctx), void *ctx);

#define KZ_ALL_OWNERS ((CK_SESSION_HANDLE)-1)

#endif
