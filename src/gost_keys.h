/* Decoding GOST R 34.10 keys as Kazakhstan's NCA and Russian software store
 * them: PKCS#8 PrivateKeyInfo, SubjectPublicKeyInfo, and the SPKI inside an
 * X.509 certificate.
 *
 * Algorithms understood (the key's algorithm OID):
 *
 *   1.2.398.3.10.1.1.2.2  Kazakh GOST 2015, 512-bit   default TC26-512-A, Streebog-512
 *   1.2.398.3.10.1.1.2.1  Kazakh GOST 2015, 256-bit   default TC26-256-A, Streebog-256
 *   1.2.398.3.10.1.1.1.1  Kazakh GOST 34.310-2004     default CryptoPro-A, GOST R 34.11-94
 *                                                     with the test parameter set
 *   1.2.643.7.1.1.1.2     GOST R 34.10-2012, 512-bit  Streebog-512
 *   1.2.643.7.1.1.1.1     GOST R 34.10-2012, 256-bit  Streebog-256
 *   1.2.643.2.2.19        GOST R 34.10-2001           GOST R 34.11-94, set named by
 *                                                     the digestParamSet OID
 *
 * The algorithm parameters are SEQUENCE { curve OID, digest OID OPTIONAL,
 * cipher OID OPTIONAL } (RFC 4357 / RFC 9215; the NCA writes the same shape
 * with its own OIDs). Curve OIDs may be Kazakh, TC26 or CryptoPro names of a
 * curve (gost_curves.h folds them). Kazakh keys may omit the parameters
 * (absent or NULL): the algorithm's default curve applies. Russian keys must
 * carry them, and 2001 keys must name their digest parameter set. The curve
 * must have the algorithm's size, and 2001 / 2004 keys a CryptoPro curve
 * (no cofactor). A digest OID, when present, must agree with the algorithm
 * (Streebog of the key size for 2012 / 2015; a GOST R 34.11-94 set for
 * 2001 / 2004, and that set is the one used).
 *
 * PrivateKeyInfo version 0 or 1; attributes are ignored; an RFC 5958
 * publicKey field is not supported (the decode fails).
 *
 * Private key forms (the content of PrivateKeyInfo.privateKey):
 *   Kazakh 2015        OCTET STRING of exactly n bytes, little-endian
 *   Kazakh 2004        INTEGER (big-endian), 1 <= d < q
 *   Russian 2001/2012  any of: n raw bytes little-endian (gost engine's
 *                      default output), OCTET STRING of n bytes little-endian
 *                      (the engine's LEGACY_PK_WRAP), INTEGER big-endian.
 *                      Masked keys (k*n raw bytes, k > 1) are not supported.
 * where n = 32 or 64 is the curve's field length. A scalar outside [1, q-1]
 * is rejected (never reduced).
 *
 * All three decoders return 0 on success and -1 on any malformed or
 * unsupported input; on failure *out is wiped. They never read outside
 * [der, der + len), do not leave anything on OpenSSL's error queue, and are
 * thread-safe. */
#ifndef KZP11_GOST_KEYS_H
#define KZP11_GOST_KEYS_H

#include <stddef.h>
#include "gost_curves.h"

typedef enum {
    KZ_GOST_HASH_NONE = 0,
    KZ_GOST_HASH_STREEBOG256,
    KZ_GOST_HASH_STREEBOG512,
    KZ_GOST_HASH_GOST94_TEST,        /* GOST R 34.11-94, test set (= GOST 34.311-95) */
    KZ_GOST_HASH_GOST94_CRYPTOPRO    /* GOST R 34.11-94, CryptoPro set */
} kz_gost_hash;

typedef struct kz_gost_key {
    const kz_gost_curve *curve;
    kz_gost_hash hash;               /* the hash the key's OIDs call for */
    int has_priv, has_pub;
    /* Private scalar as src/gost3410.h takes it: exactly curve->field_len
     * bytes, BIG-endian, in [1, q-1]. Secret: wipe with kz_gost_key_clear. */
    unsigned char priv[64];
    size_t priv_len;
    /* X || Y, each little-endian, 2 * curve->field_len bytes: the layout of
     * certificates, of CKA_VALUE and of what gost3410.h takes. A decoded
     * PKCS#8 always gets it, computed from the private key. */
    unsigned char pub[128];
    size_t pub_len;
    int kazakh;                      /* the algorithm OID was a Kazakh one */
} kz_gost_key;

/* PrivateKeyInfo (RFC 5208), as kz_p12_open returns it. Sets has_priv and
 * has_pub (the public key is derived from the private one). */
int kz_gost_key_from_pkcs8(const unsigned char *der, size_t len, kz_gost_key *out);

/* SubjectPublicKeyInfo. The key is a BIT STRING (no unused bits) holding an
 * OCTET STRING of X || Y; the point must be on the curve, in the subgroup. */
int kz_gost_key_from_spki(const unsigned char *der, size_t len, kz_gost_key *out);

/* A DER X.509 certificate: decodes its SubjectPublicKeyInfo. */
int kz_gost_key_from_cert(const unsigned char *der, size_t len, kz_gost_key *out);

/* Wipes the whole structure (OPENSSL_cleanse). NULL is allowed. */
void kz_gost_key_clear(kz_gost_key *k);

/* The DER OIDs (06 len content) to put in CKA_GOSTR3410_PARAMS (the curve)
 * and CKA_GOSTR3411_PARAMS (the hash). The pointers are to static data.
 *
 * Convention: always the Russian (TC26 / CryptoPro) OIDs, also for keys
 * that came with Kazakh OIDs:
 *   curve  the curve's primary OID, curve->oid_der (TC26-512-A
 *          1.2.643.7.1.2.1.2.1, TC26-256-A 1.2.643.7.1.2.1.1.1,
 *          CryptoPro-A 1.2.643.2.2.35.1, ...)
 *   hash   Streebog-256 1.2.643.7.1.1.2.2, Streebog-512 1.2.643.7.1.1.2.3,
 *          GOST R 34.11-94 test set 1.2.643.2.2.30.0, CryptoPro set
 *          1.2.643.2.2.30.1.
 * Why: PKCS#11 consumers (pkcs11-tool, the TC26 PKCS#11 extension, the
 * Rutoken-based Kaztoken's own module, the gost engine) know only these
 * OIDs; the Kazakh OIDs name exactly the same parameters (checked on the
 * NCA fixtures), and GOST R 34.11-94 with CryptoPro parameters has no Kazakh
 * OID at all, so one rule covers every key. Where a key came from stays
 * visible in kz_gost_key.kazakh and in the certificate itself. On input
 * (C_CreateObject, key generation) callers should accept both, via
 * kz_gost_curve_by_oid_der and kz_gost_hash_by_oid_der.
 *
 * Returns 0, or -1 when k has no curve or no hash. */
int kz_gost_key_param_oids(const kz_gost_key *k,
                           const unsigned char **curve_der, size_t *curve_len,
                           const unsigned char **hash_der, size_t *hash_len);

/* The hash a DER digest OID names, Kazakh or Russian (1.2.398.3.10.1.3.3,
 * 1.2.643.7.1.1.2.3, 1.2.398.3.10.1.3.1.1.0, 1.2.643.2.2.30.1, ...);
 * KZ_GOST_HASH_NONE if unknown. */
kz_gost_hash kz_gost_hash_by_oid_der(const unsigned char *der, size_t len);

/* Digest length in bytes (32 or 64), 0 for KZ_GOST_HASH_NONE. */
size_t kz_gost_hash_len(kz_gost_hash h);

/* ---- Encoding (the inverse of the decoders above) --------------------------
 *
 * kazakh != 0 writes the NCA's own encoding, byte for byte what NCA
 * containers and certificates carry (checked on every fixture):
 *
 *   curve / hash                    algorithm / params {curve, hash}     private key
 *   TC26-512-A / Streebog-512       1.2.398.3.10.1.1.2.2                 OCTET STRING { OCTET STRING
 *                                   {1.2.398.3.10.1.1.2.2.1,               of 64 bytes little-endian }
 *                                    1.2.398.3.10.1.3.3}
 *   TC26-256-A / Streebog-256       1.2.398.3.10.1.1.2.1                 as above, 32 bytes
 *                                   {1.2.398.3.10.1.1.2.1.1,
 *                                    1.2.398.3.10.1.3.2}
 *   CryptoPro-A / GOST R 34.11-94   1.2.398.3.10.1.1.1.1                 INTEGER, big-endian
 *     test set (GOST 34.311-95)     {1.2.398.3.10.1.1.1.1.1,
 *                                    1.2.398.3.10.1.3.1.1.0}
 *
 * Any other curve / hash pair has no Kazakh name: the encoders return -1
 * (kz_gost_key_kazakh_encodable says so beforehand).
 *
 * kazakh == 0 writes what OpenSSL's gost engine (libengine-gost-openssl
 * 3.0.1) writes itself (the unit test compares them byte for byte), which
 * is RFC 9215 / RFC 4491 with the Russian OIDs:
 *   Streebog-512, TC26-512-A/B    1.2.643.7.1.1.1.2 {curve, 1.2.643.7.1.1.2.3}
 *   Streebog-512, TC26-512-C      1.2.643.7.1.1.1.2 {curve}
 *   Streebog-256, TC26-256-A      1.2.643.7.1.1.1.1 {curve}
 *   Streebog-256, CryptoPro curve 1.2.643.7.1.1.1.1 {curve, 1.2.643.7.1.1.2.2}
 *   GOST R 34.11-94 (either set)  1.2.643.2.2.19 {curve, 1.2.643.2.2.30.1 or
 *                                 .30.0}; CryptoPro curves only
 * (no digest OID for the two sets TC26 defined in twisted Edwards form;
 * the engine labels every 2001 key .30.1, we keep the key's own set)
 * with the curve's primary (TC26 / CryptoPro) OID, and privateKey = the n
 * scalar bytes little-endian with no inner wrapper, the engine's default
 * form (it reads the wrapped and INTEGER forms too, as does the decoder).
 *
 * The SubjectPublicKeyInfo holds a BIT STRING (no unused bits) wrapping an
 * OCTET STRING of X || Y little-endian in both cases.
 *
 * Both encoders return 0 and an OPENSSL_malloc'd DER buffer, or -1 (key
 * without the needed part or with inconsistent lengths, no such encoding,
 * allocation failure) with *der = NULL and *len = 0. The PKCS#8 output is
 * secret: release it with OPENSSL_clear_free(*der, *len). Every
 * intermediate copy of the private scalar is wiped. Nothing is left on
 * OpenSSL's error queue. Thread-safe. */

/* 1 if the key's curve and hash have a Kazakh encoding (the table above). */
int kz_gost_key_kazakh_encodable(const kz_gost_key *k);

/* PKCS#8 PrivateKeyInfo (version 0, no attributes); needs has_priv. */
int kz_gost_key_to_pkcs8(const kz_gost_key *k, int kazakh, unsigned char **der, size_t *len);

/* SubjectPublicKeyInfo; needs has_pub. */
int kz_gost_key_to_spki(const kz_gost_key *k, int kazakh, unsigned char **der, size_t *len);

#endif
