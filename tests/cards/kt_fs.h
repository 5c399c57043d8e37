/* The Kaztoken simulator's file system: a tree of DFs, EFs and RSFs
 * ("internal" files holding PINs and keys), each with the Rutoken ECP
 * attributes of card-protocols.md §3.4:
 *   82 descriptor  01 00 EF, 38 00 DF, 10 00 RSF
 *   85 6 proprietary bytes (byte 0 = object type for RSFs)
 *   86 15 security bytes: byte 0 a bitmap of meaningful operations, byte 1+n
 *      the condition of operation n (00 always, FF never, 01 SO, 02 user).
 * Plus the text format of --state. */
#ifndef KZ_BENCH_KT_FS_H
#define KZ_BENCH_KT_FS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum kt_kind { KT_DF, KT_EF, KT_RSF };

/* RSF object types (first byte of tag 85), §3.4. */
#define KT_TYPE_PIN       0x01
#define KT_TYPE_GOST_PRIV 0x03
#define KT_TYPE_GOST_PUB  0x13
#define KT_TYPE_RSA_PRIV  0x23
#define KT_TYPE_RSA_PUB   0x33

/* Operation numbers n of the 86 bytes (condition in byte 1+n). */
#define KT_OP_READ    0   /* EF read; DF create DF/EF; PIN unblock */
#define KT_OP_UPDATE  1   /* EF update; DF create RSF; RSF change/write */
#define KT_OP_USE     2   /* key use; "put data" on the MF */
#define KT_OP_DELETE  6

#define KT_SEC_LEN  15
#define KT_PROP_LEN 6

struct kt_file {
    uint16_t fid;
    enum kt_kind kind;
    uint8_t desc[2];
    uint16_t size;               /* 80: EF/RSF size as created */
    int has_prop;
    uint8_t prop[KT_PROP_LEN];
    uint8_t sec[KT_SEC_LEN];
    uint8_t *data;               /* EF content (size bytes) or RSF value */
    size_t data_len;
    int value_set;               /* RSF: a PIN or key has been stored */
    uint8_t tries_left;          /* PIN RSF */
    struct kt_file *parent, *first_child, *next_sibling;
};

struct kt_file *kt_file_new(uint16_t fid, enum kt_kind kind);
/* Frees f and everything below it (after unlinking it from its parent). */
void kt_file_free(struct kt_file *f);

void kt_add_child(struct kt_file *df, struct kt_file *f);  /* appended */
void kt_unlink(struct kt_file *f);
struct kt_file *kt_child(const struct kt_file *df, uint16_t fid);
/* Follows FIDs (2 bytes each) down from df; NULL if any is missing. */
struct kt_file *kt_walk(struct kt_file *df, const uint8_t *path, size_t len);
/* 1 if f is a or lies below a. */
int kt_is_within(const struct kt_file *f, const struct kt_file *a);
/* First file in the tree (depth first, creation order) that matches. */
struct kt_file *kt_find(struct kt_file *root, int (*match)(const struct kt_file *, const void *),
                        const void *arg);
/* Sum of EF and RSF sizes: what the memory limit is checked against. */
size_t kt_used_bytes(const struct kt_file *root);

/* SELECT's answer: 62 L { 80 size, 82 descriptor, 83 FID, 85, 86 }.
 * Returns the length written (out needs 64 bytes). */
size_t kt_fcp(const struct kt_file *f, uint8_t *out);

/* Sets the value of an RSF (or EF content) to a copy of v. -1 on ENOMEM. */
int kt_set_data(struct kt_file *f, const uint8_t *v, size_t n);

/* --state: one line per file, parents first. */
int kt_save(const struct kt_file *mf, FILE *out);
struct kt_file *kt_load(FILE *in);  /* NULL if the file is not a state file */

#endif
