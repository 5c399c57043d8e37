/* Kaztoken simulator cryptography on OpenSSL (RSA) and kzp11's own GOST
 * R 34.10 code (src/gost3410.c, linked into the simulator). */
#include "kt_crypto.h"

#include "gost3410.h"
#include "gost_curves.h"

#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int kt_random(uint8_t *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

static void reverse(uint8_t *b, size_t n)
{
    size_t i;

    for (i = 0; i < n / 2; i++) {
        uint8_t t = b[i];
        b[i] = b[n - 1 - i];
        b[n - 1 - i] = t;
    }
}

/* Writes a BN parameter of pkey little-endian into out (n bytes). */
static int put_param(const EVP_PKEY *pkey, const char *name, uint8_t *out, size_t n)
{
    BIGNUM *v = NULL;
    int ok = EVP_PKEY_get_bn_param(pkey, name, &v) == 1 &&
             BN_bn2lebinpad(v, out, (int)n) == (int)n;

    BN_clear_free(v);
    return ok ? 0 : -1;
}

int kt_rsa_generate(size_t L, uint8_t *priv, uint8_t *pub)
{
    size_t h = L / 2;
    EVP_PKEY *pkey;
    int rc = -1;

    if (L % 2)
        return -1;
    /* The RSF layouts hold p and q in exactly L/2 bytes each; OpenSSL's
     * generator gives both primes exactly half the modulus bits. */
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)(L * 8));
    if (!pkey)
        return -1;
    memset(priv, 0, KT_RSA_PRIV_LEN(L));
    memset(pub, 0, KT_RSA_PUB_LEN(L));
    if (put_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, priv, h) == 0 &&
        put_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, priv + h + 4, h) == 0 &&
        put_param(pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, priv + 2 * h + 8, h) == 0 &&
        put_param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, priv + 3 * h + 8, h) == 0 &&
        put_param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2, priv + 4 * h + 8, h) == 0 &&
        put_param(pkey, OSSL_PKEY_PARAM_RSA_N, pub, L) == 0 &&
        put_param(pkey, OSSL_PKEY_PARAM_RSA_E, pub + L, h) == 0)
        rc = 0;
    EVP_PKEY_free(pkey);
    return rc;
}

/* m = CRT(c^dmp1 mod p, c^dmq1 mod q): only the CRT components are on the
 * card (the private RSF has no d and no e). */
int kt_rsa_private(const uint8_t *priv, size_t priv_len,
                   const uint8_t *in, size_t in_len, uint8_t *out)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *p, *q, *iqmp, *dp, *dq, *n, *c, *m1, *m2, *h;
    size_t half, L;
    int rc = -1;

    if (!ctx || priv_len < 8 + 5 * 32 || (priv_len - 8) % 5)
        goto out;
    half = (priv_len - 8) / 5;
    L = 2 * half;
    if (in_len > L)
        goto out;
    BN_CTX_start(ctx);
    p = BN_CTX_get(ctx);
    q = BN_CTX_get(ctx);
    iqmp = BN_CTX_get(ctx);
    dp = BN_CTX_get(ctx);
    dq = BN_CTX_get(ctx);
    n = BN_CTX_get(ctx);
    c = BN_CTX_get(ctx);
    m1 = BN_CTX_get(ctx);
    m2 = BN_CTX_get(ctx);
    h = BN_CTX_get(ctx);
    if (!h ||
        !BN_lebin2bn(priv, (int)half, p) ||
        !BN_lebin2bn(priv + half + 4, (int)half, q) ||
        !BN_lebin2bn(priv + 2 * half + 8, (int)half, iqmp) ||
        !BN_lebin2bn(priv + 3 * half + 8, (int)half, dp) ||
        !BN_lebin2bn(priv + 4 * half + 8, (int)half, dq) ||
        !BN_lebin2bn(in, (int)in_len, c) ||
        BN_is_zero(p) || BN_is_zero(q) ||
        !BN_mul(n, p, q, ctx))
        goto end;
    if (BN_cmp(c, n) >= 0)
        goto end;
    BN_set_flags(dp, BN_FLG_CONSTTIME);
    BN_set_flags(dq, BN_FLG_CONSTTIME);
    if (!BN_mod_exp(m1, c, dp, p, ctx) ||
        !BN_mod_exp(m2, c, dq, q, ctx) ||
        !BN_mod_sub(h, m1, m2, p, ctx) ||
        !BN_mod_mul(h, h, iqmp, p, ctx) ||
        !BN_mul(h, h, q, ctx) ||
        !BN_add(m1, m2, h) ||
        BN_bn2lebinpad(m1, out, (int)L) != (int)L)
        goto end;
    rc = 0;
end:
    BN_CTX_end(ctx);
out:
    BN_CTX_free(ctx);
    return rc;
}

static const kz_gost_curve *paramset_curve(int paramset)
{
    static const char *const names[] = { "CryptoPro-A", "CryptoPro-B", "CryptoPro-C" };

    if (paramset < 1 || paramset > 3)
        return NULL;
    return kz_gost_curve_by_name(names[paramset - 1]);
}

int kt_gost_generate(int paramset, uint8_t priv[KT_GOST_PRIV_LEN],
                     uint8_t pub[KT_GOST_PUB_LEN])
{
    const kz_gost_curve *c = paramset_curve(paramset);

    /* kzp11 hands out the private key big-endian and the public key as
     * X || Y little-endian: the card's public layout already. */
    if (!c || !kz_gost3410_keygen(c, priv, pub))
        return -1;
    reverse(priv, KT_GOST_PRIV_LEN);
    return 0;
}

int kt_gost_sign(int paramset, const uint8_t priv[KT_GOST_PRIV_LEN],
                 const uint8_t hash[32], uint8_t sig[KT_GOST_SIG_LEN])
{
    const kz_gost_curve *c = paramset_curve(paramset);
    uint8_t d[KT_GOST_PRIV_LEN];
    int ok;

    if (!c || !kz_gost3410_priv_normalize(c, priv, KT_GOST_PRIV_LEN, 1, d))
        return -1;
    ok = kz_gost3410_sign(c, d, sizeof d, hash, 32, sig);
    memset(d, 0, sizeof d);
    if (!ok)
        return -1;
    reverse(sig, KT_GOST_SIG_LEN);
    return 0;
}
