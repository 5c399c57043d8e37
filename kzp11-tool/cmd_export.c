/* export-cert: the token's certificate as PEM or DER. */
#include "certfile.h"
#include "p11.h"
#include "pin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#define MAX_CERTS 16

static CK_RV find_certs(kzt_p11 *m, CK_SESSION_HANDLE sess, const unsigned char *id, size_t id_len,
                        CK_OBJECT_HANDLE *h, CK_ULONG *n)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ctype = CKC_X_509;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
        { CKA_ID, (void *)id, (CK_ULONG)id_len },
    };

    return kzt_find(m, sess, t, id ? 3 : 2, h, MAX_CERTS, n);
}

static int write_cert(const unsigned char *der, size_t len, const char *path, int as_der)
{
    const unsigned char *p = der;
    X509 *x = NULL;
    BIO *b = NULL;
    char *mem;
    long n;
    int ok = 0;

    if (as_der) {
        ok = kzt_write_file(path, der, len) == 0;
    } else if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
        kzt_err("the token's certificate is not valid DER");
        ERR_clear_error();
        return KZT_ETOKEN;
    } else if ((b = BIO_new(BIO_s_mem())) != NULL && PEM_write_bio_X509(b, x)) {
        n = BIO_get_mem_data(b, &mem);
        ok = kzt_write_file(path, (unsigned char *)mem, (size_t)n) == 0;
    } else {
        errno = ENOMEM;
    }
    X509_free(x);
    BIO_free(b);
    if (!ok) {
        kzt_err("cannot write the certificate to %s: %s", path ? path : "standard output",
                strerror(errno));
        return KZT_EIO;
    }
    return KZT_OK;
}

int kzt_cmd_export_cert(const kzt_opts *o)
{
    CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h[MAX_CERTS];
    CK_ULONG n = 0, len = 0;
    CK_SLOT_ID slot;
    unsigned char *id = NULL, *der = NULL;
    size_t id_len = 0;
    int login = kzt_pin_configured(o->pin_file, "KZP11_PIN"), rc;
    kzt_p11 m;
    CK_RV rv;

    if (o->id_hex && kzt_hex_decode(o->id_hex, &id, &id_len) != 0) {
        kzt_err("--id must be hex digits");
        return KZT_EUSAGE;
    }
    if ((rc = kzt_token_begin(&m, o, 0, login, &slot, &sess)) != KZT_OK)
        goto out_nomod;
    rv = find_certs(&m, sess, id, id_len, h, &n);
    /* Tokens like kzp11's file containers show nothing before login: the
     * certificate is encrypted under the password too. */
    if (rv == CKR_OK && n == 0 && !login) {
        if ((rc = kzt_login(&m, sess, o->token, o)) != KZT_OK)
            goto out;
        rv = find_certs(&m, sess, id, id_len, h, &n);
    }
    if (rv != CKR_OK) {
        rc = kzt_p11_fail("searching for certificates", rv);
        goto out;
    }
    if (n == 0) {
        kzt_err("token '%s' has no certificate%s", o->token, id ? " with that --id" : "");
        rc = KZT_ETOKEN;
        goto out;
    }
    if (n > 1) {
        kzt_err("token '%s' has %lu certificates: choose one with --id", o->token, (unsigned long)n);
        rc = KZT_EUSAGE;
        goto out;
    }
    rv = kzt_attr(&m, sess, h[0], CKA_VALUE, &der, &len);
    if (rv != CKR_OK) {
        rc = kzt_p11_fail("reading the certificate", rv);
        goto out;
    }
    rc = write_cert(der, len, o->out, o->der);

out:
    kzt_token_end(&m, sess);
out_nomod:
    free(der);
    free(id);
    return rc;
}
