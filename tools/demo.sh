#!/bin/sh
# The main job: install build dependencies, build kzp11, load it with
# pkcs11-tool over the bundled NCA test containers, sign with one and verify
# the signature with openssl against the container's certificate.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

tools/deps.sh build
./autogen.sh >/dev/null 2>&1
mkdir -p _build/demo
cd _build/demo
[ -f Makefile ] || "$top/configure" >/dev/null
make -j"$(nproc)" >/dev/null
module=$(pwd)/.libs/kzp11.so

export KZP11_KEYSTORE="$top/tests/fixtures/nca/rsa-personal"
token=RSA256_11c707bd54cbfcccb3815e39c
container="$KZP11_KEYSTORE/RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'Qwerty12' >"$tmp/pin"     # the published password of the NCA test files

echo "== tokens"
pkcs11-tool --module "$module" --list-token-slots
echo "== objects after login on $token"
pkcs11-tool --module "$module" --token-label "$token" --login --pin "$(cat "$tmp/pin")" --list-objects
echo "== sign with SHA256-RSA-PKCS"
printf 'Hello from kzp11\n' >"$tmp/data"
pkcs11-tool --module "$module" --token-label "$token" --login --pin "$(cat "$tmp/pin")" \
    --sign --mechanism SHA256-RSA-PKCS --input-file "$tmp/data" --output-file "$tmp/sig"
echo "== verify with openssl against the container's certificate"
openssl pkcs12 -legacy -in "$container" -passin file:"$tmp/pin" -nokeys -clcerts -out "$tmp/cert.pem" 2>/dev/null
openssl x509 -in "$tmp/cert.pem" -pubkey -noout >"$tmp/pub.pem"
openssl dgst -sha256 -verify "$tmp/pub.pem" -signature "$tmp/sig" "$tmp/data"
