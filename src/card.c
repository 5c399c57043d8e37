#include "card_internal.h"
#include "lock.h"
#include "log.h"
#include "pcsc_context.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kz_card {
    int refs;                     /* atomic */
    kz_mutex *lock;               /* held from begin to end */
    char *reader;
    uint8_t atr[MAX_ATR_SIZE];
    size_t atr_len;
    int proto;
    int extended;

    kz_pcsc ctx;                  /* the card's own context */
    SCARDHANDLE h;
    int connected;
    pid_t pid;                    /* the process that connected */
    /* Below kz_card_transmit: SCardTransmit, or a unit test's fake. */
    kz_raw_transmit raw;
    void *raw_ctx;
    int fake;

    int depth;                    /* atomic: transaction nesting of the owner */
    pthread_t owner;              /* atomic: the thread in the transaction */
    int removed;                  /* the card is gone for good */
    unsigned resets, resets_reported;
    int logged_in;                /* atomic */
    int login_lost;               /* atomic */
};

kz_card *kz_card_ref(kz_card *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void kz_card_unref(kz_card *c)
{
    if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    /* A forked child's copy of the handle is the parent's: left alone. */
    if (c->connected && c->pid == getpid())
        SCardDisconnect(c->h, SCARD_LEAVE_CARD);
    kz_pcsc_release(&c->ctx);
    kz_mutex_free(c->lock);
    free(c->reader);
    free(c);
}

const char *kz_card_reader(const kz_card *c)
{
    return c->reader;
}

const uint8_t *kz_card_atr(const kz_card *c, size_t *len)
{
    *len = c->atr_len;
    return c->atr;
}

int kz_card_protocol(const kz_card *c)
{
    return c->proto;
}

void kz_card_set_extended(kz_card *c, int on)
{
    c->extended = on && c->proto == KZ_PROTO_T1;
}

void kz_card_set_logged_in(kz_card *c, int on)
{
    __atomic_store_n(&c->logged_in, on ? 1 : 0, __ATOMIC_RELAXED);
}

void kz_card_login_lost(kz_card *c)
{
    if (__atomic_exchange_n(&c->logged_in, 0, __ATOMIC_RELAXED))
        __atomic_store_n(&c->login_lost, 1, __ATOMIC_RELAXED);
}

int kz_card_take_login_lost(kz_card *c)
{
    return __atomic_exchange_n(&c->login_lost, 0, __ATOMIC_RELAXED);
}

/* ---- PC/SC below the card -------------------------------------------- */

static int proto_of(DWORD p)
{
    return p == SCARD_PROTOCOL_T0 ? KZ_PROTO_T0 : KZ_PROTO_T1;
}

static CK_RV pcsc_transmit(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len)
{
    kz_card *c = ctx;
    DWORD n = (DWORD)*rsp_len;
    LONG rc = SCardTransmit(c->h, c->proto == KZ_PROTO_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1,
                            cmd, (DWORD)len, NULL, rsp, &n);

    if (rc != SCARD_S_SUCCESS) {
        KZ_DEBUG("%s: SCardTransmit: %s", c->reader, kz_pcsc_name(rc));
        return kz_pcsc_rv(rc);
    }
    *rsp_len = n;
    return CKR_OK;
}

/* The card was reset under us: acknowledge it (the card stays as it is,
 * LEAVE_CARD) and remember what it forgot. */
static CK_RV recover_reset(kz_card *c)
{
    if (!c->fake) {
        DWORD proto = 0;
        LONG rc = SCardReconnect(c->h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                                 SCARD_LEAVE_CARD, &proto);
        if (rc != SCARD_S_SUCCESS) {
            CK_RV rv = kz_pcsc_rv(rc);
            KZ_DEBUG("%s: reconnect after reset: %s", c->reader, kz_pcsc_name(rc));
            if (rv == CKR_DEVICE_REMOVED || rv == KZ_CKR_CARD_RESET)
                c->removed = 1;
            return rv == KZ_CKR_CARD_RESET ? CKR_DEVICE_ERROR : rv;
        }
        c->proto = proto_of(proto);
        if (c->proto != KZ_PROTO_T1)
            c->extended = 0;
    }
    c->resets++;
    kz_card_login_lost(c);
    KZ_DEBUG("%s: card was reset; reconnected", c->reader);
    return CKR_OK;
}

/* After a failed or garbled exchange: was it the card leaving (or being
 * reset)? Readers differ in how a vanished card shows up in
 * SCardTransmit; SCardStatus says it plainly. */
static CK_RV explain_failure(kz_card *c, CK_RV rv)
{
    DWORD state = 0, proto = 0, rlen = 0, alen = MAX_ATR_SIZE;
    uint8_t atr[MAX_ATR_SIZE];
    LONG rc;

    if (c->fake)
        return rv;
    rc = SCardStatus(c->h, NULL, &rlen, &state, &proto, atr, &alen);
    if (rc == SCARD_W_RESET_CARD)
        return KZ_CKR_CARD_RESET;       /* recovered by the caller */
    if (kz_pcsc_rv(rc) == CKR_DEVICE_REMOVED || (rc == SCARD_S_SUCCESS && !(state & SCARD_PRESENT))) {
        KZ_DEBUG("%s: the card is gone", c->reader);
        return CKR_DEVICE_REMOVED;
    }
    return rv;
}

static CK_RV tx_begin(kz_card *c)
{
    LONG rc;

    if (c->fake)
        return CKR_OK;
    rc = SCardBeginTransaction(c->h);
    if (rc != SCARD_S_SUCCESS)
        KZ_DEBUG("%s: SCardBeginTransaction: %s", c->reader, kz_pcsc_name(rc));
    return kz_pcsc_rv(rc);
}

static void tx_end(kz_card *c)
{
    LONG rc;

    if (c->fake || c->removed)
        return;
    rc = SCardEndTransaction(c->h, SCARD_LEAVE_CARD);
    if (rc == SCARD_W_RESET_CARD)
        recover_reset(c);
    else if (kz_pcsc_rv(rc) == CKR_DEVICE_REMOVED)
        c->removed = 1;
}

/* ---- Transactions -------------------------------------------------------- */

static int owned_by_me(kz_card *c)
{
    return __atomic_load_n(&c->depth, __ATOMIC_RELAXED) > 0
           && pthread_equal(__atomic_load_n(&c->owner, __ATOMIC_RELAXED), pthread_self());
}

/* `report`: this begin tells the driver about resets (an explicit
 * kz_card_begin does; the transaction around a lone transmit does not, so
 * the driver still hears of it at its next begin). */
static CK_RV begin(kz_card *c, int report, int *was_reset)
{
    CK_RV rv;

    if (was_reset)
        *was_reset = 0;
    if (owned_by_me(c)) {
        __atomic_add_fetch(&c->depth, 1, __ATOMIC_RELAXED);
        return CKR_OK;
    }
    kz_mutex_lock(c->lock);
    rv = c->removed ? CKR_DEVICE_REMOVED : tx_begin(c);
    /* A reset seen here is acknowledged and the transaction retried; a
     * card that keeps being reset is given up on. */
    for (int tries = 0; rv == KZ_CKR_CARD_RESET && tries < 3; tries++) {
        rv = recover_reset(c);
        if (rv == CKR_OK)
            rv = tx_begin(c);
    }
    if (rv == KZ_CKR_CARD_RESET)
        rv = CKR_DEVICE_ERROR;
    if (rv != CKR_OK) {
        if (rv == CKR_DEVICE_REMOVED)
            c->removed = 1;
        kz_mutex_unlock(c->lock);
        return rv;
    }
    __atomic_store_n(&c->owner, pthread_self(), __ATOMIC_RELAXED);
    __atomic_store_n(&c->depth, 1, __ATOMIC_RELAXED);
    if (report) {
        if (was_reset)
            *was_reset = c->resets != c->resets_reported;
        c->resets_reported = c->resets;
    }
    return CKR_OK;
}

CK_RV kz_card_begin(kz_card *c, int *was_reset)
{
    return begin(c, 1, was_reset);
}

void kz_card_end(kz_card *c)
{
    if (!owned_by_me(c))
        return;         /* an end without a begin: a driver bug, not a crash */
    if (__atomic_sub_fetch(&c->depth, 1, __ATOMIC_RELAXED) > 0)
        return;
    tx_end(c);
    __atomic_store_n(&c->owner, (pthread_t)0, __ATOMIC_RELAXED);
    kz_mutex_unlock(c->lock);
}

CK_RV kz_card_transmit(kz_card *c, const kz_apdu *a, kz_rapdu *r)
{
    kz_link link;
    int implicit = !owned_by_me(c);
    CK_RV rv;

    if (implicit && (rv = begin(c, 0, NULL)) != CKR_OK)
        return rv;
    link.proto = c->proto;
    link.extended = c->extended;
    link.raw = c->raw;
    link.ctx = c->raw_ctx;
    link.name = c->reader;
    rv = c->removed ? CKR_DEVICE_REMOVED : kz_apdu_exchange(&link, a, r);
    if (rv == CKR_DEVICE_ERROR)
        rv = explain_failure(c, rv);
    if (rv == KZ_CKR_CARD_RESET) {
        CK_RV rec = recover_reset(c);
        if (rec != CKR_OK)
            rv = rec;
    } else if (rv == CKR_DEVICE_REMOVED) {
        c->removed = 1;
    }
    if (implicit)
        kz_card_end(c);
    return rv;
}

CK_RV kz_card_command(kz_card *c, const kz_apdu *a, kz_rapdu *r)
{
    CK_RV rv = kz_card_transmit(c, a, r);

    return rv == CKR_OK ? kz_sw_rv(r->sw) : rv;
}

/* ---- Creation ------------------------------------------------------------ */

static CK_RV card_alloc(const char *name, kz_card **out)
{
    kz_card *c = calloc(1, sizeof(*c));
    CK_RV rv;

    if (!c || !(c->reader = strdup(name))) {
        free(c);
        return CKR_HOST_MEMORY;
    }
    rv = kz_mutex_new(&c->lock);
    if (rv != CKR_OK) {
        free(c->reader);
        free(c);
        return rv;
    }
    c->refs = 1;
    *out = c;
    return CKR_OK;
}

CK_RV kz_card_connect(const char *reader, kz_card **out)
{
    SCARDCONTEXT ctx;
    DWORD proto = 0, state = 0, rlen = 0, alen = MAX_ATR_SIZE;
    kz_card *c;
    LONG rc;
    CK_RV rv = card_alloc(reader, &c);

    if (rv != CKR_OK)
        return rv;
    rv = kz_pcsc_get(&c->ctx, &ctx);
    if (rv != CKR_OK) {
        kz_card_unref(c);
        return rv;
    }
    rc = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                      &c->h, &proto);
    if (rc != SCARD_S_SUCCESS) {
        KZ_DEBUG("%s: SCardConnect: %s", reader, kz_pcsc_name(rc));
        kz_card_unref(c);
        return kz_pcsc_rv(rc);
    }
    c->connected = 1;
    c->pid = getpid();
    c->proto = proto_of(proto);
    c->raw = pcsc_transmit;
    c->raw_ctx = c;
    rc = SCardStatus(c->h, NULL, &rlen, &state, &proto, c->atr, &alen);
    if (rc != SCARD_S_SUCCESS) {
        KZ_DEBUG("%s: SCardStatus: %s", reader, kz_pcsc_name(rc));
        kz_card_unref(c);
        return rc == SCARD_W_RESET_CARD ? CKR_DEVICE_ERROR : kz_pcsc_rv(rc);
    }
    c->atr_len = alen;
    KZ_DEBUG("%s: connected, T=%d", reader, c->proto);
    *out = c;
    return CKR_OK;
}

CK_RV kz_card_new_fake(const char *name, int proto, const uint8_t *atr, size_t atr_len,
                       kz_raw_transmit raw, void *raw_ctx, kz_card **out)
{
    kz_card *c;
    CK_RV rv;

    if (atr_len > sizeof(c->atr) || !raw)
        return CKR_ARGUMENTS_BAD;
    if ((rv = card_alloc(name, &c)) != CKR_OK)
        return rv;
    c->fake = 1;
    c->proto = proto;
    if (atr_len)
        memcpy(c->atr, atr, atr_len);
    c->atr_len = atr_len;
    c->raw = raw;
    c->raw_ctx = raw_ctx;
    *out = c;
    return CKR_OK;
}
