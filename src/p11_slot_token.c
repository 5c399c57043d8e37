/* Slot and token management (PKCS#11 2.40 §5.5). */
#include "card_slots.h"
#include "frontend.h"
#include "mechanism.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* How often a blocking C_WaitForSlotEvent looks at the keystore folders.
 * Reader and card events wake it at once (it sleeps in PC/SC when it can);
 * C_Finalize interrupts it at once through the event fd or SCardCancel. */
#define WAIT_POLL_MS 500

KZ_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
    CK_ULONG n = 0;
    CK_RV rv;

    if (!pulCount)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    /* Rescan only when the application asks for the size (or gives no
     * buffer): the second call of the usual two must see the same list. */
    if (!pSlotList || !kz_mod.scanned) {
        kz_refresh_slots();
        kz_mod.scanned = 1;
    }
    for (size_t i = 0; i < kz_slots_count(); i++) {
        kz_slot *s = kz_slots_at(i);
        if (tokenPresent && !s->present)
            continue;
        if (pSlotList && n < *pulCount)
            pSlotList[n] = s->id;
        n++;
    }
    if (pSlotList && n > *pulCount)
        rv = CKR_BUFFER_TOO_SMALL;
    *pulCount = n;
    kz_leave();
    KZ_RET("C_GetSlotList", rv);
}

KZ_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    kz_slot *s;
    CK_RV rv;

    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    s = kz_slots_get(slotID);
    if (!s) {
        kz_leave();
        KZ_RET("C_GetSlotInfo", CKR_SLOT_ID_INVALID);
    }
    memset(pInfo, 0, sizeof(*pInfo));
    kz_pad_field(pInfo->slotDescription, sizeof(pInfo->slotDescription), s->description);
    kz_pad_field(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "kzp11 project");
    /* A container file can disappear like a card can be pulled. */
    pInfo->flags = CKF_REMOVABLE_DEVICE | s->flags | (s->present ? CKF_TOKEN_PRESENT : 0);
    pInfo->hardwareVersion.major = KZP11_VERSION_MAJOR;
    pInfo->hardwareVersion.minor = KZP11_VERSION_MINOR;
    pInfo->firmwareVersion = pInfo->hardwareVersion;
    kz_leave();
    return CKR_OK;
}

/* Looks up a slot that must hold a token. Module lock held. */
static CK_RV present_slot(CK_SLOT_ID id, kz_slot **out)
{
    kz_slot *s = kz_slots_get(id);

    if (!s)
        return CKR_SLOT_ID_INVALID;
    if (!s->present)
        return CKR_TOKEN_NOT_PRESENT;
    *out = s;
    return CKR_OK;
}

KZ_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    kz_slot *s;
    CK_RV rv;

    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    rv = present_slot(slotID, &s);
    if (rv == CKR_OK) {
        memset(pInfo, 0, sizeof(*pInfo));
        rv = s->token.ops->get_info(&s->token, pInfo);
    }
    if (rv == CKR_OK) {
        pInfo->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
        pInfo->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
        pInfo->ulSessionCount = s->sessions;
        pInfo->ulRwSessionCount = s->rw_sessions;
        pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
        pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
        pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
        pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
        pInfo->hardwareVersion.major = KZP11_VERSION_MAJOR;
        pInfo->hardwareVersion.minor = KZP11_VERSION_MINOR;
        pInfo->firmwareVersion = pInfo->hardwareVersion;
        memset(pInfo->utcTime, ' ', sizeof(pInfo->utcTime));
    }
    kz_leave();
    KZ_RET("C_GetTokenInfo", rv);
}

static int take_event(CK_SLOT_ID *out)
{
    for (size_t i = 0; i < kz_slots_count(); i++) {
        kz_slot *s = kz_slots_at(i);
        if (s->event) {
            s->event = 0;
            *out = s->id;
            return 1;
        }
    }
    return 0;
}

KZ_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    CK_RV rv;

    if (!pSlot || pReserved)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    kz_mod.waiters++;
    for (;;) {
        struct pollfd pfd = { .fd = kz_mod.event_fd, .events = POLLIN };
        kz_card_wait *w;

        kz_refresh_slots();
        if (take_event(pSlot)) {
            rv = CKR_OK;
            break;
        }
        if (flags & CKF_DONT_BLOCK) {
            rv = CKR_NO_EVENT;
            break;
        }
        w = kz_card_slots_wait_prepare();
        kz_leave();
        if (!kz_card_slots_wait(w, WAIT_POLL_MS)) {
            if (pfd.fd >= 0)
                poll(&pfd, 1, WAIT_POLL_MS);
            else
                usleep(WAIT_POLL_MS * 1000);
        }
        kz_mutex_lock(kz_mod.lock);
        kz_card_slots_wait_done(w);
        if (kz_mod.finalizing) {
            rv = CKR_CRYPTOKI_NOT_INITIALIZED;
            break;
        }
    }
    kz_mod.waiters--;
    kz_leave();
    return rv;
}

/* The token's mechanisms: the host digests plus what its keys can do. */
static CK_RV token_mechanisms(kz_slot *s, CK_MECHANISM_TYPE *out, CK_ULONG *n)
{
    const CK_MECHANISM_TYPE *host, *tok;
    size_t nh, nt;
    CK_RV rv;

    kz_mech_host_list(&host, &nh);
    rv = s->token.ops->get_mechanisms(&s->token, &tok, &nt);
    if (rv != CKR_OK)
        return rv;
    if (out) {
        if (*n < nh + nt) {
            *n = nh + nt;
            return CKR_BUFFER_TOO_SMALL;
        }
        memcpy(out, host, nh * sizeof(*out));
        memcpy(out + nh, tok, nt * sizeof(*out));
    }
    *n = nh + nt;
    return CKR_OK;
}

KZ_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                                   CK_ULONG_PTR pulCount)
{
    kz_slot *s;
    CK_RV rv;

    if (!pulCount)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    rv = present_slot(slotID, &s);
    if (rv == CKR_OK)
        rv = token_mechanisms(s, pMechanismList, pulCount);
    kz_leave();
    KZ_RET("C_GetMechanismList", rv);
}

/* CKF_HW: a card's own mechanisms run on the card (hashing aside, which
 * the host does); some programs (pkcs11-tool) pick only such by default. */
static int performed_by_device(kz_slot *s, CK_MECHANISM_TYPE type)
{
    const CK_MECHANISM_TYPE *tok;
    size_t nt;

    if (!(s->flags & CKF_HW_SLOT) || s->token.ops->get_mechanisms(&s->token, &tok, &nt) != CKR_OK)
        return 0;
    for (size_t i = 0; i < nt; i++)
        if (tok[i] == type)
            return 1;
    return 0;
}

KZ_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
    CK_MECHANISM_TYPE list[64];
    CK_ULONG n = 64;
    const kz_mech *m;
    kz_slot *s;
    CK_RV rv;

    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    rv = present_slot(slotID, &s);
    if (rv == CKR_OK)
        rv = token_mechanisms(s, list, &n);
    if (rv == CKR_OK) {
        rv = CKR_MECHANISM_INVALID;
        for (CK_ULONG i = 0; i < n; i++)
            if (list[i] == type && (m = kz_mech_find(type))) {
                *pInfo = m->info;
                pInfo->flags = kz_mech_flags(type);
                if (performed_by_device(s, type))
                    pInfo->flags |= CKF_HW;
                rv = CKR_OK;
            }
    }
    kz_leave();
    KZ_RET("C_GetMechanismInfo", rv);
}

KZ_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
    char label[33];
    size_t n = 32;
    kz_slot *s;
    CK_RV rv;

    if (!pLabel || (!pPin && ulPinLen))
        return CKR_ARGUMENTS_BAD;
    /* The label arrives blank-padded to 32 bytes. */
    memcpy(label, pLabel, 32);
    while (n > 0 && (label[n - 1] == ' ' || label[n - 1] == '\0'))
        n--;
    label[n] = '\0';
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    rv = present_slot(slotID, &s);
    if (rv == CKR_OK && s->sessions)
        rv = CKR_SESSION_EXISTS;
    else if (rv == CKR_OK && !s->token.ops->init_token)
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    else if (rv == CKR_OK)
        rv = s->token.ops->init_token(&s->token, pPin, ulPinLen, label);
    if (rv == CKR_OK)
        rv = kz_slot_reload(s);
    kz_leave();
    KZ_RET("C_InitToken", rv);
}

/* A session that may change the token: R/W, on a present slot. On CKR_OK
 * returns with the module lock held. */
static CK_RV enter_rw_session(CK_SESSION_HANDLE h, kz_session **s, kz_slot **slot)
{
    CK_RV rv = kz_enter_session(h, s, slot);

    if (rv == CKR_OK && !((*s)->flags & CKF_RW_SESSION)) {
        kz_leave();
        rv = CKR_SESSION_READ_ONLY;
    }
    return rv;
}

KZ_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv;

    if (!pPin && ulPinLen)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_rw_session(hSession, &s, &slot)) != CKR_OK)
        KZ_RET("C_InitPIN", rv);
    if (slot->user != CKU_SO)
        rv = CKR_USER_NOT_LOGGED_IN;
    else if (rv == CKR_OK && !slot->token.ops->init_pin)
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    else if (rv == CKR_OK)
        rv = slot->token.ops->init_pin(&slot->token, pPin, ulPinLen);
    if (rv == CKR_OK)
        rv = kz_slot_reload(slot);
    kz_leave();
    KZ_RET("C_InitPIN", rv);
}

KZ_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
                         CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv;

    if ((!pOldPin && ulOldLen) || (!pNewPin && ulNewLen))
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_rw_session(hSession, &s, &slot)) != CKR_OK)
        KZ_RET("C_SetPIN", rv);
    if (!slot->token.ops->set_pin)
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    else
        rv = slot->token.ops->set_pin(&slot->token, slot->user, pOldPin, ulOldLen, pNewPin, ulNewLen);
    kz_leave();
    KZ_RET("C_SetPIN", rv);
}
