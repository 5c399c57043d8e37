#!/bin/sh
# Reader slots against a real pcscd. Starts the card bench (tests/cards/bench:
# a private pcscd with vsmartcard's vpcd reader and a Kaztoken simulator; the
# system's pcscd is never touched) and runs two C programs built by
# 'make check':
#   test_readers     the module loaded with dlopen(), PKCS#11 calls only:
#                    lazy PC/SC, reader slots, card and reader events
#                    (blocking and CKF_DONT_BLOCK), C_Finalize waking
#                    waiters, readers added later (new slot IDs, the old
#                    ones kept), pcscd stopped and restarted under soft
#                    tokens;
#   test_card_bench  the core with a test driver that claims every card: a
#                    token in the reader, resets by another program, removal
#                    mid-session, swaps, another program's transaction, and
#                    the APDU trace, which must not show the PIN.

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
PROG=$KZP11_BUILDDIR/tests/integration/test_readers
PROG2=$KZP11_BUILDDIR/tests/integration/test_card_bench
for p in "$PROG" "$PROG2"; do
    [ -x "$p" ] || fail "$p is not built (it is a check_PROGRAM: run 'make check')"
done
BENCH=$KZP11_SRCDIR/tests/cards/bench
[ -x "$BENCH" ] || fail "the card bench $BENCH is missing"
need_tool timeout coreutils

# A bench of this test's own (its run folder in the test's temporary
# folder, its own TCP ports): parallel builds never share one.
KZ_BENCH_DIR=$KZ_TMP/bench
KZ_BENCH_BINDIR=${KZ_BENCH_BINDIR:-$KZP11_BUILDDIR/tests/cards}
export KZ_BENCH_DIR KZ_BENCH_BINDIR
# The bench's daemons are not ours to instrument: no sanitizer runtime
# preloaded into pcscd or the simulator.
BENCH_CMD="env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS '$BENCH'"
bench() {
    eval "$BENCH_CMD \"\$@\""
}

note "bench up kaztoken"
if ! bench up kaztoken >"$KZ_TMP/up.out" 2>"$KZ_TMP/up.err"; then
    kz_show "$KZ_TMP/up.err"
    fail "'bench up kaztoken' failed"
fi
grep -q '^export PCSCLITE_CSOCK_NAME=' "$KZ_TMP/up.out" ||
    { kz_show "$KZ_TMP/up.out"; fail "'bench up' printed no PCSCLITE_CSOCK_NAME"; }
eval "$(cat "$KZ_TMP/up.out")"
trap 'bench down >/dev/null 2>&1; kz_cleanup' EXIT
KZ_BENCH_READER=$(bench reader-name 0) || fail "'bench reader-name 0' failed"
export KZ_BENCH_READER
ok "private pcscd at $PCSCLITE_CSOCK_NAME, reader \"$KZ_BENCH_READER\" holding a Kaztoken"

# What the programs do to the bench; the card is always reader 0's. pcscd
# comes back on the same socket (libpcsclite reads PCSCLITE_CSOCK_NAME once
# per process) with the same token in the reader; 'up' brings back 2
# readers, so readers added before are gone again, as if unplugged while
# pcscd was down.
KZ_BENCH_INSERT="$BENCH_CMD insert 0 kaztoken >/dev/null"
KZ_BENCH_REMOVE="$BENCH_CMD remove 0 >/dev/null"
KZ_BENCH_SWAP="$BENCH_CMD swap 0 kaztoken@second >/dev/null"
KZ_BENCH_PCSCD_STOP="$BENCH_CMD down --keep-tokens 2>/dev/null"
KZ_BENCH_PCSCD_START="$BENCH_CMD up kaztoken >/dev/null 2>&1"
# Two more readers. Debian 12's pcscd cannot take a reader while it runs,
# so the bench restarts it with one more vpcd entry, the card staying in
# reader 0 (stderr keeps the bench's note saying so).
KZ_BENCH_ADD_READER="$BENCH_CMD add-reader >/dev/null"
# The Kaztoken driver claims the simulated card: the reader slot holds a
# token.
KZ_BENCH_TOKEN=present
export KZ_BENCH_INSERT KZ_BENCH_REMOVE KZ_BENCH_SWAP KZ_BENCH_PCSCD_STOP \
    KZ_BENCH_PCSCD_START KZ_BENCH_ADD_READER KZ_BENCH_TOKEN
KZP11_KEYSTORE=$KZ_KEYSTORE
export KZP11_KEYSTORE

# The two programs are the project's own, instrumented in a sanitizer build:
# leaks count there (common.sh turns leak checks off for foreign tools).
KZ_PROG_ASAN=$(printf '%s' "${ASAN_OPTIONS:-}" | sed 's/detect_leaks=0/detect_leaks=1/')

# kz_prog NAME OUT CMD...: runs a test program under a timeout (a hang is a
# failure) and wants its PASS line.
kz_prog() {
    kz_p_name=$1
    kz_p_out=$2
    shift 2
    note "$kz_p_name"
    if "$@" >"$kz_p_out" 2>"$kz_p_out.err"; then
        kz_p_rc=0
    else
        kz_p_rc=$?
    fi
    sed 's/^/    /' "$kz_p_out"
    grep -v '^kzp11\[' "$kz_p_out.err" | sed 's/^/    /' >&2
    [ "$kz_p_rc" -ne 124 ] || fail "$kz_p_name did not finish within its time (hang?)"
    [ "$kz_p_rc" -eq 0 ] || fail "$kz_p_name exited with status $kz_p_rc"
    assert_grep "$kz_p_out" "^PASS: $kz_p_name\$" "$kz_p_name did not report PASS"
}

kz_prog test_readers "$KZ_TMP/readers.out" env ASAN_OPTIONS="$KZ_PROG_ASAN" timeout 300 "$PROG"

# test_readers leaves the bench up with the Kaztoken in reader 0. The APDU
# trace of test_card_bench: its test driver's VERIFY carries the PIN
# "KZP11bench42" (4B 5A 50 31 31 62 65 6E 63 68 34 32).
kz_prog test_card_bench "$KZ_TMP/card.out" env ASAN_OPTIONS="$KZ_PROG_ASAN" KZP11_DEBUG=1 \
    timeout 300 "$PROG2"
kz_trace=$KZ_TMP/card.out.err
assert_grep "$kz_trace" '> 00 A4 00 00 02 3F 00' "no APDU in the trace"
assert_grep "$kz_trace" '> 00 20 00 01 0C( \*\*){12}$' "the VERIFY is not in the trace, masked"
assert_grep "$kz_trace" 'card was reset; reconnected' "the reset is not in the trace"
assert_no_grep "$kz_trace" '4B 5A 50 31|50 31 31 62|62 65 6E 63|6E 63 68 34|68 34 32' "PIN bytes in the trace"
assert_no_grep "$kz_trace" 'KZP11bench42|bench42' "the PIN in the trace"
ok "the APDU trace masks the PIN"

echo "PASS: $KZ_TEST_NAME"
exit 0
