/* Command APDUs (ISO 7816-4) as drivers write them, their encoding on the
 * wire, and status words. A driver fills a kz_apdu with what it means
 * (header, data, how much it expects back) and never picks a case or a
 * length encoding itself: kz_card_transmit does, by the card's protocol. */
#ifndef KZP11_APDU_H
#define KZP11_APDU_H

#include <stddef.h>
#include <stdint.h>
#include "pkcs11_types.h"

/* The transmission protocol the card was connected with. */
enum { KZ_PROTO_T0 = 0, KZ_PROTO_T1 = 1 };

#define KZ_APDU_SHORT_MAX_LC 255
#define KZ_APDU_SHORT_MAX_LE 256
#define KZ_APDU_EXT_MAX_LC 65535
#define KZ_APDU_EXT_MAX_LE 65536

/* kz_apdu.flags */
enum {
    /* The data is a PIN or other secret: the trace shows "**" for each of
     * its bytes, and the encoded command is wiped after sending. */
    KZ_APDU_SECRET      = 1u << 0,
    /* The response data is secret (a deciphered key): masked the same way. */
    KZ_APDU_SECRET_RESP = 1u << 1,
    /* The card takes command chaining: data longer than one short APDU is
     * split into 255-byte pieces, CLA bit 0x10 on all but the last. */
    KZ_APDU_CHAIN       = 1u << 2,
};

typedef struct kz_apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;          /* Lc bytes; NULL when lc is 0 */
    size_t lc;
    /* Bytes expected back: 0 when none (cases 1 and 3); 256 is "00" in a
     * short APDU; up to 65536 (more than 256 needs extended lengths, or
     * arrives through 61 xx / GET RESPONSE). */
    size_t le;
    unsigned flags;               /* KZ_APDU_* */
} kz_apdu;

/* Where a response goes: the caller's buffer, and what came back. A card
 * that returns more than cap bytes is an error, never a truncation. */
typedef struct kz_rapdu {
    uint8_t *data;                /* may be NULL when cap is 0 */
    size_t cap;
    size_t len;                   /* out: response data length */
    uint16_t sw;                  /* out: SW1 << 8 | SW2 */
} kz_rapdu;

/* Encodes one APDU exactly as given (no splitting, no T=0 rewriting
 * beyond the protocol's framing): short lengths, or extended ones when
 * `extended` is set. Over T=0 a case 1 command carries P3 = 00 and a
 * case 4 command has no Le (the card answers 61 xx). Returns CKR_OK,
 * CKR_DATA_LEN_RANGE if the lengths do not fit that form, or
 * CKR_ARGUMENTS_BAD (lc without data, out too small). */
CK_RV kz_apdu_encode(const kz_apdu *a, int proto, int extended,
                     uint8_t *out, size_t cap, size_t *len);

/* ---- Status words ---------------------------------------------------- */

#define KZ_SW_OK 0x9000u

static inline uint8_t kz_sw1(uint16_t sw) { return (uint8_t)(sw >> 8); }
static inline uint8_t kz_sw2(uint16_t sw) { return (uint8_t)(sw & 0xFF); }
static inline int kz_sw_ok(uint16_t sw) { return sw == KZ_SW_OK; }

/* 63 Cx: x tries left; -1 for any other status word. */
int kz_sw_tries_left(uint16_t sw);

#endif
