/* Reading NCA PKCS#12 key containers: the outer structure without a
 * password (to list a file as a token), and the full contents with one. */
#ifndef KZP11_P12_CONTAINER_H
#define KZP11_P12_CONTAINER_H

#include <stddef.h>
#include <openssl/types.h>
#include "pkcs11_types.h"

typedef struct kz_p12_contents {
    unsigned char *cert_der;          /* end-entity certificate (matching the key), or NULL */
    size_t cert_len;
    unsigned char *pkcs8_der;         /* decrypted PrivateKeyInfo, DER; secret */
    size_t pkcs8_len;
    unsigned char local_key_id[64];   /* localKeyID of the key bag (NCA: the cert's SKI) */
    size_t local_key_id_len;
    char friendly_name[256];          /* UTF-8, NUL-terminated; "" if absent */
} kz_p12_contents;

/* Cheap check, no password: is this a PKCS#12 PFX whose outer structure
 * parses? Returns 1 or 0. Used when listing a folder. */
int kz_p12_probe(const unsigned char *data, size_t len);

/* Verifies the MAC with the password and decrypts the key and certificate
 * bags. A container with no bags at all (an empty one, awaiting its key)
 * opens with pkcs8_der == NULL. Returns CKR_OK; CKR_PIN_INCORRECT when the password is wrong (MAC
 * mismatch, or no MAC and decryption fails); CKR_DEVICE_ERROR when the file
 * is malformed or holds no key; CKR_HOST_MEMORY; CKR_ARGUMENTS_BAD for a
 * NULL out or pass with a length. On error *out is zeroed. */
CK_RV kz_p12_open(const unsigned char *data, size_t len,
                  const char *pass, size_t pass_len,
                  OSSL_LIB_CTX *libctx, kz_p12_contents *out);

/* Wipes and frees what kz_p12_open filled in. */
void kz_p12_contents_clear(kz_p12_contents *c);

#endif
