/* passwd: a new password for the token (for a file container: the file is
 * re-encrypted under it). */
#include "p11.h"
#include "pin.h"

#include <stdio.h>

int kzt_cmd_passwd(const kzt_opts *o)
{
    CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
    CK_SLOT_ID slot;
    kzt_pin old, new_pin;
    char prompt[128];
    kzt_p11 m;
    CK_RV rv;
    int rc;

    kzt_pin_clear(&old);
    kzt_pin_clear(&new_pin);
    if ((rc = kzt_p11_load(&m, kzt_module_path(o))) != KZT_OK)
        return rc;
    /* The token is looked up before the prompts (a typo in --token costs
     * no typing), the session opened after them (no session is held open
     * while the user types). */
    if ((rc = kzt_find_token(&m, o->token, &slot)) != KZT_OK)
        goto out;
    snprintf(prompt, sizeof(prompt), "Current password for %s: ", o->token);
    rc = kzt_pin_get(&old, o->pin_file, "KZP11_PIN", prompt, 0);
    if (rc == KZT_OK) {
        snprintf(prompt, sizeof(prompt), "New password for %s: ", o->token);
        rc = kzt_pin_get(&new_pin, o->new_pin_file, "KZP11_NEW_PIN", prompt, 1);
    }
    if (rc != KZT_OK || (rc = kzt_open_session(&m, slot, 1, 0, o, &sess)) != KZT_OK)
        goto out;
    /* C_SetPIN outside a login changes the user's PIN; some modules want
     * the user logged in first, so that is the fallback. */
    rv = m.f->C_SetPIN(sess, (CK_UTF8CHAR_PTR)old.data, (CK_ULONG)old.len,
                       (CK_UTF8CHAR_PTR)new_pin.data, (CK_ULONG)new_pin.len);
    if (rv == CKR_USER_NOT_LOGGED_IN) {
        rv = m.f->C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)old.data, (CK_ULONG)old.len);
        if (rv == CKR_OK)
            rv = m.f->C_SetPIN(sess, (CK_UTF8CHAR_PTR)old.data, (CK_ULONG)old.len,
                               (CK_UTF8CHAR_PTR)new_pin.data, (CK_ULONG)new_pin.len);
    }
    if (rv != CKR_OK)
        rc = kzt_p11_fail("changing the password", rv);
    else
        printf("Changed the password of token '%s'.\n", o->token);

out:
    kzt_token_end(&m, sess);
    kzt_pin_clear(&old);
    kzt_pin_clear(&new_pin);
    return rc;
}
