/* Decryption (PKCS#11 2.40 §5.9) with the token's private key, and the
 * operation set-up encryption shares with it. */
#include "frontend.h"
#include "object_store.h"

#include <stdlib.h>
#include <string.h>

#define CRYPT_LIMIT 1024

CK_RV kz_crypt_op_init(kz_session *s, kz_slot *slot, kz_crypt_op *op, CK_MECHANISM_PTR mech,
                       CK_OBJECT_HANDLE key, int for_decrypt)
{
    const kz_mech *m;
    kz_object *o;
    CK_RV rv;

    rv = kz_op_begin(s, slot, op->active, mech, KZ_MECH_CRYPT, key,
                     for_decrypt ? KZ_USE_DECRYPT : KZ_USE_ENCRYPT, &m, &o);
    if (rv != CKR_OK)
        return rv;
    rv = kz_mech_enc_params(m, mech, &op->params);
    if (rv != CKR_OK)
        goto out;
    if (op->params.label_len) {
        /* The caller's parameter block need not outlive this call. */
        op->label = malloc(op->params.label_len);
        if (!op->label) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        memcpy(op->label, op->params.label, op->params.label_len);
        op->params.label = op->label;
    }
    op->mech = m;
    op->pub = kz_pkey_up_ref(o->pub);
    op->key = for_decrypt ? kz_model_key_ref(o->key) : NULL;
    op->active = 1;
out:
    kz_leave();
    return rv;
}

KZ_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv = kz_session_acquire(hSession, &s, &slot);

    if (rv != CKR_OK)
        return rv;
    rv = kz_crypt_op_init(s, slot, &s->decrypt, pMechanism, hKey, 1);
    kz_session_release(s);
    KZ_RET("C_DecryptInit", rv);
}

static CK_RV finish_decrypt(kz_session *s, kz_slot *slot, const unsigned char *in, size_t inlen,
                            CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
    kz_crypt_op *op = &s->decrypt;
    size_t n;
    CK_RV rv;

    if (!outlen) {
        kz_crypt_op_end(op);
        return CKR_ARGUMENTS_BAD;
    }
    if (!out) {
        /* An upper bound; the exact size is known only after decrypting. */
        *outlen = kz_pkey_sig_len(op->pub);
        return CKR_OK;
    }
    if (s->user_now != CKU_USER) {
        kz_crypt_op_end(op);
        return CKR_USER_NOT_LOGGED_IN;
    }
    n = *outlen;
    if (op->key->host)
        rv = kz_pkey_decrypt(op->key->host, &op->params, in, inlen, out, &n);
    else
        rv = slot->token.ops->decrypt(&slot->token, op->key, &op->params, in, inlen, out, &n);
    *outlen = n;
    if (rv != CKR_BUFFER_TOO_SMALL)
        kz_crypt_op_end(op);
    return rv;
}

KZ_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen,
                          CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv = kz_session_acquire(hSession, &s, &slot);

    if (rv != CKR_OK)
        return rv;
    if (!s->decrypt.active) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if (!pEncryptedData && ulEncryptedDataLen) {
        kz_crypt_op_end(&s->decrypt);
        rv = CKR_ARGUMENTS_BAD;
    } else {
        rv = finish_decrypt(s, slot, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen);
    }
    kz_session_release(s);
    KZ_RET("C_Decrypt", rv);
}

/* RSA takes its whole input at the end: the parts are only collected. */
CK_RV kz_crypt_op_update(CK_SESSION_HANDLE h, int decrypt, const unsigned char *in, CK_ULONG len,
                         CK_ULONG_PTR outlen)
{
    kz_session *s;
    kz_crypt_op *op;
    CK_RV rv = kz_session_acquire(h, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    op = decrypt ? &s->decrypt : &s->encrypt;
    if (!op->active)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else if (!outlen || (!in && len))
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = kz_op_buffer_append(&op->buf, &op->len, &op->cap, in, len, CRYPT_LIMIT);
    if (rv == CKR_OK)
        *outlen = 0;
    else if (rv != CKR_OPERATION_NOT_INITIALIZED)
        kz_crypt_op_end(op);
    kz_session_release(s);
    return rv;
}

KZ_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
                                CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
    KZ_RET("C_DecryptUpdate", kz_crypt_op_update(hSession, 1, pEncryptedPart, ulEncryptedPartLen, pulPartLen));
}

KZ_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart, CK_ULONG_PTR pulLastPartLen)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv = kz_session_acquire(hSession, &s, &slot);

    if (rv != CKR_OK)
        return rv;
    if (!s->decrypt.active)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        rv = finish_decrypt(s, slot, s->decrypt.buf, s->decrypt.len, pLastPart, pulLastPartLen);
    kz_session_release(s);
    KZ_RET("C_DecryptFinal", rv);
}
