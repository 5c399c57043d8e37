/* What an NCA RK certificate says about its owner, decoded with OpenSSL's
 * X509 API. GOST certificates parse as X509 too: OpenSSL only cannot use
 * their keys, and nothing here needs the key beyond its algorithm OID.
 *
 * NCA conventions (see the project's kazakh-pki.md):
 *   subject SERIALNUMBER = "IIN" + 12 digits (the person's IIN)
 *   subject OU           = "BIN" + 12 digits (the organisation's BIN)
 *   extendedKeyUsage     carries the role: 1.2.398.3.3.4.1.1 individual,
 *                        1.2.398.3.3.4.1.2 legal entity, with sub-roles
 *                        1.2.398.3.3.4.1.2.N (.1 head, .2 signing right,
 *                        .5 staff). */
#ifndef KZP11_TOOL_NCA_PROFILE_H
#define KZP11_TOOL_NCA_PROFILE_H

#include <stdio.h>
#include <openssl/x509.h>

typedef enum {
    KZT_ROLE_NONE = 0,
    KZT_ROLE_INDIVIDUAL,
    KZT_ROLE_LEGAL_ENTITY
} kzt_role;

/* Legal-entity sub-roles as bits: bit N set for 1.2.398.3.3.4.1.2.N
 * (N < 32). */
#define KZT_SUBROLE_HEAD          (1u << 1)
#define KZT_SUBROLE_SIGNING_RIGHT (1u << 2)
#define KZT_SUBROLE_STAFF         (1u << 5)

typedef struct kzt_profile {
    /* UTF-8, NULL when the certificate has no such field. */
    char *common_name, *surname, *given_name;
    char *iin;                /* 12 digits, without "IIN" */
    char *bin;                /* 12 digits, without "BIN" */
    char *organization, *locality, *state, *email;
    char *issuer_cn;
    char *serial_hex;         /* lower-case */
    char *ski_hex;            /* lower-case; NULL without the extension */
    char *key_alg;            /* "RSA 2048", "GOST 2015 512-bit", ... */
    char *key_usage;          /* "digitalSignature, nonRepudiation" or NULL */
    char *ext_key_usage;      /* "emailProtection, 1.2.398.3.3.4.1.1" or NULL */
    char *role_text;          /* "individual", "legal entity: head", or NULL */
    char *not_before, *not_after;  /* "YYYY-MM-DD HH:MM:SS UTC" */
    kzt_role role;
    unsigned subroles;
} kzt_profile;

/* 0, or -1 (out of memory). Fields the certificate lacks stay NULL. */
int kzt_profile_decode(X509 *x, kzt_profile *p);
void kzt_profile_free(kzt_profile *p);

/* Human-readable block, every line starting with indent. */
void kzt_profile_print(FILE *f, const kzt_profile *p, const char *indent);

#endif
