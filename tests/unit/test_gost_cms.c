/* Real CMS signatures made by the NCA's own software (Kalkan), verified
 * through kzp11's PKCS#11 API. This is the end-to-end proof that the module's
 * hashes (GOST R 34.11-94 with the test S-boxes, Streebog-512), its decoding
 * of NCA public keys and its signature byte order agree with what the NCA
 * produces.
 *
 * For each CMS SignedData in $KZP11_SHARED/fixtures/nca/cms:
 *   - the CMS is decoded with libtasn1 against a small CMS/X.509 module
 *     (below) in strict-DER mode, and every piece the test uses is taken by
 *     position from the file: the signer certificate, the signedAttrs as
 *     they appear in the file (re-tagged [0] IMPLICIT -> SET, RFC 5652
 *     section 5.4: that is what is signed), the signature OCTET STRING and
 *     the messageDigest attribute;
 *   - messageDigest must equal C_Digest of the content (proves the hash);
 *   - a session public key made with C_CreateObject from the certificate's
 *     own parameter OIDs and key bytes must verify the signature with the
 *     hash-and-sign mechanism and with the raw mechanism over C_Digest of
 *     the attributes; other byte layouts, the untagged attributes and a
 *     flipped bit must all fail.
 * The two RSA signatures of the same fixture set are the control. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
/* libtasn1's old ASN1_TYPE macro would clash with OpenSSL's ASN1_TYPE. */
#define ASN1_DISABLE_DEPRECATED 1
#include <libtasn1.h>

#include "pkcs11_types.h"
#include "gost3410.h"
#include "gost_curves.h"
#include "gost_keys.h"

/* ---- The ASN.1 the test reads -------------------------------------------
 * RFC 5652 SignedData and RFC 5280 Certificate, cut down to the fields the
 * test needs (the rest are ANY), plus the GOST key parameters of RFC 4491 /
 * RFC 9215, which the NCA writes with its own OIDs. */
static const char cms_asn1[] =
    "KZCMS { }\n"
    "DEFINITIONS IMPLICIT TAGS ::=\n"
    "BEGIN\n"
    "ContentInfo ::= SEQUENCE {\n"
    "  contentType OBJECT IDENTIFIER,\n"
    "  content [0] EXPLICIT SignedData }\n"
    "SignedData ::= SEQUENCE {\n"
    "  version INTEGER,\n"
    "  digestAlgorithms SET OF AlgorithmIdentifier,\n"
    "  encapContentInfo EncapsulatedContentInfo,\n"
    "  certificates [0] SET OF ANY OPTIONAL,\n"
    "  crls [1] SET OF ANY OPTIONAL,\n"
    "  signerInfos SET OF SignerInfo }\n"
    "AlgorithmIdentifier ::= SEQUENCE {\n"
    "  algorithm OBJECT IDENTIFIER,\n"
    "  parameters ANY OPTIONAL }\n"
    "EncapsulatedContentInfo ::= SEQUENCE {\n"
    "  eContentType OBJECT IDENTIFIER,\n"
    "  eContent [0] EXPLICIT OCTET STRING OPTIONAL }\n"
    "SignerInfo ::= SEQUENCE {\n"
    "  version INTEGER,\n"
    "  sid SignerIdentifier,\n"
    "  digestAlgorithm AlgorithmIdentifier,\n"
    "  signedAttrs [0] SET OF Attribute OPTIONAL,\n"
    "  signatureAlgorithm AlgorithmIdentifier,\n"
    "  signature OCTET STRING,\n"
    "  unsignedAttrs [1] SET OF Attribute OPTIONAL }\n"
    "SignerIdentifier ::= CHOICE {\n"
    "  issuerAndSerialNumber IssuerAndSerialNumber,\n"
    "  subjectKeyIdentifier [0] OCTET STRING }\n"
    "IssuerAndSerialNumber ::= SEQUENCE {\n"
    "  issuer ANY,\n"
    "  serialNumber INTEGER }\n"
    "Attribute ::= SEQUENCE {\n"
    "  attrType OBJECT IDENTIFIER,\n"
    "  attrValues SET OF ANY }\n"
    "MessageDigest ::= OCTET STRING\n"
    "ContentType ::= OBJECT IDENTIFIER\n"
    "Certificate ::= SEQUENCE {\n"
    "  tbsCertificate TBSCertificate,\n"
    "  signatureAlgorithm AlgorithmIdentifier,\n"
    "  signatureValue BIT STRING }\n"
    "TBSCertificate ::= SEQUENCE {\n"
    "  version [0] EXPLICIT INTEGER OPTIONAL,\n"
    "  serialNumber INTEGER,\n"
    "  signature AlgorithmIdentifier,\n"
    "  issuer ANY,\n"
    "  validity ANY,\n"
    "  subject ANY,\n"
    "  subjectPublicKeyInfo SubjectPublicKeyInfo,\n"
    "  issuerUniqueID [1] BIT STRING OPTIONAL,\n"
    "  subjectUniqueID [2] BIT STRING OPTIONAL,\n"
    "  extensions [3] EXPLICIT ANY OPTIONAL }\n"
    "SubjectPublicKeyInfo ::= SEQUENCE {\n"
    "  algorithm AlgorithmIdentifier,\n"
    "  subjectPublicKey BIT STRING }\n"
    "GostKeyParameters ::= SEQUENCE {\n"
    "  publicKeyParamSet OBJECT IDENTIFIER,\n"
    "  digestParamSet OBJECT IDENTIFIER OPTIONAL,\n"
    "  encryptionParamSet OBJECT IDENTIFIER OPTIONAL }\n"
    "GostPublicKey ::= OCTET STRING\n"
    "END\n";

#define OID_SIGNED_DATA "1.2.840.113549.1.7.2"
#define OID_DATA "1.2.840.113549.1.7.1"
#define OID_CONTENT_TYPE "1.2.840.113549.1.9.3"
#define OID_MESSAGE_DIGEST "1.2.840.113549.1.9.4"

/* ---- The fixtures ------------------------------------------------------- */

typedef enum { ALG_GOST94, ALG_GOST512, ALG_RSA } sig_alg;

typedef struct {
    const char *file;            /* in fixtures/nca/cms */
    int base64;                  /* the .cms files are base64 of the DER */
    const char *content_file;    /* NULL: the content is "asdasd" */
    int detached;                /* no eContent in the CMS */
    const char *signer_file;     /* a separate copy of the signer's certificate */
    sig_alg alg;
    const char *digest_oid;      /* SignerInfo.digestAlgorithm */
    const char *sig_oid;         /* SignerInfo.signatureAlgorithm */
    const char *key_oid;         /* the certificate's key algorithm */
    const char *curve_oid;       /* GOST: publicKeyParamSet */
    const char *hash_param_oid;  /* GOST: digestParamSet */
    kz_gost_hash hash;           /* GOST: what the module must make of the key */
    CK_KEY_TYPE key_type;
    CK_MECHANISM_TYPE digest_mech, sign_mech, raw_mech;
} cms_case;

/* DER of 1.2.643.2.2.30.0, GOST R 34.11-94 with the test parameter set:
 * CKM_GOSTR3411's parameter. */
static const unsigned char oid_gost94_test[] = { 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x00 };
/* DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1). */
static const unsigned char sha256_digestinfo[] = {
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20
};

static const cms_case case_gostknca = {
    "GOSTKNCA_13a3741b52d7bf860aab199b56fad1f4652e357b.cms", 1, NULL, 0, NULL, ALG_GOST94,
    "1.2.398.3.10.1.3.1", "1.2.398.3.10.1.1.1.2", "1.2.398.3.10.1.1.1.1",
    "1.2.398.3.10.1.1.1.1.1", "1.2.398.3.10.1.3.1.1.0", KZ_GOST_HASH_GOST94_TEST,
    CKK_GOSTR3410, CKM_GOSTR3411, CKM_GOSTR3410_WITH_GOSTR3411, CKM_GOSTR3410,
};

static const cms_case case_individual_attached = {
    "individual_attached.der", 0, "individual_document.txt", 0, "individual_signer.cer", ALG_GOST512,
    "1.2.398.3.10.1.3.3", "1.2.398.3.10.1.1.2.3.2", "1.2.398.3.10.1.1.2.2",
    "1.2.398.3.10.1.1.2.2.1", "1.2.398.3.10.1.3.3", KZ_GOST_HASH_STREEBOG512,
    CKK_GOSTR3410_512, CKM_GOSTR3411_2012_512, CKM_GOSTR3410_WITH_GOSTR3411_2012_512,
    CKM_GOSTR3410_512,
};

static const cms_case case_individual_detached = {
    "individual_detached.der", 0, "individual_document.txt", 1, "individual_signer.cer", ALG_GOST512,
    "1.2.398.3.10.1.3.3", "1.2.398.3.10.1.1.2.3.2", "1.2.398.3.10.1.1.2.2",
    "1.2.398.3.10.1.1.2.2.1", "1.2.398.3.10.1.3.3", KZ_GOST_HASH_STREEBOG512,
    CKK_GOSTR3410_512, CKM_GOSTR3411_2012_512, CKM_GOSTR3410_WITH_GOSTR3411_2012_512,
    CKM_GOSTR3410_512,
};

static const cms_case case_rsa_sign = {
    "RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.cms", 1, NULL, 0, NULL, ALG_RSA,
    "2.16.840.1.101.3.4.2.1", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.1",
    NULL, NULL, KZ_GOST_HASH_NONE, CKK_RSA, CKM_SHA256, CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS,
};

static const cms_case case_rsa_auth = {
    "AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d.cms", 1, NULL, 0, NULL, ALG_RSA,
    "2.16.840.1.101.3.4.2.1", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.1",
    NULL, NULL, KZ_GOST_HASH_NONE, CKK_RSA, CKM_SHA256, CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS,
};

/* ---- Environment -------------------------------------------------------- */

static char tmp_dir[] = "/tmp/kzp11-gost-cms-XXXXXX";
static char container_copy[4200];
static asn1_node defs;
static CK_SESSION_HANDLE session;

static const char *srcdir(void)
{
    const char *s = getenv("KZP11_SRCDIR");
    return s && *s ? s : ".";
}

static void shared_path(char *buf, size_t n, const char *rel)
{
    const char *s = getenv("KZP11_SHARED");

    if (s && *s)
        snprintf(buf, n, "%s/%s", s, rel);
    else
        snprintf(buf, n, "%s/../shared/%s", srcdir(), rel);
}

/* Reads a whole file; a missing fixture fails the test (never skips it). */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (!f)
        fail_msg("fixture missing: %s (set KZP11_SHARED or KZP11_SRCDIR)", path);
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 8192;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    assert_int_equal(ferror(f), 0);
    fclose(f);
    *len = n;
    return buf;
}

static unsigned char *slurp_shared(const char *dir, const char *name, size_t *len)
{
    char rel[512], path[4096];

    snprintf(rel, sizeof(rel), "fixtures/nca/%s/%s", dir, name);
    shared_path(path, sizeof(path), rel);
    return slurp(path, len);
}

static unsigned char *unbase64(const unsigned char *in, size_t len, size_t *out_len)
{
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    unsigned char *out = malloc(len + 4);
    int n1 = 0, n2 = 0;

    assert_non_null(ctx);
    assert_non_null(out);
    EVP_DecodeInit(ctx);
    assert_true(EVP_DecodeUpdate(ctx, out, &n1, in, (int)len) >= 0);
    assert_int_equal(EVP_DecodeFinal(ctx, out + n1, &n2), 1);
    EVP_ENCODE_CTX_free(ctx);
    *out_len = (size_t)(n1 + n2);
    assert_true(*out_len > 0);
    return out;
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    unsigned char *buf = slurp(from, &len);
    FILE *out = fopen(to, "wb");

    assert_non_null(out);
    assert_int_equal(fwrite(buf, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
    free(buf);
}

static int group_setup(void **state)
{
    char src[4096], conf[4200], asn[4200];
    char err[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    FILE *f;
    int rc;

    if (!mkdtemp(tmp_dir))
        return -1;
    /* The ASN.1 module: libtasn1's parser reads definitions from a file. */
    snprintf(asn, sizeof(asn), "%s/kzcms.asn", tmp_dir);
    f = fopen(asn, "w");
    if (!f || fputs(cms_asn1, f) < 0 || fclose(f) != 0)
        return -1;
    rc = asn1_parser2tree(asn, &defs, err);
    unlink(asn);
    if (rc != ASN1_SUCCESS) {
        print_error("ASN.1 module: %s: %s\n", asn1_strerror(rc), err);
        return -1;
    }
    /* A keystore of one RSA container, so that a slot exists; the session
     * objects the test creates need no login. No config file is read. */
    snprintf(src, sizeof(src), "%s/tests/fixtures/nca/rsa-personal/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12",
             srcdir());
    snprintf(container_copy, sizeof(container_copy), "%s/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12",
             tmp_dir);
    copy_file(src, container_copy);
    snprintf(conf, sizeof(conf), "%s/no-such.conf", tmp_dir);
    setenv("KZP11_CONF", conf, 1);
    setenv("KZP11_KEYSTORE", tmp_dir, 1);
    if (C_Initialize(NULL) != CKR_OK)
        return -1;
    if (C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n < 1)
        return -1;
    if (C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &session) != CKR_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    C_CloseSession(session);
    C_Finalize(NULL);
    asn1_delete_structure(&defs);
    unlink(container_copy);
    rmdir(tmp_dir);
    return 0;
}

/* ---- libtasn1 helpers --------------------------------------------------- */

/* Decodes der as type with libtasn1's flags; returns the libtasn1 code and,
 * on success, the element, which used all len bytes. */
static int try_decode(const char *type, const unsigned char *der, size_t len, unsigned flags,
                      asn1_node *out)
{
    char err[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "", name[128];
    asn1_node el = NULL;
    int used = (int)len, rc;

    snprintf(name, sizeof(name), "KZCMS.%s", type);
    assert_int_equal(asn1_create_element(defs, name, &el), ASN1_SUCCESS);
    rc = asn1_der_decoding2(&el, der, &used, flags, err);
    if (rc != ASN1_SUCCESS) {
        asn1_delete_structure(&el);
        return rc;
    }
    assert_int_equal(used, (int)len);
    *out = el;
    return rc;
}

/* Strict DER (no indefinite lengths, no other BER forms): every NCA file
 * here is DER, and the test insists on it. */
static asn1_node decode(const char *type, const unsigned char *der, size_t len)
{
    asn1_node el = NULL;
    int rc = try_decode(type, der, len, ASN1_DECODE_FLAG_STRICT_DER, &el);

    if (rc != ASN1_SUCCESS)
        fail_msg("decoding %s: %s", type, asn1_strerror(rc));
    return el;
}

/* The byte range [*off, *off + *n) of a decoded element inside der. */
static void range(asn1_node el, const unsigned char *der, size_t len, const char *name,
                  size_t *off, size_t *n)
{
    int start = 0, end = 0, rc = asn1_der_decoding_startEnd(el, der, (int)len, name, &start, &end);

    if (rc != ASN1_SUCCESS)
        fail_msg("no %s: %s", name, asn1_strerror(rc));
    assert_true(start >= 0 && end >= start && (size_t)end < len);
    *off = (size_t)start;
    *n = (size_t)(end - start + 1);
}

static void read_oid(asn1_node el, const char *name, char *out, size_t cap)
{
    int len = (int)cap, rc = asn1_read_value(el, name, out, &len);

    if (rc != ASN1_SUCCESS)
        fail_msg("reading %s: %s", name, asn1_strerror(rc));
    assert_true(len > 0 && (size_t)len <= cap);
    out[cap - 1] = '\0';
}

/* A value as libtasn1 returns it (OCTET STRING content, raw DER of an ANY),
 * in a fresh buffer. */
static unsigned char *read_bytes(asn1_node el, const char *name, size_t *n)
{
    int len = 0, rc = asn1_read_value(el, name, NULL, &len);
    unsigned char *buf;

    if (rc != ASN1_MEM_ERROR && rc != ASN1_SUCCESS)
        fail_msg("reading %s: %s", name, asn1_strerror(rc));
    buf = malloc(len > 0 ? (size_t)len : 1);
    assert_non_null(buf);
    assert_int_equal(asn1_read_value(el, name, buf, &len), ASN1_SUCCESS);
    *n = (size_t)len;
    return buf;
}

static int count(asn1_node el, const char *name)
{
    int n = 0;

    assert_int_equal(asn1_number_of_elements(el, name, &n), ASN1_SUCCESS);
    return n;
}

/* ---- The CMS, taken apart ----------------------------------------------- */

typedef struct {
    unsigned char *der;          /* the SignedData file, DER */
    size_t der_len;
    asn1_node ci;
    unsigned char *attrs;        /* signedAttrs re-tagged as SET: the signed bytes */
    size_t attrs_len;
    unsigned char *attrs_implicit;   /* the same bytes as in the file, [0] IMPLICIT */
    unsigned char *sig;          /* SignerInfo.signature, as the NCA writes it */
    size_t sig_len;
    unsigned char *md;           /* the messageDigest attribute */
    size_t md_len;
    size_t md_pos;               /* index in attrs of the messageDigest value's last byte */
    unsigned char *content;      /* what was signed (eContent or the detached file) */
    size_t content_len;
    const unsigned char *cert;   /* the signer's certificate, inside der */
    size_t cert_len;
} cms_parts;

#define SI "content.signerInfos.?1"

static void take_apart(const cms_case *c, cms_parts *p)
{
    char oid[128], name[256];
    size_t off, n, raw_len, iss_off, iss_len, ser_off, ser_len;
    unsigned char *raw = slurp_shared("cms", c->file, &raw_len);
    int nattrs, ncerts, found_md = 0, found_ct = 0;

    memset(p, 0, sizeof(*p));
    if (c->base64) {
        p->der = unbase64(raw, raw_len, &p->der_len);
        free(raw);
    } else {
        p->der = raw;
        p->der_len = raw_len;
    }
    p->ci = decode("ContentInfo", p->der, p->der_len);
    read_oid(p->ci, "contentType", oid, sizeof(oid));
    assert_string_equal(oid, OID_SIGNED_DATA);
    assert_int_equal(count(p->ci, "content.signerInfos"), 1);
    read_oid(p->ci, SI ".digestAlgorithm.algorithm", oid, sizeof(oid));
    assert_string_equal(oid, c->digest_oid);
    read_oid(p->ci, SI ".signatureAlgorithm.algorithm", oid, sizeof(oid));
    assert_string_equal(oid, c->sig_oid);
    read_oid(p->ci, "content.encapContentInfo.eContentType", oid, sizeof(oid));
    assert_string_equal(oid, OID_DATA);

    /* The signed bytes: signedAttrs exactly as they are in the file, with
     * the [0] IMPLICIT tag (A0, constructed context 0) replaced by SET (31). */
    range(p->ci, p->der, p->der_len, SI ".signedAttrs", &off, &n);
    assert_int_equal(p->der[off], 0xa0);
    p->attrs_len = n;
    p->attrs = malloc(n);
    p->attrs_implicit = malloc(n);
    assert_non_null(p->attrs);
    assert_non_null(p->attrs_implicit);
    memcpy(p->attrs_implicit, p->der + off, n);
    memcpy(p->attrs, p->der + off, n);
    p->attrs[0] = 0x31;

    p->sig = read_bytes(p->ci, SI ".signature", &p->sig_len);

    /* Attributes: exactly one messageDigest with one value; contentType is data. */
    nattrs = count(p->ci, SI ".signedAttrs");
    for (int i = 1; i <= nattrs; i++) {
        snprintf(name, sizeof(name), SI ".signedAttrs.?%d.attrType", i);
        read_oid(p->ci, name, oid, sizeof(oid));
        snprintf(name, sizeof(name), SI ".signedAttrs.?%d.attrValues", i);
        if (strcmp(oid, OID_MESSAGE_DIGEST) == 0) {
            unsigned char *any;
            size_t any_len;
            asn1_node md;

            assert_int_equal(count(p->ci, name), 1);
            found_md++;
            strcat(name, ".?1");
            {
                size_t mo, mn;
                range(p->ci, p->der, p->der_len, name, &mo, &mn);
                assert_true(mo > off && mo + mn <= off + p->attrs_len);
                p->md_pos = mo + mn - 1 - off;
            }
            any = read_bytes(p->ci, name, &any_len);
            md = decode("MessageDigest", any, any_len);
            p->md = read_bytes(md, "", &p->md_len);
            assert_true(p->md_len > 0);
            assert_int_equal(p->attrs[p->md_pos], p->md[p->md_len - 1]);
            asn1_delete_structure(&md);
            free(any);
        } else if (strcmp(oid, OID_CONTENT_TYPE) == 0) {
            unsigned char *any;
            size_t any_len;
            asn1_node ct;

            assert_int_equal(count(p->ci, name), 1);
            found_ct++;
            strcat(name, ".?1");
            any = read_bytes(p->ci, name, &any_len);
            ct = decode("ContentType", any, any_len);
            read_oid(ct, "", oid, sizeof(oid));
            assert_string_equal(oid, OID_DATA);
            asn1_delete_structure(&ct);
            free(any);
        }
    }
    assert_int_equal(found_md, 1);
    assert_int_equal(found_ct, 1);

    /* The content. */
    if (c->detached) {
        assert_int_equal(asn1_read_value(p->ci, "content.encapContentInfo.eContent", NULL, &(int){ 0 }),
                         ASN1_ELEMENT_NOT_FOUND);
    } else {
        unsigned char *e = read_bytes(p->ci, "content.encapContentInfo.eContent", &n);
        p->content = e;
        p->content_len = n;
    }
    if (c->content_file) {
        size_t flen;
        unsigned char *f = slurp_shared("cms", c->content_file, &flen);

        if (p->content) {
            assert_int_equal(p->content_len, flen);
            assert_memory_equal(p->content, f, flen);
            free(f);
        } else {
            p->content = f;
            p->content_len = flen;
        }
    } else {
        assert_int_equal(p->content_len, 6);
        assert_memory_equal(p->content, "asdasd", 6);
    }

    /* The signer's certificate: the one whose issuer and serial number are
     * the SignerInfo's sid, compared as DER bytes. */
    assert_int_equal(asn1_read_value(p->ci, SI ".sid", oid, &(int){ sizeof(oid) }), ASN1_SUCCESS);
    assert_string_equal(oid, "issuerAndSerialNumber");
    range(p->ci, p->der, p->der_len, SI ".sid.issuerAndSerialNumber.issuer", &iss_off, &iss_len);
    range(p->ci, p->der, p->der_len, SI ".sid.issuerAndSerialNumber.serialNumber", &ser_off, &ser_len);
    ncerts = count(p->ci, "content.certificates");
    for (int i = 1; i <= ncerts; i++) {
        size_t co, cn, o2, n2, o3, n3;
        asn1_node cert;

        snprintf(name, sizeof(name), "content.certificates.?%d", i);
        range(p->ci, p->der, p->der_len, name, &co, &cn);
        cert = decode("Certificate", p->der + co, cn);
        range(cert, p->der + co, cn, "tbsCertificate.issuer", &o2, &n2);
        range(cert, p->der + co, cn, "tbsCertificate.serialNumber", &o3, &n3);
        if (n2 == iss_len && memcmp(p->der + co + o2, p->der + iss_off, n2) == 0 && n3 == ser_len
            && memcmp(p->der + co + o3, p->der + ser_off, n3) == 0) {
            assert_null(p->cert);
            p->cert = p->der + co;
            p->cert_len = cn;
        }
        asn1_delete_structure(&cert);
    }
    assert_non_null(p->cert);
    if (c->signer_file) {
        size_t l, dl;
        unsigned char *b64 = slurp_shared("cms", c->signer_file, &l);
        unsigned char *der = unbase64(b64, l, &dl);

        assert_int_equal(dl, p->cert_len);
        assert_memory_equal(der, p->cert, dl);
        free(der);
        free(b64);
    }
}

static void parts_free(cms_parts *p)
{
    asn1_delete_structure(&p->ci);
    free(p->der);
    free(p->attrs);
    free(p->attrs_implicit);
    free(p->sig);
    free(p->md);
    free(p->content);
}

/* ---- PKCS#11 helpers ---------------------------------------------------- */

static void p11_digest(CK_MECHANISM_TYPE mech, const unsigned char *param, size_t plen,
                       const unsigned char *in, size_t len, unsigned char *out, size_t *out_len)
{
    CK_MECHANISM m = { mech, (CK_VOID_PTR)param, (CK_ULONG)plen };
    CK_ULONG n = (CK_ULONG)*out_len;

    assert_int_equal(C_DigestInit(session, &m), CKR_OK);
    assert_int_equal(C_Digest(session, (CK_BYTE_PTR)in, (CK_ULONG)len, out, &n), CKR_OK);
    *out_len = n;
}

/* C_VerifyInit must accept the key; returns what C_Verify says. */
static CK_RV p11_verify(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key, const unsigned char *data,
                        size_t dlen, const unsigned char *sig, size_t slen)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    unsigned char *d = malloc(dlen + 1), *s = malloc(slen + 1);
    CK_RV rv;

    assert_non_null(d);
    assert_non_null(s);
    memcpy(d, data, dlen);
    memcpy(s, sig, slen);
    assert_int_equal(C_VerifyInit(session, &m, key), CKR_OK);
    rv = C_Verify(session, d, (CK_ULONG)dlen, s, (CK_ULONG)slen);
    free(d);
    free(s);
    return rv;
}

/* The same in several C_VerifyUpdate pieces. */
static CK_RV p11_verify_parts(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key, const unsigned char *data,
                              size_t dlen, const unsigned char *sig, size_t slen)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    unsigned char *d = malloc(dlen + 1), *s = malloc(slen + 1);
    CK_RV rv;

    assert_non_null(d);
    assert_non_null(s);
    memcpy(d, data, dlen);
    memcpy(s, sig, slen);
    assert_int_equal(C_VerifyInit(session, &m, key), CKR_OK);
    for (size_t i = 0; i < dlen; i += 37)
        assert_int_equal(C_VerifyUpdate(session, d + i, (CK_ULONG)(dlen - i < 37 ? dlen - i : 37)), CKR_OK);
    rv = C_VerifyFinal(session, s, (CK_ULONG)slen);
    free(d);
    free(s);
    return rv;
}

static CK_RV create_gost_public(CK_KEY_TYPE kt, const unsigned char *curve, size_t clen,
                                const unsigned char *hash, size_t hlen, const unsigned char *xy,
                                size_t xylen, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &no, sizeof(no) },
        { CKA_VALUE, (CK_VOID_PTR)xy, (CK_ULONG)xylen },
        { CKA_GOSTR3410_PARAMS, (CK_VOID_PTR)curve, (CK_ULONG)clen },
        { CKA_GOSTR3411_PARAMS, (CK_VOID_PTR)hash, (CK_ULONG)hlen },
    };

    return C_CreateObject(session, t, hash ? 6 : 5, h);
}

/* ---- The GOST signatures ------------------------------------------------ */

static void reverse(unsigned char *b, size_t n)
{
    for (size_t i = 0, j = n; i < j--; i++) {
        unsigned char t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
}

typedef struct {
    const kz_gost_curve *curve;
    unsigned char curve_der[32], hash_der[32];   /* as written in the certificate */
    size_t curve_len, hash_len;
    unsigned char xy[128];                       /* X || Y little-endian */
    size_t xy_len;
    kz_gost_key key;                             /* the module's decoding */
} gost_cert;

static void read_gost_cert(const cms_case *c, const cms_parts *p, gost_cert *g)
{
    char oid[128];
    unsigned char *params, *bits, *os;
    size_t plen, blen, olen, off, n;
    asn1_node cert, prm, pk;
    const unsigned char *rc_der, *rh_der;
    size_t rc_len, rh_len;

    memset(g, 0, sizeof(*g));
    cert = decode("Certificate", p->cert, p->cert_len);
    read_oid(cert, "tbsCertificate.subjectPublicKeyInfo.algorithm.algorithm", oid, sizeof(oid));
    assert_string_equal(oid, c->key_oid);
    params = read_bytes(cert, "tbsCertificate.subjectPublicKeyInfo.algorithm.parameters", &plen);
    prm = decode("GostKeyParameters", params, plen);
    read_oid(prm, "publicKeyParamSet", oid, sizeof(oid));
    assert_string_equal(oid, c->curve_oid);
    read_oid(prm, "digestParamSet", oid, sizeof(oid));
    assert_string_equal(oid, c->hash_param_oid);
    range(prm, params, plen, "publicKeyParamSet", &off, &n);
    assert_true(n <= sizeof(g->curve_der));
    memcpy(g->curve_der, params + off, n);
    g->curve_len = n;
    range(prm, params, plen, "digestParamSet", &off, &n);
    assert_true(n <= sizeof(g->hash_der));
    memcpy(g->hash_der, params + off, n);
    g->hash_len = n;

    /* The key: a BIT STRING holding an OCTET STRING of X || Y. */
    {
        int bitlen = 0;
        assert_int_equal(asn1_read_value(cert, "tbsCertificate.subjectPublicKeyInfo.subjectPublicKey", NULL, &bitlen),
                         ASN1_MEM_ERROR);
        assert_int_equal(bitlen % 8, 0);
        bits = malloc((size_t)bitlen / 8);
        assert_non_null(bits);
        assert_int_equal(asn1_read_value(cert, "tbsCertificate.subjectPublicKeyInfo.subjectPublicKey", bits, &bitlen),
                         ASN1_SUCCESS);
        blen = (size_t)bitlen / 8;
    }
    pk = decode("GostPublicKey", bits, blen);
    os = read_bytes(pk, "", &olen);
    assert_true(olen <= sizeof(g->xy));
    memcpy(g->xy, os, olen);
    g->xy_len = olen;

    /* The module's own decoding of the certificate must agree. */
    assert_int_equal(kz_gost_key_from_cert(p->cert, p->cert_len, &g->key), 0);
    g->curve = g->key.curve;
    assert_non_null(g->curve);
    assert_true(g->key.kazakh);
    assert_int_equal(g->key.hash, c->hash);
    assert_int_equal(g->key.has_pub, 1);
    assert_int_equal(g->key.pub_len, g->xy_len);
    assert_memory_equal(g->key.pub, g->xy, g->xy_len);
    assert_int_equal(g->xy_len, kz_gost3410_pub_len(g->curve));
    assert_non_null(g->curve->kz_oid_der);
    assert_int_equal(g->curve->kz_oid_der_len, g->curve_len);
    assert_memory_equal(g->curve->kz_oid_der, g->curve_der, g->curve_len);
    assert_ptr_equal(kz_gost_curve_by_oid_der(g->curve_der, g->curve_len), g->curve);
    assert_int_equal(kz_gost_hash_by_oid_der(g->hash_der, g->hash_len), c->hash);
    /* The Russian names of the same parameters exist too. */
    assert_int_equal(kz_gost_key_param_oids(&g->key, &rc_der, &rc_len, &rh_der, &rh_len), 0);
    assert_int_equal(rc_len, g->curve->oid_der_len);
    assert_memory_equal(rc_der, g->curve->oid_der, rc_len);

    asn1_delete_structure(&pk);
    asn1_delete_structure(&prm);
    asn1_delete_structure(&cert);
    free(os);
    free(bits);
    free(params);
}

/* messageDigest = the content's hash, through C_Digest. */
static void check_content_digest(const cms_case *c, const cms_parts *p, const gost_cert *g)
{
    unsigned char d[64];
    size_t dlen = sizeof(d);

    if (c->alg == ALG_GOST94) {
        /* CKM_GOSTR3411 with the test parameter set, named by its Russian
         * OID and by the certificate's Kazakh digestParamSet: the same hash. */
        p11_digest(CKM_GOSTR3411, oid_gost94_test, sizeof(oid_gost94_test), p->content, p->content_len, d, &dlen);
        assert_int_equal(dlen, 32);
        assert_int_equal(p->md_len, 32);
        assert_memory_equal(d, p->md, 32);
        dlen = sizeof(d);
        p11_digest(CKM_GOSTR3411, g->hash_der, g->hash_len, p->content, p->content_len, d, &dlen);
        assert_int_equal(dlen, 32);
        assert_memory_equal(d, p->md, 32);
        /* The CryptoPro S-boxes (CKM_GOSTR3411 without a parameter) give
         * another value: the test set is what the NCA uses. */
        dlen = sizeof(d);
        p11_digest(CKM_GOSTR3411, NULL, 0, p->content, p->content_len, d, &dlen);
        assert_int_equal(dlen, 32);
        assert_memory_not_equal(d, p->md, 32);
    } else {
        p11_digest(c->digest_mech, NULL, 0, p->content, p->content_len, d, &dlen);
        assert_int_equal(dlen, p->md_len);
        assert_memory_equal(d, p->md, dlen);
    }
    /* The attribute holds the hash as the function emits it, not reversed. */
    memcpy(d, p->md, p->md_len);
    reverse(d, p->md_len);
    assert_memory_not_equal(d, p->md, p->md_len);
}

static void digest_attrs(const cms_case *c, const cms_parts *p, unsigned char *d, size_t *dlen)
{
    *dlen = 64;
    if (c->alg == ALG_GOST94)
        p11_digest(CKM_GOSTR3411, oid_gost94_test, sizeof(oid_gost94_test), p->attrs, p->attrs_len, d, dlen);
    else
        p11_digest(c->digest_mech, NULL, 0, p->attrs, p->attrs_len, d, dlen);
}

static void run_gost(const cms_case *c)
{
    cms_parts p;
    gost_cert g;
    CK_OBJECT_HANDLE key;
    unsigned char sig[KZ_GOST3410_MAX_SIG_LEN], alt[KZ_GOST3410_MAX_SIG_LEN], d[64];
    unsigned char *attrs;
    size_t n, half, dlen;

    take_apart(c, &p);
    read_gost_cert(c, &p, &g);
    check_content_digest(c, &p, &g);

    n = p.sig_len;
    half = n / 2;
    assert_int_equal(n, kz_gost3410_sig_len(g.curve));

    /* NCA layout (r || s, each little-endian) -> PKCS#11 (s || r, each
     * big-endian): the whole buffer reversed. */
    memcpy(sig, p.sig, n);
    reverse(sig, n);
    kz_gost3410_sig_from_nca(p.sig, n, alt);
    assert_memory_equal(alt, sig, n);

    assert_int_equal(create_gost_public(c->key_type, g.curve_der, g.curve_len, g.hash_der, g.hash_len, g.xy,
                                        g.xy_len, &key),
                     CKR_OK);
    {
        /* What the object reports back. */
        CK_KEY_TYPE kt = 0;
        unsigned char value[128], cpar[32], hpar[32];
        CK_ATTRIBUTE t[] = {
            { CKA_KEY_TYPE, &kt, sizeof(kt) },
            { CKA_VALUE, value, sizeof(value) },
            { CKA_GOSTR3410_PARAMS, cpar, sizeof(cpar) },
            { CKA_GOSTR3411_PARAMS, hpar, sizeof(hpar) },
        };
        assert_int_equal(C_GetAttributeValue(session, key, t, 4), CKR_OK);
        assert_int_equal(kt, c->key_type);
        assert_int_equal(t[1].ulValueLen, g.xy_len);
        assert_memory_equal(value, g.xy, g.xy_len);
        assert_ptr_equal(kz_gost_curve_by_oid_der(cpar, t[2].ulValueLen), g.curve);
        assert_int_equal(kz_gost_hash_by_oid_der(hpar, t[3].ulValueLen), c->hash);
    }

    /* Hash-and-sign over the re-tagged signedAttrs. */
    assert_int_equal(p11_verify(c->sign_mech, key, p.attrs, p.attrs_len, sig, n), CKR_OK);
    assert_int_equal(p11_verify_parts(c->sign_mech, key, p.attrs, p.attrs_len, sig, n), CKR_OK);

    /* The NCA's bytes as they stand are not the PKCS#11 layout. */
    assert_int_equal(p11_verify(c->sign_mech, key, p.attrs, p.attrs_len, p.sig, n), CKR_SIGNATURE_INVALID);
    /* Nor is r || s big-endian (converted, halves swapped)... */
    memcpy(alt, sig + half, half);
    memcpy(alt + half, sig, half);
    assert_int_equal(p11_verify(c->sign_mech, key, p.attrs, p.attrs_len, alt, n), CKR_SIGNATURE_INVALID);
    /* ...nor s || r little-endian (NCA bytes, halves swapped). */
    memcpy(alt, p.sig + half, half);
    memcpy(alt + half, p.sig, half);
    assert_int_equal(p11_verify(c->sign_mech, key, p.attrs, p.attrs_len, alt, n), CKR_SIGNATURE_INVALID);

    /* The [0] IMPLICIT bytes as they are in the file are not what was signed. */
    assert_int_equal(p11_verify(c->sign_mech, key, p.attrs_implicit, p.attrs_len, sig, n), CKR_SIGNATURE_INVALID);
    /* A flipped bit in the attributes breaks it: in the messageDigest value,
     * and in the middle of the set. */
    attrs = malloc(p.attrs_len);
    assert_non_null(attrs);
    memcpy(attrs, p.attrs, p.attrs_len);
    attrs[p.md_pos] ^= 0x01;
    assert_int_equal(p11_verify(c->sign_mech, key, attrs, p.attrs_len, sig, n), CKR_SIGNATURE_INVALID);
    memcpy(attrs, p.attrs, p.attrs_len);
    attrs[p.attrs_len / 2] ^= 0x80;
    assert_int_equal(p11_verify(c->sign_mech, key, attrs, p.attrs_len, sig, n), CKR_SIGNATURE_INVALID);
    free(attrs);
    /* A flipped bit in the signature too. */
    memcpy(alt, sig, n);
    alt[n - 1] ^= 0x01;
    assert_int_equal(p11_verify(c->sign_mech, key, p.attrs, p.attrs_len, alt, n), CKR_SIGNATURE_INVALID);

    /* Raw mechanism over C_Digest of the attributes: the hash bytes go to
     * the maths unchanged; reversed, they do not verify. */
    digest_attrs(c, &p, d, &dlen);
    assert_int_equal(dlen, kz_gost3410_digest_len(g.curve));
    assert_int_equal(p11_verify(c->raw_mech, key, d, dlen, sig, n), CKR_OK);
    assert_int_equal(p11_verify(c->raw_mech, key, d, dlen, p.sig, n), CKR_SIGNATURE_INVALID);
    /* The library call agrees with the PKCS#11 path. */
    assert_int_equal(kz_gost3410_verify(g.curve, g.xy, g.xy_len, d, dlen, sig, n), 1);
    reverse(d, dlen);
    assert_int_equal(p11_verify(c->raw_mech, key, d, dlen, sig, n), CKR_SIGNATURE_INVALID);
    assert_int_equal(C_DestroyObject(session, key), CKR_OK);

    /* The same key named with the Russian OIDs (TC26 / CryptoPro curve,
     * Russian hash OID) verifies the same signature. */
    {
        const unsigned char *rc_der, *rh_der;
        size_t rc_len, rh_len;

        assert_int_equal(kz_gost_key_param_oids(&g.key, &rc_der, &rc_len, &rh_der, &rh_len), 0);
        assert_int_equal(create_gost_public(c->key_type, rc_der, rc_len, rh_der, rh_len, g.xy, g.xy_len, &key),
                         CKR_OK);
        assert_int_equal(p11_verify(c->sign_mech, key, p.attrs, p.attrs_len, sig, n), CKR_OK);
        assert_int_equal(C_DestroyObject(session, key), CKR_OK);
    }

    kz_gost_key_clear(&g.key);
    parts_free(&p);
}

static void test_gostknca(void **state)
{
    run_gost(&case_gostknca);
}

static void test_individual_attached(void **state)
{
    run_gost(&case_individual_attached);
}

static void test_individual_detached(void **state)
{
    run_gost(&case_individual_detached);
}

/* Attached and detached are the same signature over the same attributes;
 * only the eContent differs. */
static void test_individual_same_signature(void **state)
{
    cms_parts a, b;

    take_apart(&case_individual_attached, &a);
    take_apart(&case_individual_detached, &b);
    assert_int_equal(a.attrs_len, b.attrs_len);
    assert_memory_equal(a.attrs, b.attrs, a.attrs_len);
    assert_int_equal(a.sig_len, b.sig_len);
    assert_memory_equal(a.sig, b.sig, a.sig_len);
    assert_int_equal(a.cert_len, b.cert_len);
    assert_memory_equal(a.cert, b.cert, a.cert_len);
    parts_free(&a);
    parts_free(&b);
}

/* A GOST 34.310-2004 key created without CKA_GOSTR3411_PARAMS: the hash
 * CKM_GOSTR3410_WITH_GOSTR3411 uses must be the one the object reports in
 * CKA_GOSTR3411_PARAMS, whichever default the module picks. (Only the test
 * set verifies the NCA's signature; see the report on the module default.) */
static void test_gostknca_no_hash_param(void **state)
{
    const cms_case *c = &case_gostknca;
    cms_parts p;
    gost_cert g;
    CK_OBJECT_HANDLE key;
    unsigned char sig[64], hpar[32];
    CK_ATTRIBUTE t = { CKA_GOSTR3411_PARAMS, hpar, sizeof(hpar) };
    kz_gost_hash reported;
    CK_RV rv;

    take_apart(c, &p);
    read_gost_cert(c, &p, &g);
    assert_int_equal(p.sig_len, 64);
    kz_gost3410_sig_from_nca(p.sig, 64, sig);
    assert_int_equal(create_gost_public(c->key_type, g.curve_der, g.curve_len, NULL, 0, g.xy, g.xy_len, &key),
                     CKR_OK);
    assert_int_equal(C_GetAttributeValue(session, key, &t, 1), CKR_OK);
    reported = kz_gost_hash_by_oid_der(hpar, t.ulValueLen);
    assert_int_not_equal(reported, KZ_GOST_HASH_NONE);
    rv = p11_verify(c->sign_mech, key, p.attrs, p.attrs_len, sig, 64);
    print_message("GOST 34.310-2004 curve OID without CKA_GOSTR3411_PARAMS: module defaults to %s; "
                  "NCA signature %s\n",
                  reported == KZ_GOST_HASH_GOST94_TEST ? "GOST R 34.11-94 test set" :
                  reported == KZ_GOST_HASH_GOST94_CRYPTOPRO ? "GOST R 34.11-94 CryptoPro set" : "another hash",
                  rv == CKR_OK ? "verifies" : "does not verify");
    assert_int_equal(rv, reported == KZ_GOST_HASH_GOST94_TEST ? CKR_OK : CKR_SIGNATURE_INVALID);
    assert_int_equal(C_DestroyObject(session, key), CKR_OK);
    kz_gost_key_clear(&g.key);
    parts_free(&p);
}

/* The files are DER, but other NCA files (the PKCS#12 containers) are BER
 * with indefinite lengths. Taking the signed bytes by position works on
 * that form too: the same CMS with its outer SEQUENCE re-wrapped with an
 * indefinite length is refused by the strict decoder, read by the BER one,
 * and yields the same signedAttrs bytes. */
static void test_ber_indefinite_form(void **state)
{
    cms_parts p;
    asn1_node ci = NULL;
    size_t hdr, n, off, alen;
    unsigned char *ber;

    take_apart(&case_gostknca, &p);
    range(p.ci, p.der, p.der_len, "contentType", &hdr, &n);   /* hdr = outer header size */
    ber = malloc(p.der_len - hdr + 4);
    assert_non_null(ber);
    ber[0] = 0x30;          /* SEQUENCE, */
    ber[1] = 0x80;          /* indefinite length */
    memcpy(ber + 2, p.der + hdr, p.der_len - hdr);
    ber[p.der_len - hdr + 2] = 0x00;    /* end-of-contents */
    ber[p.der_len - hdr + 3] = 0x00;
    n = p.der_len - hdr + 4;
    assert_int_not_equal(try_decode("ContentInfo", ber, n, ASN1_DECODE_FLAG_STRICT_DER, &ci), ASN1_SUCCESS);
    assert_int_equal(try_decode("ContentInfo", ber, n, 0, &ci), ASN1_SUCCESS);
    range(ci, ber, n, SI ".signedAttrs", &off, &alen);
    assert_int_equal(alen, p.attrs_len);
    assert_memory_equal(ber + off, p.attrs_implicit, alen);
    asn1_delete_structure(&ci);
    free(ber);
    parts_free(&p);
}

/* ---- The RSA control ---------------------------------------------------- */

static void run_rsa(const cms_case *c)
{
    cms_parts p;
    const unsigned char *q;
    X509 *x;
    EVP_PKEY *pk;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    unsigned char mod[1024], ex[16], d[64], di[sizeof(sha256_digestinfo) + 32], *attrs;
    int mlen, elen;
    size_t dlen = sizeof(d);
    char oid[128];
    asn1_node cert;
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_BBOOL no = CK_FALSE;
    CK_OBJECT_HANDLE key;

    take_apart(c, &p);
    cert = decode("Certificate", p.cert, p.cert_len);
    read_oid(cert, "tbsCertificate.subjectPublicKeyInfo.algorithm.algorithm", oid, sizeof(oid));
    assert_string_equal(oid, c->key_oid);
    asn1_delete_structure(&cert);

    q = p.cert;
    x = d2i_X509(NULL, &q, (long)p.cert_len);
    assert_non_null(x);
    assert_ptr_equal(q, p.cert + p.cert_len);
    pk = X509_get0_pubkey(x);
    assert_non_null(pk);
    assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &bn_n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &bn_e), 1);
    mlen = BN_bn2bin(bn_n, mod);
    elen = BN_bn2bin(bn_e, ex);
    assert_true(mlen > 0 && elen > 0);
    BN_free(bn_n);
    BN_free(bn_e);
    X509_free(x);
    assert_int_equal(p.sig_len, (size_t)mlen);

    p11_digest(c->digest_mech, NULL, 0, p.content, p.content_len, d, &dlen);
    assert_int_equal(dlen, 32);
    assert_int_equal(p.md_len, 32);
    assert_memory_equal(d, p.md, 32);

    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &cls, sizeof(cls) },
            { CKA_KEY_TYPE, &kt, sizeof(kt) },
            { CKA_TOKEN, &no, sizeof(no) },
            { CKA_MODULUS, mod, (CK_ULONG)mlen },
            { CKA_PUBLIC_EXPONENT, ex, (CK_ULONG)elen },
        };
        assert_int_equal(C_CreateObject(session, t, 5, &key), CKR_OK);
    }
    assert_int_equal(p11_verify(c->sign_mech, key, p.attrs, p.attrs_len, p.sig, p.sig_len), CKR_OK);
    assert_int_equal(p11_verify_parts(c->sign_mech, key, p.attrs, p.attrs_len, p.sig, p.sig_len), CKR_OK);
    assert_int_equal(p11_verify(c->sign_mech, key, p.attrs_implicit, p.attrs_len, p.sig, p.sig_len),
                     CKR_SIGNATURE_INVALID);
    attrs = malloc(p.attrs_len);
    assert_non_null(attrs);
    memcpy(attrs, p.attrs, p.attrs_len);
    attrs[p.md_pos] ^= 0x01;
    assert_int_equal(p11_verify(c->sign_mech, key, attrs, p.attrs_len, p.sig, p.sig_len), CKR_SIGNATURE_INVALID);
    free(attrs);

    /* Raw PKCS#1 v1.5 over DigestInfo(SHA-256 of the attributes). */
    dlen = sizeof(d);
    p11_digest(c->digest_mech, NULL, 0, p.attrs, p.attrs_len, d, &dlen);
    assert_int_equal(dlen, 32);
    memcpy(di, sha256_digestinfo, sizeof(sha256_digestinfo));
    memcpy(di + sizeof(sha256_digestinfo), d, 32);
    assert_int_equal(p11_verify(c->raw_mech, key, di, sizeof(di), p.sig, p.sig_len), CKR_OK);
    di[sizeof(di) - 1] ^= 0x01;
    assert_int_equal(p11_verify(c->raw_mech, key, di, sizeof(di), p.sig, p.sig_len), CKR_SIGNATURE_INVALID);

    assert_int_equal(C_DestroyObject(session, key), CKR_OK);
    parts_free(&p);
}

static void test_rsa_sign(void **state)
{
    run_rsa(&case_rsa_sign);
}

static void test_rsa_auth(void **state)
{
    run_rsa(&case_rsa_auth);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gostknca),
        cmocka_unit_test(test_gostknca_no_hash_param),
        cmocka_unit_test(test_individual_attached),
        cmocka_unit_test(test_individual_detached),
        cmocka_unit_test(test_individual_same_signature),
        cmocka_unit_test(test_ber_indefinite_form),
        cmocka_unit_test(test_rsa_sign),
        cmocka_unit_test(test_rsa_auth),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
