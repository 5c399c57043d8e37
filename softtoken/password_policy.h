/* Rules for new container passwords (the NCA asks for Latin upper- and
 * lower-case letters and digits, at least 8 characters). */
#ifndef KZP11_PASSWORD_POLICY_H
#define KZP11_PASSWORD_POLICY_H

#include "configuration.h"
#include "pkcs11_types.h"

/* CKR_OK, CKR_PIN_LEN_RANGE (too short or too long) or CKR_PIN_INVALID
 * (breaks the character rules). */
CK_RV kz_password_check(const kz_config *cfg, const CK_UTF8CHAR *pin, CK_ULONG len);

#define KZ_PASSWORD_MAX_LEN 256

#endif
