/* The Kaztoken simulator's file tree, its FCP encoding and --state files. */
#include "kt_fs.h"

#include <stdlib.h>
#include <string.h>

struct kt_file *kt_file_new(uint16_t fid, enum kt_kind kind)
{
    struct kt_file *f = calloc(1, sizeof *f);

    if (!f)
        return NULL;
    f->fid = fid;
    f->kind = kind;
    f->desc[0] = kind == KT_DF ? 0x38 : kind == KT_EF ? 0x01 : 0x10;
    return f;
}

void kt_file_free(struct kt_file *f)
{
    struct kt_file *c, *next;

    if (!f)
        return;
    for (c = f->first_child; c; c = next) {
        next = c->next_sibling;
        c->parent = NULL;
        kt_file_free(c);
    }
    if (f->data) {
        /* Key and PIN material does not linger in freed memory. */
        memset(f->data, 0, f->data_len);
        free(f->data);
    }
    free(f);
}

void kt_add_child(struct kt_file *df, struct kt_file *f)
{
    struct kt_file **p = &df->first_child;

    while (*p)
        p = &(*p)->next_sibling;
    *p = f;
    f->parent = df;
    f->next_sibling = NULL;
}

void kt_unlink(struct kt_file *f)
{
    struct kt_file **p;

    if (!f->parent)
        return;
    for (p = &f->parent->first_child; *p; p = &(*p)->next_sibling)
        if (*p == f) {
            *p = f->next_sibling;
            break;
        }
    f->parent = NULL;
    f->next_sibling = NULL;
}

struct kt_file *kt_child(const struct kt_file *df, uint16_t fid)
{
    struct kt_file *c;

    for (c = df->first_child; c; c = c->next_sibling)
        if (c->fid == fid)
            return c;
    return NULL;
}

struct kt_file *kt_walk(struct kt_file *df, const uint8_t *path, size_t len)
{
    size_t i;

    if (len % 2)
        return NULL;
    for (i = 0; df && i < len; i += 2) {
        if (df->kind != KT_DF)
            return NULL;
        df = kt_child(df, (uint16_t)(path[i] << 8 | path[i + 1]));
    }
    return df;
}

int kt_is_within(const struct kt_file *f, const struct kt_file *a)
{
    for (; f; f = f->parent)
        if (f == a)
            return 1;
    return 0;
}

struct kt_file *kt_find(struct kt_file *root, int (*match)(const struct kt_file *, const void *),
                        const void *arg)
{
    struct kt_file *c, *hit;

    if (match(root, arg))
        return root;
    for (c = root->first_child; c; c = c->next_sibling)
        if ((hit = kt_find(c, match, arg)) != NULL)
            return hit;
    return NULL;
}

size_t kt_used_bytes(const struct kt_file *root)
{
    const struct kt_file *c;
    size_t n = root->kind == KT_DF ? 0 : root->size;

    for (c = root->first_child; c; c = c->next_sibling)
        n += kt_used_bytes(c);
    return n;
}

size_t kt_fcp(const struct kt_file *f, uint8_t *out)
{
    size_t n = 2;

    out[n++] = 0x80;
    out[n++] = 2;
    out[n++] = (uint8_t)(f->size >> 8);
    out[n++] = (uint8_t)f->size;
    out[n++] = 0x82;
    out[n++] = 2;
    out[n++] = f->desc[0];
    out[n++] = f->desc[1];
    out[n++] = 0x83;
    out[n++] = 2;
    out[n++] = (uint8_t)(f->fid >> 8);
    out[n++] = (uint8_t)f->fid;
    if (f->has_prop) {
        out[n++] = 0x85;
        out[n++] = KT_PROP_LEN;
        memcpy(out + n, f->prop, KT_PROP_LEN);
        n += KT_PROP_LEN;
    }
    /* OpenSC's rtecp driver refuses a SELECT answer whose 86 is not exactly
     * 15 bytes (§3.4), so it is always there, in full. */
    out[n++] = 0x86;
    out[n++] = KT_SEC_LEN;
    memcpy(out + n, f->sec, KT_SEC_LEN);
    n += KT_SEC_LEN;
    out[0] = 0x62;
    out[1] = (uint8_t)(n - 2);
    return n;
}

int kt_set_data(struct kt_file *f, const uint8_t *v, size_t n)
{
    uint8_t *p = NULL;

    if (n) {
        p = malloc(n);
        if (!p)
            return -1;
        memcpy(p, v, n);
    }
    if (f->data) {
        memset(f->data, 0, f->data_len);
        free(f->data);
    }
    f->data = p;
    f->data_len = n;
    return 0;
}

/* ---- --state ---------------------------------------------------------------
 * A line per file, depth first so a parent always precedes its children:
 *   <path from MF, hex> <D|E|R> <descriptor> <size> <85 or -> <86> <tries> <set> <data or ->
 * Plain text so a test can look into it when a driver misbehaves. */

static void put_hex(FILE *out, const uint8_t *b, size_t n)
{
    size_t i;

    if (!n) {
        fputc('-', out);
        return;
    }
    for (i = 0; i < n; i++)
        fprintf(out, "%02X", b[i]);
}

static int save_file(const struct kt_file *f, uint8_t *path, size_t plen, FILE *out)
{
    const struct kt_file *c;

    if (plen + 2 > 64)
        return -1;
    path[plen] = (uint8_t)(f->fid >> 8);
    path[plen + 1] = (uint8_t)f->fid;
    plen += 2;
    put_hex(out, path, plen);
    fprintf(out, " %c ", f->kind == KT_DF ? 'D' : f->kind == KT_EF ? 'E' : 'R');
    put_hex(out, f->desc, 2);
    fprintf(out, " %u ", f->size);
    put_hex(out, f->prop, f->has_prop ? KT_PROP_LEN : 0);
    fputc(' ', out);
    put_hex(out, f->sec, KT_SEC_LEN);
    fprintf(out, " %u %d ", f->tries_left, f->value_set);
    put_hex(out, f->data, f->data_len);
    fputc('\n', out);
    for (c = f->first_child; c; c = c->next_sibling)
        if (save_file(c, path, plen, out) < 0)
            return -1;
    return 0;
}

int kt_save(const struct kt_file *mf, FILE *out)
{
    uint8_t path[64];

    fprintf(out, "kaztoken-state 1\n");
    return save_file(mf, path, 0, out);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes a hex token ("-" = empty) into a fresh buffer. */
static int get_hex(const char *s, uint8_t **out, size_t *n)
{
    size_t len = strlen(s), i;
    uint8_t *b;

    *out = NULL;
    *n = 0;
    if (strcmp(s, "-") == 0)
        return 0;
    if (len % 2)
        return -1;
    b = malloc(len / 2 + 1);
    if (!b)
        return -1;
    for (i = 0; i < len / 2; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return -1;
        }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = b;
    *n = len / 2;
    return 0;
}

static int load_line(struct kt_file **mf, char *line)
{
    char *tok[9], *save = NULL;
    uint8_t *path = NULL, *desc = NULL, *prop = NULL, *sec = NULL, *data = NULL;
    size_t plen, dlen, prlen, slen, datalen;
    struct kt_file *f = NULL, *parent;
    int i, rc = -1;

    for (i = 0; i < 9; i++) {
        tok[i] = strtok_r(i ? NULL : line, " \t\n", &save);
        if (!tok[i])
            return -1;
    }
    if (get_hex(tok[0], &path, &plen) || plen < 2 || plen % 2 ||
        get_hex(tok[2], &desc, &dlen) || dlen != 2 ||
        get_hex(tok[4], &prop, &prlen) || (prlen && prlen != KT_PROP_LEN) ||
        get_hex(tok[5], &sec, &slen) || slen != KT_SEC_LEN ||
        get_hex(tok[8], &data, &datalen))
        goto out;
    f = kt_file_new((uint16_t)(path[plen - 2] << 8 | path[plen - 1]),
                    tok[1][0] == 'D' ? KT_DF : tok[1][0] == 'E' ? KT_EF : KT_RSF);
    if (!f)
        goto out;
    memcpy(f->desc, desc, 2);
    f->size = (uint16_t)strtoul(tok[3], NULL, 10);
    if (prlen) {
        f->has_prop = 1;
        memcpy(f->prop, prop, KT_PROP_LEN);
    }
    memcpy(f->sec, sec, KT_SEC_LEN);
    f->tries_left = (uint8_t)strtoul(tok[6], NULL, 10);
    f->value_set = atoi(tok[7]);
    f->data = data;
    f->data_len = datalen;
    data = NULL;
    if (plen == 2) {
        if (*mf || f->kind != KT_DF)
            goto out;
        *mf = f;
    } else {
        if (!*mf)
            goto out;
        parent = kt_walk(*mf, path + 2, plen - 4);
        if (!parent || parent->kind != KT_DF || kt_child(parent, f->fid))
            goto out;
        kt_add_child(parent, f);
    }
    f = NULL;
    rc = 0;
out:
    if (f)
        kt_file_free(f);
    free(path);
    free(desc);
    free(prop);
    free(sec);
    free(data);
    return rc;
}

struct kt_file *kt_load(FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    struct kt_file *mf = NULL;

    /* getline: an EF of the full card memory is a 128 KiB line. */
    if (getline(&line, &cap, in) < 0 || strcmp(line, "kaztoken-state 1\n") != 0)
        goto bad;
    while (getline(&line, &cap, in) >= 0)
        if (load_line(&mf, line) < 0)
            goto bad;
    free(line);
    return mf;
bad:
    free(line);
    kt_file_free(mf);
    return NULL;
}
