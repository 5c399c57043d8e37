#!/bin/sh
# The whole test suite, as CI runs it: installs what the tests need, builds
# with warnings as errors, runs `make check`, then rebuilds with
# AddressSanitizer and UBSan and runs `make check` again. Build trees live in
# _build/ inside the checkout.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

tools/deps.sh test
./autogen.sh >/dev/null 2>&1

run() {
    name=$1; shift
    dir="$top/_build/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    cd "$dir"
    echo "== $name build"
    "$top/configure" --enable-werror "$@" >configure.out 2>&1 || { cat configure.out; exit 1; }
    make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; }
    echo "== $name: make check"
    if ! make -j"$(nproc)" check >check.out 2>&1; then
        cat check.out
        # The failing tests' own logs are collected here by automake.
        cat test-suite.log
        exit 1
    fi
    grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' check.out
    passed=$((passed + $(sed -n 's/^# PASS: *//p' check.out)))
    failed=$((failed + $(sed -n 's/^# FAIL: *//p' check.out) + $(sed -n 's/^# ERROR: *//p' check.out)))
    cd "$top"
}

passed=0
failed=0

run release
run sanitizers --enable-sanitizers
echo "$passed passed, $failed failed"
