/* Unit tests of the card transport below the drivers: APDU encoding, the
 * exchange rules (T=0 GET RESPONSE, 6C xx, 62 82, chaining, limits),
 * resets and removal, status-word and PC/SC error mapping, ATR matching,
 * and the APDU trace with secrets masked. The card under test is a fake
 * whose transmissions follow a script: each step names the exact command
 * bytes expected and the response to give. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <PCSC/winscard.h>

#include "apdu.h"
#include "card_cache.h"
#include "card_drivers.h"
#include "card_internal.h"
#include "card_rv.h"
#include "log.h"

/* ---- Hex helpers ---------------------------------------------------------- */

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;

    while (*s) {
        unsigned v;
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        assert_true(isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]));
        assert_true(sscanf(s, "%2x", &v) == 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        sprintf(out + strlen(out), i ? " %02X" : "%02X", b[i]);
}

/* ---- The scripted card --------------------------------------------------- */

typedef struct step {
    const char *cmd;              /* expected command, hex; NULL: any */
    const char *rsp;              /* response, hex (may be empty) */
    CK_RV rv;                     /* the transmission's result */
} step;

typedef struct script {
    const step *steps;
    size_t n, pos;
    /* Long commands are checked by length and head here instead. */
    size_t last_len;
    uint8_t last[70000];
} script;

static CK_RV fake_raw(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len)
{
    script *s = ctx;
    const step *st;
    uint8_t want[600];
    static char got_hex[3 * 70000];

    if (s->pos >= s->n)
        fail_msg("unexpected command %zu (only %zu scripted)", s->pos + 1, s->n);
    st = &s->steps[s->pos++];
    memcpy(s->last, cmd, len);
    s->last_len = len;
    if (st->cmd) {
        size_t wn = unhex(st->cmd, want, sizeof(want));
        hex(cmd, len, got_hex);
        if (wn != len || memcmp(want, cmd, len) != 0)
            fail_msg("step %zu: sent %s, expected %s", s->pos, got_hex, st->cmd);
    }
    if (st->rv != CKR_OK)
        return st->rv;
    *rsp_len = unhex(st->rsp, rsp, *rsp_len);
    return CKR_OK;
}

static kz_card *fake_card(int proto, script *s)
{
    kz_card *c = NULL;
    const uint8_t atr[] = { 0x3B, 0x80, 0x80, 0x01, 0x01 };

    assert_int_equal(kz_card_new_fake("fake reader", proto, atr, sizeof(atr), fake_raw, s, &c), CKR_OK);
    return c;
}

#define SCRIPT(name, ...) \
    static const step name##_steps[] = { __VA_ARGS__ }; \
    script *name = calloc(1, sizeof(script)); \
    assert_non_null(name); \
    name->steps = name##_steps; \
    name->n = sizeof(name##_steps) / sizeof(name##_steps[0])

static void done(script *s, kz_card *c)
{
    assert_int_equal(s->pos, s->n);     /* every scripted command was sent */
    kz_card_unref(c);
    free(s);
}

/* ---- Encoding --------------------------------------------------------------- */

static void expect_encoding(const kz_apdu *a, int proto, int ext, const char *want_hex)
{
    uint8_t out[70000], want[600];
    size_t len = 0, wn = unhex(want_hex, want, sizeof(want));
    char got[2000];

    assert_int_equal(kz_apdu_encode(a, proto, ext, out, sizeof(out), &len), CKR_OK);
    hex(out, len, got);
    if (len != wn || memcmp(out, want, wn) != 0)
        fail_msg("encoded %s, expected %s", got, want_hex);
}

static void test_encode_short(void **state)
{
    const uint8_t d3[] = { 1, 2, 3 };
    kz_apdu c1 = { 0x00, 0xA4, 0x00, 0x00, NULL, 0, 0, 0 };
    kz_apdu c2 = { 0x00, 0xB0, 0x00, 0x10, NULL, 0, 16, 0 };
    kz_apdu c2max = { 0x00, 0xB0, 0x00, 0x00, NULL, 0, 256, 0 };
    kz_apdu c3 = { 0x00, 0xD6, 0x00, 0x00, d3, 3, 0, 0 };
    kz_apdu c4 = { 0x00, 0x2A, 0x9E, 0x9A, d3, 3, 256, 0 };

    expect_encoding(&c1, KZ_PROTO_T1, 0, "00 A4 00 00");
    expect_encoding(&c1, KZ_PROTO_T0, 0, "00 A4 00 00 00");        /* P3 = 00 */
    expect_encoding(&c2, KZ_PROTO_T1, 0, "00 B0 00 10 10");
    expect_encoding(&c2, KZ_PROTO_T0, 0, "00 B0 00 10 10");
    expect_encoding(&c2max, KZ_PROTO_T1, 0, "00 B0 00 00 00");     /* 256 is 00 */
    expect_encoding(&c3, KZ_PROTO_T1, 0, "00 D6 00 00 03 01 02 03");
    expect_encoding(&c3, KZ_PROTO_T0, 0, "00 D6 00 00 03 01 02 03");
    expect_encoding(&c4, KZ_PROTO_T1, 0, "00 2A 9E 9A 03 01 02 03 00");
    expect_encoding(&c4, KZ_PROTO_T0, 0, "00 2A 9E 9A 03 01 02 03"); /* no Le over T=0 */
}

static void test_encode_extended(void **state)
{
    static uint8_t big[300];
    uint8_t out[1000];
    size_t len;
    kz_apdu c2 = { 0x00, 0xB0, 0x00, 0x00, NULL, 0, 300, 0 };
    kz_apdu c2max = { 0x00, 0xB0, 0x00, 0x00, NULL, 0, 65536, 0 };
    kz_apdu c3 = { 0x00, 0xD6, 0x00, 0x00, big, 300, 0, 0 };
    kz_apdu c4 = { 0x00, 0x2A, 0x80, 0x86, big, 300, 65536, 0 };
    kz_apdu c1 = { 0x80, 0x40, 0x00, 0x00, NULL, 0, 0, 0 };

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;
    expect_encoding(&c1, KZ_PROTO_T1, 1, "80 40 00 00");
    expect_encoding(&c2, KZ_PROTO_T1, 1, "00 B0 00 00 00 01 2C");
    expect_encoding(&c2max, KZ_PROTO_T1, 1, "00 B0 00 00 00 00 00");
    assert_int_equal(kz_apdu_encode(&c3, KZ_PROTO_T1, 1, out, sizeof(out), &len), CKR_OK);
    assert_int_equal(len, 4 + 3 + 300);
    assert_memory_equal(out, "\x00\xD6\x00\x00\x00\x01\x2C", 7);
    assert_memory_equal(out + 7, big, 300);
    assert_int_equal(kz_apdu_encode(&c4, KZ_PROTO_T1, 1, out, sizeof(out), &len), CKR_OK);
    assert_int_equal(len, 4 + 3 + 300 + 2);
    assert_memory_equal(out + 307, "\x00\x00", 2);

    /* What does not fit the form asked for. */
    assert_int_equal(kz_apdu_encode(&c3, KZ_PROTO_T1, 0, out, sizeof(out), &len), CKR_DATA_LEN_RANGE);
    assert_int_equal(kz_apdu_encode(&c2, KZ_PROTO_T1, 0, out, sizeof(out), &len), CKR_DATA_LEN_RANGE);
    assert_int_equal(kz_apdu_encode(&c2, KZ_PROTO_T0, 1, out, sizeof(out), &len), CKR_DATA_LEN_RANGE);
    c2.le = 65537;
    assert_int_equal(kz_apdu_encode(&c2, KZ_PROTO_T1, 1, out, sizeof(out), &len), CKR_DATA_LEN_RANGE);
    /* Lc without data; an output buffer too small. */
    c3.data = NULL;
    assert_int_equal(kz_apdu_encode(&c3, KZ_PROTO_T1, 1, out, sizeof(out), &len), CKR_ARGUMENTS_BAD);
    assert_int_equal(kz_apdu_encode(&c1, KZ_PROTO_T1, 0, out, 3, &len), CKR_ARGUMENTS_BAD);
}

/* ---- Exchanges ------------------------------------------------------------------ */

static void test_cases_t1(void **state)
{
    SCRIPT(s,
        { "00 A4 00 00", "90 00", CKR_OK },
        { "00 B0 00 00 04", "01 02 03 04 90 00", CKR_OK },
        { "00 D6 00 00 02 AA BB", "90 00", CKR_OK },
        { "00 2A 9E 9A 02 AA BB 00", "11 22 33 90 00", CKR_OK },
        { "00 CA 01 81 00", "6A 88", CKR_OK });
    kz_card *c = fake_card(KZ_PROTO_T1, s);
    const uint8_t d[] = { 0xAA, 0xBB };
    uint8_t buf[256];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu a1 = { 0x00, 0xA4, 0, 0, NULL, 0, 0, 0 };
    kz_apdu a2 = { 0x00, 0xB0, 0, 0, NULL, 0, 4, 0 };
    kz_apdu a3 = { 0x00, 0xD6, 0, 0, d, 2, 0, 0 };
    kz_apdu a4 = { 0x00, 0x2A, 0x9E, 0x9A, d, 2, 256, 0 };
    kz_apdu a5 = { 0x00, 0xCA, 0x01, 0x81, NULL, 0, 256, 0 };

    assert_int_equal(kz_card_transmit(c, &a1, &r), CKR_OK);
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 0);
    assert_int_equal(kz_card_transmit(c, &a2, &r), CKR_OK);
    assert_int_equal(r.len, 4);
    assert_memory_equal(buf, "\x01\x02\x03\x04", 4);
    assert_int_equal(kz_card_transmit(c, &a3, &r), CKR_OK);
    assert_int_equal(kz_card_transmit(c, &a4, &r), CKR_OK);
    assert_int_equal(r.len, 3);
    assert_int_equal(r.sw, 0x9000);
    /* Any status word is a completed exchange; kz_card_command maps it. */
    assert_int_equal(kz_card_command(c, &a5, &r), CKR_DEVICE_ERROR);
    assert_int_equal(r.sw, 0x6A88);
    done(s, c);
}

static void test_t0_get_response(void **state)
{
    /* Case 4 over T=0: no Le; 61 xx starts GET RESPONSE, which repeats
     * while the card has more; a proprietary class asks with 00, an
     * interindustry one keeps its logical channel. */
    SCRIPT(s,
        { "80 2A 9E 9A 02 AA BB", "61 04", CKR_OK },
        { "00 C0 00 00 04", "01 02 03 04 61 02", CKR_OK },
        { "00 C0 00 00 02", "05 06 90 00", CKR_OK },
        { "01 A4 04 00 02 AA BB", "61 00", CKR_OK },
        { "01 C0 00 00 00", "6C 03", CKR_OK },
        { "01 C0 00 00 03", "07 08 09 90 00", CKR_OK },
        { "00 B2 01 04 00", "6C 05", CKR_OK },
        { "00 B2 01 04 05", "0A 0B 0C 0D 0E 90 00", CKR_OK });
    kz_card *c = fake_card(KZ_PROTO_T0, s);
    const uint8_t d[] = { 0xAA, 0xBB };
    uint8_t buf[256];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu sign = { 0x80, 0x2A, 0x9E, 0x9A, d, 2, 256, 0 };
    kz_apdu sel = { 0x01, 0xA4, 0x04, 0x00, d, 2, 256, 0 };
    kz_apdu rec = { 0x00, 0xB2, 0x01, 0x04, NULL, 0, 256, 0 };

    assert_int_equal(kz_card_transmit(c, &sign, &r), CKR_OK);
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 6);
    assert_memory_equal(buf, "\x01\x02\x03\x04\x05\x06", 6);
    assert_int_equal(kz_card_transmit(c, &sel, &r), CKR_OK);
    assert_int_equal(r.len, 3);
    assert_int_equal(r.sw, 0x9000);
    /* 6C xx on a case 2: the same command again with the Le it names. */
    assert_int_equal(kz_card_transmit(c, &rec, &r), CKR_OK);
    assert_int_equal(r.len, 5);
    assert_int_equal(r.sw, 0x9000);
    done(s, c);
}

static void test_6282_ends_get_response(void **state)
{
    SCRIPT(s,
        { "00 B0 00 00 00", "AA 61 00", CKR_OK },
        { "00 C0 00 00 00", "BB CC 62 82", CKR_OK },
        /* 62 82 on the command itself is the card's answer, kept. */
        { "00 B0 00 10 00", "DD 62 82", CKR_OK });
    kz_card *c = fake_card(KZ_PROTO_T1, s);
    uint8_t buf[600];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu rd = { 0x00, 0xB0, 0, 0, NULL, 0, 512, 0 };
    kz_apdu rd2 = { 0x00, 0xB0, 0, 0x10, NULL, 0, 256, 0 };

    assert_int_equal(kz_card_transmit(c, &rd, &r), CKR_OK);
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 3);
    assert_memory_equal(buf, "\xAA\xBB\xCC", 3);
    assert_int_equal(kz_card_transmit(c, &rd2, &r), CKR_OK);
    assert_int_equal(r.sw, 0x6282);
    assert_int_equal(r.len, 1);
    done(s, c);
}

static void test_long_le_without_extended(void **state)
{
    /* Le 300 on a card without extended lengths: 00, and the rest through
     * 61 xx (how a 4096-bit signature arrives on a short-APDU token). */
    SCRIPT(s,
        { NULL, "", CKR_OK },
        { "00 C0 00 00 2C", "", CKR_OK });
    static step st[2];
    static char first[1200], second[200];
    kz_card *c;
    uint8_t buf[300];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu rd = { 0x00, 0x2A, 0x9E, 0x9A, (const uint8_t *)"\x01", 1, 300, 0 };

    strcpy(first, "");
    for (int i = 0; i < 256; i++)
        strcat(first, "11 ");
    strcat(first, "61 2C");
    strcpy(second, "");
    for (int i = 0; i < 44; i++)
        strcat(second, "22 ");
    strcat(second, "90 00");
    st[0].cmd = "00 2A 9E 9A 01 01 00";
    st[0].rsp = first;
    st[1].cmd = "00 C0 00 00 2C";
    st[1].rsp = second;
    s->steps = st;
    c = fake_card(KZ_PROTO_T1, s);
    assert_int_equal(kz_card_transmit(c, &rd, &r), CKR_OK);
    assert_int_equal(r.len, 300);
    assert_int_equal(buf[255], 0x11);
    assert_int_equal(buf[256], 0x22);
    done(s, c);
}

static void test_extended_when_enabled(void **state)
{
    SCRIPT(s, { NULL, "90 00", CKR_OK });
    kz_card *c = fake_card(KZ_PROTO_T1, s);
    static uint8_t big[300];
    kz_rapdu r = { NULL, 0, 0, 0 };
    kz_apdu up = { 0x00, 0xD6, 0, 0, big, sizeof(big), 0, 0 };

    /* Off by default: too long for a short APDU, and no chaining asked. */
    assert_int_equal(kz_card_transmit(c, &up, &r), CKR_DATA_LEN_RANGE);
    assert_int_equal(s->pos, 0);
    kz_card_set_extended(c, 1);
    assert_int_equal(kz_card_transmit(c, &up, &r), CKR_OK);
    assert_int_equal(s->last_len, 4 + 3 + 300);
    assert_memory_equal(s->last, "\x00\xD6\x00\x00\x00\x01\x2C", 7);
    done(s, c);

    /* Never over T=0, whatever the driver says. */
    SCRIPT(s0, { NULL, "90 00", CKR_OK });
    c = fake_card(KZ_PROTO_T0, s0);
    kz_card_set_extended(c, 1);
    assert_int_equal(kz_card_transmit(c, &up, &r), CKR_DATA_LEN_RANGE);
    s0->n = 0;
    done(s0, c);
}

static void test_chaining(void **state)
{
    SCRIPT(s,
        { NULL, "90 00", CKR_OK },
        { NULL, "61 02", CKR_OK },
        { "00 C0 00 00 02", "AB CD 90 00", CKR_OK },
        /* a refused piece ends the command: nothing more is sent */
        { NULL, "6A 80", CKR_OK });
    kz_card *c = fake_card(KZ_PROTO_T1, s);
    static uint8_t data[300];
    uint8_t buf[16];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu a = { 0x00, 0x2A, 0x9E, 0x9A, data, sizeof(data), 256, KZ_APDU_CHAIN };

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_OK);
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 2);
    assert_memory_equal(buf, "\xAB\xCD", 2);
    assert_int_equal(s->pos, 3);

    {
        /* Look at the pieces one by one. */
        static step one[] = { { NULL, "90 00", CKR_OK } };
        script *p = calloc(1, sizeof(*p));
        kz_card *pc;
        assert_non_null(p);
        p->steps = one;
        p->n = 1;
        pc = fake_card(KZ_PROTO_T1, p);
        a.lc = 255;
        a.flags = KZ_APDU_CHAIN;
        assert_int_equal(kz_card_transmit(pc, &a, &r), CKR_OK);
        /* exactly one short APDU: no chaining needed */
        assert_int_equal(p->last_len, 4 + 1 + 255 + 1);
        assert_int_equal(p->last[0], 0x00);
        done(p, pc);
        a.lc = sizeof(data);
    }

    /* An intermediate error: the first piece (255 bytes, CLA 10, no Le)
     * is refused. */
    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_OK);
    assert_int_equal(r.sw, 0x6A80);
    assert_int_equal(r.len, 0);
    assert_int_equal(s->last[0], 0x10);
    assert_int_equal(s->last[4], 0xFF);
    assert_int_equal(s->last_len, 4 + 1 + 255);
    done(s, c);
}

static void test_chaining_pieces(void **state)
{
    SCRIPT(s,
        { NULL, "90 00", CKR_OK },
        { NULL, "90 00", CKR_OK },
        { NULL, "90 00", CKR_OK });
    kz_card *c = fake_card(KZ_PROTO_T0, s);
    static uint8_t data[600];
    uint8_t buf[4];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu a = { 0x00, 0x24, 0x01, 0x02, data, sizeof(data), 0, KZ_APDU_CHAIN };

    memset(data, 0x5A, sizeof(data));
    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_OK);
    /* 255 + 255 + 90: the last piece has the plain CLA and its own Lc. */
    assert_int_equal(s->last_len, 4 + 1 + 90);
    assert_memory_equal(s->last, "\x00\x24\x01\x02\x5A", 5);
    done(s, c);
}

static void test_malformed_responses(void **state)
{
    SCRIPT(s,
        { "00 84 00 00 08", "", CKR_OK },           /* nothing at all */
        { "00 84 00 00 08", "90", CKR_OK },         /* one byte */
        { "00 84 00 00 08", "01 02 03 04 05 06 07 08 09 90 00", CKR_OK },   /* too long */
        { "00 84 00 00 08", "01 02 03 04 61 10", CKR_OK },
        { "00 C0 00 00 10", "01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 90 00", CKR_OK },
        { "00 84 00 00 08", "", CKR_DEVICE_ERROR });  /* the reader failed */
    kz_card *c = fake_card(KZ_PROTO_T1, s);
    uint8_t buf[8];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu a = { 0x00, 0x84, 0, 0, NULL, 0, 8, 0 };

    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_DEVICE_ERROR);
    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_DEVICE_ERROR);
    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_DEVICE_ERROR);
    assert_int_equal(r.len, 0);
    /* More than the buffer through GET RESPONSE: an error, not a truncation. */
    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_DEVICE_ERROR);
    assert_int_equal(r.len, 0);
    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_DEVICE_ERROR);
    done(s, c);
}

static CK_RV endless_61(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len)
{
    int *calls = ctx;

    (*calls)++;
    rsp[0] = 0x61;
    rsp[1] = 0x00;
    *rsp_len = 2;
    return CKR_OK;
}

static void test_endless_get_response(void **state)
{
    int calls = 0;
    kz_card *c = NULL;
    uint8_t buf[256];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu a = { 0x00, 0xCA, 0, 0, NULL, 0, 256, 0 };

    assert_int_equal(kz_card_new_fake("loop", KZ_PROTO_T0, NULL, 0, endless_61, &calls, &c), CKR_OK);
    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_DEVICE_ERROR);
    assert_true(calls > 1 && calls < 1000);
    kz_card_unref(c);
}

static void test_oversize_commands(void **state)
{
    SCRIPT(s, { NULL, "90 00", CKR_OK });
    kz_card *c = fake_card(KZ_PROTO_T1, s);
    static uint8_t big[70000];
    kz_rapdu r = { NULL, 0, 0, 0 };
    kz_apdu a = { 0x00, 0xD6, 0, 0, big, 65536, 0, KZ_APDU_CHAIN };
    kz_apdu le = { 0x00, 0xB0, 0, 0, NULL, 0, 65537, 0 };
    kz_apdu nodata = { 0x00, 0xD6, 0, 0, NULL, 4, 0, 0 };

    kz_card_set_extended(c, 1);
    assert_int_equal(kz_card_transmit(c, &a, &r), CKR_DATA_LEN_RANGE);
    assert_int_equal(kz_card_transmit(c, &le, &r), CKR_DATA_LEN_RANGE);
    assert_int_equal(kz_card_transmit(c, &nodata, &r), CKR_ARGUMENTS_BAD);
    s->n = 0;
    done(s, c);
}

static void test_reset_and_removal(void **state)
{
    SCRIPT(s,
        { "00 20 00 01 02 31 32", "90 00", CKR_OK },
        { "00 2A 9E 9A 01 01 00", "", KZ_CKR_CARD_RESET },
        { "00 A4 04 00 01 01 00", "90 00", CKR_OK },
        { "00 A4 04 00 01 01 00", "", CKR_DEVICE_REMOVED });
    kz_card *c = fake_card(KZ_PROTO_T1, s);
    kz_rapdu r = { NULL, 0, 0, 0 };
    uint8_t buf[64];
    kz_rapdu rb = { buf, sizeof(buf), 0, 0 };
    kz_apdu verify = { 0x00, 0x20, 0x00, 0x01, (const uint8_t *)"12", 2, 0, KZ_APDU_SECRET };
    kz_apdu pso = { 0x00, 0x2A, 0x9E, 0x9A, (const uint8_t *)"\x01", 1, 256, 0 };
    kz_apdu sel = { 0x00, 0xA4, 0x04, 0x00, (const uint8_t *)"\x01", 1, 256, 0 };
    int reset = -1;

    assert_int_equal(kz_card_begin(c, &reset), CKR_OK);
    assert_int_equal(reset, 0);
    assert_int_equal(kz_card_transmit(c, &verify, &r), CKR_OK);
    kz_card_set_logged_in(c, 1);
    kz_card_end(c);
    assert_int_equal(kz_card_take_login_lost(c), 0);

    /* Reset in the middle of an operation: reported at once, and the
     * login is reported lost (once). */
    assert_int_equal(kz_card_begin(c, &reset), CKR_OK);
    assert_int_equal(kz_card_transmit(c, &pso, &rb), KZ_CKR_CARD_RESET);
    kz_card_end(c);
    assert_int_equal(kz_card_take_login_lost(c), 1);
    assert_int_equal(kz_card_take_login_lost(c), 0);
    assert_int_equal(kz_card_public_rv(KZ_CKR_CARD_RESET, 1), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(kz_card_public_rv(KZ_CKR_CARD_RESET, 0), CKR_DEVICE_ERROR);
    assert_int_equal(kz_card_public_rv(CKR_PIN_INCORRECT, 1), CKR_PIN_INCORRECT);

    /* The next begin tells the driver too (once); nested begins stay quiet. */
    assert_int_equal(kz_card_begin(c, &reset), CKR_OK);
    assert_int_equal(reset, 1);
    assert_int_equal(kz_card_begin(c, &reset), CKR_OK);
    assert_int_equal(reset, 0);
    assert_int_equal(kz_card_transmit(c, &sel, &rb), CKR_OK);
    kz_card_end(c);
    kz_card_end(c);
    assert_int_equal(kz_card_begin(c, &reset), CKR_OK);
    assert_int_equal(reset, 0);
    kz_card_end(c);
    /* An unbalanced end is ignored. */
    kz_card_end(c);

    /* Removed: this and every later call, without touching the card. */
    assert_int_equal(kz_card_transmit(c, &sel, &rb), CKR_DEVICE_REMOVED);
    assert_int_equal(kz_card_transmit(c, &sel, &rb), CKR_DEVICE_REMOVED);
    assert_int_equal(kz_card_begin(c, &reset), CKR_DEVICE_REMOVED);
    done(s, c);
}

static void test_status_words(void **state)
{
    assert_int_equal(kz_sw_rv(0x9000), CKR_OK);
    assert_int_equal(kz_sw_rv(0x63C2), CKR_PIN_INCORRECT);
    assert_int_equal(kz_sw_rv(0x63C0), CKR_PIN_LOCKED);
    assert_int_equal(kz_sw_rv(0x6300), CKR_PIN_INCORRECT);
    assert_int_equal(kz_sw_rv(0x6983), CKR_PIN_LOCKED);
    assert_int_equal(kz_sw_rv(0x6982), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(kz_sw_rv(0x6700), CKR_DATA_LEN_RANGE);
    assert_int_equal(kz_sw_rv(0x6A80), CKR_DATA_INVALID);
    assert_int_equal(kz_sw_rv(0x6A84), CKR_DEVICE_MEMORY);
    assert_int_equal(kz_sw_rv(0x6A82), CKR_DEVICE_ERROR);
    assert_int_equal(kz_sw_rv(0x6D00), CKR_DEVICE_ERROR);
    assert_int_equal(kz_sw_tries_left(0x63C3), 3);
    assert_int_equal(kz_sw_tries_left(0x6300), -1);
    assert_int_equal(kz_sw_tries_left(0x9000), -1);
    assert_true(kz_sw_ok(0x9000));
    assert_int_equal(kz_sw1(0x6A82), 0x6A);
    assert_int_equal(kz_sw2(0x6A82), 0x82);
}

static void test_pcsc_errors(void **state)
{
    assert_int_equal(kz_pcsc_rv(SCARD_S_SUCCESS), CKR_OK);
    assert_int_equal(kz_pcsc_rv(SCARD_W_REMOVED_CARD), CKR_DEVICE_REMOVED);
    assert_int_equal(kz_pcsc_rv(SCARD_E_NO_SMARTCARD), CKR_DEVICE_REMOVED);
    assert_int_equal(kz_pcsc_rv(SCARD_E_READER_UNAVAILABLE), CKR_DEVICE_REMOVED);
    assert_int_equal(kz_pcsc_rv(SCARD_E_NO_SERVICE), CKR_DEVICE_REMOVED);
    assert_int_equal(kz_pcsc_rv(SCARD_E_SERVICE_STOPPED), CKR_DEVICE_REMOVED);
    assert_int_equal(kz_pcsc_rv(SCARD_E_INVALID_HANDLE), CKR_DEVICE_REMOVED);
    assert_int_equal(kz_pcsc_rv(SCARD_W_RESET_CARD), KZ_CKR_CARD_RESET);
    assert_int_equal(kz_pcsc_rv(SCARD_E_SHARING_VIOLATION), CKR_DEVICE_ERROR);
    assert_int_equal(kz_pcsc_rv(SCARD_E_TIMEOUT), CKR_DEVICE_ERROR);
    assert_int_equal(kz_pcsc_rv(SCARD_W_UNRESPONSIVE_CARD), CKR_DEVICE_ERROR);
    assert_int_equal(kz_pcsc_rv(SCARD_E_NO_MEMORY), CKR_HOST_MEMORY);
    assert_int_equal(kz_pcsc_rv(SCARD_E_CANCELLED), CKR_FUNCTION_CANCELED);
    assert_true(kz_pcsc_service_lost(SCARD_E_NO_SERVICE));
    assert_true(kz_pcsc_service_lost(SCARD_E_SERVICE_STOPPED));
    assert_true(kz_pcsc_service_lost(SCARD_E_INVALID_HANDLE));
    assert_false(kz_pcsc_service_lost(SCARD_W_REMOVED_CARD));
    assert_false(kz_pcsc_service_lost(SCARD_E_TIMEOUT));
}

/* ---- ATRs and drivers ----------------------------------------------------------- */

static CK_RV no_bind(kz_card *card, kz_token *out)
{
    return CKR_TOKEN_NOT_RECOGNIZED;
}

static void test_atr_match(void **state)
{
    static const uint8_t a1[] = { 0x3B, 0x8B, 0x01, 0x52 };
    static const uint8_t a2[] = { 0x3B, 0x00, 0x00, 0x52 };
    static const uint8_t m2[] = { 0xFF, 0x00, 0x00, 0xFF };
    static const kz_atr_pattern p1[] = { { a1, NULL, sizeof(a1) } };
    static const kz_atr_pattern p2[] = { { a2, m2, sizeof(a2) } };
    static const kz_card_driver d1 = { "exact", p1, 1, no_bind };
    static const kz_card_driver d2 = { "masked", p2, 1, no_bind };
    static const kz_card_driver *const table[] = { &d1, &d2, NULL };
    const uint8_t card[] = { 0x3B, 0x8B, 0x01, 0x52 };
    const uint8_t other[] = { 0x3B, 0x9C, 0x96, 0x52 };
    size_t pos = 0;

    assert_true(kz_atr_match(&p1[0], card, sizeof(card)));
    assert_false(kz_atr_match(&p1[0], other, sizeof(other)));
    assert_false(kz_atr_match(&p1[0], card, 3));
    assert_true(kz_atr_match(&p2[0], other, sizeof(other)));
    /* Both match the first card, in table order; only the masked one the other. */
    assert_ptr_equal(kz_card_driver_next(table, card, sizeof(card), &pos), &d1);
    assert_ptr_equal(kz_card_driver_next(table, card, sizeof(card), &pos), &d2);
    assert_null(kz_card_driver_next(table, card, sizeof(card), &pos));
    pos = 0;
    assert_ptr_equal(kz_card_driver_next(table, other, sizeof(other), &pos), &d2);
    pos = 0;
    /* The built-in table is empty until the first driver. */
    assert_null(kz_card_driver_next(kz_card_drivers, card, sizeof(card), &pos));
}

/* ---- The trace ------------------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static void test_trace_masks_secrets(void **state)
{
    /* A PIN of distinctive bytes; a chained PIN change; a deciphered key. */
    static const uint8_t pin[] = { 0x4B, 0x5A, 0x50, 0x49, 0x4E, 0x37 };
    static uint8_t change[300];
    SCRIPT(s,
        { "00 20 00 02 06 4B 5A 50 49 4E 37", "63 C2", CKR_OK },
        { "00 20 00 02 06 4B 5A 50 49 4E 37", "90 00", CKR_OK },
        { NULL, "90 00", CKR_OK },
        { NULL, "90 00", CKR_OK },
        { "00 2A 80 86 02 01 02", "61 04", CKR_OK },
        { "00 C0 00 00 04", "C1 C2 C3 C4 90 00", CKR_OK },
        { "00 A4 04 00 02 A0 00", "90 00", CKR_OK });
    char path[] = "/tmp/kzp11-trace-XXXXXX";
    int fd = mkstemp(path);
    kz_card *c;
    uint8_t buf[16];
    kz_rapdu r = { buf, sizeof(buf), 0, 0 };
    kz_apdu verify = { 0x00, 0x20, 0x00, 0x02, pin, sizeof(pin), 0, KZ_APDU_SECRET };
    kz_apdu crd = { 0x00, 0x24, 0x01, 0x02, change, sizeof(change), 0, KZ_APDU_SECRET | KZ_APDU_CHAIN };
    kz_apdu dec = { 0x00, 0x2A, 0x80, 0x86, (const uint8_t *)"\x01\x02", 2, 256, KZ_APDU_SECRET_RESP };
    kz_apdu sel = { 0x00, 0xA4, 0x04, 0x00, (const uint8_t *)"\xA0\x00", 2, 256, 0 };
    char *log, *p;

    assert_true(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof(change); i++)
        change[i] = pin[i % sizeof(pin)];
    setenv("KZP11_DEBUG", "1", 1);
    kz_log_init(path);
    assert_true(kz_log_enabled);
    c = fake_card(KZ_PROTO_T0, s);
    assert_int_equal(kz_card_command(c, &verify, &r), CKR_PIN_INCORRECT);
    assert_int_equal(kz_card_command(c, &verify, &r), CKR_OK);
    assert_int_equal(kz_card_command(c, &crd, &r), CKR_OK);
    assert_int_equal(kz_card_command(c, &dec, &r), CKR_OK);
    assert_memory_equal(buf, "\xC1\xC2\xC3\xC4", 4);
    assert_int_equal(kz_card_command(c, &sel, &r), CKR_OK);
    done(s, c);
    kz_log_fini();
    unsetenv("KZP11_DEBUG");

    log = slurp(path);
    unlink(path);
    /* The headers and lengths are there, the secrets are not. */
    assert_non_null(strstr(log, "fake reader > 00 20 00 02 06 ** ** ** ** ** **"));
    assert_non_null(strstr(log, "fake reader < 63 C2"));
    assert_non_null(strstr(log, "fake reader > 10 24 01 02 FF ** ** **"));
    assert_non_null(strstr(log, "fake reader > 00 24 01 02 2D ** **"));
    assert_non_null(strstr(log, "fake reader < ** ** ** ** 90 00"));
    /* Not secret: shown as is. */
    assert_non_null(strstr(log, "fake reader > 00 A4 04 00 02 A0 00"));
    for (p = log; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    assert_null(strstr(log, "4B 5A"));
    assert_null(strstr(log, "5A 50"));
    assert_null(strstr(log, "49 4E"));
    assert_null(strstr(log, "4E 37"));
    assert_null(strstr(log, "KZPIN"));
    assert_null(strstr(log, "C1 C2"));
    assert_null(strstr(log, "C3 C4"));
    free(log);
}

/* The per-card cache: entries by card (driver and serial), file and the
 * version the card says the file is at. */
static void test_card_cache(void **state)
{
    static const uint8_t serial_a[4] = { 1, 2, 3, 4 }, serial_b[4] = { 1, 2, 3, 5 };
    kz_card_cache *a = kz_card_cache_for("drv", serial_a, sizeof(serial_a));
    kz_card_cache *b = kz_card_cache_for("drv", serial_b, sizeof(serial_b));
    const uint8_t *d;
    size_t n;

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    /* The same card found again, also by another driver's name: not. */
    assert_ptr_equal(kz_card_cache_for("drv", serial_a, sizeof(serial_a)), a);
    assert_ptr_not_equal(kz_card_cache_for("other", serial_a, sizeof(serial_a)), a);

    assert_false(kz_card_cache_get(a, 0xA101, 7, &d, &n));
    assert_int_equal(kz_card_cache_put(a, 0xA101, 7, (const uint8_t *)"abc", 3), CKR_OK);
    assert_true(kz_card_cache_get(a, 0xA101, 7, &d, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(d, "abc", 3);
    /* Another version on the card: stale. Another card: not there. */
    assert_false(kz_card_cache_get(a, 0xA101, 8, &d, &n));
    assert_false(kz_card_cache_get(b, 0xA101, 7, &d, &n));
    /* Replaced in place, not duplicated. */
    assert_int_equal(kz_card_cache_put(a, 0xA101, 8, (const uint8_t *)"defg", 4), CKR_OK);
    assert_false(kz_card_cache_get(a, 0xA101, 7, &d, &n));
    assert_true(kz_card_cache_get(a, 0xA101, 8, &d, &n));
    assert_int_equal(n, 4);
    assert_memory_equal(d, "defg", 4);
    for (uint32_t f = 0; f < 40; f++)
        assert_int_equal(kz_card_cache_put(a, f, f, (const uint8_t *)&f, sizeof(f)), CKR_OK);
    kz_card_cache_forget(a, 0xA101);
    assert_false(kz_card_cache_get(a, 0xA101, 8, &d, &n));
    for (uint32_t f = 0; f < 40; f++) {
        assert_true(kz_card_cache_get(a, f, f, &d, &n));
        assert_memory_equal(d, &f, sizeof(f));
    }
    kz_card_cache_forget(a, 12345);     /* not there: nothing happens */
    /* A new version with the same bytes: only from the version held. */
    kz_card_cache_restamp(a, 7, 6, 9);
    assert_true(kz_card_cache_get(a, 7, 7, &d, &n));
    kz_card_cache_restamp(a, 7, 7, 9);
    assert_false(kz_card_cache_get(a, 7, 7, &d, &n));
    assert_true(kz_card_cache_get(a, 7, 9, &d, &n));
    assert_memory_equal(d, &(uint32_t){ 7 }, sizeof(uint32_t));
    kz_card_cache_clear_all();
    /* After C_Finalize a card starts empty. */
    a = kz_card_cache_for("drv", serial_a, sizeof(serial_a));
    assert_false(kz_card_cache_get(a, 3, 3, &d, &n));
    kz_card_cache_clear_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_short),
        cmocka_unit_test(test_encode_extended),
        cmocka_unit_test(test_cases_t1),
        cmocka_unit_test(test_t0_get_response),
        cmocka_unit_test(test_6282_ends_get_response),
        cmocka_unit_test(test_long_le_without_extended),
        cmocka_unit_test(test_extended_when_enabled),
        cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_chaining_pieces),
        cmocka_unit_test(test_malformed_responses),
        cmocka_unit_test(test_endless_get_response),
        cmocka_unit_test(test_oversize_commands),
        cmocka_unit_test(test_reset_and_removal),
        cmocka_unit_test(test_status_words),
        cmocka_unit_test(test_pcsc_errors),
        cmocka_unit_test(test_atr_match),
        cmocka_unit_test(test_trace_masks_secrets),
        cmocka_unit_test(test_card_cache),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
