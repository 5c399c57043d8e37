/* The simulated Kaztoken's state when it leaves the "factory".
 *
 * The real token's factory layout and PINs are not public (card-protocols.md
 * §3.3, §4), so this is the bench's choice, built from the document's
 * facts: the two global PINs as OpenSC's rutoken_ecp profile creates them
 * (§3.3-§3.4) - SO PIN reference 01, "87654321", 10 tries, at least 8
 * characters, never unblocked; user PIN reference 02, "12345678", 5 tries,
 * at least 6 characters, unblocked by the SO - and, by layout:
 *   bare    nothing else;
 *   system  (default) the system DFs key generation files keys into
 *           (3F00/1000, 3F00/1000/1000 and its 6001..6005);
 *   opensc  the system DFs, the reserved DFs and the EFs of OpenSC's
 *           rutoken_ecp profile (§3.3: EF.DIR 2F00, the PKCS#15 DF 5000 with
 *           ODF 5031, TokenInfo 5032, AODF 6005, PrKDF 6002, PuKDF 6001,
 *           CDF 6004, DODF 6006), every EF zero-filled: the skeleton
 *           pkcs15-init would write, without its contents. */
#ifndef KZ_BENCH_KT_FACTORY_H
#define KZ_BENCH_KT_FACTORY_H

#include "kt_fs.h"

enum kt_layout { KT_LAYOUT_BARE, KT_LAYOUT_SYSTEM, KT_LAYOUT_OPENSC };

struct kt_factory {
    const char *user_pin, *so_pin;
    unsigned user_tries, so_tries;   /* 1..15 */
    enum kt_layout layout;
};

void kt_factory_defaults(struct kt_factory *fc);

/* The new card's MF; exits on allocation failure (a test tool). */
struct kt_file *kt_factory_card(const struct kt_factory *fc);

#endif
