/* fork() behaviour of the built module (dlopen()ed like any consumer).
 *
 * The parent initialises, logs in and signs, then forks:
 *  - child 1 follows PKCS#11: a call before C_Initialize may fail with
 *    CKR_CRYPTOKI_NOT_INITIALIZED (or work), C_Initialize must return CKR_OK
 *    (not CKR_CRYPTOKI_ALREADY_INITIALIZED), and then the child logs in,
 *    signs, verifies and finalises on its own;
 *  - child 2 just exits (running atexit handlers and library destructors).
 * After each child the parent's session, still logged in, must sign again.
 * A child that hangs is killed by an alarm and counts as a failure.
 *
 * Exit 0 on success, 1 on any failure. KZP11_MODULE and KZP11_KEYSTORE come
 * from the environment. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_p11.h"

#define CHILD_TIMEOUT 120

static CK_FUNCTION_LIST_PTR fl;

/* Signs a message naming who signs and checks it with OpenSSL. */
static int sign_and_verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, EVP_PKEY *pub,
                           const char *who)
{
    unsigned char sig[512];
    char data[128];
    CK_ULONG siglen;
    int len;
    CK_RV rv;

    len = snprintf(data, sizeof data, "kzp11 fork test: signed by the %s, pid %ld", who,
                   (long)getpid());
    rv = itest_sign_sha256(fl, s, key, (const unsigned char *)data, (CK_ULONG)len, sig, &siglen);
    if (rv != CKR_OK) {
        fprintf(stderr, "FAIL: %s: C_SignInit/C_Sign: %s\n", who, itest_rv(rv));
        return 0;
    }
    if (!itest_verify_sha256(pub, (const unsigned char *)data, (size_t)len, sig, siglen)) {
        fprintf(stderr, "FAIL: %s: the signature does not verify\n", who);
        return 0;
    }
    printf("%s: signed and verified\n", who);
    return 1;
}

static int logged_in(CK_SESSION_HANDLE s, const char *who)
{
    CK_SESSION_INFO si;
    CK_RV rv = fl->C_GetSessionInfo(s, &si);

    if (rv != CKR_OK) {
        fprintf(stderr, "FAIL: %s: C_GetSessionInfo: %s\n", who, itest_rv(rv));
        return 0;
    }
    if (si.state != CKS_RO_USER_FUNCTIONS) {
        fprintf(stderr, "FAIL: %s: session state %lu, expected CKS_RO_USER_FUNCTIONS\n", who,
                (unsigned long)si.state);
        return 0;
    }
    return 1;
}

/* Child 1: a well-behaved PKCS#11 application after fork(). */
static int child_reinit(void)
{
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;
    CK_OBJECT_HANDLE key;
    EVP_PKEY *pub = NULL;
    CK_ULONG n = 0;
    CK_RV rv;
    int ok;

    rv = fl->C_GetSlotList(CK_FALSE, NULL, &n);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_NOT_INITIALIZED) {
        fprintf(stderr, "FAIL: child: C_GetSlotList before C_Initialize: %s (expected CKR_OK "
                        "or CKR_CRYPTOKI_NOT_INITIALIZED)\n", itest_rv(rv));
        return 0;
    }
    printf("child: C_GetSlotList before C_Initialize: %s\n", itest_rv(rv));

    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    if (!itest_check("child: C_Initialize after fork", fl->C_Initialize(&args), CKR_OK))
        return 0;
    if (!itest_check("child: finding the RSA256_ token", itest_find_slot(fl, "RSA256_", &slot),
                     CKR_OK))
        return 0;
    if (!itest_check("child: C_OpenSession",
                     fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK))
        return 0;
    /* A fresh library: the parent's login is not inherited. */
    if (!itest_check("child: C_GetSessionInfo", fl->C_GetSessionInfo(s, &si), CKR_OK))
        return 0;
    if (si.state != CKS_RO_PUBLIC_SESSION) {
        fprintf(stderr, "FAIL: child: a new session after C_Initialize is in state %lu, expected "
                        "CKS_RO_PUBLIC_SESSION (the parent's login leaked into the child)\n",
                (unsigned long)si.state);
        return 0;
    }
    if (!itest_check("child: C_Login", fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)ITEST_PIN,
                                                   strlen(ITEST_PIN)), CKR_OK))
        return 0;
    if (!itest_check("child: private key and certificate", itest_key_and_cert(fl, s, &key, &pub),
                     CKR_OK))
        return 0;
    ok = sign_and_verify(s, key, pub, "child");
    EVP_PKEY_free(pub);
    ok &= itest_check("child: C_Logout", fl->C_Logout(s), CKR_OK);
    ok &= itest_check("child: C_CloseSession", fl->C_CloseSession(s), CKR_OK);
    ok &= itest_check("child: C_Finalize", fl->C_Finalize(NULL), CKR_OK);
    return ok;
}

/* Forks; the child runs fn (NULL: exits at once) and the parent waits. */
static int run_child(const char *name, int (*fn)(void))
{
    pid_t pid;
    int status;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        alarm(CHILD_TIMEOUT);
        if (fn == NULL)
            exit(0);
        _exit(fn() ? 0 : 1);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 0;
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "FAIL: %s: killed by signal %d%s\n", name, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (it hung)" : "");
        return 0;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "FAIL: %s: exit status %d\n", name, WEXITSTATUS(status));
        return 0;
    }
    printf("%s: ok\n", name);
    return 1;
}

int main(void)
{
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    EVP_PKEY *pub = NULL;
    void *handle = NULL;
    int ok = 1;

    setvbuf(stdout, NULL, _IOLBF, 0);
    fl = itest_load(NULL, &handle);
    if (fl == NULL)
        return 1;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    if (!itest_check("C_Initialize", fl->C_Initialize(&args), CKR_OK) ||
        !itest_check("finding the RSA256_ token", itest_find_slot(fl, "RSA256_", &slot), CKR_OK) ||
        !itest_check("C_OpenSession", fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
                     CKR_OK) ||
        !itest_check("C_Login", fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)ITEST_PIN,
                                            strlen(ITEST_PIN)), CKR_OK) ||
        !itest_check("private key and certificate", itest_key_and_cert(fl, s, &key, &pub), CKR_OK) ||
        !sign_and_verify(s, key, pub, "parent before fork")) {
        printf("FAIL: test_fork\n");
        return 1;
    }

    ok &= run_child("child 1 (C_Initialize, login, sign, C_Finalize)", child_reinit);
    ok &= logged_in(s, "parent after child 1");
    ok &= sign_and_verify(s, key, pub, "parent after child 1");

    ok &= run_child("child 2 (exits at once)", NULL);
    ok &= logged_in(s, "parent after child 2");
    ok &= sign_and_verify(s, key, pub, "parent after child 2");

    EVP_PKEY_free(pub);
    ok &= itest_check("C_Logout", fl->C_Logout(s), CKR_OK);
    ok &= itest_check("C_CloseSession", fl->C_CloseSession(s), CKR_OK);
    ok &= itest_check("C_Finalize", fl->C_Finalize(NULL), CKR_OK);
    printf("%s\n", ok ? "PASS: test_fork" : "FAIL: test_fork");
    return ok ? 0 : 1;
}
