/* Writing PKCS#12 key containers: the NCA's own layout, for files that NCA
 * software (NCALayer, Kalkan) must keep reading, and a PBES2 one with
 * present-day algorithms for everything else. kz_p12_open reads both. */
#ifndef KZP11_P12_WRITER_H
#define KZP11_P12_WRITER_H

#include <stddef.h>
#include <openssl/types.h>
#include "pkcs11_types.h"

typedef enum {
    /* Exactly the structure of the NCA's files (checked field by field on
     * every fixture; see p12_writer.c for the list): PFX v3; the
     * AuthenticatedSafe a "data" ContentInfo; first a "data" ContentInfo
     * with the one pkcs8ShroudedKeyBag under pbeWithSHA1And3-KeyTripleDES-CBC,
     * then an "encryptedData" ContentInfo under pbeWithSHA1And40BitRC2-CBC
     * holding the one certBag; both PBEs 1024 iterations, 20-byte salts;
     * MAC HMAC-SHA1, 20-byte salt, 1024 iterations; each bag carries
     * localKeyID and friendlyName. The one difference: we write DER
     * throughout, where the NCA's AuthenticatedSafe and encryptedData use
     * BER indefinite lengths (DER is valid BER; the MAC covers what is
     * actually there). Weak by today's standards (RC2-40, 3DES, 1024
     * iterations), and OpenSSL 3 reads it only with the legacy provider. */
    KZ_P12_WRITE_NCA,
    /* The same layout with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC, 16-byte
     * salts, 600,000 iterations) for the key and the certificate part, and
     * MAC HMAC-SHA256 with a 32-byte salt and also 600,000 iterations: the
     * MAC is checked with the same password, so a cheaper MAC would let a
     * guesser skip the encryption's work factor. Readable by OpenSSL 3
     * without the legacy provider. */
    KZ_P12_WRITE_PBES2
} kz_p12_write_format;

/* Builds a whole PKCS#12 file in memory: one shrouded key bag (pkcs8, a DER
 * PrivateKeyInfo, encrypted under pass; NULL with no certificate either for
 * an empty container, which holds no bags, only the MAC) and, if cert != NULL, one
 * certificate bag (cert: one DER X.509 certificate, stored as given) in an
 * encrypted part after it. Without a certificate (a freshly generated key
 * awaiting its certificate) the file holds the key part only.
 *
 * Both bags carry localKeyID = local_key_id (at most 64 bytes; left out
 * when id_len is 0) and friendlyName = friendly_name (UTF-8, under 256
 * bytes, stored as BMPString; left out when NULL or ""): the limits are
 * what kz_p12_open returns. NCA files use the certificate's SKI and its
 * lowercase hex.
 * Attributes are written in DER order, which for the NCA's 20-byte ID and
 * 40-character name is the NCA's order (localKeyID, friendlyName).
 *
 * pass is UTF-8 (pass_len bytes, no terminator needed), treated as
 * kz_p12_open treats it. All cryptography, salts and IVs come from libctx
 * (KZ_P12_WRITE_NCA needs the legacy provider in it). Every copy of the
 * password and of the plaintext key made here is wiped. The file is read
 * back with kz_p12_open and compared with the input before it is returned
 * (see p12_writer.c for why), which doubles the cost of a PBES2 file.
 *
 * Returns CKR_OK with *out malloc'd (the caller frees it) and *out_len set;
 * CKR_ARGUMENTS_BAD for NULL pointers where data is required, pkcs8 or cert
 * not a single well-formed DER structure, an unknown fmt, an ID or name
 * over the limits, or a name that is not UTF-8 within the BMP;
 * CKR_HOST_MEMORY; CKR_FUNCTION_FAILED (e.g. an algorithm missing from
 * libctx, or a file that did not read back). On error *out is NULL and
 * *out_len 0. */
CK_RV kz_p12_build(const unsigned char *pkcs8, size_t pkcs8_len,
                   const unsigned char *cert, size_t cert_len,
                   const unsigned char *local_key_id, size_t id_len,
                   const char *friendly_name,
                   const char *pass, size_t pass_len,
                   kz_p12_write_format fmt, OSSL_LIB_CTX *libctx,
                   unsigned char **out, size_t *out_len);

#endif
