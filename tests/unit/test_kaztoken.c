/* Unit tests of the Kaztoken driver's pieces: kzp11's file formats on the
 * card, and the driver's APDUs for binding, PINs, signing, deciphering and
 * key generation. The card is a fake that follows a script each test
 * writes as it goes: the exact command bytes expected, and the answer,
 * canned or computed by the test's own "card" (raw RSA with a key the test
 * holds), so byte order is checked end to end, not just byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "card_internal.h"
#include "crypto_backend.h"
#include "kaztoken.h"
#include "kaztoken_internal.h"
#include "slot_table.h"

/* ---- Hex -------------------------------------------------------------------- */

/* Scripts are written in hex; a few strings are alive at once in one
 * expect() call, so the helpers rotate through buffers. */
#define ROT 8
#define ROT_SIZE 4096

static char *rot_buf(void)
{
    static char bufs[ROT][ROT_SIZE];
    static unsigned next;

    return bufs[next++ % ROT];
}

static const char *hx(const uint8_t *b, size_t n)
{
    char *out = rot_buf();

    assert_true(3 * n < ROT_SIZE);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        sprintf(out + 3 * i, i + 1 < n ? "%02X " : "%02X", b[i]);
    return out;
}

__attribute__((format(printf, 1, 2))) static const char *cat(const char *fmt, ...)
{
    char *out = rot_buf();
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, ROT_SIZE, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && n < ROT_SIZE);
    return out;
}

/* Hex bytes; "??" is a byte the driver chooses itself (a random number),
 * left unchecked; "XX*N" is XX N times (the zeros that pad a file). */
static size_t parse_pattern(const char *s, uint8_t *b, uint8_t *any, size_t cap)
{
    size_t n = 0;

    while (*s) {
        unsigned v = 0;
        unsigned long rep = 1;
        int wild = 0;

        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        if (s[0] == '?' && s[1] == '?')
            wild = 1;
        else if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1])
                 || sscanf(s, "%2x", &v) != 1)
            fail_msg("bad hex at \"%.12s\"", s);
        s += 2;
        if (*s == '*') {
            char *end;
            rep = strtoul(s + 1, &end, 10);
            s = end;
        }
        for (; rep; rep--) {
            if (n >= cap)
                fail_msg("pattern longer than %zu bytes", cap);
            b[n] = (uint8_t)v;
            if (any)
                any[n] = (uint8_t)wild;
            n++;
        }
    }
    return n;
}

static void reverse(uint8_t *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[n - 1 - i];
}

/* ---- The scripted card ------------------------------------------------------ */

/* Enough for a 32 KiB file written in 255-byte pieces and what goes around it. */
#define MAX_STEPS 160
#define MAX_APDU 600

typedef struct fake fake;

/* The card's own answer (data then SW1 SW2) to a command, from the data of
 * its whole chain; returns the answer's length. */
typedef size_t (*answer_fn)(const uint8_t *data, size_t len, uint8_t *rsp);

typedef struct step {
    char *pattern;                /* as the test wrote it, for failure messages */
    uint8_t cmd[MAX_APDU], any[MAX_APDU];
    size_t cmd_len;
    uint8_t rsp[MAX_APDU];
    size_t rsp_len;
    answer_fn answer;
} step;

struct fake {
    kz_card *card;
    step steps[MAX_STEPS];
    size_t n, pos;
    /* What was sent, for the bytes a pattern leaves unchecked. */
    uint8_t sent[MAX_STEPS][MAX_APDU];
    size_t sent_len[MAX_STEPS];
    uint8_t chain[2048];
    size_t chain_len;
};

static CK_RV fake_raw(void *ctx, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rsp_len)
{
    fake *f = ctx;
    step *s;
    size_t lc;

    if (f->pos >= f->n)
        fail_msg("command %zu not scripted: %s", f->pos + 1, hx(cmd, len));
    assert_true(len <= MAX_APDU);
    s = &f->steps[f->pos];
    memcpy(f->sent[f->pos], cmd, len);
    f->sent_len[f->pos] = len;
    f->pos++;
    if (len != s->cmd_len)
        fail_msg("command %zu: sent %s, expected %s", f->pos, hx(cmd, len), s->pattern);
    for (size_t i = 0; i < len; i++)
        if (!s->any[i] && cmd[i] != s->cmd[i])
            fail_msg("command %zu: sent %s, expected %s (byte %zu differs)", f->pos, hx(cmd, len),
                     s->pattern, i);
    /* Short APDUs only (the token takes nothing else): Lc is byte 4 when
     * there is data. */
    lc = len > 5 ? cmd[4] : 0;
    assert_true(f->chain_len + lc <= sizeof(f->chain));
    memcpy(f->chain + f->chain_len, cmd + 5, lc);
    f->chain_len += lc;
    if (s->answer && !(cmd[0] & 0x10)) {
        size_t n = s->answer(f->chain, f->chain_len, rsp);
        assert_true(n <= *rsp_len);
        *rsp_len = n;
    } else {
        assert_true(s->rsp_len <= *rsp_len);
        memcpy(rsp, s->rsp, s->rsp_len);
        *rsp_len = s->rsp_len;
    }
    if (!(cmd[0] & 0x10))
        f->chain_len = 0;
    return CKR_OK;
}

static const uint8_t kaztoken_atr[] = { 0x3B, 0x88, 0x01, 0x4B, 0x41, 0x5A, 0x54,
                                        0x4F, 0x4B, 0x45, 0x4E, 0x82 };

static fake *fake_new(void)
{
    fake *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    /* T=1: the token's only protocol (its ATR's TD1). */
    assert_int_equal(kz_card_new_fake("kaztoken", KZ_PROTO_T1, kaztoken_atr, sizeof(kaztoken_atr),
                                      fake_raw, f, &f->card),
                     CKR_OK);
    return f;
}

static step *add_step(fake *f, const char *cmd)
{
    step *s;

    assert_true(f->n < MAX_STEPS);
    s = &f->steps[f->n++];
    s->pattern = strdup(cmd);
    assert_non_null(s->pattern);
    s->cmd_len = parse_pattern(cmd, s->cmd, s->any, sizeof(s->cmd));
    return s;
}

static void expect(fake *f, const char *cmd, const char *rsp)
{
    step *s = add_step(f, cmd);

    s->rsp_len = parse_pattern(rsp, s->rsp, NULL, sizeof(s->rsp));
}

static void expect_answer(fake *f, const char *cmd, answer_fn answer)
{
    add_step(f, cmd)->answer = answer;
}

/* Every command scripted so far was sent, and nothing else. */
static void all_sent(fake *f)
{
    if (f->pos != f->n)
        fail_msg("%zu of %zu scripted commands sent; next expected: %s", f->pos, f->n,
                 f->steps[f->pos].pattern);
}

static void fake_free(fake *f)
{
    all_sent(f);
    kz_card_unref(f->card);
    for (size_t i = 0; i < f->n; i++)
        free(f->steps[i].pattern);
    free(f);
}

/* ---- Card answers and fixtures ---------------------------------------------- */

/* A SELECT's answer: the FCP with the file's size (tag 80) and, for PIN
 * and key objects, their attributes (tag 85). */
static const char *fcp(size_t size, const char *prop85)
{
    if (prop85)
        return cat("62 0C 80 02 %02X %02X 85 06 %s 90 00", (unsigned)(size >> 8),
                   (unsigned)(size & 0xFF), prop85);
    return cat("62 04 80 02 %02X %02X 90 00", (unsigned)(size >> 8), (unsigned)(size & 0xFF));
}

/* The user PIN object: minimum length 6, 5 tries (§3.4: 01 <min> 01 <tries * 0x11>). */
#define USER_PIN_PROP "01 06 01 55 00 00"
#define SELECT_USER_PIN "00 A4 08 00 02 00 02 00"
#define SELECT_SO_PIN "00 A4 08 00 02 00 01 00"
#define SELECT_INDEX "00 A4 08 00 04 4B 5A 4B 49 00"
#define SELECT_APP "00 A4 08 00 02 4B 5A 00"
#define SELECT_PRKEY_DF "00 A4 08 00 06 10 00 10 00 60 02 00"
#define SELECT_PUKEY_DF "00 A4 08 00 06 10 00 10 00 60 01 00"
#define SELECT_MF "00 A4 00 00 02 3F 00 00"
/* Tag 86 of kzp11's DF and files (anyone reads, the user PIN writes), and
 * of the key objects (§3.4). */
#define APP_SEC "86 0F 43 02 02 00 00 00 00 02 00*7"
#define FILE_SEC "86 0F 43 00 02 00 00 00 00 02 00*7"
#define PRIV_SEC "86 0F 46 00 02 02 00 00 00 02 00*7"
#define PUB_SEC "86 0F 46 00 02 00 00 00 00 02 00*7"

static const uint8_t serial[] = { 0x4B, 0x5A, 0x00, 0xA7 };
static const CK_UTF8CHAR user_pin[] = "123456";

/* The card's RSA-2048 key, made once: generating one per test would cost
 * more than all the tests. */
static EVP_PKEY *card_rsa;
static uint8_t card_spki[512];
static size_t card_spki_len;
static uint8_t card_modulus[256];     /* big-endian */

/* A card that computes raw RSA (m^d mod n) on the little-endian number it
 * is sent and answers little-endian, as the Rutoken ECP does (§3.5). */
static size_t card_raw_rsa(const uint8_t *data, size_t len, uint8_t *rsp)
{
    uint8_t be[256], res[256];
    size_t res_len = sizeof(res);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(card_rsa, NULL);

    assert_int_equal(len, sizeof(be));
    reverse(be, data, len);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
    assert_int_equal(EVP_PKEY_decrypt(ctx, res, &res_len, be, sizeof(be)), 1);
    assert_int_equal(res_len, sizeof(res));
    EVP_PKEY_CTX_free(ctx);
    reverse(rsp, res, sizeof(res));
    rsp[256] = 0x90;
    rsp[257] = 0x00;
    return 258;
}

static int group_setup(void **state)
{
    BIGNUM *n = NULL;
    uint8_t *p = card_spki;
    int len;

    if (kz_crypto_init() != CKR_OK)
        return -1;
    card_rsa = EVP_RSA_gen(2048);
    if (!card_rsa || !EVP_PKEY_get_bn_param(card_rsa, OSSL_PKEY_PARAM_RSA_N, &n)
        || BN_bn2binpad(n, card_modulus, sizeof(card_modulus)) != sizeof(card_modulus))
        return -1;
    BN_free(n);
    len = i2d_PUBKEY(card_rsa, NULL);
    if (len <= 0 || (size_t)len > sizeof(card_spki) || i2d_PUBKEY(card_rsa, &p) != len)
        return -1;
    card_spki_len = (size_t)len;
    return 0;
}

static int group_teardown(void **state)
{
    EVP_PKEY_free(card_rsa);
    kz_crypto_fini();
    return 0;
}

/* ---- Token helpers ---------------------------------------------------------- */

static void bind_token(fake *f, kz_token *tok)
{
    /* A test that failed half-way never released its token: its card's
     * files are still cached, and this card has the same serial. */
    kz_card_cache_clear_all();
    expect(f, "00 CA 01 81 00", cat("%s 90 00", hx(serial, sizeof(serial))));
    memset(tok, 0, sizeof(*tok));
    assert_int_equal(kz_kaztoken_driver.bind(f->card, tok), CKR_OK);
    all_sent(f);
}

static void release_token(kz_token *tok)
{
    tok->ops->release(tok);
    /* The cache lives as long as the module: each test starts from a card
     * never seen before. */
    kz_card_cache_clear_all();
}

static CK_RV login(kz_token *tok, CK_USER_TYPE who, const char *pin)
{
    return tok->ops->login(tok, who, (const CK_UTF8CHAR *)pin, (CK_ULONG)strlen(pin));
}

static void login_user(fake *f, kz_token *tok)
{
    expect(f, SELECT_USER_PIN, fcp(0x40, USER_PIN_PROP));
    expect(f, cat("00 20 00 02 06 %s", hx(user_pin, 6)), "90 00");
    assert_int_equal(login(tok, CKU_USER, (const char *)user_pin), CKR_OK);
    all_sent(f);
}

/* kzp11's files as the card would hold them. The layout's own tests pin
 * their bytes; from there on the encoders are trusted to build fixtures. */
static void index_bytes(uint8_t out[KZT_INDEX_SIZE], uint32_t gen, const kzt_entry *e, size_t n)
{
    kzt_index x = { 0 };

    x.generation = gen;
    x.n = n;
    memcpy(x.e, e, n * sizeof(*e));
    assert_int_equal(kzt_index_encode(&x, out), CKR_OK);
}

/* Reads of a file in READ BINARY's 256-byte pieces. */
static void script_read(fake *f, const uint8_t *data, size_t len)
{
    for (size_t off = 0; off < len; off += 256) {
        size_t n = len - off < 256 ? len - off : 256;
        expect(f, cat("00 B0 %02X %02X %02X", (unsigned)(off >> 8), (unsigned)(off & 0xFF),
                      (unsigned)(n & 0xFF)),
               cat("%s 90 00", hx(data + off, n)));
    }
}

/* Writes in UPDATE BINARY's 255-byte pieces. */
static void script_write(fake *f, const uint8_t *data, size_t len)
{
    for (size_t off = 0; off < len; off += 255) {
        size_t n = len - off < 255 ? len - off : 255;
        expect(f, cat("00 D6 %02X %02X %02X %s", (unsigned)(off >> 8), (unsigned)(off & 0xFF),
                      (unsigned)n, hx(data + off, n)),
               "90 00");
    }
}

/* load_model over a card whose index lists one key (ref, alg) and whose
 * public file holds spki; returns that key. */
static kz_model_key *load_key(fake *f, kz_token *tok, uint8_t ref, uint8_t alg, const uint8_t *spki,
                              size_t spki_len)
{
    kzt_entry e = { .ref = ref, .alg = alg, .stamp = 7, .id_len = 2, .id = { 0xC1, 0xD0 } };
    uint8_t idx[KZT_INDEX_SIZE], *rec;
    size_t rec_len;
    kz_token_model m = { 0 };
    kz_model_key *k;

    index_bytes(idx, 7, &e, 1);
    assert_int_equal(kzt_record_encode("signing key", spki, spki_len, &rec, &rec_len), CKR_OK);
    expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
    script_read(f, idx, sizeof(idx));
    expect(f, cat("00 A4 08 00 04 4B 5A A1 %02X 00", ref), fcp(rec_len, NULL));
    script_read(f, rec, rec_len);
    free(rec);
    assert_int_equal(tok->ops->load_model(tok, &m), CKR_OK);
    all_sent(f);
    assert_int_equal(m.n_keys, 1);
    assert_int_equal(m.n_certs, 0);
    k = kz_model_key_ref(m.keys[0]);
    kz_token_model_clear(&m);
    assert_int_equal(k->id_len, 2);
    assert_memory_equal(k->id, "\xC1\xD0", 2);
    assert_string_equal(k->label, "signing key");
    assert_non_null(k->pub);
    return k;
}

static kz_model_key *load_rsa_key(fake *f, kz_token *tok, uint8_t ref)
{
    kz_model_key *k = load_key(f, tok, ref, KZT_ALG_RSA, card_spki, card_spki_len);

    assert_int_equal(kz_pkey_bits(k->pub), 2048);
    assert_int_equal(k->usage, KZ_USAGE_SIGN | KZ_USAGE_DECRYPT);
    return k;
}

/* ---- 1. kzp11's file formats ------------------------------------------------ */

static kzt_entry entry(uint8_t ref, uint8_t alg, uint8_t id_len, uint32_t stamp)
{
    kzt_entry e = { .ref = ref, .alg = alg, .flags = (uint8_t)(ref & 1), .stamp = stamp, .id_len = id_len };

    for (size_t i = 0; i < id_len; i++)
        e.id[i] = (uint8_t)(ref * 31 + i);
    return e;
}

static void assert_index_equal(const kzt_index *a, const kzt_index *b)
{
    assert_int_equal(a->generation, b->generation);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->e[i].ref, b->e[i].ref);
        assert_int_equal(a->e[i].alg, b->e[i].alg);
        assert_int_equal(a->e[i].flags, b->e[i].flags);
        assert_int_equal(a->e[i].stamp, b->e[i].stamp);
        assert_int_equal(a->e[i].id_len, b->e[i].id_len);
        assert_memory_equal(a->e[i].id, b->e[i].id, a->e[i].id_len);
    }
}

static void round_trip(const kzt_index *x)
{
    uint8_t buf[KZT_INDEX_SIZE];
    kzt_index y;

    assert_int_equal(kzt_index_encode(x, buf), CKR_OK);
    assert_int_equal(kzt_index_decode(buf, sizeof(buf), &y), CKR_OK);
    assert_index_equal(x, &y);
}

static void test_index_bytes(void **state)
{
    /* The format is what other kzp11 versions read off the card: pinned
     * byte for byte (magic, generation, count; per key ref, alg, flags,
     * stamp, id length, id; zeros to the end). */
    kzt_entry e[2] = {
        { .ref = 0x03, .alg = KZT_ALG_GOST_A, .flags = KZT_HAS_CERT, .stamp = 0x0A0B0C0D, .id_len = 2,
          .id = { 0xDE, 0xAD } },
        { .ref = 0x11, .alg = KZT_ALG_RSA, .flags = 0, .stamp = 0xFFFFFFFE, .id_len = 1, .id = { 0x42 } },
    };
    uint8_t buf[KZT_INDEX_SIZE], want[KZT_INDEX_SIZE], any[KZT_INDEX_SIZE];

    index_bytes(buf, 0x01020304, e, 2);
    assert_int_equal(parse_pattern("4B 5A 50 31 01 02 03 04 02"
                                   " 03 20 01 0A 0B 0C 0D 02 DE AD"
                                   " 11 01 00 FF FF FF FE 01 42 00*227",
                                   want, any, sizeof(want)),
                     KZT_INDEX_SIZE);
    assert_memory_equal(buf, want, KZT_INDEX_SIZE);
}

static void test_index_round_trip(void **state)
{
    kzt_index x = { .generation = 0xCAFEF00D };
    const uint8_t algs[] = { KZT_ALG_RSA, KZT_ALG_GOST_A, KZT_ALG_GOST_B, KZT_ALG_GOST_C };

    round_trip(&x);                          /* no keys yet */
    x.n = 1;
    for (uint8_t l = 1; l <= KZT_MAX_ID; l++) {
        x.e[0] = entry(0xFF, algs[l % 4], l, 0x80000000u + l);
        round_trip(&x);
    }
    /* A full card with keys under their SHA-1 identifiers (20 bytes). */
    x.n = KZT_MAX_KEYS;
    for (uint8_t i = 0; i < KZT_MAX_KEYS; i++)
        x.e[i] = entry((uint8_t)(i + 1), algs[i % 4], 20, i);
    round_trip(&x);
    /* Exactly KZT_INDEX_SIZE bytes: 9 + 7 * 8 + 5 * 32 + 30 + 0. */
    x.n = 7;
    for (uint8_t i = 0; i < 7; i++)
        x.e[i] = entry((uint8_t)(i + 1), KZT_ALG_RSA, i < 5 ? 32 : i == 5 ? 30 : 0, i);
    round_trip(&x);
}

static void test_index_encode_refuses(void **state)
{
    kzt_index x = { .generation = 1 };
    uint8_t buf[KZT_INDEX_SIZE];

    /* One byte over: the index is written in one UPDATE BINARY. */
    x.n = 7;
    for (uint8_t i = 0; i < 7; i++)
        x.e[i] = entry((uint8_t)(i + 1), KZT_ALG_RSA, i < 5 ? 32 : i == 5 ? 31 : 0, i);
    assert_int_equal(kzt_index_encode(&x, buf), CKR_DEVICE_MEMORY);
    /* Eight keys with the longest ids. */
    x.n = KZT_MAX_KEYS;
    for (uint8_t i = 0; i < KZT_MAX_KEYS; i++)
        x.e[i] = entry((uint8_t)(i + 1), KZT_ALG_RSA, KZT_MAX_ID, i);
    assert_int_equal(kzt_index_encode(&x, buf), CKR_DEVICE_MEMORY);
    x.n = 1;
    x.e[0].id_len = KZT_MAX_ID + 1;
    assert_int_equal(kzt_index_encode(&x, buf), CKR_DEVICE_MEMORY);
    x.e[0].id_len = 4;
    x.n = KZT_MAX_KEYS + 1;
    assert_int_equal(kzt_index_encode(&x, buf), CKR_DEVICE_MEMORY);
}

static CK_RV decode_pattern(const char *hex, kzt_index *x)
{
    uint8_t buf[KZT_INDEX_SIZE + 16];
    size_t n = parse_pattern(hex, buf, NULL, sizeof(buf));
    /* Exactly n bytes on the heap: a read past them is an ASan error. */
    uint8_t *exact = malloc(n ? n : 1);
    CK_RV rv;

    assert_non_null(exact);
    memcpy(exact, buf, n);
    rv = kzt_index_decode(exact, n, x);
    free(exact);
    return rv;
}

static void test_index_decode_refuses(void **state)
{
    kzt_index x;

    /* The reference: one RSA key, ref 1, id AA BB. */
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 01  01 01 00 00 00 00 09 02 AA BB", &x),
                     CKR_OK);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.generation, 5);
    assert_int_equal(x.e[0].stamp, 9);
    assert_memory_equal(x.e[0].id, "\xAA\xBB", 2);

    /* Wrong magic; shorter than the header. */
    assert_int_equal(decode_pattern("4B 5A 50 32 00 00 00 05 01  01 01 00 00 00 00 09 02 AA BB", &x),
                     CKR_DEVICE_ERROR);
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05", &x), CKR_DEVICE_ERROR);
    assert_int_equal(decode_pattern("", &x), CKR_DEVICE_ERROR);
    /* More keys than a card holds. */
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 09  01 01 00 00 00 00 09 00 00*200", &x),
                     CKR_DEVICE_ERROR);
    /* Truncated: a second entry missing, cut in its fixed part, cut in its id. */
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 02  01 01 00 00 00 00 09 02 AA BB", &x),
                     CKR_DEVICE_ERROR);
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 02  01 01 00 00 00 00 09 02 AA BB"
                                    " 02 01 00 00 00 00", &x),
                     CKR_DEVICE_ERROR);
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 01  01 01 00 00 00 00 09 02 AA", &x),
                     CKR_DEVICE_ERROR);
    /* Two entries for one key reference. */
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 02  07 01 00 00 00 00 09 01 AA"
                                    " 07 20 00 00 00 00 09 01 BB", &x),
                     CKR_DEVICE_ERROR);
    /* Reference 0 (not a key object); an algorithm kzp11 does not write. */
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 01  00 01 00 00 00 00 09 01 AA", &x),
                     CKR_DEVICE_ERROR);
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 01  01 02 00 00 00 00 09 01 AA", &x),
                     CKR_DEVICE_ERROR);
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 01  01 50 00 00 00 00 09 01 AA", &x),
                     CKR_DEVICE_ERROR);
    /* An id longer than KZT_MAX_ID, though the bytes are there. */
    assert_int_equal(decode_pattern("4B 5A 50 31 00 00 00 05 01  01 01 00 00 00 00 09 21 AA*33", &x),
                     CKR_DEVICE_ERROR);
}

static void test_index_find(void **state)
{
    kzt_index x = { .n = 2 };

    x.e[0] = entry(4, KZT_ALG_RSA, 3, 0);
    x.e[1] = entry(9, KZT_ALG_RSA, 20, 0);
    assert_ptr_equal(kzt_index_find_ref(&x, 9), &x.e[1]);
    assert_null(kzt_index_find_ref(&x, 5));
    assert_ptr_equal(kzt_index_find_id(&x, x.e[0].id, 3), &x.e[0]);
    /* A prefix of an id is another id. */
    assert_null(kzt_index_find_id(&x, x.e[1].id, 19));
}

static void test_record_round_trip(void **state)
{
    static uint8_t big[0x10000];
    uint8_t *rec;
    size_t len, body_len;
    const uint8_t *body;
    char label[KZT_MAX_LABEL + 1];
    char long_label[KZT_MAX_LABEL + 11];

    /* The bytes: label length, label, body length (2, big-endian), body. */
    assert_int_equal(kzt_record_encode("ab", (const uint8_t *)"\x01\x02\x03", 3, &rec, &len), CKR_OK);
    assert_int_equal(len, 8);
    assert_memory_equal(rec, "\x02" "ab" "\x00\x03" "\x01\x02\x03", 8);
    assert_int_equal(kzt_record_decode(rec, len, label, &body, &body_len), CKR_OK);
    assert_string_equal(label, "ab");
    assert_ptr_equal(body, rec + 5);
    assert_int_equal(body_len, 3);
    free(rec);

    /* No label; the longest body. */
    for (size_t i = 0; i < 0xFFFF; i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(kzt_record_encode(NULL, big, 0xFFFF, &rec, &len), CKR_OK);
    assert_int_equal(len, 3 + 0xFFFF);
    assert_int_equal(kzt_record_decode(rec, len, label, &body, &body_len), CKR_OK);
    assert_string_equal(label, "");
    assert_int_equal(body_len, 0xFFFF);
    assert_memory_equal(body, big, 0xFFFF);
    free(rec);
    assert_int_equal(kzt_record_encode("x", big, 0x10000, &rec, &len), CKR_DEVICE_MEMORY);

    /* A label longer than the card keeps is cut, not refused. */
    memset(long_label, 'L', sizeof(long_label) - 1);
    long_label[sizeof(long_label) - 1] = '\0';
    assert_int_equal(kzt_record_encode(long_label, big, 1, &rec, &len), CKR_OK);
    assert_int_equal(rec[0], KZT_MAX_LABEL);
    assert_int_equal(kzt_record_decode(rec, len, label, &body, &body_len), CKR_OK);
    assert_int_equal(strlen(label), KZT_MAX_LABEL);
    assert_memory_equal(label, long_label, KZT_MAX_LABEL);
    free(rec);
}

static CK_RV record_pattern(const char *hex, char *label, const uint8_t **body, size_t *body_len,
                            uint8_t **keep)
{
    uint8_t buf[300];
    size_t n = parse_pattern(hex, buf, NULL, sizeof(buf));
    uint8_t *exact = malloc(n ? n : 1);

    assert_non_null(exact);
    memcpy(exact, buf, n);
    *keep = exact;
    return kzt_record_decode(exact, n, label, body, body_len);
}

static void test_record_decode_refuses(void **state)
{
    char label[KZT_MAX_LABEL + 1];
    const uint8_t *body;
    size_t body_len;
    uint8_t *buf;

#define REFUSED(hex)                                                                          \
    do {                                                                                      \
        assert_int_equal(record_pattern(hex, label, &body, &body_len, &buf), CKR_DEVICE_ERROR); \
        free(buf);                                                                            \
    } while (0)
    REFUSED("");
    REFUSED("00 00");
    REFUSED("00 00 00");                     /* an empty body is no public key */
    REFUSED("02 61 62 00 03 01 02");         /* body cut short */
    REFUSED("02 61 62 00");                  /* body length cut */
    REFUSED("02 61");                        /* label cut */
    REFUSED("41 61*65 00 01 01");            /* label over KZT_MAX_LABEL */
    REFUSED("FF 00 01 01");
#undef REFUSED

    /* Control bytes in a damaged label are not shown to the application. */
    assert_int_equal(record_pattern("03 61 0A 1B 00 01 EE", label, &body, &body_len, &buf), CKR_OK);
    assert_string_equal(label, "a??");
    assert_int_equal(body_len, 1);
    assert_int_equal(body[0], 0xEE);
    free(buf);
    /* Bytes after the body (a file bigger than its record) are ignored. */
    assert_int_equal(record_pattern("00 00 01 EE FF FF", label, &body, &body_len, &buf), CKR_OK);
    assert_int_equal(body_len, 1);
    free(buf);
}

static void test_record_label_past_end(void **state)
{
    /* Files of 3 to 10 bytes whose first byte gives a label (up to the 64
     * allowed) that runs past the end of what was read from the card. The
     * memory after the file is not part of it; filled with 01, it would
     * read as a label and a 257-byte body if the decoder looked there. */
    uint8_t mem[1 + KZT_MAX_LABEL + 2 + 0x101];
    char label[KZT_MAX_LABEL + 1];

    for (size_t len = 3; len <= 10; len++)
        for (size_t ll = len - 2; ll <= KZT_MAX_LABEL; ll++) {
            const uint8_t *body = NULL;
            size_t body_len = 0;
            CK_RV rv;

            memset(mem, 0x01, sizeof(mem));
            mem[0] = (uint8_t)ll;
            rv = kzt_record_decode(mem, len, label, &body, &body_len);
            if (rv != CKR_DEVICE_ERROR)
                fail_msg("%zu-byte file, label length %zu: 0x%lx, body of %zu bytes at offset %td",
                         len, ll, (unsigned long)rv, body_len, body ? body - mem : 0);
        }
}

/* Deterministic, so a failure is the same on every run. */
static uint64_t rng = 0x4B5A503131ULL;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

#define FUZZ_ROUNDS 100000

static void check_decoded_index(const uint8_t *in, size_t len, const kzt_index *x)
{
    uint8_t again[KZT_INDEX_SIZE];
    kzt_index y;

    assert_true(x->n <= KZT_MAX_KEYS);
    for (size_t i = 0; i < x->n; i++) {
        assert_int_not_equal(x->e[i].ref, 0);
        assert_true(x->e[i].id_len <= KZT_MAX_ID);
        assert_true(x->e[i].alg == KZT_ALG_RSA || x->e[i].alg == KZT_ALG_GOST_A
                    || x->e[i].alg == KZT_ALG_GOST_B || x->e[i].alg == KZT_ALG_GOST_C);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(x->e[i].ref, x->e[j].ref);
    }
    /* What was read is what would be written back: an index read from at
     * most KZT_INDEX_SIZE bytes fits in them again. */
    if (len <= KZT_INDEX_SIZE) {
        assert_int_equal(kzt_index_encode(x, again), CKR_OK);
        assert_int_equal(kzt_index_decode(again, sizeof(again), &y), CKR_OK);
        assert_index_equal(x, &y);
        /* The header and entries are the bytes that were read. */
        {
            size_t used = 9;
            for (size_t i = 0; i < x->n; i++)
                used += 8 + x->e[i].id_len;
            assert_true(used <= len);
            assert_memory_equal(again, in, used);
        }
    }
}

static void test_index_fuzz(void **state)
{
    const uint8_t algs[] = { KZT_ALG_RSA, KZT_ALG_GOST_A, KZT_ALG_GOST_B, KZT_ALG_GOST_C, 0, 2 };
    uint8_t seed[KZT_INDEX_SIZE + 45];
    kzt_index x = { .generation = 0x01020304, .n = 5 };
    size_t accepted = 0;

    for (uint8_t i = 0; i < 5; i++)
        x.e[i] = entry((uint8_t)(i * 40 + 1), algs[i % 4], (uint8_t)(i * 7 + 1), i);
    assert_int_equal(kzt_index_encode(&x, seed), CKR_OK);
    for (size_t i = KZT_INDEX_SIZE; i < sizeof(seed); i++)
        seed[i] = (uint8_t)rnd();

    for (unsigned iter = 0; iter < FUZZ_ROUNDS; iter++) {
        size_t len = rnd() % sizeof(seed);
        uint8_t *buf;
        kzt_index out;
        CK_RV rv;

        buf = malloc(len ? len : 1);
        assert_non_null(buf);
        memcpy(buf, seed, len);
        switch (iter % 4) {
        case 0:            /* noise behind a good header */
            for (size_t i = 9; i < len; i++)
                buf[i] = (uint8_t)rnd();
            if (len > 8)
                buf[8] = (uint8_t)(rnd() % (KZT_MAX_KEYS + 2));
            break;
        case 1:            /* a few bytes of a good index changed */
            for (unsigned k = rnd() % 4 + 1; k && len; k--)
                buf[rnd() % len] = (uint8_t)rnd();
            break;
        case 2:            /* lengths and counts that lie */
            if (len > 8)
                buf[8] = (uint8_t)(rnd() % (KZT_MAX_KEYS + 2));
            for (size_t p = 9 + 7; p < len; p += 8 + rnd() % 24)
                buf[p] = (uint8_t)(rnd() % 40);
            break;
        default:           /* anything at all */
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rnd();
            break;
        }
        rv = kzt_index_decode(buf, len, &out);
        if (rv != CKR_OK && rv != CKR_DEVICE_ERROR)
            fail_msg("iter %u: decode returned 0x%lx", iter, (unsigned long)rv);
        if (rv == CKR_OK) {
            check_decoded_index(buf, len, &out);
            accepted++;
        }
        free(buf);
    }
    /* The mutations must reach the decoder's deep end, not just its magic. */
    assert_true(accepted > FUZZ_ROUNDS / 20);
}

static void test_record_fuzz(void **state)
{
    uint8_t seed[128];
    size_t accepted = 0;

    seed[0] = 5;
    memcpy(seed + 1, "label", 5);
    seed[6] = 0x00;
    seed[7] = 0x40;
    for (size_t i = 8; i < sizeof(seed); i++)
        seed[i] = (uint8_t)i;

    for (unsigned iter = 0; iter < FUZZ_ROUNDS; iter++) {
        size_t len = rnd() % (iter % 2 ? sizeof(seed) : 72);
        uint8_t *buf = malloc(len ? len : 1);
        char label[KZT_MAX_LABEL + 1];
        const uint8_t *body = NULL;
        size_t body_len = 0;
        CK_RV rv;

        assert_non_null(buf);
        memcpy(buf, seed, len);
        if (iter % 2) {
            for (unsigned k = rnd() % 3 + 1; k && len; k--)
                buf[rnd() % len] = (uint8_t)rnd();
        } else {
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rnd();
            /* Short labels and bodies, so that some decode. */
            if (len > 0)
                buf[0] = (uint8_t)(rnd() % 70);
            if (len > 1u + buf[0] + 1)
                buf[1 + buf[0]] = 0;
        }
        rv = kzt_record_decode(buf, len, label, &body, &body_len);
        if (rv != CKR_OK && rv != CKR_DEVICE_ERROR)
            fail_msg("iter %u: decode returned 0x%lx", iter, (unsigned long)rv);
        if (rv == CKR_OK) {
            if (body < buf + 3 || body_len == 0 || body_len > (size_t)(buf + len - body))
                fail_msg("iter %u: %zu-byte record %s decoded to a %zu-byte body at offset %td",
                         iter, len, hx(buf, len < 16 ? len : 16), body_len, body - buf);
            assert_true(strlen(label) <= KZT_MAX_LABEL);
            for (const char *c = label; *c; c++)
                assert_true((unsigned char)*c >= 0x20);
            accepted++;
        }
        free(buf);
    }
    assert_true(accepted > FUZZ_ROUNDS / 20);
}

/* ---- 2. Binding and PINs ------------------------------------------------------ */

static void test_bind_and_label(void **state)
{
    fake *f = fake_new();
    kz_token tok;
    CK_TOKEN_INFO info;
    char want[33];

    bind_token(f, &tok);
    assert_string_equal(tok.ops->name, "kaztoken");
    /* The token's flags come from the PINs' status queries (user, SO). */
    expect(f, "00 20 00 02", "90 00");
    expect(f, "00 20 00 01", "90 00");
    memset(&info, 0, sizeof(info));
    assert_int_equal(tok.ops->get_info(&tok, &info), CKR_OK);
    all_sent(f);
    snprintf(want, sizeof(want), "%-32s", "Kaztoken 4B5A00A7");
    assert_memory_equal(info.label, want, 32);
    snprintf(want, sizeof(want), "%-16s", "4B5A00A7");
    assert_memory_equal(info.serialNumber, want, 16);
    assert_true(info.flags & CKF_TOKEN_INITIALIZED);
    assert_true(info.flags & CKF_LOGIN_REQUIRED);
    assert_false(info.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED));
    /* Nothing read the PIN's limits yet. */
    assert_int_equal(info.ulMinPinLen, 1);
    release_token(&tok);
    fake_free(f);
}

static void test_bind_refused(void **state)
{
    fake *f = fake_new();
    kz_token tok = { 0 };

    /* A card that does not know the command is not bound... */
    expect(f, "00 CA 01 81 00", "6D 00");
    assert_int_equal(kz_kaztoken_driver.bind(f->card, &tok), CKR_DEVICE_ERROR);
    assert_null(tok.drv);
    /* ...nor one whose serial is empty or longer than the driver keeps. */
    expect(f, "00 CA 01 81 00", "90 00");
    assert_int_not_equal(kz_kaztoken_driver.bind(f->card, &tok), CKR_OK);
    expect(f, "00 CA 01 81 00", "11*33 90 00");
    assert_int_not_equal(kz_kaztoken_driver.bind(f->card, &tok), CKR_OK);
    assert_null(tok.drv);
    fake_free(f);
}

static void test_login_ok(void **state)
{
    fake *f = fake_new();
    kz_token tok;

    bind_token(f, &tok);
    /* The PIN's limits are read once, then only VERIFY goes. */
    login_user(f, &tok);
    expect(f, "80 40 00 00", "90 00");
    assert_int_equal(tok.ops->logout(&tok), CKR_OK);
    all_sent(f);
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "90 00");
    assert_int_equal(login(&tok, CKU_USER, "123456"), CKR_OK);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

static void test_login_status_words(void **state)
{
    static const struct {
        const char *sw;
        CK_RV rv;
    } cases[] = {
        { "63 C2", CKR_PIN_INCORRECT },
        { "63 C0", CKR_PIN_LOCKED },
        { "69 83", CKR_PIN_LOCKED },
    };
    fake *f = fake_new();
    kz_token tok;

    bind_token(f, &tok);
    expect(f, SELECT_USER_PIN, fcp(0x40, USER_PIN_PROP));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect(f, "00 20 00 02 08 38 37 36 35 34 33 32 31", cases[i].sw);
        if (login(&tok, CKU_USER, "87654321") != cases[i].rv)
            fail_msg("VERIFY answered %s: expected 0x%lx", cases[i].sw, (unsigned long)cases[i].rv);
        all_sent(f);
    }
    /* The SO's PIN is reference 01; its limits are its own. */
    expect(f, SELECT_SO_PIN, fcp(0x40, "01 08 01 AA 00 00"));
    expect(f, "00 20 00 01 08 38 37 36 35 34 33 32 31", "90 00");
    assert_int_equal(login(&tok, CKU_SO, "87654321"), CKR_OK);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

static void test_login_6300_asks_the_count(void **state)
{
    fake *f = fake_new();
    kz_token tok;

    bind_token(f, &tok);
    /* 63 00 gives no count: the status query (no data) does. */
    expect(f, SELECT_USER_PIN, fcp(0x40, USER_PIN_PROP));
    expect(f, "00 20 00 02 06 31 31 31 31 31 31", "63 00");
    expect(f, "00 20 00 02", "63 C1");
    assert_int_equal(login(&tok, CKU_USER, "111111"), CKR_PIN_INCORRECT);
    all_sent(f);
    expect(f, "00 20 00 02 06 31 31 31 31 31 31", "63 00");
    expect(f, "00 20 00 02", "63 C0");
    assert_int_equal(login(&tok, CKU_USER, "111111"), CKR_PIN_LOCKED);
    all_sent(f);
    expect(f, "00 20 00 02 06 31 31 31 31 31 31", "63 00");
    expect(f, "00 20 00 02", "69 83");
    assert_int_equal(login(&tok, CKU_USER, "111111"), CKR_PIN_LOCKED);
    all_sent(f);
    /* A status query that says nothing leaves the failure a failure. */
    expect(f, "00 20 00 02 06 31 31 31 31 31 31", "63 00");
    expect(f, "00 20 00 02", "90 00");
    assert_int_equal(login(&tok, CKU_USER, "111111"), CKR_PIN_INCORRECT);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

static void test_login_6f86_logs_out_and_retries(void **state)
{
    fake *f = fake_new();
    kz_token tok;

    bind_token(f, &tok);
    expect(f, SELECT_USER_PIN, fcp(0x40, USER_PIN_PROP));
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "6F 86");
    expect(f, "80 40 00 00", "90 00");
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "90 00");
    assert_int_equal(login(&tok, CKU_USER, "123456"), CKR_OK);
    all_sent(f);
    /* Once only: a second 6F 86 is an error, not a loop. */
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "6F 86");
    expect(f, "80 40 00 00", "90 00");
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "6F 86");
    assert_int_equal(login(&tok, CKU_USER, "123456"), CKR_DEVICE_ERROR);
    all_sent(f);
    /* The retry may fail like any VERIFY, count included. */
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "6F 86");
    expect(f, "80 40 00 00", "90 00");
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "63 00");
    expect(f, "00 20 00 02", "63 C3");
    assert_int_equal(login(&tok, CKU_USER, "123456"), CKR_PIN_INCORRECT);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

static void test_login_pin_length(void **state)
{
    fake *f = fake_new();
    kz_token tok;

    bind_token(f, &tok);
    /* Shorter than the card's minimum (6): refused before VERIFY, which
     * would cost a try. */
    expect(f, SELECT_USER_PIN, fcp(0x40, USER_PIN_PROP));
    assert_int_equal(login(&tok, CKU_USER, "12345"), CKR_PIN_LEN_RANGE);
    all_sent(f);
    /* Longer than any PIN the card takes (32). */
    assert_int_equal(login(&tok, CKU_USER, "123456789012345678901234567890123"), CKR_PIN_LEN_RANGE);
    all_sent(f);
    expect(f, "00 20 00 02 20 31*32", "63 C4");
    assert_int_equal(login(&tok, CKU_USER, "11111111111111111111111111111111"), CKR_PIN_INCORRECT);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

static void test_login_pin_object_not_selectable(void **state)
{
    fake *f = fake_new();
    kz_token tok;
    CK_TOKEN_INFO info;

    bind_token(f, &tok);
    /* Limits unknown: any length from 1 is the card's to judge. */
    expect(f, SELECT_USER_PIN, "6A 82");
    expect(f, "00 20 00 02 01 31", "63 C2");
    assert_int_equal(login(&tok, CKU_USER, "1"), CKR_PIN_INCORRECT);
    all_sent(f);
    /* With no maximum known, tries left say nothing about "low". */
    expect(f, "00 20 00 02", "63 C2");
    expect(f, SELECT_USER_PIN, "6A 82");
    expect(f, "00 20 00 01", "90 00");
    assert_int_equal(tok.ops->get_info(&tok, &info), CKR_OK);
    all_sent(f);
    assert_false(info.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED));
    release_token(&tok);
    fake_free(f);
}

static void test_set_pin(void **state)
{
    fake *f = fake_new();
    kz_token tok;

    bind_token(f, &tok);
    /* Not logged in: VERIFY old, CHANGE REFERENCE DATA (80 02 total
     * length, A5 piece), and LOGOUT so the card is left as found. */
    expect(f, SELECT_USER_PIN, fcp(0x40, USER_PIN_PROP));
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "90 00");
    expect(f, "00 24 01 02 0E 80 02 00 08 A5 08 61 62 63 64 65 66 67 68", "90 00");
    expect(f, "80 40 00 00", "90 00");
    assert_int_equal(tok.ops->set_pin(&tok, KZ_NOBODY, user_pin, 6, (const CK_UTF8CHAR *)"abcdefgh", 8),
                     CKR_OK);
    all_sent(f);
    /* A wrong old PIN changes nothing. */
    expect(f, "00 20 00 02 06 36 35 34 33 32 31", "63 C3");
    expect(f, "80 40 00 00", "90 00");
    assert_int_equal(tok.ops->set_pin(&tok, KZ_NOBODY, (const CK_UTF8CHAR *)"654321", 6,
                                      (const CK_UTF8CHAR *)"abcdefgh", 8),
                     CKR_PIN_INCORRECT);
    all_sent(f);
    /* A new PIN under the minimum is refused before anything is sent... */
    assert_int_equal(tok.ops->set_pin(&tok, CKU_USER, user_pin, 6, (const CK_UTF8CHAR *)"abc", 3),
                     CKR_PIN_LEN_RANGE);
    all_sent(f);
    /* ...and logged in, the card stays logged in. */
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "90 00");
    assert_int_equal(login(&tok, CKU_USER, "123456"), CKR_OK);
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "90 00");
    expect(f, "00 24 01 02 0C 80 02 00 06 A5 06 39 38 37 36 35 34", "90 00");
    assert_int_equal(tok.ops->set_pin(&tok, CKU_USER, user_pin, 6, (const CK_UTF8CHAR *)"987654", 6),
                     CKR_OK);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

static void test_init_pin(void **state)
{
    fake *f = fake_new();
    kz_token tok;

    bind_token(f, &tok);
    /* Unblock (RESET RETRY COUNTER, no data), then the new value. */
    expect(f, SELECT_USER_PIN, fcp(0x40, USER_PIN_PROP));
    expect(f, "00 2C 03 02", "90 00");
    expect(f, "00 24 01 02 0C 80 02 00 06 A5 06 31 32 33 34 35 36", "90 00");
    assert_int_equal(tok.ops->init_pin(&tok, user_pin, 6), CKR_OK);
    all_sent(f);
    /* Without the SO's authority the card refuses, and no value is sent. */
    expect(f, "00 2C 03 02", "69 82");
    assert_int_equal(tok.ops->init_pin(&tok, user_pin, 6), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);
    assert_int_equal(tok.ops->init_pin(&tok, (const CK_UTF8CHAR *)"12", 2), CKR_PIN_LEN_RANGE);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

static CK_FLAGS flags_for(fake *f, kz_token *tok, const char *user_sw, const char *so_sw)
{
    CK_TOKEN_INFO info;

    expect(f, "00 20 00 02", user_sw);
    expect(f, "00 20 00 01", so_sw);
    assert_int_equal(tok->ops->get_info(tok, &info), CKR_OK);
    all_sent(f);
    return info.flags;
}

static void test_token_pin_flags(void **state)
{
    const CK_FLAGS user = CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;
    const CK_FLAGS so = CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED;
    fake *f = fake_new();
    kz_token tok;
    CK_TOKEN_INFO info;

    bind_token(f, &tok);
    /* 4 of 5 tries left: low. The maximum comes from the PIN object, read once. */
    expect(f, "00 20 00 02", "63 C4");
    expect(f, SELECT_USER_PIN, fcp(0x40, USER_PIN_PROP));
    expect(f, "00 20 00 01", "90 00");
    assert_int_equal(tok.ops->get_info(&tok, &info), CKR_OK);
    all_sent(f);
    assert_int_equal(info.flags & (user | so), CKF_USER_PIN_COUNT_LOW);
    assert_int_equal(info.ulMinPinLen, 6);
    assert_int_equal(info.ulMaxPinLen, 32);

    assert_int_equal(flags_for(f, &tok, "63 C5", "90 00") & (user | so), 0);
    assert_int_equal(flags_for(f, &tok, "63 C1", "90 00") & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED),
                     CKF_USER_PIN_FINAL_TRY);
    assert_int_equal(flags_for(f, &tok, "69 83", "90 00") & (user | so), CKF_USER_PIN_LOCKED);
    assert_int_equal(flags_for(f, &tok, "63 C0", "90 00") & (user | so), CKF_USER_PIN_LOCKED);
    /* The SO's PIN has flags of its own. */
    assert_int_equal(flags_for(f, &tok, "90 00", "63 C1") & (CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED | user),
                     CKF_SO_PIN_FINAL_TRY);
    assert_int_equal(flags_for(f, &tok, "90 00", "69 83") & (user | so), CKF_SO_PIN_LOCKED);
    release_token(&tok);
    fake_free(f);
}

/* ---- 3. Signing and deciphering -------------------------------------------- */

static const uint8_t sha256_abc[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

/* EMSA-PKCS1-v1_5 of a SHA-256 digest for a 2048-bit modulus (RFC 8017
 * §9.2), built here independently of the driver. */
static void emsa_sha256(const uint8_t digest[32], uint8_t em[256])
{
    static const uint8_t prefix[19] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };

    em[0] = 0x00;
    em[1] = 0x01;
    memset(em + 2, 0xFF, 256 - 3 - 19 - 32);
    em[256 - 19 - 32 - 1] = 0x00;
    memcpy(em + 256 - 19 - 32, prefix, 19);
    memcpy(em + 256 - 32, digest, 32);
}

static int openssl_verifies(const uint8_t *sig, size_t sig_len, const uint8_t digest[32])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(card_rsa, NULL);
    int ok;

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
    ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, 32);
    EVP_PKEY_CTX_free(ctx);
    return ok == 1;
}

static void test_rsa_sign(void **state)
{
    const kz_sig_params p = { KZ_SIG_RSA_PKCS1, CKM_SHA256, 0, 0 };
    fake *f = fake_new();
    kz_token tok;
    kz_model_key *key;
    uint8_t em[256], le[256], sig[300];
    size_t sig_len = sizeof(sig);

    bind_token(f, &tok);
    key = load_rsa_key(f, &tok, 0x05);
    /* The card works on little-endian numbers: the padded block goes
     * reversed, in a chain of 255 + 1 bytes (short APDUs only); the card's
     * answer is the signature reversed. */
    emsa_sha256(sha256_abc, em);
    reverse(le, em, sizeof(em));
    expect(f, "00 22 41 B6 03 84 01 05", "90 00");
    expect(f, cat("10 2A 9E 9A FF %s", hx(le, 255)), "90 00");
    expect_answer(f, cat("00 2A 9E 9A 01 %02X 00", le[255]), card_raw_rsa);
    assert_int_equal(tok.ops->sign(&tok, key, &p, sha256_abc, sizeof(sha256_abc), sig, &sig_len), CKR_OK);
    all_sent(f);
    assert_int_equal(sig_len, 256);
    assert_true(openssl_verifies(sig, sig_len, sha256_abc));
    /* And through the backend, as the core verifies. */
    assert_int_equal(kz_pkey_verify(key->pub, &p, sha256_abc, 32, sig, sig_len), CKR_OK);

    /* CKM_RSA_PKCS: the caller's DigestInfo, padded the same way. */
    {
        const kz_sig_params raw = { KZ_SIG_RSA_PKCS1, 0, 0, 0 };
        uint8_t di[51];
        size_t sig2_len = sizeof(sig);
        uint8_t sig2[300];

        memcpy(di, em + 256 - 51, 51);
        expect(f, "00 22 41 B6 03 84 01 05", "90 00");
        expect(f, cat("10 2A 9E 9A FF %s", hx(le, 255)), "90 00");
        expect_answer(f, cat("00 2A 9E 9A 01 %02X 00", le[255]), card_raw_rsa);
        assert_int_equal(tok.ops->sign(&tok, key, &raw, di, sizeof(di), sig2, &sig2_len), CKR_OK);
        all_sent(f);
        assert_int_equal(sig2_len, 256);
        assert_memory_equal(sig2, sig, 256);
    }
    kz_model_key_unref(key);
    release_token(&tok);
    fake_free(f);
}

static void test_rsa_sign_refusals(void **state)
{
    const kz_sig_params p = { KZ_SIG_RSA_PKCS1, CKM_SHA256, 0, 0 };
    const kz_sig_params pss = { KZ_SIG_RSA_PSS, CKM_SHA256, CKM_SHA256, 32 };
    fake *f = fake_new();
    kz_token tok;
    kz_model_key *key;
    uint8_t em[256], le[256], sig[256], untouched[256];
    size_t sig_len;

    bind_token(f, &tok);
    key = load_rsa_key(f, &tok, 0x01);
    emsa_sha256(sha256_abc, em);
    reverse(le, em, sizeof(em));
    memset(untouched, 0x5A, sizeof(untouched));

    /* Not logged in: refused at the first piece; the rest is never sent. */
    expect(f, "00 22 41 B6 03 84 01 01", "90 00");
    expect(f, cat("10 2A 9E 9A FF %s", hx(le, 255)), "69 82");
    sig_len = sizeof(sig);
    assert_int_equal(tok.ops->sign(&tok, key, &p, sha256_abc, 32, sig, &sig_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);
    /* ...or at the last one. */
    expect(f, "00 22 41 B6 03 84 01 01", "90 00");
    expect(f, cat("10 2A 9E 9A FF %s", hx(le, 255)), "90 00");
    expect(f, cat("00 2A 9E 9A 01 %02X 00", le[255]), "69 82");
    assert_int_equal(tok.ops->sign(&tok, key, &p, sha256_abc, 32, sig, &sig_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);
    expect(f, "00 22 41 B6 03 84 01 01", "69 82");
    assert_int_equal(tok.ops->sign(&tok, key, &p, sha256_abc, 32, sig, &sig_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);

    /* A signature one byte short is an error, and nothing is returned. */
    memcpy(sig, untouched, sizeof(sig));
    expect(f, "00 22 41 B6 03 84 01 01", "90 00");
    expect(f, cat("10 2A 9E 9A FF %s", hx(le, 255)), "90 00");
    expect(f, cat("00 2A 9E 9A 01 %02X 00", le[255]), "33*255 90 00");
    sig_len = sizeof(sig);
    assert_int_equal(tok.ops->sign(&tok, key, &p, sha256_abc, 32, sig, &sig_len), CKR_DEVICE_ERROR);
    all_sent(f);
    assert_int_equal(sig_len, sizeof(sig));
    assert_memory_equal(sig, untouched, sizeof(sig));

    /* Refused before the card: a buffer too small, PSS (the card pads
     * nothing and the driver only pads PKCS#1), a digest of the wrong size. */
    sig_len = 255;
    assert_int_equal(tok.ops->sign(&tok, key, &p, sha256_abc, 32, sig, &sig_len), CKR_BUFFER_TOO_SMALL);
    sig_len = sizeof(sig);
    assert_int_equal(tok.ops->sign(&tok, key, &pss, sha256_abc, 32, sig, &sig_len), CKR_MECHANISM_INVALID);
    assert_int_equal(tok.ops->sign(&tok, key, &p, sha256_abc, 31, sig, &sig_len), CKR_DATA_LEN_RANGE);
    all_sent(f);
    kz_model_key_unref(key);
    release_token(&tok);
    fake_free(f);
}

static void test_rsa_decrypt(void **state)
{
    const kz_enc_params p = { KZ_ENC_RSA_PKCS1, 0, 0, NULL, 0 };
    const uint8_t secret[] = "a session key";
    fake *f = fake_new();
    kz_token tok;
    kz_model_key *key;
    EVP_PKEY_CTX *ctx;
    uint8_t ct[256], le[256], out[256];
    size_t ct_len = sizeof(ct), out_len = sizeof(out);

    bind_token(f, &tok);
    key = load_rsa_key(f, &tok, 0x02);
    ctx = EVP_PKEY_CTX_new(card_rsa, NULL);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
    assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ct_len, secret, sizeof(secret)), 1);
    EVP_PKEY_CTX_free(ctx);
    assert_int_equal(ct_len, 256);
    /* Decipher: MSE with the confidentiality template, PSO 80 86 without
     * a padding indicator (§3.5), little-endian both ways. */
    reverse(le, ct, sizeof(ct));
    expect(f, "00 22 41 B8 03 84 01 02", "90 00");
    expect(f, cat("10 2A 80 86 FF %s", hx(le, 255)), "90 00");
    expect_answer(f, cat("00 2A 80 86 01 %02X 00", le[255]), card_raw_rsa);
    assert_int_equal(tok.ops->decrypt(&tok, key, &p, ct, sizeof(ct), out, &out_len), CKR_OK);
    all_sent(f);
    assert_int_equal(out_len, sizeof(secret));
    assert_memory_equal(out, secret, sizeof(secret));
    kz_model_key_unref(key);
    release_token(&tok);
    fake_free(f);
}

/* CryptoPro-A (1.2.643.2.2.35.1). */
static const uint8_t oid_cp_a[] = { 0x06, 0x07, 0x2A, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01 };

static kz_model_key *load_gost_key(fake *f, kz_token *tok, uint8_t ref, kz_pkey **priv)
{
    kz_model_key *k;
    uint8_t *spki;
    size_t spki_len;

    assert_int_equal(kz_pkey_gost_generate(oid_cp_a, sizeof(oid_cp_a), NULL, 0, priv), CKR_OK);
    assert_int_equal(kz_pkey_to_spki_nca(*priv, &spki, &spki_len), CKR_OK);
    k = load_key(f, tok, ref, KZT_ALG_GOST_A, spki, spki_len);
    free(spki);
    assert_int_equal(kz_pkey_type(k->pub), CKK_GOSTR3410);
    assert_int_equal(k->usage, KZ_USAGE_SIGN);
    return k;
}

static void test_gost_sign(void **state)
{
    const kz_sig_params p = { KZ_SIG_GOST, 0, 0, 0 };
    fake *f = fake_new();
    kz_token tok;
    kz_model_key *key;
    kz_pkey *priv = NULL;
    uint8_t digest[32], answer[64], want[64], sig[64], untouched[64];
    size_t sig_len = sizeof(sig);

    for (size_t i = 0; i < sizeof(digest); i++)
        digest[i] = (uint8_t)(0xD0 + i);
    for (size_t i = 0; i < sizeof(answer); i++)
        answer[i] = (uint8_t)(i + 1);
    reverse(want, answer, sizeof(answer));
    bind_token(f, &tok);
    key = load_gost_key(f, &tok, 0x03, &priv);
    /* The digest goes in the caller's byte order; the answer comes back
     * reversed (§3.5). */
    expect(f, "00 22 41 B6 03 84 01 03", "90 00");
    expect(f, cat("00 2A 9E 9A 20 %s 40", hx(digest, 32)), cat("%s 90 00", hx(answer, 64)));
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_OK);
    all_sent(f);
    assert_int_equal(sig_len, 64);
    assert_memory_equal(sig, want, 64);

    /* Answers of the wrong length are errors, and nothing is returned. */
    memset(untouched, 0xA5, sizeof(untouched));
    memcpy(sig, untouched, sizeof(sig));
    expect(f, "00 22 41 B6 03 84 01 03", "90 00");
    expect(f, cat("00 2A 9E 9A 20 %s 40", hx(digest, 32)), cat("%s 90 00", hx(answer, 63)));
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_DEVICE_ERROR);
    expect(f, "00 22 41 B6 03 84 01 03", "90 00");
    expect(f, cat("00 2A 9E 9A 20 %s 40", hx(digest, 32)), cat("%s 77 90 00", hx(answer, 64)));
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_DEVICE_ERROR);
    expect(f, "00 22 41 B6 03 84 01 03", "90 00");
    expect(f, cat("00 2A 9E 9A 20 %s 40", hx(digest, 32)), "90 00");
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_DEVICE_ERROR);
    all_sent(f);
    assert_memory_equal(sig, untouched, sizeof(sig));
    assert_int_equal(sig_len, 64);
    expect(f, "00 22 41 B6 03 84 01 03", "90 00");
    expect(f, cat("00 2A 9E 9A 20 %s 40", hx(digest, 32)), "69 82");
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);

    /* The card signs 256-bit digests only; a GOST key signs nothing else. */
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 31, sig, &sig_len), CKR_DATA_LEN_RANGE);
    sig_len = 63;
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_BUFFER_TOO_SMALL);
    {
        const kz_sig_params rsa = { KZ_SIG_RSA_PKCS1, CKM_SHA256, 0, 0 };
        sig_len = sizeof(sig);
        assert_int_equal(tok.ops->sign(&tok, key, &rsa, digest, 32, sig, &sig_len), CKR_MECHANISM_INVALID);
    }
    all_sent(f);
    kz_pkey_free(priv);
    kz_model_key_unref(key);
    release_token(&tok);
    fake_free(f);
}

/* One GOST signature's MSE and PSO, the PSO answered with pso_answer. */
static void script_gost_sign(fake *f, uint8_t ref, const uint8_t digest[32], const char *pso_answer)
{
    expect(f, cat("00 22 41 B6 03 84 01 %02X", ref), "90 00");
    expect(f, cat("00 2A 9E 9A 20 %s 40", hx(digest, 32)), pso_answer);
}

static void test_sign_relogin_with_kept_pin(void **state)
{
    const kz_sig_params p = { KZ_SIG_GOST, 0, 0, 0 };
    fake *f = fake_new();
    kz_token tok;
    kz_model_key *key;
    kz_pkey *priv = NULL;
    uint8_t digest[32], answer[64], sig[64];
    size_t sig_len = sizeof(sig);

    memset(digest, 0x3C, sizeof(digest));
    for (size_t i = 0; i < sizeof(answer); i++)
        answer[i] = (uint8_t)(0x80 + i);
    bind_token(f, &tok);
    key = load_gost_key(f, &tok, 0x04, &priv);
    login_user(f, &tok);

    /* Another program's LOGOUT logged the card out: the PIN given at
     * login is verified again and the signature goes on. */
    script_gost_sign(f, 0x04, digest, "69 82");
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "90 00");
    script_gost_sign(f, 0x04, digest, cat("%s 90 00", hx(answer, 64)));
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_OK);
    all_sent(f);
    assert_int_equal(sig_len, 64);
    assert_int_equal(sig[0], answer[63]);
    assert_int_equal(kz_card_take_login_lost(f->card), 0);

    /* The PIN was changed elsewhere: one VERIFY, then the PIN is forgotten
     * (no second try spent on it) and the slot is told its login is gone. */
    script_gost_sign(f, 0x04, digest, "69 82");
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "63 C4");
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);
    assert_int_equal(kz_card_take_login_lost(f->card), 1);
    script_gost_sign(f, 0x04, digest, "69 82");
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);

    /* A PIN changed through this token is the one kept. */
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "90 00");
    assert_int_equal(login(&tok, CKU_USER, "123456"), CKR_OK);
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "90 00");
    expect(f, "00 24 01 02 0C 80 02 00 06 A5 06 36 35 34 33 32 31", "90 00");
    assert_int_equal(tok.ops->set_pin(&tok, CKU_USER, user_pin, 6, (const CK_UTF8CHAR *)"654321", 6),
                     CKR_OK);
    script_gost_sign(f, 0x04, digest, "69 82");
    expect(f, "00 20 00 02 06 36 35 34 33 32 31", "90 00");
    script_gost_sign(f, 0x04, digest, cat("%s 90 00", hx(answer, 64)));
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_OK);
    all_sent(f);

    /* After C_Logout nothing is kept. */
    expect(f, "80 40 00 00", "90 00");
    assert_int_equal(tok.ops->logout(&tok), CKR_OK);
    script_gost_sign(f, 0x04, digest, "69 82");
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);

    /* Nor is the SO's PIN: the SO does not sign. */
    expect(f, SELECT_SO_PIN, fcp(0x40, "01 08 01 AA 00 00"));
    expect(f, "00 20 00 01 08 38 37 36 35 34 33 32 31", "90 00");
    assert_int_equal(login(&tok, CKU_SO, "87654321"), CKR_OK);
    script_gost_sign(f, 0x04, digest, "69 82");
    assert_int_equal(tok.ops->sign(&tok, key, &p, digest, 32, sig, &sig_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);
    kz_pkey_free(priv);
    kz_model_key_unref(key);
    release_token(&tok);
    fake_free(f);
}

/* ---- 4. Key generation -------------------------------------------------------- */

static const kz_keygen_request rsa2048 = {
    .type = CKK_RSA, .modulus_bits = 2048, .id = (const unsigned char *)"\x01\x02\x03\x04",
    .id_len = 4, .label = "sig",
};

/* The CREATE FILEs of one key's objects (§3.4), private then public. */
#define CREATE_RSA2048_PRIV(ref) \
    cat("00 E0 00 00 27 6F 25 80 02 02 88 82 02 10 00 83 02 00 %02X 85 06 23 00 00 AA 00 00 " PRIV_SEC, ref)
#define CREATE_RSA2048_PUB(ref) \
    cat("00 E0 00 00 27 6F 25 80 02 01 80 82 02 10 00 83 02 00 %02X 85 06 33 00 00 AA 00 00 " PUB_SEC, ref)
#define GENERATE_RSA(ref) cat("00 46 80 %02X 08 A6 06 94 04 01 00 01 00 00", ref)

static const char *modulus_answer(void)
{
    uint8_t le[256];

    reverse(le, card_modulus, sizeof(le));
    return cat("%s 90 00", hx(le, sizeof(le)));
}

/* After GENERATE on a card where kzp11 never wrote: kzp11's DF, the
 * public file (label and SubjectPublicKeyInfo), then the index, created. */
static void script_first_store(fake *f, uint8_t ref, const char *label, const uint8_t *spki,
                               size_t spki_len, const char *entries_hex)
{
    /* A copy: the hex helpers' buffers turn over before the last step. */
    char *index_entries = strdup(entries_hex);
    uint8_t *rec;
    size_t rec_len;

    assert_non_null(index_entries);

    assert_int_equal(kzt_record_encode(label, spki, spki_len, &rec, &rec_len), CKR_OK);
    expect(f, SELECT_APP, "6A 82");
    expect(f, SELECT_MF, fcp(0, NULL));
    expect(f, "00 E0 00 00 1F 6F 1D 80 02 00 00 82 02 38 00 83 02 4B 5A " APP_SEC, "90 00");
    expect(f, cat("00 E4 00 00 02 A1 %02X", ref), "6A 82");
    expect(f, cat("00 E0 00 00 1F 6F 1D 80 02 %02X %02X 82 02 01 00 83 02 A1 %02X " FILE_SEC,
                  (unsigned)(rec_len >> 8), (unsigned)(rec_len & 0xFF), ref),
           "90 00");
    script_write(f, rec, rec_len);
    free(rec);
    expect(f, SELECT_INDEX, "6A 82");
    expect(f, SELECT_APP, fcp(0, NULL));
    expect(f, "00 E0 00 00 1F 6F 1D 80 02 00 FF 82 02 01 00 83 02 4B 49 " FILE_SEC, "90 00");
    /* A first index starts at a random generation (no stale cache can
     * match it): those bytes are the driver's to choose. */
    expect(f, cat("00 D6 00 00 FF 4B 5A 50 31 ?? ?? ?? ?? %s", index_entries), "90 00");
    free(index_entries);
}

/* The generation and the entry's stamp in the index just written. */
static void check_generation(fake *f, kz_token *tok, size_t stamp_at)
{
    const uint8_t *w = f->sent[f->pos - 1] + 5;
    kzt *t = tok->drv;
    uint32_t gen = (uint32_t)w[4] << 24 | (uint32_t)w[5] << 16 | (uint32_t)w[6] << 8 | w[7];
    uint32_t stamp = (uint32_t)w[stamp_at] << 24 | (uint32_t)w[stamp_at + 1] << 16
                     | (uint32_t)w[stamp_at + 2] << 8 | w[stamp_at + 3];

    assert_int_equal(stamp, gen);
    assert_int_equal(t->index.generation, gen);
}

static void test_keygen_rsa(void **state)
{
    fake *f = fake_new();
    kz_token tok;
    uint8_t id[64];
    size_t id_len = 0;
    kz_model_key *k;
    kz_token_model m = { 0 };

    bind_token(f, &tok);
    login_user(f, &tok);
    expect(f, SELECT_INDEX, "6A 82");
    /* Key objects in the card's private-key DF, at the first reference. */
    expect(f, SELECT_PRKEY_DF, fcp(0, NULL));
    expect(f, CREATE_RSA2048_PRIV(1), "90 00");
    expect(f, CREATE_RSA2048_PUB(1), "90 00");
    expect(f, GENERATE_RSA(1), modulus_answer());
    script_first_store(f, 1, "sig", card_spki, card_spki_len,
                       "01 01 01 00 ?? ?? ?? ?? 04 01 02 03 04 00*234");
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), CKR_OK);
    all_sent(f);
    check_generation(f, &tok, 9 + 3);
    assert_int_equal(id_len, 4);
    assert_memory_equal(id, "\x01\x02\x03\x04", 4);

    /* The new key is listed from the cache: one read of the index. */
    {
        uint8_t idx[KZT_INDEX_SIZE];
        memcpy(idx, f->sent[f->pos - 1] + 5, sizeof(idx));
        expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
        script_read(f, idx, sizeof(idx));
    }
    assert_int_equal(tok.ops->load_model(&tok, &m), CKR_OK);
    all_sent(f);
    assert_int_equal(m.n_keys, 1);
    k = m.keys[0];
    assert_string_equal(k->label, "sig");
    assert_int_equal(k->id_len, 4);
    assert_int_equal(kz_pkey_bits(k->pub), 2048);
    kz_token_model_clear(&m);
    release_token(&tok);
    fake_free(f);
}

static void test_keygen_gost(void **state)
{
    const kz_keygen_request req = { .type = CKK_GOSTR3410, .curve_oid = oid_cp_a,
                                    .curve_oid_len = sizeof(oid_cp_a) };
    fake *f = fake_new();
    kz_token tok;
    kz_pkey *gost = NULL;
    const uint8_t *point;
    size_t point_len, spki_len, id_len = 0;
    uint8_t *spki, ski[20], id[64];

    assert_int_equal(kz_pkey_gost_generate(oid_cp_a, sizeof(oid_cp_a), NULL, 0, &gost), CKR_OK);
    assert_int_equal(kz_pkey_gost_value(gost, &point, &point_len), CKR_OK);
    assert_int_equal(point_len, 64);
    assert_int_equal(kz_pkey_to_spki_nca(gost, &spki, &spki_len), CKR_OK);
    assert_int_equal(kz_pkey_ski(gost, ski), CKR_OK);
    bind_token(f, &tok);
    login_user(f, &tok);
    expect(f, SELECT_INDEX, "6A 82");
    expect(f, SELECT_PRKEY_DF, fcp(0, NULL));
    /* Paramset A (20) in the objects' attributes; GOST sizes 32 and 64;
     * GENERATE without data, its answer the point as X.509 carries it. */
    expect(f, "00 E0 00 00 27 6F 25 80 02 00 20 82 02 10 00 83 02 00 01 85 06 03 20 00 AA 00 00 " PRIV_SEC,
           "90 00");
    expect(f, "00 E0 00 00 27 6F 25 80 02 00 40 82 02 10 00 83 02 00 01 85 06 13 20 00 AA 00 00 " PUB_SEC,
           "90 00");
    expect(f, "00 46 80 01 00", cat("%s 90 00", hx(point, 64)));
    /* No CKA_ID asked for: the key's SHA-1 identifier, as NCA certificates
     * name it. No label: one from the reference. */
    script_first_store(f, 1, "Kaztoken key 1", spki, spki_len,
                       cat("01 01 20 00 ?? ?? ?? ?? 14 %s 00*218", hx(ski, 20)));
    assert_int_equal(tok.ops->generate_keypair(&tok, &req, id, &id_len), CKR_OK);
    all_sent(f);
    check_generation(f, &tok, 9 + 3);
    assert_int_equal(id_len, 20);
    assert_memory_equal(id, ski, 20);
    free(spki);
    kz_pkey_free(gost);
    release_token(&tok);
    fake_free(f);
}

/* RSA-2048 generation on a card whose index lists `listed` at generation
 * 40: the index read, up to the private-key DF... */
static void script_keygen_read_index(fake *f, const kzt_entry *listed)
{
    uint8_t idx[KZT_INDEX_SIZE];

    index_bytes(idx, 40, listed, 1);
    expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
    script_read(f, idx, sizeof(idx));
    expect(f, SELECT_PRKEY_DF, fcp(0, NULL));
}

/* ...then, at free reference ref, the key objects, GENERATE and the key's
 * public file in kzp11's DF (the CREATEs of taken references before it are
 * the caller's). */
static void script_keygen_at(fake *f, uint8_t ref)
{
    uint8_t *rec;
    size_t rec_len;

    expect(f, CREATE_RSA2048_PRIV(ref), "90 00");
    expect(f, CREATE_RSA2048_PUB(ref), "90 00");
    expect(f, GENERATE_RSA(ref), modulus_answer());
    /* kzp11's DF exists: the public file is written there afresh. */
    assert_int_equal(kzt_record_encode("sig", card_spki, card_spki_len, &rec, &rec_len), CKR_OK);
    assert_int_equal(rec_len, 0x12C);
    expect(f, SELECT_APP, fcp(0, NULL));
    expect(f, cat("00 E4 00 00 02 A1 %02X", ref), "6A 82");
    expect(f, cat("00 E0 00 00 1F 6F 1D 80 02 01 2C 82 02 01 00 83 02 A1 %02X " FILE_SEC, ref), "90 00");
    script_write(f, rec, rec_len);
    free(rec);
}

static void test_keygen_skips_taken_references(void **state)
{
    fake *f = fake_new();
    kz_token tok;
    kzt_entry listed = { .ref = 1, .alg = KZT_ALG_RSA, .stamp = 40, .id_len = 1, .id = { 0x99 } };
    uint8_t id[64];
    size_t id_len = 0;

    bind_token(f, &tok);
    login_user(f, &tok);
    /* Reference 1 is kzp11's already (not even tried); 2 is taken by
     * something else (6A 89) and stays; 3 is free. */
    script_keygen_read_index(f, &listed);
    expect(f, CREATE_RSA2048_PRIV(2), "6A 89");
    script_keygen_at(f, 3);
    /* The index is rewritten in place, and its generation moves on by one. */
    expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
    expect(f, "00 D6 00 00 FF 4B 5A 50 31 00 00 00 29 02 01 01 00 00 00 00 28 01 99"
              " 03 01 00 00 00 00 29 04 01 02 03 04 00*225",
           "90 00");
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), CKR_OK);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

/* The key objects of ref, taken off the card again after a failure. */
static void script_cleanup(fake *f, uint8_t ref)
{
    expect(f, SELECT_PRKEY_DF, fcp(0, NULL));
    expect(f, cat("00 E4 00 00 02 00 %02X", ref), "90 00");
    expect(f, SELECT_PUKEY_DF, fcp(0, NULL));
    expect(f, cat("00 E4 00 00 02 00 %02X", ref), "90 00");
}

/* The index write of a key generation answered with an error: what the
 * card lists afterwards decides. carried: the card did write it (only its
 * answer was bad), so the key stays; else its objects are removed. */
static void keygen_index_answer_lost(int carried)
{
    fake *f = fake_new();
    kz_token tok;
    kzt_entry listed = { .ref = 1, .alg = KZT_ALG_RSA, .stamp = 40, .id_len = 1, .id = { 0x99 } }, both[2];
    uint8_t idx[KZT_INDEX_SIZE];
    uint8_t id[64];
    size_t id_len = 0;

    bind_token(f, &tok);
    login_user(f, &tok);
    script_keygen_read_index(f, &listed);
    script_keygen_at(f, 2);
    both[0] = listed;
    both[1] = (kzt_entry){ .ref = 2, .alg = KZT_ALG_RSA, .stamp = 41, .id_len = 4, .id = { 1, 2, 3, 4 } };
    index_bytes(idx, 41, both, 2);
    expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
    expect(f, cat("00 D6 00 00 FF %s", hx(idx, sizeof(idx))), "6F 00");
    /* The card is asked what it holds now. */
    if (!carried)
        index_bytes(idx, 40, &listed, 1);
    expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
    script_read(f, idx, sizeof(idx));
    if (!carried)
        script_cleanup(f, 2);
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), carried ? CKR_OK : CKR_DEVICE_ERROR);
    all_sent(f);
    assert_int_equal(((kzt *)tok.drv)->index.n, carried ? 2 : 1);
    release_token(&tok);
    fake_free(f);
}

static void test_keygen_index_answer_lost(void **state)
{
    (void)state;
    keygen_index_answer_lost(1);
    keygen_index_answer_lost(0);
}

static void keygen_fails(const char *answer_hex, CK_RV want)
{
    char *generate_answer = strdup(answer_hex);
    fake *f = fake_new();
    kz_token tok;
    uint8_t id[64];
    size_t id_len = 0;

    bind_token(f, &tok);
    login_user(f, &tok);
    expect(f, SELECT_INDEX, "6A 82");
    expect(f, SELECT_PRKEY_DF, fcp(0, NULL));
    expect(f, CREATE_RSA2048_PRIV(1), "90 00");
    expect(f, CREATE_RSA2048_PUB(1), "90 00");
    assert_non_null(generate_answer);
    expect(f, GENERATE_RSA(1), generate_answer);
    free(generate_answer);
    script_cleanup(f, 1);
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), want);
    all_sent(f);
    assert_int_equal(((kzt *)tok.drv)->index.n, 0);
    release_token(&tok);
    fake_free(f);
}

static void test_keygen_bad_answers(void **state)
{
    uint8_t le[256];

    reverse(le, card_modulus, sizeof(le));
    /* A modulus one byte short. */
    keygen_fails(cat("%s 90 00", hx(le, 255)), CKR_DEVICE_ERROR);
    /* 256 bytes, but a 2047-bit number (its top byte, last here, is 00). */
    keygen_fails(cat("%s 00 90 00", hx(le, 255)), CKR_DEVICE_ERROR);
    /* Nothing at all; the card out of memory. */
    keygen_fails("90 00", CKR_DEVICE_ERROR);
    keygen_fails("6A 84", CKR_DEVICE_MEMORY);
}

static void test_keygen_public_object_refused(void **state)
{
    fake *f = fake_new();
    kz_token tok;
    uint8_t id[64];
    size_t id_len = 0;

    bind_token(f, &tok);
    login_user(f, &tok);
    expect(f, SELECT_INDEX, "6A 82");
    expect(f, SELECT_PRKEY_DF, fcp(0, NULL));
    expect(f, CREATE_RSA2048_PRIV(1), "90 00");
    /* The card has room for the private object, not the public one: the
     * private object, which nothing lists, must not stay behind (each
     * failed attempt would cost the full card another one). The delete
     * mirrors the driver's own clean-up when the public FID is taken. */
    expect(f, CREATE_RSA2048_PUB(1), "6A 84");
    expect(f, SELECT_PRKEY_DF, fcp(0, NULL));
    expect(f, "00 E4 00 00 02 00 01", "90 00");
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), CKR_DEVICE_MEMORY);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

static void test_keygen_refusals(void **state)
{
    kz_keygen_request req = rsa2048;
    fake *f = fake_new();
    kz_token tok;
    uint8_t id[64];
    size_t id_len = 0;

    bind_token(f, &tok);
    /* Logged out: nothing is sent. */
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);
    login_user(f, &tok);
    /* Sizes and exponents the card does not make. */
    req.modulus_bits = 2000;
    assert_int_equal(tok.ops->generate_keypair(&tok, &req, id, &id_len), CKR_KEY_SIZE_RANGE);
    req.modulus_bits = 2048;
    req.public_exponent = 3;
    assert_int_equal(tok.ops->generate_keypair(&tok, &req, id, &id_len), CKR_TEMPLATE_INCONSISTENT);
    all_sent(f);
    /* A CKA_ID another key has, or one longer than the index keeps. */
    {
        kzt_entry listed = { .ref = 1, .alg = KZT_ALG_RSA, .stamp = 1, .id_len = 4,
                             .id = { 0x01, 0x02, 0x03, 0x04 } };
        uint8_t idx[KZT_INDEX_SIZE];

        index_bytes(idx, 1, &listed, 1);
        expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
        script_read(f, idx, sizeof(idx));
        assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len),
                         CKR_ATTRIBUTE_VALUE_INVALID);
        all_sent(f);
    }
    req = rsa2048;
    req.id = (const unsigned char *)"0123456789012345678901234567890123";
    req.id_len = KZT_MAX_ID + 1;
    expect(f, SELECT_INDEX, "6A 82");
    assert_int_equal(tok.ops->generate_keypair(&tok, &req, id, &id_len), CKR_ATTRIBUTE_VALUE_INVALID);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

/* ---- 5. Changes on the card: deletions, refresh, certificates ---------------- */

/* The key the tests below find on the card: ref 5, RSA, id C1 D0, its
 * public file holding card_spki under the label "signing key". */
static kzt_entry listed_key(uint8_t flags, uint32_t stamp)
{
    kzt_entry e = { .ref = 0x05, .alg = KZT_ALG_RSA, .flags = flags, .stamp = stamp, .id_len = 2,
                    .id = { 0xC1, 0xD0 } };

    return e;
}

/* The index read: SELECT, then the file. */
static void script_index(fake *f, uint32_t gen, const kzt_entry *e, size_t n)
{
    uint8_t idx[KZT_INDEX_SIZE];

    index_bytes(idx, gen, e, n);
    expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
    script_read(f, idx, sizeof(idx));
}

/* The index rewritten in place (kzp11's DF and index exist), whole. */
static void script_index_write(fake *f, uint32_t gen, const kzt_entry *e, size_t n)
{
    uint8_t idx[KZT_INDEX_SIZE];

    index_bytes(idx, gen, e, n);
    expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
    expect(f, cat("00 D6 00 00 FF %s", hx(idx, sizeof(idx))), "90 00");
}

/* Key ref's public file, read off the card (nothing cached). */
static void script_public(fake *f, uint8_t ref)
{
    uint8_t *rec;
    size_t rec_len;

    assert_int_equal(kzt_record_encode("signing key", card_spki, card_spki_len, &rec, &rec_len), CKR_OK);
    expect(f, cat("00 A4 08 00 04 4B 5A A1 %02X 00", ref), fcp(rec_len, NULL));
    script_read(f, rec, rec_len);
    free(rec);
}

/* A self-signed certificate for the card's key; pad > 0 adds a private
 * extension of that many bytes (to make certificates of a chosen size). */
static void make_cert(size_t pad, uint8_t **der, size_t *der_len)
{
    X509 *x = X509_new();
    X509_NAME *name;
    uint8_t *p;
    int len;

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"kzp11 test",
                                                -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_int_equal(X509_set_pubkey(x, card_rsa), 1);
    if (pad) {
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
        uint8_t *junk = calloc(1, pad);
        X509_EXTENSION *ext;

        assert_true(os && oid && junk);
        assert_int_equal(ASN1_OCTET_STRING_set(os, junk, (int)pad), 1);
        assert_non_null(ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os));
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
        ASN1_OBJECT_free(oid);
        ASN1_OCTET_STRING_free(os);
        free(junk);
    }
    assert_true(X509_sign(x, card_rsa, EVP_sha256()) > 0);
    len = i2d_X509(x, NULL);
    assert_true(len > 0);
    assert_non_null(p = *der = malloc((size_t)len));
    assert_int_equal(i2d_X509(x, &p), len);
    *der_len = (size_t)len;
    X509_free(x);
}

static void test_destroy_public_key_alone_refused(void **state)
{
    const kzt_entry e = listed_key(0, 7);
    fake *f = fake_new();
    kz_token tok;
    kzt *t;

    bind_token(f, &tok);
    t = tok.drv;
    login_user(f, &tok);
    /* The public key is half of a pair the card cannot make again: refused
     * once the index says whose it is, and nothing on the card changes. */
    script_index(f, 7, &e, 1);
    assert_int_equal(tok.ops->destroy_object(&tok, CKO_PUBLIC_KEY, (const unsigned char *)"\xC1\xD0", 2),
                     CKR_ACTION_PROHIBITED);
    all_sent(f);
    assert_int_equal(t->index.n, 1);

    /* The private key takes the pair: the index first (generation 8, no
     * entry), then its public file, then the two key objects. */
    script_index(f, 7, &e, 1);
    script_index_write(f, 8, &e, 0);          /* no entry left */
    expect(f, SELECT_APP, fcp(0, NULL));
    expect(f, "00 E4 00 00 02 A1 05", "90 00");
    script_cleanup(f, 0x05);
    assert_int_equal(tok.ops->destroy_object(&tok, CKO_PRIVATE_KEY, (const unsigned char *)"\xC1\xD0", 2),
                     CKR_OK);
    all_sent(f);
    assert_int_equal(t->index.n, 0);
    assert_int_equal(t->index.generation, 8);
    release_token(&tok);
    fake_free(f);
}

/* The token whose LOGOUT the card below answers. */
static kzt *logging_out;

/* A card that, when it hears LOGOUT, checks that the token kept no PIN
 * any more: a signature beside the logout cannot log the card in again. */
static size_t logout_after_pin_gone(const uint8_t *data, size_t len, uint8_t *rsp)
{
    (void)data;
    assert_int_equal(len, 0);
    assert_int_equal(logging_out->kept->pin.len, 0);
    assert_null(logging_out->kept->pin.data);
    rsp[0] = 0x90;
    rsp[1] = 0x00;
    return 2;
}

static void test_logout_forgets_pin_first(void **state)
{
    fake *f = fake_new();
    kz_token tok;

    bind_token(f, &tok);
    logging_out = tok.drv;
    login_user(f, &tok);
    assert_int_equal(logging_out->kept->pin.len, 6);
    expect_answer(f, "80 40 00 00", logout_after_pin_gone);
    assert_int_equal(tok.ops->logout(&tok), CKR_OK);
    all_sent(f);
    assert_int_equal(logging_out->kept->pin.len, 0);
    assert_int_equal(logging_out->user, KZ_NOBODY);
    logging_out = NULL;
    release_token(&tok);
    fake_free(f);
}

static void test_refresh_against_model(void **state)
{
    const kzt_entry e = listed_key(0, 7);
    kz_keygen_request dup = rsa2048;
    fake *f = fake_new();
    kz_token tok;
    kz_model_key *key;
    kz_token_model m = { 0 };
    uint8_t id[64];
    size_t id_len = 0, before;
    int changed = -1;

    bind_token(f, &tok);
    key = load_rsa_key(f, &tok, 0x05);        /* generation 7 */
    kz_model_key_unref(key);

    /* Nothing changed: two commands, the index's SELECT and its one read. */
    before = f->pos;
    script_index(f, 7, &e, 1);
    assert_int_equal(tok.ops->refresh(&tok, &changed), CKR_OK);
    all_sent(f);
    assert_int_equal(f->pos - before, 2);
    assert_int_equal(changed, 0);

    /* Another program moves the index on (generation 8); then one of our
     * own changes reads it and fails before writing anything (the CKA_ID
     * is taken). The objects were still built from generation 7. */
    login_user(f, &tok);
    dup.id = (const unsigned char *)"\xC1\xD0";
    dup.id_len = 2;
    script_index(f, 8, &e, 1);
    assert_int_equal(tok.ops->generate_keypair(&tok, &dup, id, &id_len), CKR_ATTRIBUTE_VALUE_INVALID);
    all_sent(f);
    changed = -1;
    script_index(f, 8, &e, 1);
    assert_int_equal(tok.ops->refresh(&tok, &changed), CKR_OK);
    all_sent(f);
    assert_int_equal(changed, 1);
    /* Still changed until the objects are built again... */
    changed = -1;
    script_index(f, 8, &e, 1);
    assert_int_equal(tok.ops->refresh(&tok, &changed), CKR_OK);
    assert_int_equal(changed, 1);
    /* ...from generation 8 (the public file is in the cache). */
    script_index(f, 8, &e, 1);
    assert_int_equal(tok.ops->load_model(&tok, &m), CKR_OK);
    all_sent(f);
    assert_int_equal(m.n_keys, 1);
    kz_token_model_clear(&m);
    changed = -1;
    script_index(f, 8, &e, 1);
    assert_int_equal(tok.ops->refresh(&tok, &changed), CKR_OK);
    all_sent(f);
    assert_int_equal(changed, 0);
    release_token(&tok);
    fake_free(f);
}

static void test_lifecycle_login_lost_elsewhere(void **state)
{
    const kzt_entry e = listed_key(0, 7);
    fake *f = fake_new();
    kz_token tok;
    kzt *t;
    uint8_t *der, *rec, id[64];
    size_t der_len, rec_len, id_len = 0;

    make_cert(0, &der, &der_len);
    assert_int_equal(kzt_record_encode("signing key", der, der_len, &rec, &rec_len), CKR_OK);
    bind_token(f, &tok);
    t = tok.drv;
    login_user(f, &tok);
    assert_int_equal(kz_card_take_login_lost(f->card), 0);

    /* Another program logged the card out: the certificate's CREATE FILE
     * (kzp11's DF takes the user PIN) is refused with 69 82. */
    script_index(f, 7, &e, 1);
    script_public(f, 0x05);
    expect(f, SELECT_APP, fcp(0, NULL));
    expect(f, "00 E4 00 00 02 A2 05", "6A 82");
    expect(f, cat("00 E0 00 00 1F 6F 1D 80 02 %02X %02X 82 02 01 00 83 02 A2 05 " FILE_SEC,
                  (unsigned)(rec_len >> 8), (unsigned)(rec_len & 0xFF)),
           "69 82");
    assert_int_equal(tok.ops->store_certificate(&tok, der, der_len, NULL, id, &id_len),
                     CKR_USER_NOT_LOGGED_IN);
    all_sent(f);
    assert_int_equal(t->user, KZ_NOBODY);
    assert_int_equal(kz_card_take_login_lost(f->card), 1);
    assert_int_equal(kz_card_take_login_lost(f->card), 0);

    /* The same for key generation, refused at the private object. */
    expect(f, "00 20 00 02 06 31 32 33 34 35 36", "90 00");
    assert_int_equal(login(&tok, CKU_USER, "123456"), CKR_OK);
    script_index(f, 7, &e, 1);
    expect(f, SELECT_PRKEY_DF, fcp(0, NULL));
    expect(f, CREATE_RSA2048_PRIV(1), "69 82");
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);
    assert_int_equal(t->user, KZ_NOBODY);
    assert_int_equal(kz_card_take_login_lost(f->card), 1);
    /* From then on the token knows it is logged out: nothing is sent. */
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), CKR_USER_NOT_LOGGED_IN);
    all_sent(f);
    assert_int_equal(kz_card_take_login_lost(f->card), 0);

    /* An SO login is not lost when kzp11's files (user PIN) refuse it: a
     * certificate the SO tries to destroy stays, and so does the SO. */
    {
        kzt_entry c = listed_key(KZT_HAS_CERT, 7), cleared = c;
        uint8_t idx[KZT_INDEX_SIZE];

        expect(f, SELECT_SO_PIN, fcp(0x40, "01 08 01 AA 00 00"));
        expect(f, "00 20 00 01 08 38 37 36 35 34 33 32 31", "90 00");
        assert_int_equal(login(&tok, CKU_SO, "87654321"), CKR_OK);
        script_index(f, 7, &c, 1);
        cleared.flags = 0;
        cleared.stamp = 8;
        index_bytes(idx, 8, &cleared, 1);
        expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
        expect(f, cat("00 D6 00 00 FF %s", hx(idx, sizeof(idx))), "69 82");
        assert_int_equal(tok.ops->destroy_object(&tok, CKO_CERTIFICATE, c.id, c.id_len), CKR_USER_NOT_LOGGED_IN);
        all_sent(f);
        assert_int_equal(t->user, CKU_SO);
        assert_int_equal(kz_card_take_login_lost(f->card), 0);
    }
    free(rec);
    free(der);
    release_token(&tok);
    fake_free(f);
}

static void test_replace_certificate(void **state)
{
    kzt_entry e = listed_key(KZT_HAS_CERT, 7);
    fake *f = fake_new();
    kz_token tok;
    kz_token_model m = { 0 };
    uint8_t *der, *rec, id[64];
    size_t der_len, rec_len, id_len = 0;

    make_cert(0, &der, &der_len);
    assert_int_equal(kzt_record_encode("signing key", der, der_len, &rec, &rec_len), CKR_OK);
    bind_token(f, &tok);
    login_user(f, &tok);
    script_index(f, 7, &e, 1);
    script_public(f, 0x05);
    /* First the index stops listing the old certificate (generation 8),
     * so that a write cut short never leaves a listed file half-written... */
    e.flags = 0;
    e.stamp = 8;
    script_index_write(f, 8, &e, 1);
    /* ...then the certificate's file is made again... */
    expect(f, SELECT_APP, fcp(0, NULL));
    expect(f, "00 E4 00 00 02 A2 05", "90 00");
    expect(f, cat("00 E0 00 00 1F 6F 1D 80 02 %02X %02X 82 02 01 00 83 02 A2 05 " FILE_SEC,
                  (unsigned)(rec_len >> 8), (unsigned)(rec_len & 0xFF)),
           "90 00");
    script_write(f, rec, rec_len);
    /* ...and only then listed (generation 9). */
    e.flags = KZT_HAS_CERT;
    e.stamp = 9;
    script_index_write(f, 9, &e, 1);
    assert_int_equal(tok.ops->store_certificate(&tok, der, der_len, NULL, id, &id_len), CKR_OK);
    all_sent(f);
    assert_int_equal(id_len, 2);
    assert_memory_equal(id, "\xC1\xD0", 2);

    /* Both files are in the cache under the new stamp: listing the token
     * again costs the index only. */
    script_index(f, 9, &e, 1);
    assert_int_equal(tok.ops->load_model(&tok, &m), CKR_OK);
    all_sent(f);
    assert_int_equal(m.n_keys, 1);
    assert_int_equal(m.n_certs, 1);
    assert_int_equal(m.certs[0].der_len, der_len);
    assert_memory_equal(m.certs[0].der, der, der_len);
    assert_string_equal(m.certs[0].label, "signing key");
    kz_token_model_clear(&m);
    free(rec);
    free(der);
    release_token(&tok);
    fake_free(f);
}

static void test_certificate_size_limit(void **state)
{
    kzt_entry e = listed_key(KZT_HAS_CERT, 7);
    fake *f = fake_new();
    kz_token tok;
    uint8_t *der, *rec, id[64];
    size_t der_len, rec_len, id_len = 0, ll;
    char label[KZT_MAX_LABEL + 1];

    /* A certificate whose record (label, length, DER) is 0x8000 bytes
     * exactly with a label of ll bytes: the extension's size is tuned, the
     * DER's lengths keep their size from 256 bytes to 64 KiB. */
    make_cert(KZT_MAX_FILE - 1000, &der, &der_len);
    {
        size_t pad = KZT_MAX_FILE - 1000 + (KZT_MAX_FILE - 3 - 32 - der_len);
        free(der);
        make_cert(pad, &der, &der_len);
    }
    assert_true(der_len + 3 + 1 < KZT_MAX_FILE && KZT_MAX_FILE - 3 - der_len < KZT_MAX_LABEL);
    ll = KZT_MAX_FILE - 3 - der_len;
    memset(label, 'L', sizeof(label));
    label[ll + 1] = '\0';

    bind_token(f, &tok);
    login_user(f, &tok);
    /* One byte over: refused once the record is known, before anything is
     * written (the index that would unlist the old certificate included). */
    script_index(f, 7, &e, 1);
    script_public(f, 0x05);
    assert_int_equal(tok.ops->store_certificate(&tok, der, der_len, label, id, &id_len), CKR_DEVICE_MEMORY);
    all_sent(f);

    /* 0x8000 bytes: written. */
    label[ll] = '\0';
    assert_int_equal(kzt_record_encode(label, der, der_len, &rec, &rec_len), CKR_OK);
    assert_int_equal(rec_len, KZT_MAX_FILE);
    script_index(f, 7, &e, 1);
    e.flags = 0;
    e.stamp = 8;
    script_index_write(f, 8, &e, 1);
    expect(f, SELECT_APP, fcp(0, NULL));
    expect(f, "00 E4 00 00 02 A2 05", "90 00");
    expect(f, "00 E0 00 00 1F 6F 1D 80 02 80 00 82 02 01 00 83 02 A2 05 " FILE_SEC, "90 00");
    script_write(f, rec, rec_len);
    e.flags = KZT_HAS_CERT;
    e.stamp = 9;
    script_index_write(f, 9, &e, 1);
    assert_int_equal(tok.ops->store_certificate(&tok, der, der_len, label, id, &id_len), CKR_OK);
    all_sent(f);
    free(rec);
    free(der);
    release_token(&tok);
    fake_free(f);
}

static void test_keygen_index_full(void **state)
{
    kz_keygen_request req = rsa2048;
    kzt_entry e[6];
    fake *f = fake_new();
    kz_token tok;
    uint8_t id[64];
    size_t id_len = 0;
    const uint8_t id32[32] = { 0xEE };

    bind_token(f, &tok);
    login_user(f, &tok);
    /* Six keys with 32-byte ids take 249 of the index's 255 bytes: no
     * seventh fits, whatever its id. Refused before any CREATE FILE or
     * GENERATE (seconds of the card's time for a key nothing would list). */
    for (uint8_t i = 0; i < 6; i++)
        e[i] = entry((uint8_t)(i + 1), KZT_ALG_RSA, 32, i);
    req.id = id32;
    req.id_len = sizeof(id32);
    script_index(f, 50, e, 6);
    assert_int_equal(tok.ops->generate_keypair(&tok, &req, id, &id_len), CKR_DEVICE_MEMORY);
    all_sent(f);
    script_index(f, 50, e, 6);
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), CKR_DEVICE_MEMORY);
    all_sent(f);
    /* No CKA_ID: the key's 20-byte identifier is what would be listed. */
    req.id = NULL;
    req.id_len = 0;
    script_index(f, 50, e, 6);
    assert_int_equal(tok.ops->generate_keypair(&tok, &req, id, &id_len), CKR_DEVICE_MEMORY);
    all_sent(f);

    /* 5 x 40 + 34 + 9 = 243 bytes: a 4-byte id fills the index to its
     * last byte (the card is asked; this one is out of memory), a 5-byte
     * one is a byte too many. */
    e[5].id_len = 26;
    req.id = (const unsigned char *)"\x01\x02\x03\x04\x05";
    req.id_len = 5;
    script_index(f, 50, e, 6);
    assert_int_equal(tok.ops->generate_keypair(&tok, &req, id, &id_len), CKR_DEVICE_MEMORY);
    all_sent(f);
    script_index(f, 50, e, 6);
    expect(f, SELECT_PRKEY_DF, fcp(0, NULL));
    expect(f, CREATE_RSA2048_PRIV(7), "6A 84");
    assert_int_equal(tok.ops->generate_keypair(&tok, &rsa2048, id, &id_len), CKR_DEVICE_MEMORY);
    all_sent(f);
    release_token(&tok);
    fake_free(f);
}

static void test_damaged_index_keeps_last(void **state)
{
    const kzt_entry e[2] = { listed_key(0, 7), { .ref = 0x06, .alg = KZT_ALG_GOST_A, .stamp = 7,
                                                 .id_len = 1, .id = { 0x66 } } };
    fake *f = fake_new();
    kz_token tok;
    kzt *t;
    kzt_index good;
    uint8_t idx[KZT_INDEX_SIZE];
    int changed = -1;

    bind_token(f, &tok);
    t = tok.drv;
    script_index(f, 7, e, 2);
    assert_int_equal(tok.ops->refresh(&tok, &changed), CKR_OK);
    all_sent(f);
    good = t->index;
    assert_int_equal(good.n, 2);
    assert_int_equal(good.generation, 7);

    /* Another index, its second entry damaged (algorithm 02): the decoder
     * got through the header and the first entry before it gave up. */
    index_bytes(idx, 9, e, 2);
    assert_int_equal(idx[9 + 10 + 1], KZT_ALG_GOST_A);
    idx[9 + 10 + 1] = 0x02;
    expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
    script_read(f, idx, sizeof(idx));
    assert_int_equal(tok.ops->refresh(&tok, &changed), CKR_DEVICE_ERROR);
    all_sent(f);
    assert_index_equal(&t->index, &good);
    /* And a damaged header. */
    idx[0] = 0x00;
    expect(f, SELECT_INDEX, fcp(KZT_INDEX_SIZE, NULL));
    script_read(f, idx, sizeof(idx));
    assert_int_equal(tok.ops->refresh(&tok, &changed), CKR_DEVICE_ERROR);
    all_sent(f);
    assert_index_equal(&t->index, &good);
    release_token(&tok);
    fake_free(f);
}

static void test_pin_minimum_capped(void **state)
{
    /* Minimum lengths from the PIN object's tag 85; 32 is the most any
     * PIN can be. */
    static const struct {
        uint8_t min;
        CK_ULONG want;
    } cases[] = { { 0x20, 32 }, { 0x21, 32 }, { 0xFF, 32 }, { 0x08, 8 } };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake *f = fake_new();
        kz_token tok;
        CK_TOKEN_INFO info;

        bind_token(f, &tok);
        /* A count of tries left has the PIN object read for its limits. */
        expect(f, "00 20 00 02", "63 C5");
        expect(f, SELECT_USER_PIN, fcp(0x40, cat("01 %02X 01 55 00 00", cases[i].min)));
        expect(f, "00 20 00 01", "90 00");
        memset(&info, 0, sizeof(info));
        assert_int_equal(tok.ops->get_info(&tok, &info), CKR_OK);
        all_sent(f);
        if (info.ulMinPinLen != cases[i].want || info.ulMinPinLen > info.ulMaxPinLen)
            fail_msg("tag 85 minimum %02X: ulMinPinLen %lu, ulMaxPinLen %lu", cases[i].min,
                     (unsigned long)info.ulMinPinLen, (unsigned long)info.ulMaxPinLen);
        /* A PIN of the longest length is long enough: VERIFY goes out. */
        expect(f, "00 20 00 02 20 31*32", "90 00");
        assert_int_equal(login(&tok, CKU_USER, "11111111111111111111111111111111"), CKR_OK);
        all_sent(f);
        release_token(&tok);
        fake_free(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_bytes),
        cmocka_unit_test(test_index_round_trip),
        cmocka_unit_test(test_index_encode_refuses),
        cmocka_unit_test(test_index_decode_refuses),
        cmocka_unit_test(test_index_find),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_decode_refuses),
        cmocka_unit_test(test_record_label_past_end),
        cmocka_unit_test(test_bind_and_label),
        cmocka_unit_test(test_bind_refused),
        cmocka_unit_test(test_login_ok),
        cmocka_unit_test(test_login_status_words),
        cmocka_unit_test(test_login_6300_asks_the_count),
        cmocka_unit_test(test_login_6f86_logs_out_and_retries),
        cmocka_unit_test(test_login_pin_length),
        cmocka_unit_test(test_login_pin_object_not_selectable),
        cmocka_unit_test(test_set_pin),
        cmocka_unit_test(test_init_pin),
        cmocka_unit_test(test_token_pin_flags),
        cmocka_unit_test(test_rsa_sign),
        cmocka_unit_test(test_rsa_sign_refusals),
        cmocka_unit_test(test_rsa_decrypt),
        cmocka_unit_test(test_gost_sign),
        cmocka_unit_test(test_sign_relogin_with_kept_pin),
        cmocka_unit_test(test_keygen_rsa),
        cmocka_unit_test(test_keygen_gost),
        cmocka_unit_test(test_keygen_skips_taken_references),
        cmocka_unit_test(test_keygen_bad_answers),
        cmocka_unit_test(test_keygen_index_answer_lost),
        cmocka_unit_test(test_keygen_public_object_refused),
        cmocka_unit_test(test_keygen_refusals),
        cmocka_unit_test(test_destroy_public_key_alone_refused),
        cmocka_unit_test(test_logout_forgets_pin_first),
        cmocka_unit_test(test_refresh_against_model),
        cmocka_unit_test(test_lifecycle_login_lost_elsewhere),
        cmocka_unit_test(test_replace_certificate),
        cmocka_unit_test(test_certificate_size_limit),
        cmocka_unit_test(test_keygen_index_full),
        cmocka_unit_test(test_damaged_index_keeps_last),
        cmocka_unit_test(test_pin_minimum_capped),
        /* Last: under ASan an out-of-bounds read aborts the whole program. */
        cmocka_unit_test(test_index_fuzz),
        cmocka_unit_test(test_record_fuzz),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
