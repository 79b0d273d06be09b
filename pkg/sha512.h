/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-512 (FIPS 180-4), one-shot.  Some reference plugins derive device
 * names from a SHA-512 of their inputs (bandwidth's ifb "bwp" + hex digest):
 * a node switched from the reference must find those names again, so the
 * hash has to be the same one.  Not used for anything secret.
 */
#ifndef CNIC_SHA512_H
#define CNIC_SHA512_H

#include <stddef.h>
#include <stdint.h>

#define SHA512_DIGEST_LEN 64

void sha512(const void *data, size_t len, uint8_t out[SHA512_DIGEST_LEN]);

/*
 * prefix followed by the lowercase hex digest of data, cut to len bytes
 * (< 128 + strlen(prefix)) and NUL-terminated in out (len + 1 bytes): the
 * reference's utils.MustFormatHashWithPrefix.
 */
void sha512_name(const char *prefix, const void *data, size_t n, size_t len, char *out);

#endif
