# Shared helpers for the kzp11 integration tests. Sourced, never run.
#
# The scripts run under `make check` (AM_TESTS_ENVIRONMENT exports
# KZP11_MODULE, KZP11_SRCDIR, KZP11_BUILDDIR and KZP11_SHARED). Exit status
# follows automake: 0 pass, 1 fail. Nothing is ever skipped: a missing tool is
# a failure, because CI installs all of them.
#
# POSIX sh (the tests run under $(SHELL), which may be dash).

KZ_TEST_NAME=$(basename "$0" .sh)
# The user PIN of the NCA test containers (a published test password).
KZ_PIN=Qwerty12
KZ_WRONG_PIN=WrongPass1

fail() {
    echo "FAIL [$KZ_TEST_NAME]: $*" >&2
    exit 1
}

note() {
    echo "== $*"
}

ok() {
    echo "ok: $*"
}

# need_tool TOOL DEBIAN-PACKAGE
need_tool() {
    command -v "$1" >/dev/null 2>&1 ||
        fail "required tool '$1' not found in PATH (install the Debian package '$2')"
}

# Print a file indented, with the PIN masked (for failure diagnostics).
kz_show() {
    if [ -s "$1" ]; then
        sed -e "s/$KZ_PIN/***/g" -e 's/^/    | /' "$1" >&2
    else
        echo "    | (no output)" >&2
    fi
}

kz_mask() {
    printf '%s\n' "$*" | sed "s/$KZ_PIN/***/g"
}

# kz_run OUTFILE CMD [ARGS...]: runs CMD with stdout and stderr in OUTFILE,
# logs the command line (PIN masked) and returns CMD's exit status. Stdin is
# /dev/null, so a tool that would prompt for a password fails instead of
# hanging.
kz_run() {
    kz_run_out=$1
    shift
    echo "\$ $(kz_mask "$*")"
    "$@" </dev/null >"$kz_run_out" 2>&1
}

# kz_ok OUTFILE WHAT CMD...: CMD must exit 0.
kz_ok() {
    kz_ok_out=$1
    kz_ok_what=$2
    shift 2
    if kz_run "$kz_ok_out" "$@"; then
        return 0
    else
        kz_ok_rc=$?
        kz_show "$kz_ok_out"
        fail "$kz_ok_what: command exited with status $kz_ok_rc, expected 0"
    fi
}

# kz_fails OUTFILE WHAT CMD...: CMD must exit non-zero.
kz_fails() {
    kz_fails_out=$1
    kz_fails_what=$2
    shift 2
    if kz_run "$kz_fails_out" "$@"; then
        kz_show "$kz_fails_out"
        fail "$kz_fails_what: command succeeded, expected a failure"
    fi
    return 0
}

# assert_grep FILE ERE WHAT: FILE must have a line matching ERE.
assert_grep() {
    grep -Eq -e "$2" "$1" && return 0
    kz_show "$1"
    fail "$3 (no line matching /$2/)"
}

# assert_no_grep FILE ERE WHAT: FILE must not have a line matching ERE.
assert_no_grep() {
    grep -Eq -e "$2" "$1" || return 0
    grep -En -e "$2" "$1" | sed -e "s/$KZ_PIN/***/g" -e 's/^/    > /' >&2
    fail "$3 (unexpected line matching /$2/)"
}

# assert_eq GOT EXPECTED WHAT
assert_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

# assert_same_file A B WHAT: byte-for-byte equality.
assert_same_file() {
    [ -f "$1" ] || fail "$3: '$1' was not created"
    [ -f "$2" ] || fail "$3: '$2' was not created"
    cmp -s "$1" "$2" || fail "$3: '$1' and '$2' differ"
}

# assert_nonempty FILE WHAT
assert_nonempty() {
    [ -s "$1" ] || fail "$2: '$1' is missing or empty"
}

# --- private temp dir and a clean environment --------------------------------

kz_cleanup() {
    if [ -n "${KZ_TMP:-}" ] && [ -d "$KZ_TMP" ]; then
        if [ -n "${KZP11_KEEP_TMP:-}" ]; then
            echo "kept temporary directory $KZ_TMP" >&2
        else
            rm -rf "$KZ_TMP"
        fi
    fi
}

KZ_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kzp11-$KZ_TEST_NAME.XXXXXX") ||
    fail "cannot create a temporary directory"
trap kz_cleanup EXIT
trap 'exit 1' HUP INT TERM

# No per-user configuration of the developer's account may leak in
# (p11-kit user modules, NSS, GnuTLS, OpenSSL).
mkdir -p "$KZ_TMP/home/.config" || fail "cannot create $KZ_TMP/home"
HOME=$KZ_TMP/home
XDG_CONFIG_HOME=$HOME/.config
export HOME XDG_CONFIG_HOME
unset XDG_RUNTIME_DIR OPENSSL_CONF OPENSSL_ENGINES GNUTLS_PIN GNUTLS_SO_PIN \
    NSS_DEFAULT_DB_TYPE P11_KIT_DEBUG KZP11_DEBUG KZP11_KEYSTORE 2>/dev/null
# Nor the developer's smart cards: no pcscd at this socket, so reader slots
# appear only where a test starts the card bench (readers.sh).
PCSCLITE_CSOCK_NAME=$KZ_TMP/no-pcscd.comm
export PCSCLITE_CSOCK_NAME
LC_ALL=C
export LC_ALL

# In a sanitizer build (configure --enable-sanitizers) the module is
# instrumented but pkcs11-tool, certutil, openssl... are not: they can only
# dlopen it with the sanitizer runtimes preloaded. Leaks are checked in the
# project's own programs, not in these tools, hence detect_leaks=0 here.
if [ -n "${KZP11_SANITIZER_PRELOAD:-}" ]; then
    LD_PRELOAD=$(printf '%s' "$KZP11_SANITIZER_PRELOAD" | tr ' ' ':')
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:verify_asan_link_order=0"
    export LD_PRELOAD ASAN_OPTIONS
fi

# --- the module under test ---------------------------------------------------

[ -n "${KZP11_MODULE:-}" ] ||
    fail "KZP11_MODULE is not set (run the tests through 'make check')"
[ -f "$KZP11_MODULE" ] && [ -r "$KZP11_MODULE" ] ||
    fail "KZP11_MODULE='$KZP11_MODULE' is not a readable file (is the module built?)"

need_tool openssl openssl

# --- the fixtures ------------------------------------------------------------

KZ_FIXTURES=
for kz_d in "${KZP11_SHARED:+$KZP11_SHARED/fixtures/nca/rsa-personal}" \
    "${KZP11_SRCDIR:+$KZP11_SRCDIR/tests/fixtures/nca/rsa-personal}"; do
    [ -n "$kz_d" ] || continue
    if ls "$kz_d"/*.p12 >/dev/null 2>&1; then
        KZ_FIXTURES=$kz_d
        break
    fi
done
[ -n "$KZ_FIXTURES" ] ||
    fail "no RSA fixtures: neither \$KZP11_SHARED/fixtures/nca/rsa-personal nor \$KZP11_SRCDIR/tests/fixtures/nca/rsa-personal holds *.p12"

# kz_container PREFIX FILE.p12: extracts the certificate and sets
#   ${PREFIX}_P12     the container
#   ${PREFIX}_BASE    file name without .p12
#   ${PREFIX}_HEX     the hex part of the name (= SKI = CKA_ID = CKA_LABEL)
#   ${PREFIX}_LABEL   expected token label (name cut to 32 bytes)
#   ${PREFIX}_SERIAL  expected token serial (first 16 hex characters)
#   ${PREFIX}_CERT / _CERT_DER   certificate, PEM and DER
#   ${PREFIX}_PUB / _PUB_DER     its public key (SubjectPublicKeyInfo)
kz_container() {
    kz_c_p12=$2
    kz_c_base=$(basename "$kz_c_p12" .p12)
    kz_c_hex=${kz_c_base##*_}
    kz_c_dir=$KZ_TMP/fixture-certs
    mkdir -p "$kz_c_dir" || fail "mkdir $kz_c_dir"
    kz_c_cert=$kz_c_dir/$kz_c_base.pem
    openssl pkcs12 -legacy -nokeys -passin "pass:$KZ_PIN" -in "$kz_c_p12" 2>"$kz_c_dir/err" |
        openssl x509 -out "$kz_c_cert" 2>>"$kz_c_dir/err"
    [ -s "$kz_c_cert" ] || {
        kz_show "$kz_c_dir/err"
        fail "cannot extract the certificate from $kz_c_p12"
    }
    openssl x509 -in "$kz_c_cert" -outform DER -out "$kz_c_dir/$kz_c_base.der" ||
        fail "cannot convert the certificate of $kz_c_base to DER"
    openssl x509 -in "$kz_c_cert" -noout -pubkey >"$kz_c_dir/$kz_c_base.pub.pem" ||
        fail "cannot get the public key of $kz_c_base"
    openssl pkey -pubin -in "$kz_c_dir/$kz_c_base.pub.pem" -outform DER \
        -out "$kz_c_dir/$kz_c_base.pub.der" || fail "cannot convert the public key of $kz_c_base"
    # The whole contract hangs on: file name hex = SKI of the certificate.
    kz_c_ski=$(openssl x509 -in "$kz_c_cert" -noout -ext subjectKeyIdentifier 2>/dev/null |
        sed -n 's/^ *\([0-9A-Fa-f:]*\) *$/\1/p' | tr -d ':\n' | tr 'A-F' 'a-f')
    [ "$kz_c_ski" = "$kz_c_hex" ] ||
        fail "fixture $kz_c_base: certificate SKI '$kz_c_ski' is not the hex in the file name"
    eval "${1}_P12=\$kz_c_p12"
    eval "${1}_BASE=\$kz_c_base"
    eval "${1}_HEX=\$kz_c_hex"
    eval "${1}_LABEL=\$(printf '%s' \"\$kz_c_base\" | cut -c1-32)"
    eval "${1}_SERIAL=\$(printf '%s' \"\$kz_c_hex\" | cut -c1-16)"
    eval "${1}_CERT=\$kz_c_cert"
    eval "${1}_CERT_DER=\$kz_c_dir/\$kz_c_base.der"
    eval "${1}_PUB=\$kz_c_dir/\$kz_c_base.pub.pem"
    eval "${1}_PUB_DER=\$kz_c_dir/\$kz_c_base.pub.der"
}

# The signing container (RSA256_*, digitalSignature + nonRepudiation) and the
# authentication container (AUTH_RSA256_*, + keyEncipherment).
kz_sign_p12=
kz_auth_p12=
for kz_f in "$KZ_FIXTURES"/*.p12; do
    case $(basename "$kz_f") in
        AUTH_RSA256_*.p12)
            [ -z "$kz_auth_p12" ] || fail "more than one AUTH_RSA256_*.p12 in $KZ_FIXTURES"
            kz_auth_p12=$kz_f ;;
        RSA256_*.p12)
            [ -z "$kz_sign_p12" ] || fail "more than one RSA256_*.p12 in $KZ_FIXTURES"
            kz_sign_p12=$kz_f ;;
        *) fail "unexpected fixture $kz_f" ;;
    esac
done
[ -n "$kz_sign_p12" ] || fail "no RSA256_*.p12 in $KZ_FIXTURES"
[ -n "$kz_auth_p12" ] || fail "no AUTH_RSA256_*.p12 in $KZ_FIXTURES"
kz_container SIGN "$kz_sign_p12"
kz_container AUTH "$kz_auth_p12"

# The folder every test uses as KZP11_KEYSTORE unless it builds its own: a
# copy, because the module writes to containers (and a lock file beside
# them) when asked to change them, and the fixtures must never change.
KZ_KEYSTORE=$KZ_TMP/keystore
mkdir -p "$KZ_KEYSTORE" && cp "$KZ_FIXTURES"/*.p12 "$KZ_KEYSTORE"/ ||
    fail "cannot copy the fixtures to $KZ_KEYSTORE"

# --- verification with OpenSSL (independent of the module) -------------------

# kz_verify_dgst PUB DATA SIG HASH [SIGOPT...]: an `openssl dgst` signature
# (hash-and-sign) over DATA must verify.
kz_verify_dgst() {
    kz_v_pub=$1 kz_v_data=$2 kz_v_sig=$3 kz_v_hash=$4
    shift 4
    kz_v_opts=
    for kz_v_o in "$@"; do kz_v_opts="$kz_v_opts -sigopt $kz_v_o"; done
    assert_nonempty "$kz_v_sig" "signature file"
    # shellcheck disable=SC2086
    if openssl dgst "-$kz_v_hash" -verify "$kz_v_pub" $kz_v_opts -signature "$kz_v_sig" \
        "$kz_v_data" >"$KZ_TMP/verify.out" 2>&1 &&
        grep -q '^Verified OK' "$KZ_TMP/verify.out"; then
        return 0
    fi
    kz_show "$KZ_TMP/verify.out"
    fail "signature $kz_v_sig over $kz_v_data does not verify ($kz_v_hash $*)"
}

# kz_verify_dgst_fails: same arguments; the verification must fail.
kz_verify_dgst_fails() {
    kz_v_pub=$1 kz_v_data=$2 kz_v_sig=$3 kz_v_hash=$4
    shift 4
    kz_v_opts=
    for kz_v_o in "$@"; do kz_v_opts="$kz_v_opts -sigopt $kz_v_o"; done
    # shellcheck disable=SC2086
    if openssl dgst "-$kz_v_hash" -verify "$kz_v_pub" $kz_v_opts -signature "$kz_v_sig" \
        "$kz_v_data" >"$KZ_TMP/verify.out" 2>&1; then
        kz_show "$KZ_TMP/verify.out"
        fail "signature $kz_v_sig verified over $kz_v_data, which it must not"
    fi
    grep -q '^Verified OK' "$KZ_TMP/verify.out" &&
        fail "openssl printed 'Verified OK' for a bad signature"
    return 0
}

# kz_verify_pkeyutl PUB HASHFILE SIG PKEYOPT...: a signature over an already
# computed hash must verify.
kz_verify_pkeyutl() {
    kz_v_pub=$1 kz_v_in=$2 kz_v_sig=$3
    shift 3
    kz_v_opts=
    for kz_v_o in "$@"; do kz_v_opts="$kz_v_opts -pkeyopt $kz_v_o"; done
    assert_nonempty "$kz_v_sig" "signature file"
    # shellcheck disable=SC2086
    if openssl pkeyutl -verify -pubin -inkey "$kz_v_pub" -in "$kz_v_in" -sigfile "$kz_v_sig" \
        $kz_v_opts >"$KZ_TMP/verify.out" 2>&1 &&
        grep -q 'Signature Verified Successfully' "$KZ_TMP/verify.out"; then
        return 0
    fi
    kz_show "$KZ_TMP/verify.out"
    fail "signature $kz_v_sig over the hash $kz_v_in does not verify ($*)"
}

# Lower-case hex dump of a file on one line.
kz_hex() {
    od -An -v -tx1 "$1" | tr -d ' \n'
}

# File size in bytes.
kz_size() {
    wc -c <"$1" | tr -d ' '
}

# --- GOST --------------------------------------------------------------------

# tc26_pubkey CERT.der OUT.pem: the certificate's GOST 512 public key as a
# SubjectPublicKeyInfo with the TC26 algorithm and curve OIDs, for OpenSSL's
# gost engine, which does not know the Kazakh ones (needs the engine).
tc26_pubkey() {
    # The first BIT STRING of a certificate is its subjectPublicKey.
    off=$(openssl asn1parse -inform DER -in "$1" | awk -F: '/BIT STRING/ { print $1; exit }' | tr -d ' ')
    [ -n "$off" ] || fail "no BIT STRING in $1"
    hex=$(openssl asn1parse -inform DER -in "$1" -strparse "$off" |
        sed -n 's/.*OCTET STRING *\[HEX DUMP\]://p')
    [ "${#hex}" -eq 256 ] || fail "$1: expected a 128-byte GOST 512 key, got '${hex}'"
    cat >"$KZ_TMP/spki.cnf" <<CNF
asn1=SEQUENCE:spki
[spki]
alg=SEQUENCE:alg
key=FORMAT:HEX,BITSTRING:048180$hex
[alg]
oid=OID:1.2.643.7.1.1.1.2
params=SEQUENCE:params
[params]
curve=OID:1.2.643.7.1.2.1.2.1
digest=OID:1.2.643.7.1.1.2.3
CNF
    openssl asn1parse -genconf "$KZ_TMP/spki.cnf" -out "$KZ_TMP/spki.der" >/dev/null ||
        fail "cannot build the TC26 SubjectPublicKeyInfo"
    openssl pkey -engine gost -pubin -inform DER -in "$KZ_TMP/spki.der" -out "$2" 2>"$KZ_TMP/pkey.err" ||
        { kz_show "$KZ_TMP/pkey.err"; fail "the gost engine rejects the re-labelled key of $1"; }
}
