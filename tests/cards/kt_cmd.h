/* The Kaztoken simulator's command interpreter: the Rutoken ECP command set
 * as card-protocols.md §3 documents it (Kaztoken's own command set is not
 * public, §4; the bench assumes the Rutoken ECP one, as the document does). */
#ifndef KZ_BENCH_KT_CMD_H
#define KZ_BENCH_KT_CMD_H

#include "apdu_frame.h"
#include "kt_fs.h"

#include <stddef.h>
#include <stdint.h>

/* Verified-PIN bits as the security conditions of tag 86 spell them. */
#define KT_AUTH_SO   0x01
#define KT_AUTH_USER 0x02

struct kaztoken {
    struct kt_file *mf;
    struct kt_file *cur_df;      /* current DF */
    struct kt_file *cur_file;    /* current file (== cur_df after a DF) */
    uint8_t verified;            /* KT_AUTH_* bits */
    int mse_sign_ref;            /* key reference set by MSE B6, -1 none */
    int mse_decipher_ref;        /* key reference set by MSE B8, -1 none */
    struct apdu_session session;

    /* Behaviour switches (command line). */
    int verify_6300;             /* wrong PIN answers 63 00, not 63 Cx */
    size_t memory;               /* bytes available for EFs and RSFs */
    uint8_t serial[16];
    size_t serial_len;

    /* --state: written after every command that changes the card. */
    const char *state_path;
    int dirty;
};

void kt_power(struct kaztoken *kt);
/* Writes --state now (no-op without a state path); clears dirty. */
void kt_persist(struct kaztoken *kt);
size_t kt_apdu(struct kaztoken *kt, const uint8_t *cmd, size_t len, uint8_t *resp,
               size_t cap);

#endif
