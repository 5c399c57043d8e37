/* Handle -> pointer maps for sessions and objects. Handles are issued in
 * increasing order and never reused while the module is loaded, so a stale
 * handle can never reach another object. */
#ifndef KZP11_HANDLE_TABLE_H
#define KZP11_HANDLE_TABLE_H

#include <stddef.h>
#include "pkcs11_types.h"

typedef struct kz_handle_table {
    struct kz_handle_entry { CK_ULONG handle; void *ptr; } *v;
    size_t n, cap, live;
    CK_ULONG next;
} kz_handle_table;

/* Returns the new handle (never 0), or 0 on out of memory. */
CK_ULONG kz_handles_add(kz_handle_table *t, void *ptr);
void *kz_handles_get(const kz_handle_table *t, CK_ULONG handle);
void *kz_handles_remove(kz_handle_table *t, CK_ULONG handle);
/* Points an existing handle at another object; returns the old pointer. */
void *kz_handles_replace(kz_handle_table *t, CK_ULONG handle, void *ptr);
/* Iteration over live entries: i from 0 while i < t->n; NULL ptrs are holes. */
void kz_handles_free(kz_handle_table *t);

#endif
