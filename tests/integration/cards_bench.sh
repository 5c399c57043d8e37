#!/bin/sh
# Smoke test of the virtual-card bench (tests/cards/bench): a private pcscd
# with vpcd readers and a simulated Kaztoken, checked from the outside with
# OpenSC's opensc-tool as the PC/SC client:
#   the reader and the Kaztoken ATR are seen through the private pcscd;
#   SELECT MF, GET CHALLENGE, VERIFY right / wrong (63 Cx counting down,
#   then 69 83) reach the simulator; --count counts exactly the APDUs sent;
#   removal and insertion show in the reader state, and a token keeps its
#   PIN counters when it comes back, while another token does not share them;
#   a pcscd restart brings the card back;
#   'bench add-reader' (a pcscd restart with one more vpcd entry) gives two
#   new, working readers and keeps the old readers' names, cards and states;
#   'bench down' leaves no process, port or socket behind, and a system
#   pcscd, if one runs, is not touched.
# Needs root or unprivileged user namespaces (see tests/cards/README.md).

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
BENCH=$KZP11_SRCDIR/tests/cards/bench
[ -x "$BENCH" ] || fail "the card bench $BENCH is missing"
need_tool opensc-tool opensc
need_tool unshare util-linux
need_tool setsid util-linux
[ -x /usr/sbin/pcscd ] || command -v pcscd >/dev/null 2>&1 || fail "pcscd not installed (Debian package pcscd)"
[ -f /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] ||
    fail "vpcd not installed (Debian package vsmartcard-vpcd)"

KZ_BENCH_DIR=$KZ_TMP/bench
KZ_BENCH_BINDIR=${KZ_BENCH_BINDIR:-$KZP11_BUILDDIR/tests/cards}
# Should this script be killed outright (no trap runs), the bench's
# watchdog takes the bench down once this shell is gone.
KZ_BENCH_OWNER=$$
export KZ_BENCH_DIR KZ_BENCH_BINDIR KZ_BENCH_OWNER
PCSC_STATE=$KZ_BENCH_BINDIR/pcsc_state
[ -x "$PCSC_STATE" ] || fail "$PCSC_STATE is not built (a check_PROGRAM: run 'make check')"

# The bench's daemons are not the project's code: no sanitizer runtime is
# preloaded into pcscd or the simulators.
bench() {
    env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS "$BENCH" "$@"
}

# On any exit: stop the bench, and show its logs if the test failed.
cards_cleanup() {
    cc_rc=$?
    if [ -f "$KZ_BENCH_DIR/bench.conf" ]; then
        bench down >/dev/null 2>&1
    fi
    if [ "$cc_rc" -ne 0 ] && [ -d "$KZ_BENCH_DIR" ]; then
        for cc_f in "$KZ_BENCH_DIR/pcscd.log" "$KZ_BENCH_DIR/bench.log" "$KZ_BENCH_DIR"/cards/*.log; do
            [ -s "$cc_f" ] || continue
            echo "--- $cc_f (last lines)" >&2
            tail -n 15 "$cc_f" | sed 's/^/    | /' >&2
        done
    fi
    kz_cleanup
}
trap cards_cleanup EXIT

# A system pcscd, if one runs, must come out of this untouched.
sys_pid=
if [ -f /run/pcscd/pcscd.pid ]; then
    sys_pid=$(head -n 1 /run/pcscd/pcscd.pid 2>/dev/null)
    kill -0 "$sys_pid" 2>/dev/null || sys_pid=
fi

# --- up ----------------------------------------------------------------------

note "bench up kaztoken"
bench up kaztoken >"$KZ_TMP/up.out" 2>"$KZ_TMP/up.err" || {
    kz_show "$KZ_TMP/up.err"
    fail "'bench up kaztoken' failed"
}
assert_grep "$KZ_TMP/up.out" "^export PCSCLITE_CSOCK_NAME='$KZ_BENCH_DIR/ipc/pcscd.comm'\$" \
    "'bench up' prints the socket to export"
eval "$(cat "$KZ_TMP/up.out")"
[ -S "$PCSCLITE_CSOCK_NAME" ] || fail "no socket at $PCSCLITE_CSOCK_NAME"
[ "$(readlink -f /run/pcscd/pcscd.comm 2>/dev/null)" != "$(readlink -f "$PCSCLITE_CSOCK_NAME")" ] ||
    fail "the private pcscd took the system socket"
READER0=$(bench reader-name 0) || fail "'bench reader-name 0' failed"
bench_pcscd=$(head -n 1 "$KZ_BENCH_DIR/pcscd.pid")
ok "private pcscd (pid $bench_pcscd) at $PCSCLITE_CSOCK_NAME"

# --- the reader and the ATR through PC/SC ---------------------------------------

KZ_ATR="3b:88:01:4b:41:5a:54:4f:4b:45:4e:82"

# reader_has_card N yes|no: opensc-tool's reader list, column "Card".
reader_has_card() {
    kz_ok "$KZ_TMP/list.out" "opensc-tool --list-readers" opensc-tool --list-readers
    rhc_got=$(awk -v n="$1" '$1 == n { print $2 }' "$KZ_TMP/list.out")
    [ "$rhc_got" = "$2" ] || {
        kz_show "$KZ_TMP/list.out"
        fail "reader $1: card column '$rhc_got', expected '$2'"
    }
}

kz_ok "$KZ_TMP/list.out" "opensc-tool --list-readers" opensc-tool --list-readers
assert_grep "$KZ_TMP/list.out" "^0 +Yes +$READER0\$" "reader 0 with a card"
assert_grep "$KZ_TMP/list.out" "^1 +No +" "reader 1 empty"
kz_ok "$KZ_TMP/atr.out" "opensc-tool --atr" opensc-tool -r 0 --atr
assert_grep "$KZ_TMP/atr.out" "^$KZ_ATR\$" "the Kaztoken ATR"
ok "reader \"$READER0\" shows the Kaztoken ATR"

# --- APDUs -------------------------------------------------------------------------

# sws OUTFILE: the status words opensc-tool received, as "9000 63C4 ...".
sws() {
    sed -n 's/^Received (SW1=0x\(..\), SW2=0x\(..\)).*/\1\2/p' "$1" | tr 'a-f' 'A-F' |
        tr '\n' ' ' | sed 's/ $//'
}

# apdus N WHAT EXPECTED-SWS APDU...: one opensc-tool session on reader N
# (-c default: no card driver, so nothing but these APDUs is sent).
apdus() {
    a_n=$1
    a_what=$2
    a_want=$3
    shift 3
    a_args=
    for a in "$@"; do
        a_args="$a_args -s $a"
    done
    # shellcheck disable=SC2086
    kz_ok "$KZ_TMP/apdu.out" "$a_what" opensc-tool -r "$a_n" -c default $a_args
    a_got=$(sws "$KZ_TMP/apdu.out")
    [ "$a_got" = "$a_want" ] || {
        kz_show "$KZ_TMP/apdu.out"
        fail "$a_what: status words '$a_got', expected '$a_want'"
    }
}

SELECT_MF=00A40000023F0000
GET_CHALLENGE=0084000008
VERIFY_OK=00200002083132333435363738       # user PIN 12345678
VERIFY_BAD=00200002083030303030303030      # 00000000
VERIFY_STATUS=00200002

apdus 0 "SELECT MF" "9000" $SELECT_MF
assert_grep "$KZ_TMP/apdu.out" "^62 1D 80 02 00 00 82 02 38 00 83 02 3F 00 86 0F" \
    "SELECT MF answers the MF's FCP (62, descriptor 38, FID 3F00, 15-byte 86)"
apdus 0 "GET CHALLENGE" "9000" $GET_CHALLENGE

# The data itself, raw: 8 bytes + 90 00, and never twice the same.
kz_ok "$KZ_TMP/chal.out" "GET CHALLENGE (raw)" \
    "$PCSC_STATE" send "$READER0" $GET_CHALLENGE $GET_CHALLENGE
[ "$(grep -cE '^[0-9A-F]{16}9000$' "$KZ_TMP/chal.out")" = 2 ] || {
    kz_show "$KZ_TMP/chal.out"
    fail "GET CHALLENGE does not give 8 bytes and 90 00"
}
[ "$(sort -u "$KZ_TMP/chal.out" | wc -l)" = 2 ] || fail "two challenges are equal"
ok "SELECT MF and GET CHALLENGE (8 random bytes)"

apdus 0 "VERIFY right PIN" "9000 9000" $VERIFY_OK $VERIFY_STATUS
apdus 0 "VERIFY wrong PIN, counting down" "63C4 63C3 9000 63C4" $VERIFY_BAD $VERIFY_BAD \
    $VERIFY_OK $VERIFY_BAD
# Another session: the failed VERIFY ended the login, the counter stays.
apdus 0 "VERIFY until the PIN blocks" "63C4 63C3 63C2 63C1 63C0 6983 6983" $VERIFY_STATUS \
    $VERIFY_BAD $VERIFY_BAD $VERIFY_BAD $VERIFY_BAD $VERIFY_OK $VERIFY_STATUS
ok "VERIFY: 90 00, then 63 Cx counting down, then 69 83 after the limit"

# --count: exactly the APDUs sent, in a card put into reader 1.
kz_ok "$KZ_TMP/ins1.out" "bench insert 1 (--count)" \
    bench insert 1 kaztoken@counted --count "$KZ_TMP/count"
assert_eq "$(cat "$KZ_TMP/count")" 0 "APDUs counted before any was sent"
apdus 1 "three APDUs to reader 1" "9000 9000 63C5" $SELECT_MF $GET_CHALLENGE $VERIFY_STATUS
assert_eq "$(cat "$KZ_TMP/count")" 3 "APDUs counted by --count"
ok "--count counts the 3 APDUs sent"

# --- removal and insertion --------------------------------------------------------------

kz_ok "$KZ_TMP/rm.out" "bench remove 0" bench remove 0
reader_has_card 0 No
kz_fails "$KZ_TMP/atr.out" "opensc-tool --atr on an empty reader" opensc-tool -r 0 --atr
"$PCSC_STATE" list >"$KZ_TMP/state.out" 2>&1
tab=$(printf '\t')
assert_grep "$KZ_TMP/state.out" "^empty${tab}-${tab}$READER0\$" "PC/SC shows reader 0 empty"
ok "removed: reader 0 is empty"

kz_ok "$KZ_TMP/ins.out" "bench insert 0" bench insert 0 kaztoken
reader_has_card 0 Yes
kz_ok "$KZ_TMP/atr.out" "opensc-tool --atr" opensc-tool -r 0 --atr
assert_grep "$KZ_TMP/atr.out" "^$KZ_ATR\$" "the ATR after re-insertion"
apdus 0 "the same token keeps its blocked PIN" "6983" $VERIFY_STATUS
ok "re-inserted: reader 0 holds the same token again (PIN still blocked)"

kz_ok "$KZ_TMP/swap.out" "bench swap 0" bench swap 0 kaztoken@other
reader_has_card 0 Yes
apdus 0 "another token has its own counter" "63C5 9000" $VERIFY_STATUS $VERIFY_OK
ok "swapped: another token in reader 0"

# --- pcscd restart -----------------------------------------------------------------------

kz_ok "$KZ_TMP/restart.out" "bench restart" bench restart
new_pcscd=$(head -n 1 "$KZ_BENCH_DIR/pcscd.pid")
[ "$new_pcscd" != "$bench_pcscd" ] || fail "bench restart kept the same pcscd"
reader_has_card 0 Yes
reader_has_card 1 Yes
ok "restart: a new pcscd (pid $new_pcscd), both cards back"

# --- add-reader ----------------------------------------------------------------------------

# pcscd restarts with one more vpcd entry (this pcscd cannot hot-add): two
# new readers, and the old ones back under their names with the same
# simulator processes, so the same tokens in the same states.
apdus 0 "a wrong PIN before add-reader" "63C4" $VERIFY_BAD
kz_ok "$KZ_TMP/add.out" "bench add-reader" bench add-reader
assert_grep "$KZ_TMP/add.out" "restarting pcscd" "add-reader says it restarts pcscd"
added_pcscd=$(head -n 1 "$KZ_BENCH_DIR/pcscd.pid")
[ "$added_pcscd" != "$new_pcscd" ] || fail "add-reader kept the same pcscd"
new_pcscd=$added_pcscd
READER2=$(bench reader-name 2) || fail "'bench reader-name 2' failed after add-reader"
READER3=$(bench reader-name 3) || fail "'bench reader-name 3' failed after add-reader"
"$PCSC_STATE" list >"$KZ_TMP/state.out" 2>&1
assert_eq "$(wc -l <"$KZ_TMP/state.out")" 4 "readers PC/SC lists after add-reader"
assert_grep "$KZ_TMP/state.out" "^present${tab}3B88014B415A544F4B454E82${tab}$READER0\$" "reader 0 keeps its card"
assert_grep "$KZ_TMP/state.out" "^present${tab}[0-9A-F]*${tab}$(bench reader-name 1)\$" "reader 1 keeps its card"
assert_grep "$KZ_TMP/state.out" "^empty${tab}-${tab}$READER2\$" "new reader 2, empty"
assert_grep "$KZ_TMP/state.out" "^empty${tab}-${tab}$READER3\$" "new reader 3, empty"
port0=$(awk -F= '/^port_base=/ { print $2 }' "$KZ_BENCH_DIR/bench.conf")
kz_ok "$KZ_TMP/status.out" "bench status" bench status
assert_grep "$KZ_TMP/status.out" "^reader 3: \"$READER3\" port $((port0 + 3)): empty\$" "'bench status' knows reader 3"
# Reader 0's token still has the 4 tries the wrong PIN left it (a fresh
# token or reader 1's would say 5); reader 1's simulator counts on from 3.
apdus 0 "the token in reader 0 after add-reader" "63C4" $VERIFY_STATUS
apdus 1 "the token in reader 1 after add-reader" "9000" $SELECT_MF
assert_eq "$(cat "$KZ_TMP/count")" 4 "APDUs counted by reader 1's simulator across add-reader"
kz_ok "$KZ_TMP/ins3.out" "bench insert 3 (a new reader)" bench insert 3 kaztoken@late
apdus 3 "a card in new reader 3" "9000 63C5" $SELECT_MF $VERIFY_STATUS
ok "add-reader: a new pcscd (pid $new_pcscd), 4 readers, the old cards unchanged, reader 3 takes a card"

# --- down ----------------------------------------------------------------------------------

pids="$new_pcscd $(head -n 1 "$KZ_BENCH_DIR/watchdog.pid")"
for f in "$KZ_BENCH_DIR"/cards/*.pid; do
    pids="$pids $(head -n 1 "$f")"
done
ports=$(awk -F= '/^port_base=/ { print $2 }' "$KZ_BENCH_DIR/bench.conf")
kz_ok "$KZ_TMP/down.out" "bench down" bench down

# alive PID: running and not a zombie (a reaped-late child is gone).
alive() {
    al_st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    al_st=${al_st##*) }
    al_st=${al_st%% *}
    [ "$al_st" != Z ] && [ "$al_st" != X ]
}
for p in $pids; do
    alive "$p" && fail "process $p ($(tr '\0' ' ' </proc/"$p"/cmdline)) is still running after 'bench down'"
done
for p in /proc/[0-9]*; do
    alive "${p#/proc/}" || continue
    if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qF "$KZ_BENCH_DIR"; then
        fail "process ${p#/proc/} still refers to the bench: $(tr '\0' ' ' <"$p/cmdline")"
    fi
done
for port in $ports $((ports + 1)) $((ports + 2)) $((ports + 3)); do
    hex=$(printf '%04X' "$port")
    if awk -v p=":$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6; then
        fail "TCP port $port still listening after 'bench down'"
    fi
done
[ -e "$KZ_BENCH_DIR/ipc/pcscd.comm" ] && fail "the socket is still there after 'bench down'"
ok "down: no process, port or socket left ($pids)"

if [ -n "$sys_pid" ]; then
    kill -0 "$sys_pid" 2>/dev/null || fail "the system pcscd (pid $sys_pid) is gone"
    assert_eq "$(head -n 1 /run/pcscd/pcscd.pid 2>/dev/null)" "$sys_pid" \
        "the system pcscd's pid file"
    ok "the system pcscd (pid $sys_pid) is untouched"
fi

echo "PASS: $KZ_TEST_NAME"
exit 0
