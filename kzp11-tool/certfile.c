/* Certificate files in, any bytes out. */
#include "certfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static X509 *from_der(const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf;
    X509 *x;

    if (len > 0x7fffffff)
        return NULL;
    x = d2i_X509(NULL, &p, (long)len);
    if (x && p != buf + len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

static X509 *from_pem(const unsigned char *buf, size_t len)
{
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    X509 *x = NULL;

    if (b)
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

/* The NCA's .cer: base64 in one or many lines, no "-----BEGIN" armour. */
static X509 *from_base64(const unsigned char *buf, size_t len)
{
    EVP_ENCODE_CTX *ctx;
    unsigned char *der;
    int n1 = 0, n2 = 0;
    X509 *x = NULL;
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = buf[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n' || c == ' ' || c == '\t'))
            return NULL;
    }
    if (len > 0x7fffffff)
        return NULL;
    ctx = EVP_ENCODE_CTX_new();
    der = malloc(len / 4 * 3 + 4);
    if (ctx && der) {
        EVP_DecodeInit(ctx);
        if (EVP_DecodeUpdate(ctx, der, &n1, buf, (int)len) >= 0 &&
            EVP_DecodeFinal(ctx, der + n1, &n2) > 0)
            x = from_der(der, (size_t)(n1 + n2));
    }
    EVP_ENCODE_CTX_free(ctx);
    free(der);
    return x;
}

X509 *kzt_cert_from_buffer(const unsigned char *buf, size_t len)
{
    X509 *x;

    if (!buf || len == 0 || len > 0x7fffffff)
        return NULL;
    x = from_der(buf, len);
    if (!x)
        x = from_pem(buf, len);
    if (!x)
        x = from_base64(buf, len);
    /* The failed attempts leave parser errors behind that would confuse a
     * later, unrelated error report. */
    ERR_clear_error();
    return x;
}

int kzt_read_file(const char *path, unsigned char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    size_t cap = 0, n = 0;

    *buf = NULL;
    *len = 0;
    if (!f)
        return -1;
    for (;;) {
        size_t r;

        if (n == cap) {
            unsigned char *nb;

            if (cap >= (64u << 20)) {
                errno = EFBIG;
                goto fail;
            }
            cap = cap ? 2 * cap : 8192;
            nb = realloc(b, cap);
            if (!nb)
                goto fail;
            b = nb;
        }
        r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                errno = EIO;
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    *buf = b;
    *len = n;
    return 0;

fail:
    {
        int e = errno;

        fclose(f);
        free(b);
        errno = e;
    }
    return -1;
}

int kzt_write_file(const char *path, const unsigned char *buf, size_t len)
{
    int fd, to_stdout = (!path || strcmp(path, "-") == 0);
    size_t off = 0;

    fd = to_stdout ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;

            if (!to_stdout)
                close(fd);
            errno = e ? e : EIO;
            return -1;
        }
        off += (size_t)w;
    }
    if (!to_stdout && close(fd) != 0)
        return -1;
    return 0;
}
