/* SPDX-License-Identifier: Apache-2.0 */
/*
 * host-local and static configuration (defaults, validation errors,
 * precedence of requested addresses), resolv.conf parsing, and the IPAM
 * verbs end to end in-process through ipam_*() on a scratch data dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../ipam/config.h"
#include "../../ipam/ipam.h"
#include "../../ipam/store.h"
#include "../../pkg/cleanup.h"

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cnic-ipam-conf.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* A command as the skeleton would build it. */
struct req {
	struct cni_cmd cmd;
	struct cni_netconf *conf;
};

static int req_init(struct req *r, enum cni_verb verb, const char *json, const char *cni_args,
		    struct cni_error **err)
{
	memset(r, 0, sizeof(*r));
	if (cni_netconf_parse(json, strlen(json), &r->conf, err) < 0)
		return -1;
	r->cmd.verb = verb;
	r->cmd.container_id = "ctr1";
	r->cmd.ifname = "eth0";
	r->cmd.conf = r->conf;
	return cni_env_args_parse(cni_args, &r->cmd.args, err);
}

static void req_fini(struct req *r)
{
	cni_env_args_free(&r->cmd.args);
	cni_netconf_free(r->conf);
}

static int load_hl(const char *json, const char *cni_args, struct ipam_hl_conf **ret,
		   struct cni_error **err)
{
	struct req r;
	int q;

	q = req_init(&r, CNI_VERB_ADD, json, cni_args, err);
	if (q == 0)
		q = ipam_hl_conf_load(&r.cmd, true, ret, err);
	req_fini(&r);
	return q;
}

/* The error message of loading json (host-local), asserting code 7. */
static char *hl_error(const char *json)
{
	struct ipam_hl_conf *c = NULL;
	struct cni_error *err = NULL;
	char *msg;

	assert_int_equal(load_hl(json, NULL, &c, &err), -1);
	assert_null(c);
	assert_non_null(err);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	msg = xstrdup(err->msg);
	cni_error_free(err);
	return msg;
}

static const char *fmt(const struct ipaddr *a)
{
	static char buf[4][IPADDR_STRLEN];
	static int k;

	k = (k + 1) % 4;
	return ipaddr_fmt(a, buf[k]);
}

#define HL(ipam)                                                                                          \
	"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\",\"ipam\":{\"type\":\"host-local\"," ipam \
	"}}"

static void test_hl_defaults(void **state)
{
	struct ipam_hl_conf *c = NULL;
	struct cni_error *err = NULL;

	assert_int_equal(
		load_hl(HL("\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"}],[{\"subnet\":\"2001:db8::/64\"}]]"),
			NULL, &c, &err),
		0);
	assert_null(err);
	assert_int_equal(c->n_sets, 2);
	assert_string_equal(fmt(&c->sets[0].v[0].start), "198.18.0.1");
	assert_string_equal(fmt(&c->sets[0].v[0].end), "198.18.0.254");
	assert_string_equal(fmt(&c->sets[0].v[0].gateway), "198.18.0.1");
	assert_string_equal(fmt(&c->sets[1].v[0].start), "2001:db8::1");
	assert_string_equal(fmt(&c->sets[1].v[0].end), "2001:db8::ffff:ffff:ffff:ffff");
	assert_string_equal(fmt(&c->sets[1].v[0].gateway), "2001:db8::1");
	assert_string_equal(c->data_dir, "/var/lib/cni/networks");
	assert_null(c->resolv_conf);
	assert_int_equal(c->n_req, 0);
	ipam_hl_conf_free(c);

	/* a gateway outside the subnet is accepted (as the reference) */
	assert_int_equal(
		load_hl(HL("\"ranges\":[[{\"subnet\":\"198.18.0.0/24\",\"gateway\":\"198.18.9.1\"}]]"),
			NULL, &c, &err),
		0);
	assert_string_equal(fmt(&c->sets[0].v[0].gateway), "198.18.9.1");
	assert_string_equal(fmt(&c->sets[0].v[0].start), "198.18.0.1");
	assert_true(c->reclaim); /* reclaimAfterReboot defaults to on */
	ipam_hl_conf_free(c);
	c = NULL;

	/* a relative dataDir is refused (the reference writes into the cwd) */
	assert_int_equal(
		load_hl(HL("\"dataDir\":\"rel/dir\",\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"}]]"),
			NULL, &c, &err),
		-1);
	assert_null(c);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err->msg, "absolute"));
	cni_error_freep(&err);

	assert_int_equal(
		load_hl(HL("\"reclaimAfterReboot\":false,\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"}]]"),
			NULL, &c, &err),
		0);
	assert_false(c->reclaim);
	ipam_hl_conf_free(c);
}

static void test_hl_order_of_sets(void **state)
{
	struct ipam_hl_conf *c = NULL;
	struct cni_error *err = NULL;
	const char *json =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\","
		"\"runtimeConfig\":{\"ipRanges\":[[{\"subnet\":\"198.18.3.0/24\"}]]},"
		"\"ipam\":{\"type\":\"host-local\",\"subnet\":\"198.18.1.0/24\",\"rangeStart\":\"198.18.1.10\","
		"\"gateway\":\"198.18.1.254\",\"dataDir\":\"/x/y\",\"resolvConf\":\"/etc/r\","
		"\"routes\":[{\"dst\":\"0.0.0.0/0\"}],"
		"\"ranges\":[[{\"subnet\":\"198.18.2.0/24\"},{\"subnet\":\"198.18.4.0/24\"}]]}}";

	assert_int_equal(load_hl(json, NULL, &c, &err), 0);
	assert_int_equal(c->n_sets, 3);
	assert_string_equal(fmt(&c->sets[0].v[0].start), "198.18.3.1");	 /* runtimeConfig first */
	assert_string_equal(fmt(&c->sets[1].v[0].start), "198.18.1.10"); /* then the legacy one */
	assert_string_equal(fmt(&c->sets[1].v[0].gateway), "198.18.1.254");
	assert_int_equal(c->sets[2].n, 2);
	assert_string_equal(fmt(&c->sets[2].v[1].start), "198.18.4.1");
	assert_string_equal(c->data_dir, "/x/y");
	assert_string_equal(c->resolv_conf, "/etc/r");
	assert_int_equal(c->routes.n, 1);
	ipam_hl_conf_free(c);
}

static void test_hl_errors(void **state)
{
	static const struct {
		const char *ipam, *msg;
	} cases[] = {
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.1/24\"}]]",
		  "invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 198.18.0.0" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.0/31\"}]]",
		  "invalid range set 0: Network 198.18.0.0/31 too small to allocate from" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.1/32\"}]]",
		  "invalid range set 0: Network 198.18.0.1/32 too small to allocate from" },
		{ "\"ranges\":[[{\"subnet\":\"2001:db8::/127\"}]]",
		  "invalid range set 0: Network 2001:db8::/127 too small to allocate from" },
		{ "\"ranges\":[[{\"subnet\":\"2001:db8::/128\"}]]",
		  "invalid range set 0: Network 2001:db8::/128 too small to allocate from" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.0/24\",\"rangeStart\":\"198.18.1.5\"}]]",
		  "invalid range set 0: RangeStart 198.18.1.5 not in network 198.18.0.0/24" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.0/24\",\"rangeEnd\":\"2001:db8::5\"}]]",
		  "invalid range set 0: RangeEnd 2001:db8::5 not in network 198.18.0.0/24" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.0/24\",\"rangeStart\":\"198.18.0.50\",\"rangeEnd\":\"198.18.0.40\"}]]",
		  "invalid range set 0: RangeStart 198.18.0.50 not in network 198.18.0.0/24" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.0/24\",\"rangeEnd\":\"198.18.0.0\"}]]",
		  "invalid range set 0: RangeEnd 198.18.0.0 not in network 198.18.0.0/24" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.0/24\",\"gateway\":\"2001:db8::1\"}]]",
		  "invalid range set 0: gateway 2001:db8::1 is not in the address family of network 198.18.0.0/24" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"},{\"subnet\":\"2001:db8::/64\"}]]",
		  "invalid range set 0: mixed address families" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"},{\"subnet\":\"198.18.0.0/25\"}]]",
		  "invalid range set 0: subnets 198.18.0.1-198.18.0.254 and 198.18.0.1-198.18.0.126 overlap" },
		{ "\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"}],[{\"subnet\":\"198.18.0.128/25\"}]]",
		  "range set 0 overlaps with 1" },
		{ "\"ranges\":[[]]", "invalid range set 0: empty range set" },
		{ "\"ranges\":[]", "no IP ranges specified" },
		{ "\"rangeStart\":\"198.18.0.5\"", "no IP ranges specified" },
		{ "\"ranges\":[[{\"rangeStart\":\"198.18.0.5\"}]]",
		  "ipam.ranges[0][0].subnet: missing" },
		{ "\"ranges\":[{\"subnet\":\"198.18.0.0/24\"}]",
		  "ipam.ranges[0]: expected a list of ranges" },
		{ "\"ranges\":\"198.18.0.0/24\"",
		  "ipam.ranges: expected a list of range sets (lists of ranges)" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *json = xasprintf(
			"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\",\"ipam\":{\"type\":\"host-local\",%s}}",
			cases[i].ipam);
		cleanup_free char *msg = hl_error(json);

		if (strcmp(msg, cases[i].msg) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, msg, cases[i].msg);
	}
}

static void test_hl_missing_ipam_and_versions(void **state)
{
	cleanup_free char *m1 = hl_error("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\"}");
	cleanup_free char *m2 = hl_error(
		"{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"x\",\"ipam\":{\"type\":\"host-local\","
		"\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"}],[{\"subnet\":\"198.18.1.0/24\"}]]}}");
	struct ipam_hl_conf *c = NULL;

	assert_string_equal(m1, "IPAM config missing 'ipam' key");
	assert_string_equal(m2, "CNI version 0.2.0 does not support more than 1 address per family");
	/* one per family is fine in 0.2.0 */
	assert_int_equal(
		load_hl("{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"x\",\"ipam\":{\"type\":\"host-local\","
			"\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"}],[{\"subnet\":\"2001:db8::/64\"}]]}}",
			NULL, &c, NULL),
		0);
	ipam_hl_conf_free(c);
}

static void test_hl_requested_precedence(void **state)
{
	struct ipam_hl_conf *c = NULL;
	struct cni_error *err = NULL;
	const char *base = "\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"}]]";
	cleanup_free char *plain = xasprintf(HL("%s"), base);
	cleanup_free char *args =
		xasprintf("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\",\"args\":{\"cni\":{\"ips\":[\"198.18.0.20/24\"]}},"
			  "\"ipam\":{\"type\":\"host-local\",%s}}",
			  base);
	cleanup_free char *both = xasprintf(
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\",\"args\":{\"cni\":{\"ips\":[\"198.18.0.20\"]}},"
		"\"runtimeConfig\":{\"ips\":[\"198.18.0.30\",\"2001:db8::30/64\"]},\"ipam\":{\"type\":\"host-local\",%s}}",
		base);

	/* CNI_ARGS alone */
	assert_int_equal(load_hl(plain, "IgnoreUnknown=1;IP=198.18.0.10", &c, &err), 0);
	assert_int_equal(c->n_req, 1);
	assert_string_equal(fmt(&c->req[0]), "198.18.0.10");
	ipam_hl_conf_free(c);
	/* args.cni.ips beats CNI_ARGS (prefix ignored) */
	assert_int_equal(load_hl(args, "IP=198.18.0.10", &c, &err), 0);
	assert_int_equal(c->n_req, 1);
	assert_string_equal(fmt(&c->req[0]), "198.18.0.20");
	ipam_hl_conf_free(c);
	/* runtimeConfig.ips beats both */
	assert_int_equal(load_hl(both, "IP=198.18.0.10", &c, &err), 0);
	assert_int_equal(c->n_req, 2);
	assert_string_equal(fmt(&c->req[0]), "198.18.0.30");
	assert_string_equal(fmt(&c->req[1]), "2001:db8::30");
	ipam_hl_conf_free(c);
	/* a bad CNI_ARGS IP is a config error */
	assert_int_equal(load_hl(plain, "IP=198.18.0.300", &c, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	assert_string_equal(err->msg, "CNI_ARGS IP: invalid IP address \"198.18.0.300\"");
	cni_error_freep(&err);
}

static void test_hl_lenient_for_del(void **state)
{
	struct req r;
	struct ipam_hl_conf *c = NULL;
	struct cni_error *err = NULL;

	/* DEL must still work when the ranges have become invalid */
	assert_int_equal(req_init(&r, CNI_VERB_DEL,
				  HL("\"dataDir\":\"/d\",\"ranges\":[[{\"subnet\":\"198.18.0.1/24\"}]]"),
				  NULL, &err),
			 0);
	assert_int_equal(ipam_hl_conf_load(&r.cmd, false, &c, &err), 0);
	assert_string_equal(c->data_dir, "/d");
	ipam_hl_conf_free(c);
	assert_int_equal(ipam_hl_conf_load(&r.cmd, true, &c, &err), -1);
	cni_error_freep(&err);
	req_fini(&r);
}

/* ---- static ------------------------------------------------------------ */

static int load_st(const char *json, const char *cni_args, struct ipam_static_conf **ret,
		   struct cni_error **err)
{
	struct req r;
	int q;

	q = req_init(&r, CNI_VERB_ADD, json, cni_args, err);
	if (q == 0)
		q = ipam_static_conf_load(&r.cmd, ret, err);
	req_fini(&r);
	return q;
}

static const char *fmtn(const struct ipnet *n)
{
	static char buf[4][IPNET_STRLEN];
	static int k;

	k = (k + 1) % 4;
	return ipnet_fmt(n, buf[k]);
}

#define ST(extra, ipam)                                                                            \
	"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\"" extra                            \
	",\"ipam\":{\"type\":\"static\"," ipam "}}"

static void test_static_sources(void **state)
{
	struct ipam_static_conf *c = NULL;
	struct cni_error *err = NULL;
	const char *cfg =
		ST("", "\"addresses\":[{\"address\":\"198.18.5.10/24\",\"gateway\":\"198.18.5.1\"},"
		       "{\"address\":\"2001:db8::10/64\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\"}],"
		       "\"dns\":{\"nameservers\":[\"198.18.5.1\"]}");

	assert_int_equal(load_st(cfg, NULL, &c, &err), 0);
	assert_int_equal(c->n_addrs, 2);
	assert_string_equal(fmtn(&c->addrs[0].address), "198.18.5.10/24"); /* host bits kept */
	assert_string_equal(fmt(&c->addrs[0].gateway), "198.18.5.1");
	assert_false(ipaddr_is_set(&c->addrs[1].gateway));
	assert_int_equal(c->routes.n, 1);
	assert_int_equal(c->dns.nameservers.n, 1);
	ipam_static_conf_free(c);

	/* CNI_ARGS IP appended, GATEWAY set where its subnet matches (config ones too) */
	assert_int_equal(load_st(cfg,
				 "IP=198.18.6.5/24, 2001:db8:1::5/64;GATEWAY=198.18.6.1,2001:db8::1",
				 &c, &err),
			 0);
	assert_int_equal(c->n_addrs, 4);
	assert_string_equal(fmtn(&c->addrs[2].address), "198.18.6.5/24");
	assert_string_equal(fmt(&c->addrs[2].gateway), "198.18.6.1");
	assert_false(ipaddr_is_set(&c->addrs[3].gateway));
	assert_string_equal(fmt(&c->addrs[1].gateway), "2001:db8::1");
	assert_string_equal(fmt(&c->addrs[0].gateway), "198.18.5.1");
	ipam_static_conf_free(c);

	/* a config address keeps its own gateway; a CNI_ARGS one takes the GATEWAY */
	assert_int_equal(load_st(cfg, "IP=198.18.5.77/24;GATEWAY=198.18.5.254", &c, &err), 0);
	assert_int_equal(c->n_addrs, 3);
	assert_string_equal(fmt(&c->addrs[0].gateway), "198.18.5.1");
	assert_string_equal(fmt(&c->addrs[2].gateway), "198.18.5.254");
	ipam_static_conf_free(c);
}

static void test_static_replacements(void **state)
{
	struct ipam_static_conf *c = NULL;
	struct cni_error *err = NULL;
	const char *args = ST(",\"args\":{\"cni\":{\"ips\":[\"198.18.7.7/24\"]}}",
			      "\"addresses\":[{\"address\":\"not-a-cidr\"}]");
	const char *rc = ST(",\"args\":{\"cni\":{\"ips\":[\"198.18.7.7/24\"]}},"
			    "\"runtimeConfig\":{\"ips\":[\"198.18.8.8/24\",\"2001:db8::8/64\"]}",
			    "\"addresses\":[{\"address\":\"198.18.5.10/24\"}]");

	/* args.cni.ips replaces (the bad config address is never looked at) and CNI_ARGS too */
	assert_int_equal(load_st(args, "IP=198.18.9.9/24", &c, &err), 0);
	assert_int_equal(c->n_addrs, 1);
	assert_string_equal(fmtn(&c->addrs[0].address), "198.18.7.7/24");
	ipam_static_conf_free(c);
	/* runtimeConfig.ips wins over everything */
	assert_int_equal(load_st(rc, NULL, &c, &err), 0);
	assert_int_equal(c->n_addrs, 2);
	assert_string_equal(fmtn(&c->addrs[0].address), "198.18.8.8/24");
	assert_string_equal(fmtn(&c->addrs[1].address), "2001:db8::8/64");
	ipam_static_conf_free(c);
	/* no addresses at all is fine */
	assert_int_equal(load_st(ST("", "\"routes\":[]"), NULL, &c, &err), 0);
	assert_int_equal(c->n_addrs, 0);
	ipam_static_conf_free(c);
}

static void test_static_errors(void **state)
{
	static const struct {
		const char *json, *args, *msg;
	} cases[] = {
		{ ST("", "\"addresses\":[{\"address\":\"198.18.5.10\"}]"), NULL,
		  "the 'address' field is expected to be in CIDR notation, got: '198.18.5.10'" },
		{ ST("", "\"addresses\":[{}]"), NULL,
		  "the 'address' field is expected to be in CIDR notation, got: ''" },
		{ ST("", "\"addresses\":[]"), "IP=198.18.5.10",
		  "the 'ip' field is expected to be in CIDR notation, got: '198.18.5.10'" },
		{ ST("", "\"addresses\":[]"), "IP=198.18.5.10/24;GATEWAY=x",
		  "invalid gateway address: x" },
		{ ST(",\"runtimeConfig\":{\"ips\":[\"198.18.5.10\"]}", "\"addresses\":[]"), NULL,
		  "an entry in the 'ips' field is NOT in CIDR notation, got: '198.18.5.10'" },
		{ "{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"x\",\"ipam\":{\"type\":\"static\","
		  "\"addresses\":[{\"address\":\"198.18.5.10/24\"},{\"address\":\"198.18.5.11/24\"}]}}",
		  NULL, "CNI version 0.2.0 does not support more than 1 address per family" },
		{ ST("",
		     "\"addresses\":[{\"address\":\"198.18.5.10/24\",\"gateway\":\"2001:db8::1\"}]"),
		  NULL, "gateway 2001:db8::1 is not in the address family of 198.18.5.10/24" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\"}", NULL,
		  "IPAM config missing 'ipam' key" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ipam_static_conf *c = NULL;
		struct cni_error *err = NULL;

		assert_int_equal(load_st(cases[i].json, cases[i].args, &c, &err), -1);
		assert_null(c);
		assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
		if (strcmp(err->msg, cases[i].msg) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err->msg, cases[i].msg);
		cni_error_free(err);
	}
}

/* ---- resolv.conf --------------------------------------------------------- */

static void test_resolv_conf(void **state)
{
	cleanup_free char *p = xasprintf("%s/resolv.conf", tmpdir);
	FILE *f = fopen(p, "w");
	struct cni_dns dns = { 0 };
	struct cni_error *err = NULL;

	assert_non_null(f);
	fputs("# comment\n; another\n\nnameserver 198.18.0.53 ignored\nnameserver  2001:db8::53\n"
	      "domain example.test\nsearch a.test b.test\nsearch c.test\noptions ndots:2 edns0\n"
	      "nameserver\n   options   rotate  \nsortlist 1.2.3.4\n",
	      f);
	fclose(f);
	assert_int_equal(ipam_parse_resolv_conf(p, &dns, &err), 0);
	assert_int_equal(dns.nameservers.n, 2);
	assert_string_equal(dns.nameservers.v[0], "198.18.0.53");
	assert_string_equal(dns.nameservers.v[1], "2001:db8::53");
	assert_string_equal(dns.domain, "example.test");
	assert_int_equal(dns.search.n, 3);
	assert_string_equal(dns.search.v[2], "c.test");
	assert_int_equal(dns.options.n, 3);
	assert_string_equal(dns.options.v[2], "rotate");
	cni_dns_free(&dns);

	assert_int_equal(ipam_parse_resolv_conf("/nonexistent/resolv.conf", &dns, &err), -1);
	assert_non_null(strstr(err->msg, "/nonexistent/resolv.conf"));
	cni_error_freep(&err);

	/* A FIFO (no writer: opening it blocking would hang) and a directory are refused at once. */
	{
		cleanup_free char *fifo = xasprintf("%s/fifo", tmpdir);

		assert_int_equal(mkfifo(fifo, 0600), 0);
		assert_int_equal(ipam_parse_resolv_conf(fifo, &dns, &err), -1);
		assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
		assert_non_null(strstr(err->msg, "not a file"));
		cni_error_freep(&err);
		unlink(fifo);
		assert_int_equal(ipam_parse_resolv_conf(tmpdir, &dns, &err), -1);
		assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
		cni_error_freep(&err);
	}
	/* A character device is read as a file (the reference reads /dev/null as empty). */
	assert_int_equal(ipam_parse_resolv_conf("/dev/null", &dns, &err), 0);
	assert_int_equal(dns.nameservers.n, 0);
}

/* ---- verbs in-process ----------------------------------------------------- */

static char *hl_json(const char *version, const char *extra)
{
	return xasprintf("{\"cniVersion\":\"%s\",\"name\":\"net\",\"type\":\"bridge\"%s,"
			 "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s/data\","
			 "\"ranges\":[[{\"subnet\":\"198.18.0.0/30\"}],[{\"subnet\":\"2001:db8::/120\"}]],"
			 "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}",
			 version, extra, tmpdir);
}

static int verb(enum cni_verb v, const char *json, const char *id, const char *ifname,
		struct cni_result **ret, struct cni_error **err)
{
	struct req r;
	int q;

	if (req_init(&r, v, json, NULL, err) < 0) {
		req_fini(&r);
		return -1;
	}
	r.cmd.container_id = id;
	r.cmd.ifname = ifname;
	switch (v) {
	case CNI_VERB_ADD:
		q = ipam_add(&r.cmd, ret, err);
		break;
	case CNI_VERB_DEL:
		q = ipam_del(&r.cmd, err);
		break;
	case CNI_VERB_CHECK:
		q = ipam_check(&r.cmd, err);
		break;
	case CNI_VERB_GC:
		q = ipam_gc(&r.cmd, err);
		break;
	default:
		q = ipam_status(&r.cmd, err);
		break;
	}
	req_fini(&r);
	return q;
}

static bool data_has(const char *name)
{
	cleanup_free char *p = xasprintf("%s/data/net/%s", tmpdir, name);

	return access(p, F_OK) == 0;
}

static void test_host_local_verbs(void **state)
{
	cleanup_free char *add = hl_json("1.1.0", "");
	cleanup_free char *gc = NULL;
	cleanup_free char *check = NULL;
	struct cni_result *res = NULL;
	struct cni_error *err = NULL;
	char buf[IPNET_STRLEN];

	/* DEL and GC before anything exists: success, nothing created */
	assert_int_equal(verb(CNI_VERB_DEL, add, "c1", "eth0", NULL, &err), 0);
	assert_int_equal(verb(CNI_VERB_STATUS, add, NULL, NULL, NULL, &err), 0);
	assert_false(data_has("."));

	assert_int_equal(verb(CNI_VERB_ADD, add, "c1", "eth0", &res, &err), 0);
	assert_null(err);
	assert_int_equal(res->n_ips, 2);
	assert_string_equal(ipnet_fmt(&res->ips[0].address, buf), "198.18.0.2/30");
	assert_string_equal(fmt(&res->ips[0].gateway), "198.18.0.1");
	assert_int_equal(res->ips[0].interface, -1);
	assert_string_equal(ipnet_fmt(&res->ips[1].address, buf), "2001:db8::2/120");
	assert_int_equal(res->routes.n, 1);
	assert_true(data_has("198.18.0.2"));
	assert_true(data_has("2001:db8::2"));

	/*
	 * the /30 is full now: STATUS still succeeds (a failing STATUS makes the
	 * node NotReady), ADD fails with 100 and leaves no v6 behind
	 */
	assert_int_equal(verb(CNI_VERB_STATUS, add, NULL, NULL, NULL, &err), 0);
	assert_null(err);
	assert_int_equal(verb(CNI_VERB_ADD, add, "c2", "eth0", NULL, &err), -1);
	assert_int_equal(err->code, CNI_ERR_IPAM_EXHAUSTED);
	cni_error_freep(&err);
	assert_false(data_has("2001:db8::3"));

	/* CHECK with the result as prevResult */
	{
		char *json = NULL;

		assert_int_equal(cni_result_print(res, CNI_V110, &json, &err), 0);
		check = xasprintf(
			"{\"cniVersion\":\"1.1.0\",\"name\":\"net\",\"type\":\"bridge\",\"prevResult\":%s,"
			"\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s/data\","
			"\"ranges\":[[{\"subnet\":\"198.18.0.0/30\"}],[{\"subnet\":\"2001:db8::/120\"}]]}}",
			json, tmpdir);
		free(json);
	}
	assert_int_equal(verb(CNI_VERB_CHECK, check, "c1", "eth0", NULL, &err), 0);
	assert_int_equal(verb(CNI_VERB_CHECK, check, "c2", "eth0", NULL, &err), -1);
	cni_error_freep(&err);

	/* GC keeps the valid attachment, drops the rest; without the key it does nothing */
	assert_int_equal(verb(CNI_VERB_ADD, add, "c3", "eth1", NULL, &err), -1);
	cni_error_freep(&err);
	gc = xasprintf("{\"cniVersion\":\"1.1.0\",\"name\":\"net\",\"type\":\"bridge\","
		       "\"cni.dev/valid-attachments\":[{\"containerID\":\"c9\",\"ifname\":\"eth0\"}],"
		       "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s/data\"}}",
		       tmpdir);
	assert_int_equal(verb(CNI_VERB_GC, add, NULL, NULL, NULL, &err), 0);
	assert_true(data_has("198.18.0.2"));
	assert_int_equal(verb(CNI_VERB_GC, gc, NULL, NULL, NULL, &err), 0);
	assert_null(err);
	assert_false(data_has("198.18.0.2"));
	assert_false(data_has("2001:db8::2"));
	assert_true(data_has("lock"));
	assert_true(data_has("last_reserved_ip.0"));

	/* ADD again after GC, then DEL twice */
	cni_result_freep(&res);
	assert_int_equal(verb(CNI_VERB_ADD, add, "c1", "eth0", &res, &err), 0);
	assert_true(data_has("198.18.0.2"));
	assert_true(data_has("2001:db8::3")); /* round robin: after the last reserved ::2 */
	assert_int_equal(verb(CNI_VERB_DEL, add, "c1", "eth0", NULL, &err), 0);
	assert_int_equal(verb(CNI_VERB_DEL, add, "c1", "eth0", NULL, &err), 0);
	assert_false(data_has("198.18.0.2"));
	assert_false(data_has("2001:db8::3"));
	cni_result_free(res);
}

static void test_dispatch(void **state)
{
	struct cni_result *res = NULL;
	struct cni_error *err = NULL;
	const char *st =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"bridge\",\"ipam\":{\"type\":\"static\","
		"\"addresses\":[{\"address\":\"198.18.5.10/24\",\"gateway\":\"198.18.5.1\"}]}}";

	assert_int_equal(verb(CNI_VERB_ADD, st, "c", "eth0", &res, &err), 0);
	assert_int_equal(res->n_ips, 1);
	assert_int_equal(verb(CNI_VERB_DEL, st, "c", "eth0", NULL, &err), 0);
	assert_int_equal(verb(CNI_VERB_GC, st, NULL, NULL, NULL, &err), 0);
	/* CHECK without prevResult */
	assert_int_equal(verb(CNI_VERB_CHECK, st, "c", "eth0", NULL, &err), -1);
	assert_string_equal(err->msg, "Required prevResult missing");
	cni_error_freep(&err);
	cni_result_freep(&res);

	/* no ipam type */
	assert_int_equal(verb(CNI_VERB_ADD,
			      "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"bridge\"}", "c",
			      "eth0", &res, &err),
			 -1);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	assert_string_equal(err->msg, "no IPAM type");
	cni_error_freep(&err);
	assert_null(res);
}

static void test_static_check(void **state)
{
	struct cni_error *err = NULL;
	const char *ok =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\",\"ipam\":{\"type\":\"static\","
		"\"addresses\":[{\"address\":\"198.18.5.10/24\",\"gateway\":\"198.18.5.1\"},"
		"{\"address\":\"198.18.6.10/24\"}]},"
		"\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"198.18.5.10/24\",\"gateway\":\"198.18.5.1\"}]}}";
	const char *bad =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"x\",\"ipam\":{\"type\":\"static\","
		"\"addresses\":[{\"address\":\"198.18.5.10/24\",\"gateway\":\"198.18.5.1\"}]},"
		"\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"198.18.5.10/24\",\"gateway\":\"198.18.5.254\"}]}}";

	/* an address missing from prevResult is not reported (as the reference) */
	assert_int_equal(verb(CNI_VERB_CHECK, ok, "c", "eth0", NULL, &err), 0);
	assert_int_equal(verb(CNI_VERB_CHECK, bad, "c", "eth0", NULL, &err), -1);
	assert_string_equal(err->msg, "static: Failed to match addr 198.18.5.10 on interface eth0");
	cni_error_freep(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hl_defaults),
		cmocka_unit_test(test_hl_order_of_sets),
		cmocka_unit_test(test_hl_errors),
		cmocka_unit_test(test_hl_missing_ipam_and_versions),
		cmocka_unit_test(test_hl_requested_precedence),
		cmocka_unit_test(test_hl_lenient_for_del),
		cmocka_unit_test(test_static_sources),
		cmocka_unit_test(test_static_replacements),
		cmocka_unit_test(test_static_errors),
		cmocka_unit_test_setup_teardown(test_resolv_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_local_verbs, setup, teardown),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_static_check),
	};

	return cmocka_run_group_tests_name("ipam_conf", tests, NULL, NULL);
}
