/* req: a PKCS#10 request for the token's key, signed on the token. */
#include "certfile.h"
#include "csr.h"
#include "p11.h"
#include "subject.h"
#include "tokenkey.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>

typedef struct {
    kzt_p11 *m;
    CK_SESSION_HANDLE sess;
    CK_OBJECT_HANDLE key;
} sign_ctx;

static int token_sign(void *vctx, CK_MECHANISM_TYPE mech_type, const unsigned char *tbs,
                      size_t tbs_len, unsigned char **sig, size_t *sig_len)
{
    sign_ctx *c = vctx;
    CK_MECHANISM mech = { mech_type, NULL, 0 };
    CK_ULONG n = 0;
    CK_RV rv;

    *sig = NULL;
    *sig_len = 0;
    rv = c->m->f->C_SignInit(c->sess, &mech, c->key);
    if (rv == CKR_OK)
        rv = c->m->f->C_Sign(c->sess, (CK_BYTE_PTR)tbs, (CK_ULONG)tbs_len, NULL, &n);
    if (rv == CKR_OK) {
        *sig = malloc(n ? n : 1);
        if (!*sig)
            rv = CKR_HOST_MEMORY;
    }
    if (rv == CKR_OK)
        rv = c->m->f->C_Sign(c->sess, (CK_BYTE_PTR)tbs, (CK_ULONG)tbs_len, *sig, &n);
    if (rv != CKR_OK) {
        free(*sig);
        *sig = NULL;
        return kzt_p11_fail("signing the request on the token", rv);
    }
    *sig_len = n;
    return KZT_OK;
}

static int write_req(X509_REQ *req, const char *path, int der)
{
    BIO *b = BIO_new(BIO_s_mem());
    unsigned char *buf = NULL;
    char *mem;
    long len = 0;
    int ok = 0, n;

    if (der) {
        n = i2d_X509_REQ(req, &buf);
        if (n > 0)
            ok = kzt_write_file(path, buf, (size_t)n) == 0;
        else
            errno = ENOMEM;
    } else if (b && PEM_write_bio_X509_REQ(b, req)) {
        len = BIO_get_mem_data(b, &mem);
        ok = kzt_write_file(path, (unsigned char *)mem, (size_t)len) == 0;
    } else {
        errno = ENOMEM;
    }
    OPENSSL_free(buf);
    BIO_free(b);
    if (!ok) {
        kzt_err("cannot write the request to %s: %s", path ? path : "standard output", strerror(errno));
        return KZT_EIO;
    }
    return KZT_OK;
}

int kzt_cmd_req(const kzt_opts *o)
{
    char err[256];
    X509_NAME *subject;
    X509_REQ *req = NULL;
    kzt_tokkey *keys = NULL, *key;
    size_t nkeys = 0, id_len = 0;
    unsigned char *id = NULL;
    CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
    CK_SLOT_ID slot;
    kzt_p11 m;
    sign_ctx sc;
    int rc;

    /* The subject is checked before the token is touched, so a typo costs
     * no password prompt. */
    subject = kzt_subject_parse(o->subject, err, sizeof(err));
    if (!subject) {
        kzt_err("bad --subject: %s", err);
        return KZT_EUSAGE;
    }
    if (o->id_hex && kzt_hex_decode(o->id_hex, &id, &id_len) != 0) {
        kzt_err("--id must be hex digits");
        X509_NAME_free(subject);
        return KZT_EUSAGE;
    }
    if ((rc = kzt_token_begin(&m, o, 0, 1, &slot, &sess)) != KZT_OK)
        goto out;
    rc = kzt_keys_load(&m, sess, &keys, &nkeys);
    if (rc == KZT_OK)
        rc = kzt_key_pick(keys, nkeys, id, id_len, o->token, &key);
    if (rc == KZT_OK) {
        sc.m = &m;
        sc.sess = sess;
        sc.key = key->priv;
        rc = kzt_csr_build(subject, key, token_sign, &sc, &req);
    }
    kzt_keys_free(keys, nkeys);
    kzt_token_end(&m, sess);
    if (rc == KZT_OK) {
        rc = write_req(req, o->out, o->der);
        if (rc == KZT_OK && o->out)
            fprintf(stderr, "Wrote the certificate request to %s.\n", o->out);
    }

out:
    X509_REQ_free(req);
    X509_NAME_free(subject);
    free(id);
    ERR_clear_error();
    return rc;
}
