/* ISO 7816-4 command framing for the simulators: decoding a C-APDU (short
 * and extended cases), command chaining (CLA bit 0x10) and delivering long
 * answers through 61xx + GET RESPONSE. No card semantics here. */
#ifndef KZ_BENCH_APDU_FRAME_H
#define KZ_BENCH_APDU_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Data of one command after chaining: 16 short chunks of 255 bytes is far
 * more than any command of the simulated cards needs. */
#define APDU_MAX_DATA 4096
/* Pending answer data for GET RESPONSE. */
#define APDU_MAX_PENDING 4096

struct apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t lc;
    size_t ne;      /* expected response length; 256 for short Le=00 */
    int has_le;
    int extended;
};

/* 0 on success, -1 if the length fields do not fit the buffer (67 00). */
int apdu_parse(const uint8_t *buf, size_t len, struct apdu *a);

/* The response side and the chaining buffer of one card session. */
struct apdu_session {
    int chaining;                 /* a chain is being received */
    uint8_t chain_ins, chain_p1, chain_p2;
    uint8_t chain[APDU_MAX_DATA];
    size_t chain_len;
    uint8_t pending[APDU_MAX_PENDING];
    size_t pending_len, pending_off;
};

void apdu_session_reset(struct apdu_session *s);

enum apdu_chain_result {
    APDU_CHAIN_COMPLETE,   /* *a is the whole command, ready to execute */
    APDU_CHAIN_MORE,       /* chunk stored: answer 90 00 */
    APDU_CHAIN_ERROR       /* answer with *sw */
};

/* Feeds a parsed APDU through command chaining. On APDU_CHAIN_COMPLETE the
 * data of *a may point into the session's chain buffer. */
enum apdu_chain_result apdu_chain(struct apdu_session *s, struct apdu *a,
                                  uint16_t *sw);

/* Writes data + SW into resp (capacity cap) honouring Ne: an answer longer
 * than Ne (or any data for a command without Le) is kept in the session
 * and announced with 61 xx. Returns the R-APDU length. */
size_t apdu_answer(struct apdu_session *s, const struct apdu *a,
                   const uint8_t *data, size_t n, uint16_t sw,
                   uint8_t *resp, size_t cap);

/* GET RESPONSE (00 C0 00 00 Le) against the pending data. */
size_t apdu_get_response(struct apdu_session *s, const struct apdu *a,
                         uint8_t *resp, size_t cap);

/* Just a status word. */
size_t apdu_sw(uint16_t sw, uint8_t *resp);

#endif
