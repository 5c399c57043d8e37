/* The part every card simulator of the bench shares: it connects to vpcd
 * (the vsmartcard IFD handler loaded by the bench's private pcscd) as a TCP
 * client and answers vpcd's messages on behalf of one card.
 *
 * vpcd's wire protocol, as the Debian 12 package (vsmartcard-vpcd 3.3)
 * speaks it: every message in either direction is a 2-byte big-endian
 * length followed by that many bytes. vpcd sends
 *   1 byte 0x00  power off      (no answer)
 *   1 byte 0x01  power on       (no answer)
 *   1 byte 0x02  reset          (no answer)
 *   1 byte 0x04  get ATR        (answer: the ATR)
 *   4+ bytes     a C-APDU       (answer: the R-APDU, data and SW1 SW2)
 * vpcd asks for the ATR on every presence poll of pcscd (about every 0.4 s),
 * so that message must not reset anything. A closed connection, or an answer
 * of length 0, is how vpcd learns that the card was removed; the card is
 * "inserted" by connecting. So a simulator never answers with 0 bytes.
 *
 * A card plugs in through struct vicc_card; vicc_run() owns the socket, the
 * --count file, the --fuzz mutation and the signals. */
#ifndef KZ_BENCH_VICC_H
#define KZ_BENCH_VICC_H

#include <stddef.h>
#include <getopt.h>

/* The largest R-APDU a card may produce (plus room for fuzzing). */
#define VICC_MAX_RESPONSE 4096

struct vicc_card {
    void *ctx;
    /* The ATR, constant for the card's life. */
    const unsigned char *atr;
    size_t atr_len;
    /* Power off, power on and reset: drop all volatile state (verified PINs,
     * current file, security environment, pending response data). */
    void (*power)(void *ctx);
    /* Answer one C-APDU. Returns the R-APDU length (at least 2: the SW);
     * resp has VICC_MAX_RESPONSE bytes. */
    size_t (*apdu)(void *ctx, const unsigned char *cmd, size_t len,
                   unsigned char *resp);
    /* Called before exit (signal or give-up): persist what must outlive the
     * process. May be NULL. */
    void (*shutdown)(void *ctx);
};

struct vicc_options {
    const char *host;        /* vpcd's address, default 127.0.0.1 */
    unsigned port;           /* vpcd's port for the reader; required */
    const char *count_file;  /* --count: running number of APDUs */
    int fuzz;                /* --fuzz given */
    unsigned long fuzz_seed;
    const char *pid_file;    /* --pid-file: written once connected or not */
    unsigned give_up;        /* seconds without vpcd before exiting; 0 = never */
    int trace;               /* --trace: log every APDU to stderr */
};

/* Options every simulator accepts; card-specific ones use codes >= 0x200. */
enum {
    VICC_OPT_PORT = 0x100,
    VICC_OPT_HOST,
    VICC_OPT_COUNT,
    VICC_OPT_FUZZ,
    VICC_OPT_PID_FILE,
    VICC_OPT_GIVE_UP,
    VICC_OPT_TRACE
};

#define VICC_LONG_OPTIONS \
    { "port", required_argument, NULL, VICC_OPT_PORT }, \
    { "host", required_argument, NULL, VICC_OPT_HOST }, \
    { "count", required_argument, NULL, VICC_OPT_COUNT }, \
    { "fuzz", required_argument, NULL, VICC_OPT_FUZZ }, \
    { "pid-file", required_argument, NULL, VICC_OPT_PID_FILE }, \
    { "give-up", required_argument, NULL, VICC_OPT_GIVE_UP }, \
    { "trace", no_argument, NULL, VICC_OPT_TRACE }

#define VICC_OPTIONS_HELP \
    "  --port N        vpcd port of the reader to sit in (required)\n" \
    "  --host ADDR     vpcd address (default 127.0.0.1)\n" \
    "  --count FILE    keep FILE holding the number of APDUs received\n" \
    "  --fuzz SEED     answer every APDU with a damaged or random R-APDU\n" \
    "  --pid-file FILE write the process id to FILE\n" \
    "  --give-up S     exit after S seconds without vpcd (default 30, 0 = never)\n" \
    "  --trace         log every APDU and answer to stderr\n"

void vicc_options_init(struct vicc_options *o);

/* Handles one getopt_long() result if it is a common option: returns 1 when
 * taken, 0 when the code is not a common option, -1 on a bad value (after a
 * message on stderr). */
int vicc_option(struct vicc_options *o, int code, const char *arg);

/* Runs until SIGTERM/SIGINT/SIGHUP or until vpcd stayed unreachable for
 * o->give_up seconds. Returns the process exit status. */
int vicc_run(const struct vicc_options *o, const struct vicc_card *card);

/* Hex dump helper for traces: "00 A4 00 00 ..." into stderr with a prefix. */
void vicc_trace_bytes(const char *prefix, const unsigned char *b, size_t n);

#endif
