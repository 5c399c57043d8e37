/* The Kaztoken driver against a card whose every answer may be damaged: the
 * bench's simulator started with --fuzz SEED answers each command with a
 * wrong status word, a truncated or noisy answer, 61xx / 6Cxx loops, a
 * flipped byte, or untouched (tests/cards/fuzz.c); the card itself still
 * carries out each command.
 *
 *   test_kaztoken_fuzz COUNTFILE TARGET READER SEED
 *
 * loops through the calls an application makes (C_Initialize,
 * C_GetSlotList, C_GetTokenInfo, C_OpenSession, C_Login with the right and
 * wrong PIN, SO login and C_InitPIN when the PIN is blocked, searches,
 * C_GetAttributeValue, C_SignInit / C_Sign, C_GenerateKeyPair, C_SetPIN,
 * C_DestroyObject, C_Logout, C_CloseSession, C_Finalize) on the token in
 * READER until the simulator has received TARGET commands (its --count
 * file). Every call must return, within 30 s (a watchdog names the call
 * that hangs), a CKR_ value PKCS#11 defines; text fields of the token must
 * stay printable; a signature returned as CKR_OK has the key's length.
 * The choices come from SEED, so a run can be repeated.
 *
 * With KZ_CLEAN_CMD set (a command putting an undamaged card into READER)
 * and KZ_CLEAN_SERIAL, the same process then logs in to that card and lists
 * its objects: the module is not left wedged by what it went through.
 *
 * Exit 0 and "PASS: test_kaztoken_fuzz" on success; "FAIL: ..." and 1
 * otherwise; 3 when a call hangs. The sanitizer build runs it under ASan. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest_p11.h"

static CK_FUNCTION_LIST_PTR fl;
static const char *user_pin = "12345678";
static const char *so_pin = "87654321";
static const char *count_file;
static const char *reader;
static int failures;

/* ---- Return values -------------------------------------------------------------- */

#define R(x) { x, #x }
static const struct { CK_RV rv; const char *name; } known[] = {
    R(CKR_OK), R(CKR_CANCEL), R(CKR_HOST_MEMORY), R(CKR_SLOT_ID_INVALID), R(CKR_GENERAL_ERROR),
    R(CKR_FUNCTION_FAILED), R(CKR_ARGUMENTS_BAD), R(CKR_NO_EVENT), R(CKR_NEED_TO_CREATE_THREADS),
    R(CKR_CANT_LOCK), R(CKR_ATTRIBUTE_READ_ONLY), R(CKR_ATTRIBUTE_SENSITIVE), R(CKR_ATTRIBUTE_TYPE_INVALID),
    R(CKR_ATTRIBUTE_VALUE_INVALID), R(CKR_ACTION_PROHIBITED), R(CKR_DATA_INVALID), R(CKR_DATA_LEN_RANGE),
    R(CKR_DEVICE_ERROR), R(CKR_DEVICE_MEMORY), R(CKR_DEVICE_REMOVED), R(CKR_ENCRYPTED_DATA_INVALID),
    R(CKR_ENCRYPTED_DATA_LEN_RANGE), R(CKR_FUNCTION_CANCELED), R(CKR_FUNCTION_NOT_PARALLEL),
    R(CKR_FUNCTION_NOT_SUPPORTED), R(CKR_KEY_HANDLE_INVALID), R(CKR_KEY_SIZE_RANGE), R(CKR_KEY_TYPE_INCONSISTENT),
    R(CKR_KEY_FUNCTION_NOT_PERMITTED), R(CKR_MECHANISM_INVALID), R(CKR_MECHANISM_PARAM_INVALID),
    R(CKR_OBJECT_HANDLE_INVALID), R(CKR_OPERATION_ACTIVE), R(CKR_OPERATION_NOT_INITIALIZED), R(CKR_PIN_INCORRECT),
    R(CKR_PIN_INVALID), R(CKR_PIN_LEN_RANGE), R(CKR_PIN_EXPIRED), R(CKR_PIN_LOCKED), R(CKR_SESSION_CLOSED),
    R(CKR_SESSION_COUNT), R(CKR_SESSION_HANDLE_INVALID), R(CKR_SESSION_READ_ONLY), R(CKR_SESSION_EXISTS),
    R(CKR_SESSION_READ_ONLY_EXISTS), R(CKR_SESSION_READ_WRITE_SO_EXISTS), R(CKR_SIGNATURE_INVALID),
    R(CKR_SIGNATURE_LEN_RANGE), R(CKR_TEMPLATE_INCOMPLETE), R(CKR_TEMPLATE_INCONSISTENT), R(CKR_TOKEN_NOT_PRESENT),
    R(CKR_TOKEN_NOT_RECOGNIZED), R(CKR_TOKEN_WRITE_PROTECTED), R(CKR_USER_ALREADY_LOGGED_IN),
    R(CKR_USER_NOT_LOGGED_IN), R(CKR_USER_PIN_NOT_INITIALIZED), R(CKR_USER_TYPE_INVALID),
    R(CKR_USER_ANOTHER_ALREADY_LOGGED_IN), R(CKR_USER_TOO_MANY_TYPES), R(CKR_RANDOM_NO_RNG),
    R(CKR_DOMAIN_PARAMS_INVALID), R(CKR_CURVE_NOT_SUPPORTED), R(CKR_BUFFER_TOO_SMALL),
    R(CKR_CRYPTOKI_NOT_INITIALIZED), R(CKR_CRYPTOKI_ALREADY_INITIALIZED), R(CKR_PIN_TOO_WEAK),
    R(CKR_PUBLIC_KEY_INVALID), R(CKR_FUNCTION_REJECTED),
};
#undef R
#define N_KNOWN (sizeof known / sizeof known[0])

/* How often each function returned each value, for the summary. */
enum { F_INIT, F_SLOTS, F_TOKEN, F_MECHS, F_OPEN, F_LOGIN, F_LOGIN_SO, F_INITPIN, F_FIND, F_ATTR, F_SIGNINIT,
       F_SIGN, F_GEN, F_SETPIN, F_DESTROY, F_LOGOUT, F_CLOSE, F_FINAL, F_COUNT };
static const char *const fname[F_COUNT] = {
    "C_Initialize", "C_GetSlotList", "C_GetTokenInfo", "C_GetMechanismList", "C_OpenSession", "C_Login(user)",
    "C_Login(SO)", "C_InitPIN", "C_FindObjects*", "C_GetAttributeValue", "C_SignInit", "C_Sign",
    "C_GenerateKeyPair", "C_SetPIN", "C_DestroyObject", "C_Logout", "C_CloseSession", "C_Finalize",
};
static unsigned long hist[F_COUNT][N_KNOWN];
static unsigned long calls, pin_leaks;

static volatile sig_atomic_t in_call = -1;

static void hung(int sig)
{
    static const char msg[] = "FAIL: a PKCS#11 call did not return within 30 s: ";
    const char *f = in_call >= 0 ? fname[in_call] : "?";

    (void)sig;
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, f, strlen(f));
    (void)!write(2, "\n", 1);
    _exit(3);
}

/* Every call goes through here: a watchdog around it, and its value must
 * be one PKCS#11 defines (a status word or garbage leaking out is not). */
static CK_RV note(int f, CK_RV rv)
{
    size_t i;

    alarm(0);
    in_call = -1;
    calls++;
    for (i = 0; i < N_KNOWN && known[i].rv != rv; i++)
        ;
    if (i == N_KNOWN) {
        if (failures++ < 10)
            fprintf(stderr, "FAIL: %s returned 0x%lx, which is no CKR_ value\n", fname[f], (unsigned long)rv);
        return rv;
    }
    hist[f][i]++;
    /* Noted, not failed: a PIN verdict from a call that checks no PIN
     * (a damaged answer read as 63 Cx) is not among its PKCS#11 values. */
    if ((rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_LEN_RANGE) && f != F_LOGIN &&
        f != F_LOGIN_SO && f != F_INITPIN && f != F_SETPIN && pin_leaks++ < 5)
        printf("note: %s returned %s\n", fname[f], known[i].name);
    if (rv == CKR_ARGUMENTS_BAD && failures++ < 10)
        fprintf(stderr, "FAIL: %s returned CKR_ARGUMENTS_BAD for valid arguments\n", fname[f]);
    return rv;
}

#define CALL(f, expr) (in_call = (f), alarm(30), note((f), (expr)))

/* ---- Randomness (xorshift64*, seeded: a run repeats) ----------------------------- */

static unsigned long long rng;

static unsigned below(unsigned n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (unsigned)((rng * 2685821657736338717ULL) >> 33) % n;
}

/* ---- Helpers ---------------------------------------------------------------------- */

static long apdus(void)
{
    return itest_count(count_file);
}

static int printable(const CK_UTF8CHAR *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return 1;
}

/* The slot of READER (its description starts with the reader's name),
 * present or not; 0 when the module does not show it. */
static int reader_slot(CK_SLOT_ID *slot)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = 64, i;
    size_t len = strlen(reader);

    /* The sizing call is the one that looks at the readers again. */
    if (CALL(F_SLOTS, fl->C_GetSlotList(CK_FALSE, NULL, &n)) != CKR_OK || n > 64)
        return 0;
    if (CALL(F_SLOTS, fl->C_GetSlotList(CK_FALSE, ids, &n)) != CKR_OK)
        return 0;
    for (i = 0; i < n; i++) {
        CK_SLOT_INFO si;
        if (fl->C_GetSlotInfo(ids[i], &si) == CKR_OK &&
            memcmp(si.slotDescription, reader, len < 64 ? len : 64) == 0) {
            *slot = ids[i];
            return 1;
        }
    }
    return 0;
}

static void token_info(CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;

    if (CALL(F_TOKEN, fl->C_GetTokenInfo(slot, &ti)) != CKR_OK)
        return;
    if (!printable(ti.label, sizeof ti.label) || !printable(ti.serialNumber, sizeof ti.serialNumber) ||
        !printable(ti.model, sizeof ti.model) || !printable(ti.manufacturerID, sizeof ti.manufacturerID)) {
        if (failures++ < 10)
            fprintf(stderr, "FAIL: C_GetTokenInfo gave text fields with unprintable bytes\n");
    }
}

/* Reads a few attributes the two-call way; returns the class (or -1). */
static CK_OBJECT_CLASS attributes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_KEY_TYPE *type, CK_ULONG *bits)
{
    static const CK_ATTRIBUTE_TYPE types[] = { CKA_ID, CKA_LABEL, CKA_VALUE, CKA_MODULUS, CKA_PUBLIC_EXPONENT,
                                               CKA_GOSTR3410_PARAMS, CKA_SUBJECT };
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    CK_ATTRIBUTE fixed[3] = {
        { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, type, sizeof *type }, { CKA_MODULUS_BITS, bits, sizeof *bits },
    };
    size_t i;

    *type = (CK_KEY_TYPE)-1;
    *bits = 0;
    CALL(F_ATTR, fl->C_GetAttributeValue(s, o, fixed, 3));
    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        CK_ATTRIBUTE a = { types[i], NULL, 0 };
        if (CALL(F_ATTR, fl->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION ||
            a.ulValueLen == 0)
            continue;
        if (a.ulValueLen > 1 << 20) {
            if (failures++ < 10)
                fprintf(stderr, "FAIL: attribute 0x%lx claims %lu bytes\n", (unsigned long)types[i],
                        (unsigned long)a.ulValueLen);
            continue;
        }
        a.pValue = malloc(a.ulValueLen);
        if (a.pValue)
            CALL(F_ATTR, fl->C_GetAttributeValue(s, o, &a, 1));
        free(a.pValue);
    }
    return cls;
}

static void sign_with(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_KEY_TYPE type, CK_ULONG bits)
{
    static const unsigned char data[32] = "fuzzed card, signature input...";
    CK_MECHANISM m = { type == CKK_GOSTR3410 ? (below(2) ? CKM_GOSTR3410 : CKM_GOSTR3410_WITH_GOSTR3411)
                                             : CKM_SHA256_RSA_PKCS, NULL, 0 };
    unsigned char sig[1024];
    CK_ULONG siglen = sizeof sig;

    CK_RV rv = CKR_DEVICE_ERROR;
    int tries;

    /* Again after a transmission error, as an application would. */
    for (tries = 0; tries < 3 && (rv == CKR_DEVICE_ERROR || rv == CKR_FUNCTION_FAILED); tries++) {
        siglen = sizeof sig;
        if (CALL(F_SIGNINIT, fl->C_SignInit(s, &m, key)) != CKR_OK)
            return;
        rv = CALL(F_SIGN, fl->C_Sign(s, (CK_BYTE_PTR)data, sizeof data, sig, &siglen));
    }
    if (rv != CKR_OK)
        return;
    /* Whatever came back from the card, an accepted signature has the
     * key's size: no short or overlong answer is passed on as one. */
    if ((type == CKK_GOSTR3410 && siglen != 64) || (type == CKK_RSA && bits && siglen != bits / 8)) {
        if (failures++ < 10)
            fprintf(stderr, "FAIL: C_Sign returned CKR_OK with a %lu-byte signature (key type 0x%lx, %lu bits)\n",
                    (unsigned long)siglen, (unsigned long)type, (unsigned long)bits);
    }
}

static void generate(CK_SESSION_HANDLE s)
{
    static const unsigned char cp_a[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01 };
    CK_BBOOL yes = CK_TRUE;
    CK_KEY_TYPE kt = CKK_GOSTR3410;
    CK_ULONG bits = 1024;
    CK_ATTRIBUTE gost[] = { { CKA_TOKEN, &yes, sizeof yes }, { CKA_KEY_TYPE, &kt, sizeof kt },
                            { CKA_GOSTR3410_PARAMS, (void *)cp_a, sizeof cp_a } };
    CK_ATTRIBUTE rsa[] = { { CKA_TOKEN, &yes, sizeof yes }, { CKA_MODULUS_BITS, &bits, sizeof bits } };
    CK_MECHANISM m = { CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE pub, priv;

    /* RSA generation is slow on the simulator: now and then only. */
    if (below(8) == 0) {
        m.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        CALL(F_GEN, fl->C_GenerateKeyPair(s, &m, rsa, 2, rsa, 1, &pub, &priv));
    } else {
        CALL(F_GEN, fl->C_GenerateKeyPair(s, &m, gost, 3, gost, 3, &pub, &priv));
    }
}

/* One session's worth of calls on the token. */
static void session_round(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE objs[16];
    CK_ULONG n = 0, i;
    CK_RV rv;
    int wrong = below(5) == 0;
    const char *pin = wrong ? "00000000" : user_pin;

    if (CALL(F_OPEN, fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) != CKR_OK)
        return;
    /* Like an application, try again after a transmission error: more
     * rounds reach the logged-in paths (signing, key generation). */
    for (i = 0; i < 4; i++) {
        rv = CALL(F_LOGIN, fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin)));
        if (rv != CKR_DEVICE_ERROR && rv != CKR_FUNCTION_FAILED)
            break;
    }
    if (rv == CKR_PIN_LOCKED) {
        /* Blocked by the wrong tries (the card counts them all): the SO
         * unblocks it, so the loop keeps reaching the logged-in paths. */
        if (CALL(F_LOGIN_SO, fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, (CK_ULONG)strlen(so_pin))) == CKR_OK) {
            CALL(F_INITPIN, fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, (CK_ULONG)strlen(user_pin)));
            CALL(F_LOGOUT, fl->C_Logout(s));
        }
    }
    for (i = 0; i < 4; i++) {
        rv = CALL(F_FIND, fl->C_FindObjectsInit(s, NULL, 0));
        if (rv == CKR_OK) {
            CALL(F_FIND, fl->C_FindObjects(s, objs, 16, &n));
            CALL(F_FIND, fl->C_FindObjectsFinal(s));
        }
        if (rv != CKR_DEVICE_ERROR && rv != CKR_FUNCTION_FAILED)
            break;
    }
    if (n > 16) {
        if (failures++ < 10)
            fprintf(stderr, "FAIL: C_FindObjects returned %lu handles into room for 16\n", (unsigned long)n);
        n = 0;
    }
    for (i = 0; i < n; i++) {
        CK_KEY_TYPE type;
        CK_ULONG bits;
        CK_OBJECT_CLASS cls = attributes(s, objs[i], &type, &bits);

        if (cls == CKO_PRIVATE_KEY)
            sign_with(s, objs[i], type, bits);
    }
    if (below(4) == 0)
        generate(s);
    /* Keep the card's 64 KiB from filling up with generated keys; now
     * and then one of the provisioned objects goes too. */
    if (n > 8 || (n > 0 && below(40) == 0))
        CALL(F_DESTROY, fl->C_DestroyObject(s, objs[below((unsigned)n)]));
    if (below(8) == 0) /* to the same PIN: the card's PIN stays known */
        CALL(F_SETPIN, fl->C_SetPIN(s, (CK_UTF8CHAR_PTR)user_pin, (CK_ULONG)strlen(user_pin),
                                    (CK_UTF8CHAR_PTR)user_pin, (CK_ULONG)strlen(user_pin)));
    if (below(2))
        CALL(F_LOGOUT, fl->C_Logout(s));
    CALL(F_CLOSE, fl->C_CloseSession(s));
}

/* After the damaged card: an undamaged one in the same reader, the same
 * process, must just work. */
static int clean_card(void)
{
    const char *cmd = getenv("KZ_CLEAN_CMD"), *serial = getenv("KZ_CLEAN_SERIAL");
    char label[64];
    CK_SLOT_ID slot;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE objs[16];
    CK_ULONG n;
    CK_RV rv;
    int i;

    if (!cmd || !serial)
        return 1;
    fflush(stdout);
    if (system(cmd) != 0) {
        fprintf(stderr, "FAIL: '%s' failed\n", cmd);
        return 0;
    }
    snprintf(label, sizeof label, "Kaztoken %s", serial);
    /* The module sees the swap at its next look at the readers. */
    for (i = 0; i < 50; i++) {
        if (reader_slot(&slot) && fl->C_GetTokenInfo(slot, &ti) == CKR_OK &&
            memcmp(ti.label, label, strlen(label)) == 0)
            break;
        usleep(100000);
    }
    if (i == 50) {
        CK_SLOT_ID ids[64];
        CK_ULONG n2 = 64, j;
        CK_RV r2 = fl->C_GetSlotList(CK_FALSE, ids, &n2);

        fprintf(stderr, "FAIL: after the fuzzed card, the module does not show the clean card '%s' "
                        "(C_GetSlotList: %s); its slots:\n", label, itest_rv(r2));
        for (j = 0; r2 == CKR_OK && j < n2; j++) {
            CK_SLOT_INFO si;
            CK_RV r3 = fl->C_GetSlotInfo(ids[j], &si), r4 = fl->C_GetTokenInfo(ids[j], &ti);

            fprintf(stderr, "    slot %lu: %.40s flags 0x%lx (%s), token: %s %.32s\n", (unsigned long)ids[j],
                    r3 == CKR_OK ? (const char *)si.slotDescription : "?", r3 == CKR_OK ? (unsigned long)si.flags : 0UL,
                    itest_rv(r3), itest_rv(r4), r4 == CKR_OK ? (const char *)ti.label : "");
        }
        return 0;
    }
    rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (rv == CKR_OK)
        rv = fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, (CK_ULONG)strlen(user_pin));
    if (rv == CKR_OK)
        rv = fl->C_FindObjectsInit(s, NULL, 0);
    if (rv == CKR_OK)
        rv = fl->C_FindObjects(s, objs, 16, &n);
    if (rv == CKR_OK)
        rv = fl->C_FindObjectsFinal(s);
    if (rv == CKR_OK)
        rv = fl->C_Logout(s);
    if (rv != CKR_OK) {
        fprintf(stderr, "FAIL: on the clean card after the fuzzed one: %s\n", itest_rv(rv));
        return 0;
    }
    fl->C_CloseSession(s);
    printf("then a clean card in the same reader: login, search and logout work in the same process\n");
    return 1;
}

int main(int argc, char **argv)
{
    void *handle;
    long target, c, last_c = 0, stuck = 0;
    unsigned long iter = 0, i;
    int initialized = 0;
    CK_SLOT_ID slot;
    size_t k;

    if (argc != 5) {
        fprintf(stderr, "usage: test_kaztoken_fuzz COUNTFILE TARGET READER SEED\n");
        return 2;
    }
    count_file = argv[1];
    target = atol(argv[2]);
    reader = argv[3];
    rng = strtoull(argv[4], NULL, 10) * 0x9E3779B97F4A7C15ULL + 1;
    if (getenv("KZ_USER_PIN"))
        user_pin = getenv("KZ_USER_PIN");
    if (getenv("KZ_SO_PIN"))
        so_pin = getenv("KZ_SO_PIN");
    signal(SIGALRM, hung);
    setvbuf(stdout, NULL, _IOLBF, 0);
    fl = itest_load(NULL, &handle);
    if (!fl)
        return 1;

    while ((c = apdus()) < target) {
        if (c < 0) {
            fprintf(stderr, "FAIL: cannot read the simulator's count file %s\n", count_file);
            return 1;
        }
        /* The module must keep talking to the card: at least one command
         * every 20 rounds (each round starts with C_GetSlotList). */
        stuck = c > last_c ? 0 : stuck + 1;
        last_c = c;
        if (stuck > 20) {
            fprintf(stderr, "FAIL: 20 rounds without a command reaching the card (%ld so far)\n", c);
            return 1;
        }
        if (!initialized) {
            CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
            if (CALL(F_INIT, fl->C_Initialize(&args)) != CKR_OK) {
                fprintf(stderr, "FAIL: C_Initialize failed\n");
                return 1;
            }
            initialized = 1;
        }
        if (reader_slot(&slot)) {
            CK_ULONG nm = 0;
            token_info(slot);
            CALL(F_MECHS, fl->C_GetMechanismList(slot, NULL, &nm));
            session_round(slot);
        }
        /* A fresh module now and then: binding a damaged card again. */
        if (++iter % 5 == 0) {
            CALL(F_FINAL, fl->C_Finalize(NULL));
            initialized = 0;
        }
        if (failures > 10)
            break;
    }
    printf("seed %s: %lu rounds, %lu PKCS#11 calls, %ld commands received by the card\n", argv[4], iter, calls,
           apdus());
    for (i = 0; i < F_COUNT; i++) {
        printf("  %-20s", fname[i]);
        for (k = 0; k < N_KNOWN; k++)
            if (hist[i][k])
                printf(" %s=%lu", known[k].name + 4, hist[i][k]);
        printf("\n");
    }
    if (!failures && !initialized) {
        CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
        initialized = fl->C_Initialize(&args) == CKR_OK;
    }
    if (!failures && !clean_card())
        failures++;
    if (initialized)
        fl->C_Finalize(NULL);
    if (failures) {
        fprintf(stderr, "FAIL: test_kaztoken_fuzz (%d failures)\n", failures);
        return 1;
    }
    printf("PASS: test_kaztoken_fuzz\n");
    return 0;
}
