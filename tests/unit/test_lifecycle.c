/* The key lifecycle on the soft token, through the front end: the edges the
 * flow test does not reach. Every refused call must leave the container
 * byte-for-byte as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "pkcs11_types.h"

#define PW "Start2024kz"
#define PW2 "Second2025kz"

static char dir[64];

/* ---- Helpers ----------------------------------------------------------------- */

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/kzp11-life-XXXXXX");
    assert_non_null(mkdtemp(dir));
    setenv("KZP11_KEYSTORE", dir, 1);
    setenv("KZP11_CONF", "/nonexistent/kzp11.conf", 1);
    return C_Initialize(NULL) == CKR_OK ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    C_Finalize(NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The one .p12 in the folder (NULL if none), as a malloc'd path. */
static char *the_container(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *found = NULL;

    assert_non_null(d);
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".p12")) {
            assert_null(found);     /* exactly one */
            assert_true(asprintf(&found, "%s/%s", dir, e->d_name) > 0);
        }
    closedir(d);
    return found;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 16);

    assert_non_null(f);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* Asserts the container is exactly `before`. */
static void assert_unchanged(const unsigned char *before, size_t len, const char *what)
{
    char *path = the_container();
    size_t now_len;
    unsigned char *now = slurp(path, &now_len);

    if (now_len != len || memcmp(now, before, len) != 0)
        fail_msg("%s changed the container", what);
    free(now);
    free(path);
}

static CK_SLOT_ID slot_with_flags(CK_FLAGS want, CK_FLAGS mask)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CK_TOKEN_INFO ti;

    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    n = 16;
    assert_int_equal(C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        assert_int_equal(C_GetTokenInfo(slots[i], &ti), CKR_OK);
        if ((ti.flags & mask) == want)
            return slots[i];
    }
    fail_msg("no such slot");
    return 0;
}

static CK_SLOT_ID free_slot(void)
{
    return slot_with_flags(0, CKF_TOKEN_INITIALIZED);
}

static CK_SLOT_ID container_slot(void)
{
    return slot_with_flags(CKF_TOKEN_INITIALIZED, CKF_TOKEN_INITIALIZED);
}

static CK_RV init_token(CK_SLOT_ID slot, const char *pin, const char *label)
{
    CK_UTF8CHAR lbl[32];

    memset(lbl, ' ', sizeof(lbl));
    memcpy(lbl, label, strlen(label));
    return C_InitToken(slot, (CK_UTF8CHAR_PTR)pin, strlen(pin), lbl);
}

static CK_SESSION_HANDLE rw_login(CK_SLOT_ID slot, CK_USER_TYPE who, const char *pin)
{
    CK_SESSION_HANDLE h;

    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h), CKR_OK);
    assert_int_equal(C_Login(h, who, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
    return h;
}

static void rsa_keygen(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ULONG bits = 2048;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pt[] = { { CKA_TOKEN, &yes, sizeof(yes) }, { CKA_MODULUS_BITS, &bits, sizeof(bits) } };
    CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &yes, sizeof(yes) } };

    assert_int_equal(C_GenerateKeyPair(h, &m, pt, 2, vt, 1, pub, priv), CKR_OK);
}

/* A certificate for the token's public key, signed by a throwaway CA, with
 * the SKI computed the RFC 5280 way (what the token used as CKA_ID). */
static unsigned char *issue_for(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub, int *len)
{
    unsigned char spki[1024], *der = NULL;
    CK_ATTRIBUTE a = { CKA_PUBLIC_KEY_INFO, spki, sizeof(spki) };
    const unsigned char *p = spki;
    EVP_PKEY *key, *ca = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    assert_int_equal(C_GetAttributeValue(h, pub, &a, 1), CKR_OK);
    key = d2i_PUBKEY(NULL, &p, (long)a.ulValueLen);
    assert_non_null(key);
    assert_non_null(ca);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8, (const unsigned char *)"TEST", -1, -1, 0);
    X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_UTF8, (const unsigned char *)"CA", -1, -1, 0);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,digitalSignature,nonRepudiation");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, ca, EVP_sha256()) > 0);
    *len = i2d_X509(x, &der);
    assert_true(*len > 0);
    X509_free(x);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca);
    return der;
}

static CK_RV install(CK_SESSION_HANDLE h, const unsigned char *der, size_t len, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
                         { CKA_TOKEN, &yes, sizeof(yes) }, { CKA_VALUE, (void *)der, len } };

    return C_CreateObject(h, t, 4, out);
}

/* ---- Tests -------------------------------------------------------------------- */

static void test_free_slot_and_passwords(void **state)
{
    CK_SLOT_ID fs = free_slot(), fs2;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    char *path;

    assert_int_equal(C_GetTokenInfo(fs, &ti), CKR_OK);
    assert_false(ti.flags & CKF_TOKEN_INITIALIZED);
    assert_int_equal(C_OpenSession(fs, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)PW, strlen(PW)), CKR_USER_PIN_NOT_INITIALIZED);
    assert_int_equal(init_token(fs, PW, "busy"), CKR_SESSION_EXISTS);
    C_CloseSession(h);
    /* The NCA's password rules, nothing written when they are broken. */
    assert_int_equal(init_token(fs, "Ab1", "x"), CKR_PIN_LEN_RANGE);
    assert_int_equal(init_token(fs, "alllowercase1", "x"), CKR_PIN_INVALID);
    assert_int_equal(init_token(fs, "NoDigitsHere", "x"), CKR_PIN_INVALID);
    assert_int_equal(init_token(fs, "Кириллица12Ab", "x"), CKR_PIN_INVALID);
    assert_null(the_container());

    assert_int_equal(init_token(fs, PW, "my key"), CKR_OK);
    path = the_container();
    assert_non_null(strstr(path, "/my_key.p12"));
    free(path);
    /* Same slot, now a container; a new free slot with a new ID. */
    assert_int_equal(C_GetTokenInfo(fs, &ti), CKR_OK);
    assert_true(ti.flags & CKF_TOKEN_INITIALIZED);
    assert_memory_equal(ti.label, "my_key ", 7);
    fs2 = free_slot();
    assert_int_not_equal(fs2, fs);
    assert_int_equal(init_token(fs, PW, "again"), CKR_ACTION_PROHIBITED);
}

static void test_keygen_install_and_refusals(void **state)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE h, ro;
    CK_OBJECT_HANDLE pub, priv, pub2, priv2, cert, found;
    unsigned char *before, *der, junk[300];
    size_t blen;
    int dlen;
    char *path;

    assert_int_equal(init_token(free_slot(), PW, "rsa"), CKR_OK);
    slot = container_slot();
    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
    {
        CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
        CK_ULONG bits = 2048;
        CK_BBOOL yes = CK_TRUE;
        CK_ATTRIBUTE pt[] = { { CKA_TOKEN, &yes, sizeof(yes) }, { CKA_MODULUS_BITS, &bits, sizeof(bits) } };
        assert_int_equal(C_GenerateKeyPair(ro, &m, pt, 2, NULL, 0, &pub, &priv), CKR_SESSION_READ_ONLY);
        C_CloseSession(ro);
        assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h), CKR_OK);
        assert_int_equal(C_GenerateKeyPair(h, &m, pt, 2, NULL, 0, &pub, &priv), CKR_USER_NOT_LOGGED_IN);
        C_CloseSession(h);
    }
    h = rw_login(slot, CKU_USER, PW);
    rsa_keygen(h, &pub, &priv);
    path = the_container();
    before = slurp(path, &blen);
    free(path);

    /* Refused, and nothing written. */
    {
        CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
        CK_ULONG bits = 2048;
        CK_BBOOL yes = CK_TRUE;
        CK_ATTRIBUTE pt[] = { { CKA_TOKEN, &yes, sizeof(yes) }, { CKA_MODULUS_BITS, &bits, sizeof(bits) } };
        assert_int_equal(C_GenerateKeyPair(h, &m, pt, 2, NULL, 0, &pub2, &priv2), CKR_DEVICE_MEMORY);
        assert_unchanged(before, blen, "a second keygen");
    }
    memset(junk, 0x30, sizeof(junk));
    assert_int_equal(install(h, junk, sizeof(junk), &cert), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_unchanged(before, blen, "a garbage certificate");
    {
        /* A certificate for another key. */
        CK_SLOT_ID fs = free_slot();
        (void)fs;
        EVP_PKEY *other = EVP_EC_gen("P-256");
        X509 *x = X509_new();
        unsigned char *oder = NULL;
        int olen;
        X509_set_version(x, 2);
        X509_set_pubkey(x, other);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 60);
        assert_true(X509_sign(x, other, EVP_sha256()) > 0);
        olen = i2d_X509(x, &oder);
        assert_int_equal(install(h, oder, (size_t)olen, &cert), CKR_TEMPLATE_INCONSISTENT);
        assert_unchanged(before, blen, "a certificate for another key");
        OPENSSL_free(oder);
        X509_free(x);
        EVP_PKEY_free(other);
    }
    assert_int_equal(C_SetPIN(h, (CK_UTF8CHAR_PTR)"Wrong1234x", 10, (CK_UTF8CHAR_PTR)PW2, strlen(PW2)),
                     CKR_PIN_INCORRECT);
    assert_int_equal(C_SetPIN(h, (CK_UTF8CHAR_PTR)PW, strlen(PW), (CK_UTF8CHAR_PTR)"short1A", 7),
                     CKR_PIN_LEN_RANGE);
    assert_int_equal(C_SetPIN(h, (CK_UTF8CHAR_PTR)PW, strlen(PW), (CK_UTF8CHAR_PTR)"nouppercase12", 13),
                     CKR_PIN_INVALID);
    assert_unchanged(before, blen, "a refused password change");
    free(before);

    /* The real certificate: stored, the file takes the NCA's name, the slot
     * and the key objects' handles stay (same CKA_ID: the SKI). */
    der = issue_for(h, pub, &dlen);
    assert_int_equal(install(h, der, (size_t)dlen, &cert), CKR_OK);
    path = the_container();
    assert_non_null(strstr(path, "/RSA256_"));
    free(path);
    assert_int_equal(container_slot(), slot);
    {
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) };
        CK_ULONG n;
        assert_int_equal(C_FindObjectsInit(h, &t, 1), CKR_OK);
        assert_int_equal(C_FindObjects(h, &found, 1, &n), CKR_OK);
        C_FindObjectsFinal(h);
        assert_int_equal(n, 1);
        assert_int_equal(found, priv);
    }
    /* A key with its certificate installed is not deleted silently. */
    assert_int_equal(C_DestroyObject(h, priv), CKR_ACTION_PROHIBITED);
    assert_int_equal(C_DestroyObject(h, pub), CKR_ACTION_PROHIBITED);
    assert_int_equal(C_DestroyObject(h, cert), CKR_OK);
    assert_non_null(path = the_container());     /* the key is still there */
    free(path);
    assert_int_equal(C_DestroyObject(h, priv), CKR_OK);
    assert_null(the_container());
    OPENSSL_free(der);
    C_CloseSession(h);
}

static void test_so_init_pin(void **state)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE h, ro;

    assert_int_equal(init_token(free_slot(), PW, "so"), CKR_OK);
    slot = container_slot();
    h = rw_login(slot, CKU_SO, PW);
    assert_int_equal(C_InitPIN(h, (CK_UTF8CHAR_PTR)"weak", 4), CKR_PIN_LEN_RANGE);
    assert_int_equal(C_InitPIN(h, (CK_UTF8CHAR_PTR)PW2, strlen(PW2)), CKR_OK);
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_InitPIN(h, (CK_UTF8CHAR_PTR)PW2, strlen(PW2)), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)PW, strlen(PW)), CKR_PIN_INCORRECT);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)PW2, strlen(PW2)), CKR_OK);
    C_CloseSession(h);
    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
    assert_int_equal(C_InitPIN(ro, (CK_UTF8CHAR_PTR)PW, strlen(PW)), CKR_SESSION_READ_ONLY);
    C_CloseSession(ro);
}

static void test_config_pbes2_and_rules(void **state)
{
    char conf[128], *path;
    FILE *f;
    CK_SESSION_HANDLE h;
    PKCS12 *p12;
    EVP_PKEY *k = NULL;
    X509 *x = NULL;

    /* A config: PBES2 for what we write, and no character rules. */
    C_Finalize(NULL);
    snprintf(conf, sizeof(conf), "%s.conf", dir);
    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "container_format = pbes2\npassword_rules = none\npassword_min_length = 4\n");
    fclose(f);
    setenv("KZP11_CONF", conf, 1);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    assert_int_equal(init_token(free_slot(), "abcd", "modern"), CKR_OK);
    h = rw_login(container_slot(), CKU_USER, "abcd");
    {
        CK_OBJECT_HANDLE pub, priv;
        rsa_keygen(h, &pub, &priv);
    }
    assert_int_equal(C_SetPIN(h, (CK_UTF8CHAR_PTR)"abcd", 4, (CK_UTF8CHAR_PTR)"пароль", strlen("пароль")),
                     CKR_OK);
    C_CloseSession(h);
    /* OpenSSL's default context (no legacy provider) reads PBES2 files. */
    path = the_container();
    f = fopen(path, "rb");
    assert_non_null(f);
    p12 = d2i_PKCS12_fp(f, NULL);
    fclose(f);
    assert_non_null(p12);
    assert_int_equal(PKCS12_parse(p12, "пароль", &k, &x, NULL), 1);
    assert_non_null(k);
    EVP_PKEY_free(k);
    X509_free(x);
    PKCS12_free(p12);
    free(path);
    unlink(conf);
    setenv("KZP11_CONF", "/nonexistent/kzp11.conf", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_free_slot_and_passwords, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keygen_install_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_so_init_pin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_pbes2_and_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
