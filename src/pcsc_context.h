/* PC/SC contexts (pcsc-lite). Established on first use, never in
 * C_Initialize: the module must initialise, and serve its soft tokens, with
 * pcscd stopped or not installed. A context whose daemon went away (stopped,
 * restarted) is dropped and the next use connects afresh, so readers come
 * back when pcscd does. A context inherited over fork() is forgotten, never
 * released: it shares the parent's socket. */
#ifndef KZP11_PCSC_CONTEXT_H
#define KZP11_PCSC_CONTEXT_H

#include <sys/types.h>
#include <PCSC/winscard.h>
#include "pkcs11_types.h"

typedef struct kz_pcsc {
    SCARDCONTEXT h;
    int valid;
    pid_t pid;                    /* the process that established it */
    int unavailable;              /* last attempt failed (logged once) */
} kz_pcsc;

/* The context, established now if needed. CKR_OK, or CKR_DEVICE_REMOVED
 * when pcscd cannot be reached. */
CK_RV kz_pcsc_get(kz_pcsc *c, SCARDCONTEXT *out);
/* Call with the result of any call made on the context: drops the context
 * if that result says pcscd went away. Returns 1 if it did. */
int kz_pcsc_check(kz_pcsc *c, long rc);
/* Releases the context (after a fork: forgets it). */
void kz_pcsc_release(kz_pcsc *c);
/* Makes an SCardGetStatusChange waiting on this context in another
 * thread return (SCARD_E_CANCELLED). Harmless when nobody waits. */
void kz_pcsc_cancel(kz_pcsc *c);

#endif
