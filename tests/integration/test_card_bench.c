/* The card transport and reader slots with a token in them, against the
 * card bench's real pcscd, before any real driver exists: this program
 * links the core and installs a test driver that claims every card. The
 * driver sends one harmless APDU whenever the token is looked at
 * (C_GetTokenInfo) and a VERIFY at C_Login, and ignores the status words:
 * what is tested is the transport, not the card.
 *
 * Checks: a card inserted after C_Initialize becomes a token; APDUs reach
 * the card through PC/SC; a reset by another program is recovered from
 * and costs the slot its login (C_Login works again instead of
 * CKR_USER_ALREADY_LOGGED_IN; the session turns public at the next
 * rescan); a card pulled out mid-session gives CKR_DEVICE_REMOVED, then
 * CKR_SESSION_HANDLE_INVALID, and nothing hangs; a swapped card is a new
 * token; another program's transaction makes us wait, not fail; a pcscd
 * restart drops the token and brings it back in the same slot.
 *
 * Environment as for test_readers (KZ_BENCH_INSERT, _REMOVE, _SWAP,
 * _PCSCD_STOP, _PCSCD_START). readers.sh runs it with KZP11_DEBUG=1 and
 * checks the APDU trace it leaves on stderr for the PIN. Exit 0 and
 * "PASS: test_card_bench" on success. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <PCSC/winscard.h>

#include "card_slots.h"
#include "pkcs11_types.h"

/* The PIN the test driver sends; readers.sh looks for its bytes in the
 * trace and must not find them. */
#define BENCH_PIN "KZP11bench42"

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL: " __VA_ARGS__); \
    fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__); return 0; } } while (0)
#define CHECK_RV(what, rv, want) do { CK_RV r_ = (rv); if (r_ != (want)) { \
    fprintf(stderr, "FAIL: %s: got 0x%lx, expected 0x%lx (%s:%d)\n", what, (unsigned long)r_, \
            (unsigned long)(want), __FILE__, __LINE__); return 0; } } while (0)

/* ---- The test driver ----------------------------------------------------- */

typedef struct bench_tok {
    kz_card *card;
    int logged_in;
} bench_tok;

static int resets_seen;           /* atomic: resets the driver was told of */
static int tokens_made;           /* atomic */

static void pad(unsigned char *dst, size_t len, const char *s)
{
    size_t n = strlen(s);

    memset(dst, ' ', len);
    memcpy(dst, s, n < len ? n : len);
}

/* One exchange in a transaction of its own, as a driver would do it. */
static CK_RV probe(bench_tok *b)
{
    static const uint8_t mf[] = { 0x3F, 0x00 };
    uint8_t buf[258];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu sel = { 0x00, 0xA4, 0x00, 0x00, mf, sizeof(mf), 256, 0 };
    int was_reset = 0, had_login = b->logged_in;
    CK_RV rv = kz_card_begin(b->card, &was_reset);

    if (rv != CKR_OK)
        return rv;
    if (was_reset) {
        __atomic_add_fetch(&resets_seen, 1, __ATOMIC_SEQ_CST);
        b->logged_in = 0;
    }
    rv = kz_card_transmit(b->card, &sel, &r);
    kz_card_end(b->card);
    return kz_card_public_rv(rv, had_login);
}

static CK_RV bt_get_info(kz_token *t, CK_TOKEN_INFO *info)
{
    CK_RV rv = probe(t->drv);

    if (rv != CKR_OK)
        return rv;
    pad(info->label, sizeof(info->label), "kzp11 bench card");
    pad(info->manufacturerID, sizeof(info->manufacturerID), "kzp11 tests");
    pad(info->model, sizeof(info->model), "any card");
    pad(info->serialNumber, sizeof(info->serialNumber), "0");
    info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED;
    info->ulMinPinLen = 4;
    info->ulMaxPinLen = 16;
    return CKR_OK;
}

static CK_RV bt_get_mechanisms(kz_token *t, const CK_MECHANISM_TYPE **list, size_t *n)
{
    static const CK_MECHANISM_TYPE none[1] = { 0 };

    *list = none;
    *n = 0;
    return CKR_OK;
}

static CK_RV bt_login(kz_token *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    bench_tok *b = t->drv;
    kz_rapdu r = { NULL, 0, 0, 0 };
    kz_apdu verify = { 0x00, 0x20, 0x00, 0x01, pin, len, 0, KZ_APDU_SECRET };
    int was_reset = 0;
    CK_RV rv = kz_card_begin(b->card, &was_reset);

    if (rv != CKR_OK)
        return rv;
    if (was_reset)
        __atomic_add_fetch(&resets_seen, 1, __ATOMIC_SEQ_CST);
    rv = kz_card_transmit(b->card, &verify, &r);
    if (rv == CKR_OK) {
        b->logged_in = 1;
        kz_card_set_logged_in(b->card, 1);
    }
    kz_card_end(b->card);
    return kz_card_public_rv(rv, 0);
}

static CK_RV bt_logout(kz_token *t)
{
    bench_tok *b = t->drv;

    b->logged_in = 0;
    kz_card_set_logged_in(b->card, 0);
    return CKR_OK;
}

static CK_RV bt_load_model(kz_token *t, kz_token_model *out)
{
    return CKR_OK;
}

static void bt_release(kz_token *t)
{
    bench_tok *b = t->drv;

    kz_card_unref(b->card);
    free(b);
}

static const kz_token_ops bench_ops = {
    .name = "bench",
    .get_info = bt_get_info,
    .get_mechanisms = bt_get_mechanisms,
    .login = bt_login,
    .logout = bt_logout,
    .load_model = bt_load_model,
    .release = bt_release,
};

static CK_RV bt_bind(kz_card *card, kz_token *out)
{
    bench_tok *b = calloc(1, sizeof(*b));
    CK_RV rv;

    if (!b)
        return CKR_HOST_MEMORY;
    b->card = kz_card_ref(card);
    rv = probe(b);
    if (rv != CKR_OK) {
        kz_card_unref(b->card);
        free(b);
        return rv;
    }
    out->ops = &bench_ops;
    out->drv = b;
    __atomic_add_fetch(&tokens_made, 1, __ATOMIC_SEQ_CST);
    return CKR_OK;
}

/* Every ATR: one all-wildcard pattern per length. */
static uint8_t zeros[MAX_ATR_SIZE];
static kz_atr_pattern any_atr[MAX_ATR_SIZE];
static kz_card_driver bench_driver = { "bench", any_atr, MAX_ATR_SIZE, bt_bind };
static const kz_card_driver *const bench_table[] = { &bench_driver, NULL };

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

static int bench(const char *var)
{
    const char *cmd = getenv(var);

    CHECK(cmd && *cmd, "%s is not set (run through readers.sh)", var);
    fflush(stdout);
    CHECK(system(cmd) == 0, "bench command '%s' failed", cmd);
    return 1;
}

static CK_SLOT_ID reader = (CK_SLOT_ID)-1;
static char reader_name[MAX_READERNAME + 1];

/* The first reader slot, and its reader's full name from pcscd. */
static int find_reader(void)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = 64;
    CK_SLOT_INFO si;
    SCARDCONTEXT ctx;
    DWORD len = sizeof(reader_name);
    char list[2048];
    const char *want = getenv("KZ_BENCH_READER");
    int dlen = 64;

    CHECK_RV("C_GetSlotList", C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    n = 64;
    CHECK_RV("C_GetSlotList", C_GetSlotList(CK_FALSE, ids, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        if (C_GetSlotInfo(ids[i], &si) != CKR_OK || !(si.flags & CKF_HW_SLOT))
            continue;
        if (reader == (CK_SLOT_ID)-1
            || (want && strncmp((const char *)si.slotDescription, want, strlen(want)) == 0))
            reader = ids[i];
    }
    CHECK(reader != (CK_SLOT_ID)-1, "no reader slot");
    C_GetSlotInfo(reader, &si);
    while (dlen > 0 && si.slotDescription[dlen - 1] == ' ')
        dlen--;
    CHECK(SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) == SCARD_S_SUCCESS, "no PC/SC context");
    len = sizeof(list);
    CHECK(SCardListReaders(ctx, NULL, list, &len) == SCARD_S_SUCCESS, "SCardListReaders");
    SCardReleaseContext(ctx);
    for (char *p = list; *p; p += strlen(p) + 1)
        if (strncmp(p, (const char *)si.slotDescription, (size_t)dlen) == 0) {
            snprintf(reader_name, sizeof(reader_name), "%s", p);
            break;
        }
    CHECK(reader_name[0], "no reader named like slot %lu", (unsigned long)reader);
    printf("reader slot %lu: %s\n", (unsigned long)reader, reader_name);
    return 1;
}

static int token_present(void)
{
    CK_SLOT_INFO si;
    CK_ULONG n = 0;

    if (C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK || C_GetSlotInfo(reader, &si) != CKR_OK)
        return -1;
    return (si.flags & CKF_TOKEN_PRESENT) != 0;
}

static int await_token(int want, const char *what)
{
    long t0 = now_ms();
    int p;

    while ((p = token_present()) != want) {
        CHECK(p >= 0 && now_ms() - t0 < 5000, "%s: the token did not %s", what, want ? "appear" : "go");
        sleep_ms(50);
    }
    printf("%s: token %s after %ld ms\n", what, want ? "present" : "gone", now_ms() - t0);
    return 1;
}

/* What another program does to the card: a reset, a long transaction. */
static int other_program(int reset, long hold_ms)
{
    SCARDCONTEXT ctx;
    SCARDHANDLE h;
    DWORD proto;
    LONG rc;

    CHECK(SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) == SCARD_S_SUCCESS, "no PC/SC context");
    rc = SCardConnect(ctx, reader_name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
    CHECK(rc == SCARD_S_SUCCESS, "the other program cannot connect: 0x%lx", (unsigned long)rc);
    if (reset) {
        rc = SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_RESET_CARD, &proto);
        CHECK(rc == SCARD_S_SUCCESS, "the other program cannot reset the card: 0x%lx", (unsigned long)rc);
    }
    if (hold_ms) {
        rc = SCardBeginTransaction(h);
        CHECK(rc == SCARD_S_SUCCESS, "the other program cannot begin a transaction: 0x%lx", (unsigned long)rc);
        sleep_ms(hold_ms);
        SCardEndTransaction(h, SCARD_LEAVE_CARD);
    }
    SCardDisconnect(h, SCARD_LEAVE_CARD);
    SCardReleaseContext(ctx);
    return 1;
}

typedef struct looker {
    pthread_t t;
    CK_RV rv;
    long done_at;
} looker;

static void *look_thread(void *arg)
{
    looker *l = arg;
    CK_TOKEN_INFO ti;

    l->rv = C_GetTokenInfo(reader, &ti);
    __atomic_store_n(&l->done_at, now_ms(), __ATOMIC_SEQ_CST);
    return NULL;
}

typedef struct holder {
    pthread_t t;
    long ms;
    int ok;
} holder;

static void *hold_thread(void *arg)
{
    holder *h = arg;

    h->ok = other_program(0, h->ms);
    return NULL;
}

/* ---- The checks ---------------------------------------------------------------------- */

static int check_token_and_reset(void)
{
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    CK_ULONG n = 0;

    if (!bench("KZ_BENCH_INSERT") || !await_token(1, "insertion"))
        return 0;
    CHECK_RV("C_GetTokenInfo", C_GetTokenInfo(reader, &ti), CKR_OK);
    CHECK(memcmp(ti.label, "kzp11 bench card", 16) == 0, "the token is not the test driver's");
    CHECK_RV("C_OpenSession", C_OpenSession(reader, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
    CHECK_RV("C_Login", C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)BENCH_PIN, strlen(BENCH_PIN)), CKR_OK);
    CHECK_RV("C_GetSessionInfo", C_GetSessionInfo(s, &si), CKR_OK);
    CHECK(si.state == CKS_RO_USER_FUNCTIONS, "not logged in after C_Login");

    /* Reset by another program; the next card I/O meets it. */
    if (!other_program(1, 0))
        return 0;
    CHECK_RV("C_GetTokenInfo after a reset", C_GetTokenInfo(reader, &ti), CKR_OK);
    CHECK(__atomic_load_n(&resets_seen, __ATOMIC_SEQ_CST) == 1, "the driver was not told of the reset");
    /* The slot's login went with it: logging in again works. */
    CHECK_RV("C_Login after a reset", C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)BENCH_PIN, strlen(BENCH_PIN)), CKR_OK);
    printf("reset: recovered, reported to the driver, C_Login works again\n");

    /* And a rescan shows the session public again. */
    if (!other_program(1, 0))
        return 0;
    CHECK_RV("C_GetTokenInfo after a reset", C_GetTokenInfo(reader, &ti), CKR_OK);
    CHECK_RV("C_GetSlotList", C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CHECK_RV("C_GetSessionInfo", C_GetSessionInfo(s, &si), CKR_OK);
    CHECK(si.state == CKS_RO_PUBLIC_SESSION, "still logged in (state %lu) after the card was reset",
          (unsigned long)si.state);
    printf("reset: the session is public after the rescan\n");
    return 1;
}

static int check_transaction_waits(void)
{
    holder h = { .ms = 600 };
    looker l = { 0 };
    long t0;

    CHECK(pthread_create(&h.t, NULL, hold_thread, &h) == 0, "pthread_create");
    sleep_ms(200);
    t0 = now_ms();
    CHECK(pthread_create(&l.t, NULL, look_thread, &l) == 0, "pthread_create");
    sleep_ms(150);
    CHECK(__atomic_load_n(&l.done_at, __ATOMIC_SEQ_CST) == 0,
          "the card was used while another program held a transaction");
    pthread_join(h.t, NULL);
    pthread_join(l.t, NULL);
    CHECK(h.ok, "the other program's transaction failed");
    CHECK_RV("C_GetTokenInfo after waiting", l.rv, CKR_OK);
    printf("transaction: waited %ld ms for another program's transaction\n", l.done_at - t0);
    return 1;
}

static int check_removal_mid_session(void)
{
    CK_SESSION_HANDLE s, s2;
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    CK_SLOT_ID ev;
    long t0;
    CK_RV rv;

    CHECK_RV("C_OpenSession", C_OpenSession(reader, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
    CHECK_RV("C_Login", C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)BENCH_PIN, strlen(BENCH_PIN)), CKR_OK);
    while (C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL) == CKR_OK)
        ;
    if (!bench("KZ_BENCH_REMOVE"))
        return 0;
    /* Before any rescan the token is still listed; using the card says it is gone. */
    t0 = now_ms();
    while ((rv = C_GetTokenInfo(reader, &ti)) == CKR_OK && now_ms() - t0 < 3000)
        sleep_ms(50);
    CHECK(rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT,
          "C_GetTokenInfo with the card pulled out: 0x%lx", (unsigned long)rv);
    printf("removal: C_GetTokenInfo says 0x%lx after %ld ms\n", (unsigned long)rv, now_ms() - t0);
    if (!await_token(0, "removal"))
        return 0;
    CHECK_RV("C_GetSessionInfo, card gone", C_GetSessionInfo(s, &si), CKR_SESSION_HANDLE_INVALID);
    CHECK_RV("C_Logout, card gone", C_Logout(s), CKR_SESSION_HANDLE_INVALID);
    CHECK_RV("C_CloseSession, card gone", C_CloseSession(s), CKR_SESSION_HANDLE_INVALID);
    CHECK_RV("C_OpenSession, card gone", C_OpenSession(reader, CKF_SERIAL_SESSION, NULL, NULL, &s2),
             CKR_TOKEN_NOT_PRESENT);
    CHECK_RV("C_WaitForSlotEvent", C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL), CKR_OK);
    CHECK(ev == reader, "the event is for slot %lu, not the reader's", (unsigned long)ev);
    printf("removal: sessions invalid, event reported\n");
    return 1;
}

static int check_swap(void)
{
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;
    int made;

    if (!bench("KZ_BENCH_INSERT") || !await_token(1, "reinsertion"))
        return 0;
    CHECK_RV("C_OpenSession", C_OpenSession(reader, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
    made = __atomic_load_n(&tokens_made, __ATOMIC_SEQ_CST);
    if (!bench("KZ_BENCH_SWAP"))
        return 0;
    /* Between two looks the card left and came back: a new token. */
    if (!await_token(1, "swap"))
        return 0;
    CHECK(__atomic_load_n(&tokens_made, __ATOMIC_SEQ_CST) > made, "the swapped card is not a new token");
    CHECK_RV("C_GetSessionInfo, card swapped", C_GetSessionInfo(s, &si), CKR_SESSION_HANDLE_INVALID);
    printf("swap: a new token; the old session is invalid\n");
    return 1;
}

static int check_pcscd_restart(void)
{
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;
    CK_SLOT_ID before = reader;

    CHECK_RV("C_OpenSession", C_OpenSession(reader, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
    if (!bench("KZ_BENCH_PCSCD_STOP") || !await_token(0, "pcscd stopped"))
        return 0;
    CHECK_RV("C_GetSessionInfo, pcscd gone", C_GetSessionInfo(s, &si), CKR_SESSION_HANDLE_INVALID);
    if (!bench("KZ_BENCH_PCSCD_START") || !await_token(1, "pcscd restarted"))
        return 0;
    CHECK(reader == before, "slot changed");
    printf("pcscd restart: the token came back in slot %lu\n", (unsigned long)reader);
    return 1;
}

int main(void)
{
    CK_C_INITIALIZE_ARGS args;
    int ok;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < MAX_ATR_SIZE; i++) {
        any_atr[i].atr = zeros;
        any_atr[i].mask = zeros;
        any_atr[i].len = i + 1;
    }
    kz_card_slots_use_drivers(bench_table);
    if (!bench("KZ_BENCH_REMOVE"))
        return 1;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    if (C_Initialize(&args) != CKR_OK) {
        fprintf(stderr, "FAIL: C_Initialize\n");
        return 1;
    }
    ok = find_reader() && await_token(0, "no card") && check_token_and_reset() && check_transaction_waits()
         && check_removal_mid_session() && check_swap() && check_pcscd_restart();
    C_Finalize(NULL);
    kz_card_slots_use_drivers(NULL);
    if (!ok)
        return 1;
    printf("PASS: test_card_bench\n");
    return 0;
}
