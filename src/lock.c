/* PKCS#11 2.40 §5.4 (C_Initialize): with CKF_OS_LOCKING_OK we may use OS
 * primitives even if callbacks are supplied; with callbacks only we must use
 * them; with neither, the application is single-threaded and no lock is
 * needed. We prefer pthreads when allowed: they are cheaper than an indirect
 * call and the spec lets us choose. */
#include "lock.h"
#include "log.h"

#include <pthread.h>
#include <stdlib.h>

typedef enum { LOCK_NONE, LOCK_OS, LOCK_APP } lock_model;

struct kz_mutex {
    pthread_mutex_t os;
    void *app;
};

static lock_model model = LOCK_NONE;
static CK_CREATEMUTEX app_create;
static CK_DESTROYMUTEX app_destroy;
static CK_LOCKMUTEX app_lock;
static CK_UNLOCKMUTEX app_unlock;

CK_RV kz_lock_setup(const CK_C_INITIALIZE_ARGS *args)
{
    int have_cb;

    model = LOCK_NONE;
    if (!args)
        return CKR_OK;
    if (args->pReserved)
        return CKR_ARGUMENTS_BAD;
    have_cb = args->CreateMutex || args->DestroyMutex || args->LockMutex || args->UnlockMutex;
    if (have_cb && !(args->CreateMutex && args->DestroyMutex && args->LockMutex && args->UnlockMutex))
        return CKR_ARGUMENTS_BAD;
    if (args->flags & CKF_OS_LOCKING_OK) {
        model = LOCK_OS;
    } else if (have_cb) {
        model = LOCK_APP;
        app_create = args->CreateMutex;
        app_destroy = args->DestroyMutex;
        app_lock = args->LockMutex;
        app_unlock = args->UnlockMutex;
    }
    KZ_DEBUG("locking model: %s", model == LOCK_OS ? "os" : model == LOCK_APP ? "application" : "none");
    return CKR_OK;
}

void kz_lock_teardown(void)
{
    model = LOCK_NONE;
}

void kz_lock_forget(void)
{
    model = LOCK_NONE;
}

CK_RV kz_mutex_new(kz_mutex **out)
{
    kz_mutex *m = calloc(1, sizeof(*m));

    if (!m)
        return CKR_HOST_MEMORY;
    if (model == LOCK_OS) {
        if (pthread_mutex_init(&m->os, NULL) != 0) {
            free(m);
            return CKR_CANT_LOCK;
        }
    } else if (model == LOCK_APP) {
        CK_RV rv = app_create(&m->app);
        if (rv != CKR_OK) {
            free(m);
            return rv;
        }
    }
    *out = m;
    return CKR_OK;
}

void kz_mutex_free(kz_mutex *m)
{
    if (!m)
        return;
    if (model == LOCK_OS)
        pthread_mutex_destroy(&m->os);
    else if (model == LOCK_APP && m->app)
        app_destroy(m->app);
    free(m);
}

void kz_mutex_lock(kz_mutex *m)
{
    if (model == LOCK_OS)
        pthread_mutex_lock(&m->os);
    else if (model == LOCK_APP)
        app_lock(m->app);
}

void kz_mutex_unlock(kz_mutex *m)
{
    if (model == LOCK_OS)
        pthread_mutex_unlock(&m->os);
    else if (model == LOCK_APP)
        app_unlock(m->app);
}
