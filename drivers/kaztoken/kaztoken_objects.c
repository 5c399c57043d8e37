/* What a Kaztoken holds, as kzp11's files on it say (kaztoken_layout.c),
 * read once per card: public keys and certificates go into the card's
 * cache (card_cache.h) under the index generation at which they were
 * written, so a card seen before costs one small read (the index) to know
 * nothing changed. */
#include "kaztoken_internal.h"
#include "log.h"
#include "slot_table.h"

#include <stdlib.h>
#include <string.h>

/* kzp11's DF and files: anyone reads, the user PIN writes and deletes. */
static const uint8_t app_sec[15] = { 0x43, 0x02, 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t file_sec[15] = { 0x43, 0x00, 0x02, 0, 0, 0, 0, 0x02 };

CK_RV kzt_begin(kzt *t)
{
    int was_reset = 0;
    CK_RV rv = kz_card_begin(t->card, &was_reset);

    /* The transport tells the core about a lost login itself. */
    if (rv == CKR_OK && was_reset)
        t->user = KZ_NOBODY;
    return rv;
}

/* Reading kzp11's files needs no login: a card asking for one there is a
 * card the driver does not understand, not a state the caller can change. */
static CK_RV read_rv(kzt *t, CK_RV rv)
{
    return rv == CKR_USER_NOT_LOGGED_IN ? CKR_DEVICE_ERROR : kzt_rv(t, rv);
}

CK_RV kzt_rv(kzt *t, CK_RV rv)
{
    if (rv == KZ_CKR_CARD_RESET) {
        int had_login = t->user != KZ_NOBODY;
        t->user = KZ_NOBODY;
        return kz_card_public_rv(rv, had_login);
    }
    /* The card wants the user PIN although we hold the user's login:
     * another program logged it out. The slot must say so (the core logs
     * it out), and the kept PIN must not log the card in again meanwhile.
     * An SO login is not the one kzp11's files ask for: it stays. */
    if (rv == CKR_USER_NOT_LOGGED_IN && t->user == CKU_USER) {
        t->user = KZ_NOBODY;
        kzt_pin_cache_forget(t->kept);
        kz_card_login_lost(t->card);
    }
    /* A file the index promised is missing, or one it did not list is in
     * the way: the card and kzp11 disagree. */
    if (rv == KZT_CKR_NOT_FOUND || rv == KZT_CKR_EXISTS)
        return CKR_DEVICE_ERROR;
    return rv;
}

CK_RV kzt_read_index(kzt *t)
{
    uint8_t buf[KZT_INDEX_SIZE];
    kzt_index x;
    kzt_fcp fcp;
    CK_RV rv = kzt_select(t->card, kzt_path_index, 2, &fcp);

    t->index_read = 0;
    if (rv == KZT_CKR_NOT_FOUND) {
        /* kzp11 never wrote to this card. */
        memset(&t->index, 0, sizeof(t->index));
        t->have_index = 0;
        t->index_read = 1;
        return CKR_OK;
    }
    if (rv != CKR_OK)
        return rv;
    if (fcp.size < 9 || fcp.size > sizeof(buf))
        return CKR_DEVICE_ERROR;
    if ((rv = kzt_read_binary(t->card, buf, fcp.size)) != CKR_OK)
        return rv;
    if ((rv = kzt_index_decode(buf, fcp.size, &x)) != CKR_OK) {
        KZ_DEBUG("kaztoken %s: kzp11's index on the card is damaged", t->serial_hex);
        return rv;
    }
    t->index = x;
    t->have_index = 1;
    t->index_read = 1;
    return CKR_OK;
}

/* Selects kzp11's DF, creating it on first use. */
CK_RV kzt_enter_app(kzt *t)
{
    CK_RV rv = kzt_select(t->card, kzt_path_app, 1, NULL);

    if (rv != KZT_CKR_NOT_FOUND)
        return rv;
    if ((rv = kzt_select(t->card, NULL, 0, NULL)) != CKR_OK)
        return rv;
    return kzt_create_file(t->card, kzt_path_app[0], 0x38, 0, NULL, app_sec);
}

CK_RV kzt_write_file(kz_card *c, uint16_t fid, const uint8_t *data, size_t len)
{
    CK_RV rv = kzt_delete_file(c, fid);

    /* A file of that name is an unlisted leftover of a change cut short. */
    if (rv != CKR_OK && rv != KZT_CKR_NOT_FOUND)
        return rv;
    if ((rv = kzt_create_file(c, fid, 0x01, len, NULL, file_sec)) != CKR_OK)
        return rv;
    return kzt_update_binary(c, data, len);
}

CK_RV kzt_write_index(kzt *t)
{
    uint8_t buf[KZT_INDEX_SIZE];
    CK_RV rv = kzt_index_encode(&t->index, buf);

    if (rv != CKR_OK)
        return rv;
    rv = kzt_select(t->card, kzt_path_index, 2, NULL);
    if (rv == KZT_CKR_NOT_FOUND) {
        if ((rv = kzt_enter_app(t)) == CKR_OK)
            rv = kzt_create_file(t->card, kzt_path_index[1], 0x01, sizeof(buf), NULL, file_sec);
    }
    if (rv == CKR_OK)
        rv = kzt_update_binary(t->card, buf, sizeof(buf));
    if (rv == CKR_OK)
        t->have_index = 1;
    else
        t->index_read = 0;      /* the card may hold either version now */
    return rv;
}

/* The next generation number; a card's first index starts at a random one
 * so that a re-created index never matches what a cache holds. */
uint32_t kzt_next_generation(kzt *t)
{
    uint32_t g = t->index.generation + 1;

    if (!t->have_index && kz_random((unsigned char *)&g, sizeof(g)) != CKR_OK)
        g = t->index.generation + 1;
    return g;
}

/* A file of kzp11's DF at the stamp the index gives it: from the cache, or
 * read (and cached). *data stays valid until that cache entry changes. */
static CK_RV read_record(kzt *t, uint16_t fid, uint32_t stamp, const uint8_t **data, size_t *len)
{
    const uint16_t path[2] = { kzt_path_app[0], fid };
    kzt_fcp fcp;
    uint8_t *buf;
    CK_RV rv;

    if (kz_card_cache_get(t->cache, fid, stamp, data, len))
        return CKR_OK;
    if ((rv = kzt_select(t->card, path, 2, &fcp)) != CKR_OK)
        return rv;
    if (fcp.size < 4)
        return CKR_DEVICE_ERROR;
    if (!(buf = malloc(fcp.size)))
        return CKR_HOST_MEMORY;
    rv = kzt_read_binary(t->card, buf, fcp.size);
    if (rv == CKR_OK)
        rv = kz_card_cache_put(t->cache, fid, stamp, buf, fcp.size);
    free(buf);
    if (rv == CKR_OK && !kz_card_cache_get(t->cache, fid, stamp, data, len))
        rv = CKR_HOST_MEMORY;
    return rv;
}

/* The public key of an index entry, and its label. */
static CK_RV entry_public(kzt *t, const kzt_entry *e, kz_pkey **pub, char label[KZT_MAX_LABEL + 1])
{
    const uint8_t *rec, *spki;
    size_t len, spki_len;
    CK_RV rv = read_record(t, kzt_fid_pubkey(e->ref), e->stamp, &rec, &len);

    if (rv != CKR_OK)
        return rv;
    if (kzt_record_decode(rec, len, label, &spki, &spki_len) != CKR_OK
        || !(*pub = kz_pkey_from_spki(spki, spki_len))) {
        kz_card_cache_forget(t->cache, kzt_fid_pubkey(e->ref));
        return CKR_DEVICE_ERROR;
    }
    return CKR_OK;
}

/* A damaged entry hides that key, not the whole token; a card that stops
 * answering ends the listing. */
static int card_gone(CK_RV rv)
{
    return rv == CKR_DEVICE_REMOVED || rv == KZ_CKR_CARD_RESET || rv == CKR_HOST_MEMORY;
}

static CK_RV add_entry(kzt *t, const kzt_entry *e, kz_token_model *m)
{
    char label[KZT_MAX_LABEL + 1];
    kz_pkey *pub = NULL;
    kz_model_key *k;
    const uint8_t *rec, *der;
    size_t len, der_len;
    CK_RV rv = entry_public(t, e, &pub, label);

    if (rv != CKR_OK)
        return rv;
    k = kzt_model_key(t, e, pub, label);
    kz_pkey_free(pub);
    if (!k)
        return CKR_HOST_MEMORY;
    if ((rv = kz_token_model_add_key(m, k)) != CKR_OK) {
        kz_model_key_unref(k);
        return rv;
    }
    if (!(e->flags & KZT_HAS_CERT))
        return CKR_OK;
    if ((rv = read_record(t, kzt_fid_cert(e->ref), e->stamp, &rec, &len)) != CKR_OK)
        return rv;
    if (kzt_record_decode(rec, len, label, &der, &der_len) != CKR_OK) {
        kz_card_cache_forget(t->cache, kzt_fid_cert(e->ref));
        return CKR_DEVICE_ERROR;
    }
    return kz_token_model_add_cert(m, e->id, e->id_len, label, der, der_len);
}

CK_RV kzt_load_model(kz_token *tok, kz_token_model *out)
{
    kzt *t = tok->drv;
    CK_RV rv = kzt_begin(t);

    if (rv != CKR_OK)
        return kzt_rv(t, rv);
    rv = kzt_read_index(t);
    for (size_t i = 0; rv == CKR_OK && i < t->index.n; i++) {
        CK_RV erv = add_entry(t, &t->index.e[i], out);
        if (card_gone(erv))
            rv = erv;
        else if (erv != CKR_OK)
            KZ_DEBUG("kaztoken %s: key %u unreadable: %s", t->serial_hex, t->index.e[i].ref,
                     kz_rv_name(erv));
    }
    kz_card_end(t->card);
    if (rv != CKR_OK) {
        kz_token_model_clear(out);
    } else {
        t->model_generation = t->index.generation;
        t->model_has_index = t->have_index;
    }
    return read_rv(t, rv);
}

CK_RV kzt_refresh(kz_token *tok, int *changed)
{
    kzt *t = tok->drv;
    CK_RV rv = kzt_begin(t);

    if (rv != CKR_OK)
        return kzt_rv(t, rv);
    rv = kzt_read_index(t);
    kz_card_end(t->card);
    /* Against what the objects were built from, not the last read: a
     * change of ours that failed half-way read the index too. */
    *changed = rv == CKR_OK
               && (t->model_has_index != t->have_index || t->model_generation != t->index.generation);
    return read_rv(t, rv);
}

/* ---- Certificates and deletions -------------------------------------------- */

CK_RV kzt_store_certificate(kz_token *tok, const unsigned char *der, size_t len, const char *label,
                            unsigned char *id, size_t *id_len)
{
    kzt *t = tok->drv;
    kz_pkey *cert_key = kz_pkey_from_cert(der, len);
    char key_label[KZT_MAX_LABEL + 1];
    kzt_entry *e = NULL;
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    uint32_t g, pub_stamp = 0;
    CK_RV rv;

    if (!cert_key)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if ((rv = kzt_begin(t)) != CKR_OK) {
        kz_pkey_free(cert_key);
        return kzt_rv(t, rv);
    }
    rv = kzt_read_index(t);
    for (size_t i = 0; rv == CKR_OK && !e && i < t->index.n; i++) {
        kz_pkey *pub = NULL;
        CK_RV erv = entry_public(t, &t->index.e[i], &pub, key_label);
        if (erv == CKR_OK && kz_pkey_public_equal(pub, cert_key))
            e = &t->index.e[i];
        else if (card_gone(erv))
            rv = erv;
        kz_pkey_free(pub);
    }
    kz_pkey_free(cert_key);
    if (rv == CKR_OK && !e)
        rv = CKR_TEMPLATE_INCONSISTENT;    /* no key of ours for it */
    if (rv == CKR_OK)
        rv = kzt_record_encode(label && *label ? label : key_label, der, len, &rec, &rec_len);
    if (rv == CKR_OK && rec_len > KZT_MAX_FILE)
        rv = CKR_DEVICE_MEMORY;
    if (rv == CKR_OK)
        pub_stamp = e->stamp;           /* where the cache holds its public file */
    /* A certificate replaced: first the index stops listing the old one, so
     * that a write cut short never leaves a listed file half-written. */
    if (rv == CKR_OK && (e->flags & KZT_HAS_CERT)) {
        e->flags &= (uint8_t)~KZT_HAS_CERT;
        e->stamp = t->index.generation = kzt_next_generation(t);
        rv = kzt_write_index(t);
    }
    if (rv == CKR_OK && (rv = kzt_enter_app(t)) == CKR_OK)
        rv = kzt_write_file(t->card, kzt_fid_cert(e->ref), rec, rec_len);
    if (rv == CKR_OK) {
        g = kzt_next_generation(t);
        e->flags |= KZT_HAS_CERT;
        e->stamp = g;
        t->index.generation = g;
        rv = kzt_write_index(t);
    }
    if (rv == CKR_OK) {
        /* The public file did not change: it stays cached under the new stamp. */
        kz_card_cache_restamp(t->cache, kzt_fid_pubkey(e->ref), pub_stamp, g);
        kz_card_cache_put(t->cache, kzt_fid_cert(e->ref), g, rec, rec_len);
    }
    if (rv == CKR_OK) {
        memcpy(id, e->id, e->id_len);
        *id_len = e->id_len;
    }
    kz_card_end(t->card);
    free(rec);
    return kzt_rv(t, rv);
}

/* Deletes a card file, which may be gone already. */
static CK_RV delete_in(kzt *t, const uint16_t *df, size_t n, uint16_t fid)
{
    CK_RV rv = kzt_select(t->card, df, n, NULL);

    if (rv == CKR_OK)
        rv = kzt_delete_file(t->card, fid);
    return rv == KZT_CKR_NOT_FOUND ? CKR_OK : rv;
}

CK_RV kzt_select_key_df(kzt *t, int private_part)
{
    CK_RV rv = kzt_select(t->card, private_part ? kzt_path_prkey_df : kzt_path_pukey_df, 3, NULL);

    /* Key objects sit in the card's system DFs where it has them (§3.3),
     * else where they are created: the MF. */
    return rv == KZT_CKR_NOT_FOUND ? kzt_select(t->card, NULL, 0, NULL) : rv;
}

static CK_RV delete_key_files(kzt *t, uint8_t ref)
{
    CK_RV rv = delete_in(t, kzt_path_app, 1, kzt_fid_pubkey(ref));

    for (int private_part = 1; rv == CKR_OK && private_part >= 0; private_part--) {
        rv = kzt_select_key_df(t, private_part);
        if (rv == CKR_OK)
            rv = kzt_delete_file(t->card, ref);
        if (rv == KZT_CKR_NOT_FOUND)
            rv = CKR_OK;
    }
    return rv;
}

CK_RV kzt_destroy_object(kz_token *tok, CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len)
{
    kzt *t = tok->drv;
    kzt_entry *e;
    uint8_t ref;
    CK_RV rv = kzt_begin(t);

    if (rv != CKR_OK)
        return kzt_rv(t, rv);
    rv = kzt_read_index(t);
    e = rv == CKR_OK ? kzt_index_find_id(&t->index, id, id_len) : NULL;
    if (rv == CKR_OK && (!e || (cls == CKO_CERTIFICATE && !(e->flags & KZT_HAS_CERT))))
        rv = CKR_OBJECT_HANDLE_INVALID;
    else if (rv == CKR_OK && cls != CKO_CERTIFICATE && (e->flags & KZT_HAS_CERT))
        rv = CKR_ACTION_PROHIBITED;        /* the certificate first, as for files */
    /* The public key alone is the private key's half: deleting the pair for
     * it would lose a key the card cannot make again (as the soft token). */
    else if (rv == CKR_OK && cls == CKO_PUBLIC_KEY)
        rv = CKR_ACTION_PROHIBITED;
    if (rv == CKR_OK) {
        /* The index goes first: once it no longer lists them, the files are
         * leftovers, whatever happens to the deletions that follow. */
        ref = e->ref;
        t->index.generation = kzt_next_generation(t);
        if (cls == CKO_CERTIFICATE) {
            e->flags &= (uint8_t)~KZT_HAS_CERT;
            e->stamp = t->index.generation;
        } else {
            *e = t->index.e[--t->index.n];
        }
        rv = kzt_write_index(t);
        if (rv == CKR_OK && cls == CKO_CERTIFICATE)
            rv = delete_in(t, kzt_path_app, 1, kzt_fid_cert(ref));
        else if (rv == CKR_OK)
            rv = delete_key_files(t, ref);
        kz_card_cache_forget(t->cache, kzt_fid_cert(ref));
        if (cls != CKO_CERTIFICATE)
            kz_card_cache_forget(t->cache, kzt_fid_pubkey(ref));
    }
    kz_card_end(t->card);
    return kzt_rv(t, rv);
}
