/* Reader slots: the slot provider for PC/SC readers, beside the soft
 * token's. One slot per reader (CKF_HW_SLOT, CKF_REMOVABLE_DEVICE), keyed
 * by the reader's name, so its ID is fixed for the module's lifetime: a
 * reader that goes away leaves an empty slot, the same reader coming back
 * gets that slot again, a new reader a new ID. A token is present while a
 * card that a driver recognises is in the reader.
 *
 * A card no driver recognises shows no token: the slot stays empty (no
 * CKF_TOKEN_PRESENT), C_WaitForSlotEvent still reports its insertion and
 * removal on that slot, and the card itself is never connected to. Such a
 * card is usually another middleware's (an ID card read as a passport, a
 * bank card), and a token whose every call failed with
 * CKR_TOKEN_NOT_RECOGNIZED would break the token listings of NSS,
 * p11-kit and pkcs11-tool.
 *
 * No threads: the readers are looked at when the core rescans
 * (C_GetSlotList, each round of C_WaitForSlotEvent), and a blocking
 * C_WaitForSlotEvent sleeps inside SCardGetStatusChange, so a card or
 * reader event wakes it at once; C_Finalize wakes it with SCardCancel. */
#ifndef KZP11_CARD_SLOTS_H
#define KZP11_CARD_SLOTS_H

#include "card_drivers.h"

/* Brings the reader slots up to date: readers that came or went, cards
 * inserted, removed or swapped (token removed: its sessions are closed and
 * later calls on them get CKR_SESSION_HANDLE_INVALID), logins lost to a
 * reset. Module lock held. Never waits for a card event; talks to pcscd
 * (establishing the context on first use) and, for a newly inserted card
 * a driver claims, to the card. With pcscd absent the reader slots are
 * simply empty. */
void kz_card_slots_sync(void);

/* Logs out the slots whose card was reset while logged in (no I/O beyond
 * the driver's logout). Module lock held. */
void kz_card_slots_check_logins(void);

/* Waiting for a reader or card event (C_WaitForSlotEvent):
 * kz_card_slots_wait_prepare (module lock held) says what to wait on, NULL
 * when PC/SC cannot be waited on now (pcscd absent; another thread is
 * already waiting on it); kz_card_slots_wait (module lock released) waits
 * up to ms and returns 1, or 0 when it could not wait (the caller sleeps
 * instead); kz_card_slots_wait_done (module lock held) ends it. */
typedef struct kz_card_wait kz_card_wait;
kz_card_wait *kz_card_slots_wait_prepare(void);
int kz_card_slots_wait(kz_card_wait *w, int ms);
void kz_card_slots_wait_done(kz_card_wait *w);
/* Makes a kz_card_slots_wait in progress return now (C_Finalize). Module
 * lock held. */
void kz_card_slots_cancel_wait(void);

/* Forgets the readers and releases the PC/SC contexts (C_Finalize, after
 * the slots are freed; in a forked child, without talking to pcscd).
 * Module lock held or the module single-threaded by then. */
void kz_card_slots_fini(void);

/* Tests: replaces the driver table (NULL: the built-in one). */
void kz_card_slots_use_drivers(const kz_card_driver *const *table);

#endif
