/* The Rutoken ECP commands (card-protocols.md §3.5) as the Kaztoken driver
 * sends them. Answers are checked before use: a card (or a damaged
 * reader) may send anything, and anything wrong becomes a CK_RV. */
#include "kaztoken_internal.h"

#include <string.h>

/* Short APDUs only: the token's CCID interface carries no extended
 * lengths (§3.1). */
#define MAX_CHUNK_IN 255
#define MAX_CHUNK_OUT 256
/* READ/UPDATE BINARY offsets are 15 bits. */
#define MAX_OFFSET 0x7FFF

/* What a status word means for the command that got it. Only VERIFY
 * speaks of PIN tries; the rest of the ISO table (wrong data, wrong
 * length...) means the driver and the card disagree, which no caller can
 * mend: CKR_DEVICE_ERROR, never a code PKCS#11 gives another meaning. */
static CK_RV answer_rv(uint8_t ins, uint16_t sw)
{
    switch (sw) {
    case 0x9000:
        return CKR_OK;
    case 0x6982:
        return CKR_USER_NOT_LOGGED_IN;
    case 0x6A84:
        return CKR_DEVICE_MEMORY;
    }
    if (ins == 0x20 && (kz_sw1(sw) == 0x63 || sw == 0x6983))
        return kz_sw_rv(sw);
    /* A new PIN value the card will not take (too short or long). */
    if (ins == 0x24 && (sw == 0x6A80 || sw == 0x6700))
        return CKR_PIN_LEN_RANGE;
    return CKR_DEVICE_ERROR;
}

static CK_RV command(kz_card *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                     const uint8_t *data, size_t lc, size_t le, unsigned flags, kz_rapdu *r)
{
    kz_apdu a = { cla, ins, p1, p2, lc ? data : NULL, lc, le, flags };
    CK_RV rv = kz_card_transmit(c, &a, r);

    return rv != CKR_OK ? rv : answer_rv(ins, r->sw);
}

/* One BER-TLV with a one-byte tag inside [p, end); NULL when malformed. */
static const uint8_t *tlv(const uint8_t *p, const uint8_t *end, uint8_t *tag, size_t *len)
{
    size_t l;

    if (end - p < 2)
        return NULL;
    *tag = p[0];
    l = p[1];
    p += 2;
    if (l == 0x81 || l == 0x82) {
        size_t nb = l - 0x80;
        if ((size_t)(end - p) < nb)
            return NULL;
        l = nb == 1 ? p[0] : (size_t)p[0] << 8 | p[1];
        p += nb;
    } else if (l > 0x7F) {
        return NULL;
    }
    if ((size_t)(end - p) < l)
        return NULL;
    *len = l;
    return p;
}

static CK_RV parse_fcp(const uint8_t *d, size_t n, kzt_fcp *fcp)
{
    const uint8_t *end = d + n, *v, *body;
    uint8_t tag;
    size_t len, blen;

    memset(fcp, 0, sizeof(*fcp));
    if (!(body = tlv(d, end, &tag, &blen)) || (tag != 0x62 && tag != 0x6F))
        return CKR_DEVICE_ERROR;
    for (end = body + blen; body < end; body = v + len) {
        if (!(v = tlv(body, end, &tag, &len)))
            return CKR_DEVICE_ERROR;
        if (tag == 0x80 && len >= 1 && len <= 2)
            fcp->size = len == 1 ? v[0] : (size_t)v[0] << 8 | v[1];
        else if (tag == 0x85 && len == sizeof(fcp->prop)) {
            memcpy(fcp->prop, v, len);
            fcp->has_prop = 1;
        }
    }
    return CKR_OK;
}

CK_RV kzt_select(kz_card *c, const uint16_t *path, size_t n, kzt_fcp *fcp)
{
    uint8_t p[16], resp[MAX_CHUNK_OUT];
    kz_rapdu r = { resp, sizeof(resp), 0, 0 };
    kzt_fcp scratch;
    CK_RV rv;

    if (n > sizeof(p) / 2)
        return CKR_ARGUMENTS_BAD;
    if (n == 0) {
        /* The MF by its FID, with its FCI: the T=0 variants cannot select
         * without one (§3.5). */
        p[0] = 0x3F;
        p[1] = 0x00;
        rv = command(c, 0x00, 0xA4, 0x00, 0x00, p, 2, MAX_CHUNK_OUT, 0, &r);
    } else {
        for (size_t i = 0; i < n; i++) {
            p[2 * i] = (uint8_t)(path[i] >> 8);
            p[2 * i + 1] = (uint8_t)path[i];
        }
        rv = command(c, 0x00, 0xA4, 0x08, 0x00, p, 2 * n, MAX_CHUNK_OUT, 0, &r);
    }
    if (rv != CKR_OK)
        return r.sw == 0x6A82 ? KZT_CKR_NOT_FOUND : rv;
    return parse_fcp(resp, r.len, fcp ? fcp : &scratch);
}

CK_RV kzt_read_binary(kz_card *c, uint8_t *out, size_t len)
{
    size_t off = 0;

    if (len > MAX_OFFSET + 1)
        return CKR_DEVICE_ERROR;
    while (off < len) {
        size_t want = len - off < MAX_CHUNK_OUT ? len - off : MAX_CHUNK_OUT;
        kz_rapdu r = { out + off, want, 0, 0 };
        CK_RV rv = command(c, 0x00, 0xB0, (uint8_t)(off >> 8), (uint8_t)off, NULL, 0, want, 0, &r);
        if (rv != CKR_OK)
            return rv;
        if (r.len == 0)
            return CKR_DEVICE_ERROR;
        off += r.len;
    }
    return CKR_OK;
}

CK_RV kzt_update_binary(kz_card *c, const uint8_t *data, size_t len)
{
    size_t off = 0;

    if (len > MAX_OFFSET + 1)
        return CKR_DEVICE_MEMORY;
    while (off < len) {
        size_t n = len - off < MAX_CHUNK_IN ? len - off : MAX_CHUNK_IN;
        kz_rapdu r = { NULL, 0, 0, 0 };
        CK_RV rv = command(c, 0x00, 0xD6, (uint8_t)(off >> 8), (uint8_t)off, data + off, n, 0, 0, &r);
        if (rv != CKR_OK)
            return rv;
        off += n;
    }
    return CKR_OK;
}

CK_RV kzt_create_file(kz_card *c, uint16_t fid, uint8_t kind, size_t size,
                      const uint8_t *prop, const uint8_t sec[15])
{
    uint8_t t[2 + 4 + 4 + 4 + 8 + 17];
    size_t n = 2;
    kz_rapdu r = { NULL, 0, 0, 0 };
    CK_RV rv;

    if (size > 0xFFFF)
        return CKR_DEVICE_MEMORY;
    /* The template goes in 6F, not 62 (§3.4). */
    t[n++] = 0x80, t[n++] = 2, t[n++] = (uint8_t)(size >> 8), t[n++] = (uint8_t)size;
    t[n++] = 0x82, t[n++] = 2, t[n++] = kind, t[n++] = 0x00;
    t[n++] = 0x83, t[n++] = 2, t[n++] = (uint8_t)(fid >> 8), t[n++] = (uint8_t)fid;
    if (prop) {
        t[n++] = 0x85, t[n++] = 6;
        memcpy(t + n, prop, 6);
        n += 6;
    }
    t[n++] = 0x86, t[n++] = 15;
    memcpy(t + n, sec, 15);
    n += 15;
    t[0] = 0x6F;
    t[1] = (uint8_t)(n - 2);
    rv = command(c, 0x00, 0xE0, 0x00, 0x00, t, n, 0, 0, &r);
    return rv != CKR_OK && r.sw == 0x6A89 ? KZT_CKR_EXISTS : rv;
}

CK_RV kzt_delete_file(kz_card *c, uint16_t fid)
{
    uint8_t d[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
    kz_rapdu r = { NULL, 0, 0, 0 };
    CK_RV rv = command(c, 0x00, 0xE4, 0x00, 0x00, d, 2, 0, 0, &r);

    return rv != CKR_OK && r.sw == 0x6A82 ? KZT_CKR_NOT_FOUND : rv;
}

CK_RV kzt_verify(kz_card *c, uint8_t ref, const uint8_t *pin, size_t len, uint16_t *sw)
{
    kz_apdu a = { 0x00, 0x20, 0x00, ref, pin, pin ? len : 0, 0, KZ_APDU_SECRET };
    kz_rapdu r = { NULL, 0, 0, 0 };
    CK_RV rv;

    if (pin && (len == 0 || len > MAX_CHUNK_IN))
        return CKR_PIN_LEN_RANGE;
    rv = kz_card_transmit(c, &a, &r);
    *sw = r.sw;
    return rv;
}

CK_RV kzt_logout(kz_card *c)
{
    kz_rapdu r = { NULL, 0, 0, 0 };

    return command(c, 0x80, 0x40, 0x00, 0x00, NULL, 0, 0, 0, &r);
}

CK_RV kzt_set_reference(kz_card *c, uint8_t ref, const uint8_t *value, size_t len)
{
    /* 80 02 <total length> then the value in A5 pieces (§3.5); one piece
     * is enough for a PIN, so no chaining and its every-chunk-an-A5 rule. */
    uint8_t d[4 + 2 + 64];
    kz_rapdu r = { NULL, 0, 0, 0 };
    CK_RV rv;

    if (len == 0 || len > 64)
        return CKR_PIN_LEN_RANGE;
    d[0] = 0x80, d[1] = 0x02, d[2] = 0x00, d[3] = (uint8_t)len;
    d[4] = 0xA5, d[5] = (uint8_t)len;
    memcpy(d + 6, value, len);
    rv = command(c, 0x00, 0x24, 0x01, ref, d, 6 + len, 0, KZ_APDU_SECRET, &r);
    kz_cleanse(d, sizeof(d));
    return rv;
}

CK_RV kzt_reset_retry_counter(kz_card *c, uint8_t ref)
{
    kz_rapdu r = { NULL, 0, 0, 0 };

    return command(c, 0x00, 0x2C, 0x03, ref, NULL, 0, 0, 0, &r);
}

CK_RV kzt_get_serial(kz_card *c, uint8_t *out, size_t cap, size_t *len)
{
    uint8_t resp[MAX_CHUNK_OUT];
    kz_rapdu r = { resp, sizeof(resp), 0, 0 };
    CK_RV rv = command(c, 0x00, 0xCA, 0x01, 0x81, NULL, 0, MAX_CHUNK_OUT, 0, &r);

    if (rv != CKR_OK)
        return rv;
    if (r.len == 0 || r.len > cap)
        return CKR_DEVICE_ERROR;
    memcpy(out, resp, r.len);
    *len = r.len;
    return CKR_OK;
}

CK_RV kzt_generate(kz_card *c, uint8_t ref, int rsa, uint8_t *out, size_t cap, size_t *len)
{
    /* The A6 blob does not choose the exponent (always 65537) but without
     * it an RSA-4096 key comes out malformed (§3.5). */
    static const uint8_t rsa_blob[] = { 0xA6, 0x06, 0x94, 0x04, 0x01, 0x00, 0x01, 0x00 };
    kz_rapdu r = { out, cap, 0, 0 };
    CK_RV rv = command(c, 0x00, 0x46, 0x80, ref, rsa ? rsa_blob : NULL, rsa ? sizeof(rsa_blob) : 0,
                       cap, 0, &r);

    *len = r.len;
    return rv;
}

CK_RV kzt_compute(kz_card *c, int decipher, uint8_t ref, const uint8_t *in, size_t inlen,
                  uint8_t *out, size_t outlen)
{
    /* No file reference (81) in the MSE: newer cards refuse it (§3.6). */
    uint8_t mse[3] = { 0x84, 0x01, ref };
    kz_rapdu r = { NULL, 0, 0, 0 }, ro = { out, outlen, 0, 0 };
    CK_RV rv = command(c, 0x00, 0x22, 0x41, decipher ? 0xB8 : 0xB6, mse, sizeof(mse), 0, 0, &r);

    if (rv != CKR_OK)
        return rv;
    rv = command(c, 0x00, 0x2A, decipher ? 0x80 : 0x9E, decipher ? 0x86 : 0x9A, in, inlen, outlen,
                 KZ_APDU_CHAIN | (decipher ? KZ_APDU_SECRET_RESP : 0), &ro);
    if (rv == CKR_OK && ro.len != outlen)
        rv = CKR_DEVICE_ERROR;
    return rv;
}
