/* Test helpers: OpenSSL's gost engine as an independent second GOST
 * implementation to check kzp11 against. */
#ifndef KZP11_TEST_GOST_ENGINE_H
#define KZP11_TEST_GOST_ENGINE_H

#include <stddef.h>
#include <openssl/evp.h>
#include "gost_curves.h"

/* The engine's key algorithm, paramset string and digest-param OID for one
 * of our curves; NULL if the engine has no such curve. */
typedef struct gost_engine_curve {
    const char *curve;      /* kz_gost_curve name */
    int key_nid;
    const char *paramset;   /* the engine's "paramset" ctrl string */
    int digest_param_nid;
} gost_engine_curve;

const gost_engine_curve *gost_engine_curve_for(const char *curve_name);
size_t gost_engine_curve_count(void);
const gost_engine_curve *gost_engine_curve_at(size_t i);
/* Fails the running test if the engine cannot be loaded. */
ENGINE *gost_engine(void);
EVP_PKEY *gost_engine_keygen(const gost_engine_curve *ec);
/* Our X||Y (little-endian) as an engine public key. */
EVP_PKEY *gost_engine_pubkey(const gost_engine_curve *ec, const kz_gost_curve *c,
                             const unsigned char *pub);
/* The engine key's X||Y. */
void gost_engine_pub_bytes(EVP_PKEY *k, unsigned char *out, size_t n);
/* The engine key's private scalar as its PKCS#8 holds it: n raw bytes,
 * little-endian, like an NCA GOST 2015 container. */
void gost_engine_priv_le(EVP_PKEY *k, unsigned char *out, size_t n);
/* Raw sign / verify of a digest with an engine key (signature s||r). */
size_t gost_engine_sign(EVP_PKEY *k, const unsigned char *dig, size_t dlen, unsigned char *sig);
int gost_engine_verify(EVP_PKEY *k, const unsigned char *dig, size_t dlen,
                       const unsigned char *sig, size_t siglen);
/* An engine digest by NID (NID_id_GostR3411_2012_256/512, NID_id_GostR3411_94). */
void gost_engine_digest(int nid, const unsigned char *in, size_t len, unsigned char *out, unsigned int *outlen);

#endif
