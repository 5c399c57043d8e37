#!/bin/sh
# kzp11 behind OpenSSL's pkcs11 engine (libp11, Debian package
# libengine-pkcs11-openssl): openssl dgst/pkeyutl/req with token keys
# addressed by PKCS#11 URIs, checked with the certificate's public key.

kz_here=$(dirname "$0")
if [ -f "$kz_here/common.sh" ]; then
    . "$kz_here/common.sh"
elif [ -n "${KZP11_SRCDIR:-}" ] && [ -f "$KZP11_SRCDIR/tests/integration/common.sh" ]; then
    . "$KZP11_SRCDIR/tests/integration/common.sh"
else
    echo "FAIL: cannot find tests/integration/common.sh" >&2
    exit 1
fi

T=$KZ_TMP
KZP11_KEYSTORE=$KZ_KEYSTORE
export KZP11_KEYSTORE

# Where this OpenSSL looks for engines.
ENGINESDIR=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
ENGINE_SO=$ENGINESDIR/pkcs11.so
[ -n "$ENGINESDIR" ] && [ -f "$ENGINE_SO" ] ||
    fail "the OpenSSL pkcs11 engine ($ENGINE_SO) is not installed (Debian package libengine-pkcs11-openssl)"

cat >"$T/openssl.cnf" <<EOF
openssl_conf = kz_openssl_init

[kz_openssl_init]
engines = kz_engines

[kz_engines]
pkcs11 = kz_pkcs11

[kz_pkcs11]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $KZP11_MODULE
init = 0
EOF
OPENSSL_CONF=$T/openssl.cnf
export OPENSSL_CONF

# uri LABEL HEX PIN: a URI of the private key by token label and object label.
uri() {
    printf 'pkcs11:token=%s;object=%s;type=private?pin-value=%s' "$1" "$2" "$3"
}
# uri_id LABEL HEX PIN: the same key by CKA_ID (percent-encoded bytes).
uri_id() {
    printf 'pkcs11:token=%s;id=%s;type=private?pin-value=%s' "$1" \
        "$(printf '%s' "$2" | sed 's/\(..\)/%\1/g')" "$3"
}

printf 'Data signed through the OpenSSL pkcs11 engine.\n' >"$T/data"
printf 'Data signed through the OpenSSL pkcs11 engine?\n' >"$T/data.tampered"
openssl dgst -sha256 -binary "$T/data" >"$T/data.sha256"

# ---------------------------------------------------------------------------
note "openssl dgst -sign with the engine key (object= URI)"
kz_ok "$T/sign.out" "openssl dgst -sign (engine)" openssl dgst -sha256 -engine pkcs11 -keyform engine \
    -sign "$(uri "$SIGN_LABEL" "$SIGN_HEX" "$KZ_PIN")" -out "$T/sig" "$T/data"
assert_eq "$(kz_size "$T/sig")" 256 "signature length"
kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/sig" sha256
kz_verify_dgst_fails "$SIGN_PUB" "$T/data.tampered" "$T/sig" sha256
# PKCS#1 v1.5 is deterministic: the same key must give the same bytes again.
kz_ok "$T/sign.out" "openssl dgst -sign (engine, id= URI)" openssl dgst -sha256 -engine pkcs11 \
    -keyform engine -sign "$(uri_id "$SIGN_LABEL" "$SIGN_HEX" "$KZ_PIN")" -out "$T/sig.id" "$T/data"
assert_same_file "$T/sig.id" "$T/sig" "signature by id= URI vs object= URI"
ok "SHA256withRSA by the engine verifies against the certificate"

note "other hashes and the AUTH key"
for alg in sha1 sha384 sha512; do
    kz_ok "$T/sign.out" "openssl dgst -$alg -sign (engine)" openssl dgst "-$alg" -engine pkcs11 \
        -keyform engine -sign "$(uri "$SIGN_LABEL" "$SIGN_HEX" "$KZ_PIN")" -out "$T/sig.$alg" "$T/data"
    kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/sig.$alg" "$alg"
done
kz_ok "$T/sign.out" "openssl dgst -sign with the AUTH key" openssl dgst -sha256 -engine pkcs11 \
    -keyform engine -sign "$(uri "$AUTH_LABEL" "$AUTH_HEX" "$KZ_PIN")" -out "$T/sig.auth" "$T/data"
kz_verify_dgst "$AUTH_PUB" "$T/data" "$T/sig.auth" sha256
ok "SHA-1/384/512 and the AUTH key"

# ---------------------------------------------------------------------------
note "RSA-PSS through the engine (pkeyutl over a SHA-256 digest)"
kz_ok "$T/pss.out" "openssl pkeyutl -sign PSS (engine)" openssl pkeyutl -engine pkcs11 -keyform engine \
    -sign -inkey "$(uri "$SIGN_LABEL" "$SIGN_HEX" "$KZ_PIN")" -in "$T/data.sha256" -out "$T/sig.pss" \
    -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
kz_verify_pkeyutl "$SIGN_PUB" "$T/data.sha256" "$T/sig.pss" digest:sha256 rsa_padding_mode:pss \
    rsa_pss_saltlen:32
kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/sig.pss" sha256 rsa_padding_mode:pss rsa_pss_saltlen:32
ok "PSS signature verifies"

# ---------------------------------------------------------------------------
note "RSA decryption through the engine with the AUTH key"
head -c 64 /dev/urandom >"$T/plain" || fail "cannot read /dev/urandom"
openssl pkeyutl -encrypt -pubin -inkey "$AUTH_PUB" -in "$T/plain" -out "$T/ct" \
    -pkeyopt rsa_padding_mode:pkcs1 || fail "openssl could not encrypt"
kz_ok "$T/dec.out" "openssl pkeyutl -decrypt (engine)" openssl pkeyutl -engine pkcs11 -keyform engine \
    -decrypt -inkey "$(uri "$AUTH_LABEL" "$AUTH_HEX" "$KZ_PIN")" -in "$T/ct" -out "$T/plain.dec" \
    -pkeyopt rsa_padding_mode:pkcs1
assert_same_file "$T/plain.dec" "$T/plain" "plaintext decrypted through the engine"
ok "PKCS#1 v1.5 decryption through the engine"

# ---------------------------------------------------------------------------
note "certificate request signed with the engine key"
kz_ok "$T/req.out" "openssl req -new (engine)" openssl req -new -engine pkcs11 -keyform engine \
    -key "$(uri "$SIGN_LABEL" "$SIGN_HEX" "$KZ_PIN")" -subj "/CN=kzp11 engine test" -sha256 \
    -out "$T/req.pem"
kz_ok "$T/reqv.out" "openssl req -verify" openssl req -in "$T/req.pem" -verify -noout
assert_grep "$T/reqv.out" 'verify OK' "the CSR signed through the engine does not verify"
openssl req -in "$T/req.pem" -noout -pubkey | openssl pkey -pubin -outform DER -out "$T/req.pub.der" ||
    fail "no public key in the CSR"
assert_same_file "$T/req.pub.der" "$SIGN_PUB_DER" "public key in the CSR"
ok "CSR signed through the engine verifies"

# ---------------------------------------------------------------------------
note "wrong PIN in the URI"
rm -f "$T/sig.bad"
kz_fails "$T/bad.out" "openssl dgst -sign with a wrong PIN" openssl dgst -sha256 -engine pkcs11 \
    -keyform engine -sign "$(uri "$SIGN_LABEL" "$SIGN_HEX" "$KZ_WRONG_PIN")" -out "$T/sig.bad" "$T/data"
if [ -s "$T/sig.bad" ]; then fail "a signature was written with a wrong PIN"; fi
ok "no signature with a wrong PIN"

echo "PASS: $KZ_TEST_NAME"
exit 0
