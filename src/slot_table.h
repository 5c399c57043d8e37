/* Slots. A slot's ID is fixed for the module's lifetime and is never given
 * to anything else: a container file (or, later, a reader) keeps its slot
 * when it goes and comes back, and a new one gets a new ID. The list never
 * shrinks while the module is loaded, so NSS's slot caches stay valid. */
#ifndef KZP11_SLOT_TABLE_H
#define KZP11_SLOT_TABLE_H

#include <stddef.h>
#include "token.h"

#define KZ_NOBODY ((CK_USER_TYPE)-1)

typedef struct kz_slot {
    CK_SLOT_ID id;
    const char *provider;         /* who manages this slot (static string) */
    char *key;                    /* what the slot shows: a file path, a reader name */
    char description[65];         /* NUL-terminated; blank-padded on output */
    void (*describe)(const char *key, char *out, size_t len);   /* the provider's */
    CK_FLAGS flags;               /* the provider's CK_SLOT_INFO flags (CKF_HW_SLOT) */
    int present;
    int event;                    /* presence changed since the last C_WaitForSlotEvent */
    kz_token token;               /* ops == NULL when absent */
    CK_USER_TYPE user;            /* KZ_NOBODY, CKU_USER or CKU_SO */
    CK_ULONG sessions, rw_sessions;
    int objects_built;            /* token objects exist for the current login state */
} kz_slot;

/* Creates a token for `key`; returns CKR_OK and fills *out. */
typedef CK_RV (*kz_token_factory)(const char *key, void *ctx, kz_token *out);

kz_slot *kz_slots_get(CK_SLOT_ID id);
size_t kz_slots_count(void);
kz_slot *kz_slots_at(size_t i);

/* Makes the provider's present slots exactly `keys`: new keys get slots (or
 * their old absent slot back), slots whose key is gone become absent. */
CK_RV kz_slots_sync(const char *provider, char *const *keys, size_t n,
                    kz_token_factory make, void *ctx,
                    void (*describe)(const char *key, char *out, size_t len));
/* Takes the token out of a slot: sessions closed, objects destroyed. */
void kz_slot_remove_token(kz_slot *s);
void kz_slots_free_all(void);

#endif
