/* Verification (PKCS#11 2.40 §5.13): always on the host, with the public key. */
#include "frontend.h"

KZ_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    kz_session *s;
    kz_slot *slot;
    CK_RV rv = kz_session_acquire(hSession, &s, &slot);

    if (rv != CKR_OK)
        return rv;
    rv = kz_sig_op_init(s, slot, &s->verify, pMechanism, hKey, 0);
    kz_session_release(s);
    KZ_RET("C_VerifyInit", rv);
}

static CK_RV finish_verify(kz_sig_op *op, const unsigned char *data, size_t len, int single,
                           const unsigned char *sig, size_t siglen)
{
    unsigned char dig[64];
    size_t diglen = sizeof(dig), inlen;
    const unsigned char *in;
    CK_RV rv;

    if (!op->active)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (single && op->multipart)
        return CKR_OPERATION_ACTIVE;
    if (!sig && siglen)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = kz_sig_op_input(op, data, len, single, dig, &diglen, &in, &inlen);
    if (rv == CKR_OK)
        rv = kz_pkey_verify(op->pub, &op->params, in, inlen, sig, siglen);
    kz_sig_op_end(op);
    return rv;
}

KZ_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                         CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    if (!pData && ulDataLen) {
        kz_sig_op_end(&s->verify);
        rv = CKR_ARGUMENTS_BAD;
    } else {
        rv = finish_verify(&s->verify, pData, ulDataLen, 1, pSignature, ulSignatureLen);
    }
    kz_session_release(s);
    KZ_RET("C_Verify", rv);
}

KZ_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    if (!s->verify.active)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else if (!pPart && ulPartLen)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = kz_sig_op_update(&s->verify, pPart, ulPartLen);
    if (rv != CKR_OK && rv != CKR_OPERATION_NOT_INITIALIZED)
        kz_sig_op_end(&s->verify);
    kz_session_release(s);
    KZ_RET("C_VerifyUpdate", rv);
}

KZ_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    rv = finish_verify(&s->verify, NULL, 0, 0, pSignature, ulSignatureLen);
    kz_session_release(s);
    KZ_RET("C_VerifyFinal", rv);
}

KZ_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

KZ_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen,
                                CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}
