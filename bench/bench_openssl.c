/* bench_openssl: the raw-OpenSSL baseline for the PKCS#11 signing benchmark.
 *
 *   bench_openssl -k KEY.pem [-g DIGEST] [-t THREADS] [-d SECONDS] [-s SIGFILE]
 *
 * Loads an unencrypted PEM private key once and runs THREADS threads for
 * SECONDS seconds, all sharing that EVP_PKEY. Every signature is what a
 * typical application does: a fresh EVP_MD_CTX, EVP_DigestSignInit with
 * the digest (default SHA256) and EVP_DigestSign over the same
 * BENCH_MSG_LEN-byte messages bench_pkcs11 signs. -s writes the signature
 * of message 0. Ends with a "RESULT key=value ..." line; exit 0 or 1. */
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "bench_common.h"

#define MAX_THREADS 64
#define MAX_SIG_LEN 2048

typedef struct ossl_cfg {
    EVP_PKEY *pkey;
    const EVP_MD *md;
    bench_gate gate;
} ossl_cfg;

typedef struct ossl_worker {
    ossl_cfg *cfg;
    pthread_t thread;
    unsigned long count;
    double end;
    int failed;
    unsigned char sig0[MAX_SIG_LEN];
    size_t sig0_len;
} ossl_worker;

/* One signature, done the way applications usually do it. */
static int sign_one(const ossl_cfg *cfg, unsigned long counter, unsigned char *sig, size_t *len)
{
    unsigned char msg[BENCH_MSG_LEN];
    EVP_MD_CTX *ctx;
    int ok;

    bench_message(counter, msg);
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return 0;
    ok = EVP_DigestSignInit(ctx, NULL, cfg->md, NULL, cfg->pkey) == 1 &&
         EVP_DigestSign(ctx, sig, len, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static void *ossl_thread(void *arg)
{
    ossl_worker *w = arg;
    unsigned char sig[MAX_SIG_LEN];
    unsigned long counter = 1;
    size_t len;
    double deadline;
    int ok;

    /* Warm-up and reference signature. */
    w->sig0_len = sizeof(w->sig0);
    ok = sign_one(w->cfg, 0, w->sig0, &w->sig0_len);
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

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_openssl -k KEY.pem [-g DIGEST] [-t THREADS] [-d SECONDS] [-s SIGFILE]\n");
}

int main(int argc, char **argv)
{
    const char *keyfile = NULL, *digest = "SHA256", *sigfile = NULL;
    ossl_cfg cfg;
    ossl_worker *w = NULL;
    FILE *f;
    long threads = 1, i, started = 0;
    double seconds = 3.0, end = 0.0, elapsed;
    bench_usage use;
    unsigned long total = 0;
    int opt, failed, ret = 1;

    while ((opt = getopt(argc, argv, "k:g:t:d:s:")) != -1) {
        switch (opt) {
        case 'k': keyfile = optarg; break;
        case 'g': digest = optarg; break;
        case 't': threads = bench_parse_long("-t", optarg, 1, MAX_THREADS); break;
        case 'd': seconds = bench_parse_double("-d", optarg, 0.01, 3600.0); break;
        case 's': sigfile = optarg; break;
        default: usage(); return 2;
        }
    }
    if (keyfile == NULL || optind != argc) {
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    memset(&cfg, 0, sizeof(cfg));
    cfg.md = EVP_get_digestbyname(digest);
    if (cfg.md == NULL) {
        fprintf(stderr, "bench_openssl: unknown digest '%s'\n", digest);
        return 2;
    }
    f = fopen(keyfile, "r");
    if (f == NULL) {
        fprintf(stderr, "bench_openssl: cannot open %s: %s\n", keyfile, strerror(errno));
        return 1;
    }
    cfg.pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (cfg.pkey == NULL) {
        fprintf(stderr, "bench_openssl: %s holds no readable unencrypted private key\n", keyfile);
        ERR_print_errors_fp(stderr);
        return 1;
    }

    w = calloc((size_t)threads, sizeof(*w));
    if (w == NULL) {
        fprintf(stderr, "bench_openssl: out of memory\n");
        goto out;
    }
    for (i = 0; i < threads; i++)
        w[i].cfg = &cfg;
    failed = bench_run_workers(&cfg.gate, threads, seconds, ossl_thread, w, sizeof(*w),
                               (size_t)((char *)&w[0].thread - (char *)&w[0]), "bench_openssl", &started, &use);

    for (i = 0; i < started; i++)
        failed += w[i].failed;
    if (failed || started != threads) {
        fprintf(stderr, "bench_openssl: signing failed\n");
        ERR_print_errors_fp(stderr);
        goto out;
    }
    for (i = 0; i < threads; i++) {
        total += w[i].count;
        if (w[i].end > end)
            end = w[i].end;
        if (w[i].sig0_len != w[0].sig0_len || memcmp(w[i].sig0, w[0].sig0, w[0].sig0_len) != 0) {
            fprintf(stderr, "bench_openssl: thread %ld made a different signature of message 0\n",
                    i);
            goto out;
        }
    }
    elapsed = end - cfg.gate.start;
    if (sigfile != NULL && bench_write_file(sigfile, w[0].sig0, w[0].sig0_len) != 0)
        goto out;

    printf("sign: OpenSSL %s, %s, %ld thread(s), %.2f s: %lu signatures, %.1f sig/s, "
           "%.3f ms CPU per signature (per thread:",
           OpenSSL_version(OPENSSL_VERSION), digest, threads, elapsed, total,
           (double)total / elapsed, total ? use.cpu * 1000.0 / (double)total : 0.0);
    for (i = 0; i < threads; i++)
        printf(" %lu", w[i].count);
    printf("), context switches: %ld voluntary, %ld involuntary\n", use.vcs,
           use.ivcs);
    printf("RESULT mode=sign threads=%ld count=%lu elapsed=%.4f rate=%.2f cpu_ms_per_sig=%.4f "
           "sig_len=%lu vcsw=%ld ivcsw=%ld\n",
           threads, total, elapsed, (double)total / elapsed,
           total ? use.cpu * 1000.0 / (double)total : 0.0, (unsigned long)w[0].sig0_len,
           use.vcs, use.ivcs);
    ret = 0;

out:
    free(w);
    EVP_PKEY_free(cfg.pkey);
    return ret;
}
