/* Reading PKCS#12 key containers (NCA's legacy-algorithm files as well as
 * OpenSSL 3's PBES2 ones) with OpenSSL's own ASN.1 and PKCS#12 code, keeping
 * every cryptographic step inside the caller's library context: NCA files
 * need the legacy provider, which must not leak into the host application's
 * default context. */

#include "p12_container.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

/* The MAC's key derivation runs before the password is known to be right, on
 * a count taken from the file; this keeps a hostile or damaged file from
 * holding a login for minutes. Real files use 1 to a few thousand. */
#define KZ_P12_MAX_MAC_ITER 10000000

/* OpenSSL's PKCS12 type is opaque and offers no accessor for the authSafe
 * ContentInfo, yet the MAC has to be computed over its content octets here:
 * PKCS12_verify_mac would do it in the default library context. These two
 * types restate RFC 7292's PFX and MacData with OpenSSL's ASN.1 templates,
 * exactly as OpenSSL's own PKCS12 item does, so that the PKCS7 (a public
 * struct) is reachable. */
typedef struct {
    X509_SIG *dinfo;
    ASN1_OCTET_STRING *salt;
    ASN1_INTEGER *iter;
} KZ_P12_MACDATA;

typedef struct {
    ASN1_INTEGER *version;
    PKCS7 *authsafe;
    KZ_P12_MACDATA *mac;
} KZ_P12_PFX;

ASN1_SEQUENCE(KZ_P12_MACDATA) = {
    ASN1_SIMPLE(KZ_P12_MACDATA, dinfo, X509_SIG),
    ASN1_SIMPLE(KZ_P12_MACDATA, salt, ASN1_OCTET_STRING),
    ASN1_OPT(KZ_P12_MACDATA, iter, ASN1_INTEGER)
} static_ASN1_SEQUENCE_END(KZ_P12_MACDATA)

ASN1_SEQUENCE(KZ_P12_PFX) = {
    ASN1_SIMPLE(KZ_P12_PFX, version, ASN1_INTEGER),
    ASN1_SIMPLE(KZ_P12_PFX, authsafe, PKCS7),
    ASN1_OPT(KZ_P12_PFX, mac, KZ_P12_MACDATA)
} static_ASN1_SEQUENCE_END(KZ_P12_PFX)

static void pfx_free(KZ_P12_PFX *pfx)
{
    ASN1_item_free((ASN1_VALUE *)pfx, ASN1_ITEM_rptr(KZ_P12_PFX));
}

/* Trailing bytes are refused: a PKCS#12 file is exactly one PFX, and a
 * prefix that happens to parse is not worth listing as a token. */
static KZ_P12_PFX *pfx_parse(const unsigned char *data, size_t len)
{
    const unsigned char *p = data;
    KZ_P12_PFX *pfx;

    if (data == NULL || len == 0 || len > LONG_MAX)
        return NULL;
    pfx = (KZ_P12_PFX *)ASN1_item_d2i(NULL, &p, (long)len,
                                      ASN1_ITEM_rptr(KZ_P12_PFX));
    if (pfx != NULL && p != data + len) {
        pfx_free(pfx);
        return NULL;
    }
    return pfx;
}

/* The encoded AuthenticatedSafe, which is also what the MAC covers. In
 * public-key integrity mode it sits inside a SignedData; that signature is
 * not checked (there is no trust anchor for it), so such a file is treated
 * like one without a MAC. */
static const ASN1_OCTET_STRING *pfx_content(const KZ_P12_PFX *pfx)
{
    const PKCS7 *p7 = pfx->authsafe;

    if (PKCS7_type_is_signed(p7)) {
        if (p7->d.sign == NULL || p7->d.sign->contents == NULL)
            return NULL;
        p7 = p7->d.sign->contents;
    }
    if (!PKCS7_type_is_data(p7))
        return NULL;
    return p7->d.data;
}

int kz_p12_probe(const unsigned char *data, size_t len)
{
    KZ_P12_PFX *pfx;
    int ok;

    ERR_set_mark();
    pfx = pfx_parse(data, len);
    ok = pfx != NULL && pfx_content(pfx) != NULL;
    pfx_free(pfx);
    ERR_pop_to_mark();
    return ok;
}

/* OpenSSL reports running out of memory only through its error queue, and
 * then not always (3.0's providers say "initialization error"); what is
 * flagged becomes CKR_HOST_MEMORY, the rest falls to `otherwise`, which is
 * never CKR_PIN_INCORRECT. Drains the queue. */
static CK_RV openssl_failure(CK_RV otherwise)
{
    unsigned long e;
    CK_RV rv = otherwise;

    while ((e = ERR_get_error()) != 0)
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
            rv = CKR_HOST_MEMORY;
    return rv;
}

/* A part or key bag that would not decrypt. Once the MAC has vouched for the
 * password that means a broken file. Without a MAC, a wrong password shows
 * as bad padding or as plaintext that does not decode; only those two count
 * as CKR_PIN_INCORRECT, so that a failure to derive the key (an unsupported
 * algorithm, memory) is not blamed on the user. Drains the queue. */
static CK_RV decrypt_failure(int authenticated)
{
    unsigned long e;
    int oom = 0, bad_plaintext = 0;

    while ((e = ERR_get_error()) != 0) {
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
            oom = 1;
        else if (ERR_GET_LIB(e) == ERR_LIB_PKCS12
                 && (ERR_GET_REASON(e) == PKCS12_R_PKCS12_CIPHERFINAL_ERROR
                     || ERR_GET_REASON(e) == PKCS12_R_DECODE_ERROR))
            bad_plaintext = 1;
    }
    if (oom)
        return CKR_HOST_MEMORY;
    return !authenticated && bad_plaintext ? CKR_PIN_INCORRECT
                                           : CKR_DEVICE_ERROR;
}

/* RFC 7292 appendix B MAC. CKR_PIN_INCORRECT only when a MAC was actually
 * computed and differs; anything that stops the computation is the file's
 * fault (or memory), never the password's. */
static CK_RV mac_check(const KZ_P12_MACDATA *mac,
                       const ASN1_OCTET_STRING *content,
                       const char *pass, int pass_len, OSSL_LIB_CTX *libctx)
{
    const X509_ALGOR *alg;
    const ASN1_OCTET_STRING *want;
    const ASN1_OBJECT *oid;
    EVP_MD *md = NULL;
    unsigned char key[EVP_MAX_MD_SIZE];
    unsigned char got[EVP_MAX_MD_SIZE];
    size_t got_len = 0;
    int64_t iter = 1;
    int nid, md_len;
    CK_RV rv = CKR_DEVICE_ERROR;

    X509_SIG_get0(mac->dinfo, &alg, &want);
    X509_ALGOR_get0(&oid, NULL, NULL, alg);
    nid = OBJ_obj2nid(oid);
    /* OpenSSL keys GOST-hash MACs with PBKDF2 rather than the RFC 7292 KDF;
     * only the RFC scheme is implemented here (NCA files use SHA-1). PBMAC1
     * has no digest NID and fails the fetch below. */
    if (nid == NID_undef || nid == NID_id_GostR3411_94
        || nid == NID_id_GostR3411_2012_256
        || nid == NID_id_GostR3411_2012_512)
        return CKR_DEVICE_ERROR;
    if (mac->iter != NULL
        && (!ASN1_INTEGER_get_int64(&iter, mac->iter)
            || iter < 1 || iter > KZ_P12_MAX_MAC_ITER))
        return openssl_failure(CKR_DEVICE_ERROR);

    md = EVP_MD_fetch(libctx, OBJ_nid2sn(nid), NULL);
    if (md == NULL)
        return openssl_failure(CKR_DEVICE_ERROR);
    md_len = EVP_MD_get_size(md);
    if (md_len <= 0 || md_len > EVP_MAX_MD_SIZE || want->length != md_len)
        goto done;

    if (!PKCS12_key_gen_utf8_ex(pass, pass_len, mac->salt->data,
                                mac->salt->length, PKCS12_MAC_ID, (int)iter,
                                md_len, key, md, libctx, NULL)
        || EVP_Q_mac(libctx, "HMAC", NULL, EVP_MD_get0_name(md), NULL,
                     key, (size_t)md_len, content->data,
                     (size_t)content->length, got, sizeof(got),
                     &got_len) == NULL) {
        rv = openssl_failure(CKR_DEVICE_ERROR);
        goto done;
    }
    rv = got_len == (size_t)md_len
                 && CRYPTO_memcmp(got, want->data, (size_t)md_len) == 0
             ? CKR_OK
             : CKR_PIN_INCORRECT;

done:
    OPENSSL_cleanse(key, sizeof(key));
    EVP_MD_free(md);
    return rv;
}

/* Moves every bag of every readable part into one list, decrypting the
 * password-encrypted parts. Enveloped parts need a private key and are
 * skipped. */
static CK_RV collect_bags(STACK_OF(PKCS7) *safes, const char *pass,
                          int pass_len, OSSL_LIB_CTX *libctx,
                          int authenticated, STACK_OF(PKCS12_SAFEBAG) *all)
{
    int i;

    for (i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
        PKCS12_SAFEBAG *bag;

        if (PKCS7_type_is_data(p7)) {
            if (p7->d.data == NULL)
                return CKR_DEVICE_ERROR;
            bags = ASN1_item_unpack(p7->d.data,
                                    ASN1_ITEM_rptr(PKCS12_SAFEBAGS));
            if (bags == NULL)
                return openssl_failure(CKR_DEVICE_ERROR);
        } else if (PKCS7_type_is_encrypted(p7)) {
            const PKCS7_ENC_CONTENT *enc;

            if (p7->d.encrypted == NULL
                || (enc = p7->d.encrypted->enc_data) == NULL
                || enc->algorithm == NULL || enc->enc_data == NULL)
                return CKR_DEVICE_ERROR;
            /* Decrypted with zeroing: some writers put a plain keyBag here. */
            bags = PKCS12_item_decrypt_d2i_ex(enc->algorithm,
                                              ASN1_ITEM_rptr(PKCS12_SAFEBAGS),
                                              pass, pass_len, enc->enc_data,
                                              1, libctx, NULL);
            if (bags == NULL)
                return decrypt_failure(authenticated);
        } else {
            continue;
        }

        while ((bag = sk_PKCS12_SAFEBAG_shift(bags)) != NULL) {
            if (sk_PKCS12_SAFEBAG_push(all, bag) <= 0) {
                PKCS12_SAFEBAG_free(bag);
                sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
                return CKR_HOST_MEMORY;
            }
        }
        sk_PKCS12_SAFEBAG_free(bags);
    }
    return CKR_OK;
}

static const ASN1_OCTET_STRING *bag_local_key_id(const PKCS12_SAFEBAG *bag)
{
    const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);

    return t != NULL && t->type == V_ASN1_OCTET_STRING ? t->value.octet_string
                                                       : NULL;
}

/* NCA files hold one key; should a file hold several, the first is the one
 * the token shows. */
static const PKCS12_SAFEBAG *find_key_bag(const STACK_OF(PKCS12_SAFEBAG) *bags)
{
    int i;

    for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
        int nid = PKCS12_SAFEBAG_get_nid(bag);

        if (nid == NID_keyBag || nid == NID_pkcs8ShroudedKeyBag)
            return bag;
    }
    return NULL;
}

/* Files with a chain carry the CA certificates too; the key's own one is
 * marked with the key's localKeyID. Failing that, the first is taken. */
static const PKCS12_SAFEBAG *find_cert_bag(const STACK_OF(PKCS12_SAFEBAG) *bags,
                                           const ASN1_OCTET_STRING *key_id)
{
    const PKCS12_SAFEBAG *first = NULL;
    int i;

    for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
        const ASN1_OCTET_STRING *id;

        if (PKCS12_SAFEBAG_get_nid(bag) != NID_certBag
            || PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
            continue;
        if (first == NULL)
            first = bag;
        id = bag_local_key_id(bag);
        if (key_id != NULL && id != NULL
            && ASN1_OCTET_STRING_cmp(id, key_id) == 0)
            return bag;
    }
    return first;
}

static CK_RV pkcs8_encode(const PKCS8_PRIV_KEY_INFO *p8, kz_p12_contents *out)
{
    unsigned char *buf, *p;
    int n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);

    if (n <= 0)
        return openssl_failure(CKR_DEVICE_ERROR);
    buf = OPENSSL_malloc((size_t)n);
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    p = buf;
    if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != n) {
        OPENSSL_clear_free(buf, (size_t)n);
        return openssl_failure(CKR_DEVICE_ERROR);
    }
    out->pkcs8_der = buf;
    out->pkcs8_len = (size_t)n;
    return CKR_OK;
}

static CK_RV cert_encode(const PKCS12_SAFEBAG *bag, kz_p12_contents *out)
{
    X509 *x = PKCS12_SAFEBAG_get1_cert(bag);
    unsigned char *der = NULL;
    int n;

    if (x == NULL)
        return openssl_failure(CKR_DEVICE_ERROR);
    n = i2d_X509(x, &der);
    X509_free(x);
    if (n <= 0)
        return openssl_failure(CKR_DEVICE_ERROR);
    out->cert_der = der;
    out->cert_len = (size_t)n;
    return CKR_OK;
}

/* A localKeyID longer than the output field is left out rather than cut:
 * a shortened ID would match nothing. A friendlyName that is too long is
 * cut at a character boundary, since it is only a label. */
static CK_RV key_attributes(const PKCS12_SAFEBAG *bag, kz_p12_contents *out)
{
    const ASN1_OCTET_STRING *id = bag_local_key_id(bag);
    char *name;
    size_t n;

    if (id != NULL && id->length > 0
        && (size_t)id->length <= sizeof(out->local_key_id)) {
        memcpy(out->local_key_id, id->data, (size_t)id->length);
        out->local_key_id_len = (size_t)id->length;
    }

    if (PKCS12_SAFEBAG_get0_attr(bag, NID_friendlyName) == NULL)
        return CKR_OK;
    /* The getter takes a non-const bag but only reads it. */
    name = PKCS12_get_friendlyname((PKCS12_SAFEBAG *)bag);
    if (name == NULL)
        return openssl_failure(CKR_OK);
    n = strlen(name);
    if (n >= sizeof(out->friendly_name)) {
        n = sizeof(out->friendly_name) - 1;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out->friendly_name, name, n);
    out->friendly_name[n] = '\0';
    OPENSSL_free(name);
    return CKR_OK;
}

CK_RV kz_p12_open(const unsigned char *data, size_t len,
                  const char *pass, size_t pass_len,
                  OSSL_LIB_CTX *libctx, kz_p12_contents *out)
{
    KZ_P12_PFX *pfx = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    PKCS8_PRIV_KEY_INFO *decrypted = NULL;
    const PKCS8_PRIV_KEY_INFO *p8;
    const PKCS12_SAFEBAG *key_bag, *cert_bag;
    const ASN1_OCTET_STRING *content;
    char *pass_buf = NULL;
    const char *pw;
    int pw_len, authenticated;
    CK_RV rv;

    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    memset(out, 0, sizeof(*out));
    /* The BMPString form of the password doubles its length in an int. */
    if ((pass == NULL && pass_len != 0) || pass_len > INT_MAX / 4)
        return CKR_ARGUMENTS_BAD;
    pw_len = (int)pass_len;

    /* Stale entries would confuse openssl_failure(). */
    ERR_clear_error();

    pass_buf = OPENSSL_malloc(pass_len + 1);
    if (pass_buf == NULL) {
        rv = CKR_HOST_MEMORY;
        goto done;
    }
    if (pass_len > 0)
        memcpy(pass_buf, pass, pass_len);
    pass_buf[pass_len] = '\0';
    pw = pass_buf;

    pfx = pfx_parse(data, len);
    if (pfx == NULL) {
        rv = openssl_failure(CKR_DEVICE_ERROR);
        goto done;
    }
    content = pfx_content(pfx);
    if (content == NULL) {
        rv = CKR_DEVICE_ERROR;
        goto done;
    }

    authenticated = pfx->mac != NULL;
    if (authenticated) {
        rv = mac_check(pfx->mac, content, pw, pw_len, libctx);
        /* An empty password is written by some tools as an empty BMPString
         * (two zero bytes) and by others as no bytes at all; whichever the
         * MAC confirms is used for the decryption too. */
        if (rv == CKR_PIN_INCORRECT && pass_len == 0
            && (rv = mac_check(pfx->mac, content, NULL, 0, libctx)) == CKR_OK)
            pw = NULL;
        if (rv != CKR_OK)
            goto done;
    }

    safes = ASN1_item_unpack(content, ASN1_ITEM_rptr(PKCS12_AUTHSAFES));
    if (safes == NULL) {
        rv = openssl_failure(CKR_DEVICE_ERROR);
        goto done;
    }
    bags = sk_PKCS12_SAFEBAG_new_null();
    if (bags == NULL) {
        rv = CKR_HOST_MEMORY;
        goto done;
    }
    rv = collect_bags(safes, pw, pw_len, libctx, authenticated, bags);
    if (rv != CKR_OK)
        goto done;

    key_bag = find_key_bag(bags);
    if (key_bag == NULL) {
        /* No bags at all is an empty container (made by C_InitToken and
         * awaiting its key): valid, with nothing in it. A file with bags
         * but no key is not a key container. */
        rv = sk_PKCS12_SAFEBAG_num(bags) == 0 ? CKR_OK : CKR_DEVICE_ERROR;
        goto done;
    }
    if (PKCS12_SAFEBAG_get_nid(key_bag) == NID_pkcs8ShroudedKeyBag) {
        decrypted = PKCS12_decrypt_skey_ex(key_bag, pw, pw_len, libctx, NULL);
        if (decrypted == NULL) {
            rv = decrypt_failure(authenticated);
            goto done;
        }
        p8 = decrypted;
    } else {
        p8 = PKCS12_SAFEBAG_get0_p8inf(key_bag);
        if (p8 == NULL) {
            rv = CKR_DEVICE_ERROR;
            goto done;
        }
    }

    rv = pkcs8_encode(p8, out);
    if (rv == CKR_OK)
        rv = key_attributes(key_bag, out);
    if (rv == CKR_OK) {
        cert_bag = find_cert_bag(bags, bag_local_key_id(key_bag));
        if (cert_bag != NULL)
            rv = cert_encode(cert_bag, out);
    }

done:
    /* PKCS8_PRIV_KEY_INFO_free wipes the key octets; so does freeing a
     * keyBag inside the bag list. */
    PKCS8_PRIV_KEY_INFO_free(decrypted);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    pfx_free(pfx);
    OPENSSL_clear_free(pass_buf, pass_len + 1);
    ERR_clear_error();
    if (rv != CKR_OK)
        kz_p12_contents_clear(out);
    return rv;
}

void kz_p12_contents_clear(kz_p12_contents *c)
{
    if (c == NULL)
        return;
    OPENSSL_clear_free(c->pkcs8_der, c->pkcs8_len);
    OPENSSL_free(c->cert_der);
    OPENSSL_cleanse(c, sizeof(*c));
}
