/* Session management (PKCS#11 2.40 §5.6). Login state belongs to the slot
 * and is shared by all of the application's sessions on it. */
#include "frontend.h"
#include "object_store.h"

#include <string.h>

KZ_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                              CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    kz_slot *slot;
    CK_RV rv;

    if (!phSession)
        return CKR_ARGUMENTS_BAD;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    slot = kz_slots_get(slotID);
    if (!slot)
        rv = CKR_SLOT_ID_INVALID;
    else if (!slot->present)
        rv = CKR_TOKEN_NOT_PRESENT;
    else if (slot->user == CKU_SO && !(flags & CKF_RW_SESSION))
        rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
    else
        rv = kz_sessions_open(slot, flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION), phSession);
    kz_leave();
    KZ_RET("C_OpenSession", rv);
}

KZ_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    kz_session *s;
    CK_RV rv;

    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    s = kz_sessions_get(hSession);
    if (s)
        kz_sessions_close(s);
    else
        rv = CKR_SESSION_HANDLE_INVALID;
    kz_leave();
    KZ_RET("C_CloseSession", rv);
}

KZ_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    CK_RV rv;

    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    if (!kz_slots_get(slotID))
        rv = CKR_SLOT_ID_INVALID;
    else
        kz_sessions_close_slot(slotID);
    kz_leave();
    KZ_RET("C_CloseAllSessions", rv);
}

KZ_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    kz_session *s;
    CK_RV rv;

    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_enter()) != CKR_OK)
        return rv;
    s = kz_sessions_get(hSession);
    if (!s) {
        rv = CKR_SESSION_HANDLE_INVALID;
    } else {
        pInfo->slotID = s->slot;
        pInfo->state = kz_session_state(s, kz_slots_get(s->slot));
        pInfo->flags = s->flags;
        pInfo->ulDeviceError = 0;
    }
    kz_leave();
    KZ_RET("C_GetSessionInfo", rv);
}

KZ_EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                        CK_ULONG ulPinLen)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv;

    if (!pPin && ulPinLen)
        return CKR_ARGUMENTS_BAD;
    if (userType != CKU_USER && userType != CKU_SO && userType != CKU_CONTEXT_SPECIFIC)
        return CKR_USER_TYPE_INVALID;
    if ((rv = kz_enter_session(hSession, &s, &slot)) != CKR_OK)
        KZ_RET("C_Login", rv);
    if (userType == CKU_CONTEXT_SPECIFIC) {
        /* No key of ours has CKA_ALWAYS_AUTHENTICATE. */
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if (slot->user == userType) {
        rv = CKR_USER_ALREADY_LOGGED_IN;
    } else if (slot->user != KZ_NOBODY) {
        rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    } else if (userType == CKU_SO && slot->sessions != slot->rw_sessions) {
        rv = CKR_SESSION_READ_ONLY_EXISTS;
    } else {
        /* The PIN goes to the driver and nowhere else: not into the log. */
        rv = slot->token.ops->login(&slot->token, userType, pPin, ulPinLen);
        if (rv == CKR_OK) {
            slot->user = userType;
            kz_objects_destroy_where(slot->id, 0);
            slot->objects_built = 0;
            rv = kz_slot_ensure_objects(slot);
            if (rv != CKR_OK) {
                slot->token.ops->logout(&slot->token);
                slot->user = KZ_NOBODY;
            }
        }
    }
    kz_leave();
    KZ_RET("C_Login", rv);
}

KZ_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv;

    if ((rv = kz_enter_session(hSession, &s, &slot)) != CKR_OK)
        KZ_RET("C_Logout", rv);
    if (slot->user == KZ_NOBODY) {
        rv = CKR_USER_NOT_LOGGED_IN;
    } else {
        rv = slot->token.ops->logout(&slot->token);
        slot->user = KZ_NOBODY;
        kz_objects_destroy_where(slot->id, 0);
        slot->objects_built = 0;
    }
    kz_leave();
    KZ_RET("C_Logout", rv);
}
