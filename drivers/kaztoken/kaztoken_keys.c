/* Keys on a Kaztoken: generated on the card, used on the card. The card
 * computes raw RSA and raw GOST R 34.10 (§3.2): padding and hashing are done
 * here, on the host, and the card works on little-endian numbers (§3.5). */
#include "kaztoken_internal.h"
#include "gost_curves.h"
#include "log.h"
#include "slot_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOST_POINT 64
#define GOST_DIGEST 32
#define MAX_MODULUS 512

/* Key objects (§3.4): the private one is updated, used and deleted with the
 * user PIN; the public one is used freely. */
static const uint8_t priv_sec[15] = { 0x46, 0x00, 0x02, 0x02, 0, 0, 0, 0x02 };
static const uint8_t pub_sec[15] = { 0x46, 0x00, 0x02, 0x00, 0, 0, 0, 0x02 };

static void reverse(uint8_t *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[n - 1 - i];
}

static void key_free(void *p)
{
    kzt_key *k = p;

    if (k) {
        kz_card_unref(k->card);
        kzt_pin_cache_unref(k->kept);
        free(k);
    }
}

kz_model_key *kzt_model_key(kzt *t, const kzt_entry *e, kz_pkey *pub, const char *label)
{
    kz_model_key *m = kz_model_key_new();
    kzt_key *k = calloc(1, sizeof(*k));

    if (!m || !k) {
        kz_model_key_unref(m);
        free(k);
        return NULL;
    }
    k->card = kz_card_ref(t->card);
    k->kept = kzt_pin_cache_ref(t->kept);
    k->ref = e->ref;
    k->alg = e->alg;
    k->modulus_len = e->alg == KZT_ALG_RSA ? (kz_pkey_bits(pub) + 7) / 8 : 0;
    memcpy(m->id, e->id, e->id_len);
    m->id_len = e->id_len;
    snprintf(m->label, sizeof(m->label), "%s", label);
    m->pub = kz_pkey_up_ref(pub);
    m->usage = e->alg == KZT_ALG_RSA ? KZ_USAGE_SIGN | KZ_USAGE_DECRYPT : KZ_USAGE_SIGN;
    /* kzp11 only lists keys the card made itself (it imports none). */
    m->gen_mech = e->alg == KZT_ALG_RSA ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_GOSTR3410_KEY_PAIR_GEN;
    m->priv = k;
    m->priv_free = key_free;
    return m;
}

/* ---- Generation ------------------------------------------------------------- */

typedef struct keyspec {
    uint8_t alg;
    size_t modulus_len;           /* RSA */
    size_t priv_size, pub_size;   /* the key objects' sizes (§3.4) */
} keyspec;

static CK_RV spec_for(const kz_keygen_request *req, keyspec *s)
{
    memset(s, 0, sizeof(*s));
    if (req->type == CKK_RSA) {
        /* The card's sizes (§3.2) from 2048 up, as the module offers them
         * everywhere (the NCA issues 2048); 4096 is not on every token, and
         * nothing tells which (the card then refuses, or worse: §3.5). */
        if (req->modulus_bits < 2048 || req->modulus_bits > 4096 || req->modulus_bits % 256)
            return CKR_KEY_SIZE_RANGE;
        /* The card always makes e = 65537. */
        if (req->public_exponent && req->public_exponent != 65537)
            return CKR_TEMPLATE_INCONSISTENT;
        s->alg = KZT_ALG_RSA;
        s->modulus_len = req->modulus_bits / 8;
        s->priv_size = 5 * (s->modulus_len / 2) + 8;
        s->pub_size = 3 * (s->modulus_len / 2);
        return CKR_OK;
    }
    if (req->type == CKK_GOSTR3410) {
        const kz_gost_curve *c = kz_gost_curve_by_oid_der(req->curve_oid, req->curve_oid_len);
        /* CryptoPro A, B, C only (and their aliases: the NCA's GOST 34.310-2004
         * set is A). The 2012 sets' APDUs are unknown (§3.2). */
        if (!c)
            return CKR_DOMAIN_PARAMS_INVALID;
        if (strcmp(c->name, "CryptoPro-A") == 0)
            s->alg = KZT_ALG_GOST_A;
        else if (strcmp(c->name, "CryptoPro-B") == 0)
            s->alg = KZT_ALG_GOST_B;
        else if (strcmp(c->name, "CryptoPro-C") == 0)
            s->alg = KZT_ALG_GOST_C;
        else
            return CKR_DOMAIN_PARAMS_INVALID;
        s->priv_size = 32;
        s->pub_size = GOST_POINT;
        return CKR_OK;
    }
    /* GOST R 34.10-2012-512: the hardware may do it through Aktiv's own
     * library, but its APDUs are not public (card-protocols.md §3.2). */
    return CKR_MECHANISM_INVALID;
}

/* Creates the key objects for a free reference (the lowest the card takes);
 * *ref is the reference used. */
static CK_RV create_key_objects(kzt *t, const keyspec *s, uint8_t *ref)
{
    uint8_t ptype = s->alg == KZT_ALG_RSA ? 0x23 : 0x03;
    uint8_t qtype = s->alg == KZT_ALG_RSA ? 0x33 : 0x13;
    uint8_t param = s->alg == KZT_ALG_RSA ? 0x00 : s->alg;
    /* type, paramset, reserved, attempts AA (§3.6), reserved */
    uint8_t pprop[6] = { ptype, param, 0x00, 0xAA, 0x00, 0x00 };
    uint8_t qprop[6] = { qtype, param, 0x00, 0xAA, 0x00, 0x00 };
    CK_RV rv = kzt_select_key_df(t, 1);

    for (unsigned r = 1; rv == CKR_OK && r <= 0xFF; r++) {
        if (kzt_index_find_ref(&t->index, (uint8_t)r))
            continue;
        rv = kzt_create_file(t->card, (uint16_t)r, 0x10, s->priv_size, pprop, priv_sec);
        /* Taken: a leftover, or another program's key, which stays. */
        if (rv == KZT_CKR_EXISTS) {
            rv = CKR_OK;
            continue;
        }
        if (rv != CKR_OK)
            return rv;
        /* The card files the public part by its type, next to the others
         * (§3.3: OpenSC creates both without changing DF). */
        rv = kzt_create_file(t->card, (uint16_t)r, 0x10, s->pub_size, qprop, pub_sec);
        if (rv == CKR_OK) {
            *ref = (uint8_t)r;
            return CKR_OK;
        }
        /* No public part: the private one goes again, so that no unlisted
         * object is left taking the card's memory. */
        if (rv != CKR_DEVICE_REMOVED && rv != KZ_CKR_CARD_RESET) {
            CK_RV drv = kzt_select_key_df(t, 1);
            if (drv == CKR_OK)
                drv = kzt_delete_file(t->card, (uint16_t)r);
            if (rv == KZT_CKR_EXISTS)
                rv = drv;
        }
        if (rv != CKR_OK)
            return rv;
    }
    return rv == CKR_OK ? CKR_DEVICE_MEMORY : rv;
}

static CK_RV public_from_card(const kz_keygen_request *req, const keyspec *s, const uint8_t *v,
                              size_t len, kz_pkey **pub)
{
    static const uint8_t e65537[3] = { 0x01, 0x00, 0x01 };
    uint8_t n[MAX_MODULUS];

    if (s->alg != KZT_ALG_RSA)
        return len == GOST_POINT ? kz_pkey_gost_public(req->curve_oid, req->curve_oid_len, req->hash_oid,
                                                       req->hash_oid_len, v, len, pub)
                                 : CKR_DEVICE_ERROR;
    if (len != s->modulus_len || !(v[len - 1] & 0x80))
        return CKR_DEVICE_ERROR;
    reverse(n, v, len);
    *pub = kz_pkey_rsa_public(n, len, e65537, sizeof(e65537));
    return *pub ? CKR_OK : CKR_DEVICE_ERROR;
}

/* Will the index take one more key with an id of that length? Asked
 * before the card spends seconds making a key there would be no room for. */
static CK_RV index_has_room(const kzt_index *x, size_t id_len)
{
    uint8_t scratch[KZT_INDEX_SIZE];
    kzt_index more = *x;

    if (more.n >= KZT_MAX_KEYS)
        return CKR_DEVICE_MEMORY;
    memset(&more.e[more.n], 0, sizeof(more.e[more.n]));
    more.e[more.n].id_len = (uint8_t)id_len;
    more.n++;
    return kzt_index_encode(&more, scratch);
}

static CK_RV generate(kzt *t, const kz_keygen_request *req, const keyspec *s, unsigned char *id,
                      size_t *id_len)
{
    uint8_t answer[MAX_MODULUS], *spki = NULL, *rec = NULL;
    size_t alen = 0, spki_len = 0, rec_len = 0;
    char label[KZT_MAX_LABEL + 1];
    kz_pkey *pub = NULL;
    kzt_entry e = { 0 };
    uint8_t ref = 0;
    CK_RV rv;

    if ((rv = kzt_read_index(t)) != CKR_OK)
        return rv;
    if (req->id_len > KZT_MAX_ID)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if ((rv = index_has_room(&t->index, req->id_len ? req->id_len : 20)) != CKR_OK)
        return rv;
    if (req->id_len && kzt_index_find_id(&t->index, req->id, req->id_len))
        return CKR_ATTRIBUTE_VALUE_INVALID;     /* two keys with one CKA_ID */
    if ((rv = create_key_objects(t, s, &ref)) != CKR_OK)
        return rv;
    rv = kzt_generate(t->card, ref, s->alg == KZT_ALG_RSA, answer, sizeof(answer), &alen);
    if (rv == CKR_OK)
        rv = public_from_card(req, s, answer, alen, &pub);
    if (rv == CKR_OK && req->id_len) {
        memcpy(e.id, req->id, req->id_len);
        e.id_len = (uint8_t)req->id_len;
    } else if (rv == CKR_OK) {
        /* Like the soft token: the key's SHA-1 identifier, which NCA
         * certificates carry as their subject key identifier. */
        rv = kz_pkey_ski(pub, e.id);
        e.id_len = 20;
    }
    if (req->label && *req->label)
        snprintf(label, sizeof(label), "%s", req->label);
    else
        snprintf(label, sizeof(label), "Kaztoken key %u", ref);
    if (rv == CKR_OK)
        rv = kz_pkey_to_spki_nca(pub, &spki, &spki_len);
    if (rv == CKR_OK)
        rv = kzt_record_encode(label, spki, spki_len, &rec, &rec_len);
    if (rv == CKR_OK && (rv = kzt_enter_app(t)) == CKR_OK)
        rv = kzt_write_file(t->card, kzt_fid_pubkey(ref), rec, rec_len);
    if (rv == CKR_OK) {
        e.ref = ref;
        e.alg = s->alg;
        e.stamp = t->index.generation = kzt_next_generation(t);
        t->index.e[t->index.n++] = e;
        rv = kzt_write_index(t);
        if (rv != CKR_OK)
            t->index.n--;
        /* An error may hide an UPDATE the card did carry out (its answer
         * lost): what the card lists now decides, before the clean-up
         * below deletes a key the index names. */
        if (rv == CKR_DEVICE_ERROR && kzt_read_index(t) == CKR_OK) {
            const kzt_entry *now = kzt_index_find_ref(&t->index, ref);
            if (now && now->stamp == e.stamp)
                rv = CKR_OK;
        }
    }
    if (rv == CKR_OK) {
        kz_card_cache_put(t->cache, kzt_fid_pubkey(ref), e.stamp, rec, rec_len);
        memcpy(id, e.id, e.id_len);
        *id_len = e.id_len;
    } else if (ref && rv != CKR_DEVICE_REMOVED && rv != KZ_CKR_CARD_RESET) {
        /* Nothing lists the key objects: take them off the card again. */
        for (int private_part = 1; private_part >= 0; private_part--)
            if (kzt_select_key_df(t, private_part) == CKR_OK)
                kzt_delete_file(t->card, ref);
    }
    kz_pkey_free(pub);
    free(spki);
    free(rec);
    return rv;
}

CK_RV kzt_generate_keypair(kz_token *tok, const kz_keygen_request *req, unsigned char *id,
                           size_t *id_len)
{
    kzt *t = tok->drv;
    keyspec s;
    CK_RV rv = spec_for(req, &s);

    if (rv != CKR_OK)
        return rv;
    if ((rv = kzt_begin(t)) != CKR_OK)
        return kzt_rv(t, rv);
    if (t->user != CKU_USER)
        rv = CKR_USER_NOT_LOGGED_IN;
    else
        rv = generate(t, req, &s, id, id_len);
    kz_card_end(t->card);
    KZ_DEBUG("kaztoken %s: key generation: %s", t->serial_hex, kz_rv_name(rv));
    return kzt_rv(t, rv);
}

/* ---- Private-key operations ------------------------------------------------
 * These run without the module lock, possibly beside a logout or a removal:
 * they use only the key's own handle (its card and reference). */

static CK_RV on_card(const kzt_key *k, int decipher, const uint8_t *in, size_t inlen, uint8_t *out,
                     size_t outlen)
{
    int was_reset = 0;
    CK_RV rv = kz_card_begin(k->card, &was_reset);

    if (rv != CKR_OK)
        return kz_card_public_rv(rv, 1);
    /* A reset since our last command took the login along: reported, the
     * application logs in again (the transport tells the core). */
    if (was_reset) {
        kz_card_end(k->card);
        return CKR_USER_NOT_LOGGED_IN;
    }
    rv = kzt_compute(k->card, decipher, k->ref, in, inlen, out, outlen);
    /* Another program logged the card out (kzt_pin_cache). */
    if (rv == CKR_USER_NOT_LOGGED_IN && kzt_login_again(k->kept, k->card) == CKR_OK)
        rv = kzt_compute(k->card, decipher, k->ref, in, inlen, out, outlen);
    kz_card_end(k->card);
    rv = kz_card_public_rv(rv, 1);
    /* Still not: the slot must stop claiming a login. */
    if (rv == CKR_USER_NOT_LOGGED_IN)
        kz_card_login_lost(k->card);
    return rv;
}

/* EMSA-PKCS1-v1_5 (RFC 8017 §9.2): 00 01 FF.. 00 T, T a DigestInfo. */
static CK_RV pkcs1_pad(const uint8_t *t, size_t tlen, uint8_t *em, size_t k)
{
    if (tlen + 11 > k)
        return CKR_DATA_LEN_RANGE;
    em[0] = 0x00;
    em[1] = 0x01;
    memset(em + 2, 0xFF, k - tlen - 3);
    em[k - tlen - 1] = 0x00;
    memcpy(em + k - tlen, t, tlen);
    return CKR_OK;
}

CK_RV kzt_sign(kz_token *tok, const kz_model_key *key, const kz_sig_params *p,
               const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    const kzt_key *k = key->priv;
    uint8_t t[128], em[MAX_MODULUS], le[MAX_MODULUS];
    size_t tlen = sizeof(t), n;
    CK_RV rv;

    (void)tok;
    if (k->alg != KZT_ALG_RSA) {
        if (p->scheme != KZ_SIG_GOST || inlen != GOST_DIGEST)
            return p->scheme != KZ_SIG_GOST ? CKR_MECHANISM_INVALID : CKR_DATA_LEN_RANGE;
        if (*outlen < GOST_POINT)
            return CKR_BUFFER_TOO_SMALL;
        /* The digest goes as given and the answer is reversed, as OpenSC
         * does it (§3.5); that the result is s||r, kzp11's order, is the
         * bench's assumption: the sources do not say (§8). */
        rv = on_card(k, 0, in, inlen, le, GOST_POINT);
        if (rv == CKR_OK) {
            reverse(out, le, GOST_POINT);
            *outlen = GOST_POINT;
        }
        return rv;
    }
    if (p->scheme != KZ_SIG_RSA_PKCS1)
        return CKR_MECHANISM_INVALID;
    n = k->modulus_len;
    if (n == 0 || n > MAX_MODULUS)
        return CKR_DEVICE_ERROR;
    if (*outlen < n)
        return CKR_BUFFER_TOO_SMALL;
    if (p->hash) {
        rv = kz_digest_info(p->hash, in, inlen, t, &tlen);
    } else if (inlen <= sizeof(t)) {
        /* CKM_RSA_PKCS: the caller brings the DigestInfo. */
        memcpy(t, in, inlen);
        tlen = inlen;
        rv = CKR_OK;
    } else {
        rv = CKR_DATA_LEN_RANGE;
    }
    if (rv == CKR_OK)
        rv = pkcs1_pad(t, tlen, em, n);
    if (rv == CKR_OK) {
        reverse(le, em, n);
        rv = on_card(k, 0, le, n, em, n);
    }
    if (rv == CKR_OK) {
        reverse(out, em, n);
        *outlen = n;
    }
    return rv;
}

/* RFC 8017 §7.2.2 decoding without early exits on the padding's content. */
static CK_RV pkcs1_unpad(const uint8_t *em, size_t k, unsigned char *out, size_t *outlen)
{
    size_t zero_at = 0, found = 0;
    unsigned bad = (unsigned)(em[0] != 0x00) | (unsigned)(em[1] != 0x02);

    for (size_t i = 2; i < k; i++) {
        size_t is_zero = em[i] == 0x00;
        size_t take = is_zero & ~found & 1u;
        zero_at |= take * i;
        found |= is_zero;
    }
    bad |= (unsigned)!found | (unsigned)(zero_at < 10);
    if (bad)
        return CKR_ENCRYPTED_DATA_INVALID;
    if (*outlen < k - zero_at - 1) {
        *outlen = k - zero_at - 1;
        return CKR_BUFFER_TOO_SMALL;
    }
    *outlen = k - zero_at - 1;
    memcpy(out, em + zero_at + 1, *outlen);
    return CKR_OK;
}

CK_RV kzt_decrypt(kz_token *tok, const kz_model_key *key, const kz_enc_params *p,
                  const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    const kzt_key *k = key->priv;
    uint8_t le[MAX_MODULUS], em[MAX_MODULUS];
    size_t n = k->modulus_len;
    CK_RV rv;

    (void)tok;
    if (k->alg != KZT_ALG_RSA || p->scheme != KZ_ENC_RSA_PKCS1)
        return CKR_MECHANISM_INVALID;
    if (n == 0 || n > MAX_MODULUS || inlen != n)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    reverse(le, in, n);
    rv = on_card(k, 1, le, n, em, n);
    if (rv == CKR_OK) {
        reverse(le, em, n);
        rv = pkcs1_unpad(le, n, out, outlen);
    }
    kz_cleanse(le, sizeof(le));
    kz_cleanse(em, sizeof(em));
    return rv;
}
