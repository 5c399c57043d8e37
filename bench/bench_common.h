/* Small helpers shared by the benchmark programs: monotonic time, the
 * message set every harness signs, a start barrier and number parsing.
 * Everything is static inline so each program only keeps what it uses. */
#ifndef KZP11_BENCH_COMMON_H
#define KZP11_BENCH_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Every harness signs the same messages: exactly BENCH_MSG_LEN bytes,
 * "kzp11 bench message NNNNNNNNNN.\n" with NNNNNNNNNN the per-thread
 * signature counter. Message 0 is what --sig-out writes the signature of,
 * so run-bench.sh can check all back ends used the same key. */
#define BENCH_MSG_LEN 32

static inline void bench_message(unsigned long counter, unsigned char out[BENCH_MSG_LEN])
{
    char tmp[BENCH_MSG_LEN + 1];

    snprintf(tmp, sizeof(tmp), "kzp11 bench message %010lu.\n", counter % 10000000000UL);
    memcpy(out, tmp, BENCH_MSG_LEN);
}

/* Inputs of other lengths (e.g. the 64-byte "digest" a raw GOST R 34.10-2012
 * 512-bit mechanism signs): message `counter` repeated to fill len bytes.
 * For len == BENCH_MSG_LEN this is bench_message. The value does not have
 * to be a real hash: the signature maths takes any len bytes. */
#define BENCH_MAX_INPUT_LEN 128

static inline void bench_input(unsigned long counter, unsigned char *out, size_t len)
{
    unsigned char m[BENCH_MSG_LEN];
    size_t done = 0, n;

    bench_message(counter, m);
    while (done < len) {
        n = len - done < BENCH_MSG_LEN ? len - done : BENCH_MSG_LEN;
        memcpy(out + done, m, n);
        done += n;
    }
}

static inline double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User+system CPU seconds of the whole process so far. */
static inline double bench_cpu_seconds(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Voluntary (blocked: locks, I/O) and involuntary (preempted) context
 * switches of the whole process so far. */
static inline void bench_ctx_switches(long *vol, long *invol)
{
    struct rusage ru;

    *vol = *invol = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        *vol = ru.ru_nvcsw;
        *invol = ru.ru_nivcsw;
    }
}

/* Strict number parsing for command-line options; exits on garbage. */
static inline long bench_parse_long(const char *opt, const char *s, long min, long max)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "invalid value for %s: '%s' (expected %ld..%ld)\n", opt, s, min, max);
        exit(2);
    }
    return v;
}

static inline double bench_parse_double(const char *opt, const char *s, double min, double max)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max)) {
        fprintf(stderr, "invalid value for %s: '%s' (expected %g..%g)\n", opt, s, min, max);
        exit(2);
    }
    return v;
}

/* A one-shot start gate: workers finish their setup, report ready and wait;
 * the main thread waits for all of them, takes the start time and opens the
 * gate. Workers read the deadline only after the gate opens. */
typedef struct bench_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
    int failed;
    int open;
    double start;
    double deadline;
} bench_gate;

static inline void bench_gate_init(bench_gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->ready = 0;
    g->failed = 0;
    g->open = 0;
    g->start = 0.0;
    g->deadline = 0.0;
}

static inline void bench_gate_destroy(bench_gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

/* Worker side: announce setup finished (ok != 0) or failed; wait for the
 * gate. Returns the deadline, or a negative value if the run was called off. */
static inline double bench_gate_arrive(bench_gate *g, int ok)
{
    double deadline;

    pthread_mutex_lock(&g->mu);
    g->ready++;
    if (!ok)
        g->failed++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    deadline = g->failed ? -1.0 : g->deadline;
    pthread_mutex_unlock(&g->mu);
    return deadline;
}

/* Main side: wait for n workers, then open the gate for `seconds`.
 * Returns the number of workers whose setup failed. */
static inline int bench_gate_release(bench_gate *g, int n, double seconds)
{
    int failed;

    pthread_mutex_lock(&g->mu);
    while (g->ready < n)
        pthread_cond_wait(&g->cv, &g->mu);
    g->start = bench_now();
    g->deadline = g->start + seconds;
    g->open = 1;
    failed = g->failed;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return failed;
}

/* What a timed run cost the process: CPU seconds and context switches. */
typedef struct bench_usage {
    double cpu;
    long vcs, ivcs;
} bench_usage;

/* Runs the workers of one measurement: starts n threads running fn, one per
 * element of `workers` (an array of `size`-byte structs whose pthread_t sits
 * at `thread_off`), lets them through the gate together for `seconds`, and
 * joins them. Threads that cannot start count as failed setups, so the
 * started ones are told to stop at the gate. Initialises and destroys g.
 * Returns the number of failed setups; *started says how many ran. */
static inline int bench_run_workers(bench_gate *g, long n, double seconds, void *(*fn)(void *),
                                    void *workers, size_t size, size_t thread_off,
                                    const char *prog, long *started, bench_usage *u)
{
    char *base = workers;
    double cpu0;
    long vcs0, ivcs0, i;
    int failed;

    *started = 0;
    bench_gate_init(g);
    for (i = 0; i < n; i++) {
        if (pthread_create((pthread_t *)(base + (size_t)i * size + thread_off), NULL, fn,
                           base + (size_t)i * size) != 0) {
            fprintf(stderr, "%s: pthread_create failed\n", prog);
            break;
        }
        (*started)++;
    }
    pthread_mutex_lock(&g->mu);
    g->ready += (int)(n - *started);
    g->failed += (int)(n - *started);
    pthread_mutex_unlock(&g->mu);
    cpu0 = bench_cpu_seconds();
    bench_ctx_switches(&vcs0, &ivcs0);
    failed = bench_gate_release(g, (int)n, seconds);
    for (i = 0; i < *started; i++)
        pthread_join(*(pthread_t *)(base + (size_t)i * size + thread_off), NULL);
    u->cpu = bench_cpu_seconds() - cpu0;
    bench_ctx_switches(&u->vcs, &u->ivcs);
    u->vcs -= vcs0;
    u->ivcs -= ivcs0;
    bench_gate_destroy(g);
    return failed;
}

/* Writes len bytes to path; returns 0 or -1 (with a message). */
static inline int bench_write_file(const char *path, const unsigned char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL) {
        fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fwrite(buf, 1, len, f) != len) {
        fclose(f);
        fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    return 0;
}

#endif
