/* kzp11-tool: what every command shares (options, exit codes, messages).
 *
 * The tool is a plain PKCS#11 client: it reaches the module only through
 * the function list it gets from dlopen, so it works with any module, not
 * only kzp11. */
#ifndef KZP11_TOOL_H
#define KZP11_TOOL_H

#include <stddef.h>

/* Exit codes; the man page and --help document the same table. */
enum {
    KZT_OK = 0,
    KZT_EUSAGE = 1,     /* bad command line (including a bad --subject) */
    KZT_ETOKEN = 2,     /* module, token or PKCS#11 call failed */
    KZT_EPIN = 3,       /* wrong password, or the PIN is locked */
    KZT_EIO = 4,        /* a file or the terminal could not be read or written,
                         * or an input file is not what it should be */
    KZT_ENEWPIN = 5     /* the new password was refused (rules, mismatch) */
};

typedef struct kzt_opts {
    const char *module;        /* NULL: $KZP11_MODULE, else the default */
    const char *token;         /* --token LABEL */
    const char *alg;           /* keygen --alg */
    const char *id_hex;        /* --id HEX */
    const char *label;         /* keygen --label */
    const char *subject;       /* req --subject */
    const char *out;           /* --out FILE (NULL: stdout) */
    const char *pin_file;      /* --pin-file FILE */
    const char *new_pin_file;  /* passwd --new-pin-file FILE */
    int der;                   /* --der */
    int login;                 /* list --login */
    char **args;               /* positional arguments after the command */
    int nargs;
} kzt_opts;

/* "kzp11-tool: <message>" on stderr, one line. */
void kzt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --id: hex digits (":" allowed between bytes) into a malloc'd buffer.
 * Returns 0, or -1 for malformed input. */
int kzt_hex_decode(const char *hex, unsigned char **out, size_t *out_len);
/* Lower-case hex, malloc'd; NULL on allocation failure. */
char *kzt_hex_encode(const unsigned char *in, size_t len);

/* The commands; each returns an exit code. */
int kzt_cmd_list(const kzt_opts *o);
int kzt_cmd_keygen(const kzt_opts *o);
int kzt_cmd_req(const kzt_opts *o);
int kzt_cmd_install(const kzt_opts *o);
int kzt_cmd_passwd(const kzt_opts *o);
int kzt_cmd_export_cert(const kzt_opts *o);

#endif
