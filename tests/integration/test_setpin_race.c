/* 20 C_SetPIN calls from 4 processes racing on one container: the folder
 * lock must serialise them so that afterwards the container opens with
 * exactly one of the passwords that were set, and with none of the others.
 *
 * Each process knows every password in play and, for each of its changes,
 * tries the current candidates as the old password until one is accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_p11.h"

#define PROCS 4
#define CHANGES 5
#define N_PW (PROCS * CHANGES + 1)

static char pw[N_PW][16];

static CK_RV open_rw(CK_FUNCTION_LIST_PTR f, const char *label, CK_SESSION_HANDLE *s)
{
    CK_SLOT_ID slot;
    CK_RV rv = itest_find_slot(f, label, &slot);

    if (rv != CKR_OK)
        return rv;
    return f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
}

static int child(const char *module, const char *label, int who)
{
    void *h;
    CK_FUNCTION_LIST_PTR f = itest_load(module, &h);
    CK_SESSION_HANDLE s;
    int done = 0;

    if (!f || f->C_Initialize(NULL) != CKR_OK || open_rw(f, label, &s) != CKR_OK)
        return 2;
    for (int c = 0; c < CHANGES; c++) {
        const char *mine = pw[1 + who * CHANGES + c];
        int ok = 0;
        /* Someone else's change may land between our attempts: go round
         * the candidates until one is the current password. */
        for (int round = 0; round < 200 && !ok; round++)
            for (int i = 0; i < N_PW && !ok; i++) {
                CK_RV rv = f->C_SetPIN(s, (CK_UTF8CHAR_PTR)pw[i], strlen(pw[i]),
                                       (CK_UTF8CHAR_PTR)mine, strlen(mine));
                if (rv == CKR_OK)
                    ok = 1;
                else if (rv != CKR_PIN_INCORRECT) {
                    fprintf(stderr, "    FAIL: process %d: C_SetPIN: %s\n", who, itest_rv(rv));
                    return 1;
                }
            }
        done += ok;
    }
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return done == CHANGES ? 0 : 1;
}

int main(void)
{
    const char *module = getenv("KZP11_MODULE");
    const char *label = getenv("RACE_TOKEN");
    pid_t pids[PROCS];
    int failed = 0, opens = 0;
    void *h;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE s;

    if (!module || !label) {
        fprintf(stderr, "KZP11_MODULE and RACE_TOKEN must be set\n");
        return 2;
    }
    snprintf(pw[0], sizeof(pw[0]), "%s", ITEST_PIN);
    for (int i = 1; i < N_PW; i++)
        snprintf(pw[i], sizeof(pw[i]), "Race%02dPass", i);
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        if (pids[p] == 0)
            _exit(child(module, label, p));
    }
    for (int p = 0; p < PROCS; p++) {
        int st;
        if (waitpid(pids[p], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "    FAIL: process %d did not make its %d changes\n", p, CHANGES);
            failed = 1;
        }
    }
    /* Exactly one password opens the container now. */
    f = itest_load(module, &h);
    if (!f || f->C_Initialize(NULL) != CKR_OK || open_rw(f, label, &s) != CKR_OK) {
        fprintf(stderr, "    FAIL: cannot reopen the module\n");
        return 1;
    }
    for (int i = 0; i < N_PW; i++) {
        CK_RV rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pw[i], strlen(pw[i]));
        if (rv == CKR_OK) {
            opens++;
            f->C_Logout(s);
        } else if (rv != CKR_PIN_INCORRECT) {
            fprintf(stderr, "    FAIL: login with candidate %d: %s\n", i, itest_rv(rv));
            failed = 1;
        }
    }
    f->C_Finalize(NULL);
    if (opens != 1) {
        fprintf(stderr, "    FAIL: %d passwords open the container, expected exactly 1\n", opens);
        failed = 1;
    }
    printf("    %d processes x %d password changes: %s\n", PROCS, CHANGES, failed ? "FAILED" : "ok");
    return failed;
}
