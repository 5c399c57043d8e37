/* Single place that pulls in the Cryptoki headers (p11-kit's copy, which
 * carries both the 2.40 and 3.0 definitions and the TC26 vendor constants). */
#ifndef KZP11_PKCS11_TYPES_H
#define KZP11_PKCS11_TYPES_H

#include <p11-kit/pkcs11.h>
/* The TC26 constants (GOST 2012 keys and mechanisms) are opt-in. */
#ifndef CRYPTOKI_RU_TEAM_TC26_VENDOR_DEFINED
#define CRYPTOKI_RU_TEAM_TC26_VENDOR_DEFINED 1
#endif
#include <p11-kit/pkcs11x.h>

/* GOST R 34.11-94 with the test parameter set (the NCA's GOST 34.311-95)
 * has no mechanism number of its own: PKCS#11 selects it through
 * CKM_GOSTR3411's parameter. Internally we name it with this private value,
 * which is never listed or accepted as a mechanism. */
#define KZ_CKM_GOSTR3411_94_TEST (CKM_VENDOR_DEFINED | 0x4b5a0001UL)

#endif
