/* The --subject string of `req`: "CN=...,SN=...,SERIALNUMBER=IIN...,C=KZ".
 * Attributes are separated by commas; a backslash takes the next character
 * literally (so "O=ТОО \"А\, Б\"" keeps its comma). Spaces around names
 * and values are dropped; an escaped space is kept. Names are
 * case-insensitive: CN, SN/SURNAME, GN/G/GIVENNAME, SERIALNUMBER, C, O, OU,
 * L, ST, STREET, T/TITLE, E/EMAILADDRESS, BUSINESSCATEGORY, or a dotted
 * OID. Values are UTF-8. */
#ifndef KZP11_TOOL_SUBJECT_H
#define KZP11_TOOL_SUBJECT_H

#include <stddef.h>
#include <openssl/x509.h>

/* A new X509_NAME in the order given, or NULL with a one-line reason in
 * err (never NULL when errlen > 0). Strings are encoded as OpenSSL's
 * attribute table says (C and SERIALNUMBER PrintableString, the rest
 * UTF8String): the NCA's own certificates look the same. */
X509_NAME *kzt_subject_parse(const char *s, char *err, size_t errlen);

#endif
