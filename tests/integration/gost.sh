#!/bin/sh
# GOST through real consumers: every NCA GOST 2015 container signs with
# pkcs11-tool (CKM_GOSTR3410_WITH_GOSTR3411_12_512, 0xD4321009) and the
# signature verifies with OpenSSL's gost engine, using the certificate's
# public key re-labelled with the TC26 OIDs (the engine does not know the
# Kazakh ones). The GOSTKNCA (GOST 34.310-2004) container signs with
# CKM_GOSTR3410_WITH_GOSTR3411 and pkcs11-tool's verify accepts it.
. "$(dirname "$0")/common.sh"

need_tool pkcs11-tool opensc
GOST_DIR=${KZP11_SHARED:-}/fixtures/nca/gost2015
KNCA_DIR=${KZP11_SHARED:-}/fixtures/nca/gost2004-organization
ls "$GOST_DIR"/GOST512_*.p12 >/dev/null 2>&1 || fail "no GOST 2015 fixtures in '$GOST_DIR'"
ls "$KNCA_DIR"/GOSTKNCA_*.p12 >/dev/null 2>&1 || fail "no GOSTKNCA fixture in '$KNCA_DIR'"
openssl engine gost >/dev/null 2>&1 || fail "OpenSSL gost engine missing (Debian libengine-gost-openssl)"

# Copies: nothing here writes, but nothing may ever write to the fixtures.
mkdir -p "$KZ_TMP/gost" "$KZ_TMP/knca"
cp "$GOST_DIR"/*.p12 "$KZ_TMP/gost/" && cp "$KNCA_DIR"/*.p12 "$KZ_TMP/knca/" || fail "cannot copy the GOST fixtures"
export KZP11_KEYSTORE="$KZ_TMP/gost:$KZ_TMP/knca"
p11() {
    pkcs11-tool --module "$KZP11_MODULE" "$@"
}

printf 'The document to sign, GOST 2015 edition.\n' >"$KZ_TMP/data"
cp "$KZ_TMP/data" "$KZ_TMP/data.bad"
printf 'x' >>"$KZ_TMP/data.bad"

n=0
for p12 in "$GOST_DIR"/GOST512_*.p12; do
    base=$(basename "$p12" .p12)
    label=$(printf '%s' "$base" | cut -c1-32)
    id=${base##*_}
    note "$base"
    kz_ok "$KZ_TMP/objs" "list objects" p11 --token-label "$label" --login --pin "$KZ_PIN" -O
    assert_grep "$KZ_TMP/objs" "Private Key Object; GOSTR3410-2012-512" "$base: a GOST 512 private key"
    assert_grep "$KZ_TMP/objs" "Public Key Object; GOSTR3410-2012-512" "$base: its public key"
    assert_grep "$KZ_TMP/objs" "PARAMS OID: *06092a8503070102010201" "$base: curve reported as TC26-512-A"
    [ "$(grep -c "ID: *$id" "$KZ_TMP/objs")" -eq 3 ] || { kz_show "$KZ_TMP/objs"; fail "$base: certificate and keys must share CKA_ID $id"; }

    kz_ok "$KZ_TMP/sign.out" "sign" p11 --token-label "$label" --login --pin "$KZ_PIN" \
        --sign -m 0xD4321009 -i "$KZ_TMP/data" -o "$KZ_TMP/sig"
    [ "$(kz_size "$KZ_TMP/sig")" -eq 128 ] || fail "$base: a GOST 512 signature is 128 bytes"
    kz_ok "$KZ_TMP/cert.out" "read the certificate" p11 --token-label "$label" --login --pin "$KZ_PIN" \
        --read-object --type cert --id "$id" -o "$KZ_TMP/cert.der"
    tc26_pubkey "$KZ_TMP/cert.der" "$KZ_TMP/pub.pem"
    kz_ok "$KZ_TMP/v.out" "engine verify" openssl dgst -engine gost -md_gost12_512 \
        -verify "$KZ_TMP/pub.pem" -signature "$KZ_TMP/sig" "$KZ_TMP/data"
    assert_grep "$KZ_TMP/v.out" "^Verified OK" "$base: the gost engine verifies kzp11's signature"
    kz_fails "$KZ_TMP/v.out" "engine verify of other data" openssl dgst -engine gost -md_gost12_512 \
        -verify "$KZ_TMP/pub.pem" -signature "$KZ_TMP/sig" "$KZ_TMP/data.bad"
    n=$((n + 1))
done
[ "$n" -eq 6 ] || fail "expected 6 GOST 2015 containers, signed with $n"
ok "$n GOST 2015 containers sign; the gost engine verifies every signature"

# GOST 34.310-2004: hash GOST 34.311-95 (= 34.11-94, test parameters).
knca=$(basename "$KNCA_DIR"/GOSTKNCA_*.p12 .p12)
label=$(printf '%s' "$knca" | cut -c1-32)
id=${knca##*_}
kz_ok "$KZ_TMP/objs" "list objects" p11 --token-label "$label" --login --pin "$KZ_PIN" -O
# pkcs11-tool names only TC26 curves; CryptoPro-A (06072a850302022301) shows as "unknown".
assert_grep "$KZ_TMP/objs" "Private Key Object; .*GOSTR3410" "GOSTKNCA: a GOST private key"
assert_grep "$KZ_TMP/objs" "PARAMS OID: *06072a850302022301" "GOSTKNCA: curve reported as CryptoPro-A"
kz_ok "$KZ_TMP/sign.out" "GOSTKNCA sign" p11 --token-label "$label" --login --pin "$KZ_PIN" \
    --sign -m GOSTR3410-WITH-GOSTR3411 -i "$KZ_TMP/data" -o "$KZ_TMP/sig"
[ "$(kz_size "$KZ_TMP/sig")" -eq 64 ] || fail "GOSTKNCA: a GOST 256 signature is 64 bytes"
kz_ok "$KZ_TMP/v.out" "GOSTKNCA verify" p11 --token-label "$label" --login --pin "$KZ_PIN" \
    --verify -m GOSTR3410-WITH-GOSTR3411 --id "$id" -i "$KZ_TMP/data" --signature-file "$KZ_TMP/sig"
assert_grep "$KZ_TMP/v.out" "Signature is valid" "GOSTKNCA: the signature verifies"
# pkcs11-tool --verify exits 0 either way: its message is the verdict.
kz_run "$KZ_TMP/v.out" p11 --token-label "$label" --login --pin "$KZ_PIN" \
    --verify -m GOSTR3410-WITH-GOSTR3411 --id "$id" -i "$KZ_TMP/data.bad" --signature-file "$KZ_TMP/sig" || true
assert_grep "$KZ_TMP/v.out" "Invalid signature" "GOSTKNCA: a signature over other data is refused"
assert_no_grep "$KZ_TMP/v.out" "Signature is valid" "GOSTKNCA: a signature over other data is refused"
kz_fails "$KZ_TMP/bad.out" "GOSTKNCA wrong password" p11 --token-label "$label" --login --pin "$KZ_WRONG_PIN" -O
assert_grep "$KZ_TMP/bad.out" "CKR_PIN_INCORRECT" "GOSTKNCA: a wrong password is CKR_PIN_INCORRECT"
ok "GOSTKNCA signs with CKM_GOSTR3410_WITH_GOSTR3411 and verifies"
