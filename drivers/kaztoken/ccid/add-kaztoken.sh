#!/bin/sh
# Lists the Kaztoken (Aktiv, USB 0A89:0035) in the reader list of libccid,
# the CCID driver pcscd uses on Debian.
#
# Why: libccid drives only the USB ids named in its Info.plist, and Debian 12's
# libccid 1.5.2 does not name 0A89:0035 (upstream never received the reader
# submission for it), so pcscd leaves the token unclaimed and no PC/SC reader
# appears. The token is an ordinary CCID device (T=1, short APDUs): listing
# its id is all the driver needs.
#
# The list is three parallel <array>s under the keys ifdVendorID, ifdProductID
# and ifdFriendlyName: entry i of the reader list is element i of each, so an
# entry is only right when all three arrays get it at the same index. The
# script appends to the end of all three and checks the lengths before and
# after.
#
# Usage: add-kaztoken.sh [--plist PATH] [--check | --remove]
#   (no option)  add the entry unless it is there already
#   --check      exit 0 if 0A89:0035 is listed, 1 if not; changes nothing
#   --remove     drop the entry this script adds (and only that one)
#   --plist PATH the Info.plist to use (default: Debian's libccid one)
# Exit status: 0 done (or nothing to do), 1 not listed (--check only),
# 2 refused or failed; the file is then unchanged.
#
# POSIX sh with only sed/awk/coreutils, so it runs on a bare Debian (dash,
# mawk) before any of kzp11's dependencies are installed.

set -u

VID=0x0A89
PID=0x0035
NAME='Aktiv KAZTOKEN'
ID=0A89:0035
DEFAULT_PLIST=/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Info.plist

me=$(basename "$0")

usage() {
    cat <<EOF
usage: $me [--plist PATH] [--check | --remove]
Adds the Kaztoken (USB $ID, "$NAME") to the reader list of the
CCID driver libccid, so that pcscd drives it.
  --plist PATH  the driver's Info.plist (default $DEFAULT_PLIST)
  --check       exit 0 if the token is listed, 1 if not; change nothing
  --remove      remove the entry this script adds
EOF
}

die() {
    echo "$me: $*" >&2
    exit 2
}

mode=add
plist=$DEFAULT_PLIST
set_mode() {
    [ "$mode" = add ] || die "--check and --remove exclude each other"
    mode=$1
}
while [ $# -gt 0 ]; do
    case $1 in
        --plist)
            [ $# -ge 2 ] || die "--plist needs a path"
            plist=$2
            shift 2 ;;
        --plist=*)
            plist=${1#--plist=}
            shift ;;
        --check) set_mode check; shift ;;
        --remove) set_mode remove; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
[ -n "$plist" ] || die "--plist needs a path"

# Debian ships the bundle's Info.plist as a symbolic link to the conffile
# /etc/libccid_Info.plist. Renaming over the link would replace it with a
# plain file that dpkg no longer tracks, so the edit goes to the link's
# target, and the temporary file and backup live beside that target.
[ -e "$plist" ] || die "$plist: no such file (is libccid installed? Debian package 'libccid')"
file=$(readlink -f -- "$plist") || die "cannot resolve $plist"
[ -f "$file" ] || die "$file: not a regular file"
[ -r "$file" ] || die "$file: not readable"
dir=$(dirname -- "$file")
base=$(basename -- "$file")
backup=$file.kzp11-orig

# scan FILE: reads the three arrays and prints
#   count NV NP NF       their lengths
#   anchor LV LP LF      the line after which an element is appended to each
#   ours I LV LP LF      (per index I, 1-based) an entry equal to ours, with
#                        the line of its element in each array
#   other I NAME         an entry for 0A89:0035 under another name
# or "error MESSAGE" with status 3 when the layout is not the one-element-
# per-line layout libccid ships: a line-based edit of anything else could
# produce a file that is not what the user expects, so it is refused.
# Ids compare as numbers (libccid reads them with strtoul): 0x0a89 = 0x0A89.
scan() {
    awk -v vid="$VID" -v pid="$PID" -v name="$NAME" '
    function norm(s) { s = toupper(s); sub(/^0X/, "", s); sub(/^0+/, "", s); return s }
    function err(m) { print "error " m; failed = 1; exit 3 }
    BEGIN { key["ifdVendorID"] = "V"; key["ifdProductID"] = "P"; key["ifdFriendlyName"] = "F" }
    # state 1: after one of the three keys, the next non-blank line must open its array
    state == 1 {
        if ($0 ~ /^[ \t]*$/) next
        if ($0 !~ /^[ \t]*<array>[ \t]*$/)
            err("line " NR ": <key>" kname "</key> is not followed by a line holding only <array>")
        state = 2; n[k] = 0; anchor[k] = NR
        next
    }
    # state 2: inside the array, one <string> element per line
    state == 2 {
        if ($0 ~ /^[ \t]*<\/array>[ \t]*$/) { state = 0; done[k] = 1; next }
        if ($0 ~ /^[ \t]*$/) next
        if ($0 !~ /^[ \t]*<string>[^<]*<\/string>[ \t]*$/)
            err("line " NR ": the " kname " array holds something other than one <string> per line")
        v = $0; sub(/^[ \t]*<string>/, "", v); sub(/<\/string>[ \t]*$/, "", v)
        n[k]++; val[k, n[k]] = v; ln[k, n[k]] = NR; anchor[k] = NR
        next
    }
    /<key>(ifdVendorID|ifdProductID|ifdFriendlyName)<\/key>/ {
        if ($0 !~ /^[ \t]*<key>[A-Za-z]+<\/key>[ \t]*$/)
            err("line " NR ": the <key> is not on a line of its own")
        kname = $0; sub(/^[ \t]*<key>/, "", kname); sub(/<\/key>[ \t]*$/, "", kname)
        k = key[kname]
        if (k in seen) err("line " NR ": <key>" kname "</key> appears twice")
        seen[k] = 1; state = 1
        next
    }
    END {
        if (failed) exit 3
        if (state == 1) err("the file ends after <key>" kname "</key>")
        if (state == 2) err("the file ends inside the " kname " array")
        if (!("V" in done)) err("no ifdVendorID array")
        if (!("P" in done)) err("no ifdProductID array")
        if (!("F" in done)) err("no ifdFriendlyName array")
        print "count", n["V"], n["P"], n["F"]
        print "anchor", anchor["V"], anchor["P"], anchor["F"]
        if (n["V"] != n["P"] || n["V"] != n["F"]) exit 0
        for (i = 1; i <= n["V"]; i++) {
            if (norm(val["V", i]) != norm(vid) || norm(val["P", i]) != norm(pid)) continue
            if (val["F", i] == name) print "ours", i, ln["V", i], ln["P", i], ln["F", i]
            else print "other", i, val["F", i]
        }
    }' "$1"
}

# field OUTPUT TAG N: the Nth word after TAG on the first "TAG ..." line.
field() {
    printf '%s\n' "$1" | awk -v t="$2" -v n="$3" '$1 == t { print $(n + 1); exit }'
}

# scan_ok FILE WHEN: scans FILE into $info and refuses when the layout is
# unexpected or the arrays disagree in length (the entries would then pair
# the wrong ids and names, and adding to such a list would hide the damage).
scan_ok() {
    info=$(scan "$1")
    case $info in
        error\ *) die "$2: ${info#error }; refusing to edit it (add the lines of Info.plist.snippet by hand)" ;;
    esac
    nv=$(field "$info" count 1)
    np=$(field "$info" count 2)
    nf=$(field "$info" count 3)
    [ -n "$nv" ] || die "$2: cannot read the reader arrays"
    if [ "$nv" != "$np" ] || [ "$nv" != "$nf" ]; then
        die "$2: the reader arrays disagree in length (ifdVendorID $nv, ifdProductID $np, ifdFriendlyName $nf), so their entries no longer line up; refusing to edit it"
    fi
}

scan_ok "$file" "$file"
count=$nv
ours=$(printf '%s\n' "$info" | awk '$1 == "ours"')
# "other" lines become: 12 ("Some Name")
other=$(printf '%s\n' "$info" | awk '$1 == "other" { i = $2; sub(/^other [0-9]+ /, ""); printf "%s (\"%s\")\n", i, $0 }')

next_steps() {
    cat <<EOF
Next: pcscd reads the driver's reader list only when it starts, so restart it:
  systemctl restart pcscd.service
(with systemd socket activation, a pcscd that is not running is started by
pcscd.socket on the next client connection and reads the new list then).
Then plug the Kaztoken in again and check that a reader shows up:
  pcsc_scan     or     opensc-tool -l
EOF
    case $file in
        /etc/*)
            echo "Note: $file is a libccid configuration file: when an upgrade of libccid asks about it, take the package's version and run $me again." ;;
    esac
}

case $mode in
    check)
        if [ -n "$ours" ] || [ -n "$other" ]; then
            echo "$ID is listed in $file"
            exit 0
        fi
        echo "$ID is not listed in $file"
        exit 1 ;;
    add)
        if [ -n "$ours" ]; then
            echo "$ID (\"$NAME\") is already listed in $file (entry $(printf '%s\n' "$ours" | awk '{ print $2; exit }')); nothing changed"
            exit 0
        fi
        if [ -n "$other" ]; then
            echo "$ID is already listed in $file (as entry $other); nothing changed"
            exit 0
        fi ;;
    remove)
        if [ -z "$ours" ]; then
            if [ -n "$other" ]; then
                echo "$ID is listed in $file as entry $other, which is not the entry this script adds; left alone"
            else
                echo "$ID (\"$NAME\") is not listed in $file; nothing to remove"
            fi
            exit 0
        fi ;;
esac

tmp=
tmpb=
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    [ -z "$tmp" ] || rm -f -- "$tmp"
    [ -z "$tmpb" ] || rm -f -- "$tmpb"
}
trap cleanup EXIT
trap 'exit 2' HUP INT TERM

# sync_path PATH: flush PATH to disk before the rename makes it visible, so
# a crash never leaves a renamed but empty file. `sync FILE` (coreutils 8.24
# and later) syncs just that file; older ones sync everything.
sync_path() {
    sync -- "$1" 2>/dev/null || sync
}

# mktemp_beside: prints the name of a new empty file beside the plist. It
# runs in $(...), where die ends only the subshell: callers add "|| exit 2".
# Beside, because a rename within one folder is a rename(2) on one file
# system: readers see the old or the new file, never a half-written one.
mktemp_beside() {
    mktemp "$dir/.$base.kzp11.XXXXXX" 2>/dev/null ||
        die "cannot create a file in $dir (run as root, e.g. with sudo)"
}

# The first change keeps the file as it was, for going back by hand; later
# runs leave that backup alone, so it stays the untouched original.
if [ ! -e "$backup" ]; then
    tmpb=$(mktemp_beside) || exit 2
    cp -p -- "$file" "$tmpb" || die "cannot copy $file to $tmpb"
    sync_path "$tmpb"
    mv -f -- "$tmpb" "$backup" || die "cannot create the backup $backup"
    tmpb=
    made_backup=" (the original is kept as $backup)"
else
    made_backup=" (an earlier backup exists: $backup)"
fi

tmp=$(mktemp_beside) || exit 2
# cp -p first, so the new file keeps the mode and owner of the old one
# (0644 root on Debian) instead of mktemp's 0600; the edit then overwrites
# the content only.
cp -p -- "$file" "$tmp" || die "cannot copy $file to $tmp"

if [ "$mode" = add ]; then
    # Append after the last element of each array, indented like it (an
    # empty array gets one more tab than its <array> line).
    awk -v lv="$(field "$info" anchor 1)" -v lp="$(field "$info" anchor 2)" \
        -v lf="$(field "$info" anchor 3)" -v vid="$VID" -v pid="$PID" -v name="$NAME" '
    function add(v,   ind) {
        match($0, /^[ \t]*/); ind = substr($0, 1, RLENGTH)
        if ($0 !~ /<string>/) ind = ind "\t"
        print ind "<string>" v "</string>"
    }
    { print }
    NR == lv { add(vid) }
    NR == lp { add(pid) }
    NR == lf { add(name) }' "$file" >"$tmp" || die "cannot write $tmp"
    want=$((count + 1))
else
    # Drop the lines of our entry (every copy of it) in all three arrays.
    lines=$(printf '%s\n' "$ours" | awk '{ printf " %s %s %s", $3, $4, $5 } END { print " " }')
    dropped=$(printf '%s\n' "$ours" | awk 'END { print NR }')
    awk -v del="$lines" 'index(del, " " NR " ") == 0' "$file" >"$tmp" ||
        die "cannot write $tmp"
    want=$((count - dropped))
fi

# Check the result as a reader would before it replaces the file.
scan_ok "$tmp" "the edited copy $tmp"
[ "$nv" = "$want" ] ||
    die "the edited copy has $nv entries instead of $want; $file left unchanged"
newours=$(printf '%s\n' "$info" | awk '$1 == "ours" { print $2 }')
if [ "$mode" = add ]; then
    [ "$newours" = "$want" ] ||
        die "the edited copy does not hold the entry at index $want in all three arrays; $file left unchanged"
else
    [ -z "$newours" ] || die "the edited copy still holds the entry; $file left unchanged"
fi

sync_path "$tmp"
mv -f -- "$tmp" "$file" || die "cannot rename $tmp to $file"
tmp=
# The rename itself is only durable once the folder is flushed.
sync_path "$dir"

if [ "$mode" = add ]; then
    echo "added $VID / $PID / \"$NAME\" to $file as entry $want of all three arrays$made_backup"
    next_steps
else
    echo "removed $VID / $PID / \"$NAME\" from $file ($want entries left)$made_backup"
    echo "Restart pcscd (systemctl restart pcscd.service) for it to forget the token."
fi
exit 0
