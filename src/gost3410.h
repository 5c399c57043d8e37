/* GOST R 34.10-2012 / 34.10-2001 signatures (the maths of Kazakhstan's
 * ST RK 34.10-2015 and GOST 34.310-2004) on OpenSSL's EC and BN primitives.
 *
 * Byte conventions, one per kind of argument, all fixed-length:
 *
 *   n = c->field_len (32 for 256-bit curves, 64 for 512-bit curves)
 *
 *   digest     n bytes, exactly as the hash function emits them (Streebog,
 *              GOST R 34.11-94). The maths reads them as a LITTLE-endian
 *              integer e, as the gost engine does and as the NCA's own
 *              signatures on its GOST 2015 certificates and CRLs confirm
 *              (see the unit test): nobody reverses a hash before signing.
 *   signature  2n bytes: s || r, each BIG-endian. This is RFC 4491 section
 *              2.2.2 / RFC 9215, the gost engine's EVP_PKEY_sign output and
 *              the PKCS#11 CKM_GOSTR3410 signature. The NCA (certificates,
 *              CMS, CRLs) stores the same 2n bytes reversed, i.e. r || s,
 *              each little-endian: convert with kz_gost3410_sig_to_nca /
 *              kz_gost3410_sig_from_nca.
 *   public key 2n bytes: X || Y, each LITTLE-endian: the OCTET STRING inside
 *              a GOST SubjectPublicKeyInfo, and the PKCS#11 CKA_VALUE of a
 *              CKK_GOSTR3410 public key (PKCS#11 2.30+).
 *   private    BIG-endian unsigned integer, 1..2n bytes on input (leading
 *              zeros allowed, so a DER INTEGER's content works), exactly n
 *              bytes on output. The value is used modulo q and must not be
 *              0 mod q. NCA GOST 2015 containers, the gost engine's PKCS#8
 *              and PKCS#11 CKA_VALUE hold it little-endian (n bytes): load those with
 *              kz_gost3410_priv_normalize(..., little_endian = 1, ...).
 *              NCA GOST 34.310-2004 containers hold a DER INTEGER, which is
 *              big-endian already.
 *
 * Return values: 1 on success (or "signature valid"), 0 on any failure:
 * bad lengths, NULL pointers, a key or signature outside its range, a
 * point not on the curve, an invalid signature, allocation or RNG failure.
 * Callers that must tell length errors apart (CKR_DATA_LEN_RANGE,
 * CKR_SIGNATURE_LEN_RANGE) check the lengths first with the helpers below.
 *
 * Verification validates the public key fully on every call (coordinates
 * below p, on the curve, and on the two cofactor-4 curves TC26-256-A and
 * TC26-512-C in the order-q subgroup, which costs a second scalar
 * multiplication there).
 *
 * Any curve description works; table curves (gost_curves.h) use the cached
 * group and a fixed-base table for k*G built on first use (~600 KB and
 * ~20 ms for a 512-bit curve, ~150 KB for a 256-bit one); other curves build
 * a group per call and use OpenSSL's ladder. All functions are
 * thread-safe. */
#ifndef KZP11_GOST3410_H
#define KZP11_GOST3410_H

#include <stddef.h>
#include "gost_curves.h"

#define KZ_GOST3410_MAX_FIELD_LEN 64
#define KZ_GOST3410_MAX_SIG_LEN (2 * KZ_GOST3410_MAX_FIELD_LEN)

size_t kz_gost3410_digest_len(const kz_gost_curve *c);   /* n */
size_t kz_gost3410_sig_len(const kz_gost_curve *c);      /* 2n */
size_t kz_gost3410_pub_len(const kz_gost_curve *c);      /* 2n */
size_t kz_gost3410_priv_len(const kz_gost_curve *c);     /* n */

/* sig receives 2n bytes. A fresh secret nonce per call. */
int kz_gost3410_sign(const kz_gost_curve *c,
                     const unsigned char *priv_be, size_t priv_len,
                     const unsigned char *digest, size_t dlen,
                     unsigned char *sig);

/* 1 only when the signature is valid for digest under pub. */
int kz_gost3410_verify(const kz_gost_curve *c,
                       const unsigned char *pub, size_t pub_len,
                       const unsigned char *digest, size_t dlen,
                       const unsigned char *sig, size_t siglen);

/* priv_out receives n bytes (big-endian), pub_out 2n bytes. */
int kz_gost3410_keygen(const kz_gost_curve *c, unsigned char *priv_out,
                       unsigned char *pub_out);

/* pub_out receives 2n bytes. */
int kz_gost3410_pub_from_priv(const kz_gost_curve *c,
                              const unsigned char *priv_be, size_t priv_len,
                              unsigned char *pub_out);

/* 1 if pub is 2n bytes, both coordinates are below p, the point is on the
 * curve and, on curves with a cofactor, in the subgroup of order q. */
int kz_gost3410_pub_check(const kz_gost_curve *c, const unsigned char *pub,
                          size_t pub_len);

/* Reads a stored private key (1..2n bytes, either byte order), reduces it
 * modulo q and writes the n-byte big-endian form the other calls take.
 * 0 if the value is 0 mod q or the length is out of range. out may not
 * overlap in. */
int kz_gost3410_priv_normalize(const kz_gost_curve *c,
                               const unsigned char *in, size_t in_len,
                               int little_endian, unsigned char *out_be);

/* Whole-buffer byte reversal between this API's signature (s||r big-endian)
 * and the NCA's (r||s little-endian). The two are the same operation; the
 * names say which way the data goes. in and out may be the same buffer. */
void kz_gost3410_sig_to_nca(const unsigned char *sig, size_t len, unsigned char *out);
void kz_gost3410_sig_from_nca(const unsigned char *nca, size_t len, unsigned char *out);

/* Frees the signing tables (about 350 KB per 512-bit curve in use). Only
 * for process teardown or leak checking, when no other thread can be in a
 * call here; later calls rebuild them. */
void kz_gost3410_cleanup(void);

/* ---- For tests only ------------------------------------------------------
 * Signs with a caller-chosen nonce k (big-endian, must lie in [1, q-1]) to
 * reproduce the standard's worked examples. Never use it for real keys: a
 * repeated or predictable k reveals the private key. */
int kz_gost3410_sign_with_k(const kz_gost_curve *c,
                            const unsigned char *priv_be, size_t priv_len,
                            const unsigned char *digest, size_t dlen,
                            const unsigned char *k_be, size_t k_len,
                            unsigned char *sig);

#endif
