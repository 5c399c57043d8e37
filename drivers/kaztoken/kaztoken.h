/* The Kaztoken card driver (Aktiv's Kazakh token, USB 0A89:0035). */
#ifndef KZP11_KAZTOKEN_H
#define KZP11_KAZTOKEN_H

#include "card_drivers.h"

extern const kz_card_driver kz_kaztoken_driver;

#endif
