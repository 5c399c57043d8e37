/* The Kaztoken simulator's cryptography, in the card's own byte orders
 * (card-protocols.md §3.4-§3.5): the card works on little-endian integers.
 *
 * Key RSF contents, L = modulus length in bytes, h = L/2:
 *   RSA private  5h+8 bytes: p, 4 zero bytes, q, 4 zero bytes, iqmp, dmp1,
 *                dmq1 - each h bytes little-endian
 *   RSA public   3h bytes: modulus (L bytes LE), exponent (h bytes LE,
 *                zero-padded)
 *   GOST private 32 bytes: d little-endian
 *   GOST public  64 bytes: X || Y, each little-endian
 * (The public layout of GOST keys is the document's inference; the others
 * are the layouts OpenSC's pkcs15-init writes.) */
#ifndef KZ_BENCH_KT_CRYPTO_H
#define KZ_BENCH_KT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define KT_GOST_PRIV_LEN 32
#define KT_GOST_PUB_LEN  64
#define KT_GOST_SIG_LEN  64

/* Sizes of the RSA RSFs for a modulus of L bytes. */
#define KT_RSA_PRIV_LEN(L) (5 * ((L) / 2) + 8)
#define KT_RSA_PUB_LEN(L)  (3 * ((L) / 2))

int kt_random(uint8_t *buf, size_t n);  /* 0 on success */

/* New RSA key with e = 65537 (the card always reports 01 00 01). priv and
 * pub receive the RSF contents above. 0 on success. */
int kt_rsa_generate(size_t L, uint8_t *priv, uint8_t *pub);

/* Raw RSA with the private key of an RSA private RSF: in is a little-endian
 * integer (at most L bytes) below the modulus; out receives L bytes, little
 * endian. 0 on success, -1 if the input is out of range or the key is
 * malformed. */
int kt_rsa_private(const uint8_t *priv, size_t priv_len,
                   const uint8_t *in, size_t in_len, uint8_t *out);

/* paramset: 1, 2, 3 = CryptoPro A, B, C. */
int kt_gost_generate(int paramset, uint8_t priv[KT_GOST_PRIV_LEN],
                     uint8_t pub[KT_GOST_PUB_LEN]);

/* Signs the 32 bytes the host sent. The simulator reads them as the GOST
 * digest exactly as kzp11's gost3410.c defines one (a little-endian integer
 * e, the gost engine's convention) and answers the signature s || r
 * (big-endian, RFC 4491) byte-reversed, i.e. r || s little-endian: the card
 * speaks little-endian, and a driver that reverses the card's answer - as
 * OpenSC's rtecp driver does (§3.5) - gets the PKCS#11 CKM_GOSTR3410
 * signature. Which of these the real card does is not public (§8). */
int kt_gost_sign(int paramset, const uint8_t priv[KT_GOST_PRIV_LEN],
                 const uint8_t hash[32], uint8_t sig[KT_GOST_SIG_LEN]);

#endif
