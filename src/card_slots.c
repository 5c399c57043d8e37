#include "card_slots.h"
#include "card_internal.h"
#include "log.h"
#include "object_store.h"
#include "pcsc_context.h"
#include "slot_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char provider[] = "pcsc";
/* The pseudo-reader through which pcscd reports readers coming and going. */
static const char pnp_name[] = "\\\\?PnP?\\Notification";

/* A card whose binding failed for a passing reason (held exclusively by
 * another program, a transient error) is retried, but not more often. */
#define RETRY_MS 2000

typedef struct reader {
    char *name;
    int listed, was_listed;       /* in pcscd's list at this sync / the previous one */
    int fresh;                    /* first seen at this sync */
    DWORD state;                  /* last event state; the event counter in the high word */
    int present;                  /* a card is in the reader */
    int usable;                   /* ... powered, answering, with an ATR */
    uint8_t atr[MAX_ATR_SIZE];
    size_t atr_len;
    int changed;                  /* the card came, went or was swapped at this sync */
    kz_card *bound;               /* the card behind the slot's token (our reference) */
    int bind_final;               /* binding this card was tried and will not be again */
    struct timespec retry_after;
} reader;

static reader **readers;
static size_t n_readers;
static kz_pcsc monitor;           /* listing and querying readers */
static kz_pcsc waiter;            /* C_WaitForSlotEvent's blocking wait */
static int synced;                /* a sync has run: readers seen from now on are new */
/* pcscd went away since the last look: the cards' connections died with it,
 * whatever the new pcscd's reader states say. */
static int service_lost;
static int waiting;
static int cancelled;             /* atomic: C_Finalize wants waits to end */
static DWORD pnp_state;
static const kz_card_driver *const *drivers = kz_card_drivers;

struct kz_card_wait {
    SCARD_READERSTATE st[PCSCLITE_MAX_READERS_CONTEXTS];
    char *names[PCSCLITE_MAX_READERS_CONTEXTS];
    DWORD n;
    SCARDCONTEXT ctx;
    LONG rc;
};
/* One waiter at a time sleeps in PC/SC (others poll): a context serialises
 * its callers, and SCardCancel wakes one call. */
static kz_card_wait the_wait;

void kz_card_slots_use_drivers(const kz_card_driver *const *table)
{
    drivers = table ? table : kz_card_drivers;
}

static reader *find_reader(const char *name)
{
    for (size_t i = 0; i < n_readers; i++)
        if (strcmp(readers[i]->name, name) == 0)
            return readers[i];
    return NULL;
}

static reader *add_reader(const char *name)
{
    reader **v = realloc(readers, (n_readers + 1) * sizeof(*v));
    reader *r;

    if (!v)
        return NULL;
    readers = v;
    if (!(r = calloc(1, sizeof(*r))) || !(r->name = strdup(name))) {
        free(r);
        return NULL;
    }
    r->fresh = 1;
    readers[n_readers++] = r;
    return r;
}

static kz_slot *slot_of(const char *name)
{
    for (size_t i = 0; i < kz_slots_count(); i++) {
        kz_slot *s = kz_slots_at(i);
        if (s->provider == provider && strcmp(s->key, name) == 0)
            return s;
    }
    return NULL;
}

static void describe(const char *key, char *out, size_t len)
{
    snprintf(out, len, "%s", key);
}

static void atr_hex(const uint8_t *atr, size_t len, char *out, size_t cap)
{
    size_t p = 0;

    out[0] = '\0';
    for (size_t i = 0; i < len && p + 3 < cap; i++)
        p += (size_t)snprintf(out + p, cap - p, "%02X", atr[i]);
}

/* ---- Looking at the readers ---------------------------------------------- */

typedef struct scan {
    char **names;
    SCARD_READERSTATE *st;
    size_t n;
} scan;

static void scan_free(scan *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->st);
    memset(s, 0, sizeof(*s));
}

static int split_names(const char *msz, DWORD len, scan *s)
{
    size_t n = 0;

    for (const char *p = msz; p < msz + len && *p; p += strlen(p) + 1)
        n++;
    if (n > PCSCLITE_MAX_READERS_CONTEXTS)
        n = PCSCLITE_MAX_READERS_CONTEXTS;
    s->names = calloc(n ? n : 1, sizeof(*s->names));
    s->st = calloc(n ? n : 1, sizeof(*s->st));
    if (!s->names || !s->st)
        return -1;
    for (const char *p = msz; s->n < n; p += strlen(p) + 1) {
        if (!(s->names[s->n] = strdup(p)))
            return -1;
        s->st[s->n].szReader = s->names[s->n];
        s->st[s->n].dwCurrentState = SCARD_STATE_UNAWARE;
        s->n++;
    }
    return 0;
}

/* pcscd's readers and their states now. Leaves s empty when there are no
 * readers or pcscd cannot be reached. */
static void scan_readers(scan *s)
{
    memset(s, 0, sizeof(*s));
    /* More than one attempt: the first may find the context dead (pcscd
     * restarted) or a reader gone between listing and querying. */
    for (int attempt = 0; attempt < 3; attempt++) {
        SCARDCONTEXT ctx;
        LPSTR msz = NULL;
        DWORD len = SCARD_AUTOALLOCATE;
        LONG rc;
        int bad;

        if (kz_pcsc_get(&monitor, &ctx) != CKR_OK)
            return;
        rc = SCardListReaders(ctx, NULL, (LPSTR)&msz, &len);
        if (rc == SCARD_E_NO_READERS_AVAILABLE)
            return;
        if (rc != SCARD_S_SUCCESS) {
            if (kz_pcsc_check(&monitor, rc)) {
                service_lost = 1;
                continue;
            }
            KZ_DEBUG("pcsc: SCardListReaders: %s", kz_pcsc_name(rc));
            return;
        }
        bad = split_names(msz, len, s);
        SCardFreeMemory(ctx, msz);
        if (bad) {
            scan_free(s);
            return;
        }
        /* All UNAWARE: the call returns the present state at once. */
        rc = SCardGetStatusChange(ctx, 0, s->st, (DWORD)s->n);
        if (rc == SCARD_S_SUCCESS || rc == SCARD_E_TIMEOUT)
            return;
        scan_free(s);
        if (rc == SCARD_E_UNKNOWN_READER)
            continue;
        if (kz_pcsc_check(&monitor, rc)) {
            service_lost = 1;
            continue;
        }
        KZ_DEBUG("pcsc: SCardGetStatusChange: %s", kz_pcsc_name(rc));
        return;
    }
}

static void forget_card(reader *r)
{
    r->bind_final = 0;
    r->retry_after.tv_sec = 0;
    r->retry_after.tv_nsec = 0;
}

static void observe(reader *r, const SCARD_READERSTATE *st)
{
    DWORD ev = st->dwEventState;
    size_t atr_len = st->cbAtr <= MAX_ATR_SIZE ? st->cbAtr : 0;
    int present = (ev & SCARD_STATE_PRESENT) && !(ev & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE));
    /* The event counter in the high word moves on every insertion and
     * removal: a card swapped between two looks differs there. */
    int changed = present != r->present
                  || (present && (service_lost || (ev >> 16) != (r->state >> 16) || atr_len != r->atr_len
                                  || memcmp(st->rgbAtr, r->atr, atr_len) != 0));

    if (changed) {
        KZ_DEBUG("%s: card %s", r->name, present ? "inserted" : "removed");
        forget_card(r);
        /* A reader's first appearance is an event of its own. */
        if (!r->fresh)
            r->changed = 1;
    }
    r->state = ev & ~(DWORD)SCARD_STATE_CHANGED;
    r->present = present;
    r->usable = present && !(ev & SCARD_STATE_MUTE) && atr_len > 0;
    memcpy(r->atr, st->rgbAtr, atr_len);
    r->atr_len = atr_len;
}

static void observe_gone(reader *r)
{
    if (r->was_listed)
        KZ_DEBUG("%s: reader gone", r->name);
    if (r->present)
        r->changed = 1;
    forget_card(r);
    r->state = 0;
    r->present = r->usable = 0;
    r->atr_len = 0;
}

/* ---- Tokens ---------------------------------------------------------------- */

static int due(const reader *r)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > r->retry_after.tv_sec
           || (now.tv_sec == r->retry_after.tv_sec && now.tv_nsec >= r->retry_after.tv_nsec);
}

static void retry_later(reader *r)
{
    clock_gettime(CLOCK_MONOTONIC, &r->retry_after);
    r->retry_after.tv_nsec += (long)(RETRY_MS % 1000) * 1000000L;
    r->retry_after.tv_sec += RETRY_MS / 1000 + r->retry_after.tv_nsec / 1000000000L;
    r->retry_after.tv_nsec %= 1000000000L;
}

static int passing(CK_RV rv)
{
    return rv == CKR_DEVICE_ERROR || rv == CKR_FUNCTION_CANCELED || rv == CKR_HOST_MEMORY
           || rv == KZ_CKR_CARD_RESET;
}

static CK_RV bind_drivers(kz_card *card, kz_token *out, const char **name)
{
    size_t atr_len, pos = 0;
    const uint8_t *atr = kz_card_atr(card, &atr_len);
    const kz_card_driver *d;
    CK_RV rv = CKR_TOKEN_NOT_RECOGNIZED;

    /* By the connected card's ATR: the card may have been swapped since
     * the reader's state was read. */
    while (rv == CKR_TOKEN_NOT_RECOGNIZED && (d = kz_card_driver_next(drivers, atr, atr_len, &pos))) {
        memset(out, 0, sizeof(*out));
        rv = d->bind(card, out);
        *name = d->name;
    }
    if (rv != CKR_OK)
        memset(out, 0, sizeof(*out));
    return rv;
}

/* kz_slots_sync's factory: the token for the card in reader `key`. */
static CK_RV make_token(const char *key, void *ctx, kz_token *out)
{
    reader *r = find_reader(key);
    const char *driver = "?";
    size_t pos = 0;
    char atr[2 * MAX_ATR_SIZE + 1];
    kz_card *card;
    CK_RV rv;

    (void)ctx;
    if (!r || !r->usable)
        return CKR_TOKEN_NOT_PRESENT;
    if (r->bind_final || !due(r))
        return CKR_TOKEN_NOT_RECOGNIZED;
    if (!kz_card_driver_next(drivers, r->atr, r->atr_len, &pos)) {
        /* Not even connected to: the card is some other software's. */
        atr_hex(r->atr, r->atr_len, atr, sizeof(atr));
        KZ_DEBUG("%s: no driver for ATR %s: no token", r->name, atr);
        r->bind_final = 1;
        return CKR_TOKEN_NOT_RECOGNIZED;
    }
    if (r->state & SCARD_STATE_EXCLUSIVE) {
        KZ_DEBUG("%s: card held exclusively by another program; later", r->name);
        retry_later(r);
        return CKR_DEVICE_ERROR;
    }
    rv = kz_card_connect(r->name, &card);
    if (rv == CKR_OK) {
        rv = bind_drivers(card, out, &driver);
        if (rv == CKR_OK) {
            /* The previous card's token is gone (the slot is empty when
             * this is called); so is our reason to hold that card. */
            kz_card_unref(r->bound);
            r->bound = card;
            KZ_DEBUG("%s: token by driver %s", r->name, driver);
            return CKR_OK;
        }
        kz_card_unref(card);
    }
    KZ_DEBUG("%s: no token: %s", r->name, rv == KZ_CKR_CARD_RESET ? "card reset" : kz_rv_name(rv));
    if (passing(rv))
        retry_later(r);
    else
        r->bind_final = 1;
    return rv == KZ_CKR_CARD_RESET ? CKR_DEVICE_ERROR : rv;
}

static void drop_login(kz_slot *s)
{
    KZ_DEBUG("slot %lu: the card lost its login (a reset, or another program's logout): logged out",
             (unsigned long)s->id);
    if (s->token.ops->logout)
        s->token.ops->logout(&s->token);
    s->user = KZ_NOBODY;
    kz_objects_destroy_where(s->id, 0);
    s->objects_built = 0;
}

void kz_card_slots_check_logins(void)
{
    for (size_t i = 0; i < n_readers; i++) {
        reader *r = readers[i];
        kz_slot *s;

        if (!r->bound || !kz_card_take_login_lost(r->bound))
            continue;
        s = slot_of(r->name);
        if (s && s->present && s->user != KZ_NOBODY)
            drop_login(s);
    }
}

void kz_card_slots_sync(void)
{
    scan sc;

    scan_readers(&sc);
    for (size_t i = 0; i < n_readers; i++) {
        readers[i]->was_listed = readers[i]->listed;
        readers[i]->listed = readers[i]->changed = readers[i]->fresh = 0;
    }
    for (size_t i = 0; i < sc.n; i++) {
        reader *r = find_reader(sc.names[i]);
        if (!r && !(r = add_reader(sc.names[i])))
            continue;
        r->listed = 1;
        observe(r, &sc.st[i]);
    }
    for (size_t i = 0; i < n_readers; i++)
        if (!readers[i]->listed)
            observe_gone(readers[i]);
    /* Once the readers were seen through the new pcscd; with no pcscd yet,
     * the next look still has to treat its cards as new. */
    if (sc.n)
        service_lost = 0;

    /* A card that left or was swapped takes its token along (its sessions
     * are closed); kz_slots_sync below only drops the tokens of readers
     * that left. */
    for (size_t i = 0; i < n_readers; i++) {
        reader *r = readers[i];
        kz_slot *s;
        if ((r->changed || !r->usable) && (s = slot_of(r->name)) && s->present)
            kz_slot_remove_token(s);
    }
    kz_slots_sync(provider, sc.names, sc.n, make_token, NULL, describe);

    for (size_t i = 0; i < n_readers; i++) {
        reader *r = readers[i];
        kz_slot *s = slot_of(r->name);

        if (r->bound && !(s && s->present)) {
            kz_card_unref(r->bound);
            r->bound = NULL;
        }
        if (!s)
            continue;
        s->flags |= CKF_HW_SLOT;
        /* Events the slot table does not raise itself: a reader that came
         * (back) or went, a card without a token that came or went. */
        if ((synced && r->listed != r->was_listed) || r->changed)
            s->event = 1;
    }
    synced = 1;
    kz_card_slots_check_logins();
    scan_free(&sc);
}

/* ---- Waiting ----------------------------------------------------------- */

static void wait_clear(kz_card_wait *w)
{
    for (DWORD i = 0; i < w->n; i++)
        free(w->names[i]);
    memset(w, 0, sizeof(*w));
}

kz_card_wait *kz_card_slots_wait_prepare(void)
{
    kz_card_wait *w = &the_wait;
    size_t listed = 0;

    if (waiting || __atomic_load_n(&cancelled, __ATOMIC_ACQUIRE))
        return NULL;
    for (size_t i = 0; i < n_readers; i++)
        listed += readers[i]->listed;
    if (listed + 1 > PCSCLITE_MAX_READERS_CONTEXTS)
        return NULL;
    if (kz_pcsc_get(&waiter, &w->ctx) != CKR_OK)
        return NULL;
    w->n = 0;
    for (size_t i = 0; i < n_readers; i++) {
        reader *r = readers[i];
        if (!r->listed)
            continue;
        if (!(w->names[w->n] = strdup(r->name))) {
            wait_clear(w);
            return NULL;
        }
        w->st[w->n].szReader = w->names[w->n];
        /* What the last look saw; UNAWARE would return at once. */
        w->st[w->n].dwCurrentState = r->state ? r->state : SCARD_STATE_EMPTY;
        w->n++;
    }
    w->st[w->n].szReader = pnp_name;
    w->st[w->n].dwCurrentState = pnp_state;
    w->n++;
    waiting = 1;
    return w;
}

int kz_card_slots_wait(kz_card_wait *w, int ms)
{
    if (!w)
        return 0;
    /* C_Finalize may have cancelled before this thread got here. */
    if (__atomic_load_n(&cancelled, __ATOMIC_ACQUIRE))
        return 1;
    w->rc = SCardGetStatusChange(w->ctx, (DWORD)ms, w->st, w->n);
    switch (w->rc) {
    case SCARD_S_SUCCESS:
    case SCARD_E_TIMEOUT:
    case SCARD_E_CANCELLED:
    case SCARD_E_UNKNOWN_READER:        /* a reader left after the last look */
        return 1;
    default:
        return 0;
    }
}

void kz_card_slots_wait_done(kz_card_wait *w)
{
    if (!w)
        return;
    /* pcsc-lite 2.3 and later count reader-list changes in the PnP entry's
     * high word; earlier versions leave it 0, which they ignore. */
    if (w->rc == SCARD_S_SUCCESS || w->rc == SCARD_E_TIMEOUT)
        pnp_state = w->st[w->n - 1].dwEventState & 0xFFFF0000u;
    if (w->rc != SCARD_S_SUCCESS && w->rc != SCARD_E_TIMEOUT && w->rc != SCARD_E_CANCELLED)
        KZ_DEBUG("pcsc: waiting for events: %s", kz_pcsc_name(w->rc));
    kz_pcsc_check(&waiter, w->rc);
    wait_clear(w);
    waiting = 0;
}

void kz_card_slots_cancel_wait(void)
{
    __atomic_store_n(&cancelled, 1, __ATOMIC_RELEASE);
    if (waiting)
        kz_pcsc_cancel(&waiter);
}

void kz_card_slots_fini(void)
{
    for (size_t i = 0; i < n_readers; i++) {
        kz_card_unref(readers[i]->bound);
        free(readers[i]->name);
        free(readers[i]);
    }
    free(readers);
    readers = NULL;
    n_readers = 0;
    kz_pcsc_release(&monitor);
    kz_pcsc_release(&waiter);
    wait_clear(&the_wait);
    synced = waiting = service_lost = 0;
    pnp_state = 0;
    __atomic_store_n(&cancelled, 0, __ATOMIC_RELEASE);
}
