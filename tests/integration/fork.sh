#!/bin/sh
# Runs the C test program test_fork (built by 'make check' as a check_PROGRAM)
# against the module with KZP11_KEYSTORE set to the RSA fixtures.

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
PROG=$KZP11_BUILDDIR/tests/integration/test_fork
[ -x "$PROG" ] || fail "$PROG is not built (it is a check_PROGRAM: run 'make check')"

KZP11_KEYSTORE=$KZ_KEYSTORE
export KZP11_KEYSTORE

need_tool timeout coreutils

note "test_fork"
# A deadlock in the module must fail the test, not hang the build.
if kz_run "$KZ_TMP/fork.out" timeout 600 "$PROG"; then
    rc=0
else
    rc=$?
fi
sed 's/^/    /' "$KZ_TMP/fork.out"
[ "$rc" -ne 124 ] || fail "test_fork did not finish within 600 s (deadlock?)"
[ "$rc" -eq 0 ] || fail "test_fork exited with status $rc"
assert_grep "$KZ_TMP/fork.out" '^PASS: test_fork$' "test_fork did not report PASS"
assert_no_grep "$KZ_TMP/fork.out" '^FAIL' "test_fork reported a failure"
assert_grep "$KZ_TMP/fork.out" '^child: signed and verified$' "the child did not sign after C_Initialize"
assert_grep "$KZ_TMP/fork.out" '^parent after child 2: signed and verified$' \
    "the parent's session did not survive the children"

echo "PASS: $KZ_TEST_NAME"
exit 0
