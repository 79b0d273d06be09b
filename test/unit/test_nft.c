/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkg/nft against the real kernel, inside a network namespace of the test's
 * own (unshare(CLONE_NEWNET) at start: the host's ruleset is never seen).
 * Needs root; without it the kernel tests are skipped, the pure ones run.
 * test_nft_shim.c runs the same cases with pkg/static/mnl.c standing in
 * for libmnl, as in the static plugin binaries.
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

#include <linux/netfilter/nf_conntrack_common.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/nft.h"
/* After nft.h: it includes <netinet/in.h> first, as these need. */
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_conntrack.h>

#define FAM NFPROTO_INET
#define TBL "cnic_unit"

static bool have_netns;

/* A macro: the error must be read after the call, not alongside it. */
#define must(call, errv, what)                                                                     \
	do {                                                                                       \
		if ((call) < 0)                                                                    \
			fail_msg("%s: %s (%s)", (what), (errv) ? (errv)->msg : "?",                \
				 (errv) && (errv)->details ? (errv)->details : "");                \
	} while (0)

static struct nft *open_or_skip(void)
{
	struct cni_error *err = NULL;
	struct nft *n = NULL;

	if (!have_netns)
		skip();
	must(nft_open(&n, &err), err, "nft_open");
	return n;
}

static void reset_table(struct nft *n)
{
	struct cni_error *err = NULL;
	struct nft_batch *b;
	int r;

	r = nft_exists(n, FAM, TBL, NULL, &err);
	must(r, err, "exists");
	if (r == 0)
		return;
	b = nft_batch_new();
	nft_batch_del_table(b, FAM, TBL);
	must(nft_batch_commit(n, b, &err), err, "delete table");
	nft_batch_free(b);
}

/* ip . ip concatenated interval set, like ipmasq's exemption set. */
static const struct nft_set_def pairs = {
	.name = "pairs",
	.flags = NFT_SET_INTERVAL,
	.n_fields = 2,
	.key_types = { CNIC_NFT_DT_IPV4, CNIC_NFT_DT_IPV4 },
	.key_lens = { 4, 4 },
	.comment = "unit",
};

/* proto . port : ip . port, like portmap's. */
static const struct nft_set_def ports = {
	.name = "ports",
	.n_fields = 2,
	.key_types = { CNIC_NFT_DT_INET_PROTO, CNIC_NFT_DT_INET_SERVICE },
	.key_lens = { 1, 2 },
	.n_data = 2,
	.data_types = { CNIC_NFT_DT_IPV4, CNIC_NFT_DT_INET_SERVICE },
	.data_lens = { 4, 2 },
};

static void base_objects(struct nft_batch *b)
{
	static const struct nft_base_chain post = {
		.type = "nat",
		.hook = NF_INET_POST_ROUTING,
		.priority = 100,
	};

	nft_batch_add_table(b, FAM, TBL);
	nft_batch_add_chain(b, FAM, TBL, "post", &post);
	nft_batch_add_chain(b, FAM, TBL, "sub", NULL);
	nft_batch_add_set(b, FAM, TBL, &pairs);
	nft_batch_add_set(b, FAM, TBL, &ports);
}

struct pair_key {
	uint8_t k[8], e[8];
};

static void pair(struct pair_key *p, uint8_t host, uint8_t net_lo, uint8_t net_hi)
{
	const uint8_t k[8] = { 198, 18, 0, host, 198, 18, net_lo, 0 };
	const uint8_t e[8] = { 198, 18, 0, host, 198, 18, net_hi, 255 };

	memcpy(p->k, k, 8);
	memcpy(p->e, e, 8);
}

static struct nft_elem pair_elem(const struct pair_key *p, const char *comment)
{
	return (struct nft_elem){ .key = p->k,
				  .key_len = 8,
				  .key_end = p->e,
				  .key_end_len = 8,
				  .comment = comment };
}

static void test_objects_and_elements(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	struct nft_elem_list l = { 0 };
	struct pair_key p1, p2;
	struct nft_batch *b;
	struct nft_elem e[2];
	int r;

	reset_table(n);
	pair(&p1, 5, 0, 0);
	pair(&p2, 6, 0, 0);
	e[0] = pair_elem(&p1, "net:ctr1:eth0");
	e[1] = pair_elem(&p2, "net:ctr2:eth0");
	b = nft_batch_new();
	base_objects(b);
	nft_batch_add_elems(b, FAM, TBL, "pairs", e, 2, true);
	assert_true(nft_batch_len(b) >= 6);
	must(nft_batch_commit(n, b, &err), err, "commit");
	nft_batch_free(b);

	/* Adding the objects again is a no-op. */
	b = nft_batch_new();
	base_objects(b);
	must(nft_batch_commit(n, b, &err), err, "re-add objects");
	nft_batch_free(b);

	must(nft_list_elems(n, FAM, TBL, "pairs", &l, &err), err, "list");
	assert_int_equal(l.n, 2);
	for (size_t i = 0; i < l.n; i++) {
		const struct pair_key *want = l.v[i].key[3] == 5 ? &p1 : &p2;
		assert_int_equal(l.v[i].key_len, 8);
		assert_memory_equal(l.v[i].key, want->k, 8);
		assert_int_equal(l.v[i].key_end_len, 8);
		assert_memory_equal(l.v[i].key_end, want->e, 8);
		assert_non_null(l.v[i].comment);
		assert_string_equal(l.v[i].comment, want == &p1 ? "net:ctr1:eth0" : "net:ctr2:eth0");
	}
	nft_elem_list_free(&l);

	r = nft_exists(n, FAM, TBL, "post", &err);
	must(r, err, "exists chain");
	assert_int_equal(r, 1);
	r = nft_exists(n, FAM, TBL, "nochain", &err);
	must(r, err, "exists missing chain");
	assert_int_equal(r, 0);
	nft_close(n);
}

static void test_excl_conflict_is_atomic(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	struct nft_elem_list l = { 0 };
	struct pair_key p1, p3;
	struct nft_batch *b;
	struct nft_elem e;

	reset_table(n);
	pair(&p1, 5, 0, 0);
	pair(&p3, 7, 0, 0);
	b = nft_batch_new();
	base_objects(b);
	e = pair_elem(&p1, "a:b:c");
	nft_batch_add_elems(b, FAM, TBL, "pairs", &e, 1, true);
	must(nft_batch_commit(n, b, &err), err, "commit");
	nft_batch_free(b);

	/* A new element and a clash in one batch: neither lands. */
	b = nft_batch_new();
	e = pair_elem(&p3, "new");
	nft_batch_add_elems(b, FAM, TBL, "pairs", &e, 1, true);
	e = pair_elem(&p1, "clash");
	nft_batch_add_elems(b, FAM, TBL, "pairs", &e, 1, true);
	assert_int_equal(nft_batch_commit(n, b, &err), -1);
	nft_batch_free(b);
	assert_non_null(err);
	assert_int_equal(err->errnum, EEXIST);
	assert_non_null(strstr(err->msg, "set inet " TBL " pairs"));
	cni_error_free(err);
	err = NULL;

	must(nft_list_elems(n, FAM, TBL, "pairs", &l, &err), err, "list");
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].comment, "a:b:c");
	nft_elem_list_free(&l);
	nft_close(n);
}

static void test_get_and_delete(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	struct nft_elem_info info = { 0 };
	struct nft_elem_list l = { 0 };
	const uint8_t key[8] = { 6, 0, 0, 0, 0x1f, 0x90, 0, 0 }; /* tcp . 8080 */
	const uint8_t data[8] = { 198, 18, 0, 5, 0, 80, 0, 0 };
	struct nft_elem e = { .key = key, .key_len = 8, .data = data, .data_len = 8, .comment = "n:c:i" };
	struct nft_batch *b;
	int r;

	reset_table(n);
	/* Reading what does not exist (no table) is "absent", not an error. */
	r = nft_get_elem(n, FAM, TBL, "ports", &e, &info, &err);
	must(r, err, "get without table");
	assert_int_equal(r, 0);
	must(nft_list_elems(n, FAM, TBL, "ports", &l, &err), err, "list without table");
	assert_int_equal(l.n, 0);

	b = nft_batch_new();
	base_objects(b);
	nft_batch_add_elems(b, FAM, TBL, "ports", &e, 1, true);
	must(nft_batch_commit(n, b, &err), err, "commit");
	nft_batch_free(b);

	r = nft_get_elem(n, FAM, TBL, "ports", &e, &info, &err);
	must(r, err, "get");
	assert_int_equal(r, 1);
	assert_int_equal(info.data_len, 8);
	assert_memory_equal(info.data, data, 8);
	assert_string_equal(info.comment, "n:c:i");
	nft_elem_info_free(&info);

	/* Same key, other data, no excl: a map refuses to change silently. */
	{
		const uint8_t other[8] = { 198, 18, 0, 6, 0, 80, 0, 0 };
		struct nft_elem e2 = e;
		e2.data = other;
		b = nft_batch_new();
		nft_batch_add_elems(b, FAM, TBL, "ports", &e2, 1, false);
		assert_int_equal(nft_batch_commit(n, b, &err), -1);
		nft_batch_free(b);
		assert_true(err->errnum == EBUSY || err->errnum == EEXIST);
		cni_error_free(err);
		err = NULL;
	}
	/* Delete and re-add the same key in one batch replaces it. */
	{
		const uint8_t other[8] = { 198, 18, 0, 6, 0, 80, 0, 0 };
		struct nft_elem e2 = e;
		e2.data = other;
		e2.comment = "n:c2:i";
		b = nft_batch_new();
		nft_batch_del_elems(b, FAM, TBL, "ports", &e, 1);
		nft_batch_add_elems(b, FAM, TBL, "ports", &e2, 1, true);
		must(nft_batch_commit(n, b, &err), err, "replace");
		nft_batch_free(b);
		r = nft_get_elem(n, FAM, TBL, "ports", &e, &info, &err);
		must(r, err, "get replaced");
		assert_int_equal(r, 1);
		assert_memory_equal(info.data, other, 8);
		assert_string_equal(info.comment, "n:c2:i");
		nft_elem_info_free(&info);
	}

	b = nft_batch_new();
	nft_batch_del_elems(b, FAM, TBL, "ports", &e, 1);
	must(nft_batch_commit(n, b, &err), err, "delete");
	nft_batch_free(b);
	r = nft_get_elem(n, FAM, TBL, "ports", &e, &info, &err);
	must(r, err, "get deleted");
	assert_int_equal(r, 0);

	/* Deleting again fails (ENOENT), naming the set. */
	b = nft_batch_new();
	nft_batch_del_elems(b, FAM, TBL, "ports", &e, 1);
	assert_int_equal(nft_batch_commit(n, b, &err), -1);
	nft_batch_free(b);
	assert_int_equal(err->errnum, ENOENT);
	assert_non_null(strstr(err->msg, "ports"));
	cni_error_free(err);
	nft_close(n);
}

/* Handles of chain's rules whose comment is comment (all if NULL), through nft_list_rules. */
static int find_rules(struct nft *n, uint8_t family, const char *table, const char *chain,
		      const char *comment, uint64_t **ret, size_t *ret_n, struct cni_error **err)
{
	struct nft_rule_info *v = NULL;
	uint64_t *h = NULL;
	size_t nv = 0, nh = 0;

	if (nft_list_rules(n, family, table, chain, &v, &nv, err) < 0)
		return -1;
	for (size_t i = 0; i < nv; i++)
		if (!comment || (v[i].comment && strcmp(v[i].comment, comment) == 0))
			*(uint64_t *)xappend(&h, &nh, sizeof(*h)) = v[i].handle;
	nft_rule_infos_free(v, nv);
	*ret = h;
	*ret_n = nh;
	return 0;
}

static void test_rules_by_comment(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	uint64_t *h = NULL;
	size_t nh = 0;
	struct nft_batch *b;
	struct nft_rule *r;

	reset_table(n);
	b = nft_batch_new();
	base_objects(b);
	for (int i = 0; i < 3; i++) {
		r = nft_rule_new(FAM, TBL, "post");
		nft_rule_meta(r, NFT_META_NFPROTO, NFT_REG32_00);
		nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_EQ, &(uint8_t){ NFPROTO_IPV4 }, 1);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_00);
		nft_rule_lookup(r, NFT_REG32_00, "pairs", -1, true);
		nft_rule_counter(r);
		nft_rule_verdict(r, NFT_JUMP, i == 2 ? "nochain" : "sub");
		nft_rule_set_comment(r, i == 1 ? "mine" : "other");
		nft_batch_add_rule(b, r);
	}
	/* The third rule jumps to a chain that does not exist: the whole batch is refused. */
	assert_int_equal(nft_batch_commit(n, b, &err), -1);
	assert_non_null(err);
	assert_int_not_equal(err->errnum, 0);
	assert_int_equal(nft_exists(n, FAM, TBL, NULL, NULL), 0);
	assert_non_null(strstr(err->msg, "add rule to chain inet " TBL " post"));
	cni_error_free(err);
	err = NULL;
	nft_batch_free(b);

	b = nft_batch_new();
	base_objects(b);
	for (int i = 0; i < 3; i++) {
		r = nft_rule_new(FAM, TBL, "post");
		nft_rule_ct(r, NFT_CT_STATUS, -1, NFT_REG32_00);
		nft_rule_bitwise(r, NFT_REG32_00, NFT_REG32_00, 4, &(uint32_t){ IPS_DST_NAT },
				 &(uint32_t){ 0 });
		nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_NEQ, &(uint32_t){ 0 }, 4);
		nft_rule_masq(r, 0);
		nft_rule_set_comment(r, i == 1 ? "mine" : "other");
		nft_batch_add_rule(b, r);
	}
	must(nft_batch_commit(n, b, &err), err, "rules");
	nft_batch_free(b);

	must(find_rules(n, FAM, TBL, "post", "mine", &h, &nh, &err), err, "find");
	assert_int_equal(nh, 1);
	b = nft_batch_new();
	nft_batch_del_rule(b, FAM, TBL, "post", h[0]);
	must(nft_batch_commit(n, b, &err), err, "delete rule");
	nft_batch_free(b);
	free(h);
	h = NULL;
	must(find_rules(n, FAM, TBL, "post", NULL, &h, &nh, &err), err, "find all");
	assert_int_equal(nh, 2);
	free(h);

	b = nft_batch_new();
	nft_batch_flush_chain(b, FAM, TBL, "post");
	must(nft_batch_commit(n, b, &err), err, "flush");
	nft_batch_free(b);
	h = NULL;
	must(find_rules(n, FAM, TBL, "post", NULL, &h, &nh, &err), err, "find after flush");
	assert_int_equal(nh, 0);
	free(h);
	nft_close(n);
}

/*
 * iptables-nft's shape (firewall's rules): a rule inserted at the head of
 * its chain goes before those appended, and an xt match is accepted.
 */
static void test_insert_and_xt_match(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	struct nft_rule_info *v = NULL;
	size_t nv = 0;
	struct nft_batch *b = nft_batch_new();
	static const char *const order[] = { "head", "first", "second" };
	struct xt_conntrack_mtinfo3 *info = calloc(1, XT_ALIGN(sizeof(*info)));

	assert_non_null(info);
	info->match_flags = XT_CONNTRACK_STATE;
	info->state_mask = XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED);
	nft_batch_add_table(b, NFPROTO_IPV4, TBL "_xt");
	nft_batch_add_chain(b, NFPROTO_IPV4, TBL "_xt", "c", NULL);
	for (int i = 1; i < 3; i++) {
		struct nft_rule *r = nft_rule_new(NFPROTO_IPV4, TBL "_xt", "c");

		nft_rule_counter(r);
		nft_rule_verdict(r, NF_ACCEPT, NULL);
		nft_rule_set_comment(r, order[i]);
		nft_batch_add_rule(b, r);
	}
	must(nft_batch_commit(n, b, &err), err, "append");
	nft_batch_free(b);

	b = nft_batch_new();
	{
		struct nft_rule *r = nft_rule_new(NFPROTO_IPV4, TBL "_xt", "c");

		nft_rule_xt_match(r, "conntrack", 3, info, XT_ALIGN(sizeof(*info)));
		nft_rule_verdict(r, NF_ACCEPT, NULL);
		nft_rule_set_comment(r, order[0]);
		nft_batch_insert_rule(b, r);
	}
	must(nft_batch_commit(n, b, &err), err, "insert");
	nft_batch_free(b);

	must(nft_list_rules(n, NFPROTO_IPV4, TBL "_xt", "c", &v, &nv, &err), err, "list");
	assert_int_equal(nv, 3);
	for (size_t i = 0; i < nv; i++) {
		assert_non_null(v[i].comment);
		assert_string_equal(v[i].comment, order[i]);
	}
	nft_rule_infos_free(v, nv);

	b = nft_batch_new();
	nft_batch_del_table(b, NFPROTO_IPV4, TBL "_xt");
	must(nft_batch_commit(n, b, &err), err, "delete table");
	nft_batch_free(b);
	nft_close(n);
}

/* Enough elements to span several requests and a multi-part dump. */
static void test_many_elements(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	struct nft_elem_list l = { 0 };
	enum {
		N = 3000
	};
	static uint8_t keys[N][8], data[N][8];
	static char comments[N][96];
	struct nft_elem *e = calloc(N, sizeof(*e));
	struct nft_batch *b;

	reset_table(n);
	for (int i = 0; i < N; i++) {
		keys[i][0] = 17;
		keys[i][4] = (uint8_t)((1000 + i) >> 8);
		keys[i][5] = (uint8_t)(1000 + i);
		data[i][0] = 198;
		data[i][1] = 18;
		data[i][2] = (uint8_t)(i >> 8);
		data[i][3] = (uint8_t)i;
		snprintf(comments[i], sizeof(comments[i]), "net:%064d:eth0", i);
		e[i] = (struct nft_elem){ .key = keys[i],
					  .key_len = 8,
					  .data = data[i],
					  .data_len = 8,
					  .comment = comments[i] };
	}
	b = nft_batch_new();
	base_objects(b);
	nft_batch_add_elems(b, FAM, TBL, "ports", e, N, true);
	assert_true(nft_batch_len(b) > 6); /* split over several requests */
	must(nft_batch_commit(n, b, &err), err, "commit many");
	nft_batch_free(b);
	must(nft_list_elems(n, FAM, TBL, "ports", &l, &err), err, "list many");
	assert_int_equal(l.n, N);
	for (size_t i = 0; i < l.n; i++) {
		unsigned int port = (unsigned int)(l.v[i].key[4] << 8 | l.v[i].key[5]);
		assert_in_range(port, 1000, 1000 + N - 1);
		assert_string_equal(l.v[i].comment, comments[port - 1000]);
	}
	nft_elem_list_free(&l);

	b = nft_batch_new();
	nft_batch_del_elems(b, FAM, TBL, "ports", e, N);
	must(nft_batch_commit(n, b, &err), err, "delete many");
	nft_batch_free(b);
	must(nft_list_elems(n, FAM, TBL, "ports", &l, &err), err, "list after delete");
	assert_int_equal(l.n, 0);
	free(e);
	reset_table(n);
	nft_close(n);
}

/*
 * A batch of more requests than acknowledgments fit in a receive buffer
 * (each was acknowledged, and ~330 overflowed it: the batch committed but
 * reported ENOBUFS) commits and says so; a failure in its middle is
 * reported by name, and nothing of the batch lands.
 */
static void test_many_requests(void **state)
{
	enum {
		N = 3000
	};
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	struct nft_elem_list l = { 0 };
	uint8_t(*keys)[8] = calloc(N, 8), data[8] = { 198, 18, 0, 1, 0, 80 };
	struct nft_batch *b;

	assert_non_null(keys);
	reset_table(n);
	b = nft_batch_new();
	base_objects(b);
	for (int i = 0; i < N; i++) {
		struct nft_elem e = { .key = keys[i],
				      .key_len = 8,
				      .data = data,
				      .data_len = 8,
				      .comment = "net:c:eth0" };

		keys[i][0] = IPPROTO_TCP;
		keys[i][4] = (uint8_t)((1000 + i) >> 8);
		keys[i][5] = (uint8_t)(1000 + i);
		nft_batch_add_elems(b, FAM, TBL, "ports", &e, 1, true); /* one request each */
	}
	assert_true(nft_batch_len(b) > N);
	must(nft_batch_commit(n, b, &err), err, "commit of many requests");
	nft_batch_free(b);
	must(nft_list_elems(n, FAM, TBL, "ports", &l, &err), err, "list");
	assert_int_equal(l.n, N);
	nft_elem_list_free(&l);

	/* The same keys again, exclusively: every request fails, the first is named. */
	b = nft_batch_new();
	for (int i = 0; i < N; i++) {
		struct nft_elem e = { .key = keys[i], .key_len = 8, .data = data, .data_len = 8 };
		nft_batch_add_elems(b, FAM, TBL, "ports", &e, 1, true);
	}
	assert_int_equal(nft_batch_commit(n, b, &err), -1);
	nft_batch_free(b);
	assert_non_null(err);
	assert_int_equal(err->errnum, EEXIST);
	cni_error_free(err);
	err = NULL;
	free(keys);
	reset_table(n);
	nft_close(n);
}

/* A guarded batch commits at its generation and fails with ERESTART after another commit. */
static void test_generation_guard(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	struct nft_batch *b;
	uint32_t gen, gen2;
	int r;

	reset_table(n);
	must(nft_genid(n, &gen, &err), err, "genid");
	b = nft_batch_new();
	nft_batch_guard(b, gen);
	base_objects(b);
	must(nft_batch_commit(n, b, &err), err, "guarded commit at the current generation");
	nft_batch_free(b);
	must(nft_genid(n, &gen2, &err), err, "genid after");
	assert_int_not_equal(gen, gen2);

	b = nft_batch_new();
	nft_batch_guard(b, gen); /* stale */
	nft_batch_add_chain(b, FAM, TBL, "guarded", NULL);
	assert_int_equal(nft_batch_commit(n, b, &err), -1);
	nft_batch_free(b);
	assert_non_null(err);
	assert_int_equal(err->errnum, ERESTART);
	cni_error_free(err);
	err = NULL;
	r = nft_exists(n, FAM, TBL, "guarded", &err);
	must(r, err, "exists");
	assert_int_equal(r, 0);
	reset_table(n);
	nft_close(n);
}

/*
 * A table re-created in the batch that requires a chain by handle numbers its
 * objects from 1 again, so the new, empty chain carries the old handle: the
 * requirement only means something ahead of the re-creation (portmap, ipMasq
 * and firewall put it first; t-nft-churn's ADD/last-DEL race found it).
 */
static void test_require_chain_after_recreate(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	struct nft_batch *b;
	uint64_t h, h2;
	int r;

	reset_table(n);
	b = nft_batch_new();
	base_objects(b);
	must(nft_batch_commit(n, b, &err), err, "objects");
	nft_batch_free(b);
	r = nft_chain_handle(n, FAM, TBL, "sub", &h, &err);
	must(r, err, "handle");
	assert_int_equal(r, 1);
	reset_table(n); /* a last DEL's teardown */

	/* Required first: the table is gone, so the batch fails and nothing is made. */
	b = nft_batch_new();
	nft_batch_require_chain(b, FAM, TBL, h);
	base_objects(b);
	assert_int_equal(nft_batch_commit(n, b, &err), -1);
	nft_batch_free(b);
	assert_non_null(err);
	assert_int_equal(err->errnum, ENOENT);
	cni_error_free(err);
	err = NULL;
	r = nft_exists(n, FAM, TBL, NULL, &err);
	must(r, err, "exists");
	assert_int_equal(r, 0);

	/* Required after the re-creation: the kernel's numbering makes it pass. */
	b = nft_batch_new();
	base_objects(b);
	nft_batch_require_chain(b, FAM, TBL, h);
	must(nft_batch_commit(n, b, &err), err, "re-created, then required");
	nft_batch_free(b);
	r = nft_chain_handle(n, FAM, TBL, "sub", &h2, &err);
	must(r, err, "handle again");
	assert_int_equal(h2, h);
	reset_table(n);
	nft_close(n);
}

/*
 * DEL's reads in one round trip each: elements by key (present, absent, in
 * a missing set), and one element with whether its set and which tables
 * exist.
 */
static void test_pipelined_reads(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	const uint8_t k1[8] = { 6, 0, 0, 0, 0x1f, 0x90, 0, 0 };	 /* tcp . 8080 */
	const uint8_t k2[8] = { 17, 0, 0, 0, 0x14, 0xe9, 0, 0 }; /* udp . 5353 */
	const uint8_t data[8] = { 198, 18, 0, 5, 0, 80, 0, 0 };
	struct nft_elem e[3] = {
		{ .key = k1, .key_len = 8, .data = data, .data_len = 8, .comment = "n:c:i" },
		{ .key = k2, .key_len = 8 },
		{ .key = k1, .key_len = 8 },
	};
	const char *sets[3] = { "ports", "ports", "nosuchset" };
	struct nft_table_ref t[2] = { { FAM, TBL, false, 0 },
				      { NFPROTO_IPV4, "nosuchtable", true, 9 } };
	const struct nft_also two = { .tables = t, .nt = 2 }, none = { 0 };
	struct nft_elem_info info[3], one = { 0 };
	int found[3];
	bool have_set = true;
	struct nft_batch *b;
	int r;

	reset_table(n);
	r = nft_get_elem_also(n, FAM, TBL, "ports", &e[0], &one, &have_set, &two, &err);
	must(r, err, "get one without table");
	assert_int_equal(r, 0);
	assert_false(have_set);
	assert_false(t[0].present);
	assert_false(t[1].present);
	must(nft_get_elems(n, FAM, TBL, sets, e, 3, info, found, &err), err, "get without table");
	assert_int_equal(found[0] + found[1] + found[2], 0);

	b = nft_batch_new();
	base_objects(b);
	nft_batch_add_elems(b, FAM, TBL, "ports", &e[0], 1, true);
	must(nft_batch_commit(n, b, &err), err, "commit");
	nft_batch_free(b);

	must(nft_get_elems(n, FAM, TBL, sets, e, 3, info, found, &err), err, "get");
	assert_int_equal(found[0], 1);
	assert_int_equal(found[1], 0);
	assert_int_equal(found[2], 0);
	assert_memory_equal(info[0].data, data, 8);
	assert_string_equal(info[0].comment, "n:c:i");
	nft_elem_info_free(&info[0]);

	r = nft_get_elem_also(n, FAM, TBL, "ports", &e[0], &one, &have_set, &two, &err);
	must(r, err, "get one");
	assert_int_equal(r, 1);
	assert_true(have_set);
	assert_memory_equal(one.data, data, 8);
	assert_string_equal(one.comment, "n:c:i");
	nft_elem_info_free(&one);
	assert_true(t[0].present);
	assert_int_equal(t[0].use, 4); /* base_objects: two chains, two sets */
	assert_false(t[1].present);

	/* A key not in the set, and a set that is not there. */
	r = nft_get_elem_also(n, FAM, TBL, "ports", &e[1], &one, &have_set, &two, &err);
	must(r, err, "get absent key");
	assert_int_equal(r, 0);
	assert_true(have_set);
	r = nft_get_elem_also(n, FAM, TBL, "nosuchset", &e[0], &one, &have_set, &none, &err);
	must(r, err, "get from a missing set");
	assert_int_equal(r, 0);
	assert_false(have_set);
	reset_table(n);
	nft_close(n);
}

/* "Only if empty" deletions: the kernel's own check, counting what the batch deleted only once committed. */
static void test_delete_if_empty(void **state)
{
	struct nft *n = open_or_skip();
	struct cni_error *err = NULL;
	const uint8_t key[8] = { 6, 0, 0, 0, 0x1f, 0x90, 0, 0 };
	const uint8_t data[8] = { 198, 18, 0, 5, 0, 80, 0, 0 };
	struct nft_elem e = { .key = key, .key_len = 8, .data = data, .data_len = 8 };
	struct nft_batch *b;
	int r;

	reset_table(n);
	b = nft_batch_new();
	base_objects(b);
	nft_batch_add_elems(b, FAM, TBL, "ports", &e, 1, true);
	must(nft_batch_commit(n, b, &err), err, "commit");
	nft_batch_free(b);

	/* Not empty; nor when the same batch deletes its element first. */
	for (int del_first = 0; del_first < 2; del_first++) {
		b = nft_batch_new();
		if (del_first)
			nft_batch_del_elems(b, FAM, TBL, "ports", &e, 1);
		nft_batch_del_set_if_empty(b, FAM, TBL, "ports");
		assert_int_equal(nft_batch_commit(n, b, &err), -1);
		nft_batch_free(b);
		assert_int_equal(err->errnum, EBUSY);
		cni_error_free(err);
		err = NULL;
	}
	/* The table holds chains and sets: refused; with them deleted first in the batch: gone. */
	b = nft_batch_new();
	nft_batch_del_set_if_empty(b, FAM, TBL, "pairs");
	nft_batch_del_table_if_empty(b, FAM, TBL);
	assert_int_equal(nft_batch_commit(n, b, &err), -1);
	nft_batch_free(b);
	assert_int_equal(err->errnum, EBUSY);
	cni_error_free(err);
	err = NULL;
	r = nft_exists(n, FAM, TBL, NULL, &err);
	must(r, err, "exists");
	assert_int_equal(r, 1);

	b = nft_batch_new();
	nft_batch_del_elems(b, FAM, TBL, "ports", &e, 1);
	must(nft_batch_commit(n, b, &err), err, "delete element");
	nft_batch_free(b);
	b = nft_batch_new();
	nft_batch_del_chain(b, FAM, TBL, "post");
	nft_batch_del_chain(b, FAM, TBL, "sub");
	nft_batch_del_set_if_empty(b, FAM, TBL, "pairs");
	nft_batch_del_set_if_empty(b, FAM, TBL, "ports");
	nft_batch_del_table_if_empty(b, FAM, TBL);
	must(nft_batch_commit(n, b, &err), err, "delete when empty");
	nft_batch_free(b);
	r = nft_exists(n, FAM, TBL, NULL, &err);
	must(r, err, "exists");
	assert_int_equal(r, 0);
	nft_close(n);
}

static void test_owner_tags(void **state)
{
	char *t, *t2, *t3;
	char long_net[200], long_id[300];

	t = nft_owner_tag("mynet", "abc", "eth0");
	assert_string_equal(t, "mynet:abc:eth0");
	assert_true(nft_tag_in_network(t, "mynet"));
	assert_false(nft_tag_in_network(t, "mynet2"));
	assert_false(nft_tag_in_network(t, "mynE"));
	free(t);

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	t = nft_owner_tag("mynet", long_id, "eth0");
	t2 = nft_owner_tag("mynet", long_id, "eth1");
	assert_true(strlen(t) <= CNIC_NFT_TAG_MAX);
	assert_string_not_equal(t, t2);
	assert_true(nft_tag_in_network(t, "mynet"));
	t3 = nft_owner_tag("mynet", long_id, "eth0");
	assert_string_equal(t, t3); /* stable */
	free(t);
	free(t2);
	free(t3);

	memset(long_net, 'n', sizeof(long_net) - 1);
	long_net[sizeof(long_net) - 1] = '\0';
	t = nft_owner_tag(long_net, long_id, "eth0");
	assert_true(strlen(t) <= CNIC_NFT_TAG_MAX);
	assert_true(nft_tag_in_network(t, long_net));
	long_net[0] = 'm';
	assert_false(nft_tag_in_network(t, long_net));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_tags),
		cmocka_unit_test(test_objects_and_elements),
		cmocka_unit_test(test_excl_conflict_is_atomic),
		cmocka_unit_test(test_get_and_delete),
		cmocka_unit_test(test_rules_by_comment),
		cmocka_unit_test(test_insert_and_xt_match),
		cmocka_unit_test(test_many_elements),
		cmocka_unit_test(test_many_requests),
		cmocka_unit_test(test_generation_guard),
		cmocka_unit_test(test_require_chain_after_recreate),
		cmocka_unit_test(test_pipelined_reads),
		cmocka_unit_test(test_delete_if_empty),
	};

	have_netns = geteuid() == 0 && unshare(CLONE_NEWNET) == 0;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
