/* Loading a PKCS#11 module and the few session chores every command needs. */
#ifndef KZP11_TOOL_P11_H
#define KZP11_TOOL_P11_H

#include "pkcs11_types.h"
#include "tool.h"

typedef struct kzt_p11 {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    int initialized;
} kzt_p11;

/* --module, else $KZP11_MODULE, else the compiled-in path. */
const char *kzt_module_path(const kzt_opts *o);

/* dlopen + C_GetFunctionList + C_Initialize. Returns an exit code. */
int kzt_p11_load(kzt_p11 *m, const char *path);
void kzt_p11_unload(kzt_p11 *m);

/* "CKR_PIN_INCORRECT", or "CKR_0x..." for values we have no name for
 * (in a static buffer: only for immediate printing). */
const char *kzt_ckr_name(CK_RV rv);
/* What the code means to a user, or NULL. */
const char *kzt_ckr_hint(CK_RV rv);
/* The exit code a failed call maps to. */
int kzt_ckr_exit(CK_RV rv);
/* Prints "kzp11-tool: WHAT failed: CKR_X (hint)" and returns kzt_ckr_exit. */
int kzt_p11_fail(const char *what, CK_RV rv);

/* A blank-padded PKCS#11 text field as a C string without the padding;
 * out must hold n + 1 bytes. */
void kzt_field(const CK_UTF8CHAR *padded, size_t n, char *out);

/* The slot whose token has this label (exact match after removing the
 * padding). Exit code; reports "no token" / "several tokens" itself. */
int kzt_find_token(kzt_p11 *m, const char *label, CK_SLOT_ID *slot);

/* Opens a session on slot (rw: read/write) and, when login is set, logs in
 * as CKU_USER with the password from --pin-file, $KZP11_PIN or the
 * terminal. Exit code; on failure nothing is left open. */
int kzt_open_session(kzt_p11 *m, CK_SLOT_ID slot, int rw, int login,
                     const kzt_opts *o, CK_SESSION_HANDLE *sess);
/* Logs in an open session (same password sources). Exit code. */
int kzt_login(kzt_p11 *m, CK_SESSION_HANDLE sess, const char *token_label,
              const kzt_opts *o);

/* The usual start of a command: load the module, find --token, open a
 * session (rw: read/write) and log in when asked. Exit code; on failure
 * everything is undone. */
int kzt_token_begin(kzt_p11 *m, const kzt_opts *o, int rw, int login,
                    CK_SLOT_ID *slot, CK_SESSION_HANDLE *sess);
/* Closes the session (if any) and unloads the module. */
void kzt_token_end(kzt_p11 *m, CK_SESSION_HANDLE sess);

/* An attribute's value in a malloc'd buffer (an empty value gives a 1-byte
 * buffer and *len = 0). CKR_OK or the call's error. */
CK_RV kzt_attr(kzt_p11 *m, CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE obj,
               CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len);
/* A CK_ULONG attribute; CKR_OK or the call's error. */
CK_RV kzt_attr_ulong(kzt_p11 *m, CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, CK_ULONG *val);

/* Appends one attribute to a template (no copy of val is made). */
void kzt_add_attr(CK_ATTRIBUTE *t, CK_ULONG *n, CK_ATTRIBUTE_TYPE type, const void *val, size_t len);

/* Up to max handles matching the template. CKR_OK or the call's error. */
CK_RV kzt_find(kzt_p11 *m, CK_SESSION_HANDLE sess, CK_ATTRIBUTE *tmpl,
               CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count);

#endif
