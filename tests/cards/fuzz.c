/* Response damage for --fuzz. Each answer gets one treatment, drawn from a
 * seeded generator (xorshift64*: tiny, and identical on every platform, so a
 * seed reproduces a run exactly). */
#include "fuzz.h"

#include <string.h>

static uint64_t next(struct fuzz *f)
{
    uint64_t x = f->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    f->state = x;
    return x * UINT64_C(2685821657736338717);
}

static unsigned below(struct fuzz *f, unsigned n)
{
    return n ? (unsigned)(next(f) % n) : 0;
}

void fuzz_init(struct fuzz *f, unsigned long seed)
{
    /* xorshift must not start at 0. */
    f->state = (uint64_t)seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
    if (!f->state)
        f->state = 1;
}

/* Status words a driver has to cope with, including the ones that ask it
 * to do something (61xx: fetch more, 6Cxx: resend) and could trap a naive
 * loop. */
static const uint16_t tricky_sw[] = {
    0x9000, 0x6100, 0x6101, 0x61FF, 0x6C00, 0x6C01, 0x6CFF, 0x6300,
    0x63C0, 0x63C1, 0x63CF, 0x6282, 0x6700, 0x6982, 0x6983, 0x6984,
    0x6985, 0x6986, 0x6A80, 0x6A82, 0x6A86, 0x6A88, 0x6B00, 0x6D00,
    0x6E00, 0x6F00, 0x6F86, 0x6400, 0x6581, 0x6883, 0x0000, 0xFFFF,
};

void fuzz_mutate(struct fuzz *f, unsigned char *resp, size_t *len, size_t cap)
{
    size_t n = *len, i;
    uint16_t sw;

    switch (below(f, 8)) {
    case 0:
    case 1:
        /* Untouched: the driver must be able to make progress too. */
        break;
    case 2:
        /* Right data, wrong status word. */
        sw = below(f, 4) ? tricky_sw[below(f, sizeof tricky_sw / sizeof tricky_sw[0])]
                         : (uint16_t)next(f);
        if (n < 2)
            n = 2;
        resp[n - 2] = (unsigned char)(sw >> 8);
        resp[n - 1] = (unsigned char)sw;
        break;
    case 3:
        /* Truncated: anything from 1 byte to one byte short. */
        n = n > 1 ? 1 + below(f, (unsigned)(n - 1)) : 1;
        break;
    case 4:
        /* Pure noise, up to well past a short APDU's 258 bytes. */
        n = 1 + below(f, 600);
        for (i = 0; i < n; i++)
            resp[i] = (unsigned char)next(f);
        break;
    case 5:
        /* Extra bytes before the status word (a longer answer than asked). */
        if (n >= 2 && n + 64 <= cap) {
            size_t extra = 1 + below(f, 64);
            unsigned char sw1 = resp[n - 2], sw2 = resp[n - 1];
            for (i = n - 2; i < n - 2 + extra; i++)
                resp[i] = (unsigned char)next(f);
            n += extra;
            resp[n - 2] = sw1;
            resp[n - 1] = sw2;
        }
        break;
    case 6:
        /* Data dropped, status kept (a success without the promised data). */
        if (n > 2) {
            resp[0] = resp[n - 2];
            resp[1] = resp[n - 1];
            n = 2;
        }
        break;
    default:
        /* One flipped byte anywhere. */
        resp[below(f, (unsigned)n)] ^= (unsigned char)(1 + below(f, 255));
        break;
    }
    if (n > cap)
        n = cap;
    if (n == 0)
        n = 1;
    *len = n;
}
