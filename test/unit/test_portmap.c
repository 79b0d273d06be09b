/* SPDX-License-Identifier: Apache-2.0 */
/*
 * portmap's conditions (both syntaxes, the iptables one translated to the
 * same matches), its configuration checks (backend conflicts) and the
 * owner index codec, linked from the plugin's objects (plugins/portmap/
 * conds.o, conf.o, attachment.o).  Traffic through translated conditions:
 * test/integration/t-portmap-conds.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>

#include "../../pkg/skel.h"
#include "../../plugins/portmap/portmap.h"

/* Parse the words (one string each) for family; NULL-terminated. */
static int parse(int family, struct pm_conds *ret, struct cni_error **err, ...)
{
	struct strv in = { 0 };
	va_list ap;
	int r;

	va_start(ap, err);
	for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
		strv_push(&in, w);
	va_end(ap);
	r = pm_conds_parse(&in, family, family == AF_INET ? "conditionsV4" : "conditionsV6", ret,
			   err);
	strv_free(&in);
	return r;
}

static void expect_error(const char *want, struct cni_error *err)
{
	assert_non_null(err);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	if (strcmp(err->msg, want) != 0)
		fail_msg("message \"%s\", want \"%s\"", err->msg, want);
	cni_error_free(err);
}

static void test_ipt_addresses(void **state)
{
	struct pm_conds c = { 0 };
	struct cni_error *err = NULL;
	char buf[IPNET_STRLEN];

	assert_int_equal(parse(AF_INET, &c, &err, "!", "-s", "198.18.0.5/16", "--dst",
			       "198.19.1.1/255.255.255.0", NULL),
			 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.v[0].kind, PM_COND_SADDR);
	assert_true(c.v[0].neq);
	/* Host bits go, as iptables drops them. */
	assert_string_equal(ipnet_fmt(&c.v[0].net, buf), "198.18.0.0/16");
	assert_int_equal(c.v[1].kind, PM_COND_DADDR);
	assert_false(c.v[1].neq);
	assert_string_equal(ipnet_fmt(&c.v[1].net, buf), "198.19.1.0/24");
	free(c.v);

	/* A bare address is a /32 (/128); one string may hold several words. */
	assert_int_equal(parse(AF_INET6, &c, &err, "! --source 2001:db8::1", NULL), 0);
	assert_int_equal(c.n, 1);
	assert_true(c.v[0].neq);
	assert_string_equal(ipnet_fmt(&c.v[0].net, buf), "2001:db8::1/128");
	free(c.v);

	assert_int_equal(parse(AF_INET, &c, &err, "-s", "198.18.0.0/255.0.255.0", NULL), -1);
	expect_error("conditionsV4: \"-s 198.18.0.0/255.0.255.0\": not an IPv4 address or prefix",
		     err);
	err = NULL;
	assert_int_equal(parse(AF_INET6, &c, &err, "-d", "198.18.0.1", NULL), -1);
	expect_error("conditionsV6: \"-d 198.18.0.1\": not an IPv6 address or prefix", err);
}

static void test_ipt_interfaces(void **state)
{
	struct pm_conds c = { 0 };
	struct cni_error *err = NULL;

	assert_int_equal(parse(AF_INET, &c, &err, "-i", "eth+", "!", "--out-interface", "cni0", NULL),
			 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.v[0].kind, PM_COND_IIFNAME);
	assert_string_equal(c.v[0].ifname, "eth");
	assert_int_equal(c.v[0].ifname_len, 3); /* a prefix: its bytes only */
	assert_int_equal(c.v[1].kind, PM_COND_OIFNAME);
	assert_true(c.v[1].neq);
	assert_string_equal(c.v[1].ifname, "cni0");
	assert_int_equal(c.v[1].ifname_len, 16); /* the whole padded name */
	free(c.v);

	assert_int_equal(parse(AF_INET, &c, &err, "-o", "+", NULL), -1);
	expect_error("conditionsV4: \"-o +\": invalid interface name", err);
	err = NULL;
	assert_int_equal(parse(AF_INET, &c, &err, "-i", "0123456789abcdef", NULL), -1);
	expect_error("conditionsV4: \"-i 0123456789abcdef\": invalid interface name", err);
}

static void test_ipt_proto_ports(void **state)
{
	struct pm_conds c = { 0 };
	struct cni_error *err = NULL;

	assert_int_equal(parse(AF_INET, &c, &err, "-p", "udp", "--dport", "53", "!", "--sport",
			       "1024", NULL),
			 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.v[0].kind, PM_COND_L4PROTO);
	assert_int_equal(c.v[0].proto, IPPROTO_UDP);
	assert_int_equal(c.v[1].kind, PM_COND_DPORT);
	assert_int_equal(c.v[1].port_lo, 53);
	assert_int_equal(c.v[1].port_hi, 53);
	assert_int_equal(c.v[2].kind, PM_COND_SPORT);
	assert_true(c.v[2].neq);
	free(c.v);

	/* Ranges as iptables writes them; --dport alone (the reference's rule has -p). */
	assert_int_equal(parse(AF_INET, &c, &err, "--destination-port", "8000:", NULL), 0);
	assert_int_equal(c.v[0].port_lo, 8000);
	assert_int_equal(c.v[0].port_hi, 65535);
	free(c.v);
	assert_int_equal(parse(AF_INET, &c, &err, "--dport", ":80", NULL), 0);
	assert_int_equal(c.v[0].port_lo, 0);
	assert_int_equal(c.v[0].port_hi, 80);
	free(c.v);

	/* -p all matches everything: no match at all; by number too. */
	assert_int_equal(parse(AF_INET, &c, &err, "-p", "all", NULL), 0);
	assert_int_equal(c.n, 0);
	free(c.v);
	assert_int_equal(parse(AF_INET6, &c, &err, "!", "-p", "132", NULL), 0);
	assert_int_equal(c.v[0].proto, IPPROTO_SCTP);
	assert_true(c.v[0].neq);
	free(c.v);

	assert_int_equal(parse(AF_INET, &c, &err, "!", "--dport", "80:90", NULL), -1);
	expect_error("conditionsV4: \"! --dport 80:90\": a negated port range is not supported (a "
		     "negated single port is)",
		     err);
	err = NULL;
	assert_int_equal(parse(AF_INET, &c, &err, "-p", "icmp", "--sport", "1", NULL), -1);
	expect_error("conditionsV4: --sport/--dport need a protocol with ports, not -p icmp", err);
	err = NULL;
	assert_int_equal(parse(AF_INET, &c, &err, "--dport", "65536", NULL), -1);
	expect_error("conditionsV4: \"--dport 65536\": not a port or FIRST:LAST port range "
		     "(numbers, 0-65535)",
		     err);
}

static void test_ipt_refusals(void **state)
{
	static const struct {
		const char *words[6];
		const char *msg;
	} cases[] = {
		{ { "-m", "tcp" },
		  "conditionsV4: iptables option \"-m\" is not supported (cnic "
		  "translates -s, -d, -i, -o, -p, --sport and --dport, each "
		  "optionally after \"!\")" },
		{ { "-s", "!", "198.18.0.1" },
		  "conditionsV4: \"-s !\" is not supported: write \"! -s VALUE\"" },
		{ { "!", "!", "-s", "198.18.0.1" }, "conditionsV4: multiple \"!\" flags not allowed" },
		{ { "-s", "198.18.0.1", "-d", "198.18.0.2", "!" },
		  "conditionsV4: \"!\" at the end, without an option" },
		{ { "-p" }, "conditionsV4: option \"-p\" requires an argument" },
		{ { "-d", "198.18.0.1", "--destination", "198.18.0.2" },
		  "conditionsV4: multiple -d flags not allowed" },
		{ { "-s", "198.18.0.1,198.18.0.2" },
		  "conditionsV4: \"-s 198.18.0.1,198.18.0.2\": lists of addresses are not "
		  "supported (one address or prefix)" },
		{ { "-p", "nope" }, "conditionsV4: \"-p nope\": unknown protocol" },
		{ { "!", "-p", "all" },
		  "conditionsV4: \"! -p all\" matches nothing: it would disable every mapping" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strv in = { 0 };
		struct pm_conds c = { 0 };
		struct cni_error *err = NULL;

		for (size_t k = 0; k < 6 && cases[i].words[k]; k++)
			strv_push(&in, cases[i].words[k]);
		assert_int_equal(pm_conds_parse(&in, AF_INET, "conditionsV4", &c, &err), -1);
		assert_null(c.v);
		expect_error(cases[i].msg, err);
		strv_free(&in);
	}
}

/* The nftables syntax, unchanged; and the style the reference would see. */
static void test_nft_and_style(void **state)
{
	struct pm_conds c = { 0 };
	struct cni_error *err = NULL;
	struct strv s = { 0 };

	assert_int_equal(parse(AF_INET, &c, &err, "ip saddr", "!=", "198.18.0.0/15",
			       "meta iifname \"eth0\"", NULL),
			 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.v[0].kind, PM_COND_SADDR);
	assert_true(c.v[0].neq);
	assert_int_equal(c.v[1].kind, PM_COND_IIFNAME);
	assert_string_equal(c.v[1].ifname, "eth0");
	assert_int_equal(c.v[1].ifname_len, 16);
	free(c.v);
	assert_int_equal(parse(AF_INET, &c, &err, "tcp dport 80", NULL), -1);
	expect_error("conditionsV4: unsupported expression at \"tcp\" (cnic supports ip "
		     "saddr/daddr [!=] ADDR[/LEN] and iifname [!=] NAME)",
		     err);

	assert_int_equal(pm_conds_style(&s), PM_STYLE_NONE);
	strv_push(&s, "");
	assert_int_equal(pm_conds_style(&s), PM_STYLE_NONE);
	strv_free(&s);
	strv_push(&s, "! -s 198.18.0.1");
	assert_int_equal(pm_conds_style(&s), PM_STYLE_IPT);
	strv_free(&s);
	strv_push(&s, "--dport");
	assert_int_equal(pm_conds_style(&s), PM_STYLE_IPT);
	strv_free(&s);
	strv_push(&s, "ip daddr 198.18.0.1");
	assert_int_equal(pm_conds_style(&s), PM_STYLE_NFT);
	strv_free(&s);
}

/* pm_conf_parse on a whole config: 0, or -1 with *msg set to the message. */
static int conf(const char *extra, char **msg)
{
	char json[1024];
	struct cni_netconf *nc = NULL;
	struct cni_error *err = NULL;
	struct pm_conf pc;
	int r;

	snprintf(json, sizeof(json),
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"portmap\"%s%s}",
		 *extra ? "," : "", extra);
	if (cni_netconf_parse(json, strlen(json), &nc, &err) < 0)
		fail_msg("%s: %s", json, err->msg);
	{
		char *const envp[] = { NULL };
		struct cni_cmd cmd = { .verb = CNI_VERB_ADD,
				       .container_id = "c",
				       .ifname = "eth0",
				       .netns_fd = -1,
				       .path = "",
				       .conf = nc,
				       .envp = envp };

		r = pm_conf_parse(&cmd, &pc, &err);
	}
	if (r == 0) {
		pm_conf_free(&pc);
	} else {
		assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
		*msg = strdup(err->msg);
		cni_error_free(err);
	}
	cni_netconf_free(nc);
	return r;
}

static void expect_conf_error(const char *extra, const char *want)
{
	char *msg = NULL;

	if (conf(extra, &msg) == 0)
		fail_msg("accepted: %s", extra);
	if (strcmp(msg, want) != 0)
		fail_msg("%s: message \"%s\", want \"%s\"", extra, msg, want);
	free(msg);
}

static void test_backend(void **state)
{
	char *msg = NULL;
	static const char *const ok[] = {
		"",
		"\"backend\":\"iptables\"",
		"\"backend\":\"nftables\"",
		"\"backend\":\"iptables\",\"conditionsV4\":[\"-s\",\"198.18.0.0/16\"],"
		"\"externalSetMarkChain\":\"KUBE-MARK-MASQ\"",
		"\"backend\":\"nftables\",\"conditionsV6\":[\"ip6 saddr 2001:db8::/32\"]",
		"\"conditionsV4\":[\"-s\",\"198.18.0.0/16\"],\"conditionsV6\":[\"! -i eth0\"]",
		"\"conditionsV4\":[\"ip saddr 198.18.0.0/16\"]",
		"\"conditionsV4\":[],\"conditionsV6\":null,\"externalSetMarkChain\":null,"
		"\"markMasqBit\":13",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (conf(ok[i], &msg) < 0)
			fail_msg("%s: %s", ok[i], msg);
	expect_conf_error("\"backend\":\"nftables\",\"externalSetMarkChain\":\"X\","
			  "\"conditionsV4\":[\"-s\",\"198.18.0.1\"],\"conditionsV6\":[\"! -s ::1\"]",
			  "nftables backend was requested but configuration contains "
			  "iptables-specific options [externalSetMarkChain conditionsV4 "
			  "conditionsV6]");
	expect_conf_error("\"backend\":\"iptables\",\"conditionsV6\":[\"ip6 daddr ::1\"]",
			  "iptables backend was requested but configuration contains "
			  "nftables-specific options [conditionsV6]");
	expect_conf_error("\"externalSetMarkChain\":\"X\",\"conditionsV4\":[\"ip saddr 1.2.3.4\"]",
			  "configuration mixes iptables-specific options [externalSetMarkChain] "
			  "and nftables-specific options [conditionsV4]: write the conditions in "
			  "one syntax");
	expect_conf_error("\"backend\":\"pf\"",
			  "backend: unrecognized backend \"pf\" (iptables or nftables; cnic "
			  "always programs nftables)");
	/* Present, even empty: as the reference, whose pointer is then not nil. */
	expect_conf_error("\"markMasqBit\":1,\"externalSetMarkChain\":\"\"",
			  "Cannot specify externalSetMarkChain and markMasqBit");
}

/*
 * DEL rebuilds an attachment's keys from its owner element's index: they
 * must be exactly the keys ADD added (container ports aside, which keys
 * do not hold).
 */
static void test_index_round_trip(void **state)
{
	static const char json[] =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"portmap\",\"masqAll\":false,"
		"\"prevResult\":{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\","
		"\"sandbox\":\"/x\"}],\"ips\":[{\"address\":\"198.18.0.5/24\",\"interface\":0},"
		"{\"address\":\"2001:db8::5/64\",\"interface\":0}]},"
		"\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80},"
		"{\"hostPort\":53,\"containerPort\":5353,\"protocol\":\"udp\",\"hostIP\":\"198.18.0.1\"},"
		"{\"hostPort\":9,\"containerPort\":9,\"protocol\":\"sctp\",\"hostIP\":\"2001:db8::1\"},"
		"{\"hostPort\":81,\"containerPort\":80,\"hostIP\":\"127.0.0.1\"}]}}";
	char *const envp[] = { NULL };
	struct cni_netconf *nc = NULL;
	struct cni_error *err = NULL;
	struct pm_conf pc;
	struct pm_attachment a = { 0 }, b = { 0 };

	if (cni_netconf_parse(json, strlen(json), &nc, &err) < 0)
		fail_msg("%s", err->msg);
	{
		struct cni_cmd cmd = { .verb = CNI_VERB_ADD,
				       .container_id = "c1",
				       .ifname = "eth0",
				       .netns_fd = -1,
				       .path = "",
				       .conf = nc,
				       .envp = envp };

		assert_int_equal(pm_conf_parse(&cmd, &pc, &err), 0);
		assert_int_equal(pm_attachment_for_add(&cmd, &pc, &a, &err), 0);
	}
	assert_string_equal(a.tag, "n:c1:eth0");
	assert_non_null(a.index);
	assert_string_equal(a.index, "n:c1:eth0 i1;s;198.18.0.5;2001:db8::5;t8080,u53@198.18.0.1,"
				     "s9@2001:db8::1,t81@127.0.0.1");
	assert_true(a.localnet);
	assert_int_equal(pm_comment_tag_len(a.index), strlen(a.tag));
	assert_true(pm_comment_is_tag(a.index, a.tag));
	assert_false(pm_comment_is_tag(a.index, "n:c1:eth"));

	assert_int_equal(pm_attachment_from_index(a.tag, a.index, &b), 0);
	assert_int_equal(b.elems.n, a.elems.n);
	for (size_t i = 0; i < a.elems.n; i++) {
		assert_int_equal(b.elems.v[i].set, a.elems.v[i].set);
		assert_int_equal(pm_elem_cmp(&a.elems.v[i], &b.elems.v[i]), 0);
	}
	/* Another tag, or a comment without an index we know: no keys. */
	assert_int_equal(pm_attachment_from_index("n:c2:eth0", a.index, &b), -1);
	assert_int_equal(pm_attachment_from_index(a.tag, "n:c1:eth0", &b), -1);
	assert_int_equal(pm_attachment_from_index(a.tag, "n:c1:eth0 i1;s;;;x80", &b), -1);

	pm_attachment_free(&a);
	pm_attachment_free(&b);
	pm_conf_free(&pc);
	cni_netconf_free(nc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipt_addresses),	 cmocka_unit_test(test_ipt_interfaces),
		cmocka_unit_test(test_ipt_proto_ports),	 cmocka_unit_test(test_ipt_refusals),
		cmocka_unit_test(test_nft_and_style),	 cmocka_unit_test(test_backend),
		cmocka_unit_test(test_index_round_trip),
	};

	return cmocka_run_group_tests_name("portmap", tests, NULL, NULL);
}
