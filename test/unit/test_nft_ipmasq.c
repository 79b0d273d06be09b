/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkg/ipmasq's element bookkeeping against the kernel, in a network
 * namespace of the test's own (unshare at start; root needed, else the
 * tests skip).  Traffic is tested by test/integration/t-ipmasq.sh.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../pkg/ipmasq.h"
#include "../../pkg/nft.h"

#define TBL "cnic_ipmasq"

static bool have_netns;

#define must(call, errv)                                                                           \
	do {                                                                                       \
		if ((call) < 0)                                                                    \
			fail_msg("%s: %s (%s)", #call, (errv) ? (errv)->msg : "?",                 \
				 (errv) && (errv)->details ? (errv)->details : "");                \
	} while (0)

static void skip_without_netns(void)
{
	if (!have_netns)
		skip();
}

static struct cni_ip ip(const char *cidr)
{
	struct cni_ip r = { .interface = -1 };

	if (ipnet_parse(cidr, &r.address) < 0)
		fail_msg("bad cidr %s", cidr);
	return r;
}

/* Number of elements in set carrying comment tag (any comment if NULL). */
static size_t count(const char *set, const char *tag)
{
	struct cni_error *err = NULL;
	struct nft_elem_list l = { 0 };
	struct nft *n = NULL;
	size_t c = 0;

	must(nft_open(&n, &err), err);
	must(nft_list_elems(n, NFPROTO_INET, TBL, set, &l, &err), err);
	for (size_t i = 0; i < l.n; i++)
		c += !tag || (l.v[i].comment && strcmp(l.v[i].comment, tag) == 0);
	nft_elem_list_free(&l);
	nft_close(n);
	return c;
}

static size_t total(void)
{
	return count("masq4", NULL) + count("masq6", NULL);
}

static void test_add_check_del(void **state)
{
	struct cni_ip ips[] = { ip("198.18.0.5/24"), ip("2001:db8::5/64") };
	struct cni_error *err = NULL;

	skip_without_netns();
	/* DEL before anything exists: fine. */
	must(ipmasq_del("net1", "ctr1", "eth0", &err), err);
	must(ipmasq_add("net1", "ctr1", "eth0", ips, 2, &err), err);
	assert_int_equal(count("masq4", "net1:ctr1:eth0"), 1);
	assert_int_equal(count("masq6", "net1:ctr1:eth0"), 1);
	/* The subnets' shared, untagged elements. */
	assert_int_equal(count("subnet4", NULL), 1);
	assert_int_equal(count("subnet6", NULL), 1);
	must(ipmasq_check("net1", "ctr1", "eth0", ips, 2, &err), err);

	/* CHECK as another attachment fails, naming the address. */
	assert_int_equal(ipmasq_check("net1", "ctr1", "eth1", ips, 2, &err), -1);
	assert_non_null(strstr(err->msg, "198.18.0.5/24"));
	cni_error_free(err);
	err = NULL;

	/* Re-ADD is idempotent. */
	must(ipmasq_add("net1", "ctr1", "eth0", ips, 2, &err), err);
	assert_int_equal(total(), 2);
	assert_int_equal(count("subnet4", NULL), 1);

	/* DEL without addresses removes exactly this attachment's elements. */
	must(ipmasq_add("net1", "ctr2", "eth0", (struct cni_ip[]){ ip("198.18.0.6/24") }, 1, &err),
	     err);
	must(ipmasq_del("net1", "ctr1", "eth0", &err), err);
	assert_int_equal(total(), 1);
	assert_int_equal(count("masq4", "net1:ctr2:eth0"), 1);
	/* DEL leaves the shared subnet elements (GC's job). */
	assert_int_equal(count("subnet4", NULL), 1);
	assert_int_equal(ipmasq_check("net1", "ctr1", "eth0", ips, 2, &err), -1);
	cni_error_free(err);
	err = NULL;
	/* Twice is fine. */
	must(ipmasq_del("net1", "ctr1", "eth0", &err), err);
	must(ipmasq_del("net1", "ctr2", "eth0", &err), err);
	assert_int_equal(total(), 0);
}

static void test_readd_replaces_and_takes_over(void **state)
{
	struct cni_error *err = NULL;

	skip_without_netns();
	must(ipmasq_add("net1", "ctr1", "eth0", (struct cni_ip[]){ ip("198.18.0.5/24") }, 1, &err),
	     err);
	/* The same attachment again with another address: the old one goes. */
	must(ipmasq_add("net1", "ctr1", "eth0", (struct cni_ip[]){ ip("198.18.0.7/24") }, 1, &err),
	     err);
	assert_int_equal(count("masq4", NULL), 1);
	must(ipmasq_check("net1", "ctr1", "eth0", (struct cni_ip[]){ ip("198.18.0.7/24") }, 1, &err),
	     err);
	/* A leaked element of an address IPAM handed out again is replaced. */
	must(ipmasq_add("net1", "ctr9", "eth0", (struct cni_ip[]){ ip("198.18.0.7/16") }, 1, &err),
	     err);
	assert_int_equal(count("masq4", "net1:ctr9:eth0"), 1);
	assert_int_equal(count("masq4", "net1:ctr1:eth0"), 0);
	/* The /16 element replaced the /24 one nested in it. */
	assert_int_equal(count("subnet4", NULL), 1);
	must(ipmasq_check("net1", "ctr9", "eth0", (struct cni_ip[]){ ip("198.18.0.7/16") }, 1, &err),
	     err);
	/* A /24 inside it is covered: nothing added, CHECK still passes. */
	must(ipmasq_add("net1", "ctr8", "eth0", (struct cni_ip[]){ ip("198.18.0.8/24") }, 1, &err),
	     err);
	assert_int_equal(count("subnet4", NULL), 1);
	must(ipmasq_check("net1", "ctr8", "eth0", (struct cni_ip[]){ ip("198.18.0.8/24") }, 1, &err),
	     err);
	must(ipmasq_del("net1", "ctr8", "eth0", &err), err);
	must(ipmasq_del("net1", "ctr9", "eth0", &err), err);
	must(ipmasq_del("net1", "ctr1", "eth0", &err), err);
	assert_int_equal(total(), 0);
}

static void test_same_id_two_networks(void **state)
{
	struct cni_error *err = NULL;

	skip_without_netns();
	must(ipmasq_add("netA", "ctr", "eth0", (struct cni_ip[]){ ip("198.18.1.5/24") }, 1, &err),
	     err);
	must(ipmasq_add("netB", "ctr", "eth0", (struct cni_ip[]){ ip("198.18.2.5/24") }, 1, &err),
	     err);
	must(ipmasq_add("netA", "ctr", "eth1", (struct cni_ip[]){ ip("198.18.1.6/24") }, 1, &err),
	     err);
	must(ipmasq_del("netA", "ctr", "eth0", &err), err);
	assert_int_equal(count("masq4", "netB:ctr:eth0"), 1);
	assert_int_equal(count("masq4", "netA:ctr:eth1"), 1);
	assert_int_equal(count("masq4", NULL), 2);
	must(ipmasq_del("netA", "ctr", "eth1", &err), err);
	must(ipmasq_del("netB", "ctr", "eth0", &err), err);
	assert_int_equal(total(), 0);
}

/* GC as a plugin calls it: known says whether the runtime sent a list at all. */
static int gc(const char *net, struct cni_attachment *v, size_t n, bool known, struct cni_error **err)
{
	struct cni_netconf nc = { .name = (char *)net,
				  .valid_attachments = v,
				  .n_valid_attachments = n,
				  .has_valid_attachments = known };

	return ipmasq_gc(&nc, err);
}

static void test_gc(void **state)
{
	struct cni_attachment valid[] = { { "ctr2", "eth0" }, { "ctr-other-net", "eth0" } };
	struct cni_error *err = NULL;

	skip_without_netns();
	must(ipmasq_add("net1", "ctr1", "eth0", (struct cni_ip[]){ ip("198.18.0.5/24") }, 1, &err),
	     err);
	must(ipmasq_add("net1", "ctr2", "eth0", (struct cni_ip[]){ ip("198.18.0.6/24") }, 1, &err),
	     err);
	must(ipmasq_add("net1", "ctr3", "eth0", (struct cni_ip[]){ ip("2001:db8::3/64") }, 1, &err),
	     err);
	must(ipmasq_add("net2", "ctr4", "eth0", (struct cni_ip[]){ ip("198.18.9.5/24") }, 1, &err),
	     err);
	/* No list (absent or null): nothing is known stale, nothing goes. */
	must(gc("net1", NULL, 0, false, &err), err);
	assert_int_equal(count("masq4", "net1:ctr1:eth0"), 1);
	assert_int_equal(count("masq4", "net1:ctr2:eth0"), 1);
	must(gc("net1", valid, 2, true, &err), err);
	assert_int_equal(count("masq4", "net1:ctr2:eth0"), 1);
	assert_int_equal(count("masq4", "net1:ctr1:eth0"), 0);
	assert_int_equal(count("masq6", NULL), 0);
	/* Other networks are not touched. */
	assert_int_equal(count("masq4", "net2:ctr4:eth0"), 1);
	/* An empty valid list clears the network. */
	must(gc("net1", NULL, 0, true, &err), err);
	assert_int_equal(count("masq4", NULL), 1);
	assert_int_equal(count("subnet4", NULL), 1);
	must(gc("net2", NULL, 0, true, &err), err);
	assert_int_equal(total(), 0);
	/* No container address left: GC removed the subnet elements too. */
	assert_int_equal(count("subnet4", NULL) + count("subnet6", NULL), 0);
}

static void test_many(void **state)
{
	enum {
		N = 200
	};
	struct cni_error *err = NULL;
	struct cni_attachment *valid = calloc(N, sizeof(*valid));
	char ids[N][16];

	skip_without_netns();
	for (int i = 0; i < N; i++) {
		char cidr[32];
		snprintf(ids[i], sizeof(ids[i]), "c%d", i);
		snprintf(cidr, sizeof(cidr), "198.18.%d.%d/16", i / 250, 1 + i % 250);
		must(ipmasq_add("big", ids[i], "eth0", (struct cni_ip[]){ ip(cidr) }, 1, &err), err);
		valid[i] = (struct cni_attachment){ ids[i], "eth0" };
	}
	assert_int_equal(count("masq4", NULL), N);
	assert_int_equal(count("subnet4", NULL), 1);
	/* Keep every other one. */
	for (int i = 0; i < N / 2; i++)
		valid[i] = valid[2 * i];
	must(gc("big", valid, N / 2, true, &err), err);
	assert_int_equal(count("masq4", NULL), N / 2);
	must(ipmasq_del("big", "c0", "eth0", &err), err);
	assert_int_equal(count("masq4", NULL), N / 2 - 1);
	must(gc("big", NULL, 0, true, &err), err);
	assert_int_equal(total(), 0);
	free(valid);
}

/*
 * An owner set as an older cnic made it (16-byte integer keys, which `nft
 * list` prints as "type 0" and `nft -f` refuses) is converted by the next
 * ADD to the current type, keeping its elements; DEL of the old owner then
 * finds it.
 */
static void test_old_owner_set_converted(void **state)
{
	static const struct nft_set_def old = {
		.name = "owners",
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_INTEGER },
		.key_lens = { CNIC_NFT_OWNER_KEY_LEN },
	};
	struct cni_ip a = ip("198.18.3.5/24"), b = ip("198.18.3.6/24");
	struct cni_error *err = NULL;
	struct nft_batch *bt;
	struct nft *n = NULL;

	skip_without_netns();
	must(ipmasq_add("old", "c1", "eth0", &a, 1, &err), err);
	/* Rebuild the owner set with the old key type, with c1's owner element. */
	must(nft_open(&n, &err), err);
	bt = nft_batch_new();
	nft_batch_del_set(bt, NFPROTO_INET, TBL, "owners");
	nft_batch_add_set(bt, NFPROTO_INET, TBL, &old);
	{
		uint8_t key[CNIC_NFT_OWNER_KEY_LEN];
		struct nft_elem e = { .key = key, .key_len = sizeof(key), .comment = "old:c1:eth0" };

		nft_owner_key("old:c1:eth0", key);
		nft_batch_add_elems(bt, NFPROTO_INET, TBL, "owners", &e, 1, true);
	}
	must(nft_batch_commit(n, bt, &err), err);
	nft_batch_free(bt);
	nft_close(n);

	must(ipmasq_add("old", "c2", "eth0", &b, 1, &err), err);
	assert_int_equal(count("owners", "old:c1:eth0"), 1);
	assert_int_equal(count("owners", "old:c2:eth0"), 1);
	must(ipmasq_check("old", "c1", "eth0", &a, 1, &err), err);
	must(ipmasq_del("old", "c1", "eth0", &err), err);
	must(ipmasq_del("old", "c2", "eth0", &err), err);
	assert_int_equal(count("owners", NULL), 0);
	assert_int_equal(total(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_check_del),
		cmocka_unit_test(test_readd_replaces_and_takes_over),
		cmocka_unit_test(test_same_id_two_networks),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_old_owner_set_converted),
	};

	have_netns = geteuid() == 0 && unshare(CLONE_NEWNET) == 0;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
