#!/bin/sh
# kzp11 driven by GnuTLS's p11tool: tokens, objects after login, test
# signatures (RSA and RSA-PSS) checked by p11tool itself, and the exported
# certificate.

kz_here=$(dirname "$0")
if [ -f "$kz_here/common.sh" ]; then
    . "$kz_here/common.sh"
elif [ -n "${KZP11_SRCDIR:-}" ] && [ -f "$KZP11_SRCDIR/tests/integration/common.sh" ]; then
    . "$KZP11_SRCDIR/tests/integration/common.sh"
else
    echo "FAIL: cannot find tests/integration/common.sh" >&2
    exit 1
fi

need_tool p11tool gnutls-bin

T=$KZ_TMP
KZP11_KEYSTORE=$KZ_KEYSTORE
export KZP11_KEYSTORE

p11t() {
    p11tool --provider "$KZP11_MODULE" "$@"
}

# ---------------------------------------------------------------------------
note "p11tool --list-tokens"
kz_ok "$T/tokens.out" "p11tool --list-tokens" p11t --list-tokens
ntok=$(grep -c '^Token [0-9]*:' "$T/tokens.out")
# Two containers and the folder's free slot (an uninitialised token).
assert_eq "$ntok" 3 "number of tokens listed by p11tool"
for which in SIGN AUTH; do
    eval "label=\$${which}_LABEL serial=\$${which}_SERIAL"
    # The block of this token: from its Label: line to the next blank line.
    awk -v l="$label" '
        /^Token [0-9]+:/ { blk = "" }
        { blk = blk $0 "\n" }
        /^\tLabel: / { if (substr($0, 9) == l) hit = 1 }
        /^$/ { if (hit) { printf "%s", blk; exit } }
        END { if (hit) printf "%s", blk }
    ' "$T/tokens.out" >"$T/tok-$which.txt"
    assert_nonempty "$T/tok-$which.txt" "p11tool does not list token '$label'"
    assert_grep "$T/tok-$which.txt" "^	Serial: $serial\$" "token '$label' serial"
    assert_grep "$T/tok-$which.txt" "^	Flags: .*Requires login" "token '$label' does not require login"
    assert_grep "$T/tok-$which.txt" "^	URL: pkcs11:.*token=$label" "token '$label' URL"
done
ok "both tokens listed with their serials"

# ---------------------------------------------------------------------------
for which in SIGN AUTH; do
    eval "label=\$${which}_LABEL hex=\$${which}_HEX cert_der=\$${which}_CERT_DER"
    tok="pkcs11:token=$label"
    obj="pkcs11:token=$label;object=$hex"

    note "$label: objects"
    # p11tool exits non-zero when it finds nothing: check what it printed.
    kz_run "$T/nologin.out" p11t --list-all "$tok" || true
    assert_no_grep "$T/nologin.out" '^Object [0-9]+:' "objects visible on $label before login"
    assert_grep "$T/nologin.out" '^No matching objects found' "p11tool --list-all without login on $label"
    kz_ok "$T/all.out" "p11tool --login --list-all" p11t --login --set-pin="$KZ_PIN" --list-all "$tok"
    assert_eq "$(grep -c '^Object [0-9]*:' "$T/all.out")" 3 "number of objects on $label after login"
    assert_grep "$T/all.out" '^	Type: Private key \(RSA-2048\)' "$label: no RSA-2048 private key"
    assert_grep "$T/all.out" '^	Type: Public key \(RSA-2048\)' "$label: no RSA-2048 public key"
    assert_grep "$T/all.out" '^	Type: X\.509 Certificate \(RSA-2048\)' "$label: no certificate"
    assert_eq "$(grep -c "^	Label: $hex\$" "$T/all.out")" 3 "$label: objects labelled $hex"
    colon_id=$(printf '%s' "$hex" | sed 's/\(..\)/\1:/g; s/:$//')
    assert_eq "$(grep -c "^	ID: $colon_id\$" "$T/all.out")" 3 "$label: objects with ID $hex"
    ok "$label: 3 objects, label and ID $hex"

    note "$label: exported certificate"
    # GNUTLS_PIN is the documented alternative to --set-pin.
    GNUTLS_PIN=$KZ_PIN
    export GNUTLS_PIN
    kz_ok "$T/export.out" "p11tool --export" p11t --login --export "$obj;type=cert"
    unset GNUTLS_PIN
    openssl x509 -in "$T/export.out" -outform DER -out "$T/export-$which.der" ||
        fail "p11tool --export printed no certificate"
    assert_same_file "$T/export-$which.der" "$cert_der" "certificate exported by p11tool"
    ok "$label: exported certificate is the container's"

    note "$label: p11tool --test-sign (RSA PKCS#1 v1.5 and RSA-PSS)"
    for params in "" "RSA-PSS"; do
        # shellcheck disable=SC2086
        kz_ok "$T/ts.out" "p11tool --test-sign ${params:-RSA}" p11t --login --set-pin="$KZ_PIN" \
            --test-sign ${params:+--sign-params "$params"} "$obj"
        if [ -n "$params" ]; then
            assert_grep "$T/ts.out" '^Signing using RSA-PSS-SHA256\.\.\. ok$' "$label: PSS test signature"
        else
            assert_grep "$T/ts.out" '^Signing using RSA-SHA256\.\.\. ok$' "$label: RSA test signature"
        fi
        assert_grep "$T/ts.out" '^Verifying against private key parameters\.\.\. ok$' \
            "$label: signature does not verify against the key parameters"
        assert_grep "$T/ts.out" '^Verifying against public key in the token\.\.\. ok$' \
            "$label: signature does not verify against the token's public key"
        assert_no_grep "$T/ts.out" 'failed|error|Error' "$label: p11tool reported an error"
    done
    ok "$label: test signatures verified"
done

# ---------------------------------------------------------------------------
note "wrong PIN"
kz_fails "$T/bad.out" "p11tool --test-sign with a wrong PIN" \
    p11t --login --set-pin="$KZ_WRONG_PIN" --test-sign "pkcs11:token=$SIGN_LABEL;object=$SIGN_HEX"
assert_no_grep "$T/bad.out" '\.\.\. ok$' "something was signed with a wrong PIN"
ok "refused"

echo "PASS: $KZ_TEST_NAME"
exit 0
