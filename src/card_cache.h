/* What drivers read from cards, kept per card for the module's lifetime so
 * that a card seen before (in another session, or pulled out and put back)
 * is not read again. A card is known by its driver and serial number; each
 * entry is one piece of the card's content (a file, as the driver numbers
 * it) at a version the driver reads cheaply from the card: a different
 * version on the card means the cached bytes are stale.
 *
 * Public data only (certificates, public keys, object lists): nothing a
 * card protects with a PIN is ever put here. Callers hold the module lock. */
#ifndef KZP11_CARD_CACHE_H
#define KZP11_CARD_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "pkcs11_types.h"

typedef struct kz_card_cache kz_card_cache;

/* The cache of that card, created empty on first use; NULL when out of
 * memory. It stays valid until kz_card_cache_clear_all. */
kz_card_cache *kz_card_cache_for(const char *driver, const uint8_t *serial, size_t serial_len);

/* 1 and the cached bytes (valid until the entry changes) when the cache
 * holds `file` at exactly `version`; 0 otherwise. */
int kz_card_cache_get(kz_card_cache *c, uint32_t file, uint32_t version, const uint8_t **data,
                      size_t *len);
/* Stores (or replaces) `file` at `version`. CKR_OK or CKR_HOST_MEMORY. */
CK_RV kz_card_cache_put(kz_card_cache *c, uint32_t file, uint32_t version, const uint8_t *data,
                        size_t len);
void kz_card_cache_forget(kz_card_cache *c, uint32_t file);
/* The card moved `file` to a new version without changing its bytes:
 * keeps them under `to` if they were cached at `from`. */
void kz_card_cache_restamp(kz_card_cache *c, uint32_t file, uint32_t from, uint32_t to);

/* C_Finalize: every card's cache goes. */
void kz_card_cache_clear_all(void);

#endif
