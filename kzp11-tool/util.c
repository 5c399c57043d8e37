/* Messages and hex, shared by every command. */
#include "tool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kzt_err(const char *fmt, ...)
{
    va_list ap;

    fputs("kzp11-tool: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int kzt_hex_decode(const char *hex, unsigned char **out, size_t *out_len)
{
    size_t n = strlen(hex), i, k = 0;
    unsigned char *b;
    int hi = -1;

    *out = NULL;
    *out_len = 0;
    b = malloc(n / 2 + 1);
    if (!b)
        return -1;
    for (i = 0; i < n; i++) {
        int v;

        /* "b2:c7:0a" as OpenSSL prints key identifiers is accepted too. */
        if (hex[i] == ':' && hi < 0 && k > 0)
            continue;
        v = hexval(hex[i]);
        if (v < 0) {
            free(b);
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            b[k++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0 || k == 0) {
        free(b);
        return -1;
    }
    *out = b;
    *out_len = k;
    return 0;
}

char *kzt_hex_encode(const unsigned char *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 1);
    size_t i;

    if (!s)
        return NULL;
    for (i = 0; i < len; i++) {
        s[2 * i] = digits[in[i] >> 4];
        s[2 * i + 1] = digits[in[i] & 15];
    }
    s[2 * len] = '\0';
    return s;
}
