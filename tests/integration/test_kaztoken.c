/* The Kaztoken card driver through the built module, against a simulated
 * card on the bench (tests/cards/bench); kaztoken.sh starts the bench and
 * runs one part per call:
 *
 *   token SERIAL          label, serial, model and flags of a fresh token;
 *                         the slot; the mechanisms and their flags;
 *                         C_InitToken refused; no GOST 512
 *   keys SERIAL           key generation on the card (RSA 2048, 1024 and
 *                         4096 where the mechanism info offers them, else
 *                         CKR_KEY_SIZE_RANGE; GOST 256 on CryptoPro-A),
 *                         CKA_ID rules, every RSA signature mechanism and
 *                         CKM_RSA_PKCS decryption checked with OpenSSL,
 *                         C_DestroyObject (also after a new C_Initialize);
 *                         leaves one RSA-2048 pair, CKA_ID "kept", for
 *                         kaztoken.sh
 *   pins-lock SERIAL      (token started with --user-tries 3) three wrong
 *                         PINs: CKR_PIN_INCORRECT and flags COUNT_LOW,
 *                         FINAL_TRY, LOCKED following the card's counter;
 *                         the right PIN is then CKR_PIN_LOCKED
 *   pins-unblock SERIAL NEW   a fresh process sees LOCKED; SO login,
 *                         C_InitPIN(NEW), C_Logout logs the card out,
 *                         C_SetPIN logged in and not (the user PIN ends as
 *                         "pin-three-3"); wrong SO PIN flags
 *   so-lock SERIAL        (token started with --so-tries 2) SO_PIN_FINAL_TRY,
 *                         SO_PIN_LOCKED, CKR_PIN_LOCKED; the user PIN works
 *   cost SERIAL COUNTFILE APDUs per RSA-2048 signature after login (<= 3)
 *                         and per new session + find all on a card seen
 *                         before (<= 2), from the simulator's --count file
 *   relogin SERIAL        another program (a forked child) logs the card
 *                         out; the next signature still succeeds: the
 *                         driver verifies the kept PIN again
 *   signer SERIAL NAME N DIR PEERS   one of PEERS processes (named 1..PEERS)
 *                         signing at the same time: login, wait for all,
 *                         N signatures verified against the certificate
 *                         on the card, wait for all, C_Finalize
 *
 * The card's own view is read independently with the bench's pcsc_state
 * (KZ_PCSC_STATE, KZ_CARD_READER): VERIFY without data answers 63 Cx with
 * the tries left, 69 83 when blocked, 90 00 while verified.
 * PINs: KZ_USER_PIN (default 12345678), KZ_SO_PIN (87654321).
 * Exit 0 and "PASS: test_kaztoken PART" on success; "FAIL: ..." and 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "itest_p11.h"
#define CRYPTOKI_RU_TEAM_TC26_VENDOR_DEFINED 1
#include <p11-kit/pkcs11x.h>

static CK_FUNCTION_LIST_PTR fl;
static void *module;
static int failures;
static const char *user_pin = "12345678";
static const char *so_pin = "87654321";

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL: " __VA_ARGS__); \
    fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__); failures++; return 0; } } while (0)
#define CHECK_RV(what, rv, want) do { if (!itest_check(what, rv, want)) { \
    fprintf(stderr, "    at %s:%d\n", __FILE__, __LINE__); failures++; return 0; } } while (0)

/* CryptoPro-A (1.2.643.2.2.35.1) and GOST R 34.11-94 CryptoPro parameters
 * (1.2.643.2.2.30.1), as pkcs11-tool asks for GOSTR3410-2001:A. */
static const unsigned char oid_cryptopro_a[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01 };
static const unsigned char oid_hash94_cp[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01 };
/* TC26 512-bit set A: the card has no 512-bit GOST. */
static const unsigned char oid_tc26_512a[] = { 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x01 };

/* ---- Module and token ------------------------------------------------------------ */

static int start(void)
{
    CK_C_INITIALIZE_ARGS args;

    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    if (!fl)
        fl = itest_load(NULL, &module);
    CHECK(fl != NULL, "cannot load the module");
    CHECK_RV("C_Initialize", fl->C_Initialize(&args), CKR_OK);
    return 1;
}

static int stop(void)
{
    CHECK_RV("C_Finalize", fl->C_Finalize(NULL), CKR_OK);
    return 1;
}

/* The card's token is "Kaztoken <serial>": the slot whose label that is. */
static int card_slot(const char *serial, CK_SLOT_ID *slot)
{
    char label[64];

    snprintf(label, sizeof label, "Kaztoken %s ", serial);
    CHECK_RV("finding the token labelled 'Kaztoken <serial>'", itest_find_slot(fl, label, slot), CKR_OK);
    return 1;
}

static CK_FLAGS token_flags(CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;

    if (fl->C_GetTokenInfo(slot, &ti) != CKR_OK)
        return (CK_FLAGS)-1;
    return ti.flags;
}

/* A blank-padded PKCS#11 text field holds exactly want. */
static int padded_is(const CK_UTF8CHAR *field, size_t size, const char *want)
{
    size_t n = strlen(want);

    if (n > size || memcmp(field, want, n) != 0)
        return 0;
    for (; n < size; n++)
        if (field[n] != ' ')
            return 0;
    return 1;
}

static const char *field(const CK_UTF8CHAR *f, size_t size)
{
    static char buf[72];

    if (size >= sizeof buf)
        size = sizeof buf - 1;
    memcpy(buf, f, size);
    buf[size] = '\0';
    return buf;
}

static int login(CK_SESSION_HANDLE s, CK_USER_TYPE who, const char *pin, CK_RV want)
{
    char what[64];

    snprintf(what, sizeof what, "C_Login(%s)", who == CKU_SO ? "SO" : "user");
    CHECK_RV(what, fl->C_Login(s, who, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin)), want);
    return 1;
}

static int open_rw(CK_SLOT_ID slot, CK_SESSION_HANDLE *s)
{
    CK_RV rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);

    CHECK_RV("C_OpenSession(RW)", rv, CKR_OK);
    return 1;
}

/* Objects matching class (0: any) and id (NULL: any); their handles in out. */
static int find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const void *id, size_t id_len,
                CK_OBJECT_HANDLE *out, CK_ULONG cap, CK_ULONG *n)
{
    CK_ATTRIBUTE t[2];
    CK_ULONG nt = 0, got;
    CK_RV rv;

    if (cls) {
        t[nt].type = CKA_CLASS;
        t[nt].pValue = &cls;
        t[nt++].ulValueLen = sizeof cls;
    }
    if (id) {
        t[nt].type = CKA_ID;
        t[nt].pValue = (void *)id;
        t[nt++].ulValueLen = (CK_ULONG)id_len;
    }
    CHECK_RV("C_FindObjectsInit", fl->C_FindObjectsInit(s, nt ? t : NULL, nt), CKR_OK);
    *n = 0;
    do {
        rv = fl->C_FindObjects(s, out + *n, cap - *n, &got);
        if (rv != CKR_OK)
            break;
        *n += got;
    } while (got > 0 && *n < cap);
    CHECK_RV("C_FindObjects", rv, CKR_OK);
    CHECK_RV("C_FindObjectsFinal", fl->C_FindObjectsFinal(s), CKR_OK);
    return 1;
}

static CK_ULONG ulong_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG v = (CK_ULONG)-1;
    CK_ATTRIBUTE a = { type, &v, sizeof v };

    if (fl->C_GetAttributeValue(s, o, &a, 1) != CKR_OK)
        return (CK_ULONG)-1;
    return v;
}

/* The one key of class and type (the card holds one RSA key pair in the
 * signing tests); its CKA_ID in id. */
static int one_key(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_KEY_TYPE type, CK_OBJECT_HANDLE *key,
                   unsigned char **id, CK_ULONG *id_len)
{
    CK_OBJECT_HANDLE h[64];
    CK_ULONG n, i, found = 0;

    if (!find(s, cls, NULL, 0, h, 64, &n))
        return 0;
    for (i = 0; i < n; i++)
        if (ulong_attr(s, h[i], CKA_KEY_TYPE) == type) {
            *key = h[i];
            found++;
        }
    CHECK(found == 1, "expected exactly one key of class %lu type 0x%lx, found %lu", (unsigned long)cls,
          (unsigned long)type, (unsigned long)found);
    CHECK_RV("CKA_ID of the key", itest_get_attr(fl, s, *key, CKA_ID, id, id_len), CKR_OK);
    return 1;
}

/* ---- The card's own view (pcsc_state, another PC/SC connection) -------------------- */

/* Status of PIN ref: tries left (0..15), 0 when blocked, -1 while
 * verified; -2 when the card could not be asked. */
static int card_pin_status(int ref)
{
    const char *tool = getenv("KZ_PCSC_STATE"), *reader = getenv("KZ_CARD_READER");
    char cmd[1024], line[256];
    unsigned sw = 0;
    FILE *p;

    if (!tool || !reader) {
        fprintf(stderr, "FAIL: KZ_PCSC_STATE and KZ_CARD_READER are not set (run from kaztoken.sh)\n");
        return -2;
    }
    /* pcsc_state is the bench's, not instrumented: no sanitizer runtime. */
    snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD -u ASAN_OPTIONS '%s' send '%s' 002000%02X", tool, reader, ref);
    p = popen(cmd, "r");
    if (!p)
        return -2;
    if (!fgets(line, sizeof line, p) || sscanf(line, "%4X", &sw) != 1 || strlen(line) != 5)
        sw = 0;
    pclose(p);
    if (sw == 0x9000)
        return -1;
    if (sw == 0x6983)
        return 0;
    if ((sw & 0xFFF0) == 0x63C0)
        return (int)(sw & 0x0F);
    fprintf(stderr, "FAIL: the card answered '%s' to a VERIFY status query\n", sw ? line : "nothing");
    return -2;
}

/* ---- RSA checks with OpenSSL ------------------------------------------------------- */

/* The public key of a token RSA public key object, for OpenSSL. */
static EVP_PKEY *rsa_public(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pubobj)
{
    unsigned char *n = NULL, *e = NULL;
    CK_ULONG nlen = 0, elen = 0;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;

    if (itest_get_attr(fl, s, pubobj, CKA_MODULUS, &n, &nlen) == CKR_OK &&
        itest_get_attr(fl, s, pubobj, CKA_PUBLIC_EXPONENT, &e, &elen) == CKR_OK &&
        (bn = BN_bin2bn(n, (int)nlen, NULL)) && (be = BN_bin2bn(e, (int)elen, NULL)) && bld &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pk;
}

static int verify_digest_sig(EVP_PKEY *pub, const EVP_MD *md, const unsigned char *data, size_t len,
                             const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;

    EVP_MD_CTX_free(ctx);
    return ok;
}

/* CKM_RSA_PKCS: what the signature recovers to must be the input. */
static int verify_raw_pkcs1(EVP_PKEY *pub, const unsigned char *in, size_t inlen,
                            const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    unsigned char out[512];
    size_t outlen = sizeof out;
    int ok = ctx && EVP_PKEY_verify_recover_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_verify_recover(ctx, out, &outlen, sig, siglen) == 1 &&
             outlen == inlen && memcmp(out, in, inlen) == 0;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static int sign(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key,
                const unsigned char *in, CK_ULONG inlen, unsigned char *sig, CK_ULONG *siglen)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    char what[64];

    snprintf(what, sizeof what, "C_SignInit(mechanism 0x%lx)", (unsigned long)mech);
    CHECK_RV(what, fl->C_SignInit(s, &m, key), CKR_OK);
    snprintf(what, sizeof what, "C_Sign(mechanism 0x%lx)", (unsigned long)mech);
    CHECK_RV(what, fl->C_Sign(s, (CK_BYTE_PTR)in, inlen, sig, siglen), CKR_OK);
    return 1;
}

/* ---- token ----------------------------------------------------------------------- */

struct mech_want {
    CK_MECHANISM_TYPE type;
    const char *name;
    CK_FLAGS flags;
};

static const struct mech_want card_mechs[] = {
    { CKM_RSA_PKCS, "CKM_RSA_PKCS", CKF_SIGN | CKF_DECRYPT },
    { CKM_SHA1_RSA_PKCS, "CKM_SHA1_RSA_PKCS", CKF_SIGN },
    { CKM_SHA224_RSA_PKCS, "CKM_SHA224_RSA_PKCS", CKF_SIGN },
    { CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS", CKF_SIGN },
    { CKM_SHA384_RSA_PKCS, "CKM_SHA384_RSA_PKCS", CKF_SIGN },
    { CKM_SHA512_RSA_PKCS, "CKM_SHA512_RSA_PKCS", CKF_SIGN },
    { CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR },
    { CKM_GOSTR3410, "CKM_GOSTR3410", CKF_SIGN },
    { CKM_GOSTR3410_WITH_GOSTR3411, "CKM_GOSTR3410_WITH_GOSTR3411", CKF_SIGN },
    { CKM_GOSTR3410_WITH_GOSTR3411_2012_256, "CKM_GOSTR3410_WITH_GOSTR3411_2012_256", CKF_SIGN },
    { CKM_GOSTR3410_KEY_PAIR_GEN, "CKM_GOSTR3410_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR },
};

static int part_token(const char *serial)
{
    CK_SLOT_ID slot;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_MECHANISM_TYPE mechs[128];
    CK_MECHANISM_INFO mi;
    CK_ULONG nm = 128, i, j;
    char label[40];
    const CK_FLAGS must = CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
    const CK_FLAGS pin_flags = CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED |
                               CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED;

    if (!start() || !card_slot(serial, &slot))
        return 0;
    CHECK_RV("C_GetSlotInfo", fl->C_GetSlotInfo(slot, &si), CKR_OK);
    CHECK((si.flags & (CKF_HW_SLOT | CKF_REMOVABLE_DEVICE | CKF_TOKEN_PRESENT)) ==
          (CKF_HW_SLOT | CKF_REMOVABLE_DEVICE | CKF_TOKEN_PRESENT),
          "the card's slot flags are 0x%lx: want HW_SLOT, REMOVABLE_DEVICE, TOKEN_PRESENT", (unsigned long)si.flags);

    CHECK_RV("C_GetTokenInfo", fl->C_GetTokenInfo(slot, &ti), CKR_OK);
    snprintf(label, sizeof label, "Kaztoken %s", serial);
    CHECK(padded_is(ti.label, sizeof ti.label, label), "label '%s', want '%s'", field(ti.label, sizeof ti.label), label);
    CHECK(padded_is(ti.serialNumber, sizeof ti.serialNumber, serial), "serialNumber '%s', want '%s'",
          field(ti.serialNumber, sizeof ti.serialNumber), serial);
    CHECK(padded_is(ti.model, sizeof ti.model, "Kaztoken"), "model '%s', want 'Kaztoken'", field(ti.model, sizeof ti.model));
    CHECK((ti.flags & must) == must, "token flags 0x%lx lack LOGIN_REQUIRED, USER_PIN_INITIALIZED or TOKEN_INITIALIZED",
          (unsigned long)ti.flags);
    CHECK((ti.flags & pin_flags) == 0, "a factory-fresh card shows PIN flags 0x%lx", (unsigned long)(ti.flags & pin_flags));
    CHECK(!(ti.flags & CKF_WRITE_PROTECTED), "the card is shown write-protected");
    printf("token: '%s' serial '%s' model '%s' flags 0x%lx\n", label, serial, "Kaztoken", (unsigned long)ti.flags);

    CHECK_RV("C_GetMechanismList", fl->C_GetMechanismList(slot, mechs, &nm), CKR_OK);
    for (i = 0; i < sizeof card_mechs / sizeof card_mechs[0]; i++) {
        const struct mech_want *w = &card_mechs[i];

        for (j = 0; j < nm && mechs[j] != w->type; j++)
            ;
        CHECK(j < nm, "%s is not in the mechanism list", w->name);
        CHECK_RV(w->name, fl->C_GetMechanismInfo(slot, w->type, &mi), CKR_OK);
        CHECK((mi.flags & w->flags) == w->flags, "%s: flags 0x%lx lack 0x%lx", w->name, (unsigned long)mi.flags,
              (unsigned long)(w->flags & ~mi.flags));
        /* The card performs it: pkcs11-tool picks only such mechanisms
         * unless told --allow-sw. */
        CHECK(mi.flags & CKF_HW, "%s: no CKF_HW on the card's own mechanism", w->name);
        if (w->type == CKM_RSA_PKCS_KEY_PAIR_GEN)
            CHECK(mi.ulMinKeySize <= 2048 && mi.ulMaxKeySize >= 2048, "RSA key sizes %lu..%lu leave out 2048",
                  (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize);
        if (w->type == CKM_GOSTR3410_KEY_PAIR_GEN)
            CHECK(mi.ulMinKeySize <= 256 && mi.ulMaxKeySize >= 256, "GOST key sizes %lu..%lu do not include 256",
                  (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize);
    }
    /* Digests run on the host, not the card. */
    CHECK_RV("C_GetMechanismInfo(CKM_SHA256)", fl->C_GetMechanismInfo(slot, CKM_SHA256, &mi), CKR_OK);
    CHECK(!(mi.flags & CKF_HW), "CKM_SHA256 claims CKF_HW on the card");
    /* The 512-bit GOST APDUs are unknown: nothing may promise them. */
    for (j = 0; j < nm; j++)
        CHECK(mechs[j] != CKM_GOSTR3410_512_KEY_PAIR_GEN && mechs[j] != CKM_GOSTR3410_512 &&
              mechs[j] != CKM_GOSTR3410_WITH_GOSTR3411_2012_512,
              "a GOST 512 mechanism (0x%lx) is listed", (unsigned long)mechs[j]);
    printf("mechanisms: %lu listed, the %zu the driver promises have the right flags\n", (unsigned long)nm,
           sizeof card_mechs / sizeof card_mechs[0]);

    CHECK_RV("C_InitToken", fl->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, (CK_ULONG)strlen(so_pin),
                                            (CK_UTF8CHAR_PTR)"kzp11 test                      "),
             CKR_FUNCTION_NOT_SUPPORTED);
    /* Still the same token afterwards. */
    CHECK_RV("C_GetTokenInfo", fl->C_GetTokenInfo(slot, &ti), CKR_OK);
    CHECK(padded_is(ti.label, sizeof ti.label, label), "the label changed to '%s' after C_InitToken",
          field(ti.label, sizeof ti.label));
    return stop();
}

/* ---- keys ------------------------------------------------------------------------ */

static CK_RV gen_rsa_rv(CK_SESSION_HANDLE s, CK_ULONG bits, const char *id, CK_OBJECT_HANDLE *pub,
                        CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE;
    CK_BYTE e[] = { 0x01, 0x00, 0x01 };
    CK_ATTRIBUTE pt[] = {
        { CKA_TOKEN, &yes, sizeof yes }, { CKA_VERIFY, &yes, sizeof yes },
        { CKA_MODULUS_BITS, &bits, sizeof bits }, { CKA_PUBLIC_EXPONENT, e, sizeof e },
        { CKA_ID, (void *)id, id ? (CK_ULONG)strlen(id) : 0 },
    };
    CK_ATTRIBUTE vt[] = {
        { CKA_TOKEN, &yes, sizeof yes }, { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes }, { CKA_SIGN, &yes, sizeof yes },
        { CKA_DECRYPT, &yes, sizeof yes }, { CKA_ID, (void *)id, id ? (CK_ULONG)strlen(id) : 0 },
    };

    return fl->C_GenerateKeyPair(s, &m, pt, id ? 5 : 4, vt, id ? 6 : 5, pub, priv);
}

static int gen_rsa(CK_SESSION_HANDLE s, CK_ULONG bits, const char *id, CK_RV want,
                   CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    char what[64];

    snprintf(what, sizeof what, "C_GenerateKeyPair(RSA-%lu)", (unsigned long)bits);
    CHECK_RV(what, gen_rsa_rv(s, bits, id, pub, priv), want);
    return 1;
}

static int gen_gost(CK_SESSION_HANDLE s, const char *id, CK_RV want, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = { CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE;
    CK_KEY_TYPE kt = CKK_GOSTR3410;
    CK_ATTRIBUTE pt[] = {
        { CKA_TOKEN, &yes, sizeof yes }, { CKA_VERIFY, &yes, sizeof yes }, { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_GOSTR3410_PARAMS, (void *)oid_cryptopro_a, sizeof oid_cryptopro_a },
        { CKA_GOSTR3411_PARAMS, (void *)oid_hash94_cp, sizeof oid_hash94_cp },
        { CKA_ID, (void *)id, id ? (CK_ULONG)strlen(id) : 0 },
    };
    CK_ATTRIBUTE vt[] = {
        { CKA_TOKEN, &yes, sizeof yes }, { CKA_PRIVATE, &yes, sizeof yes }, { CKA_SIGN, &yes, sizeof yes },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_GOSTR3410_PARAMS, (void *)oid_cryptopro_a, sizeof oid_cryptopro_a },
        { CKA_GOSTR3411_PARAMS, (void *)oid_hash94_cp, sizeof oid_hash94_cp },
        { CKA_ID, (void *)id, id ? (CK_ULONG)strlen(id) : 0 },
    };

    CHECK_RV("C_GenerateKeyPair(GOST CryptoPro-A)",
             fl->C_GenerateKeyPair(s, &m, pt, id ? 6 : 5, vt, id ? 7 : 6, pub, priv), want);
    return 1;
}

/* Both halves carry the same CKA_ID: the requested one, else a SHA-1 of
 * the public key (any of its usual encodings: raw value, PKCS#1 / X.509). */
static int check_ids(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, const char *want,
                     const unsigned char *const *raw, const size_t *raw_len, size_t n_raw)
{
    unsigned char *a = NULL, *b = NULL, md[SHA_DIGEST_LENGTH];
    CK_ULONG alen = 0, blen = 0;
    size_t i;
    int ok = 0;

    CHECK_RV("CKA_ID of the public key", itest_get_attr(fl, s, pub, CKA_ID, &a, &alen), CKR_OK);
    if (itest_get_attr(fl, s, priv, CKA_ID, &b, &blen) != CKR_OK || alen != blen || memcmp(a, b, alen) != 0) {
        free(a);
        free(b);
        CHECK(0, "the private and public key have different CKA_IDs");
    }
    if (want) {
        ok = alen == strlen(want) && memcmp(a, want, alen) == 0;
    } else if (alen == SHA_DIGEST_LENGTH) {
        for (i = 0; i < n_raw && !ok; i++)
            ok = memcmp(SHA1(raw[i], raw_len[i], md), a, SHA_DIGEST_LENGTH) == 0;
    }
    free(a);
    free(b);
    CHECK(ok, "CKA_ID is not %s", want ? "the requested one" : "a SHA-1 of the public key");
    return 1;
}

static int check_rsa_id(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, const char *want)
{
    EVP_PKEY *pk = rsa_public(s, pub);
    unsigned char *n = NULL, *pkcs1 = NULL, *spki = NULL;
    CK_ULONG nlen = 0;
    const unsigned char *raw[3];
    size_t len[3];
    int ok;

    CHECK(pk != NULL, "the public key object has no usable CKA_MODULUS / CKA_PUBLIC_EXPONENT");
    itest_get_attr(fl, s, pub, CKA_MODULUS, &n, &nlen);
    len[0] = nlen;
    len[1] = (size_t)i2d_PublicKey(pk, &pkcs1);
    len[2] = (size_t)i2d_PUBKEY(pk, &spki);
    raw[0] = n;
    raw[1] = pkcs1;
    raw[2] = spki;
    ok = check_ids(s, pub, priv, want, raw, len, 3);
    OPENSSL_free(pkcs1);
    OPENSSL_free(spki);
    free(n);
    EVP_PKEY_free(pk);
    return ok;
}

/* Every RSA signature mechanism over the same text, checked with OpenSSL;
 * the size query and CKR_BUFFER_TOO_SMALL follow the two-call convention. */
static int rsa_signatures(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, CK_ULONG bits)
{
    static const struct { CK_MECHANISM_TYPE m; const char *md; } hs[] = {
        { CKM_SHA1_RSA_PKCS, "SHA1" }, { CKM_SHA224_RSA_PKCS, "SHA224" }, { CKM_SHA256_RSA_PKCS, "SHA256" },
        { CKM_SHA384_RSA_PKCS, "SHA384" }, { CKM_SHA512_RSA_PKCS, "SHA512" },
    };
    static const unsigned char text[] = "Kaztoken: a document signed on the card";
    /* DigestInfo of SHA-256 with a fixed hash: what CKM_RSA_PKCS signs. */
    unsigned char di[19 + 32] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
                                  0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
    unsigned char sig[512];
    CK_ULONG siglen, want = bits / 8;
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    EVP_PKEY *pk = rsa_public(s, pub);
    size_t i;

    CHECK(pk != NULL, "RSA-%lu: no public key for OpenSSL", (unsigned long)bits);
    for (i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        siglen = sizeof sig;
        if (!sign(s, hs[i].m, priv, text, sizeof text - 1, sig, &siglen))
            goto bad;
        if (siglen != want ||
            !verify_digest_sig(pk, EVP_get_digestbyname(hs[i].md), text, sizeof text - 1, sig, siglen)) {
            fprintf(stderr, "FAIL: RSA-%lu %s-RSA-PKCS signature (%lu bytes) does not verify\n",
                    (unsigned long)bits, hs[i].md, (unsigned long)siglen);
            goto bad;
        }
    }
    SHA256(text, sizeof text - 1, di + 19);
    siglen = sizeof sig;
    if (!sign(s, CKM_RSA_PKCS, priv, di, sizeof di, sig, &siglen))
        goto bad;
    if (siglen != want || !verify_raw_pkcs1(pk, di, sizeof di, sig, siglen)) {
        fprintf(stderr, "FAIL: RSA-%lu CKM_RSA_PKCS signature does not recover to the DigestInfo\n", (unsigned long)bits);
        goto bad;
    }

    /* Two-call convention: size first, then too small, then the real one. */
    if (fl->C_SignInit(s, &m, priv) != CKR_OK || fl->C_Sign(s, (CK_BYTE_PTR)text, 4, NULL, &siglen) != CKR_OK ||
        siglen < want) {
        fprintf(stderr, "FAIL: RSA-%lu: C_Sign(NULL) does not give the length (%lu)\n", (unsigned long)bits,
                (unsigned long)siglen);
        goto bad;
    }
    siglen = 8;
    if (fl->C_Sign(s, (CK_BYTE_PTR)text, 4, sig, &siglen) != CKR_BUFFER_TOO_SMALL) {
        fprintf(stderr, "FAIL: RSA-%lu: C_Sign into 8 bytes is not CKR_BUFFER_TOO_SMALL\n", (unsigned long)bits);
        goto bad;
    }
    siglen = sizeof sig;
    if (fl->C_Sign(s, (CK_BYTE_PTR)text, 4, sig, &siglen) != CKR_OK || siglen != want ||
        !verify_digest_sig(pk, EVP_sha256(), text, 4, sig, siglen)) {
        fprintf(stderr, "FAIL: RSA-%lu: C_Sign after CKR_BUFFER_TOO_SMALL does not sign\n", (unsigned long)bits);
        goto bad;
    }
    EVP_PKEY_free(pk);
    printf("RSA-%lu: SHA1/224/256/384/512-RSA-PKCS and RSA-PKCS signatures verify with OpenSSL\n",
           (unsigned long)bits);
    return 1;
bad:
    EVP_PKEY_free(pk);
    failures++;
    return 0;
}

static int rsa_decrypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
    static const unsigned char secret[] = "a session key for the card";
    EVP_PKEY *pk = rsa_public(s, pub);
    EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
    unsigned char ct[512], pt[512];
    size_t ctlen = sizeof ct;
    CK_ULONG ptlen = sizeof pt;
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    int ok = ctx && EVP_PKEY_encrypt_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_encrypt(ctx, ct, &ctlen, secret, sizeof secret - 1) == 1;
    CK_RV rv1 = CKR_GENERAL_ERROR, rv2 = CKR_GENERAL_ERROR;

    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    CHECK(ok, "OpenSSL cannot encrypt to the card's public key");
    rv1 = fl->C_DecryptInit(s, &m, priv);
    if (rv1 == CKR_OK)
        rv2 = fl->C_Decrypt(s, ct, (CK_ULONG)ctlen, pt, &ptlen);
    CHECK_RV("C_DecryptInit(CKM_RSA_PKCS)", rv1, CKR_OK);
    CHECK_RV("C_Decrypt(CKM_RSA_PKCS)", rv2, CKR_OK);
    CHECK(ptlen == sizeof secret - 1 && memcmp(pt, secret, ptlen) == 0,
          "C_Decrypt gave %lu bytes, not what OpenSSL encrypted", (unsigned long)ptlen);
    printf("CKM_RSA_PKCS decryption on the card gives back what OpenSSL encrypted\n");
    return 1;
}

static int gost_key(CK_SESSION_HANDLE s, const char *id, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    unsigned char *v = NULL, *par = NULL, der[66], hash[32], sig[64];
    CK_ULONG vlen = 0, plen = 0, siglen;
    const unsigned char *raw[2];
    size_t len[2];
    CK_MECHANISM_TYPE mechs[] = { CKM_GOSTR3410, CKM_GOSTR3410_WITH_GOSTR3411,
                                  CKM_GOSTR3410_WITH_GOSTR3411_2012_256 };
    size_t i;
    int ok;

    if (!gen_gost(s, id, CKR_OK, pub, priv))
        return 0;
    CHECK_RV("CKA_VALUE of the GOST public key", itest_get_attr(fl, s, *pub, CKA_VALUE, &v, &vlen), CKR_OK);
    if (vlen == 66 && v[0] == 0x04 && v[1] == 0x40) { /* an OCTET STRING around it is allowed */
        memmove(v, v + 2, 64);
        vlen = 64;
    }
    ok = vlen == 64;
    if (ok && itest_get_attr(fl, s, *pub, CKA_GOSTR3410_PARAMS, &par, &plen) == CKR_OK)
        ok = plen == sizeof oid_cryptopro_a && memcmp(par, oid_cryptopro_a, plen) == 0;
    else
        ok = 0;
    free(par);
    if (!ok) {
        free(v);
        CHECK(0, "GOST public key: CKA_VALUE (%lu bytes) or CKA_GOSTR3410_PARAMS is not what was asked", (unsigned long)vlen);
    }
    der[0] = 0x04;
    der[1] = 0x40;
    memcpy(der + 2, v, 64);
    raw[0] = v;
    len[0] = 64;
    raw[1] = der;
    len[1] = sizeof der;
    ok = check_ids(s, *pub, *priv, id, raw, len, 2);
    free(v);
    if (!ok)
        return 0;
    /* The signatures' values are checked by kaztoken.sh with the gost engine;
     * here: every GOST mechanism signs with this key and gives 64 bytes. */
    memset(hash, 0x5a, sizeof hash);
    for (i = 0; i < sizeof mechs / sizeof mechs[0]; i++) {
        siglen = sizeof sig;
        if (!sign(s, mechs[i], *priv, hash, sizeof hash, sig, &siglen))
            return 0;
        CHECK(siglen == 64, "GOST mechanism 0x%lx: a %lu-byte signature", (unsigned long)mechs[i], (unsigned long)siglen);
    }
    printf("GOST CryptoPro-A key %s: CKA_ID %s, 64-byte CKA_VALUE, signs with 3 mechanisms\n",
           id ? id : "(no CKA_ID asked)", id ? "as requested" : "= SHA-1 of the public key");
    return 1;
}

static int count(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const void *id, size_t id_len, CK_ULONG *n)
{
    CK_OBJECT_HANDLE h[64];

    return find(s, cls, id, id_len, h, 64, n);
}

/* C_DestroyObject on a key pair. The public key alone is refused (it is
 * the private key's public half: deleting it would take the private key,
 * which the card cannot make again); the private key takes the pair, so
 * no object with that CKA_ID is left. */
static int destroy_pair(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub, const char *what)
{
    unsigned char *id = NULL;
    CK_ULONG id_len = 0, n;
    CK_RV rv_pub, rv;
    int ok;

    CHECK_RV("CKA_ID of the key to destroy", itest_get_attr(fl, s, priv, CKA_ID, &id, &id_len), CKR_OK);
    rv_pub = fl->C_DestroyObject(s, pub);
    ok = find(s, CKO_PRIVATE_KEY, id, id_len, &priv, 1, &n) && n == 1;
    rv = fl->C_DestroyObject(s, priv);
    if (!ok || rv_pub != CKR_ACTION_PROHIBITED || rv != CKR_OK) {
        free(id);
        CHECK(0, "%s: C_DestroyObject of the public key %s (want CKR_ACTION_PROHIBITED, the private key kept: %s), "
                 "of the private key %s", what, itest_rv(rv_pub), ok ? "yes" : "no", itest_rv(rv));
    }
    ok = find(s, 0, id, id_len, &pub, 1, &n);
    free(id);
    CHECK(ok && n == 0, "%s: an object with its CKA_ID is left after C_DestroyObject", what);
    return 1;
}

/* An RSA size the mechanism info offers must work; one it leaves out must
 * be refused as such (CKR_KEY_SIZE_RANGE). A key made either way is
 * checked and destroyed. */
static int rsa_size(CK_SLOT_ID slot, CK_SESSION_HANDLE s, CK_ULONG bits, const char *id)
{
    CK_MECHANISM_INFO mi;
    CK_OBJECT_HANDLE pub, priv;
    CK_RV rv;
    int offered;

    CHECK_RV("C_GetMechanismInfo(CKM_RSA_PKCS_KEY_PAIR_GEN)",
             fl->C_GetMechanismInfo(slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &mi), CKR_OK);
    offered = bits >= mi.ulMinKeySize && bits <= mi.ulMaxKeySize;
    rv = gen_rsa_rv(s, bits, id, &pub, &priv);
    if (!offered && rv == CKR_KEY_SIZE_RANGE) {
        printf("RSA-%lu: outside the offered %lu..%lu, refused\n", (unsigned long)bits,
               (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize);
        return 1;
    }
    CHECK(rv == CKR_OK, "C_GenerateKeyPair(RSA-%lu): %s (mechanism info offers %lu..%lu)", (unsigned long)bits,
          itest_rv(rv), (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize);
    if (!check_rsa_id(s, pub, priv, id) || !rsa_signatures(s, pub, priv, bits) || !destroy_pair(s, priv, pub, id))
        return 0;
    CHECK(offered, "RSA-%lu: made and working, but C_GetMechanismInfo offers only %lu..%lu", (unsigned long)bits,
          (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize);
    return 1;
}

static int part_keys(const char *serial)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s, ro;
    CK_OBJECT_HANDLE pub, priv, gpub, gpriv, gpub2, gpriv2, kpub, kpriv;
    CK_ULONG n;
    unsigned char *rid = NULL;
    CK_ULONG rid_len = 0;
    CK_MECHANISM m512 = { CKM_GOSTR3410_512_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t512[] = { { CKA_TOKEN, &yes, sizeof yes },
                            { CKA_GOSTR3410_PARAMS, (void *)oid_tc26_512a, sizeof oid_tc26_512a } };
    CK_RV rv;

    if (!start() || !card_slot(serial, &slot) || !open_rw(slot, &s))
        return 0;
    if (!count(s, 0, NULL, 0, &n))
        return 0;
    CHECK(n == 0, "a factory-fresh card shows %lu objects", (unsigned long)n);

    /* Key generation wants the user, and a read/write session. */
    if (!gen_rsa(s, 2048, NULL, CKR_USER_NOT_LOGGED_IN, &pub, &priv))
        return 0;
    if (!login(s, CKU_USER, user_pin, CKR_OK))
        return 0;
    CHECK_RV("C_OpenSession(RO)", fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
    if (!gen_rsa(ro, 2048, NULL, CKR_SESSION_READ_ONLY, &pub, &priv))
        return 0;
    CHECK_RV("C_CloseSession(RO)", fl->C_CloseSession(ro), CKR_OK);
    rv = fl->C_GenerateKeyPair(s, &m512, t512, 2, t512, 2, &pub, &priv);
    CHECK(rv == CKR_MECHANISM_INVALID, "GOST 512 key generation: %s, want CKR_MECHANISM_INVALID", itest_rv(rv));

    /* RSA-2048, no CKA_ID asked; another with one, which stays. */
    if (!gen_rsa(s, 2048, NULL, CKR_OK, &pub, &priv) || !check_rsa_id(s, pub, priv, NULL))
        return 0;
    CHECK(ulong_attr(s, pub, CKA_MODULUS_BITS) == 2048, "CKA_MODULUS_BITS is not 2048");
    CHECK(ulong_attr(s, priv, CKA_KEY_TYPE) == CKK_RSA, "the private key is not CKK_RSA");
    if (!rsa_signatures(s, pub, priv, 2048) || !rsa_decrypt(s, pub, priv))
        return 0;
    if (!gen_rsa(s, 2048, "kept", CKR_OK, &kpub, &kpriv) || !check_rsa_id(s, kpub, kpriv, "kept"))
        return 0;

    /* GOST 256 on CryptoPro-A, with and without a CKA_ID. */
    if (!gost_key(s, "gost-key", &gpub, &gpriv) || !gost_key(s, NULL, &gpub2, &gpriv2))
        return 0;

    /* RSA-4096 (answers longer than 256 bytes: 61xx / GET RESPONSE), 1024.
     * A failure here is counted; the destruction checks still run. */
    rsa_size(slot, s, 4096, "rsa4096");
    rsa_size(slot, s, 1024, "rsa1024");

    /* C_DestroyObject, through the private or the public half: everything
     * but the "kept" pair goes. */
    CHECK_RV("CKA_ID of the RSA-2048 key", itest_get_attr(fl, s, priv, CKA_ID, &rid, &rid_len), CKR_OK);
    if (!destroy_pair(s, priv, pub, "the RSA-2048 key") || !destroy_pair(s, gpriv, gpub, "the GOST key") ||
        !destroy_pair(s, gpriv2, gpub2, "the second GOST key"))
        return 0;
    CHECK_RV("C_DestroyObject twice", fl->C_DestroyObject(s, gpriv2), CKR_OBJECT_HANDLE_INVALID);
    if (!count(s, 0, NULL, 0, &n))
        return 0;
    CHECK(n == 2, "after the destructions %lu objects are left (want the \"kept\" pair)", (unsigned long)n);

    /* Not just forgotten by this process: the card no longer has them. */
    if (!stop() || !start() || !card_slot(serial, &slot) || !open_rw(slot, &s) || !login(s, CKU_USER, user_pin, CKR_OK))
        return 0;
    if (!count(s, 0, NULL, 0, &n))
        return 0;
    CHECK(n == 2, "after a new C_Initialize the card shows %lu objects, want 2", (unsigned long)n);
    if (!count(s, 0, rid, rid_len, &n))
        return 0;
    free(rid);
    CHECK(n == 0, "the destroyed RSA-2048 key is back after a new C_Initialize");
    if (!count(s, 0, "kept", 4, &n))
        return 0;
    CHECK(n == 2, "the pair with CKA_ID \"kept\" is not both there: %lu objects", (unsigned long)n);
    printf("C_DestroyObject: the keys are gone from the card, the \"kept\" pair stays\n");
    return stop();
}

/* ---- pins ------------------------------------------------------------------------- */

#define USER_FLAGS (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)
#define SO_FLAGS (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED)

static const char *flag_names(CK_FLAGS f)
{
    static char buf[128];

    snprintf(buf, sizeof buf, "%s%s%s%s%s%s", f & CKF_USER_PIN_COUNT_LOW ? " USER_COUNT_LOW" : "",
             f & CKF_USER_PIN_FINAL_TRY ? " USER_FINAL_TRY" : "", f & CKF_USER_PIN_LOCKED ? " USER_LOCKED" : "",
             f & CKF_SO_PIN_COUNT_LOW ? " SO_COUNT_LOW" : "", f & CKF_SO_PIN_FINAL_TRY ? " SO_FINAL_TRY" : "",
             f & CKF_SO_PIN_LOCKED ? " SO_LOCKED" : "");
    return buf[0] ? buf + 1 : "(none)";
}

/* The token's PIN flags (mask) are want, and the card says tries. */
static int pin_state(CK_SLOT_ID slot, CK_FLAGS mask, CK_FLAGS want, int ref, int tries, const char *when)
{
    CK_FLAGS f = token_flags(slot);
    int card = card_pin_status(ref);

    printf("%-34s card: %s %-2d  token flags: %s\n", when, ref == 1 ? "SO tries" : "user tries", card,
           flag_names(f & (USER_FLAGS | SO_FLAGS)));
    CHECK(f != (CK_FLAGS)-1, "%s: C_GetTokenInfo failed", when);
    CHECK(card == tries, "%s: the card says %d (tries left, -1 verified), want %d", when, card, tries);
    CHECK((f & mask) == want, "%s: PIN flags %s, want %s", when, flag_names(f & mask), flag_names(want));
    return 1;
}

static int part_pins_lock(const char *serial)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_RV rv;
    const char *wrong = "00000000";

    if (!start() || !card_slot(serial, &slot) || !open_rw(slot, &s))
        return 0;
    if (!pin_state(slot, USER_FLAGS | SO_FLAGS, 0, 2, 3, "fresh card (--user-tries 3)") ||
        !login(s, CKU_USER, wrong, CKR_PIN_INCORRECT) ||
        !pin_state(slot, USER_FLAGS, CKF_USER_PIN_COUNT_LOW, 2, 2, "wrong PIN once") ||
        !login(s, CKU_USER, wrong, CKR_PIN_INCORRECT) ||
        !pin_state(slot, CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED, CKF_USER_PIN_FINAL_TRY, 2, 1, "wrong PIN twice"))
        return 0;
    /* (COUNT_LOW beside FINAL_TRY is left open: both readings exist.)
     * The try that blocks it may say either. */
    rv = fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)wrong, 8);
    CHECK(rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED, "third wrong PIN: %s", itest_rv(rv));
    /* PKCS#11: LOCKED; a count that reached 0 is no longer "low" or "final". */
    if (!pin_state(slot, CKF_USER_PIN_LOCKED | CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED, 2, 0, "wrong PIN three times") ||
        !login(s, CKU_USER, user_pin, CKR_PIN_LOCKED) ||
        !pin_state(slot, CKF_USER_PIN_LOCKED, CKF_USER_PIN_LOCKED, 2, 0, "then the right PIN"))
        return 0;
    return stop();
}

static int part_pins_unblock(const char *serial, const char *new_pin)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    const char *pin2 = "pin-two-2", *pin3 = "pin-three-3";

    if (!start() || !card_slot(serial, &slot))
        return 0;
    /* A new process reads the blocked state from the card. */
    if (!pin_state(slot, CKF_USER_PIN_LOCKED, CKF_USER_PIN_LOCKED, 2, 0, "new process") || !open_rw(slot, &s) ||
        !login(s, CKU_USER, user_pin, CKR_PIN_LOCKED))
        return 0;

    /* The SO: a wrong PIN shows in the SO flags, the right one clears them. */
    if (!login(s, CKU_SO, "11111111", CKR_PIN_INCORRECT) ||
        !pin_state(slot, SO_FLAGS, CKF_SO_PIN_COUNT_LOW, 1, 9, "wrong SO PIN") ||
        !login(s, CKU_SO, so_pin, CKR_OK) ||
        !pin_state(slot, SO_FLAGS, 0, 1, -1, "SO logged in"))
        return 0;
    CHECK_RV("C_InitPIN", fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)new_pin, (CK_ULONG)strlen(new_pin)), CKR_OK);
    CHECK_RV("C_Logout(SO)", fl->C_Logout(s), CKR_OK);
    if (!pin_state(slot, USER_FLAGS, 0, 2, 3, "after C_InitPIN") ||
        !pin_state(slot, SO_FLAGS, 0, 1, 10, "after C_Logout (SO)"))
        return 0;

    /* The old PIN is gone, the new one works; C_Logout logs the card out. */
    if (!login(s, CKU_USER, user_pin, CKR_PIN_INCORRECT) || !login(s, CKU_USER, new_pin, CKR_OK) ||
        !pin_state(slot, USER_FLAGS, 0, 2, -1, "user logged in with the new PIN"))
        return 0;
    CHECK_RV("C_SetPIN (logged in)", fl->C_SetPIN(s, (CK_UTF8CHAR_PTR)new_pin, (CK_ULONG)strlen(new_pin),
                                                  (CK_UTF8CHAR_PTR)pin2, (CK_ULONG)strlen(pin2)), CKR_OK);
    CHECK_RV("C_Logout(user)", fl->C_Logout(s), CKR_OK);
    if (!pin_state(slot, USER_FLAGS, 0, 2, 3, "after C_Logout"))
        return 0;

    /* C_SetPIN without a login checks the old PIN first. */
    CHECK_RV("C_SetPIN (not logged in, wrong old PIN)",
             fl->C_SetPIN(s, (CK_UTF8CHAR_PTR)new_pin, (CK_ULONG)strlen(new_pin), (CK_UTF8CHAR_PTR)pin3,
                          (CK_ULONG)strlen(pin3)), CKR_PIN_INCORRECT);
    CHECK_RV("C_SetPIN (not logged in)", fl->C_SetPIN(s, (CK_UTF8CHAR_PTR)pin2, (CK_ULONG)strlen(pin2),
                                                      (CK_UTF8CHAR_PTR)pin3, (CK_ULONG)strlen(pin3)), CKR_OK);
    if (!login(s, CKU_USER, pin2, CKR_PIN_INCORRECT) || !login(s, CKU_USER, pin3, CKR_OK) ||
        !pin_state(slot, USER_FLAGS, 0, 2, -1, "logged in with the third PIN"))
        return 0;
    CHECK_RV("C_Logout(user)", fl->C_Logout(s), CKR_OK);
    printf("unblocked by the SO with C_InitPIN; C_SetPIN logged in and not; C_Logout logs the card out\n");
    return stop();
}

/* (token started with --so-tries 2) The SO PIN's flags follow its counter
 * the same way; a blocked SO PIN (never unblocked on this card) leaves the
 * user PIN working. */
static int part_so_lock(const char *serial)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_RV rv;
    const char *wrong = "11111111";

    if (!start() || !card_slot(serial, &slot) || !open_rw(slot, &s))
        return 0;
    if (!pin_state(slot, SO_FLAGS, 0, 1, 2, "fresh card (--so-tries 2)") ||
        !login(s, CKU_SO, wrong, CKR_PIN_INCORRECT) ||
        !pin_state(slot, CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED, CKF_SO_PIN_FINAL_TRY, 1, 1, "wrong SO PIN once"))
        return 0;
    rv = fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)wrong, 8);
    CHECK(rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED, "second wrong SO PIN: %s", itest_rv(rv));
    if (!pin_state(slot, CKF_SO_PIN_LOCKED | CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED, 1, 0, "wrong SO PIN twice") ||
        !login(s, CKU_SO, so_pin, CKR_PIN_LOCKED) || !login(s, CKU_USER, user_pin, CKR_OK) ||
        !pin_state(slot, USER_FLAGS, 0, 2, -1, "user logged in"))
        return 0;
    CHECK_RV("C_Logout", fl->C_Logout(s), CKR_OK);
    return stop();
}

/* ---- cost ------------------------------------------------------------------------- */

static const char *count_file;

static long apdus(void)
{
    return itest_count(count_file);
}

/* New session and a search for every object; the APDUs it cost. */
static int session_and_find(CK_SLOT_ID slot, CK_ULONG want_objects, long *cost, CK_SESSION_HANDLE *out)
{
    CK_OBJECT_HANDLE h[64];
    CK_ULONG n;
    long c0 = apdus();

    if (!open_rw(slot, out) || !find(*out, 0, NULL, 0, h, 64, &n))
        return 0;
    *cost = apdus() - c0;
    CHECK(n == want_objects, "the search found %lu objects, want %lu", (unsigned long)n, (unsigned long)want_objects);
    return 1;
}

static int part_cost(const char *serial)
{
    static const unsigned char text[] = "one signature, counted";
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s, s2;
    CK_OBJECT_HANDLE key, h[64];
    CK_ULONG n_public, n_all, siglen;
    unsigned char *id = NULL, sig[512];
    CK_ULONG id_len;
    long c0, c, worst = 0, find_in, find_out;
    int i;

    CHECK(apdus() >= 0, "cannot read the simulator's count file %s", count_file);
    if (!start() || !card_slot(serial, &slot) || !open_rw(slot, &s))
        return 0;
    /* First look at the card in this process, logged out, then logged in. */
    if (!find(s, 0, NULL, 0, h, 64, &n_public))
        return 0;
    c0 = apdus();
    if (!login(s, CKU_USER, user_pin, CKR_OK))
        return 0;
    printf("C_Login: %ld APDUs\n", apdus() - c0);
    if (!find(s, 0, NULL, 0, h, 64, &n_all) || !one_key(s, CKO_PRIVATE_KEY, CKK_RSA, &key, &id, &id_len))
        return 0;
    free(id);
    CHECK(ulong_attr(s, key, CKA_MODULUS_BITS) == 2048 || ulong_attr(s, key, CKA_MODULUS_BITS) == (CK_ULONG)-1,
          "the card's RSA key is not RSA-2048");

    /* Each signature, SignInit and Sign together, from the first on. */
    for (i = 0; i < 5; i++) {
        siglen = sizeof sig;
        c0 = apdus();
        if (!sign(s, CKM_SHA256_RSA_PKCS, key, text, sizeof text - 1, sig, &siglen))
            return 0;
        c = apdus() - c0;
        printf("RSA-2048 signature %d (C_SignInit + C_Sign): %ld APDUs\n", i + 1, c);
        CHECK(siglen == 256, "a %lu-byte RSA-2048 signature", (unsigned long)siglen);
        if (c > worst)
            worst = c;
    }
    CHECK(worst <= 3, "an RSA-2048 signature after login costs %ld APDUs, the limit is 3", worst);

    /* A second session beside the logged-in one, then, everything closed
     * (logged out), a new one: the card is known, its objects were seen. */
    if (!session_and_find(slot, n_all, &find_in, &s2))
        return 0;
    printf("C_OpenSession + find all (logged in, %lu objects): %ld APDUs\n", (unsigned long)n_all, find_in);
    CHECK_RV("C_CloseAllSessions", fl->C_CloseAllSessions(slot), CKR_OK);
    if (!session_and_find(slot, n_public, &find_out, &s2))
        return 0;
    printf("C_OpenSession + find all (logged out, %lu objects): %ld APDUs\n", (unsigned long)n_public, find_out);
    CHECK(find_in <= 2 && find_out <= 2, "a new session and a search cost %ld / %ld APDUs, the limit is 2",
          find_in, find_out);
    CHECK(n_all > n_public, "the private key shows before login (%lu objects logged out, %lu in)",
          (unsigned long)n_public, (unsigned long)n_all);
    return stop();
}

/* ---- signer ----------------------------------------------------------------------- */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Marks this process at stage in dir and waits (up to 60 s) until all
 * peers have. */
static int barrier(const char *dir, const char *stage, const char *name, int peers)
{
    char path[4096];
    FILE *f;
    long t0 = now_ms();

    snprintf(path, sizeof path, "%s/%s.%s", dir, stage, name);
    f = fopen(path, "w");
    CHECK(f != NULL, "cannot create %s: %s", path, strerror(errno));
    fclose(f);
    for (;;) {
        int n = 0, i;
        for (i = 0; i < 64; i++) {
            /* The peers are named 1..PEERS by kaztoken.sh. */
            snprintf(path, sizeof path, "%s/%s.%d", dir, stage, i + 1);
            n += access(path, F_OK) == 0;
        }
        if (n >= peers)
            return 1;
        CHECK(now_ms() - t0 < 60000, "the other signers did not reach '%s' within 60 s", stage);
        usleep(2000);
    }
}

/* Logged in on the card's token: its RSA key and the public key of the
 * certificate stored with it. */
static int signing_key(const char *serial, CK_SESSION_HANDLE *s, CK_OBJECT_HANDLE *key, EVP_PKEY **pub)
{
    CK_SLOT_ID slot;
    CK_OBJECT_HANDLE cert;
    unsigned char *id = NULL, *der = NULL;
    CK_ULONG id_len, der_len;
    const unsigned char *p;
    X509 *x;

    if (!start() || !card_slot(serial, &slot) || !open_rw(slot, s) || !login(*s, CKU_USER, user_pin, CKR_OK) ||
        !one_key(*s, CKO_PRIVATE_KEY, CKK_RSA, key, &id, &id_len))
        return 0;
    CHECK_RV("the certificate with the key's CKA_ID", itest_find_one(fl, *s, CKO_CERTIFICATE, id, id_len, &cert), CKR_OK);
    free(id);
    CHECK_RV("the certificate's CKA_VALUE", itest_get_attr(fl, *s, cert, CKA_VALUE, &der, &der_len), CKR_OK);
    p = der;
    x = d2i_X509(NULL, &p, (long)der_len);
    free(der);
    CHECK(x != NULL, "the certificate on the card is not DER");
    *pub = X509_get_pubkey(x);
    X509_free(x);
    CHECK(*pub != NULL, "no public key in the card's certificate");
    return 1;
}

static int part_signer(const char *serial, const char *name, int n, const char *dir, int peers)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    unsigned char data[128], sig[512];
    CK_ULONG siglen;
    EVP_PKEY *pub;
    long t_start, t_end;
    int i, len;

    if (!signing_key(serial, &s, &key, &pub))
        return 0;

    if (!barrier(dir, "ready", name, peers))
        return 0;
    t_start = now_ms();
    for (i = 0; i < n; i++) {
        CK_RV rv;

        len = snprintf((char *)data, sizeof data, "signer %s, signature %d of %d", name, i + 1, n);
        siglen = sizeof sig;
        rv = itest_sign_sha256(fl, s, key, data, (CK_ULONG)len, sig, &siglen);
        if (rv != CKR_OK || !itest_verify_sha256(pub, data, (size_t)len, sig, siglen)) {
            EVP_PKEY_free(pub);
            CHECK(0, "signer %s, signature %d: %s", name, i + 1, rv != CKR_OK ? itest_rv(rv) : "does not verify");
        }
    }
    t_end = now_ms();
    EVP_PKEY_free(pub);
    printf("signer %s: %d signatures verified; window %ld %ld\n", name, n, t_start, t_end);
    fflush(stdout);
    /* Nobody finalizes (and so logs the card out) while another still signs. */
    if (!barrier(dir, "done", name, peers))
        return 0;
    return stop();
}

/* ---- relogin --------------------------------------------------------------------- */

/* Another program logs in and out (a forked child with its own
 * C_Initialize, as a second program would): the card's one security state
 * is logged out under us, and our next signature must still succeed. */
static int part_relogin(const char *serial)
{
    static const unsigned char data[] = "signed after another program's logout";
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    unsigned char sig[512];
    CK_ULONG siglen = sizeof sig;
    EVP_PKEY *pub;
    int status, ok;
    pid_t child;

    if (!signing_key(serial, &s, &key, &pub))
        return 0;
    CHECK(card_pin_status(0x02) == -1, "the card is not logged in after C_Login");
    fflush(NULL);
    child = fork();
    CHECK(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        CK_SESSION_HANDLE cs;
        CK_SLOT_ID slot;
        ok = start() && card_slot(serial, &slot) && open_rw(slot, &cs) && login(cs, CKU_USER, user_pin, CKR_OK);
        if (ok) {
            CK_RV rv = fl->C_Logout(cs);
            ok = itest_check("C_Logout in the other program", rv, CKR_OK) && stop();
        }
        _exit(ok ? 0 : 1);
    }
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the other program's login and logout failed");
    if (card_pin_status(0x02) != -1)
        printf("relogin: the card is logged out after the other program's C_Logout\n");
    else
        CHECK(0, "the other program's C_Logout left the card logged in");
    ok = itest_sign_sha256(fl, s, key, data, sizeof data - 1, sig, &siglen) == CKR_OK &&
         itest_verify_sha256(pub, data, sizeof data - 1, sig, siglen);
    EVP_PKEY_free(pub);
    CHECK(ok, "signing after the other program's logout failed or does not verify");
    CHECK(card_pin_status(0x02) == -1, "the signature succeeded, yet the card is not logged in again");
    printf("relogin: the next signature verified the PIN again and succeeded\n");
    return stop();
}

int main(int argc, char **argv)
{
    const char *part = argc > 1 ? argv[1] : "";
    int ok = 0;

    if (getenv("KZ_USER_PIN"))
        user_pin = getenv("KZ_USER_PIN");
    if (getenv("KZ_SO_PIN"))
        so_pin = getenv("KZ_SO_PIN");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(part, "token") == 0 && argc == 3)
        ok = part_token(argv[2]);
    else if (strcmp(part, "keys") == 0 && argc == 3)
        ok = part_keys(argv[2]);
    else if (strcmp(part, "pins-lock") == 0 && argc == 3)
        ok = part_pins_lock(argv[2]);
    else if (strcmp(part, "so-lock") == 0 && argc == 3)
        ok = part_so_lock(argv[2]);
    else if (strcmp(part, "pins-unblock") == 0 && argc == 4)
        ok = part_pins_unblock(argv[2], argv[3]);
    else if (strcmp(part, "cost") == 0 && argc == 4) {
        count_file = argv[3];
        ok = part_cost(argv[2]);
    } else if (strcmp(part, "relogin") == 0 && argc == 3)
        ok = part_relogin(argv[2]);
    else if (strcmp(part, "signer") == 0 && argc == 7)
        ok = part_signer(argv[2], argv[3], atoi(argv[4]), argv[5], atoi(argv[6]));
    else {
        fprintf(stderr, "usage: test_kaztoken token|keys|pins-lock|so-lock SERIAL | pins-unblock SERIAL NEWPIN |\n"
                        "       cost SERIAL COUNTFILE | relogin SERIAL | signer SERIAL NAME N DIR PEERS\n");
        return 2;
    }
    if (!ok || failures) {
        fprintf(stderr, "FAIL: test_kaztoken %s (%d failure%s)\n", part, failures ? failures : 1,
                failures == 1 ? "" : "s");
        return 1;
    }
    printf("PASS: test_kaztoken %s\n", part);
    return 0;
}
