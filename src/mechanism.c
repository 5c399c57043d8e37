#include "mechanism.h"
#include "gost_keys.h"

#include <stddef.h>

#define SIGN_FLAGS (CKF_SIGN | CKF_VERIFY)
#define CRYPT_FLAGS (CKF_ENCRYPT | CKF_DECRYPT)

static const kz_mech mechs[] = {
    { CKM_SHA_1, KZ_MECH_DIGEST, 0, 0, 0, 0, { 0, 0, CKF_DIGEST } },
    { CKM_SHA224, KZ_MECH_DIGEST, 0, 0, 0, 0, { 0, 0, CKF_DIGEST } },
    { CKM_SHA256, KZ_MECH_DIGEST, 0, 0, 0, 0, { 0, 0, CKF_DIGEST } },
    { CKM_SHA384, KZ_MECH_DIGEST, 0, 0, 0, 0, { 0, 0, CKF_DIGEST } },
    { CKM_SHA512, KZ_MECH_DIGEST, 0, 0, 0, 0, { 0, 0, CKF_DIGEST } },
    { CKM_GOSTR3411, KZ_MECH_DIGEST, 0, 0, 0, 0, { 0, 0, CKF_DIGEST } },
    { CKM_GOSTR3411_2012_256, KZ_MECH_DIGEST, 0, 0, 0, 0, { 0, 0, CKF_DIGEST } },
    { CKM_GOSTR3411_2012_512, KZ_MECH_DIGEST, 0, 0, 0, 0, { 0, 0, CKF_DIGEST } },

    { CKM_RSA_PKCS, KZ_MECH_SIGN, CKK_RSA, 0, KZ_SIG_RSA_PKCS1, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA1_RSA_PKCS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA_1, KZ_SIG_RSA_PKCS1, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA224_RSA_PKCS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA224, KZ_SIG_RSA_PKCS1, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA256_RSA_PKCS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA256, KZ_SIG_RSA_PKCS1, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA384_RSA_PKCS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA384, KZ_SIG_RSA_PKCS1, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA512_RSA_PKCS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA512, KZ_SIG_RSA_PKCS1, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_RSA_PKCS_PSS, KZ_MECH_SIGN, CKK_RSA, 0, KZ_SIG_RSA_PSS, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA1_RSA_PKCS_PSS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA_1, KZ_SIG_RSA_PSS, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA224_RSA_PKCS_PSS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA224, KZ_SIG_RSA_PSS, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA256_RSA_PKCS_PSS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA256, KZ_SIG_RSA_PSS, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA384_RSA_PKCS_PSS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA384, KZ_SIG_RSA_PSS, 0, { 1024, 8192, SIGN_FLAGS } },
    { CKM_SHA512_RSA_PKCS_PSS, KZ_MECH_SIGN, CKK_RSA, CKM_SHA512, KZ_SIG_RSA_PSS, 0, { 1024, 8192, SIGN_FLAGS } },

    /* GOST: the raw mechanisms sign a digest; the others hash on the host.
     * CKM_GOSTR3410_WITH_GOSTR3411 takes its hash from the key's
     * CKA_GOSTR3411_PARAMS (KZ_HASH_FROM_KEY). */
    { CKM_GOSTR3410, KZ_MECH_SIGN, CKK_GOSTR3410, 0, KZ_SIG_GOST, 0, { 256, 256, SIGN_FLAGS } },
    { CKM_GOSTR3410_512, KZ_MECH_SIGN, CKK_GOSTR3410_512, 0, KZ_SIG_GOST, 0, { 512, 512, SIGN_FLAGS } },
    { CKM_GOSTR3410_WITH_GOSTR3411, KZ_MECH_SIGN, CKK_GOSTR3410, KZ_HASH_FROM_KEY, KZ_SIG_GOST, 0,
      { 256, 256, SIGN_FLAGS } },
    { CKM_GOSTR3410_WITH_GOSTR3411_2012_256, KZ_MECH_SIGN, CKK_GOSTR3410, CKM_GOSTR3411_2012_256,
      KZ_SIG_GOST, 0, { 256, 256, SIGN_FLAGS } },
    { CKM_GOSTR3410_WITH_GOSTR3411_2012_512, KZ_MECH_SIGN, CKK_GOSTR3410_512, CKM_GOSTR3411_2012_512,
      KZ_SIG_GOST, 0, { 512, 512, SIGN_FLAGS } },
    { CKM_RSA_PKCS_KEY_PAIR_GEN, KZ_MECH_KEYGEN, CKK_RSA, 0, 0, 0, { 2048, 4096, CKF_GENERATE_KEY_PAIR } },
    { CKM_GOSTR3410_KEY_PAIR_GEN, KZ_MECH_KEYGEN, CKK_GOSTR3410, 0, 0, 0,
      { 256, 256, CKF_GENERATE_KEY_PAIR } },
    { CKM_GOSTR3410_512_KEY_PAIR_GEN, KZ_MECH_KEYGEN, CKK_GOSTR3410_512, 0, 0, 0,
      { 512, 512, CKF_GENERATE_KEY_PAIR } },

    /* CKM_RSA_PKCS appears once above for signing; its decrypt entry is
     * looked up by kind (see kz_mech_find_kind). */
    { CKM_RSA_PKCS_OAEP, KZ_MECH_CRYPT, CKK_RSA, 0, 0, KZ_ENC_RSA_OAEP, { 1024, 8192, CRYPT_FLAGS } },
};

static const kz_mech rsa_pkcs_crypt =
    { CKM_RSA_PKCS, KZ_MECH_CRYPT, CKK_RSA, 0, 0, KZ_ENC_RSA_PKCS1, { 1024, 8192, CRYPT_FLAGS } };

static const CK_MECHANISM_TYPE host_list[] = {
    CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512,
    CKM_GOSTR3411, CKM_GOSTR3411_2012_256, CKM_GOSTR3411_2012_512,
};

const kz_mech *kz_mech_find(CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
        if (mechs[i].type == type)
            return &mechs[i];
    return NULL;
}

const kz_mech *kz_mech_find_kind(CK_MECHANISM_TYPE type, kz_mech_kind kind)
{
    const kz_mech *m;

    if (type == CKM_RSA_PKCS && kind == KZ_MECH_CRYPT)
        return &rsa_pkcs_crypt;
    m = kz_mech_find(type);
    return m && m->kind == kind ? m : NULL;
}

CK_FLAGS kz_mech_flags(CK_MECHANISM_TYPE type)
{
    const kz_mech *m = kz_mech_find(type);
    CK_FLAGS f = m ? m->info.flags : 0;

    if (type == CKM_RSA_PKCS)
        f |= rsa_pkcs_crypt.info.flags;
    return f;
}

void kz_mech_host_list(const CK_MECHANISM_TYPE **list, size_t *n)
{
    *list = host_list;
    *n = sizeof(host_list) / sizeof(host_list[0]);
}

CK_RV kz_mech_sig_params(const kz_mech *m, const CK_MECHANISM *mech, kz_sig_params *out)
{
    out->scheme = m->sig;
    out->hash = m->host_hash;
    out->mgf_hash = 0;
    out->salt_len = 0;
    if (m->sig == KZ_SIG_GOST) {
        /* Raw GOST signs a digest and the 2012 mechanisms name their hash;
         * CKM_GOSTR3410_WITH_GOSTR3411 may name the 34.11-94 parameter set
         * (a DER OID), which then wins over the key's CKA_GOSTR3411_PARAMS. */
        out->hash = 0;
        if (!mech->pParameter && !mech->ulParameterLen)
            return CKR_OK;
        if (m->host_hash != KZ_HASH_FROM_KEY)
            return CKR_MECHANISM_PARAM_INVALID;
        return kz_mech_gost94_digest(mech, &out->hash);
    }
    if (m->sig != KZ_SIG_RSA_PSS)
        return mech->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;

    const CK_RSA_PKCS_PSS_PARAMS *pss = mech->pParameter;
    if (!pss || mech->ulParameterLen != sizeof(*pss))
        return CKR_MECHANISM_PARAM_INVALID;
    /* For the hash-and-sign variants the parameter hash must be the
     * mechanism's own (PKCS#11 2.40 §2.1.14). */
    if (!kz_crypto_md(pss->hashAlg) || (m->host_hash && pss->hashAlg != m->host_hash))
        return CKR_MECHANISM_PARAM_INVALID;
    out->hash = pss->hashAlg;
    out->mgf_hash = kz_crypto_mgf_hash(pss->mgf);
    if (!out->mgf_hash)
        return CKR_MECHANISM_PARAM_INVALID;
    out->salt_len = pss->sLen;
    if (pss->sLen > 1024)
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

CK_RV kz_mech_enc_params(const kz_mech *m, const CK_MECHANISM *mech, kz_enc_params *out)
{
    const CK_RSA_PKCS_OAEP_PARAMS *oaep;

    out->scheme = m->enc;
    out->hash = out->mgf_hash = 0;
    out->label = NULL;
    out->label_len = 0;
    if (m->enc != KZ_ENC_RSA_OAEP)
        return mech->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
    oaep = mech->pParameter;
    if (!oaep || mech->ulParameterLen != sizeof(*oaep))
        return CKR_MECHANISM_PARAM_INVALID;
    out->hash = oaep->hashAlg;
    out->mgf_hash = kz_crypto_mgf_hash(oaep->mgf);
    if (!kz_crypto_md(out->hash) || !out->mgf_hash)
        return CKR_MECHANISM_PARAM_INVALID;
    if (oaep->source == CKZ_DATA_SPECIFIED) {
        if (oaep->ulSourceDataLen && !oaep->pSourceData)
            return CKR_MECHANISM_PARAM_INVALID;
        out->label = oaep->pSourceData;
        out->label_len = oaep->ulSourceDataLen;
    } else if (oaep->source != 0) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    return CKR_OK;
}

CK_RV kz_mech_gost94_digest(const CK_MECHANISM *mech, CK_MECHANISM_TYPE *out)
{
    if (!mech->pParameter || !mech->ulParameterLen) {
        *out = CKM_GOSTR3411;
        return CKR_OK;
    }
    switch (kz_gost_hash_by_oid_der(mech->pParameter, mech->ulParameterLen)) {
    case KZ_GOST_HASH_GOST94_CRYPTOPRO:
        *out = CKM_GOSTR3411;
        return CKR_OK;
    case KZ_GOST_HASH_GOST94_TEST:
        *out = KZ_CKM_GOSTR3411_94_TEST;
        return CKR_OK;
    default:
        return CKR_MECHANISM_PARAM_INVALID;
    }
}
