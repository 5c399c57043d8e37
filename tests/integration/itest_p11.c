/* Helpers shared by the C integration tests; see itest_p11.h. */
#include "itest_p11.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>

const char *itest_rv(CK_RV rv)
{
    static __thread char buf[32];

    switch (rv) {
#define RV(x) case x: return #x
    RV(CKR_OK);
    RV(CKR_HOST_MEMORY);
    RV(CKR_SLOT_ID_INVALID);
    RV(CKR_GENERAL_ERROR);
    RV(CKR_FUNCTION_FAILED);
    RV(CKR_ARGUMENTS_BAD);
    RV(CKR_CANT_LOCK);
    RV(CKR_ATTRIBUTE_TYPE_INVALID);
    RV(CKR_DATA_LEN_RANGE);
    RV(CKR_DEVICE_ERROR);
    RV(CKR_FUNCTION_NOT_SUPPORTED);
    RV(CKR_KEY_HANDLE_INVALID);
    RV(CKR_KEY_FUNCTION_NOT_PERMITTED);
    RV(CKR_MECHANISM_INVALID);
    RV(CKR_MECHANISM_PARAM_INVALID);
    RV(CKR_OBJECT_HANDLE_INVALID);
    RV(CKR_OPERATION_ACTIVE);
    RV(CKR_OPERATION_NOT_INITIALIZED);
    RV(CKR_PIN_INCORRECT);
    RV(CKR_SESSION_HANDLE_INVALID);
    RV(CKR_SESSION_COUNT);
    RV(CKR_TOKEN_NOT_PRESENT);
    RV(CKR_USER_ALREADY_LOGGED_IN);
    RV(CKR_USER_NOT_LOGGED_IN);
    RV(CKR_BUFFER_TOO_SMALL);
    RV(CKR_CRYPTOKI_NOT_INITIALIZED);
    RV(CKR_CRYPTOKI_ALREADY_INITIALIZED);
    RV(CKR_MUTEX_BAD);
    RV(CKR_MUTEX_NOT_LOCKED);
#undef RV
    default:
        snprintf(buf, sizeof buf, "0x%lx", (unsigned long)rv);
        return buf;
    }
}

int itest_check(const char *what, CK_RV rv, CK_RV want)
{
    if (rv == want)
        return 1;
    fprintf(stderr, "FAIL: %s: got %s, expected %s\n", what, itest_rv(rv), itest_rv(want));
    return 0;
}

CK_FUNCTION_LIST_PTR itest_load(const char *path, void **handle)
{
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST_PTR f = NULL;
    CK_RV rv;

    if (path == NULL)
        path = getenv("KZP11_MODULE");
    if (path == NULL || *path == '\0') {
        fprintf(stderr, "FAIL: KZP11_MODULE is not set\n");
        return NULL;
    }
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*handle == NULL) {
        fprintf(stderr, "FAIL: dlopen(%s): %s\n", path, dlerror());
        return NULL;
    }
    get = (CK_C_GetFunctionList)dlsym(*handle, "C_GetFunctionList");
    if (get == NULL) {
        fprintf(stderr, "FAIL: %s exports no C_GetFunctionList\n", path);
        return NULL;
    }
    rv = get(&f);
    if (!itest_check("C_GetFunctionList", rv, CKR_OK))
        return NULL;
    if (f == NULL) {
        fprintf(stderr, "FAIL: C_GetFunctionList returned NULL\n");
        return NULL;
    }
    return f;
}

CK_RV itest_find_slot(CK_FUNCTION_LIST_PTR f, const char *prefix, CK_SLOT_ID *slot)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64, i;
    CK_RV rv;
    size_t plen = strlen(prefix);

    rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        return rv;
    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;

        rv = f->C_GetTokenInfo(slots[i], &ti);
        if (rv != CKR_OK)
            return rv;
        if (memcmp(ti.label, prefix, plen) == 0) {
            *slot = slots[i];
            return CKR_OK;
        }
    }
    return CKR_TOKEN_NOT_PRESENT;
}

CK_RV itest_find_one(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                     const unsigned char *id, CK_ULONG id_len, CK_OBJECT_HANDLE *obj)
{
    CK_ATTRIBUTE tmpl[2];
    CK_OBJECT_HANDLE found[4];
    CK_ULONG n = 0, ntmpl = 1;
    CK_RV rv, rv2;

    tmpl[0].type = CKA_CLASS;
    tmpl[0].pValue = &cls;
    tmpl[0].ulValueLen = sizeof cls;
    if (id != NULL) {
        tmpl[1].type = CKA_ID;
        tmpl[1].pValue = (void *)id;
        tmpl[1].ulValueLen = id_len;
        ntmpl = 2;
    }
    rv = f->C_FindObjectsInit(s, tmpl, ntmpl);
    if (rv != CKR_OK)
        return rv;
    rv = f->C_FindObjects(s, found, 4, &n);
    rv2 = f->C_FindObjectsFinal(s);
    if (rv != CKR_OK)
        return rv;
    if (rv2 != CKR_OK)
        return rv2;
    if (n != 1) {
        fprintf(stderr, "FAIL: expected 1 object of class %lu, found %lu\n",
                (unsigned long)cls, (unsigned long)n);
        return CKR_GENERAL_ERROR;
    }
    *obj = found[0];
    return CKR_OK;
}

CK_RV itest_get_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len)
{
    CK_ATTRIBUTE a;
    CK_RV rv;

    a.type = type;
    a.pValue = NULL;
    a.ulValueLen = 0;
    rv = f->C_GetAttributeValue(s, obj, &a, 1);
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen == 0)
        return CKR_ATTRIBUTE_TYPE_INVALID;
    a.pValue = malloc(a.ulValueLen);
    if (a.pValue == NULL)
        return CKR_HOST_MEMORY;
    rv = f->C_GetAttributeValue(s, obj, &a, 1);
    if (rv != CKR_OK) {
        free(a.pValue);
        return rv;
    }
    *val = a.pValue;
    *len = a.ulValueLen;
    return CKR_OK;
}

CK_RV itest_key_and_cert(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
                         CK_OBJECT_HANDLE *key, EVP_PKEY **pub)
{
    unsigned char *id = NULL, *der = NULL;
    CK_ULONG id_len = 0, der_len = 0;
    CK_OBJECT_HANDLE cert;
    const unsigned char *p;
    X509 *x;
    CK_RV rv;

    rv = itest_find_one(f, s, CKO_PRIVATE_KEY, NULL, 0, key);
    if (rv != CKR_OK)
        return rv;
    rv = itest_get_attr(f, s, *key, CKA_ID, &id, &id_len);
    if (rv != CKR_OK)
        return rv;
    rv = itest_find_one(f, s, CKO_CERTIFICATE, id, id_len, &cert);
    free(id);
    if (rv != CKR_OK)
        return rv;
    rv = itest_get_attr(f, s, cert, CKA_VALUE, &der, &der_len);
    if (rv != CKR_OK)
        return rv;
    p = der;
    x = d2i_X509(NULL, &p, (long)der_len);
    free(der);
    if (x == NULL) {
        fprintf(stderr, "FAIL: the token's CKA_VALUE is not a DER certificate\n");
        return CKR_GENERAL_ERROR;
    }
    *pub = X509_get_pubkey(x);
    X509_free(x);
    return *pub != NULL ? CKR_OK : CKR_GENERAL_ERROR;
}

int itest_verify_sha256(EVP_PKEY *pub, const unsigned char *data, size_t len,
                        const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = 0;

    if (ctx != NULL &&
        EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
        EVP_DigestVerify(ctx, sig, siglen, data, len) == 1)
        ok = 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

CK_RV itest_sign_sha256(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                        const unsigned char *data, CK_ULONG len,
                        unsigned char *sig, CK_ULONG *siglen)
{
    CK_MECHANISM mech = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    CK_RV rv;

    rv = f->C_SignInit(s, &mech, key);
    if (rv != CKR_OK)
        return rv;
    *siglen = 512;
    return f->C_Sign(s, (CK_BYTE_PTR)data, len, sig, siglen);
}

long itest_count(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = -1;

    if (f) {
        if (fscanf(f, "%ld", &n) != 1)
            n = -1;
        fclose(f);
    }
    return n;
}
