/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CNI_ARGS parsing with the reference's rules (Go types.LoadArgs): exact
 * pairs, case-sensitive keys, unknown keys refused unless IgnoreUnknown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../pkg/types.h"

static const char *const known_ip_mac[] = { "IP", "MAC", NULL };

static void must_parse(const char *s, struct cni_env_args *a)
{
	struct cni_error *err = NULL;

	if (cni_env_args_parse(s, a, &err) < 0)
		fail_msg("CNI_ARGS \"%s\": %s", s, err->msg);
	assert_null(err);
}

static void expect_parse_error(const char *s, const char *msg)
{
	struct cni_env_args a = { .n = 99 };
	struct cni_error *err = NULL;

	if (cni_env_args_parse(s, &a, &err) == 0) {
		cni_env_args_free(&a);
		fail_msg("accepted CNI_ARGS \"%s\"", s);
	}
	assert_int_equal(a.n, 99); /* untouched on failure */
	assert_int_equal(err->code, CNI_ERR_INVALID_ENV);
	assert_string_equal(err->msg, msg);
	cni_error_free(err);
}

static void test_empty(void **state)
{
	struct cni_env_args a;

	must_parse(NULL, &a);
	assert_int_equal(a.n, 0);
	assert_false(a.ignore_unknown);
	assert_null(cni_env_args_get(&a, "IP"));
	assert_int_equal(cni_env_args_check(&a, known_ip_mac, NULL), 0);
	cni_env_args_free(&a);
	must_parse("", &a);
	assert_int_equal(a.n, 0);
	cni_env_args_free(&a);
}

static void test_pairs(void **state)
{
	struct cni_env_args a;

	must_parse("IP=198.18.0.5;MAC=0a:58:c6:12:00:05;GATEWAY=;IP=198.18.0.6", &a);
	assert_int_equal(a.n, 4);
	assert_string_equal(a.v[0].key, "IP");
	assert_string_equal(a.v[0].value, "198.18.0.5");
	/* The last value wins, as the reference's field assignment does. */
	assert_string_equal(cni_env_args_get(&a, "IP"), "198.18.0.6");
	assert_string_equal(cni_env_args_get(&a, "MAC"), "0a:58:c6:12:00:05");
	assert_string_equal(cni_env_args_get(&a, "GATEWAY"), "");
	/* Keys are Go field names: case matters. */
	assert_null(cni_env_args_get(&a, "ip"));
	assert_null(cni_env_args_get(&a, "Mac"));
	cni_env_args_free(&a);
	assert_int_equal(a.n, 0);
	cni_env_args_free(&a); /* idempotent */
}

static void test_invalid_pairs(void **state)
{
	expect_parse_error("IP", "ARGS: invalid pair \"IP\"");
	expect_parse_error("IP=1=2", "ARGS: invalid pair \"IP=1=2\"");
	expect_parse_error("A=1;;B=2", "ARGS: invalid pair \"\"");
	expect_parse_error("A=1;", "ARGS: invalid pair \"\"");
	expect_parse_error(";A=1", "ARGS: invalid pair \"\"");
	expect_parse_error("A=1;B", "ARGS: invalid pair \"B\"");
	expect_parse_error("K8S_POD_NAME=a=b", "ARGS: invalid pair \"K8S_POD_NAME=a=b\"");
	expect_parse_error("A\"\\\x01\n\xc3\xa9\xff",
			   "ARGS: invalid pair \"A\\\"\\\\\\x01\\n\xc3\xa9\\xff\"");
	expect_parse_error("IgnoreUnknown=yes",
			   "ARGS: error parsing value of pair \"IgnoreUnknown=yes\": boolean "
			   "unmarshal error: invalid input yes");
	expect_parse_error("IgnoreUnknown=",
			   "ARGS: error parsing value of pair \"IgnoreUnknown=\": boolean "
			   "unmarshal error: invalid input ");
	expect_parse_error("IgnoreUnknown=TRUE;IgnoreUnknown=On",
			   "ARGS: error parsing value of pair \"IgnoreUnknown=On\": boolean "
			   "unmarshal error: invalid input on");
}

static void test_ignore_unknown_values(void **state)
{
	static const struct {
		const char *s;
		bool ignore;
	} cases[] = {
		{ "IgnoreUnknown=1", true },
		{ "IgnoreUnknown=true", true },
		{ "IgnoreUnknown=TRUE", true },
		{ "IgnoreUnknown=True", true },
		{ "IgnoreUnknown=0", false },
		{ "IgnoreUnknown=false", false },
		{ "IgnoreUnknown=FaLsE", false },
		{ "IgnoreUnknown=1;IgnoreUnknown=0", false },
		{ "IgnoreUnknown=0;IgnoreUnknown=1", true },
		/* Not the field name: just another (unknown) key. */
		{ "ignoreunknown=1", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cni_env_args a;

		must_parse(cases[i].s, &a);
		if (a.ignore_unknown != cases[i].ignore)
			fail_msg("\"%s\": ignore_unknown %d", cases[i].s, a.ignore_unknown);
		cni_env_args_free(&a);
	}
}

static void test_unknown_keys(void **state)
{
	static const char kubelet[] = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
				      "K8S_POD_INFRA_CONTAINER_ID=0123abcd;K8S_POD_UID=u-1";
	struct cni_env_args a;
	struct cni_error *err = NULL;

	/* What kubelet sends: accepted thanks to IgnoreUnknown. */
	must_parse(kubelet, &a);
	assert_true(a.ignore_unknown);
	assert_int_equal(cni_env_args_check(&a, known_ip_mac, &err), 0);
	assert_null(err);
	assert_string_equal(cni_env_args_get(&a, "K8S_POD_NAME"), "web-0");
	cni_env_args_free(&a);

	/* The K8S_POD_* keys are not implicitly known. */
	must_parse("K8S_POD_NAME=web-0;IP=198.18.0.5;FOO=a\"b", &a);
	assert_int_equal(cni_env_args_check(&a, known_ip_mac, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INVALID_ENV);
	assert_string_equal(err->msg, "ARGS: unknown args [\"K8S_POD_NAME=web-0\" \"FOO=a\\\"b\"]");
	cni_error_free(err);
	err = NULL;

	/* IgnoreUnknown itself is always known; NULL known list means nothing else is. */
	assert_int_equal(cni_env_args_check(&a, NULL, &err), -1);
	assert_string_equal(err->msg, "ARGS: unknown args [\"K8S_POD_NAME=web-0\" \"IP=198.18.0.5\" "
				      "\"FOO=a\\\"b\"]");
	cni_error_free(err);
	cni_env_args_free(&a);

	must_parse("IgnoreUnknown=false;IP=198.18.0.5", &a);
	assert_int_equal(cni_env_args_check(&a, known_ip_mac, NULL), 0);
	assert_int_equal(cni_env_args_check(&a, NULL, NULL), -1);
	cni_env_args_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),	      cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_invalid_pairs), cmocka_unit_test(test_ignore_unknown_values),
		cmocka_unit_test(test_unknown_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
