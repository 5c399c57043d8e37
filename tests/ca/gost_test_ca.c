/* A GOST 2015 test CA with the NCA's certificate profile, for the
 * whole-flow integration test (tests/integration/lifecycle.sh).
 *
 *   gost_test_ca issue --req REQ [--role ROLE] [--days N] [--out FILE] [--pem]
 *       verifies the PKCS#10 request's signature (Kazakh OIDs, NCA byte
 *       order) and issues a certificate like the NCA's GOST512 ones
 *   gost_test_ca verify-req REQ
 *   gost_test_ca verify CERT [--issuer CACERT]
 *       checks a signature (default issuer: this CA)
 *   gost_test_ca ca-cert [--out FILE] [--pem]
 *       the CA's self-signed certificate
 *
 * ROLE is individual (default), head, signing-right or staff. Input files
 * may be DER or PEM. Exit status 0 ok, 1 bad signature or input, 2 usage.
 *
 * The maths is kzp11's own (gost3410.h, streebog.h), the same code the
 * module signs with; what makes the test independent of it is the other
 * side of each check: OpenSSL's gost engine verifies what the token signs,
 * and this program's verify mode is checked against a real NCA
 * certificate and its real issuer.
 *
 * OpenSSL cannot sign or even set the signature of an X509 whose algorithm
 * it does not know, so the certificate is assembled from two small ASN.1
 * templates (TBSCertificate and the signed envelope) over OpenSSL's own
 * types; no DER is written by hand. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gost3410.h"
#include "gost_curves.h"
#include "gost_keys.h"
#include "streebog.h"

#define SIG_ALG_512 "1.2.398.3.10.1.1.2.3.2"
#define SIG_ALG_256 "1.2.398.3.10.1.1.2.3.1"
#define ROLE_INDIVIDUAL "1.2.398.3.3.4.1.1"
#define ROLE_LEGAL "1.2.398.3.3.4.1.2"
/* "Keystore type" extension of the NCA's GOST certificates, copied with
 * the value the fixtures carry. */
#define EXT_KEYSTORE "1.2.398.3.3.5"
#define KEYSTORE_VALUE "1.2.398.3.3.5.1.1"
#define CA_NAME_CN "kzp11 test CA (GOST 2015)"

enum { EXIT_BAD = 1, EXIT_USAGE = 2 };

/* ---- ASN.1 templates --------------------------------------------------- */

typedef struct {
    ASN1_INTEGER *version;
    ASN1_INTEGER *serial;
    X509_ALGOR *sig_alg;
    X509_NAME *issuer;
    X509_VAL *validity;
    X509_NAME *subject;
    X509_PUBKEY *spki;
    STACK_OF(X509_EXTENSION) *exts;
} KZ_TBS;

ASN1_SEQUENCE(KZ_TBS) = {
    ASN1_EXP_OPT(KZ_TBS, version, ASN1_INTEGER, 0),
    ASN1_SIMPLE(KZ_TBS, serial, ASN1_INTEGER),
    ASN1_SIMPLE(KZ_TBS, sig_alg, X509_ALGOR),
    ASN1_SIMPLE(KZ_TBS, issuer, X509_NAME),
    ASN1_SIMPLE(KZ_TBS, validity, X509_VAL),
    ASN1_SIMPLE(KZ_TBS, subject, X509_NAME),
    ASN1_SIMPLE(KZ_TBS, spki, X509_PUBKEY),
    ASN1_EXP_SEQUENCE_OF_OPT(KZ_TBS, exts, X509_EXTENSION, 3),
} static_ASN1_SEQUENCE_END(KZ_TBS)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(KZ_TBS)

/* Certificate, CertificationRequest and CertificateList share this shape;
 * ANY keeps the signed part's bytes exactly as they came. */
typedef struct {
    ASN1_TYPE *tbs;
    X509_ALGOR *alg;
    ASN1_BIT_STRING *sig;
} KZ_SIGNED;

ASN1_SEQUENCE(KZ_SIGNED) = {
    ASN1_SIMPLE(KZ_SIGNED, tbs, ASN1_ANY),
    ASN1_SIMPLE(KZ_SIGNED, alg, X509_ALGOR),
    ASN1_SIMPLE(KZ_SIGNED, sig, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(KZ_SIGNED)

IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(KZ_SIGNED)
IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(KZ_SIGNED)

/* ---- small helpers ----------------------------------------------------- */

static void die(const char *what) __attribute__((noreturn));

static void die(const char *what)
{
    fprintf(stderr, "gost_test_ca: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(EXIT_BAD);
}

/* DER, or PEM of any label, from a file. */
static unsigned char *read_der(const char *path, long *len)
{
    BIO *b = BIO_new_file(path, "rb");
    unsigned char *buf = NULL, *data = NULL;
    char *name = NULL, *header = NULL;
    long n = 0;
    int c;

    if (!b)
        die("cannot open an input file");
    if (PEM_read_bio(b, &name, &header, &data, &n)) {
        OPENSSL_free(name);
        OPENSSL_free(header);
        BIO_free(b);
        *len = n;
        return data;
    }
    ERR_clear_error();
    BIO_free(b);
    {
        FILE *f = fopen(path, "rb");
        size_t cap = 0;

        if (!f)
            die("cannot open an input file");
        n = 0;
        while ((c = fgetc(f)) != EOF) {
            if ((size_t)n == cap) {
                cap = cap ? 2 * cap : 4096;
                buf = OPENSSL_realloc(buf, cap);
                if (!buf)
                    die("out of memory");
            }
            buf[n++] = (unsigned char)c;
        }
        fclose(f);
    }
    *len = n;
    return buf;
}

static void write_out(const char *path, const unsigned char *der, long len, int pem,
                      const char *label)
{
    BIO *b = path ? BIO_new_file(path, "wb") : BIO_new_fp(stdout, BIO_NOCLOSE);
    int ok;

    if (!b)
        die("cannot open the output file");
    ok = pem ? PEM_write_bio(b, label, "", der, len) > 0 : BIO_write(b, der, (int)len) == (int)len;
    if (!ok || BIO_free(b) != 1)
        die("cannot write the output");
}

static ASN1_OBJECT *obj(const char *dotted)
{
    ASN1_OBJECT *o = OBJ_txt2obj(dotted, 1);

    if (!o)
        die("bad OID");
    return o;
}

static void sha1(const unsigned char *in, size_t len, unsigned char out[20])
{
    unsigned int n = 20;

    if (!EVP_Digest(in, len, out, &n, EVP_sha1(), NULL))
        die("SHA-1 failed");
}

/* The key identifier the NCA's 2022 GOST CA uses: SHA-1 of the
 * subjectPublicKey BIT STRING's content. */
static void key_id(const X509_PUBKEY *xpk, unsigned char out[20])
{
    const unsigned char *pk;
    int pklen;

    if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk))
        die("no public key");
    sha1(pk, (size_t)pklen, out);
}

/* ---- the CA's key ------------------------------------------------------ */

typedef struct {
    const kz_gost_curve *curve;
    unsigned char priv[64], pub[128];
} ca_key;

/* A fixed scalar, so that every run (issue, verify) is the same CA without
 * any key file: Streebog-512 of a fixed text, reduced mod q. */
static void ca_key_load(ca_key *k)
{
    static const char seed[] = "kzp11 test CA, TC26-512-A, never a real key";
    unsigned char h[64];

    k->curve = kz_gost_curve_by_name("TC26-512-A");
    kz_streebog(512, (const unsigned char *)seed, strlen(seed), h);
    if (!k->curve || !kz_gost3410_priv_normalize(k->curve, h, sizeof(h), 0, k->priv) ||
        !kz_gost3410_pub_from_priv(k->curve, k->priv, 64, k->pub))
        die("cannot derive the CA key");
}

static X509_PUBKEY *ca_spki(const ca_key *k)
{
    kz_gost_key gk;
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t len = 0;
    X509_PUBKEY *xpk;

    memset(&gk, 0, sizeof(gk));
    gk.curve = k->curve;
    gk.hash = KZ_GOST_HASH_STREEBOG512;
    gk.has_pub = 1;
    memcpy(gk.pub, k->pub, 128);
    gk.pub_len = 128;
    if (kz_gost_key_to_spki(&gk, 1, &der, &len) != 0)
        die("cannot encode the CA's public key");
    p = der;
    xpk = d2i_X509_PUBKEY(NULL, &p, (long)len);
    OPENSSL_free(der);
    if (!xpk)
        die("cannot decode the CA's public key");
    return xpk;
}

static X509_NAME *ca_name(void)
{
    X509_NAME *n = X509_NAME_new();

    if (!n || !X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
                                          (const unsigned char *)CA_NAME_CN, -1, -1, 0) ||
        !X509_NAME_add_entry_by_NID(n, NID_countryName, MBSTRING_UTF8,
                                    (const unsigned char *)"KZ", -1, -1, 0))
        die("cannot build the CA name");
    return n;
}

/* ---- signatures -------------------------------------------------------- */

/* Verifies an NCA-layout signature over tbs with a GOST public key. */
static int verify_nca(const kz_gost_key *key, const X509_ALGOR *alg, const unsigned char *tbs,
                      size_t tbs_len, const ASN1_BIT_STRING *sig)
{
    const ASN1_OBJECT *aobj;
    unsigned char digest[64], s[KZ_GOST3410_MAX_SIG_LEN];
    char oid[80];
    size_t n = kz_gost3410_sig_len(key->curve);
    unsigned bits;

    X509_ALGOR_get0(&aobj, NULL, NULL, alg);
    OBJ_obj2txt(oid, sizeof(oid), aobj, 1);
    bits = key->curve->field_len == 64 ? 512 : 256;
    if (strcmp(oid, bits == 512 ? SIG_ALG_512 : SIG_ALG_256) != 0) {
        fprintf(stderr, "gost_test_ca: signature algorithm %s does not fit a %u-bit GOST 2015 key\n",
                oid, bits);
        return 0;
    }
    if ((size_t)sig->length != n || (sig->flags & 0x07)) {
        fprintf(stderr, "gost_test_ca: signature is %d bytes, expected %zu\n", sig->length, n);
        return 0;
    }
    kz_streebog(bits, tbs, tbs_len, digest);
    kz_gost3410_sig_from_nca(sig->data, n, s);
    return kz_gost3410_verify(key->curve, key->pub, key->pub_len, digest, bits / 8, s, n);
}

static KZ_SIGNED *parse_signed(const unsigned char *der, long len)
{
    const unsigned char *p = der;
    KZ_SIGNED *s = d2i_KZ_SIGNED(NULL, &p, len);

    if (!s || p != der + len || s->tbs->type != V_ASN1_SEQUENCE)
        die("input is not a signed ASN.1 structure (certificate or request)");
    return s;
}

/* The request's key, after checking its self-signature. */
static X509_REQ *checked_request(const char *path, kz_gost_key *key)
{
    const unsigned char *p;
    unsigned char *der, *spki = NULL;
    long len;
    int spki_len;
    KZ_SIGNED *s;
    X509_REQ *req;

    der = read_der(path, &len);
    p = der;
    req = d2i_X509_REQ(NULL, &p, len);
    if (!req || p != der + len)
        die("not a PKCS#10 request");
    spki_len = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &spki);
    if (spki_len <= 0 || kz_gost_key_from_spki(spki, (size_t)spki_len, key) != 0)
        die("the request's key is not a GOST key");
    OPENSSL_free(spki);
    if (!key->kazakh || (key->curve->field_len != 64 && key->curve->field_len != 32))
        die("the request's key does not carry the NCA's GOST 2015 OIDs");
    s = parse_signed(der, len);
    if (!verify_nca(key, s->alg, s->tbs->value.sequence->data,
                    (size_t)s->tbs->value.sequence->length, s->sig))
        die("the request's signature does not verify");
    KZ_SIGNED_free(s);
    OPENSSL_free(der);
    return req;
}

/* tbs → DER certificate signed by the CA (NCA byte order). */
static unsigned char *sign_tbs(KZ_TBS *tbs, const ca_key *ca, long *out_len)
{
    KZ_SIGNED *s = KZ_SIGNED_new();
    unsigned char *tder = NULL, *cder = NULL, digest[64], sig[128], nca[128];
    ASN1_STRING *seq = ASN1_STRING_new();
    int tlen, clen;

    tlen = ASN1_item_i2d((ASN1_VALUE *)tbs, &tder, ASN1_ITEM_rptr(KZ_TBS));
    if (!s || !seq || tlen <= 0)
        die("cannot encode the TBSCertificate");
    kz_streebog(512, tder, (size_t)tlen, digest);
    if (!kz_gost3410_sign(ca->curve, ca->priv, 64, digest, 64, sig))
        die("signing failed");
    kz_gost3410_sig_to_nca(sig, sizeof(sig), nca);

    ASN1_STRING_set0(seq, tder, tlen);
    ASN1_TYPE_set(s->tbs, V_ASN1_SEQUENCE, seq);
    if (!X509_ALGOR_set0(s->alg, obj(SIG_ALG_512), V_ASN1_NULL, NULL) ||
        !ASN1_BIT_STRING_set(s->sig, nca, sizeof(nca)))
        die("out of memory");
    /* A signature has no unused bits, whatever its last byte looks like. */
    s->sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    s->sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    clen = i2d_KZ_SIGNED(s, &cder);
    if (clen <= 0)
        die("cannot encode the certificate");
    KZ_SIGNED_free(s);
    *out_len = clen;
    return cder;
}

/* ---- certificate contents ---------------------------------------------- */

static void add_ext(KZ_TBS *t, int nid, int critical, void *value)
{
    X509_EXTENSION *e = X509V3_EXT_i2d(nid, critical, value);

    if (!e || (!t->exts && !(t->exts = sk_X509_EXTENSION_new_null())) ||
        !sk_X509_EXTENSION_push(t->exts, e))
        die("cannot add an extension");
}

static void add_key_usage(KZ_TBS *t, const int *bits, size_t n)
{
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    size_t i;

    for (i = 0; i < n; i++)
        if (!ku || !ASN1_BIT_STRING_set_bit(ku, bits[i], 1))
            die("out of memory");
    add_ext(t, NID_key_usage, 1, ku);
    ASN1_BIT_STRING_free(ku);
}

static void add_key_ids(KZ_TBS *t, const X509_PUBKEY *ca_pub, int with_aki)
{
    unsigned char id[20];
    ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();

    key_id(t->spki, id);
    if (!ski || !ASN1_OCTET_STRING_set(ski, id, 20))
        die("out of memory");
    add_ext(t, NID_subject_key_identifier, 0, ski);
    ASN1_OCTET_STRING_free(ski);
    if (with_aki) {
        AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();

        key_id(ca_pub, id);
        if (!akid || !(akid->keyid = ASN1_OCTET_STRING_new()) ||
            !ASN1_OCTET_STRING_set(akid->keyid, id, 20))
            die("out of memory");
        add_ext(t, NID_authority_key_identifier, 0, akid);
        AUTHORITY_KEYID_free(akid);
    }
}

static void add_eku(KZ_TBS *t, const char *role)
{
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    char sub[64];

    if (!eku)
        die("out of memory");
    sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_email_protect));
    if (strcmp(role, "individual") == 0) {
        sk_ASN1_OBJECT_push(eku, obj(ROLE_INDIVIDUAL));
    } else {
        const char *n_sub = strcmp(role, "head") == 0 ? "1"
                          : strcmp(role, "signing-right") == 0 ? "2"
                          : strcmp(role, "staff") == 0 ? "5" : NULL;

        if (!n_sub) {
            fprintf(stderr, "gost_test_ca: unknown role '%s'\n", role);
            exit(EXIT_USAGE);
        }
        snprintf(sub, sizeof(sub), "%s.%s", ROLE_LEGAL, n_sub);
        sk_ASN1_OBJECT_push(eku, obj(ROLE_LEGAL));
        sk_ASN1_OBJECT_push(eku, obj(sub));
    }
    add_ext(t, NID_ext_key_usage, 0, eku);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
}

static void add_keystore_type(KZ_TBS *t)
{
    STACK_OF(ASN1_OBJECT) *ks = sk_ASN1_OBJECT_new_null();
    ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *ext_obj = obj(EXT_KEYSTORE);
    unsigned char *der = NULL;
    X509_EXTENSION *e;
    int n;

    if (!ks || !val || !sk_ASN1_OBJECT_push(ks, obj(KEYSTORE_VALUE)))
        die("out of memory");
    /* Its value is a SEQUENCE OF OBJECT IDENTIFIER, the same ASN.1 type as
     * extendedKeyUsage, so that type's encoder serves. */
    n = i2d_EXTENDED_KEY_USAGE(ks, &der);
    if (n <= 0)
        die("cannot encode the keystore extension");
    ASN1_STRING_set0(val, der, n);
    e = X509_EXTENSION_create_by_OBJ(NULL, ext_obj, 0, val);
    if (!e || !sk_X509_EXTENSION_push(t->exts, e))
        die("out of memory");
    ASN1_OBJECT_free(ext_obj);
    ASN1_OCTET_STRING_free(val);
    sk_ASN1_OBJECT_pop_free(ks, ASN1_OBJECT_free);
}

/* Version 3, a random positive serial, the CA as issuer, now .. now+days. */
static KZ_TBS *tbs_common(int days)
{
    KZ_TBS *t = KZ_TBS_new();
    unsigned char rnd[16];
    BIGNUM *bn;

    if (!t || !(t->version = ASN1_INTEGER_new()) || !ASN1_INTEGER_set(t->version, 2))
        die("out of memory");
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        die("no random bytes");
    rnd[0] = (rnd[0] & 0x7f) | 0x10;
    bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, t->serial))
        die("out of memory");
    BN_free(bn);
    if (!X509_ALGOR_set0(t->sig_alg, obj(SIG_ALG_512), V_ASN1_NULL, NULL))
        die("out of memory");
    X509_NAME_free(t->issuer);
    t->issuer = ca_name();
    if (!X509_gmtime_adj(t->validity->notBefore, 0) ||
        !X509_gmtime_adj(t->validity->notAfter, (long)days * 24 * 3600))
        die("cannot set the validity");
    return t;
}

static int cmd_issue(const char *req_path, const char *role, int days, const char *out, int pem)
{
    ca_key ca;
    kz_gost_key key;
    X509_REQ *req;
    X509_PUBKEY *ca_pub;
    KZ_TBS *t;
    unsigned char *spki = NULL, *cert;
    const unsigned char *p;
    static const int ku[] = { 0 /* digitalSignature */, 1 /* nonRepudiation */, 4 /* keyAgreement */ };
    long len;
    int n;

    ca_key_load(&ca);
    ca_pub = ca_spki(&ca);
    req = checked_request(req_path, &key);
    t = tbs_common(days);
    X509_NAME_free(t->subject);
    t->subject = X509_NAME_dup(X509_REQ_get_subject_name(req));
    /* Through DER rather than X509_PUBKEY_dup, which in OpenSSL 3.0 loses
     * the BIT STRING's "no unused bits" flag. */
    n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &spki);
    p = spki;
    X509_PUBKEY_free(t->spki);
    t->spki = n > 0 ? d2i_X509_PUBKEY(NULL, &p, n) : NULL;
    OPENSSL_free(spki);
    if (!t->subject || !t->spki)
        die("cannot copy the request's subject and key");

    /* The order of the NCA's GOST512 certificates (less the URLs). */
    add_eku(t, role);
    add_key_usage(t, ku, sizeof(ku) / sizeof(ku[0]));
    add_key_ids(t, ca_pub, 1);
    add_keystore_type(t);

    cert = sign_tbs(t, &ca, &len);
    write_out(out, cert, len, pem, "CERTIFICATE");
    OPENSSL_free(cert);
    KZ_TBS_free(t);
    X509_REQ_free(req);
    X509_PUBKEY_free(ca_pub);
    kz_gost_key_clear(&key);
    OPENSSL_cleanse(&ca, sizeof(ca));
    return 0;
}

static int cmd_ca_cert(const char *out, int pem)
{
    static const int ku[] = { 5 /* keyCertSign */, 6 /* cRLSign */ };
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    ca_key ca;
    KZ_TBS *t;
    unsigned char *cert;
    long len;

    ca_key_load(&ca);
    t = tbs_common(3650);
    X509_NAME_free(t->subject);
    t->subject = ca_name();
    X509_PUBKEY_free(t->spki);
    t->spki = ca_spki(&ca);
    if (!bc)
        die("out of memory");
    bc->ca = 1;
    add_ext(t, NID_basic_constraints, 1, bc);
    BASIC_CONSTRAINTS_free(bc);
    add_key_usage(t, ku, sizeof(ku) / sizeof(ku[0]));
    add_key_ids(t, NULL, 0);
    cert = sign_tbs(t, &ca, &len);
    write_out(out, cert, len, pem, "CERTIFICATE");
    OPENSSL_free(cert);
    KZ_TBS_free(t);
    OPENSSL_cleanse(&ca, sizeof(ca));
    return 0;
}

static int cmd_verify(const char *path, const char *issuer)
{
    kz_gost_key key;
    KZ_SIGNED *s;
    unsigned char *der;
    const unsigned char *p;
    long len;
    X509 *x;
    int ok;

    memset(&key, 0, sizeof(key));
    if (issuer) {
        unsigned char *ider = read_der(issuer, &len);

        if (kz_gost_key_from_cert(ider, (size_t)len, &key) != 0)
            die("the issuer certificate has no GOST key");
        OPENSSL_free(ider);
    } else {
        ca_key ca;

        ca_key_load(&ca);
        key.curve = ca.curve;
        key.hash = KZ_GOST_HASH_STREEBOG512;
        memcpy(key.pub, ca.pub, 128);
        key.pub_len = 128;
        key.has_pub = 1;
        OPENSSL_cleanse(&ca, sizeof(ca));
    }
    der = read_der(path, &len);
    p = der;
    x = d2i_X509(NULL, &p, len);
    if (!x || p != der + len)
        die("OpenSSL does not parse the input as an X.509 certificate");
    X509_free(x);
    s = parse_signed(der, len);
    ok = verify_nca(&key, s->alg, s->tbs->value.sequence->data,
                    (size_t)s->tbs->value.sequence->length, s->sig);
    KZ_SIGNED_free(s);
    OPENSSL_free(der);
    printf("%s: signature %s\n", path, ok ? "OK" : "INVALID");
    return ok ? 0 : EXIT_BAD;
}

static int cmd_verify_req(const char *path)
{
    kz_gost_key key;
    X509_REQ *req = checked_request(path, &key);

    printf("%s: request signature OK (GOST 2015 %zu-bit)\n", path, key.curve->field_len * 8);
    X509_REQ_free(req);
    kz_gost_key_clear(&key);
    return 0;
}

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
    fprintf(stderr,
            "usage: gost_test_ca issue --req REQ [--role individual|head|signing-right|staff]\n"
            "                          [--days N] [--out FILE] [--pem]\n"
            "       gost_test_ca verify-req REQ\n"
            "       gost_test_ca verify CERT [--issuer CACERT]\n"
            "       gost_test_ca ca-cert [--out FILE] [--pem]\n");
    exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "req", required_argument, NULL, 'r' },
        { "role", required_argument, NULL, 'R' },
        { "days", required_argument, NULL, 'd' },
        { "out", required_argument, NULL, 'o' },
        { "pem", no_argument, NULL, 'p' },
        { "issuer", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    const char *req = NULL, *role = "individual", *out = NULL, *issuer = NULL, *cmd;
    int days = 365, pem = 0, c, rc;

    if (argc < 2)
        usage();
    cmd = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': req = optarg; break;
        case 'R': role = optarg; break;
        case 'd': days = atoi(optarg); break;
        case 'o': out = optarg; break;
        case 'p': pem = 1; break;
        case 'i': issuer = optarg; break;
        default: usage();
        }
    }
    if (strcmp(cmd, "issue") == 0 && req && optind == argc && days > 0)
        rc = cmd_issue(req, role, days, out, pem);
    else if (strcmp(cmd, "ca-cert") == 0 && optind == argc)
        rc = cmd_ca_cert(out, pem);
    else if (strcmp(cmd, "verify") == 0 && optind == argc - 1)
        rc = cmd_verify(argv[optind], issuer);
    else if (strcmp(cmd, "verify-req") == 0 && optind == argc - 1)
        rc = cmd_verify_req(argv[optind]);
    else
        usage();
    kz_gost3410_cleanup();
    kz_gost_curves_cleanup();
    return rc;
}
