#!/bin/sh
# kzp11 driven by OpenSC's pkcs11-tool: slot/token listing, objects, every
# advertised signature, digest and decryption mechanism, PIN handling,
# pkcs11-tool's own --test, and a keystore folder holding damaged files.

kz_here=$(dirname "$0")
if [ -f "$kz_here/common.sh" ]; then
    . "$kz_here/common.sh"
elif [ -n "${KZP11_SRCDIR:-}" ] && [ -f "$KZP11_SRCDIR/tests/integration/common.sh" ]; then
    . "$KZP11_SRCDIR/tests/integration/common.sh"
else
    echo "FAIL: cannot find tests/integration/common.sh" >&2
    exit 1
fi

need_tool pkcs11-tool opensc

T=$KZ_TMP
p11() {
    pkcs11-tool --module "$KZP11_MODULE" "$@"
}

KZP11_KEYSTORE=$KZ_KEYSTORE
export KZP11_KEYSTORE

# slots_of FILE: one "label|serial|flags" line per slot of `pkcs11-tool -L`.
slots_of() {
    awk '
        /^Slot / { n++ }
        /^  token label *:/ { sub(/^  token label *: */, ""); l[n] = $0 }
        /^  serial num *:/ { sub(/^  serial num *: */, ""); s[n] = $0 }
        /^  token flags *:/ { sub(/^  token flags *: */, ""); f[n] = $0 }
        END { for (i = 1; i <= n; i++) print l[i] "|" s[i] "|" f[i] }
    ' "$1"
}

# check_token_listed FILE LABEL SERIAL
check_token_listed() {
    line=$(slots_of "$1" | awk -F'|' -v l="$2" '$1 == l')
    [ -n "$line" ] || { kz_show "$1"; fail "token '$2' is not listed"; }
    serial=$(printf '%s\n' "$line" | cut -d'|' -f2)
    assert_eq "$serial" "$3" "serial number of token '$2'"
    flags=$(printf '%s\n' "$line" | cut -d'|' -f3)
    for want in "login required" "token initialized" "PIN initialized"; do
        case ", $flags," in
            *", $want,"*) ;;
            *) fail "token '$2' flags '$flags' lack '$want'" ;;
        esac
    done
}

# objects_of FILE: one "type|label|id|usage" line per object of `pkcs11-tool -O`.
objects_of() {
    awk '
        function flush() { if (t != "") print t "|" l "|" i "|" u }
        / Object; / { flush(); t = $0; sub(/ Object; .*/, "", t); l = ""; i = ""; u = ""; next }
        /^  label: / { sub(/^  label: */, ""); l = $0 }
        /^  ID: / { sub(/^  ID: */, ""); i = $0 }
        /^  Usage: / { sub(/^  Usage: */, ""); u = $0 }
        END { flush() }
    ' "$1"
}

# ---------------------------------------------------------------------------
note "listing: exactly the two RSA tokens, labels, serials, flags, and the folder's free slot"
kz_ok "$T/list.out" "pkcs11-tool -L" p11 -L
nslots=$(grep -c '^Slot ' "$T/list.out")
[ "$nslots" -eq 3 ] || { kz_show "$T/list.out"; fail "expected 2 container slots and 1 free slot, got $nslots slots"; }
# The free slot: an uninitialised token for creating a new container.
[ "$(grep -c 'kzp11 new container in' "$T/list.out")" -eq 1 ] ||
    { kz_show "$T/list.out"; fail "expected exactly one free slot"; }
[ "$(grep -c 'uninitialized' "$T/list.out")" -eq 1 ] ||
    { kz_show "$T/list.out"; fail "expected exactly one uninitialised token"; }
check_token_listed "$T/list.out" "$SIGN_LABEL" "$SIGN_SERIAL"
check_token_listed "$T/list.out" "$AUTH_LABEL" "$AUTH_SERIAL"
[ "${#SIGN_LABEL}" -eq 32 ] && [ "${#AUTH_LABEL}" -eq 32 ] ||
    fail "expected labels cut to 32 bytes: '$SIGN_LABEL' '$AUTH_LABEL'"
ok "2 tokens: $SIGN_LABEL ($SIGN_SERIAL), $AUTH_LABEL ($AUTH_SERIAL)"

# ---------------------------------------------------------------------------
for which in SIGN AUTH; do
    eval "label=\$${which}_LABEL hex=\$${which}_HEX cert_der=\$${which}_CERT_DER pub_der=\$${which}_PUB_DER"

    note "$label: no objects before login"
    kz_ok "$T/objs-nologin.out" "list objects without login" p11 --token-label "$label" -O
    assert_no_grep "$T/objs-nologin.out" ' Object; ' "objects visible before login on $label"

    note "$label: certificate, private key and public key after login"
    kz_ok "$T/objs.out" "list objects after login" \
        p11 --token-label "$label" --login --pin "$KZ_PIN" -O
    objects_of "$T/objs.out" >"$T/objs.txt"
    nobj=$(wc -l <"$T/objs.txt" | tr -d ' ')
    [ "$nobj" -eq 3 ] || { kz_show "$T/objs.out"; fail "$label: expected 3 objects, got $nobj"; }
    for type in "Certificate" "Private Key" "Public Key"; do
        n=$(awk -F'|' -v t="$type" '$1 == t' "$T/objs.txt" | wc -l | tr -d ' ')
        [ "$n" -eq 1 ] || { kz_show "$T/objs.out"; fail "$label: expected one '$type' object, got $n"; }
    done
    awk -F'|' -v h="$hex" '$3 != h { exit 1 }' "$T/objs.txt" ||
        { kz_show "$T/objs.out"; fail "$label: an object's ID is not $hex"; }
    awk -F'|' -v h="$hex" '$2 != h { exit 1 }' "$T/objs.txt" ||
        { kz_show "$T/objs.out"; fail "$label: an object's label is not $hex"; }
    assert_grep "$T/objs.out" '^Public Key Object; RSA 2048 bits' "$label: public key is not RSA-2048"
    assert_grep "$T/objs.out" 'serialNumber=IIN123456789011' "$label: certificate subject (CKA_SUBJECT) missing the IIN"
    usage=$(awk -F'|' '$1 == "Private Key" { print $4 }' "$T/objs.txt")
    case ", $usage," in
        *", sign,"*) ;;
        *) fail "$label: private key usage '$usage' lacks sign" ;;
    esac
    case "$which, $usage," in
        AUTH*", decrypt,"*) ;;
        AUTH*) fail "$label: AUTH private key usage '$usage' lacks decrypt" ;;
        SIGN*", decrypt,"*) fail "$label: signing key must not allow decrypt (usage '$usage')" ;;
    esac
    ok "$label: 3 objects with ID/label $hex, private key usage '$usage'"

    note "$label: CKA_VALUE of the certificate and the public key match the container"
    kz_ok "$T/rd.out" "read certificate" p11 --token-label "$label" --login --pin "$KZ_PIN" \
        --read-object --type cert --id "$hex" -o "$T/cert-$which.der"
    assert_same_file "$T/cert-$which.der" "$cert_der" "$label: certificate read from the token"
    kz_ok "$T/rd.out" "read public key" p11 --token-label "$label" --login --pin "$KZ_PIN" \
        --read-object --type pubkey --id "$hex" -o "$T/pub-$which.der"
    assert_same_file "$T/pub-$which.der" "$pub_der" "$label: public key read from the token"
    ok "$label: certificate and public key are the container's"
done

# ---------------------------------------------------------------------------
note "mechanism list"
kz_ok "$T/mechs.out" "pkcs11-tool -M" p11 --token-label "$SIGN_LABEL" -M
for m in RSA-PKCS RSA-PKCS-PSS RSA-PKCS-OAEP \
    SHA1-RSA-PKCS SHA224-RSA-PKCS SHA256-RSA-PKCS SHA384-RSA-PKCS SHA512-RSA-PKCS \
    SHA1-RSA-PKCS-PSS SHA224-RSA-PKCS-PSS SHA256-RSA-PKCS-PSS SHA384-RSA-PKCS-PSS SHA512-RSA-PKCS-PSS \
    SHA-1 SHA224 SHA256 SHA384 SHA512; do
    assert_grep "$T/mechs.out" "^  $m(,|\$)" "mechanism $m not listed"
done
ok "all contract mechanisms are listed"

# ---------------------------------------------------------------------------
note "digests (C_Digest) against openssl dgst"
printf 'kzp11 integration test data\n' >"$T/data"
i=0
while [ $i -lt 300 ]; do echo "line $i of a longer message"; i=$((i + 1)); done >>"$T/data"
printf 'kzp11 integration test dat4\n' >"$T/data.tampered"
cat "$T/data" >>"$T/data.tampered"
for pair in SHA-1:sha1 SHA224:sha224 SHA256:sha256 SHA384:sha384 SHA512:sha512; do
    mech=${pair%%:*}
    alg=${pair##*:}
    kz_ok "$T/hash.out" "hash $mech" p11 --token-label "$SIGN_LABEL" --hash -m "$mech" \
        -i "$T/data" -o "$T/hash.$alg"
    openssl dgst "-$alg" -binary "$T/data" >"$T/hash.$alg.ref" || fail "openssl dgst -$alg"
    assert_same_file "$T/hash.$alg" "$T/hash.$alg.ref" "digest $mech"
done
ok "SHA-1/224/256/384/512 digests are right"

note "C_GenerateRandom"
kz_ok "$T/rnd.out" "generate random" p11 --token-label "$SIGN_LABEL" --generate-random 64 -o "$T/rnd1"
kz_ok "$T/rnd.out" "generate random" p11 --token-label "$SIGN_LABEL" --generate-random 64 -o "$T/rnd2"
assert_eq "$(kz_size "$T/rnd1")" 64 "size of random output"
assert_eq "$(kz_size "$T/rnd2")" 64 "size of random output"
cmp -s "$T/rnd1" "$T/rnd2" && fail "two C_GenerateRandom calls returned the same 64 bytes"
[ "$(kz_hex "$T/rnd1")" = "$(printf '%0128d' 0)" ] && fail "C_GenerateRandom returned zeros"
ok "64 random bytes, twice, different"

# ---------------------------------------------------------------------------
note "PKCS#1 v1.5 signatures with hash-and-sign mechanisms"
sign() { # sign LABEL OUT ARGS...
    s_label=$1 s_out=$2
    shift 2
    kz_ok "$T/sign.out" "sign ($*) on $s_label" p11 --token-label "$s_label" --login --pin "$KZ_PIN" \
        --sign "$@" -o "$s_out"
    assert_eq "$(kz_size "$s_out")" 256 "length of the RSA-2048 signature ($*)"
}
for h in SHA1 SHA224 SHA256 SHA384 SHA512; do
    alg=$(echo "$h" | tr '[:upper:]' '[:lower:]')
    sign "$SIGN_LABEL" "$T/sig.$alg" -m "$h-RSA-PKCS" -i "$T/data"
    kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/sig.$alg" "$alg"
done
kz_verify_dgst_fails "$SIGN_PUB" "$T/data.tampered" "$T/sig.sha256" sha256
kz_verify_dgst_fails "$AUTH_PUB" "$T/data" "$T/sig.sha256" sha256
sign "$AUTH_LABEL" "$T/sig.auth.sha256" -m SHA256-RSA-PKCS -i "$T/data"
kz_verify_dgst "$AUTH_PUB" "$T/data" "$T/sig.auth.sha256" sha256
ok "SHA{1,224,256,384,512}-RSA-PKCS verify with OpenSSL; tampered data and the wrong key do not"

note "CKM_RSA_PKCS over a DigestInfo equals CKM_SHA256_RSA_PKCS"
openssl dgst -sha256 -binary "$T/data" >"$T/data.sha256"
# DER DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1).
printf '\060\061\060\015\006\011\140\206\110\001\145\003\004\002\001\005\000\004\040' >"$T/digestinfo"
cat "$T/data.sha256" >>"$T/digestinfo"
sign "$SIGN_LABEL" "$T/sig.raw" -m RSA-PKCS -i "$T/digestinfo"
assert_same_file "$T/sig.raw" "$T/sig.sha256" "RSA-PKCS(DigestInfo) vs SHA256-RSA-PKCS"
kz_verify_pkeyutl "$SIGN_PUB" "$T/data.sha256" "$T/sig.raw" digest:sha256 rsa_padding_mode:pkcs1
ok "raw RSA-PKCS signature matches"

note "RSA-PSS: SHAx-RSA-PKCS-PSS (pkcs11-tool hashes) and RSA-PKCS-PSS (over a digest)"
for pair in SHA1:20 SHA224:28 SHA256:32 SHA384:48 SHA512:64; do
    h=${pair%%:*}
    slen=${pair##*:}
    alg=$(echo "$h" | tr '[:upper:]' '[:lower:]')
    sign "$SIGN_LABEL" "$T/pss.$alg" -m "$h-RSA-PKCS-PSS" -i "$T/data"
    kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/pss.$alg" "$alg" rsa_padding_mode:pss \
        "rsa_pss_saltlen:$slen" "rsa_mgf1_md:$alg"
done
kz_verify_dgst_fails "$SIGN_PUB" "$T/data.tampered" "$T/pss.sha256" sha256 rsa_padding_mode:pss \
    rsa_pss_saltlen:32 rsa_mgf1_md:sha256
# PSS is randomised: two signatures over the same data must differ.
sign "$SIGN_LABEL" "$T/pss.sha256.again" -m SHA256-RSA-PKCS-PSS -i "$T/data"
cmp -s "$T/pss.sha256" "$T/pss.sha256.again" && fail "two PSS signatures (salt 32) are identical"

sign "$SIGN_LABEL" "$T/pss.raw" -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 \
    -i "$T/data.sha256"
kz_verify_pkeyutl "$SIGN_PUB" "$T/data.sha256" "$T/pss.raw" rsa_padding_mode:pss \
    rsa_pss_saltlen:32 digest:sha256 rsa_mgf1_md:sha256
kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/pss.raw" sha256 rsa_padding_mode:pss \
    rsa_pss_saltlen:32 rsa_mgf1_md:sha256
openssl dgst -sha384 -binary "$T/data" >"$T/data.sha384"
sign "$SIGN_LABEL" "$T/pss.raw384" -m RSA-PKCS-PSS --hash-algorithm SHA384 --mgf MGF1-SHA384 \
    -i "$T/data.sha384"
kz_verify_pkeyutl "$SIGN_PUB" "$T/data.sha384" "$T/pss.raw384" rsa_padding_mode:pss \
    rsa_pss_saltlen:48 digest:sha384 rsa_mgf1_md:sha384
# The salt length is the caller's parameter, not a fixed one.
sign "$SIGN_LABEL" "$T/pss.salt0" -m SHA256-RSA-PKCS-PSS --salt-len 0 -i "$T/data"
kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/pss.salt0" sha256 rsa_padding_mode:pss \
    rsa_pss_saltlen:0 rsa_mgf1_md:sha256
kz_verify_dgst_fails "$SIGN_PUB" "$T/data" "$T/pss.salt0" sha256 rsa_padding_mode:pss \
    rsa_pss_saltlen:32 rsa_mgf1_md:sha256
sign "$AUTH_LABEL" "$T/pss.auth" -m SHA256-RSA-PKCS-PSS -i "$T/data"
kz_verify_dgst "$AUTH_PUB" "$T/data" "$T/pss.auth" sha256 rsa_padding_mode:pss \
    rsa_pss_saltlen:32 rsa_mgf1_md:sha256
ok "PSS signatures verify (all hashes, raw PSS over SHA-256/384, salt length 0, AUTH key)"

# ---------------------------------------------------------------------------
note "wrong PIN"
kz_fails "$T/badpin.out" "login with a wrong PIN" \
    p11 --token-label "$SIGN_LABEL" --login --pin "$KZ_WRONG_PIN" -O
assert_grep "$T/badpin.out" 'CKR_PIN_INCORRECT' "wrong PIN is not reported as CKR_PIN_INCORRECT"
assert_no_grep "$T/badpin.out" ' Object; ' "objects listed after a failed login"
kz_ok "$T/goodpin.out" "login with the right PIN after a wrong one" \
    p11 --token-label "$SIGN_LABEL" --login --pin "$KZ_PIN" -O
ok "CKR_PIN_INCORRECT"

# ---------------------------------------------------------------------------
note "decryption with the AUTH key (keyEncipherment)"
head -c 100 /dev/urandom >"$T/plain" || fail "cannot read /dev/urandom"
decrypt_case() { # decrypt_case NAME "openssl pkeyopts" pkcs11-tool args...
    d_name=$1 d_opts=$2
    shift 2
    d_o=
    for o in $d_opts; do d_o="$d_o -pkeyopt $o"; done
    # shellcheck disable=SC2086
    openssl pkeyutl -encrypt -pubin -inkey "$AUTH_PUB" -in "$T/plain" -out "$T/ct.$d_name" $d_o ||
        fail "openssl could not encrypt ($d_name)"
    rm -f "$T/pt.$d_name"
    kz_ok "$T/dec.out" "decrypt $d_name" p11 --token-label "$AUTH_LABEL" --login --pin "$KZ_PIN" \
        --decrypt "$@" -i "$T/ct.$d_name" -o "$T/pt.$d_name"
    assert_same_file "$T/pt.$d_name" "$T/plain" "plaintext decrypted with $d_name"
}
decrypt_case pkcs1 "rsa_padding_mode:pkcs1" -m RSA-PKCS
decrypt_case oaep-sha1 "rsa_padding_mode:oaep rsa_oaep_md:sha1 rsa_mgf1_md:sha1" \
    -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1
decrypt_case oaep-sha256 "rsa_padding_mode:oaep rsa_oaep_md:sha256 rsa_mgf1_md:sha256" \
    -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256
ok "PKCS#1 v1.5, OAEP-SHA1 and OAEP-SHA256 decrypt to the plaintext"

note "decryption with the signing-only key is refused"
openssl pkeyutl -encrypt -pubin -inkey "$SIGN_PUB" -in "$T/plain" -out "$T/ct.sign" \
    -pkeyopt rsa_padding_mode:pkcs1 || fail "openssl could not encrypt"
rm -f "$T/pt.sign"
kz_fails "$T/dec-sign.out" "decrypt with the non-AUTH key" \
    p11 --token-label "$SIGN_LABEL" --login --pin "$KZ_PIN" --decrypt -m RSA-PKCS \
    -i "$T/ct.sign" -o "$T/pt.sign"
assert_grep "$T/dec-sign.out" 'CKR_KEY_FUNCTION_NOT_PERMITTED' \
    "C_DecryptInit with a CKA_DECRYPT=false key must return CKR_KEY_FUNCTION_NOT_PERMITTED"
if [ -s "$T/pt.sign" ]; then fail "plaintext written by a refused decryption"; fi
ok "CKR_KEY_FUNCTION_NOT_PERMITTED"

# ---------------------------------------------------------------------------
for label in "$SIGN_LABEL" "$AUTH_LABEL"; do
    for extra in "" "--allow-sw"; do
        note "pkcs11-tool --test $extra on $label"
        # shellcheck disable=SC2086
        kz_ok "$T/test.out" "pkcs11-tool --test $extra on $label" \
            p11 --token-label "$label" --login --pin "$KZ_PIN" --test $extra
        assert_grep "$T/test.out" '^No errors$' "pkcs11-tool --test did not report 'No errors'"
        assert_no_grep "$T/test.out" 'ERR:|Aborting|[0-9]+ errors|failed' "pkcs11-tool --test reported a problem"
        if [ -n "$extra" ]; then
            assert_grep "$T/test.out" '^Signatures \(currently only for RSA\)' \
                "pkcs11-tool --test --allow-sw did not run its signature tests"
        fi
    done
done
ok "pkcs11-tool --test passes on both tokens"

# ---------------------------------------------------------------------------
note "keystore folder with damaged files next to the good ones"
mkdir -p "$T/mixed" || fail "mkdir"
cp "$SIGN_P12" "$AUTH_P12" "$T/mixed/" || fail "copy fixtures"
chmod u+w "$T/mixed"/*.p12
head -c 1500 "$SIGN_P12" >"$T/mixed/TRUNC_$SIGN_HEX.p12"
head -c 3431 /dev/urandom >"$T/mixed/RANDOM_0000000000000000000000000000000000000000.p12"
printf 'this is not a PKCS#12 file\n' >"$T/mixed/x.p12"
: >"$T/mixed/EMPTY_1111111111111111111111111111111111111111.p12"
printf 'not a container at all\n' >"$T/mixed/README.txt"
KZP11_KEYSTORE=$T/mixed
kz_ok "$T/mixed.out" "list slots with damaged files present" p11 -L
check_token_listed "$T/mixed.out" "$SIGN_LABEL" "$SIGN_SERIAL"
check_token_listed "$T/mixed.out" "$AUTH_LABEL" "$AUTH_SERIAL"
assert_no_grep "$T/mixed.out" 'README' "a non-.p12 file became a token"
# Only the two good containers and the folder's free slot: the damaged
# files are skipped.
assert_eq "$(grep -c '^Slot ' "$T/mixed.out")" 3 "slots with damaged files present"
sign "$SIGN_LABEL" "$T/sig.mixed" -m SHA256-RSA-PKCS -i "$T/data"
kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/sig.mixed" sha256
kz_ok "$T/mixed-objs.out" "objects of AUTH with damaged files present" \
    p11 --token-label "$AUTH_LABEL" --login --pin "$KZ_PIN" -O
objects_of "$T/mixed-objs.out" >"$T/mixed-objs.txt"
assert_eq "$(wc -l <"$T/mixed-objs.txt" | tr -d ' ')" 3 "objects on $AUTH_LABEL (damaged files present)"
ok "good tokens listed and usable; damaged files did not break the module"

note "KZP11_KEYSTORE with two folders"
mkdir -p "$T/dirA" "$T/dirB" || fail "mkdir"
cp "$SIGN_P12" "$T/dirA/" && cp "$AUTH_P12" "$T/dirB/" || fail "copy fixtures"
KZP11_KEYSTORE=$T/dirA:$T/dirB
kz_ok "$T/two.out" "list slots from two folders" p11 -L
# Each folder: its container and its free slot.
assert_eq "$(grep -c '^Slot ' "$T/two.out")" 4 "number of slots from two folders"
assert_eq "$(grep -c 'kzp11 new container in' "$T/two.out")" 2 "free slots from two folders"
check_token_listed "$T/two.out" "$SIGN_LABEL" "$SIGN_SERIAL"
check_token_listed "$T/two.out" "$AUTH_LABEL" "$AUTH_SERIAL"
ok "dir1:dir2 gives both tokens"
KZP11_KEYSTORE=$KZ_KEYSTORE

# ---------------------------------------------------------------------------
note "KZP11_DEBUG: quiet by default, logs to stderr when set, never logs the PIN"
p11 -L >"$T/quiet.stdout" 2>"$T/quiet.stderr" || fail "pkcs11-tool -L failed"
assert_no_grep "$T/quiet.stderr" '.' "the module wrote to stderr without KZP11_DEBUG"
env KZP11_DEBUG=1 pkcs11-tool --module "$KZP11_MODULE" --token-label "$SIGN_LABEL" --login --pin "$KZ_PIN" --sign -m SHA256-RSA-PKCS \
    -i "$T/data" -o "$T/sig.debug" >"$T/debug.stdout" 2>"$T/debug.stderr" ||
    { kz_show "$T/debug.stderr"; fail "signing with KZP11_DEBUG=1 failed"; }
kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/sig.debug" sha256
grep -v -e '^Using signature algorithm' "$T/debug.stderr" >"$T/debug.log"
assert_nonempty "$T/debug.log" "KZP11_DEBUG=1 produced no log on stderr"
if grep -q -e "$KZ_PIN" "$T/debug.log"; then fail "the debug log contains the PIN"; fi
ok "debug log present ($(wc -l <"$T/debug.log" | tr -d ' ') lines), no PIN in it"

echo "PASS: $KZ_TEST_NAME"
exit 0
