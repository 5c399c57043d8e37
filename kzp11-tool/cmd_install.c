/* install: the issued certificate goes onto the token, next to its key. */
#include "certfile.h"
#include "p11.h"
#include "tokenkey.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>

int kzt_cmd_install(const kzt_opts *o)
{
    static CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    static CK_CERTIFICATE_TYPE ctype = CKC_X_509;
    static CK_BBOOL yes = CK_TRUE;
    const char *path = o->args[0];
    unsigned char *file = NULL, *der = NULL, *subj = NULL, *issuer = NULL, *serial = NULL;
    int der_len, subj_len, issuer_len, serial_len, rc;
    size_t file_len = 0, nkeys = 0, i;
    kzt_tokkey *keys = NULL, *match = NULL;
    CK_ATTRIBUTE t[8];
    CK_ULONG nt = 0;
    CK_OBJECT_HANDLE obj;
    CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
    CK_SLOT_ID slot;
    CK_TOKEN_INFO ti;
    X509 *x;
    kzt_p11 m;
    CK_RV rv;

    if (kzt_read_file(path, &file, &file_len) != 0) {
        kzt_err("cannot read %s: %s", path, strerror(errno));
        return KZT_EIO;
    }
    x = kzt_cert_from_buffer(file, file_len);
    free(file);
    if (!x) {
        kzt_err("%s is not a certificate (DER, PEM or the NCA's base64 .cer)", path);
        return KZT_EIO;
    }
    /* Re-encoded so a PEM or base64 file gives the token plain DER. */
    der_len = i2d_X509(x, &der);
    subj_len = i2d_X509_NAME(X509_get_subject_name(x), &subj);
    issuer_len = i2d_X509_NAME(X509_get_issuer_name(x), &issuer);
    serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &serial);
    if (der_len <= 0 || subj_len <= 0 || issuer_len <= 0 || serial_len <= 0) {
        kzt_err("cannot encode the certificate (out of memory?)");
        rc = KZT_EIO;
        goto out_nomod;
    }

    if ((rc = kzt_token_begin(&m, o, 1, 1, &slot, &sess)) != KZT_OK)
        goto out_nomod;
    if ((rc = kzt_keys_load(&m, sess, &keys, &nkeys)) != KZT_OK)
        goto out;
    for (i = 0; i < nkeys && !match; i++)
        if (kzt_key_matches_cert(&keys[i], x))
            match = &keys[i];
    if (!match)
        /* Maybe we just could not read the key's public half: the token
         * knows best and refuses a foreign certificate itself. */
        fprintf(stderr, "kzp11-tool: warning: no key on token '%s' matches the certificate; "
                        "the token decides\n", o->token);

    kzt_add_attr(t, &nt, CKA_CLASS, &cls, sizeof(cls));
    kzt_add_attr(t, &nt, CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype));
    kzt_add_attr(t, &nt, CKA_TOKEN, &yes, sizeof(yes));
    kzt_add_attr(t, &nt, CKA_VALUE, der, der_len);
    kzt_add_attr(t, &nt, CKA_SUBJECT, subj, subj_len);
    kzt_add_attr(t, &nt, CKA_ISSUER, issuer, issuer_len);
    kzt_add_attr(t, &nt, CKA_SERIAL_NUMBER, serial, serial_len);
    /* PKCS#11 pairs a certificate with its key by CKA_ID. */
    if (match && match->id)
        kzt_add_attr(t, &nt, CKA_ID, match->id, match->id_len);

    rv = m.f->C_CreateObject(sess, t, nt, &obj);
    if (rv != CKR_OK) {
        rc = kzt_p11_fail("installing the certificate", rv);
        goto out;
    }
    /* A file container takes the NCA's name now, and the token label
     * follows the file name; the slot stays the same. */
    rv = m.f->C_GetTokenInfo(slot, &ti);
    if (rv == CKR_OK) {
        char label[sizeof(ti.label) + 1];

        kzt_field(ti.label, sizeof(ti.label), label);
        printf("Installed the certificate on token '%s'.\n", o->token);
        printf("Token label: %s\n", label);
    } else {
        printf("Installed the certificate on token '%s'.\n", o->token);
    }

out:
    kzt_keys_free(keys, nkeys);
    kzt_token_end(&m, sess);
out_nomod:
    X509_free(x);
    OPENSSL_free(der);
    OPENSSL_free(subj);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    ERR_clear_error();
    return rc;
}
