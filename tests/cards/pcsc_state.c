/* pcsc_state: what the bench's pcscd reports, for the bench script and the
 * tests (a PC/SC client, so it sees exactly what a driver would see).
 *
 *   pcsc_state list
 *       one line per reader: "<present|empty|mute|unavailable>\t<ATR hex or ->\t<name>"
 *   pcsc_state wait NAME present|empty SECONDS
 *       waits with SCardGetStatusChange until reader NAME is in that state;
 *       exit 0 when it is, 1 on timeout, 2 on error
 *   pcsc_state send NAME APDU...
 *       sends each hex APDU in one shared connection, raw (no GET RESPONSE
 *       or resend on 61xx/6Cxx), and prints each answer in hex, or
 *       "error <PC/SC error>" and goes on (reconnecting if the card was
 *       reset); exit 0 unless the connection could not be made at all
 *
 * The daemon is the one PCSCLITE_CSOCK_NAME points to (libpcsclite reads
 * it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <winscard.h>

static const char *state_name(DWORD st)
{
    if (st & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE | SCARD_STATE_IGNORE))
        return "unavailable";
    if (st & SCARD_STATE_MUTE)
        return "mute";
    if (st & SCARD_STATE_PRESENT)
        return "present";
    return "empty";
}

static int list(SCARDCONTEXT ctx)
{
    char *names = NULL, *n;
    DWORD len = SCARD_AUTOALLOCATE;
    LONG rv = SCardListReaders(ctx, NULL, (LPSTR)&names, &len);

    if (rv == (LONG)SCARD_E_NO_READERS_AVAILABLE)
        return 0;
    if (rv != SCARD_S_SUCCESS) {
        fprintf(stderr, "SCardListReaders: %s\n", pcsc_stringify_error(rv));
        return 2;
    }
    for (n = names; *n; n += strlen(n) + 1) {
        SCARD_READERSTATE rs;
        DWORD i;

        memset(&rs, 0, sizeof rs);
        rs.szReader = n;
        rs.dwCurrentState = SCARD_STATE_UNAWARE;
        rv = SCardGetStatusChange(ctx, 0, &rs, 1);
        if (rv != SCARD_S_SUCCESS) {
            printf("unavailable\t-\t%s\n", n);
            continue;
        }
        printf("%s\t", state_name(rs.dwEventState));
        if (rs.cbAtr == 0)
            putchar('-');
        for (i = 0; i < rs.cbAtr; i++)
            printf("%02X", rs.rgbAtr[i]);
        printf("\t%s\n", n);
    }
    SCardFreeMemory(ctx, names);
    return 0;
}

static int wait_for(SCARDCONTEXT ctx, const char *name, int want_present, long seconds)
{
    SCARD_READERSTATE rs;
    time_t deadline = time(NULL) + seconds;

    memset(&rs, 0, sizeof rs);
    rs.szReader = name;
    rs.dwCurrentState = SCARD_STATE_UNAWARE;
    for (;;) {
        long left = (long)(deadline - time(NULL));
        LONG rv;

        if (left < 0)
            return 1;
        rv = SCardGetStatusChange(ctx, (DWORD)(left * 1000 + 1), &rs, 1);
        if (rv == (LONG)SCARD_E_TIMEOUT)
            return 1;
        if (rv != SCARD_S_SUCCESS) {
            fprintf(stderr, "SCardGetStatusChange(%s): %s\n", name, pcsc_stringify_error(rv));
            return 2;
        }
        if (rs.dwEventState & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)) {
            fprintf(stderr, "no reader named '%s'\n", name);
            return 2;
        }
        if (!!(rs.dwEventState & SCARD_STATE_PRESENT) == want_present &&
            !(rs.dwEventState & SCARD_STATE_MUTE))
            return 0;
        rs.dwCurrentState = rs.dwEventState;
    }
}

static int parse_hex(const char *s, unsigned char *out, size_t cap, size_t *n)
{
    size_t len = strlen(s), i;

    if (len == 0 || len % 2 || len / 2 > cap)
        return -1;
    for (i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    *n = len / 2;
    return 0;
}

static int send_apdus(SCARDCONTEXT ctx, const char *name, char **apdus, int count)
{
    SCARDHANDLE h;
    DWORD proto;
    LONG rv = SCardConnect(ctx, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                           &h, &proto);
    int i;

    if (rv != SCARD_S_SUCCESS) {
        fprintf(stderr, "SCardConnect(%s): %s\n", name, pcsc_stringify_error(rv));
        return 2;
    }
    for (i = 0; i < count; i++) {
        static unsigned char cmd[65544], resp[65538];
        size_t n;
        DWORD rlen = sizeof resp, j;
        const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;

        if (parse_hex(apdus[i], cmd, sizeof cmd, &n)) {
            fprintf(stderr, "not an APDU in hex: %s\n", apdus[i]);
            SCardDisconnect(h, SCARD_LEAVE_CARD);
            return 2;
        }
        rv = SCardTransmit(h, pci, cmd, (DWORD)n, NULL, resp, &rlen);
        if (rv == (LONG)SCARD_W_RESET_CARD)
            (void)SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                                 SCARD_LEAVE_CARD, &proto);
        if (rv != SCARD_S_SUCCESS) {
            printf("error %s\n", pcsc_stringify_error(rv));
            continue;
        }
        for (j = 0; j < rlen; j++)
            printf("%02X", resp[j]);
        putchar('\n');
    }
    SCardDisconnect(h, SCARD_LEAVE_CARD);
    return 0;
}

int main(int argc, char **argv)
{
    SCARDCONTEXT ctx;
    LONG rv;
    int rc;

    if (argc < 2 ||
        (strcmp(argv[1], "list") == 0 ? argc != 2 :
         strcmp(argv[1], "send") == 0 ? argc < 4 :
         strcmp(argv[1], "wait") != 0 || argc != 5 ||
         (strcmp(argv[3], "present") && strcmp(argv[3], "empty")))) {
        fprintf(stderr, "usage: pcsc_state list | wait NAME present|empty SECONDS |"
                        " send NAME APDU...\n");
        return 2;
    }
    rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    if (rv != SCARD_S_SUCCESS) {
        fprintf(stderr, "SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
        return 2;
    }
    if (strcmp(argv[1], "list") == 0)
        rc = list(ctx);
    else if (strcmp(argv[1], "send") == 0)
        rc = send_apdus(ctx, argv[2], argv + 3, argc - 3);
    else
        rc = wait_for(ctx, argv[2], strcmp(argv[3], "present") == 0, atol(argv[4]));
    SCardReleaseContext(ctx);
    return rc;
}
