/* Reader slots against a real pcscd: the card bench (tests/cards/bench)
 * runs a private pcscd with a virtual reader and card; this program loads
 * the built module with dlopen() like any consumer and drives the bench
 * through commands readers.sh passes in the environment:
 *
 *   KZ_BENCH_READER                         the PC/SC name of the reader used
 *   KZ_BENCH_INSERT, KZ_BENCH_REMOVE        card in / out of that reader
 *   KZ_BENCH_PCSCD_STOP, KZ_BENCH_PCSCD_START   pcscd gone / back on the same
 *                                           socket, the card in the reader
 *   KZ_BENCH_ADD_READER                     more readers appear (on this bench
 *                                           through a pcscd restart that keeps
 *                                           the card in the reader)
 *   KZ_BENCH_TOKEN = absent | present       does a driver recognise the card?
 *
 * It checks: C_Initialize does no PC/SC at all (and is fast without
 * pcscd); the reader's slot (CKF_HW_SLOT) appears; a card inserted after
 * C_Initialize is seen; C_WaitForSlotEvent reports insertion and removal
 * both blocking (in a thread) and with CKF_DONT_BLOCK; C_Finalize wakes
 * blocked waiters at once; a reader plugged in later gets a new slot while
 * the old IDs stay; with pcscd stopped and restarted the soft tokens keep
 * signing and the reader comes back in its old slot.
 *
 * Exit 0 and "PASS: test_readers" on success; "FAIL: ..." and 1 otherwise.
 * readers.sh runs it under a timeout, so a hang is a failure too. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <PCSC/winscard.h>

#include "itest_p11.h"

/* Generous for sanitizer builds; the real figures are in the output. */
#define FAST_MS 1000
#define EVENT_MS 2000
#define WAKE_MS 1000

static CK_FUNCTION_LIST_PTR fl;
static int expect_token;
static int failures;

/* ---- Counting the module's PC/SC contexts ------------------------------------ */

/* This program exports SCardEstablishContext (linked with -export-dynamic),
 * so the module's calls to it land here before libpcsclite's: the count
 * proves when the module first talks to pcscd. The real one is found in
 * the library the module loaded. */
static int establish_calls;

__attribute__((visibility("default")))
LONG SCardEstablishContext(DWORD scope, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT ctx)
{
    static LONG (*real)(DWORD, LPCVOID, LPCVOID, LPSCARDCONTEXT);

    if (!real) {
        void *lib = dlopen("libpcsclite.so.1", RTLD_NOW | RTLD_LOCAL);
        if (lib)
            *(void **)&real = dlsym(lib, "SCardEstablishContext");
    }
    __atomic_add_fetch(&establish_calls, 1, __ATOMIC_SEQ_CST);
    return real ? real(scope, r1, r2, ctx) : SCARD_E_NO_SERVICE;
}

/* ---- Helpers ------------------------------------------------------------------ */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL: " __VA_ARGS__); \
    fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__); failures++; return 0; } } while (0)
#define CHECK_RV(what, rv, want) do { if (!itest_check(what, rv, want)) { failures++; return 0; } } while (0)

static int bench(const char *var)
{
    const char *cmd = getenv(var);
    int st;

    if (!cmd || !*cmd) {
        fprintf(stderr, "FAIL: %s is not set (run through readers.sh)\n", var);
        failures++;
        return 0;
    }
    fflush(stdout);
    st = system(cmd);
    if (st != 0) {
        fprintf(stderr, "FAIL: bench command '%s' exited with status %d\n", cmd, st);
        failures++;
        return 0;
    }
    return 1;
}

static CK_RV list_slots(CK_BBOOL present, CK_SLOT_ID *ids, CK_ULONG *n)
{
    CK_ULONG cap = *n;
    CK_RV rv = fl->C_GetSlotList(present, NULL, n);     /* rescans */

    if (rv != CKR_OK)
        return rv;
    if (*n > cap)
        return CKR_BUFFER_TOO_SMALL;
    return fl->C_GetSlotList(present, ids, n);
}

static int in_list(CK_SLOT_ID id, const CK_SLOT_ID *ids, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* The reader slots (CKF_HW_SLOT), in slot-list order. */
static int reader_slots(CK_SLOT_ID *out, CK_ULONG *nout)
{
    CK_SLOT_ID ids[128];
    CK_ULONG n = 128;
    CK_RV rv = list_slots(CK_FALSE, ids, &n);

    *nout = 0;
    CHECK_RV("C_GetSlotList", rv, CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_SLOT_INFO si;
        CHECK_RV("C_GetSlotInfo", fl->C_GetSlotInfo(ids[i], &si), CKR_OK);
        if (si.flags & CKF_HW_SLOT)
            out[(*nout)++] = ids[i];
    }
    return 1;
}

static CK_FLAGS slot_flags(CK_SLOT_ID id)
{
    CK_SLOT_INFO si;

    if (fl->C_GetSlotInfo(id, &si) != CKR_OK)
        return (CK_FLAGS)-1;
    return si.flags;
}

static void describe(CK_SLOT_ID id, char *out)
{
    CK_SLOT_INFO si;
    int n = 64;

    out[0] = '\0';
    if (fl->C_GetSlotInfo(id, &si) != CKR_OK)
        return;
    while (n > 0 && si.slotDescription[n - 1] == ' ')
        n--;
    memcpy(out, si.slotDescription, (size_t)n);
    out[n] = '\0';
}

static void drain_events(void)
{
    CK_SLOT_ID s;

    for (int i = 0; i < 256 && fl->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL) == CKR_OK; i++)
        ;
}

/* Polls with CKF_DONT_BLOCK until the slot reports an event. */
static int event_without_blocking(CK_SLOT_ID want, const char *what)
{
    long t0 = now_ms();
    CK_SLOT_ID s;
    CK_RV rv;

    for (;;) {
        rv = fl->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL);
        if (rv == CKR_OK && s == want)
            break;
        CHECK(rv == CKR_OK || rv == CKR_NO_EVENT, "%s: C_WaitForSlotEvent(DONT_BLOCK): %s", what, itest_rv(rv));
        CHECK(now_ms() - t0 < EVENT_MS + 3000, "%s: no event for slot %lu with CKF_DONT_BLOCK", what,
              (unsigned long)want);
        sleep_ms(50);
    }
    printf("%s: event on slot %lu (CKF_DONT_BLOCK) after %ld ms\n", what, (unsigned long)want, now_ms() - t0);
    return 1;
}

static int token_state(CK_SLOT_ID id, int card_in, const char *what)
{
    CK_FLAGS fs = slot_flags(id);
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    int want = card_in && expect_token;

    CHECK(fs != (CK_FLAGS)-1, "%s: C_GetSlotInfo failed", what);
    CHECK((fs & (CKF_HW_SLOT | CKF_REMOVABLE_DEVICE)) == (CKF_HW_SLOT | CKF_REMOVABLE_DEVICE),
          "%s: reader slot flags 0x%lx lack CKF_HW_SLOT|CKF_REMOVABLE_DEVICE", what, (unsigned long)fs);
    CHECK(!!(fs & CKF_TOKEN_PRESENT) == want, "%s: CKF_TOKEN_PRESENT is %s, expected %s", what,
          (fs & CKF_TOKEN_PRESENT) ? "set" : "clear", want ? "set" : "clear");
    if (want) {
        CHECK_RV("C_GetTokenInfo", fl->C_GetTokenInfo(id, &ti), CKR_OK);
    } else {
        CHECK_RV("C_GetTokenInfo (no token)", fl->C_GetTokenInfo(id, &ti), CKR_TOKEN_NOT_PRESENT);
        CHECK_RV("C_OpenSession (no token)", fl->C_OpenSession(id, CKF_SERIAL_SESSION, NULL, NULL, &h),
                 CKR_TOKEN_NOT_PRESENT);
    }
    return 1;
}

/* ---- A thread in C_WaitForSlotEvent ------------------------------------------------ */

typedef struct waiter {
    pthread_t t;
    CK_RV rv;
    CK_SLOT_ID slot;
    long done_at;                 /* 0 while waiting */
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;

    w->rv = fl->C_WaitForSlotEvent(0, &w->slot, NULL);
    __atomic_store_n(&w->done_at, now_ms(), __ATOMIC_SEQ_CST);
    return NULL;
}

static int start_waiter(waiter *w)
{
    memset(w, 0, sizeof(*w));
    CHECK(pthread_create(&w->t, NULL, wait_thread, w) == 0, "pthread_create");
    sleep_ms(300);
    CHECK(__atomic_load_n(&w->done_at, __ATOMIC_SEQ_CST) == 0,
          "C_WaitForSlotEvent returned before any event: %s, slot %lu", itest_rv(w->rv),
          (unsigned long)w->slot);
    return 1;
}

/* Joins the waiter if it finishes within ms; a waiter still blocked is a
 * failure (and is left behind: the process exits soon). */
static int join_waiter(waiter *w, long ms, const char *what)
{
    long t0 = now_ms();

    while (__atomic_load_n(&w->done_at, __ATOMIC_SEQ_CST) == 0) {
        CHECK(now_ms() - t0 < ms, "%s: C_WaitForSlotEvent still blocked after %ld ms", what, ms);
        sleep_ms(5);
    }
    pthread_join(w->t, NULL);
    return 1;
}

/* A blocked C_WaitForSlotEvent must return for the reader slot when the
 * bench command changes the card. */
static int event_blocking(const char *bench_var, CK_SLOT_ID want, const char *what)
{
    waiter w;
    long t0, t1;

    drain_events();
    if (!start_waiter(&w))
        return 0;
    t0 = now_ms();
    if (!bench(bench_var))
        return 0;
    t1 = now_ms();
    if (!join_waiter(&w, EVENT_MS + 3000, what))
        return 0;
    CHECK_RV(what, w.rv, CKR_OK);
    CHECK(w.slot == want, "%s: event on slot %lu, expected the reader's slot %lu", what,
          (unsigned long)w.slot, (unsigned long)want);
    printf("%s: blocked C_WaitForSlotEvent returned slot %lu, %ld ms after the bench command started"
           " (which took %ld ms)\n", what, (unsigned long)want, w.done_at - t0, t1 - t0);
    CHECK(w.done_at - t1 < EVENT_MS, "%s: the event came %ld ms after the bench command", what,
          w.done_at - t1);
    return 1;
}

static int initialize(long *ms)
{
    CK_C_INITIALIZE_ARGS args;
    long t0;
    CK_RV rv;

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    t0 = now_ms();
    rv = fl->C_Initialize(&args);
    *ms = now_ms() - t0;
    CHECK_RV("C_Initialize", rv, CKR_OK);
    return 1;
}

/* ---- The checks ------------------------------------------------------------------ */

static CK_SLOT_ID reader;         /* the bench reader's slot */

static int check_lazy_and_reader_slot(void)
{
    CK_SLOT_ID rs[32];
    CK_ULONG nr;
    CK_ULONG n = 0;
    long ms;
    char desc[65];

    if (!bench("KZ_BENCH_REMOVE"))
        return 0;
    __atomic_store_n(&establish_calls, 0, __ATOMIC_SEQ_CST);
    if (!initialize(&ms))
        return 0;
    CHECK(__atomic_load_n(&establish_calls, __ATOMIC_SEQ_CST) == 0,
          "C_Initialize talked to pcscd (%d SCardEstablishContext calls)", establish_calls);
    printf("lazy: C_Initialize took %ld ms and made no PC/SC call\n", ms);
    CHECK_RV("C_GetSlotList", fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CHECK(__atomic_load_n(&establish_calls, __ATOMIC_SEQ_CST) > 0,
          "C_GetSlotList did not look for readers");
    printf("lazy: the first C_GetSlotList established the PC/SC context\n");

    if (!reader_slots(rs, &nr))
        return 0;
    CHECK(nr > 0, "no reader slot (CKF_HW_SLOT) with the bench's pcscd running");
    reader = rs[0];
    for (CK_ULONG i = 0; i < nr && getenv("KZ_BENCH_READER"); i++) {
        describe(rs[i], desc);
        if (strcmp(desc, getenv("KZ_BENCH_READER")) == 0)
            reader = rs[i];
    }
    describe(reader, desc);
    printf("reader slot: %lu \"%s\" (%lu reader slot(s))\n", (unsigned long)reader, desc, (unsigned long)nr);
    if (!token_state(reader, 0, "reader, no card"))
        return 0;
    return 1;
}

static int check_insert_after_init(void)
{
    CK_SLOT_ID s, ids[128];
    CK_ULONG n = 128;

    drain_events();
    if (!bench("KZ_BENCH_INSERT") || !event_without_blocking(reader, "insertion after C_Initialize"))
        return 0;
    CHECK_RV("C_WaitForSlotEvent (nothing more)", fl->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL),
             CKR_NO_EVENT);
    if (!token_state(reader, 1, "card inserted"))
        return 0;
    CHECK_RV("C_GetSlotList(TRUE)", list_slots(CK_TRUE, ids, &n), CKR_OK);
    CHECK(in_list(reader, ids, n) == expect_token, "C_GetSlotList(TRUE) %s the reader slot",
          in_list(reader, ids, n) ? "lists" : "does not list");
    return 1;
}

static int check_events(void)
{
    CK_SLOT_ID s;

    if (!event_blocking("KZ_BENCH_REMOVE", reader, "removal") || !token_state(reader, 0, "card removed"))
        return 0;
    if (!event_blocking("KZ_BENCH_INSERT", reader, "insertion") || !token_state(reader, 1, "card inserted"))
        return 0;
    drain_events();
    if (!bench("KZ_BENCH_REMOVE") || !event_without_blocking(reader, "removal"))
        return 0;
    CHECK_RV("C_WaitForSlotEvent (nothing more)", fl->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL),
             CKR_NO_EVENT);
    return token_state(reader, 0, "card removed");
}

/* Two waiters: one sleeps in SCardGetStatusChange, the other polls. */
static int check_finalize_wakes(const char *what)
{
    waiter a, b;
    long t0, fin;
    CK_RV rv;

    drain_events();
    if (!start_waiter(&a) || !start_waiter(&b))
        return 0;
    t0 = now_ms();
    rv = fl->C_Finalize(NULL);
    fin = now_ms() - t0;
    CHECK_RV("C_Finalize", rv, CKR_OK);
    if (!join_waiter(&a, WAKE_MS + 2000, what) || !join_waiter(&b, WAKE_MS + 2000, what))
        return 0;
    CHECK_RV("woken C_WaitForSlotEvent", a.rv, CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RV("woken C_WaitForSlotEvent", b.rv, CKR_CRYPTOKI_NOT_INITIALIZED);
    printf("%s: C_Finalize took %ld ms; waiters woke after %ld and %ld ms\n", what, fin,
           a.done_at - t0, b.done_at - t0);
    CHECK(fin < WAKE_MS && a.done_at - t0 < WAKE_MS && b.done_at - t0 < WAKE_MS,
          "%s: waking the waiters took too long", what);
    return 1;
}

/* A reader plugged in later gets new slot IDs, above every earlier one,
 * and an event; the earlier slots keep their IDs. The bench can only add a
 * reader by restarting pcscd (tests/cards/bench add-reader), so every old
 * reader also goes away and comes back under its name: the card in ours
 * must show there again, in the same slot. */
static int check_second_reader(void)
{
    CK_SLOT_ID before[128], after[128], rs[32], added[32], s;
    CK_ULONG nb = 128, na = 128, nr, nadded = 0, nseen = 0;
    CK_SLOT_ID max = 0;
    char desc_before[65], desc_after[65];
    int seen[32] = { 0 };
    CK_TOKEN_INFO ti_before, ti_after;
    CK_RV rv;

    drain_events();
    if (!bench("KZ_BENCH_INSERT") || !event_without_blocking(reader, "insertion before adding a reader"))
        return 0;
    describe(reader, desc_before);
    if (expect_token)
        CHECK_RV("C_GetTokenInfo", fl->C_GetTokenInfo(reader, &ti_before), CKR_OK);
    CHECK_RV("C_GetSlotList", list_slots(CK_FALSE, before, &nb), CKR_OK);
    for (CK_ULONG i = 0; i < nb; i++)
        if (before[i] > max)
            max = before[i];
    drain_events();
    if (!bench("KZ_BENCH_ADD_READER"))
        return 0;
    CHECK_RV("C_GetSlotList", list_slots(CK_FALSE, after, &na), CKR_OK);
    for (CK_ULONG i = 0; i < nb; i++)
        CHECK(in_list(before[i], after, na), "slot %lu vanished when a reader was added",
              (unsigned long)before[i]);
    if (!reader_slots(rs, &nr))
        return 0;
    for (CK_ULONG i = 0; i < nr; i++)
        if (!in_list(rs[i], before, nb))
            added[nadded++] = rs[i];
    CHECK(nadded > 0, "no new reader slot after plugging in a reader");
    for (CK_ULONG i = 0; i < nadded; i++) {
        CHECK(added[i] > max, "a new reader got slot %lu, not a new ID (highest before: %lu)",
              (unsigned long)added[i], (unsigned long)max);
        if (!token_state(added[i], 0, "new reader"))
            return 0;
    }
    describe(reader, desc_after);
    CHECK(in_list(reader, rs, nr) && strcmp(desc_before, desc_after) == 0,
          "the old reader \"%s\" is not in its slot %lu any more (it shows \"%s\")", desc_before,
          (unsigned long)reader, desc_after);
    if (!token_state(reader, 1, "old reader, card in, after a reader was added"))
        return 0;
    if (expect_token) {
        CHECK_RV("C_GetTokenInfo", fl->C_GetTokenInfo(reader, &ti_after), CKR_OK);
        CHECK(memcmp(ti_before.serialNumber, ti_after.serialNumber, sizeof(ti_after.serialNumber)) == 0,
              "another token (serial %.16s, was %.16s) in the old reader after a reader was added",
              (const char *)ti_after.serialNumber, (const char *)ti_before.serialNumber);
    }
    printf("second reader: %lu new reader slot(s) from %lu; the %lu earlier slots kept their IDs\n",
           (unsigned long)nadded, (unsigned long)added[0], (unsigned long)nb);

    /* Each new reader is an event of its own (other slots may report too:
     * the old readers went away and came back). */
    for (int i = 0; i < 64 && nseen < nadded; i++) {
        rv = fl->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL);
        if (rv == CKR_NO_EVENT)
            break;
        CHECK_RV("C_WaitForSlotEvent(DONT_BLOCK)", rv, CKR_OK);
        for (CK_ULONG j = 0; j < nadded; j++)
            if (added[j] == s && !seen[j]) {
                seen[j] = 1;
                nseen++;
            }
    }
    for (CK_ULONG j = 0; j < nadded; j++)
        CHECK(seen[j], "no event for the new reader's slot %lu", (unsigned long)added[j]);
    printf("second reader: an event for each new slot\n");
    return 1;
}

/* The soft token must not care about pcscd. */
static int soft_sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, EVP_PKEY *pub, const char *what)
{
    static const unsigned char msg[] = "kzp11 readers test: a soft token signs whatever pcscd does";
    unsigned char sig[512];
    CK_ULONG siglen = 0;

    CHECK_RV(what, itest_sign_sha256(fl, s, key, msg, sizeof(msg) - 1, sig, &siglen), CKR_OK);
    CHECK(itest_verify_sha256(pub, msg, sizeof(msg) - 1, sig, siglen), "%s: the signature does not verify", what);
    return 1;
}

static int check_pcscd_restart(void)
{
    CK_SLOT_ID soft, rs[32], ids[128];
    CK_ULONG nr, n = 128;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    EVP_PKEY *pub = NULL;
    waiter w;
    long t0, ms;
    int ok = 0;
    char desc_before[65], desc_after[65];

    describe(reader, desc_before);
    CHECK_RV("find the soft token", itest_find_slot(fl, "RSA256_", &soft), CKR_OK);
    CHECK_RV("C_OpenSession", fl->C_OpenSession(soft, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
    CHECK_RV("C_Login", fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)ITEST_PIN, strlen(ITEST_PIN)), CKR_OK);
    CHECK_RV("key and certificate", itest_key_and_cert(fl, s, &key, &pub), CKR_OK);
    if (!soft_sign(s, key, pub, "soft token, pcscd up"))
        goto out;

    drain_events();
    if (!bench("KZ_BENCH_PCSCD_STOP"))
        goto out;
    t0 = now_ms();
    if (!reader_slots(rs, &nr))
        goto out;
    ms = now_ms() - t0;
    printf("pcscd stopped: C_GetSlotList took %ld ms\n", ms);
    if (ms >= FAST_MS) {
        fprintf(stderr, "FAIL: C_GetSlotList took %ld ms without pcscd\n", ms);
        failures++;
        goto out;
    }
    if (!in_list(reader, rs, nr)) {
        fprintf(stderr, "FAIL: the reader slot %lu left the slot list with pcscd\n", (unsigned long)reader);
        failures++;
        goto out;
    }
    if (!token_state(reader, 0, "pcscd stopped") || !event_without_blocking(reader, "reader gone with pcscd")
        || !soft_sign(s, key, pub, "soft token, pcscd stopped"))
        goto out;
    if (list_slots(CK_TRUE, ids, &n) != CKR_OK || !in_list(soft, ids, n)) {
        fprintf(stderr, "FAIL: the soft token left the slot list with pcscd\n");
        failures++;
        goto out;
    }

    /* pcscd back (with the card in): a blocked waiter hears of it. */
    drain_events();
    if (!start_waiter(&w))
        goto out;
    t0 = now_ms();
    if (!bench("KZ_BENCH_PCSCD_START"))
        goto out;
    if (!join_waiter(&w, EVENT_MS + 3000, "pcscd restarted"))
        goto out;
    if (!itest_check("C_WaitForSlotEvent after the restart", w.rv, CKR_OK)) {
        failures++;
        goto out;
    }
    printf("pcscd restarted: blocked C_WaitForSlotEvent returned slot %lu, %ld ms after starting pcscd\n",
           (unsigned long)w.slot, w.done_at - t0);
    if (!reader_slots(rs, &nr))
        goto out;
    describe(reader, desc_after);
    if (!in_list(reader, rs, nr) || strcmp(desc_before, desc_after) != 0) {
        fprintf(stderr, "FAIL: the reader did not come back in its slot %lu\n", (unsigned long)reader);
        failures++;
        goto out;
    }
    if (!token_state(reader, 1, "pcscd restarted, card in") || !soft_sign(s, key, pub, "soft token, pcscd back"))
        goto out;
    drain_events();
    if (!bench("KZ_BENCH_REMOVE") || !event_without_blocking(reader, "removal after the restart"))
        goto out;
    printf("pcscd restarted: reader back in slot %lu, events work again\n", (unsigned long)reader);
    ok = 1;
out:
    EVP_PKEY_free(pub);
    fl->C_CloseSession(s);
    return ok;
}

/* Without pcscd: C_Initialize and the first listing are quick, the soft
 * tokens are there, and readers appear once pcscd does. */
static int check_init_without_pcscd(void)
{
    CK_SLOT_ID soft, rs[32];
    CK_ULONG nr, n = 0;
    long ms, t0;

    if (!bench("KZ_BENCH_PCSCD_STOP"))
        return 0;
    if (!initialize(&ms))
        return 0;
    t0 = now_ms();
    CHECK_RV("C_GetSlotList", fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    printf("no pcscd: C_Initialize took %ld ms, the first C_GetSlotList %ld ms\n", ms, now_ms() - t0);
    CHECK(ms < FAST_MS && now_ms() - t0 < FAST_MS, "too slow without pcscd");
    CHECK_RV("find the soft token", itest_find_slot(fl, "RSA256_", &soft), CKR_OK);
    if (!reader_slots(rs, &nr))
        return 0;
    CHECK(nr == 0, "%lu reader slot(s) without pcscd, expected none", (unsigned long)nr);
    if (!check_finalize_wakes("C_Finalize, no pcscd"))
        return 0;
    if (!bench("KZ_BENCH_PCSCD_START") || !initialize(&ms))
        return 0;
    if (!reader_slots(rs, &nr))
        return 0;
    CHECK(nr > 0, "no reader slot after pcscd started");
    printf("no pcscd: readers found once pcscd started\n");
    return 1;
}

int main(void)
{
    void *h = NULL;
    const char *tok = getenv("KZ_BENCH_TOKEN");

    setvbuf(stdout, NULL, _IOLBF, 0);
    expect_token = tok && strcmp(tok, "present") == 0;
    printf("a recognised card shows a token: %s\n", expect_token ? "yes" : "no (no driver claims the bench card)");
    fl = itest_load(NULL, &h);
    if (!fl)
        return 1;
    if (check_lazy_and_reader_slot() && check_insert_after_init() && check_events()
        && check_second_reader() && check_pcscd_restart() && check_finalize_wakes("C_Finalize, pcscd up"))
        check_init_without_pcscd();
    if (failures == 0) {
        fl->C_Finalize(NULL);
        dlclose(h);
        printf("PASS: test_readers\n");
        return 0;
    }
    fprintf(stderr, "FAIL: test_readers: %d failure(s)\n", failures);
    return 1;
}
