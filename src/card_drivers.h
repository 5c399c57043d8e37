/* Card drivers, and how a card finds its driver: by its ATR first (no I/O),
 * then by the driver's own look at the card (bind), which may still say
 * "not mine". Adding a driver = one entry in kz_card_drivers[]
 * (card_drivers.c). */
#ifndef KZP11_CARD_DRIVERS_H
#define KZP11_CARD_DRIVERS_H

#include "card.h"
#include "token.h"

/* An ATR the driver claims: the card's ATR matches when it has the same
 * length and agrees on every bit set in mask (NULL mask: every bit). */
typedef struct kz_atr_pattern {
    const uint8_t *atr;
    const uint8_t *mask;
    size_t len;
} kz_atr_pattern;

typedef struct kz_card_driver {
    const char *name;
    const kz_atr_pattern *atrs;
    size_t n_atrs;
    /* Makes the token for a connected card whose ATR matched. Runs under
     * the module lock from C_GetSlotList / C_WaitForSlotEvent, so it reads
     * only what the token's get_info needs, in one transaction. Takes its
     * own reference to the card (kz_card_ref) on success.
     * CKR_TOKEN_NOT_RECOGNIZED: not this driver's card after all (the
     * next matching driver is tried); other errors: the card is ours but
     * unusable now, retried when the card changes or stops refusing. */
    CK_RV (*bind)(kz_card *card, kz_token *out);
} kz_card_driver;

/* The drivers, in the order they are tried; NULL-terminated. */
extern const kz_card_driver *const kz_card_drivers[];

int kz_atr_match(const kz_atr_pattern *p, const uint8_t *atr, size_t len);
/* The next driver (from *pos, which it advances) whose ATR list matches;
 * NULL when none is left. Start with *pos = 0. */
const kz_card_driver *kz_card_driver_next(const kz_card_driver *const *table,
                                          const uint8_t *atr, size_t len, size_t *pos);

#endif
