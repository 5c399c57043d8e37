/* GOST R 34.10-2012 signature generation and verification, key generation. */

/* Three EC calls used here are deprecated in OpenSSL 3.0 without a
 * replacement: EC_POINTs_make_affine (one field inversion instead of ~5000
 * when the signing table is built) and EC_POINT_{set,get}_Jprojective_
 * coordinates_GFp (feeding table entries to EC_POINT_add without an
 * on-curve test each, and reading Z for a blinded inversion). They are
 * present throughout OpenSSL 3.x. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "gost3410.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>

/* Bound on nonce retries. r or s is 0 with probability about 2/q, so hitting
 * the bound means the RNG or the curve description is broken. */
#define MAX_NONCE_TRIES 32

size_t kz_gost3410_digest_len(const kz_gost_curve *c) { return c ? c->field_len : 0; }
size_t kz_gost3410_sig_len(const kz_gost_curve *c) { return c ? 2 * c->field_len : 0; }
size_t kz_gost3410_pub_len(const kz_gost_curve *c) { return c ? 2 * c->field_len : 0; }
size_t kz_gost3410_priv_len(const kz_gost_curve *c) { return c ? c->field_len : 0; }

void kz_gost3410_sig_to_nca(const unsigned char *sig, size_t len, unsigned char *out)
{
    /* Swap from both ends inward so that in-place use works. */
    for (size_t i = 0, j = len; i < j--; i++) {
        unsigned char t = sig[i];
        out[i] = sig[j];
        out[j] = t;
    }
}

void kz_gost3410_sig_from_nca(const unsigned char *nca, size_t len, unsigned char *out)
{
    kz_gost3410_sig_to_nca(nca, len, out);
}

/* ---- Group access -------------------------------------------------------- */

/* Table curves borrow the process-wide group; anything else (the standard's
 * example curves) gets a private one that release() frees. */
typedef struct {
    const EC_GROUP *group;
    BN_MONT_CTX *qmont;
    EC_GROUP *owned_group;
    BN_MONT_CTX *owned_mont;
} group_ref;

static int acquire(const kz_gost_curve *c, group_ref *g, BN_CTX *ctx)
{
    memset(g, 0, sizeof(*g));
    if (c == NULL || (c->field_len != 32 && c->field_len != 64))
        return 0;
    if ((g->group = kz_gost_curve_group(c)) != NULL) {
        g->qmont = kz_gost_curve_order_mont(c);
        return g->qmont != NULL;
    }
    if ((g->owned_group = kz_gost_curve_group_new(c)) == NULL)
        return 0;
    g->group = g->owned_group;
    if ((g->owned_mont = BN_MONT_CTX_new()) == NULL ||
        !BN_MONT_CTX_set(g->owned_mont, EC_GROUP_get0_order(g->group), ctx))
        return 0;
    g->qmont = g->owned_mont;
    return 1;
}

static void release(group_ref *g)
{
    EC_GROUP_free(g->owned_group);
    BN_MONT_CTX_free(g->owned_mont);
    memset(g, 0, sizeof(*g));
}

/* ---- Fixed-base multiplication ------------------------------------------
 *
 * k*G is the whole cost of a signature. OpenSSL's ladder needs one addition
 * and one doubling per bit; the gost engine ships hand-tuned per-curve code
 * and signs about six times faster on TC26-512-A. This comb closes the gap
 * with OpenSSL's own point addition and a precomputed table, one addition
 * per COMB_W bits and no doublings:
 *
 *   k is made odd (k or q - k: both give the same x, and the sign of the
 *   result is restored when y is wanted), then written with signed odd
 *   digits, k = sum d_i 2^(W i), |d_i| odd and below 2^W. Block i of the
 *   table holds the odd multiples 1, 3, ..., 2^W - 1 of 2^(W i) G in affine
 *   form, so every step adds a point that is never the point at infinity.
 *
 * Side channels: the recoding is branch-free, every lookup reads the whole
 * block and keeps one entry by masking, and the negation is a masked choice.
 * The additions are OpenSSL's EC_POINT_add, the same BN Montgomery field code
 * its ladder uses; its special cases (an operand at infinity, equal points)
 * are only reachable at the first step, which is public, or with negligible
 * probability. */

#define COMB_W 7
#define COMB_E (1u << (COMB_W - 1))     /* entries per block */
#define MAX_TABLE_CURVES 16

typedef struct {
    size_t n;           /* coordinate bytes */
    int blocks;
    size_t ewords;      /* 64-bit words per entry: x || y, big-endian bytes */
    uint64_t *tab;
} comb_table;

static comb_table *combs[MAX_TABLE_CURVES];
static pthread_mutex_t comb_lock = PTHREAD_MUTEX_INITIALIZER;

static void comb_free(comb_table *t)
{
    if (t == NULL)
        return;
    OPENSSL_free(t->tab);
    OPENSSL_free(t);
}

static comb_table *comb_build(const kz_gost_curve *c, const EC_GROUP *g)
{
    BN_CTX *ctx = BN_CTX_new();
    comb_table *t = OPENSSL_zalloc(sizeof(*t));
    EC_POINT **pts = NULL, *base = NULL, *step = NULL;
    BIGNUM *x, *y;
    size_t total = 0;
    int ok = 0;

    if (ctx == NULL || t == NULL)
        goto out;
    BN_CTX_start(ctx);
    x = BN_CTX_get(ctx);
    y = BN_CTX_get(ctx);
    if (y == NULL)
        goto out;
    t->n = c->field_len;
    /* ceil((bits + 1) / W) digits hold any odd k < q; see comb_digit. */
    t->blocks = (BN_num_bits(EC_GROUP_get0_order(g)) + 1 + COMB_W - 1) / COMB_W;
    t->ewords = 2 * t->n / 8;
    total = (size_t)t->blocks * COMB_E;
    if ((pts = OPENSSL_zalloc(total * sizeof(*pts))) == NULL ||
        (t->tab = OPENSSL_malloc(total * t->ewords * 8)) == NULL ||
        (base = EC_POINT_dup(EC_GROUP_get0_generator(g), g)) == NULL ||
        (step = EC_POINT_new(g)) == NULL)
        goto out;
    for (int i = 0; i < t->blocks; i++) {
        EC_POINT **blk = pts + (size_t)i * COMB_E;

        if ((blk[0] = EC_POINT_dup(base, g)) == NULL || !EC_POINT_dbl(g, step, base, ctx))
            goto out;
        for (unsigned j = 1; j < COMB_E; j++)
            if ((blk[j] = EC_POINT_new(g)) == NULL ||
                !EC_POINT_add(g, blk[j], blk[j - 1], step, ctx))
                goto out;
        for (int b = 0; b < COMB_W; b++)
            if (!EC_POINT_dbl(g, base, base, ctx))
                goto out;
    }
    if (!EC_POINTs_make_affine(g, total, pts, ctx))
        goto out;
    for (size_t e = 0; e < total; e++) {
        unsigned char *dst = (unsigned char *)(t->tab + e * t->ewords);

        if (!EC_POINT_get_affine_coordinates(g, pts[e], x, y, ctx) ||
            BN_bn2binpad(x, dst, (int)t->n) != (int)t->n ||
            BN_bn2binpad(y, dst + t->n, (int)t->n) != (int)t->n)
            goto out;
    }
    ok = 1;
out:
    if (pts != NULL)
        for (size_t e = 0; e < total; e++)
            EC_POINT_free(pts[e]);
    OPENSSL_free(pts);
    EC_POINT_free(base);
    EC_POINT_free(step);
    if (ctx != NULL)
        BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    if (!ok) {
        comb_free(t);
        t = NULL;
    }
    return t;
}

/* The table of a table curve, built on first use; NULL for other curves. */
static const comb_table *comb_get(const kz_gost_curve *c, const EC_GROUP *g)
{
    size_t i, count = kz_gost_curve_count();
    comb_table *t;

    for (i = 0; i < count && i < MAX_TABLE_CURVES; i++)
        if (kz_gost_curve_at(i) == c)
            break;
    if (i == count || i == MAX_TABLE_CURVES)
        return NULL;
    if ((t = __atomic_load_n(&combs[i], __ATOMIC_ACQUIRE)) != NULL)
        return t;
    pthread_mutex_lock(&comb_lock);
    if ((t = combs[i]) == NULL && (t = comb_build(c, g)) != NULL)
        __atomic_store_n(&combs[i], t, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&comb_lock);
    return t;
}

void kz_gost3410_cleanup(void)
{
    pthread_mutex_lock(&comb_lock);
    for (size_t i = 0; i < MAX_TABLE_CURVES; i++) {
        comb_free(combs[i]);
        combs[i] = NULL;
    }
    pthread_mutex_unlock(&comb_lock);
}

/* All-ones when a == b, else zero, without a branch. */
static uint64_t ct_eq_mask(uint32_t a, uint32_t b)
{
    uint64_t d = (uint64_t)(a ^ b);

    return ((d | (0 - d)) >> 63) - 1;
}

static void ct_select_bytes(unsigned char *dst, const unsigned char *a,
                            const unsigned char *b, size_t len, unsigned char take_b)
{
    unsigned char m = (unsigned char)(0 - take_b);

    for (size_t i = 0; i < len; i++)
        dst[i] = (unsigned char)((a[i] & ~m) | (b[i] & m));
}

/* acc = entry idx of a block, reading every entry. Always inlined so that
 * each call site gets a constant entry size, and the accumulator lives in
 * a local array the compiler can keep in vector registers. */
static inline __attribute__((always_inline)) void
comb_scan(const uint64_t *restrict blk, uint32_t idx, uint64_t *restrict acc,
          const size_t ew)
{
    uint64_t a[2 * KZ_GOST3410_MAX_FIELD_LEN / 8] = { 0 };

    for (uint32_t j = 0; j < COMB_E; j++) {
        uint64_t m = ct_eq_mask(j, idx);

#pragma GCC unroll 16
        for (size_t w = 0; w < ew; w++)
            a[w] |= blk[j * ew + w] & m;
    }
    for (size_t w = 0; w < ew; w++)
        acc[w] = a[w];
}

/* Digit i of odd k (little-endian bytes kb, padded with 3 zero bytes) as a
 * table index and a sign. For odd k, k_i = (k >> W i) | 1, and the digit is
 * (k_i mod 2^(W+1)) - 2^W, i.e. bits W i + 1 .. W i + W of k, shifted left
 * once, plus one, minus 2^W. The last digit is k_i itself, which the block
 * count keeps below 2^W. */
static void comb_digit(const unsigned char *kb, int i, int last,
                       uint32_t *idx, unsigned char *neg)
{
    uint32_t pos = (uint32_t)(COMB_W * i + (last ? 0 : 1));
    uint32_t win = (uint32_t)kb[pos >> 3] | (uint32_t)kb[(pos >> 3) + 1] << 8 |
                   (uint32_t)kb[(pos >> 3) + 2] << 16;
    uint32_t bits = (win >> (pos & 7)) & ((1u << COMB_W) - 1);
    uint32_t v, n, m, a;

    if (last) {
        v = bits | 1;
        *idx = (v - 1) >> 1;
        *neg = 0;
        return;
    }
    v = 2 * bits + 1;
    n = ((v >> COMB_W) ^ 1) & 1;                     /* v < 2^W: negative */
    m = 0 - n;
    a = ((v - (1u << COMB_W)) ^ m) - m;               /* |v - 2^W| */
    *idx = (a - 1) >> 1;
    *neg = (unsigned char)n;
}

/* R = k'*G in projective form, where k' = k or q - k, whichever is odd;
 * *flip says which (1: q - k, so R = -kG). k is secret, in [1, q-1]. */
static int comb_mul(const EC_GROUP *g, const comb_table *t, const BIGNUM *k,
                    EC_POINT *R, unsigned char *flip, BN_CTX *ctx)
{
    unsigned char kb[KZ_GOST3410_MAX_FIELD_LEN + 3], kq[KZ_GOST3410_MAX_FIELD_LEN + 3];
    unsigned char pt[2 * KZ_GOST3410_MAX_FIELD_LEN];
    uint64_t acc[2 * KZ_GOST3410_MAX_FIELD_LEN / 8];
    const BIGNUM *q = EC_GROUP_get0_order(g);
    EC_POINT *T = EC_POINT_new(g);
    BIGNUM *x, *y, *p, *alt;
    size_t n = t->n;
    int nwords = (int)((n + BN_BYTES - 1) / BN_BYTES);
    int ok = 0;

    BN_CTX_start(ctx);
    x = BN_CTX_get(ctx);
    y = BN_CTX_get(ctx);
    p = BN_CTX_get(ctx);
    alt = BN_CTX_get(ctx);
    /* BN_consttime_swap needs room for nwords in both numbers whatever
     * their values; setting a bit above the field size reserves it, and
     * later assignments only ever grow the allocation. */
    if (alt == NULL || T == NULL || !EC_GROUP_get_curve(g, p, NULL, NULL, ctx) ||
        !BN_set_bit(y, (int)(8 * n)) || !BN_set_bit(alt, (int)(8 * n)))
        goto out;
    BN_set_flags(alt, BN_FLG_CONSTTIME);
    /* Pick k' by mask on fixed-length encodings, not by branching on k. */
    memset(kb, 0, sizeof(kb));
    memset(kq, 0, sizeof(kq));
    if (!BN_sub(alt, q, k) ||
        BN_bn2lebinpad(k, kb, (int)n) != (int)n ||
        BN_bn2lebinpad(alt, kq, (int)n) != (int)n)
        goto out;
    *flip = (unsigned char)(~kb[0] & 1);
    ct_select_bytes(kb, kb, kq, n, *flip);

    if (!EC_POINT_set_to_infinity(g, R))
        goto out;
    for (int i = 0; i < t->blocks; i++) {
        const uint64_t *blk = t->tab + (size_t)i * COMB_E * t->ewords;
        uint32_t idx;
        unsigned char neg;

        comb_digit(kb, i, i == t->blocks - 1, &idx, &neg);
        if (t->ewords == 16)
            comb_scan(blk, idx, acc, 16);
        else
            comb_scan(blk, idx, acc, 8);
        memcpy(pt, acc, 2 * n);
        /* -P = (x, p - y), swapped in by mask. */
        if (BN_bin2bn(pt, (int)n, x) == NULL || BN_bin2bn(pt + n, (int)n, y) == NULL ||
            !BN_sub(alt, p, y))
            goto out;
        BN_consttime_swap(neg, y, alt, nwords);
        /* Entries are multiples of G by construction, so they go in as
         * Jacobian (x, y, 1) without the on-curve test of
         * EC_POINT_set_affine_coordinates; the sum is tested once at the
         * end instead, which also catches a corrupted table. */
        if (!EC_POINT_set_Jprojective_coordinates_GFp(g, T, x, y, BN_value_one(), ctx) ||
            !EC_POINT_add(g, R, R, T, ctx))
            goto out;
    }
    /* A fault in the additions must not turn into a signature. */
    ok = EC_POINT_is_on_curve(g, R, ctx) == 1;
out:
    OPENSSL_cleanse(kb, sizeof(kb));
    OPENSSL_cleanse(kq, sizeof(kq));
    OPENSSL_cleanse(acc, sizeof(acc));
    OPENSSL_cleanse(pt, sizeof(pt));
    EC_POINT_clear_free(T);
    BN_CTX_end(ctx);
    return ok;
}

/* Affine x of a secret projective point. OpenSSL's conversion inverts Z by
 * exponentiation (~40 us at 512 bits); a Euclidean inverse takes half that
 * but its running time depends on the input, and Z of k*G can leak bits of
 * k, so it inverts Z^2 * b for a random b and multiplies b back. */
static int affine_x_blinded(const EC_GROUP *g, const EC_POINT *R, BIGNUM *x, BN_CTX *ctx)
{
    BIGNUM *X, *Z, *p, *b, *t;
    int ok = 0;

    BN_CTX_start(ctx);
    X = BN_CTX_get(ctx);
    Z = BN_CTX_get(ctx);
    p = BN_CTX_get(ctx);
    b = BN_CTX_get(ctx);
    t = BN_CTX_get(ctx);
    if (t == NULL || !EC_GROUP_get_curve(g, p, NULL, NULL, ctx) ||
        !EC_POINT_get_Jprojective_coordinates_GFp(g, R, X, NULL, Z, ctx) ||
        BN_is_zero(Z))
        goto out;
    do {
        if (!BN_rand_range_ex(b, p, 0, ctx))
            goto out;
    } while (BN_is_zero(b));
    if (!BN_mod_sqr(t, Z, p, ctx) || !BN_mod_mul(t, t, b, p, ctx) ||
        BN_mod_inverse(t, t, p, ctx) == NULL ||
        !BN_mod_mul(t, t, b, p, ctx) || !BN_mod_mul(x, X, t, p, ctx))
        goto out;
    ok = 1;
out:
    BN_CTX_end(ctx);
    return ok;
}

/* Affine x of k*G for a secret k in [1, q-1] (all signing needs): the comb
 * on table curves, OpenSSL's ladder (a scalar-only EC_POINT_mul, whose
 * timing does not depend on k) elsewhere. */
static int base_mul_x(const kz_gost_curve *c, const EC_GROUP *g, const BIGNUM *k,
                      BIGNUM *x, BN_CTX *ctx)
{
    const comb_table *t = comb_get(c, g);
    EC_POINT *R = EC_POINT_new(g);
    unsigned char flip;
    int ok;

    if (R == NULL)
        return 0;
    /* x(-kG) = x(kG), so the comb's flip does not matter here. */
    if (t != NULL)
        ok = comb_mul(g, t, k, R, &flip, ctx) && affine_x_blinded(g, R, x, ctx);
    else
        ok = EC_POINT_mul(g, R, k, NULL, NULL, ctx) &&
             EC_POINT_get_affine_coordinates(g, R, x, NULL, ctx);
    EC_POINT_clear_free(R);
    return ok;
}

/* k*G as a point, for deriving public keys. */
static int base_mul_point(const kz_gost_curve *c, const EC_GROUP *g, const BIGNUM *k,
                          EC_POINT *R, BN_CTX *ctx)
{
    const comb_table *t = comb_get(c, g);
    unsigned char ya[KZ_GOST3410_MAX_FIELD_LEN], yb[KZ_GOST3410_MAX_FIELD_LEN];
    BIGNUM *x, *y, *p;
    unsigned char flip;
    int n = (int)c->field_len;
    int ok = 0;

    if (t == NULL)
        return EC_POINT_mul(g, R, k, NULL, NULL, ctx);
    BN_CTX_start(ctx);
    x = BN_CTX_get(ctx);
    y = BN_CTX_get(ctx);
    p = BN_CTX_get(ctx);
    /* Undo the comb's choice of q - k, (q - k)G = -kG, by mask. */
    if (p == NULL || !comb_mul(g, t, k, R, &flip, ctx) ||
        !EC_GROUP_get_curve(g, p, NULL, NULL, ctx) ||
        !EC_POINT_get_affine_coordinates(g, R, x, y, ctx) ||
        BN_bn2binpad(y, ya, n) != n || !BN_sub(y, p, y) ||
        BN_bn2binpad(y, yb, n) != n)
        goto out;
    ct_select_bytes(ya, ya, yb, (size_t)n, flip);
    if (BN_bin2bn(ya, n, y) == NULL || !EC_POINT_set_affine_coordinates(g, R, x, y, ctx))
        goto out;
    ok = 1;
out:
    OPENSSL_cleanse(ya, sizeof(ya));
    OPENSSL_cleanse(yb, sizeof(yb));
    BN_CTX_end(ctx);
    return ok;
}

/* ---- Conversions --------------------------------------------------------- */

/* Private scalar from big- or little-endian bytes, reduced mod q; 0 if the
 * length is out of range or the value is 0 mod q. */
static int load_priv(BIGNUM *d, const unsigned char *in, size_t len, int le,
                     const kz_gost_curve *c, const BIGNUM *q, BN_CTX *ctx)
{
    if (in == NULL || len == 0 || len > 2 * c->field_len)
        return 0;
    if ((le ? BN_lebin2bn(in, (int)len, d) : BN_bin2bn(in, (int)len, d)) == NULL)
        return 0;
    BN_set_flags(d, BN_FLG_CONSTTIME);
    if (!BN_nnmod(d, d, q, ctx))
        return 0;
    return !BN_is_zero(d);
}

/* e = digest (little-endian) mod q, and 1 in place of 0, as the standard
 * prescribes. */
static int digest_to_e(BIGNUM *e, const unsigned char *digest, size_t dlen,
                       const BIGNUM *q, BN_CTX *ctx)
{
    if (BN_lebin2bn(digest, (int)dlen, e) == NULL || !BN_nnmod(e, e, q, ctx))
        return 0;
    return BN_is_zero(e) ? BN_one(e) : 1;
}

static int point_to_bytes(const EC_GROUP *g, const EC_POINT *pt, size_t n,
                          unsigned char *out, BN_CTX *ctx)
{
    BIGNUM *x, *y;
    int ok = 0;

    BN_CTX_start(ctx);
    x = BN_CTX_get(ctx);
    y = BN_CTX_get(ctx);
    if (y != NULL && EC_POINT_get_affine_coordinates(g, pt, x, y, ctx) &&
        BN_bn2lebinpad(x, out, (int)n) == (int)n &&
        BN_bn2lebinpad(y, out + n, (int)n) == (int)n)
        ok = 1;
    BN_CTX_end(ctx);
    return ok;
}

/* Loads X||Y (little-endian) into pt with the checks of kz_gost3410_pub_check.
 * OpenSSL refuses affine coordinates off the curve; the range and subgroup
 * checks are ours. */
static int load_pub(const EC_GROUP *g, const kz_gost_curve *c, EC_POINT *pt,
                    const unsigned char *pub, size_t pub_len, BN_CTX *ctx)
{
    BIGNUM *x, *y, *p;
    EC_POINT *t = NULL;
    size_t n = c->field_len;
    int ok = 0;

    if (pub == NULL || pub_len != 2 * n)
        return 0;
    BN_CTX_start(ctx);
    x = BN_CTX_get(ctx);
    y = BN_CTX_get(ctx);
    p = BN_CTX_get(ctx);
    if (p == NULL || BN_lebin2bn(pub, (int)n, x) == NULL ||
        BN_lebin2bn(pub + n, (int)n, y) == NULL ||
        !EC_GROUP_get_curve(g, p, NULL, NULL, ctx))
        goto out;
    if (BN_cmp(x, p) >= 0 || BN_cmp(y, p) >= 0)
        goto out;
    if (!EC_POINT_set_affine_coordinates(g, pt, x, y, ctx))
        goto out;
    if (!BN_is_one(EC_GROUP_get0_cofactor(g))) {
        /* A point with a small-order component would let signatures verify
         * in ways the key owner never produced. */
        if ((t = EC_POINT_new(g)) == NULL ||
            !EC_POINT_mul(g, t, NULL, pt, EC_GROUP_get0_order(g), ctx) ||
            !EC_POINT_is_at_infinity(g, t))
            goto out;
    }
    ok = 1;
out:
    EC_POINT_free(t);
    BN_CTX_end(ctx);
    return ok;
}

/* ---- Signing ------------------------------------------------------------- */

static int sign_core(const kz_gost_curve *c,
                     const unsigned char *priv, size_t priv_len,
                     const unsigned char *digest, size_t dlen,
                     const unsigned char *fixed_k, size_t fixed_k_len,
                     unsigned char *sig)
{
    /* Secure context: every temporary here (r*d, k*e) can reveal d. Its
     * BIGNUMs are flagged secure and wiped when the context is freed. */
    BN_CTX *ctx = BN_CTX_secure_new();
    group_ref g = { 0 };
    BIGNUM *d, *k, *e, *r, *s, *x, *t1, *t2;
    const BIGNUM *q;
    size_t n;
    int ok = 0;

    if (ctx == NULL)
        return 0;
    BN_CTX_start(ctx);
    if (!acquire(c, &g, ctx))
        goto out;
    n = c->field_len;
    if (digest == NULL || sig == NULL || dlen != n)
        goto out;
    q = EC_GROUP_get0_order(g.group);
    d = BN_CTX_get(ctx);
    k = BN_CTX_get(ctx);
    e = BN_CTX_get(ctx);
    r = BN_CTX_get(ctx);
    s = BN_CTX_get(ctx);
    x = BN_CTX_get(ctx);
    t1 = BN_CTX_get(ctx);
    t2 = BN_CTX_get(ctx);
    if (t2 == NULL)
        goto out;
    BN_set_flags(t1, BN_FLG_CONSTTIME);
    BN_set_flags(t2, BN_FLG_CONSTTIME);
    if (!load_priv(d, priv, priv_len, 0, c, q, ctx) ||
        !digest_to_e(e, digest, dlen, q, ctx))
        goto out;

    for (int tries = 0; tries < MAX_NONCE_TRIES; tries++) {
        if (fixed_k != NULL) {
            if (fixed_k_len == 0 || fixed_k_len > n ||
                BN_bin2bn(fixed_k, (int)fixed_k_len, k) == NULL ||
                BN_is_zero(k) || BN_cmp(k, q) >= 0)
                goto out;
        } else {
            if (!BN_priv_rand_range_ex(k, q, 0, ctx))
                goto out;
            if (BN_is_zero(k))
                continue;
        }
        BN_set_flags(k, BN_FLG_CONSTTIME);
        if (!base_mul_x(c, g.group, k, x, ctx) || !BN_nnmod(r, x, q, ctx))
            goto out;
        if (BN_is_zero(r)) {
            if (fixed_k != NULL)
                goto out;
            continue;
        }
        /* s = r*d + k*e mod q. Montgomery multiplication keeps the secret
         * operands d and k on OpenSSL's fixed-length path: converting the
         * public factor into Montgomery form lets one product yield the
         * plain result. */
        if (!BN_to_montgomery(t1, r, g.qmont, ctx) ||
            !BN_mod_mul_montgomery(t1, t1, d, g.qmont, ctx) ||
            !BN_to_montgomery(t2, e, g.qmont, ctx) ||
            !BN_mod_mul_montgomery(t2, t2, k, g.qmont, ctx) ||
            !BN_mod_add_quick(s, t1, t2, q))
            goto out;
        if (BN_is_zero(s)) {
            if (fixed_k != NULL)
                goto out;
            continue;
        }
        if (BN_bn2binpad(s, sig, (int)n) != (int)n ||
            BN_bn2binpad(r, sig + n, (int)n) != (int)n)
            goto out;
        ok = 1;
        break;
    }
out:
    if (!ok && sig != NULL && c != NULL && (c->field_len == 32 || c->field_len == 64))
        OPENSSL_cleanse(sig, 2 * c->field_len);
    release(&g);
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return ok;
}

int kz_gost3410_sign(const kz_gost_curve *c,
                     const unsigned char *priv_be, size_t priv_len,
                     const unsigned char *digest, size_t dlen,
                     unsigned char *sig)
{
    return sign_core(c, priv_be, priv_len, digest, dlen, NULL, 0, sig);
}

int kz_gost3410_sign_with_k(const kz_gost_curve *c,
                            const unsigned char *priv_be, size_t priv_len,
                            const unsigned char *digest, size_t dlen,
                            const unsigned char *k_be, size_t k_len,
                            unsigned char *sig)
{
    if (k_be == NULL)
        return 0;
    return sign_core(c, priv_be, priv_len, digest, dlen, k_be, k_len, sig);
}

/* ---- Verification -------------------------------------------------------- */

int kz_gost3410_verify(const kz_gost_curve *c,
                       const unsigned char *pub, size_t pub_len,
                       const unsigned char *digest, size_t dlen,
                       const unsigned char *sig, size_t siglen)
{
    BN_CTX *ctx;
    group_ref g = { 0 };
    EC_POINT *Q = NULL, *C = NULL;
    BIGNUM *r, *s, *e, *v, *z1, *z2, *x;
    const BIGNUM *q;
    size_t n;
    int ok = 0;

    if (c == NULL || pub == NULL || digest == NULL || sig == NULL)
        return 0;
    n = c->field_len;
    if (dlen != n || siglen != 2 * n || pub_len != 2 * n)
        return 0;
    if ((ctx = BN_CTX_new()) == NULL)
        return 0;
    BN_CTX_start(ctx);
    if (!acquire(c, &g, ctx))
        goto out;
    q = EC_GROUP_get0_order(g.group);
    r = BN_CTX_get(ctx);
    s = BN_CTX_get(ctx);
    e = BN_CTX_get(ctx);
    v = BN_CTX_get(ctx);
    z1 = BN_CTX_get(ctx);
    z2 = BN_CTX_get(ctx);
    x = BN_CTX_get(ctx);
    if (x == NULL || (Q = EC_POINT_new(g.group)) == NULL ||
        (C = EC_POINT_new(g.group)) == NULL)
        goto out;
    if (BN_bin2bn(sig, (int)n, s) == NULL || BN_bin2bn(sig + n, (int)n, r) == NULL)
        goto out;
    if (BN_is_zero(r) || BN_is_zero(s) || BN_cmp(r, q) >= 0 || BN_cmp(s, q) >= 0)
        goto out;
    if (!load_pub(g.group, c, Q, pub, pub_len, ctx))
        goto out;
    /* C = z1*G + z2*Q with v = 1/e, z1 = s*v, z2 = -r*v (mod q). */
    if (!digest_to_e(e, digest, dlen, q, ctx) ||
        BN_mod_inverse(v, e, q, ctx) == NULL ||
        !BN_mod_mul(z1, s, v, q, ctx) ||
        !BN_sub(z2, q, r) ||
        !BN_mod_mul(z2, z2, v, q, ctx) ||
        !EC_POINT_mul(g.group, C, z1, Q, z2, ctx))
        goto out;
    if (EC_POINT_is_at_infinity(g.group, C) ||
        !EC_POINT_get_affine_coordinates(g.group, C, x, NULL, ctx) ||
        !BN_nnmod(x, x, q, ctx))
        goto out;
    ok = BN_cmp(x, r) == 0;
out:
    EC_POINT_free(Q);
    EC_POINT_free(C);
    release(&g);
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return ok;
}

/* ---- Keys ---------------------------------------------------------------- */

/* pub = d*G; d is already reduced and non-zero. */
static int derive_pub(const kz_gost_curve *c, const group_ref *g, const BIGNUM *d,
                      unsigned char *pub_out, BN_CTX *ctx)
{
    EC_POINT *Q = EC_POINT_new(g->group);
    int ok = Q != NULL &&
             base_mul_point(c, g->group, d, Q, ctx) &&
             point_to_bytes(g->group, Q, c->field_len, pub_out, ctx);

    EC_POINT_clear_free(Q);
    return ok;
}

int kz_gost3410_keygen(const kz_gost_curve *c, unsigned char *priv_out,
                       unsigned char *pub_out)
{
    BN_CTX *ctx = BN_CTX_secure_new();
    group_ref g = { 0 };
    BIGNUM *d;
    size_t n = 0;
    int ok = 0;

    if (ctx == NULL)
        return 0;
    BN_CTX_start(ctx);
    if (priv_out == NULL || pub_out == NULL || !acquire(c, &g, ctx))
        goto out;
    n = c->field_len;
    if ((d = BN_CTX_get(ctx)) == NULL)
        goto out;
    BN_set_flags(d, BN_FLG_CONSTTIME);
    do {
        if (!BN_priv_rand_range_ex(d, EC_GROUP_get0_order(g.group), 0, ctx))
            goto out;
    } while (BN_is_zero(d));
    if (!derive_pub(c, &g, d, pub_out, ctx) ||
        BN_bn2binpad(d, priv_out, (int)n) != (int)n)
        goto out;
    ok = 1;
out:
    if (!ok && n != 0)
        OPENSSL_cleanse(priv_out, n);
    release(&g);
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return ok;
}

int kz_gost3410_pub_from_priv(const kz_gost_curve *c,
                              const unsigned char *priv_be, size_t priv_len,
                              unsigned char *pub_out)
{
    BN_CTX *ctx = BN_CTX_secure_new();
    group_ref g = { 0 };
    BIGNUM *d;
    int ok = 0;

    if (ctx == NULL)
        return 0;
    BN_CTX_start(ctx);
    if (pub_out == NULL || !acquire(c, &g, ctx) || (d = BN_CTX_get(ctx)) == NULL)
        goto out;
    if (!load_priv(d, priv_be, priv_len, 0, c, EC_GROUP_get0_order(g.group), ctx))
        goto out;
    ok = derive_pub(c, &g, d, pub_out, ctx);
out:
    release(&g);
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return ok;
}

int kz_gost3410_pub_check(const kz_gost_curve *c, const unsigned char *pub,
                          size_t pub_len)
{
    BN_CTX *ctx = BN_CTX_new();
    group_ref g = { 0 };
    EC_POINT *Q = NULL;
    int ok = 0;

    if (ctx == NULL)
        return 0;
    BN_CTX_start(ctx);
    if (acquire(c, &g, ctx) && (Q = EC_POINT_new(g.group)) != NULL)
        ok = load_pub(g.group, c, Q, pub, pub_len, ctx);
    EC_POINT_free(Q);
    release(&g);
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return ok;
}

int kz_gost3410_priv_normalize(const kz_gost_curve *c,
                               const unsigned char *in, size_t in_len,
                               int little_endian, unsigned char *out_be)
{
    BN_CTX *ctx = BN_CTX_secure_new();
    group_ref g = { 0 };
    BIGNUM *d;
    int ok = 0;

    if (ctx == NULL)
        return 0;
    BN_CTX_start(ctx);
    if (out_be == NULL || !acquire(c, &g, ctx) || (d = BN_CTX_get(ctx)) == NULL)
        goto out;
    if (!load_priv(d, in, in_len, little_endian, c, EC_GROUP_get0_order(g.group), ctx))
        goto out;
    ok = BN_bn2binpad(d, out_be, (int)c->field_len) == (int)c->field_len;
out:
    release(&g);
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return ok;
}
