/* keygen: a key pair generated on the token, the first step of an NCA
 * application. */
#include "p11.h"
#include "tokenkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/objects.h>

static const struct alg {
    const char *name;
    CK_MECHANISM_TYPE mech;
    CK_ULONG bits;              /* RSA */
    const char *curve, *hash;   /* GOST: TC26 OIDs, which every GOST module knows */
} algs[] = {
    { "rsa2048", CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, NULL, NULL },
    { "rsa3072", CKM_RSA_PKCS_KEY_PAIR_GEN, 3072, NULL, NULL },
    { "rsa4096", CKM_RSA_PKCS_KEY_PAIR_GEN, 4096, NULL, NULL },
    { "gost2015-256", CKM_GOSTR3410_KEY_PAIR_GEN, 0, "1.2.643.7.1.2.1.1.1", "1.2.643.7.1.1.2.2" },
    { "gost2015-512", CKM_GOSTR3410_512_KEY_PAIR_GEN, 0, "1.2.643.7.1.2.1.2.1", "1.2.643.7.1.1.2.3" },
};

/* DER of a dotted OID, malloc'd by OpenSSL. */
static int oid_der(const char *dotted, unsigned char **der)
{
    ASN1_OBJECT *o = OBJ_txt2obj(dotted, 1);
    int n = o ? i2d_ASN1_OBJECT(o, der) : -1;

    ASN1_OBJECT_free(o);
    return n;
}

static const struct alg *find_alg(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        if (strcmp(algs[i].name, name) == 0)
            return &algs[i];
    return NULL;
}

int kzt_cmd_keygen(const kzt_opts *o)
{
    static CK_BBOOL yes = CK_TRUE;
    static CK_BYTE f4[] = { 0x01, 0x00, 0x01 };
    const struct alg *a = find_alg(o->alg);
    CK_ATTRIBUTE pub[12], priv[12];
    CK_ULONG np = 0, nv = 0, bits;
    CK_MECHANISM mech = { 0, NULL, 0 };
    CK_OBJECT_HANDLE hpub, hpriv;
    CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
    CK_SLOT_ID slot;
    unsigned char *id = NULL, *curve = NULL, *hash = NULL;
    size_t id_len = 0;
    int curve_len = 0, hash_len = 0, rc;
    kzt_p11 m;
    CK_RV rv;

    if (!a) {
        kzt_err("unknown --alg '%s' (rsa2048, rsa3072, rsa4096, gost2015-256, gost2015-512)", o->alg);
        return KZT_EUSAGE;
    }
    if (o->id_hex && kzt_hex_decode(o->id_hex, &id, &id_len) != 0) {
        kzt_err("--id must be hex digits");
        return KZT_EUSAGE;
    }
    mech.mechanism = a->mech;

    kzt_add_attr(pub, &np, CKA_TOKEN, &yes, sizeof(yes));
    kzt_add_attr(pub, &np, CKA_VERIFY, &yes, sizeof(yes));
    kzt_add_attr(priv, &nv, CKA_TOKEN, &yes, sizeof(yes));
    kzt_add_attr(priv, &nv, CKA_PRIVATE, &yes, sizeof(yes));
    kzt_add_attr(priv, &nv, CKA_SENSITIVE, &yes, sizeof(yes));
    kzt_add_attr(priv, &nv, CKA_SIGN, &yes, sizeof(yes));
    if (a->bits) {
        bits = a->bits;
        kzt_add_attr(pub, &np, CKA_MODULUS_BITS, &bits, sizeof(bits));
        kzt_add_attr(pub, &np, CKA_PUBLIC_EXPONENT, f4, sizeof(f4));
        /* The NCA's AUTH_RSA256 certificates allow keyEncipherment. */
        kzt_add_attr(pub, &np, CKA_ENCRYPT, &yes, sizeof(yes));
        kzt_add_attr(priv, &nv, CKA_DECRYPT, &yes, sizeof(yes));
    } else {
        curve_len = oid_der(a->curve, &curve);
        hash_len = oid_der(a->hash, &hash);
        if (curve_len <= 0 || hash_len <= 0) {
            kzt_err("cannot encode the curve OID");
            rc = KZT_ETOKEN;
            goto out_nomod;
        }
        kzt_add_attr(pub, &np, CKA_GOSTR3410_PARAMS, curve, curve_len);
        kzt_add_attr(pub, &np, CKA_GOSTR3411_PARAMS, hash, hash_len);
    }
    if (id) {
        kzt_add_attr(pub, &np, CKA_ID, id, id_len);
        kzt_add_attr(priv, &nv, CKA_ID, id, id_len);
    }
    if (o->label) {
        kzt_add_attr(pub, &np, CKA_LABEL, o->label, strlen(o->label));
        kzt_add_attr(priv, &nv, CKA_LABEL, o->label, strlen(o->label));
    }

    if ((rc = kzt_token_begin(&m, o, 1, 1, &slot, &sess)) != KZT_OK)
        goto out_nomod;
    rv = m.f->C_GenerateKeyPair(sess, &mech, pub, np, priv, nv, &hpub, &hpriv);
    if (rv != CKR_OK) {
        rc = kzt_p11_fail("generating the key pair", rv);
    } else {
        unsigned char *kid = NULL;
        CK_ULONG kid_len = 0;
        char *hex = NULL;

        if (kzt_attr(&m, sess, hpriv, CKA_ID, &kid, &kid_len) == CKR_OK && kid_len)
            hex = kzt_hex_encode(kid, kid_len);
        printf("Generated a %s key pair on token '%s'%s%s%s.\n", a->name, o->token,
               hex ? " (id " : "", hex ? hex : "", hex ? ")" : "");
        printf("Next: kzp11-tool req --token '%s' --subject '...' --out request.pem\n", o->token);
        free(hex);
        free(kid);
    }
    kzt_token_end(&m, sess);

out_nomod:
    OPENSSL_free(curve);
    OPENSSL_free(hash);
    free(id);
    ERR_clear_error();
    return rc;
}
