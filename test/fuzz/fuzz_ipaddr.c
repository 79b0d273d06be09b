/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IP, CIDR and MAC text, and the address math behind host-local.
 * Input: the text (cut at a NUL).
 *
 * Invariants: whatever parses formats to a canonical text that parses to
 * the same value and formats identically (parse-print-parse); an IPv6
 * text is accepted exactly when glibc's inet_pton accepts it; a CIDR's
 * prefix fits its family, its network and last address bracket it and
 * are contained, canonicalization clears host bits only; next/prev are
 * inverses and order-preserving; a mask's prefix round-trips; MACs
 * normalize idempotently; a JSON-quoted string parses back as JSON.
 */
#include <arpa/inet.h>

#include "../../pkg/ipaddr.h"
#include "../../pkg/types.h"
#include "fuzz.h"

static void check_addr(const struct ipaddr *a)
{
	char t1[IPADDR_STRLEN], t2[IPADDR_STRLEN];
	struct ipaddr b, n = *a, p = *a;

	FUZZ_CHECK(a->family == AF_INET || a->family == AF_INET6, "family %d", a->family);
	ipaddr_fmt(a, t1);
	FUZZ_CHECK(ipaddr_parse(t1, &b) == 0 && ipaddr_eq(a, &b),
		   "formatted %s does not parse back", t1);
	FUZZ_CHECK(strcmp(ipaddr_fmt(&b, t2), t1) == 0, "format not stable: %s / %s", t1, t2);
	FUZZ_CHECK(ipaddr_cmp(a, &b) == 0, "cmp of equal addresses");
	if (ipaddr_next(&n)) {
		FUZZ_CHECK(ipaddr_cmp(&n, a) > 0, "next not greater");
		FUZZ_CHECK(ipaddr_prev(&n) && ipaddr_eq(&n, a), "prev(next(a)) != a");
	}
	if (ipaddr_prev(&p)) {
		FUZZ_CHECK(ipaddr_cmp(&p, a) < 0, "prev not smaller");
		FUZZ_CHECK(ipaddr_next(&p) && ipaddr_eq(&p, a), "next(prev(a)) != a");
	}
	(void)ipaddr_is_loopback(a);
	(void)ipaddr_is_link_local_unicast(a);
	(void)ipaddr_is_global_unicast(a);
	{
		int pf = ipaddr_mask_prefix(a);

		if (pf >= 0) {
			FUZZ_CHECK((unsigned int)pf <= ipaddr_family_bits(a->family),
				   "mask prefix %d", pf);
			/* A contiguous mask: pf one bits, then zeros. */
			for (unsigned int i = 0; i < ipaddr_len(a); i++) {
				unsigned int bits =
					(unsigned int)pf > i * 8 ? (unsigned int)pf - i * 8 : 0;
				uint8_t want = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);

				FUZZ_CHECK(a->b[i] == want, "mask byte %u for prefix %d", i, pf);
			}
		}
	}
}

static void check_net(const struct ipnet *n, const char *text)
{
	char t1[IPNET_STRLEN], t2[IPNET_STRLEN];
	struct ipnet m, c;
	struct ipaddr net, last;

	FUZZ_CHECK(n->prefix <= ipaddr_family_bits(n->addr.family), "prefix %u too long for %s",
		   n->prefix, text);
	check_addr(&n->addr);
	ipnet_fmt(n, t1);
	FUZZ_CHECK(ipnet_parse(t1, &m) == 0 && ipaddr_eq(&m.addr, &n->addr) && m.prefix == n->prefix,
		   "formatted %s (from %s) does not parse back", t1, text);
	FUZZ_CHECK(strcmp(ipnet_fmt(&m, t2), t1) == 0, "format not stable: %s / %s", t1, t2);

	ipnet_network(n, &net);
	ipnet_last(n, &last);
	ipnet_canonical(n, &c);
	FUZZ_CHECK(ipaddr_eq(&c.addr, &net) && c.prefix == n->prefix, "canonical != network");
	FUZZ_CHECK(!ipnet_has_host_bits(&c), "canonical has host bits");
	FUZZ_CHECK(ipnet_has_host_bits(n) == !ipaddr_eq(&n->addr, &net), "has_host_bits wrong");
	FUZZ_CHECK(ipaddr_cmp(&net, &n->addr) <= 0 && ipaddr_cmp(&n->addr, &last) <= 0,
		   "address outside [network, last] of %s", t1);
	FUZZ_CHECK(ipnet_contains(n, &net) && ipnet_contains(n, &last) && ipnet_contains(n, &n->addr),
		   "network does not contain its own addresses");
	FUZZ_CHECK(ipnet_overlaps(n, &c) && ipnet_overlaps(&c, n),
		   "a network does not overlap itself");
	{
		struct ipaddr after = last, before = net;

		if (ipaddr_next(&after))
			FUZZ_CHECK(!ipnet_contains(n, &after), "contains the address after its last");
		if (ipaddr_prev(&before))
			FUZZ_CHECK(!ipnet_contains(n, &before),
				   "contains the address before its first");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *s = fuzz_cstr(data, size);
	struct ipaddr a;
	struct ipnet n;
	bool had;
	char mac[CNI_MAC_STRLEN];

	if (ipaddr_parse(s, &a) == 0)
		check_addr(&a);
	if (strchr(s, ':') && !strchr(s, '/') &&
	    (!strchr(s, '.') || strchr(s, ':') < strchr(s, '.'))) {
		uint8_t b[16];

		FUZZ_CHECK((ipaddr_parse(s, &a) == 0) == (inet_pton(AF_INET6, s, b) == 1),
			   "disagrees with inet_pton on %s", s);
	}
	if (ipnet_parse(s, &n) == 0)
		check_net(&n, s);
	if (ipnet_parse_maybe_prefix(s, &n, &had) == 0) {
		check_net(&n, s);
		FUZZ_CHECK(had == (strchr(s, '/') != NULL), "had_prefix wrong");
		if (!had)
			FUZZ_CHECK(n.prefix == ipaddr_family_bits(n.addr.family),
				   "bare address prefix");
	}
	if (cni_mac_parse(s, mac) == 0) {
		char again[CNI_MAC_STRLEN];

		FUZZ_CHECK(strlen(mac) == 17 && cni_mac_parse(mac, again) == 0 &&
				   strcmp(mac, again) == 0,
			   "MAC %s not normalized idempotently", mac);
	}
	(void)cni_valid_container_id(s);
	(void)cni_valid_network_name(s);
	(void)cni_valid_plugin_type(s);
	if (cni_valid_ifname(s))
		FUZZ_CHECK(*s && strlen(s) <= 15 && !strchr(s, '/') && !strchr(s, ':') &&
				   strcmp(s, ".") != 0 && strcmp(s, "..") != 0,
			   "invalid ifname accepted");
	if (cni_valid_network_name(s))
		FUZZ_CHECK(!strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0,
			   "path-unsafe network name accepted: %s", s);
	if (cni_valid_container_id(s))
		FUZZ_CHECK(!strchr(s, '/') && s[0] != '.' && s[0] != '-', "unsafe container id");
	{
		cleanup_free char *q = cni_json_quote(s);
		struct cni_json *j = NULL;
		struct cni_error *err = NULL;

		FUZZ_CHECK(cni_json_parse(q, strlen(q), &j, &err) == 0 && cni_json_is_string(j),
			   "quoted text is not a JSON string: %s", q);
		cni_json_free(j);
	}
	return 0;
}
