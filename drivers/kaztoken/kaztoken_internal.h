/* Inside the Kaztoken driver. Kaztoken's own command set is not public
 * (../shared/docs/card-protocols.md §4): the token comes from Aktiv, with
 * an ATR built like the Rutoken ECP's, so the driver speaks the Rutoken ECP
 * commands as OpenSC's rutoken_ecp driver does (§3). Unconfirmed on
 * hardware; every assumption is named where it is made.
 *
 * Files: kaztoken_apdu.c (the card's commands, nothing else speaks APDUs),
 * kaztoken_layout.c (the files kzp11 keeps on the card and their format),
 * kaztoken_objects.c (reading them into a token model, the per-card cache,
 * certificates), kaztoken_keys.c (key generation, signing, deciphering),
 * kaztoken_pin.c (PINs), kaztoken_driver.c (detection and token info). */
#ifndef KZP11_KAZTOKEN_INTERNAL_H
#define KZP11_KAZTOKEN_INTERNAL_H

#include "card.h"
#include "card_cache.h"
#include "secret.h"
#include "token.h"

#include <pthread.h>

#define KZT_DRIVER_NAME "kaztoken"

/* PIN references (§3.3): the card's administrator is PKCS#11's SO. */
enum { KZT_PIN_SO = 0x01, KZT_PIN_USER = 0x02 };

/* ---- The card's commands (kaztoken_apdu.c) ------------------------------- */

/* Answers the driver acts on itself and never passes to the core: a file
 * that is not there (6A 82) and one that already is (6A 89). */
#define KZT_CKR_NOT_FOUND (CKR_VENDOR_DEFINED | 0x4b5a0201UL)
#define KZT_CKR_EXISTS (CKR_VENDOR_DEFINED | 0x4b5a0202UL)

/* What a SELECT's FCP told (tags 80 and 85, §3.4). */
typedef struct kzt_fcp {
    size_t size;
    int has_prop;
    uint8_t prop[6];
} kzt_fcp;

/* SELECT by path from the MF (FIDs without 3F00; n == 0 selects the MF).
 * fcp may be NULL. KZT_CKR_NOT_FOUND when a file on the path is missing. */
CK_RV kzt_select(kz_card *c, const uint16_t *path, size_t n, kzt_fcp *fcp);
CK_RV kzt_read_binary(kz_card *c, uint8_t *out, size_t len);
CK_RV kzt_update_binary(kz_card *c, const uint8_t *data, size_t len);
/* CREATE FILE in the current DF. kind: 0x01 EF, 0x38 DF, 0x10 key/PIN
 * object (RSF). prop: the 6 bytes of tag 85, or NULL. KZT_CKR_EXISTS when
 * the FID is taken. A new EF or DF is the current file afterwards; a key
 * object leaves the current DF as it was (§3.3). */
CK_RV kzt_create_file(kz_card *c, uint16_t fid, uint8_t kind, size_t size,
                      const uint8_t *prop, const uint8_t sec[15]);
/* DELETE FILE of a child of the current DF; KZT_CKR_NOT_FOUND if none. */
CK_RV kzt_delete_file(kz_card *c, uint16_t fid);
/* VERIFY with the PIN (pin == NULL: the status query). The raw status word
 * comes back in *sw; CKR_OK means the command went through, whatever *sw. */
CK_RV kzt_verify(kz_card *c, uint8_t ref, const uint8_t *pin, size_t len, uint16_t *sw);
CK_RV kzt_logout(kz_card *c);
/* CHANGE REFERENCE DATA P1=01: a new PIN value (up to 64 bytes). */
CK_RV kzt_set_reference(kz_card *c, uint8_t ref, const uint8_t *value, size_t len);
CK_RV kzt_reset_retry_counter(kz_card *c, uint8_t ref);
CK_RV kzt_get_serial(kz_card *c, uint8_t *out, size_t cap, size_t *len);
/* GENERATE KEY for key reference ref; the card's answer (RSA modulus or
 * GOST point, both little-endian) in out. */
CK_RV kzt_generate(kz_card *c, uint8_t ref, int rsa, uint8_t *out, size_t cap, size_t *len);
/* MANAGE SECURITY ENVIRONMENT then PERFORM SECURITY OPERATION: sign
 * (decipher = 0) or decipher with key ref; out must receive exactly
 * outlen bytes. */
CK_RV kzt_compute(kz_card *c, int decipher, uint8_t ref, const uint8_t *in, size_t inlen,
                  uint8_t *out, size_t outlen);

/* ---- kzp11's files on the card (kaztoken_layout.c) ------------------------ */

#define KZT_MAX_KEYS 8
#define KZT_MAX_ID 32
#define KZT_MAX_LABEL 64
#define KZT_INDEX_SIZE 255   /* one UPDATE BINARY: written whole or not at all */
#define KZT_MAX_FILE 0x8000  /* READ/UPDATE BINARY offsets are 15 bits */

enum {
    KZT_ALG_RSA = 0x01,
    /* GOST R 34.10 on the CryptoPro sets A, B, C: the paramset byte of the
     * key object (§3.4). */
    KZT_ALG_GOST_A = 0x20,
    KZT_ALG_GOST_B = 0x30,
    KZT_ALG_GOST_C = 0x40,
};

enum { KZT_HAS_CERT = 0x01 };

/* One key pair as kzp11's index lists it. */
typedef struct kzt_entry {
    uint8_t ref;                  /* key reference (its key objects are 00 ref) */
    uint8_t alg;                  /* KZT_ALG_* */
    uint8_t flags;                /* KZT_HAS_CERT */
    uint32_t stamp;               /* index generation when its files last changed */
    uint8_t id_len;
    uint8_t id[KZT_MAX_ID];
} kzt_entry;

typedef struct kzt_index {
    uint32_t generation;          /* changes with every write to kzp11's files */
    size_t n;
    kzt_entry e[KZT_MAX_KEYS];
} kzt_index;

/* Paths from the MF. */
extern const uint16_t kzt_path_app[1];          /* kzp11's DF */
extern const uint16_t kzt_path_index[2];
extern const uint16_t kzt_path_prkey_df[3];     /* where the card files private keys */
extern const uint16_t kzt_path_pukey_df[3];
uint16_t kzt_fid_pubkey(uint8_t ref);           /* in kzp11's DF */
uint16_t kzt_fid_cert(uint8_t ref);

/* The index file's bytes (KZT_INDEX_SIZE) and back. encode:
 * CKR_DEVICE_MEMORY when the entries do not fit; decode: CKR_DEVICE_ERROR
 * for bytes that are not a kzp11 index. */
CK_RV kzt_index_encode(const kzt_index *x, uint8_t out[KZT_INDEX_SIZE]);
CK_RV kzt_index_decode(const uint8_t *in, size_t len, kzt_index *x);
kzt_entry *kzt_index_find_id(kzt_index *x, const uint8_t *id, size_t id_len);
kzt_entry *kzt_index_find_ref(kzt_index *x, uint8_t ref);

/* A key's public file (its SubjectPublicKeyInfo) and its certificate's
 * file (the DER) share one shape: a label, then the body. encode:
 * malloc'd; decode: body points into in. */
CK_RV kzt_record_encode(const char *label, const uint8_t *body, size_t body_len, uint8_t **out,
                        size_t *len);
CK_RV kzt_record_decode(const uint8_t *in, size_t len, char label[KZT_MAX_LABEL + 1],
                        const uint8_t **body, size_t *body_len);

/* ---- The token ------------------------------------------------------------ */

/* The user PIN while the application is logged in, for one thing only:
 * the card has a single security state for every program using it, so
 * another program's LOGOUT (or its closing its last session) logs us out
 * too. A signature that meets "security status not satisfied" verifies
 * the PIN again and goes on, as OpenSC's PIN cache does. The PIN lives in
 * locked memory (secret.h) and is wiped at logout. Shared by the token and
 * its keys (signatures run beside a logout), hence refcounted and locked. */
typedef struct kzt_pin_cache {
    int refs;                     /* atomic */
    pthread_mutex_t lock;
    kz_secret pin;
} kzt_pin_cache;

typedef struct kzt {
    kz_card *card;
    uint8_t serial[16];           /* 4 bytes on Rutokens; more is a damaged answer */
    size_t serial_len;
    char serial_hex[33];
    kz_card_cache *cache;
    kzt_index index;              /* as last read from the card */
    int have_index;               /* the card holds an index (kzp11 wrote to it) */
    int index_read;               /* index/have_index describe the card */
    uint32_t model_generation;    /* the index the last load_model reported */
    int model_has_index;
    CK_USER_TYPE user;            /* who the card has verified for us: KZ_NOBODY, CKU_USER, CKU_SO */
    int max_tries[3];             /* by PIN reference; 0 until read */
    int min_len[3];
    kzt_pin_cache *kept;
} kzt;

/* The driver's handle on a private key (kz_model_key.priv). It keeps the
 * card: a signature may outlive the token that listed the key. */
typedef struct kzt_key {
    kz_card *card;
    uint8_t ref;
    uint8_t alg;
    size_t modulus_len;           /* RSA */
    kzt_pin_cache *kept;
} kzt_key;

/* kaztoken_objects.c */
CK_RV kzt_read_index(kzt *t);
/* Writes t->index (generation moved on) to the card, creating kzp11's DF
 * and index file when needed. Inside the caller's transaction. */
CK_RV kzt_write_index(kzt *t);
/* Replaces a file of the current DF with a new one holding data. */
CK_RV kzt_write_file(kz_card *c, uint16_t fid, const uint8_t *data, size_t len);
/* Selects kzp11's DF, creating it on first use. */
CK_RV kzt_enter_app(kzt *t);
/* The generation number for the next change to the index. */
uint32_t kzt_next_generation(kzt *t);
/* Selects the DF where the card keeps key objects (private or public). */
CK_RV kzt_select_key_df(kzt *t, int private_part);
CK_RV kzt_load_model(kz_token *tok, kz_token_model *out);
CK_RV kzt_refresh(kz_token *tok, int *changed);
CK_RV kzt_store_certificate(kz_token *tok, const unsigned char *der, size_t len, const char *label,
                            unsigned char *id, size_t *id_len);
CK_RV kzt_destroy_object(kz_token *tok, CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len);
/* Opens a transaction and notes a reset (which logs the card out). */
CK_RV kzt_begin(kzt *t);
/* A transport result as the core must see it. */
CK_RV kzt_rv(kzt *t, CK_RV rv);

/* kaztoken_keys.c */
CK_RV kzt_generate_keypair(kz_token *tok, const kz_keygen_request *req, unsigned char *id,
                           size_t *id_len);
CK_RV kzt_sign(kz_token *tok, const kz_model_key *key, const kz_sig_params *p,
               const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen);
CK_RV kzt_decrypt(kz_token *tok, const kz_model_key *key, const kz_enc_params *p,
                  const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen);
/* A model key for an index entry whose public key is pub (reference taken). */
kz_model_key *kzt_model_key(kzt *t, const kzt_entry *e, kz_pkey *pub, const char *label);

/* kaztoken_pin.c */
CK_RV kzt_login(kz_token *tok, CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG len);
CK_RV kzt_logout_token(kz_token *tok);
CK_RV kzt_set_pin(kz_token *tok, CK_USER_TYPE user, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                  const CK_UTF8CHAR *new_pin, CK_ULONG new_len);
CK_RV kzt_init_pin(kz_token *tok, const CK_UTF8CHAR *pin, CK_ULONG len);
/* CKF_USER_PIN_* | CKF_SO_PIN_* as the card's counters say now. */
CK_FLAGS kzt_pin_flags(kzt *t);
kzt_pin_cache *kzt_pin_cache_new(void);
kzt_pin_cache *kzt_pin_cache_ref(kzt_pin_cache *l);
void kzt_pin_cache_unref(kzt_pin_cache *l);
/* Wipes the kept PIN now (keys may keep the cache itself alive longer). */
void kzt_pin_cache_forget(kzt_pin_cache *l);
/* After "security status not satisfied", inside the caller's transaction:
 * VERIFY with the kept PIN. CKR_OK when the card took it; otherwise the PIN
 * is forgotten (it may have been changed elsewhere: one try at most is
 * spent on it) and CKR_USER_NOT_LOGGED_IN. */
CK_RV kzt_login_again(kzt_pin_cache *l, kz_card *c);

#endif
