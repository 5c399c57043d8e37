/* Mutexes as C_Initialize asked for them: the application's callbacks, the
 * OS's (pthreads), or none when the application promised a single thread. */
#ifndef KZP11_LOCK_H
#define KZP11_LOCK_H

#include "pkcs11_types.h"

typedef struct kz_mutex kz_mutex;

/* Chooses the locking model from C_Initialize's arguments (NULL allowed).
 * Returns CKR_OK or CKR_ARGUMENTS_BAD / CKR_CANT_LOCK. */
CK_RV kz_lock_setup(const CK_C_INITIALIZE_ARGS *args);
void kz_lock_teardown(void);

CK_RV kz_mutex_new(kz_mutex **m);
void kz_mutex_free(kz_mutex *m);
void kz_mutex_lock(kz_mutex *m);
void kz_mutex_unlock(kz_mutex *m);

/* Drops mutexes inherited over fork() without touching them: the parent's
 * lock state is meaningless in the child. */
void kz_lock_forget(void);

#endif
