/* Single place that pulls in the Cryptoki headers (p11-kit's copy, which
 * carries both the 2.40 and 3.0 definitions and the TC26 vendor constants). */
#ifndef KZP11_PKCS11_TYPES_H
#define KZP11_PKCS11_TYPES_H

#include <p11-kit/pkcs11.h>
#include <p11-kit/pkcs11x.h>

#endif
