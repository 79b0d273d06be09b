/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkg/ipaddr: parsing and printing must agree with Go's net package (the
 * expected strings below were checked against Go's ParseIP / ParseCIDR /
 * String), and the math must not wrap or spill at the edges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../pkg/ipaddr.h"

/* input, expected text (NULL: must be rejected), expected family */
static const struct addr_case {
	const char *in;
	const char *out;
	sa_family_t family;
} addr_cases[] = {
	{ "0.0.0.0", "0.0.0.0", AF_INET },
	{ "255.255.255.255", "255.255.255.255", AF_INET },
	{ "198.18.0.1", "198.18.0.1", AF_INET },
	{ "1.2.3.0", "1.2.3.0", AF_INET },
	{ "01.2.3.4", NULL, 0 },
	{ "1.2.3.04", NULL, 0 },
	{ "0.0.0.00", NULL, 0 },
	{ "1.2.3", NULL, 0 },
	{ "1.2.3.4.5", NULL, 0 },
	{ "256.0.0.1", NULL, 0 },
	{ "1.2.3.256", NULL, 0 },
	{ "1.2.3.-4", NULL, 0 },
	{ "+1.2.3.4", NULL, 0 },
	{ "0x1.2.3.4", NULL, 0 },
	{ "1..2.3", NULL, 0 },
	{ "1.2.3.4.", NULL, 0 },
	{ " 1.2.3.4", NULL, 0 },
	{ "1.2.3.4 ", NULL, 0 },
	{ "1.2.3.4\n", NULL, 0 },
	{ "1.2.3.4/24", NULL, 0 },
	{ "", NULL, 0 },
	{ "localhost", NULL, 0 },
	{ "::", "::", AF_INET6 },
	{ "::1", "::1", AF_INET6 },
	{ "2001:db8::1", "2001:db8::1", AF_INET6 },
	{ "2001:DB8::1", "2001:db8::1", AF_INET6 },
	{ "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", AF_INET6 },
	{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", AF_INET6 },
	{ "2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1", AF_INET6 },
	{ "2001:db8:1:2:3:4:0:5", "2001:db8:1:2:3:4:0:5", AF_INET6 },
	{ "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", AF_INET6 },
	{ "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0", AF_INET6 },
	{ "::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8", AF_INET6 },
	{ "1::", "1::", AF_INET6 },
	{ "fe80::1", "fe80::1", AF_INET6 },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	  AF_INET6 },
	{ "::ffff:198.18.0.1", "198.18.0.1", AF_INET },
	{ "::ffff:c612:1", "198.18.0.1", AF_INET },
	{ "::198.18.0.1", "::c612:1", AF_INET6 },
	{ "64:ff9b::198.18.0.1", "64:ff9b::c612:1", AF_INET6 },
	{ "fe80::1%eth0", NULL, 0 },
	{ "1:2:3:4:5:6:7:8:9", NULL, 0 },
	{ "1::2::3", NULL, 0 },
	{ ":1::", NULL, 0 },
	{ "1:::2", NULL, 0 },
	{ "12345::", NULL, 0 },
	{ "g::1", NULL, 0 },
	{ "::ffff:1.2.3.04", NULL, 0 },
	{ "2001:db8::1 ", NULL, 0 },
	{ "[::1]", NULL, 0 },
};

/* Fails unless r (a parser's 0 or -1) is what the case wants; true: check the value. */
static bool parsed_as_expected(int r, const char *in, bool accept)
{
	if (!accept) {
		if (r != -1)
			fail_msg("\"%s\" should be rejected", in);
		return false;
	}
	if (r != 0)
		fail_msg("\"%s\" should parse", in);
	return true;
}

static void test_addr_parse_fmt(void **state)
{
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *c = &addr_cases[i];
		struct ipaddr a;
		char buf[IPADDR_STRLEN];
		int r = ipaddr_parse(c->in, &a);

		if (!parsed_as_expected(r, c->in, c->out != NULL))
			continue;
		assert_int_equal(a.family, c->family);
		assert_string_equal(ipaddr_fmt(&a, buf), c->out);
		assert_int_equal(ipaddr_len(&a), c->family == AF_INET ? 4 : 16);
	}
}

/* input, with host bits, canonical (NULL: rejected) */
static const struct net_case {
	const char *in;
	const char *out;
	const char *canonical;
} net_cases[] = {
	{ "198.18.0.5/24", "198.18.0.5/24", "198.18.0.0/24" },
	{ "198.18.0.0/15", "198.18.0.0/15", "198.18.0.0/15" },
	{ "198.19.255.255/15", "198.19.255.255/15", "198.18.0.0/15" },
	{ "0.0.0.0/0", "0.0.0.0/0", "0.0.0.0/0" },
	{ "10.1.2.3/0", "10.1.2.3/0", "0.0.0.0/0" },
	{ "198.18.0.1/31", "198.18.0.1/31", "198.18.0.0/31" },
	{ "198.18.0.1/32", "198.18.0.1/32", "198.18.0.1/32" },
	{ "198.18.0.1/024", "198.18.0.1/24", "198.18.0.0/24" },
	{ "2001:db8::1/64", "2001:db8::1/64", "2001:db8::/64" },
	{ "2001:db8::1/127", "2001:db8::1/127", "2001:db8::/127" },
	{ "2001:db8::1/128", "2001:db8::1/128", "2001:db8::1/128" },
	{ "::/0", "::/0", "::/0" },
	{ "2001:db8:ffff::1/33", "2001:db8:ffff::1/33", "2001:db8:8000::/33" },
	{ "::ffff:198.18.0.1/120", "198.18.0.1/24", "198.18.0.0/24" },
	{ "198.18.0.1/33", NULL, NULL },
	{ "2001:db8::1/129", NULL, NULL },
	{ "198.18.0.1/", NULL, NULL },
	{ "198.18.0.1", NULL, NULL },
	{ "/24", NULL, NULL },
	{ "198.18.0.1/-1", NULL, NULL },
	{ "198.18.0.1/+8", NULL, NULL },
	{ "198.18.0.1/ 24", NULL, NULL },
	{ "198.18.0.1/24 ", NULL, NULL },
	{ " 198.18.0.1/24", NULL, NULL },
	{ "198.18.0.1/24/1", NULL, NULL },
	{ "198.18.0.1/2x", NULL, NULL },
	{ "01.18.0.1/24", NULL, NULL },
	{ "198.18.0.1/999999999999", NULL, NULL },
};

static void test_net_parse_fmt(void **state)
{
	for (size_t i = 0; i < sizeof(net_cases) / sizeof(net_cases[0]); i++) {
		const struct net_case *c = &net_cases[i];
		struct ipnet n, canon;
		char buf[IPNET_STRLEN];
		int r = ipnet_parse(c->in, &n);

		if (!parsed_as_expected(r, c->in, c->out != NULL))
			continue;
		assert_string_equal(ipnet_fmt(&n, buf), c->out);
		ipnet_canonical(&n, &canon);
		assert_string_equal(ipnet_fmt(&canon, buf), c->canonical);
		assert_int_equal(ipnet_has_host_bits(&n), strcmp(c->out, c->canonical) != 0);
	}
}

static void test_maybe_prefix(void **state)
{
	struct ipnet n;
	bool had = true;
	char buf[IPNET_STRLEN];

	assert_int_equal(ipnet_parse_maybe_prefix("198.18.0.9", &n, &had), 0);
	assert_false(had);
	assert_string_equal(ipnet_fmt(&n, buf), "198.18.0.9/32");
	assert_int_equal(ipnet_parse_maybe_prefix("2001:db8::9", &n, &had), 0);
	assert_false(had);
	assert_string_equal(ipnet_fmt(&n, buf), "2001:db8::9/128");
	assert_int_equal(ipnet_parse_maybe_prefix("198.18.0.9/16", &n, &had), 0);
	assert_true(had);
	assert_string_equal(ipnet_fmt(&n, buf), "198.18.0.9/16");
	assert_int_equal(ipnet_parse_maybe_prefix("198.18.0.9/", &n, NULL), -1);
	assert_int_equal(ipnet_parse_maybe_prefix("nope", &n, NULL), -1);
	assert_int_equal(ipnet_parse_maybe_prefix(NULL, &n, NULL), -1);
}

static void parse_ok(const char *s, struct ipaddr *a)
{
	if (ipaddr_parse(s, a) != 0)
		fail_msg("cannot parse %s", s);
}

/* from, expected after next (NULL: wraps, left unchanged) */
static const struct step_case {
	const char *from;
	const char *next;
} next_cases[] = {
	{ "198.18.0.1", "198.18.0.2" },
	{ "198.18.0.255", "198.18.1.0" },
	{ "198.18.255.255", "198.19.0.0" },
	{ "0.0.0.0", "0.0.0.1" },
	{ "255.255.255.254", "255.255.255.255" },
	{ "255.255.255.255", NULL },
	{ "2001:db8::ffff", "2001:db8::1:0" },
	{ "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::" },
	{ "::", "::1" },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL },
};

static void test_next_prev(void **state)
{
	for (size_t i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
		const struct step_case *c = &next_cases[i];
		struct ipaddr a, orig, b;
		char buf[IPADDR_STRLEN];

		parse_ok(c->from, &a);
		orig = a;
		if (!c->next) {
			assert_false(ipaddr_next(&a));
			assert_true(ipaddr_eq(&a, &orig));
			continue;
		}
		assert_true(ipaddr_next(&a));
		assert_string_equal(ipaddr_fmt(&a, buf), c->next);
		/* and back */
		b = a;
		assert_true(ipaddr_prev(&b));
		assert_true(ipaddr_eq(&b, &orig));
	}

	struct ipaddr z;

	parse_ok("0.0.0.0", &z);
	assert_false(ipaddr_prev(&z));
	parse_ok("::", &z);
	assert_false(ipaddr_prev(&z));
	memset(&z, 0, sizeof(z));
	assert_false(ipaddr_next(&z));
	assert_false(ipaddr_prev(&z));
}

/* net, network, last */
static const struct range_case {
	const char *net;
	const char *network;
	const char *last;
} range_cases[] = {
	{ "198.18.0.77/24", "198.18.0.0", "198.18.0.255" },
	{ "198.18.0.77/0", "0.0.0.0", "255.255.255.255" },
	{ "198.18.0.77/31", "198.18.0.76", "198.18.0.77" },
	{ "198.18.0.77/32", "198.18.0.77", "198.18.0.77" },
	{ "198.18.0.77/15", "198.18.0.0", "198.19.255.255" },
	{ "198.18.0.77/25", "198.18.0.0", "198.18.0.127" },
	{ "2001:db8::77/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff" },
	{ "2001:db8::77/127", "2001:db8::76", "2001:db8::77" },
	{ "2001:db8::77/128", "2001:db8::77", "2001:db8::77" },
	{ "2001:db8::77/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ "2001:db8::77/121", "2001:db8::", "2001:db8::7f" },
};

static void test_network_last_contains(void **state)
{
	for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
		const struct range_case *c = &range_cases[i];
		struct ipnet n;
		struct ipaddr a, outside;
		char buf[IPADDR_STRLEN];

		assert_int_equal(ipnet_parse(c->net, &n), 0);
		ipnet_network(&n, &a);
		assert_string_equal(ipaddr_fmt(&a, buf), c->network);
		assert_true(ipnet_contains(&n, &a));
		outside = a;
		if (ipaddr_prev(&outside))
			assert_false(ipnet_contains(&n, &outside));
		ipnet_last(&n, &a);
		assert_string_equal(ipaddr_fmt(&a, buf), c->last);
		assert_true(ipnet_contains(&n, &a));
		outside = a;
		if (ipaddr_next(&outside))
			assert_false(ipnet_contains(&n, &outside));
	}

	struct ipnet v4, v6;
	struct ipaddr a;

	assert_int_equal(ipnet_parse("0.0.0.0/0", &v4), 0);
	assert_int_equal(ipnet_parse("::/0", &v6), 0);
	parse_ok("2001:db8::1", &a);
	assert_false(ipnet_contains(&v4, &a)); /* families never mix */
	parse_ok("198.18.0.1", &a);
	assert_false(ipnet_contains(&v6, &a));
	memset(&a, 0, sizeof(a));
	assert_false(ipnet_contains(&v4, &a));
}

static void test_overlaps(void **state)
{
	static const struct {
		const char *a, *b;
		bool overlap;
	} cases[] = {
		{ "198.18.0.0/24", "198.18.0.128/25", true },
		{ "198.18.0.0/24", "198.18.1.0/24", false },
		{ "198.18.0.0/15", "198.19.3.0/24", true },
		{ "198.18.0.0/31", "198.18.0.1/32", true },
		{ "0.0.0.0/0", "198.18.0.0/24", true },
		{ "2001:db8::/64", "2001:db8:0:1::/64", false },
		{ "2001:db8::/32", "2001:db8:0:1::/64", true },
		{ "198.18.0.0/24", "::/0", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ipnet a, b;

		assert_int_equal(ipnet_parse(cases[i].a, &a), 0);
		assert_int_equal(ipnet_parse(cases[i].b, &b), 0);
		assert_int_equal(ipnet_overlaps(&a, &b), cases[i].overlap);
		assert_int_equal(ipnet_overlaps(&b, &a), cases[i].overlap);
	}
}

static void test_mask_prefix(void **state)
{
	static const struct {
		const char *mask;
		int prefix;
	} cases[] = {
		{ "255.255.255.0", 24 },
		{ "255.255.255.255", 32 },
		{ "0.0.0.0", 0 },
		{ "255.254.0.0", 15 },
		{ "255.0.255.0", -1 },
		{ "255.255.255.1", -1 },
		{ "128.0.0.0", 1 },
		{ "ffff:ffff:ffff:ffff::", 64 },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 127 },
		{ "ffff::1", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ipaddr m;

		parse_ok(cases[i].mask, &m);
		assert_int_equal(ipaddr_mask_prefix(&m), cases[i].prefix);
	}
	struct ipaddr unset = { 0 };

	assert_int_equal(ipaddr_mask_prefix(&unset), -1);
}

static void test_cmp(void **state)
{
	struct ipaddr a, b, unset = { 0 };

	parse_ok("198.18.0.1", &a);
	parse_ok("198.18.0.2", &b);
	assert_int_equal(ipaddr_cmp(&a, &b), -1);
	assert_int_equal(ipaddr_cmp(&b, &a), 1);
	assert_int_equal(ipaddr_cmp(&a, &a), 0);
	parse_ok("::1", &b);
	assert_int_equal(ipaddr_cmp(&a, &b), -1); /* IPv4 sorts first */
	assert_int_equal(ipaddr_cmp(&b, &a), 1);
	assert_int_equal(ipaddr_cmp(&unset, &a), -1);
	parse_ok("255.0.0.0", &a);
	parse_ok("9.255.255.255", &b);
	assert_int_equal(ipaddr_cmp(&a, &b), 1); /* numeric, not textual */
	parse_ok("::ffff:198.18.0.1", &a);
	parse_ok("198.18.0.1", &b);
	assert_true(ipaddr_eq(&a, &b));
}

static void test_from_in(void **state)
{
	struct in_addr in4 = { .s_addr = htonl(0xc6120001) };
	struct in6_addr in6 = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
	struct ipaddr a;
	char buf[IPADDR_STRLEN];

	ipaddr_from_in(&a, &in4);
	assert_string_equal(ipaddr_fmt(&a, buf), "198.18.0.1");
	ipaddr_from_in6(&a, &in6);
	assert_int_equal(a.family, AF_INET6);
	assert_string_equal(ipaddr_fmt(&a, buf), "2001:db8::1");
	/* An IPv4-mapped address from the kernel keeps its family but prints as Go does. */
	memset(&in6, 0, sizeof(in6));
	in6.s6_addr[10] = in6.s6_addr[11] = 0xff;
	in6.s6_addr[12] = 198;
	in6.s6_addr[13] = 18;
	in6.s6_addr[15] = 1;
	ipaddr_from_in6(&a, &in6);
	assert_int_equal(a.family, AF_INET6);
	assert_string_equal(ipaddr_fmt(&a, buf), "198.18.0.1");
	memset(&a, 0, sizeof(a));
	assert_false(ipaddr_is_set(&a));
	assert_string_equal(ipaddr_fmt(&a, buf), "");
	assert_int_equal(ipaddr_len(&a), 0);
	assert_int_equal(ipaddr_family_bits(AF_INET), 32);
	assert_int_equal(ipaddr_family_bits(AF_INET6), 128);
}

static void test_classes(void **state)
{
	static const struct {
		const char *a;
		bool loopback, link_local, global;
	} cases[] = {
		{ "127.0.0.1", true, false, false },
		{ "127.255.0.9", true, false, false },
		{ "::1", true, false, false },
		{ "169.254.3.4", false, true, false },
		{ "fe80::1", false, true, false },
		{ "febf::1", false, true, false },
		{ "fec0::1", false, false, true },
		{ "198.18.0.1", false, false, true },
		{ "2001:db8::1", false, false, true },
		{ "0.0.0.0", false, false, false },
		{ "::", false, false, false },
		{ "255.255.255.255", false, false, false },
		{ "224.0.0.1", false, false, false },
		{ "ff02::1", false, false, false },
		{ "239.255.255.255", false, false, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ipaddr a;

		parse_ok(cases[i].a, &a);
		if (ipaddr_is_loopback(&a) != cases[i].loopback ||
		    ipaddr_is_link_local_unicast(&a) != cases[i].link_local ||
		    ipaddr_is_global_unicast(&a) != cases[i].global)
			fail_msg("classification of %s", cases[i].a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_fmt),
		cmocka_unit_test(test_net_parse_fmt),
		cmocka_unit_test(test_maybe_prefix),
		cmocka_unit_test(test_next_prev),
		cmocka_unit_test(test_network_last_contains),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_mask_prefix),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_from_in),
		cmocka_unit_test(test_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
