/* Before login a container shows only what its file name says: the NCA
 * encrypts even the certificate. C_Login decrypts the whole file once and
 * keeps the key ready, so signing never re-parses or re-derives anything. */
#include "softtoken.h"
#include "cert_info.h"
#include "keystore.h"
#include "log.h"
#include "p12_container.h"
#include "slot_table.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROVIDER "softtoken"
static const char provider[] = PROVIDER;

typedef struct softtoken {
    char *path;
    char label[33];
    char serial[17];
    int logged_in;
    kz_pkey *key;                 /* private key, after login */
    unsigned char *cert;
    size_t cert_len;
    unsigned char id[KZ_MAX_ID];
    size_t id_len;
    char obj_label[KZ_MAX_LABEL];
    unsigned usage;
} softtoken;

/* Every container kind's mechanisms: before login the token cannot know
 * which kind of key a file holds, and the key type decides at SignInit. */
static const CK_MECHANISM_TYPE mechs[] = {
    CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS_PSS,
    CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS,
    CKM_SHA1_RSA_PKCS_PSS, CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS,
    CKM_GOSTR3410, CKM_GOSTR3410_512, CKM_GOSTR3410_WITH_GOSTR3411,
    CKM_GOSTR3410_WITH_GOSTR3411_2012_256, CKM_GOSTR3410_WITH_GOSTR3411_2012_512,
    CKM_GOSTR3410_KEY_PAIR_GEN, CKM_GOSTR3410_512_KEY_PAIR_GEN,
};

/* ---- Names ---------------------------------------------------------------- */

void kz_softtoken_names(const char *path, char label[33], char serial[17])
{
    const char *base = strrchr(path, '/');
    const char *hex;
    size_t n, i, h = 0;

    base = base ? base + 1 : path;
    n = strlen(base);
    if (n > 4 && base[n - 4] == '.')
        n -= 4;
    if (n > 32)
        n = 32;
    /* Do not cut a UTF-8 sequence in half. */
    while (n > 0 && n < strlen(base) && ((unsigned char)base[n] & 0xC0) == 0x80)
        n--;
    memcpy(label, base, n);
    label[n] = '\0';
    /* NSS builds nicknames as "token:object"; a ':' in the label breaks them. */
    for (i = 0; i < n; i++)
        if (label[i] == ':')
            label[i] = '_';

    hex = strrchr(base, '_');
    hex = hex ? hex + 1 : base;
    while (h < 16 && isxdigit((unsigned char)hex[h]))
        h++;
    if (h >= 8) {
        for (i = 0; i < h; i++)
            serial[i] = (char)tolower((unsigned char)hex[i]);
        serial[h] = '\0';
    } else {
        /* No hex in the name: a stable serial from the name itself (FNV-1a). */
        unsigned long long x = 1469598103934665603ULL;
        for (const char *p = base; *p; p++)
            x = (x ^ (unsigned char)*p) * 1099511628211ULL;
        snprintf(serial, 17, "%016llx", x);
    }
}

/* ---- Driver ops ----------------------------------------------------------- */

static void clear_login(softtoken *st)
{
    kz_pkey_free(st->key);
    st->key = NULL;
    free(st->cert);
    st->cert = NULL;
    st->cert_len = 0;
    st->logged_in = 0;
}

static void pad(unsigned char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);

    memset(dst, ' ', len);
    memcpy(dst, src, n < len ? n : len);
}

static CK_RV st_get_info(kz_token *t, CK_TOKEN_INFO *info)
{
    softtoken *st = t->drv;

    pad(info->label, sizeof(info->label), st->label);
    pad(info->manufacturerID, sizeof(info->manufacturerID), "kzp11");
    pad(info->model, sizeof(info->model), "PKCS#12 file");
    pad(info->serialNumber, sizeof(info->serialNumber), st->serial);
    info->flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
    info->ulMinPinLen = 1;
    info->ulMaxPinLen = 256;
    return CKR_OK;
}

static CK_RV st_get_mechanisms(kz_token *t, const CK_MECHANISM_TYPE **list, size_t *n)
{
    *list = mechs;
    *n = sizeof(mechs) / sizeof(mechs[0]);
    return CKR_OK;
}

static CK_RV st_login(kz_token *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
    softtoken *st = t->drv;
    unsigned char *data = NULL;
    size_t len = 0;
    kz_p12_contents c;
    kz_cert_info ci;
    CK_RV rv;

    /* A container has one password and no security officer. */
    if (user != CKU_USER)
        return CKR_USER_TYPE_INVALID;
    if (kz_keystore_read(st->path, &data, &len) != 0) {
        KZ_DEBUG("%s: cannot read", st->path);
        return CKR_DEVICE_ERROR;
    }
    rv = kz_p12_open(data, len, (const char *)pin, pin_len, kz_crypto_libctx(), &c);
    free(data);
    if (rv != CKR_OK) {
        KZ_DEBUG("%s: open: %s", st->path, kz_rv_name(rv));
        return rv;
    }
    clear_login(st);
    st->key = kz_pkey_from_pkcs8(c.pkcs8_der, c.pkcs8_len);
    if (!st->key) {
        KZ_DEBUG("%s: key algorithm not supported", st->path);
        kz_p12_contents_clear(&c);
        return CKR_DEVICE_ERROR;
    }
    st->id_len = c.local_key_id_len < KZ_MAX_ID ? c.local_key_id_len : KZ_MAX_ID;
    memcpy(st->id, c.local_key_id, st->id_len);
    /* The friendlyName (NCA: the SKI in hex) names the objects; long ones are cut. */
    snprintf(st->obj_label, sizeof(st->obj_label), "%.*s", (int)sizeof(st->obj_label) - 1,
             c.friendly_name[0] ? c.friendly_name : st->label);
    st->usage = KZ_USAGE_SIGN;
    if (c.cert_der) {
        st->cert = c.cert_der;
        st->cert_len = c.cert_len;
        c.cert_der = NULL;
        if (kz_cert_info_parse(st->cert, st->cert_len, &ci) == CKR_OK) {
            st->usage = kz_cert_info_usage(&ci);
            /* No localKeyID: the SKI is what NCA files use, so use it too. */
            if (st->id_len == 0 && ci.ski_len) {
                st->id_len = ci.ski_len;
                memcpy(st->id, ci.ski, ci.ski_len);
            }
            kz_cert_info_clear(&ci);
        }
    }
    kz_p12_contents_clear(&c);
    st->logged_in = 1;
    return CKR_OK;
}

static CK_RV st_logout(kz_token *t)
{
    clear_login(t->drv);
    return CKR_OK;
}

static void free_priv(void *p)
{
    kz_pkey_free(p);
}

static CK_RV st_load_model(kz_token *t, kz_token_model *out)
{
    softtoken *st = t->drv;
    kz_model_key *k;
    CK_RV rv;

    if (!st->logged_in)
        return CKR_OK;
    if (st->cert) {
        rv = kz_token_model_add_cert(out, st->id, st->id_len, st->obj_label, st->cert, st->cert_len);
        if (rv != CKR_OK)
            return rv;
    }
    k = kz_model_key_new();
    if (!k)
        return CKR_HOST_MEMORY;
    memcpy(k->id, st->id, st->id_len);
    k->id_len = st->id_len;
    snprintf(k->label, sizeof(k->label), "%s", st->obj_label);
    /* The private key carries its public half; one object serves both. */
    k->pub = kz_pkey_up_ref(st->key);
    k->priv = kz_pkey_up_ref(st->key);
    k->priv_free = free_priv;
    k->usage = st->usage;
    rv = kz_token_model_add_key(out, k);
    if (rv != CKR_OK)
        kz_model_key_unref(k);
    return rv;
}

static CK_RV st_sign(kz_token *t, const kz_model_key *key, const kz_sig_params *p,
                     const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    return kz_pkey_sign(key->priv, p, in, inlen, out, outlen);
}

static CK_RV st_decrypt(kz_token *t, const kz_model_key *key, const kz_enc_params *p,
                        const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    return kz_pkey_decrypt(key->priv, p, in, inlen, out, outlen);
}

static void st_release(kz_token *t)
{
    softtoken *st = t->drv;

    if (!st)
        return;
    clear_login(st);
    free(st->path);
    free(st);
    t->drv = NULL;
}

const kz_token_ops kz_softtoken_ops = {
    .name = "softtoken",
    .get_info = st_get_info,
    .get_mechanisms = st_get_mechanisms,
    .login = st_login,
    .logout = st_logout,
    .load_model = st_load_model,
    .sign = st_sign,
    .decrypt = st_decrypt,
    .release = st_release,
};

/* ---- Slot provider -------------------------------------------------------- */

static CK_RV make_token(const char *path, void *ctx, kz_token *out)
{
    softtoken *st = calloc(1, sizeof(*st));

    if (!st || !(st->path = strdup(path))) {
        free(st);
        return CKR_HOST_MEMORY;
    }
    kz_softtoken_names(path, st->label, st->serial);
    out->ops = &kz_softtoken_ops;
    out->drv = st;
    return CKR_OK;
}

/* Files that are not containers, remembered by identity so a folder full of
 * them is not re-read on every C_GetSlotList. */
typedef struct rejected {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} rejected;
static rejected *rej;
static size_t n_rej;

static int same_file(const rejected *r, const struct stat *st)
{
    return r->dev == st->st_dev && r->ino == st->st_ino && r->size == st->st_size
           && r->mtime.tv_sec == st->st_mtim.tv_sec && r->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static int known_rejected(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return 1;
    for (size_t i = 0; i < n_rej; i++)
        if (strcmp(rej[i].path, path) == 0) {
            if (same_file(&rej[i], &st))
                return 1;
            free(rej[i].path);
            rej[i] = rej[--n_rej];
            return 0;
        }
    return 0;
}

static void remember_rejected(const char *path)
{
    struct stat st;
    rejected *v;

    if (stat(path, &st) != 0 || !(v = realloc(rej, (n_rej + 1) * sizeof(*v))))
        return;
    rej = v;
    rej[n_rej].path = strdup(path);
    if (!rej[n_rej].path)
        return;
    rej[n_rej].dev = st.st_dev;
    rej[n_rej].ino = st.st_ino;
    rej[n_rej].size = st.st_size;
    rej[n_rej].mtime = st.st_mtim;
    n_rej++;
}

static int slot_has(const char *path)
{
    for (size_t i = 0; i < kz_slots_count(); i++) {
        kz_slot *s = kz_slots_at(i);
        if (s->provider == provider && s->present && strcmp(s->key, path) == 0)
            return 1;
    }
    return 0;
}

/* A new file must at least have the outer PKCS#12 structure to be shown. */
static int acceptable(const char *path)
{
    unsigned char *data;
    size_t len;
    int ok;

    if (slot_has(path))
        return 1;
    if (known_rejected(path))
        return 0;
    ok = kz_keystore_read(path, &data, &len) == 0;
    if (ok) {
        ok = kz_p12_probe(data, len);
        free(data);
    }
    if (!ok) {
        KZ_DEBUG("%s: not a PKCS#12 container, skipped", path);
        remember_rejected(path);
    }
    return ok;
}

void kz_softtoken_sync(const kz_config *cfg)
{
    char **paths;
    size_t n, kept = 0;

    if (kz_keystore_list(cfg, &paths, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (acceptable(paths[i]))
            paths[kept++] = paths[i];
        else
            free(paths[i]);
    }
    kz_slots_sync(provider, paths, kept, make_token, NULL, "kzp11 file ");
    kz_keystore_free_list(paths, kept);
}
