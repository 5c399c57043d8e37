#include "card_drivers.h"
#include "kaztoken.h"

/* A card no driver here knows shows as a reader slot without a token. */
const kz_card_driver *const kz_card_drivers[] = {
    &kz_kaztoken_driver,
    NULL,
};

int kz_atr_match(const kz_atr_pattern *p, const uint8_t *atr, size_t len)
{
    if (p->len != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t m = p->mask ? p->mask[i] : 0xFF;
        if ((atr[i] & m) != (p->atr[i] & m))
            return 0;
    }
    return 1;
}

const kz_card_driver *kz_card_driver_next(const kz_card_driver *const *table,
                                          const uint8_t *atr, size_t len, size_t *pos)
{
    for (; table[*pos]; (*pos)++) {
        const kz_card_driver *d = table[*pos];
        for (size_t i = 0; i < d->n_atrs; i++)
            if (kz_atr_match(&d->atrs[i], atr, len)) {
                (*pos)++;
                return d;
            }
    }
    return NULL;
}
