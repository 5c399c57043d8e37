/* Object management (PKCS#11 2.40 §5.7). */
#include "frontend.h"
#include "object_create.h"
#include "object_store.h"

#include <stdlib.h>
#include <string.h>

int kz_object_visible(const kz_object *o, const kz_session *s)
{
    return o->slot == s->slot && (!o->is_private || s->user_now == CKU_USER);
}

/* Looks up an object the session may see. Module lock held. */
static CK_RV visible_object(kz_session *s, CK_OBJECT_HANDLE h, kz_object **out)
{
    kz_object *o = kz_objects_get(h);

    if (!o || !kz_object_visible(o, s))
        return CKR_OBJECT_HANDLE_INVALID;
    *out = o;
    return CKR_OK;
}

/* Module lock held on return with CKR_OK; the session is only looked up,
 * not pinned, because object calls finish under the module lock. */
static CK_RV enter_session(CK_SESSION_HANDLE h, kz_session **s, kz_slot **slot)
{
    CK_RV rv = kz_enter_session(h, s, slot);

    if (rv != CKR_OK)
        return rv;
    (*s)->user_now = (*slot)->user;
    return kz_slot_ensure_objects(*slot) == CKR_OK ? CKR_OK : (kz_leave(), CKR_DEVICE_ERROR);
}

/* C_CreateObject of a token object: the token stores certificates (the NCA
 * flow installs the issued certificate next to its key); nothing else. */
static CK_RV store_on_token(kz_slot *slot, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    const CK_ATTRIBUTE *value = kz_tmpl_find(t, n, CKA_VALUE);
    const CK_ATTRIBUTE *label = kz_tmpl_find(t, n, CKA_LABEL);
    unsigned char id[KZ_MAX_ID];
    size_t id_len = sizeof(id);
    char lbl[KZ_MAX_LABEL] = "";
    CK_OBJECT_CLASS cls;
    CK_ULONG ct = CKC_X_509;
    CK_RV rv = kz_tmpl_get_ulong(t, n, CKA_CLASS, &cls);

    if (rv != CKR_OK)
        return rv;
    if (cls != CKO_CERTIFICATE)
        return CKR_TEMPLATE_INCONSISTENT;
    if (kz_tmpl_get_ulong(t, n, CKA_CERTIFICATE_TYPE, &ct) == CKR_ATTRIBUTE_VALUE_INVALID || ct != CKC_X_509)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (!value || !value->pValue || !value->ulValueLen)
        return CKR_TEMPLATE_INCOMPLETE;
    if (slot->user != CKU_USER)
        return CKR_USER_NOT_LOGGED_IN;
    if (!slot->token.ops->store_certificate)
        return CKR_FUNCTION_NOT_SUPPORTED;
    if (label && label->pValue && label->ulValueLen < sizeof(lbl)) {
        memcpy(lbl, label->pValue, label->ulValueLen);
        lbl[label->ulValueLen] = '\0';
    }
    rv = slot->token.ops->store_certificate(&slot->token, value->pValue, value->ulValueLen,
                                            lbl[0] ? lbl : NULL, id, &id_len);
    if (rv == CKR_OK)
        rv = kz_slot_reload(slot);
    if (rv == CKR_OK) {
        *out = kz_slot_find_object(slot, CKO_CERTIFICATE, id, id_len);
        if (*out == CK_INVALID_HANDLE)
            rv = CKR_GENERAL_ERROR;
    }
    return rv;
}

KZ_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                               CK_OBJECT_HANDLE_PTR phObject)
{
    kz_session *s;
    kz_slot *slot;
    kz_object *o = NULL;
    CK_BBOOL token = CK_FALSE, priv = CK_FALSE;
    CK_RV rv;

    if (!phObject || (rv = kz_tmpl_check(pTemplate, ulCount)) != CKR_OK)
        return phObject ? rv : CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s, &slot)) != CKR_OK)
        return rv;
    if (kz_tmpl_get_bool(pTemplate, ulCount, CKA_TOKEN, &token) == CKR_ATTRIBUTE_VALUE_INVALID
        || kz_tmpl_get_bool(pTemplate, ulCount, CKA_PRIVATE, &priv) == CKR_ATTRIBUTE_VALUE_INVALID)
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    else if (token && !(s->flags & CKF_RW_SESSION))
        rv = CKR_SESSION_READ_ONLY;
    else if (token)
        rv = store_on_token(slot, pTemplate, ulCount, phObject);
    else if (priv && slot->user != CKU_USER)
        rv = CKR_USER_NOT_LOGGED_IN;
    else
        rv = kz_object_from_template(slot->id, pTemplate, ulCount, &o);
    if (rv == CKR_OK && o) {
        o->owner = s->handle;
        rv = kz_objects_insert(o);
        if (rv == CKR_OK)
            *phObject = o->handle;
        else
            kz_object_free(o);
    }
    kz_leave();
    KZ_RET("C_CreateObject", rv);
}

KZ_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                             CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
    kz_session *s;
    kz_slot *slot;
    kz_object *o;
    CK_RV rv;

    if ((rv = enter_session(hSession, &s, &slot)) != CKR_OK)
        return rv;
    rv = visible_object(s, hObject, &o);
    if (rv == CKR_OK)
        rv = CKR_ACTION_PROHIBITED;     /* CKA_COPYABLE is false on every object */
    kz_leave();
    KZ_RET("C_CopyObject", rv);
}

KZ_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    kz_session *s;
    kz_slot *slot;
    kz_object *o;
    CK_RV rv;

    if ((rv = enter_session(hSession, &s, &slot)) != CKR_OK)
        return rv;
    rv = visible_object(s, hObject, &o);
    if (rv == CKR_OK && o->owner == 0) {
        const kz_attr *id = kz_attrs_get(&o->attrs, CKA_ID);
        if (!(s->flags & CKF_RW_SESSION))
            rv = CKR_SESSION_READ_ONLY;
        else if (!slot->token.ops->destroy_object)
            rv = CKR_ACTION_PROHIBITED;
        else
            rv = slot->token.ops->destroy_object(&slot->token, o->cls, id ? id->value : NULL,
                                                 id ? id->len : 0);
        /* The token changed (or is gone): what it now holds is the truth. */
        if (rv == CKR_OK)
            rv = kz_slot_reload(slot);
    } else if (rv == CKR_OK) {
        kz_objects_destroy(hObject);
    }
    kz_leave();
    KZ_RET("C_DestroyObject", rv);
}

KZ_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize)
{
    kz_session *s;
    kz_slot *slot;
    kz_object *o;
    CK_RV rv;

    if (!pulSize)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s, &slot)) != CKR_OK)
        return rv;
    rv = visible_object(s, hObject, &o);
    if (rv == CKR_OK) {
        CK_ULONG size = 0;
        for (size_t i = 0; i < o->attrs.n; i++)
            size += o->attrs.v[i].len + sizeof(CK_ATTRIBUTE);
        *pulSize = size;
    }
    kz_leave();
    KZ_RET("C_GetObjectSize", rv);
}

KZ_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    const CK_ATTRIBUTE_TYPE *sensitive;
    size_t n_sensitive;
    kz_session *s;
    kz_slot *slot;
    kz_object *o;
    CK_RV rv;

    if (!pTemplate && ulCount)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s, &slot)) != CKR_OK)
        return rv;
    rv = visible_object(s, hObject, &o);
    if (rv == CKR_OK) {
        kz_object_sensitive_types(o, &sensitive, &n_sensitive);
        rv = kz_attrs_copy_out(&o->attrs, sensitive, n_sensitive, pTemplate, ulCount);
    }
    kz_leave();
    /* Not logged as an error: applications probe attributes all the time. */
    return rv;
}

KZ_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    kz_session *s;
    kz_slot *slot;
    kz_object *o;
    CK_RV rv;

    if (!pTemplate && ulCount)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s, &slot)) != CKR_OK)
        return rv;
    rv = visible_object(s, hObject, &o);
    if (rv == CKR_OK)
        rv = (o->owner == 0 && !(s->flags & CKF_RW_SESSION)) ? CKR_SESSION_READ_ONLY
                                                             : CKR_ACTION_PROHIBITED; /* CKA_MODIFIABLE false */
    kz_leave();
    KZ_RET("C_SetAttributeValue", rv);
}

/* ---- Searching ------------------------------------------------------------- */

typedef struct find_ctx {
    kz_session *s;
    const CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    CK_OBJECT_HANDLE *out;
    size_t count, cap;
    int oom;
} find_ctx;

static void collect(kz_object *o, void *p)
{
    find_ctx *f = p;

    if (f->oom || !kz_object_visible(o, f->s) || !kz_attrs_match(&o->attrs, f->tmpl, f->n))
        return;
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        CK_OBJECT_HANDLE *v = realloc(f->out, cap * sizeof(*v));
        if (!v) {
            f->oom = 1;
            return;
        }
        f->out = v;
        f->cap = cap;
    }
    f->out[f->count++] = o->handle;
}

KZ_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    kz_session *s;
    kz_slot *slot;
    find_ctx f = { 0 };
    CK_RV rv;

    if (!pTemplate && ulCount)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_enter_session(hSession, &s, &slot)) != CKR_OK)
        return rv;
    if (s->find.active) {
        kz_leave();
        KZ_RET("C_FindObjectsInit", CKR_OPERATION_ACTIVE);
    }
    s->user_now = slot->user;
    /* A search is where an application expects to see what another program
     * put on the token meanwhile (a card shared by several programs); objects
     * built just now need no such look. */
    rv = slot->objects_built ? kz_slot_refresh(slot) : CKR_OK;
    /* A look that failed leaves the objects we have: still worth searching,
     * unless the token is gone. */
    if (rv != CKR_OK && rv != CKR_DEVICE_REMOVED) {
        KZ_DEBUG("slot %lu: cannot look for changes: %s", (unsigned long)slot->id, kz_rv_name(rv));
        rv = CKR_OK;
    }
    if (rv == CKR_OK && kz_slot_ensure_objects(slot) != CKR_OK)
        rv = CKR_DEVICE_ERROR;
    if (rv != CKR_OK) {
        kz_leave();
        KZ_RET("C_FindObjectsInit", rv);
    }
    /* The result set is fixed now, as the spec allows: later changes do not
     * disturb an ongoing search. */
    f.s = s;
    f.tmpl = pTemplate;
    f.n = ulCount;
    kz_objects_foreach(slot->id, collect, &f);
    if (f.oom) {
        free(f.out);
        rv = CKR_HOST_MEMORY;
    } else {
        s->find.active = 1;
        s->find.handles = f.out;
        s->find.n = f.count;
        s->find.pos = 0;
    }
    kz_leave();
    KZ_RET("C_FindObjectsInit", rv);
}

KZ_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                              CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    kz_session *s;
    CK_ULONG n = 0;
    CK_RV rv;

    if (!pulObjectCount || (!phObject && ulMaxObjectCount))
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    s = kz_sessions_get(hSession);
    if (!s) {
        rv = CKR_SESSION_HANDLE_INVALID;
    } else if (!s->find.active) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else {
        while (n < ulMaxObjectCount && s->find.pos < s->find.n) {
            CK_OBJECT_HANDLE h = s->find.handles[s->find.pos++];
            if (kz_objects_get(h))      /* skip objects destroyed since Init */
                phObject[n++] = h;
        }
        *pulObjectCount = n;
    }
    kz_leave();
    KZ_RET("C_FindObjects", rv);
}

KZ_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    kz_session *s;
    CK_RV rv;

    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    s = kz_sessions_get(hSession);
    if (!s)
        rv = CKR_SESSION_HANDLE_INVALID;
    else if (!s->find.active)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        kz_find_op_end(&s->find);
    kz_leave();
    KZ_RET("C_FindObjectsFinal", rv);
}
