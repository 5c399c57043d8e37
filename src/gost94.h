/* GOST R 34.11-94 (RFC 5831) with a choice of S-box parameter set.
 *
 * The NCA's old GOST 34.310-2004 keys hash with GOST 34.311-95, which is
 * GOST R 34.11-94 under the *test* parameter set
 * (id-GostR3411-94-TestParamSet); the gost engine only offers the CryptoPro
 * set, so kzp11 carries its own.
 *
 * Byte order: message and digest are byte strings as the gost engine's
 * md_gost94 reads and prints them (byte i of the message is byte i, counting
 * from the least significant, of the standard's 256-bit blocks). */
#ifndef KZP11_GOST94_H
#define KZP11_GOST94_H

#include <stddef.h>
#include <stdint.h>

#define KZ_GOST94_LEN 32

/* A parameter set: the eight 4-bit S-boxes of the underlying GOST 28147-89.
 * Opaque because it carries lookup tables derived from them. */
typedef struct kz_gost94_params kz_gost94_params;

/* id-GostR3411-94-TestParamSet (1.2.643.2.2.30.0), = GOST 34.311-95. */
extern const kz_gost94_params kz_gost94_test_params;
/* id-GostR3411-94-CryptoProParamSet (1.2.643.2.2.30.1), RFC 4357. */
extern const kz_gost94_params kz_gost94_cryptopro_params;

/* Fields are private. */
typedef struct kz_gost94_ctx {
    const kz_gost94_params *params;
    uint64_t h[4];
    uint64_t sigma[4];   /* sum of all blocks mod 2^256 */
    uint64_t len[4];     /* bits hashed so far, a 256-bit counter */
    unsigned char buf[32];
    size_t buflen;       /* 0..31 */
} kz_gost94_ctx;

void kz_gost94_init(kz_gost94_ctx *c, const kz_gost94_params *p);
void kz_gost94_update(kz_gost94_ctx *c, const unsigned char *in, size_t len);
/* Writes 32 bytes and wipes the context; init again to reuse it. */
void kz_gost94_final(kz_gost94_ctx *c, unsigned char out[32]);

/* One-shot convenience. */
void kz_gost94(const kz_gost94_params *p, const unsigned char *in, size_t len,
               unsigned char out[32]);

#endif
