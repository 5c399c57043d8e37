/* Elliptic-curve parameter sets for GOST R 34.10-2001/2012, which Kazakhstan
 * adopted as GOST 34.310-2004 and ST RK 34.10-2015.
 *
 * The constants are the published parameter sets (RFC 4357 for CryptoPro,
 * RFC 7836 and the TC26 recommendations for the 2012 sets). Sets that TC26
 * defines as twisted Edwards curves are given here, as in RFC 7836, in their
 * short Weierstrass form y^2 = x^3 + a*x + b, which is the form the signature
 * maths and OpenSSL's EC_GROUP use.
 *
 * Several OIDs name the same curve: the Kazakh OIDs of the NCA, the CryptoPro
 * key-exchange sets (XchA = A, XchB = C) and the TC26 256-bit sets B, C and D
 * (= CryptoPro A, B, C). Lookups fold all of them onto one table entry, so a
 * caller that must echo the OID it was given has to keep its own copy. */
#ifndef KZP11_GOST_CURVES_H
#define KZP11_GOST_CURVES_H

#include <stddef.h>
#include <openssl/bn.h>
#include <openssl/ec.h>

typedef struct kz_gost_curve {
    const char *name;                 /* short name, e.g. "TC26-512-A" */
    const char *oid;                  /* dotted text of the Russian OID */
    const unsigned char *oid_der;     /* full DER: 06 len content */
    size_t oid_der_len;
    const char *kz_oid;               /* Kazakh (NCA) alias, NULL if none */
    const unsigned char *kz_oid_der;  /* NULL if none */
    size_t kz_oid_der_len;
    /* Bytes in one coordinate, one scalar and one digest: 32 or 64. A public
     * key is 2*field_len bytes, so is a signature. */
    size_t field_len;
    unsigned int cofactor;
    int twisted_edwards;              /* defined by TC26 in Edwards form */
    /* Big-endian hexadecimal, no prefix. */
    const char *p, *a, *b, *q, *x, *y;
} kz_gost_curve;

/* Accepts any OID that names a table curve (Russian, Kazakh or alias), as
 * complete DER (tag 06, length, content). NULL if unknown. */
const kz_gost_curve *kz_gost_curve_by_oid_der(const unsigned char *der, size_t len);

/* Accepts a short name ("TC26-512-A", "CryptoPro-A", "CryptoPro-XchA"), the
 * OpenSSL/RFC long name ("id-tc26-gost-3410-12-512-paramSetA"), or any dotted
 * OID the DER lookup knows. Case-insensitive. NULL if unknown. */
const kz_gost_curve *kz_gost_curve_by_name(const char *name);

/* Table access for enumeration (tests, mechanism lists). */
size_t kz_gost_curve_count(void);
const kz_gost_curve *kz_gost_curve_at(size_t i);

/* The curve's group with generator, order and cofactor set; built on first
 * use, then shared by every thread for the life of the process. The caller
 * must not free or modify it. NULL for a curve that is not one of the table's
 * entries (use kz_gost_curve_group_new for those) or on allocation failure. */
const EC_GROUP *kz_gost_curve_group(const kz_gost_curve *c);

/* Montgomery context for the order q of a table curve, cached with its
 * group. OpenSSL's functions take it non-const but only read it: do not
 * modify or free it. NULL in the same cases as kz_gost_curve_group. */
BN_MONT_CTX *kz_gost_curve_order_mont(const kz_gost_curve *c);

/* A fresh group built from c's constants, for curves outside the table (the
 * standard's example curves in the tests). The caller frees it. */
EC_GROUP *kz_gost_curve_group_new(const kz_gost_curve *c);

/* Drops the cached groups. Only for process teardown or leak checking, when
 * no other thread can be holding a group; later calls rebuild the cache. */
void kz_gost_curves_cleanup(void);

#endif
