/* The host side of kz_card: what the reader layer and the unit tests use,
 * and drivers do not. */
#ifndef KZP11_CARD_INTERNAL_H
#define KZP11_CARD_INTERNAL_H

#include "apdu_exchange.h"
#include "card.h"

/* Connects (shared, T=0 or T=1) to the card in the named reader, in a
 * PC/SC context of the card's own: a blocking call on the reader layer's
 * context never holds up a signature. */
CK_RV kz_card_connect(const char *reader, kz_card **out);

/* Unit tests only: a card whose transmissions go to `raw` instead of
 * SCardTransmit; transactions and reconnects are no-ops. raw may return
 * KZ_CKR_CARD_RESET or CKR_DEVICE_REMOVED to play those events. */
CK_RV kz_card_new_fake(const char *name, int proto, const uint8_t *atr, size_t atr_len,
                       kz_raw_transmit raw, void *raw_ctx, kz_card **out);

/* 1 once after a reset made the card forget a login (see
 * kz_card_set_logged_in), else 0. For the reader layer, which then logs
 * the slot out. */
int kz_card_take_login_lost(kz_card *c);

#endif
