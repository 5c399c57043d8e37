#include "object_store.h"
#include "handle_table.h"

#include <stdlib.h>

static kz_handle_table objects;

kz_object *kz_object_new(CK_SLOT_ID slot, CK_OBJECT_CLASS cls)
{
    kz_object *o = calloc(1, sizeof(*o));

    if (!o)
        return NULL;
    o->slot = slot;
    o->cls = cls;
    return o;
}

void kz_object_free(kz_object *o)
{
    if (!o)
        return;
    kz_attrs_free(&o->attrs);
    kz_pkey_free(o->pub);
    kz_model_key_unref(o->key);
    free(o);
}

void kz_object_sensitive_types(const kz_object *o, const CK_ATTRIBUTE_TYPE **types, size_t *n)
{
    static const CK_ATTRIBUTE_TYPE private_key[] = {
        CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
        CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT,
    };

    if (o->cls == CKO_PRIVATE_KEY) {
        *types = private_key;
        *n = sizeof(private_key) / sizeof(private_key[0]);
    } else {
        *types = NULL;
        *n = 0;
    }
}

CK_RV kz_objects_insert(kz_object *o)
{
    o->handle = kz_handles_add(&objects, o);
    return o->handle ? CKR_OK : CKR_HOST_MEMORY;
}

kz_object *kz_objects_get(CK_OBJECT_HANDLE h)
{
    return kz_handles_get(&objects, h);
}

void kz_objects_destroy(CK_OBJECT_HANDLE h)
{
    kz_object_free(kz_handles_remove(&objects, h));
}

void kz_objects_destroy_where(CK_SLOT_ID slot, CK_SESSION_HANDLE owner)
{
    for (size_t i = 0; i < objects.n; i++) {
        kz_object *o = objects.v[i].ptr;
        if (o && o->slot == slot && (owner == KZ_ALL_OWNERS || o->owner == owner))
            kz_objects_destroy(o->handle);
    }
}

void kz_objects_destroy_all(void)
{
    for (size_t i = 0; i < objects.n; i++)
        kz_object_free(objects.v[i].ptr);
    kz_handles_free(&objects);
}

void kz_objects_take_handle(kz_object *o, CK_OBJECT_HANDLE keep)
{
    kz_handles_remove(&objects, o->handle);
    kz_object_free(kz_handles_replace(&objects, keep, o));
    o->handle = keep;
}

void kz_objects_foreach(CK_SLOT_ID slot, void (*fn)(kz_object *o, void *ctx), void *ctx)
{
    for (size_t i = 0; i < objects.n; i++) {
        kz_object *o = objects.v[i].ptr;
        if (o && o->slot == slot)
            fn(o, ctx);
    }
}
