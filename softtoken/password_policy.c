#include "password_policy.h"

CK_RV kz_password_check(const kz_config *cfg, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    int upper = 0, lower = 0, digit = 0;

    if (len < cfg->password_min_length || len > KZ_PASSWORD_MAX_LEN)
        return CKR_PIN_LEN_RANGE;
    if (!cfg->password_nca_rules)
        return CKR_OK;
    for (CK_ULONG i = 0; i < len; i++) {
        unsigned char c = pin[i];
        if (c >= 'A' && c <= 'Z')
            upper = 1;
        else if (c >= 'a' && c <= 'z')
            lower = 1;
        else if (c >= '0' && c <= '9')
            digit = 1;
        else
            return CKR_PIN_INVALID;   /* only Latin letters and digits */
    }
    return upper && lower && digit ? CKR_OK : CKR_PIN_INVALID;
}
