/* The fields of an X.509 certificate that PKCS#11 objects expose. */
#ifndef KZP11_CERT_INFO_H
#define KZP11_CERT_INFO_H

#include <stddef.h>
#include "pkcs11_types.h"

typedef struct kz_cert_info {
    unsigned char *subject, *issuer, *serial;    /* DER Name, Name, INTEGER */
    size_t subject_len, issuer_len, serial_len;
    unsigned char ski[64];
    size_t ski_len;                              /* 0: no SKI extension */
    int has_key_usage;
    unsigned long key_usage;                     /* OpenSSL KU_* bits */
    unsigned char check_value[3];                /* first bytes of SHA-1(cert) */
    CK_DATE start, end;
} kz_cert_info;

CK_RV kz_cert_info_parse(const unsigned char *der, size_t len, kz_cert_info *out);
void kz_cert_info_clear(kz_cert_info *ci);
/* KZ_USAGE_* bits allowed by the certificate's keyUsage (all when absent). */
unsigned kz_cert_info_usage(const kz_cert_info *ci);

#endif
