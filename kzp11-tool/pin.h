/* Where passwords come from: --pin-file, an environment variable, or the
 * terminal without echo. Never the command line, where every user on the
 * machine can read it in the process list. */
#ifndef KZP11_TOOL_PIN_H
#define KZP11_TOOL_PIN_H

#include <stddef.h>

#define KZT_PIN_MAX 256

typedef struct kzt_pin {
    char data[KZT_PIN_MAX + 1];
    size_t len;
} kzt_pin;

/* Fills pin from file (its first line) if file is set, else from the
 * environment variable env if it is set, else by asking on the terminal
 * (stdin must be one) with prompt; confirm asks twice and insists on the
 * same answer. Returns an exit code (KZT_EUSAGE when there is no source,
 * KZT_EIO when the file or terminal fails, KZT_ENEWPIN on a mismatch). */
int kzt_pin_get(kzt_pin *pin, const char *file, const char *env,
                const char *prompt, int confirm);

/* 1 when a non-interactive source (file or variable) is configured. */
int kzt_pin_configured(const char *file, const char *env);

/* Wipes the buffer. */
void kzt_pin_clear(kzt_pin *pin);

#endif
