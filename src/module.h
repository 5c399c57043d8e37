/* Module-wide state and the entry/exit discipline every C_* function uses. */
#ifndef KZP11_MODULE_H
#define KZP11_MODULE_H

#include <sys/types.h>
#include "configuration.h"
#include "lock.h"
#include "session_table.h"
#include "slot_table.h"

typedef struct kz_module {
    int initialized;
    pid_t pid;                    /* the process that called C_Initialize */
    kz_mutex *lock;               /* guards slots, sessions, objects */
    kz_config cfg;
    int event_fd;                 /* wakes C_WaitForSlotEvent; -1 if none */
    int waiters;                  /* threads inside C_WaitForSlotEvent */
    int finalizing;
    int scanned;                  /* the slots have been listed at least once */
} kz_module;

extern kz_module kz_mod;

CK_RV kz_module_init(const CK_C_INITIALIZE_ARGS *args);
CK_RV kz_module_fini(void);

/* Checks the module is initialised in this process and takes the module
 * lock. Returns CKR_CRYPTOKI_NOT_INITIALIZED otherwise (including in a
 * forked child that has not called C_Initialize again). */
CK_RV kz_enter(void);
void kz_leave(void);

/* Looks up a session and pins it: returns with the module lock released and
 * the session's own lock held. Release with kz_session_release. */
CK_RV kz_session_acquire(CK_SESSION_HANDLE h, kz_session **s, kz_slot **slot);
void kz_session_release(kz_session *s);
/* Takes the module lock and looks up a session on a slot that still holds
 * its token. On CKR_OK returns with the lock held; on error without it. */
CK_RV kz_enter_session(CK_SESSION_HANDLE h, kz_session **s, kz_slot **slot);

/* Rescans the keystore folders and the card readers. Module lock held. */
void kz_refresh_slots(void);
/* Builds the token objects of a slot for its current login state. Module lock held. */
CK_RV kz_slot_ensure_objects(kz_slot *slot);
/* After the token changed (a key generated, a certificate stored, a
 * container renamed): rebuilds the objects, keeping the handles of those
 * that are still there. Module lock held. */
CK_RV kz_slot_reload(kz_slot *slot);
/* Asks the token whether its objects changed behind our back (refresh op)
 * and rebuilds them if so. Module lock held. */
CK_RV kz_slot_refresh(kz_slot *slot);
/* The token object of that class and CKA_ID, or CK_INVALID_HANDLE. */
CK_OBJECT_HANDLE kz_slot_find_object(kz_slot *slot, CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len);

#endif
