/* Unit tests for the GOST key decoder (src/gost_keys.c).
 *
 * Needs the NCA fixtures: $KZP11_SHARED/fixtures/nca (default /work/shared).
 * Covers: every GOST container's key against its certificate, the CA and
 * signer certificates (including their signatures, which checks the decoded
 * public keys on real data), sign/verify with fixture keys, keys written by
 * the gost engine (embedded below), a table of hand-built malformed and edge
 * encodings, and a mutation sweep (every truncation, bit flips at every
 * position) over good encodings. Meant to run under ASan/UBSan. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "gost_keys.h"
#include "gost3410.h"
#include "gost94.h"
#include "streebog.h"
#include "p12_container.h"

/* ---- Keys written by OpenSSL's gost engine (libengine-gost-openssl 3.0.1,
 * `openssl genpkey -engine gost`, then `openssl pkey -pubout`). Test data
 * generated for this project. The *_wrap ones were written with
 * GOST_PK_FORMAT=LEGACY_PK_WRAP (privateKey = OCTET STRING in OCTET STRING);
 * the others hold the raw little-endian scalar, the engine's default. */
static const unsigned char ru_2012_256_cpa[] = {
     0x30, 0x46, 0x02, 0x01, 0x00, 0x30, 0x1f, 0x06, 0x08, 0x2a, 0x85, 0x03,
     0x07, 0x01, 0x01, 0x01, 0x01, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x85, 0x03,
     0x02, 0x02, 0x23, 0x01, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
     0x02, 0x02, 0x04, 0x20, 0xe9, 0x56, 0xbe, 0x58, 0x3f, 0xc7, 0xaf, 0xc7,
     0x08, 0xda, 0x60, 0x12, 0x52, 0x51, 0x47, 0x80, 0x99, 0xdb, 0x8e, 0x1b,
     0xff, 0x48, 0x61, 0xdf, 0xd6, 0x21, 0xa8, 0x52, 0x85, 0x52, 0x18, 0x46
};
static const unsigned char ru_2012_256_cpa_pub[] = {
     0x30, 0x66, 0x30, 0x1f, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
     0x01, 0x01, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23,
     0x01, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x02, 0x03,
     0x43, 0x00, 0x04, 0x40, 0x61, 0x9e, 0x5a, 0xf6, 0xae, 0x15, 0x8f, 0x3a,
     0x8f, 0x6b, 0x10, 0xea, 0x23, 0xd7, 0xda, 0xf6, 0x42, 0x1f, 0x31, 0x43,
     0x00, 0x7b, 0xfa, 0x02, 0xab, 0x27, 0xe9, 0x17, 0x61, 0xf1, 0xc4, 0xc6,
     0xb3, 0x31, 0x51, 0x8a, 0xd7, 0x0e, 0x20, 0xc4, 0x24, 0xca, 0x8d, 0x02,
     0xdf, 0xfa, 0x4c, 0x8b, 0xa0, 0x78, 0xb2, 0xab, 0xd5, 0x1f, 0xeb, 0x43,
     0x0a, 0x95, 0x29, 0xea, 0xb8, 0xe0, 0x91, 0xb6
};
static const unsigned char ru_2012_256_tca[] = {
     0x30, 0x3e, 0x02, 0x01, 0x00, 0x30, 0x17, 0x06, 0x08, 0x2a, 0x85, 0x03,
     0x07, 0x01, 0x01, 0x01, 0x01, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x85, 0x03,
     0x07, 0x01, 0x02, 0x01, 0x01, 0x01, 0x04, 0x20, 0x40, 0x6a, 0xf4, 0x00,
     0xf6, 0x63, 0x4f, 0xb9, 0x47, 0xa6, 0xa6, 0xf6, 0x52, 0x3e, 0x68, 0xc7,
     0xf0, 0x30, 0xbc, 0xf0, 0x25, 0x02, 0x9a, 0x3d, 0x05, 0x5a, 0xb3, 0xf2,
     0x5a, 0x5c, 0x67, 0x0b
};
static const unsigned char ru_2012_256_tca_pub[] = {
     0x30, 0x5e, 0x30, 0x17, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
     0x01, 0x01, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02,
     0x01, 0x01, 0x01, 0x03, 0x43, 0x00, 0x04, 0x40, 0xdc, 0xf8, 0x70, 0xc0,
     0x59, 0x99, 0x84, 0xb6, 0xc0, 0xfd, 0x50, 0xbd, 0x50, 0x7f, 0x0b, 0x05,
     0x50, 0x18, 0x15, 0x45, 0x56, 0x89, 0xcc, 0x1e, 0xe2, 0xc3, 0x5b, 0x37,
     0x43, 0x8c, 0x40, 0x2f, 0xcc, 0xbe, 0x6c, 0xb5, 0xfc, 0xc8, 0xa1, 0xf2,
     0x8d, 0x0a, 0x02, 0xc7, 0x42, 0x3f, 0xcb, 0xd4, 0x77, 0x4d, 0x00, 0x07,
     0x04, 0xa0, 0x5e, 0x66, 0xf7, 0x49, 0xa4, 0x78, 0x69, 0x4e, 0x05, 0x49
};
static const unsigned char ru_2012_512_a[] = {
     0x30, 0x68, 0x02, 0x01, 0x00, 0x30, 0x21, 0x06, 0x08, 0x2a, 0x85, 0x03,
     0x07, 0x01, 0x01, 0x01, 0x02, 0x30, 0x15, 0x06, 0x09, 0x2a, 0x85, 0x03,
     0x07, 0x01, 0x02, 0x01, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07,
     0x01, 0x01, 0x02, 0x03, 0x04, 0x40, 0xa2, 0xff, 0x95, 0x18, 0x31, 0x78,
     0xd3, 0xc6, 0xbf, 0xb0, 0xca, 0xa2, 0xa5, 0xeb, 0x3c, 0x84, 0x84, 0xf0,
     0x29, 0x44, 0x6f, 0x6e, 0x04, 0x36, 0x94, 0x03, 0x1b, 0x95, 0x8f, 0x32,
     0x28, 0xcd, 0x5c, 0xe3, 0xd6, 0x71, 0x4b, 0x75, 0x6a, 0x82, 0x23, 0xa5,
     0x58, 0x48, 0x4c, 0xef, 0xaf, 0xf4, 0x99, 0xba, 0xaa, 0x6d, 0x3f, 0x7d,
     0x0f, 0xe7, 0x79, 0x16, 0x30, 0x60, 0x7e, 0xa7, 0xbd, 0x97
};
static const unsigned char ru_2012_512_a_pub[] = {
     0x30, 0x81, 0xaa, 0x30, 0x21, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01,
     0x01, 0x01, 0x02, 0x30, 0x15, 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
     0x02, 0x01, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
     0x02, 0x03, 0x03, 0x81, 0x84, 0x00, 0x04, 0x81, 0x80, 0xac, 0xb0, 0x30,
     0xaa, 0x71, 0x0f, 0xda, 0xe3, 0xc2, 0x98, 0xf4, 0x33, 0xea, 0xe6, 0xf6,
     0xa6, 0x23, 0x6b, 0xdb, 0x9f, 0x8a, 0x9d, 0x4d, 0x94, 0xf8, 0x9d, 0xf0,
     0x79, 0x35, 0x79, 0x79, 0x9f, 0x34, 0x50, 0x6a, 0x74, 0xc7, 0x38, 0xea,
     0x03, 0x4c, 0xeb, 0x28, 0x99, 0x67, 0x51, 0x7d, 0xe2, 0xc3, 0x74, 0x2d,
     0xa4, 0x56, 0x00, 0x3c, 0x44, 0x6f, 0x73, 0x63, 0x2d, 0x1c, 0xd0, 0x46,
     0xc9, 0xb1, 0xd0, 0x24, 0xd8, 0xae, 0x6d, 0x31, 0xb9, 0x68, 0xd9, 0x61,
     0xfd, 0x17, 0x7f, 0x06, 0xb7, 0xf2, 0x73, 0xb3, 0x59, 0xf7, 0x87, 0x8b,
     0x3b, 0x77, 0xeb, 0x9a, 0x5d, 0xb1, 0x81, 0xc1, 0x6e, 0xc3, 0x8a, 0x60,
     0xcc, 0xaa, 0xbb, 0x5c, 0xcf, 0xf6, 0x28, 0xfb, 0x01, 0x94, 0xdc, 0xa2,
     0x2c, 0x1b, 0xd6, 0x78, 0x87, 0xb0, 0x79, 0x22, 0x43, 0x73, 0x78, 0x8f,
     0x14, 0x64, 0xae, 0x62, 0xe6
};
static const unsigned char ru_2012_512_b[] = {
     0x30, 0x68, 0x02, 0x01, 0x00, 0x30, 0x21, 0x06, 0x08, 0x2a, 0x85, 0x03,
     0x07, 0x01, 0x01, 0x01, 0x02, 0x30, 0x15, 0x06, 0x09, 0x2a, 0x85, 0x03,
     0x07, 0x01, 0x02, 0x01, 0x02, 0x02, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07,
     0x01, 0x01, 0x02, 0x03, 0x04, 0x40, 0x5b, 0xb7, 0x0a, 0xd0, 0x78, 0x3d,
     0x19, 0xe3, 0xd5, 0x88, 0xaf, 0x2e, 0xaf, 0x7c, 0x78, 0x72, 0x94, 0x4a,
     0x9b, 0xaf, 0x0c, 0x8b, 0xcd, 0x2f, 0x27, 0x65, 0x24, 0xd6, 0xe1, 0x07,
     0x36, 0xd5, 0xb4, 0x9b, 0xaa, 0x2e, 0xfc, 0x2b, 0x49, 0xc5, 0xd8, 0x03,
     0x33, 0x23, 0x30, 0x43, 0x3b, 0xf9, 0x55, 0xa2, 0x5a, 0x7a, 0x4e, 0xd8,
     0x39, 0xa4, 0x1b, 0x59, 0xe6, 0x5a, 0xe2, 0xa8, 0xc3, 0x26
};
static const unsigned char ru_2012_512_b_pub[] = {
     0x30, 0x81, 0xaa, 0x30, 0x21, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01,
     0x01, 0x01, 0x02, 0x30, 0x15, 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
     0x02, 0x01, 0x02, 0x02, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
     0x02, 0x03, 0x03, 0x81, 0x84, 0x00, 0x04, 0x81, 0x80, 0x3d, 0x00, 0x8b,
     0x74, 0x7f, 0x4b, 0x87, 0xe4, 0xbe, 0x2b, 0x9e, 0x0e, 0x80, 0xd9, 0x70,
     0x45, 0x75, 0xf8, 0x73, 0x2c, 0x82, 0xf1, 0x88, 0x81, 0xac, 0xd9, 0xbb,
     0xb3, 0xb7, 0xc5, 0xe4, 0x3f, 0x35, 0xe4, 0xc6, 0xd8, 0xde, 0x83, 0x72,
     0xce, 0xfb, 0x1f, 0x1b, 0xa5, 0xef, 0x99, 0xd0, 0xfd, 0x89, 0x37, 0x0a,
     0xb7, 0x30, 0x72, 0xc8, 0xed, 0xb4, 0x74, 0x54, 0x02, 0x41, 0x33, 0x87,
     0x62, 0x65, 0xf3, 0xc9, 0xa7, 0xe6, 0x9e, 0xf9, 0xd0, 0xec, 0x57, 0x1a,
     0xa1, 0x4e, 0xb4, 0xe2, 0x50, 0x8b, 0x7c, 0x7f, 0xa2, 0x46, 0xfe, 0xd1,
     0xcb, 0xb5, 0x77, 0x4a, 0x8a, 0x32, 0x7e, 0xa8, 0xf5, 0x75, 0xdc, 0x06,
     0x9a, 0xc1, 0x67, 0x5f, 0x3b, 0xb6, 0xd2, 0xfa, 0xa2, 0xf7, 0xd4, 0xe5,
     0x07, 0xea, 0x4c, 0xea, 0x8c, 0xd3, 0xfd, 0xdd, 0x7a, 0xd5, 0x99, 0x52,
     0xa9, 0x5b, 0xd5, 0xc8, 0x43
};
static const unsigned char ru_2001_cpa[] = {
     0x30, 0x43, 0x02, 0x01, 0x00, 0x30, 0x1c, 0x06, 0x06, 0x2a, 0x85, 0x03,
     0x02, 0x02, 0x13, 0x30, 0x12, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02,
     0x23, 0x01, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01, 0x04,
     0x20, 0x7f, 0x7d, 0x0d, 0x2a, 0xcc, 0x57, 0x56, 0xca, 0xc0, 0xa4, 0x56,
     0x47, 0xe2, 0x91, 0xd3, 0x53, 0x44, 0x8a, 0xd7, 0x50, 0x97, 0x9a, 0x38,
     0xce, 0x80, 0xc1, 0xd5, 0xb9, 0xc1, 0xd7, 0xdb, 0xca
};
static const unsigned char ru_2001_cpa_pub[] = {
     0x30, 0x63, 0x30, 0x1c, 0x06, 0x06, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x13,
     0x30, 0x12, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01, 0x06,
     0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01, 0x03, 0x43, 0x00, 0x04,
     0x40, 0x22, 0xac, 0xbe, 0xe1, 0xcb, 0x3a, 0xd8, 0x0c, 0x99, 0xbe, 0x2b,
     0x35, 0xd3, 0xa1, 0x79, 0x7f, 0x2f, 0x2d, 0x45, 0x6e, 0xd3, 0x31, 0xce,
     0xc5, 0xdc, 0x15, 0xba, 0x51, 0xb2, 0xcd, 0x4e, 0x43, 0x26, 0xb8, 0x97,
     0x72, 0x57, 0x89, 0x40, 0x75, 0xb7, 0x7f, 0x43, 0xd7, 0xaa, 0xdd, 0x9f,
     0x90, 0x10, 0x3d, 0x6c, 0x9c, 0x4a, 0xd8, 0xdb, 0x74, 0x3d, 0x11, 0x6d,
     0x96, 0x79, 0x6a, 0xcf, 0xa3
};
static const unsigned char ru_2001_xa[] = {
     0x30, 0x43, 0x02, 0x01, 0x00, 0x30, 0x1c, 0x06, 0x06, 0x2a, 0x85, 0x03,
     0x02, 0x02, 0x13, 0x30, 0x12, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02,
     0x24, 0x00, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01, 0x04,
     0x20, 0xb9, 0xc1, 0x6b, 0x21, 0x0f, 0xc3, 0xdf, 0x22, 0x20, 0x7c, 0x46,
     0x12, 0x5e, 0x07, 0x94, 0x3e, 0x79, 0x07, 0x56, 0xfe, 0x32, 0x8b, 0xb1,
     0x8c, 0xb2, 0xb2, 0x95, 0xd2, 0x7f, 0x67, 0x01, 0xeb
};
static const unsigned char ru_2001_xa_pub[] = {
     0x30, 0x63, 0x30, 0x1c, 0x06, 0x06, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x13,
     0x30, 0x12, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x24, 0x00, 0x06,
     0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01, 0x03, 0x43, 0x00, 0x04,
     0x40, 0x57, 0xc3, 0x78, 0x26, 0xbc, 0xc6, 0xa4, 0xad, 0x6b, 0xec, 0xac,
     0x9a, 0x97, 0x0a, 0xc6, 0xa4, 0xd4, 0x3c, 0xf7, 0x7c, 0x85, 0x9a, 0xff,
     0xeb, 0x91, 0x09, 0xe0, 0x63, 0x8e, 0xd9, 0x87, 0x8b, 0x4d, 0x47, 0xf5,
     0x59, 0x50, 0xcd, 0x1d, 0xa4, 0xe7, 0xdb, 0x4a, 0x80, 0xc6, 0xd7, 0x1f,
     0xc4, 0xe2, 0x5f, 0x09, 0x26, 0x37, 0xd2, 0xb2, 0x1e, 0xb0, 0xb5, 0x1a,
     0xaf, 0xb5, 0x84, 0x93, 0x62
};
static const unsigned char ru_2012_512_wrap[] = {
     0x30, 0x6a, 0x02, 0x01, 0x00, 0x30, 0x21, 0x06, 0x08, 0x2a, 0x85, 0x03,
     0x07, 0x01, 0x01, 0x01, 0x02, 0x30, 0x15, 0x06, 0x09, 0x2a, 0x85, 0x03,
     0x07, 0x01, 0x02, 0x01, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07,
     0x01, 0x01, 0x02, 0x03, 0x04, 0x42, 0x04, 0x40, 0x90, 0x79, 0x2a, 0x15,
     0x4d, 0x6f, 0xd1, 0x01, 0x04, 0xd5, 0x18, 0x08, 0xcf, 0xae, 0xc2, 0x79,
     0x92, 0xac, 0x01, 0x29, 0xdd, 0x25, 0xbf, 0x45, 0x98, 0xbe, 0xc7, 0xfa,
     0x6c, 0x6d, 0x90, 0x8d, 0x34, 0x1b, 0xbb, 0x82, 0x65, 0xba, 0x9f, 0x14,
     0x1d, 0xaa, 0x19, 0x33, 0xc0, 0x59, 0x89, 0x39, 0x6c, 0x79, 0x4c, 0x5b,
     0x0b, 0x89, 0xd2, 0xdd, 0x02, 0xff, 0xa2, 0xc5, 0x7c, 0xbc, 0x42, 0x27
};
static const unsigned char ru_2012_512_wrap_pub[] = {
     0x30, 0x81, 0xaa, 0x30, 0x21, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01,
     0x01, 0x01, 0x02, 0x30, 0x15, 0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01,
     0x02, 0x01, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01,
     0x02, 0x03, 0x03, 0x81, 0x84, 0x00, 0x04, 0x81, 0x80, 0xf7, 0x89, 0x19,
     0xf8, 0x29, 0x03, 0x05, 0xbf, 0xd6, 0xf2, 0xe1, 0xa9, 0x05, 0x01, 0x73,
     0xde, 0xa6, 0x4b, 0x22, 0x1d, 0x68, 0x09, 0x3a, 0x85, 0x15, 0xe7, 0x4f,
     0x03, 0xf7, 0x27, 0xf6, 0xb0, 0xf0, 0x4b, 0x51, 0xdb, 0xc4, 0x61, 0xe2,
     0x52, 0x4c, 0x4a, 0x29, 0x30, 0xbf, 0x1f, 0xcc, 0x41, 0xf0, 0xfe, 0x4e,
     0x48, 0xcc, 0x10, 0x39, 0x23, 0xdc, 0xb0, 0x61, 0xdd, 0xcf, 0x88, 0x86,
     0x37, 0x38, 0xe7, 0xb6, 0x47, 0x68, 0xea, 0xb8, 0xeb, 0x13, 0x1d, 0x43,
     0xbe, 0x30, 0x90, 0xd7, 0x07, 0x67, 0x17, 0x40, 0x79, 0x07, 0x86, 0x35,
     0x22, 0xea, 0xdc, 0xc8, 0x76, 0x89, 0x71, 0xfc, 0xf6, 0x37, 0x3f, 0x7f,
     0x48, 0x37, 0xd2, 0xd3, 0x5a, 0x50, 0x8d, 0x1b, 0x11, 0x35, 0x21, 0x5d,
     0x96, 0xf2, 0x42, 0xa3, 0xfc, 0x75, 0x43, 0xc0, 0xd4, 0x71, 0xd7, 0xaf,
     0xa9, 0x04, 0xaf, 0x64, 0x25
};
static const unsigned char ru_2001_wrap[] = {
     0x30, 0x45, 0x02, 0x01, 0x00, 0x30, 0x1c, 0x06, 0x06, 0x2a, 0x85, 0x03,
     0x02, 0x02, 0x13, 0x30, 0x12, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02,
     0x23, 0x01, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01, 0x04,
     0x22, 0x04, 0x20, 0xc1, 0xd0, 0x0e, 0xaa, 0x01, 0x8a, 0xff, 0xb2, 0x19,
     0xef, 0x68, 0x5c, 0xa7, 0x8e, 0xdb, 0x4f, 0x9d, 0xe0, 0x39, 0x11, 0xc7,
     0x4c, 0x0b, 0xa6, 0xa0, 0x90, 0x61, 0xa3, 0x09, 0x18, 0x98, 0xb2
};
static const unsigned char ru_2001_wrap_pub[] = {
     0x30, 0x63, 0x30, 0x1c, 0x06, 0x06, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x13,
     0x30, 0x12, 0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x23, 0x01, 0x06,
     0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, 0x1e, 0x01, 0x03, 0x43, 0x00, 0x04,
     0x40, 0xa5, 0xf4, 0xa0, 0xc5, 0xf6, 0xe0, 0x9f, 0xd8, 0x89, 0xac, 0x78,
     0x46, 0x1d, 0x95, 0x67, 0xf4, 0xab, 0x1b, 0x1f, 0xee, 0x83, 0xc5, 0x0c,
     0x69, 0xe9, 0x4a, 0xbe, 0x66, 0xe5, 0x40, 0x56, 0x74, 0x3c, 0x32, 0xc7,
     0x65, 0xfe, 0x30, 0x83, 0x1a, 0xc7, 0x28, 0xf8, 0x77, 0xc7, 0xde, 0x7e,
     0x36, 0x90, 0xc1, 0x04, 0x57, 0xfb, 0x34, 0xcc, 0xc3, 0x30, 0x48, 0xdd,
     0x93, 0x12, 0xa9, 0xdf, 0xf7
};

/* ---- Fixture state ---------------------------------------------------------- */

#define MAX_CONTAINERS 32

typedef struct {
    char name[256];
    unsigned char *p8;
    size_t p8_len;
    unsigned char *cert;
    size_t cert_len;
} container;

static OSSL_LIB_CTX *libctx;
static OSSL_PROVIDER *prov_default, *prov_legacy;
static char nca_dir[4096];
static container containers[MAX_CONTAINERS];
static size_t n_containers;
static int idx_kz512 = -1, idx_kz2004 = -1;    /* a GOST512 and the GOSTKNCA container */

/* A generated TC26-256-A key (no Kazakh 256-bit fixture exists). */
static unsigned char gen256_priv[32], gen256_pub[64];

static void path_join(char *buf, size_t n, const char *a, const char *b)
{
    int r = snprintf(buf, n, "%s/%s", a, b);

    if (r < 0 || (size_t)r >= n)
        fail_msg("path too long: %s/%s", a, b);
}

/* Exactly-sized heap copy so that ASan catches any read past the end. */
static unsigned char *dup_exact(const unsigned char *p, size_t n)
{
    unsigned char *b = malloc(n ? n : 1);

    assert_non_null(b);
    if (n)
        memcpy(b, p, n);
    return b;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n = 0;

    if (f == NULL)
        fail_msg("cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
        fail_msg("cannot size %s", path);
    assert_true(n > 0);
    buf = malloc((size_t)n);
    assert_non_null(buf);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        fail_msg("short read %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A certificate file as DER: DER as is, PEM, or bare base64 (the CMS
 * fixture's individual_signer.cer is one line of base64). */
static unsigned char *load_cert_der(const char *path, size_t *len)
{
    size_t n;
    unsigned char *raw = slurp(path, &n), *out = NULL;

    if (n > 0 && raw[0] == 0x30) {
        *len = n;
        return raw;
    }
    if (n > 10 && memcmp(raw, "-----BEGIN", 10) == 0) {
        BIO *b = BIO_new_mem_buf(raw, (int)n);
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        int l;

        assert_non_null(x);
        l = i2d_X509(x, &out);
        assert_true(l > 0);
        X509_free(x);
        BIO_free(b);
        free(raw);
        raw = dup_exact(out, (size_t)l);
        OPENSSL_free(out);
        *len = (size_t)l;
        return raw;
    }
    {
        /* Bare base64: drop whitespace, decode, subtract the padding. */
        unsigned char *clean = malloc(n + 1);
        size_t m = 0, pad = 0;
        int l;

        assert_non_null(clean);
        for (size_t i = 0; i < n; i++)
            if (raw[i] != '\n' && raw[i] != '\r' && raw[i] != ' ' && raw[i] != '\t')
                clean[m++] = raw[i];
        assert_true(m > 0 && m % 4 == 0);
        pad = (clean[m - 1] == '=') + (clean[m - 2] == '=');
        out = malloc(m / 4 * 3);
        assert_non_null(out);
        l = EVP_DecodeBlock(out, clean, (int)m);
        assert_true(l > 0 && (size_t)l >= pad);
        free(clean);
        free(raw);
        *len = (size_t)l - pad;
        return out;
    }
}

/* An exactly-sized DER copy, to be released with free(). */
static unsigned char *load_cert(const char *path, size_t *len)
{
    unsigned char *d = load_cert_der(path, len), *copy;

    assert_true(*len > 0 && d[0] == 0x30);
    copy = dup_exact(d, *len);
    free(d);
    return copy;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t load_dir(const char *sub, const char *prefix)
{
    char dir[4096], path[4096];
    char *names[MAX_CONTAINERS];
    size_t n = 0;
    DIR *d;
    struct dirent *e;

    path_join(dir, sizeof(dir), nca_dir, sub);
    if ((d = opendir(dir)) == NULL)
        fail_msg("fixture folder missing: %s", dir);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);

        if (l > 4 && strcmp(e->d_name + l - 4, ".p12") == 0 &&
            strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            assert_true(n < MAX_CONTAINERS);
            names[n] = strdup(e->d_name);
            assert_non_null(names[n]);
            n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        container *c;
        kz_p12_contents pc;
        unsigned char *data;
        size_t dlen;
        CK_RV rv;

        assert_true(n_containers < MAX_CONTAINERS);
        c = &containers[n_containers++];
        snprintf(c->name, sizeof(c->name), "%s", names[i]);
        path_join(path, sizeof(path), dir, names[i]);
        data = slurp(path, &dlen);
        rv = kz_p12_open(data, dlen, "Qwerty12", 8, libctx, &pc);
        if (rv != CKR_OK)
            fail_msg("kz_p12_open(%s) = 0x%lx", names[i], (unsigned long)rv);
        assert_non_null(pc.pkcs8_der);
        assert_non_null(pc.cert_der);
        c->p8 = dup_exact(pc.pkcs8_der, pc.pkcs8_len);
        c->p8_len = pc.pkcs8_len;
        c->cert = dup_exact(pc.cert_der, pc.cert_len);
        c->cert_len = pc.cert_len;
        kz_p12_contents_clear(&pc);
        free(data);
        free(names[i]);
    }
    return n;
}

static int group_setup(void **state)
{
    const char *shared = getenv("KZP11_SHARED");
    const kz_gost_curve *c256 = kz_gost_curve_by_name("TC26-256-A");

    if (shared == NULL || *shared == '\0')
        shared = "/work/shared";
    path_join(nca_dir, sizeof(nca_dir), shared, "fixtures/nca");
    {
        DIR *d = opendir(nca_dir);

        if (d == NULL) {
            fprintf(stderr, "NCA fixtures not found at %s (set KZP11_SHARED)\n", nca_dir);
            return -1;
        }
        closedir(d);
    }
    libctx = OSSL_LIB_CTX_new();
    if (libctx == NULL)
        return -1;
    prov_default = OSSL_PROVIDER_load(libctx, "default");
    prov_legacy = OSSL_PROVIDER_load(libctx, "legacy");
    if (prov_default == NULL || prov_legacy == NULL)
        return -1;

    if (load_dir("gost2015", "GOST512_") < 6)
        return -1;
    idx_kz512 = 0;
    idx_kz2004 = (int)n_containers;
    if (load_dir("gost2004-organization", "GOSTKNCA_") < 1)
        return -1;

    if (c256 == NULL || !kz_gost3410_keygen(c256, gen256_priv, gen256_pub))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    for (size_t i = 0; i < n_containers; i++) {
        OPENSSL_cleanse(containers[i].p8, containers[i].p8_len);
        free(containers[i].p8);
        free(containers[i].cert);
    }
    OPENSSL_cleanse(gen256_priv, sizeof(gen256_priv));
    OSSL_PROVIDER_unload(prov_legacy);
    OSSL_PROVIDER_unload(prov_default);
    OSSL_LIB_CTX_free(libctx);
    kz_gost3410_cleanup();
    kz_gost_curves_cleanup();
    return 0;
}

/* ---- Checks shared by all tests -------------------------------------------- */

static const kz_gost_curve *curve(const char *name)
{
    const kz_gost_curve *c = kz_gost_curve_by_name(name);

    assert_non_null(c);
    return c;
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

/* Whatever a decoder accepted must be a usable, consistent key. */
static void assert_consistent(const kz_gost_key *k)
{
    const kz_gost_curve *c = k->curve;
    const unsigned char *cd, *hd;
    size_t cl, hl;

    assert_non_null(c);
    assert_true(c->field_len == 32 || c->field_len == 64);
    assert_int_not_equal(k->hash, KZ_GOST_HASH_NONE);
    assert_int_equal(kz_gost_hash_len(k->hash), c->field_len);
    assert_true(k->has_pub);
    assert_int_equal(k->pub_len, 2 * c->field_len);
    assert_true(kz_gost3410_pub_check(c, k->pub, k->pub_len));
    if (k->has_priv) {
        unsigned char pub[128];
        BIGNUM *d = BN_bin2bn(k->priv, (int)k->priv_len, NULL);

        assert_int_equal(k->priv_len, c->field_len);
        assert_non_null(d);
        assert_false(BN_is_zero(d));
        assert_true(BN_cmp(d, EC_GROUP_get0_order(kz_gost_curve_group(c))) < 0);
        BN_clear_free(d);
        assert_true(kz_gost3410_pub_from_priv(c, k->priv, k->priv_len, pub));
        assert_memory_equal(pub, k->pub, k->pub_len);
    } else {
        assert_int_equal(k->priv_len, 0);
        assert_true(all_zero(k->priv, sizeof(k->priv)));
    }
    assert_int_equal(kz_gost_key_param_oids(k, &cd, &cl, &hd, &hl), 0);
    assert_memory_equal(cd, c->oid_der, cl);
    assert_int_equal(kz_gost_hash_by_oid_der(hd, hl), k->hash);
}

enum { KIND_P8, KIND_SPKI, KIND_CERT };

/* Runs one decoder on an exactly-sized copy. On failure the output must be
 * wiped; on success consistent. */
static int decode(int kind, const unsigned char *der, size_t len, kz_gost_key *k)
{
    unsigned char *copy = dup_exact(der, len);
    int rc;

    memset(k, 0xA5, sizeof(*k));
    switch (kind) {
    case KIND_P8:
        rc = kz_gost_key_from_pkcs8(copy, len, k);
        break;
    case KIND_SPKI:
        rc = kz_gost_key_from_spki(copy, len, k);
        break;
    default:
        rc = kz_gost_key_from_cert(copy, len, k);
        break;
    }
    free(copy);
    assert_true(rc == 0 || rc == -1);
    assert_int_equal(ERR_peek_error(), 0);
    if (rc == 0) {
        assert_consistent(k);
        assert_int_equal(k->has_priv, kind == KIND_P8);
    } else {
        assert_true(all_zero(k, sizeof(*k)));
    }
    return rc;
}

static void decode_container(const container *c, kz_gost_key *priv, kz_gost_key *pub)
{
    if (decode(KIND_P8, c->p8, c->p8_len, priv) != 0)
        fail_msg("%s: PKCS#8 rejected", c->name);
    if (decode(KIND_CERT, c->cert, c->cert_len, pub) != 0)
        fail_msg("%s: certificate rejected", c->name);
}

/* The SubjectPublicKeyInfo DER of a certificate. */
static unsigned char *cert_spki(const unsigned char *der, size_t len, size_t *out_len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    unsigned char *spki = NULL, *copy;
    int l;

    assert_non_null(x);
    l = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    assert_true(l > 0);
    copy = dup_exact(spki, (size_t)l);
    OPENSSL_free(spki);
    X509_free(x);
    *out_len = (size_t)l;
    return copy;
}

static void obj_der_of(const char *txt, unsigned char *buf, size_t *len)
{
    ASN1_OBJECT *o = OBJ_txt2obj(txt, 1);
    unsigned char *p = buf;
    int l;

    assert_non_null(o);
    l = i2d_ASN1_OBJECT(o, &p);
    assert_true(l > 0 && l <= 32);
    *len = (size_t)l;
    ASN1_OBJECT_free(o);
}

/* ---- Fixture containers ------------------------------------------------------- */

static void test_containers(void **state)
{
    size_t n512 = 0, n2004 = 0;

    for (size_t i = 0; i < n_containers; i++) {
        const container *c = &containers[i];
        kz_gost_key priv, pub;
        int is512 = strncmp(c->name, "GOST512_", 8) == 0;

        decode_container(c, &priv, &pub);
        assert_true(priv.has_priv && priv.has_pub && priv.kazakh);
        assert_true(!pub.has_priv && pub.has_pub && pub.kazakh);
        /* The public key computed from the private key is the certificate's. */
        assert_ptr_equal(priv.curve, pub.curve);
        assert_int_equal(priv.hash, pub.hash);
        assert_int_equal(priv.pub_len, pub.pub_len);
        assert_memory_equal(priv.pub, pub.pub, pub.pub_len);
        if (is512) {
            assert_ptr_equal(priv.curve, curve("TC26-512-A"));
            assert_int_equal(priv.hash, KZ_GOST_HASH_STREEBOG512);
            assert_int_equal(priv.priv_len, 64);
            assert_int_equal(priv.pub_len, 128);
            n512++;
        } else {
            assert_ptr_equal(priv.curve, curve("CryptoPro-A"));
            assert_int_equal(priv.hash, KZ_GOST_HASH_GOST94_TEST);
            assert_int_equal(priv.priv_len, 32);
            assert_int_equal(priv.pub_len, 64);
            n2004++;
        }
        kz_gost_key_clear(&priv);
        assert_true(all_zero(&priv, sizeof(priv)));
    }
    assert_int_equal(n512, 6);
    assert_true(n2004 >= 1);
}

/* The SPKI of each container certificate decodes the same on its own. */
static void test_container_spki(void **state)
{
    for (size_t i = 0; i < n_containers; i++) {
        kz_gost_key a, b;
        size_t sl;
        unsigned char *spki = cert_spki(containers[i].cert, containers[i].cert_len, &sl);

        assert_int_equal(decode(KIND_CERT, containers[i].cert, containers[i].cert_len, &a), 0);
        assert_int_equal(decode(KIND_SPKI, spki, sl, &b), 0);
        assert_memory_equal(&a, &b, sizeof(a));
        free(spki);
    }
}

/* The PKCS#11 parameter OIDs: the TC26 / CryptoPro ones (see gost_keys.h). */
static void test_param_oids(void **state)
{
    static const struct {
        const char *oid;
        kz_gost_hash h;
    } digests[] = {
        { "1.2.643.7.1.1.2.2", KZ_GOST_HASH_STREEBOG256 },
        { "1.2.398.3.10.1.3.2", KZ_GOST_HASH_STREEBOG256 },
        { "1.2.643.7.1.1.2.3", KZ_GOST_HASH_STREEBOG512 },
        { "1.2.398.3.10.1.3.3", KZ_GOST_HASH_STREEBOG512 },
        { "1.2.643.2.2.30.0", KZ_GOST_HASH_GOST94_TEST },
        { "1.2.398.3.10.1.3.1.1.0", KZ_GOST_HASH_GOST94_TEST },
        { "1.2.398.3.10.1.3.1", KZ_GOST_HASH_GOST94_TEST },
        { "1.2.643.2.2.30.1", KZ_GOST_HASH_GOST94_CRYPTOPRO },
        { "1.2.643.2.2.9", KZ_GOST_HASH_NONE },
        { "1.2.643.7.1.1.2.4", KZ_GOST_HASH_NONE },
        { "1.2.398.3.10.1.3.4", KZ_GOST_HASH_NONE },
    };
    unsigned char buf[32], want[32];
    size_t len, wl, cl, hl;
    const unsigned char *cd, *hd;
    kz_gost_key k512, k2004, pub;

    for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
        obj_der_of(digests[i].oid, buf, &len);
        assert_int_equal(kz_gost_hash_by_oid_der(buf, len), digests[i].h);
    }
    assert_int_equal(kz_gost_hash_by_oid_der(NULL, 0), KZ_GOST_HASH_NONE);
    assert_int_equal(kz_gost_hash_len(KZ_GOST_HASH_NONE), 0);

    decode_container(&containers[idx_kz512], &k512, &pub);
    assert_int_equal(kz_gost_key_param_oids(&k512, &cd, &cl, &hd, &hl), 0);
    obj_der_of("1.2.643.7.1.2.1.2.1", want, &wl);
    assert_int_equal(cl, wl);
    assert_memory_equal(cd, want, wl);
    obj_der_of("1.2.643.7.1.1.2.3", want, &wl);
    assert_int_equal(hl, wl);
    assert_memory_equal(hd, want, wl);
    /* The Kazakh curve OID is accepted on input and names the same curve. */
    obj_der_of("1.2.398.3.10.1.1.2.2.1", buf, &len);
    assert_ptr_equal(kz_gost_curve_by_oid_der(buf, len), k512.curve);

    decode_container(&containers[idx_kz2004], &k2004, &pub);
    assert_int_equal(kz_gost_key_param_oids(&k2004, &cd, &cl, &hd, &hl), 0);
    obj_der_of("1.2.643.2.2.35.1", want, &wl);
    assert_int_equal(cl, wl);
    assert_memory_equal(cd, want, wl);
    obj_der_of("1.2.643.2.2.30.0", want, &wl);
    assert_int_equal(hl, wl);
    assert_memory_equal(hd, want, wl);

    /* Only pointers that are wanted are written; bad keys are refused. */
    assert_int_equal(kz_gost_key_param_oids(&k512, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(kz_gost_key_param_oids(NULL, &cd, &cl, &hd, &hl), -1);
    kz_gost_key_clear(&k512);
    assert_int_equal(kz_gost_key_param_oids(&k512, &cd, &cl, &hd, &hl), -1);
    kz_gost_key_clear(&k2004);
}

/* ---- CA and signer certificates ------------------------------------------------ */

static void check_signature(const char *what, const unsigned char *child, size_t clen,
                            const kz_gost_key *issuer)
{
    const unsigned char *p = child;
    X509 *x = d2i_X509(NULL, &p, (long)clen);
    const ASN1_BIT_STRING *sig = NULL;
    const X509_ALGOR *alg = NULL;
    unsigned char *tbs = NULL, digest[64], rs[128];
    char oid[64];
    int tlen;

    assert_non_null(x);
    X509_get0_signature(&sig, &alg, x);
    OBJ_obj2txt(oid, sizeof(oid), alg->algorithm, 1);
    /* GOST 2015 512-bit signature; the NCA's layout, r || s little-endian. */
    assert_string_equal(oid, "1.2.398.3.10.1.1.2.3.2");
    assert_int_equal(ASN1_STRING_length(sig), 128);
    tlen = i2d_re_X509_tbs(x, &tbs);
    assert_true(tlen > 0);
    kz_streebog(512, tbs, (size_t)tlen, digest);
    kz_gost3410_sig_from_nca(ASN1_STRING_get0_data(sig), 128, rs);
    if (!kz_gost3410_verify(issuer->curve, issuer->pub, issuer->pub_len, digest, 64, rs, 128))
        fail_msg("%s: signature does not verify with the decoded issuer key", what);
    rs[5] ^= 1;
    assert_false(kz_gost3410_verify(issuer->curve, issuer->pub, issuer->pub_len, digest, 64, rs, 128));
    OPENSSL_free(tbs);
    X509_free(x);
}

static void test_ca_certs(void **state)
{
    static const char *const files[] = {
        "cms/individual_signer.cer", "ca/nca_gost2022_test.cer", "ca/root_test_gost_2022.cer",
    };
    unsigned char *der[3];
    size_t len[3];
    kz_gost_key k[3];
    char path[4096];

    for (int i = 0; i < 3; i++) {
        size_t sl;
        unsigned char *spki;
        kz_gost_key s;

        path_join(path, sizeof(path), nca_dir, files[i]);
        der[i] = load_cert(path, &len[i]);
        if (decode(KIND_CERT, der[i], len[i], &k[i]) != 0)
            fail_msg("%s rejected", files[i]);
        assert_ptr_equal(k[i].curve, curve("TC26-512-A"));
        assert_int_equal(k[i].hash, KZ_GOST_HASH_STREEBOG512);
        assert_true(k[i].kazakh && k[i].has_pub && !k[i].has_priv);
        spki = cert_spki(der[i], len[i], &sl);
        assert_int_equal(decode(KIND_SPKI, spki, sl, &s), 0);
        assert_memory_equal(&s, &k[i], sizeof(s));
        free(spki);
    }
    /* signer <- intermediate <- root <- root, and every GOST512 container
     * certificate <- intermediate. */
    check_signature("individual_signer.cer", der[0], len[0], &k[1]);
    check_signature("nca_gost2022_test.cer", der[1], len[1], &k[2]);
    check_signature("root_test_gost_2022.cer", der[2], len[2], &k[2]);
    for (size_t i = 0; i < n_containers; i++)
        if (strncmp(containers[i].name, "GOST512_", 8) == 0)
            check_signature(containers[i].name, containers[i].cert, containers[i].cert_len, &k[1]);
    for (int i = 0; i < 3; i++)
        free(der[i]);
}

/* ---- Sign with a fixture key, verify with its certificate ------------------------ */

static void hash_for(kz_gost_hash h, const unsigned char *msg, size_t len, unsigned char *out)
{
    switch (h) {
    case KZ_GOST_HASH_STREEBOG512:
        kz_streebog(512, msg, len, out);
        break;
    case KZ_GOST_HASH_STREEBOG256:
        kz_streebog(256, msg, len, out);
        break;
    case KZ_GOST_HASH_GOST94_TEST:
        kz_gost94(&kz_gost94_test_params, msg, len, out);
        break;
    case KZ_GOST_HASH_GOST94_CRYPTOPRO:
        kz_gost94(&kz_gost94_cryptopro_params, msg, len, out);
        break;
    default:
        fail_msg("no hash");
    }
}

static void test_sign_verify(void **state)
{
    static const unsigned char msg[] = "kzp11 gost_keys sign/verify";

    for (size_t i = 0; i < n_containers; i++) {
        kz_gost_key priv, pub;
        unsigned char digest[64], sig[128];
        size_t dl, sl;

        decode_container(&containers[i], &priv, &pub);
        dl = kz_gost_hash_len(priv.hash);
        sl = kz_gost3410_sig_len(priv.curve);
        hash_for(priv.hash, msg, sizeof(msg) - 1, digest);
        assert_true(kz_gost3410_sign(priv.curve, priv.priv, priv.priv_len, digest, dl, sig));
        assert_true(kz_gost3410_verify(pub.curve, pub.pub, pub.pub_len, digest, dl, sig, sl));
        digest[0] ^= 0x80;
        assert_false(kz_gost3410_verify(pub.curve, pub.pub, pub.pub_len, digest, dl, sig, sl));
        kz_gost_key_clear(&priv);
    }
}

/* ---- Keys written by the gost engine ----------------------------------------------- */

static void test_engine_keys(void **state)
{
    static const struct {
        const char *name;
        const unsigned char *p8, *spki;
        size_t p8_len, spki_len;
        const char *curve;
        kz_gost_hash hash;
    } v[] = {
#define V(n, c, h) { #n, n, n##_pub, sizeof(n), sizeof(n##_pub), c, h }
        V(ru_2012_256_cpa, "CryptoPro-A", KZ_GOST_HASH_STREEBOG256),
        V(ru_2012_256_tca, "TC26-256-A", KZ_GOST_HASH_STREEBOG256),
        V(ru_2012_512_a, "TC26-512-A", KZ_GOST_HASH_STREEBOG512),
        V(ru_2012_512_b, "TC26-512-B", KZ_GOST_HASH_STREEBOG512),
        V(ru_2012_512_wrap, "TC26-512-A", KZ_GOST_HASH_STREEBOG512),
        V(ru_2001_cpa, "CryptoPro-A", KZ_GOST_HASH_GOST94_CRYPTOPRO),
        V(ru_2001_xa, "CryptoPro-A", KZ_GOST_HASH_GOST94_CRYPTOPRO),
        V(ru_2001_wrap, "CryptoPro-A", KZ_GOST_HASH_GOST94_CRYPTOPRO),
#undef V
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        kz_gost_key priv, pub;
        unsigned char digest[64], sig[128];
        size_t dl;

        if (decode(KIND_P8, v[i].p8, v[i].p8_len, &priv) != 0)
            fail_msg("%s: PKCS#8 rejected", v[i].name);
        if (decode(KIND_SPKI, v[i].spki, v[i].spki_len, &pub) != 0)
            fail_msg("%s: SPKI rejected", v[i].name);
        assert_ptr_equal(priv.curve, curve(v[i].curve));
        assert_ptr_equal(pub.curve, priv.curve);
        assert_int_equal(priv.hash, v[i].hash);
        assert_int_equal(pub.hash, v[i].hash);
        assert_false(priv.kazakh);
        assert_false(pub.kazakh);
        if (memcmp(priv.pub, pub.pub, pub.pub_len) != 0)
            fail_msg("%s: derived public key differs from the engine's", v[i].name);
        dl = kz_gost_hash_len(priv.hash);
        hash_for(priv.hash, (const unsigned char *)"abc", 3, digest);
        assert_true(kz_gost3410_sign(priv.curve, priv.priv, priv.priv_len, digest, dl, sig));
        assert_true(kz_gost3410_verify(pub.curve, pub.pub, pub.pub_len, digest, dl, sig,
                                       kz_gost3410_sig_len(pub.curve)));
        kz_gost_key_clear(&priv);
    }
}

/* ---- Hand-built encodings ----------------------------------------------------------
 * The builders use OpenSSL's ASN.1 encoder with templates of their own, so
 * that they can write what the decoder must refuse (wrong versions, unused
 * bits, odd parameter shapes). */

typedef struct {
    ASN1_INTEGER *version;
    X509_ALGOR *alg;
    ASN1_OCTET_STRING *key;
} T_P8;

ASN1_SEQUENCE(T_P8) = {
    ASN1_SIMPLE(T_P8, version, ASN1_INTEGER),
    ASN1_SIMPLE(T_P8, alg, X509_ALGOR),
    ASN1_SIMPLE(T_P8, key, ASN1_OCTET_STRING)
} static_ASN1_SEQUENCE_END(T_P8)

typedef struct {
    X509_ALGOR *alg;
    ASN1_BIT_STRING *key;
} T_SPKI;

ASN1_SEQUENCE(T_SPKI) = {
    ASN1_SIMPLE(T_SPKI, alg, X509_ALGOR),
    ASN1_SIMPLE(T_SPKI, key, ASN1_BIT_STRING)
} static_ASN1_SEQUENCE_END(T_SPKI)

/* OIDs used by the table. */
#define KZ512   "1.2.398.3.10.1.1.2.2"
#define KZ256   "1.2.398.3.10.1.1.2.1"
#define KZ2004  "1.2.398.3.10.1.1.1.1"
#define RU512   "1.2.643.7.1.1.1.2"
#define RU256   "1.2.643.7.1.1.1.1"
#define RU2001  "1.2.643.2.2.19"
#define C_KZ512 "1.2.398.3.10.1.1.2.2.1"
#define C_KZ256 "1.2.398.3.10.1.1.2.1.1"
#define C_KZ04  "1.2.398.3.10.1.1.1.1.1"
#define C_TC512A "1.2.643.7.1.2.1.2.1"
#define C_TC256A "1.2.643.7.1.2.1.1.1"
#define C_CPA   "1.2.643.2.2.35.1"
#define H_KZ512 "1.2.398.3.10.1.3.3"
#define H_KZ256 "1.2.398.3.10.1.3.2"
#define H_KZ04  "1.2.398.3.10.1.3.1.1.0"
#define H_S512  "1.2.643.7.1.1.2.3"
#define H_S256  "1.2.643.7.1.1.2.2"
#define H_94T   "1.2.643.2.2.30.0"
#define H_94CP  "1.2.643.2.2.30.1"
#define X_CP    "1.2.643.2.2.31.1"    /* a CryptoPro cipher parameter set */

enum {                   /* how the parameters are written */
    P_SEQ,               /* SEQUENCE of the OIDs given (none: empty SEQUENCE) */
    P_ABSENT,
    P_NULL,
    P_OID,               /* the first OID alone, no SEQUENCE */
    P_SEQ_INT,           /* SEQUENCE { first OID, INTEGER 5 } */
};

enum {                   /* which key material */
    S_KZ512,             /* the first GOST512 fixture: TC26-512-A */
    S_KZ2004,            /* the GOSTKNCA fixture: CryptoPro-A */
    S_GEN256,            /* generated: TC26-256-A */
};

enum {                   /* the value written, from the source key */
    V_KEY, V_ZERO, V_ONE, V_Q, V_Q_PLUS_1, V_Q_MINUS_1, V_ALL_FF, V_NEG, V_BIG,
    V_OFF_CURVE,         /* public: Y with its low bit flipped */
    V_X_IS_P,            /* public: X = p */
};

enum {                   /* how the key is written */
    F_OCTET,             /* OCTET STRING of the value, little-endian */
    F_INT,               /* INTEGER */
    F_RAW,               /* the little-endian bytes themselves */
    F_BITS,              /* BIT STRING of the little-endian bytes */
    F_OCTET_TRAIL,       /* OCTET STRING then a stray 00 */
    F_BITS_UNUSED,       /* public: BIT STRING with 1 unused bit */
};

typedef struct {
    const char *name;
    int kind;            /* KIND_P8 or KIND_SPKI */
    const char *alg;
    int params;
    const char *oid[4];
    int src, val, form;
    int len_adj;         /* bytes added to (or cut from) the n or 2n value bytes */
    int version;         /* PKCS#8 version */
    int expect;          /* 0 or -1 */
    const char *exp_curve;
    kz_gost_hash exp_hash;
    int same_key;        /* on success: must equal the source key */
} enc_case;

static unsigned char *i2d_item(const void *v, const ASN1_ITEM *it, size_t *len)
{
    unsigned char *out = NULL, *copy;
    int l = ASN1_item_i2d((const ASN1_VALUE *)v, &out, it);

    assert_true(l > 0);
    copy = dup_exact(out, (size_t)l);
    OPENSSL_free(out);
    *len = (size_t)l;
    return copy;
}

static ASN1_TYPE *type_obj(const char *txt)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_OBJECT *o = OBJ_txt2obj(txt, 1);

    assert_non_null(t);
    assert_non_null(o);
    ASN1_TYPE_set(t, V_ASN1_OBJECT, o);
    return t;
}

static void set_algor(X509_ALGOR *a, const enc_case *tc)
{
    ASN1_OBJECT *alg = OBJ_txt2obj(tc->alg, 1);

    assert_non_null(alg);
    switch (tc->params) {
    case P_ABSENT:
        assert_true(X509_ALGOR_set0(a, alg, V_ASN1_UNDEF, NULL));
        break;
    case P_NULL:
        assert_true(X509_ALGOR_set0(a, alg, V_ASN1_NULL, NULL));
        break;
    case P_OID: {
        ASN1_OBJECT *o = OBJ_txt2obj(tc->oid[0], 1);

        assert_non_null(o);
        assert_true(X509_ALGOR_set0(a, alg, V_ASN1_OBJECT, o));
        break;
    }
    default: {
        STACK_OF(ASN1_TYPE) *seq = sk_ASN1_TYPE_new_null();
        ASN1_STRING *s = ASN1_STRING_new();
        unsigned char *der = NULL;
        int l;

        assert_non_null(seq);
        assert_non_null(s);
        for (int i = 0; i < 4 && tc->oid[i] != NULL; i++) {
            assert_true(sk_ASN1_TYPE_push(seq, type_obj(tc->oid[i])) > 0);
            if (tc->params == P_SEQ_INT) {
                ASN1_TYPE *t = ASN1_TYPE_new();
                ASN1_INTEGER *n = ASN1_INTEGER_new();

                assert_non_null(t);
                assert_non_null(n);
                ASN1_INTEGER_set(n, 5);
                ASN1_TYPE_set(t, V_ASN1_INTEGER, n);
                assert_true(sk_ASN1_TYPE_push(seq, t) > 0);
                break;
            }
        }
        l = i2d_ASN1_SEQUENCE_ANY(seq, &der);
        assert_true(l > 0);
        assert_true(ASN1_STRING_set(s, der, l));
        OPENSSL_free(der);
        sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
        assert_true(X509_ALGOR_set0(a, alg, V_ASN1_SEQUENCE, s));
        break;
    }
    }
}

static const kz_gost_curve *src_curve(int src)
{
    return curve(src == S_KZ512 ? "TC26-512-A" : src == S_KZ2004 ? "CryptoPro-A" : "TC26-256-A");
}

/* The source key: scalar (big-endian, n bytes) and public key. */
static void src_key(int src, unsigned char *priv_be, unsigned char *pub)
{
    const kz_gost_curve *c = src_curve(src);

    if (src == S_GEN256) {
        memcpy(priv_be, gen256_priv, 32);
        memcpy(pub, gen256_pub, 64);
    } else {
        kz_gost_key k, kc;

        decode_container(&containers[src == S_KZ512 ? idx_kz512 : idx_kz2004], &k, &kc);
        assert_ptr_equal(k.curve, c);
        memcpy(priv_be, k.priv, k.priv_len);
        memcpy(pub, kc.pub, kc.pub_len);
        kz_gost_key_clear(&k);
    }
}

/* Little-endian bytes of v, exactly len of them (v must fit). */
static void bn_le(const BIGNUM *v, unsigned char *out, size_t len)
{
    assert_int_equal(BN_bn2lebinpad(v, out, (int)len), (int)len);
}

/* The bytes that go into the key field (privateKey OCTET STRING content,
 * or the BIT STRING content). */
static unsigned char *key_bytes(const enc_case *tc, size_t *out_len)
{
    const kz_gost_curve *c = src_curve(tc->src);
    const size_t n = c->field_len;
    unsigned char priv[64], pub[128], val[130], *out = NULL;
    size_t vlen;
    BIGNUM *q = BN_dup(EC_GROUP_get0_order(kz_gost_curve_group(c)));
    BIGNUM *v = BN_new();

    assert_non_null(q);
    assert_non_null(v);
    src_key(tc->src, priv, pub);

    if (tc->kind == KIND_P8) {
        vlen = n;
        switch (tc->val) {
        case V_KEY: assert_non_null(BN_bin2bn(priv, (int)n, v)); break;
        case V_ZERO: BN_zero(v); break;
        case V_ONE: assert_true(BN_one(v)); break;
        case V_Q: assert_non_null(BN_copy(v, q)); break;
        case V_Q_PLUS_1: assert_true(BN_add(v, q, BN_value_one())); break;
        case V_Q_MINUS_1: assert_true(BN_sub(v, q, BN_value_one())); break;
        case V_ALL_FF:
            assert_true(BN_set_bit(v, (int)(8 * n)));
            assert_true(BN_sub_word(v, 1));
            break;
        case V_NEG:
            assert_non_null(BN_bin2bn(priv, (int)n, v));
            BN_set_negative(v, 1);
            break;
        case V_BIG:      /* 2^(8n) + key: n + 1 bytes */
            assert_non_null(BN_bin2bn(priv, (int)n, v));
            assert_true(BN_set_bit(v, (int)(8 * n)));
            vlen = n + 1;
            break;
        default: fail_msg("bad case");
        }
        if (tc->form != F_INT) {
            vlen = (size_t)((long)vlen + tc->len_adj);
            if (BN_is_negative(v))
                BN_set_negative(v, 0);
            assert_true(vlen <= sizeof(val));
            /* Cutting a byte drops the most significant one. */
            if (tc->len_adj < 0)
                assert_true(BN_mask_bits(v, (int)(8 * vlen)) || BN_is_zero(v));
            bn_le(v, val, vlen);
        }
    } else {
        vlen = 2 * n;
        memcpy(val, pub, vlen);
        switch (tc->val) {
        case V_KEY: break;
        case V_ZERO: memset(val, 0, vlen); break;
        case V_OFF_CURVE: val[n] ^= 1; break;
        case V_X_IS_P: {
            BIGNUM *p = BN_new();

            assert_non_null(p);
            assert_true(EC_GROUP_get_curve(kz_gost_curve_group(c), p, NULL, NULL, NULL));
            bn_le(p, val, n);
            BN_free(p);
            break;
        }
        default: fail_msg("bad case");
        }
        if (tc->len_adj > 0)
            memset(val + vlen, 0, (size_t)tc->len_adj);
        vlen = (size_t)((long)vlen + tc->len_adj);
    }

    switch (tc->form) {
    case F_RAW:
    case F_BITS_UNUSED:
        out = dup_exact(val, vlen);
        *out_len = vlen;
        break;
    case F_OCTET:
    case F_OCTET_TRAIL:
    case F_BITS: {
        ASN1_STRING *s = tc->form == F_BITS ? ASN1_BIT_STRING_new() : ASN1_OCTET_STRING_new();
        unsigned char *der = NULL;
        int l;

        assert_non_null(s);
        assert_true(ASN1_STRING_set(s, val, (int)vlen));
        if (tc->form == F_BITS) {
            s->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
            s->flags |= ASN1_STRING_FLAG_BITS_LEFT;
            l = i2d_ASN1_BIT_STRING(s, &der);
        } else {
            l = i2d_ASN1_OCTET_STRING(s, &der);
        }
        assert_true(l > 0);
        out = malloc((size_t)l + 1);
        assert_non_null(out);
        memcpy(out, der, (size_t)l);
        out[l] = 0;
        *out_len = (size_t)l + (tc->form == F_OCTET_TRAIL);
        OPENSSL_free(der);
        ASN1_STRING_free(s);
        break;
    }
    case F_INT: {
        ASN1_INTEGER *ai;
        unsigned char *der = NULL;
        int l;

        if (tc->kind == KIND_SPKI)
            assert_non_null(BN_lebin2bn(val, (int)vlen, v));
        ai = BN_to_ASN1_INTEGER(v, NULL);
        assert_non_null(ai);
        l = i2d_ASN1_INTEGER(ai, &der);
        assert_true(l > 0);
        out = dup_exact(der, (size_t)l);
        *out_len = (size_t)l;
        OPENSSL_free(der);
        ASN1_INTEGER_free(ai);
        break;
    }
    default:
        fail_msg("bad form");
    }
    OPENSSL_cleanse(priv, sizeof(priv));
    OPENSSL_cleanse(val, sizeof(val));
    BN_clear_free(v);
    BN_free(q);
    return out;
}

static unsigned char *build(const enc_case *tc, size_t *len)
{
    size_t kl;
    unsigned char *kb = key_bytes(tc, &kl), *der;

    if (tc->kind == KIND_P8) {
        T_P8 *p8 = (T_P8 *)ASN1_item_new(ASN1_ITEM_rptr(T_P8));

        assert_non_null(p8);
        assert_true(ASN1_INTEGER_set(p8->version, tc->version));
        set_algor(p8->alg, tc);
        assert_true(ASN1_OCTET_STRING_set(p8->key, kb, (int)kl));
        der = i2d_item(p8, ASN1_ITEM_rptr(T_P8), len);
        ASN1_item_free((ASN1_VALUE *)p8, ASN1_ITEM_rptr(T_P8));
    } else {
        T_SPKI *s = (T_SPKI *)ASN1_item_new(ASN1_ITEM_rptr(T_SPKI));

        assert_non_null(s);
        set_algor(s->alg, tc);
        assert_true(ASN1_BIT_STRING_set(s->key, kb, (int)kl));
        s->key->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
        s->key->flags |= ASN1_STRING_FLAG_BITS_LEFT | (tc->form == F_BITS_UNUSED ? 1 : 0);
        der = i2d_item(s, ASN1_ITEM_rptr(T_SPKI), len);
        ASN1_item_free((ASN1_VALUE *)s, ASN1_ITEM_rptr(T_SPKI));
    }
    OPENSSL_cleanse(kb, kl);
    free(kb);
    return der;
}

/* The last argument is OK(curve, hash) or BAD: expect, exp_curve, exp_hash. */
#define P8(name, alg, params, o1, o2, o3, o4, src, val, form, adj, ...) \
    { name, KIND_P8, alg, params, { o1, o2, o3, o4 }, src, val, form, adj, 0, __VA_ARGS__, \
      (val) == V_KEY }
#define PK(name, alg, params, o1, o2, o3, o4, src, val, form, adj, ...) \
    { name, KIND_SPKI, alg, params, { o1, o2, o3, o4 }, src, val, form, adj, 0, __VA_ARGS__, \
      (val) == V_KEY }
#define OK(c, h) 0, c, KZ_GOST_HASH_##h
#define BAD -1, NULL, KZ_GOST_HASH_NONE
#define N NULL

static const enc_case cases[] = {
    /* --- Kazakh GOST 2015, 512-bit (the fixture's own layout first) --- */
    P8("kz512: as the NCA writes it", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    P8("kz512: parameters absent -> TC26-512-A", KZ512, P_ABSENT, N, N, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    P8("kz512: parameters NULL -> TC26-512-A", KZ512, P_NULL, N, N, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    P8("kz512: curve only", KZ512, P_SEQ, C_KZ512, N, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    P8("kz512: TC26 curve and hash OIDs", KZ512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    P8("kz512: with a cipher parameter set", KZ512, P_SEQ, C_KZ512, H_KZ512, X_CP, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    P8("kz512: 63-byte key", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, -1, BAD),
    P8("kz512: 65-byte key", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 1, BAD),
    P8("kz512: all-zero key", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_ZERO, F_OCTET, 0, BAD),
    P8("kz512: key = q", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_Q, F_OCTET, 0, BAD),
    P8("kz512: key = q + 1", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_Q_PLUS_1, F_OCTET, 0, BAD),
    P8("kz512: key = 2^512 - 1", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_ALL_FF, F_OCTET, 0, BAD),
    P8("kz512: key = q - 1", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_Q_MINUS_1, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    P8("kz512: key = 1", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_ONE, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    P8("kz512: INTEGER where the OCTET STRING belongs", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_INT, 0, BAD),
    P8("kz512: raw key, no inner OCTET STRING", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_RAW, 0, BAD),
    P8("kz512: BIT STRING as the key", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_BITS, 0, BAD),
    P8("kz512: stray byte after the inner OCTET STRING", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET_TRAIL, 0, BAD),
    P8("kz512: unknown Kazakh algorithm OID", "1.2.398.3.10.1.1.2.9", P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: rsaEncryption OID", "1.2.840.113549.1.1.1", P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: signature OID as key OID", "1.2.398.3.10.1.1.2.3.2", P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: 256-bit curve", KZ512, P_SEQ, C_KZ256, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: unknown curve OID", KZ512, P_SEQ, "1.2.398.3.10.1.1.2.2.9", H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: hash OID as curve OID", KZ512, P_SEQ, H_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: Streebog-256 digest", KZ512, P_SEQ, C_KZ512, H_KZ256, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: GOST 34.311 digest", KZ512, P_SEQ, C_KZ512, H_KZ04, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: unknown digest OID", KZ512, P_SEQ, C_KZ512, "1.2.398.3.10.1.3.9", N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: bare curve OID as parameters", KZ512, P_OID, C_KZ512, N, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: four OIDs in the parameters", KZ512, P_SEQ, C_KZ512, H_KZ512, X_CP, X_CP, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: empty parameter SEQUENCE", KZ512, P_SEQ, N, N, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    P8("kz512: INTEGER in the parameters", KZ512, P_SEQ_INT, C_KZ512, N, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),

    /* --- Kazakh GOST 34.310-2004 --- */
    P8("kz2004: as the NCA writes it", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_KEY, F_INT, 0, OK("CryptoPro-A", GOST94_TEST)),
    P8("kz2004: parameters absent -> CryptoPro-A", KZ2004, P_ABSENT, N, N, N, N, S_KZ2004, V_KEY, F_INT, 0, OK("CryptoPro-A", GOST94_TEST)),
    P8("kz2004: CryptoPro curve, test digest set", KZ2004, P_SEQ, C_CPA, H_94T, N, N, S_KZ2004, V_KEY, F_INT, 0, OK("CryptoPro-A", GOST94_TEST)),
    P8("kz2004: CryptoPro digest set is honoured", KZ2004, P_SEQ, C_KZ04, H_94CP, N, N, S_KZ2004, V_KEY, F_INT, 0, OK("CryptoPro-A", GOST94_CRYPTOPRO)),
    P8("kz2004: OCTET STRING where the INTEGER belongs", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_KEY, F_OCTET, 0, BAD),
    P8("kz2004: raw key", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_KEY, F_RAW, 0, BAD),
    P8("kz2004: INTEGER 0", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_ZERO, F_INT, 0, BAD),
    P8("kz2004: negative INTEGER", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_NEG, F_INT, 0, BAD),
    P8("kz2004: INTEGER q", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_Q, F_INT, 0, BAD),
    P8("kz2004: INTEGER 2^256 + d", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_BIG, F_INT, 0, BAD),
    P8("kz2004: INTEGER q - 1 (with sign byte)", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_Q_MINUS_1, F_INT, 0, OK("CryptoPro-A", GOST94_TEST)),
    P8("kz2004: INTEGER 1", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_ONE, F_INT, 0, OK("CryptoPro-A", GOST94_TEST)),
    P8("kz2004: Streebog digest", KZ2004, P_SEQ, C_KZ04, H_KZ256, N, N, S_KZ2004, V_KEY, F_INT, 0, BAD),
    P8("kz2004: TC26-256-A curve (2012 only)", KZ2004, P_SEQ, C_KZ256, H_KZ04, N, N, S_KZ2004, V_KEY, F_INT, 0, BAD),
    P8("ru2001: TC26-256-A curve (2012 only)", RU2001, P_SEQ, C_TC256A, H_94CP, N, N, S_KZ2004, V_KEY, F_RAW, 0, BAD),
    P8("kz2004: 512-bit curve", KZ2004, P_SEQ, C_KZ512, H_KZ04, N, N, S_KZ2004, V_KEY, F_INT, 0, BAD),

    /* --- Kazakh GOST 2015, 256-bit (no fixture: a generated key) --- */
    P8("kz256: OCTET STRING, Kazakh OIDs", KZ256, P_SEQ, C_KZ256, H_KZ256, N, N, S_GEN256, V_KEY, F_OCTET, 0, OK("TC26-256-A", STREEBOG256)),
    P8("kz256: parameters absent -> TC26-256-A", KZ256, P_ABSENT, N, N, N, N, S_GEN256, V_KEY, F_OCTET, 0, OK("TC26-256-A", STREEBOG256)),
    P8("kz256: Streebog-512 digest", KZ256, P_SEQ, C_KZ256, H_KZ512, N, N, S_GEN256, V_KEY, F_OCTET, 0, BAD),
    P8("kz256: 33-byte key", KZ256, P_SEQ, C_KZ256, H_KZ256, N, N, S_GEN256, V_KEY, F_OCTET, 1, BAD),

    /* --- Russian 2012 / 2001 in every form the engine reads --- */
    P8("ru512: raw", RU512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_KEY, F_RAW, 0, OK("TC26-512-A", STREEBOG512)),
    P8("ru512: OCTET STRING", RU512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    P8("ru512: INTEGER", RU512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_KEY, F_INT, 0, OK("TC26-512-A", STREEBOG512)),
    P8("ru512: curve only", RU512, P_SEQ, C_TC512A, N, N, N, S_KZ512, V_KEY, F_RAW, 0, OK("TC26-512-A", STREEBOG512)),
    P8("ru512: Kazakh curve and digest OIDs", RU512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_RAW, 0, OK("TC26-512-A", STREEBOG512)),
    P8("ru512: raw 63 bytes", RU512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_KEY, F_RAW, -1, BAD),
    P8("ru512: raw 65 bytes", RU512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_KEY, F_RAW, 1, BAD),
    P8("ru512: masked (128 raw bytes) unsupported", RU512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_KEY, F_RAW, 64, BAD),
    P8("ru512: raw key = q", RU512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_Q, F_RAW, 0, BAD),
    P8("ru512: raw all-zero", RU512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_ZERO, F_RAW, 0, BAD),
    P8("ru512: parameters absent", RU512, P_ABSENT, N, N, N, N, S_KZ512, V_KEY, F_RAW, 0, BAD),
    P8("ru512: parameters NULL", RU512, P_NULL, N, N, N, N, S_KZ512, V_KEY, F_RAW, 0, BAD),
    P8("ru512: Streebog-256 digest", RU512, P_SEQ, C_TC512A, H_S256, N, N, S_KZ512, V_KEY, F_RAW, 0, BAD),
    P8("ru256: TC26-256-A, no digest", RU256, P_SEQ, C_TC256A, N, N, N, S_GEN256, V_KEY, F_RAW, 0, OK("TC26-256-A", STREEBOG256)),
    P8("ru256: 512-bit curve", RU256, P_SEQ, C_TC512A, H_S256, N, N, S_GEN256, V_KEY, F_RAW, 0, BAD),
    P8("ru256: Streebog-512 digest", RU256, P_SEQ, C_TC256A, H_S512, N, N, S_GEN256, V_KEY, F_RAW, 0, BAD),
    P8("ru2001: test digest set", RU2001, P_SEQ, C_CPA, H_94T, N, N, S_KZ2004, V_KEY, F_RAW, 0, OK("CryptoPro-A", GOST94_TEST)),
    P8("ru2001: CryptoPro digest set, INTEGER", RU2001, P_SEQ, C_CPA, H_94CP, N, N, S_KZ2004, V_KEY, F_INT, 0, OK("CryptoPro-A", GOST94_CRYPTOPRO)),
    P8("ru2001: CryptoPro digest set, cipher set", RU2001, P_SEQ, C_CPA, H_94CP, X_CP, N, S_KZ2004, V_KEY, F_OCTET, 0, OK("CryptoPro-A", GOST94_CRYPTOPRO)),
    P8("ru2001: no digest set", RU2001, P_SEQ, C_CPA, N, N, N, S_KZ2004, V_KEY, F_RAW, 0, BAD),
    P8("ru2001: Streebog digest", RU2001, P_SEQ, C_CPA, H_S256, N, N, S_KZ2004, V_KEY, F_RAW, 0, BAD),

    /* --- SubjectPublicKeyInfo --- */
    PK("spki kz512: as the NCA writes it", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    PK("spki kz512: parameters absent", KZ512, P_ABSENT, N, N, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    PK("spki kz512: TC26 OIDs", KZ512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    PK("spki kz512: point off the curve", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_OFF_CURVE, F_OCTET, 0, BAD),
    PK("spki kz512: X = p", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_X_IS_P, F_OCTET, 0, BAD),
    PK("spki kz512: all-zero point", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_ZERO, F_OCTET, 0, BAD),
    PK("spki kz512: 127-byte key", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, -1, BAD),
    PK("spki kz512: 129-byte key", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 1, BAD),
    PK("spki kz512: X||Y without OCTET STRING", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_RAW, 0, BAD),
    PK("spki kz512: INTEGER instead of OCTET STRING", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_INT, 0, BAD),
    PK("spki kz512: stray byte after the OCTET STRING", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET_TRAIL, 0, BAD),
    PK("spki kz512: unused bits in the BIT STRING", KZ512, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_BITS_UNUSED, 0, BAD),
    PK("spki kz512: 256-bit algorithm", KZ256, P_SEQ, C_KZ512, H_KZ512, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    PK("spki kz512: rsaEncryption", "1.2.840.113549.1.1.1", P_NULL, N, N, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    PK("spki ru512: parameters absent", RU512, P_ABSENT, N, N, N, N, S_KZ512, V_KEY, F_OCTET, 0, BAD),
    PK("spki ru512: TC26 OIDs", RU512, P_SEQ, C_TC512A, H_S512, N, N, S_KZ512, V_KEY, F_OCTET, 0, OK("TC26-512-A", STREEBOG512)),
    PK("spki kz2004: as the NCA writes it", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_KEY, F_OCTET, 0, OK("CryptoPro-A", GOST94_TEST)),
    PK("spki kz2004: point off the curve", KZ2004, P_SEQ, C_KZ04, H_KZ04, N, N, S_KZ2004, V_OFF_CURVE, F_OCTET, 0, BAD),
    PK("spki kz2004: 512-bit curve", KZ2004, P_SEQ, C_KZ512, H_KZ04, N, N, S_KZ2004, V_KEY, F_OCTET, 0, BAD),
    PK("spki kz256: Kazakh OIDs", KZ256, P_SEQ, C_KZ256, H_KZ256, N, N, S_GEN256, V_KEY, F_OCTET, 0, OK("TC26-256-A", STREEBOG256)),
    PK("spki kz256: point off the curve", KZ256, P_SEQ, C_KZ256, H_KZ256, N, N, S_GEN256, V_OFF_CURVE, F_OCTET, 0, BAD),
    PK("spki ru2001: test digest set", RU2001, P_SEQ, C_CPA, H_94T, N, N, S_KZ2004, V_KEY, F_OCTET, 0, OK("CryptoPro-A", GOST94_TEST)),
};

static void run_case(void **state)
{
    const enc_case *tc = *state;
    unsigned char priv[64], pub[128];
    size_t len;
    unsigned char *der = build(tc, &len);
    kz_gost_key k;
    int rc = decode(tc->kind, der, len, &k);

    if (rc != tc->expect)
        fail_msg("%s: got %d, want %d", tc->name, rc, tc->expect);
    if (rc == 0) {
        const kz_gost_curve *c = src_curve(tc->src);
        int kazakh = strncmp(tc->alg, "1.2.398.", 8) == 0;

        assert_ptr_equal(k.curve, curve(tc->exp_curve));
        assert_int_equal(k.hash, tc->exp_hash);
        assert_int_equal(k.kazakh, kazakh);
        if (tc->same_key) {
            src_key(tc->src, priv, pub);
            assert_memory_equal(k.pub, pub, 2 * c->field_len);
            if (tc->kind == KIND_P8)
                assert_memory_equal(k.priv, priv, c->field_len);
            OPENSSL_cleanse(priv, sizeof(priv));
        }
    }
    /* The NCA layout rebuilt must be byte for byte the fixture's. */
    if (tc == &cases[0])
        assert_true(len == containers[idx_kz512].p8_len &&
                    memcmp(der, containers[idx_kz512].p8, len) == 0);
    kz_gost_key_clear(&k);
    OPENSSL_cleanse(der, len);
    free(der);
}

/* PKCS#8 version: 0 (RFC 5208) or 1 (RFC 5958, without its publicKey). */
static void test_p8_versions(void **state)
{
    static const int expect[] = { 0, 0, -1, -1, -1 };

    for (int v = 0; v < 5; v++) {
        enc_case tc = cases[0];
        unsigned char *der;
        size_t len;
        kz_gost_key k;

        tc.version = v < 4 ? v : -1;
        der = build(&tc, &len);
        assert_int_equal(decode(KIND_P8, der, len, &k), expect[v]);
        kz_gost_key_clear(&k);
        OPENSSL_cleanse(der, len);
        free(der);
    }
}

/* Attributes [0] in a PrivateKeyInfo are allowed and ignored. */
static void test_p8_attributes(void **state)
{
    const container *c = &containers[idx_kz512];
    const unsigned char *p = c->p8;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)c->p8_len);
    unsigned char *der = NULL;
    int l;
    kz_gost_key a, b;

    assert_non_null(p8);
    assert_true(PKCS8_pkey_add1_attr_by_NID(p8, NID_localKeyID, V_ASN1_OCTET_STRING,
                                            (const unsigned char *)"abc", 3));
    l = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    assert_true(l > (int)c->p8_len);
    assert_int_equal(decode(KIND_P8, der, (size_t)l, &a), 0);
    assert_int_equal(decode(KIND_P8, c->p8, c->p8_len, &b), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    kz_gost_key_clear(&a);
    kz_gost_key_clear(&b);
    OPENSSL_clear_free(der, (size_t)l);
    PKCS8_PRIV_KEY_INFO_free(p8);
}

static void test_bad_calls(void **state)
{
    kz_gost_key k;
    static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
    const container *c = &containers[idx_kz512];

    memset(&k, 0x5A, sizeof(k));
    assert_int_equal(kz_gost_key_from_pkcs8(NULL, 10, &k), -1);
    assert_true(all_zero(&k, sizeof(k)));
    assert_int_equal(kz_gost_key_from_spki(NULL, 10, &k), -1);
    assert_int_equal(kz_gost_key_from_cert(NULL, 10, &k), -1);
    assert_int_equal(kz_gost_key_from_pkcs8(c->p8, 0, &k), -1);
    assert_int_equal(kz_gost_key_from_spki(c->cert, 0, &k), -1);
    assert_int_equal(kz_gost_key_from_cert(c->cert, 0, &k), -1);
    assert_int_equal(kz_gost_key_from_pkcs8(c->p8, c->p8_len, NULL), -1);
    assert_int_equal(kz_gost_key_from_spki(c->cert, c->cert_len, NULL), -1);
    assert_int_equal(kz_gost_key_from_cert(c->cert, c->cert_len, NULL), -1);
    assert_int_equal(decode(KIND_P8, junk, sizeof(junk), &k), -1);
    assert_int_equal(decode(KIND_SPKI, junk, sizeof(junk), &k), -1);
    assert_int_equal(decode(KIND_CERT, junk, sizeof(junk), &k), -1);
    /* A certificate is not a PKCS#8 nor an SPKI, and the other way round. */
    assert_int_equal(decode(KIND_P8, c->cert, c->cert_len, &k), -1);
    assert_int_equal(decode(KIND_SPKI, c->cert, c->cert_len, &k), -1);
    assert_int_equal(decode(KIND_CERT, c->p8, c->p8_len, &k), -1);
    assert_int_equal(decode(KIND_SPKI, c->p8, c->p8_len, &k), -1);
    kz_gost_key_clear(NULL);
}

/* A certificate with a non-GOST key: an EC P-256 self-signed one. */
static void test_non_gost_cert(void **state)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(libctx, NULL, "EC", "P-256");
    X509 *x = X509_new_ex(libctx, NULL);
    unsigned char *der = NULL, *spki = NULL;
    int l, sl;
    kz_gost_key k;

    assert_non_null(pk);
    assert_non_null(x);
    assert_true(X509_set_version(x, 2));
    assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 1));
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_true(X509_set_pubkey(x, pk));
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    l = i2d_X509(x, &der);
    sl = i2d_PUBKEY(pk, &spki);
    assert_true(l > 0 && sl > 0);
    assert_int_equal(decode(KIND_CERT, der, (size_t)l, &k), -1);
    assert_int_equal(decode(KIND_SPKI, spki, (size_t)sl, &k), -1);
    OPENSSL_free(der);
    OPENSSL_free(spki);
    X509_free(x);
    EVP_PKEY_free(pk);
}

/* ---- Mutation sweep -------------------------------------------------------------------
 * Every truncation must fail (DER carries its length, and trailing or
 * missing bytes are errors). Every position gets its single-bit flips and
 * a full-byte inversion; structural bytes (the first `dense` ones) get all
 * 255 alternative values. A mutation may yield another valid key (say, a
 * flipped bit in a private scalar): then it must be consistent. */

typedef struct {
    const char *name;
    int kind;
    const unsigned char *(*get)(size_t *len);
    size_t dense;        /* bytes at the start that get every value */
} sweep;

static const unsigned char *get_p8_kz512(size_t *len)
{
    *len = containers[idx_kz512].p8_len;
    return containers[idx_kz512].p8;
}

static const unsigned char *get_p8_kz2004(size_t *len)
{
    *len = containers[idx_kz2004].p8_len;
    return containers[idx_kz2004].p8;
}

static const unsigned char *get_p8_ru512(size_t *len)
{
    *len = sizeof(ru_2012_512_a);
    return ru_2012_512_a;
}

static const unsigned char *get_p8_ru2001_wrap(size_t *len)
{
    *len = sizeof(ru_2001_wrap);
    return ru_2001_wrap;
}

static unsigned char *spki_cache[2];
static size_t spki_cache_len[2];

static const unsigned char *get_spki(int which, size_t *len)
{
    if (spki_cache[which] == NULL) {
        const container *c = &containers[which == 0 ? idx_kz512 : idx_kz2004];

        spki_cache[which] = cert_spki(c->cert, c->cert_len, &spki_cache_len[which]);
    }
    *len = spki_cache_len[which];
    return spki_cache[which];
}

static const unsigned char *get_spki_kz512(size_t *len) { return get_spki(0, len); }
static const unsigned char *get_spki_kz2004(size_t *len) { return get_spki(1, len); }

static const unsigned char *get_cert_kz512(size_t *len)
{
    *len = containers[idx_kz512].cert_len;
    return containers[idx_kz512].cert;
}

static const unsigned char *get_spki_ru256(size_t *len)
{
    *len = sizeof(ru_2012_256_cpa_pub);
    return ru_2012_256_cpa_pub;
}

static const sweep sweeps[] = {
    { "PKCS#8 GOST512 (NCA)", KIND_P8, get_p8_kz512, 44 },
    { "PKCS#8 GOSTKNCA (NCA)", KIND_P8, get_p8_kz2004, 48 },
    { "PKCS#8 gost2012-512 raw (engine)", KIND_P8, get_p8_ru512, 42 },
    { "PKCS#8 gost2001 wrapped (engine)", KIND_P8, get_p8_ru2001_wrap, 39 },
    { "SPKI GOST512 certificate", KIND_SPKI, get_spki_kz512, 44 },
    { "SPKI GOSTKNCA certificate", KIND_SPKI, get_spki_kz2004, 46 },
    { "SPKI gost2012-256 (engine)", KIND_SPKI, get_spki_ru256, 40 },
    { "certificate GOST512", KIND_CERT, get_cert_kz512, 0 },
};

static void run_sweep(void **state)
{
    const sweep *sw = *state;
    size_t len, ok = 0, bad = 0;
    const unsigned char *good = sw->get(&len);
    unsigned char *m = malloc(len + 1);
    kz_gost_key k;

    assert_non_null(m);
    /* The untouched input decodes. */
    assert_int_equal(decode(sw->kind, good, len, &k), 0);
    /* Every truncation, and one extra byte. */
    for (size_t l = 0; l < len; l++)
        if (decode(sw->kind, good, l, &k) != -1)
            fail_msg("%s: truncation to %zu bytes accepted", sw->name, l);
    memcpy(m, good, len);
    m[len] = 0;
    assert_int_equal(decode(sw->kind, m, len + 1, &k), -1);

    for (size_t i = 0; i < len; i++) {
        for (unsigned v = 1; v < 256; v++) {
            /* Dense: every value; else the eight single bits and 0xFF. */
            if (i >= sw->dense && (v & (v - 1)) != 0 && v != 0xFF)
                continue;
            memcpy(m, good, len);
            m[i] ^= (unsigned char)v;
            if (decode(sw->kind, m, len, &k) == 0)
                ok++;
            else
                bad++;
        }
    }
    print_message("[ sweep    ] %s: %zu bytes, %zu mutations accepted as other valid keys, %zu rejected\n",
                  sw->name, len, ok, bad);
    kz_gost_key_clear(&k);
    OPENSSL_cleanse(m, len + 1);
    free(m);
}

int main(void)
{
    struct CMUnitTest tests[4 + sizeof(cases) / sizeof(cases[0]) + sizeof(sweeps) / sizeof(sweeps[0]) + 8];
    size_t n = 0;

#define ADD(f) tests[n++] = (struct CMUnitTest)cmocka_unit_test(f)
    ADD(test_containers);
    ADD(test_container_spki);
    ADD(test_param_oids);
    ADD(test_ca_certs);
    ADD(test_sign_verify);
    ADD(test_engine_keys);
    ADD(test_bad_calls);
    ADD(test_non_gost_cert);
    ADD(test_p8_versions);
    ADD(test_p8_attributes);
#undef ADD
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        tests[n++] = (struct CMUnitTest){ cases[i].name, run_case, NULL, NULL, (void *)&cases[i] };
    for (size_t i = 0; i < sizeof(sweeps) / sizeof(sweeps[0]); i++)
        tests[n++] = (struct CMUnitTest){ sweeps[i].name, run_sweep, NULL, NULL, (void *)&sweeps[i] };
    assert_true(n <= sizeof(tests) / sizeof(tests[0]));

    {
        int rc = _cmocka_run_group_tests("gost_keys", tests, n, group_setup, group_teardown);

        free(spki_cache[0]);
        free(spki_cache[1]);
        return rc;
    }
}
