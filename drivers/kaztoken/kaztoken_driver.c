/* Kaztoken detection and the token it makes. The card is recognised by its
 * ATR alone (card-protocols.md §4: "KAZTOKEN" in the historical bytes); the
 * serial number is its identity, for the label and the per-card cache. */
#include "kaztoken.h"
#include "kaztoken_internal.h"
#include "log.h"
#include "slot_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t atr_kaztoken[] = { 0x3B, 0x88, 0x01, 0x4B, 0x41, 0x5A, 0x54,
                                        0x4F, 0x4B, 0x45, 0x4E, 0x82 };
static const kz_atr_pattern atrs[] = {
    { atr_kaztoken, NULL, sizeof(atr_kaztoken) },
};

/* What the card does itself (§3.2): raw RSA and raw GOST R 34.10-2001-style
 * signatures on 256-bit CryptoPro curves, keys made on the card; hashing and
 * padding are the host's. No GOST R 34.10-2012-512: its APDUs are unknown. */
static const CK_MECHANISM_TYPE mechs[] = {
    CKM_RSA_PKCS,
    CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS,
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_GOSTR3410, CKM_GOSTR3410_WITH_GOSTR3411, CKM_GOSTR3410_WITH_GOSTR3411_2012_256,
    CKM_GOSTR3410_KEY_PAIR_GEN,
};

static CK_RV get_info(kz_token *tok, CK_TOKEN_INFO *info)
{
    kzt *t = tok->drv;
    char label[80];
    size_t hl = strlen(t->serial_hex);

    /* The serial makes the label unique: two tokens, two NSS names. */
    snprintf(label, sizeof(label), "Kaztoken %s", t->serial_hex);
    kz_pad_field(info->label, sizeof(info->label), label);
    kz_pad_field(info->manufacturerID, sizeof(info->manufacturerID), "Aktiv");
    kz_pad_field(info->model, sizeof(info->model), "Kaztoken");
    kz_pad_field(info->serialNumber, sizeof(info->serialNumber),
                 t->serial_hex + (hl > sizeof(info->serialNumber) ? hl - sizeof(info->serialNumber) : 0));
    info->flags = CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED
                  | kzt_pin_flags(t);
    info->ulMinPinLen = t->min_len[KZT_PIN_USER] ? (CK_ULONG)t->min_len[KZT_PIN_USER] : 1;
    info->ulMaxPinLen = 32;
    return CKR_OK;
}

static CK_RV get_mechanisms(kz_token *tok, const CK_MECHANISM_TYPE **list, size_t *n)
{
    (void)tok;
    *list = mechs;
    *n = sizeof(mechs) / sizeof(mechs[0]);
    return CKR_OK;
}

static void release(kz_token *tok)
{
    kzt *t = tok->drv;

    if (!t)
        return;
    kz_card_unref(t->card);
    /* Keys still in use hold the cache, not a reason to keep the PIN. */
    kzt_pin_cache_forget(t->kept);
    kzt_pin_cache_unref(t->kept);
    free(t);
    tok->drv = NULL;
}

static const kz_token_ops ops = {
    .name = KZT_DRIVER_NAME,
    .get_info = get_info,
    .get_mechanisms = get_mechanisms,
    .login = kzt_login,
    .logout = kzt_logout_token,
    .load_model = kzt_load_model,
    .refresh = kzt_refresh,
    .sign = kzt_sign,
    .decrypt = kzt_decrypt,
    /* No C_InitToken: the card's ERASE / END OF INITIALIZATION are known
     * only by their bytes (§3.5), not by what they leave behind. */
    .init_pin = kzt_init_pin,
    .set_pin = kzt_set_pin,
    .generate_keypair = kzt_generate_keypair,
    .store_certificate = kzt_store_certificate,
    .destroy_object = kzt_destroy_object,
    .release = release,
};

static CK_RV bind(kz_card *card, kz_token *out)
{
    kzt *t = calloc(1, sizeof(*t));
    int was_reset = 0;
    CK_RV rv;

    if (!t || !(t->kept = kzt_pin_cache_new())) {
        free(t);
        return CKR_HOST_MEMORY;
    }
    t->card = card;
    t->user = KZ_NOBODY;
    rv = kz_card_begin(card, &was_reset);
    if (rv == CKR_OK) {
        rv = kzt_get_serial(card, t->serial, sizeof(t->serial), &t->serial_len);
        kz_card_end(card);
    }
    if (rv == CKR_OK && !(t->cache = kz_card_cache_for(KZT_DRIVER_NAME, t->serial, t->serial_len)))
        rv = CKR_HOST_MEMORY;
    if (rv != CKR_OK) {
        kzt_pin_cache_unref(t->kept);
        free(t);
        return rv;
    }
    for (size_t i = 0; i < t->serial_len; i++)
        snprintf(t->serial_hex + 2 * i, 3, "%02X", t->serial[i]);
    kz_card_ref(card);
    out->ops = &ops;
    out->drv = t;
    KZ_DEBUG("kaztoken %s: bound", t->serial_hex);
    return CKR_OK;
}

const kz_card_driver kz_kaztoken_driver = {
    .name = KZT_DRIVER_NAME,
    .atrs = atrs,
    .n_atrs = sizeof(atrs) / sizeof(atrs[0]),
    .bind = bind,
};
