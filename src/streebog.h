/* Streebog, GOST R 34.11-2012 (RFC 6986), 256- and 512-bit. The NCA's GOST
 * 2015 keys sign with it. Our own code rather than the gost engine because
 * the engine is optional on users' machines and does not know Kazakh OIDs.
 *
 * Byte order: input and output are byte strings exactly as OpenSSL's gost
 * engine (md_gost12_256/512) and RFC 6986's byte-string reading treat them;
 * RFC 6986 prints its examples as big numbers, i.e. byte-reversed. */
#ifndef KZP11_STREEBOG_H
#define KZP11_STREEBOG_H

#include <stddef.h>
#include <stdint.h>

#define KZ_STREEBOG256_LEN 32
#define KZ_STREEBOG512_LEN 64

/* Fixed size and no heap, so it can live inside a session or on the stack.
 * Fields are private. */
typedef struct kz_streebog_ctx {
    uint64_t h[8];
    uint64_t n[8];       /* bits hashed so far, a 512-bit counter */
    uint64_t sigma[8];   /* sum of all blocks mod 2^512 */
    unsigned char buf[64];
    size_t buflen;       /* 0..63: a full block is always compressed at once */
    unsigned bits;       /* 256 or 512 */
} kz_streebog_ctx;

/* bits must be 256 or 512; anything else is taken as 512 (never a short or
 * overlong write in final). */
void kz_streebog_init(kz_streebog_ctx *c, unsigned bits);
void kz_streebog_update(kz_streebog_ctx *c, const unsigned char *in, size_t len);
/* Writes bits/8 bytes and wipes the context; init again to reuse it. */
void kz_streebog_final(kz_streebog_ctx *c, unsigned char *out);

/* One-shot convenience; out gets bits/8 bytes. */
void kz_streebog(unsigned bits, const unsigned char *in, size_t len,
                 unsigned char *out);

#endif
