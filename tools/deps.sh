#!/bin/sh
# Installs the Debian packages kzp11 needs: `tools/deps.sh build` for building
# and the demo, `tools/deps.sh test` for everything the test suite drives.
# Uses sudo when not root; installs only what is missing.
set -eu

build_pkgs="autoconf automake libtool pkg-config make gcc libssl-dev libp11-kit-dev
libpcsclite-dev libtasn1-6-dev openssl opensc"
test_pkgs="$build_pkgs libcmocka-dev softhsm2 libnss3-tools gnutls-bin
libengine-pkcs11-openssl libengine-gost-openssl p11-kit p11-kit-modules util-linux coreutils
pcscd vsmartcard-vpcd libccid libxml2-utils"

case "${1:-build}" in
build) pkgs=$build_pkgs ;;
test) pkgs=$test_pkgs ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing:$missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
