/* What every cryptographic operation's Init shares: the argument checks and
 * the key checks — the handle
 * names a key the session may see, of a class the operation works with,
 * allowed the use, and of the mechanism's key type (PKCS#11 2.40 §5.8-5.13). */
#include "frontend.h"

/* Private-key operations run on the token; the token must offer the
 * mechanism. Keys the core holds itself (session keys) need no token. */
static int token_has_mechanism(kz_slot *slot, CK_MECHANISM_TYPE type)
{
    const CK_MECHANISM_TYPE *list;
    size_t n;

    if (slot->token.ops->get_mechanisms(&slot->token, &list, &n) != CKR_OK)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (list[i] == type)
            return 1;
    return 0;
}

CK_RV kz_op_key(kz_session *s, kz_slot *slot, CK_OBJECT_HANDLE h, const kz_mech *m,
                kz_op_use use, kz_object **out)
{
    /* For each use: the class that must carry the usage flag, and whether
     * a private key may stand in for the public one (its public half). */
    static const struct {
        CK_OBJECT_CLASS cls;
        CK_ATTRIBUTE_TYPE flag;
        CK_ATTRIBUTE_TYPE private_flag;   /* 0: the private key cannot stand in */
    } rules[] = {
        [KZ_USE_SIGN] = { CKO_PRIVATE_KEY, CKA_SIGN, 0 },
        [KZ_USE_VERIFY] = { CKO_PUBLIC_KEY, CKA_VERIFY, CKA_SIGN },
        [KZ_USE_DECRYPT] = { CKO_PRIVATE_KEY, CKA_DECRYPT, 0 },
        [KZ_USE_ENCRYPT] = { CKO_PUBLIC_KEY, CKA_ENCRYPT, 0 },
    };
    int private_op = use == KZ_USE_SIGN || use == KZ_USE_DECRYPT;
    kz_object *o;

    if (!slot || !slot->present)
        return CKR_DEVICE_REMOVED;
    s->user_now = slot->user;
    o = kz_objects_get(h);
    if (!o || !kz_object_visible(o, s) || !o->pub)
        return CKR_KEY_HANDLE_INVALID;
    if (o->cls == rules[use].cls) {
        if (!kz_attrs_get_bool(&o->attrs, rules[use].flag, CK_FALSE))
            return CKR_KEY_FUNCTION_NOT_PERMITTED;
    } else if (o->cls == CKO_PRIVATE_KEY && rules[use].private_flag) {
        if (!kz_attrs_get_bool(&o->attrs, rules[use].private_flag, CK_FALSE))
            return CKR_KEY_FUNCTION_NOT_PERMITTED;
    } else {
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    if (private_op && !o->key)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (kz_pkey_type(o->pub) != m->key_type)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (private_op && !o->key->host && !token_has_mechanism(slot, m->type))
        return CKR_MECHANISM_INVALID;
    *out = o;
    return CKR_OK;
}

CK_RV kz_op_begin(kz_session *s, kz_slot *slot, int active, CK_MECHANISM_PTR mech, kz_mech_kind kind,
                  CK_OBJECT_HANDLE key, kz_op_use use, const kz_mech **m, kz_object **o)
{
    CK_RV rv;

    if (!mech)
        return CKR_ARGUMENTS_BAD;
    if (active)
        return CKR_OPERATION_ACTIVE;
    *m = kz_mech_find_kind(mech->mechanism, kind);
    if (!*m)
        return CKR_MECHANISM_INVALID;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    rv = kz_op_key(s, slot, key, *m, use, o);
    if (rv != CKR_OK)
        kz_leave();
    return rv;
}
