/* Throughput of kzp11's own GOST hashes against OpenSSL's gost engine, on
 * the same 8 KiB message hashed over and over for about a second each (the
 * size `openssl speed -bytes 8192` uses, so figures are comparable). Each
 * figure is the best of ten interleaved slices; see measure_pair.
 *
 *   bench_gost_hash [seconds] [--min-ratio R]
 *
 * With --min-ratio the exit status is 1 when Streebog-512's ratio falls below
 * R, so CI can hold the line without parsing the output. Exit status 2 means
 * the engine could not be loaded: a comparison without it is meaningless.
 * The last line, "RESULT mode=hash ALG_kzp11=MB/s ALG_engine=MB/s ...", is
 * for scripts (bench/run-bench.sh). */
#define OPENSSL_SUPPRESS_DEPRECATED   /* the gost engine is only an ENGINE */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "gost94.h"
#include "streebog.h"

#define MSG_LEN 8192

static unsigned char msg[MSG_LEN];
/* Sunk into so the compiler cannot drop the hashing. */
static volatile unsigned char sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef void (*hash_fn)(const void *arg, unsigned char *out);

/* Hashes the message with fn until `seconds` have passed; returns MB/s
 * (10^6 bytes). */
static double run_slice(hash_fn fn, const void *arg, double seconds)
{
    unsigned char out[64];
    unsigned long n = 0;
    double t0 = now(), t;

    do {
        for (unsigned i = 0; i < 8; i++)
            fn(arg, out);
        n += 8;
        sink ^= out[0];
        t = now();
    } while (t - t0 < seconds);
    return (double)n * MSG_LEN / (t - t0) / 1e6;
}

#define SLICES 10

/* Alternates short slices of the two implementations and keeps each one's
 * best slice, so a burst of load from other processes on a shared machine
 * hits both alike instead of skewing the ratio. */
static void measure_pair(hash_fn a, const void *arg_a, hash_fn b, const void *arg_b,
                         double seconds, double *best_a, double *best_b)
{
    unsigned char out[64];

    a(arg_a, out);   /* warm the tables and the caches */
    b(arg_b, out);
    *best_a = *best_b = 0;
    for (int i = 0; i < SLICES; i++) {
        double ra = run_slice(a, arg_a, seconds / SLICES);
        double rb = run_slice(b, arg_b, seconds / SLICES);
        if (ra > *best_a)
            *best_a = ra;
        if (rb > *best_b)
            *best_b = rb;
    }
}

static void kz_sb512(const void *arg, unsigned char *out)
{
    kz_streebog(512, msg, MSG_LEN, out);
}

static void kz_sb256(const void *arg, unsigned char *out)
{
    kz_streebog(256, msg, MSG_LEN, out);
}

static void kz_g94(const void *arg, unsigned char *out)
{
    kz_gost94_ctx c;
    kz_gost94_init(&c, &kz_gost94_cryptopro_params);
    kz_gost94_update(&c, msg, MSG_LEN);
    kz_gost94_final(&c, out);
}

struct evp_arg {
    EVP_MD_CTX *ctx;
    const EVP_MD *md;
    ENGINE *e;
};

static void evp_hash(const void *arg, unsigned char *out)
{
    const struct evp_arg *a = arg;
    unsigned int len;

    if (!EVP_DigestInit_ex(a->ctx, a->md, a->e) ||
        !EVP_DigestUpdate(a->ctx, msg, MSG_LEN) ||
        !EVP_DigestFinal_ex(a->ctx, out, &len)) {
        ERR_print_errors_fp(stderr);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    double seconds = 1.0, min_ratio = 0.0, ratio512 = 0.0;
    static const struct {
        const char *label, *engine_name;
        hash_fn ours;
    } algs[] = {
        { "streebog512", "md_gost12_512", kz_sb512 },
        { "streebog256", "md_gost12_256", kz_sb256 },
        { "gost94-cryptopro", "md_gost94", kz_g94 },
    };
    ENGINE *e;
    EVP_MD_CTX *ctx;
    char result[512];
    size_t rlen;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--min-ratio") == 0 && i + 1 < argc)
            min_ratio = atof(argv[++i]);
        else if (atof(argv[i]) > 0)
            seconds = atof(argv[i]);
        else {
            fprintf(stderr, "usage: %s [seconds] [--min-ratio R]\n", argv[0]);
            return 2;
        }
    }

    for (size_t i = 0; i < MSG_LEN; i++)
        msg[i] = (unsigned char)(i * 131 + 7);

    e = ENGINE_by_id("gost");
    if (e == NULL || !ENGINE_init(e)) {
        fprintf(stderr, "cannot load the gost engine (libengine-gost-openssl)\n");
        ERR_print_errors_fp(stderr);
        return 2;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return 2;
    rlen = (size_t)snprintf(result, sizeof(result), "RESULT mode=hash");

    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        const EVP_MD *md = ENGINE_get_digest(e, OBJ_txt2nid(algs[i].engine_name));
        struct evp_arg a = { ctx, md, e };
        double ours, theirs;

        if (md == NULL) {
            fprintf(stderr, "the gost engine has no %s\n", algs[i].engine_name);
            return 2;
        }
        measure_pair(algs[i].ours, NULL, evp_hash, &a, seconds, &ours, &theirs);
        printf("%s: kzp11 %.1f MB/s, gost-engine %.1f MB/s, ratio %.2f\n",
               algs[i].label, ours, theirs, ours / theirs);
        if (rlen < sizeof(result))
            rlen += (size_t)snprintf(result + rlen, sizeof(result) - rlen,
                                     " %s_kzp11=%.1f %s_engine=%.1f", algs[i].label, ours,
                                     algs[i].label, theirs);
        if (i == 0)
            ratio512 = ours / theirs;
    }

    printf("%s\n", result);
    EVP_MD_CTX_free(ctx);
    ENGINE_finish(e);
    ENGINE_free(e);

    if (min_ratio > 0 && ratio512 < min_ratio) {
        fprintf(stderr, "streebog512 ratio %.2f is below %.2f\n", ratio512, min_ratio);
        return 1;
    }
    return 0;
}
