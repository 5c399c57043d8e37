/* Unit tests for kzp11-tool's pure pieces: the --subject parser, the NCA
 * certificate-profile decoder and the certificate file reader.
 *
 * The profile tests run on the real NCA test certificates
 * ($KZP11_SHARED/fixtures/nca): RSA256 / AUTH_RSA256 (individual), the
 * six GOST512 ones (individual, and a legal entity's head), GOSTKNCA
 * (legal entity's head, BIN 123456789021) and the bare-base64 .cer of a CMS
 * signer. A missing fixture fails the test. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "certfile.h"
#include "nca_profile.h"
#include "subject.h"

#define FIXTURE_PASS "Qwerty12"
#define IIN "123456789011"
#define BIN "123456789021"
/* "ТЕСТОВ ТЕСТ", "ТЕСТОВ", "ТЕСТОВИЧ", "АО \"ТЕСТ\"" in UTF-8. */
#define CN_TEST "\xd0\xa2\xd0\x95\xd0\xa1\xd0\xa2\xd0\x9e\xd0\x92 \xd0\xa2\xd0\x95\xd0\xa1\xd0\xa2"
#define SN_TEST "\xd0\xa2\xd0\x95\xd0\xa1\xd0\xa2\xd0\x9e\xd0\x92"
#define GN_TEST "\xd0\xa2\xd0\x95\xd0\xa1\xd0\xa2\xd0\x9e\xd0\x92\xd0\x98\xd0\xa7"
#define O_TEST "\xd0\x90\xd0\x9e \"\xd0\xa2\xd0\x95\xd0\xa1\xd0\xa2\""

static OSSL_PROVIDER *legacy, *deflt;

static void fixture_path(char *buf, size_t n, const char *rel)
{
    const char *s = getenv("KZP11_SHARED");
    const char *src = getenv("KZP11_SRCDIR");

    if (s && *s)
        snprintf(buf, n, "%s/fixtures/nca/%s", s, rel);
    else
        snprintf(buf, n, "%s/../shared/fixtures/nca/%s", src && *src ? src : ".", rel);
}

static unsigned char *slurp(const char *rel, size_t *len)
{
    char path[1024];
    unsigned char *buf;

    fixture_path(path, sizeof(path), rel);
    if (kzt_read_file(path, &buf, len) != 0)
        fail_msg("fixture missing: %s (set KZP11_SHARED)", path);
    return buf;
}

/* The end-entity certificate of an NCA container. PKCS12_parse would give
 * up on the GOST keys OpenSSL cannot load, so only the certificate bags
 * are opened. */
static X509 *container_cert(const char *rel)
{
    size_t len;
    unsigned char *der = slurp(rel, &len);
    const unsigned char *p = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    STACK_OF(PKCS7) *safes;
    X509 *x = NULL;
    int i, j;

    assert_non_null(p12);
    safes = PKCS12_unpack_authsafes(p12);
    assert_non_null(safes);
    for (i = 0; i < sk_PKCS7_num(safes) && !x; i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags;

        if (OBJ_obj2nid(p7->type) != NID_pkcs7_encrypted)
            continue;
        bags = PKCS12_unpack_p7encdata(p7, FIXTURE_PASS, -1);
        assert_non_null(bags);
        for (j = 0; j < sk_PKCS12_SAFEBAG_num(bags) && !x; j++) {
            const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);

            if (PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate)
                x = PKCS12_SAFEBAG_get1_cert(bag);
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    free(der);
    assert_non_null(x);
    return x;
}

/* The hex part of "PREFIX_<hex>.p12". */
static void name_hex(const char *rel, char *out, size_t n)
{
    const char *u = strrchr(rel, '_'), *dot = strrchr(rel, '.');

    assert_non_null(u);
    assert_non_null(dot);
    snprintf(out, n, "%.*s", (int)(dot - u - 1), u + 1);
}

/* ---- subject parser ---------------------------------------------------- */

static const char *entry_text(X509_NAME *xn, int i, int *nid, int *type)
{
    static char buf[256];
    X509_NAME_ENTRY *e = X509_NAME_get_entry(xn, i);
    const ASN1_STRING *s;

    assert_non_null(e);
    s = X509_NAME_ENTRY_get_data(e);
    *nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    *type = ASN1_STRING_type(s);
    snprintf(buf, sizeof(buf), "%.*s", ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
    return buf;
}

static void test_subject_nca_individual(void **state)
{
    char err[256];
    X509_NAME *xn = kzt_subject_parse("CN=" CN_TEST ",SN=" SN_TEST ",SERIALNUMBER=IIN" IIN
                                      ",C=KZ,GN=" GN_TEST, err, sizeof(err));
    int nid, type;

    (void)state;
    assert_non_null(xn);
    assert_string_equal(err, "");
    assert_int_equal(X509_NAME_entry_count(xn), 5);
    assert_string_equal(entry_text(xn, 0, &nid, &type), CN_TEST);
    assert_int_equal(nid, NID_commonName);
    assert_int_equal(type, V_ASN1_UTF8STRING);
    assert_string_equal(entry_text(xn, 1, &nid, &type), SN_TEST);
    assert_int_equal(nid, NID_surname);
    assert_string_equal(entry_text(xn, 2, &nid, &type), "IIN" IIN);
    assert_int_equal(nid, NID_serialNumber);
    /* As in the NCA's certificates: PrintableString for these two. */
    assert_int_equal(type, V_ASN1_PRINTABLESTRING);
    assert_string_equal(entry_text(xn, 3, &nid, &type), "KZ");
    assert_int_equal(nid, NID_countryName);
    assert_int_equal(type, V_ASN1_PRINTABLESTRING);
    assert_string_equal(entry_text(xn, 4, &nid, &type), GN_TEST);
    assert_int_equal(nid, NID_givenName);
    X509_NAME_free(xn);
}

static void test_subject_escapes_and_spaces(void **state)
{
    char err[256];
    X509_NAME *xn = kzt_subject_parse("  O = " O_TEST "\\, LLP ,OU=BIN" BIN ", CN=a\\\\b\\ , L=x\\,", err,
                                      sizeof(err));
    int nid, type;

    (void)state;
    assert_non_null(xn);
    assert_int_equal(X509_NAME_entry_count(xn), 4);
    assert_string_equal(entry_text(xn, 0, &nid, &type), O_TEST ", LLP");
    assert_int_equal(nid, NID_organizationName);
    assert_string_equal(entry_text(xn, 1, &nid, &type), "BIN" BIN);
    assert_int_equal(nid, NID_organizationalUnitName);
    /* An escaped trailing space survives the trimming. */
    assert_string_equal(entry_text(xn, 2, &nid, &type), "a\\b ");
    assert_string_equal(entry_text(xn, 3, &nid, &type), "x,");
    assert_int_equal(nid, NID_localityName);
    X509_NAME_free(xn);
}

static void test_subject_names(void **state)
{
    static const struct {
        const char *s;
        int nid;
    } cases[] = {
        { "cn=x", NID_commonName },
        { "Surname=x", NID_surname },
        { "SN=x", NID_surname },
        { "G=x", NID_givenName },
        { "givenName=x", NID_givenName },
        { "serialnumber=IIN1", NID_serialNumber },
        { "o=x", NID_organizationName },
        { "ou=x", NID_organizationalUnitName },
        { "st=x", NID_stateOrProvinceName },
        { "street=x", NID_streetAddress },
        { "title=x", NID_title },
        { "E=a@b.kz", NID_pkcs9_emailAddress },
        { "businessCategory=x", NID_businessCategory },
        { "2.5.4.15=x", NID_businessCategory },
    };
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        X509_NAME *xn = kzt_subject_parse(cases[i].s, err, sizeof(err));
        int nid, type;

        if (!xn)
            fail_msg("'%s' refused: %s", cases[i].s, err);
        assert_int_equal(X509_NAME_entry_count(xn), 1);
        entry_text(xn, 0, &nid, &type);
        assert_int_equal(nid, cases[i].nid);
        X509_NAME_free(xn);
    }
}

static void test_subject_errors(void **state)
{
    static const char *const bad[] = {
        "",
        "CN",
        "CN=a,",
        "CN=a,,SN=b",
        ",CN=a",
        "FOO=x",
        "commonName=x",            /* only the table's spellings, no OpenSSL long names */
        "CN=",
        "CN=  ",
        "C=KAZ",                   /* countryName is two letters */
        "CN=a\\",
        "SERIALNUMBER=\xd0\x98\xd0\x98\xd0\x9d" "1", /* PrintableString only */
        "CN=\xff\xfe",             /* not UTF-8 */
        "=x",
    };
    char err[256];
    size_t i;

    (void)state;
    assert_null(kzt_subject_parse(NULL, err, sizeof(err)));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        X509_NAME *xn;

        err[0] = '\0';
        xn = kzt_subject_parse(bad[i], err, sizeof(err));
        if (xn)
            fail_msg("'%s' accepted", bad[i]);
        if (err[0] == '\0')
            fail_msg("'%s' refused without a reason", bad[i]);
    }
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- profile decoder --------------------------------------------------- */

static void check_person(const kzt_profile *p)
{
    assert_string_equal(p->common_name, CN_TEST);
    assert_string_equal(p->surname, SN_TEST);
    assert_string_equal(p->given_name, GN_TEST);
    assert_string_equal(p->iin, IIN);
}

static void test_profile_rsa_individual(void **state)
{
    static const char *const files[] = {
        "rsa-personal/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12",
        "rsa-personal/AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d.p12",
    };
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        X509 *x = container_cert(files[i]);
        kzt_profile p;
        char hex[64];

        assert_int_equal(kzt_profile_decode(x, &p), 0);
        check_person(&p);
        assert_null(p.bin);
        assert_null(p.organization);
        assert_int_equal(p.role, KZT_ROLE_INDIVIDUAL);
        assert_string_equal(p.role_text, "individual");
        assert_string_equal(p.key_alg, "RSA 2048");
        name_hex(files[i], hex, sizeof(hex));
        assert_string_equal(p.ski_hex, hex);
        assert_non_null(p.not_before);
        assert_non_null(p.not_after);
        assert_string_equal(p.issuer_cn, "\xd2\xb0\xd0\x9a\xd0\x9e 3.0 (RSA TEST)");
        if (i == 0) {
            assert_string_equal(p.key_usage, "digitalSignature, nonRepudiation");
            assert_string_equal(p.ext_key_usage, "emailProtection, 1.2.398.3.3.4.1.1");
            assert_string_equal(p.not_before, "2020-01-28 06:23:04 UTC");
            assert_string_equal(p.not_after, "2021-01-27 06:23:04 UTC");
        } else {
            assert_string_equal(p.key_usage, "digitalSignature, keyEncipherment");
            assert_string_equal(p.ext_key_usage, "clientAuth, 1.2.398.3.3.4.1.1");
        }
        kzt_profile_free(&p);
        assert_null(p.common_name);
        X509_free(x);
    }
}

static void test_profile_gostknca_legal_entity(void **state)
{
    X509 *x = container_cert("gost2004-organization/GOSTKNCA_13a3741b52d7bf860aab199b56fad1f4652e357b.p12");
    kzt_profile p;

    (void)state;
    assert_int_equal(kzt_profile_decode(x, &p), 0);
    check_person(&p);
    assert_string_equal(p.bin, BIN);
    assert_string_equal(p.organization, O_TEST);
    assert_int_equal(p.role, KZT_ROLE_LEGAL_ENTITY);
    assert_int_equal(p.subroles, KZT_SUBROLE_HEAD);
    assert_string_equal(p.role_text, "legal entity: head");
    assert_string_equal(p.key_alg, "GOST 34.310-2004");
    assert_string_equal(p.key_usage, "digitalSignature, nonRepudiation");
    assert_string_equal(p.ext_key_usage, "emailProtection, 1.2.398.3.3.4.1.2, 1.2.398.3.3.4.1.2.1");
    assert_string_equal(p.ski_hex, "13a3741b52d7bf860aab199b56fad1f4652e357b");
    kzt_profile_free(&p);
    X509_free(x);
}

/* What the six GOST512 certificates say (checked with openssl x509). */
static const struct {
    const char *hex, *role_text, *key_usage;
    unsigned subroles;
} gost512[] = {
    { "02c7a21f2df78b99cb67323e2e255779bb6ae309", "individual",
      "digitalSignature, nonRepudiation, keyAgreement", 0 },
    { "0860d9665327c26760c213126760a3b73072218d", "legal entity: head",
      "digitalSignature, nonRepudiation, keyAgreement", KZT_SUBROLE_HEAD },
    { "0d79679f360a2da49a631a0b1ac76f76c34b6f24", "individual",
      "digitalSignature, nonRepudiation, keyAgreement", 0 },
    /* The one signing-right certificate has keyEncipherment instead. */
    { "0ec06df66e692b2929391857a75490754c6424b1", "legal entity: signing right",
      "digitalSignature, nonRepudiation, keyEncipherment", KZT_SUBROLE_SIGNING_RIGHT },
    { "10f5125fb9e52f84c42cbad8e451c68f10a5e869", "legal entity: head",
      "digitalSignature, nonRepudiation, keyAgreement", KZT_SUBROLE_HEAD },
    { "145fc4910ee07ff689aeceee0f1d09d2441d0670", "individual",
      "digitalSignature, nonRepudiation, keyAgreement", 0 },
};

static void test_profile_gost512_all(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(gost512) / sizeof(gost512[0]); i++) {
        char rel[512];
        kzt_profile p;
        X509 *x;

        snprintf(rel, sizeof(rel), "gost2015/GOST512_%s.p12", gost512[i].hex);
        x = container_cert(rel);
        assert_int_equal(kzt_profile_decode(x, &p), 0);
        check_person(&p);
        assert_string_equal(p.key_alg, "GOST 2015 512-bit");
        assert_string_equal(p.key_usage, gost512[i].key_usage);
        assert_string_equal(p.ski_hex, gost512[i].hex);
        assert_string_equal(p.role_text, gost512[i].role_text);
        assert_int_equal(p.subroles, gost512[i].subroles);
        if (gost512[i].subroles) {
            assert_int_equal(p.role, KZT_ROLE_LEGAL_ENTITY);
            assert_string_equal(p.bin, BIN);
            assert_string_equal(p.organization, O_TEST);
        } else {
            assert_int_equal(p.role, KZT_ROLE_INDIVIDUAL);
            assert_null(p.bin);
            assert_null(p.organization);
        }
        assert_string_equal(p.issuer_cn, "\xd2\xb0\xd0\x9b\xd0\xa2\xd0\xa2\xd0\xab\xd2\x9a "
                                         "\xd0\x9a\xd0\xa3\xd3\x98\xd0\x9b\xd0\x90\xd0\x9d\xd0\x94"
                                         "\xd0\xab\xd0\xa0\xd0\xa3\xd0\xa8\xd0\xab "
                                         "\xd0\x9e\xd0\xa0\xd0\xa2\xd0\x90\xd0\x9b\xd0\xab\xd2\x9a "
                                         "(GOST) TEST 2022");
        kzt_profile_free(&p);
        X509_free(x);
    }
}

static void test_profile_without_extensions(void **state)
{
    X509 *x = X509_new();
    X509_NAME *xn = X509_NAME_new();
    kzt_profile p;

    (void)state;
    assert_non_null(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(xn, "CN", MBSTRING_UTF8, (const unsigned char *)"x", -1, -1, 0), 1);
    assert_int_equal(X509_set_subject_name(x, xn), 1);
    assert_int_equal(kzt_profile_decode(x, &p), 0);
    assert_string_equal(p.common_name, "x");
    assert_null(p.iin);
    assert_null(p.key_usage);
    assert_null(p.ext_key_usage);
    assert_null(p.role_text);
    assert_int_equal(p.role, KZT_ROLE_NONE);
    assert_null(p.ski_hex);
    kzt_profile_free(&p);
    X509_NAME_free(xn);
    X509_free(x);
}

/* ---- certificate files ------------------------------------------------- */

static void test_certfile_forms(void **state)
{
    size_t len;
    unsigned char *b64 = slurp("cms/individual_signer.cer", &len);
    unsigned char *der = NULL, *pem_buf, *junk;
    int der_len;
    X509 *x, *y;
    BIO *bio;
    char *mem;
    long mem_len;
    kzt_profile p;

    (void)state;
    /* The NCA's .cer: one line of base64 without PEM armour. */
    assert_int_equal(memcmp(b64, "MII", 3), 0);
    x = kzt_cert_from_buffer(b64, len);
    assert_non_null(x);
    assert_int_equal(kzt_profile_decode(x, &p), 0);
    check_person(&p);
    assert_string_equal(p.key_alg, "GOST 2015 512-bit");
    kzt_profile_free(&p);

    der_len = i2d_X509(x, &der);
    assert_true(der_len > 0);
    y = kzt_cert_from_buffer(der, (size_t)der_len);
    assert_non_null(y);
    assert_int_equal(X509_cmp(x, y), 0);
    X509_free(y);

    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    mem_len = BIO_get_mem_data(bio, &mem);
    pem_buf = malloc((size_t)mem_len);
    assert_non_null(pem_buf);
    memcpy(pem_buf, mem, (size_t)mem_len);
    y = kzt_cert_from_buffer(pem_buf, (size_t)mem_len);
    assert_non_null(y);
    assert_int_equal(X509_cmp(x, y), 0);
    X509_free(y);
    BIO_free(bio);
    free(pem_buf);

    /* Base64 broken into lines, as some downloads are. */
    {
        unsigned char *wrapped = malloc(len + len / 64 + 2);
        size_t i, k = 0;

        assert_non_null(wrapped);
        for (i = 0; i < len; i++) {
            wrapped[k++] = b64[i];
            if (i % 64 == 63)
                wrapped[k++] = '\n';
        }
        wrapped[k++] = '\n';
        y = kzt_cert_from_buffer(wrapped, k);
        assert_non_null(y);
        assert_int_equal(X509_cmp(x, y), 0);
        X509_free(y);
        free(wrapped);
    }

    /* DER with a byte appended, a truncated DER, junk: all refused. */
    junk = malloc((size_t)der_len + 1);
    assert_non_null(junk);
    memcpy(junk, der, (size_t)der_len);
    junk[der_len] = 0;
    assert_null(kzt_cert_from_buffer(junk, (size_t)der_len + 1));
    assert_null(kzt_cert_from_buffer(der, (size_t)der_len - 1));
    assert_null(kzt_cert_from_buffer((const unsigned char *)"garbage", 7));
    assert_null(kzt_cert_from_buffer((const unsigned char *)"", 0));
    assert_int_equal(ERR_peek_error(), 0);

    free(junk);
    OPENSSL_free(der);
    X509_free(x);
    free(b64);
}

static int setup(void **state)
{
    (void)state;
    /* The containers' certificates are under RC2-40, a legacy cipher. */
    legacy = OSSL_PROVIDER_load(NULL, "legacy");
    deflt = OSSL_PROVIDER_load(NULL, "default");
    return legacy && deflt ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    OSSL_PROVIDER_unload(legacy);
    OSSL_PROVIDER_unload(deflt);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject_nca_individual),
        cmocka_unit_test(test_subject_escapes_and_spaces),
        cmocka_unit_test(test_subject_names),
        cmocka_unit_test(test_subject_errors),
        cmocka_unit_test(test_profile_rsa_individual),
        cmocka_unit_test(test_profile_gostknca_legal_entity),
        cmocka_unit_test(test_profile_gost512_all),
        cmocka_unit_test(test_profile_without_extensions),
        cmocka_unit_test(test_certfile_forms),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
