/* Random number generation (PKCS#11 2.40 §5.15). */
#include "frontend.h"

KZ_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
    kz_session *s;
    CK_RV rv = kz_session_acquire(hSession, &s, NULL);

    if (rv != CKR_OK)
        return rv;
    kz_session_release(s);
    /* OpenSSL seeds itself from the OS; an application seed adds nothing. */
    return CKR_RANDOM_SEED_NOT_SUPPORTED;
}

KZ_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen)
{
    kz_session *s;
    CK_RV rv;

    if (!pRandomData && ulRandomLen)
        return CKR_ARGUMENTS_BAD;
    if ((rv = kz_session_acquire(hSession, &s, NULL)) != CKR_OK)
        return rv;
    rv = kz_random(pRandomData, ulRandomLen);
    kz_session_release(s);
    KZ_RET("C_GenerateRandom", rv);
}
