/* Encryption (PKCS#11 2.40 §5.8) with a public key, on the host. */
#include "frontend.h"

KZ_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv = kz_session_acquire(hSession, &s, &slot);

    if (rv != CKR_OK)
        return rv;
    rv = kz_crypt_op_init(s, slot, &s->encrypt, pMechanism, hKey, 0);
    kz_session_release(s);
    KZ_RET("C_EncryptInit", rv);
}

static CK_RV finish_encrypt(kz_crypt_op *op, const unsigned char *in, size_t inlen,
                            CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
    size_t need = kz_pkey_sig_len(op->pub), n;
    CK_RV rv;

    if (!outlen) {
        kz_crypt_op_end(op);
        return CKR_ARGUMENTS_BAD;
    }
    if (!out) {
        *outlen = need;
        return CKR_OK;
    }
    if (*outlen < need) {
        *outlen = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    n = *outlen;
    rv = kz_pkey_encrypt(op->pub, &op->params, in, inlen, out, &n);
    if (rv == CKR_OK)
        *outlen = n;
    kz_crypt_op_end(op);
    return rv;
}

KZ_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                          CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    if (!s->encrypt.active) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if (!pData && ulDataLen) {
        kz_crypt_op_end(&s->encrypt);
        rv = CKR_ARGUMENTS_BAD;
    } else {
        rv = finish_encrypt(&s->encrypt, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen);
    }
    kz_session_release(s);
    KZ_RET("C_Encrypt", rv);
}

KZ_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                                CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
    KZ_RET("C_EncryptUpdate", kz_crypt_op_update(hSession, 0, pPart, ulPartLen, pulEncryptedPartLen));
}

KZ_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                               CK_ULONG_PTR pulLastEncryptedPartLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    if (!s->encrypt.active)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        rv = finish_encrypt(&s->encrypt, s->encrypt.buf, s->encrypt.len, pLastEncryptedPart,
                            pulLastEncryptedPartLen);
    kz_session_release(s);
    KZ_RET("C_EncryptFinal", rv);
}
