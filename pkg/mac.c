/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mac.h"
#include "types.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Two hex digits at s. */
static bool hexbyte(const char *s, uint8_t *ret)
{
	int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

	if (hi < 0 || lo < 0)
		return false;
	*ret = (uint8_t)(hi << 4 | lo);
	return true;
}

int cnl_mac_parse(const char *s, uint8_t ret[6])
{
	uint8_t b[6];
	size_t len;

	if (!s)
		return -1;
	len = strlen(s);
	if (len == 17 && (s[2] == ':' || s[2] == '-')) {
		/* As Go: one separator throughout. */
		for (int i = 0; i < 6; i++)
			if (!hexbyte(s + 3 * i, &b[i]) || (i < 5 && s[3 * i + 2] != s[2]))
				return -1;
	} else if (len == 14 && s[4] == '.' && s[9] == '.') {
		for (int i = 0; i < 6; i++)
			if (!hexbyte(s + (i / 2) * 5 + (i % 2) * 2, &b[i]))
				return -1;
	} else {
		return -1;
	}
	memcpy(ret, b, sizeof(b));
	return 0;
}

void cnl_mac_format(const uint8_t m[6], char ret[CNL_MAC_STRLEN])
{
	snprintf(ret, CNL_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		 m[5]);
}

int cni_mac_parse(const char *s, char ret[CNI_MAC_STRLEN])
{
	uint8_t b[6];

	if (cnl_mac_parse(s, b) < 0)
		return -1;
	cnl_mac_format(b, ret);
	return 0;
}

void cnl_mac_random(char ret[CNL_MAC_STRLEN])
{
	uint8_t m[6];

	cnic_random(m, sizeof(m));
	m[0] = (uint8_t)((m[0] & 0xfe) | 0x02); /* unicast, locally administered */
	cnl_mac_format(m, ret);
}

/* splitmix64: spreads a weak seed over every output bit. */
static uint64_t mix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void cnic_random(void *buf, size_t n)
{
	uint8_t *p = buf;
	size_t got = 0;
	int tries = 0;

	while (got < n && tries++ < 8) {
		ssize_t r = getrandom(p + got, n - got, GRND_NONBLOCK);

		if (r > 0)
			got += (size_t)r;
		else if (r < 0 && errno != EINTR)
			break;
	}
	if (got < n) {
		struct timespec ts;
		uint64_t state;

		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		state = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		state ^= (uint64_t)getpid() << 40;
		while (got < n) {
			uint64_t v = mix(&state);

			for (size_t i = 0; i < sizeof(v) && got < n; i++, v >>= 8)
				p[got++] = (uint8_t)v;
		}
	}
}
