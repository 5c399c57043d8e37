/* The files kzp11 keeps on a Kaztoken. The token's factory layout and the
 * way Aktiv's and the NCA's software store objects on it are not public
 * (card-protocols.md §3.3, §4), so kzp11 keeps its own, in a DF of its
 * own next to the card's system DFs:
 *
 *   3F00/4B5A        kzp11's DF ("KZ")
 *   3F00/4B5A/4B49   the index: which key references hold kzp11 keys, their
 *                    CKA_IDs, whether a certificate is stored, and a
 *                    generation number that every change moves on
 *   3F00/4B5A/A1nn   key nn's label and SubjectPublicKeyInfo (the card has
 *                    no documented command that reads a public key back)
 *   3F00/4B5A/A2nn   key nn's certificate and its label
 *
 * The keys themselves are the card's key objects 00nn, which the card files
 * in its system DFs (§3.3). The index is written last, so a change cut
 * short leaves at worst an unlisted file behind, never a listed one that
 * is missing or half-written. Keys put on the card by other software are
 * not seen (their layout is unknown). */
#include "kaztoken_internal.h"

#include <stdlib.h>
#include <string.h>

const uint16_t kzt_path_app[1] = { 0x4B5A };
const uint16_t kzt_path_index[2] = { 0x4B5A, 0x4B49 };
const uint16_t kzt_path_prkey_df[3] = { 0x1000, 0x1000, 0x6002 };
const uint16_t kzt_path_pukey_df[3] = { 0x1000, 0x1000, 0x6001 };

static const uint8_t magic[4] = { 'K', 'Z', 'P', '1' };
#define HEADER 9
#define ENTRY_FIXED 8

uint16_t kzt_fid_pubkey(uint8_t ref)
{
    return (uint16_t)(0xA100 | ref);
}

uint16_t kzt_fid_cert(uint8_t ref)
{
    return (uint16_t)(0xA200 | ref);
}

static int alg_known(uint8_t alg)
{
    return alg == KZT_ALG_RSA || alg == KZT_ALG_GOST_A || alg == KZT_ALG_GOST_B
           || alg == KZT_ALG_GOST_C;
}

CK_RV kzt_index_encode(const kzt_index *x, uint8_t out[KZT_INDEX_SIZE])
{
    size_t p = HEADER;

    if (x->n > KZT_MAX_KEYS)
        return CKR_DEVICE_MEMORY;
    memset(out, 0, KZT_INDEX_SIZE);
    memcpy(out, magic, sizeof(magic));
    out[4] = (uint8_t)(x->generation >> 24);
    out[5] = (uint8_t)(x->generation >> 16);
    out[6] = (uint8_t)(x->generation >> 8);
    out[7] = (uint8_t)x->generation;
    out[8] = (uint8_t)x->n;
    for (size_t i = 0; i < x->n; i++) {
        const kzt_entry *e = &x->e[i];
        if (e->id_len > KZT_MAX_ID || p + ENTRY_FIXED + e->id_len > KZT_INDEX_SIZE)
            return CKR_DEVICE_MEMORY;
        out[p++] = e->ref;
        out[p++] = e->alg;
        out[p++] = e->flags;
        out[p++] = (uint8_t)(e->stamp >> 24);
        out[p++] = (uint8_t)(e->stamp >> 16);
        out[p++] = (uint8_t)(e->stamp >> 8);
        out[p++] = (uint8_t)e->stamp;
        out[p++] = e->id_len;
        memcpy(out + p, e->id, e->id_len);
        p += e->id_len;
    }
    return CKR_OK;
}

CK_RV kzt_index_decode(const uint8_t *in, size_t len, kzt_index *x)
{
    size_t p = HEADER;

    memset(x, 0, sizeof(*x));
    if (len < HEADER || memcmp(in, magic, sizeof(magic)) != 0 || in[8] > KZT_MAX_KEYS)
        return CKR_DEVICE_ERROR;
    x->generation = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
    x->n = in[8];
    for (size_t i = 0; i < x->n; i++) {
        kzt_entry *e = &x->e[i];
        if (len - p < ENTRY_FIXED)
            return CKR_DEVICE_ERROR;
        e->ref = in[p];
        e->alg = in[p + 1];
        e->flags = in[p + 2];
        e->stamp = (uint32_t)in[p + 3] << 24 | (uint32_t)in[p + 4] << 16 | (uint32_t)in[p + 5] << 8
                   | in[p + 6];
        e->id_len = in[p + 7];
        p += ENTRY_FIXED;
        if (e->ref == 0 || !alg_known(e->alg) || e->id_len > KZT_MAX_ID || len - p < e->id_len
            || kzt_index_find_ref(x, e->ref) != e)
            return CKR_DEVICE_ERROR;
        memcpy(e->id, in + p, e->id_len);
        p += e->id_len;
    }
    return CKR_OK;
}

kzt_entry *kzt_index_find_id(kzt_index *x, const uint8_t *id, size_t id_len)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->e[i].id_len == id_len && memcmp(x->e[i].id, id, id_len) == 0)
            return &x->e[i];
    return NULL;
}

kzt_entry *kzt_index_find_ref(kzt_index *x, uint8_t ref)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->e[i].ref == ref)
            return &x->e[i];
    return NULL;
}

/* label length (1), label, body length (2), body */
CK_RV kzt_record_encode(const char *label, const uint8_t *body, size_t body_len, uint8_t **out,
                        size_t *len)
{
    size_t ll = label ? strlen(label) : 0;
    uint8_t *b;

    if (ll > KZT_MAX_LABEL)
        ll = KZT_MAX_LABEL;
    if (body_len > 0xFFFF)
        return CKR_DEVICE_MEMORY;
    if (!(b = malloc(3 + ll + body_len)))
        return CKR_HOST_MEMORY;
    b[0] = (uint8_t)ll;
    if (ll)
        memcpy(b + 1, label, ll);
    b[1 + ll] = (uint8_t)(body_len >> 8);
    b[2 + ll] = (uint8_t)body_len;
    memcpy(b + 3 + ll, body, body_len);
    *out = b;
    *len = 3 + ll + body_len;
    return CKR_OK;
}

CK_RV kzt_record_decode(const uint8_t *in, size_t len, char label[KZT_MAX_LABEL + 1],
                        const uint8_t **body, size_t *body_len)
{
    size_t ll, bl;

    if (len < 3 || (ll = in[0]) > KZT_MAX_LABEL || ll > len - 3)
        return CKR_DEVICE_ERROR;
    bl = (size_t)in[1 + ll] << 8 | in[2 + ll];
    if (bl == 0 || len - 3 - ll < bl)
        return CKR_DEVICE_ERROR;
    memcpy(label, in + 1, ll);
    label[ll] = '\0';
    /* A label is shown as CKA_LABEL: no control bytes from a damaged file. */
    for (size_t i = 0; i < ll; i++)
        if ((unsigned char)label[i] < 0x20)
            label[i] = '?';
    *body = in + 3 + ll;
    *body_len = bl;
    return CKR_OK;
}
