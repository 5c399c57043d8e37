/* Debug logging. Off unless KZP11_DEBUG is set; never pass secrets here. */
#ifndef KZP11_LOG_H
#define KZP11_LOG_H

#include "pkcs11_types.h"

extern int kz_log_enabled;

void kz_log_init(const char *file_from_config);
void kz_log_fini(void);
void kz_log_write(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *kz_rv_name(CK_RV rv);

#define KZ_DEBUG(...) do { if (kz_log_enabled) kz_log_write(__VA_ARGS__); } while (0)

#endif
