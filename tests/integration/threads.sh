#!/bin/sh
# Runs the C test program test_threads (built by 'make check' as a check_PROGRAM)
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
PROG=$KZP11_BUILDDIR/tests/integration/test_threads
[ -x "$PROG" ] || fail "$PROG is not built (it is a check_PROGRAM: run 'make check')"

KZP11_KEYSTORE=$KZ_KEYSTORE
export KZP11_KEYSTORE

need_tool timeout coreutils

note "test_threads"
# A deadlock in the module must fail the test, not hang the build.
if kz_run "$KZ_TMP/threads.out" timeout 600 "$PROG"; then
    rc=0
else
    rc=$?
fi
sed 's/^/    /' "$KZ_TMP/threads.out"
[ "$rc" -ne 124 ] || fail "test_threads did not finish within 600 s (deadlock?)"
[ "$rc" -eq 0 ] || fail "test_threads exited with status $rc"
assert_grep "$KZ_TMP/threads.out" '^PASS: test_threads$' "test_threads did not report PASS"
assert_no_grep "$KZ_TMP/threads.out" '^FAIL' "test_threads reported a failure"
assert_grep "$KZ_TMP/threads.out" '^part 1: 4000 signed, 4000 verified, 0 failed, of 4000' \
    "not all 8 x 500 signatures were made and verified"
assert_grep "$KZ_TMP/threads.out" '^part 2: mutexes created [1-9]' "the mutex callbacks were not used"

echo "PASS: $KZ_TEST_NAME"
exit 0
