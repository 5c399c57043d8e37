/* The rules of a command/response exchange above the raw transmission:
 * choosing short or extended lengths, command chaining, T=0's GET RESPONSE
 * and wrong-Le retry, response limits, and the APDU trace in the debug log
 * (secrets masked). The card layer plugs SCardTransmit in below; the unit
 * tests plug in a scripted fake. */
#ifndef KZP11_APDU_EXCHANGE_H
#define KZP11_APDU_EXCHANGE_H

#include "apdu.h"

/* Sends cmd and receives at most *rsp_len bytes (data + SW1 SW2) into rsp,
 * setting *rsp_len. Returns CKR_OK, or a transport failure (already a
 * CK_RV, KZ_CKR_CARD_RESET included). */
typedef CK_RV (*kz_raw_transmit)(void *ctx, const uint8_t *cmd, size_t cmd_len,
                                 uint8_t *rsp, size_t *rsp_len);

typedef struct kz_link {
    int proto;                    /* KZ_PROTO_T0 or KZ_PROTO_T1 */
    int extended;                 /* card and reader take extended lengths (T=1 only) */
    kz_raw_transmit raw;
    void *ctx;
    const char *name;             /* names the card in the trace */
} kz_link;

/* One logical command: r->len and r->sw are the final response after any
 * GET RESPONSE rounds, or the status word of a chained piece the card
 * refused (with no data). Returns CKR_OK whatever the status word;
 * otherwise a transport failure, CKR_DATA_LEN_RANGE for a command that
 * cannot be encoded for this card, or CKR_DEVICE_ERROR for a malformed
 * response (under 2 bytes, more data than the buffer takes, endless
 * 61 xx). */
CK_RV kz_apdu_exchange(const kz_link *l, const kz_apdu *a, kz_rapdu *r);

#endif
