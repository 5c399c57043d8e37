/* GOST R 34.11-94 (RFC 5831) over GOST 28147-89.
 *
 * Numbering: the standard writes a 256-bit value as 16-bit, 32-bit or 64-bit
 * pieces counted from the least significant end, and the gost engine maps
 * message byte i to byte i from that end. So a block is four little-endian
 * 64-bit words, word 0 holding message bytes 0..7.
 *
 * Speed: each GOST 28147-89 round substitutes eight nibbles and rotates left
 * by 11. Per parameter set, pairs of S-boxes and the rotation fold into four
 * tables of 256 words, so a round is four lookups. */
#include "gost94.h"

#include <pthread.h>
#include <string.h>
#include <openssl/crypto.h>

struct kz_gost94_params {
    /* sbox[0] is the standard's K1, which takes the least significant
     * nibble of the round function's input. */
    unsigned char sbox[8][16];
    uint32_t (*tab)[256];   /* the folded tables, filled once */
};

static uint32_t test_tab[4][256];
static uint32_t cryptopro_tab[4][256];

/* RFC 5831 section 7.1: the S-boxes of the standard's worked example, named
 * id-GostR3411-94-TestParamSet in RFC 4357; the NCA's GOST 34.311-95. */
const kz_gost94_params kz_gost94_test_params = {
    .sbox = {
        {  4, 10,  9,  2, 13,  8,  0, 14,  6, 11,  1, 12,  7, 15,  5,  3 },
        { 14, 11,  4, 12,  6, 13, 15, 10,  2,  3,  8,  1,  0,  7,  5,  9 },
        {  5,  8,  1, 13, 10,  3,  4,  2, 14, 15, 12,  7,  6,  0,  9, 11 },
        {  7, 13, 10,  1,  0,  8,  9, 15, 14,  4,  6, 12, 11,  2,  5,  3 },
        {  6, 12,  7,  1,  5, 15, 13,  8,  4, 10,  9, 14,  0,  3, 11,  2 },
        {  4, 11, 10,  0,  7,  2,  1, 13,  3,  6,  8,  5,  9, 12, 15, 14 },
        { 13, 11,  4,  1,  3, 15,  5,  9,  0, 10, 14,  7,  6,  8,  2, 12 },
        {  1, 15, 13,  0,  5,  7, 10,  4,  9,  2,  3, 14,  6, 11,  8, 12 },
    },
    .tab = test_tab,
};

/* RFC 4357 section 11.2: id-GostR3411-94-CryptoProParamSet. */
const kz_gost94_params kz_gost94_cryptopro_params = {
    .sbox = {
        { 0xA, 0x4, 0x5, 0x6, 0x8, 0x1, 0x3, 0x7, 0xD, 0xC, 0xE, 0x0, 0x9, 0x2, 0xB, 0xF },
        { 0x5, 0xF, 0x4, 0x0, 0x2, 0xD, 0xB, 0x9, 0x1, 0x7, 0x6, 0x3, 0xC, 0xE, 0xA, 0x8 },
        { 0x7, 0xF, 0xC, 0xE, 0x9, 0x4, 0x1, 0x0, 0x3, 0xB, 0x5, 0x2, 0x6, 0xA, 0x8, 0xD },
        { 0x4, 0xA, 0x7, 0xC, 0x0, 0xF, 0x2, 0x8, 0xE, 0x1, 0x6, 0x5, 0xD, 0xB, 0x9, 0x3 },
        { 0x7, 0x6, 0x4, 0xB, 0x9, 0xC, 0x2, 0xA, 0x1, 0x8, 0x0, 0xE, 0xF, 0xD, 0x3, 0x5 },
        { 0x7, 0x6, 0x2, 0x4, 0xD, 0x9, 0xF, 0x0, 0xA, 0x1, 0x5, 0xB, 0x8, 0xE, 0xC, 0x3 },
        { 0xD, 0xE, 0x4, 0x1, 0x7, 0x0, 0x5, 0xA, 0x3, 0xC, 0x8, 0xF, 0x6, 0x2, 0x9, 0xB },
        { 0x1, 0x3, 0xA, 0x9, 0x5, 0xB, 0x4, 0xF, 0x8, 0x6, 0x7, 0xE, 0xD, 0x0, 0x2, 0xC },
    },
    .tab = cryptopro_tab,
};

/* RFC 5831 section 6.1: C3 of the key schedule (C2 = C4 = 0), printed there
 * as a 256-bit number; here most significant 64-bit word first. */
static const uint64_t C3_be[4] = {
    0xff00ffff000000ff, 0xff0000ff00ffff00, 0x00ff00ff00ff00ff, 0xff00ff00ff00ff00,
};

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_one(const kz_gost94_params *p)
{
    for (unsigned j = 0; j < 4; j++) {
        for (unsigned b = 0; b < 256; b++) {
            uint32_t v = (uint32_t)(p->sbox[2 * j][b & 15] |
                                    p->sbox[2 * j + 1][b >> 4] << 4) << (8 * j);
            p->tab[j][b] = v << 11 | v >> 21;
        }
    }
}

static void build_tables(void)
{
    build_one(&kz_gost94_test_params);
    build_one(&kz_gost94_cryptopro_params);
}

static inline uint64_t load64_le(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void store64_le(unsigned char *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t round_f(uint32_t (*t)[256], uint32_t x)
{
    return t[0][x & 0xff] ^ t[1][x >> 8 & 0xff] ^ t[2][x >> 16 & 0xff] ^ t[3][x >> 24];
}

/* GOST 28147-89 simple replacement of the four 64-bit words of H, each under
 * its own key, the low half of a word being N1. Each round waits on the one
 * before, so one block alone leaves the CPU idle most of the time; running
 * the four independent blocks side by side nearly doubles the hash speed.
 * Alternating which half is updated stands in for the swap; key order is
 * k1..k8 three times, then k8..k1. */
#define GOST_2ROUNDS(i, j) do { \
        b0 ^= round_f(t, a0 + k[0][i]); b1 ^= round_f(t, a1 + k[1][i]); \
        b2 ^= round_f(t, a2 + k[2][i]); b3 ^= round_f(t, a3 + k[3][i]); \
        a0 ^= round_f(t, b0 + k[0][j]); a1 ^= round_f(t, b1 + k[1][j]); \
        a2 ^= round_f(t, b2 + k[2][j]); a3 ^= round_f(t, b3 + k[3][j]); \
    } while (0)

static void encrypt4(uint32_t (*t)[256], const uint32_t k[4][8], const uint64_t in[4],
                     uint64_t out[4])
{
    uint32_t a0 = (uint32_t)in[0], b0 = (uint32_t)(in[0] >> 32);
    uint32_t a1 = (uint32_t)in[1], b1 = (uint32_t)(in[1] >> 32);
    uint32_t a2 = (uint32_t)in[2], b2 = (uint32_t)(in[2] >> 32);
    uint32_t a3 = (uint32_t)in[3], b3 = (uint32_t)(in[3] >> 32);

    for (unsigned i = 0; i < 3; i++) {
        GOST_2ROUNDS(0, 1);
        GOST_2ROUNDS(2, 3);
        GOST_2ROUNDS(4, 5);
        GOST_2ROUNDS(6, 7);
    }
    GOST_2ROUNDS(7, 6);
    GOST_2ROUNDS(5, 4);
    GOST_2ROUNDS(3, 2);
    GOST_2ROUNDS(1, 0);
    /* The last round does not swap, so the halves come out exchanged. */
    out[0] = (uint64_t)a0 << 32 | b0;
    out[1] = (uint64_t)a1 << 32 | b1;
    out[2] = (uint64_t)a2 << 32 | b2;
    out[3] = (uint64_t)a3 << 32 | b3;
}

/* The key schedule's P: key word m gathers byte m of each 64-bit word of w. */
static void transform_p(uint32_t k[8], const uint64_t w[4])
{
    for (unsigned m = 0; m < 8; m++)
        k[m] = (uint32_t)(w[0] >> (8 * m) & 0xff) |
               (uint32_t)(w[1] >> (8 * m) & 0xff) << 8 |
               (uint32_t)(w[2] >> (8 * m) & 0xff) << 16 |
               (uint32_t)(w[3] >> (8 * m) & 0xff) << 24;
}

/* The key schedule's A(y4|y3|y2|y1) = (y1^y2)|y4|y3|y2. */
static void transform_a(uint64_t y[4])
{
    uint64_t t = y[0] ^ y[1];
    y[0] = y[1];
    y[1] = y[2];
    y[2] = y[3];
    y[3] = t;
}

/* psi^n, psi being the 16-bit-word LFSR step of the mixing transform. Rather
 * than shifting 16 words n times, the new words are appended to a running
 * sequence and the last 16 taken. */
static void psi_n(uint16_t y[16], unsigned n)
{
    uint16_t s[16 + 64];

    memcpy(s, y, 16 * sizeof(uint16_t));
    for (unsigned i = 0; i < n; i++)
        s[16 + i] = s[i] ^ s[i + 1] ^ s[i + 2] ^ s[i + 3] ^ s[i + 12] ^ s[i + 15];
    memcpy(y, s + n, 16 * sizeof(uint16_t));
}

static void to_words16(uint16_t y[16], const uint64_t w[4])
{
    for (unsigned i = 0; i < 16; i++)
        y[i] = (uint16_t)(w[i / 4] >> (16 * (i % 4)));
}

/* The step function f(H, M). */
static void step(uint32_t (*t)[256], uint64_t h[4], const uint64_t m[4])
{
    uint64_t u[4], v[4], w[4], s[4];
    uint32_t k[4][8];
    uint16_t y[16];

    memcpy(u, h, sizeof(u));
    memcpy(v, m, sizeof(v));
    for (unsigned j = 0; j < 4; j++) {
        if (j > 0) {
            transform_a(u);
            if (j == 2)
                for (unsigned i = 0; i < 4; i++)
                    u[i] ^= C3_be[3 - i];
            transform_a(v);
            transform_a(v);
        }
        for (unsigned i = 0; i < 4; i++)
            w[i] = u[i] ^ v[i];
        transform_p(k[j], w);
    }
    encrypt4(t, k, h, s);

    /* H' = psi^61(H ^ psi(M ^ psi^12(S))) */
    to_words16(y, s);
    psi_n(y, 12);
    for (unsigned i = 0; i < 16; i++)
        y[i] ^= (uint16_t)(m[i / 4] >> (16 * (i % 4)));
    psi_n(y, 1);
    for (unsigned i = 0; i < 16; i++)
        y[i] ^= (uint16_t)(h[i / 4] >> (16 * (i % 4)));
    psi_n(y, 61);
    for (unsigned i = 0; i < 4; i++)
        h[i] = (uint64_t)y[4 * i] | (uint64_t)y[4 * i + 1] << 16 |
               (uint64_t)y[4 * i + 2] << 32 | (uint64_t)y[4 * i + 3] << 48;
}

static void add256(uint64_t a[4], const uint64_t b[4])
{
    uint64_t carry = 0;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t x = a[i] + b[i];
        uint64_t c = x < b[i];
        x += carry;
        c |= x < carry;
        a[i] = x;
        carry = c;
    }
}

static void add_bits(uint64_t n[4], uint64_t bits)
{
    n[0] += bits;
    if (n[0] < bits)
        for (unsigned i = 1; i < 4 && ++n[i] == 0; i++)
            ;
}

static void process_block(kz_gost94_ctx *c, const unsigned char *p)
{
    uint64_t m[4];
    for (unsigned i = 0; i < 4; i++)
        m[i] = load64_le(p + 8 * i);
    step(c->params->tab, c->h, m);
    add256(c->sigma, m);
    add_bits(c->len, 256);
}

void kz_gost94_init(kz_gost94_ctx *c, const kz_gost94_params *p)
{
    pthread_once(&tables_once, build_tables);
    memset(c, 0, sizeof(*c));
    c->params = p;
}

void kz_gost94_update(kz_gost94_ctx *c, const unsigned char *in, size_t len)
{
    if (len == 0)
        return;
    if (c->buflen) {
        size_t take = 32 - c->buflen;
        if (take > len)
            take = len;
        memcpy(c->buf + c->buflen, in, take);
        c->buflen += take;
        in += take;
        len -= take;
        if (c->buflen < 32)
            return;
        process_block(c, c->buf);
        c->buflen = 0;
    }
    /* A full last block is processed like any other, so none is held back. */
    for (; len >= 32; in += 32, len -= 32)
        process_block(c, in);
    if (len) {
        memcpy(c->buf, in, len);
        c->buflen = len;
    }
}

void kz_gost94_final(kz_gost94_ctx *c, unsigned char out[32])
{
    uint32_t (*t)[256] = c->params->tab;

    /* A partial tail is zero-padded at its high end; an empty one (also the
     * empty message) adds no block at all, as in the gost engine. */
    if (c->buflen) {
        memset(c->buf + c->buflen, 0, 32 - c->buflen);
        uint64_t m[4];
        for (unsigned i = 0; i < 4; i++)
            m[i] = load64_le(c->buf + 8 * i);
        step(t, c->h, m);
        add256(c->sigma, m);
        add_bits(c->len, (uint64_t)c->buflen * 8);
        OPENSSL_cleanse(m, sizeof(m));
    }
    step(t, c->h, c->len);
    step(t, c->h, c->sigma);
    for (unsigned i = 0; i < 4; i++)
        store64_le(out + 8 * i, c->h[i]);
    OPENSSL_cleanse(c, sizeof(*c));
}

void kz_gost94(const kz_gost94_params *p, const unsigned char *in, size_t len,
               unsigned char out[32])
{
    kz_gost94_ctx c;
    kz_gost94_init(&c, p);
    kz_gost94_update(&c, in, len);
    kz_gost94_final(&c, out);
}
