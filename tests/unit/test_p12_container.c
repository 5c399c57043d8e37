/* Unit tests for the PKCS#12 container reader: NCA's real test containers
 * (RSA, GOST 2015, old GOST) and files made here with OpenSSL 3's writers,
 * plus damaged, truncated and random input and allocation failures. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "p12_container.h"

#define NCA_PASS "Qwerty12"
#define OID_RSA "1.2.840.113549.1.1.1"
#define OID_GOST512 "1.2.398.3.10.1.1.2.2"
#define OID_GOSTKNCA "1.2.398.3.10.1.1.1.1"
#define RSA_FIXTURE "RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12"
#define GOST_FIXTURE "GOST512_02c7a21f2df78b99cb67323e2e255779bb6ae309.p12"
/* Non-ASCII on purpose: PKCS#12 turns the UTF-8 password into BMPString. */
#define MADE_PASS "s3cret-пароль"

static OSSL_LIB_CTX *libctx;
static OSSL_PROVIDER *prov_default, *prov_legacy;

/* One RSA key and self-signed certificate for every generated file, and two
 * unrelated certificates to stand in for a chain. */
static EVP_PKEY *made_key;
static X509 *made_cert, *other_cert1, *other_cert2;

/* ---- allocation failure injection ------------------------------------- */

/* -1: never fail; otherwise the number of allocations still allowed before
 * exactly one fails. */
static long alloc_countdown = -1;
static long alloc_count;

static int alloc_should_fail(void)
{
    alloc_count++;
    if (alloc_countdown < 0)
        return 0;
    if (alloc_countdown-- == 0) {
        alloc_countdown = -1;
        return 1;
    }
    return 0;
}

static void *test_malloc_fn(size_t n, const char *file, int line)
{
    return alloc_should_fail() ? NULL : malloc(n);
}

static void *test_realloc_fn(void *p, size_t n, const char *file, int line)
{
    return alloc_should_fail() ? NULL : realloc(p, n);
}

static void test_free_fn(void *p, const char *file, int line)
{
    free(p);
}

/* ---- helpers ------------------------------------------------------------ */

static const char *srcdir(void)
{
    const char *d = getenv("KZP11_SRCDIR");

    return d != NULL && *d != '\0' ? d : ".";
}

/* a "/" b, failing the test rather than cutting the path. */
static void path_join(char *buf, size_t n, const char *a, const char *b)
{
    int r = snprintf(buf, n, "%s/%s", a, b);

    if (r < 0 || (size_t)r >= n)
        fail_msg("path too long: %s %s", a, b);
}

static void shared_dir(char *buf, size_t n)
{
    const char *d = getenv("KZP11_SHARED");

    if (d != NULL && *d != '\0') {
        if (strlen(d) >= n)
            fail_msg("KZP11_SHARED too long");
        memcpy(buf, d, strlen(d) + 1);
    } else
        path_join(buf, n, srcdir(), "../shared");
}

static void rsa_dir(char *buf, size_t n)
{
    path_join(buf, n, srcdir(), "tests/fixtures/nca/rsa-personal");
}

static void gost_dir(char *buf, size_t n, const char *sub)
{
    char shared[4096], nca[4096];

    shared_dir(shared, sizeof(shared));
    path_join(nca, sizeof(nca), shared, "fixtures/nca");
    path_join(buf, n, nca, sub);
}

/* Exactly-sized heap copy, so ASan sees any read past the end. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    if (f == NULL)
        fail_msg("cannot open fixture %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static unsigned char *slurp2(const char *dir, const char *name, size_t *len)
{
    char path[8192];

    path_join(path, sizeof(path), dir, name);
    return slurp(path, len);
}

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
    unsigned char *q = malloc(n > 0 ? n : 1);

    assert_non_null(q);
    if (n > 0)
        memcpy(q, p, n);
    return q;
}

static const unsigned char *find_bytes(const unsigned char *hay, size_t n,
                                       const unsigned char *needle, size_t m)
{
    size_t i;

    for (i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.p12 names in dir; fails the test if the folder cannot be read. */
static size_t list_p12(const char *dir, char **names, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        fail_msg("fixture folder %s is missing", dir);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);

        if (l > 4 && strcmp(e->d_name + l - 4, ".p12") == 0 && n < max)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    return n;
}

static void to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void assert_contents_zeroed(const kz_p12_contents *c)
{
    static const kz_p12_contents zero;

    assert_memory_equal(c, &zero, sizeof(zero));
}

static CK_RV open_with(const unsigned char *data, size_t len, const char *pass,
                       kz_p12_contents *c)
{
    /* Garbage first, so a failure that forgets to zero *out shows. */
    memset(c, 0x5A, sizeof(*c));
    return kz_p12_open(data, len, pass, pass != NULL ? strlen(pass) : 0,
                       libctx, c);
}

static char *pkcs8_oid(const kz_p12_contents *c, char *buf, size_t n)
{
    const unsigned char *p = c->pkcs8_der;
    PKCS8_PRIV_KEY_INFO *p8;
    const ASN1_OBJECT *obj = NULL;

    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)c->pkcs8_len);
    assert_non_null(p8);
    assert_ptr_equal(p, c->pkcs8_der + c->pkcs8_len);
    assert_int_equal(PKCS8_pkey_get0(&obj, NULL, NULL, NULL, p8), 1);
    assert_true(OBJ_obj2txt(buf, (int)n, obj, 1) > 0);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return buf;
}

static X509 *parse_cert(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x;

    assert_non_null(der);
    x = d2i_X509(NULL, &p, (long)len);
    assert_non_null(x);
    assert_ptr_equal(p, der + len);
    return x;
}

static EVP_PKEY *parse_key(const kz_p12_contents *c)
{
    const unsigned char *p = c->pkcs8_der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p,
                                                      (long)c->pkcs8_len);
    EVP_PKEY *k;

    assert_non_null(p8);
    k = EVP_PKCS82PKEY_ex(p8, libctx, NULL);
    PKCS8_PRIV_KEY_INFO_free(p8);
    assert_non_null(k);
    return k;
}

static unsigned char *p12_der(PKCS12 *p12, size_t *len)
{
    unsigned char *der = NULL;
    int n;

    assert_non_null(p12);
    n = i2d_PKCS12(p12, &der);
    assert_true(n > 0);
    PKCS12_free(p12);
    *len = (size_t)n;
    return der;
}

static void assert_cert_is(const kz_p12_contents *c, X509 *want)
{
    unsigned char *der = NULL;
    int n = i2d_X509(want, &der);

    assert_true(n > 0);
    assert_int_equal(c->cert_len, (size_t)n);
    assert_memory_equal(c->cert_der, der, (size_t)n);
    OPENSSL_free(der);
}

/* ---- NCA fixtures ------------------------------------------------------- */

/* The checks hold for every NCA container (kazakh-pki.md): the key bag's
 * localKeyID is the certificate's SKI, the friendlyName and the file name
 * carry the same bytes in lowercase hex. */
static void check_nca_file(const char *dir, const char *name)
{
    kz_p12_contents c;
    unsigned char *data;
    size_t len;
    const char *want_oid = NULL, *name_hex;
    char oid[128], hex[2 * sizeof(c.local_key_id) + 1];
    const ASN1_OCTET_STRING *ski;
    X509 *x;

    if (strncmp(name, "RSA256_", 7) == 0 || strncmp(name, "AUTH_RSA256_", 12) == 0)
        want_oid = OID_RSA;
    else if (strncmp(name, "GOST512_", 8) == 0)
        want_oid = OID_GOST512;
    else if (strncmp(name, "GOSTKNCA_", 9) == 0)
        want_oid = OID_GOSTKNCA;
    else
        fail_msg("unexpected fixture name %s", name);

    data = slurp2(dir, name, &len);
    assert_int_equal(kz_p12_probe(data, len), 1);
    assert_int_equal(open_with(data, len, NCA_PASS, &c), CKR_OK);

    assert_non_null(c.pkcs8_der);
    assert_string_equal(pkcs8_oid(&c, oid, sizeof(oid)), want_oid);

    x = parse_cert(c.cert_der, c.cert_len);
    ski = X509_get0_subject_key_id(x);
    assert_non_null(ski);
    assert_int_equal(c.local_key_id_len, (size_t)ASN1_STRING_length(ski));
    assert_memory_equal(c.local_key_id, ASN1_STRING_get0_data(ski),
                        c.local_key_id_len);

    to_hex(c.local_key_id, c.local_key_id_len, hex);
    assert_string_equal(c.friendly_name, hex);
    name_hex = strrchr(name, '_') + 1;
    assert_int_equal(strlen(name_hex), strlen(hex) + 4);
    assert_memory_equal(name_hex, hex, strlen(hex));

    if (strcmp(want_oid, OID_RSA) == 0) {
        EVP_PKEY *k = parse_key(&c);

        assert_true(EVP_PKEY_is_a(k, "RSA"));
        assert_int_equal(EVP_PKEY_eq(k, X509_get0_pubkey(x)), 1);
        EVP_PKEY_free(k);
    } else {
        /* OpenSSL cannot decode Kazakh GOST keys; at least the certificate
         * must be for the same algorithm as the key. */
        X509_PUBKEY *spki = X509_get_X509_PUBKEY(x);
        ASN1_OBJECT *alg = NULL;
        char cert_oid[128];

        assert_int_equal(X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, spki), 1);
        assert_true(OBJ_obj2txt(cert_oid, sizeof(cert_oid), alg, 1) > 0);
        assert_string_equal(cert_oid, want_oid);
    }
    X509_free(x);

    kz_p12_contents_clear(&c);
    assert_contents_zeroed(&c);
    free(data);
}

static void check_nca_folder(const char *dir, size_t want_at_least)
{
    char *names[64];
    size_t n = list_p12(dir, names, 64), i;

    if (n < want_at_least)
        fail_msg("%s: %zu containers, expected at least %zu", dir, n,
                 want_at_least);
    for (i = 0; i < n; i++) {
        check_nca_file(dir, names[i]);
        free(names[i]);
    }
}

static void test_rsa_fixtures(void **state)
{
    char dir[4096];

    rsa_dir(dir, sizeof(dir));
    check_nca_folder(dir, 2);
}

static void test_gost_fixtures(void **state)
{
    char dir[4096];

    gost_dir(dir, sizeof(dir), "gost2015");
    check_nca_folder(dir, 6);
    gost_dir(dir, sizeof(dir), "gost2004-organization");
    check_nca_folder(dir, 1);
}

static void test_wrong_password(void **state)
{
    char rdir[4096], gdir[4096];
    unsigned char *rsa, *gost;
    size_t rlen, glen;
    kz_p12_contents c;
    static const char padded[] = "Qwerty12XYZ";

    rsa_dir(rdir, sizeof(rdir));
    gost_dir(gdir, sizeof(gdir), "gost2015");
    rsa = slurp2(rdir, RSA_FIXTURE, &rlen);
    gost = slurp2(gdir, GOST_FIXTURE, &glen);

    assert_int_equal(open_with(rsa, rlen, "Qwerty13", &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);
    assert_int_equal(open_with(rsa, rlen, "qwerty12", &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);
    assert_int_equal(open_with(rsa, rlen, "", &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);
    assert_int_equal(open_with(rsa, rlen, NULL, &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);
    assert_int_equal(open_with(gost, glen, "Qwerty1", &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);

    /* The length decides, not a terminator. */
    memset(&c, 0x5A, sizeof(c));
    assert_int_equal(kz_p12_open(rsa, rlen, padded, 8, libctx, &c), CKR_OK);
    kz_p12_contents_clear(&c);
    assert_int_equal(kz_p12_open(rsa, rlen, padded, 9, libctx, &c),
                     CKR_PIN_INCORRECT);
    assert_int_equal(kz_p12_open(rsa, rlen, NCA_PASS, 9, libctx, &c),
                     CKR_PIN_INCORRECT);

    /* Caller mistakes. */
    assert_int_equal(kz_p12_open(rsa, rlen, NCA_PASS, 8, libctx, NULL),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(kz_p12_open(rsa, rlen, NULL, 8, libctx, &c),
                     CKR_ARGUMENTS_BAD);
    assert_contents_zeroed(&c);

    free(rsa);
    free(gost);
}

/* ---- damaged input ------------------------------------------------------ */

static void check_truncations(const unsigned char *data, size_t len)
{
    kz_p12_contents c;
    size_t n;

    for (n = 0; n < len; n++) {
        unsigned char *cut = dup_bytes(data, n);

        /* Every fixture's outer SEQUENCE spans the whole file, so any
         * prefix cuts it. */
        assert_int_equal(kz_p12_probe(cut, n), 0);
        assert_int_equal(open_with(cut, n, NCA_PASS, &c), CKR_DEVICE_ERROR);
        assert_contents_zeroed(&c);
        free(cut);
    }
}

static void test_truncated(void **state)
{
    char dir[4096];
    unsigned char *data;
    size_t len;
    kz_p12_contents c;

    rsa_dir(dir, sizeof(dir));
    data = slurp2(dir, RSA_FIXTURE, &len);
    check_truncations(data, len);
    free(data);

    gost_dir(dir, sizeof(dir), "gost2004-organization");
    data = slurp2(dir, "GOSTKNCA_13a3741b52d7bf860aab199b56fad1f4652e357b.p12",
                  &len);
    check_truncations(data, len);

    /* Trailing bytes are refused too. */
    {
        unsigned char *longer = malloc(len + 1);

        assert_non_null(longer);
        memcpy(longer, data, len);
        longer[len] = 0;
        assert_int_equal(kz_p12_probe(longer, len + 1), 0);
        assert_int_equal(open_with(longer, len + 1, NCA_PASS, &c),
                         CKR_DEVICE_ERROR);
        free(longer);
    }
    free(data);

    assert_int_equal(kz_p12_probe(NULL, 0), 0);
    assert_int_equal(kz_p12_probe(NULL, 100), 0);
    assert_int_equal(open_with(NULL, 0, NCA_PASS, &c), CKR_DEVICE_ERROR);
    assert_contents_zeroed(&c);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_random_bytes(void **state)
{
    static const size_t sizes[] = { 1, 2, 3, 16, 100, 1000, 1803, 4096, 65536 };
    /* What a PFX starts with: SEQUENCE, version 3, ContentInfo of type data
     * with an indefinite-length [0]. Random bytes after it must still fail. */
    static const unsigned char head[] = {
        0x30, 0x80, 0x02, 0x01, 0x03, 0x30, 0x80, 0x06, 0x09, 0x2a, 0x86,
        0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x80, 0x24, 0x80
    };
    kz_p12_contents c;
    uint64_t seed;
    size_t i, j;

    for (seed = 1; seed <= 8; seed++) {
        uint64_t s = seed * 0x9E3779B97F4A7C15ULL;

        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            size_t n = sizes[i];
            unsigned char *buf = malloc(n);

            assert_non_null(buf);
            for (j = 0; j < n; j++)
                buf[j] = (unsigned char)xorshift(&s);
            assert_int_equal(kz_p12_probe(buf, n), 0);
            assert_int_equal(open_with(buf, n, NCA_PASS, &c), CKR_DEVICE_ERROR);
            assert_contents_zeroed(&c);

            if (n > sizeof(head)) {
                memcpy(buf, head, sizeof(head));
                assert_int_equal(kz_p12_probe(buf, n), 0);
                assert_int_equal(open_with(buf, n, NCA_PASS, &c),
                                 CKR_DEVICE_ERROR);
                assert_contents_zeroed(&c);
            }
            free(buf);
        }
    }
}

/* Where the shrouded key bag's ciphertext sits in the file, found with
 * OpenSSL's own parser. */
static size_t find_key_ciphertext(const unsigned char *data, size_t len,
                                  size_t *ct_len)
{
    const unsigned char *p = data;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    STACK_OF(PKCS7) *safes;
    size_t off = (size_t)-1;
    int i, j;

    assert_non_null(p12);
    safes = PKCS12_unpack_authsafes(p12);
    assert_non_null(safes);
    for (i = 0; i < sk_PKCS7_num(safes) && off == (size_t)-1; i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags;

        if (!PKCS7_type_is_data(p7))
            continue;
        bags = PKCS12_unpack_p7data(p7);
        assert_non_null(bags);
        for (j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
            const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);
            const ASN1_OCTET_STRING *ct;
            const unsigned char *hit;

            if (PKCS12_SAFEBAG_get_nid(bag) != NID_pkcs8ShroudedKeyBag)
                continue;
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), NULL, &ct);
            hit = find_bytes(data, len, ct->data, (size_t)ct->length);
            assert_non_null(hit);
            off = (size_t)(hit - data);
            *ct_len = (size_t)ct->length;
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    assert_true(off != (size_t)-1);
    return off;
}

/* The MAC covers the key bag, so with the right password a damaged key bag
 * is a MAC mismatch: CKR_PIN_INCORRECT (PKCS#12 cannot tell the two apart). */
static void test_flipped_key_bag(void **state)
{
    char dir[4096];
    unsigned char *data;
    size_t len, off, ct_len = 0;
    kz_p12_contents c;

    rsa_dir(dir, sizeof(dir));
    data = slurp2(dir, RSA_FIXTURE, &len);
    off = find_key_ciphertext(data, len, &ct_len);
    assert_true(ct_len > 16);
    data[off + ct_len / 2] ^= 0x10;

    assert_int_equal(kz_p12_probe(data, len), 1);
    assert_int_equal(open_with(data, len, NCA_PASS, &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);
    assert_int_equal(open_with(data, len, "wrong", &c), CKR_PIN_INCORRECT);
    free(data);
}

/* One bit flipped in every byte in turn: never a crash, never a different
 * key or certificate. Only bytes outside the MAC'd content (the version
 * number, the MAC algorithm's parameters) may still open. */
static void test_flip_every_byte(void **state)
{
    char dir[4096];
    unsigned char *data;
    size_t len, i, opened = 0;
    kz_p12_contents ref, c;

    gost_dir(dir, sizeof(dir), "gost2015");
    data = slurp2(dir, GOST_FIXTURE, &len);
    assert_int_equal(open_with(data, len, NCA_PASS, &ref), CKR_OK);

    for (i = 0; i < len; i++) {
        unsigned char *copy = dup_bytes(data, len);
        CK_RV rv;

        copy[i] ^= (unsigned char)(1u << (i % 8));
        /* The probe accepts nothing OpenSSL's d2i_PKCS12 would refuse. */
        if (kz_p12_probe(copy, len)) {
            const unsigned char *p = copy;
            PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);

            assert_non_null(p12);
            assert_ptr_equal(p, copy + len);
            PKCS12_free(p12);
        }
        rv = open_with(copy, len, NCA_PASS, &c);
        if (rv == CKR_OK) {
            opened++;
            assert_int_equal(c.pkcs8_len, ref.pkcs8_len);
            assert_memory_equal(c.pkcs8_der, ref.pkcs8_der, ref.pkcs8_len);
            assert_int_equal(c.cert_len, ref.cert_len);
            assert_memory_equal(c.cert_der, ref.cert_der, ref.cert_len);
            kz_p12_contents_clear(&c);
        } else {
            if (rv != CKR_PIN_INCORRECT && rv != CKR_DEVICE_ERROR)
                fail_msg("byte %zu: rv 0x%lx", i, (unsigned long)rv);
            assert_contents_zeroed(&c);
        }
        free(copy);
    }
    assert_true(opened < 8);
    kz_p12_contents_clear(&ref);
    free(data);
}

/* ---- files written by OpenSSL 3 ----------------------------------------- */

static X509 *make_cert(EVP_PKEY *key, const char *cn, long serial)
{
    X509 *x = X509_new_ex(libctx, NULL);
    X509_NAME *name = X509_NAME_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    assert_non_null(x);
    assert_non_null(name);
    assert_non_null(md);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)cn,
                                                -1, -1, 0), 1);
    assert_int_equal(X509_set_subject_name(x, name), 1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", libctx, NULL,
                                           key, NULL), 1);
    assert_true(X509_sign_ctx(x, md) > 0);
    EVP_MD_CTX_free(md);
    X509_NAME_free(name);
    return x;
}

static unsigned char *make_p12(const char *pass, EVP_PKEY *key, int mac_iter,
                               size_t *len)
{
    return p12_der(PKCS12_create_ex(pass, "made", key, made_cert, NULL, 0, 0,
                                    0, mac_iter, 0, libctx, NULL),
                   len);
}

/* The NCA layout (3DES key bag, RC2-40 certificate part, HMAC-SHA1) with a
 * single iteration everywhere, so that a sweep over every allocation stays
 * quick. */
static unsigned char *make_nca_like_p12(int with_mac, size_t *len)
{
    PKCS12 *p12 = PKCS12_create_ex(MADE_PASS, "made", made_key, made_cert,
                                   NULL, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                                   NID_pbe_WithSHA1And40BitRC2_CBC, 1, -1, 0,
                                   libctx, NULL);

    assert_non_null(p12);
    if (with_mac)
        assert_int_equal(PKCS12_set_mac(p12, MADE_PASS, -1, NULL, 0, 1,
                                        EVP_sha1()), 1);
    return p12_der(p12, len);
}

static void check_made_contents(const kz_p12_contents *c)
{
    EVP_PKEY *k = parse_key(c);

    assert_int_equal(EVP_PKEY_eq(k, made_key), 1);
    EVP_PKEY_free(k);
    assert_cert_is(c, made_cert);
    assert_string_equal(c->friendly_name, "made");
    /* PKCS12_create puts the certificate's SHA-1 in localKeyID. */
    assert_int_equal(c->local_key_id_len, 20);
}

/* The test is only worth something if OpenSSL really wrote PBES2. */
static void assert_modern_algorithms(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    STACK_OF(PKCS7) *safes;
    const X509_ALGOR *macalg = NULL;
    const ASN1_OBJECT *obj;
    int i, j, saw_key = 0, saw_enc = 0;

    assert_non_null(p12);
    PKCS12_get0_mac(NULL, &macalg, NULL, NULL, p12);
    assert_non_null(macalg);
    X509_ALGOR_get0(&obj, NULL, NULL, macalg);
    assert_int_equal(OBJ_obj2nid(obj), NID_sha256);

    safes = PKCS12_unpack_authsafes(p12);
    assert_non_null(safes);
    for (i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags;

        if (PKCS7_type_is_encrypted(p7)) {
            obj = p7->d.encrypted->enc_data->algorithm->algorithm;
            assert_int_equal(OBJ_obj2nid(obj), NID_pbes2);
            saw_enc = 1;
            continue;
        }
        bags = PKCS12_unpack_p7data(p7);
        assert_non_null(bags);
        for (j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
            const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);
            const X509_ALGOR *alg;
            const ASN1_TYPE *param;
            PBE2PARAM *pbe2;

            if (PKCS12_SAFEBAG_get_nid(bag) != NID_pkcs8ShroudedKeyBag)
                continue;
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
            X509_ALGOR_get0(&obj, NULL, NULL, alg);
            param = alg->parameter;
            assert_int_equal(OBJ_obj2nid(obj), NID_pbes2);
            pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), param);
            assert_non_null(pbe2);
            assert_int_equal(OBJ_obj2nid(pbe2->encryption->algorithm),
                             NID_aes_256_cbc);
            assert_int_equal(OBJ_obj2nid(pbe2->keyfunc->algorithm), NID_id_pbkdf2);
            PBE2PARAM_free(pbe2);
            saw_key = 1;
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    assert_true(saw_key);
    assert_true(saw_enc);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
}

static void test_pbes2_file(void **state)
{
    size_t len;
    unsigned char *der = make_p12(MADE_PASS, made_key, 0, &len);
    kz_p12_contents c;

    assert_modern_algorithms(der, len);
    assert_int_equal(kz_p12_probe(der, len), 1);
    assert_int_equal(open_with(der, len, MADE_PASS, &c), CKR_OK);
    check_made_contents(&c);
    kz_p12_contents_clear(&c);
    assert_contents_zeroed(&c);

    assert_int_equal(open_with(der, len, "s3cret-парол", &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);
    assert_int_equal(open_with(der, len, "", &c), CKR_PIN_INCORRECT);
    assert_int_equal(open_with(der, len, NCA_PASS, &c), CKR_PIN_INCORRECT);
    OPENSSL_free(der);
}

/* Without a MAC a wrong password only shows as a part that fails to
 * decrypt, which is then CKR_PIN_INCORRECT. */
static void test_no_mac(void **state)
{
    size_t len;
    unsigned char *der = make_p12(MADE_PASS, made_key, -1, &len);
    const unsigned char *p = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    kz_p12_contents c;

    assert_non_null(p12);
    assert_int_equal(PKCS12_mac_present(p12), 0);
    PKCS12_free(p12);

    assert_int_equal(kz_p12_probe(der, len), 1);
    assert_int_equal(open_with(der, len, MADE_PASS, &c), CKR_OK);
    check_made_contents(&c);
    kz_p12_contents_clear(&c);
    assert_int_equal(open_with(der, len, "wrong", &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);
    assert_int_equal(open_with(der, len, "", &c), CKR_PIN_INCORRECT);
    OPENSSL_free(der);

    der = make_nca_like_p12(0, &len);
    assert_int_equal(open_with(der, len, MADE_PASS, &c), CKR_OK);
    check_made_contents(&c);
    kz_p12_contents_clear(&c);
    assert_int_equal(open_with(der, len, "wrong", &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);
    OPENSSL_free(der);
}

static void test_empty_password_file(void **state)
{
    size_t len;
    unsigned char *der = make_p12("", made_key, 0, &len);
    kz_p12_contents c;

    assert_int_equal(open_with(der, len, "", &c), CKR_OK);
    check_made_contents(&c);
    kz_p12_contents_clear(&c);
    assert_int_equal(open_with(der, len, NULL, &c), CKR_OK);
    kz_p12_contents_clear(&c);
    assert_int_equal(open_with(der, len, "x", &c), CKR_PIN_INCORRECT);
    OPENSSL_free(der);

    /* A NULL password: OpenSSL then writes the empty password as no bytes
     * at all instead of a BMP NUL. Both must open with an empty PIN. */
    {
        PKCS12 *p12 = PKCS12_create_ex(NULL, "made", made_key, made_cert,
                                       NULL, 0, 0, 0, 0, 0, libctx, NULL);

        assert_non_null(p12);
        assert_int_equal(PKCS12_verify_mac(p12, NULL, 0), 1);
        assert_int_equal(PKCS12_verify_mac(p12, "", 0), 0);
        der = p12_der(p12, &len);
    }
    assert_int_equal(open_with(der, len, "", &c), CKR_OK);
    check_made_contents(&c);
    kz_p12_contents_clear(&c);
    assert_int_equal(open_with(der, len, "x", &c), CKR_PIN_INCORRECT);
    OPENSSL_free(der);
}

/* Nothing encrypted, integrity by MAC only: the MAC alone judges the
 * password. */
static void test_plain_key_bag(void **state)
{
    size_t len;
    unsigned char *der = p12_der(PKCS12_create_ex(MADE_PASS, "made", made_key,
                                                  made_cert, NULL, -1, -1, 0,
                                                  0, 0, libctx, NULL),
                                 &len);
    kz_p12_contents c;

    assert_int_equal(open_with(der, len, MADE_PASS, &c), CKR_OK);
    check_made_contents(&c);
    kz_p12_contents_clear(&c);
    assert_int_equal(open_with(der, len, "wrong", &c), CKR_PIN_INCORRECT);
    assert_contents_zeroed(&c);
    OPENSSL_free(der);
}

static void test_no_key(void **state)
{
    size_t len;
    unsigned char *der = p12_der(PKCS12_create_ex(MADE_PASS, NULL, NULL,
                                                  made_cert, NULL, 0, 0, 0, 0,
                                                  0, libctx, NULL),
                                 &len);
    kz_p12_contents c;

    assert_int_equal(kz_p12_probe(der, len), 1);
    assert_int_equal(open_with(der, len, MADE_PASS, &c), CKR_DEVICE_ERROR);
    assert_contents_zeroed(&c);
    assert_int_equal(open_with(der, len, "wrong", &c), CKR_PIN_INCORRECT);
    OPENSSL_free(der);
}

/* Certificates in one encrypted part (the key's own between two others),
 * the key in a plain part after them, as some writers lay files out. */
static unsigned char *make_chain_p12(int with_ids, int iter, size_t *len)
{
    static unsigned char id[] = "key-id-0123";
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12_SAFEBAG *bag;
    PKCS12 *p12;

    assert_non_null(PKCS12_add_cert(&bags, other_cert1));
    assert_non_null(bag = PKCS12_add_cert(&bags, made_cert));
    if (with_ids)
        assert_int_equal(PKCS12_add_localkeyid(bag, id, sizeof(id) - 1), 1);
    assert_non_null(PKCS12_add_cert(&bags, other_cert2));
    assert_int_equal(PKCS12_add_safe_ex(&safes, bags, NID_aes_256_cbc, iter,
                                        MADE_PASS, libctx, NULL), 1);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    bags = NULL;

    assert_non_null(bag = PKCS12_add_key_ex(&bags, made_key, 0, iter,
                                            NID_aes_256_cbc, MADE_PASS,
                                            libctx, NULL));
    if (with_ids)
        assert_int_equal(PKCS12_add_localkeyid(bag, id, sizeof(id) - 1), 1);
    assert_int_equal(PKCS12_add_friendlyname_utf8(bag, "ключ", -1), 1);
    assert_int_equal(PKCS12_add_safe_ex(&safes, bags, -1, 0, NULL, libctx,
                                        NULL), 1);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);

    p12 = PKCS12_add_safes_ex(safes, 0, libctx, NULL);
    assert_non_null(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    assert_int_equal(PKCS12_set_mac(p12, MADE_PASS, -1, NULL, 0, iter,
                                    EVP_sha256()), 1);
    return p12_der(p12, len);
}

static void test_cert_selection(void **state)
{
    size_t len;
    unsigned char *der = make_chain_p12(1, 2048, &len);
    kz_p12_contents c;

    assert_int_equal(open_with(der, len, MADE_PASS, &c), CKR_OK);
    assert_cert_is(&c, made_cert);
    assert_int_equal(c.local_key_id_len, 11);
    assert_memory_equal(c.local_key_id, "key-id-0123", 11);
    assert_string_equal(c.friendly_name, "ключ");
    kz_p12_contents_clear(&c);
    OPENSSL_free(der);

    /* No localKeyID anywhere: the first certificate. */
    der = make_chain_p12(0, 2048, &len);
    assert_int_equal(open_with(der, len, MADE_PASS, &c), CKR_OK);
    assert_cert_is(&c, other_cert1);
    assert_int_equal(c.local_key_id_len, 0);
    kz_p12_contents_clear(&c);
    OPENSSL_free(der);
}

/* SEQUENCE { version 3, authSafe }, for authSafes OpenSSL will not write. */
static unsigned char *wrap_pfx(const unsigned char *ci, int ci_len,
                               size_t *len)
{
    STACK_OF(ASN1_TYPE) *pfx = sk_ASN1_TYPE_new_null();
    ASN1_TYPE *version = ASN1_TYPE_new(), *content = ASN1_TYPE_new();
    ASN1_INTEGER *three = ASN1_INTEGER_new();
    ASN1_STRING *raw = ASN1_STRING_new();
    unsigned char *out = NULL;
    int n;

    assert_non_null(pfx);
    assert_non_null(version);
    assert_non_null(content);
    assert_non_null(three);
    assert_non_null(raw);
    assert_int_equal(ASN1_INTEGER_set(three, 3), 1);
    ASN1_TYPE_set(version, V_ASN1_INTEGER, three);
    assert_int_equal(ASN1_STRING_set(raw, ci, ci_len), 1);
    ASN1_TYPE_set(content, V_ASN1_SEQUENCE, raw);
    assert_true(sk_ASN1_TYPE_push(pfx, version) > 0);
    assert_true(sk_ASN1_TYPE_push(pfx, content) > 0);
    n = i2d_ASN1_SEQUENCE_ANY(pfx, &out);
    assert_true(n > 0);
    sk_ASN1_TYPE_pop_free(pfx, ASN1_TYPE_free);
    *len = (size_t)n;
    return out;
}

static STACK_OF(PKCS7) *made_authsafes(unsigned char **der)
{
    size_t len;
    const unsigned char *p;
    PKCS12 *p12;
    STACK_OF(PKCS7) *safes;

    *der = make_p12(MADE_PASS, made_key, -1, &len);
    p = *der;
    p12 = d2i_PKCS12(NULL, &p, (long)len);
    assert_non_null(p12);
    safes = PKCS12_unpack_authsafes(p12);
    assert_non_null(safes);
    PKCS12_free(p12);
    return safes;
}

/* Public-key integrity mode: the AuthenticatedSafe inside a SignedData,
 * no MAC. Built by hand since OpenSSL only writes password mode. */
static void test_signed_authsafe(void **state)
{
    unsigned char *der, *as = NULL, *sig_der = NULL, *pfx;
    STACK_OF(PKCS7) *safes = made_authsafes(&der);
    int as_len, sig_len;
    size_t len;
    BIO *in;
    PKCS7 *sig;
    kz_p12_contents c;

    as_len = ASN1_item_i2d((ASN1_VALUE *)safes, &as,
                           ASN1_ITEM_rptr(PKCS12_AUTHSAFES));
    assert_true(as_len > 0);
    in = BIO_new_mem_buf(as, as_len);
    sig = PKCS7_sign_ex(made_cert, made_key, NULL, in, PKCS7_BINARY, libctx,
                        NULL);
    assert_non_null(sig);
    sig_len = i2d_PKCS7(sig, &sig_der);
    assert_true(sig_len > 0);
    pfx = wrap_pfx(sig_der, sig_len, &len);

    assert_int_equal(kz_p12_probe(pfx, len), 1);
    assert_int_equal(open_with(pfx, len, MADE_PASS, &c), CKR_OK);
    check_made_contents(&c);
    kz_p12_contents_clear(&c);
    assert_int_equal(open_with(pfx, len, "wrong", &c), CKR_PIN_INCORRECT);

    OPENSSL_free(pfx);
    OPENSSL_free(sig_der);
    PKCS7_free(sig);
    BIO_free(in);
    OPENSSL_free(as);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    OPENSSL_free(der);
}

/* An authSafe that is neither data nor signed data is not a PKCS#12 file
 * for us, even though it parses. */
static void test_other_authsafe_type(void **state)
{
    unsigned char *der, *ci = NULL, *pfx;
    STACK_OF(PKCS7) *safes = made_authsafes(&der);
    PKCS7 *encrypted = NULL;
    int i, ci_len;
    size_t len;
    kz_p12_contents c;

    for (i = 0; i < sk_PKCS7_num(safes); i++)
        if (PKCS7_type_is_encrypted(sk_PKCS7_value(safes, i)))
            encrypted = sk_PKCS7_value(safes, i);
    assert_non_null(encrypted);
    ci_len = i2d_PKCS7(encrypted, &ci);
    assert_true(ci_len > 0);
    pfx = wrap_pfx(ci, ci_len, &len);

    assert_int_equal(kz_p12_probe(pfx, len), 0);
    assert_int_equal(open_with(pfx, len, MADE_PASS, &c), CKR_DEVICE_ERROR);
    assert_contents_zeroed(&c);

    OPENSSL_free(pfx);
    OPENSSL_free(ci);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    OPENSSL_free(der);
}

/* ---- allocation failures ------------------------------------------------ */

/* Fails allocations of a successful open in turn (every `stride`-th): the
 * result is the same contents, CKR_HOST_MEMORY, or CKR_DEVICE_ERROR where
 * OpenSSL does not flag the failure; never a crash, a leak (ASan) or a
 * password verdict. */
static void sweep_alloc_failures(const char *what, const unsigned char *data,
                                 size_t len, const char *pass, long stride)
{
    kz_p12_contents ref, c;
    long total, n, ok = 0, oom = 0, other = 0;
    CK_RV rv;

    assert_int_equal(open_with(data, len, pass, &ref), CKR_OK);
    alloc_count = 0;
    assert_int_equal(open_with(data, len, pass, &c), CKR_OK);
    total = alloc_count;
    kz_p12_contents_clear(&c);

    for (n = 0; n < total; n += stride) {
        alloc_countdown = n;
        rv = open_with(data, len, pass, &c);
        alloc_countdown = -1;
        if (rv == CKR_OK) {
            ok++;
            assert_int_equal(c.pkcs8_len, ref.pkcs8_len);
            assert_memory_equal(c.pkcs8_der, ref.pkcs8_der, ref.pkcs8_len);
            assert_int_equal(c.cert_len, ref.cert_len);
            assert_memory_equal(c.cert_der, ref.cert_der, ref.cert_len);
            assert_int_equal(c.local_key_id_len, ref.local_key_id_len);
            assert_memory_equal(c.local_key_id, ref.local_key_id,
                                ref.local_key_id_len);
            assert_string_equal(c.friendly_name, ref.friendly_name);
            kz_p12_contents_clear(&c);
        } else {
            if (rv == CKR_HOST_MEMORY)
                oom++;
            else if (rv == CKR_DEVICE_ERROR)
                other++;
            else
                fail_msg("%s: allocation %ld of %ld: rv 0x%lx", what, n,
                         total, (unsigned long)rv);
            assert_contents_zeroed(&c);
        }
    }
    print_message("    %s: %ld allocations, every %ld failed: %ld still ok, "
                  "%ld CKR_HOST_MEMORY, %ld CKR_DEVICE_ERROR\n", what, total,
                  stride, ok, oom, other);
    assert_true(oom > 0);
    kz_p12_contents_clear(&ref);

    /* And the library context still works afterwards. */
    assert_int_equal(open_with(data, len, pass, &c), CKR_OK);
    kz_p12_contents_clear(&c);
}

static void test_allocation_failures(void **state)
{
    char dir[4096];
    unsigned char *data;
    size_t len;

    data = make_nca_like_p12(1, &len);
    sweep_alloc_failures("NCA-like, MAC", data, len, MADE_PASS, 1);
    OPENSSL_free(data);

    data = make_nca_like_p12(0, &len);
    sweep_alloc_failures("NCA-like, no MAC", data, len, MADE_PASS, 1);
    OPENSSL_free(data);

    data = make_chain_p12(1, 1, &len);
    sweep_alloc_failures("PBES2 with chain", data, len, MADE_PASS, 1);
    OPENSSL_free(data);

    /* The real thing spends most allocations in 1,024-round KDFs. */
    rsa_dir(dir, sizeof(dir));
    data = slurp2(dir, RSA_FIXTURE, &len);
    sweep_alloc_failures("NCA RSA fixture", data, len, NCA_PASS, 7);
    free(data);
}

/* ---- probe cost --------------------------------------------------------- */

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Listing a folder probes every file; 1,000 probes must stay far below a
 * noticeable delay. The bound is loose so that sanitizers and valgrind pass;
 * the point is to catch a probe that starts doing crypto. */
static void test_probe_cost(void **state)
{
    char dir[4096];
    unsigned char *data;
    size_t len;
    double t0, us;
    int i, hits = 0;

    rsa_dir(dir, sizeof(dir));
    data = slurp2(dir, RSA_FIXTURE, &len);
    for (i = 0; i < 100; i++)
        hits += kz_p12_probe(data, len);
    t0 = now_us();
    for (i = 0; i < 1000; i++)
        hits += kz_p12_probe(data, len);
    us = now_us() - t0;
    print_message("    kz_p12_probe: %.2f us per call (%zu-byte file)\n",
                  us / 1000, len);
    assert_int_equal(hits, 1100);
    assert_true(us < 2e6);
    free(data);
}

/* ---- setup -------------------------------------------------------------- */

static int group_setup(void **state)
{
    libctx = OSSL_LIB_CTX_new();
    if (libctx == NULL)
        return -1;
    prov_default = OSSL_PROVIDER_load(libctx, "default");
    prov_legacy = OSSL_PROVIDER_load(libctx, "legacy");
    if (prov_default == NULL || prov_legacy == NULL)
        return -1;

    made_key = EVP_PKEY_Q_keygen(libctx, NULL, "RSA", (size_t)2048);
    if (made_key == NULL)
        return -1;
    made_cert = make_cert(made_key, "kzp11 test", 1);
    {
        EVP_PKEY *k1 = EVP_PKEY_Q_keygen(libctx, NULL, "EC", "P-256");
        EVP_PKEY *k2 = EVP_PKEY_Q_keygen(libctx, NULL, "EC", "P-256");

        if (k1 == NULL || k2 == NULL)
            return -1;
        other_cert1 = make_cert(k1, "other one", 2);
        other_cert2 = make_cert(k2, "other two", 3);
        EVP_PKEY_free(k1);
        EVP_PKEY_free(k2);
    }
    return 0;
}

static int group_teardown(void **state)
{
    X509_free(other_cert2);
    X509_free(other_cert1);
    X509_free(made_cert);
    EVP_PKEY_free(made_key);
    OSSL_PROVIDER_unload(prov_legacy);
    OSSL_PROVIDER_unload(prov_default);
    OSSL_LIB_CTX_free(libctx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_fixtures),
        cmocka_unit_test(test_gost_fixtures),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_flipped_key_bag),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_pbes2_file),
        cmocka_unit_test(test_no_mac),
        cmocka_unit_test(test_empty_password_file),
        cmocka_unit_test(test_plain_key_bag),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test(test_cert_selection),
        cmocka_unit_test(test_signed_authsafe),
        cmocka_unit_test(test_other_authsafe_type),
        cmocka_unit_test(test_probe_cost),
        cmocka_unit_test(test_allocation_failures),
    };

    /* Has to come before OpenSSL's first allocation. */
    if (!CRYPTO_set_mem_functions(test_malloc_fn, test_realloc_fn,
                                  test_free_fn)) {
        fprintf(stderr, "cannot install OpenSSL allocation hooks\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
