#!/bin/sh
# kzp11 loaded into a fresh NSS database: modutil registration, the tokens,
# certificates and keys as NSS sees them, a CSR and a CMS signature made by
# NSS with the token key and checked by OpenSSL.

kz_here=$(dirname "$0")
if [ -f "$kz_here/common.sh" ]; then
    . "$kz_here/common.sh"
elif [ -n "${KZP11_SRCDIR:-}" ] && [ -f "$KZP11_SRCDIR/tests/integration/common.sh" ]; then
    . "$KZP11_SRCDIR/tests/integration/common.sh"
else
    echo "FAIL: cannot find tests/integration/common.sh" >&2
    exit 1
fi

need_tool certutil libnss3-tools
need_tool modutil libnss3-tools
need_tool cmsutil libnss3-tools

T=$KZ_TMP
DB=sql:$T/nssdb
KZP11_KEYSTORE=$KZ_KEYSTORE
export KZP11_KEYSTORE
# NSS reads the password for every token from this file.
printf '%s\n' "$KZ_PIN" >"$T/pwfile"
chmod 600 "$T/pwfile"
printf '%s\n' "$KZ_WRONG_PIN" >"$T/badpwfile"

# The NSS nickname of a token certificate is "<token label>:<CKA_LABEL>".
SIGN_NICK=$SIGN_LABEL:$SIGN_HEX
AUTH_NICK=$AUTH_LABEL:$AUTH_HEX

# ---------------------------------------------------------------------------
note "fresh NSS database with kzp11 added by modutil"
mkdir -p "$T/nssdb" || fail "mkdir"
kz_ok "$T/n.out" "certutil -N" certutil -N -d "$DB" --empty-password
# modutil asks for confirmation on stdin unless -force; give it none.
kz_ok "$T/add.out" "modutil -add" modutil -dbdir "$DB" -add kzp11 -libfile "$KZP11_MODULE" -force </dev/null
assert_grep "$T/add.out" 'Module "kzp11" added to database' "modutil did not add the module"

kz_ok "$T/list.out" "modutil -list" modutil -dbdir "$DB" -list </dev/null
assert_grep "$T/list.out" '^ *[0-9]+\. kzp11$' "modutil -list does not show kzp11"
# Only NSS's own module and kzp11: nothing else (p11-kit proxy...) crept in.
assert_eq "$(grep -Ec '^ *[0-9]+\. ' "$T/list.out")" 2 "number of modules in the fresh NSS database"
# The kzp11 section runs from its header to the closing dashes.
sed -n '/^ *[0-9]*\. kzp11$/,/^---/p' "$T/list.out" >"$T/kzp11.section"
assert_grep "$T/kzp11.section" "library name: $KZP11_MODULE\$" "kzp11 listed with another library path"
assert_grep "$T/kzp11.section" 'status: loaded' "kzp11 is not loaded by NSS"
# Two containers and the folder's free slot (for new containers).
assert_grep "$T/kzp11.section" 'slots: 3 slots attached' "kzp11 should have 3 slots"
assert_grep "$T/kzp11.section" "token: $SIGN_LABEL\$" "modutil -list lacks token $SIGN_LABEL"
assert_grep "$T/kzp11.section" "token: $AUTH_LABEL\$" "modutil -list lacks token $AUTH_LABEL"
assert_grep "$T/kzp11.section" "serial=$SIGN_SERIAL;" "modutil -list lacks serial $SIGN_SERIAL"
assert_grep "$T/kzp11.section" "serial=$AUTH_SERIAL;" "modutil -list lacks serial $AUTH_SERIAL"
ok "kzp11 registered, loaded, 3 slots with the expected tokens"

# ---------------------------------------------------------------------------
for which in SIGN AUTH; do
    eval "label=\$${which}_LABEL hex=\$${which}_HEX nick=\$${which}_NICK cert_der=\$${which}_CERT_DER"
    note "certutil sees the certificate and the key of $label"
    kz_ok "$T/certs.out" "certutil -L -h $label" certutil -L -d "$DB" -h "$label" -f "$T/pwfile"
    assert_grep "$T/certs.out" "^$nick +u,u,u\$" "certutil -L does not list '$nick' as a user certificate"
    ncert=$(grep -c "^$label:" "$T/certs.out")
    assert_eq "$ncert" 1 "number of certificates on $label"

    # certutil -L -n prints every certificate with the same subject as the
    # named one, and both fixture certificates have the same subject: the
    # container's certificate must be among them.
    echo "\$ certutil -L -d $DB -h $label -n $nick -a"
    certutil -L -d "$DB" -h "$label" -n "$nick" -f "$T/pwfile" -a >"$T/nss-$which.pem" \
        2>"$T/cert.err" </dev/null || { kz_show "$T/cert.err"; fail "certutil -L -n '$nick' -a failed"; }
    rm -f "$T"/nsscert.*
    awk -v p="$T/nsscert." '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (p n) }' "$T/nss-$which.pem"
    found=
    for c in "$T"/nsscert.*; do
        [ -f "$c" ] || continue
        openssl x509 -in "$c" -outform DER -out "$c.der" || fail "certutil printed a bad certificate"
        cmp -s "$c.der" "$cert_der" && found=yes
    done
    [ -n "$found" ] || fail "certutil -L -n '$nick' did not return the container's certificate"

    kz_ok "$T/keys.out" "certutil -K -h $label" certutil -K -d "$DB" -h "$label" -f "$T/pwfile"
    assert_grep "$T/keys.out" "rsa +$hex +($label:)?$hex\$" "certutil -K does not show the RSA key with CKA_ID $hex"
    ok "$label: certificate '$nick' and its RSA key (CKA_ID $hex)"
done

note "wrong password is refused"
kz_fails "$T/badkeys.out" "certutil -K with a wrong password" \
    certutil -K -d "$DB" -h "$SIGN_LABEL" -f "$T/badpwfile"
assert_no_grep "$T/badkeys.out" "rsa +$SIGN_HEX" "keys listed with a wrong password"
ok "wrong password: no keys"

# ---------------------------------------------------------------------------
note "certificate request signed by NSS with the token key"
kz_ok "$T/csr.out" "certutil -R" certutil -R -d "$DB" -f "$T/pwfile" -h "$SIGN_LABEL" \
    -k "$SIGN_HEX" -s "CN=kzp11 NSS test,O=kzp11" -Z SHA256 -a -o "$T/req.pem"
assert_nonempty "$T/req.pem" "certutil -R output"
kz_ok "$T/reqv.out" "openssl req -verify" openssl req -in "$T/req.pem" -verify -noout
assert_grep "$T/reqv.out" 'verify OK|Certificate request self-signature verify OK' \
    "the CSR's self-signature does not verify"
openssl req -in "$T/req.pem" -noout -pubkey >"$T/req.pub" || fail "no public key in the CSR"
openssl pkey -pubin -in "$T/req.pub" -outform DER -out "$T/req.pub.der" || fail "bad CSR key"
assert_same_file "$T/req.pub.der" "$SIGN_PUB_DER" "public key in the CSR"
ok "CSR signed with the token key verifies"

# ---------------------------------------------------------------------------
note "CMS signature by NSS (cmsutil), verified by OpenSSL"
printf 'Document signed through NSS and kzp11.\n' >"$T/data"
printf 'Document signed through NSS and kzp11!\n' >"$T/data.tampered"
# -Y NONE: no encryption-key-preference attribute (the signing certificate
# has no keyEncipherment, and NSS would go looking for another one).
kz_ok "$T/cms.out" "cmsutil -S detached" cmsutil -S -N "$SIGN_NICK" -Y NONE -T -G -H SHA256 \
    -d "$DB" -f "$T/pwfile" -i "$T/data" -o "$T/sig.p7"
assert_nonempty "$T/sig.p7" "cmsutil output"
kz_ok "$T/cmsv.out" "openssl cms -verify (detached)" openssl cms -verify -noverify -binary \
    -inform DER -in "$T/sig.p7" -content "$T/data" -signer "$T/signer.pem" -out /dev/null
assert_grep "$T/cmsv.out" 'Verification successful' "openssl did not verify the CMS signature"
openssl x509 -in "$T/signer.pem" -outform DER -out "$T/signer.der" || fail "no signer certificate"
assert_same_file "$T/signer.der" "$SIGN_CERT_DER" "signer certificate in the CMS"
kz_fails "$T/cmsbad.out" "openssl cms -verify over tampered content" openssl cms -verify -noverify \
    -binary -inform DER -in "$T/sig.p7" -content "$T/data.tampered" -out /dev/null
assert_no_grep "$T/cmsbad.out" 'Verification successful' "tampered content verified"

kz_ok "$T/cms2.out" "cmsutil -S attached" cmsutil -S -N "$SIGN_NICK" -Y NONE \
    -d "$DB" -f "$T/pwfile" -i "$T/data" -o "$T/att.p7"
kz_ok "$T/cmsv2.out" "openssl cms -verify (attached)" openssl cms -verify -noverify -binary \
    -inform DER -in "$T/att.p7" -out "$T/att.content"
assert_same_file "$T/att.content" "$T/data" "content of the attached CMS"
ok "detached and attached CMS signatures verify; tampering is detected"

note "CMS signature with the AUTH key (SSL client usage)"
kz_ok "$T/cms3.out" "cmsutil -S with AUTH" cmsutil -S -N "$AUTH_NICK" -Y NONE -T -u 0 \
    -d "$DB" -f "$T/pwfile" -i "$T/data" -o "$T/auth.p7"
kz_ok "$T/cmsv3.out" "openssl cms -verify (AUTH)" openssl cms -verify -noverify -binary \
    -inform DER -in "$T/auth.p7" -content "$T/data" -signer "$T/auth-signer.pem" -out /dev/null
openssl x509 -in "$T/auth-signer.pem" -outform DER -out "$T/auth-signer.der" || fail "no signer"
assert_same_file "$T/auth-signer.der" "$AUTH_CERT_DER" "signer certificate in the AUTH CMS"
ok "AUTH key signs through NSS"

echo "PASS: $KZ_TEST_NAME"
exit 0
