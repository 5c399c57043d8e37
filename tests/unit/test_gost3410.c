/* GOST R 34.10 curves, signatures and keys: the parameter table, the
 * standard's worked examples, the gost engine as an independent second
 * implementation, and real NCA certificates and CRLs. */

/* The cross-check drives the gost engine through OpenSSL's ENGINE API and
 * reads engine keys through EC_KEY, both deprecated in OpenSSL 3. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "gost3410.h"
#include "gost_curves.h"
#include "gost_engine.h"
#include "streebog.h"

/* ---- helpers ------------------------------------------------------------ */

static BIGNUM *hexbn(const char *hex)
{
    BIGNUM *b = NULL;

    assert_true(BN_hex2bn(&b, hex) > 0);
    return b;
}

/* Fixed-length big-endian bytes of a hex number. */
static void hex_be(const char *hex, unsigned char *out, size_t len)
{
    BIGNUM *b = hexbn(hex);

    assert_int_equal(BN_bn2binpad(b, out, (int)len), (int)len);
    BN_free(b);
}

/* Fixed-length little-endian bytes of a hex number. */
static void hex_le(const char *hex, unsigned char *out, size_t len)
{
    BIGNUM *b = hexbn(hex);

    assert_int_equal(BN_bn2lebinpad(b, out, (int)len), (int)len);
    BN_free(b);
}

static void reverse(unsigned char *buf, size_t len)
{
    for (size_t i = 0, j = len; i < j--; i++) {
        unsigned char t = buf[i];
        buf[i] = buf[j];
        buf[j] = t;
    }
}

/* Pseudo-random but reproducible test bytes (not for keys). */
static void fill(unsigned char *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char)(seed >> 16);
    }
}

static const kz_gost_curve *curve(const char *name)
{
    const kz_gost_curve *c = kz_gost_curve_by_name(name);

    if (c == NULL)
        fail_msg("no curve %s", name);
    return c;
}

/* ---- The parameter table ------------------------------------------------ */

static void check_oid_der(const char *dotted, const unsigned char *der, size_t len)
{
    ASN1_OBJECT *o = OBJ_txt2obj(dotted, 1);
    unsigned char *enc = NULL;
    int n;

    assert_non_null(o);
    n = i2d_ASN1_OBJECT(o, &enc);
    assert_true(n > 0);
    if ((size_t)n != len || memcmp(enc, der, len) != 0)
        fail_msg("DER of %s does not match the table", dotted);
    OPENSSL_free(enc);
    ASN1_OBJECT_free(o);
}

static void test_curve_constants(void **state)
{
    BN_CTX *ctx = BN_CTX_new();

    assert_non_null(ctx);
    assert_int_equal(kz_gost_curve_count(), 7);
    assert_null(kz_gost_curve_at(kz_gost_curve_count()));
    for (size_t i = 0; i < kz_gost_curve_count(); i++) {
        const kz_gost_curve *c = kz_gost_curve_at(i);
        EC_GROUP *g = kz_gost_curve_group_new(c);
        BIGNUM *p = hexbn(c->p), *q = hexbn(c->q), *t = BN_new(), *u = BN_new();
        EC_POINT *P;

        assert_non_null(g);
        assert_true(c->field_len == 32 || c->field_len == 64);
        assert_int_equal(BN_num_bytes(p), (int)c->field_len);
        /* p and q prime, the curve non-singular, G on it, q*G = O. */
        assert_int_equal(BN_check_prime(p, ctx, NULL), 1);
        assert_int_equal(BN_check_prime(q, ctx, NULL), 1);
        if (EC_GROUP_check(g, ctx) != 1)
            fail_msg("EC_GROUP_check failed for %s", c->name);
        assert_int_equal(EC_POINT_is_on_curve(g, EC_GROUP_get0_generator(g), ctx), 1);
        assert_non_null(P = EC_POINT_new(g));
        assert_true(EC_POINT_mul(g, P, NULL, EC_GROUP_get0_generator(g), q, ctx));
        assert_true(EC_POINT_is_at_infinity(g, P));
        /* Hasse: |p + 1 - h*q| <= 2 sqrt(p), so h*q is the curve's order and
         * the cofactor in the table is right. (t^2 <= 4p for t = p+1-hq) */
        assert_true(BN_set_word(t, c->cofactor));
        assert_true(BN_mul(t, t, q, ctx));
        assert_true(BN_sub(t, p, t));
        assert_true(BN_add_word(t, 1));
        assert_true(BN_sqr(t, t, ctx));
        assert_true(BN_lshift(u, p, 2));
        assert_true(BN_cmp(t, u) <= 0);
        /* The cached group is the same curve, and stays the same object. */
        assert_non_null(kz_gost_curve_group(c));
        assert_ptr_equal(kz_gost_curve_group(c), kz_gost_curve_group(c));
        assert_int_equal(EC_GROUP_cmp(kz_gost_curve_group(c), g, ctx), 0);
        EC_POINT_free(P);
        BN_free(p); BN_free(q); BN_free(t); BN_free(u);
        EC_GROUP_free(g);
    }
    BN_CTX_free(ctx);
}

static void test_curve_oids(void **state)
{
    static const struct { const char *oid; const char *curve; } aliases[] = {
        { "1.2.643.7.1.2.1.1.1", "TC26-256-A" },
        { "1.2.398.3.10.1.1.2.1.1", "TC26-256-A" },
        { "1.2.643.7.1.2.1.2.1", "TC26-512-A" },
        { "1.2.398.3.10.1.1.2.2.1", "TC26-512-A" },
        { "1.2.643.7.1.2.1.2.2", "TC26-512-B" },
        { "1.2.643.7.1.2.1.2.3", "TC26-512-C" },
        { "1.2.643.2.2.35.1", "CryptoPro-A" },
        { "1.2.398.3.10.1.1.1.1.1", "CryptoPro-A" },
        { "1.2.643.2.2.36.0", "CryptoPro-A" },
        { "1.2.643.7.1.2.1.1.2", "CryptoPro-A" },
        { "1.2.643.2.2.35.2", "CryptoPro-B" },
        { "1.2.643.7.1.2.1.1.3", "CryptoPro-B" },
        { "1.2.643.2.2.35.3", "CryptoPro-C" },
        { "1.2.643.2.2.36.1", "CryptoPro-C" },
        { "1.2.643.7.1.2.1.1.4", "CryptoPro-C" },
    };
    static const unsigned char test_paramset[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x00 };

    for (size_t i = 0; i < kz_gost_curve_count(); i++) {
        const kz_gost_curve *c = kz_gost_curve_at(i);

        check_oid_der(c->oid, c->oid_der, c->oid_der_len);
        assert_ptr_equal(kz_gost_curve_by_oid_der(c->oid_der, c->oid_der_len), c);
        assert_ptr_equal(kz_gost_curve_by_name(c->name), c);
        assert_ptr_equal(kz_gost_curve_by_name(c->oid), c);
        if (c->kz_oid != NULL) {
            check_oid_der(c->kz_oid, c->kz_oid_der, c->kz_oid_der_len);
            assert_ptr_equal(kz_gost_curve_by_oid_der(c->kz_oid_der, c->kz_oid_der_len), c);
        }
        /* A truncated OID must not match by prefix. */
        assert_null(kz_gost_curve_by_oid_der(c->oid_der, c->oid_der_len - 1));
    }
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        ASN1_OBJECT *o = OBJ_txt2obj(aliases[i].oid, 1);
        unsigned char *der = NULL;
        int n = i2d_ASN1_OBJECT(o, &der);

        assert_true(n > 0);
        assert_ptr_equal(kz_gost_curve_by_oid_der(der, (size_t)n), curve(aliases[i].curve));
        assert_ptr_equal(kz_gost_curve_by_name(aliases[i].oid), curve(aliases[i].curve));
        OPENSSL_free(der);
        ASN1_OBJECT_free(o);
    }
    assert_ptr_equal(kz_gost_curve_by_name("id-tc26-gost-3410-12-512-paramSetA"), curve("TC26-512-A"));
    assert_ptr_equal(kz_gost_curve_by_name("tc26-512-a"), curve("TC26-512-A"));
    assert_ptr_equal(kz_gost_curve_by_name("CryptoPro-XchB"), curve("CryptoPro-C"));
    assert_ptr_equal(kz_gost_curve_by_name("id-GostR3410-2001-CryptoPro-A-ParamSet"), curve("CryptoPro-A"));
    /* The 2001 test parameter set is deliberately not in the table. */
    assert_null(kz_gost_curve_by_oid_der(test_paramset, sizeof(test_paramset)));
    assert_null(kz_gost_curve_by_name("nonsense"));
    assert_null(kz_gost_curve_by_name(NULL));
    assert_null(kz_gost_curve_by_oid_der(NULL, 0));
    assert_null(kz_gost_curve_group(NULL));
}

/* TC26 defines 256-A and 512-C as twisted Edwards curves e*u^2 + v^2 =
 * 1 + d*u^2*v^2; RFC 7836 gives the map to the Weierstrass constants the
 * table holds: s = (e-d)/4, t = (e+d)/6, a = s^2 - 3t^2, b = 2t^3 - t*s^2,
 * x = s(1+v)/(1-v) + t, y = s(1+v)/((1-v)u). */
static void check_edwards(const kz_gost_curve *c, const char *d_hex,
                          const char *u_hex, const char *v_hex)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *p = hexbn(c->p), *d = hexbn(d_hex), *u = hexbn(u_hex), *v = hexbn(v_hex);
    BIGNUM *e = BN_new(), *s = BN_new(), *t = BN_new(), *w = BN_new(), *z = BN_new();
    BIGNUM *want;

    assert_true(BN_one(e));
    /* s = (e - d)/4, t = (e + d)/6 */
    assert_true(BN_mod_sub(s, e, d, p, ctx));
    assert_true(BN_set_word(w, 4));
    assert_non_null(BN_mod_inverse(w, w, p, ctx));
    assert_true(BN_mod_mul(s, s, w, p, ctx));
    assert_true(BN_mod_add(t, e, d, p, ctx));
    assert_true(BN_set_word(w, 6));
    assert_non_null(BN_mod_inverse(w, w, p, ctx));
    assert_true(BN_mod_mul(t, t, w, p, ctx));
    /* a = s^2 - 3t^2 */
    assert_true(BN_mod_sqr(w, s, p, ctx));
    assert_true(BN_mod_sqr(z, t, p, ctx));
    assert_true(BN_mul_word(z, 3));
    assert_true(BN_mod_sub(w, w, z, p, ctx));
    want = hexbn(c->a);
    assert_int_equal(BN_cmp(w, want), 0);
    BN_free(want);
    /* b = 2t^3 - t*s^2 */
    assert_true(BN_mod_sqr(w, t, p, ctx));
    assert_true(BN_mod_mul(w, w, t, p, ctx));
    assert_true(BN_mod_add(w, w, w, p, ctx));
    assert_true(BN_mod_sqr(z, s, p, ctx));
    assert_true(BN_mod_mul(z, z, t, p, ctx));
    assert_true(BN_mod_sub(w, w, z, p, ctx));
    want = hexbn(c->b);
    assert_int_equal(BN_cmp(w, want), 0);
    BN_free(want);
    /* w = s(1+v)/(1-v); x = w + t; y = w/u */
    assert_true(BN_mod_sub(z, e, v, p, ctx));
    assert_non_null(BN_mod_inverse(z, z, p, ctx));
    assert_true(BN_mod_add(w, e, v, p, ctx));
    assert_true(BN_mod_mul(w, w, z, p, ctx));
    assert_true(BN_mod_mul(w, w, s, p, ctx));
    assert_true(BN_mod_add(z, w, t, p, ctx));
    want = hexbn(c->x);
    assert_int_equal(BN_cmp(z, want), 0);
    BN_free(want);
    assert_non_null(BN_mod_inverse(z, u, p, ctx));
    assert_true(BN_mod_mul(z, w, z, p, ctx));
    want = hexbn(c->y);
    assert_int_equal(BN_cmp(z, want), 0);
    BN_free(want);
    BN_free(p); BN_free(d); BN_free(u); BN_free(v);
    BN_free(e); BN_free(s); BN_free(t); BN_free(w); BN_free(z);
    BN_CTX_free(ctx);
}

static void test_curve_edwards(void **state)
{
    const kz_gost_curve *a256 = curve("TC26-256-A"), *c512 = curve("TC26-512-C");

    assert_true(a256->twisted_edwards);
    assert_true(c512->twisted_edwards);
    assert_int_equal(a256->cofactor, 4);
    assert_int_equal(c512->cofactor, 4);
    check_edwards(a256,
                  "0605F6B7C183FA81578BC39CFAD518132B9DF62897009AF7E522C32D6DC7BFFB",
                  "0D",
                  "60CA1E32AA475B348488C38FAB07649CE7EF8DBE87F22E81F92B2592DBA300E7");
    check_edwards(c512,
                  "9E4F5D8C017D8D9F13A5CF3CDF5BFE4DAB402D54198E31EBDE28A0621050439C"
                  "A6B39E0A515C06B304E2CE43E79E369E91A0CFC2BC2A22B4CA302DBB33EE7550",
                  "12",
                  "469AF79D1FB1F5E16B99592B77A01E2A0FDFB0D01794368D9A56117F7B386695"
                  "22DD4B650CF789EEBF068C5D139732F0905622C04B2BAAE7600303EE73001A3D");
}

/* ---- The standard's worked examples (GOST R 34.10-2012 appendix A,
 * RFC 7091 section 7) ------------------------------------------------------ */

struct worked_example {
    kz_gost_curve curve;
    const char *d, *e, *k, *qx, *qy, *r, *s;
};

static const struct worked_example example_256 = {
    { "example-256", "-", NULL, 0, NULL, NULL, 0, 32, 1, 0,
      "8000000000000000000000000000000000000000000000000000000000000431",
      "7",
      "5FBFF498AA938CE739B8E022FBAFEF40563F6E6A3472FC2A514C0CE9DAE23B7E",
      "8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3",
      "2",
      "08E2A8A0E65147D4BD6316030E16D19C85C97F0A9CA267122B96ABBCEA7E8FC8" },
    "7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28",
    "2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5",
    "77105C9B20BCD3122823C8CF6FCC7B956DE33814E95B7FE64FED924594DCEAB3",
    "7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B",
    "26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA",
    "41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493",
    "01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40",
};

static const struct worked_example example_512 = {
    { "example-512", "-", NULL, 0, NULL, NULL, 0, 64, 1, 0,
      "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15D"
      "F1D852741AF4704A0458047E80E4546D35B8336FAC224DD81664BBF528BE6373",
      "7",
      "1CFF0806A31116DA29D8CFA54E57EB748BC5F377E49400FDD788B649ECA1AC43"
      "61834013B2AD7322480A89CA58E0CF74BC9E540C2ADD6897FAD0A3084F302ADC",
      "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15D"
      "A82F2D7ECB1DBAC719905C5EECC423F1D86E25EDBE23C595D644AAF187E6E6DF",
      "24D19CC64572EE30F396BF6EBBFD7A6C5213B3B3D7057CC825F91093A68CD762"
      "FD60611262CD838DC6B60AA7EEE804E28BC849977FAC33B4B530F1B120248A9A",
      "2BB312A43BD2CE6E0D020613C857ACDDCFBF061E91E5F2C3F32447C259F39B2C"
      "83AB156D77F1496BF7EB3351E1EE4E43DC1A18B91B24640B6DBB92CB1ADD371E" },
    "0BA6048AADAE241BA40936D47756D7C93091A0E8514669700EE7508E508B1020"
    "72E8123B2200A0563322DAD2827E2714A2636B7BFD18AADFC62967821FA18DD4",
    "3754F3CFACC9E0615C4F4A7C4D8DAB531B09B6F9C170C533A71D147035B0C591"
    "7184EE536593F4414339976C647C5D5A407ADEDB1D560C4FC6777D2972075B8C",
    "0359E7F4B1410FEACC570456C6801496946312120B39D019D455986E364F3658"
    "86748ED7A44B3E794434006011842286212273A6D14CF70EA3AF71BB1AE679F1",
    "115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD"
    "5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1",
    "37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61"
    "EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC",
    "2F86FA60A081091A23DD795E1E3C689EE512A3C82EE0DCC2643C78EEA8FCACD3"
    "5492558486B20F1C9EC197C90699850260C93BCBCD9C5C3317E19344E173AE36",
    "1081B394696FFE8E6585E7A9362D26B6325F56778AADBC081C0BFBE933D52FF5"
    "823CE288E8C4F362526080DF7F70CE406A6EEB1F56919CB92A9853BDE73E5B4A",
};

static void run_example(const struct worked_example *x)
{
    const kz_gost_curve *c = &x->curve;
    size_t n = c->field_len;
    unsigned char d[64], k[64], e_le[64], pub[128], want_pub[128];
    unsigned char sig[128], want_sig[128];

    hex_be(x->d, d, n);
    hex_be(x->k, k, n);
    /* The example's e is the integer; our digest argument is the hash as
     * bytes, read little-endian, so e goes in little-endian. */
    hex_le(x->e, e_le, n);
    hex_le(x->qx, want_pub, n);
    hex_le(x->qy, want_pub + n, n);
    hex_be(x->s, want_sig, n);
    hex_be(x->r, want_sig + n, n);

    assert_int_equal(kz_gost3410_pub_from_priv(c, d, n, pub), 1);
    assert_memory_equal(pub, want_pub, 2 * n);
    assert_int_equal(kz_gost3410_pub_check(c, pub, 2 * n), 1);
    assert_int_equal(kz_gost3410_sign_with_k(c, d, n, e_le, n, k, n, sig), 1);
    assert_memory_equal(sig, want_sig, 2 * n);
    assert_int_equal(kz_gost3410_verify(c, pub, 2 * n, e_le, n, want_sig, 2 * n), 1);
    /* The same digest read big-endian is a different e. */
    reverse(e_le, n);
    assert_int_equal(kz_gost3410_verify(c, pub, 2 * n, e_le, n, want_sig, 2 * n), 0);
    /* Random nonces give other valid signatures. */
    reverse(e_le, n);
    assert_int_equal(kz_gost3410_sign(c, d, n, e_le, n, sig), 1);
    assert_memory_not_equal(sig, want_sig, 2 * n);
    assert_int_equal(kz_gost3410_verify(c, pub, 2 * n, e_le, n, sig, 2 * n), 1);
}

static void test_example_256(void **state)
{
    run_example(&example_256);
}

static void test_example_512(void **state)
{
    run_example(&example_512);
}

/* ---- Table curves: round trips and the signing table -------------------- */

static void test_roundtrip_all_curves(void **state)
{
    for (size_t i = 0; i < kz_gost_curve_count(); i++) {
        const kz_gost_curve *c = kz_gost_curve_at(i);
        size_t n = c->field_len;
        unsigned char priv[64], pub[128], pub2[128], dg[64], sig[128], sig2[128];
        unsigned char priv_b[64], pub_b[128];

        assert_int_equal(kz_gost3410_digest_len(c), n);
        assert_int_equal(kz_gost3410_sig_len(c), 2 * n);
        assert_int_equal(kz_gost3410_pub_len(c), 2 * n);
        assert_int_equal(kz_gost3410_priv_len(c), n);
        assert_int_equal(kz_gost3410_keygen(c, priv, pub), 1);
        assert_int_equal(kz_gost3410_pub_check(c, pub, 2 * n), 1);
        assert_int_equal(kz_gost3410_pub_from_priv(c, priv, n, pub2), 1);
        assert_memory_equal(pub, pub2, 2 * n);
        for (unsigned t = 0; t < 4; t++) {
            fill(dg, n, (unsigned)(i * 16 + t));
            assert_int_equal(kz_gost3410_sign(c, priv, n, dg, n, sig), 1);
            assert_int_equal(kz_gost3410_verify(c, pub, 2 * n, dg, n, sig, 2 * n), 1);
            assert_int_equal(kz_gost3410_sign(c, priv, n, dg, n, sig2), 1);
            assert_memory_not_equal(sig, sig2, 2 * n);
            assert_int_equal(kz_gost3410_verify(c, pub, 2 * n, dg, n, sig2, 2 * n), 1);
        }
        /* Another key does not verify it. */
        assert_int_equal(kz_gost3410_keygen(c, priv_b, pub_b), 1);
        assert_memory_not_equal(priv, priv_b, n);
        assert_int_equal(kz_gost3410_verify(c, pub_b, 2 * n, dg, n, sig, 2 * n), 0);
        /* An all-zero digest means e = 1, and still signs and verifies. */
        memset(dg, 0, n);
        assert_int_equal(kz_gost3410_sign(c, priv, n, dg, n, sig), 1);
        assert_int_equal(kz_gost3410_verify(c, pub, 2 * n, dg, n, sig, 2 * n), 1);
    }
}

/* Scalars where a fixed-base method is most likely to go wrong: the ends of
 * the range, both parities (the comb folds even k onto q - k), powers of
 * two across digit boundaries, and all-ones patterns. */
static void edge_scalars(const BIGNUM *q, BIGNUM **out, size_t *count)
{
    size_t n = 0;
    int bits = BN_num_bits(q);

    for (unsigned w = 1; w <= 4; w++) {
        out[n] = BN_new();
        assert_true(BN_set_word(out[n++], w));
        out[n] = BN_dup(q);
        assert_true(BN_sub_word(out[n++], w));
    }
    for (int b = 5; b < bits - 1; b += 37) {
        out[n] = BN_new();
        assert_true(BN_set_bit(out[n++], b));
        out[n] = BN_new();
        assert_true(BN_set_bit(out[n], b));
        assert_true(BN_sub_word(out[n++], 1));
    }
    out[n] = BN_dup(q);
    assert_true(BN_rshift1(out[n++], q));
    out[n] = BN_dup(q);
    assert_true(BN_rshift1(out[n], q));
    assert_true(BN_add_word(out[n++], 1));
    for (int t = 0; t < 8; t++) {
        out[n] = BN_new();
        assert_true(BN_rand_range(out[n], q));
        if (BN_is_zero(out[n]))
            assert_true(BN_one(out[n]));
        n++;
    }
    *count = n;
}

/* Public keys and r from the library's table-driven fixed-base
 * multiplication against OpenSSL's own ladder on a separately built group. */
static void test_fixed_base_against_ladder(void **state)
{
    BN_CTX *ctx = BN_CTX_new();

    for (size_t i = 0; i < kz_gost_curve_count(); i++) {
        const kz_gost_curve *c = kz_gost_curve_at(i);
        EC_GROUP *g = kz_gost_curve_group_new(c);
        const BIGNUM *q = EC_GROUP_get0_order(g);
        EC_POINT *P = EC_POINT_new(g);
        BIGNUM *ks[64], *x = BN_new(), *y = BN_new(), *e = BN_new(), *t = BN_new();
        BIGNUM *d = BN_new();
        size_t n = c->field_len, count;
        unsigned char kb[64], db[64], dg[64], pub[128], want[128], sig[128];

        edge_scalars(q, ks, &count);
        assert_true(BN_rand_range(d, q));
        assert_int_equal(BN_bn2binpad(d, db, (int)n), (int)n);
        fill(dg, n, (unsigned)i);
        assert_non_null(BN_lebin2bn(dg, (int)n, e));
        assert_true(BN_nnmod(e, e, q, ctx));
        for (size_t j = 0; j < count; j++) {
            assert_int_equal(BN_bn2binpad(ks[j], kb, (int)n), (int)n);
            assert_true(EC_POINT_mul(g, P, ks[j], NULL, NULL, ctx));
            assert_true(EC_POINT_get_affine_coordinates(g, P, x, y, ctx));
            assert_int_equal(BN_bn2lebinpad(x, want, (int)n), (int)n);
            assert_int_equal(BN_bn2lebinpad(y, want + n, (int)n), (int)n);
            assert_int_equal(kz_gost3410_pub_from_priv(c, kb, n, pub), 1);
            if (memcmp(pub, want, 2 * n) != 0)
                fail_msg("%s: k*G differs from the ladder for scalar %zu", c->name, j);
            /* r = x(kG) mod q and s = r*d + k*e mod q, by hand. CryptoPro-C
             * has x(G) = 0, so k = 1 and q - 1 give r = 0: no signature. */
            assert_true(BN_nnmod(x, x, q, ctx));
            if (BN_is_zero(x)) {
                assert_int_equal(kz_gost3410_sign_with_k(c, db, n, dg, n, kb, n, sig), 0);
                BN_free(ks[j]);
                continue;
            }
            assert_int_equal(kz_gost3410_sign_with_k(c, db, n, dg, n, kb, n, sig), 1);
            assert_int_equal(BN_bn2binpad(x, want, (int)n), (int)n);
            assert_memory_equal(sig + n, want, n);
            assert_true(BN_mod_mul(t, x, d, q, ctx));
            assert_true(BN_mod_mul(y, ks[j], e, q, ctx));
            assert_true(BN_mod_add(t, t, y, q, ctx));
            assert_int_equal(BN_bn2binpad(t, want, (int)n), (int)n);
            assert_memory_equal(sig, want, n);
            BN_free(ks[j]);
        }
        BN_free(x); BN_free(y); BN_free(e); BN_free(t); BN_free(d);
        EC_POINT_free(P);
        EC_GROUP_free(g);
    }
    BN_CTX_free(ctx);
}

static void flip_all_bits(const kz_gost_curve *c)
{
    size_t n = c->field_len;
    unsigned char priv[64], pub[128], dg[64], sig[128], bad[128];

    assert_int_equal(kz_gost3410_keygen(c, priv, pub), 1);
    fill(dg, n, 7);
    assert_int_equal(kz_gost3410_sign(c, priv, n, dg, n, sig), 1);
    assert_int_equal(kz_gost3410_verify(c, pub, 2 * n, dg, n, sig, 2 * n), 1);
    for (size_t bit = 0; bit < 16 * n; bit++) {
        memcpy(bad, sig, 2 * n);
        bad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (kz_gost3410_verify(c, pub, 2 * n, dg, n, bad, 2 * n) != 0)
            fail_msg("%s: signature with bit %zu flipped verifies", c->name, bit);
    }
    for (size_t bit = 0; bit < 8 * n; bit++) {
        memcpy(bad, dg, n);
        bad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (kz_gost3410_verify(c, pub, 2 * n, bad, n, sig, 2 * n) != 0)
            fail_msg("%s: digest with bit %zu flipped verifies", c->name, bit);
    }
    for (size_t bit = 0; bit < 16 * n; bit += 7) {
        memcpy(bad, pub, 2 * n);
        bad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (kz_gost3410_verify(c, bad, 2 * n, dg, n, sig, 2 * n) != 0)
            fail_msg("%s: public key with bit %zu flipped verifies", c->name, bit);
    }
}

static void test_bit_flips(void **state)
{
    flip_all_bits(curve("TC26-256-A"));
    flip_all_bits(curve("TC26-512-A"));
    flip_all_bits(curve("CryptoPro-A"));
}

static void test_bad_arguments(void **state)
{
    const kz_gost_curve *c = curve("TC26-512-A");
    const kz_gost_curve *c32 = curve("CryptoPro-A");
    unsigned char priv[64], pub[128], dg[65], sig[129], out[129];
    unsigned char big[129];

    assert_int_equal(kz_gost3410_keygen(c, priv, pub), 1);
    fill(dg, sizeof(dg), 3);
    assert_int_equal(kz_gost3410_sign(c, priv, 64, dg, 64, sig), 1);

    /* Digest lengths: the 512-bit curves take 64 bytes, the others 32. */
    assert_int_equal(kz_gost3410_sign(c, priv, 64, dg, 63, out), 0);
    assert_int_equal(kz_gost3410_sign(c, priv, 64, dg, 65, out), 0);
    assert_int_equal(kz_gost3410_sign(c, priv, 64, dg, 32, out), 0);
    assert_int_equal(kz_gost3410_sign(c, priv, 64, dg, 0, out), 0);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 63, sig, 128), 0);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 65, sig, 128), 0);
    assert_int_equal(kz_gost3410_verify(c32, pub, 64, dg, 64, sig, 64), 0);
    /* Signature and key lengths. */
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, sig, 127), 0);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, sig, 129), 0);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, sig, 64), 0);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, sig, 0), 0);
    assert_int_equal(kz_gost3410_verify(c, pub, 127, dg, 64, sig, 128), 0);
    assert_int_equal(kz_gost3410_verify(c, pub, 64, dg, 64, sig, 128), 0);
    assert_int_equal(kz_gost3410_pub_check(c, pub, 129), 0);
    /* NULLs. */
    assert_int_equal(kz_gost3410_sign(NULL, priv, 64, dg, 64, out), 0);
    assert_int_equal(kz_gost3410_sign(c, NULL, 64, dg, 64, out), 0);
    assert_int_equal(kz_gost3410_sign(c, priv, 64, NULL, 64, out), 0);
    assert_int_equal(kz_gost3410_sign(c, priv, 64, dg, 64, NULL), 0);
    assert_int_equal(kz_gost3410_verify(NULL, pub, 128, dg, 64, sig, 128), 0);
    assert_int_equal(kz_gost3410_verify(c, NULL, 128, dg, 64, sig, 128), 0);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, NULL, 64, sig, 128), 0);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, NULL, 128), 0);
    assert_int_equal(kz_gost3410_keygen(NULL, priv, pub), 0);
    assert_int_equal(kz_gost3410_keygen(c, NULL, pub), 0);
    assert_int_equal(kz_gost3410_keygen(c, priv, NULL), 0);
    assert_int_equal(kz_gost3410_pub_from_priv(c, NULL, 64, out), 0);
    assert_int_equal(kz_gost3410_pub_from_priv(c, priv, 64, NULL), 0);
    assert_int_equal(kz_gost3410_sign_with_k(c, priv, 64, dg, 64, NULL, 64, out), 0);
    assert_int_equal(kz_gost3410_digest_len(NULL), 0);
    /* Private key lengths: 1..2n bytes. */
    assert_int_equal(kz_gost3410_sign(c, priv, 0, dg, 64, out), 0);
    memset(big, 0, sizeof(big));
    memcpy(big + 1, priv, 64);
    assert_int_equal(kz_gost3410_pub_from_priv(c, big, 65, out), 1);
    assert_memory_equal(out, pub, 128);
    assert_int_equal(kz_gost3410_pub_from_priv(c, big, 129, out), 0);
}

static void test_bad_keys_and_ranges(void **state)
{
    const kz_gost_curve *c = curve("TC26-512-A");
    unsigned char priv[64], pub[128], dg[64], sig[128], bad[128], k[64];
    unsigned char qb[64], out[128];

    hex_be(c->q, qb, 64);
    assert_int_equal(kz_gost3410_keygen(c, priv, pub), 1);
    fill(dg, 64, 11);
    assert_int_equal(kz_gost3410_sign(c, priv, 64, dg, 64, sig), 1);

    /* d = 0 and d = q are the same non-key; d = q + 1 is d = 1. */
    memset(k, 0, 64);
    assert_int_equal(kz_gost3410_pub_from_priv(c, k, 64, out), 0);
    assert_int_equal(kz_gost3410_sign(c, k, 64, dg, 64, out), 0);
    assert_int_equal(kz_gost3410_pub_from_priv(c, qb, 64, out), 0);
    assert_int_equal(kz_gost3410_sign(c, qb, 64, dg, 64, out), 0);
    {
        unsigned char q1[65] = { 0 }, one[1] = { 1 }, p1[128];
        BIGNUM *b = hexbn(c->q);

        assert_true(BN_add_word(b, 1));
        assert_int_equal(BN_bn2binpad(b, q1, 65), 65);
        assert_int_equal(kz_gost3410_pub_from_priv(c, q1, 65, out), 1);
        assert_int_equal(kz_gost3410_pub_from_priv(c, one, 1, p1), 1);
        assert_memory_equal(out, p1, 128);
        BN_free(b);
    }
    /* Fixed k outside [1, q-1]. */
    assert_int_equal(kz_gost3410_sign_with_k(c, priv, 64, dg, 64, k, 64, out), 0);
    assert_int_equal(kz_gost3410_sign_with_k(c, priv, 64, dg, 64, qb, 64, out), 0);

    /* r or s = 0, = q, > q: s is the first half, r the second. */
    memcpy(bad, sig, 128);
    memset(bad, 0, 64);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, bad, 128), 0);
    memcpy(bad, sig, 128);
    memset(bad + 64, 0, 64);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, bad, 128), 0);
    memcpy(bad, sig, 128);
    memcpy(bad, qb, 64);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, bad, 128), 0);
    memcpy(bad, sig, 128);
    memcpy(bad + 64, qb, 64);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, bad, 128), 0);
    memset(bad, 0xff, 128);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, bad, 128), 0);
    /* Swapping the halves (r||s instead of s||r) breaks it. */
    memcpy(bad, sig + 64, 64);
    memcpy(bad + 64, sig, 64);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64, bad, 128), 0);

    /* Public keys: off the curve, the point at infinity as zeros, a
     * coordinate not below p (x + p, same residue). */
    memcpy(bad, pub, 128);
    bad[0] ^= 1;
    assert_int_equal(kz_gost3410_pub_check(c, bad, 128), 0);
    memset(bad, 0, 128);
    assert_int_equal(kz_gost3410_pub_check(c, bad, 128), 0);
    assert_int_equal(kz_gost3410_verify(c, bad, 128, dg, 64, sig, 128), 0);
    {
        /* p = 2^512 - 569: x + p fits in 64 bytes when x < 569. Use the
         * generator of TC26-512-A, x = 3. */
        unsigned char g[128];
        BIGNUM *x = hexbn(c->x), *p = hexbn(c->p);

        hex_le(c->x, g, 64);
        hex_le(c->y, g + 64, 64);
        assert_int_equal(kz_gost3410_pub_check(c, g, 128), 1);
        assert_true(BN_add(x, x, p));
        assert_int_equal(BN_bn2lebinpad(x, g, 64), 64);
        assert_int_equal(kz_gost3410_pub_check(c, g, 128), 0);
        BN_free(x);
        BN_free(p);
    }
}

/* Where q is well below 2^(8n), s + q and r + q still fit the signature
 * field; they are the same residues, and must still be refused. */
static void test_non_canonical_signature(void **state)
{
    static const char *const names[] = { "TC26-256-A", "TC26-512-C" };

    for (size_t i = 0; i < 2; i++) {
        const kz_gost_curve *c = curve(names[i]);
        size_t n = c->field_len;
        unsigned char priv[64], pub[128], dg[64], sig[128], bad[128];
        BIGNUM *q = hexbn(c->q), *v = BN_new();

        assert_int_equal(kz_gost3410_keygen(c, priv, pub), 1);
        fill(dg, n, 21);
        assert_int_equal(kz_gost3410_sign(c, priv, n, dg, n, sig), 1);
        for (int half = 0; half < 2; half++) {
            memcpy(bad, sig, 2 * n);
            assert_non_null(BN_bin2bn(sig + half * n, (int)n, v));
            assert_true(BN_add(v, v, q));
            assert_int_equal(BN_bn2binpad(v, bad + half * n, (int)n), (int)n);
            assert_int_equal(kz_gost3410_verify(c, pub, 2 * n, dg, n, bad, 2 * n), 0);
        }
        BN_free(q);
        BN_free(v);
    }
}

/* On a curve with cofactor 4, a point of the full group outside the
 * order-q subgroup is on the curve but is no public key. */
static void test_small_subgroup_point(void **state)
{
    const kz_gost_curve *c = curve("TC26-256-A");
    EC_GROUP *g = kz_gost_curve_group_new(c);
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *p = hexbn(c->p), *a = hexbn(c->a), *b = hexbn(c->b);
    BIGNUM *x = BN_new(), *rhs = BN_new(), *y = BN_new(), *t = BN_new();
    EC_POINT *P = EC_POINT_new(g), *T = EC_POINT_new(g);
    unsigned char pub[64];
    int found = 0;

    for (unsigned long xi = 1; xi < 1000 && !found; xi++) {
        assert_true(BN_set_word(x, xi));
        /* y^2 = x^3 + a x + b */
        assert_true(BN_mod_sqr(rhs, x, p, ctx));
        assert_true(BN_mod_mul(rhs, rhs, x, p, ctx));
        assert_true(BN_mod_mul(t, a, x, p, ctx));
        assert_true(BN_mod_add(rhs, rhs, t, p, ctx));
        assert_true(BN_mod_add(rhs, rhs, b, p, ctx));
        if (BN_kronecker(rhs, p, ctx) != 1)
            continue;
        assert_non_null(BN_mod_sqrt(y, rhs, p, ctx));
        assert_true(EC_POINT_set_affine_coordinates(g, P, x, y, ctx));
        assert_true(EC_POINT_mul(g, T, NULL, P, EC_GROUP_get0_order(g), ctx));
        if (EC_POINT_is_at_infinity(g, T))
            continue;
        found = 1;
    }
    assert_true(found);
    assert_int_equal(BN_bn2lebinpad(x, pub, 32), 32);
    assert_int_equal(BN_bn2lebinpad(y, pub + 32, 32), 32);
    assert_int_equal(kz_gost3410_pub_check(c, pub, 64), 0);
    EC_POINT_free(P); EC_POINT_free(T);
    BN_free(p); BN_free(a); BN_free(b); BN_free(x); BN_free(rhs); BN_free(y); BN_free(t);
    BN_CTX_free(ctx);
    EC_GROUP_free(g);
}

static void test_priv_normalize(void **state)
{
    const kz_gost_curve *c = curve("TC26-512-A");
    unsigned char priv[64], pub[128], le[64], out[64], pub2[128], zero[64] = { 0 };
    unsigned char der_int[65];

    assert_int_equal(kz_gost3410_keygen(c, priv, pub), 1);
    memcpy(le, priv, 64);
    reverse(le, 64);
    assert_int_equal(kz_gost3410_priv_normalize(c, le, 64, 1, out), 1);
    assert_memory_equal(out, priv, 64);
    assert_int_equal(kz_gost3410_priv_normalize(c, priv, 64, 0, out), 1);
    assert_memory_equal(out, priv, 64);
    /* A DER INTEGER's content may carry a leading zero. */
    der_int[0] = 0;
    memcpy(der_int + 1, priv, 64);
    assert_int_equal(kz_gost3410_priv_normalize(c, der_int, 65, 0, out), 1);
    assert_memory_equal(out, priv, 64);
    assert_int_equal(kz_gost3410_pub_from_priv(c, out, 64, pub2), 1);
    assert_memory_equal(pub, pub2, 128);
    /* Short values are padded. */
    assert_int_equal(kz_gost3410_priv_normalize(c, (const unsigned char *)"\x05", 1, 0, out), 1);
    assert_int_equal(out[63], 5);
    assert_int_equal(out[0], 0);
    assert_int_equal(kz_gost3410_priv_normalize(c, zero, 64, 1, out), 0);
    assert_int_equal(kz_gost3410_priv_normalize(c, zero, 0, 1, out), 0);
    assert_int_equal(kz_gost3410_priv_normalize(c, le, 64, 1, NULL), 0);
}

static void test_sig_nca_conversion(void **state)
{
    const kz_gost_curve *c = curve("TC26-512-A");
    unsigned char priv[64], pub[128], dg[64], sig[128], nca[128], back[128];

    assert_int_equal(kz_gost3410_keygen(c, priv, pub), 1);
    fill(dg, 64, 5);
    assert_int_equal(kz_gost3410_sign(c, priv, 64, dg, 64, sig), 1);
    kz_gost3410_sig_to_nca(sig, 128, nca);
    /* NCA order: r little-endian, then s little-endian. */
    for (size_t i = 0; i < 64; i++) {
        assert_int_equal(nca[i], sig[127 - i]);
        assert_int_equal(nca[64 + i], sig[63 - i]);
    }
    kz_gost3410_sig_from_nca(nca, 128, back);
    assert_memory_equal(back, sig, 128);
    memcpy(back, nca, 128);
    kz_gost3410_sig_from_nca(back, 128, back);
    assert_memory_equal(back, sig, 128);
    /* Odd lengths too, in place. */
    memcpy(back, "abcde", 5);
    kz_gost3410_sig_to_nca(back, 5, back);
    assert_memory_equal(back, "edcba", 5);
}

struct thread_job {
    const kz_gost_curve *c;
    int ok;
};

static void *sign_thread(void *arg)
{
    struct thread_job *j = arg;
    size_t n = j->c->field_len;
    unsigned char priv[64], pub[128], dg[64], sig[128];

    j->ok = 1;
    for (int i = 0; i < 8 && j->ok; i++) {
        fill(dg, n, (unsigned)i);
        j->ok = kz_gost3410_keygen(j->c, priv, pub) == 1 &&
                kz_gost3410_sign(j->c, priv, n, dg, n, sig) == 1 &&
                kz_gost3410_verify(j->c, pub, 2 * n, dg, n, sig, 2 * n) == 1;
    }
    return NULL;
}

/* Several threads racing to build the cached group and signing table. */
static void test_threads(void **state)
{
    pthread_t th[6];
    struct thread_job jobs[6];

    kz_gost3410_cleanup();
    kz_gost_curves_cleanup();
    for (int i = 0; i < 6; i++) {
        jobs[i].c = curve(i % 2 ? "TC26-512-A" : "CryptoPro-A");
        assert_int_equal(pthread_create(&th[i], NULL, sign_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_true(jobs[i].ok);
    }
}

/* ---- Cross-check with OpenSSL's gost engine ---------------------------- */

/* The engine helpers live in gost_engine.c, shared with the front-end tests. */
static const gost_engine_curve *engine_curve(const char *name)
{
    const gost_engine_curve *ec = gost_engine_curve_for(name);

    if (!ec)
        fail_msg("no engine mapping for %s", name);
    return ec;
}

static void test_engine_curves_match(void **state)
{
    BN_CTX *ctx = BN_CTX_new();

    for (size_t i = 0; i < gost_engine_curve_count(); i++) {
        const kz_gost_curve *c = curve(gost_engine_curve_at(i)->curve);
        EVP_PKEY *k = gost_engine_keygen(gost_engine_curve_at(i));
        const EC_KEY *ek = EVP_PKEY_get0(k);
        const EC_GROUP *eg;
        unsigned char *der = NULL;
        int len;

        assert_non_null(ek);
        eg = EC_KEY_get0_group(ek);
        if (EC_GROUP_cmp(eg, kz_gost_curve_group(c), ctx) != 0)
            fail_msg("%s differs from the engine's curve", c->name);
        assert_int_equal(BN_cmp(EC_GROUP_get0_cofactor(eg),
                                EC_GROUP_get0_cofactor(kz_gost_curve_group(c))), 0);
        len = i2d_ASN1_OBJECT(OBJ_nid2obj(EC_GROUP_get_curve_name(eg)), &der);
        assert_true(len > 0);
        assert_ptr_equal(kz_gost_curve_by_oid_der(der, (size_t)len), c);
        OPENSSL_free(der);
        EVP_PKEY_free(k);
    }
    BN_CTX_free(ctx);
}

static void cross_check(const char *name)
{
    const gost_engine_curve *ec = engine_curve(name);
    const kz_gost_curve *c = curve(name);
    size_t n = c->field_len, siglen;
    unsigned char priv[64], pub[128], dg[64], sig[128], epub[128], epriv[64], mypub[128];

    for (int round = 0; round < 3; round++) {
        EVP_PKEY *ek;
        EVP_PKEY_CTX *pc;

        fill(dg, n, (unsigned)(round + 100));
        /* Our key and signature, the engine verifies. */
        assert_int_equal(kz_gost3410_keygen(c, priv, pub), 1);
        assert_int_equal(kz_gost3410_sign(c, priv, n, dg, n, sig), 1);
        ek = gost_engine_pubkey(ec, c, pub);
        assert_non_null(pc = EVP_PKEY_CTX_new(ek, gost_engine()));
        assert_true(EVP_PKEY_verify_init(pc) > 0);
        if (EVP_PKEY_verify(pc, sig, 2 * n, dg, n) != 1)
            fail_msg("%s: the engine rejects our signature", name);
        sig[n] ^= 1;
        assert_true(EVP_PKEY_verify(pc, sig, 2 * n, dg, n) != 1);
        EVP_PKEY_CTX_free(pc);
        EVP_PKEY_free(ek);

        /* The engine's key and signature, we verify. */
        ek = gost_engine_keygen(ec);
        assert_non_null(pc = EVP_PKEY_CTX_new(ek, gost_engine()));
        assert_true(EVP_PKEY_sign_init(pc) > 0);
        siglen = sizeof(sig);
        assert_true(EVP_PKEY_sign(pc, sig, &siglen, dg, n) > 0);
        assert_int_equal(siglen, 2 * n);
        gost_engine_pub_bytes(ek, epub, n);
        assert_int_equal(kz_gost3410_pub_check(c, epub, 2 * n), 1);
        if (kz_gost3410_verify(c, epub, 2 * n, dg, n, sig, siglen) != 1)
            fail_msg("%s: we reject the engine's signature", name);
        /* Its private key, little-endian, gives its public key with ours. */
        gost_engine_priv_le(ek, epriv, n);
        assert_int_equal(kz_gost3410_priv_normalize(c, epriv, n, 1, priv), 1);
        assert_int_equal(kz_gost3410_pub_from_priv(c, priv, n, mypub), 1);
        assert_memory_equal(mypub, epub, 2 * n);
        /* And a digest we sign with the engine's key, the engine verifies. */
        assert_int_equal(kz_gost3410_sign(c, priv, n, dg, n, sig), 1);
        assert_true(EVP_PKEY_verify_init(pc) > 0);
        assert_int_equal(EVP_PKEY_verify(pc, sig, 2 * n, dg, n), 1);
        EVP_PKEY_CTX_free(pc);
        EVP_PKEY_free(ek);
    }
}

static void test_engine_tc26_256_a(void **state)
{
    cross_check("TC26-256-A");
}

static void test_engine_tc26_512_a(void **state)
{
    cross_check("TC26-512-A");
}

static void test_engine_cryptopro_a(void **state)
{
    cross_check("CryptoPro-A");
}

static void test_engine_other_curves(void **state)
{
    cross_check("TC26-512-B");
    cross_check("TC26-512-C");
    cross_check("CryptoPro-B");
    cross_check("CryptoPro-C");
}

/* ---- Real NCA data ------------------------------------------------------ */

static void fixture_path(char *buf, size_t n, const char *rel)
{
    const char *shared = getenv("KZP11_SHARED");
    const char *src = getenv("KZP11_SRCDIR");
    int r;

    if (shared != NULL && *shared != '\0')
        r = snprintf(buf, n, "%s/fixtures/nca/%s", shared, rel);
    else
        r = snprintf(buf, n, "%s/../shared/fixtures/nca/%s",
                     src != NULL && *src != '\0' ? src : ".", rel);
    if (r < 0 || (size_t)r >= n)
        fail_msg("path too long for %s", rel);
}

static unsigned char *slurp(const char *rel, size_t *len)
{
    char path[4096];
    FILE *f;
    unsigned char *buf;
    long sz;

    fixture_path(path, sizeof(path), rel);
    if ((f = fopen(path, "rb")) == NULL)
        fail_msg("cannot open fixture %s (set KZP11_SHARED)", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    sz = ftell(f);
    assert_true(sz > 0);
    rewind(f);
    buf = malloc((size_t)sz);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return buf;
}

/* DER, or the bare base64 of DER some fixtures use. */
static unsigned char *load_der(const char *rel, size_t *len)
{
    size_t raw_len, k = 0;
    unsigned char *raw = slurp(rel, &raw_len), *txt, *out;
    int n;

    if (raw[0] == 0x30) {
        *len = raw_len;
        return raw;
    }
    txt = malloc(raw_len + 1);
    out = malloc(raw_len);
    assert_non_null(txt);
    assert_non_null(out);
    for (size_t i = 0; i < raw_len; i++)
        if (raw[i] != '\n' && raw[i] != '\r' && raw[i] != ' ')
            txt[k++] = raw[i];
    n = EVP_DecodeBlock(out, txt, (int)k);
    assert_true(n > 0);
    /* EVP_DecodeBlock counts the bytes the '=' padding stands for. */
    while (k > 0 && txt[k - 1] == '=') {
        k--;
        n--;
    }
    *len = (size_t)n;
    free(raw);
    free(txt);
    return out;
}

static X509 *load_cert(const char *rel)
{
    size_t len;
    unsigned char *der = load_der(rel, &len);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);

    if (x == NULL)
        fail_msg("cannot parse %s", rel);
    free(der);
    return x;
}

static void streebog512_engine(const unsigned char *in, size_t len, unsigned char *out)
{
    const EVP_MD *md = ENGINE_get_digest(gost_engine(), NID_id_GostR3411_2012_512);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int olen = 0;

    assert_non_null(md);
    assert_non_null(m);
    assert_true(EVP_DigestInit_ex(m, md, gost_engine()));
    assert_true(EVP_DigestUpdate(m, in, len));
    assert_true(EVP_DigestFinal_ex(m, out, &olen));
    assert_int_equal(olen, 64);
    EVP_MD_CTX_free(m);
}

static void check_alg_oid(const X509_ALGOR *alg, const char *want)
{
    const ASN1_OBJECT *obj;
    char txt[80];

    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    assert_true(OBJ_obj2txt(txt, sizeof(txt), obj, 1) > 0);
    assert_string_equal(txt, want);
}

/* The issuer's GOST public key and curve, from its certificate: the curve
 * is the first OID in the algorithm parameters, the key an OCTET STRING of
 * X||Y inside the BIT STRING. */
static const kz_gost_curve *issuer_key(X509 *issuer, unsigned char *pub)
{
    X509_PUBKEY *xpk = X509_get_X509_PUBKEY(issuer);
    const X509_ALGOR *palg;
    const ASN1_OBJECT *kalg;
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(issuer);
    const void *pval;
    const ASN1_STRING *params;
    const unsigned char *p;
    STACK_OF(ASN1_TYPE) *seq;
    ASN1_TYPE *first;
    ASN1_OCTET_STRING *os;
    unsigned char *oid = NULL;
    const kz_gost_curve *c;
    char txt[80];
    int ptype, len;

    assert_true(X509_PUBKEY_get0_param(NULL, NULL, NULL, (X509_ALGOR **)&palg, xpk));
    X509_ALGOR_get0(&kalg, &ptype, &pval, palg);
    assert_true(OBJ_obj2txt(txt, sizeof(txt), kalg, 1) > 0);
    assert_string_equal(txt, "1.2.398.3.10.1.1.2.2");   /* GOST 2015 512-bit key */
    assert_int_equal(ptype, V_ASN1_SEQUENCE);
    params = pval;
    p = ASN1_STRING_get0_data(params);
    assert_non_null(seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, ASN1_STRING_length(params)));
    first = sk_ASN1_TYPE_value(seq, 0);
    assert_non_null(first);
    assert_int_equal(ASN1_TYPE_get(first), V_ASN1_OBJECT);
    len = i2d_ASN1_OBJECT(first->value.object, &oid);
    assert_true(len > 0);
    c = kz_gost_curve_by_oid_der(oid, (size_t)len);
    assert_ptr_equal(c, curve("TC26-512-A"));
    OPENSSL_free(oid);
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);

    p = ASN1_STRING_get0_data(bits);
    assert_non_null(os = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(bits)));
    assert_int_equal(ASN1_STRING_length(os), 128);
    memcpy(pub, ASN1_STRING_get0_data(os), 128);
    ASN1_OCTET_STRING_free(os);
    assert_int_equal(kz_gost3410_pub_check(c, pub, 128), 1);
    return c;
}

/* Verifies one NCA signature over tbs and shows which byte orders do not
 * work, so a regression in either convention is caught by real data. */
static void check_nca_signature(const kz_gost_curve *c, const unsigned char *pub,
                                const unsigned char *tbs, size_t tbs_len,
                                const ASN1_BIT_STRING *sigbits, const char *what)
{
    unsigned char dg[64], sig[128], dg_rev[64];

    assert_int_equal(ASN1_STRING_length(sigbits), 128);
    kz_streebog(512, tbs, tbs_len, dg);
    kz_gost3410_sig_from_nca(ASN1_STRING_get0_data(sigbits), 128, sig);
    if (kz_gost3410_verify(c, pub, 128, dg, 64, sig, 128) != 1)
        fail_msg("%s: NCA signature does not verify", what);
    /* The stored bytes unconverted, or the digest reversed: both fail. */
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg, 64,
                                        ASN1_STRING_get0_data(sigbits), 128), 0);
    memcpy(dg_rev, dg, 64);
    reverse(dg_rev, 64);
    assert_int_equal(kz_gost3410_verify(c, pub, 128, dg_rev, 64, sig, 128), 0);
}

static void check_cert_signed_by(const char *subject_rel, const char *issuer_rel)
{
    X509 *subj = load_cert(subject_rel), *iss = load_cert(issuer_rel);
    const ASN1_BIT_STRING *sigbits;
    const X509_ALGOR *sigalg;
    unsigned char pub[128], *tbs = NULL;
    const kz_gost_curve *c = issuer_key(iss, pub);
    int tbs_len;

    X509_get0_signature(&sigbits, &sigalg, subj);
    check_alg_oid(sigalg, "1.2.398.3.10.1.1.2.3.2");
    check_alg_oid(X509_get0_tbs_sigalg(subj), "1.2.398.3.10.1.1.2.3.2");
    tbs_len = i2d_re_X509_tbs(subj, &tbs);
    assert_true(tbs_len > 0);
    check_nca_signature(c, pub, tbs, (size_t)tbs_len, sigbits, subject_rel);
    OPENSSL_free(tbs);
    X509_free(subj);
    X509_free(iss);
}

static void test_nca_signer_certificate(void **state)
{
    check_cert_signed_by("cms/individual_signer.cer", "ca/nca_gost2022_test.cer");
}

static void test_nca_ca_chain(void **state)
{
    check_cert_signed_by("ca/nca_gost2022_test.cer", "ca/root_test_gost_2022.cer");
    check_cert_signed_by("ca/root_test_gost_2022.cer", "ca/root_test_gost_2022.cer");
}

static void check_crl(const char *rel)
{
    size_t len;
    unsigned char *der = load_der(rel, &len), *tbs = NULL, pub[128];
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    X509 *iss = load_cert("ca/nca_gost2022_test.cer");
    const kz_gost_curve *c = issuer_key(iss, pub);
    const ASN1_BIT_STRING *sigbits;
    const X509_ALGOR *sigalg;
    int tbs_len;

    assert_non_null(crl);
    X509_CRL_get0_signature(crl, &sigbits, &sigalg);
    check_alg_oid(sigalg, "1.2.398.3.10.1.1.2.3.2");
    tbs_len = i2d_re_X509_CRL_tbs(crl, &tbs);
    assert_true(tbs_len > 0);
    check_nca_signature(c, pub, tbs, (size_t)tbs_len, sigbits, rel);
    OPENSSL_free(tbs);
    X509_CRL_free(crl);
    X509_free(iss);
    free(der);
}

static void test_nca_crls(void **state)
{
    check_crl("ca/nca_gost2022_test.crl");
    check_crl("ca/nca_gost2022_d_test.crl");
}

/* The NCA checks hash with the project's Streebog; this pins it to the
 * engine's on the same real inputs, so a hash bug shows up here by name
 * rather than as a signature failure. */
static void test_streebog_on_nca_tbs(void **state)
{
    static const char *const certs[] = {
        "cms/individual_signer.cer", "ca/nca_gost2022_test.cer", "ca/root_test_gost_2022.cer",
    };

    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
        X509 *x = load_cert(certs[i]);
        unsigned char *tbs = NULL, a[64], b[64];
        int tbs_len = i2d_re_X509_tbs(x, &tbs);

        assert_true(tbs_len > 0);
        streebog512_engine(tbs, (size_t)tbs_len, a);
        kz_streebog(512, tbs, (size_t)tbs_len, b);
        if (memcmp(a, b, 64) != 0)
            fail_msg("kz_streebog and the engine disagree on the TBS of %s", certs[i]);
        OPENSSL_free(tbs);
        X509_free(x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve_constants),
        cmocka_unit_test(test_curve_oids),
        cmocka_unit_test(test_curve_edwards),
        cmocka_unit_test(test_example_256),
        cmocka_unit_test(test_example_512),
        cmocka_unit_test(test_roundtrip_all_curves),
        cmocka_unit_test(test_fixed_base_against_ladder),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_bad_keys_and_ranges),
        cmocka_unit_test(test_non_canonical_signature),
        cmocka_unit_test(test_small_subgroup_point),
        cmocka_unit_test(test_priv_normalize),
        cmocka_unit_test(test_sig_nca_conversion),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_engine_curves_match),
        cmocka_unit_test(test_engine_tc26_256_a),
        cmocka_unit_test(test_engine_tc26_512_a),
        cmocka_unit_test(test_engine_cryptopro_a),
        cmocka_unit_test(test_engine_other_curves),
        cmocka_unit_test(test_streebog_on_nca_tbs),
        cmocka_unit_test(test_nca_signer_certificate),
        cmocka_unit_test(test_nca_ca_chain),
        cmocka_unit_test(test_nca_crls),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    kz_gost3410_cleanup();
    kz_gost_curves_cleanup();
    return rc;
}
