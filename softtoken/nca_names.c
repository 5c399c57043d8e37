#include "nca_names.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

void kz_nca_token_names(const char *path, char label[33], char serial[17])
{
    const char *base = strrchr(path, '/');
    const char *hex;
    size_t n, full, i, h = 0;

    base = base ? base + 1 : path;
    full = n = strlen(base);
    if (n > 4 && base[n - 4] == '.')
        full = n -= 4;
    if (n > 32)
        n = 32;
    /* Do not cut a UTF-8 sequence in half. */
    while (n > 0 && n < full && ((unsigned char)base[n] & 0xC0) == 0x80)
        n--;
    memcpy(label, base, n);
    label[n] = '\0';
    /* NSS builds nicknames as "token:object"; a ':' in the label breaks them. */
    for (i = 0; i < n; i++)
        if (label[i] == ':')
            label[i] = '_';

    hex = strrchr(base, '_');
    hex = hex ? hex + 1 : base;
    while (h < 16 && isxdigit((unsigned char)hex[h]))
        h++;
    if (h >= 8) {
        for (i = 0; i < h; i++)
            serial[i] = (char)tolower((unsigned char)hex[i]);
        serial[h] = '\0';
    } else {
        /* No hex in the name: a stable serial from the name itself (FNV-1a). */
        unsigned long long x = 1469598103934665603ULL;
        for (const char *p = base; *p; p++)
            x = (x ^ (unsigned char)*p) * 1099511628211ULL;
        snprintf(serial, 17, "%016llx", x);
    }
}

static int is_auth_certificate(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = der ? d2i_X509(NULL, &p, (long)len) : NULL;
    int auth = 0;

    if (!x)
        return 0;
    if ((X509_get_extension_flags(x) & EXFLAG_XKUSAGE) && (X509_get_extended_key_usage(x) & XKU_SSL_CLIENT))
        auth = 1;
    if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) && (X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT))
        auth = 1;
    X509_free(x);
    return auth;
}

const char *kz_nca_prefix(const kz_pkey *key, const unsigned char *cert, size_t cert_len)
{
    switch (kz_pkey_type(key)) {
    case CKK_RSA:
        return is_auth_certificate(cert, cert_len) ? "AUTH_RSA256_" : "RSA256_";
    case CKK_GOSTR3410_512:
        return "GOST512_";
    default:
        /* The 2004 keys hash with GOST 34.311-95 (34.11-94, test set). */
        return kz_pkey_gost_hash_mech(key) == KZ_CKM_GOSTR3411_94_TEST ? "GOSTKNCA_" : "GOST256_";
    }
}

void kz_hex(const unsigned char *bin, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 15];
    }
    out[2 * len] = '\0';
}

char *kz_nca_new_container_path(const char *dir, const char *label)
{
    char name[64], *path;
    size_t n = 0;

    for (const char *p = label; *p && n < 40; p++) {
        /* A leading '.' would hide the file; other odd bytes become '_'. */
        int keep = (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.') && !(n == 0 && *p == '.');
        name[n++] = keep ? *p : '_';
    }
    name[n] = '\0';
    if (n == 0)
        snprintf(name, sizeof(name), "kzp11-container");
    for (int i = 1; i < 1000; i++) {
        int r = i == 1 ? asprintf(&path, "%s/%s.p12", dir, name)
                       : asprintf(&path, "%s/%s-%d.p12", dir, name, i);
        if (r < 0)
            return NULL;
        if (access(path, F_OK) != 0)
            return path;
        free(path);
    }
    return NULL;
}
