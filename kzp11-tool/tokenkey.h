/* A token's key pairs as the commands need them: the private key's handle
 * and identity plus the public key's material, read from the public key
 * object of the same CKA_ID (or, for RSA, from the private key itself). */
#ifndef KZP11_TOOL_TOKENKEY_H
#define KZP11_TOOL_TOKENKEY_H

#include "p11.h"
#include <openssl/x509.h>

typedef struct kzt_tokkey {
    CK_OBJECT_HANDLE priv;
    CK_KEY_TYPE type;                 /* CKK_RSA, CKK_GOSTR3410, CKK_GOSTR3410_512, ... */
    unsigned char *id;
    CK_ULONG id_len;
    char *label;                      /* NULL if none */
    /* RSA: big-endian, as PKCS#11 gives them. NULL if unreadable. */
    unsigned char *modulus, *exponent;
    CK_ULONG modulus_len, exponent_len;
    /* GOST: X || Y little-endian (CKA_VALUE of the public key), the curve
     * OID (CKA_GOSTR3410_PARAMS, DER). NULL if unreadable. */
    unsigned char *gost_pub, *gost_params;
    CK_ULONG gost_pub_len, gost_params_len;
} kzt_tokkey;

/* Every private key the session can see (max 64). Exit code. */
int kzt_keys_load(kzt_p11 *m, CK_SESSION_HANDLE s, kzt_tokkey **keys, size_t *n);
void kzt_keys_free(kzt_tokkey *keys, size_t n);

/* The one key to use: the one with id when given, else the only key.
 * Reports "no key" / "several keys, use --id" itself. Exit code. */
int kzt_key_pick(kzt_tokkey *keys, size_t n, const unsigned char *id, size_t id_len,
                 const char *token, kzt_tokkey **out);

/* "RSA 2048", "GOST 2012/2015 512-bit (TC26-512-A)"... into buf. */
const char *kzt_key_describe(const kzt_tokkey *k, char *buf, size_t n);

/* 1 when the certificate's public key is this key's. */
int kzt_key_matches_cert(const kzt_tokkey *k, X509 *x);

/* A GOST certificate's public key (the OCTET STRING inside the BIT
 * STRING, X || Y little-endian) into a malloc'd buffer. 0 or -1. */
int kzt_cert_gost_pub(X509 *x, unsigned char **pub, size_t *len);

#endif
