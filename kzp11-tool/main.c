/* kzp11-tool: command line, dispatch and help. */
#include "tool.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which options a command accepts. */
enum {
    O_MODULE = 1 << 0, O_TOKEN = 1 << 1, O_ALG = 1 << 2, O_ID = 1 << 3,
    O_LABEL = 1 << 4, O_SUBJECT = 1 << 5, O_OUT = 1 << 6, O_DER = 1 << 7,
    O_PIN_FILE = 1 << 8, O_NEW_PIN_FILE = 1 << 9, O_LOGIN = 1 << 10
};

static const struct command {
    const char *name;
    int (*run)(const kzt_opts *);
    unsigned allowed, required;
    int nargs;                      /* positional arguments */
} commands[] = {
    { "list", kzt_cmd_list, O_MODULE | O_TOKEN | O_PIN_FILE | O_LOGIN, 0, 0 },
    { "keygen", kzt_cmd_keygen, O_MODULE | O_TOKEN | O_ALG | O_ID | O_LABEL | O_PIN_FILE,
      O_TOKEN | O_ALG, 0 },
    { "req", kzt_cmd_req, O_MODULE | O_TOKEN | O_ID | O_SUBJECT | O_OUT | O_DER | O_PIN_FILE,
      O_TOKEN | O_SUBJECT, 0 },
    { "install", kzt_cmd_install, O_MODULE | O_TOKEN | O_PIN_FILE, O_TOKEN, 1 },
    { "passwd", kzt_cmd_passwd, O_MODULE | O_TOKEN | O_PIN_FILE | O_NEW_PIN_FILE, O_TOKEN, 0 },
    { "export-cert", kzt_cmd_export_cert, O_MODULE | O_TOKEN | O_ID | O_OUT | O_DER | O_PIN_FILE,
      O_TOKEN, 0 },
};

static const char *const option_names[] = {
    "--module", "--token", "--alg", "--id", "--label", "--subject", "--out", "--der",
    "--pin-file", "--new-pin-file", "--login",
};

static void usage(FILE *f)
{
    fprintf(f,
"Usage: kzp11-tool [--module PATH] COMMAND [OPTIONS]\n"
"\n"
"Keys and certificates on PKCS#11 tokens, the way Kazakhstan's NCA (pki.gov.kz)\n"
"issues them: generate a key on the token, request a certificate, install it,\n"
"change the password.\n"
"\n"
"Commands:\n"
"  list [--token LABEL] [--login]\n"
"        slots and tokens (free slots too); after login keys and certificates\n"
"        with owner, IIN, BIN, organisation, role, key usages and validity\n"
"  keygen --token LABEL --alg ALG [--id HEX] [--label TEXT]\n"
"        generate the token's key pair; ALG is rsa2048, rsa3072, rsa4096,\n"
"        gost2015-256 or gost2015-512\n"
"  req --token LABEL --subject SUBJECT [--out FILE] [--der] [--id HEX]\n"
"        a PKCS#10 request signed by the token's key (PEM unless --der), e.g.\n"
"        --subject 'CN=ТЕСТОВ ТЕСТ,SN=ТЕСТОВ,GN=ТЕСТОВИЧ,SERIALNUMBER=IIN123456789011,C=KZ'\n"
"        (commas inside a value are written \\,)\n"
"  install --token LABEL FILE\n"
"        install the issued certificate (DER, PEM or the NCA's base64 .cer);\n"
"        prints the token's new label\n"
"  passwd --token LABEL [--new-pin-file FILE]\n"
"        change the token's password (new one: at least 8 characters with\n"
"        Latin upper- and lower-case letters and digits)\n"
"  export-cert --token LABEL [--out FILE] [--der] [--id HEX]\n"
"        write the token's certificate (PEM unless --der)\n"
"\n"
"Options:\n"
"  --module PATH        PKCS#11 module (default: $KZP11_MODULE, else\n"
"                       " KZP11_DEFAULT_MODULE ")\n"
"  --pin-file FILE      read the password from the first line of FILE\n"
"  --new-pin-file FILE  passwd: read the new password from FILE\n"
"  --login              list: log in (asks for the password)\n"
"  -h, --help           this help;  -V, --version  the version\n"
"\n"
"Passwords come from --pin-file, else $KZP11_PIN (passwd's new one from\n"
"--new-pin-file, else $KZP11_NEW_PIN), else a prompt on the terminal.\n"
"They are never taken from the command line.\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  usage error (unknown command or option, bad --subject, no password source)\n"
"  2  module, token or PKCS#11 error (no such token, operation refused)\n"
"  3  wrong password, or the password is locked\n"
"  4  file or terminal error, or an input file that is not a certificate\n"
"  5  the new password was refused (token's rules, or the two entries differ)\n");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("kzp11-tool: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'kzp11-tool --help'.\n", stderr);
    return KZT_EUSAGE;
}

int main(int argc, char **argv)
{
    enum { OPT_MODULE = 256, OPT_TOKEN, OPT_ALG, OPT_ID, OPT_LABEL, OPT_SUBJECT, OPT_OUT,
           OPT_DER, OPT_PIN_FILE, OPT_NEW_PIN_FILE, OPT_LOGIN };
    static const struct option longopts[] = {
        { "module", required_argument, NULL, OPT_MODULE },
        { "token", required_argument, NULL, OPT_TOKEN },
        { "alg", required_argument, NULL, OPT_ALG },
        { "id", required_argument, NULL, OPT_ID },
        { "label", required_argument, NULL, OPT_LABEL },
        { "subject", required_argument, NULL, OPT_SUBJECT },
        { "out", required_argument, NULL, OPT_OUT },
        { "der", no_argument, NULL, OPT_DER },
        { "pin-file", required_argument, NULL, OPT_PIN_FILE },
        { "new-pin-file", required_argument, NULL, OPT_NEW_PIN_FILE },
        { "login", no_argument, NULL, OPT_LOGIN },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const struct command *cmd = NULL;
    kzt_opts o;
    unsigned seen = 0;
    char **args;
    int nargs = 0, c, i;
    size_t k;

    memset(&o, 0, sizeof(o));
    args = calloc((size_t)argc + 1, sizeof(*args));
    if (!args) {
        kzt_err("out of memory");
        return KZT_EIO;
    }
    /* "-" first: non-options come back in order as argument 1, so the
     * command word and a FILE may sit anywhere among the options. */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "-:hVo:", longopts, NULL)) != -1) {
        switch (c) {
        case 1:
            args[nargs++] = optarg;
            break;
        case 'h':
            usage(stdout);
            free(args);
            return KZT_OK;
        case 'V':
            printf("kzp11-tool (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            free(args);
            return KZT_OK;
        case OPT_MODULE: o.module = optarg; seen |= O_MODULE; break;
        case OPT_TOKEN: o.token = optarg; seen |= O_TOKEN; break;
        case OPT_ALG: o.alg = optarg; seen |= O_ALG; break;
        case OPT_ID: o.id_hex = optarg; seen |= O_ID; break;
        case OPT_LABEL: o.label = optarg; seen |= O_LABEL; break;
        case OPT_SUBJECT: o.subject = optarg; seen |= O_SUBJECT; break;
        case 'o':
        case OPT_OUT: o.out = optarg; seen |= O_OUT; break;
        case OPT_DER: o.der = 1; seen |= O_DER; break;
        case OPT_PIN_FILE: o.pin_file = optarg; seen |= O_PIN_FILE; break;
        case OPT_NEW_PIN_FILE: o.new_pin_file = optarg; seen |= O_NEW_PIN_FILE; break;
        case OPT_LOGIN: o.login = 1; seen |= O_LOGIN; break;
        case ':':
            free(args);
            return bad_usage("option '%s' needs a value", argv[optind - 1]);
        default:
            free(args);
            return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (nargs == 0) {
        usage(stderr);
        free(args);
        return KZT_EUSAGE;
    }
    for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        if (strcmp(commands[k].name, args[0]) == 0)
            cmd = &commands[k];
    if (!cmd) {
        c = bad_usage("unknown command '%s'", args[0]);
        free(args);
        return c;
    }
    for (i = 0; i < (int)(sizeof(option_names) / sizeof(option_names[0])); i++) {
        if ((seen & (1u << i)) && !(cmd->allowed & (1u << i))) {
            free(args);
            return bad_usage("%s does not take %s", cmd->name, option_names[i]);
        }
        if ((cmd->required & (1u << i)) && !(seen & (1u << i))) {
            free(args);
            return bad_usage("%s needs %s", cmd->name, option_names[i]);
        }
    }
    if (nargs - 1 != cmd->nargs) {
        c = cmd->nargs ? bad_usage("%s takes exactly one FILE", cmd->name)
                       : bad_usage("%s takes no arguments", cmd->name);
        free(args);
        return c;
    }
    o.args = args + 1;
    o.nargs = nargs - 1;
    c = cmd->run(&o);
    free(args);
    return c;
}
