/* Lifetime of the token model a driver reports. */
#include "token.h"

#include <stdlib.h>
#include <string.h>

/* A plain int with GCC atomics, so drivers need not include stdatomic.h. */

kz_model_key *kz_model_key_new(void)
{
    kz_model_key *k = calloc(1, sizeof(*k));

    if (k)
        k->refs = 1;
    return k;
}

kz_model_key *kz_model_key_ref(kz_model_key *k)
{
    if (k)
        __atomic_fetch_add(&k->refs, 1, __ATOMIC_RELAXED);
    return k;
}

void kz_model_key_unref(kz_model_key *k)
{
    if (!k || __atomic_fetch_sub(&k->refs, 1, __ATOMIC_ACQ_REL) != 1)
        return;
    kz_pkey_free(k->pub);
    kz_pkey_free(k->host);
    if (k->priv_free)
        k->priv_free(k->priv);
    free(k);
}

void kz_token_model_clear(kz_token_model *m)
{
    for (size_t i = 0; i < m->n_keys; i++)
        kz_model_key_unref(m->keys[i]);
    for (size_t i = 0; i < m->n_certs; i++)
        free(m->certs[i].der);
    free(m->keys);
    free(m->certs);
    memset(m, 0, sizeof(*m));
}

static void copy_id_label(unsigned char *id, size_t *id_len, char *label,
                          const unsigned char *src_id, size_t src_len, const char *src_label)
{
    if (src_len > KZ_MAX_ID)
        src_len = KZ_MAX_ID;
    memcpy(id, src_id, src_len);
    *id_len = src_len;
    if (src_label) {
        strncpy(label, src_label, KZ_MAX_LABEL - 1);
        label[KZ_MAX_LABEL - 1] = '\0';
    } else {
        label[0] = '\0';
    }
}

CK_RV kz_token_model_add_cert(kz_token_model *m, const unsigned char *id, size_t id_len,
                              const char *label, const unsigned char *der, size_t der_len)
{
    kz_model_cert *v = realloc(m->certs, (m->n_certs + 1) * sizeof(*v));
    kz_model_cert *c;

    if (!v)
        return CKR_HOST_MEMORY;
    m->certs = v;
    c = &v[m->n_certs];
    memset(c, 0, sizeof(*c));
    c->der = malloc(der_len ? der_len : 1);
    if (!c->der)
        return CKR_HOST_MEMORY;
    memcpy(c->der, der, der_len);
    c->der_len = der_len;
    copy_id_label(c->id, &c->id_len, c->label, id, id_len, label);
    m->n_certs++;
    return CKR_OK;
}

CK_RV kz_token_model_add_key(kz_token_model *m, kz_model_key *key)
{
    kz_model_key **v = realloc(m->keys, (m->n_keys + 1) * sizeof(*v));

    if (!v)
        return CKR_HOST_MEMORY;
    m->keys = v;
    v[m->n_keys++] = key;
    return CKR_OK;
}
