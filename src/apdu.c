#include "apdu.h"

#include <string.h>

CK_RV kz_apdu_encode(const kz_apdu *a, int proto, int extended,
                     uint8_t *out, size_t cap, size_t *len)
{
    size_t n = 4, need;
    size_t max_lc = extended ? KZ_APDU_EXT_MAX_LC : KZ_APDU_SHORT_MAX_LC;
    size_t max_le = extended ? KZ_APDU_EXT_MAX_LE : KZ_APDU_SHORT_MAX_LE;
    int send_le = a->le > 0;

    if (a->lc && !a->data)
        return CKR_ARGUMENTS_BAD;
    if (a->lc > max_lc || a->le > max_le)
        return CKR_DATA_LEN_RANGE;
    /* T=0 has a single length byte (P3) and no extended form: a case 4
     * command goes out as case 3 and the response is fetched with GET
     * RESPONSE after 61 xx. */
    if (proto == KZ_PROTO_T0) {
        if (extended)
            return CKR_DATA_LEN_RANGE;
        if (a->lc)
            send_le = 0;
    }
    need = 4 + (a->lc ? (extended ? 3 : 1) + a->lc : 0)
           + (send_le ? (extended ? (a->lc ? 2 : 3) : 1) : 0)
           + (proto == KZ_PROTO_T0 && !a->lc && !send_le ? 1 : 0);
    if (!out || cap < need)
        return CKR_ARGUMENTS_BAD;

    out[0] = a->cla;
    out[1] = a->ins;
    out[2] = a->p1;
    out[3] = a->p2;
    if (a->lc) {
        if (extended) {
            out[n++] = 0;
            out[n++] = (uint8_t)(a->lc >> 8);
        }
        out[n++] = (uint8_t)a->lc;
        memcpy(out + n, a->data, a->lc);
        n += a->lc;
    }
    if (send_le) {
        /* 256 (short) and 65536 (extended) wrap to zeros, as ISO says. */
        if (extended) {
            if (!a->lc)
                out[n++] = 0;
            out[n++] = (uint8_t)(a->le >> 8);
        }
        out[n++] = (uint8_t)a->le;
    }
    if (proto == KZ_PROTO_T0 && !a->lc && !send_le)
        out[n++] = 0;           /* case 1 over T=0: P3 = 00 */
    *len = n;
    return CKR_OK;
}

int kz_sw_tries_left(uint16_t sw)
{
    if (kz_sw1(sw) == 0x63 && (kz_sw2(sw) & 0xF0) == 0xC0)
        return kz_sw2(sw) & 0x0F;
    return -1;
}
