#include "card_rv.h"

#include <PCSC/winscard.h>

CK_RV kz_pcsc_rv(long rc)
{
    switch (rc) {
    case SCARD_S_SUCCESS:
        return CKR_OK;
    case SCARD_W_RESET_CARD:
        return KZ_CKR_CARD_RESET;
    /* The card or its reader is gone; so is everything on a daemon that
     * stopped, since a restarted pcscd knows none of our handles. */
    case SCARD_W_REMOVED_CARD:
    case SCARD_E_NO_SMARTCARD:
    case SCARD_W_UNPOWERED_CARD:
    case SCARD_E_READER_UNAVAILABLE:
    case SCARD_E_UNKNOWN_READER:
    case SCARD_E_NO_READERS_AVAILABLE:
    case SCARD_E_NO_SERVICE:
    case SCARD_E_SERVICE_STOPPED:
    case SCARD_E_INVALID_HANDLE:
    case SCARD_F_COMM_ERROR:
        return CKR_DEVICE_REMOVED;
    case SCARD_E_NO_MEMORY:
        return CKR_HOST_MEMORY;
    case SCARD_E_CANCELLED:
    case SCARD_E_SYSTEM_CANCELLED:
        return CKR_FUNCTION_CANCELED;
    case SCARD_W_UNSUPPORTED_CARD:
    case SCARD_E_CARD_UNSUPPORTED:
        return CKR_TOKEN_NOT_RECOGNIZED;
    default:
        /* Sharing violations, timeouts, mute cards, protocol mismatches:
         * the token exists but cannot be used right now. */
        return CKR_DEVICE_ERROR;
    }
}

int kz_pcsc_service_lost(long rc)
{
    return rc == SCARD_E_NO_SERVICE || rc == SCARD_E_SERVICE_STOPPED
           || rc == SCARD_E_INVALID_HANDLE || rc == SCARD_F_COMM_ERROR;
}

CK_RV kz_sw_rv(uint16_t sw)
{
    uint8_t sw1 = (uint8_t)(sw >> 8), sw2 = (uint8_t)sw;

    if (sw == 0x9000)
        return CKR_OK;
    /* Verification failed: 63 Cx carries the tries left, 63 00 none. */
    if (sw1 == 0x63 && (sw2 & 0xF0) == 0xC0)
        return (sw2 & 0x0F) ? CKR_PIN_INCORRECT : CKR_PIN_LOCKED;
    switch (sw) {
    case 0x6300:
        return CKR_PIN_INCORRECT;
    case 0x6983:            /* authentication method blocked */
        return CKR_PIN_LOCKED;
    case 0x6982:            /* security status not satisfied */
        return CKR_USER_NOT_LOGGED_IN;
    case 0x6700:            /* wrong length */
        return CKR_DATA_LEN_RANGE;
    case 0x6A80:            /* incorrect data field */
        return CKR_DATA_INVALID;
    case 0x6A84:            /* not enough memory */
        return CKR_DEVICE_MEMORY;
    case 0x6985:            /* conditions of use not satisfied */
        return CKR_FUNCTION_FAILED;
    default:
        /* Everything else (file not found, wrong P1-P2, INS or CLA not
         * supported, chaining refused, memory failure, 6F 00) means the
         * driver and the card disagree: nothing the application can fix. */
        return CKR_DEVICE_ERROR;
    }
}

CK_RV kz_card_public_rv(CK_RV rv, int had_login)
{
    if (rv != KZ_CKR_CARD_RESET)
        return rv;
    return had_login ? CKR_USER_NOT_LOGGED_IN : CKR_DEVICE_ERROR;
}

const char *kz_pcsc_name(long rc)
{
    switch (rc) {
#define N(x) case x: return #x;
    N(SCARD_S_SUCCESS) N(SCARD_E_CANCELLED) N(SCARD_E_INVALID_HANDLE)
    N(SCARD_E_INVALID_PARAMETER) N(SCARD_E_NO_MEMORY) N(SCARD_E_INSUFFICIENT_BUFFER)
    N(SCARD_E_UNKNOWN_READER) N(SCARD_E_TIMEOUT) N(SCARD_E_SHARING_VIOLATION)
    N(SCARD_E_NO_SMARTCARD) N(SCARD_E_PROTO_MISMATCH) N(SCARD_E_NOT_READY)
    N(SCARD_E_INVALID_VALUE) N(SCARD_F_COMM_ERROR) N(SCARD_E_NOT_TRANSACTED)
    N(SCARD_E_READER_UNAVAILABLE) N(SCARD_E_NO_SERVICE) N(SCARD_E_SERVICE_STOPPED)
    N(SCARD_E_NO_READERS_AVAILABLE) N(SCARD_W_UNSUPPORTED_CARD)
    N(SCARD_W_UNRESPONSIVE_CARD) N(SCARD_W_UNPOWERED_CARD) N(SCARD_W_RESET_CARD)
    N(SCARD_W_REMOVED_CARD) N(SCARD_F_INTERNAL_ERROR)
#undef N
    default: return "SCARD_?";
    }
}
