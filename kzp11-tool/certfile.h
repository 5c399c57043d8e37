/* Reading a certificate as people receive it from the NCA: DER, PEM, or
 * the NCA's .cer download, which is often bare base64 with no PEM lines. */
#ifndef KZP11_TOOL_CERTFILE_H
#define KZP11_TOOL_CERTFILE_H

#include <stddef.h>
#include <openssl/x509.h>

/* Any of the three forms in memory; NULL if it is none of them. Trailing
 * bytes after a DER certificate are refused (a truncated or padded file
 * is not silently accepted). */
X509 *kzt_cert_from_buffer(const unsigned char *buf, size_t len);

/* The whole file into a malloc'd buffer. 0, or -1 with errno set. */
int kzt_read_file(const char *path, unsigned char **buf, size_t *len);

/* Writes len bytes to path (created 0644, replaced if present), or to
 * stdout when path is NULL or "-". 0, or -1 with errno set. */
int kzt_write_file(const char *path, const unsigned char *buf, size_t len);

#endif
