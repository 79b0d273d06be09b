/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sysctl name handling (the reference's dotted-vs-slash rule, refusal of
 * names that climb out of /proc/sys or out of net/) and reads.  Nothing here
 * writes a sysctl: writes are covered by the integration tests, inside
 * throwaway namespaces.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../pkg/sysctl.h"

static void expect_path(const char *name, bool net_only, const char *want)
{
	struct cni_error *err = NULL;
	char *path = NULL;

	if (sysctl_path(name, net_only, &path, &err) < 0)
		fail_msg("sysctl_path(\"%s\") failed: %s", name, err->msg);
	assert_null(err);
	assert_string_equal(path, want);
	free(path);
}

static void expect_refused(const char *name, bool net_only)
{
	struct cni_error *err = NULL;
	char *path = NULL;

	if (sysctl_path(name, net_only, &path, &err) == 0)
		fail_msg("sysctl_path(\"%s\") accepted as %s", name, path);
	assert_null(path);
	assert_non_null(err);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err->msg, name));
	cni_error_free(err);
}

static void test_dotted_names(void **state)
{
	expect_path("net.ipv4.ip_forward", true, "/proc/sys/net/ipv4/ip_forward");
	expect_path("net.ipv6.conf.all.forwarding", true, "/proc/sys/net/ipv6/conf/all/forwarding");
	/* The first separator is a dot: a slash in the name stands for a dot (VLAN names). */
	expect_path("net.ipv4.conf.eth0/100.rp_filter", true,
		    "/proc/sys/net/ipv4/conf/eth0.100/rp_filter");
	expect_path("kernel.ostype", false, "/proc/sys/kernel/ostype");
}

static void test_slash_names(void **state)
{
	/* The first separator is a slash: taken literally, dots stay dots. */
	expect_path("net/ipv4/conf/eth0.100/rp_filter", true,
		    "/proc/sys/net/ipv4/conf/eth0.100/rp_filter");
	expect_path("net/ipv6/conf/veth1a2b3c4d/accept_ra", true,
		    "/proc/sys/net/ipv6/conf/veth1a2b3c4d/accept_ra");
	expect_path("net", false, "/proc/sys/net");
}

static void test_refused(void **state)
{
	expect_refused("", false);
	expect_refused("net/../kernel/hostname", false);
	expect_refused("net.ipv4.conf.//.ip_forward", false); /* "/" becomes ".": a ".." */
	expect_refused("net.ipv4.conf....rp_filter", false);  /* empty components */
	expect_refused("net/ipv4/./ip_forward", false);
	expect_refused("/net/ipv4/ip_forward", false); /* empty first component */
	expect_refused("net/ipv4/", false);
	expect_refused("net//ipv4", false);
	expect_refused("net.ipv4.conf.eth0\n.rp_filter", false);
	/* Not a network sysctl where one is required. */
	expect_refused("kernel.hostname", true);
	expect_refused("kernel/hostname", true);
	expect_refused("network.x", true);
	expect_refused("net", true);
}

static void test_get(void **state)
{
	struct cni_error *err = NULL;
	char *v = NULL;

	assert_int_equal(sysctl_get("kernel.ostype", &v, &err), 0);
	assert_null(err);
	/* The trailing newline is gone. */
	assert_string_equal(v, "Linux");
	free(v);

	assert_int_equal(sysctl_get("kernel/cnic_no_such_sysctl", &v, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->errnum, ENOENT);
	assert_non_null(strstr(err->msg, "/proc/sys/kernel/cnic_no_such_sysctl"));
	cni_error_free(err);
}

static void test_net_names_checked_first(void **state)
{
	struct cni_error *err = NULL;
	char *v = NULL;

	/* Refused before anything is opened, let alone written. */
	assert_int_equal(sysctl_set_net(NULL, "kernel.hostname", "x", &err), -1);
	assert_non_null(err);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	cni_error_free(err);
	err = NULL;
	assert_int_equal(sysctl_get_net(NULL, "net/../kernel/ostype", &v, &err), -1);
	assert_null(v);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	cni_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dotted_names),
		cmocka_unit_test(test_slash_names),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_net_names_checked_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
