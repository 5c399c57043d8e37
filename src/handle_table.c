/* A sorted array: appends are O(1) because handles only grow, lookups are a
 * binary search, and removal leaves a hole that compaction reclaims. */
#include "handle_table.h"

#include <stdlib.h>
#include <string.h>

static void compact(kz_handle_table *t)
{
    size_t j = 0;

    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].ptr)
            t->v[j++] = t->v[i];
    t->n = j;
}

CK_ULONG kz_handles_add(kz_handle_table *t, void *ptr)
{
    if (t->n == t->cap && t->live < t->n / 2)
        compact(t);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct kz_handle_entry *v = realloc(t->v, cap * sizeof(*v));
        if (!v)
            return 0;
        t->v = v;
        t->cap = cap;
    }
    if (t->next == 0)
        t->next = 1;
    t->v[t->n].handle = t->next;
    t->v[t->n].ptr = ptr;
    t->n++;
    t->live++;
    return t->next++;
}

static struct kz_handle_entry *lookup(const kz_handle_table *t, CK_ULONG handle)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].handle == handle)
            return t->v[mid].ptr ? &t->v[mid] : NULL;
        if (t->v[mid].handle < handle)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void *kz_handles_get(const kz_handle_table *t, CK_ULONG handle)
{
    struct kz_handle_entry *e = lookup(t, handle);
    return e ? e->ptr : NULL;
}

void *kz_handles_remove(kz_handle_table *t, CK_ULONG handle)
{
    struct kz_handle_entry *e = lookup(t, handle);
    void *p;

    if (!e)
        return NULL;
    p = e->ptr;
    e->ptr = NULL;
    t->live--;
    return p;
}

void *kz_handles_replace(kz_handle_table *t, CK_ULONG handle, void *ptr)
{
    struct kz_handle_entry *e = lookup(t, handle);
    void *old;

    if (!e)
        return NULL;
    old = e->ptr;
    e->ptr = ptr;
    return old;
}

void kz_handles_free(kz_handle_table *t)
{
    CK_ULONG next = t->next;

    free(t->v);
    memset(t, 0, sizeof(*t));
    /* Keep counting: handles from before a C_Finalize must stay invalid. */
    t->next = next;
}
