/* list: slots and tokens; after login, keys and certificates with what
 * the NCA certificate says about its owner. */
#include "certfile.h"
#include "nca_profile.h"
#include "p11.h"
#include "pin.h"
#include "tokenkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>

#define MAX_OBJS 64

static const struct {
    CK_FLAGS bit;
    const char *name;
} token_flags[] = {
    { CKF_TOKEN_INITIALIZED, "initialized" },
    { CKF_LOGIN_REQUIRED, "login required" },
    { CKF_USER_PIN_INITIALIZED, "password set" },
    { CKF_WRITE_PROTECTED, "write-protected" },
    { CKF_PROTECTED_AUTHENTICATION_PATH, "PIN pad" },
    { CKF_USER_PIN_COUNT_LOW, "wrong password entered recently" },
    { CKF_USER_PIN_FINAL_TRY, "last try before lock" },
    { CKF_USER_PIN_LOCKED, "password locked" },
    { CKF_USER_PIN_TO_BE_CHANGED, "password must be changed" },
    { CKF_RNG, "rng" },
};

static void print_flags(CK_FLAGS flags)
{
    const char *sep = "";
    size_t i;

    printf("  flags:          ");
    for (i = 0; i < sizeof(token_flags) / sizeof(token_flags[0]); i++)
        if (flags & token_flags[i].bit) {
            printf("%s%s", sep, token_flags[i].name);
            sep = ", ";
        }
    printf("\n");
}

static void print_hex_field(const char *what, const unsigned char *b, size_t n)
{
    char *hex = b ? kzt_hex_encode(b, n) : NULL;

    if (hex)
        printf("    %-16s %s\n", what, hex);
    free(hex);
}

static void print_keys(kzt_tokkey *keys, size_t n)
{
    char desc[96];
    size_t i;

    for (i = 0; i < n; i++) {
        printf("  private key:    %s\n", kzt_key_describe(&keys[i], desc, sizeof(desc)));
        print_hex_field("id:", keys[i].id, keys[i].id_len);
        if (keys[i].label)
            printf("    %-16s %s\n", "label:", keys[i].label);
    }
}

static void print_cert(kzt_p11 *m, CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE h,
                       kzt_tokkey *keys, size_t nkeys)
{
    unsigned char *der = NULL, *id = NULL;
    CK_ULONG len = 0, id_len = 0;
    kzt_profile prof;
    X509 *x = NULL;
    size_t i;

    printf("  certificate:\n");
    if (kzt_attr(m, sess, h, CKA_ID, &id, &id_len) == CKR_OK)
        print_hex_field("id:", id, id_len);
    if (kzt_attr(m, sess, h, CKA_VALUE, &der, &len) == CKR_OK)
        x = kzt_cert_from_buffer(der, len);
    if (!x) {
        printf("    (cannot be decoded)\n");
    } else if (kzt_profile_decode(x, &prof) == 0) {
        kzt_profile_print(stdout, &prof, "    ");
        kzt_profile_free(&prof);
        for (i = 0; i < nkeys; i++)
            if (kzt_key_matches_cert(&keys[i], x))
                break;
        printf("    %-16s %s\n", "its key:", i < nkeys ? "on this token" : "not found on this token");
    }
    X509_free(x);
    free(der);
    free(id);
    ERR_clear_error();
}

/* Keys and certificates visible in sess. */
static int print_objects(kzt_p11 *m, CK_SESSION_HANDLE sess, int logged_in, CK_FLAGS flags)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) } };
    CK_OBJECT_HANDLE h[MAX_OBJS];
    CK_ULONG n = 0, i;
    kzt_tokkey *keys = NULL;
    size_t nkeys = 0;
    CK_RV rv;
    int rc;

    if ((rc = kzt_keys_load(m, sess, &keys, &nkeys)) != KZT_OK)
        return rc;
    rv = kzt_find(m, sess, t, 1, h, MAX_OBJS, &n);
    if (rv != CKR_OK) {
        kzt_keys_free(keys, nkeys);
        return kzt_p11_fail("searching for certificates", rv);
    }
    print_keys(keys, nkeys);
    for (i = 0; i < n; i++)
        print_cert(m, sess, h[i], keys, nkeys);
    if (nkeys == 0 && n == 0) {
        if (!logged_in && (flags & CKF_LOGIN_REQUIRED))
            printf("  (log in to see keys and certificates: --login, --pin-file or KZP11_PIN)\n");
        else
            printf("  (no keys or certificates)\n");
    }
    kzt_keys_free(keys, nkeys);
    return KZT_OK;
}

/* Returns an exit code; the listing goes on after a failed token. */
static int list_token(kzt_p11 *m, CK_SLOT_ID slot, const CK_TOKEN_INFO *ti, const char *label,
                      const kzt_opts *o)
{
    CK_SESSION_HANDLE sess;
    char serial[sizeof(ti->serialNumber) + 1], manuf[sizeof(ti->manufacturerID) + 1];
    char model[sizeof(ti->model) + 1];
    int login = o->login || kzt_pin_configured(o->pin_file, "KZP11_PIN");
    int rc = KZT_OK;
    CK_RV rv;

    kzt_field(ti->serialNumber, sizeof(ti->serialNumber), serial);
    kzt_field(ti->manufacturerID, sizeof(ti->manufacturerID), manuf);
    kzt_field(ti->model, sizeof(ti->model), model);
    printf("  token:          %s\n", label);
    printf("  serial:         %s\n", serial);
    printf("  model:          %s%s%s\n", manuf, *manuf && *model ? " " : "", model);
    print_flags(ti->flags);

    rv = m->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &sess);
    if (rv != CKR_OK)
        return kzt_p11_fail("opening a session", rv);
    if (login)
        rc = kzt_login(m, sess, label, o);
    if (rc == KZT_OK)
        rc = print_objects(m, sess, login, ti->flags);
    m->f->C_CloseSession(sess);
    return rc;
}

/* The first failure decides the exit status; later tokens are still listed. */
static int merge(int have, int got)
{
    return have != KZT_OK ? have : got;
}

int kzt_cmd_list(const kzt_opts *o)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0, i;
    int rc, shown = 0, result = KZT_OK;
    kzt_p11 m;
    CK_RV rv;

    if ((rc = kzt_p11_load(&m, kzt_module_path(o))) != KZT_OK)
        return rc;
    /* All slots, not only those with a token: that call is also what
     * makes a keystore folder offer a fresh free slot. */
    rv = m.f->C_GetSlotList(CK_FALSE, NULL, &n);
    if (rv == CKR_OK && n > 0) {
        slots = calloc(n, sizeof(*slots));
        rv = slots ? m.f->C_GetSlotList(CK_FALSE, slots, &n) : CKR_HOST_MEMORY;
    }
    if (rv != CKR_OK) {
        free(slots);
        rc = kzt_p11_fail("listing slots", rv);
        kzt_p11_unload(&m);
        return rc;
    }
    for (i = 0; i < n; i++) {
        CK_SLOT_INFO si;
        CK_TOKEN_INFO ti;
        char desc[sizeof(si.slotDescription) + 1], label[sizeof(ti.label) + 1];
        int has_token;

        if (m.f->C_GetSlotInfo(slots[i], &si) != CKR_OK)
            continue;
        kzt_field(si.slotDescription, sizeof(si.slotDescription), desc);
        has_token = (si.flags & CKF_TOKEN_PRESENT) && m.f->C_GetTokenInfo(slots[i], &ti) == CKR_OK;
        if (has_token)
            kzt_field(ti.label, sizeof(ti.label), label);
        if (o->token && (!has_token || !(ti.flags & CKF_TOKEN_INITIALIZED) || strcmp(label, o->token) != 0))
            continue;
        printf("%sSlot %lu: %s\n", shown++ ? "\n" : "", (unsigned long)slots[i], desc);
        if (!has_token) {
            printf("  (no token)\n");
        } else if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
            printf("  free slot:      no token yet; create one with\n"
                   "                  pkcs11-tool --init-token --slot %lu --label NAME\n",
                   (unsigned long)slots[i]);
        } else {
            result = merge(result, list_token(&m, slots[i], &ti, label, o));
        }
    }
    free(slots);
    kzt_p11_unload(&m);
    if (o->token && shown == 0) {
        kzt_err("no token labelled '%s'", o->token);
        return KZT_ETOKEN;
    }
    if (shown == 0)
        printf("No slots.\n");
    return result;
}
