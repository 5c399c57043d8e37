/* ISO 7816-4 framing for the simulators (card-protocols.md §1.1-1.3). */
#include "apdu_frame.h"

#include <string.h>

int apdu_parse(const uint8_t *b, size_t len, struct apdu *a)
{
    memset(a, 0, sizeof *a);
    if (len < 4)
        return -1;
    a->cla = b[0];
    a->ins = b[1];
    a->p1 = b[2];
    a->p2 = b[3];
    if (len == 4)                       /* case 1 */
        return 0;
    if (len == 5) {                     /* case 2 short */
        a->has_le = 1;
        a->ne = b[4] ? b[4] : 256;
        return 0;
    }
    if (b[4] != 0) {                    /* short case 3 or 4 */
        a->lc = b[4];
        a->data = b + 5;
        if (len == 5 + a->lc)
            return 0;
        if (len == 6 + a->lc) {
            a->has_le = 1;
            a->ne = b[len - 1] ? b[len - 1] : 256;
            return 0;
        }
        return -1;
    }
    /* b[4] == 0 with more bytes: extended length. */
    a->extended = 1;
    if (len == 7) {                     /* case 2 extended */
        a->has_le = 1;
        a->ne = ((size_t)b[5] << 8 | b[6]);
        if (!a->ne)
            a->ne = 65536;
        return 0;
    }
    if (len < 7)
        return -1;
    a->lc = (size_t)b[5] << 8 | b[6];
    if (a->lc == 0)
        return -1;
    a->data = b + 7;
    if (len == 7 + a->lc)
        return 0;
    if (len == 9 + a->lc) {
        a->has_le = 1;
        a->ne = (size_t)b[len - 2] << 8 | b[len - 1];
        if (!a->ne)
            a->ne = 65536;
        return 0;
    }
    return -1;
}

void apdu_session_reset(struct apdu_session *s)
{
    s->chaining = 0;
    s->chain_len = 0;
    s->pending_len = 0;
    s->pending_off = 0;
}

enum apdu_chain_result apdu_chain(struct apdu_session *s, struct apdu *a,
                                  uint16_t *sw)
{
    int more = (a->cla & 0x10) != 0;

    if (!more && !s->chaining)
        return APDU_CHAIN_COMPLETE;

    if (s->chaining &&
        (a->ins != s->chain_ins || a->p1 != s->chain_p1 || a->p2 != s->chain_p2)) {
        /* A different command in the middle of a chain: ISO's "last command
         * of the chain expected". The chain is dropped. */
        s->chaining = 0;
        s->chain_len = 0;
        *sw = 0x6883;
        return APDU_CHAIN_ERROR;
    }
    if (s->chain_len + a->lc > sizeof s->chain) {
        s->chaining = 0;
        s->chain_len = 0;
        *sw = 0x6A84;
        return APDU_CHAIN_ERROR;
    }
    if (!s->chaining) {
        s->chaining = 1;
        s->chain_ins = a->ins;
        s->chain_p1 = a->p1;
        s->chain_p2 = a->p2;
        s->chain_len = 0;
    }
    if (a->lc)
        memcpy(s->chain + s->chain_len, a->data, a->lc);
    s->chain_len += a->lc;
    if (more)
        return APDU_CHAIN_MORE;

    /* Last chunk: the command is the whole chain, with this chunk's Le. */
    s->chaining = 0;
    a->cla &= (uint8_t)~0x10;
    a->data = s->chain;
    a->lc = s->chain_len;
    return APDU_CHAIN_COMPLETE;
}

size_t apdu_sw(uint16_t sw, uint8_t *resp)
{
    resp[0] = (uint8_t)(sw >> 8);
    resp[1] = (uint8_t)sw;
    return 2;
}

static size_t deliver_pending(struct apdu_session *s, size_t ne, uint8_t *resp,
                              size_t cap)
{
    size_t left = s->pending_len - s->pending_off;
    size_t n = left < ne ? left : ne;

    if (n + 2 > cap)
        n = cap - 2;
    memcpy(resp, s->pending + s->pending_off, n);
    s->pending_off += n;
    left -= n;
    if (left) {
        resp[n] = 0x61;
        resp[n + 1] = (uint8_t)(left > 255 ? 0 : left);
    } else {
        s->pending_len = s->pending_off = 0;
        resp[n] = 0x90;
        resp[n + 1] = 0x00;
    }
    return n + 2;
}

size_t apdu_answer(struct apdu_session *s, const struct apdu *a,
                   const uint8_t *data, size_t n, uint16_t sw,
                   uint8_t *resp, size_t cap)
{
    s->pending_len = s->pending_off = 0;
    if (n == 0 || sw != 0x9000) {
        return apdu_sw(sw, resp);
    }
    if (n > sizeof s->pending)
        return apdu_sw(0x6F00, resp);
    if (a->has_le && n <= a->ne && n + 2 <= cap) {
        memcpy(resp, data, n);
        return n + apdu_sw(sw, resp + n);
    }
    /* Too long for this exchange, or no Le at all (the T=0 habit the rtecp
     * driver keeps, §3.5/§3.6): keep it for GET RESPONSE. */
    memcpy(s->pending, data, n);
    s->pending_len = n;
    s->pending_off = 0;
    if (a->has_le)
        return deliver_pending(s, a->ne, resp, cap);
    resp[0] = 0x61;
    resp[1] = (uint8_t)(n > 255 ? 0 : n);
    return 2;
}

size_t apdu_get_response(struct apdu_session *s, const struct apdu *a,
                         uint8_t *resp, size_t cap)
{
    if (a->p1 || a->p2)
        return apdu_sw(0x6A86, resp);
    if (s->pending_len == s->pending_off)
        return apdu_sw(0x6985, resp);
    return deliver_pending(s, a->has_le ? a->ne : 256, resp, cap);
}
