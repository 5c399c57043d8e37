#include "module.h"
#include "card_cache.h"
#include "card_slots.h"
#include "crypto_backend.h"
#include "log.h"
#include "object_store.h"
#include "softtoken.h"
#include "token_objects.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

kz_module kz_mod = { .event_fd = -1 };

CK_RV kz_module_init(const CK_C_INITIALIZE_ARGS *args)
{
    CK_RV rv;

    if (kz_mod.initialized && kz_mod.pid == getpid())
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    if (kz_mod.initialized) {
        /* A forked child. Its copy of the parent's locks may be held by
         * threads that do not exist here, so they are never touched: the
         * lock model is dropped first, then the inherited slots, sessions
         * (and their logins) and objects are freed as plain memory. */
        kz_lock_forget();
        kz_sessions_free_all();
        kz_slots_free_all();
        kz_card_slots_fini();
        kz_card_cache_clear_all();
        kz_objects_destroy_all();
        if (kz_mod.event_fd >= 0)
            close(kz_mod.event_fd);
        kz_crypto_fini();
        kz_config_free(&kz_mod.cfg);
        kz_log_fini();
    }
    memset(&kz_mod, 0, sizeof(kz_mod));
    kz_mod.event_fd = -1;
    rv = kz_lock_setup(args);
    if (rv != CKR_OK)
        return rv;
    if (kz_config_load(&kz_mod.cfg) < 0) {
        kz_config_free(&kz_mod.cfg);
        return CKR_HOST_MEMORY;
    }
    kz_log_init(kz_mod.cfg.log_file);
    KZ_DEBUG("C_Initialize: version %s, %zu keystore folder(s) from %s", PACKAGE_VERSION,
             kz_mod.cfg.n_keystore_dirs, kz_mod.cfg.source ? kz_mod.cfg.source : "nowhere");
    rv = kz_crypto_init();
    if (rv == CKR_OK)
        rv = kz_mutex_new(&kz_mod.lock);
    if (rv != CKR_OK) {
        kz_crypto_fini();
        kz_config_free(&kz_mod.cfg);
        kz_log_fini();
        return rv;
    }
    kz_mod.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    kz_mod.pid = getpid();
    kz_mod.finalizing = 0;
    kz_mod.initialized = 1;
    return CKR_OK;
}

CK_RV kz_module_fini(void)
{
    uint64_t one = 1;

    if (!kz_mod.initialized || kz_mod.pid != getpid())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    kz_mutex_lock(kz_mod.lock);
    kz_mod.finalizing = 1;
    kz_card_slots_cancel_wait();
    kz_mutex_unlock(kz_mod.lock);
    /* Wake C_WaitForSlotEvent and let it leave before the state goes. */
    if (kz_mod.event_fd >= 0 && write(kz_mod.event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        KZ_DEBUG("C_Finalize: cannot signal waiters");
    for (;;) {
        int w;
        kz_mutex_lock(kz_mod.lock);
        w = kz_mod.waiters;
        kz_mutex_unlock(kz_mod.lock);
        if (w == 0)
            break;
        usleep(1000);
    }
    kz_mutex_lock(kz_mod.lock);
    kz_sessions_free_all();
    kz_slots_free_all();
    kz_card_slots_fini();
    kz_card_cache_clear_all();
    kz_objects_destroy_all();
    kz_mod.initialized = 0;
    kz_mutex_unlock(kz_mod.lock);
    kz_mutex_free(kz_mod.lock);
    kz_mod.lock = NULL;
    if (kz_mod.event_fd >= 0)
        close(kz_mod.event_fd);
    kz_mod.event_fd = -1;
    kz_crypto_fini();
    kz_config_free(&kz_mod.cfg);
    KZ_DEBUG("C_Finalize");
    kz_log_fini();
    kz_lock_teardown();
    return CKR_OK;
}

CK_RV kz_enter(void)
{
    if (!kz_mod.initialized || kz_mod.pid != getpid())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    kz_mutex_lock(kz_mod.lock);
    if (kz_mod.finalizing) {
        kz_mutex_unlock(kz_mod.lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    return CKR_OK;
}

void kz_leave(void)
{
    kz_mutex_unlock(kz_mod.lock);
}

CK_RV kz_session_acquire(CK_SESSION_HANDLE h, kz_session **out, kz_slot **slot_out)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv = kz_enter();

    if (rv != CKR_OK)
        return rv;
    s = kz_sessions_get(h);
    if (!s) {
        kz_leave();
        return CKR_SESSION_HANDLE_INVALID;
    }
    /* A card that lost its login (reset, another program's logout) logs
     * its slot out before anyone reads the slot's login state. */
    kz_card_slots_check_logins();
    slot = kz_slots_get(s->slot);
    s->refs++;
    s->user_now = slot ? slot->user : KZ_NOBODY;
    kz_leave();
    kz_mutex_lock(s->lock);
    *out = s;
    if (slot_out)
        *slot_out = slot;
    return CKR_OK;
}

CK_RV kz_enter_session(CK_SESSION_HANDLE h, kz_session **s, kz_slot **slot)
{
    CK_RV rv = kz_enter();

    if (rv != CKR_OK)
        return rv;
    kz_card_slots_check_logins();
    *s = kz_sessions_get(h);
    *slot = *s ? kz_slots_get((*s)->slot) : NULL;
    if (!*s)
        rv = CKR_SESSION_HANDLE_INVALID;
    else if (!*slot || !(*slot)->present)
        rv = CKR_DEVICE_REMOVED;
    if (rv != CKR_OK)
        kz_leave();
    return rv;
}

void kz_session_release(kz_session *s)
{
    kz_mutex_unlock(s->lock);
    kz_mutex_lock(kz_mod.lock);
    kz_session_unref(s);
    kz_mutex_unlock(kz_mod.lock);
}

void kz_refresh_slots(void)
{
    kz_softtoken_sync(&kz_mod.cfg);
    kz_card_slots_sync();
}

CK_RV kz_slot_ensure_objects(kz_slot *slot)
{
    kz_token_model m = { 0 };
    CK_RV rv;

    if (slot->objects_built || !slot->present)
        return CKR_OK;
    rv = slot->token.ops->load_model(&slot->token, &m);
    if (rv == CKR_OK)
        rv = kz_token_objects_build(slot->id, &m);
    kz_token_model_clear(&m);
    if (rv == CKR_OK)
        slot->objects_built = 1;
    else
        KZ_DEBUG("slot %lu: cannot build objects: %s", (unsigned long)slot->id, kz_rv_name(rv));
    return rv;
}

/* ---- Rebuilding a slot's objects after the token changed ------------------- */

typedef struct old_obj {
    CK_OBJECT_HANDLE handle;
    CK_OBJECT_CLASS cls;
    unsigned char id[KZ_MAX_ID];
    CK_ULONG id_len;
    int reused;
} old_obj;

typedef struct old_list {
    old_obj *v;
    size_t n, cap;
    int oom;
} old_list;

static void collect_token_object(kz_object *o, void *ctx)
{
    old_list *l = ctx;
    const kz_attr *id = kz_attrs_get(&o->attrs, CKA_ID);
    old_obj *e;

    if (o->owner != 0 || l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        old_obj *v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    e = &l->v[l->n++];
    memset(e, 0, sizeof(*e));
    e->handle = o->handle;
    e->cls = o->cls;
    if (id && id->len <= KZ_MAX_ID) {
        memcpy(e->id, id->value, id->len);
        e->id_len = id->len;
    }
}

static int is_old(const old_list *l, CK_OBJECT_HANDLE h)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].handle == h)
            return 1;
    return 0;
}

typedef struct reuse_ctx {
    old_list *old;
    kz_object **fresh;
    size_t n, cap;
    int oom;
} reuse_ctx;

static void collect_fresh(kz_object *o, void *ctx)
{
    reuse_ctx *r = ctx;

    if (o->owner != 0 || is_old(r->old, o->handle) || r->oom)
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        kz_object **v = realloc(r->fresh, cap * sizeof(*v));
        if (!v) {
            r->oom = 1;
            return;
        }
        r->fresh = v;
        r->cap = cap;
    }
    r->fresh[r->n++] = o;
}

CK_RV kz_slot_reload(kz_slot *slot)
{
    old_list old = { 0 };
    reuse_ctx r = { 0 };
    kz_token_model m = { 0 };
    CK_RV rv;

    if (slot->token.ops->slot_key) {
        const char *key = slot->token.ops->slot_key(&slot->token);
        char *copy;
        if (key && strcmp(key, slot->key) != 0 && (copy = strdup(key))) {
            KZ_DEBUG("slot %lu: now %s", (unsigned long)slot->id, key);
            free(slot->key);
            slot->key = copy;
            if (slot->describe)
                slot->describe(slot->key, slot->description, sizeof(slot->description));
        }
    }
    kz_objects_foreach(slot->id, collect_token_object, &old);
    rv = old.oom ? CKR_HOST_MEMORY : slot->token.ops->load_model(&slot->token, &m);
    if (rv == CKR_OK)
        rv = kz_token_objects_build(slot->id, &m);
    kz_token_model_clear(&m);
    if (rv != CKR_OK) {
        /* Nothing half-built stays: the next use rebuilds from scratch. */
        kz_objects_destroy_where(slot->id, 0);
        slot->objects_built = 0;
        free(old.v);
        return rv;
    }
    /* Objects that survived the change (same class and CKA_ID) keep the
     * handles the application holds. */
    r.old = &old;
    kz_objects_foreach(slot->id, collect_fresh, &r);
    for (size_t i = 0; i < r.n && !r.oom; i++) {
        const kz_attr *id = kz_attrs_get(&r.fresh[i]->attrs, CKA_ID);
        for (size_t j = 0; j < old.n; j++) {
            old_obj *e = &old.v[j];
            if (!e->reused && e->cls == r.fresh[i]->cls && id && id->len == e->id_len
                && memcmp(id->value, e->id, e->id_len) == 0) {
                kz_objects_take_handle(r.fresh[i], e->handle);
                e->reused = 1;
                break;
            }
        }
    }
    for (size_t j = 0; j < old.n; j++)
        if (!old.v[j].reused)
            kz_objects_destroy(old.v[j].handle);
    slot->objects_built = 1;
    free(old.v);
    free(r.fresh);
    return CKR_OK;
}

CK_RV kz_slot_refresh(kz_slot *slot)
{
    int changed = 0;
    CK_RV rv;

    if (!slot->token.ops->refresh || !slot->objects_built || !slot->present)
        return CKR_OK;
    rv = slot->token.ops->refresh(&slot->token, &changed);
    if (rv == CKR_OK && changed)
        rv = kz_slot_reload(slot);
    return rv;
}

CK_OBJECT_HANDLE kz_slot_find_object(kz_slot *slot, CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len)
{
    CK_ATTRIBUTE t[2] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, (void *)id, (CK_ULONG)id_len } };
    old_list l = { 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    kz_objects_foreach(slot->id, collect_token_object, &l);
    for (size_t i = 0; i < l.n && h == CK_INVALID_HANDLE; i++) {
        kz_object *o = kz_objects_get(l.v[i].handle);
        if (o && kz_attrs_match(&o->attrs, t, 2))
            h = o->handle;
    }
    free(l.v);
    return h;
}
