/* Sessions and the state of the operations running in them. */
#ifndef KZP11_SESSION_TABLE_H
#define KZP11_SESSION_TABLE_H

#include "lock.h"
#include "mechanism.h"
#include "slot_table.h"

/* Sign or verify, single- or multi-part. */
typedef struct kz_sig_op {
    int active;
    const kz_mech *mech;
    CK_MECHANISM_TYPE host_hash;  /* hashed on the host first; 0: input is final */
    kz_sig_params params;
    kz_model_key *key;            /* sign: the token's key */
    kz_pkey *pub;                 /* verify; sign: for the signature length */
    kz_digest *digest;            /* multi-part with a host hash */
    unsigned char *buf;           /* multi-part without a host hash */
    size_t len, cap;
    int multipart;                /* C_*Update was called: C_Sign/C_Verify no longer allowed */
} kz_sig_op;

typedef struct kz_crypt_op {
    int active;
    const kz_mech *mech;
    kz_enc_params params;
    unsigned char *label;         /* our copy of the OAEP label */
    kz_model_key *key;            /* decrypt */
    kz_pkey *pub;                 /* encrypt */
    unsigned char *buf;           /* multi-part input */
    size_t len, cap;
} kz_crypt_op;

typedef struct kz_digest_op {
    int active;
    CK_MECHANISM_TYPE mech;
    kz_digest *digest;
} kz_digest_op;

typedef struct kz_find_op {
    int active;
    CK_OBJECT_HANDLE *handles;
    size_t n, pos;
} kz_find_op;

typedef struct kz_session {
    CK_SESSION_HANDLE handle;
    CK_SLOT_ID slot;
    CK_FLAGS flags;
    int refs;                     /* under the module lock */
    int closed;
    kz_mutex *lock;               /* serialises operations on this session */
    CK_USER_TYPE user_now;        /* the slot's login state when the session was acquired */
    kz_sig_op sign, verify;
    kz_crypt_op encrypt, decrypt;
    kz_digest_op digest;
    kz_find_op find;
} kz_session;

CK_RV kz_sessions_open(kz_slot *slot, CK_FLAGS flags, CK_SESSION_HANDLE *out);
kz_session *kz_sessions_get(CK_SESSION_HANDLE h);
/* Closes one session (drops its session objects; logs out on the last). */
void kz_sessions_close(kz_session *s);
void kz_sessions_close_slot(CK_SLOT_ID slot);
void kz_sessions_free_all(void);
CK_STATE kz_session_state(const kz_session *s, const kz_slot *slot);
/* Drops a reference; frees a closed session on the last one. */
void kz_session_unref(kz_session *s);

void kz_sig_op_end(kz_sig_op *op);
void kz_crypt_op_end(kz_crypt_op *op);
void kz_digest_op_end(kz_digest_op *op);
void kz_find_op_end(kz_find_op *op);
/* Appends to an operation's input buffer, refusing more than `limit` bytes. */
CK_RV kz_op_buffer_append(unsigned char **buf, size_t *len, size_t *cap,
                          const unsigned char *in, size_t inlen, size_t limit);

#endif
