/* The one place where PC/SC results and ISO 7816 status words become
 * CK_RVs, so that every driver reports the same condition the same way and
 * the application sees PKCS#11's codes, never PC/SC's. */
#ifndef KZP11_CARD_RV_H
#define KZP11_CARD_RV_H

#include <stdint.h>
#include "pkcs11_types.h"

/* The card was reset (by another program, or a power glitch) while a
 * driver was using it: it has been reconnected and takes commands again,
 * but it forgot verified PINs, the selected file and the security
 * environment. kz_card_transmit returns this so the driver stops the
 * operation it was in the middle of; it is a private value that drivers
 * must never pass to the core (kz_card_public_rv does the mapping). */
#define KZ_CKR_CARD_RESET (CKR_VENDOR_DEFINED | 0x4b5a0101UL)

/* A PC/SC result (LONG) as a CK_RV. SCARD_W_RESET_CARD gives
 * KZ_CKR_CARD_RESET; the card layer handles it before anyone sees it. */
CK_RV kz_pcsc_rv(long rc);

/* Did pcscd go away (stopped, restarted) so that the context or handle
 * that returned rc is useless and must be established again? */
int kz_pcsc_service_lost(long rc);

/* A status word, read the ISO 7816-4 way (90 00 is CKR_OK). Drivers handle
 * their card's own codes first and hand the rest to this. */
CK_RV kz_sw_rv(uint16_t sw);

/* What a driver returns to the core for a transport result: the private
 * reset code becomes CKR_USER_NOT_LOGGED_IN when the card held a login
 * (it is gone now), else CKR_DEVICE_ERROR; anything else passes through. */
CK_RV kz_card_public_rv(CK_RV rv, int had_login);

/* Short names for the debug log. */
const char *kz_pcsc_name(long rc);

#endif
