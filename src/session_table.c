#include "session_table.h"
#include "handle_table.h"
#include "log.h"
#include "object_store.h"

#include <stdlib.h>
#include <string.h>

static kz_handle_table sessions;

void kz_sig_op_end(kz_sig_op *op)
{
    kz_model_key_unref(op->key);
    kz_pkey_free(op->pub);
    kz_digest_free(op->digest);
    if (op->buf)
        kz_cleanse(op->buf, op->cap);
    free(op->buf);
    memset(op, 0, sizeof(*op));
}

void kz_crypt_op_end(kz_crypt_op *op)
{
    kz_model_key_unref(op->key);
    kz_pkey_free(op->pub);
    free(op->label);
    if (op->buf)
        kz_cleanse(op->buf, op->cap);
    free(op->buf);
    memset(op, 0, sizeof(*op));
}

void kz_digest_op_end(kz_digest_op *op)
{
    kz_digest_free(op->digest);
    memset(op, 0, sizeof(*op));
}

void kz_find_op_end(kz_find_op *op)
{
    free(op->handles);
    memset(op, 0, sizeof(*op));
}

CK_RV kz_op_buffer_append(unsigned char **buf, size_t *len, size_t *cap,
                          const unsigned char *in, size_t inlen, size_t limit)
{
    if (inlen > limit - *len || *len > limit)
        return CKR_DATA_LEN_RANGE;
    if (*len + inlen > *cap) {
        size_t ncap = *cap ? *cap : 256;
        unsigned char *nb;
        while (ncap < *len + inlen)
            ncap *= 2;
        /* Not realloc: the old buffer may hold secrets and must be wiped. */
        nb = malloc(ncap);
        if (!nb)
            return CKR_HOST_MEMORY;
        if (*buf) {
            memcpy(nb, *buf, *len);
            kz_cleanse(*buf, *cap);
            free(*buf);
        }
        *buf = nb;
        *cap = ncap;
    }
    if (inlen)
        memcpy(*buf + *len, in, inlen);
    *len += inlen;
    return CKR_OK;
}

CK_RV kz_sessions_open(kz_slot *slot, CK_FLAGS flags, CK_SESSION_HANDLE *out)
{
    kz_session *s = calloc(1, sizeof(*s));
    CK_RV rv;

    if (!s)
        return CKR_HOST_MEMORY;
    rv = kz_mutex_new(&s->lock);
    if (rv != CKR_OK) {
        free(s);
        return rv;
    }
    s->slot = slot->id;
    s->flags = flags;
    s->refs = 1;
    s->handle = kz_handles_add(&sessions, s);
    if (!s->handle) {
        kz_mutex_free(s->lock);
        free(s);
        return CKR_HOST_MEMORY;
    }
    slot->sessions++;
    if (flags & CKF_RW_SESSION)
        slot->rw_sessions++;
    *out = s->handle;
    return CKR_OK;
}

kz_session *kz_sessions_get(CK_SESSION_HANDLE h)
{
    return kz_handles_get(&sessions, h);
}

static void free_session(kz_session *s)
{
    kz_sig_op_end(&s->sign);
    kz_sig_op_end(&s->verify);
    kz_crypt_op_end(&s->encrypt);
    kz_crypt_op_end(&s->decrypt);
    kz_digest_op_end(&s->digest);
    kz_find_op_end(&s->find);
    kz_mutex_free(s->lock);
    free(s);
}

void kz_session_unref(kz_session *s)
{
    if (--s->refs == 0)
        free_session(s);
}

static void logout_slot(kz_slot *slot)
{
    if (slot->user == KZ_NOBODY)
        return;
    if (slot->token.ops && slot->token.ops->logout)
        slot->token.ops->logout(&slot->token);
    slot->user = KZ_NOBODY;
    /* Objects are rebuilt for the logged-out view on next use. */
    kz_objects_destroy_where(slot->id, 0);
    slot->objects_built = 0;
}

void kz_sessions_close(kz_session *s)
{
    kz_slot *slot = kz_slots_get(s->slot);

    kz_handles_remove(&sessions, s->handle);
    s->closed = 1;
    kz_objects_destroy_where(s->slot, s->handle);
    if (slot) {
        slot->sessions--;
        if (s->flags & CKF_RW_SESSION)
            slot->rw_sessions--;
        /* PKCS#11 2.40 §5.6: closing the last session logs the user out. */
        if (slot->sessions == 0)
            logout_slot(slot);
    }
    kz_session_unref(s);
}

void kz_sessions_close_slot(CK_SLOT_ID slot)
{
    for (size_t i = 0; i < sessions.n; i++) {
        kz_session *s = sessions.v[i].ptr;
        if (s && s->slot == slot)
            kz_sessions_close(s);
    }
}

void kz_sessions_free_all(void)
{
    for (size_t i = 0; i < sessions.n; i++) {
        kz_session *s = sessions.v[i].ptr;
        if (s) {
            kz_handles_remove(&sessions, s->handle);
            s->closed = 1;
            kz_session_unref(s);
        }
    }
    kz_handles_free(&sessions);
}

CK_STATE kz_session_state(const kz_session *s, const kz_slot *slot)
{
    int rw = (s->flags & CKF_RW_SESSION) != 0;

    if (slot && slot->user == CKU_SO)
        return CKS_RW_SO_FUNCTIONS;
    if (slot && slot->user == CKU_USER)
        return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}
