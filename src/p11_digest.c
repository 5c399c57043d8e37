/* Message digesting (PKCS#11 2.40 §5.10), on the host. */
#include "frontend.h"

KZ_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
    const kz_mech *m;
    CK_MECHANISM_TYPE hash = 0;
    kz_session *s;
    CK_RV rv;

    if (!pMechanism)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_session_acquire(hSession, &s, NULL)) != CKR_OK)
        return rv;
    m = kz_mech_find_kind(pMechanism->mechanism, KZ_MECH_DIGEST);
    if (s->digest.active)
        rv = CKR_OPERATION_ACTIVE;
    else if (!m)
        rv = CKR_MECHANISM_INVALID;
    else if (m->type == CKM_GOSTR3411)
        rv = kz_mech_gost94_digest(pMechanism, &hash);   /* the parameter picks the S-boxes */
    else if (pMechanism->ulParameterLen)
        rv = CKR_MECHANISM_PARAM_INVALID;
    else
        hash = m->type;
    if (rv == CKR_OK && !(s->digest.digest = kz_digest_new(hash)))
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        s->digest.mech = hash;
        s->digest.active = 1;
    }
    kz_session_release(s);
    KZ_RET("C_DigestInit", rv);
}

static CK_RV finish(kz_digest_op *op, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
    size_t need = kz_digest_size(op->mech), n = need;
    CK_RV rv;

    if (!outlen) {
        kz_digest_op_end(op);
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
    rv = kz_digest_final(op->digest, out, &n);
    if (rv == CKR_OK)
        *outlen = n;
    kz_digest_op_end(op);
    return rv;
}

KZ_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                         CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    if (!s->digest.active) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if (!pData && ulDataLen) {
        kz_digest_op_end(&s->digest);
        rv = CKR_ARGUMENTS_BAD;
    } else if (pDigest && pulDigestLen && *pulDigestLen >= kz_digest_size(s->digest.mech)) {
        /* Feed only when the result will be delivered: a length query or a
         * short buffer must leave the data unconsumed for the retry. */
        rv = kz_digest_update(s->digest.digest, pData, ulDataLen);
        if (rv == CKR_OK)
            rv = finish(&s->digest, pDigest, pulDigestLen);
        else
            kz_digest_op_end(&s->digest);
    } else {
        rv = finish(&s->digest, pDigest, pulDigestLen);
    }
    kz_session_release(s);
    KZ_RET("C_Digest", rv);
}

KZ_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    if (!s->digest.active)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else if (!pPart && ulPartLen)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = kz_digest_update(s->digest.digest, pPart, ulPartLen);
    if (rv != CKR_OK && rv != CKR_OPERATION_NOT_INITIALIZED)
        kz_digest_op_end(&s->digest);
    kz_session_release(s);
    KZ_RET("C_DigestUpdate", rv);
}

KZ_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
    /* Our keys are asymmetric and sensitive: nothing to digest. */
    return CKR_FUNCTION_NOT_SUPPORTED;
}

KZ_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    rv = s->digest.active ? finish(&s->digest, pDigest, pulDigestLen) : CKR_OPERATION_NOT_INITIALIZED;
    kz_session_release(s);
    KZ_RET("C_DigestFinal", rv);
}
