/* sim_kaztoken: a simulated Kaztoken for the virtual-card bench.
 *
 * It plugs into a vpcd reader of a (private) pcscd and answers the Rutoken
 * ECP command set as card-protocols.md §3-§4 documents it; see kt_cmd.c for
 * the commands and tests/cards/README.md for what is and is not simulated.
 *
 * The card's factory state (PINs, system DFs) is described in kt_factory.h.
 */
#include "kt_cmd.h"
#include "kt_factory.h"
#include "kt_fs.h"
#include "vicc.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* §4: T=1 only, historical bytes "KAZTOKEN", TCK 82. */
static const unsigned char kaztoken_atr[] = {
    0x3B, 0x88, 0x01, 0x4B, 0x41, 0x5A, 0x54, 0x4F, 0x4B, 0x45, 0x4E, 0x82
};

enum {
    OPT_STATE = 0x200,
    OPT_SERIAL,
    OPT_USER_PIN,
    OPT_SO_PIN,
    OPT_USER_TRIES,
    OPT_SO_TRIES,
    OPT_LAYOUT,
    OPT_VERIFY_6300,
    OPT_MEMORY,
    OPT_HELP
};

static const struct option long_options[] = {
    VICC_LONG_OPTIONS,
    { "state", required_argument, NULL, OPT_STATE },
    { "serial", required_argument, NULL, OPT_SERIAL },
    { "user-pin", required_argument, NULL, OPT_USER_PIN },
    { "so-pin", required_argument, NULL, OPT_SO_PIN },
    { "user-tries", required_argument, NULL, OPT_USER_TRIES },
    { "so-tries", required_argument, NULL, OPT_SO_TRIES },
    { "layout", required_argument, NULL, OPT_LAYOUT },
    { "verify-6300", no_argument, NULL, OPT_VERIFY_6300 },
    { "memory", required_argument, NULL, OPT_MEMORY },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sim_kaztoken --port N [options]\n"
            "A simulated Kaztoken (Rutoken ECP command set) for a vpcd reader.\n"
            "\n"
            VICC_OPTIONS_HELP
            "  --state FILE    keep the card's files, PINs and keys in FILE (read at\n"
            "                  start if it exists, rewritten after every change)\n"
            "  --serial HEX    answer of GET DATA 01 81 (default 00000001)\n"
            "  --user-pin PIN  factory user PIN, reference 02 (default 12345678)\n"
            "  --so-pin PIN    factory SO PIN, reference 01 (default 87654321)\n"
            "  --user-tries N  user PIN tries, 1..15 (default 5)\n"
            "  --so-tries N    SO PIN tries, 1..15 (default 10)\n"
            "  --layout L      'system' (default): MF, PINs and the system DFs\n"
            "                  3F00/1000/1000/6001..6005; 'bare': MF and PINs only;\n"
            "                  'opensc': also the reserved DFs and the (empty) EFs\n"
            "                  of OpenSC's rutoken_ecp profile (2F00, 5000/...)\n"
            "  --verify-6300   a wrong PIN answers 63 00 instead of 63 Cx\n"
            "  --memory BYTES  room for EFs and RSFs (default 65536)\n");
}

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    size_t len = strlen(s), i;

    if (len == 0 || len % 2 || len / 2 > cap)
        return -1;
    for (i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    *n = len / 2;
    return 0;
}

static int parse_tries(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (end == s || *end || v < 1 || v > 15)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* vicc_card callbacks. */
static void on_power(void *ctx)
{
    kt_power(ctx);
}

static size_t on_apdu(void *ctx, const unsigned char *cmd, size_t len, unsigned char *resp)
{
    return kt_apdu(ctx, cmd, len, resp, VICC_MAX_RESPONSE);
}

static void on_shutdown(void *ctx)
{
    struct kaztoken *kt = ctx;

    kt_file_free(kt->mf);
    kt->mf = NULL;
}

int main(int argc, char **argv)
{
    static struct kaztoken kt;
    struct vicc_options vo;
    struct vicc_card card;
    struct kt_factory fc;
    int opt, r;

    vicc_options_init(&vo);
    kt_factory_defaults(&fc);
    kt.memory = 65536;
    kt.serial_len = 4;
    kt.serial[3] = 0x01;
    while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        r = vicc_option(&vo, opt, optarg);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        switch (opt) {
        case OPT_STATE:
            kt.state_path = optarg;
            break;
        case OPT_SERIAL:
            if (parse_hex(optarg, kt.serial, sizeof kt.serial, &kt.serial_len)) {
                fprintf(stderr, "--serial wants 1 to 16 bytes in hex\n");
                return 2;
            }
            break;
        case OPT_USER_PIN:
            fc.user_pin = optarg;
            break;
        case OPT_SO_PIN:
            fc.so_pin = optarg;
            break;
        case OPT_USER_TRIES:
        case OPT_SO_TRIES:
            if (parse_tries(optarg, opt == OPT_USER_TRIES ? &fc.user_tries : &fc.so_tries)) {
                fprintf(stderr, "tries must be 1..15\n");
                return 2;
            }
            break;
        case OPT_LAYOUT:
            if (strcmp(optarg, "bare") == 0)
                fc.layout = KT_LAYOUT_BARE;
            else if (strcmp(optarg, "system") == 0)
                fc.layout = KT_LAYOUT_SYSTEM;
            else if (strcmp(optarg, "opensc") == 0)
                fc.layout = KT_LAYOUT_OPENSC;
            else {
                fprintf(stderr, "--layout is 'system', 'bare' or 'opensc'\n");
                return 2;
            }
            break;
        case OPT_VERIFY_6300:
            kt.verify_6300 = 1;
            break;
        case OPT_MEMORY:
            kt.memory = strtoul(optarg, NULL, 0);
            break;
        case OPT_HELP:
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !vo.port) {
        usage(stderr);
        return 2;
    }
    if (strlen(fc.user_pin) < 6 || strlen(fc.so_pin) < 8) {
        fprintf(stderr, "the user PIN needs 6 characters, the SO PIN 8\n");
        return 2;
    }

    if (kt.state_path) {
        FILE *f = fopen(kt.state_path, "r");
        if (f) {
            kt.mf = kt_load(f);
            fclose(f);
            if (!kt.mf) {
                fprintf(stderr, "%s is not a kaztoken state file\n", kt.state_path);
                return 1;
            }
        } else if (errno != ENOENT) {
            perror(kt.state_path);
            return 1;
        }
    }
    if (!kt.mf) {
        kt.mf = kt_factory_card(&fc);
        kt.dirty = 1;
    }
    kt_power(&kt);

    card.ctx = &kt;
    card.atr = kaztoken_atr;
    card.atr_len = sizeof kaztoken_atr;
    card.power = on_power;
    card.apdu = on_apdu;
    card.shutdown = on_shutdown;
    /* A state file from the start, so a test can inspect the factory card. */
    if (kt.dirty)
        kt_persist(&kt);
    return vicc_run(&vo, &card);
}
