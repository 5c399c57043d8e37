#!/bin/sh
# kzp11 benchmarks, all in one run (what `make bench` calls).
#
#   bench/run-bench.sh [BUILDDIR]
#
# Measures, with the RSA-2048 key of the NCA fixture RSA256_*.p12:
#   - CKM_SHA256_RSA_PKCS signatures/s through kzp11 and SoftHSM2 (same
#     harness, bench_pkcs11) and raw OpenSSL EVP_DigestSign (bench_openssl),
#     each with 1 and 2 threads, and the ratios against the targets;
#   - module load + C_Initialize + C_GetSlotList + C_GetTokenInfo per slot
#     over a folder of 1,000 containers.
# Prints a table with PASS/MISS per target. Exit status: 0 when every
# measurement ran (even if a target was missed: benchmarks report, they do
# not gate), 1 when one could not run or the back ends disagree on a
# signature, 2 on bad setup (missing harness programs or fixture).
#
# Environment:
#   KZP11_BUILDDIR   build dir (or the first argument); the module is
#                    BUILDDIR/.libs/kzp11.so and the harnesses BUILDDIR/bench/
#   KZP11_MODULE     the module to test (overrides the build dir)
#   KZP11_SRCDIR     source dir (default: the parent of this script's folder)
#   BENCH_BINDIR     where bench_pkcs11 and bench_openssl are
#   BENCH_SECONDS    duration of each signing measurement (default 3)
#   BENCH_ROUNDS     repeat the signing measurements, keep the best (default 1)
#   BENCH_RETRIES    repeat a signing run preempted by other processes, keep
#                    the best (default 2)
#   BENCH_LOAD_RUNS  load cycles to take the median of (default 20)
#   BENCH_CONTAINERS containers in the load-test folder (default 1000)
#   SOFTHSM2_MODULE  default /usr/lib/softhsm/libsofthsm2.so
#   BENCH_KEEP_TMP   set to keep the temporary folder
set -u

LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${KZP11_SRCDIR:-$(dirname "$here")}
builddir=${1:-${KZP11_BUILDDIR:-}}
if [ -n "${BENCH_BINDIR:-}" ]; then
    bindir=$BENCH_BINDIR
elif [ -n "$builddir" ] && [ -x "$builddir/bench/bench_pkcs11" ]; then
    bindir=$builddir/bench
else
    bindir=$here
fi
if [ -n "${KZP11_MODULE:-}" ]; then
    module=$KZP11_MODULE
elif [ -n "$builddir" ]; then
    module=$builddir/.libs/kzp11.so
else
    module=
fi
secs=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-1}
retries=${BENCH_RETRIES:-2}
load_runs=${BENCH_LOAD_RUNS:-20}
ncont=${BENCH_CONTAINERS:-1000}
softhsm=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
p12pass=Qwerty12

bench_pkcs11=$bindir/bench_pkcs11
bench_openssl=$bindir/bench_openssl

die() {
    echo "run-bench.sh: $*" >&2
    exit 2
}

for v in "$rounds" "$retries" "$load_runs" "$ncont"; do
    case $v in
    '' | *[!0-9]*)
        die "BENCH_ROUNDS, BENCH_RETRIES, BENCH_LOAD_RUNS and BENCH_CONTAINERS take whole numbers" ;;
    esac
done
if [ "$rounds" -lt 1 ] || [ "$load_runs" -lt 1 ] || [ "$ncont" -lt 1 ]; then
    die "BENCH_ROUNDS, BENCH_LOAD_RUNS and BENCH_CONTAINERS must be at least 1"
fi

for prog in "$bench_pkcs11" "$bench_openssl"; do
    [ -x "$prog" ] || die "$prog not built (run 'make bench', or set BENCH_BINDIR)"
done
fixture=
for f in "$srcdir"/tests/fixtures/nca/rsa-personal/RSA256_*.p12; do
    [ -f "$f" ] && fixture=$f && break
done
[ -n "$fixture" ] || die "no RSA256_*.p12 under $srcdir/tests/fixtures/nca/rsa-personal"
fixture_name=$(basename "$fixture" .p12)
# The module's contract: label = file name without .p12 cut to 32 bytes,
# CKA_ID = the certificate's SKI = the hex in the NCA file name.
token_label=$(printf '%s' "$fixture_name" | cut -c1-32)
key_id=${fixture_name##*_}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kzp11-bench.XXXXXX") || die "mktemp failed"
# shellcheck disable=SC2317 # called through the trap
cleanup() {
    if [ -n "${BENCH_KEEP_TMP:-}" ]; then
        echo "run-bench.sh: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Keep the module away from the user's configuration and debug logging.
unset KZP11_DEBUG
: >"$tmp/kzp11.conf"
KZP11_CONF=$tmp/kzp11.conf
export KZP11_CONF

failures=0
notes=

note() {
    notes="$notes
  - $*"
}

# ---------------------------------------------------------------------------
# Setup

echo "== kzp11 benchmarks ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "   source $srcdir"
echo "   module ${module:-<none>}"
echo "   fixture $fixture_name.p12, $secs s per signing measurement, $rounds round(s)"
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
load1=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
echo "   $ncpu CPU(s) ${cpu_model:+($cpu_model)}, load average $load1, $(openssl version 2>/dev/null)"
if [ "$ncpu" != '?' ] && [ "$ncpu" -lt 2 ]; then
    note "only $ncpu CPU: the 2-thread scaling target cannot be met on this machine"
fi

# The RSA key, unencrypted, for raw OpenSSL and the SoftHSM2 import.
if ! openssl pkcs12 -legacy -nocerts -nodes -passin "pass:$p12pass" -in "$fixture" \
        -out "$tmp/key.pem" 2>"$tmp/pkcs12.err"; then
    cat "$tmp/pkcs12.err"
    die "cannot extract the key from $fixture"
fi

# SoftHSM2: a private token store in the temp dir.
softhsm_ok=0
if [ -f "$softhsm" ] && command -v softhsm2-util >/dev/null 2>&1; then
    mkdir -p "$tmp/softhsm-tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
        "$tmp/softhsm-tokens" >"$tmp/softhsm2.conf"
    if SOFTHSM2_CONF=$tmp/softhsm2.conf softhsm2-util --init-token --free --label bench \
            --pin 1234 --so-pin 1234 >"$tmp/softhsm-setup.log" 2>&1 &&
       SOFTHSM2_CONF=$tmp/softhsm2.conf softhsm2-util --import "$tmp/key.pem" --token bench \
            --label k --id 01 --pin 1234 >>"$tmp/softhsm-setup.log" 2>&1; then
        softhsm_ok=1
    else
        cat "$tmp/softhsm-setup.log"
        echo "run-bench.sh: SoftHSM2 token setup failed"
        note "SoftHSM2 token setup failed: SoftHSM2 not measured"
        failures=$((failures + 1))
    fi
else
    echo "run-bench.sh: SoftHSM2 not found ($softhsm / softhsm2-util)"
    note "SoftHSM2 not found: not measured"
    failures=$((failures + 1))
fi

# kzp11: one folder with just the fixture (signing), one with $ncont copies
# under distinct NCA-style names (load test).
kzp11_ok=0
if [ -n "$module" ] && [ -f "$module" ]; then
    kzp11_ok=1
else
    echo "run-bench.sh: kzp11 module not found (${module:-set KZP11_MODULE or pass the build dir})"
    note "kzp11 module not found (${module:-no build dir given}): kzp11 not measured"
fi
mkdir -p "$tmp/ks-one" "$tmp/ks-many"
cp "$fixture" "$tmp/ks-one/"
# Reproducible pseudo-random 40-hex names; their 32-byte labels must differ.
awk -v n="$ncont" 'BEGIN {
    srand(20240611); hex = "0123456789abcdef"
    for (i = 0; i < n; i++) {
        s = ""
        for (j = 0; j < 40; j++) s = s substr(hex, int(rand() * 16) + 1, 1)
        print s
    }
}' >"$tmp/names.txt"
if [ "$(cut -c1-25 "$tmp/names.txt" | sort -u | wc -l)" -ne "$ncont" ]; then
    die "generated container names collide in their first 32 bytes"
fi
# shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
sed "s|.*|$tmp/ks-many/RSA256_&.p12|" "$tmp/names.txt" |
    xargs -n 200 sh -c 'tee "$@" >/dev/null <"$0"' "$fixture"
made=$(find "$tmp/ks-many" -name '*.p12' | wc -l)
[ "$made" -eq "$ncont" ] || die "made $made containers instead of $ncont"

# ---------------------------------------------------------------------------
# Measurements

# Fields of the RESULT line of an output file: field NAME FILE
field() {
    sed -n "s/^RESULT .* $1=\([^ ]*\).*/\1/p" "$2" | tail -n 1
}

# measure KEY DESCRIPTION COMMAND...: runs one measurement and keeps the best
# rate seen for KEY (over rounds and retries) in rate_KEY, with its CPU
# ms/signature in cpu_KEY. A run that did not keep its CPUs busy because
# other processes took them (involuntary context switches) is repeated up to
# BENCH_RETRIES times; one that blocked by itself (voluntary switches: locks,
# I/O) is not, since repeating would not change that.
measure() {
    key=$1
    desc=$2
    shift 2
    out=$tmp/$key.out
    try=0
    tries=
    printf '   %-44s ' "$desc"
    while :; do
        try=$((try + 1))
        if ! "$@" >"$out" 2>"$out.err"; then
            echo "FAILED"
            sed 's/^/      /' "$out.err"
            return 1
        fi
        r=$(field rate "$out")
        c=$(field cpu_ms_per_sig "$out")
        th=$(field threads "$out")
        # Share of its CPUs the run kept busy, and why not all of them.
        verdict=$(awk -v r="$r" -v c="$c" -v t="$th" -v v="$(field vcsw "$out")" \
            -v i="$(field ivcsw "$out")" -v n="$(field count "$out")" 'BEGIN {
            u = r * c / 1000 / t
            if (u >= 0.95)
                printf "%.2f ok", u
            else if (n > 0 && v / n > 0.05)
                printf "%.2f blocked it blocked %.2f times per signature (lock contention or I/O)", u, v / n
            else
                printf "%.2f preempted preempted by other load (%d involuntary context switches)", u, i
        }')
        u=${verdict%% *}
        kind=${verdict#* }
        why=${kind#* }
        kind=${kind%% *}
        eval "prev=\${rate_$key:-}"
        # shellcheck disable=SC2154 # prev is set by the eval above
        if [ -z "$prev" ] || awk -v a="$r" -v b="$prev" 'BEGIN { exit !(a > b) }'; then
            eval "rate_$key=\$r; cpu_$key=\$c; util_$key=\$u; why_$key=\$kind"
            [ "$kind" = ok ] || eval "why_$key=\$why"
        fi
        tries="$tries${tries:+, }$(printf '%.0f' "$r")"
        if [ "$kind" = preempted ] && [ "$try" -le "$retries" ]; then
            continue
        fi
        break
    done
    eval "r=\$rate_$key; u=\$util_$key; why=\$why_$key"
    printf '%10.1f sig/s  (%s of %s CPU busy)' "$r" "$u" "$th"
    if [ "$try" -gt 1 ]; then
        printf '  best of %s tries: %s' "$try" "$tries"
    fi
    echo
    if [ "$why" != ok ] && [ "$round" -ge "$rounds" ]; then
        note "$desc kept only $u of its $th CPU(s) busy: $why"
    fi
    return 0
}

mark_failed() {
    eval "[ -n \"\${failed_$1:-}\" ]" && return 0
    eval "failed_$1=1"
    failures=$((failures + 1))
}

kzp11_id_opt="-i $key_id"
echo
echo "== signing: RSA-2048, CKM_SHA256_RSA_PKCS / EVP_DigestSign SHA-256, 32-byte messages"
round=1
while [ "$round" -le "$rounds" ]; do
    [ "$rounds" -gt 1 ] && echo "   round $round of $rounds"
    for t in 1 2; do
        measure "ossl$t" "raw OpenSSL EVP_DigestSign, $t thread(s)" \
            "$bench_openssl" -k "$tmp/key.pem" -t "$t" -d "$secs" -s "$tmp/sig-ossl" ||
            mark_failed "ossl$t"
        if [ "$softhsm_ok" = 1 ]; then
            measure "shsm$t" "SoftHSM2, $t thread(s)" \
                env SOFTHSM2_CONF="$tmp/softhsm2.conf" "$bench_pkcs11" sign "$softhsm" \
                -l bench -p 1234 -i 01 -t "$t" -d "$secs" -s "$tmp/sig-shsm" || mark_failed "shsm$t"
        fi
        if [ "$kzp11_ok" = 1 ]; then
            # shellcheck disable=SC2086 # kzp11_id_opt is two words or none
            if ! measure "kzp$t" "kzp11, $t thread(s)" \
                    env KZP11_KEYSTORE="$tmp/ks-one" "$bench_pkcs11" sign "$module" \
                    -l "$token_label" -p "$p12pass" $kzp11_id_opt -t "$t" -d "$secs" -s "$tmp/sig-kzp"; then
                if [ -n "$kzp11_id_opt" ] && grep -q 'no private key matches' "$tmp/kzp$t.out.err"; then
                    note "kzp11: no private key with CKA_ID = $key_id (the SKI);" \
                        "benchmarked the first private key instead"
                    kzp11_id_opt=
                    measure "kzp$t" "kzp11, $t thread(s) (any key)" \
                        env KZP11_KEYSTORE="$tmp/ks-one" "$bench_pkcs11" sign "$module" \
                        -l "$token_label" -p "$p12pass" -t "$t" -d "$secs" -s "$tmp/sig-kzp" || mark_failed "kzp$t"
                else
                    mark_failed "kzp$t"
                fi
            fi
        fi
    done
    round=$((round + 1))
done

# PKCS#1 v1.5 is deterministic: the same key must give the same signature of
# message 0 everywhere.
sigcheck=
for s in shsm kzp; do
    if [ ! -f "$tmp/sig-$s" ] || [ ! -f "$tmp/sig-ossl" ]; then
        continue
    fi
    if ! cmp -s "$tmp/sig-ossl" "$tmp/sig-$s"; then
        sigcheck="$sigcheck $s"
    fi
done
if [ -n "$sigcheck" ]; then
    echo "run-bench.sh: SIGNATURE MISMATCH against raw OpenSSL:$sigcheck"
    note "SIGNATURE MISMATCH:$sigcheck signed message 0 differently from raw OpenSSL with the same key"
    failures=$((failures + 1))
fi

echo
echo "== load: dlopen, C_Initialize, C_GetSlotList(TRUE), C_GetTokenInfo per slot, C_Finalize, dlclose"
if [ "$kzp11_ok" = 1 ]; then
    for spec in "many:$ncont:$tmp/ks-many" "one:1:$tmp/ks-one"; do
        key=${spec%%:*}
        rest=${spec#*:}
        n=${rest%%:*}
        dir=${rest#*:}
        printf '   kzp11, %-36s ' "$n container(s)"
        # Each container must be exactly one initialized token. Besides them
        # the folder may offer one free (uninitialized) token for C_InitToken.
        if KZP11_KEYSTORE=$dir "$bench_pkcs11" load "$module" -I "$n" -r "$load_runs" -T 30 \
                >"$tmp/load-$key.out" 2>"$tmp/load-$key.out.err"; then
            printf '%10.2f ms median\n' "$(field median_ms "$tmp/load-$key.out")"
            sed -n 's/^load: /      /p' "$tmp/load-$key.out"
            [ -s "$tmp/load-$key.out.err" ] && sed 's/^/      /' "$tmp/load-$key.out.err"
            free=$(($(field slots "$tmp/load-$key.out") - n))
            if [ "$free" -gt 1 ]; then
                echo "      FAIL: $free uninitialized tokens besides the $n container(s), expected at most 1"
                failures=$((failures + 1))
            else
                eval "load_ok_$key=1 load_free_$key=$free"
            fi
        else
            echo "FAILED"
            sed 's/^/      /' "$tmp/load-$key.out.err"
            failures=$((failures + 1))
        fi
    done
else
    failures=$((failures + 1))
fi

# Optional: the GOST hash benchmark, if a teammate's program was built.
if [ -x "$bindir/bench_gost_hash" ]; then
    echo
    echo "== GOST hash ($bindir/bench_gost_hash)"
    "$bindir/bench_gost_hash" >"$tmp/gost.out" 2>&1
    rc=$?
    sed 's/^/   /' "$tmp/gost.out"
    if [ "$rc" -ne 0 ]; then
        note "bench_gost_hash exited with status $rc (optional, not counted)"
    fi
fi

# ---------------------------------------------------------------------------
# Table

fmt_rate() {
    eval "v=\${rate_$1:-}; c=\${cpu_$1:-}"
    # shellcheck disable=SC2154 # v and c are set by the eval above
    if [ -n "$v" ]; then
        printf '%-46s %12.1f %-8s %9.3f\n' "$2" "$v" "sig/s" "$c"
    else
        printf '%-46s %12s\n' "$2" "NOT RUN"
    fi
}

# ratio DESCRIPTION NUM DEN [OP TARGET]: prints the ratio and, with a
# target, PASS or MISS (and the shortfall).
ratio() {
    desc=$1
    num=$2
    den=$3
    if [ -z "$num" ] || [ -z "$den" ]; then
        printf '%-46s %12s\n' "$desc" "n/a"
        return
    fi
    awk -v d="$desc" -v a="$num" -v b="$den" -v op="${4:-}" -v t="${5:-}" 'BEGIN {
        r = a / b
        if (op == "") { printf "%-46s %12.3f %-8s %9s   %s\n", d, r, "", "", "info"; exit }
        ok = (op == ">=") ? (r >= t) : (r <= t)
        status = ok ? "PASS" : sprintf("MISS (%.1f%% short)", (t - r) / t * 100)
        printf "%-46s %12.3f %-8s %9s   %s %s  %s\n", d, r, "", "", op, t, status
    }'
}

load_row() {
    key=$1
    what=$2
    desc=$3
    eval "ok=\${load_ok_$key:-}"
    # shellcheck disable=SC2154 # ok is set by the eval above
    if [ -z "$ok" ]; then
        printf '%-46s %12s\n' "$desc" "NOT RUN"
        return
    fi
    v=$(field "$what" "$tmp/load-$key.out")
    if [ -n "${4:-}" ]; then
        awk -v d="$desc" -v v="$v" -v t="$4" 'BEGIN {
            status = (v <= t) ? "PASS" : sprintf("MISS (%.1fx the target)", v / t)
            printf "%-46s %12.2f %-8s %9s   <= %s ms  %s\n", d, v, "ms", "", t, status
        }'
    else
        printf '%-46s %12.2f %-8s %9s   info\n' "$desc" "$v" "ms" ""
    fi
}

echo
echo "== results"
printf '%-46s %12s %-8s %9s   %s\n' "measurement" "value" "" "CPU ms/sig" "target"
printf '%s\n' "-------------------------------------------------------------------------------------------"
fmt_rate ossl1 "raw OpenSSL EVP_DigestSign, 1 thread"
fmt_rate ossl2 "raw OpenSSL EVP_DigestSign, 2 threads"
fmt_rate shsm1 "SoftHSM2, 1 thread"
fmt_rate shsm2 "SoftHSM2, 2 threads"
fmt_rate kzp1 "kzp11, 1 thread"
fmt_rate kzp2 "kzp11, 2 threads"
ratio "kzp11 / raw OpenSSL, 1 thread" "${rate_kzp1:-}" "${rate_ossl1:-}" ">=" 0.95
ratio "kzp11 2 threads / 1 thread" "${rate_kzp2:-}" "${rate_kzp1:-}" ">=" 1.8
ratio "kzp11 / raw OpenSSL, 2 threads" "${rate_kzp2:-}" "${rate_ossl2:-}"
ratio "raw OpenSSL 2 threads / 1 thread" "${rate_ossl2:-}" "${rate_ossl1:-}"
if [ -n "${rate_kzp1:-}" ] && [ -n "${rate_kzp2:-}" ] && [ -n "${rate_ossl1:-}" ] && [ -n "${rate_ossl2:-}" ]; then
    ratio "kzp11 scaling / raw OpenSSL scaling" \
        "$(awk -v a="$rate_kzp2" -v b="$rate_kzp1" 'BEGIN { print a / b }')" \
        "$(awk -v a="$rate_ossl2" -v b="$rate_ossl1" 'BEGIN { print a / b }')"
    if awk -v a="$rate_ossl2" -v b="$rate_ossl1" 'BEGIN { exit !(a / b < 1.8) }'; then
        note "raw OpenSSL itself scaled below 1.8 with 2 threads here: the 2-thread target is limited by this machine, compare the scaling ratios instead"
    fi
fi
ratio "SoftHSM2 / raw OpenSSL, 1 thread" "${rate_shsm1:-}" "${rate_ossl1:-}"
ratio "SoftHSM2 / raw OpenSSL, 2 threads" "${rate_shsm2:-}" "${rate_ossl2:-}"
ratio "SoftHSM2 2 threads / 1 thread" "${rate_shsm2:-}" "${rate_shsm1:-}"
# CPU time per signature is far less disturbed by other load than the rates:
# a cross-check of the 1-thread ratio on a busy machine (1.0 = same cost).
ratio "CPU per sig: kzp11 / raw OpenSSL, 1 thread" "${cpu_kzp1:-}" "${cpu_ossl1:-}"
ratio "CPU per sig: kzp11 / raw OpenSSL, 2 threads" "${cpu_kzp2:-}" "${cpu_ossl2:-}"
load_row many median_ms "kzp11 load, $ncont containers, median" 20
load_row many first_ms "kzp11 load, $ncont containers, first (cold)"
load_row many min_ms "kzp11 load, $ncont containers, min"
load_row one median_ms "kzp11 load, 1 container, median"
if [ "${load_free_many:-0}" -gt 0 ]; then
    note "besides the $ncont containers kzp11 shows $load_free_many free (uninitialized) token in the folder; the load test queries it too"
fi
if [ -f "$tmp/load-many.out" ] && [ "$(field resident "$tmp/load-many.out")" = 1 ]; then
    note "kzp11 stays mapped after dlclose: only the first load cycle paid for loading the ELF"
fi
if [ -n "$notes" ]; then
    echo
    echo "notes:$notes"
fi
echo
if [ "$failures" -gt 0 ]; then
    echo "run-bench.sh: $failures measurement(s) could not run"
    exit 1
fi
exit 0
