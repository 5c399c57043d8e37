#include "pcsc_context.h"
#include "card_rv.h"
#include "log.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where libpcsclite looks for pcscd: $PCSCLITE_CSOCK_NAME, else its
 * built-in path (/run/pcscd on every current Linux; /var/run on old ones). */
static int socket_present(void)
{
    const char *p = getenv("PCSCLITE_CSOCK_NAME");
    struct stat st;

    if (p && *p)
        return stat(p, &st) == 0;
    return stat("/run/pcscd/pcscd.comm", &st) == 0 || stat("/var/run/pcscd/pcscd.comm", &st) == 0;
}

/* A context from before a fork() belongs to the parent's connection. */
static int ours(const kz_pcsc *c)
{
    return c->valid && c->pid == getpid();
}

CK_RV kz_pcsc_get(kz_pcsc *c, SCARDCONTEXT *out)
{
    LONG rc;

    if (c->valid && !ours(c))
        c->valid = 0;
    if (!c->valid) {
        /* Without pcscd, a stat() instead of a failing connect every half
         * second; libpcsclite would also format an error message (through
         * strerror) each time. */
        rc = socket_present() ? SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->h)
                              : SCARD_E_NO_SERVICE;
        if (rc != SCARD_S_SUCCESS) {
            /* Logged on the change only: callers retry every half second. */
            if (!c->unavailable)
                KZ_DEBUG("pcsc: no context: %s", kz_pcsc_name(rc));
            c->unavailable = 1;
            return rc == SCARD_E_NO_MEMORY ? CKR_HOST_MEMORY : CKR_DEVICE_REMOVED;
        }
        if (c->unavailable)
            KZ_DEBUG("pcsc: context established");
        c->unavailable = 0;
        c->valid = 1;
        c->pid = getpid();
    }
    *out = c->h;
    return CKR_OK;
}

int kz_pcsc_check(kz_pcsc *c, long rc)
{
    if (!kz_pcsc_service_lost(rc))
        return 0;
    KZ_DEBUG("pcsc: service lost (%s); will reconnect", kz_pcsc_name(rc));
    kz_pcsc_release(c);
    return 1;
}

void kz_pcsc_release(kz_pcsc *c)
{
    /* pcsc-lite frees its side of the context even when the daemon is
     * gone, so this is also how a dead context is cleaned up. */
    if (ours(c))
        SCardReleaseContext(c->h);
    c->valid = 0;
    c->h = 0;
}

void kz_pcsc_cancel(kz_pcsc *c)
{
    if (ours(c))
        SCardCancel(c->h);
}
