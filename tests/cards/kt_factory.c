/* The simulated Kaztoken's factory state (see kt_factory.h for why these
 * values). */
#include "kt_factory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kt_factory_defaults(struct kt_factory *fc)
{
    fc->user_pin = "12345678";
    fc->so_pin = "87654321";
    fc->user_tries = 5;
    fc->so_tries = 10;
    fc->layout = KT_LAYOUT_SYSTEM;
}

static struct kt_file *add(struct kt_file *parent, uint16_t fid, enum kt_kind kind,
                           const uint8_t sec[KT_SEC_LEN])
{
    struct kt_file *f = kt_file_new(fid, kind);

    if (!f) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(f->sec, sec, KT_SEC_LEN);
    if (parent)
        kt_add_child(parent, f);
    return f;
}

static void add_pin(struct kt_file *mf, uint8_t ref, const char *value, unsigned tries,
                    uint8_t min_len, uint8_t unblock, uint8_t change)
{
    /* §3.4: 85 = 01 <min length> 01 <tries in both nibbles> 00 00;
     * 86 = 43 <unblock> <change> 00 00 00 00 FF (delete never). */
    uint8_t sec[KT_SEC_LEN] = { 0x43, unblock, change, 0, 0, 0, 0, 0xFF };
    struct kt_file *pin = add(mf, ref, KT_RSF, sec);

    pin->has_prop = 1;
    pin->prop[0] = KT_TYPE_PIN;
    pin->prop[1] = min_len;
    pin->prop[2] = 0x01;
    pin->prop[3] = (uint8_t)(0x11 * tries);
    pin->size = (uint16_t)strlen(value);
    if (kt_set_data(pin, (const uint8_t *)value, strlen(value)) < 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    pin->value_set = 1;
    pin->tries_left = (uint8_t)tries;
}

/* A zero-filled EF: read always, update with the user PIN, delete with the
 * SO PIN (a bench choice: the profile's file ACLs are not in the document). */
static void add_ef(struct kt_file *df, uint16_t fid, uint16_t size)
{
    static const uint8_t ef_sec[KT_SEC_LEN] = { 0x43, 0x00, 0x02, 0, 0, 0, 0, 0x01 };
    struct kt_file *ef = add(df, fid, KT_EF, ef_sec);
    uint8_t *zero = calloc(1, size);

    ef->size = size;
    if (!zero || kt_set_data(ef, zero, size) < 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    free(zero);
}

struct kt_file *kt_factory_card(const struct kt_factory *fc)
{
    /* MF: create DF/EF = user, create RSF = SO or user, put data = SO,
     * delete = never (§3.3: "CREATE=user PIN, DELETE=never", put data SO). */
    static const uint8_t mf_sec[KT_SEC_LEN] = { 0x47, 0x02, 0x03, 0x01, 0, 0, 0, 0xFF };
    /* System DFs: create (both kinds) = user, delete = never (§3.4). */
    static const uint8_t sys_sec[KT_SEC_LEN] = { 0x43, 0x02, 0x02, 0, 0, 0, 0, 0xFF };
    static const uint16_t key_dfs[] = { 0x6001, 0x6002, 0x6003, 0x6004, 0x6005 };
    struct kt_file *mf = add(NULL, 0x3F00, KT_DF, mf_sec), *sys, *syskey;
    size_t i;

    add_pin(mf, 0x01, fc->so_pin, fc->so_tries, 8, 0xFF, 0x01);
    /* The user PIN may be changed by itself or by the SO: the option
     * OpenSC's profile has for "SO may reset the user PIN" (§3.4), without
     * which C_InitPIN could unblock the PIN but not give it a new value. */
    add_pin(mf, 0x02, fc->user_pin, fc->user_tries, 6, 0x01, 0x03);
    if (fc->layout == KT_LAYOUT_BARE)
        return mf;
    sys = add(mf, 0x1000, KT_DF, sys_sec);
    syskey = add(sys, 0x1000, KT_DF, sys_sec);
    for (i = 0; i < sizeof key_dfs / sizeof key_dfs[0]; i++)
        add(syskey, key_dfs[i], KT_DF, sys_sec);
    if (fc->layout == KT_LAYOUT_OPENSC) {
        /* §3.3: Resrv1..6-DF = 1001 (with 8001, 8002), 1002..1004. */
        struct kt_file *r1 = add(sys, 0x1001, KT_DF, sys_sec), *app;
        static const struct { uint16_t fid, size; } p15[] = {
            { 0x5031, 128 }, { 0x5032, 128 }, { 0x6005, 256 }, { 0x6002, 2048 },
            { 0x6001, 2048 }, { 0x6004, 2048 }, { 0x6006, 2048 },
        };
        add(r1, 0x8001, KT_DF, sys_sec);
        add(r1, 0x8002, KT_DF, sys_sec);
        for (i = 0x1002; i <= 0x1004; i++)
            add(sys, (uint16_t)i, KT_DF, sys_sec);
        add_ef(mf, 0x2F00, 128);
        app = add(mf, 0x5000, KT_DF, sys_sec);
        for (i = 0; i < sizeof p15 / sizeof p15[0]; i++)
            add_ef(app, p15[i].fid, p15[i].size);
    }
    return mf;
}
