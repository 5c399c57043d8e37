/* Debug log. Enabled by KZP11_DEBUG; messages never carry PINs or keys —
 * callers pass lengths and return codes, not buffers. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int kz_log_enabled;
static FILE *log_fp;
static int log_fp_owned;

void kz_log_init(const char *file_from_config)
{
    const char *v = getenv("KZP11_DEBUG");

    kz_log_enabled = v && *v && strcmp(v, "0") != 0;
    if (!kz_log_enabled)
        return;
    log_fp = stderr;
    log_fp_owned = 0;
    if (file_from_config && *file_from_config) {
        FILE *f = fopen(file_from_config, "ae");
        if (f) {
            log_fp = f;
            log_fp_owned = 1;
        }
    }
}

void kz_log_fini(void)
{
    if (log_fp_owned && log_fp)
        fclose(log_fp);
    log_fp = NULL;
    log_fp_owned = 0;
    kz_log_enabled = 0;
}

void kz_log_write(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;
    struct timespec ts;

    if (!log_fp)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    n = snprintf(line, sizeof(line), "kzp11[%ld]: %ld.%03ld ", (long)getpid(),
                 (long)ts.tv_sec, ts.tv_nsec / 1000000);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line so lines from threads do not interleave mid-line. */
    flockfile(log_fp);
    fputs(line, log_fp);
    fputc('\n', log_fp);
    fflush(log_fp);
    funlockfile(log_fp);
}

const char *kz_rv_name(CK_RV rv)
{
    switch (rv) {
#define RV(x) case x: return #x;
    RV(CKR_OK) RV(CKR_CANCEL) RV(CKR_HOST_MEMORY) RV(CKR_SLOT_ID_INVALID)
    RV(CKR_GENERAL_ERROR) RV(CKR_FUNCTION_FAILED) RV(CKR_ARGUMENTS_BAD)
    RV(CKR_NEED_TO_CREATE_THREADS) RV(CKR_CANT_LOCK)
    RV(CKR_ATTRIBUTE_READ_ONLY) RV(CKR_ATTRIBUTE_SENSITIVE)
    RV(CKR_ATTRIBUTE_TYPE_INVALID) RV(CKR_ATTRIBUTE_VALUE_INVALID)
    RV(CKR_DATA_INVALID) RV(CKR_DATA_LEN_RANGE) RV(CKR_DEVICE_ERROR)
    RV(CKR_DEVICE_MEMORY) RV(CKR_DEVICE_REMOVED) RV(CKR_ENCRYPTED_DATA_INVALID)
    RV(CKR_ENCRYPTED_DATA_LEN_RANGE) RV(CKR_FUNCTION_CANCELED)
    RV(CKR_FUNCTION_NOT_PARALLEL) RV(CKR_FUNCTION_NOT_SUPPORTED)
    RV(CKR_KEY_HANDLE_INVALID) RV(CKR_KEY_TYPE_INCONSISTENT)
    RV(CKR_KEY_FUNCTION_NOT_PERMITTED) RV(CKR_MECHANISM_INVALID)
    RV(CKR_MECHANISM_PARAM_INVALID) RV(CKR_OBJECT_HANDLE_INVALID)
    RV(CKR_OPERATION_ACTIVE) RV(CKR_OPERATION_NOT_INITIALIZED)
    RV(CKR_PIN_INCORRECT) RV(CKR_PIN_INVALID) RV(CKR_PIN_LEN_RANGE)
    RV(CKR_PIN_EXPIRED) RV(CKR_PIN_LOCKED) RV(CKR_SESSION_CLOSED)
    RV(CKR_SESSION_COUNT) RV(CKR_SESSION_HANDLE_INVALID)
    RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED) RV(CKR_SESSION_READ_ONLY)
    RV(CKR_SESSION_EXISTS) RV(CKR_SESSION_READ_ONLY_EXISTS)
    RV(CKR_SESSION_READ_WRITE_SO_EXISTS) RV(CKR_SIGNATURE_INVALID)
    RV(CKR_SIGNATURE_LEN_RANGE) RV(CKR_TEMPLATE_INCOMPLETE)
    RV(CKR_TEMPLATE_INCONSISTENT) RV(CKR_TOKEN_NOT_PRESENT)
    RV(CKR_TOKEN_NOT_RECOGNIZED) RV(CKR_TOKEN_WRITE_PROTECTED)
    RV(CKR_USER_ALREADY_LOGGED_IN) RV(CKR_USER_NOT_LOGGED_IN)
    RV(CKR_USER_PIN_NOT_INITIALIZED) RV(CKR_USER_TYPE_INVALID)
    RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN) RV(CKR_USER_TOO_MANY_TYPES)
    RV(CKR_RANDOM_NO_RNG) RV(CKR_BUFFER_TOO_SMALL)
    RV(CKR_CRYPTOKI_NOT_INITIALIZED) RV(CKR_CRYPTOKI_ALREADY_INITIALIZED)
    RV(CKR_MUTEX_BAD) RV(CKR_MUTEX_NOT_LOCKED) RV(CKR_KEY_SIZE_RANGE)
#undef RV
    default: return "CKR_?";
    }
}
