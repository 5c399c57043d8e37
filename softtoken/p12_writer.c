/* Writing PKCS#12 key containers with OpenSSL's PKCS#12 building blocks,
 * every cryptographic step in the caller's library context (see
 * p12_container.c for why that context is a private one).
 *
 * What the NCA's files look like, checked on every fixture (RSA 2020,
 * GOST 34.310-2004, GOST 2015-512 2022) with `openssl asn1parse` and
 * OpenSSL's PKCS#12 API, and what KZ_P12_WRITE_NCA reproduces:
 *   PFX version 3, authSafe contentType data, macData present;
 *   AuthenticatedSafe = [ data ContentInfo: SafeContents with one
 *     pkcs8ShroudedKeyBag,  encryptedData ContentInfo (version 0,
 *     contentType data): SafeContents with one certBag (x509Certificate) ];
 *   key: pbeWithSHA1And3-KeyTripleDES-CBC, PBEParameter salt 20 bytes,
 *     1024 iterations; certificates: pbeWithSHA1And40BitRC2-CBC, the same;
 *   MAC: sha1 (parameters NULL), 20-byte MAC salt, 1024 iterations;
 *   both bags: attributes localKeyID (OCTET STRING, the certificate's SKI)
 *     then friendlyName (BMPString, that SKI in lowercase hex, no NUL);
 *   only the end-entity certificate, no chain.
 * Encoding: the PFX, the MacData, each SafeContents and the PKCS#8 inside
 * are DER in the NCA's files; the AuthenticatedSafe, its ContentInfos and
 * the EncryptedContentInfo use BER indefinite lengths, and the encrypted
 * content is a constructed [0] holding one OCTET STRING. We write DER
 * everywhere (i2d never emits indefinite lengths). DER is valid BER, so a
 * conforming reader takes it, and the MAC covers whatever octets the file
 * holds; whether the NCA's own software (NCALayer, Kalkan) opens our files
 * could not be tried here. */

#include "p12_writer.h"
#include "p12_container.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

typedef struct {
    /* A PKCS#12 PBE NID, or a cipher NID, which OpenSSL's PKCS#12 calls
     * take as "PBES2 with PBKDF2-HMAC-SHA256 and this cipher". */
    int key_pbe, cert_pbe;
    int iter, salt_len;
    const char *mac_md;
    int mac_iter, mac_salt_len;
} write_params;

#define MAX_SALT_LEN 32

static const write_params nca_params = {
    NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And40BitRC2_CBC,
    1024, 20, "SHA1", 1024, 20
};

/* 600,000: OWASP's 2023 figure for PBKDF2-HMAC-SHA256. The MAC gets the
 * same count, see p12_writer.h. */
static const write_params pbes2_params = {
    NID_aes_256_cbc, NID_aes_256_cbc,
    600000, 16, "SHA2-256", 600000, 32
};

/* As in p12_container.c: memory shortage shows only on the error queue.
 * Drains it. */
static CK_RV openssl_failure(CK_RV otherwise)
{
    unsigned long e;
    CK_RV rv = otherwise;

    while ((e = ERR_get_error()) != 0)
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
            rv = CKR_HOST_MEMORY;
    return rv;
}

/* The DER structure must fill the buffer exactly: a prefix that parses is
 * not what the caller meant to store. */
static PKCS8_PRIV_KEY_INFO *parse_pkcs8(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8;

    if (len == 0 || len > LONG_MAX)
        return NULL;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 != NULL && p != der + len) {
        PKCS8_PRIV_KEY_INFO_free(p8);
        p8 = NULL;
    }
    return p8;
}

static X509 *parse_cert(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x;

    if (len == 0 || len > LONG_MAX)
        return NULL;
    x = d2i_X509(NULL, &p, (long)len);
    if (x != NULL && p != der + len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

/* localKeyID, then friendlyName. The order added does not decide the order
 * written: i2d sorts a SET OF into DER order. A name OpenSSL cannot turn
 * into a BMPString (bad UTF-8, characters beyond U+FFFF) is the caller's
 * error, anything else memory. */
static CK_RV add_attributes(PKCS12_SAFEBAG *bag, const unsigned char *id,
                            size_t id_len, const char *name)
{
    if (id_len > 0 && !PKCS12_add_localkeyid(bag, (unsigned char *)id, (int)id_len))
        return openssl_failure(CKR_FUNCTION_FAILED);
    if (name != NULL && *name != '\0'
        && !PKCS12_add_friendlyname_utf8(bag, name, -1)) {
        unsigned long e;
        CK_RV rv = CKR_ARGUMENTS_BAD;

        while ((e = ERR_get_error()) != 0)
            if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
                rv = CKR_HOST_MEMORY;
        return rv;
    }
    return CKR_OK;
}

/* A bag stack holding just `bag`; takes bag over (frees it on failure). */
static STACK_OF(PKCS12_SAFEBAG) *one_bag(PKCS12_SAFEBAG *bag)
{
    STACK_OF(PKCS12_SAFEBAG) *bags = sk_PKCS12_SAFEBAG_new_null();

    if (bags == NULL || sk_PKCS12_SAFEBAG_push(bags, bag) <= 0) {
        sk_PKCS12_SAFEBAG_free(bags);
        PKCS12_SAFEBAG_free(bag);
        return NULL;
    }
    return bags;
}

/* Takes p7 over. */
static CK_RV push_safe(STACK_OF(PKCS7) *safes, PKCS7 *p7)
{
    if (p7 == NULL)
        return openssl_failure(CKR_FUNCTION_FAILED);
    if (sk_PKCS7_push(safes, p7) <= 0) {
        PKCS7_free(p7);
        return CKR_HOST_MEMORY;
    }
    return CKR_OK;
}

static CK_RV fresh_salt(OSSL_LIB_CTX *libctx, unsigned char *salt, int len)
{
    if (RAND_bytes_ex(libctx, salt, (size_t)len, 0) <= 0)
        return openssl_failure(CKR_FUNCTION_FAILED);
    return CKR_OK;
}

/* The data ContentInfo with the shrouded key bag. PKCS8_encrypt_ex wipes
 * its DER copy of the key before freeing it. */
static CK_RV key_safe(const write_params *wp, PKCS8_PRIV_KEY_INFO *p8,
                      const unsigned char *id, size_t id_len, const char *name,
                      const char *pw, int pw_len, OSSL_LIB_CTX *libctx,
                      STACK_OF(PKCS7) *safes)
{
    unsigned char salt[MAX_SALT_LEN];
    PKCS12_SAFEBAG *bag;
    STACK_OF(PKCS12_SAFEBAG) *bags;
    CK_RV rv;

    if ((rv = fresh_salt(libctx, salt, wp->salt_len)) != CKR_OK)
        return rv;
    bag = PKCS12_SAFEBAG_create_pkcs8_encrypt_ex(wp->key_pbe, pw, pw_len, salt,
                                                 wp->salt_len, wp->iter, p8,
                                                 libctx, NULL);
    if (bag == NULL)
        return openssl_failure(CKR_FUNCTION_FAILED);
    if ((rv = add_attributes(bag, id, id_len, name)) != CKR_OK) {
        PKCS12_SAFEBAG_free(bag);
        return rv;
    }
    if ((bags = one_bag(bag)) == NULL)
        return CKR_HOST_MEMORY;
    rv = push_safe(safes, PKCS12_pack_p7data(bags));
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    return rv;
}

/* The encryptedData ContentInfo with the certificate bag. */
static CK_RV cert_safe(const write_params *wp, X509 *x,
                       const unsigned char *id, size_t id_len, const char *name,
                       const char *pw, int pw_len, OSSL_LIB_CTX *libctx,
                       STACK_OF(PKCS7) *safes)
{
    unsigned char salt[MAX_SALT_LEN];
    PKCS12_SAFEBAG *bag;
    STACK_OF(PKCS12_SAFEBAG) *bags;
    CK_RV rv;

    if ((rv = fresh_salt(libctx, salt, wp->salt_len)) != CKR_OK)
        return rv;
    if ((bag = PKCS12_SAFEBAG_create_cert(x)) == NULL)
        return openssl_failure(CKR_FUNCTION_FAILED);
    if ((rv = add_attributes(bag, id, id_len, name)) != CKR_OK) {
        PKCS12_SAFEBAG_free(bag);
        return rv;
    }
    if ((bags = one_bag(bag)) == NULL)
        return CKR_HOST_MEMORY;
    rv = push_safe(safes, PKCS12_pack_p7encdata_ex(wp->cert_pbe, pw, pw_len, salt,
                                                   wp->salt_len, wp->iter, bags,
                                                   libctx, NULL));
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    return rv;
}

/* PKCS12_add_safes_ex ties the PFX to libctx, and PKCS12_set_mac then
 * derives the MAC key and computes the HMAC in that context (verified on
 * OpenSSL 3.0.22 with the default context emptied: see the unit test), so
 * no restated PFX template is needed here. The MAC covers the DER
 * AuthenticatedSafe as it will be written. */
static CK_RV seal(const write_params *wp, STACK_OF(PKCS7) *safes,
                  const char *pw, int pw_len, OSSL_LIB_CTX *libctx,
                  unsigned char **out, size_t *out_len)
{
    unsigned char salt[MAX_SALT_LEN];
    PKCS12 *p12 = NULL;
    EVP_MD *md = NULL;
    unsigned char *der = NULL;
    int n;
    CK_RV rv;

    if ((rv = fresh_salt(libctx, salt, wp->mac_salt_len)) != CKR_OK)
        return rv;
    if ((p12 = PKCS12_add_safes_ex(safes, NID_pkcs7_data, libctx, NULL)) == NULL
        || (md = EVP_MD_fetch(libctx, wp->mac_md, NULL)) == NULL
        || !PKCS12_set_mac(p12, pw, pw_len, salt, wp->mac_salt_len, wp->mac_iter, md)
        || (n = i2d_PKCS12(p12, &der)) <= 0) {
        rv = openssl_failure(CKR_FUNCTION_FAILED);
        goto done;
    }
    if ((*out = malloc((size_t)n)) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto done;
    }
    memcpy(*out, der, (size_t)n);
    *out_len = (size_t)n;
done:
    OPENSSL_free(der);
    EVP_MD_free(md);
    PKCS12_free(p12);
    return rv;
}

/* OpenSSL 3.0's DER encoder ignores a failed allocation while sorting a
 * SET OF (a bag's two attributes) and returns the corrupt encoding as a
 * success; inside the encrypted certificate part nothing short of
 * decrypting can see it. A container that does not open is a lost key, so
 * every file is read back with kz_p12_open and compared with what was
 * asked for before it is handed out. That doubles the time a PBES2 file
 * takes (about 0.3 s more); NCA files cost next to nothing. */
static CK_RV verify(const unsigned char *file, size_t len,
                    const PKCS8_PRIV_KEY_INFO *p8, const X509 *x,
                    const unsigned char *id, size_t id_len, const char *name,
                    const char *pw, size_t pw_len, OSSL_LIB_CTX *libctx)
{
    kz_p12_contents c;
    unsigned char *want = NULL;
    int n = 0;
    CK_RV rv = kz_p12_open(file, len, pw, pw_len, libctx, &c);

    if (rv != CKR_OK)
        return rv == CKR_HOST_MEMORY ? rv : CKR_FUNCTION_FAILED;
    /* Both sides re-encode what they decoded, so a BER input compares in
     * its DER form on each. */
    rv = CKR_FUNCTION_FAILED;
    if (p8 == NULL) {
        /* An empty container: nothing may come back. */
        if (c.pkcs8_der != NULL || c.cert_der != NULL)
            goto out;
        rv = CKR_OK;
        goto out;
    }
    n = i2d_PKCS8_PRIV_KEY_INFO(p8, &want);
    if (n <= 0) {
        rv = openssl_failure(CKR_FUNCTION_FAILED);
        goto out;
    }
    if ((size_t)n != c.pkcs8_len || CRYPTO_memcmp(want, c.pkcs8_der, (size_t)n) != 0)
        goto out;
    OPENSSL_clear_free(want, (size_t)n);
    want = NULL;
    if (x != NULL) {
        n = i2d_X509(x, &want);
        if (n <= 0) {
            rv = openssl_failure(CKR_FUNCTION_FAILED);
            goto out;
        }
        if ((size_t)n != c.cert_len || memcmp(want, c.cert_der, (size_t)n) != 0)
            goto out;
    } else if (c.cert_der != NULL) {
        goto out;
    }
    if (c.local_key_id_len != id_len
        || (id_len > 0 && memcmp(c.local_key_id, id, id_len) != 0)
        || strcmp(c.friendly_name, name != NULL ? name : "") != 0)
        goto out;
    rv = CKR_OK;
out:
    OPENSSL_clear_free(want, want != NULL ? (size_t)n : 0);
    kz_p12_contents_clear(&c);
    return rv;
}

CK_RV kz_p12_build(const unsigned char *pkcs8, size_t pkcs8_len,
                   const unsigned char *cert, size_t cert_len,
                   const unsigned char *local_key_id, size_t id_len,
                   const char *friendly_name,
                   const char *pass, size_t pass_len,
                   kz_p12_write_format fmt, OSSL_LIB_CTX *libctx,
                   unsigned char **out, size_t *out_len)
{
    const write_params *wp;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    X509 *x = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    char *pw = NULL;
    CK_RV rv;

    if (out == NULL || out_len == NULL)
        return CKR_ARGUMENTS_BAD;
    *out = NULL;
    *out_len = 0;
    switch (fmt) {
    case KZ_P12_WRITE_NCA:
        wp = &nca_params;
        break;
    case KZ_P12_WRITE_PBES2:
        wp = &pbes2_params;
        break;
    default:
        return CKR_ARGUMENTS_BAD;
    }
    /* The BMPString form of the password doubles its length in an int. An
     * ID or a name longer than kz_p12_open can return would not survive
     * the round trip. */
    if ((pkcs8 == NULL && (pkcs8_len != 0 || cert != NULL)) || (pass == NULL && pass_len != 0)
        || pass_len > INT_MAX / 4
        || (local_key_id == NULL && id_len != 0)
        || id_len > sizeof(((kz_p12_contents *)0)->local_key_id)
        || (friendly_name != NULL
            && strlen(friendly_name) >= sizeof(((kz_p12_contents *)0)->friendly_name))
        || (cert == NULL && cert_len != 0))
        return CKR_ARGUMENTS_BAD;

    /* Stale entries would confuse openssl_failure(). */
    ERR_clear_error();

    /* NUL-terminated, since OpenSSL's PKCS#12 code reads the password both
     * with and without its length; wiped when done. */
    if ((pw = OPENSSL_malloc(pass_len + 1)) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto done;
    }
    if (pass_len > 0)
        memcpy(pw, pass, pass_len);
    pw[pass_len] = '\0';

    if (pkcs8 != NULL && (p8 = parse_pkcs8(pkcs8, pkcs8_len)) == NULL) {
        rv = openssl_failure(CKR_ARGUMENTS_BAD);
        goto done;
    }
    if (cert != NULL && (x = parse_cert(cert, cert_len)) == NULL) {
        rv = openssl_failure(CKR_ARGUMENTS_BAD);
        goto done;
    }
    if ((safes = sk_PKCS7_new_null()) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto done;
    }

    /* The NCA's order: key part first, then the certificate part. An empty
     * container (no key yet) has no parts, only the MAC over nothing. */
    rv = CKR_OK;
    if (p8 != NULL)
        rv = key_safe(wp, p8, local_key_id, id_len, friendly_name, pw, (int)pass_len,
                      libctx, safes);
    if (rv == CKR_OK && x != NULL)
        rv = cert_safe(wp, x, local_key_id, id_len, friendly_name, pw,
                       (int)pass_len, libctx, safes);
    if (rv == CKR_OK)
        rv = seal(wp, safes, pw, (int)pass_len, libctx, out, out_len);
    if (rv == CKR_OK)
        rv = verify(*out, *out_len, p8, x, local_key_id, id_len, friendly_name,
                    pw, pass_len, libctx);

done:
    sk_PKCS7_pop_free(safes, PKCS7_free);
    X509_free(x);
    /* Its free wipes the key octets. */
    PKCS8_PRIV_KEY_INFO_free(p8);
    OPENSSL_clear_free(pw, pass_len + 1);
    ERR_clear_error();
    if (rv != CKR_OK) {
        free(*out);
        *out = NULL;
        *out_len = 0;
    }
    return rv;
}
