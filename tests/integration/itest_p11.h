/* Small helpers shared by the C integration tests (test_threads, test_fork):
 * loading the module with dlopen(), finding the test token and its objects,
 * and checking signatures with OpenSSL against the token's certificate. */
#ifndef KZP11_ITEST_P11_H
#define KZP11_ITEST_P11_H

#include <stddef.h>
#include <p11-kit/pkcs11.h>
#include <openssl/evp.h>

#define ITEST_PIN "Qwerty12"

/* Name of a return value for messages ("CKR_PIN_INCORRECT" or hex). */
const char *itest_rv(CK_RV rv);

/* The number a card simulator's --count file holds (the APDUs it has
 * received); -1 when it cannot be read. */
long itest_count(const char *path);

/* Prints "FAIL: <what>: <rv>" to stderr and returns 0 unless rv == want. */
int itest_check(const char *what, CK_RV rv, CK_RV want);

/* dlopen()s the module named by $KZP11_MODULE (or path when not NULL) and
 * returns its function list; NULL (after a message) on error. */
CK_FUNCTION_LIST_PTR itest_load(const char *path, void **handle);

/* Finds the first slot whose token label starts with prefix (e.g. "RSA256_",
 * which "AUTH_RSA256_..." does not match). CKR_TOKEN_NOT_PRESENT if none. */
CK_RV itest_find_slot(CK_FUNCTION_LIST_PTR f, const char *prefix, CK_SLOT_ID *slot);

/* Finds exactly one object of the class (and id when id != NULL). */
CK_RV itest_find_one(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                     const unsigned char *id, CK_ULONG id_len, CK_OBJECT_HANDLE *obj);

/* Reads an attribute into a malloc()ed buffer (two-call convention). */
CK_RV itest_get_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len);

/* Finds the private key and the certificate with the same CKA_ID, and
 * returns the key handle and the certificate's public key (for OpenSSL). */
CK_RV itest_key_and_cert(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
                         CK_OBJECT_HANDLE *key, EVP_PKEY **pub);

/* 1 if sig is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of data. */
int itest_verify_sha256(EVP_PKEY *pub, const unsigned char *data, size_t len,
                        const unsigned char *sig, size_t siglen);

/* SignInit + Sign with CKM_SHA256_RSA_PKCS; sig must hold 512 bytes. */
CK_RV itest_sign_sha256(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                        const unsigned char *data, CK_ULONG len,
                        unsigned char *sig, CK_ULONG *siglen);

#endif
