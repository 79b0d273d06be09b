/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkg/sha512: FIPS 180-4 test vectors (one block, the two-block padding
 * boundary, a million bytes) and the reference's derived names: the ifb
 * the reference bandwidth plugin 1.1.1 created for network "bwnet",
 * container "c1" was bwp459546d14214.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../pkg/sha512.h"

static void hex(const void *data, size_t n, char out[129])
{
	uint8_t d[SHA512_DIGEST_LEN];

	sha512(data, n, d);
	for (int i = 0; i < SHA512_DIGEST_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_vectors(void **state)
{
	char h[129];
	const char *two =
		"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	char *m;

	(void)state;
	hex("", 0, h);
	assert_string_equal(h, "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
			       "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
	hex("abc", 3, h);
	assert_string_equal(h, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
			       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	/* 112 bytes: the length no longer fits the first padded block. */
	hex(two, strlen(two), h);
	assert_string_equal(h, "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
			       "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
	m = malloc(1000000);
	assert_non_null(m);
	memset(m, 'a', 1000000);
	hex(m, 1000000, h);
	free(m);
	assert_string_equal(h, "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
			       "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
}

static void test_names(void **state)
{
	char n[16];

	(void)state;
	sha512_name("bwp", "bwnetc1", 7, 15, n);
	assert_string_equal(n, "bwp459546d14214");
	sha512_name("bwp", "", 0, 15, n);
	assert_string_equal(n, "bwpcf83e1357eef");
	sha512_name("bwp", "x", 1, 3, n);
	assert_string_equal(n, "bwp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
