#!/bin/sh
# The NCA application flow end to end, on an EMPTY keystore folder, for
# RSA-2048 and GOST 2015-512:
#   free slot -> pkcs11-tool --init-token (a new free slot appears)
#   -> key generation on the token (kzp11-tool keygen; for RSA also a second
#      container keyed by pkcs11-tool --keypairgen)
#   -> kzp11-tool req (PKCS#10 signed on the token)
#   -> a test CA issues the certificate with the NCA's profile
#      (tests/ca/rsa-ca.sh, tests/ca/gost_test_ca)
#   -> kzp11-tool install (and pkcs11-tool --write-object)
#   -> kzp11-tool list shows owner, IIN, BIN, role
#   -> pkcs11-tool signs; the signature verifies against the issued
#      certificate (openssl dgst; for GOST the gost engine)
#   -> pkcs11-tool --change-pin: old password refused, new one works
#   -> the file has its NCA name (prefix + the certificate's SKI) and, for
#      RSA, opens with `openssl pkcs12 -legacy` under the new password with
#      the certificate's key inside.
# The GOST CA's verify mode is first checked on the NCA's own test
# certificates; a short GOST 2015-256 pass checks the 256-bit OIDs and the
# GOST256_ name. Then kzp11-tool's error paths and exit codes.
. "$(dirname "$0")/common.sh"

need_tool pkcs11-tool opensc
openssl engine gost >/dev/null 2>&1 || fail "OpenSSL gost engine missing (Debian libengine-gost-openssl)"

TOOL=$KZP11_BUILDDIR/kzp11-tool/kzp11-tool
GOST_CA=$KZP11_BUILDDIR/tests/ca/gost_test_ca
RSA_CA=$KZP11_SRCDIR/tests/ca/rsa-ca.sh
NCA_CA_DIR=${KZP11_SHARED:-}/fixtures/nca/ca
[ -x "$TOOL" ] || fail "kzp11-tool not built at $TOOL"
[ -x "$GOST_CA" ] || fail "tests/ca/gost_test_ca not built at $GOST_CA (make check builds it)"
[ -f "$RSA_CA" ] || fail "missing $RSA_CA"
[ -f "$NCA_CA_DIR/root_test_gost_2022.cer" ] || fail "no NCA CA fixtures in '$NCA_CA_DIR'"

# Our own folder, empty: not the fixture copy common.sh prepares.
KS=$KZ_TMP/empty-keystore
mkdir "$KS" || fail "mkdir $KS"
KZP11_KEYSTORE=$KS
export KZP11_KEYSTORE
unset KZP11_PIN KZP11_NEW_PIN

# Container passwords (the NCA's rules: Latin upper, lower, digits, >= 8).
PASS1=Start2024kz
PASS2=Changed2025kz
PASS3=Third2026kz
WRONG=Wrong2024kz

# The owner, as the NCA writes it: ТЕСТОВ ТЕСТ ТЕСТОВИЧ, IIN 123456789011.
CN_TEST='ТЕСТОВ ТЕСТ'
SUBJ_PERSON="CN=$CN_TEST,SN=ТЕСТОВ,SERIALNUMBER=IIN123456789011,C=KZ,GN=ТЕСТОВИЧ"
# A legal entity's head; the organisation's name has a comma.
SUBJ_LEGAL="CN=$CN_TEST,SN=ТЕСТОВ,SERIALNUMBER=IIN123456789011,C=KZ,O=ТОО \"Тест\\, Сервис\",OU=BIN123456789021,GN=ТЕСТОВИЧ"

p11() {
    pkcs11-tool --module "$KZP11_MODULE" "$@"
}

kzt() {
    "$TOOL" "$@"
}

printf 'A document signed at the end of the NCA flow.\n' >"$KZ_TMP/data"

# kzt_rc EXPECTED OUT WHAT CMD...: CMD must exit with status EXPECTED.
kzt_rc() {
    kzt_rc_want=$1 kzt_rc_out=$2 kzt_rc_what=$3
    shift 3
    kz_run "$kzt_rc_out" "$@" && kzt_rc_got=0 || kzt_rc_got=$?
    if [ "$kzt_rc_got" -ne "$kzt_rc_want" ]; then
        kz_show "$kzt_rc_out"
        fail "$kzt_rc_what: exit status $kzt_rc_got, expected $kzt_rc_want"
    fi
}

# The slot numbers of free slots ("kzp11 new container in DIR/").
free_slots() {
    p11 -L 2>&1 | sed -n 's/^Slot \([0-9][0-9]*\) (0x[0-9a-fA-F]*): kzp11 new container in .*/\1/p'
}

# one_free_slot: the only free slot's number, in $FREE.
one_free_slot() {
    FREE=$(free_slots)
    [ -n "$FREE" ] || { p11 -L >&2; fail "no free slot for $KS"; }
    [ "$(printf '%s\n' "$FREE" | wc -l)" -eq 1 ] || { p11 -L >&2; fail "more than one free slot: $FREE"; }
}

# ski_of CERT (PEM or DER): lower-case hex of the subject key identifier.
ski_of() {
    ski_form=PEM
    grep -q -- '-----BEGIN' "$1" || ski_form=DER
    openssl x509 -inform "$ski_form" -in "$1" -noout -ext subjectKeyIdentifier 2>/dev/null |
        sed -n 's/^ *\([0-9A-Fa-f:]*\) *$/\1/p' | tr -d ':\n' | tr 'A-F' 'a-f'
}

# new_container LABEL: pkcs11-tool --init-token on the free slot; checks the
# file, the token and that a new free slot appeared. Sets $SLOT.
new_container() {
    one_free_slot
    SLOT=$FREE
    kz_ok "$KZ_TMP/init.out" "init-token $1" p11 --init-token --slot "$SLOT" --label "$1" --so-pin "$PASS1"
    [ -f "$KS/$1.p12" ] || { ls -la "$KS" >&2; fail "C_InitToken did not create $KS/$1.p12"; }
    p11 -L >"$KZ_TMP/slots" 2>&1
    assert_grep "$KZ_TMP/slots" "token label *: $1\$" "the new container shows as token '$1'"
    one_free_slot
    [ "$FREE" != "$SLOT" ] || fail "the free slot $FREE is still the one just initialised"
    ok "container $1 created on slot $SLOT; a new free slot $FREE appeared"
}

# check_pin_change LABEL OLD NEW: the old password is refused, the new works.
check_pin_change() {
    kz_fails "$KZ_TMP/old.out" "$1: login with the old password" \
        p11 --token-label "$1" --login --pin "$2" -O
    assert_grep "$KZ_TMP/old.out" "CKR_PIN_INCORRECT" "$1: the old password is CKR_PIN_INCORRECT"
    kz_ok "$KZ_TMP/new.out" "$1: login with the new password" p11 --token-label "$1" --login --pin "$3" -O
    assert_grep "$KZ_TMP/new.out" "Private Key Object" "$1: the key is still there after the password change"
}

# --- the empty folder -------------------------------------------------------

note "empty keystore folder"
p11 -L >"$KZ_TMP/slots0" 2>&1
assert_no_grep "$KZ_TMP/slots0" "token label" "an empty folder has no token"
one_free_slot
assert_grep "$KZ_TMP/slots0" "token state: *uninitialized" "the free slot's token is uninitialised"
kz_ok "$KZ_TMP/list0" "kzp11-tool list on an empty folder" kzt list
assert_grep "$KZ_TMP/list0" "kzp11 new container in " "list shows the folder's free slot"
assert_grep "$KZ_TMP/list0" "free slot: " "list marks it as free"
ok "an empty folder shows exactly one free slot"

# --- RSA-2048 with kzp11-tool keygen ----------------------------------------

note "RSA-2048: kzp11-tool keygen"
new_container rsa-sign
kz_fails "$KZ_TMP/nologin.out" "keygen without login" \
    p11 --token-label rsa-sign --keypairgen --key-type rsa:2048
assert_grep "$KZ_TMP/nologin.out" "CKR_USER_NOT_LOGGED_IN" "keygen without login is CKR_USER_NOT_LOGGED_IN"
kzt_rc 3 "$KZ_TMP/kg.out" "keygen with a wrong password" env KZP11_PIN="$WRONG" "$TOOL" keygen --token rsa-sign --alg rsa2048
assert_grep "$KZ_TMP/kg.out" "^kzp11-tool: login failed: CKR_PIN_INCORRECT \(wrong password\)$" \
    "a wrong password names CKR_PIN_INCORRECT"
kz_ok "$KZ_TMP/kg.out" "kzp11-tool keygen rsa2048" env KZP11_PIN="$PASS1" "$TOOL" keygen --token rsa-sign --alg rsa2048
assert_grep "$KZ_TMP/kg.out" "Generated a rsa2048 key pair on token 'rsa-sign' \(id [0-9a-f]+\)" "keygen reports the key"
kzt_rc 2 "$KZ_TMP/kg2.out" "a second keygen" env KZP11_PIN="$PASS1" "$TOOL" keygen --token rsa-sign --alg rsa2048
assert_grep "$KZ_TMP/kg2.out" "CKR_DEVICE_MEMORY" "a container holds one key: CKR_DEVICE_MEMORY"
kz_ok "$KZ_TMP/objs" "list objects" p11 --token-label rsa-sign --login --pin "$PASS1" -O
assert_grep "$KZ_TMP/objs" "Private Key Object; RSA" "the RSA private key is on the token"
assert_grep "$KZ_TMP/objs" "Public Key Object; RSA 2048 bits" "and its public key"

echo "$PASS1" >"$KZ_TMP/pin1"
kz_ok "$KZ_TMP/req.out" "kzp11-tool req" kzt req --token rsa-sign --pin-file "$KZ_TMP/pin1" \
    --subject "$SUBJ_PERSON" --out "$KZ_TMP/rsa.req"
kz_ok "$KZ_TMP/reqv.out" "request signature" openssl req -in "$KZ_TMP/rsa.req" -verify -noout
assert_grep "$KZ_TMP/reqv.out" "verify OK" "the request is signed by the token's key"
openssl req -in "$KZ_TMP/rsa.req" -noout -subject -nameopt utf8,sep_comma_plus >"$KZ_TMP/reqs.out" 2>&1
assert_grep "$KZ_TMP/reqs.out" "CN=$CN_TEST,SN=ТЕСТОВ,serialNumber=IIN123456789011,C=KZ,GN=ТЕСТОВИЧ" \
    "the request's subject is the one given, in order"
openssl asn1parse -in "$KZ_TMP/rsa.req" >"$KZ_TMP/reqa.out" 2>&1
assert_grep "$KZ_TMP/reqa.out" "sha256WithRSAEncryption" "RSA requests use sha256WithRSAEncryption"
assert_grep "$KZ_TMP/reqa.out" "PRINTABLESTRING *:IIN123456789011" "SERIALNUMBER is a PrintableString, as the NCA's"
assert_grep "$KZ_TMP/reqa.out" "UTF8STRING *:$CN_TEST" "CN is UTF-8"

kz_ok "$KZ_TMP/ca.out" "RSA CA" sh "$RSA_CA" "$KZ_TMP/rsa-ca" "$KZ_TMP/rsa.req" "$KZ_TMP/rsa.pem"
kz_ok "$KZ_TMP/chain.out" "chain" openssl verify -CAfile "$KZ_TMP/rsa-ca/ca.pem" "$KZ_TMP/rsa.pem"
RSA_SKI=$(ski_of "$KZ_TMP/rsa.pem")
[ "${#RSA_SKI}" -eq 40 ] || fail "issued RSA certificate: SKI '$RSA_SKI'"
RSA_LABEL=$(printf 'RSA256_%s' "$RSA_SKI" | cut -c1-32)

# A certificate for another key, and a file that is no certificate.
kzt_rc 2 "$KZ_TMP/inst.out" "install a foreign certificate" \
    env KZP11_PIN="$PASS1" "$TOOL" install --token rsa-sign "$SIGN_CERT"
assert_grep "$KZ_TMP/inst.out" "installing the certificate failed: CKR_TEMPLATE_INCONSISTENT" \
    "a certificate for another key is CKR_TEMPLATE_INCONSISTENT"
printf 'not a certificate\n' >"$KZ_TMP/junk.cer"
kzt_rc 4 "$KZ_TMP/inst.out" "install junk" env KZP11_PIN="$PASS1" "$TOOL" install --token rsa-sign "$KZ_TMP/junk.cer"
assert_grep "$KZ_TMP/inst.out" "is not a certificate" "junk is refused before the token"
[ -f "$KS/rsa-sign.p12" ] || fail "a refused certificate renamed the container"

kz_ok "$KZ_TMP/inst.out" "kzp11-tool install" env KZP11_PIN="$PASS1" "$TOOL" install --token rsa-sign "$KZ_TMP/rsa.pem"
assert_grep "$KZ_TMP/inst.out" "^Token label: $RSA_LABEL\$" \
    "install prints the new label (same slot, NCA file name RSA256_<SKI>)"
[ -f "$KS/RSA256_$RSA_SKI.p12" ] || { ls -la "$KS" >&2; fail "the container is not named RSA256_$RSA_SKI.p12"; }
[ ! -e "$KS/rsa-sign.p12" ] || fail "the old file rsa-sign.p12 is still there"
kz_ok "$KZ_TMP/objs" "list objects" p11 --token-label "$RSA_LABEL" --login --pin "$PASS1" -O
[ "$(grep -c "ID: *$RSA_SKI" "$KZ_TMP/objs")" -eq 3 ] ||
    { kz_show "$KZ_TMP/objs"; fail "certificate, private and public key must all have CKA_ID = SKI $RSA_SKI"; }

kz_ok "$KZ_TMP/list.out" "kzp11-tool list" env KZP11_PIN="$PASS1" "$TOOL" list --token "$RSA_LABEL"
assert_grep "$KZ_TMP/list.out" "owner: *$CN_TEST\$" "list shows the owner"
assert_grep "$KZ_TMP/list.out" "IIN: *123456789011\$" "list shows the IIN"
assert_grep "$KZ_TMP/list.out" "role: *individual\$" "list shows the role"
assert_grep "$KZ_TMP/list.out" "key usage: *digitalSignature, nonRepudiation\$" "list shows the key usage"
assert_grep "$KZ_TMP/list.out" "ext. key usage: *emailProtection, 1.2.398.3.3.4.1.1\$" "list shows the EKU"
assert_grep "$KZ_TMP/list.out" "its key: *on this token" "list pairs the certificate with its key"

kz_ok "$KZ_TMP/sign.out" "RSA sign" p11 --token-label "$RSA_LABEL" --login --pin "$PASS1" \
    --sign -m SHA256-RSA-PKCS -i "$KZ_TMP/data" -o "$KZ_TMP/rsa.sig"
openssl x509 -in "$KZ_TMP/rsa.pem" -noout -pubkey >"$KZ_TMP/rsa.pub" || fail "public key of the issued certificate"
kz_verify_dgst "$KZ_TMP/rsa.pub" "$KZ_TMP/data" "$KZ_TMP/rsa.sig" sha256

kz_ok "$KZ_TMP/cp.out" "change-pin" p11 --token-label "$RSA_LABEL" --login --pin "$PASS1" \
    --change-pin --new-pin "$PASS2"
check_pin_change "$RSA_LABEL" "$PASS1" "$PASS2"
set -- "$KS"/RSA256_*.p12
[ $# -eq 1 ] || fail "one RSA256_ container expected, found: $*"
RSA_P12=$KS/RSA256_$RSA_SKI.p12
kz_fails "$KZ_TMP/p12.out" "openssl pkcs12 with the old password" \
    openssl pkcs12 -legacy -in "$RSA_P12" -passin "pass:$PASS1" -nodes -noout
kz_ok "$KZ_TMP/p12.out" "openssl pkcs12 -legacy" openssl pkcs12 -legacy -in "$RSA_P12" \
    -passin "pass:$PASS2" -nodes -nocerts -out "$KZ_TMP/rsa.key"
openssl pkey -in "$KZ_TMP/rsa.key" -pubout >"$KZ_TMP/rsa.key.pub" 2>"$KZ_TMP/pkey.err" ||
    { kz_show "$KZ_TMP/pkey.err"; fail "the container's key does not load"; }
assert_same_file "$KZ_TMP/rsa.key.pub" "$KZ_TMP/rsa.pub" "the container's key is the certificate's key"
kz_ok "$KZ_TMP/p12.out" "the container's certificate" openssl pkcs12 -legacy -in "$RSA_P12" \
    -passin "pass:$PASS2" -nokeys -out "$KZ_TMP/p12cert.pem"
openssl x509 -in "$KZ_TMP/p12cert.pem" -outform DER -out "$KZ_TMP/p12cert.der" ||
    fail "the container's certificate to DER"
openssl x509 -in "$KZ_TMP/rsa.pem" -outform DER -out "$KZ_TMP/rsa.der" || fail "certificate to DER"
assert_same_file "$KZ_TMP/p12cert.der" "$KZ_TMP/rsa.der" "the container holds the issued certificate"
# The bag attributes go with the output, not with -info's report.
kz_ok "$KZ_TMP/p12i.out" "pkcs12 -info" openssl pkcs12 -legacy -info -in "$RSA_P12" \
    -passin "pass:$PASS2" -nodes -out "$KZ_TMP/p12i.out"
RSA_SKI_SPACED=$(printf '%s' "$RSA_SKI" | tr 'a-f' 'A-F' | sed 's/\(..\)/\1 /g; s/ $//')
assert_grep "$KZ_TMP/p12i.out" "localKeyID: $RSA_SKI_SPACED" "localKeyID = SKI, as in NCA containers"
assert_grep "$KZ_TMP/p12i.out" "friendlyName: $RSA_SKI\$" "friendlyName = SKI hex, as in NCA containers"
ok "RSA-2048 by kzp11-tool: keygen, req, issue, install, list, sign, change-pin, NCA file"

# --- RSA-2048 keyed by pkcs11-tool, certificate by --write-object ------------

note "RSA-2048: pkcs11-tool --keypairgen and --write-object"
new_container rsa-auth
kz_ok "$KZ_TMP/kg.out" "pkcs11-tool keypairgen" p11 --token-label rsa-auth --login --pin "$PASS1" \
    --keypairgen --key-type rsa:2048
kz_ok "$KZ_TMP/objs" "list objects" p11 --token-label rsa-auth --login --pin "$PASS1" -O
AUTH_KEYID=$(sed -n 's/^ *ID: *\([0-9a-f]*\)$/\1/p' "$KZ_TMP/objs" | head -n 1)
[ -n "$AUTH_KEYID" ] || { kz_show "$KZ_TMP/objs"; fail "the generated key has no CKA_ID"; }
kz_ok "$KZ_TMP/req.out" "kzp11-tool req --der" env KZP11_PIN="$PASS1" "$TOOL" req --token rsa-auth \
    --subject "$SUBJ_PERSON" --der --out "$KZ_TMP/auth.req"
kz_ok "$KZ_TMP/ca.out" "RSA CA, AUTH profile" sh "$RSA_CA" --auth "$KZ_TMP/rsa-ca" "$KZ_TMP/auth.req" "$KZ_TMP/auth.pem"
openssl x509 -in "$KZ_TMP/auth.pem" -outform DER -out "$KZ_TMP/auth.der" || fail "AUTH certificate to DER"
AUTH_SKI=$(ski_of "$KZ_TMP/auth.pem")
AUTH_LABEL=$(printf 'AUTH_RSA256_%s' "$AUTH_SKI" | cut -c1-32)
kz_ok "$KZ_TMP/wo.out" "pkcs11-tool --write-object" p11 --token-label rsa-auth --login --pin "$PASS1" \
    --write-object "$KZ_TMP/auth.der" --type cert --id "$AUTH_KEYID"
[ -f "$KS/AUTH_RSA256_$AUTH_SKI.p12" ] || { ls -la "$KS" >&2; fail "not renamed to AUTH_RSA256_$AUTH_SKI.p12"; }
kz_ok "$KZ_TMP/list.out" "kzp11-tool list" env KZP11_PIN="$PASS1" "$TOOL" list --token "$AUTH_LABEL"
assert_grep "$KZ_TMP/list.out" "owner: *$CN_TEST\$" "AUTH: owner"
assert_grep "$KZ_TMP/list.out" "IIN: *123456789011\$" "AUTH: IIN"
assert_grep "$KZ_TMP/list.out" "role: *individual\$" "AUTH: role"
assert_grep "$KZ_TMP/list.out" "key usage: *digitalSignature, keyEncipherment\$" "AUTH: key usage"
assert_grep "$KZ_TMP/list.out" "ext. key usage: *clientAuth, 1.2.398.3.3.4.1.1\$" "AUTH: EKU clientAuth"
assert_grep "$KZ_TMP/list.out" "id: *$AUTH_SKI\$" "AUTH: CKA_ID = SKI after install"
kz_ok "$KZ_TMP/sign.out" "AUTH sign" p11 --token-label "$AUTH_LABEL" --login --pin "$PASS1" \
    --sign -m SHA256-RSA-PKCS -i "$KZ_TMP/data" -o "$KZ_TMP/auth.sig"
openssl x509 -in "$KZ_TMP/auth.pem" -noout -pubkey >"$KZ_TMP/auth.pub" || fail "AUTH public key"
kz_verify_dgst "$KZ_TMP/auth.pub" "$KZ_TMP/data" "$KZ_TMP/auth.sig" sha256
kz_ok "$KZ_TMP/ex.out" "export-cert" env KZP11_PIN="$PASS1" "$TOOL" export-cert --token "$AUTH_LABEL" \
    --der --out "$KZ_TMP/auth.export.der"
assert_same_file "$KZ_TMP/auth.export.der" "$KZ_TMP/auth.der" "export-cert gives back the installed certificate"
kz_ok "$KZ_TMP/p12.out" "AUTH container opens with openssl" openssl pkcs12 -legacy -in "$KS/AUTH_RSA256_$AUTH_SKI.p12" \
    -passin "pass:$PASS1" -nodes -nocerts -out "$KZ_TMP/auth.key"
openssl pkey -in "$KZ_TMP/auth.key" -pubout >"$KZ_TMP/auth.key.pub" 2>/dev/null || fail "AUTH key does not load"
assert_same_file "$KZ_TMP/auth.key.pub" "$KZ_TMP/auth.pub" "the AUTH container's key is the certificate's key"
ok "RSA-2048 by pkcs11-tool: keypairgen, req, issue, write-object, AUTH_RSA256_ name, sign"

# --- GOST 2015-512 ----------------------------------------------------------

note "GOST 2015-512"
# The CA program's verify mode against real NCA data first: it is what
# vouches for the test CA's signatures below.
kz_ok "$KZ_TMP/v.out" "NCA intermediate vs NCA root" "$GOST_CA" verify \
    --issuer "$NCA_CA_DIR/root_test_gost_2022.cer" "$NCA_CA_DIR/nca_gost2022_test.cer"
assert_grep "$KZ_TMP/v.out" "signature OK" "gost_test_ca verifies the NCA's own signature"
cp "$NCA_CA_DIR/nca_gost2022_test.cer" "$KZ_TMP/tampered.cer"
printf '\001' | env -u LD_PRELOAD dd of="$KZ_TMP/tampered.cer" bs=1 seek=200 conv=notrunc 2>/dev/null
kz_fails "$KZ_TMP/v.out" "a tampered NCA certificate" "$GOST_CA" verify \
    --issuer "$NCA_CA_DIR/root_test_gost_2022.cer" "$KZ_TMP/tampered.cer"

new_container gost-test
kz_ok "$KZ_TMP/kg.out" "kzp11-tool keygen gost2015-512" env KZP11_PIN="$PASS1" "$TOOL" keygen \
    --token gost-test --alg gost2015-512 --label "my GOST key"
kz_ok "$KZ_TMP/objs" "list objects" p11 --token-label gost-test --login --pin "$PASS1" -O
assert_grep "$KZ_TMP/objs" "Private Key Object; GOSTR3410-2012-512" "a GOST 512 private key"
assert_grep "$KZ_TMP/objs" "Public Key Object; GOSTR3410-2012-512" "and its public key"
assert_grep "$KZ_TMP/objs" "PARAMS OID: *06092a8503070102010201" "on TC26-512-A"
kz_ok "$KZ_TMP/req.out" "kzp11-tool req (GOST)" env KZP11_PIN="$PASS1" "$TOOL" req --token gost-test \
    --subject "$SUBJ_LEGAL" --out "$KZ_TMP/gost.req"
openssl asn1parse -in "$KZ_TMP/gost.req" >"$KZ_TMP/reqa.out" 2>&1 || fail "OpenSSL cannot parse the GOST request"
assert_grep "$KZ_TMP/reqa.out" "OBJECT *:1.2.398.3.10.1.1.2.2\$" "the request's key is Kazakh GOST 2015 512"
assert_grep "$KZ_TMP/reqa.out" "OBJECT *:1.2.398.3.10.1.1.2.2.1\$" "with the Kazakh curve OID"
assert_grep "$KZ_TMP/reqa.out" "OBJECT *:1.2.398.3.10.1.3.3\$" "and the Kazakh Streebog-512 OID"
assert_grep "$KZ_TMP/reqa.out" "OBJECT *:1.2.398.3.10.1.1.2.3.2\$" "signed with 1.2.398.3.10.1.1.2.3.2"
assert_grep "$KZ_TMP/reqa.out" "UTF8STRING *:ТОО \"Тест, Сервис\"\$" "an escaped comma stays in O"
kz_ok "$KZ_TMP/v.out" "request signature (NCA byte order)" "$GOST_CA" verify-req "$KZ_TMP/gost.req"

kz_ok "$KZ_TMP/ca.out" "GOST CA" "$GOST_CA" issue --req "$KZ_TMP/gost.req" --role head --out "$KZ_TMP/gost.der"
openssl x509 -inform DER -in "$KZ_TMP/gost.der" -noout -text >"$KZ_TMP/gx.out" 2>&1
assert_grep "$KZ_TMP/gx.out" "Signature Algorithm: 1.2.398.3.10.1.1.2.3.2" "OpenSSL parses the GOST certificate"
assert_grep "$KZ_TMP/gx.out" "Digital Signature, Non Repudiation, Key Agreement" "GOST512 key usage"
assert_grep "$KZ_TMP/gx.out" "E-mail Protection, 1.2.398.3.3.4.1.2, 1.2.398.3.3.4.1.2.1" "GOST512 EKU with the role"
kz_ok "$KZ_TMP/v.out" "certificate signature" "$GOST_CA" verify "$KZ_TMP/gost.der"
kz_ok "$KZ_TMP/ca.out" "GOST CA certificate" "$GOST_CA" ca-cert --out "$KZ_TMP/gost-ca.der"
kz_ok "$KZ_TMP/v.out" "certificate against the CA certificate" "$GOST_CA" verify \
    --issuer "$KZ_TMP/gost-ca.der" "$KZ_TMP/gost.der"
GOST_SKI=$(ski_of "$KZ_TMP/gost.der")
[ "${#GOST_SKI}" -eq 40 ] || fail "issued GOST certificate: SKI '$GOST_SKI'"
GOST_LABEL=$(printf 'GOST512_%s' "$GOST_SKI" | cut -c1-32)

# Installed the way the NCA hands it out: bare base64 in a .cer.
openssl base64 -A -in "$KZ_TMP/gost.der" -out "$KZ_TMP/gost.cer" || fail "base64"
kz_ok "$KZ_TMP/inst.out" "kzp11-tool install (.cer)" env KZP11_PIN="$PASS1" "$TOOL" install \
    --token gost-test "$KZ_TMP/gost.cer"
assert_grep "$KZ_TMP/inst.out" "^Token label: $GOST_LABEL\$" "GOST install prints the new label"
[ -f "$KS/GOST512_$GOST_SKI.p12" ] || { ls -la "$KS" >&2; fail "not renamed to GOST512_$GOST_SKI.p12"; }
kz_ok "$KZ_TMP/objs" "list objects" p11 --token-label "$GOST_LABEL" --login --pin "$PASS1" -O
[ "$(grep -c "ID: *$GOST_SKI" "$KZ_TMP/objs")" -eq 3 ] ||
    { kz_show "$KZ_TMP/objs"; fail "GOST: certificate and keys must share CKA_ID = SKI $GOST_SKI"; }

kz_ok "$KZ_TMP/list.out" "kzp11-tool list" env KZP11_PIN="$PASS1" "$TOOL" list --token "$GOST_LABEL"
assert_grep "$KZ_TMP/list.out" "owner: *$CN_TEST\$" "GOST: owner"
assert_grep "$KZ_TMP/list.out" "IIN: *123456789011\$" "GOST: IIN"
assert_grep "$KZ_TMP/list.out" "BIN: *123456789021\$" "GOST: BIN"
assert_grep "$KZ_TMP/list.out" "organisation: *ТОО \"Тест, Сервис\"\$" "GOST: organisation"
assert_grep "$KZ_TMP/list.out" "role: *legal entity: head\$" "GOST: role"
assert_grep "$KZ_TMP/list.out" "key: *GOST 2015 512-bit\$" "GOST: key algorithm"
assert_grep "$KZ_TMP/list.out" "private key: *GOST 512-bit \(TC26-512-A\)" "GOST: the key"

kz_ok "$KZ_TMP/sign.out" "GOST sign" p11 --token-label "$GOST_LABEL" --login --pin "$PASS1" \
    --sign -m 0xD4321009 -i "$KZ_TMP/data" -o "$KZ_TMP/gost.sig"
[ "$(kz_size "$KZ_TMP/gost.sig")" -eq 128 ] || fail "a GOST 512 signature is 128 bytes"
tc26_pubkey "$KZ_TMP/gost.der" "$KZ_TMP/gost.pub"
kz_ok "$KZ_TMP/v.out" "engine verify" openssl dgst -engine gost -md_gost12_512 \
    -verify "$KZ_TMP/gost.pub" -signature "$KZ_TMP/gost.sig" "$KZ_TMP/data"
assert_grep "$KZ_TMP/v.out" "^Verified OK" "the gost engine verifies the token's signature with the issued certificate's key"

kz_ok "$KZ_TMP/cp.out" "change-pin" p11 --token-label "$GOST_LABEL" --login --pin "$PASS1" \
    --change-pin --new-pin "$PASS2"
check_pin_change "$GOST_LABEL" "$PASS1" "$PASS2"
# And once more through kzp11-tool passwd, passwords from files.
echo "$PASS2" >"$KZ_TMP/pin2"
echo "$PASS3" >"$KZ_TMP/pin3"
kz_ok "$KZ_TMP/pw.out" "kzp11-tool passwd" kzt passwd --token "$GOST_LABEL" \
    --pin-file "$KZ_TMP/pin2" --new-pin-file "$KZ_TMP/pin3"
check_pin_change "$GOST_LABEL" "$PASS2" "$PASS3"
[ -f "$KS/GOST512_$GOST_SKI.p12" ] || fail "GOST512_$GOST_SKI.p12 is gone after the password changes"
kz_ok "$KZ_TMP/p12.out" "GOST container's certificate with openssl" openssl pkcs12 -legacy \
    -in "$KS/GOST512_$GOST_SKI.p12" -passin "pass:$PASS3" -nokeys -out "$KZ_TMP/gp12.pem"
openssl x509 -in "$KZ_TMP/gp12.pem" -outform DER -out "$KZ_TMP/gp12.der" || fail "GOST certificate to DER"
assert_same_file "$KZ_TMP/gp12.der" "$KZ_TMP/gost.der" "the GOST container holds the issued certificate"
ok "GOST 2015-512: keygen, req, issue, install (.cer), list, sign, change-pin, passwd, NCA file"

# --- GOST 2015-256 (the NCA issues none yet; the naming is kzp11's) ----------

note "GOST 2015-256"
new_container gost256
kz_ok "$KZ_TMP/kg.out" "kzp11-tool keygen gost2015-256" env KZP11_PIN="$PASS1" "$TOOL" keygen \
    --token gost256 --alg gost2015-256
kz_ok "$KZ_TMP/req.out" "kzp11-tool req (GOST 256)" env KZP11_PIN="$PASS1" "$TOOL" req --token gost256 \
    --subject "$SUBJ_PERSON" --der --out "$KZ_TMP/g256.req"
openssl asn1parse -inform DER -in "$KZ_TMP/g256.req" >"$KZ_TMP/reqa.out" 2>&1 || fail "GOST 256 request"
assert_grep "$KZ_TMP/reqa.out" "OBJECT *:1.2.398.3.10.1.1.2.1\$" "the 256-bit key OID"
assert_grep "$KZ_TMP/reqa.out" "OBJECT *:1.2.398.3.10.1.1.2.1.1\$" "the 256-bit curve OID"
assert_grep "$KZ_TMP/reqa.out" "OBJECT *:1.2.398.3.10.1.3.2\$" "the Streebog-256 OID"
assert_grep "$KZ_TMP/reqa.out" "OBJECT *:1.2.398.3.10.1.1.2.3.1\$" "the 256-bit signature OID"
kz_ok "$KZ_TMP/v.out" "GOST 256 request signature" "$GOST_CA" verify-req "$KZ_TMP/g256.req"
kz_ok "$KZ_TMP/ca.out" "GOST CA (256-bit key)" "$GOST_CA" issue --req "$KZ_TMP/g256.req" --out "$KZ_TMP/g256.der"
G256_SKI=$(ski_of "$KZ_TMP/g256.der")
kz_ok "$KZ_TMP/inst.out" "kzp11-tool install (GOST 256)" env KZP11_PIN="$PASS1" "$TOOL" install \
    --token gost256 "$KZ_TMP/g256.der"
[ -f "$KS/GOST256_$G256_SKI.p12" ] || { ls -la "$KS" >&2; fail "not renamed to GOST256_$G256_SKI.p12"; }
ok "GOST 2015-256: keygen, req with the 256-bit Kazakh OIDs, issue, install, GOST256_ name"

# The folder now: four named containers and one free slot.
for f in "$KS"/*.p12; do basename "$f"; done | sort >"$KZ_TMP/files"
printf '%s\n' "AUTH_RSA256_$AUTH_SKI.p12" "GOST512_$GOST_SKI.p12" "RSA256_$RSA_SKI.p12" \
    "GOST256_$G256_SKI.p12" | sort >"$KZ_TMP/files.want"
assert_same_file "$KZ_TMP/files" "$KZ_TMP/files.want" "the folder holds exactly the four named containers"
one_free_slot

# --- kzp11-tool error paths ---------------------------------------------------

note "kzp11-tool errors and exit codes"
kzt_rc 0 "$KZ_TMP/help.out" "--help" kzt --help
for w in list keygen req install passwd export-cert "Exit status" "KZP11_PIN"; do
    assert_grep "$KZ_TMP/help.out" "$w" "--help mentions $w"
done
assert_grep "$KZ_TMP/help.out" "^  3  wrong password" "--help documents exit code 3"
kzt_rc 1 "$KZ_TMP/e.out" "no command" kzt
kzt_rc 1 "$KZ_TMP/e.out" "unknown command" kzt frobnicate
assert_grep "$KZ_TMP/e.out" "unknown command 'frobnicate'" "unknown command message"
kzt_rc 1 "$KZ_TMP/e.out" "unknown option" kzt list --frob
kzt_rc 1 "$KZ_TMP/e.out" "missing --alg" kzt keygen --token "$GOST_LABEL"
assert_grep "$KZ_TMP/e.out" "keygen needs --alg" "missing option named"
kzt_rc 1 "$KZ_TMP/e.out" "option of another command" kzt list --alg rsa2048
kzt_rc 1 "$KZ_TMP/e.out" "bad --alg" env KZP11_PIN="$PASS3" "$TOOL" keygen --token "$GOST_LABEL" --alg rsa1024
kzt_rc 2 "$KZ_TMP/e.out" "missing token" env KZP11_PIN="$PASS3" "$TOOL" keygen --token no-such-token --alg rsa2048
assert_grep "$KZ_TMP/e.out" "^kzp11-tool: no token labelled 'no-such-token'" "missing token message"
kzt_rc 2 "$KZ_TMP/e.out" "missing token (req)" env KZP11_PIN="$PASS3" "$TOOL" req --token no-such-token \
    --subject "$SUBJ_PERSON"
kzt_rc 1 "$KZ_TMP/e.out" "bad subject: unknown attribute" env KZP11_PIN="$PASS3" "$TOOL" req \
    --token "$GOST_LABEL" --subject "CN=x,FOO=y" --out "$KZ_TMP/bad.req"
assert_grep "$KZ_TMP/e.out" "bad --subject: unknown attribute 'FOO'" "bad subject message"
kzt_rc 1 "$KZ_TMP/e.out" "bad subject: no =" kzt req --token "$GOST_LABEL" --subject "CN" --out "$KZ_TMP/bad.req"
kzt_rc 1 "$KZ_TMP/e.out" "bad subject: C too long" kzt req --token "$GOST_LABEL" --subject "CN=x,C=KAZ"
[ ! -e "$KZ_TMP/bad.req" ] || fail "a bad subject still wrote a request"
kzt_rc 1 "$KZ_TMP/e.out" "no password source" kzt list --token "$GOST_LABEL" --login
assert_grep "$KZ_TMP/e.out" "no password given" "no password source message"
kzt_rc 3 "$KZ_TMP/e.out" "wrong password (list)" env KZP11_PIN="$WRONG" "$TOOL" list --token "$GOST_LABEL"
assert_grep "$KZ_TMP/e.out" "^kzp11-tool: login failed: CKR_PIN_INCORRECT \(wrong password\)$" "wrong password message"
kzt_rc 3 "$KZ_TMP/e.out" "wrong password (req)" env KZP11_PIN="$WRONG" "$TOOL" req --token "$GOST_LABEL" \
    --subject "$SUBJ_PERSON" --out "$KZ_TMP/x.req"
kzt_rc 3 "$KZ_TMP/e.out" "passwd: wrong old password" env KZP11_PIN="$WRONG" KZP11_NEW_PIN=Another2027kz \
    "$TOOL" passwd --token "$GOST_LABEL"
assert_grep "$KZ_TMP/e.out" "changing the password failed: CKR_PIN_INCORRECT" "passwd: wrong old password"
kzt_rc 5 "$KZ_TMP/e.out" "passwd: too short" env KZP11_PIN="$PASS3" KZP11_NEW_PIN=Ab1 \
    "$TOOL" passwd --token "$GOST_LABEL"
assert_grep "$KZ_TMP/e.out" "CKR_PIN_LEN_RANGE" "a short new password is CKR_PIN_LEN_RANGE"
kzt_rc 5 "$KZ_TMP/e.out" "passwd: no digit" env KZP11_PIN="$PASS3" KZP11_NEW_PIN=OnlyLetters \
    "$TOOL" passwd --token "$GOST_LABEL"
assert_grep "$KZ_TMP/e.out" "CKR_PIN_INVALID" "a new password without digits is CKR_PIN_INVALID"
kz_ok "$KZ_TMP/e.out" "the password is unchanged" env KZP11_PIN="$PASS3" "$TOOL" list --token "$GOST_LABEL"
kzt_rc 4 "$KZ_TMP/e.out" "install: missing file" env KZP11_PIN="$PASS3" "$TOOL" install \
    --token "$GOST_LABEL" "$KZ_TMP/no-such-file"
kzt_rc 1 "$KZ_TMP/e.out" "install: no file" kzt install --token "$GOST_LABEL"
kzt_rc 2 "$KZ_TMP/e.out" "bad module" kzt --module "$KZ_TMP/no-such-module.so" list
assert_grep "$KZ_TMP/e.out" "cannot load the PKCS#11 module" "bad module message"
ok "kzp11-tool: --help, usage errors (1), token errors (2), wrong password (3), I/O (4), refused new password (5)"
