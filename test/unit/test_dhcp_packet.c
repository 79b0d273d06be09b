/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dhcp packets: what the client sends (headers, checksums, options) and
 * what it accepts from the network (bounds, option overloads, results).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* packet.c has no library of its own: it is part of the dhcp binary */
#include "../../ipam/dhcp/packet.c"

static const uint8_t MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

static uint16_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	return csum(p, n, s);
}

static void option_names(void **state)
{
	assert_int_equal(dhcp_option_code("routers"), 3);
	assert_int_equal(dhcp_option_code("subnet-mask"), 1);
	assert_int_equal(dhcp_option_code("dhcp-client-identifier"), 61);
	assert_int_equal(dhcp_option_code("42"), 42);
	assert_int_equal(dhcp_option_code("254"), 254);
	assert_int_equal(dhcp_option_code("0"), -1);
	assert_int_equal(dhcp_option_code("255"), -1);
	assert_int_equal(dhcp_option_code("256"), -1);
	assert_int_equal(dhcp_option_code("0042"), -1);
	assert_int_equal(dhcp_option_code("-1"), -1);
	assert_int_equal(dhcp_option_code(""), -1);
	assert_int_equal(dhcp_option_code("Routers"), -1);
}

static const uint8_t *find_opt(const uint8_t *b, size_t len, uint8_t code)
{
	for (size_t i = 240; i < len && b[i] != 255;) {
		if (b[i] == 0) {
			i++;
			continue;
		}
		if (b[i] == code)
			return b + i;
		i += 2u + b[i + 1];
	}
	return NULL;
}

static int count_opt(const uint8_t *b, size_t len, uint8_t code)
{
	int c = 0;

	for (size_t i = 240; i < len && b[i] != 255;) {
		if (b[i] == 0) {
			i++;
			continue;
		}
		c += b[i] == code;
		i += 2u + b[i + 1];
	}
	return c;
}

static void build_discover(void **state)
{
	struct dhcp_client_opts o = { .n_request = 2, .request = { 3, 1 }, .n_provide = 1 };
	uint8_t buf[2048];
	struct dhcp_out out = { .type = DHCPDISCOVER,
				.xid = 0x01020304,
				.chaddr = MAC,
				.client_id = "c1/net/eth0",
				.opts = &o,
				.ip_dst = 0xffffffff };
	const uint8_t *b = buf + 28, *p;
	size_t n;

	o.provide[0] = (struct dhcp_opt){ .code = 12, .len = 3, .val = "box" };
	n = dhcp_build(buf, sizeof(buf), &out);
	assert_true(n >= 28 + 300);
	assert_int_equal(buf[0], 0x45);
	assert_int_equal(buf[2] << 8 | buf[3], n);
	assert_int_equal(sum16(buf, 20, 0), 0); /* IP header checksum verifies */
	assert_int_equal(buf[20] << 8 | buf[21], 68);
	assert_int_equal(buf[22] << 8 | buf[23], 67);
	assert_int_equal(b[0], 1);
	assert_memory_equal(b + 28, MAC, 6);
	assert_int_equal(get32(b + 4), 0x01020304);
	p = find_opt(b, n - 28, OPT_MSG_TYPE);
	assert_non_null(p);
	assert_int_equal(p[2], DHCPDISCOVER);
	p = find_opt(b, n - 28, OPT_CLIENT_ID);
	assert_non_null(p);
	assert_int_equal(p[1], 12);
	assert_int_equal(p[2], 0);
	assert_memory_equal(p + 3, "c1/net/eth0", 11);
	p = find_opt(b, n - 28, OPT_PARAM_LIST);
	assert_non_null(p);
	assert_int_equal(p[1], 2);
	p = find_opt(b, n - 28, OPT_HOST_NAME);
	assert_non_null(p);
	assert_memory_equal(p + 2, "box", 3);
	assert_null(find_opt(b, n - 28, OPT_SERVER_ID));
	assert_int_equal(dhcp_build(buf, 100, &out), 0);
}

static void provided_client_id_wins(void **state)
{
	struct dhcp_client_opts o = { .n_provide = 1 };
	uint8_t buf[2048];
	struct dhcp_out out = { .type = DHCPREQUEST, .chaddr = MAC, .client_id = "ours", .opts = &o };
	const uint8_t *p;
	size_t n;

	o.provide[0] = (struct dhcp_opt){ .code = OPT_CLIENT_ID, .len = 5, .val = "given" };
	n = dhcp_build(buf, sizeof(buf), &out);
	p = find_opt(buf + 28, n - 28, OPT_CLIENT_ID);
	assert_non_null(p);
	assert_memory_equal(p + 2, "given", 5);
	assert_int_equal(count_opt(buf + 28, n - 28, OPT_CLIENT_ID), 1);
}

/* A server reply: IP + UDP + BOOTP, yiaddr 198.18.50.7, the given options. */
static size_t reply(uint8_t *buf, const uint8_t *opts, size_t olen)
{
	uint8_t *b = buf + 28;
	size_t blen = 240 + olen, n = 28 + blen;

	memset(buf, 0, n);
	buf[0] = 0x45;
	put16(buf + 2, (uint16_t)n);
	buf[9] = 17;
	put16(buf + 20, 67);
	put16(buf + 22, 68);
	put16(buf + 24, (uint16_t)(8 + blen));
	b[0] = 2;
	b[1] = 1;
	b[2] = 6;
	put32(b + 4, 0xabcdef01);
	b[16] = 198, b[17] = 18, b[18] = 50, b[19] = 7;
	memcpy(b + 28, MAC, 6);
	put32(b + 236, MAGIC);
	memcpy(b + 240, opts, olen);
	return n;
}

static struct dhcp_msg m;

static void parse_ack(void **state)
{
	static const uint8_t opts[] = { 53,  1,	 5,  1, 4,  255, 255, 255, 0, 3,   4,
					198, 18, 50, 1, 51, 4,	 0,   0,   0, 120, 255 };
	uint8_t buf[1600];
	size_t n = reply(buf, opts, sizeof(opts));
	const char *why = NULL;
	char *j;

	assert_int_equal(dhcp_parse_ip(buf, n, &m), 0);
	assert_int_equal(m.type, DHCPACK);
	assert_int_equal(m.xid, 0xabcdef01);
	j = dhcp_result_json(&m, &why);
	assert_non_null(j);
	assert_string_equal(j, "{\"cniVersion\":\"1.1.0\",\"ips\":[{\"address\":\"198.18.50.7/24\","
			       "\"gateway\":\"198.18.50.1\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\","
			       "\"gw\":\"198.18.50.1\"}]}");
	free(j);
	/* truncated by one byte: the last option overruns */
	assert_int_equal(dhcp_parse_bootp(buf + 28, n - 28 - 2, &m), -1);
}

static void classless_routes(void **state)
{
	/* 121: 198.18.60.0/24 via .1, 198.18.0.0/15 on-link; 121 wins over router (RFC 3442) */
	static const uint8_t opts[] = { 53,  1,	 5,  1,	 4,   255, 255, 255, 0,	 3,  4,
					198, 18, 50, 1,	 121, 15,  24,	198, 18, 60, 198,
					18,  50, 1,  15, 198, 18,  0,	0,   0,	 0,  255 };
	uint8_t buf[1600];
	size_t n = reply(buf, opts, sizeof(opts));
	const char *why = NULL;
	char *j;

	assert_int_equal(dhcp_parse_ip(buf, n, &m), 0);
	j = dhcp_result_json(&m, &why);
	assert_non_null(j);
	assert_non_null(strstr(j, "{\"dst\":\"198.18.60.0/24\",\"gw\":\"198.18.50.1\"}"));
	assert_non_null(strstr(j, "{\"dst\":\"198.18.0.0/15\",\"scope\":253}"));
	assert_null(strstr(j, "0.0.0.0/0"));
	free(j);
}

static void bad_masks(void **state)
{
	static const uint8_t nomask[] = { 53, 1, 5, 255 };
	static const uint8_t holey[] = { 53, 1, 5, 1, 4, 255, 0, 255, 0, 255 };
	uint8_t buf[1600];
	const char *why = NULL;

	assert_int_equal(dhcp_parse_ip(buf, reply(buf, nomask, sizeof(nomask)), &m), 0);
	assert_null(dhcp_result_json(&m, &why));
	assert_string_equal(why, "DHCP option Subnet Mask not found in DHCPACK");
	assert_int_equal(dhcp_parse_ip(buf, reply(buf, holey, sizeof(holey)), &m), 0);
	assert_null(dhcp_result_json(&m, &why));
}

static void rejects(void **state)
{
	static const uint8_t opts[] = { 53, 1, 2, 255 };
	uint8_t buf[1600];
	size_t n = reply(buf, opts, sizeof(opts));

	buf[28] = 1; /* a request, not a reply */
	assert_int_equal(dhcp_parse_ip(buf, n, &m), -1);
	n = reply(buf, opts, sizeof(opts));
	put16(buf + 22, 67); /* not to the client port */
	assert_int_equal(dhcp_parse_ip(buf, n, &m), -1);
	n = reply(buf, opts, sizeof(opts));
	put32(buf + 28 + 236, 0); /* no magic cookie */
	assert_int_equal(dhcp_parse_ip(buf, n, &m), -1);
	n = reply(buf, opts, sizeof(opts));
	put16(buf + 24, 4000); /* UDP length beyond the packet */
	assert_int_equal(dhcp_parse_ip(buf, n, &m), -1);
	n = reply(buf, opts, sizeof(opts));
	buf[6] = 0x20; /* a fragment */
	assert_int_equal(dhcp_parse_ip(buf, n, &m), -1);
	assert_int_equal(dhcp_parse_ip(buf, 10, &m), -1);
}

/* Random bytes after a valid header: never read out of bounds (ASan), result JSON bounded. */
static void random_options(void **state)
{
	uint8_t buf[1600], opts[1200];
	unsigned int seed = 1;

	for (int round = 0; round < 5000; round++) {
		size_t olen = (size_t)rand_r(&seed) % sizeof(opts);
		const char *why;
		char *j;

		for (size_t i = 0; i < olen; i++)
			opts[i] = (uint8_t)rand_r(&seed);
		if (olen > 3 && round % 2) {
			opts[0] = 1, opts[1] = 4, opts[2] = 255,
			opts[3] = 255; /* a mask, to reach routes */
			if (olen > 5)
				opts[4] = 255, opts[5] = 0;
		}
		if (dhcp_parse_ip(buf, reply(buf, opts, olen), &m) == 0) {
			j = dhcp_result_json(&m, &why);
			free(j);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(option_names),
		cmocka_unit_test(build_discover),
		cmocka_unit_test(provided_client_id_wins),
		cmocka_unit_test(parse_ack),
		cmocka_unit_test(classless_routes),
		cmocka_unit_test(bad_masks),
		cmocka_unit_test(rejects),
		cmocka_unit_test(random_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
