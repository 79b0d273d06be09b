/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure IPv4/IPv6 and CIDR math: no syscalls, no allocation.
 *
 * An address is stored in network byte order in b[0..3] (IPv4) or
 * b[0..15] (IPv6); family is AF_INET, AF_INET6, or 0 for "no address".
 * Parsing follows Go's net.ParseIP, which the reference uses: an
 * IPv4-mapped IPv6 address ("::ffff:198.18.0.1") is IPv4.  Formatting
 * follows Go's String(): dotted quad, or RFC 5952 compressed lowercase
 * IPv6 (the same text the reference writes as host-local file names).
 */
#ifndef CNIC_IPADDR_H
#define CNIC_IPADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct ipaddr {
	sa_family_t family;
	uint8_t b[16];
};

struct ipnet {
	struct ipaddr addr; /* may have host bits set (an interface address) */
	uint8_t prefix;
};

/* Longest text of an ipaddr / ipnet including the NUL. */
#define IPADDR_STRLEN 46
#define IPNET_STRLEN 50

static inline bool ipaddr_is_set(const struct ipaddr *a)
{
	return a->family != 0;
}

/* 4, 16, or 0 for an unset address. */
unsigned int ipaddr_len(const struct ipaddr *a);
unsigned int ipaddr_family_bits(sa_family_t family);

/* Strict: no surrounding whitespace, no prefix.  0 on success, -1 on bad text. */
int ipaddr_parse(const char *s, struct ipaddr *ret);
/* "addr/prefix"; the address keeps its host bits.  0 / -1. */
int ipnet_parse(const char *s, struct ipnet *ret);
/* Either form; a bare address gets the full-length prefix. 0 / -1. */
int ipnet_parse_maybe_prefix(const char *s, struct ipnet *ret, bool *ret_had_prefix);

const char *ipaddr_fmt(const struct ipaddr *a, char buf[IPADDR_STRLEN]);
const char *ipnet_fmt(const struct ipnet *n, char buf[IPNET_STRLEN]);

void ipaddr_from_in(struct ipaddr *ret, const struct in_addr *a);
void ipaddr_from_in6(struct ipaddr *ret, const struct in6_addr *a);

/* Orders by family (v4 first), then numerically. */
int ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b);
bool ipaddr_eq(const struct ipaddr *a, const struct ipaddr *b);

/* a + 1 / a - 1.  Return false (and leave *a alone) on wrap-around. */
bool ipaddr_next(struct ipaddr *a);
bool ipaddr_prev(struct ipaddr *a);

/* The network address (host bits cleared) and the last address of n. */
void ipnet_network(const struct ipnet *n, struct ipaddr *ret);
void ipnet_last(const struct ipnet *n, struct ipaddr *ret);
/* n with host bits cleared. */
void ipnet_canonical(const struct ipnet *n, struct ipnet *ret);
bool ipnet_has_host_bits(const struct ipnet *n);
/* Same family and inside the prefix. */
bool ipnet_contains(const struct ipnet *n, const struct ipaddr *a);
/* Either contains the other's network address. */
bool ipnet_overlaps(const struct ipnet *a, const struct ipnet *b);
/* Prefix of a netmask in the same family, or -1 if not contiguous. */
int ipaddr_mask_prefix(const struct ipaddr *mask);

bool ipaddr_is_loopback(const struct ipaddr *a);
bool ipaddr_is_link_local_unicast(const struct ipaddr *a);
bool ipaddr_is_global_unicast(const struct ipaddr *a);

#endif
