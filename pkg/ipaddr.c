/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPv4/IPv6 and CIDR math.  Text forms follow Go's net package, which the
 * reference plugins use, so that addresses we print (results, host-local
 * file names) are byte-identical to theirs.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ipaddr.h"

unsigned int ipaddr_family_bits(sa_family_t family)
{
	switch (family) {
	case AF_INET:
		return 32;
	case AF_INET6:
		return 128;
	default:
		return 0;
	}
}

unsigned int ipaddr_len(const struct ipaddr *a)
{
	return ipaddr_family_bits(a->family) / 8;
}

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool is_v4_mapped(const uint8_t b[16])
{
	return memcmp(b, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0;
}

/*
 * Go's parseIPv4: exactly four decimal parts, each 0-255, no sign, and no
 * leading zero (Go rejects "01.2.3.4" since 1.17: it reads as octal to some
 * libc parsers, so accepting it would be ambiguous).
 */
static int parse_v4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned int v = 0;
		size_t digits = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (digits > 0 && v == 0)
				return -1; /* leading zero */
			v = v * 10 + (unsigned int)(s[i] - '0');
			if (v > 255)
				return -1;
			digits++;
			i++;
		}
		if (digits == 0)
			return -1;
		out[part] = (uint8_t)v;
	}
	return i == n ? 0 : -1;
}

/*
 * Parse the n bytes at s as an address in its raw family: an IPv4-mapped
 * IPv6 address stays AF_INET6 here (the prefix bound of a CIDR depends on
 * the written form, as in Go).
 */
static int parse_raw(const char *s, size_t n, sa_family_t *ret_family, uint8_t b[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	memset(b, 0, 16);
	/* As Go: the first '.' or ':' decides the family. */
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (parse_v4(s, n, b) < 0)
				return -1;
			*ret_family = AF_INET;
			return 0;
		}
		if (s[i] == ':') {
			if (n >= sizeof(buf) || memchr(s, '\0', n))
				return -1;
			memcpy(buf, s, n);
			buf[n] = '\0';
			/* glibc's parser is strict: no zone, no spaces, <= 4 hex digits a group. */
			if (inet_pton(AF_INET6, buf, b) != 1)
				return -1;
			*ret_family = AF_INET6;
			return 0;
		}
	}
	return -1;
}

static void set_addr(struct ipaddr *ret, sa_family_t family, const uint8_t b[16])
{
	memset(ret, 0, sizeof(*ret));
	if (family == AF_INET6 && is_v4_mapped(b)) {
		ret->family = AF_INET;
		memcpy(ret->b, b + 12, 4);
		return;
	}
	ret->family = family;
	memcpy(ret->b, b, family == AF_INET ? 4 : 16);
}

int ipaddr_parse(const char *s, struct ipaddr *ret)
{
	sa_family_t family;
	uint8_t b[16];

	if (!s || parse_raw(s, strlen(s), &family, b) < 0)
		return -1;
	set_addr(ret, family, b);
	return 0;
}

int ipnet_parse(const char *s, struct ipnet *ret)
{
	const char *slash;
	sa_family_t family;
	unsigned int prefix = 0, bits;
	uint8_t b[16];
	size_t ndigits = 0;

	if (!s)
		return -1;
	slash = strchr(s, '/');
	if (!slash || parse_raw(s, (size_t)(slash - s), &family, b) < 0)
		return -1;
	bits = family == AF_INET ? 32 : 128;
	/* Decimal only, as Go's dtoi (which tolerates leading zeros: "/024"). */
	for (const char *p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		prefix = prefix * 10 + (unsigned int)(*p - '0');
		if (prefix > bits || ++ndigits > 8)
			return -1;
	}
	if (ndigits == 0)
		return -1;

	memset(ret, 0, sizeof(*ret));
	set_addr(&ret->addr, family, b);
	if (family == AF_INET6 && ret->addr.family == AF_INET)
		/* Go prints an IPv4-mapped network with the mask's last 32 bits. */
		prefix = prefix > 96 ? prefix - 96 : 0;
	ret->prefix = (uint8_t)prefix;
	return 0;
}

int ipnet_parse_maybe_prefix(const char *s, struct ipnet *ret, bool *ret_had_prefix)
{
	struct ipnet n;
	bool had = s && strchr(s, '/');

	if (had) {
		if (ipnet_parse(s, &n) < 0)
			return -1;
	} else {
		memset(&n, 0, sizeof(n));
		if (ipaddr_parse(s, &n.addr) < 0)
			return -1;
		n.prefix = (uint8_t)ipaddr_family_bits(n.addr.family);
	}
	*ret = n;
	if (ret_had_prefix)
		*ret_had_prefix = had;
	return 0;
}

/* Go's IP.String for 16-byte addresses: RFC 5952, or dotted quad when IPv4-mapped. */
static void fmt_v6(const uint8_t *b, char *buf)
{
	int best = -1, best_len = 0;
	char *p = buf;

	if (is_v4_mapped(b)) {
		sprintf(buf, "%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
		return;
	}
	/* Longest run of zero groups (the first on a tie); a single group is not compressed. */
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && b[2 * j] == 0 && b[2 * j + 1] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	if (best_len < 2)
		best = -1;

	for (int i = 0; i < 8; i++) {
		if (i == best) {
			*p++ = ':';
			*p++ = ':';
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			*p++ = ':';
		p += sprintf(p, "%x", (unsigned int)(b[2 * i] << 8 | b[2 * i + 1]));
	}
	*p = '\0';
}

const char *ipaddr_fmt(const struct ipaddr *a, char buf[IPADDR_STRLEN])
{
	switch (a->family) {
	case AF_INET:
		snprintf(buf, IPADDR_STRLEN, "%u.%u.%u.%u", a->b[0], a->b[1], a->b[2], a->b[3]);
		break;
	case AF_INET6:
		fmt_v6(a->b, buf);
		break;
	default:
		buf[0] = '\0';
		break;
	}
	return buf;
}

const char *ipnet_fmt(const struct ipnet *n, char buf[IPNET_STRLEN])
{
	char a[IPADDR_STRLEN];

	if (!ipaddr_is_set(&n->addr)) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, IPNET_STRLEN, "%s/%u", ipaddr_fmt(&n->addr, a), n->prefix);
	return buf;
}

void ipaddr_from_in(struct ipaddr *ret, const struct in_addr *a)
{
	memset(ret, 0, sizeof(*ret));
	ret->family = AF_INET;
	memcpy(ret->b, &a->s_addr, 4);
}

/* Keeps AF_INET6 even for a mapped address: the family came from the kernel, not from text. */
void ipaddr_from_in6(struct ipaddr *ret, const struct in6_addr *a)
{
	memset(ret, 0, sizeof(*ret));
	ret->family = AF_INET6;
	memcpy(ret->b, a->s6_addr, 16);
}

int ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b)
{
	int r;

	if (a->family != b->family) {
		/* unset < IPv4 < IPv6 */
		unsigned int ka = ipaddr_family_bits(a->family), kb = ipaddr_family_bits(b->family);
		return ka < kb ? -1 : 1;
	}
	r = memcmp(a->b, b->b, ipaddr_len(a));
	return r < 0 ? -1 : r > 0;
}

bool ipaddr_eq(const struct ipaddr *a, const struct ipaddr *b)
{
	return ipaddr_cmp(a, b) == 0;
}

bool ipaddr_next(struct ipaddr *a)
{
	unsigned int len = ipaddr_len(a);
	unsigned int i;

	if (len == 0)
		return false;
	for (i = 0; i < len && a->b[i] == 0xff; i++)
		;
	if (i == len)
		return false; /* all ones: would wrap */
	for (i = len; i-- > 0;) {
		if (++a->b[i] != 0)
			break;
	}
	return true;
}

bool ipaddr_prev(struct ipaddr *a)
{
	unsigned int len = ipaddr_len(a);
	unsigned int i;

	if (len == 0)
		return false;
	for (i = 0; i < len && a->b[i] == 0; i++)
		;
	if (i == len)
		return false; /* all zeros: would wrap */
	for (i = len; i-- > 0;) {
		if (a->b[i]-- != 0)
			break;
	}
	return true;
}

/* Byte i of the netmask for a prefix. */
static uint8_t mask_byte(unsigned int prefix, unsigned int i)
{
	if (prefix >= (i + 1) * 8)
		return 0xff;
	if (prefix <= i * 8)
		return 0;
	return (uint8_t)(0xff00u >> (prefix - i * 8));
}

void ipnet_network(const struct ipnet *n, struct ipaddr *ret)
{
	unsigned int len = ipaddr_len(&n->addr);

	*ret = n->addr;
	for (unsigned int i = 0; i < len; i++)
		ret->b[i] &= mask_byte(n->prefix, i);
}

void ipnet_last(const struct ipnet *n, struct ipaddr *ret)
{
	unsigned int len = ipaddr_len(&n->addr);

	*ret = n->addr;
	for (unsigned int i = 0; i < len; i++)
		ret->b[i] |= (uint8_t)~mask_byte(n->prefix, i);
}

void ipnet_canonical(const struct ipnet *n, struct ipnet *ret)
{
	struct ipaddr a;

	ipnet_network(n, &a);
	ret->addr = a;
	ret->prefix = n->prefix;
}

bool ipnet_has_host_bits(const struct ipnet *n)
{
	struct ipaddr a;

	ipnet_network(n, &a);
	return !ipaddr_eq(&a, &n->addr);
}

bool ipnet_contains(const struct ipnet *n, const struct ipaddr *a)
{
	unsigned int len = ipaddr_len(&n->addr);

	if (len == 0 || a->family != n->addr.family)
		return false;
	for (unsigned int i = 0; i < len; i++) {
		if ((a->b[i] ^ n->addr.b[i]) & mask_byte(n->prefix, i))
			return false;
	}
	return true;
}

bool ipnet_overlaps(const struct ipnet *a, const struct ipnet *b)
{
	struct ipaddr na, nb;

	ipnet_network(a, &na);
	ipnet_network(b, &nb);
	return ipnet_contains(a, &nb) || ipnet_contains(b, &na);
}

int ipaddr_mask_prefix(const struct ipaddr *mask)
{
	unsigned int len = ipaddr_len(mask), ones = 0, i;

	if (len == 0)
		return -1;
	for (i = 0; i < len && mask->b[i] == 0xff; i++)
		ones += 8;
	if (i < len) {
		uint8_t m = mask->b[i];

		while (m & 0x80) {
			ones++;
			m = (uint8_t)(m << 1);
		}
		if (m)
			return -1;
		for (i++; i < len; i++) {
			if (mask->b[i])
				return -1;
		}
	}
	return (int)ones;
}

bool ipaddr_is_loopback(const struct ipaddr *a)
{
	static const uint8_t lo6[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->b[0] == 127;
	return a->family == AF_INET6 && memcmp(a->b, lo6, 16) == 0;
}

bool ipaddr_is_link_local_unicast(const struct ipaddr *a)
{
	if (a->family == AF_INET)
		return a->b[0] == 169 && a->b[1] == 254;
	return a->family == AF_INET6 && a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

static bool is_multicast(const struct ipaddr *a)
{
	if (a->family == AF_INET)
		return (a->b[0] & 0xf0) == 0xe0;
	return a->family == AF_INET6 && a->b[0] == 0xff;
}

static bool is_unspecified(const struct ipaddr *a)
{
	unsigned int len = ipaddr_len(a);

	for (unsigned int i = 0; i < len; i++) {
		if (a->b[i])
			return false;
	}
	return true;
}

/* Go's IsGlobalUnicast: not broadcast, unspecified, loopback, multicast or link-local. */
bool ipaddr_is_global_unicast(const struct ipaddr *a)
{
	static const uint8_t bcast[4] = { 0xff, 0xff, 0xff, 0xff };

	if (!ipaddr_is_set(a))
		return false;
	if (a->family == AF_INET && memcmp(a->b, bcast, 4) == 0)
		return false;
	return !is_unspecified(a) && !ipaddr_is_loopback(a) && !is_multicast(a) &&
	       !ipaddr_is_link_local_unicast(a);
}
