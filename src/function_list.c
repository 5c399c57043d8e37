/* The function tables the module hands out: the 2.40 list through
 * C_GetFunctionList, and the 2.40 and 3.0 interfaces through
 * C_GetInterfaceList / C_GetInterface. */
#include "frontend.h"

#include <stddef.h>
#include <string.h>

static CK_FUNCTION_LIST list_2_40 = {
    { 2, 40 },
#define F(name) .name = name
    F(C_Initialize), F(C_Finalize), F(C_GetInfo), F(C_GetFunctionList),
    F(C_GetSlotList), F(C_GetSlotInfo), F(C_GetTokenInfo), F(C_GetMechanismList),
    F(C_GetMechanismInfo), F(C_InitToken), F(C_InitPIN), F(C_SetPIN),
    F(C_OpenSession), F(C_CloseSession), F(C_CloseAllSessions), F(C_GetSessionInfo),
    F(C_GetOperationState), F(C_SetOperationState), F(C_Login), F(C_Logout),
    F(C_CreateObject), F(C_CopyObject), F(C_DestroyObject), F(C_GetObjectSize),
    F(C_GetAttributeValue), F(C_SetAttributeValue), F(C_FindObjectsInit),
    F(C_FindObjects), F(C_FindObjectsFinal), F(C_EncryptInit), F(C_Encrypt),
    F(C_EncryptUpdate), F(C_EncryptFinal), F(C_DecryptInit), F(C_Decrypt),
    F(C_DecryptUpdate), F(C_DecryptFinal), F(C_DigestInit), F(C_Digest),
    F(C_DigestUpdate), F(C_DigestKey), F(C_DigestFinal), F(C_SignInit), F(C_Sign),
    F(C_SignUpdate), F(C_SignFinal), F(C_SignRecoverInit), F(C_SignRecover),
    F(C_VerifyInit), F(C_Verify), F(C_VerifyUpdate), F(C_VerifyFinal),
    F(C_VerifyRecoverInit), F(C_VerifyRecover), F(C_DigestEncryptUpdate),
    F(C_DecryptDigestUpdate), F(C_SignEncryptUpdate), F(C_DecryptVerifyUpdate),
    F(C_GenerateKey), F(C_GenerateKeyPair), F(C_WrapKey), F(C_UnwrapKey),
    F(C_DeriveKey), F(C_SeedRandom), F(C_GenerateRandom), F(C_GetFunctionStatus),
    F(C_CancelFunction), F(C_WaitForSlotEvent),
#undef F
};

static kz_function_list_3_0 list_3_0;
static CK_UTF8CHAR interface_name[] = "PKCS 11";
static CK_INTERFACE interfaces[2];

static void setup_interfaces(void)
{
    /* Filled on demand rather than statically: the 3.0 list embeds
     * functions from other files and a static initialiser of that size is
     * easier to keep right in one place (kz_function_list_3_0_fill). */
    if (interfaces[0].pFunctionList)
        return;
    kz_function_list_3_0_fill(&list_3_0);
    interfaces[0] = (CK_INTERFACE){ interface_name, &list_3_0, 0 };
    interfaces[1] = (CK_INTERFACE){ interface_name, &list_2_40, 0 };
}

KZ_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (!ppFunctionList)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &list_2_40;
    return CKR_OK;
}

KZ_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    CK_ULONG n = sizeof(interfaces) / sizeof(interfaces[0]);

    if (!pulCount)
        return CKR_ARGUMENTS_BAD;
    setup_interfaces();
    if (!pInterfacesList) {
        *pulCount = n;
        return CKR_OK;
    }
    if (*pulCount < n) {
        *pulCount = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pInterfacesList, interfaces, sizeof(interfaces));
    *pulCount = n;
    return CKR_OK;
}

KZ_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                               CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    if (!ppInterface)
        return CKR_ARGUMENTS_BAD;
    setup_interfaces();
    for (size_t i = 0; i < sizeof(interfaces) / sizeof(interfaces[0]); i++) {
        const CK_VERSION *v = interfaces[i].pFunctionList;   /* each list starts with its version */
        if (pInterfaceName && strcmp((const char *)pInterfaceName, (const char *)interface_name) != 0)
            continue;
        if (pVersion && (pVersion->major != v->major || pVersion->minor != v->minor))
            continue;
        if ((interfaces[i].flags & flags) != flags)
            continue;
        *ppInterface = &interfaces[i];
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}

/* ---- 3.0 additions ---------------------------------------------------------- */

static CK_RV kz3_LoginUser(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                           CK_ULONG pin_len, CK_UTF8CHAR_PTR name, CK_ULONG name_len)
{
    /* Our tokens have no user names; a name is only meaningful when empty. */
    if (name && name_len)
        return CKR_ARGUMENTS_BAD;
    return C_Login(h, user, pin, pin_len);
}

static CK_RV kz3_SessionCancel(CK_SESSION_HANDLE h, CK_FLAGS flags)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV kz3_msg_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV kz3_msg_crypt(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR a,
                           CK_ULONG al, CK_BYTE_PTR i, CK_ULONG il, CK_BYTE_PTR o, CK_ULONG_PTR ol)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV kz3_msg_crypt_begin(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR a,
                                 CK_ULONG al)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV kz3_msg_crypt_next(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR i,
                                CK_ULONG il, CK_BYTE_PTR o, CK_ULONG_PTR ol, CK_FLAGS f)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV kz3_msg_final(CK_SESSION_HANDLE h)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV kz3_msg_sign(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d,
                          CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG_PTR sl)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV kz3_msg_sign_begin(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV kz3_msg_verify(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d,
                            CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG sl)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

void kz_function_list_3_0_fill(kz_function_list_3_0 *l)
{
    /* The 2.40 part is the same table, field for field. */
    memcpy(&l->C_Initialize, &list_2_40.C_Initialize,
           sizeof(list_2_40) - offsetof(CK_FUNCTION_LIST, C_Initialize));
    l->version = (CK_VERSION){ 3, 0 };
    l->C_GetInfo = kz3_GetInfo;
    l->C_GetInterfaceList = C_GetInterfaceList;
    l->C_GetInterface = C_GetInterface;
    l->C_LoginUser = kz3_LoginUser;
    l->C_SessionCancel = kz3_SessionCancel;
    l->C_MessageEncryptInit = l->C_MessageDecryptInit = kz3_msg_init;
    l->C_MessageSignInit = l->C_MessageVerifyInit = kz3_msg_init;
    l->C_EncryptMessage = l->C_DecryptMessage = kz3_msg_crypt;
    l->C_EncryptMessageBegin = l->C_DecryptMessageBegin = kz3_msg_crypt_begin;
    l->C_EncryptMessageNext = l->C_DecryptMessageNext = kz3_msg_crypt_next;
    l->C_MessageEncryptFinal = l->C_MessageDecryptFinal = kz3_msg_final;
    l->C_MessageSignFinal = l->C_MessageVerifyFinal = kz3_msg_final;
    l->C_SignMessage = l->C_SignMessageNext = kz3_msg_sign;
    l->C_SignMessageBegin = l->C_VerifyMessageBegin = kz3_msg_sign_begin;
    l->C_VerifyMessage = l->C_VerifyMessageNext = kz3_msg_verify;
}
