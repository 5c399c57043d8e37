/* Concurrency test of the built module, driven through dlopen() like any
 * PKCS#11 consumer.
 *
 * Part 1: C_Initialize with CKF_OS_LOCKING_OK; two sessions on the RSA256_
 * token, one login shared by both; 8 threads x 500 CKM_SHA256_RSA_PKCS
 * signatures (threads 0-3 on session A, 4-7 on session B; a session runs one
 * operation at a time, so each session's SignInit+Sign pair is serialised by
 * a mutex of the application); every signature is checked with OpenSSL
 * against the certificate read from the token.
 *
 * Part 2: C_Initialize without CKF_OS_LOCKING_OK but with the application's
 * mutex callbacks; 2 threads sign once each; the callbacks must have been
 * used, in balanced pairs, and every mutex destroyed by C_Finalize.
 *
 * Usage: test_threads [iterations-per-thread]  (KZP11_MODULE, KZP11_KEYSTORE
 * from the environment). Exit 0 on success, 1 on any failure. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itest_p11.h"

#define NTHREADS 8
#define NSESSIONS 2
#define DEFAULT_ITERS 500

static CK_FUNCTION_LIST_PTR fl;
static CK_OBJECT_HANDLE key;
static EVP_PKEY *pub;
static CK_SESSION_HANDLE sess[NSESSIONS];
static pthread_mutex_t sess_lock[NSESSIONS] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER };
static int iters = DEFAULT_ITERS;
static CK_ULONG part1_slots;

static atomic_long n_signed, n_verified, n_failed;

/* Report the first few failures in full, then only count them. */
static void thread_fail(int t, int i, const char *what, CK_RV rv)
{
    if (atomic_fetch_add(&n_failed, 1) < 10)
        fprintf(stderr, "FAIL: thread %d, signature %d: %s (%s)\n", t, i, what, itest_rv(rv));
}

static void *signer(void *arg)
{
    int t = (int)(long)arg;
    int s = t < NTHREADS / 2 ? 0 : 1;
    unsigned char data[96], sig[512];
    int i;

    for (i = 0; i < iters; i++) {
        CK_MECHANISM mech = { CKM_SHA256_RSA_PKCS, NULL, 0 };
        CK_ULONG siglen = sizeof sig;
        int len;
        CK_RV rv;

        len = snprintf((char *)data, sizeof data, "kzp11 thread %d of %d, signature %d of %d",
                       t, NTHREADS, i, iters);
        pthread_mutex_lock(&sess_lock[s]);
        rv = fl->C_SignInit(sess[s], &mech, key);
        if (rv == CKR_OK && i % 50 == 7) {
            /* Now and then the length query first: the operation stays active. */
            siglen = 0;
            rv = fl->C_Sign(sess[s], data, (CK_ULONG)len, NULL, &siglen);
            if (rv == CKR_OK && siglen != 256) {
                pthread_mutex_unlock(&sess_lock[s]);
                thread_fail(t, i, "C_Sign length query did not give 256", rv);
                continue;
            }
            siglen = sizeof sig;
        }
        if (rv == CKR_OK)
            rv = fl->C_Sign(sess[s], data, (CK_ULONG)len, sig, &siglen);
        pthread_mutex_unlock(&sess_lock[s]);
        if (rv != CKR_OK) {
            thread_fail(t, i, "C_SignInit/C_Sign", rv);
            continue;
        }
        atomic_fetch_add(&n_signed, 1);
        if (siglen != 256) {
            thread_fail(t, i, "signature is not 256 bytes", CKR_OK);
            continue;
        }
        if (!itest_verify_sha256(pub, data, (size_t)len, sig, siglen)) {
            thread_fail(t, i, "signature does not verify with OpenSSL", CKR_OK);
            continue;
        }
        atomic_fetch_add(&n_verified, 1);
    }
    return NULL;
}

static int session_state(CK_SESSION_HANDLE s, CK_STATE want, const char *what)
{
    CK_SESSION_INFO si;
    CK_RV rv = fl->C_GetSessionInfo(s, &si);

    if (!itest_check("C_GetSessionInfo", rv, CKR_OK))
        return 0;
    if (si.state != want) {
        fprintf(stderr, "FAIL: %s: session state %lu, expected %lu\n", what,
                (unsigned long)si.state, (unsigned long)want);
        return 0;
    }
    return 1;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int part1(void)
{
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID slot;
    pthread_t th[NTHREADS];
    long expected = (long)NTHREADS * iters;
    double t0;
    int i, ok = 1;

    printf("part 1: CKF_OS_LOCKING_OK, %d threads x %d signatures on 2 sessions\n", NTHREADS, iters);
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    if (!itest_check("C_Initialize(CKF_OS_LOCKING_OK)", fl->C_Initialize(&args), CKR_OK))
        return 0;
    if (!itest_check("C_GetSlotList(CK_TRUE)", fl->C_GetSlotList(CK_TRUE, NULL, &part1_slots),
                     CKR_OK))
        return 0;
    if (!itest_check("finding the RSA256_ token", itest_find_slot(fl, "RSA256_", &slot), CKR_OK))
        return 0;
    for (i = 0; i < NSESSIONS; i++)
        if (!itest_check("C_OpenSession", fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL,
                                                            &sess[i]), CKR_OK))
            return 0;
    if (!session_state(sess[1], CKS_RO_PUBLIC_SESSION, "session B before login"))
        return 0;
    if (!itest_check("C_Login", fl->C_Login(sess[0], CKU_USER, (CK_UTF8CHAR_PTR)ITEST_PIN,
                                            strlen(ITEST_PIN)), CKR_OK))
        return 0;
    /* A login belongs to the application, not to one session. */
    if (!session_state(sess[0], CKS_RO_USER_FUNCTIONS, "session A after login") ||
        !session_state(sess[1], CKS_RO_USER_FUNCTIONS, "session B after login on A"))
        return 0;
    if (!itest_check("private key and certificate", itest_key_and_cert(fl, sess[0], &key, &pub),
                     CKR_OK))
        return 0;

    t0 = now();
    for (i = 0; i < NTHREADS; i++)
        if (pthread_create(&th[i], NULL, signer, (void *)(long)i) != 0) {
            fprintf(stderr, "FAIL: pthread_create\n");
            return 0;
        }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);

    printf("part 1: %ld signed, %ld verified, %ld failed, of %ld, in %.2f s\n",
           atomic_load(&n_signed), atomic_load(&n_verified), atomic_load(&n_failed), expected,
           now() - t0);
    if (atomic_load(&n_verified) != expected || atomic_load(&n_failed) != 0) {
        fprintf(stderr, "FAIL: part 1: not every signature was made and verified\n");
        ok = 0;
    }

    ok &= itest_check("C_Logout", fl->C_Logout(sess[1]), CKR_OK);
    ok &= session_state(sess[0], CKS_RO_PUBLIC_SESSION, "session A after logout on B");
    for (i = 0; i < NSESSIONS; i++)
        ok &= itest_check("C_CloseSession", fl->C_CloseSession(sess[i]), CKR_OK);
    ok &= itest_check("C_Finalize", fl->C_Finalize(NULL), CKR_OK);
    EVP_PKEY_free(pub);
    pub = NULL;
    return ok;
}

/* --- part 2: the application's mutexes ---------------------------------- */

static atomic_long m_create, m_destroy, m_lock, m_unlock, m_misuse, m_live;

static CK_RV cb_create(CK_VOID_PTR_PTR out)
{
    pthread_mutexattr_t a;
    pthread_mutex_t *m;

    if (out == NULL) {
        atomic_fetch_add(&m_misuse, 1);
        return CKR_ARGUMENTS_BAD;
    }
    m = malloc(sizeof *m);
    if (m == NULL)
        return CKR_HOST_MEMORY;
    /* Error-checking mutexes: a module that unlocks a mutex it does not hold,
     * or locks one twice, is caught instead of silently misbehaving. */
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    *out = m;
    atomic_fetch_add(&m_create, 1);
    atomic_fetch_add(&m_live, 1);
    return CKR_OK;
}

static CK_RV cb_destroy(CK_VOID_PTR p)
{
    if (p == NULL || pthread_mutex_destroy(p) != 0) {
        atomic_fetch_add(&m_misuse, 1);
        return CKR_MUTEX_BAD;
    }
    free(p);
    atomic_fetch_add(&m_destroy, 1);
    atomic_fetch_sub(&m_live, 1);
    return CKR_OK;
}

static CK_RV cb_lock(CK_VOID_PTR p)
{
    if (p == NULL || pthread_mutex_lock(p) != 0) {
        atomic_fetch_add(&m_misuse, 1);
        return CKR_MUTEX_BAD;
    }
    atomic_fetch_add(&m_lock, 1);
    return CKR_OK;
}

static CK_RV cb_unlock(CK_VOID_PTR p)
{
    if (p == NULL) {
        atomic_fetch_add(&m_misuse, 1);
        return CKR_MUTEX_BAD;
    }
    if (pthread_mutex_unlock(p) != 0) {
        atomic_fetch_add(&m_misuse, 1);
        return CKR_MUTEX_NOT_LOCKED;
    }
    atomic_fetch_add(&m_unlock, 1);
    return CKR_OK;
}

static CK_SLOT_ID slot2;
static atomic_long p2_ok;

static void *signer2(void *arg)
{
    int t = (int)(long)arg;
    CK_SESSION_HANDLE s;
    unsigned char data[64], sig[512];
    CK_ULONG siglen;
    int len;
    CK_RV rv;

    rv = fl->C_OpenSession(slot2, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (!itest_check("part 2: C_OpenSession in a thread", rv, CKR_OK))
        return NULL;
    len = snprintf((char *)data, sizeof data, "kzp11 part 2, thread %d", t);
    rv = itest_sign_sha256(fl, s, key, data, (CK_ULONG)len, sig, &siglen);
    if (itest_check("part 2: C_SignInit/C_Sign in a thread", rv, CKR_OK)) {
        if (itest_verify_sha256(pub, data, (size_t)len, sig, siglen))
            atomic_fetch_add(&p2_ok, 1);
        else
            fprintf(stderr, "FAIL: part 2: thread %d: signature does not verify\n", t);
    }
    itest_check("part 2: C_CloseSession in a thread", fl->C_CloseSession(s), CKR_OK);
    return NULL;
}

static int part2(void)
{
    CK_C_INITIALIZE_ARGS args;
    CK_SESSION_HANDLE s;
    CK_SLOT_ID slots[64];
    CK_ULONG n;
    pthread_t th[2];
    int i, ok = 1;

    printf("part 2: application mutex callbacks, no CKF_OS_LOCKING_OK\n");

    /* Some but not all callbacks: the spec says CKR_ARGUMENTS_BAD. */
    memset(&args, 0, sizeof args);
    args.CreateMutex = cb_create;
    args.LockMutex = cb_lock;
    if (!itest_check("C_Initialize with only some mutex callbacks", fl->C_Initialize(&args),
                     CKR_ARGUMENTS_BAD)) {
        fl->C_Finalize(NULL);
        return 0;
    }

    memset(&args, 0, sizeof args);
    args.CreateMutex = cb_create;
    args.DestroyMutex = cb_destroy;
    args.LockMutex = cb_lock;
    args.UnlockMutex = cb_unlock;
    if (!itest_check("C_Initialize(mutex callbacks)", fl->C_Initialize(&args), CKR_OK))
        return 0;
    /* The second C_Initialize of this process must show the same tokens,
     * also to an application that passes a buffer at once (no count call). */
    n = sizeof slots / sizeof slots[0];
    if (!itest_check("C_GetSlotList(CK_TRUE) after re-initialisation",
                     fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK))
        return 0;
    if (n != part1_slots) {
        fprintf(stderr, "FAIL: part 2: after C_Finalize + C_Initialize, C_GetSlotList(CK_TRUE) "
                        "counts %lu slots with a token; before, %lu\n",
                (unsigned long)n, (unsigned long)part1_slots);
        ok = 0;
        /* Go on with the rest of part 2 all the same. */
        n = 0;
        fl->C_GetSlotList(CK_FALSE, NULL, &n);
    }
    if (!itest_check("finding the RSA256_ token", itest_find_slot(fl, "RSA256_", &slot2), CKR_OK))
        return 0;
    if (!itest_check("C_OpenSession", fl->C_OpenSession(slot2, CKF_SERIAL_SESSION, NULL, NULL, &s),
                     CKR_OK))
        return 0;
    if (!itest_check("C_Login", fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)ITEST_PIN,
                                            strlen(ITEST_PIN)), CKR_OK))
        return 0;
    if (!itest_check("private key and certificate", itest_key_and_cert(fl, s, &key, &pub), CKR_OK))
        return 0;
    for (i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, signer2, (void *)(long)i) != 0) {
            fprintf(stderr, "FAIL: pthread_create\n");
            return 0;
        }
    for (i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    if (atomic_load(&p2_ok) != 2) {
        fprintf(stderr, "FAIL: part 2: %ld of 2 threads signed and verified\n", atomic_load(&p2_ok));
        ok = 0;
    }
    ok &= itest_check("C_CloseSession", fl->C_CloseSession(s), CKR_OK);
    ok &= itest_check("C_Finalize", fl->C_Finalize(NULL), CKR_OK);
    EVP_PKEY_free(pub);
    pub = NULL;

    printf("part 2: mutexes created %ld, destroyed %ld, locked %ld, unlocked %ld, misused %ld\n",
           atomic_load(&m_create), atomic_load(&m_destroy), atomic_load(&m_lock),
           atomic_load(&m_unlock), atomic_load(&m_misuse));
    if (atomic_load(&m_create) == 0 || atomic_load(&m_lock) == 0) {
        fprintf(stderr, "FAIL: part 2: the module did not use the application's mutex callbacks\n");
        ok = 0;
    }
    if (atomic_load(&m_lock) != atomic_load(&m_unlock)) {
        fprintf(stderr, "FAIL: part 2: mutex locks and unlocks are not balanced\n");
        ok = 0;
    }
    if (atomic_load(&m_live) != 0) {
        fprintf(stderr, "FAIL: part 2: %ld mutexes still alive after C_Finalize\n",
                atomic_load(&m_live));
        ok = 0;
    }
    if (atomic_load(&m_misuse) != 0) {
        fprintf(stderr, "FAIL: part 2: the module misused the mutex callbacks %ld times\n",
                atomic_load(&m_misuse));
        ok = 0;
    }
    return ok;
}

int main(int argc, char **argv)
{
    void *handle = NULL;
    int ok;

    if (argc > 1) {
        iters = atoi(argv[1]);
        if (iters <= 0) {
            fprintf(stderr, "usage: %s [iterations-per-thread]\n", argv[0]);
            return 1;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    fl = itest_load(NULL, &handle);
    if (fl == NULL)
        return 1;
    ok = part1();
    if (ok)
        ok = part2();
    printf("%s\n", ok ? "PASS: test_threads" : "FAIL: test_threads");
    /* The module stays loaded: unloading it is not what is tested here. */
    return ok ? 0 : 1;
}
