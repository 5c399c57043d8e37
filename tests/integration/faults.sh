#!/bin/sh
# A container is never left half-written: with write, fsync or rename
# failing (an LD_PRELOAD fault injector) or the disk full, a password change
# reports an error and the container still opens with the old password,
# byte-for-byte unchanged. And 20 concurrent password changes from 4
# processes leave a container that opens with exactly one password.
. "$(dirname "$0")/common.sh"

need_tool pkcs11-tool opensc
FAULT_LIB=$KZP11_BUILDDIR/tests/fault/.libs/libkzfault.so
[ -f "$FAULT_LIB" ] || fail "fault injector not built: $FAULT_LIB"
NEW_PIN=NewPass123

dir=$KZ_TMP/keys
mkdir -p "$dir"
cp "$SIGN_P12" "$dir/"
cp "$SIGN_P12" "$KZ_TMP/original.p12"
container=$dir/$(basename "$SIGN_P12")
export KZP11_KEYSTORE="$dir"

p11() {
    pkcs11-tool --module "$KZP11_MODULE" --token-label "$SIGN_LABEL" "$@"
}

check_intact() {
    cmp -s "$container" "$KZ_TMP/original.p12" || fail "$1: the container changed"
    ls "$dir"/.kzp11-tmp-* >/dev/null 2>&1 && fail "$1: a temporary file was left behind"
    kz_ok "$KZ_TMP/o.out" "$1: login with the old password" p11 --login --pin "$KZ_PIN" -O
    assert_grep "$KZ_TMP/o.out" "Private Key Object" "$1: the key is still there"
    kz_fails "$KZ_TMP/n.out" "$1: login with the new password" p11 --login --pin "$NEW_PIN" -O
    assert_grep "$KZ_TMP/n.out" "CKR_PIN_INCORRECT" "$1: the new password does not open it"
}

preload=$FAULT_LIB
[ -n "${LD_PRELOAD:-}" ] && preload="$LD_PRELOAD:$FAULT_LIB"

for mode in write fsync rename enospc; do
    note "fault: $mode"
    KZFAULT=$mode LD_PRELOAD=$preload kz_run "$KZ_TMP/c.out" \
        p11 --login --pin "$KZ_PIN" --change-pin --new-pin "$NEW_PIN" && {
        kz_show "$KZ_TMP/c.out"
        fail "$mode: the password change reported success"
    }
    if [ "$mode" = enospc ]; then
        assert_grep "$KZ_TMP/c.out" "CKR_DEVICE_MEMORY" "enospc: a full disk is CKR_DEVICE_MEMORY"
    else
        assert_grep "$KZ_TMP/c.out" "CKR_DEVICE_ERROR" "$mode: reported as CKR_DEVICE_ERROR"
    fi
    check_intact "$mode"
done
ok "write, fsync, rename and ENOSPC failures leave the container intact"

# A real full disk, where we may mount one.
if [ "$(id -u)" -eq 0 ] && mkdir -p "$KZ_TMP/full" && mount -t tmpfs -o size=16k tmpfs "$KZ_TMP/full" 2>/dev/null; then
    cp "$SIGN_P12" "$KZ_TMP/full/"
    # Fill it up (dd stops at "no space left"); the sanitizer preload is
    # for the module's users, not for dd.
    env -u LD_PRELOAD dd if=/dev/zero of="$KZ_TMP/full/filler" bs=512 count=256 >/dev/null 2>&1 || true
    free_kb=$(df -k "$KZ_TMP/full" | awk 'NR == 2 { print $4 }')
    [ "$free_kb" -lt 4 ] || { umount "$KZ_TMP/full"; fail "tmpfs: could not fill the disk ($free_kb KiB free)"; }
    KZP11_KEYSTORE=$KZ_TMP/full kz_run "$KZ_TMP/c.out" \
        p11 --login --pin "$KZ_PIN" --change-pin --new-pin "$NEW_PIN"
    rc=$?
    KZP11_KEYSTORE=$KZ_TMP/full kz_run "$KZ_TMP/o.out" p11 --login --pin "$KZ_PIN" -O
    rc2=$?
    intact=0
    cmp -s "$KZ_TMP/full/$(basename "$SIGN_P12")" "$KZ_TMP/original.p12" && intact=1
    umount "$KZ_TMP/full"
    [ "$rc" -ne 0 ] || fail "tmpfs: the password change on a full disk reported success"
    assert_grep "$KZ_TMP/c.out" "CKR_DEVICE_MEMORY" "tmpfs: a full disk is CKR_DEVICE_MEMORY"
    [ "$rc2" -eq 0 ] || fail "tmpfs: the old password no longer opens the container"
    [ "$intact" -eq 1 ] || fail "tmpfs: the container changed"
    ok "a full tmpfs leaves the container intact"
else
    note "not root (or no tmpfs): the full disk is covered by the ENOSPC injection above"
fi

# Racing password changes.
note "20 concurrent password changes from 4 processes"
race=$KZ_TMP/race
mkdir -p "$race"
cp "$SIGN_P12" "$race/"
KZP11_KEYSTORE=$race RACE_TOKEN=$SIGN_LABEL kz_ok "$KZ_TMP/race.out" "racing C_SetPIN" \
    "$KZP11_BUILDDIR/tests/integration/test_setpin_race"
cat "$KZ_TMP/race.out"
ok "concurrent password changes serialise"
