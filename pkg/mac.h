/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MAC addresses (the one parser, the one formatter, random ones) and the
 * one random source.  cni_mac_parse() (types.h), the config decoder's
 * normalizer, is defined here too.
 */
#ifndef CNIC_MAC_H
#define CNIC_MAC_H

#include <stddef.h>
#include <stdint.h>

/* "aa:bb:cc:dd:ee:ff" and its NUL. */
#define CNL_MAC_STRLEN 18

/*
 * A 48-bit MAC in any of Go's net.ParseMAC notations ("aa:bb:cc:dd:ee:ff",
 * "aa-bb-cc-dd-ee-ff", "aabb.ccdd.eeff"; either case), as 6 bytes.  0, or
 * -1 (no error object: callers name the config key).
 */
int cnl_mac_parse(const char *s, uint8_t ret[6]);

/* Lowercase "aa:bb:cc:dd:ee:ff". */
void cnl_mac_format(const uint8_t mac[6], char ret[CNL_MAC_STRLEN]);

/* A random locally administered unicast MAC, "aa:bb:cc:dd:ee:ff". */
void cnl_mac_random(char ret[CNL_MAC_STRLEN]);

/*
 * n random bytes: the kernel's (getrandom, never blocking), or, should it
 * have none to give (no getrandom, pool not ready), bytes mixed from the
 * clock and the pid, which are enough for what cnic draws (names, MACs,
 * back-off pauses: unique, not secret).
 */
void cnic_random(void *buf, size_t n);

#endif
