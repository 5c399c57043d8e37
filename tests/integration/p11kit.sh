#!/bin/sh
# Registration with p11-kit through the generated p11-kit/kzp11.module: the
# file itself, `p11-kit list-modules`, and the p11-kit proxy module used by
# pkcs11-tool to list the tokens and sign.
#
# p11-kit reads ~/.config/pkcs11/modules only for unprivileged users ("skipping
# user config in program running as root"), so when the tests run as root the
# p11-kit consumers run as nobody (setpriv) against a private HOME.

kz_here=$(dirname "$0")
if [ -f "$kz_here/common.sh" ]; then
    . "$kz_here/common.sh"
elif [ -n "${KZP11_SRCDIR:-}" ] && [ -f "$KZP11_SRCDIR/tests/integration/common.sh" ]; then
    . "$KZP11_SRCDIR/tests/integration/common.sh"
else
    echo "FAIL: cannot find tests/integration/common.sh" >&2
    exit 1
fi

need_tool p11-kit p11-kit
need_tool pkcs11-tool opensc
need_tool pkg-config pkg-config

T=$KZ_TMP

# ---------------------------------------------------------------------------
note "the generated p11-kit/kzp11.module"
[ -n "${KZP11_BUILDDIR:-}" ] || fail "KZP11_BUILDDIR is not set (run the tests through 'make check')"
MODFILE=$KZP11_BUILDDIR/p11-kit/kzp11.module
[ -f "$MODFILE" ] || fail "$MODFILE does not exist (configure should generate it from kzp11.module.in)"
grep -E '^[[:space:]]*module[[:space:]]*:' "$MODFILE" >"$T/modline" || true
assert_eq "$(wc -l <"$T/modline" | tr -d ' ')" 1 "number of 'module:' lines in $MODFILE"
modpath=$(sed 's/^[[:space:]]*module[[:space:]]*:[[:space:]]*//; s/[[:space:]]*$//' "$T/modline")
case $modpath in
    *'$'* | *'@'*) fail "$MODFILE: 'module: $modpath' holds an unexpanded variable" ;;
esac
case $modpath in
    /*/pkcs11/kzp11.so) ;;
    *) fail "$MODFILE: 'module: $modpath' is not an absolute path ending in pkcs11/kzp11.so" ;;
esac
ok "module: $modpath"

# ---------------------------------------------------------------------------
note "a private p11-kit user configuration registering the built module"
PROXY=$(pkg-config --variable=proxy_module p11-kit-1 2>/dev/null)
[ -n "$PROXY" ] && [ -f "$PROXY" ] ||
    fail "the p11-kit proxy module was not found (pkg-config --variable=proxy_module p11-kit-1 gave '$PROXY'; Debian packages p11-kit-modules and libp11-kit-dev)"

# As root the consumers run as nobody, who may not be able to read the build
# tree: they then load a copy of the module from the private directory.
P11KIT_MODULE_PATH=$KZP11_MODULE
if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$T/lib" && cp "$KZP11_MODULE" "$T/lib/kzp11.so" || fail "cannot copy the module"
    P11KIT_MODULE_PATH=$T/lib/kzp11.so
fi

umods=$HOME/.config/pkcs11/modules
mkdir -p "$umods" || fail "mkdir $umods"
# The generated file, with its module: line pointing at the built module.
{
    grep -v -E '^[[:space:]]*module[[:space:]]*:' "$MODFILE"
    printf 'module: %s\n' "$P11KIT_MODULE_PATH"
} >"$umods/kzp11.module"
# Keep the modules registered on this machine out of the way: a user file of
# the same name is merged over the system one.
sysdirs="/etc/pkcs11/modules /usr/share/p11-kit/modules $(pkg-config --variable=p11_module_configs p11-kit-1 2>/dev/null)"
for d in $sysdirs; do
    for f in "$d"/*.module; do
        [ -f "$f" ] || continue
        b=$(basename "$f")
        [ "$b" = kzp11.module ] && continue
        printf 'enable-in: kzp11-integration-test-none\n' >"$umods/$b"
    done
done
# user-config: none in the system configuration would hide all of this.
if [ -f /etc/pkcs11/pkcs11.conf ] &&
    grep -Eq '^[[:space:]]*user-config[[:space:]]*:[[:space:]]*none' /etc/pkcs11/pkcs11.conf; then
    fail "/etc/pkcs11/pkcs11.conf has 'user-config: none'; p11-kit would ignore the test's module file"
fi

mkdir -p "$T/keystore" "$T/out" || fail "mkdir"
cp "$SIGN_P12" "$AUTH_P12" "$T/keystore/" || fail "copy fixtures"
printf 'Data signed through the p11-kit proxy.\n' >"$T/data"
KZP11_KEYSTORE=$T/keystore
export KZP11_KEYSTORE

if [ "$(id -u)" -eq 0 ]; then
    need_tool setpriv util-linux
    nobody_uid=$(id -u nobody 2>/dev/null) || nobody_uid=65534
    nobody_gid=$(id -g nobody 2>/dev/null) || nobody_gid=65534
    RUN_AS="setpriv --reuid=$nobody_uid --regid=$nobody_gid --clear-groups --"
    chmod 755 "$T" && chmod -R a+rX "$T" && chmod 1777 "$T/out" || fail "chmod $T"
    setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups -- \
        sh -c 'test -r "$1" && test -r "$2"' sh "$P11KIT_MODULE_PATH" "$T/keystore/$(basename "$SIGN_P12")" ||
        fail "user nobody cannot read $P11KIT_MODULE_PATH or the keystore in $T"
    echo "(running as root: p11-kit consumers run as uid $nobody_uid)"
else
    RUN_AS=
fi
as_user() {
    # shellcheck disable=SC2086
    $RUN_AS "$@"
}

# ---------------------------------------------------------------------------
note "p11-kit list-modules"
kz_ok "$T/mods.out" "p11-kit list-modules" as_user p11-kit list-modules
awk '/^[^ \t]/ { blk = ($1 == "kzp11:") } blk' "$T/mods.out" >"$T/kzp11.block"
[ -s "$T/kzp11.block" ] || { kz_show "$T/mods.out"; fail "p11-kit list-modules does not show a 'kzp11' module"; }
assert_grep "$T/kzp11.block" "^kzp11: $P11KIT_MODULE_PATH\$" "kzp11 module path"
# Two containers and the folder's free slot (an uninitialised token).
assert_eq "$(grep -c '^    token: ' "$T/kzp11.block")" 3 "number of kzp11 tokens in p11-kit list-modules"
assert_grep "$T/kzp11.block" "^    token: $SIGN_LABEL\$" "p11-kit does not list token $SIGN_LABEL"
assert_grep "$T/kzp11.block" "^    token: $AUTH_LABEL\$" "p11-kit does not list token $AUTH_LABEL"
assert_grep "$T/kzp11.block" "serial-number: $SIGN_SERIAL\$" "p11-kit: serial of $SIGN_LABEL"
assert_grep "$T/kzp11.block" "serial-number: $AUTH_SERIAL\$" "p11-kit: serial of $AUTH_LABEL"
assert_grep "$T/kzp11.block" '^ +login-required$' "p11-kit: token flag login-required"
ok "p11-kit loads kzp11 from the module file and sees both tokens"

# ---------------------------------------------------------------------------
note "the p11-kit proxy module ($PROXY)"
kz_ok "$T/proxy-list.out" "pkcs11-tool -L through the proxy" as_user pkcs11-tool --module "$PROXY" -L
assert_eq "$(grep -c '^Slot ' "$T/proxy-list.out")" 3 "number of slots through the proxy"
assert_grep "$T/proxy-list.out" "^  token label *: $SIGN_LABEL\$" "proxy: token $SIGN_LABEL"
assert_grep "$T/proxy-list.out" "^  token label *: $AUTH_LABEL\$" "proxy: token $AUTH_LABEL"
assert_grep "$T/proxy-list.out" "^  serial num *: $SIGN_SERIAL\$" "proxy: serial $SIGN_SERIAL"

kz_ok "$T/proxy-objs.out" "pkcs11-tool -O --login through the proxy" as_user pkcs11-tool \
    --module "$PROXY" --token-label "$AUTH_LABEL" --login --pin "$KZ_PIN" -O
assert_eq "$(grep -c ' Object; ' "$T/proxy-objs.out")" 3 "objects on $AUTH_LABEL through the proxy"
assert_eq "$(grep -c "^  ID: *$AUTH_HEX\$" "$T/proxy-objs.out")" 3 "objects with ID $AUTH_HEX through the proxy"

kz_ok "$T/proxy-sign.out" "pkcs11-tool --sign through the proxy" as_user pkcs11-tool \
    --module "$PROXY" --token-label "$SIGN_LABEL" --login --pin "$KZ_PIN" --sign -m SHA256-RSA-PKCS \
    -i "$T/data" -o "$T/out/sig"
kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/out/sig" sha256
kz_ok "$T/proxy-pss.out" "pkcs11-tool PSS sign through the proxy" as_user pkcs11-tool \
    --module "$PROXY" --token-label "$SIGN_LABEL" --login --pin "$KZ_PIN" --sign \
    -m SHA256-RSA-PKCS-PSS -i "$T/data" -o "$T/out/sig.pss"
kz_verify_dgst "$SIGN_PUB" "$T/data" "$T/out/sig.pss" sha256 rsa_padding_mode:pss \
    rsa_pss_saltlen:32 rsa_mgf1_md:sha256
kz_fails "$T/proxy-bad.out" "wrong PIN through the proxy" as_user pkcs11-tool \
    --module "$PROXY" --token-label "$SIGN_LABEL" --login --pin "$KZ_WRONG_PIN" -O
assert_grep "$T/proxy-bad.out" 'CKR_PIN_INCORRECT' "wrong PIN through the proxy is not CKR_PIN_INCORRECT"
ok "the proxy lists the kzp11 tokens and signs with them"

echo "PASS: $KZ_TEST_NAME"
exit 0
