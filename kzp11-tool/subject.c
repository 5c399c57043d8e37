/* Parsing the --subject string into an X509_NAME. */
#include "subject.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/objects.h>

/* Our own table rather than OBJ_txt2nid: OpenSSL's short names are
 * case-sensitive and it has no entry for the spellings people copy from
 * NCA documents (SERIALNUMBER, SURNAME, GIVENNAME). */
static const struct {
    const char *name;
    int nid;
} attr_names[] = {
    { "CN", NID_commonName },
    { "SN", NID_surname },
    { "SURNAME", NID_surname },
    { "GN", NID_givenName },
    { "G", NID_givenName },
    { "GIVENNAME", NID_givenName },
    { "SERIALNUMBER", NID_serialNumber },
    { "C", NID_countryName },
    { "O", NID_organizationName },
    { "OU", NID_organizationalUnitName },
    { "L", NID_localityName },
    { "ST", NID_stateOrProvinceName },
    { "STREET", NID_streetAddress },
    { "T", NID_title },
    { "TITLE", NID_title },
    { "E", NID_pkcs9_emailAddress },
    { "EMAIL", NID_pkcs9_emailAddress },
    { "EMAILADDRESS", NID_pkcs9_emailAddress },
    { "BUSINESSCATEGORY", NID_businessCategory },
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static ASN1_OBJECT *attr_object(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
        if (strcasecmp(attr_names[i].name, name) == 0)
            return OBJ_nid2obj(attr_names[i].nid);
    /* Only a dotted OID is accepted beyond the table (no_name = 1), so a
     * typo never turns into some unrelated OpenSSL long name. */
    if (name[0] >= '0' && name[0] <= '9')
        return OBJ_txt2obj(name, 1);
    return NULL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Adds one "name=value" (already unescaped into name / value). */
static int add_entry(X509_NAME *xn, const char *name, const unsigned char *value, size_t vlen,
                     char *err, size_t errlen)
{
    ASN1_OBJECT *obj;
    int ok;

    if (name[0] == '\0') {
        set_err(err, errlen, "an attribute has no name (stray comma?)");
        return -1;
    }
    obj = attr_object(name);
    if (!obj) {
        set_err(err, errlen, "unknown attribute '%s' (use CN, SN, GN, SERIALNUMBER, C, O, OU, L, ST, E or an OID)",
                name);
        return -1;
    }
    if (vlen == 0) {
        set_err(err, errlen, "empty value for %s", name);
        ASN1_OBJECT_free(obj);
        return -1;
    }
    ERR_clear_error();
    ok = X509_NAME_add_entry_by_OBJ(xn, obj, MBSTRING_UTF8, value, (int)vlen, -1, 0);
    ASN1_OBJECT_free(obj);
    if (!ok) {
        unsigned long e = ERR_peek_last_error();
        const char *why = e ? ERR_reason_error_string(e) : NULL;

        set_err(err, errlen, "%s='%.*s' cannot be encoded: %s", name, (int)vlen, (const char *)value,
                why ? why : "invalid value (C takes 2 letters; SERIALNUMBER Latin letters and digits)");
        ERR_clear_error();
        return -1;
    }
    return 0;
}

X509_NAME *kzt_subject_parse(const char *s, char *err, size_t errlen)
{
    X509_NAME *xn = NULL;
    size_t n = s ? strlen(s) : 0;
    char *name = NULL;
    unsigned char *value = NULL;
    size_t i = 0;

    set_err(err, errlen, "%s", "");
    if (n == 0) {
        set_err(err, errlen, "the subject is empty");
        return NULL;
    }
    xn = X509_NAME_new();
    name = malloc(n + 1);
    value = malloc(n + 1);
    if (!xn || !name || !value) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    while (i <= n) {
        size_t nl = 0, vl = 0, keep = 0;

        while (i < n && is_space(s[i]))
            i++;
        /* Names never need escapes: they are letters, digits and dots. */
        while (i < n && s[i] != '=' && s[i] != ',')
            name[nl++] = s[i++];
        while (nl > 0 && is_space(name[nl - 1]))
            nl--;
        name[nl] = '\0';
        if (i >= n || s[i] != '=') {
            if (nl == 0 && i >= n && xn && X509_NAME_entry_count(xn) > 0)
                set_err(err, errlen, "the subject ends with a comma");
            else
                set_err(err, errlen, "'%s' has no '=' (attributes are NAME=value, separated by commas)", name);
            goto fail;
        }
        i++;
        while (i < n && is_space(s[i]))
            i++;
        while (i < n && s[i] != ',') {
            if (s[i] == '\\') {
                if (i + 1 >= n) {
                    set_err(err, errlen, "the subject ends with a lone backslash");
                    goto fail;
                }
                value[vl++] = (unsigned char)s[i + 1];
                keep = vl;
                i += 2;
                continue;
            }
            value[vl++] = (unsigned char)s[i++];
        }
        while (vl > keep && is_space((char)value[vl - 1]))
            vl--;
        if (add_entry(xn, name, value, vl, err, errlen) != 0)
            goto fail;
        if (i >= n)
            break;
        i++; /* the comma */
        if (i >= n) {
            set_err(err, errlen, "the subject ends with a comma");
            goto fail;
        }
    }
    free(name);
    free(value);
    return xn;

fail:
    X509_NAME_free(xn);
    free(name);
    free(value);
    return NULL;
}
