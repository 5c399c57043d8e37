/* Kaztoken simulator: the commands of card-protocols.md §3.5 (Rutoken ECP
 * as OpenSC drives it). Every behaviour the document does not pin down is
 * marked "sim choice" so a driver author knows not to rely on it.
 *
 * Status words: the document's (§1.2, §3.5). Where it gives none for a
 * case, the ISO 7816-4 meaning is used. */
#include "kt_cmd.h"
#include "kt_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SW_OK                 0x9000
#define SW_WRONG_LENGTH       0x6700
#define SW_SECURITY           0x6982
#define SW_PIN_BLOCKED        0x6983
#define SW_DATA_NOT_USABLE    0x6984
#define SW_CONDITIONS         0x6985
#define SW_NO_CURRENT_EF      0x6986
#define SW_WRONG_DATA         0x6A80
#define SW_NOT_FOUND          0x6A82
#define SW_NO_MEMORY          0x6A84
#define SW_WRONG_P1P2         0x6A86
#define SW_REF_NOT_FOUND      0x6A88
#define SW_EXISTS             0x6A89
#define SW_WRONG_OFFSET       0x6B00
#define SW_INS_UNKNOWN        0x6D00
#define SW_CLA_UNKNOWN        0x6E00
#define SW_NO_DIAGNOSIS       0x6F00

/* Everything a command handler needs to answer. */
struct reply {
    struct kaztoken *kt;
    const struct apdu *a;
    uint8_t *resp;
    size_t cap;
};

static size_t sw(struct reply *r, uint16_t code)
{
    return apdu_sw(code, r->resp);
}

static size_t data(struct reply *r, const uint8_t *d, size_t n)
{
    return apdu_answer(&r->kt->session, r->a, d, n, SW_OK, r->resp, r->cap);
}

/* ---- state persistence ---------------------------------------------------- */

void kt_persist(struct kaztoken *kt)
{
    char tmp[4096];
    FILE *f;

    kt->dirty = 0;
    if (!kt->state_path)
        return;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", kt->state_path) >= (int)sizeof tmp)
        return;
    f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        return;
    }
    if (kt_save(kt->mf, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", tmp);
        return;
    }
    if (rename(tmp, kt->state_path) != 0)
        perror(kt->state_path);
}

/* ---- lookups and access rules ---------------------------------------------- */

/* Security condition of operation op on f (§3.4). Sim choice: an operation
 * whose bit is clear in byte 0 has no condition. */
static int allowed(const struct kaztoken *kt, const struct kt_file *f, int op)
{
    uint8_t cond;

    if (!(f->sec[0] & (1u << op)))
        return 1;
    cond = f->sec[1 + op];
    if (cond == 0x00)
        return 1;
    if (cond == 0xFF)
        return 0;
    return (cond & (KT_AUTH_SO | KT_AUTH_USER) & kt->verified) != 0;
}

struct key_query {
    uint16_t fid;
    uint8_t type_a, type_b;
};

static int match_object(const struct kt_file *f, const void *arg)
{
    const struct key_query *q = arg;

    return f->kind == KT_RSF && f->has_prop && f->fid == q->fid &&
           (f->prop[0] == q->type_a || f->prop[0] == q->type_b);
}

/* PINs are global: VERIFY names them by reference wherever they were
 * created (sim choice: the first PIN RSF with FID = reference, depth
 * first from the MF). */
static struct kt_file *find_pin(struct kaztoken *kt, uint8_t ref)
{
    struct key_query q = { ref, KT_TYPE_PIN, KT_TYPE_PIN };

    return kt_find(kt->mf, match_object, &q);
}

/* Keys are named by reference = low byte of their FID (§3.5 GENERATE/MSE). */
static struct kt_file *find_key(struct kaztoken *kt, uint8_t ref, int private_part)
{
    struct key_query q = { ref, KT_TYPE_RSA_PRIV, KT_TYPE_GOST_PRIV };

    if (!private_part) {
        q.type_a = KT_TYPE_RSA_PUB;
        q.type_b = KT_TYPE_GOST_PUB;
    }
    return kt_find(kt->mf, match_object, &q);
}

static unsigned pin_max_tries(const struct kt_file *pin)
{
    /* §3.4: attempts in both nibbles of byte 3 of tag 85. */
    unsigned n = pin->prop[3] & 0x0F;

    return n ? n : 15;
}

static uint8_t pin_auth_bit(const struct kt_file *pin)
{
    return pin->fid == 1 ? KT_AUTH_SO : pin->fid == 2 ? KT_AUTH_USER : 0;
}

static void select_file(struct kaztoken *kt, struct kt_file *f)
{
    kt->cur_file = f;
    kt->cur_df = f->kind == KT_DF ? f : f->parent;
}

static uint16_t fid_of(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* One BER-TLV with a 1-byte tag; lengths short form, 81 or 82. Returns the
 * number of bytes consumed, 0 on malformed input. */
static size_t tlv(const uint8_t *p, size_t n, uint8_t *tag, const uint8_t **v,
                  size_t *vlen)
{
    size_t hdr, len;

    if (n < 2)
        return 0;
    *tag = p[0];
    if (p[1] < 0x80) {
        len = p[1];
        hdr = 2;
    } else if (p[1] == 0x81 && n >= 3) {
        len = p[2];
        hdr = 3;
    } else if (p[1] == 0x82 && n >= 4) {
        len = (size_t)p[2] << 8 | p[3];
        hdr = 4;
    } else {
        return 0;
    }
    if (len > n - hdr)
        return 0;
    *v = p + hdr;
    *vlen = len;
    return hdr + len;
}

/* ---- SELECT (A4) ------------------------------------------------------------
 * P1 00: FID (3F00 = MF, else a child of the current DF, or the current DF
 *        itself); no data = first child; P2 02 = the child after the given
 *        FID (the driver's LIST FILES iteration, §3.5)
 * P1 03: parent of the current DF
 * P1 08: path from the MF (a leading 3F00 is accepted too)
 * P2 00 answers the FCP, 0C nothing. P1 04 and 09 are not simulated. */
static size_t cmd_select(struct reply *r)
{
    struct kaztoken *kt = r->kt;
    const struct apdu *a = r->a;
    struct kt_file *f = NULL;
    uint8_t fcp[64];
    int next = a->p1 == 0x00 && a->p2 == 0x02;

    if (a->p2 != 0x00 && a->p2 != 0x0C && !next)
        return sw(r, SW_WRONG_P1P2);
    switch (a->p1) {
    case 0x00:
        if (next) {
            struct kt_file *prev;
            if (a->lc != 2)
                return sw(r, SW_WRONG_LENGTH);
            prev = kt_child(kt->cur_df, fid_of(a->data));
            f = prev ? prev->next_sibling : NULL;
        } else if (a->lc == 0) {
            f = kt->cur_df->first_child;
        } else if (a->lc == 2) {
            uint16_t fid = fid_of(a->data);
            if (fid == 0x3F00)
                f = kt->mf;
            else if (fid == kt->cur_df->fid)
                f = kt->cur_df;
            else
                f = kt_child(kt->cur_df, fid);
        } else {
            return sw(r, SW_WRONG_LENGTH);
        }
        break;
    case 0x03:
        if (a->lc)
            return sw(r, SW_WRONG_LENGTH);
        f = kt->cur_df->parent;
        break;
    case 0x08: {
        const uint8_t *p = a->data;
        size_t n = a->lc;
        if (n == 0 || n % 2)
            return sw(r, SW_WRONG_LENGTH);
        if (fid_of(p) == 0x3F00) {
            p += 2;
            n -= 2;
        }
        f = n ? kt_walk(kt->mf, p, n) : kt->mf;
        break;
    }
    default:
        return sw(r, SW_WRONG_P1P2);
    }
    if (!f)
        return sw(r, SW_NOT_FOUND);
    select_file(kt, f);
    if (a->p2 == 0x0C)
        return sw(r, SW_OK);
    return data(r, fcp, kt_fcp(f, fcp));
}

/* ---- READ BINARY (B0) / UPDATE BINARY (D6) ------------------------------------
 * Only on the current EF. Sim choice: reading from an offset at or past the
 * end is 6B 00; a read past the end returns what is there with 90 00; a
 * write past the end is 6A 84. */
static size_t cmd_read_binary(struct reply *r)
{
    struct kt_file *f = r->kt->cur_file;
    size_t off = (size_t)r->a->p1 << 8 | r->a->p2, n;

    if (r->a->p1 & 0x80)
        return sw(r, SW_WRONG_P1P2);
    if (!f || f->kind != KT_EF)
        return sw(r, SW_NO_CURRENT_EF);
    if (!r->a->has_le || r->a->lc)
        return sw(r, SW_WRONG_LENGTH);
    if (!allowed(r->kt, f, KT_OP_READ))
        return sw(r, SW_SECURITY);
    if (off >= f->size)
        return sw(r, SW_WRONG_OFFSET);
    n = f->size - off;
    if (n > r->a->ne)
        n = r->a->ne;
    return data(r, f->data + off, n);
}

static size_t cmd_update_binary(struct reply *r)
{
    struct kt_file *f = r->kt->cur_file;
    size_t off = (size_t)r->a->p1 << 8 | r->a->p2;

    if (r->a->p1 & 0x80)
        return sw(r, SW_WRONG_P1P2);
    if (!f || f->kind != KT_EF)
        return sw(r, SW_NO_CURRENT_EF);
    if (!r->a->lc)
        return sw(r, SW_WRONG_LENGTH);
    if (!allowed(r->kt, f, KT_OP_UPDATE))
        return sw(r, SW_SECURITY);
    if (off > f->size)
        return sw(r, SW_WRONG_OFFSET);
    if (r->a->lc > f->size - off)
        return sw(r, SW_NO_MEMORY);
    memcpy(f->data + off, r->a->data, r->a->lc);
    r->kt->dirty = 1;
    return sw(r, SW_OK);
}

/* ---- CREATE FILE (E0) ---------------------------------------------------------
 * 00 E0 00 00 Lc 6F { 80 size, 82 descriptor, 83 FID, 85 props, 86 sec } (§3.4).
 * Key RSFs go to the system DFs by their type byte when those exist (the
 * document's inference: PrKey-DF 3F00/1000/1000/6002, PuKey-DF .../6001),
 * else to the current DF, like everything else. */
static const uint8_t prkey_df_path[] = { 0x10, 0x00, 0x10, 0x00, 0x60, 0x02 };
static const uint8_t pukey_df_path[] = { 0x10, 0x00, 0x10, 0x00, 0x60, 0x01 };

static size_t cmd_create_file(struct reply *r)
{
    struct kaztoken *kt = r->kt;
    const struct apdu *a = r->a;
    const uint8_t *body, *v, *desc = NULL, *fid = NULL, *size = NULL, *prop = NULL,
                  *sec = NULL;
    size_t body_len, used, vlen, off;
    uint8_t tag;
    enum kt_kind kind;
    struct kt_file *target, *f;
    uint16_t fsize = 0;

    if (a->p1 || a->p2)
        return sw(r, SW_WRONG_P1P2);
    used = tlv(a->data, a->lc, &tag, &body, &body_len);
    /* The driver wraps the template in 6F, not 62 (§3.4); sim choice: only
     * that is accepted, so a driver sending 62 learns it here. */
    if (!used || used != a->lc || tag != 0x6F)
        return sw(r, SW_WRONG_DATA);
    for (off = 0; off < body_len; off += used) {
        used = tlv(body + off, body_len - off, &tag, &v, &vlen);
        if (!used)
            return sw(r, SW_WRONG_DATA);
        switch (tag) {
        case 0x80:
            if (vlen != 2)
                return sw(r, SW_WRONG_DATA);
            size = v;
            break;
        case 0x82:
            if (vlen != 2)
                return sw(r, SW_WRONG_DATA);
            desc = v;
            break;
        case 0x83:
            if (vlen != 2)
                return sw(r, SW_WRONG_DATA);
            fid = v;
            break;
        case 0x85:
            if (vlen != KT_PROP_LEN)
                return sw(r, SW_WRONG_DATA);
            prop = v;
            break;
        case 0x86:
            if (vlen != KT_SEC_LEN)
                return sw(r, SW_WRONG_DATA);
            sec = v;
            break;
        default:
            return sw(r, SW_WRONG_DATA);
        }
    }
    if (!desc || !fid)
        return sw(r, SW_WRONG_DATA);
    switch (desc[0]) {
    case 0x38: kind = KT_DF; break;
    case 0x01: kind = KT_EF; break;
    case 0x10: kind = KT_RSF; break;
    default: return sw(r, SW_WRONG_DATA);
    }
    if (fid_of(fid) == 0x3F00 || fid_of(fid) == 0xFFFF || (kind == KT_RSF && !prop))
        return sw(r, SW_WRONG_DATA);
    if (size)
        fsize = fid_of(size);

    target = kt->cur_df;
    if (kind == KT_RSF && prop[0] != KT_TYPE_PIN) {
        int priv = prop[0] == KT_TYPE_RSA_PRIV || prop[0] == KT_TYPE_GOST_PRIV;
        int pub = prop[0] == KT_TYPE_RSA_PUB || prop[0] == KT_TYPE_GOST_PUB;
        struct kt_file *sys = NULL;
        if (priv)
            sys = kt_walk(kt->mf, prkey_df_path, sizeof prkey_df_path);
        else if (pub)
            sys = kt_walk(kt->mf, pukey_df_path, sizeof pukey_df_path);
        if (sys && sys->kind == KT_DF)
            target = sys;
    }
    /* Condition on the parent DF: op 0 creates DFs and EFs, op 1 RSFs. */
    if (!allowed(kt, target, kind == KT_RSF ? KT_OP_UPDATE : KT_OP_READ))
        return sw(r, SW_SECURITY);
    if (kt_child(target, fid_of(fid)))
        return sw(r, SW_EXISTS);
    if (kind != KT_DF && kt_used_bytes(kt->mf) + fsize > kt->memory)
        return sw(r, SW_NO_MEMORY);

    f = kt_file_new(fid_of(fid), kind);
    if (!f)
        return sw(r, SW_NO_MEMORY);
    memcpy(f->desc, desc, 2);
    f->size = kind == KT_DF ? 0 : fsize;
    if (prop) {
        f->has_prop = 1;
        memcpy(f->prop, prop, KT_PROP_LEN);
    }
    if (sec)
        memcpy(f->sec, sec, KT_SEC_LEN);
    if (kind == KT_EF && fsize) {
        uint8_t *zero = calloc(1, fsize);
        if (!zero || kt_set_data(f, zero, fsize) < 0) {
            free(zero);
            kt_file_free(f);
            return sw(r, SW_NO_MEMORY);
        }
        free(zero);
    }
    if (kind == KT_RSF && prop[0] == KT_TYPE_PIN)
        f->tries_left = (uint8_t)pin_max_tries(f);
    kt_add_child(target, f);
    /* ISO: the new file becomes the current one. An RSF filed elsewhere
     * does not move the current DF (the driver creates the private and the
     * public part back to back, §3.3). */
    if (kind == KT_RSF)
        kt->cur_file = f;
    else
        select_file(kt, f);
    kt->dirty = 1;
    return sw(r, SW_OK);
}

/* ---- DELETE FILE (E4) ---------------------------------------------------------
 * With a FID: that child of the current DF; without data: the current file.
 * Condition: the file's own op 6. Sim choice: a DF that still has children
 * is refused (69 85), the MF too. */
static size_t cmd_delete_file(struct reply *r)
{
    struct kaztoken *kt = r->kt;
    struct kt_file *f;

    if (r->a->p1 || r->a->p2)
        return sw(r, SW_WRONG_P1P2);
    if (r->a->lc == 2)
        f = kt_child(kt->cur_df, fid_of(r->a->data));
    else if (r->a->lc == 0)
        f = kt->cur_file;
    else
        return sw(r, SW_WRONG_LENGTH);
    if (!f)
        return sw(r, SW_NOT_FOUND);
    if (f == kt->mf || (f->kind == KT_DF && f->first_child))
        return sw(r, SW_CONDITIONS);
    if (!allowed(kt, f, KT_OP_DELETE))
        return sw(r, SW_SECURITY);
    if (kt_is_within(kt->cur_file, f) || kt_is_within(kt->cur_df, f))
        select_file(kt, f->parent);
    kt_unlink(f);
    kt_file_free(f);
    kt->dirty = 1;
    return sw(r, SW_OK);
}

/* ---- VERIFY (20) ------------------------------------------------------------------
 * 00 20 00 ref PIN: ref 01 SO, 02 user. Wrong PIN: 63 Cx with the tries left
 * (or 63 00 with --verify-6300, the answer OpenSC's driver re-queries, §3.5);
 * no tries left: 69 83. 00 20 00 ref without data: 90 00 when verified, else
 * 63 Cx. A failed comparison also drops that PIN's verified state (ISO). */
static size_t cmd_verify(struct reply *r)
{
    struct kaztoken *kt = r->kt;
    struct kt_file *pin;
    uint8_t bit;

    if (r->a->p1 != 0x00)
        return sw(r, SW_WRONG_P1P2);
    pin = find_pin(kt, r->a->p2);
    if (!pin)
        return sw(r, SW_REF_NOT_FOUND);
    if (!pin->value_set)
        return sw(r, SW_DATA_NOT_USABLE);
    if (pin->tries_left == 0)
        return sw(r, SW_PIN_BLOCKED);
    bit = pin_auth_bit(pin);
    if (r->a->lc == 0) {
        if (bit && (kt->verified & bit))
            return sw(r, SW_OK);
        return sw(r, (uint16_t)(0x63C0 | pin->tries_left));
    }
    if (r->a->lc == pin->data_len && memcmp(r->a->data, pin->data, pin->data_len) == 0) {
        if (pin->tries_left != pin_max_tries(pin)) {
            pin->tries_left = (uint8_t)pin_max_tries(pin);
            kt->dirty = 1;
        }
        kt->verified |= bit;
        return sw(r, SW_OK);
    }
    pin->tries_left--;
    kt->verified &= (uint8_t)~bit;
    kt->dirty = 1;
    if (kt->verify_6300)
        return sw(r, 0x6300);
    return sw(r, (uint16_t)(0x63C0 | pin->tries_left));
}

/* ---- CHANGE REFERENCE DATA (24) --------------------------------------------------
 * 00 24 01 ref 80 02 <total> A5 <n> <part> [A5 <n> <part>...] (§3.5); the A5
 * length byte is a plain count (the card does not read long-form BER), and
 * a chain's every chunk starts with its own A5, so the chain's data is
 * still one such sequence.
 * ref != 0: new value of that PIN (condition: the PIN's op 1; sim choice: a
 *           PIN RSF that has no value yet may be set freely, which is how
 *           a freshly created PIN gets its first value). Resets its tries.
 * ref == 0: the value of the current key RSF (the driver's "store key"),
 *           condition op 1, exactly the RSF's size. */
static size_t cmd_change_reference_data(struct reply *r)
{
    struct kaztoken *kt = r->kt;
    const uint8_t *p = r->a->data;
    size_t n = r->a->lc, off, total, got = 0;
    uint8_t value[APDU_MAX_DATA];
    struct kt_file *f;

    if (r->a->p1 != 0x01)
        return sw(r, SW_WRONG_P1P2);
    if (n < 4 || p[0] != 0x80 || p[1] != 0x02)
        return sw(r, SW_WRONG_DATA);
    total = (size_t)p[2] << 8 | p[3];
    for (off = 4; off < n;) {
        size_t len;
        if (p[off] != 0xA5 || off + 2 > n)
            return sw(r, SW_WRONG_DATA);
        len = p[off + 1];
        if (off + 2 + len > n || got + len > sizeof value)
            return sw(r, SW_WRONG_DATA);
        memcpy(value + got, p + off + 2, len);
        got += len;
        off += 2 + len;
    }
    if (got != total || total == 0)
        return sw(r, SW_WRONG_DATA);

    if (r->a->p2 != 0) {
        f = find_pin(kt, r->a->p2);
        if (!f)
            return sw(r, SW_REF_NOT_FOUND);
        if (f->value_set && !allowed(kt, f, KT_OP_UPDATE))
            return sw(r, SW_SECURITY);
        if (total < f->prop[1])
            return sw(r, SW_WRONG_DATA);
        if (kt_set_data(f, value, total) < 0)
            return sw(r, SW_NO_MEMORY);
        f->value_set = 1;
        f->tries_left = (uint8_t)pin_max_tries(f);
    } else {
        f = kt->cur_file;
        if (!f || f->kind != KT_RSF || !f->has_prop || f->prop[0] == KT_TYPE_PIN)
            return sw(r, SW_NO_CURRENT_EF);
        if (!allowed(kt, f, KT_OP_UPDATE))
            return sw(r, SW_SECURITY);
        if (total != f->size)
            return sw(r, SW_WRONG_LENGTH);
        if (kt_set_data(f, value, total) < 0)
            return sw(r, SW_NO_MEMORY);
        f->value_set = 1;
    }
    memset(value, 0, total);
    kt->dirty = 1;
    return sw(r, SW_OK);
}

/* ---- RESET RETRY COUNTER (2C) ------------------------------------------------------
 * 00 2C 03 ref, no data: restores the tries of PIN ref. Condition: the
 * PIN's op 0 ("unblock": SO for the user PIN, never for the SO PIN). A new
 * value comes separately with CHANGE REFERENCE DATA (§3.5). */
static size_t cmd_reset_retry_counter(struct reply *r)
{
    struct kt_file *pin;

    if (r->a->p1 != 0x03)
        return sw(r, SW_WRONG_P1P2);
    if (r->a->lc)
        return sw(r, SW_WRONG_LENGTH);
    pin = find_pin(r->kt, r->a->p2);
    if (!pin)
        return sw(r, SW_REF_NOT_FOUND);
    if (!allowed(r->kt, pin, KT_OP_READ))
        return sw(r, SW_SECURITY);
    pin->tries_left = (uint8_t)pin_max_tries(pin);
    r->kt->dirty = 1;
    return sw(r, SW_OK);
}

/* ---- GET CHALLENGE (84) / GET DATA (CA) ------------------------------------------ */
static size_t cmd_get_challenge(struct reply *r)
{
    uint8_t rnd[256];

    if (r->a->p1 || r->a->p2)
        return sw(r, SW_WRONG_P1P2);
    if (!r->a->has_le || r->a->lc || r->a->ne > sizeof rnd)
        return sw(r, SW_WRONG_LENGTH);
    if (kt_random(rnd, r->a->ne))
        return sw(r, SW_NO_DIAGNOSIS);
    return data(r, rnd, r->a->ne);
}

/* 00 CA 01 81: the serial number (§3.5). Sim choice: its length (4 bytes by
 * default, --serial sets it); every other tag is 6A 88. */
static size_t cmd_get_data(struct reply *r)
{
    if (r->a->p1 != 0x01 || r->a->p2 != 0x81)
        return sw(r, SW_REF_NOT_FOUND);
    return data(r, r->kt->serial, r->kt->serial_len);
}

/* ---- GENERATE KEY (46) ------------------------------------------------------------
 * 00 46 80 ref [A6 06 94 04 01 00 01 00] (§3.5): makes a new pair in the
 * private and public RSFs of reference ref (created beforehand with CREATE
 * FILE). The RSA size follows the private RSF's size (5·L/2+8); GOST uses
 * the paramset in byte 1 of the private RSF's 85 (20/30/40 = CryptoPro
 * A/B/C). Answer: RSA modulus little-endian (exponent is always 01 00 01),
 * or the 64-byte GOST public key X || Y little-endian. The A6 blob is
 * accepted and, as on the card, does not choose the exponent. Condition:
 * the private RSF's op 1 (update). */
static size_t cmd_generate(struct reply *r)
{
    struct kaztoken *kt = r->kt;
    struct kt_file *priv, *pub;
    uint8_t pv[KT_RSA_PRIV_LEN(512)], pb[KT_RSA_PUB_LEN(512)];
    size_t L, answer_len;
    size_t answer;

    if (r->a->p1 != 0x80)
        return sw(r, SW_WRONG_P1P2);
    if (r->a->lc && (r->a->data[0] != 0xA6 || r->a->lc < 2 ||
                     (size_t)r->a->data[1] + 2 != r->a->lc))
        return sw(r, SW_WRONG_DATA);
    priv = find_key(kt, r->a->p2, 1);
    if (!priv)
        return sw(r, SW_REF_NOT_FOUND);
    pub = find_key(kt, r->a->p2, 0);
    if (!allowed(kt, priv, KT_OP_UPDATE))
        return sw(r, SW_SECURITY);

    if (priv->prop[0] == KT_TYPE_RSA_PRIV) {
        if (priv->size < 8 || (priv->size - 8) % 5)
            return sw(r, SW_WRONG_DATA);
        L = (size_t)(priv->size - 8) / 5 * 2;
        /* 512 to 4096 bits in steps of 256 (the driver's sizes, §3.2). */
        if (L < 64 || L > 512 || L % 32)
            return sw(r, SW_WRONG_DATA);
        if (kt_rsa_generate(L, pv, pb))
            return sw(r, SW_NO_DIAGNOSIS);
        if (kt_set_data(priv, pv, KT_RSA_PRIV_LEN(L)) < 0 ||
            (pub && kt_set_data(pub, pb, KT_RSA_PUB_LEN(L)) < 0))
            return sw(r, SW_NO_MEMORY);
        answer_len = L;
    } else {
        int paramset;
        switch (priv->prop[1]) {
        case 0x20: paramset = 1; break;
        case 0x30: paramset = 2; break;
        case 0x40: paramset = 3; break;
        default: return sw(r, SW_WRONG_DATA);
        }
        if (priv->size != KT_GOST_PRIV_LEN)
            return sw(r, SW_WRONG_DATA);
        if (kt_gost_generate(paramset, pv, pb))
            return sw(r, SW_NO_DIAGNOSIS);
        if (kt_set_data(priv, pv, KT_GOST_PRIV_LEN) < 0 ||
            (pub && kt_set_data(pub, pb, KT_GOST_PUB_LEN) < 0))
            return sw(r, SW_NO_MEMORY);
        answer_len = KT_GOST_PUB_LEN;
    }
    priv->value_set = 1;
    if (pub)
        pub->value_set = 1;
    kt->dirty = 1;
    answer = data(r, pb, answer_len);
    memset(pv, 0, sizeof pv);
    return answer;
}

/* ---- MANAGE SECURITY ENVIRONMENT (22) ---------------------------------------------
 * 00 22 41 B6|B8 84 01 ref: the key for the next signature (B6) or
 * decipherment (B8). A file reference (81) is refused, as newer cards do
 * (§3.6); an algorithm reference (80) is ignored. */
static size_t cmd_mse(struct reply *r)
{
    const uint8_t *v;
    size_t off, used, vlen;
    uint8_t tag;
    int ref = -1;

    if (r->a->p1 != 0x41 || (r->a->p2 != 0xB6 && r->a->p2 != 0xB8))
        return sw(r, SW_WRONG_P1P2);
    for (off = 0; off < r->a->lc; off += used) {
        used = tlv(r->a->data + off, r->a->lc - off, &tag, &v, &vlen);
        if (!used)
            return sw(r, SW_WRONG_DATA);
        if (tag == 0x84 && vlen == 1)
            ref = v[0];
        else if (tag != 0x80)
            return sw(r, SW_WRONG_DATA);
    }
    if (ref < 0)
        return sw(r, SW_WRONG_DATA);
    if (!find_key(r->kt, (uint8_t)ref, 1))
        return sw(r, SW_REF_NOT_FOUND);
    if (r->a->p2 == 0xB6)
        r->kt->mse_sign_ref = ref;
    else
        r->kt->mse_decipher_ref = ref;
    return sw(r, SW_OK);
}

/* ---- PERFORM SECURITY OPERATION (2A) ---------------------------------------------
 * 9E 9A: signature with the MSE B6 key; 80 86: decipherment with the MSE B8
 * key, no padding-indicator byte (§3.5). RSA is raw on little-endian
 * integers (the driver reverses both ways); GOST signs a 32-byte hash (see
 * kt_crypto.h for the byte order). Condition: the key's op 2 (use). */
static size_t cmd_pso(struct reply *r)
{
    struct kaztoken *kt = r->kt;
    struct kt_file *key;
    uint8_t out[512];
    int sign, ref;

    if (r->a->p1 == 0x9E && r->a->p2 == 0x9A)
        sign = 1;
    else if (r->a->p1 == 0x80 && r->a->p2 == 0x86)
        sign = 0;
    else
        return sw(r, SW_WRONG_P1P2);
    ref = sign ? kt->mse_sign_ref : kt->mse_decipher_ref;
    if (ref < 0)
        return sw(r, SW_CONDITIONS);
    key = find_key(kt, (uint8_t)ref, 1);
    if (!key)
        return sw(r, SW_REF_NOT_FOUND);
    if (!key->value_set)
        return sw(r, SW_CONDITIONS);
    if (!allowed(kt, key, KT_OP_USE))
        return sw(r, SW_SECURITY);
    if (r->a->lc == 0)
        return sw(r, SW_WRONG_LENGTH);

    if (key->prop[0] == KT_TYPE_RSA_PRIV) {
        size_t L = (key->data_len - 8) / 5 * 2;
        if (r->a->lc > L || L > sizeof out)
            return sw(r, SW_WRONG_LENGTH);
        if (kt_rsa_private(key->data, key->data_len, r->a->data, r->a->lc, out))
            return sw(r, SW_WRONG_DATA);
        return data(r, out, L);
    }
    if (!sign)
        return sw(r, SW_CONDITIONS);
    if (r->a->lc != 32)
        return sw(r, SW_WRONG_LENGTH);
    {
        int paramset = key->prop[1] == 0x20 ? 1 : key->prop[1] == 0x30 ? 2 :
                       key->prop[1] == 0x40 ? 3 : 0;
        if (kt_gost_sign(paramset, key->data, r->a->data, out))
            return sw(r, SW_NO_DIAGNOSIS);
    }
    return data(r, out, KT_GOST_SIG_LEN);
}

/* ---- dispatch ------------------------------------------------------------------------ */

void kt_power(struct kaztoken *kt)
{
    kt->verified = 0;
    kt->cur_df = kt->cur_file = kt->mf;
    kt->mse_sign_ref = kt->mse_decipher_ref = -1;
    apdu_session_reset(&kt->session);
}

/* CLA 80 commands. LOGOUT is simulated; ERASE (80 8A) and END OF
 * INITIALIZATION (80 84) are documented only by their bytes, not by what
 * they do to the card, so they are not simulated (6D 00). */
static size_t proprietary(struct reply *r)
{
    if (r->a->ins == 0x40) {
        if (r->a->p1 || r->a->p2)
            return sw(r, SW_WRONG_P1P2);
        r->kt->verified = 0;
        return sw(r, SW_OK);
    }
    return sw(r, SW_INS_UNKNOWN);
}

static size_t execute(struct reply *r)
{
    switch (r->a->ins) {
    case 0xA4: return cmd_select(r);
    case 0xB0: return cmd_read_binary(r);
    case 0xD6: return cmd_update_binary(r);
    case 0xE0: return cmd_create_file(r);
    case 0xE4: return cmd_delete_file(r);
    case 0x20: return cmd_verify(r);
    case 0x24: return cmd_change_reference_data(r);
    case 0x2C: return cmd_reset_retry_counter(r);
    case 0x84: return cmd_get_challenge(r);
    case 0xCA: return cmd_get_data(r);
    case 0x46: return cmd_generate(r);
    case 0x22: return cmd_mse(r);
    case 0x2A: return cmd_pso(r);
    default: return sw(r, SW_INS_UNKNOWN);
    }
}

size_t kt_apdu(struct kaztoken *kt, const uint8_t *cmd, size_t len, uint8_t *resp,
               size_t cap)
{
    struct apdu a;
    struct reply r = { kt, &a, resp, cap };
    uint16_t code;
    size_t n;

    if (apdu_parse(cmd, len, &a) < 0 || a.extended) {
        /* Rutoken ECP's CCID interface is short-APDU only (§3.1). */
        apdu_session_reset(&kt->session);
        return apdu_sw(SW_WRONG_LENGTH, resp);
    }
    if (a.cla == 0x80) {
        kt->session.pending_len = kt->session.pending_off = 0;
        return proprietary(&r);
    }
    if ((a.cla & (uint8_t)~0x10) != 0x00)
        return apdu_sw(SW_CLA_UNKNOWN, resp);
    if (a.ins == 0xC0 && a.cla == 0x00)
        return apdu_get_response(&kt->session, &a, resp, cap);

    switch (apdu_chain(&kt->session, &a, &code)) {
    case APDU_CHAIN_MORE:
        return apdu_sw(SW_OK, resp);
    case APDU_CHAIN_ERROR:
        return apdu_sw(code, resp);
    case APDU_CHAIN_COMPLETE:
        break;
    }
    kt->session.pending_len = kt->session.pending_off = 0;
    n = execute(&r);
    if (kt->dirty)
        kt_persist(kt);
    return n;
}
