/* Module loading, return-code names and session chores. */
#include "p11.h"
#include "pin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KZP11_DEFAULT_MODULE
#error "KZP11_DEFAULT_MODULE must name the installed module (see tool.am)"
#endif

const char *kzt_module_path(const kzt_opts *o)
{
    const char *env = getenv("KZP11_MODULE");

    if (o->module)
        return o->module;
    if (env && *env)
        return env;
    return KZP11_DEFAULT_MODULE;
}

int kzt_p11_load(kzt_p11 *m, const char *path)
{
    CK_C_GetFunctionList get;
    CK_RV rv;

    memset(m, 0, sizeof(*m));
    m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!m->dl) {
        kzt_err("cannot load the PKCS#11 module %s: %s", path, dlerror());
        return KZT_ETOKEN;
    }
    /* POSIX guarantees a data pointer round-trips through void *, and
     * dlsym's result is one; the cast through it is the sanctioned idiom. */
    *(void **)&get = dlsym(m->dl, "C_GetFunctionList");
    if (!get) {
        kzt_err("%s is not a PKCS#11 module (no C_GetFunctionList)", path);
        kzt_p11_unload(m);
        return KZT_ETOKEN;
    }
    rv = get(&m->f);
    if (rv != CKR_OK || !m->f) {
        kzt_p11_unload(m);
        return kzt_p11_fail("C_GetFunctionList", rv != CKR_OK ? rv : CKR_GENERAL_ERROR);
    }
    rv = m->f->C_Initialize(NULL);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        kzt_p11_unload(m);
        return kzt_p11_fail("initialising the module", rv);
    }
    m->initialized = (rv == CKR_OK);
    return KZT_OK;
}

void kzt_p11_unload(kzt_p11 *m)
{
    if (m->initialized && m->f)
        m->f->C_Finalize(NULL);
    /* No dlclose: the process ends right after, and a module may keep
     * process-wide caches or atexit handlers past C_Finalize (kzp11 keeps
     * its GOST tables), which unloading would turn into leaks or crashes. */
    memset(m, 0, sizeof(*m));
}

static const struct {
    CK_RV rv;
    const char *name, *hint;
} ckr_table[] = {
    { CKR_OK, "CKR_OK", NULL },
    { CKR_CANCEL, "CKR_CANCEL", NULL },
    { CKR_HOST_MEMORY, "CKR_HOST_MEMORY", "out of memory" },
    { CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", "no such slot" },
    { CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", NULL },
    { CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", NULL },
    { CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", NULL },
    { CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY", NULL },
    { CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", NULL },
    { CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID", "the token does not support this kind of object" },
    { CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID", "the token refused a value; a certificate must be valid DER" },
    { CKR_DATA_INVALID, "CKR_DATA_INVALID", NULL },
    { CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", NULL },
    { CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", "the token or its file could not be read or written" },
    { CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", "no room on the token; a file container holds one key" },
    { CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", "the token was removed" },
    { CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED", NULL },
    { CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", "the module does not implement this" },
    { CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", NULL },
    { CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", "key size not supported" },
    { CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", NULL },
    { CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED", "the key may not be used for this" },
    { CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", "the token does not support this algorithm" },
    { CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID", NULL },
    { CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", NULL },
    { CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", NULL },
    { CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED", NULL },
    { CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", "wrong password" },
    { CKR_PIN_INVALID, "CKR_PIN_INVALID", "the password breaks the token's rules: Latin upper- and lower-case letters and digits" },
    { CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", "the password is too short or too long" },
    { CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", "the password has expired" },
    { CKR_PIN_LOCKED, "CKR_PIN_LOCKED", "the PIN is locked" },
    { CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", NULL },
    { CKR_SESSION_COUNT, "CKR_SESSION_COUNT", NULL },
    { CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", NULL },
    { CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKR_SESSION_PARALLEL_NOT_SUPPORTED", NULL },
    { CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY", "the token is read-only" },
    { CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS", "another program has the token open" },
    { CKR_SESSION_READ_ONLY_EXISTS, "CKR_SESSION_READ_ONLY_EXISTS", NULL },
    { CKR_SESSION_READ_WRITE_SO_EXISTS, "CKR_SESSION_READ_WRITE_SO_EXISTS", NULL },
    { CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID", NULL },
    { CKR_SIGNATURE_LEN_RANGE, "CKR_SIGNATURE_LEN_RANGE", NULL },
    { CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", NULL },
    { CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT", "the token refused the object; a certificate must be for the token's key" },
    { CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", "no token in the slot" },
    { CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", NULL },
    { CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED", "the token is write-protected" },
    { CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", NULL },
    { CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", "log in first" },
    { CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED", "the token has no password yet" },
    { CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", NULL },
    { CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN", NULL },
    { CKR_USER_TOO_MANY_TYPES, "CKR_USER_TOO_MANY_TYPES", NULL },
    { CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG", NULL },
    { CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID", "the token does not support this curve" },
    { CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED", "the token does not support this curve" },
    { CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", NULL },
    { CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", NULL },
    { CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED", NULL },
};

const char *kzt_ckr_name(CK_RV rv)
{
    static char buf[32];
    size_t i;

    for (i = 0; i < sizeof(ckr_table) / sizeof(ckr_table[0]); i++)
        if (ckr_table[i].rv == rv)
            return ckr_table[i].name;
    snprintf(buf, sizeof(buf), "CKR_0x%08lX", (unsigned long)rv);
    return buf;
}

const char *kzt_ckr_hint(CK_RV rv)
{
    size_t i;

    for (i = 0; i < sizeof(ckr_table) / sizeof(ckr_table[0]); i++)
        if (ckr_table[i].rv == rv)
            return ckr_table[i].hint;
    return NULL;
}

int kzt_ckr_exit(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return KZT_OK;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LOCKED:
    case CKR_PIN_EXPIRED:
        return KZT_EPIN;
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
        return KZT_ENEWPIN;
    default:
        return KZT_ETOKEN;
    }
}

int kzt_p11_fail(const char *what, CK_RV rv)
{
    const char *hint = kzt_ckr_hint(rv);

    if (hint)
        kzt_err("%s failed: %s (%s)", what, kzt_ckr_name(rv), hint);
    else
        kzt_err("%s failed: %s", what, kzt_ckr_name(rv));
    return kzt_ckr_exit(rv);
}

void kzt_field(const CK_UTF8CHAR *padded, size_t n, char *out)
{
    memcpy(out, padded, n);
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
        n--;
    out[n] = '\0';
}

int kzt_find_token(kzt_p11 *m, const char *label, CK_SLOT_ID *slot)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0, i, found = 0;
    CK_RV rv;

    rv = m->f->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv == CKR_OK && n > 0) {
        slots = calloc(n, sizeof(*slots));
        if (!slots)
            return kzt_p11_fail("listing slots", CKR_HOST_MEMORY);
        rv = m->f->C_GetSlotList(CK_TRUE, slots, &n);
    }
    if (rv != CKR_OK) {
        free(slots);
        return kzt_p11_fail("listing slots", rv);
    }
    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char tl[sizeof(ti.label) + 1];

        if (m->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        kzt_field(ti.label, sizeof(ti.label), tl);
        if (strcmp(tl, label) != 0)
            continue;
        if (found++ == 0)
            *slot = slots[i];
    }
    free(slots);
    if (found == 0) {
        kzt_err("no token labelled '%s' (see: kzp11-tool list)", label);
        return KZT_ETOKEN;
    }
    if (found > 1) {
        kzt_err("%lu tokens are labelled '%s'; cannot tell which one is meant",
                (unsigned long)found, label);
        return KZT_ETOKEN;
    }
    return KZT_OK;
}

int kzt_login(kzt_p11 *m, CK_SESSION_HANDLE sess, const char *token_label,
              const kzt_opts *o)
{
    kzt_pin pin;
    char prompt[128];
    CK_RV rv;
    int rc;

    snprintf(prompt, sizeof(prompt), "Password for %s: ", token_label);
    rc = kzt_pin_get(&pin, o->pin_file, "KZP11_PIN", prompt, 0);
    if (rc != KZT_OK)
        return rc;
    rv = m->f->C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)pin.data, (CK_ULONG)pin.len);
    kzt_pin_clear(&pin);
    if (rv == CKR_USER_ALREADY_LOGGED_IN)
        rv = CKR_OK;
    if (rv != CKR_OK)
        return kzt_p11_fail("login", rv);
    return KZT_OK;
}

int kzt_open_session(kzt_p11 *m, CK_SLOT_ID slot, int rw, int login,
                     const kzt_opts *o, CK_SESSION_HANDLE *sess)
{
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    CK_RV rv;
    int rc;

    rv = m->f->C_OpenSession(slot, flags, NULL, NULL, sess);
    if (rv != CKR_OK)
        return kzt_p11_fail("opening a session", rv);
    if (!login)
        return KZT_OK;
    rc = kzt_login(m, *sess, o->token ? o->token : "the token", o);
    if (rc != KZT_OK) {
        m->f->C_CloseSession(*sess);
        *sess = CK_INVALID_HANDLE;
    }
    return rc;
}

int kzt_token_begin(kzt_p11 *m, const kzt_opts *o, int rw, int login,
                    CK_SLOT_ID *slot, CK_SESSION_HANDLE *sess)
{
    int rc;

    *sess = CK_INVALID_HANDLE;
    if ((rc = kzt_p11_load(m, kzt_module_path(o))) != KZT_OK)
        return rc;
    rc = kzt_find_token(m, o->token, slot);
    if (rc == KZT_OK)
        rc = kzt_open_session(m, *slot, rw, login, o, sess);
    if (rc != KZT_OK)
        kzt_p11_unload(m);
    return rc;
}

void kzt_token_end(kzt_p11 *m, CK_SESSION_HANDLE sess)
{
    if (sess != CK_INVALID_HANDLE && m->f)
        m->f->C_CloseSession(sess);
    kzt_p11_unload(m);
}

CK_RV kzt_attr(kzt_p11 *m, CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE obj,
               CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len)
{
    CK_ATTRIBUTE a = { type, NULL, 0 };
    CK_RV rv;

    *val = NULL;
    *len = 0;
    rv = m->f->C_GetAttributeValue(sess, obj, &a, 1);
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return CKR_ATTRIBUTE_TYPE_INVALID;
    a.pValue = malloc(a.ulValueLen ? a.ulValueLen : 1);
    if (!a.pValue)
        return CKR_HOST_MEMORY;
    rv = m->f->C_GetAttributeValue(sess, obj, &a, 1);
    if (rv != CKR_OK) {
        free(a.pValue);
        return rv;
    }
    *val = a.pValue;
    *len = a.ulValueLen;
    return CKR_OK;
}

CK_RV kzt_attr_ulong(kzt_p11 *m, CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, CK_ULONG *val)
{
    CK_ATTRIBUTE a = { type, val, sizeof(*val) };

    return m->f->C_GetAttributeValue(sess, obj, &a, 1);
}

void kzt_add_attr(CK_ATTRIBUTE *t, CK_ULONG *n, CK_ATTRIBUTE_TYPE type, const void *val, size_t len)
{
    t[*n].type = type;
    /* CK_ATTRIBUTE has no const member; the module only reads it here. */
    t[*n].pValue = (void *)val;
    t[*n].ulValueLen = (CK_ULONG)len;
    (*n)++;
}

CK_RV kzt_find(kzt_p11 *m, CK_SESSION_HANDLE sess, CK_ATTRIBUTE *tmpl,
               CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
    CK_RV rv, rv2;

    *count = 0;
    rv = m->f->C_FindObjectsInit(sess, tmpl, n);
    if (rv != CKR_OK)
        return rv;
    rv = m->f->C_FindObjects(sess, out, max, count);
    rv2 = m->f->C_FindObjectsFinal(sess);
    return rv != CKR_OK ? rv : rv2;
}
