/* Runtime configuration: keystore folders and logging, read once per C_Initialize. */
#ifndef KZP11_CONFIGURATION_H
#define KZP11_CONFIGURATION_H

#include <stddef.h>

#define KZ_MAX_KEYSTORE_DIRS 32

typedef struct kz_config {
    char *keystore_dirs[KZ_MAX_KEYSTORE_DIRS];
    size_t n_keystore_dirs;
    char *log_file;          /* NULL: stderr */
    int write_pbes2;         /* write containers with PBES2/AES instead of the NCA's algorithms */
    unsigned long password_min_length;   /* for new passwords */
    int password_nca_rules;  /* Latin upper, lower and digits only, each present */
    char *source;            /* what the folders came from, for the debug log */
} kz_config;

/* Fills cfg from KZP11_KEYSTORE, else the config file, else the default folder.
 * Returns 0, or -1 on out of memory. A missing config file is not an error. */
int kz_config_load(kz_config *cfg);
/* Parses one config file; exposed for the unit tests. Returns 0, -1 if unreadable. */
int kz_config_parse_file(kz_config *cfg, const char *path);
void kz_config_free(kz_config *cfg);

#endif
