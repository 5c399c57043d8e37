#!/bin/sh
# The Kaztoken card driver, end to end, on the virtual-card bench
# (tests/cards/bench: a private pcscd, vpcd readers, simulated Kaztokens;
# the system's pcscd is never touched). Issue 5's acceptance list:
#
#  1. pkcs11-tool (OpenSC's) against a Kaztoken: -L shows its label
#     "Kaztoken <serial>" (serial read from the card with GET DATA),
#     model and flags; RSA-2048 generated on the card; kzp11-tool req, the
#     test CA (tests/ca/rsa-ca.sh) and kzp11-tool install (a foreign
#     certificate is refused); certificate and keys share one CKA_ID;
#     SHA1/224/256/384/512-RSA-PKCS signatures verify with openssl against
#     the issued certificate; RSA-PKCS decryption; GOST R 34.10-2001 and
#     2012-256 keys on CryptoPro-A generated on the card sign, and the
#     gost engine verifies (also a raw CKM_GOSTR3410 signature of a hash);
#     curves and sizes the card lacks are refused; --change-pin: the old
#     PIN fails, the new works.
#     test_kaztoken token / keys: the token's fields, mechanisms and flags;
#     key generation rules (login, R/W session, CKA_ID), RSA 2048 (1024
#     and 4096 as the mechanism info offers them), C_DestroyObject also
#     after a new C_Initialize; a certificate written by pkcs11-tool
#     without CKA_ID gets its key's; pkcs11-tool deletes it and the key
#     pair, for good (the card goes out and back in).
#  2. A token with --user-tries 3: three wrong PINs, flags COUNT_LOW ->
#     FINAL_TRY -> LOCKED as the card's counter says (read independently
#     with pcsc_state), CKR_PIN_LOCKED, pkcs11-tool -L in a new process shows
#     it locked; SO login + C_InitPIN unblock; C_SetPIN; C_Logout logs the
#     card out (test_kaztoken pins-lock / pins-unblock); the SO PIN's
#     flags on a token with --so-tries 2 (test_kaztoken so-lock).
#  3. Two processes sign on the same card at the same time; every signature
#     verifies, and their signing windows overlap (test_kaztoken signer).
#     Another program's C_Logout (the card has one login for all) does not
#     break the next signature (test_kaztoken relogin), nor do pkcs11-tool
#     runs that each end with a logout while others sign.
#  4. APDUs counted by the simulator (--count): <= 3 per RSA-2048 signature
#     after login, <= 2 for a new session + finding all objects on a card
#     already seen (test_kaztoken cost; the numbers are printed).
#  5. Fuzz: cards answering every command damaged (--fuzz SEED), several
#     seeds, 10,000+ commands in all; every call returns a CKR_ value, no
#     crash or hang (ASan in the sanitizer build), and a clean card in the
#     same reader then works in the same process (test_kaztoken_fuzz).
#
# Needs root or unprivileged user namespaces (see tests/cards/README.md),
# pkcs11-tool (opensc), the gost engine (libengine-gost-openssl).

kz_here=$(dirname "$0")
if [ -f "$kz_here/common.sh" ]; then
    . "$kz_here/common.sh"
elif [ -n "${KZP11_SRCDIR:-}" ] && [ -f "$KZP11_SRCDIR/tests/integration/common.sh" ]; then
    . "$KZP11_SRCDIR/tests/integration/common.sh"
else
    echo "FAIL: cannot find tests/integration/common.sh" >&2
    exit 1
fi

[ -n "${KZP11_BUILDDIR:-}" ] || fail "KZP11_BUILDDIR is not set (run the tests through 'make check')"
PROG=$KZP11_BUILDDIR/tests/integration/test_kaztoken
FUZZ=$KZP11_BUILDDIR/tests/integration/test_kaztoken_fuzz
TOOL=$KZP11_BUILDDIR/kzp11-tool/kzp11-tool
RSA_CA=$KZP11_SRCDIR/tests/ca/rsa-ca.sh
BENCH=$KZP11_SRCDIR/tests/cards/bench
for p in "$PROG" "$FUZZ" "$TOOL"; do
    [ -x "$p" ] || fail "$p is not built (run 'make check')"
done
[ -f "$RSA_CA" ] || fail "missing $RSA_CA"
[ -x "$BENCH" ] || fail "the card bench $BENCH is missing"
need_tool pkcs11-tool opensc
need_tool timeout coreutils
openssl engine gost >/dev/null 2>&1 || fail "OpenSSL gost engine missing (Debian libengine-gost-openssl)"

# A bench of this test's own, in its temporary folder; should the script
# be killed outright, the bench's watchdog takes it down.
KZ_BENCH_DIR=$KZ_TMP/bench
KZ_BENCH_BINDIR=${KZ_BENCH_BINDIR:-$KZP11_BUILDDIR/tests/cards}
KZ_BENCH_OWNER=$$
export KZ_BENCH_DIR KZ_BENCH_BINDIR KZ_BENCH_OWNER
PCSC_STATE=$KZ_BENCH_BINDIR/pcsc_state
[ -x "$PCSC_STATE" ] || fail "$PCSC_STATE is not built (a check_PROGRAM: run 'make check')"

# The bench's daemons and pcsc_state are not the project's code: no
# sanitizer runtime preloaded into them.
# (A command line for eval, also run by test_kaztoken_fuzz through system().)
# shellcheck disable=SC2089,SC2090
BENCH_CMD="env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS '$BENCH'"
bench() {
    eval "$BENCH_CMD \"\$@\""
}
pcsc_state() {
    env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS "$PCSC_STATE" "$@"
}

# On any exit: the bench goes; after a failure its logs are shown (the
# simulators' logs hold the APDU trace).
kt_cleanup() {
    kt_rc=$?
    if [ -f "$KZ_BENCH_DIR/bench.conf" ]; then
        bench down >/dev/null 2>&1
    fi
    if [ "$kt_rc" -ne 0 ] && [ -d "$KZ_BENCH_DIR" ]; then
        for kt_f in "$KZ_BENCH_DIR/bench.log" "$KZ_BENCH_DIR"/cards/*.log; do
            [ -s "$kt_f" ] || continue
            echo "--- $kt_f (last lines)" >&2
            tail -n 25 "$kt_f" | cut -c1-200 | sed 's/^/    | /' >&2
        done
    fi
    kz_cleanup
}
trap kt_cleanup EXIT

# No soft token containers: an empty folder (its one free slot is ignored).
KZP11_KEYSTORE=$KZ_TMP/no-containers
mkdir "$KZP11_KEYSTORE" || fail "mkdir $KZP11_KEYSTORE"
export KZP11_KEYSTORE
unset KZP11_PIN KZP11_NEW_PIN

# The factory PINs of the bench's Kaztoken (tests/cards/README.md).
USER_PIN=12345678
NEW_PIN=24681357        # the main card's user PIN after --change-pin
KZ_SO_PIN=87654321
export KZ_SO_PIN

# The project's own programs are instrumented in a sanitizer build: leaks
# count there (common.sh turns leak checks off for foreign tools).
KZ_PROG_ASAN=$(printf '%s' "${ASAN_OPTIONS:-}" | sed 's/detect_leaks=0/detect_leaks=1/')

# kt_prog NAME OUT SECONDS CMD...: runs a test program with the module's
# APDU trace on (KZP11_DEBUG=1, into OUT.err) under a time limit (a hang
# fails), and wants "PASS: NAME". On failure the end of the trace shows,
# and the script goes on (the parts use their own tokens) and fails at
# the end: one run reports every part.
kt_failed=
kt_prog() {
    if ! kt_prog_run "$@"; then
        echo "FAIL [$KZ_TEST_NAME]: $1 (continuing with the next part)" >&2
        kt_failed="$kt_failed
  $1"
    fi
}
kt_prog_run() {
    kt_p_name=$1 kt_p_out=$2 kt_p_secs=$3
    shift 3
    note "$kt_p_name"
    kt_p_t0=$(date +%s)
    if env ASAN_OPTIONS="$KZ_PROG_ASAN" KZP11_DEBUG=1 timeout "$kt_p_secs" "$@" \
        >"$kt_p_out" 2>"$kt_p_out.err"; then
        kt_p_rc=0
    else
        kt_p_rc=$?
    fi
    sed 's/^/    /' "$kt_p_out"
    if [ "$kt_p_rc" -ne 0 ]; then
        echo "    module trace (last lines of $kt_p_out.err):" >&2
        grep '^kzp11\[' "$kt_p_out.err" | tail -n 60 | cut -c1-220 | sed 's/^/    | /' >&2
    fi
    grep -v '^kzp11\[' "$kt_p_out.err" | sed 's/^/    /' >&2
    if [ "$kt_p_rc" -eq 124 ]; then
        echo "$kt_p_name did not finish within $kt_p_secs s (hang?)" >&2
        return 1
    fi
    [ "$kt_p_rc" -eq 0 ] || { echo "$kt_p_name exited with status $kt_p_rc" >&2; return 1; }
    grep -q "^PASS: $kt_p_name\$" "$kt_p_out" || { echo "$kt_p_name did not report PASS" >&2; return 1; }
    echo "    ($(($(date +%s) - kt_p_t0)) s)"
}

# card_serial READER: the card's serial, asked of the card itself (GET
# DATA 01 81 through pcsc_state), in upper-case hex.
card_serial() {
    cs_out=$(pcsc_state send "$1" 00CA018100) || fail "pcsc_state send to '$1' failed"
    case $cs_out in
    *9000) ;;
    *) fail "GET DATA serial on '$1' answered '$cs_out'" ;;
    esac
    printf '%s\n' "${cs_out%9000}"
}

p11() {
    pkcs11-tool --module "$KZP11_MODULE" "$@"
}

# --- the bench -----------------------------------------------------------------

note "bench up, a Kaztoken in reader 0 counting its commands"
bench up --readers 2 >"$KZ_TMP/up.out" 2>"$KZ_TMP/up.err" ||
    { kz_show "$KZ_TMP/up.err"; fail "'bench up' failed"; }
grep -q '^export PCSCLITE_CSOCK_NAME=' "$KZ_TMP/up.out" ||
    { kz_show "$KZ_TMP/up.out"; fail "'bench up' printed no PCSCLITE_CSOCK_NAME"; }
eval "$(cat "$KZ_TMP/up.out")"
READER0=$(bench reader-name 0) || fail "'bench reader-name 0' failed"
READER1=$(bench reader-name 1) || fail "'bench reader-name 1' failed"
MAIN_COUNT=$KZ_TMP/main.count
bench insert 0 kaztoken@main --count "$MAIN_COUNT" 2>"$KZ_TMP/ins.err" ||
    { kz_show "$KZ_TMP/ins.err"; fail "'bench insert 0 kaztoken@main' failed"; }
SERIAL=$(card_serial "$READER0") || exit 1
[ "${#SERIAL}" -eq 8 ] || fail "the card's serial '$SERIAL' is not 4 bytes"
LABEL="Kaztoken $SERIAL"
KZ_PCSC_STATE=$PCSC_STATE
export KZ_PCSC_STATE
ok "private pcscd at $PCSCLITE_CSOCK_NAME; '$LABEL' in \"$READER0\""

# pt ARGS...: pkcs11-tool on the main card.
pt() {
    p11 --token-label "$LABEL" "$@"
}

printf 'A document signed on a Kaztoken.\n' >"$KZ_TMP/data"
cp "$KZ_TMP/data" "$KZ_TMP/data.bad"
printf 'x' >>"$KZ_TMP/data.bad"

# --- 1. the token, as pkcs11-tool and a PKCS#11 program see it ------------------

note "pkcs11-tool -L"
kz_ok "$KZ_TMP/L.out" "pkcs11-tool -L" p11 -L
assert_grep "$KZ_TMP/L.out" "^Slot [0-9]+ \(0x[0-9a-f]+\): $READER0" "the reader's slot"
assert_grep "$KZ_TMP/L.out" "token label *: $LABEL\$" "the token label is 'Kaztoken <serial>'"
assert_grep "$KZ_TMP/L.out" "token model *: Kaztoken\$" "the token model is Kaztoken"
assert_grep "$KZ_TMP/L.out" "serial num *: $SERIAL\$" "the token serial is the card's"
assert_grep "$KZ_TMP/L.out" "token flags *:.*login required" "the token wants a login"
assert_grep "$KZ_TMP/L.out" "token flags *:.*token initialized" "the token is initialised"
assert_grep "$KZ_TMP/L.out" "token flags *:.*PIN initialized" "the user PIN is initialised"
assert_no_grep "$KZ_TMP/L.out" "PIN count low|PIN final|PIN locked" "PIN warnings on a fresh card"
ok "pkcs11-tool -L: '$LABEL', model Kaztoken, serial $SERIAL"

kz_ok "$KZ_TMP/M.out" "pkcs11-tool -M" pt -M
for m in RSA-PKCS-KEY-PAIR-GEN RSA-PKCS SHA1-RSA-PKCS SHA224-RSA-PKCS SHA256-RSA-PKCS SHA384-RSA-PKCS \
    SHA512-RSA-PKCS GOSTR3410-KEY-PAIR-GEN GOSTR3410 GOSTR3410-WITH-GOSTR3411 GOSTR3410-WITH-GOSTR3411-12-256; do
    assert_grep "$KZ_TMP/M.out" "^ *${m}[,:]" "pkcs11-tool -M lists $m"
done
assert_no_grep "$KZ_TMP/M.out" "GOSTR3410-512|GOSTR3410-WITH-GOSTR3411-12-512" "a GOST 512 signature mechanism is listed"
ok "pkcs11-tool -M lists the driver's mechanisms, no GOST 512"

kt_prog "test_kaztoken token" "$KZ_TMP/token.out" 120 "$PROG" token "$SERIAL"

# --- 1. RSA-2048 on the card, certificate from the test CA --------------------

note "RSA-2048: key pair on the card, request, certificate, install"
kz_fails "$KZ_TMP/kg.out" "keygen without login" pt --keypairgen --key-type rsa:2048
assert_grep "$KZ_TMP/kg.out" "CKR_USER_NOT_LOGGED_IN" "keygen without login is CKR_USER_NOT_LOGGED_IN"
kz_fails "$KZ_TMP/wrong.out" "login with a wrong PIN" pt --login --pin 00000000 -O
assert_grep "$KZ_TMP/wrong.out" "CKR_PIN_INCORRECT" "a wrong PIN is CKR_PIN_INCORRECT"
kz_ok "$KZ_TMP/kg.out" "pkcs11-tool --keypairgen rsa:2048" pt --login --pin "$USER_PIN" \
    --keypairgen --key-type rsa:2048
assert_grep "$KZ_TMP/kg.out" "Public Key Object; RSA 2048 bits" "a 2048-bit public key was made"
kz_ok "$KZ_TMP/objs" "list objects" pt --login --pin "$USER_PIN" -O
RSA_ID=$(sed -n 's/^ *ID: *\([0-9a-f]*\)$/\1/p' "$KZ_TMP/objs" | sort -u)
[ -n "$RSA_ID" ] && [ "$(printf '%s\n' "$RSA_ID" | wc -l)" -eq 1 ] ||
    { kz_show "$KZ_TMP/objs"; fail "the key pair does not have one CKA_ID: '$RSA_ID'"; }
[ "${#RSA_ID}" -eq 40 ] || fail "the key pair's CKA_ID $RSA_ID is not a SHA-1 (none was asked for)"
[ "$(grep -c "ID: *$RSA_ID\$" "$KZ_TMP/objs")" -eq 2 ] ||
    { kz_show "$KZ_TMP/objs"; fail "private and public key must both have CKA_ID $RSA_ID"; }

SUBJ="CN=ТЕСТОВ ТЕСТ,SN=ТЕСТОВ,SERIALNUMBER=IIN123456789011,C=KZ,GN=ТЕСТОВИЧ"
kz_ok "$KZ_TMP/req.out" "kzp11-tool req" env KZP11_PIN="$USER_PIN" "$TOOL" req --token "$LABEL" \
    --subject "$SUBJ" --out "$KZ_TMP/card.req"
kz_ok "$KZ_TMP/reqv.out" "request signature" openssl req -in "$KZ_TMP/card.req" -verify -noout
assert_grep "$KZ_TMP/reqv.out" "verify OK" "the request is signed by the card's key"
kz_ok "$KZ_TMP/ca.out" "RSA test CA" sh "$RSA_CA" "$KZ_TMP/ca" "$KZ_TMP/card.req" "$KZ_TMP/card.pem"
kz_ok "$KZ_TMP/chain.out" "chain" openssl verify -CAfile "$KZ_TMP/ca/ca.pem" "$KZ_TMP/card.pem"
openssl x509 -in "$KZ_TMP/card.pem" -noout -pubkey >"$KZ_TMP/card.pub" || fail "public key of the issued certificate"

kz_run "$KZ_TMP/inst.out" env KZP11_PIN="$USER_PIN" "$TOOL" install --token "$LABEL" "$SIGN_CERT" &&
    { kz_show "$KZ_TMP/inst.out"; fail "a certificate for another key was installed on the card"; }
assert_grep "$KZ_TMP/inst.out" "CKR_TEMPLATE_INCONSISTENT" "a foreign certificate is CKR_TEMPLATE_INCONSISTENT"
kz_ok "$KZ_TMP/inst.out" "kzp11-tool install" env KZP11_PIN="$USER_PIN" "$TOOL" install --token "$LABEL" \
    "$KZ_TMP/card.pem"
kz_ok "$KZ_TMP/objs" "list objects" pt --login --pin "$USER_PIN" -O
assert_grep "$KZ_TMP/objs" "Certificate Object" "the certificate is on the card"
[ "$(grep -c "ID: *$RSA_ID\$" "$KZ_TMP/objs")" -eq 3 ] ||
    { kz_show "$KZ_TMP/objs"; fail "certificate, private and public key must all have CKA_ID $RSA_ID"; }
kz_ok "$KZ_TMP/rd.out" "read the certificate back" pt --read-object --type cert --id "$RSA_ID" \
    -o "$KZ_TMP/card-read.der"
openssl x509 -in "$KZ_TMP/card.pem" -outform DER -out "$KZ_TMP/card.der" || fail "certificate to DER"
assert_same_file "$KZ_TMP/card-read.der" "$KZ_TMP/card.der" "the card holds the issued certificate"
ok "RSA-2048 generated on the card; request, test CA, install; one CKA_ID for all three"

note "RSA signatures and decryption with pkcs11-tool, checked by openssl"
for h in sha256 sha1 sha224 sha384 sha512; do
    H=$(printf '%s' "$h" | tr 'a-z' 'A-Z')
    kz_ok "$KZ_TMP/sign.out" "$H-RSA-PKCS" pt --login --pin "$USER_PIN" --sign -m "$H-RSA-PKCS" --id "$RSA_ID" \
        -i "$KZ_TMP/data" -o "$KZ_TMP/rsa.$h.sig"
    [ "$(kz_size "$KZ_TMP/rsa.$h.sig")" -eq 256 ] || fail "$H-RSA-PKCS: not a 256-byte signature"
    kz_verify_dgst "$KZ_TMP/card.pub" "$KZ_TMP/data" "$KZ_TMP/rsa.$h.sig" "$h"
done
kz_verify_dgst_fails "$KZ_TMP/card.pub" "$KZ_TMP/data.bad" "$KZ_TMP/rsa.sha256.sig" sha256
printf 'a session key for the card' >"$KZ_TMP/secret"
openssl pkeyutl -encrypt -pubin -inkey "$KZ_TMP/card.pub" -in "$KZ_TMP/secret" -out "$KZ_TMP/secret.enc" ||
    fail "openssl cannot encrypt to the card's key"
kz_ok "$KZ_TMP/dec.out" "RSA-PKCS decrypt" pt --login --pin "$USER_PIN" --decrypt -m RSA-PKCS --id "$RSA_ID" \
    -i "$KZ_TMP/secret.enc" -o "$KZ_TMP/secret.dec"
assert_same_file "$KZ_TMP/secret.dec" "$KZ_TMP/secret" "the card decrypts what openssl encrypted"
ok "SHA1/224/256/384/512-RSA-PKCS signatures verify against the certificate; RSA-PKCS decrypts"

# --- 1. GOST R 34.10 256 on the card, verified by the gost engine ---------------

# gost_pub ID ALG-OID DIGEST-OID OUT.pem: the card's GOST public key ID as
# the gost engine reads it: pkcs11-tool prints CKA_VALUE (64 bytes, X||Y
# little-endian, maybe inside an OCTET STRING) and CKA_GOSTR3410_PARAMS.
gost_pub() {
    kz_ok "$KZ_TMP/gpub.out" "list the GOST public keys" pt -O --type pubkey
    # -O lists every public key: the PARAMS OID and VALUE of the one whose
    # ID is $1.
    gp_out=$(awk -v id="$1" '/Object;/ { par = ""; val = ""; v = 0; pub = /^Public Key/ }
        pub && /PARAMS OID:/ { par = $3 }
        pub && /VALUE:/ { v = 1; sub(/.*VALUE: */, "") }
        v { if ($0 ~ /^ *[0-9a-f]+ *$/) { gsub(/ /, ""); val = val $0 } else v = 0 }
        pub && $1 == "ID:" && $2 == id { print par, val }' "$KZ_TMP/gpub.out")
    gp_par=${gp_out%% *}
    gp_hex=${gp_out#* }
    case $gp_hex in 0440*) [ "${#gp_hex}" -eq 132 ] && gp_hex=${gp_hex#0440} ;; esac
    [ "${#gp_hex}" -eq 128 ] || { kz_show "$KZ_TMP/gpub.out"; fail "GOST key $1: no 64-byte CKA_VALUE"; }
    [ "$gp_par" = 06072a850302022301 ] || { kz_show "$KZ_TMP/gpub.out"; fail "GOST key $1 is not on CryptoPro-A"; }
    cat >"$KZ_TMP/gspki.cnf" <<CNF
asn1=SEQUENCE:spki
[spki]
alg=SEQUENCE:alg
key=FORMAT:HEX,BITSTRING:0440$gp_hex
[alg]
oid=OID:$2
params=SEQUENCE:params
[params]
curve=OID:1.2.643.2.2.35.1
digest=OID:$3
CNF
    openssl asn1parse -genconf "$KZ_TMP/gspki.cnf" -out "$KZ_TMP/gspki.der" >/dev/null ||
        fail "cannot build the GOST SubjectPublicKeyInfo"
    openssl pkey -engine gost -pubin -inform DER -in "$KZ_TMP/gspki.der" -out "$4" 2>"$KZ_TMP/pkey.err" ||
        { kz_show "$KZ_TMP/pkey.err"; fail "the gost engine rejects the card's GOST key $1"; }
}

# gost_check MECH DIGEST PUB ID: signs data on the card, the engine verifies
# it, and refuses it over other data.
gost_check() {
    kz_ok "$KZ_TMP/gs.out" "sign $1" pt --login --pin "$USER_PIN" --sign -m "$1" --id "$4" \
        -i "$KZ_TMP/data" -o "$KZ_TMP/gost.sig"
    [ "$(kz_size "$KZ_TMP/gost.sig")" -eq 64 ] || fail "$1: not a 64-byte signature"
    kz_ok "$KZ_TMP/gv.out" "gost engine verify ($1)" openssl dgst -engine gost "-$2" -verify "$3" \
        -signature "$KZ_TMP/gost.sig" "$KZ_TMP/data"
    assert_grep "$KZ_TMP/gv.out" "^Verified OK" "$1: the gost engine verifies the card's signature"
    kz_fails "$KZ_TMP/gv.out" "gost engine verify over other data ($1)" openssl dgst -engine gost "-$2" \
        -verify "$3" -signature "$KZ_TMP/gost.sig" "$KZ_TMP/data.bad"
}

note "GOST R 34.10-2001, CryptoPro-A, on the card"
kz_ok "$KZ_TMP/kg.out" "keypairgen GOSTR3410-2001:A" pt --login --pin "$USER_PIN" --keypairgen \
    --key-type GOSTR3410-2001:A --id 4701 --label gost2001
gost_pub 4701 1.2.643.2.2.19 1.2.643.2.2.30.1 "$KZ_TMP/g2001.pem"
gost_check GOSTR3410-WITH-GOSTR3411 md_gost94 "$KZ_TMP/g2001.pem" 4701
# CKM_GOSTR3410 signs a hash as given (the engine's digest byte order).
openssl dgst -engine gost -md_gost94 -binary -out "$KZ_TMP/data.h94" "$KZ_TMP/data" 2>/dev/null ||
    fail "openssl md_gost94"
kz_ok "$KZ_TMP/gs.out" "sign GOSTR3410 (a hash)" pt --login --pin "$USER_PIN" --sign -m GOSTR3410 --id 4701 \
    -i "$KZ_TMP/data.h94" -o "$KZ_TMP/raw.sig"
kz_ok "$KZ_TMP/gv.out" "gost engine pkeyutl -verify" openssl pkeyutl -engine gost -verify -pubin \
    -inkey "$KZ_TMP/g2001.pem" -in "$KZ_TMP/data.h94" -sigfile "$KZ_TMP/raw.sig"
assert_grep "$KZ_TMP/gv.out" "Signature Verified Successfully" "CKM_GOSTR3410: the engine verifies the hash's signature"
ok "GOST 2001 key on the card: GOSTR3410-WITH-GOSTR3411 and GOSTR3410 signatures verify with the gost engine"

note "GOST R 34.10-2012-256, CryptoPro-A (pkcs11-tool's 2012-256:B), on the card"
kz_ok "$KZ_TMP/kg.out" "keypairgen GOSTR3410-2012-256:B" pt --login --pin "$USER_PIN" --keypairgen \
    --key-type GOSTR3410-2012-256:B --id 4702 --label gost2012
gost_pub 4702 1.2.643.7.1.1.1.1 1.2.643.7.1.1.2.2 "$KZ_TMP/g2012.pem"
gost_check GOSTR3410-WITH-GOSTR3411-12-256 md_gost12_256 "$KZ_TMP/g2012.pem" 4702
ok "GOST 2012-256 key on the card: GOSTR3410-WITH-GOSTR3411-12-256 signatures verify with the gost engine"

# What the card cannot do is refused, not faked: TC26-256-A is not a
# CryptoPro curve, and 512-bit GOST has no known APDUs.
kz_fails "$KZ_TMP/kg.out" "keypairgen GOSTR3410-2012-256:A (TC26-256-A)" pt --login --pin "$USER_PIN" \
    --keypairgen --key-type GOSTR3410-2012-256:A --id 4703
kz_fails "$KZ_TMP/kg.out" "keypairgen GOSTR3410-2012-512:A" pt --login --pin "$USER_PIN" \
    --keypairgen --key-type GOSTR3410-2012-512:A --id 4704
kz_ok "$KZ_TMP/objs" "list objects" pt --login --pin "$USER_PIN" -O
assert_no_grep "$KZ_TMP/objs" "ID: *470[34]\$" "a refused key pair left an object"
ok "TC26-256-A and GOST 512 key generation refused"

# --- 1. change the PIN -------------------------------------------------------------

note "pkcs11-tool --change-pin"
kz_ok "$KZ_TMP/cp.out" "change-pin" pt --login --pin "$USER_PIN" --change-pin --new-pin "$NEW_PIN"
kz_fails "$KZ_TMP/old.out" "login with the old PIN" pt --login --pin "$USER_PIN" -O
assert_grep "$KZ_TMP/old.out" "CKR_PIN_INCORRECT" "the old PIN is CKR_PIN_INCORRECT"
kz_ok "$KZ_TMP/new.out" "login with the new PIN" pt --login --pin "$NEW_PIN" -O
assert_grep "$KZ_TMP/new.out" "Private Key Object; RSA" "the keys are still there after the PIN change"
USER_PIN=$NEW_PIN
ok "--change-pin: the old PIN is refused, the new one works"

# --- 1. key generation rules and C_DestroyObject, on a second card ---------------

note "a second card, kaztoken@objs, in reader 1"
bench insert 1 kaztoken@objs 2>"$KZ_TMP/ins.err" || { kz_show "$KZ_TMP/ins.err"; fail "insert kaztoken@objs"; }
SERIAL1=$(card_serial "$READER1") || exit 1
LABEL1="Kaztoken $SERIAL1"
[ "$SERIAL1" != "$SERIAL" ] || fail "two tokens with the same serial $SERIAL"
kt_prog "test_kaztoken keys" "$KZ_TMP/keys.out" 600 "$PROG" keys "$SERIAL1"

# The RSA-2048 pair the program left (CKA_ID "kept") gets a certificate,
# then certificate and keys are deleted with pkcs11-tool.
KEPT_ID=6b657074
pt1() {
    p11 --token-label "$LABEL1" "$@"
}
kz_ok "$KZ_TMP/req.out" "kzp11-tool req (kept RSA-2048)" env KZP11_PIN=12345678 "$TOOL" req --token "$LABEL1" \
    --id "$KEPT_ID" --subject "$SUBJ" --out "$KZ_TMP/objs.req"
kz_ok "$KZ_TMP/ca.out" "RSA test CA (kept RSA-2048)" sh "$RSA_CA" "$KZ_TMP/ca" "$KZ_TMP/objs.req" "$KZ_TMP/objs.pem"
# Written without a CKA_ID (kzp11-tool install passes the key's): the
# driver finds the key it belongs to.
openssl x509 -in "$KZ_TMP/objs.pem" -outform DER -out "$KZ_TMP/objs.der" || fail "certificate to DER"
kz_ok "$KZ_TMP/wo.out" "pkcs11-tool --write-object, no --id" pt1 --login --pin 12345678 \
    --write-object "$KZ_TMP/objs.der" --type cert
kz_ok "$KZ_TMP/objs" "list objects" pt1 --login --pin 12345678 -O
[ "$(grep -c "ID: *$KEPT_ID\$" "$KZ_TMP/objs")" -eq 3 ] ||
    { kz_show "$KZ_TMP/objs"; fail "the certificate written without CKA_ID did not get CKA_ID $KEPT_ID of its key"; }
kz_ok "$KZ_TMP/sign.out" "SHA256-RSA-PKCS (kept RSA-2048)" pt1 --login --pin 12345678 --sign -m SHA256-RSA-PKCS \
    --id "$KEPT_ID" -i "$KZ_TMP/data" -o "$KZ_TMP/objs.sig"
openssl x509 -in "$KZ_TMP/objs.pem" -noout -pubkey >"$KZ_TMP/objs.pub" || fail "public key of the kept key's certificate"
kz_verify_dgst "$KZ_TMP/objs.pub" "$KZ_TMP/data" "$KZ_TMP/objs.sig" sha256
# The card keeps a key pair as one entry: deleting the private key takes
# the public one with it.
for t in cert privkey; do
    kz_ok "$KZ_TMP/del.out" "delete the $t" pt1 --login --pin 12345678 --delete-object --type "$t" --id "$KEPT_ID"
done
kz_ok "$KZ_TMP/objs" "list objects" pt1 --login --pin 12345678 -O
assert_no_grep "$KZ_TMP/objs" "Object;|Certificate Object" "deleted objects are still listed"
bench remove 1 2>"$KZ_TMP/rm.err" || { kz_show "$KZ_TMP/rm.err"; fail "remove kaztoken@objs"; }
bench insert 1 kaztoken@objs 2>"$KZ_TMP/ins.err" || { kz_show "$KZ_TMP/ins.err"; fail "re-insert kaztoken@objs"; }
kz_ok "$KZ_TMP/objs" "list objects after re-insertion" pt1 --login --pin 12345678 -O
assert_no_grep "$KZ_TMP/objs" "Object;|Certificate Object" "deleted objects came back with the card"
ok "a certificate written without CKA_ID gets its key's; signs; certificate and keys deleted for good"

# --- 2. PIN blocking and unblocking ---------------------------------------------------

note "a card with 3 user PIN tries, kaztoken@pins, in reader 1"
bench swap 1 kaztoken@pins --user-tries 3 2>"$KZ_TMP/ins.err" || { kz_show "$KZ_TMP/ins.err"; fail "insert kaztoken@pins"; }
SERIAL2=$(card_serial "$READER1") || exit 1
KZ_CARD_READER=$READER1
export KZ_CARD_READER
kt_prog "test_kaztoken pins-lock" "$KZ_TMP/pins1.out" 120 "$PROG" pins-lock "$SERIAL2"
kz_ok "$KZ_TMP/L2.out" "pkcs11-tool -L (locked)" p11 -L
# The locked card's block of -L: from its label to the next slot.
sed -n "/token label *: Kaztoken $SERIAL2\$/,/^Slot /p" "$KZ_TMP/L2.out" >"$KZ_TMP/L2.tok"
assert_grep "$KZ_TMP/L2.tok" "token flags *:.*user PIN locked" "a new process sees the user PIN locked"
kz_fails "$KZ_TMP/lk.out" "login to the locked card" p11 --token-label "Kaztoken $SERIAL2" --login --pin 12345678 -O
assert_grep "$KZ_TMP/lk.out" "CKR_PIN_LOCKED" "the right PIN on a blocked card is CKR_PIN_LOCKED"
kt_prog "test_kaztoken pins-unblock" "$KZ_TMP/pins2.out" 120 "$PROG" pins-unblock "$SERIAL2" unblocked-1
# The program ends with the PIN "pin-three-3".
kz_ok "$KZ_TMP/lk.out" "login after unblocking" p11 --token-label "Kaztoken $SERIAL2" --login --pin pin-three-3 -O
kz_ok "$KZ_TMP/L2.out" "pkcs11-tool -L (unblocked)" p11 -L
sed -n "/token label *: Kaztoken $SERIAL2\$/,/^Slot /p" "$KZ_TMP/L2.out" >"$KZ_TMP/L2.tok"
assert_no_grep "$KZ_TMP/L2.tok" "PIN count low|PIN final|PIN locked" "PIN warnings after unblocking"
ok "blocked after 3 wrong PINs, unblocked by the SO with C_InitPIN"

bench swap 1 kaztoken@so --so-tries 2 2>"$KZ_TMP/ins.err" || { kz_show "$KZ_TMP/ins.err"; fail "insert kaztoken@so"; }
SERIAL3=$(card_serial "$READER1") || exit 1
kt_prog "test_kaztoken so-lock" "$KZ_TMP/so.out" 120 "$PROG" so-lock "$SERIAL3"

# --- 4. APDU cost --------------------------------------------------------------------

kt_prog "test_kaztoken cost" "$KZ_TMP/cost.out" 120 env KZ_USER_PIN="$USER_PIN" "$PROG" cost "$SERIAL" "$MAIN_COUNT"

# --- 3. two processes signing at once --------------------------------------------------

note "two processes signing on the same card"
mkdir "$KZ_TMP/sync" || fail "mkdir $KZ_TMP/sync"
N_SIG=100
for i in 1 2; do
    env ASAN_OPTIONS="$KZ_PROG_ASAN" KZ_USER_PIN="$USER_PIN" timeout 300 "$PROG" signer "$SERIAL" "$i" \
        "$N_SIG" "$KZ_TMP/sync" 2 >"$KZ_TMP/signer$i.out" 2>"$KZ_TMP/signer$i.err" &
    eval "signer_pid$i=\$!"
done
# shellcheck disable=SC2154 # set by the eval above
wait "$signer_pid1" && rc1=0 || rc1=$?
# shellcheck disable=SC2154
wait "$signer_pid2" && rc2=0 || rc2=$?
for i in 1 2; do
    sed 's/^/    /' "$KZ_TMP/signer$i.out"
    sed 's/^/    /' "$KZ_TMP/signer$i.err" >&2
done
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] || fail "signers exited with $rc1 and $rc2 (124: a hang)"
w1=$(sed -n 's/.*window \([0-9]*\) \([0-9]*\)$/\1 \2/p' "$KZ_TMP/signer1.out")
w2=$(sed -n 's/.*window \([0-9]*\) \([0-9]*\)$/\1 \2/p' "$KZ_TMP/signer2.out")
for i in 1 2; do
    assert_grep "$KZ_TMP/signer$i.out" "^signer $i: $N_SIG signatures verified" "signer $i verified its signatures"
    assert_grep "$KZ_TMP/signer$i.out" "^PASS: test_kaztoken signer\$" "signer $i did not report PASS"
done
set -- $w1 $w2
[ $# -eq 4 ] || fail "the signers did not print their signing windows"
[ "$1" -lt "$4" ] && [ "$3" -lt "$2" ] ||
    fail "the two signing windows ($1-$2, $3-$4 ms) do not overlap: nothing ran at the same time"
ok "2 processes x $N_SIG signatures, overlapping in time, all verify"

KZ_CARD_READER=$READER0
export KZ_CARD_READER
kt_prog "test_kaztoken relogin" "$KZ_TMP/relogin.out" 120 env KZ_USER_PIN="$USER_PIN" "$PROG" relogin "$SERIAL"
# Its APDU trace (both programs') holds two logins' VERIFYs and the kept PIN's
# (user PIN 24681357 = 32 34 36 38 31 33 35 37): masked, never in clear.
kz_pin_hex=$(printf '%s' "$USER_PIN" | od -An -tx1 | tr 'a-f' 'A-F' | sed 's/^ *//; s/  */ /g')
kz_verifies=$(grep -E -c '> 00 20 00 02 08( \*\*){8}$' "$KZ_TMP/relogin.out.err" || true)
[ "${kz_verifies:-0}" -ge 3 ] || fail "the relogin trace shows $kz_verifies masked VERIFYs, not the two logins' and the kept PIN's"
assert_no_grep "$KZ_TMP/relogin.out.err" "$kz_pin_hex|$USER_PIN" "the user PIN in the APDU trace"

# The everyday case: separate pkcs11-tool runs, each logging in, signing
# and closing its session, which logs the card out for every program (one
# security state per card). The others' signatures still succeed: the
# driver verifies the kept PIN again when the card asks for it.
note "pkcs11-tool runs signing at once, each logging the card out as it ends"
race() {
    r_fail=0
    for r_i in 1 2 3 4 5 6 7 8; do
        pt --login --pin "$USER_PIN" --sign -m SHA256-RSA-PKCS --id "$RSA_ID" -i "$KZ_TMP/data" \
            -o "$KZ_TMP/race$1.$r_i" >"$KZ_TMP/race$1.$r_i.out" 2>&1 || r_fail=$((r_fail + 1))
    done
    echo "$r_fail" >"$KZ_TMP/race$1.failed"
}
race 1 &
race_pid1=$!
race 2 &
race_pid2=$!
wait "$race_pid1"
wait "$race_pid2"
for i in 1 2; do
    [ "$(cat "$KZ_TMP/race$i.failed")" = 0 ] ||
        { cat "$KZ_TMP"/race$i.*.out >&2; fail "pkcs11-tool runs in loop $i failed: $(cat "$KZ_TMP/race$i.failed") of 8"; }
    for j in 1 2 3 4 5 6 7 8; do
        kz_verify_dgst "$KZ_TMP/card.pub" "$KZ_TMP/data" "$KZ_TMP/race$i.$j" sha256
    done
done
ok "2 x 8 pkcs11-tool runs signing at once, each ending with a logout: all succeed and verify"

# --- 5. damaged answers ------------------------------------------------------------------

note "fuzz: cards answering damaged, in reader 1"
# The clean card each run ends with, in the same reader and process.
bench swap 1 kaztoken@clean 2>"$KZ_TMP/ins.err" || { kz_show "$KZ_TMP/ins.err"; fail "insert kaztoken@clean"; }
CLEAN_SERIAL=$(card_serial "$READER1") || exit 1
KZ_CLEAN_CMD="$BENCH_CMD swap 1 kaztoken@clean >/dev/null"
KZ_CLEAN_SERIAL=$CLEAN_SERIAL
# shellcheck disable=SC2090
export KZ_CLEAN_CMD KZ_CLEAN_SERIAL
total=0
for seed in 11 4242 77777 123456789; do
    note "fuzz seed $seed"
    # First, undamaged, the token gets what the loop is to read and use: an
    # RSA key with its certificate and a GOST key (15 tries per PIN, as
    # the loop tries wrong PINs too).
    bench swap 1 "kaztoken@fuzz$seed" --user-tries 15 --so-tries 15 2>"$KZ_TMP/ins.err" ||
        { kz_show "$KZ_TMP/ins.err"; fail "insert kaztoken@fuzz$seed"; }
    FUZZ_LABEL="Kaztoken $(card_serial "$READER1")" || exit 1
    kz_ok "$KZ_TMP/kg.out" "fuzz$seed: RSA key" p11 --token-label "$FUZZ_LABEL" --login --pin 12345678 \
        --keypairgen --key-type rsa:2048 --id 01
    kz_ok "$KZ_TMP/kg.out" "fuzz$seed: GOST key" p11 --token-label "$FUZZ_LABEL" --login --pin 12345678 \
        --keypairgen --key-type GOSTR3410-2001:A --id 02
    kz_ok "$KZ_TMP/req.out" "fuzz$seed: request" env KZP11_PIN=12345678 "$TOOL" req --token "$FUZZ_LABEL" \
        --id 01 --subject "$SUBJ" --out "$KZ_TMP/fuzz.req"
    kz_ok "$KZ_TMP/ca.out" "fuzz$seed: certificate" sh "$RSA_CA" "$KZ_TMP/ca" "$KZ_TMP/fuzz.req" "$KZ_TMP/fuzz.pem"
    kz_ok "$KZ_TMP/inst.out" "fuzz$seed: install" env KZP11_PIN=12345678 "$TOOL" install --token "$FUZZ_LABEL" \
        "$KZ_TMP/fuzz.pem"
    # Then the same token answering damaged; no per-APDU log of thousands.
    KZ_BENCH_TRACE=0 bench swap 1 "kaztoken@fuzz$seed" --fuzz "$seed" --count "$KZ_TMP/fuzz$seed.count" \
        2>"$KZ_TMP/ins.err" || { kz_show "$KZ_TMP/ins.err"; fail "insert kaztoken@fuzz$seed --fuzz"; }
    t0=$(date +%s)
    if env ASAN_OPTIONS="$KZ_PROG_ASAN" timeout 900 "$FUZZ" "$KZ_TMP/fuzz$seed.count" 3000 "$READER1" "$seed" \
        >"$KZ_TMP/fuzz.out" 2>"$KZ_TMP/fuzz.err"; then
        rc=0
    else
        rc=$?
    fi
    sed 's/^/    /' "$KZ_TMP/fuzz.out"
    grep -v '^kzp11\[' "$KZ_TMP/fuzz.err" | tail -n 40 | sed 's/^/    /' >&2
    [ "$rc" -ne 124 ] || fail "fuzz seed $seed: the program did not finish within 900 s"
    [ "$rc" -ne 3 ] || fail "fuzz seed $seed: a PKCS#11 call hung"
    [ "$rc" -eq 0 ] || fail "fuzz seed $seed: exit status $rc (a crash or a failed check)"
    assert_grep "$KZ_TMP/fuzz.out" "^PASS: test_kaztoken_fuzz\$" "fuzz seed $seed did not report PASS"
    n=$(cat "$KZ_TMP/fuzz$seed.count")
    echo "    ($n commands, $(($(date +%s) - t0)) s)"
    total=$((total + n))
done
[ "$total" -ge 10000 ] || fail "the fuzzed cards received $total commands, fewer than 10,000"
ok "$total damaged answers: every call returned, nothing crashed or hung"

[ -z "$kt_failed" ] || fail "these parts failed (see above):$kt_failed"
echo "PASS: $KZ_TEST_NAME"
exit 0
