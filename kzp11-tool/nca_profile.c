/* Decoding the NCA certificate profile (owner, IIN, BIN, role, usages). */
#include "nca_profile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#define ROLE_INDIVIDUAL "1.2.398.3.3.4.1.1"
#define ROLE_LEGAL      "1.2.398.3.3.4.1.2"

/* A growing ", "-separated list. */
typedef struct {
    char *s;
    size_t len;
    int oom;
} list_buf;

static void list_add(list_buf *l, const char *item)
{
    size_t add = strlen(item) + (l->len ? 2 : 0);
    char *n;

    if (l->oom)
        return;
    n = realloc(l->s, l->len + add + 1);
    if (!n) {
        l->oom = 1;
        return;
    }
    l->s = n;
    if (l->len) {
        memcpy(l->s + l->len, ", ", 2);
        l->len += 2;
    }
    memcpy(l->s + l->len, item, strlen(item) + 1);
    l->len += strlen(item);
}

static char *dup_or_null(const char *s, int *oom)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static char *entry_utf8(const X509_NAME_ENTRY *e, int *oom)
{
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
    char *s;

    if (n < 0) {
        ERR_clear_error();
        return NULL;
    }
    s = malloc((size_t)n + 1);
    if (!s) {
        *oom = 1;
    } else {
        memcpy(s, u, (size_t)n);
        s[n] = '\0';
    }
    OPENSSL_free(u);
    return s;
}

/* The first entry of nid; with prefix, the first one starting with it,
 * returned without the prefix. */
static char *name_field(const X509_NAME *xn, int nid, const char *prefix, int *oom)
{
    int i = -1;

    while ((i = X509_NAME_get_index_by_NID(xn, nid, i)) >= 0) {
        char *s = entry_utf8(X509_NAME_get_entry(xn, i), oom);
        size_t pl = prefix ? strlen(prefix) : 0;

        if (!s)
            continue;
        if (!prefix)
            return s;
        if (strncmp(s, prefix, pl) == 0) {
            memmove(s, s + pl, strlen(s + pl) + 1);
            return s;
        }
        free(s);
    }
    return NULL;
}

static char *time_text(const ASN1_TIME *t, int *oom)
{
    struct tm tm;
    char buf[32];

    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return NULL;
    if (strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        return NULL;
    return dup_or_null(buf, oom);
}

static char *hex_lower(const unsigned char *b, size_t n, int *oom)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    size_t i;

    if (!s) {
        *oom = 1;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

static char *serial_text(X509 *x, int *oom)
{
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    BIGNUM *bn = sn ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
    unsigned char buf[64];
    int n;

    if (!bn)
        return NULL;
    n = BN_num_bytes(bn);
    if (n <= (int)sizeof(buf) && n > 0)
        BN_bn2bin(bn, buf);
    BN_free(bn);
    if (n <= 0 || n > (int)sizeof(buf))
        return NULL;
    return hex_lower(buf, (size_t)n, oom);
}

static const struct {
    const char *oid;
    const char *name;
} key_algs[] = {
    { "1.2.398.3.10.1.1.2.2", "GOST 2015 512-bit" },
    { "1.2.398.3.10.1.1.2.1", "GOST 2015 256-bit" },
    { "1.2.398.3.10.1.1.1.1", "GOST 34.310-2004" },
    { "1.2.643.7.1.1.1.2", "GOST R 34.10-2012 512-bit" },
    { "1.2.643.7.1.1.1.1", "GOST R 34.10-2012 256-bit" },
    { "1.2.643.2.2.19", "GOST R 34.10-2001" },
};

static char *key_alg_text(X509 *x, int *oom)
{
    X509_PUBKEY *pk = X509_get_X509_PUBKEY(x);
    ASN1_OBJECT *alg = NULL;
    char oid[80], buf[96];
    size_t i;

    if (!pk || !X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, pk) || !alg)
        return NULL;
    if (OBJ_obj2txt(oid, sizeof(oid), alg, 1) <= 0)
        return NULL;
    for (i = 0; i < sizeof(key_algs) / sizeof(key_algs[0]); i++)
        if (strcmp(oid, key_algs[i].oid) == 0)
            return dup_or_null(key_algs[i].name, oom);
    if (OBJ_obj2nid(alg) == NID_rsaEncryption) {
        /* Only RSA has a key OpenSSL can load here; asking for a GOST one
         * would just fill the error queue. */
        EVP_PKEY *k = X509_get0_pubkey(x);

        if (k) {
            snprintf(buf, sizeof(buf), "RSA %d", EVP_PKEY_get_bits(k));
            return dup_or_null(buf, oom);
        }
        ERR_clear_error();
        return dup_or_null("RSA", oom);
    }
    return dup_or_null(oid, oom);
}

static const struct {
    unsigned bit;
    const char *name;
} ku_names[] = {
    { KU_DIGITAL_SIGNATURE, "digitalSignature" },
    { KU_NON_REPUDIATION, "nonRepudiation" },
    { KU_KEY_ENCIPHERMENT, "keyEncipherment" },
    { KU_DATA_ENCIPHERMENT, "dataEncipherment" },
    { KU_KEY_AGREEMENT, "keyAgreement" },
    { KU_KEY_CERT_SIGN, "keyCertSign" },
    { KU_CRL_SIGN, "cRLSign" },
    { KU_ENCIPHER_ONLY, "encipherOnly" },
    { KU_DECIPHER_ONLY, "decipherOnly" },
};

static char *key_usage_text(X509 *x, int *oom)
{
    ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, NULL, NULL);
    list_buf l = { 0 };
    unsigned long bits = 0;
    size_t i;

    if (!ku)
        return NULL;
    if (ku->length > 0)
        bits = ku->data[0];
    if (ku->length > 1)
        bits |= (unsigned long)ku->data[1] << 8;
    ASN1_BIT_STRING_free(ku);
    for (i = 0; i < sizeof(ku_names) / sizeof(ku_names[0]); i++)
        if (bits & ku_names[i].bit)
            list_add(&l, ku_names[i].name);
    if (l.oom)
        *oom = 1;
    return l.s;
}

static const struct {
    int nid;
    const char *name;
} eku_names[] = {
    { NID_client_auth, "clientAuth" },
    { NID_server_auth, "serverAuth" },
    { NID_email_protect, "emailProtection" },
    { NID_code_sign, "codeSigning" },
    { NID_time_stamp, "timeStamping" },
    { NID_OCSP_sign, "OCSPSigning" },
};

static const char *subrole_name(unsigned n)
{
    switch (n) {
    case 1:
        return "head";
    case 2:
        return "signing right";
    case 5:
        return "staff";
    default:
        return NULL;
    }
}

/* Fills ext_key_usage, role and subroles. */
static void decode_eku(X509 *x, kzt_profile *p, int *oom)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    list_buf l = { 0 };
    int i;

    if (!eku)
        return;
    for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
        ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
        int nid = OBJ_obj2nid(o);
        const char *name = NULL;
        char oid[80];
        size_t j;

        if (OBJ_obj2txt(oid, sizeof(oid), o, 1) <= 0)
            continue;
        for (j = 0; j < sizeof(eku_names) / sizeof(eku_names[0]); j++)
            if (nid == eku_names[j].nid)
                name = eku_names[j].name;
        list_add(&l, name ? name : oid);
        if (strcmp(oid, ROLE_INDIVIDUAL) == 0) {
            if (p->role == KZT_ROLE_NONE)
                p->role = KZT_ROLE_INDIVIDUAL;
        } else if (strncmp(oid, ROLE_LEGAL, strlen(ROLE_LEGAL)) == 0 &&
                   (oid[strlen(ROLE_LEGAL)] == '\0' || oid[strlen(ROLE_LEGAL)] == '.')) {
            const char *rest = oid + strlen(ROLE_LEGAL);

            /* A legal entity's certificate also names its employee's
             * sub-role; it outranks the individual role. */
            p->role = KZT_ROLE_LEGAL_ENTITY;
            if (*rest == '.') {
                char *end;
                unsigned long n = strtoul(rest + 1, &end, 10);

                if (*end == '\0' && n < 32)
                    p->subroles |= 1u << n;
            }
        }
    }
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    if (l.oom)
        *oom = 1;
    p->ext_key_usage = l.s;
}

static char *role_text(const kzt_profile *p, int *oom)
{
    list_buf sub = { 0 };
    char buf[64], *s;
    unsigned n;

    if (p->role == KZT_ROLE_INDIVIDUAL)
        return dup_or_null("individual", oom);
    if (p->role != KZT_ROLE_LEGAL_ENTITY)
        return NULL;
    for (n = 0; n < 32; n++) {
        const char *name;

        if (!(p->subroles & (1u << n)))
            continue;
        name = subrole_name(n);
        if (!name) {
            snprintf(buf, sizeof(buf), "role %s.%u", ROLE_LEGAL, n);
            name = buf;
        }
        list_add(&sub, name);
    }
    s = malloc(strlen("legal entity: ") + sub.len + 1);
    if (!s || sub.oom) {
        *oom = 1;
        free(s);
        free(sub.s);
        return NULL;
    }
    strcpy(s, "legal entity");
    if (sub.len) {
        strcat(s, ": ");
        strcat(s, sub.s);
    }
    free(sub.s);
    return s;
}

int kzt_profile_decode(X509 *x, kzt_profile *p)
{
    const X509_NAME *subj = X509_get_subject_name(x);
    const ASN1_OCTET_STRING *ski;
    int oom = 0;

    memset(p, 0, sizeof(*p));
    p->common_name = name_field(subj, NID_commonName, NULL, &oom);
    p->surname = name_field(subj, NID_surname, NULL, &oom);
    p->given_name = name_field(subj, NID_givenName, NULL, &oom);
    p->iin = name_field(subj, NID_serialNumber, "IIN", &oom);
    p->bin = name_field(subj, NID_organizationalUnitName, "BIN", &oom);
    p->organization = name_field(subj, NID_organizationName, NULL, &oom);
    p->locality = name_field(subj, NID_localityName, NULL, &oom);
    p->state = name_field(subj, NID_stateOrProvinceName, NULL, &oom);
    p->email = name_field(subj, NID_pkcs9_emailAddress, NULL, &oom);
    p->issuer_cn = name_field(X509_get_issuer_name(x), NID_commonName, NULL, &oom);
    p->serial_hex = serial_text(x, &oom);
    ski = X509_get0_subject_key_id(x);
    if (ski)
        p->ski_hex = hex_lower(ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski), &oom);
    p->key_alg = key_alg_text(x, &oom);
    p->key_usage = key_usage_text(x, &oom);
    decode_eku(x, p, &oom);
    p->role_text = role_text(p, &oom);
    p->not_before = time_text(X509_get0_notBefore(x), &oom);
    p->not_after = time_text(X509_get0_notAfter(x), &oom);
    ERR_clear_error();
    if (oom) {
        kzt_profile_free(p);
        return -1;
    }
    return 0;
}

void kzt_profile_free(kzt_profile *p)
{
    char **fields[] = {
        &p->common_name, &p->surname, &p->given_name, &p->iin, &p->bin,
        &p->organization, &p->locality, &p->state, &p->email, &p->issuer_cn,
        &p->serial_hex, &p->ski_hex, &p->key_alg, &p->key_usage,
        &p->ext_key_usage, &p->role_text, &p->not_before, &p->not_after,
    };
    size_t i;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
    p->role = KZT_ROLE_NONE;
    p->subroles = 0;
}

static void line(FILE *f, const char *indent, const char *what, const char *value)
{
    if (value)
        fprintf(f, "%s%-16s %s\n", indent, what, value);
}

void kzt_profile_print(FILE *f, const kzt_profile *p, const char *indent)
{
    line(f, indent, "owner:", p->common_name);
    line(f, indent, "surname:", p->surname);
    line(f, indent, "given name:", p->given_name);
    line(f, indent, "IIN:", p->iin);
    line(f, indent, "organisation:", p->organization);
    line(f, indent, "BIN:", p->bin);
    line(f, indent, "locality:", p->locality);
    line(f, indent, "region:", p->state);
    line(f, indent, "e-mail:", p->email);
    line(f, indent, "role:", p->role_text);
    line(f, indent, "key:", p->key_alg);
    line(f, indent, "key usage:", p->key_usage);
    line(f, indent, "ext. key usage:", p->ext_key_usage);
    line(f, indent, "valid from:", p->not_before);
    line(f, indent, "valid until:", p->not_after);
    line(f, indent, "issuer:", p->issuer_cn);
    line(f, indent, "serial:", p->serial_hex);
    line(f, indent, "key identifier:", p->ski_hex);
}
