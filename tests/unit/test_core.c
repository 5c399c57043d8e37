/* Unit tests of core pieces below the front end: configuration, attribute
 * sets, handle tables and the soft token's naming rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attribute.h"
#include "configuration.h"
#include "handle_table.h"
#include "nca_names.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_config_file(void **state)
{
    char path[] = "/tmp/kzp11-conf-XXXXXX";
    int fd = mkstemp(path);
    kz_config cfg = { 0 };

    assert_true(fd >= 0);
    close(fd);
    write_file(path, "# comment\n\n keystore = /a/b : /c \nlog_file=/tmp/x.log\nbogus line\nunknown = 1\nkeystore=/d\n");
    assert_int_equal(kz_config_parse_file(&cfg, path), 0);
    assert_int_equal(cfg.n_keystore_dirs, 3);
    assert_string_equal(cfg.keystore_dirs[0], "/a/b");
    assert_string_equal(cfg.keystore_dirs[1], "/c");
    assert_string_equal(cfg.keystore_dirs[2], "/d");
    assert_string_equal(cfg.log_file, "/tmp/x.log");
    kz_config_free(&cfg);
    assert_int_equal(kz_config_parse_file(&cfg, "/nonexistent/kzp11.conf"), -1);
    unlink(path);
}

static void test_config_precedence(void **state)
{
    char path[] = "/tmp/kzp11-conf-XXXXXX";
    int fd = mkstemp(path);
    kz_config cfg;

    assert_true(fd >= 0);
    close(fd);
    write_file(path, "keystore = ~/nca\nlog_file = /tmp/l\n");
    setenv("HOME", "/home/tester", 1);
    setenv("KZP11_CONF", path, 1);
    unsetenv("KZP11_KEYSTORE");
    assert_int_equal(kz_config_load(&cfg), 0);
    assert_int_equal(cfg.n_keystore_dirs, 1);
    assert_string_equal(cfg.keystore_dirs[0], "/home/tester/nca");
    kz_config_free(&cfg);

    /* The variable replaces the folders but keeps the rest of the file. */
    setenv("KZP11_KEYSTORE", "/x:/y", 1);
    assert_int_equal(kz_config_load(&cfg), 0);
    assert_int_equal(cfg.n_keystore_dirs, 2);
    assert_string_equal(cfg.keystore_dirs[1], "/y");
    assert_string_equal(cfg.log_file, "/tmp/l");
    kz_config_free(&cfg);

    /* Nothing configured: the default data folder. */
    unsetenv("KZP11_KEYSTORE");
    setenv("KZP11_CONF", "/nonexistent/conf", 1);
    unsetenv("XDG_DATA_HOME");
    assert_int_equal(kz_config_load(&cfg), 0);
    assert_int_equal(cfg.n_keystore_dirs, 1);
    assert_string_equal(cfg.keystore_dirs[0], "/home/tester/.local/share/kzp11/keys");
    kz_config_free(&cfg);
    setenv("XDG_DATA_HOME", "/data", 1);
    assert_int_equal(kz_config_load(&cfg), 0);
    assert_string_equal(cfg.keystore_dirs[0], "/data/kzp11/keys");
    kz_config_free(&cfg);
    unsetenv("KZP11_CONF");
    unsetenv("XDG_DATA_HOME");
    unlink(path);
}

static void test_attrs(void **state)
{
    kz_attrs a = { 0 };
    CK_BBOOL t = CK_TRUE;
    CK_ULONG cls = CKO_CERTIFICATE, got_cls = 0;
    unsigned char buf[8];
    static const CK_ATTRIBUTE_TYPE secret[] = { CKA_VALUE };
    CK_ATTRIBUTE out[] = {
        { CKA_CLASS, &got_cls, sizeof(got_cls) },
        { CKA_LABEL, NULL, 0 },
        { CKA_ID, buf, 2 },
        { CKA_VALUE, buf, sizeof(buf) },
        { CKA_MODULUS, buf, sizeof(buf) },
    };
    CK_ATTRIBUTE match[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_TOKEN, &t, sizeof(t) } };
    CK_ATTRIBUTE nomatch[] = { { CKA_LABEL, "labex", 5 } };

    assert_int_equal(kz_attrs_set_ulong(&a, CKA_CLASS, cls), CKR_OK);
    assert_int_equal(kz_attrs_set_bool(&a, CKA_TOKEN, CK_TRUE), CKR_OK);
    assert_int_equal(kz_attrs_set(&a, CKA_LABEL, "label", 5), CKR_OK);
    assert_int_equal(kz_attrs_set(&a, CKA_ID, "abcd", 4), CKR_OK);
    assert_int_equal(kz_attrs_set(&a, CKA_VALUE, "s3cr3t", 6), CKR_OK);
    assert_int_equal(kz_attrs_set(&a, CKA_LABEL, "label", 5), CKR_OK);  /* replace, not add */
    assert_int_equal(a.n, 5);
    assert_true(kz_attrs_match(&a, match, 2));
    assert_true(kz_attrs_match(&a, NULL, 0));
    assert_false(kz_attrs_match(&a, nomatch, 1));

    /* Every entry is processed; each failing entry gets CK_UNAVAILABLE_INFORMATION. */
    assert_int_not_equal(kz_attrs_copy_out(&a, secret, 1, out, 5), CKR_OK);
    assert_int_equal(got_cls, CKO_CERTIFICATE);
    assert_int_equal(out[1].ulValueLen, 5);
    assert_int_equal(out[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(out[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(out[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(kz_attrs_copy_out(&a, secret, 1, &out[3], 1), CKR_ATTRIBUTE_SENSITIVE);
    out[4].ulValueLen = sizeof(buf);
    assert_int_equal(kz_attrs_copy_out(&a, secret, 1, &out[4], 1), CKR_ATTRIBUTE_TYPE_INVALID);
    out[2].ulValueLen = 2;
    assert_int_equal(kz_attrs_copy_out(&a, secret, 1, &out[2], 1), CKR_BUFFER_TOO_SMALL);
    kz_attrs_free(&a);
    assert_int_equal(a.n, 0);
}

static void test_template_reading(void **state)
{
    CK_BBOOL b = CK_TRUE, got = CK_FALSE;
    CK_ULONG u = 7, gu = 0;
    CK_ATTRIBUTE t[] = { { CKA_TOKEN, &b, sizeof(b) }, { CKA_CLASS, &u, sizeof(u) },
                         { CKA_PRIVATE, &b, 4 }, { CKA_LABEL, NULL, 3 } };

    assert_int_equal(kz_tmpl_get_bool(t, 4, CKA_TOKEN, &got), CKR_OK);
    assert_true(got);
    assert_int_equal(kz_tmpl_get_ulong(t, 4, CKA_CLASS, &gu), CKR_OK);
    assert_int_equal(gu, 7);
    assert_int_equal(kz_tmpl_get_bool(t, 4, CKA_PRIVATE, &got), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(kz_tmpl_get_bool(t, 4, CKA_SIGN, &got), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(kz_tmpl_check(t, 3), CKR_OK);
    assert_int_equal(kz_tmpl_check(t, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(kz_tmpl_check(NULL, 1), CKR_ARGUMENTS_BAD);
}

static void test_handles(void **state)
{
    kz_handle_table t = { 0 };
    int items[300];
    CK_ULONG h[300], prev = 0;

    for (int i = 0; i < 300; i++) {
        h[i] = kz_handles_add(&t, &items[i]);
        assert_true(h[i] > prev);    /* increasing, never 0 */
        prev = h[i];
    }
    for (int i = 0; i < 300; i += 2)
        assert_ptr_equal(kz_handles_remove(&t, h[i]), &items[i]);
    assert_null(kz_handles_get(&t, h[0]));
    assert_null(kz_handles_remove(&t, h[0]));
    assert_ptr_equal(kz_handles_get(&t, h[1]), &items[1]);
    /* Adding after removals compacts but never reuses a handle. */
    for (int i = 0; i < 300; i++)
        assert_true(kz_handles_add(&t, &items[i]) > prev);
    assert_ptr_equal(kz_handles_get(&t, h[299]), &items[299]);
    assert_null(kz_handles_get(&t, 0));
    kz_handles_free(&t);
    assert_true(kz_handles_add(&t, &items[0]) > prev);   /* counting survives a reset */
    kz_handles_free(&t);
}

static void test_softtoken_names(void **state)
{
    char label[33], serial[17];

    kz_nca_token_names("/x/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12", label, serial);
    assert_string_equal(label, "RSA256_11c707bd54cbfcccb3815e39c");
    assert_string_equal(serial, "11c707bd54cbfccc");
    kz_nca_token_names("/x/AUTH_RSA256_B2C70A9FF7A5DC59DE0CCC3C0DDDE3437CC1F12D.p12", label, serial);
    assert_string_equal(serial, "b2c70a9ff7a5dc59");
    kz_nca_token_names("/x/a:b:c.p12", label, serial);
    assert_string_equal(label, "a_b_c");
    assert_int_equal(strlen(serial), 16);
    /* 31 ASCII bytes then a 2-byte letter: the label must not cut it in half. */
    kz_nca_token_names("/x/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xd0\x96zzz.p12", label, serial);
    assert_int_equal(strlen(label), 31);
    kz_nca_token_names("/x/short.p12", label, serial);
    assert_string_equal(label, "short");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_config_precedence),
        cmocka_unit_test(test_attrs),
        cmocka_unit_test(test_template_reading),
        cmocka_unit_test(test_handles),
        cmocka_unit_test(test_softtoken_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
