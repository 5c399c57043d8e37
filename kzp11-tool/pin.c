/* Password input. Reads go straight into the caller's buffer with read(2):
 * stdio would keep a copy of the password in a buffer we cannot wipe. */
#include "pin.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <openssl/crypto.h>

void kzt_pin_clear(kzt_pin *pin)
{
    OPENSSL_cleanse(pin->data, sizeof(pin->data));
    pin->len = 0;
}

int kzt_pin_configured(const char *file, const char *env)
{
    return file != NULL || (env != NULL && getenv(env) != NULL);
}

/* Reads one line (without its end) from fd. 1 ok, 0 end of input before
 * anything was read, -1 error or line too long. */
static int read_line(int fd, kzt_pin *pin)
{
    size_t n = 0;
    int got_any = 0;

    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got_any = 1;
        if (c == '\n')
            break;
        if (n == KZT_PIN_MAX) {
            kzt_pin_clear(pin);
            return -1;
        }
        pin->data[n++] = c;
    }
    /* A file written on Windows ends its lines with CR LF. */
    if (n > 0 && pin->data[n - 1] == '\r')
        n--;
    pin->data[n] = '\0';
    pin->len = n;
    return got_any ? 1 : 0;
}

static int from_file(kzt_pin *pin, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int r;

    if (fd < 0) {
        kzt_err("cannot open the password file %s: %s", path, strerror(errno));
        return KZT_EIO;
    }
    r = read_line(fd, pin);
    close(fd);
    if (r < 0) {
        kzt_err("cannot read the password file %s (unreadable, or a line over %d bytes)",
                path, KZT_PIN_MAX);
        return KZT_EIO;
    }
    return KZT_OK;
}

static int from_env(kzt_pin *pin, const char *name)
{
    const char *v = getenv(name);
    size_t n = strlen(v);

    if (n > KZT_PIN_MAX) {
        kzt_err("$%s is longer than %d bytes", name, KZT_PIN_MAX);
        return KZT_EUSAGE;
    }
    memcpy(pin->data, v, n);
    pin->data[n] = '\0';
    pin->len = n;
    return KZT_OK;
}

/* Saved terminal state, restored by the signal handler as well: a Ctrl-C
 * at the prompt must not leave the user's terminal without echo. */
static struct termios saved_tio;
static volatile sig_atomic_t echo_off;

static void restore_tty(void)
{
    if (echo_off) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
        echo_off = 0;
    }
}

static void on_signal(int sig)
{
    restore_tty();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int prompt_once(kzt_pin *pin, const char *prompt)
{
    struct termios tio;
    struct sigaction sa, old_int, old_term, old_hup;
    int r;

    if (tcgetattr(STDIN_FILENO, &saved_tio) != 0) {
        kzt_err("cannot read the terminal settings: %s", strerror(errno));
        return KZT_EIO;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);

    tio = saved_tio;
    tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    tio.c_lflag |= ICANON;
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    echo_off = 1;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) != 0) {
        echo_off = 0;
        r = -2;
    } else {
        r = read_line(STDIN_FILENO, pin);
    }
    restore_tty();
    fputc('\n', stderr);

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    if (r == -2) {
        kzt_err("cannot turn off the terminal echo: %s", strerror(errno));
        return KZT_EIO;
    }
    if (r <= 0) {
        kzt_err("no password read from the terminal");
        return KZT_EIO;
    }
    return KZT_OK;
}

int kzt_pin_get(kzt_pin *pin, const char *file, const char *env,
                const char *prompt, int confirm)
{
    kzt_pin again;
    int rc;

    kzt_pin_clear(pin);
    if (file)
        return from_file(pin, file);
    if (env && getenv(env))
        return from_env(pin, env);
    if (!isatty(STDIN_FILENO)) {
        kzt_err("no password given: use --pin-file FILE or the %s variable, or run on a terminal",
                env ? env : "KZP11_PIN");
        return KZT_EUSAGE;
    }
    if ((rc = prompt_once(pin, prompt)) != KZT_OK)
        return rc;
    if (!confirm)
        return KZT_OK;
    kzt_pin_clear(&again);
    rc = prompt_once(&again, "Repeat the new password: ");
    if (rc == KZT_OK && (again.len != pin->len || memcmp(again.data, pin->data, pin->len) != 0)) {
        kzt_err("the two new passwords differ");
        rc = KZT_ENEWPIN;
    }
    kzt_pin_clear(&again);
    if (rc != KZT_OK)
        kzt_pin_clear(pin);
    return rc;
}
