/* Self-test of the Kaztoken simulator's card logic, without pcscd: drives
 * kt_apdu() directly and checks the answers against card-protocols.md, the
 * cryptography against OpenSSL (RSA) and kzp11's verifier (GOST). The bench
 * tests trust this simulator, so it is tested on its own first. */
#include "apdu_frame.h"
#include "fuzz.h"
#include "kt_cmd.h"
#include "kt_crypto.h"
#include "kt_factory.h"
#include "kt_fs.h"

#include "gost3410.h"
#include "gost_curves.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

static int passed, failed;

static void check(int ok, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        passed++;
        return;
    }
    failed++;
    fputs("FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- a card and a way to talk to it ---------------------------------------- */

static struct kaztoken kt;
static uint8_t resp[4096];
static size_t resp_len;

static void fresh_card(void);

static unsigned hexval(char c)
{
    return (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}

/* Sends hex (spaces allowed); returns the SW, leaves the data in resp. */
static unsigned send_hex(const char *hex)
{
    uint8_t cmd[600];
    size_t n = 0;

    for (; *hex; hex++) {
        if (*hex == ' ')
            continue;
        cmd[n++] = (uint8_t)(hexval(hex[0]) << 4 | hexval(hex[1]));
        hex++;
    }
    resp_len = kt_apdu(&kt, cmd, n, resp, sizeof resp);
    return (unsigned)(resp[resp_len - 2] << 8 | resp[resp_len - 1]);
}

static unsigned send_bytes(const uint8_t *hdr, size_t hlen, const uint8_t *data, size_t dlen,
                           int le, unsigned le_value)
{
    uint8_t cmd[600];
    size_t n = 0;

    memcpy(cmd, hdr, hlen);
    n = hlen;
    if (dlen) {
        cmd[n++] = (uint8_t)dlen;
        memcpy(cmd + n, data, dlen);
        n += dlen;
    }
    if (le)
        cmd[n++] = (uint8_t)le_value;
    resp_len = kt_apdu(&kt, cmd, n, resp, sizeof resp);
    return (unsigned)(resp[resp_len - 2] << 8 | resp[resp_len - 1]);
}

/* The way OpenSC sends more than 255 bytes: 255-byte chunks with CLA 10,
 * then the rest with CLA 00 and Le. */
static unsigned send_chained(uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data,
                             size_t n, int le)
{
    unsigned sw = 0x9000;

    while (n > 255) {
        uint8_t hdr[4] = { 0x10, ins, p1, p2 };
        sw = send_bytes(hdr, 4, data, 255, 0, 0);
        if (sw != 0x9000)
            return sw;
        data += 255;
        n -= 255;
    }
    {
        uint8_t hdr[4] = { 0x00, ins, p1, p2 };
        return send_bytes(hdr, 4, data, n, le, 0);
    }
}

static void reverse(uint8_t *b, size_t n)
{
    size_t i;

    for (i = 0; i < n / 2; i++) {
        uint8_t t = b[i];
        b[i] = b[n - 1 - i];
        b[n - 1 - i] = t;
    }
}

/* ---- framing --------------------------------------------------------------- */

static void test_framing(void)
{
    struct apdu a;
    static const uint8_t c1[] = { 0, 0xA4, 0, 0 };
    static const uint8_t c2[] = { 0, 0x84, 0, 0, 0 };
    static const uint8_t c3[] = { 0, 0xA4, 0, 0, 2, 0x3F, 0 };
    static const uint8_t c4[] = { 0, 0xA4, 0, 0, 2, 0x3F, 0, 0x10 };
    static const uint8_t bad[] = { 0, 0xA4, 0, 0, 3, 0x3F, 0 };
    static const uint8_t ext[] = { 0, 0xB0, 0, 0, 0, 0x01, 0x00 };

    check(apdu_parse(c1, sizeof c1, &a) == 0 && !a.has_le && !a.lc, "case 1");
    check(apdu_parse(c2, sizeof c2, &a) == 0 && a.has_le && a.ne == 256, "case 2, Le 00 = 256");
    check(apdu_parse(c3, sizeof c3, &a) == 0 && a.lc == 2 && !a.has_le, "case 3");
    check(apdu_parse(c4, sizeof c4, &a) == 0 && a.lc == 2 && a.ne == 16, "case 4");
    check(apdu_parse(bad, sizeof bad, &a) < 0, "Lc beyond the data");
    check(apdu_parse(ext, sizeof ext, &a) == 0 && a.extended && a.ne == 256, "extended case 2");

    fresh_card();
    check(send_hex("00 B0 00 00 00 01 00") == 0x6700, "extended APDUs refused (short-only token)");
    check(send_hex("00 99 00 00") == 0x6D00, "unknown INS: 6D 00");
    check(send_hex("84 A4 00 00 02 3F 00") == 0x6E00, "unknown CLA: 6E 00");
    check(send_hex("80 8A 00 00") == 0x6D00, "ERASE is not simulated");
    check(send_hex("00 C0 00 00 00") == 0x6985, "GET RESPONSE with nothing pending");
}

/* ---- files ----------------------------------------------------------------- */

static void test_select_and_files(void)
{
    fresh_card();
    check(send_hex("00 A4 00 00 02 3F 00 00") == 0x9000, "SELECT MF");
    check(resp_len == 33 && resp[0] == 0x62 && resp[1] == 0x1D, "FCP template 62");
    check(memmem(resp, resp_len, "\x86\x0F", 2) != NULL, "86 with 15 bytes");
    check(send_hex("00 A4 00 0C 02 3F 00") == 0x9000 && resp_len == 2, "SELECT P2 0C: no data");
    check(send_hex("00 A4 08 00 06 10 00 10 00 60 02 00") == 0x9000, "SELECT path PrKey-DF");
    check(send_hex("00 A4 08 00 08 3F 00 10 00 10 00 60 01 00") == 0x9000,
          "SELECT path with leading 3F00");
    check(send_hex("00 A4 03 00 00") == 0x9000 && resp[12] == 0x10 && resp[13] == 0x00,
          "SELECT parent -> 1000");
    check(send_hex("00 A4 08 00 02 77 77 00") == 0x6A82, "missing path: 6A 82");
    check(send_hex("00 A4 04 00 02 3F 00 00") == 0x6A86, "SELECT by name not simulated");

    /* LIST FILES the rtecp way: first child, then next after each FID. */
    send_hex("00 A4 00 00 02 3F 00 00");
    check(send_hex("00 A4 00 00 00") == 0x9000 && resp[12] == 0x00 && resp[13] == 0x01,
          "first child of MF is the SO PIN 0001");
    check(send_hex("00 A4 00 02 02 00 01 00") == 0x9000 && resp[13] == 0x02, "next: 0002");
    check(send_hex("00 A4 00 02 02 00 02 00") == 0x9000 && resp[8] == 0x38 && resp[13] == 0x00,
          "next: DF 1000");
    send_hex("00 A4 03 00 00");
    check(send_hex("00 A4 00 02 02 10 00 00") == 0x6A82, "no file after 1000: 6A 82");

    /* CREATE needs the user PIN in the MF. */
    send_hex("00 A4 00 00 02 3F 00 00");
    check(send_hex("00 E0 00 00 1F 6F 1D 80 02 00 10 82 02 01 00 83 02 A0 01"
                   " 86 0F 43 00 02 00 00 00 00 02 00 00 00 00 00 00 00") == 0x6982,
          "CREATE without login: 69 82");
    check(send_hex("00 20 00 02 08 31 32 33 34 35 36 37 38") == 0x9000, "user login");
    check(send_hex("00 E0 00 00 1F 62 1D 80 02 00 10 82 02 01 00 83 02 A0 01"
                   " 86 0F 43 00 02 00 00 00 00 02 00 00 00 00 00 00 00") == 0x6A80,
          "CREATE template 62 refused (the driver sends 6F)");
    check(send_hex("00 E0 00 00 1F 6F 1D 80 02 00 10 82 02 01 00 83 02 A0 01"
                   " 86 0F 43 00 02 00 00 00 00 02 00 00 00 00 00 00 00") == 0x9000,
          "CREATE EF A001 (16 bytes)");
    check(send_hex("00 D6 00 04 04 DE AD BE EF") == 0x9000, "UPDATE BINARY");
    check(send_hex("00 D6 00 0E 04 01 02 03 04") == 0x6A84, "UPDATE past the end");
    check(send_hex("00 B0 00 00 00") == 0x9000 && resp_len == 18 &&
          memcmp(resp + 4, "\xDE\xAD\xBE\xEF", 4) == 0, "READ BINARY whole file");
    check(send_hex("00 B0 00 06 02") == 0x9000 && resp_len == 4 && resp[0] == 0xBE,
          "READ BINARY at an offset");
    check(send_hex("00 B0 00 10 01") == 0x6B00, "READ at the end: 6B 00");
    send_hex("00 A4 00 00 02 3F 00 00");
    check(send_hex("00 E0 00 00 1F 6F 1D 80 02 00 10 82 02 01 00 83 02 A0 01"
                   " 86 0F 43 00 02 00 00 00 00 02 00 00 00 00 00 00 00") == 0x6A89,
          "CREATE existing FID: 6A 89");
    check(send_hex("00 E0 00 00 1F 6F 1D 80 02 FF F0 82 02 01 00 83 02 A0 02"
                   " 86 0F 43 00 02 00 00 00 00 02 00 00 00 00 00 00 00") == 0x6A84,
          "CREATE beyond the card memory: 6A 84");
    send_hex("80 40 00 00");
    check(send_hex("00 E4 00 00 02 A0 01") == 0x6982, "DELETE after logout: 69 82");
    send_hex("00 20 00 02 08 31 32 33 34 35 36 37 38");
    check(send_hex("00 E4 00 00 02 A0 01") == 0x9000, "DELETE");
    check(send_hex("00 A4 00 00 02 A0 01 00") == 0x6A82, "deleted file is gone");
    check(send_hex("00 E4 00 00 02 10 00") == 0x6985, "non-empty DF not deleted");
}

static void test_opensc_layout(void)
{
    struct kt_factory fc;

    kt_file_free(kt.mf);
    kt_factory_defaults(&fc);
    fc.layout = KT_LAYOUT_OPENSC;
    kt.mf = kt_factory_card(&fc);
    kt_power(&kt);
    check(send_hex("00 A4 08 00 04 50 00 50 32 00") == 0x9000, "--layout opensc: TokenInfo 5000/5032");
    check(send_hex("00 B0 00 00 00") == 0x9000 && resp_len == 130 && resp[0] == 0 && resp[127] == 0,
          "--layout opensc: 128 zero bytes");
    check(send_hex("00 A4 08 00 06 10 00 10 01 80 02 00") == 0x9000, "--layout opensc: 1000/1001/8002");
    check(send_hex("00 A4 08 00 02 2F 00 00") == 0x9000, "--layout opensc: EF.DIR");
    fc.layout = KT_LAYOUT_BARE;
    kt_file_free(kt.mf);
    kt.mf = kt_factory_card(&fc);
    kt_power(&kt);
    check(send_hex("00 A4 08 00 02 10 00 00") == 0x6A82, "--layout bare: no system DF");
    check(send_hex("00 20 00 02") == 0x63C5, "--layout bare: the PINs are there");
}

/* ---- PINs ------------------------------------------------------------------- */

static void test_pins(void)
{
    int i;
    unsigned sw;

    fresh_card();
    check(send_hex("00 20 00 02") == 0x63C5, "user PIN status: 5 tries");
    for (i = 4; i >= 0; i--) {
        sw = send_hex("00 20 00 02 08 30 30 30 30 30 30 30 30");
        check(sw == (0x63C0u | (unsigned)i), "wrong PIN -> 63 C%d (got %04X)", i, sw);
    }
    check(send_hex("00 20 00 02 08 31 32 33 34 35 36 37 38") == 0x6983,
          "blocked: the right PIN gets 69 83");
    check(send_hex("00 20 00 02") == 0x6983, "blocked: status 69 83");
    check(send_hex("00 2C 03 02") == 0x6982, "unblock without SO: 69 82");
    check(send_hex("00 20 00 01 08 38 37 36 35 34 33 32 31") == 0x9000, "SO login");
    check(send_hex("00 2C 03 02") == 0x9000, "unblock by SO");
    check(send_hex("00 2C 03 01") == 0x6982, "the SO PIN is never unblocked");
    check(send_hex("00 20 00 02") == 0x63C5, "tries restored");
    check(send_hex("00 20 00 02 08 31 32 33 34 35 36 37 38") == 0x9000, "user login");
    check(send_hex("00 20 00 02") == 0x9000, "status when verified: 90 00");

    /* New user PIN through a chain whose every chunk starts with A5. */
    check(send_hex("10 24 01 02 0A 80 02 00 08 A5 04 31 31 31 31") == 0x9000, "chain part 1");
    check(send_hex("00 24 01 02 06 A5 04 32 32 32 32") == 0x9000, "CHANGE REFERENCE DATA");
    check(send_hex("00 20 00 02 08 31 32 33 34 35 36 37 38") == 0x63C4, "old PIN refused");
    check(send_hex("00 20 00 02 08 31 31 31 31 32 32 32 32") == 0x9000, "new PIN accepted");
    check(send_hex("00 24 01 02 0A 80 02 00 04 A5 04 31 32 33 34") == 0x6A80,
          "PIN below the minimum length");
    check(send_hex("00 24 01 02 0A 80 02 00 09 A5 04 31 32 33 34") == 0x6A80,
          "declared length does not match");
    send_hex("80 40 00 00");
    check(send_hex("00 24 01 02 0E 80 02 00 08 A5 08 31 32 33 34 35 36 37 38") == 0x6982,
          "change without login: 69 82");
    check(send_hex("00 20 00 07 04 31 32 33 34") == 0x6A88, "no PIN 07: 6A 88");

    kt.verify_6300 = 1;
    check(send_hex("00 20 00 02 08 30 30 30 30 30 30 30 30") == 0x6300, "--verify-6300");
    check(send_hex("00 20 00 02") == 0x63C4, "then the status query gives the count");
    kt.verify_6300 = 0;

    /* Power cycle: logins are volatile, counters are not. */
    send_hex("00 20 00 02 08 31 31 31 31 32 32 32 32");
    kt_power(&kt);
    check(send_hex("00 20 00 02") == 0x63C5, "power cycle logs out");
}

/* ---- RSA ---------------------------------------------------------------------- */

static const char *rsa_create_priv =
    "00 E0 00 00 27 6F 25 80 02 02 88 82 02 10 00 83 02 00 01 85 06 23 00 00 AA 00 00"
    " 86 0F 46 00 02 02 00 00 00 02 00 00 00 00 00 00 00";
static const char *rsa_create_pub =
    "00 E0 00 00 27 6F 25 80 02 01 80 82 02 10 00 83 02 00 01 85 06 33 00 00 AA 00 00"
    " 86 0F 46 00 02 00 00 00 00 02 00 00 00 00 00 00 00";

static EVP_PKEY *rsa_public(const uint8_t *n_le, size_t L)
{
    uint8_t n_be[512];
    BIGNUM *n, *e;
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *p;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;

    memcpy(n_be, n_le, L);
    reverse(n_be, L);
    n = BN_bin2bn(n_be, (int)L, NULL);
    e = BN_new();
    BN_set_word(e, 65537);
    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e);
    p = OSSL_PARAM_BLD_to_param(b);
    if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, p) != 1)
        pkey = NULL;
    OSSL_PARAM_free(p);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* Raw public operation (no padding), big-endian in and out. */
static int rsa_raw_public(EVP_PKEY *pkey, const uint8_t *in, uint8_t *out, size_t L)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    size_t outlen = L;
    int ok = ctx && EVP_PKEY_encrypt_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
             EVP_PKEY_encrypt(ctx, out, &outlen, in, L) == 1 && outlen == L;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void test_rsa(void)
{
    uint8_t modulus[256], block[256], sig[256], expect[256], plain[256], crypt[256];
    EVP_PKEY *pub;
    size_t i;

    fresh_card();
    send_hex("00 20 00 02 08 31 32 33 34 35 36 37 38");
    check(send_hex(rsa_create_priv) == 0x9000, "CREATE RSA private RSF (2048)");
    check(send_hex(rsa_create_pub) == 0x9000, "CREATE RSA public RSF, same FID");
    check(send_hex("00 A4 08 00 08 10 00 10 00 60 02 00 01 00") == 0x9000,
          "the private part was filed into PrKey-DF");
    check(send_hex("00 A4 08 00 08 10 00 10 00 60 01 00 01 00") == 0x9000,
          "the public part was filed into PuKey-DF");
    check(send_hex("00 46 80 01 08 A6 06 94 04 01 00 01 00 00") == 0x9000 && resp_len == 258,
          "GENERATE RSA-2048: 256-byte modulus");
    memcpy(modulus, resp, 256);
    check(modulus[255] & 0x80, "modulus is little-endian (top bit in the last byte)");
    pub = rsa_public(modulus, 256);
    check(pub != NULL, "modulus + 65537 is an RSA key");
    if (!pub)
        return;

    check(send_hex("00 2A 9E 9A 01 00 00") == 0x6985, "PSO before MSE: 69 85");
    check(send_hex("00 22 41 B6 06 81 02 60 02 84 01 01") == 0x6A80,
          "MSE with a file reference refused");
    check(send_hex("00 22 41 B6 03 84 01 09") == 0x6A88, "MSE unknown key: 6A 88");
    check(send_hex("00 22 41 B6 03 84 01 01") == 0x9000, "MSE sign key 01");

    /* A PKCS#1 type 1 block, sent reversed in a 255 + 1 chain. */
    memset(block, 0xFF, sizeof block);
    block[0] = 0x00;
    block[1] = 0x01;
    block[200] = 0x00;
    RAND_bytes(block + 201, 55);
    memcpy(sig, block, 256);
    reverse(sig, 256);
    check(send_chained(0x2A, 0x9E, 0x9A, sig, 256, 1) == 0x9000 && resp_len == 258,
          "PSO sign 256 bytes chained");
    memcpy(sig, resp, 256);
    reverse(sig, 256);
    check(rsa_raw_public(pub, sig, expect, 256) && memcmp(expect, block, 256) == 0,
          "signature^e mod n gives back the block");

    /* Without Le the answer waits for GET RESPONSE (61 00 = 256). */
    memcpy(sig, block, 256);
    reverse(sig, 256);
    check(send_chained(0x2A, 0x9E, 0x9A, sig, 256, 0) == 0x6100, "no Le: 61 00");
    check(send_hex("00 C0 00 00 00") == 0x9000 && resp_len == 258, "GET RESPONSE 256");

    /* Decipher: raw RSA of a random value below n. */
    RAND_bytes(plain, sizeof plain);
    plain[0] = 0x00;
    check(rsa_raw_public(pub, plain, crypt, 256), "encrypt with the public key");
    reverse(crypt, 256);
    check(send_hex("00 22 41 B8 03 84 01 01") == 0x9000, "MSE decipher key 01");
    check(send_chained(0x2A, 0x80, 0x86, crypt, 256, 1) == 0x9000 && resp_len == 258,
          "PSO decipher");
    memcpy(expect, resp, 256);
    reverse(expect, 256);
    check(memcmp(expect, plain, 256) == 0, "deciphered value matches");

    for (i = 0; i < 256; i++)
        sig[i] = 0xFF;
    check(send_chained(0x2A, 0x9E, 0x9A, sig, 256, 1) == 0x6A80, "input >= n: 6A 80");

    send_hex("80 40 00 00");
    check(send_chained(0x2A, 0x9E, 0x9A, sig, 100, 1) == 0x6982, "PSO after logout: 69 82");
    EVP_PKEY_free(pub);
}

/* ---- GOST ---------------------------------------------------------------------- */

static void test_gost(void)
{
    static const char *const names[] = { "CryptoPro-A", "CryptoPro-B", "CryptoPro-C" };
    static const char prop_byte[] = { 0x20, 0x30, 0x40 };
    int k;

    fresh_card();
    send_hex("00 20 00 02 08 31 32 33 34 35 36 37 38");
    for (k = 0; k < 3; k++) {
        const kz_gost_curve *c = kz_gost_curve_by_name(names[k]);
        char cmd[256];
        uint8_t pub[64], hash[32], sig[64];

        snprintf(cmd, sizeof cmd,
                 "00 E0 00 00 27 6F 25 80 02 00 20 82 02 10 00 83 02 00 1%d 85 06 03 %02X 00 AA 00 00"
                 " 86 0F 46 00 02 02 00 00 00 02 00 00 00 00 00 00 00", k, prop_byte[k]);
        check(send_hex(cmd) == 0x9000, "CREATE GOST private RSF (%s)", names[k]);
        snprintf(cmd, sizeof cmd,
                 "00 E0 00 00 27 6F 25 80 02 00 40 82 02 10 00 83 02 00 1%d 85 06 13 %02X 00 AA 00 00"
                 " 86 0F 46 00 02 00 00 00 00 02 00 00 00 00 00 00 00", k, prop_byte[k]);
        check(send_hex(cmd) == 0x9000, "CREATE GOST public RSF (%s)", names[k]);
        snprintf(cmd, sizeof cmd, "00 46 80 1%d 00", k);
        check(send_hex(cmd) == 0x9000 && resp_len == 66, "GENERATE GOST (%s)", names[k]);
        memcpy(pub, resp, 64);
        check(c && kz_gost3410_pub_check(c, pub, 64), "public key X||Y LE is on %s", names[k]);

        snprintf(cmd, sizeof cmd, "00 22 41 B6 03 84 01 1%d", k);
        check(send_hex(cmd) == 0x9000, "MSE GOST key");
        RAND_bytes(hash, sizeof hash);
        {
            uint8_t hdr[4] = { 0x00, 0x2A, 0x9E, 0x9A };
            check(send_bytes(hdr, 4, hash, 32, 1, 0) == 0x9000 && resp_len == 66,
                  "PSO GOST sign");
        }
        memcpy(sig, resp, 64);
        reverse(sig, 64);
        check(c && kz_gost3410_verify(c, pub, 64, hash, 32, sig, 64) == 1,
              "reversed card signature verifies as s||r (%s)", names[k]);
        snprintf(cmd, sizeof cmd, "00 22 41 B8 03 84 01 1%d", k);
        send_hex(cmd);
        {
            uint8_t hdr[4] = { 0x00, 0x2A, 0x80, 0x86 };
            check(send_bytes(hdr, 4, hash, 32, 1, 0) == 0x6985, "no GOST decipher");
        }
    }
    check(send_hex("00 E0 00 00 27 6F 25 80 02 00 20 82 02 10 00 83 02 00 30 85 06 03 50 00 AA 00 00"
                   " 86 0F 46 00 02 02 00 00 00 02 00 00 00 00 00 00 00") == 0x9000,
          "CREATE GOST RSF with an unknown paramset");
    check(send_hex("00 46 80 30 00") == 0x6A80, "GENERATE with paramset 50: 6A 80");
}

/* ---- state file, GET CHALLENGE / DATA, fuzz ------------------------------------------ */

static char *save_string(const struct kt_file *mf)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    kt_save(mf, f);
    fclose(f);
    return buf;
}

static void test_state_and_misc(void)
{
    char *a, *b;
    FILE *f;
    struct kt_file *copy;
    struct fuzz fz1, fz2;
    uint8_t r1[4096], r2[4096];
    int i, same = 1, nonempty = 1;

    fresh_card();
    send_hex("00 20 00 02 08 31 32 33 34 35 36 37 38");
    send_hex(rsa_create_priv);
    send_hex(rsa_create_pub);
    send_hex("00 46 80 01 00");
    send_hex("00 20 00 01 08 30 30 30 30 30 30 30 30");
    a = save_string(kt.mf);
    f = fmemopen(a, strlen(a), "r");
    copy = kt_load(f);
    fclose(f);
    check(copy != NULL, "state file loads");
    if (copy) {
        b = save_string(copy);
        check(strcmp(a, b) == 0, "state round trip is exact");
        free(b);
        kt_file_free(copy);
    }
    check(strstr(a, "3F000001 R 1000 8 010801AA0000") != NULL && strstr(a, " 9 1 ") != NULL,
          "SO tries (9 after one wrong PIN) are in the state");
    free(a);

    check(send_hex("00 84 00 00 08") == 0x9000 && resp_len == 10, "GET CHALLENGE 8");
    check(send_hex("00 84 00 00") == 0x6700, "GET CHALLENGE without Le");
    check(send_hex("00 CA 01 81 00") == 0x9000 && resp_len == 6, "GET DATA serial");
    check(send_hex("00 CA 01 82 00") == 0x6A88, "other GET DATA tags: 6A 88");

    fuzz_init(&fz1, 42);
    fuzz_init(&fz2, 42);
    for (i = 0; i < 100000; i++) {
        size_t n1 = 2, n2 = 2;
        r1[0] = r2[0] = 0x90;
        r1[1] = r2[1] = 0x00;
        fuzz_mutate(&fz1, r1, &n1, sizeof r1);
        fuzz_mutate(&fz2, r2, &n2, sizeof r2);
        if (n1 == 0)
            nonempty = 0;
        if (n1 != n2 || memcmp(r1, r2, n1))
            same = 0;
    }
    check(nonempty, "fuzz never answers with 0 bytes (vpcd would eject the card)");
    check(same, "fuzz is deterministic for a seed");
}

static void fresh_card(void)
{
    struct kt_factory fc;

    kt_file_free(kt.mf);
    memset(&kt, 0, sizeof kt);
    kt.memory = 65536;
    kt.serial_len = 4;
    kt_factory_defaults(&fc);
    kt.mf = kt_factory_card(&fc);
    kt_power(&kt);
}

int main(void)
{
    test_framing();
    test_select_and_files();
    test_opensc_layout();
    test_pins();
    test_rsa();
    test_gost();
    test_state_and_misc();
    kt_file_free(kt.mf);
    kz_gost3410_cleanup();
    kz_gost_curves_cleanup();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
