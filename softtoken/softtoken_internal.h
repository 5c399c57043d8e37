/* Inside the soft token: the state of one token (one container file, or a
 * folder's free slot) shared by the driver, lifecycle and provider files. */
#ifndef KZP11_SOFTTOKEN_INTERNAL_H
#define KZP11_SOFTTOKEN_INTERNAL_H

#include "configuration.h"
#include "secret.h"
#include "token.h"

typedef struct softtoken {
    char *path;                   /* the container; NULL for a folder's free slot */
    char *dir;                    /* its folder */
    char *slot_key;               /* what the slot table knows us by */
    const kz_config *cfg;         /* the module's, valid while it is initialised */
    char label[33];
    char serial[17];
    int gone;                     /* the container was deleted through us */

    /* While logged in: the password (to rewrite the container) and what the
     * container holds, decrypted once at login. */
    CK_USER_TYPE user;            /* KZ_NOBODY when logged out */
    kz_secret password;
    kz_pkey *key;                 /* NULL: an empty container */
    unsigned char *cert;
    size_t cert_len;
    unsigned char id[KZ_MAX_ID];
    size_t id_len;
    char obj_label[KZ_MAX_LABEL];
    unsigned usage;
} softtoken;

/* Reads the container and decrypts it with pin into st's contents.
 * CKR_PIN_INCORRECT, CKR_DEVICE_ERROR... as kz_p12_open. */
CK_RV kz_st_open(softtoken *st, const CK_UTF8CHAR *pin, CK_ULONG pin_len);
/* Forgets the decrypted contents and the password. */
void kz_st_forget(softtoken *st);
/* Writes st's contents to its container under pass (atomically). The
 * caller holds the folder lock. exclusive: the file must not exist yet. */
CK_RV kz_st_save(softtoken *st, const CK_UTF8CHAR *pass, size_t pass_len, int exclusive);
/* Points st at another path (after a rename or creation). */
CK_RV kz_st_set_path(softtoken *st, const char *path);

/* Lifecycle ops (softtoken_lifecycle.c). */
CK_RV kz_st_init_token(kz_token *t, const CK_UTF8CHAR *pin, CK_ULONG len, const char *label);
CK_RV kz_st_init_pin(kz_token *t, const CK_UTF8CHAR *pin, CK_ULONG len);
CK_RV kz_st_set_pin(kz_token *t, CK_USER_TYPE user, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                    const CK_UTF8CHAR *new_pin, CK_ULONG new_len);
CK_RV kz_st_generate_keypair(kz_token *t, const kz_keygen_request *req, unsigned char *id, size_t *id_len);
CK_RV kz_st_store_certificate(kz_token *t, const unsigned char *der, size_t len, const char *label,
                              unsigned char *id, size_t *id_len);
CK_RV kz_st_destroy_object(kz_token *t, CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len);

#endif
