#include "module.h"
#include "crypto_backend.h"
#include "log.h"
#include "object_store.h"
#include "softtoken.h"
#include "token_objects.h"

#include <errno.h>
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
