#!/bin/sh
# drivers/kaztoken/ccid/add-kaztoken.sh against copies of the Info.plist that
# Debian's libccid installs on this machine: it must list the Kaztoken
# (0A89:0035) at the same index of the three parallel arrays, leave a file
# libccid and any XML parser still read, do nothing twice, undo itself
# exactly, and refuse a list whose arrays no longer line up.
#
# The system's file is only ever read: every run gets --plist on a copy in
# the test's private directory, and its checksum is compared at the end.
# The arrays are read back with xmllint, a parser independent of the
# script's own line-based awk, so a bug in that cannot hide itself.

kz_here=$(dirname "$0")
if [ -f "$kz_here/common.sh" ]; then
    . "$kz_here/common.sh"
elif [ -n "${KZP11_SRCDIR:-}" ] && [ -f "$KZP11_SRCDIR/tests/integration/common.sh" ]; then
    . "$KZP11_SRCDIR/tests/integration/common.sh"
else
    echo "FAIL: cannot find tests/integration/common.sh" >&2
    exit 1
fi
# Nothing here loads kzp11, so the sanitizer build's runtime has nothing of
# ours to watch; preloaded into Debian's mawk it stops on mawk's own
# out-of-bounds reads.
unset LD_PRELOAD

need_tool xmllint libxml2-utils
need_tool diff diffutils
need_tool sha256sum coreutils

T=$KZ_TMP
[ -n "${KZP11_SRCDIR:-}" ] || fail "KZP11_SRCDIR is not set (run the tests through 'make check')"
SCRIPT=$KZP11_SRCDIR/drivers/kaztoken/ccid/add-kaztoken.sh
[ -f "$SCRIPT" ] || fail "$SCRIPT does not exist"
SNIPPET=$KZP11_SRCDIR/drivers/kaztoken/ccid/Info.plist.snippet
[ -f "$SNIPPET" ] || fail "$SNIPPET does not exist"

SYS=/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Info.plist
[ -f "$SYS" ] || fail "$SYS not found (install the Debian package 'libccid')"
SYS_REAL=$(readlink -f "$SYS")
sys_sum=$(sha256sum <"$SYS_REAL") || fail "cannot read $SYS_REAL"

# The script runs under the shell Debian gives /bin/sh (dash), as a user
# running it by hand would.
# shellcheck disable=SC2317  # called through kz_run
add_kaztoken() { sh "$SCRIPT" "$@"; }

# expect_rc STATUS OUTFILE WHAT CMD...: CMD must exit with STATUS exactly
# (the script's 0/1/2 distinguish done, not listed, refused).
expect_rc() {
    er_want=$1 er_out=$2 er_what=$3
    shift 3
    kz_run "$er_out" "$@"
    er_rc=$?
    [ "$er_rc" = "$er_want" ] || {
        kz_show "$er_out"
        fail "$er_what: exit status $er_rc, expected $er_want"
    }
}

# The <string> values of the array right after <key>KEY</key> in the
# plist's top-level dict, one a line.
XP_ARRAY="following-sibling::*[1][self::array]/string"
values() {
    xmllint --nonet --xpath "/plist/dict/key[.='$2']/$XP_ARRAY/text()" "$1" ||
        fail "xmllint cannot read the $2 array of $1"
}
count() {
    xmllint --nonet --xpath "count(/plist/dict/key[.='$2']/$XP_ARRAY)" "$1" ||
        fail "xmllint cannot count the $2 array of $1"
}
# table FILE OUT: the reader list as "vendor<TAB>product<TAB>name" lines, row
# N built from element N of each array (how libccid pairs them).
table() {
    values "$1" ifdVendorID >"$T/tv"
    values "$1" ifdProductID >"$T/tp"
    values "$1" ifdFriendlyName >"$T/tn"
    paste "$T/tv" "$T/tp" "$T/tn" >"$2" || fail "paste"
}
well_formed() {
    xmllint --nonet --noout "$1" 2>"$T/xmllint.err" || {
        kz_show "$T/xmllint.err"
        fail "$2: $1 is not well-formed XML"
    }
}
# Rows for 0A89:0035, as libccid matches ids: numerically, any case.
kaztoken_rows() {
    awk -F '\t' 'tolower($1) ~ /^0x0*a89$/ && tolower($2) ~ /^0x0*35$/ { print NR }' "$1"
}
# No temporary file may survive a run, whatever its outcome.
assert_no_leftovers() {
    leftovers=$(find "$1" -mindepth 1 -maxdepth 1 ! -name "$2" ! -name "$2.kzp11-orig")
    [ -z "$leftovers" ] || fail "$3: files left behind in $1: $leftovers"
}
# The new row, columns separated by tabs (as table writes them).
ENTRY_RE=$(printf '^0x0A89\t0x0035\tAktiv KAZTOKEN$')

# ---------------------------------------------------------------------------
note "the system's list ($SYS -> $SYS_REAL)"
cp "$SYS_REAL" "$T/orig.plist" || fail "cannot copy $SYS_REAL"
well_formed "$T/orig.plist" "the system's Info.plist"
n0=$(count "$T/orig.plist" ifdVendorID)
[ "$n0" -gt 0 ] || fail "no ifdVendorID entries in $SYS_REAL"
assert_eq "$(count "$T/orig.plist" ifdProductID)" "$n0" "ifdProductID entries of the system's list"
assert_eq "$(count "$T/orig.plist" ifdFriendlyName)" "$n0" "ifdFriendlyName entries of the system's list"
table "$T/orig.plist" "$T/orig.table"
# The premise of the script and of the README: if libccid ever lists the
# token itself, the advice to add it by hand must go.
[ -z "$(kaztoken_rows "$T/orig.table")" ] ||
    fail "the system's libccid already lists 0A89:0035 (rows $(kaztoken_rows "$T/orig.table")): the README's CCID advice is out of date"
ok "$n0 readers in three arrays of equal length, 0A89:0035 not among them"

# Debian's layout: the bundle's Info.plist is a link to the conffile in /etc.
R=$T/root
ETC=$R/etc
CONTENTS=$R/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents
mkdir -p "$ETC" "$CONTENTS" || fail "mkdir"
CONF=$ETC/libccid_Info.plist
cp "$T/orig.plist" "$CONF" || fail "cannot copy to $CONF"
chmod 644 "$CONF" || fail "chmod $CONF"
ln -s "$CONF" "$CONTENTS/Info.plist" || fail "ln -s"
LINK=$CONTENTS/Info.plist

# ---------------------------------------------------------------------------
note "--check before adding"
expect_rc 1 "$T/check0.out" "--check on the stock list" add_kaztoken --plist "$LINK" --check
assert_grep "$T/check0.out" 'not listed' "--check on the stock list"
assert_same_file "$CONF" "$T/orig.plist" "--check must not change the file"
ok "--check says not listed (status 1)"

# ---------------------------------------------------------------------------
note "adding the entry through the bundle's symbolic link"
inode0=$(stat -c %i "$CONF")
expect_rc 0 "$T/add1.out" "first run" add_kaztoken --plist "$LINK"
cat "$T/add1.out"
assert_grep "$T/add1.out" "entry $((n0 + 1)) of all three arrays" "first run reports the index"
assert_grep "$T/add1.out" 'systemctl restart pcscd' "first run tells to restart pcscd"
assert_grep "$T/add1.out" 'pcsc_scan|opensc-tool -l' "first run tells how to check"
[ -L "$LINK" ] || fail "the bundle's Info.plist is no longer a symbolic link"
assert_eq "$(readlink "$LINK")" "$CONF" "target of the bundle's link"
[ "$(stat -c %i "$CONF")" != "$inode0" ] || fail "$CONF was rewritten in place, not replaced by a rename"
assert_eq "$(stat -c %a "$CONF")" 644 "mode of the edited file"
assert_same_file "$CONF.kzp11-orig" "$T/orig.plist" "backup beside the link's target"
[ ! -e "$LINK.kzp11-orig" ] || fail "a backup was written beside the link instead of its target"
assert_no_leftovers "$ETC" libccid_Info.plist "first run"
assert_eq "$(ls -A "$CONTENTS")" Info.plist "files beside the link after the first run"
ok "the link's target was replaced by rename, mode kept, backup made"

note "the edited list, read back with xmllint"
cp "$CONF" "$T/added.plist" || fail "cp"
well_formed "$T/added.plist" "after adding"
for k in ifdVendorID ifdProductID ifdFriendlyName; do
    assert_eq "$(count "$T/added.plist" $k)" "$((n0 + 1))" "$k entries after adding"
done
table "$T/added.plist" "$T/added.table"
assert_eq "$(kaztoken_rows "$T/added.table")" "$((n0 + 1))" "row of 0A89:0035 (the last, in all three arrays)"
sed -n "$((n0 + 1))p" "$T/added.table" >"$T/newrow"
assert_grep "$T/newrow" "$ENTRY_RE" "values of the new row"
# Every earlier reader keeps its ids and name.
head -n "$n0" "$T/added.table" >"$T/added.head"
assert_same_file "$T/added.head" "$T/orig.table" "the first $n0 rows after adding"
# Byte level: three lines added, nothing else touched.
diff "$T/orig.plist" "$T/added.plist" >"$T/diff" && fail "diff finds no change"
assert_eq "$(grep -c '^>' "$T/diff")" 3 "lines added"
assert_eq "$(grep -c '^<' "$T/diff")" 0 "lines removed or changed"
assert_grep "$T/diff" '^>[[:space:]]+<string>0x0A89</string>$' "added vendor line"
assert_grep "$T/diff" '^>[[:space:]]+<string>0x0035</string>$' "added product line"
assert_grep "$T/diff" '^>[[:space:]]+<string>Aktiv KAZTOKEN</string>$' "added name line"
ok "entry $((n0 + 1)) of each array is 0x0A89 / 0x0035 / Aktiv KAZTOKEN; the rest is unchanged"

# ---------------------------------------------------------------------------
note "--check and a second run"
expect_rc 0 "$T/check1.out" "--check after adding" add_kaztoken --plist "$LINK" --check
assert_grep "$T/check1.out" 'is listed' "--check after adding"
inode1=$(stat -c %i "$CONF")
expect_rc 0 "$T/add2.out" "second run" add_kaztoken --plist "$LINK"
assert_grep "$T/add2.out" 'already listed.*nothing changed' "second run says it changed nothing"
assert_same_file "$CONF" "$T/added.plist" "file after the second run"
assert_eq "$(stat -c %i "$CONF")" "$inode1" "inode after the second run (the file must not be rewritten)"
assert_no_leftovers "$ETC" libccid_Info.plist "second run"
ok "--check says listed (status 0); a second run leaves the file byte for byte"

# ---------------------------------------------------------------------------
note "--remove"
expect_rc 0 "$T/rm1.out" "--remove" add_kaztoken --plist "$LINK" --remove
assert_grep "$T/rm1.out" '^removed ' "--remove reports the removal"
assert_same_file "$CONF" "$T/orig.plist" "file after --remove (must be the original)"
assert_same_file "$CONF.kzp11-orig" "$T/orig.plist" "backup after --remove"
[ -L "$LINK" ] || fail "the bundle's Info.plist is no longer a symbolic link after --remove"
assert_no_leftovers "$ETC" libccid_Info.plist "--remove"
expect_rc 1 "$T/check2.out" "--check after --remove" add_kaztoken --plist "$LINK" --check
expect_rc 0 "$T/rm2.out" "second --remove" add_kaztoken --plist "$LINK" --remove
assert_grep "$T/rm2.out" 'nothing to remove' "second --remove"
assert_same_file "$CONF" "$T/orig.plist" "file after a second --remove"
ok "--remove gives back the original byte for byte; a second one does nothing"

# ---------------------------------------------------------------------------
note "an existing backup is kept"
printf 'an earlier backup\n' >"$CONF.kzp11-orig" || fail "cannot write the backup"
cp "$CONF.kzp11-orig" "$T/marker" || fail "cp"
expect_rc 0 "$T/add3.out" "run with a backup present" add_kaztoken --plist "$CONF"
assert_grep "$T/add3.out" 'earlier backup exists' "run with a backup present"
assert_same_file "$CONF.kzp11-orig" "$T/marker" "the earlier backup"
assert_same_file "$CONF" "$T/added.plist" "file added to directly (not through the link)"
expect_rc 0 "$T/rm3.out" "--remove with a backup present" add_kaztoken --plist "$CONF" --remove
assert_same_file "$CONF" "$T/orig.plist" "file after the last --remove"
assert_same_file "$CONF.kzp11-orig" "$T/marker" "the earlier backup after --remove"
ok "the backup of the first change is never overwritten"

# ---------------------------------------------------------------------------
# refused FILE WHAT ERE: add and --check must exit 2 with a message
# matching ERE, and leave the folder as it was.
refused() {
    rf_file=$1 rf_what=$2 rf_re=$3
    cp "$rf_file" "$T/refused.before" || fail "cp"
    expect_rc 2 "$T/refused-add.out" "adding to $rf_what" add_kaztoken --plist "$rf_file"
    assert_grep "$T/refused-add.out" "$rf_re" "message when adding to $rf_what"
    expect_rc 2 "$T/refused-check.out" "--check of $rf_what" add_kaztoken --plist "$rf_file" --check
    assert_grep "$T/refused-check.out" "$rf_re" "message of --check on $rf_what"
    expect_rc 2 "$T/refused-rm.out" "--remove from $rf_what" add_kaztoken --plist "$rf_file" --remove
    assert_same_file "$rf_file" "$T/refused.before" "$rf_what after the refused runs"
    [ ! -e "$rf_file.kzp11-orig" ] || fail "a backup was made of $rf_what"
    assert_no_leftovers "$(dirname "$rf_file")" "$(basename "$rf_file")" "refused runs on $rf_what"
}

note "a list whose arrays disagree in length is refused"
mkdir -p "$T/mis" || fail "mkdir"
# Drop the first element of the ifdProductID array: from there on every
# product id pairs with the next reader's vendor and name.
awk 'drop == 1 && /<string>/ { drop = 2; next }
    /<key>ifdProductID<\/key>/ { drop = 1 }
    { print }' "$T/orig.plist" >"$T/mis/Info.plist" || fail "awk"
well_formed "$T/mis/Info.plist" "the misaligned copy"
assert_eq "$(count "$T/mis/Info.plist" ifdVendorID)" "$n0" "vendor ids in the misaligned copy"
assert_eq "$(count "$T/mis/Info.plist" ifdProductID)" "$((n0 - 1))" "product ids in the misaligned copy"
refused "$T/mis/Info.plist" "the misaligned list" "disagree in length.*ifdVendorID $n0, ifdProductID $((n0 - 1)), ifdFriendlyName $n0"
ok "refused with status 2 and the counts named; file unchanged, no backup"

note "a list not laid out one element a line is refused"
mkdir -p "$T/joined" || fail "mkdir"
# Valid XML, but two names on one line: a line-based edit could not keep
# the indices straight, so the script must not try.
awk 'state == 1 && /<string>/ { held = $0; state = 2; next }
    state == 2 { sub(/^[ \t]*/, ""); print held $0; state = 3; next }
    /<key>ifdFriendlyName<\/key>/ { state = 1 }
    { print }' "$T/orig.plist" >"$T/joined/Info.plist" || fail "awk"
well_formed "$T/joined/Info.plist" "the joined copy"
assert_eq "$(count "$T/joined/Info.plist" ifdFriendlyName)" "$n0" "names in the joined copy"
refused "$T/joined/Info.plist" "the joined list" 'ifdFriendlyName array holds something other than one <string> per line'
ok "refused with status 2; file unchanged, no backup"

# ---------------------------------------------------------------------------
note "0A89:0035 listed by hand under another name"
mkdir -p "$T/hand" || fail "mkdir"
# What a user following a guide might have done: same ids, lower-case hex,
# another name. The script must see it as listed and must not remove it.
awk '/<\/array>/ && key != "" {
        v = key == "ifdVendorID" ? "0x0a89" : key == "ifdProductID" ? "0x0035" : "Kaztoken by hand"
        print "\t\t<string>" v "</string>"; key = ""
    }
    /<key>(ifdVendorID|ifdProductID|ifdFriendlyName)<\/key>/ { key = $0; gsub(/[ \t]*<\/?key>[ \t]*/, "", key) }
    { print }' "$T/orig.plist" >"$T/hand/Info.plist" || fail "awk"
table "$T/hand/Info.plist" "$T/hand.table"
assert_eq "$(kaztoken_rows "$T/hand.table")" "$((n0 + 1))" "row of the hand-made entry"
cp "$T/hand/Info.plist" "$T/hand.plist" || fail "cp"
expect_rc 0 "$T/hand-check.out" "--check of the hand-made entry" add_kaztoken --plist "$T/hand/Info.plist" --check
expect_rc 0 "$T/hand-add.out" "adding over the hand-made entry" add_kaztoken --plist "$T/hand/Info.plist"
assert_grep "$T/hand-add.out" "already listed.*$((n0 + 1)) \\(\"Kaztoken by hand\"\\)" "adding over the hand-made entry"
expect_rc 0 "$T/hand-rm.out" "--remove of the hand-made entry" add_kaztoken --plist "$T/hand/Info.plist" --remove
assert_grep "$T/hand-rm.out" 'not the entry this script adds; left alone' "--remove of the hand-made entry"
assert_same_file "$T/hand/Info.plist" "$T/hand.plist" "the list with the hand-made entry"
assert_no_leftovers "$T/hand" Info.plist "runs on the hand-made entry"
ok "seen as listed, neither duplicated nor removed"

# ---------------------------------------------------------------------------
note "usage errors"
expect_rc 2 "$T/both.out" "--check with --remove" add_kaztoken --plist "$CONF" --check --remove
expect_rc 2 "$T/missing.out" "a missing file" add_kaztoken --plist "$T/nonexistent/Info.plist"
assert_grep "$T/missing.out" 'no such file' "message for a missing file"
expect_rc 2 "$T/bad.out" "an unknown option" add_kaztoken --plist "$CONF" --frobnicate
assert_same_file "$CONF" "$T/orig.plist" "file after the usage errors"
ok "status 2, nothing changed"

# ---------------------------------------------------------------------------
note "the snippet for editing by hand"
# Its three <string> lines are the ones the script adds, so both ways give
# libccid the same entry.
grep -E '^[[:space:]]*<string>[^<]*</string>[[:space:]]*$' "$SNIPPET" | sed 's/^[[:space:]]*//' >"$T/snippet.lines"
grep '^>' "$T/diff" | sed 's/^>[[:space:]]*//' >"$T/script.lines"
assert_same_file "$T/snippet.lines" "$T/script.lines" "the snippet's lines against the script's"
assert_grep "$SNIPPET" 'same index' "the snippet explains the index alignment"
ok "the snippet holds the script's three lines, in the same order"

# ---------------------------------------------------------------------------
note "the system's file"
assert_eq "$(sha256sum <"$SYS_REAL")" "$sys_sum" "checksum of $SYS_REAL"
[ -L "$SYS" ] || [ "$SYS" = "$SYS_REAL" ] || fail "$SYS changed kind"
ok "$SYS_REAL untouched"

echo "PASS: $KZ_TEST_NAME"
exit 0
