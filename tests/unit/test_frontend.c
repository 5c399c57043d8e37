/* The Cryptoki front end called directly: argument and state checking,
 * attribute semantics, search, sign/verify/digest/decrypt conventions, and
 * the slot table following files in a keystore folder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "pkcs11_types.h"
#include "pkcs11_v3.h"

#define RSA_LABEL "RSA256_11c707bd54cbfcccb3815e39c"
#define AUTH_LABEL "AUTH_RSA256_b2c70a9ff7a5dc59de0c"
#define PIN "Qwerty12"

static char fixture_dir[2048];

static const char *srcdir(void)
{
    const char *s = getenv("KZP11_SRCDIR");
    return s && *s ? s : ".";
}

static void copy_file(const char *from, const char *to);

/* The tests change containers (certificates deleted, passwords changed):
 * they work on a copy, never on the fixtures. */
static void make_fixture_copy(void)
{
    static const char *names[] = { "RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12",
                                   "AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d.p12" };
    char from[4096], to[4096];

    snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/kzp11-frontend-XXXXXX");
    assert_non_null(mkdtemp(fixture_dir));
    for (int i = 0; i < 2; i++) {
        snprintf(from, sizeof(from), "%s/tests/fixtures/nca/rsa-personal/%s", srcdir(), names[i]);
        snprintf(to, sizeof(to), "%s/%s", fixture_dir, names[i]);
        copy_file(from, to);
    }
}

static void remove_fixture_copy(void)
{
    char cmd[4200];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fixture_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fixture_dir);
}

static int setup_env(void **state)
{
    setenv("KZP11_KEYSTORE", fixture_dir, 1);
    return 0;
}

static int init(void **state)
{
    setup_env(state);
    return C_Initialize(NULL) == CKR_OK ? 0 : -1;
}

static int fini(void **state)
{
    C_Finalize(NULL);
    return 0;
}

/* Tokens that are containers (the free slots are uninitialised tokens). */
static int count_initialized(void)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_TOKEN_INFO ti;
    int count = 0;

    assert_int_equal(C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        assert_int_equal(C_GetTokenInfo(slots[i], &ti), CKR_OK);
        count += (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
    }
    return count;
}

static CK_SLOT_ID slot_by_label(const char *label)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_TOKEN_INFO ti;

    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    n = 64;
    assert_int_equal(C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        assert_int_equal(C_GetTokenInfo(slots[i], &ti), CKR_OK);
        if (memcmp(ti.label, label, strlen(label)) == 0)
            return slots[i];
    }
    fail_msg("no token %s", label);
    return 0;
}

static CK_SESSION_HANDLE login_session(const char *label, CK_FLAGS extra)
{
    CK_SESSION_HANDLE h;

    assert_int_equal(C_OpenSession(slot_by_label(label), CKF_SERIAL_SESSION | extra, NULL, NULL, &h), CKR_OK);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)), CKR_OK);
    return h;
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls)
{
    CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) };
    CK_OBJECT_HANDLE o[4];
    CK_ULONG n = 0;

    assert_int_equal(C_FindObjectsInit(h, &t, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h, o, 4, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 1);
    return o[0];
}

/* ---- General ------------------------------------------------------------------ */

static void test_not_initialized(void **state)
{
    CK_ULONG n;
    CK_INFO info;
    CK_SESSION_HANDLE h;

    assert_int_equal(C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void test_initialize_args(void **state)
{
    CK_C_INITIALIZE_ARGS args = { 0 };
    int dummy;

    setup_env(state);
    args.pReserved = &dummy;
    assert_int_equal(C_Initialize(&args), CKR_ARGUMENTS_BAD);
    args.pReserved = NULL;
    /* Only some of the four callbacks: inconsistent. */
    args.CreateMutex = (CK_CREATEMUTEX)1;
    assert_int_equal(C_Initialize(&args), CKR_ARGUMENTS_BAD);
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    assert_int_equal(C_Initialize(&args), CKR_OK);
    assert_int_equal(C_Initialize(&args), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    assert_int_equal(C_Finalize((void *)&args), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_Finalize(NULL), CKR_OK);
}

static int mutexes_live, mutex_locks;
static CK_RV app_create(void **m) { *m = calloc(1, 1); mutexes_live++; return CKR_OK; }
static CK_RV app_destroy(void *m) { free(m); mutexes_live--; return CKR_OK; }
static CK_RV app_lock(void *m) { mutex_locks++; return CKR_OK; }
static CK_RV app_unlock(void *m) { return CKR_OK; }

static void test_app_mutexes(void **state)
{
    CK_C_INITIALIZE_ARGS args = { app_create, app_destroy, app_lock, app_unlock, 0, NULL };
    CK_ULONG n;

    setup_env(state);
    mutexes_live = mutex_locks = 0;
    assert_int_equal(C_Initialize(&args), CKR_OK);
    assert_true(mutexes_live > 0);
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_true(mutex_locks > 0);
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(mutexes_live, 0);
}

static void test_info_and_interfaces(void **state)
{
    CK_INFO info;
    CK_FUNCTION_LIST_PTR fl;
    CK_INTERFACE list[4], *iface;
    CK_ULONG n = 0;
    CK_VERSION v30 = { 3, 0 }, v240 = { 2, 40 }, v99 = { 9, 9 };

    assert_int_equal(C_GetInfo(&info), CKR_OK);
    assert_int_equal(info.cryptokiVersion.major, 2);
    assert_int_equal(info.cryptokiVersion.minor, 40);
    assert_int_equal(C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetFunctionList(&fl), CKR_OK);
    assert_int_equal(fl->version.major, 2);
    assert_ptr_equal(fl->C_Sign, C_Sign);
    assert_int_equal(C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);

    assert_int_equal(C_GetInterfaceList(NULL, &n), CKR_OK);
    assert_int_equal(n, 2);
    n = 1;
    assert_int_equal(C_GetInterfaceList(list, &n), CKR_BUFFER_TOO_SMALL);
    n = 4;
    assert_int_equal(C_GetInterfaceList(list, &n), CKR_OK);
    assert_string_equal((char *)list[0].pInterfaceName, "PKCS 11");

    assert_int_equal(C_GetInterface(NULL, NULL, &iface, 0), CKR_OK);
    assert_int_equal(((CK_VERSION *)iface->pFunctionList)->major, 3);
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR)"PKCS 11", &v240, &iface, 0), CKR_OK);
    assert_ptr_equal(iface->pFunctionList, fl);
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR)"PKCS 11", &v30, &iface, 0), CKR_OK);
    {
        kz_function_list_3_0 *l3 = iface->pFunctionList;
        CK_INFO i3;
        assert_int_equal(l3->C_GetInfo(&i3), CKR_OK);
        assert_int_equal(i3.cryptokiVersion.major, 3);
        assert_ptr_equal(l3->C_Sign, C_Sign);
        assert_ptr_equal(l3->C_WaitForSlotEvent, C_WaitForSlotEvent);
        assert_int_equal(l3->C_SessionCancel(1, 0), CKR_FUNCTION_NOT_SUPPORTED);
    }
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR)"PKCS 11", &v99, &iface, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR)"Vendor X", NULL, &iface, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetInterface(NULL, NULL, &iface, CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);
}

/* ---- Slots and tokens ------------------------------------------------------------ */

static void test_slot_list(void **state)
{
    CK_SLOT_ID slots[4];
    CK_ULONG n = 0;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;

    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 3);     /* two containers and the folder's free slot */
    n = 1;
    assert_int_equal(C_GetSlotList(CK_TRUE, slots, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 3);
    assert_int_equal(C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    assert_int_equal(count_initialized(), 2);
    assert_int_equal(C_GetSlotInfo(slots[0], &si), CKR_OK);
    assert_true(si.flags & CKF_TOKEN_PRESENT);
    assert_int_equal(C_GetSlotInfo(9999, &si), CKR_SLOT_ID_INVALID);
    assert_int_equal(C_GetTokenInfo(9999, &ti), CKR_SLOT_ID_INVALID);
    assert_int_equal(C_GetTokenInfo(slot_by_label(RSA_LABEL), &ti), CKR_OK);
    assert_memory_equal(ti.serialNumber, "11c707bd54cbfccc", 16);
    assert_int_equal(ti.flags & (CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED),
                     CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED);
    assert_null(memchr(ti.label, ':', sizeof(ti.label)));
}

static void test_mechanisms(void **state)
{
    CK_SLOT_ID slot = slot_by_label(RSA_LABEL);
    CK_MECHANISM_TYPE list[64];
    CK_ULONG n = 0;
    CK_MECHANISM_INFO mi;
    int have_pss = 0, have_sha256 = 0;

    assert_int_equal(C_GetMechanismList(slot, NULL, &n), CKR_OK);
    assert_true(n > 10 && n <= 64);
    n = 2;
    assert_int_equal(C_GetMechanismList(slot, list, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(C_GetMechanismList(slot, list, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        have_pss |= list[i] == CKM_SHA256_RSA_PKCS_PSS;
        have_sha256 |= list[i] == CKM_SHA256;
    }
    assert_true(have_pss && have_sha256);
    assert_int_equal(C_GetMechanismInfo(slot, CKM_RSA_PKCS, &mi), CKR_OK);
    assert_true(mi.flags & CKF_SIGN && mi.flags & CKF_DECRYPT);
    assert_int_equal(mi.ulMaxKeySize, 8192);
    assert_int_equal(C_GetMechanismInfo(slot, CKM_SHA256, &mi), CKR_OK);
    assert_true(mi.flags & CKF_DIGEST);
    assert_int_equal(C_GetMechanismInfo(slot, CKM_AES_CBC, &mi), CKR_MECHANISM_INVALID);
}

/* ---- Sessions and login ------------------------------------------------------------ */

static void test_sessions(void **state)
{
    CK_SLOT_ID slot = slot_by_label(RSA_LABEL);
    CK_SESSION_HANDLE ro, rw;
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;

    assert_int_equal(C_OpenSession(slot, 0, NULL, NULL, &ro), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_OpenSession(4242, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_SLOT_ID_INVALID);
    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw), CKR_OK);
    assert_int_equal(C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_int_equal(ti.ulSessionCount, 2);
    assert_int_equal(ti.ulRwSessionCount, 1);
    assert_int_equal(C_GetSessionInfo(ro, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RO_PUBLIC_SESSION);

    assert_int_equal(C_Login(ro, 77, (CK_UTF8CHAR_PTR)PIN, 8), CKR_USER_TYPE_INVALID);
    assert_int_equal(C_Login(ro, CKU_USER, (CK_UTF8CHAR_PTR)"WrongPass1", 10), CKR_PIN_INCORRECT);
    assert_int_equal(C_Login(ro, CKU_USER, NULL, 0), CKR_PIN_INCORRECT);
    assert_int_equal(C_Login(ro, CKU_SO, (CK_UTF8CHAR_PTR)PIN, 8), CKR_SESSION_READ_ONLY_EXISTS);
    assert_int_equal(C_Logout(ro), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(C_Login(ro, CKU_USER, (CK_UTF8CHAR_PTR)PIN, 8), CKR_OK);
    assert_int_equal(C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)PIN, 8), CKR_USER_ALREADY_LOGGED_IN);
    /* Login is shared by all sessions of the slot. */
    assert_int_equal(C_GetSessionInfo(rw, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
    assert_int_equal(C_GetSessionInfo(ro, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RO_USER_FUNCTIONS);
    assert_int_equal(C_Logout(rw), CKR_OK);
    assert_int_equal(C_GetSessionInfo(ro, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RO_PUBLIC_SESSION);

    /* Closing the last session logs out. */
    assert_int_equal(C_Login(ro, CKU_USER, (CK_UTF8CHAR_PTR)PIN, 8), CKR_OK);
    assert_int_equal(C_CloseSession(ro), CKR_OK);
    assert_int_equal(C_CloseSession(ro), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_GetSessionInfo(rw, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
    assert_int_equal(C_CloseAllSessions(slot), CKR_OK);
    assert_int_equal(C_GetSessionInfo(rw, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
    assert_int_equal(C_GetSessionInfo(ro, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RO_PUBLIC_SESSION);
    assert_int_equal(C_CloseSession(ro), CKR_OK);
}

/* ---- Objects ----------------------------------------------------------------------- */

static void test_objects_before_and_after_login(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE o[8];
    CK_ULONG n = 0;

    assert_int_equal(C_OpenSession(slot_by_label(RSA_LABEL), CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    assert_int_equal(C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(C_FindObjectsInit(h, NULL, 0), CKR_OPERATION_ACTIVE);
    assert_int_equal(C_FindObjects(h, o, 8, &n), CKR_OK);
    assert_int_equal(n, 0);   /* the NCA encrypts everything: nothing before login */
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(C_FindObjects(h, o, 8, &n), CKR_OPERATION_NOT_INITIALIZED);

    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)PIN, 8), CKR_OK);
    assert_int_equal(C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(C_FindObjects(h, o, 2, &n), CKR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(C_FindObjects(h, o + 2, 6, &n), CKR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(C_FindObjects(h, o, 8, &n), CKR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

static void test_ids_match(void **state)
{
    CK_SESSION_HANDLE h = login_session(RSA_LABEL, 0);
    CK_OBJECT_CLASS classes[] = { CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY };
    unsigned char id[3][64], label[3][64];
    static const unsigned char ski[] = { 0x11, 0xc7, 0x07, 0xbd, 0x54, 0xcb, 0xfc, 0xcc, 0xb3, 0x81,
                                         0x5e, 0x39, 0xc4, 0xeb, 0x57, 0xb1, 0xdc, 0x7d, 0xfe, 0xa9 };

    for (int i = 0; i < 3; i++) {
        CK_ATTRIBUTE t[] = { { CKA_ID, id[i], 64 }, { CKA_LABEL, label[i], 64 } };
        assert_int_equal(C_GetAttributeValue(h, find_one(h, classes[i]), t, 2), CKR_OK);
        assert_int_equal(t[0].ulValueLen, sizeof(ski));
        assert_memory_equal(id[i], ski, sizeof(ski));
        assert_int_equal(t[1].ulValueLen, 40);
        assert_memory_equal(label[i], "11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9", 40);
    }
    C_CloseSession(h);
}

static void test_get_attribute_semantics(void **state)
{
    CK_SESSION_HANDLE h = login_session(RSA_LABEL, 0);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY), cert = find_one(h, CKO_CERTIFICATE);
    CK_BBOOL sens = 0, extr = 1, sign = 0, decrypt = 1;
    unsigned char small[4], mod[512];
    CK_ATTRIBUTE t[] = {
        { CKA_SENSITIVE, &sens, sizeof(sens) },
        { CKA_PRIVATE_EXPONENT, mod, sizeof(mod) },   /* sensitive */
        { CKA_EXTRACTABLE, &extr, sizeof(extr) },
        { 0x7fff1234UL, small, sizeof(small) },        /* no such attribute */
        { CKA_MODULUS, small, sizeof(small) },         /* too small */
        { CKA_SIGN, &sign, sizeof(sign) },
        { CKA_DECRYPT, &decrypt, sizeof(decrypt) },
    };
    CK_ATTRIBUTE q = { CKA_MODULUS, NULL, 0 };
    CK_ATTRIBUTE v = { CKA_VALUE, NULL, 0 };
    CK_RV rv;

    rv = C_GetAttributeValue(h, priv, t, 7);
    assert_true(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL);
    assert_true(sens);
    assert_false(extr);
    assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_true(sign);
    assert_false(decrypt);   /* RSA256 signing key: no keyEncipherment */

    /* Each error alone gives its own code. */
    assert_int_equal(C_GetAttributeValue(h, priv, &t[1], 1), CKR_ATTRIBUTE_SENSITIVE);
    t[3].ulValueLen = sizeof(small);
    assert_int_equal(C_GetAttributeValue(h, priv, &t[3], 1), CKR_ATTRIBUTE_TYPE_INVALID);
    t[4].ulValueLen = sizeof(small);
    assert_int_equal(C_GetAttributeValue(h, priv, &t[4], 1), CKR_BUFFER_TOO_SMALL);
    /* Length query. */
    assert_int_equal(C_GetAttributeValue(h, priv, &q, 1), CKR_OK);
    assert_int_equal(q.ulValueLen, 256);
    assert_int_equal(C_GetAttributeValue(h, cert, &v, 1), CKR_OK);
    assert_true(v.ulValueLen > 500);
    assert_int_equal(C_GetAttributeValue(h, 0xdeadbeef, &v, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(C_GetAttributeValue(0xdeadbeef, cert, &v, 1), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_GetAttributeValue(h, cert, NULL, 1), CKR_ARGUMENTS_BAD);
    C_CloseSession(h);
}

static void test_find_templates(void **state)
{
    CK_SESSION_HANDLE h = login_session(AUTH_LABEL, 0);
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA, ec = CKK_EC;
    CK_OBJECT_HANDLE o[8];
    CK_ULONG n;
    CK_ATTRIBUTE t1[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_DECRYPT, &yes, sizeof(yes) } };
    CK_ATTRIBUTE t2[] = { { CKA_KEY_TYPE, &kt, sizeof(kt) } };
    CK_ATTRIBUTE t3[] = { { CKA_KEY_TYPE, &ec, sizeof(ec) } };
    CK_ATTRIBUTE t4[] = { { CKA_ID, "nope", 4 } };

    assert_int_equal(C_FindObjectsInit(h, t1, 2), CKR_OK);
    assert_int_equal(C_FindObjects(h, o, 8, &n), CKR_OK);
    assert_int_equal(n, 1);   /* the AUTH key may decrypt */
    C_FindObjectsFinal(h);
    assert_int_equal(C_FindObjectsInit(h, t2, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h, o, 8, &n), CKR_OK);
    assert_int_equal(n, 2);
    C_FindObjectsFinal(h);
    assert_int_equal(C_FindObjectsInit(h, t3, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h, o, 8, &n), CKR_OK);
    assert_int_equal(n, 0);
    C_FindObjectsFinal(h);
    assert_int_equal(C_FindObjectsInit(h, t4, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h, o, 8, &n), CKR_OK);
    assert_int_equal(n, 0);
    C_FindObjectsFinal(h);
    assert_int_equal(C_FindObjectsInit(h, NULL, 1), CKR_ARGUMENTS_BAD);
    C_CloseSession(h);
}

static void test_token_objects_read_only(void **state)
{
    CK_SESSION_HANDLE h = login_session(RSA_LABEL, 0), rw;
    CK_OBJECT_HANDLE cert = find_one(h, CKO_CERTIFICATE);
    CK_ATTRIBUTE t = { CKA_LABEL, "x", 1 };

    assert_int_equal(C_SetAttributeValue(h, cert, &t, 1), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_DestroyObject(h, cert), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_OpenSession(slot_by_label(RSA_LABEL), CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw), CKR_OK);
    assert_int_equal(C_SetAttributeValue(rw, cert, &t, 1), CKR_ACTION_PROHIBITED);
    /* The key of an installed certificate is never deleted silently, and a
     * public key is its private key's half. */
    assert_int_equal(C_DestroyObject(rw, find_one(h, CKO_PRIVATE_KEY)), CKR_ACTION_PROHIBITED);
    assert_int_equal(C_DestroyObject(rw, find_one(h, CKO_PUBLIC_KEY)), CKR_ACTION_PROHIBITED);
    assert_int_equal(find_one(h, CKO_CERTIFICATE), cert);
    C_CloseSession(rw);
    C_CloseSession(h);
}

/* ---- Crypto ------------------------------------------------------------------------- */

static EVP_PKEY *cert_key(CK_SESSION_HANDLE h)
{
    unsigned char der[4096];
    CK_ATTRIBUTE v = { CKA_VALUE, der, sizeof(der) };
    const unsigned char *p = der;
    X509 *x;
    EVP_PKEY *k;

    assert_int_equal(C_GetAttributeValue(h, find_one(h, CKO_CERTIFICATE), &v, 1), CKR_OK);
    x = d2i_X509(NULL, &p, (long)v.ulValueLen);
    assert_non_null(x);
    k = X509_get_pubkey(x);
    X509_free(x);
    return k;
}

static void test_sign_conventions(void **state)
{
    CK_SESSION_HANDLE h = login_session(RSA_LABEL, 0);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY), pub = find_one(h, CKO_PUBLIC_KEY);
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    unsigned char data[100], sig[256], sig2[256], small[8];
    CK_ULONG len;
    EVP_PKEY *k = cert_key(h);
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    memset(data, 'k', sizeof(data));
    assert_int_equal(C_Sign(h, data, sizeof(data), sig, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(C_SignInit(h, NULL, priv), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_SignInit(h, &m, pub), CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(C_SignInit(h, &m, 0xdeadbeef), CKR_KEY_HANDLE_INVALID);
    {
        CK_MECHANISM bad = { CKM_AES_CBC, NULL, 0 };
        assert_int_equal(C_SignInit(h, &bad, priv), CKR_MECHANISM_INVALID);
    }
    assert_int_equal(C_SignInit(h, &m, priv), CKR_OK);
    assert_int_equal(C_SignInit(h, &m, priv), CKR_OPERATION_ACTIVE);
    /* Length query, then a short buffer: both keep the operation. */
    assert_int_equal(C_Sign(h, data, sizeof(data), NULL, &len), CKR_OK);
    assert_int_equal(len, 256);
    len = sizeof(small);
    assert_int_equal(C_Sign(h, data, sizeof(data), small, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 256);
    assert_int_equal(C_Sign(h, data, sizeof(data), sig, &len), CKR_OK);
    assert_int_equal(C_Sign(h, data, sizeof(data), sig, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, len, data, sizeof(data)), 1);

    /* Multi-part gives the same (deterministic PKCS#1 v1.5) signature. */
    assert_int_equal(C_SignInit(h, &m, priv), CKR_OK);
    assert_int_equal(C_SignUpdate(h, data, 33), CKR_OK);
    assert_int_equal(C_SignUpdate(h, data + 33, sizeof(data) - 33), CKR_OK);
    assert_int_equal(C_Sign(h, data, 1, sig2, &len), CKR_OPERATION_ACTIVE);
    len = sizeof(sig2);
    assert_int_equal(C_SignFinal(h, sig2, &len), CKR_OK);
    assert_memory_equal(sig, sig2, 256);

    /* Verify single and multi-part, and a flipped bit. */
    assert_int_equal(C_VerifyInit(h, &m, pub), CKR_OK);
    assert_int_equal(C_Verify(h, data, sizeof(data), sig, 256), CKR_OK);
    assert_int_equal(C_VerifyInit(h, &m, pub), CKR_OK);
    assert_int_equal(C_VerifyUpdate(h, data, 50), CKR_OK);
    assert_int_equal(C_VerifyUpdate(h, data + 50, 50), CKR_OK);
    assert_int_equal(C_VerifyFinal(h, sig, 256), CKR_OK);
    sig[17] ^= 0x04;
    assert_int_equal(C_VerifyInit(h, &m, pub), CKR_OK);
    assert_int_equal(C_Verify(h, data, sizeof(data), sig, 256), CKR_SIGNATURE_INVALID);
    assert_int_equal(C_VerifyInit(h, &m, pub), CKR_OK);
    assert_int_equal(C_Verify(h, data, sizeof(data), sig, 255), CKR_SIGNATURE_LEN_RANGE);

    /* Raw CKM_RSA_PKCS: the input length is bounded by the key. */
    {
        CK_MECHANISM raw = { CKM_RSA_PKCS, NULL, 0 };
        unsigned char big[300];
        memset(big, 1, sizeof(big));
        len = sizeof(sig);
        assert_int_equal(C_SignInit(h, &raw, priv), CKR_OK);
        assert_int_equal(C_Sign(h, big, 246, sig, &len), CKR_DATA_LEN_RANGE);
        len = sizeof(sig);
        assert_int_equal(C_SignInit(h, &raw, priv), CKR_OK);
        assert_int_equal(C_Sign(h, big, 245, sig, &len), CKR_OK);
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    C_CloseSession(h);
}

static void test_pss(void **state)
{
    CK_SESSION_HANDLE h = login_session(RSA_LABEL, 0);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY), pub = find_one(h, CKO_PUBLIC_KEY);
    CK_RSA_PKCS_PSS_PARAMS p = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
    CK_RSA_PKCS_PSS_PARAMS wrong = { CKM_SHA384, CKG_MGF1_SHA256, 32 };
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS_PSS, &p, sizeof(p) };
    CK_MECHANISM raw = { CKM_RSA_PKCS_PSS, &p, sizeof(p) };
    CK_MECHANISM bad = { CKM_SHA256_RSA_PKCS_PSS, &wrong, sizeof(wrong) };
    CK_MECHANISM noparam = { CKM_RSA_PKCS_PSS, NULL, 0 };
    unsigned char data[] = "pss over this", dig[32], sig[256];
    CK_ULONG len = sizeof(sig);
    EVP_PKEY *k = cert_key(h);
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k, NULL);

    assert_int_equal(C_SignInit(h, &bad, priv), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(C_SignInit(h, &noparam, priv), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(C_SignInit(h, &m, priv), CKR_OK);
    assert_int_equal(C_Sign(h, data, sizeof(data), sig, &len), CKR_OK);
    EVP_Digest(data, sizeof(data), dig, NULL, EVP_sha256(), NULL);
    assert_int_equal(EVP_PKEY_verify_init(pc), 1);
    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256());
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32);
    assert_int_equal(EVP_PKEY_verify(pc, sig, len, dig, sizeof(dig)), 1);

    /* Raw PSS signs a digest of the parameter's hash length only. */
    assert_int_equal(C_SignInit(h, &raw, priv), CKR_OK);
    len = sizeof(sig);
    assert_int_equal(C_Sign(h, dig, 31, sig, &len), CKR_DATA_LEN_RANGE);
    assert_int_equal(C_SignInit(h, &raw, priv), CKR_OK);
    len = sizeof(sig);
    assert_int_equal(C_Sign(h, dig, 32, sig, &len), CKR_OK);
    assert_int_equal(C_VerifyInit(h, &raw, pub), CKR_OK);
    assert_int_equal(C_Verify(h, dig, 32, sig, len), CKR_OK);
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_free(k);
    C_CloseSession(h);
}

static void test_digest(void **state)
{
    CK_SESSION_HANDLE h;
    CK_MECHANISM m = { CKM_SHA384, NULL, 0 };
    unsigned char out[64], ref[64], small[4];
    CK_ULONG len;
    const char *msg = "digest me";

    assert_int_equal(C_OpenSession(slot_by_label(RSA_LABEL), CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    EVP_Digest(msg, strlen(msg), ref, NULL, EVP_sha384(), NULL);
    assert_int_equal(C_DigestInit(h, &m), CKR_OK);
    assert_int_equal(C_DigestInit(h, &m), CKR_OPERATION_ACTIVE);
    assert_int_equal(C_Digest(h, (CK_BYTE_PTR)msg, strlen(msg), NULL, &len), CKR_OK);
    assert_int_equal(len, 48);
    len = sizeof(small);
    assert_int_equal(C_Digest(h, (CK_BYTE_PTR)msg, strlen(msg), small, &len), CKR_BUFFER_TOO_SMALL);
    len = sizeof(out);
    assert_int_equal(C_Digest(h, (CK_BYTE_PTR)msg, strlen(msg), out, &len), CKR_OK);
    assert_memory_equal(out, ref, 48);
    assert_int_equal(C_DigestInit(h, &m), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, (CK_BYTE_PTR)msg, 3), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, (CK_BYTE_PTR)msg + 3, strlen(msg) - 3), CKR_OK);
    len = sizeof(out);
    assert_int_equal(C_DigestFinal(h, out, &len), CKR_OK);
    assert_memory_equal(out, ref, 48);
    assert_int_equal(C_DigestFinal(h, out, &len), CKR_OPERATION_NOT_INITIALIZED);
    m.mechanism = CKM_MD5;
    assert_int_equal(C_DigestInit(h, &m), CKR_MECHANISM_INVALID);
    C_CloseSession(h);
}

static void test_decrypt(void **state)
{
    CK_SESSION_HANDLE h = login_session(AUTH_LABEL, 0), h2;
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY), pub = find_one(h, CKO_PUBLIC_KEY);
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, "lbl", 3 };
    CK_MECHANISM oaep = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
    unsigned char ct[256], pt[256], small[2];
    const char *msg = "session key bytes";
    CK_ULONG ctlen = sizeof(ct), ptlen;

    assert_int_equal(C_EncryptInit(h, &m, pub), CKR_OK);
    assert_int_equal(C_Encrypt(h, (CK_BYTE_PTR)msg, strlen(msg), ct, &ctlen), CKR_OK);
    assert_int_equal(ctlen, 256);
    assert_int_equal(C_DecryptInit(h, &m, priv), CKR_OK);
    assert_int_equal(C_Decrypt(h, ct, ctlen, NULL, &ptlen), CKR_OK);
    assert_true(ptlen >= strlen(msg));
    ptlen = sizeof(small);
    assert_int_equal(C_Decrypt(h, ct, ctlen, small, &ptlen), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(ptlen, strlen(msg));
    ptlen = sizeof(pt);
    assert_int_equal(C_Decrypt(h, ct, ctlen, pt, &ptlen), CKR_OK);
    assert_int_equal(ptlen, strlen(msg));
    assert_memory_equal(pt, msg, ptlen);

    ctlen = sizeof(ct);
    assert_int_equal(C_EncryptInit(h, &oaep, pub), CKR_OK);
    assert_int_equal(C_Encrypt(h, (CK_BYTE_PTR)msg, strlen(msg), ct, &ctlen), CKR_OK);
    assert_int_equal(C_DecryptInit(h, &oaep, priv), CKR_OK);
    ptlen = sizeof(pt);
    assert_int_equal(C_DecryptUpdate(h, ct, 100, pt, &ptlen), CKR_OK);
    assert_int_equal(ptlen, 0);
    ptlen = sizeof(pt);
    assert_int_equal(C_DecryptUpdate(h, ct + 100, ctlen - 100, pt, &ptlen), CKR_OK);
    ptlen = sizeof(pt);
    assert_int_equal(C_DecryptFinal(h, pt, &ptlen), CKR_OK);
    assert_memory_equal(pt, msg, strlen(msg));
    ct[5] ^= 1;
    assert_int_equal(C_DecryptInit(h, &oaep, priv), CKR_OK);
    ptlen = sizeof(pt);
    assert_int_equal(C_Decrypt(h, ct, ctlen, pt, &ptlen), CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(C_DecryptInit(h, &oaep, priv), CKR_OK);
    ptlen = sizeof(pt);
    assert_int_equal(C_Decrypt(h, ct, ctlen - 1, pt, &ptlen), CKR_ENCRYPTED_DATA_LEN_RANGE);
    C_CloseSession(h);

    /* The signing container's key may not decrypt. */
    h2 = login_session(RSA_LABEL, 0);
    assert_int_equal(C_DecryptInit(h2, &m, find_one(h2, CKO_PRIVATE_KEY)), CKR_KEY_FUNCTION_NOT_PERMITTED);
    C_CloseSession(h2);
}

static void test_session_objects(void **state)
{
    CK_SESSION_HANDLE h = login_session(RSA_LABEL, 0), h2;
    CK_OBJECT_HANDLE pub = find_one(h, CKO_PUBLIC_KEY), mine;
    unsigned char n[512], e[8];
    CK_ATTRIBUTE get[] = { { CKA_MODULUS, n, sizeof(n) }, { CKA_PUBLIC_EXPONENT, e, sizeof(e) } };
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
                            { CKA_TOKEN, &no, sizeof(no) }, { CKA_MODULUS, n, 0 },
                            { CKA_PUBLIC_EXPONENT, e, 0 }, { CKA_LABEL, "mine", 4 } };
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    unsigned char sig[256];
    CK_ULONG len = sizeof(sig);
    CK_OBJECT_HANDLE found[4];
    CK_ULONG nf;
    CK_ATTRIBUTE bylabel = { CKA_LABEL, "mine", 4 };
    CK_ATTRIBUTE token_true[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_TOKEN, &yes, sizeof(yes) } };

    assert_int_equal(C_GetAttributeValue(h, pub, get, 2), CKR_OK);
    tmpl[3].ulValueLen = get[0].ulValueLen;
    tmpl[4].ulValueLen = get[1].ulValueLen;
    assert_int_equal(C_CreateObject(h, tmpl, 6, &mine), CKR_OK);
    assert_int_equal(C_CreateObject(h, token_true, 2, &mine + 0 * 0), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_CreateObject(h, tmpl, 2, &found[0]), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(C_SignInit(h, &m, find_one(h, CKO_PRIVATE_KEY)), CKR_OK);
    assert_int_equal(C_Sign(h, (CK_BYTE_PTR)"x", 1, sig, &len), CKR_OK);
    assert_int_equal(C_VerifyInit(h, &m, mine), CKR_OK);
    assert_int_equal(C_Verify(h, (CK_BYTE_PTR)"x", 1, sig, len), CKR_OK);
    /* Visible to the application's other sessions, gone with its session. */
    assert_int_equal(C_OpenSession(slot_by_label(RSA_LABEL), CKF_SERIAL_SESSION, NULL, NULL, &h2), CKR_OK);
    assert_int_equal(C_FindObjectsInit(h2, &bylabel, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h2, found, 4, &nf), CKR_OK);
    assert_int_equal(nf, 1);
    C_FindObjectsFinal(h2);
    assert_int_equal(C_DestroyObject(h2, mine), CKR_OK);
    assert_int_equal(C_DestroyObject(h2, mine), CKR_OBJECT_HANDLE_INVALID);
    C_CloseSession(h2);
    C_CloseSession(h);
}

static void test_random(void **state)
{
    CK_SESSION_HANDLE h;
    unsigned char a[32] = { 0 }, b[32] = { 0 };

    assert_int_equal(C_OpenSession(slot_by_label(RSA_LABEL), CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    assert_int_equal(C_GenerateRandom(h, a, sizeof(a)), CKR_OK);
    assert_int_equal(C_GenerateRandom(h, b, sizeof(b)), CKR_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(C_GenerateRandom(h, NULL, 4), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GenerateRandom(0xdead, a, 4), CKR_SESSION_HANDLE_INVALID);
    C_CloseSession(h);
}

static void test_unsupported(void **state)
{
    CK_ULONG n;

    assert_int_equal(C_GetOperationState(1, NULL, &n), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(C_GenerateKey(1, NULL, NULL, 0, NULL), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(C_SignRecoverInit(1, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(C_GetFunctionStatus(1), CKR_FUNCTION_NOT_PARALLEL);
}

/* ---- Slots following the folder --------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[4096];
    size_t n;

    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static void test_folder_changes(void **state)
{
    char dir[] = "/tmp/kzp11-unit-XXXXXX", src[4096], a[4200], b[4200], junk[4200], trunc[4200];
    CK_SLOT_ID slots[16], id_a, id_b;
    CK_ULONG n = 16;
    CK_SLOT_INFO si;
    FILE *f;

    assert_non_null(mkdtemp(dir));
    snprintf(src, sizeof(src), "%s/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12", fixture_dir);
    snprintf(a, sizeof(a), "%s/RSA256_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.p12", dir);
    snprintf(b, sizeof(b), "%s/GOST512_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.p12", dir);
    snprintf(junk, sizeof(junk), "%s/junk.p12", dir);
    snprintf(trunc, sizeof(trunc), "%s/RSA256_cccccccccccccccccccccccccccccccccccccccc.p12", dir);
    copy_file(src, a);
    f = fopen(junk, "w");
    fputs("not a container\n", f);
    fclose(f);
    copy_file(src, trunc);
    assert_int_equal(truncate(trunc, 700), 0);
    setenv("KZP11_KEYSTORE", dir, 1);
    assert_int_equal(C_Initialize(NULL), CKR_OK);

    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 2);   /* junk and truncated files are skipped; the free slot */
    assert_int_equal(count_initialized(), 1);
    id_a = slot_by_label("RSA256_aaaaaaaaaaaaaaaaaaaaaaaaa");

    copy_file(src, b);
    n = 16;
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 3);
    id_b = slot_by_label("GOST512_bbbbbbbbbbbbbbbbbbbbbbbb");
    assert_int_not_equal(id_a, id_b);
    (void)slots;

    /* Removal: the slot stays, empty; its ID is not reused. */
    assert_int_equal(unlink(a), 0);
    n = 16;
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 2);
    n = 16;
    assert_int_equal(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(C_GetSlotInfo(id_a, &si), CKR_OK);
    assert_false(si.flags & CKF_TOKEN_PRESENT);
    {
        CK_SESSION_HANDLE h;
        CK_TOKEN_INFO ti;
        assert_int_equal(C_OpenSession(id_a, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_TOKEN_NOT_PRESENT);
        assert_int_equal(C_GetTokenInfo(id_a, &ti), CKR_TOKEN_NOT_PRESENT);
    }
    /* The same file coming back gets its old slot. */
    copy_file(src, a);
    n = 16;
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(C_GetSlotInfo(id_a, &si), CKR_OK);
    assert_true(si.flags & CKF_TOKEN_PRESENT);
    {
        CK_SLOT_ID ev;
        /* Presence changes were recorded as slot events. */
        assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL), CKR_OK);
    }
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    unlink(a);
    unlink(b);
    unlink(junk);
    unlink(trunc);
    rmdir(dir);
    setenv("KZP11_KEYSTORE", fixture_dir, 1);
}

static void test_label_rules(void **state)
{
    char dir[] = "/tmp/kzp11-label-XXXXXX", src[4096], odd[4200];
    CK_SLOT_ID slot;
    CK_ULONG n = 2;
    CK_TOKEN_INFO ti;

    assert_non_null(mkdtemp(dir));
    snprintf(src, sizeof(src), "%s/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12", fixture_dir);
    snprintf(odd, sizeof(odd), "%s/my:key:with:colons.p12", dir);
    copy_file(src, odd);
    setenv("KZP11_KEYSTORE", dir, 1);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 2);
    slot = slot_by_label("my_key_with_colons");
    assert_int_equal(C_GetTokenInfo(slot, &ti), CKR_OK);
    assert_memory_equal(ti.label, "my_key_with_colons", 18);
    assert_null(memchr(ti.label, ':', sizeof(ti.label)));
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    unlink(odd);
    rmdir(dir);
    setenv("KZP11_KEYSTORE", fixture_dir, 1);
}

static void test_wait_event_nonblocking(void **state)
{
    CK_SLOT_ID ev;
    CK_ULONG n;

    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    /* Drain the insertion events of the initial scan, then nothing. */
    while (C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL) == CKR_OK)
        ;
    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL), CKR_NO_EVENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_initialized),
        cmocka_unit_test(test_initialize_args),
        cmocka_unit_test(test_app_mutexes),
        cmocka_unit_test_setup_teardown(test_info_and_interfaces, init, fini),
        cmocka_unit_test_setup_teardown(test_slot_list, init, fini),
        cmocka_unit_test_setup_teardown(test_mechanisms, init, fini),
        cmocka_unit_test_setup_teardown(test_sessions, init, fini),
        cmocka_unit_test_setup_teardown(test_objects_before_and_after_login, init, fini),
        cmocka_unit_test_setup_teardown(test_ids_match, init, fini),
        cmocka_unit_test_setup_teardown(test_get_attribute_semantics, init, fini),
        cmocka_unit_test_setup_teardown(test_find_templates, init, fini),
        cmocka_unit_test_setup_teardown(test_token_objects_read_only, init, fini),
        cmocka_unit_test_setup_teardown(test_sign_conventions, init, fini),
        cmocka_unit_test_setup_teardown(test_pss, init, fini),
        cmocka_unit_test_setup_teardown(test_digest, init, fini),
        cmocka_unit_test_setup_teardown(test_decrypt, init, fini),
        cmocka_unit_test_setup_teardown(test_session_objects, init, fini),
        cmocka_unit_test_setup_teardown(test_random, init, fini),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_folder_changes),
        cmocka_unit_test(test_label_rules),
        cmocka_unit_test_setup_teardown(test_wait_event_nonblocking, init, fini),
    };
    int failed;

    make_fixture_copy();
    setup_env(NULL);
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    remove_fixture_copy();
    return failed;
}
