/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkg/types: results printed in every version's schema against golden files
 * (checked against the reference's own conversion code and the installed
 * reference plugin), parse/print round trips, the request config parser
 * with every error path, the field decoder, and the validators.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../pkg/types.h"

/* ---- helpers ---------------------------------------------------------- */

static const char *fixture_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("CNIC_TYPES_FIXTURES");
	const char *slash = strrchr(__FILE__, '/');

	char exe[PATH_MAX];
	ssize_t n;

	if (env)
		return env;
	/* Built from the repository root, __FILE__ is "test/unit/test_types.c". */
	snprintf(dir, sizeof(dir), "%.*s../fixtures/types", slash ? (int)(slash - __FILE__ + 1) : 0,
		 __FILE__);
	if (access(dir, R_OK) == 0)
		return dir;
	/* Run from elsewhere: the binary lives in build/unit/. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			snprintf(dir, sizeof(dir), "%.*s/../../test/fixtures/types",
				 (int)(slash - exe), exe);
	}
	return dir;
}

/* The file's bytes, NUL-terminated, or NULL if it does not exist. */
static char *read_fixture(const char *rel, size_t *ret_len)
{
	char path[PATH_MAX];
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), rel);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return buf;
}

static char *must_read_fixture(const char *rel, size_t *ret_len)
{
	char *s = read_fixture(rel, ret_len);

	if (!s)
		fail_msg("missing fixture %s/%s", fixture_dir(), rel);
	return s;
}

static struct cni_result *must_parse_result(const char *json, enum cni_version def)
{
	struct cni_result *r = NULL;
	struct cni_error *err = NULL;

	if (cni_result_parse(json, strlen(json), def, &r, &err) < 0)
		fail_msg("result parse: %s", err->msg);
	assert_null(err);
	return r;
}

static char *must_print(const struct cni_result *r, enum cni_version v)
{
	char *out = NULL;
	struct cni_error *err = NULL;

	if (cni_result_print(r, v, &out, &err) < 0)
		fail_msg("print %s: %s", cni_version_str(v), err->msg);
	return out;
}

static struct cni_netconf *must_parse_conf(const char *json, size_t len)
{
	struct cni_netconf *c = NULL;
	struct cni_error *err = NULL;

	if (cni_netconf_parse(json, len, &c, &err) < 0)
		fail_msg("netconf parse: %s (%s)", err->msg, json);
	return c;
}

/* Expect failure with code and a message containing msg. */
static void expect_conf_error(const char *json, size_t len, unsigned int code, const char *msg)
{
	struct cni_netconf *c = NULL;
	struct cni_error *err = NULL;

	if (cni_netconf_parse(json, len, &c, &err) == 0) {
		cni_netconf_free(c);
		fail_msg("accepted: %s", json);
	}
	assert_null(c);
	assert_non_null(err);
	if (err->code != code || !strstr(err->msg, msg))
		fail_msg("config %s: got code %u \"%s\", want code %u with \"%s\"", json, err->code,
			 err->msg, code, msg);
	cni_error_free(err);
}

static void expect_result_error(const char *json, enum cni_version def, unsigned int code,
				const char *msg)
{
	struct cni_result *r = NULL;
	struct cni_error *err = NULL;

	if (cni_result_parse(json, strlen(json), def, &r, &err) == 0) {
		cni_result_free(r);
		fail_msg("accepted result: %s", json);
	}
	assert_null(r);
	if (err->code != code || !strstr(err->msg, msg))
		fail_msg("result %s: got code %u \"%s\", want code %u with \"%s\"", json, err->code,
			 err->msg, code, msg);
	cni_error_free(err);
}

/* ---- versions --------------------------------------------------------- */

static void test_versions(void **state)
{
	static const char *const names[] = { "0.1.0", "0.2.0", "0.3.0", "0.3.1",
					     "0.4.0", "1.0.0", "1.1.0" };
	enum cni_version v;

	assert_int_equal(ARRAY_SIZE(names), CNI_V_COUNT);
	for (int i = 0; i < CNI_V_COUNT; i++) {
		assert_int_equal(cni_version_parse(names[i], &v), 0);
		assert_int_equal(v, i);
		assert_string_equal(cni_version_str(v), names[i]);
	}
	assert_int_equal(cni_version_parse("", &v), 0);
	assert_int_equal(v, CNI_V010);
	v = CNI_V040;
	assert_int_equal(cni_version_parse("1.0", &v), -1);
	assert_int_equal(cni_version_parse("1.0.0 ", &v), -1);
	assert_int_equal(cni_version_parse("v1.0.0", &v), -1);
	assert_int_equal(cni_version_parse("2.0.0", &v), -1);
	assert_int_equal(cni_version_parse(NULL, &v), -1);
	assert_int_equal(v, CNI_V040); /* untouched on failure */
	assert_string_equal(cni_version_str(CNI_V_COUNT), "");
}

/* ---- golden results --------------------------------------------------- */

static int is_input(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 8 && strcmp(d->d_name + n - 8, ".in.json") == 0;
}

static void test_result_golden(void **state)
{
	char dir[PATH_MAX];
	struct dirent **ents;
	int n;

	snprintf(dir, sizeof(dir), "%s/results", fixture_dir());
	n = scandir(dir, &ents, is_input, alphasort);
	if (n < 10)
		fail_msg("expected golden inputs in %s", dir);

	for (int i = 0; i < n; i++) {
		char rel[PATH_MAX];
		size_t base_len = strlen(ents[i]->d_name) - 8;
		char *in;
		struct cni_result *r;

		snprintf(rel, sizeof(rel), "results/%s", ents[i]->d_name);
		in = must_read_fixture(rel, NULL);
		/* The spec's examples carry no cniVersion: they are 1.1.0 results. */
		r = must_parse_result(in, CNI_V110);

		for (int v = 0; v < CNI_V_COUNT; v++) {
			const char *vs = cni_version_str((enum cni_version)v);
			char *want, *out = NULL;
			struct cni_error *err = NULL;
			int rc;

			snprintf(rel, sizeof(rel), "results/%.*s.out-%s.json", (int)base_len,
				 ents[i]->d_name, vs);
			want = read_fixture(rel, NULL);
			rc = cni_result_print(r, (enum cni_version)v, &out, &err);
			if (want) {
				if (rc < 0)
					fail_msg("%s: %s", rel, err->msg);
				if (strcmp(out, want) != 0)
					fail_msg("%s differs:\n%s\n--- want ---\n%s", rel, out, want);
				/* Round trip: what we print reads back to the same output. */
				struct cni_result *again = must_parse_result(out, CNI_V010);
				char *out2 = must_print(again, (enum cni_version)v);

				assert_int_equal(again->version, v);
				if (strcmp(out2, out) != 0)
					fail_msg("%s: round trip differs:\n%s", rel, out2);
				free(out2);
				cni_result_free(again);
			} else {
				snprintf(rel, sizeof(rel), "results/%.*s.out-%s.err", (int)base_len,
					 ents[i]->d_name, vs);
				want = must_read_fixture(rel, NULL);
				if (rc == 0)
					fail_msg("%s: expected error \"%s\", printed\n%s", rel,
						 want, out);
				assert_null(out);
				assert_int_equal(err->code, CNI_ERR_INTERNAL);
				assert_string_equal(err->msg, want);
				cni_error_free(err);
			}
			free(out);
			free(want);
		}
		cni_result_free(r);
		free(in);
		free(ents[i]);
	}
	free(ents);
}

/* The content /usr/lib/cni/static printed into reference/static-out-*.json. */
static struct cni_result *static_reference_result(void)
{
	struct cni_result *r = cni_result_new();
	struct cni_ip *ip;
	struct cni_route *rt;

	ip = cni_result_add_ip(r);
	assert_int_equal(ipnet_parse("198.18.0.5/24", &ip->address), 0);
	assert_int_equal(ipaddr_parse("198.18.0.1", &ip->gateway), 0);
	ip = cni_result_add_ip(r);
	assert_int_equal(ipnet_parse("2001:db8::5/64", &ip->address), 0);
	assert_int_equal(ipaddr_parse("2001:db8::1", &ip->gateway), 0);
	rt = cni_result_add_route(r);
	assert_int_equal(ipnet_parse("0.0.0.0/0", &rt->dst), 0);
	rt = cni_result_add_route(r);
	assert_int_equal(ipnet_parse("::/0", &rt->dst), 0);
	assert_int_equal(ipaddr_parse("2001:db8::2", &rt->gw), 0);
	strv_push(&r->dns.nameservers, "198.18.0.1");
	r->dns.domain = xstrdup("a<b>&c.test");
	strv_push(&r->dns.search, "x/y");
	strv_push(&r->dns.options, "ndots:2");
	return r;
}

static void test_result_matches_installed_reference(void **state)
{
	struct cni_result *r = static_reference_result();
	char rel[64];

	for (int v = CNI_V010; v <= CNI_V040; v++) {
		char *want, *out;

		snprintf(rel, sizeof(rel), "reference/static-out-%s.json",
			 cni_version_str((enum cni_version)v));
		want = must_read_fixture(rel, NULL);
		out = must_print(r, (enum cni_version)v);
		if (strcmp(out, want) != 0)
			fail_msg("%s differs:\n%s", rel, out);
		free(out);
		free(want);
	}

	/* Its 1.0.0 output uses the pre-1.2 key order: compare content only. */
	char *ref = must_read_fixture("reference/static-out-1.0.0.json", NULL);
	struct cni_result *parsed = must_parse_result(ref, CNI_V010);
	char *a = must_print(parsed, CNI_V100), *b = must_print(r, CNI_V100);

	assert_int_equal(parsed->version, CNI_V100);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(ref);
	cni_result_free(parsed);
	cni_result_free(r);
}

/* ---- result API ------------------------------------------------------- */

static void test_result_build_print(void **state)
{
	struct cni_result *r = cni_result_new();
	struct cni_ip *ip;
	struct cni_route *rt;
	char *out;
	int idx;

	assert_int_equal(cni_result_add_iface(r, "cni0", "0a:58:c6:12:00:01", NULL), 0);
	idx = cni_result_add_iface(r, "eth0", NULL, "/var/run/netns/x");
	assert_int_equal(idx, 1);
	r->ifaces[idx].mtu = 1450;
	ip = cni_result_add_ip(r);
	assert_int_equal(ip->interface, -1);
	ip->interface = idx;
	assert_int_equal(ipnet_parse("198.18.0.2/24", &ip->address), 0);
	rt = cni_result_add_route(r);
	assert_int_equal(ipnet_parse("0.0.0.0/0", &rt->dst), 0);
	rt->has_table = true; /* table 0 is representable */

	out = must_print(r, CNI_V110);
	assert_string_equal(out, "{\n"
				 "    \"cniVersion\": \"1.1.0\",\n"
				 "    \"interfaces\": [\n"
				 "        {\n"
				 "            \"mac\": \"0a:58:c6:12:00:01\",\n"
				 "            \"name\": \"cni0\"\n"
				 "        },\n"
				 "        {\n"
				 "            \"mtu\": 1450,\n"
				 "            \"name\": \"eth0\",\n"
				 "            \"sandbox\": \"/var/run/netns/x\"\n"
				 "        }\n"
				 "    ],\n"
				 "    \"ips\": [\n"
				 "        {\n"
				 "            \"address\": \"198.18.0.2/24\",\n"
				 "            \"interface\": 1\n"
				 "        }\n"
				 "    ],\n"
				 "    \"routes\": [\n"
				 "        {\n"
				 "            \"dst\": \"0.0.0.0/0\",\n"
				 "            \"table\": 0\n"
				 "        }\n"
				 "    ]\n"
				 "}");
	free(out);
	out = must_print(r, CNI_V040);
	assert_string_equal(out, "{\n"
				 "    \"cniVersion\": \"0.4.0\",\n"
				 "    \"interfaces\": [\n"
				 "        {\n"
				 "            \"name\": \"cni0\",\n"
				 "            \"mac\": \"0a:58:c6:12:00:01\"\n"
				 "        },\n"
				 "        {\n"
				 "            \"name\": \"eth0\",\n"
				 "            \"sandbox\": \"/var/run/netns/x\"\n"
				 "        }\n"
				 "    ],\n"
				 "    \"ips\": [\n"
				 "        {\n"
				 "            \"version\": \"4\",\n"
				 "            \"interface\": 1,\n"
				 "            \"address\": \"198.18.0.2/24\"\n"
				 "        }\n"
				 "    ],\n"
				 "    \"routes\": [\n"
				 "        {\n"
				 "            \"dst\": \"0.0.0.0/0\",\n"
				 "            \"table\": 0\n"
				 "        }\n"
				 "    ],\n"
				 "    \"dns\": {}\n"
				 "}");
	free(out);

	/* An empty result: nothing but the version (and 0.x's empty dns). */
	struct cni_result *empty = cni_result_new();

	out = must_print(empty, CNI_V100);
	assert_string_equal(out, "{\n    \"cniVersion\": \"1.0.0\"\n}");
	free(out);
	out = must_print(empty, CNI_V031);
	assert_string_equal(out, "{\n    \"cniVersion\": \"0.3.1\",\n    \"dns\": {}\n}");
	free(out);
	cni_result_free(empty);
	cni_result_free(r);
	cni_result_free(NULL);
}

static void test_result_print_errors(void **state)
{
	struct cni_result *r = cni_result_new();
	struct cni_error *err = NULL;
	char *out = NULL;
	struct cni_ip *ip;

	cni_result_add_iface(r, "eth0", NULL, NULL);
	assert_int_equal(cni_result_print(r, CNI_V020, &out, &err), -1);
	assert_null(out);
	assert_int_equal(err->code, CNI_ERR_INTERNAL);
	assert_string_equal(err->msg, "cannot convert: no valid IP addresses");
	cni_error_free(err);
	err = NULL;

	ip = cni_result_add_ip(r); /* no address: a builder bug */
	assert_int_equal(cni_result_print(r, CNI_V110, &out, &err), -1);
	assert_non_null(strstr(err->msg, "ips[0] has no address"));
	cni_error_free(err);
	err = NULL;

	assert_int_equal(ipnet_parse("198.18.0.2/24", &ip->address), 0);
	ip->interface = 1;
	assert_int_equal(cni_result_print(r, CNI_V110, &out, &err), -1);
	assert_non_null(strstr(err->msg, "out of range"));
	cni_error_free(err);
	err = NULL;

	ip->interface = 0;
	cni_result_add_route(r);
	assert_int_equal(cni_result_print(r, CNI_V110, &out, &err), -1);
	assert_non_null(strstr(err->msg, "routes[0] has no destination"));
	cni_error_free(err);
	err = NULL;

	assert_int_equal(cni_result_print(r, CNI_V_COUNT, &out, &err), -1);
	cni_error_free(err);
	assert_null(out);
	cni_result_free(r);
}

static void test_result_dup_copy(void **state)
{
	char *in = must_read_fixture("results/v110-extended.in.json", NULL);
	struct cni_result *r = must_parse_result(in, CNI_V110);
	struct cni_result *d = cni_result_dup(r);
	char *a = must_print(r, CNI_V110), *b;

	assert_null(cni_result_dup(NULL));
	/* The copy is deep: changing the original leaves it alone. */
	free(r->ifaces[0].name);
	r->ifaces[0].name = xstrdup("changed");
	r->routes.v[0].mtu = 1;
	free(r->dns.domain);
	r->dns.domain = NULL;
	b = must_print(d, CNI_V110);
	assert_string_equal(a, b);
	assert_int_equal(d->version, r->version);
	free(b);

	/* copy onto a non-empty destination, and onto itself */
	cni_dns_copy(&r->dns, &d->dns);
	cni_dns_copy(&r->dns, &r->dns);
	assert_string_equal(r->dns.domain, "x.test");
	cni_routes_copy(&r->routes, &d->routes);
	cni_routes_copy(&r->routes, &r->routes);
	assert_int_equal(r->routes.n, 2);
	assert_int_equal(r->routes.v[0].mtu, 1400);
	assert_false(cni_dns_is_empty(&r->dns));
	cni_dns_free(&r->dns);
	assert_true(cni_dns_is_empty(&r->dns));

	free(a);
	free(in);
	cni_result_free(d);
	cni_result_free(r);
}

static void test_result_parse_forms(void **state)
{
	struct cni_result *r;

	/* No cniVersion: the caller's version decides the schema. */
	r = must_parse_result("{\"ip4\":{\"ip\":\"198.18.0.2/24\"}}", CNI_V020);
	assert_int_equal(r->version, CNI_V020);
	assert_int_equal(r->n_ips, 1);
	cni_result_free(r);
	r = must_parse_result("{\"ip4\":{\"ip\":\"198.18.0.2/24\"}}", CNI_V100);
	assert_int_equal(r->n_ips, 0); /* a 1.0 result has no ip4 key */
	cni_result_free(r);
	r = must_parse_result("{\"cniVersion\":\"\",\"ips\":[{\"address\":\"198.18.0.2/24\"}]}",
			      CNI_V040);
	assert_int_equal(r->version, CNI_V040);
	assert_int_equal(r->n_ips, 1);
	assert_int_equal(r->ips[0].interface, -1);
	cni_result_free(r);

	/* Keys are parsed whatever the version; null is absent, as in Go. */
	r = must_parse_result("{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"e\",\"mtu\":9000,"
			      "\"mac\":null}],\"ips\":[{\"version\":\"6\",\"interface\":-1,"
			      "\"address\":\"2001:db8::2/64\",\"gateway\":null}],\"routes\":null,"
			      "\"dns\":null}",
			      CNI_V110);
	assert_int_equal(r->ifaces[0].mtu, 9000);
	assert_null(r->ifaces[0].mac);
	assert_int_equal(r->ips[0].interface, -1);
	assert_false(ipaddr_is_set(&r->ips[0].gateway));
	cni_result_free(r);

	/* Route destinations are stored canonical; addresses keep their host bits. */
	r = must_parse_result("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"198.18.0.9/15\"}],"
			      "\"routes\":[{\"dst\":\"198.19.1.1/16\",\"gw\":\"198.18.0.1\"}]}",
			      CNI_V110);
	char buf[IPNET_STRLEN];

	assert_string_equal(ipnet_fmt(&r->routes.v[0].dst, buf), "198.19.0.0/16");
	assert_string_equal(ipnet_fmt(&r->ips[0].address, buf), "198.18.0.9/15");
	/* Printed as given, as the reference echoes it. */
	{
		char *json = NULL;
		struct cni_error *err = NULL;

		assert_int_equal(cni_result_print(r, CNI_V100, &json, &err), 0);
		assert_non_null(strstr(json, "\"dst\": \"198.19.1.1/16\""));
		free(json);
	}
	cni_result_free(r);
}

static void test_result_parse_errors(void **state)
{
	expect_result_error("", CNI_V110, CNI_ERR_DECODE, "invalid JSON");
	{
		struct cni_result *r = NULL;
		struct cni_error *err = NULL;

		assert_int_equal(cni_result_parse(NULL, 0, CNI_V110, &r, &err), -1);
		assert_int_equal(err->code, CNI_ERR_DECODE);
		cni_error_free(err);
	}
	expect_result_error("{\"ips\":[}", CNI_V110, CNI_ERR_DECODE, "invalid JSON");
	expect_result_error("[]", CNI_V110, CNI_ERR_DECODE, "expected a JSON object");
	expect_result_error("null", CNI_V110, CNI_ERR_DECODE, "expected a JSON object");
	expect_result_error("{} x", CNI_V110, CNI_ERR_DECODE, "invalid JSON");
	expect_result_error("{\"cniVersion\":1.0}", CNI_V110, CNI_ERR_DECODE,
			    "cniVersion: expected a string");
	expect_result_error("{\"cniVersion\":\"0.5.0\"}", CNI_V110, CNI_ERR_INCOMPATIBLE_VERSION,
			    "unsupported CNI result version \"0.5.0\"");
	expect_result_error("{\"ips\":[{\"gateway\":\"198.18.0.1\"}]}", CNI_V110,
			    CNI_ERR_INVALID_CONFIG, "ips[0].address: required key missing");
	expect_result_error("{\"ips\":[{\"address\":null}]}", CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "ips[0].address: required key missing");
	expect_result_error("{\"ips\":[{\"address\":\"198.18.0.1\"}]}", CNI_V110,
			    CNI_ERR_INVALID_CONFIG, "ips[0].address: invalid CIDR \"198.18.0.1\"");
	expect_result_error("{\"ips\":[{\"address\":\"198.18.0.1/24\",\"gateway\":\"x\"}]}", CNI_V110,
			    CNI_ERR_INVALID_CONFIG, "ips[0].gateway: invalid IP address \"x\"");
	expect_result_error("{\"ips\":[{\"address\":\"198.18.0.1/24\",\"version\":\"6\"}]}",
			    CNI_V040, CNI_ERR_INVALID_CONFIG, "ips[0].version");
	expect_result_error("{\"ips\":[{\"address\":\"198.18.0.1/24\",\"interface\":\"0\"}]}",
			    CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "ips[0].interface: expected an integer, got a string");
	expect_result_error("{\"ips\":[{\"address\":\"198.18.0.1/24\",\"interface\":0.5}]}",
			    CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "ips[0].interface: expected an integer, got a non-integer number");
	expect_result_error("{\"ips\":[{\"address\":\"198.18.0.1/24\",\"interface\":-2}]}",
			    CNI_V110, CNI_ERR_INVALID_CONFIG, "ips[0].interface: -2 out of range");
	expect_result_error("{\"interfaces\":[{\"name\":\"a\"}],\"ips\":[{\"address\":"
			    "\"198.18.0.1/24\",\"interface\":1}]}",
			    CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "ips[0].interface: index 1 out of range (1 interfaces)");
	expect_result_error("{\"interfaces\":{}}", CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "interfaces: expected an array");
	expect_result_error("{\"interfaces\":[\"eth0\"]}", CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "interfaces[0]: expected an object");
	expect_result_error("{\"interfaces\":[{\"name\":7}]}", CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "interfaces[0].name: expected a string, got an integer");
	expect_result_error("{\"ips\":{}}", CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "ips: expected an array");
	expect_result_error("{\"ips\":[3]}", CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "ips[0]: expected an object");
	expect_result_error("{\"routes\":[{\"gw\":\"198.18.0.1\"}]}", CNI_V110,
			    CNI_ERR_INVALID_CONFIG, "routes[0].dst: required key missing");
	expect_result_error("{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"scope\":256}]}", CNI_V110,
			    CNI_ERR_INVALID_CONFIG, "routes[0].scope: 256 out of range [0, 255]");
	expect_result_error("{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"mtu\":-1}]}", CNI_V110,
			    CNI_ERR_INVALID_CONFIG, "routes[0].mtu: -1 out of range");
	expect_result_error("{\"routes\":[null]}", CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "routes[0]: expected a route object, got null");
	expect_result_error("{\"dns\":[]}", CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "dns: expected an object, got an array");
	expect_result_error("{\"dns\":{\"nameservers\":\"198.18.0.1\"}}", CNI_V110,
			    CNI_ERR_INVALID_CONFIG, "dns.nameservers: expected an array of strings");
	expect_result_error("{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"2001:db8::1/64\"}}",
			    CNI_V110, CNI_ERR_INVALID_CONFIG, "ip4.ip: not an IPv4 address");
	expect_result_error("{\"cniVersion\":\"0.2.0\",\"ip6\":{\"ip\":\"198.18.0.1/24\"}}",
			    CNI_V110, CNI_ERR_INVALID_CONFIG, "ip6.ip: not an IPv6 address");
	expect_result_error("{\"cniVersion\":\"0.2.0\",\"ip4\":[]}", CNI_V110,
			    CNI_ERR_INVALID_CONFIG, "ip4: expected an object");
	expect_result_error("{\"cniVersion\":\"0.1.0\",\"ip4\":{\"gateway\":\"198.18.0.1\"}}",
			    CNI_V110, CNI_ERR_INVALID_CONFIG, "ip4.ip: required key missing");
	expect_result_error("{\"cniVersion\":\"0.1.0\",\"ip4\":{\"ip\":\"198.18.0.1/24\",\"routes\":"
			    "[{\"dst\":\"x\"}]}}",
			    CNI_V110, CNI_ERR_INVALID_CONFIG,
			    "ip4.routes[0].dst: invalid CIDR \"x\"");
}

/* ---- request config --------------------------------------------------- */

static void test_conf_spec_bridge(void **state)
{
	size_t len;
	char *json = must_read_fixture("conf/spec-bridge-add.json", &len);
	struct cni_netconf *c = must_parse_conf(json, len);
	const struct cni_json *root = cni_netconf_root(c), *v;

	assert_int_equal(c->version, CNI_V110);
	assert_string_equal(c->cni_version, "1.1.0");
	assert_string_equal(c->name, "dbnet");
	assert_string_equal(c->type, "bridge");
	assert_false(c->ip_masq);
	assert_true(c->has_ipam);
	assert_string_equal(c->ipam_type, "host-local");
	assert_int_equal(c->dns.nameservers.n, 1);
	assert_string_equal(c->dns.nameservers.v[0], "10.1.0.1");
	assert_null(c->prev_result);
	assert_false(c->rc.has_port_mappings);
	assert_false(c->has_valid_attachments);
	assert_int_equal(c->raw_len, len);
	assert_memory_equal(c->raw, json, len);
	assert_int_equal(c->raw[len], '\0');

	/* Plugin-specific keys stay reachable through the opaque tree. */
	assert_string_equal(cni_json_string(cni_json_get(root, "bridge")), "cni0");
	v = cni_json_get(root, "keyA");
	assert_true(cni_json_is_array(v));
	assert_int_equal(cni_json_array_len(v), 3);
	assert_string_equal(cni_json_string(cni_json_array_get(v, 2)), "configuration");
	assert_null(cni_json_array_get(v, 3));
	assert_true(cni_json_is_object(cni_json_get(root, "ipam")));
	assert_string_equal(cni_json_string(cni_json_get(cni_json_get(root, "ipam"), "subnet")),
			    "10.1.0.0/16");
	assert_null(cni_json_get(root, "nope"));
	cni_netconf_free(c);
	free(json);
}

static void test_conf_spec_chained(void **state)
{
	size_t len;
	char *json = must_read_fixture("conf/spec-tuning-add.json", &len);
	struct cni_netconf *c = must_parse_conf(json, len);
	char buf[IPNET_STRLEN];

	assert_string_equal(c->type, "tuning");
	assert_false(c->has_ipam);
	assert_null(c->ipam_type);
	assert_string_equal(c->rc.mac, "00:11:22:33:44:66");
	assert_non_null(c->prev_result);
	/* prevResult without cniVersion takes the config's. */
	assert_int_equal(c->prev_result->version, CNI_V110);
	assert_int_equal(c->prev_result->n_ifaces, 3);
	assert_string_equal(c->prev_result->ifaces[2].sandbox, "/var/run/netns/blue");
	assert_int_equal(c->prev_result->n_ips, 1);
	assert_int_equal(c->prev_result->ips[0].interface, 2);
	assert_string_equal(ipnet_fmt(&c->prev_result->ips[0].address, buf), "10.1.0.5/16");
	assert_int_equal(c->prev_result->routes.n, 1);
	assert_string_equal(c->prev_result->dns.nameservers.v[0], "10.1.0.1");
	cni_netconf_free(c);
	free(json);

	json = must_read_fixture("conf/spec-portmap-del.json", &len);
	c = must_parse_conf(json, len);
	assert_true(c->rc.has_port_mappings);
	assert_int_equal(c->rc.n_port_mappings, 1);
	assert_int_equal(c->rc.port_mappings[0].host_port, 8080);
	assert_int_equal(c->rc.port_mappings[0].container_port, 80);
	assert_string_equal(c->rc.port_mappings[0].protocol, "tcp");
	assert_false(ipaddr_is_set(&c->rc.port_mappings[0].host_ip));
	assert_string_equal(c->prev_result->ifaces[2].mac, "00:11:22:33:44:66");
	cni_netconf_free(c);
	free(json);
}

static void test_conf_gc_attachments(void **state)
{
	size_t len;
	char *json = must_read_fixture("conf/gc-attachments.json", &len);
	struct cni_netconf *c = must_parse_conf(json, len);
	static const char only_old[] =
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/attachments\":"
		"[{\"containerID\":\"old\",\"ifname\":\"eth0\"}]}";
	static const char both_differ[] =
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\","
		"\"cni.dev/attachments\":[{\"containerID\":\"old\",\"ifname\":\"eth0\"}],"
		"\"cni.dev/valid-attachments\":[]}";

	assert_true(c->has_valid_attachments);
	assert_int_equal(c->n_valid_attachments, 2);
	assert_string_equal(c->valid_attachments[1].container_id, "c2");
	assert_string_equal(c->valid_attachments[1].ifname, "net1");
	cni_netconf_free(c);
	free(json);

	c = must_parse_conf(only_old, strlen(only_old));
	assert_true(c->has_valid_attachments);
	assert_int_equal(c->n_valid_attachments, 1);
	assert_string_equal(c->valid_attachments[0].container_id, "old");
	cni_netconf_free(c);

	/* The correct spelling wins, even when it says "nothing is valid". */
	c = must_parse_conf(both_differ, strlen(both_differ));
	assert_true(c->has_valid_attachments);
	assert_int_equal(c->n_valid_attachments, 0);
	cni_netconf_free(c);
}

static void test_conf_kitchen_sink(void **state)
{
	size_t len;
	char *json = must_read_fixture("conf/kitchen-sink-0.4.0.json", &len);
	struct cni_netconf *c = must_parse_conf(json, len);
	const struct cni_runtime_config *rc = &c->rc;
	char buf[IPADDR_STRLEN];

	assert_int_equal(c->version, CNI_V040);
	assert_string_equal(c->name, "cnic-all_keys.1");
	assert_true(c->ip_masq);
	assert_string_equal(c->ipam_type, "static");
	assert_int_equal(c->dns.nameservers.n, 2);
	assert_string_equal(c->dns.domain, "d.test");
	assert_string_equal(c->dns.search.v[0], "d.test");
	assert_string_equal(c->dns.options.v[0], "ndots:1");
	assert_int_equal(rc->ips.n, 2);
	assert_string_equal(rc->ips.v[1], "2001:db8::9"); /* kept as written */
	assert_string_equal(rc->mac, "0a:58:c6:12:00:09");
	assert_int_equal(rc->n_port_mappings, 3);
	assert_string_equal(rc->port_mappings[0].protocol, "tcp");
	assert_string_equal(rc->port_mappings[1].protocol, "udp");
	assert_string_equal(ipaddr_fmt(&rc->port_mappings[1].host_ip, buf), "198.18.0.1");
	assert_int_equal(rc->port_mappings[2].host_port, 65535);
	assert_int_equal(rc->port_mappings[2].container_port, 1);
	assert_string_equal(rc->port_mappings[2].protocol, "sctp");
	assert_false(ipaddr_is_set(&rc->port_mappings[2].host_ip));
	assert_true(rc->has_bandwidth);
	assert_int_equal(rc->bandwidth.ingress_rate, 1000000);
	assert_int_equal(rc->bandwidth.ingress_burst, 2000000);
	assert_true(rc->bandwidth.egress_rate == INT64_MAX);
	assert_int_equal(rc->bandwidth.egress_burst, 0);
	assert_string_equal(rc->device_id, "0000:03:00.1");
	assert_string_equal(rc->infiniband_guid, "c2:11:22:33:44:55:66:77");
	assert_int_equal(rc->aliases.n, 2);
	assert_string_equal(rc->cgroup_path, "/kubepods/pod1");
	assert_int_equal(c->args_ips.n, 1);
	assert_string_equal(c->args_ips.v[0], "198.18.0.10");
	assert_string_equal(c->args_mac, "0a:58:c6:12:00:0a");
	assert_int_equal(c->prev_result->version, CNI_V040);
	assert_int_equal(c->prev_result->n_ips, 1);
	cni_netconf_free(c);
	free(json);
}

static void test_conf_defaults(void **state)
{
	static const char minimal[] = "{\"name\":\"n\"}";
	static const char nulls[] =
		"{\"cniVersion\":null,\"name\":\"n\",\"type\":null,\"ipMasq\":null,\"ipam\":null,"
		"\"dns\":null,\"runtimeConfig\":null,\"args\":null,\"prevResult\":null,"
		"\"cni.dev/valid-attachments\":null}";
	static const char l2[] =
		"{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"ipam\":{},\"runtimeConfig\":{},"
		"\"args\":{\"other\":1},\"prevResult\":{\"ips\":[{\"address\":\"198.18.0.1/24\"}]}}";
	struct cni_netconf *c;

	/* No cniVersion: the spec's first version. */
	c = must_parse_conf(minimal, strlen(minimal));
	assert_int_equal(c->version, CNI_V010);
	assert_string_equal(c->cni_version, "");
	assert_null(c->type);
	assert_false(c->has_ipam);
	assert_true(cni_dns_is_empty(&c->dns));
	cni_netconf_free(c);

	c = must_parse_conf(nulls, strlen(nulls));
	assert_int_equal(c->version, CNI_V010);
	assert_false(c->has_ipam);
	assert_null(c->prev_result);
	assert_false(c->has_valid_attachments);
	cni_netconf_free(c);

	/* "ipam": {} is present but L2-only; prevResult takes the config's version. */
	c = must_parse_conf(l2, strlen(l2));
	assert_true(c->has_ipam);
	assert_null(c->ipam_type);
	assert_false(c->rc.has_port_mappings);
	assert_false(c->rc.has_bandwidth);
	assert_int_equal(c->prev_result->version, CNI_V031);
	cni_netconf_free(c);
	cni_netconf_free(NULL);
}

static const struct conf_err_case {
	const char *json;
	unsigned int code;
	const char *msg;
} conf_err_cases[] = {
	{ "", CNI_ERR_DECODE, "invalid JSON" },
	{ "   ", CNI_ERR_DECODE, "invalid JSON" },
	{ "{", CNI_ERR_DECODE, "invalid JSON" },
	{ "{\"name\":\"a\",}", CNI_ERR_DECODE, "invalid JSON" },
	{ "{\"name\":'a'", CNI_ERR_DECODE, "invalid JSON" },
	{ "/* c */ {\"name\":\"a\"}", CNI_ERR_DECODE, "invalid JSON" },
	{ "{\"name\":\"a\"} {}", CNI_ERR_DECODE, "invalid JSON" },
	{ "{\"name\":\"a\"} x", CNI_ERR_DECODE, "invalid JSON" },
	{ "{\"name\":\"a\",\"x\":NaN}", CNI_ERR_DECODE, "invalid JSON" },
	{ "{\"name\":\"a\",\"x\":[-Infinity]}", CNI_ERR_DECODE, "invalid JSON" },
	{ "{\"name\":\"a\",\"x\":{\"y\":1e999}}", CNI_ERR_DECODE, "invalid JSON" },
	{ "[]", CNI_ERR_DECODE, "expected a JSON object" },
	{ "null", CNI_ERR_DECODE, "expected a JSON object" },
	{ "\"x\"", CNI_ERR_DECODE, "expected a JSON object" },
	{ "42", CNI_ERR_DECODE, "expected a JSON object" },
	{ "{\"cniVersion\":1,\"name\":\"a\"}", CNI_ERR_DECODE, "cniVersion: expected a string" },
	{ "{\"cniVersion\":[\"1.0.0\"],\"name\":\"a\"}", CNI_ERR_DECODE,
	  "cniVersion: expected a string" },
	{ "{\"cniVersion\":\"9.9.9\",\"name\":\"a\"}", CNI_ERR_INCOMPATIBLE_VERSION,
	  "incompatible CNI versions" },
	{ "{\"cniVersion\":\"1.0\",\"name\":\"a\"}", CNI_ERR_INCOMPATIBLE_VERSION,
	  "incompatible CNI versions" },
	{ "{\"cniVersion\":\"1.0.0\"}", CNI_ERR_INVALID_CONFIG, "missing network name" },
	{ "{\"cniVersion\":\"1.0.0\",\"name\":\"\"}", CNI_ERR_INVALID_CONFIG, "missing network name" },
	{ "{\"cniVersion\":\"1.0.0\",\"name\":null}", CNI_ERR_INVALID_CONFIG, "missing network name" },
	{ "{\"cniVersion\":\"1.0.0\",\"name\":5}", CNI_ERR_INVALID_CONFIG, "name: expected a string" },
	{ "{\"name\":\"../x\"}", CNI_ERR_INVALID_CONFIG, "invalid characters found in network name" },
	{ "{\"name\":\"a/b\"}", CNI_ERR_INVALID_CONFIG, "invalid characters found in network name" },
	{ "{\"name\":\"..\"}", CNI_ERR_INVALID_CONFIG, "invalid characters found in network name" },
	{ "{\"name\":\".\"}", CNI_ERR_INVALID_CONFIG, "invalid characters found in network name" },
	{ "{\"name\":\".hidden\"}", CNI_ERR_INVALID_CONFIG,
	  "invalid characters found in network name" },
	{ "{\"name\":\"-x\"}", CNI_ERR_INVALID_CONFIG, "invalid characters found in network name" },
	{ "{\"name\":\"_x\"}", CNI_ERR_INVALID_CONFIG, "invalid characters found in network name" },
	{ "{\"name\":\"a b\"}", CNI_ERR_INVALID_CONFIG, "invalid characters found in network name" },
	{ "{\"name\":\"a\\nb\"}", CNI_ERR_INVALID_CONFIG, "invalid characters found in network name" },
	{ "{\"name\":\"a\\u0000b\"}", CNI_ERR_INVALID_CONFIG,
	  "invalid characters found in network name" },
	{ "{\"name\":\"caf\\u00e9\"}", CNI_ERR_INVALID_CONFIG,
	  "invalid characters found in network name" },
	{ "{\"name\":\"a:b\"}", CNI_ERR_INVALID_CONFIG, "invalid characters found in network name" },
	{ "{\"name\":\"n\",\"type\":5}", CNI_ERR_INVALID_CONFIG,
	  "type: expected a string, got an integer" },
	{ "{\"name\":\"n\",\"type\":\"../../bin/sh\"}", CNI_ERR_INVALID_CONFIG,
	  "type: invalid plugin type" },
	{ "{\"name\":\"n\",\"type\":\"..\"}", CNI_ERR_INVALID_CONFIG, "type: invalid plugin type" },
	{ "{\"name\":\"n\",\"ipMasq\":\"true\"}", CNI_ERR_INVALID_CONFIG,
	  "ipMasq: expected a boolean, got a string" },
	{ "{\"name\":\"n\",\"ipMasq\":1}", CNI_ERR_INVALID_CONFIG,
	  "ipMasq: expected a boolean, got an integer" },
	{ "{\"name\":\"n\",\"ipam\":5}", CNI_ERR_INVALID_CONFIG, "ipam: expected an object" },
	{ "{\"name\":\"n\",\"ipam\":\"host-local\"}", CNI_ERR_INVALID_CONFIG,
	  "ipam: expected an object" },
	{ "{\"name\":\"n\",\"ipam\":{\"type\":1}}", CNI_ERR_INVALID_CONFIG,
	  "ipam.type: expected a string, got an integer" },
	{ "{\"name\":\"n\",\"ipam\":{\"type\":\"a/b\"}}", CNI_ERR_INVALID_CONFIG,
	  "ipam.type: invalid plugin type \"a/b\"" },
	{ "{\"name\":\"n\",\"ipam\":{\"type\":\"..\"}}", CNI_ERR_INVALID_CONFIG,
	  "ipam.type: invalid plugin type" },
	{ "{\"name\":\"n\",\"ipam\":{\"type\":\"a\\u0001\"}}", CNI_ERR_INVALID_CONFIG,
	  "ipam.type: invalid plugin type" },
	{ "{\"name\":\"n\",\"dns\":[]}", CNI_ERR_INVALID_CONFIG, "dns: expected an object" },
	{ "{\"name\":\"n\",\"dns\":{\"nameservers\":\"x\"}}", CNI_ERR_INVALID_CONFIG,
	  "dns.nameservers: expected an array of strings" },
	{ "{\"name\":\"n\",\"dns\":{\"search\":[\"a\",1]}}", CNI_ERR_INVALID_CONFIG,
	  "dns.search[1]: expected a string, got an integer" },
	{ "{\"name\":\"n\",\"dns\":{\"domain\":[]}}", CNI_ERR_INVALID_CONFIG,
	  "dns.domain: expected a string, got an array" },
	{ "{\"name\":\"n\",\"runtimeConfig\":[]}", CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig: expected an object" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":{}}}", CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.portMappings: expected an array" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[5]}}", CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.portMappings[0]: expected an object" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":0,"
	  "\"containerPort\":80}]}}",
	  CNI_ERR_INVALID_CONFIG, "Invalid host port number: 0" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":80,"
	  "\"containerPort\":65536}]}}",
	  CNI_ERR_INVALID_CONFIG, "Invalid container port number: 65536" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":-80,"
	  "\"containerPort\":80}]}}",
	  CNI_ERR_INVALID_CONFIG, "Invalid host port number: -80" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":\"80\","
	  "\"containerPort\":80}]}}",
	  CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.portMappings[0].hostPort: expected an integer, got a string" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":80.5,"
	  "\"containerPort\":80}]}}",
	  CNI_ERR_INVALID_CONFIG, "hostPort: expected an integer, got a non-integer number" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":1e3,"
	  "\"containerPort\":80}]}}",
	  CNI_ERR_INVALID_CONFIG, "hostPort: expected an integer" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":99999999999999999999,"
	  "\"containerPort\":80}]}}",
	  CNI_ERR_INVALID_CONFIG, "hostPort" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":80}]}}",
	  CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.portMappings[0].containerPort: required key missing" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":80,"
	  "\"containerPort\":80,\"protocol\":\"icmp\"}]}}",
	  CNI_ERR_INVALID_CONFIG, "runtimeConfig.portMappings[0].protocol: unsupported protocol" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":80,"
	  "\"containerPort\":80,\"protocol\":6}]}}",
	  CNI_ERR_INVALID_CONFIG, "protocol: expected a string" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":80,"
	  "\"containerPort\":80},{\"hostPort\":81,\"containerPort\":81,\"hostIP\":\"1.2.3\"}]}}",
	  CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.portMappings[1].hostIP: invalid IP address \"1.2.3\"" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"mac\":\"zz\"}}", CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.mac: invalid MAC address \"zz\"" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"ips\":[\"198.18.0.1/24\",\"x\"]}}",
	  CNI_ERR_INVALID_CONFIG, "runtimeConfig.ips[1]: invalid IP address \"x\"" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"ips\":\"198.18.0.1\"}}", CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.ips: expected an array of strings" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"bandwidth\":[]}}", CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.bandwidth: expected an object" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"bandwidth\":{\"ingressRate\":-1}}}",
	  CNI_ERR_INVALID_CONFIG, "runtimeConfig.bandwidth.ingressRate: -1 out of range" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"bandwidth\":{\"egressBurst\":18446744073709551615}}}",
	  CNI_ERR_INVALID_CONFIG, "runtimeConfig.bandwidth.egressBurst" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"aliases\":[null]}}", CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.aliases[0]: expected a string, got null" },
	{ "{\"name\":\"n\",\"runtimeConfig\":{\"deviceID\":{}}}", CNI_ERR_INVALID_CONFIG,
	  "runtimeConfig.deviceID: expected a string" },
	{ "{\"name\":\"n\",\"args\":[]}", CNI_ERR_INVALID_CONFIG, "args: expected an object" },
	{ "{\"name\":\"n\",\"args\":{\"cni\":5}}", CNI_ERR_INVALID_CONFIG,
	  "args.cni: expected an object" },
	{ "{\"name\":\"n\",\"args\":{\"cni\":{\"ips\":[\"198.18.0.1/33\"]}}}",
	  CNI_ERR_INVALID_CONFIG, "args.cni.ips[0]: invalid IP address" },
	{ "{\"name\":\"n\",\"args\":{\"cni\":{\"mac\":\"01:02:03:04:05\"}}}",
	  CNI_ERR_INVALID_CONFIG, "args.cni.mac: invalid MAC address" },
	{ "{\"name\":\"n\",\"prevResult\":5}", CNI_ERR_INVALID_CONFIG,
	  "prevResult: expected an object" },
	{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":[{\"address\":\"x\"}]}}",
	  CNI_ERR_INVALID_CONFIG, "prevResult: ips[0].address: invalid CIDR \"x\"" },
	{ "{\"name\":\"n\",\"prevResult\":{\"cniVersion\":\"7\"}}", CNI_ERR_INVALID_CONFIG,
	  "prevResult: unsupported CNI result version" },
	{ "{\"name\":\"n\",\"prevResult\":{\"cniVersion\":4}}", CNI_ERR_INVALID_CONFIG,
	  "prevResult: cniVersion: expected a string" },
	{ "{\"name\":\"n\",\"cni.dev/valid-attachments\":{}}", CNI_ERR_INVALID_CONFIG,
	  "cni.dev/valid-attachments: expected an array" },
	{ "{\"name\":\"n\",\"cni.dev/valid-attachments\":[[]]}", CNI_ERR_INVALID_CONFIG,
	  "cni.dev/valid-attachments[0]: expected an object" },
	{ "{\"name\":\"n\",\"cni.dev/valid-attachments\":[{\"containerID\":\"c\"}]}",
	  CNI_ERR_INVALID_CONFIG, "cni.dev/valid-attachments[0].ifname: required key missing" },
	{ "{\"name\":\"n\",\"cni.dev/attachments\":[{\"containerID\":1,\"ifname\":\"e\"}]}",
	  CNI_ERR_INVALID_CONFIG, "cni.dev/attachments[0].containerID: expected a string" },
};

static void test_conf_errors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(conf_err_cases); i++)
		expect_conf_error(conf_err_cases[i].json, strlen(conf_err_cases[i].json),
				  conf_err_cases[i].code, conf_err_cases[i].msg);
}

static void test_conf_version_details(void **state)
{
	static const char json[] = "{\"cniVersion\":\"0.5.0\",\"name\":\"n\"}";
	struct cni_netconf *c = NULL;
	struct cni_error *err = NULL;

	assert_int_equal(cni_netconf_parse(json, strlen(json), &c, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INCOMPATIBLE_VERSION);
	assert_string_equal(err->details, "config is \"0.5.0\", plugin supports [\"0.1.0\" \"0.2.0\" "
					  "\"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]");
	cni_error_free(err);

	/* Error precedence as the reference: decoding, then version, then name. */
	static const char both[] = "{\"cniVersion\":\"0.5.0\",\"name\":\"../x\"}";

	err = NULL;
	assert_int_equal(cni_netconf_parse(both, strlen(both), &c, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INCOMPATIBLE_VERSION);
	cni_error_free(err);

	static const char bad_name[] = "{\"name\":\"a/b\"}";

	err = NULL;
	assert_int_equal(cni_netconf_parse(bad_name, strlen(bad_name), &c, &err), -1);
	assert_string_equal(err->details, "a/b");
	cni_error_free(err);

	/* Passing no error pointer is allowed. */
	assert_int_equal(cni_netconf_parse(bad_name, strlen(bad_name), &c, NULL), -1);
	assert_int_equal(cni_netconf_parse(NULL, 0, &c, NULL), -1);
	static const char bad_prev[] =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":{\"ips\":3}}";

	assert_int_equal(cni_netconf_parse(bad_prev, strlen(bad_prev), &c, NULL), -1);
}

static void test_conf_limits(void **state)
{
	size_t n = CNI_MAX_JSON_DEPTH + 8, len, i;
	char *deep = malloc(2 * n + 64), *p = deep;

	/* Nested beyond the depth limit. */
	p += sprintf(p, "{\"name\":\"n\",\"x\":");
	for (i = 0; i < n; i++)
		*p++ = '[';
	for (i = 0; i < n; i++)
		*p++ = ']';
	*p++ = '}';
	*p = '\0';
	expect_conf_error(deep, strlen(deep), CNI_ERR_DECODE, "too deep");

	/* At the limit it is fine (the object itself is one level). */
	p = deep;
	p += sprintf(p, "{\"name\":\"n\",\"x\":");
	for (i = 0; i < CNI_MAX_JSON_DEPTH - 2; i++)
		*p++ = '[';
	for (i = 0; i < CNI_MAX_JSON_DEPTH - 2; i++)
		*p++ = ']';
	*p++ = '}';
	*p = '\0';
	cni_netconf_free(must_parse_conf(deep, strlen(deep)));
	free(deep);

	/* Larger than stdin may be: refused before parsing. */
	len = CNI_MAX_STDIN + 1;
	char *huge = malloc(len + 1);

	memset(huge, ' ', len);
	memcpy(huge, "{\"name\":\"n\"}", 12);
	huge[len] = '\0';
	expect_conf_error(huge, len, CNI_ERR_DECODE, "too large");
	/* ... and exactly the limit is accepted (trailing whitespace is fine). */
	cni_netconf_free(must_parse_conf(huge, CNI_MAX_STDIN));
	free(huge);

	/* A NUL inside the input is not JSON; nor is a truncated document. */
	static const char nul[] = "{\"name\":\"n\"}\0{}";

	expect_conf_error(nul, sizeof(nul) - 1, CNI_ERR_DECODE, "invalid JSON");
	static const char trunc[] = "{\"name\":\"n\"}";

	expect_conf_error(trunc, 5, CNI_ERR_DECODE, "invalid JSON");
	/* Only len bytes count: the rest of the buffer is not read. */
	static const char longer[] = "{\"name\":\"n\"}garbage";
	struct cni_netconf *c = must_parse_conf(longer, 12);

	assert_int_equal(c->raw_len, 12);
	assert_string_equal(c->raw, "{\"name\":\"n\"}");
	cni_netconf_free(c);
}

/* ---- validators -------------------------------------------------------- */

static void test_validators(void **state)
{
	char long_name[300];

	assert_true(cni_valid_network_name("a"));
	assert_true(cni_valid_network_name("dbnet"));
	assert_true(cni_valid_network_name("a.b-c_d"));
	assert_true(cni_valid_network_name("0net"));
	memset(long_name, 'a', 255);
	long_name[255] = '\0';
	assert_true(cni_valid_network_name(long_name));
	long_name[255] = 'a';
	long_name[256] = '\0';
	assert_false(cni_valid_network_name(long_name));
	assert_false(cni_valid_network_name(""));
	assert_false(cni_valid_network_name(NULL));
	assert_false(cni_valid_network_name("."));
	assert_false(cni_valid_network_name(".."));
	assert_false(cni_valid_network_name("../x"));
	assert_false(cni_valid_network_name("a/b"));
	assert_false(cni_valid_network_name("a\\b"));
	assert_false(cni_valid_network_name("a b"));
	assert_false(cni_valid_network_name("-a"));

	assert_true(cni_valid_container_id("0123456789abcdef0123456789abcdef"));
	assert_true(cni_valid_container_id("k8s_POD.x-1"));
	assert_false(cni_valid_container_id(""));
	assert_false(cni_valid_container_id("_a"));
	assert_false(cni_valid_container_id("a;b"));
	assert_false(cni_valid_container_id("a/../b"));

	assert_true(cni_valid_ifname("eth0"));
	assert_true(cni_valid_ifname("net1.100"));
	assert_true(cni_valid_ifname("abcdefghijklmno")); /* 15 */
	assert_false(cni_valid_ifname("abcdefghijklmnop"));
	assert_false(cni_valid_ifname(""));
	assert_false(cni_valid_ifname(NULL));
	assert_false(cni_valid_ifname("."));
	assert_false(cni_valid_ifname(".."));
	assert_true(cni_valid_ifname("..."));
	assert_false(cni_valid_ifname("a/b"));
	assert_false(cni_valid_ifname("a:b"));
	assert_false(cni_valid_ifname("a b"));
	assert_false(cni_valid_ifname("a\tb"));
	assert_false(cni_valid_ifname("a\nb"));
	assert_false(cni_valid_ifname("a\rb"));
	assert_false(cni_valid_ifname("a\x01"));
	assert_false(cni_valid_ifname("a\xc2\xa0"));	 /* NO-BREAK SPACE */
	assert_false(cni_valid_ifname("a\xe3\x80\x80")); /* IDEOGRAPHIC SPACE */
	assert_true(cni_valid_ifname("caf\xc3\xa9"));

	assert_true(cni_valid_plugin_type("host-local"));
	assert_true(cni_valid_plugin_type("my.plugin"));
	assert_false(cni_valid_plugin_type(""));
	assert_false(cni_valid_plugin_type(NULL));
	assert_false(cni_valid_plugin_type("."));
	assert_false(cni_valid_plugin_type(".."));
	assert_false(cni_valid_plugin_type("../x"));
	assert_false(cni_valid_plugin_type("/bin/sh"));
	assert_false(cni_valid_plugin_type("a\nb"));
}

/* ---- field decoder ----------------------------------------------------- */

struct dec {
	bool b, b_present;
	int i, i_default;
	uint32_t u32;
	uint64_t u64;
	char *s;
	struct strv sv;
	struct ipaddr ip;
	struct ipnet net, cidr;
	char *mac;
	struct cni_routes routes;
	struct cni_dns dns;
	struct strv subnets; /* from the custom "ranges" */
};

static const struct cni_field range_fields[] = {
	{ .key = "subnet", .kind = CNI_FIELD_CIDR, .offset = 0, .flags = CNI_FIELD_REQUIRED },
	{ 0 },
};

/* [[{"subnet": CIDR}, ...], ...]: the host-local ranges shape, for nested error paths. */
static int decode_ranges(const struct cni_json *v, void *dst, const char *path, struct cni_error **err)
{
	struct strv *out = dst;

	if (!cni_json_is_array(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: expected an array", path);
	for (size_t i = 0; i < cni_json_array_len(v); i++) {
		const struct cni_json *set = cni_json_array_get(v, i);
		char *p = cni_json_path_index(path, i);

		for (size_t j = 0; j < cni_json_array_len(set); j++) {
			char *pp = cni_json_path_index(p, j);
			struct ipnet n;
			char buf[IPNET_STRLEN];
			int r = cni_json_decode(cni_json_array_get(set, j), range_fields, &n, pp,
						err);

			free(pp);
			if (r < 0) {
				free(p);
				return -1;
			}
			strv_push(out, ipnet_fmt(&n, buf));
		}
		free(p);
	}
	return 0;
}

static void free_ranges(void *dst)
{
	strv_free(dst);
}

static const struct cni_field dec_fields[] = {
	{ .key = "b",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct dec, b),
	  .present = offsetof(struct dec, b_present),
	  .flags = CNI_FIELD_HAS_PRESENT },
	{ .key = "i", .kind = CNI_FIELD_INT, .offset = offsetof(struct dec, i), .min = -5, .max = 5 },
	{ .key = "idef", .kind = CNI_FIELD_INT, .offset = offsetof(struct dec, i_default) },
	{ .key = "u32", .kind = CNI_FIELD_UINT32, .offset = offsetof(struct dec, u32) },
	{ .key = "u64", .kind = CNI_FIELD_UINT64, .offset = offsetof(struct dec, u64) },
	{ .key = "s",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct dec, s),
	  .flags = CNI_FIELD_REQUIRED | CNI_FIELD_NULL_OK },
	{ .key = "sv", .kind = CNI_FIELD_STRV, .offset = offsetof(struct dec, sv) },
	{ .key = "ip", .kind = CNI_FIELD_IP, .offset = offsetof(struct dec, ip) },
	{ .key = "net", .kind = CNI_FIELD_IPNET, .offset = offsetof(struct dec, net) },
	{ .key = "cidr", .kind = CNI_FIELD_CIDR, .offset = offsetof(struct dec, cidr) },
	{ .key = "mac",
	  .kind = CNI_FIELD_MAC,
	  .offset = offsetof(struct dec, mac),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "routes", .kind = CNI_FIELD_ROUTES, .offset = offsetof(struct dec, routes) },
	{ .key = "dns", .kind = CNI_FIELD_DNS, .offset = offsetof(struct dec, dns) },
	{ .key = "ranges",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = offsetof(struct dec, subnets),
	  .decode = decode_ranges,
	  .free = free_ranges },
	{ 0 },
};

static struct cni_json *must_parse_json(const char *s)
{
	struct cni_json *j = NULL;
	struct cni_error *err = NULL;

	if (cni_json_parse(s, strlen(s), &j, &err) < 0)
		fail_msg("json %s: %s", s, err->msg);
	return j;
}

static void test_decode_all_kinds(void **state)
{
	struct cni_json *j = must_parse_json(
		"{\"b\":false,\"i\":-5,\"u32\":4294967295,\"u64\":9223372036854775807,"
		"\"s\":\"x/y\",\"sv\":[\"a\",\"b\"],\"ip\":\"2001:DB8::1\",\"net\":\"198.18.0.7/24\","
		"\"cidr\":\"198.18.0.7/24\",\"mac\":\"AA:bb:CC:dd:EE:ff\",\"routes\":[{\"dst\":"
		"\"0.0.0.0/0\",\"gw\":\"198.18.0.1\",\"priority\":5,\"table\":0}],\"dns\":"
		"{\"nameservers\":[\"198.18.0.1\"],\"options\":[\"rotate\"]},\"ranges\":[[{\"subnet\":"
		"\"198.18.0.1/24\"}],[{\"subnet\":\"2001:db8::/64\"},{\"subnet\":\"198.19.0.0/16\"}]],"
		"\"unknown\":{\"ignored\":true}}");
	struct dec d = { .i_default = 42 };
	struct cni_error *err = NULL;
	char buf[IPNET_STRLEN];

	assert_int_equal(cni_json_decode(j, dec_fields, &d, "", &err), 0);
	assert_null(err);
	assert_false(d.b);
	assert_true(d.b_present);
	assert_int_equal(d.i, -5);
	assert_int_equal(d.i_default, 42); /* absent: default kept */
	assert_true(d.u32 == UINT32_MAX);
	assert_true(d.u64 == INT64_MAX);
	assert_string_equal(d.s, "x/y");
	assert_int_equal(d.sv.n, 2);
	assert_string_equal(ipaddr_fmt(&d.ip, buf), "2001:db8::1");
	assert_string_equal(ipnet_fmt(&d.net, buf), "198.18.0.7/24");
	assert_string_equal(ipnet_fmt(&d.cidr, buf), "198.18.0.0/24");
	assert_string_equal(d.mac, "aa:bb:cc:dd:ee:ff");
	assert_int_equal(d.routes.n, 1);
	assert_int_equal(d.routes.v[0].priority, 5);
	assert_true(d.routes.v[0].has_table);
	assert_false(d.routes.v[0].has_scope);
	assert_string_equal(d.dns.options.v[0], "rotate");
	assert_int_equal(d.subnets.n, 3);
	assert_string_equal(d.subnets.v[0], "198.18.0.0/24");
	assert_string_equal(d.subnets.v[2], "198.19.0.0/16");

	/* Decoding again over filled fields replaces (and frees) the old values. */
	assert_int_equal(cni_json_decode(j, dec_fields, &d, "", &err), 0);
	assert_int_equal(d.sv.n, 2);
	assert_int_equal(d.routes.n, 1);
	cni_fields_free(dec_fields, &d);
	assert_null(d.s);
	assert_null(d.mac);
	assert_int_equal(d.sv.n, 0);
	assert_int_equal(d.subnets.n, 0);
	cni_fields_free(dec_fields, &d); /* idempotent */
	cni_json_free(j);
}

static const struct dec_err_case {
	const char *json;
	const char *msg;
} dec_err_cases[] = {
	{ "{}", "cfg.s: required key missing" },
	{ "{\"s\":null}", "cfg.s: required key missing" },
	{ "{\"s\":\"a\\u0000b\"}", "cfg.s: string contains a NUL" },
	{ "{\"s\":\"x\",\"b\":null}", "cfg.b: expected a boolean, got null" },
	{ "{\"s\":\"x\",\"b\":\"true\"}", "cfg.b: expected a boolean, got a string" },
	{ "{\"s\":\"x\",\"i\":1.5}", "cfg.i: expected an integer, got a non-integer number" },
	{ "{\"s\":\"x\",\"i\":\"1\"}", "cfg.i: expected an integer, got a string" },
	{ "{\"s\":\"x\",\"i\":6}", "cfg.i: 6 out of range [-5, 5]" },
	{ "{\"s\":\"x\",\"i\":-6}", "cfg.i: -6 out of range [-5, 5]" },
	{ "{\"s\":\"x\",\"idef\":2147483648}", "cfg.idef: 2147483648 out of range" },
	{ "{\"s\":\"x\",\"idef\":-2147483649}", "cfg.idef: -2147483649 out of range" },
	{ "{\"s\":\"x\",\"u32\":-1}", "cfg.u32: -1 out of range [0, 4294967295]" },
	{ "{\"s\":\"x\",\"u32\":4294967296}", "cfg.u32: 4294967296 out of range" },
	{ "{\"s\":\"x\",\"u64\":9223372036854775808}", "cfg.u64:" },
	{ "{\"s\":\"x\",\"u64\":-1}", "cfg.u64: -1 out of range" },
	{ "{\"s\":5}", "cfg.s: expected a string, got an integer" },
	{ "{\"s\":\"x\",\"sv\":[\"a\",{}]}", "cfg.sv[1]: expected a string, got an object" },
	{ "{\"s\":\"x\",\"sv\":\"a\"}", "cfg.sv: expected an array of strings, got a string" },
	{ "{\"s\":\"x\",\"ip\":\"198.18.0.1/24\"}", "cfg.ip: invalid IP address \"198.18.0.1/24\"" },
	{ "{\"s\":\"x\",\"net\":\"198.18.0.1\"}", "cfg.net: invalid CIDR \"198.18.0.1\"" },
	{ "{\"s\":\"x\",\"cidr\":\"x\"}", "cfg.cidr: invalid CIDR \"x\"" },
	{ "{\"s\":\"x\",\"mac\":\"aa:bb:cc:dd:ee\"}", "cfg.mac: invalid MAC address" },
	{ "{\"s\":\"x\",\"routes\":{}}", "cfg.routes: expected an array of routes, got an object" },
	{ "{\"s\":\"x\",\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"gw\":\"198.18.0.1\"}]}",
	  "cfg.routes[1].dst: required key missing" },
	{ "{\"s\":\"x\",\"routes\":[{\"dst\":\"0.0.0.0/0\",\"table\":-1}]}",
	  "cfg.routes[0].table: -1 out of range" },
	{ "{\"s\":\"x\",\"dns\":{\"search\":[1]}}", "cfg.dns.search[0]: expected a string" },
	{ "{\"s\":\"x\",\"ranges\":[[{\"subnet\":\"198.18.0.0/24\"},{\"subnet\":\"x\"}]]}",
	  "cfg.ranges[0][1].subnet: invalid CIDR \"x\"" },
	{ "{\"s\":\"x\",\"ranges\":[[{}]]}", "cfg.ranges[0][0].subnet: required key missing" },
	{ "{\"s\":\"x\",\"ranges\":[[5]]}", "cfg.ranges[0][0]: expected an object, got an integer" },
	{ "{\"s\":\"x\",\"ranges\":null}", "cfg.ranges: expected an array" },
	{ "[]", "cfg: expected an object, got an array" },
	{ "7", "cfg: expected an object, got an integer" },
};

static void test_decode_errors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(dec_err_cases); i++) {
		struct cni_json *j = must_parse_json(dec_err_cases[i].json);
		/* Defaults the failure must release (leaks show up under ASan). */
		struct dec d = { .s = xstrdup("default"), .mac = xstrdup("00:00:00:00:00:01") };
		struct cni_error *err = NULL;

		strv_push(&d.sv, "default");
		/* Fill everything first so the failure has something to release. */
		if (cni_json_decode(j, dec_fields, &d, "cfg", &err) == 0)
			fail_msg("accepted: %s", dec_err_cases[i].json);
		if (err->code != CNI_ERR_INVALID_CONFIG || !strstr(err->msg, dec_err_cases[i].msg))
			fail_msg("%s: got %u \"%s\", want \"%s\"", dec_err_cases[i].json, err->code,
				 err->msg, dec_err_cases[i].msg);
		assert_null(d.s);
		assert_null(d.mac);
		assert_int_equal(d.sv.n, 0);
		assert_int_equal(d.routes.n, 0);
		assert_int_equal(d.subnets.n, 0);
		cni_error_free(err);
		cni_json_free(j);
	}
}

static void test_decode_absent_object(void **state)
{
	static const struct cni_field optional[] = {
		{ .key = "a", .kind = CNI_FIELD_STRING, .offset = 0 },
		{ 0 },
	};
	char *a = NULL;
	struct dec d = { .s = xstrdup("default") };
	struct cni_error *err = NULL;
	struct cni_json *j = must_parse_json("{\"o\":null}");

	/* Absent or null object: fine without required fields, missing otherwise. */
	assert_int_equal(cni_json_decode(NULL, optional, &a, "x", &err), 0);
	assert_int_equal(cni_json_decode(cni_json_get(j, "o"), optional, &a, "x", &err), 0);
	assert_null(a);
	assert_int_equal(cni_json_decode(NULL, dec_fields, &d, "x", &err), -1);
	assert_string_equal(err->msg, "x.s: required key missing");
	assert_null(d.s); /* released, as on any failure */
	cni_error_free(err);
	err = NULL;
	assert_int_equal(cni_json_decode(cni_json_get(j, "o"), dec_fields, &d, "", &err), -1);
	assert_string_equal(err->msg, "s: required key missing");
	cni_error_free(err);
	cni_json_free(j);
}

static void test_decode_value(void **state)
{
	struct cni_json *j = must_parse_json("[\"198.18.0.1\", 70000, \"aa-bb-cc-dd-ee-ff\"]");
	struct ipaddr ip;
	int port;
	char *mac = NULL;
	struct cni_error *err = NULL;

	assert_int_equal(cni_json_decode_value(cni_json_array_get(j, 0), CNI_FIELD_IP, 0, 0, &ip,
					       "a[0]", &err),
			 0);
	assert_int_equal(cni_json_decode_value(cni_json_array_get(j, 1), CNI_FIELD_INT, 1, 65535,
					       &port, "a[1]", &err),
			 -1);
	assert_string_equal(err->msg, "a[1]: 70000 out of range [1, 65535]");
	cni_error_free(err);
	err = NULL;
	assert_int_equal(cni_json_decode_value(cni_json_array_get(j, 2), CNI_FIELD_MAC, 0, 0, &mac,
					       "a[2]", &err),
			 0);
	assert_string_equal(mac, "aa:bb:cc:dd:ee:ff");
	cni_field_value_free(CNI_FIELD_MAC, &mac);
	assert_null(mac);
	assert_int_equal(cni_json_decode_value(cni_json_array_get(j, 0), CNI_FIELD_CUSTOM, 0, 0,
					       &mac, "a[0]", &err),
			 -1);
	assert_int_equal(err->code, CNI_ERR_INTERNAL);
	cni_error_free(err);
	cni_json_free(j);
}

/* ---- opaque JSON ------------------------------------------------------- */

static int collect_keys(const char *key, const struct cni_json *v, void *userdata,
			struct cni_error **err)
{
	struct strv *keys = userdata;

	strv_push(keys, key);
	if (strcmp(key, "stop") == 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "stopped at %s", key);
	return 0;
}

/* ---- Go's encoding/json key matching (docs/config-decoding.md) --------- */

struct fold_t {
	int ab, AB, port;
	char *name;
};

static const struct cni_field fold_fields[] = {
	{ .key = "ab",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct fold_t, ab),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "AB",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct fold_t, AB),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "hostPort",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct fold_t, port),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "skipName",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct fold_t, name),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static struct fold_t fold_decode(const char *json)
{
	struct cni_json *j = must_parse_json(json);
	struct cni_error *err = NULL;
	struct fold_t t = { -1, -1, -1, NULL };

	if (cni_json_decode(j, fold_fields, &t, "", &err) < 0)
		fail_msg("decode %s: %s", json, err->msg);
	cni_json_free(j);
	return t;
}

static void test_go_key_fold(void **state)
{
	static const struct {
		const char *json;
		int port;
	} port_cases[] = {
		/* Case-insensitive match. */
		{ "{\"HOSTPORT\":1}", 1 },
		/* Duplicates under different cases: the last one in the document wins. */
		{ "{\"hostPort\":1,\"HostPort\":2}", 2 },
		{ "{\"HostPort\":2,\"hostPort\":1}", 1 },
		/* Exact duplicates: the last one wins too. */
		{ "{\"hostPort\":1,\"hostPort\":3}", 3 },
		/* Interleaved repeats: still the document's last occurrence. */
		{ "{\"HostPort\":1,\"hostPort\":2,\"HostPort\":3}", 3 },
		{ "{\"hostPort\":1,\"HostPort\":2,\"hostPort\":3,\"HostPort\":4}", 4 },
		{ "{\"HostPort\":2,\"hostPort\":1,\"HostPort\":null}", 1 },
		{ "{\"HostPort\":2,\"hostPort\":1,\"Host\\u0050ort\":6,\"x\":[{\"a\":1}]}", 6 },
	};
	struct fold_t t;

	for (size_t i = 0; i < ARRAY_SIZE(port_cases); i++) {
		t = fold_decode(port_cases[i].json);
		assert_int_equal(t.port, port_cases[i].port);
	}
	/* null is a no-op on a number or string: an earlier value stays. */
	t = fold_decode("{\"hostPort\":5,\"HOSTPORT\":null,\"skipname\":\"x\",\"SkipName\":null}");
	assert_int_equal(t.port, 5);
	assert_string_equal(t.name, "x");
	free(t.name);
	/* An exact match to one field is never taken by another field's fold. */
	t = fold_decode("{\"AB\":1,\"ab\":2}");
	assert_int_equal(t.AB, 1);
	assert_int_equal(t.ab, 2);
	t = fold_decode("{\"Ab\":7}");
	assert_int_equal(t.ab, 7); /* the first field of the table, as Go */
	assert_int_equal(t.AB, -1);
	/* KELVIN SIGN and LONG S fold to k and s, as in Go; dotted I does not. */
	assert_true(cni_json_key_fold_equal("\xe2\x84\xaa"
					    "ey",
					    "key"));
	assert_true(cni_json_key_fold_equal("\xc5\xbf"
					    "ubnet",
					    "Subnet"));
	assert_false(cni_json_key_fold_equal("\xc4\xb0ps", "ips"));
	assert_false(cni_json_key_fold_equal("ips", "ip"));
	assert_false(cni_json_key_fold_equal("", "a"));
	t = fold_decode("{\"ho\xc5\xbftport\":9}");
	assert_int_equal(t.port, 9);
}

static void test_go_key_fold_get(void **state)
{
	struct cni_json *j = must_parse_json("{\"Cni\":{\"IPs\":[\"198.18.0.9\"]},\"k\":1,\"K\":2}");
	struct cni_json *nested = must_parse_json(
		"[{\"a\":{\"x\":1,\"X\":2,\"x\":{\"y\":1,\"Y\":2,\"y\":3}},\"A\":0,\"a\":{\"X\":5,\"x\":6,\"X\":{\"Y\":7,\"y\":8,\"Y\":9}}}]");
	char *v;

	/* The last "a" (an exact repeat) holds, and inside it the last "X". */
	v = cni_json_serialize(
		cni_json_get(cni_json_get(cni_json_get(cni_json_array_get(nested, 0), "a"), "x"),
			     "y"));
	assert_string_equal(v, "9");
	free(v);
	cni_json_free(nested);

	assert_true(cni_json_is_array(cni_json_get(cni_json_get(j, "cni"), "ips")));
	/* Struct fields fold; map keys (cni_json_get_exact) stay verbatim. */
	assert_null(cni_json_get_exact(j, "cni"));
	assert_non_null(cni_json_get_exact(j, "Cni"));
	v = cni_json_serialize(cni_json_get(j, "k"));
	assert_string_equal(v, "2");
	free(v);
	cni_json_free(j);
}

static void test_go_key_fold_netconf(void **state)
{
	static const char conf[] =
		"{\"CNIVersion\":\"1.0.0\",\"Name\":\"n1\",\"Type\":\"portmap\","
		"\"IPMasq\":true,\"IPAM\":{\"Type\":\"host-local\"},"
		"\"DNS\":{\"Nameservers\":[\"198.18.0.53\"]},"
		"\"RuntimeConfig\":{\"PortMappings\":[{\"HostPort\":18400,\"ContainerPort\":80,"
		"\"Protocol\":\"tcp\",\"HostIP\":\"\"},{\"hostport\":18401,\"CONTAINERPORT\":81,"
		"\"protocol\":\"UDP\",\"HostIp\":\"198.18.0.1\"}],"
		"\"Bandwidth\":{\"IngressRate\":1000,\"EgressBurst\":5},\"MAC\":\"02:00:00:00:00:09\","
		"\"IPs\":[\"198.18.0.9/24\"],\"Aliases\":[\"a\"],\"DeviceID\":\"d\"},"
		"\"Args\":{\"CNI\":{\"IPs\":[\"198.18.0.10\"],\"Mac\":\"02:00:00:00:00:0a\"}},"
		"\"PrevResult\":{\"CNIVersion\":\"1.0.0\",\"Interfaces\":[{\"Name\":\"eth0\"}],"
		"\"IPs\":[{\"Address\":\"198.18.0.9/24\",\"Interface\":0}],"
		"\"Routes\":[{\"Dst\":\"0.0.0.0/0\",\"GW\":\"198.18.0.1\"}]}}";
	struct cni_netconf *c = NULL;
	struct cni_error *err = NULL;

	if (cni_netconf_parse(conf, strlen(conf), &c, &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(c->version, CNI_V100);
	assert_string_equal(c->name, "n1");
	assert_string_equal(c->type, "portmap");
	assert_true(c->ip_masq);
	assert_string_equal(c->ipam_type, "host-local");
	assert_int_equal(c->dns.nameservers.n, 1);
	assert_int_equal(c->rc.n_port_mappings, 2);
	assert_int_equal(c->rc.port_mappings[0].host_port, 18400);
	assert_int_equal(c->rc.port_mappings[0].container_port, 80);
	assert_string_equal(c->rc.port_mappings[0].protocol, "tcp");
	assert_int_equal(c->rc.port_mappings[0].host_ip.family, 0);
	assert_int_equal(c->rc.port_mappings[1].host_port, 18401);
	assert_string_equal(c->rc.port_mappings[1].protocol, "udp");
	assert_int_equal(c->rc.port_mappings[1].host_ip.family, AF_INET);
	assert_true(c->rc.has_bandwidth);
	assert_int_equal(c->rc.bandwidth.ingress_rate, 1000);
	assert_int_equal(c->rc.bandwidth.egress_burst, 5);
	assert_string_equal(c->rc.mac, "02:00:00:00:00:09");
	assert_int_equal(c->rc.ips.n, 1);
	assert_int_equal(c->rc.aliases.n, 1);
	assert_string_equal(c->rc.device_id, "d");
	assert_int_equal(c->args_ips.n, 1);
	assert_string_equal(c->args_mac, "02:00:00:00:00:0a");
	assert_non_null(c->prev_result);
	assert_int_equal(c->prev_result->n_ifaces, 1);
	assert_int_equal(c->prev_result->n_ips, 1);
	assert_int_equal(c->prev_result->ips[0].interface, 0);
	assert_int_equal(c->prev_result->routes.n, 1);
	cni_netconf_free(c);
}

static void test_netconf_lenient(void **state)
{
	static const char *const bad[] = {
		"\"runtimeConfig\":\"garbage\"",
		"\"RuntimeConfig\":{\"portMappings\":[{\"hostPort\":0}]}",
		"\"runtimeConfig\":{\"mac\":\"zz\",\"ips\":[\"x\"]}",
		"\"args\":[1]",
		"\"args\":{\"cni\":{\"ips\":[\"not-an-ip\"]}}",
		"\"prevResult\":\"x\"",
		"\"prevResult\":{\"ips\":[{\"address\":\"bad\"}]}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *conf = NULL;
		struct cni_netconf *c = NULL;
		struct cni_error *err = NULL;

		assert_true(asprintf(&conf,
				     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",%s}",
				     bad[i]) > 0);
		assert_int_equal(cni_netconf_parse(conf, strlen(conf), &c, &err), -1);
		assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
		cni_error_freep(&err);
		if (cni_netconf_parse_ex(conf, strlen(conf), CNI_NETCONF_LENIENT, &c, &err) < 0)
			fail_msg("%s: %s", bad[i], err->msg);
		assert_null(c->prev_result);
		assert_int_equal(c->rc.n_port_mappings, 0);
		assert_null(c->rc.mac);
		assert_int_equal(c->args_ips.n, 0);
		/* Gone from root too: plugin code reading it never sees it. */
		assert_null(cni_json_get(cni_netconf_root(c), "runtimeConfig"));
		assert_null(cni_json_get(cni_netconf_root(c), "args"));
		assert_null(cni_json_get(cni_netconf_root(c), "prevResult"));
		cni_netconf_free(c);
		free(conf);
	}

	/* Lenient about those keys only: a config naming no network still fails. */
	{
		static const char noname[] = "{\"cniVersion\":\"1.0.0\",\"type\":\"t\",\"args\":1}";
		struct cni_netconf *c = NULL;
		struct cni_error *err = NULL;

		assert_int_equal(cni_netconf_parse_ex(noname, strlen(noname), CNI_NETCONF_LENIENT,
						      &c, &err),
				 -1);
		assert_string_equal(err->msg, "missing network name");
		cni_error_free(err);
	}
}

static void test_json_api(void **state)
{
	struct cni_json *j = must_parse_json(
		"{\"z\":null,\"a\":[1,null,\"s\"],\"m\":{\"k\":\"v/w\"},\"stop\":1,\"after\":2}");
	const struct cni_json *z = cni_json_get(j, "z"), *a = cni_json_get(j, "a");
	struct strv keys = { 0 };
	struct cni_error *err = NULL;
	char *s;

	assert_non_null(z);
	assert_true(cni_json_is_null(z));
	assert_false(cni_json_is_object(z));
	assert_null(cni_json_string(z));
	assert_null(cni_json_get(z, "x"));
	assert_false(cni_json_is_null(cni_json_get(j, "missing")));
	assert_true(cni_json_is_array(a));
	assert_true(cni_json_is_null(cni_json_array_get(a, 1)));
	assert_true(cni_json_is_string(cni_json_array_get(a, 2)));
	assert_false(cni_json_is_string(cni_json_array_get(a, 0)));
	assert_int_equal(cni_json_array_len(cni_json_get(j, "m")), 0);
	assert_null(cni_json_get(a, "k"));
	assert_false(cni_json_is_array(NULL));
	assert_false(cni_json_is_object(NULL));

	s = cni_json_serialize(cni_json_get(j, "m"));
	assert_string_equal(s, "{\"k\":\"v/w\"}");
	free(s);
	s = cni_json_serialize(z);
	assert_string_equal(s, "null");
	free(s);
	assert_null(cni_json_serialize(NULL));

	/* Document order, stopping at the first failure. */
	assert_int_equal(cni_json_object_foreach(j, collect_keys, &keys, &err), -1);
	assert_int_equal(keys.n, 4);
	assert_string_equal(keys.v[0], "z");
	assert_string_equal(keys.v[3], "stop");
	assert_string_equal(err->msg, "stopped at stop");
	cni_error_free(err);
	err = NULL;
	strv_free(&keys);
	assert_int_equal(cni_json_object_foreach(a, collect_keys, &keys, NULL), 0);
	assert_int_equal(keys.n, 0);

	s = cni_json_path_key("", "a");
	assert_string_equal(s, "a");
	free(s);
	s = cni_json_path_key(NULL, "a");
	assert_string_equal(s, "a");
	free(s);
	s = cni_json_path_key("ipam.ranges[0][1]", "subnet");
	assert_string_equal(s, "ipam.ranges[0][1].subnet");
	free(s);
	s = cni_json_path_index("ipam.ranges", 3);
	assert_string_equal(s, "ipam.ranges[3]");
	free(s);
	cni_json_free(j);
	cni_json_free(NULL);

	/* Standalone documents: scalars too, but nothing after them. */
	j = must_parse_json("12");
	s = cni_json_serialize(j);
	assert_string_equal(s, "12");
	free(s);
	cni_json_free(j);
	j = must_parse_json("null");
	assert_true(cni_json_is_null(j));
	cni_json_free(j);
	assert_int_equal(cni_json_parse("12 13", 5, &j, &err), -1);
	assert_int_equal(err->code, CNI_ERR_DECODE);
	cni_error_free(err);
	err = NULL;
	assert_int_equal(cni_json_parse("{\"a\":1", 6, &j, &err), -1);
	assert_int_equal(err->code, CNI_ERR_DECODE);
	cni_error_free(err);
}

static void test_json_quote(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "\"\"" },
		{ "plain /path", "\"plain /path\"" },
		{ "<a&b>", "\"\\u003ca\\u0026b\\u003e\"" },
		{ "q\"b\\s", "\"q\\\"b\\\\s\"" },
		{ "\n\r\t\b\f\x01\x1f\x7f", "\"\\n\\r\\t\\u0008\\u000c\\u0001\\u001f\x7f\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		{ "\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\"" },
		{ "a\xffz", "\"a\\ufffdz\"" },
		{ "\xc3", "\"\\ufffd\"" },
		{ "\xc0\x80", "\"\\ufffd\\ufffd\"" },			    /* overlong */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	    /* surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* > U+10FFFF */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *q = cni_json_quote(cases[i].in);

		assert_string_equal(q, cases[i].out);
		free(q);
	}
	char *q = cni_json_quote(NULL);

	assert_string_equal(q, "\"\"");
	free(q);
}

static void test_mac_parse(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "00:11:22:33:44:55", "00:11:22:33:44:55" },
		{ "AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff" },
		{ "aa-bb-cc-dd-ee-ff", "aa:bb:cc:dd:ee:ff" },
		{ "aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff" },
		{ "aa:bb-cc:dd:ee:ff", NULL },
		{ "aa:bb:cc:dd:ee", NULL },
		{ "aa:bb:cc:dd:ee:ff:00:11", NULL },
		{ "aa:bb:cc:dd:ee:fg", NULL },
		{ "aabb.ccdd-eeff", NULL },
		{ "aabbccddeeff", NULL },
		{ " aa:bb:cc:dd:ee:ff", NULL },
		{ "", NULL },
	};
	char buf[CNI_MAC_STRLEN];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = cni_mac_parse(cases[i].in, buf);

		if (cases[i].out) {
			assert_int_equal(r, 0);
			assert_string_equal(buf, cases[i].out);
		} else if (r != -1) {
			fail_msg("accepted MAC \"%s\"", cases[i].in);
		}
	}
	assert_int_equal(cni_mac_parse(NULL, buf), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_result_golden),
		cmocka_unit_test(test_result_matches_installed_reference),
		cmocka_unit_test(test_result_build_print),
		cmocka_unit_test(test_result_print_errors),
		cmocka_unit_test(test_result_dup_copy),
		cmocka_unit_test(test_result_parse_forms),
		cmocka_unit_test(test_result_parse_errors),
		cmocka_unit_test(test_conf_spec_bridge),
		cmocka_unit_test(test_conf_spec_chained),
		cmocka_unit_test(test_conf_gc_attachments),
		cmocka_unit_test(test_conf_kitchen_sink),
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_conf_version_details),
		cmocka_unit_test(test_conf_limits),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_decode_all_kinds),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_decode_absent_object),
		cmocka_unit_test(test_decode_value),
		cmocka_unit_test(test_json_api),
		cmocka_unit_test(test_go_key_fold),
		cmocka_unit_test(test_go_key_fold_get),
		cmocka_unit_test(test_go_key_fold_netconf),
		cmocka_unit_test(test_netconf_lenient),
		cmocka_unit_test(test_json_quote),
		cmocka_unit_test(test_mac_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
