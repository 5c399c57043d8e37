#include "slot_table.h"
#include "log.h"
#include "object_store.h"
#include "session_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kz_slot **slots;
static size_t n_slots, cap_slots;
/* Survives C_Finalize so a re-initialised module never re-issues an ID
 * that an application may still remember for another token. */
static CK_SLOT_ID next_id;

kz_slot *kz_slots_get(CK_SLOT_ID id)
{
    /* IDs are handed out in increasing order: binary search. */
    size_t lo = 0, hi = n_slots;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (slots[mid]->id == id)
            return slots[mid];
        if (slots[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t kz_slots_count(void)
{
    return n_slots;
}

kz_slot *kz_slots_at(size_t i)
{
    return i < n_slots ? slots[i] : NULL;
}

static kz_slot *find_key(const char *provider, const char *key)
{
    for (size_t i = 0; i < n_slots; i++)
        if (slots[i]->provider == provider && strcmp(slots[i]->key, key) == 0)
            return slots[i];
    return NULL;
}

static kz_slot *add_slot(const char *provider, const char *key,
                         void (*describe)(const char *key, char *out, size_t len))
{
    kz_slot *s;

    if (n_slots == cap_slots) {
        size_t cap = cap_slots ? cap_slots * 2 : 16;
        kz_slot **v = realloc(slots, cap * sizeof(*v));
        if (!v)
            return NULL;
        slots = v;
        cap_slots = cap;
    }
    s = calloc(1, sizeof(*s));
    if (!s || !(s->key = strdup(key))) {
        free(s);
        return NULL;
    }
    s->id = next_id++;
    s->provider = provider;
    s->user = KZ_NOBODY;
    s->describe = describe;
    describe(key, s->description, sizeof(s->description));
    slots[n_slots++] = s;
    return s;
}

void kz_slot_remove_token(kz_slot *s)
{
    if (!s->present)
        return;
    kz_sessions_close_slot(s->id);
    kz_objects_destroy_where(s->id, KZ_ALL_OWNERS);
    if (s->token.ops && s->token.ops->release)
        s->token.ops->release(&s->token);
    memset(&s->token, 0, sizeof(s->token));
    s->present = 0;
    s->event = 1;
    s->user = KZ_NOBODY;
    s->objects_built = 0;
}

static int in_list(const char *key, char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return 1;
    return 0;
}

CK_RV kz_slots_sync(const char *provider, char *const *keys, size_t n,
                    kz_token_factory make, void *ctx,
                    void (*describe)(const char *key, char *out, size_t len))
{
    for (size_t i = 0; i < n_slots; i++)
        if (slots[i]->provider == provider && slots[i]->present
            && !in_list(slots[i]->key, keys, n)) {
            KZ_DEBUG("slot %lu: token gone", (unsigned long)slots[i]->id);
            kz_slot_remove_token(slots[i]);
        }
    for (size_t i = 0; i < n; i++) {
        kz_slot *s = find_key(provider, keys[i]);
        if (s && s->present)
            continue;
        if (!s && !(s = add_slot(provider, keys[i], describe)))
            return CKR_HOST_MEMORY;
        if (make(keys[i], ctx, &s->token) != CKR_OK)
            continue;       /* the slot stays, empty: the ID is already promised */
        s->present = 1;
        s->event = 1;
        KZ_DEBUG("slot %lu: token present", (unsigned long)s->id);
    }
    return CKR_OK;
}

void kz_slots_free_all(void)
{
    for (size_t i = 0; i < n_slots; i++) {
        kz_slot_remove_token(slots[i]);
        free(slots[i]->key);
        free(slots[i]);
    }
    free(slots);
    slots = NULL;
    n_slots = cap_slots = 0;
}
