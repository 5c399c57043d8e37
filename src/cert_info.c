#include "cert_info.h"
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static CK_RV dup_der(int n, unsigned char *tmp, unsigned char **out, size_t *len)
{
    if (n <= 0)
        return CKR_GENERAL_ERROR;
    *out = malloc((size_t)n);
    if (!*out)
        return CKR_HOST_MEMORY;
    memcpy(*out, tmp, (size_t)n);
    *len = (size_t)n;
    return CKR_OK;
}

static CK_RV name_der(const X509_NAME *name, unsigned char **out, size_t *len)
{
    unsigned char *tmp = NULL;
    int n = i2d_X509_NAME(name, &tmp);
    CK_RV rv = dup_der(n, tmp, out, len);

    OPENSSL_free(tmp);
    return rv;
}

static void to_ck_date(const ASN1_TIME *t, CK_DATE *d)
{
    struct tm tm;
    char buf[40];

    memset(d, '0', sizeof(*d));
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return;
    snprintf(buf, sizeof(buf), "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    memcpy(d->year, buf, 4);
    memcpy(d->month, buf + 4, 2);
    memcpy(d->day, buf + 6, 2);
}

CK_RV kz_cert_info_parse(const unsigned char *der, size_t len, kz_cert_info *ci)
{
    const unsigned char *p = der;
    X509 *x;
    unsigned char *tmp = NULL, sha1[20];
    const ASN1_OCTET_STRING *ski;
    int n;
    CK_RV rv;

    memset(ci, 0, sizeof(*ci));
    x = d2i_X509(NULL, &p, (long)len);
    if (!x || p != der + len) {
        X509_free(x);
        ERR_clear_error();
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    rv = name_der(X509_get_subject_name(x), &ci->subject, &ci->subject_len);
    if (rv == CKR_OK)
        rv = name_der(X509_get_issuer_name(x), &ci->issuer, &ci->issuer_len);
    if (rv == CKR_OK) {
        n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &tmp);
        rv = dup_der(n, tmp, &ci->serial, &ci->serial_len);
        OPENSSL_free(tmp);
    }
    if (rv != CKR_OK) {
        X509_free(x);
        kz_cert_info_clear(ci);
        return rv;
    }
    ski = X509_get0_subject_key_id(x);
    if (ski && (size_t)ASN1_STRING_length(ski) <= sizeof(ci->ski)) {
        ci->ski_len = (size_t)ASN1_STRING_length(ski);
        memcpy(ci->ski, ASN1_STRING_get0_data(ski), ci->ski_len);
    }
    if (X509_get_extension_flags(x) & EXFLAG_KUSAGE) {
        ci->has_key_usage = 1;
        ci->key_usage = X509_get_key_usage(x);
    }
    EVP_Digest(der, len, sha1, NULL, EVP_sha1(), NULL);
    memcpy(ci->check_value, sha1, sizeof(ci->check_value));
    to_ck_date(X509_get0_notBefore(x), &ci->start);
    to_ck_date(X509_get0_notAfter(x), &ci->end);
    X509_free(x);
    ERR_clear_error();
    return CKR_OK;
}

void kz_cert_info_clear(kz_cert_info *ci)
{
    free(ci->subject);
    free(ci->issuer);
    free(ci->serial);
    memset(ci, 0, sizeof(*ci));
}

unsigned kz_cert_info_usage(const kz_cert_info *ci)
{
    unsigned u = 0;

    if (!ci->has_key_usage)
        return KZ_USAGE_SIGN | KZ_USAGE_DECRYPT;
    if (ci->key_usage & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_CERT_SIGN | KU_CRL_SIGN))
        u |= KZ_USAGE_SIGN;
    if (ci->key_usage & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT))
        u |= KZ_USAGE_DECRYPT;
    /* keyAgreement (GOST512 certificates) would mean CKA_DERIVE, but no
     * derivation mechanism exists yet: promising one would mislead. */
    return u;
}
