/* The soft token driver: one token per NCA PKCS#12 container file. Before
 * login a container shows only what its file name says: the NCA encrypts
 * even the certificate. C_Login decrypts the whole file once and keeps the
 * key ready, so signing never re-parses or re-derives anything. */
#include "softtoken.h"
#include "softtoken_internal.h"
#include "cert_info.h"
#include "keystore.h"
#include "log.h"
#include "nca_names.h"
#include "p12_container.h"
#include "slot_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every container kind's mechanisms: before login the token cannot know
 * which kind of key a file holds, and the key type decides at SignInit. */
static const CK_MECHANISM_TYPE mechs[] = {
    CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS_PSS,
    CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS,
    CKM_SHA1_RSA_PKCS_PSS, CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS,
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_GOSTR3410, CKM_GOSTR3410_512, CKM_GOSTR3410_WITH_GOSTR3411,
    CKM_GOSTR3410_WITH_GOSTR3411_2012_256, CKM_GOSTR3410_WITH_GOSTR3411_2012_512,
    CKM_GOSTR3410_KEY_PAIR_GEN, CKM_GOSTR3410_512_KEY_PAIR_GEN,
};

/* ---- Contents ----------------------------------------------------------------- */

void kz_st_forget(softtoken *st)
{
    kz_pkey_free(st->key);
    st->key = NULL;
    free(st->cert);
    st->cert = NULL;
    st->cert_len = 0;
    st->id_len = 0;
    st->obj_label[0] = '\0';
    kz_secret_clear(&st->password);
    st->user = KZ_NOBODY;
}

CK_RV kz_st_open(softtoken *st, const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
    unsigned char *data = NULL;
    size_t len = 0;
    kz_p12_contents c;
    kz_cert_info ci;
    kz_pkey *key = NULL;
    CK_RV rv;

    if (!st->path || st->gone)
        return CKR_TOKEN_NOT_RECOGNIZED;
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
    /* A container made by C_InitToken holds no key until one is generated. */
    if (c.pkcs8_der && !(key = kz_pkey_from_pkcs8(c.pkcs8_der, c.pkcs8_len))) {
        KZ_DEBUG("%s: the key is malformed or of an unknown kind", st->path);
        kz_p12_contents_clear(&c);
        return CKR_DEVICE_ERROR;
    }
    kz_st_forget(st);
    if (kz_secret_set(&st->password, pin, pin_len) != 0) {
        kz_pkey_free(key);
        kz_p12_contents_clear(&c);
        return CKR_HOST_MEMORY;
    }
    st->key = key;
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
    return CKR_OK;
}

CK_RV kz_st_set_path(softtoken *st, const char *path)
{
    char *p = strdup(path), *k = strdup(path);

    if (!p || !k) {
        free(p);
        free(k);
        return CKR_HOST_MEMORY;
    }
    free(st->path);
    free(st->slot_key);
    st->path = p;
    st->slot_key = k;
    kz_nca_token_names(path, st->label, st->serial);
    return CKR_OK;
}

/* ---- Driver ops ------------------------------------------------------------------- */

static CK_RV st_get_info(kz_token *t, CK_TOKEN_INFO *info)
{
    softtoken *st = t->drv;

    kz_pad_field(info->label, sizeof(info->label), st->label);
    kz_pad_field(info->manufacturerID, sizeof(info->manufacturerID), "kzp11");
    kz_pad_field(info->model, sizeof(info->model), "PKCS#12 file");
    kz_pad_field(info->serialNumber, sizeof(info->serialNumber), st->serial);
    info->flags = CKF_RNG | CKF_LOGIN_REQUIRED;
    /* A free slot is an uninitialised token: C_InitToken makes a container. */
    if (st->path)
        info->flags |= CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
    info->ulMinPinLen = 1;      /* existing containers may predate the rules */
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
    CK_RV rv;

    if (!st->path)
        return user == CKU_USER ? CKR_USER_PIN_NOT_INITIALIZED : CKR_PIN_INCORRECT;
    /* A container has one password: its holder is both user and officer. */
    rv = kz_st_open(st, pin, pin_len);
    if (rv == CKR_OK)
        st->user = user;
    return rv;
}

static CK_RV st_logout(kz_token *t)
{
    kz_st_forget(t->drv);
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

    if (st->user == KZ_NOBODY || st->gone)
        return CKR_OK;
    if (st->cert) {
        rv = kz_token_model_add_cert(out, st->id, st->id_len, st->obj_label, st->cert, st->cert_len);
        if (rv != CKR_OK)
            return rv;
    }
    if (!st->key)
        return CKR_OK;
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

static const char *st_slot_key(kz_token *t)
{
    softtoken *st = t->drv;
    return st->slot_key;
}

static void st_release(kz_token *t)
{
    softtoken *st = t->drv;

    if (!st)
        return;
    kz_st_forget(st);
    free(st->path);
    free(st->dir);
    free(st->slot_key);
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
    .init_token = kz_st_init_token,
    .init_pin = kz_st_init_pin,
    .set_pin = kz_st_set_pin,
    .generate_keypair = kz_st_generate_keypair,
    .store_certificate = kz_st_store_certificate,
    .destroy_object = kz_st_destroy_object,
    .slot_key = st_slot_key,
    .release = st_release,
};
