/* Signing (PKCS#11 2.40 §5.11), and the operation set-up verification
 * shares with it. Hashing happens here on the host; the token only ever
 * sees a digest (or the caller's raw input for the raw mechanisms). */
#include "frontend.h"
#include "object_store.h"

#include <string.h>

/* Largest raw input we buffer for multi-part use of a raw mechanism: an
 * RSA-8192 block. */
#define RAW_LIMIT 1024

CK_RV kz_sig_op_init(kz_session *s, kz_slot *slot, kz_sig_op *op, CK_MECHANISM_PTR mech,
                     CK_OBJECT_HANDLE key, int for_sign)
{
    const kz_mech *m;
    kz_object *o;
    CK_RV rv;

    rv = kz_op_begin(s, slot, op->active, mech, KZ_MECH_SIGN, key, for_sign ? KZ_USE_SIGN : KZ_USE_VERIFY,
                     &m, &o);
    if (rv != CKR_OK)
        return rv;
    rv = kz_mech_sig_params(m, mech, &op->params);
    if (rv != CKR_OK)
        goto out;
    if (m->host_hash == KZ_HASH_FROM_KEY)
        op->host_hash = op->params.hash ? op->params.hash : kz_pkey_gost_hash_mech(o->pub);
    else
        op->host_hash = m->host_hash;
    op->mech = m;
    op->pub = kz_pkey_up_ref(o->pub);
    op->key = for_sign ? kz_model_key_ref(o->key) : NULL;
    op->active = 1;
out:
    kz_leave();
    return rv;
}

/* Feeds a multi-part operation. */
CK_RV kz_sig_op_update(kz_sig_op *op, const unsigned char *in, size_t len)
{
    op->multipart = 1;
    if (op->host_hash) {
        if (!op->digest && !(op->digest = kz_digest_new(op->host_hash)))
            return CKR_HOST_MEMORY;
        return kz_digest_update(op->digest, in, len);
    }
    return kz_op_buffer_append(&op->buf, &op->len, &op->cap, in, len, RAW_LIMIT);
}

/* What the key operation gets: the digest of everything fed so far (or of
 * `data` for single-part calls), or the raw input. */
CK_RV kz_sig_op_input(kz_sig_op *op, const unsigned char *data, size_t len, int single,
                      unsigned char *dig, size_t *diglen, const unsigned char **in, size_t *inlen)
{
    CK_RV rv;

    if (!op->host_hash) {
        *in = single ? data : op->buf;
        *inlen = single ? len : op->len;
        return CKR_OK;
    }
    if (single)
        rv = kz_digest_oneshot(op->host_hash, data, len, dig, diglen);
    else if (!op->digest && !(op->digest = kz_digest_new(op->host_hash)))
        rv = CKR_HOST_MEMORY;
    else
        rv = kz_digest_final(op->digest, dig, diglen);
    *in = dig;
    *inlen = *diglen;
    return rv;
}

KZ_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv = kz_session_acquire(hSession, &s, &slot);

    if (rv != CKR_OK)
        return rv;
    rv = kz_sig_op_init(s, slot, &s->sign, pMechanism, hKey, 1);
    kz_session_release(s);
    KZ_RET("C_SignInit", rv);
}

/* Common tail of C_Sign and C_SignFinal. */
static CK_RV finish_sign(kz_session *s, kz_slot *slot, const unsigned char *data, size_t len,
                         int single, CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
    kz_sig_op *op = &s->sign;
    size_t need, outlen, inlen, diglen = 64;
    unsigned char dig[64];
    const unsigned char *in;
    CK_RV rv;

    if (!op->active)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (!siglen) {
        kz_sig_op_end(op);
        return CKR_ARGUMENTS_BAD;
    }
    if (single && op->multipart)
        return CKR_OPERATION_ACTIVE;
    need = kz_pkey_sig_len(op->pub);
    /* Length queries and short buffers leave the operation running. */
    if (!sig) {
        *siglen = need;
        return CKR_OK;
    }
    if (*siglen < need) {
        *siglen = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (s->user_now != CKU_USER) {
        kz_sig_op_end(op);
        return CKR_USER_NOT_LOGGED_IN;
    }
    rv = kz_sig_op_input(op, data, len, single, dig, &diglen, &in, &inlen);
    outlen = *siglen;
    if (rv == CKR_OK && op->key->host)
        rv = kz_pkey_sign(op->key->host, &op->params, in, inlen, sig, &outlen);
    else if (rv == CKR_OK)
        rv = slot->token.ops->sign(&slot->token, op->key, &op->params, in, inlen, sig, &outlen);
    if (rv == CKR_OK)
        *siglen = outlen;
    kz_cleanse(dig, sizeof(dig));
    kz_sig_op_end(op);
    return rv;
}

KZ_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                       CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv = kz_session_acquire(hSession, &s, &slot);

    if (rv != CKR_OK)
        return rv;
    if (!pData && ulDataLen) {
        kz_sig_op_end(&s->sign);
        rv = CKR_ARGUMENTS_BAD;
    } else {
        rv = finish_sign(s, slot, pData, ulDataLen, 1, pSignature, pulSignatureLen);
    }
    kz_session_release(s);
    KZ_RET("C_Sign", rv);
}

KZ_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    if (!s->sign.active)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else if (!pPart && ulPartLen)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = kz_sig_op_update(&s->sign, pPart, ulPartLen);
    if (rv != CKR_OK && rv != CKR_OPERATION_NOT_INITIALIZED)
        kz_sig_op_end(&s->sign);
    kz_session_release(s);
    KZ_RET("C_SignUpdate", rv);
}

KZ_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv = kz_session_acquire(hSession, &s, &slot);

    if (rv != CKR_OK)
        return rv;
    rv = finish_sign(s, slot, NULL, 0, 0, pSignature, pulSignatureLen);
    kz_session_release(s);
    KZ_RET("C_SignFinal", rv);
}

KZ_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

KZ_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                              CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}
