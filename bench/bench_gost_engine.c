/* bench_gost_engine: the gost-engine baseline for the GOST R 34.10-2012
 * 512-bit signing benchmark, and a verifier for kzp11's GOST signatures.
 *
 *   bench_gost_engine sign [-P PARAMSET] [-t THREADS] [-d SECONDS] [-s SIGFILE]
 *       Generates a 512-bit key with OpenSSL's gost engine on the TC26
 *       parameter set PARAMSET (A, B or C; default A, the curve of the
 *       NCA's GOST 2015 keys) and runs THREADS threads for SECONDS seconds,
 *       all sharing that EVP_PKEY. Every signature is what an application
 *       signing a precomputed digest does, the counterpart of C_SignInit +
 *       C_Sign with CKM_GOSTR3410_512: a fresh EVP_PKEY_CTX on the engine,
 *       EVP_PKEY_sign_init and EVP_PKEY_sign over a 64-byte input (the
 *       same inputs bench_pkcs11 -m gostr3410-512 signs). After the run the
 *       signature of input 0 is verified with the engine (outside timing).
 *       -s writes that signature.
 *
 *   bench_gost_engine verify -c CERT -i INPUT -s SIG [-H]
 *       Verifies with the engine a GOST 2012-512 signature (s || r, 128
 *       bytes) made by another implementation. CERT (PEM or DER) holds the
 *       public key; NCA certificates name it with Kazakh OIDs the engine
 *       does not know, so the key is taken as a TC26-512-A key whatever its
 *       certificate calls it. INPUT is the 64-byte digest that was signed,
 *       or with -H a message hashed here with the engine's Streebog-512.
 *       Exit 0 when the signature is valid, 1 when the engine rejects it,
 *       3 when it could not be checked (no engine, unreadable files, a
 *       certificate without a GOST 2012-512 key).
 *
 * sign ends with one "RESULT key=value ..." line for scripts, in the same
 * format as bench_pkcs11 and bench_openssl. Exit status of sign: 0 ok,
 * 1 failure (including an engine that cannot be loaded), 2 usage. */
#define OPENSSL_SUPPRESS_DEPRECATED   /* the gost engine is only an ENGINE */

#include <unistd.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bench_common.h"

#define MAX_THREADS 64
#define DIGEST_LEN 64           /* Streebog-512 */
#define SIG_LEN 128             /* s || r, 64 bytes each */
#define PUB_LEN 128             /* X || Y, 64 bytes each, little-endian */
#define MAX_FILE_LEN (1 << 20)

static void ossl_fail(const char *what)
{
    fprintf(stderr, "bench_gost_engine: %s failed\n", what);
    ERR_print_errors_fp(stderr);
}

/* The gost engine, initialised. NULL (message printed) if it cannot be
 * loaded. Its key methods are registered too: OpenSSL looks them up by
 * algorithm whenever it makes an EVP_PKEY of a GOST type (the key that
 * EVP_PKEY_keygen returns, the one d2i_PUBKEY decodes), and finds them only
 * in registered engines. */
static ENGINE *gost_engine(void)
{
    ENGINE *e = ENGINE_by_id("gost");

    if (e == NULL || !ENGINE_init(e)) {
        fprintf(stderr, "bench_gost_engine: cannot load the gost engine "
                        "(Debian: libengine-gost-openssl)\n");
        ERR_print_errors_fp(stderr);
        if (e != NULL)
            ENGINE_free(e);
        return NULL;
    }
    if (!ENGINE_register_pkey_asn1_meths(e) || !ENGINE_register_pkey_meths(e)) {
        fprintf(stderr, "bench_gost_engine: cannot register the gost engine's key methods\n");
        ERR_print_errors_fp(stderr);
        ENGINE_finish(e);
        ENGINE_free(e);
        return NULL;
    }
    return e;
}

static void gost_engine_release(ENGINE *e)
{
    ENGINE_finish(e);
    ENGINE_free(e);
}

/* ------------------------------------------------------------------------ */
/* sign mode */

typedef struct gost_cfg {
    ENGINE *e;
    EVP_PKEY *pkey;
    bench_gate gate;
} gost_cfg;

typedef struct gost_worker {
    gost_cfg *cfg;
    pthread_t thread;
    unsigned long count;
    double end;
    int failed;
    unsigned char sig0[SIG_LEN];
    size_t sig0_len;
} gost_worker;

/* One signature over input `counter`; *len is the buffer size in, the
 * signature length out. */
static int sign_one(const gost_cfg *cfg, unsigned long counter, unsigned char *sig, size_t *len)
{
    unsigned char in[DIGEST_LEN];
    EVP_PKEY_CTX *ctx;
    int ok;

    bench_input(counter, in, sizeof(in));
    ctx = EVP_PKEY_CTX_new(cfg->pkey, cfg->e);
    if (ctx == NULL)
        return 0;
    ok = EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_sign(ctx, sig, len, in, sizeof(in)) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void *gost_thread(void *arg)
{
    gost_worker *w = arg;
    unsigned char sig[SIG_LEN];
    unsigned long counter = 1;
    size_t len;
    double deadline;
    int ok;

    /* Warm-up and reference signature. */
    w->sig0_len = sizeof(w->sig0);
    ok = sign_one(w->cfg, 0, w->sig0, &w->sig0_len) && w->sig0_len == SIG_LEN;
    if (!ok)
        w->failed = 1;
    deadline = bench_gate_arrive(&w->cfg->gate, ok);
    if (deadline < 0.0)
        return NULL;
    do {
        len = sizeof(sig);
        if (!sign_one(w->cfg, counter++, sig, &len)) {
            w->failed = 1;
            break;
        }
        w->count++;
    } while (bench_now() < deadline);
    w->end = bench_now();
    return NULL;
}

/* A 512-bit key on TC26 parameter set `paramset`, made by the engine. */
static EVP_PKEY *gost_keygen(ENGINE *e, const char *paramset)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(NID_id_GostR3410_2012_512, e);
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL) {
        ossl_fail("EVP_PKEY_CTX_new_id(id-tc26-gost3410-12-512)");
        return NULL;
    }
    if (EVP_PKEY_keygen_init(ctx) != 1) {
        ossl_fail("EVP_PKEY_keygen_init");
    } else if (EVP_PKEY_CTX_ctrl_str(ctx, "paramset", paramset) <= 0) {
        fprintf(stderr, "bench_gost_engine: the engine refuses paramset '%s'\n", paramset);
        ERR_print_errors_fp(stderr);
    } else if (EVP_PKEY_keygen(ctx, &pkey) != 1) {
        ossl_fail("EVP_PKEY_keygen");
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* 1 if sig is a valid signature of the len-byte digest `in` under pkey,
 * 0 if it is not, -1 if the engine could not check it (message printed). */
static int gost_verify(ENGINE *e, EVP_PKEY *pkey, const unsigned char *in, size_t len,
                       const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, e);
    int r;

    if (ctx == NULL) {
        ossl_fail("EVP_PKEY_CTX_new");
        return -1;
    }
    if (EVP_PKEY_verify_init(ctx) != 1) {
        ossl_fail("EVP_PKEY_verify_init");
        EVP_PKEY_CTX_free(ctx);
        return -1;
    }
    r = EVP_PKEY_verify(ctx, sig, siglen, in, len);
    EVP_PKEY_CTX_free(ctx);
    if (r < 0) {
        ossl_fail("EVP_PKEY_verify");
        return -1;
    }
    ERR_clear_error();
    return r == 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_gost_engine sign [-P PARAMSET] [-t THREADS] [-d SECONDS] [-s SIGFILE]\n"
            "       bench_gost_engine verify -c CERT -i INPUT -s SIG [-H]\n"
            "PARAMSET is the TC26 512-bit set A (default), B or C; -H hashes INPUT with\n"
            "Streebog-512 first, else INPUT is the 64-byte digest.\n");
}

static int run_sign(int argc, char **argv)
{
    const char *paramset = "A", *sigfile = NULL;
    gost_cfg cfg;
    gost_worker *w = NULL;
    long threads = 1, i, started = 0;
    double seconds = 3.0, end = 0.0, elapsed;
    bench_usage use;
    unsigned long total = 0;
    unsigned char in0[DIGEST_LEN];
    int opt, ret = 1, failed;

    memset(&cfg, 0, sizeof(cfg));
    while ((opt = getopt(argc, argv, "P:t:d:s:")) != -1) {
        switch (opt) {
        case 'P': paramset = optarg; break;
        case 't': threads = bench_parse_long("-t", optarg, 1, MAX_THREADS); break;
        case 'd': seconds = bench_parse_double("-d", optarg, 0.01, 3600.0); break;
        case 's': sigfile = optarg; break;
        default: usage(); return 2;
        }
    }
    if (optind != argc) {
        usage();
        return 2;
    }

    cfg.e = gost_engine();
    if (cfg.e == NULL)
        return 1;
    cfg.pkey = gost_keygen(cfg.e, paramset);
    if (cfg.pkey == NULL)
        goto release;

    w = calloc((size_t)threads, sizeof(*w));
    if (w == NULL) {
        fprintf(stderr, "bench_gost_engine: out of memory\n");
        goto free_key;
    }
    for (i = 0; i < threads; i++)
        w[i].cfg = &cfg;
    failed = bench_run_workers(&cfg.gate, threads, seconds, gost_thread, w, sizeof(*w),
                               (size_t)((char *)&w[0].thread - (char *)&w[0]), "bench_gost_engine", &started, &use);

    for (i = 0; i < started; i++)
        failed += w[i].failed;
    if (failed || started != threads) {
        ossl_fail("EVP_PKEY_sign");
        goto free_workers;
    }

    /* The engine must accept what it made, or the figures mean nothing. */
    bench_input(0, in0, sizeof(in0));
    for (i = 0; i < threads; i++) {
        if (gost_verify(cfg.e, cfg.pkey, in0, sizeof(in0), w[i].sig0, w[i].sig0_len) != 1) {
            fprintf(stderr, "bench_gost_engine: thread %ld: the engine does not verify its own "
                            "signature of input 0\n", i);
            goto free_workers;
        }
        total += w[i].count;
        if (w[i].end > end)
            end = w[i].end;
    }
    elapsed = end - cfg.gate.start;
    if (sigfile != NULL && bench_write_file(sigfile, w[0].sig0, w[0].sig0_len) != 0)
        goto free_workers;

    printf("sign: gost engine, GOST R 34.10-2012 512-bit, paramset %s, %d-byte input, "
           "%ld thread(s), %.2f s: %lu signatures, %.1f sig/s, %.3f ms CPU per signature "
           "(per thread:",
           paramset, DIGEST_LEN, threads, elapsed, total, (double)total / elapsed,
           total ? use.cpu * 1000.0 / (double)total : 0.0);
    for (i = 0; i < threads; i++)
        printf(" %lu", w[i].count);
    printf("), context switches: %ld voluntary, %ld involuntary\n", use.vcs,
           use.ivcs);
    printf("RESULT mode=sign threads=%ld count=%lu elapsed=%.4f rate=%.2f cpu_ms_per_sig=%.4f "
           "sig_len=%lu in_len=%d vcsw=%ld ivcsw=%ld\n",
           threads, total, elapsed, (double)total / elapsed,
           total ? use.cpu * 1000.0 / (double)total : 0.0, (unsigned long)w[0].sig0_len,
           DIGEST_LEN, use.vcs, use.ivcs);
    ret = 0;

free_workers:
    free(w);
free_key:
    EVP_PKEY_free(cfg.pkey);
release:
    gost_engine_release(cfg.e);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* verify mode */

/* Reads a whole (small) file; returns a malloc'ed buffer or NULL (message
 * printed). */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "bench_gost_engine: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    buf = malloc(MAX_FILE_LEN);
    if (buf == NULL) {
        fclose(f);
        fprintf(stderr, "bench_gost_engine: out of memory\n");
        return NULL;
    }
    n = fread(buf, 1, MAX_FILE_LEN, f);
    if (ferror(f) || !feof(f)) {
        fprintf(stderr, "bench_gost_engine: cannot read %s (or it is over %d bytes)\n", path,
                MAX_FILE_LEN);
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* A certificate in PEM or DER. */
static X509 *read_cert(const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf;
    X509 *x;
    BIO *b;

    x = d2i_X509(NULL, &p, (long)len);
    if (x != NULL)
        return x;
    ERR_clear_error();
    b = BIO_new_mem_buf(buf, (int)len);
    if (b == NULL)
        return NULL;
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

/* The SubjectPublicKeyInfo the engine reads for a TC26-512-A key: algorithm
 * id-tc26-gost3410-12-512 (1.2.643.7.1.1.1.2) with parameters { curve
 * id-tc26-gost-3410-12-512-paramSetA (1.2.643.7.1.2.1.2.1), digest
 * id-tc26-gost3411-12-512 (1.2.643.7.1.1.2.3) }, then the BIT STRING that
 * wraps the OCTET STRING of X || Y. The 128 key bytes follow this header. */
static const unsigned char tc26_512a_spki_head[] = {
    0x30, 0x81, 0xaa,                                           /* SubjectPublicKeyInfo */
    0x30, 0x21,                                                 /*   AlgorithmIdentifier */
    0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x01, 0x02, /*     algorithm */
    0x30, 0x15,                                                 /*     parameters */
    0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x03,
    0x03, 0x81, 0x84, 0x00,                                     /*   subjectPublicKey */
    0x04, 0x81, 0x80,                                           /*     OCTET STRING */
};

/* The certificate's GOST 512 public key as an engine key on TC26-512-A,
 * whatever OIDs the certificate uses. NULL (message printed) on failure. */
static EVP_PKEY *tc26_pubkey(X509 *x)
{
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
    unsigned char der[sizeof(tc26_512a_spki_head) + PUB_LEN];
    const unsigned char *p = der;
    const unsigned char *key;
    EVP_PKEY *pkey;
    int n;

    if (bits == NULL) {
        fprintf(stderr, "bench_gost_engine: the certificate has no public key\n");
        return NULL;
    }
    key = ASN1_STRING_get0_data(bits);
    n = ASN1_STRING_length(bits);
    /* The BIT STRING holds the DER OCTET STRING 04 81 80 || X || Y. */
    if (n != 3 + PUB_LEN || key[0] != 0x04 || key[1] != 0x81 || key[2] != 0x80) {
        fprintf(stderr, "bench_gost_engine: the certificate's key is not a 128-byte GOST "
                        "2012-512 key (%d bytes)\n", n);
        return NULL;
    }
    memcpy(der, tc26_512a_spki_head, sizeof(tc26_512a_spki_head));
    memcpy(der + sizeof(tc26_512a_spki_head), key + 3, PUB_LEN);
    pkey = d2i_PUBKEY(NULL, &p, (long)sizeof(der));
    if (pkey == NULL || p != der + sizeof(der)) {
        ossl_fail("the gost engine reading the re-labelled public key");
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

static int run_verify(int argc, char **argv)
{
    const char *certfile = NULL, *infile = NULL, *sigfile = NULL;
    unsigned char *cert = NULL, *in = NULL, *sig = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t cert_len = 0, in_len = 0, sig_len = 0;
    unsigned int md_len = 0;
    const EVP_MD *streebog;
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    ENGINE *e = NULL;
    int opt, hash = 0, ret = 3, r;

    while ((opt = getopt(argc, argv, "c:i:s:H")) != -1) {
        switch (opt) {
        case 'c': certfile = optarg; break;
        case 'i': infile = optarg; break;
        case 's': sigfile = optarg; break;
        case 'H': hash = 1; break;
        default: usage(); return 2;
        }
    }
    if (optind != argc || certfile == NULL || infile == NULL || sigfile == NULL) {
        usage();
        return 2;
    }
    cert = read_file(certfile, &cert_len);
    in = read_file(infile, &in_len);
    sig = read_file(sigfile, &sig_len);
    if (cert == NULL || in == NULL || sig == NULL)
        goto out;
    if (sig_len != SIG_LEN) {
        fprintf(stderr, "bench_gost_engine: %s: %lu bytes, a GOST 2012-512 signature has %d\n",
                sigfile, (unsigned long)sig_len, SIG_LEN);
        ret = 1;
        goto out;
    }
    x = read_cert(cert, cert_len);
    if (x == NULL) {
        ossl_fail("reading the certificate");
        goto out;
    }
    e = gost_engine();
    if (e == NULL)
        goto out;
    pkey = tc26_pubkey(x);
    if (pkey == NULL)
        goto out;
    if (hash) {
        streebog = ENGINE_get_digest(e, NID_id_GostR3411_2012_512);
        if (streebog == NULL || !EVP_Digest(in, in_len, md, &md_len, streebog, e)) {
            ossl_fail("Streebog-512 through the engine");
            goto out;
        }
    } else {
        if (in_len != DIGEST_LEN) {
            fprintf(stderr, "bench_gost_engine: %s: %lu bytes, expected a %d-byte digest\n",
                    infile, (unsigned long)in_len, DIGEST_LEN);
            goto out;
        }
        memcpy(md, in, DIGEST_LEN);
        md_len = DIGEST_LEN;
    }
    r = gost_verify(e, pkey, md, md_len, sig, sig_len);
    if (r == 1) {
        printf("verify: the gost engine accepts the signature\n");
        ret = 0;
    } else if (r == 0) {
        printf("verify: the gost engine REJECTS the signature\n");
        ret = 1;
    }

out:
    EVP_PKEY_free(pkey);
    if (e != NULL)
        gost_engine_release(e);
    X509_free(x);
    free(cert);
    free(in);
    free(sig);
    return ret;
}

int main(int argc, char **argv)
{
    const char *mode;

    if (argc < 2) {
        usage();
        return 2;
    }
    mode = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* getopt sees the mode as argv[0] and the options after it. */
    optind = 1;
    if (strcmp(mode, "sign") == 0)
        return run_sign(argc - 1, argv + 1);
    if (strcmp(mode, "verify") == 0)
        return run_verify(argc - 1, argv + 1);
    usage();
    return 2;
}
