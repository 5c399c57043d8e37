#!/bin/sh
# RSA test CA with the NCA's end-entity profile, on the openssl command line.
#
#   rsa-ca.sh [--auth] [--role ROLE] [--days N] CADIR REQUEST OUT.pem
#
# Issues OUT.pem for the PKCS#10 REQUEST (PEM or DER; its signature must
# verify): subject and key from the request, keyUsage / extendedKeyUsage of
# the NCA's RSA256_ signing certificates (or, with --auth, of AUTH_RSA256_),
# the role in extendedKeyUsage, SKI = SHA-1 of the key bits, AKI = the CA's
# SKI, sha256WithRSAEncryption. The CA's key and self-signed certificate
# (CADIR/ca.key, CADIR/ca.pem) are made on first use.
#
# ROLE: individual (default), head, signing-right, staff.
# Exit status: 0 issued, 1 failure, 2 usage.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cnf=$here/rsa-ca.cnf
profile=nca_sign
role=individual
days=365

usage() {
    echo "usage: rsa-ca.sh [--auth] [--role individual|head|signing-right|staff] [--days N] CADIR REQUEST OUT.pem" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
        --auth) profile=nca_auth; shift ;;
        --role) [ $# -ge 2 ] || usage; role=$2; shift 2 ;;
        --days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ $# -eq 3 ] || usage
cadir=$1 req=$2 out=$3

case $role in
    individual) KZ_CA_ROLE=1.2.398.3.3.4.1.1 ;;
    head) KZ_CA_ROLE="1.2.398.3.3.4.1.2, 1.2.398.3.3.4.1.2.1" ;;
    signing-right) KZ_CA_ROLE="1.2.398.3.3.4.1.2, 1.2.398.3.3.4.1.2.2" ;;
    staff) KZ_CA_ROLE="1.2.398.3.3.4.1.2, 1.2.398.3.3.4.1.2.5" ;;
    *) usage ;;
esac
# The configuration reads it through $ENV:: in every section it loads.
export KZ_CA_ROLE

mkdir -p "$cadir"
if [ ! -s "$cadir/ca.key" ] || [ ! -s "$cadir/ca.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -config "$cnf" -extensions ca_ext \
        -keyout "$cadir/ca.key" -out "$cadir/ca.pem" 2>"$cadir/ca.err" || {
        cat "$cadir/ca.err" >&2
        echo "rsa-ca.sh: cannot create the CA" >&2
        exit 1
    }
fi

# A request whose self-signature fails is refused, as a real CA would.
form=PEM
grep -q -- '-----BEGIN' "$req" 2>/dev/null || form=DER
openssl req -inform "$form" -in "$req" -verify -noout 2>"$cadir/req.err" || {
    cat "$cadir/req.err" >&2
    echo "rsa-ca.sh: the request's signature does not verify" >&2
    exit 1
}
openssl req -inform "$form" -in "$req" -out "$cadir/req.pem"

serial=0x$(openssl rand -hex 16)
openssl x509 -req -in "$cadir/req.pem" -CA "$cadir/ca.pem" -CAkey "$cadir/ca.key" \
    -set_serial "$serial" -days "$days" -sha256 \
    -extfile "$cnf" -extensions "$profile" -out "$out" 2>"$cadir/issue.err" || {
    cat "$cadir/issue.err" >&2
    echo "rsa-ca.sh: issuing failed" >&2
    exit 1
}
