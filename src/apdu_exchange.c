#include "apdu_exchange.h"
#include "card_rv.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Data bytes per chained piece: what one short APDU carries. */
#define CHAIN_PIECE KZ_APDU_SHORT_MAX_LC
/* Response buffers: data plus SW1 SW2. */
#define SHORT_RSP (KZ_APDU_SHORT_MAX_LE + 2)
#define EXT_RSP (KZ_APDU_EXT_MAX_LE + 2)
#define SHORT_CMD (4 + 1 + KZ_APDU_SHORT_MAX_LC + 1)
#define EXT_CMD (4 + 3 + KZ_APDU_EXT_MAX_LC + 2)
/* A card that keeps answering 61 xx is broken; 65536 bytes take 256
 * rounds, so this only stops a card that never finishes. */
#define MAX_GET_RESPONSE 300
/* Bytes shown per trace line: a log line holds 1024 characters. */
#define TRACE_BYTES 200

static void trace(const kz_link *l, const char *dir, const uint8_t *b, size_t n,
                  size_t mask_from, size_t mask_len)
{
    char text[TRACE_BYTES * 3 + 40];
    size_t shown = n < TRACE_BYTES ? n : TRACE_BYTES, p = 0;

    for (size_t i = 0; i < shown; i++) {
        if (i >= mask_from && i - mask_from < mask_len)
            memcpy(text + p, "** ", 3);
        else
            snprintf(text + p, 4, "%02X ", b[i]);
        p += 3;
    }
    if (n > shown)
        p += (size_t)snprintf(text + p, sizeof(text) - p, ".. (%zu bytes)", n);
    else if (p > 0)
        p--;            /* the trailing blank */
    text[p] = '\0';
    KZ_DEBUG("%s %s %s", l->name ? l->name : "card", dir, text);
}

static uint16_t sw_of(const uint8_t *rsp, size_t n)
{
    return (uint16_t)(rsp[n - 2] << 8 | rsp[n - 1]);
}

/* One command on the wire and its raw response (at least SW1 SW2). */
static CK_RV round_trip(const kz_link *l, const kz_apdu *a, int ext,
                        uint8_t *rsp, size_t cap, size_t *rsp_len)
{
    uint8_t small[SHORT_CMD];
    uint8_t *cmd = small;
    size_t cmd_size = sizeof(small), cmd_len = 0;
    int secret = (a->flags & KZ_APDU_SECRET) != 0;
    CK_RV rv;

    if (ext) {
        cmd_size = EXT_CMD;
        if (!(cmd = malloc(cmd_size)))
            return CKR_HOST_MEMORY;
    }
    rv = kz_apdu_encode(a, l->proto, ext, cmd, cmd_size, &cmd_len);
    if (rv == CKR_OK) {
        if (kz_log_enabled)
            trace(l, ">", cmd, cmd_len, a->lc ? (ext ? 7 : 5) : 0, secret ? a->lc : 0);
        *rsp_len = cap;
        rv = l->raw(l->ctx, cmd, cmd_len, rsp, rsp_len);
    }
    /* A PIN must not linger on the stack or the heap. */
    if (secret)
        explicit_bzero(cmd, cmd_len);
    if (ext)
        free(cmd);
    if (rv != CKR_OK) {
        KZ_DEBUG("%s: transmission failed: %s", l->name ? l->name : "card",
                 rv == KZ_CKR_CARD_RESET ? "card reset" : kz_rv_name(rv));
        return rv;
    }
    if (*rsp_len < 2 || *rsp_len > cap) {
        KZ_DEBUG("%s: malformed response of %zu bytes", l->name ? l->name : "card", *rsp_len);
        return CKR_DEVICE_ERROR;
    }
    if (kz_log_enabled)
        trace(l, "<", rsp, *rsp_len, 0, (a->flags & KZ_APDU_SECRET_RESP) ? *rsp_len - 2 : 0);
    return CKR_OK;
}

static CK_RV append(const kz_link *l, kz_rapdu *r, const uint8_t *d, size_t n)
{
    if (n == 0)
        return CKR_OK;
    if (n > r->cap - r->len) {
        KZ_DEBUG("%s: response longer than the %zu bytes expected", l->name ? l->name : "card", r->cap);
        return CKR_DEVICE_ERROR;
    }
    memcpy(r->data + r->len, d, n);
    r->len += n;
    return CKR_OK;
}

/* GET RESPONSE keeps the logical channel of an interindustry class;
 * proprietary classes ask with 00. */
static uint8_t get_response_cla(uint8_t cla)
{
    if ((cla & 0xE0) == 0x00)
        return cla & 0x03;
    if ((cla & 0xC0) == 0x40)
        return 0x40 | (cla & 0x0F);
    return 0x00;
}

/* Sends a command, retrying once with the Le a 6C xx names, until a
 * status word that is not 6C xx. */
static CK_RV send_fixing_le(const kz_link *l, kz_apdu *cmd, int ext, uint8_t *rsp,
                            size_t cap, size_t *n, uint16_t *sw)
{
    int retried = 0;
    CK_RV rv;

    for (;;) {
        rv = round_trip(l, cmd, ext, rsp, cap, n);
        if (rv != CKR_OK)
            return rv;
        *sw = sw_of(rsp, *n);
        /* Over T=0 a command with data has no Le to correct. */
        if (kz_sw1(*sw) != 0x6C || retried || (l->proto == KZ_PROTO_T0 && cmd->lc))
            return CKR_OK;
        cmd->le = kz_sw2(*sw) ? kz_sw2(*sw) : 256;
        retried = 1;
    }
}

static CK_RV final_piece(const kz_link *l, const kz_apdu *piece, int ext, kz_rapdu *r)
{
    uint8_t small[SHORT_RSP];
    uint8_t *rsp = small;
    size_t cap = sizeof(small), n = 0;
    kz_apdu cmd = *piece;
    uint16_t sw = 0;
    int rounds = 0;
    CK_RV rv;

    if (ext) {
        cap = EXT_RSP;
        if (!(rsp = malloc(cap)))
            return CKR_HOST_MEMORY;
    } else if (cmd.le > KZ_APDU_SHORT_MAX_LE) {
        /* Ask for 256; the rest comes through 61 xx. */
        cmd.le = KZ_APDU_SHORT_MAX_LE;
    }
    rv = send_fixing_le(l, &cmd, ext, rsp, cap, &n, &sw);
    if (rv == CKR_OK)
        rv = append(l, r, rsp, n - 2);
    while (rv == CKR_OK && kz_sw1(sw) == 0x61) {
        kz_apdu gr = {
            .cla = get_response_cla(piece->cla), .ins = 0xC0,
            .le = kz_sw2(sw) ? kz_sw2(sw) : 256,
            .flags = piece->flags & KZ_APDU_SECRET_RESP,
        };
        if (++rounds > MAX_GET_RESPONSE) {
            KZ_DEBUG("%s: no end to 61 xx", l->name ? l->name : "card");
            rv = CKR_DEVICE_ERROR;
            break;
        }
        rv = send_fixing_le(l, &gr, 0, rsp, cap < SHORT_RSP ? cap : SHORT_RSP, &n, &sw);
        if (rv == CKR_OK)
            rv = append(l, r, rsp, n - 2);
        /* 62 82 here: the card reached the end of its data before the Le
         * we asked for; what came is the whole response. */
        if (rv == CKR_OK && sw == 0x6282)
            sw = KZ_SW_OK;
    }
    if (piece->flags & KZ_APDU_SECRET_RESP)
        explicit_bzero(rsp, cap);
    if (ext)
        free(rsp);
    r->sw = sw;
    return rv;
}

CK_RV kz_apdu_exchange(const kz_link *l, const kz_apdu *a, kz_rapdu *r)
{
    kz_apdu piece;
    int ext = 0, chain = 0;
    size_t off = 0;
    CK_RV rv = CKR_OK;

    if (!l || !l->raw || !a || !r || (a->lc && !a->data) || (r->cap && !r->data))
        return CKR_ARGUMENTS_BAD;
    r->len = 0;
    r->sw = 0;
    if (a->lc > KZ_APDU_EXT_MAX_LC || a->le > KZ_APDU_EXT_MAX_LE)
        return CKR_DATA_LEN_RANGE;
    if (a->lc > KZ_APDU_SHORT_MAX_LC) {
        if (a->flags & KZ_APDU_CHAIN) {
            chain = 1;
        } else if (l->extended && l->proto == KZ_PROTO_T1) {
            ext = 1;
        } else {
            KZ_DEBUG("%s: %zu data bytes need chaining or extended lengths, which this card does not take",
                     l->name ? l->name : "card", a->lc);
            return CKR_DATA_LEN_RANGE;
        }
    }
    if (a->le > KZ_APDU_SHORT_MAX_LE && !chain && l->extended && l->proto == KZ_PROTO_T1)
        ext = 1;

    piece = *a;
    if (chain) {
        uint8_t rsp[SHORT_RSP];
        size_t n = 0;
        uint16_t sw;

        for (; a->lc - off > CHAIN_PIECE; off += CHAIN_PIECE) {
            piece.cla = a->cla | 0x10;
            piece.data = a->data + off;
            piece.lc = CHAIN_PIECE;
            piece.le = 0;
            rv = round_trip(l, &piece, 0, rsp, sizeof(rsp), &n);
            if (rv != CKR_OK)
                return rv;
            sw = sw_of(rsp, n);
            if (sw != KZ_SW_OK) {
                /* The card refused a piece: the rest is never sent, and
                 * its answer is the command's. */
                KZ_DEBUG("%s: chained piece at %zu refused: %04X", l->name ? l->name : "card", off, sw);
                r->sw = sw;
                return CKR_OK;
            }
        }
        piece.cla = a->cla;
        piece.data = a->data + off;
        piece.lc = a->lc - off;
        piece.le = a->le;
    }
    rv = final_piece(l, &piece, ext, r);
    if (rv != CKR_OK) {
        if ((a->flags & KZ_APDU_SECRET_RESP) && r->len)
            explicit_bzero(r->data, r->len);
        r->len = 0;
    }
    return rv;
}
