/* GOST through the Cryptoki front end: the NCA's GOST containers, the GOST
 * mechanisms' conventions and errors, session key pairs on every curve
 * cross-checked with OpenSSL's gost engine, and malformed keys in
 * containers. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "pkcs11_types.h"
#include "gost94.h"
#include "gost_curves.h"
#include "gost_engine.h"
#include "streebog.h"

#define PIN "Qwerty12"

static char shared[2048];

/* DER OIDs used in templates. */
static const unsigned char oid_tc26_512a[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x01 };
static const unsigned char oid_streebog512[] = { 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x03 };
static const unsigned char oid_gost94_test[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x00 };
static const unsigned char oid_bogus[] = { 0x06, 0x03, 0x2a, 0x03, 0x04 };

static char work_dir[64];

/* The tests may change containers: they use a copy of the fixture folder. */
static void use_folder(const char *sub)
{
    char cmd[4700];

    snprintf(cmd, sizeof(cmd), "%s/fixtures/nca/%s", shared, sub);
    if (access(cmd, R_OK) != 0)
        fail_msg("fixtures missing: %s", cmd);
    snprintf(work_dir, sizeof(work_dir), "/tmp/kzp11-gostfe-XXXXXX");
    assert_non_null(mkdtemp(work_dir));
    snprintf(cmd, sizeof(cmd), "cp '%s/fixtures/nca/%s'/*.p12 '%s'/", shared, sub, work_dir);
    assert_int_equal(system(cmd), 0);
    setenv("KZP11_KEYSTORE", work_dir, 1);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
}

static int fini(void **state)
{
    char cmd[128];

    C_Finalize(NULL);
    if (work_dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", work_dir);
        work_dir[0] = '\0';
    }
    return 0;
}

/* The first container's slot (not the folder's free slot). */
static CK_SLOT_ID first_slot(void)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CK_TOKEN_INFO ti;

    assert_int_equal(C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        assert_int_equal(C_GetTokenInfo(slots[i], &ti), CKR_OK);
        if (ti.flags & CKF_TOKEN_INITIALIZED)
            return slots[i];
    }
    fail_msg("no container");
    return 0;
}

static CK_SESSION_HANDLE login_first(void)
{
    CK_SESSION_HANDLE h;

    assert_int_equal(C_OpenSession(first_slot(), CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
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

static CK_RV sign(CK_SESSION_HANDLE h, CK_MECHANISM_TYPE mt, CK_OBJECT_HANDLE key,
                  const void *data, size_t len, unsigned char *sig, CK_ULONG *siglen)
{
    CK_MECHANISM m = { mt, NULL, 0 };
    CK_RV rv = C_SignInit(h, &m, key);

    if (rv != CKR_OK)
        return rv;
    return C_Sign(h, (CK_BYTE_PTR)data, len, sig, siglen);
}

static CK_RV verify(CK_SESSION_HANDLE h, CK_MECHANISM_TYPE mt, CK_OBJECT_HANDLE key,
                    const void *data, size_t len, const unsigned char *sig, CK_ULONG siglen)
{
    CK_MECHANISM m = { mt, NULL, 0 };
    CK_RV rv = C_VerifyInit(h, &m, key);

    if (rv != CKR_OK)
        return rv;
    return C_Verify(h, (CK_BYTE_PTR)data, len, (CK_BYTE_PTR)sig, siglen);
}

/* ---- The NCA's GOST 34.310-2004 container ----------------------------------- */

static void test_gostknca(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE priv, pub;
    unsigned char sig[64], dig[32], value[64];
    CK_ULONG siglen = sizeof(sig), dlen = sizeof(dig);
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a[] = { { CKA_KEY_TYPE, &kt, sizeof(kt) }, { CKA_VALUE, value, sizeof(value) } };
    CK_MECHANISM dm = { CKM_GOSTR3411, (void *)oid_gost94_test, sizeof(oid_gost94_test) };
    const char *data = "signed with the old Kazakh GOST";

    use_folder("gost2004-organization");
    h = login_first();
    priv = find_one(h, CKO_PRIVATE_KEY);
    pub = find_one(h, CKO_PUBLIC_KEY);
    assert_int_equal(C_GetAttributeValue(h, pub, a, 2), CKR_OK);
    assert_int_equal(kt, CKK_GOSTR3410);
    assert_int_equal(a[1].ulValueLen, 64);
    assert_int_equal(C_GetAttributeValue(h, priv, &a[1], 1), CKR_ATTRIBUTE_SENSITIVE);

    assert_int_equal(sign(h, CKM_GOSTR3410_WITH_GOSTR3411, priv, data, strlen(data), sig, &siglen), CKR_OK);
    assert_int_equal(siglen, 64);
    assert_int_equal(verify(h, CKM_GOSTR3410_WITH_GOSTR3411, pub, data, strlen(data), sig, 64), CKR_OK);
    /* The hash is GOST 34.311-95 = 34.11-94 with the test S-boxes: the raw
     * mechanism over that digest accepts the same signature. */
    assert_int_equal(C_DigestInit(h, &dm), CKR_OK);
    assert_int_equal(C_Digest(h, (CK_BYTE_PTR)data, strlen(data), dig, &dlen), CKR_OK);
    {
        unsigned char ref[32];
        kz_gost94(&kz_gost94_test_params, (const unsigned char *)data, strlen(data), ref);
        assert_memory_equal(dig, ref, 32);
    }
    assert_int_equal(verify(h, CKM_GOSTR3410, pub, dig, 32, sig, 64), CKR_OK);
    /* Every single flipped bit is refused. */
    for (int bit = 0; bit < 64 * 8; bit++) {
        sig[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        assert_int_equal(verify(h, CKM_GOSTR3410_WITH_GOSTR3411, pub, data, strlen(data), sig, 64),
                         CKR_SIGNATURE_INVALID);
        sig[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    assert_int_equal(verify(h, CKM_GOSTR3410_WITH_GOSTR3411, pub, data, strlen(data), sig, 64), CKR_OK);
    C_CloseSession(h);
}

/* ---- GOST 2015-512 containers -------------------------------------------------- */

static void test_gost512_objects_and_errors(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE priv, pub;
    unsigned char params[32], hparams[32], sig[128], sig2[128], dig[64];
    CK_ULONG siglen = sizeof(sig);
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a[] = { { CKA_KEY_TYPE, &kt, sizeof(kt) },
                         { CKA_GOSTR3410_PARAMS, params, sizeof(params) },
                         { CKA_GOSTR3411_PARAMS, hparams, sizeof(hparams) } };
    CK_MECHANISM m = { CKM_GOSTR3410_WITH_GOSTR3411_2012_512, NULL, 0 };
    const char *data = "A document for the NCA's current keys";

    use_folder("gost2015");
    h = login_first();
    priv = find_one(h, CKO_PRIVATE_KEY);
    pub = find_one(h, CKO_PUBLIC_KEY);
    assert_int_equal(C_GetAttributeValue(h, priv, a, 3), CKR_OK);
    assert_int_equal(kt, CKK_GOSTR3410_512);
    /* Reported with the TC26 OIDs (see gost_keys.h for the convention). */
    assert_int_equal(a[1].ulValueLen, sizeof(oid_tc26_512a));
    assert_memory_equal(params, oid_tc26_512a, sizeof(oid_tc26_512a));
    assert_int_equal(a[2].ulValueLen, sizeof(oid_streebog512));
    assert_memory_equal(hparams, oid_streebog512, sizeof(oid_streebog512));

    /* Single-part and multi-part agree through verification. */
    assert_int_equal(sign(h, m.mechanism, priv, data, strlen(data), sig, &siglen), CKR_OK);
    assert_int_equal(siglen, 128);
    assert_int_equal(C_SignInit(h, &m, priv), CKR_OK);
    assert_int_equal(C_SignUpdate(h, (CK_BYTE_PTR)data, 5), CKR_OK);
    assert_int_equal(C_SignUpdate(h, (CK_BYTE_PTR)data + 5, strlen(data) - 5), CKR_OK);
    siglen = sizeof(sig2);
    assert_int_equal(C_SignFinal(h, sig2, &siglen), CKR_OK);
    assert_memory_not_equal(sig, sig2, 128);     /* a fresh nonce each time */
    assert_int_equal(verify(h, m.mechanism, pub, data, strlen(data), sig, 128), CKR_OK);
    assert_int_equal(verify(h, m.mechanism, pub, data, strlen(data), sig2, 128), CKR_OK);

    /* Raw mechanism: digest of exactly 64 bytes; signature exactly 128. */
    kz_streebog(512, (const unsigned char *)data, strlen(data), dig);
    assert_int_equal(verify(h, CKM_GOSTR3410_512, pub, dig, 64, sig, 128), CKR_OK);
    siglen = sizeof(sig);
    assert_int_equal(sign(h, CKM_GOSTR3410_512, priv, dig, 63, sig, &siglen), CKR_DATA_LEN_RANGE);
    siglen = sizeof(sig);
    assert_int_equal(sign(h, CKM_GOSTR3410_512, priv, dig, 32, sig, &siglen), CKR_DATA_LEN_RANGE);
    assert_int_equal(verify(h, CKM_GOSTR3410_512, pub, dig, 64, sig, 127), CKR_SIGNATURE_LEN_RANGE);
    assert_int_equal(verify(h, CKM_GOSTR3410_512, pub, dig, 64, sig, 129), CKR_SIGNATURE_LEN_RANGE);
    assert_int_equal(verify(h, CKM_GOSTR3410_512, pub, dig, 65, sig, 128), CKR_DATA_LEN_RANGE);
    /* A 512-bit key with a 256-bit mechanism. */
    siglen = sizeof(sig);
    assert_int_equal(sign(h, CKM_GOSTR3410, priv, dig, 32, sig, &siglen), CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(sign(h, CKM_SHA256_RSA_PKCS, priv, dig, 32, sig, &siglen), CKR_KEY_TYPE_INCONSISTENT);
    C_CloseSession(h);
}

/* ---- Digests --------------------------------------------------------------------- */

static void test_gost_digests(void **state)
{
    CK_SESSION_HANDLE h;
    unsigned char msg[1000], out[64], ref[64];
    unsigned int rlen;
    CK_ULONG len;
    CK_MECHANISM sb512 = { CKM_GOSTR3411_2012_512, NULL, 0 };
    CK_MECHANISM sb256 = { CKM_GOSTR3411_2012_256, NULL, 0 };
    CK_MECHANISM g94 = { CKM_GOSTR3411, NULL, 0 };
    CK_MECHANISM g94bad = { CKM_GOSTR3411, (void *)oid_bogus, sizeof(oid_bogus) };

    use_folder("gost2015");
    assert_int_equal(C_OpenSession(first_slot(), CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    RAND_bytes(msg, sizeof(msg));
    len = sizeof(out);
    assert_int_equal(C_DigestInit(h, &sb512), CKR_OK);
    assert_int_equal(C_Digest(h, msg, sizeof(msg), out, &len), CKR_OK);
    gost_engine_digest(NID_id_GostR3411_2012_512, msg, sizeof(msg), ref, &rlen);
    assert_int_equal(len, 64);
    assert_memory_equal(out, ref, 64);
    len = sizeof(out);
    assert_int_equal(C_DigestInit(h, &sb256), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, msg, 333), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, msg + 333, sizeof(msg) - 333), CKR_OK);
    assert_int_equal(C_DigestFinal(h, out, &len), CKR_OK);
    gost_engine_digest(NID_id_GostR3411_2012_256, msg, sizeof(msg), ref, &rlen);
    assert_int_equal(len, 32);
    assert_memory_equal(out, ref, 32);
    /* No parameter: the CryptoPro S-boxes, as the engine's md_gost94. */
    len = sizeof(out);
    assert_int_equal(C_DigestInit(h, &g94), CKR_OK);
    assert_int_equal(C_Digest(h, msg, sizeof(msg), out, &len), CKR_OK);
    gost_engine_digest(NID_id_GostR3411_94, msg, sizeof(msg), ref, &rlen);
    assert_memory_equal(out, ref, 32);
    assert_int_equal(C_DigestInit(h, &g94bad), CKR_MECHANISM_PARAM_INVALID);
    C_CloseSession(h);
}

/* ---- Session key pairs on every curve, both ways with the engine ------------------ */

static void keygen_on(CK_SESSION_HANDLE h, const kz_gost_curve *c, int kazakh_oid)
{
    const gost_engine_curve *ec = gost_engine_curve_for(c->name);
    CK_MECHANISM km = { c->field_len == 64 ? CKM_GOSTR3410_512_KEY_PAIR_GEN : CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0 };
    CK_MECHANISM_TYPE raw = c->field_len == 64 ? CKM_GOSTR3410_512 : CKM_GOSTR3410;
    CK_KEY_TYPE kt = c->field_len == 64 ? CKK_GOSTR3410_512 : CKK_GOSTR3410;
    const unsigned char *oid = kazakh_oid ? c->kz_oid_der : c->oid_der;
    size_t oid_len = kazakh_oid ? c->kz_oid_der_len : c->oid_der_len;
    CK_ATTRIBUTE pt[] = { { CKA_GOSTR3410_PARAMS, (void *)oid, oid_len }, { CKA_LABEL, "gen", 3 } };
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE vt[] = { { CKA_SIGN, &yes, sizeof(yes) } };
    CK_OBJECT_HANDLE pub, priv, epub;
    unsigned char value[128], dig[64], sig[128];
    CK_ULONG siglen = sizeof(sig), n = c->field_len;
    CK_ATTRIBUTE va = { CKA_VALUE, value, sizeof(value) };
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    EVP_PKEY *ek;

    assert_int_equal(C_GenerateKeyPair(h, &km, pt, 2, vt, 1, &pub, &priv), CKR_OK);
    assert_int_equal(C_GetAttributeValue(h, pub, &va, 1), CKR_OK);
    assert_int_equal(va.ulValueLen, 2 * n);
    RAND_bytes(dig, sizeof(dig));
    assert_int_equal(sign(h, raw, priv, dig, n, sig, &siglen), CKR_OK);
    assert_int_equal(siglen, 2 * n);
    assert_int_equal(verify(h, raw, pub, dig, n, sig, siglen), CKR_OK);
    if (!ec)
        return;     /* a curve the engine does not have: checked by ourselves only */
    /* kzp11 signs, the engine verifies. */
    ek = gost_engine_pubkey(ec, c, value);
    assert_true(gost_engine_verify(ek, dig, n, sig, siglen));
    dig[0] ^= 1;
    assert_false(gost_engine_verify(ek, dig, n, sig, siglen));
    EVP_PKEY_free(ek);
    /* The engine signs, kzp11 verifies with a public key object made from it. */
    ek = gost_engine_keygen(ec);
    gost_engine_pub_bytes(ek, value, n);
    assert_int_equal(gost_engine_sign(ek, dig, n, sig), 2 * n);
    {
        CK_ATTRIBUTE ct[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
                              { CKA_GOSTR3410_PARAMS, (void *)oid, oid_len }, { CKA_VALUE, value, 2 * n } };
        assert_int_equal(C_CreateObject(h, ct, 4, &epub), CKR_OK);
    }
    assert_int_equal(verify(h, raw, epub, dig, n, sig, 2 * n), CKR_OK);
    sig[3] ^= 0x10;
    assert_int_equal(verify(h, raw, epub, dig, n, sig, 2 * n), CKR_SIGNATURE_INVALID);
    EVP_PKEY_free(ek);
    assert_int_equal(C_DestroyObject(h, epub), CKR_OK);
    assert_int_equal(C_DestroyObject(h, priv), CKR_OK);
    assert_int_equal(C_DestroyObject(h, pub), CKR_OK);
}

static void test_keygen_every_curve(void **state)
{
    CK_SESSION_HANDLE h;
    size_t engine_checked = 0;

    use_folder("gost2015");
    h = login_first();
    gost_engine();
    for (size_t i = 0; i < kz_gost_curve_count(); i++) {
        const kz_gost_curve *c = kz_gost_curve_at(i);
        keygen_on(h, c, 0);
        if (c->kz_oid_der)
            keygen_on(h, c, 1);
        engine_checked += gost_engine_curve_for(c->name) != NULL;
    }
    assert_true(engine_checked >= 7);
    C_CloseSession(h);
}

static void test_keygen_errors(void **state)
{
    CK_SESSION_HANDLE h, anon;
    CK_MECHANISM k256 = { CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0 };
    CK_MECHANISM k512 = { CKM_GOSTR3410_512_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE good[] = { { CKA_GOSTR3410_PARAMS, (void *)oid_tc26_512a, sizeof(oid_tc26_512a) } };
    CK_ATTRIBUTE bogus[] = { { CKA_GOSTR3410_PARAMS, (void *)oid_bogus, sizeof(oid_bogus) } };
    CK_ATTRIBUTE token[] = { { CKA_GOSTR3410_PARAMS, (void *)oid_tc26_512a, sizeof(oid_tc26_512a) },
                             { CKA_TOKEN, &yes, sizeof(yes) } };
    CK_ATTRIBUTE extractable[] = { { CKA_EXTRACTABLE, &yes, sizeof(yes) } };
    CK_ATTRIBUTE hash256[] = { { CKA_GOSTR3410_PARAMS, (void *)oid_tc26_512a, sizeof(oid_tc26_512a) },
                               { CKA_GOSTR3411_PARAMS, (void *)oid_gost94_test, sizeof(oid_gost94_test) } };
    CK_OBJECT_HANDLE pub, priv;

    use_folder("gost2015");
    assert_int_equal(C_OpenSession(first_slot(), CKF_SERIAL_SESSION, NULL, NULL, &anon), CKR_OK);
    assert_int_equal(C_GenerateKeyPair(anon, &k512, good, 1, NULL, 0, &pub, &priv), CKR_USER_NOT_LOGGED_IN);
    h = login_first();
    assert_int_equal(C_GenerateKeyPair(h, &k512, NULL, 0, NULL, 0, &pub, &priv), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(C_GenerateKeyPair(h, &k512, bogus, 1, NULL, 0, &pub, &priv), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(C_GenerateKeyPair(h, &k256, good, 1, NULL, 0, &pub, &priv), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(C_GenerateKeyPair(h, &k512, hash256, 2, NULL, 0, &pub, &priv), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(C_GenerateKeyPair(h, &k512, good, 1, extractable, 1, &pub, &priv), CKR_TEMPLATE_INCONSISTENT);
    /* Token keys need a R/W session, and a container holds one key. */
    assert_int_equal(C_GenerateKeyPair(h, &k512, token, 2, NULL, 0, &pub, &priv), CKR_SESSION_READ_ONLY);
    {
        CK_SESSION_HANDLE rw;
        assert_int_equal(C_OpenSession(first_slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw), CKR_OK);
        assert_int_equal(C_GenerateKeyPair(rw, &k512, token, 2, NULL, 0, &pub, &priv), CKR_DEVICE_MEMORY);
        C_CloseSession(rw);
    }
    assert_int_equal(C_GenerateKeyPair(h, &k512, good, 1, NULL, 0, NULL, &priv), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GenerateKeyPair(h, &k512, good, 1, NULL, 0, &pub, &priv), CKR_OK);
    /* Session objects go with their session. */
    C_CloseSession(anon);
    C_CloseSession(h);
    h = login_first();
    assert_int_equal(C_DestroyObject(h, priv), CKR_OBJECT_HANDLE_INVALID);
    C_CloseSession(h);
}

static void test_create_gost_public_errors(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE k512 = CKK_GOSTR3410_512, k256 = CKK_GOSTR3410;
    unsigned char value[128];
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &k512, sizeof(k512) },
                         { CKA_GOSTR3410_PARAMS, (void *)oid_tc26_512a, sizeof(oid_tc26_512a) },
                         { CKA_VALUE, value, sizeof(value) } };

    use_folder("gost2015");
    assert_int_equal(C_OpenSession(first_slot(), CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    memset(value, 0x5a, sizeof(value));   /* not a point on the curve */
    assert_int_equal(C_CreateObject(h, t, 4, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    t[3].ulValueLen = 64;
    assert_int_equal(C_CreateObject(h, t, 4, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    t[3].ulValueLen = 128;
    assert_int_equal(C_CreateObject(h, t, 3, &o), CKR_TEMPLATE_INCOMPLETE);
    t[1].pValue = &k256;
    assert_int_equal(C_CreateObject(h, t, 4, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    t[2].pValue = (void *)oid_bogus;
    t[2].ulValueLen = sizeof(oid_bogus);
    assert_int_equal(C_CreateObject(h, t, 4, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    C_CloseSession(h);
}

/* ---- Malformed GOST keys inside a container: a login error, never a crash -------- */

static void write_container(const char *path, const char *alg_oid, const unsigned char *key, int key_len)
{
    OSSL_LIB_CTX *lib = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *d = OSSL_PROVIDER_load(lib, "default"), *l = OSSL_PROVIDER_load(lib, "legacy");
    PKCS8_PRIV_KEY_INFO *p8 = PKCS8_PRIV_KEY_INFO_new();
    unsigned char *k = OPENSSL_memdup(key, (size_t)key_len);
    STACK_OF(PKCS12_SAFEBAG) *bags = sk_PKCS12_SAFEBAG_new_null();
    STACK_OF(PKCS7) *safes = sk_PKCS7_new_null();
    PKCS12_SAFEBAG *bag;
    PKCS12 *p12;
    FILE *f;

    assert_non_null(d);
    assert_non_null(l);
    assert_true(PKCS8_pkey_set0(p8, OBJ_txt2obj(alg_oid, 1), 0, V_ASN1_UNDEF, NULL, k, key_len));
    bag = PKCS12_SAFEBAG_create_pkcs8_encrypt_ex(NID_pbe_WithSHA1And3_Key_TripleDES_CBC, PIN, -1,
                                                 NULL, 0, 1024, p8, lib, NULL);
    assert_non_null(bag);
    assert_true(sk_PKCS12_SAFEBAG_push(bags, bag) > 0);
    assert_true(sk_PKCS7_push(safes, PKCS12_pack_p7data(bags)) > 0);
    p12 = PKCS12_add_safes_ex(safes, 0, lib, NULL);
    assert_non_null(p12);
    assert_true(PKCS12_set_mac(p12, PIN, -1, NULL, 0, 1024, EVP_sha1()));
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_true(i2d_PKCS12_fp(f, p12));
    fclose(f);
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    PKCS8_PRIV_KEY_INFO_free(p8);
    OSSL_PROVIDER_unload(l);
    OSSL_PROVIDER_unload(d);
    OSSL_LIB_CTX_free(lib);
}

static void test_malformed_keys_in_containers(void **state)
{
    static const unsigned char zeros64[66] = { 0x04, 0x40 };
    static const unsigned char short_os[] = { 0x04, 0x03, 1, 2, 3 };
    static const unsigned char os_in_os_63[65] = { 0x04, 0x3f };
    static const unsigned char int_big[] = { 0x02, 0x21, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const unsigned char junk[] = { 0x30, 0x80, 0x00 };
    static const unsigned char empty[] = { 0x04, 0x00 };
    const struct {
        const char *oid;
        const unsigned char *key;
        int len;
    } cases[] = {
        { "1.2.398.3.10.1.1.2.2", zeros64, sizeof(zeros64) },      /* a zero scalar */
        { "1.2.398.3.10.1.1.2.2", short_os, sizeof(short_os) },    /* 3 bytes */
        { "1.2.398.3.10.1.1.2.2", os_in_os_63, sizeof(os_in_os_63) },
        { "1.2.398.3.10.1.1.2.2", junk, sizeof(junk) },
        { "1.2.398.3.10.1.1.2.2", empty, sizeof(empty) },
        { "1.2.398.3.10.1.1.1.1", int_big, sizeof(int_big) },      /* >= q */
        { "1.2.398.3.10.1.1.1.1", short_os, sizeof(short_os) },    /* OCTET STRING for INTEGER */
        { "1.2.398.3.10.1.1.2.1", zeros64, sizeof(zeros64) },      /* 64 bytes for a 256-bit key */
        { "1.2.3.4", zeros64, sizeof(zeros64) },                   /* unknown algorithm */
    };
    char dir[] = "/tmp/kzp11-badgost-XXXXXX", path[256];

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/GOST512_00112233445566778899aabbccddeeff00112233.p12", dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CK_SESSION_HANDLE h;
        write_container(path, cases[i].oid, cases[i].key, cases[i].len);
        setenv("KZP11_KEYSTORE", dir, 1);
        assert_int_equal(C_Initialize(NULL), CKR_OK);
        assert_int_equal(C_OpenSession(first_slot(), CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
        /* The password is right (the MAC checks); the key is not usable. */
        assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)), CKR_DEVICE_ERROR);
        assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)"Wrong123", 8), CKR_PIN_INCORRECT);
        C_Finalize(NULL);
    }
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const char *s = getenv("KZP11_SHARED");
    const char *src = getenv("KZP11_SRCDIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_gostknca, fini),
        cmocka_unit_test_teardown(test_gost512_objects_and_errors, fini),
        cmocka_unit_test_teardown(test_gost_digests, fini),
        cmocka_unit_test_teardown(test_keygen_every_curve, fini),
        cmocka_unit_test_teardown(test_keygen_errors, fini),
        cmocka_unit_test_teardown(test_create_gost_public_errors, fini),
        cmocka_unit_test(test_malformed_keys_in_containers),
    };

    if (s && *s)
        snprintf(shared, sizeof(shared), "%s", s);
    else
        snprintf(shared, sizeof(shared), "%s/../shared", src && *src ? src : ".");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
