/* A connected card, as a driver sees it: APDUs in, responses out, PC/SC out
 * of sight. The reader layer connects the card and hands it to the driver
 * that matched its ATR (card_drivers.h); the driver keeps it with
 * kz_card_ref for as long as its token and keys live.
 *
 * Threads: a card serialises its users. An operation of more than one APDU
 * (SELECT + VERIFY, MSE + PSO) runs between kz_card_begin and kz_card_end:
 * a PC/SC transaction, so neither another thread nor another program gets
 * between its commands. A kz_card_transmit outside begin/end is a
 * transaction of its own. The core calls sign and decrypt without the
 * module lock, relying on exactly this.
 *
 * Errors come back as CK_RVs: CKR_DEVICE_REMOVED once the card (or its
 * reader, or pcscd) is gone, and it stays gone: a card put back is a new
 * kz_card. A reset is reported, never hidden: see kz_card_begin and
 * KZ_CKR_CARD_RESET. */
#ifndef KZP11_CARD_H
#define KZP11_CARD_H

#include "apdu.h"
#include "card_rv.h"

typedef struct kz_card kz_card;

kz_card *kz_card_ref(kz_card *c);
void kz_card_unref(kz_card *c);

const char *kz_card_reader(const kz_card *c);
const uint8_t *kz_card_atr(const kz_card *c, size_t *len);
int kz_card_protocol(const kz_card *c);            /* KZ_PROTO_T0 / KZ_PROTO_T1 */
/* Extended lengths are off until the driver, which knows its card and
 * reader, turns them on (T=1 only). */
void kz_card_set_extended(kz_card *c, int on);

/* Starts a transaction. On CKR_OK the caller owns the card until
 * kz_card_end, and *was_reset (may be NULL) tells whether the card was
 * reset since the previous kz_card_begin: it then forgot its selected
 * application, verified PINs and security environment, and the driver
 * selects again and treats itself as logged out. Nests within one thread
 * (only the outermost reports a reset). */
CK_RV kz_card_begin(kz_card *c, int *was_reset);
void kz_card_end(kz_card *c);

/* One command and its response; the transport handles the protocol (case
 * encoding, T=0 GET RESPONSE and 6C xx, chaining with KZ_APDU_CHAIN,
 * extended lengths when enabled). CKR_OK whatever the status word (in
 * r->sw); KZ_CKR_CARD_RESET when the card was reset during it (the card is
 * reconnected; the operation must start over or report the lost login
 * through kz_card_public_rv); CKR_DEVICE_REMOVED, CKR_DEVICE_ERROR,
 * CKR_DATA_LEN_RANGE (cannot be encoded for this card). */
CK_RV kz_card_transmit(kz_card *c, const kz_apdu *a, kz_rapdu *r);
/* kz_card_transmit, then the status word through kz_sw_rv: CKR_OK only
 * for 90 00. r->sw stays available for the driver's own reading. */
CK_RV kz_card_command(kz_card *c, const kz_apdu *a, kz_rapdu *r);

/* Tells the transport whether the card holds a verified PIN now (after a
 * successful VERIFY; after LOGOUT). A reset while it does is reported to
 * the core, which drops the slot's login instead of claiming one the card
 * no longer has. */
void kz_card_set_logged_in(kz_card *c, int on);
/* The card answered as if no PIN were verified (another program logged it
 * out): reported to the core like a reset's lost login. */
void kz_card_login_lost(kz_card *c);

#endif
