/* The user PIN (reference 02) and the administrator PIN (01, PKCS#11's SO)
 * of a Kaztoken. The card tells how many tries are left only in its answer
 * to VERIFY (§3.5): a failed one, or one without a PIN (a status query,
 * which does not spend a try). */
#include "kaztoken_internal.h"
#include "log.h"
#include "slot_table.h"

#include <stdlib.h>
#include <string.h>

#define PIN_MAX 32

static uint8_t pin_ref(CK_USER_TYPE user)
{
    return user == CKU_SO ? KZT_PIN_SO : KZT_PIN_USER;
}

/* The PIN's limits from its key-object attributes (tag 85: minimum length
 * in byte 1, tries in byte 3, §3.4), read once. Cards that do not let the
 * PIN object be selected leave them unknown (0). */
static void pin_limits(kzt *t, uint8_t ref)
{
    const uint16_t path[1] = { ref };
    kzt_fcp fcp;

    if (t->max_tries[ref] || kzt_select(t->card, path, 1, &fcp) != CKR_OK || !fcp.has_prop)
        return;
    t->min_len[ref] = fcp.prop[1] <= PIN_MAX ? fcp.prop[1] : PIN_MAX;
    t->max_tries[ref] = fcp.prop[3] & 0x0F;
}

static CK_RV check_length(kzt *t, uint8_t ref, CK_ULONG len)
{
    int min = t->min_len[ref] ? t->min_len[ref] : 1;

    /* Refused here, a PIN of the wrong length would still cost a try. */
    return len < (CK_ULONG)min || len > PIN_MAX ? CKR_PIN_LEN_RANGE : CKR_OK;
}

/* VERIFY and what the card's answer means. */
static CK_RV verify(kzt *t, uint8_t ref, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    uint16_t sw = 0;
    CK_RV rv = kzt_verify(t->card, ref, pin, len, &sw);

    /* 6F 86 is undocumented; OpenSC logs out and tries once more (§3.5). */
    if (rv == CKR_OK && sw == 0x6F86 && (rv = kzt_logout(t->card)) == CKR_OK)
        rv = kzt_verify(t->card, ref, pin, len, &sw);
    /* 63 00: failed, count not given: the status query tells it. */
    if (rv == CKR_OK && sw == 0x6300 && kzt_verify(t->card, ref, NULL, 0, &sw) == CKR_OK && sw == 0x9000)
        sw = 0x6300;
    if (rv != CKR_OK)
        return rv;
    if (sw == 0x9000 || kz_sw1(sw) == 0x63 || sw == 0x6983)
        return kz_sw_rv(sw);
    return CKR_DEVICE_ERROR;
}

/* ---- The kept PIN ----------------------------------------------------------- */

kzt_pin_cache *kzt_pin_cache_new(void)
{
    kzt_pin_cache *l = calloc(1, sizeof(*l));

    if (l) {
        l->refs = 1;
        pthread_mutex_init(&l->lock, NULL);
    }
    return l;
}

kzt_pin_cache *kzt_pin_cache_ref(kzt_pin_cache *l)
{
    __atomic_fetch_add(&l->refs, 1, __ATOMIC_RELAXED);
    return l;
}

void kzt_pin_cache_unref(kzt_pin_cache *l)
{
    if (!l || __atomic_fetch_sub(&l->refs, 1, __ATOMIC_ACQ_REL) != 1)
        return;
    kz_secret_clear(&l->pin);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static void keep_pin(kzt_pin_cache *l, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    pthread_mutex_lock(&l->lock);
    /* Out of memory: no PIN kept, which only costs the re-login. */
    if (!pin || kz_secret_set(&l->pin, pin, len) != 0)
        kz_secret_clear(&l->pin);
    pthread_mutex_unlock(&l->lock);
}

void kzt_pin_cache_forget(kzt_pin_cache *l)
{
    keep_pin(l, NULL, 0);
}

CK_RV kzt_login_again(kzt_pin_cache *l, kz_card *c)
{
    CK_RV rv = CKR_USER_NOT_LOGGED_IN;
    uint16_t sw = 0;

    pthread_mutex_lock(&l->lock);
    if (l->pin.len && kzt_verify(c, KZT_PIN_USER, l->pin.data, l->pin.len, &sw) == CKR_OK && sw == 0x9000)
        rv = CKR_OK;
    else
        kz_secret_clear(&l->pin);
    pthread_mutex_unlock(&l->lock);
    return rv;
}

static void logged_in(kzt *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    t->user = user;
    keep_pin(t->kept, user == CKU_USER ? pin : NULL, len);
    kz_card_set_logged_in(t->card, user != KZ_NOBODY);
}

CK_RV kzt_login(kz_token *tok, CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    kzt *t = tok->drv;
    uint8_t ref = pin_ref(user);
    CK_RV rv = kzt_begin(t);

    if (rv != CKR_OK)
        return kzt_rv(t, rv);
    pin_limits(t, ref);
    if ((rv = check_length(t, ref, len)) == CKR_OK)
        rv = verify(t, ref, pin, len);
    if (rv == CKR_OK)
        logged_in(t, user, pin, len);
    kz_card_end(t->card);
    KZ_DEBUG("kaztoken %s: login: %s", t->serial_hex, kz_rv_name(rv));
    return kzt_rv(t, rv);
}

CK_RV kzt_logout_token(kz_token *tok)
{
    kzt *t = tok->drv;
    CK_RV rv = kzt_begin(t);

    /* The kept PIN goes first, inside the transaction: a signature running
     * beside this must not log the card in again after our LOGOUT. The core
     * forgets the login whatever the card says: a card that did not hear
     * this LOGOUT lost the login some other way (removed, reset). */
    logged_in(t, KZ_NOBODY, NULL, 0);
    if (rv == CKR_OK) {
        rv = kzt_logout(t->card);
        kz_card_end(t->card);
    }
    return rv == CKR_OK || rv == KZ_CKR_CARD_RESET || rv == CKR_DEVICE_REMOVED ? CKR_OK : rv;
}

CK_RV kzt_set_pin(kz_token *tok, CK_USER_TYPE user, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                  const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
    kzt *t = tok->drv;
    /* Not logged in: C_SetPIN changes the user PIN. */
    uint8_t ref = pin_ref(user);
    CK_RV rv = kzt_begin(t);

    if (rv != CKR_OK)
        return kzt_rv(t, rv);
    pin_limits(t, ref);
    rv = check_length(t, ref, new_len);
    /* The card takes the new value on the PIN's own authority: the old
     * one is verified first (§3.5), also when already logged in. */
    if (rv == CKR_OK && (rv = check_length(t, ref, old_len)) != CKR_OK)
        rv = CKR_PIN_INCORRECT;
    if (rv == CKR_OK)
        rv = verify(t, ref, old_pin, old_len);
    if (rv == CKR_OK)
        rv = kzt_set_reference(t->card, ref, new_pin, new_len);
    if (rv == CKR_OK && user == CKU_USER)
        keep_pin(t->kept, new_pin, new_len);
    /* A session that was not logged in must not leave the card logged in. */
    if (user == KZ_NOBODY && kzt_logout(t->card) != CKR_OK)
        KZ_DEBUG("kaztoken %s: logout after the PIN change failed", t->serial_hex);
    kz_card_end(t->card);
    KZ_DEBUG("kaztoken %s: PIN change: %s", t->serial_hex, kz_rv_name(rv));
    return kzt_rv(t, rv);
}

CK_RV kzt_init_pin(kz_token *tok, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    kzt *t = tok->drv;
    CK_RV rv = kzt_begin(t);

    if (rv != CKR_OK)
        return kzt_rv(t, rv);
    pin_limits(t, KZT_PIN_USER);
    rv = check_length(t, KZT_PIN_USER, len);
    /* Unblock, then the new value, both on the SO's authority. */
    if (rv == CKR_OK)
        rv = kzt_reset_retry_counter(t->card, KZT_PIN_USER);
    if (rv == CKR_OK)
        rv = kzt_set_reference(t->card, KZT_PIN_USER, pin, len);
    kz_card_end(t->card);
    KZ_DEBUG("kaztoken %s: PIN reset by the SO: %s", t->serial_hex, kz_rv_name(rv));
    return kzt_rv(t, rv);
}

/* The flags of one PIN; low: COUNT_LOW, final: FINAL_TRY, locked: LOCKED. */
static CK_FLAGS one_pin(kzt *t, uint8_t ref, CK_FLAGS low, CK_FLAGS final, CK_FLAGS locked)
{
    uint16_t sw = 0;
    int left;

    if (kzt_verify(t->card, ref, NULL, 0, &sw) != CKR_OK)
        return 0;
    if (sw == 0x6983)
        return locked;
    if ((left = kz_sw_tries_left(sw)) < 0)
        return 0;          /* verified (90 00), or no count given */
    if (left == 0)
        return locked;
    if (left == 1)
        return final;
    pin_limits(t, ref);
    return t->max_tries[ref] && left < t->max_tries[ref] ? low : 0;
}

CK_FLAGS kzt_pin_flags(kzt *t)
{
    CK_FLAGS f = 0;

    if (kzt_begin(t) != CKR_OK)
        return 0;
    f |= one_pin(t, KZT_PIN_USER, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
    f |= one_pin(t, KZT_PIN_SO, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
    kz_card_end(t->card);
    return f;
}
