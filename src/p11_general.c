/* General-purpose functions (PKCS#11 2.40 §5.4). */
#include "frontend.h"

#include <string.h>
#include <unistd.h>

void kz_pad_field(unsigned char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);

    memset(dst, ' ', len);
    memcpy(dst, src, n < len ? n : len);
}

KZ_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
    CK_RV rv = kz_module_init(pInitArgs);

    if (rv == CKR_OK) {
        /* No token I/O here: slots are listed on first use. */
        KZ_DEBUG("C_Initialize: ok");
    }
    return rv;
}

KZ_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    if (pReserved)
        return CKR_ARGUMENTS_BAD;
    return kz_module_fini();
}

static CK_RV get_info(CK_INFO_PTR info, CK_BYTE major, CK_BYTE minor)
{
    if (!kz_mod.initialized || kz_mod.pid != getpid())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = major;
    info->cryptokiVersion.minor = minor;
    kz_pad_field(info->manufacturerID, sizeof(info->manufacturerID), "kzp11 project");
    kz_pad_field(info->libraryDescription, sizeof(info->libraryDescription),
                 "kzp11 Kazakhstan NCA PKI module");
    info->libraryVersion.major = KZP11_VERSION_MAJOR;
    info->libraryVersion.minor = KZP11_VERSION_MINOR;
    return CKR_OK;
}

KZ_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
    return get_info(pInfo, 2, 40);
}

CK_RV kz3_GetInfo(CK_INFO_PTR pInfo)
{
    return get_info(pInfo, 3, 0);
}
