/* The vpcd side of a card simulator: connection, message framing, the
 * --count file, --fuzz and orderly exit. The card logic lives elsewhere. */
#include "vicc.h"
#include "fuzz.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* vpcd frames carry at most 0xFFFF bytes. */
#define VICC_MAX_MESSAGE 0xFFFF

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

void vicc_options_init(struct vicc_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->give_up = 30;
}

static int parse_ulong(const char *arg, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(arg, &end, 0);
    if (errno || end == arg || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int vicc_option(struct vicc_options *o, int code, const char *arg)
{
    unsigned long v;

    switch (code) {
    case VICC_OPT_PORT:
        if (parse_ulong(arg, 65535, &v) || v == 0)
            goto bad;
        o->port = (unsigned)v;
        return 1;
    case VICC_OPT_HOST:
        o->host = arg;
        return 1;
    case VICC_OPT_COUNT:
        o->count_file = arg;
        return 1;
    case VICC_OPT_FUZZ:
        if (parse_ulong(arg, (unsigned long)-1, &v))
            goto bad;
        o->fuzz = 1;
        o->fuzz_seed = v;
        return 1;
    case VICC_OPT_PID_FILE:
        o->pid_file = arg;
        return 1;
    case VICC_OPT_GIVE_UP:
        if (parse_ulong(arg, 86400, &v))
            goto bad;
        o->give_up = (unsigned)v;
        return 1;
    case VICC_OPT_TRACE:
        o->trace = 1;
        return 1;
    default:
        return 0;
    }
bad:
    fprintf(stderr, "invalid value '%s'\n", arg);
    return -1;
}

void vicc_trace_bytes(const char *prefix, const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    /* One write per line: stderr is unbuffered and a fuzz run logs
     * thousands of lines. */
    char line[3 * 65536 + 64];
    size_t len, i;

    len = (size_t)snprintf(line, 32, "%s", prefix);
    if (len > 31)
        len = 31;
    for (i = 0; i < n && len + 4 < sizeof line; i++) {
        line[len++] = ' ';
        line[len++] = digits[b[i] >> 4];
        line[len++] = digits[b[i] & 15];
    }
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

/* Atomic replacement (write + rename), so a test reading the count never
 * sees an empty or half-written file. */
static void write_count(const char *path, unsigned long count)
{
    char tmp[4096];
    FILE *f;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return;
    f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%lu\n", count);
    if (fclose(f) == 0)
        (void)rename(tmp, path);
}

static void write_pid(const char *path)
{
    FILE *f = fopen(path, "w");

    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
}

static int connect_vpcd(const struct vicc_options *o)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int fd = -1, one = 1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof port, "%u", o->port);
    if (getaddrinfo(o->host, port, &hints, &res) != 0)
        return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        /* Answers are small and latency-bound: no Nagle delay. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* vpcd writes a message's length and its bytes with two send() calls on a
 * socket with Nagle's algorithm on: the second waits for our ACK of the
 * first, and a delayed ACK costs 40 ms per message (measured: 50 ms per
 * APDU). Quick-ACK mode has to be asked for again after every read. */
static void quick_ack(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

/* Reads exactly n bytes. 1 = done, 0 = peer closed, -1 = error or stop. */
static int read_all(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r;

        quick_ack(fd);
        r = read(fd, buf + got, n - got);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0)
            return 0;
        if (errno == EINTR && !stop_requested)
            continue;
        return -1;
    }
    return 1;
}

static int send_message(int fd, const unsigned char *msg, size_t n)
{
    unsigned char hdr[2];
    size_t sent = 0;

    hdr[0] = (unsigned char)(n >> 8);
    hdr[1] = (unsigned char)n;
    if (send(fd, hdr, 2, MSG_NOSIGNAL | MSG_MORE) != 2)
        return -1;
    while (sent < n) {
        ssize_t r = send(fd, msg + sent, n - sent, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR && !stop_requested)
                continue;
            return -1;
        }
        sent += (size_t)r;
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Serves one vpcd connection until it closes. Returns 0 when vpcd closed
 * the connection, -1 on stop or error. */
static int serve(int fd, const struct vicc_options *o, const struct vicc_card *card,
                 unsigned long *count, struct fuzz *fz)
{
    static unsigned char msg[VICC_MAX_MESSAGE];
    static unsigned char resp[VICC_MAX_RESPONSE];

    for (;;) {
        unsigned char hdr[2];
        size_t len, rlen;
        int r = read_all(fd, hdr, 2);

        if (r <= 0)
            return r == 0 ? 0 : -1;
        len = ((size_t)hdr[0] << 8) | hdr[1];
        r = read_all(fd, msg, len);
        if (r <= 0)
            return r == 0 ? 0 : -1;

        if (len == 1) {
            switch (msg[0]) {
            case 0x04:
                if (send_message(fd, card->atr, card->atr_len) < 0)
                    return -1;
                break;
            case 0x00:
            case 0x01:
            case 0x02:
                if (o->trace)
                    fprintf(stderr, "%s\n", msg[0] == 0x00 ? "power off" :
                            msg[0] == 0x01 ? "power on" : "reset");
                card->power(card->ctx);
                break;
            default:
                fprintf(stderr, "unknown vpcd control byte %02X ignored\n", msg[0]);
                break;
            }
            continue;
        }

        ++*count;
        if (o->count_file)
            write_count(o->count_file, *count);
        if (o->trace)
            vicc_trace_bytes(">>", msg, len);
        if (len < 4) {
            /* Not an APDU at all; a real token would not answer sensibly
             * either. */
            resp[0] = 0x67;
            resp[1] = 0x00;
            rlen = 2;
        } else {
            rlen = card->apdu(card->ctx, msg, len, resp);
        }
        if (o->fuzz)
            fuzz_mutate(fz, resp, &rlen, sizeof resp);
        if (o->trace)
            vicc_trace_bytes("<<", resp, rlen);
        if (send_message(fd, resp, rlen) < 0)
            return -1;
    }
}

int vicc_run(const struct vicc_options *o, const struct vicc_card *card)
{
    struct sigaction sa;
    struct fuzz fz;
    unsigned long count = 0;
    double lost_since = now_seconds();
    int announced = 0;

    /* No SA_RESTART: a blocking read must return so the loop sees the stop. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (o->pid_file)
        write_pid(o->pid_file);
    if (o->count_file)
        write_count(o->count_file, 0);
    fuzz_init(&fz, o->fuzz_seed);

    while (!stop_requested) {
        int fd = connect_vpcd(o);

        if (fd < 0) {
            if (o->give_up && now_seconds() - lost_since > o->give_up) {
                fprintf(stderr, "vpcd at %s:%u unreachable for %u s, giving up\n",
                        o->host, o->port, o->give_up);
                break;
            }
            if (!announced) {
                fprintf(stderr, "waiting for vpcd at %s:%u\n", o->host, o->port);
                announced = 1;
            }
            usleep(100 * 1000);
            continue;
        }
        fprintf(stderr, "inserted into vpcd at %s:%u\n", o->host, o->port);
        announced = 0;
        /* A fresh connection is a fresh insertion: the card starts cold. */
        card->power(card->ctx);
        if (serve(fd, o, card, &count, &fz) == 0)
            fprintf(stderr, "vpcd closed the connection\n");
        close(fd);
        lost_since = now_seconds();
    }
    if (card->shutdown)
        card->shutdown(card->ctx);
    fprintf(stderr, "removed (%lu APDUs answered)\n", count);
    return 0;
}
