/* The NCA application flow on a container file: create an empty container
 * (C_InitToken on a folder's free slot), generate its one key pair, install
 * the issued certificate (and take the NCA's file name), change the
 * password, delete. Every change rewrites the whole file under the folder
 * lock, via a temporary file and rename, so a failure leaves the previous
 * version intact. */
#include "softtoken_internal.h"
#include "cert_info.h"
#include "container_file.h"
#include "log.h"
#include "nca_names.h"
#include "p12_writer.h"
#include "password_policy.h"
#include "slot_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

CK_RV kz_st_save(softtoken *st, const CK_UTF8CHAR *pass, size_t pass_len, int exclusive)
{
    unsigned char *p8 = NULL, *file = NULL;
    size_t p8_len = 0, file_len = 0;
    char name[2 * KZ_MAX_ID + 1];
    CK_RV rv = CKR_OK;

    if (st->key)
        rv = kz_pkey_to_pkcs8(st->key, &p8, &p8_len);
    kz_hex(st->id, st->id_len, name);
    if (rv == CKR_OK)
        rv = kz_p12_build(p8, p8_len, st->cert, st->cert_len, st->id, st->id_len,
                          st->obj_label[0] ? st->obj_label : name, (const char *)pass, pass_len,
                          st->cfg->write_pbes2 ? KZ_P12_WRITE_PBES2 : KZ_P12_WRITE_NCA,
                          kz_crypto_libctx(), &file, &file_len);
    if (p8)
        kz_cleanse(p8, p8_len);
    free(p8);
    if (rv == CKR_OK)
        rv = kz_container_write(st->path, file, file_len, exclusive);
    free(file);
    return rv;
}

/* Re-reads the container under the lock before changing it: another
 * process may have changed it since our login. With the password we hold
 * failing now, our login is stale. */
static CK_RV refresh(softtoken *st)
{
    kz_secret pass = { 0 };
    CK_USER_TYPE user = st->user;
    CK_RV rv;

    if (user == KZ_NOBODY)
        return CKR_USER_NOT_LOGGED_IN;
    if (kz_secret_set(&pass, st->password.data, st->password.len) != 0)
        return CKR_HOST_MEMORY;
    rv = kz_st_open(st, pass.data, pass.len);
    kz_secret_clear(&pass);
    if (rv == CKR_OK)
        st->user = user;
    else if (rv == CKR_PIN_INCORRECT)
        rv = CKR_USER_NOT_LOGGED_IN;
    return rv;
}

static int lock_or_fail(softtoken *st)
{
    int fd = kz_container_lock(st->path ? st->path : st->slot_key);

    if (fd < 0)
        KZ_DEBUG("%s: cannot take the folder lock", st->dir);
    return fd;
}

CK_RV kz_st_init_token(kz_token *t, const CK_UTF8CHAR *pin, CK_ULONG len, const char *label)
{
    softtoken *st = t->drv;
    char *path;
    int fd;
    CK_RV rv;

    if (st->path) {
        /* Re-initialising would destroy a key: the NCA could never re-issue
         * it. A container is emptied by deleting its objects instead. */
        return CKR_ACTION_PROHIBITED;
    }
    rv = kz_password_check(st->cfg, pin, len);
    if (rv != CKR_OK)
        return rv;
    if (mkdir(st->dir, 0700) != 0 && errno != EEXIST)
        return CKR_DEVICE_ERROR;
    fd = lock_or_fail(st);
    if (fd < 0)
        return CKR_DEVICE_ERROR;
    path = kz_nca_new_container_path(st->dir, label);
    if (!path) {
        kz_container_unlock(fd);
        return CKR_DEVICE_ERROR;
    }
    kz_st_forget(st);
    st->path = path;
    snprintf(st->obj_label, sizeof(st->obj_label), "%.*s", (int)sizeof(st->obj_label) - 1, label);
    rv = kz_st_save(st, pin, len, 1);
    st->path = NULL;
    if (rv == CKR_OK)
        rv = kz_st_set_path(st, path);
    kz_container_unlock(fd);
    if (rv == CKR_OK)
        KZ_DEBUG("new container %s", path);
    free(path);
    kz_st_forget(st);
    return rv;
}

/* Rewrites the container under a new password (C_SetPIN, C_InitPIN). */
static CK_RV change_password(softtoken *st, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                             const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
    CK_USER_TYPE user = st->user;
    int fd;
    CK_RV rv;

    rv = kz_password_check(st->cfg, new_pin, new_len);
    if (rv != CKR_OK)
        return rv;
    fd = lock_or_fail(st);
    if (fd < 0)
        return CKR_DEVICE_ERROR;
    /* The old password is checked against the file as it is now. */
    rv = kz_st_open(st, old_pin, old_len);
    if (rv == CKR_OK)
        rv = kz_st_save(st, new_pin, new_len, 0);
    if (rv == CKR_OK && kz_secret_set(&st->password, new_pin, new_len) != 0)
        rv = CKR_HOST_MEMORY;
    kz_container_unlock(fd);
    /* Our login survives a change we made; a failed check ends nothing
     * that was not already stale. */
    if (user == KZ_NOBODY)
        kz_st_forget(st);
    else
        st->user = user;
    return rv;
}

CK_RV kz_st_set_pin(kz_token *t, CK_USER_TYPE user, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                    const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
    softtoken *st = t->drv;

    if (!st->path || st->gone)
        return CKR_USER_PIN_NOT_INITIALIZED;
    return change_password(st, old_pin, old_len, new_pin, new_len);
}

CK_RV kz_st_init_pin(kz_token *t, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    softtoken *st = t->drv;
    kz_secret cur = { 0 };
    CK_RV rv;

    if (st->user != CKU_SO)
        return CKR_USER_NOT_LOGGED_IN;
    if (kz_secret_set(&cur, st->password.data, st->password.len) != 0)
        return CKR_HOST_MEMORY;
    rv = change_password(st, cur.data, cur.len, pin, len);
    kz_secret_clear(&cur);
    return rv == CKR_PIN_INCORRECT ? CKR_USER_NOT_LOGGED_IN : rv;
}

CK_RV kz_st_generate_keypair(kz_token *t, const kz_keygen_request *req, unsigned char *id, size_t *id_len)
{
    softtoken *st = t->drv;
    kz_pkey *key = NULL;
    unsigned char ski[20];
    char hex[2 * KZ_MAX_ID + 1];
    int fd;
    CK_RV rv;

    if (!st->path || st->gone)
        return CKR_USER_PIN_NOT_INITIALIZED;
    fd = lock_or_fail(st);
    if (fd < 0)
        return CKR_DEVICE_ERROR;
    rv = refresh(st);
    if (rv == CKR_OK && st->key) {
        /* One key per container, as the NCA does. */
        KZ_DEBUG("%s already holds a key", st->path);
        rv = CKR_DEVICE_MEMORY;
    }
    if (rv == CKR_OK) {
        if (req->type == CKK_RSA)
            rv = kz_pkey_generate_rsa(req->modulus_bits, req->public_exponent, &key);
        else
            rv = kz_pkey_gost_generate(req->curve_oid, req->curve_oid_len, req->hash_oid,
                                       req->hash_oid_len, &key);
        if (rv == CKR_DOMAIN_PARAMS_INVALID)
            rv = CKR_ATTRIBUTE_VALUE_INVALID;
        if (rv == CKR_OK && kz_pkey_type(key) != req->type)
            rv = CKR_TEMPLATE_INCONSISTENT;
    }
    if (rv == CKR_OK) {
        st->key = key;
        key = NULL;
        if (req->id && req->id_len) {
            memcpy(st->id, req->id, req->id_len);
            st->id_len = req->id_len;
        } else if ((rv = kz_pkey_ski(st->key, ski)) == CKR_OK) {
            /* What the NCA's certificate will carry as its SKI. */
            memcpy(st->id, ski, sizeof(ski));
            st->id_len = sizeof(ski);
        }
        kz_hex(st->id, st->id_len, hex);
        snprintf(st->obj_label, sizeof(st->obj_label), "%.*s", (int)sizeof(st->obj_label) - 1,
                 req->label ? req->label : hex);
        st->usage = KZ_USAGE_SIGN | (req->type == CKK_RSA ? KZ_USAGE_DECRYPT : 0);
    }
    if (rv == CKR_OK)
        rv = kz_st_save(st, st->password.data, st->password.len, 0);
    if (rv != CKR_OK && st->key && !key && rv != CKR_DEVICE_MEMORY)
        refresh(st);        /* back to what the file says */
    kz_container_unlock(fd);
    kz_pkey_free(key);
    if (rv == CKR_OK) {
        memcpy(id, st->id, st->id_len);
        *id_len = st->id_len;
    }
    return rv;
}

CK_RV kz_st_store_certificate(kz_token *t, const unsigned char *der, size_t len, const char *label,
                              unsigned char *id, size_t *id_len)
{
    softtoken *st = t->drv;
    kz_pkey *cert_key = kz_pkey_from_cert(der, len);
    kz_cert_info ci;
    unsigned char *copy = NULL;
    char hex[2 * KZ_MAX_ID + 1], *newpath = NULL;
    int fd;
    CK_RV rv;

    /* Not a certificate at all is a bad value; a certificate whose key we
     * cannot even read (another algorithm) simply fits no key here. */
    if (kz_cert_info_parse(der, len, &ci) != CKR_OK) {
        kz_pkey_free(cert_key);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (!st->path || st->gone) {
        kz_pkey_free(cert_key);
        kz_cert_info_clear(&ci);
        return CKR_USER_PIN_NOT_INITIALIZED;
    }
    fd = lock_or_fail(st);
    rv = fd < 0 ? CKR_DEVICE_ERROR : refresh(st);
    /* Only the certificate of this container's own key belongs here. */
    if (rv == CKR_OK && (!st->key || !cert_key || !kz_pkey_public_equal(st->key, cert_key)))
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK && !(copy = malloc(len)))
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        memcpy(copy, der, len);
        free(st->cert);
        st->cert = copy;
        st->cert_len = len;
        if (ci.ski_len) {
            memcpy(st->id, ci.ski, ci.ski_len);
            st->id_len = ci.ski_len;
        }
        kz_hex(st->id, st->id_len, hex);
        /* The NCA's friendlyName is the SKI in hex. */
        snprintf(st->obj_label, sizeof(st->obj_label), "%.*s", (int)sizeof(st->obj_label) - 1,
                 label ? label : hex);
        st->usage = kz_cert_info_usage(&ci);
        rv = kz_st_save(st, st->password.data, st->password.len, 0);
    }
    if (rv == CKR_OK && asprintf(&newpath, "%s/%s%s.p12", st->dir, kz_nca_prefix(st->key, der, len), hex) < 0)
        newpath = NULL;
    /* The NCA names the file after the key's role and SKI; the slot keeps
     * its ID through the rename (slot_key). A name already taken keeps
     * the old one: the certificate is stored either way. */
    if (rv == CKR_OK && newpath && strcmp(newpath, st->path) != 0) {
        if (kz_container_rename(st->path, newpath) == CKR_OK)
            rv = kz_st_set_path(st, newpath);
        else
            KZ_DEBUG("%s: kept its name, %s exists", st->path, newpath);
    }
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCONSISTENT && fd >= 0)
        refresh(st);
    kz_container_unlock(fd);
    free(newpath);
    kz_pkey_free(cert_key);
    kz_cert_info_clear(&ci);
    if (rv == CKR_OK) {
        memcpy(id, st->id, st->id_len);
        *id_len = st->id_len;
    }
    return rv;
}

CK_RV kz_st_destroy_object(kz_token *t, CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len)
{
    softtoken *st = t->drv;
    int fd;
    CK_RV rv;

    if (cls == CKO_PUBLIC_KEY)
        return CKR_ACTION_PROHIBITED;      /* it is the private key's public half */
    if (!st->path || st->gone)
        return CKR_OBJECT_HANDLE_INVALID;
    fd = lock_or_fail(st);
    if (fd < 0)
        return CKR_DEVICE_ERROR;
    rv = refresh(st);
    if (rv == CKR_OK && cls == CKO_CERTIFICATE) {
        if (!st->cert) {
            rv = CKR_OBJECT_HANDLE_INVALID;
        } else {
            free(st->cert);
            st->cert = NULL;
            st->cert_len = 0;
            rv = kz_st_save(st, st->password.data, st->password.len, 0);
        }
    } else if (rv == CKR_OK && cls == CKO_PRIVATE_KEY) {
        /* Never silently: a key with its certificate still installed is a
         * live NCA key. Deleting the certificate first says "I mean it". */
        if (st->cert) {
            rv = CKR_ACTION_PROHIBITED;
        } else if ((rv = kz_container_remove(st->path)) == CKR_OK) {
            KZ_DEBUG("%s: deleted", st->path);
            st->gone = 1;
            kz_st_forget(st);
        }
    } else if (rv == CKR_OK) {
        rv = CKR_OBJECT_HANDLE_INVALID;
    }
    kz_container_unlock(fd);
    return rv;
}
