/* --fuzz: damages the answers of a simulated card so a driver's error paths
 * run. Deterministic for a given seed, so a failure can be replayed.
 *
 * The card still executes every command (its state keeps evolving as the
 * driver expects); only what the driver sees is changed. Never produces an
 * empty answer: vpcd would take that as the card being pulled out. */
#ifndef KZ_BENCH_FUZZ_H
#define KZ_BENCH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct fuzz {
    uint64_t state;
};

void fuzz_init(struct fuzz *f, unsigned long seed);

/* Rewrites resp (length *len, capacity cap) in place; *len stays >= 1. */
void fuzz_mutate(struct fuzz *f, unsigned char *resp, size_t *len, size_t cap);

#endif
