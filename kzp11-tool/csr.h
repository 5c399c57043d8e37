/* PKCS#10 certificate requests for a token's key, in the form the NCA
 * accepts: RSA with sha256WithRSAEncryption; GOST 2015 with the Kazakh
 * algorithm OIDs and the signature in the NCA's byte order. */
#ifndef KZP11_TOOL_CSR_H
#define KZP11_TOOL_CSR_H

#include "tokenkey.h"
#include <openssl/x509.h>

/* Signs tbs with the key under mech on the token and returns the raw
 * PKCS#11 signature in a malloc'd buffer. Exit code. */
typedef int (*kzt_signer)(void *ctx, CK_MECHANISM_TYPE mech,
                          const unsigned char *tbs, size_t tbs_len,
                          unsigned char **sig, size_t *sig_len);

/* Builds and signs a request. Exit code; errors are reported. */
int kzt_csr_build(X509_NAME *subject, const kzt_tokkey *key,
                  kzt_signer sign, void *ctx, X509_REQ **out);

/* The Kazakh algorithm that key's curve maps to ("1.2.398.3.10.1.1.2.2"
 * for TC26-512-A...), or NULL when the NCA has no GOST 2015 profile for
 * it. */
const char *kzt_csr_gost_key_alg(const kzt_tokkey *key);

#endif
