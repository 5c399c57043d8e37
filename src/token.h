/* The token driver interface. The soft token and every card driver implement
 * kz_token_ops; the front end talks to tokens only through it. A driver
 * reports a token model (certificates and keys); the core turns that model
 * into PKCS#11 objects, so drivers never see sessions, handles or templates. */
#ifndef KZP11_TOKEN_H
#define KZP11_TOKEN_H

#include <stddef.h>
#include "pkcs11_types.h"
#include "crypto_backend.h"

#define KZ_MAX_ID 64
#define KZ_MAX_LABEL 128

typedef struct kz_token kz_token;

/* Blank-pads a string into a fixed-width PKCS#11 field (CK_TOKEN_INFO's
 * label, serial number...). */
void kz_pad_field(unsigned char *dst, size_t len, const char *src);

/* What a key may be used for; the core maps these to CKA_SIGN etc. */
enum {
    KZ_USAGE_SIGN    = 1u << 0,
    KZ_USAGE_DECRYPT = 1u << 1,
    KZ_USAGE_DERIVE  = 1u << 2,
};

/* A key pair on the token. The driver fills one from kz_model_key_new();
 * it is refcounted because a signature in progress (run without the module
 * lock) must keep the key alive across a concurrent logout. */
typedef struct kz_model_key {
    int refs;                     /* atomic; use kz_model_key_ref/unref */
    unsigned char id[KZ_MAX_ID];
    size_t id_len;
    char label[KZ_MAX_LABEL];
    kz_pkey *pub;                 /* public key: attributes, verify, encrypt */
    unsigned usage;               /* KZ_USAGE_* */
    /* The mechanism that made the pair on the token (it never left it:
     * CKA_LOCAL, CKA_NEVER_EXTRACTABLE); 0 when not known to be so. */
    CK_MECHANISM_TYPE gen_mech;
    void *priv;                   /* driver's handle for private-key operations */
    void (*priv_free)(void *priv);
    /* Set instead of priv for keys the core holds itself (session keys from
     * C_GenerateKeyPair): their operations run in the backend, not a driver. */
    kz_pkey *host;
} kz_model_key;

typedef struct kz_model_cert {
    unsigned char id[KZ_MAX_ID];
    size_t id_len;
    char label[KZ_MAX_LABEL];
    unsigned char *der;
    size_t der_len;
} kz_model_cert;

/* The objects a token shows at a given login state. */
kz_model_key *kz_model_key_new(void);
kz_model_key *kz_model_key_ref(kz_model_key *k);
void kz_model_key_unref(kz_model_key *k);

typedef struct kz_token_model {
    kz_model_key **keys;
    size_t n_keys;
    kz_model_cert *certs;
    size_t n_certs;
} kz_token_model;

void kz_token_model_clear(kz_token_model *m);
/* Appends a copy; returns CKR_OK or CKR_HOST_MEMORY. */
CK_RV kz_token_model_add_cert(kz_token_model *m, const unsigned char *id, size_t id_len,
                              const char *label, const unsigned char *der, size_t der_len);
/* Appends key (the model takes over the caller's reference). */
CK_RV kz_token_model_add_key(kz_token_model *m, kz_model_key *key);

/* What C_GenerateKeyPair asks of a token. */
typedef struct kz_keygen_request {
    CK_KEY_TYPE type;                 /* CKK_RSA, CKK_GOSTR3410, CKK_GOSTR3410_512 */
    CK_ULONG modulus_bits;            /* RSA */
    CK_ULONG public_exponent;         /* RSA; 0: 65537 */
    const unsigned char *curve_oid;   /* GOST: DER OID (Kazakh or TC26/CryptoPro) */
    size_t curve_oid_len;
    const unsigned char *hash_oid;    /* GOST: DER OID, optional */
    size_t hash_oid_len;
    const unsigned char *id;          /* requested CKA_ID, optional */
    size_t id_len;
    const char *label;                /* requested CKA_LABEL, optional */
} kz_keygen_request;

typedef struct kz_token_ops {
    const char *name;

    /* Static description: label, manufacturer, model, serial and flags.
     * Must not do I/O that could block for long; the core fills in the
     * session counts and PIN lengths it knows itself. */
    CK_RV (*get_info)(kz_token *t, CK_TOKEN_INFO *info);
    /* Mechanisms this token can do with its private keys (sign/decrypt). */
    CK_RV (*get_mechanisms)(kz_token *t, const CK_MECHANISM_TYPE **list, size_t *n);

    CK_RV (*login)(kz_token *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG pin_len);
    CK_RV (*logout)(kz_token *t);
    /* Objects visible now (public ones before login, all after). */
    CK_RV (*load_model)(kz_token *t, kz_token_model *out);
    /* Optional: has what load_model reported changed since, through another
     * program writing to the token? Called when a search starts, so it must
     * be cheap (a card reads one small file); *changed = 1 makes the core
     * rebuild the objects, keeping the handles of those that stay. */
    CK_RV (*refresh)(kz_token *t, int *changed);

    /* Private-key operations on a key from load_model. `in` is already
     * hashed on the host where the scheme says so. Unlike the other ops,
     * which the core calls under the module lock, these run without it and
     * may run concurrently: a driver that must serialise (a card) locks
     * itself. */
    CK_RV (*sign)(kz_token *t, const kz_model_key *key, const kz_sig_params *p,
                  const unsigned char *in, size_t inlen,
                  unsigned char *out, size_t *outlen);
    CK_RV (*decrypt)(kz_token *t, const kz_model_key *key, const kz_enc_params *p,
                     const unsigned char *in, size_t inlen,
                     unsigned char *out, size_t *outlen);

    /* ---- Key lifecycle; each optional (NULL: CKR_FUNCTION_NOT_SUPPORTED).
     * Called under the module lock. A driver reports changes to what it
     * holds through load_model; the core rebuilds the objects afterwards. */

    /* C_InitToken: (re)initialises the token; so_pin becomes the SO PIN
     * (a soft token's container password). */
    CK_RV (*init_token)(kz_token *t, const CK_UTF8CHAR *so_pin, CK_ULONG so_len, const char *label);
    /* C_InitPIN, with the SO logged in. */
    CK_RV (*init_pin)(kz_token *t, const CK_UTF8CHAR *pin, CK_ULONG len);
    /* C_SetPIN for whoever is logged in (user: CKU_USER or KZ_NOBODY). */
    CK_RV (*set_pin)(kz_token *t, CK_USER_TYPE user, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                     const CK_UTF8CHAR *new_pin, CK_ULONG new_len);
    /* Generates a key pair on the token; on success id and id_len name it
     * (its CKA_ID after the call). */
    CK_RV (*generate_keypair)(kz_token *t, const struct kz_keygen_request *req,
                              unsigned char *id, size_t *id_len);
    /* Stores a certificate (DER). Refuses one that fits no key with
     * CKR_TEMPLATE_INCONSISTENT; id and id_len: its CKA_ID after the call. */
    CK_RV (*store_certificate)(kz_token *t, const unsigned char *der, size_t len, const char *label,
                               unsigned char *id, size_t *id_len);
    /* Destroys a stored object, identified by class and CKA_ID. */
    CK_RV (*destroy_object)(kz_token *t, CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len);

    /* The slot's identity (a file path for the soft token) when the token
     * can change it (a container renamed after its certificate arrives):
     * the slot keeps its ID across the change. Optional. */
    const char *(*slot_key)(kz_token *t);

    /* Releases the driver state; called once when the slot goes away. */
    void (*release)(kz_token *t);
} kz_token_ops;

struct kz_token {
    const kz_token_ops *ops;
    void *drv;                    /* driver-private state */
};

#endif
