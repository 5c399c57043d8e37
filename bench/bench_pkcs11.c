/* bench_pkcs11: a generic PKCS#11 benchmark harness.
 *
 *   bench_pkcs11 sign MODULE [-l LABEL] [-p PIN] [-i HEXID] [-m MECH]
 *                            [-t THREADS] [-d SECONDS] [-s SIGFILE]
 *       Loads MODULE, finds the token whose label is LABEL (compared after
 *       cutting LABEL to 32 bytes; default: the first token present), logs
 *       in as the user once (PIN from -p, else $BENCH_PIN; no login if
 *       neither), and runs THREADS threads for SECONDS seconds. Each thread
 *       opens its own session, finds the private key (first CKO_PRIVATE_KEY,
 *       or the one with CKA_ID = HEXID) and signs with C_SignInit + C_Sign
 *       per signature. The input is a BENCH_MSG_LEN-byte message, except
 *       for mechanisms that sign a digest the caller computed: those get an
 *       input of the digest's length (64 bytes for gostr3410-512).
 *       -s writes the signature of input 0 (made during warm-up). For a
 *       mechanism whose signature length is fixed (the GOST ones), a
 *       C_Sign output of any other length is an error.
 *
 *   bench_pkcs11 load MODULE [-e SLOTS] [-I TOKENS] [-r RUNS] [-T MAXSECONDS]
 *       RUNS times (or until MAXSECONDS, default 30, have passed): dlopen,
 *       C_GetFunctionList, C_Initialize, C_GetSlotList(TRUE), C_GetTokenInfo
 *       on every slot, C_Finalize, dlclose; prints the first (cold) run, min,
 *       median and max wall time and a per-phase breakdown. Exits 3 if a run
 *       finds a number of slots with a token other than SLOTS, or a number
 *       of initialized tokens (CKF_TOKEN_INITIALIZED) other than TOKENS.
 *
 * Every mode ends with one "RESULT key=value ..." line for scripts.
 * Exit status: 0 ok, 1 a PKCS#11 call or the run failed, 2 usage, 3 wrong
 * slot count. */
#include <dlfcn.h>
#include <stdint.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "bench_common.h"

#define MAX_THREADS 64
#define MAX_ID_LEN 128
#define MAX_SIG_LEN 2048

/* GOST R 34.10-2012 mechanisms (TC26 vendor-defined values; older p11-kit
 * headers do not name them). */
#define BENCH_CKM_GOSTR3410_512 0xD4321006UL
#define BENCH_CKM_GOSTR3410_WITH_GOSTR3411_12_512 0xD4321009UL

/* ------------------------------------------------------------------------ */
/* Diagnostics */

static const char *rv_name(CK_RV rv)
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
        { CKR_OK, "CKR_OK" },
        { CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
        { CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
        { CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
        { CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
        { CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
        { CKR_CANT_LOCK, "CKR_CANT_LOCK" },
        { CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
        { CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE" },
        { CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
        { CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED" },
        { CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
        { CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
        { CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
        { CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
        { CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
        { CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
        { CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE" },
        { CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED" },
        { CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
        { CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
        { CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
        { CKR_SESSION_COUNT, "CKR_SESSION_COUNT" },
        { CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
        { CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKR_SESSION_PARALLEL_NOT_SUPPORTED" },
        { CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE" },
        { CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
        { CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
        { CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
        { CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
        { CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
        { CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
        { CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID" },
        { CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
        { CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
        { CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].rv == rv)
            return names[i].name;
    return "unknown CKR";
}

static int ck_fail(const char *what, CK_RV rv)
{
    fprintf(stderr, "bench_pkcs11: %s failed: %s (0x%lx)\n", what, rv_name(rv),
            (unsigned long)rv);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Module loading */

typedef struct module {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
} module;

/* dlopen + C_GetFunctionList. Returns 0 or 1 (message printed). */
static int module_open(const char *path, module *m)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    void *sym;
    CK_RV rv;

    m->f = NULL;
    m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (m->dl == NULL) {
        fprintf(stderr, "bench_pkcs11: cannot load %s: %s\n", path, dlerror());
        return 1;
    }
    sym = dlsym(m->dl, "C_GetFunctionList");
    if (sym == NULL) {
        fprintf(stderr, "bench_pkcs11: %s has no C_GetFunctionList\n", path);
        dlclose(m->dl);
        m->dl = NULL;
        return 1;
    }
    /* Object pointer to function pointer without a cast ISO C frowns on. */
    memcpy(&get_list, &sym, sizeof(get_list));
    rv = get_list(&m->f);
    if (rv != CKR_OK || m->f == NULL) {
        dlclose(m->dl);
        m->dl = NULL;
        return ck_fail("C_GetFunctionList", rv);
    }
    return 0;
}

static CK_RV module_initialize(module *m)
{
    CK_C_INITIALIZE_ARGS args;

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    return m->f->C_Initialize(&args);
}

static void module_close(module *m)
{
    if (m->dl != NULL)
        dlclose(m->dl);
    m->dl = NULL;
    m->f = NULL;
}

/* Token label without its blank padding, NUL-terminated. */
static void label_text(const unsigned char label[32], char out[33])
{
    size_t n = 32;

    memcpy(out, label, 32);
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
        n--;
    out[n] = '\0';
}

/* ------------------------------------------------------------------------ */
/* sign mode */

typedef struct sign_cfg {
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
    CK_MECHANISM_TYPE mech;
    size_t in_len;          /* bytes signed per call */
    CK_ULONG sig_len;       /* the signature length the mechanism gives, 0 = any */
    int deterministic;      /* same input, same key: same signature */
    unsigned char id[MAX_ID_LEN];
    size_t id_len;
    int have_id;
    bench_gate gate;
} sign_cfg;

typedef struct worker {
    sign_cfg *cfg;
    pthread_t thread;
    unsigned long count;
    double end;
    CK_RV rv;
    const char *where;
    unsigned char sig0[MAX_SIG_LEN];
    CK_ULONG sig0_len;
} worker;

static CK_RV find_private_key(const sign_cfg *cfg, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *key,
                              const char **where)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[2] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_ID, (void *)cfg->id, (CK_ULONG)cfg->id_len },
    };
    CK_ULONG n = 0;
    CK_RV rv, rv2;

    *where = "C_FindObjectsInit";
    rv = cfg->f->C_FindObjectsInit(s, tmpl, cfg->have_id ? 2 : 1);
    if (rv != CKR_OK)
        return rv;
    *where = "C_FindObjects";
    rv = cfg->f->C_FindObjects(s, key, 1, &n);
    rv2 = cfg->f->C_FindObjectsFinal(s);
    if (rv != CKR_OK)
        return rv;
    *where = "C_FindObjectsFinal";
    if (rv2 != CKR_OK)
        return rv2;
    if (n != 1) {
        *where = "no private key matches the search";
        return CKR_GENERAL_ERROR;
    }
    return CKR_OK;
}

/* One signature over message `counter`; *len is the buffer size in, the
 * signature length out. */
static CK_RV sign_one(const sign_cfg *cfg, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                      unsigned long counter, unsigned char *sig, CK_ULONG *len,
                      const char **where)
{
    CK_MECHANISM mech = { cfg->mech, NULL, 0 };
    unsigned char msg[BENCH_MAX_INPUT_LEN];
    CK_RV rv;

    bench_input(counter, msg, cfg->in_len);
    rv = cfg->f->C_SignInit(s, &mech, key);
    if (rv != CKR_OK) {
        *where = "C_SignInit";
        return rv;
    }
    rv = cfg->f->C_Sign(s, msg, (CK_ULONG)cfg->in_len, sig, len);
    if (rv != CKR_OK)
        *where = "C_Sign";
    return rv;
}

/* The worker's `where` when the warm-up signature has the wrong length. */
#define WRONG_SIG_LEN "wrong signature length"

static void *sign_worker(void *arg)
{
    worker *w = arg;
    const sign_cfg *cfg = w->cfg;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_MECHANISM mech = { cfg->mech, NULL, 0 };
    unsigned char msg[BENCH_MAX_INPUT_LEN];
    unsigned char sig[MAX_SIG_LEN];
    CK_ULONG len = 0;
    unsigned long counter = 1;
    double deadline;
    int ok = 0;

    w->rv = cfg->f->C_OpenSession(cfg->slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (w->rv != CKR_OK) {
        w->where = "C_OpenSession";
        goto arrive;
    }
    w->rv = find_private_key(cfg, s, &key, &w->where);
    if (w->rv != CKR_OK)
        goto arrive;

    /* Warm-up, and the reference signature: input 0, with a size query
     * first (which must not end the operation). */
    bench_input(0, msg, cfg->in_len);
    w->rv = cfg->f->C_SignInit(s, &mech, key);
    if (w->rv != CKR_OK) {
        w->where = "C_SignInit (warm-up)";
        goto arrive;
    }
    w->rv = cfg->f->C_Sign(s, msg, (CK_ULONG)cfg->in_len, NULL, &len);
    if (w->rv != CKR_OK) {
        w->where = "C_Sign (size query)";
        goto arrive;
    }
    if (len == 0 || len > sizeof(w->sig0)) {
        w->rv = CKR_GENERAL_ERROR;
        w->where = "C_Sign (size query returned an implausible length)";
        goto arrive;
    }
    w->rv = cfg->f->C_Sign(s, msg, (CK_ULONG)cfg->in_len, w->sig0, &len);
    if (w->rv != CKR_OK) {
        w->where = "C_Sign (warm-up)";
        goto arrive;
    }
    w->sig0_len = len;
    if (cfg->sig_len != 0 && len != cfg->sig_len) {
        w->rv = CKR_GENERAL_ERROR;
        w->where = WRONG_SIG_LEN;
        goto arrive;
    }
    ok = 1;

arrive:
    deadline = bench_gate_arrive(&w->cfg->gate, ok);
    if (deadline < 0.0)
        goto out;

    do {
        len = sizeof(sig);
        w->rv = sign_one(cfg, s, key, counter++, sig, &len, &w->where);
        if (w->rv != CKR_OK)
            break;
        w->count++;
    } while (bench_now() < deadline);
    w->end = bench_now();

out:
    if (s != CK_INVALID_HANDLE)
        cfg->f->C_CloseSession(s);
    return NULL;
}

static int parse_hex(const char *hex, unsigned char *out, size_t max, size_t *len)
{
    size_t n = strlen(hex), i;

    if (n % 2 != 0 || n / 2 > max)
        return -1;
    for (i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        if (!((hex[2 * i] >= '0' && hex[2 * i] <= '9') ||
              (hex[2 * i] >= 'a' && hex[2 * i] <= 'f') ||
              (hex[2 * i] >= 'A' && hex[2 * i] <= 'F')))
            return -1;
        out[i] = (unsigned char)v;
    }
    *len = n / 2;
    return 0;
}

/* The mechanisms -m names, with what they sign and give. A number picks
 * the entry with that value, if any; other numbers sign BENCH_MSG_LEN-byte
 * messages and are not assumed deterministic. */
static const struct mech_info {
    const char *name;
    CK_MECHANISM_TYPE mech;
    size_t in_len;
    CK_ULONG sig_len;
    int deterministic;
} mechs[] = {
    { "sha1-rsa-pkcs", CKM_SHA1_RSA_PKCS, BENCH_MSG_LEN, 0, 1 },
    { "sha256-rsa-pkcs", CKM_SHA256_RSA_PKCS, BENCH_MSG_LEN, 0, 1 },
    { "sha384-rsa-pkcs", CKM_SHA384_RSA_PKCS, BENCH_MSG_LEN, 0, 1 },
    { "sha512-rsa-pkcs", CKM_SHA512_RSA_PKCS, BENCH_MSG_LEN, 0, 1 },
    /* GOST R 34.10-2012 512-bit: a random nonce per signature; the raw
     * mechanism signs a 64-byte digest, the other hashes the message with
     * Streebog-512 itself. Signatures are s || r, 2 x 64 bytes. */
    { "gostr3410-512", BENCH_CKM_GOSTR3410_512, 64, 128, 0 },
    { "gostr3410-with-gostr3411-12-512", BENCH_CKM_GOSTR3410_WITH_GOSTR3411_12_512,
      BENCH_MSG_LEN, 128, 0 },
};

static int parse_mech(const char *s, sign_cfg *cfg)
{
    size_t i;
    char *end = NULL;
    unsigned long v;

    for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
        if (strcmp(s, mechs[i].name) == 0)
            break;
    if (i == sizeof(mechs) / sizeof(mechs[0])) {
        errno = 0;
        v = strtoul(s, &end, 0);
        if (errno != 0 || end == s || *end != '\0')
            return -1;
        for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
            if (mechs[i].mech == (CK_MECHANISM_TYPE)v)
                break;
        if (i == sizeof(mechs) / sizeof(mechs[0])) {
            cfg->mech = (CK_MECHANISM_TYPE)v;
            cfg->in_len = BENCH_MSG_LEN;
            cfg->sig_len = 0;
            cfg->deterministic = 0;
            return 0;
        }
    }
    cfg->mech = mechs[i].mech;
    cfg->in_len = mechs[i].in_len;
    cfg->sig_len = mechs[i].sig_len;
    cfg->deterministic = mechs[i].deterministic;
    return 0;
}

/* Finds the slot whose token label equals `want` (cut to 32 bytes), or the
 * first slot with a token if want is NULL. */
static int find_slot(CK_FUNCTION_LIST_PTR f, const char *want, CK_SLOT_ID *slot, char label[33])
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0, i;
    CK_TOKEN_INFO ti;
    char wanted[33];
    CK_RV rv;
    int found = 0;

    wanted[0] = '\0';
    label[0] = '\0';
    if (want != NULL)
        snprintf(wanted, sizeof(wanted), "%.32s", want);
    rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK)
        return ck_fail("C_GetSlotList", rv);
    if (n == 0) {
        fprintf(stderr, "bench_pkcs11: the module shows no token\n");
        return 1;
    }
    slots = calloc(n, sizeof(*slots));
    if (slots == NULL)
        return ck_fail("calloc", CKR_HOST_MEMORY);
    rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        free(slots);
        return ck_fail("C_GetSlotList", rv);
    }
    for (i = 0; i < n && !found; i++) {
        rv = f->C_GetTokenInfo(slots[i], &ti);
        if (rv != CKR_OK) {
            free(slots);
            return ck_fail("C_GetTokenInfo", rv);
        }
        label_text(ti.label, label);
        if (want == NULL || strcmp(label, wanted) == 0) {
            *slot = slots[i];
            found = 1;
        }
    }
    if (!found) {
        fprintf(stderr, "bench_pkcs11: no token labelled '%s'; tokens present:\n", wanted);
        for (i = 0; i < n && i < 20; i++) {
            if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK) {
                label_text(ti.label, label);
                fprintf(stderr, "  slot %lu: '%s'\n", (unsigned long)slots[i], label);
            }
        }
        if (n > 20)
            fprintf(stderr, "  ... and %lu more\n", (unsigned long)(n - 20));
    }
    free(slots);
    return found ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_pkcs11 sign MODULE [-l LABEL] [-p PIN] [-i HEXID] [-m MECH]\n"
            "                           [-t THREADS] [-d SECONDS] [-s SIGFILE]\n"
            "       bench_pkcs11 load MODULE [-e SLOTS] [-I TOKENS] [-r RUNS] [-T MAXSECONDS]\n"
            "PIN defaults to $BENCH_PIN; MECH is sha256-rsa-pkcs (default),\n"
            "sha1-/sha384-/sha512-rsa-pkcs, gostr3410-512 (signs 64-byte digests),\n"
            "gostr3410-with-gostr3411-12-512 or a number.\n");
}

static int run_sign(const char *path, int argc, char **argv)
{
    const char *label = NULL, *pin = getenv("BENCH_PIN"), *sigfile = NULL;
    sign_cfg cfg;
    worker *w = NULL;
    module m = { NULL, NULL };
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_MECHANISM_INFO mi;
    CK_RV rv;
    char token_label[33];
    long threads = 1;
    double seconds = 3.0, end = 0.0, elapsed;
    bench_usage use;
    unsigned long total = 0;
    long i, started = 0;
    int opt, ret = 1, failed;

    memset(&cfg, 0, sizeof(cfg));
    if (parse_mech("sha256-rsa-pkcs", &cfg) != 0)
        return 2;
    while ((opt = getopt(argc, argv, "l:p:i:m:t:d:s:")) != -1) {
        switch (opt) {
        case 'l': label = optarg; break;
        case 'p': pin = optarg; break;
        case 'i':
            if (parse_hex(optarg, cfg.id, sizeof(cfg.id), &cfg.id_len) != 0) {
                fprintf(stderr, "bench_pkcs11: -i wants an even number of hex digits\n");
                return 2;
            }
            cfg.have_id = 1;
            break;
        case 'm':
            if (parse_mech(optarg, &cfg) != 0) {
                fprintf(stderr, "bench_pkcs11: unknown mechanism '%s'\n", optarg);
                return 2;
            }
            break;
        case 't': threads = bench_parse_long("-t", optarg, 1, MAX_THREADS); break;
        case 'd': seconds = bench_parse_double("-d", optarg, 0.01, 3600.0); break;
        case 's': sigfile = optarg; break;
        default: usage(); return 2;
        }
    }
    if (optind != argc) {
        usage();
        return 2;
    }

    if (module_open(path, &m) != 0)
        return 1;
    cfg.f = m.f;
    rv = module_initialize(&m);
    if (rv != CKR_OK) {
        ck_fail("C_Initialize", rv);
        module_close(&m);
        return 1;
    }
    if (find_slot(m.f, label, &cfg.slot, token_label) != 0)
        goto finalize;

    rv = m.f->C_GetMechanismInfo(cfg.slot, cfg.mech, &mi);
    if (rv != CKR_OK) {
        fprintf(stderr, "bench_pkcs11: mechanism 0x%lx not available on token '%s'\n",
                (unsigned long)cfg.mech, token_label);
        ck_fail("C_GetMechanismInfo", rv);
        goto finalize;
    }
    if (!(mi.flags & CKF_SIGN)) {
        fprintf(stderr, "bench_pkcs11: mechanism 0x%lx cannot sign on token '%s'\n",
                (unsigned long)cfg.mech, token_label);
        goto finalize;
    }

    /* The login session stays open for the whole run: the login state is
     * the token's, shared by the workers' sessions. */
    rv = m.f->C_OpenSession(cfg.slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK) {
        ck_fail("C_OpenSession", rv);
        goto finalize;
    }
    if (pin != NULL) {
        rv = m.f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            ck_fail("C_Login", rv);
            goto close;
        }
    }

    w = calloc((size_t)threads, sizeof(*w));
    if (w == NULL) {
        ck_fail("calloc", CKR_HOST_MEMORY);
        goto logout;
    }
    for (i = 0; i < threads; i++)
        w[i].cfg = &cfg;
    failed = bench_run_workers(&cfg.gate, threads, seconds, sign_worker, w, sizeof(*w),
                               (size_t)((char *)&w[0].thread - (char *)&w[0]), "bench_pkcs11", &started, &use);

    for (i = 0; i < started; i++) {
        if (w[i].rv != CKR_OK) {
            if (strcmp(w[i].where, WRONG_SIG_LEN) == 0) {
                fprintf(stderr,
                        "bench_pkcs11: thread %ld: C_Sign gave a %lu-byte signature, mechanism "
                        "0x%lx gives %lu bytes\n",
                        i, (unsigned long)w[i].sig0_len, (unsigned long)cfg.mech,
                        (unsigned long)cfg.sig_len);
            } else if (strncmp(w[i].where, "no ", 3) == 0) {
                fprintf(stderr, "bench_pkcs11: thread %ld: %s\n", i, w[i].where);
            } else {
                fprintf(stderr, "bench_pkcs11: thread %ld: ", i);
                ck_fail(w[i].where, w[i].rv);
            }
            failed++;
        }
    }
    if (failed || started != threads)
        goto free_workers;

    for (i = 0; i < threads; i++) {
        total += w[i].count;
        if (w[i].end > end)
            end = w[i].end;
        /* Randomized signatures (GOST) differ every time: only their
         * length can be compared. */
        if (w[i].sig0_len != w[0].sig0_len ||
            (cfg.deterministic && memcmp(w[i].sig0, w[0].sig0, w[0].sig0_len) != 0)) {
            fprintf(stderr, "bench_pkcs11: thread %ld made a different signature of input 0\n",
                    i);
            goto free_workers;
        }
    }
    elapsed = end - cfg.gate.start;
    if (sigfile != NULL && bench_write_file(sigfile, w[0].sig0, w[0].sig0_len) != 0)
        goto free_workers;

    printf("sign: token '%s', mechanism 0x%lx, %lu-byte input, %ld thread(s), %.2f s: "
           "%lu signatures, %.1f sig/s, %.3f ms CPU per signature (per thread:",
           token_label, (unsigned long)cfg.mech, (unsigned long)cfg.in_len, threads, elapsed, total,
           (double)total / elapsed, total ? use.cpu * 1000.0 / (double)total : 0.0);
    for (i = 0; i < threads; i++)
        printf(" %lu", w[i].count);
    printf("), context switches: %ld voluntary, %ld involuntary\n", use.vcs,
           use.ivcs);
    printf("RESULT mode=sign threads=%ld count=%lu elapsed=%.4f rate=%.2f cpu_ms_per_sig=%.4f "
           "sig_len=%lu in_len=%lu vcsw=%ld ivcsw=%ld\n",
           threads, total, elapsed, (double)total / elapsed,
           total ? use.cpu * 1000.0 / (double)total : 0.0, (unsigned long)w[0].sig0_len,
           (unsigned long)cfg.in_len, use.vcs, use.ivcs);
    ret = 0;

free_workers:
    free(w);
logout:
    if (pin != NULL)
        m.f->C_Logout(s);
close:
    m.f->C_CloseSession(s);
finalize:
    m.f->C_Finalize(NULL);
    module_close(&m);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* load mode */

enum { PH_DLOPEN, PH_INIT, PH_SLOTS, PH_INFO, PH_FINI, PH_TOTAL, PH_N };
static const char *const phase_names[PH_N] = {
    "dlopen+C_GetFunctionList", "C_Initialize", "C_GetSlotList", "C_GetTokenInfo*n",
    "C_Finalize+dlclose", "total",
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y ? 1 : 0;
}

static int cmp_label(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static double median_of(double *v, long n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* What one load cycle saw. */
typedef struct load_seen {
    CK_ULONG slots;                 /* slots with a token */
    CK_ULONG initialized;           /* of which CKF_TOKEN_INITIALIZED */
    unsigned char (*labels)[32];    /* labels of the initialized tokens, if asked */
} load_seen;

/* One load cycle. Fills t[PH_*] in ms and *seen; with want_labels, also
 * seen->labels (malloc'ed, the caller frees it). */
static int load_once(const char *path, double t[PH_N], load_seen *seen, int want_labels)
{
    module m;
    CK_SLOT_ID *slots = NULL;
    CK_TOKEN_INFO ti;
    CK_ULONG n = 0, i, ninit = 0;
    CK_RV rv;
    double t0, t1, t2, t3, t4, t5;

    seen->labels = NULL;
    t0 = bench_now();
    if (module_open(path, &m) != 0)
        return 1;
    t1 = bench_now();
    rv = module_initialize(&m);
    if (rv != CKR_OK) {
        module_close(&m);
        return ck_fail("C_Initialize", rv);
    }
    t2 = bench_now();
    rv = m.f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK) {
        ck_fail("C_GetSlotList (count)", rv);
        goto fail;
    }
    slots = calloc(n ? n : 1, sizeof(*slots));
    if (slots == NULL) {
        ck_fail("calloc", CKR_HOST_MEMORY);
        goto fail;
    }
    rv = m.f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        ck_fail("C_GetSlotList", rv);
        goto fail;
    }
    t3 = bench_now();
    if (want_labels) {
        seen->labels = calloc(n ? n : 1, 32);
        if (seen->labels == NULL) {
            ck_fail("calloc", CKR_HOST_MEMORY);
            goto fail;
        }
    }
    for (i = 0; i < n; i++) {
        rv = m.f->C_GetTokenInfo(slots[i], &ti);
        if (rv != CKR_OK) {
            fprintf(stderr, "bench_pkcs11: slot %lu: ", (unsigned long)slots[i]);
            ck_fail("C_GetTokenInfo", rv);
            goto fail;
        }
        if (ti.flags & CKF_TOKEN_INITIALIZED) {
            if (seen->labels != NULL)
                memcpy(seen->labels[ninit], ti.label, 32);
            ninit++;
        }
    }
    t4 = bench_now();
    free(slots);
    rv = m.f->C_Finalize(NULL);
    module_close(&m);
    t5 = bench_now();
    if (rv != CKR_OK) {
        free(seen->labels);
        seen->labels = NULL;
        return ck_fail("C_Finalize", rv);
    }

    t[PH_DLOPEN] = (t1 - t0) * 1000.0;
    t[PH_INIT] = (t2 - t1) * 1000.0;
    t[PH_SLOTS] = (t3 - t2) * 1000.0;
    t[PH_INFO] = (t4 - t3) * 1000.0;
    t[PH_FINI] = (t5 - t4) * 1000.0;
    t[PH_TOTAL] = (t5 - t0) * 1000.0;
    seen->slots = n;
    seen->initialized = ninit;
    return 0;

fail:
    free(slots);
    free(seen->labels);
    seen->labels = NULL;
    m.f->C_Finalize(NULL);
    module_close(&m);
    return 1;
}

/* Checks a run's counts against -e / -I; prints why not and returns 3. */
static int check_counts(long run, const load_seen *s, long expect, long expect_init)
{
    if (expect >= 0 && s->slots != (CK_ULONG)expect) {
        fprintf(stderr,
                "bench_pkcs11: FAIL: run %ld: C_GetSlotList(TRUE) returned %lu slots with a "
                "token (%lu initialized), expected %ld\n",
                run, (unsigned long)s->slots, (unsigned long)s->initialized, expect);
        return 3;
    }
    if (expect_init >= 0 && s->initialized != (CK_ULONG)expect_init) {
        fprintf(stderr,
                "bench_pkcs11: FAIL: run %ld: %lu initialized tokens (of %lu slots with a "
                "token), expected %ld\n",
                run, (unsigned long)s->initialized, (unsigned long)s->slots, expect_init);
        return 3;
    }
    return 0;
}

static int run_load(const char *path, int argc, char **argv)
{
    long runs = 20, expect = -1, expect_init = -1, r, done = 0, dups = 0;
    double max_seconds = 30.0, first[PH_N], started, mn;
    double *t[PH_N];
    load_seen seen, first_seen;
    CK_ULONG i;
    int opt, ret = 1, resident = 0, p;
    void *h;

    while ((opt = getopt(argc, argv, "e:I:r:T:")) != -1) {
        switch (opt) {
        case 'e': expect = bench_parse_long("-e", optarg, 0, 1000000); break;
        case 'I': expect_init = bench_parse_long("-I", optarg, 0, 1000000); break;
        case 'r': runs = bench_parse_long("-r", optarg, 1, 100000); break;
        case 'T': max_seconds = bench_parse_double("-T", optarg, 0.0, 86400.0); break;
        default: usage(); return 2;
        }
    }
    if (optind != argc) {
        usage();
        return 2;
    }
    if (expect < 0 && expect_init < 0)
        fprintf(stderr, "bench_pkcs11: warning: neither -e nor -I: token counts not checked\n");

    for (p = 0; p < PH_N; p++) {
        t[p] = calloc((size_t)runs, sizeof(double));
        if (t[p] == NULL) {
            fprintf(stderr, "bench_pkcs11: out of memory\n");
            while (p-- > 0)
                free(t[p]);
            return 1;
        }
    }
    memset(&first_seen, 0, sizeof(first_seen));

    started = bench_now();
    for (r = 0; r < runs; r++) {
        double one[PH_N];

        if (load_once(path, one, &seen, r == 0) != 0) {
            fprintf(stderr, "bench_pkcs11: load run %ld failed\n", r + 1);
            goto out;
        }
        ret = check_counts(r + 1, &seen, expect, expect_init);
        if (ret != 0) {
            free(seen.labels);
            goto out;
        }
        ret = 1;
        if (r == 0) {
            memcpy(first, one, sizeof(first));
            first_seen = seen;
            /* Does dlclose really unload it? If not, later runs skip the
             * ELF loading and relocation the first one paid for. */
            h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
            if (h != NULL) {
                resident = 1;
                dlclose(h);
            }
        } else if (seen.slots != first_seen.slots || seen.initialized != first_seen.initialized) {
            fprintf(stderr,
                    "bench_pkcs11: FAIL: the token count changed between runs (%lu/%lu, then "
                    "%lu/%lu)\n",
                    (unsigned long)first_seen.slots, (unsigned long)first_seen.initialized,
                    (unsigned long)seen.slots, (unsigned long)seen.initialized);
            ret = 3;
            goto out;
        }
        for (p = 0; p < PH_N; p++)
            t[p][r] = one[p];
        done++;
        if (bench_now() - started > max_seconds && r + 1 < runs) {
            fprintf(stderr, "bench_pkcs11: stopping after %ld of %ld runs (-T %.0f s reached)\n",
                    done, runs, max_seconds);
            break;
        }
    }

    /* Every initialized token should have its own label. */
    if (first_seen.labels != NULL && first_seen.initialized > 1) {
        qsort(first_seen.labels, first_seen.initialized, 32, cmp_label);
        for (i = 1; i < first_seen.initialized; i++)
            if (memcmp(first_seen.labels[i], first_seen.labels[i - 1], 32) == 0)
                dups++;
        if (dups)
            fprintf(stderr, "bench_pkcs11: warning: %ld token label(s) are duplicates\n", dups);
    }

    printf("load: %s\n", path);
    printf("load: %lu slots with a token (%lu initialized), %ld runs, module %s after dlclose\n",
           (unsigned long)first_seen.slots, (unsigned long)first_seen.initialized, done,
           resident ? "STAYS MAPPED" : "unloaded");
    printf("load: %-26s %10s %10s %10s %10s\n", "phase (ms)", "first", "min", "median", "max");
    for (p = 0; p < PH_N; p++) {
        double med;

        /* min and max from the sorted copy median_of leaves behind. */
        med = median_of(t[p], done);
        printf("load: %-26s %10.3f %10.3f %10.3f %10.3f\n", phase_names[p], first[p], t[p][0], med,
               t[p][done - 1]);
    }
    /* t[PH_TOTAL] is sorted now. */
    mn = t[PH_TOTAL][0];
    printf("RESULT mode=load slots=%lu initialized=%lu runs=%ld first_ms=%.3f min_ms=%.3f "
           "median_ms=%.3f max_ms=%.3f first_init_ms=%.3f median_init_ms=%.3f resident=%d "
           "dup_labels=%ld\n",
           (unsigned long)first_seen.slots, (unsigned long)first_seen.initialized, done,
           first[PH_TOTAL], mn, median_of(t[PH_TOTAL], done), t[PH_TOTAL][done - 1],
           first[PH_INIT], median_of(t[PH_INIT], done), resident, dups);
    ret = 0;

out:
    free(first_seen.labels);
    for (p = 0; p < PH_N; p++)
        free(t[p]);
    return ret;
}

int main(int argc, char **argv)
{
    const char *mode, *path;

    if (argc < 3) {
        usage();
        return 2;
    }
    mode = argv[1];
    path = argv[2];
    /* getopt sees MODULE as argv[0] and the options after it. */
    optind = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(mode, "sign") == 0)
        return run_sign(path, argc - 2, argv + 2);
    if (strcmp(mode, "load") == 0)
        return run_load(path, argc - 2, argv + 2);
    usage();
    return 2;
}
