/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkg/xtref: the reference's chain names, as Debian's 1.1.1 created them
 * (bridge ipMasq + portmap, network "swnet"): container "ctr1" got
 * CNI-DN-d24564014930fd7453db3 and CNI-d24564014930fd7453db3928, and the
 * reference's DEL of a cnic container "ctr2" looked for
 * CNI-485327df019e8b7f72cd6552.  A name that differs finds nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../pkg/xtref.h"

static void test_names(void **state)
{
	char n[29];

	(void)state;
	xtref_dnat_chain("swnet", "ctr1", n);
	assert_string_equal(n, "CNI-DN-d24564014930fd7453db3");
	xtref_masq_chain("swnet", "ctr1", n);
	assert_string_equal(n, "CNI-d24564014930fd7453db3928");
	xtref_masq_chain("swnet", "ctr2", n);
	assert_string_equal(n, "CNI-485327df019e8b7f72cd6552");
	/* iptables' limit: 28 characters, whatever the inputs. */
	xtref_dnat_chain("a-rather-long-network-name-of-many-characters",
			 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", n);
	assert_int_equal(strlen(n), 28);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
